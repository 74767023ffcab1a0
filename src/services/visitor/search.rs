//! Global search, behind GraphQL `search` and `GET /api/search` alike: visits by their
//! visitor's name and company, locations by their name and address, case-insensitively.
//!
//! **Ranking.** A result is an *exact* match (a whole field equals the query), a *prefix*
//! match (a field starts with it) or a *substring* match; exact matches come first, then
//! prefixes, then substrings, and within each class the newest first (a visit's check-in,
//! a location's creation), ties broken by id. Anonymised visitors and archived locations are
//! not found.
//!
//! **The query is data.** It is trimmed, 1 to [`MAX_QUERY_CHARS`] characters, without
//! control characters. Every character matches itself: `%`, `_` and `\` are escaped for
//! `LIKE` (`ESCAPE '\'`), and SQLite's FTS5 gets the query as one quoted phrase with `"`
//! doubled, so `"`, `*`, `^`, `:`, `(`, `OR` and `NEAR` are text, not syntax. Case is folded
//! by the database's `lower()`: PostgreSQL folds every letter its locale knows, SQLite only
//! ASCII letters.
//!
//! **Indexes** (migration `m20261206_000003`): PostgreSQL's GIN trigram indexes serve every
//! class; on SQLite the FTS5 `trigram` tables serve substrings of 3 characters or more, and
//! b-tree indexes on the lower-cased name and company serve exact and prefix matches.
//! Shorter substrings (1 or 2 characters, below the trigram) are read without the FTS
//! index, by scanning the tenant's rows.
//!
//! **Visits: a few statements, whatever the data.** A class may hold three visitors or
//! thirty thousand. The first statement counts, per class, the matching visitors up to
//! [`INDEXED_AT_MOST`] + 1 through the indexes (a worse class only while the better ones
//! are few). Then one statement per class, best first, ranks the visits of visitors matching
//! that class and no better one, until `first` results are found: a class that the counts
//! show adds no visitor is skipped, and once the better classes filled `first`, the worse
//! ones are not read. A class of at most [`INDEXED_AT_MOST`] visitors is read from its
//! visitors (their visits newest first, through `visits(visitor_id)`); a larger one by
//! walking the tenant's visits newest first (`visits(tenant_id, checked_in_at, id)`) until
//! `first` match, which for so common a match takes a few hundred rows. Locations are one
//! statement of their own, run beside the visits'. So a search costs two to five
//! statements (three as a rule), never one per result. The statements fix their join
//! order themselves (SQLite `CROSS JOIN`, a correlated subquery with `LIMIT 1`; PostgreSQL
//! `LATERAL`, `OFFSET 0`), so that a planner's guess at a pattern's selectivity cannot turn
//! a millisecond into a scan of every visit.

use std::collections::HashMap;

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, FromQueryResult, IdenStatic, Iterable,
    QueryResult, Statement, Value,
};

use crate::{
    auth::{Permission, Principal, PrincipalKind},
    error::{AppError, AppResult},
    services::shared::{integration_keys::Access, validate},
};
use entities::{locations, visitors, visits};

/// Results when the caller does not say how many.
pub const DEFAULT_FIRST: i64 = 20;
/// Most results one search returns.
pub const MAX_FIRST: i64 = 100;
/// Longest query, in characters (after trimming).
pub const MAX_QUERY_CHARS: usize = 100;
/// The shortest substring the trigram indexes hold; shorter ones are scanned for.
const TRIGRAM: usize = 3;
/// A class with at most this many matching visitors is ranked from its visitors; a larger
/// one by walking the tenant's visits newest first (see the module documentation).
pub const INDEXED_AT_MOST: u64 = 500;

/// How well a result matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// A whole field equals the query.
    Exact = 0,
    /// A field starts with the query.
    Prefix = 1,
    /// A field holds the query.
    Substring = 2,
}

impl Class {
    const ALL: [Class; 3] = [Class::Exact, Class::Prefix, Class::Substring];

    fn from_number(n: i32) -> Class {
        match n {
            0 => Class::Exact,
            1 => Class::Prefix,
            _ => Class::Substring,
        }
    }
}

/// Who searches, and what they may find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The one tenant every statement is confined to.
    tenant_id: String,
    /// Whether visits are found (locations always are).
    visits: bool,
}

