//! No N+1: a page of visits with every relation selected costs the same number of SQL
//! statements for 5 visits as for 100 (each relation is one batched `IN (…)` statement).

use std::collections::HashSet;

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::support;

/// Visits created; more than one page of 100.
const VISITS: usize = 110;
/// The newest visits that come from a pre-registration code.
const PRE_REGISTERED: usize = 10;

const PAGE: &str = "query($first: Int!){ visits(first: $first){ totalCount edges { node { id \
    visitor { name visits { id } } \
    location { name currentVisits { id } } \
    host { name location { name } } \
    badge { number currentVisit { id } } \
    preRegistration { id } } } } }";

/// Creates `VISITS` open visits across two locations, each with its own visitor, host and
/// badge; the newest `PRE_REGISTERED` checked in by pre-registration code.
async fn seed(app: &support::TestApp, admin: &str) -> Vec<String> {
    let locations = [
        app.create_location(admin, "North Site").await,
        app.create_location(admin, "South Site").await,
    ];
    let mut visits = Vec::new();
    for i in 0..VISITS {
        let location = &locations[i % 2];
        // Most hosts live at the visit's location; every third has none.
        let host_location = if i % 3 == 0 {
            Value::Null
        } else {
            json!(location)
        };
        let data = app
            .ok(
                admin,
                "mutation($n: String!, $l: ID){ createHost(input: {name: $n, locationId: $l}){ id } }",
                json!({"n": format!("Host {i:03}"), "l": host_location}),
            )
            .await;
        let host = data["createHost"]["id"].as_str().unwrap().to_owned();
        let data = app
            .ok(
                admin,
                "mutation($l: ID!, $n: String!){ addBadge(locationId: $l, number: $n){ id } }",
                json!({"l": location, "n": format!("B-{i:03}")}),
            )
            .await;
        let badge = data["addBadge"]["id"].as_str().unwrap().to_owned();
        let name = format!("Visitor {i:03}");
        let mut input = json!({"locationId": location, "hostId": host, "badgeId": badge});
        if i >= VISITS - PRE_REGISTERED {
            let data = app
                .ok(
                    admin,
                    "mutation($l: ID!, $h: ID, $n: String!, $e: String, $at: DateTime!){
                        preRegisterVisitor(input: {locationId: $l, hostId: $h, expectedAt: $at,
                            visitor: {name: $n, email: $e}}){ code } }",
                    json!({"l": location, "h": host, "n": name, "e": format!("v{i}@example.com"),
                           "at": (Utc::now() + Duration::hours(1)).to_rfc3339()}),
                )
                .await;
            input["preRegistrationCode"] = data["preRegisterVisitor"]["code"].clone();
        } else {
            input["visitor"] = json!({"name": name, "email": format!("v{i}@example.com")});
        }
        let data = app
            .ok(
                admin,
                "mutation($i: CheckInInput!){ checkInVisitor(input: $i){ id } }",
                json!({"i": input}),
            )
            .await;
        visits.push(data["checkInVisitor"]["id"].as_str().unwrap().to_owned());
    }
    visits
}

/// Runs the page query with `first` and returns (statements it cost, the page).
async fn measured(app: &support::TestApp, admin: &str, first: usize) -> (u64, Value) {
    let before = app.statements().await;
    let data = app.ok(admin, PAGE, json!({"first": first})).await;
    let after = app.statements().await;
    (after - before, data)
}

/// Every relation of every node is there and consistent.
fn check_page(page: &Value, first: usize, newest_first: &[String]) {
    let visits = &page["visits"];
    assert_eq!(visits["totalCount"], VISITS);
    let edges = visits["edges"].as_array().unwrap();
    assert_eq!(edges.len(), first);
    let mut seen = HashSet::new();
    for (i, edge) in edges.iter().enumerate() {
        let node = &edge["node"];
        let id = node["id"].as_str().unwrap();
        assert_eq!(id, newest_first[i]);
        assert!(seen.insert(id.to_owned()));
        assert!(
            node["visitor"]["name"]
                .as_str()
                .unwrap()
                .starts_with("Visitor ")
        );
        assert_eq!(node["visitor"]["visits"], json!([{"id": id}]));
        let current: Vec<&str> = node["location"]["currentVisits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap())
            .collect();
        assert_eq!(current.len(), VISITS / 2);
        assert!(current.contains(&id));
        assert!(node["host"]["name"].as_str().unwrap().starts_with("Host "));
        assert_eq!(node["badge"]["currentVisit"]["id"], id);
        assert_eq!(
            node["preRegistration"].is_null(),
            i >= PRE_REGISTERED,
            "{node}"
        );
    }
    // Both kinds of host appear in any page of at least 3.
    let with_location = edges
        .iter()
        .filter(|e| !e["node"]["host"]["location"].is_null())
        .count();
    assert!(with_location > 0 && with_location < edges.len());
}

on_every_backend!(visit_page_statements_do_not_grow_with_the_page, |app| {
    let admin = app.admin("statements").await;
    let started = std::time::Instant::now();
    let mut newest_first = seed(&app, &admin).await;
    newest_first.reverse();
    eprintln!(
        "{:?}: seeded {VISITS} visits in {:?}",
        app.backend,
        started.elapsed()
    );

    let (small, page) = measured(&app, &admin, 5).await;
    check_page(&page, 5, &newest_first);
    // 50, not 100: with every relation and their nested lists selected (each of up to 50
    // open visits of its location counted), a page of 100 is over the complexity limit.
    let (large, page) = measured(&app, &admin, 50).await;
    check_page(&page, 50, &newest_first);
    let (again, _) = measured(&app, &admin, 5).await;
    eprintln!(
        "{:?}: visits(first: 5) cost {small} statements, visits(first: 50) {large}, first: 5 again {again}",
        app.backend
    );
    assert_eq!(small, large, "statements grow with the page: N+1");
    assert_eq!(small, again);
    // Session lookup, page, count, and one batch per relation.
    assert!(small <= 15, "{small} statements for one page");
});
