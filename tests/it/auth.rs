// Hub SSO sign-on over HTTP (CONTRACT section 1): the REST exchange and its redirect flow,
// `loginWithHubSso`, sessions as bearer token and cookie, logout, every refusal with its code,
// the outbox events a login writes, and the per-IP limiter.

use std::collections::BTreeSet;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{StatusCode, header};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use crate::support::*;

const EXCHANGE: &str = "/api/auth/client-hub-sso";
const ME: &str = "{ me { kind tenant { id name } permissions user { name } } }";
const LOGIN: &str = "mutation($t: String!){ loginWithHubSso(token: $t){ token expiresAt principal { kind permissions tenant { id } } } }";
const OTHER_SECRET: &str = "another-secret-another-secret-0123456789";

/// The claims of a fresh staff token as JSON, to be changed before signing.
fn claims_json(app: &TestApp, tenant: &str, perms: &[&str]) -> Value {
    serde_json::to_value(app.claims(tenant, perms)).expect("claims")
}

/// Signs arbitrary claims with `alg` and `secret`.
fn sign(claims: &Value, alg: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

/// An unsigned `alg: none` token, built by hand.
fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims"));
    format!("{header}.{body}.")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn header_str(response: &reqwest::Response, name: header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The `onegraph_session` value of a `Set-Cookie` header.
fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("onegraph_session="))
        .expect("onegraph_session cookie")
}

/// Checks the session cookie's attributes (no `Secure`: `PUBLIC_URL` is plain http).
fn assert_session_cookie(set_cookie: &str, token: &str) {
    assert_eq!(cookie_value(set_cookie), token, "{set_cookie}");
    let attributes: Vec<String> = set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["httponly", "samesite=lax", "path=/"] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} missing: {set_cookie}"
        );
    }
    assert!(
        !attributes.iter().any(|a| a == "secure"),
        "Secure on a plain-http PUBLIC_URL: {set_cookie}"
    );
}

async fn post_exchange(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(format!("{}{EXCHANGE}", app.base))
        .json(&json!({"token": token}))
        .send()
        .await
        .expect("exchange")
}

/// GET of the redirect flow; `redirect` is sent as given (the client URL-encodes it).
async fn get_redirect(app: &TestApp, token: &str, redirect: Option<&str>) -> reqwest::Response {
    let mut params = vec![("token", token)];
    if let Some(redirect) = redirect {
        params.push(("redirect", redirect));
    }
    let url =
        reqwest::Url::parse_with_params(&format!("{}{EXCHANGE}", app.base), &params).expect("url");
    app.client.get(url).send().await.expect("redirect flow")
}

/// `me` with the session in the `Cookie` header (a JSON POST, as the contract allows).
async fn me_with_cookie(app: &TestApp, token: &str) -> Value {
    app.client
        .post(format!("{}/graphql", app.base))
        .header(header::COOKIE, format!("onegraph_session={token}"))
        .json(&json!({"query": ME}))
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("json")
}

/// Asserts a refused exchange: 401, the error body with `code`, and no session handed out.
async fn assert_refused(app: &TestApp, token: &str, code: &str, what: &str) {
    let response = post_exchange(app, token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
    assert!(
        response.headers().get(header::SET_COOKIE).is_none(),
        "{what}: a cookie was set"
    );
    let body: Value = response.json().await.expect("error body");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    assert!(body.get("session_token").is_none(), "{what}: {body}");
}

/// The outbox rows as (event_type, payload).
async fn outbox(app: &TestApp) -> Vec<(String, Value)> {
    let db = Database::connect(&app.database_url)
        .await
        .expect("connect to the test database");
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT event_type, payload FROM outbox ORDER BY created_at",
        ))
        .await
        .expect("outbox query");
    rows.iter()
        .map(|row| {
            let event_type: String = row.try_get("", "event_type").expect("event_type");
            let payload: String = row.try_get("", "payload").expect("payload");
            (
                event_type,
                serde_json::from_str(&payload).expect("payload JSON"),
            )
        })
        .collect()
}

