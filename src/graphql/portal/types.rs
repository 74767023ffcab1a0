//! Portal GraphQL object types, built from entity models: client users, tickets and their
//! comments, invoices, signing requests and signatures, and the `totalCount` of the Portal
//! connections; and Mission's types, built from what the Mission service read live.
//! `Ticket.comments` goes through the request's DataLoaders, so a page of tickets costs a
//! constant number of statements.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::{
    auth::{Permission, Principal},
    graphql::enums::{InvoiceStatus, SigningStatus, TicketPriority, TicketStatus, TicketSyncState},
    graphql::guard::Need,
    graphql::{
        context::{loaders, state},
        loaders::load_err,
        scalars::Money,
    },
    services::{
        self,
        portal::{client_users, mission, signing},
    },
};

/// What a client user may do: `CLIENT_ADMIN` every `portal.*` permission, `CLIENT_USER` all
/// but `portal.users.manage`.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientRole {
    /// The company's administrator: also manages the company's client users.
    ClientAdmin,
    /// An ordinary client user.
    ClientUser,
}

impl ClientRole {
    pub(super) fn as_stored(self) -> client_users::ClientUserRole {
        match self {
            ClientRole::ClientAdmin => client_users::ClientUserRole::ClientAdmin,
            ClientRole::ClientUser => client_users::ClientUserRole::ClientUser,
        }
    }

    fn from_stored(role: client_users::ClientUserRole) -> ClientRole {
        match role {
            client_users::ClientUserRole::ClientAdmin => ClientRole::ClientAdmin,
            client_users::ClientUserRole::ClientUser => ClientRole::ClientUser,
        }
    }
}

/// A Portal client user of the caller's company.
pub struct ClientUser(entities::client_users::Model);

impl From<entities::client_users::Model> for ClientUser {
    fn from(model: entities::client_users::Model) -> Self {
        ClientUser(model)
    }
}

#[Object]
impl ClientUser {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Lower-cased.
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn role(&self) -> ClientRole {
        ClientRole::from_stored(self.0.role)
    }
    /// Whether the user may sign in (PSA turns portal access on and off).
    async fn active(&self) -> bool {
        self.0.active
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
    /// The latest 500 comments, oldest first: the client's own and PSA technicians'. Counted
    /// as 20 by the query limits.
    async fn comments(&self, ctx: &Context<'_>) -> Result<Vec<TicketComment>> {
        let rows = loaders(ctx)?
            .comments_by_ticket()
            .load_one(self.0.id.clone())
            .await
            .map_err(load_err)?;
        let rows = rows.unwrap_or_default();
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(rows.into_iter().map(TicketComment).collect())
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
    pub(super) principal: Arc<Principal>,
    pub(super) status: Option<TicketStatus>,
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

/// An invoice of the client's company, as Books last sent it.
pub struct Invoice(pub entities::invoices::Model);

impl From<entities::invoices::Model> for Invoice {
    fn from(model: entities::invoices::Model) -> Self {
        Invoice(model)
    }
}

#[Object]
impl Invoice {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The number Books gave it.
    async fn number(&self) -> &str {
        &self.0.number
    }
    async fn status(&self) -> InvoiceStatus {
        self.0.status.into()
    }
    /// The invoice total, exact.
    async fn total(&self) -> Money {
        Money::new(&self.0.total, &self.0.currency)
    }
    /// What is left to pay, exact.
    async fn balance(&self) -> Money {
        Money::new(&self.0.balance, &self.0.currency)
    }
    async fn issued_at(&self) -> DateTime<Utc> {
        self.0.issued_at
    }
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    /// Where Books serves the PDF.
    #[graphql(guard = "Need::Perm(Permission::InvoicesView)")]
    async fn pdf_url(&self) -> Option<&str> {
        self.0.pdf_url.as_deref()
    }
}

/// `totalCount` of an invoice connection, counted only when asked for.
pub struct InvoiceTotal {
    pub(super) principal: Arc<Principal>,
    pub(super) status: Option<InvoiceStatus>,
}

#[Object]
impl InvoiceTotal {
    /// Invoices matching the filter, on every page.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(services::portal::invoices::count(
            &state(ctx)?.db,
            &self.principal,
            self.status.map(Into::into),
        )
        .await?)
    }
}

