//! Visitor queries. Resolvers take the principal and loaders from the context, call a
//! service and convert.

use std::sync::Arc;

use async_graphql::{
    Context, ID, Object, Result,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};

use super::{
    inputs::VisitFilter,
    types::{
        AuditEntry, AuditTotal, Badge, Host, HostTotal, IntegrationKey, Kiosk, Location,
        PreRegistration, SearchResult, Visit, VisitReport, VisitTotal, Visitor, VisitorSettings,
    },
};
use crate::{
    auth::Permission,
    graphql::enums::BadgeStatus,
    graphql::guard::{Need, principal},
    graphql::{
        connection,
        context::{loaders, state},
    },
    services::{
        self,
        shared::page,
        visitor::{
            batch::{VisitRelations, VisitRelationsWanted},
            search,
        },
    },
};

/// Visitor query fields.
#[derive(Default)]
pub struct VisitorQuery;

#[Object]
impl VisitorQuery {
    /// Global search: visits by their visitor's name or company, and locations by their name
    /// or address, whose text holds `query`, case-insensitively. Exact matches (a whole field
    /// equals the query) come first, then prefixes, then substrings, and the newest first
    /// within each (a visit's check-in, a location's creation). Every character of the query
    /// matches itself (`%`, `_`, `*`, `"`… are text). `query` is trimmed and must hold 1 to
    /// 100 characters; `first` is 1 to 100. Anonymised visitors and archived locations are not
    /// found. Staff users without `visitor.visitors.view` get locations only; an integration
    /// key reads a visit's `id`, `status`, `visitor { name company }` and `location`, and a
    /// location's `id`, `name`, `address` and `type`. Counted as `first` by the query limits.
    #[graphql(guard = "Need::Search")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Option<Vec<SearchResult>>> {
        let p = principal(ctx)?;
        let scope = search::Scope::of(&p)?;
        let first = search::first(Some(i64::from(first)))?;
        let hits = search::search(&state(ctx)?.db, &scope, &query, first).await?;
        crate::graphql::budget::charge(ctx, &hits)?;
        // The search read each visit's visitor and location already: the fields take them
        // from here instead of the loaders.
        let mut visitors = std::collections::HashMap::new();
        let mut locations = std::collections::HashMap::new();
        for hit in &hits {
            if let search::Hit::Visit(found) = hit {
                visitors.insert(found.visitor.id.clone(), found.visitor.clone());
                locations.insert(found.location.id.clone(), found.location.clone());
            }
        }
        let relations = Arc::new(VisitRelations {
            visitors: Some(visitors),
            locations: Some(locations),
            hosts: None,
            badges: None,
        });
        Ok(Some(
            hits.into_iter()
                .map(|hit| match hit {
                    search::Hit::Visit(found) => SearchResult::Visit(Visit::with_relations(
                        found.visit,
                        Some(relations.clone()),
                    )),
                    search::Hit::Location(location) => SearchResult::Location(Location(location)),
                })
                .collect(),
        ))
    }

    /// The tenant's locations (a kiosk: its own), by name. Counted as 20 by the query limits.
    #[graphql(guard = "Need::VisitorAccess")]
    async fn locations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] include_archived: bool,
    ) -> Result<Option<Vec<Location>>> {
        let p = principal(ctx)?;
        let rows =
            services::visitor::locations::list(&state(ctx)?.db, &p, include_archived).await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(Location).collect()))
    }

    /// One location (a kiosk: only its own).
    #[graphql(guard = "Need::VisitorAccess")]
    async fn location(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Location>> {
        let p = principal(ctx)?;
        Ok(services::visitor::locations::get(&state(ctx)?.db, &p, &id)
            .await?
            .map(Location))
    }

    /// The host directory, by name.
    #[graphql(guard = "Need::PermOrKiosk(Permission::HostsView)")]
    async fn hosts(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        location_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<String, Host, HostTotal, EmptyFields>>> {
        let p = principal(ctx)?;
        let first = page::first(first)?;
        let filter = services::visitor::hosts::HostFilter {
            search,
            location_id: location_id.map(|i| i.0),
        };
        let page =
            services::visitor::hosts::list(&state(ctx)?.db, &p, &filter, first, after.as_deref())
                .await?;
        Ok(Some(connection::from_page(
            ctx,
            page,
            HostTotal {
                principal: p,
                filter,
            },
            Host,
        )?))
    }

    /// The visit log, newest first.
    #[graphql(guard = "Need::Perm(Permission::VisitorsView)")]
    async fn visits(
        &self,
        ctx: &Context<'_>,
        filter: Option<VisitFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<String, Visit, VisitTotal, EmptyFields>>> {
        let p = principal(ctx)?;
        let first = page::first(first)?;
        let filter: services::visitor::visits::VisitFilter = filter.unwrap_or_default().into();
        let page =
            services::visitor::visits::list(&state(ctx)?.db, &p, &filter, first, after.as_deref())
                .await?;
        let node = ctx.look_ahead().field("edges").field("node");
        let wanted = VisitRelationsWanted {
            visitor: node.field("visitor").exists(),
            location: node.field("location").exists(),
            host: node.field("host").exists(),
            badge: node.field("badge").exists(),
        };
        let relations = if wanted.any() && !page.rows.is_empty() {
            let visits: Vec<_> = page.rows.iter().map(|(_, visit)| visit).collect();
            Some(Arc::new(
                loaders(ctx)?.visit_relations(&visits, wanted).await,
            ))
        } else {
            None
        };
        Ok(Some(connection::from_page(
            ctx,
            page,
            VisitTotal {
                principal: p,
                filter,
            },
            |visit| Visit::with_relations(visit, relations.clone()),
        )?))
    }

    /// One visit.
    #[graphql(guard = "Need::Perm(Permission::VisitorsView)")]
    async fn visit(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Visit>> {
        let p = principal(ctx)?;
        Ok(services::visitor::visits::get(&state(ctx)?.db, &p, &id)
            .await?
            .map(Visit::new))
    }

    /// One visitor record.
    #[graphql(guard = "Need::Perm(Permission::VisitorsView)")]
    async fn visitor(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Visitor>> {
        let p = principal(ctx)?;
        Ok(
            services::visitor::visits::get_visitor(&state(ctx)?.db, &p, &id)
                .await?
                .map(Visitor),
        )
    }

    /// Badges, optionally of one location and status. Counted as 50 by the query limits.
    #[graphql(guard = "Need::Perm(Permission::BadgesManage)")]
    async fn badges(
        &self,
        ctx: &Context<'_>,
        location_id: Option<ID>,
        status: Option<BadgeStatus>,
    ) -> Result<Option<Vec<Badge>>> {
        let p = principal(ctx)?;
        let rows = services::visitor::badges::list(
            &state(ctx)?.db,
            &p,
            location_id.as_ref().map(|i| i.as_str()),
            status.map(Into::into),
        )
        .await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(Badge).collect()))
    }

    /// Expected visits, by expected time. Counted as 50 by the query limits.
    #[graphql(guard = "Need::Perm(Permission::PreregisterManage)")]
    async fn pre_registrations(
        &self,
        ctx: &Context<'_>,
        location_id: Option<ID>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<Vec<PreRegistration>>> {
        let p = principal(ctx)?;
        let rows = services::visitor::pre_registrations::list(
            &state(ctx)?.db,
            &p,
            location_id.as_ref().map(|i| i.as_str()),
            from,
            to,
        )
        .await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(
            rows.into_iter()
                .map(PreRegistration::without_code)
                .collect(),
        ))
    }

    /// Paired kiosks. Counted as 10 by the query limits.
    #[graphql(guard = "Need::Perm(Permission::AdminKiosk)")]
    async fn kiosks(&self, ctx: &Context<'_>) -> Result<Option<Vec<Kiosk>>> {
        let p = principal(ctx)?;
        let rows = services::visitor::kiosks::list(&state(ctx)?.db, &p).await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(Kiosk::new).collect()))
    }

    /// Check-ins per location and local day; at most 92 days.
    #[graphql(guard = "Need::Perm(Permission::ReportsView)")]
    async fn visit_report(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        location_id: Option<ID>,
    ) -> Result<Option<VisitReport>> {
        let p = principal(ctx)?;
        let report = services::visitor::report::visit_report(
            &state(ctx)?.db,
            &p,
            from,
            to,
            location_id.as_ref().map(|i| i.as_str()),
        )
        .await?;
        Ok(Some(VisitReport(report)))
    }

    /// The tenant's Visitor settings.
    #[graphql(guard = "Need::Perm(Permission::AdminSettings)")]
    async fn visitor_settings(&self, ctx: &Context<'_>) -> Result<Option<VisitorSettings>> {
        let p = principal(ctx)?;
        let model = services::visitor::settings::get(&state(ctx)?.db, &p.tenant_id).await?;
        Ok(Some(VisitorSettings(model)))
    }

    /// The tenant's integration keys, live and revoked, newest first (never the keys
    /// themselves). Counted as 10 by the query limits.
    #[graphql(guard = "Need::Perm(Permission::AdminSettings)")]
    async fn integration_keys(&self, ctx: &Context<'_>) -> Result<Option<Vec<IntegrationKey>>> {
        let p = principal(ctx)?;
        let rows = services::shared::integration_keys::list(&state(ctx)?.db, &p).await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(IntegrationKey).collect()))
    }

    /// Every successful change to Visitor's data (visits, visitors, badges, locations, hosts,
    /// kiosks, pre-registrations, settings), newest first; Portal's entries are not shown.
    #[graphql(guard = "Need::Perm(Permission::AdminSettings)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<String, AuditEntry, AuditTotal, EmptyFields>>> {
        let p = principal(ctx)?;
        let first = page::first(first)?;
        let page =
            services::shared::audit::list(&state(ctx)?.db, &p, first, after.as_deref()).await?;
        Ok(Some(connection::from_page(
            ctx,
            page,
            AuditTotal { principal: p },
            AuditEntry,
        )?))
    }
}