fn of_type<'a>(rows: &'a [(String, Value)], event_type: &str) -> Vec<&'a Value> {
    rows.iter()
        .filter(|(t, _)| t == event_type)
        .map(|(_, p)| p)
        .collect()
}

fn set(values: &Value) -> BTreeSet<String> {
    values
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect()
}

on_every_backend!(
    exchange_creates_a_session_usable_as_bearer_and_cookie,
    |app| {
        let tenant = tenant_id("acme");
        let token = app.mint(&app.claims(
            "acme",
            &[
                "visitor.visitors.view",
                "visitor.hosts.view",
                "portal.tickets.view",
            ],
        ));
        let before = chrono::Utc::now();
        let response = post_exchange(&app, &token).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header_str(&response, header::CACHE_CONTROL).as_deref(),
            Some("no-store")
        );
        let set_cookie = header_str(&response, header::SET_COOKIE).expect("Set-Cookie");
        let body: Value = response.json().await.expect("session body");

        let session = body["session_token"].as_str().expect("session_token");
        assert!(session.len() >= 32, "{body}");
        assert_session_cookie(&set_cookie, session);

        let expires_at =
            chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().expect("expires_at"))
                .expect("RFC 3339 expires_at")
                .with_timezone(&chrono::Utc);
        let eight_hours = chrono::Duration::hours(8);
        assert!(
            (expires_at - (before + eight_hours)).num_seconds().abs() <= 60,
            "expires_at {expires_at} is not 8 h after {before}"
        );

        let principal = &body["principal"];
        assert_eq!(principal["kind"], "staff", "{body}");
        assert_eq!(principal["tenant_id"], tenant.as_str(), "{body}");
        let user_id = principal["user_id"].as_str().expect("user_id").to_owned();
        let expected: BTreeSet<String> = ["visitor.visitors.view", "visitor.hosts.view"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            set(&principal["permissions"]),
            expected,
            "only visitor.* permissions are kept: {body}"
        );

        // The session as a bearer token.
        let data = app.ok(session, ME, json!({})).await;
        let me = &data["me"];
        assert_eq!(me["kind"], "STAFF", "{data}");
        assert_eq!(me["tenant"]["id"], tenant.as_str(), "{data}");
        assert_eq!(me["tenant"]["name"], "Tenant acme", "{data}");
        assert_eq!(me["user"]["name"], "Staff Member", "{data}");
        assert_eq!(set(&me["permissions"]), expected, "{data}");

        // The session as the cookie.
        let body = me_with_cookie(&app, session).await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(body["data"]["me"], *me, "{body}");

        // The login wrote exactly one auth.hub_sso_login.
        let rows = outbox(&app).await;
        let logins = of_type(&rows, "auth.hub_sso_login");
        assert_eq!(logins.len(), 1, "{rows:?}");
        let event = logins[0];
        assert_eq!(event["type"], "auth.hub_sso_login", "{event}");
        assert_eq!(event["source"], "visitor", "{event}");
        assert_eq!(event["tenant_id"], tenant.as_str(), "{event}");
        assert_eq!(
            event["data"],
            json!({"user_id": user_id, "kind": "staff", "audience": "visitor"}),
            "{event}"
        );
        assert!(of_type(&rows, "auth.login_failed").is_empty(), "{rows:?}");
    }
);

