//! The GraphQL schema: assembly, limits, per-request data (principal and DataLoaders), and
//! the `/graphql` endpoint (HTTP, WebSocket, GraphiQL). The plumbing every product shares
//! lives here (`context`, `loaders`, `connection`, `guard`, `scalars`, `enums`); each product
//! (`visitor`, `portal`) has its own folder, laid out by role, importing nothing from the
//! other.

pub mod budget;
pub mod connection;
pub mod context;
pub mod enums;
pub mod error;
pub mod field_errors;
pub mod graphiql;
pub mod guard;
pub mod health;
pub mod http;
pub mod input;
pub mod integration;
pub mod jobs;
pub mod limits;
pub mod loaders;
pub mod portal;
pub mod scalars;
pub mod viewer;
pub mod visitor;
pub mod ws;

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, Schema, parser::types::OperationType};
use axum::{Router, routing::get};

use crate::{app::AppState, auth::RequestMeta, config::Settings};

/// Every query field.
#[derive(MergedObject, Default)]
pub struct Query(
    viewer::ViewerQuery,
    visitor::query::VisitorQuery,
    portal::query::UsersQuery,
    portal::query::InvoiceQuery,
    portal::query::TicketsQuery,
    portal::query::SigningQuery,
    portal::query::MissionQuery,
    health::HealthQuery,
);

/// Every mutation field.
#[derive(MergedObject, Default)]
pub struct Mutation(
    viewer::AuthMutation,
    visitor::mutation::VisitorMutation,
    portal::mutation::UsersMutation,
    portal::mutation::TicketsMutation,
    jobs::JobsMutation,
    portal::mutation::SigningMutation,
    portal::mutation::MissionMutation,
);

/// Every subscription field.
#[derive(MergedSubscription, Default)]
pub struct Subscription(visitor::subscription::VisitorSubscription);

/// The schema type.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema with the limits of CONTRACT section 3.
pub fn build_schema(settings: &Settings) -> AppSchema {
    build(settings, false)
}

/// The schema integration principals are served by: [`build_schema`]'s, with the directive
/// that refuses the fields they may not read (see [`integration`]). Only their requests
/// are executed by it, so no one else's document can name the directive.
pub fn build_integration_schema(settings: &Settings) -> AppSchema {
    build(settings, true)
}

fn build(settings: &Settings, integration: bool) -> AppSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    );
    if integration {
        builder = builder.directive(integration::integration_refused);
    }
    // No extensions and none of async-graphql's limits: the limits (`limits::check_request`)
    // and nulls for failed fields are applied around execution (see `execute`), because any
    // registered extension puts every field on async-graphql's slow path, and async-graphql's
    // limit errors carry no code.
    field_errors::init();
    // Read the schema's shape for the limits now, not in the first request, and say so
    // loudly if it came out empty (no field would multiply by `first`).
    if limits::Shape::of_schema().is_empty() {
        tracing::error!("the query limits found no types in the schema's SDL");
    }
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

/// Attaches what resolvers need to `request`: the state, the caller, fresh DataLoaders, the
/// request's Mission reads (each resource fetched once per request) and a fresh response
/// budget (returned too, for the caller to read once the request ran).
pub fn prepare(
    state: &AppState,
    request: async_graphql::Request,
    meta: RequestMeta,
) -> (async_graphql::Request, Arc<budget::Budget>) {
    prepare_with(state, request, meta, state.settings.graphql_max_nodes)
}

/// [`prepare`] with a budget of `max_nodes` list items.
fn prepare_with(
    state: &AppState,
    request: async_graphql::Request,
    meta: RequestMeta,
    max_nodes: usize,
) -> (async_graphql::Request, Arc<budget::Budget>) {
    let budget = budget::Budget::with_nodes(&state.settings, max_nodes);
    let loaders = loaders::Loaders::new(state, meta.principal.as_deref(), budget.clone());
    let request = request
        .data(state.clone())
        .data(meta)
        .data(loaders)
        .data(crate::services::portal::mission::RequestCalls::default())
        .data(budget.clone());
    (request, budget)
}

/// Executes `request` for the caller in `meta`: the operation limits and the refusal of NUL
/// in text first (a refusal is the only error of the response, as before execution), then
/// the schema, then `null` for the nullable fields that failed. A response that went over
/// its budget is that one error alone, as a refusal before execution would be.
pub async fn execute(
    state: &AppState,
    request: async_graphql::Request,
    meta: RequestMeta,
) -> async_graphql::Response {
    let integration = is_integration(&meta);
    let (mut request, budget) = prepare(state, request, meta);
    if let Err(error) = limits::check_request(&mut request)
        .and_then(|()| input::refuse_nul(&mut request))
        .and_then(|()| {
            if integration {
                integration::gate(&mut request)
            } else {
                Ok(())
            }
        })
    {
        return async_graphql::Response::from_errors(vec![error]);
    }
    let query = request.query.clone();
    let operation_name = request.operation_name.clone();
    let mutation = is_mutation(&mut request);
    let schema = if integration {
        &state.integration_schema
    } else {
        &state.schema
    };
    let mut response = schema.execute(request).await;
    // A mutation's changes are made by the time its payload overflows: its answer keeps
    // the data, with the lists that did not fit null and their errors, so that a client does
    // not take it for a refusal and retry it.
    if budget.exceeded() && !mutation {
        return async_graphql::Response::from_errors(vec![budget.error()]);
    }
    field_errors::fill_nulls(&mut response, &query, operation_name.as_deref());
    code_request_errors(&mut response);
    response
}

