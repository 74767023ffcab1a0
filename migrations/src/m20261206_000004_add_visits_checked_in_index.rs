//! An index on `visits(checked_in_at, id)` across tenants.
//!
//! `GET /api/integration/visitors-today` with the platform key reads the UTC day's visits of
//! every tenant in `(checked_in_at, id)` order, in pages: without a tenant to lead an index,
//! each page scanned the whole table. This index covers the day's range, the order and the
//! cursor, so a page reads only its rows.

use sea_orm_migration::prelude::*;

/// Adds the cross-tenant check-in index.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Visits {
    Table,
    CheckedInAt,
    Id,
}

const VISITS_CHECKED_IN: &str = "idx_visits_checked_in_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(VISITS_CHECKED_IN)
                    .table(Visits::Table)
                    .if_not_exists()
                    .col(Visits::CheckedInAt)
                    .col(Visits::Id)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(VISITS_CHECKED_IN)
                    .table(Visits::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