on_every_backend!(a_used_token_is_refused_as_replayed, |app| {
    let claims = app.claims("acme", &["visitor.visitors.view"]);
    let token = app.mint(&claims);
    let (status, body) = app.exchange(&token).await;
    assert_eq!(status, 200, "{body}");

    let response = post_exchange(&app, &token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let body: Value = response.json().await.expect("error body");
    assert_eq!(
        body,
        json!({"error": {"code": "TOKEN_REPLAYED", "message": "Token already used"}})
    );

    // The same token through GraphQL and the redirect flow.
    let body = app.gql(None, LOGIN, json!({"t": token})).await;
    assert_eq!(code(&body), Some("TOKEN_REPLAYED"), "{body}");
    assert!(body["data"]["loginWithHubSso"].is_null(), "{body}");
    let response = get_redirect(&app, &token, Some("/visits")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(header::LOCATION).is_none());

    let rows = outbox(&app).await;
    assert_eq!(of_type(&rows, "auth.hub_sso_login").len(), 1, "{rows:?}");
    let failed = of_type(&rows, "auth.login_failed");
    assert_eq!(failed.len(), 3, "one per replay: {rows:?}");
    for event in failed {
        assert_eq!(event["source"], "visitor", "{event}");
        assert_eq!(event["tenant_id"], tenant_id("acme").as_str(), "{event}");
        assert_eq!(
            event["data"],
            json!({"reason": "replayed", "sub": claims.sub, "audience": "visitor"}),
            "{event}"
        );
    }
});

on_every_backend!(every_bad_token_is_refused_with_its_code, |app| {
    let perms = ["visitor.visitors.view"];
    let t = now();

    let mut expired = claims_json(&app, "acme", &perms);
    expired["iat"] = json!(t - 400);
    expired["exp"] = json!(t - 31 - 5);
    assert_refused(
        &app,
        &sign(&expired, Algorithm::HS256, SECRET),
        "UNAUTHENTICATED",
        "expired",
    )
    .await;

    let good = claims_json(&app, "acme", &perms);
    assert_refused(
        &app,
        &sign(&good, Algorithm::HS256, OTHER_SECRET),
        "UNAUTHENTICATED",
        "wrong secret",
    )
    .await;
    assert_refused(
        &app,
        &unsigned(&claims_json(&app, "acme", &perms)),
        "UNAUTHENTICATED",
        "alg none",
    )
    .await;
    assert_refused(
        &app,
        &sign(&claims_json(&app, "acme", &perms), Algorithm::HS512, SECRET),
        "UNAUTHENTICATED",
        "HS512",
    )
    .await;

    let mut books = claims_json(&app, "acme", &perms);
    books["aud"] = json!("books");
    assert_refused(
        &app,
        &sign(&books, Algorithm::HS256, SECRET),
        "UNAUTHENTICATED",
        "wrong audience",
    )
    .await;

    let mut issuer = claims_json(&app, "acme", &perms);
    issuer["iss"] = json!("https://evil.example.com");
    assert_refused(
        &app,
        &sign(&issuer, Algorithm::HS256, SECRET),
        "UNAUTHENTICATED",
        "wrong issuer",
    )
    .await;

    let mut long = claims_json(&app, "acme", &perms);
    long["iat"] = json!(t);
    long["exp"] = json!(t + 601);
    assert_refused(
        &app,
        &sign(&long, Algorithm::HS256, SECRET),
        "UNAUTHENTICATED",
        "exp - iat > 600",
    )
    .await;

    let mut no_jti = claims_json(&app, "acme", &perms);
    no_jti.as_object_mut().expect("object").remove("jti");
    assert_refused(
        &app,
        &sign(&no_jti, Algorithm::HS256, SECRET),
        "UNAUTHENTICATED",
        "missing jti",
    )
    .await;

    assert_refused(&app, "not-a-jwt-at-all", "UNAUTHENTICATED", "garbage").await;

    let mut portal = claims_json(&app, "acme", &["portal.tickets.view"]);
    portal["aud"] = json!("portal");
    assert_refused(
        &app,
        &sign(&portal, Algorithm::HS256, SECRET),
        "ACCOUNT_NOT_FOUND",
        "portal token without a client user",
    )
    .await;

    // None of these created a tenant or user: a good login afterwards is the first.
    let rows = outbox(&app).await;
    assert!(of_type(&rows, "auth.hub_sso_login").is_empty(), "{rows:?}");
});

on_every_backend!(
    within_the_leeway_a_just_expired_token_is_still_accepted,
    |app| {
        let t = now();
        let mut claims = claims_json(&app, "acme", &["visitor.visitors.view"]);
        claims["iat"] = json!(t - 300);
        claims["exp"] = json!(t - 10);
        let (status, body) = app.exchange(&sign(&claims, Algorithm::HS256, SECRET)).await;
        assert_eq!(status, 200, "{body}");
    }
);

on_every_backend!(
    outbox_records_only_failures_whose_signature_verified,
    |app| {
        let perms = ["visitor.visitors.view"];

        // Forged tokens are never written to the outbox.
        let forged = sign(
            &claims_json(&app, "acme", &perms),
            Algorithm::HS256,
            OTHER_SECRET,
        );
        assert_refused(&app, &forged, "UNAUTHENTICATED", "wrong secret").await;
        assert_refused(&app, "garbage", "UNAUTHENTICATED", "garbage").await;
        assert_refused(
            &app,
            &unsigned(&claims_json(&app, "acme", &perms)),
            "UNAUTHENTICATED",
            "alg none",
        )
        .await;
        let rows = outbox(&app).await;
        assert!(rows.is_empty(), "forged tokens wrote {rows:?}");

        // An expired, signature-valid token is reported.
        let t = now();
        let mut expired = claims_json(&app, "acme", &perms);
        expired["iat"] = json!(t - 600);
        expired["exp"] = json!(t - 300);
        let sub = expired["sub"].clone();
        assert_refused(
            &app,
            &sign(&expired, Algorithm::HS256, SECRET),
            "UNAUTHENTICATED",
            "expired",
        )
        .await;
        let rows = outbox(&app).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        let event = &rows[0].1;
        assert_eq!(rows[0].0, "auth.login_failed");
        assert_eq!(event["source"], "visitor", "{event}");
        assert_eq!(
            event["data"],
            json!({"reason": "expired", "sub": sub, "audience": "visitor"}),
            "{event}"
        );

        // A good login, then its replay.
        let claims = app.claims("acme", &perms);
        let token = app.mint(&claims);
        let (status, body) = app.exchange(&token).await;
        assert_eq!(status, 200, "{body}");
        assert_refused(&app, &token, "TOKEN_REPLAYED", "replay").await;
        let rows = outbox(&app).await;
        assert_eq!(rows.len(), 3, "{rows:?}");
        let logins = of_type(&rows, "auth.hub_sso_login");
        assert_eq!(logins.len(), 1, "{rows:?}");
        assert_eq!(
            logins[0]["data"],
            json!({"user_id": body["principal"]["user_id"], "kind": "staff", "audience": "visitor"})
        );
        let reasons: Vec<&Value> = of_type(&rows, "auth.login_failed")
            .into_iter()
            .map(|e| &e["data"]["reason"])
            .collect();
        assert_eq!(reasons, [&json!("expired"), &json!("replayed")], "{rows:?}");
    }
);

on_every_backend!(malformed_exchange_bodies_are_bad_requests, |app| {
    let url = format!("{}{EXCHANGE}", app.base);

    let response = app
        .client
        .post(&url)
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");

    let response = app
        .client
        .post(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{body}");

    let response = app
        .client
        .post(&url)
        .header(header::CONTENT_TYPE, "text/plain")
        .body("token=abc")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{body}");
});

on_every_backend!(
    without_a_secret_sso_is_not_configured,
    env = [("PORTAL_CLIENT_SSO_SECRET", "")],
    |app| {
        // An empty value counts as unset.
        let token = app.mint(&app.claims("acme", &["visitor.visitors.view"]));

        let response = post_exchange(&app, &token).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "SSO_NOT_CONFIGURED", "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");

        let response = get_redirect(&app, &token, Some("/visits")).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().get(header::LOCATION).is_none());
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        assert!(
            header_str(&response, header::CONTENT_TYPE).is_some_and(|t| t.starts_with("text/html"))
        );
        let page = response.text().await.expect("page");
        assert!(page.contains("SSO_NOT_CONFIGURED"), "{page}");

        let body = app.gql(None, LOGIN, json!({"t": token})).await;
        assert_eq!(code(&body), Some("SSO_NOT_CONFIGURED"), "{body}");
    }
);

