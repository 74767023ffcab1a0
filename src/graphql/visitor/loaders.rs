//! DataLoaders for every Visitor relation field, made fresh for each request and confined to
//! the caller's tenant. Each loader turns N lookups into one `IN (…)` statement.
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
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, Iterable, Order, QueryFilter,
    sea_query::{Alias, Expr, ExprTrait, Query, WindowStatement},
};

use crate::{app::AppState, auth::Principal, error::AppError, services::shared::page};

/// What a loader needs: the pool and the tenant every row must belong to.
#[derive(Clone)]
pub struct Scope {
    db: DatabaseConnection,
    tenant_id: Arc<str>,
}

impl Scope {
    /// The scope of one request of `principal` (none: a scope that finds nothing).
    pub(crate) fn new(state: &AppState, principal: Option<&Principal>) -> Self {
        Scope {
            db: state.db.clone(),
            tenant_id: Arc::from(principal.map_or("", |p| p.tenant_id.as_str())),
        }
    }
}

macro_rules! by_id_loader {
    ($name:ident, $module:ident) => {
        #[doc = concat!("Loads `", stringify!($module), "` rows by id.")]
        pub struct $name(Scope);

        impl Loader<String> for $name {
            type Value = entities::$module::Model;
            type Error = Arc<AppError>;

            async fn load(
                &self,
                keys: &[String],
            ) -> Result<HashMap<String, Self::Value>, Self::Error> {
                let rows = entities::$module::Entity::find()
                    .filter(entities::$module::Column::TenantId.eq(&*self.0.tenant_id))
                    .filter(entities::$module::Column::Id.is_in(keys.iter().cloned()))
                    .all(&self.0.db)
                    .await
                    .map_err(|e| Arc::new(AppError::from(e)))?;
                Ok(rows.into_iter().map(|r| (r.id.clone(), r)).collect())
            }
        }
    };
}

by_id_loader!(LocationLoader, locations);
by_id_loader!(HostLoader, hosts);
by_id_loader!(VisitorLoader, visitors);
by_id_loader!(BadgeLoader, badges);
by_id_loader!(VisitLoader, visits);
by_id_loader!(PreRegistrationLoader, pre_registrations);

/// The first `limit` rows per key of `E`, in `order`, for the tenant's rows whose `key` is in
/// `keys` and that match `extra`: one statement however many keys, and never more than
/// `limit` rows per key (`ROW_NUMBER()` over each key's partition, SQLite 3.25+ and
/// PostgreSQL).
pub(crate) async fn first_per_key<E>(
    scope: &Scope,
    tenant: E::Column,
    key: E::Column,
    keys: &[String],
    extra: Condition,
    order: &[(E::Column, Order)],
    limit: usize,
) -> Result<Vec<E::Model>, Arc<AppError>>
where
    E: EntityTrait,
{
    let mut window = WindowStatement::partition_by((E::default(), key));
    for (column, direction) in order {
        window.order_by((E::default(), *column), direction.clone());
    }
    let ranked = Query::select()
        .columns(E::Column::iter().map(|c| (E::default(), c)))
        .expr_window_as(Expr::cust("ROW_NUMBER()"), window, Alias::new("rn"))
        .from(E::default())
        .cond_where(
            Condition::all()
                .add(Expr::col((E::default(), tenant)).eq(&*scope.tenant_id))
                .add(Expr::col((E::default(), key)).is_in(keys.iter().cloned()))
                .add(extra),
        )
        .to_owned();
    let mut outer = Query::select();
    outer
        .columns(E::Column::iter().map(|c| (Alias::new("ranked"), c)))
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col((Alias::new("ranked"), Alias::new("rn"))).lte(limit as i64));
    for (column, direction) in order {
        outer.order_by((Alias::new("ranked"), *column), direction.clone());
    }
    let stmt = scope.db.get_database_backend().build(&outer);
    E::find()
        .from_raw_sql(stmt)
        .all(&scope.db)
        .await
        .map_err(|e| Arc::new(AppError::from(e)))
}

/// A location's kiosks, newest first; at most [`page::MAX_LIST`] + 1 per location, so that
/// the field can refuse a list past its bound.
pub struct KiosksByLocation(Scope);

impl Loader<String> for KiosksByLocation {
    type Value = Vec<entities::kiosks::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        use entities::kiosks::{Column, Entity};
        let rows = first_per_key::<Entity>(
            &self.0,
            Column::TenantId,
            Column::LocationId,
            keys,
            Condition::all(),
            &[(Column::PairedAt, Order::Desc), (Column::Id, Order::Desc)],
            page::MAX_LIST + 1,
        )
        .await?;
        Ok(group(rows, |k| k.location_id.clone()))
    }
}

/// A location's open visits, newest first; at most [`page::MAX_LIST`] + 1 per location, so
/// that the field can refuse a list past its bound.
pub struct CurrentVisitsByLocation(Scope);

impl Loader<String> for CurrentVisitsByLocation {
    type Value = Vec<entities::visits::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        use entities::visits::{Column, Entity};
        let rows = first_per_key::<Entity>(
            &self.0,
            Column::TenantId,
            Column::LocationId,
            keys,
            Condition::all().add(Expr::col((Entity, Column::Status)).eq("checked_in")),
            &[
                (Column::CheckedInAt, Order::Desc),
                (Column::Id, Order::Desc),
            ],
            page::MAX_LIST + 1,
        )
        .await?;
        Ok(group(rows, |v| v.location_id.clone()))
    }
}

/// How many visits `Visitor.visits` shows.
pub const VISITOR_VISITS: usize = 50;

