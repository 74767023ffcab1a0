//! The response budget: the real stop behind the complexity estimate of [`super::limits`].
//!
//! The estimate counts a plain list as the size its description states; a list can hold
//! more (`Location.currentVisits` up to 500), so nested lists can build far more than the
//! estimate allowed. Every list field therefore charges what it loads, as it loads it, to
//! its request's [`Budget`]: one node per item and the item's [`Weigh`]t in bytes. Past
//! `GRAPHQL_MAX_NODES` or `GRAPHQL_MAX_RESPONSE_BYTES` the list fails with
//! `QUERY_TOO_COMPLEX`, and so does every list loaded after it, so the rest of the response
//! costs next to nothing; [`super::execute`] then answers with that one error alone, before
//! the response is serialized (a mutation, whose changes are made by then, keeps its data
//! with the lists that did not fit null).
//!
//! The charge is a call in each list resolver (and in [`super::connection::from_page`]),
//! not a schema extension: an extension would put every field on async-graphql's slow path.
//! A subscription's budget is per event.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use async_graphql::Context;

use crate::{
    config::Settings,
    error::{AppError, ErrorCode},
};

/// What one request (or one subscription event) may load into its response.
#[derive(Debug)]
pub struct Budget {
    max_nodes: usize,
    max_bytes: usize,
    nodes: AtomicUsize,
    bytes: AtomicUsize,
    exceeded: AtomicBool,
}

impl Budget {
    /// A fresh budget with the limits of `settings`.
    pub fn new(settings: &Settings) -> Arc<Self> {
        Self::with_nodes(settings, settings.graphql_max_nodes)
    }

    /// A fresh budget of `max_nodes` list items (and the byte limit of `settings`).
    pub fn with_nodes(settings: &Settings, max_nodes: usize) -> Arc<Self> {
        Arc::new(Budget {
            max_nodes,
            max_bytes: settings.graphql_max_response_bytes,
            nodes: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            exceeded: AtomicBool::new(false),
        })
    }

    /// Takes `nodes` items weighing `bytes` from the budget; past either limit, refuses this
    /// and every later charge.
    pub fn charge(&self, nodes: usize, bytes: usize) -> Result<(), AppError> {
        if self.exceeded.load(Ordering::Relaxed) {
            return Err(self.refusal());
        }
        let total_nodes = self.nodes.fetch_add(nodes, Ordering::Relaxed) + nodes;
        let total_bytes = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total_nodes > self.max_nodes || total_bytes > self.max_bytes {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(self.refusal());
        }
        Ok(())
    }

    /// Refuses once the budget is spent, or when `items` more list items would overrun
    /// what is left of it (then the budget is spent); charges nothing. A DataLoader asks
    /// before it sends a batch (`0`) and after, with the list items the batch loaded, so
    /// that a request past its budget stops loading, not only returning.
    pub fn admit(&self, items: usize) -> Result<(), AppError> {
        if self.exceeded.load(Ordering::Relaxed) {
            return Err(self.refusal());
        }
        if self.nodes.load(Ordering::Relaxed).saturating_add(items) > self.max_nodes {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(self.refusal());
        }
        Ok(())
    }

    /// How many more list items the budget takes; refuses once it is spent.
    pub fn nodes_left(&self) -> Result<usize, AppError> {
        if self.exceeded.load(Ordering::Relaxed) {
            return Err(self.refusal());
        }
        Ok(self
            .max_nodes
            .saturating_sub(self.nodes.load(Ordering::Relaxed)))
    }

    /// Whether a charge was refused since the last [`Budget::reset`].
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }

    /// Starts over (a subscription's next event).
    pub fn reset(&self) {
        self.nodes.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        self.exceeded.store(false, Ordering::Relaxed);
    }

    fn refusal(&self) -> AppError {
        AppError::QueryTooComplex(self.message())
    }

    /// The one error a response over the budget answers with.
    pub fn error(&self) -> async_graphql::ServerError {
        super::limits::error(&self.message(), ErrorCode::QueryTooComplex, None)
    }

    fn message(&self) -> String {
        format!(
            "The response is too large: at most {} list items and {} bytes; ask for fewer \
             items or fewer nested lists",
            self.max_nodes, self.max_bytes
        )
    }
}

/// Charges the items of a list about to be returned to the request's budget. A request
/// without a budget (none is attached outside [`super::prepare`]) is not limited.
pub fn charge<T: Weigh>(ctx: &Context<'_>, items: &[T]) -> Result<(), AppError> {
    charge_with(ctx, items.len(), || items.iter().map(Weigh::weight).sum())
}

