//! `integrationHealth`: the integration checklist of `services::shared::health` for a
//! tenant's admin (the configuration and probes are platform-wide; what comes from the
//! database is the caller's tenant's).

use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};

use crate::{
    auth::Permission,
    graphql::budget,
    graphql::context::state,
    graphql::guard::{Need, principal},
    services::shared::health,
};

/// One product on the integration checklist.
pub struct IntegrationStatus(pub health::IntegrationStatus);

fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[Object]
impl IntegrationStatus {
    /// `PSA`, `Books`, `Mission`, `Legal`, `Hub SSO`, `Hub search`, `Hub Billing`, `Bus` or
    /// `E-mail`.
    async fn name(&self) -> &str {
        self.0.name
    }
    /// Whether every setting it needs is set (Hub search: `INTEGRATION_KEY`, or a live
    /// integration key of the tenant). A product that is not configured is off; the server
    /// runs without it.
    async fn configured(&self) -> bool {
        self.0.configured
    }
    /// The settings it needs that are not set, by name (`PSA_API_URL`, `PSA_SERVICE_KEY`, …);
    /// empty when it is configured.
    async fn missing_settings(&self, ctx: &Context<'_>) -> Result<Vec<&str>> {
        let names = &self.0.missing_settings;
        budget::charge_with(ctx, names.len(), || names.iter().map(|n| n.len() + 4).sum())?;
        Ok(names.clone())
    }
    /// Whether it answered just now: any HTTP answer to a `GET` of its configured base URL
    /// (for e-mail, a TCP connection to the SMTP server) within `HEALTH_PROBE_TIMEOUT`.
    /// Null when it was not probed: not configured, or a product that only calls onegraph
    /// (Hub SSO, Hub search).
    async fn reachable(&self) -> Option<bool> {
        self.0.reachable
    }
    /// When onegraph last worked with it for this tenant: the last sync in which it answered
    /// (PSA, Books), the last message delivered (Legal, Bus, e-mail), the last report
    /// accepted (Hub Billing), the last sign-in through Hub (Hub SSO), the last use of an
    /// integration key (Hub search), the last answer to this server process (Mission, whose
    /// data is never stored).
    async fn last_success_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_success_at
    }
    /// The last failure, when nothing has succeeded since (for PSA and Books: when the
    /// latest sync failed for this tenant), in onegraph's own words: a step and an HTTP
    /// status, a timeout, a count of the tenant's refused items; never a product's answer
    /// or another tenant's data.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// The tenant's messages for it still waiting in the outbox (Legal, Bus, e-mail; for Hub
    /// Billing, its usage reports not yet accepted; 0 for the others).
    async fn pending_outbox(&self) -> i32 {
        count(self.0.pending_outbox)
    }
    /// The tenant's messages for it given up on after `OUTBOX_MAX_ATTEMPTS` failures, or a
    /// failure that cannot pass (Legal, Bus, e-mail; 0 for the others).
    async fn dead_outbox(&self) -> i32 {
        count(self.0.dead_outbox)
    }
}

/// The `integrationHealth` query.
#[derive(Default)]
pub struct HealthQuery;

#[Object]
impl HealthQuery {
    /// The integration checklist: for PSA, Books, Mission, Legal, Hub SSO, Hub search, Hub
    /// Billing, the Bus and e-mail, whether each is configured, which settings are missing,
    /// whether it answers now (the probes run at once, each within `HEALTH_PROBE_TIMEOUT`),
    /// when it last worked, its last error and the tenant's messages waiting for it. The
    /// same checklist as `onegraph doctor`. Counted as 9 by the query limits.
    #[graphql(guard = "Need::Perm(Permission::AdminSettings)")]
    async fn integration_health(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<IntegrationStatus>>> {
        let p = principal(ctx)?;
        let state = state(ctx)?;
        let mission = state.mission.health(Some(&p.tenant_id));
        budget::admit(ctx, health::Integration::ALL.len())?;
        let rows = health::checklist(
            &state.db,
            &state.settings,
            &mission,
            &p.tenant_id,
            &state.health_probes,
        )
        .await?;
        budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(IntegrationStatus).collect()))
    }
}
