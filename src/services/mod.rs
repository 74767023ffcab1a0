//! Business rules, one module per domain. Services know nothing of GraphQL: resolvers and
//! REST handlers call the same functions, and every change runs in one transaction with its
//! audit entry and outbox rows.

pub mod audit;
pub mod auth;
pub mod badges;
pub mod client_users;
pub mod demo;
pub mod hosts;
pub mod housekeeping;
pub mod identity;
pub mod invoices;
pub mod kiosks;
pub mod locations;
pub mod money;
pub mod outbox;
pub mod page;
pub mod pre_registrations;
pub mod report;
pub mod settings;
pub mod signing;
pub mod tickets;
pub mod validate;
pub mod visitor_housekeeping;
pub mod visits;

use chrono::{DateTime, SubsecRound, Utc};

/// A new UUID string id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The current time, truncated to microseconds so it round-trips through every database.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
