//! The invoice sync from Books: page in invoices updated since the stored cursor.
//!
//! Each page is validated first and then stored in its own transaction. The cursor moves
//! only once the whole walk has succeeded, to the newest `updated_at` seen: Books numbers
//! its pages for one `updated_since`, and nothing promises that a page holds only invoices
//! newer than the pages before it, so a cursor moved after page 2 of a walk that then fails
//! could skip invoices of page 3 for good. Pages stored before a failure stay stored (they
//! are Books' newer versions); the next run reads them again and skips them as not newer.
//!
//! The cursor stays [`CURSOR_OVERLAP`] behind the newest `updated_at`: an invoice updated
//! while the walk ran (shifting Books' offset pages), committed late by a slow Books
//! transaction, or stamped with the same instant as the newest one would otherwise fall
//! behind the cursor for good. Reading the overlap again is harmless: versions that are not
//! newer are skipped.

use chrono::{DateTime, Utc};

use super::JobReport;
use crate::{
    domain::Domain,
    error::{AppError, AppResult},
    services::portal::invoices::{self, Rejected, Stored},
    upstream::books::{self, BooksApi, HttpBooks},
};

/// Most pages one run reads; past it the run stops with an error (an upstream whose
/// `next_page` never ends must not keep the job busy for ever).
pub const MAX_PAGES: u32 = 500;

/// How far behind the newest `updated_at` seen the cursor is left.
pub const CURSOR_OVERLAP: chrono::Duration = chrono::Duration::minutes(10);

/// Runs the job once against the configured Books.
pub async fn run(ctx: &Domain) -> AppResult<JobReport> {
    let client = HttpBooks::from_settings(&ctx.settings)?;
    sync(ctx, &client).await
}

/// Runs the job once against `books` (any implementation of the Books API).
pub async fn sync(ctx: &Domain, books: &dyn BooksApi) -> AppResult<JobReport> {
    let db = &ctx.db;
    let since = invoices::cursor(db).await?;
    let mut report = JobReport::default();
    let mut newest: Option<DateTime<Utc>> = None;
    let mut page_no: u32 = 1;
    let mut pages: u32 = 0;
    loop {
        pages += 1;
        if pages > MAX_PAGES {
            tracing::warn!(pages = MAX_PAGES, "Books sent more pages than a run reads");
            return Err(AppError::UpstreamUnavailable(books::PRODUCT));
        }
        let page = books.invoices(since, page_no).await?;
        let mut valid = Vec::with_capacity(page.invoices.len());
        for raw in &page.invoices {
            newest = newest.max(Some(raw.updated_at));
            match invoices::validate_invoice(raw) {
                Ok(item) => valid.push(item),
                Err(Rejected::BadAmount(why)) => {
                    tracing::warn!(reason = %why, page = page_no, "Books sent an invalid amount");
                    return Err(AppError::UpstreamUnavailable(books::PRODUCT));
                }
                Err(Rejected::Skip(why)) => {
                    tracing::warn!(reason = %why, "skipping a Books invoice");
                    // An invoice naming no valid tenant is nobody's: it counts for everyone.
                    match crate::services::shared::validate::id(&raw.tenant_id, "tenant") {
                        Ok(tenant) => {
                            report.add(&tenant, "skipped", 1);
                            report.tenant_error(&tenant, why);
                        }
                        // Every tenant's admin reads the errors of no tenant: they say how
                        // many, never Books' ids (those are in the log line above).
                        Err(_) => report
                            .errors
                            .push("skipped a Books invoice that names no valid tenant".to_owned()),
                    }
                }
            }
        }
        if !valid.is_empty() {
            let outcomes = invoices::store_page(db, &valid).await?;
            for (item, outcome) in valid.iter().zip(outcomes) {
                let counter = match outcome {
                    Stored::Upserted => "upserted",
                    Stored::Skipped => "skipped",
                };
                report.add(&item.tenant_id, counter, 1);
            }
        }
        match page.next_page {
            None => break,
            // A next page that is not after this one would walk in circles.
            Some(next) if next <= page_no => {
                tracing::warn!(page = page_no, next, "Books' next_page does not advance");
                return Err(AppError::UpstreamUnavailable(books::PRODUCT));
            }
            Some(next) => page_no = next,
        }
    }
    if let Some(newest) = newest {
        let next = (newest - CURSOR_OVERLAP).max(since);
        if next > since {
            invoices::advance_cursor(db, next).await?;
        }
    }
    Ok(report)
}

/// A Books failure as the job and `runSync` report it; the details go to the log.
impl From<books::BooksError> for AppError {
    fn from(err: books::BooksError) -> Self {
        match err {
            books::BooksError::NotConfigured => AppError::UpstreamNotConfigured(books::PRODUCT),
            other => {
                tracing::warn!(error = %other, "Books call failed");
                AppError::UpstreamUnavailable(books::PRODUCT)
            }
        }
    }
}
