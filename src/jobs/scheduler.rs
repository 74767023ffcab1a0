//! The scheduler: a lease per job in `job_leases` so that with several replicas each run
//! happens on exactly one, a record of every run in `sync_runs`, the timers that start the
//! jobs, and [`run_now`] for `runSync` and `onegraph jobs run`.
//!
//! A lease is taken by inserting the job's row, or by updating it only where
//! `locked_until` has passed, and checking that exactly one row changed: the database
//! decides between replicas. While a run lasts its holder extends the lease; afterwards it
//! releases it. The timers also require the job's last start to be an interval ago, so
//! replicas whose timers tick at different moments do not run the same job twice per
//! interval, and a restart does not reset a job's schedule.

use std::{collections::BTreeMap, sync::OnceLock, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};

use super::{Job, JobReport, Trigger};
use crate::{
    domain::Domain,
    error::{AppError, AppResult},
    services::{new_id, now},
};
use entities::job_leases::{self, Column as L, Entity as Leases};
use entities::sync_runs::{self, Entity as Runs};

/// How long a lease holds without being extended (a crashed holder frees it after this).
const LEASE: Duration = Duration::from_secs(120);
/// How often a running job extends its lease.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// Longest `sync_runs.error` kept.
const MAX_ERROR: usize = 2000;

/// This process's replica id, made once at start-up: the holder of the leases it takes.
pub fn replica_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("replica-{}", uuid::Uuid::new_v4().simple()))
}

/// One recorded run.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// The `sync_runs` id.
    pub id: String,
    /// The job.
    pub job: Job,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Whether it did everything without an error.
    pub ok: Option<bool>,
    /// [`JobReport::summary`] of the whole run.
    pub summary: Option<String>,
    /// onegraph's own short description of what went wrong.
    pub error: Option<String>,
    /// Tenant id → that tenant's counts.
    pub per_tenant: BTreeMap<String, BTreeMap<String, u64>>,
    /// Tenant id → how many errors were about that tenant's own items.
    pub tenant_errors: BTreeMap<String, usize>,
    /// How many errors concerned every tenant (the upstream down, a page refused).
    pub shared_errors: usize,
}

impl RunRecord {
    /// A one-line summary of `tenant`'s counts only (what a tenant's admin may see).
    pub fn tenant_summary(&self, tenant: &str) -> String {
        match self.per_tenant.get(tenant) {
            Some(counts) if !counts.is_empty() => counts
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            _ => "nothing to do".to_owned(),
        }
    }

    /// Whether the run went well for `tenant`: none of its own items failed and nothing
    /// failed that concerns every tenant. Another tenant's failures do not count.
    pub fn tenant_ok(&self, tenant: &str) -> Option<bool> {
        self.ok
            .map(|ok| ok || (self.shared_errors == 0 && !self.tenant_errors.contains_key(tenant)))
    }
}

/// The upstream a job needs and lacks (PSA for tickets, Books for invoices, Hub for billing
/// usage), or `None` when it can run.
pub fn missing_upstream(ctx: &Domain, job: Job) -> Option<&'static str> {
    let s = &ctx.settings;
    match job {
        Job::Tickets if s.psa_api_url.is_none() || s.psa_service_key.is_none() => Some("PSA"),
        Job::Invoices if s.books_api_url.is_none() || s.books_service_key.is_none() => {
            Some("Books")
        }
        Job::BillingUsage if s.hub_api_url.is_none() || s.bus_integration_key.is_none() => {
            Some("Hub")
        }
        _ => None,
    }
}

