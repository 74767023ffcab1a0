// Portal tickets through the public surface, synced both ways with a fake PSA that speaks
// real HTTP: a ticket and its comments reach PSA exactly once, PSA's status changes and
// technician comments come back once, refusals are FAILED with onegraph's own syncError and
// retried, companies and tenants never see each other's tickets, lists cost a constant
// number of statements, and the scheduler's lease lets one run at a time.

use std::time::Duration;

use onegraph::jobs::{Job, run_now};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::support::psa::{LEAK, Mode};
use crate::support::*;

const TICKET: &str = "query($id: ID!){ ticket(id: $id){ id psaTicketId subject description status
    priority syncState syncError createdAt updatedAt
    comments { id author body createdAt fromPsa } } }";

const CREATE: &str =
    "mutation($s: String!, $d: String!){ createTicket(input:{subject:$s, description:$d}){
    id status priority syncState psaTicketId comments { id } } }";

const COMMENT: &str = "mutation($t: ID!, $b: String!){ addTicketComment(ticketId:$t, body:$b){ id author body fromPsa } }";

const RUN: &str = "mutation{ runSync(job: TICKETS){ id job startedAt finishedAt ok summary } }";

async fn create_ticket(app: &TestApp, token: &str, subject: &str) -> String {
    let data = app
        .ok(token, CREATE, json!({"s": subject, "d": "It is broken"}))
        .await;
    data["createTicket"]["id"].as_str().unwrap().to_owned()
}

async fn comment(app: &TestApp, token: &str, ticket: &str, body: &str) -> String {
    let data = app
        .ok(token, COMMENT, json!({"t": ticket, "b": body}))
        .await;
    data["addTicketComment"]["id"].as_str().unwrap().to_owned()
}

async fn ticket(app: &TestApp, token: &str, id: &str) -> Value {
    app.ok(token, TICKET, json!({"id": id})).await["ticket"].clone()
}

/// The recorded runs of the tickets job, oldest first (what `sync_runs` holds; no public
/// surface lists them yet).
async fn recorded_runs(app: &TestApp) -> Vec<entities::sync_runs::Model> {
    entities::sync_runs::Entity::find()
        .filter(entities::sync_runs::Column::Job.eq("tickets"))
        .order_by_asc(entities::sync_runs::Column::StartedAt)
        .all(&app.state.db)
        .await
        .unwrap()
}

/// runSync(TICKETS) as `admin`; the SyncRun.
async fn run_sync(app: &TestApp, admin: &str) -> Value {
    app.ok(admin, RUN, json!({})).await["runSync"].clone()
}

on_every_backend!(
    tickets_are_stored_locally_pending_with_their_defaults,
    |app| {
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let data = app
            .ok(
                &client,
                CREATE,
                json!({"s": "  Printer on fire ", "d": "Smoke"}),
            )
            .await;
        let created = &data["createTicket"];
        assert_eq!(created["status"], "NEW");
        assert_eq!(created["priority"], "NORMAL");
        assert_eq!(created["syncState"], "PENDING");
        assert_eq!(created["psaTicketId"], Value::Null);
        let id = created["id"].as_str().unwrap();
        let data = app
        .ok(
            &client,
            "mutation($t: ID!){ addTicketComment(ticketId:$t, body:\"More smoke\"){ author body fromPsa } }",
            json!({"t": id}),
        )
        .await;
        assert_eq!(
            data["addTicketComment"],
            json!({"author": "Client cleo@example.com", "body": "More smoke", "fromPsa": false})
        );
        let t = ticket(&app, &client, id).await;
        assert_eq!(t["subject"], "Printer on fire");
        assert_eq!(t["comments"].as_array().unwrap().len(), 1);
        let high = app
        .ok(
            &client,
            "mutation{ createTicket(input:{subject:\"x\", description:\"y\", priority: URGENT}){ priority } }",
            json!({}),
        )
        .await;
        assert_eq!(high["createTicket"]["priority"], "URGENT");

        // Without PSA_API_URL the sync cannot run and says so.
        let admin = app.admin("acme").await;
        let body = app.gql(Some(&admin), RUN, json!({})).await;
        assert_eq!(code(&body), Some("UPSTREAM_NOT_CONFIGURED"), "{body}");
        assert_eq!(body["data"]["runSync"], Value::Null);
        let body = app
            .gql(
                Some(&admin),
                "mutation{ runSync(job: INVOICES){ id } }",
                json!({}),
            )
            .await;
        assert_eq!(code(&body), Some("UPSTREAM_NOT_CONFIGURED"), "{body}");
        // runSync is a staff admin's: a client is refused, and so is staff without the permission.
        let body = app.gql(Some(&client), RUN, json!({})).await;
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
        let viewer = app.staff_session("acme", &["visitor.visitors.view"]).await;
        let body = app.gql(Some(&viewer), RUN, json!({})).await;
        assert_eq!(
            body["errors"][0]["extensions"]["permission"],
            "visitor.admin.settings"
        );
        // Staff hold no portal.* permission: the ticket list is not theirs.
        let body = app
            .gql(Some(&admin), "{ tickets { totalCount } }", json!({}))
            .await;
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
        assert_eq!(body["data"]["tickets"], Value::Null);
    }
);

