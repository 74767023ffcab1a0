//! The outbox: messages for other products, written in the same transaction as the change
//! that caused them and delivered later with retries.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

use super::{new_id, now};
use crate::error::{AppError, AppResult};

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
    insert(
        db,
        &id,
        Some(tenant_id),
        KIND_BUS,
        event_type,
        envelope.to_string(),
    )
    .await?;
    Ok(id)
}

/// Outbox kind of e-mails (payload: [`Mail`] as JSON).
pub const KIND_MAIL: &str = "mail";
/// Outbox kind of Legal's `signing.completed` webhook (payload: the exact JSON body to
/// POST; the `X-Signature` is computed at delivery time, so its timestamp is fresh).
pub const KIND_LEGAL_WEBHOOK: &str = "legal_webhook";

/// An e-mail waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
}

/// What a `mail` row's payload becomes once the row is delivered or dead: the recipient and
/// subject (for support and audits) and `"redacted": true`, without the body, so the
/// invitation and reset links (whose tokens are stored only hashed elsewhere) do not stay
/// in the database. A payload that is not a message becomes `{"redacted": true}`.
pub fn redacted_mail(payload: &str) -> String {
    match serde_json::from_str::<Mail>(payload) {
        Ok(mail) => json!({"to": mail.to, "subject": mail.subject, "redacted": true}),
        Err(_) => json!({"redacted": true}),
    }
    .to_string()
}

/// Writes an outbox row of `kind` with `payload` inside the caller's transaction and
/// returns its id.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    tenant_id: Option<&str>,
    kind: &str,
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
    kind: &str,
    event_type: &str,
    payload: String,
) -> AppResult<()> {
    let created = now();
    entities::outbox::Entity::insert(entities::outbox::ActiveModel {
        id: Set(id.to_owned()),
        tenant_id: Set(tenant_id.map(str::to_owned)),
        kind: Set(kind.to_owned()),
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
    enqueue(db, Some(tenant_id), KIND_MAIL, event_type, payload).await
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
        KIND_LEGAL_WEBHOOK,
        "signing.completed",
        body.to_string(),
    )
    .await
}
