//! [`AppError`] as a GraphQL error: its message, with `extensions.code` and, where they
//! apply, `extensions.permission` and `extensions.retryAfter`.

use crate::error::AppError;

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        use async_graphql::ErrorExtensions;
        let code = err.code();
        async_graphql::Error::new(err.message()).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            match &err {
                AppError::Forbidden {
                    permission: Some(permission),
                } => ext.set("permission", *permission),
                AppError::RateLimited { retry_after_secs } => {
                    ext.set("retryAfter", *retry_after_secs)
                }
                _ => {}
            }
        })
    }
}
