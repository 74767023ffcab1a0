//! What both products use: sign-on and sessions, integration keys, integration health, the caller's own user and tenant (`me`),
//! the audit trail, the outbox, paging and the tenant-scoped batch statements behind the
//! DataLoaders, input validation, money, and the housekeeping sweep of expired rows.

pub mod audit;
pub mod batch;
pub mod health;
pub mod housekeeping;
pub mod integration_keys;
pub mod money;
pub mod outbox;
pub mod page;
pub mod sessions;
pub mod validate;
pub mod viewer;
