//! The Portal part of the schema: client users, tickets, invoices, signing. Every field is
//! guarded by a `portal.*` permission and confined by the services to the caller's tenant
//! and company.

pub mod inputs;
pub mod mutation;
pub mod query;
pub mod types;
