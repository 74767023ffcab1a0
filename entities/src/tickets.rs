//! `tickets` table: support tickets opened in Portal and synced with PSA.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A ticket. `sync_state` is `pending`, `synced` or `failed`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "tickets")]
pub struct Model {
    /// UUID string; also the `Idempotency-Key` and `external_ref` sent to PSA.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub company_id: String,
    /// Who opened it.
    pub client_user_id: Option<String>,
    /// PSA's id, once pushed.
    pub psa_ticket_id: Option<String>,
    pub subject: String,
    pub description: String,
    /// Lower-case `TicketStatus`.
    pub status: String,
    /// Lower-case `TicketPriority`.
    pub priority: String,
    pub sync_state: String,
    /// onegraph's own short description of the last failure.
    pub sync_error: Option<String>,
    /// Failed pushes in a row (DB default 0).
    pub sync_attempts: i32,
    /// Not pushed again before this time (backoff).
    pub next_sync_at: Option<DateTimeUtc>,
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
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
