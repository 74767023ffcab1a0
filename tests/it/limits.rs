// The query limits of CONTRACT section 3 against documents built to defeat them: fragments
// that expand exponentially or cyclically, aliases and brute-force fields hidden in
// fragments, and `first` over 100 that must stay `BAD_USER_INPUT`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// Well under what a blocked worker would take; generous for a debug build on a busy CI.
const QUICK: Duration = Duration::from_secs(2);

/// `query { ...F1 } fragment F1 on Query { ...F2 ...F2 } … fragment Fn on Query { <last> }`:
/// 2^(n-1) copies of `last` once expanded.
fn doubling_chain(n: usize, last: &str) -> String {
    let mut query = String::from("query { ...F1 }");
    for i in 1..n {
        query.push_str(&format!(
            " fragment F{i} on Query {{ ...F{next} ...F{next} }}",
            next = i + 1
        ));
    }
    query.push_str(&format!(" fragment F{n} on Query {{ {last} }}"));
    query
}

/// POSTs `query` anonymously and returns the body and how long the answer took.
async fn timed(app: &TestApp, query: &str) -> (Value, Duration) {
    let started = Instant::now();
    let body = app.gql(None, query, json!({})).await;
    (body, started.elapsed())
}

on_every_backend!(exponential_fragments_are_refused_quickly, |app| {
    let (body, took) = timed(&app, &doubling_chain(30, "__typename")).await;
    assert!(took < QUICK, "took {took:?}");
    assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");

    // The same over GET.
    let url = reqwest::Url::parse_with_params(
        &format!("{}/graphql", app.base),
        &[("query", doubling_chain(30, "__typename"))],
    )
    .expect("url");
    let started = Instant::now();
    let response = app.client.get(url).send().await.expect("get");
    let body: Value = response.json().await.expect("json");
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
    assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");

    // A short chain of the same shape is an ordinary query.
    let (body, _) = timed(&app, &doubling_chain(6, "__typename")).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
});

on_every_backend!(fragment_cycles_are_refused_quickly, |app| {
    for query in [
        "query { ...A } fragment A on Query { ...A ...A }".to_owned(),
        "query { ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }"
            .to_owned(),
        // The doubling chain closed into a loop.
        doubling_chain(30, "...F1"),
    ] {
        let (body, took) = timed(&app, &query).await;
        assert!(took < QUICK, "took {took:?}: {query}");
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("Fragment cycle")),
            "{body}"
        );
    }
});

on_every_backend!(a_long_linear_fragment_chain_is_too_deep, |app| {
    let mut query = String::from("query { ...F1 }");
    for i in 1..3_000 {
        query.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
    }
    query.push_str(" fragment F3000 on Query { __typename }");
    let (body, took) = timed(&app, &query).await;
    assert!(took < QUICK, "took {took:?}");
    assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
});

