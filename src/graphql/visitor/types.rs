//! Visitor GraphQL object types, built from entity models, and the `totalCount` of the
//! Visitor connections. Relation fields go through the request's DataLoaders, or through the
//! shared payload of a subscription event.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::{
    auth::{Permission, Principal},
    error::AppError,
    events::VisitBundle,
    graphql::enums::{
        BadgeStatus, CheckInSource, LocationType, PreRegistrationStatus, VisitStatus,
    },
    graphql::guard::Need,
    graphql::{
        context::{loaders, state},
        loaders::load_err,
    },
    services::{
        self,
        visitor::{batch::VisitRelations, pre_registrations},
    },
};

/// A place visitors come to.
pub struct Location(pub entities::locations::Model);

#[Object]
impl Location {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    #[graphql(name = "type")]
    async fn location_type(&self) -> LocationType {
        self.0.location_type.into()
    }
    /// IANA time zone name.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
    async fn archived(&self) -> bool {
        self.0.archived
    }
    /// Kiosks paired at this location. Counted as 5 by the query limits.
    #[graphql(guard = "Need::Perm(Permission::AdminKiosk)")]
    async fn kiosks(&self, ctx: &Context<'_>) -> Result<Option<Vec<Kiosk>>> {
        let rows = loaders(ctx)?
            .kiosks_by_location()
            .load_one(self.0.id.clone())
            .await
            .map_err(load_err)?;
        // The loader fetches one past the bound, so a list past it is refused, not cut.
        let rows = crate::services::shared::page::bounded(
            rows.unwrap_or_default(),
            "kiosks at this location",
        )?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(Kiosk::new).collect()))
    }
    /// Visits checked in and not yet out, newest first. Counted as 50 by the query limits.
    #[graphql(guard = "Need::Perm(Permission::VisitorsView)")]
    async fn current_visits(&self, ctx: &Context<'_>) -> Result<Option<Vec<Visit>>> {
        let rows = loaders(ctx)?
            .current_visits()
            .load_one(self.0.id.clone())
            .await
            .map_err(load_err)?;
        // The loader fetches one past the bound, so a list past it is refused, not cut.
        let rows = crate::services::shared::page::bounded(
            rows.unwrap_or_default(),
            "current visits at this location",
        )?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(Visit::new).collect()))
    }
}

/// A person visitors come to see.
pub struct Host(pub entities::hosts::Model);

#[Object]
impl Host {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    #[graphql(guard = "Need::Perm(Permission::HostsView)")]
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    #[graphql(guard = "Need::Perm(Permission::HostsView)")]
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn department(&self) -> Option<&str> {
        self.0.department.as_deref()
    }
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        load_location(ctx, self.0.location_id.as_deref()).await
    }
    /// Whether kiosks list this host.
    async fn visible_in_directory(&self) -> bool {
        self.0.visible_in_directory
    }
}

async fn load_location(ctx: &Context<'_>, id: Option<&str>) -> Result<Option<Location>> {
    let Some(id) = id else { return Ok(None) };
    Ok(loaders(ctx)?
        .location()
        .load_one(id.to_owned())
        .await
        .map_err(load_err)?
        .map(Location))
}

/// A person who visits.
pub struct Visitor(pub entities::visitors::Model);

#[Object]
impl Visitor {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    #[graphql(guard = "Need::Perm(Permission::VisitorsView)")]
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    #[graphql(guard = "Need::Perm(Permission::VisitorsView)")]
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn company(&self) -> Option<&str> {
        self.0.company.as_deref()
    }
    /// Risk score from a screening source; null until one exists.
    #[graphql(guard = "Need::Perm(Permission::AdminSettings)")]
    async fn ai_risk_score(&self) -> Option<f64> {
        self.0.ai_risk_score
    }
    /// Notes from a screening source; null until one exists.
    #[graphql(guard = "Need::Perm(Permission::AdminSettings)")]
    async fn ai_risk_notes(&self) -> Option<&str> {
        self.0.ai_risk_notes.as_deref()
    }
    /// The visitor's last 50 visits, newest first. Counted as 10 by the query limits.
    #[graphql(guard = "Need::Perm(Permission::VisitorsView)")]
    async fn visits(&self, ctx: &Context<'_>) -> Result<Option<Vec<Visit>>> {
        let rows = loaders(ctx)?
            .visits_by_visitor()
            .load_one(self.0.id.clone())
            .await
            .map_err(load_err)?;
        let rows = rows.unwrap_or_default();
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(Visit::new).collect()))
    }
}

