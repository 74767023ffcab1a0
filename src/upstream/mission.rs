//! The Mission client (CONTRACT section 6, "Mission"): live reads of a member's donations,
//! giving statistics, events, groups, directory and prayer requests, and the submission of a
//! prayer request. Every call carries `Authorization: Bearer MISSION_SERVICE_KEY`,
//! `X-Tenant-Id` and the client's Mission member id as `X-Member-Id`; nothing is stored.
//!
//! Each call has `UPSTREAM_TIMEOUT` in all: a read that fails in a way that may pass
//! (connection refused or reset, HTTP 5xx or 429) is tried once more within what is left of
//! it; a write is never repeated. A per-process [`Breaker`] fails calls at once after
//! `UPSTREAM_BREAKER_THRESHOLD` consecutive failures, for `UPSTREAM_BREAKER_COOLDOWN`, then
//! lets one probe through. Answers are read up to `UPSTREAM_MAX_BODY` bytes (through
//! [`super::read_body`]) and parsed as JSON;
//! Mission's bodies are never logged or passed on, only onegraph's description of what went
//! wrong ([`MissionError::describe`]).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};

use super::breaker::Breaker;
use crate::config::Settings;

/// The product's name in errors and logs.
pub const PRODUCT: &str = "Mission";

/// The pause before a read's second attempt (when the budget leaves room for it).
pub const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// Why a Mission call failed, in onegraph's own words: Mission's bodies are never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissionError {
    /// `MISSION_API_URL` or `MISSION_SERVICE_KEY` is unset (or the URL does not parse).
    NotConfigured,
    /// No connection could be made, or it broke (Mission down, DNS, TLS).
    Unreachable,
    /// Mission did not answer within `UPSTREAM_TIMEOUT`.
    Timeout,
    /// Mission answered with this HTTP status.
    Status(u16),
    /// Mission answered 2xx with a body that is not the JSON the contract names.
    Malformed,
    /// Mission's answer was longer than `UPSTREAM_MAX_BODY`.
    TooLarge,
    /// The circuit is open after repeated failures: the call was not made.
    CircuitOpen,
    /// The member or tenant id cannot be sent as a header.
    InvalidHeader,
}

impl MissionError {
    /// A short description for logs (never Mission's body).
    pub fn describe(&self) -> String {
        match self {
            MissionError::NotConfigured => "Mission is not configured".to_owned(),
            MissionError::Unreachable => "Mission unreachable".to_owned(),
            MissionError::Timeout => "Mission did not answer in time".to_owned(),
            MissionError::Status(code) => format!("Mission answered HTTP {code}"),
            MissionError::Malformed => "Mission answered malformed JSON".to_owned(),
            MissionError::TooLarge => {
                "Mission answered more than UPSTREAM_MAX_BODY bytes".to_owned()
            }
            MissionError::CircuitOpen => "Mission circuit open after repeated failures".to_owned(),
            MissionError::InvalidHeader => {
                "the member or tenant id cannot be sent as a header".to_owned()
            }
        }
    }

    /// Whether a read that failed this way may be tried once more.
    fn transient(&self) -> bool {
        match self {
            MissionError::Unreachable => true,
            MissionError::Status(code) => *code >= 500 || *code == 429,
            _ => false,
        }
    }

    /// Whether the failure says Mission is unwell (counts toward opening the circuit). A
    /// 4xx answer is Mission refusing one request, not being down.
    fn is_outage(&self) -> bool {
        match self {
            MissionError::Unreachable
            | MissionError::Timeout
            | MissionError::Malformed
            | MissionError::TooLarge => true,
            MissionError::Status(code) => *code >= 500 || *code == 429,
            MissionError::NotConfigured
            | MissionError::CircuitOpen
            | MissionError::InvalidHeader => false,
        }
    }
}

/// Who a call is for: Mission decides what this member of this tenant may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `X-Tenant-Id`.
    pub tenant_id: String,
    /// `X-Member-Id`.
    pub member_id: String,
}

