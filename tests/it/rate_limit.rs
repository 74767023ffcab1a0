// The per-IP limiter on the brute-force surfaces (CONTRACT section 1): the client address
// behind `TRUSTED_PROXIES`, IPv6 keyed by /64, successes refunded while failures are
// charged, and the global WebSocket connection cap.

use std::time::Duration;

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{self, client::IntoClientRequest, http::HeaderValue},
};

use crate::support::*;

const EXCHANGE: &str = "/api/auth/client-hub-sso";
const LOGIN: &str = "mutation($t: String!){ loginWithHubSso(token: $t){ token } }";
const VIEW: &str = "visitor.visitors.view";

/// POST of the exchange with `token`, from `forwarded_for` when given.
async fn exchange_from(app: &TestApp, token: &str, forwarded_for: Option<&str>) -> StatusCode {
    let mut request = app
        .client
        .post(format!("{}{EXCHANGE}", app.base))
        .json(&json!({"token": token}));
    if let Some(xff) = forwarded_for {
        request = request.header("X-Forwarded-For", xff);
    }
    request.send().await.expect("exchange").status()
}

/// `loginWithHubSso` over POST /graphql from `forwarded_for`: the error code, if any.
async fn login_from(app: &TestApp, token: &str, forwarded_for: &str) -> Option<String> {
    let body: Value = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({"query": LOGIN, "variables": {"t": token}}))
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("json");
    code(&body).map(str::to_owned)
}

