//! Live events for GraphQL subscriptions: an [`EventHub`] trait with an in-process
//! implementation. Events are published only after their transaction commits.
//!
//! Two kinds of traffic go through a hub, on separate channels so that neither can crowd
//! out the other:
//!
//! - visit events, high volume, on one channel per tenant: a subscriber wakes only for its
//!   own tenant's check-ins and check-outs, and a tenant nobody listens to costs nothing;
//! - credential revocations (logout, `revokeKiosk`), low volume, on one channel that every
//!   WebSocket connection listens to, so that a connection authenticated by a revoked
//!   credential closes with 4403.
//!
//! The outbox dispatcher, which delivers what services wrote to the outbox, lives in
//! [`dispatcher`].

pub mod dispatcher;
pub mod outbox;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

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

/// Fan-out of live events to subscribers. In process today ([`LocalHub`]); a Redis-backed
/// hub can implement the same trait to reach subscribers on other replicas (publishing to
/// Redis and feeding local channels of the same shape from it).
///
/// Delivery is best effort and in publication order per channel: a receiver sees the events
/// published after it subscribed, and one that falls more than the channel's capacity behind
/// gets [`broadcast::error::RecvError::Lagged`] and has lost the oldest of them. What a lag
/// means is up to the receiver: visit subscribers skip the lost events; revocation
/// receivers MUST re-check their credential in the database, since the lost events may
/// include its revocation. [`broadcast::error::RecvError::Closed`] means the hub is gone.
pub trait EventHub: Send + Sync + 'static {
    /// Sends `event` to every current receiver of [`EventHub::subscribe_visits`] for
    /// `event.tenant_id`, and to no one else. Called after the causing transaction
    /// committed; never blocks on subscribers. Every receiver gets the same `Arc`.
    fn publish_visit(&self, event: Arc<VisitEvent>);

    /// The visit events of `tenant_id` from now on (both kinds, every location: the caller
    /// filters).
    fn subscribe_visits(&self, tenant_id: &str) -> broadcast::Receiver<Arc<VisitEvent>>;

    /// Announces that the session or kiosk `credential_id` was revoked (after the
    /// revocation committed), to every receiver of [`EventHub::subscribe_revocations`].
    fn publish_revocation(&self, credential_id: &str);

    /// Every revocation from now on, of every tenant: the ids of revoked sessions and
    /// kiosks. Low volume. Subscribe before checking the credential in the database, so
    /// that a revocation racing with the check is not missed.
    fn subscribe_revocations(&self) -> broadcast::Receiver<Arc<str>>;
}

/// The in-process hub: a broadcast channel per tenant with subscribers, made on demand, and
/// one for revocations. Each event is an `Arc` shared by all receivers.
#[derive(Debug)]
pub struct LocalHub {
    /// Capacity of each tenant's channel.
    visit_capacity: usize,
    /// The senders of tenants that have (or recently had) subscribers.
    tenants: Mutex<Tenants>,
    /// Revocations of every tenant.
    revocations: broadcast::Sender<Arc<str>>,
}

/// The per-tenant senders, and when to next sweep out those without receivers.
#[derive(Debug, Default)]
struct Tenants {
    senders: HashMap<String, broadcast::Sender<Arc<VisitEvent>>>,
    sweep_at: usize,
}

/// Below this many tenant channels, no sweep.
const MIN_SWEEP: usize = 64;

impl LocalHub {
    /// Default capacity of a tenant's visit channel: a tenant's check-ins come in at human
    /// pace; each slot of a channel is allocated up front (some 40 bytes each).
    pub const VISIT_CAPACITY: usize = 256;
    /// Default capacity of the revocation channel.
    pub const REVOCATION_CAPACITY: usize = 1024;

    /// A hub buffering up to `visit_capacity` events per tenant and `revocation_capacity`
    /// revocations for slow subscribers.
    pub fn new(visit_capacity: usize, revocation_capacity: usize) -> Self {
        let (revocations, _) = broadcast::channel(revocation_capacity.max(1));
        Self {
            visit_capacity: visit_capacity.max(1),
            tenants: Mutex::new(Tenants {
                senders: HashMap::new(),
                sweep_at: MIN_SWEEP,
            }),
            revocations,
        }
    }

    fn tenants(&self) -> MutexGuard<'_, Tenants> {
        // The map is valid after any panic of a holder (each operation is one map call).
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many tenant channels exist (for tests).
    pub fn tenant_channels(&self) -> usize {
        self.tenants().senders.len()
    }
}

impl Default for LocalHub {
    fn default() -> Self {
        Self::new(Self::VISIT_CAPACITY, Self::REVOCATION_CAPACITY)
    }
}

impl EventHub for LocalHub {
    fn publish_visit(&self, event: Arc<VisitEvent>) {
        let sender = {
            let mut tenants = self.tenants();
            match tenants.senders.get(&event.tenant_id) {
                None => return,
                Some(sender) if sender.receiver_count() == 0 => {
                    tenants.senders.remove(&event.tenant_id);
                    return;
                }
                Some(sender) => sender.clone(),
            }
        };
        // Outside the lock: sending wakes the tenant's receivers. No receivers left (they
        // went since the check) is not an error.
        let _ = sender.send(event);
    }

