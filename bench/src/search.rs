//! Global search at scale: 100,000 visits (some 60,000 visitors, most with a company) and
//! 200 locations in one tenant, searched by Hub's way in (the platform integration key, on
//! GraphQL `search` and on `GET /api/search`) with 8 requests in flight for the measured
//! window, for three kinds of query: a rare full name (one visitor), a common three-letter
//! substring (`son`: Johnson, Wilson, Jason, … about one visitor in ten) and a company
//! prefix (`acme`: the companies named `Acme …`, about one visitor in fifty). Prints p50,
//! p99 and the SQL statements per search; the targets are p50 under 20 ms and p99 under
//! 50 ms on both backends.
//!
//! The visits and visitors are written straight into the database (one visit a check-in
//! would take hours), through the same entities and, on SQLite, the same triggers that keep
//! the search index current; the locations through the API.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::body::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, Database, DatabaseConnection, EntityTrait, Statement,
    TransactionTrait,
};
use serde_json::{Value, json};

use crate::{
    Ctx, Result,
    client::Api,
    cpu,
    load::{self, Outcome, Sample, Spec, Workload},
    report::{self, RESULTS, Row, latency, mark, mib, rate, thousands},
    seed::{self, Backend},
    server::Server,
};

/// Visits seeded.
const VISITS: usize = 100_000;
/// Locations seeded.
const LOCATIONS: usize = 200;
/// Requests in flight.
const CONCURRENCY: usize = 8;
/// The targets.
const P50_TARGET: Duration = Duration::from_millis(20);
const P99_TARGET: Duration = Duration::from_millis(50);
/// The platform key of the run.
const KEY: &str = "bench-platform-integration-key-0123456789";
/// The one visitor of the rare full name.
const RARE: &str = "Zebediah Quartermaine";

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kevin",
    "Carol",
    "Brian",
    "Amanda",
    "George",
    "Melissa",
    "Edward",
    "Deborah",
    "Ronald",
    "Stephanie",
    "Timothy",
    "Rebecca",
    "Jason",
    "Sharon",
    "Jeffrey",
    "Laura",
    "Ryan",
    "Cynthia",
    "Jacob",
    "Kathleen",
    "Gary",
    "Amy",
    "Nicholas",
    "Shirley",
    "Eric",
    "Angela",
    "Alison",
    "Helen",
    "Samuel",
    "Anna",
    "Frank",
    "Emma",
    "Grace",
    "Olivia",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
];
const WORDS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Massive",
    "Oscorp",
    "Nakatomi",
    "Monarch",
    "Aperture",
    "Sterling",
    "Prestige",
    "Virtucon",
    "Genco",
    "Bluth",
    "Duff",
    "Rekall",
    "Spacely",
    "Cogswell",
    "Weyland",
    "Octan",
    "Ajax",
    "Apex",
    "Summit",
    "Pinnacle",
    "Vertex",
    "Horizon",
    "Meridian",
    "Atlas",
    "Titan",
    "Orion",
    "Nova",
    "Quantum",
    "Fusion",
    "Nimbus",
    "Zenith",
    "Vanguard",
    "Pioneer",
    "Frontier",
    "Liberty",
    "Heritage",
    "Legacy",
    "Crown",
    "Royal",
    "Empire",
    "Imperial",
    "Sovereign",
    "Harbor",
    "Granite",
];
const KINDS: &[&str] = &[
    "Corp",
    "Inc",
    "Ltd",
    "Logistics",
    "Systems",
    "Holdings",
    "Partners",
    "Group",
    "Labs",
    "Industries",
    "Consulting",
    "Solutions",
    "Foods",
    "Energy",
    "Health",
    "Capital",
    "Media",
];
const PLACES: &[&str] = &[
    "Harbour",
    "North",
    "South",
    "East",
    "West",
    "Central",
    "Riverside",
    "Hillside",
    "Park",
    "Station",
];

/// A small deterministic generator (xorshift64*), so every run seeds the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// One kind of query.
struct Query {
    label: &'static str,
    text: &'static str,
    check: fn(&[Value]) -> std::result::Result<(), String>,
}

