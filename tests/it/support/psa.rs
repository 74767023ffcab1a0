//! A fake PSA speaking CONTRACT section 6 over real HTTP on 127.0.0.1: ticket and comment
//! creation honouring `Idempotency-Key` (the same key is answered with the same id), and a
//! change feed the test fills. It records every request it answered and can be switched to
//! answer 500, hang, send malformed JSON, replay its feed, or be down (no listener at all).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// As the contract says.
    Ok,
    /// `500` with a body onegraph must never show.
    Error500,
    /// Waits this long before answering normally.
    Slow(Duration),
    /// `201`/`200` with a body that is not JSON.
    Malformed,
    /// The answer the contract names, padded past [`HUGE`] bytes with a field onegraph
    /// does not read: with a `Content-Length`, or streamed in chunks without one.
    Huge { chunked: bool },
}

/// The size of a [`Mode::Huge`] answer, at least.
pub const HUGE: usize = 64 * 1024;

/// `value` padded past [`HUGE`] bytes, as one body or as a stream of chunks.
fn huge(status: StatusCode, mut value: Value, chunked: bool) -> Response {
    value["padding"] = Value::String("x".repeat(HUGE));
    let text = value.to_string();
    if !chunked {
        return (status, [("content-type", "application/json")], text).into_response();
    }
    let chunks: Vec<Result<Bytes, std::io::Error>> = text
        .into_bytes()
        .chunks(4096)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    (
        status,
        [("content-type", "application/json")],
        axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
    )
        .into_response()
}

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub authorization: Option<String>,
    pub body: Value,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    mode: Option<Mode>,
    replay: bool,
    requests: Vec<Recorded>,
    /// Idempotency key → (PSA id, status).
    tickets: HashMap<String, (String, String)>,
    /// Idempotency key → PSA comment id.
    comments: HashMap<String, String>,
    feed: Vec<Value>,
    next_id: u64,
    /// Tenants whose ticket creations are refused with `422`.
    refused_tenants: std::collections::HashSet<String>,
    /// Whether ticket ids are numbered per tenant (`T-1` in every tenant), as a PSA that
    /// keeps each tenant's tickets apart may number them.
    per_tenant_ids: bool,
    /// Tenant → the last ticket number given in it.
    tenant_numbers: HashMap<String, u64>,
}

/// The secret-looking text PSA's error bodies carry: it must never reach a client.
pub const LEAK: &str = "psa-internal-stacktrace-do-not-show";
/// The page size of the change feed.
pub const PAGE: usize = 2;

type Shared = Arc<Mutex<Inner>>;

/// A running fake PSA.
pub struct FakePsa {
    pub base: String,
    addr: SocketAddr,
    inner: Shared,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn gate(inner: &Shared) -> Option<Response> {
    let mode = inner.lock().unwrap().mode.unwrap_or(Mode::Ok);
    match mode {
        // A slow PSA does the work, then answers late (see `answer`); a huge one pads it.
        Mode::Ok | Mode::Slow(_) | Mode::Huge { .. } => None,
        Mode::Error500 => Some(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": LEAK})),
            )
                .into_response(),
        ),
        Mode::Malformed => Some(
            (
                StatusCode::CREATED,
                [("content-type", "application/json")],
                format!("{{\"id\": {LEAK}"),
            )
                .into_response(),
        ),
    }
}

/// Answers `response`, after the delay of a slow PSA: the request was processed and
/// recorded already, as when PSA's answer is lost to the caller's timeout.
async fn answer(inner: &Shared, status: StatusCode, body: Value) -> Response {
    let mode = inner.lock().unwrap().mode;
    match mode {
        Some(Mode::Slow(d)) => tokio::time::sleep(d).await,
        Some(Mode::Huge { chunked }) if status.is_success() => {
            return huge(status, body, chunked);
        }
        _ => {}
    }
    (status, Json(body)).into_response()
}

fn record(
    inner: &Shared,
    method: &str,
    path: String,
    headers: &HeaderMap,
    body: &Bytes,
    status: u16,
) {
    inner.lock().unwrap().requests.push(Recorded {
        method: method.to_owned(),
        path,
        idempotency_key: header(headers, "idempotency-key"),
        authorization: header(headers, "authorization"),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
        status,
    });
}

fn authorized(headers: &HeaderMap) -> bool {
    header(headers, "authorization").as_deref() == Some(&format!("Bearer {}", super::PSA_KEY))
}

async fn create_ticket(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let path = "/api/tickets".to_owned();
    if let Some(refusal) = gate(&inner).await {
        record(
            &inner,
            "POST",
            path,
            &headers,
            &body,
            refusal.status().as_u16(),
        );
        return refusal;
    }
    let tenant = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["tenant_id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let (status, response) = {
        let mut state = inner.lock().unwrap();
        match header(&headers, "idempotency-key") {
            _ if !authorized(&headers) => (StatusCode::UNAUTHORIZED, json!({"error": "key"})),
            _ if state.refused_tenants.contains(&tenant) => {
                (StatusCode::UNPROCESSABLE_ENTITY, json!({"error": LEAK}))
            }
            None => (StatusCode::BAD_REQUEST, json!({"error": "Idempotency-Key"})),
            Some(key) => {
                let (id, status) = match state.tickets.get(&key) {
                    Some(existing) => existing.clone(),
                    None if state.per_tenant_ids => {
                        let n = state.tenant_numbers.entry(tenant.clone()).or_default();
                        *n += 1;
                        let created = (format!("T-{n}"), "new".to_owned());
                        state.tickets.insert(key, created.clone());
                        created
                    }
                    None => {
                        state.next_id += 1;
                        let created = (format!("PSA-{}", state.next_id), "new".to_owned());
                        state.tickets.insert(key, created.clone());
                        created
                    }
                };
                (StatusCode::CREATED, json!({"id": id, "status": status}))
            }
        }
    };
    record(&inner, "POST", path, &headers, &body, status.as_u16());
    answer(&inner, status, response).await
}

