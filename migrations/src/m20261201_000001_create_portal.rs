//! Portal schema: client users and their one-time password tokens, tickets and comments
//! synced with PSA, invoices from Books, signing requests and acknowledgements for Legal,
//! and the scheduler's job leases, run records and sync cursors.
//!
//! Money is stored as decimal text (never floating point); enumerated values are TEXT
//! validated by the application, as in the foundation schema.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates the Portal schema.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ClientUsers {
    Table,
    Id,
    TenantId,
    CompanyId,
    PsaContactId,
    Email,
    Name,
    Role,
    Active,
    HubSub,
    MissionMemberId,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum PasswordTokens {
    Table,
    Id,
    TenantId,
    ClientUserId,
    Purpose,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    TenantId,
    CompanyId,
    ClientUserId,
    PsaTicketId,
    Subject,
    Description,
    Status,
    Priority,
    SyncState,
    SyncError,
    SyncAttempts,
    NextSyncAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TicketComments {
    Table,
    Id,
    TenantId,
    TicketId,
    ClientUserId,
    Author,
    AuthorEmail,
    Body,
    FromPsa,
    PsaCommentId,
    SyncState,
    SyncError,
    SyncAttempts,
    NextSyncAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
    TenantId,
    CompanyId,
    BooksInvoiceId,
    Number,
    Status,
    Currency,
    Total,
    Balance,
    IssuedAt,
    DueAt,
    PdfUrl,
    BooksUpdatedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SigningRequests {
    Table,
    Id,
    TenantId,
    CompanyId,
    ClientUserId,
    PolicyId,
    Version,
    Title,
    DocumentUrl,
    ContentSha256,
    DueAt,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Acknowledgements {
    Table,
    Id,
    TenantId,
    SigningRequestId,
    ClientUserId,
    SignatureName,
    SignedAt,
    IpAddress,
    UserAgent,
    ContentSha256,
}

#[derive(DeriveIden)]
enum JobLeases {
    Table,
    Job,
    Holder,
    LockedUntil,
    LastStartedAt,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    Id,
    Job,
    StartedAt,
    FinishedAt,
    Ok,
    Summary,
    Error,
    Counts,
}

#[derive(DeriveIden)]
enum SyncCursors {
    Table,
    Name,
    Value,
    UpdatedAt,
}

fn pk_text<T: IntoIden>(col: T) -> ColumnDef {
    text(col).primary_key().take()
}

fn fk<F, FC, T, TC>(name: &str, from: (F, FC), to: (T, TC)) -> ForeignKeyCreateStatement
where
    F: IntoIden,
    FC: IntoIden,
    T: IntoIden,
    TC: IntoIden,
{
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::NoAction)
        .take()
}

fn index<T, C, I>(name: &str, table: T, cols: I, unique: bool) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIndexColumn,
    I: IntoIterator<Item = C>,
{
    let mut stmt = Index::create();
    stmt.name(name).table(table).if_not_exists();
    if unique {
        stmt.unique();
    }
    for col in cols {
        stmt.col(col);
    }
    stmt.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClientUsers::Table)
                    .if_not_exists()
                    .col(pk_text(ClientUsers::Id))
                    .col(text(ClientUsers::TenantId))
                    .col(text(ClientUsers::CompanyId))
                    .col(text_null(ClientUsers::PsaContactId))
                    .col(text(ClientUsers::Email))
                    .col(text(ClientUsers::Name))
                    .col(text(ClientUsers::Role))
                    .col(boolean(ClientUsers::Active).default(true))
                    .col(text_null(ClientUsers::HubSub))
                    .col(text_null(ClientUsers::MissionMemberId))
                    .col(text_null(ClientUsers::PasswordHash))
                    .col(timestamp_with_time_zone(ClientUsers::CreatedAt))
                    .col(timestamp_with_time_zone(ClientUsers::UpdatedAt))
                    .col(timestamp_with_time_zone_null(ClientUsers::LastLoginAt))
                    .foreign_key(&mut fk(
                        "fk_client_users_tenant",
                        (ClientUsers::Table, ClientUsers::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .take(),
            )
            .await?;
        for stmt in [
            index(
                "ux_client_users_email",
                ClientUsers::Table,
                [ClientUsers::TenantId, ClientUsers::Email],
                true,
            ),
            index(
                "ux_client_users_psa_contact",
                ClientUsers::Table,
                [ClientUsers::TenantId, ClientUsers::PsaContactId],
                true,
            ),
            index(
                "idx_client_users_company",
                ClientUsers::Table,
                [ClientUsers::TenantId, ClientUsers::CompanyId],
                false,
            ),
        ] {
            manager.create_index(stmt).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(PasswordTokens::Table)
                    .if_not_exists()
                    .col(pk_text(PasswordTokens::Id))
                    .col(text(PasswordTokens::TenantId))
                    .col(text(PasswordTokens::ClientUserId))
                    .col(text(PasswordTokens::Purpose))
                    .col(text(PasswordTokens::TokenHash).unique_key())
                    .col(timestamp_with_time_zone(PasswordTokens::CreatedAt))
                    .col(timestamp_with_time_zone(PasswordTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PasswordTokens::UsedAt))
                    .foreign_key(&mut fk(
                        "fk_password_tokens_tenant",
                        (PasswordTokens::Table, PasswordTokens::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_password_tokens_user",
                        (PasswordTokens::Table, PasswordTokens::ClientUserId),
                        (ClientUsers::Table, ClientUsers::Id),
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_password_tokens_user",
                PasswordTokens::Table,
                [PasswordTokens::ClientUserId],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tickets::Table)
                    .if_not_exists()
                    .col(pk_text(Tickets::Id))
                    .col(text(Tickets::TenantId))
                    .col(text(Tickets::CompanyId))
                    .col(text_null(Tickets::ClientUserId))
                    .col(text_null(Tickets::PsaTicketId))
                    .col(text(Tickets::Subject))
                    .col(text(Tickets::Description))
                    .col(text(Tickets::Status))
                    .col(text(Tickets::Priority))
                    .col(text(Tickets::SyncState))
                    .col(text_null(Tickets::SyncError))
                    .col(integer(Tickets::SyncAttempts).default(0))
                    .col(timestamp_with_time_zone_null(Tickets::NextSyncAt))
                    .col(timestamp_with_time_zone(Tickets::CreatedAt))
                    .col(timestamp_with_time_zone(Tickets::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_tickets_tenant",
                        (Tickets::Table, Tickets::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .take(),
            )
            .await?;
        for stmt in [
            index(
                "idx_tickets_company",
                Tickets::Table,
                [Tickets::TenantId, Tickets::CompanyId, Tickets::CreatedAt],
                false,
            ),
            index(
                "idx_tickets_sync",
                Tickets::Table,
                [Tickets::SyncState, Tickets::NextSyncAt],
                false,
            ),
            index(
                "ux_tickets_psa_id",
                Tickets::Table,
                [Tickets::TenantId, Tickets::PsaTicketId],
                true,
            ),
        ] {
            manager.create_index(stmt).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(TicketComments::Table)
                    .if_not_exists()
                    .col(pk_text(TicketComments::Id))
                    .col(text(TicketComments::TenantId))
                    .col(text(TicketComments::TicketId))
                    .col(text_null(TicketComments::ClientUserId))
                    .col(text(TicketComments::Author))
                    .col(text_null(TicketComments::AuthorEmail))
                    .col(text(TicketComments::Body))
                    .col(boolean(TicketComments::FromPsa).default(false))
                    .col(text_null(TicketComments::PsaCommentId))
                    .col(text(TicketComments::SyncState))
                    .col(text_null(TicketComments::SyncError))
                    .col(integer(TicketComments::SyncAttempts).default(0))
                    .col(timestamp_with_time_zone_null(TicketComments::NextSyncAt))
                    .col(timestamp_with_time_zone(TicketComments::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_ticket_comments_tenant",
                        (TicketComments::Table, TicketComments::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_ticket_comments_ticket",
                        (TicketComments::Table, TicketComments::TicketId),
                        (Tickets::Table, Tickets::Id),
                    ))
                    .take(),
            )
            .await?;
        for stmt in [
            index(
                "idx_ticket_comments_ticket",
                TicketComments::Table,
                [TicketComments::TicketId, TicketComments::CreatedAt],
                false,
            ),
            index(
                "ux_ticket_comments_psa_id",
                TicketComments::Table,
                [TicketComments::TicketId, TicketComments::PsaCommentId],
                true,
            ),
            index(
                "idx_ticket_comments_sync",
                TicketComments::Table,
                [TicketComments::SyncState, TicketComments::NextSyncAt],
                false,
            ),
        ] {
            manager.create_index(stmt).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Invoices::Table)
                    .if_not_exists()
                    .col(pk_text(Invoices::Id))
                    .col(text(Invoices::TenantId))
                    .col(text(Invoices::CompanyId))
                    .col(text(Invoices::BooksInvoiceId))
                    .col(text(Invoices::Number))
                    .col(text(Invoices::Status))
                    .col(text(Invoices::Currency))
                    .col(text(Invoices::Total))
                    .col(text(Invoices::Balance))
                    .col(timestamp_with_time_zone(Invoices::IssuedAt))
                    .col(timestamp_with_time_zone_null(Invoices::DueAt))
                    .col(text_null(Invoices::PdfUrl))
                    .col(timestamp_with_time_zone(Invoices::BooksUpdatedAt))
                    .col(timestamp_with_time_zone(Invoices::CreatedAt))
                    .col(timestamp_with_time_zone(Invoices::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_invoices_tenant",
                        (Invoices::Table, Invoices::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .take(),
            )
            .await?;
        for stmt in [
            index(
                "ux_invoices_books_id",
                Invoices::Table,
                [Invoices::TenantId, Invoices::BooksInvoiceId],
                true,
            ),
            index(
                "idx_invoices_company",
                Invoices::Table,
                [Invoices::TenantId, Invoices::CompanyId, Invoices::IssuedAt],
                false,
            ),
        ] {
            manager.create_index(stmt).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(SigningRequests::Table)
                    .if_not_exists()
                    .col(pk_text(SigningRequests::Id))
                    .col(text(SigningRequests::TenantId))
                    .col(text(SigningRequests::CompanyId))
                    .col(text(SigningRequests::ClientUserId))
                    .col(text(SigningRequests::PolicyId))
                    .col(integer(SigningRequests::Version))
                    .col(text(SigningRequests::Title))
                    .col(text(SigningRequests::DocumentUrl))
                    .col(text(SigningRequests::ContentSha256))
                    .col(timestamp_with_time_zone_null(SigningRequests::DueAt))
                    .col(text(SigningRequests::Status))
                    .col(timestamp_with_time_zone(SigningRequests::CreatedAt))
                    .col(timestamp_with_time_zone(SigningRequests::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_signing_requests_tenant",
                        (SigningRequests::Table, SigningRequests::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_signing_requests_user",
                        (SigningRequests::Table, SigningRequests::ClientUserId),
                        (ClientUsers::Table, ClientUsers::Id),
                    ))
                    .take(),
            )
            .await?;
        for stmt in [
            index(
                "ux_signing_requests_policy_user",
                SigningRequests::Table,
                [
                    SigningRequests::TenantId,
                    SigningRequests::PolicyId,
                    SigningRequests::Version,
                    SigningRequests::ClientUserId,
                ],
                true,
            ),
            index(
                "idx_signing_requests_user",
                SigningRequests::Table,
                [SigningRequests::ClientUserId, SigningRequests::CreatedAt],
                false,
            ),
        ] {
            manager.create_index(stmt).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Acknowledgements::Table)
                    .if_not_exists()
                    .col(pk_text(Acknowledgements::Id))
                    .col(text(Acknowledgements::TenantId))
                    .col(text(Acknowledgements::SigningRequestId).unique_key())
                    .col(text(Acknowledgements::ClientUserId))
                    .col(text(Acknowledgements::SignatureName))
                    .col(timestamp_with_time_zone(Acknowledgements::SignedAt))
                    .col(text_null(Acknowledgements::IpAddress))
                    .col(text_null(Acknowledgements::UserAgent))
                    .col(text(Acknowledgements::ContentSha256))
                    .foreign_key(&mut fk(
                        "fk_acknowledgements_tenant",
                        (Acknowledgements::Table, Acknowledgements::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_acknowledgements_request",
                        (Acknowledgements::Table, Acknowledgements::SigningRequestId),
                        (SigningRequests::Table, SigningRequests::Id),
                    ))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(JobLeases::Table)
                    .if_not_exists()
                    .col(pk_text(JobLeases::Job))
                    .col(text(JobLeases::Holder))
                    .col(timestamp_with_time_zone(JobLeases::LockedUntil))
                    .col(timestamp_with_time_zone_null(JobLeases::LastStartedAt))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncRuns::Table)
                    .if_not_exists()
                    .col(pk_text(SyncRuns::Id))
                    .col(text(SyncRuns::Job))
                    .col(timestamp_with_time_zone(SyncRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(SyncRuns::FinishedAt))
                    .col(boolean_null(SyncRuns::Ok))
                    .col(text_null(SyncRuns::Summary))
                    .col(text_null(SyncRuns::Error))
                    .col(text(SyncRuns::Counts).default("{}"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_sync_runs_job",
                SyncRuns::Table,
                [SyncRuns::Job, SyncRuns::StartedAt],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncCursors::Table)
                    .if_not_exists()
                    .col(pk_text(SyncCursors::Name))
                    .col(text(SyncCursors::Value))
                    .col(timestamp_with_time_zone(SyncCursors::UpdatedAt))
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 10] = [
            SyncCursors::Table.into_iden(),
            SyncRuns::Table.into_iden(),
            JobLeases::Table.into_iden(),
            Acknowledgements::Table.into_iden(),
            SigningRequests::Table.into_iden(),
            Invoices::Table.into_iden(),
            TicketComments::Table.into_iden(),
            Tickets::Table.into_iden(),
            PasswordTokens::Table.into_iden(),
            ClientUsers::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