/// One readable resource: a path and its query. Its [`Resource::key`] names it, so that
/// one GraphQL request fetches it once however many fields ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    path: &'static str,
    query: Vec<(&'static str, String)>,
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl Resource {
    fn new(path: &'static str, query: Vec<(&'static str, Option<String>)>) -> Self {
        Resource {
            path,
            query: query
                .into_iter()
                .filter_map(|(name, value)| Some((name, value?)))
                .collect(),
        }
    }

    /// `GET /mission/donations?from&to`.
    pub fn donations(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Self {
        Self::new(
            "/mission/donations",
            vec![("from", from.map(time)), ("to", to.map(time))],
        )
    }

    /// `GET /mission/donations/stats?year`.
    pub fn donation_stats(year: Option<i32>) -> Self {
        Self::new(
            "/mission/donations/stats",
            vec![("year", year.map(|y| y.to_string()))],
        )
    }

    /// `GET /mission/events?from&to`.
    pub fn events(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Self {
        Self::new(
            "/mission/events",
            vec![("from", from.map(time)), ("to", to.map(time))],
        )
    }

    /// `GET /mission/groups`.
    pub fn groups() -> Self {
        Self::new("/mission/groups", Vec::new())
    }

    /// `GET /mission/directory?q`.
    pub fn directory(search: Option<&str>) -> Self {
        Self::new("/mission/directory", vec![("q", search.map(str::to_owned))])
    }

    /// `GET /mission/prayer`.
    pub fn prayer_requests() -> Self {
        Self::new("/mission/prayer", Vec::new())
    }

    /// The path, for logs (the query may hold what a member typed).
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The path and its encoded query: the resource's identity within one request.
    pub fn key(&self) -> String {
        if self.query.is_empty() {
            return self.path.to_owned();
        }
        let query = reqwest::Url::parse_with_params("http://mission.invalid/", &self.query)
            .ok()
            .and_then(|url| url.query().map(str::to_owned))
            .unwrap_or_default();
        format!("{}?{query}", self.path)
    }
}

/// An amount as Mission writes it: a decimal string beside a `currency` field, or an
/// object `{"amount", "currency"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    /// `"12.50"`; the currency is a sibling field.
    Text(String),
    /// `{"amount": "12.50", "currency": "USD"}`.
    Money {
        /// Decimal string.
        amount: String,
        /// ISO 4217 code.
        currency: String,
    },
}

/// A gift, as `GET /mission/donations` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Donation {
    /// Mission's id.
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// The amount.
    pub amount: Amount,
    /// The currency, when `amount` is a string.
    #[serde(default)]
    pub currency: Option<String>,
    /// The fund given to.
    #[serde(default)]
    pub fund: Option<String>,
    /// The day of the gift (`YYYY-MM-DD`).
    pub date: String,
    /// How it was given (card, cash, …).
    #[serde(default)]
    pub method: Option<String>,
}

/// One fund's total in [`DonationStats`].
#[derive(Debug, Clone, Deserialize)]
pub struct FundTotal {
    /// The fund.
    pub fund: String,
    /// Its total.
    pub total: Amount,
}

/// `GET /mission/donations/stats`.
#[derive(Debug, Clone, Deserialize)]
pub struct DonationStats {
    /// Everything given.
    pub total: Amount,
    /// The currency, when `total` is a string.
    #[serde(default)]
    pub currency: Option<String>,
    /// How many gifts.
    pub count: i64,
    /// Per fund.
    #[serde(default)]
    pub by_fund: Vec<FundTotal>,
}

/// An event, as `GET /mission/events` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct MissionEvent {
    /// Mission's id.
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// The title.
    pub title: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Where.
    #[serde(default)]
    pub location: Option<String>,
}

/// A group, as `GET /mission/groups` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct MissionGroup {
    /// Mission's id.
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// How many members.
    #[serde(default)]
    pub member_count: Option<i64>,
}

/// A member in `GET /mission/directory`.
#[derive(Debug, Clone, Deserialize)]
pub struct DirectoryEntry {
    /// Mission's member id.
    #[serde(deserialize_with = "id_text")]
    pub member_id: String,
    /// The member's name.
    pub name: String,
    /// The member's e-mail, when shared.
    #[serde(default)]
    pub email: Option<String>,
}

