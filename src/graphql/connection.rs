//! Relay connections built from the services' pages.

use async_graphql::{
    ObjectType, OutputType,
    connection::{Connection, Edge, EmptyFields},
};

use crate::services::shared::page::Page;

/// Builds a Relay connection from a service's page: each row's cursor and its node, with
/// `extra` (the connection's `totalCount`) beside the edges.
pub fn from_page<T, N: OutputType, F: ObjectType>(
    page: Page<T>,
    extra: F,
    node: impl Fn(T) -> N,
) -> Connection<String, N, F, EmptyFields> {
    let mut conn = Connection::with_additional_fields(false, page.has_next, extra);
    conn.edges.extend(
        page.rows
            .into_iter()
            .map(|(cursor, row)| Edge::new(cursor.encode(), node(row))),
    );
    conn
}
