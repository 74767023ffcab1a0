//! `sessions` table: staff and client sessions, looked up by token hash.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A session. `user_id` refers to a staff user when `kind == "staff"`; it has
/// no foreign key because client sessions refer to other principals.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Hash of the bearer token (unique).
    #[sea_orm(unique)]
    pub token_hash: String,
    pub tenant_id: String,
    /// `"staff"` or `"client"`.
    pub kind: String,
    pub user_id: String,
    /// JSON array of permission strings.
    pub permissions: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
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
