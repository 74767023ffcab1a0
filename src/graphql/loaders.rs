//! The request's DataLoaders, one registry for every product: made fresh for each request,
//! confined to the caller's tenant, each loader created on first use. A loader's batch is
//! one statement of a service (`services::visitor::batch`, `services::portal::batch`) for
//! however many keys the request's fields asked for.
//!
//! A batch is sent once the request has asked its loaders for nothing new for
//! `DATALOADER_DELAY`, not a fixed delay after its first key: the items of a long list
//! register their keys over several polls (a list resolves through `FuturesUnordered`, which
//! yields every 32 futures), and a fixed window closing in between would split the batch, so
//! that a page of 100 cost more statements than a page of 5.

use std::{
    collections::HashMap,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_graphql::dataloader::{DataLoader, Loader};

use super::budget::Budget;
use crate::{
    app::AppState,
    auth::Principal,
    error::AppError,
    services::{
        portal,
        shared::{batch::TenantScope, page},
        visitor::{
            self,
            batch::{VisitRelations, VisitRelationsWanted},
        },
    },
};

/// Turns a loader failure into a GraphQL error: a refusal by the response budget keeps its
/// code; anything else (already logged) is the generic internal error.
pub fn load_err(error: Arc<AppError>) -> async_graphql::Error {
    match &*error {
        AppError::QueryTooComplex(message) => AppError::QueryTooComplex(message.clone()).into(),
        _ => AppError::Internal(String::new()).into(),
    }
}

/// Declares a loader whose batch is the service function `$batch`. A batch is not sent once
/// the request's response budget is spent, and a batch of lists (`lists`) reads at most one
/// row more than the budget has left, and spends it when that row comes: a wide request stops
/// at the first batch past its budget, having read no more than the budget, instead of
/// loading every batch before its lists charge what they hold.
macro_rules! loader {
    ($(#[$doc:meta])* $name:ident, $value:ty, $batch:path) => {
        $(#[$doc])*
        pub struct $name(TenantScope, Arc<Budget>);

        impl Loader<String> for $name {
            type Value = $value;
            type Error = Arc<AppError>;

            async fn load(&self, keys: &[String]) -> Result<HashMap<String, $value>, Self::Error> {
                self.1.admit(0).map_err(Arc::new)?;
                $batch(&self.0, keys).await.map_err(Arc::new)
            }
        }
    };
    ($(#[$doc:meta])* $name:ident, $value:ty, $batch:path, lists) => {
        $(#[$doc])*
        pub struct $name(TenantScope, Arc<Budget>);

        impl Loader<String> for $name {
            type Value = $value;
            type Error = Arc<AppError>;

            async fn load(&self, keys: &[String]) -> Result<HashMap<String, $value>, Self::Error> {
                // Reads at most one row more than the budget has left: that one says the
                // lists would overrun it, and the rest is never read.
                let left = self.1.nodes_left().map_err(Arc::new)?;
                let values = $batch(&self.0, keys, left.saturating_add(1))
                    .await
                    .map_err(Arc::new)?;
                self.1
                    .admit(values.values().map(Vec::len).sum())
                    .map_err(Arc::new)?;
                Ok(values)
            }
        }
    };
}

loader!(
    /// Locations by id.
    LocationLoader, entities::locations::Model, visitor::batch::locations_by_id
);
loader!(
    /// Hosts by id.
    HostLoader, entities::hosts::Model, visitor::batch::hosts_by_id
);
loader!(
    /// Visitors by id.
    VisitorLoader, entities::visitors::Model, visitor::batch::visitors_by_id
);
loader!(
    /// Badges by id.
    BadgeLoader, entities::badges::Model, visitor::batch::badges_by_id
);
loader!(
    /// Visits by id.
    VisitLoader, entities::visits::Model, visitor::batch::visits_by_id
);
loader!(
    /// Pre-registrations by id.
    PreRegistrationLoader, entities::pre_registrations::Model,
    visitor::batch::pre_registrations_by_id
);
loader!(
    /// A location's kiosks, newest first; at most [`page::MAX_LIST`] + 1, so that the field
    /// can refuse a list past its bound.
    KiosksByLocation, Vec<entities::kiosks::Model>, visitor::batch::kiosks_by_location, lists
);
loader!(
    /// A location's open visits, newest first; at most [`page::MAX_LIST`] + 1, so that the
    /// field can refuse a list past its bound.
    CurrentVisitsByLocation, Vec<entities::visits::Model>,
    visitor::batch::current_visits_by_location, lists
);
loader!(
    /// A visitor's last visits, newest first.
    VisitsByVisitor, Vec<entities::visits::Model>, visitor::batch::visits_by_visitor, lists
);
loader!(
    /// A ticket's latest comments, oldest first.
    CommentsByTicket, Vec<entities::ticket_comments::Model>, portal::batch::comments_by_ticket, lists
);

/// Waits until `activity` has not moved for `delay`.
async fn quiet(activity: &AtomicU64, delay: Duration) {
    let mut seen = activity.load(Ordering::Acquire);
    loop {
        tokio::time::sleep(delay).await;
        let now = activity.load(Ordering::Acquire);
        if now == seen {
            return;
        }
        seen = now;
    }
}

/// A DataLoader for `loader` whose batches wait for the request's `activity` to go quiet.
fn make<T: Loader<String>>(loader: T, delay: Duration, activity: Arc<AtomicU64>) -> DataLoader<T> {
    // The loader's own delay is zero: the spawned batch first waits for the request's loads
    // to go quiet, then takes every key registered so far.
    let spawner = move |batch: futures_util::future::BoxFuture<'static, ()>| {
        let activity = activity.clone();
        tokio::spawn(async move {
            quiet(&activity, delay).await;
            batch.await;
        })
    };
    DataLoader::new(loader, spawner)
        .delay(Duration::ZERO)
        .max_batch_size(page::MAX_LIST)
}

/// The request's loaders, each created on first use.
pub struct Loaders {
    scope: TenantScope,
    budget: Arc<Budget>,
    delay: Duration,
    /// Bumped on every load of the request; batches wait for it to stay still.
    activity: Arc<AtomicU64>,
    location: OnceLock<DataLoader<LocationLoader>>,
    host: OnceLock<DataLoader<HostLoader>>,
    visitor: OnceLock<DataLoader<VisitorLoader>>,
    badge: OnceLock<DataLoader<BadgeLoader>>,
    visit: OnceLock<DataLoader<VisitLoader>>,
    pre_registration: OnceLock<DataLoader<PreRegistrationLoader>>,
    kiosks_by_location: OnceLock<DataLoader<KiosksByLocation>>,
    current_visits: OnceLock<DataLoader<CurrentVisitsByLocation>>,
    visits_by_visitor: OnceLock<DataLoader<VisitsByVisitor>>,
    comments_by_ticket: OnceLock<DataLoader<CommentsByTicket>>,
}

macro_rules! accessor {
    ($field:ident, $ty:ident) => {
        /// The loader, created on first use; every call counts as activity.
        pub fn $field(&self) -> &DataLoader<$ty> {
            self.activity.fetch_add(1, Ordering::AcqRel);
            self.$field.get_or_init(|| {
                make(
                    $ty(self.scope.clone(), self.budget.clone()),
                    self.delay,
                    self.activity.clone(),
                )
            })
        }
    };
}

impl Loaders {
    /// Loaders for one request of `principal` (none: loaders that find nothing), whose
    /// batches stop once the request's `budget` is spent.
    pub fn new(state: &AppState, principal: Option<&Principal>, budget: Arc<Budget>) -> Self {
        Loaders {
            scope: TenantScope::new(&state.db, principal),
            budget,
            delay: state.settings.dataloader_delay,
            activity: Arc::new(AtomicU64::new(0)),
            location: OnceLock::new(),
            host: OnceLock::new(),
            visitor: OnceLock::new(),
            badge: OnceLock::new(),
            visit: OnceLock::new(),
            pre_registration: OnceLock::new(),
            kiosks_by_location: OnceLock::new(),
            current_visits: OnceLock::new(),
            visits_by_visitor: OnceLock::new(),
            comments_by_ticket: OnceLock::new(),
        }
    }

    /// The `wanted` relations of a page of `visits`, loaded together right after the page
    /// (see `services::visitor::batch::visit_relations`).
    pub async fn visit_relations(
        &self,
        visits: &[&entities::visits::Model],
        wanted: VisitRelationsWanted,
    ) -> VisitRelations {
        visitor::batch::visit_relations(&self.scope, visits, wanted).await
    }

    accessor!(location, LocationLoader);
    accessor!(host, HostLoader);
    accessor!(visitor, VisitorLoader);
    accessor!(badge, BadgeLoader);
    accessor!(visit, VisitLoader);
    accessor!(pre_registration, PreRegistrationLoader);
    accessor!(kiosks_by_location, KiosksByLocation);
    accessor!(current_visits, CurrentVisitsByLocation);
    accessor!(visits_by_visitor, VisitsByVisitor);
    accessor!(comments_by_ticket, CommentsByTicket);
}
