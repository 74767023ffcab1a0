//! Tenant integration keys (`integrationKeys`, `createIntegrationKey`,
//! `revokeIntegrationKey`) and the integration endpoints they open
//! (`/api/integration/visitors-today`, `/locations`, `/webhook`): a tenant key sees its own
//! tenant only, the platform key every tenant, a revoked key nothing from the next request
//! on; lists page; a webhook event is an audit entry once.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const PLATFORM_KEY: &str = "platform-integration-key-0123456789abcdef";

const CREATE: &str = "mutation($n: String!) { createIntegrationKey(name: $n) { key \
                      integrationKey { id name createdAt lastUsedAt revokedAt } } }";

async fn create_key(app: &TestApp, token: &str, name: &str) -> (String, String) {
    let data = app.ok(token, CREATE, json!({"n": name})).await;
    let created = &data["createIntegrationKey"];
    (
        created["key"].as_str().expect("key").to_owned(),
        created["integrationKey"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
    )
}

/// GET `path` with `key` (none: no header): (status, body).
async fn get(app: &TestApp, key: Option<&str>, path: &str) -> (StatusCode, Value) {
    let mut request = app.client.get(format!("{}{path}", app.base));
    if let Some(key) = key {
        request = request.header("X-Integration-Key", key);
    }
    let response = request.send().await.expect("get");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// POST `body` (raw) to the webhook with `key`: (status, body).
async fn webhook(app: &TestApp, key: &str, body: String) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}/api/integration/webhook", app.base))
        .header("X-Integration-Key", key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn names(body: &Value, list: &str, field: &str) -> Vec<String> {
    let mut names: Vec<String> = body[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} in {body}"))
        .iter()
        .map(|row| {
            row.pointer(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

on_every_backend!(
    a_tenant_key_sees_its_tenant_until_it_is_revoked,
    env = [("INTEGRATION_KEY", PLATFORM_KEY)],
    |app| {
        let a = app.admin("keys-a").await;
        let b = app.admin("keys-b").await;
        app.create_location(&a, "A Lobby").await;
        app.create_location(&b, "B Lobby").await;

        let (key, id) = create_key(&app, &a, "Building system").await;
        assert!(key.starts_with("ogi_"), "{key}");
        // The list never shows the key, and the key has not been used yet.
        let listed = app
            .ok(
                &a,
                "{ integrationKeys { id name createdAt lastUsedAt revokedAt } }",
                json!({}),
            )
            .await;
        assert_eq!(listed["integrationKeys"][0]["id"], id.as_str(), "{listed}");
        assert!(listed["integrationKeys"][0]["lastUsedAt"].is_null());
        assert!(!listed.to_string().contains(&key));
        // Another tenant sees none of A's keys.
        let other = app.ok(&b, "{ integrationKeys { id } }", json!({})).await;
        assert_eq!(other["integrationKeys"], json!([]), "{other}");

        // A's key reads A's locations only, whatever tenant it asks for.
        let (status, body) = get(&app, Some(&key), "/api/integration/locations").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(names(&body, "locations", "/name"), ["A Lobby"], "{body}");
        let path = format!(
            "/api/integration/locations?tenant_id={}",
            tenant_id("keys-b")
        );
        let (status, body) = get(&app, Some(&key), &path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["locations"], json!([]), "{body}");

        // The platform key reads every tenant, or one.
        let (_, body) = get(&app, Some(PLATFORM_KEY), "/api/integration/locations").await;
        let all = names(&body, "locations", "/name");
        assert!(all.contains(&"A Lobby".to_owned()) && all.contains(&"B Lobby".to_owned()));
        let (_, body) = get(&app, Some(PLATFORM_KEY), &path).await;
        assert_eq!(names(&body, "locations", "/name"), ["B Lobby"], "{body}");

        // Its use is recorded.
        let listed = app
            .ok(&a, "{ integrationKeys { lastUsedAt } }", json!({}))
            .await;
        assert!(
            listed["integrationKeys"][0]["lastUsedAt"].is_string(),
            "{listed}"
        );

        // Another tenant's admin cannot revoke it: NOT_FOUND, and the key still works.
        let body = app
            .gql(
                Some(&b),
                "mutation($id: ID!) { revokeIntegrationKey(id: $id) { id } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(code(&body), Some("NOT_FOUND"), "{body}");
        let (status, _) = get(&app, Some(&key), "/api/integration/locations").await;
        assert_eq!(status, StatusCode::OK);

        // Revoked: refused from the next request on.
        let revoked = app
            .ok(
                &a,
                "mutation($id: ID!) { revokeIntegrationKey(id: $id) { id revokedAt } }",
                json!({"id": id}),
            )
            .await;
        assert!(revoked["revokeIntegrationKey"]["revokedAt"].is_string());
        let (status, body) = get(&app, Some(&key), "/api/integration/locations").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "UNAUTHENTICATED", "{body}");

        // Both changes are in A's audit log.
        let audit = app
            .ok(
                &a,
                "{ auditLog(first: 10) { edges { node { action } } } }",
                json!({}),
            )
            .await;
        let actions = audit.to_string();
        assert!(actions.contains("integration_key.create"), "{audit}");
        assert!(actions.contains("integration_key.revoke"), "{audit}");
    }
);

on_every_backend!(
    missing_wrong_and_malformed_requests_are_refused,
    env = [("INTEGRATION_KEY", PLATFORM_KEY)],
    |app| {
        for key in [None, Some(""), Some("wrong"), Some("ogi_not-a-key")] {
            for path in [
                "/api/integration/locations",
                "/api/integration/visitors-today",
            ] {
                let (status, body) = get(&app, key, path).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{key:?} {path}: {body}");
                assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
            }
        }
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=ten", "limit"),
            ("after=not-a-cursor", "after"),
        ] {
            let (status, body) = get(
                &app,
                Some(PLATFORM_KEY),
                &format!("/api/integration/visitors-today?{query}"),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert_eq!(body["error"]["code"], "BAD_USER_INPUT");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(field),
                "{query}: {body}"
            );
        }
        // A key is needed to create keys' worth of nothing: a staff member without the
        // admin permission is refused.
        let token = app
            .staff_session("keys-forbidden", &["visitor.visitors.view"])
            .await;
        let body = app.gql(Some(&token), CREATE, json!({"n": "x"})).await;
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
        let body = app.gql(Some(&token), CREATE, json!({"n": "   "})).await;
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
        let admin = app.admin("keys-forbidden").await;
        let body = app.gql(Some(&admin), CREATE, json!({"n": "   "})).await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    }
);

on_every_backend!(
    visitors_today_is_the_utc_day_of_one_tenant_in_pages,
    env = [("INTEGRATION_KEY", PLATFORM_KEY)],
    |app| {
        let a = app.admin("today-a").await;
        let b = app.admin("today-b").await;
        let lobby = app.create_location(&a, "A Lobby").await;
        let dock = app.create_location(&b, "B Dock").await;
        for n in 0..3 {
            app.check_in(&a, &lobby, &format!("A Visitor {n}")).await;
        }
        app.check_in(&b, &dock, "B Visitor").await;
        let (key, _) = create_key(&app, &a, "Doors").await;

        // Three of A's visits, in pages of two, nothing twice, nothing of B's.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..3 {
            let path = match &after {
                Some(cursor) => format!("/api/integration/visitors-today?limit=2&after={cursor}"),
                None => "/api/integration/visitors-today?limit=2".to_owned(),
            };
            let (status, body) = get(&app, Some(&key), &path).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            for visit in body["visits"].as_array().expect("visits") {
                assert_eq!(visit["tenant_id"], tenant_id("today-a").as_str(), "{body}");
                assert_eq!(visit["location"]["name"], "A Lobby", "{body}");
                assert_eq!(visit["status"], "checked_in", "{body}");
                seen.push(visit["visitor"]["name"].as_str().expect("name").to_owned());
            }
            after = body["next_cursor"].as_str().map(str::to_owned);
            if after.is_none() {
                break;
            }
        }
        seen.sort();
        assert_eq!(seen, ["A Visitor 0", "A Visitor 1", "A Visitor 2"]);

        // The platform key: both tenants.
        let (_, body) = get(&app, Some(PLATFORM_KEY), "/api/integration/visitors-today").await;
        assert_eq!(body["visits"].as_array().map(Vec::len), Some(4), "{body}");

        // Tomorrow, today's visits are yesterday's.
        app.state
            .clock
            .set(Some(chrono::Utc::now() + chrono::Duration::days(1)));
        let (_, body) = get(&app, Some(&key), "/api/integration/visitors-today").await;
        assert_eq!(body["visits"], json!([]), "{body}");
    }
);

fn event(id: &str, tenant: &str) -> Value {
    json!({
        "id": id,
        "type": "door.opened",
        "source": "acme-doors",
        "tenant_id": tenant,
        "occurred_at": "2026-12-06T08:00:00Z",
        "data": {"door": "north", "badge": 17},
    })
}

async fn webhook_entries(app: &TestApp, token: &str) -> usize {
    let audit = app
        .ok(
            token,
            "{ auditLog(first: 50) { edges { node { actor action target } } } }",
            json!({}),
        )
        .await;
    audit["auditLog"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter(|e| e["node"]["action"] == "webhook.door.opened")
        .inspect(|e| assert_eq!(e["node"]["actor"], "webhook:acme-doors", "{e}"))
        .count()
}

on_every_backend!(
    a_webhook_event_is_audited_once,
    env = [("INTEGRATION_KEY", PLATFORM_KEY)],
    |app| {
        let a = app.admin("hook-a").await;
        let b = app.admin("hook-b").await;
        let (key, _) = create_key(&app, &a, "Doors").await;
        let tenant_a = tenant_id("hook-a");

        let (status, body) = webhook(&app, &key, event("evt-1", &tenant_a).to_string()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["duplicate"], false, "{body}");
        assert_eq!(webhook_entries(&app, &a).await, 1);

        // A replay: 202, nothing new.
        let (status, body) = webhook(&app, &key, event("evt-1", &tenant_a).to_string()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["duplicate"], true, "{body}");
        assert_eq!(webhook_entries(&app, &a).await, 1);

        // Malformed: 400 naming the field, nothing stored.
        let mut missing_type = event("evt-2", &tenant_a);
        missing_type.as_object_mut().expect("object").remove("type");
        let mut bad_time = event("evt-3", &tenant_a);
        bad_time["occurred_at"] = json!("yesterday");
        let mut bad_tenant = event("evt-4", &tenant_a);
        bad_tenant["tenant_id"] = json!("not-a-tenant");
        let mut huge = event("evt-5", &tenant_a);
        huge["data"] = json!({"blob": "x".repeat(20_000)});
        for (body, field) in [
            ("{not json".to_owned(), "invalid request body"),
            ("[1, 2]".to_owned(), "JSON object"),
            (missing_type.to_string(), "type"),
            (bad_time.to_string(), "occurred_at"),
            (bad_tenant.to_string(), "tenant_id"),
            (huge.to_string(), "data"),
        ] {
            let (status, answer) = webhook(&app, &key, body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            assert_eq!(answer["error"]["code"], "BAD_USER_INPUT");
            assert!(
                answer["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(field),
                "{field}: {answer}"
            );
        }
        assert_eq!(webhook_entries(&app, &a).await, 1);

        // A's key cannot write to B, nor to a tenant that does not exist: the same 404.
        let (status, body) =
            webhook(&app, &key, event("evt-6", &tenant_id("hook-b")).to_string()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, nobody) = webhook(
            &app,
            &key,
            event("evt-6", &tenant_id("hook-nobody")).to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{nobody}");
        assert_eq!(body, nobody);
        assert_eq!(webhook_entries(&app, &b).await, 0);

        // The platform key writes to any tenant; the same event id from it is still the
        // same event.
        let (status, body) = webhook(
            &app,
            PLATFORM_KEY,
            event("evt-6", &tenant_id("hook-b")).to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(webhook_entries(&app, &b).await, 1);
        let (_, body) = webhook(&app, PLATFORM_KEY, event("evt-1", &tenant_a).to_string()).await;
        assert_eq!(body["duplicate"], true, "{body}");
        assert_eq!(webhook_entries(&app, &a).await, 1);
    }
);

on_every_backend!(
    wrong_keys_are_rate_limited_per_address,
    env = [
        ("INTEGRATION_KEY", PLATFORM_KEY),
        ("AUTH_RATE_BURST", "3"),
        ("AUTH_RATE_PER_MINUTE", "1")
    ],
    |app| {
        // Failed sign-ins from the address use up the sign-on allowance, not the keys'.
        for expected in [401, 401, 401, 429] {
            let response = app
                .client
                .post(format!("{}/api/auth/client-hub-sso", app.base))
                .json(&json!({"token": "not-a-token"}))
                .send()
                .await
                .expect("sign-in");
            assert_eq!(response.status().as_u16(), expected);
        }
        // The right key gives its token back: it is never what runs the allowance out.
        for _ in 0..5 {
            let (status, body) = get(&app, Some(PLATFORM_KEY), "/api/integration/locations").await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        // Wrong keys use it up, on the integration endpoints and on PSA's push alike.
        for path in [
            "/api/integration/locations",
            "/api/integration/visitors-today",
        ] {
            let (status, body) = get(&app, Some("ogi_guess"), path).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        }
        let response = app
            .client
            .post(format!("{}/internal/psa/contacts", app.base))
            .header("X-Integration-Key", "guess")
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let (status, body) = get(&app, Some("ogi_guess"), "/api/integration/locations").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");
        let (status, body) = webhook(&app, "guess", "{}".to_owned()).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    }
);

on_every_backend!(
    webhook_events_are_forgotten_after_the_retention_days,
    |app| {
        use onegraph::jobs::{Job, execute};
        let a = app.admin("forget-a").await;
        let b = app.admin("forget-b").await;
        app.ok(
            &a,
            "mutation { updateVisitorSettings(input: {retentionDays: 30}) { retentionDays } }",
            json!({}),
        )
        .await;
        let (key_a, _) = create_key(&app, &a, "Doors").await;
        let (key_b, _) = create_key(&app, &b, "Doors").await;
        for (key, tenant) in [(&key_a, "forget-a"), (&key_b, "forget-b")] {
            let (status, body) =
                webhook(&app, key, event("evt-1", &tenant_id(tenant)).to_string()).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        }

        // Forty days on, tenant a's event is past its 30 days; b keeps the default 365.
        app.state
            .clock
            .set(Some(chrono::Utc::now() + chrono::Duration::days(40)));
        let report = execute(&app.state, Job::Retention)
            .await
            .expect("retention");
        app.state.clock.set(None);
        let expired = |tenant: &str| {
            report
                .per_tenant
                .get(&tenant_id(tenant))
                .and_then(|c| c.get("webhook_events_expired"))
                .copied()
                .unwrap_or(0)
        };
        assert_eq!(expired("forget-a"), 1, "{report:?}");
        assert_eq!(expired("forget-b"), 0, "{report:?}");
        assert_eq!(webhook_entries(&app, &a).await, 0);
        assert_eq!(webhook_entries(&app, &b).await, 1);
        // Tenant b's event is still a replay; tenant a's id is free again.
        let (_, body) = webhook(
            &app,
            &key_b,
            event("evt-1", &tenant_id("forget-b")).to_string(),
        )
        .await;
        assert_eq!(body["duplicate"], true, "{body}");
        let (_, body) = webhook(
            &app,
            &key_a,
            event("evt-1", &tenant_id("forget-a")).to_string(),
        )
        .await;
        assert_eq!(body["duplicate"], false, "{body}");
    }
);
