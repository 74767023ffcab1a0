//! Auto-checkout: open visits are checked out at each location's `autoCheckoutAt`.

use super::JobReport;
use crate::{app::AppState, error::AppResult, services::visitor_housekeeping};

/// Runs the job once: every tenant with an `autoCheckoutAt` gets its `checked_out` count.
pub async fn run(state: &AppState) -> AppResult<JobReport> {
    let mut report = JobReport::default();
    for tenant in visitor_housekeeping::auto_checkout(state, crate::services::now()).await? {
        report.add(&tenant.tenant_id, "checked_out", tenant.count);
        report.errors.extend(tenant.errors);
    }
    Ok(report)
}
