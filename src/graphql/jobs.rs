//! `runSync`: a tenant admin runs a platform-wide sync job now and sees its own tenant's
//! counts of the run, never another tenant's.

use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::{
    auth::Permission,
    graphql::context::state,
    graphql::guard::{Need, principal},
    jobs::{self, Job, RunRecord},
    services::shared::audit,
};

/// A job `runSync` can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum SyncJob {
    /// Push pending tickets and comments to PSA, then pull PSA's changes.
    Tickets,
    /// Page invoices in from Books.
    Invoices,
    /// Report usage to Hub Billing.
    BillingUsage,
}

impl From<SyncJob> for Job {
    fn from(job: SyncJob) -> Self {
        match job {
            SyncJob::Tickets => Job::Tickets,
            SyncJob::Invoices => Job::Invoices,
            SyncJob::BillingUsage => Job::BillingUsage,
        }
    }
}

/// One run of a sync job.
pub struct SyncRun {
    record: RunRecord,
    job: SyncJob,
    tenant_id: String,
}

#[Object]
impl SyncRun {
    async fn id(&self) -> ID {
        ID(self.record.id.clone())
    }
    async fn job(&self) -> SyncJob {
        self.job
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.record.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.record.finished_at
    }
    /// Whether the run went without an error for the caller's tenant: none of its own items
    /// failed, and nothing failed that concerns every tenant (the upstream down). Other
    /// tenants' failures do not show.
    async fn ok(&self) -> Option<bool> {
        self.record.tenant_ok(&self.tenant_id)
    }
    /// The caller's tenant's counts of the run, e.g. `pushed=1 pulled=2`.
    async fn summary(&self) -> Option<String> {
        Some(self.record.tenant_summary(&self.tenant_id))
    }
}

/// The `runSync` mutation.
#[derive(Default)]
pub struct JobsMutation;

#[Object]
impl JobsMutation {
    /// Runs the platform-wide job now (`CONFLICT` while it is already running,
    /// `UPSTREAM_NOT_CONFIGURED` without its upstream, `RATE_LIMITED` with `retryAfter` when
    /// the caller's tenant started it by hand less than `RUN_SYNC_MIN_INTERVAL` ago) and
    /// reports the caller's tenant's counts.
    #[graphql(guard = "Need::Perm(Permission::AdminSettings)")]
    async fn run_sync(&self, ctx: &Context<'_>, job: SyncJob) -> Result<Option<SyncRun>> {
        let p = principal(ctx)?;
        let state = state(ctx)?;
        let record = jobs::scheduler::run_now_for_tenant(state, job.into(), &p.tenant_id).await?;
        audit::record(
            &state.db,
            &p.tenant_id,
            &p.actor(),
            "sync.run",
            Some(&record.id),
            Some(Job::from(job).as_str().to_owned()),
        )
        .await?;
        Ok(Some(SyncRun {
            record,
            job,
            tenant_id: p.tenant_id.clone(),
        }))
    }
}
