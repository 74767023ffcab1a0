//! `locations` table: sites/buildings where visits happen.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A location.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "locations")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub address: Option<String>,
    pub location_type: LocationType,
    /// IANA time zone name, e.g. `"Europe/Berlin"`.
    pub timezone: String,
    pub archived: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Kind of place (`locations.location_type`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum LocationType {
    /// An office.
    #[sea_orm(string_value = "office")]
    Office,
    /// A warehouse.
    #[sea_orm(string_value = "warehouse")]
    Warehouse,
    /// A school.
    #[sea_orm(string_value = "school")]
    School,
    /// A church.
    #[sea_orm(string_value = "church")]
    Church,
    /// A campus.
    #[sea_orm(string_value = "campus")]
    Campus,
    /// A site.
    #[sea_orm(string_value = "site")]
    Site,
    /// Anything else.
    #[sea_orm(string_value = "other")]
    Other,
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
    #[sea_orm(has_many = "super::hosts::Entity")]
    Hosts,
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
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl Related<super::hosts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Hosts.def()
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

impl ActiveModelBehavior for ActiveModel {}
