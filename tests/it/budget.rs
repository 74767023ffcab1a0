//! The response budget (`GRAPHQL_MAX_NODES`, `GRAPHQL_MAX_RESPONSE_BYTES`): lists charge
//! what they load, so a response whose lists hold more than the budget is refused whole with
//! `QUERY_TOO_COMPLEX`, over HTTP and per subscription event, whatever the complexity
//! estimate said; and the README's and the demo's operations pass it at its defaults.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::support::*;

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);

/// Asserts that `body` is the budget's refusal alone: no data, one `QUERY_TOO_COMPLEX`.
fn assert_refused(body: &Value) {
    assert_eq!(code(body), Some("QUERY_TOO_COMPLEX"), "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("too large"), "{body}");
}

/// Two locations with three open visits each.
async fn two_busy_locations(app: &TestApp, token: &str) -> [String; 2] {
    let a = app.create_location(token, "Lobby").await;
    let b = app.create_location(token, "Dock").await;
    for location in [&a, &b] {
        for n in 0..3 {
            app.check_in(token, location, &format!("Visitor {n}")).await;
        }
    }
    [a, b]
}

on_every_backend!(
    lists_past_the_node_budget_are_refused_whole,
    env = [("GRAPHQL_MAX_NODES", "5")],
    |app| {
        let token = app.admin("budget").await;
        two_busy_locations(&app, &token).await;

        // 2 locations and their 6 open visits: 8 items, over 5, though well within the
        // complexity estimate (20 locations × 50 visits).
        let body = app
            .gql(
                Some(&token),
                "{ locations { id currentVisits { id } } }",
                json!({}),
            )
            .await;
        assert_refused(&body);
        // The locations alone fit.
        let body = app.ok(&token, "{ locations { id } }", json!({})).await;
        assert_eq!(
            body["locations"].as_array().map(Vec::len),
            Some(2),
            "{body}"
        );

        // A connection's page is charged too: 6 visits are over, 5 fit.
        let body = app
            .gql(
                Some(&token),
                "{ visits(first: 20) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_refused(&body);
        let body = app
            .ok(
                &token,
                "{ visits(first: 5) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            body["visits"]["edges"].as_array().map(Vec::len),
            Some(5),
            "{body}"
        );

        // Nested lists add up: 4 visits, each with its visitor's 1 visit, are 8 items.
        let body = app
            .gql(
                Some(&token),
                "{ visits(first: 4) { edges { node { id visitor { visits { id } } } } } }",
                json!({}),
            )
            .await;
        assert_refused(&body);
    }
);

on_every_backend!(
    a_request_past_its_budget_stops_loading,
    env = [("GRAPHQL_MAX_NODES", "5")],
    |app| {
        let token = app.admin("budget-loading").await;
        two_busy_locations(&app, &token).await;
        // Statements of a request: the budget's refusal must come before the loads that the
        // refused lists' items would have asked for.
        async fn cost(app: &TestApp, token: &str, query: &str) -> (u64, Value) {
            let before = app.statements().await;
            let body = app.gql(Some(token), query, json!({})).await;
            (app.statements().await - before, body)
        }
        let (lists, body) = cost(&app, &token, "{ locations { id currentVisits { id } } }").await;
        assert_refused(&body);
        // The 2 locations fit; the batch of their 6 open visits overruns the 3 items left,
        // so the visits' visitors are never loaded.
        let (nested, body) = cost(
            &app,
            &token,
            "{ locations { id currentVisits { id visitor { name } } } }",
        )
        .await;
        assert_refused(&body);
        assert_eq!(
            nested, lists,
            "loads went on after the budget was spent: {nested} statements, {lists} without \
             the nested fields"
        );
    }
);

on_every_backend!(a_batch_of_lists_reads_no_more_than_it_may_hold, |app| {
    // The statement behind `Location.currentVisits` for every location of a request: given
    // room for 4 rows, it reads 4, not the 6 open visits there are.
    let token = app.admin("budget-rows").await;
    let locations = two_busy_locations(&app, &token).await;
    let principal = onegraph::auth::Principal {
        kind: onegraph::auth::PrincipalKind::Staff,
        tenant_id: tenant_id("budget-rows"),
        user_id: None,
        company_id: None,
        kiosk_id: None,
        location_id: None,
        permissions: Default::default(),
        credential_id: None,
        expires_at: None,
    };
    let scope =
        onegraph::services::shared::batch::TenantScope::new(&app.state.db, Some(&principal));
    let batch = onegraph::services::visitor::batch::current_visits_by_location;
    let all = batch(&scope, &locations, 100).await.expect("batch");
    assert_eq!(all.values().map(Vec::len).sum::<usize>(), 6);
    let capped = batch(&scope, &locations, 4).await.expect("batch");
    assert_eq!(capped.values().map(Vec::len).sum::<usize>(), 4);
});

on_every_backend!(
    lists_past_the_byte_budget_are_refused_whole,
    env = [("GRAPHQL_MAX_RESPONSE_BYTES", "4000")],
    |app| {
        let token = app.admin("budget-bytes").await;
        let location = app.create_location(&token, "Lobby").await;
        let purpose = "p".repeat(1000);
        for n in 0..4 {
            app.ok(
                &token,
                "mutation($l: ID!, $n: String!, $p: String) { checkInVisitor(input: \
                 {locationId: $l, purpose: $p, visitor: {name: $n}}) { id } }",
                json!({"l": location, "n": format!("Visitor {n}"), "p": purpose}),
            )
            .await;
        }
        // Four visits with 1,000-byte purposes each: over 4,000 bytes.
        let body = app
            .gql(
                Some(&token),
                "{ visits(first: 10) { edges { node { id purpose } } } }",
                json!({}),
            )
            .await;
        assert_refused(&body);
        // Two fit.
        let body = app
            .ok(
                &token,
                "{ visits(first: 2) { edges { node { id purpose } } } }",
                json!({}),
            )
            .await;
        assert_eq!(body["visits"]["edges"].as_array().map(Vec::len), Some(2));
    }
);

async fn next_message(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("the WebSocket is open")
            .expect("a frame");
        match frame {
            Message::Text(text) => {
                let message: Value = serde_json::from_str(text.as_str()).expect("JSON");
                if message["type"] != "ping" {
                    return message;
                }
            }
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string()))
        .await
        .expect("send");
}

on_every_backend!(
    each_subscription_event_has_its_own_budget,
    env = [
        ("GRAPHQL_MAX_NODES", "20000"),
        ("GRAPHQL_SUBSCRIPTION_MAX_NODES", "3")
    ],
    |app| {
        let token = app.admin("budget-live").await;
        let lobby = app.create_location(&token, "Lobby").await;
        let dock = app.create_location(&token, "Dock").await;

        let mut request = app.ws_url().into_client_request().expect("request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (mut ws, _) = connect_async(request).await.expect("connect");
        send(
            &mut ws,
            json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
        )
        .await;
        assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
        send(
            &mut ws,
            json!({"id": "1", "type": "subscribe", "payload": {"query":
                "subscription { visitorCheckedIn { id location { currentVisits { id } } } }"}}),
        )
        .await;
        send(&mut ws, json!({"type": "ping"})).await;
        assert_eq!(next_message(&mut ws).await["type"], "pong");

        // Events with 1, 2 and 3 open visits fit a budget of 3 each (not 6 together).
        for open in 1..=3 {
            app.check_in(&token, &lobby, &format!("Visitor {open}"))
                .await;
            let event = next_message(&mut ws).await;
            assert_eq!(event["type"], "next", "{event}");
            assert!(event["payload"].get("errors").is_none(), "{event}");
            let current =
                &event["payload"]["data"]["visitorCheckedIn"]["location"]["currentVisits"];
            assert_eq!(current.as_array().map(Vec::len), Some(open), "{event}");
        }
        // The fourth is over: that event is the refusal alone.
        app.check_in(&token, &lobby, "Visitor 4").await;
        let event = next_message(&mut ws).await;
        assert_eq!(event["type"], "next", "{event}");
        assert_refused(&event["payload"]);
        // The subscription goes on: an event that fits arrives whole.
        app.check_in(&token, &dock, "Visitor 5").await;
        let event = next_message(&mut ws).await;
        assert_eq!(event["type"], "next", "{event}");
        assert!(event["payload"].get("errors").is_none(), "{event}");
        let _ = ws.close(None).await;
    }
);

on_every_backend!(the_nested_list_attack_is_refused_at_once, |app| {
    let token = app.admin("budget-attack").await;
    two_busy_locations(&app, &token).await;
    // The shape of the issue: lists nested in lists, each small in the estimate's eyes
    // before it multiplied, some 10^8 objects at the lists' real sizes.
    let query = "{ locations { currentVisits { visitor { visits { location { currentVisits \
                 { visitor { visits { location { currentVisits { id } } } } } } } } } } }";
    let started = std::time::Instant::now();
    let body = app.gql(Some(&token), query, json!({})).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");
});

/// Lists that need not charge the budget: bounded by something other than data.
const UNCHARGED_LISTS: &[&str] = &[
    // `me.permissions`: the caller's own permissions, a few dozen names at most.
    "permissions",
];

/// Every resolver in `src/graphql` that returns a list or a connection charges the budget
/// (`budget::charge`, or `connection::from_page`, which charges the page): read from the
/// source, so that a new list field without its charge fails here.
#[test]
fn every_list_resolver_charges_the_budget() {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src/graphql") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    files(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/graphql"),
        &mut paths,
    );
    let mut checked = 0;
    let mut missing = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("read");
        let starts: Vec<usize> = text.match_indices("async fn ").map(|(i, _)| i).collect();
        for (n, &start) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(text.len());
            let body = &text[start..end];
            let signature = &body[..body.find('{').unwrap_or(body.len())];
            let Some(output) = signature.split("->").nth(1) else {
                continue;
            };
            if !(output.contains("Vec<") || output.contains("Connection<")) {
                continue;
            }
            let name = signature["async fn ".len()..]
                .split(['(', '<'])
                .next()
                .unwrap_or_default()
                .trim();
            if UNCHARGED_LISTS.contains(&name) {
                continue;
            }
            checked += 1;
            if !(body.contains("budget::charge") || body.contains("connection::from_page(")) {
                missing.push(format!("{}: {name}", path.display()));
            }
        }
    }
    assert!(checked >= 10, "only {checked} list resolvers found");
    assert!(
        missing.is_empty(),
        "list resolvers that do not charge the response budget: {missing:?}"
    );
}

