// The `graphql-transport-ws` protocol on `/graphql`: close codes, the operation limit,
// ping/pong, and delivery of check-in events to the right subscribers only.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::support::TestApp;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub(crate) type TestResult = Result<(), Box<dyn std::error::Error>>;

/// How long a message that should come may take.
pub(crate) const WAIT: Duration = Duration::from_secs(5);
/// How long to watch for a message that should not come.
const QUIET: Duration = Duration::from_millis(500);

const VIEW: &str = "visitor.visitors.view";
const CHECKIN: &str = "visitor.visitors.checkin";

const CHECKED_IN: &str =
    "subscription($l: ID){ visitorCheckedIn(locationId: $l){ id visitor{ name } location{ id } } }";
const CHECK_IN: &str = r#"mutation($l: ID!){ checkInVisitor(input:{locationId:$l, visitor:{name:"Grace Hopper"}}){ id } }"#;

/// What the server sent: a protocol message, or a close frame's code and reason.
#[derive(Debug)]
pub(crate) enum Received {
    Json(Value),
    Closed(Option<u16>, String),
}

pub(crate) async fn connect_with(
    app: &TestApp,
    subprotocol: bool,
) -> Result<Ws, Box<dyn std::error::Error>> {
    let mut request = app.ws_url().into_client_request()?;
    if subprotocol {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
    }
    let (ws, response) = connect_async(request).await?;
    if subprotocol {
        assert_eq!(
            response
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
    }
    Ok(ws)
}

pub(crate) async fn connect(app: &TestApp) -> Result<Ws, Box<dyn std::error::Error>> {
    connect_with(app, true).await
}

pub(crate) async fn send(ws: &mut Ws, message: Value) -> TestResult {
    ws.send(Message::text(message.to_string())).await?;
    Ok(())
}

/// The next protocol message or close frame, skipping WebSocket pings and pongs.
pub(crate) async fn recv_within(
    ws: &mut Ws,
    within: Duration,
) -> Result<Option<Received>, Box<dyn std::error::Error>> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let Ok(next) = tokio::time::timeout_at(deadline, ws.next()).await else {
            return Ok(None);
        };
        match next {
            None => return Ok(Some(Received::Closed(None, "stream ended".into()))),
            Some(Err(err)) => return Ok(Some(Received::Closed(None, err.to_string()))),
            Some(Ok(Message::Text(text))) => {
                return Ok(Some(Received::Json(serde_json::from_str(text.as_str())?)));
            }
            Some(Ok(Message::Close(frame))) => {
                return Ok(Some(match frame {
                    Some(frame) => {
                        Received::Closed(Some(u16::from(frame.code)), frame.reason.to_string())
                    }
                    None => Received::Closed(None, String::new()),
                }));
            }
            Some(Ok(Message::Binary(_))) => return Err("unexpected binary frame".into()),
            Some(Ok(_)) => {}
        }
    }
}

/// The next protocol message, which must come within [`WAIT`].
pub(crate) async fn recv(ws: &mut Ws) -> Result<Value, Box<dyn std::error::Error>> {
    match recv_within(ws, WAIT).await? {
        Some(Received::Json(value)) => Ok(value),
        other => Err(format!("expected a message, got {other:?}").into()),
    }
}

/// The close code and reason the server closes with, within [`WAIT`], with no message
/// before it.
pub(crate) async fn expect_close_frame(
    ws: &mut Ws,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    match recv_within(ws, WAIT).await? {
        Some(Received::Closed(Some(code), reason)) => Ok((code, reason)),
        other => Err(format!("expected a close frame, got {other:?}").into()),
    }
}

/// The close code the server closes with, within [`WAIT`], with no message before it.
pub(crate) async fn expect_close(ws: &mut Ws) -> Result<u16, Box<dyn std::error::Error>> {
    Ok(expect_close_frame(ws).await?.0)
}

/// Asserts that no protocol message or close comes within [`QUIET`].
pub(crate) async fn expect_quiet(ws: &mut Ws) -> TestResult {
    match recv_within(ws, QUIET).await? {
        None => Ok(()),
        Some(other) => Err(format!("expected nothing, got {other:?}").into()),
    }
}

