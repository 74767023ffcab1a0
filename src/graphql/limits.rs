//! Query limits of CONTRACT section 3: depth, complexity, aliases, size, directives, and
//! brute-force fields at most once per operation. Every refusal carries its code by
//! construction (`QUERY_TOO_COMPLEX` or `BAD_USER_INPUT`): onegraph measures the document
//! itself rather than registering async-graphql's limits, whose errors carry no code.
//!
//! Every pass over a document walks selections with fragments expanded, so a few hundred
//! bytes of fragments spreading each other twice (`fragment F1 on Query { ...F2 ...F2 }` …)
//! would make a naive walk visit billions of nodes. [`check_request`] measures each fragment
//! once (memoised), refuses cycles, and stops at the first limit passed, before the request
//! reaches the schema. It is called by the endpoints (see [`super::execute`]) rather than
//! registered as an async-graphql extension, because any extension puts every field of every
//! request on async-graphql's slow path.
//!
//! Complexity: each field costs 1 plus what it selects (`__typename` costs nothing); a field
//! with a `first` argument (the Relay connections, and `search`) costs `first × (what it selects) + 1`,
//! `first` clamped to 0..=100 and 20 when absent; a plain list costs `N × (what it selects)
//! + 1`, N the size its schema description states ("Counted as N by the query limits."), so
//! nested lists multiply as they do when they load. Which fields those are comes from the
//! schema's own SDL ([`Shape`]), read once at start-up.

use std::{collections::HashMap, sync::OnceLock};

use async_graphql::{
    Pos, Request, ServerError, Value, Variables,
    parser::types::{
        ExecutableDocument, Field, OperationType, Selection, SelectionSet, TypeSystemDefinition,
    },
};

use crate::error::ErrorCode;

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
/// Fields that guess secrets, or (`integrationHealth`) send requests to other products,
/// allowed once per operation.
pub const BRUTE_FORCE_FIELDS: &[&str] = &[
    "integrationHealth",
    "loginWithHubSso",
    "login",
    "requestPasswordReset",
    "setPassword",
    "pairKiosk",
    "checkInVisitor",
];

/// `first` when a connection field is not given one.
const DEFAULT_FIRST: i64 = 20;
/// The largest `first` counted (larger ones are refused by the field itself).
const MAX_FIRST: i64 = 100;

/// A server error with `extensions.code`.
pub fn error(message: &str, code: ErrorCode, pos: Option<Pos>) -> ServerError {
    let mut err = ServerError::new(message, pos);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code.as_str());
    err.extensions = Some(ext);
    err
}

/// How many times a field's selection counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Multiplier {
    /// Once: a single object (or a connection's own `edges` and `nodes`, which its `first`
    /// already counts).
    One,
    /// By the field's `first` argument: a Relay connection, or a list bounded by `first`
    /// (`search`).
    First,
    /// By the size its schema description states ("Counted as N by the query limits."): a
    /// plain list.
    Assumed(usize),
}

/// One field as the limits see it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldShape {
    /// The named type it returns, lists and non-null unwrapped.
    returns: String,
    /// Whether it returns a list.
    list: bool,
    /// How often what it selects counts.
    multiplier: Multiplier,
}

/// The size a plain list's description states: "Counted as N by the query limits."
fn counted_as(description: &str) -> Option<usize> {
    let flat = description.split_whitespace().collect::<Vec<_>>().join(" ");
    let (_, after) = flat.split_once("Counted as ")?;
    let (number, rest) = after.split_once(' ')?;
    rest.starts_with("by the query limits")
        .then(|| number.parse().ok())
        .flatten()
}

/// What the limits need to know of the schema: each object type's fields, with the type
/// each returns and how often what it selects counts: a connection by its `first`, a plain
/// list by the size its description states.
#[derive(Debug, Default)]
pub struct Shape {
    /// Type name → field name → its shape.
    types: HashMap<String, HashMap<String, FieldShape>>,
    /// The root types' names.
    roots: [Option<String>; 3],
}

