//! The permission walk (CONTRACT section 2). The contract's permission table is kept below
//! as data ([`GUARDED`]), and every other field of the running schema is listed as
//! unguarded ([`UNGUARDED`]): a field in neither fails the walk until it is classified.
//! For each guard, a principal holding every permission but that one (a staff user for a
//! `visitor.*` permission, a client for a `portal.*` one) requests every field the guard
//! protects by every path the schema offers: the root field itself, and every field
//! guarded deeper down through every root field that reaches it and every field that leads
//! to its type (queries, mutations on objects of their own, and subscriptions over the
//! WebSocket with an event set off). Each answer is `null` for the field plus an `Access
//! Denied` error with `extensions.code = "FORBIDDEN"` and `extensions.permission` naming
//! the permission, and the rest of the response is served. Without a principal, every
//! guarded root field is `UNAUTHENTICATED`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Map, Value, json};

use super::schema::{Op, Root, Schema};
use super::world::{B_LABEL, Ids, Socket, World, portal_but, visitor_but};

/// What a field needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Guard {
    /// Any principal (`UNAUTHENTICATED` without one).
    Principal,
    /// A staff user with any `visitor.*` permission (or a kiosk): a refusal names no
    /// single permission.
    AnyVisitor,
    /// This permission.
    Perm(&'static str),
    /// Global search: a staff user with any `visitor.*` permission (visits need
    /// `visitor.visitors.view`), or an integration key; a refusal names no single
    /// permission.
    Search,
}

use Guard::{AnyVisitor, Perm, Principal, Search};

const VIEW: &str = "visitor.visitors.view";
const CHECKIN: &str = "visitor.visitors.checkin";
const CHECKOUT: &str = "visitor.visitors.checkout";
const PREREG: &str = "visitor.preregister.manage";
const HOSTS_VIEW: &str = "visitor.hosts.view";
const HOSTS_MANAGE: &str = "visitor.hosts.manage";
const BADGES: &str = "visitor.badges.manage";
const REPORTS: &str = "visitor.reports.view";
const LOCATIONS: &str = "visitor.locations.manage";
const SETTINGS: &str = "visitor.admin.settings";
const KIOSK: &str = "visitor.admin.kiosk";
const TICKETS_VIEW: &str = "portal.tickets.view";
const TICKETS_CREATE: &str = "portal.tickets.create";
const INVOICES: &str = "portal.invoices.view";
const SIGNING: &str = "portal.signing.sign";
const USERS: &str = "portal.users.manage";
const MISSION: &str = "portal.mission.view";
const PRAYER: &str = "portal.mission.prayer.submit";

/// CONTRACT section 2's table, one row per field of the schema. Rows of the contract whose
/// fields that are not built yet join when their fields do: the walk fails until they are
/// classified.
const GUARDED: &[(&str, Guard)] = &[
    ("Query.me", Principal),
    ("Query.locations", AnyVisitor),
    ("Query.location", AnyVisitor),
    ("Query.hosts", Perm(HOSTS_VIEW)),
    ("Query.visits", Perm(VIEW)),
    ("Query.visit", Perm(VIEW)),
    ("Query.visitor", Perm(VIEW)),
    ("Location.currentVisits", Perm(VIEW)),
    ("Visitor.visits", Perm(VIEW)),
    ("Badge.currentVisit", Perm(VIEW)),
    ("Subscription.visitorCheckedIn", Perm(VIEW)),
    ("Subscription.visitorCheckedOut", Perm(VIEW)),
    ("Visitor.email", Perm(VIEW)),
    ("Visitor.phone", Perm(VIEW)),
    ("Host.email", Perm(HOSTS_VIEW)),
    ("Host.phone", Perm(HOSTS_VIEW)),
    ("Visitor.aiRiskScore", Perm(SETTINGS)),
    ("Visitor.aiRiskNotes", Perm(SETTINGS)),
    ("Query.badges", Perm(BADGES)),
    ("Mutation.addBadge", Perm(BADGES)),
    ("Mutation.assignBadge", Perm(BADGES)),
    ("Mutation.returnBadge", Perm(BADGES)),
    ("Mutation.retireBadge", Perm(BADGES)),
    ("Query.preRegistrations", Perm(PREREG)),
    ("Mutation.preRegisterVisitor", Perm(PREREG)),
    ("Mutation.cancelPreRegistration", Perm(PREREG)),
    ("Query.kiosks", Perm(KIOSK)),
    ("Location.kiosks", Perm(KIOSK)),
    ("Mutation.createKioskPairingCode", Perm(KIOSK)),
    ("Mutation.revokeKiosk", Perm(KIOSK)),
    ("Query.visitReport", Perm(REPORTS)),
    ("Query.visitorSettings", Perm(SETTINGS)),
    ("Mutation.updateVisitorSettings", Perm(SETTINGS)),
    ("Query.auditLog", Perm(SETTINGS)),
    ("Query.integrationKeys", Perm(SETTINGS)),
    ("Query.integrationHealth", Perm(SETTINGS)),
    ("Mutation.createIntegrationKey", Perm(SETTINGS)),
    ("Mutation.revokeIntegrationKey", Perm(SETTINGS)),
    ("Mutation.runSync", Perm(SETTINGS)),
    ("Mutation.createLocation", Perm(LOCATIONS)),
    ("Mutation.updateLocation", Perm(LOCATIONS)),
    ("Mutation.archiveLocation", Perm(LOCATIONS)),
    ("Mutation.createHost", Perm(HOSTS_MANAGE)),
    ("Mutation.updateHost", Perm(HOSTS_MANAGE)),
    ("Mutation.removeHost", Perm(HOSTS_MANAGE)),
    ("Mutation.checkInVisitor", Perm(CHECKIN)),
    ("Mutation.checkOutVisitor", Perm(CHECKOUT)),
    ("Query.tickets", Perm(TICKETS_VIEW)),
    ("Query.ticket", Perm(TICKETS_VIEW)),
    ("Mutation.createTicket", Perm(TICKETS_CREATE)),
    ("Mutation.addTicketComment", Perm(TICKETS_CREATE)),
    ("Query.invoices", Perm(INVOICES)),
    ("Query.invoice", Perm(INVOICES)),
    ("Invoice.pdfUrl", Perm(INVOICES)),
    ("Query.signingRequests", Perm(SIGNING)),
    ("Mutation.signDocument", Perm(SIGNING)),
    ("Query.clientUsers", Perm(USERS)),
    ("Mutation.inviteClientUser", Perm(USERS)),
    ("Query.mission", Perm(MISSION)),
    ("Mutation.submitPrayerRequest", Perm(PRAYER)),
    ("Query.search", Search),
];

