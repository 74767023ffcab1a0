//! Portal GraphQL: client users and their credentials — password login, invitations, the
//! company's user list, password resets and `setPassword`.

use async_graphql::{Context, Enum, ID, Object, Result};

use crate::{
    auth::{Permission, RequestMeta},
    graphql::guard::{Need, principal},
    graphql::{viewer::Session, visitor::query::state},
    services::{self, portal::client_users},
};

/// What a client user may do: `CLIENT_ADMIN` every `portal.*` permission, `CLIENT_USER` all
/// but `portal.users.manage`.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientRole {
    /// The company's administrator: also manages the company's client users.
    ClientAdmin,
    /// An ordinary client user.
    ClientUser,
}

impl ClientRole {
    fn as_stored(self) -> client_users::ClientUserRole {
        match self {
            ClientRole::ClientAdmin => client_users::ClientUserRole::ClientAdmin,
            ClientRole::ClientUser => client_users::ClientUserRole::ClientUser,
        }
    }

    fn from_stored(role: client_users::ClientUserRole) -> ClientRole {
        match role {
            client_users::ClientUserRole::ClientAdmin => ClientRole::ClientAdmin,
            client_users::ClientUserRole::ClientUser => ClientRole::ClientUser,
        }
    }
}

/// A Portal client user of the caller's company.
pub struct ClientUser(entities::client_users::Model);

impl From<entities::client_users::Model> for ClientUser {
    fn from(model: entities::client_users::Model) -> Self {
        ClientUser(model)
    }
}

#[Object]
impl ClientUser {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Lower-cased.
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn role(&self) -> ClientRole {
        ClientRole::from_stored(self.0.role)
    }
    /// Whether the user may sign in (PSA turns portal access on and off).
    async fn active(&self) -> bool {
        self.0.active
    }
}

/// Client-user queries.
#[derive(Default)]
pub struct UsersQuery;

#[Object]
impl UsersQuery {
    /// The client users of the caller's company, by name (at most 500).
    #[graphql(guard = "Need::Perm(Permission::UsersManage)")]
    async fn client_users(&self, ctx: &Context<'_>) -> Result<Option<Vec<ClientUser>>> {
        let rows = services::portal::identity::list(state(ctx)?, &*principal(ctx)?).await?;
        Ok(Some(rows.into_iter().map(ClientUser::from).collect()))
    }
}

/// Client sign-in by password, invitations and password changes.
#[derive(Default)]
pub struct UsersMutation;

fn ip(ctx: &Context<'_>) -> Option<std::net::IpAddr> {
    ctx.data_opt::<RequestMeta>().and_then(|m| m.ip)
}

#[Object]
impl UsersMutation {
    /// Signs a client user in with tenant, e-mail and password. Every failure is
    /// `UNAUTHENTICATED` with `Invalid e-mail or password`.
    async fn login(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        email: String,
        password: String,
    ) -> Result<Option<Session>> {
        let state = state(ctx)?;
        // Failed attempts use up the per-IP allowance; a success gives its token back.
        let ip = ip(ctx);
        state.limiter.check(ip)?;
        let outcome =
            services::portal::identity::password_login(state, &tenant_id, &email, password).await?;
        state.limiter.refund(ip);
        Ok(Some(Session::from(outcome)))
    }

    /// Invites a client user into the caller's company and e-mails them a link to choose a
    /// password (valid 7 days). `CONFLICT` when the e-mail is already a user of the tenant.
    #[graphql(guard = "Need::Perm(Permission::UsersManage)")]
    async fn invite_client_user(
        &self,
        ctx: &Context<'_>,
        email: String,
        name: String,
        #[graphql(default_with = "ClientRole::ClientUser")] role: ClientRole,
    ) -> Result<Option<ClientUser>> {
        let user = services::portal::identity::invite(
            state(ctx)?,
            &*principal(ctx)?,
            &email,
            &name,
            role.as_stored(),
        )
        .await?;
        Ok(Some(user.into()))
    }

    /// E-mails a password-reset link (valid 1 hour) when the e-mail is an active client
    /// user of the tenant. True either way, unless rate limited: every request uses up the
    /// per-IP allowance.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        email: String,
    ) -> Result<Option<bool>> {
        let state = state(ctx)?;
        // Never refunded: the answer is always true, and each request may send an e-mail.
        state.limiter.check(ip(ctx))?;
        Ok(Some(
            services::portal::identity::request_reset(state, &tenant_id, &email).await?,
        ))
    }

    /// Sets the password (12 to 1024 characters) with an invitation or reset token; the
    /// token works once, and the user's sessions end.
    async fn set_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: String,
    ) -> Result<Option<bool>> {
        let state = state(ctx)?;
        let ip = ip(ctx);
        state.limiter.check(ip)?;
        let done = services::portal::identity::set_password(state, &token, password).await?;
        state.limiter.refund(ip);
        Ok(Some(done))
    }
}
