//! A fake upstream product that speaks real HTTP on 127.0.0.1: it records every request it
//! receives and can be told to answer 500 (or any status), hang past the caller's timeout,
//! answer slowly, or be down (connection refused) and come back on the same port. Also the
//! helpers delivery tests share: a second server on the same database, a fresh mail
//! directory, and the macro that runs a test body on every backend with fakes started
//! first.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::post,
};
use tokio::task::JoinHandle;

use super::TestApp;

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `200 {}`.
    Ok,
    /// This status, with a body that must never be shown to anyone (`UPSTREAM-SECRET`).
    Status(u16),
    /// Never answers (the caller's timeout must fire).
    Hang,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: String,
    /// What the fake answered (0: it hung).
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// The body a failing fake answers with: it must never reach clients or `last_error`.
pub const SECRET_BODY: &str = "UPSTREAM-SECRET stack trace";

struct Shared {
    mode: Mutex<Mode>,
    delay: Mutex<Duration>,
    received: Mutex<Vec<Received>>,
}

/// A running fake.
pub struct FakeServer {
    /// Its address.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:port`.
    pub base: String,
    path: &'static str,
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let delay = *shared.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mode = *shared.mode.lock().unwrap();
    let status = match mode {
        Mode::Ok => 200,
        Mode::Status(s) => s,
        Mode::Hang => 0,
    };
    shared.received.lock().unwrap().push(Received {
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
        at: Instant::now(),
    });
    match mode {
        Mode::Ok => (StatusCode::OK, "{}".to_owned()),
        Mode::Status(s) => (
            StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            SECRET_BODY.to_owned(),
        ),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            (StatusCode::OK, "{}".to_owned())
        }
    }
}

impl FakeServer {
    /// Starts a fake answering POST `path` on a free port.
    pub async fn start(path: &'static str) -> FakeServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Ok),
            delay: Mutex::new(Duration::ZERO),
            received: Mutex::new(Vec::new()),
        });
        let fake = FakeServer {
            addr,
            base: format!("http://{addr}"),
            path,
            shared,
            task: Mutex::new(None),
        };
        fake.serve(listener);
        fake
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let app = Router::new()
            .route(self.path, post(handle))
            .with_state(self.shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *self.task.lock().unwrap() = Some(task);
    }

    /// The URL of its endpoint.
    pub fn url(&self) -> String {
        format!("{}{}", self.base, self.path)
    }

    /// Changes how it answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Waits this long before answering each request.
    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }

    /// Stops listening: connections are refused until [`FakeServer::up`].
    pub fn down(&self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn up(&self) {
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Requests answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    /// Waits (at most `timeout`) until `done` holds for the requests received, and returns
    /// them; panics with `what` on timeout.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; received: {received:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// How the names of [`mail_dir`]'s directories begin.
const MAIL_DIR_PREFIX: &str = "onegraph-mail-";

/// A fresh, not yet existing directory for `MAIL_DIR` (the server creates it). The
/// [`TestApp`] given it as `MAIL_DIR` removes it when dropped, as it does its own directory.
pub fn mail_dir() -> PathBuf {
    std::env::temp_dir().join(format!("{MAIL_DIR_PREFIX}{}", uuid::Uuid::new_v4()))
}

/// Whether `path` is a directory [`mail_dir`] made.
pub fn is_mail_dir(path: &Path) -> bool {
    path.parent() == Some(std::env::temp_dir().as_path())
        && path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(MAIL_DIR_PREFIX))
}

/// The `.eml` files in `dir`, read whole, sorted by content.
pub fn eml_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Waits until `dir` holds `n` complete `.eml` files and returns them.
pub async fn wait_for_mail(dir: &Path, n: usize, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let files = eml_files(dir);
        // A file is complete once its body (after the blank line) is there.
        if files.len() >= n && files.iter().all(|f| f.contains("\r\n\r\n")) {
            return files;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {n} mails in {}: {files:#?}",
                dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Turns owned pairs into the borrowed form `TestApp::spawn_on` takes.
pub fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A second server on `app`'s database (another replica), with `env` on top of the test
/// defaults. Its outbox dispatcher competes with `app`'s for the same rows.
pub async fn replica(app: &TestApp, env: &[(&str, &str)]) -> TestApp {
    let mut env: Vec<(&str, &str)> = env.to_vec();
    // A later pair wins over the test defaults: this server opens `app`'s database (and
    // migrates it again, which changes nothing).
    env.push(("DATABASE_URL", app.database_url.as_str()));
    let mut replica = TestApp::spawn_on(app.backend, &env).await;
    replica.database_url = app.database_url.clone();
    replica
}
