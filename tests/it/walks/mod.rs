//! Walks over the whole schema, generated from introspection.

mod hostile;
