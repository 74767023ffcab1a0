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
    /// The per-IP limiter on wrong integration keys: its own buckets, so that failed
    /// sign-ins from an address never refuse a product's right key, and the other way round.
    pub key_limiter: RateLimiter,
    /// Open WebSocket connections (counted from the upgrade request on), for metrics and
    /// `WS_MAX_CONNECTIONS`.
    pub ws_connections: std::sync::atomic::AtomicI64,
    /// Open WebSocket connections per client address and per principal.
    pub ws_counts: graphql::ws::ConnectionCounts,
    /// The way to Mission (its HTTP client and circuit breaker), one per process.
    pub mission: crate::services::portal::mission::Proxy,
    /// The last round of `integrationHealth`'s reachability probes.
    pub health_probes: crate::services::shared::health::ProbeCache,
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
        let key_limiter = RateLimiter::new(settings.auth_rate_burst, settings.auth_rate_per_minute);
        let mission = crate::services::portal::mission::Proxy::from_settings(&settings);
        let domain = Domain::new(settings, db, stats, Arc::new(LocalHub::default()));
        AppState(Arc::new(Inner {
            domain,
            schema,
            integration_schema,
            limiter,
            key_limiter,
            ws_connections: std::sync::atomic::AtomicI64::new(0),
            ws_counts: graphql::ws::ConnectionCounts::default(),
            mission,
            health_probes: Default::default(),
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
    let limits = ConnLimits::of(&state.settings);
    if let Some(addr) = state.settings.metrics_addr {
        match TcpListener::bind(addr).await {
            Ok(metrics) => {
                let app = http::metrics::router(state.clone());
                let limits = limits.clone();
                tokio::spawn(async move {
                    let forever = std::future::pending::<()>();
                    if let Err(err) = serve_http(metrics, app, limits, forever).await {
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
    let served = serve_http(listener, app, limits, shutdown).await;
    dispatcher.stop().await;
    served
}

/// What one listener allows its connections.
#[derive(Debug, Clone)]
struct ConnLimits {
    /// `HTTP_HEADER_TIMEOUT`.
    header_timeout: Duration,
    /// `HTTP_WRITE_TIMEOUT`.
    write_timeout: Duration,
    /// `HTTP_MAX_CONNECTIONS`.
    max_connections: usize,
    /// `HTTP_MAX_CONNECTIONS_PER_IP`.
    max_per_peer: usize,
    /// `TRUSTED_PROXIES`: peers not limited per address.
    trusted_proxies: Arc<[crate::config::IpNetwork]>,
}

impl ConnLimits {
    fn of(settings: &Settings) -> Self {
        ConnLimits {
            header_timeout: settings.http_header_timeout,
            write_timeout: settings.http_write_timeout,
            max_connections: settings.http_max_connections,
            max_per_peer: settings.http_max_connections_per_ip,
            trusted_proxies: settings.trusted_proxies.clone().into(),
        }
    }
}

/// Open connections per peer address (IPv6 by /64), with no entry for an address at zero.
#[derive(Default)]
struct PeerCounts(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One connection's place among its peer's; dropping it gives the place back.
struct PeerPlace {
    counts: Arc<PeerCounts>,
    key: std::net::IpAddr,
}

impl PeerCounts {
    /// A place for one more connection of `key`, unless it has `cap` open.
    fn take(counts: &Arc<PeerCounts>, key: std::net::IpAddr, cap: usize) -> Option<PeerPlace> {
        let mut map = counts
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let open = map.entry(key).or_insert(0);
        if *open >= cap {
            return None;
        }
        *open += 1;
        Some(PeerPlace {
            counts: counts.clone(),
            key,
        })
    }
}

impl Drop for PeerPlace {
    fn drop(&mut self) {
        let mut map = self
            .counts
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(open) = map.get_mut(&self.key) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Serves `app` over HTTP/1.1 on `listener` until `shutdown` resolves, then lets open
/// requests finish. Each connection has `header_timeout` to send each request's headers
/// (which also closes a keep-alive connection idle that long) and is closed when its client
/// takes longer than `write_timeout` to take any more of what the server writes (a response
/// or, once upgraded, a WebSocket's frames). At most `max_connections` are open: past it
/// the loop stops accepting, so the next clients wait in the listen backlog rather than
/// cost the process a file descriptor and a task each; and at most `max_per_peer` from one
/// peer address (IPv6 by /64; a trusted proxy's own address is not limited), past which a new
/// connection is closed at once, so that one client cannot take every place. Upgrades
/// (WebSockets) are handed to
/// their handlers as usual. Handlers see the peer as `ConnectInfo<SocketAddr>`.
/// (`axum::serve` offers none of these limits, hence this loop.)
async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use tower::{Service, ServiceExt};
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let peers = Arc::new(PeerCounts::default());
    let (header_timeout, write_timeout) = (limits.header_timeout, limits.write_timeout);
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    // `true` once shutting down; each connection holds an `open` receiver until it ends.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_closed) => break,
            },
            () = &mut shutdown => break,
        };
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
        let peer_place = if limits.trusted_proxies.iter().any(|p| p.contains(peer.ip())) {
            None
        } else {
            let key = crate::auth::rate_limit::bucket_key(peer.ip());
            match PeerCounts::take(&peers, key, limits.max_per_peer) {
                Some(place) => Some(place),
                None => {
                    tracing::debug!(%key, "connection refused: HTTP_MAX_CONNECTIONS_PER_IP reached");
                    continue;
                }
            }
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
            // The connection's place goes with its IO, so that an upgraded connection (a
            // WebSocket, which outlives this task) keeps holding it.
            let stream = StallGuard::new(stream, write_timeout, (slot, peer_place));
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

/// A connection that fails its writes once the client has taken nothing for `timeout`: a
/// client that stops reading (a "slow read") would otherwise hold its connection, its task
/// and the response's buffers for as long as it likes.
struct StallGuard<S> {
    inner: S,
    timeout: Duration,
    /// The connection's places under `HTTP_MAX_CONNECTIONS` and
    /// `HTTP_MAX_CONNECTIONS_PER_IP`, given back when the IO is dropped (after the request's
    /// connection, or the WebSocket it became, ends).
    _places: (tokio::sync::OwnedSemaphorePermit, Option<PeerPlace>),
    /// Running while writes wait for the client; reset by every write that goes through.
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallGuard<S> {
    fn new(
        inner: S,
        timeout: Duration,
        places: (tokio::sync::OwnedSemaphorePermit, Option<PeerPlace>),
    ) -> Self {
        StallGuard {
            inner,
            timeout,
            _places: places,
            stalled: None,
        }
    }

    /// Passes on a write's outcome; while it is pending, fails it once the wait has lasted
    /// `timeout`.
    fn guard<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        outcome: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        use std::task::Poll;
        if outcome.is_ready() {
            self.stalled = None;
            return outcome;
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client took nothing for HTTP_WRITE_TIMEOUT",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for StallGuard<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let outcome = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let outcome = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let outcome = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, outcome)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let outcome = std::pin::Pin::new(&mut self.inner).poll_shutdown(cx);
        self.guard(cx, outcome)
    }
}
