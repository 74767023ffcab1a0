//! Invoices from Books: the validated, exact copy the invoice sync keeps (newer Books
//! versions replace older ones, never the reverse), and the client's view of it, confined to
//! the caller's tenant and company.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ActiveEnum,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect,
    sea_query::{Expr, OnConflict},
};

use crate::services::{
    new_id, now, portal::client_users, shared::money, shared::page, shared::validate,
};
use crate::{
    auth::{Principal, PrincipalKind},
    error::AppResult,
    upstream::books::BooksInvoice,
};
use entities::invoices::{self, Column, Entity as Invoices};

/// The `sync_cursors` row of the invoice sync: Books' `updated_at` it has read up to.
pub const CURSOR: &str = "books.invoices";

/// Longest invoice number or company id kept.
const MAX_REF: usize = 200;
/// Longest PDF address kept.
const MAX_URL: usize = 2000;

/// Where an invoice stands: the stored column's own type.
pub use entities::invoices::InvoiceStatus;

/// Parses Books' lower-case status (stored in the same form); anything else is `None`.
pub fn status_from_books(text: &str) -> Option<InvoiceStatus> {
    InvoiceStatus::try_from_value(&text.to_owned()).ok()
}

/// An invoice from Books, validated and ready to store.
#[derive(Debug, Clone)]
pub struct SyncedInvoice {
    /// The tenant (a UUID).
    pub tenant_id: String,
    /// Books' id.
    pub books_id: String,
    /// PSA company id.
    pub company_id: String,
    /// Number shown to clients.
    pub number: String,
    /// Status.
    pub status: InvoiceStatus,
    /// Upper-case ISO 4217 code.
    pub currency: String,
    /// Normalised decimal text.
    pub total: String,
    /// Normalised decimal text.
    pub balance: String,
    /// Issued (microseconds).
    pub issued_at: DateTime<Utc>,
    /// Due (microseconds).
    pub due_at: Option<DateTime<Utc>>,
    /// An `http(s)` address of the PDF.
    pub pdf_url: Option<String>,
    /// Books' version time (microseconds).
    pub updated_at: DateTime<Utc>,
}

/// Why an invoice from Books was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// An amount is not a decimal string: Books is sending something onegraph would store
    /// wrongly, so the whole page (and run) stops with stored data untouched.
    BadAmount(String),
    /// This one invoice cannot be stored (an unknown status, an invalid field): it is
    /// skipped and counted as an error, and the rest of the page is applied.
    Skip(String),
}

/// Validates one invoice as Books sent it.
pub fn validate_invoice(raw: &BooksInvoice) -> Result<SyncedInvoice, Rejected> {
    let books_id = raw.id.trim();
    let what = |problem: &str| format!("Books invoice {books_id:?}: {problem}");
    let total = money::normalize(&raw.total)
        .ok_or_else(|| Rejected::BadAmount(what("total is not a decimal string")))?;
    let balance = money::normalize(&raw.balance)
        .ok_or_else(|| Rejected::BadAmount(what("balance is not a decimal string")))?;
    if books_id.is_empty() || books_id.chars().count() > MAX_REF {
        return Err(Rejected::Skip(what("invalid id")));
    }
    let tenant_id = validate::id(&raw.tenant_id, "tenant")
        .map_err(|_| Rejected::Skip(what("tenant_id is not a UUID")))?;
    let status = status_from_books(raw.status.trim())
        .ok_or_else(|| Rejected::Skip(what(&format!("unknown status {:?}", raw.status))))?;
    let currency = money::currency(&raw.currency)
        .ok_or_else(|| Rejected::Skip(what("currency is not an ISO 4217 code")))?;
    let text = |value: &str, field: &str| {
        validate::required(value, field, MAX_REF).map_err(|_| Rejected::Skip(what(field)))
    };
    let company_id = text(&raw.company_id, "company_id")?;
    let number = text(&raw.number, "number")?;
    // The address is shown to clients as a link: only web addresses are kept.
    let pdf_url = raw
        .pdf_url
        .as_deref()
        .map(str::trim)
        .filter(|u| {
            (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() <= MAX_URL
                && !u.chars().any(char::is_control)
        })
        .map(str::to_owned);
    Ok(SyncedInvoice {
        tenant_id,
        books_id: books_id.to_owned(),
        company_id,
        number,
        status,
        currency,
        total,
        balance,
        issued_at: raw.issued_at.trunc_subsecs(6),
        due_at: raw.due_at.map(|d| d.trunc_subsecs(6)),
        pdf_url,
        updated_at: raw.updated_at.trunc_subsecs(6),
    })
}

/// What storing one invoice did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Inserted, or a newer version replaced the stored one.
    Upserted,
    /// The stored version is as new or newer: nothing changed.
    Skipped,
}

