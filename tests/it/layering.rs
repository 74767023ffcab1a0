//! The layers of ARCHITECTURE.md, kept by reading the source: each top-level module of
//! `src/` may import only the modules its row of [`ALLOWED`] names, async-graphql appears
//! only in `graphql/`, sea-orm (SQL) only below the GraphQL and REST layer, and the two
//! product folders of `graphql/` import nothing from each other.

use std::path::{Path, PathBuf};

/// Which crate modules each top-level module may import (besides itself). `main.rs` and
/// `lib.rs` may use anything. One table: change it here when the architecture changes.
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "cli",
        &[
            "app", "auth", "config", "db", "domain", "error", "events", "graphql", "http", "jobs",
            "services", "upstream",
        ],
    ),
    (
        "app",
        &[
            "auth", "config", "db", "domain", "error", "events", "graphql", "http", "jobs",
            "services", "upstream",
        ],
    ),
    (
        "graphql",
        &[
            "app", "auth", "config", "domain", "error", "events", "http", "jobs", "services",
        ],
    ),
    (
        "http",
        &[
            "app", "auth", "config", "domain", "error", "events", "jobs", "services",
        ],
    ),
    (
        "jobs",
        &[
            "auth", "config", "db", "domain", "error", "events", "services", "upstream",
        ],
    ),
    (
        "services",
        &[
            "auth", "config", "db", "domain", "error", "events", "upstream",
        ],
    ),
    ("domain", &["config", "db", "events"]),
    ("events", &["config", "db", "error", "upstream"]),
    ("auth", &["config", "error"]),
    ("upstream", &["config"]),
    ("db", &[]),
    ("config", &[]),
    ("error", &[]),
];

/// Modules that may name async-graphql (GraphQL types, guards, DataLoaders).
const ASYNC_GRAPHQL: &[&str] = &["graphql", "main", "lib"];

/// Modules that may not name sea-orm: statements live in services (and the jobs, events
/// and command-line seeding that run below the edge).
const NO_SQL: &[&str] = &["graphql", "http", "auth", "upstream", "config"];

/// Folders that import nothing from each other: (folder, what it may not name).
const SEPARATE: &[(&str, &[&str])] = &[
    ("graphql/visitor", &["graphql::portal", "super::portal"]),
    ("graphql/portal", &["graphql::visitor", "super::visitor"]),
];

/// `text` without comments, string and character literals (their words are not imports).
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |end| end + 2);
        } else if let Some(raw) = rest.strip_prefix("r#\"") {
            i += raw.find("\"#").map_or(rest.len(), |end| end + 5);
            out.push_str("\"\"");
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() {
                match rest.as_bytes()[j] {
                    b'\\' => j += 2,
                    b'"' => break,
                    _ => j += 1,
                }
            }
            i += (j + 1).min(rest.len());
            out.push_str("\"\"");
        } else if rest.starts_with("'\\''") {
            i += 4;
        } else if rest.starts_with("'\"'") {
            i += 3;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn ident_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The top-level crate modules `code` names through `crate::…`, including every first
/// segment of a `crate::{a, b::c}` group.
fn crate_imports(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let preceded = rest[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        rest = &rest[at + "crate::".len()..];
        if preceded {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut start = 0usize;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.push(ident_at(group[start..i].trim()).to_owned());
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(ident_at(group[start..i].trim()).to_owned());
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(ident_at(rest).to_owned());
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

fn names_word(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().last();
        let after = code[at + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Every broken rule in the file at `relative` (a path under `src/`, with `/`) holding
/// `text`.
fn violations(relative: &str, text: &str) -> Vec<String> {
    let module = relative
        .split('/')
        .next()
        .unwrap_or("")
        .trim_end_matches(".rs");
    let code = code_only(text);
    let mut found = Vec::new();
    if !matches!(module, "main" | "lib") {
        match ALLOWED.iter().find(|(m, _)| *m == module) {
            None => found.push(format!(
                "{relative}: module `{module}` has no row in the layering table"
            )),
            Some((_, allowed)) => {
                for import in crate_imports(&code) {
                    if import != module && !allowed.contains(&import.as_str()) {
                        found.push(format!(
                            "{relative}: `{module}` may not import `crate::{import}`"
                        ));
                    }
                }
            }
        }
    }
    if !ASYNC_GRAPHQL.contains(&module) && names_word(&code, "async_graphql") {
        found.push(format!(
            "{relative}: async-graphql belongs in graphql/ only"
        ));
    }
    if NO_SQL.contains(&module) && names_word(&code, "sea_orm") {
        found.push(format!(
            "{relative}: sea-orm (SQL) belongs in services, not in `{module}`"
        ));
    }
    for (folder, forbidden) in SEPARATE {
        if relative.starts_with(&format!("{folder}/")) {
            for name in *forbidden {
                if code.contains(name) {
                    found.push(format!("{relative}: {folder} may not use `{name}`"));
                }
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() > 50,
        "only {} files under {}",
        files.len(),
        src.display()
    );
    let mut broken = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(&src)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let text = std::fs::read_to_string(file).unwrap_or_default();
        broken.extend(violations(&relative, &text));
    }
    assert!(
        broken.is_empty(),
        "imports against ARCHITECTURE.md's layers:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_checker_sees_what_it_must() {
    // A service reaching up into GraphQL, plain or in a group, is refused.
    assert_eq!(
        violations("services/visitor/visits.rs", "use crate::graphql::Query;").len(),
        1
    );
    assert_eq!(
        violations(
            "services/visitor/visits.rs",
            "use crate::{\n    db::begin_write,\n    http::auth::{x, y},\n};"
        ),
        vec!["services/visitor/visits.rs: `services` may not import `crate::http`".to_owned()]
    );
    assert_eq!(
        violations("upstream/psa.rs", "fn f() -> crate::services::X { todo() }").len(),
        1
    );
    assert_eq!(
        violations("error.rs", "impl From<E> for async_graphql::Error {}").len(),
        1
    );
    assert_eq!(
        violations("graphql/viewer.rs", "use sea_orm::EntityTrait;").len(),
        1
    );
    assert_eq!(
        violations(
            "graphql/portal/query.rs",
            "use crate::graphql::visitor::types::X;"
        )
        .len(),
        1
    );
    // Comments and strings are not imports; a module's own paths are fine.
    assert!(
        violations(
            "services/shared/page.rs",
            "// crate::graphql\nconst S: &str = \"crate::app\";\nuse crate::services::shared::x;"
        )
        .is_empty()
    );
    // A new top-level module must be placed in the table.
    assert_eq!(violations("search.rs", "").len(), 1);
}
