// Portal client users through the public surface: PSA's contact push provisions, updates and
// deactivates them; Hub SSO with `aud: "portal"` signs them in by tenant and e-mail, binds
// Hub's `sub`, narrows permissions to the claim; deactivation ends their sessions.

use serde_json::{Value, json};

use crate::support::*;

const ME: &str = "{ me { kind permissions user { id name email } tenant { id } } }";

fn contact(tenant: &str, contact: &str, company: &str, email: &str, access: bool) -> Value {
    json!({
        "tenant_id": tenant_id(tenant),
        "contact_id": contact,
        "company_id": company,
        "email": email,
        "name": "Cleo Client",
        "portal_access": access,
    })
}

async fn push_without_key(app: &TestApp, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/internal/psa/contacts", app.base))
        .json(body);
    if let Some(key) = key {
        request = request.header("X-Integration-Key", key);
    }
    let response = request.send().await.expect("push");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

on_every_backend!(provisioned_contact_signs_in_with_role_permissions, |app| {
    let (status, body) = app
        .psa_contact(contact("acme", "c-1", "co-1", "Cleo@Example.com", true))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("created")));
    // A replay changes nothing.
    let (status, body) = app
        .psa_contact(contact("acme", "c-1", "co-1", "cleo@example.com", true))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("updated")));

    let token = app.mint(&app.client_claims("acme", "CLEO@example.com", None));
    let (status, body) = app.exchange(&token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["principal"]["kind"], "client");
    let session = body["session_token"].as_str().unwrap().to_owned();
    let me = app.ok(&session, ME, json!({})).await;
    assert_eq!(me["me"]["kind"], "CLIENT");
    assert_eq!(me["me"]["user"]["email"], "cleo@example.com");
    let perms: Vec<&str> = me["me"]["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(perms.contains(&"portal.tickets.view"));
    assert!(!perms.contains(&"portal.users.manage"), "{perms:?}");
    assert!(perms.iter().all(|p| p.starts_with("portal.")));
});

on_every_backend!(
    first_admin_gets_every_portal_permission_and_claim_narrows,
    |app| {
        app.provision_client("acme", "co-1", "boss@example.com", "client_admin")
            .await;
        let token = app.mint(&app.client_claims("acme", "boss@example.com", None));
        let (_, body) = app.exchange(&token).await;
        assert_eq!(
            body["principal"]["permissions"].as_array().unwrap().len(),
            7,
            "{body}"
        );
        let token = app.mint(&app.client_claims(
            "acme",
            "boss@example.com",
            Some(&[
                "portal.tickets.view",
                "visitor.visitors.view",
                "portal.nope",
            ]),
        ));
        let (_, body) = app.exchange(&token).await;
        assert_eq!(
            body["principal"]["permissions"],
            json!(["portal.tickets.view"])
        );
    }
);

on_every_backend!(unknown_inactive_and_rebound_accounts_are_refused, |app| {
    let token = app.mint(&app.client_claims("acme", "nobody@example.com", None));
    let (status, body) = app.exchange(&token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("ACCOUNT_NOT_FOUND"))
    );

    app.provision_client("acme", "co-1", "cleo@example.com", "client_user")
        .await;
    // Another tenant's user of the same e-mail does not exist.
    let token = app.mint(&app.client_claims("other", "cleo@example.com", None));
    let (status, _) = app.exchange(&token).await;
    assert_eq!(status, 401);

    let session = {
        let token = app.mint(&app.client_claims("acme", "cleo@example.com", None));
        let (status, body) = app.exchange(&token).await;
        assert_eq!(status, 200, "{body}");
        body["session_token"].as_str().unwrap().to_owned()
    };
    // Hub's sub is bound on the first login: another sub for the same e-mail is refused.
    let mut claims = app.client_claims("acme", "cleo@example.com", None);
    claims.sub = "hub-someone-else".into();
    let (status, body) = app.exchange(&app.mint(&claims)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );

    // PSA turns portal access off: the session ends and sign-in is refused.
    let (status, body) = app
        .psa_contact(contact(
            "acme",
            "contact-cleo@example.com",
            "co-1",
            "cleo@example.com",
            false,
        ))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("deactivated"))
    );
    let body = app.gql(Some(&session), ME, json!({})).await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
    let token = app.mint(&app.client_claims("acme", "cleo@example.com", None));
    let (status, body) = app.exchange(&token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );

    // Access back on: the user signs in again.
    app.provision_client("acme", "co-1", "cleo@example.com", "client_user")
        .await;
    let token = app.mint(&app.client_claims("acme", "cleo@example.com", None));
    let (status, _) = app.exchange(&token).await;
    assert_eq!(status, 200);
});

