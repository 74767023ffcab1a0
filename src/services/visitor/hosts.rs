//! The host directory: people visitors come to see. Kiosks see the directory hosts of their
//! location (or of no location).

use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, Func},
};

use crate::services::{
    new_id, now, shared::audit, shared::page, shared::validate, visitor::locations,
};
use crate::{
    auth::{Principal, PrincipalKind},
    error::{AppError, AppResult},
};
use entities::hosts::{self, Column, Entity as Host};

/// A new host.
#[derive(Debug, Clone)]
pub struct NewHost {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Home location.
    pub location_id: Option<String>,
    /// Shown on kiosks.
    pub visible_in_directory: bool,
}

/// Changes to a host; `None` leaves a field as it is, blank text clears it.
#[derive(Debug, Clone, Default)]
pub struct HostChanges {
    /// Name.
    pub name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Home location (blank clears it).
    pub location_id: Option<String>,
    /// Shown on kiosks.
    pub visible_in_directory: Option<bool>,
}

/// Filters of the host directory.
#[derive(Debug, Clone, Default)]
pub struct HostFilter {
    /// Matches name, e-mail or department, case-insensitively (name or department for kiosks).
    pub search: Option<String>,
    /// Hosts of this location.
    pub location_id: Option<String>,
}

/// Escapes `%`, `_` and `\` for a LIKE pattern.
pub fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn lower_like(column: Column, pattern: &str) -> sea_orm::sea_query::SimpleExpr {
    Expr::expr(Func::lower(Expr::col(column)))
        .like(sea_orm::sea_query::LikeExpr::new(pattern.to_owned()).escape('\\'))
}

fn condition(principal: &Principal, filter: &HostFilter) -> AppResult<Condition> {
    let mut cond = Condition::all()
        .add(Column::TenantId.eq(&principal.tenant_id))
        .add(Column::Removed.eq(false));
    if principal.kind == PrincipalKind::Kiosk {
        cond = cond.add(Column::VisibleInDirectory.eq(true)).add(
            Condition::any()
                .add(Column::LocationId.eq(principal.location_id.clone().unwrap_or_default()))
                .add(Column::LocationId.is_null()),
        );
    }
    if let Some(location) = &filter.location_id {
        match validate::id(location, "Location") {
            Ok(id) => cond = cond.add(Column::LocationId.eq(id)),
            Err(_) => cond = cond.add(Column::Id.is_null()),
        }
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.trim().is_empty()) {
        if search.chars().count() > validate::MAX_NAME {
            return Err(AppError::bad_input("search is too long"));
        }
        let pattern = like_pattern(search);
        let mut any = Condition::any()
            .add(lower_like(Column::Name, &pattern))
            .add(lower_like(Column::Department, &pattern));
        // Kiosks may not read `Host.email`, so they may not probe it by searching either.
        if principal.kind != PrincipalKind::Kiosk {
            any = any.add(lower_like(Column::Email, &pattern));
        }
        cond = cond.add(any);
    }
    Ok(cond)
}

/// One page of the directory, ordered by name.
pub async fn list(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    filter: &HostFilter,
    first: usize,
    after: Option<&str>,
) -> AppResult<page::Page<hosts::Model>> {
    let mut cond = condition(principal, filter)?;
    if let Some(after) = after {
        let cursor = page::Cursor::decode(after)?;
        cond = cond.add(
            Condition::any()
                .add(Column::Name.gt(cursor.key.clone()))
                .add(
                    Condition::all()
                        .add(Column::Name.eq(cursor.key))
                        .add(Column::Id.gt(cursor.id)),
                ),
        );
    }
    let rows = Host::find()
        .filter(cond)
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Id)
        .limit(first as u64 + 1)
        .all(db)
        .await?;
    Ok(page::Page::from_rows(rows, first, |h| page::Cursor {
        key: h.name.clone(),
        id: h.id.clone(),
    }))
}

/// How many hosts match the filter.
pub async fn count(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    filter: &HostFilter,
) -> AppResult<u64> {
    Ok(Host::find()
        .filter(condition(principal, filter)?)
        .count(db)
        .await?)
}

