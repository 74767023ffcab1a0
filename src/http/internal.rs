//! Endpoints other products call with an integration key: PSA's contact push and Legal's
//! policy push. Every answer is JSON; a missing or wrong key is `401` and changes nothing;
//! a malformed body is `400` naming the field.

use std::net::SocketAddr;

use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::json;

use crate::{
    app::AppState,
    auth::tokens,
    config::Secret,
    error::{AppError, AppResult},
    services::portal::client_users::{self, ContactPush},
    services::portal::signing,
};

/// The header other products send their key in.
pub const KEY_HEADER: &str = "x-integration-key";

/// The `X-Integration-Key` a request presents (empty when there is none).
pub fn presented_key(headers: &HeaderMap) -> &str {
    headers
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Runs the key check `check` of a request from `peer` under the per-address limiter of
/// integration keys (`AUTH_RATE_BURST`, `AUTH_RATE_PER_MINUTE`; its buckets are not the
/// sign-on endpoints'): a token is taken before the check and given back unless the key was
/// wrong, so that wrong keys are what is limited (`429 RATE_LIMITED` past the burst) and a
/// database error costs the caller nothing.
pub async fn key_attempt<T>(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    check: impl Future<Output = AppResult<T>>,
) -> AppResult<T> {
    let ip = super::auth::request_ip(state, Some(peer), headers);
    state.key_limiter.check(ip)?;
    let outcome = check.await;
    if !matches!(outcome, Err(AppError::Unauthenticated(_))) {
        state.key_limiter.refund(ip);
    }
    outcome
}

/// Checks `X-Integration-Key` against `configured` (digests, constant time; an unset key
/// matches nothing), under [`key_attempt`]'s limiter.
pub async fn require_key(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    configured: Option<&Secret>,
) -> AppResult<()> {
    key_attempt(state, peer, headers, async {
        if tokens::key_matches(presented_key(headers), configured.map(Secret::expose)) {
            Ok(())
        } else {
            Err(AppError::Unauthenticated(
                "Missing or wrong integration key".into(),
            ))
        }
    })
    .await
}

/// Parses a JSON body; a syntax error, a missing field or a field of the wrong type is
/// `BAD_USER_INPUT` whose message names the field (serde's own wording, never the body).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> AppResult<T> {
    serde_json::from_slice(body).map_err(|err| {
        let message = err.to_string();
        // serde's messages end with " at line L column C"; keep the part naming the field.
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or("invalid JSON")
            .to_owned();
        AppError::bad_input(format!("invalid request body: {message}"))
    })
}

/// `POST /internal/psa/contacts` body (CONTRACT section 6).
#[derive(Debug, Deserialize)]
struct ContactBody {
    tenant_id: String,
    contact_id: String,
    company_id: String,
    email: String,
    name: String,
    portal_access: bool,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    mission_member_id: Option<String>,
}

/// `POST /internal/psa/contacts`: PSA turns a contact's portal access on or off.
pub async fn psa_contacts(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match psa_contacts_inner(&state, peer, &headers, &body).await {
        Ok(outcome) => (StatusCode::OK, Json(json!({"status": outcome.as_str()}))).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn psa_contacts_inner(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> AppResult<client_users::ContactOutcome> {
    require_key(
        state,
        peer,
        headers,
        state.settings.psa_service_key.as_ref(),
    )
    .await?;
    let body: ContactBody = parse_json(body)?;
    client_users::apply_contact(
        state,
        ContactPush {
            tenant_id: body.tenant_id,
            contact_id: body.contact_id,
            company_id: body.company_id,
            email: body.email,
            name: body.name,
            portal_access: body.portal_access,
            role: body.role,
            mission_member_id: body.mission_member_id,
        },
    )
    .await
}

/// A field of a JSON object body, with errors naming it (serde's own messages do not name
/// the field of a value of the wrong type).
pub struct Fields(serde_json::Map<String, serde_json::Value>);

impl Fields {
    /// Parses a JSON object body.
    pub fn parse(body: &[u8]) -> AppResult<Self> {
        match parse_json::<serde_json::Value>(body)? {
            serde_json::Value::Object(map) => Ok(Self(map)),
            _ => Err(AppError::bad_input(
                "invalid request body: expected a JSON object",
            )),
        }
    }

    /// A required string field.
    pub fn string(&self, name: &str) -> AppResult<String> {
        match self.0.get(name) {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            None | Some(serde_json::Value::Null) => {
                Err(AppError::bad_input(format!("missing field `{name}`")))
            }
            Some(_) => Err(AppError::bad_input(format!("{name} must be a string"))),
        }
    }

    fn integer(&self, name: &str) -> AppResult<i64> {
        match self.0.get(name) {
            Some(serde_json::Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| AppError::bad_input(format!("{name} must be an integer"))),
            None | Some(serde_json::Value::Null) => {
                Err(AppError::bad_input(format!("missing field `{name}`")))
            }
            Some(_) => Err(AppError::bad_input(format!("{name} must be an integer"))),
        }
    }

    fn strings(&self, name: &str) -> AppResult<Vec<String>> {
        let bad = || AppError::bad_input(format!("{name} must be an array of strings"));
        match self.0.get(name) {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
                .collect(),
            None | Some(serde_json::Value::Null) => {
                Err(AppError::bad_input(format!("missing field `{name}`")))
            }
            Some(_) => Err(bad()),
        }
    }

    /// A required RFC 3339 date-time field.
    pub fn time(&self, name: &str) -> AppResult<chrono::DateTime<chrono::Utc>> {
        self.optional_time(name)?
            .ok_or_else(|| AppError::bad_input(format!("missing field `{name}`")))
    }

    /// A field of any JSON type; absent is `null`.
    pub fn value(&self, name: &str) -> serde_json::Value {
        self.0.get(name).cloned().unwrap_or(serde_json::Value::Null)
    }

    fn optional_time(&self, name: &str) -> AppResult<Option<chrono::DateTime<chrono::Utc>>> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s.trim())
                .map(|t| Some(t.with_timezone(&chrono::Utc)))
                .map_err(|_| AppError::bad_input(format!("{name} must be an RFC 3339 date-time"))),
            Some(_) => Err(AppError::bad_input(format!(
                "{name} must be an RFC 3339 date-time or null"
            ))),
        }
    }
}

/// `POST /internal/signing/push`: Legal pushes a policy version for signature (CONTRACT
/// section 6). `202` when signing requests were created, `200` when the push was a replay
/// (nothing new), both with `{"created", "already_requested"}`.
pub async fn signing_push(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match signing_push_inner(&state, peer, &headers, &body).await {
        Ok(outcome) => {
            let status = if outcome.created > 0 {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            (
                status,
                Json(json!({
                    "created": outcome.created,
                    "already_requested": outcome.existing,
                })),
            )
                .into_response()
        }
        Err(err) => err.into_response(),
    }
}

async fn signing_push_inner(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> AppResult<signing::PushOutcome> {
    require_key(
        state,
        peer,
        headers,
        state.settings.portal_integration_key.as_ref(),
    )
    .await?;
    let fields = Fields::parse(body)?;
    let push = signing::SigningPush {
        tenant_id: fields.string("tenant_id")?,
        policy_id: fields.string("policy_id")?,
        version: fields.integer("version")?,
        title: fields.string("title")?,
        document_url: fields.string("document_url")?,
        content_sha256: fields.string("content_sha256")?,
        company_ids: fields.strings("company_ids")?,
        due_at: fields.optional_time("due_at")?,
    };
    signing::push(state, push).await
}
