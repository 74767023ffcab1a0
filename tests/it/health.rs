//! Integration health through the public surface, against the fake upstreams over real
//! HTTP (and a loopback SMTP server): `integrationHealth` with everything configured and
//! answering, with products down or silent (named, the rest fine, in bounded time), with
//! nothing configured (every missing setting named, nothing probed), its guard, outbox
//! counts and errors that are the caller's tenant's only and in onegraph's own words, sync
//! and Mission state per tenant; and `onegraph doctor` run as a process: all green (exit 0),
//! one product stopped (named, exit 1), the bare configuration (every missing setting
//! named) and an unreachable database.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::{
    fake::{Mode, SECRET_BODY},
    mission::{self as fake_mission, FakeMission, member_session},
    psa,
    upstreams::Upstreams,
    *,
};

const QUERY: &str = "{ integrationHealth { name configured missingSettings reachable \
                     lastSuccessAt lastError pendingOutbox deadOutbox } }";

/// The products the checklist names, in its order.
const NAMES: [&str; 9] = [
    "PSA",
    "Books",
    "Mission",
    "Legal",
    "Hub SSO",
    "Hub search",
    "Hub Billing",
    "Bus",
    "E-mail",
];
/// The ones onegraph calls (probed).
const CALLED: [&str; 7] = [
    "PSA",
    "Books",
    "Mission",
    "Legal",
    "Hub Billing",
    "Bus",
    "E-mail",
];

/// `integrationHealth` as `token`, by name (the order checked on the way).
async fn checklist(app: &TestApp, token: &str) -> BTreeMap<String, Value> {
    let data = app.ok(token, QUERY, json!({})).await;
    let list = data["integrationHealth"]
        .as_array()
        .unwrap_or_else(|| panic!("integrationHealth is a list: {data}"));
    let names: Vec<&str> = list.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, NAMES, "{data}");
    list.iter()
        .map(|s| (s["name"].as_str().unwrap().to_owned(), s.clone()))
        .collect()
}

/// A server pointed at every fake, probes answering within `HEALTH_PROBE_TIMEOUT`.
async fn spawn_with_upstreams(
    backend: Backend,
    upstreams: &Upstreams,
    extra: &[(&str, &str)],
) -> TestApp {
    let env = upstreams.env();
    let mut pairs = fake::pairs(&env);
    pairs.push(("HEALTH_PROBE_TIMEOUT", "1s"));
    pairs.push(("UPSTREAM_TIMEOUT", "1s"));
    pairs.extend_from_slice(extra);
    TestApp::spawn_on(backend, &pairs).await
}

