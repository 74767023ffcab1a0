//! The `graphql-transport-ws` protocol on `/graphql`, written by hand on
//! [`async_graphql::Schema::execute_stream`].
//!
//! The stock async-graphql handler closes with the wrong codes, has no `connection_init`
//! timeout and silently replaces duplicate operation ids; this one follows
//! <https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>:
//!
//! | close code | when |
//! |---|---|
//! | 4400 | a message that is not JSON or not a valid protocol message; a binary frame |
//! | 4401 | `subscribe` before `connection_ack` |
//! | 4403 | no or bad credentials in `connection_init`; the credential is revoked (logout, `revokeKiosk`, PSA changing a client user's role, company or access) or expires |
//! | 4403 | a `subscribe` after the credential was revoked (re-checked in the database) |
//! | 4406 | the client did not offer the `graphql-transport-ws` subprotocol |
//! | 4408 | no `connection_init` within `WS_INIT_TIMEOUT` |
//! | 4409 | `subscribe` with the id of a live operation |
//! | 4429 | a second `connection_init` |
//! | 4429 | `connection_init` whose principal (known only from its bearer token) has `WS_MAX_CONNECTIONS_PER_PRINCIPAL` connections open already; the reason starts with `RATE_LIMITED` |
//! | 4500 | an internal error while authenticating |
//!
//! Some `subscribe` messages are answered with an `error` for their operation, and the
//! connection stays open:
//!
//! | error code | when |
//! |---|---|
//! | `BAD_USER_INPUT` | an id longer than 128 bytes (a `complete` with such an id is ignored: no operation can have it) |
//! | `QUERY_TOO_COMPLEX` | a `query` (with `operationName`) longer than `WS_MAX_DOCUMENT_BYTES`, or `variables` (with `extensions`, serialised as JSON) longer than `WS_MAX_VARIABLES_BYTES` |
//! | `RATE_LIMITED` | `WS_MAX_OPERATIONS` operations are live already on the connection, or `WS_MAX_OPERATIONS_PER_PRINCIPAL` across the principal's connections |
//!
//! The upgrade itself is refused with HTTP 429 `RATE_LIMITED` and `Retry-After` (see
//! [`reserve`]) when `WS_MAX_CONNECTIONS` connections are open, or
//! `WS_MAX_CONNECTIONS_PER_IP` from the client's address (behind `TRUSTED_PROXIES`, IPv6 by
//! /64, as the rate limiter sees it), or `WS_MAX_PENDING_PER_IP` from that address (or
//! `WS_MAX_PENDING` across the server) that have not authenticated yet (by cookie or
//! `connection_init`), or
//! `WS_MAX_CONNECTIONS_PER_PRINCIPAL` of the principal its session cookie authenticates. A
//! connection counts from the upgrade on, whether or not it sends `connection_init`, until
//! it ends by any path: [`Slots`] gives its places back
//! when dropped. The counts are touched at the upgrade, at `connection_init` and at the end,
//! never per message; an address or principal with no open connection has no entry.
//!
//! Every operation of a connection is driven from the connection's one task: the operation
//! streams sit in a [`SelectAll`], each made abortable so that a client `complete` drops it,
//! and tagged with its id and a per-connection sequence number so that a stale end of an
//! aborted operation is never mistaken for the end of a later one reusing its id. Past
//! `WS_MAX_OPERATIONS` live operations a `subscribe` gets an `error` with code `RATE_LIMITED`
//! and the connection stays open.

