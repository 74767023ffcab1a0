//! Portal's batch statements, behind the GraphQL DataLoaders of its relation fields: one
//! statement for a whole batch of keys, confined to the tenant.

use std::collections::HashMap;

use sea_orm::{Condition, Order};

use crate::{
    error::AppResult,
    services::shared::{
        batch::{TenantScope, first_per_key},
        page,
    },
};

/// How many comments `Ticket.comments` shows: the latest ones, oldest first.
pub const TICKET_COMMENTS: usize = page::MAX_LIST;

/// Each ticket's latest [`TICKET_COMMENTS`] comments, oldest first.
pub async fn comments_by_ticket(
    scope: &TenantScope,
    keys: &[String],
    max_rows: usize,
) -> AppResult<HashMap<String, Vec<entities::ticket_comments::Model>>> {
    use entities::ticket_comments::{Column, Entity};
    let rows = first_per_key::<Entity>(
        scope,
        Column::TenantId,
        Column::TicketId,
        keys,
        Condition::all(),
        &[(Column::CreatedAt, Order::Desc), (Column::Id, Order::Desc)],
        (TICKET_COMMENTS, max_rows),
    )
    .await?;
    let mut map: HashMap<String, Vec<_>> = HashMap::new();
    // Newest first from the database (so the cut keeps the latest); shown oldest first.
    for row in rows.into_iter().rev() {
        map.entry(row.ticket_id.clone()).or_default().push(row);
    }
    Ok(map)
}
