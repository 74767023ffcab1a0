//! The exported SDL in `schema/schema.graphql` must match the running schema: a change to
//! the schema without `onegraph export-schema` fails here.

#[test]
fn exported_schema_matches_the_code() {
    let exported = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/schema.graphql"
    ))
    .unwrap_or_default();
    let current = onegraph::graphql::sdl();
    assert!(
        exported == current,
        "schema/schema.graphql is out of date: run `cargo run -- export-schema` and commit it"
    );
}
