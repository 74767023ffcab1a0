//! `bench`: onegraph's benchmark. It starts what it needs on 127.0.0.1 (onegraph's release
//! binary and a baseline server, each its own process, on a fresh SQLite file and a fresh
//! PostgreSQL database), seeds data through the GraphQL API, warms up, runs each scenario
//! for a fixed time at a fixed concurrency, validates every response body, and prints
//! markdown tables (throughput, p50/p99 latency, peak memory, statements per request) with
//! the machine they ran on. See `bench/run.sh` and BENCHMARKS.md.
//!
//! Adding a scenario: write `async fn x(ctx: &Ctx) -> Result<Vec<Row>>` in
//! [`scenarios`] and add one line to [`SCENARIOS`].

mod baseline;
mod client;
mod cpu;
mod fanout;
mod load;
mod machine;
mod mission;
mod report;
mod scenarios;
mod search;
mod seed;
mod server;
mod soak;

use std::{
    collections::HashMap,
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use clap::{Parser, Subcommand};
use futures_util::future::BoxFuture;

use report::{Report, Row};
use seed::{Backend, Dataset};

/// Errors: anything printable.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// A scenario: a name for the command line and a function producing table rows.
pub struct Scenario {
    /// Command-line name.
    pub name: &'static str,
    /// One line of help.
    pub about: &'static str,
    /// Runs it.
    pub run: for<'a> fn(&'a Ctx) -> BoxFuture<'a, Result<Vec<Row>>>,
}

/// Every scenario, in the order `all` runs them and the table shows them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "read",
        about: "visits(first: 50) with visitor, location, host and badge; onegraph vs the baseline",
        run: |ctx| Box::pin(scenarios::read(ctx)),
    },
    Scenario {
        name: "write",
        about: "checkInVisitor (outbox row and subscription event included)",
        run: |ctx| Box::pin(scenarios::write(ctx)),
    },
    Scenario {
        name: "fanout",
        about: "N graphql-transport-ws subscribers, one check-in, time until the last has it",
        run: |ctx| Box::pin(scenarios::fanout(ctx)),
    },
    Scenario {
        name: "statements",
        about: "SQL statements per read request at page sizes 5, 50 and 100",
        run: |ctx| Box::pin(scenarios::statements(ctx)),
    },
    Scenario {
        name: "mission",
        about: "mission { events } via a fake Mission vs me { kind } and the fake alone, 1 client",
        run: |ctx| Box::pin(mission::mission(ctx)),
    },
    Scenario {
        name: "search",
        about: "search on 100,000 visits: a rare name, a common substring, a company prefix; 8 in flight",
        run: |ctx| Box::pin(search::search(ctx)),
    },
    Scenario {
        name: "sweep",
        about: "DATALOADER_DELAY × DATABASE_MAX_CONNECTIONS on the read path",
        run: |ctx| Box::pin(scenarios::sweep(ctx)),
    },
];

fn scenario_names() -> Vec<&'static str> {
    let mut names = vec!["all"];
    names.extend(SCENARIOS.iter().map(|s| s.name));
    names
}

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Benchmarks onegraph against a minimal axum baseline on loopback",
    after_help = scenario_help(),
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    internal: Option<Internal>,
    /// Scenarios to run (default: all).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(scenario_names()))]
    scenarios: Vec<String>,
    #[command(flatten)]
    opts: Options,
}

fn scenario_help() -> String {
    let mut help = String::from("Scenarios:\n");
    for s in SCENARIOS {
        help.push_str(&format!("  {:<11} {}\n", s.name, s.about));
    }
    help
}

#[derive(Subcommand)]
enum Internal {
    /// The baseline server; the benchmark starts it itself.
    BaselineServer(baseline::Args),
    /// A bounded soak on PostgreSQL: mixed load, open subscriptions, a failing Bus, and
    /// checks of delivery and memory (see bench/soak.sh).
    Soak(soak::Args),
}

/// Load and set-up options.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Measured seconds per load run.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Warm-up seconds before each measured window.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Requests in flight (HTTP scenarios).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Measured seconds per point of the settings sweep.
    #[arg(long, default_value_t = 4)]
    pub sweep_duration: u64,
    /// Warm-up seconds per point of the settings sweep.
    #[arg(long, default_value_t = 1)]
    pub sweep_warmup: u64,
    /// WebSocket subscribers of the fan-out.
    #[arg(long, default_value_t = 10_000)]
    pub subscribers: usize,
    /// Visits seeded for the read path (at least 200).
    #[arg(long = "visits", default_value_t = 600, value_parser = clap::value_parser!(u64).range(200..=100_000))]
    visits_seeded: u64,
    /// Backends, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres", value_parser = Backend::parse)]
    pub backends: Vec<Backend>,
    /// PostgreSQL server; the benchmark creates (and drops) its own database there.
    /// Default: $BENCH_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/test.
    #[arg(long)]
    postgres: Option<String>,
    /// onegraph's binary (default: `onegraph` beside this binary).
    #[arg(long)]
    pub onegraph: Option<PathBuf>,
    /// Also write the markdown report to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep the work directory (databases and server logs).
    #[arg(long)]
    pub keep: bool,
    #[arg(skip)]
    pub postgres_url: String,
    #[arg(skip)]
    pub visits: usize,
}

