//! `visitor_settings` table: per-tenant visitor management settings.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Settings for one tenant (primary key is the tenant id).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "visitor_settings")]
pub struct Model {
    /// Tenant id (UUID string); also a foreign key to `tenants.id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub retention_days: i32,
    pub require_host: bool,
    pub require_badge: bool,
    /// Daily auto-checkout time as `"HH:MM"` (location-local), if enabled.
    pub auto_checkout_at: Option<String>,
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
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
