//! Tenant integration keys: keys a tenant's admins create for other systems (Hub's search,
//! building systems) to call the integration endpoints for that tenant. Only the SHA-256
//! digest of a key is stored; a revoked key keeps its row, with `revoked_at`, for the audit.
//! And `inbound_events`: the ids of the events `POST /api/integration/webhook` took, unique
//! per tenant and source, so that a replay stores nothing new.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `integration_keys`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum IntegrationKeys {
    Table,
    Id,
    TenantId,
    Name,
    KeyHash,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum InboundEvents {
    Table,
    Id,
    TenantId,
    Source,
    EventId,
    EventType,
    ReceivedAt,
}

const INBOUND_EVENT_UNIQUE: &str = "idx_inbound_events_tenant_source_event";
const TENANT_CREATED: &str = "idx_integration_keys_tenant_created";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IntegrationKeys::Table)
                    .if_not_exists()
                    .col(text(IntegrationKeys::Id).primary_key())
                    .col(text(IntegrationKeys::TenantId))
                    .col(text(IntegrationKeys::Name))
                    .col(text_uniq(IntegrationKeys::KeyHash))
                    .col(text(IntegrationKeys::CreatedBy))
                    .col(timestamp_with_time_zone(IntegrationKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(IntegrationKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(IntegrationKeys::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_integration_keys_tenant")
                            .from(IntegrationKeys::Table, IntegrationKeys::TenantId)
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
                    .name(TENANT_CREATED)
                    .table(IntegrationKeys::Table)
                    .if_not_exists()
                    .col(IntegrationKeys::TenantId)
                    .col(IntegrationKeys::CreatedAt)
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InboundEvents::Table)
                    .if_not_exists()
                    .col(text(InboundEvents::Id).primary_key())
                    .col(text(InboundEvents::TenantId))
                    .col(text(InboundEvents::Source))
                    .col(text(InboundEvents::EventId))
                    .col(text(InboundEvents::EventType))
                    .col(timestamp_with_time_zone(InboundEvents::ReceivedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_inbound_events_tenant")
                            .from(InboundEvents::Table, InboundEvents::TenantId)
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
                    .name(INBOUND_EVENT_UNIQUE)
                    .table(InboundEvents::Table)
                    .if_not_exists()
                    .unique()
                    .col(InboundEvents::TenantId)
                    .col(InboundEvents::Source)
                    .col(InboundEvents::EventId)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(InboundEvents::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(IntegrationKeys::Table).take())
            .await
    }
}
