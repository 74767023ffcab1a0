//! Visitor settings per tenant: retention, required host and badge, auto-checkout time.

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, sea_query::OnConflict,
};

use crate::services::{now, shared::audit, shared::validate};
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

/// Validates and stores changes. Only the columns the change sets are written (an upsert
/// whose `ON CONFLICT` update lists just those), so two concurrent partial updates on
/// PostgreSQL both land instead of one overwriting the other with what it read before.
pub async fn update(
    db: &DatabaseConnection,
    principal: &Principal,
    changes: SettingsChanges,
) -> AppResult<visitor_settings::Model> {
    let tenant_id = principal.tenant_id.clone();
    let at = now();
    // A new row starts from the defaults; an existing one keeps the columns not set here.
    let mut row = visitor_settings::ActiveModel {
        tenant_id: Set(tenant_id.clone()),
        retention_days: Set(DEFAULT_RETENTION_DAYS),
        require_host: Set(false),
        require_badge: Set(false),
        auto_checkout_at: Set(None),
        updated_at: Set(at),
    };
    let mut changed = Vec::new();
    if let Some(days) = changes.retention_days {
        if !(1..=3650).contains(&days) {
            return Err(AppError::bad_input(
                "retentionDays must be between 1 and 3650",
            ));
        }
        row.retention_days = Set(days);
        changed.push(Column::RetentionDays);
    }
    if let Some(v) = changes.require_host {
        row.require_host = Set(v);
        changed.push(Column::RequireHost);
    }
    if let Some(v) = changes.require_badge {
        row.require_badge = Set(v);
        changed.push(Column::RequireBadge);
    }
    if let Some(text) = &changes.auto_checkout_at {
        row.auto_checkout_at = Set(if text.trim().is_empty() {
            None
        } else {
            Some(validate::hh_mm(text, "autoCheckoutAt")?)
        });
        changed.push(Column::AutoCheckoutAt);
    }
    changed.push(Column::UpdatedAt);

    let txn = crate::db::begin_write(db).await?;
    VisitorSettings::insert(row)
        .on_conflict(
            OnConflict::column(Column::TenantId)
                .update_columns(changed)
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    // Read back inside the transaction, which now holds the row: the settings as stored.
    let model = get(&txn, &tenant_id).await?;
    audit::record(
        &txn,
        &tenant_id,
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
