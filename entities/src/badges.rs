//! `badges` table: physical visitor badges per location.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A badge. Unique per `(location_id, number)`. `current_visit_id` has no
/// foreign key (that would form a cycle with `visits.badge_id`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "badges")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub location_id: String,
    /// Badge number/label as printed.
    pub number: String,
    pub status: BadgeStatus,
    pub current_visit_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Where a badge is in its lifecycle (`badges.status`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum BadgeStatus {
    /// On the shelf.
    #[sea_orm(string_value = "available")]
    Available,
    /// Worn by a visitor with an open visit.
    #[sea_orm(string_value = "assigned")]
    Assigned,
    /// Out of service.
    #[sea_orm(string_value = "retired")]
    Retired,
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
        on_delete = "Cascade"
    )]
    Location,
    #[sea_orm(has_many = "super::visits::Entity")]
    Visits,
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

impl ActiveModelBehavior for ActiveModel {}
