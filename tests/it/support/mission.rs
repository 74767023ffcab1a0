//! A fake Mission speaking CONTRACT section 6 over real HTTP on 127.0.0.1: it answers
//! `GET /mission/donations`, `/mission/donations/stats`, `/mission/events`, `/mission/groups`,
//! `/mission/directory`, `/mission/prayer` and `POST /mission/prayer` with fixed data,
//! records every request (method, path, query, headers, body), and can be told, for every
//! path or for one, to answer 500, answer late, answer with garbage, with JSON of the wrong
//! shape, with more than onegraph reads, or with too many items; or to fail only its next
//! few requests. Every bad answer carries [`SECRET`], which must reach neither clients nor
//! logs. Also a log capture for the test's own thread.

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

use super::{TestApp, tenant_id};

/// The key onegraph must send (`MISSION_SERVICE_KEY`).
pub const KEY: &str = "test-mission-service-key";

/// Text in every bad answer: it must never reach a client or a log line.
pub const SECRET: &str = "MISSION-SECRET-BODY";

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// As the contract says.
    #[default]
    Normal,
    /// `500` with a body holding [`SECRET`].
    Fail500,
    /// Waits 3 s before answering normally (past a short `UPSTREAM_TIMEOUT`).
    Slow,
    /// `200` with a body that is not JSON.
    Garbage,
    /// `200` with JSON that is not the contract's shape.
    WrongShape,
    /// `200` with 5 MiB of valid JSON (more than onegraph reads).
    Oversized,
    /// `200` with 501 items (more than a list may hold).
    TooMany,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET` or `POST`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The decoded query parameters.
    pub query: HashMap<String, String>,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The body.
    pub body: String,
}

impl Seen {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct Inner {
    mode: Mode,
    by_path: HashMap<String, Mode>,
    fail_next: usize,
    seen: Vec<Seen>,
}

/// A running fake Mission.
#[derive(Clone)]
pub struct FakeMission {
    inner: Arc<Mutex<Inner>>,
    /// Its base URL (`MISSION_API_URL`).
    pub base: String,
}

fn registry() -> &'static Mutex<HashMap<String, FakeMission>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, FakeMission>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Starts a fake Mission on the test's runtime and returns the `MISSION_API_URL` setting for
/// it, for `on_every_backend!(…, env = [mission::start(), mission::key()])`; the test finds
/// it with [`FakeMission::of`].
pub fn start() -> (&'static str, &'static str) {
    let fake = FakeMission::start();
    ("MISSION_API_URL", Box::leak(fake.base.into_boxed_str()))
}

/// The `MISSION_SERVICE_KEY` setting the fake expects.
pub fn key() -> (&'static str, &'static str) {
    ("MISSION_SERVICE_KEY", KEY)
}

/// A base URL where nothing listens (Mission down: connections are refused).
pub fn down() -> (&'static str, &'static str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    (
        "MISSION_API_URL",
        Box::leak(format!("http://127.0.0.1:{port}").into_boxed_str()),
    )
}

impl FakeMission {
    /// Starts a fake on a free port.
    pub fn start() -> FakeMission {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake Mission");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let base = format!("http://{}", std_listener.local_addr().expect("addr"));
        let listener = tokio::net::TcpListener::from_std(std_listener).expect("tokio listener");
        let fake = FakeMission {
            inner: Arc::new(Mutex::new(Inner::default())),
            base: base.clone(),
        };
        let app = Router::new()
            .route("/mission/donations", get(answer))
            .route("/mission/donations/stats", get(answer))
            .route("/mission/events", get(answer))
            .route("/mission/groups", get(answer))
            .route("/mission/directory", get(answer))
            .route("/mission/prayer", get(answer).post(answer))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        registry().lock().unwrap().insert(base, fake.clone());
        fake
    }

    /// The fake `app` was configured with.
    pub fn of(app: &TestApp) -> FakeMission {
        let base = app
            .state
            .settings
            .mission_api_url
            .clone()
            .expect("MISSION_API_URL set");
        registry()
            .lock()
            .unwrap()
            .get(&base)
            .cloned()
            .expect("a fake Mission started with mission::start()")
    }

    /// How every path answers from now on (paths given their own mode excepted).
    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = mode;
    }

    /// How `path` answers from now on.
    pub fn set_path_mode(&self, path: &str, mode: Mode) {
        self.inner
            .lock()
            .unwrap()
            .by_path
            .insert(path.to_owned(), mode);
    }

    /// The next `n` requests answer 500, then the mode applies again.
    pub fn fail_next(&self, n: usize) {
        self.inner.lock().unwrap().fail_next = n;
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// The requests so far to `method` `path`.
    pub fn calls(&self, method: &str, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == method && s.path == path)
            .collect()
    }

    /// How many requests so far.
    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().seen.len()
    }
}

/// The data of a path, as Mission would send it to `member`: the ids given as text name
/// the member (`don-1.m-1`), as Mission's are its own to each church; those given as
/// numbers are the same for everyone.
fn data(path: &str, query: &HashMap<String, String>, body: &str, member: &str) -> Value {
    let id = |base: &str| format!("{base}.{member}");
    match path {
        "/mission/donations" => json!([
            {"id": id("don-1"), "amount": "125.50", "currency": "usd", "fund": "General",
             "date": "2026-03-01", "method": "card"},
            {"id": 2, "amount": {"amount": "0010.00", "currency": "USD"}, "fund": null,
             "date": "2026-03-08"},
        ]),
        "/mission/donations/stats" => json!({
            "total": {"amount": "135.50", "currency": "USD"},
            "count": 2,
            "by_fund": [
                {"fund": "General", "total": "125.50"},
                {"fund": "Missions", "total": {"amount": "10.00", "currency": "USD"}},
            ],
            "year": query.get("year"),
        }),
        "/mission/events" => json!([
            {"id": id("ev-1"), "title": "Sunday service", "starts_at": "2026-03-01T10:00:00Z",
             "ends_at": "2026-03-01T11:30:00+01:00", "location": "Main hall"},
            {"id": id("ev-2"), "title": "Choir", "starts_at": "2026-03-04T19:00:00Z"},
        ]),
        "/mission/groups" => json!([
            {"id": id("g-1"), "name": "Youth", "description": "Teens on Fridays", "member_count": 14},
            {"id": 77, "name": "Choir"},
        ]),
        "/mission/directory" => {
            let all = vec![
                json!({"member_id": "m-1", "name": "Ann Baker", "email": "ann@example.org"}),
                json!({"member_id": "m-2", "name": "Bob Carter", "email": null}),
            ];
            let q = query.get("q").map(|q| q.to_lowercase());
            Value::Array(
                all.into_iter()
                    .filter(|e| {
                        q.as_ref().is_none_or(|q| {
                            e["name"]
                                .as_str()
                                .is_some_and(|n| n.to_lowercase().contains(q))
                        })
                    })
                    .collect(),
            )
        }
        "/mission/prayer" if body.is_empty() => json!([
            {"id": id("p-1"), "body": "For the harvest", "is_private": false,
             "created_at": "2026-02-01T08:00:00Z"},
        ]),
        _ => {
            let sent: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            json!({
                "id": id("p-new"), "body": sent["body"], "is_private": sent["is_private"],
                "created_at": "2026-03-10T12:00:00Z",
            })
        }
    }
}

async fn answer(
    State(fake): State<FakeMission>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let body = String::from_utf8_lossy(&body).into_owned();
    let member = headers
        .get("x-member-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let mode = {
        let mut inner = fake.inner.lock().unwrap();
        inner.seen.push(Seen {
            method: method.as_str().to_owned(),
            path: path.clone(),
            query: query.clone(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                    (k.as_str().to_owned(), value)
                })
                .collect(),
            body: body.clone(),
        });
        if inner.fail_next > 0 {
            inner.fail_next -= 1;
            Mode::Fail500
        } else {
            inner.by_path.get(&path).copied().unwrap_or(inner.mode)
        }
    };
    let json_ok = |value: Value| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response()
    };
    let status = if method == Method::POST {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    match mode {
        Mode::Normal => {
            let mut response = json_ok(data(&path, &query, &body, &member));
            *response.status_mut() = status;
            response
        }
        Mode::Fail500 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{SECRET}: database exploded"),
        )
            .into_response(),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            json_ok(data(&path, &query, &body, &member))
        }
        Mode::Garbage => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            format!("[{{\"id\": \"{SECRET}\", "),
        )
            .into_response(),
        Mode::WrongShape => json_ok(json!({"error": SECRET, "items": [{"name": SECRET}]})),
        Mode::Oversized => {
            let filler = "x".repeat(1000);
            let items: Vec<Value> = (0..5 * 1024)
                .map(|i| json!({"id": format!("{SECRET}-{i}"), "title": filler, "starts_at": "2026-03-01T10:00:00Z", "name": SECRET, "member_id": "m", "body": "b", "created_at": "2026-03-01T10:00:00Z"}))
                .collect();
            json_ok(Value::Array(items))
        }
        Mode::TooMany => {
            let items: Vec<Value> = (0..501)
                .map(|i| json!({"id": format!("g-{i}"), "name": format!("Group {i}")}))
                .collect();
            json_ok(Value::Array(items))
        }
    }
}

/// Provisions client user `email` of `company` in `tenant` (a label) through PSA's contact
/// push, with Mission member id `member` (none: not linked), and signs it in through Hub
/// SSO with the permissions claim `perms` (none: the role's); returns the session token.
pub async fn member_session(
    app: &TestApp,
    tenant: &str,
    email: &str,
    member: Option<&str>,
    perms: Option<&[&str]>,
) -> String {
    let mut push = json!({
        "tenant_id": tenant_id(tenant),
        "contact_id": format!("contact-{email}"),
        "company_id": "CHURCH-1",
        "email": email,
        "name": format!("Member {email}"),
        "portal_access": true,
        "role": "client_user",
    });
    if let Some(member) = member {
        push["mission_member_id"] = json!(member);
    }
    let (status, body) = app.psa_contact(push).await;
    assert_eq!(status, 200, "provisioning failed: {body}");
    let token = app.mint(&app.client_claims(tenant, email, perms));
    let (status, body) = app.exchange(&token).await;
    assert_eq!(status, 200, "client login failed: {body}");
    body["session_token"]
        .as_str()
        .expect("session_token")
        .to_owned()
}

/// Log lines written on this thread (where a `#[tokio::test]` runs its server's tasks)
/// while the returned guard lives, at every level.
pub fn capture_logs() -> (tracing::subscriber::DefaultGuard, Logs) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (tracing::subscriber::set_default(subscriber), logs)
}

/// What [`capture_logs`] collected.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
