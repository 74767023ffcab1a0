//! Global search: GraphQL `search` and `GET /api/search`, one service. Ranking (exact, then
//! prefix, then substring, then newest), every character of a query matching itself on
//! both backends (`LIKE`'s `%`, `_`, `\`; FTS5's `"`, `*`, `^`, `:`, `(`, `OR`, `NEAR`),
//! queries shorter than the trigram index, case, the indexes kept current, what each
//! principal finds (staff without `visitor.visitors.view`: locations only; integration
//! keys: their tenant, only the fields of the REST answer, nothing else of the schema), the
//! limits on input, the REST answer's shape, and a constant number of statements.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use sea_orm::{ActiveValue::Set, Database, EntityTrait};
use serde_json::{Value, json};

use crate::support::*;

const PLATFORM_KEY: &str = "platform-integration-key-0123456789abcdef";

const SEARCH: &str = "query($q: String!, $first: Int! = 20) { search(query: $q, first: $first) { \
    __typename ... on Visit { id status visitor { name company } location { name } } \
    ... on Location { id name address type } } }";

/// Creates a location; returns its id.
async fn location(app: &TestApp, token: &str, name: &str, address: Option<&str>) -> String {
    let data = app
        .ok(
            token,
            "mutation($n: String!, $a: String){ createLocation(input:{name:$n, address:$a}){ id } }",
            json!({"n": name, "a": address}),
        )
        .await;
    data["createLocation"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// Checks a visitor in; returns the visit id.
async fn visit(
    app: &TestApp,
    token: &str,
    location: &str,
    name: &str,
    company: Option<&str>,
) -> String {
    let data = app
        .ok(
            token,
            "mutation($l: ID!, $n: String!, $c: String){ checkInVisitor(input:{locationId:$l, \
             visitor:{name:$n, company:$c}}){ id } }",
            json!({"l": location, "n": name, "c": company}),
        )
        .await;
    data["checkInVisitor"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// `search` as `token`: the list, panicking on errors.
async fn search(app: &TestApp, token: &str, q: &str) -> Vec<Value> {
    let data = app.ok(token, SEARCH, json!({"q": q})).await;
    data["search"].as_array().cloned().expect("a list")
}

/// Each result as `visit:<visitor name>` or `location:<name>`.
fn labels(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| match r["__typename"].as_str() {
            Some("Visit") => format!("visit:{}", r["visitor"]["name"].as_str().unwrap_or("?")),
            Some("Location") => format!("location:{}", r["name"].as_str().unwrap_or("?")),
            _ => panic!("not a search result: {r}"),
        })
        .collect()
}

/// The REST answer's results as [`labels`].
fn rest_labels(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results in {body}"))
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["type"].as_str().unwrap_or("?"),
                r["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// `GET /api/search?<query>` with `key`: (status, body).
async fn rest(app: &TestApp, key: Option<&str>, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let url =
        reqwest::Url::parse_with_params(&format!("{}/api/search", app.base), query).expect("url");
    let mut request = app.client.get(url);
    if let Some(key) = key {
        request = request.header("X-Integration-Key", key);
    }
    let response = request.send().await.expect("search");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// POST /graphql with an integration key and, when given, `X-Tenant-Id`: (status, body).
async fn gql_key(
    app: &TestApp,
    key: &str,
    tenant: Option<&str>,
    query: &str,
    variables: Value,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("X-Integration-Key", key)
        .json(&json!({"query": query, "variables": variables}));
    if let Some(tenant) = tenant {
        request = request.header("X-Tenant-Id", tenant);
    }
    let response = request.send().await.expect("graphql");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A tenant integration key made by `admin`: (key, id).
async fn tenant_key(app: &TestApp, admin: &str) -> (String, String) {
    let data = app
        .ok(
            admin,
            "mutation { createIntegrationKey(name: \"Hub search\") { key integrationKey { id } } }",
            json!({}),
        )
        .await;
    let created = &data["createIntegrationKey"];
    (
        created["key"].as_str().expect("key").to_owned(),
        created["integrationKey"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
    )
}

on_every_backend!(
    results_rank_exact_then_prefix_then_substring_then_newest,
    env = [("INTEGRATION_KEY", PLATFORM_KEY)],
    |app| {
        let admin = app.admin("rank").await;
        // Created in this order, so each is newer than the one before.
        let harbour = location(&app, &admin, "Harbour", Some("1 Ann Street")).await;
        visit(&app, &admin, &harbour, "Ann", None).await;
        visit(&app, &admin, &harbour, "Joanna", None).await;
        visit(&app, &admin, &harbour, "Annabel", None).await;
        visit(&app, &admin, &harbour, "Bob", Some("Annex Ltd")).await;
        visit(&app, &admin, &harbour, "Hannah", None).await;
        visit(&app, &admin, &harbour, "Zed", Some("Nobody")).await;
        location(&app, &admin, "Ann", None).await;
        location(&app, &admin, "Annexe West", None).await;
        location(&app, &admin, "Quay", Some("Elsewhere")).await;

        let expected = [
            // Exact: the newer first, a location and a visit alike.
            "location:Ann",
            "visit:Ann",
            // Prefix, of a name or a company or an address.
            "location:Annexe West",
            "visit:Bob",
            "visit:Annabel",
            // Substring.
            "visit:Hannah",
            "visit:Joanna",
            "location:Harbour",
        ];
        assert_eq!(labels(&search(&app, &admin, "ann").await), expected);
        // `first` keeps the best.
        let data = app
            .ok(&admin, SEARCH, json!({"q": "ann", "first": 3}))
            .await;
        assert_eq!(
            labels(data["search"].as_array().expect("list")),
            expected[..3]
        );
        // The REST answer is the same search.
        let tenant = tenant_id("rank");
        let (status, body) = rest(
            &app,
            Some(PLATFORM_KEY),
            &[("q", "ann"), ("tenant_id", &tenant)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // A visit's `name` there is its visitor's.
        assert_eq!(rest_labels(&body), expected, "{body}");
        let (_, body) = rest(
            &app,
            Some(PLATFORM_KEY),
            &[("q", "ann"), ("tenant_id", &tenant), ("limit", "2")],
        )
        .await;
        assert_eq!(rest_labels(&body), expected[..2], "{body}");
    }
);

/// Each metacharacter: a query holding it, a name it must find, and one it must not (which
/// the query would match, were the character syntax rather than text).
const METACHARACTERS: &[(&str, &str, &str)] = &[
    // LIKE: `%` and `_` are wildcards, `\` its escape.
    ("50%", "Offer 50% Ltd", "Offer 500 Ltd"),
    ("%", "Per % Cent", "Percent"),
    ("a_c", "Data_Corp", "Dabco"),
    ("_", "Under_Score", "Underscore"),
    ("x\\y", "Path x\\y", "Path xy"),
    ("\\", "Back \\ Slash", "Backslash"),
    // FTS5: quotes, prefix, initial token, column filter, grouping, operators.
    ("say \"hi\"", "They say \"hi\" Inc", "They say hi Inc"),
    ("\"", "Quote \" Mark", "Quote Mark"),
    ("mac*", "Mac* Tools", "Macdonald"),
    ("^lee", "Brand ^Lee", "Lee Brand"),
    ("name:ada", "Tag name:Ada", "Ada"),
    ("(ada", "Paren (Ada", "Ada Paren"),
    ("ada or bob", "Ada or Bob Ltd", "Ada Bob"),
    ("near(ada bob)", "x NEAR(Ada Bob) y", "Ada Bob near"),
];

on_every_backend!(every_character_of_a_query_matches_itself, |app| {
    let admin = app.admin("meta").await;
    let lobby = location(&app, &admin, "Lobby", None).await;
    for (_, found, not_found) in METACHARACTERS {
        visit(&app, &admin, &lobby, found, None).await;
        visit(&app, &admin, &lobby, not_found, None).await;
        // The same texts as companies and as location names.
        visit(&app, &admin, &lobby, "By company", Some(found)).await;
        location(&app, &admin, &format!("Site {not_found}"), None).await;
    }
    for (query, found, not_found) in METACHARACTERS {
        let results = labels(&search(&app, &admin, query).await);
        assert!(
            results.contains(&format!("visit:{found}")),
            "{query:?} must find {found:?}: {results:?}"
        );
        assert!(
            results.contains(&"visit:By company".to_owned()),
            "{query:?} must find the company {found:?}: {results:?}"
        );
        assert!(
            !results.contains(&format!("visit:{not_found}")),
            "{query:?} must not find {not_found:?}: {results:?}"
        );
        assert!(
            !results.contains(&format!("location:Site {not_found}")),
            "{query:?} must not find the location {not_found:?}: {results:?}"
        );
        // Nothing it finds lacks the query's text.
        for result in search(&app, &admin, query).await {
            let text = format!(
                "{} {} {}",
                result["visitor"]["name"].as_str().unwrap_or_default(),
                result["visitor"]["company"].as_str().unwrap_or_default(),
                result["name"].as_str().unwrap_or_default()
            )
            .to_lowercase();
            assert!(text.contains(query), "{query:?} found {result}");
        }
    }
});

on_every_backend!(queries_of_one_or_two_characters_work, |app| {
    let admin = app.admin("short").await;
    let lobby = location(&app, &admin, "Lobby", None).await;
    visit(&app, &admin, &lobby, "Al", None).await;
    visit(&app, &admin, &lobby, "Sal", None).await;
    visit(&app, &admin, &lobby, "Alan", None).await;
    visit(&app, &admin, &lobby, "Bo", Some("Qx")).await;
    location(&app, &admin, "Ox", Some("Hall Lane")).await;
    assert_eq!(
        labels(&search(&app, &admin, "al").await),
        ["visit:Al", "visit:Alan", "location:Ox", "visit:Sal"]
    );
    assert_eq!(labels(&search(&app, &admin, "QX").await), ["visit:Bo"]);
    assert_eq!(
        labels(&search(&app, &admin, "x").await),
        ["location:Ox", "visit:Bo"]
    );
    assert_eq!(
        labels(&search(&app, &admin, "zz").await),
        Vec::<String>::new()
    );
});

on_every_backend!(case_does_not_matter, |app| {
    let admin = app.admin("case").await;
    let lobby = location(&app, &admin, "North LOBBY", Some("Main STREET 4")).await;
    visit(
        &app,
        &admin,
        &lobby,
        "Ada Lovelace",
        Some("ANALYTICAL Engines"),
    )
    .await;
    for query in ["aDa LoVeLaCe", "ADA", "analytical engines", "Analyt"] {
        assert_eq!(
            labels(&search(&app, &admin, query).await),
            ["visit:Ada Lovelace"],
            "{query}"
        );
    }
    for query in ["north lobby", "STREET", "lOb"] {
        assert_eq!(
            labels(&search(&app, &admin, query).await),
            ["location:North LOBBY"],
            "{query}"
        );
    }
});

on_every_backend!(the_indexes_follow_changes, |app| {
    let admin = app.admin("changes").await;
    let lobby = location(&app, &admin, "Lobby", None).await;
    let dock = location(&app, &admin, "Old Dock", None).await;
    // A returning visitor (same name and e-mail) is one record; a company given later is
    // written to it, and both visits are found by it.
    let check_in = "mutation($l: ID!, $c: String){ checkInVisitor(input:{locationId:$l, \
                    visitor:{name:\"Grace Hopper\", email:\"grace@example.com\", company:$c}}){ id } }";
    app.ok(&admin, check_in, json!({"l": lobby, "c": null}))
        .await;
    assert_eq!(
        labels(&search(&app, &admin, "cobol").await),
        Vec::<String>::new()
    );
    app.ok(&admin, check_in, json!({"l": lobby, "c": "COBOL Works"}))
        .await;
    assert_eq!(
        labels(&search(&app, &admin, "cobol").await),
        ["visit:Grace Hopper", "visit:Grace Hopper"]
    );
    // A renamed location is found by its new name only; an archived one not at all.
    app.ok(
        &admin,
        "mutation($id: ID!){ updateLocation(id:$id, input:{name:\"New Quay\"}){ id } }",
        json!({"id": dock}),
    )
    .await;
    assert_eq!(
        labels(&search(&app, &admin, "dock").await),
        Vec::<String>::new()
    );
    assert_eq!(
        labels(&search(&app, &admin, "quay").await),
        ["location:New Quay"]
    );
    app.ok(
        &admin,
        "mutation($id: ID!){ archiveLocation(id:$id){ id } }",
        json!({"id": dock}),
    )
    .await;
    assert_eq!(
        labels(&search(&app, &admin, "quay").await),
        Vec::<String>::new()
    );
});

on_every_backend!(anonymised_visitors_are_not_found, |app| {
    use onegraph::jobs::{Job, execute};
    let admin = app.admin("forget").await;
    app.ok(
        &admin,
        "mutation { updateVisitorSettings(input:{retentionDays: 30}){ retentionDays } }",
        json!({}),
    )
    .await;
    let lobby = location(&app, &admin, "Lobby", None).await;
    let old = visit(&app, &admin, &lobby, "Olivia Old", Some("Gone Ltd")).await;
    app.ok(
        &admin,
        "mutation($v: ID!){ checkOutVisitor(visitId:$v){ id } }",
        json!({"v": old}),
    )
    .await;
    // Forty days ago, past the tenant's retention.
    let at = Utc::now() - Duration::days(40);
    let db = Database::connect(&app.database_url).await.expect("db");
    use entities::{visitors as vr, visits as v};
    use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
    v::Entity::update_many()
        .col_expr(v::Column::CheckedInAt, Expr::value(at))
        .col_expr(
            v::Column::CheckedOutAt,
            Expr::value(at + Duration::hours(1)),
        )
        .filter(v::Column::Id.eq(&old))
        .exec(&db)
        .await
        .expect("backdate visit");
    vr::Entity::update_many()
        .col_expr(vr::Column::CreatedAt, Expr::value(at))
        .filter(vr::Column::TenantId.eq(tenant_id("forget")))
        .exec(&db)
        .await
        .expect("backdate visitor");
    assert_eq!(
        labels(&search(&app, &admin, "olivia").await),
        ["visit:Olivia Old"]
    );
    execute(&app.state, Job::Retention)
        .await
        .expect("retention");
    for query in ["olivia", "gone", "anonymised"] {
        assert_eq!(
            labels(&search(&app, &admin, query).await),
            Vec::<String>::new(),
            "{query}"
        );
    }
});

on_every_backend!(who_may_search_and_what_they_find, |app| {
    let admin = app.admin("who").await;
    let lobby = location(&app, &admin, "Ada Wing", None).await;
    visit(&app, &admin, &lobby, "Ada", None).await;
    // Any Visitor permission finds locations; visits need visitor.visitors.view.
    let hosts_only = app.staff_session("who", &["visitor.hosts.view"]).await;
    assert_eq!(
        labels(&search(&app, &hosts_only, "ada").await),
        ["location:Ada Wing"]
    );
    let viewer = app.staff_session("who", &["visitor.visitors.view"]).await;
    assert_eq!(
        labels(&search(&app, &viewer, "ada").await),
        ["visit:Ada", "location:Ada Wing"]
    );
    // A staff user without Visitor permissions, a client user and a kiosk are refused.
    let nobody = app.staff_session("who", &[]).await;
    let client = app
        .client_session("who", "COMPANY-1", "client@example.com", true)
        .await;
    let code_data = app
        .ok(
            &admin,
            "mutation($l: ID!){ createKioskPairingCode(locationId:$l){ code } }",
            json!({"l": lobby}),
        )
        .await;
    let pairing = code_data["createKioskPairingCode"]["code"]
        .as_str()
        .expect("code");
    let paired = app
        .gql(
            None,
            "mutation($c: String!){ pairKiosk(code:$c, name:\"K\"){ token } }",
            json!({"c": pairing}),
        )
        .await;
    let kiosk = paired["data"]["pairKiosk"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    for token in [&nobody, &client, &kiosk] {
        let body = app.gql(Some(token), SEARCH, json!({"q": "ada"})).await;
        assert!(body["data"]["search"].is_null(), "{body}");
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
    }
    // Without a principal: UNAUTHENTICATED.
    let body = app.gql(None, SEARCH, json!({"q": "ada"})).await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
});

on_every_backend!(
    search_never_crosses_tenants,
    env = [("INTEGRATION_KEY", PLATFORM_KEY)],
    |app| {
        let a = app.admin("tenancy-a").await;
        let b = app.admin("tenancy-b").await;
        let a_lobby = location(&app, &a, "Shared Name A", None).await;
        let b_lobby = location(&app, &b, "Shared Name B", None).await;
        visit(&app, &a, &a_lobby, "Shared Visitor A", None).await;
        visit(&app, &b, &b_lobby, "Shared Visitor B", None).await;
        let only_a = ["location:Shared Name A", "visit:Shared Visitor A"];
        let only_b = ["location:Shared Name B", "visit:Shared Visitor B"];
        let sorted = |mut l: Vec<String>| {
            l.sort();
            l
        };
        assert_eq!(sorted(labels(&search(&app, &a, "shared").await)), only_a);
        assert_eq!(sorted(labels(&search(&app, &b, "shared").await)), only_b);

        let (key_a, _) = tenant_key(&app, &a).await;
        let ta = tenant_id("tenancy-a");
        let tb = tenant_id("tenancy-b");
        let graphql =
            |data: &Value| sorted(labels(data["data"]["search"].as_array().expect("list")));
        let vars = json!({"q": "shared"});
        // A's key: A, with or without naming A; naming B is refused, and reads nothing.
        for tenant in [None, Some(ta.as_str())] {
            let (status, body) = gql_key(&app, &key_a, tenant, SEARCH, vars.clone()).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(graphql(&body), only_a, "{body}");
        }
        // (Refusals before execution have the REST shape, as for every integration key.)
        let (status, body) = gql_key(&app, &key_a, Some(&tb), SEARCH, vars.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "FORBIDDEN", "{body}");
        assert!(!body.to_string().contains("Shared"), "{body}");
        // The platform key: the tenant it names, which it must name.
        let (_, body) = gql_key(&app, PLATFORM_KEY, Some(&tb), SEARCH, vars.clone()).await;
        assert_eq!(graphql(&body), only_b, "{body}");
        let (status, body) = gql_key(&app, PLATFORM_KEY, None, SEARCH, vars.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{body}");
        let (status, body) = gql_key(
            &app,
            PLATFORM_KEY,
            Some("not-a-tenant"),
            SEARCH,
            vars.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

        // REST: the same rules, another tenant reads nothing.
        let (status, body) = rest(&app, Some(&key_a), &[("q", "shared"), ("tenant_id", &ta)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sorted(rest_labels(&body)), only_a);
        let (status, body) = rest(&app, Some(&key_a), &[("q", "shared"), ("tenant_id", &tb)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"results": []}));
        let (_, body) = rest(
            &app,
            Some(PLATFORM_KEY),
            &[("q", "shared"), ("tenant_id", &tb)],
        )
        .await;
        assert_eq!(sorted(rest_labels(&body)), only_b);
        let (_, body) = rest(
            &app,
            Some(PLATFORM_KEY),
            &[("q", "shared"), ("tenant_id", "not-a-tenant")],
        )
        .await;
        assert_eq!(body, json!({"results": []}));
    }
);

on_every_backend!(
    keys_are_checked_on_every_request,
    env = [("INTEGRATION_KEY", PLATFORM_KEY)],
    |app| {
        let admin = app.admin("keys").await;
        location(&app, &admin, "Keyed Lobby", None).await;
        let tenant = tenant_id("keys");
        let (key, id) = tenant_key(&app, &admin).await;
        let vars = json!({"q": "keyed"});
        let (status, body) = gql_key(&app, &key, None, SEARCH, vars.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["search"][0]["name"], "Keyed Lobby", "{body}");
        let (status, _) = rest(&app, Some(&key), &[("q", "keyed"), ("tenant_id", &tenant)]).await;
        assert_eq!(status, StatusCode::OK);

        // Missing, wrong and malformed keys: 401, on both.
        for wrong in ["", "wrong", "ogi_not-a-key"] {
            let (status, body) = gql_key(&app, wrong, Some(&tenant), SEARCH, vars.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong:?}: {body}");
            assert_eq!(body["error"]["code"], "UNAUTHENTICATED", "{body}");
            let (status, body) =
                rest(&app, Some(wrong), &[("q", "keyed"), ("tenant_id", &tenant)]).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong:?}: {body}");
            assert_eq!(body["error"]["code"], "UNAUTHENTICATED", "{body}");
        }
        let (status, _) = rest(&app, None, &[("q", "keyed"), ("tenant_id", &tenant)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // A key and a bearer token together are one too many.
        let response = app
            .client
            .post(format!("{}/graphql", app.base))
            .header("X-Integration-Key", &key)
            .bearer_auth(&admin)
            .json(&json!({"query": SEARCH, "variables": vars}))
            .send()
            .await
            .expect("graphql");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        // Revoked: refused from the next request on.
        app.ok(
            &admin,
            "mutation($id: ID!) { revokeIntegrationKey(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
        let (status, body) = gql_key(&app, &key, None, SEARCH, vars.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let (status, body) =
            rest(&app, Some(&key), &[("q", "keyed"), ("tenant_id", &tenant)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
);

on_every_backend!(
    bad_input_is_refused,
    env = [("INTEGRATION_KEY", PLATFORM_KEY)],
    |app| {
        let admin = app.admin("bad").await;
        location(&app, &admin, "Lobby", None).await;
        let long = "x".repeat(101);
        for (q, first) in [
            ("lobby", 101),
            ("lobby", 0),
            ("lobby", -1),
            (long.as_str(), 20),
            ("   ", 20),
            ("", 20),
        ] {
            let body = app
                .gql(Some(&admin), SEARCH, json!({"q": q, "first": first}))
                .await;
            assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{q:?} {first}: {body}");
            assert!(body["data"]["search"].is_null(), "{body}");
        }
        // At the limits: fine.
        let hundred = "x".repeat(100);
        let data = app
            .ok(&admin, SEARCH, json!({"q": hundred, "first": 100}))
            .await;
        assert_eq!(data["search"], json!([]));
        // A control character is no text to search for.
        let body = app
            .gql(Some(&admin), SEARCH, json!({"q": "lob\u{7}by"}))
            .await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");

        let tenant = tenant_id("bad");
        for (query, field) in [
            (vec![("q", "lobby")], "tenant_id"),
            (vec![("tenant_id", tenant.as_str())], "q"),
            (vec![("q", ""), ("tenant_id", tenant.as_str())], "q"),
            (
                vec![("q", long.as_str()), ("tenant_id", tenant.as_str())],
                "query",
            ),
            (
                vec![
                    ("q", "lobby"),
                    ("tenant_id", tenant.as_str()),
                    ("limit", "101"),
                ],
                "limit",
            ),
            (
                vec![
                    ("q", "lobby"),
                    ("tenant_id", tenant.as_str()),
                    ("limit", "0"),
                ],
                "limit",
            ),
            (
                vec![
                    ("q", "lobby"),
                    ("tenant_id", tenant.as_str()),
                    ("limit", "x"),
                ],
                "limit",
            ),
        ] {
            let (status, body) = rest(&app, Some(PLATFORM_KEY), &query).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query:?}: {body}");
            assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{body}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(field), "{query:?}: {body}");
        }
        // A tenant key naming another tenant gets nothing, but a bad query is still bad.
        let (key, _) = tenant_key(&app, &admin).await;
        let other = tenant_id("bad-other");
        let (status, _) = rest(&app, Some(&key), &[("q", &long), ("tenant_id", &other)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
);

on_every_backend!(
    the_rest_answer_has_the_contract_shape,
    env = [("INTEGRATION_KEY", PLATFORM_KEY)],
    |app| {
        let admin = app.admin("shape").await;
        let lobby = location(&app, &admin, "Shape Lobby", Some("2 Shape Road")).await;
        let open = visit(&app, &admin, &lobby, "Shape Visitor", Some("Shape Co")).await;
        let left = visit(&app, &admin, &lobby, "Shape Leaver", None).await;
        app.ok(
            &admin,
            "mutation($v: ID!){ checkOutVisitor(visitId:$v){ id } }",
            json!({"v": left}),
        )
        .await;
        let tenant = tenant_id("shape");
        let (status, body) = rest(
            &app,
            Some(PLATFORM_KEY),
            &[("q", "shape"), ("tenant_id", &tenant)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let results = body["results"].as_array().expect("results");
        let by_id = |id: &str| {
            results
                .iter()
                .find(|r| r["id"] == id)
                .cloned()
                .unwrap_or_else(|| panic!("{id} in {body}"))
        };
        assert_eq!(
            by_id(&open),
            json!({"type": "visit", "id": open, "name": "Shape Visitor", "company": "Shape Co",
                   "status": "checked_in", "location": "Shape Lobby"})
        );
        assert_eq!(
            by_id(&left),
            json!({"type": "visit", "id": left, "name": "Shape Leaver", "company": null,
                   "status": "checked_out", "location": "Shape Lobby"})
        );
        assert_eq!(
            by_id(&lobby),
            json!({"type": "location", "id": lobby, "name": "Shape Lobby",
                   "address": "2 Shape Road", "location_type": "office"})
        );
        assert_eq!(results.len(), 3, "{body}");
        assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    }
);

on_every_backend!(
    an_integration_key_reads_the_search_answer_and_nothing_else,
    env = [("INTEGRATION_KEY", PLATFORM_KEY)],
    |app| {
        let admin = app.admin("integration-only").await;
        let lobby = location(&app, &admin, "Only Lobby", Some("3 Only Street")).await;
        let visit_id = visit(&app, &admin, &lobby, "Only Visitor", Some("Only Co")).await;
        let tenant = tenant_id("integration-only");
        let (key, _) = tenant_key(&app, &admin).await;

        // Everything the REST answer holds.
        let (status, body) = gql_key(&app, &key, None, SEARCH, json!({"q": "only"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        let results = body["data"]["search"].as_array().expect("list");
        assert!(
            results.contains(
                &json!({"__typename": "Visit", "id": visit_id, "status": "CHECKED_IN",
                "visitor": {"name": "Only Visitor", "company": "Only Co"},
                "location": {"name": "Only Lobby"}})
            ),
            "{body}"
        );
        assert!(
            results.contains(
                &json!({"__typename": "Location", "id": lobby, "name": "Only Lobby",
                "address": "3 Only Street", "type": "OFFICE"})
            ),
            "{body}"
        );

        // Anything more is FORBIDDEN where it stands; the rest is served.
        for (field, selection) in [
            ("checkedInAt", "... on Visit { id checkedInAt }"),
            ("purpose", "... on Visit { id purpose }"),
            ("host", "... on Visit { id host { name } }"),
            ("email", "... on Visit { id visitor { name email } }"),
            ("id", "... on Visit { visitor { id name } }"),
            ("timezone", "... on Location { id timezone }"),
            (
                "currentVisits",
                "... on Location { id currentVisits { id } }",
            ),
            ("kiosks", "... on Location { id kiosks { id } }"),
        ] {
            let query = format!("query($q: String!) {{ search(query: $q) {{ {selection} }} }}");
            for credential in [Some(key.as_str()), Some(PLATFORM_KEY)] {
                let (status, body) = gql_key(
                    &app,
                    credential.unwrap_or_default(),
                    Some(&tenant),
                    &query,
                    json!({"q": "only"}),
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{field}: {body}");
                let errors = body["errors"].as_array().cloned().unwrap_or_default();
                assert!(!errors.is_empty(), "{field}: {body}");
                for error in &errors {
                    assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{field}: {body}");
                    let path = error["path"].as_array().cloned().unwrap_or_default();
                    assert_eq!(path.last(), Some(&json!(field)), "{field}: {body}");
                    assert_eq!(path.first(), Some(&json!("search")), "{field}: {body}");
                    // A nullable field is there, as null; a non-null one is left out.
                    let pointer: String = path
                        .iter()
                        .map(|s| match s {
                            Value::String(s) => format!("/{s}"),
                            other => format!("/{other}"),
                        })
                        .collect();
                    let nullable = !matches!(field, "checkedInAt" | "id" | "timezone");
                    let expected = nullable.then_some(&Value::Null);
                    assert_eq!(body["data"].pointer(&pointer), expected, "{field}: {body}");
                }
                let text = body["data"].to_string();
                assert!(!text.contains("Europe") && !text.contains("UTC"), "{body}");
            }
        }

        // Every other root field: null and FORBIDDEN, and the search beside it is served.
        let (_, body) = gql_key(
            &app,
            &key,
            None,
            "query($q: String!) { me { kind } locations { id } search(query: $q) { __typename } }",
            json!({"q": "only"}),
        )
        .await;
        assert!(body["data"]["me"].is_null(), "{body}");
        assert!(body["data"]["locations"].is_null(), "{body}");
        assert_eq!(
            body["data"]["search"].as_array().map(Vec::len),
            Some(2),
            "{body}"
        );
        let codes: HashSet<&str> = body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["extensions"]["code"].as_str())
            .collect();
        assert_eq!(codes, HashSet::from(["FORBIDDEN"]), "{body}");
        // Introspection too.
        let (_, body) = gql_key(
            &app,
            &key,
            None,
            "{ __schema { queryType { name } } }",
            json!({}),
        )
        .await;
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");

        // Mutations are refused and nothing happens.
        let (_, body) = gql_key(
            &app,
            &key,
            None,
            "mutation { createLocation(input: {name: \"Sneaky\"}) { id } logout }",
            json!({}),
        )
        .await;
        assert!(
            body["data"].is_null() || body["data"]["createLocation"].is_null(),
            "{body}"
        );
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
        let locations = app.ok(&admin, "{ locations { name } }", json!({})).await;
        assert_eq!(locations["locations"], json!([{"name": "Only Lobby"}]));
        // A subscription is refused whole, over HTTP…
        let (_, body) = gql_key(
            &app,
            &key,
            None,
            "subscription { visitorCheckedIn { id } }",
            json!({}),
        )
        .await;
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
        // …and the WebSocket takes no integration key.
        let mut ws = crate::ws::connect(&app).await.expect("connect");
        crate::ws::send(
            &mut ws,
            json!({"type": "connection_init",
                   "payload": {"X-Integration-Key": key, "X-Tenant-Id": tenant}}),
        )
        .await
        .expect("send");
        assert_eq!(crate::ws::expect_close(&mut ws).await.expect("close"), 4403);
    }
);

/// Inserts `n` visitors named `Common Person <i>` of company `Common Corp`, each with one
/// visit at `location`, straight into the database (the walk's ranking needs more matches
/// than a test would check in one by one); the visits are an hour old and older.
async fn many(app: &TestApp, tenant: &str, location: &str, n: usize) {
    let db = Database::connect(&app.database_url).await.expect("db");
    let now = Utc::now() - Duration::hours(1);
    let mut visitors = Vec::new();
    let mut visits = Vec::new();
    for i in 0..n {
        let at = now - Duration::seconds(i as i64);
        let visitor = uuid::Uuid::new_v4().to_string();
        visitors.push(entities::visitors::ActiveModel {
            id: Set(visitor.clone()),
            tenant_id: Set(tenant.to_owned()),
            name: Set(format!("Common Person {i:04}")),
            email: Set(None),
            email_normalized: Set(None),
            phone: Set(None),
            company: Set(Some("Common Corp".into())),
            ai_risk_score: Set(None),
            ai_risk_notes: Set(None),
            anonymized_at: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        });
        visits.push(entities::visits::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            tenant_id: Set(tenant.to_owned()),
            visitor_id: Set(visitor),
            location_id: Set(location.to_owned()),
            host_id: Set(None),
            badge_id: Set(None),
            pre_registration_id: Set(None),
            kiosk_id: Set(None),
            status: Set(entities::visits::VisitStatus::CheckedOut),
            source: Set(entities::visits::CheckInSource::Staff),
            purpose: Set(None),
            checked_in_at: Set(at),
            checked_out_at: Set(Some(at)),
            checked_in_by: Set("staff:seed".into()),
        });
    }
    for chunk in visitors.chunks(200) {
        entities::visitors::Entity::insert_many(chunk.to_vec())
            .exec(&db)
            .await
            .expect("visitors");
    }
    for chunk in visits.chunks(200) {
        entities::visits::Entity::insert_many(chunk.to_vec())
            .exec(&db)
            .await
            .expect("visits");
    }
}

on_every_backend!(common_matches_rank_as_rare_ones_do, |app| {
    let admin = app.admin("common").await;
    let lobby = location(&app, &admin, "Lobby", None).await;
    // Older than every common one: an exact match on the company and a prefix of a name.
    many(&app, &tenant_id("common"), &lobby, 700).await;
    let exact = visit(&app, &admin, &lobby, "Zed", Some("common")).await;
    let newest = visit(&app, &admin, &lobby, "Uncommon Ursula", None).await;
    let data = app
        .ok(
            &admin,
            "query($q: String!, $f: Int!) { search(query: $q, first: $f) { \
             ... on Visit { id visitor { name } } } }",
            json!({"q": "common", "f": 100}),
        )
        .await;
    let results = data["search"].as_array().expect("list");
    assert_eq!(results.len(), 100);
    assert_eq!(results[0]["id"], exact.as_str(), "the exact match first");
    // Then the prefix matches, newest first: 0000 is the newest of them.
    let names: Vec<&str> = results[1..]
        .iter()
        .map(|r| r["visitor"]["name"].as_str().unwrap_or_default())
        .collect();
    let expected: Vec<String> = (0..99).map(|i| format!("Common Person {i:04}")).collect();
    assert_eq!(names, expected);
    // The substring match comes only after every prefix match.
    assert!(!results.iter().any(|r| r["id"] == newest.as_str()));
    let all = app
        .ok(
            &admin,
            "query($q: String!) { search(query: $q, first: 5) { ... on Visit { visitor { name } } } }",
            json!({"q": "person 069"}),
        )
        .await;
    let names: Vec<&str> = all["search"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["visitor"]["name"].as_str().unwrap_or_default())
        .collect();
    // Substrings, newest first: 0690 … 0694.
    assert_eq!(
        names,
        [
            "Common Person 0690",
            "Common Person 0691",
            "Common Person 0692",
            "Common Person 0693",
            "Common Person 0694"
        ]
    );
});

on_every_backend!(
    a_search_costs_the_same_statements_for_few_results_as_for_many,
    env = [("INTEGRATION_KEY", PLATFORM_KEY)],
    |app| {
        let admin = app.admin("counted").await;
        let lobby = location(&app, &admin, "Counted Lobby", None).await;
        let data = app
            .ok(
                &admin,
                "mutation($l: ID) { createHost(input: {name: \"Counted Host\", locationId: $l}) { id } }",
                json!({"l": lobby}),
            )
            .await;
        let host = data["createHost"]["id"].as_str().expect("host").to_owned();
        for i in 0..60 {
            app.ok(
                &admin,
                "mutation($l: ID!, $h: ID, $n: String!) { checkInVisitor(input: {locationId: $l, \
                 hostId: $h, visitor: {name: $n, company: \"Counted Co\"}}) { id } }",
                json!({"l": lobby, "h": host, "n": format!("Counted Visitor {i}")}),
            )
            .await;
        }
        let query = "query($q: String!, $f: Int!) { search(query: $q, first: $f) { \
                     ... on Visit { id status visitor { name company } location { name } host { name } } \
                     ... on Location { id name } } }";
        let tenant = tenant_id("counted");
        // The least of three tries: the outbox dispatcher's polls count too.
        let measure = |q: &'static str, first: usize| {
            let app = &app;
            let admin = &admin;
            async move {
                let mut least = u64::MAX;
                for _ in 0..3 {
                    let before = app.statements().await;
                    let data = app.ok(admin, query, json!({"q": q, "f": first})).await;
                    let after = app.statements().await;
                    let found = data["search"].as_array().map_or(0, Vec::len);
                    least = least.min(after - before);
                    assert!(found <= first, "{data}");
                }
                least
            }
        };
        // 2, 20 or 50 of the 60 prefix matches: the session lookup, the count of each class,
        // the prefix matches, the locations, and one batch of hosts for every visit.
        let mut costs = Vec::new();
        for first in [2, 20, 50] {
            costs.push(measure("counted", first).await);
        }
        assert!(costs.iter().all(|c| *c == costs[0]), "{costs:?}");
        assert_eq!(costs[0], 5, "{costs:?}");
        // A search that needs every class (an exact match, the prefixes, a substring) costs
        // one statement more per class, still not one per result: at most 7.
        visit(&app, &admin, &lobby, "Counted", None).await;
        visit(&app, &admin, &lobby, "Uncounted Ursula", None).await;
        assert_eq!(measure("counted", 100).await, 7);
        // REST with the platform key: no session; the counts, the prefixes and locations.
        let mut costs = Vec::new();
        for limit in ["2", "50"] {
            let mut least = u64::MAX;
            for _ in 0..3 {
                let before = app.statements().await;
                let (status, body) = rest(
                    &app,
                    Some(PLATFORM_KEY),
                    &[("q", "counted v"), ("tenant_id", &tenant), ("limit", limit)],
                )
                .await;
                let after = app.statements().await;
                assert_eq!(status, StatusCode::OK, "{body}");
                least = least.min(after - before);
            }
            costs.push(least);
        }
        assert_eq!(costs, [3, 3]);
    }
);