use std::{
    borrow::Cow,
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_graphql::{Value as GqlValue, Variables};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use futures_util::{
    future,
    stream::{self, AbortHandle, BoxStream, SelectAll, StreamExt},
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::{
    sync::broadcast::{self, error::RecvError},
    time::{Instant, MissedTickBehavior},
};

use crate::{
    app::AppState,
    auth::{Principal, RequestMeta},
    error::{AppError, ErrorCode},
};

/// The only subprotocol this endpoint speaks.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// Read buffer, allocated up front for every connection: small, so that idle connections
/// stay cheap. Client messages are mostly a few hundred bytes; a larger one makes the buffer
/// grow to its size (one reservation per frame).
const READ_BUFFER_SIZE: usize = 1024;
/// Write batching threshold (not an allocation: the write buffer grows as messages need).
const WRITE_BUFFER_SIZE: usize = 4 * 1024;
/// Bound on the write buffer; a single server message larger than this fails the connection.
const MAX_WRITE_BUFFER_SIZE: usize = 16 * 1024 * 1024;
/// Largest message and frame a client may send.
const MAX_MESSAGE_SIZE: usize = 1024 * 1024;
/// How often the server sends a WebSocket ping; a client silent for a whole period after a
/// ping is considered gone.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long one send may wait on a client that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the closing handshake may take before the connection is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest close reason a close frame can carry (125 bytes of payload minus the code).
const MAX_CLOSE_REASON: usize = 123;
/// Longest operation id a `subscribe` may use.
const MAX_OPERATION_ID: usize = 128;

/// The close codes of the protocol.
mod code {
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const SUBSCRIBER_EXISTS: u16 = 4409;
    pub const TOO_MANY_INIT: u16 = 4429;
    pub const RATE_LIMITED: u16 = 4429;
    pub const INTERNAL: u16 = 4500;
}

/// Open WebSocket connections per client address and per principal, for the caps of
/// [`reserve`]. Each map holds only keys with at least one open connection, so neither
/// outgrows the number of open connections (itself capped by `WS_MAX_CONNECTIONS`).
#[derive(Default)]
pub struct ConnectionCounts {
    by_address: Counts<IpAddr>,
    /// Connections per address that have not authenticated yet.
    pending_by_address: Counts<IpAddr>,
    /// Connections across the server that have not authenticated yet.
    pending: AtomicUsize,
    /// Live operations per principal, across its connections.
    operations_by_principal: Counts<PrincipalKey>,
    by_principal: Counts<PrincipalKey>,
}

/// Which cap refused an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `WS_MAX_CONNECTIONS`.
    Server,
    /// `WS_MAX_CONNECTIONS_PER_IP`.
    Address,
    /// `WS_MAX_PENDING_PER_IP`.
    Pending,
    /// `WS_MAX_PENDING`.
    PendingServer,
    /// `WS_MAX_CONNECTIONS_PER_PRINCIPAL`.
    Principal,
}

impl Refusal {
    /// The message of the HTTP 429 answer.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Server => "Too many open connections",
            Refusal::Address => "Too many open connections from this address",
            Refusal::Pending => {
                "Too many connections from this address that have not authenticated"
            }
            Refusal::PendingServer => "Too many connections that have not authenticated",
            Refusal::Principal => "Too many open connections for this account",
        }
    }
}

/// A principal as the per-principal cap counts it: one user or kiosk of one tenant, across
/// its sessions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PrincipalKey(Box<str>);

impl PrincipalKey {
    fn of(principal: &Principal) -> Self {
        PrincipalKey(format!("{}\n{}", principal.tenant_id, principal.actor()).into())
    }
}

/// Open connections per key, with no entry for a key at zero.
struct Counts<K>(Mutex<HashMap<K, usize>>);

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash> Counts<K> {
    fn lock(&self) -> MutexGuard<'_, HashMap<K, usize>> {
        // The map is consistent after every statement; a panic elsewhere cannot break it.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one more connection of `key`, unless it has `cap` already.
    fn acquire(&self, key: K, cap: usize) -> bool {
        let mut map = self.lock();
        match map.get_mut(&key) {
            Some(count) if *count >= cap => false,
            Some(count) => {
                *count += 1;
                true
            }
            None if cap == 0 => false,
            None => {
                map.insert(key, 1);
                true
            }
        }
    }

    /// Counts one connection of `key` less, removing the key at zero.
    fn release(&self, key: &K) {
        let mut map = self.lock();
        if let Some(count) = map.get_mut(key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(key);
            }
        }
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.lock().len()
    }
}

/// One connection's places in `ws_connections` and [`ConnectionCounts`], from the upgrade
/// request on; dropping it (however the connection or the upgrade ends) gives them back.
pub struct Slots {
    state: AppState,
    /// The address's key, as the rate limiter forms it; `None` without connection info.
    address: Option<IpAddr>,
    /// The same key while the connection has not authenticated.
    pending: Option<IpAddr>,
    /// Whether the connection holds a place under `WS_MAX_PENDING`.
    pending_server: bool,
    /// The principal counted for this connection, once known.
    principal: Option<PrincipalKey>,
}

/// Takes a place for a new connection from `ip` under `WS_MAX_CONNECTIONS`,
/// `WS_MAX_CONNECTIONS_PER_IP` and `WS_MAX_PENDING_PER_IP` (given back by
/// [`Slots::set_principal`]), or says which cap is reached.
pub fn reserve(state: &AppState, ip: Option<IpAddr>) -> Result<Slots, Refusal> {
    let cap = i64::try_from(state.settings.ws_max_connections).unwrap_or(i64::MAX);
    let open = state.ws_connections.fetch_add(1, Ordering::Relaxed);
    let mut slots = Slots {
        state: state.clone(),
        address: None,
        pending: None,
        pending_server: false,
        principal: None,
    };
    if open >= cap {
        tracing::warn!(
            open,
            cap,
            "WebSocket upgrade refused: WS_MAX_CONNECTIONS reached"
        );
        return Err(Refusal::Server);
    }
    let pending = state.ws_counts.pending.fetch_add(1, Ordering::Relaxed);
    slots.pending_server = true;
    if pending >= state.settings.ws_max_pending {
        tracing::warn!(pending, "WebSocket upgrade refused: WS_MAX_PENDING reached");
        return Err(Refusal::PendingServer);
    }
    if let Some(ip) = ip {
        let key = crate::auth::rate_limit::bucket_key(ip);
        if !state
            .ws_counts
            .by_address
            .acquire(key, state.settings.ws_max_connections_per_ip)
        {
            tracing::debug!(%key, "WebSocket upgrade refused: WS_MAX_CONNECTIONS_PER_IP reached");
            return Err(Refusal::Address);
        }
        slots.address = Some(key);
        if !state
            .ws_counts
            .pending_by_address
            .acquire(key, state.settings.ws_max_pending_per_ip)
        {
            tracing::debug!(%key, "WebSocket upgrade refused: WS_MAX_PENDING_PER_IP reached");
            return Err(Refusal::Pending);
        }
        slots.pending = Some(key);
    }
    Ok(slots)
}

