//! The data set, made through onegraph's own GraphQL API on a fresh database: a tenant for
//! the read path (locations, hosts, badges and a few hundred visits, each with its visitor,
//! host and badge), and one tenant each for the write path and the fan-out, so that no
//! scenario changes what another one reads.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{
    Ctx, Result,
    client::{Api, text},
    server::Server,
};

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

impl Backend {
    /// How tables name it.
    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    /// Parses `sqlite` / `postgres`.
    pub fn parse(text: &str) -> std::result::Result<Backend, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" | "pg" => Ok(Backend::Postgres),
            other => Err(format!("unknown backend {other:?} (sqlite or postgres)")),
        }
    }
}

/// A signed-in staff user of a tenant with one location and one host.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// Session token (all Visitor permissions).
    pub token: String,
    /// A location id.
    pub location: String,
    /// A host id.
    pub host: String,
}

/// A seeded database.
#[derive(Debug)]
pub struct Dataset {
    /// Which database.
    pub backend: Backend,
    /// Its URL.
    pub url: String,
    /// The read-path tenant.
    pub read: Tenant,
    /// The write-path tenant.
    pub write: Tenant,
    /// The fan-out tenant.
    pub fanout: Tenant,
}

const LOCATIONS: usize = 4;
const HOSTS: usize = 20;
const BADGES_PER_LOCATION: usize = 16;

pub const CREATE_LOCATION: &str = "mutation($n: String!) { createLocation(input: {name: $n, timezone: \"Europe/London\"}) { id } }";
pub const CREATE_HOST: &str = "mutation($n: String!, $e: String, $l: ID) { createHost(input: {name: $n, email: $e, department: \"Engineering\", locationId: $l}) { id } }";
const ADD_BADGE: &str =
    "mutation($l: ID!, $n: String!) { addBadge(locationId: $l, number: $n) { id } }";
const SEED_CHECK_IN: &str = "mutation($l: ID!, $h: ID, $b: ID, $n: String!, $c: String) { checkInVisitor(input: {locationId: $l, hostId: $h, badgeId: $b, visitor: {name: $n, company: $c}}) { id } }";
pub const CHECK_OUT: &str = "mutation($v: ID!) { checkOutVisitor(visitId: $v) { id } }";

/// A fresh database URL for `backend` (its PostgreSQL database dropped at the end).
pub async fn fresh_database(ctx: &Ctx, backend: Backend) -> Result<String> {
    match backend {
        Backend::Sqlite => {
            let path = ctx
                .work_dir
                .join(format!("bench-{}.db", uuid::Uuid::new_v4().simple()));
            Ok(format!("sqlite://{}?mode=rwc", path.display()))
        }
        Backend::Postgres => {
            let admin = sea_orm::Database::connect(&ctx.opts.postgres_url)
                .await
                .map_err(|e| {
                    format!(
                        "PostgreSQL at {} is not reachable: {e}",
                        ctx.opts.postgres_url
                    )
                })?;
            let name = format!("onegraph_bench_{}", uuid::Uuid::new_v4().simple());
            sea_orm::ConnectionTrait::execute_unprepared(
                &admin,
                &format!("CREATE DATABASE {name}"),
            )
            .await?;
            ctx.created_databases.lock().await.push(name.clone());
            let (prefix, _) = ctx
                .opts
                .postgres_url
                .rsplit_once('/')
                .ok_or("the PostgreSQL URL must end with /<database>")?;
            Ok(format!("{prefix}/{name}"))
        }
    }
}

/// Runs `query` up to five times (seeding only: a busy database is retried, not hidden,
/// since the count of retries is reported).
async fn with_retry(
    api: &Api,
    token: &str,
    query: &str,
    variables: serde_json::Value,
    retries: &std::sync::atomic::AtomicU64,
) -> Result<serde_json::Value> {
    let mut attempt = 0;
    loop {
        match api.gql(token, query, variables.clone()).await {
            Ok(data) => return Ok(data),
            Err(err) if attempt < 4 => {
                retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                attempt += 1;
                tracing_note(&err.to_string());
                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
            }
            Err(err) => return Err(err),
        }
    }
}

fn tracing_note(message: &str) {
    eprintln!(
        "bench: seeding retry after: {}",
        crate::report::one_line(message, 200)
    );
}