/// Stores one page of validated invoices in one transaction: new ones are inserted (their
/// tenant created when onegraph has not seen it yet), newer versions replace older ones, and
/// an older or equal `updated_at` changes nothing. Returns each invoice's outcome, in order.
pub async fn store_page(db: &DatabaseConnection, page: &[SyncedInvoice]) -> AppResult<Vec<Stored>> {
    let txn = crate::db::begin_write(db).await?;
    let mut tenants: Vec<&str> = page.iter().map(|i| i.tenant_id.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in &tenants {
        client_users::ensure_tenant(&txn, tenant).await?;
    }
    let books_ids: Vec<&str> = page.iter().map(|i| i.books_id.as_str()).collect();
    let existing: Vec<(String, String, String, DateTime<Utc>)> = Invoices::find()
        .select_only()
        .columns([
            Column::Id,
            Column::TenantId,
            Column::BooksInvoiceId,
            Column::BooksUpdatedAt,
        ])
        .filter(Column::BooksInvoiceId.is_in(books_ids))
        .filter(Column::TenantId.is_in(tenants))
        .into_tuple()
        .all(&txn)
        .await?;
    let mut stored: HashMap<(String, String), (String, DateTime<Utc>)> = existing
        .into_iter()
        .map(|(id, tenant, books, at)| ((tenant, books), (id, at)))
        .collect();
    let at = now();
    let mut outcomes = Vec::with_capacity(page.len());
    for item in page {
        let key = (item.tenant_id.clone(), item.books_id.clone());
        let outcome = match stored.get(&key) {
            Some((_, version)) if *version >= item.updated_at => Stored::Skipped,
            Some((id, _)) => {
                let id = id.clone();
                // The version condition holds in the statement too, so that a newer row
                // written by anything else is never overwritten by this older one.
                let updated = Invoices::update_many()
                    .col_expr(Column::CompanyId, Expr::value(item.company_id.clone()))
                    .col_expr(Column::Number, Expr::value(item.number.clone()))
                    .col_expr(Column::Status, Expr::value(item.status))
                    .col_expr(Column::Currency, Expr::value(item.currency.clone()))
                    .col_expr(Column::Total, Expr::value(item.total.clone()))
                    .col_expr(Column::Balance, Expr::value(item.balance.clone()))
                    .col_expr(Column::IssuedAt, Expr::value(item.issued_at))
                    .col_expr(Column::DueAt, Expr::value(item.due_at))
                    .col_expr(Column::PdfUrl, Expr::value(item.pdf_url.clone()))
                    .col_expr(Column::BooksUpdatedAt, Expr::value(item.updated_at))
                    .col_expr(Column::UpdatedAt, Expr::value(at))
                    .filter(Column::Id.eq(&id))
                    .filter(Column::BooksUpdatedAt.lt(item.updated_at))
                    .exec(&txn)
                    .await?;
                if updated.rows_affected == 1 {
                    stored.insert(key, (id, item.updated_at));
                    Stored::Upserted
                } else {
                    Stored::Skipped
                }
            }
            None => {
                let id = new_id();
                let inserted = Invoices::insert(invoices::ActiveModel {
                    id: Set(id.clone()),
                    tenant_id: Set(item.tenant_id.clone()),
                    company_id: Set(item.company_id.clone()),
                    books_invoice_id: Set(item.books_id.clone()),
                    number: Set(item.number.clone()),
                    status: Set(item.status),
                    currency: Set(item.currency.clone()),
                    total: Set(item.total.clone()),
                    balance: Set(item.balance.clone()),
                    issued_at: Set(item.issued_at),
                    due_at: Set(item.due_at),
                    pdf_url: Set(item.pdf_url.clone()),
                    books_updated_at: Set(item.updated_at),
                    created_at: Set(at),
                    updated_at: Set(at),
                })
                .on_conflict(
                    OnConflict::columns([Column::TenantId, Column::BooksInvoiceId])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
                if inserted == 1 {
                    stored.insert(key, (id, item.updated_at));
                    Stored::Upserted
                } else {
                    Stored::Skipped
                }
            }
        };
        outcomes.push(outcome);
    }
    txn.commit().await?;
    Ok(outcomes)
}

/// The Books `updated_at` the sync has read up to; the epoch before the first run.
pub async fn cursor(db: &impl ConnectionTrait) -> AppResult<DateTime<Utc>> {
    let row = entities::sync_cursors::Entity::find_by_id(CURSOR.to_owned())
        .one(db)
        .await?;
    Ok(match row {
        None => DateTime::UNIX_EPOCH,
        Some(row) => DateTime::parse_from_rfc3339(&row.value)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|err| {
                // Reading everything again is safe (older versions never overwrite newer).
                tracing::warn!(%err, cursor = CURSOR, "unreadable sync cursor; starting over");
                DateTime::UNIX_EPOCH
            }),
    })
}

/// Moves the cursor to `to`; never backwards.
pub async fn advance_cursor(db: &DatabaseConnection, to: DateTime<Utc>) -> AppResult<()> {
    use entities::sync_cursors::{ActiveModel, Column as C, Entity as Cursors};
    let txn = crate::db::begin_write(db).await?;
    if cursor(&txn).await? >= to {
        return Ok(());
    }
    Cursors::insert(ActiveModel {
        name: Set(CURSOR.to_owned()),
        value: Set(to.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        updated_at: Set(now()),
    })
    .on_conflict(
        OnConflict::column(C::Name)
            .update_columns([C::Value, C::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The invoices the caller may see: its tenant and, for a client user, its company. Any
/// other principal has no company and sees none (Portal invoices belong to companies).
fn scope(principal: &Principal, status: Option<InvoiceStatus>) -> Condition {
    let mut cond = Condition::all().add(Column::TenantId.eq(&principal.tenant_id));
    cond = match (&principal.kind, &principal.company_id) {
        (PrincipalKind::Client, Some(company)) => cond.add(Column::CompanyId.eq(company)),
        _ => cond.add(Column::Id.is_null()),
    };
    if let Some(status) = status {
        cond = cond.add(Column::Status.eq(status));
    }
    cond
}

/// One page of the caller's invoices, newest issued first.
pub async fn list(
    db: &DatabaseConnection,
    principal: &Principal,
    status: Option<InvoiceStatus>,
    first: usize,
    after: Option<&str>,
) -> AppResult<page::Page<invoices::Model>> {
    page::newest_first::<Invoices>(
        db,
        scope(principal, status),
        (Column::IssuedAt, Column::Id),
        first,
        after,
        |i| (i.issued_at, &i.id),
    )
    .await
}

/// How many of the caller's invoices have `status` (all when `None`).
pub async fn count(
    db: &DatabaseConnection,
    principal: &Principal,
    status: Option<InvoiceStatus>,
) -> AppResult<u64> {
    Ok(Invoices::find()
        .filter(scope(principal, status))
        .count(db)
        .await?)
}

/// One of the caller's invoices; `None` for ids of other companies and tenants too.
pub async fn get(
    db: &DatabaseConnection,
    principal: &Principal,
    id: &str,
) -> AppResult<Option<invoices::Model>> {
    let Ok(id) = validate::id(id, "Invoice") else {
        return Ok(None);
    };
    Ok(Invoices::find_by_id(id)
        .filter(scope(principal, None))
        .one(db)
        .await?)
}
