//! `bench soak`: a bounded soak of onegraph's release binary on a fresh PostgreSQL
//! database. For `--duration` (default 10 minutes) it holds `--subscribers` (default 1,000)
//! `graphql-transport-ws` subscriptions open while a paced mix of reads, check-ins,
//! check-outs, SSO logins and bursts of bad credentials runs ([`mix`]), with the outbox
//! pointed at a fake Bus that fails now and then ([`bus`]). It samples the server's RSS
//! every 10 s, then waits for the subscribers' events and the outbox to drain, and checks:
//!
//! - no unexpected error (anything but the bad credentials' refusals);
//! - every committed check-in reached every subscriber of its location (and of the tenant);
//! - every outbox row delivered, none dead, every Bus envelope id accepted at least once
//!   (duplicates counted apart: the outbox delivers at least once);
//! - the server's memory flat: the final RSS at most 10 % above the minute-2 figure.
//!
//! It prints markdown tables and exits non-zero when a check fails. See `bench/soak.sh`
//! and BENCHMARKS.md.

mod bus;
mod mix;
mod report;
mod subscribers;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::{
    Ctx, Options, Result,
    client::{self, Api},
    cpu, machine,
    seed::Backend,
    server::Server,
};
use bus::FakeBus;
use mix::{Mix, Rates, Tally};
use subscribers::{Delivery, Fleet, Received, Spec};

/// `bench soak` options.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// How long the mixed load runs (`90s`, `10m`, `1h`, or seconds).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub duration: Duration,
    /// WebSocket subscriptions held open for the whole soak.
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Subscriptions per staff user (each user has its own session).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..))]
    pub subscribers_per_user: u64,
    /// Locations of the soak tenant; check-ins go to each in turn.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub locations: u64,
    /// Reads (`visits(first: 50)` with its relations) per second.
    #[arg(long, default_value_t = 40.0)]
    pub reads_per_second: f64,
    /// Check-ins per second; each is followed by a check-out once 50 visits are open.
    #[arg(long, default_value_t = 4.0)]
    pub check_ins_per_second: f64,
    /// SSO logins (exchange, one query, logout) per minute.
    #[arg(long, default_value_t = 30.0)]
    pub logins_per_minute: f64,
    /// Bad credentials per burst.
    #[arg(long, default_value_t = 60)]
    pub bad_tokens: usize,
    /// Time between bursts of bad credentials (the first comes at half of it).
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub burst_every: Duration,
    /// The fake Bus answers every n-th request 500 (0: never).
    #[arg(long, default_value_t = 20)]
    pub bus_fail_every: u64,
    /// RSS sampling interval.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub sample_every: Duration,
    /// When the reference RSS is taken (default: 2 minutes in, or a third of the duration
    /// when it is under 6 minutes).
    #[arg(long, value_parser = parse_duration)]
    pub reference: Option<Duration>,
    /// Final RSS allowed above the reference, in percent.
    #[arg(long, default_value_t = 10.0)]
    pub rss_tolerance: f64,
    /// How long to wait for the outbox to drain after the load.
    #[arg(long, default_value = "3m", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Visits seeded for the read path (at least 200).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(200..=100_000))]
    pub visits: u64,
    /// Extra settings for the server under test, `NAME=value` (repeatable).
    #[arg(long = "server-env", value_parser = parse_setting)]
    pub server_env: Vec<(String, String)>,
    /// PostgreSQL server; the soak creates (and drops) its own database there.
    /// Default: $BENCH_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/test.
    #[arg(long)]
    pub postgres: Option<String>,
    /// onegraph's binary (default: `onegraph` beside this binary).
    #[arg(long)]
    pub onegraph: Option<PathBuf>,
    /// Also write the markdown report to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep the work directory (server logs) and the database.
    #[arg(long)]
    pub keep: bool,
}

/// Parses `90s`, `10m`, `1h30m`, `500ms` or a number of seconds.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err("an empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration such as 90s, 10m or 1h"))?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        total += match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number * 60),
            "h" => Duration::from_secs(number * 3600),
            _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
        };
    }
    Ok(total)
}

fn parse_setting(text: &str) -> std::result::Result<(String, String), String> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{text:?} is not NAME=value"))
}

