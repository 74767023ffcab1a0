//! Portal tickets and their comments: a client user opens and comments tickets of its own
//! company; both are stored locally as `pending` and reach PSA only through the ticket-sync
//! job (`jobs::tickets`), which also brings PSA's status changes and technician comments
//! back. This module holds the rules and queries of both sides.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveEnum,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, OnConflict},
};

use crate::services::{new_id, now, shared::audit, shared::page, shared::validate};
use crate::{
    auth::{Permission, Principal},
    domain::Domain,
    error::{AppError, AppResult},
};
use entities::ticket_comments::{self, Column as C, Entity as Comments};
use entities::tickets::{self, Column, Entity as Tickets};

/// Longest subject accepted.
pub const MAX_SUBJECT: usize = 200;
/// Longest description or comment accepted.
pub const MAX_BODY: usize = 10_000;

/// Where a ticket stands in PSA, how urgent it is, and whether it (or a comment) has reached
/// PSA: the stored columns' own types. Status and priority are stored in PSA's lower-case
/// form.
pub use entities::tickets::{TicketPriority, TicketStatus, TicketSyncState};

/// Parses PSA's lower-case ticket status; `None` for anything else.
pub fn status_from_psa(text: &str) -> Option<TicketStatus> {
    TicketStatus::try_from_value(&text.to_owned()).ok()
}

/// A new ticket, as the client typed it.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// Subject line (at most 200 characters).
    pub subject: String,
    /// Description (at most 10,000 characters).
    pub description: String,
    /// Priority.
    pub priority: TicketPriority,
}

/// The rows a principal may see: its tenant's, and only its own company's. A principal
/// without a company (none but client users carry one) sees no tickets at all.
fn visible(principal: &Principal) -> Condition {
    let cond = Condition::all().add(Column::TenantId.eq(&principal.tenant_id));
    match &principal.company_id {
        Some(company) => cond.add(Column::CompanyId.eq(company)),
        None => cond.add(Column::Id.is_null()),
    }
}

fn list_condition(principal: &Principal, status: Option<TicketStatus>) -> Condition {
    let mut cond = visible(principal);
    if let Some(status) = status {
        cond = cond.add(Column::Status.eq(status));
    }
    cond
}

/// One page of the caller's company's tickets, newest first.
pub async fn list(
    db: &DatabaseConnection,
    principal: &Principal,
    status: Option<TicketStatus>,
    first: usize,
    after: Option<&str>,
) -> AppResult<page::Page<tickets::Model>> {
    page::newest_first::<Tickets>(
        db,
        list_condition(principal, status),
        (Column::CreatedAt, Column::Id),
        first,
        after,
        |t| (t.created_at, &t.id),
    )
    .await
}

/// How many of the caller's company's tickets match `status`.
pub async fn count(
    db: &DatabaseConnection,
    principal: &Principal,
    status: Option<TicketStatus>,
) -> AppResult<u64> {
    Ok(Tickets::find()
        .filter(list_condition(principal, status))
        .count(db)
        .await?)
}

/// One ticket of the caller's company; `None` for any other id.
pub async fn get(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: &str,
) -> AppResult<Option<tickets::Model>> {
    let Ok(id) = validate::id(id, "Ticket") else {
        return Ok(None);
    };
    Ok(Tickets::find_by_id(id)
        .filter(visible(principal))
        .one(db)
        .await?)
}

