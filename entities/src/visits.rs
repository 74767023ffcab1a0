//! `visits` table: one row per check-in.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A visit (check-in, optionally checked out).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "visits")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub visitor_id: String,
    pub location_id: String,
    pub host_id: Option<String>,
    pub badge_id: Option<String>,
    pub pre_registration_id: Option<String>,
    pub kiosk_id: Option<String>,
    pub status: VisitStatus,
    pub source: CheckInSource,
    pub purpose: Option<String>,
    pub checked_in_at: DateTimeUtc,
    pub checked_out_at: Option<DateTimeUtc>,
    /// Actor description of whoever performed the check-in.
    pub checked_in_by: String,
}

/// Whether a visit is open (`visits.status`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    /// On site.
    #[sea_orm(string_value = "checked_in")]
    CheckedIn,
    /// Left.
    #[sea_orm(string_value = "checked_out")]
    CheckedOut,
}

/// The channel a check-in came through (`visits.source`; also the `source` of the visit
/// events on the Bus).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum CheckInSource {
    /// A staff user.
    #[sea_orm(string_value = "staff")]
    Staff,
    /// A kiosk.
    #[sea_orm(string_value = "kiosk")]
    Kiosk,
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
        belongs_to = "super::visitors::Entity",
        from = "Column::VisitorId",
        to = "super::visitors::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Visitor,
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
        belongs_to = "super::badges::Entity",
        from = "Column::BadgeId",
        to = "super::badges::Column::Id",
        on_update = "NoAction",
        on_delete = "SetNull"
    )]
    Badge,
    #[sea_orm(
        belongs_to = "super::pre_registrations::Entity",
        from = "Column::PreRegistrationId",
        to = "super::pre_registrations::Column::Id",
        on_update = "NoAction",
        on_delete = "SetNull"
    )]
    PreRegistration,
    #[sea_orm(
        belongs_to = "super::kiosks::Entity",
        from = "Column::KioskId",
        to = "super::kiosks::Column::Id",
        on_update = "NoAction",
        on_delete = "SetNull"
    )]
    Kiosk,
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl Related<super::visitors::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Visitor.def()
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

impl Related<super::badges::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Badge.def()
    }
}

impl Related<super::pre_registrations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PreRegistration.def()
    }
}

impl Related<super::kiosks::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Kiosk.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
