//! The Visitor product's GraphQL fields: locations, hosts, visits, badges,
//! pre-registrations, kiosks, settings, reports and the live check-in subscriptions.

pub mod inputs;
pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;