/// `connection_init` with `token`, expecting `connection_ack`.
pub(crate) async fn init(ws: &mut Ws, token: &str) -> TestResult {
    send(
        ws,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await?;
    let ack = recv(ws).await?;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    Ok(())
}

/// Connects and initialises as `token`.
pub(crate) async fn connect_as(
    app: &TestApp,
    token: &str,
) -> Result<Ws, Box<dyn std::error::Error>> {
    let mut ws = connect(app).await?;
    init(&mut ws, token).await?;
    Ok(ws)
}

pub(crate) async fn subscribe(ws: &mut Ws, id: &str, query: &str, variables: Value) -> TestResult {
    send(
        ws,
        json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}),
    )
    .await
}

/// Subscribes to check-ins at `location` and gives the server a moment to set it up.
async fn subscribe_check_ins(ws: &mut Ws, id: &str, location: &str) -> TestResult {
    subscribe(ws, id, CHECKED_IN, json!({"l": location})).await?;
    // The subscription starts when the server processes the message; a ping round trip
    // ensures that happened before anything is published.
    ping_pong(ws).await
}

pub(crate) async fn ping_pong(ws: &mut Ws) -> TestResult {
    send(ws, json!({"type": "ping"})).await?;
    let pong = recv(ws).await?;
    assert_eq!(pong["type"], "pong", "{pong}");
    Ok(())
}

async fn check_in(app: &TestApp, token: &str, location: &str) -> TestResult {
    let body = app.gql(Some(token), CHECK_IN, json!({"l": location})).await;
    assert!(body.get("errors").is_none(), "check-in failed: {body}");
    assert!(body["data"]["checkInVisitor"]["id"].is_string(), "{body}");
    Ok(())
}

on_every_backend!(
    refuses_clients_without_the_subprotocol,
    |app| -> TestResult {
        let mut ws = connect_with(&app, false).await?;
        let (code, reason) = expect_close_frame(&mut ws).await?;
        assert_eq!(
            (code, reason.as_str()),
            (4406, "Subprotocol not acceptable")
        );
        Ok(())
    }
);

on_every_backend!(
    closes_when_connection_init_does_not_come,
    env = [("WS_INIT_TIMEOUT", "300ms")],
    |app| -> TestResult {
        let mut ws = connect(&app).await?;
        assert_eq!(expect_close(&mut ws).await?, 4408);
        Ok(())
    }
);

on_every_backend!(subscribe_before_init_is_unauthorized, |app| -> TestResult {
    let mut ws = connect(&app).await?;
    subscribe(&mut ws, "1", "{ __typename }", json!({})).await?;
    assert_eq!(expect_close(&mut ws).await?, 4401);
    Ok(())
});

on_every_backend!(bad_token_in_init_is_forbidden, |app| -> TestResult {
    let mut ws = connect(&app).await?;
    send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"Authorization": "Bearer not-a-token"}}),
    )
    .await?;
    assert_eq!(expect_close(&mut ws).await?, 4403);

    // No token and no cookie is refused too.
    let mut ws = connect(&app).await?;
    send(&mut ws, json!({"type": "connection_init"})).await?;
    assert_eq!(expect_close(&mut ws).await?, 4403);
    Ok(())
});

on_every_backend!(second_connection_init_is_refused, |app| -> TestResult {
    let token = app.staff_session("t1", &[VIEW]).await;
    let mut ws = connect_as(&app, &token).await?;
    send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}),
    )
    .await?;
    assert_eq!(expect_close(&mut ws).await?, 4429);
    Ok(())
});