async fn tenant(api: &Api, ctx: &Ctx, label: &str) -> Result<Tenant> {
    let tenant_id = uuid::Uuid::new_v4().to_string();
    let token = api.sign_in(&ctx.secret, &tenant_id, label).await?;
    let data = api
        .gql(
            &token,
            CREATE_LOCATION,
            json!({"n": format!("{label} site")}),
        )
        .await?;
    let location = text(&data, "/createLocation/id")?;
    let data = api
        .gql(
            &token,
            CREATE_HOST,
            json!({"n": format!("{label} host"), "e": format!("host@{label}.example.com"), "l": location}),
        )
        .await?;
    let host = text(&data, "/createHost/id")?;
    Ok(Tenant {
        id: tenant_id,
        token,
        location,
        host,
    })
}

/// Creates and seeds a database for `backend`.
pub async fn create(ctx: &Ctx, backend: Backend) -> Result<Dataset> {
    let started = Instant::now();
    let url = fresh_database(ctx, backend).await?;
    let server = Server::onegraph(
        &ctx.onegraph,
        &ctx.work_dir,
        &format!("seed-{}", backend.label()),
        &url,
        &ctx.secret,
        &[],
    )
    .await?;
    let api = Api {
        http: ctx.http.clone(),
        base: server.base.clone(),
    };
    let mut read = tenant(&api, ctx, "read").await?;
    let token = read.token.clone();

    let mut locations = vec![read.location.clone()];
    for i in 1..LOCATIONS {
        let data = api
            .gql(&token, CREATE_LOCATION, json!({"n": format!("Site {i}")}))
            .await?;
        locations.push(text(&data, "/createLocation/id")?);
    }
    let mut hosts = vec![read.host.clone()];
    for i in 1..HOSTS {
        let data = api
            .gql(
                &token,
                CREATE_HOST,
                json!({"n": format!("Host {i}"), "e": format!("host{i}@read.example.com"), "l": locations[i % LOCATIONS]}),
            )
            .await?;
        hosts.push(text(&data, "/createHost/id")?);
    }
    // badges[location][n]
    let mut badges: Vec<Vec<String>> = Vec::new();
    for (l, location) in locations.iter().enumerate() {
        let mut at_location = Vec::new();
        for n in 0..BADGES_PER_LOCATION {
            let data = api
                .gql(
                    &token,
                    ADD_BADGE,
                    json!({"l": location, "n": format!("B{l}-{n:02}")}),
                )
                .await?;
            at_location.push(text(&data, "/addBadge/id")?);
        }
        badges.push(at_location);
    }

    // Visits, one client at a time (concurrent check-ins fail on SQLite with "database is
    // locked"; the write scenario measures that): visit i is at location i % 4 with host
    // i % 20 and badge (i / 4) % 16 of its location, and is checked out again (freeing the
    // badge) unless it is among the last few.
    let total = ctx.opts.visits;
    let retries = std::sync::atomic::AtomicU64::new(0);
    for i in 0..total {
        let location = i % LOCATIONS;
        let data = with_retry(
            &api,
            &token,
            SEED_CHECK_IN,
            json!({
                "l": locations[location],
                "h": hosts[i % HOSTS],
                "b": badges[location][(i / LOCATIONS) % BADGES_PER_LOCATION],
                "n": format!("Visitor {i}"),
                "c": format!("Company {}", i % 37),
            }),
            &retries,
        )
        .await?;
        let visit = text(&data, "/checkInVisitor/id")?;
        if i + 2 * LOCATIONS < total {
            with_retry(&api, &token, CHECK_OUT, json!({"v": visit}), &retries).await?;
        }
    }
    read.location = locations[0].clone();
    let write = tenant(&api, ctx, "write").await?;
    let fanout = tenant(&api, ctx, "fanout").await?;
    server.stop().await;
    let retried = retries.load(std::sync::atomic::Ordering::Relaxed);
    ctx.note(format!(
        "{}: seeded {total} visits ({LOCATIONS} locations, {HOSTS} hosts, {} badges; every visit has a visitor, host and badge) through the GraphQL API, one request at a time, in {:.1} s{}.",
        backend.label(),
        LOCATIONS * BADGES_PER_LOCATION,
        started.elapsed().as_secs_f64(),
        if retried > 0 {
            format!(", {retried} mutations retried after an error body")
        } else {
            String::new()
        }
    ));
    Ok(Dataset {
        backend,
        url,
        read,
        write,
        fanout,
    })
}
