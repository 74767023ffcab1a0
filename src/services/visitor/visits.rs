//! Visits: the one check-in path (staff, kiosk and pre-registration code), check-out, and
//! the visit log with filters and cursor pagination.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveEnum,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, Query},
};
use serde_json::json;

use crate::services::{
    new_id, now, shared::audit, shared::outbox, shared::page, shared::validate, visitor::badges,
    visitor::hosts, visitor::locations, visitor::settings,
};
use crate::{
    auth::{Permission, Principal, PrincipalKind, tokens},
    domain::Domain,
    error::{AppError, AppResult},
    events::{VisitBundle, VisitEvent, VisitEventKind},
};
use entities::pre_registrations::StoredPreRegistrationStatus;
use entities::visits::{self, Column, Entity as Visit};

/// Whether a visit is open, and the channel a check-in came through: the stored columns'
/// own types.
pub use entities::visits::{CheckInSource, VisitStatus};

/// Who is arriving.
#[derive(Debug, Clone, Default)]
pub struct VisitorDetails {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
}

/// A check-in request.
#[derive(Debug, Clone, Default)]
pub struct CheckIn {
    /// Where.
    pub location_id: String,
    /// Whom they visit.
    pub host_id: Option<String>,
    /// Who (may be omitted with a pre-registration code).
    pub visitor: Option<VisitorDetails>,
    /// Badge handed out.
    pub badge_id: Option<String>,
    /// Pre-registration code.
    pub pre_registration_code: Option<String>,
    /// Why.
    pub purpose: Option<String>,
}

/// Filters of the visit log.
#[derive(Debug, Clone, Default)]
pub struct VisitFilter {
    /// At this location.
    pub location_id: Option<String>,
    /// For this host.
    pub host_id: Option<String>,
    /// Open or closed.
    pub status: Option<VisitStatus>,
    /// Checked in at or after.
    pub from: Option<DateTime<Utc>>,
    /// Checked in before.
    pub to: Option<DateTime<Utc>>,
    /// Matches the visitor's name, e-mail or company.
    pub search: Option<String>,
}

/// Validated visitor details.
pub fn visitor_details(input: &VisitorDetails) -> AppResult<VisitorDetails> {
    Ok(VisitorDetails {
        name: validate::required(&input.name, "visitor.name", validate::MAX_NAME)?,
        email: validate::email(input.email.as_deref(), "visitor.email")?,
        phone: validate::phone(input.phone.as_deref(), "visitor.phone")?,
        company: validate::optional(
            input.company.as_deref(),
            "visitor.company",
            validate::MAX_NAME,
        )?,
    })
}

/// The visitor record for `details`: an existing one of the tenant is reused only when
/// `may_reuse` (the caller holds `visitor.visitors.view`, so it could read that record
/// anyway) and both the e-mail and the name match, case-insensitively; otherwise a new record
/// is created. Reuse never changes what is stored: it only fills a phone or company the
/// record lacks. Matching by e-mail alone would let a caller who may only check visitors in
/// rename someone on every past visit and learn their id and company.
pub async fn upsert_visitor(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    details: &VisitorDetails,
    may_reuse: bool,
) -> AppResult<entities::visitors::Model> {
    /// Records with one e-mail looked at for a matching name.
    const CANDIDATES: u64 = 20;
    let at = now();
    let normalized = details.email.as_ref().map(|e| e.to_lowercase());
    if may_reuse && let Some(email) = &normalized {
        let name = details.name.to_lowercase();
        let existing = entities::visitors::Entity::find()
            .filter(entities::visitors::Column::TenantId.eq(tenant_id))
            .filter(entities::visitors::Column::EmailNormalized.eq(email))
            .filter(entities::visitors::Column::AnonymizedAt.is_null())
            .order_by_desc(entities::visitors::Column::UpdatedAt)
            .limit(CANDIDATES)
            .all(txn)
            .await?
            .into_iter()
            .find(|v| v.name.to_lowercase() == name);
        if let Some(existing) = existing {
            let fill_phone = existing.phone.is_none() && details.phone.is_some();
            let fill_company = existing.company.is_none() && details.company.is_some();
            if !fill_phone && !fill_company {
                return Ok(existing);
            }
            let mut active = existing.into_active_model();
            if fill_phone {
                active.phone = Set(details.phone.clone());
            }
            if fill_company {
                active.company = Set(details.company.clone());
            }
            active.updated_at = Set(at);
            return Ok(sea_orm::ActiveModelTrait::update(active, txn).await?);
        }
    }
    let model = entities::visitors::Model {
        id: new_id(),
        tenant_id: tenant_id.to_owned(),
        name: details.name.clone(),
        email: details.email.clone(),
        email_normalized: normalized,
        phone: details.phone.clone(),
        company: details.company.clone(),
        ai_risk_score: None,
        ai_risk_notes: None,
        anonymized_at: None,
        created_at: at,
        updated_at: at,
    };
    entities::visitors::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(txn)
        .await?;
    Ok(model)
}

