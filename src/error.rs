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

/// The stable `extensions.code` (GraphQL) and `error.code` (REST) values of CONTRACT section
/// 3. Every code onegraph sends is one of these; no other place spells one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No principal, or credentials that do not hold.
    Unauthenticated,
    /// The principal lacks a permission.
    Forbidden,
    /// The object does not exist or belongs to another tenant.
    NotFound,
    /// The input (or the request itself: syntax, validation, a batch) is invalid.
    BadUserInput,
    /// The change conflicts with the current state.
    Conflict,
    /// An SSO token's `jti` was already used.
    TokenReplayed,
    /// A Hub-signed token names no account onegraph knows.
    AccountNotFound,
    /// Hub sign-on is not configured.
    SsoNotConfigured,
    /// The client user has no Mission member id.
    MissionMemberNotLinked,
    /// Another product is down, slow or answered badly.
    UpstreamUnavailable,
    /// Another product's settings are missing.
    UpstreamNotConfigured,
    /// Too many attempts or connections.
    RateLimited,
    /// Depth, complexity, aliases, size or the response budget over the limits.
    QueryTooComplex,
    /// A persisted-query hash onegraph does not know.
    PersistedQueryNotFound,
    /// An operation outside the safelist.
    PersistedQueryNotInList,
    /// Introspection is turned off.
    IntrospectionDisabled,
    /// Something failed inside onegraph.
    Internal,
}

impl ErrorCode {
    /// Every code, in CONTRACT order.
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::BadUserInput,
        ErrorCode::Conflict,
        ErrorCode::TokenReplayed,
        ErrorCode::AccountNotFound,
        ErrorCode::SsoNotConfigured,
        ErrorCode::MissionMemberNotLinked,
        ErrorCode::UpstreamUnavailable,
        ErrorCode::UpstreamNotConfigured,
        ErrorCode::RateLimited,
        ErrorCode::QueryTooComplex,
        ErrorCode::PersistedQueryNotFound,
        ErrorCode::PersistedQueryNotInList,
        ErrorCode::IntrospectionDisabled,
        ErrorCode::Internal,
    ];

    /// The code as clients see it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::TokenReplayed => "TOKEN_REPLAYED",
            ErrorCode::AccountNotFound => "ACCOUNT_NOT_FOUND",
            ErrorCode::SsoNotConfigured => "SSO_NOT_CONFIGURED",
            ErrorCode::MissionMemberNotLinked => "MISSION_MEMBER_NOT_LINKED",
            ErrorCode::UpstreamUnavailable => "UPSTREAM_UNAVAILABLE",
            ErrorCode::UpstreamNotConfigured => "UPSTREAM_NOT_CONFIGURED",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::QueryTooComplex => "QUERY_TOO_COMPLEX",
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ErrorCode::PersistedQueryNotInList => "PERSISTED_QUERY_NOT_IN_LIST",
            ErrorCode::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// A REST error body: `{"error": {"code", "message"}}`.
    pub fn rest_body(self, message: &str) -> serde_json::Value {
        json!({"error": {"code": self.as_str(), "message": message}})
    }

    /// A GraphQL request error body (no execution): `{"errors": [{"message", "extensions":
    /// {"code"}}]}`.
    pub fn graphql_body(self, message: &str) -> serde_json::Value {
        json!({"errors": [{"message": message, "extensions": {"code": self.as_str()}}]})
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            AppError::Forbidden { .. } => ErrorCode::Forbidden,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::BadUserInput(_) => ErrorCode::BadUserInput,
            AppError::Conflict(_) => ErrorCode::Conflict,
            AppError::TokenReplayed => ErrorCode::TokenReplayed,
            AppError::AccountNotFound => ErrorCode::AccountNotFound,
            AppError::SsoNotConfigured => ErrorCode::SsoNotConfigured,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::QueryTooComplex(_) => ErrorCode::QueryTooComplex,
            AppError::Internal(_) => ErrorCode::Internal,
            AppError::MissionMemberNotLinked => ErrorCode::MissionMemberNotLinked,
            AppError::UpstreamUnavailable(_) => ErrorCode::UpstreamUnavailable,
            AppError::UpstreamNotConfigured(_) => ErrorCode::UpstreamNotConfigured,
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
        self.code().rest_body(&self.message())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_spelled_once_in_screaming_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{text}"
            );
        }
        assert_eq!(
            ErrorCode::RateLimited.rest_body("m"),
            json!({"error": {"code": "RATE_LIMITED", "message": "m"}})
        );
    }
}
