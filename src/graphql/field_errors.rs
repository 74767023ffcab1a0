//! Field errors on nullable fields resolve to `null` (GraphQL spec, "Handling Field Errors";
//! CONTRACT section 2: a field the caller may not see "resolves to `null`" and the rest of the
//! response is served).
//!
//! async-graphql 7 reports a failed field's error but leaves the field's key out of `data`
//! (and turns an object into `null` when every one of its fields failed, `data` included), so
//! clients that normalise responses (Apollo, Relay) would see missing fields instead of
//! `null`. [`fill_nulls`] repairs the finished response: for each error whose path ends at a
//! nullable field it puts `null` at that path, and moves the error after the others. Errors
//! of non-null fields stay as they are.
//!
//! This is a pass over the response rather than an async-graphql extension with a `resolve`
//! hook on purpose: any registered extension puts every field of every request on
//! async-graphql's slow path (a `ResolveInfo`, a registry lookup and a boxed hook chain per
//! field and list item), which cost a fifth of the CPU of a 50-row page. The pass costs
//! nothing when no error has a path, and only then is the document walked.

use std::{collections::HashMap, sync::LazyLock};

use async_graphql::{
    Name, PathSegment, Response, Value,
    parser::types::{
        BaseType, DocumentOperations, ExecutableDocument, Field, OperationType, Selection,
        SelectionSet, TypeKind, TypeSystemDefinition,
    },
};

/// A field's declared type: whether it is nullable and the object type it leads to.
struct FieldType {
    nullable: bool,
    named: String,
}

/// The fields of every object type, with root type names; read from the schema's SDL once.
struct FieldTypes {
    objects: HashMap<String, HashMap<String, FieldType>>,
    query: String,
    mutation: String,
    subscription: String,
}

impl FieldTypes {
    fn from_sdl(sdl: &str) -> Self {
        let mut types = FieldTypes {
            objects: HashMap::new(),
            query: "Query".to_owned(),
            mutation: "Mutation".to_owned(),
            subscription: "Subscription".to_owned(),
        };
        // The SDL is the schema's own export, so it parses; if it ever did not, every field
        // would count as non-null and errors would be left as async-graphql reports them.
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
            tracing::error!("the schema's own SDL does not parse; field errors keep no null");
            return types;
        };
        for definition in doc.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    if let Some(name) = schema.query {
                        types.query = name.node.to_string();
                    }
                    if let Some(name) = schema.mutation {
                        types.mutation = name.node.to_string();
                    }
                    if let Some(name) = schema.subscription {
                        types.subscription = name.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let ty = ty.node;
                    let fields = match ty.kind {
                        TypeKind::Object(object) => object.fields,
                        TypeKind::Interface(interface) => interface.fields,
                        _ => continue,
                    };
                    let fields = fields
                        .into_iter()
                        .map(|field| {
                            let field = field.node;
                            let mut base = &field.ty.node.base;
                            while let BaseType::List(inner) = base {
                                base = &inner.base;
                            }
                            let named = match base {
                                BaseType::Named(name) => name.to_string(),
                                BaseType::List(_) => String::new(),
                            };
                            let nullable = field.ty.node.nullable;
                            (field.name.node.to_string(), FieldType { nullable, named })
                        })
                        .collect();
                    types.objects.insert(ty.name.node.to_string(), fields);
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        types
    }

    fn field(&self, object: &str, field: &str) -> Option<&FieldType> {
        self.objects.get(object)?.get(field)
    }
}

static FIELD_TYPES: LazyLock<FieldTypes> = LazyLock::new(|| FieldTypes::from_sdl(&super::sdl()));

/// Builds the field table now rather than on the first failed field.
pub fn init() {
    LazyLock::force(&FIELD_TYPES);
}

/// Deepest fragment nesting followed; validated documents have no cycles, this only bounds a
/// walk over a document that was never validated.
const MAX_FRAGMENT_DEPTH: usize = 64;

