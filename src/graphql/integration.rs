//! What an INTEGRATION principal (a request with `X-Integration-Key`) may read: `search` and,
//! below it, the fields of `GET /api/search`'s answer; every other field, root fields of
//! every operation included, answers `null` with `FORBIDDEN`.
//!
//! The rule is an allow-list applied to the document before execution ([`gate`]), so that
//! a field is refused unless it is listed here, wherever it is in the schema and whether or
//! not it has a guard: a new field is closed to integrations until it is added to
//! [`READABLE`]. The gate marks each other field of the operation with the
//! `@integrationRefused` directive, which answers `FORBIDDEN` in place of the field without
//! running its resolver (so no mutation runs, no statement is sent), exactly where a guard's
//! refusal would stand. The directive exists only in the schema integrations are served by
//! (`AppState::integration_schema`); the schema everyone else is served by, and its
//! exported SDL, do not know it, and requests of other principals are not walked.
//! Subscriptions are refused whole: an integration key opens no live stream.
//!
//! The field guards are the second line: every [`crate::auth::need::Need`] but
//! `Need::Search` refuses an integration principal too.

use async_graphql::{
    Context, CustomDirective, Name, Positioned, Request, ServerError, ServerResult, Value,
    extensions::ResolveFut,
    parser::types::{
        Directive, DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
        Selection, SelectionSet,
    },
};

use super::limits::Shape;
use crate::error::{AppError, ErrorCode};

/// The fields an integration principal may read, by type: the fields of `GET /api/search`'s
/// answer (a visit's id, status, visitor name and company, location name; a location's id,
/// name, address and type). `__typename` is readable everywhere.
pub const READABLE: &[(&str, &[&str])] = &[
    ("Query", &["search"]),
    ("Visit", &["id", "status", "visitor", "location"]),
    ("Visitor", &["name", "company"]),
    ("Location", &["id", "name", "address", "type"]),
];

/// The directive's name, as the gate writes it into documents.
const REFUSED: &str = "integrationRefused";

/// Whether an integration principal may read `field` of `parent`.
pub fn readable(parent: &str, field: &str) -> bool {
    field == "__typename"
        || READABLE
            .iter()
            .any(|(ty, fields)| *ty == parent && fields.contains(&field))
}

/// Answers `FORBIDDEN` in place of the field it marks, without resolving it.
struct Refused;

#[async_trait::async_trait]
impl CustomDirective for Refused {
    async fn resolve_field(
        &self,
        ctx: &Context<'_>,
        _resolve: ResolveFut<'_>,
    ) -> ServerResult<Option<Value>> {
        let error: async_graphql::Error = AppError::Forbidden { permission: None }.into();
        Err(ctx.set_error_path(error.into_server_error(ctx.item.pos)))
    }
}

/// Set by onegraph on the fields an integration key may not read: the field answers null
/// with FORBIDDEN instead of being resolved.
#[async_graphql::Directive(location = "Field", name = "integrationRefused", visible = false)]
pub fn integration_refused() -> impl CustomDirective {
    Refused
}

/// Prepares an integration principal's request: refuses a subscription, and marks every
/// field the principal may not read (see the module documentation). A document that does
/// not parse is left for the schema to report.
pub fn gate(request: &mut Request) -> Result<(), ServerError> {
    let Ok(document) = request.parsed_query() else {
        return Ok(());
    };
    let subscription = document
        .operations
        .iter()
        .any(|(_, op)| op.node.ty == OperationType::Subscription);
    if subscription {
        return Err(super::limits::error(
            "An integration key opens no subscription",
            ErrorCode::Forbidden,
            None,
        ));
    }
    let mut document: ExecutableDocument = document.clone();
    mark_document(&mut document, Shape::of_schema());
    request.set_parsed_query(document);
    Ok(())
}

/// Marks every field of `document` (operations and fragments) that is not [`readable`].
fn mark_document(document: &mut ExecutableDocument, shape: &Shape) {
    let mark_operation = |operation: &mut Positioned<OperationDefinition>| {
        let root = shape
            .root_type(operation.node.ty)
            .unwrap_or_default()
            .to_owned();
        mark(&mut operation.node.selection_set.node, &root, shape);
    };
    match &mut document.operations {
        DocumentOperations::Single(operation) => mark_operation(operation),
        DocumentOperations::Multiple(operations) => {
            operations.values_mut().for_each(mark_operation);
        }
    }
    for fragment in document.fragments.values_mut() {
        let on = fragment.node.type_condition.node.on.node.to_string();
        mark(&mut fragment.node.selection_set.node, &on, shape);
    }
}

/// Marks the fields of `set`, whose type is `parent`; follows readable fields and inline
/// fragments down (fragment definitions are marked on their own, by their type condition).
fn mark(set: &mut SelectionSet, parent: &str, shape: &Shape) {
    for selection in &mut set.items {
        match &mut selection.node {
            Selection::Field(field) => {
                let field = &mut field.node;
                let name = field.name.node.to_string();
                if readable(parent, &name) {
                    if let Some(returns) = shape.returns(parent, &name) {
                        let returns = returns.to_owned();
                        mark(&mut field.selection_set.node, &returns, shape);
                    }
                } else if !field
                    .directives
                    .iter()
                    .any(|d| d.node.name.node.as_str() == REFUSED)
                {
                    let pos = field.name.pos;
                    field.directives.push(Positioned::new(
                        Directive {
                            name: Positioned::new(Name::new(REFUSED), pos),
                            arguments: Vec::new(),
                        },
                        pos,
                    ));
                }
            }
            Selection::InlineFragment(inline) => {
                let inline = &mut inline.node;
                let on = inline
                    .type_condition
                    .as_ref()
                    .map_or_else(|| parent.to_owned(), |c| c.node.on.node.to_string());
                mark(&mut inline.selection_set.node, &on, shape);
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(query: &str) -> Vec<String> {
        let mut document = match async_graphql::parser::parse_query(query) {
            Ok(document) => document,
            Err(err) => panic!("does not parse: {err}: {query}"),
        };
        mark_document(&mut document, Shape::of_schema());
        let mut out = Vec::new();
        fn collect(set: &SelectionSet, out: &mut Vec<String>) {
            for selection in &set.items {
                match &selection.node {
                    Selection::Field(field) => {
                        if field
                            .node
                            .directives
                            .iter()
                            .any(|d| d.node.name.node.as_str() == REFUSED)
                        {
                            out.push(field.node.name.node.to_string());
                        }
                        collect(&field.node.selection_set.node, out);
                    }
                    Selection::InlineFragment(inline) => {
                        collect(&inline.node.selection_set.node, out)
                    }
                    Selection::FragmentSpread(_) => {}
                }
            }
        }
        for (_, op) in document.operations.iter() {
            collect(&op.node.selection_set.node, &mut out);
        }
        for fragment in document.fragments.values() {
            collect(&fragment.node.selection_set.node, &mut out);
        }
        out.sort();
        out
    }

    #[test]
    fn only_the_search_answer_is_readable() {
        let query = "{ __typename me { kind } search(query: \"a\") { __typename \
                     ... on Visit { id status checkedInAt visitor { name email company } \
                     location { name timezone } } ...L } } \
                     fragment L on Location { id name address type archived currentVisits { id } }";
        assert_eq!(
            marked(query),
            [
                "archived",
                "checkedInAt",
                "currentVisits",
                "email",
                "me",
                "timezone"
            ]
        );
        assert_eq!(
            marked(
                "mutation { logout login(tenantId: \"t\", email: \"e\", password: \"p\") { token } }"
            ),
            ["login", "logout"]
        );
    }
}