async fn add_comment(
    State(inner): State<Shared>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/api/tickets/{ticket}/comments");
    if let Some(refusal) = gate(&inner).await {
        record(
            &inner,
            "POST",
            path,
            &headers,
            &body,
            refusal.status().as_u16(),
        );
        return refusal;
    }
    let (status, response) = {
        let mut state = inner.lock().unwrap();
        let known = state.tickets.values().any(|(id, _)| *id == ticket);
        match header(&headers, "idempotency-key") {
            _ if !authorized(&headers) => (StatusCode::UNAUTHORIZED, json!({})),
            _ if !known => (StatusCode::NOT_FOUND, json!({"error": "no such ticket"})),
            None => (StatusCode::BAD_REQUEST, json!({"error": "Idempotency-Key"})),
            Some(key) => {
                let id = match state.comments.get(&key) {
                    Some(id) => id.clone(),
                    None => {
                        state.next_id += 1;
                        let id = format!("C-{}", state.next_id);
                        state.comments.insert(key, id.clone());
                        id
                    }
                };
                (StatusCode::CREATED, json!({"id": id}))
            }
        }
    };
    record(&inner, "POST", path, &headers, &body, status.as_u16());
    answer(&inner, status, response).await
}

async fn changes(
    State(inner): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let since = query.get("since").cloned();
    let path = match &since {
        Some(s) => format!("/api/tickets/changes?since={s}"),
        None => "/api/tickets/changes".to_owned(),
    };
    if let Some(refusal) = gate(&inner).await {
        record(
            &inner,
            "GET",
            path,
            &headers,
            &Bytes::new(),
            refusal.status().as_u16(),
        );
        return refusal;
    }
    if !authorized(&headers) {
        record(&inner, "GET", path, &headers, &Bytes::new(), 401);
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let response = {
        let state = inner.lock().unwrap();
        let start = if state.replay {
            0
        } else {
            since.and_then(|s| s.parse::<usize>().ok()).unwrap_or(0)
        };
        let start = start.min(state.feed.len());
        let end = (start + PAGE).min(state.feed.len());
        json!({"changes": state.feed[start..end], "next_cursor": end.to_string()})
    };
    record(&inner, "GET", path, &headers, &Bytes::new(), 200);
    answer(&inner, StatusCode::OK, response).await
}

impl FakePsa {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> FakePsa {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = FakePsa {
            base: format!("http://{addr}"),
            addr,
            inner: Arc::default(),
            server: Mutex::new(None),
        };
        fake.serve(listener);
        fake
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let app = Router::new()
            .route("/api/tickets", post(create_ticket))
            .route("/api/tickets/changes", get(changes))
            .route("/api/tickets/{id}/comments", post(add_comment))
            .with_state(self.inner.clone());
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *self.server.lock().unwrap() = Some(handle);
    }

    /// Stops listening: connections are refused until [`FakePsa::up`].
    pub async fn down(&self) {
        let handle = self.server.lock().unwrap().take();
        if let Some(handle) = handle {
            handle.abort();
            let _ = handle.await;
        }
    }

    /// Listens again on the same address.
    pub async fn up(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// Switches how the fake answers.
    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = Some(mode);
    }

    /// Numbers new tickets per tenant (`T-1`, `T-2`, … in each tenant), so that tickets of
    /// two tenants share PSA ids.
    pub fn number_per_tenant(&self) {
        self.inner.lock().unwrap().per_tenant_ids = true;
    }

    /// Refuses (`422`) the ticket creations of tenant `tenant_id` from now on.
    pub fn refuse_tenant(&self, tenant_id: &str) {
        self.inner
            .lock()
            .unwrap()
            .refused_tenants
            .insert(tenant_id.to_owned());
    }

    /// Serves the whole feed from its start whatever `since` says (a PSA replaying changes).
    pub fn set_replay(&self, replay: bool) {
        self.inner.lock().unwrap().replay = replay;
    }

    /// Appends a change to the feed.
    pub fn push_change(&self, change: Value) {
        self.inner.lock().unwrap().feed.push(change);
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The requests to `POST` `path`.
    pub fn posts(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == path)
            .collect()
    }

    /// The requests to `POST` `path` answered with 201.
    pub fn created(&self, path: &str) -> Vec<Recorded> {
        self.posts(path)
            .into_iter()
            .filter(|r| r.status == 201)
            .collect()
    }

    /// How many distinct tickets PSA holds.
    pub fn ticket_count(&self) -> usize {
        self.inner.lock().unwrap().tickets.len()
    }

    /// How many distinct comments PSA received.
    pub fn comment_count(&self) -> usize {
        self.inner.lock().unwrap().comments.len()
    }

    /// PSA's id of the comment pushed with idempotency key `portal_id`.
    pub fn comment_id(&self, portal_id: &str) -> Option<String> {
        self.inner.lock().unwrap().comments.get(portal_id).cloned()
    }
}