on_every_backend!(
    trusted_proxies_give_each_forwarded_client_its_own_bucket,
    env = [
        ("AUTH_RATE_BURST", "2"),
        ("AUTH_RATE_PER_MINUTE", "1"),
        ("TRUSTED_PROXIES", "127.0.0.1, ::1")
    ],
    |app| {
        let a = Some("203.0.113.1");
        for _ in 0..2 {
            assert_eq!(
                exchange_from(&app, "garbage", a).await,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            exchange_from(&app, "garbage", a).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        // Another client behind the same proxy is not affected.
        let b = Some("203.0.113.2");
        assert_eq!(
            exchange_from(&app, "garbage", b).await,
            StatusCode::UNAUTHORIZED
        );
        // Nor is the proxy itself (no header).
        assert_eq!(
            exchange_from(&app, "garbage", None).await,
            StatusCode::UNAUTHORIZED
        );
        // What the client writes to the left of the proxy's entry changes nothing.
        assert_eq!(
            exchange_from(&app, "garbage", Some("198.51.100.77, 203.0.113.1")).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        // GraphQL sees the same client addresses.
        assert_eq!(
            login_from(&app, "garbage", "203.0.113.1").await.as_deref(),
            Some("RATE_LIMITED")
        );
        assert_eq!(
            login_from(&app, "garbage", "203.0.113.3").await.as_deref(),
            Some("UNAUTHENTICATED")
        );

        // IPv6 clients are limited by their /64.
        for xff in ["2001:db8:1:2::1", "2001:db8:1:2::2"] {
            assert_eq!(
                exchange_from(&app, "garbage", Some(xff)).await,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            exchange_from(&app, "garbage", Some("2001:db8:1:2:ffff::9")).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            exchange_from(&app, "garbage", Some("2001:db8:1:3::1")).await,
            StatusCode::UNAUTHORIZED
        );
    }
);

on_every_backend!(
    forwarded_for_from_an_untrusted_peer_is_ignored,
    env = [("AUTH_RATE_BURST", "2"), ("AUTH_RATE_PER_MINUTE", "1")],
    |app| {
        for i in 0..2 {
            let xff = format!("198.51.100.{i}");
            assert_eq!(
                exchange_from(&app, "garbage", Some(&xff)).await,
                StatusCode::UNAUTHORIZED
            );
        }
        // A fresh spoofed address does not buy a fresh bucket.
        for i in 2..5 {
            let xff = format!("198.51.100.{i}");
            assert_eq!(
                exchange_from(&app, "garbage", Some(&xff)).await,
                StatusCode::TOO_MANY_REQUESTS,
                "{xff}"
            );
            assert_eq!(
                login_from(&app, "garbage", &xff).await.as_deref(),
                Some("RATE_LIMITED")
            );
        }
    }
);

on_every_backend!(
    successful_sign_ins_are_refunded_failures_are_not,
    env = [("AUTH_RATE_BURST", "2"), ("AUTH_RATE_PER_MINUTE", "1")],
    |app| {
        // Far more successful logins than the burst, on every surface.
        for _ in 0..5 {
            let token = app.mint(&app.claims("acme", &[VIEW]));
            assert_eq!(exchange_from(&app, &token, None).await, StatusCode::OK);
        }
        for _ in 0..3 {
            let token = app.mint(&app.claims("acme", &[VIEW]));
            let url = reqwest::Url::parse_with_params(
                &format!("{}{EXCHANGE}", app.base),
                &[("token", token.as_str()), ("redirect", "/visits")],
            )
            .expect("url");
            let response = app.client.get(url).send().await.expect("redirect flow");
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
        }
        for _ in 0..3 {
            let token = app.mint(&app.claims("acme", &[VIEW]));
            let data = app.gql(None, LOGIN, json!({"t": token})).await;
            assert!(data.get("errors").is_none(), "{data}");
        }

        // Failures use the allowance up.
        for _ in 0..2 {
            assert_eq!(
                exchange_from(&app, "garbage", None).await,
                StatusCode::UNAUTHORIZED
            );
        }
        let response = app
            .client
            .post(format!("{}{EXCHANGE}", app.base))
            .json(&json!({"token": "garbage"}))
            .send()
            .await
            .expect("exchange");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().get(header::RETRY_AFTER).is_some());
        // A good token is refused too now: the limit is checked before the attempt.
        let token = app.mint(&app.claims("acme", &[VIEW]));
        assert_eq!(
            exchange_from(&app, &token, None).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        // The redirect flow shows its error page with Retry-After.
        let url = reqwest::Url::parse_with_params(
            &format!("{}{EXCHANGE}", app.base),
            &[("token", token.as_str())],
        )
        .expect("url");
        let response = app.client.get(url).send().await.expect("redirect flow");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().get(header::RETRY_AFTER).is_some());
        assert!(response.headers().get(header::LOCATION).is_none());
    }
);

on_every_backend!(a_malformed_redirect_query_gets_the_error_page, |app| {
    let response = app
        .client
        .get(format!("{}{EXCHANGE}?token=a&token=b", app.base))
        .send()
        .await
        .expect("redirect flow");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html"))
    );
    let page = response.text().await.expect("page");
    assert!(page.contains("BAD_USER_INPUT"), "{page}");
});

/// Pre-registers a visitor at `location` and returns the check-in code.
async fn pre_register(app: &TestApp, admin: &str, location: &str, name: &str) -> String {
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let data = app
        .ok(
            admin,
            "mutation($l: ID!, $n: String!, $at: DateTime!){ preRegisterVisitor(input: {locationId: $l, expectedAt: $at, visitor: {name: $n}}){ code } }",
            json!({"l": location, "n": name, "at": at}),
        )
        .await;
    data["preRegisterVisitor"]["code"]
        .as_str()
        .expect("code")
        .to_owned()
}

on_every_backend!(
    a_kiosk_queue_behind_one_address_is_not_limited,
    env = [("AUTH_RATE_BURST", "2"), ("AUTH_RATE_PER_MINUTE", "1")],
    |app| {
        let admin = app.admin("acme").await;
        let location = app.create_location(&admin, "Lobby").await;

        // Pairing kiosks: every success is refunded.
        let mut kiosk = String::new();
        for i in 0..3 {
            let data = app
                .ok(
                    &admin,
                    "mutation($l: ID!){ createKioskPairingCode(locationId: $l){ code } }",
                    json!({"l": location}),
                )
                .await;
            let pairing = data["createKioskPairingCode"]["code"]
                .as_str()
                .expect("code");
            let body = app
                .gql(
                    None,
                    "mutation($c: String!, $n: String!){ pairKiosk(code: $c, name: $n){ token } }",
                    json!({"c": pairing, "n": format!("Kiosk {i}")}),
                )
                .await;
            assert!(body.get("errors").is_none(), "{body}");
            kiosk = body["data"]["pairKiosk"]["token"]
                .as_str()
                .expect("kiosk token")
                .to_owned();
        }

        // The morning queue: five pre-registered visitors check in at the kiosk by code.
        const BY_CODE: &str = "mutation($l: ID!, $c: String!){ checkInVisitor(input: {locationId: $l, preRegistrationCode: $c}){ id } }";
        for i in 0..5 {
            let code_value = pre_register(&app, &admin, &location, &format!("Visitor {i}")).await;
            let body = app
                .gql(
                    Some(&kiosk),
                    BY_CODE,
                    json!({"l": location, "c": code_value}),
                )
                .await;
            assert!(body.get("errors").is_none(), "visitor {i}: {body}");
        }

        // Guesses are limited: two wrong codes, then RATE_LIMITED.
        for guess in ["ABCDEFGH", "BCDEFGHJ"] {
            let body = app
                .gql(Some(&kiosk), BY_CODE, json!({"l": location, "c": guess}))
                .await;
            let error = code(&body).expect("an error");
            assert_ne!(error, "RATE_LIMITED", "{body}");
        }
        let body = app
            .gql(
                Some(&kiosk),
                BY_CODE,
                json!({"l": location, "c": "CDEFGHJK"}),
            )
            .await;
        assert_eq!(code(&body), Some("RATE_LIMITED"), "{body}");
        // Pairing guesses share the address's bucket.
        let body = app
            .gql(
                None,
                "mutation{ pairKiosk(code: \"DEFGHJKM\", name: \"x\"){ token } }",
                json!({}),
            )
            .await;
        assert_eq!(code(&body), Some("RATE_LIMITED"), "{body}");
    }
);

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

async fn wait_for_websockets(app: &TestApp, n: i64) {
    for _ in 0..250 {
        if open_websockets(app).await == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never saw {n} open WebSockets");
}

type Upgrade = Result<
    (
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        tungstenite::handshake::client::Response,
    ),
    tungstenite::Error,
>;

async fn upgrade(app: &TestApp) -> Upgrade {
    let mut request = app.ws_url().into_client_request().expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    connect_async(request).await
}

on_every_backend!(
    websocket_connections_are_capped,
    env = [("WS_MAX_CONNECTIONS", "2")],
    |app| {
        let first = upgrade(&app).await.expect("first upgrade");
        let _second = upgrade(&app).await.expect("second upgrade");
        wait_for_websockets(&app, 2).await;

        match upgrade(&app).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 429);
                assert_eq!(
                    response
                        .headers()
                        .get("Retry-After")
                        .and_then(|v| v.to_str().ok()),
                    Some("5")
                );
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                        .expect("json body");
                assert_eq!(
                    body,
                    json!({"error": {"code": "RATE_LIMITED", "message": "Too many open connections"}})
                );
            }
            Err(other) => panic!("expected HTTP 429, got {other}"),
            Ok(_) => panic!("a third WebSocket was accepted"),
        }

        // Closing one makes room again.
        drop(first);
        wait_for_websockets(&app, 1).await;
        let _third = upgrade(&app).await.expect("upgrade after a close");
    }
);
