//! Walks over the whole running schema: every field found by introspection, so a new field
//! is covered (or the walk fails asking for it to be classified) without editing the tests;
//! and the log of a full scenario, searched for every secret. `schema` reads the schema and
//! builds calls from it; `world` seeds the two tenants the tenancy and permission walks run
//! in.

mod hostile;
mod permissions;
mod schema;
mod secrets;
mod tenancy;
mod world;
