//! The schema as introspection shows it, for the walks: root fields, their arguments and
//! input objects, and the types they return, read from the running server so that a field
//! added to the schema is walked without editing a test.

use std::collections::HashMap;

use serde_json::Value;

/// A type reference: `T`, `[T]`, `T!`.
#[derive(Debug, Clone)]
pub enum Ty {
    Named(String),
    List(Box<Ty>),
    NonNull(Box<Ty>),
}

impl Ty {
    fn parse(v: &Value) -> Ty {
        match v["kind"].as_str() {
            Some("NON_NULL") => Ty::NonNull(Box::new(Ty::parse(&v["ofType"]))),
            Some("LIST") => Ty::List(Box::new(Ty::parse(&v["ofType"]))),
            _ => Ty::Named(v["name"].as_str().expect("a named type").to_owned()),
        }
    }

    /// The named type inside the wrappers.
    pub fn name(&self) -> &str {
        match self {
            Ty::Named(name) => name,
            Ty::List(inner) | Ty::NonNull(inner) => inner.name(),
        }
    }

    /// `T!` at the top.
    pub fn required(&self) -> bool {
        matches!(self, Ty::NonNull(_))
    }

    /// A list somewhere in the wrappers.
    pub fn is_list(&self) -> bool {
        match self {
            Ty::Named(_) => false,
            Ty::List(_) => true,
            Ty::NonNull(inner) => inner.is_list(),
        }
    }
}

/// An argument or input field.
#[derive(Debug, Clone)]
pub struct InputValue {
    pub name: String,
    pub ty: Ty,
    pub has_default: bool,
}

impl InputValue {
    fn parse(v: &Value) -> InputValue {
        InputValue {
            name: v["name"].as_str().expect("name").to_owned(),
            ty: Ty::parse(&v["type"]),
            has_default: !v["defaultValue"].is_null(),
        }
    }

    /// Must be given: `T!` without a default.
    pub fn must_give(&self) -> bool {
        self.ty.required() && !self.has_default
    }
}

/// A field of an object type.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub args: Vec<InputValue>,
    pub ty: Ty,
}

/// A named type.
#[derive(Debug, Clone)]
pub struct TypeDef {
    pub kind: String,
    pub fields: Vec<Field>,
    pub input_fields: Vec<InputValue>,
    pub enum_values: Vec<String>,
}

/// Which root type a field hangs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Query,
    Mutation,
    Subscription,
}

impl Root {
    /// The operation keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Root::Query => "query",
            Root::Mutation => "mutation",
            Root::Subscription => "subscription",
        }
    }
}

/// The whole schema.
#[derive(Debug, Clone)]
pub struct Schema {
    pub types: HashMap<String, TypeDef>,
    roots: Vec<(Root, String)>,
}

impl Schema {
    /// Reads the answer to `support::INTROSPECTION`.
    pub fn from_introspection(body: &Value) -> Schema {
        let schema = &body["data"]["__schema"];
        assert!(schema.is_object(), "introspection failed: {body}");
        let mut types = HashMap::new();
        for t in schema["types"].as_array().expect("types") {
            let list = |key: &str| t[key].as_array().cloned().unwrap_or_default();
            types.insert(
                t["name"].as_str().expect("type name").to_owned(),
                TypeDef {
                    kind: t["kind"].as_str().expect("kind").to_owned(),
                    fields: list("fields")
                        .iter()
                        .map(|f| Field {
                            name: f["name"].as_str().expect("field name").to_owned(),
                            args: f["args"]
                                .as_array()
                                .map(|a| a.iter().map(InputValue::parse).collect())
                                .unwrap_or_default(),
                            ty: Ty::parse(&f["type"]),
                        })
                        .collect(),
                    input_fields: list("inputFields").iter().map(InputValue::parse).collect(),
                    enum_values: list("enumValues")
                        .iter()
                        .filter_map(|e| e["name"].as_str().map(str::to_owned))
                        .collect(),
                },
            );
        }
        let mut roots = Vec::new();
        for (root, key) in [
            (Root::Query, "queryType"),
            (Root::Mutation, "mutationType"),
            (Root::Subscription, "subscriptionType"),
        ] {
            if let Some(name) = schema[key]["name"].as_str() {
                roots.push((root, name.to_owned()));
            }
        }
        Schema { types, roots }
    }

    /// A named type.
    pub fn get(&self, name: &str) -> &TypeDef {
        self.types
            .get(name)
            .unwrap_or_else(|| panic!("no type {name}"))
    }

    /// The fields of a root type (none when the schema has no such root).
    pub fn root_fields(&self, root: Root) -> Vec<Field> {
        self.roots
            .iter()
            .find(|(r, _)| *r == root)
            .map(|(_, name)| self.get(name).fields.clone())
            .unwrap_or_default()
    }

    /// A scalar clients send as a JSON string: `String`, `ID` and every custom scalar.
    pub fn is_text(&self, name: &str) -> bool {
        !matches!(name, "Int" | "Float" | "Boolean")
            && self.types.get(name).is_some_and(|t| t.kind == "SCALAR")
    }

    /// A type selected without a sub-selection.
    pub fn is_leaf(&self, name: &str) -> bool {
        self.types
            .get(name)
            .is_some_and(|t| t.kind == "SCALAR" || t.kind == "ENUM")
    }

    /// A selection of `name` reaching `depth` levels of objects below it: every leaf field
    /// without required arguments, and the same for object fields while depth remains
    /// (lists of objects only at the top, so that the selection stays within the query
    /// limits). Empty for a leaf type.
    pub fn selection(&self, name: &str, depth: usize) -> String {
        self.selection_below(name, depth, true)
    }

    fn selection_below(&self, name: &str, depth: usize, top: bool) -> String {
        let t = self.get(name);
        match t.kind.as_str() {
            "OBJECT" => {}
            "INTERFACE" | "UNION" => return "{ __typename }".into(),
            _ => return String::new(),
        }
        let mut parts = Vec::new();
        for f in &t.fields {
            if f.args.iter().any(InputValue::must_give) || f.name.starts_with("__") {
                continue;
            }
            let inner = f.ty.name();
            if self.is_leaf(inner) {
                parts.push(f.name.clone());
            } else if depth > 0 && (top || !f.ty.is_list()) {
                let sub = self.selection_below(inner, depth - 1, false);
                if !sub.is_empty() {
                    parts.push(format!("{} {sub}", f.name));
                }
            }
        }
        if parts.is_empty() {
            "{ __typename }".into()
        } else {
            format!("{{ {} }}", parts.join(" "))
        }
    }

    /// The field `name` of object type `owner`.
    pub fn field(&self, owner: &str, name: &str) -> Option<&Field> {
        self.types
            .get(owner)?
            .fields
            .iter()
            .find(|f| f.name == name)
    }
}
