//! Portal GraphQL: tickets. A client user lists, reads, opens and comments its own
//! company's tickets; the services confine every query to it, and `Ticket.comments` goes
//! through a per-request DataLoader so a page of tickets costs a constant number of
//! statements.

use std::{
    collections::HashMap,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_graphql::{
    Context, ID, InputObject, Object, Result,
    connection::{Connection, EmptyFields},
    dataloader::{DataLoader, Loader},
};
use chrono::{DateTime, Utc};
use sea_orm::Order;

use crate::{
    app::AppState,
    auth::{Permission, Principal},
    error::AppError,
    graphql::enums::{TicketPriority, TicketStatus, TicketSyncState},
    graphql::guard::{Need, principal},
    graphql::visitor::{
        loaders::{Scope, first_per_key, make},
        query::state,
        types::load_err,
    },
    services::{self, shared::page},
};

/// How many comments `Ticket.comments` shows: the latest ones, oldest first.
pub const TICKET_COMMENTS: usize = page::MAX_LIST;

/// A ticket's latest [`TICKET_COMMENTS`] comments, one statement per batch of tickets.
pub struct CommentsByTicket(Scope);

impl Loader<String> for CommentsByTicket {
    type Value = Vec<entities::ticket_comments::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        use entities::ticket_comments::{Column, Entity};
        let rows = first_per_key::<Entity>(
            &self.0,
            Column::TenantId,
            Column::TicketId,
            keys,
            sea_orm::Condition::all(),
            &[(Column::CreatedAt, Order::Desc), (Column::Id, Order::Desc)],
            TICKET_COMMENTS,
        )
        .await?;
        let mut map: HashMap<String, Self::Value> = HashMap::new();
        // Newest first from the database (so the cut keeps the latest); shown oldest first.
        for row in rows.into_iter().rev() {
            map.entry(row.ticket_id.clone()).or_default().push(row);
        }
        Ok(map)
    }
}

/// The request's ticket loaders, created on first use.
pub struct TicketLoaders {
    scope: Scope,
    delay: Duration,
    activity: Arc<AtomicU64>,
    comments: OnceLock<DataLoader<CommentsByTicket>>,
}

impl TicketLoaders {
    /// Loaders for one request of `principal`.
    pub fn new(state: &AppState, principal: Option<&Principal>) -> Self {
        TicketLoaders {
            scope: Scope::new(state, principal),
            delay: state.settings.dataloader_delay,
            activity: Arc::new(AtomicU64::new(0)),
            comments: OnceLock::new(),
        }
    }

    /// The comments loader; every call counts as activity, so the batch waits for the page.
    pub fn comments(&self) -> &DataLoader<CommentsByTicket> {
        self.activity.fetch_add(1, Ordering::AcqRel);
        self.comments.get_or_init(|| {
            make(
                CommentsByTicket(self.scope.clone()),
                self.delay,
                self.activity.clone(),
            )
        })
    }
}

/// A support ticket, synced with PSA.
pub struct Ticket(pub entities::tickets::Model);

#[Object]
impl Ticket {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// PSA's id, once the ticket has reached PSA.
    async fn psa_ticket_id(&self) -> Option<&str> {
        self.0.psa_ticket_id.as_deref()
    }
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// PSA's status (`NEW` until PSA says otherwise).
    async fn status(&self) -> TicketStatus {
        self.0.status.into()
    }
    async fn priority(&self) -> TicketPriority {
        self.0.priority.into()
    }
    /// Whether the ticket has reached PSA; `FAILED` ones are retried with backoff.
    async fn sync_state(&self) -> TicketSyncState {
        self.0.sync_state.into()
    }
    /// Why the last push failed (step and HTTP status), while `syncState` is `FAILED`.
    async fn sync_error(&self) -> Option<&str> {
        self.0.sync_error.as_deref()
    }
    /// The latest 500 comments, oldest first: the client's own and PSA technicians'.
    async fn comments(&self, ctx: &Context<'_>) -> Result<Vec<TicketComment>> {
        let loaders = ctx
            .data::<TicketLoaders>()
            .map_err(|_| AppError::internal("ticket loaders missing from request"))?;
        let rows = loaders
            .comments()
            .load_one(self.0.id.clone())
            .await
            .map_err(load_err)?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(TicketComment)
            .collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A comment on a ticket.
pub struct TicketComment(pub entities::ticket_comments::Model);

#[Object]
impl TicketComment {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The author's display name.
    async fn author(&self) -> &str {
        &self.0.author
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Written by a technician in PSA.
    async fn from_psa(&self) -> bool {
        self.0.from_psa
    }
}

/// `totalCount` of a ticket connection, counted only when asked for.
pub struct TicketTotal {
    principal: Arc<Principal>,
    status: Option<TicketStatus>,
}

#[Object]
impl TicketTotal {
    /// Tickets matching the filter, on every page.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(services::portal::tickets::count(
            &state(ctx)?.db,
            &self.principal,
            self.status.map(Into::into),
        )
        .await?)
    }
}

/// Ticket query fields.
#[derive(Default)]
pub struct TicketsQuery;

#[Object]
impl TicketsQuery {
    /// The caller's company's tickets, newest first.
    #[graphql(
        guard = "Need::Perm(Permission::TicketsView)",
        complexity = "first.unwrap_or(20).clamp(0, 100) as usize * child_complexity + 1"
    )]
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
        Ok(Some(crate::graphql::connection(
            page,
            TicketTotal {
                principal: p,
                status,
            },
            Ticket,
        )))
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

/// A new ticket.
#[derive(InputObject)]
pub struct CreateTicketInput {
    /// At most 200 characters.
    subject: String,
    /// At most 10,000 characters.
    description: String,
    #[graphql(default_with = "TicketPriority::Normal")]
    priority: TicketPriority,
}

/// Ticket mutations: both store locally (`syncState: PENDING`); the ticket sync pushes.
#[derive(Default)]
pub struct TicketsMutation;

#[Object]
impl TicketsMutation {
    /// Opens a ticket for the caller's company.
    #[graphql(guard = "Need::Perm(Permission::TicketsCreate)")]
    async fn create_ticket(
        &self,
        ctx: &Context<'_>,
        input: CreateTicketInput,
    ) -> Result<Option<Ticket>> {
        let p = principal(ctx)?;
        let model = services::portal::tickets::create(
            state(ctx)?,
            &p,
            services::portal::tickets::NewTicket {
                subject: input.subject,
                description: input.description,
                priority: input.priority.into(),
            },
        )
        .await?;
        Ok(Some(Ticket(model)))
    }

    /// Comments a ticket of the caller's company (body at most 10,000 characters).
    #[graphql(guard = "Need::Perm(Permission::TicketsCreate)")]
    async fn add_ticket_comment(
        &self,
        ctx: &Context<'_>,
        ticket_id: ID,
        body: String,
    ) -> Result<Option<TicketComment>> {
        let p = principal(ctx)?;
        let model =
            services::portal::tickets::add_comment(state(ctx)?, &p, &ticket_id, &body).await?;
        Ok(Some(TicketComment(model)))
    }
}
