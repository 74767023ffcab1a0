//! Application state, router assembly and graceful shutdown.

use std::{ops::Deref, sync::Arc};

use axum::Router;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::{
    auth::rate_limit::RateLimiter,
    config::Settings,
    db::DbStats,
    domain::Domain,
    events::LocalHub,
    graphql::{self, AppSchema},
    http,
};

/// Everything a request handler needs; cheap to clone. Dereferences to [`Inner`] and from
/// there to the [`Domain`] the services take.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The shared parts of [`AppState`].
pub struct Inner {
    /// The services' context: database, settings, event hub, clock.
    pub domain: Domain,
    /// The GraphQL schema.
    pub schema: AppSchema,
    /// The per-IP limiter on brute-force surfaces.
    pub limiter: RateLimiter,
    /// Open WebSocket connections (counted from the upgrade request on), for metrics and
    /// `WS_MAX_CONNECTIONS`.
    pub ws_connections: std::sync::atomic::AtomicI64,
    /// Open WebSocket connections per client address and per principal.
    pub ws_counts: graphql::ws::ConnectionCounts,
    /// The way to Mission (its HTTP client and circuit breaker), one per process.
    pub mission: crate::services::portal::mission::Proxy,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Deref for Inner {
    type Target = Domain;
    fn deref(&self) -> &Domain {
        &self.domain
    }
}

impl AppState {
    /// Builds the state around an open, migrated database.
    pub fn new(settings: Settings, db: DatabaseConnection, stats: Arc<DbStats>) -> Self {
        crate::upstream::install_crypto_provider();
        let schema = graphql::build_schema(&settings);
        let limiter = RateLimiter::new(settings.auth_rate_burst, settings.auth_rate_per_minute);
        let mission = crate::services::portal::mission::Proxy::from_settings(&settings);
        let domain = Domain::new(settings, db, stats, Arc::new(LocalHub::default()));
        AppState(Arc::new(Inner {
            domain,
            schema,
            limiter,
            ws_connections: std::sync::atomic::AtomicI64::new(0),
            ws_counts: graphql::ws::ConnectionCounts::default(),
            mission,
        }))
    }
}

/// The public router: `/graphql`, `/api/…`, health.
pub fn router(state: AppState) -> Router {
    let cors = http::cors(&state.settings);
    http::common_layers(http::router(state.clone()).merge(graphql::router(state))).layer(cors)
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Some(addr) = state.settings.metrics_addr {
        match TcpListener::bind(addr).await {
            Ok(metrics) => {
                let app = http::metrics::router(state.clone());
                tokio::spawn(async move {
                    if let Err(err) = axum::serve(metrics, app).await {
                        tracing::error!(%err, "metrics listener stopped");
                    }
                });
                tracing::info!(%addr, "metrics on /metrics");
            }
            Err(err) => tracing::warn!(%addr, %err, "metrics listener not started"),
        }
    }
    crate::services::shared::housekeeping::spawn(state.db.clone());
    crate::jobs::scheduler::spawn(state.domain.clone());
    let dispatcher = crate::events::dispatcher::spawn(&state.settings, &state.db);
    let app = router(state);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    dispatcher.stop().await;
    served
}