impl Scope {
    /// The scope of a GraphQL caller: a staff user (visits only with
    /// `visitor.visitors.view`) or an integration principal (bound to one tenant when it was
    /// authenticated). Anyone else is refused.
    pub fn of(principal: &Principal) -> AppResult<Scope> {
        match principal.kind {
            PrincipalKind::Staff if principal.permissions.any_visitor() => Ok(Scope {
                tenant_id: principal.tenant_id.clone(),
                visits: principal.can(Permission::VisitorsView),
            }),
            PrincipalKind::Integration => Ok(Scope {
                tenant_id: principal.tenant_id.clone(),
                visits: true,
            }),
            _ => Err(AppError::Forbidden { permission: None }),
        }
    }

    /// The scope of `GET /api/search`: the platform key searches the tenant it names, a
    /// tenant key only its own. `None` (nothing is found) for a tenant key naming another
    /// tenant, or a `tenant_id` that is no tenant id, exactly as for a tenant without data.
    pub fn for_integration(access: &Access, tenant_id: &str) -> Option<Scope> {
        let tenant_id = validate::id(tenant_id, "Tenant").ok()?;
        access.allows(&tenant_id).then_some(Scope {
            tenant_id,
            visits: true,
        })
    }

    /// Whether visits are searched.
    pub fn finds_visits(&self) -> bool {
        self.visits
    }
}

/// A visit found by its visitor, with its visitor and its location.
#[derive(Debug, Clone)]
pub struct FoundVisit {
    /// The visit.
    pub visit: visits::Model,
    /// Its visitor.
    pub visitor: visitors::Model,
    /// Where it happened.
    pub location: locations::Model,
}

/// One result.
#[derive(Debug, Clone)]
pub enum Hit {
    /// A visit whose visitor matched.
    Visit(Box<FoundVisit>),
    /// A location that matched.
    Location(locations::Model),
}

/// Validates `first` (default [`DEFAULT_FIRST`], 1 to [`MAX_FIRST`]).
pub fn first(first: Option<i64>) -> AppResult<usize> {
    match first {
        None => Ok(DEFAULT_FIRST as usize),
        Some(n) if (1..=MAX_FIRST).contains(&n) => Ok(n as usize),
        Some(_) => Err(AppError::bad_input(format!(
            "first must be between 1 and {MAX_FIRST}"
        ))),
    }
}

