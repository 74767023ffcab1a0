//! `password_tokens` table: single-use invitation and password-reset tokens, stored hashed.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A one-time token consumed by `setPassword`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "password_tokens")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub client_user_id: String,
    pub purpose: PasswordTokenPurpose,
    /// SHA-256 of the token (unique).
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
}

/// What a password token is for (`password_tokens.purpose`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum PasswordTokenPurpose {
    /// An invitation: the invited user's first password.
    #[sea_orm(string_value = "invite")]
    Invite,
    /// A password reset.
    #[sea_orm(string_value = "reset")]
    Reset,
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