impl Slots {
    /// Counts the connection for `principal` (and no longer for the one before, if another,
    /// nor as not authenticated), unless `principal` has `WS_MAX_CONNECTIONS_PER_PRINCIPAL`
    /// connections open already.
    pub fn set_principal(&mut self, principal: &Principal) -> Result<(), Refusal> {
        let key = PrincipalKey::of(principal);
        if self.principal.as_ref() == Some(&key) {
            return Ok(());
        }
        let counts = &self.state.ws_counts.by_principal;
        if !counts.acquire(
            key.clone(),
            self.state.settings.ws_max_connections_per_principal,
        ) {
            tracing::debug!("WebSocket refused: WS_MAX_CONNECTIONS_PER_PRINCIPAL reached");
            return Err(Refusal::Principal);
        }
        if let Some(old) = self.principal.replace(key) {
            counts.release(&old);
        }
        self.leave_pending();
        Ok(())
    }
}

impl Slots {
    /// Gives back the places of a connection that has not authenticated, once.
    fn leave_pending(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.state.ws_counts.pending_by_address.release(&pending);
        }
        if std::mem::take(&mut self.pending_server) {
            self.state.ws_counts.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        self.leave_pending();
        self.state.ws_connections.fetch_sub(1, Ordering::Relaxed);
        if let Some(address) = &self.address {
            self.state.ws_counts.by_address.release(address);
        }
        if let Some(principal) = &self.principal {
            self.state.ws_counts.by_principal.release(principal);
        }
    }
}

/// Completes the upgrade of a connection holding `slots` (from [`reserve`], and counted for
/// the cookie's principal when there is one); `cookie_principal` is Some only when the
/// request carried a valid session cookie AND an allowed Origin (the caller checks that).
///
/// A bearer token in the `connection_init` payload (`Authorization: Bearer …`) takes
/// precedence over the cookie; a connection with neither is closed with 4403.
pub fn upgrade(
    ws: WebSocketUpgrade,
    state: AppState,
    slots: Slots,
    cookie_principal: Option<Arc<Principal>>,
    meta: RequestMeta,
) -> axum::response::Response {
    let ws = ws
        .protocols([PROTOCOL])
        .read_buffer_size(READ_BUFFER_SIZE)
        .write_buffer_size(WRITE_BUFFER_SIZE)
        .max_write_buffer_size(MAX_WRITE_BUFFER_SIZE)
        .max_message_size(MAX_MESSAGE_SIZE)
        .max_frame_size(MAX_MESSAGE_SIZE);
    let accepted = ws.selected_protocol().is_some();
    // `slots` moves into the callback: dropped with it if the upgrade fails, or when the
    // connection ends.
    ws.on_upgrade(move |mut socket| async move {
        if !accepted {
            close(
                &mut socket,
                code::SUBPROTOCOL_NOT_ACCEPTABLE,
                "Subprotocol not acceptable",
            )
            .await;
            finish(&mut socket).await;
            return;
        }
        Connection::new(state, socket, slots, cookie_principal, meta)
            .run()
            .await;
    })
}

/// What the connection does after handling an event.
enum Flow {
    /// Keep going.
    Continue,
    /// Send a close frame with this code and reason, then end.
    Close(u16, Cow<'static, str>),
    /// End without a close frame (the client is gone or closed first).
    End,
}

impl Flow {
    fn close(code: u16, reason: &'static str) -> Self {
        Flow::Close(code, Cow::Borrowed(reason))
    }