impl Shape {
    /// Reads the shape from SDL (a document that does not parse gives an empty shape, in
    /// which no field multiplies).
    pub fn from_sdl(sdl: &str) -> Self {
        let mut shape = Shape {
            roots: [
                Some("Query".to_owned()),
                Some("Mutation".to_owned()),
                Some("Subscription".to_owned()),
            ],
            ..Shape::default()
        };
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
            return shape;
        };
        for definition in doc.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    shape.roots = [
                        schema.query.map(|n| n.node.to_string()),
                        schema.mutation.map(|n| n.node.to_string()),
                        schema.subscription.map(|n| n.node.to_string()),
                    ];
                }
                TypeSystemDefinition::Type(ty) => {
                    let ty = ty.node;
                    let fields = match ty.kind {
                        async_graphql::parser::types::TypeKind::Object(object) => object.fields,
                        async_graphql::parser::types::TypeKind::Interface(interface) => {
                            interface.fields
                        }
                        _ => continue,
                    };
                    let map = fields
                        .into_iter()
                        .map(|field| {
                            let field = field.node;
                            let list = matches!(
                                field.ty.node.base,
                                async_graphql::parser::types::BaseType::List(_)
                            );
                            let mut returns = &field.ty.node;
                            while let async_graphql::parser::types::BaseType::List(inner) =
                                &returns.base
                            {
                                returns = inner;
                            }
                            let returns = match &returns.base {
                                async_graphql::parser::types::BaseType::Named(name) => {
                                    name.to_string()
                                }
                                async_graphql::parser::types::BaseType::List(_) => String::new(),
                            };
                            let paged = field.arguments.iter().any(|a| a.node.name.node == "first");
                            let stated =
                                field.description.as_ref().and_then(|d| counted_as(&d.node));
                            let multiplier = match (paged, stated) {
                                (true, _) => Multiplier::First,
                                (false, Some(n)) if list => Multiplier::Assumed(n),
                                _ => Multiplier::One,
                            };
                            let shape = FieldShape {
                                returns,
                                list,
                                multiplier,
                            };
                            (field.name.node.to_string(), shape)
                        })
                        .collect();
                    shape.types.insert(ty.name.node.to_string(), map);
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        shape
    }

    /// onegraph's own schema, read once.
    pub fn of_schema() -> &'static Shape {
        static SHAPE: OnceLock<Shape> = OnceLock::new();
        SHAPE.get_or_init(|| Shape::from_sdl(&super::sdl()))
    }

    /// Whether no type was read (the SDL did not parse).
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    fn root(&self, ty: OperationType) -> Option<&str> {
        let index = match ty {
            OperationType::Query => 0,
            OperationType::Mutation => 1,
            OperationType::Subscription => 2,
        };
        self.roots[index].as_deref()
    }

    /// The field `name` of `parent`: its return type and whether it takes `first`.
    fn field(&self, parent: Option<&str>, name: &str) -> Option<&FieldShape> {
        self.types.get(parent?)?.get(name)
    }

    /// The named type the field `name` of `parent` returns (lists and non-null unwrapped).
    pub fn returns(&self, parent: &str, name: &str) -> Option<&str> {
        self.field(Some(parent), name).map(|f| f.returns.as_str())
    }

    /// The name of the root type of operations of type `ty`.
    pub fn root_type(&self, ty: OperationType) -> Option<&str> {
        self.root(ty)
    }
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
    /// async-graphql's complexity of the set.
    complexity: usize,
    /// The deepest field nesting in the set (a field at its top is 1; `__typename` does not
    /// count, as in async-graphql).
    depth: usize,
    /// How many levels of selection sets lie below the set, counted as async-graphql's
    /// recursion-depth check counts them: what a cached fragment adds where it is spread.
    nesting: usize,
}

