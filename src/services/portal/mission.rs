//! Mission, proxied live and never stored (CONTRACT section 6, "Mission"): a client user's
//! donations, giving statistics, events, groups, directory and prayer requests, and the
//! submission of a prayer request, asked of Mission with the client's tenant and Mission
//! member id. Mission decides what that member may see.
//!
//! The rules here: Mission must be configured (`UPSTREAM_NOT_CONFIGURED`), the caller must
//! be a client user with a member id (`MISSION_MEMBER_NOT_LINKED`), arguments are checked
//! before Mission is asked (`BAD_USER_INPUT`), every answer is validated into onegraph's own
//! types (an answer that does not fit, like one that does not come, is
//! `UPSTREAM_UNAVAILABLE`), and within one GraphQL request each resource (path and query)
//! is fetched once, however many fields or aliases ask for it ([`RequestCalls`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};
use futures_util::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::services::shared::{audit, money, page, validate};
use crate::{
    auth::{Principal, PrincipalKind},
    config::Settings,
    domain::Domain,
    error::{AppError, AppResult},
    upstream::mission::{
        self as api, HttpMission, Member, MissionApi, MissionError, PRODUCT, Resource,
    },
};
use entities::client_users::{Column as U, Entity as ClientUsers};

/// Longest prayer request accepted.
pub const MAX_PRAYER: usize = 4000;
/// Longest directory search accepted.
pub const MAX_SEARCH: usize = 200;
/// The years `donationStats(year)` accepts.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;
/// Longest text kept of any field Mission sends (names, titles, bodies).
const MAX_FIELD: usize = 10_000;

/// The process's way to Mission: the HTTP client with its circuit breaker, or nothing when
/// Mission is not configured, and what its calls last came to per tenant. Built once; cheap
/// to share.
#[derive(Clone)]
pub struct Proxy {
    api: Option<Arc<dyn MissionApi>>,
    outcomes: Arc<Outcomes>,
}

impl Proxy {
    /// The proxy for the configured Mission (none when `MISSION_API_URL` or
    /// `MISSION_SERVICE_KEY` is unset).
    pub fn from_settings(settings: &Settings) -> Self {
        let outcomes = Arc::new(Outcomes::default());
        let api = HttpMission::from_settings(settings).ok().map(|client| {
            Arc::new(Recording {
                inner: Arc::new(client),
                outcomes: outcomes.clone(),
            }) as Arc<dyn MissionApi>
        });
        Proxy { api, outcomes }
    }

    /// Whether Mission is configured.
    pub fn is_configured(&self) -> bool {
        self.api.is_some()
    }

    /// What this process's calls to Mission last came to for `tenant` (every tenant's,
    /// latest first, for `None`), and whether its circuit is open now. Mission is proxied
    /// live and nothing of it is stored, so this is in memory: since this process started.
    pub fn health(&self, tenant: Option<&str>) -> MissionHealth {
        let outcomes = self.outcomes.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut health = MissionHealth {
            circuit_open: self.api.as_ref().is_some_and(|api| api.circuit_open()),
            ..MissionHealth::default()
        };
        let seen = outcomes
            .iter()
            .filter(|(t, _)| tenant.is_none_or(|tenant| tenant == t.as_str()))
            .map(|(_, outcome)| outcome);
        for outcome in seen {
            health.last_success_at = health.last_success_at.max(outcome.last_success_at);
            if let Some((at, why)) = &outcome.last_failure
                && health
                    .last_failure
                    .as_ref()
                    .is_none_or(|(seen, _)| at > seen)
            {
                health.last_failure = Some((*at, why.clone()));
            }
        }
        health
    }
}

/// What Mission calls last came to, for `integrationHealth`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MissionHealth {
    /// When a call last got an answer.
    pub last_success_at: Option<DateTime<Utc>>,
    /// When a call last failed, and onegraph's description of why (never Mission's body).
    pub last_failure: Option<(DateTime<Utc>, String)>,
    /// Whether the circuit fails calls at once now.
    pub circuit_open: bool,
}

/// The last outcome of Mission calls per tenant, in this process.
#[derive(Default)]
struct Outcomes(Mutex<HashMap<String, MissionHealth>>);

impl Outcomes {
    fn record<T>(&self, tenant: &str, result: &Result<T, MissionError>) {
        let at = crate::services::now();
        let mut outcomes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(_) => {
                outcomes
                    .entry(tenant.to_owned())
                    .or_default()
                    .last_success_at = Some(at);
            }
            // Not Mission's doing: nothing was asked of it.
            Err(MissionError::NotConfigured | MissionError::InvalidHeader) => {}
            Err(err) => {
                outcomes.entry(tenant.to_owned()).or_default().last_failure =
                    Some((at, err.describe()));
            }
        }
    }
}