on_every_backend!(invalid_messages_close_with_4400, |app| -> TestResult {
    let token = app.staff_session("t1", &[VIEW]).await;

    let mut ws = connect(&app).await?;
    ws.send(Message::text("{not json")).await?;
    assert_eq!(expect_close(&mut ws).await?, 4400);

    let mut ws = connect_as(&app, &token).await?;
    send(&mut ws, json!({"type": "no_such_type"})).await?;
    assert_eq!(expect_close(&mut ws).await?, 4400);

    let mut ws = connect_as(&app, &token).await?;
    send(
        &mut ws,
        json!({"type": "subscribe", "payload": {"query": "{ __typename }"}}),
    )
    .await?;
    assert_eq!(
        expect_close(&mut ws).await?,
        4400,
        "subscribe without an id"
    );

    let mut ws = connect_as(&app, &token).await?;
    send(
        &mut ws,
        json!({"id": "1", "type": "subscribe", "payload": {"query": 42}}),
    )
    .await?;
    assert_eq!(
        expect_close(&mut ws).await?,
        4400,
        "query that is not a string"
    );

    let mut ws = connect_as(&app, &token).await?;
    ws.send(Message::binary(b"{}".to_vec())).await?;
    assert_eq!(expect_close(&mut ws).await?, 4400, "binary frame");
    Ok(())
});

on_every_backend!(
    duplicate_operation_id_closes_with_4409,
    |app| -> TestResult {
        let admin = app
            .staff_session("t1", &[VIEW, CHECKIN, "visitor.locations.manage"])
            .await;
        let location = app.create_location(&admin, "Front desk").await;
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut ws = connect_as(&app, &token).await?;
        subscribe_check_ins(&mut ws, "1", &location).await?;
        subscribe(&mut ws, "1", CHECKED_IN, json!({"l": location})).await?;
        let (code, reason) = expect_close_frame(&mut ws).await?;
        assert_eq!(
            (code, reason.as_str()),
            (4409, "Subscriber for 1 already exists")
        );
        Ok(())
    }
);

on_every_backend!(ping_gets_pong, |app| -> TestResult {
    let token = app.staff_session("t1", &[VIEW]).await;
    let mut ws = connect_as(&app, &token).await?;
    send(&mut ws, json!({"type": "ping", "payload": {"n": 1}})).await?;
    let pong = recv(&mut ws).await?;
    assert_eq!(pong, json!({"type": "pong", "payload": {"n": 1}}));
    // An unsolicited pong is ignored.
    send(&mut ws, json!({"type": "pong"})).await?;
    ping_pong(&mut ws).await
});

on_every_backend!(
    operations_past_the_limit_are_rate_limited,
    env = [("WS_MAX_OPERATIONS", "2")],
    |app| -> TestResult {
        let admin = app
            .staff_session("t1", &[VIEW, CHECKIN, "visitor.locations.manage"])
            .await;
        let location = app.create_location(&admin, "Front desk").await;
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut ws = connect_as(&app, &token).await?;
        subscribe_check_ins(&mut ws, "1", &location).await?;
        subscribe_check_ins(&mut ws, "2", &location).await?;
        subscribe(&mut ws, "3", CHECKED_IN, json!({"l": location})).await?;
        let error = recv(&mut ws).await?;
        assert_eq!(error["id"], "3", "{error}");
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(
            error["payload"][0]["extensions"]["code"], "RATE_LIMITED",
            "{error}"
        );
        // The connection stays open.
        ping_pong(&mut ws).await?;

        // Completing one frees a slot.
        send(&mut ws, json!({"id": "1", "type": "complete"})).await?;
        subscribe_check_ins(&mut ws, "3", &location).await
    }
);

on_every_backend!(
    subscription_without_permission_gets_forbidden_error,
    |app| -> TestResult {
        let token = app.staff_session("t1", &[CHECKIN]).await;
        let mut ws = connect_as(&app, &token).await?;
        subscribe(&mut ws, "1", CHECKED_IN, json!({})).await?;
        let error = recv(&mut ws).await?;
        assert_eq!(error["id"], "1", "{error}");
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(
            error["payload"][0]["extensions"]["code"], "FORBIDDEN",
            "{error}"
        );
        // No `complete` follows an `error`, and the connection stays open.
        ping_pong(&mut ws).await
    }
);

