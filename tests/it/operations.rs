//! The GraphQL documents in `schema/operations/` (the operations the README and
//! `serve --demo` show, which `graphql.config.yml` gives to editors) run against a real
//! server: every query and mutation answers without errors, and every subscription is
//! accepted over `graphql-transport-ws` and delivers a check-in. A document that names a
//! field the schema does not have fails here.

use std::{path::PathBuf, time::Duration};

use async_graphql::parser::types::{DocumentOperations, OperationType};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::support::TestApp;

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/operations");

const TENANT: &str = "operations";
/// The Portal client admin's company, as in `serve --demo`.
const COMPANY: &str = "DEMO-COMPANY-1";

/// The operations a Portal client admin runs; the staff admin (every Visitor permission)
/// runs every other one.
const CLIENT_ADMIN_OPERATIONS: &[&str] = &["Open", "Mine"];

/// The variables (JSON) of each operation that declares any, by operation name.
const VARIABLES: &[(&str, &str)] = &[];

/// How long a WebSocket message that should come may take.
const WAIT: Duration = Duration::from_secs(5);

/// One document of `schema/operations/`.
struct Operation {
    file: PathBuf,
    name: String,
    ty: OperationType,
    text: String,
}

/// Every `.graphql` file of `schema/operations/`, parsed: mutations first (so the queries
/// see what they made), then queries, then subscriptions, each by name.
fn operations() -> Vec<Operation> {
    let mut operations: Vec<Operation> = std::fs::read_dir(DIR)
        .unwrap_or_else(|e| panic!("cannot read {DIR}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|x| x == "graphql"))
        .map(|file| {
            let text = std::fs::read_to_string(&file).expect("read the document");
            let document = async_graphql::parser::parse_query(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
            let DocumentOperations::Multiple(named) = document.operations else {
                panic!("{}: give the operation a name", file.display());
            };
            assert_eq!(named.len(), 1, "{}: one operation per file", file.display());
            let (name, operation) = named.into_iter().next().expect("one operation");
            let name = name.to_string();
            assert_eq!(
                file.file_stem().and_then(|s| s.to_str()),
                Some(name.as_str()),
                "{}: name the file after its operation",
                file.display()
            );
            assert!(
                operation.node.variable_definitions.is_empty()
                    || VARIABLES.iter().any(|(op, _)| *op == name),
                "{}: operation {name} declares variables; give them in VARIABLES",
                file.display()
            );
            Operation {
                file,
                name,
                ty: operation.node.ty,
                text,
            }
        })
        .collect();
    let rank = |ty: OperationType| match ty {
        OperationType::Mutation => 0,
        OperationType::Query => 1,
        OperationType::Subscription => 2,
    };
    operations.sort_by(|a, b| (rank(a.ty), &a.name).cmp(&(rank(b.ty), &b.name)));
    operations
}

fn variables(name: &str) -> Value {
    VARIABLES
        .iter()
        .find(|(op, _)| *op == name)
        .map(|(_, json)| serde_json::from_str(json).expect("VARIABLES holds JSON"))
        .unwrap_or_else(|| json!({}))
}

/// The next `graphql-transport-ws` message other than a ping from the server, within
/// [`WAIT`].
async fn next_message(ws: &mut Ws, what: &str) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap_or_else(|_| panic!("{what}: no message in time"))
            .unwrap_or_else(|| panic!("{what}: the WebSocket ended"))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        match frame {
            Message::Text(text) => {
                let message: Value = serde_json::from_str(text.as_str()).expect("JSON message");
                if message["type"] != "ping" {
                    return message;
                }
            }
            Message::Close(frame) => panic!("{what}: the server closed the WebSocket: {frame:?}"),
            _ => {}
        }
    }
}

async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string()))
        .await
        .expect("send a WebSocket message");
}