/// Takes `job`'s lease for this replica. `min_gap`: the timers' condition that the last run
/// started at least that long ago. `false` when another run holds it (or it is not due).
pub async fn acquire(
    db: &DatabaseConnection,
    job: Job,
    min_gap: Option<Duration>,
) -> AppResult<bool> {
    let at = now();
    let until = at + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::minutes(2));
    let inserted = Leases::insert(job_leases::ActiveModel {
        job: Set(job.as_str().to_owned()),
        holder: Set(replica_id().to_owned()),
        locked_until: Set(until),
        last_started_at: Set(Some(at)),
    })
    .on_conflict(OnConflict::column(L::Job).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    if inserted == 1 {
        return Ok(true);
    }
    let mut cond = Condition::all()
        .add(L::Job.eq(job.as_str()))
        .add(L::LockedUntil.lt(at));
    if let Some(gap) = min_gap.and_then(|g| chrono::Duration::from_std(g).ok()) {
        cond = cond.add(
            Condition::any()
                .add(L::LastStartedAt.is_null())
                .add(L::LastStartedAt.lte(at - gap)),
        );
    }
    let updated = Leases::update_many()
        .col_expr(L::Holder, Expr::value(replica_id()))
        .col_expr(L::LockedUntil, Expr::value(until))
        .col_expr(L::LastStartedAt, Expr::value(at))
        .filter(cond)
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

async fn extend(db: &DatabaseConnection, job: Job) -> AppResult<bool> {
    let until = now() + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::minutes(2));
    let updated = Leases::update_many()
        .col_expr(L::LockedUntil, Expr::value(until))
        .filter(L::Job.eq(job.as_str()))
        .filter(L::Holder.eq(replica_id()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Gives `job`'s lease back (it stays this replica's row, expired, so anyone may take it).
pub async fn release(db: &DatabaseConnection, job: Job) -> AppResult<()> {
    Leases::update_many()
        .col_expr(
            L::LockedUntil,
            Expr::value(now() - chrono::Duration::seconds(1)),
        )
        .filter(L::Job.eq(job.as_str()))
        .filter(L::Holder.eq(replica_id()))
        .exec(db)
        .await?;
    Ok(())
}

/// Aborts the heartbeat however the run ends (a panic included), so that a lease is never
/// extended past its run.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs [`run_leased`] in its own task: a caller that goes away (a `runSync` request whose
/// client disconnected) does not cut the run short, and the lease is still released.
async fn run_leased_detached(ctx: &Domain, job: Job, trigger: Trigger) -> AppResult<RunRecord> {
    let ctx = ctx.clone();
    tokio::spawn(async move { run_leased(&ctx, job, trigger).await })
        .await
        .map_err(|err| AppError::internal(format!("the {} run panicked: {err}", job.as_str())))?
}

fn short_error(report: &Result<JobReport, AppError>) -> Option<String> {
    let text = match report {
        Ok(report) if report.errors.is_empty() => return None,
        Ok(report) => report.errors.join("; "),
        // The client-safe message: internal causes are in the log, not in the record.
        Err(err) => format!("{}: {}", err.code(), err.message()),
    };
    Some(text.chars().take(MAX_ERROR).collect())
}

/// The errors of a run that concern every tenant (`sync_runs.shared_error`), which any
/// tenant's admin may read: the report's shared errors, or the job's own error.
fn shared_error(report: &Result<JobReport, AppError>) -> Option<String> {
    let text = match report {
        Ok(report) => {
            let shared = report.shared_error_texts();
            if shared.is_empty() {
                return None;
            }
            shared.join("; ")
        }
        Err(err) => format!("{}: {}", err.code(), err.message()),
    };
    Some(text.chars().take(MAX_ERROR).collect())
}

/// Runs `job` under the lease this replica already holds, recording it in `sync_runs`, and
/// releases the lease. Answers the record, or the job's own error (recorded as well).
async fn run_leased(ctx: &Domain, job: Job, trigger: Trigger) -> AppResult<RunRecord> {
    let id = new_id();
    let started_at = now();
    let recorded = Runs::insert(sync_runs::ActiveModel {
        id: Set(id.clone()),
        job: Set(job.as_str().to_owned()),
        started_at: Set(started_at),
        finished_at: Set(None),
        ok: Set(None),
        summary: Set(None),
        error: Set(None),
        counts: Set("{}".to_owned()),
        shared_error: Set(None),
        tenant_errors: Set("{}".to_owned()),
    })
    .exec_without_returning(&ctx.db)
    .await;
    if let Err(err) = recorded {
        release(&ctx.db, job).await?;
        return Err(err.into());
    }

    // A run whose lease lapsed and was taken by another replica stops at its next await:
    // two runs of one job must not interleave. Its open transaction rolls back, and what it
    // already sent upstream carries idempotency keys.
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel::<()>();
    let heartbeat = {
        let db = ctx.db.clone();
        AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                match extend(&db, job).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = job.as_str(), "lease lost during a run; stopping it");
                        let _ = lost_tx.send(());
                        return;
                    }
                    Err(_) => tracing::warn!(job = job.as_str(), "could not extend the lease"),
                }
            }
        }))
    };
    let lost = async {
        if lost_rx.await.is_err() {
            // The heartbeat ended without losing the lease: never resolve.
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = super::execute_as(ctx, job, trigger) => result,
        () = lost => Err(AppError::Conflict(format!(
            "the {} run lost its lease to another replica and stopped",
            job.as_str()
        ))),
    };
    drop(heartbeat);

    let finished_at = now();
    let error = short_error(&result);
    let (ok, summary, per_tenant, tenant_errors, shared_errors) = match &result {
        Ok(report) => (
            report.errors.is_empty(),
            report.summary(),
            report.per_tenant.clone(),
            report.tenant_errors.clone(),
            report.shared_errors(),
        ),
        Err(_) => (
            false,
            "failed".to_owned(),
            BTreeMap::new(),
            BTreeMap::new(),
            1,
        ),
    };
    let counts = serde_json::to_string(&per_tenant).unwrap_or_else(|_| "{}".to_owned());
    let own_errors = serde_json::to_string(&tenant_errors).unwrap_or_else(|_| "{}".to_owned());
    let shared_error = shared_error(&result);
    let saved = Runs::update_many()
        .col_expr(sync_runs::Column::FinishedAt, Expr::value(finished_at))
        .col_expr(sync_runs::Column::Ok, Expr::value(ok))
        .col_expr(sync_runs::Column::Summary, Expr::value(summary.clone()))
        .col_expr(sync_runs::Column::Error, Expr::value(error.clone()))
        .col_expr(sync_runs::Column::Counts, Expr::value(counts))
        .col_expr(sync_runs::Column::SharedError, Expr::value(shared_error))
        .col_expr(sync_runs::Column::TenantErrors, Expr::value(own_errors))
        .filter(sync_runs::Column::Id.eq(&id))
        .exec(&ctx.db)
        .await;
    let released = release(&ctx.db, job).await;
    saved?;
    released?;
    match &error {
        Some(error) => {
            tracing::warn!(job = job.as_str(), %summary, %error, "job run finished with errors")
        }
        None => tracing::info!(job = job.as_str(), %summary, "job run finished"),
    }
    result?;
    Ok(RunRecord {
        id,
        job,
        started_at,
        finished_at: Some(finished_at),
        ok: Some(ok),
        summary: Some(summary),
        error,
        per_tenant,
        tenant_errors,
        shared_errors,
    })
}

