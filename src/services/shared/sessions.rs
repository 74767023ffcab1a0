//! Sign-on: Hub SSO login (CONTRACT section 1), bearer-token authentication for sessions and
//! kiosks, and logout.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, OnConflict},
};
use serde_json::json;

use crate::services::{new_id, now, shared::outbox};
use crate::{
    auth::{
        Permission, PermissionSet, Principal, PrincipalKind,
        sso::{self, Audience, HubClaims, Rejection},
        tokens,
    },
    domain::Domain,
    error::{AppError, AppResult},
};

/// Sessions last 8 hours, absolute.
pub const SESSION_HOURS: i64 = 8;

/// A new session.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The bearer token (shown once; stored hashed).
    pub token: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
    /// Who signed in.
    pub principal: Principal,
}

fn invalid_token() -> AppError {
    AppError::Unauthenticated("Invalid or expired sign-on token".into())
}

fn event_source(audience: Option<&str>) -> &'static str {
    if audience == Some("portal") {
        "portal"
    } else {
        "visitor"
    }
}

/// Records `auth.login_failed` for a token whose signature verified.
async fn login_failed(
    ctx: &Domain,
    tenant_id: Option<&str>,
    reason: &str,
    sub: Option<&str>,
    audience: Option<&str>,
) {
    tracing::info!(reason, sub, audience, "hub sso login refused");
    let Some(tenant_id) = tenant_id else {
        return;
    };
    let result = outbox::bus_event(
        &ctx.db,
        tenant_id,
        "auth.login_failed",
        event_source(audience),
        now(),
        json!({"reason": reason, "sub": sub, "audience": audience}),
    )
    .await;
    if let Err(err) = result {
        tracing::error!(?err, "could not record auth.login_failed");
    }
}

/// Exchanges a Hub SSO token for a session.
pub async fn login_with_hub_sso(ctx: &Domain, token: &str) -> AppResult<LoginOutcome> {
    let secret = ctx
        .settings
        .sso_secret
        .as_ref()
        .ok_or(AppError::SsoNotConfigured)?;
    let claims = match sso::verify(
        token.trim(),
        secret.expose(),
        &ctx.settings.hub_sso_issuer,
        Utc::now().timestamp(),
    ) {
        Ok(claims) => claims,
        Err(Rejection::Forged) => {
            tracing::warn!("hub sso token with a bad signature, algorithm or shape");
            return Err(invalid_token());
        }
        Err(Rejection::Refused(r)) => {
            login_failed(
                ctx,
                r.tenant_id.as_deref(),
                r.reason,
                r.sub.as_deref(),
                r.audience.as_deref(),
            )
            .await;
            return Err(invalid_token());
        }
    };
    let audience = Some(claims.audience.as_str());
    if !consume_jti(ctx, &claims).await? {
        login_failed(
            ctx,
            Some(&claims.tenant_id),
            "replayed",
            Some(&claims.sub),
            audience,
        )
        .await;
        return Err(AppError::TokenReplayed);
    }
    match claims.audience {
        Audience::Visitor => staff_login(ctx, &claims).await,
        Audience::Portal => {
            match crate::services::portal::client_users::hub_login(ctx, &claims).await? {
                Ok(outcome) => Ok(outcome),
                Err(crate::services::portal::client_users::Refused(reason)) => {
                    login_failed(
                        ctx,
                        Some(&claims.tenant_id),
                        reason,
                        Some(&claims.sub),
                        audience,
                    )
                    .await;
                    Err(if reason == "account_not_found" {
                        AppError::AccountNotFound
                    } else {
                        invalid_token()
                    })
                }
            }
        }
    }
}

/// Records the token's `jti` once; `false` when it was already used. The database's unique
/// key makes this atomic across replicas.
async fn consume_jti(ctx: &Domain, claims: &HubClaims) -> AppResult<bool> {
    let expires_at =
        DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now) + Duration::seconds(60);
    let result = entities::used_token_ids::Entity::insert(entities::used_token_ids::ActiveModel {
        jti: Set(claims.jti.clone()),
        expires_at: Set(expires_at),
        used_at: Set(now()),
    })
    .on_conflict(
        OnConflict::column(entities::used_token_ids::Column::Jti)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&ctx.db)
    .await?;
    Ok(result == 1)
}

