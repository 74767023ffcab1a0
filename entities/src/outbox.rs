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
    /// Delivery channel, e.g. `"bus"`.
    pub kind: String,
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

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
