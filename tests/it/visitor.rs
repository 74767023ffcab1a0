//! The Visitor product end to end over HTTP: locations, hosts, check-in and check-out,
//! settings, badges, pre-registration, kiosks, pagination, tenant isolation, the audit log
//! and the visit report. The important flows run on SQLite and, with `TEST_DATABASE_URL`,
//! on PostgreSQL.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::support::{self, TestApp, code};

// ---------------------------------------------------------------------------------------
// Helpers

const CHECK_IN: &str = "mutation($i: CheckInInput!){ checkInVisitor(input: $i){ id status source purpose \
    checkedInAt checkedOutAt visitor { id name email company } location { id } host { id name } \
    badge { id number status } preRegistration { id status code } } }";

/// Runs `query`, expects the error `expected` on it, and that every root field it selects
/// is `null`.
async fn fails(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    vars: Value,
    expected: &str,
) -> Value {
    let body = app.gql(token, query, vars).await;
    assert_eq!(code(&body), Some(expected), "{query}: {body}");
    let data = body["data"].as_object().expect("data object");
    assert!(data.values().all(Value::is_null), "{query}: {body}");
    body
}

/// A check-in by `token` with `input`; the visit.
async fn check_in(app: &TestApp, token: &str, input: Value) -> Value {
    app.ok(token, CHECK_IN, json!({"i": input})).await["checkInVisitor"].clone()
}

/// A check-in that must fail with `expected`.
async fn check_in_fails(app: &TestApp, token: &str, input: Value, expected: &str) -> Value {
    fails(app, Some(token), CHECK_IN, json!({"i": input}), expected).await
}

async fn create_host(app: &TestApp, token: &str, input: Value) -> String {
    let data = app
        .ok(
            token,
            "mutation($i: CreateHostInput!){ createHost(input: $i){ id } }",
            json!({"i": input}),
        )
        .await;
    data["createHost"]["id"].as_str().unwrap().to_owned()
}

async fn add_badge(app: &TestApp, token: &str, location: &str, number: &str) -> String {
    let data = app
        .ok(
            token,
            "mutation($l: ID!, $n: String!){ addBadge(locationId: $l, number: $n){ id } }",
            json!({"l": location, "n": number}),
        )
        .await;
    data["addBadge"]["id"].as_str().unwrap().to_owned()
}

async fn visit_count(app: &TestApp, token: &str) -> u64 {
    app.ok(token, "{ visits { totalCount } }", json!({})).await["visits"]["totalCount"]
        .as_u64()
        .unwrap()
}

