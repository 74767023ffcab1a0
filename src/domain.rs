//! The domain context every service, job and background task runs in: the database, the
//! settings, the event hub and the clock. It knows nothing of GraphQL or HTTP; the
//! application state (`app::AppState`) wraps it with the schema, the rate limiter and the
//! WebSocket counters, and dereferences to it, so a handler passes `&state` where a service
//! takes `&Domain`.

use std::{
    ops::Deref,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
};

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::DatabaseConnection;

use crate::{config::Settings, db::DbStats, events::EventHub};

/// What the services need; cheap to clone.
#[derive(Clone)]
pub struct Domain(Arc<DomainInner>);

/// The shared parts of [`Domain`].
pub struct DomainInner {
    /// Settings, read once at start-up.
    pub settings: Settings,
    /// The database pool.
    pub db: DatabaseConnection,
    /// Statement counters.
    pub stats: Arc<DbStats>,
    /// Live events for subscriptions.
    pub hub: Arc<dyn EventHub>,
    /// The time source of every rule that depends on the date.
    pub clock: Clock,
}

impl Deref for Domain {
    type Target = DomainInner;
    fn deref(&self) -> &DomainInner {
        &self.0
    }
}

impl Domain {
    /// A context around an open, migrated database.
    pub fn new(
        settings: Settings,
        db: DatabaseConnection,
        stats: Arc<DbStats>,
        hub: Arc<dyn EventHub>,
    ) -> Self {
        Domain(Arc::new(DomainInner {
            settings,
            db,
            stats,
            hub,
            clock: Clock::default(),
        }))
    }

    /// The current time by [`DomainInner::clock`].
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// The one time source: the system clock, or a time a test has set. Times are truncated to
/// microseconds so they round-trip through every database.
#[derive(Debug, Default)]
pub struct Clock {
    /// Microseconds since the epoch when set; [`Clock::UNSET`] for the system clock.
    fixed_micros: AtomicI64,
}

impl Clock {
    const UNSET: i64 = 0;

    /// The current time (the set time, when one is set).
    pub fn now(&self) -> DateTime<Utc> {
        match self.fixed_micros.load(Ordering::Relaxed) {
            Self::UNSET => Utc::now().trunc_subsecs(6),
            micros => DateTime::from_timestamp_micros(micros)
                .unwrap_or_else(|| Utc::now().trunc_subsecs(6)),
        }
    }

    /// Sets the time [`Clock::now`] answers (`None`: the system clock again). For tests and
    /// for running a job as of another day.
    pub fn set(&self, at: Option<DateTime<Utc>>) {
        let micros = at.map_or(Self::UNSET, |t| match t.timestamp_micros() {
            Self::UNSET => 1,
            m => m,
        });
        self.fixed_micros.store(micros, Ordering::Relaxed);
    }
}
