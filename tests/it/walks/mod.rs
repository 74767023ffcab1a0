//! Walks over the whole schema, generated from introspection, and the log of a full
//! scenario.

mod hostile;
mod secrets;
