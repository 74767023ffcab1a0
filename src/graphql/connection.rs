//! Relay connections built from the services' pages.

use async_graphql::{
    ObjectType, OutputType,
    connection::{Connection, Edge, EmptyFields},
};

use async_graphql::Context;

use super::budget::{self, Weigh};
use crate::{error::AppError, services::shared::page::Page};

/// Builds a Relay connection from a service's page: each row's cursor and its node, with
/// `extra` (the connection's `totalCount`) beside the edges. The page's rows are charged to
/// the request's response budget first.
pub fn from_page<T: Weigh, N: OutputType, F: ObjectType>(
    ctx: &Context<'_>,
    page: Page<T>,
    extra: F,
    node: impl Fn(T) -> N,
) -> Result<Connection<String, N, F, EmptyFields>, AppError> {
    budget::charge_with(ctx, page.rows.len(), || {
        page.rows
            .iter()
            .map(|(_, row)| budget::EDGE + row.weight())
            .sum()
    })?;
    let mut conn = Connection::with_additional_fields(false, page.has_next, extra);
    conn.edges.extend(
        page.rows
            .into_iter()
            .map(|(cursor, row)| Edge::new(cursor.encode(), node(row))),
    );
    Ok(conn)
}