/// A required, trimmed text of at most `max` characters. Unlike names, multi-line text may
/// carry `\r` (Windows line ends) besides `\n` and `\t`; other control characters are refused.
fn text(value: &str, field: &str, max: usize) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::bad_input(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(AppError::bad_input(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::bad_input(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(value.to_owned())
}

/// The client user behind `principal` (its name and e-mail sign comments and tickets).
async fn author(
    db: &impl ConnectionTrait,
    principal: &Principal,
) -> AppResult<Option<entities::client_users::Model>> {
    let Some(user_id) = &principal.user_id else {
        return Ok(None);
    };
    Ok(entities::client_users::Entity::find_by_id(user_id.clone())
        .filter(entities::client_users::Column::TenantId.eq(&principal.tenant_id))
        .one(db)
        .await?)
}

fn require_create(principal: &Principal) -> AppResult<&str> {
    if !principal.can(Permission::TicketsCreate) {
        return Err(AppError::Forbidden {
            permission: Some(Permission::TicketsCreate.as_str()),
        });
    }
    // Tickets belong to a company: only client users (who carry one) open them.
    principal.company_id.as_deref().ok_or(AppError::Forbidden {
        permission: Some(Permission::TicketsCreate.as_str()),
    })
}

/// Opens a ticket for the caller's company: stored as `new` / `pending` with its audit entry
/// in one transaction; the ticket-sync job pushes it to PSA.
pub async fn create(
    ctx: &Domain,
    principal: &Principal,
    input: NewTicket,
) -> AppResult<tickets::Model> {
    let company = require_create(principal)?.to_owned();
    let subject = text(&input.subject, "subject", MAX_SUBJECT)?;
    let description = text(&input.description, "description", MAX_BODY)?;
    let at = now();
    let model = tickets::Model {
        id: new_id(),
        tenant_id: principal.tenant_id.clone(),
        company_id: company,
        client_user_id: principal.user_id.clone(),
        psa_ticket_id: None,
        subject,
        description,
        status: TicketStatus::New,
        priority: input.priority,
        sync_state: TicketSyncState::Pending,
        sync_error: None,
        sync_attempts: 0,
        next_sync_at: None,
        created_at: at,
        updated_at: at,
    };
    let txn = crate::db::begin_write(&ctx.db).await?;
    Tickets::insert(model.clone().into_active_model())
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        &principal.tenant_id,
        &principal.actor(),
        "ticket.create",
        Some(&model.id),
        Some(model.subject.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Adds the caller's comment to a ticket of its company: stored as `pending` with its audit
/// entry in one transaction; the sync job pushes it once the ticket has its PSA id.
pub async fn add_comment(
    ctx: &Domain,
    principal: &Principal,
    ticket_id: &str,
    body: &str,
) -> AppResult<ticket_comments::Model> {
    require_create(principal)?;
    let body = text(body, "body", MAX_BODY)?;
    let txn = crate::db::begin_write(&ctx.db).await?;
    let ticket = get(&txn, principal, ticket_id)
        .await?
        .ok_or(AppError::NotFound("Ticket"))?;
    let user = author(&txn, principal).await?;
    let at = now();
    let model = ticket_comments::Model {
        id: new_id(),
        tenant_id: ticket.tenant_id.clone(),
        ticket_id: ticket.id.clone(),
        client_user_id: principal.user_id.clone(),
        author: user
            .as_ref()
            .map_or_else(|| "Client".to_owned(), |u| u.name.clone()),
        author_email: user.map(|u| u.email),
        body,
        from_psa: false,
        psa_comment_id: None,
        sync_state: TicketSyncState::Pending,
        sync_error: None,
        sync_attempts: 0,
        next_sync_at: None,
        created_at: at,
    };
    Comments::insert(model.clone().into_active_model())
        .exec_without_returning(&txn)
        .await?;
    Tickets::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(at))
        .filter(Column::Id.eq(&ticket.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        &ticket.tenant_id,
        &principal.actor(),
        "ticket.comment",
        Some(&ticket.id),
        Some(model.id.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

// ---- The sync side (called by `jobs::tickets`, never by resolvers). ----

/// The most tickets (and, separately, comments) one run pushes; the rest wait for the next.
pub const PUSH_BATCH: u64 = 200;

fn due(state_col: impl ColumnTrait, next_col: impl ColumnTrait, at: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(state_col.is_in([TicketSyncState::Pending, TicketSyncState::Failed]))
        .add(
            Condition::any()
                .add(next_col.is_null())
                .add(next_col.lte(at)),
        )
}

/// Tickets waiting for their first push (pending, or failed and due again), oldest first.
pub async fn due_tickets(db: &DatabaseConnection) -> AppResult<Vec<tickets::Model>> {
    Ok(Tickets::find()
        .filter(Column::PsaTicketId.is_null())
        .filter(due(Column::SyncState, Column::NextSyncAt, now()))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .limit(PUSH_BATCH)
        .all(db)
        .await?)
}

/// The e-mail of the client user who opened a ticket, for PSA's `contact_email`.
pub async fn contact_email(
    db: &DatabaseConnection,
    ticket: &tickets::Model,
) -> AppResult<Option<String>> {
    let Some(user_id) = &ticket.client_user_id else {
        return Ok(None);
    };
    Ok(entities::client_users::Entity::find_by_id(user_id.clone())
        .filter(entities::client_users::Column::TenantId.eq(&ticket.tenant_id))
        .one(db)
        .await?
        .map(|u| u.email))
}

/// Records PSA's id for a pushed ticket (and PSA's status, when it is a known one). `false`
/// when PSA's id is already another ticket's of the tenant (PSA's mistake: left failed).
pub async fn mark_ticket_pushed(
    db: &DatabaseConnection,
    ticket: &tickets::Model,
    psa_id: &str,
    status: Option<&str>,
) -> AppResult<bool> {
    // Only the sync columns (and PSA's status): nothing else of the row read at the start of
    // the run is written back.
    let mut update = Tickets::update_many()
        .col_expr(Column::PsaTicketId, Expr::value(psa_id))
        .col_expr(Column::SyncState, Expr::value(TicketSyncState::Synced))
        .col_expr(Column::SyncError, Expr::value(Option::<String>::None))
        .col_expr(Column::SyncAttempts, Expr::value(0))
        .col_expr(
            Column::NextSyncAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::UpdatedAt, Expr::value(now()));
    if let Some(status) = status.and_then(status_from_psa) {
        update = update.col_expr(Column::Status, Expr::value(status));
    }
    match update.filter(Column::Id.eq(&ticket.id)).exec(db).await {
        Ok(_) => Ok(true),
        Err(err) if crate::db::is_unique_violation(&err) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// The delay before retry `attempts` (1, 2, …): `base` doubled per attempt, at most 64×.
pub fn backoff(base: std::time::Duration, attempts: i32) -> chrono::Duration {
    let factor = 1u32 << attempts.clamp(1, 7).saturating_sub(1);
    chrono::Duration::from_std(base.saturating_mul(factor)).unwrap_or(chrono::Duration::hours(6))
}

/// Marks a ticket failed with onegraph's own short `error`, one more attempt, and the next
/// try backed off.
pub async fn mark_ticket_failed(
    db: &DatabaseConnection,
    ticket: &tickets::Model,
    error: &str,
    base: std::time::Duration,
) -> AppResult<()> {
    let attempts = ticket.sync_attempts.saturating_add(1);
    let at = now();
    Tickets::update_many()
        .col_expr(Column::SyncState, Expr::value(TicketSyncState::Failed))
        .col_expr(Column::SyncError, Expr::value(error))
        .col_expr(Column::SyncAttempts, Expr::value(attempts))
        .col_expr(
            Column::NextSyncAt,
            Expr::value(at + backoff(base, attempts)),
        )
        .col_expr(Column::UpdatedAt, Expr::value(at))
        .filter(Column::Id.eq(&ticket.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Portal's own comments waiting for their push (pending, or failed and due), oldest first,
/// each with its ticket; comments of tickets PSA does not know yet are left for later.
pub async fn due_comments(
    db: &DatabaseConnection,
) -> AppResult<Vec<(ticket_comments::Model, tickets::Model)>> {
    let rows = Comments::find()
        .filter(C::FromPsa.eq(false))
        .filter(C::PsaCommentId.is_null())
        .filter(due(C::SyncState, C::NextSyncAt, now()))
        .order_by_asc(C::CreatedAt)
        .order_by_asc(C::Id)
        .find_also_related(Tickets)
        .filter(Column::PsaTicketId.is_not_null())
        .limit(PUSH_BATCH)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(c, t)| t.map(|t| (c, t)))
        .collect())
}

/// Records PSA's id for a pushed comment. A copy of it pulled from PSA's feed before the
/// push got its answer (a timed-out push that PSA did receive) is removed first: it is this
/// very comment, not a technician's.
pub async fn mark_comment_pushed(
    db: &DatabaseConnection,
    comment: &ticket_comments::Model,
    psa_id: &str,
) -> AppResult<()> {
    let txn = crate::db::begin_write(db).await?;
    Comments::delete_many()
        .filter(C::TicketId.eq(&comment.ticket_id))
        .filter(C::PsaCommentId.eq(psa_id))
        .filter(C::FromPsa.eq(true))
        .exec(&txn)
        .await?;
    Comments::update_many()
        .col_expr(C::PsaCommentId, Expr::value(psa_id))
        .col_expr(C::SyncState, Expr::value(TicketSyncState::Synced))
        .col_expr(C::SyncError, Expr::value(Option::<String>::None))
        .col_expr(C::SyncAttempts, Expr::value(0))
        .col_expr(C::NextSyncAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(C::Id.eq(&comment.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Marks a comment failed with a short `error` and backs its next try off.
pub async fn mark_comment_failed(
    db: &DatabaseConnection,
    comment: &ticket_comments::Model,
    error: &str,
    base: std::time::Duration,
) -> AppResult<()> {
    let attempts = comment.sync_attempts.saturating_add(1);
    Comments::update_many()
        .col_expr(C::SyncState, Expr::value(TicketSyncState::Failed))
        .col_expr(C::SyncError, Expr::value(error))
        .col_expr(C::SyncAttempts, Expr::value(attempts))
        .col_expr(C::NextSyncAt, Expr::value(now() + backoff(base, attempts)))
        .filter(C::Id.eq(&comment.id))
        .exec(db)
        .await?;
    Ok(())
}

/// A technician comment from PSA's feed.
#[derive(Debug, Clone)]
pub struct PulledComment {
    /// PSA's comment id.
    pub psa_id: String,
    /// Display name.
    pub author: String,
    /// The comment.
    pub body: String,
    /// When it was written (now, when PSA did not say).
    pub created_at: DateTime<Utc>,
}

/// A ticket change from PSA's feed.
#[derive(Debug, Clone)]
pub struct PulledChange {
    /// The tenant PSA says the ticket is of (a UUID), when it says; the change is then
    /// matched within it only.
    pub tenant_id: Option<String>,
    /// PSA's ticket id.
    pub psa_id: String,
    /// Portal's ticket id, when PSA sent it.
    pub external_ref: Option<String>,
    /// The new status, already parsed (unknown values are dropped by the caller).
    pub status: Option<TicketStatus>,
    /// The ticket's comments.
    pub comments: Vec<PulledComment>,
}

/// What applying one change did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// The tenant of the matched ticket; `None` when no Portal ticket matched.
    pub tenant_id: Option<String>,
    /// Technician comments added.
    pub comments_added: u64,
}

/// Finds the Portal ticket a change is about: by `external_ref` (Portal's own id, unique
/// across tenants, whose ticket must carry PSA's id or none yet), within the change's tenant
/// when it names one; else, only when the change names its tenant, by PSA's id when exactly
/// one ticket of that tenant has it (PSA may number each tenant's tickets on its own, so its
/// ids say nothing across tenants).
async fn find_for_change(
    db: &impl ConnectionTrait,
    change: &PulledChange,
) -> AppResult<Option<tickets::Model>> {
    if let Some(id) = change
        .external_ref
        .as_deref()
        .and_then(|r| validate::id(r, "Ticket").ok())
    {
        let mut query = Tickets::find_by_id(id);
        if let Some(tenant) = &change.tenant_id {
            query = query.filter(Column::TenantId.eq(tenant));
        }
        let found = query.one(db).await?;
        // A ticket PSA has not confirmed yet (no PSA id) is taken by its reference only
        // within the tenant the change names: a reference alone could name any tenant's.
        if let Some(ticket) = found
            && match ticket.psa_ticket_id.as_deref() {
                Some(psa_id) => psa_id == change.psa_id,
                None => change.tenant_id.is_some(),
            }
        {
            return Ok(Some(ticket));
        }
        return Ok(None);
    }
    let Some(tenant) = &change.tenant_id else {
        return Ok(None);
    };
    let mut rows = Tickets::find()
        .filter(Column::TenantId.eq(tenant))
        .filter(Column::PsaTicketId.eq(&change.psa_id))
        .limit(2)
        .all(db)
        .await?;
    Ok(if rows.len() == 1 { rows.pop() } else { None })
}

/// Applies one change inside the caller's transaction: the status (when it differs) and the
/// technician comments not seen before — a comment whose PSA id is already on the ticket
/// (one of Portal's own pushed comments, or one pulled earlier) is skipped, and the unique
/// (ticket, PSA comment id) index makes a concurrent duplicate a no-op.
pub async fn apply_change(db: &impl ConnectionTrait, change: &PulledChange) -> AppResult<Applied> {
    let Some(ticket) = find_for_change(db, change).await? else {
        return Ok(Applied::default());
    };
    let at = now();
    let mut touched = false;
    if let Some(status) = change.status
        && status != ticket.status
    {
        Tickets::update_many()
            .col_expr(Column::Status, Expr::value(status))
            .filter(Column::Id.eq(&ticket.id))
            .exec(db)
            .await?;
        touched = true;
    }
    let known: Vec<Option<String>> = Comments::find()
        .select_only()
        .column(C::PsaCommentId)
        .filter(C::TicketId.eq(&ticket.id))
        .filter(C::PsaCommentId.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let known: std::collections::HashSet<String> = known.into_iter().flatten().collect();
    let mut added = 0;
    let mut seen = std::collections::HashSet::new();
    for comment in &change.comments {
        if known.contains(&comment.psa_id) || !seen.insert(comment.psa_id.clone()) {
            continue;
        }
        let inserted = Comments::insert(ticket_comments::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(ticket.tenant_id.clone()),
            ticket_id: Set(ticket.id.clone()),
            client_user_id: Set(None),
            author: Set(comment.author.clone()),
            author_email: Set(None),
            body: Set(comment.body.clone()),
            from_psa: Set(true),
            psa_comment_id: Set(Some(comment.psa_id.clone())),
            sync_state: Set(TicketSyncState::Synced),
            sync_error: Set(None),
            sync_attempts: Set(0),
            next_sync_at: Set(None),
            created_at: Set(comment.created_at),
        })
        .on_conflict(
            OnConflict::columns([C::TicketId, C::PsaCommentId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        added += inserted;
    }
    if touched || added > 0 {
        Tickets::update_many()
            .col_expr(Column::UpdatedAt, Expr::value(at))
            .filter(Column::Id.eq(&ticket.id))
            .exec(db)
            .await?;
    }
    Ok(Applied {
        tenant_id: Some(ticket.tenant_id),
        comments_added: added,
    })
}

/// The stored value of cursor `name`.
pub async fn cursor(db: &impl ConnectionTrait, name: &str) -> AppResult<Option<String>> {
    Ok(entities::sync_cursors::Entity::find_by_id(name.to_owned())
        .one(db)
        .await?
        .map(|c| c.value))
}

/// Stores cursor `name` inside the caller's transaction.
pub async fn set_cursor(db: &impl ConnectionTrait, name: &str, value: &str) -> AppResult<()> {
    use entities::sync_cursors::{ActiveModel, Column as K, Entity as Cursors};
    Cursors::insert(ActiveModel {
        name: Set(name.to_owned()),
        value: Set(value.to_owned()),
        updated_at: Set(now()),
    })
    .on_conflict(
        OnConflict::column(K::Name)
            .update_columns([K::Value, K::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = std::time::Duration::from_secs(60);
        assert_eq!(backoff(base, 1), chrono::Duration::seconds(60));
        assert_eq!(backoff(base, 2), chrono::Duration::seconds(120));
        assert_eq!(backoff(base, 7), chrono::Duration::seconds(60 * 64));
        assert_eq!(backoff(base, 50), chrono::Duration::seconds(60 * 64));
    }

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_none() {
        for s in [
            "new",
            "open",
            "in_progress",
            "waiting_on_client",
            "resolved",
            "closed",
        ] {
            assert_eq!(status_from_psa(s).map(|t| t.to_value()).as_deref(), Some(s));
        }
        assert_eq!(status_from_psa("IN_PROGRESS"), None);
        assert_eq!(status_from_psa("escalated"), None);
    }

    #[test]
    fn multi_line_text_is_kept_and_control_characters_refused() {
        assert_eq!(
            text(" a\r\nb\tc ", "description", 10).ok(),
            Some("a\r\nb\tc".to_owned())
        );
        assert!(text("a\u{0}b", "description", 10).is_err());
        assert!(text(&"x".repeat(11), "description", 10).is_err());
        assert!(text(&"é".repeat(10), "description", 10).is_ok());
    }
}
