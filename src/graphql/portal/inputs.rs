//! Portal input objects, each converted into the service's input with `From`.

use async_graphql::InputObject;

use crate::{graphql::enums::TicketPriority, services};

/// A new ticket.
#[derive(InputObject)]
pub struct CreateTicketInput {
    /// At most 200 characters.
    subject: String,
    /// At most 10,000 characters.
    description: String,
    #[graphql(default_with = "TicketPriority::Normal")]
    priority: TicketPriority,
}

impl From<CreateTicketInput> for services::portal::tickets::NewTicket {
    fn from(input: CreateTicketInput) -> Self {
        services::portal::tickets::NewTicket {
            subject: input.subject,
            description: input.description,
            priority: input.priority.into(),
        }
    }
}