/// Runs `job` now with its lease (`CONFLICT` "already running" when another run holds it;
/// `UPSTREAM_NOT_CONFIGURED` without its upstream, recording nothing) and records the run.
pub async fn run_now(ctx: &Domain, job: Job) -> AppResult<RunRecord> {
    take_lease_now(ctx, job).await?;
    run_leased_detached(ctx, job, Trigger::Hand).await
}

/// [`run_now`] started by an admin of `tenant_id` (`runSync`): besides the lease, the
/// tenant's last start of this job by hand must be `RUN_SYNC_MIN_INTERVAL` ago, otherwise
/// `RATE_LIMITED` with the seconds left, and nothing runs. The tenant's turn is claimed
/// before the lease, so that an admin calling too often never holds the job's lease, not
/// even for a moment (the timers and other tenants would find it taken); a call refused
/// for another reason (no upstream, the job already running) gives its turn back and does
/// not count as a start.
pub async fn run_now_for_tenant(ctx: &Domain, job: Job, tenant_id: &str) -> AppResult<RunRecord> {
    if let Some(product) = missing_upstream(ctx, job) {
        return Err(AppError::UpstreamNotConfigured(product));
    }
    let turn = match claim_tenant_turn(&ctx.db, job, tenant_id, ctx.settings.run_sync_min_interval)
        .await?
    {
        Ok(turn) => turn,
        Err(wait) => {
            return Err(AppError::RateLimited {
                retry_after_secs: wait.as_secs().saturating_add(1),
            });
        }
    };
    if let Err(err) = take_lease_now(ctx, job).await {
        if let Some(turn) = turn
            && let Err(lost) = give_back_turn(&ctx.db, &turn).await
        {
            // The caller learns why the run did not start; the turn stays taken.
            tracing::warn!(
                code = lost.code().as_str(),
                "giving back a runSync turn failed"
            );
        }
        return Err(err);
    }
    run_leased_detached(ctx, job, Trigger::Hand).await
}

