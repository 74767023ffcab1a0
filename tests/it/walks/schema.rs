//! The running schema as the walks read it: introspected over HTTP (never the exported SDL,
//! so a field counts from the moment it is served), with what both walks build from it:
//! the places an `ID` goes in a root field's arguments, generic argument values, selection
//! sets and documents.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::support::{INTROSPECTION, TestApp};

/// A type reference: `ID`, `ID!`, `[ID!]`...
#[derive(Debug, Clone)]
pub enum TypeRef {
    Named(String),
    NonNull(Box<TypeRef>),
    List(Box<TypeRef>),
}

impl TypeRef {
    fn parse(value: &Value) -> TypeRef {
        match value["kind"].as_str() {
            Some("NON_NULL") => TypeRef::NonNull(Box::new(TypeRef::parse(&value["ofType"]))),
            Some("LIST") => TypeRef::List(Box::new(TypeRef::parse(&value["ofType"]))),
            _ => TypeRef::Named(
                value["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a named type without a name: {value}"))
                    .to_owned(),
            ),
        }
    }

    /// The named type inside the wrappers.
    pub fn named(&self) -> &str {
        match self {
            TypeRef::Named(name) => name,
            TypeRef::NonNull(inner) | TypeRef::List(inner) => inner.named(),
        }
    }

    pub fn is_non_null(&self) -> bool {
        matches!(self, TypeRef::NonNull(_))
    }

    /// As written in a variable definition.
    pub fn render(&self) -> String {
        match self {
            TypeRef::Named(name) => name.clone(),
            TypeRef::NonNull(inner) => format!("{}!", inner.render()),
            TypeRef::List(inner) => format!("[{}]", inner.render()),
        }
    }
}

/// An argument or an input field.
#[derive(Debug, Clone)]
pub struct InputValue {
    pub name: String,
    pub ty: TypeRef,
    pub default: Option<String>,
}

impl InputValue {
    /// Non-null without a default: a caller must give it.
    pub fn required(&self) -> bool {
        self.ty.is_non_null() && self.default.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub args: Vec<InputValue>,
    pub ty: TypeRef,
}

impl Field {
    pub fn has_required_args(&self) -> bool {
        self.args.iter().any(InputValue::required)
    }
}

#[derive(Debug, Clone)]
pub struct Type {
    /// `OBJECT`, `INPUT_OBJECT`, `SCALAR`, `ENUM`, `UNION`, `INTERFACE`.
    pub kind: String,
    pub name: String,
    pub fields: Vec<Field>,
    pub input_fields: Vec<InputValue>,
    pub enum_values: Vec<String>,
    pub possible_types: Vec<String>,
}

impl Type {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// An operation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Query,
    Mutation,
    Subscription,
}

impl Op {
    pub fn keyword(self) -> &'static str {
        match self {
            Op::Query => "query",
            Op::Mutation => "mutation",
            Op::Subscription => "subscription",
        }
    }
}

/// The introspected schema.
pub struct Schema {
    pub types: BTreeMap<String, Type>,
    pub roots: Vec<(Op, String)>,
}

/// A root field, named `Query.location`.
#[derive(Debug, Clone)]
pub struct Root<'a> {
    pub op: Op,
    pub type_name: &'a str,
    pub field: &'a Field,
}

impl Root<'_> {
    pub fn coordinate(&self) -> String {
        format!("{}.{}", self.type_name, self.field.name)
    }
}

/// Where an `ID` goes in a root field's arguments: the argument's name, then the names of
/// input fields down to the `ID` (`["input", "locationId"]`).
#[derive(Debug, Clone)]
pub struct IdSite<'a> {
    pub root: Root<'a>,
    pub path: Vec<String>,
}

impl IdSite<'_> {
    /// `Mutation.checkInVisitor(input.locationId)`.
    pub fn label(&self) -> String {
        format!("{}({})", self.root.coordinate(), self.path.join("."))
    }
}