fn rare(results: &[Value]) -> std::result::Result<(), String> {
    match results.first() {
        Some(first) if first.to_string().contains(RARE) => Ok(()),
        _ => Err(format!("{RARE} is not the first result")),
    }
}

fn twenty(results: &[Value]) -> std::result::Result<(), String> {
    if results.len() == 20 {
        Ok(())
    } else {
        Err(format!("{} results, not 20", results.len()))
    }
}

fn acme(results: &[Value]) -> std::result::Result<(), String> {
    twenty(results)?;
    let first = results[0].to_string().to_lowercase();
    if first.contains("\"acme ") {
        Ok(())
    } else {
        Err(format!("the first result is no Acme visitor: {first}"))
    }
}

const QUERIES: &[Query] = &[
    Query {
        label: "rare full name",
        text: "zebediah quartermaine",
        check: rare,
    },
    Query {
        label: "common 3-letter substring",
        text: "son",
        check: twenty,
    },
    Query {
        label: "company prefix",
        text: "acme",
        check: acme,
    },
];

const GRAPHQL: &str = "query Search($q: String!) { search(query: $q, first: 20) { __typename \
    ... on Visit { id status visitor { name company } location { name } } \
    ... on Location { id name address type } } }";

/// One search, over GraphQL or REST, with the platform key; the answer checked.
struct SearchWorkload {
    http: reqwest::Client,
    request: Box<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>,
    rest: bool,
    check: fn(&[Value]) -> std::result::Result<(), String>,
}

impl SearchWorkload {
    async fn fetch(&self) -> std::result::Result<Bytes, String> {
        let response = (self.request)(&self.http)
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

    fn validate(&self, body: &[u8]) -> std::result::Result<(), String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        if value.get("errors").is_some() {
            return Err(format!(
                "error body: {}",
                report::one_line(&value.to_string(), 200)
            ));
        }
        let results = if self.rest {
            value["results"].as_array()
        } else {
            value["data"]["search"].as_array()
        };
        let results = results
            .ok_or_else(|| format!("no results: {}", report::one_line(&value.to_string(), 200)))?;
        (self.check)(results)
    }
}

impl Workload for SearchWorkload {
    async fn call(&self, _worker: usize, _seq: u64) -> Sample {
        let start = Instant::now();
        let body = self.fetch().await;
        let latency = start.elapsed();
        Sample {
            latency,
            result: body.and_then(|b| self.validate(&b)),
        }
    }
}

/// The scenario, on each configured backend.
pub async fn search(ctx: &Ctx) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &backend in &ctx.opts.backends {
        match search_on(ctx, backend).await {
            Ok(mut more) => rows.append(&mut more),
            Err(err) => rows.push(Row::failed("search", backend.label(), &err.to_string())),
        }
    }
    Ok(rows)
}