on_every_backend!(
    request_errors_and_queries_over_the_socket,
    |app| -> TestResult {
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut ws = connect_as(&app, &token).await?;

        subscribe(&mut ws, "bad", "subscription { noSuchField }", json!({})).await?;
        let error = recv(&mut ws).await?;
        assert_eq!(error["id"], "bad", "{error}");
        assert_eq!(error["type"], "error", "{error}");
        assert!(error["payload"][0]["message"].is_string(), "{error}");

        subscribe(&mut ws, "q", "{ __typename }", json!({})).await?;
        let next = recv(&mut ws).await?;
        assert_eq!(next["id"], "q", "{next}");
        assert_eq!(next["type"], "next", "{next}");
        assert_eq!(next["payload"]["data"]["__typename"], "Query", "{next}");
        let complete = recv(&mut ws).await?;
        assert_eq!(complete, json!({"id": "q", "type": "complete"}));
        Ok(())
    }
);

on_every_backend!(
    check_ins_reach_only_matching_subscribers,
    |app| -> TestResult {
        let admin = app
            .staff_session("t1", &[VIEW, CHECKIN, "visitor.locations.manage"])
            .await;
        let location_a = app.create_location(&admin, "Front desk").await;
        let location_b = app.create_location(&admin, "Loading dock").await;

        let subscriber = app.staff_session("t1", &[VIEW]).await;
        let mut at_a = connect_as(&app, &subscriber).await?;
        subscribe_check_ins(&mut at_a, "a", &location_a).await?;
        let mut at_b = connect_as(&app, &subscriber).await?;
        subscribe_check_ins(&mut at_b, "b", &location_b).await?;

        let other_tenant = app.staff_session("t2", &[VIEW]).await;
        let mut other = connect_as(&app, &other_tenant).await?;
        subscribe_check_ins(&mut other, "o", &location_a).await?;

        check_in(&app, &admin, &location_a).await?;

        let next = recv(&mut at_a).await?;
        assert_eq!(next["id"], "a", "{next}");
        assert_eq!(next["type"], "next", "{next}");
        let visit = &next["payload"]["data"]["visitorCheckedIn"];
        assert!(visit["id"].is_string(), "{next}");
        assert_eq!(visit["visitor"]["name"], "Grace Hopper", "{next}");
        assert_eq!(visit["location"]["id"], location_a.as_str(), "{next}");

        expect_quiet(&mut at_b).await?;
        expect_quiet(&mut other).await?;
        Ok(())
    }
);

on_every_backend!(logout_closes_the_subscribers_socket, |app| -> TestResult {
    let admin = app
        .staff_session("t1", &[VIEW, CHECKIN, "visitor.locations.manage"])
        .await;
    let location = app.create_location(&admin, "Front desk").await;
    let token = app.staff_session("t1", &[VIEW]).await;
    let mut ws = connect_as(&app, &token).await?;
    subscribe_check_ins(&mut ws, "1", &location).await?;

    let body = app
        .gql(Some(&token), "mutation { logout }", json!({}))
        .await;
    assert!(body.get("errors").is_none(), "logout failed: {body}");
    assert_eq!(expect_close(&mut ws).await?, 4403);

    // Another session of the same tenant is unaffected.
    let mut still = connect_as(&app, &admin).await?;
    ping_pong(&mut still).await
});

on_every_backend!(
    complete_from_the_client_stops_the_stream,
    |app| -> TestResult {
        let admin = app
            .staff_session("t1", &[VIEW, CHECKIN, "visitor.locations.manage"])
            .await;
        let location = app.create_location(&admin, "Front desk").await;
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut ws = connect_as(&app, &token).await?;
        subscribe_check_ins(&mut ws, "1", &location).await?;

        check_in(&app, &admin, &location).await?;
        let next = recv(&mut ws).await?;
        assert_eq!(
            (&next["id"], &next["type"]),
            (&json!("1"), &json!("next")),
            "{next}"
        );

        send(&mut ws, json!({"id": "1", "type": "complete"})).await?;
        ping_pong(&mut ws).await?;
        check_in(&app, &admin, &location).await?;
        expect_quiet(&mut ws).await?;

        // The id can be used again once completed.
        subscribe_check_ins(&mut ws, "1", &location).await?;
        check_in(&app, &admin, &location).await?;
        let next = recv(&mut ws).await?;
        assert_eq!(
            (&next["id"], &next["type"]),
            (&json!("1"), &json!("next")),
            "{next}"
        );
        Ok(())
    }
);

