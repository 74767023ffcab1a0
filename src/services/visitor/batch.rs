//! Visitor's batch statements, behind the GraphQL DataLoaders of its relation fields: rows by
//! id, a location's kiosks and open visits, a visitor's last visits, and the relations of a
//! page of visits. Each is one statement for a whole batch of keys, confined to the tenant.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, Condition, Order};

use crate::{
    error::AppResult,
    services::shared::{
        batch::{TenantScope, by_ids, distinct, first_per_key, group},
        page,
    },
};

macro_rules! by_id {
    ($name:ident, $module:ident) => {
        #[doc = concat!("The tenant's `", stringify!($module), "` rows among `keys`, by id.")]
        pub async fn $name(
            scope: &TenantScope,
            keys: &[String],
        ) -> AppResult<HashMap<String, entities::$module::Model>> {
            use entities::$module::{Column, Entity};
            by_ids::<Entity>(scope, Column::TenantId, Column::Id, keys, |r| r.id.clone()).await
        }
    };
}

by_id!(locations_by_id, locations);
by_id!(hosts_by_id, hosts);
by_id!(visitors_by_id, visitors);
by_id!(badges_by_id, badges);
by_id!(visits_by_id, visits);
by_id!(pre_registrations_by_id, pre_registrations);

/// Each location's kiosks, newest first; at most [`page::MAX_LIST`] + 1 per location, so
/// that the field can refuse a list past its bound.
pub async fn kiosks_by_location(
    scope: &TenantScope,
    keys: &[String],
    max_rows: usize,
) -> AppResult<HashMap<String, Vec<entities::kiosks::Model>>> {
    use entities::kiosks::{Column, Entity};
    let rows = first_per_key::<Entity>(
        scope,
        Column::TenantId,
        Column::LocationId,
        keys,
        Condition::all(),
        &[(Column::PairedAt, Order::Desc), (Column::Id, Order::Desc)],
        (page::MAX_LIST + 1, max_rows),
    )
    .await?;
    Ok(group(rows, |k| k.location_id.clone()))
}

/// Each location's open visits, newest first; at most [`page::MAX_LIST`] + 1 per location,
/// so that the field can refuse a list past its bound.
pub async fn current_visits_by_location(
    scope: &TenantScope,
    keys: &[String],
    max_rows: usize,
) -> AppResult<HashMap<String, Vec<entities::visits::Model>>> {
    use entities::visits::{Column, Entity};
    let rows = first_per_key::<Entity>(
        scope,
        Column::TenantId,
        Column::LocationId,
        keys,
        Condition::all().add(Column::Status.eq(entities::visits::VisitStatus::CheckedIn)),
        &[
            (Column::CheckedInAt, Order::Desc),
            (Column::Id, Order::Desc),
        ],
        (page::MAX_LIST + 1, max_rows),
    )
    .await?;
    Ok(group(rows, |v| v.location_id.clone()))
}

/// How many visits `Visitor.visits` shows.
pub const VISITOR_VISITS: usize = 50;

/// Each visitor's last [`VISITOR_VISITS`] visits, newest first.
pub async fn visits_by_visitor(
    scope: &TenantScope,
    keys: &[String],
    max_rows: usize,
) -> AppResult<HashMap<String, Vec<entities::visits::Model>>> {
    use entities::visits::{Column, Entity};
    let rows = first_per_key::<Entity>(
        scope,
        Column::TenantId,
        Column::VisitorId,
        keys,
        Condition::all(),
        &[
            (Column::CheckedInAt, Order::Desc),
            (Column::Id, Order::Desc),
        ],
        (VISITOR_VISITS, max_rows),
    )
    .await?;
    Ok(group(rows, |v| v.visitor_id.clone()))
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

/// The `wanted` relations of a page of `visits`, with the statements the DataLoaders would
/// send for it (the same tenant filter, one `IN (…)` each), issued together. Loading them
/// from the page, rather than letting 50 rows' fields queue keys in the loaders, costs a
/// fixed set of statements even when a loaded server deschedules the request between keys,
/// and skips a DataLoader round (spawned batch, delay, lookups) per field.
pub async fn visit_relations(
    scope: &TenantScope,
    visits: &[&entities::visits::Model],
    wanted: VisitRelationsWanted,
) -> VisitRelations {
    // Each relation: nothing when not selected, no statement for no keys (like a
    // DataLoader), and `None` when the statement fails.
    macro_rules! fetch {
        ($wanted:expr, $ids:expr, $load:ident) => {
            async {
                if !$wanted {
                    return None;
                }
                let keys = distinct($ids);
                if keys.is_empty() {
                    return Some(HashMap::new());
                }
                $load(scope, &keys).await.ok()
            }
        };
    }
    let (visitors, locations, hosts, badges) = futures_util::join!(
        fetch!(
            wanted.visitor,
            visits.iter().map(|v| v.visitor_id.as_str()),
            visitors_by_id
        ),
        fetch!(
            wanted.location,
            visits.iter().map(|v| v.location_id.as_str()),
            locations_by_id
        ),
        fetch!(
            wanted.host,
            visits.iter().filter_map(|v| v.host_id.as_deref()),
            hosts_by_id
        ),
        fetch!(
            wanted.badge,
            visits.iter().filter_map(|v| v.badge_id.as_deref()),
            badges_by_id
        ),
    );
    VisitRelations {
        visitors,
        locations,
        hosts,
        badges,
    }
}
