// Portal client identity through the public surface: a client admin invites a user, the
// invitation e-mail (delivered by the outbox dispatcher as an `.eml` file into the server's
// own MAIL_DIR, read from there) carries a single-use link, `setPassword` consumes it,
// `login` signs in with the password; password resets (queued in the background), token
// reuse, weak passwords, session revocation, company isolation, guards, validation, the rate
// limiter, and delivered mail rows that keep no link.

use serde_json::{Value, json};

use crate::support::*;

const PUBLIC_URL: &str = "https://portal.example.com";
const PASSWORD: &str = "correct horse battery staple";

const INVITE: &str = "mutation($e: String!, $n: String!, $r: ClientRole) {
    inviteClientUser(email: $e, name: $n, role: $r) { id email name role active } }";
const INVITE_DEFAULT_ROLE: &str = "mutation($e: String!, $n: String!) {
    inviteClientUser(email: $e, name: $n) { id email name role active } }";
const SET_PASSWORD: &str =
    "mutation($t: String!, $p: String!) { setPassword(token: $t, password: $p) }";
const LOGIN: &str = "mutation($t: ID!, $e: String!, $p: String!) {
    login(tenantId: $t, email: $e, password: $p) {
        token expiresAt principal { kind permissions user { email } } } }";
const RESET: &str =
    "mutation($t: ID!, $e: String!) { requestPasswordReset(tenantId: $t, email: $e) }";
const CLIENT_USERS: &str = "{ clientUsers { id email name role active } }";

/// A fresh MAIL_DIR for one test server (`env = [("MAIL_DIR", &*own_mail_dir())]`).
fn own_mail_dir() -> String {
    fake::mail_dir().display().to_string()
}

/// The dispatcher polls often, so mail is in MAIL_DIR soon.
const FAST_POLL: (&str, &str) = ("OUTBOX_POLL_INTERVAL", "50ms");