/// What scenarios share: options, binaries, the work directory, the HTTP client, the
/// seeded data sets and notes for the report.
pub struct Ctx {
    /// The options.
    pub opts: Options,
    /// onegraph's release binary.
    pub onegraph: PathBuf,
    /// This binary (for `baseline-server`).
    pub bench: PathBuf,
    /// Databases and logs.
    pub work_dir: PathBuf,
    /// The SSO secret every onegraph process of the run shares.
    pub secret: String,
    /// The HTTP client.
    pub http: reqwest::Client,
    datasets: tokio::sync::Mutex<HashMap<Backend, Arc<Dataset>>>,
    /// PostgreSQL databases to drop at the end.
    pub created_databases: tokio::sync::Mutex<Vec<String>>,
    notes: Mutex<Vec<String>>,
}

impl Ctx {
    /// The seeded data set of `backend`, made on first use.
    pub async fn dataset(&self, backend: Backend) -> Result<Arc<Dataset>> {
        let mut datasets = self.datasets.lock().await;
        if let Some(data) = datasets.get(&backend) {
            return Ok(data.clone());
        }
        eprintln!("bench: seeding {}…", backend.label());
        let data = Arc::new(seed::create(self, backend).await?);
        datasets.insert(backend, data.clone());
        Ok(data)
    }

    /// Adds a note under the tables.
    pub fn note(&self, note: String) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.push(note);
        }
    }

    /// The main load runs.
    pub fn spec(&self) -> load::Spec {
        load::Spec {
            concurrency: self.opts.concurrency,
            warmup: Duration::from_secs(self.opts.warmup),
            duration: Duration::from_secs(self.opts.duration),
        }
    }

    /// The sweep's shorter runs.
    pub fn sweep_spec(&self) -> load::Spec {
        load::Spec {
            concurrency: self.opts.concurrency,
            warmup: Duration::from_secs(self.opts.sweep_warmup),
            duration: Duration::from_secs(self.opts.sweep_duration),
        }
    }
}

async fn database_versions(ctx: &Ctx) -> Vec<(String, String)> {
    use sea_orm::{ConnectionTrait, Statement};
    let mut facts = Vec::new();
    let query = |url: String, sql: &'static str| async move {
        let db = sea_orm::Database::connect(&url).await.ok()?;
        let backend = db.get_database_backend();
        let row = db
            .query_one_raw(Statement::from_string(backend, sql))
            .await
            .ok()??;
        let version: String = row.try_get_by_index(0).ok()?;
        let _ = db.close().await;
        Some(version)
    };
    if ctx.opts.backends.contains(&Backend::Sqlite) {
        let url = format!(
            "sqlite://{}?mode=rwc",
            ctx.work_dir.join("version.db").display()
        );
        if let Some(v) = query(url, "SELECT sqlite_version()").await {
            facts.push((
                "SQLite".to_owned(),
                format!("{v} (bundled with sqlx; WAL, synchronous=NORMAL)"),
            ));
        }
    }
    if ctx.opts.backends.contains(&Backend::Postgres)
        && let Some(v) = query(ctx.opts.postgres_url.clone(), "SHOW server_version").await
    {
        facts.push((
            "PostgreSQL".to_owned(),
            format!("{v}, same machine, over TCP on 127.0.0.1"),
        ));
    }
    facts
}

async fn cleanup(ctx: &Ctx) {
    let names = ctx.created_databases.lock().await.clone();
    if !names.is_empty()
        && let Ok(admin) = sea_orm::Database::connect(&ctx.opts.postgres_url).await
    {
        for name in names {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(err) = sea_orm::ConnectionTrait::execute_unprepared(&admin, &sql).await {
                eprintln!("bench: could not drop {name}: {err}");
            }
        }
    }
    if !ctx.opts.keep {
        let _ = std::fs::remove_dir_all(&ctx.work_dir);
    }
}

