//! What a resolver takes from the request's context: the application state, the request's
//! DataLoaders and the caller's address. The principal comes from `guard::principal`.

use std::net::IpAddr;

use async_graphql::{Context, Result};

use crate::{app::AppState, auth::RequestMeta, error::AppError, graphql::loaders::Loaders};

/// The application state of the request.
pub fn state<'a>(ctx: &Context<'a>) -> Result<&'a AppState> {
    ctx.data::<AppState>()
        .map_err(|_| AppError::internal("state missing from request").into())
}

/// The request's DataLoaders.
pub fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders> {
    ctx.data::<Loaders>()
        .map_err(|_| AppError::internal("loaders missing from request").into())
}

/// The caller's address, when known: the key of the per-IP rate limiter.
pub fn ip(ctx: &Context<'_>) -> Option<IpAddr> {
    ctx.data_opt::<RequestMeta>().and_then(|m| m.ip)
}