/// One check-in, open or closed.
pub struct Visit {
    model: entities::visits::Model,
    /// Relations already loaded (subscription events and mutations), shared, not reloaded.
    bundle: Option<Arc<VisitBundle>>,
    /// Relations loaded for the whole page this visit is on (list queries).
    relations: Option<Arc<VisitRelations>>,
}

impl Visit {
    /// A visit whose relations come from the loaders.
    pub fn new(model: entities::visits::Model) -> Self {
        Visit {
            model,
            bundle: None,
            relations: None,
        }
    }
    /// A visit of a page whose relations were loaded together.
    pub fn with_relations(
        model: entities::visits::Model,
        relations: Option<Arc<VisitRelations>>,
    ) -> Self {
        Visit {
            model,
            bundle: None,
            relations,
        }
    }
    /// A visit with its relations already loaded.
    pub fn from_bundle(bundle: Arc<VisitBundle>) -> Self {
        Visit {
            model: bundle.visit.clone(),
            bundle: Some(bundle),
            relations: None,
        }
    }
}

#[Object]
impl Visit {
    async fn id(&self) -> ID {
        ID(self.model.id.clone())
    }
    async fn visitor(&self, ctx: &Context<'_>) -> Result<Visitor> {
        if let Some(bundle) = &self.bundle {
            return Ok(Visitor(bundle.visitor.clone()));
        }
        if let Some(visitors) = self.relations.as_ref().and_then(|r| r.visitors.as_ref()) {
            return visitors
                .get(&self.model.visitor_id)
                .cloned()
                .map(Visitor)
                .ok_or_else(|| AppError::internal("visit without visitor").into());
        }
        loaders(ctx)?
            .visitor()
            .load_one(self.model.visitor_id.clone())
            .await
            .map_err(load_err)?
            .map(Visitor)
            .ok_or_else(|| AppError::internal("visit without visitor").into())
    }
    async fn location(&self, ctx: &Context<'_>) -> Result<Location> {
        if let Some(bundle) = &self.bundle {
            return Ok(Location(bundle.location.clone()));
        }
        if let Some(locations) = self.relations.as_ref().and_then(|r| r.locations.as_ref()) {
            return locations
                .get(&self.model.location_id)
                .cloned()
                .map(Location)
                .ok_or_else(|| AppError::internal("visit without location").into());
        }
        load_location(ctx, Some(&self.model.location_id))
            .await?
            .ok_or_else(|| AppError::internal("visit without location").into())
    }
    async fn host(&self, ctx: &Context<'_>) -> Result<Option<Host>> {
        if let Some(bundle) = &self.bundle {
            return Ok(bundle.host.clone().map(Host));
        }
        let Some(id) = &self.model.host_id else {
            return Ok(None);
        };
        if let Some(hosts) = self.relations.as_ref().and_then(|r| r.hosts.as_ref()) {
            return Ok(hosts.get(id).cloned().map(Host));
        }
        Ok(loaders(ctx)?
            .host()
            .load_one(id.clone())
            .await
            .map_err(load_err)?
            .map(Host))
    }
    async fn badge(&self, ctx: &Context<'_>) -> Result<Option<Badge>> {
        if let Some(bundle) = &self.bundle {
            return Ok(bundle.badge.clone().map(Badge));
        }
        let Some(id) = &self.model.badge_id else {
            return Ok(None);
        };
        if let Some(badges) = self.relations.as_ref().and_then(|r| r.badges.as_ref()) {
            return Ok(badges.get(id).cloned().map(Badge));
        }
        Ok(loaders(ctx)?
            .badge()
            .load_one(id.clone())
            .await
            .map_err(load_err)?
            .map(Badge))
    }
    async fn status(&self) -> VisitStatus {
        self.model.status.into()
    }
    /// The channel: STAFF or KIOSK (a code check-in also sets `preRegistration`).
    async fn source(&self) -> CheckInSource {
        self.model.source.into()
    }
    async fn pre_registration(&self, ctx: &Context<'_>) -> Result<Option<PreRegistration>> {
        let Some(id) = &self.model.pre_registration_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)?
            .pre_registration()
            .load_one(id.clone())
            .await
            .map_err(load_err)?
            .map(PreRegistration::without_code))
    }
    async fn purpose(&self) -> Option<&str> {
        self.model.purpose.as_deref()
    }
    async fn checked_in_at(&self) -> DateTime<Utc> {
        self.model.checked_in_at
    }
    async fn checked_out_at(&self) -> Option<DateTime<Utc>> {
        self.model.checked_out_at
    }
}

/// A result of `search`: a visit (found by its visitor's name or company) or a location
/// (found by its name or address).
#[derive(async_graphql::Union)]
pub enum SearchResult {
    /// A visit whose visitor matched.
    Visit(Visit),
    /// A location that matched.
    Location(Location),
}