/// The Mission client, noting what each call came to in [`Outcomes`].
struct Recording {
    inner: Arc<dyn MissionApi>,
    outcomes: Arc<Outcomes>,
}

#[async_trait::async_trait]
impl MissionApi for Recording {
    async fn get(
        &self,
        member: &Member,
        resource: &Resource,
    ) -> Result<serde_json::Value, MissionError> {
        let result = self.inner.get(member, resource).await;
        self.outcomes.record(&member.tenant_id, &result);
        result
    }

    async fn submit_prayer_request(
        &self,
        member: &Member,
        request: &api::NewPrayerRequest,
    ) -> Result<api::PrayerRequest, MissionError> {
        let result = self.inner.submit_prayer_request(member, request).await;
        self.outcomes.record(&member.tenant_id, &result);
        result
    }

    fn circuit_open(&self) -> bool {
        self.inner.circuit_open()
    }
}

type SharedRead = Shared<BoxFuture<'static, Result<Arc<serde_json::Value>, MissionError>>>;

/// What one GraphQL request shares of Mission: the reads in flight or done, by member and
/// resource, and the caller's member id once looked up. Attached to every request; costs
/// nothing until a Mission field asks.
#[derive(Default)]
pub struct RequestCalls {
    reads: Mutex<HashMap<String, SharedRead>>,
    member: tokio::sync::OnceCell<Option<String>>,
}

impl RequestCalls {
    /// `resource` for `member`: the request's earlier read of it, shared while in flight,
    /// or a new one.
    async fn read(
        &self,
        api: &Arc<dyn MissionApi>,
        member: &Arc<Member>,
        resource: Resource,
    ) -> Result<Arc<serde_json::Value>, MissionError> {
        let key = format!("{}\n{}", member.member_id, resource.key());
        let read = {
            let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
            reads
                .entry(key)
                .or_insert_with(|| {
                    let api = api.clone();
                    let member = member.clone();
                    async move { api.get(&member, &resource).await.map(Arc::new) }
                        .boxed()
                        .shared()
                })
                .clone()
        };
        read.await
    }
}

/// A client user's Mission for one request: where to ask and as whom.
#[derive(Clone)]
pub struct Session {
    api: Arc<dyn MissionApi>,
    member: Arc<Member>,
}

/// Mission as `principal`'s member: `UPSTREAM_NOT_CONFIGURED` without Mission settings,
/// `MISSION_MEMBER_NOT_LINKED` for a caller without a member id (one statement per request,
/// however many times it is asked).
pub async fn open(
    domain: &Domain,
    proxy: &Proxy,
    calls: &RequestCalls,
    principal: &Principal,
) -> AppResult<Session> {
    let api = proxy
        .api
        .clone()
        .ok_or(AppError::UpstreamNotConfigured(PRODUCT))?;
    let member_id = calls
        .member
        .get_or_try_init(|| member_id(domain, principal))
        .await?
        .clone()
        .ok_or(AppError::MissionMemberNotLinked)?;
    Ok(Session {
        api,
        member: Arc::new(Member {
            tenant_id: principal.tenant_id.clone(),
            member_id,
        }),
    })
}

/// The caller's Mission member id, when it is a client user that has a usable one.
async fn member_id(domain: &Domain, principal: &Principal) -> AppResult<Option<String>> {
    let (PrincipalKind::Client, Some(user_id)) = (principal.kind, principal.user_id.as_deref())
    else {
        return Ok(None);
    };
    let stored: Option<Option<String>> = ClientUsers::find_by_id(user_id.to_owned())
        .filter(U::TenantId.eq(&principal.tenant_id))
        .filter(U::Active.eq(true))
        .select_only()
        .column(U::MissionMemberId)
        .into_tuple()
        .one(&domain.db)
        .await?;
    let member = stored.flatten().map(|id| id.trim().to_owned());
    Ok(match member {
        Some(id) if !id.is_empty() && !id.chars().any(char::is_control) => Some(id),
        Some(_) => {
            tracing::warn!(
                user = user_id,
                "the client user's Mission member id cannot be sent; treated as not linked"
            );
            None
        }
        None => None,
    })
}

/// What a failed call is to the client: never Mission's words. A member id that cannot be
/// sent as a header (not visible ASCII) links to no member Mission can be asked about.
fn unavailable(err: MissionError) -> AppError {
    match err {
        MissionError::NotConfigured => AppError::UpstreamNotConfigured(PRODUCT),
        MissionError::InvalidHeader => AppError::MissionMemberNotLinked,
        _ => AppError::UpstreamUnavailable(PRODUCT),
    }
}

