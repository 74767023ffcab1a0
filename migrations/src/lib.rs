//! Database migrations for onegraph (SQLite and PostgreSQL).

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_foundation;
mod m20261122_000002_add_visit_log_indexes;
mod m20261201_000001_create_portal;
mod m20261206_000001_create_integration_keys;
mod m20261206_000002_create_billing_reports;
mod m20261206_000003_add_search_indexes;
mod m20261206_000004_add_visits_checked_in_index;
mod m20261206_000005_add_integration_health;

/// The migrator listing every migration in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_foundation::Migration),
            Box::new(m20261122_000002_add_visit_log_indexes::Migration),
            Box::new(m20261201_000001_create_portal::Migration),
            Box::new(m20261206_000001_create_integration_keys::Migration),
            Box::new(m20261206_000002_create_billing_reports::Migration),
            Box::new(m20261206_000003_add_search_indexes::Migration),
            Box::new(m20261206_000004_add_visits_checked_in_index::Migration),
            Box::new(m20261206_000005_add_integration_health::Migration),
        ]
    }
}