/// A visitor badge.
pub struct Badge(pub entities::badges::Model);

#[Object]
impl Badge {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn number(&self) -> &str {
        &self.0.number
    }
    async fn location(&self, ctx: &Context<'_>) -> Result<Location> {
        load_location(ctx, Some(&self.0.location_id))
            .await?
            .ok_or_else(|| AppError::internal("badge without location").into())
    }
    async fn status(&self) -> BadgeStatus {
        self.0.status.into()
    }
    /// The open visit wearing this badge.
    #[graphql(guard = "Need::Perm(Permission::VisitorsView)")]
    async fn current_visit(&self, ctx: &Context<'_>) -> Result<Option<Visit>> {
        let Some(id) = &self.0.current_visit_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)?
            .visit()
            .load_one(id.clone())
            .await
            .map_err(load_err)?
            .map(Visit::new))
    }
}

/// An expected visit with a check-in code.
pub struct PreRegistration {
    model: entities::pre_registrations::Model,
    code: Option<String>,
}

impl PreRegistration {
    /// A pre-registration as anyone but its creator sees it: no code.
    pub fn without_code(model: entities::pre_registrations::Model) -> Self {
        PreRegistration { model, code: None }
    }
    /// The creator's view, with the code shown once.
    pub fn with_code(model: entities::pre_registrations::Model, code: String) -> Self {
        PreRegistration {
            model,
            code: Some(code),
        }
    }
}

#[Object]
impl PreRegistration {
    async fn id(&self) -> ID {
        ID(self.model.id.clone())
    }
    /// The check-in code, shown once to its creator; null afterwards.
    async fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
    async fn visitor(&self, ctx: &Context<'_>) -> Result<Visitor> {
        loaders(ctx)?
            .visitor()
            .load_one(self.model.visitor_id.clone())
            .await
            .map_err(load_err)?
            .map(Visitor)
            .ok_or_else(|| AppError::internal("pre-registration without visitor").into())
    }
    async fn host(&self, ctx: &Context<'_>) -> Result<Option<Host>> {
        let Some(id) = &self.model.host_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)?
            .host()
            .load_one(id.clone())
            .await
            .map_err(load_err)?
            .map(Host))
    }
    async fn location(&self, ctx: &Context<'_>) -> Result<Location> {
        load_location(ctx, Some(&self.model.location_id))
            .await?
            .ok_or_else(|| AppError::internal("pre-registration without location").into())
    }
    async fn expected_at(&self) -> DateTime<Utc> {
        self.model.expected_at
    }
    async fn status(&self) -> PreRegistrationStatus {
        pre_registrations::status(&self.model, Utc::now()).into()
    }
}

/// A paired kiosk.
pub struct Kiosk {
    model: entities::kiosks::Model,
    /// The location, when already loaded (a new pairing, whose request has no principal).
    location: Option<entities::locations::Model>,
}

impl Kiosk {
    /// A kiosk whose location comes from the loaders.
    pub fn new(model: entities::kiosks::Model) -> Self {
        Kiosk {
            model,
            location: None,
        }
    }
}

#[Object]
impl Kiosk {
    async fn id(&self) -> ID {
        ID(self.model.id.clone())
    }
    async fn name(&self) -> &str {
        &self.model.name
    }
    async fn location(&self, ctx: &Context<'_>) -> Result<Location> {
        if let Some(location) = &self.location {
            return Ok(Location(location.clone()));
        }
        load_location(ctx, Some(&self.model.location_id))
            .await?
            .ok_or_else(|| AppError::internal("kiosk without location").into())
    }
    async fn paired_at(&self) -> DateTime<Utc> {
        self.model.paired_at
    }
    async fn last_seen_at(&self) -> Option<DateTime<Utc>> {
        self.model.last_seen_at
    }
    async fn revoked(&self) -> bool {
        self.model.revoked_at.is_some()
    }
}

/// A one-time code to pair a kiosk, valid 10 minutes.
pub struct KioskPairingCode {
    /// The code.
    pub code: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Where the kiosk will stand.
    pub location: entities::locations::Model,
}

