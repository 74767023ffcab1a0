//! The outbox: messages for other products, written in the same transaction as the change
//! that caused them and delivered later with retries.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

use crate::error::{AppError, AppResult};
pub use crate::events::outbox::{Mail, OutboxKind, redacted_mail};
use crate::services::{new_id, now};

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
    insert(
        db,
        &id,
        Some(tenant_id),
        OutboxKind::Bus,
        event_type,
        envelope.to_string(),
    )
    .await?;
    Ok(id)
}

/// Writes an outbox row of `kind` with `payload` inside the caller's transaction and
/// returns its id.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    tenant_id: Option<&str>,
    kind: OutboxKind,
    event_type: &str,
    payload: String,
) -> AppResult<String> {
    let id = new_id();
    insert(db, &id, tenant_id, kind, event_type, payload).await?;
    Ok(id)
}

async fn insert(
    db: &impl ConnectionTrait,
    id: &str,
    tenant_id: Option<&str>,
    kind: OutboxKind,
    event_type: &str,
    payload: String,
) -> AppResult<()> {
    let created = now();
    entities::outbox::Entity::insert(entities::outbox::ActiveModel {
        id: Set(id.to_owned()),
        tenant_id: Set(tenant_id.map(str::to_owned)),
        kind: Set(kind),
        event_type: Set(event_type.to_owned()),
        payload: Set(payload),
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
    Ok(())
}

/// Queues an e-mail (`event_type` names what it is: `mail.invitation`, `mail.password_reset`,
/// `mail.signing_request`).
pub async fn mail(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    event_type: &str,
    mail: &Mail,
) -> AppResult<String> {
    let payload = serde_json::to_string(mail).map_err(AppError::internal)?;
    enqueue(db, Some(tenant_id), OutboxKind::Mail, event_type, payload).await
}

/// Queues Legal's `signing.completed` webhook with its body.
pub async fn legal_webhook(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    body: &Value,
) -> AppResult<String> {
    enqueue(
        db,
        Some(tenant_id),
        OutboxKind::LegalWebhook,
        "signing.completed",
        body.to_string(),
    )
    .await
}
