//! Integration keys: who calls the integration endpoints (and, later, `search` as an
//! INTEGRATION principal). The platform `INTEGRATION_KEY` sees every tenant; a tenant key,
//! created by that tenant's admins, sees its own tenant only, and nothing once revoked,
//! from the next request on (every request looks the key up).
//!
//! A key is shown once, when it is created; only its SHA-256 digest is stored, and a
//! presented key is compared through digests in constant time.

use chrono::Duration;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};
use subtle::ConstantTimeEq;

use crate::services::{new_id, now, shared::audit, shared::page, shared::validate};
use crate::{
    auth::{PermissionSet, Principal, PrincipalKind, tokens},
    domain::Domain,
    error::{AppError, AppResult},
};
use entities::integration_keys::{self, Column, Entity as IntegrationKey};

/// Live (not revoked) keys a tenant may hold at once.
pub const MAX_LIVE_KEYS: u64 = 50;
/// How stale `last_used_at` may get before a use writes it again (one write a minute per
/// key at most, not one per request).
const LAST_USED_GRANULARITY: Duration = Duration::minutes(1);

/// Whom a presented key speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The platform `INTEGRATION_KEY`: every tenant.
    Platform,
    /// A tenant key: that tenant only.
    Tenant {
        /// The key's tenant.
        tenant_id: String,
        /// The key's id (its audit actor is `integration:<id>`).
        key_id: String,
    },
}

impl Access {
    /// Whether the caller may read or write `tenant_id`'s data.
    pub fn allows(&self, tenant_id: &str) -> bool {
        match self {
            Access::Platform => true,
            Access::Tenant { tenant_id: own, .. } => own == tenant_id,
        }
    }

    /// The audit actor of this caller.
    pub fn actor(&self) -> String {
        match self {
            Access::Platform => "integration:platform".to_owned(),
            Access::Tenant { key_id, .. } => format!("integration:{key_id}"),
        }
    }
}

fn wrong_key() -> AppError {
    AppError::Unauthenticated("Missing or wrong integration key".into())
}

/// Checks a presented `X-Integration-Key`: the platform key, or a live tenant key. Anything
/// else (missing, unknown, revoked) is `UNAUTHENTICATED` with the same message.
pub async fn authenticate(ctx: &Domain, presented: &str) -> AppResult<Access> {
    if tokens::key_matches(
        presented,
        ctx.settings.integration_key.as_ref().map(|k| k.expose()),
    ) {
        return Ok(Access::Platform);
    }
    if !presented.starts_with(tokens::INTEGRATION_PREFIX) {
        return Err(wrong_key());
    }
    let digest = tokens::digest(presented);
    let Some(key) = IntegrationKey::find()
        .filter(Column::KeyHash.eq(&digest))
        .filter(Column::RevokedAt.is_null())
        .one(&ctx.db)
        .await?
    else {
        return Err(wrong_key());
    };
    // The lookup matched the digest already; compare again in constant time so that the
    // answer never depends on how much of the digest matched.
    if !bool::from(key.key_hash.as_bytes().ct_eq(digest.as_bytes())) {
        return Err(wrong_key());
    }
    let at = now();
    if key
        .last_used_at
        .is_none_or(|used| at - used >= LAST_USED_GRANULARITY)
    {
        // Only where it is still stale, so that concurrent requests do not all write it.
        IntegrationKey::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(at))
            .filter(Column::Id.eq(&key.id))
            .filter(
                sea_orm::Condition::any()
                    .add(Column::LastUsedAt.is_null())
                    .add(Column::LastUsedAt.lte(at - LAST_USED_GRANULARITY)),
            )
            .exec(&ctx.db)
            .await?;
    }
    Ok(Access::Tenant {
        tenant_id: key.tenant_id,
        key_id: key.id,
    })
}

