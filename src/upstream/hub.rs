//! The Hub Billing client: `POST {HUB_API_URL}/api/hub/billing/usage/report` with
//! `Authorization: Bearer BUS_INTEGRATION_KEY` (CONTRACT section 6, "Hub Billing").

use async_trait::async_trait;
use serde::Serialize;

use crate::config::Settings;

/// The product's name in errors and logs.
pub const PRODUCT: &str = "Hub";

/// Why a report was not accepted. The details go to the log, never to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// `HUB_API_URL` or `BUS_INTEGRATION_KEY` is unset.
    #[error("Hub is not configured")]
    NotConfigured,
    /// Hub could not be reached or did not answer in time.
    #[error("Hub unreachable")]
    Unreachable,
    /// Hub answered with a status other than 2xx.
    #[error("Hub answered HTTP {0}")]
    Status(u16),
}

/// One usage report, as Hub takes it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UsageReport {
    /// Always `visitor`.
    pub product: &'static str,
    pub tenant_id: String,
    /// Always `active_locations`.
    pub metric: &'static str,
    pub quantity: i64,
    /// `YYYY-MM`.
    pub period: String,
    /// `YYYY-MM-DD`.
    pub reported_on: String,
}

/// Hub Billing, behind a trait so tests can point it at a fake.
#[async_trait]
pub trait HubBilling: Send + Sync {
    /// Sends one report; `idempotency_key` is the same on every attempt of one report.
    async fn report(&self, report: &UsageReport, idempotency_key: &str) -> Result<(), HubError>;
}

/// The HTTP client.
pub struct HubClient {
    http: reqwest::Client,
    url: Option<String>,
    key: Option<crate::config::Secret>,
}

impl HubClient {
    /// The client the settings describe.
    pub fn new(settings: &Settings) -> Self {
        HubClient {
            http: super::http_client(settings),
            url: settings
                .hub_api_url
                .as_ref()
                .map(|u| format!("{}/api/hub/billing/usage/report", u.trim_end_matches('/'))),
            key: settings.bus_integration_key.clone(),
        }
    }
}

#[async_trait]
impl HubBilling for HubClient {
    async fn report(&self, report: &UsageReport, idempotency_key: &str) -> Result<(), HubError> {
        let (Some(url), Some(key)) = (&self.url, &self.key) else {
            return Err(HubError::NotConfigured);
        };
        let response = self
            .http
            .post(url)
            .bearer_auth(key.expose())
            .header("Idempotency-Key", idempotency_key)
            .json(report)
            .send()
            .await
            .map_err(|_| HubError::Unreachable)?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(HubError::Status(status.as_u16()))
        }
    }
}
