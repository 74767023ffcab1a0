//! Foundation schema: creates every table, index and foreign key.
//!
//! SQLite cannot add foreign keys after table creation, so all foreign keys
//! are declared inline and tables are created parent-first. Ids are TEXT
//! holding UUID strings.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates the foundation schema.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    HubSub,
    Email,
    Name,
    Role,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TokenHash,
    TenantId,
    Kind,
    UserId,
    Permissions,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum UsedTokenIds {
    Table,
    Jti,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Locations {
    Table,
    Id,
    TenantId,
    Name,
    Address,
    LocationType,
    Timezone,
    Archived,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Hosts {
    Table,
    Id,
    TenantId,
    Name,
    Email,
    Phone,
    Department,
    LocationId,
    VisibleInDirectory,
    Removed,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Visitors {
    Table,
    Id,
    TenantId,
    Name,
    Email,
    EmailNormalized,
    Phone,
    Company,
    AiRiskScore,
    AiRiskNotes,
    AnonymizedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Kiosks {
    Table,
    Id,
    TenantId,
    LocationId,
    Name,
    TokenHash,
    PairedAt,
    LastSeenAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum PreRegistrations {
    Table,
    Id,
    TenantId,
    LocationId,
    HostId,
    VisitorId,
    CodeHash,
    ExpectedAt,
    ExpiresAt,
    Status,
    VisitId,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Badges {
    Table,
    Id,
    TenantId,
    LocationId,
    Number,
    Status,
    CurrentVisitId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Visits {
    Table,
    Id,
    TenantId,
    VisitorId,
    LocationId,
    HostId,
    BadgeId,
    PreRegistrationId,
    KioskId,
    Status,
    Source,
    Purpose,
    CheckedInAt,
    CheckedOutAt,
    CheckedInBy,
}

#[derive(DeriveIden)]
enum KioskPairingCodes {
    Table,
    Id,
    TenantId,
    LocationId,
    CodeHash,
    ExpiresAt,
    UsedAt,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum VisitorSettings {
    Table,
    TenantId,
    RetentionDays,
    RequireHost,
    RequireBadge,
    AutoCheckoutAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    TenantId,
    At,
    Actor,
    Action,
    Target,
    Details,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    TenantId,
    Kind,
    EventType,
    Payload,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    DeliveredAt,
    LastError,
    Dead,
}

/// TEXT primary key holding a UUID string.
fn pk_text<T: IntoIden>(col: T) -> ColumnDef {
    text(col).primary_key().take()
}

/// Foreign key `from_tbl.from_col -> to_tbl.to_col`.
fn fk<F, FC, T, TC>(
    name: &str,
    from_tbl: F,
    from_col: FC,
    to_tbl: T,
    to_col: TC,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement
where
    F: IntoIden,
    FC: IntoIden,
    T: IntoIden,
    TC: IntoIden,
{
    ForeignKey::create()
        .name(name)
        .from(from_tbl, from_col)
        .to(to_tbl, to_col)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::NoAction)
        .take()
}

/// Foreign key `<table>.tenant_id -> tenants.id ON DELETE CASCADE`.
fn fk_tenant<F, FC>(name: &str, from_tbl: F, from_col: FC) -> ForeignKeyCreateStatement
where
    F: IntoIden,
    FC: IntoIden,
{
    fk(
        name,
        from_tbl,
        from_col,
        Tenants::Table,
        Tenants::Id,
        ForeignKeyAction::Cascade,
    )
}

/// Plain (non-unique) index over `cols`.
fn index<T, C, I>(name: &str, table: T, cols: I) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIndexColumn,
    I: IntoIterator<Item = C>,
{
    let mut stmt = Index::create();
    stmt.name(name).table(table).if_not_exists();
    for col in cols {
        stmt.col(col);
    }
    stmt.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // tenants
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .if_not_exists()
                    .col(pk_text(Tenants::Id))
                    .col(text(Tenants::Name))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .col(timestamp_with_time_zone(Tenants::UpdatedAt))
                    .take(),
            )
            .await?;

        // users
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(pk_text(Users::Id))
                    .col(text(Users::TenantId))
                    .col(text(Users::HubSub))
                    .col(text_null(Users::Email))
                    .col(text(Users::Name))
                    .col(text_null(Users::Role))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .foreign_key(&mut fk_tenant(
                        "fk_users_tenant",
                        Users::Table,
                        Users::TenantId,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_users_tenant_hub_sub",
                    Users::Table,
                    [Users::TenantId, Users::HubSub],
                )
                .unique()
                .take(),
            )
            .await?;

        // sessions
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(pk_text(Sessions::Id))
                    .col(text_uniq(Sessions::TokenHash))
                    .col(text(Sessions::TenantId))
                    .col(text(Sessions::Kind))
                    .col(text(Sessions::UserId))
                    .col(text(Sessions::Permissions))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .foreign_key(&mut fk_tenant(
                        "fk_sessions_tenant",
                        Sessions::Table,
                        Sessions::TenantId,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_sessions_user",
                Sessions::Table,
                [Sessions::UserId],
            ))
            .await?;

        // used_token_ids
        manager
            .create_table(
                Table::create()
                    .table(UsedTokenIds::Table)
                    .if_not_exists()
                    .col(pk_text(UsedTokenIds::Jti))
                    .col(timestamp_with_time_zone(UsedTokenIds::ExpiresAt))
                    .col(timestamp_with_time_zone(UsedTokenIds::UsedAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_used_token_ids_expires",
                UsedTokenIds::Table,
                [UsedTokenIds::ExpiresAt],
            ))
            .await?;

        // locations
        manager
            .create_table(
                Table::create()
                    .table(Locations::Table)
                    .if_not_exists()
                    .col(pk_text(Locations::Id))
                    .col(text(Locations::TenantId))
                    .col(text(Locations::Name))
                    .col(text_null(Locations::Address))
                    .col(text(Locations::LocationType))
                    .col(text(Locations::Timezone))
                    .col(boolean(Locations::Archived).default(false))
                    .col(timestamp_with_time_zone(Locations::CreatedAt))
                    .col(timestamp_with_time_zone(Locations::UpdatedAt))
                    .foreign_key(&mut fk_tenant(
                        "fk_locations_tenant",
                        Locations::Table,
                        Locations::TenantId,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_locations_tenant_name",
                Locations::Table,
                [Locations::TenantId, Locations::Name],
            ))
            .await?;

        // hosts
        manager
            .create_table(
                Table::create()
                    .table(Hosts::Table)
                    .if_not_exists()
                    .col(pk_text(Hosts::Id))
                    .col(text(Hosts::TenantId))
                    .col(text(Hosts::Name))
                    .col(text_null(Hosts::Email))
                    .col(text_null(Hosts::Phone))
                    .col(text_null(Hosts::Department))
                    .col(text_null(Hosts::LocationId))
                    .col(boolean(Hosts::VisibleInDirectory).default(true))
                    .col(boolean(Hosts::Removed).default(false))
                    .col(timestamp_with_time_zone(Hosts::CreatedAt))
                    .col(timestamp_with_time_zone(Hosts::UpdatedAt))
                    .foreign_key(&mut fk_tenant(
                        "fk_hosts_tenant",
                        Hosts::Table,
                        Hosts::TenantId,
                    ))
                    .foreign_key(&mut fk(
                        "fk_hosts_location",
                        Hosts::Table,
                        Hosts::LocationId,
                        Locations::Table,
                        Locations::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_hosts_tenant_name",
                Hosts::Table,
                [Hosts::TenantId, Hosts::Name],
            ))
            .await?;

        // visitors
        manager
            .create_table(
                Table::create()
                    .table(Visitors::Table)
                    .if_not_exists()
                    .col(pk_text(Visitors::Id))
                    .col(text(Visitors::TenantId))
                    .col(text(Visitors::Name))
                    .col(text_null(Visitors::Email))
                    .col(text_null(Visitors::EmailNormalized))
                    .col(text_null(Visitors::Phone))
                    .col(text_null(Visitors::Company))
                    .col(double_null(Visitors::AiRiskScore))
                    .col(text_null(Visitors::AiRiskNotes))
                    .col(timestamp_with_time_zone_null(Visitors::AnonymizedAt))
                    .col(timestamp_with_time_zone(Visitors::CreatedAt))
                    .col(timestamp_with_time_zone(Visitors::UpdatedAt))
                    .foreign_key(&mut fk_tenant(
                        "fk_visitors_tenant",
                        Visitors::Table,
                        Visitors::TenantId,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_visitors_tenant_email",
                Visitors::Table,
                [Visitors::TenantId, Visitors::EmailNormalized],
            ))
            .await?;

        // kiosks
        manager
            .create_table(
                Table::create()
                    .table(Kiosks::Table)
                    .if_not_exists()
                    .col(pk_text(Kiosks::Id))
                    .col(text(Kiosks::TenantId))
                    .col(text(Kiosks::LocationId))
                    .col(text(Kiosks::Name))
                    .col(text_uniq(Kiosks::TokenHash))
                    .col(timestamp_with_time_zone(Kiosks::PairedAt))
                    .col(timestamp_with_time_zone_null(Kiosks::LastSeenAt))
                    .col(timestamp_with_time_zone_null(Kiosks::RevokedAt))
                    .foreign_key(&mut fk_tenant(
                        "fk_kiosks_tenant",
                        Kiosks::Table,
                        Kiosks::TenantId,
                    ))
                    .foreign_key(&mut fk(
                        "fk_kiosks_location",
                        Kiosks::Table,
                        Kiosks::LocationId,
                        Locations::Table,
                        Locations::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;

        // pre_registrations
        manager
            .create_table(
                Table::create()
                    .table(PreRegistrations::Table)
                    .if_not_exists()
                    .col(pk_text(PreRegistrations::Id))
                    .col(text(PreRegistrations::TenantId))
                    .col(text(PreRegistrations::LocationId))
                    .col(text_null(PreRegistrations::HostId))
                    .col(text(PreRegistrations::VisitorId))
                    .col(text_uniq(PreRegistrations::CodeHash))
                    .col(timestamp_with_time_zone(PreRegistrations::ExpectedAt))
                    .col(timestamp_with_time_zone(PreRegistrations::ExpiresAt))
                    .col(text(PreRegistrations::Status))
                    .col(text_null(PreRegistrations::VisitId))
                    .col(text(PreRegistrations::CreatedBy))
                    .col(timestamp_with_time_zone(PreRegistrations::CreatedAt))
                    .foreign_key(&mut fk_tenant(
                        "fk_pre_registrations_tenant",
                        PreRegistrations::Table,
                        PreRegistrations::TenantId,
                    ))
                    .foreign_key(&mut fk(
                        "fk_pre_registrations_location",
                        PreRegistrations::Table,
                        PreRegistrations::LocationId,
                        Locations::Table,
                        Locations::Id,
                        ForeignKeyAction::NoAction,
                    ))
                    .foreign_key(&mut fk(
                        "fk_pre_registrations_host",
                        PreRegistrations::Table,
                        PreRegistrations::HostId,
                        Hosts::Table,
                        Hosts::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_pre_registrations_visitor",
                        PreRegistrations::Table,
                        PreRegistrations::VisitorId,
                        Visitors::Table,
                        Visitors::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_pre_registrations_tenant_expected",
                PreRegistrations::Table,
                [PreRegistrations::TenantId, PreRegistrations::ExpectedAt],
            ))
            .await?;

        // badges
        manager
            .create_table(
                Table::create()
                    .table(Badges::Table)
                    .if_not_exists()
                    .col(pk_text(Badges::Id))
                    .col(text(Badges::TenantId))
                    .col(text(Badges::LocationId))
                    .col(text(Badges::Number))
                    .col(text(Badges::Status))
                    // No FK: would form a cycle with visits.badge_id.
                    .col(text_null(Badges::CurrentVisitId))
                    .col(timestamp_with_time_zone(Badges::CreatedAt))
                    .col(timestamp_with_time_zone(Badges::UpdatedAt))
                    .foreign_key(&mut fk_tenant(
                        "fk_badges_tenant",
                        Badges::Table,
                        Badges::TenantId,
                    ))
                    .foreign_key(&mut fk(
                        "fk_badges_location",
                        Badges::Table,
                        Badges::LocationId,
                        Locations::Table,
                        Locations::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_badges_location_number",
                    Badges::Table,
                    [Badges::LocationId, Badges::Number],
                )
                .unique()
                .take(),
            )
            .await?;

        // visits
        manager
            .create_table(
                Table::create()
                    .table(Visits::Table)
                    .if_not_exists()
                    .col(pk_text(Visits::Id))
                    .col(text(Visits::TenantId))
                    .col(text(Visits::VisitorId))
                    .col(text(Visits::LocationId))
                    .col(text_null(Visits::HostId))
                    .col(text_null(Visits::BadgeId))
                    .col(text_null(Visits::PreRegistrationId))
                    .col(text_null(Visits::KioskId))
                    .col(text(Visits::Status))
                    .col(text(Visits::Source))
                    .col(text_null(Visits::Purpose))
                    .col(timestamp_with_time_zone(Visits::CheckedInAt))
                    .col(timestamp_with_time_zone_null(Visits::CheckedOutAt))
                    .col(text(Visits::CheckedInBy))
                    .foreign_key(&mut fk_tenant(
                        "fk_visits_tenant",
                        Visits::Table,
                        Visits::TenantId,
                    ))
                    .foreign_key(&mut fk(
                        "fk_visits_visitor",
                        Visits::Table,
                        Visits::VisitorId,
                        Visitors::Table,
                        Visitors::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_visits_location",
                        Visits::Table,
                        Visits::LocationId,
                        Locations::Table,
                        Locations::Id,
                        ForeignKeyAction::NoAction,
                    ))
                    .foreign_key(&mut fk(
                        "fk_visits_host",
                        Visits::Table,
                        Visits::HostId,
                        Hosts::Table,
                        Hosts::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_visits_badge",
                        Visits::Table,
                        Visits::BadgeId,
                        Badges::Table,
                        Badges::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_visits_pre_registration",
                        Visits::Table,
                        Visits::PreRegistrationId,
                        PreRegistrations::Table,
                        PreRegistrations::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_visits_kiosk",
                        Visits::Table,
                        Visits::KioskId,
                        Kiosks::Table,
                        Kiosks::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_visits_tenant_checked_in",
                Visits::Table,
                [Visits::TenantId, Visits::CheckedInAt, Visits::Id],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_visits_tenant_location_status",
                Visits::Table,
                [Visits::TenantId, Visits::LocationId, Visits::Status],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_visits_visitor",
                Visits::Table,
                [Visits::VisitorId],
            ))
            .await?;
        manager
            .create_index(index("idx_visits_host", Visits::Table, [Visits::HostId]))
            .await?;

        // kiosk_pairing_codes
        manager
            .create_table(
                Table::create()
                    .table(KioskPairingCodes::Table)
                    .if_not_exists()
                    .col(pk_text(KioskPairingCodes::Id))
                    .col(text(KioskPairingCodes::TenantId))
                    .col(text(KioskPairingCodes::LocationId))
                    .col(text_uniq(KioskPairingCodes::CodeHash))
                    .col(timestamp_with_time_zone(KioskPairingCodes::ExpiresAt))
                    .col(timestamp_with_time_zone_null(KioskPairingCodes::UsedAt))
                    .col(text(KioskPairingCodes::CreatedBy))
                    .col(timestamp_with_time_zone(KioskPairingCodes::CreatedAt))
                    .foreign_key(&mut fk_tenant(
                        "fk_kiosk_pairing_codes_tenant",
                        KioskPairingCodes::Table,
                        KioskPairingCodes::TenantId,
                    ))
                    .foreign_key(&mut fk(
                        "fk_kiosk_pairing_codes_location",
                        KioskPairingCodes::Table,
                        KioskPairingCodes::LocationId,
                        Locations::Table,
                        Locations::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;

        // visitor_settings
        manager
            .create_table(
                Table::create()
                    .table(VisitorSettings::Table)
                    .if_not_exists()
                    .col(pk_text(VisitorSettings::TenantId))
                    .col(integer(VisitorSettings::RetentionDays))
                    .col(boolean(VisitorSettings::RequireHost).default(false))
                    .col(boolean(VisitorSettings::RequireBadge).default(false))
                    .col(text_null(VisitorSettings::AutoCheckoutAt))
                    .col(timestamp_with_time_zone(VisitorSettings::UpdatedAt))
                    .foreign_key(&mut fk_tenant(
                        "fk_visitor_settings_tenant",
                        VisitorSettings::Table,
                        VisitorSettings::TenantId,
                    ))
                    .take(),
            )
            .await?;

        // audit_log
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(pk_text(AuditLog::Id))
                    .col(text(AuditLog::TenantId))
                    .col(timestamp_with_time_zone(AuditLog::At))
                    .col(text(AuditLog::Actor))
                    .col(text(AuditLog::Action))
                    .col(text_null(AuditLog::Target))
                    .col(text_null(AuditLog::Details))
                    .foreign_key(&mut fk_tenant(
                        "fk_audit_log_tenant",
                        AuditLog::Table,
                        AuditLog::TenantId,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_audit_log_tenant_at",
                AuditLog::Table,
                [AuditLog::TenantId, AuditLog::At, AuditLog::Id],
            ))
            .await?;

        // outbox (tenant_id optional, no FK)
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(pk_text(Outbox::Id))
                    .col(text_null(Outbox::TenantId))
                    .col(text(Outbox::Kind))
                    .col(text(Outbox::EventType))
                    .col(text(Outbox::Payload))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Outbox::LockedUntil))
                    .col(timestamp_with_time_zone_null(Outbox::DeliveredAt))
                    .col(text_null(Outbox::LastError))
                    .col(boolean(Outbox::Dead).default(false))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_outbox_pending",
                Outbox::Table,
                [Outbox::DeliveredAt, Outbox::Dead, Outbox::NextAttemptAt],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Reverse creation order so that no table is dropped while another
        // table still references it. Indexes are dropped with their tables.
        let tables: [DynIden; 15] = [
            Outbox::Table.into_iden(),
            AuditLog::Table.into_iden(),
            VisitorSettings::Table.into_iden(),
            KioskPairingCodes::Table.into_iden(),
            Visits::Table.into_iden(),
            Badges::Table.into_iden(),
            PreRegistrations::Table.into_iden(),
            Kiosks::Table.into_iden(),
            Visitors::Table.into_iden(),
            Hosts::Table.into_iden(),
            Locations::Table.into_iden(),
            UsedTokenIds::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
            Tenants::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
