//! The soak's printed result: the load, the RSS curve per minute, the checks, and notes.

use std::{fmt::Write as _, sync::atomic::Ordering, time::Duration};

use super::{Outcome, Sample, mix::Op};
use crate::report::{latency, mark, mib, thousands};

/// `1:30` for 90 s.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

fn load(op: &Op) -> u64 {
    op.ok.load(Ordering::Relaxed)
}

/// The sample closest to `at`.
fn sample_at(samples: &[Sample], at: Duration) -> Option<Sample> {
    samples.iter().min_by_key(|s| s.at.abs_diff(at)).copied()
}

/// One row per minute of the load (the last one may be shorter): the sample at its end,
/// the peak RSS within it, and what was done during it.
fn minutes(samples: &[Sample], duration: Duration) -> Vec<(Duration, Sample, Sample, u64)> {
    let mut rows = Vec::new();
    let mut start = Duration::ZERO;
    while start < duration {
        let end = (start + Duration::from_secs(60)).min(duration);
        let (Some(first), Some(last)) = (sample_at(samples, start), sample_at(samples, end)) else {
            break;
        };
        let peak = samples
            .iter()
            .filter(|s| s.at > start && s.at <= end)
            .map(|s| s.rss_kib)
            .max()
            .unwrap_or(last.rss_kib);
        rows.push((end, first, last, peak));
        start = end;
    }
    rows
}

