//! The Mission proxy's cost: `{ mission { events { … } } }` through onegraph against a fake
//! Mission that answers at once, beside `{ me { kind } }` through onegraph and the same
//! `GET /mission/events` sent straight to the fake, one client at a time. The proxy's own
//! cost is what the first adds at p50 to the other two together; the target is under 1 ms.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, http::header, routing::get};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

use crate::{
    Ctx, Result, client, cpu,
    load::{self, Outcome, Sample, Spec, Workload},
    report::{self, RESULTS, Row, latency, mark, mib, rate, thousands},
    seed::{self, Backend},
    server::Server,
};

/// What the proxy may add at p50.
pub const MISSION_P50_TARGET: Duration = Duration::from_millis(1);
/// Events the fake answers with.
const EVENTS: usize = 10;
/// Mission's service key of the run.
const KEY: &str = "bench-mission-service-key";
/// PSA's key, for provisioning the client user.
const PSA_KEY: &str = "bench-psa-service-key";
/// The member the client user is linked to.
const MEMBER: &str = "bench-member-1";

const ME_QUERY: &str = "{ me { kind } }";
const MISSION_QUERY: &str = "{ mission { events { id title startsAt endsAt location } } }";

/// The fake's answer, made once.
fn events_body() -> Bytes {
    let events: Vec<Value> = (0..EVENTS)
        .map(|i| {
            json!({
                "id": format!("ev-{i}"),
                "title": format!("Event {i}"),
                "starts_at": "2026-03-01T10:00:00Z",
                "ends_at": "2026-03-01T11:00:00Z",
                "location": "Main hall",
            })
        })
        .collect();
    Bytes::from(Value::Array(events).to_string())
}

/// Starts the fake Mission on this process's runtime; returns its base URL.
async fn fake_mission() -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let body = events_body();
    let app = Router::new().route(
        "/mission/events",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(base)
}

/// One request, timed, and its body checked.
struct Request {
    http: reqwest::Client,
    build: Box<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>,
    check: fn(&[u8]) -> std::result::Result<(), String>,
}

impl Request {
    async fn fetch(&self) -> std::result::Result<Bytes, String> {
        let response = (self.build)(&self.http)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the body: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "HTTP {status}: {}",
                report::one_line(&String::from_utf8_lossy(&body), 200)
            ));
        }
        Ok(body)
    }
}

impl Workload for Request {
    async fn call(&self, _worker: usize, _seq: u64) -> Sample {
        let start = Instant::now();
        let body = self.fetch().await;
        let latency = start.elapsed();
        Sample {
            latency,
            result: body.and_then(|b| (self.check)(&b)),
        }
    }
}

fn parse(body: &[u8]) -> std::result::Result<Value, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "unexpected body ({e}): {}",
            report::one_line(&String::from_utf8_lossy(body), 200)
        )
    })?;
    if value.get("errors").is_some() {
        return Err(format!(
            "error body: {}",
            report::one_line(&value.to_string(), 200)
        ));
    }
    Ok(value)
}

fn check_direct(body: &[u8]) -> std::result::Result<(), String> {
    let value = parse(body)?;
    match value.as_array() {
        Some(events) if events.len() == EVENTS => Ok(()),
        _ => Err(format!("not {EVENTS} events")),
    }
}

fn check_me(body: &[u8]) -> std::result::Result<(), String> {
    let value = parse(body)?;
    if value["data"]["me"]["kind"] == "CLIENT" {
        Ok(())
    } else {
        Err(format!(
            "unexpected: {}",
            report::one_line(&value.to_string(), 200)
        ))
    }
}

fn check_mission(body: &[u8]) -> std::result::Result<(), String> {
    let value = parse(body)?;
    let events = value["data"]["mission"]["events"].as_array();
    let complete = events.is_some_and(|events| {
        events.len() == EVENTS
            && events
                .iter()
                .all(|e| e["id"].is_string() && e["title"].is_string() && e["startsAt"].is_string())
    });
    if complete {
        Ok(())
    } else {
        Err(format!(
            "unexpected: {}",
            report::one_line(&value.to_string(), 200)
        ))
    }
}

/// A client user of a fresh tenant, linked to [`MEMBER`], signed in: its session token.
async fn client_session(ctx: &Ctx, server: &Server) -> Result<(String, String)> {
    let tenant = uuid::Uuid::new_v4().to_string();
    let email = "member@bench.example.com";
    let response = ctx
        .http
        .post(format!("{}/internal/psa/contacts", server.base))
        .header("X-Integration-Key", PSA_KEY)
        .json(&json!({
            "tenant_id": tenant, "contact_id": "bench-contact", "company_id": "BENCH-CHURCH",
            "email": email, "name": "Bench Member", "portal_access": true,
            "mission_member_id": MEMBER,
        }))
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("provisioning the client user: HTTP {}", response.status()).into());
    }
    let mut claims = client::staff_claims(
        &tenant,
        &format!("bench-member-{}", uuid::Uuid::new_v4()),
        "member",
    );
    claims.aud = "portal".into();
    claims.email = Some(email.into());
    claims.role = None;
    claims.permissions = None;
    let token = onegraph::auth::sso::mint(&claims, &ctx.secret)?;
    let api = client::Api {
        http: ctx.http.clone(),
        base: server.base.clone(),
    };
    let (status, body) = api.sso_exchange(&token).await?;
    let session = body["session_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("client sign-in failed ({status}): {body}"))?;
    Ok((tenant, session))
}

/// A measured run.
struct Run {
    outcome: Outcome,
    usage: Option<cpu::Usage>,
    statements: Option<f64>,
}