/// The query as searched: trimmed, not blank, at most [`MAX_QUERY_CHARS`] characters, no
/// control characters.
pub fn query(text: &str) -> AppResult<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::bad_input("query must not be blank"));
    }
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::bad_input(format!(
            "query must be at most {MAX_QUERY_CHARS} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "query must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

/// `text` with `\`, `%` and `_` escaped for `LIKE … ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `text` as one FTS5 phrase: in double quotes, its own double quotes doubled. Inside a
/// phrase every other character (`*`, `^`, `:`, `(`, `OR`, `NEAR`…) is text.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The values of one statement and their `$n` placeholders (PostgreSQL's form, which sqlx
/// binds by number on SQLite too), each value bound once however often it is used.
#[derive(Default)]
struct Args {
    values: Vec<Value>,
}

impl Args {
    fn push(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }
}

/// The placeholders of one search's values, bound once per statement.
struct Params {
    tenant: String,
    /// The query as typed (trimmed), lower-cased by the database.
    query: String,
    /// `escaped%`.
    prefix: String,
    /// `%escaped%`.
    substring: String,
    limit: String,
}

impl Params {
    fn bind(args: &mut Args, scope: &Scope, q: &str, limit: u64) -> Params {
        let escaped = escape_like(q);
        Params {
            tenant: args.push(scope.tenant_id.clone()),
            query: args.push(q.to_owned()),
            prefix: args.push(format!("{escaped}%")),
            substring: args.push(format!("%{escaped}%")),
            limit: args.push(limit as i64),
        }
    }

    /// Whether `column` (lower-cased) matches as `class` or better.
    fn matches(&self, column: &str, class: Class) -> String {
        match class {
            Class::Exact => format!("lower({column}) = lower({})", self.query),
            Class::Prefix => format!("lower({column}) LIKE lower({}) ESCAPE '\\'", self.prefix),
            Class::Substring => {
                format!("lower({column}) LIKE lower({}) ESCAPE '\\'", self.substring)
            }
        }
    }

    /// Whether either of `columns` matches as `class` or better.
    fn either(&self, columns: [&str; 2], class: Class) -> String {
        format!(
            "({} OR {})",
            self.matches(columns[0], class),
            self.matches(columns[1], class)
        )
    }

    /// The class of a row whose `columns` matched as a substring at least.
    fn class_of(&self, columns: [&str; 2]) -> String {
        format!(
            "CASE WHEN {} THEN 0 WHEN {} THEN 1 ELSE 2 END",
            self.either(columns, Class::Exact),
            self.either(columns, Class::Prefix)
        )
    }
}

const VISITOR_COLUMNS: [&str; 2] = ["vr.name", "vr.company"];
const LOCATION_COLUMNS: [&str; 2] = ["l.name", "l.address"];

/// `alias.col AS prefixcol, …` for every column of `E`.
fn columns<C: Iterable + IdenStatic>(alias: &str, prefix: &str) -> String {
    C::iter()
        .map(|c| format!("{alias}.{} AS {prefix}{}", c.as_str(), c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Searches `scope`'s tenant for `query` (validated here): at most `first` results, best
/// first. At most five statements, whatever the data: one for locations and, when the scope
/// finds visits, one to count and one per class that can add results.
pub async fn search(
    db: &DatabaseConnection,
    scope: &Scope,
    query: &str,
    first: usize,
) -> AppResult<Vec<Hit>> {
    let q = self::query(query)?;
    let backend = db.get_database_backend();
    if !matches!(backend, DatabaseBackend::Postgres | DatabaseBackend::Sqlite) {
        return Err(AppError::internal(format!(
            "search is built for PostgreSQL and SQLite, not {backend:?}"
        )));
    }
    let (visits, locations) = if scope.visits {
        futures_util::future::try_join(
            find_visits(db, backend, scope, &q, first),
            find_locations(db, backend, scope, &q, first),
        )
        .await?
    } else {
        (
            Vec::new(),
            find_locations(db, backend, scope, &q, first).await?,
        )
    };
    Ok(merge(visits, locations, first))
}

/// A ranked result before merging: its class, its time (newer first) and its id.
type Ranked = (Class, chrono::DateTime<chrono::Utc>, String, Hit);

/// Merges both kinds by class, then newest, then id; keeps `first`.
fn merge(visits: Vec<Ranked>, locations: Vec<Ranked>, first: usize) -> Vec<Hit> {
    let mut all: Vec<Ranked> = visits.into_iter().chain(locations).collect();
    all.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| b.1.cmp(&a.1))
            .then_with(|| b.2.cmp(&a.2))
    });
    all.truncate(first);
    all.into_iter().map(|(_, _, _, hit)| hit).collect()
}

/// Matching visitors per class, counted up to `INDEXED_AT_MOST + 1`: one statement.
async fn count_visitors(
    db: &DatabaseConnection,
    backend: DatabaseBackend,
    scope: &Scope,
    q: &str,
) -> AppResult<HashMap<Class, u64>> {
    let mut args = Args::default();
    let p = Params::bind(&mut args, scope, q, INDEXED_AT_MOST + 1);
    let sources = Sources::bind(&mut args, backend, q);
    let base = format!("vr.tenant_id = {} AND vr.anonymized_at IS NULL", p.tenant);
    let most = args.push(INDEXED_AT_MOST as i64);
    let count = |class: Class| {
        format!(
            "(SELECT count(*) FROM (SELECT 1 AS one FROM {} WHERE {base} AND {} LIMIT {}) AS c{})",
            sources.visitors(class),
            sources.narrow(class, &p),
            p.limit,
            class as u8
        )
    };
    // A class is counted only while the better ones hold at most `INDEXED_AT_MOST`: past
    // that, they are walked and hold results enough (a larger class then counts as large).
    // `OFFSET 0` keeps each level a subquery of its own, so no count is made twice.
    let sql = format!(
        "SELECT n0, n1, CASE WHEN n1 > {most} THEN {cap} ELSE {} END AS n2 FROM \
         (SELECT n0, CASE WHEN n0 > {most} THEN {cap} ELSE {} END AS n1 FROM \
         (SELECT {} AS n0 LIMIT 1 OFFSET 0) AS a LIMIT 1 OFFSET 0) AS b",
        count(Class::Substring),
        count(Class::Prefix),
        count(Class::Exact),
        cap = p.limit,
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, args.values))
        .await?
        .ok_or_else(|| AppError::internal("the search count answered no row"))?;
    let mut found = HashMap::new();
    for class in Class::ALL {
        let n: i64 = row.try_get("", &format!("n{}", class as u8))?;
        found.insert(class, u64::try_from(n).unwrap_or(0));
    }
    Ok(found)
}

/// Where one class's candidate visitors come from, per backend.
struct Sources {
    backend: DatabaseBackend,
    /// SQLite, a query of 3 characters or more: the FTS5 phrase.
    phrase: Option<String>,
    /// SQLite: the query lower-cased as SQLite's `lower()` does (ASCII), and its successor
    /// bound, for prefix ranges on the `lower(name)` / `lower(company)` b-tree indexes.
    range: Option<(String, String)>,
}

impl Sources {
    fn bind(args: &mut Args, backend: DatabaseBackend, q: &str) -> Sources {
        if backend != DatabaseBackend::Sqlite {
            return Sources {
                backend,
                phrase: None,
                range: None,
            };
        }
        let phrase = (q.chars().count() >= TRIGRAM).then(|| args.push(fts_phrase(q)));
        let lowered = q.to_ascii_lowercase();
        // Every string starting with `lowered` sorts from it up to it followed by the
        // largest character (a name holding U+10FFFF right after the query aside).
        let upper = format!("{lowered}\u{10FFFF}");
        let range = Some((args.push(lowered), args.push(upper)));
        Sources {
            backend,
            phrase,
            range,
        }
    }

    /// The `FROM` of a class's visitors, aliased `vr`.
    fn visitors(&self, class: Class) -> &'static str {
        if class == Class::Substring && self.phrase.is_some() {
            "visitors_search s CROSS JOIN visitors vr ON vr.rowid = s.rowid"
        } else {
            "visitors vr"
        }
    }

    /// The condition of a class's visitors: the match itself, and on SQLite what lets the
    /// index find them (the FTS phrase, or the b-tree ranges).
    fn narrow(&self, class: Class, p: &Params) -> String {
        let matched = p.either(VISITOR_COLUMNS, class);
        if self.backend != DatabaseBackend::Sqlite {
            return matched;
        }
        match (class, &self.phrase, &self.range) {
            (Class::Substring, Some(phrase), _) => {
                format!("visitors_search MATCH {phrase} AND {matched}")
            }
            (Class::Exact | Class::Prefix, _, Some((low, high))) => {
                // Each side of the OR on an index of its own (`tenant_id, lower(…)`).
                let range = |column: &str| {
                    if class == Class::Exact {
                        format!("lower({column}) = {low}")
                    } else {
                        format!("lower({column}) >= {low} AND lower({column}) < {high}")
                    }
                };
                format!(
                    "(({} AND {}) OR ({} AND {}))",
                    range("vr.name"),
                    p.matches("vr.name", class),
                    range("vr.company"),
                    p.matches("vr.company", class)
                )
            }
            _ => matched,
        }
    }
}

