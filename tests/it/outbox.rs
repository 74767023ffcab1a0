// Outbox delivery through the public surface: a check-in's Bus event reaches a fake Bus
// exactly once with the bearer key; a failing, hanging or unreachable Bus gets it later
// (retries with backoff), a Bus that keeps failing makes the row dead, an unconfigured Bus
// leaves rows untried until a server with the Bus configured comes up; two servers on one
// database never send a row twice; mail goes to MAIL_DIR as .eml files, and a mail row keeps
// no body (no link) once delivered or dead; the housekeeping sweep deletes rows delivered
// more than a week ago.

use std::time::Duration;

use chrono::Utc;
use entities::outbox::{Column, Entity as Outbox, Model, OutboxKind};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::{fake::*, *};

/// Fast delivery settings for tests.
const FAST: &[(&str, &str)] = &[
    ("OUTBOX_POLL_INTERVAL", "50ms"),
    ("OUTBOX_RETRY_BASE", "200ms"),
    ("UPSTREAM_TIMEOUT", "2s"),
];

const WAIT: Duration = Duration::from_secs(15);

/// A server on `backend` with the fast settings, `extra` and the fakes' settings.
async fn server(backend: Backend, extra: &[(String, String)]) -> TestApp {
    let mut env: Vec<(String, String)> = FAST
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.extend(extra.iter().cloned());
    TestApp::spawn_on(backend, &pairs(&env)).await
}

/// The outbox rows of `event_type`.
async fn rows(app: &TestApp, event_type: &str) -> Vec<Model> {
    Outbox::find()
        .filter(Column::EventType.eq(event_type))
        .all(&app.state.db)
        .await
        .unwrap()
}

/// Checks a visitor in through staff GraphQL; returns the visit id.
async fn checked_in(app: &TestApp, name: &str) -> String {
    let admin = app.admin("acme").await;
    let location = app.create_location(&admin, "Front Desk").await;
    app.check_in(&admin, &location, name).await
}

/// Waits until the row of `event_type` satisfies `done`.
async fn wait_row(app: &TestApp, event_type: &str, done: impl Fn(&Model) -> bool) -> Model {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let rows = rows(app, event_type).await;
        if let Some(row) = rows.iter().find(|r| done(r)) {
            return row.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting on the {event_type} row: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_every_backend!(
    check_in_event_reaches_the_bus_once_with_the_key,
    |backend: Backend| {
        let bus = bus::start().await;
        let app = server(backend, &bus::env(&bus)).await;
        let visit = checked_in(&app, "Grace Hopper").await;

        let received = bus
            .wait_until("the check-in event", WAIT, |r| {
                r.iter().any(|r| r.json()["type"] == "visitor.checked_in")
            })
            .await;
        let event = received
            .iter()
            .find(|r| r.json()["type"] == "visitor.checked_in")
            .unwrap();
        assert_eq!(
            event.header("authorization"),
            Some(format!("Bearer {}", bus::BUS_KEY).as_str())
        );
        assert_eq!(event.header("content-type"), Some("application/json"));
        let envelope = event.json();
        assert_eq!(envelope["source"], "visitor");
        assert_eq!(envelope["tenant_id"], tenant_id("acme"));
        assert_eq!(envelope["data"]["visit_id"], visit);
        assert_eq!(envelope["data"]["visitor_name"], "Grace Hopper");
        // The body is the stored envelope, byte for byte.
        let row = wait_row(&app, "visitor.checked_in", |r| r.delivered_at.is_some()).await;
        assert_eq!(event.body, row.payload);
        assert_eq!((row.attempts, row.dead, row.locked_until), (0, false, None));

        // Many poll intervals later it has still been sent exactly once.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(bus::events(&bus, "visitor.checked_in").len(), 1);
        assert_eq!(bus.received().len(), bus.accepted().len());
    }
);

on_every_backend!(
    failing_bus_gets_the_event_after_it_recovers,
    |backend: Backend| {
        let bus = bus::start().await;
        bus.set_mode(Mode::Status(500));
        let app = server(backend, &bus::env(&bus)).await;
        let visit = checked_in(&app, "Ada Lovelace").await;

        // Retried with growing waits: 200 ms (±20%) after the first failure, 400 ms after the
        // second.
        let tries = |r: &[Received]| {
            r.iter()
                .filter(|r| r.json()["type"] == "visitor.checked_in")
                .cloned()
                .collect::<Vec<_>>()
        };
        let received = bus
            .wait_until("three failed attempts", WAIT, |r| tries(r).len() >= 3)
            .await;
        let attempts = tries(&received);
        let first_gap = attempts[1].at - attempts[0].at;
        let second_gap = attempts[2].at - attempts[1].at;
        assert!(first_gap >= Duration::from_millis(150), "{first_gap:?}");
        assert!(second_gap >= Duration::from_millis(300), "{second_gap:?}");
        let row = wait_row(&app, "visitor.checked_in", |r| r.attempts >= 2).await;
        assert!(row.delivered_at.is_none() && !row.dead);
        let error = row.last_error.clone().unwrap();
        assert_eq!(error, "bus: POST /api/events answered HTTP 500");
        assert!(!error.contains("UPSTREAM-SECRET"));

        bus.set_mode(Mode::Ok);
        let row = wait_row(&app, "visitor.checked_in", |r| r.delivered_at.is_some()).await;
        let delivered = bus::events(&bus, "visitor.checked_in");
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].json()["data"]["visit_id"], visit);
        assert!(row.attempts >= 2, "{row:?}");
    }
);