/// A policy Legal asked the caller to sign.
pub struct SigningRequest {
    request: entities::signing_requests::Model,
    acknowledgement: Option<entities::acknowledgements::Model>,
    /// When the status was read, so that one response shows one consistent status.
    at: DateTime<Utc>,
}

impl From<signing::RequestWithAck> for SigningRequest {
    fn from((request, acknowledgement): signing::RequestWithAck) -> Self {
        Self {
            request,
            acknowledgement,
            at: Utc::now(),
        }
    }
}

#[Object]
impl SigningRequest {
    async fn id(&self) -> ID {
        ID(self.request.id.clone())
    }
    /// Legal's policy id.
    async fn policy_id(&self) -> &str {
        &self.request.policy_id
    }
    async fn version(&self) -> i32 {
        self.request.version
    }
    async fn title(&self) -> &str {
        &self.request.title
    }
    /// Where the document is read.
    async fn document_url(&self) -> &str {
        &self.request.document_url
    }
    /// When the signature is due; past it, an unsigned request is `EXPIRED`.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.request.due_at
    }
    /// `EXPIRED` for a pending request past its `dueAt`: it can no longer be signed.
    async fn status(&self) -> SigningStatus {
        signing::SigningStatus::of(&self.request, self.at).into()
    }
    /// The signature, once signed.
    async fn acknowledgement(&self) -> Option<Acknowledgement> {
        self.acknowledgement.clone().map(Acknowledgement)
    }
}

/// A recorded signature.
pub struct Acknowledgement(pub entities::acknowledgements::Model);

impl From<entities::acknowledgements::Model> for Acknowledgement {
    fn from(model: entities::acknowledgements::Model) -> Self {
        Self(model)
    }
}

#[Object]
impl Acknowledgement {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn signed_at(&self) -> DateTime<Utc> {
        self.0.signed_at
    }
    /// The name the signer typed.
    async fn signature_name(&self) -> &str {
        &self.0.signature_name
    }
    /// SHA-256 (hex) of the document as signed.
    async fn content_sha256(&self) -> &str {
        &self.0.content_sha256
    }
}

/// The request's Mission reads, shared by every Mission field of the request.
pub(super) fn mission_calls<'a>(
    ctx: &Context<'a>,
) -> Result<&'a services::portal::mission::RequestCalls> {
    ctx.data::<services::portal::mission::RequestCalls>()
        .map_err(|_| crate::error::AppError::internal("Mission calls missing from request").into())
}

/// The caller's church, read live from Mission with the caller's tenant and member id and
/// never stored. Each field is asked of Mission when selected, and one request asks Mission
/// for each resource once, however many fields or aliases select it. A field Mission does
/// not answer in time, or answers with something onegraph cannot read, is `null` with
/// `UPSTREAM_UNAVAILABLE`; the other fields are served.
pub struct Mission(pub(super) mission::Session);

