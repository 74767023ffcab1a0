//! CONTRACT section 2, field by field: every guarded field of the Visitor surface, reached
//! through every path the schema offers (root fields, nested fields, mutation results), once
//! allowed and once denied. A denial is `null` plus an `Access Denied` error with
//! `extensions.code = "FORBIDDEN"` and `extensions.permission`, and the rest of the response
//! is still served; without a principal the code is `UNAUTHENTICATED`.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::support::{ALL_VISITOR, TestApp};

const VIEW: &str = "visitor.visitors.view";
const CHECKIN: &str = "visitor.visitors.checkin";
const CHECKOUT: &str = "visitor.visitors.checkout";
const PREREG: &str = "visitor.preregister.manage";
const HOSTS_VIEW: &str = "visitor.hosts.view";
const HOSTS_MANAGE: &str = "visitor.hosts.manage";
const BADGES: &str = "visitor.badges.manage";
const REPORTS_VIEW: &str = "visitor.reports.view";
const LOCATIONS: &str = "visitor.locations.manage";
const SETTINGS: &str = "visitor.admin.settings";
const KIOSK: &str = "visitor.admin.kiosk";

const TENANT: &str = "permissions";

// ---------------------------------------------------------------------------------------
// Assertions

/// JSON pointer of an error's `path` (`["visits","edges",0,"node"]` → `/visits/edges/0/node`).
fn pointer(path: &Value) -> String {
    path.as_array()
        .expect("error without path")
        .iter()
        .map(|seg| match seg {
            Value::String(s) => format!("/{s}"),
            other => format!("/{other}"),
        })
        .collect()
}

/// The value at `ptr` under `data`, which must exist and not be null.
fn present<'a>(body: &'a Value, ptr: &str) -> &'a Value {
    let value = body["data"]
        .pointer(ptr)
        .unwrap_or_else(|| panic!("{ptr} missing from response: {body}"));
    assert!(!value.is_null(), "{ptr} is null: {body}");
    value
}

/// Succeeded: no errors, and every pointer has a non-null value.
fn assert_allowed(body: &Value, pointers: &[&str]) {
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    for ptr in pointers {
        present(body, ptr);
    }
}

/// Succeeded with fields that are null by nature (no error, key present).
fn assert_allowed_null(body: &Value, pointers: &[&str]) {
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    for ptr in pointers {
        assert!(
            body["data"].pointer(ptr).is_some(),
            "{ptr} missing from response: {body}"
        );
    }
}

/// Denied: every error is `Access Denied`/`FORBIDDEN` on a field whose path ends with one of
/// `denied` (path suffix, permission) and carries that permission, every such field is
/// `null`, every suffix was denied at least once, and every pointer of `served` has a value.
fn assert_denied(body: &Value, denied: &[(&str, Option<&str>)], served: &[&str]) {
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected Access Denied errors: {body}"));
    assert!(!errors.is_empty(), "expected Access Denied errors: {body}");
    let mut seen = vec![false; denied.len()];
    for error in errors {
        assert_eq!(error["message"], "Access Denied", "{body}");
        assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{body}");
        let ptr = pointer(&error["path"]);
        let index = denied
            .iter()
            .position(|(suffix, _)| ptr.ends_with(&format!("/{suffix}")))
            .unwrap_or_else(|| panic!("unexpected denial at {ptr}: {body}"));
        seen[index] = true;
        match denied[index].1 {
            Some(permission) => {
                assert_eq!(
                    error["extensions"]["permission"], permission,
                    "{ptr}: {body}"
                );
            }
            None => assert!(
                error["extensions"].get("permission").is_none(),
                "{ptr}: no single permission expected: {body}"
            ),
        }
        assert_eq!(
            body["data"].pointer(&ptr),
            Some(&Value::Null),
            "denied field {ptr} must be null: {body}"
        );
    }
    for ((suffix, _), seen) in denied.iter().zip(seen) {
        assert!(seen, "{suffix} was not denied: {body}");
    }
    for ptr in served {
        present(body, ptr);
    }
}

