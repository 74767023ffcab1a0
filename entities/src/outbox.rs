//! `outbox` table: transactional outbox for events delivered asynchronously.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An outbox message. `tenant_id` is optional and has no foreign key so that
/// messages survive tenant deletion.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: Option<String>,
    /// Delivery channel.
    pub kind: OutboxKind,
    pub event_type: String,
    /// JSON payload.
    pub payload: String,
    pub created_at: DateTimeUtc,
    /// Number of delivery attempts so far (DB default 0).
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// Lease: a worker holds the row until this time.
    pub locked_until: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// Gave up delivering (DB default false).
    pub dead: bool,
}

/// What an outbox row carries, and so how it is delivered (`outbox.kind`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum OutboxKind {
    /// A Bus event (payload: the envelope).
    #[sea_orm(string_value = "bus")]
    Bus,
    /// An e-mail (payload: the message as JSON).
    #[sea_orm(string_value = "mail")]
    Mail,
    /// Legal's `signing.completed` webhook (payload: the exact JSON body to POST).
    #[sea_orm(string_value = "legal_webhook")]
    LegalWebhook,
}

/// Compares with the stored text (`row.kind == "mail"`), for code that inspects outbox rows
/// by the form other tools see in the table.
impl PartialEq<&str> for OutboxKind {
    fn eq(&self, other: &&str) -> bool {
        self.to_value() == *other
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
