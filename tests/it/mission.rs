// Mission, proxied live, through the public surface against a fake Mission over real HTTP:
// every field with the member's headers; one upstream call per resource per request, however
// many fields or aliases ask; Mission down, slow, failing, answering garbage or too much: those
// fields null with UPSTREAM_UNAVAILABLE, the rest served, Mission's body in neither the
// response nor the log; one retry for reads and none for the write; the circuit breaker
// opening, failing fast, probing once and closing; and the refusals (not configured, member
// not linked, permissions, bad input).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::mission::{self, FakeMission, Mode, SECRET, capture_logs, member_session};
use crate::support::*;

const EVERYTHING: &str = r#"query($from: DateTime, $to: DateTime) {
  me { kind }
  mission {
    donations(from: $from, to: $to) { id amount { amount currency } fund date method }
    donationStats(year: 2025) { total { amount currency } count byFund { fund total { amount currency } } }
    events(from: $from) { id title startsAt endsAt location }
    groups { id name description memberCount }
    directory(search: "ann") { memberId name email }
    prayerRequests { id body isPrivate createdAt }
  }
}"#;

const EVENTS: &str = "{ me { kind } mission { events { id title } } }";

const SUBMIT: &str = "mutation($b: String!, $p: Boolean!) {
  submitPrayerRequest(body: $b, isPrivate: $p) { id body isPrivate createdAt }
}";

/// The first error's `extensions.code` at `path` (field names joined by `.`).
fn code_at<'a>(body: &'a Value, path: &str) -> Option<&'a str> {
    body["errors"].as_array()?.iter().find_map(|e| {
        let at: Vec<String> = e["path"]
            .as_array()?
            .iter()
            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
            .collect();
        (at.join(".") == path).then(|| e["extensions"]["code"].as_str())?
    })
}

/// Asserts `mission.events` failed with UPSTREAM_UNAVAILABLE while `me` was served, and
/// that nothing of Mission's answers is in the response.
fn events_unavailable(body: &Value) {
    assert_eq!(body["data"]["me"]["kind"], "CLIENT", "{body}");
    assert!(body["data"]["mission"].is_object(), "{body}");
    assert!(body["data"]["mission"]["events"].is_null(), "{body}");
    assert_eq!(
        code_at(body, "mission.events"),
        Some("UPSTREAM_UNAVAILABLE"),
        "{body}"
    );
    assert!(!body.to_string().contains(SECRET), "{body}");
}

