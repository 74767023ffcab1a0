//! `me`, and sign-in / sign-out mutations shared by every product.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::{
    auth::{Principal, RequestMeta},
    graphql::context::{ip, state},
    graphql::guard::{Need, principal},
    services::{self, shared::viewer},
};

/// Who is calling, and what they may do.
pub struct Viewer(pub std::sync::Arc<Principal>);

/// A tenant.
pub struct Tenant(viewer::ViewerTenant);

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
pub struct User(viewer::ViewerUser);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
}

#[Object]
impl Viewer {
    async fn kind(&self) -> crate::graphql::enums::PrincipalKind {
        self.0.kind.into()
    }
    /// The staff or client user (null for kiosks and integrations).
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(viewer::user(&state(ctx)?.db, &self.0).await?.map(User))
    }
    async fn tenant(&self, ctx: &Context<'_>) -> Result<Tenant> {
        Ok(Tenant(viewer::tenant(&state(ctx)?.db, &self.0).await?))
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
        let ip = ip(ctx);
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