/// The best `first` visits, each with its class and time: the class counts, then one
/// statement for each class that can still add results, best first, until `first` are
/// found.
async fn find_visits(
    db: &DatabaseConnection,
    backend: DatabaseBackend,
    scope: &Scope,
    q: &str,
    first: usize,
) -> AppResult<Vec<Ranked>> {
    let counts = count_visitors(db, backend, scope, q).await?;
    let mut found: Vec<Ranked> = Vec::new();
    let mut better = 0;
    for class in Class::ALL {
        let matching = counts.get(&class).copied().unwrap_or(0);
        // Counts are of this class or better: the same count below the cap as the class
        // before means no visitor matches this class alone.
        let adds = matching > 0 && (matching != better || matching > INDEXED_AT_MOST);
        better = matching;
        if !adds {
            continue;
        }
        // Nothing matches a better class: this class need not exclude it.
        let alone = better_count_is_zero(&counts, class);
        let statement = rank_class(
            backend,
            scope,
            q,
            class,
            matching,
            alone,
            first - found.len(),
        );
        for row in db.query_all_raw(statement).await? {
            found.push(visit_hit(&row)?);
        }
        if found.len() >= first {
            break;
        }
    }
    Ok(found)
}

/// Whether no visitor matches a class better than `class`.
fn better_count_is_zero(counts: &HashMap<Class, u64>, class: Class) -> bool {
    Class::ALL
        .iter()
        .filter(|c| **c < class)
        .all(|c| counts.get(c).copied().unwrap_or(0) == 0)
}