/// The Bus `data` of a visit event (CONTRACT section 5).
pub fn event_data(bundle: &VisitBundle) -> serde_json::Value {
    let visit = &bundle.visit;
    json!({
        "visit_id": visit.id,
        "visitor_id": visit.visitor_id,
        "visitor_name": bundle.visitor.name,
        "company": bundle.visitor.company,
        "location_id": visit.location_id,
        "location_name": bundle.location.name,
        "host_id": visit.host_id,
        "badge_number": bundle.badge.as_ref().map(|b| b.number.clone()),
        "source": visit.source.to_value(),
        "checked_in_at": visit.checked_in_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "checked_out_at": visit.checked_out_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    })
}

fn bad_code() -> AppError {
    AppError::bad_input("Unknown, used or expired pre-registration code")
}

/// Checks a visitor in: the one path for staff, kiosk and pre-registration check-ins.
pub async fn check_in(
    ctx: &Domain,
    principal: &Principal,
    input: CheckIn,
) -> AppResult<Arc<VisitBundle>> {
    let tenant = principal.tenant_id.as_str();
    let is_kiosk = principal.kind == PrincipalKind::Kiosk;
    let source = if is_kiosk {
        CheckInSource::Kiosk
    } else {
        CheckInSource::Staff
    };
    if !is_kiosk && !principal.can(Permission::VisitorsCheckin) {
        return Err(AppError::Forbidden {
            permission: Some(Permission::VisitorsCheckin.as_str()),
        });
    }
    let location_id = validate::id(&input.location_id, "Location")?;
    if is_kiosk && principal.location_id.as_deref() != Some(location_id.as_str()) {
        return Err(AppError::NotFound("Location"));
    }
    if is_kiosk && input.badge_id.is_some() {
        return Err(AppError::Forbidden {
            permission: Some(Permission::VisitorsCheckin.as_str()),
        });
    }
    let purpose = validate::optional(input.purpose.as_deref(), "purpose", validate::MAX_TEXT)?;
    let details = input.visitor.as_ref().map(visitor_details).transpose()?;
    let code = match input.pre_registration_code.as_deref() {
        Some(code) => Some(tokens::normalize_code(code).ok_or_else(bad_code)?),
        None => None,
    };
    if code.is_none() && details.is_none() {
        return Err(AppError::bad_input(
            "visitor is required unless a preRegistrationCode is given",
        ));
    }

    let txn = crate::db::begin_write(&ctx.db).await?;
    let location = locations::require_active(&txn, tenant, &location_id).await?;
    let at = now();

    // A pre-registration brings its visitor and host.
    let pre_registration = match &code {
        Some(code) => {
            let pre = entities::pre_registrations::Entity::find()
                .filter(entities::pre_registrations::Column::TenantId.eq(tenant))
                .filter(entities::pre_registrations::Column::CodeHash.eq(tokens::digest(code)))
                .one(&txn)
                .await?
                .ok_or_else(bad_code)?;
            if pre.status != StoredPreRegistrationStatus::Expected || pre.expires_at <= at {
                return Err(bad_code());
            }
            if pre.location_id != location.id {
                return Err(AppError::bad_input(
                    "this pre-registration is for another location",
                ));
            }
            Some(pre)
        }
        None => None,
    };

    // A host named in the input must be in the directory (for a kiosk: the part it shows).
    // The pre-registration's host was chosen by staff: it applies even when hidden from
    // the directory, and a host removed since is left out.
    let named_host = input.host_id.as_deref().filter(|h| !h.trim().is_empty());
    let host = match (named_host, &pre_registration) {
        (Some(id), _) => {
            let host = hosts::require(&txn, tenant, id).await?;
            if is_kiosk
                && (!host.visible_in_directory
                    || host.location_id.as_ref().is_some_and(|l| *l != location.id))
            {
                return Err(AppError::NotFound("Host"));
            }
            Some(host)
        }
        (None, Some(pre)) => match &pre.host_id {
            Some(id) => hosts::find_any(&txn, tenant, id)
                .await?
                .filter(|h| !h.removed),
            None => None,
        },
        (None, None) => None,
    };

    if source == CheckInSource::Staff {
        let rules = settings::get(&txn, tenant).await?;
        if rules.require_host && host.is_none() {
            return Err(AppError::bad_input("a host is required for check-in"));
        }
        if rules.require_badge && input.badge_id.is_none() {
            return Err(AppError::bad_input("a badge is required for check-in"));
        }
    }

    let visitor = match &pre_registration {
        Some(pre) => entities::visitors::Entity::find_by_id(pre.visitor_id.clone())
            .filter(entities::visitors::Column::TenantId.eq(tenant))
            .one(&txn)
            .await?
            .ok_or_else(bad_code)?,
        None => {
            let details = details
                .as_ref()
                .ok_or_else(|| AppError::bad_input("visitor is required"))?;
            upsert_visitor(
                &txn,
                tenant,
                details,
                source == CheckInSource::Staff && principal.can(Permission::VisitorsView),
            )
            .await?
        }
    };

    let visit_id = new_id();
    let badge = match &input.badge_id {
        Some(badge_id) => Some(
            badges::assign_for_check_in(&txn, tenant, badge_id, &location.id, &visit_id).await?,
        ),
        None => None,
    };
    let visit = visits::Model {
        id: visit_id,
        tenant_id: tenant.to_owned(),
        visitor_id: visitor.id.clone(),
        location_id: location.id.clone(),
        host_id: host.as_ref().map(|h| h.id.clone()),
        badge_id: badge.as_ref().map(|b| b.id.clone()),
        pre_registration_id: pre_registration.as_ref().map(|p| p.id.clone()),
        kiosk_id: principal.kiosk_id.clone().filter(|_| is_kiosk),
        status: VisitStatus::CheckedIn,
        source,
        purpose,
        checked_in_at: at,
        checked_out_at: None,
        checked_in_by: principal.actor(),
    };
    Visit::insert(visit.clone().into_active_model())
        .exec_without_returning(&txn)
        .await?;
    if let Some(pre) = &pre_registration {
        let updated = entities::pre_registrations::Entity::update_many()
            .col_expr(
                entities::pre_registrations::Column::Status,
                Expr::value(StoredPreRegistrationStatus::CheckedIn),
            )
            .col_expr(
                entities::pre_registrations::Column::VisitId,
                Expr::value(visit.id.clone()),
            )
            .filter(entities::pre_registrations::Column::Id.eq(&pre.id))
            .filter(
                entities::pre_registrations::Column::Status
                    .eq(StoredPreRegistrationStatus::Expected),
            )
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(bad_code());
        }
    }
    let bundle = Arc::new(VisitBundle {
        visit,
        visitor,
        location,
        host,
        badge,
    });
    audit::record(
        &txn,
        tenant,
        &principal.actor(),
        "visit.check_in",
        Some(&bundle.visit.id),
        Some(bundle.visitor.name.clone()),
    )
    .await?;
    outbox::bus_event(
        &txn,
        tenant,
        "visitor.checked_in",
        "visitor",
        at,
        event_data(&bundle),
    )
    .await?;
    txn.commit().await?;
    publish(ctx, VisitEventKind::CheckedIn, &bundle);
    Ok(bundle)
}

