//! Auto-checkout: open visits are checked out at each location's `autoCheckoutAt`.

use super::JobReport;
use crate::{domain::Domain, error::AppResult, services::visitor::housekeeping};

/// Runs the job once: every tenant with an `autoCheckoutAt` gets its `checked_out` count.
pub async fn run(ctx: &Domain) -> AppResult<JobReport> {
    let mut report = JobReport::default();
    for tenant in housekeeping::auto_checkout(ctx, ctx.now()).await? {
        report.add(&tenant.tenant_id, "checked_out", tenant.count);
        for error in tenant.errors {
            report.tenant_error(&tenant.tenant_id, error);
        }
    }
    Ok(report)
}
