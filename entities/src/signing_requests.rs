//! `signing_requests` table: policies pushed by Legal for a client user's signature.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A signing request: one per client user, policy and version.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "signing_requests")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub company_id: String,
    pub client_user_id: String,
    pub policy_id: String,
    pub version: i32,
    pub title: String,
    pub document_url: String,
    pub content_sha256: String,
    pub due_at: Option<DateTimeUtc>,
    /// `pending`, `signed` or `expired`.
    pub status: String,
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
        belongs_to = "super::client_users::Entity",
        from = "Column::ClientUserId",
        to = "super::client_users::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    ClientUser,
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl Related<super::client_users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ClientUser.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