/// Inserts the visitors and visits of `tenant` at `locations`; returns how many visitors.
async fn seed_visits(db: &DatabaseConnection, tenant: &str, locations: &[String]) -> Result<usize> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let companies: Vec<String> = (0..800)
        .map(|_| format!("{} {}", rng.pick(WORDS), rng.pick(KINDS)))
        .collect();
    let start = chrono::Utc::now() - chrono::Duration::days(365);
    let step = chrono::Duration::seconds(365 * 86_400 / VISITS as i64);
    let mut visitor_ids: Vec<String> = Vec::new();
    let mut visitors = Vec::new();
    let mut visits = Vec::new();
    for i in 0..VISITS {
        let at = start + step * i as i32;
        let returning = !visitor_ids.is_empty() && rng.below(10) < 4;
        let visitor = if i == VISITS / 2 {
            None
        } else if returning {
            Some(visitor_ids[rng.below(visitor_ids.len())].clone())
        } else {
            None
        };
        let visitor = match visitor {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let (name, company) = if i == VISITS / 2 {
                    (
                        RARE.to_owned(),
                        Some("Quartermaine Heritage Trust".to_owned()),
                    )
                } else {
                    let company =
                        (rng.below(10) < 8).then(|| companies[rng.below(companies.len())].clone());
                    (format!("{} {}", rng.pick(FIRST), rng.pick(LAST)), company)
                };
                visitors.push(entities::visitors::ActiveModel {
                    id: Set(id.clone()),
                    tenant_id: Set(tenant.to_owned()),
                    name: Set(name),
                    email: Set(None),
                    email_normalized: Set(None),
                    phone: Set(None),
                    company: Set(company),
                    ai_risk_score: Set(None),
                    ai_risk_notes: Set(None),
                    anonymized_at: Set(None),
                    created_at: Set(at),
                    updated_at: Set(at),
                });
                if i != VISITS / 2 {
                    visitor_ids.push(id.clone());
                }
                id
            }
        };
        let open = i + 50 >= VISITS;
        visits.push(entities::visits::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            tenant_id: Set(tenant.to_owned()),
            visitor_id: Set(visitor),
            location_id: Set(locations[rng.below(locations.len())].clone()),
            host_id: Set(None),
            badge_id: Set(None),
            pre_registration_id: Set(None),
            kiosk_id: Set(None),
            status: Set(if open {
                entities::visits::VisitStatus::CheckedIn
            } else {
                entities::visits::VisitStatus::CheckedOut
            }),
            source: Set(entities::visits::CheckInSource::Staff),
            purpose: Set(None),
            checked_in_at: Set(at),
            checked_out_at: Set((!open).then(|| at + chrono::Duration::hours(1))),
            checked_in_by: Set("staff:bench".into()),
        });
    }
    let count = visitors.len();
    // Visitors before the visits that name them.
    let txn = db.begin().await?;
    for chunk in visitors.chunks(1000) {
        entities::visitors::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    for chunk in visits.chunks(1000) {
        entities::visits::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(count)
}

/// How many of the tenant's visitors a query's pattern matches, for the notes.
async fn matching(db: &DatabaseConnection, tenant: &str, text: &str) -> Result<i64> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "SELECT count(*) AS n FROM visitors WHERE tenant_id = $1 \
             AND (lower(name) LIKE $2 OR lower(company) LIKE $2)",
            [tenant.into(), format!("%{text}%").into()],
        ))
        .await?
        .ok_or("no count")?;
    Ok(row.try_get::<i64>("", "n")?)
}

