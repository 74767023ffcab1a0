//! What `integrationHealth` and `onegraph doctor` read.
//!
//! `sync_runs` keeps a run's errors apart by whom they concern: `shared_error` holds the
//! errors that concern every tenant (the upstream down, a page refused as a whole), in
//! onegraph's own words, and `tenant_errors` a JSON object of tenant id → how many of that
//! tenant's own items failed. A tenant's admin may see the first and their own count, never
//! the whole `error` text, which names other tenants' items. Runs recorded before this
//! migration that failed get a generic `shared_error` (their errors were not kept apart, so
//! the safer reading is that they concerned everyone).
//!
//! `idx_outbox_tenant_kind_delivered` lets one tenant's outbox counts and last delivery of
//! one kind be read without scanning every tenant's delivered rows.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds the columns and the index.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    Ok,
    SharedError,
    TenantErrors,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    TenantId,
    Kind,
    DeliveredAt,
}

const OUTBOX_TENANT_KIND: &str = "idx_outbox_tenant_kind_delivered";

/// The `shared_error` of failed runs recorded before errors were kept apart.
pub const EARLIER_FAILURE: &str = "the run finished with errors (recorded before onegraph kept \
                                   each tenant's errors apart)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(SyncRuns::Table)
                    .add_column(text_null(SyncRuns::SharedError))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SyncRuns::Table)
                    .add_column(text(SyncRuns::TenantErrors).default("{}"))
                    .take(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(SyncRuns::Table)
                    .value(SyncRuns::SharedError, EARLIER_FAILURE)
                    .and_where(Expr::col(SyncRuns::Ok).eq(false))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(OUTBOX_TENANT_KIND)
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(Outbox::TenantId)
                    .col(Outbox::Kind)
                    .col(Outbox::DeliveredAt)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(OUTBOX_TENANT_KIND)
                    .table(Outbox::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        for column in [SyncRuns::TenantErrors, SyncRuns::SharedError] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SyncRuns::Table)
                        .drop_column(column)
                        .take(),
                )
                .await?;
        }
        Ok(())
    }
}