/// Every other field of the schema, by type: served to whoever reaches its parent (the
/// sign-in mutations and `pairKiosk` to anyone).
const UNGUARDED: &[(&str, &[&str])] = &[
    (
        "Acknowledgement",
        &["id", "signedAt", "signatureName", "contentSha256"],
    ),
    (
        "AuditEntry",
        &["id", "at", "actor", "action", "target", "details"],
    ),
    (
        "AuditEntryConnection",
        &["pageInfo", "edges", "nodes", "totalCount"],
    ),
    ("AuditEntryEdge", &["node", "cursor"]),
    ("Badge", &["id", "number", "location", "status"]),
    ("DirectoryEntry", &["memberId", "name", "email"]),
    ("Donation", &["id", "amount", "fund", "date", "method"]),
    ("DonationStats", &["total", "count", "byFund"]),
    ("FundTotal", &["fund", "total"]),
    ("CreatedIntegrationKey", &["key", "integrationKey"]),
    (
        "IntegrationKey",
        &["id", "name", "createdAt", "lastUsedAt", "revokedAt"],
    ),
    (
        "IntegrationStatus",
        &[
            "name",
            "configured",
            "missingSettings",
            "reachable",
            "lastSuccessAt",
            "lastError",
            "pendingOutbox",
            "deadOutbox",
        ],
    ),
    ("ClientUser", &["id", "email", "name", "role", "active"]),
    (
        "Host",
        &["id", "name", "department", "location", "visibleInDirectory"],
    ),
    (
        "HostConnection",
        &["pageInfo", "edges", "nodes", "totalCount"],
    ),
    ("HostEdge", &["node", "cursor"]),
    (
        "Invoice",
        &[
            "id", "number", "status", "total", "balance", "issuedAt", "dueAt",
        ],
    ),
    (
        "InvoiceConnection",
        &["pageInfo", "edges", "nodes", "totalCount"],
    ),
    ("InvoiceEdge", &["node", "cursor"]),
    (
        "Kiosk",
        &[
            "id",
            "name",
            "location",
            "pairedAt",
            "lastSeenAt",
            "revoked",
        ],
    ),
    ("KioskPairingCode", &["code", "expiresAt", "location"]),
    ("KioskSession", &["token", "kiosk"]),
    (
        "Location",
        &["id", "name", "address", "type", "timezone", "archived"],
    ),
    (
        "Mission",
        &[
            "donations",
            "donationStats",
            "events",
            "groups",
            "directory",
            "prayerRequests",
        ],
    ),
    (
        "MissionEvent",
        &["id", "title", "startsAt", "endsAt", "location"],
    ),
    (
        "MissionGroup",
        &["id", "name", "description", "memberCount"],
    ),
    ("Money", &["amount", "currency"]),
    (
        "Mutation",
        &[
            "loginWithHubSso",
            "logout",
            "pairKiosk",
            "login",
            "requestPasswordReset",
            "setPassword",
        ],
    ),
    (
        "PageInfo",
        &["hasPreviousPage", "hasNextPage", "startCursor", "endCursor"],
    ),
    (
        "PreRegistration",
        &[
            "id",
            "code",
            "visitor",
            "host",
            "location",
            "expectedAt",
            "status",
        ],
    ),
    ("PrayerRequest", &["id", "body", "isPrivate", "createdAt"]),
    ("Session", &["token", "expiresAt", "principal"]),
    (
        "SigningRequest",
        &[
            "id",
            "policyId",
            "version",
            "title",
            "documentUrl",
            "dueAt",
            "status",
            "acknowledgement",
        ],
    ),
    (
        "SyncRun",
        &["id", "job", "startedAt", "finishedAt", "ok", "summary"],
    ),
    ("Tenant", &["id", "name"]),
    (
        "Ticket",
        &[
            "id",
            "psaTicketId",
            "subject",
            "description",
            "status",
            "priority",
            "syncState",
            "syncError",
            "comments",
            "createdAt",
            "updatedAt",
        ],
    ),
    (
        "TicketComment",
        &["id", "author", "body", "createdAt", "fromPsa"],
    ),
    (
        "TicketConnection",
        &["pageInfo", "edges", "nodes", "totalCount"],
    ),
    ("TicketEdge", &["node", "cursor"]),
    ("User", &["id", "name", "email"]),
    (
        "Viewer",
        &["kind", "user", "tenant", "permissions", "hubUrl", "busUrl"],
    ),
    (
        "Visit",
        &[
            "id",
            "visitor",
            "location",
            "host",
            "badge",
            "status",
            "source",
            "preRegistration",
            "purpose",
            "checkedInAt",
            "checkedOutAt",
        ],
    ),
    (
        "VisitConnection",
        &["pageInfo", "edges", "nodes", "totalCount"],
    ),
    ("VisitEdge", &["node", "cursor"]),
    ("VisitReport", &["from", "to", "total", "days"]),
    ("VisitReportDay", &["date", "location", "checkIns"]),
    ("Visitor", &["id", "name", "company"]),
    (
        "VisitorSettings",
        &[
            "retentionDays",
            "requireHost",
            "requireBadge",
            "autoCheckoutAt",
        ],
    ),
];

