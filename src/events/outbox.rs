//! What an outbox row holds: its kind and, for e-mails, the payload's shape. Services write
//! rows (`services::shared::outbox`) inside their transactions; the [`super::dispatcher`]
//! reads and delivers them.

use serde_json::json;

/// The kind of an outbox row: Bus events, e-mails (payload: [`Mail`] as JSON) and Legal's
/// `signing.completed` webhook (payload: the exact JSON body to POST; the `X-Signature` is
/// computed at delivery time, so its timestamp is fresh).
pub use entities::outbox::OutboxKind;

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
