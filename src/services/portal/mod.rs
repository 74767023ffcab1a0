//! Portal: client users (provisioned by PSA) and their password identity, tickets synced
//! with PSA, invoices from Books, signing requests pushed by Legal, and Mission, proxied
//! live.

pub mod batch;
pub mod client_users;
pub mod identity;
pub mod invoices;
pub mod mission;
pub mod signing;
pub mod tickets;
