//! The world both walks run in: one server with fakes of Books, Legal and Mission, two tenants (A and
//! B) and, inside A, two client companies (1 and 2; B's client company has company 1's id
//! too). Each side has something of every kind: a rich location (hosts, badges, visits
//! open and closed, pre-registrations, a kiosk), tickets with comments, invoices, signing
//! requests (one signed), client users. Also: fresh objects of tenant A made on demand,
//! snapshots of what a principal can read, and a `graphql-transport-ws` client.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use chrono::{SecondsFormat, Utc};
use futures_util::{SinkExt, StreamExt};
use onegraph::jobs::{Job, execute};
use serde_json::{Map, Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use super::schema::{self, Op, Root, Schema};
use crate::support::{
    ALL_VISITOR, Backend, TestApp, books,
    fake::{FakeServer, pairs},
    legal, mission, tenant_id,
};

pub const TENANT_A: &str = "walk-a";
pub const TENANT_B: &str = "walk-b";
/// Company 1 of tenant A, and B's company (the same PSA id in another tenant).
pub const COMPANY_1: &str = "co-1";
/// Company 2 of tenant A.
pub const COMPANY_2: &str = "co-2";
/// What the names of tenant B's people and places start with: none may reach tenant A.
pub const B_LABEL: &str = "Bravo";

/// Every Portal permission (CONTRACT section 2).
pub const ALL_PORTAL: &[&str] = &[
    "portal.tickets.view",
    "portal.tickets.create",
    "portal.invoices.view",
    "portal.signing.sign",
    "portal.mission.view",
    "portal.mission.prayer.submit",
    "portal.users.manage",
];

/// Where generic values cannot make a call meaningful, what the walks give instead.
pub struct Override {
    /// The root field, `Mutation.returnBadge`.
    pub field: &'static str,
    /// The argument, then input fields, dotted.
    pub path: &'static str,
    pub given: Given,
    /// Why generic values do not do.
    pub why: &'static str,
}

pub enum Given {
    /// An id of this kind of tenant A's (a type name, or a state `World::fresh_id` knows).
    Kind(&'static str),
    /// A live kiosk pairing code for the home location.
    PairingCode,
    /// No id of tenant A's answers differently from an unknown id, by design.
    SameForEveryId,
    /// This text.
    Text(&'static str),
}

/// The walks' overrides, kept small: a new field is walked with generic values.
pub const OVERRIDES: &[Override] = &[
    Override {
        field: "Mutation.returnBadge",
        path: "badgeId",
        given: Given::Kind("AssignedBadge"),
        why: "only a badge someone wears can be returned",
    },
    Override {
        field: "Mutation.assignBadge",
        path: "visitId",
        given: Given::Kind("VisitWithoutBadge"),
        why: "a visit wearing a badge takes no second one",
    },
    Override {
        field: "Mutation.pairKiosk",
        path: "code",
        given: Given::PairingCode,
        why: "pairing needs a live code",
    },
    Override {
        field: "Mutation.login",
        path: "tenantId",
        given: Given::SameForEveryId,
        why: "no password is known to the walk, and every failed login answers the same",
    },
    Override {
        field: "Query.search",
        path: "query",
        given: Given::Text("home"),
        why: "a search finds what its query names: tenant A's home location and its visits",
    },
    Override {
        field: "Mutation.requestPasswordReset",
        path: "tenantId",
        given: Given::SameForEveryId,
        why: "it answers true for every tenant id so as not to reveal which exist",
    },
];

/// The type of the objects of `kind` (an override's kind names a state of a type).
pub fn kind_type(kind: &str) -> &str {
    match kind {
        "AssignedBadge" => "Badge",
        "VisitWithoutBadge" => "Visit",
        other => other,
    }
}

/// The override for the value at `path` of root field `field`.
pub fn override_for(field: &str, path: &[String]) -> Option<&'static Override> {
    let path = path.join(".");
    OVERRIDES
        .iter()
        .find(|o| o.field == field && o.path == path)
}

/// Which ids of tenant A's fill the `ID`s a call is not about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ids {
    /// Existing objects, which the call must leave as they are.
    Home,
    /// New objects, which the call may change or use up.
    Fresh,
}

/// How long a message that should come may take.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long to watch for messages that should not come.
pub const QUIET: Duration = Duration::from_millis(600);

/// A location with something of every Visitor kind at it.
#[derive(Debug, Clone)]
pub struct Place {
    pub location: String,
    /// With e-mail and phone.
    pub host: String,
    /// Worn by `visit`.
    pub badge_assigned: String,
    /// Available.
    pub badge_spare: String,
    /// Open, from `pre_used`'s code, with `host` and `badge_assigned`.
    pub visit: String,
    /// `visit`'s visitor, with e-mail and phone.
    pub visitor: String,
    /// Still expected.
    pub pre_expected: String,
    pub kiosk: String,
    /// `kiosk`'s bearer token.
    pub kiosk_token: String,
}

/// The seeded world.
pub struct World {
    pub app: TestApp,
    /// Receives Legal's webhooks (kept alive for the server).
    _legal: FakeServer,
    /// Tenant A's staff with every Visitor permission.
    pub staff_a: String,
    /// Company 1's client admin (every Portal permission).
    pub client_a1: String,
    /// Company 2's client admin.
    pub client_a2: String,
    /// Tenant B's staff with every Visitor permission.
    pub staff_b: String,
    /// Tenant B's client admin (of a company with company 1's id).
    pub client_b1: String,
    pub tenant_a: String,
    /// Tenant A's rich location, where fresh objects are made.
    pub home: Place,
    /// Tenant B's rich location.
    pub place_b: Place,
    /// Company 1's ticket, invoice, pending signing request and second client user.
    pub a1_ticket: String,
    pub a1_invoice: String,
    pub a1_signing: String,
    pub a1_user: String,
    /// Tenant A's integration key (its id).
    pub a_key: String,
    /// The same key itself, as `X-Integration-Key` sends it.
    pub a_key_secret: String,
    serial: AtomicUsize,
}

impl World {
    /// Starts the server and seeds both tenants.
    pub async fn seed(backend: Backend) -> World {
        let legal = legal::start().await;
        let mut env = legal::env(&legal);
        let (books_key, books_url) = books::start();
        let (mission_url_key, mission_url) = mission::start();
        let (mission_key_name, mission_key) = mission::key();
        env.extend([
            (books_key.to_owned(), books_url.to_owned()),
            ("BOOKS_SERVICE_KEY".to_owned(), books::KEY.to_owned()),
            (mission_url_key.to_owned(), mission_url.to_owned()),
            (mission_key_name.to_owned(), mission_key.to_owned()),
            ("WS_MAX_OPERATIONS".to_owned(), "1000".to_owned()),
        ]);
        let app = TestApp::spawn_on(backend, &pairs(&env)).await;
        let staff_a = app.admin(TENANT_A).await;
        let staff_b = app.admin(TENANT_B).await;
        let client_a1 = app
            .client_session(TENANT_A, COMPANY_1, "a1@walk.example.com", true)
            .await;
        let client_a2 = app
            .client_session(TENANT_A, COMPANY_2, "a2@walk.example.com", true)
            .await;
        let client_b1 = app
            .client_session(TENANT_B, COMPANY_1, "b1@walk.example.com", true)
            .await;
        // Each signed-in client is a Mission member: Mission answers each with its own ids.
        for (tenant, company, email, member) in [
            (TENANT_A, COMPANY_1, "a1@walk.example.com", "walk-member-a1"),
            (TENANT_A, COMPANY_2, "a2@walk.example.com", "walk-member-a2"),
            (TENANT_B, COMPANY_1, "b1@walk.example.com", "walk-member-b1"),
        ] {
            let (status, body) = app
                .psa_contact(json!({
                    "tenant_id": tenant_id(tenant),
                    "contact_id": format!("contact-{email}"),
                    "company_id": company,
                    "email": email,
                    "name": format!("Client {email}"),
                    "portal_access": true,
                    "role": "client_admin",
                    "mission_member_id": member,
                }))
                .await;
            assert_eq!(status, 200, "linking {email} to Mission: {body}");
        }
        for (tenant, company, email) in [
            (TENANT_A, COMPANY_1, "a1-user@walk.example.com"),
            (TENANT_A, COMPANY_2, "a2-user@walk.example.com"),
            (TENANT_B, COMPANY_1, "b1-user@walk.example.com"),
        ] {
            app.provision_client(tenant, company, email, "client_user")
                .await;
        }
        let mut world = World {
            app,
            _legal: legal,
            staff_a,
            client_a1,
            client_a2,
            staff_b,
            client_b1,
            tenant_a: tenant_id(TENANT_A),
            home: placeholder_place(),
            place_b: placeholder_place(),
            a1_ticket: String::new(),
            a1_invoice: String::new(),
            a1_signing: String::new(),
            a1_user: String::new(),
            a_key: String::new(),
            a_key_secret: String::new(),
            serial: AtomicUsize::new(0),
        };
        world.home = world.place(&world.staff_a.clone(), "Home").await;
        world.place_b = world.place(&world.staff_b.clone(), B_LABEL).await;
        world.seed_b_extras().await;
        // An integration key in each tenant.
        (world.a_key, world.a_key_secret) =
            world.integration_key_pair(&world.staff_a.clone()).await;
        world.integration_key(&world.staff_b.clone()).await;

        // Tickets with a comment, one per company.
        world.a1_ticket = world.ticket(&world.client_a1.clone(), "A1 Ticket").await;
        world.ticket(&world.client_a2.clone(), "A2 Ticket").await;
        world.ticket(&world.client_b1.clone(), "Bravo Ticket").await;

        // Invoices through Books' sync.
        let fake = books::FakeBooks::of(&world.app);
        for (tenant, company, id) in [
            (TENANT_A, COMPANY_1, "walk-inv-a1"),
            (TENANT_A, COMPANY_2, "walk-inv-a2"),
            (TENANT_B, COMPANY_1, "walk-inv-b1"),
        ] {
            fake.put(invoice(tenant, company, id));
        }
        execute(&world.app.state, Job::Invoices)
            .await
            .unwrap_or_else(|e| panic!("the invoice sync failed: {e:?}"));
        world.a1_invoice = world
            .app
            .ok(&world.client_a1, "{ invoices { nodes { id } } }", json!({}))
            .await["invoices"]["nodes"][0]["id"]
            .as_str()
            .expect("company 1's invoice")
            .to_owned();

        // Signing requests: pending ones everywhere, and a signed one in B.
        world.a1_signing = world
            .signing_request(TENANT_A, COMPANY_1, "walk-a1", &world.client_a1.clone())
            .await;
        world
            .signing_request(TENANT_A, COMPANY_2, "walk-a2", &world.client_a2.clone())
            .await;
        world
            .signing_request(TENANT_B, COMPANY_1, "walk-b1", &world.client_b1.clone())
            .await;
        let signed = world
            .signing_request(
                TENANT_B,
                COMPANY_1,
                "walk-b1-signed",
                &world.client_b1.clone(),
            )
            .await;
        world
            .app
            .ok(
                &world.client_b1,
                "mutation($id: ID!){ signDocument(signingRequestId: $id, signatureName: \"B Signer\"){ id } }",
                json!({"id": signed}),
            )
            .await;

        world.a1_user = world
            .app
            .ok(&world.client_a1, "{ clientUsers { id email } }", json!({}))
            .await["clientUsers"]
            .as_array()
            .expect("client users")
            .iter()
            .find(|u| u["email"] == "a1-user@walk.example.com")
            .expect("company 1's second user")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        world
    }

    /// Arguments for a call of `root`: generic values (`schema::arguments`), the value at
    /// `test` when given, and ids of tenant A's for the other `ID`s: existing objects the
    /// call must leave as they are (`Ids::Home`), or new ones it may change or use up
    /// (`Ids::Fresh`; a location referred to by a `...Id` is the home location, where the
    /// new objects are). Optional `ID`s are left out unless `optional_ids`.
    pub async fn args_for(
        &self,
        schema: &Schema,
        root: &Root<'_>,
        test: Option<(&[String], Value)>,
        ids: Ids,
        optional_ids: bool,
    ) -> Map<String, Value> {
        let serial = self.serial();
        let coordinate = root.coordinate();
        // The paths of the `ID`s the generic values need, first.
        let mut wanted: Vec<(Vec<String>, bool)> = Vec::new();
        schema::arguments(
            schema,
            root.field,
            serial,
            &mut |path, required| {
                wanted.push((path.to_vec(), required));
                Some(json!("placeholder"))
            },
            &|_| None,
        );
        let mut chosen: BTreeMap<Vec<String>, Value> = BTreeMap::new();
        for (path, required) in wanted {
            if let Some((test_path, value)) = &test
                && *test_path == path.as_slice()
            {
                chosen.insert(path, value.clone());
                continue;
            }
            if !required && !optional_ids {
                continue;
            }
            let kind = self.kind_at(schema, root, &path);
            let id = self.own_id(root, &path, &kind, ids).await;
            let id = id.unwrap_or_else(|| {
                panic!(
                    "the walks cannot make a {kind} for {coordinate}({}): teach World::fresh_id \
                     and World::home_id in tests/it/walks/world.rs to make one",
                    path.join(".")
                )
            });
            chosen.insert(path, json!(id));
        }
        let mut given: BTreeMap<Vec<String>, Value> = BTreeMap::new();
        for o in OVERRIDES.iter().filter(|o| o.field == coordinate) {
            let path: Vec<String> = o.path.split('.').map(str::to_owned).collect();
            match o.given {
                Given::PairingCode => {
                    let code = self.pairing_code(&self.staff_a, &self.home.location).await;
                    given.insert(path, json!(code));
                }
                Given::Text(text) => {
                    given.insert(path, json!(text));
                }
                Given::Kind(_) | Given::SameForEveryId => {}
            }
        }
        schema::arguments(
            schema,
            root.field,
            serial,
            &mut |path, _| chosen.get(path).cloned(),
            &|path| given.get(path).cloned(),
        )
    }

    /// An id of tenant A's of `kind` for the `ID` at `path` of `root`: an existing object
    /// (`Ids::Home`, or a query, which changes nothing), or a new one for a mutation that
    /// may change or use it up (`Ids::Fresh`; but a location referred to by a `...Id` is
    /// the home location, where the new objects are).
    pub async fn own_id(
        &self,
        root: &Root<'_>,
        path: &[String],
        kind: &str,
        ids: Ids,
    ) -> Option<String> {
        let refers = path.last().is_some_and(|l| l != "id");
        let home = ids == Ids::Home || root.op != Op::Mutation || (kind == "Location" && refers);
        match self.home_id(kind) {
            Some(id) if home => Some(id),
            _ => self.fresh_id(kind).await,
        }
    }

    /// What kind of object (a type name) the `ID` at `path` of `root` names: an override's,
    /// or what its name says (`Schema::id_kind`).
    pub fn kind_at(&self, schema: &Schema, root: &Root<'_>, path: &[String]) -> String {
        if let Some(Override {
            given: Given::Kind(kind),
            ..
        }) = override_for(&root.coordinate(), path)
        {
            return (*kind).to_owned();
        }
        schema.id_kind(root, path).unwrap_or_else(|| {
            panic!(
                "the walks cannot tell what kind of object {}({}) names: name it `<type>Id`, \
                 or add an Override in tests/it/walks/world.rs",
                root.coordinate(),
                path.join(".")
            )
        })
    }

    /// Calls `root` with `args` as `token` (none: anonymously), selecting `depth` levels of
    /// its answer, or fewer when the query limits refuse that many (a refusal comes before
    /// anything runs).
    pub async fn call(
        &self,
        schema: &Schema,
        root: &Root<'_>,
        args: &Map<String, Value>,
        token: Option<&str>,
        depth: usize,
    ) -> Value {
        let mut depth = depth;
        loop {
            let selection = schema.selection(root.field.ty.named(), depth);
            let (query, variables) = schema.document(root, args, &selection);
            let body = self.app.gql(token, &query, variables).await;
            if depth > 0 && code_of(&body) == Some("QUERY_TOO_COMPLEX") {
                depth -= 1;
                continue;
            }
            return body;
        }
    }

    /// A number no other call of the walk has used.
    pub fn serial(&self) -> usize {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs `query`, which must succeed, and returns `data`.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        self.app.ok(token, query, variables).await
    }

    /// A location of `token`'s tenant with something of every Visitor kind at it.
    pub async fn place(&self, token: &str, label: &str) -> Place {
        let n = self.serial();
        let location = self
            .ok(
                token,
                "mutation($n: String!){ createLocation(input:{name:$n, address:\"1 Walk Street\", timezone:\"Europe/London\"}){ id } }",
                json!({"n": format!("{label} Location {n}")}),
            )
            .await["createLocation"]["id"]
            .as_str()
            .expect("location")
            .to_owned();
        let host = self.host_at(token, &location, label).await;
        let badge_assigned = self.badge(token, &location).await;
        let badge_spare = self.badge(token, &location).await;
        let (visit, visitor) = self
            .coded_visit(token, &location, &host, Some(&badge_assigned), label)
            .await;
        let pre_expected = self.pre_registration(token, &location, &host, label).await;
        let visit_closed = self
            .ok(
                token,
                "mutation($l: ID!, $h: ID!, $n: String!){ checkInVisitor(input:{locationId:$l, hostId:$h,
                    visitor:{name:$n, email:\"closed@walk.example.com\"}, purpose:\"Audit\"}){ id } }",
                json!({"l": location, "h": host, "n": format!("{label} Leaver {n}")}),
            )
            .await["checkInVisitor"]["id"]
            .as_str()
            .expect("visit")
            .to_owned();
        self.ok(
            token,
            "mutation($v: ID!){ checkOutVisitor(visitId:$v){ id } }",
            json!({"v": visit_closed}),
        )
        .await;
        let (kiosk, kiosk_token) = self.kiosk(token, &location).await;
        Place {
            location,
            host,
            badge_assigned,
            badge_spare,
            visit,
            visitor,
            pre_expected,
            kiosk,
            kiosk_token,
        }
    }

    /// Tenant B's objects in other states: an archived location, a retired badge, a
    /// cancelled pre-registration, a removed host.
    async fn seed_b_extras(&mut self) {
        let token = self.staff_b.clone();
        let archived = self
            .ok(
                &token,
                "mutation($n: String!){ createLocation(input:{name:$n}){ id } }",
                json!({"n": format!("{B_LABEL} Archived")}),
            )
            .await["createLocation"]["id"]
            .as_str()
            .expect("location")
            .to_owned();
        self.ok(
            &token,
            "mutation($id: ID!){ archiveLocation(id:$id){ id } }",
            json!({"id": archived}),
        )
        .await;
        let badge = self.badge(&token, &self.place_b.location).await;
        self.ok(
            &token,
            "mutation($id: ID!){ retireBadge(badgeId:$id){ id } }",
            json!({"id": badge}),
        )
        .await;
        let pre = self
            .pre_registration(&token, &self.place_b.location, &self.place_b.host, B_LABEL)
            .await;
        self.ok(
            &token,
            "mutation($id: ID!){ cancelPreRegistration(id:$id){ id } }",
            json!({"id": pre}),
        )
        .await;
        let host = self
            .host_at(&token, &self.place_b.location, &format!("{B_LABEL} Gone"))
            .await;
        self.ok(
            &token,
            "mutation($id: ID!){ removeHost(id:$id) }",
            json!({"id": host}),
        )
        .await;
        self.ok(
            &token,
            "mutation { updateVisitorSettings(input:{retentionDays: 30, autoCheckoutAt: \"23:00\"}){ retentionDays } }",
            json!({}),
        )
        .await;
    }

    /// A host at `location` with e-mail and phone.
    pub async fn host_at(&self, token: &str, location: &str, label: &str) -> String {
        let n = self.serial();
        self.ok(
            token,
            "mutation($l: ID!, $n: String!, $e: String!){ createHost(input:{name:$n, email:$e,
                phone:\"+44 20 7946 0000\", department:\"Walks\", locationId:$l}){ id } }",
            json!({"l": location, "n": format!("{label} Host {n}"), "e": format!("host{n}@walk.example.com")}),
        )
        .await["createHost"]["id"]
            .as_str()
            .expect("host")
            .to_owned()
    }

    /// An available badge at `location`.
    pub async fn badge(&self, token: &str, location: &str) -> String {
        let n = self.serial();
        self.ok(
            token,
            "mutation($l: ID!, $n: String!){ addBadge(locationId:$l, number:$n){ id } }",
            json!({"l": location, "n": format!("W-{n}")}),
        )
        .await["addBadge"]["id"]
            .as_str()
            .expect("badge")
            .to_owned()
    }

    /// An expected visit at `location` with `host`; its visitor has e-mail and phone.
    pub async fn pre_registration(
        &self,
        token: &str,
        location: &str,
        host: &str,
        label: &str,
    ) -> String {
        self.pre_registration_with_code(token, location, host, label)
            .await
            .0
    }

    async fn pre_registration_with_code(
        &self,
        token: &str,
        location: &str,
        host: &str,
        label: &str,
    ) -> (String, String) {
        let n = self.serial();
        let at =
            (Utc::now() + chrono::Duration::hours(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let data = self
            .ok(
                token,
                "mutation($l: ID!, $h: ID!, $n: String!, $e: String!, $at: DateTime!){ preRegisterVisitor(input:{
                    locationId:$l, hostId:$h, expectedAt:$at, visitor:{name:$n, email:$e,
                    phone:\"+1 555 0100\", company:\"Walkers\"}}){ id code } }",
                json!({"l": location, "h": host, "at": at, "n": format!("{label} Guest {n}"),
                       "e": format!("guest{n}@walk.example.com")}),
            )
            .await;
        (
            data["preRegisterVisitor"]["id"]
                .as_str()
                .expect("pre-registration")
                .to_owned(),
            data["preRegisterVisitor"]["code"]
                .as_str()
                .expect("code")
                .to_owned(),
        )
    }

    /// An open visit at `location` checked in with a pre-registration's code (so it has a
    /// pre-registration, `host` and `badge`); its id and its visitor's.
    pub async fn coded_visit(
        &self,
        token: &str,
        location: &str,
        host: &str,
        badge: Option<&str>,
        label: &str,
    ) -> (String, String) {
        let (_, code) = self
            .pre_registration_with_code(token, location, host, label)
            .await;
        let data = self
            .ok(
                token,
                "mutation($l: ID!, $c: String!, $b: ID){ checkInVisitor(input:{locationId:$l,
                    preRegistrationCode:$c, badgeId:$b, purpose:\"Walk\"}){ id visitor { id } } }",
                json!({"l": location, "c": code, "b": badge}),
            )
            .await;
        (
            data["checkInVisitor"]["id"]
                .as_str()
                .expect("visit")
                .to_owned(),
            data["checkInVisitor"]["visitor"]["id"]
                .as_str()
                .expect("visitor")
                .to_owned(),
        )
    }

    /// A kiosk paired at `location`: its id and token.
    pub async fn kiosk(&self, token: &str, location: &str) -> (String, String) {
        let code = self.pairing_code(token, location).await;
        let n = self.serial();
        let data = self
            .ok(
                token,
                "mutation($c: String!, $n: String!){ pairKiosk(code:$c, name:$n){ token kiosk { id } } }",
                json!({"c": code, "n": format!("Walk Kiosk {n}")}),
            )
            .await;
        (
            data["pairKiosk"]["kiosk"]["id"]
                .as_str()
                .expect("kiosk")
                .to_owned(),
            data["pairKiosk"]["token"]
                .as_str()
                .expect("token")
                .to_owned(),
        )
    }

    /// A new integration key of `token`'s tenant: its id.
    pub async fn integration_key(&self, token: &str) -> String {
        self.integration_key_pair(token).await.0
    }

    /// A new integration key of `token`'s tenant: (its id, the key itself).
    pub async fn integration_key_pair(&self, token: &str) -> (String, String) {
        let n = self.serial();
        let created = self
            .ok(
                token,
                "mutation($n: String!){ createIntegrationKey(name:$n){ key integrationKey { id } } }",
                json!({"n": format!("Walk Key {n}")}),
            )
            .await["createIntegrationKey"]
            .clone();
        (
            created["integrationKey"]["id"]
                .as_str()
                .expect("integration key")
                .to_owned(),
            created["key"].as_str().expect("the key").to_owned(),
        )
    }

    /// POST /graphql as tenant A's integration key (with `X-Tenant-Id`); the JSON body.
    pub async fn as_integration(&self, query: &str, variables: Value) -> Value {
        self.app
            .client
            .post(format!("{}/graphql", self.app.base))
            .header("X-Integration-Key", &self.a_key_secret)
            .header("X-Tenant-Id", &self.tenant_a)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("graphql request")
            .json()
            .await
            .expect("graphql json")
    }

    /// A live kiosk pairing code for `location`.
    pub async fn pairing_code(&self, token: &str, location: &str) -> String {
        self.ok(
            token,
            "mutation($l: ID!){ createKioskPairingCode(locationId:$l){ code } }",
            json!({"l": location}),
        )
        .await["createKioskPairingCode"]["code"]
            .as_str()
            .expect("pairing code")
            .to_owned()
    }

    /// A ticket with one comment, opened by `token`'s client.
    pub async fn ticket(&self, token: &str, subject: &str) -> String {
        let id = self
            .ok(
                token,
                "mutation($s: String!){ createTicket(input:{subject:$s, description:\"Walk ticket\", priority: HIGH}){ id } }",
                json!({"s": subject}),
            )
            .await["createTicket"]["id"]
            .as_str()
            .expect("ticket")
            .to_owned();
        self.ok(
            token,
            "mutation($t: ID!){ addTicketComment(ticketId:$t, body:\"Walk comment\"){ id } }",
            json!({"t": id}),
        )
        .await;
        id
    }

    /// Legal pushes policy `policy` for `company` of `tenant`; the request of `token`'s
    /// client user.
    pub async fn signing_request(
        &self,
        tenant: &str,
        company: &str,
        policy: &str,
        token: &str,
    ) -> String {
        let (status, body) = legal::push(
            &self.app,
            Some(legal::PORTAL_KEY),
            &json!({
                "tenant_id": tenant_id(tenant),
                "policy_id": policy,
                "version": 1,
                "title": format!("Policy {policy}"),
                "document_url": format!("https://legal.example.com/{policy}.pdf"),
                "content_sha256": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
                "company_ids": [company],
                "due_at": "2099-01-31T17:00:00Z",
            }),
        )
        .await;
        assert_eq!(status, 202, "signing push failed: {body}");
        self.ok(token, "{ signingRequests { id policyId } }", json!({}))
            .await["signingRequests"]
            .as_array()
            .expect("signing requests")
            .iter()
            .find(|r| r["policyId"] == policy)
            .unwrap_or_else(|| panic!("no request for {policy}"))["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// Tenant A's existing object of `kind` (a type name) that calls must leave as it is.
    pub fn home_id(&self, kind: &str) -> Option<String> {
        Some(match kind {
            "Location" => self.home.location.clone(),
            "Host" => self.home.host.clone(),
            "Badge" => self.home.badge_spare.clone(),
            "AssignedBadge" => self.home.badge_assigned.clone(),
            "Visit" => self.home.visit.clone(),
            "Visitor" => self.home.visitor.clone(),
            "PreRegistration" => self.home.pre_expected.clone(),
            "Kiosk" => self.home.kiosk.clone(),
            "Ticket" => self.a1_ticket.clone(),
            "Invoice" => self.a1_invoice.clone(),
            "SigningRequest" => self.a1_signing.clone(),
            "ClientUser" => self.a1_user.clone(),
            "IntegrationKey" => self.a_key.clone(),
            "Tenant" => self.tenant_a.clone(),
            _ => return None,
        })
    }

    /// A new object of tenant A (or company 1) of `kind`, for a call that may change or use
    /// it up. Visitor objects are made at the home location, and a new location has
    /// something of every kind at it. Invoices only come from Books: company 1's.
    pub async fn fresh_id(&self, kind: &str) -> Option<String> {
        let staff = self.staff_a.as_str();
        let home = &self.home;
        Some(match kind {
            "Location" => {
                // Lighter than a `place`: a host, a visit wearing a badge, a kiosk.
                let n = self.serial();
                let location = self
                    .ok(
                        staff,
                        "mutation($n: String!){ createLocation(input:{name:$n}){ id } }",
                        json!({"n": format!("Fresh Location {n}")}),
                    )
                    .await["createLocation"]["id"]
                    .as_str()
                    .expect("location")
                    .to_owned();
                let host = self.host_at(staff, &location, "Fresh").await;
                let badge = self.badge(staff, &location).await;
                self.coded_visit(staff, &location, &host, Some(&badge), "Fresh")
                    .await;
                self.kiosk(staff, &location).await;
                location
            }
            "Host" => {
                let host = self.host_at(staff, &home.location, "Fresh").await;
                let n = self.serial();
                self.ok(
                    staff,
                    "mutation($l: ID!, $h: ID!, $n: String!){ checkInVisitor(input:{locationId:$l, hostId:$h, visitor:{name:$n}}){ id } }",
                    json!({"l": home.location, "h": host, "n": format!("Fresh Caller {n}")}),
                )
                .await;
                host
            }
            "Badge" => self.badge(staff, &home.location).await,
            "Visit" => self.fresh_visit().await.0,
            "Visitor" => self.fresh_visit().await.1,
            "PreRegistration" => {
                self.pre_registration(staff, &home.location, &home.host, "Fresh")
                    .await
            }
            "Kiosk" => self.kiosk(staff, &home.location).await.0,
            "IntegrationKey" => self.integration_key(staff).await,
            "Ticket" => self.ticket(&self.client_a1, "Fresh Ticket").await,
            "SigningRequest" => {
                let policy = format!("walk-fresh-{}", self.serial());
                self.signing_request(TENANT_A, COMPANY_1, &policy, &self.client_a1)
                    .await
            }
            "ClientUser" => {
                let n = self.serial();
                self.ok(
                    &self.client_a1,
                    "mutation($e: String!){ inviteClientUser(email:$e, name:\"Fresh Client\"){ id } }",
                    json!({"e": format!("fresh{n}@walk.example.com")}),
                )
                .await["inviteClientUser"]["id"]
                    .as_str()
                    .expect("client user")
                    .to_owned()
            }
            "AssignedBadge" => self.assigned_badge().await,
            "VisitWithoutBadge" => {
                self.coded_visit(staff, &home.location, &home.host, None, "Plain")
                    .await
                    .0
            }
            "Invoice" | "Tenant" => return self.home_id(kind),
            _ => return None,
        })
    }

    /// A new open visit at the home location with a pre-registration, the home host and a
    /// new badge: its id and its visitor's.
    pub async fn fresh_visit(&self) -> (String, String) {
        let staff = self.staff_a.as_str();
        let badge = self.badge(staff, &self.home.location).await;
        self.coded_visit(
            staff,
            &self.home.location,
            &self.home.host,
            Some(&badge),
            "Fresh",
        )
        .await
    }

    /// A new badge worn by a new open visit at the home location.
    pub async fn assigned_badge(&self) -> String {
        let staff = self.staff_a.as_str();
        let badge = self.badge(staff, &self.home.location).await;
        self.coded_visit(
            staff,
            &self.home.location,
            &self.home.host,
            Some(&badge),
            "Worn",
        )
        .await;
        badge
    }

    /// Sets off what the subscription field `field` reports, at `place`, as `token`'s staff:
    /// false when the walks do not know the field.
    pub async fn trigger(&self, field: &str, token: &str, place: &Place) -> bool {
        match field {
            "visitorCheckedIn" | "visitorCheckedOut" => {
                let badge = self.badge(token, &place.location).await;
                let (visit, _) = self
                    .coded_visit(token, &place.location, &place.host, Some(&badge), "Trigger")
                    .await;
                if field == "visitorCheckedOut" {
                    self.ok(
                        token,
                        "mutation($v: ID!){ checkOutVisitor(visitId:$v){ id } }",
                        json!({"v": visit}),
                    )
                    .await;
                }
                true
            }
            _ => false,
        }
    }

    /// A staff session of tenant A with exactly `perms`.
    pub async fn staff_with(&self, perms: &[&str]) -> String {
        self.app.staff_session(TENANT_A, perms).await
    }

    /// A client session of company 1 with exactly `perms` (a client admin whose token's
    /// permissions claim narrows it).
    pub async fn client_with(&self, perms: &[&str]) -> String {
        let email = "narrow@walk.example.com";
        self.app
            .provision_client(TENANT_A, COMPANY_1, email, "client_admin")
            .await;
        let token = self
            .app
            .mint(&self.app.client_claims(TENANT_A, email, Some(perms)));
        let (status, body) = self.app.exchange(&token).await;
        assert_eq!(status, 200, "client login failed: {body}");
        body["session_token"].as_str().expect("session").to_owned()
    }

    /// What `token` reads through every query field that needs no id: each field's whole
    /// answer, objects three levels down (fewer when the limits refuse that), with generic
    /// arguments and every `Boolean` argument true.
    pub async fn snapshot(&self, schema: &Schema, token: &str) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for root in schema.root_fields() {
            if root.op != Op::Query {
                continue;
            }
            let needs_id = root
                .field
                .args
                .iter()
                .any(|a| a.required() && a.ty.named() == "ID");
            if needs_id {
                continue;
            }
            // Flags on, so that lists hold all they can (archived locations too).
            let flags: BTreeSet<String> = root
                .field
                .args
                .iter()
                .filter(|a| a.ty.named() == "Boolean")
                .map(|a| a.name.clone())
                .collect();
            let args = schema::arguments(schema, root.field, 0, &mut |_, _| None, &|path| {
                (path.len() == 1 && flags.contains(&path[0])).then_some(Value::Bool(true))
            });
            let body = self.call(schema, &root, &args, Some(token), 3).await;
            out.insert(root.coordinate(), body);
        }
        out
    }
}

fn placeholder_place() -> Place {
    Place {
        location: String::new(),
        host: String::new(),
        badge_assigned: String::new(),
        badge_spare: String::new(),
        visit: String::new(),
        visitor: String::new(),
        pre_expected: String::new(),
        kiosk: String::new(),
        kiosk_token: String::new(),
    }
}

/// A Books invoice of `company` of `tenant`.
fn invoice(tenant: &str, company: &str, id: &str) -> Value {
    let now = Utc::now();
    json!({
        "id": id,
        "tenant_id": tenant_id(tenant),
        "company_id": company,
        "number": format!("N-{id}"),
        "status": "open",
        "currency": "EUR",
        "total": "120.50",
        "balance": "20.50",
        "issued_at": (now - chrono::Duration::days(3)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "due_at": (now + chrono::Duration::days(27)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "pdf_url": format!("https://books.example.com/pdf/{id}"),
        "updated_at": (now - chrono::Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}

/// The first error's `extensions.code`.
pub fn code_of(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// Every `(__typename, id)` of an object in `value`.
pub fn typed_ids(value: &Value, out: &mut BTreeSet<(String, String)>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(ty)), Some(Value::String(id))) =
                (map.get("__typename"), map.get("id"))
            {
                out.insert((ty.clone(), id.clone()));
            }
            map.values().for_each(|v| typed_ids(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| typed_ids(v, out)),
        _ => {}
    }
}

/// Every string in `value`.
pub fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// `value` with every occurrence of `id` in its strings replaced by `<id>`.
pub fn mask(value: &Value, id: &str) -> Value {
    match value {
        Value::String(s) if !id.is_empty() => Value::String(s.replace(id, "<id>")),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), mask(v, id)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| mask(v, id)).collect()),
        other => other.clone(),
    }
}

/// A staff session's permissions: every Visitor permission but `without`.
pub fn visitor_but(without: &str) -> Vec<&'static str> {
    ALL_VISITOR
        .iter()
        .copied()
        .filter(|p| *p != without)
        .collect()
}

/// A client session's permissions: every Portal permission but `without`.
pub fn portal_but(without: &str) -> Vec<&'static str> {
    ALL_PORTAL
        .iter()
        .copied()
        .filter(|p| *p != without)
        .collect()
}

// ---------------------------------------------------------------------------------------
// graphql-transport-ws

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A `graphql-transport-ws` connection that keeps every message the server sends.
pub struct Socket {
    ws: Ws,
    /// Every protocol message received so far (pongs left out).
    pub received: Vec<Value>,
    /// Set when the server closed the connection: its code and reason.
    pub closed: Option<String>,
}

impl Socket {
    /// Connects and initialises as `token`.
    pub async fn open(app: &TestApp, token: &str) -> Socket {
        let mut request = app.ws_url().into_client_request().expect("ws request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (ws, _) = connect_async(request).await.expect("ws connect");
        let mut socket = Socket {
            ws,
            received: Vec::new(),
            closed: None,
        };
        socket
            .send(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}))
            .await;
        let ack = socket.next(WAIT).await;
        assert_eq!(
            ack.as_ref().map(|m| &m["type"]),
            Some(&json!("connection_ack")),
            "no connection_ack: {ack:?} {:?}",
            socket.closed
        );
        socket
    }

    async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("ws send");
    }

    /// The next protocol message within `within`, if any.
    async fn next(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(text.as_str()).expect("ws JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    self.closed = Some(format!("{frame:?}"));
                    return None;
                }
                None | Some(Err(_)) => {
                    self.closed.get_or_insert_with(|| "stream ended".to_owned());
                    return None;
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Starts operation `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// A ping round trip: every message sent before it has been handled by the server;
    /// what arrives meanwhile is kept.
    pub async fn sync(&mut self) {
        self.send(json!({"type": "ping"})).await;
        loop {
            let message = self
                .next(WAIT)
                .await
                .unwrap_or_else(|| panic!("no pong: {:?}", self.closed));
            if message["type"] == "pong" {
                return;
            }
            self.received.push(message);
        }
    }

    /// Keeps what arrives until `done` holds for the messages so far (at most [`WAIT`]),
    /// then until nothing has come for [`QUIET`].
    pub async fn collect(&mut self, done: impl Fn(&[Value]) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(&self.received) && tokio::time::Instant::now() < deadline {
            if let Some(message) = self.next(Duration::from_millis(100)).await {
                self.received.push(message);
            } else if self.closed.is_some() {
                break;
            }
        }
        while let Some(message) = self.next(QUIET).await {
            self.received.push(message);
        }
    }

    /// The messages of operation `id`.
    pub fn of(&self, id: &str) -> Vec<Value> {
        self.received
            .iter()
            .filter(|m| m["id"] == id)
            .cloned()
            .collect()
    }
}