impl Schema {
    /// Introspects the schema `app` serves, as `token`.
    pub async fn load(app: &TestApp, token: &str) -> Schema {
        let body = app.gql(Some(token), INTROSPECTION, json!({})).await;
        assert!(body.get("errors").is_none(), "introspection failed: {body}");
        let schema = &body["data"]["__schema"];
        let mut types = BTreeMap::new();
        for ty in schema["types"].as_array().expect("types") {
            let name = ty["name"].as_str().expect("type name").to_owned();
            let list = |key: &str| ty[key].as_array().cloned().unwrap_or_default();
            let input_value = |v: &Value| InputValue {
                name: v["name"].as_str().expect("input value name").to_owned(),
                ty: TypeRef::parse(&v["type"]),
                default: v["defaultValue"].as_str().map(str::to_owned),
            };
            types.insert(
                name.clone(),
                Type {
                    kind: ty["kind"].as_str().expect("kind").to_owned(),
                    name,
                    fields: list("fields")
                        .iter()
                        .map(|f| Field {
                            name: f["name"].as_str().expect("field name").to_owned(),
                            args: list_of(&f["args"]).iter().map(input_value).collect(),
                            ty: TypeRef::parse(&f["type"]),
                        })
                        .collect(),
                    input_fields: list("inputFields").iter().map(input_value).collect(),
                    enum_values: list("enumValues")
                        .iter()
                        .map(|v| v["name"].as_str().expect("enum value").to_owned())
                        .collect(),
                    possible_types: list("possibleTypes")
                        .iter()
                        .map(|v| v["name"].as_str().expect("possible type").to_owned())
                        .collect(),
                },
            );
        }
        let mut roots = Vec::new();
        for (op, key) in [
            (Op::Query, "queryType"),
            (Op::Mutation, "mutationType"),
            (Op::Subscription, "subscriptionType"),
        ] {
            if let Some(name) = schema[key]["name"].as_str() {
                roots.push((op, name.to_owned()));
            }
        }
        Schema { types, roots }
    }

    pub fn ty(&self, name: &str) -> &Type {
        self.types
            .get(name)
            .unwrap_or_else(|| panic!("no type {name} in the schema"))
    }

    /// Whether `name` is a scalar or an enum (selected without a sub-selection).
    pub fn is_leaf(&self, name: &str) -> bool {
        matches!(self.ty(name).kind.as_str(), "SCALAR" | "ENUM")
    }

    /// Object types a response can hold (introspection's own types left out), root types
    /// included.
    pub fn object_types(&self) -> impl Iterator<Item = &Type> {
        self.types
            .values()
            .filter(|t| t.kind == "OBJECT" && !t.name.starts_with("__"))
    }