on_every_backend!(over_long_or_empty_input_is_bad_user_input, |app| {
    let client = app
        .client_session("acme", "co-1", "cleo@example.com", false)
        .await;
    let long_subject = "s".repeat(201);
    let body = app
        .gql(Some(&client), CREATE, json!({"s": long_subject, "d": "d"}))
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(body["data"]["createTicket"], Value::Null);
    let body = app
        .gql(
            Some(&client),
            CREATE,
            json!({"s": "ok", "d": "d".repeat(10_001)}),
        )
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = app
        .gql(Some(&client), CREATE, json!({"s": "  ", "d": "d"}))
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = app
        .gql(
            Some(&client),
            CREATE,
            json!({"s": "ok", "d": "bad\u{0}byte"}),
        )
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    // The limits themselves are accepted, and so are Windows line ends.
    let data = app
        .ok(&client, CREATE, json!({"s": "Lines", "d": "one\r\ntwo"}))
        .await;
    assert_eq!(data["createTicket"]["status"], "NEW");
    let id = {
        let data = app
            .ok(
                &client,
                CREATE,
                json!({"s": "s".repeat(200), "d": "d".repeat(10_000)}),
            )
            .await;
        data["createTicket"]["id"].as_str().unwrap().to_owned()
    };
    let body = app
        .gql(
            Some(&client),
            COMMENT,
            json!({"t": id, "b": "b".repeat(10_001)}),
        )
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = app
        .gql(
            Some(&client),
            "{ tickets(first: 101){ totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    // Nothing refused was stored.
    let data = app
        .ok(&client, "{ tickets { totalCount } }", json!({}))
        .await;
    assert_eq!(data["tickets"]["totalCount"], 2);

    // A client whose token narrows it to viewing may not open tickets.
    let token =
        app.mint(&app.client_claims("acme", "cleo@example.com", Some(&["portal.tickets.view"])));
    let (_, session) = app.exchange(&token).await;
    let viewer = session["session_token"].as_str().unwrap();
    let body = app
        .gql(Some(viewer), CREATE, json!({"s": "x", "d": "y"}))
        .await;
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["permission"],
        "portal.tickets.create"
    );
});