/// One RSS sample with the counters at that moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Time since the load started.
    pub at: Duration,
    /// The server's VmRSS.
    pub rss_kib: u64,
    /// Reads done.
    pub reads: u64,
    /// Check-ins done.
    pub check_ins: u64,
    /// Check-outs done.
    pub check_outs: u64,
    /// Logins done.
    pub logins: u64,
    /// Bad credentials refused.
    pub refused: u64,
    /// Unexpected errors.
    pub unexpected: u64,
    /// Events received by the subscribers.
    pub events: u64,
    /// Bus requests accepted.
    pub bus_accepted: u64,
    /// Bus requests failed on purpose.
    pub bus_failed: u64,
}

fn sample(
    at: Duration,
    server: &Server,
    tally: &Tally,
    events: &AtomicU64,
    bus: &FakeBus,
) -> Sample {
    Sample {
        at,
        rss_kib: server.memory().rss_kib,
        reads: tally.reads.ok.load(Ordering::Relaxed),
        check_ins: tally.check_ins.ok.load(Ordering::Relaxed),
        check_outs: tally.check_outs.ok.load(Ordering::Relaxed),
        logins: tally.logins.ok.load(Ordering::Relaxed),
        refused: tally.bad_tokens.expected.load(Ordering::Relaxed),
        unexpected: tally.errors.count.load(Ordering::Relaxed),
        events: events.load(Ordering::Relaxed),
        bus_accepted: bus.state.accepted_total.load(Ordering::Relaxed),
        bus_failed: bus.state.failed.load(Ordering::Relaxed),
    }
}

/// The outbox after the drain.
#[derive(Debug, Default)]
pub struct OutboxFigures {
    /// Rows.
    pub rows: u64,
    /// Bus rows.
    pub bus_rows: u64,
    /// Rows delivered.
    pub delivered: u64,
    /// Rows neither delivered nor dead.
    pub pending: u64,
    /// Dead rows.
    pub dead: u64,
    /// Rows that needed more than one attempt.
    pub retried: u64,
    /// Most attempts of a delivered row.
    pub max_attempts: i32,
    /// Bus rows whose id the Bus never accepted.
    pub never_accepted: u64,
    /// Bus rows accepted more than once, and the extra acceptances.
    pub duplicated_ids: u64,
    /// Extra acceptances of those rows.
    pub duplicate_deliveries: u64,
    /// Ids the Bus accepted that no outbox row has.
    pub unknown_ids: u64,
    /// `visitor.checked_in` rows of the soak tenant.
    pub check_in_events: u64,
    /// `visitor.checked_out` rows of the soak tenant.
    pub check_out_events: u64,
    /// Row counts per event type.
    pub per_type: Vec<(String, u64)>,
    /// A few `last_error`s of dead or pending rows.
    pub problems: Vec<String>,
}

async fn pending_rows(db: &sea_orm::DatabaseConnection) -> Result<u64> {
    use entities::outbox::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::DeliveredAt.is_null())
        .filter(Column::Dead.eq(false))
        .count(db)
        .await?)
}

async fn outbox_figures(
    db: &sea_orm::DatabaseConnection,
    tenant: &str,
    accepted: &HashMap<String, (u32, String)>,
) -> Result<OutboxFigures> {
    use entities::outbox::{Entity, OutboxKind};
    let rows = Entity::find().all(db).await?;
    let mut figures = OutboxFigures::default();
    let mut per_type: HashMap<String, u64> = HashMap::new();
    for row in &rows {
        figures.rows += 1;
        *per_type.entry(row.event_type.clone()).or_default() += 1;
        if row.delivered_at.is_some() {
            figures.delivered += 1;
            figures.max_attempts = figures.max_attempts.max(row.attempts + 1);
        } else if !row.dead {
            figures.pending += 1;
        }
        if row.dead {
            figures.dead += 1;
        }
        if row.attempts > 0 {
            figures.retried += 1;
        }
        if (row.dead || row.delivered_at.is_none()) && figures.problems.len() < 5 {
            figures.problems.push(format!(
                "{} {} ({} attempts): {}",
                row.event_type,
                row.id,
                row.attempts,
                row.last_error.as_deref().unwrap_or("no error recorded")
            ));
        }
        if row.kind == OutboxKind::Bus {
            figures.bus_rows += 1;
            match accepted.get(&row.id) {
                None => figures.never_accepted += 1,
                Some((times, _)) if *times > 1 => {
                    figures.duplicated_ids += 1;
                    figures.duplicate_deliveries += u64::from(*times - 1);
                }
                Some(_) => {}
            }
        }
        if row.tenant_id.as_deref() == Some(tenant) {
            match row.event_type.as_str() {
                "visitor.checked_in" => figures.check_in_events += 1,
                "visitor.checked_out" => figures.check_out_events += 1,
                _ => {}
            }
        }
    }
    let ids: std::collections::HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    figures.unknown_ids = accepted
        .keys()
        .filter(|id| !ids.contains(id.as_str()))
        .count() as u64;
    let mut per_type: Vec<(String, u64)> = per_type.into_iter().collect();
    per_type.sort();
    figures.per_type = per_type;
    Ok(figures)
}

