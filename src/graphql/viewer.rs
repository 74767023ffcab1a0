//! `me`, and sign-in / sign-out mutations shared by every product.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;

use crate::{
    auth::{Principal, PrincipalKind, RequestMeta},
    graphql::guard::{Need, principal},
    graphql::visitor::query::state,
    services,
};

/// Who is calling, and what they may do.
pub struct Viewer(pub std::sync::Arc<Principal>);

/// A tenant.
pub struct Tenant(entities::tenants::Model);

#[Object]
impl Tenant {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// A signed-in person.
pub struct User {
    id: String,
    name: String,
    email: Option<String>,
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }
    async fn name(&self) -> &str {
        &self.name
    }
    async fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }
}

#[Object]
impl Viewer {
    async fn kind(&self) -> crate::graphql::enums::PrincipalKind {
        self.0.kind.into()
    }
    /// The staff or client user (null for kiosks and integrations).
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(user_id) = &self.0.user_id else {
            return Ok(None);
        };
        let db = &state(ctx)?.db;
        match self.0.kind {
            PrincipalKind::Staff => {
                let user = entities::users::Entity::find_by_id(user_id.clone())
                    .one(db)
                    .await
                    .map_err(crate::error::AppError::from)?;
                Ok(user.map(|u| User {
                    id: u.id,
                    name: u.name,
                    email: u.email,
                }))
            }
            PrincipalKind::Client => {
                let user = entities::client_users::Entity::find_by_id(user_id.clone())
                    .one(db)
                    .await
                    .map_err(crate::error::AppError::from)?;
                Ok(user.map(|u| User {
                    id: u.id,
                    name: u.name,
                    email: Some(u.email),
                }))
            }
            PrincipalKind::Kiosk | PrincipalKind::Integration => Ok(None),
        }
    }
    async fn tenant(&self, ctx: &Context<'_>) -> Result<Tenant> {
        let tenant = entities::tenants::Entity::find_by_id(self.0.tenant_id.clone())
            .one(&state(ctx)?.db)
            .await
            .map_err(crate::error::AppError::from)?;
        Ok(Tenant(tenant.unwrap_or_else(|| entities::tenants::Model {
            id: self.0.tenant_id.clone(),
            name: self.0.tenant_id.clone(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        })))
    }
    /// Effective permissions.
    async fn permissions(&self) -> Vec<String> {
        self.0.permissions.names()
    }
    /// Hub's front-end URL (`VITE_HUB_URL`).
    async fn hub_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(state(ctx)?.settings.hub_url.clone())
    }
    /// The Bus URL (`VITE_BUS_URL`).
    async fn bus_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(state(ctx)?.settings.bus_url.clone())
    }
}

/// A new session.
pub struct Session {
    token: String,
    expires_at: DateTime<Utc>,
    principal: std::sync::Arc<Principal>,
}

impl From<services::shared::sessions::LoginOutcome> for Session {
    fn from(outcome: services::shared::sessions::LoginOutcome) -> Self {
        Session {
            token: outcome.token,
            expires_at: outcome.expires_at,
            principal: std::sync::Arc::new(outcome.principal),
        }
    }
}

#[Object]
impl Session {
    /// Bearer token; also set as the `onegraph_session` cookie by the REST exchange.
    async fn token(&self) -> &str {
        &self.token
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
    async fn principal(&self) -> Viewer {
        Viewer(self.principal.clone())
    }
}

/// `me`.
#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The caller.
    #[graphql(guard = "Need::Principal")]
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<Viewer>> {
        Ok(Some(Viewer(principal(ctx)?)))
    }
}

/// Sign-in and sign-out.
#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Exchanges a Hub SSO token for a session (for SPAs).
    async fn login_with_hub_sso(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<Option<Session>> {
        let state = state(ctx)?;
        // A token is taken before the attempt and given back when it succeeds: failed
        // guesses are limited, successful logins are not.
        let ip = ctx.data_opt::<RequestMeta>().and_then(|m| m.ip);
        state.limiter.check(ip)?;
        let outcome = services::shared::sessions::login_with_hub_sso(state, &token).await?;
        state.limiter.refund(ip);
        Ok(Some(Session {
            token: outcome.token,
            expires_at: outcome.expires_at,
            principal: std::sync::Arc::new(outcome.principal),
        }))
    }

    /// Ends the caller's session; true also without one.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let meta = ctx.data_opt::<RequestMeta>();
        let principal = meta.and_then(|m| m.principal.as_deref());
        Ok(services::shared::sessions::logout(state(ctx)?, principal).await?)
    }
}