on_every_backend!(
    redirect_flow_sets_the_cookie_and_redirects_to_a_relative_path,
    |app| {
        let token = app.mint(&app.claims("acme", &["visitor.visitors.view"]));
        let response = get_redirect(&app, &token, Some("/visits")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            header_str(&response, header::LOCATION).as_deref(),
            Some("/visits")
        );
        assert_eq!(
            header_str(&response, header::REFERRER_POLICY).as_deref(),
            Some("no-referrer")
        );
        assert_eq!(
            header_str(&response, header::CACHE_CONTROL).as_deref(),
            Some("no-store")
        );
        let set_cookie = header_str(&response, header::SET_COOKIE).expect("Set-Cookie");
        let session = cookie_value(&set_cookie).to_owned();
        assert_session_cookie(&set_cookie, &session);
        let body = me_with_cookie(&app, &session).await;
        assert_eq!(body["data"]["me"]["kind"], "STAFF", "{body}");

        // A path with a query string is kept as it is.
        let token = app.mint(&app.claims("acme", &["visitor.visitors.view"]));
        let response = get_redirect(&app, &token, Some("/visits?status=open")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            header_str(&response, header::LOCATION).as_deref(),
            Some("/visits?status=open")
        );

        // Without a redirect the target is `/`.
        let token = app.mint(&app.claims("acme", &["visitor.visitors.view"]));
        let response = get_redirect(&app, &token, None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            header_str(&response, header::LOCATION).as_deref(),
            Some("/")
        );

        for hostile in [
            "//evil.com",
            "/\\evil.com",
            "https://evil.com",
            "/%2F%2Fevil.com",
            "/%5Cevil.com",
            "javascript:alert(1)",
            "evil.com",
            "/a\r\nSet-Cookie: x=1",
        ] {
            let token = app.mint(&app.claims("acme", &["visitor.visitors.view"]));
            let response = get_redirect(&app, &token, Some(hostile)).await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{hostile}");
            assert_eq!(
                header_str(&response, header::LOCATION).as_deref(),
                Some("/"),
                "{hostile}"
            );
            assert!(
                response.headers().get(header::SET_COOKIE).is_some(),
                "{hostile}"
            );
        }
    }
);

