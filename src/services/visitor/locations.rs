//! Locations: create, update, archive, list; kiosks see only their own.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::services::{new_id, now, shared::audit, shared::page, shared::validate};
use crate::{
    auth::{Principal, PrincipalKind},
    error::{AppError, AppResult},
};
use entities::locations::{self, Column, Entity as Location};

/// Kind of place: the stored column's own type.
pub use entities::locations::LocationType;

/// A new location.
#[derive(Debug, Clone)]
pub struct NewLocation {
    /// Name.
    pub name: String,
    /// Street address.
    pub address: Option<String>,
    /// Kind of place.
    pub location_type: LocationType,
    /// IANA time zone.
    pub timezone: String,
}

/// Changes to a location; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct LocationChanges {
    /// New name.
    pub name: Option<String>,
    /// New address (blank clears it).
    pub address: Option<String>,
    /// New kind.
    pub location_type: Option<LocationType>,
    /// New time zone.
    pub timezone: Option<String>,
}

/// The tenant's locations (a kiosk: its own), archived ones only when asked.
pub async fn list(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    include_archived: bool,
) -> AppResult<Vec<locations::Model>> {
    let mut query = Location::find().filter(Column::TenantId.eq(&principal.tenant_id));
    if principal.kind == PrincipalKind::Kiosk {
        query = query.filter(Column::Id.eq(principal.location_id.clone().unwrap_or_default()));
    }
    if !include_archived {
        query = query.filter(Column::Archived.eq(false));
    }
    let rows = query
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Id)
        .limit(page::MAX_LIST as u64 + 1)
        .all(db)
        .await?;
    page::bounded(rows, "locations")
}

/// One location of the caller's tenant (a kiosk: only its own).
pub async fn get(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    id: &str,
) -> AppResult<Option<locations::Model>> {
    let Ok(id) = validate::id(id, "Location") else {
        return Ok(None);
    };
    if principal.kind == PrincipalKind::Kiosk && principal.location_id.as_deref() != Some(&id) {
        return Ok(None);
    }
    Ok(Location::find_by_id(id)
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .one(db)
        .await?)
}

/// A location of `tenant_id` that is not archived, or `NOT_FOUND`.
pub async fn require_active(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: &str,
    id: &str,
) -> AppResult<locations::Model> {
    let id = validate::id(id, "Location")?;
    let location = Location::find_by_id(id)
        .filter(Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("Location"))?;
    if location.archived {
        return Err(AppError::bad_input("the location is archived"));
    }
    Ok(location)
}

/// Creates a location.
pub async fn create(
    db: &sea_orm::DatabaseConnection,
    principal: &Principal,
    input: NewLocation,
) -> AppResult<locations::Model> {
    let name = validate::required(&input.name, "name", validate::MAX_NAME)?;
    let address = validate::optional(input.address.as_deref(), "address", validate::MAX_TEXT)?;
    let timezone = validate::timezone(&input.timezone)?;
    let at = now();
    let model = locations::Model {
        id: new_id(),
        tenant_id: principal.tenant_id.clone(),
        name,
        address,
        location_type: input.location_type,
        timezone,
        archived: false,
        created_at: at,
        updated_at: at,
    };
    let txn = crate::db::begin_write(db).await?;
    Location::insert(model.clone().into_active_model())
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "location.create",
        Some(&model.id),
        Some(model.name.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Updates a location.
pub async fn update(
    db: &sea_orm::DatabaseConnection,
    principal: &Principal,
    id: &str,
    changes: LocationChanges,
) -> AppResult<locations::Model> {
    let id = validate::id(id, "Location")?;
    let txn = crate::db::begin_write(db).await?;
    let existing = Location::find_by_id(id)
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("Location"))?;
    let mut active = existing.into_active_model();
    if let Some(name) = &changes.name {
        active.name = Set(validate::required(name, "name", validate::MAX_NAME)?);
    }
    if let Some(address) = &changes.address {
        active.address = Set(validate::optional(
            Some(address),
            "address",
            validate::MAX_TEXT,
        )?);
    }
    if let Some(kind) = changes.location_type {
        active.location_type = Set(kind);
    }
    if let Some(tz) = &changes.timezone {
        active.timezone = Set(validate::timezone(tz)?);
    }
    active.updated_at = Set(now());
    let model = active.update(&txn).await?;
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "location.update",
        Some(&model.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Archives a location: it stays in history and reports but takes no new check-ins.
pub async fn archive(
    db: &sea_orm::DatabaseConnection,
    principal: &Principal,
    id: &str,
) -> AppResult<locations::Model> {
    let id = validate::id(id, "Location")?;
    let txn = crate::db::begin_write(db).await?;
    let existing = Location::find_by_id(id)
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("Location"))?;
    let mut active = existing.into_active_model();
    active.archived = Set(true);
    active.updated_at = Set(now());
    let model = active.update(&txn).await?;
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "location.archive",
        Some(&model.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}
