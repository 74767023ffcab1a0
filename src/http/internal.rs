//! Endpoints other products call with an integration key: PSA's contact push (and, with
//! the signing work, Legal's policy push). Every answer is JSON; a missing or wrong key is
//! `401` and changes nothing; a malformed body is `400` naming the field.

use axum::{
    Json,
    body::Bytes,
    extract::State,
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
    services::client_users::{self, ContactPush},
};

/// The header other products send their key in.
pub const KEY_HEADER: &str = "x-integration-key";

/// Checks `X-Integration-Key` against `configured` (digests, constant time; an unset key
/// matches nothing).
pub fn require_key(headers: &HeaderMap, configured: Option<&Secret>) -> AppResult<()> {
    let presented = headers
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if tokens::key_matches(presented, configured.map(Secret::expose)) {
        Ok(())
    } else {
        Err(AppError::Unauthenticated(
            "Missing or wrong integration key".into(),
        ))
    }
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
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match psa_contacts_inner(&state, &headers, &body).await {
        Ok(outcome) => (StatusCode::OK, Json(json!({"status": outcome.as_str()}))).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn psa_contacts_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> AppResult<client_users::ContactOutcome> {
    require_key(headers, state.settings.psa_service_key.as_ref())?;
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