on_every_backend!(redirect_flow_shows_an_error_page_for_a_bad_token, |app| {
    for (token, code) in [
        ("garbage".to_owned(), "UNAUTHENTICATED"),
        (
            sign(
                &claims_json(&app, "acme", &["visitor.visitors.view"]),
                Algorithm::HS256,
                OTHER_SECRET,
            ),
            "UNAUTHENTICATED",
        ),
    ] {
        let response = get_redirect(&app, &token, Some("/visits")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token}");
        assert!(response.headers().get(header::LOCATION).is_none());
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        assert!(
            header_str(&response, header::CONTENT_TYPE).is_some_and(|t| t.starts_with("text/html"))
        );
        assert_eq!(
            header_str(&response, header::CACHE_CONTROL).as_deref(),
            Some("no-store")
        );
        let page = response.text().await.expect("page");
        assert!(page.contains("Sign-in failed"), "{page}");
        assert!(page.contains(code), "{page}");
        assert!(!page.contains(&token), "the token is echoed: {page}");
    }

    // No token at all is an error page too, not a redirect.
    let response = app
        .client
        .get(format!("{}{EXCHANGE}?redirect=/visits", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(header::LOCATION).is_none());
});

on_every_backend!(
    login_with_hub_sso_mutation_returns_a_working_session,
    |app| {
        let token =
            app.mint(&app.claims("acme", &["visitor.visitors.view", "portal.invoices.view"]));
        let data = app.gql(None, LOGIN, json!({"t": token})).await;
        assert!(data.get("errors").is_none(), "{data}");
        let session = &data["data"]["loginWithHubSso"];
        assert_eq!(session["principal"]["kind"], "STAFF", "{data}");
        assert_eq!(
            session["principal"]["permissions"],
            json!(["visitor.visitors.view"]),
            "{data}"
        );
        assert_eq!(
            session["principal"]["tenant"]["id"],
            tenant_id("acme").as_str(),
            "{data}"
        );
        let expires_at =
            chrono::DateTime::parse_from_rfc3339(session["expiresAt"].as_str().expect("expiresAt"))
                .expect("RFC 3339");
        let hours = (expires_at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes();
        assert!((479..=480).contains(&hours), "{hours} minutes");
        let session_token = session["token"].as_str().expect("token");
        let me = app.ok(session_token, ME, json!({})).await;
        assert_eq!(me["me"]["kind"], "STAFF", "{me}");

        // A bad token through GraphQL is UNAUTHENTICATED with a null session.
        let body = app.gql(None, LOGIN, json!({"t": "garbage"})).await;
        assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
        assert!(body["data"]["loginWithHubSso"].is_null(), "{body}");
    }
);

on_every_backend!(logout_revokes_the_session, |app| {
    // Without a session, logout is still true.
    let body = app.gql(None, "mutation { logout }", json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["logout"], true, "{body}");

    // The mutation revokes the caller's session, for bearer and cookie alike.
    let session = app.staff_session("acme", &["visitor.visitors.view"]).await;
    let other = app.staff_session("acme", &["visitor.visitors.view"]).await;
    app.ok(&session, ME, json!({})).await;
    let data = app.ok(&session, "mutation { logout }", json!({})).await;
    assert_eq!(data["logout"], true);
    let body = app.gql(Some(&session), ME, json!({})).await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
    assert!(body["data"]["me"].is_null(), "{body}");
    let body = me_with_cookie(&app, &session).await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
    // Another session of the same user is untouched.
    app.ok(&other, ME, json!({})).await;

    // POST /api/auth/logout revokes too and clears the cookie.
    let response = app
        .client
        .post(format!("{}/api/auth/logout", app.base))
        .bearer_auth(&other)
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::OK);
    let cleared = header_str(&response, header::SET_COOKIE).expect("Set-Cookie");
    assert!(cleared.starts_with("onegraph_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let body = app.gql(Some(&other), ME, json!({})).await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");

    // With the cookie.
    let third = app.staff_session("acme", &["visitor.visitors.view"]).await;
    let response = app
        .client
        .post(format!("{}/api/auth/logout", app.base))
        .header(header::COOKIE, format!("onegraph_session={third}"))
        .json(&json!({}))
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::OK);
    let body = app.gql(Some(&third), ME, json!({})).await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");

    // A cookie-authenticated logout must be a JSON POST: a cross-site form (or a body without
    // a content type) cannot sign the user out.
    let fourth = app.staff_session("acme", &["visitor.visitors.view"]).await;
    for content_type in [
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        None,
    ] {
        let mut request = app
            .client
            .post(format!("{}/api/auth/logout", app.base))
            .header(header::COOKIE, format!("onegraph_session={fourth}"));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = request.body("").send().await.expect("logout");
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{body}");
        app.ok(&fourth, ME, json!({})).await;
    }

    // Without a session, the REST logout answers 200 as well.
    let response = app
        .client
        .post(format!("{}/api/auth/logout", app.base))
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::OK);
});

