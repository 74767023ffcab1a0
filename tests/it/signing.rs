// Signing through the public surface: Legal's push becomes one signing request per active
// client user of the listed companies (a replay creates nothing, bad keys and malformed
// bodies change nothing); a client user signs their own request, which records the
// acknowledgement and sends Legal one `signing.completed` webhook with a valid
// X-Signature; nobody else sees or signs it.

use std::time::Duration;

use entities::{acknowledgements, outbox};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::{self, fake::*, *};

const WAIT: Duration = Duration::from_secs(15);
const SHA: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

const LIST: &str = "query($s: SigningStatus){ signingRequests(status: $s){ id policyId version \
    title documentUrl dueAt status acknowledgement { id signedAt signatureName contentSha256 } } }";
const SIGN: &str = "mutation($id: ID!, $name: String!){ signDocument(signingRequestId: $id, \
    signatureName: $name){ id signedAt signatureName contentSha256 } }";

/// A server on `backend` pointed at `legal`, with fast delivery and its own MAIL_DIR.
async fn server(backend: Backend, legal: &FakeServer) -> (TestApp, std::path::PathBuf) {
    let dir = mail_dir();
    let mut env = legal::env(legal);
    env.extend([
        ("OUTBOX_POLL_INTERVAL".to_owned(), "50ms".to_owned()),
        ("OUTBOX_RETRY_BASE".to_owned(), "100ms".to_owned()),
        ("UPSTREAM_TIMEOUT".to_owned(), "2s".to_owned()),
        ("MAIL_DIR".to_owned(), dir.display().to_string()),
    ]);
    (TestApp::spawn_on(backend, &pairs(&env)).await, dir)
}

fn policy(tenant: &str, companies: &[&str]) -> Value {
    json!({
        "tenant_id": tenant_id(tenant),
        "policy_id": "privacy",
        "version": 3,
        "title": "Privacy Policy",
        "document_url": "https://legal.example.com/privacy-v3.pdf",
        "content_sha256": SHA,
        "company_ids": companies,
        "due_at": "2099-01-31T17:00:00Z",
    })
}

async fn requests(app: &TestApp, token: &str) -> Vec<Value> {
    app.ok(token, LIST, json!({})).await["signingRequests"]
        .as_array()
        .unwrap()
        .clone()
}

async fn mail_rows(app: &TestApp) -> u64 {
    outbox::Entity::find()
        .filter(outbox::Column::EventType.eq("mail.signing_request"))
        .count(&app.state.db)
        .await
        .unwrap()
}

on_every_backend!(
    push_requests_each_active_user_of_the_listed_companies_once,
    |backend: Backend| {
        let legal = legal::start().await;
        let (app, dir) = server(backend, &legal).await;
        let a1 = app
            .client_session("acme", "co-a", "a1@example.com", false)
            .await;
        let a2 = app
            .client_session("acme", "co-a", "a2@example.com", true)
            .await;
        let b1 = app
            .client_session("acme", "co-b", "b1@example.com", false)
            .await;
        let c1 = app
            .client_session("acme", "co-c", "c1@example.com", false)
            .await;
        // Same company id in another tenant.
        let o1 = app
            .client_session("other", "co-a", "o1@example.com", false)
            .await;
        // An inactive user of a listed company.
        app.provision_client("acme", "co-a", "gone@example.com", "client_user")
            .await;
        let (status, _) = app
            .psa_contact(json!({
                "tenant_id": tenant_id("acme"), "contact_id": "contact-gone@example.com",
                "company_id": "co-a", "email": "gone@example.com", "name": "Gone",
                "portal_access": false,
            }))
            .await;
        assert_eq!(status, 200);

        let (status, body) = legal::push(
            &app,
            Some(legal::PORTAL_KEY),
            &policy("acme", &["co-a", "co-b"]),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body, json!({"created": 3, "already_requested": 0}));

        for token in [&a1, &a2, &b1] {
            let list = requests(&app, token).await;
            assert_eq!(list.len(), 1, "{list:?}");
            let r = &list[0];
            assert_eq!(r["policyId"], "privacy");
            assert_eq!(r["version"], 3);
            assert_eq!(r["title"], "Privacy Policy");
            assert_eq!(r["documentUrl"], "https://legal.example.com/privacy-v3.pdf");
            assert_eq!(r["dueAt"], "2099-01-31T17:00:00+00:00");
            assert_eq!(r["status"], "PENDING");
            assert!(r["acknowledgement"].is_null());
        }
        for token in [&c1, &o1] {
            assert!(requests(&app, token).await.is_empty());
        }
        // One notification per new signer, to that signer.
        let mails = wait_for_mail(&dir, 3, WAIT).await;
        for who in ["a1@example.com", "a2@example.com", "b1@example.com"] {
            assert_eq!(
                mails
                    .iter()
                    .filter(|m| m.contains(&format!("To: {who}")))
                    .count(),
                1,
                "{who}: {mails:#?}"
            );
        }

        // A replay creates nothing and sends nothing.
        let (status, body) = legal::push(
            &app,
            Some(legal::PORTAL_KEY),
            &policy("acme", &["co-a", "co-b"]),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"created": 0, "already_requested": 3}));
        assert_eq!(mail_rows(&app).await, 3);
        assert_eq!(requests(&app, &a1).await.len(), 1);
        // Widening the push to another company requests only its users.
        let (status, body) = legal::push(
            &app,
            Some(legal::PORTAL_KEY),
            &policy("acme", &["co-a", "co-b", "co-c"]),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body, json!({"created": 1, "already_requested": 3}));
        assert_eq!(requests(&app, &c1).await.len(), 1);
        // The same version with another document is refused.
        let mut changed = policy("acme", &["co-a"]);
        changed["content_sha256"] = json!("a".repeat(64));
        let (status, body) = legal::push(&app, Some(legal::PORTAL_KEY), &changed).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("CONFLICT"))
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(eml_files(&dir).len(), 4);
        let _ = std::fs::remove_dir_all(&dir);
    }
);

