//! The tenancy walk (CONTRACT section 2: "ids of another tenant behave exactly like ids that
//! do not exist"). From the running schema it finds every place an `ID` goes in a query,
//! mutation or subscription field's arguments (input objects followed down), and calls each
//! as tenant A's staff (every Visitor permission), as company 1's client admin and as a
//! kiosk of tenant A's, with every id of tenant B's and of company 2's it can find, with an
//! unknown UUID and with a string that is no UUID (a caller whose guard refuses the field
//! itself, before any argument is read, gets the ids of the field's kind only). Every answer
//! must be the unknown UUID's, message included (ids masked); tenant B's, company 2's and
//! tenant A's own data must read the same before and after (through their own principals);
//! subscriptions opened with those ids get what an unknown id gets, and tenant A's open
//! subscriptions never see an event of tenant B's. Each call is also made once with an id
//! of tenant A's own, which must answer with data an unknown id does not get: that proves
//! the generic arguments reach the id (otherwise the test asks for an override in
//! `world.rs`). A new field is walked without editing this file.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

use super::schema::{IdSite, Op, Schema};
use super::world::{
    B_LABEL, Given, Ids, Socket, World, kind_type, mask, override_for, strings, typed_ids,
};

/// A string that is no UUID, which must behave like an unknown id too.
const NOT_A_UUID: &str = "not-a-uuid";
/// How many ids of one type the walk takes from each foreign owner: enough for every state
/// the world seeds (open and closed visits, assigned, spare and retired badges, expected,
/// used and cancelled pre-registrations, pending and signed requests, an archived
/// location), fewer than the audit entries.
const PER_TYPE: usize = 4;
/// Where the id under test goes in prepared arguments.
const MARKER: &str = "<under test>";
/// How many levels of each answer the walk compares (fewer where the limits refuse).
const DEPTH: usize = 1;
/// Calls in flight at once (the calls that must fail change nothing, so their order does
/// not matter).
const CONCURRENCY: usize = 4;