#[Object]
impl Mission {
    /// The caller's gifts, optionally between `from` and `to` (at most 500; narrow with
    /// them). Counted as 50 by the query limits.
    async fn donations(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<Vec<Donation>>> {
        let rows = self.0.donations(mission_calls(ctx)?, from, to).await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(Donation).collect()))
    }

    /// The caller's giving in `year` (Mission's current year when absent; 1900 to 2200).
    async fn donation_stats(
        &self,
        ctx: &Context<'_>,
        year: Option<i32>,
    ) -> Result<Option<DonationStats>> {
        Ok(Some(DonationStats(
            self.0.donation_stats(mission_calls(ctx)?, year).await?,
        )))
    }

    /// The church's events, optionally between `from` and `to` (at most 500; narrow with
    /// them). Counted as 20 by the query limits.
    async fn events(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<Vec<MissionEvent>>> {
        let rows = self.0.events(mission_calls(ctx)?, from, to).await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(MissionEvent).collect()))
    }

    /// The church's groups (at most 500). Counted as 20 by the query limits.
    async fn groups(&self, ctx: &Context<'_>) -> Result<Option<Vec<MissionGroup>>> {
        let rows = self.0.groups(mission_calls(ctx)?).await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(MissionGroup).collect()))
    }

    /// The church's member directory as Mission shows it to the caller, narrowed by
    /// `search` (at most 200 characters; at most 500 entries). Counted as 50 by the query
    /// limits.
    async fn directory(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
    ) -> Result<Option<Vec<DirectoryEntry>>> {
        let rows = self
            .0
            .directory(mission_calls(ctx)?, search.as_deref())
            .await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(DirectoryEntry).collect()))
    }

    /// The prayer requests Mission shows the caller (at most 500). Counted as 20 by the
    /// query limits.
    async fn prayer_requests(&self, ctx: &Context<'_>) -> Result<Option<Vec<PrayerRequest>>> {
        let rows = self.0.prayer_requests(mission_calls(ctx)?).await?;
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(Some(rows.into_iter().map(PrayerRequest).collect()))
    }
}

/// A gift to the church, as Mission records it.
pub struct Donation(mission::Donation);

#[Object]
impl Donation {
    /// Mission's id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The amount, exact.
    async fn amount(&self) -> Money {
        Money::new(&self.0.amount, &self.0.currency)
    }
    /// The fund given to.
    async fn fund(&self) -> Option<&str> {
        self.0.fund.as_deref()
    }
    /// The day of the gift, as Mission writes it (`YYYY-MM-DD`).
    async fn date(&self) -> &str {
        &self.0.date
    }
    /// How it was given (card, cash, …), as Mission writes it.
    async fn method(&self) -> Option<&str> {
        self.0.method.as_deref()
    }
}

/// The caller's giving in one year.
pub struct DonationStats(mission::DonationStats);

#[Object]
impl DonationStats {
    /// Everything given, exact.
    async fn total(&self) -> Money {
        Money::new(&self.0.total, &self.0.currency)
    }
    /// How many gifts.
    async fn count(&self) -> i32 {
        self.0.count
    }
    /// The total per fund. Counted as 10 by the query limits.
    async fn by_fund(&self, ctx: &Context<'_>) -> Result<Vec<FundTotal>> {
        let rows = self.0.by_fund.clone();
        crate::graphql::budget::charge(ctx, &rows)?;
        Ok(rows.into_iter().map(FundTotal).collect())
    }
}

/// What was given to one fund.
pub struct FundTotal(mission::FundTotal);

#[Object]
impl FundTotal {
    /// The fund.
    async fn fund(&self) -> &str {
        &self.0.fund
    }
    /// Its total, exact.
    async fn total(&self) -> Money {
        Money::new(&self.0.total, &self.0.currency)
    }
}

/// An event of the church.
pub struct MissionEvent(mission::MissionEvent);

#[Object]
impl MissionEvent {
    /// Mission's id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.ends_at
    }
    /// Where it takes place.
    async fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }
}

/// A group of the church.
pub struct MissionGroup(mission::MissionGroup);

#[Object]
impl MissionGroup {
    /// Mission's id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// How many members it has, when Mission says.
    async fn member_count(&self) -> Option<i32> {
        self.0.member_count
    }
}

/// A member in the church's directory.
pub struct DirectoryEntry(mission::DirectoryEntry);

#[Object]
impl DirectoryEntry {
    /// Mission's member id.
    async fn member_id(&self) -> ID {
        ID(self.0.member_id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The member's e-mail, when the member shares it.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
}

/// A prayer request.
pub struct PrayerRequest(pub(super) mission::PrayerRequest);

#[Object]
impl PrayerRequest {
    /// Mission's id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// Whether only the church's staff see it.
    async fn is_private(&self) -> bool {
        self.0.is_private
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