/// [`execute`] for a subscription (or any operation) over the WebSocket: one response per
/// event, each with `null` for its failed nullable fields and its own response budget (an
/// event over it is that one error alone; the subscription goes on). A subscription's events
/// get `GRAPHQL_SUBSCRIPTION_MAX_NODES` each: every event runs every live subscription of
/// the tenant, so each may cost far less than a query.
pub fn execute_stream(
    state: &AppState,
    mut request: async_graphql::Request,
    meta: RequestMeta,
) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
    use futures_util::StreamExt;
    let integration = is_integration(&meta);
    let max_nodes = if is_operation(&mut request, OperationType::Subscription) {
        state.settings.graphql_subscription_max_nodes
    } else {
        state.settings.graphql_max_nodes
    };
    let (mut request, budget) = prepare_with(state, request, meta, max_nodes);
    if let Err(error) = limits::check_request(&mut request)
        .and_then(|()| input::refuse_nul(&mut request))
        .and_then(|()| single_root_field(&mut request))
        .and_then(|()| {
            // Integration keys are for HTTP requests; nothing is served to one here.
            if integration {
                Err(limits::error(
                    "An integration key is not accepted on the WebSocket",
                    crate::error::ErrorCode::Forbidden,
                    None,
                ))
            } else {
                Ok(())
            }
        })
    {
        return futures_util::stream::once(async move {
            async_graphql::Response::from_errors(vec![error])
        })
        .boxed();
    }
    let query = request.query.clone();
    let operation_name = request.operation_name.clone();
    let mutation = is_mutation(&mut request);
    state
        .schema
        .execute_stream(request)
        .map(move |mut response| {
            // The events of one operation (it has one root field) are resolved one after
            // the other, each before it is yielded here, so the budget is the event's alone.
            // A mutation keeps its data, as over HTTP.
            if budget.exceeded() && mutation {
                budget.reset();
            } else if budget.exceeded() {
                budget.reset();
                return async_graphql::Response::from_errors(vec![budget.error()]);
            }
            budget.reset();
            field_errors::fill_nulls(&mut response, &query, operation_name.as_deref());
            code_request_errors(&mut response);
            response
        })
        .boxed()
}

/// Whether the caller is an INTEGRATION principal, whose requests go through
/// [`integration::gate`] and its own schema.
fn is_integration(meta: &RequestMeta) -> bool {
    meta.principal
        .as_ref()
        .is_some_and(|p| p.kind == crate::auth::PrincipalKind::Integration)
}

/// The operation `request` runs (its document is parsed by now), borrowed.
fn operation<'a>(
    document: &'a async_graphql::parser::types::ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a async_graphql::parser::types::OperationDefinition> {
    use async_graphql::parser::types::DocumentOperations;
    let operation = match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        _ => None,
    }?;
    Some(&operation.node)
}

/// Whether the operation `request` runs is a mutation.
fn is_mutation(request: &mut async_graphql::Request) -> bool {
    is_operation(request, OperationType::Mutation)
}

/// Whether the operation `request` runs is of type `ty` (false when it does not parse).
fn is_operation(request: &mut async_graphql::Request, ty: OperationType) -> bool {
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    operation(document, name.as_deref()).is_some_and(|op| op.ty == ty)
}

/// Refuses a subscription with more than one root field (the GraphQL specification's
/// "single root field" rule): each event must be resolved alone, against its own budget.
fn single_root_field(
    request: &mut async_graphql::Request,
) -> Result<(), async_graphql::ServerError> {
    use async_graphql::parser::types::{OperationType, Selection, SelectionSet};
    fn count(
        set: &SelectionSet,
        fragments: &std::collections::HashMap<&str, &SelectionSet>,
        depth: usize,
    ) -> usize {
        if depth > 8 {
            return usize::MAX / 4;
        }
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) if field.node.name.node == "__typename" => 0,
                Selection::Field(_) => 1,
                Selection::InlineFragment(inline) => {
                    count(&inline.node.selection_set.node, fragments, depth + 1)
                }
                Selection::FragmentSpread(spread) => fragments
                    .get(spread.node.fragment_name.node.as_str())
                    .map_or(0, |f| count(f, fragments, depth + 1)),
            })
            .fold(0usize, usize::saturating_add)
    }
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return Ok(());
    };
    let fragments: std::collections::HashMap<&str, &SelectionSet> = document
        .fragments
        .iter()
        .map(|(name, f)| (name.as_str(), &f.node.selection_set.node))
        .collect();
    match operation(document, name.as_deref()) {
        Some(op)
            if op.ty == OperationType::Subscription
                && count(&op.selection_set.node, &fragments, 0) > 1 =>
        {
            Err(limits::error(
                "A subscription selects exactly one root field",
                crate::error::ErrorCode::BadUserInput,
                None,
            ))
        }
        _ => Ok(()),
    }
}

/// Gives `BAD_USER_INPUT` to the errors async-graphql raises without a code: syntax,
/// validation and input coercion. Every error onegraph raises carries its own code (the
/// limits' refusals included), so nothing here reads an error's message.
fn code_request_errors(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", crate::error::ErrorCode::BadUserInput.as_str());
        }
    }
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
