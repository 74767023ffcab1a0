//! The GraphQL schema: assembly, limits, per-request data (principal and DataLoaders), and
//! the `/graphql` endpoint (HTTP, WebSocket, GraphiQL).

pub mod field_errors;
pub mod graphiql;
pub mod http;
pub mod jobs;
pub mod limits;
pub mod portal;
pub mod scalars;
pub mod viewer;
pub mod visitor;
pub mod ws;

use async_graphql::{MergedObject, MergedSubscription, Schema};
use axum::{Router, routing::get};

use crate::{app::AppState, auth::RequestMeta, config::Settings};

/// Every query field.
#[derive(MergedObject, Default)]
pub struct Query(
    viewer::ViewerQuery,
    visitor::query::VisitorQuery,
    portal::users::UsersQuery,
    portal::invoices::InvoiceQuery,
    portal::tickets::TicketsQuery,
    portal::signing::SigningQuery,
);

/// Every mutation field.
#[derive(MergedObject, Default)]
pub struct Mutation(
    viewer::AuthMutation,
    visitor::mutation::VisitorMutation,
    portal::users::UsersMutation,
    portal::tickets::TicketsMutation,
    jobs::JobsMutation,
    portal::signing::SigningMutation,
);

/// Every subscription field.
#[derive(MergedSubscription, Default)]
pub struct Subscription(visitor::subscription::VisitorSubscription);

/// The schema type.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema with the limits of CONTRACT section 3.
pub fn build_schema(settings: &Settings) -> AppSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(limits::MAX_DEPTH)
    .limit_complexity(limits::MAX_COMPLEXITY)
    .limit_recursive_depth(limits::MAX_RECURSIVE_DEPTH)
    .limit_directives(limits::MAX_DIRECTIVES)
    .extension(limits::OperationLimits)
    .extension(field_errors::NullOnFieldError);
    if !settings.introspection {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}

/// The schema as SDL, as `export-schema` writes it.
pub fn sdl() -> String {
    build_schema_for_export().sdl()
}

fn build_schema_for_export() -> AppSchema {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
}

/// Attaches what resolvers need to `request`: the state, the caller and fresh DataLoaders.
pub fn prepare(
    state: &AppState,
    request: async_graphql::Request,
    meta: RequestMeta,
) -> async_graphql::Request {
    let loaders = visitor::loaders::Loaders::new(state, meta.principal.as_deref());
    let ticket_loaders = portal::tickets::TicketLoaders::new(state, meta.principal.as_deref());
    request
        .data(state.clone())
        .data(meta)
        .data(loaders)
        .data(ticket_loaders)
}

/// `/graphql` (GET, POST, WebSocket) and the GraphiQL assets.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new().route(
        "/graphql",
        get(http::get_graphql)
            .post(http::post_graphql)
            .fallback(http::method_not_allowed),
    );
    if state.settings.graphiql {
        router = router.route("/graphql/assets/{file}", get(graphiql::asset));
    }
    router.with_state(state)
}