/// A prayer request, as `GET /mission/prayer` lists it and `POST /mission/prayer` answers.
#[derive(Debug, Clone, Deserialize)]
pub struct PrayerRequest {
    /// Mission's id.
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// The request.
    pub body: String,
    /// Whether only the church's staff see it.
    #[serde(default)]
    pub is_private: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// `POST /mission/prayer` body.
#[derive(Debug, Clone, Serialize)]
pub struct NewPrayerRequest {
    /// The request.
    pub body: String,
    /// Whether only the church's staff see it.
    pub is_private: bool,
}

/// Mission ids may come as strings or numbers; onegraph keeps them as text.
fn id_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) if !s.is_empty() => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom("expected a string or number id")),
    }
}

/// Reads `value` (an answer [`MissionApi::get`] returned) as `T`; a shape other than the
/// contract's is [`MissionError::Malformed`] (serde's message, which quotes the body, is
/// dropped).
pub fn parse<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, MissionError> {
    T::deserialize(value).map_err(|_| MissionError::Malformed)
}

/// What onegraph asks of Mission.
#[async_trait]
pub trait MissionApi: Send + Sync {
    /// Reads `resource` for `member`: its JSON, retried once within the timeout.
    async fn get(
        &self,
        member: &Member,
        resource: &Resource,
    ) -> Result<serde_json::Value, MissionError>;

    /// `POST /mission/prayer`, once.
    async fn submit_prayer_request(
        &self,
        member: &Member,
        request: &NewPrayerRequest,
    ) -> Result<PrayerRequest, MissionError>;

    /// Whether calls fail at once now (an open circuit), for health reports.
    fn circuit_open(&self) -> bool {
        false
    }
}

/// Mission over HTTP, with its circuit breaker.
pub struct HttpMission {
    client: reqwest::Client,
    base: reqwest::Url,
    key: String,
    timeout: Duration,
    max_body: usize,
    breaker: Breaker,
}

impl HttpMission {
    /// The client for `MISSION_API_URL` and `MISSION_SERVICE_KEY`; `NotConfigured` when
    /// either is missing.
    pub fn from_settings(settings: &Settings) -> Result<Self, MissionError> {
        let (Some(url), Some(key)) = (&settings.mission_api_url, &settings.mission_service_key)
        else {
            return Err(MissionError::NotConfigured);
        };
        let base = reqwest::Url::parse(url).map_err(|_| MissionError::NotConfigured)?;
        Ok(HttpMission {
            client: super::http_client(settings),
            base,
            key: key.expose().to_owned(),
            timeout: settings.upstream_timeout,
            max_body: settings.upstream_max_body,
            breaker: Breaker::new(
                PRODUCT,
                settings.upstream_breaker_threshold,
                settings.upstream_breaker_cooldown,
            ),
        })
    }

