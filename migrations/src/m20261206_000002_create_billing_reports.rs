//! `billing_reports`: the usage reports for Hub Billing, one per tenant, period and day,
//! kept until Hub accepts them (then never sent again).

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `billing_reports`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BillingReports {
    Table,
    Id,
    TenantId,
    Period,
    ReportedOn,
    Quantity,
    AcceptedAt,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
}

const UNIQUE_DAY: &str = "idx_billing_reports_tenant_period_day";
const DUE: &str = "idx_billing_reports_due";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BillingReports::Table)
                    .if_not_exists()
                    .col(text(BillingReports::Id).primary_key())
                    .col(text(BillingReports::TenantId))
                    .col(text(BillingReports::Period))
                    .col(text(BillingReports::ReportedOn))
                    .col(big_integer(BillingReports::Quantity))
                    .col(timestamp_with_time_zone_null(BillingReports::AcceptedAt))
                    .col(integer(BillingReports::Attempts).default(0))
                    .col(timestamp_with_time_zone(BillingReports::NextAttemptAt))
                    .col(text_null(BillingReports::LastError))
                    .col(timestamp_with_time_zone(BillingReports::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_billing_reports_tenant")
                            .from(BillingReports::Table, BillingReports::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(UNIQUE_DAY)
                    .table(BillingReports::Table)
                    .if_not_exists()
                    .unique()
                    .col(BillingReports::TenantId)
                    .col(BillingReports::Period)
                    .col(BillingReports::ReportedOn)
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(DUE)
                    .table(BillingReports::Table)
                    .if_not_exists()
                    .col(BillingReports::AcceptedAt)
                    .col(BillingReports::NextAttemptAt)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BillingReports::Table).take())
            .await
    }
}
