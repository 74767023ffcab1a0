//! Live events for GraphQL subscriptions: an [`EventHub`] trait with an in-process
//! implementation. Events are published only after their transaction commits.

use std::sync::Arc;

use tokio::sync::broadcast;

/// The rows a visit event carries, loaded once and shared by every subscriber.
#[derive(Debug, Clone)]
pub struct VisitBundle {
    /// The visit.
    pub visit: entities::visits::Model,
    /// Its visitor.
    pub visitor: entities::visitors::Model,
    /// Its location.
    pub location: entities::locations::Model,
    /// Its host, if any.
    pub host: Option<entities::hosts::Model>,
    /// Its badge, if any.
    pub badge: Option<entities::badges::Model>,
}

/// Which subscription a visit event feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitEventKind {
    /// `visitorCheckedIn`.
    CheckedIn,
    /// `visitorCheckedOut`.
    CheckedOut,
}

/// A check-in or check-out, scoped to a tenant and location.
#[derive(Debug)]
pub struct VisitEvent {
    /// Check-in or check-out.
    pub kind: VisitEventKind,
    /// The tenant it belongs to; no other tenant's subscriber sees it.
    pub tenant_id: String,
    /// The visit's location.
    pub location_id: String,
    /// The visit and its relations.
    pub bundle: Arc<VisitBundle>,
}

/// Everything that travels through the hub.
#[derive(Debug, Clone)]
pub enum HubEvent {
    /// A visit changed.
    Visit(Arc<VisitEvent>),
    /// A session or kiosk was revoked: connections authenticated by it close with 4403.
    CredentialRevoked(Arc<str>),
}

/// Fan-out of live events to subscribers. In process today; a Redis-backed hub can implement
/// the same trait to reach subscribers on other replicas.
pub trait EventHub: Send + Sync + 'static {
    /// Sends `event` to every current subscriber (after the causing transaction committed).
    fn publish(&self, event: HubEvent);
    /// A new subscription to every event from now on.
    fn subscribe(&self) -> broadcast::Receiver<HubEvent>;
}

/// The in-process hub: one broadcast channel; each event is an `Arc` shared by all receivers.
#[derive(Debug)]
pub struct LocalHub {
    sender: broadcast::Sender<HubEvent>,
}

impl LocalHub {
    /// A hub buffering up to `capacity` events for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity);
        Self { sender }
    }
}

impl Default for LocalHub {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl EventHub for LocalHub {
    fn publish(&self, event: HubEvent) {
        // No receivers is not an error: nobody is listening.
        let _ = self.sender.send(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<HubEvent> {
        self.sender.subscribe()
    }
}
