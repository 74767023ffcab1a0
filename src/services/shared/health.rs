//! Integration health: for each product onegraph works with, whether it is configured (and
//! which settings are missing), whether it answers now, and what onegraph's durable state
//! says about it: when it last worked, the last error in onegraph's own words, and the
//! messages waiting for it. `integrationHealth` (a tenant's admin) and `onegraph doctor`
//! (the operator, in a terminal) show the same checklist.
//!
//! The configuration and the probes are platform-wide. What comes from the database is the
//! caller's tenant's wherever rows have a tenant ([`Scope::Tenant`]): its outbox rows, its
//! billing reports, its users' sign-ins, its integration keys. The sync runs (PSA's tickets,
//! Books' invoices) are platform-wide jobs: a tenant sees when the product last answered, the
//! errors that concerned every tenant (the product down), and how many of its own items
//! failed, never another tenant's. `doctor` reads everything ([`Scope::Platform`]).
//!
//! Where each item comes from:
//!
//! | item | configured by | probe | last success / last error | outbox |
//! |---|---|---|---|---|
//! | PSA | `PSA_API_URL`, `PSA_SERVICE_KEY` | GET `PSA_API_URL` | ticket-sync runs | 0 |
//! | Books | `BOOKS_API_URL`, `BOOKS_SERVICE_KEY` | GET `BOOKS_API_URL` | invoice-sync runs | 0 |
//! | Mission | `MISSION_API_URL`, `MISSION_SERVICE_KEY` | GET `MISSION_API_URL` | this process's calls (nothing of Mission is stored) | 0 |
//! | Legal | `PORTAL_INTEGRATION_KEY`, `LEGAL_WEBHOOK_URL`, `LEGAL_WEBHOOK_SECRET` | GET `LEGAL_WEBHOOK_URL` | `legal_webhook` outbox rows | `legal_webhook` rows |
//! | Hub SSO | `PORTAL_CLIENT_SSO_SECRET` | none (Hub calls onegraph) | staff sign-ins, `auth.hub_sso_login` / `auth.login_failed` events | 0 |
//! | Hub search | `INTEGRATION_KEY`, or a live tenant key | none (Hub calls onegraph) | integration keys' `last_used_at` | 0 |
//! | Hub Billing | `HUB_API_URL`, `BUS_INTEGRATION_KEY` | GET `HUB_API_URL` | `billing_reports` | pending reports |
//! | Bus | `BUS_API_URL`, `BUS_SDK_KEY` | GET `BUS_API_URL` | `bus` outbox rows | `bus` rows |
//! | E-mail | `SES_FROM_ADDRESS`, `SES_REGION`, `SES_SMTP_USERNAME`, `SES_SMTP_PASSWORD` | TCP to the SMTP host and port | `mail` outbox rows | `mail` rows |
//!
//! `lastError` is the last failure when nothing has succeeded since (for the syncs: when
//! the latest run failed for the caller), so a product that failed and recovered shows
//! none. It is always onegraph's own description (a step and an HTTP status, a timeout),
//! never a product's answer body, a secret or another tenant's item.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use crate::{
    config::Settings,
    error::AppResult,
    events::outbox::OutboxKind,
    services::portal::mission::MissionHealth,
    upstream::{mail, probe},
};

/// Whose durable state the checklist reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// One tenant's rows (a tenant admin's `integrationHealth`).
    Tenant(&'a str),
    /// Every row (`onegraph doctor`).
    Platform,
}

impl Scope<'_> {
    fn tenant(self) -> Option<String> {
        match self {
            Scope::Tenant(tenant) => Some(tenant.to_owned()),
            Scope::Platform => None,
        }
    }
}

/// Each product on the checklist, in the order it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integration {
    /// PSA: the ticket sync and PSA's contact pushes.
    Psa,
    /// Books: the invoice sync.
    Books,
    /// Mission: proxied live.
    Mission,
    /// Legal: its signing pushes and the `signing.completed` webhook.
    Legal,
    /// Hub's sign-on (Hub calls onegraph).
    HubSso,
    /// Hub's global search (Hub calls onegraph with an integration key).
    HubSearch,
    /// Hub Billing's usage reports.
    HubBilling,
    /// The Bus: onegraph's events.
    Bus,
    /// E-mail through SES's SMTP interface.
    Email,
}

