//! The scenarios. Each is one function from the context to its table rows, registered in
//! [`crate::SCENARIOS`].

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::body::Bytes;
use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    Ctx, Result,
    client::{self, Api},
    cpu, fanout,
    load::{self, Outcome, Sample, Spec, Workload},
    machine,
    report::{self, RESULTS, Row, SWEEP, latency, mark, mib, rate, thousands},
    seed::{Backend, Dataset},
    server::Server,
};

/// The page size of the read path.
pub const PAGE: usize = 50;
/// The read-path target: onegraph's throughput as a share of the baseline's.
pub const READ_TARGET: f64 = 0.70;
/// The fan-out targets.
pub const FANOUT_P99_TARGET: Duration = Duration::from_secs(1);
/// Resident memory per idle subscriber, at most.
pub const FANOUT_KIB_TARGET: f64 = 32.0;

/// Runs `each` for every configured backend; a failure becomes a row and the others go on.
async fn per_backend<'a, F, Fut>(ctx: &'a Ctx, scenario: &str, each: F) -> Result<Vec<Row>>
where
    F: Fn(&'a Ctx, Backend) -> Fut,
    Fut: Future<Output = Result<Vec<Row>>> + 'a,
{
    let mut rows = Vec::new();
    for &backend in &ctx.opts.backends {
        match each(ctx, backend).await {
            Ok(mut more) => rows.append(&mut more),
            Err(err) => rows.push(Row::failed(scenario, backend.label(), &err.to_string())),
        }
    }
    Ok(rows)
}

fn bearer(token: &str) -> Result<HeaderValue> {
    Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
}

// ---------------------------------------------------------------------------------------
// Read path

/// `visits(first: N)` with its relations, validated.
struct ReadWorkload {
    http: reqwest::Client,
    url: String,
    auth: HeaderValue,
    body: Bytes,
    first: usize,
}

impl ReadWorkload {
    fn new(ctx: &Ctx, server: &Server, token: &str, first: usize) -> Result<Self> {
        let body = serde_json::to_vec(
            &json!({"query": client::VISITS_QUERY, "variables": {"first": first}}),
        )?;
        Ok(ReadWorkload {
            http: ctx.http.clone(),
            url: format!("{}/graphql", server.base),
            auth: bearer(token)?,
            body: Bytes::from(body),
            first,
        })
    }

    /// One request: the body, or why there is none.
    async fn fetch(&self) -> std::result::Result<Bytes, String> {
        let response = self
            .http
            .post(&self.url)
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(self.body.clone())
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

impl Workload for ReadWorkload {
    async fn call(&self, _worker: usize, _seq: u64) -> Sample {
        let start = Instant::now();
        let body = self.fetch().await;
        let latency = start.elapsed();
        Sample {
            latency,
            result: body.and_then(|b| client::validate_read(&b, self.first)),
        }
    }
}

/// A measured read run.
struct ReadRun {
    outcome: Outcome,
    usage: cpu::Usage,
    statements_per_request: f64,
    reference: Bytes,
}

/// Runs the read path against `server`: one reference request, then the load.
async fn measure_read(ctx: &Ctx, server: &Server, token: &str, spec: Spec) -> Result<ReadRun> {
    let workload = ReadWorkload::new(ctx, server, token, PAGE)?;
    let reference = workload.fetch().await?;
    client::validate_read(&reference, PAGE)
        .map_err(|e| format!("{}: the first response is not valid: {e}", server.name))?;
    let before = server.statements(&ctx.http).await?;
    let meter = cpu::Meter::start(server.pid());
    let outcome = load::run(Arc::new(workload), spec).await;
    let usage = meter.stop();
    let after = server.statements(&ctx.http).await?;
    Ok(ReadRun {
        usage,
        statements_per_request: (after - before) as f64 / outcome.sent.max(1) as f64,
        outcome,
        reference,
    })
}

/// Fills `row` with a load run's measures.
fn load_row(
    mut row: Row,
    spec: Spec,
    outcome: &Outcome,
    usage: &cpu::Usage,
    peak_kib: u64,
    statements: f64,
) -> Row {
    row.load = spec.describe();
    row.cpu_per_op = latency(usage.server_per(outcome.sent));
    row.cpu_split = usage.split();
    row.ok = thousands(outcome.ok);
    row.errors = thousands(outcome.errors);
    row.throughput = rate(outcome.throughput());
    row.p50 = latency(outcome.quantile(0.50));
    row.p99 = latency(outcome.quantile(0.99));
    row.peak_rss = mib(peak_kib);
    row.statements = format!("{statements:.2}");
    row
}

/// Scenario 1: the read path on each backend, onegraph beside the baseline.
pub async fn read(ctx: &Ctx) -> Result<Vec<Row>> {
    per_backend(ctx, "read", read_on).await
}

async fn read_on(ctx: &Ctx, backend: Backend) -> Result<Vec<Row>> {
    let data = ctx.dataset(backend).await?;
    let spec = ctx.spec();
    let label = backend.label();

    let server = Server::onegraph(
        &ctx.onegraph,
        &ctx.work_dir,
        &format!("read-onegraph-{label}"),
        &data.url,
        &ctx.secret,
        &[],
    )
    .await?;
    let onegraph = measure_read(ctx, &server, &data.read.token, spec).await?;
    let onegraph_memory = server.stop().await;

    let server = Server::baseline(
        &ctx.bench,
        &ctx.work_dir,
        &format!("read-baseline-{label}"),
        &data.url,
        10,
    )
    .await?;
    let baseline = measure_read(ctx, &server, &data.read.token, spec).await?;
    let baseline_memory = server.stop().await;

    for (who, body) in [
        ("onegraph", &onegraph.reference),
        ("baseline", &baseline.reference),
    ] {
        let _ = std::fs::write(ctx.work_dir.join(format!("read-{who}-{label}.json")), body);
    }
    let share = onegraph.outcome.throughput() / baseline.outcome.throughput().max(1e-9);
    let mut og = load_row(
        Row::new(RESULTS, "read", label, "onegraph"),
        spec,
        &onegraph.outcome,
        &onegraph.usage,
        onegraph_memory.peak_kib,
        onegraph.statements_per_request,
    );
    og.verdict = format!(
        "≥ 70% of baseline: **{:.0}%** {}",
        share * 100.0,
        mark(share >= READ_TARGET && onegraph.outcome.errors == 0)
    );
    let mut base = load_row(
        Row::new(RESULTS, "read", label, "baseline"),
        spec,
        &baseline.outcome,
        &baseline.usage,
        baseline_memory.peak_kib,
        baseline.statements_per_request,
    );
    base.verdict = if baseline.reference == onegraph.reference {
        "reference (same JSON bytes as onegraph)".into()
    } else {
        let a: serde_json::Value = serde_json::from_slice(&onegraph.reference)?;
        let b: serde_json::Value = serde_json::from_slice(&baseline.reference)?;
        if a == b && onegraph.reference.len() == baseline.reference.len() {
            "reference (same JSON and length; key order differs: async-graphql 7.2 writes fields in completion order)".into()
        } else if a == b {
            "reference (same JSON value)".into()
        } else {
            ctx.note(format!(
                "{label}: the baseline's JSON differs from onegraph's; onegraph: {} … baseline: {}",
                report::one_line(&String::from_utf8_lossy(&onegraph.reference), 300),
                report::one_line(&String::from_utf8_lossy(&baseline.reference), 300)
            ));
            "**JSON differs from onegraph** ❌".into()
        }
    };
    for (who, outcome) in [
        ("onegraph", &onegraph.outcome),
        ("baseline", &baseline.outcome),
    ] {
        if outcome.errors > 0 {
            ctx.note(format!(
                "read on {label}, {who}: {} failed responses, e.g. {}",
                outcome.errors,
                outcome.error_summary()
            ));
        }
    }
    Ok(vec![og, base])
}

// ---------------------------------------------------------------------------------------
// Write path

/// `checkInVisitor` with a distinct visitor each time, validated.
struct WriteWorkload {
    http: reqwest::Client,
    url: String,
    auth: HeaderValue,
    location: String,
    host: String,
    tag: String,
}

impl Workload for WriteWorkload {
    async fn call(&self, worker: usize, seq: u64) -> Sample {
        let name = format!("Bench {} w{worker} #{seq}", self.tag);
        let body = json!({
            "query": client::CHECK_IN,
            "variables": {"l": self.location, "h": self.host, "n": name},
        })
        .to_string();
        let start = Instant::now();
        let response = self
            .http
            .post(&self.url)
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let body = match response {
            Ok(response) => response.bytes().await.map_err(|e| e.to_string()),
            Err(err) => Err(format!("request failed: {err}")),
        };
        let latency = start.elapsed();
        Sample {
            latency,
            result: body.and_then(|b| client::validate_check_in(&b, &name)),
        }
    }
}

async fn outbox_check_ins(url: &str, tenant: &str) -> Result<u64> {
    let db = sea_orm::Database::connect(url).await?;
    let count = entities::outbox::Entity::find()
        .filter(entities::outbox::Column::TenantId.eq(tenant))
        .filter(entities::outbox::Column::EventType.eq("visitor.checked_in"))
        .count(&db)
        .await?;
    db.close().await?;
    Ok(count)
}

/// Scenario 2: the write path on each backend.
pub async fn write(ctx: &Ctx) -> Result<Vec<Row>> {
    per_backend(ctx, "write", write_on).await
}

async fn write_on(ctx: &Ctx, backend: Backend) -> Result<Vec<Row>> {
    let data = ctx.dataset(backend).await?;
    let mut rows = vec![write_run(ctx, &data, ctx.spec()).await?];
    if ctx.opts.concurrency > 1 {
        // The same with one client, for the write path's cost without contention.
        let serial = Spec {
            concurrency: 1,
            ..ctx.spec()
        };
        rows.push(write_run(ctx, &data, serial).await?);
    }
    Ok(rows)
}

async fn write_run(ctx: &Ctx, data: &Dataset, spec: Spec) -> Result<Row> {
    let backend = data.backend;
    let label = backend.label();
    let outbox_before = outbox_check_ins(&data.url, &data.write.id).await?;
    let server = Server::onegraph(
        &ctx.onegraph,
        &ctx.work_dir,
        &format!("write-onegraph-{label}-{}", spec.concurrency),
        &data.url,
        &ctx.secret,
        &[],
    )
    .await?;

    // One live subscriber of the tenant counts the events the check-ins publish.
    let ws_url = format!("{}/graphql", server.base.replacen("http://", "ws://", 1));
    let mut ws = fanout::subscriber(&ws_url, &data.write.token).await?;
    let events = Arc::new(AtomicU64::new(0));
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let counter = {
        let events = events.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop_rx.changed() => break,
                    message = ws.next() => match message {
                        Some(Ok(Message::Text(text))) => {
                            let value: serde_json::Value =
                                serde_json::from_str(text.as_str()).unwrap_or_default();
                            if value["type"] == "next" && value["payload"].get("errors").is_none() {
                                events.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                }
            }
        })
    };

    let workload = WriteWorkload {
        http: ctx.http.clone(),
        url: format!("{}/graphql", server.base),
        auth: bearer(&data.write.token)?,
        location: data.write.location.clone(),
        host: data.write.host.clone(),
        tag: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
    };
    let before = server.statements(&ctx.http).await?;
    let meter = cpu::Meter::start(server.pid());
    let outcome = load::run(Arc::new(workload), spec).await;
    let usage = meter.stop();
    let after = server.statements(&ctx.http).await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while events.load(Ordering::Relaxed) < outcome.ok_total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_tx.send(true);
    let _ = counter.await;
    let memory = server.stop().await;
    let outbox = outbox_check_ins(&data.url, &data.write.id).await? - outbox_before;
    let received = events.load(Ordering::Relaxed);

    let mut row = load_row(
        Row::new(RESULTS, "write", label, "onegraph"),
        spec,
        &outcome,
        &usage,
        memory.peak_kib,
        (after - before) as f64 / outcome.sent.max(1) as f64,
    );
    row.verdict = format!(
        "no target; outbox rows = check-ins {} ({outbox}/{}); events delivered {} ({received})",
        mark(outbox == outcome.ok_total),
        outcome.ok_total,
        mark(received == outcome.ok_total),
    );
    if outcome.errors > 0 {
        ctx.note(format!(
            "write on {label} at concurrency {}: {} failed check-ins, e.g. {}",
            spec.concurrency,
            outcome.errors,
            outcome.error_summary()
        ));
    }
    Ok(row)
}

// ---------------------------------------------------------------------------------------
// Fan-out

/// Scenario 3: subscribers on one onegraph process, one check-in, time to the last.
pub async fn fanout(ctx: &Ctx) -> Result<Vec<Row>> {
    let backend = if ctx.opts.backends.contains(&Backend::Sqlite) {
        Backend::Sqlite
    } else {
        *ctx.opts.backends.first().ok_or("no backend selected")?
    };
    match fanout_on(ctx, backend).await {
        Ok(rows) => Ok(rows),
        Err(err) => Ok(vec![Row::failed(
            "fan-out",
            backend.label(),
            &err.to_string(),
        )]),
    }
}

async fn fanout_on(ctx: &Ctx, backend: Backend) -> Result<Vec<Row>> {
    let n = ctx.opts.subscribers;
    let (soft, hard) = machine::open_file_limits();
    let needed = n as u64 + 512;
    if soft < needed {
        return Err(format!(
            "the open-file limit is {soft} (hard {hard}); {n} subscribers need about {needed} in the client and as many in the server: run through bench/run.sh or raise `ulimit -n`"
        )
        .into());
    }
    let data: Arc<Dataset> = ctx.dataset(backend).await?;
    let server = Server::onegraph(
        &ctx.onegraph,
        &ctx.work_dir,
        &format!("fanout-onegraph-{}", backend.label()),
        &data.url,
        &ctx.secret,
        &[],
    )
    .await?;
    let api = Api {
        http: ctx.http.clone(),
        base: server.base.clone(),
    };
    let tenant = &data.fanout;
    let check_in = |name: String| {
        let api = api.clone();
        async move {
            api.gql(
                &tenant.token,
                client::CHECK_IN,
                json!({"l": tenant.location, "h": tenant.host, "n": name}),
            )
            .await
        }
    };
    // Warm the write path once, with nobody listening yet.
    check_in("Warm-up visitor".into()).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_before = server.memory();

    let ws_url = format!("{}/graphql", server.base.replacen("http://", "ws://", 1));
    let name = format!("Fan-out visitor {}", uuid::Uuid::new_v4().simple());
    let groups_n = 16.min(n.max(1));
    let (stop_tx, stop_rx) = watch::channel(false);
    let setup_started = Instant::now();
    let mut groups = Vec::new();
    for g in 0..groups_n {
        let count = n / groups_n + usize::from(g < n % groups_n);
        groups.push(fanout::spawn_group(
            ws_url.clone(),
            tenant.token.clone(),
            count,
            32,
            name.clone(),
            stop_rx.clone(),
        ));
    }
    let mut open = 0usize;
    let mut setup_failures: Vec<String> = Vec::new();
    for group in &mut groups {
        let ready = (&mut group.ready)
            .await
            .map_err(|_| "a subscriber group ended during set-up")?;
        open += ready.open;
        setup_failures.extend(ready.failed);
    }
    let setup_time = setup_started.elapsed();
    // Let the server settle, then read its idle memory.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let connections = server.metric(&ctx.http, "onegraph_ws_connections").await?;
    let idle_after = server.memory();
    let per_subscriber_kib =
        (idle_after.rss_kib.saturating_sub(idle_before.rss_kib)) as f64 / open.max(1) as f64;

    let t0 = Instant::now();
    let result = check_in(name.clone()).await;
    let mutation_latency = t0.elapsed();
    let deadline = tokio::time::Instant::from_std(t0 + Duration::from_secs(30));
    let mut arrivals: Vec<Duration> = Vec::with_capacity(open);
    let mut unexpected = 0u64;
    let mut examples: Vec<String> = Vec::new();
    for group in &mut groups {
        let report = match tokio::time::timeout_at(deadline, &mut group.done).await {
            Ok(report) => report,
            Err(_) => {
                let _ = stop_tx.send(true);
                (&mut group.done).await
            }
        };
        let Ok(report) = report else { continue };
        arrivals.extend(
            report
                .arrivals
                .iter()
                .map(|at| at.saturating_duration_since(t0)),
        );
        unexpected += report.unexpected;
        for example in report.examples {
            if examples.len() < 3 {
                examples.push(example);
            }
        }
    }
    let _ = stop_tx.send(true);
    for group in groups {
        let _ = group.task.await;
    }
    let memory = server.stop().await;
    result.map_err(|e| format!("the fan-out check-in failed: {e}"))?;
    arrivals.sort_unstable();
    let delivered = arrivals.len();
    let missing = n - delivered.min(n);
    let p50 = load::quantile(&arrivals, 0.50);
    let p99 = load::quantile(&arrivals, 0.99);
    let last = arrivals.last().copied().unwrap_or_default();

    let mut row = Row::new(RESULTS, "fan-out", backend.label(), "onegraph");
    row.load = format!("{} WS subscribers, 1 check-in", thousands(n as u64));
    row.ok = thousands(delivered as u64);
    row.errors = thousands(missing as u64 + unexpected);
    row.p50 = latency(p50);
    row.p99 = latency(p99);
    row.peak_rss = mib(memory.peak_kib);
    let p99_met = delivered == n && p99 < FANOUT_P99_TARGET;
    row.verdict = format!(
        "p99 < 1 s {}; last after {}; idle RSS/subscriber **{per_subscriber_kib:.1} KiB** (≤ 32 KiB {}); ~{} fds, 2 cores shared",
        mark(p99_met),
        latency(last),
        mark(per_subscriber_kib <= FANOUT_KIB_TARGET),
        thousands(2 * n as u64),
    );
    let client_memory = machine::memory(None);
    ctx.note(format!(
        "fan-out: {} subscribers opened in {:.1} s (server gauge `onegraph_ws_connections` = {connections}); server RSS {} idle before, {} with every subscriber idle; \
         the check-in mutation answered in {}; delivery latency is measured from sending the mutation to each `next` frame being read by the client, which has to read {} frames on the same 2 cores; \
         the client itself peaked at {} RSS. The client holds one socket per subscriber and the server another, so the run needs about {} file descriptors between them (each process stays under its own limit).",
        thousands(open as u64),
        setup_time.as_secs_f64(),
        mib(idle_before.rss_kib),
        mib(idle_after.rss_kib),
        latency(mutation_latency),
        thousands(n as u64),
        mib(client_memory.peak_kib),
        thousands(2 * n as u64),
    ));
    if !setup_failures.is_empty() || unexpected > 0 {
        let mut reasons = setup_failures.clone();
        reasons.truncate(3);
        reasons.extend(examples);
        ctx.note(format!(
            "fan-out: {} subscribers failed to set up, {unexpected} unexpected messages or closes, e.g. {}",
            setup_failures.len(),
            reasons.join("; ")
        ));
    }
    Ok(vec![row])
}

// ---------------------------------------------------------------------------------------
// Statements

/// The page sizes the statement count is taken at.
const STATEMENT_PAGES: [usize; 3] = [5, 50, 100];

/// Statements per request of the read query at each page size (average of 10 requests).
async fn statements_per_page(ctx: &Ctx, server: &Server, token: &str) -> Result<Vec<f64>> {
    let mut counts = Vec::new();
    for first in STATEMENT_PAGES {
        let workload = ReadWorkload::new(ctx, server, token, first)?;
        let warm = workload.fetch().await?;
        client::validate_read(&warm, first)?;
        let before = server.statements(&ctx.http).await?;
        for _ in 0..10 {
            let body = workload.fetch().await?;
            client::validate_read(&body, first)?;
        }
        let after = server.statements(&ctx.http).await?;
        counts.push((after - before) as f64 / 10.0);
    }
    Ok(counts)
}

/// Scenario 4: SQL statements per read request at page sizes 5, 50 and 100.
pub async fn statements(ctx: &Ctx) -> Result<Vec<Row>> {
    per_backend(ctx, "statements", statements_on).await
}

async fn statements_on(ctx: &Ctx, backend: Backend) -> Result<Vec<Row>> {
    let data = ctx.dataset(backend).await?;
    let label = backend.label();
    let mut rows = Vec::new();
    for who in ["onegraph", "baseline"] {
        let name = format!("statements-{who}-{label}");
        let server = if who == "onegraph" {
            Server::onegraph(
                &ctx.onegraph,
                &ctx.work_dir,
                &name,
                &data.url,
                &ctx.secret,
                &[],
            )
            .await?
        } else {
            Server::baseline(&ctx.bench, &ctx.work_dir, &name, &data.url, 10).await?
        };
        let counts = statements_per_page(ctx, &server, &data.read.token).await;
        server.stop().await;
        let counts = counts?;
        let mut row = Row::new(RESULTS, "statements", label, who);
        row.load = "visits(first: 5 / 50 / 100), 10 requests each".into();
        row.ok = "30".into();
        row.errors = "0".into();
        row.statements = STATEMENT_PAGES
            .iter()
            .zip(&counts)
            .map(|(first, count)| format!("{first}: {count}"))
            .collect::<Vec<_>>()
            .join(" · ");
        let constant = counts
            .windows(2)
            .all(|w| (w[0] - w[1]).abs() < f64::EPSILON);
        row.verdict = format!("does not grow with page size {}", mark(constant));
        rows.push(row);
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// Settings sweep

/// `DATALOADER_DELAY` values tried (default `1ms`).
const DELAYS: [&str; 3] = ["0", "1ms", "5ms"];
/// `DATABASE_MAX_CONNECTIONS` values tried (default 10).
const POOLS: [u32; 3] = [5, 10, 20];

/// The DataLoader delay and pool size on the read path: figures at the defaults and the best.
pub async fn sweep(ctx: &Ctx) -> Result<Vec<Row>> {
    per_backend(ctx, "sweep", sweep_on).await
}

async fn sweep_on(ctx: &Ctx, backend: Backend) -> Result<Vec<Row>> {
    let data = ctx.dataset(backend).await?;
    let spec = ctx.sweep_spec();
    let label = backend.label();
    let mut rows: Vec<(Row, f64)> = Vec::new();
    for delay in DELAYS {
        for pool in POOLS {
            let pool_text = pool.to_string();
            let default = delay == "1ms" && pool == 10;
            let server = Server::onegraph(
                &ctx.onegraph,
                &ctx.work_dir,
                &format!("sweep-{label}-{delay}-{pool}"),
                &data.url,
                &ctx.secret,
                &[
                    ("DATALOADER_DELAY", delay),
                    ("DATABASE_MAX_CONNECTIONS", pool_text.as_str()),
                ],
            )
            .await?;
            let run = measure_read(ctx, &server, &data.read.token, spec).await;
            let memory = server.stop().await;
            let run = run?;
            let config = format!(
                "delay {delay}, pool {pool}{}",
                if default { " (defaults)" } else { "" }
            );
            let row = load_row(
                Row::new(SWEEP, "read", label, config),
                spec,
                &run.outcome,
                &run.usage,
                memory.peak_kib,
                run.statements_per_request,
            );
            rows.push((row, run.outcome.throughput()));
        }
    }
    let best = rows
        .iter()
        .map(|(_, t)| *t)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let default_throughput = rows
        .iter()
        .find(|(r, _)| r.server.ends_with("(defaults)"))
        .map_or(0.0, |(_, t)| *t);
    let mut best_name = String::new();
    for (row, throughput) in &mut rows {
        let share = *throughput / best * 100.0;
        row.verdict = if (*throughput - best).abs() < f64::EPSILON {
            best_name = row.server.clone();
            "**best**".into()
        } else {
            format!("{share:.0}% of best")
        };
    }
    ctx.note(format!(
        "sweep on {label}: best {best_name} at {}; the defaults reach {} ({:.0}% of it). Each point is one {}-second run after {} s of warm-up, so differences under ~10% are noise.",
        rate(best),
        rate(default_throughput),
        default_throughput / best * 100.0,
        spec.duration.as_secs(),
        spec.warmup.as_secs()
    ));
    Ok(rows.into_iter().map(|(row, _)| row).collect())
}
