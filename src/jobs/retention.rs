//! Retention: visitor personal data older than `retentionDays` is anonymised or cleared
//! (visitors, visit purposes, dead visit events in the outbox), and webhook events older
//! than that are forgotten.

use super::JobReport;
use crate::{domain::Domain, error::AppResult, services::visitor::housekeeping};

/// Runs the job once: each tenant where something was cleared gets its counts
/// (`anonymised` visitors, `purposes_cleared`, `outbox_scrubbed` dead events,
/// `webhook_events_expired`).
pub async fn run(ctx: &Domain) -> AppResult<JobReport> {
    let mut report = JobReport::default();
    for tenant in housekeeping::anonymise(&ctx.db, ctx.now()).await? {
        for (counter, n) in [
            ("anonymised", tenant.visitors),
            ("purposes_cleared", tenant.purposes),
            ("outbox_scrubbed", tenant.outbox),
            ("webhook_events_expired", tenant.webhook_events),
        ] {
            if n > 0 {
                report.add(&tenant.tenant_id, counter, n);
            }
        }
    }
    Ok(report)
}
