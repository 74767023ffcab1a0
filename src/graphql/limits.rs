//! Query limits of CONTRACT section 3: depth, complexity, aliases, size, and brute-force
//! fields at most once per operation. Refusals carry `QUERY_TOO_COMPLEX` or `BAD_USER_INPUT`.
//!
//! Depth, complexity, recursion depth and directives are async-graphql's own limits (set in
//! [`super::build_schema`]). Those checks, and every later pass over the document, walk
//! selections with fragments expanded, so a few hundred bytes of fragments spreading each
//! other twice (`fragment F1 on Query { ...F2 ...F2 }` …) would make them visit billions of
//! nodes. [`check_request`] therefore measures the expanded size of every operation first,
//! before the request reaches the schema: each fragment is measured once (memoised), cycles
//! are refused, and the count stops at the limits. It is called by the endpoints (see
//! [`super::execute`]) rather than registered as an async-graphql extension, because any
//! extension puts every field of every request on async-graphql's slow path.

use std::collections::HashMap;

use async_graphql::{
    Pos, Request, ServerError,
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
/// Most aliased fields in one operation, fragments expanded.
pub const MAX_ALIASES: usize = 30;
/// Most selections (fields, fragment spreads and inline fragments) in one operation with its
/// fragments expanded. GraphiQL's introspection query has about 200.
pub const MAX_FIELDS: usize = 10_000;
/// Fields that guess secrets, allowed once per operation.
pub const BRUTE_FORCE_FIELDS: &[&str] = &[
    "loginWithHubSso",
    "login",
    "requestPasswordReset",
    "setPassword",
    "pairKiosk",
    "checkInVisitor",
];

fn error(message: &str, code: &'static str, pos: Option<Pos>) -> ServerError {
    let mut err = ServerError::new(message, pos);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    err.extensions = Some(ext);
    err
}

/// What a selection set amounts to once its fragments are expanded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Cost {
    /// Fields, fragment spreads and inline fragments.
    selections: usize,
    /// Aliased fields.
    aliases: usize,
    /// Brute-force fields at this set's own level (through fragments, not into fields): what
    /// the set contributes when it is an operation's root.
    sensitive: usize,
}

impl Cost {
    fn add(&mut self, other: Cost, with_sensitive: bool) {
        self.selections = self.selections.saturating_add(other.selections);
        self.aliases = self.aliases.saturating_add(other.aliases);
        if with_sensitive {
            self.sensitive = self.sensitive.saturating_add(other.sensitive);
        }
    }
}

/// Why a document is refused.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    TooManySelections,
    TooManyAliases,
    TooDeep(Pos),
    Cycle(String, Pos),
    SensitiveTwice,
}

impl Refusal {
    fn into_error(self) -> ServerError {
        match self {
            Refusal::TooManySelections => error(
                &format!(
                    "Query is too large: more than {MAX_FIELDS} fields with its fragments expanded"
                ),
                "QUERY_TOO_COMPLEX",
                None,
            ),
            Refusal::TooManyAliases => error(
                &format!("Too many aliases: at most {MAX_ALIASES} per operation"),
                "QUERY_TOO_COMPLEX",
                None,
            ),
            Refusal::TooDeep(pos) => error(
                &format!(
                    "The recursion depth of the query cannot be greater than `{MAX_RECURSIVE_DEPTH}`"
                ),
                "QUERY_TOO_COMPLEX",
                Some(pos),
            ),
            // A cycle is a validation error in the GraphQL specification ("fragments must
            // not form cycles"), and validation errors are `BAD_USER_INPUT` here.
            Refusal::Cycle(name, pos) => error(
                &format!("Fragment cycle: \"{name}\" spreads itself"),
                "BAD_USER_INPUT",
                Some(pos),
            ),
            Refusal::SensitiveTwice => error(
                "Sign-in, code and password fields may appear at most once per operation",
                "BAD_USER_INPUT",
                None,
            ),
        }
    }
}

enum Mark {
    /// Being expanded: reaching it again is a cycle.
    InProgress,
    Done(Cost),
}

/// Measures operations of one document; each fragment is measured once.
struct Measure<'a> {
    doc: &'a ExecutableDocument,
    fragments: HashMap<&'a str, Mark>,
}

impl<'a> Measure<'a> {
    fn new(doc: &'a ExecutableDocument) -> Self {
        Self {
            doc,
            fragments: HashMap::new(),
        }
    }