/// An answer that is JSON but not what the contract describes.
fn malformed(resource: &str) -> AppError {
    tracing::warn!(
        product = PRODUCT,
        path = resource,
        "Mission answered data onegraph cannot use"
    );
    AppError::UpstreamUnavailable(PRODUCT)
}

/// A gift to the church.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Donation {
    /// Mission's id.
    pub id: String,
    /// Normalised decimal text.
    pub amount: String,
    /// Upper-case ISO 4217 code.
    pub currency: String,
    /// The fund given to.
    pub fund: Option<String>,
    /// The day, as Mission writes it (`YYYY-MM-DD`).
    pub date: String,
    /// How it was given.
    pub method: Option<String>,
}

/// One fund's total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundTotal {
    /// The fund.
    pub fund: String,
    /// Normalised decimal text.
    pub total: String,
    /// Upper-case ISO 4217 code.
    pub currency: String,
}

/// A member's giving in a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonationStats {
    /// Normalised decimal text.
    pub total: String,
    /// Upper-case ISO 4217 code.
    pub currency: String,
    /// How many gifts.
    pub count: i32,
    /// Per fund.
    pub by_fund: Vec<FundTotal>,
}

/// An event of the church.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissionEvent {
    /// Mission's id.
    pub id: String,
    /// The title.
    pub title: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: Option<DateTime<Utc>>,
    /// Where.
    pub location: Option<String>,
}

/// A group of the church.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissionGroup {
    /// Mission's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// How many members.
    pub member_count: Option<i32>,
}

/// A member in the church's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// Mission's member id.
    pub member_id: String,
    /// The name.
    pub name: String,
    /// The e-mail, when shared.
    pub email: Option<String>,
}

/// A prayer request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrayerRequest {
    /// Mission's id.
    pub id: String,
    /// The request.
    pub body: String,
    /// Whether only the church's staff see it.
    pub is_private: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// Mission's text, when it is not absurdly long.
fn text(value: String) -> Option<String> {
    (value.chars().count() <= MAX_FIELD).then_some(value)
}

fn opt_text(value: Option<String>) -> Option<Option<String>> {
    match value {
        None => Some(None),
        Some(v) => text(v).map(Some),
    }
}

/// An amount and its currency: the amount's own, or the sibling `currency`.
fn money_of(amount: api::Amount, sibling: Option<&str>) -> Option<(String, String)> {
    let (amount, currency) = match amount {
        api::Amount::Text(amount) => (amount, sibling?.to_owned()),
        api::Amount::Money { amount, currency } => (amount, currency),
    };
    Some((money::normalize(&amount)?, money::currency(&currency)?))
}

fn donation(row: api::Donation) -> Option<Donation> {
    let (amount, currency) = money_of(row.amount, row.currency.as_deref())?;
    Some(Donation {
        id: text(row.id)?,
        amount,
        currency,
        fund: opt_text(row.fund)?,
        date: text(row.date)?,
        method: opt_text(row.method)?,
    })
}