/// Refused for want of a principal: `field` is null with `UNAUTHENTICATED`.
fn assert_unauthenticated(body: &Value, field: &str) {
    let ptr = format!("/{field}");
    let error = body["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|e| pointer(&e["path"]) == ptr))
        .unwrap_or_else(|| panic!("no error on {field}: {body}"));
    assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{body}");
    assert!(error["extensions"].get("permission").is_none(), "{body}");
    assert_eq!(body["data"][field], Value::Null, "{body}");
}

// ---------------------------------------------------------------------------------------
// Fixture

/// One tenant with something of everything, in states where every mutation would succeed.
struct Fixture {
    app: TestApp,
    admin: String,
    /// "Alpha HQ": everything lives here.
    loc: String,
    /// "Beta Depot".
    other_loc: String,
    /// Ada Host, at `loc`, visible, with e-mail and phone.
    host: String,
    /// Assigned to `visit`.
    badge: String,
    /// Available.
    spare: String,
    /// Available.
    spare2: String,
    /// Open, with host and badge; visitor with e-mail and phone.
    visit: String,
    visitor: String,
    /// Open, no badge.
    visit2: String,
    /// Expected, with host.
    pre: String,
    kiosk: String,
    kiosk_token: String,
}

impl Fixture {
    async fn new(app: TestApp) -> Fixture {
        let admin = app.admin(TENANT).await;
        let loc = app.create_location(&admin, "Alpha HQ").await;
        let other_loc = app.create_location(&admin, "Beta Depot").await;
        let data = app
            .ok(
                &admin,
                r#"mutation($l: ID!){ createHost(input:{name:"Ada Host", email:"ada@example.com",
                    phone:"+44 20 7946 0000", department:"R&D", locationId:$l}){ id } }"#,
                json!({"l": loc}),
            )
            .await;
        let host = data["createHost"]["id"].as_str().unwrap().to_owned();
        let mut badges = Vec::new();
        for number in ["B-1", "B-2", "B-3"] {
            let data = app
                .ok(
                    &admin,
                    "mutation($l: ID!, $n: String!){ addBadge(locationId:$l, number:$n){ id } }",
                    json!({"l": loc, "n": number}),
                )
                .await;
            badges.push(data["addBadge"]["id"].as_str().unwrap().to_owned());
        }
        let data = app
            .ok(
                &admin,
                r#"mutation($l: ID!, $h: ID!, $b: ID!){ checkInVisitor(input:{locationId:$l,
                    hostId:$h, badgeId:$b, visitor:{name:"Grace Visitor", email:"grace@example.com",
                    phone:"+1 555 0100", company:"Navy"}}){ id visitor { id } } }"#,
                json!({"l": loc, "h": host, "b": badges[0]}),
            )
            .await;
        let visit = data["checkInVisitor"]["id"].as_str().unwrap().to_owned();
        let visitor = data["checkInVisitor"]["visitor"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let visit2 = app.check_in(&admin, &loc, "Second Visitor").await;
        let data = app
            .ok(
                &admin,
                r#"mutation($l: ID!, $h: ID!, $at: DateTime!){ preRegisterVisitor(input:{locationId:$l,
                    hostId:$h, expectedAt:$at, visitor:{name:"Expected Person",
                    email:"expected@example.com", phone:"+1 555 0199"}}){ id code } }"#,
                json!({"l": loc, "h": host, "at": (Utc::now() + Duration::hours(2)).to_rfc3339()}),
            )
            .await;
        let pre = data["preRegisterVisitor"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (kiosk, kiosk_token) = pair_kiosk(&app, &admin, &loc).await;
        Fixture {
            app,
            admin,
            loc,
            other_loc,
            host,
            badge: badges[0].clone(),
            spare: badges[1].clone(),
            spare2: badges[2].clone(),
            visit,
            visitor,
            visit2,
            pre,
            kiosk,
            kiosk_token,
        }
    }

    /// `q` with `%NAME%` placeholders replaced by quoted ids and times.
    fn fill(&self, q: &str) -> String {
        let quoted = |s: &str| format!("\"{s}\"");
        let now = Utc::now();
        q.replace("%LOC%", &quoted(&self.loc))
            .replace("%OTHER_LOC%", &quoted(&self.other_loc))
            .replace("%HOST%", &quoted(&self.host))
            .replace("%BADGE%", &quoted(&self.badge))
            .replace("%SPARE2%", &quoted(&self.spare2))
            .replace("%SPARE%", &quoted(&self.spare))
            .replace("%VISIT2%", &quoted(&self.visit2))
            .replace("%VISITOR%", &quoted(&self.visitor))
            .replace("%VISIT%", &quoted(&self.visit))
            .replace("%PRE%", &quoted(&self.pre))
            .replace("%KIOSK%", &quoted(&self.kiosk))
            .replace("%FROM%", &quoted(&(now - Duration::days(1)).to_rfc3339()))
            .replace("%TO%", &quoted(&(now + Duration::days(1)).to_rfc3339()))
            .replace("%SOON%", &quoted(&(now + Duration::hours(3)).to_rfc3339()))
    }

    /// A new staff session of the fixture's tenant with exactly `perms`.
    async fn staff(&self, perms: &[&str]) -> String {
        self.app.staff_session(TENANT, perms).await
    }

    /// Runs `q` (placeholders filled) as `who`.
    async fn run(&self, who: &Who, q: &str) -> Value {
        let token = match who {
            Who::Staff(perms) => self.staff(perms).await,
            Who::AllBut(perm) => self.staff(&all_but(perm)).await,
            Who::Kiosk => self.kiosk_token.clone(),
        };
        self.app.gql(Some(&token), &self.fill(q), json!({})).await
    }

    /// Everything a mutation could change, as the admin sees it.
    async fn snapshot(&self) -> Value {
        self.app
            .ok(
                &self.admin,
                r#"{ locations(includeArchived: true) { id name address timezone archived }
                     hosts { totalCount edges { node { id name email phone department visibleInDirectory } } }
                     visits { totalCount edges { node { id status checkedOutAt badge { id } } } }
                     badges { id number status currentVisit { id } }
                     preRegistrations { id status }
                     kiosks { id name revoked }
                     visitorSettings { retentionDays requireHost requireBadge autoCheckoutAt }
                     auditLog(first: 100) { totalCount edges { node { id action } } } }"#,
                json!({}),
            )
            .await
    }
}