async fn staff_login(ctx: &Domain, claims: &HubClaims) -> AppResult<LoginOutcome> {
    let permissions = PermissionSet::from_names(
        claims.permissions.iter().flatten().map(String::as_str),
        Permission::is_visitor,
    );
    let at = now();
    let tenant_name = claims
        .tenant_name
        .clone()
        .unwrap_or_else(|| claims.tenant_id.clone());
    let name = claims
        .name
        .clone()
        .or_else(|| claims.email.clone())
        .unwrap_or_else(|| claims.sub.clone());
    let txn = crate::db::begin_write(&ctx.db).await?;
    let mut tenant_conflict = OnConflict::column(entities::tenants::Column::Id);
    if claims.tenant_name.is_some() {
        tenant_conflict.update_columns([
            entities::tenants::Column::Name,
            entities::tenants::Column::UpdatedAt,
        ]);
    } else {
        tenant_conflict.do_nothing();
    }
    entities::tenants::Entity::insert(entities::tenants::ActiveModel {
        id: Set(claims.tenant_id.clone()),
        name: Set(tenant_name),
        created_at: Set(at),
        updated_at: Set(at),
    })
    .on_conflict(tenant_conflict)
    .exec_without_returning(&txn)
    .await?;
    entities::users::Entity::insert(entities::users::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(claims.tenant_id.clone()),
        hub_sub: Set(claims.sub.clone()),
        email: Set(claims.email.clone()),
        name: Set(name),
        role: Set(claims.role.clone()),
        created_at: Set(at),
        updated_at: Set(at),
        last_login_at: Set(Some(at)),
    })
    .on_conflict(
        OnConflict::columns([
            entities::users::Column::TenantId,
            entities::users::Column::HubSub,
        ])
        .update_columns([
            entities::users::Column::Email,
            entities::users::Column::Name,
            entities::users::Column::Role,
            entities::users::Column::UpdatedAt,
            entities::users::Column::LastLoginAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let user = entities::users::Entity::find()
        .filter(entities::users::Column::TenantId.eq(&claims.tenant_id))
        .filter(entities::users::Column::HubSub.eq(&claims.sub))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal("user vanished during login"))?;
    let outcome = create_session(
        &txn,
        &claims.tenant_id,
        PrincipalKind::Staff,
        &user.id,
        permissions,
    )
    .await?;
    outbox::bus_event(
        &txn,
        &claims.tenant_id,
        "auth.hub_sso_login",
        "visitor",
        at,
        json!({"user_id": user.id, "kind": PrincipalKind::Staff.as_str(), "audience": "visitor"}),
    )
    .await?;
    txn.commit().await?;
    Ok(outcome)
}

/// Creates a session row and returns its token (stored only as a SHA-256 digest).
pub async fn create_session(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: &str,
    kind: PrincipalKind,
    user_id: &str,
    permissions: PermissionSet,
) -> AppResult<LoginOutcome> {
    let token = tokens::new_token(tokens::SESSION_PREFIX);
    let id = new_id();
    let created = now();
    let expires_at = created + Duration::hours(SESSION_HOURS);
    entities::sessions::Entity::insert(entities::sessions::ActiveModel {
        id: Set(id.clone()),
        token_hash: Set(tokens::digest(&token)),
        tenant_id: Set(tenant_id.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        user_id: Set(user_id.to_owned()),
        permissions: Set(permissions.to_json()),
        created_at: Set(created),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(LoginOutcome {
        token,
        expires_at,
        principal: Principal {
            kind,
            tenant_id: tenant_id.to_owned(),
            user_id: Some(user_id.to_owned()),
            company_id: None,
            kiosk_id: None,
            location_id: None,
            permissions,
            credential_id: Some(id),
            expires_at: Some(expires_at),
        },
    })
}

/// Resolves a bearer token (session or kiosk) to its principal; `None` when it is unknown,
/// expired or revoked.
pub async fn authenticate(ctx: &Domain, bearer_token: &str) -> AppResult<Option<Principal>> {
    let token = bearer_token.trim();
    if token.starts_with(tokens::SESSION_PREFIX) {
        let at = Utc::now();
        let Some(session) = entities::sessions::Entity::find()
            .filter(entities::sessions::Column::TokenHash.eq(tokens::digest(token)))
            .one(&ctx.db)
            .await?
        else {
            return Ok(None);
        };
        if session.revoked_at.is_some() || session.expires_at <= at {
            return Ok(None);
        }
        // Sessions are only ever opened for staff and client users.
        let kind = [PrincipalKind::Staff, PrincipalKind::Client]
            .into_iter()
            .find(|k| k.as_str() == session.kind);
        let Some(kind) = kind else {
            // Never written by this code: refuse rather than guess its permissions.
            tracing::warn!(session = %session.id, kind = session.kind.as_str(), "session of unknown kind refused");
            return Ok(None);
        };
        // A client session holds only while its user is active; its company is read
        // fresh, so PSA moving a contact takes effect at once.
        let company_id = match kind {
            PrincipalKind::Client => {
                match crate::services::portal::client_users::active_company(
                    &ctx.db,
                    &session.tenant_id,
                    &session.user_id,
                )
                .await?
                {
                    Some(company) => Some(company),
                    None => return Ok(None),
                }
            }
            _ => None,
        };
        return Ok(Some(Principal {
            kind,
            tenant_id: session.tenant_id,
            user_id: Some(session.user_id),
            company_id,
            kiosk_id: None,
            location_id: None,
            permissions: PermissionSet::from_json(&session.permissions),
            credential_id: Some(session.id),
            expires_at: Some(session.expires_at),
        }));
    }
    if token.starts_with(tokens::KIOSK_PREFIX) {
        let Some(kiosk) = entities::kiosks::Entity::find()
            .filter(entities::kiosks::Column::TokenHash.eq(tokens::digest(token)))
            .one(&ctx.db)
            .await?
        else {
            return Ok(None);
        };
        if kiosk.revoked_at.is_some() {
            return Ok(None);
        }
        let at = now();
        if kiosk
            .last_seen_at
            .is_none_or(|seen| at - seen > Duration::seconds(60))
        {
            let db = ctx.db.clone();
            let id = kiosk.id.clone();
            tokio::spawn(async move {
                let _ = entities::kiosks::Entity::update_many()
                    .col_expr(entities::kiosks::Column::LastSeenAt, Expr::value(at))
                    .filter(entities::kiosks::Column::Id.eq(id))
                    .exec(&db)
                    .await;
            });
        }
        return Ok(Some(Principal {
            kind: PrincipalKind::Kiosk,
            tenant_id: kiosk.tenant_id,
            user_id: None,
            company_id: None,
            kiosk_id: Some(kiosk.id.clone()),
            location_id: Some(kiosk.location_id),
            permissions: PermissionSet::EMPTY,
            credential_id: Some(kiosk.id),
            expires_at: None,
        }));
    }
    Ok(None)
}

/// Whether the credential `principal` was authenticated by is still valid: its session
/// exists, is not revoked and has not expired, or its kiosk exists and is not revoked. One
/// primary-key lookup. A principal without a credential stored here (none is made today) is
/// not active: fail closed.
///
/// Long-lived connections call this where they may have missed a revocation event.
pub async fn credential_active(ctx: &Domain, principal: &Principal) -> AppResult<bool> {
    let Some(id) = principal.credential_id.as_deref() else {
        return Ok(false);
    };
    match principal.kind {
        PrincipalKind::Staff | PrincipalKind::Client => {
            use entities::sessions::{Column, Entity};
            let expires_at: Option<DateTime<Utc>> = Entity::find()
                .select_only()
                .column(Column::ExpiresAt)
                .filter(Column::Id.eq(id))
                .filter(Column::RevokedAt.is_null())
                .into_tuple()
                .one(&ctx.db)
                .await?;
            Ok(expires_at.is_some_and(|at| at > Utc::now()))
        }
        PrincipalKind::Kiosk => {
            use entities::kiosks::{Column, Entity};
            let found: Option<String> = Entity::find()
                .select_only()
                .column(Column::Id)
                .filter(Column::Id.eq(id))
                .filter(Column::RevokedAt.is_null())
                .into_tuple()
                .one(&ctx.db)
                .await?;
            Ok(found.is_some())
        }
        PrincipalKind::Integration => Ok(false),
    }
}

/// Revokes the caller's session (no-op without one, and for kiosks, which `revokeKiosk`
/// ends) and closes its live subscriptions.
pub async fn logout(ctx: &Domain, principal: Option<&Principal>) -> AppResult<bool> {
    let Some(principal) = principal else {
        return Ok(true);
    };
    if principal.kind == PrincipalKind::Kiosk {
        return Ok(true);
    }
    if let Some(session_id) = &principal.credential_id {
        entities::sessions::Entity::update_many()
            .col_expr(entities::sessions::Column::RevokedAt, Expr::value(now()))
            .filter(entities::sessions::Column::Id.eq(session_id))
            .filter(entities::sessions::Column::RevokedAt.is_null())
            .exec(&ctx.db)
            .await?;
        ctx.hub.publish_revocation(session_id);
    }
    Ok(true)
}