/// The token of the link to `path` (`/set-password`) in a mail text.
fn link_token(text: &str, path: &str) -> String {
    let prefix = format!("{PUBLIC_URL}{path}?token=");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {text:?}"))
        + prefix.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

async fn login(app: &TestApp, tenant: &str, email: &str, password: &str) -> Value {
    app.gql(
        None,
        LOGIN,
        json!({"t": tenant_id(tenant), "e": email, "p": password}),
    )
    .await
}

/// The errors of a response without `locations` (which differ by nothing here, but keep
/// the comparison about what a client can learn).
fn errors(body: &Value) -> Value {
    body["errors"].clone()
}

async fn set_password(app: &TestApp, token: &str, password: &str) -> Value {
    app.gql(None, SET_PASSWORD, json!({"t": token, "p": password}))
        .await
}

/// An admin of `company` in tenant `acme` invites `email`; returns the invitation token.
async fn invite(app: &TestApp, admin: &str, email: &str) -> String {
    let before = app.queued_mails().await.len();
    let data = app
        .ok(
            admin,
            INVITE_DEFAULT_ROLE,
            json!({"e": email, "n": "Nina New"}),
        )
        .await;
    assert_eq!(
        data["inviteClientUser"]["email"],
        email.to_lowercase(),
        "{data}"
    );
    let mails = app.queued_mails().await;
    assert_eq!(mails.len(), before + 1);
    let mail = mails.last().unwrap();
    assert_eq!(mail.event_type, "mail.invitation");
    let text = app.next_mail(&email.to_lowercase()).await;
    link_token(&text, "/set-password")
}

fn assert_invalid_login(body: &Value) {
    assert_eq!(code(body), Some("UNAUTHENTICATED"), "{body}");
    assert_eq!(body["errors"][0]["message"], "Invalid e-mail or password");
    assert!(body["data"]["login"].is_null(), "{body}");
}

on_every_backend!(
    invitation_sets_a_password_that_signs_in,
    env = [
        ("PUBLIC_URL", PUBLIC_URL),
        ("MAIL_DIR", &*own_mail_dir()),
        FAST_POLL
    ],
    |app| {
        let admin = app
            .client_session("acme", "co-1", "boss@example.com", true)
            .await;
        let data = app
            .ok(
                &admin,
                INVITE_DEFAULT_ROLE,
                json!({"e": "Nina@Example.com", "n": "  Nina New "}),
            )
            .await;
        let invited = &data["inviteClientUser"];
        assert_eq!(invited["email"], "nina@example.com");
        assert_eq!(invited["name"], "Nina New");
        assert_eq!(invited["role"], "CLIENT_USER");
        assert_eq!(invited["active"], true);

        // The invitation goes through the outbox, addressed to the user, and arrives with a
        // link built from PUBLIC_URL.
        let mails = app.queued_mails().await;
        assert_eq!(mails.len(), 1, "{mails:?}");
        let mail = &mails[0];
        assert_eq!(mail.event_type, "mail.invitation");
        assert_eq!(mail.to, "nina@example.com");
        assert_eq!(mail.tenant_id.as_deref(), Some(tenant_id("acme").as_str()));
        let text = app.next_mail("nina@example.com").await;
        assert!(text.contains("Nina New"), "{text}");
        let token = link_token(&text, "/set-password");
        assert!(token.len() >= 43, "a 256-bit token: {token}");

        // No password yet: the same refusal as a wrong one.
        assert_invalid_login(&login(&app, "acme", "nina@example.com", PASSWORD).await);

        let body = set_password(&app, &token, PASSWORD).await;
        assert_eq!(body["data"]["setPassword"], true, "{body}");

        let body = login(&app, "acme", "NINA@example.com", PASSWORD).await;
        assert!(body.get("errors").is_none(), "{body}");
        let session = &body["data"]["login"];
        assert_eq!(session["principal"]["kind"], "CLIENT");
        assert_eq!(session["principal"]["user"]["email"], "nina@example.com");
        let perms: Vec<&str> = session["principal"]["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(perms.contains(&"portal.tickets.view"), "{perms:?}");
        assert!(!perms.contains(&"portal.users.manage"), "{perms:?}");
        let token = session["token"].as_str().unwrap();
        let me = app
            .ok(token, "{ me { kind user { email } } }", json!({}))
            .await;
        assert_eq!(me["me"]["kind"], "CLIENT");
        assert_eq!(me["me"]["user"]["email"], "nina@example.com");
        // The invited user joined the admin's company.
        let listed = app.ok(&admin, CLIENT_USERS, json!({})).await;
        let emails: Vec<&str> = listed["clientUsers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap())
            .collect();
        assert_eq!(emails, ["boss@example.com", "nina@example.com"]);

        // Wrong password, unknown e-mail, unknown tenant, a user without a password: one
        // identical answer.
        let wrong = login(&app, "acme", "nina@example.com", "wrong horse battery").await;
        assert_invalid_login(&wrong);
        let unknown = login(&app, "acme", "nobody@example.com", PASSWORD).await;
        assert_invalid_login(&unknown);
        let other_tenant = login(&app, "globex", "nina@example.com", PASSWORD).await;
        assert_invalid_login(&other_tenant);
        let no_password = login(&app, "acme", "boss@example.com", PASSWORD).await;
        assert_invalid_login(&no_password);
        assert_eq!(errors(&wrong), errors(&unknown));
        assert_eq!(errors(&wrong), errors(&other_tenant));
        assert_eq!(errors(&wrong), errors(&no_password));
        let malformed_tenant = app
            .gql(
                None,
                LOGIN,
                json!({"t": "not-a-uuid", "e": "nina@example.com", "p": PASSWORD}),
            )
            .await;
        assert_eq!(errors(&wrong), errors(&malformed_tenant));

        // Password logins emit no Bus event (the SSO logins above did).
        let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let bus = entities::outbox::Entity::find()
            .filter(entities::outbox::Column::Kind.eq("bus"))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(bus, 1, "only the admin's SSO login is on the Bus");

        // The same e-mail again is a conflict, also in another letter case.
        let body = app
            .gql(
                Some(&admin),
                INVITE,
                json!({"e": "NINA@example.com", "n": "Nina Again", "r": "CLIENT_ADMIN"}),
            )
            .await;
        assert_eq!(code(&body), Some("CONFLICT"), "{body}");
        assert!(body["data"]["inviteClientUser"].is_null());
        assert_eq!(app.queued_mails().await.len(), 1, "nothing queued");

        // An invited admin gets every portal permission.
        let data = app
            .ok(
                &admin,
                INVITE,
                json!({"e": "deputy@example.com", "n": "Dee Deputy", "r": "CLIENT_ADMIN"}),
            )
            .await;
        assert_eq!(data["inviteClientUser"]["role"], "CLIENT_ADMIN");
        let text = app.next_mail("deputy@example.com").await;
        let token = link_token(&text, "/set-password");
        assert_eq!(
            set_password(&app, &token, PASSWORD).await["data"]["setPassword"],
            true
        );
        let body = login(&app, "acme", "deputy@example.com", PASSWORD).await;
        let perms = body["data"]["login"]["principal"]["permissions"]
            .as_array()
            .unwrap()
            .clone();
        assert!(perms.contains(&json!("portal.users.manage")), "{body}");
    }
);

on_every_backend!(
    password_reset_replaces_the_password_and_ends_sessions,
    env = [
        ("PUBLIC_URL", PUBLIC_URL),
        ("MAIL_DIR", &*own_mail_dir()),
        FAST_POLL
    ],
    |app| {
        // A PSA-provisioned user signed in through Hub, and again by password.
        let sso_session = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let body = app
            .gql(
                None,
                RESET,
                json!({"t": tenant_id("acme"), "e": "Cleo@Example.com"}),
            )
            .await;
        assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
        // Queued in the background: the mail arrives shortly after the answer.
        let text = app.next_mail("cleo@example.com").await;
        let mails = app.queued_mails().await;
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].event_type, "mail.password_reset");
        assert_eq!(mails[0].to, "cleo@example.com");
        let first = link_token(&text, "/reset-password");
        assert_eq!(
            set_password(&app, &first, PASSWORD).await["data"]["setPassword"],
            true
        );
        let body = login(&app, "acme", "cleo@example.com", PASSWORD).await;
        let password_session = body["data"]["login"]["token"].as_str().unwrap().to_owned();

        // A second reset, two links in the mailbox: the newest is used; the older one is
        // spent with it.
        let mut texts = Vec::new();
        for _ in 0..2 {
            let body = app
                .gql(
                    None,
                    RESET,
                    json!({"t": tenant_id("acme"), "e": "cleo@example.com"}),
                )
                .await;
            assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
            texts.push(app.next_mail("cleo@example.com").await);
        }
        let mails = app.queued_mails().await;
        assert_eq!(mails.len(), 3);
        let older = link_token(&texts[0], "/reset-password");
        let newest = link_token(&texts[1], "/reset-password");
        let new_password = "another long passphrase";
        assert_eq!(
            set_password(&app, &newest, new_password).await["data"]["setPassword"],
            true
        );

        // Every session of the user ended, the SSO one included.
        for token in [&sso_session, &password_session] {
            let body = app.gql(Some(token), "{ me { kind } }", json!({})).await;
            assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
        }
        assert_invalid_login(&login(&app, "acme", "cleo@example.com", PASSWORD).await);
        let body = login(&app, "acme", "cleo@example.com", new_password).await;
        assert!(body.get("errors").is_none(), "{body}");

        // Used tokens are refused and change nothing.
        for token in [&first, &older, &newest] {
            let body = set_password(&app, token, "a third long passphrase").await;
            assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("already been used"),
                "{body}"
            );
        }
        let body = set_password(&app, "ogp_not-a-real-token", "a third long passphrase").await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(body["errors"][0]["message"], "This link is not valid");
        let body = login(&app, "acme", "cleo@example.com", new_password).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
);

on_every_backend!(
    unknown_or_inactive_email_reset_is_true_and_queues_nothing,
    env = [("MAIL_DIR", &*own_mail_dir()), FAST_POLL],
    |app| {
        app.provision_client("acme", "co-1", "gone@example.com", "client_user")
            .await;
        let (status, _) = app
            .psa_contact(json!({
                "tenant_id": tenant_id("acme"),
                "contact_id": "contact-gone@example.com",
                "company_id": "co-1",
                "email": "gone@example.com",
                "name": "Gone",
                "portal_access": false,
            }))
            .await;
        assert_eq!(status, 200);
        for (tenant, email) in [
            (tenant_id("acme"), "nobody@example.com"),
            (tenant_id("acme"), "gone@example.com"),
            (tenant_id("globex"), "gone@example.com"),
            ("not-a-uuid".to_owned(), "gone@example.com"),
        ] {
            let body = app.gql(None, RESET, json!({"t": tenant, "e": email})).await;
            assert!(body.get("errors").is_none(), "{body}");
            assert_eq!(body["data"]["requestPasswordReset"], true);
        }
        // The work happens in the background: give it, and the dispatcher, time to send
        // something, then check that nothing was queued or sent.
        app.settle().await;
        assert!(app.queued_mails().await.is_empty());
        assert!(fake::eml_files(&app.mail_dir()).is_empty());
        // The same server does send to an active account, so the silence above means
        // something.
        app.provision_client("acme", "co-1", "here@example.com", "client_user")
            .await;
        let body = app
            .gql(
                None,
                RESET,
                json!({"t": tenant_id("acme"), "e": "here@example.com"}),
            )
            .await;
        assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
        app.next_mail("here@example.com").await;
        assert_eq!(fake::eml_files(&app.mail_dir()).len(), 1);
        // A malformed address says so (it reveals nothing about accounts).
        let body = app
            .gql(None, RESET, json!({"t": tenant_id("acme"), "e": "nope"}))
            .await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    }
);

on_every_backend!(
    weak_or_huge_password_is_refused_and_the_token_stays_valid,
    env = [
        ("PUBLIC_URL", PUBLIC_URL),
        ("MAIL_DIR", &*own_mail_dir()),
        FAST_POLL
    ],
    |app| {
        let admin = app
            .client_session("acme", "co-1", "boss@example.com", true)
            .await;
        let token = invite(&app, &admin, "nina@example.com").await;
        for weak in ["short", "elevenchars", &"x".repeat(1025)] {
            let body = set_password(&app, &token, weak).await;
            assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
            assert!(body["data"]["setPassword"].is_null());
        }
        // Nothing changed: no password was set and the token still works once.
        assert_invalid_login(&login(&app, "acme", "nina@example.com", "elevenchars").await);
        let twelve = "twelve chars";
        assert_eq!(twelve.chars().count(), 12);
        assert_eq!(
            set_password(&app, &token, twelve).await["data"]["setPassword"],
            true
        );
        let body = login(&app, "acme", "nina@example.com", twelve).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
);

on_every_backend!(
    a_token_is_consumed_once_even_concurrently_and_expires,
    env = [
        ("PUBLIC_URL", PUBLIC_URL),
        ("MAIL_DIR", &*own_mail_dir()),
        FAST_POLL
    ],
    |app| {
        let admin = app
            .client_session("acme", "co-1", "boss@example.com", true)
            .await;
        let token = invite(&app, &admin, "nina@example.com").await;
        let (a, b) = tokio::join!(
            set_password(&app, &token, "first long passphrase"),
            set_password(&app, &token, "second long passphrase"),
        );
        let won: Vec<bool> = [&a, &b]
            .iter()
            .map(|body| body["data"]["setPassword"] == true)
            .collect();
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "{a} {b}");
        let loser = if won[0] { &b } else { &a };
        assert_eq!(code(loser), Some("BAD_USER_INPUT"), "{loser}");
        let winner = if won[0] {
            "first long passphrase"
        } else {
            "second long passphrase"
        };
        let body = login(&app, "acme", "nina@example.com", winner).await;
        assert!(body.get("errors").is_none(), "{body}");

        // A reset link past its hour is refused as expired (its expiry moved into the past
        // in the database: nobody waits an hour in a test).
        let body = app
            .gql(
                None,
                RESET,
                json!({"t": tenant_id("acme"), "e": "nina@example.com"}),
            )
            .await;
        assert_eq!(body["data"]["requestPasswordReset"], true);
        let reset = link_token(&app.next_mail("nina@example.com").await, "/reset-password");
        {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
            let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
            let expired = chrono::Utc::now() - chrono::Duration::minutes(1);
            let updated = entities::password_tokens::Entity::update_many()
                .col_expr(
                    entities::password_tokens::Column::ExpiresAt,
                    Expr::value(expired),
                )
                .filter(entities::password_tokens::Column::Purpose.eq("reset"))
                .exec(&db)
                .await
                .unwrap();
            assert_eq!(updated.rows_affected, 1);
        }
        let body = set_password(&app, &reset, "third long passphrase").await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("expired"),
            "{body}"
        );
        let body = login(&app, "acme", "nina@example.com", winner).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
);

on_every_backend!(
    client_users_are_confined_to_the_company,
    env = [
        ("PUBLIC_URL", PUBLIC_URL),
        ("MAIL_DIR", &*own_mail_dir()),
        FAST_POLL
    ],
    |app| {
        let admin_1 = app
            .client_session("acme", "co-1", "boss1@example.com", true)
            .await;
        let admin_2 = app
            .client_session("acme", "co-2", "boss2@example.com", true)
            .await;
        let other_tenant = app
            .client_session("globex", "co-1", "boss3@example.com", true)
            .await;
        invite(&app, &admin_1, "nina@example.com").await;
        let emails = |data: &Value| -> Vec<String> {
            data["clientUsers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned())
                .collect()
        };
        let data = app.ok(&admin_1, CLIENT_USERS, json!({})).await;
        assert_eq!(emails(&data), ["boss1@example.com", "nina@example.com"]);
        let data = app.ok(&admin_2, CLIENT_USERS, json!({})).await;
        assert_eq!(emails(&data), ["boss2@example.com"]);
        // Same company id, another tenant.
        let data = app.ok(&other_tenant, CLIENT_USERS, json!({})).await;
        assert_eq!(emails(&data), ["boss3@example.com"]);
        // The e-mail is taken in acme; another company's invitation of it answers as for a
        // new address (see `inviting_another_companys_user_reveals_nothing`) and changes
        // nothing. Globex may invite it.
        let body = app
            .gql(
                Some(&admin_2),
                INVITE_DEFAULT_ROLE,
                json!({"e": "nina@example.com", "n": "Nina"}),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        let data = app.ok(&admin_2, CLIENT_USERS, json!({})).await;
        assert_eq!(emails(&data), ["boss2@example.com"]);
        let data = app
            .ok(
                &other_tenant,
                INVITE_DEFAULT_ROLE,
                json!({"e": "nina@example.com", "n": "Nina"}),
            )
            .await;
        assert_eq!(data["inviteClientUser"]["email"], "nina@example.com");
    }
);

on_every_backend!(
    managing_users_needs_portal_users_manage,
    env = [("MAIL_DIR", &*own_mail_dir()), FAST_POLL],
    |app| {
        let user = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let staff = app.admin("acme").await;
        for token in [&user, &staff] {
            let body = app.gql(Some(token), CLIENT_USERS, json!({})).await;
            assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
            assert_eq!(
                body["errors"][0]["extensions"]["permission"],
                "portal.users.manage"
            );
            assert!(body["data"]["clientUsers"].is_null());
            let body = app
                .gql(
                    Some(token),
                    INVITE_DEFAULT_ROLE,
                    json!({"e": "nina@example.com", "n": "Nina"}),
                )
                .await;
            assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
            assert_eq!(
                body["errors"][0]["extensions"]["permission"],
                "portal.users.manage"
            );
        }
        let body = app
            .gql(
                None,
                INVITE_DEFAULT_ROLE,
                json!({"e": "nina@example.com", "n": "Nina"}),
            )
            .await;
        assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
        assert!(app.queued_mails().await.is_empty());
    }
);

on_every_backend!(
    invitation_input_is_validated,
    env = [("MAIL_DIR", &*own_mail_dir()), FAST_POLL],
    |app| {
        let admin = app
            .client_session("acme", "co-1", "boss@example.com", true)
            .await;
        for (email, name) in [
            ("nina@example.com", "x".repeat(201)),
            ("nina@example.com", "   ".to_owned()),
            ("not-an-address", "Nina".to_owned()),
            (
                &*format!("{}@example.com", "n".repeat(300)),
                "Nina".to_owned(),
            ),
        ] {
            let body = app
                .gql(
                    Some(&admin),
                    INVITE_DEFAULT_ROLE,
                    json!({"e": email, "n": name}),
                )
                .await;
            assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
            assert!(body["data"]["inviteClientUser"].is_null());
        }
        assert!(app.queued_mails().await.is_empty());
        let data = app.ok(&admin, CLIENT_USERS, json!({})).await;
        assert_eq!(data["clientUsers"].as_array().unwrap().len(), 1);
    }
);

on_every_backend!(
    login_reset_and_set_password_are_rate_limited,
    env = [
        ("AUTH_RATE_BURST", "3"),
        ("AUTH_RATE_PER_MINUTE", "1"),
        ("MAIL_DIR", &*own_mail_dir()),
        FAST_POLL
    ],
    |app| {
        // Failed logins use the allowance up.
        for _ in 0..3 {
            assert_invalid_login(&login(&app, "acme", "nobody@example.com", PASSWORD).await);
        }
        let body = login(&app, "acme", "nobody@example.com", PASSWORD).await;
        assert_eq!(code(&body), Some("RATE_LIMITED"), "{body}");
        for body in [
            app.gql(
                None,
                RESET,
                json!({"t": tenant_id("acme"), "e": "nobody@example.com"}),
            )
            .await,
            set_password(&app, "ogp_nothing", PASSWORD).await,
        ] {
            assert_eq!(code(&body), Some("RATE_LIMITED"), "{body}");
        }
    }
);

on_every_backend!(
    password_reset_requests_use_the_allowance_even_when_answered_true,
    env = [
        ("AUTH_RATE_BURST", "2"),
        ("AUTH_RATE_PER_MINUTE", "1"),
        ("MAIL_DIR", &*own_mail_dir()),
        FAST_POLL
    ],
    |app| {
        for _ in 0..2 {
            let body = app
                .gql(
                    None,
                    RESET,
                    json!({"t": tenant_id("acme"), "e": "nobody@example.com"}),
                )
                .await;
            assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
        }
        let body = app
            .gql(
                None,
                RESET,
                json!({"t": tenant_id("acme"), "e": "nobody@example.com"}),
            )
            .await;
        assert_eq!(code(&body), Some("RATE_LIMITED"), "{body}");
        assert!(body["data"]["requestPasswordReset"].is_null());
    }
);

on_every_backend!(
    successful_password_logins_do_not_use_the_allowance,
    env = [
        ("AUTH_RATE_BURST", "2"),
        ("AUTH_RATE_PER_MINUTE", "1"),
        ("PUBLIC_URL", PUBLIC_URL),
        ("MAIL_DIR", &*own_mail_dir()),
        FAST_POLL,
    ],
    |app| {
        // SSO logins (admin's session) are refunded too, so the burst is intact here.
        let admin = app
            .client_session("acme", "co-1", "boss@example.com", true)
            .await;
        let token = invite(&app, &admin, "nina@example.com").await;
        assert_eq!(
            set_password(&app, &token, PASSWORD).await["data"]["setPassword"],
            true
        );
        for _ in 0..5 {
            let body = login(&app, "acme", "nina@example.com", PASSWORD).await;
            assert!(body.get("errors").is_none(), "{body}");
        }
    }
);

on_every_backend!(
    unknown_email_takes_as_long_as_a_wrong_password,
    env = [
        ("PUBLIC_URL", PUBLIC_URL),
        ("MAIL_DIR", &*own_mail_dir()),
        FAST_POLL
    ],
    |app| {
        let admin = app
            .client_session("acme", "co-1", "boss@example.com", true)
            .await;
        let token = invite(&app, &admin, "nina@example.com").await;
        assert_eq!(
            set_password(&app, &token, PASSWORD).await["data"]["setPassword"],
            true
        );
        // Interleaved samples, medians compared: without the dummy verification an unknown
        // e-mail answers in a fraction of an argon2id verification. The bound is loose so a
        // busy machine does not make it flaky.
        let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            let t = std::time::Instant::now();
            assert_invalid_login(&login(&app, "acme", "nina@example.com", "wrong password!").await);
            wrong.push(t.elapsed());
            let t = std::time::Instant::now();
            assert_invalid_login(
                &login(&app, "acme", "nobody@example.com", "wrong password!").await,
            );
            unknown.push(t.elapsed());
        }
        wrong.sort();
        unknown.sort();
        let (wrong, unknown) = (wrong[3], unknown[3]);
        eprintln!("median wrong password {wrong:?}, unknown e-mail {unknown:?}");
        assert!(
            unknown * 10 >= wrong * 4 && wrong * 10 >= unknown * 4,
            "wrong password {wrong:?} vs unknown e-mail {unknown:?}"
        );
    }
);

on_every_backend!(
    password_fields_appear_once_per_operation,
    env = [("MAIL_DIR", &*own_mail_dir()), FAST_POLL],
    |app| {
        let t = tenant_id("acme");
        for query in [
            format!(
                r#"mutation {{ a: login(tenantId: "{t}", email: "a@example.com", password: "x") {{ token }}
                          b: login(tenantId: "{t}", email: "b@example.com", password: "y") {{ token }} }}"#
            ),
            format!(
                r#"mutation {{ a: requestPasswordReset(tenantId: "{t}", email: "a@example.com")
                          b: setPassword(token: "ogp_x", password: "long enough password") }}"#
            ),
        ] {
            let body = app.gql(None, &query, json!({})).await;
            assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
            assert!(body.get("data").is_none_or(Value::is_null), "{body}");
        }
        app.settle().await;
        assert!(app.queued_mails().await.is_empty());
        assert!(fake::eml_files(&app.mail_dir()).is_empty());
    }
);