on_every_backend!(aliases_are_counted_through_fragments, |app| {
    // 16 aliases in a fragment spread twice (once through an inline fragment): 32.
    let aliases: String = (0..16).map(|i| format!("a{i}: __typename ")).collect();
    let query =
        format!("query {{ ...F ... on Query {{ ...F }} }} fragment F on Query {{ {aliases} }}");
    let body = app.gql(None, &query, json!({})).await;
    assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");

    // 31 aliases: 30 in a fragment and one beside it.
    let aliases: String = (0..30).map(|i| format!("a{i}: __typename ")).collect();
    let query = format!("query {{ x: __typename ...F }} fragment F on Query {{ {aliases} }}");
    let body = app.gql(None, &query, json!({})).await;
    assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");

    // 30 in all is allowed.
    let query = format!("query {{ ...F }} fragment F on Query {{ {aliases} }}");
    let body = app.gql(None, &query, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
});

on_every_backend!(brute_force_fields_hidden_in_fragments_are_refused, |app| {
    let admin = app.admin("acme").await;
    let location = app.create_location(&admin, "Lobby").await;
    let data = app
        .ok(
            &admin,
            "mutation($l: ID!){ createKioskPairingCode(locationId: $l){ code } }",
            json!({"l": location}),
        )
        .await;
    let code_value = data["createKioskPairingCode"]["code"]
        .as_str()
        .expect("pairing code")
        .to_owned();

    let pair = "pairKiosk(code: $c, name: \"Kiosk\") { token }";
    for query in [
        format!("mutation($c: String!) {{ ... on Mutation {{ a: {pair} }} b: {pair} }}"),
        format!("mutation($c: String!) {{ ... {{ a: {pair} }} ... {{ b: {pair} }} }}"),
        format!(
            "mutation($c: String!) {{ ...P b: {pair} }} fragment P on Mutation {{ a: {pair} }}"
        ),
        format!(
            "mutation($c: String!) {{ ...P ...Q }} fragment P on Mutation {{ a: {pair} }} \
             fragment Q on Mutation {{ ... on Mutation {{ b: {pair} }} }}"
        ),
    ] {
        let body = app.gql(None, &query, json!({"c": code_value})).await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{query}: {body}");
        assert!(body.get("data").is_none_or(Value::is_null), "{body}");
    }

    // Nothing ran: the pairing code still works, once, also through a fragment.
    let body = app
        .gql(
            None,
            &format!("mutation($c: String!) {{ ...P }} fragment P on Mutation {{ {pair} }}"),
            json!({"c": code_value}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["pairKiosk"]["token"].is_string(), "{body}");
});

on_every_backend!(graphiql_introspection_still_passes, |app| {
    let (body, took) = timed(&app, INTROSPECTION).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(took < QUICK, "took {took:?}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    assert!(
        body["data"]["__schema"]["types"]
            .as_array()
            .is_some_and(|types| types.len() > 20),
        "{body}"
    );
});

/// `{ visits(first: N) { edges { node { id ×47 } } } me { kind ×59 } }`: complexity
/// N × 49 + 1 + 60, within 5000 for N = 100 and over it for N = 101 if `first` were not
/// clamped to 100 in the complexity formula. (Introspection fields such as `__typename`
/// cost nothing.)
fn heavy_visits(first: i64) -> String {
    let ids = "id ".repeat(47);
    let kinds = "kind ".repeat(59);
    format!("{{ visits(first: {first}) {{ edges {{ node {{ {ids}}} }} }} me {{ {kinds}}} }}")
}

on_every_backend!(first_over_100_is_bad_user_input_not_too_complex, |app| {
    let token = app.staff_session("acme", &["visitor.visitors.view"]).await;

    let data = app.ok(&token, &heavy_visits(100), json!({})).await;
    assert_eq!(data["visits"]["edges"], json!([]), "{data}");

    for first in [101, 1000, 1_000_000] {
        let body = app.gql(Some(&token), &heavy_visits(first), json!({})).await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "first {first}: {body}");
        assert_eq!(body["errors"][0]["path"], json!(["visits"]), "{body}");
    }
});

on_every_backend!(
    other_operations_defaults_do_not_discount_the_one_that_runs,
    |app| {
        let token = app.staff_session("acme", &["visitor.visitors.view"]).await;
        let heavy = format!("edges {{ node {{ {} }} }}", "id ".repeat(47));
        let mut query = format!(
            "query A($n: Int = 100) {{ x: visits(first: $n) {{ {heavy} }} y: visits(first: $n) {{ {heavy} }} }}"
        );
        for i in 0..8 {
            query.push_str(&format!(
                " query B{i}($n: Int = 0) {{ hosts(first: $n) {{ totalCount }} }}"
            ));
        }
        for _ in 0..10 {
            let body = app
                .client
                .post(format!("{}/graphql", app.base))
                .bearer_auth(&token)
                .json(&json!({"query": query, "operationName": "A"}))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap();
            assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
        }
    }
);