/// Pairs a kiosk at `location`; returns its id and token.
async fn pair_kiosk(app: &TestApp, admin: &str, location: &str) -> (String, String) {
    let data = app
        .ok(
            admin,
            "mutation($l: ID!){ createKioskPairingCode(locationId:$l){ code } }",
            json!({"l": location}),
        )
        .await;
    let code = data["createKioskPairingCode"]["code"].as_str().unwrap();
    let body = app
        .gql(
            None,
            "mutation($c: String!){ pairKiosk(code:$c, name:\"Lobby\"){ token kiosk { id } } }",
            json!({"c": code}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    (
        body["data"]["pairKiosk"]["kiosk"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        body["data"]["pairKiosk"]["token"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// Every Visitor permission but `perm`.
fn all_but(perm: &str) -> Vec<&'static str> {
    ALL_VISITOR.iter().copied().filter(|p| *p != perm).collect()
}

/// Who runs a case.
#[derive(Debug)]
enum Who {
    /// A staff user with exactly these permissions.
    Staff(&'static [&'static str]),
    /// A staff user with every Visitor permission but this one.
    AllBut(&'static str),
    /// The fixture's kiosk.
    Kiosk,
}

/// What a case expects.
#[derive(Debug)]
enum Expect {
    /// No errors; these pointers have values.
    Allowed(&'static [&'static str]),
    /// No errors; these pointers exist (null by nature).
    AllowedNull(&'static [&'static str]),
    /// These (path suffix, permission) are denied; these pointers are still served.
    Denied(
        &'static [(&'static str, Option<&'static str>)],
        &'static [&'static str],
    ),
}

async fn run_cases(f: &Fixture, cases: &[(Who, &str, Expect)]) {
    for (who, query, expect) in cases {
        let body = f.run(who, query).await;
        eprintln!("{who:?} {query}");
        match expect {
            Expect::Allowed(pointers) => assert_allowed(&body, pointers),
            Expect::AllowedNull(pointers) => assert_allowed_null(&body, pointers),
            Expect::Denied(denied, served) => assert_denied(&body, denied, served),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Root query fields

/// (field, selection, permission it needs: `None` = any `visitor.*`).
const ROOT_FIELDS: &[(&str, &str, Option<&str>)] = &[
    ("locations", "locations { id name }", None),
    ("location", "location(id: %LOC%) { id name }", None),
    (
        "hosts",
        "hosts { totalCount edges { node { id name } } }",
        Some(HOSTS_VIEW),
    ),
    ("visits", "visits { totalCount }", Some(VIEW)),
    ("visit", "visit(id: %VISIT%) { id status }", Some(VIEW)),
    ("visitor", "visitor(id: %VISITOR%) { id name }", Some(VIEW)),
    ("badges", "badges { id number status }", Some(BADGES)),
    (
        "preRegistrations",
        "preRegistrations { id status }",
        Some(PREREG),
    ),
    ("kiosks", "kiosks { id name }", Some(KIOSK)),
    (
        "visitReport",
        "visitReport(from: %FROM%, to: %TO%) { total }",
        Some(REPORTS_VIEW),
    ),
    (
        "visitorSettings",
        "visitorSettings { retentionDays }",
        Some(SETTINGS),
    ),
    ("auditLog", "auditLog { totalCount }", Some(SETTINGS)),
];

on_every_backend!(
    root_fields_are_allowed_with_their_permission_and_denied_without_it,
    |app| {
        let f = Fixture::new(app).await;
        for (field, selection, permission) in ROOT_FIELDS {
            let query = format!("{{ me {{ kind }} {selection} }}");
            let field_ptr = format!("/{field}");
            match permission {
                Some(permission) => {
                    // Exactly the permission: served.
                    let token = f.staff(&[permission]).await;
                    let body = f.app.gql(Some(&token), &f.fill(&query), json!({})).await;
                    assert_allowed(&body, &["/me/kind", &field_ptr]);
                    // Everything but the permission: the field is null, `me` is still served.
                    let token = f.staff(&all_but(permission)).await;
                    let body = f.app.gql(Some(&token), &f.fill(&query), json!({})).await;
                    assert_denied(&body, &[(field, Some(permission))], &["/me/kind"]);
                    assert_eq!(body["data"]["me"]["kind"], "STAFF");
                    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
                    assert_eq!(body["errors"][0]["path"], json!([field]), "{body}");
                }
                None => {
                    // Any single Visitor permission opens locations.
                    for single in ALL_VISITOR {
                        let token = f.staff(&[single]).await;
                        let body = f.app.gql(Some(&token), &f.fill(&query), json!({})).await;
                        assert_allowed(&body, &["/me/kind", &field_ptr]);
                    }
                    // A staff user with no Visitor permission: FORBIDDEN, without a single
                    // permission to name (any `visitor.*` would do).
                    let token = f.staff(&[]).await;
                    let body = f.app.gql(Some(&token), &f.fill(&query), json!({})).await;
                    assert_denied(&body, &[(field, None)], &["/me/kind"]);
                }
            }
        }
    }
);

on_every_backend!(
    denied_root_fields_leave_the_rest_of_the_response_served,
    |app| {
        let f = Fixture::new(app).await;
        // The brief's own example: without visitors.view, `me` is served and `visits` is null.
        let token = f.staff(&[HOSTS_VIEW, BADGES]).await;
        let body = f
        .app
        .gql(
            Some(&token),
            "{ me { kind permissions } visits { totalCount } hosts { totalCount } badges { number } visitorSettings { retentionDays } }",
            json!({}),
        )
        .await;
        assert_eq!(body["data"]["me"]["kind"], "STAFF", "{body}");
        assert_eq!(
            body["data"]["me"]["permissions"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(body["data"]["hosts"]["totalCount"], 1, "{body}");
        assert_eq!(body["data"]["badges"].as_array().map(Vec::len), Some(3));
        assert_denied(
            &body,
            &[("visits", Some(VIEW)), ("visitorSettings", Some(SETTINGS))],
            &["/me/kind", "/hosts/totalCount", "/badges/0/number"],
        );
    }
);

on_every_backend!(
    kiosks_reach_their_location_and_directory_and_nothing_else,
    |app| {
        let f = Fixture::new(app).await;
        for (field, selection, permission) in ROOT_FIELDS {
            let body = f
                .run(&Who::Kiosk, &format!("{{ me {{ kind }} {selection} }}"))
                .await;
            assert_eq!(body["data"]["me"]["kind"], "KIOSK", "{body}");
            match *field {
                "locations" | "location" | "hosts" => {
                    assert_allowed(&body, &[&format!("/{field}")]);
                }
                _ => assert_denied(&body, &[(field, *permission)], &["/me/kind"]),
            }
        }
        // Another location of its own tenant is not the kiosk's: null without an error.
        let body = f
            .run(&Who::Kiosk, "{ location(id: %OTHER_LOC%) { id } }")
            .await;
        assert_allowed_null(&body, &["/location"]);
        assert_eq!(body["data"]["location"], Value::Null);
    }
);

on_every_backend!(no_principal_is_unauthenticated_on_every_root_field, |app| {
    let f = Fixture::new(app).await;
    let mut query = String::from("{ me { kind } ");
    for (_, selection, _) in ROOT_FIELDS {
        query.push_str(selection);
        query.push(' ');
    }
    query.push('}');
    let query = f.fill(&query);
    for token in [
        None,
        Some("ogs_not-a-session"),
        Some("ogk_not-a-kiosk"),
        Some("garbage"),
    ] {
        let body = f.app.gql(token, &query, json!({})).await;
        assert_unauthenticated(&body, "me");
        for (field, _, _) in ROOT_FIELDS {
            assert_unauthenticated(&body, field);
        }
        assert_eq!(
            body["errors"].as_array().map(Vec::len),
            Some(ROOT_FIELDS.len() + 1),
            "{body}"
        );
    }
});

// ---------------------------------------------------------------------------------------
// Nested fields through queries

on_every_backend!(nested_fields_through_queries, |app| {
    let f = Fixture::new(app).await;
    let cases: Vec<(Who, &str, Expect)> = vec![
        // --- Location.currentVisits: visitors.view -------------------------------------
        (
            Who::Staff(&[VIEW]),
            "{ location(id: %LOC%) { currentVisits { id } } }",
            Expect::Allowed(&["/location/currentVisits/0/id"]),
        ),
        (
            Who::Staff(&[VIEW]),
            "{ locations { name currentVisits { id } } }",
            Expect::Allowed(&["/locations/0/currentVisits/0/id"]),
        ),
        (
            Who::Staff(&[VIEW]),
            "{ visits { edges { node { location { currentVisits { id } } } } } }",
            Expect::Allowed(&["/visits/edges/0/node/location/currentVisits/0/id"]),
        ),
        (
            Who::AllBut(VIEW),
            "{ location(id: %LOC%) { name currentVisits { id } } }",
            Expect::Denied(&[("currentVisits", Some(VIEW))], &["/location/name"]),
        ),
        (
            Who::Staff(&[REPORTS_VIEW]),
            "{ locations { name currentVisits { id } } }",
            Expect::Denied(&[("currentVisits", Some(VIEW))], &["/locations/0/name"]),
        ),
        (
            Who::Staff(&[BADGES]),
            "{ badges { number location { name currentVisits { id } } } }",
            Expect::Denied(
                &[("currentVisits", Some(VIEW))],
                &["/badges/0/number", "/badges/0/location/name"],
            ),
        ),
        (
            Who::Staff(&[HOSTS_VIEW]),
            "{ hosts { edges { node { name location { name currentVisits { id } } } } } }",
            Expect::Denied(
                &[("currentVisits", Some(VIEW))],
                &["/hosts/edges/0/node/location/name"],
            ),
        ),
        (
            Who::Staff(&[KIOSK]),
            "{ kiosks { name location { name currentVisits { id } } } }",
            Expect::Denied(
                &[("currentVisits", Some(VIEW))],
                &["/kiosks/0/location/name"],
            ),
        ),
        (
            Who::Kiosk,
            "{ locations { name currentVisits { id } } }",
            Expect::Denied(&[("currentVisits", Some(VIEW))], &["/locations/0/name"]),
        ),
        // --- Location.kiosks: admin.kiosk ---------------------------------------------
        (
            Who::Staff(&[KIOSK]),
            "{ location(id: %LOC%) { kiosks { id } } }",
            Expect::Allowed(&["/location/kiosks/0/id"]),
        ),
        (
            Who::Staff(&[KIOSK]),
            "{ kiosks { location { kiosks { id name } } } }",
            Expect::Allowed(&["/kiosks/0/location/kiosks/0/name"]),
        ),
        (
            Who::AllBut(KIOSK),
            "{ locations { name kiosks { id } } }",
            Expect::Denied(&[("kiosks", Some(KIOSK))], &["/locations/0/name"]),
        ),
        (
            Who::Staff(&[VIEW]),
            "{ visit(id: %VISIT%) { id location { name kiosks { id } } } }",
            Expect::Denied(&[("kiosks", Some(KIOSK))], &["/visit/location/name"]),
        ),
        (
            Who::Kiosk,
            "{ location(id: %LOC%) { name kiosks { id } } }",
            Expect::Denied(&[("kiosks", Some(KIOSK))], &["/location/name"]),
        ),
        // --- Visitor.visits: visitors.view --------------------------------------------
        (
            Who::Staff(&[VIEW]),
            "{ visitor(id: %VISITOR%) { visits { id } } }",
            Expect::Allowed(&["/visitor/visits/0/id"]),
        ),
        (
            Who::Staff(&[VIEW]),
            "{ visit(id: %VISIT%) { visitor { visits { id } } } }",
            Expect::Allowed(&["/visit/visitor/visits/0/id"]),
        ),
        (
            Who::Staff(&[VIEW]),
            "{ visits { edges { node { visitor { visits { id } } } } } }",
            Expect::Allowed(&["/visits/edges/0/node/visitor/visits/0/id"]),
        ),
        (
            Who::Staff(&[PREREG]),
            "{ preRegistrations { id visitor { name visits { id } } } }",
            Expect::Denied(
                &[("visits", Some(VIEW))],
                &["/preRegistrations/0/visitor/name"],
            ),
        ),
        (
            Who::AllBut(VIEW),
            "{ preRegistrations { id visitor { name visits { id } } } }",
            Expect::Denied(
                &[("visits", Some(VIEW))],
                &["/preRegistrations/0/visitor/name"],
            ),
        ),
        // --- Visitor.email / Visitor.phone: visitors.view ------------------------------
        (
            Who::Staff(&[VIEW]),
            "{ visitor(id: %VISITOR%) { email phone } }",
            Expect::Allowed(&["/visitor/email", "/visitor/phone"]),
        ),
        (
            Who::Staff(&[VIEW]),
            "{ visit(id: %VISIT%) { visitor { email phone } } }",
            Expect::Allowed(&["/visit/visitor/email", "/visit/visitor/phone"]),
        ),
        (
            Who::Staff(&[VIEW]),
            "{ visits(filter: {search: \"grace\"}) { edges { node { visitor { email phone } } } } }",
            Expect::Allowed(&[
                "/visits/edges/0/node/visitor/email",
                "/visits/edges/0/node/visitor/phone",
            ]),
        ),
        (
            Who::Staff(&[VIEW]),
            "{ badges { currentVisit { visitor { email } } } }",
            Expect::Denied(&[("badges", Some(BADGES))], &[]),
        ),
        (
            Who::Staff(&[VIEW, BADGES]),
            "{ badges(status: ASSIGNED) { currentVisit { visitor { email phone } } } }",
            Expect::Allowed(&[
                "/badges/0/currentVisit/visitor/email",
                "/badges/0/currentVisit/visitor/phone",
            ]),
        ),
        (
            Who::Staff(&[PREREG]),
            "{ preRegistrations { visitor { name email phone } } }",
            Expect::Denied(
                &[("email", Some(VIEW)), ("phone", Some(VIEW))],
                &["/preRegistrations/0/visitor/name"],
            ),
        ),
        (
            Who::AllBut(VIEW),
            "{ preRegistrations { visitor { name email phone } } }",
            Expect::Denied(
                &[("email", Some(VIEW)), ("phone", Some(VIEW))],
                &["/preRegistrations/0/visitor/name"],
            ),
        ),
        (
            Who::Staff(&[PREREG, VIEW]),
            "{ preRegistrations { visitor { email phone } } }",
            Expect::Allowed(&[
                "/preRegistrations/0/visitor/email",
                "/preRegistrations/0/visitor/phone",
            ]),
        ),
        // --- Visitor.aiRiskScore / aiRiskNotes: admin.settings (null until scored) -------
        (
            Who::Staff(&[VIEW, SETTINGS]),
            "{ visitor(id: %VISITOR%) { aiRiskScore aiRiskNotes } }",
            Expect::AllowedNull(&["/visitor/aiRiskScore", "/visitor/aiRiskNotes"]),
        ),
        (
            Who::Staff(&[VIEW, SETTINGS]),
            "{ visits { edges { node { visitor { aiRiskScore aiRiskNotes } } } } }",
            Expect::AllowedNull(&[
                "/visits/edges/0/node/visitor/aiRiskScore",
                "/visits/edges/0/node/visitor/aiRiskNotes",
            ]),
        ),
        (
            Who::Staff(&[PREREG, SETTINGS]),
            "{ preRegistrations { visitor { aiRiskScore aiRiskNotes } } }",
            Expect::AllowedNull(&[
                "/preRegistrations/0/visitor/aiRiskScore",
                "/preRegistrations/0/visitor/aiRiskNotes",
            ]),
        ),
        (
            Who::AllBut(SETTINGS),
            "{ visitor(id: %VISITOR%) { name aiRiskScore aiRiskNotes } }",
            Expect::Denied(
                &[
                    ("aiRiskScore", Some(SETTINGS)),
                    ("aiRiskNotes", Some(SETTINGS)),
                ],
                &["/visitor/name"],
            ),
        ),
        (
            Who::Staff(&[VIEW]),
            "{ visits { edges { node { id visitor { name aiRiskScore aiRiskNotes } } } } }",
            Expect::Denied(
                &[
                    ("aiRiskScore", Some(SETTINGS)),
                    ("aiRiskNotes", Some(SETTINGS)),
                ],
                &[
                    "/visits/edges/0/node/visitor/name",
                    "/visits/edges/1/node/id",
                ],
            ),
        ),
        (
            Who::Staff(&[PREREG]),
            "{ preRegistrations { visitor { name aiRiskScore aiRiskNotes } } }",
            Expect::Denied(
                &[
                    ("aiRiskScore", Some(SETTINGS)),
                    ("aiRiskNotes", Some(SETTINGS)),
                ],
                &["/preRegistrations/0/visitor/name"],
            ),
        ),
        // --- Host.email / Host.phone: hosts.view ---------------------------------------
        (
            Who::Staff(&[HOSTS_VIEW]),
            "{ hosts { edges { node { email phone } } } }",
            Expect::Allowed(&["/hosts/edges/0/node/email", "/hosts/edges/0/node/phone"]),
        ),
        (
            Who::Staff(&[VIEW, HOSTS_VIEW]),
            "{ visit(id: %VISIT%) { host { email phone } } }",
            Expect::Allowed(&["/visit/host/email", "/visit/host/phone"]),
        ),
        (
            Who::Staff(&[PREREG, HOSTS_VIEW]),
            "{ preRegistrations { host { email phone } } }",
            Expect::Allowed(&[
                "/preRegistrations/0/host/email",
                "/preRegistrations/0/host/phone",
            ]),
        ),
        (
            Who::AllBut(HOSTS_VIEW),
            "{ visit(id: %VISIT%) { host { name email phone } } }",
            Expect::Denied(
                &[("email", Some(HOSTS_VIEW)), ("phone", Some(HOSTS_VIEW))],
                &["/visit/host/name"],
            ),
        ),
        (
            Who::Staff(&[VIEW]),
            "{ visits { edges { node { host { name email phone } } } } }",
            Expect::Denied(
                &[("email", Some(HOSTS_VIEW)), ("phone", Some(HOSTS_VIEW))],
                &["/visits/edges/1/node/host/name"],
            ),
        ),
        (
            Who::Staff(&[PREREG]),
            "{ preRegistrations { host { name email phone } } }",
            Expect::Denied(
                &[("email", Some(HOSTS_VIEW)), ("phone", Some(HOSTS_VIEW))],
                &["/preRegistrations/0/host/name"],
            ),
        ),
        (
            Who::Kiosk,
            "{ hosts { edges { node { name email phone } } } }",
            Expect::Denied(
                &[("email", Some(HOSTS_VIEW)), ("phone", Some(HOSTS_VIEW))],
                &["/hosts/edges/0/node/name"],
            ),
        ),
        // --- Badge.currentVisit: visitors.view -----------------------------------------
        (
            Who::Staff(&[BADGES, VIEW]),
            "{ badges(status: ASSIGNED) { currentVisit { id } } }",
            Expect::Allowed(&["/badges/0/currentVisit/id"]),
        ),
        (
            Who::Staff(&[VIEW]),
            "{ visit(id: %VISIT%) { badge { currentVisit { id } } } }",
            Expect::Allowed(&["/visit/badge/currentVisit/id"]),
        ),
        (
            Who::AllBut(VIEW),
            "{ badges(status: ASSIGNED) { number currentVisit { id } } }",
            Expect::Denied(&[("currentVisit", Some(VIEW))], &["/badges/0/number"]),
        ),
        (
            Who::Staff(&[BADGES]),
            "{ badges { number currentVisit { id } } }",
            Expect::Denied(&[("currentVisit", Some(VIEW))], &["/badges/2/number"]),
        ),
    ];
    run_cases(&f, &cases).await;

    // The values behind the allowed paths are the fixture's.
    let body = f
        .run(
            &Who::Staff(&[VIEW, HOSTS_VIEW]),
            "{ visit(id: %VISIT%) { visitor { email phone } host { email phone } badge { currentVisit { id } } } }",
        )
        .await;
    assert_allowed(&body, &[]);
    let visit = &body["data"]["visit"];
    assert_eq!(visit["visitor"]["email"], "grace@example.com");
    assert_eq!(visit["visitor"]["phone"], "+1 555 0100");
    assert_eq!(visit["host"]["email"], "ada@example.com");
    assert_eq!(visit["host"]["phone"], "+44 20 7946 0000");
    assert_eq!(visit["badge"]["currentVisit"]["id"], f.visit.as_str());
});

// ---------------------------------------------------------------------------------------
// Nested fields through mutation results

on_every_backend!(nested_fields_through_mutation_results, |app| {
    let f = Fixture::new(app).await;
    const CHECK_IN_RESULT: &str = "{ id status visitor { name email phone aiRiskScore aiRiskNotes visits { id } } \
        location { name currentVisits { id } kiosks { id } } host { name email phone } \
        badge { number currentVisit { id } } }";

    // Only checkin (a badge may be named with checkin alone): the visit is served, every
    // guarded field below it is denied.
    let body = f
        .run(
            &Who::Staff(&[CHECKIN]),
            &format!(
                r#"mutation {{ checkInVisitor(input: {{locationId: %LOC%, hostId: %HOST%, badgeId: %SPARE%,
                    visitor: {{name: "Checkin Only", email: "co@example.com", phone: "+1 555 0111"}}}}) {CHECK_IN_RESULT} }}"#
            ),
        )
        .await;
    assert_denied(
        &body,
        &[
            ("visitor/email", Some(VIEW)),
            ("visitor/phone", Some(VIEW)),
            ("visitor/aiRiskScore", Some(SETTINGS)),
            ("visitor/aiRiskNotes", Some(SETTINGS)),
            ("visitor/visits", Some(VIEW)),
            ("location/currentVisits", Some(VIEW)),
            ("location/kiosks", Some(KIOSK)),
            ("host/email", Some(HOSTS_VIEW)),
            ("host/phone", Some(HOSTS_VIEW)),
            ("badge/currentVisit", Some(VIEW)),
        ],
        &[
            "/checkInVisitor/id",
            "/checkInVisitor/visitor/name",
            "/checkInVisitor/location/name",
            "/checkInVisitor/host/name",
            "/checkInVisitor/badge/number",
        ],
    );
    assert_eq!(body["data"]["checkInVisitor"]["status"], "CHECKED_IN");

    // With the permissions each field needs: all served.
    let body = f
        .run(
            &Who::Staff(&[CHECKIN, VIEW, SETTINGS, KIOSK, HOSTS_VIEW]),
            &format!(
                r#"mutation {{ checkInVisitor(input: {{locationId: %LOC%, hostId: %HOST%, badgeId: %SPARE2%,
                    visitor: {{name: "Checkin Plus", email: "cp@example.com", phone: "+1 555 0112"}}}}) {CHECK_IN_RESULT} }}"#
            ),
        )
        .await;
    assert_allowed(
        &body,
        &[
            "/checkInVisitor/visitor/email",
            "/checkInVisitor/visitor/phone",
            "/checkInVisitor/visitor/visits/0/id",
            "/checkInVisitor/location/currentVisits/0/id",
            "/checkInVisitor/location/kiosks/0/id",
            "/checkInVisitor/host/email",
            "/checkInVisitor/host/phone",
            "/checkInVisitor/badge/currentVisit/id",
        ],
    );
    let visit = &body["data"]["checkInVisitor"];
    assert_eq!(visit["visitor"]["email"], "cp@example.com");
    assert_eq!(visit["badge"]["currentVisit"]["id"], visit["id"]);

    // A kiosk's check-in result: the visit, not the visitor's contact details.
    let body = f
        .run(
            &Who::Kiosk,
            r#"mutation { checkInVisitor(input: {locationId: %LOC%, hostId: %HOST%,
                visitor: {name: "Kiosk Guest", email: "kg@example.com", phone: "+1 555 0113"}}) {
                id source visitor { name email phone visits { id } }
                location { name currentVisits { id } kiosks { id } } host { name email phone } } }"#,
        )
        .await;
    assert_denied(
        &body,
        &[
            ("visitor/email", Some(VIEW)),
            ("visitor/phone", Some(VIEW)),
            ("visitor/visits", Some(VIEW)),
            ("location/currentVisits", Some(VIEW)),
            ("location/kiosks", Some(KIOSK)),
            ("host/email", Some(HOSTS_VIEW)),
            ("host/phone", Some(HOSTS_VIEW)),
        ],
        &[
            "/checkInVisitor/id",
            "/checkInVisitor/visitor/name",
            "/checkInVisitor/host/name",
        ],
    );
    assert_eq!(body["data"]["checkInVisitor"]["source"], "KIOSK");
    let kiosk_visit = body["data"]["checkInVisitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The kiosk checks its visit out; the result is guarded the same way.
    let body = f
        .app
        .gql(
            Some(&f.kiosk_token),
            "mutation($v: ID!){ checkOutVisitor(visitId: $v){ status visitor { name email } } }",
            json!({"v": kiosk_visit}),
        )
        .await;
    assert_denied(
        &body,
        &[("visitor/email", Some(VIEW))],
        &["/checkOutVisitor/status", "/checkOutVisitor/visitor/name"],
    );

    // checkOutVisitor with checkout only.
    let body = f
        .run(
            &Who::Staff(&[CHECKOUT]),
            "mutation { checkOutVisitor(visitId: %VISIT2%) { status visitor { name email phone } location { name currentVisits { id } } } }",
        )
        .await;
    assert_denied(
        &body,
        &[
            ("visitor/email", Some(VIEW)),
            ("visitor/phone", Some(VIEW)),
            ("location/currentVisits", Some(VIEW)),
        ],
        &["/checkOutVisitor/status", "/checkOutVisitor/location/name"],
    );
    assert_eq!(body["data"]["checkOutVisitor"]["status"], "CHECKED_OUT");

    // preRegisterVisitor with preregister only: the code is served, contact details not.
    let body = f
        .run(
            &Who::Staff(&[PREREG]),
            r#"mutation { preRegisterVisitor(input: {locationId: %LOC%, hostId: %HOST%, expectedAt: %SOON%,
                visitor: {name: "Pre Person", email: "pp@example.com", phone: "+1 555 0114"}}) {
                id code visitor { name email phone aiRiskScore visits { id } } host { name email phone }
                location { name currentVisits { id } kiosks { id } } } }"#,
        )
        .await;
    assert_denied(
        &body,
        &[
            ("visitor/email", Some(VIEW)),
            ("visitor/phone", Some(VIEW)),
            ("visitor/aiRiskScore", Some(SETTINGS)),
            ("visitor/visits", Some(VIEW)),
            ("host/email", Some(HOSTS_VIEW)),
            ("host/phone", Some(HOSTS_VIEW)),
            ("location/currentVisits", Some(VIEW)),
            ("location/kiosks", Some(KIOSK)),
        ],
        &[
            "/preRegisterVisitor/code",
            "/preRegisterVisitor/visitor/name",
            "/preRegisterVisitor/host/name",
        ],
    );

    // addBadge with badges.manage only.
    let body = f
        .run(
            &Who::Staff(&[BADGES]),
            r#"mutation { addBadge(locationId: %LOC%, number: "N-1") { id number currentVisit { id }
                location { name currentVisits { id } kiosks { id } } } }"#,
        )
        .await;
    assert_denied(
        &body,
        &[
            ("currentVisit", Some(VIEW)),
            ("currentVisits", Some(VIEW)),
            ("kiosks", Some(KIOSK)),
        ],
        &["/addBadge/number", "/addBadge/location/name"],
    );
    let new_badge = body["data"]["addBadge"]["id"].as_str().unwrap().to_owned();

    // assignBadge / returnBadge with badges.manage only: the badge, not whom it is on.
    let open = f.app.check_in(&f.admin, &f.loc, "Needs A Badge").await;
    let token = f.staff(&[BADGES]).await;
    let body = f
        .app
        .gql(
            Some(&token),
            "mutation($b: ID!, $v: ID!){ assignBadge(badgeId: $b, visitId: $v){ status currentVisit { id visitor { email } } } }",
            json!({"b": new_badge, "v": open}),
        )
        .await;
    assert_denied(
        &body,
        &[("currentVisit", Some(VIEW))],
        &["/assignBadge/status"],
    );
    assert_eq!(body["data"]["assignBadge"]["status"], "ASSIGNED");
    let token = f.staff(&[BADGES, VIEW]).await;
    let body = f
        .app
        .gql(
            Some(&token),
            "query($v: ID!){ visit(id: $v){ badge { status currentVisit { id } } } }",
            json!({"v": open}),
        )
        .await;
    assert_allowed(&body, &["/visit/badge/currentVisit/id"]);
    let token = f.staff(&[BADGES]).await;
    let body = f
        .app
        .gql(
            Some(&token),
            "mutation($b: ID!){ returnBadge(badgeId: $b){ status currentVisit { id } } }",
            json!({"b": new_badge}),
        )
        .await;
    assert_denied(
        &body,
        &[("currentVisit", Some(VIEW))],
        &["/returnBadge/status"],
    );

    // createLocation / updateLocation with locations.manage only.
    let body = f
        .run(
            &Who::Staff(&[LOCATIONS]),
            r#"mutation { createLocation(input: {name: "Gamma"}) { id name currentVisits { id } kiosks { id } } }"#,
        )
        .await;
    assert_denied(
        &body,
        &[("currentVisits", Some(VIEW)), ("kiosks", Some(KIOSK))],
        &["/createLocation/id", "/createLocation/name"],
    );
    let body = f
        .run(
            &Who::Staff(&[LOCATIONS]),
            r#"mutation { updateLocation(id: %LOC%, input: {address: "1 Main St"}) { address currentVisits { id } } }"#,
        )
        .await;
    assert_denied(
        &body,
        &[("currentVisits", Some(VIEW))],
        &["/updateLocation/address"],
    );

    // createHost / updateHost with hosts.manage only: the host's contact details need
    // hosts.view even right after setting them.
    let body = f
        .run(
            &Who::Staff(&[HOSTS_MANAGE]),
            r#"mutation { createHost(input: {name: "New Host", email: "nh@example.com", phone: "+1 555 0115",
                locationId: %LOC%}) { id name email phone location { name currentVisits { id } } } }"#,
        )
        .await;
    assert_denied(
        &body,
        &[
            ("email", Some(HOSTS_VIEW)),
            ("phone", Some(HOSTS_VIEW)),
            ("currentVisits", Some(VIEW)),
        ],
        &["/createHost/id", "/createHost/location/name"],
    );
    let body = f
        .run(
            &Who::Staff(&[HOSTS_MANAGE, HOSTS_VIEW]),
            r#"mutation { updateHost(id: %HOST%, input: {phone: "+1 555 0116"}) { email phone } }"#,
        )
        .await;
    assert_allowed(&body, &["/updateHost/email", "/updateHost/phone"]);
    assert_eq!(body["data"]["updateHost"]["phone"], "+1 555 0116");
    let body = f
        .run(
            &Who::Staff(&[HOSTS_MANAGE]),
            r#"mutation { updateHost(id: %HOST%, input: {department: "Ops"}) { department email } }"#,
        )
        .await;
    assert_denied(
        &body,
        &[("email", Some(HOSTS_VIEW))],
        &["/updateHost/department"],
    );

    // createKioskPairingCode with admin.kiosk only: the location's kiosks yes, visits no.
    let body = f
        .run(
            &Who::Staff(&[KIOSK]),
            "mutation { createKioskPairingCode(locationId: %LOC%) { code location { name kiosks { id } currentVisits { id } } } }",
        )
        .await;
    assert_denied(
        &body,
        &[("currentVisits", Some(VIEW))],
        &[
            "/createKioskPairingCode/code",
            "/createKioskPairingCode/location/kiosks/0/id",
        ],
    );
    let code = body["data"]["createKioskPairingCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();

    // pairKiosk needs no session, but its result's guarded fields need a principal.
    let body = f
        .app
        .gql(
            None,
            "mutation($c: String!){ pairKiosk(code: $c, name: \"Side door\"){ token kiosk { name location { name kiosks { id } currentVisits { id } } } } }",
            json!({"c": code}),
        )
        .await;
    present(&body, "/pairKiosk/token");
    present(&body, "/pairKiosk/kiosk/location/name");
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{body}");
    for error in errors {
        assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{body}");
        assert_eq!(
            body["data"].pointer(&pointer(&error["path"])),
            Some(&Value::Null)
        );
    }

    // revokeKiosk with admin.kiosk only.
    let body = f
        .run(
            &Who::Staff(&[KIOSK]),
            "mutation { revokeKiosk(id: %KIOSK%) { revoked location { kiosks { id } currentVisits { id } } } }",
        )
        .await;
    assert_denied(
        &body,
        &[("currentVisits", Some(VIEW))],
        &["/revokeKiosk/revoked", "/revokeKiosk/location/kiosks/0/id"],
    );
});

