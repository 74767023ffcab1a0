//! A fake Books speaking CONTRACT section 6 over real HTTP on 127.0.0.1: it holds invoices,
//! answers `GET /api/invoices?updated_since=&page=` in pages of `page_size` (oldest change
//! first, `updated_at >= updated_since`), records every request with its bearer key, and can
//! be told to answer 500, hang past the timeout, send malformed JSON, point `next_page` back
//! at itself or on for ever, or replay every invoice whatever `updated_since` says.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::TestApp;

/// The key onegraph must send (`BOOKS_SERVICE_KEY`).
pub const KEY: &str = "test-books-service-key";

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// As the contract says.
    #[default]
    Normal,
    /// `500` with a body onegraph must not pass on.
    Fail500,
    /// Waits 2 s before answering (past a 300 ms `UPSTREAM_TIMEOUT`).
    Slow,
    /// `200` with truncated JSON.
    Malformed,
    /// Every page says `next_page` is the page itself.
    LoopBack,
    /// Every page says another page follows.
    Endless,
    /// Each page padded past 64 KiB, streamed in chunks without a `Content-Length`.
    Huge,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The `updated_since` parameter, parsed.
    pub updated_since: Option<DateTime<Utc>>,
    /// The `page` parameter.
    pub page: Option<String>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Inner {
    invoices: Vec<Value>,
    page_size: usize,
    mode: Mode,
    replay: bool,
    seen: Vec<Seen>,
}

/// A running fake Books.
#[derive(Clone)]
pub struct FakeBooks {
    inner: Arc<Mutex<Inner>>,
    /// Its base URL (`BOOKS_API_URL`).
    pub base: String,
}

fn registry() -> &'static Mutex<HashMap<String, FakeBooks>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, FakeBooks>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Starts a fake Books on the test's runtime and returns the `BOOKS_API_URL` setting for
/// it, so it can go straight into `on_every_backend!(…, env = [books::start(), …])`; the
/// test then finds it with [`FakeBooks::of`].
pub fn start() -> (&'static str, &'static str) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake Books");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let base = format!("http://{}", std_listener.local_addr().expect("addr"));
    let listener = tokio::net::TcpListener::from_std(std_listener).expect("tokio listener");
    let fake = FakeBooks {
        inner: Arc::new(Mutex::new(Inner {
            page_size: 2,
            ..Inner::default()
        })),
        base: base.clone(),
    };
    let app = Router::new()
        .route("/api/invoices", get(invoices))
        .with_state(fake.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    registry().lock().unwrap().insert(base.clone(), fake);
    ("BOOKS_API_URL", Box::leak(base.into_boxed_str()))
}

impl FakeBooks {
    /// The fake `app` was configured with.
    pub fn of(app: &TestApp) -> FakeBooks {
        let base = app
            .state
            .settings
            .books_api_url
            .clone()
            .expect("BOOKS_API_URL set");
        registry()
            .lock()
            .unwrap()
            .get(&base)
            .cloned()
            .expect("a fake Books started with books::start()")
    }

    /// The fake started with [`start`] whose `BOOKS_API_URL` is `base` (for a server run
    /// as a separate process, which has no [`TestApp`]).
    pub fn at(base: &str) -> FakeBooks {
        registry()
            .lock()
            .unwrap()
            .get(base)
            .cloned()
            .expect("a fake Books started with books::start()")
    }

    /// Adds an invoice, or replaces the one with its `id`.
    pub fn put(&self, invoice: Value) {
        let mut inner = self.inner.lock().unwrap();
        match inner.invoices.iter_mut().find(|i| i["id"] == invoice["id"]) {
            Some(existing) => *existing = invoice,
            None => inner.invoices.push(invoice),
        }
    }

    /// Invoices per page.
    pub fn set_page_size(&self, n: usize) {
        self.inner.lock().unwrap().page_size = n;
    }

    /// How it answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = mode;
    }

    /// Whether it sends every invoice whatever `updated_since` says (a replay).
    pub fn set_replay(&self, replay: bool) {
        self.inner.lock().unwrap().replay = replay;
    }

    /// The requests received so far, and forgets them.
    pub fn take_requests(&self) -> Vec<Seen> {
        std::mem::take(&mut self.inner.lock().unwrap().seen)
    }
}

async fn invoices(
    State(fake): State<FakeBooks>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let updated_since = params
        .get("updated_since")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let page: usize = params.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let (mode, body) = {
        let mut inner = fake.inner.lock().unwrap();
        inner.seen.push(Seen {
            updated_since,
            page: params.get("page").cloned(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
        let since = updated_since.unwrap_or(DateTime::UNIX_EPOCH);
        let mut matching: Vec<Value> = inner
            .invoices
            .iter()
            .filter(|i| {
                inner.replay
                    || DateTime::parse_from_rfc3339(i["updated_at"].as_str().unwrap_or(""))
                        .is_ok_and(|t| t >= since)
            })
            .cloned()
            .collect();
        matching.sort_by_key(|i| i["updated_at"].as_str().unwrap_or("").to_owned());
        let size = inner.page_size.max(1);
        let start = (page.max(1) - 1) * size;
        let rows: Vec<Value> = matching.iter().skip(start).take(size).cloned().collect();
        let next = match inner.mode {
            Mode::LoopBack => Some(page),
            Mode::Endless => Some(page + 1),
            _ => (start + size < matching.len()).then_some(page + 1),
        };
        (inner.mode, json!({"invoices": rows, "next_page": next}))
    };
    match mode {
        Mode::Fail500 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "books exploded: secret detail",
        )
            .into_response(),
        Mode::Malformed => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"invoices\": [{\"id\": ",
        )
            .into_response(),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(4)).await;
            Json(body).into_response()
        }
        Mode::Huge => {
            let mut body = body;
            body["padding"] = Value::String("x".repeat(64 * 1024));
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body
                .to_string()
                .into_bytes()
                .chunks(4096)
                .map(|c| Ok(c.to_vec()))
                .collect();
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
            )
                .into_response()
        }
        _ => Json(body).into_response(),
    }
}