/// The newest `wanted` visits whose visitor matches as `class` and no better (`alone`: no
/// visitor matches better, so that need not be tested), with their visitor and location:
/// one statement. A class of at most [`INDEXED_AT_MOST`] visitors
/// (`matching`, this class or better) is read from its visitors through the indexes; a
/// larger one by walking the tenant's visits newest first, each visit's visitor checked by
/// its primary key, which for so common a match finds `wanted` soon.
fn rank_class(
    backend: DatabaseBackend,
    scope: &Scope,
    q: &str,
    class: Class,
    matching: u64,
    alone: bool,
    wanted: usize,
) -> Statement {
    let mut args = Args::default();
    let p = Params::bind(&mut args, scope, q, wanted as u64);
    let sources = Sources::bind(&mut args, backend, q);
    let t = &p.tenant;
    let n = &p.limit;
    let base = format!("vr.tenant_id = {t} AND vr.anonymized_at IS NULL");
    // This class and not a better one (`COALESCE`: a visitor without a company is no
    // better match for it).
    let only = match class {
        Class::Exact => "TRUE".to_owned(),
        _ if alone => "TRUE".to_owned(),
        Class::Prefix => format!(
            "NOT COALESCE({}, FALSE)",
            p.either(VISITOR_COLUMNS, Class::Exact)
        ),
        Class::Substring => format!(
            "NOT COALESCE({}, FALSE)",
            p.either(VISITOR_COLUMNS, Class::Prefix)
        ),
    };
    let order = "ORDER BY v.checked_in_at DESC, v.id DESC";
    let sqlite = backend == DatabaseBackend::Sqlite;
    let ranked = if matching <= INDEXED_AT_MOST {
        let narrow = sources.narrow(class, &p);
        if sqlite {
            // The class's visitors as an `IN` list: each probes `visits(visitor_id)`.
            format!(
                "SELECT v.* FROM visits v WHERE v.tenant_id = {t} AND v.visitor_id IN \
                 (SELECT vr.id FROM {} WHERE {base} AND {narrow} AND {only}) {order} LIMIT {n}",
                sources.visitors(class)
            )
        } else {
            // `LATERAL … LIMIT` keeps PostgreSQL on one index probe per visitor.
            format!(
                "SELECT v.* FROM visitors vr CROSS JOIN LATERAL (SELECT * FROM visits vv \
                 WHERE vv.visitor_id = vr.id AND vv.tenant_id = {t} \
                 ORDER BY vv.checked_in_at DESC, vv.id DESC LIMIT {n}) v \
                 WHERE {base} AND {narrow} AND {only} {order} LIMIT {n}"
            )
        }
    } else {
        // A correlated `EXISTS` per visit, not a join: SQLite would first build a Bloom
        // filter over every visitor, and PostgreSQL could turn the join around. Each
        // database keeps a subquery correlated when it has a limit it cannot drop: SQLite
        // `LIMIT 1`, PostgreSQL `OFFSET 0`.
        let matched = p.either(VISITOR_COLUMNS, class);
        let fence = if sqlite { " LIMIT 1" } else { " OFFSET 0" };
        format!(
            "SELECT v.* FROM visits v WHERE v.tenant_id = {t} AND EXISTS (SELECT 1 FROM \
             visitors vr WHERE vr.id = v.visitor_id AND {base} AND {matched} AND {only}{fence}) \
             {order} LIMIT {n}"
        )
    };
    let join = if sqlite { "CROSS JOIN" } else { "JOIN" };
    let sql = format!(
        "SELECT {} AS search_class, {}, {}, {} FROM ({ranked}) AS v \
         {join} visitors vr ON vr.id = v.visitor_id AND vr.tenant_id = {t} \
         {join} locations l ON l.id = v.location_id AND l.tenant_id = {t}",
        class as u8,
        columns::<visits::Column>("v", ""),
        columns::<visitors::Column>("vr", "vr_"),
        columns::<locations::Column>("l", "l_"),
    );
    Statement::from_sql_and_values(backend, sql, args.values)
}