/// Pairs a kiosk at `location` (admin with visitor.admin.kiosk); returns its id and token.
async fn pair_kiosk(
    app: &TestApp,
    admin: &str,
    location: &str,
) -> Result<(String, String), Box<dyn std::error::Error>> {
    let data = app
        .ok(
            admin,
            "mutation($l: ID!){ createKioskPairingCode(locationId:$l){ code } }",
            json!({"l": location}),
        )
        .await;
    let code = data["createKioskPairingCode"]["code"]
        .as_str()
        .ok_or("no pairing code")?;
    let body = app
        .gql(
            None,
            "mutation($c: String!){ pairKiosk(code:$c, name:\"Lobby\"){ token kiosk { id } } }",
            json!({"c": code}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let kiosk = &body["data"]["pairKiosk"];
    Ok((
        kiosk["kiosk"]["id"]
            .as_str()
            .ok_or("no kiosk id")?
            .to_owned(),
        kiosk["token"].as_str().ok_or("no kiosk token")?.to_owned(),
    ))
}

/// Marks the session of `token` revoked in the database without telling the running
/// server, as a replica without the event (or a connection that missed it) would see it.
async fn revoke_behind_the_servers_back(app: &TestApp, token: &str) -> TestResult {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let db = sea_orm::Database::connect(&app.database_url).await?;
    let revoked = entities::sessions::Entity::update_many()
        .col_expr(
            entities::sessions::Column::RevokedAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(entities::sessions::Column::TokenHash.eq(onegraph::auth::tokens::digest(token)))
        .exec(&db)
        .await?;
    assert_eq!(revoked.rows_affected, 1);
    db.close().await?;
    Ok(())
}

on_every_backend!(revoking_a_kiosk_closes_its_socket, |app| -> TestResult {
    let admin = app.admin("t1").await;
    let location = app.create_location(&admin, "Lobby").await;
    let (kiosk_id, kiosk_token) = pair_kiosk(&app, &admin, &location).await?;
    let (_, other_kiosk) = pair_kiosk(&app, &admin, &location).await?;

    // A kiosk can open a socket and run queries on it...
    let mut ws = connect_as(&app, &kiosk_token).await?;
    subscribe(&mut ws, "q", "{ locations { id } }", json!({})).await?;
    let next = recv(&mut ws).await?;
    assert_eq!(
        (&next["id"], &next["type"]),
        (&json!("q"), &json!("next")),
        "{next}"
    );
    assert_eq!(
        next["payload"]["data"]["locations"][0]["id"],
        location.as_str(),
        "{next}"
    );
    assert_eq!(recv(&mut ws).await?, json!({"id": "q", "type": "complete"}));
    // ...but not subscribe to check-ins (no visitor.visitors.view).
    subscribe(&mut ws, "s", CHECKED_IN, json!({"l": location})).await?;
    let error = recv(&mut ws).await?;
    assert_eq!(
        (&error["id"], &error["type"]),
        (&json!("s"), &json!("error"))
    );
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "FORBIDDEN",
        "{error}"
    );
    let mut other = connect_as(&app, &other_kiosk).await?;

    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!){ revokeKiosk(id: $id){ id revoked } }",
            json!({"id": kiosk_id}),
        )
        .await;
    assert!(body.get("errors").is_none(), "revokeKiosk failed: {body}");
    assert_eq!(body["data"]["revokeKiosk"]["revoked"], true, "{body}");
    assert_eq!(expect_close(&mut ws).await?, 4403);

    // The other kiosk's socket stays open, and the revoked token opens no new one.
    ping_pong(&mut other).await?;
    let mut again = connect(&app).await?;
    send(
        &mut again,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {kiosk_token}")}}),
    )
    .await?;
    assert_eq!(expect_close(&mut again).await?, 4403);
    Ok(())
});