on_every_backend!(another_company_or_tenant_sees_none_of_it, |app| {
    let cleo = app
        .client_session("acme", "co-1", "cleo@example.com", false)
        .await;
    let id = create_ticket(&app, &cleo, "Ours").await;
    comment(&app, &cleo, &id, "private detail").await;

    let rival = app
        .client_session("acme", "co-2", "rival@example.com", true)
        .await;
    let stranger = app
        .client_session("other", "co-1", "stranger@example.com", true)
        .await;
    for token in [&rival, &stranger] {
        let data = app
            .ok(
                token,
                "query($id: ID!){ tickets { totalCount nodes { id } } ticket(id: $id){ id } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(data["tickets"]["totalCount"], 0, "{data}");
        assert_eq!(data["tickets"]["nodes"], json!([]));
        assert_eq!(data["ticket"], Value::Null);
        let body = app
            .gql(Some(token), COMMENT, json!({"t": id, "b": "sneaky"}))
            .await;
        assert_eq!(code(&body), Some("NOT_FOUND"), "{body}");
    }
    // Not a UUID, or no such ticket: the same null.
    let data = app
        .ok(&cleo, "{ a: ticket(id: \"nope\"){ id } b: ticket(id: \"7f0e0b54-7b86-4b8e-9a3c-2f1e4c7a9b10\"){ id } }", json!({}))
        .await;
    assert_eq!(data, json!({"a": null, "b": null}));
    // The sneaky comments were not stored.
    assert_eq!(
        ticket(&app, &cleo, &id).await["comments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
});

on_every_backend!(ticket_pages_cost_a_constant_number_of_statements, |app| {
    let client = app
        .client_session("acme", "co-1", "cleo@example.com", false)
        .await;
    let mut ids = Vec::new();
    for i in 0..55 {
        let id = create_ticket(&app, &client, &format!("Ticket {i}")).await;
        if i % 3 == 0 {
            comment(&app, &client, &id, &format!("note {i}")).await;
        }
        ids.push(id);
    }
    const PAGE: &str = "query($n: Int, $a: String){ tickets(first: $n, after: $a){ totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id subject status comments { id author body fromPsa } } } } }";
    let mut cost = Vec::new();
    for n in [5, 50] {
        // The fewest statements of three requests: the server's background work (sweeps,
        // timers) may add to one window, never take away.
        let mut fewest = u64::MAX;
        let mut data = Value::Null;
        for _ in 0..3 {
            let before = app.statements().await;
            data = app.ok(&client, PAGE, json!({"n": n})).await;
            fewest = fewest.min(app.statements().await - before);
        }
        cost.push(fewest);
        let edges = data["tickets"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), n as usize);
        assert_eq!(data["tickets"]["totalCount"], 55);
        // Newest first.
        assert_eq!(edges[0]["node"]["id"], ids[54].as_str());
        assert_eq!(edges[0]["node"]["comments"][0]["body"], "note 54");
    }
    assert_eq!(
        cost[0], cost[1],
        "first: 5 and first: 50 cost {cost:?} statements"
    );

    // Paging on from the end cursor, to the last page.
    let first = app.ok(&client, PAGE, json!({"n": 50})).await;
    assert_eq!(first["tickets"]["pageInfo"]["hasNextPage"], true);
    let after = first["tickets"]["pageInfo"]["endCursor"].clone();
    let rest = app.ok(&client, PAGE, json!({"n": 50, "a": after})).await;
    let edges = rest["tickets"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 5);
    assert_eq!(rest["tickets"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(edges[4]["node"]["id"], ids[0].as_str());
    // The status filter.
    let data = app
        .ok(
            &client,
            "{ a: tickets(status: NEW){ totalCount } b: tickets(status: CLOSED){ totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data,
        json!({"a": {"totalCount": 55}, "b": {"totalCount": 0}})
    );
});

on_every_backend!(
    ticket_reaches_psa_exactly_once_even_when_psa_was_down,
    |app, psa: FakePsa| {
        psa.down().await;
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let id = create_ticket(&app, &client, "VPN down").await;
        let admin = app.admin("acme").await;

        let run = run_sync(&app, &admin).await;
        assert_eq!(run["ok"], false, "{run}");
        assert_eq!(run["job"], "TICKETS");
        assert!(run["finishedAt"].is_string());
        // Nothing reached PSA, nothing local changed.
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["syncState"], "PENDING");
        assert_eq!(t["syncError"], Value::Null);
        assert_eq!(t["psaTicketId"], Value::Null);

        psa.up().await;
        let run = run_sync(&app, &admin).await;
        assert_eq!(run["ok"], true, "{run}");
        assert_eq!(run["summary"], "pushed=1");
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["syncState"], "SYNCED");
        assert_eq!(t["psaTicketId"], "PSA-1");
        assert_eq!(t["status"], "NEW");

        let run = run_sync(&app, &admin).await;
        assert_eq!(run["summary"], "nothing to do");
        let posts = psa.posts("/api/tickets");
        assert_eq!(posts.len(), 1, "{posts:?}");
        let post = &posts[0];
        assert_eq!(post.idempotency_key.as_deref(), Some(id.as_str()));
        assert_eq!(
            post.authorization.as_deref(),
            Some(&*format!("Bearer {PSA_KEY}"))
        );
        assert_eq!(
            post.body,
            json!({
                "external_ref": id,
                "tenant_id": tenant_id("acme"),
                "company_id": "co-1",
                "contact_email": "cleo@example.com",
                "subject": "VPN down",
                "description": "It is broken",
                "priority": "normal",
            })
        );
        assert_eq!(psa.ticket_count(), 1);
    }
);

on_every_backend!(
    timed_out_push_is_retried_with_the_same_key_and_lands_once,
    env = [("UPSTREAM_TIMEOUT", "1s"), ("TICKET_SYNC_BACKOFF", "0")],
    |app, psa: FakePsa| {
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let id = create_ticket(&app, &client, "Slow").await;
        psa.set_mode(Mode::Slow(Duration::from_millis(3000)));
        let record = run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(record.ok, Some(false));
        let error = record.error.unwrap();
        assert!(error.contains("PSA did not answer in time"), "{error}");
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["syncState"], "FAILED");
        assert_eq!(t["syncError"], "push ticket: PSA did not answer in time");

        // PSA did get the slow request; the retry carries the same key and gets the same id.
        psa.set_mode(Mode::Ok);
        let record = run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(record.ok, Some(true), "{:?}", record.error);
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["syncState"], "SYNCED");
        assert_eq!(t["syncError"], Value::Null);
        let keys: Vec<_> = psa
            .posts("/api/tickets")
            .into_iter()
            .map(|r| r.idempotency_key.unwrap())
            .collect();
        assert_eq!(keys, vec![id.clone(), id.clone()]);
        assert_eq!(psa.ticket_count(), 1);
    }
);

