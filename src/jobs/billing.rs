//! The billing-usage job: plans the day's Hub Billing reports once the day has reached
//! `BILLING_USAGE_AT` (UTC), or at once when run by hand, then sends every pending report
//! that is due, oldest day first. A report Hub refuses or does not answer stays pending and
//! is retried with backoff on later runs (the timer runs the job every few minutes); an
//! accepted one is never sent again.

use chrono::{NaiveTime, Timelike};

use super::{JobReport, Trigger};
use crate::{
    domain::Domain,
    error::AppResult,
    services::visitor::billing,
    upstream::hub::{HubBilling, HubClient, UsageReport},
};

/// Runs the job against Hub as the settings configure it.
pub async fn run(ctx: &Domain, trigger: Trigger) -> AppResult<JobReport> {
    let hub = HubClient::new(&ctx.settings);
    sync(ctx, &hub, trigger).await
}

/// Runs the job once against `hub`.
pub async fn sync(ctx: &Domain, hub: &dyn HubBilling, trigger: Trigger) -> AppResult<JobReport> {
    let mut report = JobReport::default();
    let at = ctx.now();
    let (hour, minute) = ctx.settings.billing_usage_at;
    let due_at = NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default();
    let time = NaiveTime::from_hms_opt(at.hour(), at.minute(), at.second()).unwrap_or_default();
    if trigger == Trigger::Hand || time >= due_at {
        let planned = billing::plan(ctx, at).await?;
        if planned > 0 {
            tracing::info!(planned, "billing usage reports planned");
        }
    }
    for row in billing::due(ctx, at).await? {
        let usage = UsageReport {
            product: "visitor",
            tenant_id: row.tenant_id.clone(),
            metric: "active_locations",
            quantity: row.quantity,
            period: row.period.clone(),
            reported_on: row.reported_on.clone(),
        };
        match hub.report(&usage, &row.id).await {
            Ok(()) => {
                billing::accepted(ctx, &row.id).await?;
                report.add(&row.tenant_id, "reported", 1);
            }
            Err(err) => {
                let message = format!("report {} {}: {err}", row.period, row.reported_on);
                billing::failed(ctx, &row, &err.to_string(), at).await?;
                report.add(&row.tenant_id, "pending", 1);
                report.tenant_error(&row.tenant_id, message);
            }
        }
    }
    Ok(report)
}
