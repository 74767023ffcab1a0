//! Portal mutations: client sign-in by password, invitations and password changes; opening
//! and commenting tickets (stored locally with `syncState: PENDING`, pushed to PSA by the
//! ticket sync); signing; prayer requests, sent to Mission live. Each returns the changed
//! object (nullable); refusals are errors with stable codes and change nothing.

use async_graphql::{Context, ID, Object, Result};

use super::{
    inputs::CreateTicketInput,
    types::{
        Acknowledgement, ClientRole, ClientUser, PrayerRequest, Ticket, TicketComment,
        mission_calls,
    },
};
use crate::{
    auth::{Permission, RequestMeta},
    graphql::context::{ip, state},
    graphql::guard::{Need, principal},
    graphql::viewer::Session,
    services::{self, portal::signing},
};

/// Client sign-in by password, invitations and password changes.
#[derive(Default)]
pub struct UsersMutation;

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
    /// password (valid 7 days). `CONFLICT` when the e-mail is already a user of the caller's
    /// company. An e-mail that belongs to another company's user is answered as a new one
    /// would be, so the answer reveals nothing about other companies; that user is left
    /// unchanged and nobody is added or e-mailed.
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

/// Ticket mutations: both store locally (`syncState: PENDING`); the ticket sync pushes.
#[derive(Default)]
pub struct TicketsMutation;

#[Object]
impl TicketsMutation {
    /// Opens a ticket for the caller's company.
    #[graphql(guard = "Need::Perm(Permission::TicketsCreate)")]
    async fn create_ticket(
        &self,
        ctx: &Context<'_>,
        input: CreateTicketInput,
    ) -> Result<Option<Ticket>> {
        let p = principal(ctx)?;
        let model = services::portal::tickets::create(state(ctx)?, &p, input.into()).await?;
        Ok(Some(Ticket(model)))
    }

    /// Comments a ticket of the caller's company (body at most 10,000 characters).
    #[graphql(guard = "Need::Perm(Permission::TicketsCreate)")]
    async fn add_ticket_comment(
        &self,
        ctx: &Context<'_>,
        ticket_id: ID,
        body: String,
    ) -> Result<Option<TicketComment>> {
        let p = principal(ctx)?;
        let model =
            services::portal::tickets::add_comment(state(ctx)?, &p, &ticket_id, &body).await?;
        Ok(Some(TicketComment(model)))
    }
}

/// Signing mutation fields.
#[derive(Default)]
pub struct SigningMutation;

#[Object]
impl SigningMutation {
    /// Signs one of the caller's pending requests. Signing again, or after the due date,
    /// is `CONFLICT`; another user's request is `NOT_FOUND`.
    #[graphql(guard = "Need::Perm(Permission::SigningSign)")]
    async fn sign_document(
        &self,
        ctx: &Context<'_>,
        signing_request_id: ID,
        signature_name: String,
    ) -> Result<Option<Acknowledgement>> {
        let p = principal(ctx)?;
        let origin = signing::SignatureOrigin {
            ip: ip(ctx).map(|ip| ip.to_string()),
            user_agent: ctx
                .data_opt::<RequestMeta>()
                .and_then(|m| m.user_agent.clone()),
        };
        let ack = signing::sign(
            state(ctx)?,
            &p,
            &signing_request_id,
            &signature_name,
            origin,
        )
        .await?;
        Ok(Some(ack.into()))
    }
}

/// Mission mutation fields.
#[derive(Default)]
pub struct MissionMutation;

#[Object]
impl MissionMutation {
    /// Sends a prayer request (1 to 4,000 characters) to Mission as the caller's member, once:
    /// it is never retried, so a `null` with `UPSTREAM_UNAVAILABLE` may still have reached
    /// Mission if Mission failed after receiving it. `isPrivate` asks Mission to show it to
    /// the church's staff only. Nothing of it is stored by onegraph.
    #[graphql(guard = "Need::Perm(Permission::MissionPrayerSubmit)")]
    async fn submit_prayer_request(
        &self,
        ctx: &Context<'_>,
        body: String,
        #[graphql(default = false)] is_private: bool,
    ) -> Result<Option<PrayerRequest>> {
        let state = state(ctx)?;
        let p = principal(ctx)?;
        let session =
            services::portal::mission::open(state, &state.mission, mission_calls(ctx)?, &p).await?;
        let created = session
            .submit_prayer_request(state, &p, &body, is_private)
            .await?;
        Ok(Some(PrayerRequest(created)))
    }
}
