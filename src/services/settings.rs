//! Visitor settings per tenant: retention, required host and badge, auto-checkout time.

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, sea_query::OnConflict,
};

use super::{audit, now, validate};
use crate::{
    auth::Principal,
    error::{AppError, AppResult},
};
use entities::visitor_settings::{self, Column, Entity as VisitorSettings};

/// Retention when a tenant has not chosen one.
pub const DEFAULT_RETENTION_DAYS: i32 = 365;

/// Changes to the settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SettingsChanges {
    /// Days visitor personal data is kept (1 to 3650).
    pub retention_days: Option<i32>,
    /// Staff check-ins must name a host.
    pub require_host: Option<bool>,
    /// Staff check-ins must hand out a badge.
    pub require_badge: Option<bool>,
    /// `HH:MM` local time to check open visits out; blank turns it off.
    pub auto_checkout_at: Option<String>,
}

/// The tenant's settings, or the defaults.
pub async fn get(db: &impl ConnectionTrait, tenant_id: &str) -> AppResult<visitor_settings::Model> {
    Ok(VisitorSettings::find_by_id(tenant_id.to_owned())
        .one(db)
        .await?
        .unwrap_or_else(|| visitor_settings::Model {
            tenant_id: tenant_id.to_owned(),
            retention_days: DEFAULT_RETENTION_DAYS,
            require_host: false,
            require_badge: false,
            auto_checkout_at: None,
            updated_at: now(),
        }))
}

/// Validates and stores changes.
pub async fn update(
    db: &DatabaseConnection,
    principal: &Principal,
    changes: SettingsChanges,
) -> AppResult<visitor_settings::Model> {
    let txn = crate::db::begin_write(db).await?;
    let mut model = get(&txn, &principal.tenant_id).await?;
    if let Some(days) = changes.retention_days {
        if !(1..=3650).contains(&days) {
            return Err(AppError::bad_input(
                "retentionDays must be between 1 and 3650",
            ));
        }
        model.retention_days = days;
    }
    if let Some(v) = changes.require_host {
        model.require_host = v;
    }
    if let Some(v) = changes.require_badge {
        model.require_badge = v;
    }
    if let Some(at) = &changes.auto_checkout_at {
        model.auto_checkout_at = if at.trim().is_empty() {
            None
        } else {
            Some(validate::hh_mm(at, "autoCheckoutAt")?)
        };
    }
    model.updated_at = now();
    VisitorSettings::insert(visitor_settings::ActiveModel {
        tenant_id: Set(model.tenant_id.clone()),
        retention_days: Set(model.retention_days),
        require_host: Set(model.require_host),
        require_badge: Set(model.require_badge),
        auto_checkout_at: Set(model.auto_checkout_at.clone()),
        updated_at: Set(model.updated_at),
    })
    .on_conflict(
        OnConflict::column(Column::TenantId)
            .update_columns([
                Column::RetentionDays,
                Column::RequireHost,
                Column::RequireBadge,
                Column::AutoCheckoutAt,
                Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "settings.update",
        None,
        Some(format!(
            "retentionDays={} requireHost={} requireBadge={} autoCheckoutAt={}",
            model.retention_days,
            model.require_host,
            model.require_badge,
            model.auto_checkout_at.as_deref().unwrap_or("off")
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}