impl Integration {
    /// Every item of the checklist, in order.
    pub const ALL: [Integration; 9] = [
        Integration::Psa,
        Integration::Books,
        Integration::Mission,
        Integration::Legal,
        Integration::HubSso,
        Integration::HubSearch,
        Integration::HubBilling,
        Integration::Bus,
        Integration::Email,
    ];

    /// Its name on the checklist.
    pub fn name(self) -> &'static str {
        match self {
            Integration::Psa => "PSA",
            Integration::Books => "Books",
            Integration::Mission => "Mission",
            Integration::Legal => "Legal",
            Integration::HubSso => "Hub SSO",
            Integration::HubSearch => "Hub search",
            Integration::HubBilling => "Hub Billing",
            Integration::Bus => "Bus",
            Integration::Email => "E-mail",
        }
    }

    /// What happens while it is not configured (for `onegraph doctor`).
    pub fn when_off(self) -> &'static str {
        match self {
            Integration::Psa => {
                "the ticket sync is skipped (tickets stay PENDING) and PSA's contact pushes are \
                 refused"
            }
            Integration::Books => "the invoice sync is skipped",
            Integration::Mission => {
                "mission and submitPrayerRequest answer UPSTREAM_NOT_CONFIGURED"
            }
            Integration::Legal => {
                "Legal's signing pushes are refused or its webhooks wait in the outbox"
            }
            Integration::HubSso => "Hub sign-on answers 503 SSO_NOT_CONFIGURED",
            Integration::HubSearch => {
                "no integration key is accepted (set INTEGRATION_KEY or create a tenant key)"
            }
            Integration::HubBilling => "usage is not reported to Hub Billing",
            Integration::Bus => "events wait in the outbox",
            Integration::Email => "mail is written as .eml files into MAIL_DIR",
        }
    }

    /// Whether only the product calls onegraph (nothing to probe).
    pub fn inbound_only(self) -> bool {
        matches!(self, Integration::HubSso | Integration::HubSearch)
    }

    /// The settings it needs, each with whether it is set.
    fn settings(self, s: &Settings) -> Vec<(&'static str, bool)> {
        match self {
            Integration::Psa => vec![
                ("PSA_API_URL", s.psa_api_url.is_some()),
                ("PSA_SERVICE_KEY", s.psa_service_key.is_some()),
            ],
            Integration::Books => vec![
                ("BOOKS_API_URL", s.books_api_url.is_some()),
                ("BOOKS_SERVICE_KEY", s.books_service_key.is_some()),
            ],
            Integration::Mission => vec![
                ("MISSION_API_URL", s.mission_api_url.is_some()),
                ("MISSION_SERVICE_KEY", s.mission_service_key.is_some()),
            ],
            Integration::Legal => vec![
                ("PORTAL_INTEGRATION_KEY", s.portal_integration_key.is_some()),
                ("LEGAL_WEBHOOK_URL", s.legal_webhook_url.is_some()),
                ("LEGAL_WEBHOOK_SECRET", s.legal_webhook_secret.is_some()),
            ],
            Integration::HubSso => vec![("PORTAL_CLIENT_SSO_SECRET", s.sso_secret.is_some())],
            Integration::HubSearch => vec![("INTEGRATION_KEY", s.integration_key.is_some())],
            Integration::HubBilling => vec![
                ("HUB_API_URL", s.hub_api_url.is_some()),
                ("BUS_INTEGRATION_KEY", s.bus_integration_key.is_some()),
            ],
            Integration::Bus => vec![
                ("BUS_API_URL", s.bus_api_url.is_some()),
                ("BUS_SDK_KEY", s.bus_sdk_key.is_some()),
            ],
            Integration::Email => {
                let missing = mail::missing_ses_settings(s);
                [
                    "SES_FROM_ADDRESS",
                    "SES_REGION",
                    "SES_SMTP_USERNAME",
                    "SES_SMTP_PASSWORD",
                ]
                .into_iter()
                .map(|name| (name, !missing.contains(&name)))
                .collect()
            }
        }
    }

    /// What the probe reaches for, when the product is configured and onegraph calls it.
    fn probe_target(self, s: &Settings) -> Option<Target> {
        let http = |url: &Option<String>| url.clone().map(Target::Http);
        match self {
            Integration::Psa => http(&s.psa_api_url),
            Integration::Books => http(&s.books_api_url),
            Integration::Mission => http(&s.mission_api_url),
            Integration::Legal => http(&s.legal_webhook_url),
            Integration::HubBilling => http(&s.hub_api_url),
            Integration::Bus => http(&s.bus_api_url),
            Integration::Email => {
                let host = s.ses_smtp_host.clone().or_else(|| {
                    s.ses_region
                        .as_ref()
                        .map(|region| format!("email-smtp.{region}.amazonaws.com"))
                })?;
                Some(Target::Tcp(host, s.ses_smtp_port))
            }
            Integration::HubSso | Integration::HubSearch => None,
        }
    }

    /// What a probe that got no answer says it tried.
    pub fn probe_description(self, s: &Settings) -> Option<String> {
        let setting = match self {
            Integration::Psa => "PSA_API_URL",
            Integration::Books => "BOOKS_API_URL",
            Integration::Mission => "MISSION_API_URL",
            Integration::Legal => "LEGAL_WEBHOOK_URL",
            Integration::HubBilling => "HUB_API_URL",
            Integration::Bus => "BUS_API_URL",
            Integration::Email => {
                return match self.probe_target(s)? {
                    Target::Tcp(host, port) => Some(format!("SMTP server {host}:{port}")),
                    Target::Http(_) => None,
                };
            }
            Integration::HubSso | Integration::HubSearch => return None,
        };
        Some(setting.to_owned())
    }
}

