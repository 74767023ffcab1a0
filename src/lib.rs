//! onegraph: the GraphQL backend of Portal and Visitor, federating The One Stack's products
//! behind one schema.

/// Application state, router assembly and serving.
pub mod app;
/// Principals, permissions, SSO tokens, sessions, guards, rate limiting.
pub mod auth;
/// What the command-line commands do (`main.rs` only parses and calls).
pub mod cli;
/// Settings from the environment (with `*_FILE` secrets).
pub mod config;
/// Database connection, migrations and statement counting.
pub mod db;
/// The services' context: database, settings, event hub, clock.
pub mod domain;
/// The error type at the edge, with stable codes.
pub mod error;
/// Live events for subscriptions.
pub mod events;
/// The GraphQL schema and the `/graphql` endpoint.
pub mod graphql;
/// REST endpoints: sign-on, integration pushes, reports, health, metrics.
pub mod http;
/// Scheduled jobs with database leases and run records.
pub mod jobs;
/// Business rules per domain.
pub mod services;
/// Clients of the other products, behind traits.
pub mod upstream;