on_every_backend!(
    a_mutation_over_the_budget_keeps_its_data,
    env = [("GRAPHQL_MAX_NODES", "2")],
    |app| {
        let token = app.admin("budget-mutation").await;
        let location = app.create_location(&token, "Lobby").await;
        app.check_in(&token, &location, "First").await;
        app.check_in(&token, &location, "Second").await;
        // The check-in is made before its payload's list overflows: the answer says so, with
        // the list that did not fit null, so that nobody retries a check-in that happened.
        let body = app
            .gql(
                Some(&token),
                "mutation($l: ID!) { checkInVisitor(input: {locationId: $l, visitor: \
                 {name: \"Third\"}}) { id location { currentVisits { id } } } }",
                json!({"l": location}),
            )
            .await;
        assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
        let visit = &body["data"]["checkInVisitor"];
        assert!(visit["id"].is_string(), "{body}");
        assert!(visit["location"]["currentVisits"].is_null(), "{body}");
        let open = app
            .ok(&token, "{ visits(first: 2) { totalCount } }", json!({}))
            .await;
        assert_eq!(open["visits"]["totalCount"], 3, "{open}");
    }
);

on_every_backend!(a_subscription_selects_one_root_field, |app| {
    let token = app.admin("budget-roots").await;
    let mut request = app.ws_url().into_client_request().expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = connect_async(request).await.expect("connect");
    send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
    // Two aliased roots would resolve one event twice over against one budget.
    for query in [
        "subscription { a: visitorCheckedIn { id } b: visitorCheckedIn { id } }",
        "subscription { ...F } fragment F on Subscription { a: visitorCheckedIn { id } b: visitorCheckedOut { id } }",
    ] {
        send(
            &mut ws,
            json!({"id": "1", "type": "subscribe", "payload": {"query": query}}),
        )
        .await;
        let answer = next_message(&mut ws).await;
        assert_eq!(answer["type"], "error", "{answer}");
        assert_eq!(
            answer["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{answer}"
        );
    }
    let _ = ws.close(None).await;
});

on_every_backend!(a_cursor_with_a_control_character_is_bad_input, |app| {
    use base64::Engine;
    let token = app.admin("budget-cursor").await;
    let after =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("1700000000000000\u{1f}\u{0}");
    let body = app
        .gql(
            Some(&token),
            "query($a: String) { visits(after: $a) { totalCount } }",
            json!({"a": after}),
        )
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
});