/// Where a probe goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// `GET` this URL.
    Http(String),
    /// Connect to this host and port.
    Tcp(String, u16),
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationStatus {
    /// Which product.
    pub integration: Integration,
    /// Its name on the checklist.
    pub name: &'static str,
    /// Every setting it needs is set.
    pub configured: bool,
    /// The settings it needs that are not set, by name.
    pub missing_settings: Vec<&'static str>,
    /// Whether it answered the probe; `None` when it was not probed (not configured, or a
    /// product that only calls onegraph).
    pub reachable: Option<bool>,
    /// When onegraph last worked with it.
    pub last_success_at: Option<DateTime<Utc>>,
    /// The last failure, in onegraph's words, when nothing succeeded since.
    pub last_error: Option<String>,
    /// Messages for it waiting to be delivered (tried or not yet).
    pub pending_outbox: u64,
    /// Messages for it given up on.
    pub dead_outbox: u64,
}

/// The checklist as the settings alone describe it: what is configured and what is missing.
pub fn configuration(settings: &Settings) -> Vec<IntegrationStatus> {
    Integration::ALL
        .into_iter()
        .map(|integration| {
            let missing: Vec<&'static str> = integration
                .settings(settings)
                .into_iter()
                .filter(|(_, set)| !set)
                .map(|(name, _)| name)
                .collect();
            IntegrationStatus {
                integration,
                name: integration.name(),
                configured: missing.is_empty(),
                missing_settings: missing,
                reachable: None,
                last_success_at: None,
                last_error: None,
                pending_outbox: 0,
                dead_outbox: 0,
            }
        })
        .collect()
}

/// Probes every configured product onegraph calls, all at once, each within `timeout`, and
/// records whether it answered.
pub async fn probe_all(settings: &Settings, statuses: &mut [IntegrationStatus], timeout: Duration) {
    let probes = statuses.iter().map(|status| {
        let target = status
            .configured
            .then(|| status.integration.probe_target(settings))
            .flatten();
        async move {
            match target {
                None => None,
                Some(Target::Http(url)) => Some(probe::http(&url, timeout).await),
                Some(Target::Tcp(host, port)) => Some(probe::tcp(&host, port, timeout).await),
            }
        }
    });
    let answers = futures_util::future::join_all(probes).await;
    for (status, reachable) in statuses.iter_mut().zip(answers) {
        status.reachable = reachable;
    }
}

