//! Visitor housekeeping run by the scheduler: auto-checkout of visits still open at a
//! location's daily `autoCheckoutAt` (local time), and retention, which anonymises visitors
//! whose data is older than the tenant's `retentionDays`.

use chrono::{DateTime, Days, Duration, LocalResult, TimeZone, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::services::{now, shared::audit, visitor::settings, visitor::visits};
use crate::{
    domain::Domain,
    error::{AppError, AppResult},
};

/// The audit actor of auto-checkout.
pub const AUTO_CHECKOUT_ACTOR: &str = "system:auto-checkout";
/// The audit actor of retention.
pub const RETENTION_ACTOR: &str = "system:retention";
/// The name an anonymised visitor keeps.
pub const ANONYMISED_NAME: &str = "Anonymised visitor";
/// Visitors anonymised per transaction.
const CHUNK: u64 = 500;

/// The most recent instant at or before `now` when the wall clock in `tz` showed `h:m`.
/// A time skipped by a daylight-saving change counts as the first instant after the gap;
/// a time that happens twice counts at its first occurrence.
pub fn latest_cutoff(now: DateTime<Utc>, tz: Tz, h: u32, m: u32) -> Option<DateTime<Utc>> {
    let today = now.with_timezone(&tz).date_naive();
    (0..=2u64).find_map(|back| {
        let naive = today
            .checked_sub_days(Days::new(back))?
            .and_hms_opt(h, m, 0)?;
        let local = match tz.from_local_datetime(&naive) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
            LocalResult::None => tz
                .from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()?,
        };
        let at = local.with_timezone(&Utc);
        (at <= now).then_some(at)
    })
}

/// What one tenant's housekeeping did.
#[derive(Debug, Clone, Default)]
pub struct TenantCount {
    /// The tenant.
    pub tenant_id: String,
    /// Visits checked out, or visitors anonymised.
    pub count: u64,
    /// Visits that could not be checked out (already checked out meanwhile, …).
    pub errors: Vec<String>,
}

/// Checks out, through the one check-out path (badge freed, audit entry, outbox event,
/// subscriptions), every open visit checked in before its location's most recent
/// `autoCheckoutAt`, for each tenant that set one.
pub async fn auto_checkout(ctx: &Domain, at: DateTime<Utc>) -> AppResult<Vec<TenantCount>> {
    use entities::visitor_settings::{Column as S, Entity as Settings};
    let tenants: Vec<(String, Option<String>)> = Settings::find()
        .select_only()
        .columns([S::TenantId, S::AutoCheckoutAt])
        .filter(S::AutoCheckoutAt.is_not_null())
        .order_by_asc(S::TenantId)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut out = Vec::new();
    for (tenant_id, time) in tenants {
        let Some((h, m)) = time
            .as_deref()
            .and_then(|t| crate::config::parse_hh_mm(t.trim()))
        else {
            continue;
        };
        let mut done = TenantCount {
            tenant_id: tenant_id.clone(),
            ..TenantCount::default()
        };
        let locations: Vec<(String, String)> = entities::locations::Entity::find()
            .select_only()
            .columns([
                entities::locations::Column::Id,
                entities::locations::Column::Timezone,
            ])
            .filter(entities::locations::Column::TenantId.eq(&tenant_id))
            .into_tuple()
            .all(&ctx.db)
            .await?;
        for (location_id, timezone) in locations {
            let tz = timezone.parse::<Tz>().unwrap_or_else(|_| {
                tracing::warn!(%location_id, %timezone, "unknown time zone; using UTC");
                Tz::UTC
            });
            let Some(cutoff) = latest_cutoff(at, tz, h, m) else {
                continue;
            };
            let open: Vec<String> = entities::visits::Entity::find()
                .select_only()
                .column(entities::visits::Column::Id)
                .filter(entities::visits::Column::TenantId.eq(&tenant_id))
                .filter(entities::visits::Column::LocationId.eq(&location_id))
                .filter(entities::visits::Column::Status.eq(visits::VisitStatus::CheckedIn))
                .filter(entities::visits::Column::CheckedInAt.lt(cutoff))
                .order_by_asc(entities::visits::Column::CheckedInAt)
                .into_tuple()
                .all(&ctx.db)
                .await?;
            for visit_id in open {
                match visits::system_check_out(ctx, &tenant_id, AUTO_CHECKOUT_ACTOR, &visit_id)
                    .await
                {
                    Ok(_) => done.count += 1,
                    // Checked out by someone else since the query: nothing left to do.
                    Err(AppError::Conflict(_) | AppError::NotFound(_)) => {}
                    Err(err) => done
                        .errors
                        .push(format!("visit {visit_id}: {}", err.message())),
                }
            }
        }
        out.push(done);
    }
    Ok(out)
}

