//! E-mail through SMTP for real: onegraph's SES transport against a loopback SMTP server
//! with STARTTLS and a certificate from a CA trusted through `SES_SMTP_CA_FILE`. An
//! invitation arrives with its headers, link and encoding intact; a server that refuses
//! (5xx), one that fails for now (4xx) and one that drops the connection leave the mail in
//! the outbox, retried, never lost, and never sent twice once accepted.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    smtp::{FakeSmtp, Mode, PASSWORD},
    *,
};

const TENANT: &str = "smtp";
const COMPANY: &str = "SMTP-CO";
const INVITED: &str = "new.colleague@example.com";
const INVITE: &str = "mutation($e: String!, $n: String!) { inviteClientUser(email: $e, name: $n) \
                      { id } }";

/// Waits (at most 20 s) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn spawn(backend: Backend, smtp: &FakeSmtp, ca: bool) -> TestApp {
    let mut env: Vec<(&str, String)> = smtp.env();
    if !ca {
        env.retain(|(name, _)| *name != "SES_SMTP_CA_FILE");
    }
    env.push(("OUTBOX_POLL_INTERVAL", "100ms".to_owned()));
    env.push(("OUTBOX_RETRY_BASE", "200ms".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_on(backend, &env).await
}

async fn invite(app: &TestApp) {
    let admin = app
        .client_session(TENANT, COMPANY, "admin@smtp-co.example.com", true)
        .await;
    app.ok(
        &admin,
        INVITE,
        json!({"e": INVITED, "n": "Zoë Ünïcode-Colleague"}),
    )
    .await;
}

on_every_backend!(
    an_invitation_survives_a_failing_smtp_server_and_arrives_once,
    |backend: Backend| {
        let smtp = FakeSmtp::start().await;
        smtp.set_mode(Mode::Refuse);
        let app = spawn(backend, &smtp, true).await;
        invite(&app).await;

        // Refused for good, refused for now, dropped: still in the outbox, retried each time.
        for (mode, refusals) in [(Mode::Refuse, 1), (Mode::TryLater, 2), (Mode::Drop, 3)] {
            smtp.set_mode(mode);
            until(&format!("{mode:?}"), || smtp.refused() >= refusals).await;
            let queued = app.queued_mails().await;
            assert_eq!(queued.len(), 1, "{queued:?}");
            assert!(!queued[0].delivered, "{mode:?}: {queued:?}");
            assert!(smtp.accepted().is_empty());
        }

        // The server takes it: delivered, once.
        smtp.set_mode(Mode::Accept);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !app.queued_mails().await[0].delivered {
            assert!(
                Instant::now() < deadline,
                "the invitation was never delivered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        app.settle().await;
        app.settle().await;
        let accepted = smtp.accepted();
        assert_eq!(accepted.len(), 1, "sent more than once: {accepted:?}");

        // Headers, link and encoding intact.
        let raw = &accepted[0];
        let text = decode_eml(raw);
        let headers = text
            .split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .to_lowercase();
        assert!(headers.contains("from: portal@example.com"), "{text}");
        assert!(headers.contains(INVITED), "{text}");
        assert!(headers.contains("subject:"), "{text}");
        assert!(
            headers.contains("content-type: text/plain; charset=utf-8"),
            "{text}"
        );
        assert!(headers.contains("message-id:"), "{text}");
        let link = format!("{}/set-password?token=", app.state.settings.public_url);
        let at = text
            .find(&link)
            .unwrap_or_else(|| panic!("no link in {text}"));
        let token: String = text[at + link.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert!(token.len() >= 32, "token cut short: {token:?} in {text}");
        // The token works: the invited user sets a password with it.
        let body = app
            .gql(
                None,
                "mutation($t: String!, $p: String!) { setPassword(token: $t, password: $p) }",
                json!({"t": token, "p": "a long enough passphrase 42"}),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");

        // Credentials went only over TLS.
        assert!(smtp.secure_logins() >= 1);
        assert!(
            smtp.plaintext_commands().is_empty(),
            "{:?}",
            smtp.plaintext_commands()
        );
        assert!(!raw.contains(PASSWORD));
    }
);

on_every_backend!(
    a_server_whose_certificate_is_not_trusted_gets_nothing,
    |backend: Backend| {
        let smtp = FakeSmtp::start().await;
        // No SES_SMTP_CA_FILE: the test CA is not trusted, so TLS fails before any login.
        let app = spawn(backend, &smtp, false).await;
        invite(&app).await;
        app.settle().await;
        app.settle().await;
        let queued = app.queued_mails().await;
        assert_eq!(queued.len(), 1, "{queued:?}");
        assert!(!queued[0].delivered, "{queued:?}");
        assert!(smtp.accepted().is_empty());
        assert_eq!(smtp.secure_logins(), 0);
    }
);

on_every_backend!(
    mail_goes_over_tls_from_the_first_byte_on_a_wrapper_port,
    |backend: Backend| {
        let smtp = FakeSmtp::start_implicit_tls().await;
        let app = spawn(backend, &smtp, true).await;
        invite(&app).await;
        until("the invitation over SMTPS", || smtp.accepted().len() == 1).await;
        assert!(smtp.secure_logins() >= 1);
        let raw = &smtp.accepted()[0];
        assert!(raw.to_lowercase().contains(INVITED), "{raw}");
        assert!(!raw.contains(PASSWORD));
    }
);