/// Opens `operation` (a subscription) over `graphql-transport-ws` as `token`, checks that
/// the server accepts it, then checks a visitor in and expects the event with no errors.
async fn subscribe(app: &TestApp, token: &str, location: &str, operation: &Operation) {
    let what = format!("{} ({})", operation.name, operation.file.display());
    let mut request = app
        .ws_url()
        .into_client_request()
        .expect("WebSocket request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = connect_async(request).await.expect("WebSocket connect");
    send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    let ack = next_message(&mut ws, &what).await;
    assert_eq!(ack["type"], "connection_ack", "{what}: {ack}");
    send(
        &mut ws,
        json!({"id": "1", "type": "subscribe", "payload": {
            "query": operation.text,
            "operationName": operation.name,
            "variables": variables(&operation.name),
        }}),
    )
    .await;
    // The server answers a ping after it has processed the subscribe message, so an
    // invalid document's `error` message comes before the pong.
    send(&mut ws, json!({"type": "ping"})).await;
    let pong = next_message(&mut ws, &what).await;
    assert_eq!(
        pong["type"], "pong",
        "{what}: the server did not accept the subscription: {pong}"
    );

    app.check_in(token, location, "Subscription Visitor").await;
    let event = next_message(&mut ws, &what).await;
    assert_eq!(event["type"], "next", "{what}: {event}");
    assert_eq!(event["id"], "1", "{what}: {event}");
    assert!(event["payload"].get("errors").is_none(), "{what}: {event}");
    let data = &event["payload"]["data"];
    assert!(
        data.as_object()
            .is_some_and(|fields| !fields.is_empty() && fields.values().all(|v| !v.is_null())),
        "{what}: {event}"
    );
    let _ = ws.close(None).await;
}

#[tokio::test]
async fn every_document_runs_against_the_schema() {
    let operations = operations();
    assert!(!operations.is_empty(), "no .graphql documents in {DIR}");

    let app = TestApp::spawn().await;
    let staff = app.admin(TENANT).await;
    let client = app
        .client_session(TENANT, COMPANY, "client@example.com", true)
        .await;
    // A location with a host and an open visit, so the queries' nested fields resolve.
    let location = app.create_location(&staff, "Reception").await;
    let host = app
        .ok(
            &staff,
            "mutation($l: ID!){ createHost(input:{name:\"Hank Host\", locationId:$l}){ id } }",
            json!({"l": location}),
        )
        .await["createHost"]["id"]
        .as_str()
        .expect("host id")
        .to_owned();
    app.ok(
        &staff,
        "mutation($l: ID!, $h: ID!){ checkInVisitor(input:{locationId:$l, hostId:$h, \
         visitor:{name:\"Grace Hopper\", company:\"Navy\"}}){ id } }",
        json!({"l": location, "h": host}),
    )
    .await;

    for operation in &operations {
        let token = if CLIENT_ADMIN_OPERATIONS.contains(&operation.name.as_str()) {
            &client
        } else {
            &staff
        };
        if operation.ty == OperationType::Subscription {
            subscribe(&app, token, &location, operation).await;
            continue;
        }
        let response = app
            .client
            .post(format!("{}/graphql", app.base))
            .bearer_auth(token)
            .json(&json!({
                "query": operation.text,
                "operationName": operation.name,
                "variables": variables(&operation.name),
            }))
            .send()
            .await
            .expect("graphql request");
        let body: Value = response.json().await.expect("graphql json");
        let what = format!("{} ({})", operation.name, operation.file.display());
        assert!(body.get("errors").is_none(), "{what}: {body}");
        assert!(
            body["data"]
                .as_object()
                .is_some_and(|fields| !fields.is_empty() && fields.values().all(|v| !v.is_null())),
            "{what}: {body}"
        );
    }
}

/// The queries of `schema/operations/` on the data `serve --demo` seeds, as the demo's
/// sessions, within the default response budget (`GRAPHQL_MAX_NODES`,
/// `GRAPHQL_MAX_RESPONSE_BYTES`) and the other limits: none is refused.
#[tokio::test]
async fn every_query_passes_the_default_budget_on_the_demo_data() {
    let app = TestApp::spawn().await;
    let sessions = onegraph::cli::demo::seed(&app.state)
        .await
        .expect("seed the demo");
    let mut ran = 0;
    for operation in operations() {
        if operation.ty != OperationType::Query {
            continue;
        }
        let token = if CLIENT_ADMIN_OPERATIONS.contains(&operation.name.as_str()) {
            &sessions.client.token
        } else {
            &sessions.staff.token
        };
        let body = app.gql(Some(token), &operation.text, json!({})).await;
        let what = format!("{} ({})", operation.name, operation.file.display());
        assert!(body.get("errors").is_none(), "{what}: {body}");
        ran += 1;
    }
    assert!(ran >= 3, "only {ran} queries in {DIR}");
}
