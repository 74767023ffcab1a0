// The `/graphql` endpoint over HTTP (CONTRACT section 3): media types, batches, body size,
// GraphQL-over-HTTP status codes, GET, GraphiQL and its assets, the query limits, and the
// health and metrics endpoints (section 4).

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::support::*;

const VIEW: &str = "visitor.visitors.view";

fn graphql(app: &TestApp) -> String {
    format!("{}/graphql", app.base)
}

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// POST /graphql with a raw body and content type.
async fn post_raw(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.client
        .post(graphql(app))
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("post")
}

/// GET /graphql with query parameters.
async fn get_query(
    app: &TestApp,
    token: Option<&str>,
    params: &[(&str, &str)],
) -> reqwest::Response {
    let url = reqwest::Url::parse_with_params(&graphql(app), params).expect("url");
    let mut request = app.client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("get")
}

on_every_backend!(post_needs_a_json_body, |app| {
    let query = json!({"query": "{ __typename }"}).to_string();

    let response = post_raw(&app, "text/plain", query.clone()).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = response.json().await.expect("json");
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");

    // No content type at all is refused the same way.
    let response = app
        .client
        .post(graphql(&app))
        .body(query.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // application/json with a charset is fine.
    let response = post_raw(&app, "application/json; charset=utf-8", query).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
});

on_every_backend!(batches_and_malformed_bodies_are_bad_requests, |app| {
    let batch = json!([{"query": "{ __typename }"}, {"query": "{ __typename }"}]).to_string();
    let response = post_raw(&app, "application/json", batch).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");

    // Leading whitespace does not hide a batch.
    let response = post_raw(
        &app,
        "application/json",
        "  \n[{\"query\": \"{ __typename }\"}]",
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    for malformed in ["{\"query\": ", "not json", "42", "{\"query\": 42}"] {
        let response = post_raw(&app, "application/json", malformed).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{malformed}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{malformed}: {body}");
    }
});

on_every_backend!(a_body_over_one_mebibyte_is_413, |app| {
    let padding = "a".repeat((1 << 20) + 1024);
    let body = json!({"query": "{ __typename }", "variables": {"pad": padding}}).to_string();
    let response = post_raw(&app, "application/json", body).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.expect("json");
    assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");

    // Just under the limit is served.
    let padding = "a".repeat((1 << 20) - 1024);
    let body = json!({"query": "{ __typename }", "variables": {"pad": padding}}).to_string();
    let response = post_raw(&app, "application/json", body).await;
    assert_eq!(response.status(), StatusCode::OK);
});

on_every_backend!(status_codes_follow_the_accept_header, |app| {
    let syntax_error = json!({"query": "{ me { kind "}).to_string();

    let response = app
        .client
        .post(graphql(&app))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/graphql-response+json")
        .body(syntax_error.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        content_type(&response).starts_with("application/graphql-response+json"),
        "{}",
        content_type(&response)
    );
    let body: Value = response.json().await.expect("json");
    assert!(
        body["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");

    let response = app
        .client
        .post(graphql(&app))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(syntax_error)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(content_type(&response).starts_with("application/json"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");

    // Field errors come from execution: 200 under either media type, also when the only
    // root field was refused.
    for query in ["{ __typename me { kind } }", "{ me { kind } }"] {
        let response = app
            .client
            .post(graphql(&app))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/graphql-response+json")
            .body(json!({"query": query}).to_string())
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
        assert_eq!(body["errors"][0]["path"], json!(["me"]), "{body}");
        assert!(body["data"]["me"].is_null(), "{body}");
    }
});

on_every_backend!(get_runs_queries_but_not_mutations, |app| {
    let token = app.staff_session("acme", &[VIEW]).await;

    let response = get_query(&app, Some(&token), &[("query", "{me{kind}}")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["me"]["kind"], "STAFF", "{body}");

    // Variables and an operation name.
    let response = get_query(
        &app,
        Some(&token),
        &[
            (
                "query",
                "query A { __typename } query B($x: Int!) { visits(first: $x) { totalCount } }",
            ),
            ("operationName", "B"),
            ("variables", "{\"x\": 5}"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["visits"]["totalCount"], 0, "{body}");

    for mutation in ["mutation { logout }", "mutation Out { logout }"] {
        let response = get_query(&app, Some(&token), &[("query", mutation)]).await;
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{mutation}"
        );
        assert_eq!(
            response
                .headers()
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok()),
            Some("POST")
        );
    }
    // A mutation chosen by operationName among queries is refused too.
    let response = get_query(
        &app,
        Some(&token),
        &[
            ("query", "query A { __typename } mutation B { logout }"),
            ("operationName", "B"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

    // The session is still alive: the GET did not log it out.
    app.ok(&token, "{ me { kind } }", json!({})).await;

    // Without a query and not a browser: 400.
    let response = app.client.get(graphql(&app)).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
});

on_every_backend!(browsers_get_graphiql_from_onegraph_itself, |app| {
    let response = app
        .client
        .get(graphql(&app))
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        content_type(&response).starts_with("text/html"),
        "{}",
        content_type(&response)
    );
    let page = response.text().await.expect("page");
    assert!(page.contains("GraphiQL"), "{page}");
    assert!(page.contains("/graphql/assets/"), "{page}");
    assert!(
        !page.contains("unpkg.com") && !page.contains("jsdelivr"),
        "a CDN: {page}"
    );

    let response = app
        .client
        .get(format!("{}/graphql/assets/graphiql.min.js", app.base))
        .send()
        .await
        .expect("asset");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the build did not bundle GraphiQL"
    );
    let js_type = content_type(&response);
    assert!(js_type.contains("javascript"), "{js_type}");
    assert!(!response.bytes().await.expect("bytes").is_empty());

    let response = app
        .client
        .get(format!("{}/graphql/assets/graphiql.min.css", app.base))
        .send()
        .await
        .expect("asset");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(content_type(&response).starts_with("text/css"));

    for unknown in ["nope.js", "..%2Fsecret", "graphiql.min.js.map"] {
        let response = app
            .client
            .get(format!("{}/graphql/assets/{unknown}", app.base))
            .send()
            .await
            .expect("asset");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{unknown}");
    }
});

/// `{ visits { edges { node { visitor { visits { location { currentVisits { visitor … } } } } } } } }`,
/// `depth` fields deep.
fn nested_query(depth: usize) -> String {
    let mut fields = vec!["visits", "edges", "node"];
    let cycle = ["visitor", "visits", "location", "currentVisits"];
    while fields.len() < depth - 1 {
        fields.push(cycle[(fields.len() - 3) % cycle.len()]);
    }
    // The leaf.
    fields.push("id");
    let mut query = String::new();
    for field in &fields[..fields.len() - 1] {
        query.push_str(field);
        query.push_str(" { ");
    }
    query.push_str("id");
    query.push_str(&" }".repeat(fields.len() - 1));
    format!("{{ {query} }}")
}

on_every_backend!(deep_queries_are_too_complex, |app| {
    let token = app.staff_session("acme", &[VIEW]).await;
    let query = nested_query(20);
    assert_eq!(query.matches('{').count(), 20, "{query}");
    let body = app.gql(Some(&token), &query, json!({})).await;
    assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");

    // A shallow one of the same shape is fine (20 visits × 10 visits each); from eight
    // fields down, 20 × 10 × 50 open visits is too much (the nested-list cost).
    let body = app.gql(Some(&token), &nested_query(6), json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app.gql(Some(&token), &nested_query(8), json!({})).await;
    assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
    let body = app.gql(Some(&token), &nested_query(6), json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
});

on_every_backend!(too_many_aliases_are_too_complex, |app| {
    let aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let body = app.gql(None, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");

    let aliases: String = (0..30).map(|i| format!("a{i}: __typename ")).collect();
    let body = app.gql(None, &format!("{{ {aliases} }}"), json!({})).await;
    assert!(
        body.get("errors").is_none(),
        "30 aliases are allowed: {body}"
    );
});

on_every_backend!(brute_force_fields_appear_once_per_operation, |app| {
    let token = app.mint(&app.claims("acme", &[VIEW]));
    let body = app
        .gql(
            None,
            "mutation($t: String!){ a: loginWithHubSso(token: $t){ token } b: loginWithHubSso(token: $t){ token } }",
            json!({"t": token}),
        )
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");

    // Nothing was executed: the token still works once.
    let (status, body) = app.exchange(&token).await;
    assert_eq!(status, 200, "{body}");
});

on_every_backend!(first_over_100_is_bad_user_input, |app| {
    let token = app.staff_session("acme", &[VIEW]).await;
    let body = app
        .gql(
            Some(&token),
            "{ visits(first: 101) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["data"]["visits"].is_null(), "{body}");

    let data = app
        .ok(&token, "{ visits(first: 100) { totalCount } }", json!({}))
        .await;
    assert_eq!(data["visits"]["totalCount"], 0);
});

on_every_backend!(graphiql_introspection_is_within_the_limits, |app| {
    let body = app.gql(None, INTROSPECTION, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let schema = &body["data"]["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    assert_eq!(schema["mutationType"]["name"], "Mutation");
    assert_eq!(schema["subscriptionType"]["name"], "Subscription");
    assert!(
        schema["types"]
            .as_array()
            .is_some_and(|types| types.iter().any(|t| t["name"] == "VisitConnection")),
        "{schema}"
    );
});

on_every_backend!(guarded_fields_need_a_principal, |app| {
    // Note: async-graphql 7.2 drops an errored field from its parent instead of writing
    // `null` (here the whole `data` becomes null); indexing reads both as null.
    let body = app.gql(None, "{ visits { totalCount } }", json!({})).await;
    assert!(body["data"]["visits"].is_null(), "{body}");
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");

    // An unknown bearer token is the same as none.
    let body = app
        .gql(
            Some("ogs_not-a-real-session"),
            "{ visits { totalCount } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["visits"].is_null(), "{body}");
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
});

on_every_backend!(health_readiness_and_metrics, |app| {
    for path in ["/healthz", "/readyz"] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("health");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // Some statements ran (the readiness ping at least); a query adds more.
    let token = app.staff_session("acme", &[VIEW]).await;
    let before = app.statements().await;
    app.ok(&token, "{ me { kind } }", json!({})).await;
    let text = app
        .client
        .get(&app.metrics)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains("# TYPE onegraph_db_statements_total counter"),
        "{text}"
    );
    assert!(app.statements().await > before);
});

on_every_backend!(
    cors_origins_may_call_graphql_and_others_may_not,
    env = [("CORS_ORIGINS", "https://spa.example")],
    |app| {
        let preflight = |origin: &'static str| {
            app.client
                .request(reqwest::Method::OPTIONS, graphql(&app))
                .header(header::ORIGIN, origin)
                .header("Access-Control-Request-Method", "POST")
                .header(
                    "Access-Control-Request-Headers",
                    "authorization,content-type",
                )
                .send()
        };
        let allowed = preflight("https://spa.example").await.unwrap();
        assert!(allowed.status().is_success(), "{}", allowed.status());
        assert_eq!(
            allowed
                .headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok()),
            Some("https://spa.example")
        );
        let refused = preflight("https://evil.example").await.unwrap();
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
    }
);

/// Reads from `stream` until the server closes it (or 5 s pass: `None`); what it sent.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&received).into_owned())
}

on_every_backend!(
    a_client_that_stalls_in_its_headers_is_disconnected,
    env = [("HTTP_HEADER_TIMEOUT", "300ms")],
    |app| {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let answer = read_until_closed(&mut stream).await;
        assert!(answer.is_some(), "a half-sent header held the connection");
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(250),
            "{:?}",
            started.elapsed()
        );
        // The server is fine, and whole requests are served as before.
        let health = app
            .client
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }
);

on_every_backend!(
    a_client_that_stalls_in_its_body_gets_408,
    env = [("HTTP_BODY_TIMEOUT", "300ms")],
    |app| {
        use tokio::io::AsyncWriteExt;
        for (path, content_type) in [
            ("/graphql", "application/json"),
            ("/api/auth/client-hub-sso", "application/json"),
            ("/internal/psa/contacts", "application/json"),
        ] {
            let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: loc\r\nContent-Type: {content_type}\r\n\
                 X-Integration-Key: {PSA_KEY}\r\nContent-Length: 100\r\n\r\n{{\"query\":"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            let started = std::time::Instant::now();
            let answer = read_until_closed(&mut stream).await;
            let answer =
                answer.unwrap_or_else(|| panic!("{path}: a stalled body held the connection"));
            assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
            assert!(answer.contains("BAD_USER_INPUT"), "{path}: {answer}");
            assert!(
                started.elapsed() >= std::time::Duration::from_millis(250),
                "{path}: {:?}",
                started.elapsed()
            );
        }
        // A body that arrives in time, even in pieces, is served as before.
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let body = br#"{"query":"{ __typename }"}"#;
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: loc\r\nContent-Type: application/json\r\n\
             Connection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body[..10]).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        stream.write_all(&body[10..]).await.unwrap();
        let answer = read_until_closed(&mut stream).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.contains("\"__typename\":\"Mutation\"") || answer.contains("Query"),
            "{answer}"
        );
    }
);

on_every_backend!(
    a_client_that_stops_reading_is_disconnected,
    env = [("HTTP_WRITE_TIMEOUT", "500ms")],
    |app| {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Thousands of requests for the GraphiQL page, pipelined, and nothing read: the
        // server's writes fill the socket's buffers and wait on the client.
        const REQUESTS: usize = 3000;
        let page = app
            .client
            .get(format!("{}/graphql", app.base))
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(app.addr).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let writer = tokio::spawn(async move {
            let request = "GET /graphql HTTP/1.1\r\nHost: loc\r\nAccept: text/html\r\n\r\n";
            let _ = write.write_all(request.repeat(REQUESTS).as_bytes()).await;
            write
        });
        tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
        // The server gave up on this client: what it had written arrives, then the end,
        // long before every page did.
        let mut received = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        let ended = tokio::time::timeout(std::time::Duration::from_secs(8), async {
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received += n,
                }
            }
        })
        .await;
        writer.abort();
        assert!(
            ended.is_ok(),
            "the connection stayed open ({received} bytes read)"
        );
        assert!(
            received < REQUESTS * page,
            "every page was served to a client that read nothing: {received} bytes"
        );
        // Everyone else is served as before.
        let health = app
            .client
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }
);

on_every_backend!(
    connections_past_the_cap_wait_for_a_place,
    env = [("HTTP_MAX_CONNECTIONS", "4"), ("HTTP_HEADER_TIMEOUT", "3s")],
    |app| {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut idle = Vec::new();
        for _ in 0..4 {
            idle.push(tokio::net::TcpStream::connect(app.addr).await.unwrap());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let mut next = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        next.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(700), next.read(&mut buf)).await;
        assert!(
            early.is_err(),
            "a connection past the cap was served at once"
        );
        drop(idle);
        let answer = read_until_closed(&mut next)
            .await
            .expect("served once a place is free");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
);

on_every_backend!(
    an_open_websocket_holds_its_connection_place,
    env = [("HTTP_MAX_CONNECTIONS", "1")],
    |app| {
        use futures_util::SinkExt;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_tungstenite::tungstenite::{
            Message, client::IntoClientRequest, http::HeaderValue,
        };
        let token = app.staff_session("acme", &[VIEW]).await;
        let mut request = app.ws_url().into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let init = json!({"type": "connection_init",
            "payload": {"Authorization": format!("Bearer {token}")}});
        ws.send(Message::text(init.to_string())).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // The socket is the one connection allowed: the next waits for it to end.
        let mut next = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        next.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(700), next.read(&mut buf)).await;
        assert!(
            early.is_err(),
            "a connection past the cap was served beside a WebSocket"
        );
        drop(ws);
        let answer = read_until_closed(&mut next)
            .await
            .expect("served once the socket ended");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
);

on_every_backend!(
    one_address_cannot_take_every_connection,
    env = [("HTTP_MAX_CONNECTIONS_PER_IP", "3")],
    |app| {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Three idle connections from 127.0.0.1 (the test client's pooled ones, from the same
        // address, only add to them).
        let addr = app.addr;
        let mut idle = Vec::new();
        for _ in 0..3 {
            idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // A fourth from the same address is closed at once, without an answer.
        let mut fourth = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = fourth
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: loc\r\nConnection: close\r\n\r\n")
            .await;
        let mut buf = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            fourth.read_to_end(&mut buf),
        )
        .await
        .expect("closed in time");
        assert!(
            read.is_err() || buf.is_empty(),
            "served past the per-address cap: {}",
            String::from_utf8_lossy(&buf)
        );
        // Once they end, the address is served again.
        drop(idle);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let mut next = tokio::net::TcpStream::connect(addr).await.unwrap();
        next.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = read_until_closed(&mut next).await.expect("served");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
);

on_every_backend!(
    websockets_outlive_the_request_timeouts,
    env = [
        ("HTTP_HEADER_TIMEOUT", "300ms"),
        ("HTTP_BODY_TIMEOUT", "300ms")
    ],
    |app| {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::{
            Message, client::IntoClientRequest, http::HeaderValue,
        };
        let token = app.staff_session("acme", &[VIEW]).await;
        let mut request = app.ws_url().into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        // Quiet for longer than both timeouts, then used: the upgraded connection is not
        // a request waiting for its headers or body.
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        let init = json!({"type": "connection_init",
            "payload": {"Authorization": format!("Bearer {token}")}});
        ws.send(Message::text(init.to_string())).await.unwrap();
        let ack = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .expect("an answer in time")
            .expect("an open socket")
            .expect("a frame");
        assert!(ack.to_string().contains("connection_ack"), "{ack}");
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        ws.send(Message::text(json!({"type": "ping"}).to_string()))
            .await
            .unwrap();
        let pong = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .expect("an answer in time")
            .expect("an open socket")
            .expect("a frame");
        assert!(pong.to_string().contains("pong"), "{pong}");
    }
);