on_every_backend!(
    every_field_is_read_with_the_members_headers,
    env = [mission::start(), mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        let data = app
            .ok(
                &token,
                EVERYTHING,
                json!({"from": "2026-01-01T00:00:00Z", "to": "2026-12-31T23:59:59Z"}),
            )
            .await;
        let m = &data["mission"];
        assert_eq!(
            m["donations"],
            json!([
                {"id": "don-1.m-1", "amount": {"amount": "125.50", "currency": "USD"},
                 "fund": "General", "date": "2026-03-01", "method": "card"},
                {"id": "2", "amount": {"amount": "10.00", "currency": "USD"},
                 "fund": null, "date": "2026-03-08", "method": null},
            ])
        );
        assert_eq!(
            m["donationStats"],
            json!({"total": {"amount": "135.50", "currency": "USD"}, "count": 2, "byFund": [
                {"fund": "General", "total": {"amount": "125.50", "currency": "USD"}},
                {"fund": "Missions", "total": {"amount": "10.00", "currency": "USD"}},
            ]})
        );
        assert_eq!(
            m["events"],
            json!([
                {"id": "ev-1.m-1", "title": "Sunday service", "startsAt": "2026-03-01T10:00:00+00:00",
                 "endsAt": "2026-03-01T10:30:00+00:00", "location": "Main hall"},
                {"id": "ev-2.m-1", "title": "Choir", "startsAt": "2026-03-04T19:00:00+00:00",
                 "endsAt": null, "location": null},
            ])
        );
        assert_eq!(
            m["groups"],
            json!([
                {"id": "g-1.m-1", "name": "Youth", "description": "Teens on Fridays", "memberCount": 14},
                {"id": "77", "name": "Choir", "description": null, "memberCount": null},
            ])
        );
        assert_eq!(
            m["directory"],
            json!([{"memberId": "m-1", "name": "Ann Baker", "email": "ann@example.org"}])
        );
        assert_eq!(
            m["prayerRequests"],
            json!([{"id": "p-1.m-1", "body": "For the harvest", "isPrivate": false,
                    "createdAt": "2026-02-01T08:00:00+00:00"}])
        );

        let created = app
            .ok(
                &token,
                SUBMIT,
                json!({"b": "  Please pray for my mother  ", "p": true}),
            )
            .await;
        assert_eq!(
            created["submitPrayerRequest"],
            json!({"id": "p-new.m-1", "body": "Please pray for my mother", "isPrivate": true,
                   "createdAt": "2026-03-10T12:00:00+00:00"})
        );

        // Every call: the service key, the tenant and the member, and what was asked.
        let seen = fake.seen();
        assert_eq!(seen.len(), 7, "{seen:#?}");
        for call in &seen {
            assert_eq!(
                call.header("authorization"),
                Some(format!("Bearer {}", mission::KEY).as_str())
            );
            assert_eq!(
                call.header("x-tenant-id"),
                Some(tenant_id("church").as_str())
            );
            assert_eq!(call.header("x-member-id"), Some("m-1"));
        }
        let donations = &fake.calls("GET", "/mission/donations")[0];
        assert_eq!(donations.query["from"], "2026-01-01T00:00:00Z");
        assert_eq!(donations.query["to"], "2026-12-31T23:59:59Z");
        let events = &fake.calls("GET", "/mission/events")[0];
        assert_eq!(
            events.query.get("from").map(String::as_str),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(events.query.get("to"), None);
        assert_eq!(
            fake.calls("GET", "/mission/donations/stats")[0].query["year"],
            "2025"
        );
        assert_eq!(fake.calls("GET", "/mission/directory")[0].query["q"], "ann");
        let post = &fake.calls("POST", "/mission/prayer")[0];
        assert_eq!(
            serde_json::from_str::<Value>(&post.body).unwrap(),
            json!({"body": "Please pray for my mother", "is_private": true})
        );
        assert_eq!(post.header("content-type"), Some("application/json"));
    }
);

on_every_backend!(
    one_resource_is_fetched_once_per_request,
    env = [mission::start(), mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        let data = app
            .ok(
                &token,
                "{ a: mission { events { id } x: events { title } }
                   b: mission { events { id } groups { id } }
                   c: mission { events(from: \"2026-01-01T00:00:00Z\") { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(data["a"]["events"], data["b"]["events"]);
        assert_eq!(data["a"]["x"][0]["title"], "Sunday service");
        // Three aliases of one resource: one call; another query string is another resource.
        let events = fake.calls("GET", "/mission/events");
        assert_eq!(events.len(), 2, "{events:#?}");
        assert_eq!(fake.calls("GET", "/mission/groups").len(), 1);
        // The next request asks again: nothing is kept between requests.
        app.ok(&token, "{ mission { events { id } } }", json!({}))
            .await;
        assert_eq!(fake.calls("GET", "/mission/events").len(), 3);
    }
);

on_every_backend!(
    mission_down_nulls_its_fields_and_serves_the_rest,
    env = [mission::down(), mission::key()],
    |app| {
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        let body = app.gql(Some(&token), EVENTS, json!({})).await;
        events_unavailable(&body);
        let body = app
            .gql(Some(&token), SUBMIT, json!({"b": "Hope", "p": false}))
            .await;
        assert!(body["data"]["submitPrayerRequest"].is_null(), "{body}");
        assert_eq!(code(&body), Some("UPSTREAM_UNAVAILABLE"), "{body}");
    }
);

on_every_backend!(
    a_slow_mission_times_out_within_the_upstream_timeout,
    env = [
        mission::start(),
        mission::key(),
        ("UPSTREAM_TIMEOUT", "400ms")
    ],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        fake.set_path_mode("/mission/events", Mode::Slow);
        let started = Instant::now();
        let body = app
            .gql(
                Some(&token),
                "{ me { kind } mission { events { id title } groups { name } } }",
                json!({}),
            )
            .await;
        let took = started.elapsed();
        events_unavailable(&body);
        // The other Mission field is served.
        assert_eq!(
            body["data"]["mission"]["groups"][0]["name"], "Youth",
            "{body}"
        );
        // One budget for the call, its retry included: not two timeouts, not Mission's 3 s.
        assert!(took < Duration::from_millis(1500), "took {took:?}");
        assert_eq!(fake.calls("GET", "/mission/events").len(), 1);
    }
);

on_every_backend!(
    a_failing_mission_is_retried_once_and_its_body_is_never_shown,
    env = [mission::start(), mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        fake.set_mode(Mode::Fail500);
        let (guard, logs) = capture_logs();
        let body = app.gql(Some(&token), EVENTS, json!({})).await;
        drop(guard);
        events_unavailable(&body);
        assert_eq!(fake.calls("GET", "/mission/events").len(), 2, "one retry");
        let logs = logs.text();
        assert!(logs.contains("Mission answered HTTP 500"), "{logs}");
        assert!(!logs.contains(SECRET), "{logs}");
    }
);

on_every_backend!(
    a_read_that_fails_once_is_served_by_its_retry,
    env = [mission::start(), mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        fake.fail_next(1);
        let data = app.ok(&token, EVENTS, json!({})).await;
        assert_eq!(data["mission"]["events"][0]["id"], "ev-1.m-1");
        assert_eq!(fake.calls("GET", "/mission/events").len(), 2);
    }
);

on_every_backend!(
    a_prayer_request_is_never_sent_twice,
    env = [mission::start(), mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        fake.fail_next(1);
        let body = app
            .gql(Some(&token), SUBMIT, json!({"b": "Hope", "p": false}))
            .await;
        assert!(body["data"]["submitPrayerRequest"].is_null(), "{body}");
        assert_eq!(code(&body), Some("UPSTREAM_UNAVAILABLE"), "{body}");
        assert!(!body.to_string().contains(SECRET), "{body}");
        assert_eq!(fake.calls("POST", "/mission/prayer").len(), 1, "no retry");
    }
);

on_every_backend!(
    garbage_wrong_shapes_and_oversized_answers_are_unavailable,
    env = [mission::start(), mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        for mode in [Mode::Garbage, Mode::WrongShape, Mode::Oversized] {
            fake.set_path_mode("/mission/events", mode);
            let before = fake.calls("GET", "/mission/events").len();
            let (guard, logs) = capture_logs();
            let body = app
                .gql(
                    Some(&token),
                    "{ me { kind } mission { events { id title } groups { name } } }",
                    json!({}),
                )
                .await;
            drop(guard);
            events_unavailable(&body);
            assert_eq!(
                body["data"]["mission"]["groups"][1]["name"], "Choir",
                "{body}"
            );
            // An answer that came is not asked again.
            assert_eq!(fake.calls("GET", "/mission/events").len(), before + 1);
            let logs = logs.text();
            assert!(logs.contains("Mission"), "{mode:?}: nothing logged: {logs}");
            assert!(!logs.contains(SECRET), "{mode:?}: {logs}");
        }
    }
);

on_every_backend!(
    more_than_500_items_ask_to_narrow_the_query,
    env = [mission::start(), mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        fake.set_path_mode("/mission/groups", Mode::TooMany);
        let body = app
            .gql(
                Some(&token),
                "{ mission { groups { id } events { id } } }",
                json!({}),
            )
            .await;
        assert!(body["data"]["mission"]["groups"].is_null(), "{body}");
        assert_eq!(
            code_at(&body, "mission.groups"),
            Some("BAD_USER_INPUT"),
            "{body}"
        );
        assert_eq!(
            body["data"]["mission"]["events"][0]["id"], "ev-1.m-1",
            "{body}"
        );
    }
);

on_every_backend!(
    answers_are_read_up_to_upstream_max_body,
    env = [
        mission::start(),
        mission::key(),
        ("UPSTREAM_MAX_BODY", "1024")
    ],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        // 501 groups are some 17 KiB: past the limit before they could be counted.
        fake.set_path_mode("/mission/groups", Mode::TooMany);
        let body = app
            .gql(
                Some(&token),
                "{ mission { groups { id } events { id } } }",
                json!({}),
            )
            .await;
        assert!(body["data"]["mission"]["groups"].is_null(), "{body}");
        assert_eq!(
            code_at(&body, "mission.groups"),
            Some("UPSTREAM_UNAVAILABLE"),
            "{body}"
        );
        assert_eq!(
            body["data"]["mission"]["events"][0]["id"], "ev-1.m-1",
            "{body}"
        );
    }
);

on_every_backend!(
    the_circuit_opens_fails_fast_probes_once_and_closes,
    env = [
        mission::start(),
        mission::key(),
        ("UPSTREAM_BREAKER_THRESHOLD", "2"),
        ("UPSTREAM_BREAKER_COOLDOWN", "400ms")
    ],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        let events = || fake.calls("GET", "/mission/events").len();
        fake.set_mode(Mode::Fail500);
        // Two failed calls (each tried twice) open the circuit.
        for _ in 0..2 {
            events_unavailable(&app.gql(Some(&token), EVENTS, json!({})).await);
        }
        assert_eq!(events(), 4);
        // Open: calls fail at once without reaching Mission, even once it is well again.
        fake.set_mode(Mode::Normal);
        for _ in 0..3 {
            events_unavailable(&app.gql(Some(&token), EVENTS, json!({})).await);
        }
        assert_eq!(events(), 4, "the open circuit called Mission");

        // After the cool-down one probe goes through; a failed probe (tried once) opens it
        // again at once.
        fake.set_mode(Mode::Fail500);
        tokio::time::sleep(Duration::from_millis(500)).await;
        events_unavailable(&app.gql(Some(&token), EVENTS, json!({})).await);
        assert_eq!(events(), 5, "one probe, no retry");
        events_unavailable(&app.gql(Some(&token), EVENTS, json!({})).await);
        assert_eq!(events(), 5, "open again after the failed probe");

        // A probe that succeeds closes it: every call goes through again.
        fake.set_mode(Mode::Normal);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let data = app.ok(&token, EVENTS, json!({})).await;
        assert_eq!(data["mission"]["events"][0]["id"], "ev-1.m-1");
        assert_eq!(events(), 6);
        for _ in 0..3 {
            app.ok(&token, EVENTS, json!({})).await;
        }
        assert_eq!(events(), 9);
    }
);

on_every_backend!(without_mission_settings_it_is_not_configured, |app| {
    let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
    let body = app.gql(Some(&token), EVENTS, json!({})).await;
    assert!(body["data"]["mission"].is_null(), "{body}");
    assert_eq!(
        code_at(&body, "mission"),
        Some("UPSTREAM_NOT_CONFIGURED"),
        "{body}"
    );
    assert_eq!(body["data"]["me"]["kind"], "CLIENT", "{body}");
    let body = app
        .gql(Some(&token), SUBMIT, json!({"b": "Hope", "p": false}))
        .await;
    assert_eq!(code(&body), Some("UPSTREAM_NOT_CONFIGURED"), "{body}");
});

on_every_backend!(
    a_client_without_a_member_id_is_not_linked,
    env = [mission::start(), mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "bob@example.org", None, None).await;
        let body = app.gql(Some(&token), EVENTS, json!({})).await;
        assert!(body["data"]["mission"].is_null(), "{body}");
        assert_eq!(
            code_at(&body, "mission"),
            Some("MISSION_MEMBER_NOT_LINKED"),
            "{body}"
        );
        assert_eq!(body["data"]["me"]["kind"], "CLIENT", "{body}");
        let body = app
            .gql(Some(&token), SUBMIT, json!({"b": "Hope", "p": false}))
            .await;
        assert!(body["data"]["submitPrayerRequest"].is_null(), "{body}");
        assert_eq!(code(&body), Some("MISSION_MEMBER_NOT_LINKED"), "{body}");
        assert_eq!(fake.count(), 0);
    }
);

