//! The Books client: pages of invoices updated since a time (CONTRACT section 6, "Books").

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use crate::config::Settings;

/// The product's name in errors and logs.
pub const PRODUCT: &str = "Books";

/// Why a call to Books failed. The details go to the log, never to clients.
#[derive(Debug, thiserror::Error)]
pub enum BooksError {
    /// `BOOKS_API_URL` or `BOOKS_SERVICE_KEY` is unset.
    #[error("Books is not configured")]
    NotConfigured,
    /// Books could not be reached or did not answer in time.
    #[error("Books unreachable: {0}")]
    Unreachable(String),
    /// Books answered with a status other than 200.
    #[error("Books answered HTTP {0}")]
    Status(u16),
    /// Books' answer was not the JSON the contract describes.
    #[error("Books answered malformed JSON: {0}")]
    Malformed(String),
    /// Books' answer was longer than `UPSTREAM_MAX_BODY`; it was not read further.
    #[error("Books answered a body over UPSTREAM_MAX_BODY")]
    TooLarge,
}

/// One invoice as Books sends it. Amounts are decimal strings, validated by the sync.
#[derive(Debug, Clone, Deserialize)]
pub struct BooksInvoice {
    /// Books' id.
    pub id: String,
    /// The tenant (UUID).
    pub tenant_id: String,
    /// The PSA company id.
    pub company_id: String,
    /// The invoice number shown to clients.
    pub number: String,
    /// Lower-case status (`open`, `paid`, `overdue`, `void`).
    pub status: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Decimal string.
    pub total: String,
    /// Decimal string.
    pub balance: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it is due.
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    /// Where its PDF is.
    #[serde(default)]
    pub pdf_url: Option<String>,
    /// When Books last changed it.
    pub updated_at: DateTime<Utc>,
}

/// One page of `GET /api/invoices`.
#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePage {
    /// The invoices on this page.
    pub invoices: Vec<BooksInvoice>,
    /// The next page's number, or `None` on the last page.
    #[serde(default)]
    pub next_page: Option<u32>,
}

/// What onegraph asks of Books.
#[async_trait::async_trait]
pub trait BooksApi: Send + Sync {
    /// `GET /api/invoices?updated_since=…&page=…`.
    async fn invoices(
        &self,
        updated_since: DateTime<Utc>,
        page: u32,
    ) -> Result<InvoicePage, BooksError>;
}

/// Books over HTTP, on the shared upstream client.
pub struct HttpBooks {
    client: reqwest::Client,
    base: String,
    key: String,
    max_body: usize,
}

impl HttpBooks {
    /// The client for the configured Books, or `NotConfigured` when a setting is missing.
    pub fn from_settings(settings: &Settings) -> Result<Self, BooksError> {
        match (&settings.books_api_url, &settings.books_service_key) {
            (Some(base), Some(key)) if !key.expose().is_empty() => Ok(HttpBooks {
                client: super::http_client(settings),
                base: base.trim_end_matches('/').to_owned(),
                key: key.expose().to_owned(),
                max_body: settings.upstream_max_body,
            }),
            _ => Err(BooksError::NotConfigured),
        }
    }
}

#[async_trait::async_trait]
impl BooksApi for HttpBooks {
    async fn invoices(
        &self,
        updated_since: DateTime<Utc>,
        page: u32,
    ) -> Result<InvoicePage, BooksError> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/invoices", self.base),
            &[
                (
                    "updated_since",
                    updated_since.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                ),
                ("page", page.to_string()),
            ],
        )
        .map_err(|err| BooksError::Unreachable(format!("invalid BOOKS_API_URL: {err}")))?;
        let response = self
            .client
            .get(url)
            .bearer_auth(&self.key)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| BooksError::Unreachable(err.without_url().to_string()))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(BooksError::Status(status.as_u16()));
        }
        let body = super::read_body(response, self.max_body)
            .await
            .map_err(|err| match err {
                super::BodyError::TooLarge => BooksError::TooLarge,
                super::BodyError::Transport(err) => {
                    BooksError::Unreachable(err.without_url().to_string())
                }
            })?;
        serde_json::from_slice(&body).map_err(|err| BooksError::Malformed(err.to_string()))
    }
}