// ---------------------------------------------------------------------------------------
// Mutations

/// (field, mutation, permission it needs). Placeholders name objects in states where the
/// mutation would succeed.
const MUTATIONS: &[(&str, &str, &str)] = &[
    (
        "checkInVisitor",
        r#"mutation { checkInVisitor(input: {locationId: %LOC%, visitor: {name: "Denied Visitor"}}) { id } }"#,
        CHECKIN,
    ),
    (
        "preRegisterVisitor",
        r#"mutation { preRegisterVisitor(input: {locationId: %LOC%, expectedAt: %SOON%, visitor: {name: "Denied"}}) { id code } }"#,
        PREREG,
    ),
    (
        "cancelPreRegistration",
        "mutation { cancelPreRegistration(id: %PRE%) { id status } }",
        PREREG,
    ),
    (
        "createLocation",
        r#"mutation { createLocation(input: {name: "Denied Place", timezone: "Europe/Paris"}) { id } }"#,
        LOCATIONS,
    ),
    (
        "updateLocation",
        r#"mutation { updateLocation(id: %LOC%, input: {name: "Renamed"}) { id name } }"#,
        LOCATIONS,
    ),
    (
        "archiveLocation",
        "mutation { archiveLocation(id: %OTHER_LOC%) { id archived } }",
        LOCATIONS,
    ),
    (
        "createHost",
        r#"mutation { createHost(input: {name: "Denied Host"}) { id } }"#,
        HOSTS_MANAGE,
    ),
    (
        "updateHost",
        r#"mutation { updateHost(id: %HOST%, input: {name: "Renamed Host"}) { id name } }"#,
        HOSTS_MANAGE,
    ),
    (
        "removeHost",
        "mutation { removeHost(id: %HOST%) }",
        HOSTS_MANAGE,
    ),
    (
        "addBadge",
        r#"mutation { addBadge(locationId: %LOC%, number: "D-1") { id } }"#,
        BADGES,
    ),
    (
        "assignBadge",
        "mutation { assignBadge(badgeId: %SPARE%, visitId: %VISIT2%) { id status } }",
        BADGES,
    ),
    (
        "returnBadge",
        "mutation { returnBadge(badgeId: %BADGE%) { id status } }",
        BADGES,
    ),
    (
        "retireBadge",
        "mutation { retireBadge(badgeId: %SPARE2%) { id status } }",
        BADGES,
    ),
    (
        "createKioskPairingCode",
        "mutation { createKioskPairingCode(locationId: %LOC%) { code } }",
        KIOSK,
    ),
    (
        "revokeKiosk",
        "mutation { revokeKiosk(id: %KIOSK%) { id revoked } }",
        KIOSK,
    ),
    (
        "updateVisitorSettings",
        "mutation { updateVisitorSettings(input: {requireHost: true, retentionDays: 30}) { requireHost } }",
        SETTINGS,
    ),
    // Last: checking the visit out also frees %BADGE%, which returnBadge needs assigned.
    (
        "checkOutVisitor",
        "mutation { checkOutVisitor(visitId: %VISIT%) { id } }",
        CHECKOUT,
    ),
];