fn visit_hit(row: &QueryResult) -> AppResult<Ranked> {
    let class: i32 = row.try_get("", "search_class")?;
    let visit = visits::Model::from_query_result(row, "")?;
    let visitor = visitors::Model::from_query_result(row, "vr_")?;
    let location = locations::Model::from_query_result(row, "l_")?;
    Ok((
        Class::from_number(class),
        visit.checked_in_at,
        visit.id.clone(),
        Hit::Visit(Box::new(FoundVisit {
            visit,
            visitor,
            location,
        })),
    ))
}

/// The best `first` locations, each with its class and time: one statement.
async fn find_locations(
    db: &DatabaseConnection,
    backend: DatabaseBackend,
    scope: &Scope,
    q: &str,
    first: usize,
) -> AppResult<Vec<Ranked>> {
    let mut args = Args::default();
    let p = Params::bind(&mut args, scope, q, first as u64);
    let archived = args.push(false);
    let from = if backend == DatabaseBackend::Sqlite && q.chars().count() >= TRIGRAM {
        let phrase = args.push(fts_phrase(q));
        format!(
            "locations_search s CROSS JOIN locations l ON l.rowid = s.rowid \
             WHERE locations_search MATCH {phrase} AND"
        )
    } else {
        "locations l WHERE".to_owned()
    };
    let sql = format!(
        "SELECT {} AS search_class, l.* FROM {from} l.tenant_id = {} AND l.archived = {archived} \
         AND {} ORDER BY search_class, l.created_at DESC, l.id DESC LIMIT {}",
        p.class_of(LOCATION_COLUMNS),
        p.tenant,
        p.either(LOCATION_COLUMNS, Class::Substring),
        p.limit
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, args.values))
        .await?;
    rows.iter()
        .map(|row| {
            let class: i32 = row.try_get("", "search_class")?;
            let location = locations::Model::from_query_result(row, "")?;
            Ok((
                Class::from_number(class),
                location.created_at,
                location.id.clone(),
                Hit::Location(location),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(escape_like(r"50%_off\now"), r"50\%\_off\\now");
        assert_eq!(escape_like("plain"), "plain");
    }

    #[test]
    fn the_query_is_one_fts_phrase() {
        assert_eq!(fts_phrase("a\"b"), "\"a\"\"b\"");
        assert_eq!(fts_phrase("x OR y*"), "\"x OR y*\"");
    }

    #[test]
    fn queries_and_sizes_are_checked() {
        assert_eq!(query("  Ada ").ok().as_deref(), Some("Ada"));
        assert!(query("   ").is_err());
        assert!(query(&"x".repeat(MAX_QUERY_CHARS)).is_ok());
        assert!(query(&"x".repeat(MAX_QUERY_CHARS + 1)).is_err());
        assert!(query("a\u{7}b").is_err());
        assert_eq!(first(None).ok(), Some(20));
        assert!(first(Some(0)).is_err());
        assert!(first(Some(101)).is_err());
        assert_eq!(first(Some(100)).ok(), Some(100));
    }

    #[test]
    fn merging_ranks_class_then_newest() {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap_or_default();
        let location = |id: &str| locations::Model {
            id: id.to_owned(),
            tenant_id: "t".into(),
            name: id.to_owned(),
            address: None,
            location_type: locations::LocationType::Office,
            timezone: "UTC".into(),
            archived: false,
            created_at: at(0),
            updated_at: at(0),
        };
        let ranked =
            |class, s, id: &str| (class, at(s), id.to_owned(), Hit::Location(location(id)));
        let hits = merge(
            vec![
                ranked(Class::Substring, 9, "a"),
                ranked(Class::Exact, 1, "b"),
            ],
            vec![
                ranked(Class::Prefix, 5, "c"),
                ranked(Class::Substring, 10, "d"),
            ],
            3,
        );
        let ids: Vec<&str> = hits
            .iter()
            .map(|h| match h {
                Hit::Location(l) => l.id.as_str(),
                Hit::Visit(found) => found.visit.id.as_str(),
            })
            .collect();
        assert_eq!(ids, ["b", "c", "d"]);
    }
}