/// Polls `integrationHealth` until `done` holds for it (at most 10 s).
async fn until(
    app: &TestApp,
    token: &str,
    what: &str,
    done: impl Fn(&BTreeMap<String, Value>) -> bool,
) -> BTreeMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = checklist(app, token).await;
        if done(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_every_backend!(every_configured_product_answers, |backend: Backend| {
    let upstreams = Upstreams::start().await;
    let app = spawn_with_upstreams(backend, &upstreams, &[]).await;
    let admin = app.admin("health-green").await;
    let list = checklist(&app, &admin).await;
    for name in NAMES {
        let status = &list[name];
        assert_eq!(status["configured"], true, "{status}");
        assert_eq!(status["missingSettings"], json!([]), "{status}");
        let expected = if CALLED.contains(&name) {
            json!(true)
        } else {
            Value::Null
        };
        assert_eq!(status["reachable"], expected, "{status}");
        assert_eq!(status["lastError"], Value::Null, "{status}");
        assert_eq!(status["deadOutbox"], 0, "{status}");
    }
    // The admin's own sign-in came through Hub.
    assert!(list["Hub SSO"]["lastSuccessAt"].is_string(), "{list:#?}");

    // Work with each product, then each shows when it last worked.
    let location = app.create_location(&admin, "Lobby").await;
    app.check_in(&admin, &location, "Ada").await;
    for job in ["TICKETS", "INVOICES", "BILLING_USAGE"] {
        let run = app
            .ok(
                &admin,
                &format!("mutation {{ runSync(job: {job}) {{ ok }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(run["runSync"]["ok"], true, "{job}: {run}");
    }
    let list = until(&app, &admin, "the Bus events delivered", |list| {
        list["Bus"]["lastSuccessAt"].is_string() && list["Bus"]["pendingOutbox"] == 0
    })
    .await;
    for name in ["PSA", "Books", "Hub Billing", "Bus"] {
        assert!(list[name]["lastSuccessAt"].is_string(), "{name}: {list:#?}");
        assert_eq!(list[name]["lastError"], Value::Null, "{name}: {list:#?}");
        assert_eq!(list[name]["pendingOutbox"], 0, "{name}: {list:#?}");
    }
    assert!(upstreams.hub.accepted().len() == 1, "one usage report");
});

on_every_backend!(
    a_product_down_is_named_and_the_rest_answer,
    |backend: Backend| {
        let upstreams = Upstreams::start().await;
        // A Mission that takes connections and never answers: its probe gives up in time.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let silent_url = format!("http://{}", silent.local_addr().unwrap());
        let app = spawn_with_upstreams(
            backend,
            &upstreams,
            &[
                ("MISSION_API_URL", silent_url.as_str()),
                ("HEALTH_PROBE_TIMEOUT", "500ms"),
                ("HEALTH_PROBE_CACHE", "0s"),
            ],
        )
        .await;
        let admin = app.admin("health-down").await;
        upstreams.bus.down();

        let started = Instant::now();
        let list = checklist(&app, &admin).await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "the checklist took {took:?}");
        for name in CALLED {
            let expected = !matches!(name, "Bus" | "Mission");
            assert_eq!(list[name]["reachable"], expected, "{name}: {list:#?}");
            assert_eq!(list[name]["configured"], true, "{name}: {list:#?}");
        }

        // Back up: answering again.
        upstreams.bus.up().await;
        let list = checklist(&app, &admin).await;
        assert_eq!(list["Bus"]["reachable"], true, "{list:#?}");
        drop(silent);
    }
);

on_every_backend!(nothing_configured_names_every_missing_setting, |app| {
    // The test server sets only PORTAL_CLIENT_SSO_SECRET and PSA_SERVICE_KEY of these.
    let admin = app.admin("health-bare").await;
    let list = checklist(&app, &admin).await;
    let missing = |name: &str| list[name]["missingSettings"].clone();
    assert_eq!(missing("PSA"), json!(["PSA_API_URL"]));
    assert_eq!(
        missing("Books"),
        json!(["BOOKS_API_URL", "BOOKS_SERVICE_KEY"])
    );
    assert_eq!(
        missing("Mission"),
        json!(["MISSION_API_URL", "MISSION_SERVICE_KEY"])
    );
    assert_eq!(
        missing("Legal"),
        json!([
            "PORTAL_INTEGRATION_KEY",
            "LEGAL_WEBHOOK_URL",
            "LEGAL_WEBHOOK_SECRET"
        ])
    );
    assert_eq!(missing("Hub SSO"), json!([]));
    assert_eq!(missing("Hub search"), json!(["INTEGRATION_KEY"]));
    assert_eq!(
        missing("Hub Billing"),
        json!(["HUB_API_URL", "BUS_INTEGRATION_KEY"])
    );
    assert_eq!(missing("Bus"), json!(["BUS_API_URL", "BUS_SDK_KEY"]));
    assert_eq!(
        missing("E-mail"),
        json!([
            "SES_FROM_ADDRESS",
            "SES_REGION",
            "SES_SMTP_USERNAME",
            "SES_SMTP_PASSWORD"
        ])
    );
    for name in NAMES {
        let status = &list[name];
        assert_eq!(status["configured"], name == "Hub SSO", "{status}");
        assert_eq!(status["reachable"], Value::Null, "{status}");
    }
    // The admin's sign-in event waits in the outbox for a Bus that is not configured.
    assert!(
        list["Bus"]["pendingOutbox"].as_i64().unwrap() >= 1,
        "{list:#?}"
    );

    // A tenant key is enough for Hub's search.
    app.ok(
        &admin,
        "mutation { createIntegrationKey(name: \"Hub\") { key } }",
        json!({}),
    )
    .await;
    let list = checklist(&app, &admin).await;
    assert_eq!(list["Hub search"]["configured"], true, "{list:#?}");
    assert_eq!(
        list["Hub search"]["missingSettings"],
        json!([]),
        "{list:#?}"
    );
    assert_eq!(list["Hub search"]["reachable"], Value::Null, "{list:#?}");
});

on_every_backend!(refused_without_visitor_admin_settings, |app| {
    let no_settings: Vec<&str> = ALL_VISITOR
        .iter()
        .copied()
        .filter(|p| *p != "visitor.admin.settings")
        .collect();
    let staff = app.staff_session("health-guard", &no_settings).await;
    let client = app
        .client_session("health-guard", "co-1", "admin@example.com", true)
        .await;
    for token in [&staff, &client] {
        let body = app.gql(Some(token), QUERY, json!({})).await;
        assert_eq!(body["data"]["integrationHealth"], Value::Null, "{body}");
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["permission"], "visitor.admin.settings",
            "{body}"
        );
    }
    let body = app.gql(None, QUERY, json!({})).await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
});

on_every_backend!(
    refused_hub_sign_ins_show_in_their_tenants_checklist,
    |app| {
        let alpha = app.admin("health-sso-a").await;
        let beta = app.admin("health-sso-b").await;
        let signed_in = checklist(&app, &alpha).await["Hub SSO"]["lastSuccessAt"].clone();
        assert!(signed_in.is_string());

        // A token for alpha's tenant, signed by Hub but expired.
        let mut claims = app.claims("health-sso-a", ALL_VISITOR);
        claims.iat -= 600;
        claims.exp = claims.iat + 60;
        let (status, _) = app.exchange(&app.mint(&claims)).await;
        assert_eq!(status, 401);
        let a = checklist(&app, &alpha).await;
        assert_eq!(
            a["Hub SSO"]["lastError"], "a Hub sign-in was refused: the token had expired",
            "{a:#?}"
        );
        assert_eq!(a["Hub SSO"]["lastSuccessAt"], signed_in);
        assert_eq!(
            checklist(&app, &beta).await["Hub SSO"]["lastError"],
            Value::Null
        );

        // A sign-in that works puts it behind.
        let alpha = app.admin("health-sso-a").await;
        let a = checklist(&app, &alpha).await;
        assert_eq!(a["Hub SSO"]["lastError"], Value::Null, "{a:#?}");
        assert_ne!(a["Hub SSO"]["lastSuccessAt"], signed_in);
    }
);

/// The Bus outbox rows of `tenant` (a label; `None`: every tenant's) that are dead.
async fn dead_bus_rows(app: &TestApp, tenant: Option<&str>) -> u64 {
    use entities::outbox::{Column, Entity, OutboxKind};
    let mut select = Entity::find()
        .filter(Column::Kind.eq(OutboxKind::Bus))
        .filter(Column::Dead.eq(true));
    if let Some(tenant) = tenant {
        select = select.filter(Column::TenantId.eq(tenant_id(tenant)));
    }
    select.count(&app.state.db).await.unwrap()
}

on_every_backend!(
    outbox_counts_and_errors_are_the_callers_tenants,
    |backend: Backend| {
        let bus = bus::start().await;
        bus.set_mode(Mode::Status(500));
        let mut env = bus::env(&bus);
        for (k, v) in [
            ("OUTBOX_MAX_ATTEMPTS", "1"),
            ("OUTBOX_POLL_INTERVAL", "50ms"),
            ("OUTBOX_RETRY_BASE", "50ms"),
        ] {
            env.push((k.to_owned(), v.to_owned()));
        }
        let app = TestApp::spawn_on(backend, &fake::pairs(&env)).await;
        let alpha = app.admin("health-alpha").await;
        let beta = app.admin("health-beta").await;
        let a_lobby = app.create_location(&alpha, "Alpha lobby").await;
        let b_lobby = app.create_location(&beta, "Beta lobby").await;
        app.check_in(&alpha, &a_lobby, "Ann").await;
        for name in ["Bo", "Cy", "Di"] {
            app.check_in(&beta, &b_lobby, name).await;
        }
        // Every row fails once and is given up on.
        let b = until(&app, &beta, "beta's events dead", |list| {
            list["Bus"]["pendingOutbox"] == 0 && list["Bus"]["deadOutbox"].as_u64() >= Some(4)
        })
        .await;
        let a = until(&app, &alpha, "alpha's events dead", |list| {
            list["Bus"]["pendingOutbox"] == 0 && list["Bus"]["deadOutbox"].as_u64() >= Some(2)
        })
        .await;
        let a_dead = dead_bus_rows(&app, Some("health-alpha")).await;
        let b_dead = dead_bus_rows(&app, Some("health-beta")).await;
        assert_eq!(a["Bus"]["deadOutbox"], a_dead, "{a:#?}");
        assert_eq!(b["Bus"]["deadOutbox"], b_dead, "{b:#?}");
        assert!(a_dead + b_dead <= dead_bus_rows(&app, None).await);
        assert!(a_dead < b_dead);
        for list in [&a, &b] {
            assert_eq!(
                list["Bus"]["lastError"], "bus: POST /api/events answered HTTP 500",
                "{list:#?}"
            );
            assert_eq!(list["Bus"]["lastSuccessAt"], Value::Null, "{list:#?}");
        }
        let whole = app.gql(Some(&alpha), QUERY, json!({})).await.to_string();
        assert!(!whole.contains(SECRET_BODY), "{whole}");

        // Beta's new rows do not show in alpha's counts.
        app.check_in(&beta, &b_lobby, "Ed").await;
        until(&app, &beta, "beta's new event dead", |list| {
            list["Bus"]["deadOutbox"].as_u64() == Some(b_dead + 1)
        })
        .await;
        assert_eq!(checklist(&app, &alpha).await["Bus"]["deadOutbox"], a_dead);

        // The Bus back: alpha's next event is delivered; alpha's error is history, beta's not.
        bus.set_mode(Mode::Ok);
        app.check_in(&alpha, &a_lobby, "Fay").await;
        let a = until(&app, &alpha, "alpha's event delivered", |list| {
            list["Bus"]["lastSuccessAt"].is_string()
        })
        .await;
        assert_eq!(a["Bus"]["lastError"], Value::Null, "{a:#?}");
        assert_eq!(a["Bus"]["deadOutbox"], a_dead, "{a:#?}");
        let b = checklist(&app, &beta).await;
        assert_eq!(b["Bus"]["lastSuccessAt"], Value::Null, "{b:#?}");
        assert!(b["Bus"]["lastError"].is_string(), "{b:#?}");
    }
);

const CREATE_TICKET: &str = "mutation { createTicket(input: {subject: \"Printer\", \
                             description: \"It is broken\"}) { id } }";

on_every_backend!(
    sync_errors_show_only_the_callers_items,
    |app, psa: FakePsa| {
        let alpha = app.admin("health-sync-a").await;
        let beta = app.admin("health-sync-b").await;
        let a_client = app
            .client_session("health-sync-a", "co-a", "a@example.com", true)
            .await;
        let b_client = app
            .client_session("health-sync-b", "co-b", "b@example.com", true)
            .await;
        app.ok(&a_client, CREATE_TICKET, json!({})).await;
        app.ok(&b_client, CREATE_TICKET, json!({})).await;
        // PSA refuses alpha's ticket and takes beta's.
        psa.refuse_tenant(&tenant_id("health-sync-a"));
        app.ok(
            &alpha,
            "mutation { runSync(job: TICKETS) { ok } }",
            json!({}),
        )
        .await;
        let a = checklist(&app, &alpha).await;
        let b = checklist(&app, &beta).await;
        assert_eq!(
            a["PSA"]["lastError"],
            "PSA refused 1 of this tenant's tickets or comments in the last ticket sync (each \
         one's syncError says why)",
            "{a:#?}"
        );
        assert_eq!(b["PSA"]["lastError"], Value::Null, "{b:#?}");
        let answered = a["PSA"]["lastSuccessAt"].clone();
        assert!(answered.is_string(), "PSA answered: {a:#?}");
        assert_eq!(b["PSA"]["lastSuccessAt"], answered);

        // PSA failing for everyone: both see it, in onegraph's words, and the last success
        // stays the run in which PSA answered.
        psa.set_mode(psa::Mode::Error500);
        app.ok(
            &beta,
            "mutation { runSync(job: TICKETS) { ok } }",
            json!({}),
        )
        .await;
        for (token, who) in [(&alpha, "alpha"), (&beta, "beta")] {
            let list = checklist(&app, token).await;
            assert_eq!(
                list["PSA"]["lastError"], "pull changes: PSA answered HTTP 500",
                "{who}: {list:#?}"
            );
            assert_eq!(list["PSA"]["lastSuccessAt"], answered, "{who}");
            let whole = app.gql(Some(token), QUERY, json!({})).await.to_string();
            assert!(!whole.contains(psa::LEAK), "{whole}");
        }
    }
);

on_every_backend!(
    mission_state_is_the_callers_tenants,
    env = [fake_mission::start(), fake_mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        let alpha = app.admin("health-church-a").await;
        let beta = app.admin("health-church-b").await;
        let member =
            member_session(&app, "health-church-a", "m@example.org", Some("m-1"), None).await;
        let events = "{ mission { events { id } } }";
        app.ok(&member, events, json!({})).await;
        let a = checklist(&app, &alpha).await;
        let b = checklist(&app, &beta).await;
        assert!(a["Mission"]["lastSuccessAt"].is_string(), "{a:#?}");
        assert_eq!(a["Mission"]["lastError"], Value::Null, "{a:#?}");
        assert_eq!(b["Mission"]["lastSuccessAt"], Value::Null, "{b:#?}");

        fake.set_mode(fake_mission::Mode::Fail500);
        let body = app.gql(Some(&member), events, json!({})).await;
        assert_eq!(code(&body), Some("UPSTREAM_UNAVAILABLE"), "{body}");
        let a = checklist(&app, &alpha).await;
        assert_eq!(
            a["Mission"]["lastError"], "Mission answered HTTP 500",
            "{a:#?}"
        );
        assert!(!a["Mission"].to_string().contains(fake_mission::SECRET));
        let b = checklist(&app, &beta).await;
        assert_eq!(b["Mission"]["lastError"], Value::Null, "{b:#?}");
    }
);

/// Runs the built `onegraph doctor` with exactly `env`: (exit code, stdout, stderr).
async fn doctor(env: &[(String, String)]) -> (i32, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_onegraph"))
        .arg("doctor")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .kill_on_drop(true)
        .output()
        .await
        .expect("run onegraph doctor");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The line of the checklist about `name`.
fn line<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| {
            l.get(17..)
                .is_some_and(|rest| rest.starts_with(&format!("{name} ")))
        })
        .unwrap_or_else(|| panic!("no line for {name}:\n{stdout}"))
}