impl Cost {
    /// Adds what a fragment (`with_sensitive`) or a field's selection brings; the caller
    /// accounts for complexity and depth, which differ between the two.
    fn add(&mut self, other: Cost, with_sensitive: bool) {
        self.selections = self.selections.saturating_add(other.selections);
        self.aliases = self.aliases.saturating_add(other.aliases);
        if with_sensitive {
            self.sensitive = self.sensitive.saturating_add(other.sensitive);
        }
    }

    /// Adds a fragment's cost: its fields stand at this level.
    fn add_fragment(&mut self, other: Cost) {
        self.add(other, true);
        self.complexity = self.complexity.saturating_add(other.complexity);
        self.depth = self.depth.max(other.depth);
        self.nesting = self.nesting.max(other.nesting.saturating_add(1));
    }
}

/// Why a document is refused.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    TooManySelections,
    TooManyAliases,
    TooDeep(Pos),
    NestedTooDeep,
    TooComplex,
    TooManyDirectives(Pos),
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
                ErrorCode::QueryTooComplex,
                None,
            ),
            Refusal::TooManyAliases => error(
                &format!("Too many aliases: at most {MAX_ALIASES} per operation"),
                ErrorCode::QueryTooComplex,
                None,
            ),
            Refusal::TooDeep(pos) => error(
                &format!(
                    "The recursion depth of the query cannot be greater than `{MAX_RECURSIVE_DEPTH}`"
                ),
                ErrorCode::QueryTooComplex,
                Some(pos),
            ),
            Refusal::NestedTooDeep => error(
                &format!("Query is nested too deep: at most {MAX_DEPTH} levels of fields"),
                ErrorCode::QueryTooComplex,
                None,
            ),
            Refusal::TooComplex => error(
                &format!(
                    "Query is too complex: at most {MAX_COMPLEXITY} (a list multiplies what it selects: a connection by its `first`, a plain list by the size its description states)"
                ),
                ErrorCode::QueryTooComplex,
                None,
            ),
            Refusal::TooManyDirectives(pos) => error(
                &format!(
                    "The number of directives on the field cannot be greater than `{MAX_DIRECTIVES}`"
                ),
                ErrorCode::QueryTooComplex,
                Some(pos),
            ),
            // A cycle is a validation error in the GraphQL specification ("fragments must
            // not form cycles"), and validation errors are `BAD_USER_INPUT` here.
            Refusal::Cycle(name, pos) => error(
                &format!("Fragment cycle: \"{name}\" spreads itself"),
                ErrorCode::BadUserInput,
                Some(pos),
            ),
            Refusal::SensitiveTwice => error(
                "Sign-in, code and password fields, and integrationHealth, may appear at most once per operation",
                ErrorCode::BadUserInput,
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
    shape: &'a Shape,
    variables: &'a Variables,
    fragments: HashMap<&'a str, Mark>,
}

impl<'a> Measure<'a> {
    fn new(doc: &'a ExecutableDocument, shape: &'a Shape, variables: &'a Variables) -> Self {
        Self {
            doc,
            shape,
            variables,
            fragments: HashMap::new(),
        }
    }

