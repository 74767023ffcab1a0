//! The Bus: onegraph's events (CONTRACT section 5) go to `POST {BUS_API_URL}/api/events`
//! with `Authorization: Bearer {BUS_SDK_KEY}`, the stored envelope as the body.

use async_trait::async_trait;

use crate::config::{Secret, Settings};

/// Why an event did not reach the Bus. The text is onegraph's own short description (what
/// the outbox records as `last_error`), never the Bus's answer body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// No answer within `UPSTREAM_TIMEOUT`.
    #[error("bus: POST /api/events timed out")]
    Timeout,
    /// The Bus could not be reached.
    #[error("bus: POST /api/events could not connect")]
    Connect,
    /// The Bus answered with a status other than 2xx.
    #[error("bus: POST /api/events answered HTTP {0}")]
    Status(u16),
    /// The request failed otherwise (TLS, protocol).
    #[error("bus: POST /api/events failed")]
    Request,
}

/// Publishes envelopes to the Bus.
#[async_trait]
pub trait BusClient: Send + Sync {
    /// POSTs one envelope (already serialised JSON). Any 2xx answer is success.
    async fn publish(&self, envelope: &str) -> Result<(), BusError>;
}

/// The Bus over HTTP.
pub struct HttpBus {
    client: reqwest::Client,
    url: String,
    key: Secret,
}

impl HttpBus {
    /// The Bus client when `BUS_API_URL` and `BUS_SDK_KEY` are both set, else `None` (the
    /// integration is off and Bus events wait in the outbox).
    pub fn from_settings(settings: &Settings, client: reqwest::Client) -> Option<Self> {
        let base = settings.bus_api_url.as_deref()?;
        let key = settings.bus_sdk_key.clone()?;
        Some(Self {
            client,
            url: format!("{base}/api/events"),
            key,
        })
    }
}

#[async_trait]
impl BusClient for HttpBus {
    async fn publish(&self, envelope: &str) -> Result<(), BusError> {
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(self.key.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(envelope.to_owned())
            .send()
            .await
            .map_err(|err| {
                if err.is_timeout() {
                    BusError::Timeout
                } else if err.is_connect() {
                    BusError::Connect
                } else {
                    BusError::Request
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(BusError::Status(status.as_u16()))
        }
    }
}
