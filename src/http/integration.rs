//! The integration endpoints (CONTRACT section 4), for other systems holding an integration
//! key in `X-Integration-Key`: the platform `INTEGRATION_KEY` (every tenant, or one with
//! `tenant_id`) or a tenant's key (that tenant only; another `tenant_id` reads nothing).
//! A missing, wrong or revoked key is `401`; a malformed request is `400` naming the field.
//!
//! - `GET /api/integration/visitors-today?tenant_id=&limit=&after=`: the visits checked in
//!   on the current UTC day, oldest first.
//! - `GET /api/integration/locations?tenant_id=&limit=&after=`: the locations, by id.
//! - `POST /api/integration/webhook`: `{"id","type","source","tenant_id","occurred_at","data"}`
//!   becomes an audit entry with the source as actor; `202`, a replay included (it stores
//!   nothing new: `"duplicate": true`).
//!
//! Lists come in pages (`limit`, default 500, at most 1000) with `next_cursor` for `after`.

use std::net::SocketAddr;

use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::internal::{Fields, key_attempt, presented_key};
use crate::{
    app::AppState,
    error::{AppError, AppResult},
    services::{
        shared::integration_keys::{self, Access},
        visitor::integration::{self, InboundEvent},
    },
};

/// The query string of the list endpoints. Every field is text, checked here, so that a
/// bad value is `400` naming it rather than axum's own rejection.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    tenant_id: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

impl ListParams {
    fn limit(&self) -> AppResult<usize> {
        let limit = match self.limit.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                text.parse::<i64>()
                    .map_err(|_| AppError::bad_input("limit must be an integer"))?,
            ),
        };
        integration::limit(limit)
    }

    fn tenant(&self) -> Option<&str> {
        self.tenant_id.as_deref().filter(|t| !t.trim().is_empty())
    }

    fn after(&self) -> Option<&str> {
        self.after.as_deref().filter(|a| !a.trim().is_empty())
    }
}

/// Who holds the request's key; wrong keys count against the address's allowance.
pub async fn caller(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> AppResult<Access> {
    key_attempt(
        state,
        peer,
        headers,
        integration_keys::authenticate(state, presented_key(headers)),
    )
    .await
}

fn params(
    query: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> AppResult<ListParams> {
    query
        .map(|Query(p)| p)
        .map_err(|_| AppError::bad_input("invalid query string"))
}

/// `GET /api/integration/visitors-today`.
pub async fn visitors_today(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let answer = async {
        let access = caller(&state, peer, &headers).await?;
        let params = params(query)?;
        let (day, listing) = integration::visitors_today(
            &state,
            &access,
            params.tenant(),
            params.limit()?,
            params.after(),
        )
        .await?;
        let visits: Vec<Value> = listing
            .rows
            .iter()
            .map(|row| {
                json!({
                    "id": row.visit.id,
                    "tenant_id": row.visit.tenant_id,
                    "status": entities::stored_text(&row.visit.status),
                    "source": entities::stored_text(&row.visit.source),
                    "checked_in_at": row.visit.checked_in_at.to_rfc3339(),
                    "checked_out_at": row.visit.checked_out_at.map(|t| t.to_rfc3339()),
                    "visitor": row.visitor.as_ref().map(|v| json!({
                        "name": v.name,
                        "company": v.company,
                    })),
                    "location": row.location.as_ref().map(|l| json!({
                        "id": l.id,
                        "name": l.name,
                    })),
                    "host": row.host.as_ref().map(|h| json!({
                        "id": h.id,
                        "name": h.name,
                    })),
                })
            })
            .collect();
        AppResult::Ok(json!({
            "date": day.to_string(),
            "visits": visits,
            "next_cursor": listing.next_cursor,
        }))
    }
    .await;
    respond(answer, StatusCode::OK)
}

/// `GET /api/integration/locations`.
pub async fn locations(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let answer = async {
        let access = caller(&state, peer, &headers).await?;
        let params = params(query)?;
        let listing = integration::locations(
            &state,
            &access,
            params.tenant(),
            params.limit()?,
            params.after(),
        )
        .await?;
        let locations: Vec<Value> = listing
            .rows
            .iter()
            .map(|l| {
                json!({
                    "id": l.id,
                    "tenant_id": l.tenant_id,
                    "name": l.name,
                    "address": l.address,
                    "location_type": entities::stored_text(&l.location_type),
                    "timezone": l.timezone,
                    "archived": l.archived,
                })
            })
            .collect();
        AppResult::Ok(json!({
            "locations": locations,
            "next_cursor": listing.next_cursor,
        }))
    }
    .await;
    respond(answer, StatusCode::OK)
}

/// `POST /api/integration/webhook`.
pub async fn webhook(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let access = caller(&state, peer, &headers).await?;
        let fields = Fields::parse(&body)?;
        let event = InboundEvent {
            id: fields.string("id")?,
            event_type: fields.string("type")?,
            source: fields.string("source")?,
            tenant_id: fields.string("tenant_id")?,
            occurred_at: fields.time("occurred_at")?,
            data: fields.value("data"),
        };
        let new = integration::take_event(&state, &access, event).await?;
        AppResult::Ok(json!({"accepted": true, "duplicate": !new}))
    }
    .await;
    respond(answer, StatusCode::ACCEPTED)
}

/// `body` with `status`, or the error's own answer.
pub(super) fn respond(answer: AppResult<Value>, status: StatusCode) -> Response {
    match answer {
        Ok(body) => (status, Json(body)).into_response(),
        Err(err) => err.into_response(),
    }
}