    /// Every root field, queries first.
    pub fn root_fields(&self) -> Vec<Root<'_>> {
        let mut roots = Vec::new();
        for (op, name) in &self.roots {
            for field in &self.ty(name).fields {
                roots.push(Root {
                    op: *op,
                    type_name: name,
                    field,
                });
            }
        }
        roots
    }

    /// Which operation a root type serves, if it is one.
    pub fn op_of(&self, type_name: &str) -> Option<Op> {
        self.roots
            .iter()
            .find(|(_, name)| name == type_name)
            .map(|(op, _)| *op)
    }

    /// Every place an `ID` (or a list of them) goes in a root field's arguments, input
    /// objects followed down.
    pub fn id_sites(&self) -> Vec<IdSite<'_>> {
        let mut sites = Vec::new();
        for root in self.root_fields() {
            for arg in &root.field.args {
                let mut path = vec![arg.name.clone()];
                self.collect_ids(&root, &arg.ty, &mut path, &mut BTreeSet::new(), &mut sites);
            }
        }
        sites
    }

    fn collect_ids<'a>(
        &'a self,
        root: &Root<'a>,
        ty: &TypeRef,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
        sites: &mut Vec<IdSite<'a>>,
    ) {
        let name = ty.named();
        if name == "ID" {
            sites.push(IdSite {
                root: root.clone(),
                path: path.clone(),
            });
            return;
        }
        let input = self.ty(name);
        if input.kind != "INPUT_OBJECT" || !seen.insert(name.to_owned()) {
            return;
        }
        for field in &input.input_fields {
            path.push(field.name.clone());
            self.collect_ids(root, &field.ty, path, seen, sites);
            path.pop();
        }
        seen.remove(name);
    }

    /// Fields that take an `ID` argument below the root types: the walks call only root
    /// fields with chosen ids, so each of these needs the walks extended.
    pub fn nested_id_arguments(&self) -> Vec<String> {
        let roots: BTreeSet<&str> = self.roots.iter().map(|(_, n)| n.as_str()).collect();
        let mut found = Vec::new();
        for ty in self.object_types() {
            if roots.contains(ty.name.as_str()) {
                continue;
            }
            for field in &ty.fields {
                for arg in &field.args {
                    let mut path = vec![arg.name.clone()];
                    let root = Root {
                        op: Op::Query,
                        type_name: &ty.name,
                        field,
                    };
                    let mut sites = Vec::new();
                    self.collect_ids(&root, &arg.ty, &mut path, &mut BTreeSet::new(), &mut sites);
                    found.extend(sites.iter().map(IdSite::label));
                }
            }
        }
        found
    }

    /// The kind of object an `ID` at `path` of `root` names, as a type name (`Location`):
    /// `<kind>Id` names it, and a plain `id` names what the field returns or, when that is
    /// no object with an id (`removeHost: Boolean`), the type the field's name ends with.
    pub fn id_kind(&self, root: &Root<'_>, path: &[String]) -> Option<String> {
        let last = path.last()?;
        let has_id = |name: &str| {
            self.types
                .get(name)
                .is_some_and(|t| t.kind == "OBJECT" && t.field("id").is_some())
        };
        if let Some(stem) = last.strip_suffix("Ids").or_else(|| last.strip_suffix("Id"))
            && !stem.is_empty()
        {
            let mut chars = stem.chars();
            let first = chars.next()?;
            let name = format!("{}{}", first.to_ascii_uppercase(), chars.as_str());
            return has_id(&name).then_some(name);
        }
        if last != "id" && last != "ids" {
            return None;
        }
        let returned = root.field.ty.named();
        if has_id(returned) {
            return Some(returned.to_owned());
        }
        let field = root.field.name.to_ascii_lowercase();
        self.object_types()
            .filter(|t| t.field("id").is_some() && field.ends_with(&t.name.to_ascii_lowercase()))
            .max_by_key(|t| t.name.len())
            .map(|t| t.name.clone())
    }

    /// A selection set for `type_name`: `__typename`, every leaf field without required
    /// arguments and, `depth` levels down, every object field without required arguments.
    /// Empty for a leaf type.
    pub fn selection(&self, type_name: &str, depth: usize) -> String {
        let ty = self.ty(type_name);
        match ty.kind.as_str() {
            "SCALAR" | "ENUM" => String::new(),
            "UNION" | "INTERFACE" => {
                let mut out = String::from("{ __typename");
                for possible in &ty.possible_types {
                    out.push_str(&format!(
                        " ... on {possible} {}",
                        self.selection(possible, depth)
                    ));
                }
                out.push_str(" }");
                out
            }
            _ => {
                let mut out = String::from("{ __typename");
                for field in ty.fields.iter().filter(|f| !f.has_required_args()) {
                    let target = field.ty.named();
                    if self.is_leaf(target) {
                        out.push(' ');
                        out.push_str(&field.name);
                    } else if depth > 0 {
                        out.push_str(&format!(
                            " {} {}",
                            field.name,
                            self.selection(target, depth - 1)
                        ));
                    }
                }
                out.push_str(" }");
                out
            }
        }
    }

    /// A document calling `root` with `args` (each passed as a variable of its declared
    /// type) and selecting `selection`; and its variables.
    pub fn document(
        &self,
        root: &Root<'_>,
        args: &Map<String, Value>,
        selection: &str,
    ) -> (String, Value) {
        let mut definitions = Vec::new();
        let mut uses = Vec::new();
        let mut variables = Map::new();
        for arg in &root.field.args {
            if let Some(value) = args.get(&arg.name) {
                definitions.push(format!("${}: {}", arg.name, arg.ty.render()));
                uses.push(format!("{0}: ${0}", arg.name));
                variables.insert(arg.name.clone(), value.clone());
            }
        }
        let definitions = if definitions.is_empty() {
            String::new()
        } else {
            format!("({})", definitions.join(", "))
        };
        let uses = if uses.is_empty() {
            String::new()
        } else {
            format!("({})", uses.join(", "))
        };
        // `__typename` beside the field shows the rest of the response is still served
        // (a subscription has exactly one root field).
        let typename = if root.op == Op::Subscription {
            ""
        } else {
            " __typename"
        };
        (
            format!(
                "{} Walk{definitions} {{{typename} {}{uses} {selection} }}",
                root.op.keyword(),
                root.field.name
            ),
            Value::Object(variables),
        )
    }
}

