//! What the integration endpoints serve (CONTRACT section 4): today's visits and the
//! locations, for one tenant (a tenant key) or every tenant (the platform key), and inbound
//! events that become audit entries. Each list is read in pages of at most [`MAX_LIMIT`]
//! rows, in a stable order, with an opaque cursor to the next page.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::services::{
    new_id, now,
    shared::{audit, integration_keys::Access, page::Cursor, validate},
};
use crate::{
    domain::Domain,
    error::{AppError, AppResult},
};
use entities::{hosts, inbound_events, locations, tenants, visitors, visits};

/// Rows per page when the caller does not say.
pub const DEFAULT_LIMIT: usize = 500;
/// Most rows per page.
pub const MAX_LIMIT: usize = 1000;
/// Largest `data` of an inbound event, as JSON.
pub const MAX_EVENT_DATA: usize = 16 * 1024;

/// Validates `limit` (default [`DEFAULT_LIMIT`], 1 to [`MAX_LIMIT`]).
pub fn limit(limit: Option<i64>) -> AppResult<usize> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => Ok(n as usize),
        Some(_) => Err(AppError::bad_input(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// The tenants a caller reads: `None` for every tenant, or one. A tenant key asking for
/// another tenant reads nothing, as if that tenant did not exist.
fn scope(access: &Access, tenant: Option<&str>) -> AppResult<Option<Option<String>>> {
    let tenant = tenant.map(|t| validate::id(t, "Tenant")).transpose();
    let tenant = match tenant {
        Ok(t) => t,
        // Not a UUID: names no tenant.
        Err(_) => return Ok(None),
    };
    Ok(match (access, tenant) {
        (Access::Platform, tenant) => Some(tenant),
        (Access::Tenant { tenant_id, .. }, None) => Some(Some(tenant_id.clone())),
        (Access::Tenant { tenant_id, .. }, Some(t)) if *tenant_id == t => Some(Some(t)),
        (Access::Tenant { .. }, Some(_)) => None,
    })
}

/// A visit of today with what the endpoint shows of it.
#[derive(Debug)]
pub struct TodayVisit {
    /// The visit.
    pub visit: visits::Model,
    /// Its visitor.
    pub visitor: Option<visitors::Model>,
    /// Where.
    pub location: Option<locations::Model>,
    /// Whom they came to see.
    pub host: Option<hosts::Model>,
}

/// One page of a list and the cursor of the next, if any.
#[derive(Debug)]
pub struct Listing<T> {
    /// The rows.
    pub rows: Vec<T>,
    /// The cursor of the next page.
    pub next_cursor: Option<String>,
}

/// The visits checked in on the current UTC day, oldest first by (`checked_in_at`, `id`).
pub async fn visitors_today(
    ctx: &Domain,
    access: &Access,
    tenant: Option<&str>,
    limit: usize,
    after: Option<&str>,
) -> AppResult<(NaiveDate, Listing<TodayVisit>)> {
    let day = ctx.now().date_naive();
    let start: DateTime<Utc> = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let end = start + Duration::days(1);
    let Some(tenant) = scope(access, tenant)? else {
        return Ok((
            day,
            Listing {
                rows: Vec::new(),
                next_cursor: None,
            },
        ));
    };
    let mut cond = Condition::all()
        .add(visits::Column::CheckedInAt.gte(start))
        .add(visits::Column::CheckedInAt.lt(end));
    if let Some(tenant) = &tenant {
        cond = cond.add(visits::Column::TenantId.eq(tenant));
    }
    if let Some(after) = after {
        let cursor = Cursor::decode(after)?;
        let at = cursor.time()?;
        cond = cond.add(
            Condition::any()
                .add(visits::Column::CheckedInAt.gt(at))
                .add(
                    Condition::all()
                        .add(visits::Column::CheckedInAt.eq(at))
                        .add(visits::Column::Id.gt(cursor.id)),
                ),
        );
    }
    let mut rows = visits::Entity::find()
        .filter(cond)
        .order_by_asc(visits::Column::CheckedInAt)
        .order_by_asc(visits::Column::Id)
        .limit(limit as u64 + 1)
        .all(&ctx.db)
        .await?;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
            .map(|v| Cursor::at_time(v.checked_in_at, &v.id).encode())
    } else {
        None
    };
    // Each relation in one statement; a row is matched by id and tenant both.
    let visitor_ids: Vec<&str> = rows.iter().map(|v| v.visitor_id.as_str()).collect();
    let location_ids: Vec<&str> = rows.iter().map(|v| v.location_id.as_str()).collect();
    let host_ids: Vec<&str> = rows.iter().filter_map(|v| v.host_id.as_deref()).collect();
    let visitors: HashMap<(String, String), visitors::Model> = visitors::Entity::find()
        .filter(visitors::Column::Id.is_in(dedup(visitor_ids)))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|m| ((m.tenant_id.clone(), m.id.clone()), m))
        .collect();
    let locations: HashMap<(String, String), locations::Model> = locations::Entity::find()
        .filter(locations::Column::Id.is_in(dedup(location_ids)))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|m| ((m.tenant_id.clone(), m.id.clone()), m))
        .collect();
    let hosts: HashMap<(String, String), hosts::Model> = if host_ids.is_empty() {
        HashMap::new()
    } else {
        hosts::Entity::find()
            .filter(hosts::Column::Id.is_in(dedup(host_ids)))
            .all(&ctx.db)
            .await?
            .into_iter()
            .map(|m| ((m.tenant_id.clone(), m.id.clone()), m))
            .collect()
    };
    let rows = rows
        .into_iter()
        .map(|visit| {
            let key = |id: &str| (visit.tenant_id.clone(), id.to_owned());
            TodayVisit {
                visitor: visitors.get(&key(&visit.visitor_id)).cloned(),
                location: locations.get(&key(&visit.location_id)).cloned(),
                host: visit
                    .host_id
                    .as_deref()
                    .and_then(|h| hosts.get(&key(h)).cloned()),
                visit,
            }
        })
        .collect();
    Ok((day, Listing { rows, next_cursor }))
}

