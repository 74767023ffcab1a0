//! The database: connecting (SQLite with WAL and foreign keys, or PostgreSQL), migrating, and
//! counting statements for `/metrics` and the statement-count tests.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Statement counters shared with the metrics endpoint.
#[derive(Debug, Default)]
pub struct DbStats {
    /// SQL statements executed since start.
    pub statements: AtomicU64,
    /// Statements that failed.
    pub failed: AtomicU64,
    /// Total time spent in statements, microseconds.
    pub micros: AtomicU64,
}

impl DbStats {
    /// Statements executed so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
}

/// How much of a SQLite file is read through a memory map (256 MiB; the rest as usual).
const SQLITE_MMAP_SIZE: u64 = 256 * 1024 * 1024;

/// Whether `url` names SQLite.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Connects to `url` with a pool of `max_connections`, counting statements into `stats`.
pub async fn connect(
    url: &str,
    max_connections: u32,
    stats: Arc<DbStats>,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if is_sqlite(url) {
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Read the file through one memory map the pool's connections share (the
                // operating system's page cache), not only each connection's 2 MiB page
                // cache: lookups spread over a large file (search walking visits and
                // visitors) otherwise cost a system call per page.
                .pragma("mmap_size", SQLITE_MMAP_SIZE.to_string())
        });
    }
    let mut db = Database::connect(options).await?;
    db.set_metric_callback(move |info| {
        stats.statements.fetch_add(1, Ordering::Relaxed);
        if info.failed {
            stats.failed.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(info.elapsed.as_micros()).unwrap_or(u64::MAX);
        stats.micros.fetch_add(micros, Ordering::Relaxed);
    });
    Ok(db)
}

/// Begins a transaction that writes. On SQLite it takes the write lock at `BEGIN`
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails at once with
/// `SQLITE_BUSY_SNAPSHOT` ("database is locked", code 517) when another connection wrote in
/// between, which the busy timeout cannot wait out. PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Whether `err` is a unique-constraint violation (a conflict, not a failure).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// A new UUID string id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The current system time, truncated to microseconds so it round-trips through every
/// database: the stamp of rows and leases. Rules that depend on the date (the jobs' cut-offs)
/// take theirs from `Domain::now`, which tests can set.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6)
}