    /// The `first` a paged field counts with: its argument (a literal or a variable),
    /// clamped, or the default.
    fn first(&self, field: &Field) -> usize {
        let first = field
            .arguments
            .iter()
            .find(|(name, _)| name.node == "first")
            .and_then(|(_, value)| {
                value
                    .node
                    .clone()
                    .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()))
                    .ok()
            })
            .as_ref()
            .and_then(as_i64);
        usize::try_from(first.unwrap_or(DEFAULT_FIRST).clamp(0, MAX_FIRST)).unwrap_or(0)
    }

    /// The expanded cost of `set`, whose fields belong to the type `parent` (when known), at
    /// nesting `depth` counted the way async-graphql's recursion-depth check counts (a field
    /// with a selection set, a spread and an inline fragment each go one level down). Stops
    /// at the first limit passed.
    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        parent: Option<&'a str>,
        depth: usize,
        pos: Pos,
    ) -> Result<Cost, Refusal> {
        if depth > MAX_RECURSIVE_DEPTH {
            return Err(Refusal::TooDeep(pos));
        }
        let mut cost = Cost::default();
        for selection in &set.items {
            cost.selections = cost.selections.saturating_add(1);
            if selection.node.directives().len() > MAX_DIRECTIVES {
                return Err(Refusal::TooManyDirectives(selection.pos));
            }
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    if field.alias.is_some() {
                        cost.aliases = cost.aliases.saturating_add(1);
                    }
                    if BRUTE_FORCE_FIELDS.contains(&name) {
                        cost.sensitive = cost.sensitive.saturating_add(1);
                    }
                    let (returns, multiplier) = match self.shape.field(parent, name) {
                        Some(f) => (Some(f.returns.as_str()), f.multiplier),
                        None => (None, Multiplier::One),
                    };
                    let mut inner = Cost::default();
                    if !field.selection_set.node.items.is_empty() {
                        inner = self.selection_set(
                            &field.selection_set.node,
                            returns,
                            depth + 1,
                            field.selection_set.pos,
                        )?;
                        // Inside a field, brute-force names are not root fields.
                        cost.add(inner, false);
                        cost.nesting = cost.nesting.max(inner.nesting.saturating_add(1));
                    }
                    // async-graphql's complexity and depth leave `__typename` out.
                    if name != "__typename" {
                        let times = match multiplier {
                            Multiplier::One => 1,
                            Multiplier::First => self.first(field),
                            Multiplier::Assumed(n) => n,
                        };
                        let own = times.saturating_mul(inner.complexity).saturating_add(1);
                        cost.complexity = cost.complexity.saturating_add(own);
                        cost.depth = cost.depth.max(inner.depth.saturating_add(1));
                    }
                }
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |c| Some(c.node.on.node.as_str()));
                    let inner = self.selection_set(
                        &inline.node.selection_set.node,
                        on,
                        depth + 1,
                        inline.node.selection_set.pos,
                    )?;
                    cost.add_fragment(inner);
                }
                Selection::FragmentSpread(spread) => {
                    let inner = self.fragment(
                        spread.node.fragment_name.node.as_str(),
                        depth + 1,
                        spread.pos,
                    )?;
                    cost.add_fragment(inner);
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
            // Measured at its first spread; spread deeper here, it reaches deeper.
            Some(Mark::Done(cost)) if depth.saturating_add(cost.nesting) > MAX_RECURSIVE_DEPTH => {
                return Err(Refusal::TooDeep(pos));
            }
            Some(Mark::Done(cost)) => return Ok(*cost),
            Some(Mark::InProgress) => return Err(Refusal::Cycle(name.to_owned(), pos)),
            None => {}
        }
        let Some((key, fragment)) = self.doc.fragments.get_key_value(name) else {
            return Ok(Cost::default());
        };
        let key = key.as_str();
        self.fragments.insert(key, Mark::InProgress);
        let on = fragment.node.type_condition.node.on.node.as_str();
        let cost = self.selection_set(
            &fragment.node.selection_set.node,
            Some(on),
            depth,
            fragment.node.selection_set.pos,
        )?;
        self.fragments.insert(key, Mark::Done(cost));
        Ok(cost)
    }
}

fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Checks every operation of `doc` against the limits; complexity is summed over the
/// document's operations and depth is the deepest of them, as async-graphql counts them.
/// Each operation is measured with its own variables (the request's, and its own defaults
/// for those the request leaves out) and its own fragment memo, and the selections of all
/// operations together are held to [`MAX_FIELDS`], so many operations cannot multiply the
/// work of measuring.
fn check(doc: &ExecutableDocument, shape: &Shape, variables: &Variables) -> Result<(), Refusal> {
    let mut complexity = 0usize;
    let mut selections = 0usize;
    for (_, operation) in doc.operations.iter() {
        let defaults: Vec<_> = operation
            .node
            .variable_definitions
            .iter()
            .filter(|v| !variables.contains_key(&v.node.name.node))
            .filter_map(|v| {
                Some((
                    v.node.name.node.clone(),
                    v.node.default_value.as_ref()?.node.clone(),
                ))
            })
            .collect();
        let with_defaults;
        let own = if defaults.is_empty() {
            variables
        } else {
            let mut all = variables.clone();
            all.extend(defaults);
            with_defaults = all;
            &with_defaults
        };
        let set = &operation.node.selection_set;
        let root = shape.root(operation.node.ty);
        if operation.node.directives.len() > MAX_DIRECTIVES {
            return Err(Refusal::TooManyDirectives(operation.pos));
        }
        let cost = Measure::new(doc, shape, own).selection_set(&set.node, root, 0, set.pos)?;
        selections = selections.saturating_add(cost.selections);
        if selections > MAX_FIELDS {
            return Err(Refusal::TooManySelections);
        }
        if cost.sensitive > 1 {
            return Err(Refusal::SensitiveTwice);
        }
        if cost.depth > MAX_DEPTH {
            return Err(Refusal::NestedTooDeep);
        }
        complexity = complexity.saturating_add(cost.complexity);
        if complexity > MAX_COMPLEXITY {
            return Err(Refusal::TooComplex);
        }
    }
    Ok(())
}

