//! Legal: the `signing.completed` webhook (CONTRACT section 6), POSTed to
//! `LEGAL_WEBHOOK_URL` with `X-Signature: t=<unix seconds>,sha256=<hex HMAC-SHA256 of
//! "<t>.<body>" with LEGAL_WEBHOOK_SECRET>`, signed at delivery time so the timestamp is
//! fresh on every attempt.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{Secret, Settings};

/// The header the signature goes in.
pub const SIGNATURE_HEADER: &str = "x-signature";

/// Why a webhook did not reach Legal: onegraph's own short description, never Legal's
/// answer body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegalError {
    /// No answer within `UPSTREAM_TIMEOUT`.
    #[error("legal_webhook: POST timed out")]
    Timeout,
    /// Legal could not be reached.
    #[error("legal_webhook: POST could not connect")]
    Connect,
    /// Legal answered with a status other than 2xx.
    #[error("legal_webhook: POST answered HTTP {0}")]
    Status(u16),
    /// The request failed otherwise (TLS, protocol).
    #[error("legal_webhook: POST failed")]
    Request,
}

/// Sends webhooks to Legal.
#[async_trait]
pub trait LegalClient: Send + Sync {
    /// POSTs `body` (the exact JSON bytes that are signed). Any 2xx answer is success.
    async fn post_webhook(&self, body: &str) -> Result<(), LegalError>;
}

/// The `X-Signature` value for `body` at unix time `t`.
pub fn signature(secret: &[u8], t: i64, body: &str) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    let digest = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(body.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!("t={t},sha256={digest}")
}

/// Legal's webhook over HTTP.
pub struct HttpLegal {
    client: reqwest::Client,
    url: String,
    secret: Secret,
}

impl HttpLegal {
    /// The client when `LEGAL_WEBHOOK_URL` and `LEGAL_WEBHOOK_SECRET` are both set, else
    /// `None` (webhooks wait in the outbox until Legal is configured).
    pub fn from_settings(settings: &Settings, client: reqwest::Client) -> Option<Self> {
        Some(Self {
            client,
            url: settings.legal_webhook_url.clone()?,
            secret: settings.legal_webhook_secret.clone()?,
        })
    }
}

#[async_trait]
impl LegalClient for HttpLegal {
    async fn post_webhook(&self, body: &str) -> Result<(), LegalError> {
        let t = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(self.secret.expose().as_bytes(), t, body),
            )
            .body(body.to_owned())
            .send()
            .await
            .map_err(|err| {
                if err.is_timeout() {
                    LegalError::Timeout
                } else if err.is_connect() {
                    LegalError::Connect
                } else {
                    LegalError::Request
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(LegalError::Status(status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        // Reference value computed independently:
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        let sig = signature(b"secret", 1_700_000_000, r#"{"a":1}"#);
        assert_eq!(
            sig,
            "t=1700000000,sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }
}