/// The INTEGRATION principal of a GraphQL request carrying `presented` in
/// `X-Integration-Key` and `tenant` in `X-Tenant-Id`: bound to one tenant, the one the
/// header names for the platform key (it is required then), the key's own for a tenant key
/// (the header may be left out). A missing, wrong or revoked key is `UNAUTHENTICATED`; a
/// missing or malformed tenant for the platform key is `BAD_USER_INPUT`; a tenant key naming
/// another tenant is `FORBIDDEN`, whichever tenant it names and whether or not it exists (the
/// key's tenant wins, and is never swapped for the one asked for).
pub async fn principal(
    ctx: &Domain,
    presented: &str,
    tenant: Option<&str>,
) -> AppResult<Principal> {
    let access = authenticate(ctx, presented).await?;
    let tenant = tenant.map(str::trim).filter(|t| !t.is_empty());
    let named = tenant
        .map(|t| {
            validate::id(t, "Tenant")
                .map_err(|_| AppError::bad_input("X-Tenant-Id must be a tenant id (a UUID)"))
        })
        .transpose()?;
    let (tenant_id, key_id) = match (access, named) {
        (Access::Platform, Some(tenant)) => (tenant, None),
        (Access::Platform, None) => {
            return Err(AppError::bad_input(
                "X-Tenant-Id is required with the platform integration key",
            ));
        }
        (Access::Tenant { tenant_id, key_id }, None) => (tenant_id, Some(key_id)),
        (Access::Tenant { tenant_id, key_id }, Some(named)) if named == tenant_id => {
            (tenant_id, Some(key_id))
        }
        (Access::Tenant { .. }, Some(_)) => return Err(AppError::Forbidden { permission: None }),
    };
    Ok(Principal {
        kind: PrincipalKind::Integration,
        tenant_id,
        user_id: None,
        company_id: None,
        kiosk_id: None,
        location_id: None,
        permissions: PermissionSet::EMPTY,
        credential_id: key_id,
        expires_at: None,
    })
}

/// Creates a key for the caller's tenant. Returns the key (shown only now) and its record.
pub async fn create(
    ctx: &Domain,
    principal: &Principal,
    name: &str,
) -> AppResult<(String, integration_keys::Model)> {
    let name = validate::required(name, "name", validate::MAX_NAME)?;
    let txn = crate::db::begin_write(&ctx.db).await?;
    let live = IntegrationKey::find()
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .filter(Column::RevokedAt.is_null())
        .count(&txn)
        .await?;
    if live >= MAX_LIVE_KEYS {
        return Err(AppError::Conflict(format!(
            "A tenant may hold at most {MAX_LIVE_KEYS} live integration keys; revoke one first"
        )));
    }
    let key = tokens::new_token(tokens::INTEGRATION_PREFIX);
    let model = integration_keys::Model {
        id: new_id(),
        tenant_id: principal.tenant_id.clone(),
        name,
        key_hash: tokens::digest(&key),
        created_by: principal.actor(),
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
    };
    IntegrationKey::insert(integration_keys::ActiveModel::from(model.clone()))
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "integration_key.create",
        Some(&model.id),
        Some(model.name.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok((key, model))
}

/// Revokes one of the tenant's keys: refused from the next request on. Revoking a revoked
/// key returns it unchanged; another tenant's id is `NOT_FOUND`, like an unknown one.
pub async fn revoke(
    ctx: &Domain,
    principal: &Principal,
    id: &str,
) -> AppResult<integration_keys::Model> {
    let id = validate::id(id, "IntegrationKey")?;
    let txn = crate::db::begin_write(&ctx.db).await?;
    let key = find(&txn, &principal.tenant_id, &id)
        .await?
        .ok_or(AppError::NotFound("IntegrationKey"))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let at = now();
    let updated = IntegrationKey::update_many()
        .col_expr(Column::RevokedAt, Expr::value(at))
        .filter(Column::Id.eq(&key.id))
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .filter(Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        // Revoked concurrently: return it as it now is.
        txn.rollback().await?;
        return find(&ctx.db, &principal.tenant_id, &key.id)
            .await?
            .ok_or(AppError::NotFound("IntegrationKey"));
    }
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "integration_key.revoke",
        Some(&key.id),
        Some(key.name.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(integration_keys::Model {
        revoked_at: Some(at),
        ..key
    })
}

async fn find(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    id: &str,
) -> AppResult<Option<integration_keys::Model>> {
    Ok(IntegrationKey::find_by_id(id)
        .filter(Column::TenantId.eq(tenant_id))
        .one(db)
        .await?)
}

/// How long a revoked key stays listed.
const REVOKED_LISTED: Duration = Duration::days(30);

/// The tenant's live keys and those revoked in the last 30 days, newest first.
pub async fn list(
    db: &DatabaseConnection,
    principal: &Principal,
) -> AppResult<Vec<integration_keys::Model>> {
    let rows = IntegrationKey::find()
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .filter(
            sea_orm::Condition::any()
                .add(Column::RevokedAt.is_null())
                .add(Column::RevokedAt.gt(now() - REVOKED_LISTED)),
        )
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .limit(page::MAX_LIST as u64 + 1)
        .all(db)
        .await?;
    page::bounded(rows, "integration keys")
}
