//! `tenants` table: one row per tenant (organisation).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::users::Entity")]
    Users,
    #[sea_orm(has_many = "super::sessions::Entity")]
    Sessions,
    #[sea_orm(has_many = "super::locations::Entity")]
    Locations,
    #[sea_orm(has_many = "super::hosts::Entity")]
    Hosts,
    #[sea_orm(has_many = "super::visitors::Entity")]
    Visitors,
    #[sea_orm(has_many = "super::visits::Entity")]
    Visits,
    #[sea_orm(has_many = "super::badges::Entity")]
    Badges,
    #[sea_orm(has_many = "super::pre_registrations::Entity")]
    PreRegistrations,
    #[sea_orm(has_many = "super::kiosks::Entity")]
    Kiosks,
    #[sea_orm(has_many = "super::kiosk_pairing_codes::Entity")]
    KioskPairingCodes,
    #[sea_orm(has_one = "super::visitor_settings::Entity")]
    VisitorSettings,
    #[sea_orm(has_many = "super::audit_log::Entity")]
    AuditLog,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sessions.def()
    }
}

impl Related<super::locations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Locations.def()
    }
}

impl Related<super::hosts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Hosts.def()
    }
}

impl Related<super::visitors::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Visitors.def()
    }
}

impl Related<super::visits::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Visits.def()
    }
}

impl Related<super::badges::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Badges.def()
    }
}

impl Related<super::pre_registrations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PreRegistrations.def()
    }
}

impl Related<super::kiosks::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Kiosks.def()
    }
}

impl Related<super::kiosk_pairing_codes::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::KioskPairingCodes.def()
    }
}

impl Related<super::visitor_settings::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::VisitorSettings.def()
    }
}

impl Related<super::audit_log::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AuditLog.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