    fn url(&self, path: &str, query: &[(&'static str, String)]) -> reqwest::Url {
        let mut url = self.base.clone();
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url.set_query(None);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    fn request(
        &self,
        method: reqwest::Method,
        url: reqwest::Url,
        member: &Member,
    ) -> Result<reqwest::RequestBuilder, MissionError> {
        let header = |text: &str| {
            reqwest::header::HeaderValue::from_str(text).map_err(|_| MissionError::InvalidHeader)
        };
        Ok(self
            .client
            .request(method, url)
            .bearer_auth(&self.key)
            .header(reqwest::header::ACCEPT, "application/json")
            .header("X-Tenant-Id", header(&member.tenant_id)?)
            .header("X-Member-Id", header(&member.member_id)?))
    }

    /// One attempt: send, check the status, read the body up to `UPSTREAM_MAX_BODY`, parse
    /// it.
    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, MissionError> {
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            // The body is not read: nothing of it goes anywhere.
            return Err(MissionError::Status(status.as_u16()));
        }
        let body = super::read_body(response, self.max_body)
            .await
            .map_err(|err| match err {
                super::BodyError::TooLarge => MissionError::TooLarge,
                super::BodyError::Transport(err) => transport(err),
            })?;
        serde_json::from_slice(&body).map_err(|_| MissionError::Malformed)
    }

    /// [`HttpMission::attempt`] bounded by `deadline`.
    async fn attempt_until(
        &self,
        deadline: tokio::time::Instant,
        request: reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, MissionError> {
        tokio::time::timeout_at(deadline, self.attempt(request))
            .await
            .unwrap_or(Err(MissionError::Timeout))
    }

    fn log(&self, what: &str, path: &str, err: &MissionError) {
        tracing::warn!(
            product = PRODUCT,
            path,
            error = %err.describe(),
            "{what} failed"
        );
    }
}

fn transport(err: reqwest::Error) -> MissionError {
    if err.is_timeout() {
        MissionError::Timeout
    } else {
        MissionError::Unreachable
    }
}

#[async_trait]
impl MissionApi for HttpMission {
    async fn get(
        &self,
        member: &Member,
        resource: &Resource,
    ) -> Result<serde_json::Value, MissionError> {
        let Some(ticket) = self.breaker.admit() else {
            return Err(MissionError::CircuitOpen);
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        let url = self.url(resource.path, &resource.query);
        let mut result = self
            .attempt_until(
                deadline,
                self.request(reqwest::Method::GET, url.clone(), member)?,
            )
            .await;
        // A probe makes one attempt: the breaker lets exactly one call through.
        if let Err(err) = &result
            && err.transient()
            && !ticket.is_probe()
        {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left > RETRY_PAUSE * 2 {
                self.log("Mission read (retrying once)", resource.path, err);
                tokio::time::sleep(RETRY_PAUSE).await;
                result = self
                    .attempt_until(deadline, self.request(reqwest::Method::GET, url, member)?)
                    .await;
            }
        }
        match &result {
            Ok(_) => ticket.success(),
            Err(err) => {
                self.log("Mission read", resource.path, err);
                if err.is_outage() {
                    ticket.failure();
                } else {
                    ticket.success();
                }
            }
        }
        result
    }

    async fn submit_prayer_request(
        &self,
        member: &Member,
        request: &NewPrayerRequest,
    ) -> Result<PrayerRequest, MissionError> {
        const PATH: &str = "/mission/prayer";
        let Some(ticket) = self.breaker.admit() else {
            return Err(MissionError::CircuitOpen);
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        let url = self.url(PATH, &[]);
        let result = self
            .attempt_until(
                deadline,
                self.request(reqwest::Method::POST, url, member)?
                    .json(request),
            )
            .await;
        match &result {
            Ok(_) => ticket.success(),
            Err(err) => {
                self.log("Mission write", PATH, err);
                if err.is_outage() {
                    ticket.failure();
                } else {
                    ticket.success();
                }
            }
        }
        let value = result?;
        parse(&value).inspect_err(|err| self.log("Mission write", PATH, err))
    }

    fn circuit_open(&self) -> bool {
        self.breaker.is_open()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_keys_hold_path_and_encoded_query() {
        assert_eq!(Resource::groups().key(), "/mission/groups");
        assert_eq!(
            Resource::directory(Some("a&b c")).key(),
            "/mission/directory?q=a%26b+c"
        );
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        assert_eq!(
            Resource::events(Some(at), None).key(),
            "/mission/events?from=2023-11-14T22%3A13%3A20Z"
        );
        assert_ne!(
            Resource::donations(Some(at), None).key(),
            Resource::donations(None, Some(at)).key()
        );
    }

    #[test]
    fn amounts_come_as_text_or_objects_and_numbers_are_refused() {
        let text: Result<Donation, _> = parse(&serde_json::json!(
            {"id": 7, "amount": "12.50", "currency": "USD", "date": "2026-01-02"}
        ));
        assert!(matches!(
            text,
            Ok(Donation {
                amount: Amount::Text(_),
                ..
            })
        ));
        let object: Result<DonationStats, _> = parse(&serde_json::json!(
            {"total": {"amount": "1.00", "currency": "EUR"}, "count": 1}
        ));
        assert!(matches!(
            object,
            Ok(DonationStats {
                total: Amount::Money { .. },
                ..
            })
        ));
        let number: Result<Donation, _> = parse(&serde_json::json!(
            {"id": "d", "amount": 12.5, "currency": "USD", "date": "2026-01-02"}
        ));
        assert_eq!(number.err(), Some(MissionError::Malformed));
    }

    #[test]
    fn only_passing_failures_are_retried() {
        assert!(MissionError::Unreachable.transient());
        assert!(MissionError::Status(503).transient());
        assert!(!MissionError::Status(404).transient());
        assert!(!MissionError::Malformed.transient());
        assert!(!MissionError::Timeout.transient());
    }
}
