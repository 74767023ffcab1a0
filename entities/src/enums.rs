//! Enumerated column types shared by more than one table. Each is stored as TEXT in exactly
//! the lower-case form its `string_value` names.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Whether a ticket or a ticket comment has reached PSA (`tickets.sync_state`,
/// `ticket_comments.sync_state`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum TicketSyncState {
    /// Stored in Portal, waiting for the next sync.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// PSA has it (and its id).
    #[sea_orm(string_value = "synced")]
    Synced,
    /// PSA refused it; retried later with backoff.
    #[sea_orm(string_value = "failed")]
    Failed,
}
