//! `GET /api/search?q=&tenant_id=&limit=`: Hub's global search (CONTRACT section 4), the
//! same service as GraphQL `search`. Authenticated like the integration endpoints: the
//! platform `INTEGRATION_KEY` searches the tenant `tenant_id` names, a tenant's key only its
//! own (another `tenant_id` finds nothing); a missing, wrong or revoked key is `401`.
//! `tenant_id` and `q` are required (`400`); `limit` is 1 to 100, 20 when left out.
//!
//! ```json
//! {"results": [
//!   {"type": "visit", "id": "…", "name": "Ada Lovelace", "company": "Acme",
//!    "status": "checked_in", "location": "Lobby"},
//!   {"type": "location", "id": "…", "name": "Lobby", "address": "1 Main St",
//!    "location_type": "office"}]}
//! ```
//!
//! A visit's `name` and `company` are its visitor's, its `location` its location's name.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Query, State, rejection::QueryRejection},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::integration::{caller, respond};
use crate::{
    app::AppState,
    error::{AppError, AppResult},
    services::visitor::search::{self, Hit, Scope},
};

/// The query string. Every field is text, checked here, so that a bad value is `400`
/// naming it rather than axum's own rejection.
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    tenant_id: Option<String>,
    limit: Option<String>,
}

fn required<'a>(value: &'a Option<String>, name: &str) -> AppResult<&'a str> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| AppError::bad_input(format!("{name} is required")))
}

/// `GET /api/search`.
pub async fn search(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let answer = async {
        let access = caller(&state, peer, &headers).await?;
        let Query(params) = query.map_err(|_| AppError::bad_input("invalid query string"))?;
        let tenant = required(&params.tenant_id, "tenant_id")?;
        let q = required(&params.q, "q")?;
        let limit = match params.limit.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                text.parse::<i64>()
                    .map_err(|_| AppError::bad_input("limit must be an integer"))?,
            ),
        };
        let limit = search::first(limit)
            .map_err(|_| AppError::bad_input("limit must be between 1 and 100"))?;
        let hits = match Scope::for_integration(&access, tenant) {
            Some(scope) => search::search(&state.db, &scope, q, limit).await?,
            // Another tenant's (or no tenant's): nothing, once the query itself is valid.
            None => {
                search::query(q)?;
                Vec::new()
            }
        };
        let results: Vec<Value> = hits.iter().map(result).collect();
        AppResult::Ok(json!({ "results": results }))
    }
    .await;
    respond(answer, StatusCode::OK)
}

fn result(hit: &Hit) -> Value {
    match hit {
        Hit::Visit(found) => json!({
            "type": "visit",
            "id": found.visit.id,
            "name": found.visitor.name,
            "company": found.visitor.company,
            "status": entities::stored_text(&found.visit.status),
            "location": found.location.name,
        }),
        Hit::Location(location) => json!({
            "type": "location",
            "id": location.id,
            "name": location.name,
            "address": location.address,
            "location_type": entities::stored_text(&location.location_type),
        }),
    }
}
