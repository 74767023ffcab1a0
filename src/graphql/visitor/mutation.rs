//! Visitor mutations. Each returns the changed object (nullable); refusals are errors with
//! stable codes and change nothing.

use async_graphql::{Context, ID, Object, Result};

use super::{
    inputs::{
        CheckInInput, CreateHostInput, CreateLocationInput, PreRegisterInput, UpdateHostInput,
        UpdateLocationInput, VisitorSettingsInput,
    },
    types::{
        Badge, CreatedIntegrationKey, Host, IntegrationKey, Kiosk, KioskPairingCode, KioskSession,
        Location, PreRegistration, Visit, VisitorSettings,
    },
};
use crate::{
    auth::Permission,
    graphql::context::{ip, state},
    graphql::guard::{Need, principal},
    services,
};

/// Takes a rate-limiter token for the caller's address before a guessable attempt.
fn rate_limit(ctx: &Context<'_>) -> Result<()> {
    state(ctx)?.limiter.check(ip(ctx)).map_err(Into::into)
}

/// Gives the token back once the attempt succeeded: only failures are limited, so a kiosk
/// checking in a queue of pre-registered visitors behind one NAT is not slowed down.
fn refund(ctx: &Context<'_>) {
    if let Ok(state) = state(ctx) {
        state.limiter.refund(ip(ctx));
    }
}

/// Visitor mutation fields.
#[derive(Default)]
pub struct VisitorMutation;

#[Object]
impl VisitorMutation {
    /// Checks a visitor in (staff with `visitor.visitors.checkin`, or a kiosk at its location).
    #[graphql(guard = "Need::PermOrKiosk(Permission::VisitorsCheckin)")]
    async fn check_in_visitor(
        &self,
        ctx: &Context<'_>,
        input: CheckInInput,
    ) -> Result<Option<Visit>> {
        let p = principal(ctx)?;
        let request: services::visitor::visits::CheckIn = input.into();
        let by_code = request.pre_registration_code.is_some();
        if by_code {
            rate_limit(ctx)?;
        }
        let bundle = services::visitor::visits::check_in(state(ctx)?, &p, request).await?;
        if by_code {
            refund(ctx);
        }
        Ok(Some(Visit::from_bundle(bundle)))
    }

    /// Checks a visit out and frees its badge (a kiosk: only visits it checked in).
    #[graphql(guard = "Need::PermOrKiosk(Permission::VisitorsCheckout)")]
    async fn check_out_visitor(&self, ctx: &Context<'_>, visit_id: ID) -> Result<Option<Visit>> {
        let p = principal(ctx)?;
        let bundle = services::visitor::visits::check_out(state(ctx)?, &p, &visit_id).await?;
        Ok(Some(Visit::from_bundle(bundle)))
    }

    /// Registers an expected visit; the answer carries the check-in code, once.
    #[graphql(guard = "Need::Perm(Permission::PreregisterManage)")]
    async fn pre_register_visitor(
        &self,
        ctx: &Context<'_>,
        input: PreRegisterInput,
    ) -> Result<Option<PreRegistration>> {
        let p = principal(ctx)?;
        let (model, code) =
            services::visitor::pre_registrations::create(&state(ctx)?.db, &p, input.into()).await?;
        Ok(Some(PreRegistration::with_code(model, code)))
    }