on_every_backend!(
    the_exchange_is_rate_limited_per_address,
    env = [("AUTH_RATE_BURST", "3"), ("AUTH_RATE_PER_MINUTE", "1")],
    |app| {
        for attempt in 1..=3 {
            let response = post_exchange(&app, "garbage").await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "attempt {attempt}"
            );
        }
        // Even a good token is refused now.
        let token = app.mint(&app.claims("acme", &["visitor.visitors.view"]));
        let response = post_exchange(&app, &token).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = header_str(&response, header::RETRY_AFTER)
            .expect("Retry-After")
            .parse()
            .expect("Retry-After in seconds");
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");

        // The redirect flow and the mutation share the limit.
        let response = get_redirect(&app, &token, Some("/visits")).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().get(header::LOCATION).is_none());
        let body = app.gql(None, LOGIN, json!({"t": token})).await;
        assert_eq!(code(&body), Some("RATE_LIMITED"), "{body}");

        // The token was not consumed by the refused attempts: nothing was written.
        let rows = outbox(&app).await;
        assert!(rows.is_empty(), "{rows:?}");
    }
);

on_every_backend!(
    pair_kiosk_guesses_are_rate_limited,
    env = [("AUTH_RATE_BURST", "3"), ("AUTH_RATE_PER_MINUTE", "1")],
    |app| {
        const PAIR: &str =
            "mutation($c: String!){ pairKiosk(code: $c, name: \"Lobby\"){ token kiosk { id } } }";
        for guess in ["ABCDEFGH", "BCDEFGHJ", "CDEFGHJK"] {
            let body = app.gql(None, PAIR, json!({"c": guess})).await;
            assert!(body["data"]["pairKiosk"].is_null(), "{body}");
            let code = code(&body).expect("an error code");
            assert_ne!(code, "RATE_LIMITED", "{guess} refused too early: {body}");
        }
        let body = app.gql(None, PAIR, json!({"c": "DEFGHJKM"})).await;
        assert!(body["data"]["pairKiosk"].is_null(), "{body}");
        assert_eq!(code(&body), Some("RATE_LIMITED"), "{body}");
        assert!(
            body["errors"][0]["extensions"]["retryAfter"]
                .as_u64()
                .is_some_and(|s| s >= 1),
            "{body}"
        );
    }
);

