//! The test harness: a real onegraph server on a random loopback port, on a fresh SQLite
//! file or (when `TEST_DATABASE_URL` is set) a fresh PostgreSQL database, and helpers that
//! speak to it over HTTP the way clients do. Each server has a directory of its own (its
//! mail and its SQLite file), removed when its [`TestApp`] is dropped.

pub mod books;
pub mod bus;
pub mod fake;
pub mod legal;
pub mod mission;
pub mod psa;
pub mod smtp;
pub mod upstreams;

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use onegraph::{app, auth::sso, config::Settings, db};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The SSO secret every test server shares with its "Hub".
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
/// The issuer tokens carry.
pub const ISSUER: &str = "https://my.theonestack.com";

/// The key PSA calls onegraph with (`PSA_SERVICE_KEY`) on every test server.
pub const PSA_KEY: &str = "test-psa-service-key";

/// Which database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh database on the server named by `TEST_DATABASE_URL`.
    Postgres,
}

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub metrics: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    /// The test database's URL, for tests that must look at rows the public surface does
    /// not show (the outbox).
    pub database_url: String,
    /// The server's state, for tests that run a job directly (`onegraph::jobs::execute`).
    pub state: app::AppState,
    /// The `.eml` files [`TestApp::next_mail`] has returned already.
    seen_mail: std::sync::Mutex<std::collections::HashSet<std::path::PathBuf>>,
    /// The server's own directory (`onegraph-test-<uuid>` in the temp dir): its `MAIL_DIR`
    /// (`mail/`) unless the test gives one, and on SQLite its database (`onegraph.db`).
    pub dir: PathBuf,
    /// Removes [`TestApp::dir`] on drop.
    _dir: OwnedDir,
    /// A `MAIL_DIR` the test gave from [`fake::mail_dir`]: this server removes it too.
    _given_mail_dir: Option<OwnedDir>,
    /// Stops the server: sent on drop.
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    /// Stops the server, then (through the `OwnedDir` fields, dropped after this) removes
    /// its directory. The server's tasks may still hold the SQLite file for a moment: it is
    /// removed all the same (an open file stays usable until closed), and a removal that
    /// fails is ignored.
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A directory removed, with everything in it, when this is dropped; errors are ignored.
struct OwnedDir(PathBuf);

impl Drop for OwnedDir {
    fn drop(&mut self) {
        // A file written while the directory is being removed makes the removal fail with
        // "directory not empty"; trying again removes that file too.
        for _ in 0..3 {
            if std::fs::remove_dir_all(&self.0).is_ok() || !self.0.exists() {
                return;
            }
        }
    }
}

