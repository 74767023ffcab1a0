//! Hub Billing usage: each tenant's count of active locations (at least one check-in in the
//! calendar month, UTC), reported once per tenant, period and day. A report is planned as a
//! row of `billing_reports` (the unique tenant-period-day index makes a second plan of the
//! same day a no-op) and stays there, retried with backoff, until Hub accepts it; an
//! accepted report is never sent again.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::services::{new_id, now};
use crate::{domain::Domain, error::AppResult};
use entities::{billing_reports, tenants, visits};

/// Pending reports sent per run at most.
pub const BATCH: u64 = 500;
/// The first retry delay after a failed attempt; doubled after each, at most [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::minutes(1);
/// The longest retry delay.
pub const MAX_BACKOFF: Duration = Duration::hours(1);

/// The first day of `day`'s month and of the next.
fn month_bounds(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).unwrap_or(day);
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .unwrap_or(first);
    (first, next)
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

#[derive(Debug, FromQueryResult)]
struct Active {
    tenant_id: String,
    n: i64,
}

/// Tenant → locations with at least one check-in in `[from, to)`, in one statement.
async fn active_locations(
    ctx: &Domain,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<HashMap<String, i64>> {
    let rows = visits::Entity::find()
        .select_only()
        .column(visits::Column::TenantId)
        .column_as(Expr::col(visits::Column::LocationId).count_distinct(), "n")
        .filter(visits::Column::CheckedInAt.gte(from))
        .filter(visits::Column::CheckedInAt.lt(to))
        .group_by(visits::Column::TenantId)
        .into_model::<Active>()
        .all(&ctx.db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.tenant_id, r.n)).collect())
}

/// Plans the reports of `at`'s day for every tenant, due at `at`: on the 1st, the previous
/// month's final count first; then the current month's count so far. Returns how many were
/// new (a day already planned plans nothing).
pub async fn plan(ctx: &Domain, at: DateTime<Utc>) -> AppResult<u64> {
    let today = at.date_naive();
    let tenants: Vec<String> = tenants::Entity::find()
        .select_only()
        .column(tenants::Column::Id)
        .order_by_asc(tenants::Column::Id)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let (first, next) = month_bounds(today);
    let mut periods = Vec::new();
    if today.day() == 1 {
        let (previous, _) = month_bounds(first - Duration::days(1));
        periods.push((previous, first));
    }
    periods.push((first, next));
    let mut planned = 0;
    for (from, to) in periods {
        let counts = active_locations(ctx, midnight(from), midnight(to)).await?;
        let period = from.format("%Y-%m").to_string();
        let created = now();
        let rows: Vec<billing_reports::ActiveModel> = tenants
            .iter()
            .map(|tenant| billing_reports::ActiveModel {
                id: Set(new_id()),
                tenant_id: Set(tenant.clone()),
                period: Set(period.clone()),
                reported_on: Set(today.to_string()),
                quantity: Set(counts.get(tenant).copied().unwrap_or(0)),
                accepted_at: Set(None),
                attempts: Set(0),
                next_attempt_at: Set(at),
                last_error: Set(None),
                created_at: Set(created),
            })
            .collect();
        for chunk in rows.chunks(200) {
            planned += billing_reports::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([
                        billing_reports::Column::TenantId,
                        billing_reports::Column::Period,
                        billing_reports::Column::ReportedOn,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&ctx.db)
                .await?;
        }
    }
    Ok(planned)
}

/// Pending reports due by `at`, oldest day first (a month's final count before the next
/// month's first).
pub async fn due(ctx: &Domain, at: DateTime<Utc>) -> AppResult<Vec<billing_reports::Model>> {
    Ok(billing_reports::Entity::find()
        .filter(billing_reports::Column::AcceptedAt.is_null())
        .filter(billing_reports::Column::NextAttemptAt.lte(at))
        .order_by_asc(billing_reports::Column::ReportedOn)
        .order_by_asc(billing_reports::Column::Period)
        .order_by_asc(billing_reports::Column::TenantId)
        .limit(BATCH)
        .all(&ctx.db)
        .await?)
}

/// Records Hub's acceptance of `id` (only while it is pending).
pub async fn accepted(ctx: &Domain, id: &str) -> AppResult<()> {
    billing_reports::Entity::update_many()
        .col_expr(billing_reports::Column::AcceptedAt, Expr::value(now()))
        .col_expr(
            billing_reports::Column::Attempts,
            Expr::col(billing_reports::Column::Attempts).add(1),
        )
        .col_expr(
            billing_reports::Column::LastError,
            Expr::value(None::<String>),
        )
        .filter(billing_reports::Column::Id.eq(id))
        .filter(billing_reports::Column::AcceptedAt.is_null())
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// Records a failed attempt of `report` and when to try again: [`FIRST_BACKOFF`] doubled per
/// earlier attempt, at most [`MAX_BACKOFF`], from `at`.
pub async fn failed(
    ctx: &Domain,
    report: &billing_reports::Model,
    error: &str,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let doublings = u32::try_from(report.attempts.clamp(0, 10)).unwrap_or(10);
    let delay = (FIRST_BACKOFF * 2i32.pow(doublings)).min(MAX_BACKOFF);
    billing_reports::Entity::update_many()
        .col_expr(
            billing_reports::Column::Attempts,
            Expr::col(billing_reports::Column::Attempts).add(1),
        )
        .col_expr(
            billing_reports::Column::NextAttemptAt,
            Expr::value(at + delay),
        )
        .col_expr(
            billing_reports::Column::LastError,
            Expr::value(error.chars().take(200).collect::<String>()),
        )
        .filter(billing_reports::Column::Id.eq(&report.id))
        .filter(billing_reports::Column::AcceptedAt.is_null())
        .exec(&ctx.db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_end_where_the_calendar_says() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        assert_eq!(
            month_bounds(d(2026, 12, 6)),
            (d(2026, 12, 1), d(2027, 1, 1))
        );
        assert_eq!(month_bounds(d(2028, 2, 29)), (d(2028, 2, 1), d(2028, 3, 1)));
        assert_eq!(month_bounds(d(2026, 1, 1)), (d(2026, 1, 1), d(2026, 2, 1)));
    }
}