/// The ways into the schema the walk requests fields by. Federation's `_entities` (issue
/// 12) joins as one more entry here, whose roots are the entity types reached by their
/// representations (`roots_of`).
#[derive(Debug, Clone, Copy)]
enum Entry {
    Operation(Op),
}

const ENTRIES: &[Entry] = &[
    Entry::Operation(Op::Query),
    Entry::Operation(Op::Mutation),
    Entry::Operation(Op::Subscription),
];

/// Root fields whose answers hold no object to reach these guarded fields through (so they
/// cannot be requested there): (root field, guarded fields, why).
const UNREACHABLE: &[(&str, &[&str], &str)] = &[
    (
        "Query.search",
        &[
            "Visitor.email",
            "Visitor.phone",
            "Visitor.visits",
            "Badge.currentVisit",
        ],
        "search finds visits only for visitor.visitors.view, which these fields need too: \
         a principal lacking it finds locations only, with no visit to reach them through",
    ),
    (
        "Mutation.createLocation",
        &[
            "Host.email",
            "Host.phone",
            "Visitor.aiRiskScore",
            "Visitor.aiRiskNotes",
        ],
        "a new location has no visits yet, so no host or visitor below it",
    ),
];

fn roots_of<'s>(schema: &'s Schema, entry: Entry) -> Vec<Root<'s>> {
    match entry {
        Entry::Operation(op) => schema
            .root_fields()
            .into_iter()
            .filter(|r| r.op == op)
            .collect(),
    }
}

fn guard_of(coordinate: &str) -> Option<Guard> {
    GUARDED
        .iter()
        .find(|(c, _)| *c == coordinate)
        .map(|(_, g)| *g)
}

/// A principal lacking exactly one guard's permission.
struct Lacking {
    guard: Guard,
    token: String,
    perms: Vec<&'static str>,
    staff: bool,
}

impl Lacking {
    async fn new(world: &World, guard: Guard) -> Lacking {
        let (perms, staff) = match guard {
            Perm(p) if p.starts_with("visitor.") => (visitor_but(p), true),
            Perm(p) => (portal_but(p), false),
            AnyVisitor | Search => (Vec::new(), true),
            Principal => unreachable!("every principal passes"),
        };
        let token = if staff {
            world.staff_with(&perms).await
        } else {
            world.client_with(&perms).await
        };
        Lacking {
            guard,
            token,
            perms,
            staff,
        }
    }

    fn label(&self) -> String {
        match self.guard {
            Perm(p) => format!("a principal with every permission but {p}"),
            _ => "a staff user without Visitor permissions".to_owned(),
        }
    }

    /// Whether this principal passes `guard` (no guard: always).
    fn passes(&self, guard: Option<Guard>) -> bool {
        match guard {
            None | Some(Principal) => true,
            Some(Perm(p)) => self.perms.contains(&p),
            Some(AnyVisitor | Search) => {
                self.staff && self.perms.iter().any(|p| p.starts_with("visitor."))
            }
        }
    }

    /// The permission a refusal must name (none for [`AnyVisitor`]).
    fn named(&self) -> Value {
        match self.guard {
            Perm(p) => json!(p),
            _ => Value::Null,
        }
    }
}

on_every_backend!(permission_walk, |backend: Backend| {
    let world = World::seed(backend).await;
    let schema = Schema::load(&world.app, &world.staff_a).await;
    walk(&world, &schema).await;
    integration_walk(&world, &schema).await;
});

/// What an INTEGRATION principal (an integration key) may read (CONTRACT section 1: `search`
/// and the fields of the REST search answer), by type; every other field of the schema is
/// refused to it.
const INTEGRATION_READABLE: &[(&str, &[&str])] = &[
    ("Query", &["search"]),
    ("Visit", &["id", "status", "visitor", "location"]),
    ("Visitor", &["name", "company"]),
    ("Location", &["id", "name", "address", "type"]),
];

fn integration_reads(ty: &str, field: &str) -> bool {
    INTEGRATION_READABLE
        .iter()
        .any(|(t, fields)| *t == ty && fields.contains(&field))
}