/// A visitor's last 50 visits, newest first.
pub struct VisitsByVisitor(Scope);

impl Loader<String> for VisitsByVisitor {
    type Value = Vec<entities::visits::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        use entities::visits::{Column, Entity};
        let rows = first_per_key::<Entity>(
            &self.0,
            Column::TenantId,
            Column::VisitorId,
            keys,
            Condition::all(),
            &[
                (Column::CheckedInAt, Order::Desc),
                (Column::Id, Order::Desc),
            ],
            VISITOR_VISITS,
        )
        .await?;
        Ok(group(rows, |v| v.visitor_id.clone()))
    }
}

/// Which relations of a page of visits the query selects.
#[derive(Debug, Clone, Copy, Default)]
pub struct VisitRelationsWanted {
    /// `visitor`.
    pub visitor: bool,
    /// `location`.
    pub location: bool,
    /// `host`.
    pub host: bool,
    /// `badge`.
    pub badge: bool,
}

impl VisitRelationsWanted {
    /// Whether any relation is selected.
    pub fn any(self) -> bool {
        self.visitor || self.location || self.host || self.badge
    }
}

/// The relations of one page of visits, fetched right after the page. `None`: not selected,
/// or the statement failed; the field then asks its DataLoader, which reports the failure
/// per field as before.
#[derive(Default)]
pub struct VisitRelations {
    /// Visitors by id.
    pub visitors: Option<HashMap<String, entities::visitors::Model>>,
    /// Locations by id.
    pub locations: Option<HashMap<String, entities::locations::Model>>,
    /// Hosts by id.
    pub hosts: Option<HashMap<String, entities::hosts::Model>>,
    /// Badges by id.
    pub badges: Option<HashMap<String, entities::badges::Model>>,
}

/// The distinct keys of `ids`.
fn distinct<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.filter(|id| seen.insert(*id))
        .map(str::to_owned)
        .collect()
}

/// Runs `loader` for `keys` when `wanted` (no statement for no keys, like a DataLoader).
async fn fetch<L>(wanted: bool, loader: L, keys: Vec<String>) -> Option<HashMap<String, L::Value>>
where
    L: Loader<String, Error = Arc<AppError>>,
{
    if !wanted {
        return None;
    }
    if keys.is_empty() {
        return Some(HashMap::new());
    }
    loader.load(&keys).await.ok()
}

fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> String) -> HashMap<String, Vec<T>> {
    let mut map: HashMap<String, Vec<T>> = HashMap::new();
    for row in rows {
        map.entry(key(&row)).or_default().push(row);
    }
    map
}

/// The request's loaders, each created on first use.
pub struct Loaders {
    scope: Scope,
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
}

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

pub(crate) fn make<T: Loader<String>>(
    loader: T,
    delay: Duration,
    activity: Arc<AtomicU64>,
) -> DataLoader<T> {
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

macro_rules! accessor {
    ($field:ident, $ty:ty) => {
        /// The loader, created on first use; every call counts as activity.
        pub fn $field(&self) -> &DataLoader<$ty> {
            self.activity.fetch_add(1, Ordering::AcqRel);
            self.$field.get_or_init(|| {
                make(
                    <$ty>::new(self.scope.clone()),
                    self.delay,
                    self.activity.clone(),
                )
            })
        }
    };
}

macro_rules! constructor {
    ($($ty:ty),*) => { $(impl $ty { fn new(scope: Scope) -> Self { Self(scope) } })* };
}

constructor!(
    LocationLoader,
    HostLoader,
    VisitorLoader,
    BadgeLoader,
    VisitLoader,
    PreRegistrationLoader,
    KiosksByLocation,
    CurrentVisitsByLocation,
    VisitsByVisitor
);

impl Loaders {
    /// Loaders for one request of `principal` (none: loaders that find nothing).
    pub fn new(state: &AppState, principal: Option<&Principal>) -> Self {
        Loaders {
            scope: Scope {
                db: state.db.clone(),
                tenant_id: Arc::from(principal.map_or("", |p| p.tenant_id.as_str())),
            },
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
        }
    }

    /// The `wanted` relations of a page of `visits`, with the statements the DataLoaders
    /// would send for it (the same tenant filter, one `IN (…)` each), issued together.
    /// Loading them here from the page, rather than letting 50 rows' fields queue keys in
    /// the loaders, costs a fixed set of statements even when a loaded server deschedules
    /// the request between keys, and skips a DataLoader round (spawned batch, delay, lookups)
    /// per field.
    pub async fn visit_relations(
        &self,
        visits: &[&entities::visits::Model],
        wanted: VisitRelationsWanted,
    ) -> VisitRelations {
        let visitor_ids = distinct(visits.iter().map(|v| v.visitor_id.as_str()));
        let location_ids = distinct(visits.iter().map(|v| v.location_id.as_str()));
        let host_ids = distinct(visits.iter().filter_map(|v| v.host_id.as_deref()));
        let badge_ids = distinct(visits.iter().filter_map(|v| v.badge_id.as_deref()));
        let (visitors, locations, hosts, badges) = futures_util::join!(
            fetch(
                wanted.visitor,
                VisitorLoader::new(self.scope.clone()),
                visitor_ids
            ),
            fetch(
                wanted.location,
                LocationLoader::new(self.scope.clone()),
                location_ids
            ),
            fetch(wanted.host, HostLoader::new(self.scope.clone()), host_ids),
            fetch(
                wanted.badge,
                BadgeLoader::new(self.scope.clone()),
                badge_ids
            ),
        );
        VisitRelations {
            visitors,
            locations,
            hosts,
            badges,
        }
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
}