    fn subscribe_visits(&self, tenant_id: &str) -> broadcast::Receiver<Arc<VisitEvent>> {
        let mut tenants = self.tenants();
        if let Some(sender) = tenants.senders.get(tenant_id) {
            return sender.subscribe();
        }
        // A new channel. Tenants whose subscribers all left are removed by their next
        // publish; those that publish nothing more are swept here, each time the map has
        // doubled since the last sweep (amortised O(1) per subscribe).
        if tenants.senders.len() >= tenants.sweep_at {
            tenants.senders.retain(|_, s| s.receiver_count() > 0);
            tenants.sweep_at = (tenants.senders.len() * 2).max(MIN_SWEEP);
        }
        let (sender, receiver) = broadcast::channel(self.visit_capacity);
        tenants.senders.insert(tenant_id.to_owned(), sender);
        receiver
    }

    fn publish_revocation(&self, credential_id: &str) {
        // No receivers is not an error: no connection is open.
        let _ = self.revocations.send(Arc::from(credential_id));
    }

    fn subscribe_revocations(&self) -> broadcast::Receiver<Arc<str>> {
        self.revocations.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::broadcast::error::TryRecvError;

    fn event(tenant: &str) -> Arc<VisitEvent> {
        let at = chrono::Utc::now();
        let visit = entities::visits::Model {
            id: "v".into(),
            tenant_id: tenant.into(),
            visitor_id: "p".into(),
            location_id: "l".into(),
            host_id: None,
            badge_id: None,
            pre_registration_id: None,
            kiosk_id: None,
            status: entities::visits::VisitStatus::CheckedIn,
            source: entities::visits::CheckInSource::Staff,
            purpose: None,
            checked_in_at: at,
            checked_out_at: None,
            checked_in_by: "test".into(),
        };
        let visitor = entities::visitors::Model {
            id: "p".into(),
            tenant_id: tenant.into(),
            name: "Grace".into(),
            email: None,
            email_normalized: None,
            phone: None,
            company: None,
            ai_risk_score: None,
            ai_risk_notes: None,
            anonymized_at: None,
            created_at: at,
            updated_at: at,
        };
        let location = entities::locations::Model {
            id: "l".into(),
            tenant_id: tenant.into(),
            name: "Desk".into(),
            address: None,
            location_type: entities::locations::LocationType::Office,
            timezone: "UTC".into(),
            archived: false,
            created_at: at,
            updated_at: at,
        };
        Arc::new(VisitEvent {
            kind: VisitEventKind::CheckedIn,
            tenant_id: tenant.into(),
            location_id: "l".into(),
            bundle: Arc::new(VisitBundle {
                visit,
                visitor,
                location,
                host: None,
                badge: None,
            }),
        })
    }

    #[test]
    fn visit_events_reach_only_their_tenant_and_are_shared() {
        let hub = LocalHub::default();
        let mut a = hub.subscribe_visits("a");
        let mut a2 = hub.subscribe_visits("a");
        let mut b = hub.subscribe_visits("b");
        let sent = event("a");
        hub.publish_visit(sent.clone());
        let got = a.try_recv().ok();
        assert!(got.as_ref().is_some_and(|e| Arc::ptr_eq(e, &sent)));
        assert!(a2.try_recv().is_ok_and(|e| Arc::ptr_eq(&e, &sent)));
        assert!(matches!(b.try_recv(), Err(TryRecvError::Empty)));
        // Visit events never go to the revocation channel.
        let mut revocations = hub.subscribe_revocations();
        hub.publish_visit(event("a"));
        assert!(matches!(revocations.try_recv(), Err(TryRecvError::Empty)));
    }

    #[test]
    fn tenant_channels_go_when_their_subscribers_do() {
        let hub = LocalHub::default();
        // Publishing to a tenant nobody listens to creates nothing.
        hub.publish_visit(event("nobody"));
        assert_eq!(hub.tenant_channels(), 0);
        let receiver = hub.subscribe_visits("a");
        assert_eq!(hub.tenant_channels(), 1);
        drop(receiver);
        hub.publish_visit(event("a"));
        assert_eq!(hub.tenant_channels(), 0);

        // Channels left without receivers and without events are swept as new ones come.
        for i in 0..(MIN_SWEEP * 3) {
            drop(hub.subscribe_visits(&format!("t{i}")));
        }
        assert!(
            hub.tenant_channels() <= MIN_SWEEP + 1,
            "{}",
            hub.tenant_channels()
        );
        let _kept = hub.subscribe_visits("kept");
        for i in 0..(MIN_SWEEP * 3) {
            drop(hub.subscribe_visits(&format!("u{i}")));
        }
        let mut kept = hub.subscribe_visits("kept");
        hub.publish_visit(event("kept"));
        assert!(kept.try_recv().is_ok());
    }

    #[test]
    fn revocations_reach_every_connection_and_lag_is_reported() {
        let hub = LocalHub::new(4, 2);
        let mut one = hub.subscribe_revocations();
        let mut two = hub.subscribe_revocations();
        hub.publish_revocation("s1");
        assert_eq!(one.try_recv().ok().as_deref(), Some("s1"));
        assert_eq!(two.try_recv().ok().as_deref(), Some("s1"));
        for id in ["s2", "s3", "s4"] {
            hub.publish_revocation(id);
        }
        assert!(matches!(one.try_recv(), Err(TryRecvError::Lagged(1))));
    }
}