on_every_backend!(
    hanging_and_unreachable_bus_are_retried,
    |backend: Backend| {
        let bus = bus::start().await;
        bus.set_mode(Mode::Hang);
        let app = server(
            backend,
            &[
                bus::env(&bus),
                vec![("UPSTREAM_TIMEOUT".into(), "300ms".into())],
            ]
            .concat(),
        )
        .await;
        checked_in(&app, "Hedy Lamarr").await;
        let row = wait_row(&app, "visitor.checked_in", |r| r.attempts >= 1).await;
        assert_eq!(
            row.last_error.as_deref(),
            Some("bus: POST /api/events timed out")
        );

        bus.down();
        let row = wait_row(&app, "visitor.checked_in", |r| {
            r.last_error.as_deref() == Some("bus: POST /api/events could not connect")
        })
        .await;
        assert!(row.delivered_at.is_none());

        bus.set_mode(Mode::Ok);
        bus.up().await;
        wait_row(&app, "visitor.checked_in", |r| r.delivered_at.is_some()).await;
        assert_eq!(bus::events(&bus, "visitor.checked_in").len(), 1);
    }
);

on_every_backend!(
    a_bus_that_keeps_failing_makes_the_row_dead,
    |backend: Backend| {
        let bus = bus::start().await;
        bus.set_mode(Mode::Status(503));
        let app = server(
            backend,
            &[
                bus::env(&bus),
                vec![
                    ("OUTBOX_MAX_ATTEMPTS".into(), "3".into()),
                    ("OUTBOX_RETRY_BASE".into(), "50ms".into()),
                ],
            ]
            .concat(),
        )
        .await;
        checked_in(&app, "Dead Letter").await;
        let row = wait_row(&app, "visitor.checked_in", |r| r.dead).await;
        assert_eq!(row.attempts, 3);
        assert_eq!(
            row.last_error.as_deref(),
            Some("bus: POST /api/events answered HTTP 503")
        );
        // No further attempts once dead.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let tries = bus
            .received()
            .iter()
            .filter(|r| r.json()["type"] == "visitor.checked_in")
            .count();
        assert_eq!(tries, 3);
    }
);