async fn badge(app: &TestApp, token: &str, id: &str) -> Value {
    let data = app
        .ok(
            token,
            "{ badges { id number status location { id } currentVisit { id } } }",
            json!({}),
        )
        .await;
    data["badges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Creates a kiosk pairing code at `location` and pairs a kiosk with it (no session).
async fn pair_kiosk(app: &TestApp, admin: &str, location: &str, name: &str) -> (String, String) {
    let data = app
        .ok(
            admin,
            "mutation($l: ID!){ createKioskPairingCode(locationId: $l){ code expiresAt location { id } } }",
            json!({"l": location}),
        )
        .await;
    let code = data["createKioskPairingCode"]["code"].as_str().unwrap();
    let body = app
        .gql(
            None,
            "mutation($c: String!, $n: String!){ pairKiosk(code: $c, name: $n){ token kiosk { id location { id } } } }",
            json!({"c": code, "n": name}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let session = &body["data"]["pairKiosk"];
    (
        session["kiosk"]["id"].as_str().unwrap().to_owned(),
        session["token"].as_str().unwrap().to_owned(),
    )
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

fn edge_ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

fn names(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a DateTime"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

// ---------------------------------------------------------------------------------------
// Locations

on_every_backend!(locations_create_update_archive, |app| {
    let admin = app.admin("acme").await;
    const CREATE: &str = "mutation($i: CreateLocationInput!){ createLocation(input: $i){ id name address type timezone archived } }";

    // Created with an IANA time zone; names are trimmed.
    let data = app
        .ok(
            &admin,
            CREATE,
            json!({"i": {"name": "  Zurich Office ", "address": "Bahnhofstrasse 1", "type": "CAMPUS", "timezone": "Europe/Zurich"}}),
        )
        .await;
    let zurich = &data["createLocation"];
    assert_eq!(zurich["name"], "Zurich Office");
    assert_eq!(zurich["address"], "Bahnhofstrasse 1");
    assert_eq!(zurich["type"], "CAMPUS");
    assert_eq!(zurich["timezone"], "Europe/Zurich");
    assert_eq!(zurich["archived"], false);
    let zurich_id = zurich["id"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&zurich_id).expect("ids are UUIDs");

    // Defaults: OFFICE, UTC.
    let data = app
        .ok(&admin, CREATE, json!({"i": {"name": "Depot"}}))
        .await;
    assert_eq!(data["createLocation"]["type"], "OFFICE");
    assert_eq!(data["createLocation"]["timezone"], "UTC");
    let depot = data["createLocation"]["id"].as_str().unwrap().to_owned();

    // Refused input.
    let long = "x".repeat(201);
    for input in [
        json!({"name": "Mars Base", "timezone": "Mars/Base"}),
        json!({"name": "Nowhere", "timezone": ""}),
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": long}),
    ] {
        fails(
            &app,
            Some(&admin),
            CREATE,
            json!({"i": input}),
            "BAD_USER_INPUT",
        )
        .await;
    }
    // 200 characters is the limit, not past it.
    let data = app
        .ok(&admin, CREATE, json!({"i": {"name": "y".repeat(200)}}))
        .await;
    assert_eq!(
        data["createLocation"]["name"].as_str().map(str::len),
        Some(200)
    );

    // Update.
    const UPDATE: &str = "mutation($id: ID!, $i: UpdateLocationInput!){ updateLocation(id: $id, input: $i){ id name address type timezone } }";
    let data = app
        .ok(
            &admin,
            UPDATE,
            json!({"id": zurich_id, "i": {"name": "Zürich HQ", "timezone": "Asia/Tokyo", "type": "OFFICE"}}),
        )
        .await;
    let updated = &data["updateLocation"];
    assert_eq!(updated["name"], "Zürich HQ");
    assert_eq!(updated["timezone"], "Asia/Tokyo");
    assert_eq!(updated["type"], "OFFICE");
    assert_eq!(
        updated["address"], "Bahnhofstrasse 1",
        "untouched fields stay"
    );
    for input in [
        json!({"timezone": "Mars/Base"}),
        json!({"name": ""}),
        json!({"name": "z".repeat(201)}),
    ] {
        fails(
            &app,
            Some(&admin),
            UPDATE,
            json!({"id": zurich_id, "i": input}),
            "BAD_USER_INPUT",
        )
        .await;
    }
    for id in [uuid::Uuid::new_v4().to_string(), "not-an-id".to_owned()] {
        fails(
            &app,
            Some(&admin),
            UPDATE,
            json!({"id": id, "i": {"name": "X"}}),
            "NOT_FOUND",
        )
        .await;
    }
    let data = app
        .ok(
            &admin,
            "query($id: ID!){ location(id: $id){ name timezone } }",
            json!({"id": zurich_id}),
        )
        .await;
    assert_eq!(
        data["location"],
        json!({"name": "Zürich HQ", "timezone": "Asia/Tokyo"})
    );

    // Archive: hidden from `locations` unless asked for, and closed to check-ins.
    let data = app
        .ok(
            &admin,
            "mutation($id: ID!){ archiveLocation(id: $id){ id archived } }",
            json!({"id": depot}),
        )
        .await;
    assert_eq!(data["archiveLocation"]["archived"], true);
    let data = app.ok(&admin, "{ locations { id } }", json!({})).await;
    assert!(!ids(&data["locations"]).contains(&depot), "{data}");
    assert!(ids(&data["locations"]).contains(&zurich_id));
    let data = app
        .ok(
            &admin,
            "{ locations(includeArchived: true) { id archived } }",
            json!({}),
        )
        .await;
    let archived = data["locations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == depot.as_str())
        .expect("archived location listed with includeArchived");
    assert_eq!(archived["archived"], true);
    let data = app
        .ok(
            &admin,
            "query($id: ID!){ location(id: $id){ archived } }",
            json!({"id": depot}),
        )
        .await;
    assert_eq!(
        data["location"]["archived"], true,
        "history keeps it reachable"
    );

    let before = visit_count(&app, &admin).await;
    check_in_fails(
        &app,
        &admin,
        json!({"locationId": depot, "visitor": {"name": "Too Late"}}),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(visit_count(&app, &admin).await, before);
    fails(
        &app,
        Some(&admin),
        "mutation($l: ID!){ addBadge(locationId: $l, number: \"1\"){ id } }",
        json!({"l": depot}),
        "BAD_USER_INPUT",
    )
    .await;
    fails(
        &app,
        Some(&admin),
        "mutation($l: ID!){ createKioskPairingCode(locationId: $l){ code } }",
        json!({"l": depot}),
        "BAD_USER_INPUT",
    )
    .await;
    // The open location still works.
    app.check_in(&admin, &zurich_id, "Still Open").await;
});

// ---------------------------------------------------------------------------------------
// Hosts

on_every_backend!(hosts_directory, |app| {
    let admin = app.admin("acme").await;
    let loc = app.create_location(&admin, "Main").await;
    let other = app.create_location(&admin, "Annex").await;
    const HOSTS: &str = "query($s: String, $l: ID, $first: Int, $after: String){ hosts(search: $s, locationId: $l, first: $first, after: $after){ totalCount pageInfo { hasNextPage endCursor } edges { node { id name email phone department visibleInDirectory location { id } } } } }";

    let data = app
        .ok(
            &admin,
            "mutation($i: CreateHostInput!){ createHost(input: $i){ id name email phone department visibleInDirectory location { id } } }",
            json!({"i": {"name": "Ada Lovelace", "email": "ADA@Example.com", "phone": "+44 20 7946 0000",
                        "department": "Engineering", "locationId": loc}}),
        )
        .await;
    let ada_host = &data["createHost"];
    assert_eq!(ada_host["name"], "Ada Lovelace");
    assert_eq!(ada_host["email"], "ADA@Example.com");
    assert_eq!(ada_host["phone"], "+44 20 7946 0000");
    assert_eq!(ada_host["department"], "Engineering");
    assert_eq!(ada_host["visibleInDirectory"], true);
    assert_eq!(ada_host["location"]["id"], loc.as_str());
    let ada = ada_host["id"].as_str().unwrap().to_owned();
    let grace = create_host(
        &app,
        &admin,
        json!({"name": "Grace Hopper", "department": "Navy Research"}),
    )
    .await;
    let alan = create_host(
        &app,
        &admin,
        json!({"name": "Alan Turing", "email": "alan@bletchley.org", "locationId": other, "visibleInDirectory": false}),
    )
    .await;

    // Refused input.
    for input in [
        json!({"name": "Bad Mail", "email": "not-an-email"}),
        json!({"name": "Bad Mail", "email": "a@b"}),
        json!({"name": "Bad Mail", "email": "a b@example.com"}),
        json!({"name": "Bad Phone", "phone": "call me"}),
        json!({"name": ""}),
        json!({"name": "n".repeat(201)}),
    ] {
        fails(
            &app,
            Some(&admin),
            "mutation($i: CreateHostInput!){ createHost(input: $i){ id } }",
            json!({"i": input}),
            "BAD_USER_INPUT",
        )
        .await;
    }
    fails(
        &app,
        Some(&admin),
        "mutation($i: CreateHostInput!){ createHost(input: $i){ id } }",
        json!({"i": {"name": "Nowhere", "locationId": uuid::Uuid::new_v4().to_string()}}),
        "NOT_FOUND",
    )
    .await;

    // The directory, by name.
    let data = app.ok(&admin, HOSTS, json!({})).await;
    assert_eq!(
        names(&data["hosts"]),
        ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    );
    assert_eq!(data["hosts"]["totalCount"], 3);

    // Search is case-insensitive over name, e-mail and department; LIKE wildcards are text.
    for (search, expected) in [
        ("LOVE", vec!["Ada Lovelace"]),
        ("ada@example", vec!["Ada Lovelace"]),
        ("BLETCHLEY", vec!["Alan Turing"]),
        ("research", vec!["Grace Hopper"]),
        ("a", vec!["Ada Lovelace", "Alan Turing", "Grace Hopper"]),
        ("%", vec![]),
        ("_", vec![]),
        ("nobody", vec![]),
    ] {
        let data = app.ok(&admin, HOSTS, json!({"s": search})).await;
        assert_eq!(names(&data["hosts"]), expected, "search {search:?}");
        assert_eq!(
            data["hosts"]["totalCount"],
            expected.len(),
            "search {search:?}"
        );
    }
    let data = app.ok(&admin, HOSTS, json!({"l": loc})).await;
    assert_eq!(edge_ids(&data["hosts"]), [ada.as_str()]);

    // Pages.
    let data = app.ok(&admin, HOSTS, json!({"first": 2})).await;
    assert_eq!(names(&data["hosts"]), ["Ada Lovelace", "Alan Turing"]);
    assert_eq!(data["hosts"]["pageInfo"]["hasNextPage"], true);
    let cursor = data["hosts"]["pageInfo"]["endCursor"].clone();
    let data = app
        .ok(&admin, HOSTS, json!({"first": 2, "after": cursor}))
        .await;
    assert_eq!(names(&data["hosts"]), ["Grace Hopper"]);
    assert_eq!(data["hosts"]["pageInfo"]["hasNextPage"], false);

    // Update; blank text clears a field; bad input changes nothing.
    const UPDATE: &str = "mutation($id: ID!, $i: UpdateHostInput!){ updateHost(id: $id, input: $i){ id name email phone department location { id } visibleInDirectory } }";
    let data = app
        .ok(
            &admin,
            UPDATE,
            json!({"id": ada, "i": {"name": "Ada King", "email": "ada@king.org", "phone": ""}}),
        )
        .await;
    let updated = &data["updateHost"];
    assert_eq!(updated["name"], "Ada King");
    assert_eq!(updated["email"], "ada@king.org");
    assert_eq!(updated["phone"], Value::Null);
    assert_eq!(updated["department"], "Engineering");
    fails(
        &app,
        Some(&admin),
        UPDATE,
        json!({"id": ada, "i": {"email": "nope"}}),
        "BAD_USER_INPUT",
    )
    .await;
    let data = app.ok(&admin, HOSTS, json!({"s": "king"})).await;
    assert_eq!(data["hosts"]["edges"][0]["node"]["email"], "ada@king.org");
    let data = app
        .ok(
            &admin,
            UPDATE,
            json!({"id": grace, "i": {"locationId": other, "visibleInDirectory": false}}),
        )
        .await;
    assert_eq!(data["updateHost"]["location"]["id"], other.as_str());
    assert_eq!(data["updateHost"]["visibleInDirectory"], false);
    let data = app
        .ok(
            &admin,
            UPDATE,
            json!({"id": grace, "i": {"locationId": ""}}),
        )
        .await;
    assert_eq!(data["updateHost"]["location"], Value::Null);
    fails(
        &app,
        Some(&admin),
        UPDATE,
        json!({"id": uuid::Uuid::new_v4().to_string(), "i": {"name": "X"}}),
        "NOT_FOUND",
    )
    .await;

    // A visit names its host; removal hides the host from the directory and from new
    // check-ins, but the visit keeps naming them.
    let visit = check_in(
        &app,
        &admin,
        json!({"locationId": loc, "hostId": ada, "visitor": {"name": "Guest"}}),
    )
    .await;
    assert_eq!(visit["host"]["name"], "Ada King");
    let data = app
        .ok(
            &admin,
            "mutation($id: ID!){ removeHost(id: $id) }",
            json!({"id": ada}),
        )
        .await;
    assert_eq!(data["removeHost"], true);
    let data = app.ok(&admin, HOSTS, json!({})).await;
    assert_eq!(names(&data["hosts"]), ["Alan Turing", "Grace Hopper"]);
    assert_eq!(data["hosts"]["totalCount"], 2);
    let data = app.ok(&admin, HOSTS, json!({"s": "king"})).await;
    assert_eq!(data["hosts"]["totalCount"], 0);
    check_in_fails(
        &app,
        &admin,
        json!({"locationId": loc, "hostId": ada, "visitor": {"name": "Late Guest"}}),
        "NOT_FOUND",
    )
    .await;
    let data = app
        .ok(
            &admin,
            "query($id: ID!){ visit(id: $id){ host { id name } } }",
            json!({"id": visit["id"]}),
        )
        .await;
    assert_eq!(data["visit"]["host"]["name"], "Ada King");
    fails(
        &app,
        Some(&admin),
        UPDATE,
        json!({"id": ada, "i": {"name": "Back"}}),
        "NOT_FOUND",
    )
    .await;
    fails(
        &app,
        Some(&admin),
        "mutation($id: ID!){ removeHost(id: $id) }",
        json!({"id": ada}),
        "NOT_FOUND",
    )
    .await;
    let _ = alan;
});

// ---------------------------------------------------------------------------------------
// Check-in and check-out

on_every_backend!(check_in_and_check_out, |app| {
    let admin = app.admin("acme").await;
    let loc = app.create_location(&admin, "Lobby").await;

    let first = check_in(
        &app,
        &admin,
        json!({"locationId": loc, "visitor": {"name": "First Person"}}),
    )
    .await;
    assert_eq!(first["status"], "CHECKED_IN");
    assert_eq!(first["source"], "STAFF");
    assert_eq!(first["checkedOutAt"], Value::Null);
    assert_eq!(first["location"]["id"], loc.as_str());
    let second = check_in(
        &app,
        &admin,
        json!({"locationId": loc, "purpose": "Interview",
               "visitor": {"name": "Second Person", "email": "second@example.com", "company": "Initech"}}),
    )
    .await;
    assert_eq!(second["purpose"], "Interview");
    assert_eq!(second["visitor"]["company"], "Initech");
    let third = check_in(
        &app,
        &admin,
        json!({"locationId": loc, "visitor": {"name": "Third Person"}}),
    )
    .await;
    let (v1, v2, v3) = (
        first["id"].as_str().unwrap().to_owned(),
        second["id"].as_str().unwrap().to_owned(),
        third["id"].as_str().unwrap().to_owned(),
    );

    // The log, newest first.
    const LOG: &str = "query($f: VisitFilter){ visits(filter: $f){ totalCount edges { node { id status source checkedInAt checkedOutAt visitor { name } } } } }";
    let data = app.ok(&admin, LOG, json!({})).await;
    assert_eq!(
        edge_ids(&data["visits"]),
        [v3.clone(), v2.clone(), v1.clone()]
    );
    assert_eq!(data["visits"]["totalCount"], 3);
    let times: Vec<DateTime<Utc>> = data["visits"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| time(&e["node"]["checkedInAt"]))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let data = app
        .ok(
            &admin,
            "query($l: ID!){ location(id: $l){ currentVisits { id } } }",
            json!({"l": loc}),
        )
        .await;
    assert_eq!(
        ids(&data["location"]["currentVisits"]),
        [v3.clone(), v2.clone(), v1.clone()]
    );

    // Check-out.
    const OUT: &str =
        "mutation($v: ID!){ checkOutVisitor(visitId: $v){ id status checkedInAt checkedOutAt } }";
    let data = app.ok(&admin, OUT, json!({"v": v2})).await;
    let out = &data["checkOutVisitor"];
    assert_eq!(out["status"], "CHECKED_OUT");
    assert!(time(&out["checkedOutAt"]) >= time(&out["checkedInAt"]));
    fails(&app, Some(&admin), OUT, json!({"v": v2}), "CONFLICT").await;
    fails(
        &app,
        Some(&admin),
        OUT,
        json!({"v": uuid::Uuid::new_v4().to_string()}),
        "NOT_FOUND",
    )
    .await;
    fails(
        &app,
        Some(&admin),
        OUT,
        json!({"v": "garbage"}),
        "NOT_FOUND",
    )
    .await;

    let data = app
        .ok(&admin, LOG, json!({"f": {"status": "CHECKED_IN"}}))
        .await;
    assert_eq!(edge_ids(&data["visits"]), [v3.clone(), v1.clone()]);
    let data = app
        .ok(&admin, LOG, json!({"f": {"status": "CHECKED_OUT"}}))
        .await;
    assert_eq!(edge_ids(&data["visits"]), [v2.as_str()]);
    assert!(!data["visits"]["edges"][0]["node"]["checkedOutAt"].is_null());
    let data = app
        .ok(
            &admin,
            "query($l: ID!){ location(id: $l){ currentVisits { id } } }",
            json!({"l": loc}),
        )
        .await;
    assert_eq!(
        ids(&data["location"]["currentVisits"]),
        [v3.clone(), v1.clone()]
    );
    let data = app
        .ok(
            &admin,
            "query($v: ID!){ visit(id: $v){ status checkedOutAt } }",
            json!({"v": v2}),
        )
        .await;
    assert_eq!(data["visit"]["status"], "CHECKED_OUT");

    // Refused check-ins change nothing.
    for (input, expected) in [
        (json!({"locationId": loc}), "BAD_USER_INPUT"),
        (
            json!({"locationId": loc, "visitor": {"name": ""}}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"locationId": loc, "visitor": {"name": "Bad Mail", "email": "bad"}}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"locationId": loc, "visitor": {"name": "n".repeat(201)}}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"locationId": uuid::Uuid::new_v4().to_string(), "visitor": {"name": "Lost"}}),
            "NOT_FOUND",
        ),
        (
            json!({"locationId": loc, "hostId": uuid::Uuid::new_v4().to_string(), "visitor": {"name": "Lost"}}),
            "NOT_FOUND",
        ),
        (
            json!({"locationId": loc, "badgeId": uuid::Uuid::new_v4().to_string(), "visitor": {"name": "Lost"}}),
            "NOT_FOUND",
        ),
    ] {
        check_in_fails(&app, &admin, input, expected).await;
    }
    assert_eq!(visit_count(&app, &admin).await, 3);

    // Staff check-ins reuse the visitor record with the same e-mail and name (both
    // case-insensitively), and change nothing stored.
    let again = check_in(
        &app,
        &admin,
        json!({"locationId": loc, "visitor": {"name": "second PERSON", "email": "SECOND@example.com"}}),
    )
    .await;
    assert_eq!(again["visitor"]["id"], second["visitor"]["id"]);
    let data = app
        .ok(
            &admin,
            "query($id: ID!){ visitor(id: $id){ name company visits { id } } }",
            json!({"id": second["visitor"]["id"]}),
        )
        .await;
    assert_eq!(data["visitor"]["name"], "Second Person");
    assert_eq!(
        data["visitor"]["company"], "Initech",
        "omitted details are kept"
    );
    assert_eq!(
        ids(&data["visitor"]["visits"]),
        [again["id"].as_str().unwrap().to_owned(), v2.clone()]
    );
});

// ---------------------------------------------------------------------------------------
// Settings

on_every_backend!(settings_rules_and_validation, |app| {
    let admin = app.admin("acme").await;
    let loc = app.create_location(&admin, "Front").await;
    let host = create_host(
        &app,
        &admin,
        json!({"name": "Hosting Harry", "locationId": loc}),
    )
    .await;
    let badge1 = add_badge(&app, &admin, &loc, "1").await;
    const SETTINGS: &str =
        "{ visitorSettings { retentionDays requireHost requireBadge autoCheckoutAt } }";
    const UPDATE: &str = "mutation($i: VisitorSettingsInput!){ updateVisitorSettings(input: $i){ retentionDays requireHost requireBadge autoCheckoutAt } }";

    let defaults = json!({"retentionDays": 365, "requireHost": false, "requireBadge": false, "autoCheckoutAt": null});
    assert_eq!(
        app.ok(&admin, SETTINGS, json!({})).await["visitorSettings"],
        defaults
    );

    // Validation: nothing changes on refusal.
    for input in [
        json!({"retentionDays": 0}),
        json!({"retentionDays": -1}),
        json!({"retentionDays": 3651}),
        json!({"autoCheckoutAt": "25:00"}),
        json!({"autoCheckoutAt": "12:60"}),
        json!({"autoCheckoutAt": "noon"}),
        json!({"autoCheckoutAt": "7:5"}),
        json!({"requireHost": true, "retentionDays": 0}),
    ] {
        fails(
            &app,
            Some(&admin),
            UPDATE,
            json!({"i": input}),
            "BAD_USER_INPUT",
        )
        .await;
    }
    assert_eq!(
        app.ok(&admin, SETTINGS, json!({})).await["visitorSettings"],
        defaults
    );
    let data = app
        .ok(
            &admin,
            UPDATE,
            json!({"i": {"retentionDays": 30, "autoCheckoutAt": "18:30"}}),
        )
        .await;
    assert_eq!(
        data["updateVisitorSettings"],
        json!({"retentionDays": 30, "requireHost": false, "requireBadge": false, "autoCheckoutAt": "18:30"})
    );
    let data = app
        .ok(&admin, UPDATE, json!({"i": {"autoCheckoutAt": ""}}))
        .await;
    assert_eq!(data["updateVisitorSettings"]["autoCheckoutAt"], Value::Null);
    assert_eq!(data["updateVisitorSettings"]["retentionDays"], 30);

    // requireHost.
    app.ok(&admin, UPDATE, json!({"i": {"requireHost": true}}))
        .await;
    let before = visit_count(&app, &admin).await;
    check_in_fails(
        &app,
        &admin,
        json!({"locationId": loc, "visitor": {"name": "No Host"}}),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(visit_count(&app, &admin).await, before);
    let visit = check_in(
        &app,
        &admin,
        json!({"locationId": loc, "hostId": host, "visitor": {"name": "With Host"}}),
    )
    .await;
    app.ok(
        &admin,
        "mutation($v: ID!){ checkOutVisitor(visitId: $v){ id } }",
        json!({"v": visit["id"]}),
    )
    .await;

    // requireBadge.
    app.ok(&admin, UPDATE, json!({"i": {"requireBadge": true}}))
        .await;
    let before = visit_count(&app, &admin).await;
    check_in_fails(
        &app,
        &admin,
        json!({"locationId": loc, "hostId": host, "visitor": {"name": "No Badge"}}),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(visit_count(&app, &admin).await, before);
    let visit = check_in(
        &app,
        &admin,
        json!({"locationId": loc, "hostId": host, "badgeId": badge1, "visitor": {"name": "With Badge"}}),
    )
    .await;
    assert_eq!(visit["badge"]["number"], "1");

    // Both rules are for staff: kiosks never need a badge (nor, here, a host).
    let (_, kiosk) = pair_kiosk(&app, &admin, &loc, "Door").await;
    let body = app
        .gql(
            Some(&kiosk),
            "mutation($l: ID!){ checkInVisitor(input: {locationId: $l, visitor: {name: \"Walk In\"}}){ id source } }",
            json!({"l": loc}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["checkInVisitor"]["source"], "KIOSK");
});

// ---------------------------------------------------------------------------------------
// Badges

on_every_backend!(badge_lifecycle, |app| {
    let admin = app.admin("acme").await;
    let l1 = app.create_location(&admin, "One").await;
    let l2 = app.create_location(&admin, "Two").await;
    const ADD: &str = "mutation($l: ID!, $n: String!){ addBadge(locationId: $l, number: $n){ id number status location { id } currentVisit { id } } }";

    let data = app.ok(&admin, ADD, json!({"l": l1, "n": "B1"})).await;
    assert_eq!(data["addBadge"]["status"], "AVAILABLE");
    assert_eq!(data["addBadge"]["location"]["id"], l1.as_str());
    assert_eq!(data["addBadge"]["currentVisit"], Value::Null);
    let b1 = data["addBadge"]["id"].as_str().unwrap().to_owned();
    let b2 = add_badge(&app, &admin, &l1, "B2").await;
    fails(
        &app,
        Some(&admin),
        ADD,
        json!({"l": l1, "n": "B1"}),
        "CONFLICT",
    )
    .await;
    fails(
        &app,
        Some(&admin),
        ADD,
        json!({"l": l1, "n": " B1 "}),
        "CONFLICT",
    )
    .await;
    fails(
        &app,
        Some(&admin),
        ADD,
        json!({"l": l1, "n": ""}),
        "BAD_USER_INPUT",
    )
    .await;
    fails(
        &app,
        Some(&admin),
        ADD,
        json!({"l": uuid::Uuid::new_v4().to_string(), "n": "B9"}),
        "NOT_FOUND",
    )
    .await;
    // The same number at another location is another badge.
    let b1_at_l2 = add_badge(&app, &admin, &l2, "B1").await;
    let data = app
        .ok(
            &admin,
            "query($l: ID){ badges(locationId: $l){ number } }",
            json!({"l": l1}),
        )
        .await;
    assert_eq!(data["badges"], json!([{"number": "B1"}, {"number": "B2"}]));

    // A check-in with a badge assigns it.
    let open = check_in(
        &app,
        &admin,
        json!({"locationId": l1, "visitor": {"name": "No Badge Yet"}}),
    )
    .await;
    let before = visit_count(&app, &admin).await;
    let visit = check_in(
        &app,
        &admin,
        json!({"locationId": l1, "badgeId": b1, "visitor": {"name": "Badge Wearer"}}),
    )
    .await;
    assert_eq!(visit["badge"]["number"], "B1");
    assert_eq!(visit["badge"]["status"], "ASSIGNED");
    let state = badge(&app, &admin, &b1).await;
    assert_eq!(state["status"], "ASSIGNED");
    assert_eq!(state["currentVisit"]["id"], visit["id"]);
    assert_eq!(visit_count(&app, &admin).await, before + 1);

    // A badge is on at most one open visit: a second check-in with it is refused and leaves
    // no visit behind.
    check_in_fails(
        &app,
        &admin,
        json!({"locationId": l1, "badgeId": b1, "visitor": {"name": "Badge Thief"}}),
        "CONFLICT",
    )
    .await;
    assert_eq!(visit_count(&app, &admin).await, before + 1);
    let data = app
        .ok(
            &admin,
            "{ visits(filter: {search: \"thief\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data["visits"]["totalCount"], 0);
    fails(
        &app,
        Some(&admin),
        "mutation($b: ID!, $v: ID!){ assignBadge(badgeId: $b, visitId: $v){ id } }",
        json!({"b": b1, "v": open["id"]}),
        "CONFLICT",
    )
    .await;
    // An assigned badge cannot be retired.
    const RETIRE: &str = "mutation($b: ID!){ retireBadge(badgeId: $b){ id status } }";
    fails(&app, Some(&admin), RETIRE, json!({"b": b1}), "CONFLICT").await;
    // A badge of another location is refused.
    check_in_fails(
        &app,
        &admin,
        json!({"locationId": l1, "badgeId": b1_at_l2, "visitor": {"name": "Wrong Place"}}),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(visit_count(&app, &admin).await, before + 1);
    assert_eq!(badge(&app, &admin, &b1_at_l2).await["status"], "AVAILABLE");

    // Check-out frees it; the visit keeps the record of the badge it wore.
    let data = app
        .ok(
            &admin,
            "mutation($v: ID!){ checkOutVisitor(visitId: $v){ status badge { number status currentVisit { id } } } }",
            json!({"v": visit["id"]}),
        )
        .await;
    assert_eq!(data["checkOutVisitor"]["badge"]["number"], "B1");
    assert_eq!(data["checkOutVisitor"]["badge"]["status"], "AVAILABLE");
    assert_eq!(
        data["checkOutVisitor"]["badge"]["currentVisit"],
        Value::Null
    );
    let state = badge(&app, &admin, &b1).await;
    assert_eq!(state["status"], "AVAILABLE");
    assert_eq!(state["currentVisit"], Value::Null);
    // …and it can be handed out again.
    let reuse = check_in(
        &app,
        &admin,
        json!({"locationId": l1, "badgeId": b1, "visitor": {"name": "Next Wearer"}}),
    )
    .await;
    app.ok(
        &admin,
        "mutation($v: ID!){ checkOutVisitor(visitId: $v){ id } }",
        json!({"v": reuse["id"]}),
    )
    .await;

    // Retire.
    let data = app.ok(&admin, RETIRE, json!({"b": b1})).await;
    assert_eq!(data["retireBadge"]["status"], "RETIRED");
    fails(&app, Some(&admin), RETIRE, json!({"b": b1}), "CONFLICT").await;
    check_in_fails(
        &app,
        &admin,
        json!({"locationId": l1, "badgeId": b1, "visitor": {"name": "Retired Badge"}}),
        "CONFLICT",
    )
    .await;
    let data = app
        .ok(&admin, "{ badges(status: RETIRED) { id } }", json!({}))
        .await;
    assert_eq!(ids(&data["badges"]), [b1.as_str()]);

    // assignBadge / returnBadge on an open visit.
    const ASSIGN: &str = "mutation($b: ID!, $v: ID!){ assignBadge(badgeId: $b, visitId: $v){ id status currentVisit { id } } }";
    const RETURN: &str =
        "mutation($b: ID!){ returnBadge(badgeId: $b){ id status currentVisit { id } } }";
    let data = app
        .ok(&admin, ASSIGN, json!({"b": b2, "v": open["id"]}))
        .await;
    assert_eq!(data["assignBadge"]["status"], "ASSIGNED");
    assert_eq!(data["assignBadge"]["currentVisit"]["id"], open["id"]);
    let data = app
        .ok(
            &admin,
            "query($v: ID!){ visit(id: $v){ badge { id } } }",
            json!({"v": open["id"]}),
        )
        .await;
    assert_eq!(data["visit"]["badge"]["id"], b2.as_str());
    let data = app.ok(&admin, RETURN, json!({"b": b2})).await;
    assert_eq!(data["returnBadge"]["status"], "AVAILABLE");
    assert_eq!(data["returnBadge"]["currentVisit"], Value::Null);
    let data = app
        .ok(
            &admin,
            "query($v: ID!){ visit(id: $v){ status badge { id } } }",
            json!({"v": open["id"]}),
        )
        .await;
    assert_eq!(
        data["visit"],
        json!({"status": "CHECKED_IN", "badge": null})
    );
    fails(&app, Some(&admin), RETURN, json!({"b": b2}), "CONFLICT").await;
    fails(
        &app,
        Some(&admin),
        ASSIGN,
        json!({"b": b1_at_l2, "v": open["id"]}),
        "BAD_USER_INPUT",
    )
    .await;
    fails(
        &app,
        Some(&admin),
        ASSIGN,
        json!({"b": b2, "v": visit["id"]}),
        "CONFLICT",
    )
    .await;
    fails(
        &app,
        Some(&admin),
        ASSIGN,
        json!({"b": b2, "v": uuid::Uuid::new_v4().to_string()}),
        "NOT_FOUND",
    )
    .await;
});

// ---------------------------------------------------------------------------------------
// Pre-registration

on_every_backend!(pre_registration_codes, |app| {
    let admin = app.admin("acme").await;
    let l1 = app.create_location(&admin, "Reception").await;
    let l2 = app.create_location(&admin, "Warehouse").await;
    let host = create_host(
        &app,
        &admin,
        json!({"name": "Helen Host", "locationId": l1}),
    )
    .await;
    const PRE: &str = "mutation($i: PreRegisterInput!){ preRegisterVisitor(input: $i){ id code status expectedAt visitor { id name } host { id } location { id } } }";
    const LIST: &str =
        "query($l: ID){ preRegistrations(locationId: $l){ id code status visitor { name } } }";
    const CANCEL: &str = "mutation($id: ID!){ cancelPreRegistration(id: $id){ id status code } }";
    let soon = (Utc::now() + Duration::hours(1)).to_rfc3339();

    let data = app
        .ok(
            &admin,
            PRE,
            json!({"i": {"locationId": l1, "hostId": host, "expectedAt": soon,
                         "visitor": {"name": "Expected Guest", "email": "guest@example.com", "company": "Globex"}}}),
        )
        .await;
    let pre = &data["preRegisterVisitor"];
    let code1 = pre["code"]
        .as_str()
        .expect("the code, shown once")
        .to_owned();
    assert!(code1.len() >= 8, "{code1}");
    assert!(
        code1
            .chars()
            .all(|c| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)),
        "Crockford base32: {code1}"
    );
    assert_eq!(pre["status"], "EXPECTED");
    assert_eq!(pre["host"]["id"], host.as_str());
    assert_eq!(pre["location"]["id"], l1.as_str());
    let pre1 = pre["id"].as_str().unwrap().to_owned();

    // Listed without its code.
    let data = app.ok(&admin, LIST, json!({})).await;
    assert_eq!(
        data["preRegistrations"],
        json!([{"id": pre1, "code": null, "status": "EXPECTED", "visitor": {"name": "Expected Guest"}}])
    );
    let data = app.ok(&admin, LIST, json!({"l": l2})).await;
    assert_eq!(data["preRegistrations"], json!([]));

    // At another location the code is refused (and stays usable).
    let before = visit_count(&app, &admin).await;
    check_in_fails(
        &app,
        &admin,
        json!({"locationId": l2, "preRegistrationCode": code1}),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(visit_count(&app, &admin).await, before);

    // Check-in by code, with no visitor input: visitor and host come from the registration.
    let visit = check_in(
        &app,
        &admin,
        json!({"locationId": l1, "preRegistrationCode": code1}),
    )
    .await;
    assert_eq!(visit["visitor"]["name"], "Expected Guest");
    assert_eq!(visit["visitor"]["id"], pre["visitor"]["id"]);
    assert_eq!(visit["host"]["id"], host.as_str());
    assert_eq!(visit["preRegistration"]["id"], pre1.as_str());
    assert_eq!(visit["preRegistration"]["status"], "CHECKED_IN");
    assert_eq!(visit["preRegistration"]["code"], Value::Null);
    assert_eq!(visit["source"], "STAFF");
    let data = app.ok(&admin, LIST, json!({})).await;
    assert_eq!(data["preRegistrations"][0]["status"], "CHECKED_IN");

    // Once only.
    check_in_fails(
        &app,
        &admin,
        json!({"locationId": l1, "preRegistrationCode": code1}),
        "BAD_USER_INPUT",
    )
    .await;
    for garbage in ["NOTACODE99", "", "!!!!!!!!"] {
        check_in_fails(
            &app,
            &admin,
            json!({"locationId": l1, "preRegistrationCode": garbage}),
            "BAD_USER_INPUT",
        )
        .await;
    }
    assert_eq!(visit_count(&app, &admin).await, before + 1);
    // A checked-in registration cannot be cancelled.
    fails(&app, Some(&admin), CANCEL, json!({"id": pre1}), "CONFLICT").await;

    // Cancel.
    let data = app
        .ok(&admin, PRE, json!({"i": {"locationId": l1, "expectedAt": soon, "visitor": {"name": "Maybe Guest"}}}))
        .await;
    let pre2 = data["preRegisterVisitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code2 = data["preRegisterVisitor"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(code1, code2);
    let data = app.ok(&admin, CANCEL, json!({"id": pre2})).await;
    assert_eq!(data["cancelPreRegistration"]["status"], "CANCELLED");
    assert_eq!(data["cancelPreRegistration"]["code"], Value::Null);
    check_in_fails(
        &app,
        &admin,
        json!({"locationId": l1, "preRegistrationCode": code2}),
        "BAD_USER_INPUT",
    )
    .await;
    fails(&app, Some(&admin), CANCEL, json!({"id": pre2}), "CONFLICT").await;
    fails(
        &app,
        Some(&admin),
        CANCEL,
        json!({"id": uuid::Uuid::new_v4().to_string()}),
        "NOT_FOUND",
    )
    .await;

    // Refused registrations.
    let long_ago = (Utc::now() - Duration::hours(48)).to_rfc3339();
    for (input, expected) in [
        (
            json!({"locationId": l1, "expectedAt": long_ago, "visitor": {"name": "Too Late"}}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"locationId": l1, "expectedAt": soon, "visitor": {"name": ""}}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"locationId": l1, "expectedAt": soon, "visitor": {"name": "X", "email": "nope"}}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"locationId": uuid::Uuid::new_v4().to_string(), "expectedAt": soon, "visitor": {"name": "X"}}),
            "NOT_FOUND",
        ),
        (
            json!({"locationId": l1, "hostId": uuid::Uuid::new_v4().to_string(), "expectedAt": soon, "visitor": {"name": "X"}}),
            "NOT_FOUND",
        ),
    ] {
        fails(&app, Some(&admin), PRE, json!({"i": input}), expected).await;
    }

    // A kiosk at the registration's location checks in by code too.
    let data = app
        .ok(&admin, PRE, json!({"i": {"locationId": l1, "expectedAt": soon, "visitor": {"name": "Kiosk Guest"}}}))
        .await;
    let code3 = data["preRegisterVisitor"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, kiosk) = pair_kiosk(&app, &admin, &l1, "Lobby").await;
    let body = app
        .gql(
            Some(&kiosk),
            "mutation($l: ID!, $c: String){ checkInVisitor(input: {locationId: $l, preRegistrationCode: $c}){ source visitor { name } preRegistration { status } } }",
            json!({"l": l1, "c": code3.to_lowercase()}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["checkInVisitor"],
        json!({"source": "KIOSK", "visitor": {"name": "Kiosk Guest"}, "preRegistration": {"status": "CHECKED_IN"}})
    );
});

// ---------------------------------------------------------------------------------------
// Kiosks

on_every_backend!(kiosk_pairing_and_confinement, |app| {
    let admin = app.admin("acme").await;
    let l1 = app.create_location(&admin, "Alpha").await;
    let l2 = app.create_location(&admin, "Beta").await;
    let empty = app.create_location(&admin, "Gamma").await;
    let h_l1 = create_host(
        &app,
        &admin,
        json!({"name": "Hal Alpha", "email": "hal@example.com", "locationId": l1}),
    )
    .await;
    let h_l2 = create_host(&app, &admin, json!({"name": "Bea Beta", "locationId": l2})).await;
    let h_any = create_host(&app, &admin, json!({"name": "Ann Anywhere"})).await;
    let h_hidden = create_host(
        &app,
        &admin,
        json!({"name": "Hidden Alpha", "locationId": l1, "visibleInDirectory": false}),
    )
    .await;
    let h_gone = create_host(
        &app,
        &admin,
        json!({"name": "Gone Alpha", "locationId": l1}),
    )
    .await;
    app.ok(
        &admin,
        "mutation($id: ID!){ removeHost(id: $id) }",
        json!({"id": h_gone}),
    )
    .await;

    // Pairing: a one-time code, then a kiosk token, with no session.
    let data = app
        .ok(
            &admin,
            "mutation($l: ID!){ createKioskPairingCode(locationId: $l){ code expiresAt location { id name } } }",
            json!({"l": l1}),
        )
        .await;
    let pairing = &data["createKioskPairingCode"];
    let code_text = pairing["code"].as_str().unwrap().to_owned();
    assert!(code_text.len() >= 8);
    assert_eq!(pairing["location"]["name"], "Alpha");
    let expires = time(&pairing["expiresAt"]) - Utc::now();
    assert!(
        expires > Duration::minutes(9) && expires <= Duration::minutes(10),
        "{expires:?}"
    );
    const PAIR: &str = "mutation($c: String!, $n: String!){ pairKiosk(code: $c, name: $n){ token kiosk { id name revoked location { id name } } } }";
    let body = app
        .gql(None, PAIR, json!({"c": code_text, "n": "Front desk"}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let session = &body["data"]["pairKiosk"];
    let token = session["token"].as_str().unwrap().to_owned();
    let kiosk_id = session["kiosk"]["id"].as_str().unwrap().to_owned();
    assert_eq!(session["kiosk"]["name"], "Front desk");
    assert_eq!(session["kiosk"]["revoked"], false);
    assert_eq!(
        session["kiosk"]["location"],
        json!({"id": l1, "name": "Alpha"})
    );
    // Single use.
    fails(
        &app,
        None,
        PAIR,
        json!({"c": code_text, "n": "Second"}),
        "BAD_USER_INPUT",
    )
    .await;
    fails(
        &app,
        None,
        PAIR,
        json!({"c": "ZZZZZZZZ", "n": "Guess"}),
        "BAD_USER_INPUT",
    )
    .await;

    // Who it is and what it sees.
    let data = app
        .ok(&token, "{ me { kind user { id } permissions } }", json!({}))
        .await;
    assert_eq!(
        data["me"],
        json!({"kind": "KIOSK", "user": null, "permissions": []})
    );
    let data = app.ok(&token, "{ locations { id } }", json!({})).await;
    assert_eq!(ids(&data["locations"]), [l1.as_str()]);
    let data = app
        .ok(
            &token,
            "{ locations(includeArchived: true) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(&data["locations"]), [l1.as_str()]);
    let data = app
        .ok(
            &token,
            "query($a: ID!, $b: ID!){ own: location(id: $a){ id } other: location(id: $b){ id } }",
            json!({"a": l1, "b": l2}),
        )
        .await;
    assert_eq!(data, json!({"own": {"id": l1}, "other": null}));

    // The directory: visible hosts of its location or of none; contact details denied.
    let body = app
        .gql(
            Some(&token),
            "{ hosts { totalCount edges { node { id name email } } } }",
            json!({}),
        )
        .await;
    let hosts = &body["data"]["hosts"];
    assert_eq!(names(hosts), ["Ann Anywhere", "Hal Alpha"]);
    assert_eq!(hosts["totalCount"], 2);
    let errors = body["errors"].as_array().expect("email denied");
    assert_eq!(errors.len(), 2, "{body}");
    for error in errors {
        assert_eq!(error["extensions"]["code"], "FORBIDDEN");
        assert_eq!(error["extensions"]["permission"], "visitor.hosts.view");
        assert_eq!(error["path"][4], "email");
    }
    assert_eq!(hosts["edges"][0]["node"]["email"], Value::Null);
    for filter in [
        json!({"l": l2}),
        json!({"s": "beta"}),
        json!({"s": "hidden"}),
        json!({"s": "gone"}),
    ] {
        let data = app
            .ok(&token, "query($l: ID, $s: String){ hosts(locationId: $l, search: $s){ totalCount edges { node { id } } } }", filter.clone())
            .await;
        assert_eq!(data["hosts"]["totalCount"], 0, "{filter}");
    }
    let _ = (&h_any, &h_hidden);
    // A kiosk at a location without hosts of its own sees only the location-less ones.
    let (_, gamma_token) = pair_kiosk(&app, &admin, &empty, "Gamma door").await;
    let data = app
        .ok(
            &gamma_token,
            "{ hosts { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(names(&data["hosts"]), ["Ann Anywhere"]);

    // Check-in at its own location (source KIOSK), not elsewhere.
    const KIOSK_IN: &str = "mutation($i: CheckInInput!){ checkInVisitor(input: $i){ id source status host { name } location { id } } }";
    let data = app
        .ok(&token, KIOSK_IN, json!({"i": {"locationId": l1, "hostId": h_l1, "visitor": {"name": "Kiosk Visitor", "email": "kv@example.com"}}}))
        .await;
    let kiosk_visit = data["checkInVisitor"].clone();
    assert_eq!(kiosk_visit["source"], "KIOSK");
    assert_eq!(kiosk_visit["host"]["name"], "Hal Alpha");
    assert_eq!(kiosk_visit["location"]["id"], l1.as_str());
    let before = visit_count(&app, &admin).await;
    for input in [
        json!({"locationId": l2, "visitor": {"name": "Elsewhere"}}),
        json!({"locationId": l1, "hostId": h_l2, "visitor": {"name": "Other Host"}}),
        json!({"locationId": l1, "hostId": h_hidden, "visitor": {"name": "Hidden Host"}}),
        json!({"locationId": l1, "hostId": h_gone, "visitor": {"name": "Gone Host"}}),
    ] {
        fails(
            &app,
            Some(&token),
            KIOSK_IN,
            json!({"i": input}),
            "NOT_FOUND",
        )
        .await;
    }
    assert_eq!(visit_count(&app, &admin).await, before);
    // Kiosk check-ins never reuse a visitor record by e-mail.
    let data = app
        .ok(&token, KIOSK_IN, json!({"i": {"locationId": l1, "visitor": {"name": "Kiosk Visitor", "email": "kv@example.com"}}}))
        .await;
    let second_kiosk_visit = data["checkInVisitor"]["id"].clone();
    let data = app
        .ok(
            &admin,
            "query($a: ID!, $b: ID!){ a: visit(id: $a){ visitor { id } } b: visit(id: $b){ visitor { id } } }",
            json!({"a": kiosk_visit["id"], "b": second_kiosk_visit}),
        )
        .await;
    assert_ne!(data["a"]["visitor"]["id"], data["b"]["visitor"]["id"]);

    // Check-out: its own visits, not a staff visit.
    let staff_visit = app.check_in(&admin, &l1, "Staff Visitor").await;
    const OUT: &str = "mutation($v: ID!){ checkOutVisitor(visitId: $v){ id status } }";
    fails(
        &app,
        Some(&token),
        OUT,
        json!({"v": staff_visit}),
        "NOT_FOUND",
    )
    .await;
    let data = app.ok(&token, OUT, json!({"v": kiosk_visit["id"]})).await;
    assert_eq!(data["checkOutVisitor"]["status"], "CHECKED_OUT");
    // Another kiosk of the same location cannot check it out either.
    let (_, other_token) = pair_kiosk(&app, &admin, &l1, "Back door").await;
    fails(
        &app,
        Some(&other_token),
        OUT,
        json!({"v": second_kiosk_visit}),
        "NOT_FOUND",
    )
    .await;
    let data = app
        .ok(
            &admin,
            "query($v: ID!){ visit(id: $v){ status } }",
            json!({"v": staff_visit}),
        )
        .await;
    assert_eq!(data["visit"]["status"], "CHECKED_IN");

    // The admin sees the kiosk.
    let data = app
        .ok(&admin, "query($l: ID!){ kiosks { id name revoked location { id } } location(id: $l){ kiosks { id } } }", json!({"l": l1}))
        .await;
    assert!(ids(&data["kiosks"]).contains(&kiosk_id));
    assert!(ids(&data["location"]["kiosks"]).contains(&kiosk_id));

    // Revoked: the token stops working.
    let data = app
        .ok(
            &admin,
            "mutation($id: ID!){ revokeKiosk(id: $id){ id revoked } }",
            json!({"id": kiosk_id}),
        )
        .await;
    assert_eq!(data["revokeKiosk"]["revoked"], true);
    let body = app
        .gql(Some(&token), "{ me { kind } locations { id } }", json!({}))
        .await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
    assert_eq!(body["data"], json!({"me": null, "locations": null}));
    fails(
        &app,
        Some(&token),
        KIOSK_IN,
        json!({"i": {"locationId": l1, "visitor": {"name": "After Revoke"}}}),
        "UNAUTHENTICATED",
    )
    .await;
    fails(
        &app,
        Some(&token),
        OUT,
        json!({"v": second_kiosk_visit}),
        "UNAUTHENTICATED",
    )
    .await;
    // Revoking again returns it unchanged; the other kiosk still works.
    let data = app
        .ok(
            &admin,
            "mutation($id: ID!){ revokeKiosk(id: $id){ revoked } }",
            json!({"id": kiosk_id}),
        )
        .await;
    assert_eq!(data["revokeKiosk"]["revoked"], true);
    let data = app.ok(&other_token, "{ me { kind } }", json!({})).await;
    assert_eq!(data["me"]["kind"], "KIOSK");
});

// ---------------------------------------------------------------------------------------
// Pagination

on_every_backend!(visit_pagination_and_filters, |app| {
    let admin = app.admin("acme").await;
    let l1 = app.create_location(&admin, "North").await;
    let l2 = app.create_location(&admin, "South").await;
    let people = [
        ("Ada North", "ada@north.example", "Analytical Engines", &l1),
        ("Bob North", "bob@north.example", "Builders", &l1),
        ("Cy North", "cy@north.example", "Analytical Engines", &l1),
        ("Di North", "di@north.example", "Dyes", &l1),
        ("Ed South", "ed@south.example", "Engines", &l2),
        ("Flo South", "flo@south.example", "Flowers", &l2),
        ("Gus South", "gus@south.example", "Gears", &l2),
    ];
    let mut created = Vec::new();
    for (name, email, company, location) in people {
        let visit = check_in(
            &app,
            &admin,
            json!({"locationId": location, "visitor": {"name": name, "email": email, "company": company}}),
        )
        .await;
        created.push(visit["id"].as_str().unwrap().to_owned());
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    const PAGE: &str = "query($first: Int, $after: String, $f: VisitFilter){ visits(filter: $f, first: $first, after: $after){ totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id checkedInAt } } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let data = app
            .ok(&admin, PAGE, json!({"first": 3, "after": after}))
            .await;
        let page = &data["visits"];
        assert_eq!(page["totalCount"], 7);
        let page_ids = edge_ids(page);
        assert!(page_ids.len() <= 3);
        assert_eq!(
            page["pageInfo"]["endCursor"],
            page["edges"]
                .as_array()
                .unwrap()
                .last()
                .map(|e| e["cursor"].clone())
                .unwrap_or(Value::Null)
        );
        seen.extend(page_ids);
        pages += 1;
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7, "all distinct");
    assert_eq!(seen, newest_first, "newest first");

    // The default page is 20; 0 is an empty page; more than 100 or less than 0 is refused,
    // and so is a cursor that is not one.
    let data = app.ok(&admin, PAGE, json!({})).await;
    assert_eq!(edge_ids(&data["visits"]), newest_first);
    assert_eq!(data["visits"]["pageInfo"]["hasNextPage"], false);
    let data = app.ok(&admin, PAGE, json!({"first": 0})).await;
    assert_eq!(edge_ids(&data["visits"]).len(), 0);
    for vars in [
        json!({"first": 101}),
        json!({"first": -1}),
        json!({"after": "garbage"}),
        json!({"after": "!!!"}),
        json!({"first": 3, "after": "Zm9vYmFy"}),
    ] {
        fails(&app, Some(&admin), PAGE, vars, "BAD_USER_INPUT").await;
    }

    // Filters, with the same total on every page.
    let data = app
        .ok(&admin, PAGE, json!({"f": {"locationId": l1}, "first": 3}))
        .await;
    assert_eq!(data["visits"]["totalCount"], 4);
    assert_eq!(edge_ids(&data["visits"]), newest_first[3..6].to_vec());
    let cursor = data["visits"]["pageInfo"]["endCursor"].clone();
    let data = app
        .ok(
            &admin,
            PAGE,
            json!({"f": {"locationId": l1}, "first": 3, "after": cursor}),
        )
        .await;
    assert_eq!(edge_ids(&data["visits"]), [created[0].as_str()]);
    assert_eq!(data["visits"]["totalCount"], 4);
    let data = app.ok(&admin, PAGE, json!({"f": {"locationId": l2}})).await;
    assert_eq!(edge_ids(&data["visits"]), newest_first[..3].to_vec());
    let data = app
        .ok(
            &admin,
            PAGE,
            json!({"f": {"locationId": uuid::Uuid::new_v4().to_string()}}),
        )
        .await;
    assert_eq!(data["visits"]["totalCount"], 0);
    for (search, expected) in [
        ("south", vec![6, 5, 4]),
        ("ANALYTICAL", vec![2, 0]),
        ("bob@north", vec![1]),
        ("engines", vec![4, 2, 0]),
        ("%", vec![]),
        ("nobody", vec![]),
    ] {
        let data = app.ok(&admin, PAGE, json!({"f": {"search": search}})).await;
        let expected: Vec<String> = expected
            .iter()
            .map(|i: &usize| created[*i].clone())
            .collect();
        assert_eq!(edge_ids(&data["visits"]), expected, "search {search:?}");
        assert_eq!(
            data["visits"]["totalCount"],
            expected.len(),
            "search {search:?}"
        );
    }
    let data = app
        .ok(
            &admin,
            PAGE,
            json!({"f": {"locationId": l1, "search": "engines"}}),
        )
        .await;
    assert_eq!(
        edge_ids(&data["visits"]),
        [created[2].clone(), created[0].clone()]
    );

    // Time range: `from` inclusive, `to` exclusive.
    let data = app.ok(&admin, PAGE, json!({})).await;
    let times: Vec<Value> = data["visits"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["checkedInAt"].clone())
        .collect();
    // times[0] is the newest (created[6]); times[6] the oldest (created[0]).
    let data = app
        .ok(
            &admin,
            PAGE,
            json!({"f": {"from": times[4], "to": times[1]}}),
        )
        .await;
    assert_eq!(
        edge_ids(&data["visits"]),
        [created[4].clone(), created[3].clone(), created[2].clone()]
    );
    fails(
        &app,
        Some(&admin),
        PAGE,
        json!({"f": {"from": times[1], "to": times[4]}}),
        "BAD_USER_INPUT",
    )
    .await;
});

// ---------------------------------------------------------------------------------------
// Tenant isolation

on_every_backend!(tenants_are_isolated, |app| {
    // Tenant A: one of everything.
    let a = app.admin("tenant-a").await;
    let a_loc = app.create_location(&a, "A Office").await;
    let a_host = create_host(
        &app,
        &a,
        json!({"name": "A Host", "email": "host@a.example", "locationId": a_loc}),
    )
    .await;
    let a_badge = add_badge(&app, &a, &a_loc, "A-1").await;
    let a_free_badge = add_badge(&app, &a, &a_loc, "A-2").await;
    let a_visit = check_in(
        &app,
        &a,
        json!({"locationId": a_loc, "hostId": a_host, "badgeId": a_badge, "visitor": {"name": "A Visitor", "email": "shared@example.com"}}),
    )
    .await;
    let a_visit_id = a_visit["id"].as_str().unwrap().to_owned();
    let a_visitor = a_visit["visitor"]["id"].as_str().unwrap().to_owned();
    let data = app
        .ok(
            &a,
            "mutation($l: ID!, $at: DateTime!){ preRegisterVisitor(input: {locationId: $l, expectedAt: $at, visitor: {name: \"A Expected\"}}){ id code } }",
            json!({"l": a_loc, "at": (Utc::now() + Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    let a_pre = data["preRegisterVisitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a_code = data["preRegisterVisitor"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (a_kiosk, a_kiosk_token) = pair_kiosk(&app, &a, &a_loc, "A Kiosk").await;

    // Tenant B, with its own location, visit and badge.
    let b = app.admin("tenant-b").await;
    let b_loc = app.create_location(&b, "B Office").await;
    let b_badge = add_badge(&app, &b, &b_loc, "A-1").await;
    let b_visit = check_in(
        &app,
        &b,
        json!({"locationId": b_loc, "visitor": {"name": "B Visitor", "email": "shared@example.com"}}),
    )
    .await;
    assert_ne!(
        b_visit["visitor"]["id"],
        a_visitor.as_str(),
        "no visitor reuse across tenants"
    );
    let b_visit_id = b_visit["id"].as_str().unwrap().to_owned();

    // A's ids read as nothing.
    let data = app
        .ok(
            &b,
            "query($l: ID!, $v: ID!, $p: ID!){ location(id: $l){ id } visit(id: $v){ id } visitor(id: $p){ id } }",
            json!({"l": a_loc, "v": a_visit_id, "p": a_visitor}),
        )
        .await;
    assert_eq!(
        data,
        json!({"location": null, "visit": null, "visitor": null})
    );

    // B's lists hold none of A's rows.
    let data = app
        .ok(
            &b,
            "query($l: ID!){ locations(includeArchived: true) { id } hosts { totalCount edges { node { id } } }
                visits { totalCount edges { node { id } } } badges { id } preRegistrations { id } kiosks { id }
                byLocation: visits(filter: {locationId: $l}) { totalCount }
                hostsThere: hosts(locationId: $l) { totalCount }
                badgesThere: badges(locationId: $l) { id }
                preThere: preRegistrations(locationId: $l) { id }
                search: visits(filter: {search: \"A Visitor\"}) { totalCount }
                auditLog(first: 100) { edges { node { target } } } }",
            json!({"l": a_loc}),
        )
        .await;
    assert_eq!(ids(&data["locations"]), [b_loc.as_str()]);
    assert_eq!(data["hosts"]["totalCount"], 0);
    assert_eq!(edge_ids(&data["visits"]), [b_visit_id.as_str()]);
    assert_eq!(data["visits"]["totalCount"], 1);
    assert_eq!(ids(&data["badges"]), [b_badge.as_str()]);
    assert_eq!(data["preRegistrations"], json!([]));
    assert_eq!(data["kiosks"], json!([]));
    assert_eq!(data["byLocation"]["totalCount"], 0);
    assert_eq!(data["hostsThere"]["totalCount"], 0);
    assert_eq!(data["badgesThere"], json!([]));
    assert_eq!(data["preThere"], json!([]));
    assert_eq!(data["search"]["totalCount"], 0);
    let a_ids: HashSet<&str> = [
        a_loc.as_str(),
        a_host.as_str(),
        a_badge.as_str(),
        a_visit_id.as_str(),
        a_pre.as_str(),
        a_kiosk.as_str(),
    ]
    .into();
    for entry in data["auditLog"]["edges"].as_array().unwrap() {
        let target = entry["node"]["target"].as_str().unwrap_or_default();
        assert!(!a_ids.contains(target), "B's audit log names A's {target}");
    }
    let now = Utc::now();
    let data = app
        .ok(
            &b,
            "query($f: DateTime!, $t: DateTime!, $l: ID){ all: visitReport(from: $f, to: $t){ total } there: visitReport(from: $f, to: $t, locationId: $l){ total days { date } } }",
            json!({"f": (now - Duration::days(1)).to_rfc3339(), "t": (now + Duration::days(1)).to_rfc3339(), "l": a_loc}),
        )
        .await;
    assert_eq!(data["all"]["total"], 1);
    assert_eq!(data["there"], json!({"total": 0, "days": []}));

    // A's ids are NOT_FOUND to B's mutations.
    let cases: Vec<(&str, Value)> = vec![
        (
            "mutation($id: ID!){ updateLocation(id: $id, input: {name: \"Mine\"}){ id } }",
            json!({"id": a_loc}),
        ),
        (
            "mutation($id: ID!){ archiveLocation(id: $id){ id } }",
            json!({"id": a_loc}),
        ),
        (
            "mutation($id: ID!){ checkOutVisitor(visitId: $id){ id } }",
            json!({"id": a_visit_id}),
        ),
        (
            "mutation($id: ID!){ updateHost(id: $id, input: {name: \"Mine\"}){ id } }",
            json!({"id": a_host}),
        ),
        (
            "mutation($id: ID!){ removeHost(id: $id) }",
            json!({"id": a_host}),
        ),
        (
            "mutation($id: ID!){ retireBadge(badgeId: $id){ id } }",
            json!({"id": a_free_badge}),
        ),
        (
            "mutation($id: ID!){ returnBadge(badgeId: $id){ id } }",
            json!({"id": a_badge}),
        ),
        (
            "mutation($b: ID!, $v: ID!){ assignBadge(badgeId: $b, visitId: $v){ id } }",
            json!({"b": a_free_badge, "v": b_visit_id}),
        ),
        (
            "mutation($b: ID!, $v: ID!){ assignBadge(badgeId: $b, visitId: $v){ id } }",
            json!({"b": b_badge, "v": a_visit_id}),
        ),
        (
            "mutation($id: ID!){ cancelPreRegistration(id: $id){ id } }",
            json!({"id": a_pre}),
        ),
        (
            "mutation($id: ID!){ revokeKiosk(id: $id){ id } }",
            json!({"id": a_kiosk}),
        ),
        (
            "mutation($id: ID!){ addBadge(locationId: $id, number: \"B-9\"){ id } }",
            json!({"id": a_loc}),
        ),
        (
            "mutation($id: ID!){ createKioskPairingCode(locationId: $id){ code } }",
            json!({"id": a_loc}),
        ),
        (
            "mutation($id: ID!){ createHost(input: {name: \"X\", locationId: $id}){ id } }",
            json!({"id": a_loc}),
        ),
        (
            "mutation($id: ID!){ updateHost(id: $id, input: {name: \"X\"}){ id } }",
            json!({"id": a_host}),
        ),
        (
            "mutation($id: ID!, $at: DateTime!){ preRegisterVisitor(input: {locationId: $id, expectedAt: $at, visitor: {name: \"X\"}}){ id } }",
            json!({"id": a_loc, "at": (now + Duration::hours(1)).to_rfc3339()}),
        ),
    ];
    for (mutation, vars) in cases {
        fails(&app, Some(&b), mutation, vars, "NOT_FOUND").await;
    }
    for input in [
        json!({"locationId": a_loc, "visitor": {"name": "Intruder"}}),
        json!({"locationId": b_loc, "hostId": a_host, "visitor": {"name": "Intruder"}}),
        json!({"locationId": b_loc, "badgeId": a_free_badge, "visitor": {"name": "Intruder"}}),
    ] {
        check_in_fails(&app, &b, input, "NOT_FOUND").await;
    }
    // A's pre-registration code is unknown in B.
    check_in_fails(
        &app,
        &b,
        json!({"locationId": b_loc, "preRegistrationCode": a_code}),
        "BAD_USER_INPUT",
    )
    .await;
    // A's kiosk cannot touch B's visit or location.
    fails(
        &app,
        Some(&a_kiosk_token),
        "mutation($id: ID!){ checkOutVisitor(visitId: $id){ id } }",
        json!({"id": b_visit_id}),
        "NOT_FOUND",
    )
    .await;
    let data = app
        .ok(
            &a_kiosk_token,
            "query($l: ID!){ location(id: $l){ id } }",
            json!({"l": b_loc}),
        )
        .await;
    assert_eq!(data["location"], Value::Null);

    // And A's data is untouched.
    let data = app
        .ok(
            &a,
            "query($l: ID!, $v: ID!){ location(id: $l){ name archived } visit(id: $v){ status badge { status } host { name } }
                badges { number status } preRegistrations { status } kiosks { revoked } hosts { totalCount } }",
            json!({"l": a_loc, "v": a_visit_id}),
        )
        .await;
    assert_eq!(
        data["location"],
        json!({"name": "A Office", "archived": false})
    );
    assert_eq!(
        data["visit"],
        json!({"status": "CHECKED_IN", "badge": {"status": "ASSIGNED"}, "host": {"name": "A Host"}})
    );
    assert_eq!(
        data["badges"],
        json!([{"number": "A-1", "status": "ASSIGNED"}, {"number": "A-2", "status": "AVAILABLE"}])
    );
    assert_eq!(data["preRegistrations"], json!([{"status": "EXPECTED"}]));
    assert_eq!(data["kiosks"], json!([{"revoked": false}]));
    assert_eq!(data["hosts"]["totalCount"], 1);
    // The same badge number lives on in both tenants.
    assert_eq!(badge(&app, &b, &b_badge).await["number"], "A-1");
});

// ---------------------------------------------------------------------------------------
// Audit log and visit report

on_every_backend!(audit_log_records_check_ins_with_their_actor, |app| {
    let admin = app.admin("acme").await;
    let loc = app.create_location(&admin, "Audited").await;
    let data = app.ok(&admin, "{ me { user { id } } }", json!({})).await;
    let user_id = data["me"]["user"]["id"].as_str().unwrap().to_owned();
    let visit = app.check_in(&admin, &loc, "Audited Person").await;
    const LOG: &str = "{ auditLog(first: 50) { totalCount edges { node { id at actor action target details } } } }";
    let data = app.ok(&admin, LOG, json!({})).await;
    let newest = &data["auditLog"]["edges"][0]["node"];
    assert_eq!(newest["action"], "visit.check_in");
    assert_eq!(newest["actor"], format!("staff:{user_id}"));
    assert_eq!(newest["target"], visit.as_str());
    let actions: Vec<&str> = data["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["visit.check_in", "location.create"]);
    assert_eq!(data["auditLog"]["totalCount"], 2);

    // Check-out and a kiosk's check-in, each with its actor.
    app.ok(
        &admin,
        "mutation($v: ID!){ checkOutVisitor(visitId: $v){ id } }",
        json!({"v": visit}),
    )
    .await;
    let (kiosk_id, kiosk) = pair_kiosk(&app, &admin, &loc, "Audited kiosk").await;
    let body = app
        .gql(
            Some(&kiosk),
            "mutation($l: ID!){ checkInVisitor(input: {locationId: $l, visitor: {name: \"Kiosk Person\"}}){ id } }",
            json!({"l": loc}),
        )
        .await;
    let kiosk_visit = body["data"]["checkInVisitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let data = app.ok(&admin, LOG, json!({})).await;
    let entries: Vec<(String, String, String)> = data["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["action"].as_str().unwrap().to_owned(),
                n["actor"].as_str().unwrap().to_owned(),
                n["target"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        entries[0],
        (
            "visit.check_in".into(),
            format!("kiosk:{kiosk_id}"),
            kiosk_visit
        )
    );
    assert!(
        entries.contains(&(
            "visit.check_out".into(),
            format!("staff:{user_id}"),
            visit.clone()
        )),
        "{entries:?}"
    );
    // Newest first; pages follow.
    let times: Vec<DateTime<Utc>> = data["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| time(&e["node"]["at"]))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    let data = app
        .ok(
            &admin,
            "{ auditLog(first: 2) { pageInfo { hasNextPage endCursor } edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["auditLog"]["pageInfo"]["hasNextPage"], true);
    let cursor = data["auditLog"]["pageInfo"]["endCursor"].clone();
    let data = app
        .ok(
            &admin,
            "query($a: String){ auditLog(first: 50, after: $a) { edges { node { id } } } }",
            json!({"a": cursor}),
        )
        .await;
    assert_eq!(edge_ids(&data["auditLog"]).len(), entries.len() - 2);
    fails(
        &app,
        Some(&admin),
        "{ auditLog(after: \"garbage\") { totalCount } }",
        json!({}),
        "BAD_USER_INPUT",
    )
    .await;
});

on_every_backend!(visit_report_counts_check_ins_per_local_day, |app| {
    let admin = app.admin("acme").await;
    // UTC+14 and UTC-11: their local dates always differ.
    let data = app
        .ok(&admin, "mutation{ createLocation(input: {name: \"Kiritimati\", timezone: \"Pacific/Kiritimati\"}){ id } }", json!({}))
        .await;
    let east = data["createLocation"]["id"].as_str().unwrap().to_owned();
    let data = app
        .ok(&admin, "mutation{ createLocation(input: {name: \"Pago Pago\", timezone: \"Pacific/Pago_Pago\"}){ id } }", json!({}))
        .await;
    let west = data["createLocation"]["id"].as_str().unwrap().to_owned();
    let local_day = |tz: chrono_tz::Tz| {
        Utc::now()
            .with_timezone(&tz)
            .date_naive()
            .format("%Y-%m-%d")
            .to_string()
    };
    let east_before = local_day(chrono_tz::Pacific::Kiritimati);
    let west_before = local_day(chrono_tz::Pacific::Pago_Pago);
    for i in 0..3 {
        app.check_in(&admin, &east, &format!("East {i}")).await;
    }
    for i in 0..2 {
        app.check_in(&admin, &west, &format!("West {i}")).await;
    }
    let east_after = local_day(chrono_tz::Pacific::Kiritimati);
    let west_after = local_day(chrono_tz::Pacific::Pago_Pago);

    const REPORT: &str = "query($f: DateTime!, $t: DateTime!, $l: ID){ visitReport(from: $f, to: $t, locationId: $l){ from to total days { date checkIns location { id name timezone } } } }";
    let now = Utc::now();
    let (from, to) = (
        (now - Duration::days(2)).to_rfc3339(),
        (now + Duration::days(2)).to_rfc3339(),
    );
    let data = app.ok(&admin, REPORT, json!({"f": from, "t": to})).await;
    let report = &data["visitReport"];
    assert_eq!(report["total"], 5);
    let days = report["days"].as_array().unwrap();
    if east_before == east_after && west_before == west_after {
        assert_eq!(days.len(), 2, "{report}");
        // By date: Pago Pago's day is the earlier one.
        assert_eq!(days[0]["location"]["name"], "Pago Pago");
        assert_eq!(days[0]["date"], west_after.as_str());
        assert_eq!(days[0]["checkIns"], 2);
        assert_eq!(days[1]["location"]["name"], "Kiritimati");
        assert_eq!(days[1]["date"], east_after.as_str());
        assert_eq!(days[1]["checkIns"], 3);
        assert_ne!(days[0]["date"], days[1]["date"]);
    }
    let per_location: i64 = days.iter().map(|d| d["checkIns"].as_i64().unwrap()).sum();
    assert_eq!(per_location, 5);

    let data = app
        .ok(&admin, REPORT, json!({"f": from, "t": to, "l": east}))
        .await;
    assert_eq!(data["visitReport"]["total"], 3);
    assert!(
        data["visitReport"]["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["location"]["id"] == east.as_str())
    );
    // A range that ends before the check-ins counts none.
    let data = app
        .ok(&admin, REPORT, json!({"f": (now - Duration::days(5)).to_rfc3339(), "t": (now - Duration::days(1)).to_rfc3339()}))
        .await;
    assert_eq!(data["visitReport"]["total"], 0);
    assert_eq!(data["visitReport"]["days"], json!([]));

    // At most 92 days; `to` after `from`.
    for (f, t) in [
        (now - Duration::days(93), now),
        (now, now),
        (now, now - Duration::days(1)),
    ] {
        fails(
            &app,
            Some(&admin),
            REPORT,
            json!({"f": f.to_rfc3339(), "t": t.to_rfc3339()}),
            "BAD_USER_INPUT",
        )
        .await;
    }
    let data = app
        .ok(
            &admin,
            REPORT,
            json!({"f": (now - Duration::days(92)).to_rfc3339(), "t": now.to_rfc3339()}),
        )
        .await;
    assert_eq!(data["visitReport"]["total"], 5);
});

// ---------------------------------------------------------------------------------------
// Concurrency

on_every_backend!(concurrent_check_ins, |app| {
    let admin = app.admin("acme").await;
    let loc = app.create_location(&admin, "Busy Lobby").await;
    let mut badges = Vec::new();
    for i in 0..12 {
        badges.push(add_badge(&app, &admin, &loc, &format!("C-{i}")).await);
    }
    let (_, kiosk) = pair_kiosk(&app, &admin, &loc, "Busy kiosk").await;

    // Staff and kiosk check-ins at once: every one succeeds.
    let mut requests: Vec<(String, Value)> = Vec::new();
    for (i, badge) in badges.iter().enumerate() {
        requests.push((
            admin.clone(),
            json!({"locationId": loc, "badgeId": badge, "visitor": {"name": format!("Staff {i}")}}),
        ));
        requests.push((
            kiosk.clone(),
            json!({"locationId": loc, "visitor": {"name": format!("Kiosk {i}")}}),
        ));
    }
    let tasks = requests.into_iter().map(|(token, input)| {
        let app = &app;
        async move {
            app.gql(
                Some(&token),
                "mutation($i: CheckInInput!){ checkInVisitor(input: $i){ id source } }",
                json!({"i": input}),
            )
            .await
        }
    });
    for body in futures_util::future::join_all(tasks).await {
        assert!(body.get("errors").is_none(), "{body}");
    }
    assert_eq!(visit_count(&app, &admin).await, 24);

    // Twelve check-ins racing for one badge: exactly one wins, the others are CONFLICT and
    // leave no visit behind.
    let contested = add_badge(&app, &admin, &loc, "HOT").await;
    let tasks = (0..12).map(|i| {
        let (app, token) = (&app, admin.clone());
        let input = json!({"locationId": loc, "badgeId": contested, "visitor": {"name": format!("Racer {i}")}});
        async move { app.gql(Some(&token), CHECK_IN, json!({"i": input})).await }
    });
    let bodies = futures_util::future::join_all(tasks).await;
    let winners = bodies.iter().filter(|b| b.get("errors").is_none()).count();
    assert_eq!(winners, 1, "{bodies:?}");
    for body in bodies.iter().filter(|b| b.get("errors").is_some()) {
        assert_eq!(code(body), Some("CONFLICT"), "{body}");
    }
    assert_eq!(visit_count(&app, &admin).await, 25);
    assert_eq!(badge(&app, &admin, &contested).await["status"], "ASSIGNED");
});

// ---------------------------------------------------------------------------------------
// Badge transitions under concurrency (every one a conditional update: PostgreSQL's READ
// COMMITTED does not serialise them as SQLite's BEGIN IMMEDIATE does)

const ASSIGN_BADGE: &str = "mutation($b: ID!, $v: ID!){ assignBadge(badgeId: $b, visitId: $v){ id status currentVisit { id } } }";

/// The badge of each visit, by visit id.
async fn visit_badges(app: &TestApp, token: &str, visits: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for visit in visits {
        let data = app
            .ok(
                token,
                "query($v: ID!){ visit(id: $v){ status badge { id } } }",
                json!({"v": visit}),
            )
            .await;
        out.push(data["visit"]["badge"]["id"].clone());
    }
    out
}

on_every_backend!(concurrent_badge_transitions, |app| {
    let admin = app.admin("acme").await;
    let loc = app.create_location(&admin, "Race Track").await;

    // Eight assignments of one badge to eight open visits: one wins, seven are CONFLICT,
    // and the badge and the visits agree on the winner.
    let hot = add_badge(&app, &admin, &loc, "HOT").await;
    let mut visits = Vec::new();
    for i in 0..8 {
        visits.push(app.check_in(&admin, &loc, &format!("Open {i}")).await);
    }
    let tasks = visits.iter().map(|visit| {
        let (app, token) = (&app, admin.clone());
        let vars = json!({"b": hot, "v": visit});
        async move { app.gql(Some(&token), ASSIGN_BADGE, vars).await }
    });
    let bodies = futures_util::future::join_all(tasks).await;
    let mut winners = Vec::new();
    for (visit, body) in visits.iter().zip(&bodies) {
        if body.get("errors").is_none() {
            assert_eq!(body["data"]["assignBadge"]["currentVisit"]["id"], *visit);
            winners.push(visit.clone());
        } else {
            assert_eq!(code(body), Some("CONFLICT"), "{body}");
            assert_eq!(body["data"]["assignBadge"], Value::Null);
        }
    }
    assert_eq!(winners.len(), 1, "{bodies:?}");
    let state = badge(&app, &admin, &hot).await;
    assert_eq!(state["status"], "ASSIGNED");
    assert_eq!(state["currentVisit"]["id"], winners[0].as_str());
    for (visit, worn) in visits.iter().zip(visit_badges(&app, &admin, &visits).await) {
        if *visit == winners[0] {
            assert_eq!(worn, hot.as_str(), "the winner wears the badge");
        } else {
            assert_eq!(worn, Value::Null, "visit {visit} has no badge");
        }
    }

    // Eight badges assigned to one open visit at once: the visit gets one, the others
    // stay on the shelf.
    let target = app.check_in(&admin, &loc, "Popular Visitor").await;
    let mut shelf = Vec::new();
    for i in 0..8 {
        shelf.push(add_badge(&app, &admin, &loc, &format!("S-{i}")).await);
    }
    let tasks = shelf.iter().map(|b| {
        let (app, token) = (&app, admin.clone());
        let vars = json!({"b": b, "v": target});
        async move { app.gql(Some(&token), ASSIGN_BADGE, vars).await }
    });
    let bodies = futures_util::future::join_all(tasks).await;
    let won: Vec<&String> = shelf
        .iter()
        .zip(&bodies)
        .filter(|(_, body)| body.get("errors").is_none())
        .map(|(b, _)| b)
        .collect();
    assert_eq!(won.len(), 1, "{bodies:?}");
    for body in bodies.iter().filter(|b| b.get("errors").is_some()) {
        assert_eq!(code(body), Some("CONFLICT"), "{body}");
    }
    assert_eq!(
        visit_badges(&app, &admin, std::slice::from_ref(&target)).await[0],
        won[0].as_str()
    );
    for b in &shelf {
        let state = badge(&app, &admin, b).await;
        if b == won[0] {
            assert_eq!(state["status"], "ASSIGNED");
            assert_eq!(state["currentVisit"]["id"], target.as_str());
        } else {
            assert_eq!(state["status"], "AVAILABLE", "{state}");
            assert_eq!(state["currentVisit"], Value::Null);
        }
    }

    // Retiring a badge while a check-in takes it: one of them wins, never a retired badge
    // on a visitor.
    for round in 0..4 {
        let contested = add_badge(&app, &admin, &loc, &format!("R-{round}")).await;
        let retire = app.gql(
            Some(&admin),
            "mutation($b: ID!){ retireBadge(badgeId: $b){ status } }",
            json!({"b": contested}),
        );
        let check_in = app.gql(
            Some(&admin),
            CHECK_IN,
            json!({"i": {"locationId": loc, "badgeId": contested, "visitor": {"name": format!("Round {round}")}}}),
        );
        let (retired, checked_in) = tokio::join!(retire, check_in);
        let state = badge(&app, &admin, &contested).await;
        match (retired.get("errors"), checked_in.get("errors")) {
            (None, Some(_)) => {
                assert_eq!(code(&checked_in), Some("CONFLICT"), "{checked_in}");
                assert_eq!(state["status"], "RETIRED");
                assert_eq!(state["currentVisit"], Value::Null);
            }
            (Some(_), None) => {
                assert_eq!(code(&retired), Some("CONFLICT"), "{retired}");
                assert_eq!(state["status"], "ASSIGNED");
                assert_eq!(
                    state["currentVisit"]["id"],
                    checked_in["data"]["checkInVisitor"]["id"]
                );
            }
            _ => panic!("exactly one must win: {retired} {checked_in}"),
        }
    }

    // Returning a badge while its visit checks out: the badge ends on the shelf either
    // way; a check-out that lost the race is CONFLICT and succeeds when retried.
    for round in 0..4 {
        let b = add_badge(&app, &admin, &loc, &format!("T-{round}")).await;
        let visit = check_in(
            &app,
            &admin,
            json!({"locationId": loc, "badgeId": b, "visitor": {"name": format!("Leaver {round}")}}),
        )
        .await;
        let visit = visit["id"].as_str().unwrap().to_owned();
        const OUT: &str = "mutation($v: ID!){ checkOutVisitor(visitId: $v){ status } }";
        let returned = app.gql(
            Some(&admin),
            "mutation($b: ID!){ returnBadge(badgeId: $b){ status } }",
            json!({"b": b}),
        );
        let out = app.gql(Some(&admin), OUT, json!({"v": visit}));
        let (returned, out) = tokio::join!(returned, out);
        for body in [&returned, &out] {
            if body.get("errors").is_some() {
                assert_eq!(code(body), Some("CONFLICT"), "{body}");
            }
        }
        if out.get("errors").is_some() {
            app.ok(&admin, OUT, json!({"v": visit})).await;
        }
        let state = badge(&app, &admin, &b).await;
        assert_eq!(state["status"], "AVAILABLE", "{returned} {out}");
        assert_eq!(state["currentVisit"], Value::Null);
    }
});

// ---------------------------------------------------------------------------------------
// Pre-registration hosts outside the directory

on_every_backend!(
    pre_registration_keeps_its_host_outside_the_directory,
    |app| {
        let admin = app.admin("acme").await;
        let lobby = app.create_location(&admin, "Lobby").await;
        let annex = app.create_location(&admin, "Annex").await;
        let hidden = create_host(
            &app,
            &admin,
            json!({"name": "Hidden Helen", "locationId": lobby, "visibleInDirectory": false}),
        )
        .await;
        let elsewhere = create_host(
            &app,
            &admin,
            json!({"name": "Annex Andy", "locationId": annex}),
        )
        .await;
        let leaving = create_host(&app, &admin, json!({"name": "Leaving Lou"})).await;
        let (_, kiosk) = pair_kiosk(&app, &admin, &lobby, "Lobby kiosk").await;
        let soon = (Utc::now() + Duration::hours(1)).to_rfc3339();
        let pre_register = |host: String, name: &'static str| {
            let (app, admin, lobby, soon) = (&app, admin.clone(), lobby.clone(), soon.clone());
            async move {
                let data = app
                .ok(
                    &admin,
                    "mutation($i: PreRegisterInput!){ preRegisterVisitor(input: $i){ code } }",
                    json!({"i": {"locationId": lobby, "hostId": host, "expectedAt": soon, "visitor": {"name": name}}}),
                )
                .await;
                data["preRegisterVisitor"]["code"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        const BY_CODE: &str = "mutation($l: ID!, $c: String!, $h: ID){ checkInVisitor(input: {locationId: $l, preRegistrationCode: $c, hostId: $h}){ id source host { id } visitor { name } } }";

        // A kiosk checks in by code with the registration's host, though the kiosk's
        // directory does not show that host (hidden, or of another location).
        for (host, name) in [(&hidden, "Guest of Helen"), (&elsewhere, "Guest of Andy")] {
            let code = pre_register(host.clone(), name).await;
            let data = app
                .ok(&kiosk, BY_CODE, json!({"l": lobby, "c": code}))
                .await;
            assert_eq!(data["checkInVisitor"]["source"], "KIOSK");
            assert_eq!(data["checkInVisitor"]["host"]["id"], host.as_str());
            assert_eq!(data["checkInVisitor"]["visitor"]["name"], name);
        }

        // A host the kiosk names itself still has to be in its directory; the code stays
        // usable.
        let code = pre_register(hidden.clone(), "Named Host Guest").await;
        fails(
            &app,
            Some(&kiosk),
            BY_CODE,
            json!({"l": lobby, "c": code, "h": hidden}),
            "NOT_FOUND",
        )
        .await;
        let data = app
            .ok(&kiosk, BY_CODE, json!({"l": lobby, "c": code}))
            .await;
        assert_eq!(data["checkInVisitor"]["host"]["id"], hidden.as_str());

        // A host removed since the registration is left out: the check-in goes ahead without
        // one, at a kiosk and by staff.
        let kiosk_code = pre_register(leaving.clone(), "Kiosk Guest of Lou").await;
        let staff_code = pre_register(leaving.clone(), "Staff Guest of Lou").await;
        app.ok(
            &admin,
            "mutation($id: ID!){ removeHost(id: $id) }",
            json!({"id": leaving}),
        )
        .await;
        let data = app
            .ok(&kiosk, BY_CODE, json!({"l": lobby, "c": kiosk_code}))
            .await;
        assert_eq!(data["checkInVisitor"]["host"], Value::Null);
        assert_eq!(
            data["checkInVisitor"]["visitor"]["name"],
            "Kiosk Guest of Lou"
        );
        let data = app
            .ok(&admin, BY_CODE, json!({"l": lobby, "c": staff_code}))
            .await;
        assert_eq!(data["checkInVisitor"]["source"], "STAFF");
        assert_eq!(data["checkInVisitor"]["host"], Value::Null);
    }
);

// ---------------------------------------------------------------------------------------
// Kiosk directory search

on_every_backend!(kiosk_search_does_not_match_host_email, |app| {
    let admin = app.admin("acme").await;
    let lobby = app.create_location(&admin, "Lobby").await;
    create_host(
        &app,
        &admin,
        json!({"name": "Quentin Quiet", "email": "secret.mailbox@hidden-domain.example", "department": "Legal", "locationId": lobby}),
    )
    .await;
    let (_, kiosk) = pair_kiosk(&app, &admin, &lobby, "Lobby kiosk").await;
    const SEARCH: &str =
        "query($s: String){ hosts(search: $s){ totalCount edges { node { name } } } }";

    // Staff find the host by any part of the e-mail address; a kiosk finds nothing.
    for search in ["secret.mailbox", "hidden-domain", "@"] {
        let data = app.ok(&admin, SEARCH, json!({"s": search})).await;
        assert_eq!(names(&data["hosts"]), ["Quentin Quiet"], "staff {search:?}");
        let data = app.ok(&kiosk, SEARCH, json!({"s": search})).await;
        assert_eq!(data["hosts"]["totalCount"], 0, "kiosk {search:?}");
        assert_eq!(
            names(&data["hosts"]),
            Vec::<String>::new(),
            "kiosk {search:?}"
        );
    }
    // Name and department still match for the kiosk.
    for search in ["quentin", "LEGAL"] {
        let data = app.ok(&kiosk, SEARCH, json!({"s": search})).await;
        assert_eq!(names(&data["hosts"]), ["Quentin Quiet"], "kiosk {search:?}");
    }
});

// ---------------------------------------------------------------------------------------
// Bounded relation lists

on_every_backend!(relation_lists_are_bounded, |app| {
    use sea_orm::{EntityTrait, IntoActiveModel};
    let admin = app.admin("acme").await;
    let busy = app.create_location(&admin, "Busy").await;
    let quiet = app.create_location(&admin, "Quiet").await;
    let quiet_visit = app.check_in(&admin, &quiet, "Lone Visitor").await;
    let tenant = support::tenant_id("acme");
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();

    // One visitor with 500 open visits at `busy`, one a second apart (rows written directly:
    // the public surface would need 500 check-ins).
    let visitor = uuid::Uuid::new_v4().to_string();
    let base = Utc::now() - Duration::days(1);
    let base = base - Duration::nanoseconds(i64::from(base.timestamp_subsec_nanos()));
    entities::visitors::Entity::insert(
        entities::visitors::Model {
            id: visitor.clone(),
            tenant_id: tenant.clone(),
            name: "Frequent Visitor".into(),
            email: None,
            email_normalized: None,
            phone: None,
            company: None,
            ai_risk_score: None,
            ai_risk_notes: None,
            anonymized_at: None,
            created_at: base,
            updated_at: base,
        }
        .into_active_model(),
    )
    .exec_without_returning(&db)
    .await
    .unwrap();
    let visit = |n: i64| entities::visits::Model {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant.clone(),
        visitor_id: visitor.clone(),
        location_id: busy.clone(),
        host_id: None,
        badge_id: None,
        pre_registration_id: None,
        kiosk_id: None,
        status: entities::visits::VisitStatus::CheckedIn,
        source: entities::visits::CheckInSource::Staff,
        purpose: None,
        checked_in_at: base + Duration::seconds(n),
        checked_out_at: None,
        checked_in_by: "test".into(),
    };
    let rows: Vec<entities::visits::Model> = (0..500).map(visit).collect();
    let mut newest: Vec<(DateTime<Utc>, String)> = rows
        .iter()
        .map(|v| (v.checked_in_at, v.id.clone()))
        .collect();
    newest.sort();
    newest.reverse();
    entities::visits::Entity::insert_many(rows.into_iter().map(|v| v.into_active_model()))
        .exec_without_returning(&db)
        .await
        .unwrap();

    const CURRENT: &str = "query($a: ID!, $b: ID!){ busy: location(id: $a){ currentVisits { id } } quiet: location(id: $b){ currentVisits { id } } }";
    let data = app
        .ok(&admin, CURRENT, json!({"a": busy, "b": quiet}))
        .await;
    assert_eq!(data["busy"]["currentVisits"].as_array().unwrap().len(), 500);
    assert_eq!(ids(&data["quiet"]["currentVisits"]), [quiet_visit.as_str()]);

    // `Visitor.visits` is the newest 50.
    let data = app
        .ok(
            &admin,
            "query($v: ID!){ visitor(id: $v){ visits { id } } }",
            json!({"v": visitor}),
        )
        .await;
    let expected: Vec<String> = newest.iter().take(50).map(|(_, id)| id.clone()).collect();
    assert_eq!(ids(&data["visitor"]["visits"]), expected);

    // Past 500 the list is refused, not cut; the other location's list is still served.
    entities::visits::Entity::insert(visit(500).into_active_model())
        .exec_without_returning(&db)
        .await
        .unwrap();
    let body = app
        .gql(Some(&admin), CURRENT, json!({"a": busy, "b": quiet}))
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["data"]["busy"]["currentVisits"], Value::Null);
    assert_eq!(
        ids(&body["data"]["quiet"]["currentVisits"]),
        [quiet_visit.as_str()]
    );

    // Kiosks alike.
    let kiosk = |n: i64| entities::kiosks::Model {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant.clone(),
        location_id: busy.clone(),
        name: format!("Kiosk {n}"),
        token_hash: uuid::Uuid::new_v4().to_string(),
        paired_at: base + Duration::seconds(n),
        last_seen_at: None,
        revoked_at: None,
    };
    entities::kiosks::Entity::insert_many((0..500).map(|n| kiosk(n).into_active_model()))
        .exec_without_returning(&db)
        .await
        .unwrap();
    const KIOSKS: &str = "query($a: ID!){ location(id: $a){ kiosks { id } } }";
    let data = app.ok(&admin, KIOSKS, json!({"a": busy})).await;
    assert_eq!(data["location"]["kiosks"].as_array().unwrap().len(), 500);
    entities::kiosks::Entity::insert(kiosk(500).into_active_model())
        .exec_without_returning(&db)
        .await
        .unwrap();
    let body = app.gql(Some(&admin), KIOSKS, json!({"a": busy})).await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(body["data"]["location"]["kiosks"], Value::Null);
});

// ---------------------------------------------------------------------------------------
// Settings under concurrency

on_every_backend!(concurrent_partial_settings_updates_all_land, |app| {
    let admin = app.admin("acme").await;
    const UPDATE: &str =
        "mutation($i: VisitorSettingsInput!){ updateVisitorSettings(input: $i){ retentionDays } }";
    for round in 0..4 {
        let days = 30 + round;
        let host_rule = round % 2 == 0;
        let tasks = [
            json!({"retentionDays": days}),
            json!({"requireHost": host_rule}),
            json!({"requireBadge": !host_rule}),
            json!({"autoCheckoutAt": format!("1{round}:30")}),
        ]
        .into_iter()
        .map(|input| {
            let (app, token) = (&app, admin.clone());
            async move { app.ok(&token, UPDATE, json!({"i": input})).await }
        });
        futures_util::future::join_all(tasks).await;
        let data = app
            .ok(
                &admin,
                "{ visitorSettings { retentionDays requireHost requireBadge autoCheckoutAt } }",
                json!({}),
            )
            .await;
        assert_eq!(
            data["visitorSettings"],
            json!({"retentionDays": days, "requireHost": host_rule, "requireBadge": !host_rule,
                   "autoCheckoutAt": format!("1{round}:30")}),
            "round {round}"
        );
    }
});

on_every_backend!(audit_log_shows_staff_only_visitor_entries, |app| {
    let admin = app.admin("acme").await;
    app.create_location(&admin, "HQ").await;
    // A client of the same tenant opens a ticket: Portal's entry names its subject.
    let client = app
        .client_session("acme", "ACME-1", "c@acme.example", true)
        .await;
    app.ok(
        &client,
        r#"mutation { createTicket(input: {subject: "Salary review", description: "x"}) { id } }"#,
        json!({}),
    )
    .await;
    let data = app
        .ok(
            &admin,
            "{ auditLog(first: 100) { totalCount nodes { action details } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = data["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["action"].as_str())
        .collect();
    assert!(actions.contains(&"location.create"), "{data}");
    for action in &actions {
        assert!(
            !action.starts_with("ticket.") && !action.starts_with("client_user."),
            "a Portal entry reached staff: {data}"
        );
    }
    assert_eq!(
        data["auditLog"]["totalCount"],
        json!(actions.len()),
        "{data}"
    );
    assert!(!data.to_string().contains("Salary review"), "{data}");
});

on_every_backend!(
    check_in_reuses_a_visitor_only_for_viewers_and_the_same_name,
    |app| {
        let admin = app.admin("acme").await;
        let loc = app.create_location(&admin, "HQ").await;
        let ceo = check_in(
        &app,
        &admin,
        json!({"locationId": loc, "visitor": {"name": "Grace Hopper", "email": "ceo@corp.example", "company": "Corp"}}),
    )
    .await;
        let ceo_id = ceo["visitor"]["id"].clone();
        let visitor = |id: Value| {
            let app = &app;
            let admin = admin.clone();
            async move {
                app.ok(
                    &admin,
                    "query($id: ID!){ visitor(id: $id){ id name email company } }",
                    json!({"id": id}),
                )
                .await["visitor"]
                    .clone()
            }
        };

        // A desk that may only check visitors in cannot take over the record by its e-mail.
        let desk = app
            .staff_session("acme", &["visitor.visitors.checkin"])
            .await;
        let body = app
        .gql(
            Some(&desk),
            "mutation($i: CheckInInput!){ checkInVisitor(input: $i){ id } }",
            json!({"i": {"locationId": loc, "visitor": {"name": "Mallory", "email": "CEO@corp.example"}}}),
        )
        .await;
        assert!(body.get("errors").is_none(), "{body}");
        let desk_visit = body["data"]["checkInVisitor"]["id"].clone();
        let stored = visitor(ceo_id.clone()).await;
        assert_eq!(stored["name"], "Grace Hopper", "{stored}");
        assert_eq!(stored["company"], "Corp", "{stored}");
        let data = app
            .ok(
                &admin,
                "query($id: ID!){ visit(id: $id){ visitor { id name } } }",
                json!({"id": desk_visit}),
            )
            .await;
        assert_ne!(data["visit"]["visitor"]["id"], ceo_id, "{data}");
        assert_eq!(data["visit"]["visitor"]["name"], "Mallory", "{data}");

        // A viewer with another name gets a new record too; the stored one is untouched.
        let other = check_in(
        &app,
        &admin,
        json!({"locationId": loc, "visitor": {"name": "G. Hopper", "email": "ceo@corp.example", "company": "Elsewhere"}}),
    )
    .await;
        assert_ne!(other["visitor"]["id"], ceo_id);
        // The same name reuses it without overwriting what is stored.
        let same = check_in(
        &app,
        &admin,
        json!({"locationId": loc, "visitor": {"name": "GRACE HOPPER", "email": "ceo@corp.example", "company": "Elsewhere"}}),
    )
    .await;
        assert_eq!(same["visitor"]["id"], ceo_id);
        let stored = visitor(ceo_id).await;
        assert_eq!(stored["name"], "Grace Hopper", "{stored}");
        assert_eq!(stored["company"], "Corp", "{stored}");
    }
);