on_every_backend!(
    a_member_id_that_cannot_be_sent_is_not_linked,
    env = [mission::start(), mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        // PSA may send a line break inside the id; no header can carry it.
        let token = member_session(&app, "church", "zoe@example.org", Some("m\n1"), None).await;
        let body = app.gql(Some(&token), EVENTS, json!({})).await;
        assert!(body["data"]["mission"].is_null(), "{body}");
        assert_eq!(
            code_at(&body, "mission"),
            Some("MISSION_MEMBER_NOT_LINKED"),
            "{body}"
        );
        assert_eq!(fake.count(), 0);
        // Any other text is sent as it is (UTF-8 in the header), for Mission to judge.
        let token = member_session(&app, "church", "amy@example.org", Some("mé-2"), None).await;
        let data = app.ok(&token, EVENTS, json!({})).await;
        assert_eq!(data["mission"]["events"][0]["id"], "ev-1.mé-2");
        assert_eq!(fake.seen()[0].header("x-member-id"), Some("mé-2"));
    }
);

on_every_backend!(
    mission_needs_its_permissions,
    env = [mission::start(), mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        let no_view = member_session(
            &app,
            "church",
            "ann@example.org",
            Some("m-1"),
            Some(&["portal.tickets.view", "portal.mission.prayer.submit"]),
        )
        .await;
        let body = app.gql(Some(&no_view), EVENTS, json!({})).await;
        assert!(body["data"]["mission"].is_null(), "{body}");
        assert_eq!(code_at(&body, "mission"), Some("FORBIDDEN"), "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["permission"],
            "portal.mission.view"
        );
        // The other permission still lets it submit.
        app.ok(&no_view, SUBMIT, json!({"b": "Hope", "p": false}))
            .await;

        let no_submit = member_session(
            &app,
            "church",
            "cy@example.org",
            Some("m-3"),
            Some(&["portal.mission.view"]),
        )
        .await;
        let body = app
            .gql(Some(&no_submit), SUBMIT, json!({"b": "Hope", "p": false}))
            .await;
        assert!(body["data"]["submitPrayerRequest"].is_null(), "{body}");
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["permission"],
            "portal.mission.prayer.submit"
        );
        app.ok(&no_submit, EVENTS, json!({})).await;

        // Staff users hold no portal permission; no principal is UNAUTHENTICATED.
        let staff = app.admin("church").await;
        let body = app.gql(Some(&staff), EVENTS, json!({})).await;
        assert_eq!(code_at(&body, "mission"), Some("FORBIDDEN"), "{body}");
        let body = app
            .gql(None, "{ mission { events { id } } }", json!({}))
            .await;
        assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
        // One submit and one read went to Mission; nothing else did.
        assert_eq!(fake.count(), 2);
    }
);

