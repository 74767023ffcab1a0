//! Badges: the lifecycle AVAILABLE → ASSIGNED (to one open visit) → AVAILABLE, or RETIRED.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};

use crate::services::{
    new_id, now, shared::audit, shared::page, shared::validate, visitor::locations,
};
use crate::{
    auth::Principal,
    error::{AppError, AppResult},
};
use entities::{
    badges::{self, Column, Entity as Badge},
    visits::{self, VisitStatus},
};

/// Where a badge is in its lifecycle: the stored column's own type.
pub use entities::badges::BadgeStatus;

/// The tenant's badges, optionally of one location and status.
pub async fn list(
    db: &DatabaseConnection,
    principal: &Principal,
    location_id: Option<&str>,
    status: Option<BadgeStatus>,
) -> AppResult<Vec<badges::Model>> {
    let mut query = Badge::find().filter(Column::TenantId.eq(&principal.tenant_id));
    if let Some(location) = location_id {
        match validate::id(location, "Location") {
            Ok(id) => query = query.filter(Column::LocationId.eq(id)),
            Err(_) => return Ok(Vec::new()),
        }
    }
    if let Some(status) = status {
        query = query.filter(Column::Status.eq(status));
    }
    let rows = query
        .order_by_asc(Column::LocationId)
        .order_by_asc(Column::Number)
        .limit(page::MAX_LIST as u64 + 1)
        .all(db)
        .await?;
    page::bounded(rows, "badges")
}

async fn require(db: &impl ConnectionTrait, tenant_id: &str, id: &str) -> AppResult<badges::Model> {
    let id = validate::id(id, "Badge")?;
    Badge::find_by_id(id)
        .filter(Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("Badge"))
}

/// Adds a badge to a location; numbers are unique per location.
pub async fn add(
    db: &DatabaseConnection,
    principal: &Principal,
    location_id: &str,
    number: &str,
) -> AppResult<badges::Model> {
    let number = validate::required(number, "number", 50)?;
    let txn = crate::db::begin_write(db).await?;
    let location = locations::require_active(&txn, &principal.tenant_id, location_id).await?;
    let taken = Badge::find()
        .filter(Column::LocationId.eq(&location.id))
        .filter(Column::Number.eq(&number))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Err(AppError::Conflict(format!(
            "badge {number} already exists at this location"
        )));
    }
    let at = now();
    let model = badges::Model {
        id: new_id(),
        tenant_id: principal.tenant_id.clone(),
        location_id: location.id,
        number,
        status: BadgeStatus::Available,
        current_visit_id: None,
        created_at: at,
        updated_at: at,
    };
    Badge::insert(model.clone().into_active_model())
        .exec_without_returning(&txn)
        .await
        .map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                AppError::Conflict("badge number already exists at this location".into())
            } else {
                e.into()
            }
        })?;
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "badge.add",
        Some(&model.id),
        Some(model.number.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Assigns an available badge of `location_id` to the visit being created (inside the
/// check-in transaction). The conditional update makes two concurrent assignments of one
/// badge impossible.
pub async fn assign_for_check_in(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    badge_id: &str,
    location_id: &str,
    visit_id: &str,
) -> AppResult<badges::Model> {
    let badge = require(txn, tenant_id, badge_id).await?;
    if badge.location_id != location_id {
        return Err(AppError::bad_input("the badge belongs to another location"));
    }
    take(txn, badge, visit_id).await
}

async fn take(
    txn: &impl ConnectionTrait,
    badge: badges::Model,
    visit_id: &str,
) -> AppResult<badges::Model> {
    match badge.status {
        BadgeStatus::Assigned => {
            return Err(AppError::Conflict(format!(
                "badge {} is already assigned",
                badge.number
            )));
        }
        BadgeStatus::Retired => {
            return Err(AppError::Conflict(format!(
                "badge {} is retired",
                badge.number
            )));
        }
        BadgeStatus::Available => {}
    }
    let at = now();
    let updated = Badge::update_many()
        .col_expr(Column::Status, Expr::value(BadgeStatus::Assigned))
        .col_expr(Column::CurrentVisitId, Expr::value(visit_id.to_owned()))
        .col_expr(Column::UpdatedAt, Expr::value(at))
        .filter(Column::Id.eq(&badge.id))
        .filter(Column::Status.eq(BadgeStatus::Available))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "badge {} is already assigned",
            badge.number
        )));
    }
    Ok(badges::Model {
        status: BadgeStatus::Assigned,
        current_visit_id: Some(visit_id.to_owned()),
        updated_at: at,
        ..badge
    })
}

/// Frees the badge of a visit being checked out; returns it as it now is. Only a badge still
/// assigned to that visit is freed: one returned (and perhaps handed out again) in the
/// meantime is left alone and the check-out is a `CONFLICT`, to be retried.
pub async fn release(
    txn: &impl ConnectionTrait,
    badge_id: &str,
    visit_id: &str,
) -> AppResult<Option<badges::Model>> {
    let at = now();
    let updated = Badge::update_many()
        .col_expr(Column::Status, Expr::value(BadgeStatus::Available))
        .col_expr(Column::CurrentVisitId, Expr::value(Option::<String>::None))
        .col_expr(Column::UpdatedAt, Expr::value(at))
        .filter(Column::Id.eq(badge_id))
        .filter(Column::CurrentVisitId.eq(visit_id))
        .filter(Column::Status.eq(BadgeStatus::Assigned))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the visit's badge changed meanwhile; try again".into(),
        ));
    }
    Ok(Badge::find_by_id(badge_id.to_owned()).one(txn).await?)
}