/// The report as markdown, and the failed checks (empty: all passed).
pub fn markdown(o: &Outcome) -> (String, Vec<String>) {
    let args = &o.args;
    let t = &o.tally;
    let secs = args.duration.as_secs_f64().max(1e-9);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Soak: {} of mixed load, {} subscriptions, PostgreSQL\n",
        clock(args.duration),
        thousands(o.opened.0 as u64)
    );
    out.push_str("| | |\n|---|---|\n");
    for (name, value) in &o.machine {
        let _ = writeln!(out, "| {name} | {} |", value.replace('|', "\\|"));
    }

    // The load.
    out.push_str("\n#### Load\n\n| Traffic | Pace asked | Sent | As expected | Achieved | Unexpected errors | p50 | p99 |\n|---|---|---|---|---|---|---|---|\n");
    let row = |out: &mut String, what: &str, pace: String, op: &Op, expected_refusals: bool| {
        let (p50, p99) = op.percentiles();
        let good = if expected_refusals {
            op.expected.load(Ordering::Relaxed)
        } else {
            op.ok.load(Ordering::Relaxed)
        };
        let _ = writeln!(
            out,
            "| {what} | {pace} | {} | {} | {:.1} /s | {} | {} | {} |",
            thousands(op.sent.load(Ordering::Relaxed)),
            thousands(good),
            good as f64 / secs,
            thousands(op.unexpected.load(Ordering::Relaxed)),
            if expected_refusals {
                "—".into()
            } else {
                latency(p50)
            },
            if expected_refusals {
                "—".into()
            } else {
                latency(p99)
            },
        );
    };
    row(
        &mut out,
        "read `visits(first: 50)` with visitor, location, host, badge",
        format!("{} /s", args.reads_per_second),
        &t.reads,
        false,
    );
    row(
        &mut out,
        "`checkInVisitor`",
        format!("{} /s", args.check_ins_per_second),
        &t.check_ins,
        false,
    );
    row(
        &mut out,
        "`checkOutVisitor` (oldest open visit)",
        "after each check-in once 50 are open".into(),
        &t.check_outs,
        false,
    );
    row(
        &mut out,
        "SSO login → query → logout → revoked session refused",
        format!("{} /min", args.logins_per_minute),
        &t.logins,
        false,
    );
    row(
        &mut out,
        "bad credentials (refusal expected: `UNAUTHENTICATED`, `TOKEN_REPLAYED` or close 4403)",
        format!("{} every {} s", args.bad_tokens, args.burst_every.as_secs()),
        &t.bad_tokens,
        true,
    );
    let d = &o.delivery;
    let _ = writeln!(
        out,
        "| subscription events (`visitorCheckedIn`) | {} sockets open all along | {} due | {} | {:.0} /s | {} | — | — |",
        thousands(o.opened.0 as u64),
        thousands(d.expected),
        thousands(d.delivered),
        d.delivered as f64 / secs,
        thousands(d.missing + d.duplicates + d.foreign + d.ended),
    );
    let (requests, accepted, failed, refused) = o.bus;
    let _ = writeln!(
        out,
        "| fake Bus `POST /api/events` | every {}th answered 500 | {} | {} accepted, {} failed on purpose | {:.1} /s | {} refused | — | — |",
        args.bus_fail_every,
        thousands(requests),
        thousands(accepted),
        thousands(failed),
        accepted as f64 / secs,
        thousands(refused),
    );

    // Memory per minute.
    out.push_str("\n#### Server memory per minute\n\n| Minute (end) | RSS at its end | Peak RSS in it | Reads | Check-ins | Check-outs | Logins | Bad credentials refused | Events to subscribers | Bus accepted / failed | Unexpected errors |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (end, first, last, peak) in minutes(&o.samples, args.duration) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} |",
            clock(end),
            mib(last.rss_kib),
            mib(peak),
            thousands(last.reads - first.reads),
            thousands(last.check_ins - first.check_ins),
            thousands(last.check_outs - first.check_outs),
            thousands(last.logins - first.logins),
            thousands(last.refused - first.refused),
            thousands(last.events - first.events),
            thousands(last.bus_accepted - first.bus_accepted),
            thousands(last.bus_failed - first.bus_failed),
            thousands(last.unexpected - first.unexpected),
        );
    }
    let curve: Vec<String> = o
        .samples
        .iter()
        .map(|s| format!("{:.1}", s.rss_kib as f64 / 1024.0))
        .collect();
    let _ = writeln!(
        out,
        "\nRSS every {} s from the start of the load (MiB): {}",
        args.sample_every.as_secs(),
        curve.join(" · ")
    );

    // Checks.
    let mut failed = Vec::new();
    let mut checks = String::from("\n#### Checks\n\n| Check | Figure | Result |\n|---|---|---|\n");
    let mut check = |name: &str, figure: String, passed: Option<bool>| {
        let result = match passed {
            Some(true) => mark(true).to_owned(),
            Some(false) => {
                failed.push(name.to_owned());
                mark(false).to_owned()
            }
            None => "reported".to_owned(),
        };
        let _ = writeln!(checks, "| {name} | {figure} | {result} |");
    };
    let unexpected = t.errors.count.load(Ordering::Relaxed);
    let by_kind: Vec<String> = [
        &t.reads,
        &t.check_ins,
        &t.check_outs,
        &t.logins,
        &t.bad_tokens,
    ]
    .iter()
    .map(|op| format!("{} {}", op.name, op.unexpected.load(Ordering::Relaxed)))
    .collect();
    let op_unexpected: u64 = [
        &t.reads,
        &t.check_ins,
        &t.check_outs,
        &t.logins,
        &t.bad_tokens,
    ]
    .iter()
    .map(|op| op.unexpected.load(Ordering::Relaxed))
    .sum();
    check(
        "0 unexpected errors",
        format!(
            "{} ({}, subscribers {})",
            thousands(unexpected),
            by_kind.join(", "),
            unexpected.saturating_sub(op_unexpected)
        ),
        Some(unexpected == 0),
    );
    let committed = load(&t.check_ins);
    check(
        "every check-in delivered to every subscriber of its location",
        format!(
            "{} of {} deliveries due for {} check-ins; missing {}, duplicated {}, foreign or wrong location {}; sockets that ended early {}; all in {} after the load ended",
            thousands(d.delivered),
            thousands(d.expected),
            thousands(committed),
            thousands(d.missing),
            thousands(d.duplicates),
            thousands(d.foreign),
            thousands(d.ended),
            latency(o.delivery_wait),
        ),
        Some(
            committed > 0
                && d.expected > 0
                && d.missing == 0
                && d.duplicates == 0
                && d.foreign == 0
                && d.ended == 0,
        ),
    );
    let ob = &o.outbox;
    check(
        "every outbox row delivered, none dead",
        format!(
            "{} rows: {} delivered, {} pending, {} dead; {} needed a retry (the most attempts of a row: {}); drained {} after the load",
            thousands(ob.rows),
            thousands(ob.delivered),
            thousands(ob.pending),
            thousands(ob.dead),
            thousands(ob.retried),
            ob.max_attempts,
            latency(o.drain),
        ),
        Some(ob.rows > 0 && ob.pending == 0 && ob.dead == 0 && ob.delivered == ob.rows),
    );
    check(
        "every Bus event id accepted by the Bus at least once",
        format!(
            "{} Bus rows: {} accepted, {} never; {} accepted ids no outbox row has; {} requests refused (wrong key or body)",
            thousands(ob.bus_rows),
            thousands(ob.bus_rows - ob.never_accepted),
            thousands(ob.never_accepted),
            thousands(ob.unknown_ids),
            thousands(refused),
        ),
        Some(ob.bus_rows > 0 && ob.never_accepted == 0 && ob.unknown_ids == 0 && refused == 0),
    );
    check(
        "duplicates at the Bus (at-least-once: reported, not failed)",
        format!(
            "{} ids accepted more than once ({} extra deliveries); {} requests answered 500 and retried",
            thousands(ob.duplicated_ids),
            thousands(ob.duplicate_deliveries),
            thousands(failed_requests(o)),
        ),
        None,
    );
    let check_outs = load(&t.check_outs);
    check(
        "one outbox event per committed check-in and check-out",
        format!(
            "`visitor.checked_in` {} for {} check-ins; `visitor.checked_out` {} for {} check-outs",
            thousands(ob.check_in_events),
            thousands(committed),
            thousands(ob.check_out_events),
            thousands(check_outs),
        ),
        Some(ob.check_in_events == committed && ob.check_out_events == check_outs),
    );
    check(
        "the server logged no ERROR",
        format!("{} ERROR lines", thousands(o.log.errors)),
        Some(o.log.errors == 0),
    );
    let reference = sample_at(&o.samples, o.reference).unwrap_or_default();
    let last = o.samples.last().copied().unwrap_or_default();
    let growth = (last.rss_kib as f64 - reference.rss_kib as f64)
        / (reference.rss_kib as f64).max(1.0)
        * 100.0;
    let peak_after = o
        .samples
        .iter()
        .filter(|s| s.at >= reference.at)
        .map(|s| s.rss_kib)
        .max()
        .unwrap_or(0);
    check(
        &format!(
            "memory flat: final RSS at most {} % above the reference",
            args.rss_tolerance
        ),
        format!(
            "reference (at {}) {} → final (at {}) {}: **{growth:+.1} %**; highest sample from the reference on {}",
            clock(reference.at),
            mib(reference.rss_kib),
            clock(last.at),
            mib(last.rss_kib),
            mib(peak_after),
        ),
        Some(reference.rss_kib > 0 && growth <= args.rss_tolerance),
    );
    out.push_str(&checks);

    // Notes.
    out.push_str("\n#### Notes\n\n");
    let mut notes: Vec<String> = Vec::new();
    notes.push(
        "What \"delivered once\" means here: the outbox promises at-least-once delivery (`src/events/dispatcher.rs`: a row is claimed with a lease, and a server that dies between sending and recording lets the lease expire and sends it again; CONTRACT section 5: the envelope `id` makes a redelivery harmless). A request the fake Bus answers 500 did not deliver the event (the Bus did not take it) and the outbox retries it after `OUTBOX_RETRY_BASE` (5 s) with backoff. So the checks are: every outbox row has `delivered_at`, none is `dead`, and the Bus accepted (answered 202 to) every Bus row's envelope id at least once and no id the outbox does not hold; ids accepted more than once are counted apart. On one replica that does not crash, 0 duplicates is what to expect; a duplicate would mean a lease expired during a delivery."
        .to_owned(),
    );
    notes.push(format!(
        "Set-up: a fresh PostgreSQL database; the read tenant seeded through the API by a separate server ({} visits, each with visitor, host and badge: its check-ins' Bus rows were waiting in the outbox and are delivered by the soak server too); the soak tenant with {} locations and a host each; {} subscriptions over `graphql-transport-ws` (`visitorCheckedIn(locationId:)`; every tenth without `locationId`, i.e. the whole tenant; the others spread over the locations) by {} staff users with {} subscriptions each, opened in {:.1} s, all open before the load starts. Check-ins go to the locations in turn.",
        args.visits,
        args.locations,
        thousands(o.opened.0 as u64),
        o.opened.0.div_ceil(usize::try_from(args.subscribers_per_user).unwrap_or(1)),
        args.subscribers_per_user,
        o.opened.1.as_secs_f64(),
    ));
    notes.push(
        "Bad credentials, in turn: an unknown bearer token on `/graphql` (the request runs unauthenticated: `null` and `UNAUTHENTICATED`, HTTP 200, as for a revoked session), a token that is not a JWT, one signed with another secret, one signed right but expired (each 401 `UNAUTHENTICATED` from `/api/auth/client-hub-sso`), the last token a login used, replayed (401 `TOKEN_REPLAYED`), and a WebSocket whose `connection_init` carries an unknown token (closed with 4403). The expired and replayed ones emit `auth.login_failed` through the outbox."
        .to_owned(),
    );
    notes.push(format!(
        "Server RSS: {} before the subscribers, {} with them idle; peak (VmHWM) over the whole run {}, {} after the drain. CPU during the load, server / client / other as shares of both cores: {}.",
        mib(o.idle_rss.0),
        mib(o.idle_rss.1),
        mib(o.after.peak_kib),
        mib(o.after.rss_kib),
        o.cpu.split(),
    ));
    let types: Vec<String> = ob
        .per_type
        .iter()
        .map(|(kind, n)| format!("`{kind}` {}", thousands(*n)))
        .collect();
    notes.push(format!("Outbox rows by type: {}.", types.join(", ")));
    if !o.log.warnings.is_empty() {
        let warnings: Vec<String> = o
            .log
            .warnings
            .iter()
            .take(5)
            .map(|(message, n)| format!("\"{message}\" × {}", thousands(*n)))
            .collect();
        notes.push(format!(
            "Server WARN lines (RUST_LOG=warn): {}.",
            warnings.join("; ")
        ));
    }
    let examples = t.errors.examples();
    if !examples.is_empty() {
        notes.push(format!("Unexpected errors, e.g.: {}", examples.join(" · ")));
    }
    if !o.bus_refusals.is_empty() {
        notes.push(format!(
            "The Bus refused requests: {}",
            o.bus_refusals.join(" · ")
        ));
    }
    if !ob.problems.is_empty() {
        notes.push(format!(
            "Outbox rows not delivered: {}",
            ob.problems.join(" · ")
        ));
    }
    if !o.log.error_lines.is_empty() {
        notes.push(format!(
            "Server ERROR lines: {}",
            o.log.error_lines.join(" · ")
        ));
    }
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    (out, failed)
}

fn failed_requests(o: &Outcome) -> u64 {
    o.bus.2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, rss: u64, reads: u64) -> Sample {
        Sample {
            at: Duration::from_secs(secs),
            rss_kib: rss,
            reads,
            ..Sample::default()
        }
    }

    #[test]
    fn minutes_take_the_samples_at_their_ends() {
        let samples: Vec<Sample> = (0..=9).map(|i| at(i * 10, 100 + i, i * 5)).collect();
        let rows = minutes(&samples, Duration::from_secs(90));
        assert_eq!(rows.len(), 2);
        let (end, first, last, peak) = rows[0];
        assert_eq!(end, Duration::from_secs(60));
        assert_eq!((first.reads, last.reads, peak), (0, 30, 106));
        let (end, first, last, peak) = rows[1];
        assert_eq!(end, Duration::from_secs(90));
        assert_eq!((first.reads, last.reads, peak), (30, 45, 109));
        assert_eq!(clock(Duration::from_secs(90)), "1:30");
    }
}