on_every_backend!(
    refused_ticket_is_failed_then_synced_and_its_comment_waits_for_its_id,
    env = [("TICKET_SYNC_BACKOFF", "0")],
    |app, psa: FakePsa| {
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let id = create_ticket(&app, &client, "Email").await;
        let comment_id = comment(&app, &client, &id, "Since Monday").await;
        let admin = app.admin("acme").await;

        psa.set_mode(Mode::Error500);
        let run = run_sync(&app, &admin).await;
        assert_eq!(run["ok"], false);
        assert_eq!(run["summary"], "failed=1");
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["syncState"], "FAILED");
        assert_eq!(t["syncError"], "push ticket: PSA answered HTTP 500");
        assert!(!t.to_string().contains(LEAK));
        // The comment was not tried: its ticket has no PSA id yet.
        assert!(psa.posts("/api/tickets/PSA-1/comments").is_empty());
        assert!(
            psa.requests().iter().all(|r| !r.path.contains("/comments")),
            "{:?}",
            psa.requests()
        );

        psa.set_mode(Mode::Ok);
        let run = run_sync(&app, &admin).await;
        assert_eq!(run["ok"], true, "{run}");
        assert_eq!(run["summary"], "comments_pushed=1 pushed=1");
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["syncState"], "SYNCED");
        assert_eq!(t["syncError"], Value::Null);
        let psa_id = t["psaTicketId"].as_str().unwrap().to_owned();
        let path = format!("/api/tickets/{psa_id}/comments");
        let comments = psa.created(&path);
        assert_eq!(comments.len(), 1);
        assert_eq!(
            comments[0].idempotency_key.as_deref(),
            Some(comment_id.as_str())
        );
        assert_eq!(
            comments[0].body,
            json!({"author_email": "cleo@example.com", "body": "Since Monday"})
        );

        // Nothing is pushed twice.
        run_sync(&app, &admin).await;
        assert_eq!(psa.posts(&path).len(), 1);
        assert_eq!(psa.created("/api/tickets").len(), 1);
    }
);

on_every_backend!(
    refused_ticket_backs_off_and_is_never_dropped,
    |app, psa: FakePsa| {
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let id = create_ticket(&app, &client, "Backoff").await;
        psa.set_mode(Mode::Malformed);
        let record = run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(record.ok, Some(false));
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["syncState"], "FAILED");
        assert_eq!(t["syncError"], "push ticket: PSA answered malformed JSON");
        let row = entities::tickets::Entity::find_by_id(id.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.sync_attempts, 1);
        let wait = row.next_sync_at.unwrap() - chrono::Utc::now();
        assert!(
            wait > chrono::Duration::seconds(50) && wait <= chrono::Duration::seconds(60),
            "{wait}"
        );
        // Within the backoff (TICKET_SYNC_BACKOFF, 1m by default) it is not tried again...
        psa.set_mode(Mode::Ok);
        run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(psa.posts("/api/tickets").len(), 1);
        // ...and it is still there, still failed, waiting for its retry.
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["syncState"], "FAILED");
        // A second refusal doubles the wait.
        psa.set_mode(Mode::Error500);
        entities::tickets::Entity::update_many()
            .col_expr(
                entities::tickets::Column::NextSyncAt,
                sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
            )
            .exec(&app.state.db)
            .await
            .unwrap();
        run_now(&app.state, Job::Tickets).await.unwrap();
        let row = entities::tickets::Entity::find_by_id(id.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.sync_attempts, 2);
        assert_eq!(
            row.sync_error.as_deref(),
            Some("push ticket: PSA answered HTTP 500")
        );
        let wait = row.next_sync_at.unwrap() - chrono::Utc::now();
        assert!(wait > chrono::Duration::seconds(110), "{wait}");
        let data = app
            .ok(&client, "{ tickets(status: NEW){ totalCount } }", json!({}))
            .await;
        assert_eq!(data["tickets"]["totalCount"], 1);
    }
);