/// Tenant A's integration key walks the schema: every root field but `search` (queries,
/// mutations, subscriptions) is refused, `null` with one `FORBIDDEN` and no permission named,
/// the rest of the response served; below `search`, every field of every type its readable
/// fields lead to is served if readable and refused (`FORBIDDEN`, never a value) if not; and
/// it finds nothing of tenant B.
async fn integration_walk(world: &World, schema: &Schema) {
    let mut failures = Vec::new();
    let mut refused_roots = 0;
    for root in schema.root_fields() {
        if root.coordinate() == "Query.search" {
            continue;
        }
        refused_roots += 1;
        let args = unknown_args(schema, &root);
        let (query, variables) =
            schema.document(&root, &args, &schema.selection(root.field.ty.named(), 0));
        let body = world.as_integration(&query, variables).await;
        let name = &root.field.name;
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        let ok = if root.op == Op::Subscription {
            // Refused whole, before anything runs.
            body["data"].is_null()
                && errors.len() == 1
                && errors[0]["extensions"]["code"] == "FORBIDDEN"
        } else {
            body["data"][name].is_null()
                && body["data"]["__typename"] == root.type_name
                && errors.len() == 1
                && errors[0]["path"] == json!([name])
                && errors[0]["extensions"]["code"] == "FORBIDDEN"
                && errors[0]["extensions"].get("permission").is_none()
        };
        if !ok {
            failures.push(format!(
                "{} as an integration key must be refused: {body}",
                root.coordinate()
            ));
        }
    }

    // Below `search`: each type its readable fields lead to, with every field of it.
    let mut reached: Vec<(Vec<String>, String)> = Vec::new();
    let mut queue = VecDeque::from([(Vec::<String>::new(), "SearchResult".to_owned())]);
    let mut seen = BTreeSet::new();
    while let Some((path, name)) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let ty = schema.ty(&name);
        if ty.kind == "UNION" {
            for t in &ty.possible_types {
                let mut p = path.clone();
                p.push(format!("{FRAGMENT}{t}"));
                queue.push_back((p, t.clone()));
            }
            continue;
        }
        for field in &ty.fields {
            let target = field.ty.named();
            if integration_reads(&name, &field.name) && !schema.is_leaf(target) {
                let mut p = path.clone();
                p.push(field.name.clone());
                queue.push_back((p, target.to_owned()));
            }
        }
        reached.push((path, name));
    }
    let mut checked = 0;
    for (path, name) in &reached {
        // Every field of the type, beside the readable ones on the way to it.
        let ty = schema.ty(name);
        let mut selection = String::from("{ __typename");
        for field in ty.fields.iter().filter(|f| !f.has_required_args()) {
            selection.push(' ');
            selection.push_str(&field.name);
            let target = field.ty.named();
            if !schema.is_leaf(target) {
                selection.push_str(" { __typename }");
            }
        }
        selection.push_str(" }");
        for segment in path.iter().rev() {
            selection = format!("{{ __typename {segment} {selection} }}");
        }
        let query = format!("query($q: String!) {{ search(query: $q) {selection} }}");
        let body = world.as_integration(&query, json!({"q": "home"})).await;
        if body["data"]["search"].as_array().is_none_or(Vec::is_empty) {
            failures.push(format!(
                "search as an integration key found nothing: {body}"
            ));
            continue;
        }
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        for field in ty.fields.iter().filter(|f| !f.has_required_args()) {
            checked += 1;
            let mut full = path.clone();
            full.push(field.name.clone());
            let mut found = Vec::new();
            values_at(
                &body["data"]["search"],
                &full,
                "/search".to_owned(),
                &mut found,
            );
            let refusals = errors
                .iter()
                .filter(|e| {
                    let names: Vec<String> = e["path"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect();
                    names.first().map(String::as_str) == Some("search")
                        && names[1..] == fields_of(&full)[..]
                })
                .collect::<Vec<_>>();
            let coordinate = format!("{name}.{}", field.name);
            if integration_reads(name, &field.name) {
                if found.is_empty() || !refusals.is_empty() {
                    failures.push(format!(
                        "{coordinate} must be served to an integration key: {body}"
                    ));
                }
            } else {
                let served = found.iter().any(|(_, v)| !v.is_null());
                let denied = !refusals.is_empty()
                    && refusals.iter().all(|e| {
                        e["extensions"]["code"] == "FORBIDDEN"
                            && e["extensions"].get("permission").is_none()
                    });
                if served || !denied {
                    failures.push(format!(
                        "{coordinate} must be FORBIDDEN to an integration key: {body}"
                    ));
                }
            }
        }
        let unexpected: Vec<&Value> = errors
            .iter()
            .filter(|e| e["extensions"]["code"] != "FORBIDDEN")
            .collect();
        if !unexpected.is_empty() {
            failures.push(format!("unexpected errors for {name}: {unexpected:?}"));
        }
    }

    // Tenant A's key finds nothing of tenant B's.
    let body = world
        .as_integration(
            "query($q: String!) { search(query: $q) { __typename } }",
            json!({"q": B_LABEL}),
        )
        .await;
    if body["data"]["search"] != json!([]) {
        failures.push(format!("tenant A's key found tenant B's: {body}"));
    }
    println!(
        "integration walk: {refused_roots} root fields refused, {checked} fields below search \
         over {} types",
        reached.len()
    );
    assert!(
        failures.is_empty(),
        "the integration walk found {} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn walk(world: &World, schema: &Schema) {
    let mut failures = Vec::new();
    classify(schema, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let unauthenticated = unauthenticated(world, schema, &mut failures).await;

    let guards: BTreeSet<Guard> = GUARDED
        .iter()
        .map(|(_, g)| *g)
        .filter(|g| *g != Principal)
        .collect();
    let mut coverage = Coverage::default();
    let mut live: Vec<(Lacking, Socket, Vec<LiveCheck>)> = Vec::new();
    for guard in guards {
        let lacking = Lacking::new(world, guard).await;
        let mut socket: Option<Socket> = None;
        let mut checks = Vec::new();
        for entry in ENTRIES {
            for root in roots_of(schema, *entry) {
                let root_guard = guard_of(&root.coordinate());
                if root_guard == Some(guard) {
                    if root.op == Op::Subscription {
                        let socket = match &mut socket {
                            Some(s) => s,
                            None => socket.insert(Socket::open(&world.app, &lacking.token).await),
                        };
                        let args = unknown_args(schema, &root);
                        let (query, variables) = schema.document(
                            &root,
                            &args,
                            &schema.selection(root.field.ty.named(), 0),
                        );
                        let id = format!("root-{}", root.field.name);
                        socket.subscribe(&id, &query, variables).await;
                        checks.push(LiveCheck::Refused {
                            id,
                            coordinate: root.coordinate(),
                        });
                    } else {
                        refused_root(world, schema, &root, &lacking, &mut coverage, &mut failures)
                            .await;
                    }
                    continue;
                }
                if !lacking.passes(root_guard) {
                    continue;
                }
                let targets = plan(schema, &root, &lacking);
                if targets.is_empty() {
                    continue;
                }
                coverage.expect(&root.coordinate(), &targets);
                if root.op == Op::Subscription {
                    let socket = match &mut socket {
                        Some(s) => s,
                        None => socket.insert(Socket::open(&world.app, &lacking.token).await),
                    };
                    let args = own_args(world, schema, &root).await;
                    let selection =
                        tree(&targets, 0..targets.len()).render(schema, root.field.ty.named());
                    let (query, variables) = schema.document(&root, &args, &selection);
                    let id = format!("nested-{}", root.field.name);
                    socket.subscribe(&id, &query, variables).await;
                    checks.push(LiveCheck::Nested {
                        id,
                        coordinate: root.coordinate(),
                        targets,
                    });
                } else {
                    nested(
                        world,
                        schema,
                        &root,
                        &lacking,
                        &targets,
                        &mut coverage,
                        &mut failures,
                    )
                    .await;
                }
            }
        }
        if let Some(mut socket) = socket {
            socket.sync().await;
            live.push((lacking, socket, checks));
        }
    }

    // One event of each subscription field, then what each socket got.
    let fields: BTreeSet<String> = live
        .iter()
        .flat_map(|(_, _, checks)| checks.iter().map(LiveCheck::field))
        .collect();
    for field in &fields {
        if !world.trigger(field, &world.staff_a, &world.home).await {
            failures.push(format!(
                "the walk cannot set off an event of Subscription.{field}: teach World::trigger \
                 in tests/it/walks/world.rs"
            ));
        }
    }
    for (lacking, socket, checks) in &mut live {
        let ids: Vec<String> = checks.iter().map(|c| c.id().to_owned()).collect();
        socket
            .collect(|received| {
                ids.iter().all(|id| {
                    received
                        .iter()
                        .any(|m| m["id"] == id.as_str() && m["type"] != "complete")
                })
            })
            .await;
        for check in checks.iter() {
            check.verify(socket, lacking, &mut coverage, &mut failures);
        }
    }

    let shielded = coverage.verify(schema, &mut failures);
    println!(
        "permission walk: {} guarded fields, {} unguarded; {} guards each walked by a \
         principal lacking it; {} root fields refused, {} requests reaching guarded fields \
         below the root ({} paths, {} of them refused by the query limits on their own), \
         {unauthenticated} root fields refused without a principal; reachable only through \
         fields the same permission guards: {shielded:?}",
        GUARDED.len(),
        UNGUARDED.iter().map(|(_, f)| f.len()).sum::<usize>(),
        GUARDED
            .iter()
            .map(|(_, g)| *g)
            .filter(|g| *g != Principal)
            .collect::<BTreeSet<_>>()
            .len(),
        coverage.refused_roots,
        coverage.requests,
        coverage.paths.len(),
        coverage.too_complex,
    );
    assert!(
        failures.is_empty(),
        "the permission walk found {} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every field of the schema is in exactly one of [`GUARDED`] and [`UNGUARDED`], every entry
/// names a field of the schema, and every guarded field but a subscription is nullable.
fn classify(schema: &Schema, failures: &mut Vec<String>) {
    let guarded: BTreeSet<&str> = GUARDED.iter().map(|(c, _)| *c).collect();
    let unguarded: BTreeSet<String> = UNGUARDED
        .iter()
        .flat_map(|(t, fields)| fields.iter().map(move |f| format!("{t}.{f}")))
        .collect();
    let mut fields = BTreeSet::new();
    for ty in schema.object_types() {
        for field in &ty.fields {
            let coordinate = format!("{}.{}", ty.name, field.name);
            match (
                guarded.contains(coordinate.as_str()),
                unguarded.contains(&coordinate),
            ) {
                (false, false) => failures.push(format!(
                    "{coordinate} is not classified: add it to GUARDED (with the permission \
                     CONTRACT section 2 gives it) or to UNGUARDED in \
                     tests/it/walks/permissions.rs"
                )),
                (true, true) => {
                    failures.push(format!("{coordinate} is both in GUARDED and in UNGUARDED"))
                }
                (true, false) => {
                    if field.ty.is_non_null() && schema.op_of(&ty.name) != Some(Op::Subscription) {
                        failures.push(format!(
                            "{coordinate} is guarded but non-null: a refusal must be able to \
                             answer null"
                        ));
                    }
                }
                (false, true) => {}
            }
            fields.insert(coordinate);
        }
    }
    for coordinate in guarded
        .iter()
        .copied()
        .chain(unguarded.iter().map(String::as_str))
    {
        if !fields.contains(coordinate) {
            failures.push(format!(
                "{coordinate} is listed in tests/it/walks/permissions.rs but the schema has no \
                 such field"
            ));
        }
    }
}

/// Arguments with generic values and unknown ids: enough for a refusal, which comes before
/// the resolver reads them.
fn unknown_args(schema: &Schema, root: &Root<'_>) -> Map<String, Value> {
    super::schema::arguments(
        schema,
        root.field,
        0,
        &mut |_, required| required.then(|| json!(uuid::Uuid::new_v4().to_string())),
        &|_| None,
    )
}

/// Arguments naming tenant A's objects: existing ones for queries and subscriptions, new
/// ones for mutations (which may change or use them up); optional ids given too, so the
/// answer holds as much as it can.
async fn own_args(world: &World, schema: &Schema, root: &Root<'_>) -> Map<String, Value> {
    let ids = if root.op == Op::Mutation {
        Ids::Fresh
    } else {
        Ids::Home
    };
    world.args_for(schema, root, None, ids, true).await
}

/// Without a principal, every guarded query and mutation root field is `null` with
/// `UNAUTHENTICATED` and no permission, and the rest of the response is served. Returns how
/// many it requested.
async fn unauthenticated(world: &World, schema: &Schema, failures: &mut Vec<String>) -> usize {
    let mut count = 0;
    for root in schema.root_fields() {
        if root.op == Op::Subscription || guard_of(&root.coordinate()).is_none() {
            continue;
        }
        count += 1;
        let args = unknown_args(schema, &root);
        let body = world.call(schema, &root, &args, None, 0).await;
        let name = &root.field.name;
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        let ok = body["data"][name].is_null()
            && body["data"]["__typename"] == root.type_name
            && errors.len() == 1
            && errors[0]["path"] == json!([name])
            && errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
            && errors[0]["extensions"].get("permission").is_none();
        if !ok {
            failures.push(format!(
                "{} without a principal must be null with UNAUTHENTICATED: {body}",
                root.coordinate()
            ));
        }
    }
    count
}

/// A query or mutation root field the principal lacks the guard of: `null`, one `Access
/// Denied` error naming the permission, and the rest of the response served.
async fn refused_root(
    world: &World,
    schema: &Schema,
    root: &Root<'_>,
    lacking: &Lacking,
    coverage: &mut Coverage,
    failures: &mut Vec<String>,
) {
    let args = unknown_args(schema, root);
    let body = world
        .call(schema, root, &args, Some(&lacking.token), 0)
        .await;
    coverage.refused_roots += 1;
    let name = &root.field.name;
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    let ok = body["data"][name].is_null()
        && body["data"]["__typename"] == root.type_name
        && errors.len() == 1
        && errors[0]["path"] == json!([name])
        && denial_ok(&errors[0], lacking);
    if !ok {
        failures.push(format!(
            "{} as {} must be null with FORBIDDEN naming the permission: {body}",
            root.coordinate(),
            lacking.label()
        ));
    }
}

/// Whether `error` is an `Access Denied` refusal naming what `lacking` lacks.
fn denial_ok(error: &Value, lacking: &Lacking) -> bool {
    error["message"] == "Access Denied"
        && error["extensions"]["code"] == "FORBIDDEN"
        && error["extensions"]
            .get("permission")
            .cloned()
            .unwrap_or(Value::Null)
            == lacking.named()
}

/// One guarded field below a root, and how a request reaches it.
#[derive(Debug, Clone)]
struct Target {
    /// Field names from the root field's answer down to the guarded field.
    path: Vec<String>,
    /// The guarded field, `Location.kiosks`.
    field: String,
    /// The field that leads to its type (`Visit.location`), or the root field.
    edge: String,
}

/// Every field `lacking`'s guard protects below `root`, by every field that leads to its
/// type, each at the end of the shortest path to that field's type through fields
/// `lacking` passes.
fn plan(schema: &Schema, root: &Root<'_>, lacking: &Lacking) -> Vec<Target> {
    let start = root.field.ty.named();
    let object = |name: &str| -> bool {
        let ty = schema.ty(name);
        match ty.kind.as_str() {
            "OBJECT" | "UNION" => true,
            "INTERFACE" => panic!(
                "the permission walk does not follow the {} {name} yet: teach \
                 tests/it/walks/permissions.rs (`plan`) inline fragments on it",
                ty.kind
            ),
            _ => false,
        }
    };
    if !object(start) {
        return Vec::new();
    }
    // Shortest paths from each field of the root's answer: an object a new answer holds
    // nothing under (a new badge's `currentVisit`) does not hide what another way reaches.
    let usable = |name: &str, field: &super::schema::Field| {
        !field.has_required_args()
            && object(field.ty.named())
            && lacking.passes(guard_of(&format!("{name}.{}", field.name)))
    };
    let mut edges: BTreeSet<(Vec<String>, String, String, String)> = BTreeSet::new(); // (path to parent, parent type, field, target type)
    // What leads on from a type: its usable fields, or for a union an inline fragment on
    // each of its types (`... on Visit`), as (path segment, type it leads to).
    let links = |name: &str| -> Vec<(String, String)> {
        let ty = schema.ty(name);
        if ty.kind == "UNION" {
            return ty
                .possible_types
                .iter()
                .map(|t| (format!("{FRAGMENT}{t}"), t.clone()))
                .collect();
        }
        ty.fields
            .iter()
            .filter(|f| usable(name, f))
            .map(|f| (f.name.clone(), f.ty.named().to_owned()))
            .collect()
    };
    let mut firsts: Vec<(Vec<String>, String)> = vec![(Vec::new(), start.to_owned())];
    for (segment, target) in links(start) {
        firsts.push((vec![segment], target));
    }
    for (prefix, first) in firsts {
        let mut shortest: BTreeMap<String, Vec<String>> = BTreeMap::new();
        shortest.insert(first.clone(), prefix);
        let mut queue = VecDeque::from([first]);
        while let Some(name) = queue.pop_front() {
            for (segment, target) in links(&name) {
                edges.insert((
                    shortest[&name].clone(),
                    name.clone(),
                    segment.clone(),
                    target.clone(),
                ));
                if !shortest.contains_key(&target) {
                    let mut path = shortest[&name].clone();
                    path.push(segment);
                    shortest.insert(target.clone(), path);
                    queue.push_back(target);
                }
            }
        }
    }
    let guarded_in = |ty: &str| -> Vec<String> {
        schema
            .ty(ty)
            .fields
            .iter()
            .filter(|f| guard_of(&format!("{ty}.{}", f.name)) == Some(lacking.guard))
            .map(|f| {
                assert!(
                    !f.has_required_args(),
                    "{ty}.{} takes required arguments: teach the permission walk to fill them",
                    f.name
                );
                f.name.clone()
            })
            .collect()
    };
    let mut targets: Vec<Target> = Vec::new();
    for g in guarded_in(start) {
        targets.push(Target {
            path: vec![g.clone()],
            field: format!("{start}.{g}"),
            edge: root.coordinate(),
        });
    }
    for (parent_path, parent, field, target) in edges {
        for g in guarded_in(&target) {
            let mut path = parent_path.clone();
            path.push(field.clone());
            path.push(g.clone());
            if !targets.iter().any(|t| t.path == path) {
                targets.push(Target {
                    path,
                    field: format!("{target}.{g}"),
                    edge: format!("{parent}.{field}"),
                });
            }
        }
    }
    targets
}

/// How a path segment names an inline fragment (below a union): `... on Visit`.
const FRAGMENT: &str = "... on ";

/// The field names of `path`, its inline fragments left out: the path a response gives.
fn fields_of(path: &[String]) -> Vec<String> {
    path.iter()
        .filter(|s| !s.starts_with(FRAGMENT))
        .cloned()
        .collect()
}

/// A selection set built from paths.
#[derive(Default)]
struct Tree(BTreeMap<String, Tree>);

fn tree(targets: &[Target], which: std::ops::Range<usize>) -> Tree {
    let mut tree = Tree::default();
    for target in &targets[which] {
        let mut node = &mut tree;
        for name in &target.path {
            node = node.0.entry(name.clone()).or_default();
        }
    }
    tree
}

impl Tree {
    fn render(&self, schema: &Schema, type_name: &str) -> String {
        if schema.is_leaf(type_name) {
            return String::new();
        }
        let ty = schema.ty(type_name);
        let mut out = String::from("{ __typename");
        if ty.kind == "UNION" {
            for (name, child) in &self.0 {
                let on = name
                    .strip_prefix(FRAGMENT)
                    .unwrap_or_else(|| panic!("{type_name} is a union: {name} is no fragment"));
                out.push_str(&format!(" {FRAGMENT}{on} {}", child.render(schema, on)));
            }
            out.push_str(" }");
            return out;
        }
        for (name, child) in &self.0 {
            let field = ty
                .field(name)
                .unwrap_or_else(|| panic!("{type_name} has no field {name}"));
            out.push(' ');
            out.push_str(name);
            let target = field.ty.named();
            if !schema.is_leaf(target) {
                out.push(' ');
                out.push_str(&child.render(schema, target));
            }
        }
        out.push_str(" }");
        out
    }
}

/// Requests the guarded fields below a query or mutation root field: all at once, or in
/// halves while the limits refuse that many (each mutation on objects of its own).
async fn nested(
    world: &World,
    schema: &Schema,
    root: &Root<'_>,
    lacking: &Lacking,
    targets: &[Target],
    coverage: &mut Coverage,
    failures: &mut Vec<String>,
) {
    let mut pending: Vec<std::ops::Range<usize>> = Vec::new();
    pending.push(0..targets.len());
    while let Some(range) = pending.pop() {
        let selection = tree(targets, range.clone()).render(schema, root.field.ty.named());
        let args = own_args(world, schema, root).await;
        let (query, variables) = schema.document(root, &args, &selection);
        let body = world
            .app
            .gql(Some(&lacking.token), &query, variables.clone())
            .await;
        coverage.requests += 1;
        if super::world::code_of(&body) == Some("QUERY_TOO_COMPLEX") {
            if range.len() > 1 {
                let middle = range.start + range.len() / 2;
                pending.push(range.start..middle);
                pending.push(middle..range.end);
            } else {
                // The limits refuse this path to every caller: it is not a way in.
                coverage.too_complex += 1;
            }
            continue;
        }
        let coordinate = root.coordinate();
        check_answer(
            &body,
            &coordinate,
            lacking,
            &targets[range],
            coverage,
            failures,
        );
    }
}

/// Checks an answer (a response, or a subscription event's payload) that requested
/// `targets` below `root`: the root field has data, every error is an `Access Denied`
/// refusal naming the permission at one of the targets' paths, whose value is `null`; and
/// records which targets were refused.
fn check_answer(
    body: &Value,
    root: &str,
    lacking: &Lacking,
    targets: &[Target],
    coverage: &mut Coverage,
    failures: &mut Vec<String>,
) {
    let name = root.split_once('.').map(|(_, f)| f).unwrap_or_default();
    let context = format!("{root} as {}", lacking.label());
    if body["data"][name].is_null() {
        failures.push(format!(
            "{context} answered no data, so the fields below it were not reached; make the \
             walk's arguments work (an Override in tests/it/walks/world.rs): {body}"
        ));
        return;
    }
    // A guarded field with a value was served to a principal lacking its permission.
    for target in targets {
        let mut found = Vec::new();
        values_at(
            &body["data"][name],
            &target.path,
            format!("/{name}"),
            &mut found,
        );
        if let Some((pointer, value)) = found.iter().find(|(_, v)| !v.is_null()) {
            failures.push(format!(
                "{context}: {} ({pointer}) was served: {value}",
                target.field
            ));
        }
    }
    for error in body["errors"].as_array().cloned().unwrap_or_default() {
        let path = error["path"].as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = path.iter().filter_map(Value::as_str).collect();
        let pointer: String = path
            .iter()
            .map(|seg| match seg {
                Value::String(s) => format!("/{s}"),
                other => format!("/{other}"),
            })
            .collect();
        let matching: Vec<&Target> = targets
            .iter()
            .filter(|t| names.first() == Some(&name) && names[1..] == fields_of(&t.path)[..])
            .collect();
        if matching.is_empty() || !denial_ok(&error, lacking) {
            failures.push(format!("{context}: unexpected error {error} in {body}"));
            continue;
        }
        if body["data"].pointer(&pointer) != Some(&Value::Null) {
            failures.push(format!(
                "{context}: the refused {pointer} is not null: {body}"
            ));
            continue;
        }
        for target in matching {
            coverage.denied(root, target);
        }
    }
}

/// The values at the end of `path` below `value` (lists followed into each item), with
/// their JSON pointers from `pointer`.
fn values_at(value: &Value, path: &[String], pointer: String, out: &mut Vec<(String, Value)>) {
    let Some((first, rest)) = path.split_first() else {
        out.push((pointer, value.clone()));
        return;
    };
    if let Some(on) = first.strip_prefix(FRAGMENT) {
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    values_at(item, path, format!("{pointer}/{i}"), out);
                }
            }
            Value::Object(map) if map.get("__typename") == Some(&json!(on)) => {
                values_at(value, rest, pointer, out);
            }
            _ => {}
        }
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(inner) = map.get(first) {
                values_at(inner, rest, format!("{pointer}/{first}"), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                values_at(item, path, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// What the walk must see refused, and what it saw.
#[derive(Default)]
struct Coverage {
    /// (root field, guarded field) → refused at least once.
    pairs: BTreeMap<(String, String), bool>,
    /// (field leading to the guarded field's type, guarded field) → refused at least once.
    edges: BTreeMap<(String, String), bool>,
    /// Every (root field, path) requested.
    paths: BTreeSet<(String, Vec<String>)>,
    refused_roots: usize,
    requests: usize,
    /// Paths the query limits refuse on their own.
    too_complex: usize,
}

impl Coverage {
    fn expect(&mut self, root: &str, targets: &[Target]) {
        for t in targets {
            self.pairs
                .entry((root.to_owned(), t.field.clone()))
                .or_default();
            self.edges
                .entry((t.edge.clone(), t.field.clone()))
                .or_default();
            self.paths.insert((root.to_owned(), t.path.clone()));
        }
    }

    fn denied(&mut self, root: &str, target: &Target) {
        self.pairs
            .insert((root.to_owned(), target.field.clone()), true);
        self.edges
            .insert((target.edge.clone(), target.field.clone()), true);
    }

    /// Every guarded field reachable from a root field was refused there at least once,
    /// and through every field leading to its type; returns the guarded fields below the
    /// roots that no path reaches without passing a field the same permission guards.
    fn verify(&self, schema: &Schema, failures: &mut Vec<String>) -> Vec<&'static str> {
        for ((root, field), seen) in &self.pairs {
            let excused = UNREACHABLE
                .iter()
                .any(|(r, fields, _)| r == root && fields.contains(&field.as_str()));
            if !seen && !excused {
                failures.push(format!(
                    "{root} reaches {field}, but no request got that far: the walk's objects \
                     hold nothing along the way; enrich World (tests/it/walks/world.rs) or \
                     list the pair in UNREACHABLE with why"
                ));
            }
        }
        for ((edge, field), seen) in &self.edges {
            if !seen {
                failures.push(format!(
                    "{field} was never requested through {edge}: no answer held an object \
                     along the way"
                ));
            }
        }
        let roots: BTreeSet<&str> = schema.roots.iter().map(|(_, n)| n.as_str()).collect();
        GUARDED
            .iter()
            .filter(|(c, _)| {
                let ty = c.split('.').next().unwrap_or_default();
                !roots.contains(ty) && !self.pairs.keys().any(|(_, f)| f == c)
            })
            .map(|(c, _)| *c)
            .collect()
    }
}

/// A subscription the walk opened as a principal lacking a guard.
enum LiveCheck {
    /// Guarded by what the principal lacks: refused.
    Refused { id: String, coordinate: String },
    /// Reaching guarded fields: its event must refuse them.
    Nested {
        id: String,
        coordinate: String,
        targets: Vec<Target>,
    },
}

impl LiveCheck {
    fn id(&self) -> &str {
        match self {
            LiveCheck::Refused { id, .. } | LiveCheck::Nested { id, .. } => id,
        }
    }

    fn coordinate(&self) -> &str {
        match self {
            LiveCheck::Refused { coordinate, .. } | LiveCheck::Nested { coordinate, .. } => {
                coordinate
            }
        }
    }

    fn field(&self) -> String {
        self.coordinate()
            .split_once('.')
            .map(|(_, f)| f.to_owned())
            .unwrap_or_default()
    }

    fn verify(
        &self,
        socket: &Socket,
        lacking: &Lacking,
        coverage: &mut Coverage,
        failures: &mut Vec<String>,
    ) {
        let messages = socket.of(self.id());
        let first = messages.first().cloned().unwrap_or(Value::Null);
        match self {
            LiveCheck::Refused { coordinate, .. } => {
                coverage.refused_roots += 1;
                let ok = messages.len() == 1
                    && first["type"] == "error"
                    && first["payload"].as_array().map(Vec::len) == Some(1)
                    && first["payload"][0]["extensions"]["code"] == "FORBIDDEN"
                    && first["payload"][0]["extensions"]
                        .get("permission")
                        .cloned()
                        .unwrap_or(Value::Null)
                        == lacking.named();
                if !ok {
                    failures.push(format!(
                        "{coordinate} as {} must be refused with one FORBIDDEN error naming the \
                         permission and no event: {messages:?}",
                        lacking.label()
                    ));
                }
            }
            LiveCheck::Nested {
                coordinate,
                targets,
                ..
            } => {
                coverage.requests += 1;
                if first["type"] != "next" {
                    failures.push(format!(
                        "{coordinate} as {} got no event: {messages:?}",
                        lacking.label()
                    ));
                    return;
                }
                check_answer(
                    &first["payload"],
                    coordinate,
                    lacking,
                    targets,
                    coverage,
                    failures,
                );
            }
        }
    }
}
