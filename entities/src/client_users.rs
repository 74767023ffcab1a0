//! `client_users` table: Portal client users, provisioned by PSA or invited by a client admin.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A client user. Unique per `(tenant_id, email)` (e-mail lower-cased) and per `(tenant_id, psa_contact_id)`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "client_users")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// PSA company id: the company key in every product.
    pub company_id: String,
    /// PSA contact id, for users PSA provisioned.
    pub psa_contact_id: Option<String>,
    /// Lower-cased.
    pub email: String,
    pub name: String,
    pub role: ClientUserRole,
    /// Portal access on (DB default true).
    pub active: bool,
    /// Hub's `sub`, bound on the first SSO login.
    pub hub_sub: Option<String>,
    pub mission_member_id: Option<String>,
    /// argon2id PHC string; none until a password is set.
    pub password_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
}

/// What a client user may do in its company (`client_users.role`; PSA's contact pushes
/// name it in this form).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum ClientUserRole {
    /// The company's administrator: every `portal.*` permission.
    #[sea_orm(string_value = "client_admin")]
    ClientAdmin,
    /// An ordinary client user: all but `portal.users.manage`.
    #[sea_orm(string_value = "client_user")]
    ClientUser,
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