on_every_backend!(
    push_refuses_bad_keys_and_malformed_bodies,
    |backend: Backend| {
        let legal = legal::start().await;
        let (app, dir) = server(backend, &legal).await;
        let a1 = app
            .client_session("acme", "co-a", "a1@example.com", false)
            .await;
        let good = policy("acme", &["co-a"]);

        for key in [None, Some("wrong-key"), Some(support::PSA_KEY)] {
            let (status, body) = legal::push(&app, key, &good).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (401, Some("UNAUTHENTICATED")),
                "{key:?}: {body}"
            );
        }
        assert!(requests(&app, &a1).await.is_empty());

        let cases: Vec<(&str, Value)> = vec![
            ("title", json!(null)),
            ("version", json!("3")),
            ("version", json!(0)),
            ("content_sha256", json!("abc")),
            ("content_sha256", json!("z".repeat(64))),
            ("document_url", json!("ftp://legal.example.com/x.pdf")),
            ("document_url", json!("javascript:alert(1)")),
            ("company_ids", json!("co-a")),
            ("company_ids", json!([])),
            ("company_ids", json!([1])),
            ("due_at", json!("next tuesday")),
            ("tenant_id", json!("not-a-uuid")),
            ("title", json!("x".repeat(501))),
            ("policy_id", json!("  ")),
        ];
        for (field, value) in cases {
            let mut body = good.clone();
            if value.is_null() {
                body.as_object_mut().unwrap().remove(field);
            } else {
                body[field] = value.clone();
            }
            let (status, answer) = legal::push(&app, Some(legal::PORTAL_KEY), &body).await;
            assert_eq!(status, 400, "{field}={value}: {answer}");
            assert_eq!(answer["error"]["code"], "BAD_USER_INPUT");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains(field), "{field}={value}: {message}");
        }
        let (status, answer) =
            legal::push_raw(&app, Some(legal::PORTAL_KEY), "{\"tenant_id\":".into()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("BAD_USER_INPUT"))
        );
        let (status, _) = legal::push_raw(&app, Some(legal::PORTAL_KEY), "[1,2]".into()).await;
        assert_eq!(status, 400);

        assert!(requests(&app, &a1).await.is_empty());
        assert_eq!(mail_rows(&app).await, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
);

