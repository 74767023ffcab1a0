//! What both products use: sign-on and sessions, the audit trail, the outbox, paging,
//! input validation, money, and the housekeeping sweep of expired rows.

pub mod audit;
pub mod batch;
pub mod housekeeping;
pub mod money;
pub mod outbox;
pub mod page;
pub mod sessions;
pub mod validate;
pub mod viewer;