on_every_backend!(
    logout_stops_new_operations_on_an_acked_socket,
    |app| -> TestResult {
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut ws = connect_as(&app, &token).await?;
        let body = app
            .gql(Some(&token), "mutation { logout }", json!({}))
            .await;
        assert!(body.get("errors").is_none(), "logout failed: {body}");
        // The revocation event closes the socket, or (had it not arrived yet) the check
        // of the credential at `subscribe` does: the query never runs.
        let _ = subscribe(&mut ws, "q", "{ __typename }", json!({})).await;
        assert_eq!(expect_close(&mut ws).await?, 4403);
        Ok(())
    }
);

on_every_backend!(
    subscribe_rechecks_a_credential_revoked_without_an_event,
    |app| -> TestResult {
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut ws = connect_as(&app, &token).await?;
        subscribe(&mut ws, "q", "{ __typename }", json!({})).await?;
        assert_eq!(recv(&mut ws).await?["type"], "next");
        assert_eq!(recv(&mut ws).await?["type"], "complete");

        revoke_behind_the_servers_back(&app, &token).await?;
        // No event came: the socket is still open, but the next operation cannot start.
        ping_pong(&mut ws).await?;
        subscribe(&mut ws, "q2", "{ __typename }", json!({})).await?;
        assert_eq!(expect_close(&mut ws).await?, 4403);
        Ok(())
    }
);

on_every_backend!(
    check_ins_of_one_tenant_never_reach_another,
    |app| -> TestResult {
        let admin_a = app.admin("a").await;
        let admin_b = app.admin("b").await;
        let location_a = app.create_location(&admin_a, "Front desk").await;
        let location_b = app.create_location(&admin_b, "Front desk").await;
        let viewer_b = app.staff_session("b", &[VIEW]).await;
        let mut b = connect_as(&app, &viewer_b).await?;
        // Every location of the tenant: only its own tenant's events may arrive.
        subscribe(&mut b, "all", CHECKED_IN, json!({})).await?;
        ping_pong(&mut b).await?;

        check_in(&app, &admin_a, &location_a).await?;
        expect_quiet(&mut b).await?;
        check_in(&app, &admin_b, &location_b).await?;
        let next = recv(&mut b).await?;
        assert_eq!(
            next["payload"]["data"]["visitorCheckedIn"]["location"]["id"],
            location_b.as_str(),
            "{next}"
        );
        Ok(())
    }
);

on_every_backend!(
    a_connection_that_missed_its_revocation_rechecks_it,
    |app| -> TestResult {
        // Past the hub's revocation capacity (1024), a connection that does not read the
        // revocation channel loses the oldest revocations.
        const OTHERS: usize = 1050;
        const PER_REQUEST: usize = 30; // the alias limit
        let token = app.staff_session("t1", &[VIEW]).await;
        let ws = connect_as(&app, &token).await?;
        let (mut sink, mut stream) = ws.split();

        // Stall the connection's task in a send: 1 MB pings, whose pongs the client does not
        // read, fill the socket buffers both ways (a few MB on loopback). No more than that:
        // the server drains what is left unread after its close frame within its close
        // timeout, and a debug build reads tens of MB too slowly on a loaded machine.
        const PINGS: usize = 16;
        let pad = "x".repeat(1_000_000);
        let sender = tokio::spawn(async move {
            for _ in 0..PINGS {
                let ping = json!({"type": "ping", "payload": {"pad": pad}}).to_string();
                if sink.send(Message::text(ping)).await.is_err() {
                    break;
                }
            }
            sink
        });
        tokio::time::sleep(Duration::from_millis(300)).await;

        // Its own revocation first, then enough others to push it out of the channel. Each
        // `logout` field of a request publishes its session's revocation.
        let body = app
            .gql(Some(&token), "mutation { logout }", json!({}))
            .await;
        assert!(body.get("errors").is_none(), "logout failed: {body}");
        let many = (0..PER_REQUEST)
            .map(|i| format!("l{i}: logout"))
            .collect::<Vec<_>>()
            .join(" ");
        for _ in 0..OTHERS.div_ceil(PER_REQUEST) {
            let other = app.staff_session("t1", &[VIEW]).await;
            let body = app
                .gql(Some(&other), &format!("mutation {{ {many} }}"), json!({}))
                .await;
            assert!(body.get("errors").is_none(), "logout failed: {body}");
        }

        // Unblocked, the connection finds its receiver lagged, asks the database and closes.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut pongs = 0;
        let code = loop {
            let next = tokio::time::timeout_at(deadline, stream.next())
                .await
                .map_err(|_| format!("no close within 30 s ({pongs} pongs)"))?;
            match next {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(text.as_str())?;
                    assert_eq!(message["type"], "pong", "{}", &text.as_str()[..100]);
                    pongs += 1;
                }
                Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                other => return Err(format!("connection ended: {other:?}").into()),
            }
        };
        assert_eq!(code, Some(4403), "after {pongs} pongs");
        assert!(pongs < PINGS, "the connection was never stalled");
        drop(sender.await?);
        Ok(())
    }
);