/// The answers of the last round of probes, shared by every caller of one process for
/// `HEALTH_PROBE_CACHE`; one round runs at a time, and whoever waits for it takes its answers.
#[derive(Default)]
pub struct ProbeCache(tokio::sync::Mutex<Option<(std::time::Instant, Vec<Option<bool>>)>>);

impl ProbeCache {
    /// Whether each of `statuses` answered, from a fresh enough round or a new one.
    async fn reachability(
        &self,
        settings: &Settings,
        statuses: &[IntegrationStatus],
    ) -> Vec<Option<bool>> {
        let ttl = settings.health_probe_cache;
        let mut last = self.0.lock().await;
        if let Some((at, answers)) = last.as_ref()
            && !ttl.is_zero()
            && at.elapsed() < ttl
            && answers.len() == statuses.len()
        {
            return answers.clone();
        }
        let mut probed = statuses.to_vec();
        probe_all(settings, &mut probed, settings.health_probe_timeout).await;
        let answers: Vec<Option<bool>> = probed.iter().map(|s| s.reachable).collect();
        *last = Some((std::time::Instant::now(), answers.clone()));
        answers
    }
}

/// Adds what this process knows of Mission (its calls and its circuit) for the caller.
pub fn add_mission(statuses: &mut [IntegrationStatus], mission: &MissionHealth) {
    let Some(status) = statuses
        .iter_mut()
        .find(|s| s.integration == Integration::Mission)
    else {
        return;
    };
    status.last_success_at = mission.last_success_at;
    status.last_error = if mission.circuit_open {
        Some(
            "Mission circuit open after repeated failures: calls fail at once until the \
             cool-down ends"
                .to_owned(),
        )
    } else {
        mission
            .last_failure
            .as_ref()
            .filter(|(at, _)| mission.last_success_at.is_none_or(|ok| *at > ok))
            .map(|(_, why)| why.clone())
    };
}

/// Adds what the database says about each product, for `scope`.
pub async fn add_durable_state(
    db: &DatabaseConnection,
    scope: Scope<'_>,
    statuses: &mut [IntegrationStatus],
) -> AppResult<()> {
    for status in statuses.iter_mut() {
        match status.integration {
            Integration::Psa => sync_runs(db, scope, status, "tickets").await?,
            Integration::Books => sync_runs(db, scope, status, "invoices").await?,
            Integration::Legal => outbox(db, scope, status, OutboxKind::LegalWebhook).await?,
            Integration::Bus => outbox(db, scope, status, OutboxKind::Bus).await?,
            Integration::Email => outbox(db, scope, status, OutboxKind::Mail).await?,
            Integration::HubBilling => billing(db, scope, status).await?,
            Integration::HubSso => sign_ins(db, scope, status).await?,
            Integration::HubSearch => integration_keys(db, scope, status).await?,
            // In memory only: see [`add_mission`].
            Integration::Mission => {}
        }
    }
    Ok(())
}

/// The whole checklist for a tenant's admin: settings, probes (at once, within
/// `HEALTH_PROBE_TIMEOUT`, while the database is read; or the last round's answers, younger
/// than `HEALTH_PROBE_CACHE`, from `probes`), Mission as this process knows it,
/// and the tenant's durable state.
pub async fn checklist(
    db: &DatabaseConnection,
    settings: &Settings,
    mission: &MissionHealth,
    tenant_id: &str,
    probes: &ProbeCache,
) -> AppResult<Vec<IntegrationStatus>> {
    let mut statuses = configuration(settings);
    let unprobed = statuses.clone();
    let (answers, durable) = tokio::join!(
        probes.reachability(settings, &unprobed),
        add_durable_state(db, Scope::Tenant(tenant_id), &mut statuses),
    );
    durable?;
    for (status, reachable) in statuses.iter_mut().zip(answers) {
        status.reachable = reachable;
    }
    add_mission(&mut statuses, mission);
    Ok(statuses)
}