    fn forbidden() -> Self {
        Flow::close(code::FORBIDDEN, "Forbidden")
    }
}

/// One response of an operation (`Some`), or its end (`None`), tagged with the operation's id
/// and sequence number.
type OperationItem = (Arc<str>, u64, Option<async_graphql::Response>);

/// A live operation.
struct Operation {
    /// Distinguishes this operation from earlier ones that used the same id.
    seq: u64,
    /// Its place under `WS_MAX_OPERATIONS_PER_PRINCIPAL`, given back when it is dropped.
    _place: OperationPlace,
    /// Drops the stream on `complete` or after a request error.
    abort: AbortHandle,
    /// Whether a `next` was sent already.
    started: bool,
}

/// One live operation's place among its principal's, across connections; dropping it (the
/// operation completed, failed, was stopped or its connection ended) gives it back.
struct OperationPlace {
    state: AppState,
    key: PrincipalKey,
}

impl OperationPlace {
    /// A place for one more operation of `principal`, unless it has
    /// `WS_MAX_OPERATIONS_PER_PRINCIPAL` live already.
    fn take(state: &AppState, principal: &Principal) -> Option<Self> {
        let key = PrincipalKey::of(principal);
        state
            .ws_counts
            .operations_by_principal
            .acquire(key.clone(), state.settings.ws_max_operations_per_principal)
            .then(|| OperationPlace {
                state: state.clone(),
                key,
            })
    }
}

impl Drop for OperationPlace {
    fn drop(&mut self) {
        self.state
            .ws_counts
            .operations_by_principal
            .release(&self.key);
    }
}

/// What woke the connection's task.
enum Event {
    Client(Option<Result<Message, axum::Error>>),
    Operation(Option<OperationItem>),
    Revocation(Result<Arc<str>, RecvError>),
    InitTimeout,
    Expired,
    KeepAlive,
}

/// The state of one connection.
struct Connection {
    state: AppState,
    socket: WebSocket,
    /// The connection's places in the connection counts.
    slots: Slots,
    /// The request's address and user agent (its principal is replaced per operation).
    meta: RequestMeta,
    /// The cookie-authenticated principal, used when `connection_init` carries no token.
    cookie_principal: Option<Arc<Principal>>,
    /// Whether `connection_init` was received.
    init_received: bool,
    /// The authenticated principal, once `connection_ack` was sent.
    principal: Option<Arc<Principal>>,
    /// When the principal's credential expires, to be armed by the task loop.
    arm_expiry: Option<Instant>,
    /// Revocations of credentials (of every tenant; low volume). Visit events never come
    /// through the connection: each subscription listens to its own tenant's channel.
    revocations: Option<broadcast::Receiver<Arc<str>>>,
    /// Live operations by id.
    operations: HashMap<Arc<str>, Operation>,
    /// Their response streams.
    streams: SelectAll<BoxStream<'static, OperationItem>>,
    /// The next operation sequence number.
    next_seq: u64,
    /// Whether any frame arrived since the last keep-alive ping.
    heard: bool,
    /// Whether a keep-alive ping was sent.
    pinged: bool,
}

impl Connection {
    fn new(
        state: AppState,
        socket: WebSocket,
        slots: Slots,
        cookie_principal: Option<Arc<Principal>>,
        meta: RequestMeta,
    ) -> Self {
        // Subscribed from the start, so that a revocation racing with `connection_init` is
        // not missed; revocations are only read once a principal is known.
        let revocations = Some(state.hub.subscribe_revocations());
        Self {
            state,
            socket,
            slots,
            meta,
            cookie_principal,
            init_received: false,
            principal: None,
            arm_expiry: None,
            revocations,
            operations: HashMap::new(),
            streams: SelectAll::new(),
            next_seq: 0,
            heard: false,
            pinged: false,
        }
    }

    async fn run(mut self) {
        let now = Instant::now();
        let init_timer = tokio::time::sleep_until(
            now.checked_add(self.state.settings.ws_init_timeout)
                .unwrap_or_else(far_future),
        );
        tokio::pin!(init_timer);
        let expiry = tokio::time::sleep_until(far_future());
        tokio::pin!(expiry);
        let mut expiry_armed = false;
        let mut keepalive = tokio::time::interval_at(now + KEEPALIVE_INTERVAL, KEEPALIVE_INTERVAL);
        keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);

        let outcome = loop {
            let event = tokio::select! {
                message = self.socket.recv() => Event::Client(message),
                item = self.streams.next(), if !self.streams.is_empty() => Event::Operation(item),
                revoked = recv_revocation(&mut self.revocations), if self.principal.is_some() => {
                    Event::Revocation(revoked)
                }
                () = &mut init_timer, if !self.init_received => Event::InitTimeout,
                () = &mut expiry, if expiry_armed => Event::Expired,
                _ = keepalive.tick() => Event::KeepAlive,
            };
            // The handlers are boxed: each event allocates its handler's state briefly
            // instead of every idle connection's task reserving room for the largest.
            let flow = match event {
                Event::Client(message) => Box::pin(self.on_client(message)).await,
                Event::Operation(Some((id, seq, response))) => {
                    Box::pin(self.on_operation(id, seq, response)).await
                }
                Event::Operation(None) => Flow::Continue,
                Event::Revocation(revoked) => self.on_revocation(revoked).await,
                Event::InitTimeout => {
                    Flow::close(code::INIT_TIMEOUT, "Connection initialisation timeout")
                }
                Event::Expired => Flow::forbidden(),
                Event::KeepAlive => self.on_keepalive().await,
            };
            if let Some(at) = self.arm_expiry.take() {
                expiry.as_mut().reset(at);
                expiry_armed = true;
            }
            match flow {
                Flow::Continue => {}
                other => break other,
            }
        };

        // Release the operations and the revocation receiver before the closing handshake.
        self.streams = SelectAll::new();
        self.operations.clear();
        self.revocations = None;
        if let Flow::Close(code, reason) = outcome {
            tracing::debug!(code, %reason, "closing graphql-transport-ws connection");
            close(&mut self.socket, code, &reason).await;
        }
        finish(&mut self.socket).await;
    }

