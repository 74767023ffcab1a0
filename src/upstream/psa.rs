//! The PSA client (CONTRACT section 6 "PSA"): create tickets and comments with an
//! `Idempotency-Key`, and page through PSA's ticket changes. Behind [`PsaApi`] so the sync
//! job does not care whether it talks to PSA or a fake.

use async_trait::async_trait;
use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};

use crate::config::Settings;

/// Why a PSA call failed, in onegraph's own words: PSA's bodies are never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsaError {
    /// `PSA_API_URL` or `PSA_SERVICE_KEY` is unset (or the URL does not parse).
    NotConfigured,
    /// No connection could be made (PSA down, DNS, TLS).
    Unreachable,
    /// PSA did not answer within `UPSTREAM_TIMEOUT`.
    Timeout,
    /// PSA answered with this HTTP status.
    Status(u16),
    /// PSA answered 2xx with a body that is not the JSON the contract names.
    Malformed,
    /// PSA's answer was longer than `UPSTREAM_MAX_BODY`; it was not read further.
    TooLarge,
}

impl PsaError {
    /// A short description for logs, `sync_runs.error` and `Ticket.syncError`.
    pub fn describe(&self) -> String {
        match self {
            PsaError::NotConfigured => "PSA is not configured".to_owned(),
            PsaError::Unreachable => "PSA unreachable".to_owned(),
            PsaError::Timeout => "PSA did not answer in time".to_owned(),
            PsaError::Status(code) => format!("PSA answered HTTP {code}"),
            PsaError::Malformed => "PSA answered malformed JSON".to_owned(),
            PsaError::TooLarge => "PSA answered a body over UPSTREAM_MAX_BODY".to_owned(),
        }
    }

    /// Whether PSA as a whole is unavailable (so the run should stop calling it), rather
    /// than refusing one item.
    pub fn is_outage(&self) -> bool {
        matches!(self, PsaError::Unreachable | PsaError::Timeout)
    }
}

/// `POST /api/tickets` body.
#[derive(Debug, Clone, Serialize)]
pub struct NewTicket {
    /// Portal's ticket id.
    pub external_ref: String,
    /// The tenant.
    pub tenant_id: String,
    /// PSA company id.
    pub company_id: String,
    /// The client user who opened it, when known.
    pub contact_email: Option<String>,
    /// Subject line.
    pub subject: String,
    /// Description.
    pub description: String,
    /// Lower-case priority.
    pub priority: String,
}

/// PSA's answer to a ticket creation.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedTicket {
    /// PSA's ticket id.
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// PSA's status (lower-case `TicketStatus`), when given.
    #[serde(default)]
    pub status: Option<String>,
}

/// `POST /api/tickets/{psa_id}/comments` body.
#[derive(Debug, Clone, Serialize)]
pub struct NewComment {
    /// The author's e-mail, when known.
    pub author_email: Option<String>,
    /// The comment.
    pub body: String,
}

/// PSA's answer to a comment creation.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedComment {
    /// PSA's comment id.
    #[serde(deserialize_with = "id_text")]
    pub id: String,
}

/// One page of `GET /api/tickets/changes`.
#[derive(Debug, Clone, Deserialize)]
pub struct ChangesPage {
    /// Changed tickets; empty when the feed is exhausted.
    pub changes: Vec<TicketChange>,
    /// Where the next page starts.
    #[serde(default, deserialize_with = "opt_id_text")]
    pub next_cursor: Option<String>,
}

/// One changed ticket.
#[derive(Debug, Clone, Deserialize)]
pub struct TicketChange {
    /// PSA's ticket id.
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// The tenant the ticket belongs to (as sent with the ticket's creation). Portal matches
    /// a change only within this tenant, so a change without it is not applied.
    #[serde(default, deserialize_with = "opt_id_text")]
    pub tenant_id: Option<String>,
    /// Portal's ticket id, for tickets Portal created.
    #[serde(default, deserialize_with = "opt_id_text")]
    pub external_ref: Option<String>,
    /// Lower-case `TicketStatus`.
    #[serde(default)]
    pub status: Option<String>,
    /// The ticket's comments (PSA may send all or only new ones).
    #[serde(default)]
    pub comments: Vec<ChangeComment>,
    /// When PSA changed it (informative).
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A comment in a change.
#[derive(Debug, Clone, Deserialize)]
pub struct ChangeComment {
    /// PSA's comment id.
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// Display name of the author.
    #[serde(default)]
    pub author: Option<String>,
    /// The comment.
    pub body: String,
    /// RFC 3339, when given.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// PSA ids may come as strings or numbers; onegraph keeps them as text.
fn id_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) if !s.is_empty() => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom("expected a string or number id")),
    }
}

