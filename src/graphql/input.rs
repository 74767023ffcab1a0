//! Text no field takes: U+0000 (NUL) anywhere in a request's strings, in its variables or
//! written in its document. PostgreSQL's `text` cannot hold it (a statement carrying one
//! fails inside the database), and no name, search or credential means anything by it, so
//! the request is refused with `BAD_USER_INPUT` before execution, on every transport.

use async_graphql::parser::Positioned;
use async_graphql::parser::types::{Directive, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, ServerError, Value};

use crate::error::ErrorCode;

/// The message of the refusal.
pub const NUL_REFUSED: &str = "Text must not contain the NUL character (U+0000)";

/// Refuses `request` when any of its strings holds U+0000. A document that does not parse
/// passes: execution reports the syntax error.
pub fn refuse_nul(request: &mut Request) -> Result<(), ServerError> {
    let mut found = request.variables.values().any(has_nul);
    if !found && let Ok(doc) = request.parsed_query() {
        found = document_has_nul(doc);
    }
    if found {
        let mut err = ServerError::new(NUL_REFUSED, None);
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", ErrorCode::BadUserInput.as_str());
        err.extensions = Some(ext);
        return Err(err);
    }
    Ok(())
}

/// Whether `value` or anything in it is a string holding U+0000 (an object's keys
/// included). Iterative: variables may nest as deep as JSON allows.
fn has_nul(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) if text.contains('\0') => return true,
            Value::Enum(name) if name.contains('\0') => return true,
            Value::List(items) => stack.extend(items),
            Value::Object(fields) => {
                if fields.keys().any(|k| k.contains('\0')) {
                    return true;
                }
                stack.extend(fields.values());
            }
            _ => {}
        }
    }
    false
}

/// Whether a literal of the document (an argument, a directive's argument or a variable's
/// default) holds U+0000.
fn document_has_nul(doc: &ExecutableDocument) -> bool {
    let mut sets: Vec<&SelectionSet> = Vec::new();
    let mut directives: Vec<&Positioned<Directive>> = Vec::new();
    for (_, operation) in doc.operations.iter() {
        let operation = &operation.node;
        for variable in &operation.variable_definitions {
            if variable
                .node
                .default_value
                .as_ref()
                .is_some_and(|v| has_nul(&v.node))
            {
                return true;
            }
            directives.extend(&variable.node.directives);
        }
        directives.extend(&operation.directives);
        sets.push(&operation.selection_set.node);
    }
    for fragment in doc.fragments.values() {
        directives.extend(&fragment.node.directives);
        sets.push(&fragment.node.selection_set.node);
    }
    while let Some(set) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    if field
                        .node
                        .arguments
                        .iter()
                        .any(|(_, value)| literal_has_nul(&value.node))
                    {
                        return true;
                    }
                    directives.extend(&field.node.directives);
                    sets.push(&field.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => directives.extend(&spread.node.directives),
                Selection::InlineFragment(fragment) => {
                    directives.extend(&fragment.node.directives);
                    sets.push(&fragment.node.selection_set.node);
                }
            }
        }
    }
    directives.iter().any(|directive| {
        directive
            .node
            .arguments
            .iter()
            .any(|(_, value)| literal_has_nul(&value.node))
    })
}

/// Whether a document literal holds U+0000 (a variable in it stands for a value checked
/// apart). Read through its JSON form: async-graphql does not export the literal's type.
fn literal_has_nul(value: &impl serde::Serialize) -> bool {
    serde_json::to_value(value)
        .ok()
        .and_then(|json| Value::from_json(json).ok())
        .is_some_and(|v| has_nul(&v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(query: &str, variables: serde_json::Value) -> bool {
        let mut request =
            Request::new(query).variables(async_graphql::Variables::from_json(variables));
        refuse_nul(&mut request).is_err()
    }

    #[test]
    fn nul_is_refused_wherever_it_is_written() {
        let search = "query($s: String){ hosts(search: $s){ totalCount } }";
        assert!(refused(search, serde_json::json!({"s": "a\u{0}b"})));
        assert!(refused(
            search,
            serde_json::json!({"s": [[{"k": "\u{0}"}]]})
        ));
        assert!(refused(
            r#"{ hosts(search: "a\u0000b") { totalCount } }"#,
            serde_json::json!({})
        ));
        assert!(refused(
            r#"query($s: String = "\u0000"){ hosts(search: $s) { totalCount } }"#,
            serde_json::json!({})
        ));
        assert!(refused(
            r#"{ me @include(if: true) { kind } ...F } fragment F on Query { hosts(search: {a: ["\u0000"]}) { totalCount } }"#,
            serde_json::json!({})
        ));
        assert!(!refused(
            search,
            serde_json::json!({"s": "a\\u0000b \u{1} \u{7f}"})
        ));
        assert!(!refused(
            r#"{ hosts(search: "a\\u0000b") { totalCount } }"#,
            serde_json::json!({})
        ));
        // Not a document: left to execution's syntax error.
        assert!(!refused("{ hosts(", serde_json::json!({})));
    }
}