on_every_backend!(contact_push_refuses_bad_keys_and_bodies, |app| {
    let body = contact("acme", "c-1", "co-1", "cleo@example.com", true);
    for key in [None, Some("wrong"), Some("")] {
        let (status, answer) = push_without_key(&app, key, &body).await;
        assert_eq!(status, 401, "{key:?}");
        assert_eq!(answer["error"]["code"], "UNAUTHENTICATED");
    }
    let (status, answer) = push_without_key(
        &app,
        Some(PSA_KEY),
        &json!({"tenant_id": tenant_id("acme")}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("contact_id"),
        "{answer}"
    );
    let mut bad = body.clone();
    bad["email"] = json!("not-an-email");
    let (status, answer) = push_without_key(&app, Some(PSA_KEY), &bad).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("email")
    );
    let response = app
        .client
        .post(format!("{}/internal/psa/contacts", app.base))
        .header("X-Integration-Key", PSA_KEY)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    // Nothing was provisioned by any of these.
    let token = app.mint(&app.client_claims("acme", "cleo@example.com", None));
    let (status, _) = app.exchange(&token).await;
    assert_eq!(status, 401);
});

on_every_backend!(
    a_role_change_ends_sessions_and_clashing_contacts_conflict,
    |app| {
        let admin = app
            .client_session("acme", "co-1", "boss@example.com", true)
            .await;
        let me = app.ok(&admin, ME, json!({})).await;
        assert!(
            me["me"]["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("portal.users.manage"))
        );
        // PSA makes the admin an ordinary user: the admin session ends, a new login has the
        // ordinary permissions.
        let mut push = contact(
            "acme",
            "contact-boss@example.com",
            "co-1",
            "boss@example.com",
            true,
        );
        push["role"] = json!("client_user");
        let (status, body) = app.psa_contact(push.clone()).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("updated")));
        let body = app.gql(Some(&admin), ME, json!({})).await;
        assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
        let token = app.mint(&app.client_claims("acme", "boss@example.com", None));
        let (status, body) = app.exchange(&token).await;
        assert_eq!(status, 200, "{body}");
        let perms = body["principal"]["permissions"].as_array().unwrap().clone();
        assert!(!perms.contains(&json!("portal.users.manage")), "{perms:?}");
        // The same role again changes nothing about sessions.
        let session = body["session_token"].as_str().unwrap().to_owned();
        let (status, _) = app.psa_contact(push).await;
        assert_eq!(status, 200);
        app.ok(&session, ME, json!({})).await;

        // Another contact taking an e-mail that is already a user's is a conflict, and changes
        // neither user.
        app.provision_client("acme", "co-1", "cleo@example.com", "client_user")
            .await;
        let clash = contact(
            "acme",
            "contact-boss@example.com",
            "co-1",
            "cleo@example.com",
            true,
        );
        let (status, body) = app.psa_contact(clash).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("CONFLICT")),
            "{body}"
        );
        app.ok(&session, ME, json!({})).await;
        let me = app.ok(&session, ME, json!({})).await;
        assert_eq!(me["me"]["user"]["email"], "boss@example.com");
    }
);