    async fn on_client(&mut self, message: Option<Result<Message, axum::Error>>) -> Flow {
        self.heard = true;
        match message {
            None | Some(Err(_) | Ok(Message::Close(_))) => Flow::End,
            Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await,
            Some(Ok(Message::Binary(_))) => {
                Flow::close(code::BAD_REQUEST, "Binary frames are not supported")
            }
            // The WebSocket layer answers pings itself.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Flow::Continue,
        }
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        let message = match ClientMessage::parse(text) {
            Ok(message) => message,
            Err(reason) => return Flow::close(code::BAD_REQUEST, reason),
        };
        match message {
            ClientMessage::ConnectionInit(payload) => self.on_init(payload).await,
            ClientMessage::Ping(payload) => {
                let text = encode(&Outgoing {
                    id: None,
                    kind: "pong",
                    payload,
                });
                self.send_text(text).await
            }
            ClientMessage::Pong => Flow::Continue,
            ClientMessage::Subscribe { id, payload } => self.on_subscribe(id, payload).await,
            ClientMessage::Complete { id } => {
                if let Some(operation) = self.operations.remove(id.as_str()) {
                    operation.abort.abort();
                }
                Flow::Continue
            }
        }
    }

    async fn on_init(&mut self, payload: Option<Map<String, Value>>) -> Flow {
        if self.init_received {
            return Flow::close(code::TOO_MANY_INIT, "Too many initialisation requests");
        }
        self.init_received = true;
        let cookie_principal = self.cookie_principal.take();
        // Boxed: the lookup's future is large and runs once; unboxed, the connection's task
        // would reserve room for it for as long as the connection lives.
        let authenticated = Box::pin(authenticate(
            &self.state,
            payload.as_ref(),
            cookie_principal,
        ));
        let principal = match authenticated.await {
            Ok(principal) => principal,
            Err(flow) => return flow,
        };
        if self.slots.set_principal(&principal).is_err() {
            let reason = format!(
                "{}: too many open connections for this account",
                ErrorCode::RateLimited.as_str()
            );
            return Flow::Close(code::RATE_LIMITED, Cow::Owned(reason));
        }
        if let Some(expires_at) = principal.expires_at {
            match (expires_at - chrono::Utc::now()).to_std() {
                Ok(left) if !left.is_zero() => {
                    self.arm_expiry = Instant::now().checked_add(left);
                }
                _ => return Flow::forbidden(),
            }
        }
        self.principal = Some(principal);
        let text = encode(&Outgoing::<()> {
            id: None,
            kind: "connection_ack",
            payload: None,
        });
        self.send_text(text).await
    }

    async fn on_subscribe(&mut self, id: String, payload: SubscribePayload) -> Flow {
        let Some(principal) = self.principal.clone() else {
            return Flow::close(code::UNAUTHORIZED, "Unauthorized");
        };
        // A revocation event may have been missed or may still be on its way: a revoked or
        // expired credential starts nothing new.
        if let flow @ (Flow::Close(..) | Flow::End) = self.check_credential().await {
            return flow;
        }
        if id.len() > MAX_OPERATION_ID {
            let message = format!("Operation ids are at most {MAX_OPERATION_ID} bytes");
            return self.refuse(&id, ErrorCode::BadUserInput, &message).await;
        }
        if self.operations.contains_key(id.as_str()) {
            return Flow::Close(
                code::SUBSCRIBER_EXISTS,
                Cow::Owned(format!("Subscriber for {id} already exists")),
            );
        }
        let settings = &self.state.settings;
        if payload.document_len() > settings.ws_max_document_bytes {
            let message = format!(
                "The operation's document is larger than {} bytes",
                settings.ws_max_document_bytes
            );
            return self.refuse(&id, ErrorCode::QueryTooComplex, &message).await;
        }
        if payload.variables_len() > settings.ws_max_variables_bytes {
            let message = format!(
                "The operation's variables are larger than {} bytes",
                settings.ws_max_variables_bytes
            );
            return self.refuse(&id, ErrorCode::QueryTooComplex, &message).await;
        }
        if self.operations.len() >= settings.ws_max_operations {
            return self
                .refuse(
                    &id,
                    ErrorCode::RateLimited,
                    "Too many operations on this connection",
                )
                .await;
        }
        let Some(place) = OperationPlace::take(&self.state, &principal) else {
            return self
                .refuse(
                    &id,
                    ErrorCode::RateLimited,
                    "Too many live operations for this account",
                )
                .await;
        };
        let request = match payload.into_request() {
            Ok(request) => request,
            Err(reason) => return Flow::close(code::BAD_REQUEST, reason),
        };
        let mut meta = self.meta.clone();
        meta.principal = Some(principal);
        let responses = crate::graphql::execute_stream(&self.state, request, meta);

        let seq = self.next_seq;
        self.next_seq += 1;
        let id: Arc<str> = Arc::from(id);
        let (responses, abort) = stream::abortable(responses);
        let end = future::ready((id.clone(), seq, None));
        let tag = id.clone();
        let tagged = responses
            .map(move |response| (tag.clone(), seq, Some(response)))
            .chain(stream::once(end))
            .boxed();
        self.streams.push(tagged);
        self.operations.insert(
            id,
            Operation {
                seq,
                _place: place,
                abort,
                started: false,
            },
        );
        Flow::Continue
    }