#[Object]
impl KioskPairingCode {
    async fn code(&self) -> &str {
        &self.code
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
    async fn location(&self) -> Location {
        Location(self.location.clone())
    }
}

/// A newly paired kiosk's credentials.
pub struct KioskSession {
    /// The kiosk's bearer token, shown once.
    pub token: String,
    /// The kiosk.
    pub kiosk: entities::kiosks::Model,
    /// Where it stands.
    pub location: entities::locations::Model,
}

#[Object]
impl KioskSession {
    /// Bearer token for the kiosk; valid until the kiosk is revoked.
    async fn token(&self) -> &str {
        &self.token
    }
    async fn kiosk(&self) -> Kiosk {
        Kiosk {
            model: self.kiosk.clone(),
            location: Some(self.location.clone()),
        }
    }
}

/// The tenant's Visitor settings.
pub struct VisitorSettings(pub entities::visitor_settings::Model);

#[Object]
impl VisitorSettings {
    /// Days visitor personal data is kept before it is anonymised.
    async fn retention_days(&self) -> i32 {
        self.0.retention_days
    }
    /// Staff check-ins must name a host.
    async fn require_host(&self) -> bool {
        self.0.require_host
    }
    /// Staff check-ins must hand out a badge (kiosks never need one).
    async fn require_badge(&self) -> bool {
        self.0.require_badge
    }
    /// `HH:MM` in each location's time zone when open visits are checked out; null is off.
    async fn auto_checkout_at(&self) -> Option<&str> {
        self.0.auto_checkout_at.as_deref()
    }
}

/// Check-ins over a period.
pub struct VisitReport(pub crate::services::visitor::report::VisitReport);

#[Object]
impl VisitReport {
    async fn from(&self) -> DateTime<Utc> {
        self.0.from
    }
    async fn to(&self) -> DateTime<Utc> {
        self.0.to
    }
    async fn total(&self) -> i64 {
        self.0.total
    }
    /// One entry per location and local day with check-ins. Counted as 31 by the query
    /// limits.
    async fn days(&self, ctx: &Context<'_>) -> Result<Vec<VisitReportDay<'_>>> {
        crate::graphql::budget::charge_with(ctx, self.0.days.len(), || {
            self.0.days.len() * crate::graphql::budget::EDGE
        })?;
        Ok(self.0.days.iter().map(VisitReportDay).collect())
    }
}

/// Check-ins at one location on one local day.
pub struct VisitReportDay<'a>(&'a crate::services::visitor::report::ReportDay);

#[Object]
impl VisitReportDay<'_> {
    /// `YYYY-MM-DD` in the location's time zone.
    async fn date(&self) -> &str {
        &self.0.date
    }
    async fn location(&self) -> Location {
        Location(self.0.location.clone())
    }
    async fn check_ins(&self) -> i64 {
        self.0.check_ins
    }
}

/// One audited change.
pub struct AuditEntry(pub entities::audit_log::Model);

#[Object]
impl AuditEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Who: `staff:<user id>`, `kiosk:<kiosk id>`, `integration`.
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    /// What, e.g. `visit.check_in`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn target(&self) -> Option<&str> {
        self.0.target.as_deref()
    }
    async fn details(&self) -> Option<&str> {
        self.0.details.as_deref()
    }
}

/// `totalCount` of a visit connection, counted only when asked for.
pub struct VisitTotal {
    pub(super) principal: Arc<Principal>,
    pub(super) filter: services::visitor::visits::VisitFilter,
}

#[Object]
impl VisitTotal {
    /// Visits matching the filter, on every page.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(
            services::visitor::visits::count(&state(ctx)?.db, &self.principal, &self.filter)
                .await?,
        )
    }
}

/// `totalCount` of a host connection.
pub struct HostTotal {
    pub(super) principal: Arc<Principal>,
    pub(super) filter: services::visitor::hosts::HostFilter,
}

#[Object]
impl HostTotal {
    /// Hosts matching the filter, on every page.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(services::visitor::hosts::count(&state(ctx)?.db, &self.principal, &self.filter).await?)
    }
}

/// `totalCount` of the audit log.
pub struct AuditTotal {
    pub(super) principal: Arc<Principal>,
}

#[Object]
impl AuditTotal {
    /// Audit entries of the tenant.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(services::shared::audit::count(&state(ctx)?.db, &self.principal).await?)
    }
}

/// A tenant integration key: how another system (Hub's search, a building system) calls
/// onegraph's integration endpoints for this tenant. The key itself is shown once, when it is
/// created, and never stored.
pub struct IntegrationKey(pub entities::integration_keys::Model);

#[Object]
impl IntegrationKey {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When a request last used it (to the minute); null until one has.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    /// When it was revoked; a revoked key is refused from the next request on.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// A new integration key and its record.
pub struct CreatedIntegrationKey {
    /// The key, shown only here.
    pub key: String,
    /// Its record.
    pub model: entities::integration_keys::Model,
}

#[Object]
impl CreatedIntegrationKey {
    /// The key, sent as `X-Integration-Key`; shown only in this answer.
    async fn key(&self) -> &str {
        &self.key
    }
    async fn integration_key(&self) -> IntegrationKey {
        IntegrationKey(self.model.clone())
    }
}