/// Enforces the limits on `request` before the schema sees it: parses the document once and
/// keeps it in the request, so that async-graphql does not parse it again. A document that
/// does not parse is passed on unchanged, for async-graphql to report the syntax error.
pub fn check_request(request: &mut Request) -> Result<(), ServerError> {
    let variables = std::mem::take(&mut request.variables);
    // `parsed_query` parses the query and keeps the document in the request.
    let checked = match request.parsed_query() {
        Ok(doc) => check(doc, Shape::of_schema(), &variables).map_err(Refusal::into_error),
        Err(_) => Ok(()),
    };
    request.variables = variables;
    checked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(query: &str) -> Result<(), Refusal> {
        match async_graphql::parser::parse_query(query) {
            Ok(doc) => check(&doc, &Shape::default(), &Variables::default()),
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

    fn measure_with(query: &str, variables: serde_json::Value) -> Result<(), Refusal> {
        match async_graphql::parser::parse_query(query) {
            Ok(doc) => check(&doc, Shape::of_schema(), &Variables::from_json(variables)),
            Err(err) => panic!("does not parse: {err}: {query}"),
        }
    }

    /// `visits(first: F)` selecting 49 per node and `me` with 60: 49·F + 1 + 60.
    fn visits(first: &str) -> String {
        let ids = "id ".repeat(47);
        format!(
            "{{ visits(first: {first}) {{ edges {{ node {{ {ids}}} }} }} me {{ {} }} }}",
            "kind ".repeat(59)
        )
    }

    #[test]
    fn the_shape_knows_every_field_paged_by_first() {
        let shape = Shape::of_schema();
        let mut paged: Vec<_> = shape
            .types
            .iter()
            .flat_map(|(ty, fields)| {
                fields
                    .iter()
                    .filter(|(_, f)| f.multiplier == Multiplier::First)
                    .map(move |(name, f)| format!("{ty}.{name}: {}", f.returns))
            })
            .collect();
        paged.sort();
        assert_eq!(
            paged,
            [
                "Query.auditLog: AuditEntryConnection",
                "Query.hosts: HostConnection",
                "Query.invoices: InvoiceConnection",
                // Not a connection, but its `first` bounds it all the same.
                "Query.search: SearchResult",
                "Query.tickets: TicketConnection",
                "Query.visits: VisitConnection",
            ]
        );
    }

    #[test]
    fn every_plain_list_of_objects_states_its_size() {
        let shape = Shape::of_schema();
        let mut unstated = Vec::new();
        for (ty, fields) in &shape.types {
            for (name, f) in fields {
                let of_objects = shape.types.contains_key(&f.returns);
                let in_connection = ty.ends_with("Connection");
                if f.list && of_objects && !in_connection && f.multiplier == Multiplier::One {
                    unstated.push(format!("{ty}.{name}"));
                }
            }
        }
        assert!(
            unstated.is_empty(),
            "lists without a stated size: {unstated:?}"
        );
        assert_eq!(
            shape
                .field(Some("Location"), "currentVisits")
                .map(|f| f.multiplier),
            Some(Multiplier::Assumed(50))
        );
        assert_eq!(
            counted_as("Things. Counted as 7 by the query\n limits."),
            Some(7)
        );
        assert_eq!(counted_as("Counted as many by the query limits."), None);
    }

    #[test]
    fn nested_plain_lists_multiply() {
        // 20 locations × 50 open visits × 10 visits × 50 open visits: refused at once.
        let query = "{ locations { currentVisits { visitor { visits { location { \
                     currentVisits { visitor { visits { id } } } } } } } } }";
        assert_eq!(
            measure_with(query, serde_json::json!({})),
            Err(Refusal::TooComplex)
        );
        // One level is fine: 1 + 20 · (1 + 1 + 50 · (1 + 1)) = 2061.
        assert_eq!(
            measure_with(
                "{ locations { id currentVisits { id } } }",
                serde_json::json!({})
            ),
            Ok(())
        );
    }

    #[test]
    fn connections_multiply_by_first_from_the_schema() {
        // 49 · 100 + 61 = 4961: allowed; first is clamped to 100 (the field refuses more).
        assert_eq!(measure_with(&visits("100"), serde_json::json!({})), Ok(()));
        assert_eq!(
            measure_with(&visits("100000"), serde_json::json!({})),
            Ok(())
        );
        // Two such connections are over 5000.
        let two = visits("100").replacen(
            "{ visits",
            "{ a: visits(first: 100) { edges { node { id } } } visits",
            1,
        );
        assert_eq!(
            measure_with(&two, serde_json::json!({})),
            Err(Refusal::TooComplex)
        );
        // `first` from a variable, and from a variable's default.
        let query = format!("query($n: Int) {}", visits("$n"));
        let n100 = query.replacen(
            "{ visits",
            "{ b: visits(first: $n) { edges { node { id id } } } visits",
            1,
        );
        assert_eq!(
            measure_with(&n100, serde_json::json!({"n": 100})),
            Err(Refusal::TooComplex)
        );
        assert_eq!(measure_with(&n100, serde_json::json!({"n": 5})), Ok(()));
        let defaulted = n100.replacen("query($n: Int)", "query($n: Int = 100)", 1);
        assert_eq!(
            measure_with(&defaulted, serde_json::json!({})),
            Err(Refusal::TooComplex)
        );
        // Through a fragment on the connection's type the multiplier still applies.
        // 100 · (1 + 1 + 25) + 1 = 2701 each.
        let fragment = format!(
            "query {{ visits(first: 100) {{ ...E }} a: visits(first: 100) {{ ...E }} }} \
             fragment E on VisitConnection {{ edges {{ node {{ {} }} }} }}",
            "id ".repeat(25)
        );
        assert_eq!(
            measure_with(&fragment, serde_json::json!({})),
            Err(Refusal::TooComplex)
        );
        assert_eq!(
            measure_with(
                &fragment.replacen("a: visits(first: 100)", "a: visits(first: 80)", 1),
                serde_json::json!({})
            ),
            Ok(())
        );
    }

    #[test]
    fn each_operation_counts_with_its_own_defaults() {
        let heavy = format!("edges {{ node {{ {} }} }}", "id ".repeat(47));
        let mut query = format!(
            "query A($n: Int = 100) {{ x: visits(first: $n) {{ {heavy} }} y: visits(first: $n) {{ {heavy} }} }}"
        );
        for i in 0..8 {
            query.push_str(&format!(
                " query B{i}($n: Int = 0) {{ hosts(first: $n) {{ totalCount }} }}"
            ));
        }
        // Operations sit in a hash map: try it many times, so every order comes up.
        for _ in 0..50 {
            assert_eq!(
                measure_with(&query, serde_json::json!({})),
                Err(Refusal::TooComplex)
            );
        }
        // Many operations cannot multiply the measuring work either.
        let fields = "__typename ".repeat(3_000);
        let many: String = (0..4)
            .map(|i| format!("query Q{i} {{ ...F }} "))
            .chain([format!("fragment F on Query {{ {fields} }}")])
            .collect();
        assert_eq!(
            measure_with(&many, serde_json::json!({})),
            Err(Refusal::TooManySelections)
        );
    }

    #[test]
    fn typename_costs_nothing_as_in_async_graphql() {
        let ids = "id ".repeat(47);
        let kinds = "kind ".repeat(59);
        let query = format!(
            "{{ visits(first: 100) {{ __typename edges {{ __typename node {{ __typename {ids}}} }} }} me {{ {kinds} }} }}"
        );
        assert_eq!(measure_with(&query, serde_json::json!({})), Ok(()));
        // Fifteen levels of fields with `__typename` at the bottom is still fifteen.
        let mut nested = String::from("__typename");
        for _ in 0..14 {
            nested = format!("location {{ {nested} }}");
        }
        let query = format!("query {{ visit(id: \"x\") {{ {nested} }} }}");
        assert_eq!(measure_with(&query, serde_json::json!({})), Ok(()));
    }

    #[test]
    fn a_memoised_fragment_spread_deeper_is_too_deep() {
        let mut query = String::from("query { ...F ");
        for _ in 0..30 {
            query.push_str("... on Query { ");
        }
        query.push_str("...F");
        query.push_str(&" }".repeat(30));
        query.push_str(" } fragment F on Query { me { user { name } } }");
        assert!(matches!(
            measure_with(&query, serde_json::json!({})),
            Err(Refusal::TooDeep(_))
        ));
    }

    #[test]
    fn depth_counts_fields_not_fragments() {
        let nest = |n: usize| {
            let mut q = String::from("id");
            for _ in 0..n - 1 {
                q = format!("location {{ {q} }}");
            }
            format!("query {{ ...F }} fragment F on Query {{ visit(id: \"x\") {{ {q} }} }}")
        };
        // `visit`, n - 1 `location`s and `id`: n + 1 levels of fields.
        assert_eq!(measure_with(&nest(14), serde_json::json!({})), Ok(()));
        assert_eq!(
            measure_with(&nest(15), serde_json::json!({})),
            Err(Refusal::NestedTooDeep)
        );
    }

    #[test]
    fn directives_are_limited_per_field() {
        let eleven = "@include(if: true) ".repeat(11);
        let query = format!("query {{ __typename {eleven} }}");
        assert!(matches!(
            measure_with(&query, serde_json::json!({})),
            Err(Refusal::TooManyDirectives(_))
        ));
    }

    #[test]
    fn every_refusal_carries_its_code() {
        for (refusal, code) in [
            (Refusal::TooComplex, "QUERY_TOO_COMPLEX"),
            (Refusal::NestedTooDeep, "QUERY_TOO_COMPLEX"),
            (Refusal::TooManySelections, "QUERY_TOO_COMPLEX"),
            (Refusal::SensitiveTwice, "BAD_USER_INPUT"),
        ] {
            let error = refusal.into_error();
            let code_of = error.extensions.as_ref().and_then(|e| e.get("code"));
            assert_eq!(code_of, Some(&Value::from(code)));
        }
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