/// A sync job's runs (`tickets` for PSA, `invoices` for Books): the last run in which the
/// product answered (no error concerned every tenant), and the latest run's failure as the
/// caller may see it.
async fn sync_runs(
    db: &DatabaseConnection,
    scope: Scope<'_>,
    status: &mut IntegrationStatus,
    job: &str,
) -> AppResult<()> {
    use entities::sync_runs::{Column, Entity as Runs};
    let finished = || {
        Runs::find()
            .filter(Column::Job.eq(job))
            .filter(Column::FinishedAt.is_not_null())
            .order_by_desc(Column::StartedAt)
    };
    status.last_success_at = finished()
        .filter(Column::SharedError.is_null())
        .one(db)
        .await?
        .and_then(|run| run.finished_at);
    let Some(latest) = finished().one(db).await? else {
        return Ok(());
    };
    if let Some(shared) = latest.shared_error {
        status.last_error = Some(shared);
        return Ok(());
    }
    let own: std::collections::BTreeMap<String, u64> =
        serde_json::from_str(&latest.tenant_errors).unwrap_or_default();
    let (count, whose) = match scope {
        Scope::Tenant(tenant) => (own.get(tenant).copied().unwrap_or(0), "this tenant's "),
        Scope::Platform => (own.values().sum(), ""),
    };
    if count > 0 {
        status.last_error = Some(match status.integration {
            Integration::Books => format!(
                "the last invoice sync skipped {count} of {whose}invoices from Books as invalid"
            ),
            _ => format!(
                "PSA refused {count} of {whose}tickets or comments in the last ticket sync \
                 (each one's syncError says why)"
            ),
        });
    }
    Ok(())
}

/// One kind of outbox rows, of the tenant (or all): waiting, dead, last delivered, and the
/// last failure when nothing was delivered since.
async fn outbox(
    db: &DatabaseConnection,
    scope: Scope<'_>,
    status: &mut IntegrationStatus,
    kind: OutboxKind,
) -> AppResult<()> {
    use entities::outbox::{Column, Entity as Outbox};
    let rows = || {
        let mut select = Outbox::find().filter(Column::Kind.eq(kind));
        if let Some(tenant) = scope.tenant() {
            select = select.filter(Column::TenantId.eq(tenant));
        }
        select
    };
    let waiting = || {
        rows()
            .filter(Column::DeliveredAt.is_null())
            .filter(Column::Dead.eq(false))
    };
    status.pending_outbox = waiting().count(db).await?;
    status.dead_outbox = rows().filter(Column::Dead.eq(true)).count(db).await?;
    status.last_success_at = latest_time(
        rows().filter(Column::DeliveredAt.is_not_null()),
        Column::DeliveredAt,
        db,
    )
    .await?;
    // A message still waiting after a failed attempt: it is failing now.
    let failing: Option<Option<String>> = waiting()
        .filter(Column::Attempts.gt(0))
        .filter(Column::LastError.is_not_null())
        .order_by_desc(Column::NextAttemptAt)
        .select_only()
        .column(Column::LastError)
        .into_tuple()
        .one(db)
        .await?;
    if let Some(error) = failing.flatten() {
        status.last_error = Some(error);
        return Ok(());
    }
    // Otherwise a message given up on, written after the last delivery.
    let mut dead = rows()
        .filter(Column::Dead.eq(true))
        .filter(Column::LastError.is_not_null());
    if let Some(delivered) = status.last_success_at {
        dead = dead.filter(Column::CreatedAt.gt(delivered));
    }
    let dead: Option<Option<String>> = dead
        .order_by_desc(Column::CreatedAt)
        .select_only()
        .column(Column::LastError)
        .into_tuple()
        .one(db)
        .await?;
    status.last_error = dead.flatten();
    Ok(())
}

/// The newest non-null `column` of `select`.
async fn latest_time<E: EntityTrait, C: ColumnTrait + Copy>(
    select: Select<E>,
    column: C,
    db: &DatabaseConnection,
) -> AppResult<Option<DateTime<Utc>>> {
    Ok(select
        .filter(column.is_not_null())
        .order_by_desc(column)
        .select_only()
        .column(column)
        .into_tuple::<DateTime<Utc>>()
        .one(db)
        .await?)
}