fn publish(ctx: &Domain, kind: VisitEventKind, bundle: &Arc<VisitBundle>) {
    ctx.hub.publish_visit(Arc::new(VisitEvent {
        kind,
        tenant_id: bundle.visit.tenant_id.clone(),
        location_id: bundle.visit.location_id.clone(),
        bundle: bundle.clone(),
    }));
}

/// Checks a visit out and frees its badge. Kiosks may check out only the visits they
/// checked in.
pub async fn check_out(
    ctx: &Domain,
    principal: &Principal,
    visit_id: &str,
) -> AppResult<Arc<VisitBundle>> {
    let tenant = principal.tenant_id.as_str();
    let is_kiosk = principal.kind == PrincipalKind::Kiosk;
    if !is_kiosk && !principal.can(Permission::VisitorsCheckout) {
        return Err(AppError::Forbidden {
            permission: Some(Permission::VisitorsCheckout.as_str()),
        });
    }
    let kiosk = if is_kiosk {
        // A kiosk without a kiosk id may check out nothing.
        Some(principal.kiosk_id.as_deref().unwrap_or_default())
    } else {
        None
    };
    close_visit(ctx, tenant, &principal.actor(), visit_id, kiosk).await
}

/// Checks a visit out on onegraph's own behalf (a scheduled job): the same path as
/// [`check_out`], badge, audit entry (by `actor`, e.g. `system:auto-checkout`), outbox event
/// and subscriptions included, without a principal's permissions.
pub async fn system_check_out(
    ctx: &Domain,
    tenant_id: &str,
    actor: &str,
    visit_id: &str,
) -> AppResult<Arc<VisitBundle>> {
    close_visit(ctx, tenant_id, actor, visit_id, None).await
}

