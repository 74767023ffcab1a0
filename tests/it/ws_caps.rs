// Bounds on what WebSockets may hold: open connections per client address (behind
// `TRUSTED_PROXIES`) and per principal, refused at the upgrade with HTTP 429 `RATE_LIMITED`
// (or, for a principal known only from `connection_init`, closed with 4429); and the size of
// an operation's id, document and variables.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{self, client::IntoClientRequest, http::HeaderValue},
};

use crate::support::*;
use crate::ws::{
    TestResult, Ws, connect, connect_as, expect_close_frame, expect_quiet, init, ping_pong, recv,
    send, subscribe,
};

/// The origin the test servers allow cookie-authenticated upgrades from (`PUBLIC_URL`).
const ORIGIN: &str = "http://localhost:4000";
const VIEW: &str = "visitor.visitors.view";

/// Opens a WebSocket with the protocol's subprotocol and the given extra headers; on refusal
/// the HTTP response's status, `Retry-After` and JSON body.
async fn upgrade_with(
    app: &TestApp,
    headers: &[(&'static str, String)],
) -> Result<Ws, (u16, Option<String>, Value)> {
    let mut request = app.ws_url().into_client_request().expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    for (name, value) in headers {
        request
            .headers_mut()
            .append(*name, HeaderValue::from_str(value).expect("header value"));
    }
    match connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => {
            let retry_after = response
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                .unwrap_or(Value::Null);
            Err((response.status().as_u16(), retry_after, body))
        }
        Err(other) => panic!("upgrade failed: {other}"),
    }
}

/// Asserts that the upgrade is refused with HTTP 429 `RATE_LIMITED` and `Retry-After`.
async fn assert_refused(app: &TestApp, headers: &[(&'static str, String)]) {
    match upgrade_with(app, headers).await {
        Ok(_) => panic!("the upgrade was accepted past the cap"),
        Err((status, retry_after, body)) => {
            assert_eq!(status, 429, "{body}");
            assert!(
                retry_after.is_some_and(|secs| secs.parse::<u64>().is_ok_and(|s| s > 0)),
                "no Retry-After"
            );
            assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");
            assert!(body["error"]["message"].is_string(), "{body}");
        }
    }
}

/// Open WebSockets, from `/metrics`.
async fn open_websockets(app: &TestApp) -> i64 {
    let text = app
        .client
        .get(&app.metrics)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("onegraph_ws_connections "))
        .and_then(|v| v.trim().parse().ok())
        .expect("ws gauge")
}

/// Waits until the server counts `n` open WebSockets.
async fn wait_for_websockets(app: &TestApp, n: i64) {
    for _ in 0..250 {
        if open_websockets(app).await == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never saw {n} open WebSockets");
}

fn cookie(token: &str) -> [(&'static str, String); 2] {
    [
        ("Cookie", format!("onegraph_session={token}")),
        ("Origin", ORIGIN.to_owned()),
    ]
}

on_every_backend!(
    connections_per_address_are_capped_from_the_upgrade_on,
    env = [("WS_MAX_CONNECTIONS_PER_IP", "3")],
    |app| -> TestResult {
        // Sockets that never send `connection_init` count against their address.
        let mut first = upgrade_with(&app, &[]).await.expect("first");
        let _second = upgrade_with(&app, &[]).await.expect("second");
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut third = connect_as(&app, &token).await?;
        assert_refused(&app, &[]).await;
        // The acknowledged one still works.
        ping_pong(&mut third).await?;

        // Closing one makes room again: the count goes down when a socket ends.
        send(
            &mut first,
            json!({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}),
        )
        .await?;
        assert_eq!(expect_close_frame(&mut first).await?.0, 4403);
        drop(first);
        wait_for_websockets(&app, 2).await;
        let mut again = upgrade_with(&app, &[]).await.expect("after a close");
        init(&mut again, &token).await?;
        assert_refused(&app, &[]).await;

        // Sockets the client closes are counted out as well.
        drop(again);
        drop(third);
        wait_for_websockets(&app, 1).await;
        Ok(())
    }
);

on_every_backend!(
    sockets_that_have_not_authenticated_have_fewer_places,
    env = [
        ("WS_MAX_CONNECTIONS_PER_IP", "10"),
        ("WS_MAX_PENDING_PER_IP", "2")
    ],
    |app| -> TestResult {
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut first = upgrade_with(&app, &[]).await.expect("first");
        let _second = upgrade_with(&app, &[]).await.expect("second");
        // Two sockets that have said nothing fill the address's pending places.
        assert_refused(&app, &[]).await;
        // Once one authenticates, its pending place is free for the next socket.
        init(&mut first, &token).await?;
        let mut third = upgrade_with(&app, &[])
            .await
            .expect("after connection_init");
        assert_refused(&app, &[]).await;
        init(&mut third, &token).await?;
        // A cookie that authenticates at the upgrade never holds a pending place.
        let session = app.staff_session("t1", &[VIEW]).await;
        let _cookie_a = upgrade_with(&app, &cookie(&session))
            .await
            .expect("cookie a");
        let _cookie_b = upgrade_with(&app, &cookie(&session))
            .await
            .expect("cookie b");
        let _fourth = upgrade_with(&app, &[])
            .await
            .expect("a pending place is free");
        assert_refused(&app, &[]).await;
        ping_pong(&mut first).await?;
        Ok(())
    }
);

on_every_backend!(
    silent_sockets_from_many_addresses_are_capped_across_the_server,
    env = [
        ("WS_MAX_PENDING", "3"),
        ("TRUSTED_PROXIES", "127.0.0.1, ::1")
    ],
    |app| -> TestResult {
        let from = |ip: &str| [("X-Forwarded-For", ip.to_owned())];
        let mut first = upgrade_with(&app, &from("203.0.113.1")).await.expect("a");
        let _b = upgrade_with(&app, &from("203.0.113.2")).await.expect("b");
        let _c = upgrade_with(&app, &from("203.0.113.3")).await.expect("c");
        // Each address is far under its own cap; the server's is reached.
        assert_refused(&app, &from("203.0.113.4")).await;
        // Authenticating gives the place back.
        let token = app.staff_session("t1", &[VIEW]).await;
        init(&mut first, &token).await?;
        let mut d = upgrade_with(&app, &from("203.0.113.4")).await.expect("d");
        init(&mut d, &token).await?;
        let _e = upgrade_with(&app, &from("203.0.113.5")).await.expect("e");
        assert_refused(&app, &from("203.0.113.6")).await;
        Ok(())
    }
);

on_every_backend!(
    forwarded_clients_are_counted_apart,
    env = [
        ("WS_MAX_CONNECTIONS_PER_IP", "2"),
        ("TRUSTED_PROXIES", "127.0.0.1, ::1")
    ],
    |app| -> TestResult {
        let from = |ip: &str| [("X-Forwarded-For", ip.to_owned())];
        let _a1 = upgrade_with(&app, &from("203.0.113.1")).await.expect("a1");
        let _a2 = upgrade_with(&app, &from("203.0.113.1")).await.expect("a2");
        assert_refused(&app, &from("203.0.113.1")).await;
        // What the client writes left of the proxy's entry changes nothing.
        assert_refused(&app, &from("198.51.100.7, 203.0.113.1")).await;
        // Another client behind the same proxy has its own count, and so does the proxy.
        let _b1 = upgrade_with(&app, &from("203.0.113.2")).await.expect("b1");
        let _b2 = upgrade_with(&app, &from("203.0.113.2")).await.expect("b2");
        assert_refused(&app, &from("203.0.113.2")).await;
        let _proxy = upgrade_with(&app, &[]).await.expect("the proxy itself");
        // IPv6 clients are counted by their /64, as the rate limiter keys them.
        let _c1 = upgrade_with(&app, &from("2001:db8:1:2::1"))
            .await
            .expect("c1");
        let _c2 = upgrade_with(&app, &from("2001:db8:1:2::2"))
            .await
            .expect("c2");
        assert_refused(&app, &from("2001:db8:1:2:ffff::9")).await;
        let _d1 = upgrade_with(&app, &from("2001:db8:1:3::1"))
            .await
            .expect("d1");
        Ok(())
    }
);

on_every_backend!(
    a_forwarded_for_from_an_untrusted_peer_is_ignored,
    env = [("WS_MAX_CONNECTIONS_PER_IP", "2")],
    |app| -> TestResult {
        let from = |ip: &str| [("X-Forwarded-For", ip.to_owned())];
        let _a = upgrade_with(&app, &from("203.0.113.1")).await.expect("a");
        let _b = upgrade_with(&app, &from("203.0.113.2")).await.expect("b");
        assert_refused(&app, &from("203.0.113.3")).await;
        Ok(())
    }
);

on_every_backend!(
    connections_per_principal_are_capped_at_the_upgrade_with_a_cookie,
    env = [("WS_MAX_CONNECTIONS_PER_PRINCIPAL", "2")],
    |app| -> TestResult {
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut first = upgrade_with(&app, &cookie(&token)).await.expect("first");
        // The cookie authenticates the socket: `connection_init` needs no token.
        send(&mut first, json!({"type": "connection_init"})).await?;
        assert_eq!(recv(&mut first).await?["type"], "connection_ack");
        let _second = upgrade_with(&app, &cookie(&token)).await.expect("second");
        assert_refused(&app, &cookie(&token)).await;

        // A bearer token in `connection_init` for the same principal is refused too.
        let mut third = connect(&app).await?;
        send(
            &mut third,
            json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
        )
        .await?;
        let (code, reason) = expect_close_frame(&mut third).await?;
        assert_eq!(code, 4429, "{reason}");
        assert!(reason.contains("RATE_LIMITED"), "{reason}");

        // Another principal is not affected.
        let other = app.staff_session("t1", &[VIEW]).await;
        let mut theirs = upgrade_with(&app, &cookie(&other)).await.expect("other");
        send(&mut theirs, json!({"type": "connection_init"})).await?;
        assert_eq!(recv(&mut theirs).await?["type"], "connection_ack");

        // Closing one makes room again.
        drop(first);
        wait_for_websockets(&app, 2).await;
        let _again = upgrade_with(&app, &cookie(&token))
            .await
            .expect("after a close");
        Ok(())
    }
);

on_every_backend!(
    connections_per_principal_are_capped_at_connection_init_with_a_token,
    env = [("WS_MAX_CONNECTIONS_PER_PRINCIPAL", "2")],
    |app| -> TestResult {
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut first = connect_as(&app, &token).await?;
        let mut second = connect_as(&app, &token).await?;
        let mut third = connect(&app).await?;
        send(
            &mut third,
            json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
        )
        .await?;
        let (code, reason) = expect_close_frame(&mut third).await?;
        assert_eq!(code, 4429, "{reason}");
        assert!(reason.contains("RATE_LIMITED"), "{reason}");
        // The others stay open.
        ping_pong(&mut first).await?;
        ping_pong(&mut second).await?;

        // Another session of the same user is the same principal.
        let claims = app.claims("t1", &[VIEW]);
        let mut again = claims.clone();
        again.jti = uuid::Uuid::new_v4().to_string();
        let (status, body) = app.exchange(&app.mint(&claims)).await;
        assert_eq!(status, 200, "{body}");
        let user_a = body["session_token"]
            .as_str()
            .ok_or("no session")?
            .to_owned();
        let (status, body) = app.exchange(&app.mint(&again)).await;
        assert_eq!(status, 200, "{body}");
        let user_b = body["session_token"]
            .as_str()
            .ok_or("no session")?
            .to_owned();
        let _a1 = connect_as(&app, &user_a).await?;
        let _a2 = connect_as(&app, &user_b).await?;
        let mut a3 = connect(&app).await?;
        send(
            &mut a3,
            json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {user_a}")}}),
        )
        .await?;
        assert_eq!(expect_close_frame(&mut a3).await?.0, 4429);

        // Sockets initialised with a token count for a cookie upgrade of the same principal.
        assert_refused(&app, &cookie(&user_a)).await;

        // A cookie socket that switches to a token counts for the token's principal.
        let other = app.staff_session("t1", &[VIEW]).await;
        let mut theirs = upgrade_with(&app, &cookie(&other)).await.expect("other");
        send(
            &mut theirs,
            json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
        )
        .await?;
        assert_eq!(expect_close_frame(&mut theirs).await?.0, 4429);

        // Closing one makes room again.
        drop(first);
        drop(theirs);
        drop(a3);
        drop(third);
        wait_for_websockets(&app, 3).await;
        let mut fresh = connect(&app).await?;
        init(&mut fresh, &token).await?;
        ping_pong(&mut fresh).await
    }
);

on_every_backend!(over_long_operation_ids_get_an_error, |app| -> TestResult {
    let token = app.staff_session("t1", &[VIEW]).await;
    let mut ws = connect_as(&app, &token).await?;
    let long = "i".repeat(129);
    subscribe(&mut ws, &long, "{ __typename }", json!({})).await?;
    let error = recv(&mut ws).await?;
    assert_eq!(
        (&error["id"], &error["type"]),
        (&json!(long), &json!("error")),
        "{error}"
    );
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{error}"
    );
    // A `complete` with such an id is ignored, and the connection stays usable.
    send(&mut ws, json!({"id": long, "type": "complete"})).await?;
    ping_pong(&mut ws).await?;
    let longest = "i".repeat(128);
    subscribe(&mut ws, &longest, "{ __typename }", json!({})).await?;
    let next = recv(&mut ws).await?;
    assert_eq!(
        (&next["id"], &next["type"]),
        (&json!(longest), &json!("next")),
        "{next}"
    );
    assert_eq!(
        recv(&mut ws).await?,
        json!({"id": longest, "type": "complete"})
    );
    expect_quiet(&mut ws).await
});

on_every_backend!(
    over_size_documents_and_variables_get_an_error,
    |app| -> TestResult {
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut ws = connect_as(&app, &token).await?;
        const LIMIT: usize = 16 * 1024;
        let query_of = |len: usize| {
            let mut query = String::from("{ __typename }\n#");
            query.push_str(&"x".repeat(len - query.len()));
            query
        };
        // Variables that serialise to exactly `len` bytes: {"pad":"xxx…"}.
        let variables_of = |len: usize| json!({"pad": "x".repeat(len - r#"{"pad":""}"#.len())});
        assert_eq!(variables_of(LIMIT).to_string().len(), LIMIT);

        let cases = [
            ("document", query_of(LIMIT + 1), json!({})),
            (
                "variables",
                "{ __typename }".to_owned(),
                variables_of(LIMIT + 1),
            ),
        ];
        for (id, query, variables) in cases {
            subscribe(&mut ws, id, &query, variables).await?;
            let error = recv(&mut ws).await?;
            assert_eq!(
                (&error["id"], &error["type"]),
                (&json!(id), &json!("error")),
                "{error}"
            );
            assert_eq!(
                error["payload"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
                "{error}"
            );
            // The refused operation is not live: its id can be used again at once.
            ping_pong(&mut ws).await?;
        }

        // At the limits, both pass.
        subscribe(&mut ws, "document", &query_of(LIMIT), variables_of(LIMIT)).await?;
        let next = recv(&mut ws).await?;
        assert_eq!(next["type"], "next", "{next}");
        assert_eq!(
            recv(&mut ws).await?,
            json!({"id": "document", "type": "complete"})
        );
        Ok(())
    }
);

on_every_backend!(
    the_size_limits_are_settings,
    env = [
        ("WS_MAX_DOCUMENT_BYTES", "64"),
        ("WS_MAX_VARIABLES_BYTES", "32")
    ],
    |app| -> TestResult {
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut ws = connect_as(&app, &token).await?;
        let long_query = format!("{{ __typename }}\n#{}", "x".repeat(64));
        subscribe(&mut ws, "d", &long_query, json!({})).await?;
        let error = recv(&mut ws).await?;
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(
            error["payload"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
            "{error}"
        );
        subscribe(
            &mut ws,
            "v",
            "{ __typename }",
            json!({"pad": "x".repeat(32)}),
        )
        .await?;
        let error = recv(&mut ws).await?;
        assert_eq!(error["type"], "error", "{error}");
        subscribe(&mut ws, "ok", "{ __typename }", json!({"p": 1})).await?;
        assert_eq!(recv(&mut ws).await?["type"], "next");
        Ok(())
    }
);

on_every_backend!(
    live_operations_are_capped_per_principal_across_connections,
    env = [("WS_MAX_OPERATIONS_PER_PRINCIPAL", "3")],
    |app| -> TestResult {
        const LIVE: &str = "subscription { visitorCheckedIn { id } }";
        let token = app.staff_session("t1", &[VIEW]).await;
        let mut first = connect_as(&app, &token).await?;
        let mut second = connect_as(&app, &token).await?;
        subscribe(&mut first, "a", LIVE, json!({})).await?;
        subscribe(&mut first, "b", LIVE, json!({})).await?;
        subscribe(&mut second, "c", LIVE, json!({})).await?;
        // A pong comes after the socket's earlier messages are handled.
        ping_pong(&mut first).await?;
        ping_pong(&mut second).await?;
        // Each socket is far under WS_MAX_OPERATIONS; the account is at its cap.
        subscribe(&mut second, "d", LIVE, json!({})).await?;
        let refused = recv(&mut second).await?;
        assert_eq!(refused["id"], "d", "{refused}");
        assert_eq!(refused["type"], "error", "{refused}");
        assert_eq!(
            refused["payload"][0]["extensions"]["code"], "RATE_LIMITED",
            "{refused}"
        );
        // Another account has its own places.
        let other = app.staff_session("t1", &[VIEW]).await;
        let mut third = connect_as(&app, &other).await?;
        subscribe(&mut third, "e", LIVE, json!({})).await?;
        expect_quiet(&mut third).await?;
        // A completed operation, or a closed socket, gives its place back.
        send(&mut first, json!({"id": "a", "type": "complete"})).await?;
        ping_pong(&mut first).await?;
        subscribe(&mut second, "d", LIVE, json!({})).await?;
        expect_quiet(&mut second).await?;
        drop(first);
        tokio::time::sleep(Duration::from_millis(200)).await;
        subscribe(&mut second, "f", LIVE, json!({})).await?;
        expect_quiet(&mut second).await?;
        Ok(())
    }
);