on_every_backend!(
    psa_status_and_technician_comment_reach_the_client_once,
    |app, psa: FakePsa| {
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let id = create_ticket(&app, &client, "Laptop").await;
        let own = comment(&app, &client, &id, "It beeps").await;
        let admin = app.admin("acme").await;
        run_sync(&app, &admin).await;
        let psa_id = ticket(&app, &client, &id).await["psaTicketId"]
            .as_str()
            .unwrap()
            .to_owned();
        let own_psa_id = psa.comment_id(&own).unwrap();

        // PSA's feed lists the ticket with every comment: Portal's own and the technician's,
        // written after it (times relative to now: comments are listed oldest first).
        let later = |minutes: i64| {
            (chrono::Utc::now() + chrono::Duration::minutes(minutes))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        let comments = json!([
            {"id": own_psa_id, "author": "Client", "body": "It beeps", "created_at": later(0)},
            {"id": "T-9", "author": "Tina Tech", "body": "On my way", "created_at": later(60)},
        ]);
        psa.push_change(
            json!({"id": psa_id, "tenant_id": tenant_id("acme"), "external_ref": id,
        "status": "in_progress", "comments": comments, "updated_at": "2026-12-01T09:00:00Z"}),
        );
        // A change of a ticket Portal does not know is ignored.
        psa.push_change(
            json!({"id": "PSA-404", "tenant_id": tenant_id("acme"), "external_ref": null, "status": "closed",
        "comments": [], "updated_at": "2026-12-01T09:00:00Z"}),
        );
        let run = run_sync(&app, &admin).await;
        assert_eq!(run["summary"], "pulled=1", "{run}");
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["status"], "IN_PROGRESS");
        let list = t["comments"].as_array().unwrap();
        assert_eq!(list.len(), 2, "{t}");
        assert_eq!(list[0]["body"], "It beeps");
        assert_eq!(list[0]["fromPsa"], false);
        assert_eq!(
            (&list[1]["author"], &list[1]["body"], &list[1]["fromPsa"]),
            (&json!("Tina Tech"), &json!("On my way"), &json!(true))
        );

        // A second change repeats the comments and sends a status Portal does not know: no
        // duplicate, status kept.
        psa.push_change(
            json!({"id": psa_id, "tenant_id": tenant_id("acme"), "external_ref": id, "status": "escalated_to_mars",
        "comments": comments, "updated_at": "2026-12-01T10:00:00Z"}),
        );
        run_sync(&app, &admin).await;
        // And a PSA that replays its whole feed changes nothing either.
        psa.set_replay(true);
        run_sync(&app, &admin).await;
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["status"], "IN_PROGRESS");
        assert_eq!(t["comments"].as_array().unwrap().len(), 2, "{t}");

        // The pull pages from the stored cursor.
        let pulls: Vec<String> = psa
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET")
            .map(|r| r.path)
            .collect();
        assert_eq!(pulls[0], "/api/tickets/changes");
        assert!(
            pulls.contains(&"/api/tickets/changes?since=2".to_owned()),
            "{pulls:?}"
        );
        assert!(
            pulls.contains(&"/api/tickets/changes?since=3".to_owned()),
            "{pulls:?}"
        );

        // PSA broken on the pull: local data intact, the run records the error.
        psa.set_replay(false);
        psa.set_mode(Mode::Error500);
        let record = run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(record.ok, Some(false));
        assert_eq!(
            record.error.as_deref(),
            Some("pull changes: PSA answered HTTP 500")
        );
        psa.set_mode(Mode::Malformed);
        let record = run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(
            record.error.as_deref(),
            Some("pull changes: PSA answered malformed JSON")
        );
        let after = ticket(&app, &client, &id).await;
        assert_eq!(after["status"], "IN_PROGRESS");
        assert_eq!(after["comments"], t["comments"]);
    }
);

on_every_backend!(
    run_sync_reports_only_the_callers_tenant,
    |app, psa: FakePsa| {
        let acme = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let other = app
            .client_session("other", "co-9", "olga@example.com", false)
            .await;
        create_ticket(&app, &acme, "A1").await;
        create_ticket(&app, &other, "O1").await;
        create_ticket(&app, &other, "O2").await;
        let admin = app.admin("acme").await;
        let run = run_sync(&app, &admin).await;
        // The run pushed all three; acme's admin sees acme's one.
        assert_eq!(run["summary"], "pushed=1", "{run}");
        assert_eq!(psa.ticket_count(), 3);
        let third = app.admin("third").await;
        let run = run_sync(&app, &third).await;
        assert_eq!(run["summary"], "nothing to do");
    }
);

on_every_backend!(
    two_concurrent_runs_one_runs_the_other_conflicts,
    |app, psa: FakePsa| {
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        create_ticket(&app, &client, "Race").await;
        psa.set_mode(Mode::Slow(Duration::from_millis(800)));
        let (a, b) = tokio::join!(
            run_now(&app.state, Job::Tickets),
            run_now(&app.state, Job::Tickets)
        );
        let codes: Vec<&str> = [&a, &b]
            .iter()
            .map(|r| match r {
                Ok(_) => "ok",
                Err(e) => e.code().as_str(),
            })
            .collect();
        assert!(
            codes == ["ok", "CONFLICT"] || codes == ["CONFLICT", "ok"],
            "{codes:?}"
        );
        let conflict = [a, b].into_iter().find_map(Result::err).unwrap();
        assert!(conflict.message().contains("already running"));
        assert_eq!(psa.posts("/api/tickets").len(), 1);
        // The lease was released: the next run goes ahead.
        psa.set_mode(Mode::Ok);
        assert!(run_now(&app.state, Job::Tickets).await.is_ok());
    }
);