async fn measure(
    ctx: &Ctx,
    request: Request,
    server: Option<&Server>,
    spec: Spec,
    what: &str,
) -> Result<Run> {
    let first = request.fetch().await?;
    (request.check)(&first).map_err(|e| format!("{what}: the first response is not valid: {e}"))?;
    let before = match server {
        Some(server) => Some(server.statements(&ctx.http).await?),
        None => None,
    };
    let meter = server.map(|s| cpu::Meter::start(s.pid()));
    let outcome = load::run(Arc::new(request), spec).await;
    let usage = meter.map(|m| m.stop());
    let statements = match (server, before) {
        (Some(server), Some(before)) => {
            let after = server.statements(&ctx.http).await?;
            Some((after - before) as f64 / outcome.sent.max(1) as f64)
        }
        _ => None,
    };
    Ok(Run {
        outcome,
        usage,
        statements,
    })
}

fn row(backend: &str, server: &str, spec: Spec, run: &Run, peak_kib: Option<u64>) -> Row {
    let mut row = Row::new(RESULTS, "mission", backend, server);
    row.load = spec.describe();
    row.ok = thousands(run.outcome.ok);
    row.errors = thousands(run.outcome.errors);
    row.throughput = rate(run.outcome.throughput());
    row.p50 = latency(run.outcome.quantile(0.50));
    row.p99 = latency(run.outcome.quantile(0.99));
    if let Some(kib) = peak_kib {
        row.peak_rss = mib(kib);
    }
    if let Some(statements) = run.statements {
        row.statements = format!("{statements:.2}");
    }
    if let Some(usage) = &run.usage {
        row.cpu_per_op = latency(usage.server_per(run.outcome.sent));
        row.cpu_split = usage.split();
    }
    row
}

/// The scenario, on each configured backend.
pub async fn mission(ctx: &Ctx) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &backend in &ctx.opts.backends {
        match mission_on(ctx, backend).await {
            Ok(mut more) => rows.append(&mut more),
            Err(err) => rows.push(Row::failed("mission", backend.label(), &err.to_string())),
        }
    }
    Ok(rows)
}

async fn mission_on(ctx: &Ctx, backend: Backend) -> Result<Vec<Row>> {
    let label = backend.label();
    let spec = Spec {
        concurrency: 1,
        warmup: Duration::from_secs(ctx.opts.warmup),
        duration: Duration::from_secs(ctx.opts.duration),
    };
    let fake = fake_mission().await?;
    let url = seed::fresh_database(ctx, backend).await?;
    let server = Server::onegraph(
        &ctx.onegraph,
        &ctx.work_dir,
        &format!("mission-onegraph-{label}"),
        &url,
        &ctx.secret,
        &[
            ("MISSION_API_URL", fake.as_str()),
            ("MISSION_SERVICE_KEY", KEY),
            ("PSA_SERVICE_KEY", PSA_KEY),
        ],
    )
    .await?;
    let (tenant, session) = client_session(ctx, &server).await?;
    let auth = HeaderValue::from_str(&format!("Bearer {session}"))?;

    let direct = {
        let url = format!("{fake}/mission/events");
        let tenant = tenant.clone();
        Request {
            http: ctx.http.clone(),
            build: Box::new(move |http| {
                http.get(&url)
                    .bearer_auth(KEY)
                    .header("Accept", "application/json")
                    .header("X-Tenant-Id", &tenant)
                    .header("X-Member-Id", MEMBER)
            }),
            check: check_direct,
        }
    };
    let graphql = |query: &str, check: fn(&[u8]) -> std::result::Result<(), String>| {
        let url = format!("{}/graphql", server.base);
        let auth = auth.clone();
        let body = Bytes::from(json!({ "query": query }).to_string());
        Request {
            http: ctx.http.clone(),
            build: Box::new(move |http| {
                http.post(&url)
                    .header(AUTHORIZATION, auth.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            }),
            check,
        }
    };

    let direct = measure(ctx, direct, None, spec, "the fake Mission").await?;
    let me = measure(ctx, graphql(ME_QUERY, check_me), Some(&server), spec, "me").await?;
    let proxied = measure(
        ctx,
        graphql(MISSION_QUERY, check_mission),
        Some(&server),
        spec,
        "mission",
    )
    .await?;
    let memory = server.stop().await;

    let p50 = |run: &Run| run.outcome.quantile(0.50).as_secs_f64();
    let added = p50(&proxied) - p50(&me) - p50(&direct);
    let errors = direct.outcome.errors + me.outcome.errors + proxied.outcome.errors;
    let mut direct_row = row(
        label,
        "fake Mission, GET sent straight",
        spec,
        &direct,
        None,
    );
    direct_row.verdict = "reference: the fake on its own".into();
    let mut me_row = row(label, "onegraph `{ me { kind } }`", spec, &me, None);
    me_row.verdict = "reference: onegraph on its own".into();
    let mut proxied_row = row(
        label,
        "onegraph `mission { events }`",
        spec,
        &proxied,
        Some(memory.peak_kib),
    );
    proxied_row.verdict = format!(
        "proxy adds < 1 ms at p50: **{}** {}",
        signed_latency(added),
        mark(added < MISSION_P50_TARGET.as_secs_f64() && errors == 0)
    );
    for (who, run) in [("fake", &direct), ("me", &me), ("mission", &proxied)] {
        if run.outcome.errors > 0 {
            ctx.note(format!(
                "mission on {label}, {who}: {} failed responses, e.g. {}",
                run.outcome.errors,
                run.outcome.error_summary()
            ));
        }
    }
    Ok(vec![direct_row, me_row, proxied_row])
}

/// Seconds as `latency` writes them, with a sign.
fn signed_latency(seconds: f64) -> String {
    let text = latency(Duration::from_secs_f64(seconds.abs()));
    if seconds < 0.0 {
        format!("−{text}")
    } else {
        text
    }
}