/// Principals, labelled: (label, session token).
type Principals = Vec<(&'static str, String)>;

/// The principals the walk calls as.
fn callers(world: &World) -> Principals {
    vec![
        ("tenant A's staff", world.staff_a.clone()),
        ("company 1's client", world.client_a1.clone()),
        ("tenant A's kiosk", world.home.kiosk_token.clone()),
    ]
}

/// Whose data must not change, read through their own principals: tenant B's and company
/// 2's (the foreign side, whose ids the walk uses) and tenant A's own.
fn owners(world: &World) -> (Principals, Principals) {
    (
        vec![
            ("tenant B's staff", world.staff_b.clone()),
            ("tenant B's client", world.client_b1.clone()),
            ("company 2's client", world.client_a2.clone()),
        ],
        callers(world),
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Unknown,
    NotUuid,
    Foreign(String),
    Own,
}

impl Role {
    fn describe(&self, id: &str) -> String {
        match self {
            Role::Unknown => format!("the unknown id {id}"),
            Role::NotUuid => format!("the non-UUID {id:?}"),
            Role::Foreign(ty) => format!("the foreign {ty} {id}"),
            Role::Own => format!("tenant A's own id {id}"),
        }
    }
}

on_every_backend!(tenancy_walk, |backend: Backend| {
    let world = World::seed(backend).await;
    let schema = Schema::load(&world.app, &world.staff_a).await;
    walk(&world, &schema).await;
});

async fn walk(world: &World, schema: &Schema) {
    let nested = schema.nested_id_arguments();
    assert!(
        nested.is_empty(),
        "ID arguments below the root types: {nested:?}; the tenancy walk calls only root \
         fields: extend it to reach these"
    );
    let sites = schema.id_sites();
    assert!(!sites.is_empty(), "no ID argument in the schema");
    let callers = callers(world);
    let (foreign_owners, own_owners) = owners(world);
    let mut failures: Vec<String> = Vec::new();

    // The arguments of every call, first: a call may need an object of tenant A's made
    // for it, and nothing may change once the owners' data is read.
    let prepared = prepare(world, schema, &sites, &callers).await;

    // What every owner reads now, and the foreign ids in it.
    let mut before = Vec::new();
    for (label, token) in foreign_owners.iter().chain(&own_owners) {
        before.push((*label, token.clone(), world.snapshot(schema, token).await));
    }
    let kinds: BTreeSet<String> = sites
        .iter()
        .map(|s| kind_type(&world.kind_at(schema, &s.root, &s.path)).to_owned())
        .collect();
    let pool = foreign_pool(schema, &before, foreign_owners.len(), &kinds, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Subscriptions, opened before the calls.
    let mut live = LiveOps::open(world, schema, &sites, &callers, &pool).await;

    // Every site as every caller with an unknown id first; then with the non-UUID and the
    // foreign ids: all of them, or, where the caller was refused at the field itself (its
    // guard answers before any argument is read), those of the site's kind.
    let run = |calls: Vec<(usize, usize, Role, String)>| {
        stream::iter(calls)
            .map(|(site, caller, role, id)| {
                let root = &sites[site].root;
                let token = callers[caller].1.as_str();
                let args = replace_marker(&prepared[&(site, caller)], &id);
                async move {
                    let body = world.call(schema, root, &args, Some(token), DEPTH).await;
                    (site, caller, role, id, body)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
    };
    let unknown_id = uuid::Uuid::new_v4().to_string();
    let first: Vec<_> = prepared
        .keys()
        .map(|(site, caller)| (*site, *caller, Role::Unknown, unknown_id.clone()))
        .collect();
    let mut answers = run(first).await;
    let mut unknown: BTreeMap<(usize, usize), Value> = BTreeMap::new();
    for (site, caller, _, id, body) in &answers {
        unknown.insert((*site, *caller), mask(body, id));
    }
    let mut rest = Vec::new();
    for (site, caller) in prepared.keys() {
        let refused = refused_at_root(&unknown[&(*site, *caller)], &sites[*site].root.field.name);
        let kind = world.kind_at(schema, &sites[*site].root, &sites[*site].path);
        let kind = kind_type(&kind);
        for (role, id) in test_ids(&pool) {
            let sample = match &role {
                Role::Unknown => false,
                Role::NotUuid => true,
                Role::Foreign(ty) => !refused || *ty == kind,
                Role::Own => false,
            };
            if sample {
                rest.push((*site, *caller, role, id));
            }
        }
    }
    answers.extend(run(rest).await);
    let call_count = answers.len();
    for (site, caller, role, id, body) in &answers {
        let baseline = &unknown[&(*site, *caller)];
        let answer = mask(body, id);
        if answer != *baseline {
            failures.push(format!(
                "{} as {}: {} answers\n    {answer}\n  but an unknown id answers\n    {baseline}",
                sites[*site].label(),
                callers[*caller].0,
                role.describe(id),
            ));
        }
    }

    // Nothing changed for anyone (but when the walk's own kiosk was last seen, and the live
    // state of the integration checklist).
    for (label, token, then) in &before {
        let now = world.snapshot(schema, token).await;
        for (field, was) in then {
            if now.get(field).map(without_last_seen) != Some(without_last_seen(was)) {
                failures.push(format!(
                    "what {label} reads through {field} changed during the walk:\n    before \
                     {was}\n    after  {}",
                    now.get(field).unwrap_or(&Value::Null)
                ));
            }
        }
    }

    // Events of both tenants; then what each subscription got.
    live.check(world, &pool, &mut failures).await;

    // Each call once more with tenant A's own id: it must reach the id.
    let own_calls = own_calls(world, schema, &sites, &callers, &unknown, &mut failures).await;

    println!(
        "tenancy walk: {} ID arguments ({} of subscriptions) of {} fields, {} foreign ids \
         ({}), {call_count} calls with foreign and unknown ids, {} subscriptions, {own_calls} \
         calls with tenant A's own ids",
        sites.len(),
        sites
            .iter()
            .filter(|s| s.root.op == Op::Subscription)
            .count(),
        sites
            .iter()
            .map(|s| s.root.coordinate())
            .collect::<BTreeSet<_>>()
            .len(),
        pool.len(),
        {
            let mut per_type: BTreeMap<&str, usize> = BTreeMap::new();
            pool.iter()
                .for_each(|(t, _)| *per_type.entry(t).or_default() += 1);
            per_type
                .iter()
                .map(|(t, n)| format!("{n} {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        live.ops.len(),
    );
    assert!(
        failures.is_empty(),
        "the tenancy walk found {} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Tenant B's and company 2's ids, typed, from the first `foreign` snapshots (at most
/// [`PER_TYPE`] of each type an argument names, and one of each other type, from each
/// owner), leaving out every id tenant A's own principals read. Fails the walk when an
/// object type some query reaches has no foreign example: the world must seed one.
fn foreign_pool(
    schema: &Schema,
    snapshots: &[(&str, String, BTreeMap<String, Value>)],
    foreign: usize,
    kinds: &BTreeSet<String>,
    failures: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut own = BTreeSet::new();
    for (_, _, snapshot) in &snapshots[foreign..] {
        snapshot.values().for_each(|v| typed_ids(v, &mut own));
    }
    let own_ids: BTreeSet<&String> = own.iter().map(|(_, id)| id).collect();
    let mut pool: Vec<(String, String)> = Vec::new();
    for (_, _, snapshot) in &snapshots[..foreign] {
        let mut found = BTreeSet::new();
        snapshot.values().for_each(|v| typed_ids(v, &mut found));
        let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
        for (ty, id) in found {
            // Types no argument names get one id each: it must behave as unknown too.
            let most = if kinds.contains(&ty) { PER_TYPE } else { 1 };
            let taken = per_type.entry(ty.clone()).or_default();
            if own_ids.contains(&id) || *taken >= most || pool.iter().any(|(_, i)| *i == id) {
                continue;
            }
            *taken += 1;
            pool.push((ty, id));
        }
    }
    let types: BTreeSet<&str> = pool.iter().map(|(t, _)| t.as_str()).collect();
    for ty in types_with_ids_queries_reach(schema) {
        if !types.contains(ty.as_str()) {
            failures.push(format!(
                "no {ty} of tenant B's or company 2's was found through the queries: seed one \
                 in tests/it/walks/world.rs (World::seed) so the walk tries its id"
            ));
        }
    }
    pool
}

/// The fields of an `IntegrationStatus` that move on their own: the probes' answers, the
/// outbox deliveries running in the background and the walk's own Mission calls change them
/// (`tests/it/health.rs` shows that they are the caller's tenant's).
const LIVE_STATUS: [&str; 5] = [
    "reachable",
    "lastSuccessAt",
    "lastError",
    "pendingOutbox",
    "deadOutbox",
];

/// `value` without what moves on its own: `lastSeenAt` values, which move whenever a kiosk
/// calls (the walk calls as one), and the live fields of the integration checklist.
fn without_last_seen(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "lastSeenAt")
                .filter(|(k, _)| {
                    map.get("__typename") != Some(&Value::from("IntegrationStatus"))
                        || !LIVE_STATUS.contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), without_last_seen(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_last_seen).collect()),
        other => other.clone(),
    }
}

/// Object types with an `id` that some query field reaches.
fn types_with_ids_queries_reach(schema: &Schema) -> BTreeSet<String> {
    let roots: BTreeSet<&str> = schema.roots.iter().map(|(_, n)| n.as_str()).collect();
    let query = &schema
        .roots
        .iter()
        .find(|(op, _)| *op == Op::Query)
        .expect("a query type")
        .1;
    let mut seen = BTreeSet::new();
    let mut queue: Vec<String> = schema
        .ty(query)
        .fields
        .iter()
        .map(|f| f.ty.named().to_owned())
        .collect();
    while let Some(name) = queue.pop() {
        let ty = schema.ty(&name);
        if !matches!(ty.kind.as_str(), "OBJECT" | "UNION" | "INTERFACE") || !seen.insert(name) {
            continue;
        }
        queue.extend(ty.possible_types.iter().cloned());
        for field in ty.fields.iter().filter(|f| !f.has_required_args()) {
            queue.push(field.ty.named().to_owned());
        }
    }
    seen.into_iter()
        .filter(|name| {
            let ty = schema.ty(name);
            ty.kind == "OBJECT" && !roots.contains(name.as_str()) && ty.field("id").is_some()
        })
        .collect()
}

/// Whether `body` is a refusal of root field `field` itself: its guard answered, before any
/// argument was read.
fn refused_at_root(body: &Value, field: &str) -> bool {
    let errors = body["errors"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    body["data"][field].is_null()
        && errors.len() == 1
        && errors[0]["path"] == json!([field])
        && matches!(
            errors[0]["extensions"]["code"].as_str(),
            Some("FORBIDDEN" | "UNAUTHENTICATED")
        )
}

/// The ids every site is called with, but tenant A's own: an unknown UUID, a non-UUID and
/// every foreign id.
fn test_ids(pool: &[(String, String)]) -> Vec<(Role, String)> {
    let mut ids = vec![
        (Role::Unknown, uuid::Uuid::new_v4().to_string()),
        (Role::NotUuid, NOT_A_UUID.to_owned()),
    ];
    ids.extend(
        pool.iter()
            .map(|(ty, id)| (Role::Foreign(ty.clone()), id.clone())),
    );
    ids
}

/// The arguments of every query and mutation site for every caller, the id under test
/// left as a marker: generic values, the same for every id tried there so the answers
/// compare, and tenant A's existing objects for the other ids (made now when there is none
/// to spare).
async fn prepare(
    world: &World,
    schema: &Schema,
    sites: &[IdSite<'_>],
    callers: &[(&'static str, String)],
) -> BTreeMap<(usize, usize), serde_json::Map<String, Value>> {
    let mut prepared = BTreeMap::new();
    for (s, site) in sites.iter().enumerate() {
        if site.root.op == Op::Subscription {
            continue;
        }
        for c in 0..callers.len() {
            let args = world
                .args_for(
                    schema,
                    &site.root,
                    Some((&site.path, json!(MARKER))),
                    Ids::Home,
                    false,
                )
                .await;
            prepared.insert((s, c), args);
        }
    }
    prepared
}

/// `args` with [`MARKER`] replaced by `id`.
fn replace_marker(
    args: &serde_json::Map<String, Value>,
    id: &str,
) -> serde_json::Map<String, Value> {
    fn walk(value: &Value, id: &str) -> Value {
        match value {
            Value::String(s) if s == MARKER => json!(id),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), walk(v, id))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, id)).collect()),
            other => other.clone(),
        }
    }
    args.iter().map(|(k, v)| (k.clone(), walk(v, id))).collect()
}

/// Every query and mutation site called once more with an object of tenant A's own (of the
/// kind its name says; a new one for a mutation) by each caller until one is served: the
/// answer must have data, no error, and differ from an unknown id's. Returns how many
/// calls it made.
async fn own_calls(
    world: &World,
    schema: &Schema,
    sites: &[IdSite<'_>],
    callers: &[(&'static str, String)],
    unknown: &BTreeMap<(usize, usize), Value>,
    failures: &mut Vec<String>,
) -> usize {
    let mut made = 0;
    for (s, site) in sites.iter().enumerate() {
        if site.root.op == Op::Subscription {
            continue;
        }
        if let Some(o) = override_for(&site.root.coordinate(), &site.path)
            && matches!(o.given, Given::SameForEveryId)
        {
            println!(
                "tenancy walk: {} answers the same for every id: {}",
                site.label(),
                o.why
            );
            continue;
        }
        let kind = world.kind_at(schema, &site.root, &site.path);
        let own = world
            .own_id(&site.root, &site.path, &kind, Ids::Fresh)
            .await
            .unwrap_or_else(|| panic!("the walks cannot make a {kind} for {}", site.label()));
        let args = world
            .args_for(
                schema,
                &site.root,
                Some((&site.path, json!(own))),
                Ids::Fresh,
                false,
            )
            .await;
        let mut answers = Vec::new();
        let mut reached = false;
        for (c, (label, token)) in callers.iter().enumerate() {
            let body = world
                .call(schema, &site.root, &args, Some(token), DEPTH)
                .await;
            made += 1;
            let answer = mask(&body, &own);
            let served =
                body.get("errors").is_none() && !body["data"][&site.root.field.name].is_null();
            if served && answer != unknown[&(s, c)] {
                reached = true;
                break;
            }
            answers.push(format!("as {label}: {body}"));
        }
        if !reached {
            failures.push(format!(
                "{} with tenant A's own {kind} {own} gets no answer an unknown id does not get, \
                 so the walk cannot tell whether it reaches the id; add an Override in \
                 tests/it/walks/world.rs:\n    {}",
                site.label(),
                answers.join("\n    ")
            ));
        }
    }
    made
}

/// One subscription the walk opened.
struct LiveOp {
    socket: usize,
    id: String,
    /// The site, or `None` for the field without arguments.
    site: Option<usize>,
    field: String,
    role: Role,
    value: String,
}

/// The walk's subscriptions: on a socket per caller (and tenant B's staff), each
/// subscription field without arguments, and each site with every test id and tenant A's
/// own.
struct LiveOps {
    sockets: Vec<(String, Socket)>,
    ops: Vec<LiveOp>,
    /// Socket of tenant B's staff.
    b: usize,
    fields: Vec<String>,
    sites: Vec<String>,
}

impl LiveOps {
    async fn open(
        world: &World,
        schema: &Schema,
        sites: &[IdSite<'_>],
        callers: &[(&'static str, String)],
        pool: &[(String, String)],
    ) -> LiveOps {
        let mut sockets = Vec::new();
        for (label, token) in callers {
            sockets.push(((*label).to_owned(), Socket::open(&world.app, token).await));
        }
        sockets.push((
            "tenant B's staff".to_owned(),
            Socket::open(&world.app, &world.staff_b).await,
        ));
        let b = sockets.len() - 1;
        let mut ops = Vec::new();
        let mut fields = Vec::new();
        for root in schema.root_fields() {
            if root.op != Op::Subscription {
                continue;
            }
            fields.push(root.field.name.clone());
            let selection = schema.selection(root.field.ty.named(), DEPTH);
            for (k, (_, socket)) in sockets.iter_mut().enumerate() {
                if !root.field.has_required_args() {
                    let (query, variables) =
                        schema.document(&root, &serde_json::Map::new(), &selection);
                    let id = format!("all-{}", root.field.name);
                    socket.subscribe(&id, &query, variables).await;
                    ops.push(LiveOp {
                        socket: k,
                        id,
                        site: None,
                        field: root.field.name.clone(),
                        role: Role::Own,
                        value: String::new(),
                    });
                }
                if k == b {
                    continue;
                }
                for (s, site) in sites.iter().enumerate() {
                    if site.root.coordinate() != root.coordinate() {
                        continue;
                    }
                    let kind = world.kind_at(schema, &site.root, &site.path);
                    let own = world
                        .home_id(&kind)
                        .unwrap_or_else(|| panic!("no {kind} of tenant A's for {}", site.label()));
                    let mut ids = test_ids(pool);
                    ids.push((Role::Own, own));
                    for (role, value) in ids {
                        let args = world
                            .args_for(
                                schema,
                                &site.root,
                                Some((&site.path, json!(value))),
                                Ids::Home,
                                false,
                            )
                            .await;
                        let (query, variables) = schema.document(&site.root, &args, &selection);
                        let id = format!("op-{}", ops.len());
                        socket.subscribe(&id, &query, variables).await;
                        ops.push(LiveOp {
                            socket: k,
                            id,
                            site: Some(s),
                            field: root.field.name.clone(),
                            role,
                            value,
                        });
                    }
                }
            }
        }
        for (_, socket) in &mut sockets {
            socket.sync().await;
        }
        LiveOps {
            sockets,
            ops,
            b,
            fields,
            sites: sites.iter().map(IdSite::label).collect(),
        }
    }

    /// Sets off every subscription field's event in both tenants and checks what arrived:
    /// tenant B's own subscriptions and tenant A's (without arguments or with its own id)
    /// see their tenant's events; nothing of tenant B's reaches a socket of tenant A's; each
    /// subscription opened with a foreign or non-UUID id gets what the unknown id's gets.
    async fn check(
        &mut self,
        world: &World,
        pool: &[(String, String)],
        failures: &mut Vec<String>,
    ) {
        for field in &self.fields {
            let a = world.trigger(field, &world.staff_a, &world.home).await;
            let b = world.trigger(field, &world.staff_b, &world.place_b).await;
            if !(a && b) {
                failures.push(format!(
                    "the walk cannot set off an event of Subscription.{field}: teach \
                     World::trigger in tests/it/walks/world.rs"
                ));
                return;
            }
        }
        for (k, (label, socket)) in self.sockets.iter_mut().enumerate() {
            // Subscriptions that must see an event: with no argument, or with the caller's
            // own id, on a socket whose principal may subscribe (no error yet).
            let expecting: Vec<String> = self
                .ops
                .iter()
                .filter(|op| op.socket == k && op.role == Role::Own)
                .map(|op| op.id.clone())
                .collect();
            socket
                .collect(|received| {
                    expecting.iter().all(|id| {
                        received.iter().any(|m| {
                            m["id"] == id.as_str() && (m["type"] == "next" || m["type"] == "error")
                        })
                    })
                })
                .await;
            if let Some(closed) = &socket.closed {
                failures.push(format!("the socket of {label} closed: {closed}"));
            }
        }
        let foreign_ids: Vec<&str> = pool.iter().map(|(_, id)| id.as_str()).collect();
        let mut got_event = BTreeSet::new();
        for op in &self.ops {
            let socket = &self.sockets[op.socket].1;
            let messages = socket.of(&op.id);
            let events = messages.iter().filter(|m| m["type"] == "next").count();
            if events > 0 && op.role == Role::Own {
                got_event.insert((op.socket, op.site, op.field.clone()));
            }
            if op.socket == self.b {
                continue;
            }
            // Nothing of tenant B's on tenant A's sockets.
            let mut texts = Vec::new();
            messages.iter().for_each(|m| strings(m, &mut texts));
            for text in &texts {
                if text.contains(B_LABEL) || foreign_ids.iter().any(|id| text.contains(id)) {
                    failures.push(format!(
                        "tenant B's data reached {} on subscription {} ({}): {text}",
                        self.sockets[op.socket].0, op.id, op.field
                    ));
                }
            }
        }
        // Each foreign, non-UUID and own id against the unknown one, per site and socket.
        for op in &self.ops {
            let Some(site) = op.site else { continue };
            let socket = &self.sockets[op.socket].1;
            let unknown = self
                .ops
                .iter()
                .find(|o| o.socket == op.socket && o.site == Some(site) && o.role == Role::Unknown)
                .expect("an unknown-id subscription per site");
            let normal = |o: &LiveOp| -> Vec<Value> {
                socket
                    .of(&o.id)
                    .iter()
                    .map(|m| {
                        let mut m = mask(m, &o.value);
                        m.as_object_mut().map(|m| m.remove("id"));
                        m
                    })
                    .collect()
            };
            let baseline = normal(unknown);
            let answer = normal(op);
            let same = answer == baseline;
            match op.role {
                Role::Own => {
                    // Checked below: the own id must see events where allowed.
                }
                _ if !same => failures.push(format!(
                    "{} on the socket of {}: {} gets\n    {answer:?}\n  but an unknown id gets\n    {baseline:?}",
                    self.sites[site],
                    self.sockets[op.socket].0,
                    op.role.describe(&op.value),
                )),
                _ => {}
            }
        }
        // Tenant B's subscriptions saw B's events, and each of tenant A's sites saw an
        // event of A's for its own id on some socket: the walk's events did happen, and the
        // ids reach the subscription.
        for field in &self.fields {
            if !got_event.contains(&(self.b, None, field.clone())) {
                failures.push(format!(
                    "tenant B's staff got no event on Subscription.{field}: the walk's triggers \
                     did not work, so its silence on tenant A's sockets proves nothing"
                ));
            }
        }
        let mut own_sites: BTreeMap<usize, bool> = BTreeMap::new();
        for op in self.ops.iter().filter(|o| o.role == Role::Own) {
            if let Some(site) = op.site {
                let seen = got_event.contains(&(op.socket, Some(site), op.field.clone()));
                *own_sites.entry(site).or_default() |= seen;
            }
        }
        for (site, seen) in own_sites {
            if !seen {
                failures.push(format!(
                    "{} with tenant A's own id got no event on any socket: the walk cannot tell \
                     whether it reaches the id; teach World::trigger or add an Override",
                    self.sites[site]
                ));
            }
        }
    }
}
