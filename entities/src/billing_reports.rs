//! `billing_reports` table: usage reports for Hub Billing, one per tenant, period and day.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One usage report: kept until Hub accepts it, then never sent again.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "billing_reports")]
pub struct Model {
    /// UUID string; also the report's `Idempotency-Key`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// `YYYY-MM`.
    pub period: String,
    /// `YYYY-MM-DD` (UTC).
    pub reported_on: String,
    /// Active locations in the period, as counted that day.
    pub quantity: i64,
    /// When Hub accepted it; `None` while it is pending.
    pub accepted_at: Option<DateTimeUtc>,
    pub attempts: i32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTimeUtc,
    /// onegraph's own words for the last failure.
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
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
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
