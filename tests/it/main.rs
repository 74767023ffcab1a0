//! onegraph's integration tests, in one binary: each module covers one part of the public
//! surface against real servers on loopback, started by the shared harness in `support`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The harness offers helpers that not every test uses.
#[macro_use]
#[allow(dead_code)]
mod support;

mod auth;
mod billing;
mod budget;
mod harness;
mod health;
mod housekeeping;
mod http;
mod integration;
mod invoices;
mod layering;

mod limits;
mod mail;
mod mission;
mod operations;
mod outbox;
mod permissions;
mod portal_identity;
mod portal_users;
mod rate_limit;
mod schema;
mod search;
mod signing;
mod statements;
mod tickets;
mod visitor;
mod walks;
mod ws;
mod ws_caps;