/// A deterministic tenant UUID for a test's tenant label.
pub fn tenant_id(label: &str) -> String {
    let digest = Sha256::digest(format!("tenant:{label}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// The URL of a fresh database on `backend`: a new SQLite file in the temp dir, or a new
/// database on the PostgreSQL server of `TEST_DATABASE_URL`. Not migrated yet. (A
/// [`TestApp`] keeps its SQLite file in its own directory instead.)
pub async fn fresh_database_url(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => sqlite_url(
            &std::env::temp_dir().join(format!("onegraph-test-{}.db", uuid::Uuid::new_v4())),
        ),
        Backend::Postgres => postgres_url().await,
    }
}

/// The URL that opens (and creates) the SQLite file at `path`.
fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

async fn postgres_url() -> String {
    // A PostgreSQL variant runs when the build saw TEST_DATABASE_URL (`cfg(pg_tests)`) or
    // when it is run with `--ignored`; either way it needs the variable now.
    let base = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .expect("the PostgreSQL variants need TEST_DATABASE_URL (postgres://…/<database>)");
    let admin = sea_orm::Database::connect(&base).await.unwrap_or_else(|e| {
        panic!("TEST_DATABASE_URL is set but PostgreSQL is not reachable: {e}")
    });
    drop_stale_databases(&admin).await;
    let name = format!(
        "og_test_{}_{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL must end with /<database>");
    format!("{prefix}/{name}")
}

/// Drops the databases of earlier test processes that have ended (named `og_test_<pid>_…`).
async fn drop_stale_databases(admin: &sea_orm::DatabaseConnection) {
    use sea_orm::{ConnectionTrait, Statement};
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let rows = admin
            .query_all_raw(Statement::from_string(
                admin.get_database_backend(),
                "SELECT datname FROM pg_database WHERE datname LIKE 'og_test_%'",
            ))
            .await
            .unwrap_or_default();
        for row in rows {
            let Ok(name) = row.try_get::<String>("", "datname") else {
                continue;
            };
            let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
            let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
            if !alive {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
        }
    })
    .await;
}

impl TestApp {
    /// A server on SQLite with test defaults.
    pub async fn spawn() -> TestApp {
        Self::spawn_on(Backend::Sqlite, &[]).await
    }

    /// A server on SQLite with extra settings.
    pub async fn spawn_with(env: &[(&str, &str)]) -> TestApp {
        Self::spawn_on(Backend::Sqlite, env).await
    }

    /// A server on `backend` with extra settings.
    pub async fn spawn_on(backend: Backend, env: &[(&str, &str)]) -> TestApp {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("TEST_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
            )
            .with_test_writer()
            .try_init();
        let dir = std::env::temp_dir().join(format!("onegraph-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).expect("create the test server's directory");
        let owned_dir = OwnedDir(dir.clone());
        let database_url = match backend {
            Backend::Sqlite => sqlite_url(&dir.join("onegraph.db")),
            Backend::Postgres => postgres_url().await,
        };
        let mail_dir = dir.join("mail").display().to_string();
        let metrics_port = free_port();
        let mut vars: HashMap<String, String> = [
            ("DATABASE_URL", database_url.as_str()),
            ("PORTAL_CLIENT_SSO_SECRET", SECRET),
            ("AUTH_RATE_BURST", "100000"),
            ("AUTH_RATE_PER_MINUTE", "100000"),
            ("DATALOADER_DELAY", "1ms"),
            ("MAIL_DIR", mail_dir.as_str()),
            ("PSA_SERVICE_KEY", PSA_KEY),
            // Tests run `runSync` back to back; the one about its gap sets its own.
            ("RUN_SYNC_MIN_INTERVAL", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        vars.insert("METRICS_ADDR".into(), format!("127.0.0.1:{metrics_port}"));
        for (k, v) in env {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let given_mail_dir = (vars["MAIL_DIR"] != mail_dir)
            .then(|| PathBuf::from(&vars["MAIL_DIR"]))
            .filter(|path| fake::is_mail_dir(path))
            .map(OwnedDir);
        let settings = Settings::from_source(&vars).expect("test settings");
        let stats = Arc::new(db::DbStats::default());
        let conn = db::connect(
            &settings.database_url,
            settings.database_max_connections,
            stats.clone(),
        )
        .await
        .expect("connect");
        db::migrate(&conn).await.expect("migrate");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = app::AppState::new(settings, conn, stats);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        tokio::spawn(async move {
            let _ = app::serve(served, listener, async {
                let _ = rx.await;
            })
            .await;
        });
        let app = TestApp {
            addr,
            base: format!("http://{addr}"),
            metrics: format!("http://127.0.0.1:{metrics_port}/metrics"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            backend,
            database_url,
            state,
            seen_mail: Default::default(),
            dir,
            _dir: owned_dir,
            _given_mail_dir: given_mail_dir,
            shutdown: Some(tx),
        };
        for _ in 0..100 {
            if app
                .client
                .get(format!("{}/healthz", app.base))
                .send()
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        app
    }

    /// `ws://…/graphql`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/graphql", self.addr)
    }

    /// Claims for a fresh staff user of `tenant` with `perms`.
    pub fn claims(&self, tenant: &str, perms: &[&str]) -> sso::MintClaims {
        let now = chrono::Utc::now().timestamp();
        sso::MintClaims {
            iss: ISSUER.into(),
            aud: "visitor".into(),
            sub: format!("hub-{}", uuid::Uuid::new_v4()),
            email: Some("staff@example.com".into()),
            name: Some("Staff Member".into()),
            role: Some("member".into()),
            tenant_id: tenant_id(tenant),
            tenant_name: Some(format!("Tenant {tenant}")),
            permissions: Some(perms.iter().map(|p| (*p).to_owned()).collect()),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + 300,
        }
    }

    /// Signs claims with the test secret.
    pub fn mint(&self, claims: &sso::MintClaims) -> String {
        sso::mint(claims, SECRET).expect("mint")
    }

    /// POST /api/auth/client-hub-sso with `token`: (status, body).
    pub async fn exchange(&self, token: &str) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/api/auth/client-hub-sso", self.base))
            .json(&json!({"token": token}))
            .send()
            .await
            .expect("exchange");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Signs a new staff user of `tenant` in with `perms`; returns the session token.
    pub async fn staff_session(&self, tenant: &str, perms: &[&str]) -> String {
        let token = self.mint(&self.claims(tenant, perms));
        let (status, body) = self.exchange(&token).await;
        assert_eq!(status, 200, "login failed: {body}");
        body["session_token"]
            .as_str()
            .expect("session_token")
            .to_owned()
    }

    /// A session with every Visitor permission.
    pub async fn admin(&self, tenant: &str) -> String {
        self.staff_session(tenant, ALL_VISITOR).await
    }

    /// POST /internal/psa/contacts with PSA's key: (status, body).
    pub async fn psa_contact(&self, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/internal/psa/contacts", self.base))
            .header("X-Integration-Key", PSA_KEY)
            .json(&body)
            .send()
            .await
            .expect("psa contact push");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Provisions client user `email` of `company` in `tenant` (a label) through PSA's
    /// contact push, with `role` (`client_admin` or `client_user`).
    pub async fn provision_client(&self, tenant: &str, company: &str, email: &str, role: &str) {
        let (status, body) = self
            .psa_contact(json!({
                "tenant_id": tenant_id(tenant),
                "contact_id": format!("contact-{email}"),
                "company_id": company,
                "email": email,
                "name": format!("Client {email}"),
                "portal_access": true,
                "role": role,
            }))
            .await;
        assert_eq!(status, 200, "provisioning failed: {body}");
    }

    /// Claims of a `portal` token for `email` of `tenant`, with an optional permissions claim.
    pub fn client_claims(
        &self,
        tenant: &str,
        email: &str,
        perms: Option<&[&str]>,
    ) -> sso::MintClaims {
        let mut claims = self.claims(tenant, &[]);
        claims.aud = "portal".into();
        claims.sub = format!("hub-{email}");
        claims.email = Some(email.to_owned());
        claims.name = Some(format!("Client {email}"));
        claims.permissions = perms.map(|p| p.iter().map(|p| (*p).to_owned()).collect());
        claims
    }

    /// Provisions a client user (role `client_user`, or `client_admin` when `admin`) and
    /// signs it in through Hub SSO; returns the session token.
    pub async fn client_session(
        &self,
        tenant: &str,
        company: &str,
        email: &str,
        admin: bool,
    ) -> String {
        let role = if admin { "client_admin" } else { "client_user" };
        self.provision_client(tenant, company, email, role).await;
        let token = self.mint(&self.client_claims(tenant, email, None));
        let (status, body) = self.exchange(&token).await;
        assert_eq!(status, 200, "client login failed: {body}");
        body["session_token"]
            .as_str()
            .expect("session_token")
            .to_owned()
    }

    /// POST /graphql; returns the JSON body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("graphql request");
        response.json().await.expect("graphql json")
    }

    /// Runs `query` and returns `data`, panicking on any error.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = self.gql(Some(token), query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Creates a location and returns its id.
    pub async fn create_location(&self, token: &str, name: &str) -> String {
        let data = self
            .ok(
                token,
                "mutation($n: String!){ createLocation(input:{name:$n, timezone:\"Europe/London\"}){ id } }",
                json!({"n": name}),
            )
            .await;
        data["createLocation"]["id"]
            .as_str()
            .expect("location id")
            .to_owned()
    }

    /// Checks a visitor in at `location` (staff token with checkin) and returns the visit id.
    pub async fn check_in(&self, token: &str, location: &str, name: &str) -> String {
        let data = self
            .ok(
                token,
                "mutation($l: ID!, $n: String!){ checkInVisitor(input:{locationId:$l, visitor:{name:$n}}){ id } }",
                json!({"l": location, "n": name}),
            )
            .await;
        data["checkInVisitor"]["id"]
            .as_str()
            .expect("visit id")
            .to_owned()
    }

    /// SQL statements executed so far, from `/metrics`.
    pub async fn statements(&self) -> u64 {
        let text = self
            .client
            .get(&self.metrics)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .find_map(|l| l.strip_prefix("onegraph_db_statements_total "))
            .and_then(|v| v.trim().parse().ok())
            .expect("statement counter")
    }
}

/// An e-mail in the outbox (kind `mail`), as [`TestApp::queued_mails`] reads it: its
/// metadata only. The body, with its links, is not kept once the row is delivered; read it
/// from the delivered `.eml` file with [`TestApp::next_mail`].
#[derive(Debug, Clone)]
pub struct QueuedMail {
    /// `mail.invitation`, `mail.password_reset`, …
    pub event_type: String,
    pub tenant_id: Option<String>,
    pub to: String,
    pub subject: String,
    /// Whether the dispatcher has delivered it.
    pub delivered: bool,
}

/// How long [`TestApp::next_mail`] waits.
pub const MAIL_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

impl TestApp {
    /// The e-mails in the outbox (delivered or not), oldest first, read straight from the
    /// database: the outbox is not visible through the public surface.
    pub async fn queued_mails(&self) -> Vec<QueuedMail> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        let db = sea_orm::Database::connect(&self.database_url)
            .await
            .expect("connect to the test database");
        let rows = entities::outbox::Entity::find()
            .filter(entities::outbox::Column::Kind.eq("mail"))
            .order_by_asc(entities::outbox::Column::CreatedAt)
            .order_by_asc(entities::outbox::Column::Id)
            .all(&db)
            .await
            .expect("outbox rows");
        let _ = db.close().await;
        rows.into_iter()
            .map(|row| {
                let payload: Value = serde_json::from_str(&row.payload).expect("mail payload");
                QueuedMail {
                    event_type: row.event_type,
                    tenant_id: row.tenant_id,
                    to: payload["to"].as_str().expect("to").to_owned(),
                    subject: payload["subject"].as_str().expect("subject").to_owned(),
                    delivered: row.delivered_at.is_some(),
                }
            })
            .collect()
    }

    /// The server's `MAIL_DIR`, where the file transport writes `.eml` files.
    pub fn mail_dir(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(&self.state.settings.mail_dir)
    }

    /// Mail rows the dispatcher has neither delivered nor given up on.
    async fn undelivered_mails(&self) -> u64 {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        entities::outbox::Entity::find()
            .filter(entities::outbox::Column::Kind.eq("mail"))
            .filter(entities::outbox::Column::DeliveredAt.is_null())
            .filter(entities::outbox::Column::Dead.eq(false))
            .count(&self.state.db)
            .await
            .expect("outbox count")
    }

    /// The `.eml` files in [`TestApp::mail_dir`] that [`TestApp::next_mail`] has not
    /// returned yet, oldest first (by modification time, then name).
    pub fn unseen_mail_files(&self) -> Vec<std::path::PathBuf> {
        let seen = self.seen_mail.lock().unwrap();
        let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> =
            std::fs::read_dir(self.mail_dir())
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                        .filter(|p| !seen.contains(p))
                        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
                        .collect()
                })
                .unwrap_or_default();
        files.sort();
        files.into_iter().map(|(_, p)| p).collect()
    }

    /// Waits (at most [`MAIL_WAIT`]) for the next delivered `.eml` file to `to` that no
    /// earlier call returned, and returns its text with the body decoded (quoted-printable
    /// or base64, as the `lettre` file transport writes it), so links can be searched for.
    pub async fn next_mail(&self, to: &str) -> String {
        let deadline = std::time::Instant::now() + MAIL_WAIT;
        loop {
            let files = self.unseen_mail_files();
            // A file listed now is complete once its row is recorded as delivered: the
            // dispatcher records that only after the transport has written it.
            if !files.is_empty() && self.undelivered_mails().await == 0 {
                for path in files {
                    let raw = std::fs::read_to_string(&path).expect("read .eml");
                    let text = decode_eml(&raw);
                    if addressed_to(&text, to) {
                        self.seen_mail.lock().unwrap().insert(path);
                        return text;
                    }
                }
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for a mail to {to} in {}; unseen: {:?}",
                    self.mail_dir().display(),
                    self.unseen_mail_files()
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Lets background work (a password-reset request) finish and the dispatcher poll at
    /// least twice, before asserting that nothing was sent.
    pub async fn settle(&self) {
        let poll = self.state.settings.outbox_poll_interval;
        tokio::time::sleep(poll * 2 + std::time::Duration::from_millis(300)).await;
    }
}

/// Whether a mail's headers name `to` as its recipient.
fn addressed_to(text: &str, to: &str) -> bool {
    let headers = text.split("\r\n\r\n").next().unwrap_or_default();
    headers.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("to")
                && (value.trim().eq_ignore_ascii_case(to)
                    || value
                        .to_lowercase()
                        .contains(&format!("<{}>", to.to_lowercase())))
        })
    })
}

/// An `.eml` message with its body decoded per its `Content-Transfer-Encoding`: quoted-printable
/// soft line breaks (`=\r\n`) removed and `=XX` escapes (`=3D`) decoded, or base64 decoded;
/// 7bit and 8bit bodies as they are. The headers stay as written.
pub fn decode_eml(raw: &str) -> String {
    let Some((headers, body)) = raw.split_once("\r\n\r\n") else {
        return raw.to_owned();
    };
    let encoding = headers
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-transfer-encoding")
                .then(|| value.trim().to_ascii_lowercase())
        })
        .unwrap_or_default();
    let body = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => {
            use base64::Engine;
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("base64 mail body");
            String::from_utf8(bytes).expect("UTF-8 mail body")
        }
        _ => body.to_owned(),
    };
    format!("{headers}\r\n\r\n{body}")
}