on_every_backend!(
    bad_arguments_are_refused_before_mission_is_asked,
    env = [mission::start(), mission::key()],
    |app| {
        let fake = FakeMission::of(&app);
        let token = member_session(&app, "church", "ann@example.org", Some("m-1"), None).await;
        let body = app
            .gql(
                Some(&token),
                "{ mission {
                    donationStats(year: 1800) { count }
                    events(from: \"2026-02-01T00:00:00Z\", to: \"2026-01-01T00:00:00Z\") { id }
                    groups { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            code_at(&body, "mission.donationStats"),
            Some("BAD_USER_INPUT"),
            "{body}"
        );
        assert_eq!(
            code_at(&body, "mission.events"),
            Some("BAD_USER_INPUT"),
            "{body}"
        );
        assert_eq!(
            body["data"]["mission"]["groups"][0]["id"], "g-1.m-1",
            "{body}"
        );
        for text in ["   ", &"x".repeat(4001)] {
            let body = app
                .gql(Some(&token), SUBMIT, json!({"b": text, "p": false}))
                .await;
            assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
        }
        let long = "y".repeat(201);
        let body = app
            .gql(
                Some(&token),
                "query($s: String) { mission { directory(search: $s) { name } } }",
                json!({"s": long}),
            )
            .await;
        assert_eq!(
            code_at(&body, "mission.directory"),
            Some("BAD_USER_INPUT"),
            "{body}"
        );
        // Only `groups` reached Mission.
        assert_eq!(fake.count(), 1, "{:#?}", fake.seen());
    }
);