async fn take_lease_now(ctx: &Domain, job: Job) -> AppResult<()> {
    if let Some(product) = missing_upstream(ctx, job) {
        return Err(AppError::UpstreamNotConfigured(product));
    }
    if !acquire(&ctx.db, job, None).await? {
        return Err(AppError::Conflict(format!(
            "the {} job is already running",
            job.as_str()
        )));
    }
    Ok(())
}

/// The `job_leases` row that holds `tenant_id`'s last start of `job` by hand. It is never
/// a lease: its `locked_until` is the start itself, and no timer reads it.
fn tenant_turn_key(job: Job, tenant_id: &str) -> String {
    format!("run-sync/{}/{tenant_id}", job.as_str())
}

/// A tenant's start of a job by hand, as [`claim_tenant_turn`] recorded it.
struct Turn {
    key: String,
    /// The start it replaced (none: the tenant's first).
    previous: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
}

/// Records a start of `job` by `tenant_id` when its last one was at least `gap` ago
/// (`Ok`, with the turn to give back if the run cannot start; none when `gap` is zero);
/// otherwise records nothing and answers how long is left. The database decides between
/// concurrent calls and replicas: an insert of the tenant's row, or an update only where
/// its last start is still the one read, must change exactly one row.
async fn claim_tenant_turn(
    db: &DatabaseConnection,
    job: Job,
    tenant_id: &str,
    gap: Duration,
) -> AppResult<Result<Option<Turn>, Duration>> {
    let Ok(gap) = chrono::Duration::from_std(gap) else {
        return Err(AppError::internal("RUN_SYNC_MIN_INTERVAL out of range"));
    };
    if gap.is_zero() {
        return Ok(Ok(None));
    }
    let key = tenant_turn_key(job, tenant_id);
    let at = now();
    let inserted = Leases::insert(job_leases::ActiveModel {
        job: Set(key.clone()),
        holder: Set(replica_id().to_owned()),
        locked_until: Set(at),
        last_started_at: Set(Some(at)),
    })
    .on_conflict(OnConflict::column(L::Job).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    if inserted == 1 {
        return Ok(Ok(Some(Turn {
            key,
            previous: None,
            at,
        })));
    }
    let previous = Leases::find_by_id(key.clone())
        .one(db)
        .await?
        .and_then(|row| row.last_started_at);
    let wait = |last: DateTime<Utc>| (last + gap - at).to_std().unwrap_or(Duration::ZERO);
    if let Some(last) = previous
        && last > at - gap
    {
        return Ok(Err(wait(last)));
    }
    let updated = Leases::update_many()
        .col_expr(L::Holder, Expr::value(replica_id()))
        .col_expr(L::LockedUntil, Expr::value(at))
        .col_expr(L::LastStartedAt, Expr::value(at))
        .filter(L::Job.eq(&key))
        .filter(match previous {
            Some(last) => L::LastStartedAt.eq(last),
            None => L::LastStartedAt.is_null(),
        })
        .exec(db)
        .await?;
    if updated.rows_affected == 1 {
        return Ok(Ok(Some(Turn { key, previous, at })));
    }
    // Another call claimed the turn between the read and the update.
    Ok(Err(wait(at)))
}

/// Undoes `turn` (a run that could not start is not a start), unless a later claim
/// replaced it.
async fn give_back_turn(db: &DatabaseConnection, turn: &Turn) -> AppResult<()> {
    let mine = Condition::all()
        .add(L::Job.eq(&turn.key))
        .add(L::LastStartedAt.eq(turn.at));
    match turn.previous {
        None => {
            Leases::delete_many().filter(mine).exec(db).await?;
        }
        Some(previous) => {
            Leases::update_many()
                .col_expr(L::LastStartedAt, Expr::value(previous))
                .filter(mine)
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// How often the billing-usage job runs: each run sends what is due, so this is also the
/// finest retry step of a report Hub did not take.
pub const BILLING_POLL: Duration = Duration::from_secs(5 * 60);

/// How often the timers start each job.
pub fn schedule(ctx: &Domain) -> Vec<(Job, Duration)> {
    let floor = |d: Duration| d.max(Duration::from_millis(50));
    vec![
        (Job::Tickets, floor(ctx.settings.ticket_sync_interval)),
        (Job::Invoices, floor(ctx.settings.invoice_sync_interval)),
        (Job::AutoCheckout, Duration::from_secs(60)),
        (Job::Retention, Duration::from_secs(24 * 3600)),
        // Plans the day's reports once it is `BILLING_USAGE_AT`, and retries pending ones.
        (Job::BillingUsage, BILLING_POLL),
    ]
}

/// How often a timer checks whether its job is due: every period, but at least every minute,
/// so that a daily job still runs on schedule when replicas restart more often than daily
/// (the schedule lives in `job_leases.last_started_at`, not in a replica's memory).
fn poll(period: Duration) -> Duration {
    period.min(Duration::from_secs(60))
}

/// One timer tick: skips a job without its upstream (recording nothing), and runs it when
/// this replica gets the lease and the last run started about a period ago (half a poll of
/// slack, so a tick that comes a moment early is not skipped for a whole period).
async fn tick(ctx: &Domain, job: Job, period: Duration) {
    if missing_upstream(ctx, job).is_some() {
        tracing::debug!(job = job.as_str(), "upstream not configured; run skipped");
        return;
    }
    let gap = period.saturating_sub(poll(period) / 2);
    match acquire(&ctx.db, job, Some(gap)).await {
        Ok(true) => {
            // Detached like `run_now`: a panicking job ends its run, not this timer.
            if let Err(err) = run_leased_detached(ctx, job, Trigger::Timer).await {
                tracing::warn!(
                    job = job.as_str(),
                    code = err.code().as_str(),
                    "scheduled run failed"
                );
            }
        }
        Ok(false) => tracing::debug!(job = job.as_str(), "held elsewhere or not due; skipped"),
        Err(err) => tracing::warn!(
            job = job.as_str(),
            code = err.code().as_str(),
            "lease not taken"
        ),
    }
}

/// Starts the timers. The first check comes one poll after start-up; a job that never ran
/// runs then.
pub fn spawn(ctx: Domain) {
    let _ = replica_id();
    for (job, period) in schedule(&ctx) {
        let ctx = ctx.clone();
        let every = poll(period);
        tokio::spawn(async move {
            let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                timer.tick().await;
                tick(&ctx, job, period).await;
            }
        });
    }
}