/// Decodes a quoted-printable text (RFC 2045 section 6.7).
pub fn decode_quoted_printable(text: &str) -> String {
    let text = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 mail body")
}

/// Every Visitor permission.
pub const ALL_VISITOR: &[&str] = &[
    "visitor.visitors.view",
    "visitor.visitors.checkin",
    "visitor.visitors.checkout",
    "visitor.preregister.manage",
    "visitor.hosts.view",
    "visitor.hosts.manage",
    "visitor.badges.manage",
    "visitor.reports.view",
    "visitor.reports.export",
    "visitor.locations.manage",
    "visitor.admin.settings",
    "visitor.admin.kiosk",
];

/// The first error's `extensions.code`.
pub fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// Runs a test body on SQLite and on PostgreSQL: generates a module `$name` with the tests
/// `sqlite` and `postgres`, each on a fresh database of its backend. The only macro that
/// makes per-backend tests.
///
/// ```ignore
/// on_every_backend!(name, |app| { ... });
/// // Extra settings, as for `TestApp::spawn_with`:
/// on_every_backend!(name, env = [("WS_INIT_TIMEOUT", "300ms")], |app| { ... });
/// // A body that uses `?`: the tests return this `Result<(), _>`.
/// on_every_backend!(name, |app| -> TestResult { ...; Ok(()) });
/// // Only the `Backend`, for a body that starts fakes before its server (whose settings
/// // name the fakes' URLs):
/// on_every_backend!(name, |backend: Backend| { ... });
/// // A fake PSA started first and the server pointed at it (`PSA_API_URL`):
/// on_every_backend!(name, env = [...], |app, psa: FakePsa| { ... });
/// ```
///
/// The `postgres` test is compiled as ignored ("TEST_DATABASE_URL is not set") unless the
/// build had `TEST_DATABASE_URL` set and non-empty: `build.rs` then sets `cfg(pg_tests)`
/// (and Cargo rebuilds when the variable changes). So without it libtest reports the
/// PostgreSQL variants as ignored, not passed; with it set and PostgreSQL unreachable they
/// fail.
#[macro_export]
macro_rules! on_every_backend {
    ($name:ident, |$backend:ident : Backend| $body:block) => {
        $crate::on_every_backend!(@tests $name, $backend, [], $body);
    };
    ($name:ident, $(env = [$($env:expr),* $(,)?],)? |$app:ident, $psa:ident : FakePsa| $body:block) => {
        $crate::on_every_backend!(@tests $name, backend, [], {
            let $psa = $crate::support::psa::FakePsa::start().await;
            let psa_url = $psa.base.clone();
            let env: Vec<(&str, &str)> =
                vec![$($($env,)*)? ("PSA_API_URL", psa_url.as_str())];
            let $app = $crate::support::TestApp::spawn_on(backend, &env).await;
            $body
        });
    };
    ($name:ident, $(env = [$($env:expr),* $(,)?],)? |$app:ident| -> $ret:ty $body:block) => {
        $crate::on_every_backend!(@tests $name, backend, [-> $ret], {
            let $app = $crate::support::TestApp::spawn_on(backend, &[$($($env),*)?]).await;
            $body
        });
    };
    ($name:ident, $(env = [$($env:expr),* $(,)?],)? |$app:ident| $body:block) => {
        $crate::on_every_backend!(@tests $name, backend, [], {
            let $app = $crate::support::TestApp::spawn_on(backend, &[$($($env),*)?]).await;
            $body
        });
    };
    (@tests $name:ident, $backend:ident, [$($ret:tt)*], $body:block) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() $($ret)* {
                let $backend = $crate::support::Backend::Sqlite;
                $body
            }
            #[tokio::test]
            #[cfg_attr(not(pg_tests), ignore = "TEST_DATABASE_URL is not set")]
            async fn postgres() $($ret)* {
                let $backend = $crate::support::Backend::Postgres;
                $body
            }
        }
    };
}

/// GraphiQL's introspection query (graphql-js `getIntrospectionQuery` with descriptions,
/// `specifiedByURL`, `isRepeatable` and input value deprecation).
pub const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives {
      name
      description
      isRepeatable
      locations
      args(includeDeprecated: true) { ...InputValue }
    }
  }
}

fragment FullType on __Type {
  kind
  name
  description
  specifiedByURL
  fields(includeDeprecated: true) {
    name
    description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) {
    name
    description
    isDeprecated
    deprecationReason
  }
  possibleTypes { ...TypeRef }
}

fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
  isDeprecated
  deprecationReason
}

fragment TypeRef on __Type {
  kind
  name
  ofType {
    kind
    name
    ofType {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
                ofType {
                  kind
                  name
                }
              }
            }
          }
        }
      }
    }
  }
}
"#;