fn list_of(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

/// What fills the `ID`s of a call: given the path of an `ID` and whether it is required,
/// its value, or `None` to leave an optional one out.
pub type IdFiller<'f> = dyn FnMut(&[String], bool) -> Option<Value> + 'f;

/// What replaces the generic value at a path, if anything.
pub type Overrides<'f> = dyn Fn(&[String]) -> Option<Value> + 'f;

/// Generic arguments for a call of `field`, the same for every call that shares `serial`:
/// required arguments and fields get a valid-looking value (a string naming the walk,
/// `1`, `false`, an enum's first value, a date an hour ahead; `from`/`to` a day around
/// now); input objects are always given, with their required fields and their input
/// objects; arguments with defaults and optional scalars are left out; `ids` decides
/// every `ID`, and `overrides` wins over all of it.
pub fn arguments(
    schema: &Schema,
    field: &Field,
    serial: usize,
    ids: &mut IdFiller<'_>,
    overrides: &Overrides<'_>,
) -> Map<String, Value> {
    let mut args = Map::new();
    for arg in &field.args {
        let mut path = vec![arg.name.clone()];
        if let Some(value) = fill(schema, arg, &mut path, serial, ids, overrides) {
            args.insert(arg.name.clone(), value);
        }
    }
    args
}

fn fill(
    schema: &Schema,
    value: &InputValue,
    path: &mut Vec<String>,
    serial: usize,
    ids: &mut IdFiller<'_>,
    overrides: &Overrides<'_>,
) -> Option<Value> {
    if let Some(given) = overrides(path) {
        return Some(given);
    }
    fill_type(
        schema,
        &value.ty,
        value.required(),
        path,
        serial,
        ids,
        overrides,
    )
}

fn fill_type(
    schema: &Schema,
    ty: &TypeRef,
    required: bool,
    path: &mut Vec<String>,
    serial: usize,
    ids: &mut IdFiller<'_>,
    overrides: &Overrides<'_>,
) -> Option<Value> {
    match ty {
        TypeRef::NonNull(inner) => fill_type(schema, inner, required, path, serial, ids, overrides),
        TypeRef::List(inner) => {
            let item = fill_type(schema, inner, required, path, serial, ids, overrides)?;
            Some(Value::Array(vec![item]))
        }
        TypeRef::Named(name) if name == "ID" => ids(path, required),
        TypeRef::Named(name) => {
            let ty = schema.ty(name);
            if ty.kind == "INPUT_OBJECT" {
                let mut object = Map::new();
                for field in &ty.input_fields {
                    path.push(field.name.clone());
                    if let Some(v) = fill(schema, field, path, serial, ids, overrides) {
                        object.insert(field.name.clone(), v);
                    }
                    path.pop();
                }
                return Some(Value::Object(object));
            }
            if !required {
                return None;
            }
            let last = path.last().map(String::as_str).unwrap_or_default();
            Some(match (ty.kind.as_str(), name.as_str()) {
                ("ENUM", _) => json!(ty.enum_values.first().expect("an enum without values")),
                (_, "String") => json!(string_for(last, serial)),
                (_, "Int") => json!(1),
                (_, "Float") => json!(1.5),
                (_, "Boolean") => json!(false),
                (_, "Decimal") => json!("1.00"),
                (_, "DateTime") => {
                    // From one instant per test process, so repeated calls compare.
                    static BASE: std::sync::OnceLock<chrono::DateTime<Utc>> =
                        std::sync::OnceLock::new();
                    let base = *BASE.get_or_init(Utc::now);
                    let at = match last {
                        "from" => base - Duration::days(1),
                        "to" => base + Duration::days(1),
                        _ => base + Duration::hours(1),
                    };
                    json!(at.to_rfc3339_opts(SecondsFormat::Secs, true))
                }
                (kind, other) => panic!(
                    "the walks know no value for the {kind} {other} at {}: teach \
                     tests/it/walks/schema.rs (`fill_type`) one",
                    path.join(".")
                ),
            })
        }
    }
}

/// A valid-looking string for an argument named `name`.
fn string_for(name: &str, serial: usize) -> String {
    let lower = name.to_ascii_lowercase();
    if lower.contains("email") {
        format!("walk-{serial}@walk.example.com")
    } else if lower.contains("timezone") {
        "UTC".to_owned()
    } else {
        format!("walk {serial}")
    }
}