on_every_backend!(
    reset_requests_do_not_flood_a_mailbox,
    env = [
        ("PUBLIC_URL", PUBLIC_URL),
        ("MAIL_DIR", &*own_mail_dir()),
        FAST_POLL
    ],
    |app| {
        app.provision_client("acme", "co-1", "cleo@example.com", "client_user")
            .await;
        for _ in 0..7 {
            let body = app
                .gql(
                    None,
                    RESET,
                    json!({"t": tenant_id("acme"), "e": "cleo@example.com"}),
                )
                .await;
            assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
        }
        let mut texts = Vec::new();
        for _ in 0..5 {
            texts.push(app.next_mail("cleo@example.com").await);
        }
        // The last requests were refused in the background: nothing more arrives.
        app.settle().await;
        let mails = app.queued_mails().await;
        assert_eq!(mails.len(), 5, "at most five open reset links");
        assert_eq!(fake::eml_files(&app.mail_dir()).len(), 5);
        // Using one link spends them all; the next request is sent again.
        let token = link_token(&texts[4], "/reset-password");
        assert_eq!(
            set_password(&app, &token, PASSWORD).await["data"]["setPassword"],
            true
        );
        let body = app
            .gql(
                None,
                RESET,
                json!({"t": tenant_id("acme"), "e": "cleo@example.com"}),
            )
            .await;
        assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
        app.next_mail("cleo@example.com").await;
        assert_eq!(app.queued_mails().await.len(), 6);
    }
);