/// Hub Billing's reports of the tenant (or all): accepted, pending, and the last refusal
/// of one still pending. Reports are never given up on, so none is dead.
async fn billing(
    db: &DatabaseConnection,
    scope: Scope<'_>,
    status: &mut IntegrationStatus,
) -> AppResult<()> {
    use entities::billing_reports::{Column, Entity as Reports};
    let rows = || {
        let mut select = Reports::find();
        if let Some(tenant) = scope.tenant() {
            select = select.filter(Column::TenantId.eq(tenant));
        }
        select
    };
    status.last_success_at = latest_time(rows(), Column::AcceptedAt, db).await?;
    status.pending_outbox = rows()
        .filter(Column::AcceptedAt.is_null())
        .count(db)
        .await?;
    let failing: Option<Option<String>> = rows()
        .filter(Column::AcceptedAt.is_null())
        .filter(Column::Attempts.gt(0))
        .filter(Column::LastError.is_not_null())
        .order_by_desc(Column::NextAttemptAt)
        .select_only()
        .column(Column::LastError)
        .into_tuple()
        .one(db)
        .await?;
    status.last_error = failing.flatten();
    Ok(())
}

/// Hub's sign-ons in the tenant (or all): the latest staff sign-in (staff sign in only
/// through Hub) or `auth.hub_sso_login` event still in the outbox, and the latest refused
/// sign-in with a valid signature (`auth.login_failed`) after it, by its reason.
async fn sign_ins(
    db: &DatabaseConnection,
    scope: Scope<'_>,
    status: &mut IntegrationStatus,
) -> AppResult<()> {
    use entities::outbox::{Column, Entity as Outbox};
    use entities::users::{Column as U, Entity as Users};
    let mut users = Users::find();
    if let Some(tenant) = scope.tenant() {
        users = users.filter(U::TenantId.eq(tenant));
    }
    let staff = latest_time(users, U::LastLoginAt, db).await?;
    let events = |event_type: &'static str| {
        let mut select = Outbox::find()
            .filter(Column::Kind.eq(OutboxKind::Bus))
            .filter(Column::EventType.eq(event_type));
        if let Some(tenant) = scope.tenant() {
            select = select.filter(Column::TenantId.eq(tenant));
        }
        select
    };
    let event = latest_time(events("auth.hub_sso_login"), Column::CreatedAt, db).await?;
    status.last_success_at = staff.max(event);
    let mut failed = events("auth.login_failed");
    if let Some(success) = status.last_success_at {
        failed = failed.filter(Column::CreatedAt.gt(success));
    }
    let payload: Option<String> = failed
        .order_by_desc(Column::CreatedAt)
        .select_only()
        .column(Column::Payload)
        .into_tuple()
        .one(db)
        .await?;
    status.last_error = payload.map(|payload| refused_sign_in(&payload));
    Ok(())
}

/// onegraph's words for a refused sign-in, from the reason in its `auth.login_failed`
/// envelope (one of the contract's reasons; anything else is not repeated).
fn refused_sign_in(envelope: &str) -> String {
    let reason = serde_json::from_str::<serde_json::Value>(envelope)
        .ok()
        .and_then(|v| v["data"]["reason"].as_str().map(str::to_owned));
    let why = match reason.as_deref() {
        Some("expired") => "the token had expired",
        Some("replayed") => "the token was used before",
        Some("wrong_audience") => "the token was for another product",
        Some("invalid_claims") => "the token's claims were invalid",
        Some("account_not_found") => "no account matched",
        Some("sub_mismatch") => "the account is bound to another Hub user",
        Some("inactive") => "the account is inactive",
        _ => "a rule refused it",
    };
    format!("a Hub sign-in was refused: {why}")
}

/// Hub search: the latest use of an integration key of the tenant (or any), and whether a
/// live tenant key makes search configured without the platform `INTEGRATION_KEY`.
async fn integration_keys(
    db: &DatabaseConnection,
    scope: Scope<'_>,
    status: &mut IntegrationStatus,
) -> AppResult<()> {
    use entities::integration_keys::{Column, Entity as Keys};
    let keys = || {
        let mut select = Keys::find();
        if let Some(tenant) = scope.tenant() {
            select = select.filter(Column::TenantId.eq(tenant));
        }
        select
    };
    status.last_success_at = latest_time(keys(), Column::LastUsedAt, db).await?;
    if !status.configured {
        let live = keys().filter(Column::RevokedAt.is_null()).count(db).await?;
        if live > 0 {
            status.configured = true;
            status.missing_settings.clear();
        }
    }
    Ok(())
}
