//! `hosts` table: people who can be visited.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A host. `removed` is a soft delete.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "hosts")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub department: Option<String>,
    /// Home location (FK `locations.id`, set to NULL if the location is deleted).
    pub location_id: Option<String>,
    pub visible_in_directory: bool,
    pub removed: bool,
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
    #[sea_orm(
        belongs_to = "super::locations::Entity",
        from = "Column::LocationId",
        to = "super::locations::Column::Id",
        on_update = "NoAction",
        on_delete = "SetNull"
    )]
    Location,
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

impl Related<super::locations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Location.def()
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
