//! Business rules, one module per domain. Services know nothing of GraphQL: resolvers and
//! REST handlers call the same functions, and every change runs in one transaction with its
//! audit entry and outbox rows.

pub mod portal;
pub mod shared;
pub mod visitor;

pub use crate::db::{new_id, now};