on_every_backend!(
    the_scheduler_runs_the_sync_by_itself,
    env = [("TICKET_SYNC_INTERVAL", "300ms")],
    |app, psa: FakePsa| {
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let id = create_ticket(&app, &client, "Scheduled").await;
        let mut state = Value::Null;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            state = ticket(&app, &client, &id).await["syncState"].clone();
            if state == "SYNCED" {
                break;
            }
        }
        assert_eq!(state, "SYNCED");
        // More ticks pass; the ticket still reached PSA once.
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(psa.posts("/api/tickets").len(), 1);
        assert!(
            psa.requests().iter().filter(|r| r.method == "GET").count() >= 2,
            "the scheduler ran more than once"
        );
        // Each run is recorded, with its per-tenant counts.
        let runs = recorded_runs(&app).await;
        assert!(runs.len() >= 2, "{runs:?}");
        let (pushed, idle): (Vec<_>, Vec<_>) = runs
            .iter()
            .partition(|r| r.summary.as_deref() == Some("pushed=1"));
        assert_eq!(pushed.len(), 1, "{runs:?}");
        let first = pushed[0];
        assert_eq!(first.ok, Some(true));
        assert!(first.finished_at.is_some());
        assert_eq!(first.error, None);
        let counts: Value = serde_json::from_str(&first.counts).unwrap();
        assert_eq!(counts, json!({ tenant_id("acme"): {"pushed": 1} }));
        // The others found nothing to do (or are still running as we look).
        assert!(
            idle.iter()
                .all(|r| r.summary.is_none() || r.summary.as_deref() == Some("nothing to do")),
            "{idle:?}"
        );
    }
);

on_every_backend!(
    the_scheduler_skips_a_job_without_its_upstream_and_records_nothing,
    env = [("TICKET_SYNC_INTERVAL", "100ms")],
    |app| {
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let id = create_ticket(&app, &client, "Nowhere to go").await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(recorded_runs(&app).await.is_empty());
        assert_eq!(ticket(&app, &client, &id).await["syncState"], "PENDING");
        let err = run_now(&app.state, Job::Tickets).await.unwrap_err();
        assert_eq!(err.code().as_str(), "UPSTREAM_NOT_CONFIGURED");
        assert!(recorded_runs(&app).await.is_empty());
    }
);

/// `onegraph jobs run tickets` against the test server's database and the fake PSA.
async fn jobs_run(app: &TestApp, psa_url: Option<&str>) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_onegraph"));
    command
        .args(["jobs", "run", "tickets"])
        .env("DATABASE_URL", &app.database_url)
        .env("PSA_SERVICE_KEY", PSA_KEY)
        .env("RUST_LOG", "off");
    match psa_url {
        Some(url) => command.env("PSA_API_URL", url),
        None => command.env_remove("PSA_API_URL"),
    };
    let output = command.output().await.unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

on_every_backend!(
    jobs_run_command_runs_the_sync_and_exits_1_on_failure,
    |app, psa: FakePsa| {
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let id = create_ticket(&app, &client, "From the CLI").await;
        let (status, stdout, stderr) = jobs_run(&app, Some(&psa.base)).await;
        assert_eq!(status, 0, "{stdout}{stderr}");
        assert!(stdout.contains("pushed=1"), "{stdout}");
        assert_eq!(ticket(&app, &client, &id).await["syncState"], "SYNCED");
        assert_eq!(psa.ticket_count(), 1);

        create_ticket(&app, &client, "Refused").await;
        psa.set_mode(Mode::Error500);
        let (status, stdout, stderr) = jobs_run(&app, Some(&psa.base)).await;
        assert_eq!(status, 1, "{stdout}{stderr}");
        assert!(stdout.contains("failed=1"), "{stdout}");
        assert!(stderr.contains("PSA answered HTTP 500"), "{stderr}");
        assert!(!stderr.contains(LEAK) && !stdout.contains(LEAK));

        let (status, _, stderr) = jobs_run(&app, None).await;
        assert_eq!(status, 1);
        assert!(stderr.contains("UPSTREAM_NOT_CONFIGURED"), "{stderr}");
        // Every run the command made is recorded; the unconfigured one is not.
        assert_eq!(recorded_runs(&app).await.len(), 2);
    }
);