async fn search_on(ctx: &Ctx, backend: Backend) -> Result<Vec<Row>> {
    let label = backend.label();
    let started = Instant::now();
    let url = seed::fresh_database(ctx, backend).await?;
    // Migrated by the first start; the locations through the API.
    let server = Server::onegraph(
        &ctx.onegraph,
        &ctx.work_dir,
        &format!("search-seed-{label}"),
        &url,
        &ctx.secret,
        &[],
    )
    .await?;
    let api = Api {
        http: ctx.http.clone(),
        base: server.base.clone(),
    };
    let tenant = uuid::Uuid::new_v4().to_string();
    let token = api.sign_in(&ctx.secret, &tenant, "search").await?;
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut locations = Vec::new();
    for i in 0..LOCATIONS {
        let data = api
            .gql(
                &token,
                "mutation($n: String!, $a: String) { createLocation(input: {name: $n, address: $a}) { id } }",
                json!({
                    "n": format!("{} Site {i}", rng.pick(PLACES)),
                    "a": format!("{} {} Street", 1 + rng.below(200), rng.pick(LAST)),
                }),
            )
            .await?;
        locations.push(crate::client::text(&data, "/createLocation/id")?);
    }
    server.stop().await;
    let db = Database::connect(&url).await?;
    let visitors = seed_visits(&db, &tenant, &locations).await?;
    let analyze = match backend {
        Backend::Sqlite => "ANALYZE",
        Backend::Postgres => "VACUUM ANALYZE",
    };
    db.execute_unprepared(analyze).await?;
    let mut counts = Vec::new();
    for query in QUERIES {
        counts.push(format!(
            "`{}` {}",
            query.text,
            thousands(matching(&db, &tenant, query.text).await? as u64)
        ));
    }
    db.close().await?;
    ctx.note(format!(
        "search on {label}: seeded {} visits of {} visitors ({} companies named from 56 words, \
         80 % of visitors with one) and {LOCATIONS} locations in {:.0} s; visitors matching: {}.",
        thousands(VISITS as u64),
        thousands(visitors as u64),
        800,
        started.elapsed().as_secs_f64(),
        counts.join(", ")
    ));

    let server = Server::onegraph(
        &ctx.onegraph,
        &ctx.work_dir,
        &format!("search-onegraph-{label}"),
        &url,
        &ctx.secret,
        &[("INTEGRATION_KEY", KEY)],
    )
    .await?;
    let spec = Spec {
        concurrency: CONCURRENCY,
        warmup: Duration::from_secs(ctx.opts.warmup),
        duration: Duration::from_secs(ctx.opts.duration),
    };
    let mut rows = Vec::new();
    for query in QUERIES {
        for rest in [false, true] {
            let workload = if rest {
                let url = reqwest::Url::parse_with_params(
                    &format!("{}/api/search", server.base),
                    &[("q", query.text), ("tenant_id", tenant.as_str())],
                )?;
                SearchWorkload {
                    http: ctx.http.clone(),
                    request: Box::new(move |http| {
                        http.get(url.clone()).header("X-Integration-Key", KEY)
                    }),
                    rest,
                    check: query.check,
                }
            } else {
                let url = format!("{}/graphql", server.base);
                let body = Bytes::from(
                    json!({"query": GRAPHQL, "variables": {"q": query.text}}).to_string(),
                );
                let tenant = HeaderValue::from_str(&tenant)?;
                SearchWorkload {
                    http: ctx.http.clone(),
                    request: Box::new(move |http| {
                        http.post(&url)
                            .header("X-Integration-Key", KEY)
                            .header("X-Tenant-Id", tenant.clone())
                            .header(CONTENT_TYPE, "application/json")
                            .body(body.clone())
                    }),
                    rest,
                    check: query.check,
                }
            };
            let first = workload.fetch().await?;
            workload
                .validate(&first)
                .map_err(|e| format!("{}: the first response is not valid: {e}", query.label))?;
            let before = server.statements(&ctx.http).await?;
            let meter = cpu::Meter::start(server.pid());
            let outcome = load::run(Arc::new(workload), spec).await;
            let usage = meter.stop();
            let after = server.statements(&ctx.http).await?;
            let statements = (after - before) as f64 / outcome.sent.max(1) as f64;
            let way = if rest {
                "`GET /api/search`"
            } else {
                "GraphQL `search`"
            };
            rows.push(search_row(
                label,
                &format!("{way}: {} `{}`", query.label, query.text),
                spec,
                &outcome,
                &usage,
                statements,
            ));
            if outcome.errors > 0 {
                ctx.note(format!(
                    "search on {label}, {} ({way}): {} failed responses, e.g. {}",
                    query.label,
                    outcome.errors,
                    outcome.error_summary()
                ));
            }
        }
    }
    let memory = server.stop().await;
    if let Some(last) = rows.last_mut() {
        last.peak_rss = mib(memory.peak_kib);
    }
    Ok(rows)
}

fn search_row(
    backend: &str,
    server: &str,
    spec: Spec,
    outcome: &Outcome,
    usage: &cpu::Usage,
    statements: f64,
) -> Row {
    let mut row = Row::new(RESULTS, "search", backend, server);
    row.load = spec.describe();
    row.ok = thousands(outcome.ok);
    row.errors = thousands(outcome.errors);
    row.throughput = rate(outcome.throughput());
    let (p50, p99) = (outcome.quantile(0.50), outcome.quantile(0.99));
    row.p50 = latency(p50);
    row.p99 = latency(p99);
    row.statements = format!("{statements:.2}");
    row.cpu_per_op = latency(usage.server_per(outcome.sent));
    row.cpu_split = usage.split();
    row.verdict = format!(
        "p50 < 20 ms, p99 < 50 ms {}",
        mark(p50 < P50_TARGET && p99 < P99_TARGET && outcome.errors == 0 && outcome.ok > 0)
    );
    row
}