/// What retention did in one tenant.
#[derive(Debug, Clone, Default)]
pub struct Retained {
    /// The tenant.
    pub tenant_id: String,
    /// Visitors anonymised.
    pub visitors: u64,
    /// Visits whose `purpose` was cleared.
    pub purposes: u64,
    /// Dead outbox events whose visitor details were cleared.
    pub outbox: u64,
    /// Webhook events forgotten: their audit entries and the ids kept for idempotency.
    pub webhook_events: u64,
}

/// Applies retention, tenant by tenant, to the personal data older than the tenant's
/// `retentionDays` (default 365):
/// - visitors created before the cutoff, with no visit checked in since, no open visit and
///   no pre-registration still expected, are anonymised: name becomes [`ANONYMISED_NAME`];
///   e-mail, phone, company and risk notes are cleared, and so are the details (the
///   visitor's name) of the audit entries of their check-ins and pre-registrations;
/// - visits checked in before the cutoff and checked out lose their `purpose`;
/// - Bus events about visits (`visitor.checked_in`, `visitor.checked_out`) written before
///   the cutoff whose delivery failed for good (dead outbox rows, kept for support) lose
///   the visitor's name and company. Rows still to be delivered are left to the dispatcher;
/// - events taken by the integration webhook before the cutoff are forgotten: their audit
///   entries (actor `webhook:…`, whose `data` is whatever the sender put there) and the ids
///   kept to refuse replays, so that a webhook's idempotency lasts `retentionDays`.
///
/// Visits stay, so counts and reports do not change. Running it again changes nothing.
pub async fn anonymise(db: &DatabaseConnection, at: DateTime<Utc>) -> AppResult<Vec<Retained>> {
    let tenants: Vec<String> = entities::tenants::Entity::find()
        .select_only()
        .column(entities::tenants::Column::Id)
        .order_by_asc(entities::tenants::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut out = Vec::new();
    for tenant_id in tenants {
        let days = Ord::max(settings::get(db, &tenant_id).await?.retention_days, 1);
        let cutoff = at - Duration::days(i64::from(days));
        let mut done = Retained {
            tenant_id: tenant_id.clone(),
            ..Retained::default()
        };
        loop {
            let n = anonymise_chunk(db, &tenant_id, cutoff, days).await?;
            done.visitors += n;
            if n < CHUNK {
                break;
            }
        }
        done.purposes = clear_purposes(db, &tenant_id, cutoff, days).await?;
        let mut after = None;
        loop {
            let (seen, scrubbed, last) =
                scrub_dead_events(db, &tenant_id, cutoff, after.as_deref()).await?;
            done.outbox += scrubbed;
            if seen < CHUNK {
                break;
            }
            after = last;
        }
        done.webhook_events = expire_webhook_events(db, &tenant_id, cutoff, days).await?;
        if done.visitors + done.purposes + done.outbox + done.webhook_events > 0 {
            out.push(done);
        }
    }
    Ok(out)
}

/// Clears the `purpose` (free text, often personal) of `tenant_id`'s checked-out visits
/// checked in before `cutoff`, with its audit entry; returns how many.
async fn clear_purposes(
    db: &DatabaseConnection,
    tenant_id: &str,
    cutoff: DateTime<Utc>,
    days: i32,
) -> AppResult<u64> {
    use entities::visits::{Column as Vs, Entity as Visits};
    let txn = crate::db::begin_write(db).await?;
    let cleared = Visits::update_many()
        .col_expr(Vs::Purpose, Expr::value(Option::<String>::None))
        .filter(Vs::TenantId.eq(tenant_id))
        .filter(Vs::Purpose.is_not_null())
        .filter(Vs::Status.eq(visits::VisitStatus::CheckedOut))
        .filter(Vs::CheckedInAt.lt(cutoff))
        .exec(&txn)
        .await?
        .rows_affected;
    if cleared > 0 {
        audit::record(
            &txn,
            tenant_id,
            RETENTION_ACTOR,
            "visit.purpose_cleared",
            None,
            Some(format!(
                "purposes of {cleared} visits older than {days} days cleared"
            )),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(cleared)
}

/// Deletes `tenant_id`'s webhook events taken before `cutoff` (the audit entries of
/// `webhook:` actors and the ids in `inbound_events`), with an audit entry saying how many;
/// returns how many events.
async fn expire_webhook_events(
    db: &DatabaseConnection,
    tenant_id: &str,
    cutoff: DateTime<Utc>,
    days: i32,
) -> AppResult<u64> {
    use entities::audit_log::{Column as A, Entity as Audit};
    use entities::inbound_events::{Column as I, Entity as Inbound};
    let txn = crate::db::begin_write(db).await?;
    let entries = Audit::delete_many()
        .filter(A::TenantId.eq(tenant_id))
        .filter(A::Actor.starts_with("webhook:"))
        .filter(A::At.lt(cutoff))
        .exec(&txn)
        .await?
        .rows_affected;
    let ids = Inbound::delete_many()
        .filter(I::TenantId.eq(tenant_id))
        .filter(I::ReceivedAt.lt(cutoff))
        .exec(&txn)
        .await?
        .rows_affected;
    let expired = Ord::max(entries, ids);
    if expired > 0 {
        audit::record(
            &txn,
            tenant_id,
            RETENTION_ACTOR,
            "webhook.events_expired",
            None,
            Some(format!(
                "{expired} webhook events older than {days} days forgotten"
            )),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(expired)
}

/// The visit events whose payload names a visitor.
const VISIT_EVENTS: [&str; 2] = ["visitor.checked_in", "visitor.checked_out"];

/// Looks at up to [`CHUNK`] of `tenant_id`'s dead visit events written before `cutoff`, in
/// id order after `after`, and clears the visitor's name and company in those that still
/// have them. Returns (rows looked at, rows changed, the last id looked at).
async fn scrub_dead_events(
    db: &DatabaseConnection,
    tenant_id: &str,
    cutoff: DateTime<Utc>,
    after: Option<&str>,
) -> AppResult<(u64, u64, Option<String>)> {
    use entities::outbox::{Column as O, Entity as Outbox, OutboxKind};
    let mut query = Outbox::find();
    if let Some(after) = after {
        query = query.filter(O::Id.gt(after));
    }
    let rows: Vec<(String, String)> = query
        .select_only()
        .column(O::Id)
        .column(O::Payload)
        .filter(O::TenantId.eq(tenant_id))
        .filter(O::Dead.eq(true))
        .filter(O::Kind.eq(OutboxKind::Bus))
        .filter(O::EventType.is_in(VISIT_EVENTS))
        .filter(O::CreatedAt.lt(cutoff))
        // What is already anonymised is not read again on later days.
        .filter(O::Payload.not_like(format!("%\"visitor_name\":\"{ANONYMISED_NAME}\"%")))
        .order_by_asc(O::Id)
        .limit(CHUNK)
        .into_tuple()
        .all(db)
        .await?;
    let seen = rows.len() as u64;
    let last = rows.last().map(|(id, _)| id.clone());
    let mut scrubbed = 0;
    for (id, payload) in rows {
        let Some(cleared) = scrubbed_event(&payload) else {
            continue;
        };
        let changed = Outbox::update_many()
            .col_expr(O::Payload, Expr::value(cleared))
            .filter(O::Id.eq(&id))
            .filter(O::Dead.eq(true))
            .exec(db)
            .await?
            .rows_affected;
        scrubbed += changed;
    }
    Ok((seen, scrubbed, last))
}

/// A visit event's envelope with the visitor's name replaced by [`ANONYMISED_NAME`] and the
/// company cleared; the whole payload replaced by the envelope's bare bones when it does not
/// parse as one. `None` when there is nothing to clear.
fn scrubbed_event(payload: &str) -> Option<String> {
    let mut envelope: serde_json::Value = match serde_json::from_str(payload) {
        Ok(value @ serde_json::Value::Object(_)) => value,
        _ => return Some(serde_json::json!({"anonymised": true}).to_string()),
    };
    let data = envelope.get_mut("data")?.as_object_mut()?;
    let name = serde_json::Value::String(ANONYMISED_NAME.to_owned());
    if data.get("visitor_name") == Some(&name)
        && data.get("company").is_none_or(serde_json::Value::is_null)
    {
        return None;
    }
    data.insert("visitor_name".to_owned(), name);
    data.insert("company".to_owned(), serde_json::Value::Null);
    Some(envelope.to_string())
}

/// Anonymises up to [`CHUNK`] visitors of `tenant_id` in one transaction; returns how many.
async fn anonymise_chunk(
    db: &DatabaseConnection,
    tenant_id: &str,
    cutoff: DateTime<Utc>,
    days: i32,
) -> AppResult<u64> {
    use entities::{
        pre_registrations as pre, visitors::Column as V, visitors::Entity as Visitors, visits,
    };
    let txn = crate::db::begin_write(db).await?;
    let still_needed = Query::select()
        .column((visits::Entity, visits::Column::VisitorId))
        .from(visits::Entity)
        .and_where(Expr::col((visits::Entity, visits::Column::TenantId)).eq(tenant_id))
        .cond_where(
            Condition::any()
                .add(
                    Expr::col((visits::Entity, visits::Column::Status))
                        .eq(crate::services::visitor::visits::VisitStatus::CheckedIn),
                )
                .add(Expr::col((visits::Entity, visits::Column::CheckedInAt)).gte(cutoff)),
        )
        .to_owned();
    let expected = Query::select()
        .column((pre::Entity, pre::Column::VisitorId))
        .from(pre::Entity)
        .and_where(Expr::col((pre::Entity, pre::Column::TenantId)).eq(tenant_id))
        .and_where(
            Expr::col((pre::Entity, pre::Column::Status))
                .eq(pre::StoredPreRegistrationStatus::Expected),
        )
        .to_owned();
    let ids: Vec<String> = Visitors::find()
        .select_only()
        .column(V::Id)
        .filter(V::TenantId.eq(tenant_id))
        .filter(V::AnonymizedAt.is_null())
        .filter(V::CreatedAt.lt(cutoff))
        .filter(V::Id.not_in_subquery(still_needed))
        .filter(V::Id.not_in_subquery(expected))
        .order_by_asc(V::Id)
        .limit(CHUNK)
        .into_tuple()
        .all(&txn)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let stamp = now();
    let updated = Visitors::update_many()
        .col_expr(V::Name, Expr::value(ANONYMISED_NAME))
        .col_expr(V::Email, Expr::value(Option::<String>::None))
        .col_expr(V::EmailNormalized, Expr::value(Option::<String>::None))
        .col_expr(V::Phone, Expr::value(Option::<String>::None))
        .col_expr(V::Company, Expr::value(Option::<String>::None))
        .col_expr(V::AiRiskScore, Expr::value(Option::<f64>::None))
        .col_expr(V::AiRiskNotes, Expr::value(Option::<String>::None))
        .col_expr(V::AnonymizedAt, Expr::value(stamp))
        .col_expr(V::UpdatedAt, Expr::value(stamp))
        .filter(V::Id.is_in(ids.clone()))
        .filter(V::AnonymizedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    // The check-in and pre-registration audit entries name the visitor.
    let their_visits = Query::select()
        .column((visits::Entity, visits::Column::Id))
        .from(visits::Entity)
        .and_where(Expr::col((visits::Entity, visits::Column::VisitorId)).is_in(ids.clone()))
        .to_owned();
    let their_pre = Query::select()
        .column((pre::Entity, pre::Column::Id))
        .from(pre::Entity)
        .and_where(Expr::col((pre::Entity, pre::Column::VisitorId)).is_in(ids.clone()))
        .to_owned();
    {
        use entities::audit_log::{Column as A, Entity as Audit};
        Audit::update_many()
            .col_expr(A::Details, Expr::value(Option::<String>::None))
            .filter(A::TenantId.eq(tenant_id))
            .filter(A::Action.is_in(["visit.check_in", "pre_registration.create"]))
            .filter(
                Condition::any()
                    .add(A::Target.in_subquery(their_visits))
                    .add(A::Target.in_subquery(their_pre)),
            )
            .exec(&txn)
            .await?;
    }
    audit::record(
        &txn,
        tenant_id,
        RETENTION_ACTOR,
        "visitor.anonymise",
        None,
        Some(format!(
            "{updated} visitors older than {days} days anonymised"
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn a_dead_visit_event_loses_the_visitor_once() {
        let event = r#"{"id":"e1","type":"visitor.checked_in","data":{"visit_id":"v1","visitor_name":"Olivia","company":"Initech"}}"#;
        let cleared = scrubbed_event(event).unwrap_or_default();
        let value: serde_json::Value = serde_json::from_str(&cleared).unwrap_or_default();
        assert_eq!(value["data"]["visitor_name"], ANONYMISED_NAME);
        assert_eq!(value["data"]["company"], serde_json::Value::Null);
        assert_eq!(value["data"]["visit_id"], "v1");
        assert_eq!(value["id"], "e1");
        assert_eq!(scrubbed_event(&cleared), None);
        assert_eq!(scrubbed_event(r#"{"id":"e2"}"#), None);
        assert_eq!(
            scrubbed_event("Olivia, not JSON").as_deref(),
            Some(r#"{"anonymised":true}"#)
        );
    }

    #[test]
    fn the_latest_cutoff_is_today_or_yesterday_in_the_location_zone() {
        let now = utc("2026-12-01T12:00:00Z");
        assert_eq!(
            latest_cutoff(now, Tz::UTC, 11, 30),
            Some(utc("2026-12-01T11:30:00Z"))
        );
        assert_eq!(
            latest_cutoff(now, Tz::UTC, 12, 30),
            Some(utc("2026-11-30T12:30:00Z"))
        );
        // 18:00 in Tokyo (UTC+9) is 09:00 UTC.
        assert_eq!(
            latest_cutoff(now, chrono_tz::Asia::Tokyo, 18, 0),
            Some(utc("2026-12-01T09:00:00Z"))
        );
        // 02:30 does not exist in New York on 2026-03-08: the first instant after the gap.
        let spring = utc("2026-03-08T12:00:00Z");
        assert_eq!(
            latest_cutoff(spring, chrono_tz::America::New_York, 2, 30),
            Some(utc("2026-03-08T07:30:00Z"))
        );
    }
}