on_every_backend!(
    doctor_reports_all_green_and_names_a_stopped_product,
    |backend: Backend| {
        let upstreams = Upstreams::start().await;
        let app = spawn_with_upstreams(backend, &upstreams, &[]).await;
        // Something in the database for doctor to read: a sign-in through Hub.
        app.admin("health-doctor").await;
        let mut env = upstreams.env();
        env.push(("DATABASE_URL".into(), app.database_url.clone()));
        env.push(("HEALTH_PROBE_TIMEOUT".into(), "1s".into()));

        let (status, stdout, stderr) = doctor(&env).await;
        assert_eq!(status, 0, "{stdout}\n{stderr}");
        assert!(
            stdout.contains("9 of 9 configured; every configured one answers."),
            "{stdout}"
        );
        assert!(line(&stdout, "Database").starts_with("ok "), "{stdout}");
        for name in NAMES {
            assert!(line(&stdout, name).starts_with("ok "), "{stdout}");
        }
        assert!(
            line(&stdout, "Hub SSO").contains("last success 20"),
            "{stdout}"
        );
        for (_, value) in upstreams.env() {
            if value.contains("key") || value.contains("secret") || value.contains("password") {
                assert!(
                    !stdout.contains(&value) && !stderr.contains(&value),
                    "{value}"
                );
            }
        }

        // One stopped: named, the others still fine, exit 1.
        upstreams.bus.down();
        let (status, stdout, stderr) = doctor(&env).await;
        assert_eq!(status, 1, "{stdout}\n{stderr}");
        assert!(line(&stdout, "Bus").starts_with("unreachable "), "{stdout}");
        assert!(
            line(&stdout, "Bus").contains("no answer from BUS_API_URL"),
            "{stdout}"
        );
        for name in NAMES.into_iter().filter(|n| *n != "Bus") {
            assert!(line(&stdout, name).starts_with("ok "), "{stdout}");
        }
        assert!(stdout.contains("unreachable: Bus."), "{stdout}");
        assert!(stderr.contains("Bus"), "{stderr}");
    }
);