/// Refuses, before the work, a list of `items` that the request's budget cannot hold (see
/// [`Budget::admit`]); charges nothing.
pub fn admit(ctx: &Context<'_>, items: usize) -> Result<(), AppError> {
    match ctx.data_opt::<Arc<Budget>>() {
        Some(budget) => budget.admit(items),
        None => Ok(()),
    }
}

/// Charges `nodes` items weighing `bytes()` to the request's budget.
pub fn charge_with(
    ctx: &Context<'_>,
    nodes: usize,
    bytes: impl FnOnce() -> usize,
) -> Result<(), AppError> {
    match ctx.data_opt::<Arc<Budget>>() {
        Some(budget) => budget.charge(nodes, bytes()),
        None => Ok(()),
    }
}

/// What an item adds to a response, roughly, in bytes: a fixed part for its scalar fields
/// and the length of its text. An estimate, not a measurement: it only needs to grow with
/// what the response will hold.
pub trait Weigh {
    /// The estimate in bytes.
    fn weight(&self) -> usize;
}

/// What a scalar field (id, time, flag, enum) and its name add to a response.
const FIELD: usize = 48;

fn opt(text: &Option<String>) -> usize {
    text.as_ref().map_or(0, String::len)
}

/// Implements [`Weigh`] for a row: [`FIELD`] per field plus the length of its text fields.
macro_rules! weigh {
    ($ty:ty, fields: $n:expr, text: [$($t:ident),*], optional: [$($o:ident),*]) => {
        impl Weigh for $ty {
            fn weight(&self) -> usize {
                $n * FIELD $(+ self.$t.len())* $(+ opt(&self.$o))*
            }
        }
    };
}

weigh!(entities::locations::Model, fields: 6, text: [name, timezone], optional: [address]);
weigh!(entities::kiosks::Model, fields: 6, text: [name], optional: []);
weigh!(entities::visits::Model, fields: 9, text: [], optional: [purpose]);
weigh!(entities::hosts::Model, fields: 8, text: [name], optional: [email, phone, department]);
weigh!(entities::badges::Model, fields: 5, text: [number], optional: []);
weigh!(entities::pre_registrations::Model, fields: 7, text: [], optional: []);
weigh!(entities::client_users::Model, fields: 8, text: [email, name], optional: []);
weigh!(entities::ticket_comments::Model, fields: 5, text: [author, body], optional: []);
weigh!(entities::tickets::Model, fields: 9, text: [subject, description], optional: [sync_error]);
weigh!(entities::invoices::Model, fields: 9, text: [number, currency, total, balance], optional: [pdf_url]);
weigh!(entities::audit_log::Model, fields: 5, text: [actor, action], optional: [target, details]);
weigh!(entities::integration_keys::Model, fields: 5, text: [name], optional: []);
weigh!(entities::signing_requests::Model, fields: 8, text: [title, document_url], optional: []);

weigh!(crate::services::portal::mission::Donation, fields: 6, text: [id, amount, currency, date], optional: [fund, method]);
weigh!(crate::services::portal::mission::FundTotal, fields: 3, text: [fund, total, currency], optional: []);
weigh!(crate::services::portal::mission::MissionEvent, fields: 5, text: [id, title], optional: [location]);
weigh!(crate::services::portal::mission::MissionGroup, fields: 4, text: [id, name], optional: [description]);
weigh!(crate::services::portal::mission::DirectoryEntry, fields: 3, text: [member_id, name], optional: [email]);
weigh!(crate::services::portal::mission::PrayerRequest, fields: 4, text: [id, body], optional: []);

impl Weigh for crate::services::shared::health::IntegrationStatus {
    fn weight(&self) -> usize {
        8 * FIELD
            + self.name.len()
            + opt(&self.last_error)
            + self.missing_settings.iter().map(|n| n.len()).sum::<usize>()
    }
}

impl Weigh for crate::services::visitor::search::Hit {
    fn weight(&self) -> usize {
        match self {
            Self::Visit(found) => {
                found.visit.weight()
                    + 3 * FIELD
                    + found.visitor.name.len()
                    + opt(&found.visitor.company)
                    + found.location.weight()
            }
            Self::Location(location) => location.weight(),
        }
    }
}

impl Weigh
    for (
        entities::signing_requests::Model,
        Option<entities::acknowledgements::Model>,
    )
{
    fn weight(&self) -> usize {
        self.0.weight()
            + self
                .1
                .as_ref()
                .map_or(0, |ack| 4 * FIELD + ack.signature_name.len())
    }
}

/// What a connection's edge adds beside its node: the cursor and the edge object.
pub const EDGE: usize = 2 * FIELD;
