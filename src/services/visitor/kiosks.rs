//! Kiosks: single-use pairing codes (hashed, 10 minutes) that turn a device into a KIOSK
//! principal of one location, whose bearer token (hashed) lasts until it is revoked.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

use crate::services::{
    new_id, now, shared::audit, shared::page, shared::validate, visitor::locations,
};
use crate::{
    auth::{Principal, tokens},
    domain::Domain,
    error::{AppError, AppResult},
};
use entities::{
    kiosk_pairing_codes::{self, Entity as PairingCode},
    kiosks::{self, Column, Entity as Kiosk},
};

/// Minutes a pairing code stays valid.
pub const PAIRING_CODE_MINUTES: i64 = 10;
/// Length of a pairing code (Crockford base32 characters).
pub const PAIRING_CODE_LENGTH: usize = 8;
/// Attempts at drawing a code that is not taken yet.
const CODE_ATTEMPTS: usize = 5;

fn bad_code() -> AppError {
    AppError::bad_input("Unknown, used or expired pairing code")
}

/// Creates a pairing code for an active location. Returns the plain code (only its digest is
/// stored), when it expires, and the location.
pub async fn create_pairing_code(
    db: &DatabaseConnection,
    principal: &Principal,
    location_id: &str,
) -> AppResult<(String, DateTime<Utc>, entities::locations::Model)> {
    let tenant = principal.tenant_id.as_str();
    for _ in 0..CODE_ATTEMPTS {
        let code = tokens::new_code(PAIRING_CODE_LENGTH);
        let txn = crate::db::begin_write(db).await?;
        let location = locations::require_active(&txn, tenant, location_id).await?;
        let at = now();
        let model = kiosk_pairing_codes::Model {
            id: new_id(),
            tenant_id: tenant.to_owned(),
            location_id: location.id.clone(),
            code_hash: tokens::digest(&code),
            expires_at: at + Duration::minutes(PAIRING_CODE_MINUTES),
            used_at: None,
            created_by: principal.actor(),
            created_at: at,
        };
        let inserted = PairingCode::insert(model.clone().into_active_model())
            .exec_without_returning(&txn)
            .await;
        match inserted {
            Ok(_) => {}
            Err(e) if crate::db::is_unique_violation(&e) => {
                // The code is taken: draw another one in a fresh transaction.
                txn.rollback().await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        audit::record(
            &txn,
            tenant,
            &principal.actor(),
            "kiosk.pairing_code.create",
            Some(&model.id),
            Some(location.id.clone()),
        )
        .await?;
        txn.commit().await?;
        return Ok((code, model.expires_at, location));
    }
    Err(AppError::internal("could not draw an unused pairing code"))
}

/// Pairs a kiosk with a code: the code (of any tenant; it names its tenant and location) is
/// used up, and a kiosk is created with a new bearer token, returned once, with the kiosk's
/// location (the caller has no principal yet, so the request's loaders cannot load it).
pub async fn pair(
    db: &DatabaseConnection,
    code: &str,
    name: &str,
) -> AppResult<(String, kiosks::Model, entities::locations::Model)> {
    let name = validate::required(name, "name", validate::MAX_NAME)?;
    let code = tokens::normalize_code(code)
        .filter(|c| c.len() >= PAIRING_CODE_LENGTH)
        .ok_or_else(bad_code)?;
    let hash = tokens::digest(&code);
    let txn = crate::db::begin_write(db).await?;
    let at = now();
    // Claim the code first: the conditional write makes it single-use even under races (and
    // on SQLite takes the write lock before anything is read).
    let claimed = PairingCode::update_many()
        .col_expr(kiosk_pairing_codes::Column::UsedAt, Expr::value(at))
        .filter(kiosk_pairing_codes::Column::CodeHash.eq(&hash))
        .filter(kiosk_pairing_codes::Column::UsedAt.is_null())
        .filter(kiosk_pairing_codes::Column::ExpiresAt.gt(at))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(bad_code());
    }
    let pairing = PairingCode::find()
        .filter(kiosk_pairing_codes::Column::CodeHash.eq(&hash))
        .one(&txn)
        .await?
        .ok_or_else(bad_code)?;
    let location =
        locations::require_active(&txn, &pairing.tenant_id, &pairing.location_id).await?;
    let token = tokens::new_token(tokens::KIOSK_PREFIX);
    let kiosk = kiosks::Model {
        id: new_id(),
        tenant_id: pairing.tenant_id.clone(),
        location_id: location.id.clone(),
        name,
        token_hash: tokens::digest(&token),
        paired_at: at,
        last_seen_at: None,
        revoked_at: None,
    };
    Kiosk::insert(kiosk.clone().into_active_model())
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        &kiosk.tenant_id,
        &format!("kiosk:{}", kiosk.id),
        "kiosk.pair",
        Some(&kiosk.id),
        Some(kiosk.name.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok((token, kiosk, location))
}

/// Revokes a kiosk: its token stops working and, once committed, its live connections close.
/// Revoking a revoked kiosk returns it unchanged.
pub async fn revoke(ctx: &Domain, principal: &Principal, id: &str) -> AppResult<kiosks::Model> {
    let id = validate::id(id, "Kiosk")?;
    let txn = crate::db::begin_write(&ctx.db).await?;
    let kiosk = Kiosk::find_by_id(id)
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("Kiosk"))?;
    if kiosk.revoked_at.is_some() {
        return Ok(kiosk);
    }
    let at = now();
    let updated = Kiosk::update_many()
        .col_expr(Column::RevokedAt, Expr::value(at))
        .filter(Column::Id.eq(&kiosk.id))
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .filter(Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        // Revoked concurrently: return it as it now is.
        txn.rollback().await?;
        return Kiosk::find_by_id(kiosk.id)
            .filter(Column::TenantId.eq(&principal.tenant_id))
            .one(&ctx.db)
            .await?
            .ok_or(AppError::NotFound("Kiosk"));
    }
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "kiosk.revoke",
        Some(&kiosk.id),
        Some(kiosk.name.clone()),
    )
    .await?;
    txn.commit().await?;
    ctx.hub.publish_revocation(&kiosk.id);
    Ok(kiosks::Model {
        revoked_at: Some(at),
        ..kiosk
    })
}

/// The tenant's kiosks, newest pairing first.
pub async fn list(db: &DatabaseConnection, principal: &Principal) -> AppResult<Vec<kiosks::Model>> {
    let rows = Kiosk::find()
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .order_by_desc(Column::PairedAt)
        .order_by_desc(Column::Id)
        .limit(page::MAX_LIST as u64 + 1)
        .all(db)
        .await?;
    page::bounded(rows, "kiosks")
}
