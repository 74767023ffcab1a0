//! `pre_registrations` table: expected visits with a one-time code.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A pre-registration. `visit_id` is set once the visitor checks in; it has no
/// foreign key (that would form a cycle with `visits.pre_registration_id`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "pre_registrations")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub location_id: String,
    pub host_id: Option<String>,
    pub visitor_id: String,
    /// Hash of the check-in code (unique).
    #[sea_orm(unique)]
    pub code_hash: String,
    pub expected_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub status: StoredPreRegistrationStatus,
    pub visit_id: Option<String>,
    /// Actor description of the creator.
    pub created_by: String,
    pub created_at: DateTimeUtc,
}

/// The stored status of a pre-registration (`pre_registrations.status`). An expired code is
/// never stored: it is an `Expected` row past its `expires_at`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum StoredPreRegistrationStatus {
    /// The visitor is expected; the code is live until `expires_at`.
    #[sea_orm(string_value = "expected")]
    Expected,
    /// The visitor checked in with the code.
    #[sea_orm(string_value = "checked_in")]
    CheckedIn,
    /// Cancelled before use.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
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
        on_delete = "NoAction"
    )]
    Location,
    #[sea_orm(
        belongs_to = "super::hosts::Entity",
        from = "Column::HostId",
        to = "super::hosts::Column::Id",
        on_update = "NoAction",
        on_delete = "SetNull"
    )]
    Host,
    #[sea_orm(
        belongs_to = "super::visitors::Entity",
        from = "Column::VisitorId",
        to = "super::visitors::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Visitor,
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

impl Related<super::hosts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Host.def()
    }
}

impl Related<super::visitors::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Visitor.def()
    }
}

impl Related<super::visits::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Visits.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
