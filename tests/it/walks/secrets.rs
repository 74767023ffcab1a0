//! Secrets never reach the log. The real `onegraph serve` binary runs as a child process with
//! every secret setting given a recognizable random value (one through `<NAME>_FILE`) and
//! `RUST_LOG=trace`, its whole standard output and error captured, while a scenario uses
//! every secret and issues every kind of token: Hub sign-on for staff and clients, staff
//! queries and mutations, pre-registration and kiosk pairing codes, a kiosk token, a
//! WebSocket subscription authenticated in `connection_init`, PSA's contact push and the
//! ticket sync against the fake PSA, the invoice sync from the fake Books, Mission read and
//! written live through the fake Mission, Legal's push and the signed webhook back, Bus
//! events, invitation and password-reset links, passwords, and
//! the failure paths: upstreams answering 500 or malformed bodies, replayed, forged and
//! expired sign-on tokens, revoked and unknown tokens, wrong integration keys. Then the log
//! is searched for each secret, each token and each credential presented. Two start-up
//! failures (a `REDIS_URL` with a password, an unreachable database) are searched the same
//! way.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use onegraph::auth::sso;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use crate::support::{
    self, ALL_VISITOR, Backend, ISSUER, PSA_KEY, books, fake::FakeServer, psa::FakePsa, tenant_id,
};

const TENANT: &str = "secrets";
const COMPANY: &str = "co-secrets";
const CLIENT: &str = "client@secrets.example.com";
const INVITEE: &str = "invitee@secrets.example.com";
const WAIT: Duration = Duration::from_secs(20);

/// A recognizable random value for `label`.
fn random(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::new_v4().simple())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// What must never be in the log: (what it is, its value).
#[derive(Default)]
struct Watch(Vec<(String, String)>);

impl Watch {
    /// `value`, as written and hex-encoded (as a dump of the bytes received shows it).
    fn add(&mut self, what: impl Into<String>, value: impl Into<String>) {
        let (what, value) = (what.into(), value.into());
        assert!(value.len() >= 8, "{what}: too short to search for");
        self.0.push((format!("{what} (hex)"), hex::encode(&value)));
        self.0.push((what, value));
    }

    /// Also the random part of a [`random`] value and its halves, so a value cut short is
    /// found too.
    fn add_secret(&mut self, what: &str, value: &str) {
        self.add(what, value);
        if let Some((_, hex)) = value.rsplit_once('-')
            && hex.len() == 32
        {
            self.add(format!("{what} (random part)"), hex);
            let (a, b) = hex.split_at(hex.len() / 2);
            self.add(format!("{what} (first half)"), a);
            self.add(format!("{what} (second half)"), b);
        }
    }

    /// A bearer token, and its random part without the prefix; a JWT and its signature.
    fn add_token(&mut self, what: &str, value: &str) {
        self.add(what, value);
        if let Some((_, rest)) = value.split_once('_')
            && rest.len() >= 16
        {
            self.add(format!("{what} (without its prefix)"), rest);
        }
        if value.matches('.').count() == 2
            && let Some(signature) = value.rsplit('.').next()
        {
            self.add(format!("{what} (signature)"), signature);
        }
    }

    /// The entries found in `text`.
    fn found_in(&self, text: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, value)| text.contains(value.as_str()))
            .map(|(what, value)| format!("{what} ({value})"))
            .collect()
    }
}

/// The child process and its captured output.
struct Server {
    child: Child,
    base: String,
    metrics: String,
    out: PathBuf,
    err: PathBuf,
}

