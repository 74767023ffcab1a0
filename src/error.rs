//! The one error type at onegraph's edge, carrying the stable codes of CONTRACT section 3.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts any
//! `Display` type into an error without extensions, and every error here must carry its code
//! (the GraphQL conversion, with the code, is in `graphql::error`).
//!
//! Internal causes are logged where the error is turned into a response and never shown to
//! the client: it sees a generic message and the code `INTERNAL`.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// Every way a request can fail, as clients see it.
#[derive(Debug)]
pub enum AppError {
    /// No principal, or credentials that do not hold.
    Unauthenticated(String),
    /// The principal lacks `permission`.
    Forbidden {
        /// The permission the caller is missing, when one permission would do.
        permission: Option<&'static str>,
    },
    /// The object does not exist or belongs to another tenant (indistinguishable).
    NotFound(&'static str),
    /// The input is invalid; the message says how.
    BadUserInput(String),
    /// The change conflicts with the current state.
    Conflict(String),
    /// The SSO token's `jti` was already used.
    TokenReplayed,
    /// A Hub-signed token names no account onegraph knows.
    AccountNotFound,
    /// `PORTAL_CLIENT_SSO_SECRET` is unset.
    SsoNotConfigured,
    /// Too many attempts from this address.
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// The client user has no Mission member id.
    MissionMemberNotLinked,
    /// Another product is down, slow or answered badly; `0` names it (PSA, Books, …).
    UpstreamUnavailable(&'static str),
    /// Another product's settings are missing; `0` names it.
    UpstreamNotConfigured(&'static str),
    /// Depth, complexity, aliases or body size over the limits.
    QueryTooComplex(String),
    /// Something failed inside onegraph; the cause is logged, not shown.
    Internal(String),
}

impl AppError {
    /// The message clients see (never an internal cause).
    pub fn message(&self) -> String {
        match self {
            AppError::Unauthenticated(m) | AppError::BadUserInput(m) | AppError::Conflict(m) => {
                m.clone()
            }
            AppError::QueryTooComplex(m) => m.clone(),
            AppError::Forbidden { .. } => "Access Denied".into(),
            AppError::NotFound(what) => format!("{what} not found"),
            AppError::TokenReplayed => "Token already used".into(),
            AppError::AccountNotFound => "No account found".into(),
            AppError::SsoNotConfigured => "Hub sign-on is not configured on this server".into(),
            AppError::RateLimited { retry_after_secs } => {
                format!("Too many attempts; try again in {retry_after_secs} seconds")
            }
            AppError::Internal(_) => "Internal error".into(),
            AppError::MissionMemberNotLinked => {
                "Your account is not linked to a Mission member".into()
            }
            AppError::UpstreamUnavailable(product) => {
                format!("{product} is unavailable; try again later")
            }
            AppError::UpstreamNotConfigured(product) => {
                format!("{product} is not configured on this server")
            }
        }
    }

    /// The stable `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden { .. } => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadUserInput(_) => "BAD_USER_INPUT",
            AppError::Conflict(_) => "CONFLICT",
            AppError::TokenReplayed => "TOKEN_REPLAYED",
            AppError::AccountNotFound => "ACCOUNT_NOT_FOUND",
            AppError::SsoNotConfigured => "SSO_NOT_CONFIGURED",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::QueryTooComplex(_) => "QUERY_TOO_COMPLEX",
            AppError::Internal(_) => "INTERNAL",
            AppError::MissionMemberNotLinked => "MISSION_MEMBER_NOT_LINKED",
            AppError::UpstreamUnavailable(_) => "UPSTREAM_UNAVAILABLE",
            AppError::UpstreamNotConfigured(_) => "UPSTREAM_NOT_CONFIGURED",
        }
    }

    /// The HTTP status a REST endpoint answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated(_) | AppError::TokenReplayed | AppError::AccountNotFound => {
                StatusCode::UNAUTHORIZED
            }
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadUserInput(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::SsoNotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::QueryTooComplex(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::MissionMemberNotLinked => StatusCode::FORBIDDEN,
            AppError::UpstreamUnavailable(_) => StatusCode::BAD_GATEWAY,
            AppError::UpstreamNotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Shorthand for [`AppError::Unauthenticated`] with the generic message.
    pub fn unauthenticated() -> Self {
        AppError::Unauthenticated("Authentication required".into())
    }

    /// Shorthand for a bad-input error.
    pub fn bad_input(message: impl Into<String>) -> Self {
        AppError::BadUserInput(message.into())
    }

    /// Logs an internal cause and returns the generic internal error.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let cause = cause.to_string();
        tracing::error!(error = %cause, "internal error");
        AppError::Internal(cause)
    }

    /// The JSON body REST endpoints answer with.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code(), "message": self.message()}})
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        AppError::internal(format!("database: {err}"))
    }
}

impl<E: Into<AppError> + std::fmt::Debug + std::error::Error> From<sea_orm::TransactionError<E>>
    for AppError
{
    fn from(err: sea_orm::TransactionError<E>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(inner) => inner.into(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            AppError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(secs) = retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Result alias used by services and handlers.
pub type AppResult<T> = Result<T, AppError>;
