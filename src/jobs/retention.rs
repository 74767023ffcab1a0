//! Retention: visitor personal data older than `retentionDays` is anonymised.

use super::JobReport;
use crate::{domain::Domain, error::AppResult, services::visitor::housekeeping};

/// Runs the job once: tenants where visitors were anonymised get their `anonymised` count.
pub async fn run(ctx: &Domain) -> AppResult<JobReport> {
    let mut report = JobReport::default();
    for tenant in housekeeping::anonymise(&ctx.db, ctx.now()).await? {
        report.add(&tenant.tenant_id, "anonymised", tenant.count);
    }
    Ok(report)
}