/// Every field of `set` (through fragments) answering under `key`, each with the type
/// condition of the innermost fragment it stands in (`on`, the set's own when none): below a
/// union, that is the member type the field belongs to.
fn fields_with_key<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    key: &str,
    on: Option<&'a str>,
    depth: usize,
    found: &mut Vec<(&'a Field, Option<&'a str>)>,
) {
    if depth > MAX_FRAGMENT_DEPTH {
        return;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                if field.node.response_key().node.as_str() == key {
                    found.push((&field.node, on));
                }
            }
            Selection::InlineFragment(inline) => {
                let inner = inline
                    .node
                    .type_condition
                    .as_ref()
                    .map(|c| c.node.on.node.as_str())
                    .or(on);
                fields_with_key(
                    doc,
                    &inline.node.selection_set.node,
                    key,
                    inner,
                    depth + 1,
                    found,
                );
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                    fields_with_key(
                        doc,
                        &fragment.node.selection_set.node,
                        key,
                        Some(fragment.node.type_condition.node.on.node.as_str()),
                        depth + 1,
                        found,
                    );
                }
            }
        }
    }
}

/// Whether `path` ends at a nullable field of the operation that ran.
fn ends_at_nullable_field(
    types: &FieldTypes,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    path: &[PathSegment],
) -> bool {
    if !matches!(path.last(), Some(PathSegment::Field(_))) {
        return false;
    }
    let operation = match &doc.operations {
        DocumentOperations::Single(operation) => operation,
        DocumentOperations::Multiple(operations) => {
            let found = match operation_name {
                Some(name) => operations.get(name),
                None if operations.len() == 1 => operations.values().next(),
                None => None,
            };
            match found {
                Some(operation) => operation,
                None => return false,
            }
        }
    };
    let mut object = match operation.node.ty {
        OperationType::Query => types.query.as_str(),
        OperationType::Mutation => types.mutation.as_str(),
        OperationType::Subscription => types.subscription.as_str(),
    };
    // Fields with the same response key merge their selection sets, so follow all of them.
    let mut sets = vec![&operation.node.selection_set.node];
    let mut nullable = false;
    for segment in path {
        let PathSegment::Field(key) = segment else {
            continue;
        };
        let mut fields = Vec::new();
        for set in &sets {
            fields_with_key(doc, set, key, None, 0, &mut fields);
        }
        let Some((first, on)) = fields.first() else {
            return false;
        };
        // Below a union (which has no fields of its own), the field belongs to the member
        // type its fragment is on.
        let parent = match on {
            Some(on) if !types.objects.contains_key(object) => on,
            _ => object,
        };
        let Some(ty) = types.field(parent, first.name.node.as_str()) else {
            return false;
        };
        nullable = ty.nullable;
        object = ty.named.as_str();
        sets = fields.iter().map(|(f, _)| &f.selection_set.node).collect();
    }
    nullable
}

/// Puts `null` at `path` in `data`, turning the objects on the way that async-graphql left as
/// `null` (all their fields failed) back into objects. False when the path leads nowhere.
fn set_null(data: &mut Value, path: &[PathSegment]) -> bool {
    let mut current = data;
    for (i, segment) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        match segment {
            PathSegment::Field(key) => {
                // Below a `null` that an error points into, the object was resolved and
                // every one of its fields failed: it is an object.
                if matches!(current, Value::Null) {
                    *current = Value::Object(Default::default());
                }
                let Value::Object(map) = current else {
                    return false;
                };
                if last {
                    map.entry(Name::new(key)).or_insert(Value::Null);
                    return true;
                }
                let Some(next) = map.get_mut(key.as_str()) else {
                    return false;
                };
                current = next;
            }
            PathSegment::Index(index) => {
                let Value::List(items) = current else {
                    return false;
                };
                let Some(next) = items.get_mut(*index) else {
                    return false;
                };
                current = next;
            }
        }
    }
    false
}

/// Answers `null` for every nullable field that failed in `response`, from the `query` and
/// `operation_name` that produced it; those errors go after the others. A response without
/// field errors is left untouched without looking at the query.
pub fn fill_nulls(response: &mut Response, query: &str, operation_name: Option<&str>) {
    if response.errors.iter().all(|error| error.path.is_empty()) {
        return;
    }
    // Execution ran, so the query parsed; parsed again here only on this rare path.
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return;
    };
    let types = &*FIELD_TYPES;
    let mut kept = Vec::with_capacity(response.errors.len());
    let mut nulled = Vec::new();
    for error in std::mem::take(&mut response.errors) {
        if !error.path.is_empty()
            && ends_at_nullable_field(types, &doc, operation_name, &error.path)
            && set_null(&mut response.data, &error.path)
        {
            nulled.push(error);
        } else {
            kept.push(error);
        }
    }
    kept.append(&mut nulled);
    response.errors = kept;
}
