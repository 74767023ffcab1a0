//! `visitors` table: people who visit (PII; can be anonymized).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A visitor.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "visitors")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub email: Option<String>,
    /// Lower-cased/trimmed email used for lookups.
    pub email_normalized: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub ai_risk_score: Option<f64>,
    pub ai_risk_notes: Option<String>,
    pub anonymized_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tenants::Entity",
        from = "Column::TenantId",
        to = "super::tenants::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Tenant,
    #[sea_orm(has_many = "super::visits::Entity")]
    Visits,
    #[sea_orm(has_many = "super::pre_registrations::Entity")]
    PreRegistrations,
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl Related<super::visits::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Visits.def()
    }
}

impl Related<super::pre_registrations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PreRegistrations.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