/// The one check-out path. `kiosk` confines it to the visits that kiosk checked in.
async fn close_visit(
    ctx: &Domain,
    tenant: &str,
    actor: &str,
    visit_id: &str,
    kiosk: Option<&str>,
) -> AppResult<Arc<VisitBundle>> {
    let visit_id = validate::id(visit_id, "Visit")?;
    let txn = crate::db::begin_write(&ctx.db).await?;
    let visit = Visit::find_by_id(visit_id)
        .filter(Column::TenantId.eq(tenant))
        .one(&txn)
        .await?
        .filter(|v| kiosk.is_none_or(|k| v.kiosk_id.as_deref() == Some(k)))
        .ok_or(AppError::NotFound("Visit"))?;
    let at = now();
    let updated = Visit::update_many()
        .col_expr(Column::Status, Expr::value(VisitStatus::CheckedOut))
        .col_expr(Column::CheckedOutAt, Expr::value(at))
        .filter(Column::Id.eq(&visit.id))
        .filter(Column::Status.eq(VisitStatus::CheckedIn))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the visit is already checked out".into(),
        ));
    }
    // Read the visit again now that the update holds its row: a badge assigned between the
    // first read and the update must be freed too.
    let visit = Visit::find_by_id(visit.id.clone())
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal("visit vanished during check-out"))?;
    let badge = match &visit.badge_id {
        Some(badge_id) => badges::release(&txn, badge_id, &visit.id).await?,
        None => None,
    };
    let visitor = entities::visitors::Entity::find_by_id(visit.visitor_id.clone())
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal("visit without visitor"))?;
    let location = entities::locations::Entity::find_by_id(visit.location_id.clone())
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal("visit without location"))?;
    let host = match &visit.host_id {
        Some(h) => {
            entities::hosts::Entity::find_by_id(h.clone())
                .one(&txn)
                .await?
        }
        None => None,
    };
    let bundle = Arc::new(VisitBundle {
        visit,
        visitor,
        location,
        host,
        badge,
    });
    audit::record(
        &txn,
        tenant,
        actor,
        "visit.check_out",
        Some(&bundle.visit.id),
        None,
    )
    .await?;
    outbox::bus_event(
        &txn,
        tenant,
        "visitor.checked_out",
        "visitor",
        at,
        event_data(&bundle),
    )
    .await?;
    txn.commit().await?;
    publish(ctx, VisitEventKind::CheckedOut, &bundle);
    Ok(bundle)
}