on_every_backend!(
    run_sync_answers_each_tenant_its_own_outcome,
    env = [("TICKET_SYNC_BACKOFF", "0")],
    |app, psa: FakePsa| {
        let acme_client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let beta_client = app
            .client_session("beta", "co-1", "bob@example.com", false)
            .await;
        let acme_ticket = create_ticket(&app, &acme_client, "Fine").await;
        let beta_ticket = create_ticket(&app, &beta_client, "Refused").await;
        psa.refuse_tenant(&tenant_id("beta"));
        let acme = app.admin("acme").await;
        let beta = app.admin("beta").await;

        // The platform-wide run failed beta's ticket; acme's own part went well.
        let run = run_sync(&app, &acme).await;
        assert_eq!(run["ok"], true, "{run}");
        assert_eq!(run["summary"], "pushed=1", "{run}");
        assert_eq!(
            ticket(&app, &acme_client, &acme_ticket).await["syncState"],
            "SYNCED"
        );
        let run = run_sync(&app, &beta).await;
        assert_eq!(run["ok"], false, "{run}");
        assert_eq!(run["summary"], "failed=1", "{run}");
        assert_eq!(
            ticket(&app, &beta_client, &beta_ticket).await["syncState"],
            "FAILED"
        );
        // Both runs were platform-wide and recorded as not ok.
        let runs = recorded_runs(&app).await;
        assert_eq!(runs.len(), 2);
        assert!(runs.iter().all(|r| r.ok == Some(false)), "{runs:?}");

        // An error that concerns everyone (PSA down) is every tenant's.
        create_ticket(&app, &acme_client, "Later").await;
        psa.down().await;
        let run = run_sync(&app, &acme).await;
        assert_eq!(run["ok"], false, "{run}");
        psa.up().await;
    }
);

on_every_backend!(
    run_sync_keeps_a_minimum_gap_per_tenant,
    env = [("RUN_SYNC_MIN_INTERVAL", "30s")],
    |app, psa: FakePsa| {
        let acme = app.admin("acme").await;
        let run = run_sync(&app, &acme).await;
        assert_eq!(run["ok"], true, "{run}");

        // Back to back, by the same or another admin of the tenant: refused, nothing run.
        let other_admin = app.admin("acme").await;
        for token in [&acme, &other_admin] {
            let body = app.gql(Some(token), RUN, json!({})).await;
            assert_eq!(code(&body), Some("RATE_LIMITED"), "{body}");
            assert_eq!(body["data"]["runSync"], Value::Null, "{body}");
            let retry = body["errors"][0]["extensions"]["retryAfter"]
                .as_u64()
                .unwrap_or(0);
            assert!((1..=30).contains(&retry), "{body}");
        }
        assert_eq!(recorded_runs(&app).await.len(), 1);

        // Another tenant has its own gap.
        let beta = app.admin("beta").await;
        assert_eq!(run_sync(&app, &beta).await["ok"], true);
        assert_eq!(recorded_runs(&app).await.len(), 2);
        assert!(psa.requests().len() >= 2);
    }
);

on_every_backend!(
    run_sync_checks_the_tenant_gap_before_the_lease,
    env = [("RUN_SYNC_MIN_INTERVAL", "30s")],
    |app, _psa: FakePsa| {
        use sea_orm::{ActiveValue::Set, sea_query::OnConflict};
        let acme = app.admin("acme").await;
        assert_eq!(run_sync(&app, &acme).await["ok"], true);

        // Another replica holds the job now.
        let held = entities::job_leases::ActiveModel {
            job: Set("tickets".to_owned()),
            holder: Set("another-replica".to_owned()),
            locked_until: Set(chrono::Utc::now() + chrono::Duration::hours(1)),
            last_started_at: Set(Some(chrono::Utc::now())),
        };
        entities::job_leases::Entity::insert(held)
            .on_conflict(
                OnConflict::column(entities::job_leases::Column::Job)
                    .update_columns([
                        entities::job_leases::Column::Holder,
                        entities::job_leases::Column::LockedUntil,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&app.state.db)
            .await
            .unwrap();
        // A tenant within its gap is told so without touching the job's lease.
        let body = app.gql(Some(&acme), RUN, json!({})).await;
        assert_eq!(code(&body), Some("RATE_LIMITED"), "{body}");
        // A tenant whose turn it is finds the job running; that call is not its start.
        let beta = app.admin("beta").await;
        let body = app.gql(Some(&beta), RUN, json!({})).await;
        assert_eq!(code(&body), Some("CONFLICT"), "{body}");
        let lease = entities::job_leases::Entity::find_by_id("tickets".to_owned())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(lease.holder, "another-replica");

        entities::job_leases::Entity::delete_by_id("tickets".to_owned())
            .exec(&app.state.db)
            .await
            .unwrap();
        assert_eq!(run_sync(&app, &beta).await["ok"], true);
    }
);

on_every_backend!(
    psa_answers_past_the_size_limit_fail_and_change_nothing,
    env = [("UPSTREAM_MAX_BODY", "16384"), ("TICKET_SYNC_BACKOFF", "0")],
    |app, psa: FakePsa| {
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let id = create_ticket(&app, &client, "Oversized").await;

        // A creation answered with a body over the limit (with its Content-Length): the
        // ticket is FAILED, and the text says why without any of PSA's body.
        psa.set_mode(Mode::Huge { chunked: false });
        let record = run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(record.ok, Some(false));
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["syncState"], "FAILED", "{t}");
        assert_eq!(
            t["syncError"],
            "push ticket: PSA answered a body over UPSTREAM_MAX_BODY"
        );
        let health = app
            .client
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);

        psa.set_mode(Mode::Ok);
        let record = run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(record.ok, Some(true), "{:?}", record.error);
        let psa_id = ticket(&app, &client, &id).await["psaTicketId"]
            .as_str()
            .unwrap()
            .to_owned();

        // A change feed page streamed past the limit (no Content-Length): nothing of it is
        // applied and the cursor stays.
        psa.push_change(
            json!({"id": psa_id, "tenant_id": tenant_id("acme"), "external_ref": id, "status": "in_progress",
            "comments": [{"id": "T-1", "author": "Tina", "body": "On it"}]}),
        );
        psa.set_mode(Mode::Huge { chunked: true });
        let record = run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(record.ok, Some(false));
        let error = record.error.unwrap();
        assert!(
            error.contains("pull changes: PSA answered a body over UPSTREAM_MAX_BODY"),
            "{error}"
        );
        assert!(!error.contains("xxxx"), "{error}");
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["status"], "NEW", "{t}");
        assert_eq!(t["comments"], json!([]), "{t}");
        let cursor = entities::sync_cursors::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap();
        assert!(cursor.is_empty(), "{cursor:?}");

        // A PSA that answers normally again brings the change in.
        psa.set_mode(Mode::Ok);
        let record = run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(record.ok, Some(true), "{:?}", record.error);
        let t = ticket(&app, &client, &id).await;
        assert_eq!(t["status"], "IN_PROGRESS", "{t}");
        assert_eq!(t["comments"][0]["body"], "On it", "{t}");
    }
);