    /// The expanded cost of `set` at nesting `depth`, counted the way async-graphql's
    /// recursion-depth check counts (a field with a selection set, a spread and an inline
    /// fragment each go one level down). Stops at the first limit passed.
    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        depth: usize,
        pos: Pos,
    ) -> Result<Cost, Refusal> {
        if depth > MAX_RECURSIVE_DEPTH {
            return Err(Refusal::TooDeep(pos));
        }
        let mut cost = Cost::default();
        for selection in &set.items {
            cost.selections = cost.selections.saturating_add(1);
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if field.alias.is_some() {
                        cost.aliases = cost.aliases.saturating_add(1);
                    }
                    if BRUTE_FORCE_FIELDS.contains(&field.name.node.as_str()) {
                        cost.sensitive = cost.sensitive.saturating_add(1);
                    }
                    if !field.selection_set.node.items.is_empty() {
                        let inner = self.selection_set(
                            &field.selection_set.node,
                            depth + 1,
                            field.selection_set.pos,
                        )?;
                        // Inside a field, brute-force names are not root fields.
                        cost.add(inner, false);
                    }
                }
                Selection::InlineFragment(inline) => {
                    let inner = self.selection_set(
                        &inline.node.selection_set.node,
                        depth + 1,
                        inline.node.selection_set.pos,
                    )?;
                    cost.add(inner, true);
                }
                Selection::FragmentSpread(spread) => {
                    let inner = self.fragment(
                        spread.node.fragment_name.node.as_str(),
                        depth + 1,
                        spread.pos,
                    )?;
                    cost.add(inner, true);
                }
            }
            if cost.selections > MAX_FIELDS {
                return Err(Refusal::TooManySelections);
            }
            if cost.aliases > MAX_ALIASES {
                return Err(Refusal::TooManyAliases);
            }
        }
        Ok(cost)
    }

    /// The expanded cost of the fragment `name`, spread at `depth`; an unknown fragment
    /// costs nothing here (validation reports it).
    fn fragment(&mut self, name: &'a str, depth: usize, pos: Pos) -> Result<Cost, Refusal> {
        match self.fragments.get(name) {
            Some(Mark::Done(cost)) => return Ok(*cost),
            Some(Mark::InProgress) => return Err(Refusal::Cycle(name.to_owned(), pos)),
            None => {}
        }
        let Some((key, fragment)) = self.doc.fragments.get_key_value(name) else {
            return Ok(Cost::default());
        };
        let key = key.as_str();
        self.fragments.insert(key, Mark::InProgress);
        let cost = self.selection_set(
            &fragment.node.selection_set.node,
            depth,
            fragment.node.selection_set.pos,
        )?;
        self.fragments.insert(key, Mark::Done(cost));
        Ok(cost)
    }
}

/// Checks every operation of `doc` against the size, alias and brute-force limits.
fn check(doc: &ExecutableDocument) -> Result<(), Refusal> {
    let mut measure = Measure::new(doc);
    for (_, operation) in doc.operations.iter() {
        let set = &operation.node.selection_set;
        let cost = measure.selection_set(&set.node, 0, set.pos)?;
        if cost.sensitive > 1 {
            return Err(Refusal::SensitiveTwice);
        }
    }
    Ok(())
}

/// Enforces the size, alias and brute-force field limits on `request` before the schema
/// sees it: parses the document once and keeps it in the request, so that async-graphql
/// does not parse it again. A document that does not parse is passed on unchanged, for
/// async-graphql to report the syntax error.
pub fn check_request(request: &mut Request) -> Result<(), ServerError> {
    // `parsed_query` parses the query and keeps the document in the request.
    if let Ok(doc) = request.parsed_query() {
        check(doc).map_err(Refusal::into_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(query: &str) -> Result<(), Refusal> {
        match async_graphql::parser::parse_query(query) {
            Ok(doc) => check(&doc),
            Err(err) => panic!("does not parse: {err}: {query}"),
        }
    }

    fn chain(n: usize, cyclic: bool) -> String {
        let mut query = String::from("query { ...F1 }");
        for i in 1..n {
            query.push_str(&format!(
                " fragment F{i} on Query {{ ...F{} ...F{} }}",
                i + 1,
                i + 1
            ));
        }
        if cyclic {
            query.push_str(&format!(" fragment F{n} on Query {{ ...F1 }}"));
        } else {
            query.push_str(&format!(" fragment F{n} on Query {{ __typename }}"));
        }
        query
    }

    #[test]
    fn exponential_fragments_are_refused_quickly() {
        let started = std::time::Instant::now();
        assert_eq!(measure(&chain(30, false)), Err(Refusal::TooManySelections));
        assert!(matches!(measure(&chain(30, true)), Err(Refusal::Cycle(..))));
        assert!(matches!(
            measure("query { ...A } fragment A on Query { ...A ...A }"),
            Err(Refusal::Cycle(..))
        ));
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
        // A small chain is fine.
        assert_eq!(measure(&chain(8, false)), Ok(()));
    }

    #[test]
    fn long_linear_chains_are_too_deep_not_a_stack_overflow() {
        let mut query = String::from("query { ...F1 }");
        for i in 1..2_000 {
            query.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
        }
        query.push_str(" fragment F2000 on Query { __typename }");
        assert!(matches!(measure(&query), Err(Refusal::TooDeep(_))));
    }

    #[test]
    fn aliases_count_through_fragments() {
        let fields: String = (0..16).map(|i| format!("a{i}: __typename ")).collect();
        let query =
            format!("query {{ ...F ... on Query {{ ...F }} }} fragment F on Query {{ {fields} }}");
        assert_eq!(measure(&query), Err(Refusal::TooManyAliases));
        let fields: String = (0..15).map(|i| format!("a{i}: __typename ")).collect();
        let query = format!("query {{ ...F ...F }} fragment F on Query {{ {fields} }}");
        assert_eq!(measure(&query), Ok(()));
    }

    #[test]
    fn brute_force_fields_count_through_root_fragments_only() {
        let pair = "pairKiosk(code: \"x\", name: \"k\") { token }";
        for query in [
            format!("mutation {{ a: {pair} b: {pair} }}"),
            format!("mutation {{ ... on Mutation {{ a: {pair} }} b: {pair} }}"),
            format!("mutation {{ ...P b: {pair} }} fragment P on Mutation {{ a: {pair} }}"),
            format!(
                "mutation {{ ...P ...Q }} fragment P on Mutation {{ ...Q }} fragment Q on Mutation {{ {pair} }}"
            ),
        ] {
            assert_eq!(measure(&query), Err(Refusal::SensitiveTwice), "{query}");
        }
        assert_eq!(
            measure(&format!(
                "mutation {{ ...P }} fragment P on Mutation {{ {pair} }}"
            )),
            Ok(())
        );
        // Below the root, the names are ordinary fields.
        assert_eq!(
            measure("query { a { login } b { login } ...F } fragment F on Query { c { login } }"),
            Ok(())
        );
    }
}