on_every_backend!(
    unconfigured_bus_leaves_rows_untried_until_a_configured_server_starts,
    |backend: Backend| {
        // No BUS_API_URL: the event waits, untried and without an error.
        let app = server(backend, &[]).await;
        checked_in(&app, "Patient Visitor").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let row = rows(&app, "visitor.checked_in").await.remove(0);
        assert_eq!(
            (
                row.attempts,
                row.last_error.clone(),
                row.delivered_at,
                row.dead
            ),
            (0, None, None, false)
        );

        // Of many concurrent claims of one due row, exactly one wins the lease.
        let now = Utc::now();
        let lease = now + chrono::Duration::milliseconds(300);
        let claims = futures_util::future::join_all(
            (0..8).map(|_| onegraph::events::dispatcher::claim(&app.state.db, &row.id, now, lease)),
        )
        .await;
        let won = claims.iter().filter(|c| *c.as_ref().unwrap()).count();
        assert_eq!(won, 1, "{claims:?}");

        // A server with the Bus configured, on the same database (a restart, or another
        // replica), delivers it once the lease has expired.
        let bus = bus::start().await;
        let mut env = bus::env(&bus);
        env.extend(FAST.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let configured = replica(&app, &pairs(&env)).await;
        let row = wait_row(&configured, "visitor.checked_in", |r| {
            r.delivered_at.is_some()
        })
        .await;
        assert_eq!(row.attempts, 0);
        assert_eq!(bus::events(&bus, "visitor.checked_in").len(), 1);
    }
);

on_every_backend!(
    two_servers_on_one_database_never_send_a_row_twice,
    |backend: Backend| {
        let bus = bus::start().await;
        // A slow Bus keeps every delivery in flight across several polls of both servers.
        bus.set_delay(Duration::from_millis(150));
        let env = [
            bus::env(&bus),
            vec![("OUTBOX_POLL_INTERVAL".into(), "20ms".into())],
        ]
        .concat();
        let one = server(backend, &env).await;
        let two = replica(
            &one,
            &pairs(
                &[
                    FAST.iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                    env.clone(),
                ]
                .concat(),
            ),
        )
        .await;
        let admin = one.admin("acme").await;
        let location = one.create_location(&admin, "Lobby").await;
        let mut visits = Vec::new();
        for i in 0..12 {
            let app = if i % 2 == 0 { &one } else { &two };
            visits.push(
                app.check_in(&admin, &location, &format!("Visitor {i}"))
                    .await,
            );
        }
        bus.wait_until("every check-in event", WAIT, |r| {
            r.iter()
                .filter(|r| r.json()["type"] == "visitor.checked_in")
                .count()
                >= visits.len()
        })
        .await;
        // Let both dispatchers poll a while longer: nothing more is sent.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let events = bus::events(&bus, "visitor.checked_in");
        let mut ids: Vec<String> = events
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(events.len(), visits.len(), "some event was sent twice");
        assert_eq!(ids.len(), visits.len());
        let mut sent: Vec<String> = events
            .iter()
            .map(|r| r.json()["data"]["visit_id"].as_str().unwrap().to_owned())
            .collect();
        sent.sort();
        visits.sort();
        assert_eq!(sent, visits);
        let rows = rows(&one, "visitor.checked_in").await;
        assert!(
            rows.iter()
                .all(|r| r.delivered_at.is_some() && r.attempts == 0)
        );
    }
);

on_every_backend!(
    signing_notification_is_written_to_mail_dir,
    |backend: Backend| {
        let legal = legal::start().await;
        let dir = mail_dir();
        let app = server(
            backend,
            &[
                legal::env(&legal),
                vec![("MAIL_DIR".into(), dir.display().to_string())],
            ]
            .concat(),
        )
        .await;
        // The directory is created at start-up.
        assert!(dir.is_dir());
        app.provision_client("acme", "co-1", "cleo@example.com", "client_user")
            .await;
        let (status, body) = legal::push(
            &app,
            Some(legal::PORTAL_KEY),
            &json!({
                "tenant_id": tenant_id("acme"),
                "policy_id": "aup",
                "version": 2,
                "title": "Acceptable Use Policy",
                "document_url": "https://legal.example.com/aup-v2.pdf",
                "content_sha256": "ab".repeat(32),
                "company_ids": ["co-1"],
                "due_at": null,
            }),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        let mails = wait_for_mail(&dir, 1, WAIT).await;
        assert_eq!(mails.len(), 1);
        let mail = &mails[0];
        assert!(mail.contains("To: cleo@example.com"), "{mail}");
        assert!(mail.contains("From: onegraph@localhost"), "{mail}");
        assert!(
            mail.contains("Subject: Please sign: Acceptable Use Policy"),
            "{mail}"
        );
        assert!(mail.contains("http://localhost:4000/signing"), "{mail}");
        assert!(
            mail.contains("https://legal.example.com/aup-v2.pdf"),
            "{mail}"
        );
        let row = wait_row(&app, "mail.signing_request", |r| r.delivered_at.is_some()).await;
        assert_eq!(row.kind, "mail");
        // Delivered: the row keeps who and what, not the body.
        let payload: Value = serde_json::from_str(&row.payload).unwrap();
        assert_eq!(
            payload,
            json!({
                "to": "cleo@example.com",
                "subject": "Please sign: Acceptable Use Policy",
                "redacted": true,
            })
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
);

on_every_backend!(
    undeliverable_mail_is_dead_and_keeps_no_link,
    |backend: Backend| {
        let app = server(backend, &[]).await;
        let link = "https://portal.example.com/set-password?token=ogp_secret-token";
        let id = onegraph::services::shared::outbox::mail(
            &app.state.db,
            &tenant_id("acme"),
            "mail.invitation",
            &onegraph::services::shared::outbox::Mail {
                to: "not an address".into(),
                subject: "You are invited to the client portal".into(),
                text: format!("Choose your password here: {link}"),
            },
        )
        .await
        .unwrap();
        // A bad recipient cannot succeed: dead at the first attempt, and its link is gone.
        let row = wait_row(&app, "mail.invitation", |r| r.dead).await;
        assert_eq!(row.id, id);
        assert_eq!(row.attempts, 1);
        assert!(row.delivered_at.is_none());
        assert_eq!(
            row.last_error.as_deref(),
            Some("mail: invalid message (recipient address)")
        );
        assert!(!row.payload.contains("ogp_secret-token"), "{}", row.payload);
        let payload: Value = serde_json::from_str(&row.payload).unwrap();
        assert_eq!(
            payload,
            json!({
                "to": "not an address",
                "subject": "You are invited to the client portal",
                "redacted": true,
            })
        );
    }
);

on_every_backend!(
    sweep_deletes_rows_delivered_over_a_week_ago,
    |backend: Backend| {
        // A database of its own, without a server, so no other sweep runs on it.
        let url = fresh_database_url(backend).await;
        let db = onegraph::db::connect(&url, 2, std::sync::Arc::default())
            .await
            .unwrap();
        onegraph::db::migrate(&db).await.unwrap();
        let now = Utc::now();
        let ago = |days: i64, hours: i64| {
            now - chrono::Duration::days(days) - chrono::Duration::hours(hours)
        };
        // (id, kind, created, delivered, dead)
        let rows = [
            (
                "old-bus",
                OutboxKind::Bus,
                ago(9, 0),
                Some(ago(8, 0)),
                false,
            ),
            (
                "old-mail",
                OutboxKind::Mail,
                ago(9, 0),
                Some(ago(7, 1)),
                false,
            ),
            (
                "recent",
                OutboxKind::LegalWebhook,
                ago(7, 0),
                Some(ago(6, 23)),
                false,
            ),
            ("pending", OutboxKind::Bus, ago(30, 0), None, false),
            ("dead", OutboxKind::Mail, ago(30, 0), None, true),
        ];
        for (id, kind, created, delivered, dead) in rows {
            Outbox::insert(entities::outbox::ActiveModel {
                id: Set(id.to_owned()),
                tenant_id: Set(Some(tenant_id("acme"))),
                kind: Set(kind),
                event_type: Set(format!("test.{id}")),
                payload: Set("{}".to_owned()),
                created_at: Set(created),
                attempts: Set(if dead { 20 } else { 0 }),
                next_attempt_at: Set(created),
                locked_until: Set(None),
                delivered_at: Set(delivered),
                last_error: Set(None),
                dead: Set(dead),
            })
            .exec_without_returning(&db)
            .await
            .unwrap();
        }
        let swept = onegraph::services::shared::housekeeping::sweep(&db)
            .await
            .unwrap();
        assert_eq!(swept.outbox, 2, "{swept:?}");
        let mut left: Vec<String> = Outbox::find()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        left.sort();
        // Undelivered and dead rows stay whatever their age; delivered ones for 7 days.
        assert_eq!(left, ["dead", "pending", "recent"]);
        assert_eq!(
            onegraph::services::shared::housekeeping::sweep(&db)
                .await
                .unwrap()
                .outbox,
            0
        );
        let _ = db.close().await;
    }
);
