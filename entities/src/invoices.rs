//! `invoices` table: invoices synced from Books.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An invoice. Amounts are exact decimal strings.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    /// UUID string.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub company_id: String,
    /// Books' id (unique per tenant).
    pub books_invoice_id: String,
    pub number: String,
    pub status: InvoiceStatus,
    pub currency: String,
    /// Decimal string.
    pub total: String,
    /// Decimal string.
    pub balance: String,
    pub issued_at: DateTimeUtc,
    pub due_at: Option<DateTimeUtc>,
    pub pdf_url: Option<String>,
    /// Books' `updated_at` of the version stored.
    pub books_updated_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Where an invoice stands (`invoices.status`; Books' lower-case status, parsed on the way
/// in).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Issued and not yet paid.
    #[sea_orm(string_value = "open")]
    Open,
    /// Paid in full.
    #[sea_orm(string_value = "paid")]
    Paid,
    /// Past its due date and not paid.
    #[sea_orm(string_value = "overdue")]
    Overdue,
    /// Cancelled.
    #[sea_orm(string_value = "void")]
    Void,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tenants::Entity",
        from = "Column::TenantId",
        to = "super::tenants::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Tenant,
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
