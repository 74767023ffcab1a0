//! REST endpoints besides `/graphql`: sign-on, logout, the integration endpoints, Hub's
//! global search, health, metrics.

pub mod auth;
pub mod health;
pub mod integration;
pub mod internal;
pub mod metrics;
pub mod reports;
pub mod search;

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
        .route("/api/search", get(search::search))
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

/// A request body with a deadline: once it passes, the next read fails and `expired` is
/// set, so [`body_deadline`] can answer `408` whatever the handler made of the failed read.
struct DeadlineBody {
    body: axum::body::Body,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    expired: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::{future::Future, task::Poll};
        let this = &mut *self;
        if let Poll::Ready(frame) = std::pin::Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired
                .store(true, std::sync::atomic::Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(
                "the request body was not received in time",
            ))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Middleware giving a request's body `HTTP_BODY_TIMEOUT` from the moment its headers are
/// in: a client that stalls while sending it gets `408` and its connection closed, instead
/// of holding the connection as long as it likes. Requests without a body (a WebSocket
/// upgrade included) pass untouched, so upgraded connections are never cut by it.
pub async fn body_deadline(
    axum::extract::State(timeout): axum::extract::State<std::time::Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if http_body::Body::is_end_stream(request.body()) {
        return next.run(request).await;
    }
    let expired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let request = request.map(|body| {
        axum::body::Body::new(DeadlineBody {
            body,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            expired: expired.clone(),
        })
    });
    let response = next.run(request).await;
    if !expired.load(std::sync::atomic::Ordering::Acquire) {
        return response;
    }
    tracing::info!("request body not received in time; connection closed");
    let body = crate::error::ErrorCode::BadUserInput
        .rest_body("The request body was not received in time");
    let mut response = (axum::http::StatusCode::REQUEST_TIMEOUT, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