    /// Answers a `subscribe` that starts nothing with an `error` for its id.
    async fn refuse(&mut self, id: &str, code: ErrorCode, message: &str) -> Flow {
        let text = encode(&json!({
            "id": id,
            "type": "error",
            "payload": [{
                "message": message,
                "extensions": {"code": code.as_str()},
            }],
        }));
        self.send_text(text).await
    }

    async fn on_operation(
        &mut self,
        id: Arc<str>,
        seq: u64,
        response: Option<async_graphql::Response>,
    ) -> Flow {
        let Some(operation) = self.operations.get_mut(&id).filter(|op| op.seq == seq) else {
            // An operation the client completed, or that ended with an error already.
            return Flow::Continue;
        };
        let Some(response) = response else {
            self.operations.remove(&id);
            let text = encode(&Outgoing::<()> {
                id: Some(&*id),
                kind: "complete",
                payload: None,
            });
            return self.send_text(text).await;
        };
        if !operation.started && response.data == GqlValue::Null && !response.errors.is_empty() {
            // A request error before execution (parse, validation, a refused subscription
            // field): `error`, and no `complete`.
            operation.abort.abort();
            self.operations.remove(&id);
            let text = encode(&Outgoing {
                id: Some(&*id),
                kind: "error",
                payload: Some(&response.errors),
            });
            return self.send_text(text).await;
        }
        operation.started = true;
        let text = encode(&Outgoing {
            id: Some(&*id),
            kind: "next",
            payload: Some(&response),
        });
        self.send_text(text).await
    }

    async fn on_revocation(&mut self, revoked: Result<Arc<str>, RecvError>) -> Flow {
        match revoked {
            Ok(revoked) => {
                let ours = self
                    .principal
                    .as_ref()
                    .and_then(|p| p.credential_id.as_deref());
                if ours == Some(&*revoked) {
                    Flow::forbidden()
                } else {
                    Flow::Continue
                }
            }
            Err(RecvError::Lagged(missed)) => {
                // Our revocation may be among the missed ones: ask the database.
                tracing::debug!(
                    missed,
                    "revocation receiver lagged; re-checking the credential"
                );
                self.check_credential().await
            }
            Err(RecvError::Closed) => {
                self.revocations = None;
                Flow::Continue
            }
        }
    }

    /// Closes with 4403 unless the principal's credential is still valid in the database.
    async fn check_credential(&mut self) -> Flow {
        let Some(principal) = self.principal.as_deref() else {
            return Flow::Continue;
        };
        // Boxed: a database query's future is large, and is held only for the query, while
        // the connection's task would otherwise carry room for it all its life.
        let active = Box::pin(crate::services::shared::sessions::credential_active(
            &self.state,
            principal,
        ));
        match active.await {
            Ok(true) => Flow::Continue,
            Ok(false) => Flow::forbidden(),
            Err(err) => {
                tracing::error!(error = ?err, "websocket credential check failed");
                Flow::close(code::INTERNAL, "Internal server error")
            }
        }
    }

    async fn on_keepalive(&mut self) -> Flow {
        if self.pinged && !self.heard {
            tracing::debug!("graphql-transport-ws client stopped answering pings");
            return Flow::End;
        }
        self.pinged = true;
        self.heard = false;
        self.send(Message::Ping(axum::body::Bytes::new())).await
    }

    /// Sends a serialised message (see [`encode`]).
    async fn send_text(&mut self, text: Option<String>) -> Flow {
        match text {
            Some(text) => self.send(Message::Text(text.into())).await,
            None => Flow::close(code::INTERNAL, "Internal server error"),
        }
    }

    async fn send(&mut self, message: Message) -> Flow {
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => Flow::Continue,
            Ok(Err(_)) | Err(_) => Flow::End,
        }
    }
}

/// The principal of the bearer token in `payload`, or else the cookie's.
async fn authenticate(
    state: &AppState,
    payload: Option<&Map<String, Value>>,
    cookie_principal: Option<Arc<Principal>>,
) -> Result<Arc<Principal>, Flow> {
    let header = payload
        .and_then(|p| p.get("Authorization").or_else(|| p.get("authorization")))
        .filter(|value| !value.is_null());
    let Some(header) = header else {
        return cookie_principal.ok_or_else(Flow::forbidden);
    };
    let Some(token) = header.as_str().and_then(bearer_token) else {
        return Err(Flow::forbidden());
    };
    match crate::services::shared::sessions::authenticate(state, token).await {
        Ok(Some(principal)) => Ok(Arc::new(principal)),
        Err(AppError::Internal(cause)) => {
            tracing::error!(error = %cause, "websocket authentication failed");
            Err(Flow::close(code::INTERNAL, "Internal server error"))
        }
        // Unknown, expired or revoked tokens, and any refusal by the auth service.
        Ok(None) | Err(_) => Err(Flow::forbidden()),
    }
}

