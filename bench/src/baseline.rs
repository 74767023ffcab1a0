//! The baseline of the read path: a minimal axum handler for `POST /graphql` that does
//! what onegraph must do for [`crate::client::VISITS_QUERY`] and nothing else.
//!
//! It authenticates the bearer session the same way (one `SELECT` on `sessions` by the
//! token's SHA-256 digest, the permission checked), runs the statements onegraph runs (the
//! page of visits with `LIMIT first + 1` ordered by `checked_in_at DESC, id DESC`, then one
//! `IN (…)` statement each for visitors, locations, hosts and badges, concurrently on the
//! same pool, like onegraph's DataLoaders) through the same sea-orm entities and the same
//! connection options (`onegraph::db::connect`), and writes the same JSON. It parses
//! no GraphQL: the query text is taken as given and `variables.first` is the page size.

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::Arc,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::Utc;
use onegraph::{
    auth::{Permission, PermissionSet, tokens},
    db::DbStats,
    services::shared::page::Cursor,
};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::Result;

/// Where and on what the baseline runs.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `sqlite://…` or `postgres://…` (already migrated by onegraph).
    #[arg(long)]
    pub database_url: String,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:4100")]
    pub bind: SocketAddr,
    /// Pool size (onegraph's default is 10).
    #[arg(long, default_value_t = 10)]
    pub max_connections: u32,
}

#[derive(Clone)]
struct AppState {
    db: DatabaseConnection,
    stats: Arc<DbStats>,
}

/// Runs the baseline server until it is killed.
pub async fn serve(args: Args) -> Result<()> {
    let stats = Arc::new(DbStats::default());
    let db = onegraph::db::connect(&args.database_url, args.max_connections, stats.clone()).await?;
    let app = Router::new()
        .route("/graphql", post(graphql))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(AppState { db, stats });
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn metrics(State(state): State<AppState>) -> String {
    format!(
        "onegraph_db_statements_total {}\n",
        state.stats.statements()
    )
}

#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    variables: Variables,
}

#[derive(Deserialize, Default)]
struct Variables {
    first: Option<usize>,
}

// The response, field for field in the order of the query's selection, as async-graphql
// writes it.

#[derive(Serialize)]
struct Body {
    data: Data,
}

#[derive(Serialize)]
struct Data {
    visits: Connection,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    page_info: PageInfo,
    edges: Vec<Edge>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Serialize)]
struct Edge {
    cursor: String,
    node: Node,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    id: String,
    status: &'static str,
    checked_in_at: String,
    visitor: Visitor,
    location: Named,
    host: Option<Named>,
    badge: Option<Badge>,
}

#[derive(Serialize)]
struct Visitor {
    id: String,
    name: String,
    company: Option<String>,
}

#[derive(Serialize)]
struct Named {
    id: String,
    name: String,
}

#[derive(Serialize)]
struct Badge {
    id: String,
    number: String,
}