fn stats(row: api::DonationStats) -> Option<DonationStats> {
    let (total, currency) = money_of(row.total, row.currency.as_deref())?;
    let by_fund = row
        .by_fund
        .into_iter()
        .map(|fund| {
            let (total, currency) = money_of(fund.total, Some(&currency))?;
            Some(FundTotal {
                fund: text(fund.fund)?,
                total,
                currency,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(DonationStats {
        total,
        count: i32::try_from(row.count).ok().filter(|n| *n >= 0)?,
        currency,
        by_fund,
    })
}

fn event(row: api::MissionEvent) -> Option<MissionEvent> {
    Some(MissionEvent {
        id: text(row.id)?,
        title: text(row.title)?,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        location: opt_text(row.location)?,
    })
}

fn group(row: api::MissionGroup) -> Option<MissionGroup> {
    let member_count = match row.member_count {
        None => None,
        Some(n) => Some(i32::try_from(n).ok().filter(|n| *n >= 0)?),
    };
    Some(MissionGroup {
        id: text(row.id)?,
        name: text(row.name)?,
        description: opt_text(row.description)?,
        member_count,
    })
}

fn entry(row: api::DirectoryEntry) -> Option<DirectoryEntry> {
    Some(DirectoryEntry {
        member_id: text(row.member_id)?,
        name: text(row.name)?,
        email: opt_text(row.email)?,
    })
}

fn prayer(row: api::PrayerRequest) -> Option<PrayerRequest> {
    Some(PrayerRequest {
        id: text(row.id)?,
        body: text(row.body)?,
        is_private: row.is_private,
        created_at: row.created_at,
    })
}

/// `from` must not be after `to`.
fn range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> AppResult<()> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => {
            Err(AppError::bad_input("from must not be after to"))
        }
        _ => Ok(()),
    }
}

impl Session {
    /// Reads `resource` (once per request) as a list of `Row`s, each validated into `T`;
    /// more than [`page::MAX_LIST`] is `BAD_USER_INPUT`.
    async fn list<Row, T>(
        &self,
        calls: &RequestCalls,
        resource: Resource,
        what: &str,
        convert: fn(Row) -> Option<T>,
    ) -> AppResult<Vec<T>>
    where
        Row: serde::de::DeserializeOwned,
    {
        let path = resource.path();
        let value = calls
            .read(&self.api, &self.member, resource)
            .await
            .map_err(unavailable)?;
        let rows: Vec<Row> = api::parse(&value).map_err(|_| malformed(path))?;
        let rows = page::bounded(rows, what)?;
        rows.into_iter()
            .map(convert)
            .collect::<Option<Vec<T>>>()
            .ok_or_else(|| malformed(path))
    }

    /// The member's gifts between `from` and `to`, as Mission orders them.
    pub async fn donations(
        &self,
        calls: &RequestCalls,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> AppResult<Vec<Donation>> {
        range(from, to)?;
        self.list(calls, Resource::donations(from, to), "donations", donation)
            .await
    }

    /// The member's giving in `year` (Mission's default year when absent).
    pub async fn donation_stats(
        &self,
        calls: &RequestCalls,
        year: Option<i32>,
    ) -> AppResult<DonationStats> {
        if let Some(year) = year
            && !YEARS.contains(&year)
        {
            return Err(AppError::bad_input(format!(
                "year must be between {} and {}",
                YEARS.start(),
                YEARS.end()
            )));
        }
        let resource = Resource::donation_stats(year);
        let path = resource.path();
        let value = calls
            .read(&self.api, &self.member, resource)
            .await
            .map_err(unavailable)?;
        api::parse(&value)
            .ok()
            .and_then(stats)
            .ok_or_else(|| malformed(path))
    }

    /// The church's events between `from` and `to`.
    pub async fn events(
        &self,
        calls: &RequestCalls,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> AppResult<Vec<MissionEvent>> {
        range(from, to)?;
        self.list(calls, Resource::events(from, to), "events", event)
            .await
    }

    /// The church's groups.
    pub async fn groups(&self, calls: &RequestCalls) -> AppResult<Vec<MissionGroup>> {
        self.list(calls, Resource::groups(), "groups", group).await
    }

    /// The church's directory, narrowed by `search` (blank: everyone Mission shows).
    pub async fn directory(
        &self,
        calls: &RequestCalls,
        search: Option<&str>,
    ) -> AppResult<Vec<DirectoryEntry>> {
        let search = validate::optional(search, "search", MAX_SEARCH)?;
        self.list(
            calls,
            Resource::directory(search.as_deref()),
            "directory entries",
            entry,
        )
        .await
    }

    /// The prayer requests Mission shows the member.
    pub async fn prayer_requests(&self, calls: &RequestCalls) -> AppResult<Vec<PrayerRequest>> {
        self.list(
            calls,
            Resource::prayer_requests(),
            "prayer requests",
            prayer,
        )
        .await
    }

    /// Submits a prayer request, once (a write is never repeated). The audit entry names
    /// Mission's id for it, never its text.
    pub async fn submit_prayer_request(
        &self,
        domain: &Domain,
        principal: &Principal,
        body: &str,
        is_private: bool,
    ) -> AppResult<PrayerRequest> {
        let body = validate::required(body, "body", MAX_PRAYER)?;
        let created = self
            .api
            .submit_prayer_request(&self.member, &api::NewPrayerRequest { body, is_private })
            .await
            .map_err(unavailable)?;
        let created = prayer(created).ok_or_else(|| malformed("/mission/prayer"))?;
        // Mission has the request by now: a failed audit entry is logged, not answered as a
        // failure the client would retry into a second request.
        if let Err(err) = audit::record(
            &domain.db,
            &principal.tenant_id,
            &principal.actor(),
            "mission.prayer_request.submit",
            Some(&created.id),
            None,
        )
        .await
        {
            tracing::error!(error = ?err, "recording the prayer request's audit entry");
        }
        Ok(created)
    }
}