on_every_backend!(
    delivered_mail_rows_keep_no_link,
    env = [
        ("PUBLIC_URL", PUBLIC_URL),
        ("MAIL_DIR", &*own_mail_dir()),
        FAST_POLL
    ],
    |app| {
        let admin = app
            .client_session("acme", "co-1", "boss@example.com", true)
            .await;
        let invitation = invite(&app, &admin, "nina@example.com").await;
        let body = app
            .gql(
                None,
                RESET,
                json!({"t": tenant_id("acme"), "e": "nina@example.com"}),
            )
            .await;
        assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
        let reset = link_token(&app.next_mail("nina@example.com").await, "/reset-password");

        // Once delivered, a mail row keeps its recipient and subject, and neither the body
        // nor the link.
        let rows = {
            use entities::outbox::{Column, Entity as Outbox};
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            let deadline = std::time::Instant::now() + MAIL_WAIT;
            loop {
                let rows = Outbox::find()
                    .filter(Column::Kind.eq("mail"))
                    .all(&app.state.db)
                    .await
                    .unwrap();
                if rows.len() == 2 && rows.iter().all(|r| r.delivered_at.is_some()) {
                    break rows;
                }
                assert!(std::time::Instant::now() < deadline, "{rows:#?}");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        };
        for row in &rows {
            assert!(!row.payload.contains(&invitation), "{}", row.payload);
            assert!(!row.payload.contains(&reset), "{}", row.payload);
            assert!(!row.payload.contains("token="), "{}", row.payload);
            let payload: Value = serde_json::from_str(&row.payload).unwrap();
            let subject = match row.event_type.as_str() {
                "mail.invitation" => "You are invited to the client portal",
                "mail.password_reset" => "Reset your client portal password",
                other => panic!("unexpected mail {other}"),
            };
            assert_eq!(
                payload,
                json!({"to": "nina@example.com", "subject": subject, "redacted": true})
            );
        }
        // The links themselves still work: only the copy in the outbox is gone.
        assert_eq!(
            set_password(&app, &reset, PASSWORD).await["data"]["setPassword"],
            true
        );
        let body = login(&app, "acme", "nina@example.com", PASSWORD).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
);

on_every_backend!(
    inviting_another_companys_user_reveals_nothing,
    env = [("MAIL_DIR", &*own_mail_dir()), FAST_POLL],
    |app| {
        let admin = app
            .client_session("acme", "co-1", "boss@example.com", true)
            .await;
        let other_admin = app
            .client_session("acme", "co-2", "chief@example.com", true)
            .await;
        app.provision_client("acme", "co-2", "nina@example.com", "client_user")
            .await;
        let before = app.ok(&other_admin, CLIENT_USERS, json!({})).await;
        let mails_before = app.queued_mails().await.len();

        // Another company's user and an unknown address get the same answer: the same
        // fields, nothing but the id and the address itself differing, and no error.
        let strip = |body: &Value| {
            let mut body = body.clone();
            let invited = &mut body["data"]["inviteClientUser"];
            assert!(invited["id"].is_string(), "{body}");
            invited["id"] = Value::Null;
            invited["email"] = Value::Null;
            body
        };
        let vars = |e: &str| json!({"e": e, "n": "Nina New", "r": "CLIENT_ADMIN"});
        let taken = app
            .gql(Some(&admin), INVITE, vars("Nina@Example.com"))
            .await;
        let unknown = app
            .gql(Some(&admin), INVITE, vars("fresh@example.com"))
            .await;
        assert_eq!(strip(&taken), strip(&unknown), "{taken} {unknown}");
        assert_eq!(
            taken["data"]["inviteClientUser"]["email"],
            "nina@example.com"
        );

        // Nothing of the other company changed: its users (name, role, active), its user's
        // sign-in, and no mail or token went to that user.
        assert_eq!(app.ok(&other_admin, CLIENT_USERS, json!({})).await, before);
        let mails = app.queued_mails().await;
        assert_eq!(mails.len(), mails_before + 1, "{mails:?}");
        assert!(
            mails.iter().all(|m| m.to != "nina@example.com"),
            "{mails:?}"
        );
        let token = app.mint(&app.client_claims("acme", "nina@example.com", None));
        assert_eq!(app.exchange(&token).await.0, 200);
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let row = entities::client_users::Entity::find()
            .filter(entities::client_users::Column::Email.eq("nina@example.com"))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.company_id, "co-2");
        let tokens = entities::password_tokens::Entity::find()
            .filter(entities::password_tokens::Column::ClientUserId.eq(&row.id))
            .all(&app.state.db)
            .await
            .unwrap();
        assert!(tokens.is_empty(), "{tokens:?}");

        // The inviter's own company's address is still a conflict: the inviter lists it.
        let body = app
            .gql(Some(&admin), INVITE, vars("fresh@example.com"))
            .await;
        assert_eq!(code(&body), Some("CONFLICT"), "{body}");
    }
);
