//! Indexes for the filtered visit log and for finding the badge of a visit.
//!
//! `visits(filter: {locationId})` and `visits(filter: {hostId})` order by
//! `(checked_in_at, id)` descending within the tenant: each index covers the filter, the order
//! and the cursor, so a page reads only its rows. `badges(current_visit_id)` finds the badge
//! assigned to a visit.

use sea_orm_migration::prelude::*;

/// Adds the visit-log and badge indexes.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Visits {
    Table,
    TenantId,
    LocationId,
    HostId,
    CheckedInAt,
    Id,
}

#[derive(DeriveIden)]
enum Badges {
    Table,
    CurrentVisitId,
}

const VISITS_LOCATION: &str = "idx_visits_tenant_location_checked_in";
const VISITS_HOST: &str = "idx_visits_tenant_host_checked_in";
const BADGES_CURRENT_VISIT: &str = "idx_badges_current_visit";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(VISITS_LOCATION)
                    .table(Visits::Table)
                    .if_not_exists()
                    .col(Visits::TenantId)
                    .col(Visits::LocationId)
                    .col(Visits::CheckedInAt)
                    .col(Visits::Id)
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(VISITS_HOST)
                    .table(Visits::Table)
                    .if_not_exists()
                    .col(Visits::TenantId)
                    .col(Visits::HostId)
                    .col(Visits::CheckedInAt)
                    .col(Visits::Id)
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BADGES_CURRENT_VISIT)
                    .table(Badges::Table)
                    .if_not_exists()
                    .col(Badges::CurrentVisitId)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            (BADGES_CURRENT_VISIT, Badges::Table.into_iden()),
            (VISITS_HOST, Visits::Table.into_iden()),
            (VISITS_LOCATION, Visits::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