/// Serialises a server message before any await, so that no borrowed data is held across one.
fn encode<T: Serialize>(message: &T) -> Option<String> {
    serde_json::to_string(message)
        .map_err(|err| tracing::error!(%err, "cannot serialise a graphql-transport-ws message"))
        .ok()
}

/// The next revoked credential id, or never when there is no receiver.
async fn recv_revocation(
    revocations: &mut Option<broadcast::Receiver<Arc<str>>>,
) -> Result<Arc<str>, RecvError> {
    match revocations {
        Some(receiver) => receiver.recv().await,
        None => future::pending().await,
    }
}

/// A deadline that never comes in practice (about 30 years away).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// Sends a close frame (best effort).
async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: truncate(reason, MAX_CLOSE_REASON).into(),
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

/// Reads until the client's close frame (or the end of the stream), so that the closing
/// handshake completes and the client reliably sees our close frame.
async fn finish(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// The token of an `Authorization: Bearer <token>` value.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A server message.
#[derive(Serialize)]
struct Outgoing<'a, P> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<P>,
}

/// A valid client message.
#[derive(Debug)]
enum ClientMessage {
    ConnectionInit(Option<Map<String, Value>>),
    Ping(Option<Map<String, Value>>),
    Pong,
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

/// The payload of `subscribe`.
#[derive(Debug)]
struct SubscribePayload {
    query: String,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

impl ClientMessage {
    /// Parses and validates a text frame; the error is the close reason.
    fn parse(text: &str) -> Result<Self, &'static str> {
        let mut message = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(message)) => message,
            Ok(_) => return Err("Message is not a JSON object"),
            Err(_) => return Err("Invalid JSON"),
        };
        let Some(Value::String(kind)) = message.remove("type") else {
            return Err("Missing or invalid message type");
        };
        match kind.as_str() {
            "connection_init" => Ok(ClientMessage::ConnectionInit(optional_object(
                message.remove("payload"),
            )?)),
            "ping" => Ok(ClientMessage::Ping(optional_object(
                message.remove("payload"),
            )?)),
            "pong" => {
                optional_object(message.remove("payload"))?;
                Ok(ClientMessage::Pong)
            }
            "subscribe" => {
                let id = take_id(&mut message)?;
                let Some(Value::Object(mut payload)) = message.remove("payload") else {
                    return Err("Invalid subscribe payload");
                };
                let Some(Value::String(query)) = payload.remove("query") else {
                    return Err("Invalid subscribe payload: query must be a string");
                };
                let operation_name = match payload.remove("operationName") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(name)) => Some(name),
                    Some(_) => {
                        return Err("Invalid subscribe payload: operationName must be a string");
                    }
                };
                let variables = optional_object(payload.remove("variables"))
                    .map_err(|_| "Invalid subscribe payload: variables must be an object")?;
                let extensions = optional_object(payload.remove("extensions"))
                    .map_err(|_| "Invalid subscribe payload: extensions must be an object")?;
                Ok(ClientMessage::Subscribe {
                    id,
                    payload: SubscribePayload {
                        query,
                        operation_name,
                        variables,
                        extensions,
                    },
                })
            }
            "complete" => Ok(ClientMessage::Complete {
                id: take_id(&mut message)?,
            }),
            "connection_ack" | "next" | "error" => Err("Unexpected message type"),
            _ => Err("Unknown message type"),
        }
    }
}

impl SubscribePayload {
    /// The size of the document: `query` and `operationName`.
    fn document_len(&self) -> usize {
        self.query
            .len()
            .saturating_add(self.operation_name.as_ref().map_or(0, String::len))
    }

    /// The serialised size of `variables` and `extensions`.
    fn variables_len(&self) -> usize {
        json_len(self.variables.as_ref()).saturating_add(json_len(self.extensions.as_ref()))
    }

    /// The GraphQL request; the error is the close reason.
    fn into_request(self) -> Result<async_graphql::Request, &'static str> {
        let variables = Variables::from_json(Value::Object(self.variables.unwrap_or_default()));
        let mut request = async_graphql::Request::new(self.query).variables(variables);
        if let Some(name) = self.operation_name {
            request = request.operation_name(name);
        }
        if let Some(extensions) = self.extensions {
            request.extensions = serde_json::from_value(Value::Object(extensions))
                .map_err(|_| "Invalid subscribe payload: bad extensions")?;
        }
        Ok(request)
    }
}

/// The length of `map` serialised as compact JSON (0 when absent), without building it.
fn json_len(map: Option<&Map<String, Value>>) -> usize {
    /// Counts what is written.
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let Some(map) = map else {
        return 0;
    };
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, map) {
        Ok(()) => counter.0,
        // Cannot happen for a parsed map; count it as too large.
        Err(_) => usize::MAX,
    }
}