impl Server {
    /// Starts `onegraph serve` with exactly `env` (plus `PATH`), its output going to files in
    /// `dir`.
    fn start(env: &[(String, String)], dir: &Path, name: &str) -> Server {
        let out = dir.join(format!("{name}.stdout"));
        let err = dir.join(format!("{name}.stderr"));
        let child = Command::new(env!("CARGO_BIN_EXE_onegraph"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .expect("start onegraph serve");
        let setting = |name: &str| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Server {
            child,
            base: format!("http://{}", setting("BIND_ADDR")),
            metrics: format!("http://{}/metrics", setting("METRICS_ADDR")),
            out,
            err,
        }
    }

    /// Everything it wrote so far.
    fn output(&self) -> String {
        let read =
            |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        format!("{}\n{}", read(&self.out), read(&self.err))
    }

    /// Waits for `/healthz`; panics with the output when the process ends first.
    async fn ready(&mut self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("onegraph serve exited with {status}:\n{}", self.output());
            }
            if let Ok(r) = client.get(format!("{}/healthz", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "not ready:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the process to end by itself (a start-up failure).
    async fn exited(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asks it to shut down (SIGTERM, as an orchestrator does) and waits; kills it after
    /// 15 seconds.
    async fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A client of the child server that keeps every answer, so that they too can be searched.
struct Api {
    client: reqwest::Client,
    base: String,
    answers: std::sync::Mutex<Vec<String>>,
}

impl Api {
    fn keep(&self, text: &str) {
        self.answers.lock().unwrap().push(text.to_owned());
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
        let mut request = self.client.post(format!("{}{path}", self.base)).json(body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        self.keep(&text);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let (status, body) = self
            .post(
                "/graphql",
                &headers,
                &json!({"query": query, "variables": variables}),
            )
            .await;
        assert!(status < 500, "HTTP {status}: {body}");
        for error in body["errors"].as_array().into_iter().flatten() {
            assert_ne!(error["extensions"]["code"], "INTERNAL", "{query}: {body}");
        }
        body
    }

    async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = self.gql(Some(token), query, variables).await;
        assert!(body["errors"].is_null(), "{query}: {body}");
        body["data"].clone()
    }

    async fn sso(&self, token: &str) -> (u16, Value) {
        self.post("/api/auth/client-hub-sso", &[], &json!({"token": token}))
            .await
    }
}

fn claims(audience: &str, email: &str, perms: Option<&[&str]>) -> sso::MintClaims {
    let now = chrono::Utc::now().timestamp();
    sso::MintClaims {
        iss: ISSUER.into(),
        aud: audience.into(),
        sub: format!("hub-{email}"),
        email: Some(email.into()),
        name: Some("Secret Keeper".into()),
        role: Some("member".into()),
        tenant_id: tenant_id(TENANT),
        tenant_name: Some("Secrets Inc".into()),
        permissions: perms.map(|p| p.iter().map(|s| (*s).to_owned()).collect()),
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now,
        exp: now + 300,
    }
}

/// The mails queued in the outbox and not yet delivered (SES is unreachable, so none is),
/// oldest first, with their bodies: (to, text).
async fn queued_mails(database_url: &str) -> Vec<(String, String)> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let db = sea_orm::Database::connect(database_url)
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
        .filter_map(|row| {
            let payload: Value = serde_json::from_str(&row.payload).ok()?;
            Some((
                payload["to"].as_str()?.to_owned(),
                payload["text"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The token of the newest link to `to` whose URL contains `path`.
async fn link_token(database_url: &str, to: &str, path: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = queued_mails(database_url)
            .await
            .into_iter()
            .filter(|(recipient, _)| recipient == to)
            .filter_map(|(_, text)| {
                let (_, rest) = text.split_once(&format!("{path}?token="))?;
                rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .next()
                    .map(str::to_owned)
            })
            .next_back();
        if let Some(token) = found {
            return token;
        }
        assert!(
            Instant::now() < deadline,
            "no {path} link to {to} in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `graphql-transport-ws` connection that sent `connection_init` with `token`; the first
/// answer (`connection_ack`, or the close code).
async fn ws_init(base: &str, token: &str) -> (Ws, Result<Value, Option<u16>>) {
    let url = format!("{}/graphql", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("ws request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect");
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    ws.send(Message::text(init.to_string()))
        .await
        .expect("init");
    let first = ws_next(&mut ws).await;
    (ws, first)
}

async fn ws_next(ws: &mut Ws) -> Result<Value, Option<u16>> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                return Ok(serde_json::from_str(text.as_str()).unwrap_or(Value::Null));
            }
            Ok(Some(Ok(Message::Close(frame)))) => return Err(frame.map(|f| u16::from(f.code))),
            Ok(Some(Ok(_))) => {}
            _ => return Err(None),
        }
    }
}

on_every_backend!(no_secret_or_token_reaches_the_log, |backend: Backend| {
    let dir = std::env::temp_dir().join(format!("onegraph-secrets-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).unwrap();
    let mut watch = Watch::default();

    // Every secret setting, with a recognizable random value (the fake PSA accepts only
    // its own key, which is as recognizable).
    let secrets: Vec<(&str, String)> = vec![
        ("PORTAL_CLIENT_SSO_SECRET", random("sso-secret")),
        ("INTEGRATION_KEY", random("integration-key")),
        ("PORTAL_INTEGRATION_KEY", random("portal-integration-key")),
        ("PSA_SERVICE_KEY", PSA_KEY.to_owned()),
        ("BOOKS_SERVICE_KEY", random("books-key")),
        ("MISSION_SERVICE_KEY", random("mission-key")),
        ("LEGAL_WEBHOOK_SECRET", random("legal-webhook-secret")),
        ("BUS_INTEGRATION_KEY", random("bus-integration-key")),
        ("BUS_SDK_KEY", random("bus-sdk-key")),
        ("SES_SMTP_USERNAME", random("ses-user")),
        ("SES_SMTP_PASSWORD", random("ses-password")),
    ];
    let secret = |name: &str| secrets.iter().find(|(k, _)| *k == name).unwrap().1.clone();
    for (name, value) in &secrets {
        watch.add_secret(name, value);
    }
    let mut database_url = support::fresh_database_url(backend).await;
    if backend == Backend::Postgres {
        // The test server trusts local connections, so the password is sent and unused.
        let password = random("db-password");
        database_url = database_url.replacen(
            "postgres://postgres@",
            &format!("postgres://postgres:{password}@"),
            1,
        );
        assert!(database_url.contains(&password), "{database_url}");
        watch.add_secret("the DATABASE_URL password", &password);
    }

    let psa = FakePsa::start().await;
    let (_, books_url) = books::start();
    let fake_mission = support::mission::FakeMission::start();
    let fake_books = books::FakeBooks::at(books_url);
    let legal = support::legal::start().await;
    let bus = support::bus::start().await;
    let hub = FakeServer::start("/api/usage").await;
    let port = free_port();
    let ses_password_file = dir.join("ses-password");
    std::fs::write(
        &ses_password_file,
        format!("{}\n", secret("SES_SMTP_PASSWORD")),
    )
    .unwrap();
    let mut env: Vec<(String, String)> = secrets
        .iter()
        .filter(|(k, _)| *k != "SES_SMTP_PASSWORD")
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    env.extend(
        [
            (
                "SES_SMTP_PASSWORD_FILE",
                ses_password_file.display().to_string(),
            ),
            ("DATABASE_URL", database_url.clone()),
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
            ("METRICS_ADDR", format!("127.0.0.1:{}", free_port())),
            ("RUST_LOG", "trace".to_owned()),
            ("PSA_API_URL", psa.base.clone()),
            ("BOOKS_API_URL", books_url.to_owned()),
            ("MISSION_API_URL", fake_mission.base.clone()),
            ("LEGAL_WEBHOOK_URL", legal.url()),
            ("BUS_API_URL", bus.base.clone()),
            ("HUB_API_URL", hub.base.clone()),
            (
                "SES_FROM_ADDRESS",
                "onegraph@secrets.example.com".to_owned(),
            ),
            // No such region: the SMTP connection fails at the name lookup, so the
            // credentials go nowhere and the mail stays queued.
            ("SES_REGION", "onegraph-test-nowhere".to_owned()),
            ("MAIL_DIR", dir.join("mail").display().to_string()),
            ("TICKET_SYNC_INTERVAL", "300ms".to_owned()),
            ("TICKET_SYNC_BACKOFF", "100ms".to_owned()),
            ("INVOICE_SYNC_INTERVAL", "300ms".to_owned()),
            ("OUTBOX_POLL_INTERVAL", "100ms".to_owned()),
            ("OUTBOX_RETRY_BASE", "100ms".to_owned()),
            ("UPSTREAM_TIMEOUT", "1s".to_owned()),
            ("AUTH_RATE_BURST", "1000".to_owned()),
            ("AUTH_RATE_PER_MINUTE", "1000".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let mut server = Server::start(&env, &dir, "serve");
    onegraph::upstream::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    server.ready(&http).await;
    let api = Api {
        client: http.clone(),
        base: server.base.clone(),
        answers: Default::default(),
    };
    let sso_secret = secret("PORTAL_CLIENT_SSO_SECRET");

    // Staff sign-on: the REST exchange and the mutation.
    let jwt = sso::mint(
        &claims("visitor", "staff@secrets.example.com", Some(ALL_VISITOR)),
        &sso_secret,
    )
    .unwrap();
    watch.add_token("a staff SSO token", &jwt);
    let (status, body) = api.sso(&jwt).await;
    assert_eq!(status, 200, "{body}");
    let staff = body["session_token"].as_str().unwrap().to_owned();
    watch.add_token("a staff session token", &staff);
    let jwt2 = sso::mint(
        &claims("visitor", "staff2@secrets.example.com", Some(ALL_VISITOR)),
        &sso_secret,
    )
    .unwrap();
    watch.add_token("a second staff SSO token", &jwt2);
    let data = api
        .ok(
            &staff,
            "mutation($t: String!){ loginWithHubSso(token: $t){ token } }",
            json!({"t": jwt2}),
        )
        .await;
    let staff2 = data["loginWithHubSso"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    watch.add_token("a session token from loginWithHubSso", &staff2);
    // Refused sign-ons: replayed, forged, expired, garbage.
    let (status, _) = api.sso(&jwt).await;
    assert_eq!(status, 401);
    let forged = sso::mint(
        &claims("visitor", "forger@secrets.example.com", Some(ALL_VISITOR)),
        &random("forged-secret-0123456789abcdef"),
    )
    .unwrap();
    watch.add_token("a forged SSO token", &forged);
    let mut old = claims("visitor", "late@secrets.example.com", Some(ALL_VISITOR));
    old.iat -= 3600;
    old.exp -= 3600;
    let expired = sso::mint(&old, &sso_secret).unwrap();
    watch.add_token("an expired SSO token", &expired);
    let garbage = random("garbage-sso");
    watch.add("a garbage SSO token", garbage.clone());
    for token in [&forged, &expired, &garbage] {
        let (status, body) = api.sso(token).await;
        assert!((400..500).contains(&status), "{status} {body}");
    }

    // Visitor: locations, hosts, badges, check-ins, pre-registration codes, kiosks.
    let location = api
        .ok(
            &staff,
            "mutation{ createLocation(input:{name:\"Vault\", timezone:\"Europe/London\"}){ id } }",
            json!({}),
        )
        .await["createLocation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let l = json!({"l": location});
    api.ok(&staff, "mutation($l: ID){ createHost(input:{name:\"Keeper\", email:\"keeper@secrets.example.com\", locationId:$l}){ id } }", l.clone()).await;
    let badge = api
        .ok(
            &staff,
            "mutation($l: ID!){ addBadge(locationId:$l, number:\"S-1\"){ id } }",
            l.clone(),
        )
        .await["addBadge"]["id"]
        .clone();

    // A live subscription, authenticated in connection_init.
    let (mut ws, ack) = ws_init(&server.base, &staff).await;
    assert_eq!(ack.map(|m| m["type"].clone()), Ok(json!("connection_ack")));
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { visitorCheckedIn { id visitor { name } } }"}});
    ws.send(Message::text(subscribe.to_string())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let visit = api
        .ok(&staff, "mutation($l: ID!){ checkInVisitor(input:{locationId:$l, visitor:{name:\"Ada\", email:\"ada@secrets.example.com\"}, purpose:\"Audit\"}){ id } }", l.clone())
        .await["checkInVisitor"]["id"]
        .clone();
    let event = ws_next(&mut ws).await.expect("a check-in event");
    assert_eq!(
        event["payload"]["data"]["visitorCheckedIn"]["id"], visit,
        "{event}"
    );
    let _ = ws.close(None).await;
    api.ok(
        &staff,
        "mutation($b: ID!, $v: ID!){ assignBadge(badgeId:$b, visitId:$v){ id } }",
        json!({"b": badge, "v": visit}),
    )
    .await;
    let expected = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let pre = api
        .ok(&staff, "mutation($l: ID!, $t: DateTime!){ preRegisterVisitor(input:{locationId:$l, visitor:{name:\"Bob\"}, expectedAt:$t}){ code } }", json!({"l": location, "t": expected}))
        .await;
    let code = pre["preRegisterVisitor"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    watch.add("a pre-registration code", code.clone());
    api.ok(&staff, "mutation($l: ID!, $c: String){ checkInVisitor(input:{locationId:$l, preRegistrationCode:$c}){ id } }", json!({"l": location, "c": code})).await;
    let pairing = api
        .ok(
            &staff,
            "mutation($l: ID!){ createKioskPairingCode(locationId:$l){ code } }",
            l.clone(),
        )
        .await["createKioskPairingCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    watch.add("a kiosk pairing code", pairing.clone());
    let paired = api
        .ok(
            &staff,
            "mutation($c: String!){ pairKiosk(code:$c, name:\"Lobby\"){ token kiosk{ id } } }",
            json!({"c": pairing}),
        )
        .await;
    let kiosk = paired["pairKiosk"]["token"].as_str().unwrap().to_owned();
    watch.add_token("a kiosk token", &kiosk);
    api.ok(
        &kiosk,
        "mutation($l: ID!){ checkInVisitor(input:{locationId:$l, visitor:{name:\"Cleo\"}}){ id } }",
        l.clone(),
    )
    .await;
    api.ok(
        &staff,
        "mutation($k: ID!){ revokeKiosk(id:$k){ revoked } }",
        json!({"k": paired["pairKiosk"]["kiosk"]["id"]}),
    )
    .await;
    let refused = api
        .gql(Some(&kiosk), "{ locations { id } }", json!({}))
        .await;
    assert_eq!(
        support::code(&refused),
        Some("UNAUTHENTICATED"),
        "{refused}"
    );
    let (_, closed) = ws_init(&server.base, &kiosk).await;
    assert_eq!(closed.err(), Some(Some(4403)));
    api.ok(&staff, "{ visits(first: 5){ totalCount nodes { visitor { name email } } } auditLog(first: 5){ nodes { action } } }", json!({})).await;
    let csv = http
        .get(format!("{}/api/reports/visits.csv", server.base))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);

    // Bus events carry the SDK key; a failing Bus is retried.
    let bus_key = secret("BUS_SDK_KEY");
    bus.wait_until("a Bus event", WAIT, |r| !r.is_empty()).await;
    assert_eq!(
        bus.received()[0].header("authorization"),
        Some(format!("Bearer {bus_key}").as_str())
    );
    bus.set_mode(support::fake::Mode::Status(500));
    api.ok(
        &staff,
        "mutation($l: ID!){ checkInVisitor(input:{locationId:$l, visitor:{name:\"Dora\"}}){ id } }",
        l.clone(),
    )
    .await;
    bus.wait_until("a refused Bus event", WAIT, |r| {
        r.iter().any(|r| r.status == 500)
    })
    .await;
    bus.set_mode(support::fake::Mode::Ok);

    // Portal: PSA provisions the client, who signs on through Hub.
    let psa_key = [("X-Integration-Key", PSA_KEY)];
    let contact = |email: &str, role: &str| {
        json!({
            "tenant_id": tenant_id(TENANT), "contact_id": format!("c-{email}"), "company_id": COMPANY,
            "email": email, "name": "Client Admin", "portal_access": true, "role": role,
            "mission_member_id": "secrets-member",
        })
    };
    let (status, body) = api
        .post(
            "/internal/psa/contacts",
            &psa_key,
            &contact(CLIENT, "client_admin"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let wrong = random("wrong-psa-key");
    watch.add("a wrong integration key", wrong.clone());
    let (status, _) = api
        .post(
            "/internal/psa/contacts",
            &[("X-Integration-Key", wrong.as_str())],
            &contact(CLIENT, "client_admin"),
        )
        .await;
    assert_eq!(status, 401);
    let client_jwt = sso::mint(&claims("portal", CLIENT, None), &sso_secret).unwrap();
    watch.add_token("a client SSO token", &client_jwt);
    let (status, body) = api.sso(&client_jwt).await;
    assert_eq!(status, 200, "{body}");
    let client = body["session_token"].as_str().unwrap().to_owned();
    watch.add_token("a client session token", &client);

    // Tickets reach the fake PSA with its key; PSA's changes come back; PSA failing.
    let ticket = api
        .ok(&client, "mutation{ createTicket(input:{subject:\"Locked out\", description:\"Badge S-1\"}){ id } }", json!({}))
        .await["createTicket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.ok(
        &client,
        "mutation($t: ID!){ addTicketComment(ticketId:$t, body:\"Still locked\"){ id } }",
        json!({"t": ticket}),
    )
    .await;
    api.gql(
        Some(&staff),
        "mutation{ runSync(job: TICKETS){ ok summary } }",
        json!({}),
    )
    .await;
    wait_for("the ticket in PSA", async || {
        !psa.created("/api/tickets").is_empty()
    })
    .await;
    let created = psa.created("/api/tickets");
    assert_eq!(
        created[0].authorization.as_deref(),
        Some(format!("Bearer {PSA_KEY}").as_str())
    );
    let mut psa_id = Value::Null;
    wait_for("PSA's ticket id", async || {
        psa_id = api
            .ok(
                &client,
                "query($t: ID!){ ticket(id:$t){ psaTicketId } }",
                json!({"t": ticket}),
            )
            .await["ticket"]["psaTicketId"]
            .clone();
        psa_id.is_string()
    })
    .await;
    psa.push_change(json!({"id": psa_id, "external_ref": ticket, "status": "in_progress", "comments": [], "updated_at": chrono::Utc::now().to_rfc3339()}));
    wait_for("PSA's status change", async || {
        api.ok(
            &client,
            "query($t: ID!){ ticket(id:$t){ status } }",
            json!({"t": ticket}),
        )
        .await["ticket"]["status"]
            == "IN_PROGRESS"
    })
    .await;
    for mode in [support::psa::Mode::Error500, support::psa::Mode::Malformed] {
        psa.set_mode(mode);
        let seen = psa.requests().len();
        api.ok(&client, "mutation{ createTicket(input:{subject:\"Again\", description:\"PSA is down\"}){ id } }", json!({})).await;
        wait_for("PSA to be called while failing", async || {
            psa.requests().len() > seen + 1
        })
        .await;
    }
    psa.set_mode(support::psa::Mode::Ok);

    // Invoices from the fake Books, with its key; Books failing.
    fake_books.put(json!({
        "id": "inv-1", "tenant_id": tenant_id(TENANT), "company_id": COMPANY, "number": "N-1",
        "status": "open", "currency": "EUR", "total": "100.00", "balance": "100.00",
        "issued_at": "2026-11-01T08:00:00Z", "due_at": "2026-12-01T08:00:00Z",
        "pdf_url": "https://books.example.com/pdf/inv-1", "updated_at": chrono::Utc::now().to_rfc3339(),
    }));
    wait_for("the invoice from Books", async || {
        api.ok(&client, "{ invoices { totalCount } }", json!({}))
            .await["invoices"]["totalCount"]
            == 1
    })
    .await;
    let books_key = secret("BOOKS_SERVICE_KEY");
    assert!(
        fake_books
            .take_requests()
            .iter()
            .all(|s| s.authorization.as_deref() == Some(format!("Bearer {books_key}").as_str()))
    );
    for mode in [books::Mode::Fail500, books::Mode::Malformed] {
        fake_books.set_mode(mode);
        fake_books.take_requests();
        wait_for("Books to be called while failing", async || {
            !fake_books.take_requests().is_empty()
        })
        .await;
    }
    fake_books.set_mode(books::Mode::Normal);

    // Mission, live, with its key and the member's headers; Mission failing, answering
    // garbage: its answers' bodies reach neither the log nor the client.
    watch.add("Mission's failing answer", support::mission::SECRET);
    api.ok(
        &client,
        "{ mission { events { id } groups { name } directory(search: \"ann\") { name } } }",
        json!({}),
    )
    .await;
    api.ok(
        &client,
        "mutation{ submitPrayerRequest(body: \"For the team\"){ id } }",
        json!({}),
    )
    .await;
    let mission_key = secret("MISSION_SERVICE_KEY");
    let calls = fake_mission.seen();
    assert_eq!(calls.len(), 4, "{calls:#?}");
    assert!(calls.iter().all(|c| {
        c.header("authorization") == Some(format!("Bearer {mission_key}").as_str())
            && c.header("x-member-id") == Some("secrets-member")
    }));
    for mode in [
        support::mission::Mode::Fail500,
        support::mission::Mode::Garbage,
        support::mission::Mode::WrongShape,
    ] {
        fake_mission.set_mode(mode);
        let body = api
            .gql(Some(&client), "{ mission { events { id } } }", json!({}))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UPSTREAM_UNAVAILABLE",
            "{body}"
        );
        assert!(
            !body.to_string().contains(support::mission::SECRET),
            "{body}"
        );
    }
    fake_mission.set_mode(support::mission::Mode::Normal);

    // Legal pushes a policy with its key; the signature goes back signed with the secret;
    // a failing Legal is retried.
    let portal_key = secret("PORTAL_INTEGRATION_KEY");
    let webhook_secret = secret("LEGAL_WEBHOOK_SECRET");
    for (n, legal_mode) in [support::fake::Mode::Ok, support::fake::Mode::Status(500)]
        .into_iter()
        .enumerate()
    {
        legal.set_mode(legal_mode);
        let (status, body) = api
            .post(
                "/internal/signing/push",
                &[("X-Integration-Key", portal_key.as_str())],
                &json!({
                    "tenant_id": tenant_id(TENANT), "policy_id": format!("nda-{n}"), "version": 1,
                    "title": "NDA", "document_url": "https://legal.example.com/nda.pdf",
                    "content_sha256": "0".repeat(64), "company_ids": [COMPANY], "due_at": null,
                }),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        let requests = api
            .ok(
                &client,
                "{ signingRequests(status: PENDING) { id } }",
                json!({}),
            )
            .await;
        let id = requests["signingRequests"][0]["id"].clone();
        api.ok(&client, "mutation($r: ID!){ signDocument(signingRequestId:$r, signatureName:\"Client Admin\"){ id } }", json!({"r": id})).await;
        let received = legal
            .wait_until("Legal's webhook", WAIT, |r| r.len() > n)
            .await;
        if n == 0 {
            support::legal::verify(&received[0], &webhook_secret).expect("a valid X-Signature");
        }
    }
    legal.set_mode(support::fake::Mode::Ok);
    let (status, _) = api
        .post(
            "/internal/signing/push",
            &[("X-Integration-Key", wrong.as_str())],
            &json!({}),
        )
        .await;
    assert_eq!(status, 401);

    // Passwords: an invitation and a reset, each link used, and sign-ins with passwords.
    api.ok(
        &client,
        "mutation($e: String!){ inviteClientUser(email:$e, name:\"Invitee\"){ id } }",
        json!({"e": INVITEE}),
    )
    .await;
    let invitation = link_token(&database_url, INVITEE, "/set-password").await;
    watch.add_token("an invitation token", &invitation);
    let password = random("first-password");
    watch.add_secret("a password", &password);
    let set = api
        .ok(
            &client,
            "mutation($t: String!, $p: String!){ setPassword(token:$t, password:$p) }",
            json!({"t": invitation, "p": password}),
        )
        .await;
    assert_eq!(set["setPassword"], true);
    let login = "mutation($t: ID!, $e: String!, $p: String!){ login(tenantId:$t, email:$e, password:$p){ token } }";
    let signed_in = api
        .ok(
            &client,
            login,
            json!({"t": tenant_id(TENANT), "e": INVITEE, "p": password}),
        )
        .await;
    let password_session = signed_in["login"]["token"].as_str().unwrap().to_owned();
    watch.add_token("a password session token", &password_session);
    let wrong_password = random("wrong-password");
    watch.add_secret("a wrong password", &wrong_password);
    let refused = api
        .gql(
            None,
            login,
            json!({"t": tenant_id(TENANT), "e": INVITEE, "p": wrong_password}),
        )
        .await;
    assert_eq!(support::code(&refused), Some("UNAUTHENTICATED"));
    api.ok(
        &client,
        "mutation($t: ID!, $e: String!){ requestPasswordReset(tenantId:$t, email:$e) }",
        json!({"t": tenant_id(TENANT), "e": INVITEE}),
    )
    .await;
    let reset = link_token(&database_url, INVITEE, "/reset-password").await;
    watch.add_token("a password-reset token", &reset);
    let new_password = random("second-password");
    watch.add_secret("a new password", &new_password);
    api.ok(
        &client,
        "mutation($t: String!, $p: String!){ setPassword(token:$t, password:$p) }",
        json!({"t": reset, "p": new_password}),
    )
    .await;
    let used = api
        .gql(
            None,
            "mutation($t: String!, $p: String!){ setPassword(token:$t, password:$p) }",
            json!({"t": reset, "p": new_password}),
        )
        .await;
    assert_eq!(support::code(&used), Some("BAD_USER_INPUT"), "{used}");
    // The mail transport (SES, unreachable) failed and retried meanwhile.
    wait_for("a failed mail delivery in the log", async || {
        server.output().contains("outbox delivery failed")
    })
    .await;

    // Unknown and ended credentials.
    let unknown = format!("ogs_{}", random("unknown").replace('-', "_"));
    watch.add_token("an unknown session token", &unknown);
    let garbage_bearer = random("garbage-bearer");
    watch.add("a garbage bearer token", garbage_bearer.clone());
    for token in [unknown.as_str(), "Bearer", "ogk_", garbage_bearer.as_str()] {
        let refused = api.gql(Some(token), "{ me { kind } }", json!({})).await;
        assert!(
            refused["errors"].is_array() || refused["data"]["me"].is_null(),
            "{refused}"
        );
    }
    let cookie = random("garbage-cookie");
    watch.add("a garbage cookie", cookie.clone());
    let answer = http
        .post(format!("{}/graphql", server.base))
        .header("Cookie", format!("onegraph_session={cookie}"))
        .json(&json!({"query": "{ me { kind } }"}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().as_u16() < 500);
    api.ok(&staff2, "mutation{ logout }", json!({})).await;
    let ended = api.gql(Some(&staff2), "{ me { kind } }", json!({})).await;
    assert_eq!(support::code(&ended), Some("UNAUTHENTICATED"), "{ended}");

    let metrics = http
        .get(&server.metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    server.stop().await;
    let log = server.output();

    // The log is the one asked for: trace level, the scenario's steps and its failures.
    for expected in [
        "TRACE",
        "DEBUG",
        "onegraph listening",
        "outbox row delivered",
        "outbox delivery failed",
        "PSA",
        "Books",
        "shutting down",
    ] {
        assert!(
            log.contains(expected),
            "the log has no {expected:?}; is it complete?\n{}",
            &log[log.len().saturating_sub(3000)..]
        );
    }
    let leaks = watch.found_in(&log);
    assert!(
        leaks.is_empty(),
        "{} secrets or tokens are in the log ({} bytes, kept in {}):\n{}",
        leaks.len(),
        log.len(),
        dir.display(),
        leaks.join("\n")
    );
    // Nor are the secrets in anything the server answered, nor in its metrics.
    let secrets_only = Watch(
        watch
            .0
            .iter()
            .filter(|(what, _)| {
                secrets.iter().any(|(name, _)| what.starts_with(name))
                    || what.contains("DATABASE_URL")
            })
            .cloned()
            .collect(),
    );
    let answered = api.answers.lock().unwrap().join("\n");
    assert_eq!(secrets_only.found_in(&answered), Vec::<String>::new());
    assert_eq!(secrets_only.found_in(&metrics), Vec::<String>::new());
    eprintln!(
        "secrets: {} values watched in {} bytes of log",
        watch.0.len(),
        log.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
});

/// Start-up refusals name the setting, never its value: a `REDIS_URL` with a password, and
/// a database that cannot be reached with a password in its URL.
#[tokio::test]
async fn start_up_errors_name_settings_not_secrets() {
    let dir = std::env::temp_dir().join(format!("onegraph-secrets-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).unwrap();
    let redis_password = random("redis-password");
    let db_password = random("db-password");
    let sso = random("sso-secret");
    let smtp_password = random("smtp-password");
    let no_certificate = dir.join("no-certificate.pem");
    std::fs::write(&no_certificate, "not a certificate\n").unwrap();
    let cases = [
        (
            "ses",
            vec![
                (
                    "DATABASE_URL",
                    format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display()),
                ),
                ("SES_FROM_ADDRESS", "portal@example.com".to_owned()),
                ("SES_REGION", "eu-west-1".to_owned()),
                ("SES_SMTP_USERNAME", "smtp-user".to_owned()),
                ("SES_SMTP_PASSWORD", smtp_password.clone()),
                ("SES_SMTP_CA_FILE", no_certificate.display().to_string()),
            ],
            "SES_SMTP_CA_FILE holds no PEM certificate",
        ),
        (
            "redis",
            vec![
                (
                    "DATABASE_URL",
                    format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display()),
                ),
                (
                    "REDIS_URL",
                    format!("redis://default:{redis_password}@127.0.0.1:6379/0"),
                ),
            ],
            "REDIS_URL",
        ),
        (
            "unparsable database url",
            vec![(
                "DATABASE_URL",
                format!("postgress://onegraph:{db_password}#x@127.0.0.1:1/onegraph"),
            )],
            "connecting to the database",
        ),
        (
            "database",
            vec![(
                "DATABASE_URL",
                format!(
                    "postgres://onegraph:{db_password}@127.0.0.1:{}/onegraph",
                    free_port()
                ),
            )],
            "connecting to the database",
        ),
    ];
    for (name, settings, expected) in cases {
        let mut env: Vec<(String, String)> = settings
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        env.extend([
            ("PORTAL_CLIENT_SSO_SECRET".to_owned(), sso.clone()),
            ("RUST_LOG".to_owned(), "trace".to_owned()),
            ("BIND_ADDR".to_owned(), format!("127.0.0.1:{}", free_port())),
            ("METRICS_ADDR".to_owned(), "off".to_owned()),
        ]);
        let mut server = Server::start(&env, &dir, name);
        let status = server.exited().await;
        let output = server.output();
        assert!(!status.success(), "{name}: started:\n{output}");
        assert!(
            output.contains(expected),
            "{name}: the refusal does not say why:\n{output}"
        );
        let mut watch = Watch::default();
        watch.add_secret("the REDIS_URL password", &redis_password);
        watch.add_secret("the DATABASE_URL password", &db_password);
        watch.add_secret("PORTAL_CLIENT_SSO_SECRET", &sso);
        watch.add_secret("SES_SMTP_PASSWORD", &smtp_password);
        assert_eq!(
            watch.found_in(&output),
            Vec::<String>::new(),
            "{name}:\n{output}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
