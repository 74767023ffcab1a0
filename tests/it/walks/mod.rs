//! Walks over the whole running schema: every field found by introspection, so a new field
//! is covered (or the walk fails asking for it to be classified) without editing the tests.
//! `schema` reads the schema and builds calls from it; `world` seeds the two tenants the
//! walks run in.

mod permissions;
mod schema;
mod tenancy;
mod world;