/// An optional payload: absent, `null` or an object.
fn optional_object(value: Option<Value>) -> Result<Option<Map<String, Value>>, &'static str> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err("Invalid payload: must be an object"),
    }
}

/// The operation id of a message: a non-empty string.
fn take_id(message: &mut Map<String, Value>) -> Result<String, &'static str> {
    match message.remove("id") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id),
        _ => Err("Missing or invalid id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_messages() {
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"connection_init"}"#),
            Ok(ClientMessage::ConnectionInit(None))
        ));
        assert!(matches!(
            ClientMessage::parse(
                r#"{"type":"connection_init","payload":{"Authorization":"Bearer x"}}"#
            ),
            Ok(ClientMessage::ConnectionInit(Some(_)))
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"ping","payload":null}"#),
            Ok(ClientMessage::Ping(None))
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"pong"}"#),
            Ok(ClientMessage::Pong)
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"complete","id":"1"}"#),
            Ok(ClientMessage::Complete { id }) if id == "1"
        ));
        let parsed = ClientMessage::parse(
            r#"{"id":"a","type":"subscribe","payload":{"query":"{ x }","variables":{"v":1},"operationName":null,"extensions":null}}"#,
        );
        let Ok(ClientMessage::Subscribe { id, payload }) = parsed else {
            panic!("not a subscribe: {parsed:?}");
        };
        assert_eq!(id, "a");
        assert_eq!(payload.query, "{ x }");
        assert!(payload.operation_name.is_none());
        assert!(payload.variables.is_some());
        assert!(payload.into_request().is_ok());
    }

    #[test]
    fn refuses_invalid_messages() {
        for text in [
            "not json",
            "[]",
            r#"{"payload":{}}"#,
            r#"{"type":"nope"}"#,
            r#"{"type":"next","id":"1","payload":{}}"#,
            r#"{"type":"connection_init","payload":"token"}"#,
            r#"{"type":"subscribe","payload":{"query":"{ x }"}}"#,
            r#"{"type":"subscribe","id":"","payload":{"query":"{ x }"}}"#,
            r#"{"type":"subscribe","id":"1","payload":[]}"#,
            r#"{"type":"subscribe","id":"1","payload":{"query":1}}"#,
            r#"{"type":"subscribe","id":"1","payload":{"query":"{ x }","variables":[]}}"#,
            r#"{"type":"subscribe","id":"1","payload":{"query":"{ x }","operationName":1}}"#,
            r#"{"type":"complete"}"#,
        ] {
            assert!(ClientMessage::parse(text).is_err(), "accepted {text}");
        }
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }

    /// The size of the future `f` returns, without calling it.
    fn future_size<A, Fut, F: FnOnce(A) -> Fut>(_: &F) -> usize {
        std::mem::size_of::<Fut>()
    }

    #[test]
    fn idle_connections_stay_small() {
        // The connection's task holds this future for its whole life; handlers that await
        // large futures (authentication, database checks) are boxed so that it does not
        // reserve room for them. About 2 KiB today; unboxed it was about 3.9 KiB.
        let run = future_size(&Connection::run);
        assert!(run <= 3 * 1024, "Connection::run future is {run} bytes");
    }

    #[test]
    fn counts_cap_each_key_and_forget_keys_at_zero() {
        let counts = Counts::<&str>::default();
        assert!(counts.acquire("a", 2));
        assert!(counts.acquire("a", 2));
        assert!(!counts.acquire("a", 2));
        assert!(counts.acquire("b", 2));
        assert!(!counts.acquire("c", 0));
        assert_eq!(counts.keys(), 2);
        counts.release(&"a");
        assert!(counts.acquire("a", 2));
        counts.release(&"a");
        counts.release(&"a");
        counts.release(&"b");
        // Releasing what is not counted changes nothing.
        counts.release(&"b");
        assert_eq!(counts.keys(), 0);
    }

    #[test]
    fn sizes_of_subscribe_payloads() {
        let parsed = ClientMessage::parse(
            r#"{"id":"a","type":"subscribe","payload":{"query":"{ x }","operationName":"Op","variables":{"v": [1, "two"]},"extensions":{}}}"#,
        );
        let Ok(ClientMessage::Subscribe { payload, .. }) = parsed else {
            panic!("not a subscribe: {parsed:?}");
        };
        assert_eq!(payload.document_len(), "{ x }Op".len());
        assert_eq!(payload.variables_len(), r#"{"v":[1,"two"]}{}"#.len());
        let bare = SubscribePayload {
            query: String::new(),
            operation_name: None,
            variables: None,
            extensions: None,
        };
        assert_eq!((bare.document_len(), bare.variables_len()), (0, 0));
    }

    #[test]
    fn close_reasons_fit_a_frame() {
        let long = "é".repeat(100);
        let cut = truncate(&long, MAX_CLOSE_REASON);
        assert!(cut.len() <= MAX_CLOSE_REASON);
        assert!(long.starts_with(cut));
        assert_eq!(truncate("short", MAX_CLOSE_REASON), "short");
    }
}