fn dedup(mut ids: Vec<&str>) -> Vec<String> {
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter().map(str::to_owned).collect()
}

/// The locations, archived ones included, by id.
pub async fn locations(
    ctx: &Domain,
    access: &Access,
    tenant: Option<&str>,
    limit: usize,
    after: Option<&str>,
) -> AppResult<Listing<locations::Model>> {
    let Some(tenant) = scope(access, tenant)? else {
        return Ok(Listing {
            rows: Vec::new(),
            next_cursor: None,
        });
    };
    let mut query = locations::Entity::find();
    if let Some(tenant) = &tenant {
        query = query.filter(locations::Column::TenantId.eq(tenant));
    }
    if let Some(after) = after {
        query = query.filter(locations::Column::Id.gt(Cursor::decode(after)?.id));
    }
    let mut rows = query
        .order_by_asc(locations::Column::Id)
        .limit(limit as u64 + 1)
        .all(&ctx.db)
        .await?;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|l| {
            Cursor {
                key: String::new(),
                id: l.id.clone(),
            }
            .encode()
        })
    } else {
        None
    };
    Ok(Listing { rows, next_cursor })
}

/// An event another system sends to `POST /api/integration/webhook`.
#[derive(Debug)]
pub struct InboundEvent {
    /// The sender's id for it (unique per tenant and source).
    pub id: String,
    /// What happened (`badge.printed`, `door.opened`, …).
    pub event_type: String,
    /// The sending system; the audit entry's actor.
    pub source: String,
    /// The tenant it concerns.
    pub tenant_id: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Its payload (a JSON value, at most [`MAX_EVENT_DATA`] bytes as JSON).
    pub data: serde_json::Value,
}

/// Takes an inbound event: an audit entry in its tenant with the source as actor, once per
/// tenant, source and event id. Returns whether it was new (a replay stores nothing). A
/// tenant the caller may not write, or that does not exist, is `NOT_FOUND` either way.
pub async fn take_event(ctx: &Domain, access: &Access, event: InboundEvent) -> AppResult<bool> {
    let text = |value: &str, field: &str, max: usize| -> AppResult<String> {
        let value = validate::required(value, field, max)?;
        if value.chars().any(char::is_control) {
            return Err(AppError::bad_input(format!(
                "{field} must not hold control characters"
            )));
        }
        Ok(value)
    };
    let id = text(&event.id, "id", 200)?;
    let event_type = text(&event.event_type, "type", 100)?;
    let source = text(&event.source, "source", 100)?;
    let tenant_id = validate::id(&event.tenant_id, "Tenant")
        .map_err(|_| AppError::bad_input("tenant_id must be a tenant id (a UUID)"))?;
    let data =
        serde_json::to_string(&event.data).map_err(|_| AppError::bad_input("data must be JSON"))?;
    if data.len() > MAX_EVENT_DATA {
        return Err(AppError::bad_input(format!(
            "data must be at most {MAX_EVENT_DATA} bytes as JSON"
        )));
    }
    if !access.allows(&tenant_id) {
        return Err(AppError::NotFound("Tenant"));
    }
    let txn = crate::db::begin_write(&ctx.db).await?;
    if tenants::Entity::find_by_id(&tenant_id)
        .one(&txn)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound("Tenant"));
    }
    let inserted = inbound_events::Entity::insert(inbound_events::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant_id.clone()),
        source: Set(source.clone()),
        event_id: Set(id.clone()),
        event_type: Set(event_type.clone()),
        received_at: Set(now()),
    })
    .exec_without_returning(&txn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(err) if crate::db::is_unique_violation(&err) => {
            txn.rollback().await?;
            return Ok(false);
        }
        Err(err) => return Err(err.into()),
    }
    let details = serde_json::json!({
        "event_id": id,
        "occurred_at": event.occurred_at.to_rfc3339(),
        "via": access.actor(),
        "data": event.data,
    });
    // The actor names the source under `webhook:`, so that no event can pass itself off
    // as a person or as onegraph (`staff:…`, `system`).
    audit::record(
        &txn,
        &tenant_id,
        &format!("webhook:{source}"),
        &format!("webhook.{event_type}"),
        Some(&id),
        Some(details.to_string()),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}
