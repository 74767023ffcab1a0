// Visitor housekeeping through the public surface: auto-checkout closes the visits still open
// at a location's local `autoCheckoutAt` through the ordinary check-out (badge freed, audit
// entry, Bus event), and retention anonymises visitors older than `retentionDays` while
// their visits stay counted. Check-in times are moved into the past in the database.

use chrono::{DateTime, Duration, Utc};
use onegraph::jobs::{Job, JobReport, execute};
use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use crate::support::*;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next `graphql-transport-ws` JSON message, skipping pings; panics after 5 s.
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .expect("a WebSocket message in time")
            .expect("an open WebSocket")
            .expect("a WebSocket frame");
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] != "ping" {
                return value;
            }
        }
    }
}

/// Subscribes `token` to `visitorCheckedOut` at `location`.
async fn subscribe_checked_out(app: &TestApp, token: &str, location: &str) -> Ws {
    let mut request = app.ws_url().into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    ws.send(Message::text(init.to_string())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {
        "query": "subscription($l: ID){ visitorCheckedOut(locationId: $l){ id status } }",
        "variables": {"l": location}}});
    ws.send(Message::text(subscribe.to_string())).await.unwrap();
    ws
}

async fn run(app: &TestApp, job: Job) -> JobReport {
    execute(&app.state, job)
        .await
        .unwrap_or_else(|e| panic!("{job:?} failed: {e:?}"))
}

fn count(report: &JobReport, tenant: &str, counter: &str) -> u64 {
    report
        .per_tenant
        .get(&tenant_id(tenant))
        .and_then(|c| c.get(counter))
        .copied()
        .unwrap_or(0)
}

async fn location(app: &TestApp, token: &str, name: &str, tz: &str) -> String {
    let data = app
        .ok(
            token,
            "mutation($n: String!, $tz: String!){ createLocation(input:{name:$n, timezone:$tz}){ id } }",
            json!({"n": name, "tz": tz}),
        )
        .await;
    data["createLocation"]["id"].as_str().unwrap().to_owned()
}

