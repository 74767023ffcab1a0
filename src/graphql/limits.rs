//! Query limits of CONTRACT section 3: depth, complexity, aliases, and brute-force fields at
//! most once per operation. Refusals carry `QUERY_TOO_COMPLEX` or `BAD_USER_INPUT`.

use std::sync::Arc;

use async_graphql::{
    ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

/// Deepest selection allowed (GraphiQL's introspection query needs 13).
pub const MAX_DEPTH: usize = 15;
/// Largest static complexity; list fields multiply by `first`.
pub const MAX_COMPLEXITY: usize = 5000;
/// Deepest recursion while parsing.
pub const MAX_RECURSIVE_DEPTH: usize = 32;
/// Most directives on one field.
pub const MAX_DIRECTIVES: usize = 10;
/// Most aliased fields in one operation.
pub const MAX_ALIASES: usize = 30;
/// Fields that guess secrets, allowed once per operation.
pub const BRUTE_FORCE_FIELDS: &[&str] = &[
    "loginWithHubSso",
    "login",
    "requestPasswordReset",
    "setPassword",
    "pairKiosk",
    "checkInVisitor",
];

/// The extension enforcing aliases and brute-force field limits.
pub struct OperationLimits;

impl ExtensionFactory for OperationLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationLimitsExtension)
    }
}

struct OperationLimitsExtension;

fn error(message: &str, code: &'static str) -> ServerError {
    let mut err = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    err.extensions = Some(ext);
    err
}

#[derive(Default)]
struct Counts {
    aliases: usize,
    sensitive: usize,
}

fn walk(doc: &ExecutableDocument, set: &SelectionSet, counts: &mut Counts, depth: usize) {
    if depth > MAX_RECURSIVE_DEPTH {
        return;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                if field.alias.is_some() {
                    counts.aliases += 1;
                }
                if depth == 0 && BRUTE_FORCE_FIELDS.contains(&field.name.node.as_str()) {
                    counts.sensitive += 1;
                }
                walk(doc, &field.selection_set.node, counts, depth + 1);
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                    walk(doc, &fragment.node.selection_set.node, counts, depth + 1);
                }
            }
            Selection::InlineFragment(inline) => {
                walk(doc, &inline.node.selection_set.node, counts, depth + 1);
            }
        }
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationLimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        for (_, operation) in doc.operations.iter() {
            let mut counts = Counts::default();
            walk(&doc, &operation.node.selection_set.node, &mut counts, 0);
            if counts.aliases > MAX_ALIASES {
                return Err(error(
                    &format!("Too many aliases: at most {MAX_ALIASES} per operation"),
                    "QUERY_TOO_COMPLEX",
                ));
            }
            if counts.sensitive > 1 {
                return Err(error(
                    "Sign-in, code and password fields may appear at most once per operation",
                    "BAD_USER_INPUT",
                ));
            }
        }
        Ok(doc)
    }
}