/// The context of a run: resolves the PostgreSQL URL and onegraph's binary, and makes the
/// work directory.
fn context(mut opts: Options) -> Result<Ctx> {
    opts.postgres_url = opts
        .postgres
        .clone()
        .or_else(|| {
            std::env::var("BENCH_POSTGRES_URL")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    opts.visits = usize::try_from(opts.visits_seeded)?;
    let bench = std::env::current_exe()?;
    let onegraph = match &opts.onegraph {
        Some(path) => path.clone(),
        None => bench
            .parent()
            .ok_or("no directory for the bench binary")?
            .join("onegraph"),
    };
    if !onegraph.exists() {
        return Err(format!(
            "{} does not exist: build it with `cargo build --release -p onegraph` (or pass --onegraph)",
            onegraph.display()
        )
        .into());
    }
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let work_dir = std::env::temp_dir().join(format!("onegraph-bench-{}", &run_id[..8]));
    std::fs::create_dir_all(&work_dir)?;
    let ctx = Ctx {
        http: client::http_client(opts.concurrency.max(16))?,
        opts,
        onegraph,
        bench,
        work_dir,
        secret: format!("bench-secret-{run_id}"),
        datasets: tokio::sync::Mutex::new(HashMap::new()),
        created_databases: tokio::sync::Mutex::new(Vec::new()),
        notes: Mutex::new(Vec::new()),
    };
    eprintln!("bench: work directory {}", ctx.work_dir.display());
    Ok(ctx)
}

async fn run(scenarios: Vec<String>, opts: Options) -> Result<()> {
    let ctx = context(opts)?;
    let selected: Vec<&Scenario> = if scenarios.is_empty() || scenarios.iter().any(|s| s == "all") {
        SCENARIOS.iter().collect()
    } else {
        SCENARIOS
            .iter()
            .filter(|s| scenarios.iter().any(|n| n == s.name))
            .collect()
    };
    let mut report = Report {
        machine: machine::facts(),
        ..Report::default()
    };
    report.machine.extend(database_versions(&ctx).await);
    let load = cpu::machine_load(Duration::from_secs(1)).await;
    report.machine.push((
        "Machine busy before the run".to_owned(),
        format!("{load:.0} % of all cores (other processes)"),
    ));
    if load > 15.0 {
        eprintln!(
            "bench: warning: the machine is already {load:.0} % busy; figures will be low and noisy"
        );
    }
    for scenario in selected {
        eprintln!("bench: running {}…", scenario.name);
        let started = std::time::Instant::now();
        match (scenario.run)(&ctx).await {
            Ok(rows) => report.rows.extend(rows),
            Err(err) => report
                .rows
                .push(Row::failed(scenario.name, "—", &err.to_string())),
        }
        eprintln!(
            "bench: {} done in {:.0} s",
            scenario.name,
            started.elapsed().as_secs_f64()
        );
    }
    report.notes.push(format!(
        "The client (this benchmark: {} load tasks, reqwest over HTTP/1.1 keep-alive, tokio with one worker per core) and the server under test run on the same machine and share its {} cores; PostgreSQL shares them too. Figures are therefore lower than on a dedicated server, and the ratio to the baseline is the meaningful number.",
        ctx.opts.concurrency,
        std::thread::available_parallelism().map_or(0, usize::from)
    ));
    report.notes.push(
        "Every response body is parsed and checked (no `errors`, 50 edges each with visitor, location, host and badge; a check-in's id, status and visitor); an error body or wrong shape counts as an error, not a success. Throughput counts validated responses completed inside the measured window; latency is send → whole body received.".into(),
    );
    report.notes.push(
        "Baseline: `bench baseline-server`, a minimal axum handler for POST /graphql that authenticates the bearer session with the same SELECT, runs the same statements through the same sea-orm entities and pool settings (one page query with LIMIT 51, then one IN (…) query each for visitors, locations, hosts and badges, concurrently) and writes the same JSON (same values and byte length; onegraph's key order follows async-graphql's resolver completion order), without parsing GraphQL. Each server is a fresh process on the same database; peak RSS is its VmHWM.".into(),
    );
    if let Ok(mut notes) = ctx.notes.lock() {
        report.notes.append(&mut notes);
    }
    cleanup(&ctx).await;
    let markdown = report.markdown();
    println!("{markdown}");
    if let Some(path) = &ctx.opts.out {
        std::fs::write(path, &markdown)?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    onegraph::upstream::install_crypto_provider();
    let cli = Cli::parse();
    let result = match cli.internal {
        Some(Internal::BaselineServer(args)) => baseline::serve(args).await,
        Some(Internal::Soak(args)) => soak::run(args).await,
        None => run(cli.scenarios, cli.opts).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::FAILURE
        }
    }
}
