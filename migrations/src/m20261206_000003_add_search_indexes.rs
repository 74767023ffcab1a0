//! Indexes for global search (`search`, `GET /api/search`): visits are found by their
//! visitor's name and company, locations by their name and address, by any substring,
//! case-insensitively. Each database indexes with what it ships:
//!
//! - PostgreSQL: the `pg_trgm` extension (trusted since PostgreSQL 13, so the database owner
//!   may create it) and GIN trigram indexes on `lower(name)`, `lower(company)` of `visitors`
//!   and `lower(name)`, `lower(address)` of `locations`, which serve `lower(col) LIKE
//!   '%…%'` and prefixes; and b-tree indexes on `(tenant_id, lower(name))` and
//!   `(tenant_id, lower(company))` of `visitors` for equality (a trigram index answers `=`
//!   only by rechecking every row sharing the trigrams).
//! - SQLite: FTS5 tables with the `trigram` tokenizer (`visitors_search`,
//!   `locations_search`), external-content tables over `visitors` and `locations` keyed by
//!   their rowid, kept current by triggers on insert, update and delete, and filled once
//!   here (`rebuild`). Equality and prefixes use b-tree indexes on `(tenant_id,
//!   lower(name))` and `(tenant_id, lower(company))` of `visitors`.
//!
//! The search service reads the rows themselves to decide a match, so an index only ever
//! narrows the rows it looks at; a stale SQLite index (a rowid changed by a manual `VACUUM`)
//! could miss rows but never return a wrong one. `INSERT INTO visitors_search(visitors_search)
//! VALUES ('rebuild')` (and the same for `locations_search`) repairs it.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

/// Adds the search indexes.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// PostgreSQL: the extension and the trigram indexes.
const POSTGRES_UP: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS idx_visitors_name_trgm ON visitors \
     USING gin (lower(name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS idx_visitors_company_trgm ON visitors \
     USING gin (lower(company) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS idx_locations_name_trgm ON locations \
     USING gin (lower(name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS idx_locations_address_trgm ON locations \
     USING gin (lower(address) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS idx_visitors_tenant_lower_name ON visitors \
     (tenant_id, lower(name))",
    "CREATE INDEX IF NOT EXISTS idx_visitors_tenant_lower_company ON visitors \
     (tenant_id, lower(company))",
];

/// PostgreSQL: the indexes go; the extension stays (other objects may use it, and dropping
/// it needs more than the database owner may have).
const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_visitors_tenant_lower_company",
    "DROP INDEX IF EXISTS idx_visitors_tenant_lower_name",
    "DROP INDEX IF EXISTS idx_locations_address_trgm",
    "DROP INDEX IF EXISTS idx_locations_name_trgm",
    "DROP INDEX IF EXISTS idx_visitors_company_trgm",
    "DROP INDEX IF EXISTS idx_visitors_name_trgm",
];

/// SQLite: the FTS5 tables, their triggers, their first fill, and the b-tree indexes.
const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE IF NOT EXISTS visitors_search USING fts5(\
     name, company, content='visitors', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS visitors_search_insert AFTER INSERT ON visitors BEGIN \
     INSERT INTO visitors_search(rowid, name, company) \
     VALUES (new.rowid, new.name, new.company); END",
    "CREATE TRIGGER IF NOT EXISTS visitors_search_delete AFTER DELETE ON visitors BEGIN \
     INSERT INTO visitors_search(visitors_search, rowid, name, company) \
     VALUES ('delete', old.rowid, old.name, old.company); END",
    "CREATE TRIGGER IF NOT EXISTS visitors_search_update AFTER UPDATE OF name, company \
     ON visitors BEGIN \
     INSERT INTO visitors_search(visitors_search, rowid, name, company) \
     VALUES ('delete', old.rowid, old.name, old.company); \
     INSERT INTO visitors_search(rowid, name, company) \
     VALUES (new.rowid, new.name, new.company); END",
    "INSERT INTO visitors_search(visitors_search) VALUES ('rebuild')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS locations_search USING fts5(\
     name, address, content='locations', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS locations_search_insert AFTER INSERT ON locations BEGIN \
     INSERT INTO locations_search(rowid, name, address) \
     VALUES (new.rowid, new.name, new.address); END",
    "CREATE TRIGGER IF NOT EXISTS locations_search_delete AFTER DELETE ON locations BEGIN \
     INSERT INTO locations_search(locations_search, rowid, name, address) \
     VALUES ('delete', old.rowid, old.name, old.address); END",
    "CREATE TRIGGER IF NOT EXISTS locations_search_update AFTER UPDATE OF name, address \
     ON locations BEGIN \
     INSERT INTO locations_search(locations_search, rowid, name, address) \
     VALUES ('delete', old.rowid, old.name, old.address); \
     INSERT INTO locations_search(rowid, name, address) \
     VALUES (new.rowid, new.name, new.address); END",
    "INSERT INTO locations_search(locations_search) VALUES ('rebuild')",
    "CREATE INDEX IF NOT EXISTS idx_visitors_tenant_lower_name ON visitors \
     (tenant_id, lower(name))",
    "CREATE INDEX IF NOT EXISTS idx_visitors_tenant_lower_company ON visitors \
     (tenant_id, lower(company))",
];

/// SQLite: everything `SQLITE_UP` made.
const SQLITE_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_visitors_tenant_lower_company",
    "DROP INDEX IF EXISTS idx_visitors_tenant_lower_name",
    "DROP TRIGGER IF EXISTS locations_search_update",
    "DROP TRIGGER IF EXISTS locations_search_delete",
    "DROP TRIGGER IF EXISTS locations_search_insert",
    "DROP TABLE IF EXISTS locations_search",
    "DROP TRIGGER IF EXISTS visitors_search_update",
    "DROP TRIGGER IF EXISTS visitors_search_delete",
    "DROP TRIGGER IF EXISTS visitors_search_insert",
    "DROP TABLE IF EXISTS visitors_search",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, POSTGRES_UP).await,
            DatabaseBackend::Sqlite => run(manager, SQLITE_UP).await,
            other => Err(DbErr::Migration(format!(
                "search indexes are defined for PostgreSQL and SQLite, not {other:?}"
            ))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, POSTGRES_DOWN).await,
            DatabaseBackend::Sqlite => run(manager, SQLITE_DOWN).await,
            other => Err(DbErr::Migration(format!(
                "search indexes are defined for PostgreSQL and SQLite, not {other:?}"
            ))),
        }
    }
}