/// The single denial of a mutation: its field is null with FORBIDDEN and the permission.
fn assert_mutation_denied(body: &Value, field: &str, permission: &str) {
    assert_denied(body, &[(field, Some(permission))], &[]);
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["errors"][0]["path"], json!([field]), "{body}");
    assert_eq!(body["data"], json!({ field: null }), "{body}");
}

on_every_backend!(
    every_mutation_is_denied_without_its_permission_and_changes_nothing,
    |app| {
        let f = Fixture::new(app).await;
        let before = f.snapshot().await;
        for (field, mutation, permission) in MUTATIONS {
            // A staff user with every other Visitor permission.
            let body = f.run(&Who::AllBut(permission), mutation).await;
            assert_mutation_denied(&body, field, permission);
            // A staff user with no Visitor permission at all.
            let body = f.run(&Who::Staff(&[]), mutation).await;
            assert_mutation_denied(&body, field, permission);
        }
        assert_eq!(
            f.snapshot().await,
            before,
            "a denied mutation changed something"
        );
    }
);

on_every_backend!(kiosks_may_only_check_in_and_out, |app| {
    let f = Fixture::new(app).await;
    let before = f.snapshot().await;
    for (field, mutation, permission) in MUTATIONS {
        if matches!(*field, "checkInVisitor" | "checkOutVisitor") {
            continue;
        }
        let body = f.run(&Who::Kiosk, mutation).await;
        assert_mutation_denied(&body, field, permission);
    }
    assert_eq!(
        f.snapshot().await,
        before,
        "a denied mutation changed something"
    );
    // Check-in at its location: allowed without any permission.
    let body = f
        .run(
            &Who::Kiosk,
            r#"mutation { checkInVisitor(input: {locationId: %LOC%, visitor: {name: "At The Kiosk"}}) { id source } }"#,
        )
        .await;
    assert_allowed(&body, &["/checkInVisitor/id"]);
    // A kiosk cannot hand out badges: that takes a staff user.
    let body = f
        .run(
            &Who::Kiosk,
            r#"mutation { checkInVisitor(input: {locationId: %LOC%, badgeId: %SPARE%, visitor: {name: "Badge Wanted"}}) { id } }"#,
        )
        .await;
    assert_mutation_denied(&body, "checkInVisitor", CHECKIN);
});

