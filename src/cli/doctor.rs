//! `onegraph doctor`: the integration checklist of `integrationHealth` in a terminal, for
//! the operator. It reads the settings `serve` would (the environment and `<NAME>_FILE`),
//! probes every configured product onegraph calls (at once, each within
//! `HEALTH_PROBE_TIMEOUT`), opens the database as every command does (applying pending
//! migrations) for the durable state of every tenant, and prints one line per product:
//! `ok`, `not configured` (naming each missing setting and what is off meanwhile) or
//! `unreachable`, with the last success, the last error and the outbox counts.
//!
//! It fails (exit 1) when a configured product does not answer or the database cannot be
//! opened; products that are not configured do not make it fail: onegraph runs without
//! them, and the checklist names what they need.

use std::{fmt::Write as _, time::Duration};

use chrono::{DateTime, Utc};

use crate::{
    config::Settings,
    services::shared::health::{self, Integration, IntegrationStatus, Scope},
};

/// How long the database may take to open before doctor says it is unreachable.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(15);

/// What doctor found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The checklist.
    pub statuses: Vec<IntegrationStatus>,
    /// Why the database's part is missing, when it is.
    pub database_error: Option<String>,
}

impl Report {
    /// The configured products that did not answer.
    pub fn unreachable(&self) -> Vec<&'static str> {
        self.statuses
            .iter()
            .filter(|s| s.configured && s.reachable == Some(false))
            .map(|s| s.name)
            .collect()
    }
}

/// Collects the checklist: settings, probes and (when the database opens) durable state.
pub async fn examine(settings: &Settings) -> Report {
    let mut statuses = health::configuration(settings);
    let database = async {
        match tokio::time::timeout(DATABASE_TIMEOUT, super::open_database(settings)).await {
            Ok(Ok((conn, _))) => Ok(conn),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(format!(
                "the database did not answer within {}s",
                DATABASE_TIMEOUT.as_secs()
            )),
        }
    };
    let (_, database) = tokio::join!(
        health::probe_all(settings, &mut statuses, settings.health_probe_timeout),
        database,
    );
    let database_error = match database {
        Ok(conn) => {
            let read = health::add_durable_state(&conn, Scope::Platform, &mut statuses).await;
            conn.close().await.ok();
            read.err()
                .map(|err| format!("reading it failed: {}", err.message()))
        }
        Err(err) => Some(err),
    };
    Report {
        statuses,
        database_error,
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The checklist as text, one line per product after the database's.
pub fn render(settings: &Settings, report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "onegraph doctor: integration checklist (settings from the environment)\n"
    );
    let database = format!("{:?}", settings.database_url);
    match &report.database_error {
        None => {
            let _ = writeln!(out, "{:<16} {:<12} {database}", "ok", "Database");
        }
        Some(err) => {
            let _ = writeln!(
                out,
                "{:<16} {:<12} {database}: {err}; last successes and outbox counts are not shown",
                "unreachable", "Database"
            );
        }
    }
    let timeout = settings.health_probe_timeout;
    for status in &report.statuses {
        let mut details: Vec<String> = Vec::new();
        let word = if !status.configured {
            details.push(format!("missing {}", status.missing_settings.join(", ")));
            details.push(format!("meanwhile {}", status.integration.when_off()));
            "not configured"
        } else {
            match status.reachable {
                Some(true) => details.push("answers".to_owned()),
                Some(false) => details.push(format!(
                    "no answer from {} within {timeout:?}",
                    status
                        .integration
                        .probe_description(settings)
                        .unwrap_or_else(|| status.name.to_owned())
                )),
                None if status.integration.inbound_only() => {
                    details.push("Hub calls onegraph (not probed)".to_owned())
                }
                None => {}
            }
            if status.reachable == Some(false) {
                "unreachable"
            } else {
                "ok"
            }
        };
        if let Some(at) = status.last_success_at {
            details.push(format!("last success {}", time(at)));
        }
        if let Some(error) = &status.last_error {
            details.push(format!("last error: {error}"));
        }
        if status.pending_outbox > 0 || status.dead_outbox > 0 {
            details.push(format!(
                "{} waiting, {} dead",
                status.pending_outbox, status.dead_outbox
            ));
        }
        let _ = writeln!(out, "{word:<16} {:<12} {}", status.name, details.join("; "));
    }
    let configured = report.statuses.iter().filter(|s| s.configured).count();
    let unreachable = report.unreachable();
    let _ = writeln!(out);
    let total = Integration::ALL.len();
    let _ = if configured == 0 {
        writeln!(out, "0 of {total} configured.")
    } else if unreachable.is_empty() {
        writeln!(
            out,
            "{configured} of {total} configured; every configured one answers."
        )
    } else {
        writeln!(
            out,
            "{configured} of {total} configured; unreachable: {}.",
            unreachable.join(", ")
        )
    };
    out
}

/// `doctor`: prints the checklist; an error (exit 1) naming what failed when a configured
/// product is unreachable or the database cannot be opened.
pub async fn doctor(settings: &Settings) -> Result<(), String> {
    let report = examine(settings).await;
    print!("{}", render(settings, &report));
    let mut failures = Vec::new();
    let unreachable = report.unreachable();
    if !unreachable.is_empty() {
        failures.push(format!(
            "configured but not answering: {}",
            unreachable.join(", ")
        ));
    }
    if report.database_error.is_some() {
        failures.push("the database cannot be read".to_owned());
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}