fn filter_condition(tenant_id: &str, filter: &VisitFilter) -> AppResult<Condition> {
    let mut cond = Condition::all().add(Column::TenantId.eq(tenant_id));
    let never = || Column::Id.is_null();
    if let Some(l) = &filter.location_id {
        cond = cond.add(
            validate::id(l, "Location").map_or_else(|_| never(), |id| Column::LocationId.eq(id)),
        );
    }
    if let Some(h) = &filter.host_id {
        cond =
            cond.add(validate::id(h, "Host").map_or_else(|_| never(), |id| Column::HostId.eq(id)));
    }
    if let Some(status) = filter.status {
        cond = cond.add(Column::Status.eq(status));
    }
    if let Some(from) = filter.from {
        cond = cond.add(Column::CheckedInAt.gte(from));
    }
    if let Some(to) = filter.to {
        cond = cond.add(Column::CheckedInAt.lt(to));
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && to < from
    {
        return Err(AppError::bad_input(
            "filter.to must not be before filter.from",
        ));
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.trim().is_empty()) {
        if search.chars().count() > validate::MAX_NAME {
            return Err(AppError::bad_input("filter.search is too long"));
        }
        let pattern = hosts::like_pattern(search);
        let like = |col: entities::visitors::Column| {
            Expr::expr(sea_orm::sea_query::Func::lower(Expr::col((
                entities::visitors::Entity,
                col,
            ))))
            .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
        };
        let matching = Query::select()
            .column(entities::visitors::Column::Id)
            .from(entities::visitors::Entity)
            .and_where(
                Expr::col((
                    entities::visitors::Entity,
                    entities::visitors::Column::TenantId,
                ))
                .eq(tenant_id),
            )
            .cond_where(
                Condition::any()
                    .add(like(entities::visitors::Column::Name))
                    .add(like(entities::visitors::Column::Email))
                    .add(like(entities::visitors::Column::Company)),
            )
            .to_owned();
        cond = cond.add(Column::VisitorId.in_subquery(matching));
    }
    Ok(cond)
}

/// One page of the visit log, newest first.
pub async fn list(
    db: &DatabaseConnection,
    principal: &Principal,
    filter: &VisitFilter,
    first: usize,
    after: Option<&str>,
) -> AppResult<page::Page<visits::Model>> {
    page::newest_first::<Visit>(
        db,
        filter_condition(&principal.tenant_id, filter)?,
        (Column::CheckedInAt, Column::Id),
        first,
        after,
        |v| (v.checked_in_at, &v.id),
    )
    .await
}

/// How many visits match the filter.
pub async fn count(
    db: &DatabaseConnection,
    principal: &Principal,
    filter: &VisitFilter,
) -> AppResult<u64> {
    Ok(Visit::find()
        .filter(filter_condition(&principal.tenant_id, filter)?)
        .count(db)
        .await?)
}

/// One visit of the caller's tenant.
pub async fn get(
    db: &DatabaseConnection,
    principal: &Principal,
    id: &str,
) -> AppResult<Option<visits::Model>> {
    let Ok(id) = validate::id(id, "Visit") else {
        return Ok(None);
    };
    Ok(Visit::find_by_id(id)
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .one(db)
        .await?)
}

/// One visitor record of the caller's tenant.
pub async fn get_visitor(
    db: &DatabaseConnection,
    principal: &Principal,
    id: &str,
) -> AppResult<Option<entities::visitors::Model>> {
    let Ok(id) = validate::id(id, "Visitor") else {
        return Ok(None);
    };
    Ok(entities::visitors::Entity::find_by_id(id)
        .filter(entities::visitors::Column::TenantId.eq(&principal.tenant_id))
        .one(db)
        .await?)
}
