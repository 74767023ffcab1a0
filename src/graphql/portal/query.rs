//! Portal queries: the company's client users, tickets and invoices, the caller's own
//! signing requests, and the caller's church in Mission. Resolvers take the principal from
//! the context, call a service (which confines the query to the caller's tenant, company
//! and, for signing, user; Mission to the caller's member id) and convert.

use async_graphql::{
    Context, ID, Object, Result,
    connection::{Connection, EmptyFields},
};

use super::types::{
    ClientUser, Invoice, InvoiceTotal, Mission, SigningRequest, Ticket, TicketTotal, mission_calls,
};
use crate::{
    auth::Permission,
    graphql::enums::{InvoiceStatus, SigningStatus, TicketStatus},
    graphql::guard::{Need, principal},
    graphql::{connection, context::state},
    services::{self, portal::signing, shared::page},
};

/// Client-user queries.
#[derive(Default)]
pub struct UsersQuery;

#[Object]
impl UsersQuery {
    /// The client users of the caller's company, by name (at most 500). Counted as 20 by the
    /// query limits.
    #[graphql(guard = "Need::Perm(Permission::UsersManage)")]
    async fn client_users(&self, ctx: &Context<'_>) -> Result<Option<Vec<ClientUser>>> {
        let rows = services::portal::identity::list(state(ctx)?, &*principal(ctx)?).await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(ClientUser::from).collect()))
    }
}

/// Portal invoice query fields.
#[derive(Default)]
pub struct InvoiceQuery;

#[Object]
impl InvoiceQuery {
    /// The client's company's invoices, newest issued first.
    #[graphql(guard = "Need::Perm(Permission::InvoicesView)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        status: Option<InvoiceStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<String, Invoice, InvoiceTotal, EmptyFields>>> {
        let p = principal(ctx)?;
        let first = page::first(first)?;
        let page = services::portal::invoices::list(
            &state(ctx)?.db,
            &p,
            status.map(Into::into),
            first,
            after.as_deref(),
        )
        .await?;
        Ok(Some(connection::from_page(
            ctx,
            page,
            InvoiceTotal {
                principal: p,
                status,
            },
            Invoice,
        )?))
    }

    /// One invoice of the client's company (`null` for any other id).
    #[graphql(guard = "Need::Perm(Permission::InvoicesView)")]
    async fn invoice(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Invoice>> {
        let p = principal(ctx)?;
        Ok(services::portal::invoices::get(&state(ctx)?.db, &p, &id)
            .await?
            .map(Invoice))
    }
}

/// Ticket query fields.
#[derive(Default)]
pub struct TicketsQuery;

#[Object]
impl TicketsQuery {
    /// The caller's company's tickets, newest first.
    #[graphql(guard = "Need::Perm(Permission::TicketsView)")]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        status: Option<TicketStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<String, Ticket, TicketTotal, EmptyFields>>> {
        let p = principal(ctx)?;
        let first = page::first(first)?;
        let page = services::portal::tickets::list(
            &state(ctx)?.db,
            &p,
            status.map(Into::into),
            first,
            after.as_deref(),
        )
        .await?;
        Ok(Some(connection::from_page(
            ctx,
            page,
            TicketTotal {
                principal: p,
                status,
            },
            Ticket,
        )?))
    }

    /// One ticket of the caller's company.
    #[graphql(guard = "Need::Perm(Permission::TicketsView)")]
    async fn ticket(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Ticket>> {
        let p = principal(ctx)?;
        Ok(services::portal::tickets::get(&state(ctx)?.db, &p, &id)
            .await?
            .map(Ticket))
    }
}

/// Signing query fields.
#[derive(Default)]
pub struct SigningQuery;

#[Object]
impl SigningQuery {
    /// The caller's own signing requests, newest first (at most 500; narrow with
    /// `status`). Counted as 20 by the query limits.
    #[graphql(guard = "Need::Perm(Permission::SigningSign)")]
    async fn signing_requests(
        &self,
        ctx: &Context<'_>,
        status: Option<SigningStatus>,
    ) -> Result<Option<Vec<SigningRequest>>> {
        let p = principal(ctx)?;
        let rows = signing::list(&state(ctx)?.db, &p, status.map(Into::into)).await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(SigningRequest::from).collect()))
    }
}

/// Mission query fields.
#[derive(Default)]
pub struct MissionQuery;

#[Object]
impl MissionQuery {
    /// The caller's church in Mission, read live with the caller's Mission member id (never
    /// stored). `null` with `MISSION_MEMBER_NOT_LINKED` for a caller whose account has no
    /// member id, and with `UPSTREAM_NOT_CONFIGURED` when this server has no Mission
    /// settings.
    #[graphql(guard = "Need::Perm(Permission::MissionView)")]
    async fn mission(&self, ctx: &Context<'_>) -> Result<Option<Mission>> {
        let state = state(ctx)?;
        let session = services::portal::mission::open(
            state,
            &state.mission,
            mission_calls(ctx)?,
            &*principal(ctx)?,
        )
        .await?;
        Ok(Some(Mission(session)))
    }
}
