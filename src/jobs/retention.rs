//! Retention: visitor personal data older than `retentionDays` is anonymised.

use super::JobReport;
use crate::{app::AppState, error::AppResult, services::visitor_housekeeping};

/// Runs the job once: tenants where visitors were anonymised get their `anonymised` count.
pub async fn run(state: &AppState) -> AppResult<JobReport> {
    let mut report = JobReport::default();
    for tenant in visitor_housekeeping::anonymise(&state.db, crate::services::now()).await? {
        report.add(&tenant.tenant_id, "anonymised", tenant.count);
    }
    Ok(report)
}
