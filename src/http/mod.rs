//! REST endpoints besides `/graphql`: sign-on, logout, the integration endpoints, health,
//! metrics.

pub mod auth;
pub mod health;
pub mod integration;
pub mod internal;
pub mod metrics;
pub mod reports;

use axum::{
    Router,
    http::{HeaderName, HeaderValue, Method, header},
    routing::{get, post},
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};

use crate::{app::AppState, config::Settings};

/// The REST routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/auth/client-hub-sso",
            get(auth::sso_redirect).post(auth::sso_exchange),
        )
        .route("/api/auth/logout", post(auth::logout))
        .route("/internal/psa/contacts", post(internal::psa_contacts))
        .route("/internal/signing/push", post(internal::signing_push))
        .route("/api/reports/visits.csv", get(reports::visits_csv))
        .route(
            "/api/integration/visitors-today",
            get(integration::visitors_today),
        )
        .route("/api/integration/locations", get(integration::locations))
        .route("/api/integration/webhook", post(integration::webhook))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(state)
}

/// CORS for `CORS_ORIGINS` (bearer-token callers from other origins), on every route,
/// `/graphql` included.
pub fn cors(settings: &Settings) -> CorsLayer {
    let origins: Vec<HeaderValue> = settings
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("x-integration-key"),
            HeaderName::from_static("x-tenant-id"),
        ])
}

/// Layers applied to every route (REST and GraphQL).
pub fn common_layers(router: Router) -> Router {
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                // The path only: query strings may carry SSO tokens.
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
}