on_every_backend!(
    psa_changes_match_tickets_within_their_tenant_only,
    |app, psa: FakePsa| {
        psa.number_per_tenant();
        let acme_client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let beta_client = app
            .client_session("beta", "co-1", "bob@example.com", false)
            .await;
        let a = create_ticket(&app, &acme_client, "Acme's").await;
        let b = create_ticket(&app, &beta_client, "Beta's").await;
        let record = run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(record.ok, Some(true), "{:?}", record.error);
        // PSA numbers each tenant's tickets on its own: both are T-1.
        assert_eq!(ticket(&app, &acme_client, &a).await["psaTicketId"], "T-1");
        assert_eq!(ticket(&app, &beta_client, &b).await["psaTicketId"], "T-1");

        // Beta's T-1 names acme's ticket as its external_ref: nothing of acme's changes.
        psa.push_change(
            json!({"id": "T-1", "tenant_id": tenant_id("beta"), "external_ref": a,
            "status": "closed", "comments": [{"id": "X-1", "body": "Beta's secret"}]}),
        );
        // Beta's T-1 by its PSA id alone is beta's ticket, not acme's.
        psa.push_change(json!({"id": "T-1", "tenant_id": tenant_id("beta"),
            "status": "in_progress", "comments": []}));
        // Acme's own change reaches acme's ticket.
        psa.push_change(
            json!({"id": "T-1", "tenant_id": tenant_id("acme"), "external_ref": a,
            "status": "resolved", "comments": [{"id": "A-1", "body": "Fixed"}]}),
        );
        // A change without a tenant (the contract's feed) is placed by its external_ref,
        // Portal's own id, whose ticket must carry the change's PSA id.
        psa.push_change(json!({"id": "T-1", "external_ref": b,
            "comments": [{"id": "B-2", "body": "Beta by its ref"}]}));
        // Without a tenant, PSA's id alone names nothing.
        psa.push_change(json!({"id": "T-1", "status": "closed",
            "comments": [{"id": "X-2", "body": "Anyone's"}]}));
        // A tenant that is not a tenant id: ignored, and the run says so.
        psa.push_change(
            json!({"id": "T-1", "tenant_id": "not-a-tenant", "external_ref": a,
            "status": "closed", "comments": [{"id": "X-3", "body": "Garbled"}]}),
        );
        let record = run_now(&app.state, Job::Tickets).await.unwrap();
        assert_eq!(record.ok, Some(false));
        let error = record.error.unwrap_or_default();
        assert!(error.contains("invalid tenant_id"), "{error}");

        let acme = ticket(&app, &acme_client, &a).await;
        assert_eq!(acme["status"], "RESOLVED", "{acme}");
        let bodies: Vec<&str> = acme["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["body"].as_str().unwrap())
            .collect();
        assert_eq!(bodies, ["Fixed"], "{acme}");
        let beta = ticket(&app, &beta_client, &b).await;
        assert_eq!(beta["status"], "IN_PROGRESS", "{beta}");
        let bodies: Vec<&str> = beta["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["body"].as_str().unwrap())
            .collect();
        assert_eq!(bodies, ["Beta by its ref"], "{beta}");
    }
);