/// A host of the tenant that has not been removed, or `NOT_FOUND`.
pub async fn require(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: &str,
    id: &str,
) -> AppResult<hosts::Model> {
    let id = validate::id(id, "Host")?;
    Host::find_by_id(id)
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::Removed.eq(false))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("Host"))
}

/// A host of the tenant, also one hidden from the directory or removed (a pre-registration
/// keeps the host it was made for).
pub async fn find_any(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: &str,
    id: &str,
) -> AppResult<Option<hosts::Model>> {
    let Ok(id) = validate::id(id, "Host") else {
        return Ok(None);
    };
    Ok(Host::find_by_id(id)
        .filter(Column::TenantId.eq(tenant_id))
        .one(db)
        .await?)
}

/// Adds a host to the directory.
pub async fn create(
    db: &sea_orm::DatabaseConnection,
    principal: &Principal,
    input: NewHost,
) -> AppResult<hosts::Model> {
    let name = validate::required(&input.name, "name", validate::MAX_NAME)?;
    let email = validate::email(input.email.as_deref(), "email")?;
    let phone = validate::phone(input.phone.as_deref(), "phone")?;
    let department = validate::optional(
        input.department.as_deref(),
        "department",
        validate::MAX_NAME,
    )?;
    let txn = crate::db::begin_write(db).await?;
    let location_id = match input
        .location_id
        .as_deref()
        .filter(|l| !l.trim().is_empty())
    {
        Some(l) => Some(
            locations::require_active(&txn, &principal.tenant_id, l)
                .await?
                .id,
        ),
        None => None,
    };
    let at = now();
    let model = hosts::Model {
        id: new_id(),
        tenant_id: principal.tenant_id.clone(),
        name,
        email,
        phone,
        department,
        location_id,
        visible_in_directory: input.visible_in_directory,
        removed: false,
        created_at: at,
        updated_at: at,
    };
    Host::insert(model.clone().into_active_model())
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "host.create",
        Some(&model.id),
        Some(model.name.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Updates a host.
pub async fn update(
    db: &sea_orm::DatabaseConnection,
    principal: &Principal,
    id: &str,
    changes: HostChanges,
) -> AppResult<hosts::Model> {
    let txn = crate::db::begin_write(db).await?;
    let existing = require(&txn, &principal.tenant_id, id).await?;
    let mut active = existing.into_active_model();
    if let Some(name) = &changes.name {
        active.name = Set(validate::required(name, "name", validate::MAX_NAME)?);
    }
    if let Some(email) = &changes.email {
        active.email = Set(validate::email(Some(email), "email")?);
    }
    if let Some(phone) = &changes.phone {
        active.phone = Set(validate::phone(Some(phone), "phone")?);
    }
    if let Some(department) = &changes.department {
        active.department = Set(validate::optional(
            Some(department),
            "department",
            validate::MAX_NAME,
        )?);
    }
    if let Some(location) = &changes.location_id {
        active.location_id = Set(if location.trim().is_empty() {
            None
        } else {
            Some(
                locations::require_active(&txn, &principal.tenant_id, location)
                    .await?
                    .id,
            )
        });
    }
    if let Some(visible) = changes.visible_in_directory {
        active.visible_in_directory = Set(visible);
    }
    active.updated_at = Set(now());
    let model = active.update(&txn).await?;
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "host.update",
        Some(&model.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Removes a host from the directory; past visits keep naming them.
pub async fn remove(
    db: &sea_orm::DatabaseConnection,
    principal: &Principal,
    id: &str,
) -> AppResult<bool> {
    let txn = crate::db::begin_write(db).await?;
    let existing = require(&txn, &principal.tenant_id, id).await?;
    let mut active = existing.into_active_model();
    active.removed = Set(true);
    active.visible_in_directory = Set(false);
    active.updated_at = Set(now());
    let model = active.update(&txn).await?;
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "host.remove",
        Some(&model.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}