/// Checks a visitor in; returns (visit id, visitor id).
async fn check_in(
    app: &TestApp,
    token: &str,
    location: &str,
    name: &str,
    badge: Option<&str>,
) -> (String, String) {
    let data = app
        .ok(
            token,
            "mutation($l: ID!, $n: String!, $e: String, $b: ID){ checkInVisitor(input:{locationId:$l, badgeId:$b,
               visitor:{name:$n, email:$e, phone:\"+44 20 7946 0000\", company:\"Initech\"}}){ id visitor { id } } }",
            json!({"l": location, "n": name, "e": format!("{}@example.com", name.to_lowercase()), "b": badge}),
        )
        .await;
    (
        data["checkInVisitor"]["id"].as_str().unwrap().to_owned(),
        data["checkInVisitor"]["visitor"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// Moves visits' check-in (and check-out) and visitors' creation into the past.
async fn backdate(app: &TestApp, visits: &[&str], visitors: &[&str], at: DateTime<Utc>) {
    let db = Database::connect(&app.database_url).await.unwrap();
    use entities::{visitors as vr, visits as v};
    v::Entity::update_many()
        .col_expr(v::Column::CheckedInAt, Expr::value(at))
        .filter(v::Column::Id.is_in(visits.iter().copied()))
        .exec(&db)
        .await
        .unwrap();
    v::Entity::update_many()
        .col_expr(
            v::Column::CheckedOutAt,
            Expr::value(at + Duration::hours(1)),
        )
        .filter(v::Column::Id.is_in(visits.iter().copied()))
        .filter(v::Column::CheckedOutAt.is_not_null())
        .exec(&db)
        .await
        .unwrap();
    vr::Entity::update_many()
        .col_expr(vr::Column::CreatedAt, Expr::value(at))
        .filter(vr::Column::Id.is_in(visitors.iter().copied()))
        .exec(&db)
        .await
        .unwrap();
}

async fn visit(app: &TestApp, token: &str, id: &str) -> Value {
    app.ok(
        token,
        "query($id: ID!){ visit(id:$id){ status checkedOutAt badge { status } visitor { name email phone company } } }",
        json!({"id": id}),
    )
    .await["visit"]
        .clone()
}

async fn settings(app: &TestApp, token: &str, input: Value) {
    app.ok(
        token,
        "mutation($i: VisitorSettingsInput!){ updateVisitorSettings(input:$i){ retentionDays } }",
        json!({"i": input}),
    )
    .await;
}

on_every_backend!(
    auto_checkout_closes_visits_open_past_the_local_cutoff,
    |app| {
        let admin = app.admin("acme").await;
        let london = location(&app, &admin, "HQ", "UTC").await;
        // Five hours ahead of UTC all year round.
        let karachi = location(&app, &admin, "Karachi", "Asia/Karachi").await;
        let badge = app
            .ok(
                &admin,
                "mutation($l: ID!){ addBadge(locationId:$l, number:\"B-1\"){ id } }",
                json!({"l": london}),
            )
            .await["addBadge"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (stale, _) = check_in(&app, &admin, &london, "Stale", Some(&badge)).await;
        let (fresh, _) = check_in(&app, &admin, &london, "Fresh", None).await;
        let (abroad, _) = check_in(&app, &admin, &karachi, "Abroad", None).await;
        let three_hours_ago = Utc::now() - Duration::hours(3);
        backdate(&app, &[&stale, &abroad], &[], three_hours_ago).await;

        // Another tenant without autoCheckoutAt keeps its old open visit.
        let beta = app.admin("beta").await;
        let beta_loc = location(&app, &beta, "Beta", "UTC").await;
        let (beta_visit, _) = check_in(&app, &beta, &beta_loc, "Beta", None).await;
        backdate(&app, &[&beta_visit], &[], three_hours_ago).await;

        // The cutoff was an hour ago in UTC, so six hours ago in Karachi's wall-clock terms:
        // only the UTC location's visit from three hours ago is past it.
        let cutoff = (Utc::now() - Duration::hours(1))
            .format("%H:%M")
            .to_string();
        settings(&app, &admin, json!({"autoCheckoutAt": cutoff})).await;

        let mut ws = subscribe_checked_out(&app, &admin, &london).await;
        // Let the subscription register before the event.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;

        let report = run(&app, Job::AutoCheckout).await;
        assert_eq!(count(&report, "acme", "checked_out"), 1, "{report:?}");
        let event = next_json(&mut ws).await;
        assert_eq!(event["type"], "next", "{event}");
        assert_eq!(
            event["payload"]["data"]["visitorCheckedOut"],
            json!({"id": stale, "status": "CHECKED_OUT"})
        );
        assert_eq!(count(&report, "beta", "checked_out"), 0, "{report:?}");
        assert!(report.errors.is_empty(), "{report:?}");

        let closed = visit(&app, &admin, &stale).await;
        assert_eq!(closed["status"], "CHECKED_OUT", "{closed}");
        assert!(closed["checkedOutAt"].is_string());
        assert_eq!(closed["badge"]["status"], "AVAILABLE", "the badge is freed");
        for open in [&fresh, &abroad] {
            assert_eq!(visit(&app, &admin, open).await["status"], "CHECKED_IN");
        }
        assert_eq!(
            visit(&app, &beta, &beta_visit).await["status"],
            "CHECKED_IN"
        );

        // Audited as the system, and the Bus event is in the outbox.
        let audit = app
            .ok(
                &admin,
                "{ auditLog(first: 50){ nodes { actor action target } } }",
                json!({}),
            )
            .await;
        assert!(
            audit["auditLog"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["actor"] == "system:auto-checkout"
                    && e["action"] == "visit.check_out"
                    && e["target"] == stale.as_str()),
            "{audit}"
        );
        let db = Database::connect(&app.database_url).await.unwrap();
        let events = entities::outbox::Entity::find()
            .filter(entities::outbox::Column::EventType.eq("visitor.checked_out"))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(events[0].payload.contains(&stale));
        assert_eq!(
            events[0].tenant_id.as_deref(),
            Some(tenant_id("acme").as_str())
        );

        // Nothing more to do on a second run.
        let report = run(&app, Job::AutoCheckout).await;
        assert_eq!(count(&report, "acme", "checked_out"), 0, "{report:?}");
    }
);

on_every_backend!(
    retention_anonymises_old_visitors_and_keeps_their_visits,
    |app| {
        let admin = app.admin("acme").await;
        settings(&app, &admin, json!({"retentionDays": 30})).await;
        let loc = location(&app, &admin, "HQ", "UTC").await;
        let (old_visit, old) = check_in(&app, &admin, &loc, "Olivia", None).await;
        app.ok(
            &admin,
            "mutation($v: ID!){ checkOutVisitor(visitId:$v){ id } }",
            json!({"v": old_visit}),
        )
        .await;
        let (open_visit, still_here) = check_in(&app, &admin, &loc, "Oscar", None).await;
        let (_, recent) = check_in(&app, &admin, &loc, "Rita", None).await;
        let forty_days_ago = Utc::now() - Duration::days(40);
        backdate(
            &app,
            &[&old_visit, &open_visit],
            &[&old, &still_here],
            forty_days_ago,
        )
        .await;
        // Another tenant keeps the default 365 days.
        let beta = app.admin("beta").await;
        let beta_loc = location(&app, &beta, "Beta", "UTC").await;
        let (beta_visit, beta_visitor) = check_in(&app, &beta, &beta_loc, "Bea", None).await;
        backdate(&app, &[&beta_visit], &[&beta_visitor], forty_days_ago).await;

        let total = "{ visits { totalCount } }";
        assert_eq!(
            app.ok(&admin, total, json!({})).await["visits"]["totalCount"],
            3
        );

        let report = run(&app, Job::Retention).await;
        assert_eq!(count(&report, "acme", "anonymised"), 1, "{report:?}");
        assert_eq!(count(&report, "beta", "anonymised"), 0, "{report:?}");

        let who = "query($id: ID!){ visitor(id:$id){ name email phone company } }";
        assert_eq!(
            app.ok(&admin, who, json!({"id": old})).await["visitor"],
            json!({"name": "Anonymised visitor", "email": null, "phone": null, "company": null})
        );
        for (token, id, name) in [
            (&admin, &still_here, "Oscar"),
            (&admin, &recent, "Rita"),
            (&beta, &beta_visitor, "Bea"),
        ] {
            let data = app.ok(token, who, json!({"id": id})).await;
            assert_eq!(data["visitor"]["name"], name, "{data}");
            assert_eq!(data["visitor"]["company"], "Initech", "{data}");
        }
        // The visit stays, and so do the counts.
        assert_eq!(
            app.ok(&admin, total, json!({})).await["visits"]["totalCount"],
            3
        );
        let kept = visit(&app, &admin, &old_visit).await;
        assert_eq!(kept["status"], "CHECKED_OUT");
        assert_eq!(kept["visitor"]["name"], "Anonymised visitor");
        // The check-in's audit entry no longer names the visitor.
        let audit = app
            .ok(
                &admin,
                "{ auditLog(first: 50){ nodes { actor action target details } } }",
                json!({}),
            )
            .await;
        let nodes = audit["auditLog"]["nodes"].as_array().unwrap();
        let check_in_entry = nodes
            .iter()
            .find(|e| e["action"] == "visit.check_in" && e["target"] == old_visit.as_str())
            .unwrap();
        assert_eq!(check_in_entry["details"], Value::Null, "{audit}");
        assert!(
            nodes.iter().any(|e| e["actor"] == "system:retention"),
            "{audit}"
        );
        assert!(!audit.to_string().contains("Olivia"), "{audit}");

        // Running it again changes nothing.
        let report = run(&app, Job::Retention).await;
        assert_eq!(count(&report, "acme", "anonymised"), 0, "{report:?}");
    }
);

on_every_backend!(auto_checkout_runs_as_of_the_domain_clock, |app| {
    let admin = app.admin("acme").await;
    let hq = location(&app, &admin, "HQ", "UTC").await;
    let (open, _) = check_in(&app, &admin, &hq, "Owl", None).await;
    // The cutoff's wall-clock time is twelve hours from now: the last one passed half a day
    // before the check-in, the next one comes half a day after it.
    let cutoff = (Utc::now() + Duration::hours(12))
        .format("%H:%M")
        .to_string();
    settings(&app, &admin, json!({"autoCheckoutAt": cutoff})).await;

    let report = run(&app, Job::AutoCheckout).await;
    assert_eq!(count(&report, "acme", "checked_out"), 0, "{report:?}");
    assert_eq!(visit(&app, &admin, &open).await["status"], "CHECKED_IN");

    // A day later by the domain's clock, the cutoff has passed since the check-in.
    app.state.clock.set(Some(Utc::now() + Duration::days(1)));
    let report = run(&app, Job::AutoCheckout).await;
    app.state.clock.set(None);
    assert_eq!(count(&report, "acme", "checked_out"), 1, "{report:?}");
    assert_eq!(visit(&app, &admin, &open).await["status"], "CHECKED_OUT");
});

/// Checks a visitor of Initech in at `location` with `purpose` and out again; the visit id.
async fn visit_with_purpose(app: &TestApp, token: &str, location: &str, purpose: &str) -> String {
    let data = app
        .ok(
            token,
            "mutation($l: ID!, $p: String){ checkInVisitor(input:{locationId:$l, purpose:$p,
               visitor:{name:\"Olivia Private\", company:\"Initech\"}}){ id } }",
            json!({"l": location, "p": purpose}),
        )
        .await;
    let id = data["checkInVisitor"]["id"].as_str().unwrap().to_owned();
    app.ok(
        token,
        "mutation($v: ID!){ checkOutVisitor(visitId:$v){ id } }",
        json!({"v": id}),
    )
    .await;
    id
}

/// The Bus rows of `visit`, by event type.
async fn visit_events(app: &TestApp, visit: &str) -> Vec<entities::outbox::Model> {
    entities::outbox::Entity::find()
        .filter(entities::outbox::Column::Payload.contains(visit))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.event_type.starts_with("visitor."))
        .collect()
}

/// Marks the outbox row `id` as failed for good, as the dispatcher does after its last try.
async fn kill(app: &TestApp, id: &str) {
    entities::outbox::Entity::update_many()
        .col_expr(entities::outbox::Column::Dead, Expr::value(true))
        .col_expr(entities::outbox::Column::Attempts, Expr::value(20))
        .filter(entities::outbox::Column::Id.eq(id))
        .exec(&app.state.db)
        .await
        .unwrap();
}

on_every_backend!(
    retention_clears_purposes_and_dead_events_of_old_visits,
    |app| {
        let admin = app.admin("acme").await;
        settings(&app, &admin, json!({"retentionDays": 30})).await;
        let loc = location(&app, &admin, "HQ", "UTC").await;
        let old = visit_with_purpose(&app, &admin, &loc, "Interview for the CFO role").await;
        let events = visit_events(&app, &old).await;
        assert_eq!(events.len(), 2, "{events:?}");
        let dead = events
            .iter()
            .find(|e| e.event_type == "visitor.checked_in")
            .unwrap();
        let pending = events
            .iter()
            .find(|e| e.event_type == "visitor.checked_out")
            .unwrap();
        kill(&app, &dead.id).await;
        // Another tenant keeps the default 365 days.
        let beta = app.admin("beta").await;
        let beta_loc = location(&app, &beta, "Beta", "UTC").await;
        let kept = visit_with_purpose(&app, &beta, &beta_loc, "Audit of the books").await;
        let beta_dead = visit_events(&app, &kept).await[0].clone();
        kill(&app, &beta_dead.id).await;

        // Forty days on, acme's visit is past its retention, beta's is not.
        app.state.clock.set(Some(Utc::now() + Duration::days(40)));
        let report = run(&app, Job::Retention).await;
        app.state.clock.set(None);
        assert_eq!(count(&report, "acme", "purposes_cleared"), 1, "{report:?}");
        assert_eq!(count(&report, "acme", "outbox_scrubbed"), 1, "{report:?}");
        assert_eq!(count(&report, "beta", "purposes_cleared"), 0, "{report:?}");

        let purpose = "query($id: ID!){ visit(id:$id){ purpose status visitor { name } } }";
        let visit = app.ok(&admin, purpose, json!({"id": old})).await["visit"].clone();
        assert_eq!(visit["purpose"], Value::Null, "{visit}");
        assert_eq!(visit["status"], "CHECKED_OUT", "{visit}");

        // The dead event no longer names the visitor or their company; the rest of it stays.
        let row = entities::outbox::Entity::find_by_id(dead.id.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert!(!row.payload.contains("Olivia"), "{}", row.payload);
        assert!(!row.payload.contains("Initech"), "{}", row.payload);
        let before: Value = serde_json::from_str(&dead.payload).unwrap();
        let after: Value = serde_json::from_str(&row.payload).unwrap();
        assert_eq!(after["data"]["visitor_name"], "Anonymised visitor");
        assert_eq!(after["data"]["company"], Value::Null);
        assert_eq!(after["id"], before["id"]);
        assert_eq!(after["data"]["visit_id"], before["data"]["visit_id"]);
        assert!(row.dead);
        // A row still to be delivered is the dispatcher's, not retention's.
        let row = entities::outbox::Entity::find_by_id(pending.id.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.payload, pending.payload);

        // Beta's visit and dead event keep everything.
        let visit = app.ok(&beta, purpose, json!({"id": kept})).await["visit"].clone();
        assert_eq!(visit["purpose"], "Audit of the books", "{visit}");
        let row = entities::outbox::Entity::find_by_id(beta_dead.id.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.payload, beta_dead.payload);

        // Running it again changes nothing.
        app.state.clock.set(Some(Utc::now() + Duration::days(40)));
        let report = run(&app, Job::Retention).await;
        app.state.clock.set(None);
        assert_eq!(count(&report, "acme", "purposes_cleared"), 0, "{report:?}");
        assert_eq!(count(&report, "acme", "outbox_scrubbed"), 0, "{report:?}");
    }
);
