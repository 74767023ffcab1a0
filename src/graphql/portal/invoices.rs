//! Portal GraphQL: invoices synced from Books, for the client's own company.

use std::sync::Arc;

use async_graphql::{
    Context, ID, Object, Result,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};

use crate::{
    auth::{Permission, Principal},
    graphql::enums::InvoiceStatus,
    graphql::guard::{Need, principal},
    graphql::{scalars::Money, visitor::query::state},
    services::{self, shared::page},
};

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
    principal: Arc<Principal>,
    status: Option<InvoiceStatus>,
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

/// Portal invoice query fields.
#[derive(Default)]
pub struct InvoiceQuery;

#[Object]
impl InvoiceQuery {
    /// The client's company's invoices, newest issued first.
    #[graphql(
        guard = "Need::Perm(Permission::InvoicesView)",
        complexity = "first.unwrap_or(20).clamp(0, 100) as usize * child_complexity + 1"
    )]
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
        Ok(Some(crate::graphql::connection(
            page,
            InvoiceTotal {
                principal: p,
                status,
            },
            Invoice,
        )))
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