fn opt_id_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if s.is_empty() => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s)),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(serde::de::Error::custom("expected a string or number")),
    }
}

/// What the ticket sync needs of PSA.
#[async_trait]
pub trait PsaApi: Send + Sync {
    /// `POST /api/tickets` with `Idempotency-Key: <portal ticket id>`.
    async fn create_ticket(&self, ticket: &NewTicket) -> Result<CreatedTicket, PsaError>;
    /// `POST /api/tickets/{psa_ticket_id}/comments` with `Idempotency-Key: <comment_id>`.
    async fn add_comment(
        &self,
        psa_ticket_id: &str,
        comment_id: &str,
        comment: &NewComment,
    ) -> Result<CreatedComment, PsaError>;
    /// `GET /api/tickets/changes?since=<cursor>` (no `since` on the very first pull).
    async fn changes(&self, since: Option<&str>) -> Result<ChangesPage, PsaError>;
}

/// The PSA client over HTTP.
pub struct HttpPsa {
    client: reqwest::Client,
    base: reqwest::Url,
    key: String,
    max_body: usize,
}

impl HttpPsa {
    /// The client for `PSA_API_URL` and `PSA_SERVICE_KEY`; `UPSTREAM_NOT_CONFIGURED` when
    /// either is missing.
    pub fn from_settings(settings: &Settings) -> Result<Self, PsaError> {
        let (Some(url), Some(key)) = (&settings.psa_api_url, &settings.psa_service_key) else {
            return Err(PsaError::NotConfigured);
        };
        let base = reqwest::Url::parse(url).map_err(|_| PsaError::NotConfigured)?;
        Ok(HttpPsa {
            client: super::http_client(settings),
            base,
            key: key.expose().to_owned(),
            max_body: settings.upstream_max_body,
        })
    }

    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, PsaError> {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().map_err(|_| PsaError::Unreachable)?;
            path.pop_if_empty();
            path.extend(segments);
        }
        Ok(url)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, PsaError> {
        let response = request
            .bearer_auth(&self.key)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(PsaError::Status(status.as_u16()));
        }
        let bytes = super::read_body(response, self.max_body)
            .await
            .map_err(|err| match err {
                super::BodyError::TooLarge => PsaError::TooLarge,
                super::BodyError::Transport(err) => transport(err),
            })?;
        serde_json::from_slice(&bytes).map_err(|_| PsaError::Malformed)
    }
}

fn transport(err: reqwest::Error) -> PsaError {
    if err.is_timeout() {
        PsaError::Timeout
    } else {
        PsaError::Unreachable
    }
}

#[async_trait]
impl PsaApi for HttpPsa {
    async fn create_ticket(&self, ticket: &NewTicket) -> Result<CreatedTicket, PsaError> {
        let url = self.url(&["api", "tickets"])?;
        self.send(
            self.client
                .post(url)
                .header("Idempotency-Key", &ticket.external_ref)
                .json(ticket),
        )
        .await
    }

    async fn add_comment(
        &self,
        psa_ticket_id: &str,
        comment_id: &str,
        comment: &NewComment,
    ) -> Result<CreatedComment, PsaError> {
        let url = self.url(&["api", "tickets", psa_ticket_id, "comments"])?;
        self.send(
            self.client
                .post(url)
                .header("Idempotency-Key", comment_id)
                .json(comment),
        )
        .await
    }

    async fn changes(&self, since: Option<&str>) -> Result<ChangesPage, PsaError> {
        let mut url = self.url(&["api", "tickets", "changes"])?;
        if let Some(since) = since {
            url.query_pairs_mut().append_pair("since", since);
        }
        self.send(self.client.get(url)).await
    }
}
