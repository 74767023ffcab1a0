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
    pub status: StoredSigningStatus,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// The stored status of a signing request (`signing_requests.status`). A `Pending` request
/// past its `due_at` shows as expired without being stored so.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum StoredSigningStatus {
    /// Waiting for the signature.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Signed: the acknowledgement is recorded.
    #[sea_orm(string_value = "signed")]
    Signed,
    /// Expired explicitly (by Legal or a future job).
    #[sea_orm(string_value = "expired")]
    Expired,
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