/// Every setting the checklist needs.
const SETTINGS: [&str; 19] = [
    "PSA_API_URL",
    "PSA_SERVICE_KEY",
    "BOOKS_API_URL",
    "BOOKS_SERVICE_KEY",
    "MISSION_API_URL",
    "MISSION_SERVICE_KEY",
    "PORTAL_INTEGRATION_KEY",
    "LEGAL_WEBHOOK_URL",
    "LEGAL_WEBHOOK_SECRET",
    "PORTAL_CLIENT_SSO_SECRET",
    "INTEGRATION_KEY",
    "HUB_API_URL",
    "BUS_INTEGRATION_KEY",
    "BUS_API_URL",
    "BUS_SDK_KEY",
    "SES_FROM_ADDRESS",
    "SES_REGION",
    "SES_SMTP_USERNAME",
    "SES_SMTP_PASSWORD",
];

#[tokio::test]
async fn doctor_on_the_bare_configuration_names_every_missing_setting() {
    let dir = std::env::temp_dir().join(format!("onegraph-doctor-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("onegraph.db").display());
    let (status, stdout, stderr) = doctor(&[("DATABASE_URL".into(), url)]).await;
    let _ = std::fs::remove_dir_all(&dir);
    // Nothing configured is nothing unreachable: onegraph runs without them.
    assert_eq!(status, 0, "{stdout}\n{stderr}");
    for name in NAMES {
        let line = line(&stdout, name);
        assert!(line.starts_with("not configured "), "{stdout}");
        assert!(line.contains("missing "), "{line}");
    }
    for setting in SETTINGS {
        assert!(stdout.contains(setting), "{setting} not named:\n{stdout}");
    }
    assert!(stdout.contains("0 of 9 configured."), "{stdout}");
}

#[tokio::test]
async fn doctor_says_when_the_database_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let url = format!("postgres://onegraph:hunter2@127.0.0.1:{port}/onegraph");
    let (status, stdout, stderr) = doctor(&[("DATABASE_URL".into(), url)]).await;
    assert_eq!(status, 1, "{stdout}\n{stderr}");
    assert!(
        line(&stdout, "Database").starts_with("unreachable "),
        "{stdout}"
    );
    assert!(stderr.contains("database"), "{stderr}");
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
    // The settings' part is shown all the same.
    assert!(line(&stdout, "PSA").contains("PSA_API_URL"), "{stdout}");
}

on_every_backend!(the_probes_are_shared_for_a_while, |backend: Backend| {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A Mission that counts the connections it is sent and answers each with 200.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    let upstreams = Upstreams::start().await;
    let app = spawn_with_upstreams(backend, &upstreams, &[("MISSION_API_URL", url.as_str())]).await;
    let admin = app.admin("health-cache").await;
    // Admins calling at once, and again, within HEALTH_PROBE_CACHE: one round of probes.
    let calls = (0..5).map(|_| checklist(&app, &admin));
    let lists = futures_util::future::join_all(calls).await;
    assert!(
        lists.iter().all(|l| l["Mission"]["reachable"] == true),
        "{lists:#?}"
    );
    checklist(&app, &admin).await;
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "Mission was probed more than once"
    );
    // Twice in one operation is refused before anything runs.
    let body = app
        .gql(
            Some(&admin),
            "{ a: integrationHealth { name } b: integrationHealth { name } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
});