/// The server log's ERROR lines and its WARN lines by message.
#[derive(Debug, Default)]
pub struct LogFigures {
    /// ERROR lines.
    pub errors: u64,
    /// The first few ERROR lines.
    pub error_lines: Vec<String>,
    /// WARN messages and their counts, most frequent first.
    pub warnings: Vec<(String, u64)>,
}

/// Reads a `tracing` fmt log (ANSI colours or not).
pub fn scan_log(text: &str) -> LogFigures {
    let mut figures = LogFigures::default();
    let mut warnings: HashMap<String, u64> = HashMap::new();
    for raw in text.lines() {
        let line = strip_ansi(raw);
        let mut words = line.split_whitespace();
        let _time = words.next();
        let level = words.next().unwrap_or("");
        // The message: after the target (`onegraph::events::dispatcher:`), without fields.
        let rest: Vec<&str> = words.collect();
        let message = rest
            .iter()
            .skip(1)
            .take_while(|w| !w.contains('='))
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        match level {
            "ERROR" => {
                figures.errors += 1;
                if figures.error_lines.len() < 5 {
                    figures
                        .error_lines
                        .push(crate::report::one_line(&line, 300));
                }
            }
            "WARN" => *warnings.entry(message).or_default() += 1,
            _ => {}
        }
    }
    let mut warnings: Vec<(String, u64)> = warnings.into_iter().collect();
    warnings.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    figures.warnings = warnings;
    figures
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ … final byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Everything the report needs.
pub struct Outcome {
    /// The options.
    pub args: Args,
    /// Machine facts.
    pub machine: Vec<(String, String)>,
    /// The load's counts.
    pub tally: Arc<Tally>,
    /// The RSS samples.
    pub samples: Vec<Sample>,
    /// The reference sample's time.
    pub reference: Duration,
    /// Subscribers opened, and the time it took.
    pub opened: (usize, Duration),
    /// Server RSS before the subscribers, and with them idle.
    pub idle_rss: (u64, u64),
    /// The server's RSS after the drain, and its peak.
    pub after: machine::Memory,
    /// CPU during the load.
    pub cpu: cpu::Usage,
    /// Subscribers' deliveries.
    pub delivery: Delivery,
    /// Time from the end of the load until the last event arrived (or the wait ended).
    pub delivery_wait: Duration,
    /// The outbox after the drain.
    pub outbox: OutboxFigures,
    /// Time the drain took.
    pub drain: Duration,
    /// What the fake Bus saw: requests, accepted, failed on purpose, refused.
    pub bus: (u64, u64, u64, u64),
    /// Why the Bus refused requests.
    pub bus_refusals: Vec<String>,
    /// The server log.
    pub log: LogFigures,
}

/// The reference time for a run of `duration`.
fn reference_time(args: &Args) -> Duration {
    args.reference
        .unwrap_or(if args.duration >= Duration::from_secs(360) {
            Duration::from_secs(120)
        } else {
            args.duration / 3
        })
}

/// Runs the soak and prints its report; an error when a check fails.
pub async fn run(args: Args) -> Result<()> {
    if args.subscribers == 0 {
        return Err("--subscribers must be at least 1".into());
    }
    let opts = Options {
        duration: args.duration.as_secs(),
        warmup: 0,
        concurrency: 16,
        sweep_duration: 0,
        sweep_warmup: 0,
        subscribers: args.subscribers,
        visits_seeded: args.visits,
        backends: vec![Backend::Postgres],
        postgres: args.postgres.clone(),
        onegraph: args.onegraph.clone(),
        out: args.out.clone(),
        keep: args.keep,
        postgres_url: String::new(),
        visits: 0,
    };
    let (soft, hard) = machine::open_file_limits();
    let needed = args.subscribers as u64 + 512;
    if soft < needed {
        return Err(format!(
            "the open-file limit is {soft} (hard {hard}); {} subscribers need about {needed}: run through bench/soak.sh or raise `ulimit -n`",
            args.subscribers
        )
        .into());
    }
    let ctx = crate::context(opts)?;
    let result = soak(&ctx, &args).await;
    if args.keep {
        let kept: Vec<String> = std::mem::take(&mut *ctx.created_databases.lock().await);
        eprintln!(
            "bench: kept {} and the database(s) {}",
            ctx.work_dir.display(),
            kept.join(", ")
        );
    }
    crate::cleanup(&ctx).await;
    let outcome = result?;
    let (markdown, failed) = report::markdown(&outcome);
    println!("{markdown}");
    if let Some(path) = &args.out {
        std::fs::write(path, &markdown)?;
        eprintln!("bench: wrote {}", path.display());
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("soak failed: {}", failed.join("; ")).into())
    }
}

