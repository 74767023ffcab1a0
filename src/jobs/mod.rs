//! Scheduled jobs: the ticket sync with PSA, the invoice sync from Books, billing usage for
//! Hub, and Visitor housekeeping (auto-checkout, retention). Each run holds a lease in the
//! database so that with several replicas it happens on exactly one, and is recorded in
//! `sync_runs`.

pub mod auto_checkout;
pub mod billing;
pub mod invoices;
pub mod retention;
pub mod scheduler;
pub mod tickets;

pub use scheduler::{RunRecord, run_now};

use std::collections::BTreeMap;

use crate::{domain::Domain, error::AppResult};

/// Every scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// Push pending tickets and comments to PSA, then pull PSA's changes.
    Tickets,
    /// Page invoices in from Books.
    Invoices,
    /// Report active locations to Hub Billing.
    BillingUsage,
    /// Check out open visits at each location's `autoCheckoutAt`.
    AutoCheckout,
    /// Anonymise visitor personal data older than `retentionDays`.
    Retention,
}

impl Job {
    /// Every job.
    pub const ALL: [Job; 5] = [
        Job::Tickets,
        Job::Invoices,
        Job::BillingUsage,
        Job::AutoCheckout,
        Job::Retention,
    ];

    /// The job's name (lease key, `sync_runs.job`, `onegraph jobs run <name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Job::Tickets => "tickets",
            Job::Invoices => "invoices",
            Job::BillingUsage => "billing-usage",
            Job::AutoCheckout => "auto-checkout",
            Job::Retention => "retention",
        }
    }

    /// The job named `name`.
    pub fn parse(name: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.as_str() == name)
    }
}

/// What one run did: counts per tenant (what `runSync` reports to a tenant's admin) and a
/// one-line summary of the whole run.
#[derive(Debug, Clone, Default)]
pub struct JobReport {
    /// Tenant id → that tenant's counts (e.g. `{"pushed": 2, "pulled": 1}`).
    pub per_tenant: BTreeMap<String, BTreeMap<String, u64>>,
    /// Errors that did not stop the run (an upstream that refused one item), by step.
    pub errors: Vec<String>,
    /// Tenant id → how many of [`JobReport::errors`] were that tenant's own (an item of
    /// theirs refused). Every other error concerns every tenant (the upstream down, a page
    /// refused as a whole); an error pushed without [`JobReport::tenant_error`] counts so.
    pub tenant_errors: BTreeMap<String, usize>,
    /// The positions in [`JobReport::errors`] of the errors [`JobReport::tenant_error`]
    /// recorded (the others concern every tenant).
    own: std::collections::BTreeSet<usize>,
}

impl JobReport {
    /// Adds `n` to `counter` of `tenant`.
    pub fn add(&mut self, tenant: &str, counter: &str, n: u64) {
        *self
            .per_tenant
            .entry(tenant.to_owned())
            .or_default()
            .entry(counter.to_owned())
            .or_default() += n;
    }

    /// Records an error about one of `tenant`'s items: it makes only that tenant's run not ok.
    pub fn tenant_error(&mut self, tenant: &str, message: String) {
        *self.tenant_errors.entry(tenant.to_owned()).or_default() += 1;
        self.own.insert(self.errors.len());
        self.errors.push(message);
    }

    /// The errors that concern every tenant (in the order they happened): what any tenant's
    /// admin may read of a run, in onegraph's own words.
    pub fn shared_error_texts(&self) -> Vec<&str> {
        self.errors
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.own.contains(i))
            .map(|(_, e)| e.as_str())
            .collect()
    }

    /// How many errors concern every tenant rather than one.
    pub fn shared_errors(&self) -> usize {
        let own: usize = self.tenant_errors.values().sum();
        self.errors.len().saturating_sub(own)
    }

    /// The totals over every tenant, as `pushed=2 pulled=1`.
    pub fn summary(&self) -> String {
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for counts in self.per_tenant.values() {
            for (name, n) in counts {
                *totals.entry(name).or_default() += n;
            }
        }
        let mut parts: Vec<String> = totals.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !self.errors.is_empty() {
            parts.push(format!("errors={}", self.errors.len()));
        }
        if parts.is_empty() {
            "nothing to do".to_owned()
        } else {
            parts.join(" ")
        }
    }
}

/// What started a run: a replica's timer, or someone by hand (`runSync`, `onegraph jobs
/// run`), which means "now" (billing usage plans the day's reports at once rather than at
/// `BILLING_USAGE_AT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The scheduler's timer.
    Timer,
    /// A person.
    Hand,
}

/// Runs `job` once, now, in this process, as if by hand (no lease: the scheduler takes one
/// around this).
pub async fn execute(ctx: &Domain, job: Job) -> AppResult<JobReport> {
    execute_as(ctx, job, Trigger::Hand).await
}

/// Runs `job` once, now, started by `trigger`.
pub async fn execute_as(ctx: &Domain, job: Job, trigger: Trigger) -> AppResult<JobReport> {
    match job {
        Job::Tickets => tickets::run(ctx).await,
        Job::Invoices => invoices::run(ctx).await,
        Job::AutoCheckout => auto_checkout::run(ctx).await,
        Job::Retention => retention::run(ctx).await,
        Job::BillingUsage => billing::run(ctx, trigger).await,
    }
}