on_every_backend!(a_request_with_two_session_cookies_is_refused, |app| {
    let staff = app.admin("acme").await;
    let other = app.admin("beta").await;
    // One session cookie works.
    assert!(me_with_cookie(&app, &staff).await["data"]["me"].is_object());
    // Two (a planted one beside the user's own, in either order) are refused outright:
    // which one a server would take is not the client's to guess.
    for cookies in [
        format!("onegraph_session={other}; onegraph_session={staff}"),
        format!("onegraph_session={staff}; onegraph_session={other}"),
    ] {
        let response = app
            .client
            .post(format!("{}/graphql", app.base))
            .header(header::COOKIE, cookies.clone())
            .json(&json!({"query": ME}))
            .send()
            .await
            .expect("graphql");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{cookies}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "UNAUTHENTICATED", "{body}");
    }
    // Split over two Cookie headers too.
    let response = app
        .client
        .post(format!("{}/graphql", app.base))
        .header(header::COOKIE, format!("onegraph_session={staff}"))
        .header(header::COOKIE, format!("onegraph_session={other}"))
        .json(&json!({"query": ME}))
        .send()
        .await
        .expect("graphql");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A bearer token decides on its own; cookies beside it are not read.
    let response = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&staff)
        .header(
            header::COOKIE,
            format!("onegraph_session={other}; onegraph_session={staff}"),
        )
        .json(&json!({"query": ME}))
        .send()
        .await
        .expect("graphql");
    assert_eq!(response.status(), StatusCode::OK);
});

on_every_backend!(concurrent_first_logins_bind_one_hub_sub_only, |app| {
    // A client's first SSO login binds Hub's `sub`; logins racing to be the first with
    // different `sub`s must not all succeed (the last one would silently rebind it).
    const RACERS: usize = 8;
    for round in 0..12 {
        let email = format!("racer{round}@example.com");
        app.provision_client("acme", "co-1", &email, "client_user")
            .await;
        let tokens: Vec<(String, String)> = (0..RACERS)
            .map(|i| {
                let mut claims = app.client_claims("acme", &email, None);
                claims.sub = format!("hub-racer-{round}-{i}");
                (claims.sub.clone(), app.mint(&claims))
            })
            .collect();
        let answers =
            futures_util::future::join_all(tokens.iter().map(|(_, token)| app.exchange(token)))
                .await;
        let winners: Vec<&str> = tokens
            .iter()
            .zip(&answers)
            .filter(|(_, (status, _))| *status == 200)
            .map(|((sub, _), _)| sub.as_str())
            .collect();
        let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        assert_eq!(winners.len(), 1, "round {round}: {statuses:?}");
        for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
            let body: &Value = body;
            assert_eq!(*status, 401, "{body}");
            assert_eq!(body["error"]["code"], "UNAUTHENTICATED", "{body}");
        }
        // The winner's `sub` is the one bound: it signs in again, the others do not.
        let mut claims = app.client_claims("acme", &email, None);
        claims.sub = winners[0].to_owned();
        assert_eq!(app.exchange(&app.mint(&claims)).await.0, 200);
        let mut claims = app.client_claims("acme", &email, None);
        claims.sub = tokens
            .iter()
            .map(|(sub, _)| sub.as_str())
            .find(|sub| *sub != winners[0])
            .unwrap()
            .to_owned();
        assert_eq!(app.exchange(&app.mint(&claims)).await.0, 401);
    }
});
