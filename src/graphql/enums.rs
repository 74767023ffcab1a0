//! The GraphQL enums. Each mirrors a service enum (`remote`), which knows nothing of GraphQL;
//! async-graphql derives the conversions both ways, so resolvers map with `.into()`.

use async_graphql::Enum;

use crate::services;

/// Where a badge is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "BadgeStatus",
    remote = "services::visitor::badges::BadgeStatus"
)]
pub enum BadgeStatus {
    /// On the shelf.
    Available,
    /// Worn by a visitor with an open visit.
    Assigned,
    /// Out of service.
    Retired,
}

/// Where an invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "InvoiceStatus",
    remote = "services::portal::invoices::InvoiceStatus"
)]
pub enum InvoiceStatus {
    /// Issued and not yet paid.
    Open,
    /// Paid in full.
    Paid,
    /// Past its due date and not paid.
    Overdue,
    /// Cancelled.
    Void,
}

/// Kind of place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "LocationType",
    remote = "services::visitor::locations::LocationType"
)]
pub enum LocationType {
    /// An office.
    Office,
    /// A warehouse.
    Warehouse,
    /// A school.
    School,
    /// A church.
    Church,
    /// A campus.
    Campus,
    /// A site.
    Site,
    /// Anything else.
    Other,
}

/// Where a pre-registration is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "PreRegistrationStatus",
    remote = "services::visitor::pre_registrations::PreRegistrationStatus"
)]
pub enum PreRegistrationStatus {
    /// The visitor is expected; the code is live.
    Expected,
    /// The visitor checked in with the code.
    CheckedIn,
    /// Cancelled before use.
    Cancelled,
    /// Not used within 24 hours of the expected time (derived, never stored).
    Expired,
}

/// Where a signing request stands. A pending request past its `dueAt` reads as `EXPIRED`
/// and can no longer be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "SigningStatus",
    remote = "services::portal::signing::SigningStatus"
)]
pub enum SigningStatus {
    /// Waiting for the signature.
    Pending,
    /// Signed: the acknowledgement is recorded.
    Signed,
    /// Past its due date unsigned; it cannot be signed any more.
    Expired,
}

/// Where a ticket stands in PSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "TicketStatus",
    remote = "services::portal::tickets::TicketStatus"
)]
pub enum TicketStatus {
    /// Opened, not yet looked at.
    New,
    /// Acknowledged.
    Open,
    /// Being worked on.
    InProgress,
    /// Waiting for the client's answer.
    WaitingOnClient,
    /// Solved.
    Resolved,
    /// Closed.
    Closed,
}

/// How urgent a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "TicketPriority",
    remote = "services::portal::tickets::TicketPriority"
)]
pub enum TicketPriority {
    /// Low.
    Low,
    /// Normal (the default).
    Normal,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

/// Whether a ticket has reached PSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "TicketSyncState",
    remote = "services::portal::tickets::TicketSyncState"
)]
pub enum TicketSyncState {
    /// Stored in Portal, waiting for the next sync.
    Pending,
    /// PSA has it (and its id).
    Synced,
    /// PSA refused it; retried later with backoff (see `syncError`).
    Failed,
}

/// Whether a visit is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "VisitStatus",
    remote = "services::visitor::visits::VisitStatus"
)]
pub enum VisitStatus {
    /// On site.
    CheckedIn,
    /// Left.
    CheckedOut,
}

/// The channel a check-in came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "CheckInSource",
    remote = "services::visitor::visits::CheckInSource"
)]
pub enum CheckInSource {
    /// A staff user.
    Staff,
    /// A kiosk.
    Kiosk,
}

/// The kind of caller, as `Viewer.kind` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "PrincipalKind", remote = "crate::auth::PrincipalKind")]
pub enum PrincipalKind {
    /// A Visitor staff user signed in through Hub.
    Staff,
    /// A Portal client user.
    Client,
    /// A paired kiosk.
    Kiosk,
    /// Another product calling with an integration key.
    Integration,
}
