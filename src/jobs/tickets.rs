//! The ticket sync with PSA, the one path by which tickets and comments reach PSA: push
//! pending (and due failed) tickets, then the comments of tickets PSA knows, then pull PSA's
//! changes page by page from the stored cursor.
//!
//! PSA refusing one item (an HTTP error or a malformed answer) marks that item failed with
//! onegraph's own short description and backs its retry off; PSA being down or too slow
//! ends the run there, with the error recorded and every local row intact. The
//! `Idempotency-Key` of each push is the Portal id, so a push PSA received but whose answer
//! was lost is answered with the same PSA id on the retry: nothing reaches PSA twice.

use sea_orm::ActiveEnum;

use super::JobReport;
use crate::{
    domain::Domain,
    error::{AppError, AppResult},
    services::portal::tickets::{self as svc, PulledChange, PulledComment},
    upstream::psa::{HttpPsa, NewComment, NewTicket, PsaApi, PsaError},
};

/// Name of the stored cursor of PSA's change feed.
pub const CURSOR: &str = "psa.ticket_changes";
/// The most change pages one run reads (a feed that never ends must not hold the lease).
const MAX_PAGES: usize = 1000;

/// Runs the job once against the configured PSA (`UPSTREAM_NOT_CONFIGURED` without it).
pub async fn run(ctx: &Domain) -> AppResult<JobReport> {
    let psa = HttpPsa::from_settings(&ctx.settings)?;
    run_with(ctx, &psa).await
}