on_every_backend!(
    signing_records_the_acknowledgement_and_notifies_legal_once,
    |backend: Backend| {
        let legal = legal::start().await;
        // Legal fails first: the webhook is retried until it gets through.
        legal.set_mode(Mode::Status(500));
        let (app, dir) = server(backend, &legal).await;
        let a1 = app
            .client_session("acme", "co-a", "a1@example.com", false)
            .await;
        let (status, _) =
            legal::push(&app, Some(legal::PORTAL_KEY), &policy("acme", &["co-a"])).await;
        assert_eq!(status, 202);
        let id = requests(&app, &a1).await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let response = app
            .client
            .post(format!("{}/graphql", app.base))
            .bearer_auth(&a1)
            .header("User-Agent", "SigningTest/1.0")
            .json(&json!({"query": SIGN, "variables": {"id": id, "name": "Ada A. One"}}))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        let ack = body["data"]["signDocument"].clone();
        assert_eq!(ack["signatureName"], "Ada A. One");
        assert_eq!(ack["contentSha256"], SHA);
        let ack_id = ack["id"].as_str().unwrap().to_owned();

        let signed = app.ok(&a1, LIST, json!({"s": "SIGNED"})).await["signingRequests"].clone();
        assert_eq!(signed[0]["id"], id);
        assert_eq!(signed[0]["status"], "SIGNED");
        assert_eq!(signed[0]["acknowledgement"], ack);
        let pending = app.ok(&a1, LIST, json!({"s": "PENDING"})).await;
        assert_eq!(pending["signingRequests"], json!([]));

        // Who, when, from where, and the document as signed.
        let row = acknowledgements::Entity::find_by_id(ack_id.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.ip_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(row.user_agent.as_deref(), Some("SigningTest/1.0"));
        assert_eq!(row.content_sha256, SHA);
        assert_eq!(row.signing_request_id, id);

        // Signing twice is a conflict and sends nothing more.
        let again = app
            .gql(Some(&a1), SIGN, json!({"id": id, "name": "Ada A. One"}))
            .await;
        assert_eq!(code(&again), Some("CONFLICT"), "{again}");
        assert!(again["data"]["signDocument"].is_null());

        legal
            .wait_until("two failed webhook attempts", WAIT, |r| r.len() >= 2)
            .await;
        legal.set_mode(Mode::Ok);
        let received = legal
            .wait_until("the webhook", WAIT, |r| r.iter().any(|r| r.status == 200))
            .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let delivered = legal.accepted();
        assert_eq!(delivered.len(), 1, "{received:#?}");
        let webhook = &delivered[0];
        legal::verify(webhook, legal::WEBHOOK_SECRET).unwrap();
        // A wrong secret does not verify.
        assert!(legal::verify(webhook, "another-secret").is_err());
        // Each attempt is signed afresh, and every one verifies.
        for attempt in legal.received() {
            legal::verify(&attempt, legal::WEBHOOK_SECRET).unwrap();
        }
        let payload = webhook.json();
        let user =
            app.ok(&a1, "{ me { user { id } } }", json!({})).await["me"]["user"]["id"].clone();
        assert_eq!(payload["event"], "signing.completed");
        assert_eq!(payload["tenant_id"], tenant_id("acme"));
        assert_eq!(payload["policy_id"], "privacy");
        assert_eq!(payload["version"], 3);
        assert_eq!(payload["acknowledgement_id"], ack_id);
        assert_eq!(
            payload["signer"],
            json!({"id": user, "email": "a1@example.com", "name": "Client a1@example.com"})
        );
        let signed_at =
            chrono::DateTime::parse_from_rfc3339(payload["signed_at"].as_str().unwrap()).unwrap();
        let shown =
            chrono::DateTime::parse_from_rfc3339(ack["signedAt"].as_str().unwrap()).unwrap();
        assert!((signed_at - shown).num_milliseconds().abs() <= 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
);

on_every_backend!(nobody_else_sees_or_signs_a_request, |backend: Backend| {
    let legal = legal::start().await;
    let (app, dir) = server(backend, &legal).await;
    let a1 = app
        .client_session("acme", "co-a", "a1@example.com", false)
        .await;
    let a2 = app
        .client_session("acme", "co-a", "a2@example.com", true)
        .await;
    let b1 = app
        .client_session("acme", "co-b", "b1@example.com", true)
        .await;
    let o1 = app
        .client_session("other", "co-a", "o1@example.com", true)
        .await;
    let (status, _) = legal::push(&app, Some(legal::PORTAL_KEY), &policy("acme", &["co-a"])).await;
    assert_eq!(status, 202);
    let id = requests(&app, &a1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another company, another tenant, even a colleague of the same company: none sees it.
    for token in [&b1, &o1] {
        assert!(requests(&app, token).await.is_empty());
    }
    for token in [&a2, &b1, &o1] {
        let body = app
            .gql(Some(token), SIGN, json!({"id": id, "name": "Mallory"}))
            .await;
        assert_eq!(code(&body), Some("NOT_FOUND"), "{body}");
    }
    for bogus in ["not-a-uuid", "00000000-0000-4000-8000-000000000000"] {
        let body = app
            .gql(Some(&a1), SIGN, json!({"id": bogus, "name": "Ada"}))
            .await;
        assert_eq!(code(&body), Some("NOT_FOUND"), "{body}");
    }
    // A blank or over-long signature name is refused.
    for name in ["   ".to_owned(), "x".repeat(201)] {
        let body = app
            .gql(Some(&a1), SIGN, json!({"id": id, "name": name}))
            .await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    }
    // Staff users and clients without portal.signing.sign are refused by the guard.
    let staff = app.admin("acme").await;
    let body = app.gql(Some(&staff), LIST, json!({})).await;
    assert_eq!(code(&body), Some("FORBIDDEN"));
    assert_eq!(
        body["errors"][0]["extensions"]["permission"],
        "portal.signing.sign"
    );
    let token =
        app.mint(&app.client_claims("acme", "a1@example.com", Some(&["portal.tickets.view"])));
    let (_, session) = app.exchange(&token).await;
    let narrowed = session["session_token"].as_str().unwrap();
    let body = app
        .gql(Some(narrowed), SIGN, json!({"id": id, "name": "Ada"}))
        .await;
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
    let body = app.gql(None, LIST, json!({})).await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"));

    // None of that signed it.
    let list = requests(&app, &a1).await;
    assert_eq!(list[0]["status"], "PENDING");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(legal.received().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
});

on_every_backend!(
    a_request_past_its_due_date_is_expired,
    |backend: Backend| {
        let legal = legal::start().await;
        let (app, dir) = server(backend, &legal).await;
        let a1 = app
            .client_session("acme", "co-a", "a1@example.com", false)
            .await;
        let mut late = policy("acme", &["co-a"]);
        late["due_at"] = json!("2020-01-01T00:00:00Z");
        let (status, _) = legal::push(&app, Some(legal::PORTAL_KEY), &late).await;
        assert_eq!(status, 202);
        let mut open = policy("acme", &["co-a"]);
        open["policy_id"] = json!("terms");
        open["due_at"] = json!(null);
        let (status, _) = legal::push(&app, Some(legal::PORTAL_KEY), &open).await;
        assert_eq!(status, 202);

        let expired = app.ok(&a1, LIST, json!({"s": "EXPIRED"})).await["signingRequests"].clone();
        assert_eq!(expired.as_array().unwrap().len(), 1, "{expired}");
        assert_eq!(expired[0]["policyId"], "privacy");
        assert_eq!(expired[0]["status"], "EXPIRED");
        let pending = app.ok(&a1, LIST, json!({"s": "PENDING"})).await["signingRequests"].clone();
        assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
        assert_eq!(pending[0]["policyId"], "terms");
        assert!(pending[0]["dueAt"].is_null());
        assert_eq!(requests(&app, &a1).await.len(), 2);

        let id = expired[0]["id"].as_str().unwrap();
        let body = app
            .gql(Some(&a1), SIGN, json!({"id": id, "name": "Ada"}))
            .await;
        assert_eq!(code(&body), Some("CONFLICT"), "{body}");
        assert_eq!(
            app.ok(&a1, LIST, json!({"s": "EXPIRED"})).await["signingRequests"][0]["status"],
            "EXPIRED"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
);

on_every_backend!(concurrent_signatures_record_one, |backend: Backend| {
    let legal = legal::start().await;
    let (app, dir) = server(backend, &legal).await;
    let a1 = app
        .client_session("acme", "co-a", "a1@example.com", false)
        .await;
    let (status, _) = legal::push(&app, Some(legal::PORTAL_KEY), &policy("acme", &["co-a"])).await;
    assert_eq!(status, 202);
    let id = requests(&app, &a1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answers = futures_util::future::join_all(
        (0..4).map(|_| app.gql(Some(&a1), SIGN, json!({"id": id, "name": "Ada"}))),
    )
    .await;
    let signed = answers.iter().filter(|a| a.get("errors").is_none()).count();
    let conflicts = answers
        .iter()
        .filter(|a| code(a) == Some("CONFLICT"))
        .count();
    assert_eq!((signed, conflicts), (1, 3), "{answers:#?}");
    legal
        .wait_until("the webhook", WAIT, |r| !r.is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(legal.received().len(), 1);
    let acks = acknowledgements::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(acks, 1);
    let _ = std::fs::remove_dir_all(&dir);
});