async fn soak(ctx: &Ctx, args: &Args) -> Result<Outcome> {
    let mut machine = machine::facts();
    machine.extend(crate::database_versions(ctx).await);
    let busy = cpu::machine_load(Duration::from_secs(1)).await;
    machine.push((
        "Machine busy before the run".to_owned(),
        format!("{busy:.0} % of all cores (other processes)"),
    ));

    // The read tenant's data, seeded through the API by a server of its own.
    let data = ctx.dataset(Backend::Postgres).await?;

    let bus = FakeBus::start(args.bus_fail_every).await?;
    let mut env: Vec<(&str, &str)> = vec![
        ("BUS_API_URL", bus.base.as_str()),
        ("BUS_SDK_KEY", bus.key.as_str()),
        ("NO_COLOR", "1"),
    ];
    env.extend(
        args.server_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let server = Server::onegraph(
        &ctx.onegraph,
        &ctx.work_dir,
        "soak-onegraph-PostgreSQL",
        &data.url,
        &ctx.secret,
        &env,
    )
    .await?;
    let log_path = ctx.work_dir.join("soak-onegraph-PostgreSQL.log");
    let api = Api {
        http: ctx.http.clone(),
        base: server.base.clone(),
    };

    // The soak tenant: its locations and hosts, and a session per staff user.
    eprintln!("bench: setting up the soak tenant…");
    let tenant = uuid::Uuid::new_v4().to_string();
    let staff_token = api.sign_in(&ctx.secret, &tenant, "soak").await?;
    let locations = usize::try_from(args.locations)?;
    let (location_ids, host_ids) = mix::setup_tenant(&api, &staff_token, locations).await?;
    let per_user = usize::try_from(args.subscribers_per_user)?;
    let users = args.subscribers.div_ceil(per_user);
    let mut sessions = Vec::with_capacity(users);
    for user in 0..users {
        let sub = format!("soak-subscriber-{user}");
        let claims = client::staff_claims(&tenant, &sub, &sub);
        let token = onegraph::auth::sso::mint(&claims, &ctx.secret)?;
        let (status, body) = api.sso_exchange(&token).await?;
        let session = body["session_token"]
            .as_str()
            .ok_or_else(|| format!("subscriber sign-in failed ({status}): {body}"))?;
        sessions.push(session.to_owned());
    }
    let specs: Vec<Spec> = subscribers::locations_of(args.subscribers, locations)
        .into_iter()
        .enumerate()
        .map(|(i, location)| Spec {
            token: sessions[i / per_user].clone(),
            location,
        })
        .collect();

    let tally = Arc::new(Tally::default());
    let idle_before = server.memory().rss_kib;
    eprintln!("bench: opening {} subscriptions…", args.subscribers);
    let ws_url = format!("{}/graphql", server.base.replacen("http://", "ws://", 1));
    let opening = Instant::now();
    let fleet = Fleet::open(&ws_url, specs, &location_ids, 8, tally.clone()).await?;
    let open_time = opening.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_after = server.memory().rss_kib;

    let mix = Arc::new(Mix {
        api: api.clone(),
        read_token: data.read.token.clone(),
        tenant: tenant.clone(),
        staff_token,
        locations: location_ids.clone(),
        hosts: host_ids,
        secret: ctx.secret.clone(),
        tally: tally.clone(),
    });
    let rates = Rates {
        reads_per_second: args.reads_per_second,
        check_ins_per_second: args.check_ins_per_second,
        logins_per_minute: args.logins_per_minute,
        bad_tokens: args.bad_tokens,
        burst_every: args.burst_every,
    };
    eprintln!(
        "bench: soaking for {} s…",
        args.duration.as_secs_f64().round()
    );
    let started = Instant::now();
    let until = started + args.duration;
    let meter = cpu::Meter::start(server.pid());
    let load = tokio::spawn(mix::run(mix, rates, until));

    // RSS and counters every `sample_every`, the last at the end of the load.
    let every = args.sample_every.max(Duration::from_secs(1));
    let mut samples = Vec::new();
    let mut k: u32 = 0;
    loop {
        let at = (every * k).min(args.duration);
        tokio::time::sleep_until(tokio::time::Instant::from_std(started + at)).await;
        samples.push(sample(at, &server, &tally, &fleet.events, &bus));
        if at >= args.duration {
            break;
        }
        if k.is_multiple_of(6) && k > 0 {
            let last = samples.last().copied().unwrap_or_default();
            eprintln!(
                "bench: {:>4} s  RSS {}  reads {}  check-ins {}  events {}  unexpected {}",
                at.as_secs(),
                crate::report::mib(last.rss_kib),
                last.reads,
                last.check_ins,
                last.events,
                last.unexpected
            );
        }
        k += 1;
    }
    let cpu = meter.stop();
    load.await?;
    let load_end = Instant::now();

    // Every committed check-in's events, then the subscribers' tally.
    let committed = tally.committed();
    let check_ins: HashMap<u128, usize> = committed.iter().map(|c| (c.visit, c.location)).collect();
    let per_location = {
        let mut counts = vec![0u64; locations];
        for c in &committed {
            counts[c.location] += 1;
        }
        counts
    };
    let expected_events: u64 = subscribers::locations_of(args.subscribers, locations)
        .iter()
        .map(|l| match l {
            Some(l) => per_location[*l],
            None => committed.len() as u64,
        })
        .sum();
    let deadline = Instant::now() + Duration::from_secs(30);
    while fleet.events.load(Ordering::Relaxed) < expected_events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivery_wait = load_end.elapsed();
    let received: Vec<Received> = fleet.close().await;
    let delivery = subscribers::compare(&received, &check_ins, locations);

    // The outbox drains.
    eprintln!("bench: waiting for the outbox to drain…");
    let db = sea_orm::Database::connect(&data.url).await?;
    let drain_start = Instant::now();
    loop {
        if pending_rows(&db).await? == 0 || drain_start.elapsed() > args.drain_timeout {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let drain = drain_start.elapsed();
    let accepted = bus.state.accepted();
    let outbox = outbox_figures(&db, &tenant, &accepted).await?;
    db.close().await?;

    let after = server.stop().await;
    let log = scan_log(&std::fs::read_to_string(&log_path).unwrap_or_default());
    let state = &bus.state;
    Ok(Outcome {
        args: args.clone(),
        machine,
        tally,
        samples,
        reference: reference_time(args),
        opened: (args.subscribers, open_time),
        idle_rss: (idle_before, idle_after),
        after,
        cpu,
        delivery,
        delivery_wait,
        outbox,
        drain,
        bus: (
            state.requests.load(Ordering::Relaxed),
            state.accepted_total.load(Ordering::Relaxed),
            state.failed.load(Ordering::Relaxed),
            state.refused.load(Ordering::Relaxed),
        ),
        bus_refusals: state.refusals(),
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("600"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("10 minutes").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn settings_are_name_equals_value() {
        assert_eq!(
            parse_setting("WS_MAX=5=6"),
            Ok(("WS_MAX".to_owned(), "5=6".to_owned()))
        );
        assert!(parse_setting("=x").is_err());
        assert!(parse_setting("novalue").is_err());
    }

    #[test]
    fn log_levels_are_read_with_or_without_colours() {
        let log = "2025-01-01T00:00:00.000000Z \u{1b}[33m WARN\u{1b}[0m \u{1b}[2monegraph::events::dispatcher\u{1b}[0m\u{1b}[2m:\u{1b}[0m outbox delivery failed; will retry \u{1b}[3moutbox_id\u{1b}[0m=x\n\
                   2025-01-01T00:00:01.000000Z  WARN onegraph::events::dispatcher: outbox delivery failed; will retry outbox_id=y\n\
                   2025-01-01T00:00:02.000000Z ERROR onegraph::events::dispatcher: outbox row is dead: no further attempts outbox_id=z\n\
                   2025-01-01T00:00:03.000000Z  INFO onegraph: listening\n";
        let figures = scan_log(log);
        assert_eq!(figures.errors, 1);
        assert_eq!(
            figures.warnings,
            vec![("outbox delivery failed; will retry".to_owned(), 2)]
        );
    }
}