on_every_backend!(every_mutation_is_allowed_with_only_its_permission, |app| {
    let f = Fixture::new(app).await;
    // Run in the fixture's order: each leaves the next one's object in a valid state
    // (visit → checked out, badge → returned, spare2 → retired, host → removed, …).
    for (field, mutation, permission) in MUTATIONS {
        let token = f.staff(&[permission]).await;
        let body = f.app.gql(Some(&token), &f.fill(mutation), json!({})).await;
        assert!(
            body.get("errors").is_none(),
            "{field} with {permission}: {body}"
        );
        assert!(!body["data"][field].is_null(), "{field}: {body}");
    }
    // A kiosk paired with the pairing code of a single-permission admin works.
    let body = f
        .run(
            &Who::Staff(&[KIOSK]),
            "mutation { createKioskPairingCode(locationId: %LOC%) { code } }",
        )
        .await;
    let code = present(&body, "/createKioskPairingCode/code")
        .as_str()
        .unwrap();
    let body = f
        .app
        .gql(
            None,
            "mutation($c: String!){ pairKiosk(code: $c, name: \"Front\"){ token } }",
            json!({"c": code}),
        )
        .await;
    assert_allowed(&body, &["/pairKiosk/token"]);
    // The effects are visible to the admin.
    let snap = f.snapshot().await;
    let names: Vec<&str> = snap["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Renamed"), "{snap}");
    assert!(names.contains(&"Denied Place"), "{snap}");
    assert_eq!(snap["visitorSettings"]["requireHost"], true);
    assert_eq!(snap["visitorSettings"]["retentionDays"], 30);
    assert!(
        snap["kiosks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == f.kiosk.as_str() && k["revoked"] == true),
        "{snap}"
    );
    assert_eq!(
        snap["hosts"]["totalCount"], 1,
        "only the new host remains: {snap}"
    );
});

on_every_backend!(a_denied_mutation_does_not_stop_the_others, |app| {
    let f = Fixture::new(app).await;
    let body = f
        .run(
            &Who::Staff(&[LOCATIONS]),
            r#"mutation { createLocation(input: {name: "Served"}) { id name }
                          addBadge(locationId: %LOC%, number: "S-1") { id }
                          updateLocation(id: %LOC%, input: {address: "2 High St"}) { address } }"#,
        )
        .await;
    assert_denied(
        &body,
        &[("addBadge", Some(BADGES))],
        &["/createLocation/id", "/updateLocation/address"],
    );
    assert_eq!(body["data"]["createLocation"]["name"], "Served");
    assert_eq!(body["data"]["updateLocation"]["address"], "2 High St");
});

on_every_backend!(no_principal_is_unauthenticated_on_every_mutation, |app| {
    let f = Fixture::new(app).await;
    let before = f.snapshot().await;
    for (field, mutation, _) in MUTATIONS {
        for token in [None, Some("ogs_expired-or-unknown")] {
            let body = f.app.gql(token, &f.fill(mutation), json!({})).await;
            assert_unauthenticated(&body, field);
            assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
        }
    }
    assert_eq!(f.snapshot().await, before);
});
