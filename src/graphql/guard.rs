//! Field guards: every guarded field is nullable, and a refusal is `null` plus an error with
//! `extensions.code` (`UNAUTHENTICATED` or `FORBIDDEN` with `extensions.permission`). What
//! each [`Need`] requires is decided in `auth::need`, shared with the REST handlers.

use std::sync::Arc;

use async_graphql::{Context, Guard};

pub use crate::auth::need::Need;
use crate::{
    auth::{Principal, RequestMeta},
    error::AppError,
};

/// The request's principal, or `UNAUTHENTICATED`.
pub fn principal(ctx: &Context<'_>) -> Result<Arc<Principal>, AppError> {
    ctx.data_opt::<RequestMeta>()
        .and_then(|meta| meta.principal.clone())
        .ok_or_else(AppError::unauthenticated)
}

impl Guard for Need {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let principal = principal(ctx)?;
        self.check_principal(&principal).map_err(Into::into)
    }
}