/// Assigns a badge to an open visit at the badge's location.
///
/// Both rows change only through conditional updates (PostgreSQL's READ COMMITTED does not
/// serialise these transactions as SQLite's `BEGIN IMMEDIATE` does): the visit only while it
/// is open and has no badge, the badge only while it is available. Whoever loses a race gets
/// `CONFLICT` and changes nothing. The visit row is locked before the badge row, in the
/// order check-out and `return_badge` take them.
pub async fn assign(
    db: &DatabaseConnection,
    principal: &Principal,
    badge_id: &str,
    visit_id: &str,
) -> AppResult<badges::Model> {
    let txn = crate::db::begin_write(db).await?;
    let badge = require(&txn, &principal.tenant_id, badge_id).await?;
    let visit_id = validate::id(visit_id, "Visit")?;
    let visit = visits::Entity::find_by_id(visit_id)
        .filter(visits::Column::TenantId.eq(&principal.tenant_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("Visit"))?;
    if visit.status != VisitStatus::CheckedIn {
        return Err(AppError::Conflict(
            "the visit is already checked out".into(),
        ));
    }
    if visit.location_id != badge.location_id {
        return Err(AppError::bad_input("the badge belongs to another location"));
    }
    if visit.badge_id.is_some() {
        return Err(AppError::Conflict("the visit already has a badge".into()));
    }
    let updated = visits::Entity::update_many()
        .col_expr(visits::Column::BadgeId, Expr::value(badge.id.clone()))
        .filter(visits::Column::Id.eq(&visit.id))
        .filter(visits::Column::TenantId.eq(&principal.tenant_id))
        .filter(visits::Column::Status.eq(VisitStatus::CheckedIn))
        .filter(visits::Column::BadgeId.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the visit was checked out or given a badge meanwhile".into(),
        ));
    }
    let badge = take(&txn, badge, &visit.id).await?;
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "badge.assign",
        Some(&badge.id),
        badge.current_visit_id.clone(),
    )
    .await?;
    txn.commit().await?;
    Ok(badge)
}

/// Returns an assigned badge to the shelf (the visit stays open). Only a badge still
/// assigned to the visit read here is returned; otherwise `CONFLICT`.
pub async fn return_badge(
    db: &DatabaseConnection,
    principal: &Principal,
    badge_id: &str,
) -> AppResult<badges::Model> {
    let txn = crate::db::begin_write(db).await?;
    let badge = require(&txn, &principal.tenant_id, badge_id).await?;
    let not_assigned = || AppError::Conflict(format!("badge {} is not assigned", badge.number));
    if badge.status != BadgeStatus::Assigned {
        return Err(not_assigned());
    }
    let Some(visit_id) = badge.current_visit_id.clone() else {
        return Err(not_assigned());
    };
    // The visit first, as check-out and `assign` lock them.
    visits::Entity::update_many()
        .col_expr(visits::Column::BadgeId, Expr::value(Option::<String>::None))
        .filter(visits::Column::Id.eq(&visit_id))
        .filter(visits::Column::TenantId.eq(&principal.tenant_id))
        .filter(visits::Column::BadgeId.eq(&badge.id))
        .exec(&txn)
        .await?;
    let at = now();
    let updated = Badge::update_many()
        .col_expr(Column::Status, Expr::value(BadgeStatus::Available))
        .col_expr(Column::CurrentVisitId, Expr::value(Option::<String>::None))
        .col_expr(Column::UpdatedAt, Expr::value(at))
        .filter(Column::Id.eq(&badge.id))
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .filter(Column::Status.eq(BadgeStatus::Assigned))
        .filter(Column::CurrentVisitId.eq(&visit_id))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(not_assigned());
    }
    let badge = badges::Model {
        status: BadgeStatus::Available,
        current_visit_id: None,
        updated_at: at,
        ..badge
    };
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "badge.return",
        Some(&badge.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(badge)
}

/// Takes a badge out of service; an assigned badge must be returned first. Only an
/// available badge is retired, so a check-in taking it at the same time wins or loses whole.
pub async fn retire(
    db: &DatabaseConnection,
    principal: &Principal,
    badge_id: &str,
) -> AppResult<badges::Model> {
    let txn = crate::db::begin_write(db).await?;
    let badge = require(&txn, &principal.tenant_id, badge_id).await?;
    match badge.status {
        BadgeStatus::Assigned => {
            return Err(AppError::Conflict(format!(
                "badge {} is assigned; return it first",
                badge.number
            )));
        }
        BadgeStatus::Retired => {
            return Err(AppError::Conflict(format!(
                "badge {} is already retired",
                badge.number
            )));
        }
        BadgeStatus::Available => {}
    }
    let at = now();
    let updated = Badge::update_many()
        .col_expr(Column::Status, Expr::value(BadgeStatus::Retired))
        .col_expr(Column::UpdatedAt, Expr::value(at))
        .filter(Column::Id.eq(&badge.id))
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .filter(Column::Status.eq(BadgeStatus::Available))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "badge {} is no longer available",
            badge.number
        )));
    }
    let badge = badges::Model {
        status: BadgeStatus::Retired,
        updated_at: at,
        ..badge
    };
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "badge.retire",
        Some(&badge.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(badge)
}