/// Runs the job once against `psa`.
pub async fn run_with(ctx: &Domain, psa: &dyn PsaApi) -> AppResult<JobReport> {
    let mut report = JobReport::default();
    if push_tickets(ctx, psa, &mut report).await? == Flow::Stop {
        return Ok(report);
    }
    if push_comments(ctx, psa, &mut report).await? == Flow::Stop {
        return Ok(report);
    }
    pull_changes(ctx, psa, &mut report).await?;
    Ok(report)
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

fn outage(report: &mut JobReport, step: &str, err: &PsaError) -> Flow {
    let message = format!("{step}: {}", err.describe());
    tracing::warn!(%message, "ticket sync stopped: PSA unavailable");
    report.errors.push(message);
    Flow::Stop
}

async fn push_tickets(ctx: &Domain, psa: &dyn PsaApi, report: &mut JobReport) -> AppResult<Flow> {
    let backoff = ctx.settings.ticket_sync_backoff;
    for ticket in svc::due_tickets(&ctx.db).await? {
        let body = NewTicket {
            external_ref: ticket.id.clone(),
            tenant_id: ticket.tenant_id.clone(),
            company_id: ticket.company_id.clone(),
            contact_email: svc::contact_email(&ctx.db, &ticket).await?,
            subject: ticket.subject.clone(),
            description: ticket.description.clone(),
            priority: ticket.priority.to_value(),
        };
        match psa.create_ticket(&body).await {
            Ok(created) => {
                if svc::mark_ticket_pushed(&ctx.db, &ticket, &created.id, created.status.as_deref())
                    .await?
                {
                    report.add(&ticket.tenant_id, "pushed", 1);
                } else {
                    let error = "push ticket: PSA answered an id another ticket already has";
                    svc::mark_ticket_failed(&ctx.db, &ticket, error, backoff).await?;
                    report.add(&ticket.tenant_id, "failed", 1);
                    report
                        .tenant_error(&ticket.tenant_id, format!("ticket {}: {error}", ticket.id));
                }
            }
            Err(PsaError::Unreachable) => {
                // Nothing reached PSA: the ticket stays as it was, for the next run.
                return Ok(outage(report, "push ticket", &PsaError::Unreachable));
            }
            Err(err) => {
                // A timeout may or may not have reached PSA; the retry's Idempotency-Key
                // makes either harmless, and the backoff keeps a ticket PSA chokes on from
                // holding up the others forever.
                let error = format!("push ticket: {}", err.describe());
                svc::mark_ticket_failed(&ctx.db, &ticket, &error, backoff).await?;
                report.add(&ticket.tenant_id, "failed", 1);
                tracing::warn!(ticket = %ticket.id, %error, "PSA refused a ticket");
                report.tenant_error(&ticket.tenant_id, format!("ticket {}: {error}", ticket.id));
                if err.is_outage() {
                    return Ok(outage(report, "push ticket", &err));
                }
            }
        }
    }
    Ok(Flow::Continue)
}

async fn push_comments(ctx: &Domain, psa: &dyn PsaApi, report: &mut JobReport) -> AppResult<Flow> {
    let backoff = ctx.settings.ticket_sync_backoff;
    for (comment, ticket) in svc::due_comments(&ctx.db).await? {
        let Some(psa_ticket) = ticket.psa_ticket_id.as_deref() else {
            continue;
        };
        let body = NewComment {
            author_email: comment.author_email.clone(),
            body: comment.body.clone(),
        };
        match psa.add_comment(psa_ticket, &comment.id, &body).await {
            Ok(created) => {
                svc::mark_comment_pushed(&ctx.db, &comment, &created.id).await?;
                report.add(&comment.tenant_id, "comments_pushed", 1);
            }
            Err(PsaError::Unreachable) => {
                return Ok(outage(report, "push comment", &PsaError::Unreachable));
            }
            Err(err) => {
                let error = format!("push comment: {}", err.describe());
                svc::mark_comment_failed(&ctx.db, &comment, &error, backoff).await?;
                report.add(&comment.tenant_id, "failed", 1);
                tracing::warn!(comment = %comment.id, %error, "PSA refused a comment");
                report.tenant_error(
                    &comment.tenant_id,
                    format!("comment {}: {error}", comment.id),
                );
                if err.is_outage() {
                    return Ok(outage(report, "push comment", &err));
                }
            }
        }
    }
    Ok(Flow::Continue)
}

fn parse_time(text: Option<&str>) -> chrono::DateTime<chrono::Utc> {
    text.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_or_else(crate::services::now, |t| {
            chrono::SubsecRound::trunc_subsecs(t, 6)
        })
}

/// The change as the service applies it; `None` when it names a tenant that is not a
/// tenant id, since it then cannot be placed safely. A change without a tenant (the
/// contract's feed) is matched by its `external_ref` alone.
fn to_change(change: crate::upstream::psa::TicketChange) -> Option<PulledChange> {
    let tenant_id = match change.tenant_id.as_deref() {
        None => None,
        Some(t) => Some(crate::services::shared::validate::id(t, "tenant").ok()?),
    };
    let status = match change.status.as_deref() {
        None => None,
        Some(text) => {
            let parsed = svc::status_from_psa(text);
            if parsed.is_none() {
                tracing::warn!(psa_ticket = %change.id, status = %text.chars().take(40).collect::<String>(), "PSA sent an unknown ticket status; ignored");
            }
            parsed
        }
    };
    Some(PulledChange {
        tenant_id,
        psa_id: change.id,
        external_ref: change.external_ref,
        status,
        comments: change
            .comments
            .into_iter()
            .map(|c| PulledComment {
                psa_id: c.id,
                author: c
                    .author
                    .map(|a| a.trim().chars().take(200).collect::<String>())
                    .filter(|a| !a.is_empty())
                    .unwrap_or_else(|| "Support".to_owned()),
                body: c.body.chars().take(svc::MAX_BODY).collect(),
                created_at: parse_time(c.created_at.as_deref()),
            })
            .collect(),
    })
}

async fn pull_changes(ctx: &Domain, psa: &dyn PsaApi, report: &mut JobReport) -> AppResult<()> {
    let mut untenanted = 0u64;
    let result = pull_pages(ctx, psa, report, &mut untenanted).await;
    if untenanted > 0 {
        // PSA's feed lacks what places a change safely: every tenant's sync is affected.
        let message =
            format!("pull changes: {untenanted} changes with an invalid tenant_id ignored");
        tracing::warn!(%message, "PSA change feed without tenants");
        report.errors.push(message);
    }
    result
}

async fn pull_pages(
    ctx: &Domain,
    psa: &dyn PsaApi,
    report: &mut JobReport,
    untenanted: &mut u64,
) -> AppResult<()> {
    let mut since = svc::cursor(&ctx.db, CURSOR).await?;
    for _ in 0..MAX_PAGES {
        let page = match psa.changes(since.as_deref()).await {
            Ok(page) => page,
            Err(err) => {
                let message = format!("pull changes: {}", err.describe());
                tracing::warn!(%message, "ticket sync pull failed; cursor kept");
                report.errors.push(message);
                return Ok(());
            }
        };
        if page.changes.is_empty() {
            return Ok(());
        }
        // One transaction per page: its changes and the cursor after it move together.
        let txn = crate::db::begin_write(&ctx.db).await?;
        for change in page.changes {
            let Some(change) = to_change(change) else {
                *untenanted += 1;
                continue;
            };
            let applied = svc::apply_change(&txn, &change).await?;
            match &applied.tenant_id {
                Some(tenant) => report.add(tenant, "pulled", 1),
                None => {
                    tracing::debug!(psa_ticket = %change.psa_id, "change for a ticket Portal does not know; ignored")
                }
            }
        }
        let next = page.next_cursor;
        if let Some(next) = &next {
            svc::set_cursor(&txn, CURSOR, next).await?;
        }
        txn.commit().await?;
        match next {
            // A feed that does not move on would be read forever.
            Some(next) if since.as_deref() != Some(next.as_str()) => since = Some(next),
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// A PSA failure that stops the whole run (an unset PSA, or one that cannot be reached).
impl From<PsaError> for AppError {
    fn from(err: PsaError) -> Self {
        match err {
            PsaError::NotConfigured => AppError::UpstreamNotConfigured("PSA"),
            other => {
                tracing::warn!(error = %other.describe(), "PSA call failed");
                AppError::UpstreamUnavailable("PSA")
            }
        }
    }
}
