//! The outbox: messages for other products, written in the same transaction as the change
//! that caused them and delivered later with retries.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

use super::{new_id, now};
use crate::error::AppResult;

/// Outbox kind of Bus events.
pub const KIND_BUS: &str = "bus";

/// Writes a Bus envelope (CONTRACT section 5) to the outbox inside the caller's transaction
/// and returns its id.
pub async fn bus_event(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    event_type: &str,
    source: &str,
    occurred_at: DateTime<Utc>,
    data: Value,
) -> AppResult<String> {
    let id = new_id();
    let envelope = json!({
        "id": id,
        "type": event_type,
        "source": source,
        "tenant_id": tenant_id,
        "occurred_at": occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    });
    let created = now();
    entities::outbox::Entity::insert(entities::outbox::ActiveModel {
        id: Set(id.clone()),
        tenant_id: Set(Some(tenant_id.to_owned())),
        kind: Set(KIND_BUS.to_owned()),
        event_type: Set(event_type.to_owned()),
        payload: Set(envelope.to_string()),
        created_at: Set(created),
        attempts: Set(0),
        next_attempt_at: Set(created),
        locked_until: Set(None),
        delivered_at: Set(None),
        last_error: Set(None),
        dead: Set(false),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
}
