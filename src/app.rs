//! Application state, router assembly and graceful shutdown.

use std::{future::Future, net::SocketAddr, ops::Deref, sync::Arc, time::Duration};

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
    /// The same schema for INTEGRATION principals, with the directive that refuses what
    /// they may not read (`graphql::integration`).
    pub integration_schema: AppSchema,
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
        let integration_schema = graphql::build_integration_schema(&settings);
        let limiter = RateLimiter::new(settings.auth_rate_burst, settings.auth_rate_per_minute);
        let mission = crate::services::portal::mission::Proxy::from_settings(&settings);
        let domain = Domain::new(settings, db, stats, Arc::new(LocalHub::default()));
        AppState(Arc::new(Inner {
            domain,
            schema,
            integration_schema,
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
    let body_timeout = state.settings.http_body_timeout;
    http::common_layers(http::router(state.clone()).merge(graphql::router(state)))
        .layer(cors)
        .layer(axum::middleware::from_fn_with_state(
            body_timeout,
            http::body_deadline,
        ))
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = state.settings.http_header_timeout;
    if let Some(addr) = state.settings.metrics_addr {
        match TcpListener::bind(addr).await {
            Ok(metrics) => {
                let app = http::metrics::router(state.clone());
                tokio::spawn(async move {
                    let forever = std::future::pending::<()>();
                    if let Err(err) = serve_http(metrics, app, header_timeout, forever).await {
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
    let served = serve_http(listener, app, header_timeout, shutdown).await;
    dispatcher.stop().await;
    served
}

/// Serves `app` over HTTP/1.1 on `listener` until `shutdown` resolves, then lets open
/// requests finish. Each connection has `header_timeout` to send each request's headers
/// (which also closes a keep-alive connection idle that long); upgrades (WebSockets) are
/// handed to their handlers as usual. Handlers see the peer as `ConnectInfo<SocketAddr>`.
/// (`axum::serve` offers no header timeout, hence this loop.)
async fn serve_http(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use tower::{Service, ServiceExt};
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    // `true` once shutting down; each connection holds an `open` receiver until it ends.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = match ServiceExt::<SocketAddr>::ready(&mut make).await {
            Ok(ready) => match ready.call(peer).await {
                Ok(service) => service,
                Err(never) => match never {},
            },
            Err(never) => match never {},
        };
        let service = hyper_util::service::TowerToHyperService::new(service.map_request(
            |request: axum::http::Request<hyper::body::Incoming>| {
                request.map(axum::body::Body::new)
            },
        ));
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let _open = open;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            let mut stopping = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(err) = result {
                            tracing::debug!(%err, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stop.wait_for(|stop| *stop), if !stopping => {
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

/// After a failed `accept`: a connection that failed before it was accepted is nothing to
/// wait for; anything else (out of file descriptors) is logged and retried a second later.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "accepting a connection failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
