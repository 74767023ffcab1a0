//! `tickets` table: support tickets opened in Portal and synced with PSA.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::enums::TicketSyncState;

/// A ticket.
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
    pub status: TicketStatus,
    pub priority: TicketPriority,
    pub sync_state: TicketSyncState,
    /// onegraph's own short description of the last failure.
    pub sync_error: Option<String>,
    /// Failed pushes in a row (DB default 0).
    pub sync_attempts: i32,
    /// Not pushed again before this time (backoff).
    pub next_sync_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Where a ticket stands in PSA (`tickets.status`; PSA's lower-case status, parsed on the
/// way in).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Opened, not yet looked at.
    #[sea_orm(string_value = "new")]
    New,
    /// Acknowledged.
    #[sea_orm(string_value = "open")]
    Open,
    /// Being worked on.
    #[sea_orm(string_value = "in_progress")]
    InProgress,
    /// Waiting for the client's answer.
    #[sea_orm(string_value = "waiting_on_client")]
    WaitingOnClient,
    /// Solved.
    #[sea_orm(string_value = "resolved")]
    Resolved,
    /// Closed.
    #[sea_orm(string_value = "closed")]
    Closed,
}

/// How urgent a ticket is (`tickets.priority`; sent to PSA in this form).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum TicketPriority {
    /// Low.
    #[sea_orm(string_value = "low")]
    Low,
    /// Normal (the default).
    #[sea_orm(string_value = "normal")]
    Normal,
    /// High.
    #[sea_orm(string_value = "high")]
    High,
    /// Urgent.
    #[sea_orm(string_value = "urgent")]
    Urgent,
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