fn error(message: &str, code: &str) -> Response {
    let body = serde_json::json!({
        "data": {"visits": null},
        "errors": [{"message": message, "extensions": {"code": code}}],
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn graphql(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match answer(&state, &headers, &body).await {
        Ok(response) => response,
        Err(err) => error(&err.to_string(), "INTERNAL_SERVER_ERROR"),
    }
}

async fn answer(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response> {
    let request: Request = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => return Ok(error(&err.to_string(), "BAD_USER_INPUT")),
    };
    let first = request.variables.first.unwrap_or(20).min(100);
    let Some(token) = bearer(headers).filter(|t| t.starts_with(tokens::SESSION_PREFIX)) else {
        return Ok(error("Not signed in", "UNAUTHENTICATED"));
    };
    let db = &state.db;

    // 1. The session.
    let Some(session) = entities::sessions::Entity::find()
        .filter(entities::sessions::Column::TokenHash.eq(tokens::digest(token)))
        .one(db)
        .await?
    else {
        return Ok(error("Not signed in", "UNAUTHENTICATED"));
    };
    if session.revoked_at.is_some() || session.expires_at <= Utc::now() {
        return Ok(error("Not signed in", "UNAUTHENTICATED"));
    }
    if !PermissionSet::from_json(&session.permissions).contains(Permission::VisitorsView) {
        return Ok(error("Access Denied", "FORBIDDEN"));
    }
    let tenant = session.tenant_id;

    // 2. The page.
    use entities::visits::Column;
    let mut rows = entities::visits::Entity::find()
        .filter(Condition::all().add(Column::TenantId.eq(&tenant)))
        .order_by_desc(Column::CheckedInAt)
        .order_by_desc(Column::Id)
        .limit(first as u64 + 1)
        .all(db)
        .await?;
    let has_next_page = rows.len() > first;
    rows.truncate(first);

    // 3. The relations, one `IN (…)` each, concurrently.
    let unique = |ids: Vec<String>| -> Vec<String> {
        let mut seen = HashSet::new();
        ids.into_iter()
            .filter(|id| seen.insert(id.clone()))
            .collect()
    };
    let visitor_ids = unique(rows.iter().map(|v| v.visitor_id.clone()).collect());
    let location_ids = unique(rows.iter().map(|v| v.location_id.clone()).collect());
    let host_ids = unique(rows.iter().filter_map(|v| v.host_id.clone()).collect());
    let badge_ids = unique(rows.iter().filter_map(|v| v.badge_id.clone()).collect());
    let (visitors, locations, hosts, badges) = tokio::try_join!(
        async {
            if visitor_ids.is_empty() {
                return Ok(Vec::new());
            }
            entities::visitors::Entity::find()
                .filter(entities::visitors::Column::TenantId.eq(&tenant))
                .filter(entities::visitors::Column::Id.is_in(visitor_ids))
                .all(db)
                .await
        },
        async {
            if location_ids.is_empty() {
                return Ok(Vec::new());
            }
            entities::locations::Entity::find()
                .filter(entities::locations::Column::TenantId.eq(&tenant))
                .filter(entities::locations::Column::Id.is_in(location_ids))
                .all(db)
                .await
        },
        async {
            if host_ids.is_empty() {
                return Ok(Vec::new());
            }
            entities::hosts::Entity::find()
                .filter(entities::hosts::Column::TenantId.eq(&tenant))
                .filter(entities::hosts::Column::Id.is_in(host_ids))
                .all(db)
                .await
        },
        async {
            if badge_ids.is_empty() {
                return Ok(Vec::new());
            }
            entities::badges::Entity::find()
                .filter(entities::badges::Column::TenantId.eq(&tenant))
                .filter(entities::badges::Column::Id.is_in(badge_ids))
                .all(db)
                .await
        },
    )?;
    let visitors: HashMap<String, entities::visitors::Model> =
        visitors.into_iter().map(|r| (r.id.clone(), r)).collect();
    let locations: HashMap<String, entities::locations::Model> =
        locations.into_iter().map(|r| (r.id.clone(), r)).collect();
    let hosts: HashMap<String, entities::hosts::Model> =
        hosts.into_iter().map(|r| (r.id.clone(), r)).collect();
    let badges: HashMap<String, entities::badges::Model> =
        badges.into_iter().map(|r| (r.id.clone(), r)).collect();

    // 4. The JSON.
    let mut edges = Vec::with_capacity(rows.len());
    for visit in rows {
        let visitor = visitors
            .get(&visit.visitor_id)
            .ok_or("visit without visitor")?;
        let location = locations
            .get(&visit.location_id)
            .ok_or("visit without location")?;
        let host = visit.host_id.as_ref().and_then(|id| hosts.get(id));
        let badge = visit.badge_id.as_ref().and_then(|id| badges.get(id));
        edges.push(Edge {
            cursor: Cursor::at_time(visit.checked_in_at, &visit.id).encode(),
            node: Node {
                status: match visit.status {
                    entities::visits::VisitStatus::CheckedIn => "CHECKED_IN",
                    entities::visits::VisitStatus::CheckedOut => "CHECKED_OUT",
                },
                checked_in_at: visit.checked_in_at.to_rfc3339(),
                visitor: Visitor {
                    id: visitor.id.clone(),
                    name: visitor.name.clone(),
                    company: visitor.company.clone(),
                },
                location: Named {
                    id: location.id.clone(),
                    name: location.name.clone(),
                },
                host: host.map(|h| Named {
                    id: h.id.clone(),
                    name: h.name.clone(),
                }),
                badge: badge.map(|b| Badge {
                    id: b.id.clone(),
                    number: b.number.clone(),
                }),
                id: visit.id,
            },
        });
    }
    let end_cursor = edges.last().map(|e| e.cursor.clone());
    let body = Body {
        data: Data {
            visits: Connection {
                page_info: PageInfo {
                    has_next_page,
                    end_cursor,
                },
                edges,
            },
        },
    };
    let bytes = serde_json::to_vec(&body)?;
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response())
}