    /// Cancels an expected visit.
    #[graphql(guard = "Need::Perm(Permission::PreregisterManage)")]
    async fn cancel_pre_registration(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<PreRegistration>> {
        let p = principal(ctx)?;
        let model = services::visitor::pre_registrations::cancel(&state(ctx)?.db, &p, &id).await?;
        Ok(Some(PreRegistration::without_code(model)))
    }

    /// Creates a location.
    #[graphql(guard = "Need::Perm(Permission::LocationsManage)")]
    async fn create_location(
        &self,
        ctx: &Context<'_>,
        input: CreateLocationInput,
    ) -> Result<Option<Location>> {
        let p = principal(ctx)?;
        let model = services::visitor::locations::create(&state(ctx)?.db, &p, input.into()).await?;
        Ok(Some(Location(model)))
    }

    /// Updates a location.
    #[graphql(guard = "Need::Perm(Permission::LocationsManage)")]
    async fn update_location(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateLocationInput,
    ) -> Result<Option<Location>> {
        let p = principal(ctx)?;
        let model =
            services::visitor::locations::update(&state(ctx)?.db, &p, &id, input.into()).await?;
        Ok(Some(Location(model)))
    }

    /// Archives a location: it keeps its history but takes no new check-ins.
    #[graphql(guard = "Need::Perm(Permission::LocationsManage)")]
    async fn archive_location(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Location>> {
        let p = principal(ctx)?;
        Ok(Some(Location(
            services::visitor::locations::archive(&state(ctx)?.db, &p, &id).await?,
        )))
    }

    /// Adds a host to the directory.
    #[graphql(guard = "Need::Perm(Permission::HostsManage)")]
    async fn create_host(&self, ctx: &Context<'_>, input: CreateHostInput) -> Result<Option<Host>> {
        let p = principal(ctx)?;
        let model = services::visitor::hosts::create(&state(ctx)?.db, &p, input.into()).await?;
        Ok(Some(Host(model)))
    }

    /// Updates a host.
    #[graphql(guard = "Need::Perm(Permission::HostsManage)")]
    async fn update_host(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateHostInput,
    ) -> Result<Option<Host>> {
        let p = principal(ctx)?;
        let model =
            services::visitor::hosts::update(&state(ctx)?.db, &p, &id, input.into()).await?;
        Ok(Some(Host(model)))
    }

    /// Removes a host from the directory; past visits keep naming them.
    #[graphql(guard = "Need::Perm(Permission::HostsManage)")]
    async fn remove_host(&self, ctx: &Context<'_>, id: ID) -> Result<Option<bool>> {
        let p = principal(ctx)?;
        Ok(Some(
            services::visitor::hosts::remove(&state(ctx)?.db, &p, &id).await?,
        ))
    }

    /// Adds a badge to a location.
    #[graphql(guard = "Need::Perm(Permission::BadgesManage)")]
    async fn add_badge(
        &self,
        ctx: &Context<'_>,
        location_id: ID,
        number: String,
    ) -> Result<Option<Badge>> {
        let p = principal(ctx)?;
        Ok(Some(Badge(
            services::visitor::badges::add(&state(ctx)?.db, &p, &location_id, &number).await?,
        )))
    }

    /// Assigns an available badge to an open visit at its location.
    #[graphql(guard = "Need::Perm(Permission::BadgesManage)")]
    async fn assign_badge(
        &self,
        ctx: &Context<'_>,
        badge_id: ID,
        visit_id: ID,
    ) -> Result<Option<Badge>> {
        let p = principal(ctx)?;
        Ok(Some(Badge(
            services::visitor::badges::assign(&state(ctx)?.db, &p, &badge_id, &visit_id).await?,
        )))
    }

    /// Returns an assigned badge.
    #[graphql(guard = "Need::Perm(Permission::BadgesManage)")]
    async fn return_badge(&self, ctx: &Context<'_>, badge_id: ID) -> Result<Option<Badge>> {
        let p = principal(ctx)?;
        Ok(Some(Badge(
            services::visitor::badges::return_badge(&state(ctx)?.db, &p, &badge_id).await?,
        )))
    }

    /// Takes a badge out of service.
    #[graphql(guard = "Need::Perm(Permission::BadgesManage)")]
    async fn retire_badge(&self, ctx: &Context<'_>, badge_id: ID) -> Result<Option<Badge>> {
        let p = principal(ctx)?;
        Ok(Some(Badge(
            services::visitor::badges::retire(&state(ctx)?.db, &p, &badge_id).await?,
        )))
    }

    /// A one-time code (10 minutes) that pairs a kiosk at the location.
    #[graphql(guard = "Need::Perm(Permission::AdminKiosk)")]
    async fn create_kiosk_pairing_code(
        &self,
        ctx: &Context<'_>,
        location_id: ID,
    ) -> Result<Option<KioskPairingCode>> {
        let p = principal(ctx)?;
        let (code, expires_at, location) =
            services::visitor::kiosks::create_pairing_code(&state(ctx)?.db, &p, &location_id)
                .await?;
        Ok(Some(KioskPairingCode {
            code,
            expires_at,
            location,
        }))
    }

    /// Pairs this device as a kiosk with a code; needs no session. The token lasts until the
    /// kiosk is revoked.
    async fn pair_kiosk(
        &self,
        ctx: &Context<'_>,
        code: String,
        name: String,
    ) -> Result<Option<KioskSession>> {
        rate_limit(ctx)?;
        let (token, kiosk, location) =
            services::visitor::kiosks::pair(&state(ctx)?.db, &code, &name).await?;
        refund(ctx);
        Ok(Some(KioskSession {
            token,
            kiosk,
            location,
        }))
    }

    /// Revokes a kiosk: its token stops working and its live connections close.
    #[graphql(guard = "Need::Perm(Permission::AdminKiosk)")]
    async fn revoke_kiosk(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Kiosk>> {
        let p = principal(ctx)?;
        Ok(Some(Kiosk::new(
            services::visitor::kiosks::revoke(state(ctx)?, &p, &id).await?,
        )))
    }

    /// Creates an integration key for the tenant; the key is in this answer only.
    #[graphql(guard = "Need::Perm(Permission::AdminSettings)")]
    async fn create_integration_key(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<Option<CreatedIntegrationKey>> {
        let p = principal(ctx)?;
        let (key, model) =
            services::shared::integration_keys::create(state(ctx)?, &p, &name).await?;
        Ok(Some(CreatedIntegrationKey { key, model }))
    }

    /// Revokes an integration key: refused from the next request on.
    #[graphql(guard = "Need::Perm(Permission::AdminSettings)")]
    async fn revoke_integration_key(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<IntegrationKey>> {
        let p = principal(ctx)?;
        Ok(Some(IntegrationKey(
            services::shared::integration_keys::revoke(state(ctx)?, &p, &id).await?,
        )))
    }

    /// Changes the Visitor settings.
    #[graphql(guard = "Need::Perm(Permission::AdminSettings)")]
    async fn update_visitor_settings(
        &self,
        ctx: &Context<'_>,
        input: VisitorSettingsInput,
    ) -> Result<Option<VisitorSettings>> {
        let p = principal(ctx)?;
        let model = services::visitor::settings::update(&state(ctx)?.db, &p, input.into()).await?;
        Ok(Some(VisitorSettings(model)))
    }
}