on_every_backend!(a_session_of_unknown_kind_is_refused, |app| -> TestResult {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let token = app.staff_session("t1", &[VIEW]).await;
    let db = sea_orm::Database::connect(&app.database_url).await?;
    entities::sessions::Entity::update_many()
        .col_expr(entities::sessions::Column::Kind, Expr::value("superuser"))
        .filter(entities::sessions::Column::TokenHash.eq(onegraph::auth::tokens::digest(&token)))
        .exec(&db)
        .await?;
    db.close().await?;
    let mut ws = connect(&app).await?;
    send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await?;
    assert_eq!(expect_close(&mut ws).await?, 4403);
    Ok(())
});

on_every_backend!(
    moving_a_client_to_another_company_ends_its_sessions_and_sockets,
    |app| -> TestResult {
        const CLIENT_USERS: &str = "{ clientUsers { email } }";
        let token = app
            .client_session("acme", "co-1", "cleo@example.com", true)
            .await;
        app.provision_client("acme", "co-1", "old-colleague@example.com", "client_user")
            .await;
        app.provision_client("acme", "co-2", "new-colleague@example.com", "client_user")
            .await;
        let emails = |data: &Value| -> Vec<String> {
            data["clientUsers"]
                .as_array()
                .map(|users| {
                    users
                        .iter()
                        .filter_map(|u| u["email"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };

        // The socket runs operations in the client's company.
        let mut ws = connect_as(&app, &token).await?;
        subscribe(&mut ws, "before", CLIENT_USERS, json!({})).await?;
        let next = recv(&mut ws).await?;
        assert_eq!(next["type"], "next", "{next}");
        assert!(
            emails(&next["payload"]["data"]).contains(&"old-colleague@example.com".to_owned()),
            "{next}"
        );
        assert_eq!(
            recv(&mut ws).await?,
            json!({"id": "before", "type": "complete"})
        );

        // PSA moves the contact to another company, with the same role and access.
        let (status, body) = app
            .psa_contact(json!({
                "tenant_id": crate::support::tenant_id("acme"),
                "contact_id": "contact-cleo@example.com",
                "company_id": "co-2",
                "email": "cleo@example.com",
                "name": "Client cleo@example.com",
                "portal_access": true,
                "role": "client_admin",
            }))
            .await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("updated")),
            "{body}"
        );

        // The socket closes, and the session is refused over HTTP.
        assert_eq!(expect_close(&mut ws).await?, 4403);
        let body = app.gql(Some(&token), CLIENT_USERS, json!({})).await;
        assert_eq!(
            crate::support::code(&body),
            Some("UNAUTHENTICATED"),
            "{body}"
        );

        // A fresh login sees the new company only.
        let fresh = app.mint(&app.client_claims("acme", "cleo@example.com", None));
        let (status, body) = app.exchange(&fresh).await;
        assert_eq!(status, 200, "{body}");
        let session = body["session_token"]
            .as_str()
            .ok_or("no session")?
            .to_owned();
        let mut ws = connect_as(&app, &session).await?;
        subscribe(&mut ws, "after", CLIENT_USERS, json!({})).await?;
        let next = recv(&mut ws).await?;
        let listed = emails(&next["payload"]["data"]);
        assert!(
            listed.contains(&"new-colleague@example.com".to_owned()),
            "{next}"
        );
        assert!(
            !listed.contains(&"old-colleague@example.com".to_owned()),
            "{next}"
        );
        Ok(())
    }
);
