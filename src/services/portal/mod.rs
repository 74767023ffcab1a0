//! Portal: client users (provisioned by PSA) and their password identity, tickets synced
//! with PSA, invoices from Books, and signing requests pushed by Legal.

pub mod batch;
pub mod client_users;
pub mod identity;
pub mod invoices;
pub mod signing;
pub mod tickets;
