//! Hostile input, walked over the whole schema: every argument and input field that takes
//! text (`String`, `ID` and the custom scalars written as strings), found by introspection,
//! receives injection strings, control characters, unicode oddities, empty and very long
//! strings, through variables and written inline in the document, while the other arguments
//! carry valid values. Every answer must be a clear error (a code other than `INTERNAL`, an
//! HTTP status below 500) or a success whose stored text reads back the same through the
//! API. Malformed bodies (too large, too deep, too wide, invalid UTF-8, lone surrogates) are
//! sent once per endpoint, and the subscriptions get the same values over the WebSocket.
//! The server answers a health check at the end of each test.

mod schema;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use self::schema::{Field, InputValue, Root, Schema, Ty};
use crate::support::{self, *};

const TENANT: &str = "hostile";
const COMPANY: &str = "co-hostile";
const CLIENT_EMAIL: &str = "walk-admin@example.com";

/// Single-use values each kind of fixture needs one of per call (pairing codes, invitation
/// tokens, pending signing requests).
const POOL: usize = 24;

/// A value of a little under 1 MiB of mixed-width characters: it fits the 1 MiB body limit
/// with the rest of the request.
fn big() -> String {
    let unit = "ab\u{e9}\u{1F980}"; // 1 + 1 + 2 + 4 bytes
    unit.repeat(900 * 1024 / unit.len())
}

/// The hostile values every text argument receives through a variable.
fn hostile_values() -> Vec<(&'static str, String)> {
    vec![
        ("sql-or", "' OR 1=1 --".into()),
        ("sql-drop", "\"; DROP TABLE visits; --".into()),
        (
            "sql-union-like",
            "x' UNION SELECT token_hash FROM sessions -- %_\\".into(),
        ),
        ("nul", "nul\u{0}byte".into()),
        ("bell-escape", "bell\u{7} esc\u{1b}[31m red".into()),
        ("crlf", "line one\r\nline two".into()),
        ("rtl-override", "invoice\u{202E}fdp.exe".into()),
        (
            "zero-width",
            "zero\u{200B}width\u{200D}joiner\u{FEFF}bom".into(),
        ),
        (
            "emoji-combining",
            "\u{1F980} \u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467} e\u{301} \u{1D54F} \u{10FFFF}"
                .into(),
        ),
        ("markup", "<script>alert(1)</script>{{7*7}}${7*7}".into()),
        ("blank", "   ".into()),
        ("empty", String::new()),
        ("over-2000", "L".repeat(2001)),
        ("900KiB", big()),
    ]
}

/// The hostile values also written inline, as GraphQL string literals.
const INLINE: &[&str] = &["sql-or", "nul", "crlf", "emoji-combining"];

/// The GraphQL string literal of `text` (JSON's escapes are GraphQL's).
fn literal(text: &str) -> String {
    serde_json::to_string(text).expect("string literal")
}

/// Whether a stored text reads back as the text sent: the same, or the same trimmed (names
/// are trimmed), or trimmed and lower-cased (e-mail addresses).
fn reads_back(stored: Option<&str>, sent: &str) -> bool {
    match stored {
        Some(stored) => {
            stored == sent || stored == sent.trim() || stored == sent.trim().to_lowercase()
        }
        // Blank text clears an optional field.
        None => sent.trim().is_empty(),
    }
}

fn short(text: &str) -> String {
    let mut out: String = text.chars().take(300).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// A clear answer: HTTP status below 500, a GraphQL body, and every error with a code other
/// than `INTERNAL`.
fn judge(status: u16, body: &Value) -> Result<(), String> {
    if status >= 500 {
        return Err(format!("HTTP {status}: {}", short(&body.to_string())));
    }
    if !body.is_object() || (body.get("data").is_none() && body.get("errors").is_none()) {
        return Err(format!(
            "HTTP {status}, not a GraphQL response: {}",
            short(&body.to_string())
        ));
    }
    for error in body["errors"].as_array().into_iter().flatten() {
        match error["extensions"]["code"].as_str() {
            None => return Err(format!("an error without a code: {error}")),
            Some("INTERNAL") => return Err(format!("INTERNAL: {}", short(&error.to_string()))),
            Some(_) => {}
        }
    }
    Ok(())
}

/// POSTs raw bytes to `path`: (status, JSON body or `Null`); a failed exchange (the server
/// dropped the connection) is an error.
async fn post_raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(u16, Value), String> {
    let mut request = app
        .client
        .post(format!("{}{path}", app.base))
        .header("Content-Type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("body cut: {e}"))?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

async fn post_graphql(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Result<(u16, Value), String> {
    let body =
        serde_json::to_vec(&json!({"query": query, "variables": variables})).expect("request body");
    post_raw(app, "/graphql", token, "application/json", body).await
}

/// Where the value under test goes: a variable `$v`, or inline.
#[derive(Clone, Copy)]
enum Hole<'a> {
    Variable,
    Inline(&'a str),
}

/// One text argument or input field: the root field, and the path from the argument down
/// through input objects.
#[derive(Debug, Clone)]
struct Target {
    root: Root,
    field: Field,
    path: Vec<String>,
    ty: Ty,
}

impl Target {
    fn name(&self) -> String {
        format!("{}.{}", self.field.name, self.path.join("."))
    }
}

/// Every text argument and input field of `root`'s fields.
fn targets(schema: &Schema, root: Root) -> Vec<Target> {
    fn walk(
        schema: &Schema,
        root: Root,
        field: &Field,
        path: Vec<String>,
        ty: &Ty,
        out: &mut Vec<Target>,
    ) {
        let name = ty.name();
        if schema.is_text(name) {
            out.push(Target {
                root,
                field: field.clone(),
                path,
                ty: ty.clone(),
            });
        } else if schema.get(name).kind == "INPUT_OBJECT" && path.len() < 6 {
            for input in &schema.get(name).input_fields {
                let mut deeper = path.clone();
                deeper.push(input.name.clone());
                walk(schema, root, field, deeper, &input.ty, out);
            }
        }
    }
    let mut out = Vec::new();
    for field in schema.root_fields(root) {
        for arg in &field.args {
            walk(
                schema,
                root,
                &field,
                vec![arg.name.clone()],
                &arg.ty,
                &mut out,
            );
        }
    }
    out
}

/// The server under test, its callers and fixtures.
struct World {
    app: TestApp,
    schema: Schema,
    staff: String,
    client: String,
    /// Fixture ids by type name; the last is reused, earlier ones are used up one a call.
    ids: HashMap<String, Vec<String>>,
    /// Single-use text values by argument name (`code`: pairing codes).
    texts: HashMap<&'static str, Vec<String>>,
    /// Invitation tokens and their users' e-mails (for `token` arguments).
    invites: Vec<(String, String)>,
    /// The invitation used by the call being built.
    used_invite: Option<(String, String)>,
    counter: usize,
}

impl World {
    /// A server on `backend` with its fixtures, and `pool` of each single-use value.
    async fn new(backend: Backend, pool: usize) -> World {
        let mail = support::fake::mail_dir();
        let mail = mail.display().to_string();
        let app = TestApp::spawn_on(
            backend,
            &[
                ("PORTAL_INTEGRATION_KEY", support::legal::PORTAL_KEY),
                ("OUTBOX_POLL_INTERVAL", "50ms"),
                ("MAIL_DIR", mail.as_str()),
            ],
        )
        .await;
        let staff = app.admin(TENANT).await;
        let client = app
            .client_session(TENANT, COMPANY, CLIENT_EMAIL, true)
            .await;
        let body = app.gql(Some(&staff), INTROSPECTION, json!({})).await;
        let schema = Schema::from_introspection(&body);
        let mut world = World {
            app,
            schema,
            staff,
            client,
            ids: HashMap::new(),
            texts: HashMap::new(),
            invites: Vec::new(),
            used_invite: None,
            counter: 0,
        };
        world.seed(pool).await;
        world
    }

    fn add_id(&mut self, ty: &str, id: &Value) {
        let id = id
            .as_str()
            .unwrap_or_else(|| panic!("{ty} id: {id}"))
            .to_owned();
        self.ids.entry(ty.to_owned()).or_default().push(id);
    }

    async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        self.app.ok(token, query, variables).await
    }

    /// One of everything the schema's arguments name, in tenant `hostile` and the client's
    /// company, plus pools of the single-use values.
    async fn seed(&mut self, pool: usize) {
        let staff = self.staff.clone();
        let client = self.client.clone();
        self.ids
            .insert("Tenant".into(), vec![support::tenant_id(TENANT)]);
        let location = self.app.create_location(&staff, "Walk HQ").await;
        let l = json!({"l": location});
        let host = self
            .ok(
                &staff,
                "mutation($l: ID){ createHost(input:{name:\"Walk Host\", locationId:$l}){ id } }",
                l.clone(),
            )
            .await;
        self.add_id("Host", &host["createHost"]["id"]);
        let badge = self
            .ok(
                &staff,
                "mutation($l: ID!){ addBadge(locationId:$l, number:\"W-0\"){ id } }",
                l.clone(),
            )
            .await;
        self.add_id("Badge", &badge["addBadge"]["id"]);
        let visit = self.app.check_in(&staff, &location, "Walk Visitor").await;
        let visitor = self
            .ok(
                &staff,
                "query($v: ID!){ visit(id:$v){ visitor{ id } } }",
                json!({"v": visit}),
            )
            .await;
        self.add_id("Visitor", &visitor["visit"]["visitor"]["id"]);
        self.ids.insert("Visit".into(), vec![visit]);
        let expected = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let pre = self
            .ok(
                &staff,
                "mutation($l: ID!, $t: DateTime!){ preRegisterVisitor(input:{locationId:$l, \
                 visitor:{name:\"Walk Expected\"}, expectedAt:$t}){ id } }",
                json!({"l": location, "t": expected}),
            )
            .await;
        self.add_id("PreRegistration", &pre["preRegisterVisitor"]["id"]);
        let mut codes = Vec::new();
        for _ in 0..=pool {
            let code = self
                .ok(
                    &staff,
                    "mutation($l: ID!){ createKioskPairingCode(locationId:$l){ code } }",
                    l.clone(),
                )
                .await;
            codes.push(
                code["createKioskPairingCode"]["code"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        let kiosk = self
            .ok(
                &staff,
                "mutation($c: String!){ pairKiosk(code:$c, name:\"Walk Kiosk\"){ kiosk{ id } } }",
                json!({"c": codes.pop()}),
            )
            .await;
        self.add_id("Kiosk", &kiosk["pairKiosk"]["kiosk"]["id"]);
        self.texts.insert("code", codes);
        self.ids.insert("Location".into(), vec![location]);

        let ticket = self
            .ok(
                &client,
                "mutation{ createTicket(input:{subject:\"Walk\", description:\"Walk ticket\"}){ id } }",
                json!({}),
            )
            .await;
        self.add_id("Ticket", &ticket["createTicket"]["id"]);
        for n in 0..pool.max(1) {
            let (status, body) = support::legal::push(
                &self.app,
                Some(support::legal::PORTAL_KEY),
                &json!({
                    "tenant_id": support::tenant_id(TENANT),
                    "policy_id": format!("walk-{n}"),
                    "version": 1,
                    "title": "Walk policy",
                    "document_url": "https://legal.example.com/walk.pdf",
                    "content_sha256": "0".repeat(64),
                    "company_ids": [COMPANY],
                    "due_at": "2099-01-31T17:00:00Z",
                }),
            )
            .await;
            assert_eq!(status, 202, "signing push: {body}");
        }
        let requests = self
            .ok(&client, "{ signingRequests { id } }", json!({}))
            .await;
        for request in requests["signingRequests"].as_array().unwrap() {
            self.add_id("SigningRequest", &request["id"]);
        }

        let mut emails = Vec::new();
        for n in 0..pool {
            let email = format!("walk-invitee-{n}@example.com");
            self.ok(
                &client,
                "mutation($e: String!){ inviteClientUser(email:$e, name:\"Walk Invitee\"){ id } }",
                json!({"e": email}),
            )
            .await;
            emails.push(email);
        }
        for email in emails {
            let mail = self.app.next_mail(&email).await;
            let token = mail
                .split("token=")
                .nth(1)
                .and_then(|rest| {
                    rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                        .next()
                })
                .unwrap_or_else(|| panic!("no token in the invitation: {mail}"))
                .to_owned();
            self.invites.push((token, email));
        }
    }

    fn next(&mut self) -> usize {
        self.counter += 1;
        self.counter
    }

    /// A fixture id of `ty`: the earlier ones are used up, the last is kept for reuse.
    fn take_id(&mut self, ty: &str) -> Option<String> {
        let ids = self.ids.get_mut(ty)?;
        if ids.len() > 1 {
            ids.pop()
        } else {
            ids.last().cloned()
        }
    }

    /// The id an `ID` argument `name` of `owner` takes: `<type>Id` names its type; `id` the
    /// type the field returns or ends with (`removeHost`). A random id when no fixture fits.
    fn id_for(&mut self, name: &str, owner: &Field, fresh: bool) -> String {
        let random = || uuid::Uuid::new_v4().to_string();
        if fresh {
            return random();
        }
        let mut candidates = Vec::new();
        if let Some(stem) = name.strip_suffix("Id") {
            let mut chars = stem.chars();
            if let Some(first) = chars.next() {
                candidates.push(first.to_uppercase().chain(chars).collect::<String>());
            }
        } else if name == "id" {
            candidates.push(owner.ty.name().to_owned());
            let mut known: Vec<String> = self.ids.keys().cloned().collect();
            known.sort_by_key(|k| std::cmp::Reverse(k.len()));
            candidates.extend(
                known
                    .into_iter()
                    .filter(|k| owner.name.ends_with(k.as_str())),
            );
        }
        for ty in candidates {
            if let Some(id) = self.take_id(&ty) {
                return id;
            }
        }
        random()
    }

    /// A valid text for a `String` argument `name`.
    fn text_for(&mut self, name: &str, fresh: bool) -> String {
        let n = self.next();
        let lower = name.to_lowercase();
        if !fresh {
            if let Some(value) = self.texts.get_mut(name).and_then(Vec::pop) {
                return value;
            }
            if lower == "token"
                && let Some((token, email)) = self.invites.pop()
            {
                self.used_invite = Some((token.clone(), email));
                return token;
            }
        }
        if lower.contains("email") {
            format!("walk{n}@example.com")
        } else if lower.contains("timezone") {
            "UTC".into()
        } else if lower.contains("password") {
            "walk-password-0123456".into()
        } else if lower.contains("number") {
            format!("W-{n}")
        } else if lower.contains("url") {
            format!("https://example.com/walk/{n}")
        } else {
            format!("Walk {n}")
        }
    }

    /// Whether a valid call gives input field `input`: when it must, and when it is an input
    /// object with required fields of its own (`CheckInInput.visitor`: the schema cannot say
    /// that a check-in needs a visitor unless it has a code).
    fn fills(&self, input: &InputValue) -> bool {
        input.must_give()
            || self.schema.types.get(input.ty.name()).is_some_and(|t| {
                t.kind == "INPUT_OBJECT" && t.input_fields.iter().any(InputValue::must_give)
            })
    }

    /// A valid literal of `ty` for an argument or input field `name` of `owner`. `fresh`:
    /// random ids and no pooled values (a probe that must change nothing).
    fn valid(&mut self, ty: &Ty, name: &str, owner: &Field, fresh: bool) -> String {
        match ty {
            Ty::NonNull(inner) => self.valid(inner, name, owner, fresh),
            Ty::List(inner) => format!("[{}]", self.valid(inner, name, owner, fresh)),
            Ty::Named(type_name) => {
                let def = self.schema.get(type_name).clone();
                match (def.kind.as_str(), type_name.as_str()) {
                    ("ENUM", _) => def.enum_values.first().cloned().expect("enum value"),
                    ("INPUT_OBJECT", _) => {
                        let given: Vec<InputValue> = def
                            .input_fields
                            .iter()
                            .filter(|f| self.fills(f))
                            .cloned()
                            .collect();
                        let fields: Vec<String> = given
                            .iter()
                            .map(|f| {
                                format!("{}: {}", f.name, self.valid(&f.ty, &f.name, owner, fresh))
                            })
                            .collect();
                        format!("{{ {} }}", fields.join(", "))
                    }
                    (_, "Int") => "1".into(),
                    (_, "Float") => "1.5".into(),
                    (_, "Boolean") => "false".into(),
                    (_, "ID") => literal(&self.id_for(name, owner, fresh)),
                    (_, "String") => literal(&self.text_for(name, fresh)),
                    (_, "DateTime") => {
                        let days = if name == "from" { -1 } else { 1 };
                        literal(&(chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339())
                    }
                    (_, "Decimal") => literal("1.00"),
                    _ => literal("walk"),
                }
            }
        }
    }

    /// The literal of the argument or input field on `path`, with `hole` at its end.
    fn value_on_path(
        &mut self,
        ty: &Ty,
        path: &[String],
        hole: &str,
        owner: &Field,
        fresh: bool,
    ) -> String {
        if path.is_empty() {
            return if ty.is_list() {
                format!("[{hole}]")
            } else {
                hole.to_owned()
            };
        }
        let def = self.schema.get(ty.name()).clone();
        let mut fields = Vec::new();
        for input in &def.input_fields {
            if input.name == path[0] {
                let inner = self.value_on_path(&input.ty, &path[1..], hole, owner, fresh);
                fields.push(format!("{}: {inner}", input.name));
            } else if self.fills(input) {
                let inner = self.valid(&input.ty, &input.name, owner, fresh);
                fields.push(format!("{}: {inner}", input.name));
            }
        }
        let object = format!("{{ {} }}", fields.join(", "));
        if ty.is_list() {
            format!("[{object}]")
        } else {
            object
        }
    }

    /// The operation calling `target`'s field as `t`, with the value under test in `hole`.
    fn operation(&mut self, target: &Target, hole: Hole<'_>, fresh: bool) -> String {
        self.used_invite = None;
        let hole_text = match hole {
            Hole::Variable => "$v".to_owned(),
            Hole::Inline(text) => text.to_owned(),
        };
        let field = target.field.clone();
        let mut args = Vec::new();
        for arg in &field.args {
            if arg.name == target.path[0] {
                let value =
                    self.value_on_path(&arg.ty, &target.path[1..], &hole_text, &field, fresh);
                args.push(format!("{}: {value}", arg.name));
            } else if arg.must_give() {
                let value = self.valid(&arg.ty, &arg.name, &field, fresh);
                args.push(format!("{}: {value}", arg.name));
            }
        }
        let var_type = if target.ty.is_list() || target.ty.required() {
            format!("{}!", target.ty.name())
        } else {
            target.ty.name().to_owned()
        };
        let declaration = match hole {
            Hole::Variable => format!("($v: {var_type})"),
            Hole::Inline(_) => String::new(),
        };
        format!(
            "{}{declaration} {{ t: {}({}) {} }}",
            target.root.keyword(),
            field.name,
            args.join(", "),
            self.schema.selection(field.ty.name(), 2)
        )
    }

    /// Who calls `target`: the staff user, unless a probe with valid values is refused to
    /// them (`FORBIDDEN`, `UNAUTHENTICATED`) and not to the client user.
    async fn caller(&mut self, target: &Target) -> String {
        let leaf = target.path.last().cloned().unwrap_or_default();
        let probe_value = match target.ty.name() {
            "ID" => json!(uuid::Uuid::new_v4().to_string()),
            "DateTime" => json!(chrono::Utc::now().to_rfc3339()),
            _ => json!(self.text_for(&leaf, true)),
        };
        let query = self.operation(target, Hole::Variable, true);
        let refused = |body: &Value| {
            body["errors"].as_array().into_iter().flatten().any(|e| {
                matches!(
                    e["extensions"]["code"].as_str(),
                    Some("FORBIDDEN" | "UNAUTHENTICATED")
                )
            })
        };
        for token in [self.staff.clone(), self.client.clone()] {
            if let Ok((_, body)) =
                post_graphql(&self.app, Some(&token), &query, json!({"v": probe_value})).await
                && !refused(&body)
            {
                return token;
            }
        }
        self.staff.clone()
    }

    /// Where the text sent on `path` comes back in what `field` returns: the same path (or
    /// a shorter tail of it) from the returned object or one of its object fields, ending
    /// in a `String` field.
    fn stored_path(&self, field: &Field, path: &[String]) -> Option<Vec<String>> {
        let resolve = |mut ty: String, tail: &[String]| -> Option<Vec<String>> {
            let mut out = Vec::new();
            for (i, segment) in tail.iter().enumerate() {
                let f = self.schema.field(&ty, segment)?;
                if f.args.iter().any(InputValue::must_give) || f.ty.is_list() {
                    return None;
                }
                out.push(segment.clone());
                ty = f.ty.name().to_owned();
                if i + 1 == tail.len() {
                    return (ty == "String").then_some(out);
                }
            }
            None
        };
        let returned = field.ty.name().to_owned();
        for k in 0..path.len() {
            if let Some(found) = resolve(returned.clone(), &path[k..]) {
                return Some(found);
            }
        }
        let objects: Vec<Field> = self
            .schema
            .types
            .get(&returned)
            .map(|t| t.fields.clone())
            .unwrap_or_default();
        for object in objects {
            if self.schema.is_leaf(object.ty.name()) || object.ty.is_list() {
                continue;
            }
            for k in 0..path.len() {
                if let Some(found) = resolve(object.ty.name().to_owned(), &path[k..]) {
                    let mut full = vec![object.name.clone()];
                    full.extend(found);
                    return Some(full);
                }
            }
        }
        None
    }

    /// The object type at `path` below `root_ty`.
    fn type_at(&self, root_ty: &str, path: &[String]) -> String {
        let mut ty = root_ty.to_owned();
        for segment in path {
            ty = self
                .schema
                .field(&ty, segment)
                .map(|f| f.ty.name().to_owned())
                .unwrap_or_default();
        }
        ty
    }

    /// Reads field `leaf` of the `ty` with `id` (or of the only `ty`, for a type without
    /// ids) through a query, as `token`: `None` when no query field serves `ty`;
    /// `Some(Err)` when one does and the object is not in it.
    async fn read_back(
        &self,
        token: &str,
        ty: &str,
        id: Option<&str>,
        leaf: &str,
    ) -> Option<Result<Value, String>> {
        let fields = self.schema.root_fields(Root::Query);
        let named = |f: &Field| f.ty.name() == ty && !f.ty.is_list();
        let must = |f: &Field| -> Vec<String> {
            f.args
                .iter()
                .filter(|a| a.must_give())
                .map(|a| a.name.clone())
                .collect()
        };
        let run = |query: String, variables: Value| async move {
            match post_graphql(&self.app, Some(token), &query, variables).await {
                Ok((_, body)) if body["errors"].is_null() => Ok(body["data"]["r"].clone()),
                Ok((_, body)) => Err(format!("read back: {}", short(&body.to_string()))),
                Err(e) => Err(e),
            }
        };
        match id {
            Some(id) => {
                if let Some(f) = fields.iter().find(|f| named(f) && must(f) == ["id"]) {
                    let query = format!("query($id: ID!){{ r: {}(id: $id) {{ {leaf} }} }}", f.name);
                    return Some(run(query, json!({"id": id})).await.map(|r| r[leaf].clone()));
                }
                if let Some(f) = fields
                    .iter()
                    .find(|f| f.ty.name() == ty && f.ty.is_list() && must(f).is_empty())
                {
                    let query = format!("{{ r: {} {{ id {leaf} }} }}", f.name);
                    return Some(run(query, json!({})).await.and_then(|r| {
                        r.as_array()
                            .into_iter()
                            .flatten()
                            .find(|o| o["id"] == id)
                            .map(|o| o[leaf].clone())
                            .ok_or_else(|| format!("{ty} {id} is not in {}", f.name))
                    }));
                }
                let paged = fields.iter().find(|f| {
                    must(f).is_empty()
                        && f.args.iter().any(|a| a.name == "first")
                        && f.args.iter().any(|a| a.name == "after")
                        && self
                            .schema
                            .field(f.ty.name(), "nodes")
                            .is_some_and(|n| n.ty.name() == ty)
                })?;
                let mut after = Value::Null;
                for _ in 0..20 {
                    let query = format!(
                        "query($a: String){{ r: {}(first: 100, after: $a) {{ nodes {{ id {leaf} }} \
                         pageInfo {{ hasNextPage endCursor }} }} }}",
                        paged.name
                    );
                    let page = match run(query, json!({"a": after})).await {
                        Ok(page) => page,
                        Err(e) => return Some(Err(e)),
                    };
                    if let Some(found) = page["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|o| o["id"] == id)
                    {
                        return Some(Ok(found[leaf].clone()));
                    }
                    if page["pageInfo"]["hasNextPage"] != true {
                        break;
                    }
                    after = page["pageInfo"]["endCursor"].clone();
                }
                Some(Err(format!("{ty} {id} is not in {}", paged.name)))
            }
            None => {
                let f = fields.iter().find(|f| named(f) && must(f).is_empty())?;
                let query = format!("{{ r: {} {{ {leaf} }} }}", f.name);
                Some(run(query, json!({})).await.map(|r| r[leaf].clone()))
            }
        }
    }
}

/// What the walk saw.
#[derive(Default)]
struct Tally {
    calls: usize,
    targets: usize,
    codes: BTreeMap<String, usize>,
    successes: usize,
    answered_same: usize,
    read_back: usize,
    failures: Vec<String>,
}

impl Tally {
    fn fail(&mut self, what: String) {
        self.failures.push(what);
    }

    fn count(&mut self, body: &Value) {
        for error in body["errors"].as_array().into_iter().flatten() {
            let code = error["extensions"]["code"].as_str().unwrap_or("none");
            *self.codes.entry(code.to_owned()).or_default() += 1;
        }
    }

    fn assert_clean(&self, what: &str) {
        eprintln!(
            "{what}: {} targets, {} calls, {} successes, {} stored texts answered the same, \
             {} read back through a query; error codes {:?}",
            self.targets,
            self.calls,
            self.successes,
            self.answered_same,
            self.read_back,
            self.codes
        );
        assert!(
            self.failures.is_empty(),
            "{} hostile inputs were not handled cleanly:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// Calls `target` with `value` in `hole` and judges the answer; a mutation that succeeds
/// must store the text as sent.
async fn attack(
    world: &mut World,
    tally: &mut Tally,
    target: &Target,
    token: &str,
    label: &str,
    value: &str,
    inline: bool,
) {
    let literal_text = literal(value);
    let hole = if inline {
        Hole::Inline(&literal_text)
    } else {
        Hole::Variable
    };
    let query = world.operation(target, hole, false);
    let invite = world.used_invite.clone();
    let variables = if inline {
        json!({})
    } else {
        json!({"v": value})
    };
    let how = if inline { "inline" } else { "variable" };
    let what = format!("{} = {label} ({how})", target.name());
    tally.calls += 1;
    let (status, body) = match post_graphql(&world.app, Some(token), &query, variables).await {
        Ok(answer) => answer,
        Err(e) => return tally.fail(format!("{what}: {e}")),
    };
    tally.count(&body);
    if let Err(e) = judge(status, &body) {
        return tally.fail(format!("{what}: {e}\n    {}", short(&query)));
    }
    // PostgreSQL's text cannot hold U+0000: it is refused as bad input on every backend.
    if value.contains('\0') && code(&body) != Some("BAD_USER_INPUT") {
        return tally.fail(format!(
            "{what}: NUL not refused with BAD_USER_INPUT: {}",
            short(&body.to_string())
        ));
    }
    let refused = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["path"][0] == "t" || e["path"].is_null());
    let data = &body["data"]["t"];
    if refused || data.is_null() {
        return;
    }
    tally.successes += 1;
    if target.root != Root::Mutation {
        return;
    }
    // `setPassword` stores a password nobody can read: it must sign the user in.
    if target.field.name == "setPassword" && target.path == ["password"] {
        let Some((_, email)) = invite else {
            return;
        };
        let login = "mutation($t: ID!, $e: String!, $p: String!){ login(tenantId:$t, email:$e, \
                     password:$p){ token } }";
        let answer = post_graphql(
            &world.app,
            None,
            login,
            json!({"t": support::tenant_id(TENANT), "e": email, "p": value}),
        )
        .await;
        match answer {
            Ok((_, body)) if body["data"]["login"]["token"].is_string() => tally.read_back += 1,
            other => tally.fail(format!(
                "{what}: the password set does not sign in: {other:?}"
            )),
        }
        return;
    }
    let Some(path) = world.stored_path(&target.field, &target.path) else {
        return;
    };
    let mut stored = data;
    for segment in &path {
        stored = &stored[segment.as_str()];
    }
    match stored {
        Value::String(_) | Value::Null if reads_back(stored.as_str(), value) => {
            tally.answered_same += 1;
        }
        _ => {
            return tally.fail(format!(
                "{what}: stored as {}, sent {}",
                short(&stored.to_string()),
                short(&literal(value))
            ));
        }
    }
    let (owner_path, leaf) = path.split_at(path.len() - 1);
    let owner_ty = world.type_at(target.field.ty.name(), owner_path);
    let mut owner = data;
    for segment in owner_path {
        owner = &owner[segment.as_str()];
    }
    let id = owner["id"].as_str();
    match world.read_back(token, &owner_ty, id, &leaf[0]).await {
        None => {}
        Some(Ok(again))
            if (again.is_string() || again.is_null()) && reads_back(again.as_str(), value) =>
        {
            tally.read_back += 1;
        }
        Some(other) => tally.fail(format!(
            "{what}: reads back as {}, sent {}",
            short(&format!("{other:?}")),
            short(&literal(value))
        )),
    }
}

async fn assert_healthy(app: &TestApp, staff: &str) {
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("the server answers after the walk");
    assert_eq!(health.status().as_u16(), 200);
    app.ok(
        staff,
        "{ me { kind } locations { id name } visits { totalCount } }",
        json!({}),
    )
    .await;
}

on_every_backend!(
    every_text_argument_refuses_or_stores_hostile_input,
    |backend: Backend| {
        let mut world = World::new(backend, POOL).await;
        let mut tally = Tally::default();
        let mut all = targets(&world.schema, Root::Query);
        all.extend(targets(&world.schema, Root::Mutation));
        assert!(all.len() > 40, "the walk found only {} targets", all.len());
        tally.targets = all.len();
        let values = hostile_values();
        for target in &all {
            let token = world.caller(target).await;
            for (label, value) in &values {
                attack(&mut world, &mut tally, target, &token, label, value, false).await;
            }
            for (label, value) in values.iter().filter(|(l, _)| INLINE.contains(l)) {
                attack(&mut world, &mut tally, target, &token, label, value, true).await;
            }
        }
        let staff = world.staff.clone();
        assert_healthy(&world.app, &staff).await;
        // Injected SQL changed nothing: the first visit is there as it was checked in.
        let visit = world.ids["Visit"][0].clone();
        let data = world
            .ok(
                &staff,
                "query($v: ID!){ visit(id:$v){ visitor{ name } } }",
                json!({"v": visit}),
            )
            .await;
        assert_eq!(data["visit"]["visitor"]["name"], "Walk Visitor");
        tally.assert_clean("hostile arguments");
        assert!(tally.read_back > 0 && tally.answered_same > 0);
    }
);

/// A clear answer from a REST endpoint: HTTP status below 500 and, on an error, a code
/// other than `INTERNAL`.
fn judge_rest(status: u16, body: &Value) -> Result<(), String> {
    if status >= 500 {
        return Err(format!("HTTP {status}: {}", short(&body.to_string())));
    }
    if status >= 400 {
        let code = body["error"]["code"]
            .as_str()
            .or_else(|| body["errors"][0]["extensions"]["code"].as_str());
        match code {
            None => {
                return Err(format!(
                    "HTTP {status} without a code: {}",
                    short(&body.to_string())
                ));
            }
            Some("INTERNAL") => return Err(format!("HTTP {status} INTERNAL: {body}")),
            Some(_) => {}
        }
    }
    Ok(())
}

/// `text` percent-encoded for a query string.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn nested(open: &str, inner: &str, close: &str, depth: usize) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

/// Request bodies for `POST /graphql` that no argument walk can send: over the size limit,
/// deep, wide, not UTF-8, lone surrogates, not a request. (label, body, expected status).
fn malformed_graphql_bodies() -> Vec<(&'static str, Vec<u8>, Option<u16>)> {
    let search = "query($v: String){ hosts(search: $v){ totalCount } }";
    let with_vars =
        |vars: &str| format!(r#"{{"query":{},"variables":{vars}}}"#, literal(search)).into_bytes();
    let with_query = |query: &str| format!(r#"{{"query":{}}}"#, literal(query)).into_bytes();
    let wide_list = format!("[{}]", vec!["\"a\""; 100_000].join(","));
    let wide_object = format!(
        "{{{}}}",
        (0..100_000)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    vec![
        (
            "a body over 1 MiB",
            with_vars(&format!(r#"{{"v":{}}}"#, literal(&"x".repeat((1 << 20) + 16)))),
            Some(413),
        ),
        (
            "a 10,000-deep array in the variables",
            with_vars(&format!(r#"{{"v":{}}}"#, nested("[", "", "]", 10_000))),
            Some(400),
        ),
        (
            "a 10,000-deep object in the variables",
            with_vars(&format!(r#"{{"v":{}}}"#, nested(r#"{"a":"#, "1", "}", 10_000))),
            Some(400),
        ),
        (
            "a 100,000-element list for a String",
            with_vars(&format!(r#"{{"v":{wide_list}}}"#)),
            None,
        ),
        ("100,000 variables", with_vars(&wide_object), None),
        (
            "a 100,000-element list inline",
            with_query(&format!(
                "{{ hosts(search: [{}]) {{ totalCount }} }}",
                vec!["1"; 100_000].join(",")
            )),
            None,
        ),
        (
            "a 10,000-deep list inline",
            with_query(&format!(
                "{{ hosts(search: {}) {{ totalCount }} }}",
                nested("[", "", "]", 10_000)
            )),
            None,
        ),
        (
            "a 10,000-deep object inline",
            with_query(&format!(
                "{{ hosts(search: {}) {{ totalCount }} }}",
                nested("{a: ", "1", "}", 10_000)
            )),
            None,
        ),
        (
            "10,000 nested selections",
            with_query(&nested("{ me ", "{ kind }", "}", 10_000)),
            None,
        ),
        (
            "invalid UTF-8 in the query",
            b"{\"query\":\"{ me { kind } }\xff\xfe\"}".to_vec(),
            Some(400),
        ),
        (
            "invalid UTF-8 in a variable",
            with_vars("{\"v\":\"a\u{0}\"}")
                .into_iter()
                .map(|b| if b == 0 { 0xc3 } else { b })
                .collect(),
            Some(400),
        ),
        (
            "an overlong NUL in a variable",
            [
                &with_vars(r#"{"v":"a"#)[..],
                b"\xc0\x80\"}}",
            ]
            .concat()
            .into_iter()
            .collect(),
            Some(400),
        ),
        ("a lone high surrogate in a variable", with_vars(r#"{"v":"\ud800"}"#), Some(400)),
        ("a lone low surrogate in a variable", with_vars(r#"{"v":"\udc00"}"#), Some(400)),
        (
            "a high surrogate before a letter",
            with_vars(r#"{"v":"\ud800\u0041"}"#),
            Some(400),
        ),
        (
            "a lone surrogate in the query text",
            br#"{"query":"{ hosts(search: \"\ud800\") { totalCount } }"}"#.to_vec(),
            Some(400),
        ),
        (
            "a lone surrogate as a GraphQL escape",
            with_query(r#"{ hosts(search: "\ud800") { totalCount } }"#),
            None,
        ),
        (
            "a raw NUL in a block string",
            with_query("{ hosts(search: \"\"\"a\u{0}b\"\"\") { totalCount } }"),
            None,
        ),
        (
            "raw control characters in the document",
            with_query("{ me\u{1}\u{7f} { kind\u{0} } }"),
            None,
        ),
        ("an empty body", Vec::new(), Some(400)),
        ("not JSON", b"{{{{".to_vec(), Some(400)),
        ("a JSON string", br#""{ me { kind } }""#.to_vec(), Some(400)),
        ("JSON null", b"null".to_vec(), Some(400)),
        ("a number for the query", br#"{"query": 42}"#.to_vec(), Some(400)),
        ("an array for the variables", with_vars("[1,2]"), None),
        ("a huge number in a variable", with_vars(r#"{"v":1e999999}"#), Some(400)),
        (
            "a huge integer for an Int",
            br#"{"query":"query($f: Int){ hosts(first: $f){ totalCount } }","variables":{"f":123456789012345678901234567890}}"#.to_vec(),
            None,
        ),
    ]
}

on_every_backend!(malformed_requests_get_a_clear_error, |app| {
    let staff = app.admin(TENANT).await;
    let mut failures = Vec::new();
    let mut sent = 0;
    for (label, body, expected) in malformed_graphql_bodies() {
        sent += 1;
        match post_raw(&app, "/graphql", Some(&staff), "application/json", body).await {
            Err(e) => failures.push(format!("{label}: {e}")),
            Ok((status, answer)) => {
                if let Err(e) = judge(status, &answer) {
                    failures.push(format!("{label}: {e}"));
                } else if expected.is_some_and(|s| s != status) {
                    failures.push(format!(
                        "{label}: HTTP {status}, expected {expected:?}: {answer}"
                    ));
                } else if answer["errors"].as_array().is_none_or(Vec::is_empty) {
                    failures.push(format!("{label}: accepted: {}", short(&answer.to_string())));
                }
            }
        }
    }
    // The size limit's code, as the contract states it.
    let (status, answer) = post_raw(
        &app,
        "/graphql",
        Some(&staff),
        "application/json",
        malformed_graphql_bodies().remove(0).1,
    )
    .await
    .expect("an answer");
    assert_eq!(
        (status, code(&answer)),
        (413, Some("QUERY_TOO_COMPLEX")),
        "{answer}"
    );

    // GET /graphql with hostile query strings.
    for (label, query) in [
        ("invalid UTF-8", "query=%FF%FE%7B"),
        ("a NUL", "query=%7B%20me%20%7B%20kind%20%7D%20%7D%00"),
        (
            "a lone surrogate in the variables",
            "query=query(%24v%3AString)%7Bhosts(search%3A%24v)%7BtotalCount%7D%7D&variables=%7B%22v%22%3A%22%5Cud800%22%7D",
        ),
        (
            "a NUL in the variables",
            "query=query(%24v%3AString)%7Bhosts(search%3A%24v)%7BtotalCount%7D%7D&variables=%7B%22v%22%3A%22a%5Cu0000b%22%7D",
        ),
        (
            "deep variables",
            &format!(
                "query=%7B%20me%20%7B%20kind%20%7D%20%7D&variables={}",
                nested("%5B", "", "%5D", 5_000)
            ),
        ),
    ] {
        sent += 1;
        let response = app
            .client
            .get(format!("{}/graphql?{query}", app.base))
            .bearer_auth(&staff)
            .header("Accept", "application/json")
            .send()
            .await;
        match response {
            Err(e) => failures.push(format!("GET with {label}: no answer: {e}")),
            Ok(response) => {
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                if let Err(e) = judge(status, &answer) {
                    failures.push(format!("GET with {label}: {e}"));
                }
            }
        }
    }

    // The REST endpoints, with the same hostile values in each string field and bodies
    // that are not JSON.
    let contact = json!({
        "tenant_id": support::tenant_id(TENANT), "contact_id": "walk-contact",
        "company_id": COMPANY, "email": "walk-contact@example.com", "name": "Walk Contact",
        "portal_access": true, "role": "client_user", "mission_member_id": "m-1",
    });
    let policy = json!({
        "tenant_id": support::tenant_id(TENANT), "policy_id": "walk", "version": 1,
        "title": "Walk policy", "document_url": "https://legal.example.com/walk.pdf",
        "content_sha256": "0".repeat(64), "company_ids": [COMPANY],
        "due_at": "2099-01-31T17:00:00Z",
    });
    let mut rest: Vec<(String, &str, Option<&str>, Vec<u8>)> = Vec::new();
    for (label, value) in hostile_values() {
        rest.push((
            format!("client-hub-sso token = {label}"),
            "/api/auth/client-hub-sso",
            None,
            serde_json::to_vec(&json!({"token": value})).unwrap(),
        ));
        for (key, _) in contact
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.is_string())
        {
            let mut body = contact.clone();
            body[key] = json!(value);
            if key == "email" || key == "contact_id" {
                // A fresh user each time, so a stored name is the one just sent.
            } else {
                body["email"] = json!(format!("walk-{}@example.com", rest.len()));
                body["contact_id"] = json!(format!("walk-contact-{}", rest.len()));
            }
            rest.push((
                format!("PSA contact {key} = {label}"),
                "/internal/psa/contacts",
                Some(PSA_KEY),
                serde_json::to_vec(&body).unwrap(),
            ));
        }
        for key in [
            "tenant_id",
            "policy_id",
            "title",
            "document_url",
            "content_sha256",
            "due_at",
        ] {
            let mut body = policy.clone();
            body[key] = json!(value);
            rest.push((
                format!("signing push {key} = {label}"),
                "/internal/signing/push",
                Some(support::legal::PORTAL_KEY),
                serde_json::to_vec(&body).unwrap(),
            ));
        }
        let mut body = policy.clone();
        body["company_ids"] = json!([value]);
        rest.push((
            format!("signing push company_ids = {label}"),
            "/internal/signing/push",
            Some(support::legal::PORTAL_KEY),
            serde_json::to_vec(&body).unwrap(),
        ));
    }
    for path in [
        "/api/auth/client-hub-sso",
        "/internal/psa/contacts",
        "/internal/signing/push",
    ] {
        for (label, body, _) in malformed_graphql_bodies() {
            let key = match path {
                "/internal/psa/contacts" => Some(PSA_KEY),
                "/internal/signing/push" => Some(support::legal::PORTAL_KEY),
                _ => None,
            };
            rest.push((format!("{path}: {label}"), path, key, body));
        }
    }
    for (label, path, key, body) in rest {
        sent += 1;
        let mut request = app
            .client
            .post(format!("{}{path}", app.base))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.header("X-Integration-Key", key);
        }
        match request.send().await {
            Err(e) => failures.push(format!("{label}: no answer: {e}")),
            Ok(response) => {
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                if let Err(e) = judge_rest(status, &answer) {
                    failures.push(format!("{label}: {e}"));
                }
            }
        }
    }
    // The CSV export's query parameters.
    for (label, value) in hostile_values().into_iter().filter(|(l, _)| *l != "900KiB") {
        for key in ["from", "to", "location_id"] {
            sent += 1;
            let response = app
                .client
                .get(format!(
                    "{}/api/reports/visits.csv?{key}={}",
                    app.base,
                    percent(&value)
                ))
                .bearer_auth(&staff)
                .send()
                .await;
            match response {
                Err(e) => failures.push(format!("CSV {key} = {label}: no answer: {e}")),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if (status >= 400 || text.starts_with('{'))
                        && let Err(e) = judge_rest(status, &answer)
                    {
                        failures.push(format!("CSV {key} = {label}: {e}"));
                    }
                }
            }
        }
    }
    // Credentials that are themselves hostile.
    for (label, value) in hostile_values().into_iter().filter(|(l, _)| *l != "900KiB") {
        let Ok(header) =
            reqwest::header::HeaderValue::from_bytes(format!("Bearer {value}").as_bytes())
        else {
            continue;
        };
        sent += 1;
        let answer = app
            .client
            .post(format!("{}/graphql", app.base))
            .header("Authorization", header)
            .json(&json!({"query": "{ me { kind } }"}))
            .send()
            .await;
        match answer {
            Err(e) => failures.push(format!("bearer {label}: no answer: {e}")),
            Ok(response) => {
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                if let Err(e) = judge_rest(status, &answer) {
                    failures.push(format!("bearer {label}: {e}"));
                }
            }
        }
    }
    eprintln!("malformed requests: {sent} sent");
    assert_healthy(&app, &staff).await;
    assert!(
        failures.is_empty(),
        "{} requests were not answered cleanly:\n{}",
        failures.len(),
        failures.join("\n")
    );
});

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `graphql-transport-ws` connection, initialised with `token`.
async fn ws_connect(app: &TestApp, token: Option<&str>) -> Ws {
    let mut request = app.ws_url().into_client_request().expect("ws request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect");
    if let Some(token) = token {
        let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
        ws.send(Message::text(init.to_string()))
            .await
            .expect("init");
        match ws_next(&mut ws, Duration::from_secs(5)).await {
            Some(WsEvent::Message(m)) if m["type"] == "connection_ack" => {}
            other => panic!("no connection_ack: {other:?}"),
        }
    }
    ws
}

#[derive(Debug)]
enum WsEvent {
    Message(Value),
    Closed(Option<u16>),
}

/// The next protocol message or close within `within`; `None` when nothing came.
async fn ws_next(ws: &mut Ws, within: Duration) -> Option<WsEvent> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next()).await.ok()?;
        match next {
            None | Some(Err(_)) => return Some(WsEvent::Closed(None)),
            Some(Ok(Message::Text(text))) => {
                return Some(WsEvent::Message(
                    serde_json::from_str(text.as_str()).unwrap_or(Value::Null),
                ));
            }
            Some(Ok(Message::Close(frame))) => {
                return Some(WsEvent::Closed(frame.map(|f| u16::from(f.code))));
            }
            Some(Ok(_)) => {}
        }
    }
}

/// A clear WebSocket answer: an `error` or `next` whose errors carry codes other than
/// `INTERNAL`, `complete`, or a close with a protocol code below 4500 (not 1011).
fn judge_ws(event: &WsEvent) -> Result<(), String> {
    match event {
        WsEvent::Message(m) => match m["type"].as_str() {
            Some("error") => judge(200, &json!({"errors": m["payload"]})),
            Some("next") => judge(200, &m["payload"]),
            Some("complete" | "pong" | "ping") => Ok(()),
            _ => Err(format!("an unexpected message: {m}")),
        },
        WsEvent::Closed(Some(code)) if *code >= 4500 || *code == 1011 => {
            Err(format!("closed with {code}"))
        }
        WsEvent::Closed(_) => Ok(()),
    }
}

on_every_backend!(
    subscriptions_refuse_or_accept_hostile_input,
    |backend: Backend| {
        let mut world = World::new(backend, 0).await;
        let staff = world.staff.clone();
        let targets = targets(&world.schema, Root::Subscription);
        assert!(!targets.is_empty(), "no subscription takes text");
        let mut failures = Vec::new();
        let mut sent = 0;
        let location = world.ids["Location"][0].clone();
        for target in &targets {
            let mut ws = ws_connect(&world.app, Some(&staff)).await;
            let mut ids = Vec::new();
            for (n, (label, value)) in hostile_values().iter().enumerate() {
                let literal_text = literal(value);
                for inline in [false, true] {
                    if inline && !INLINE.contains(label) {
                        continue;
                    }
                    let hole = if inline {
                        Hole::Inline(&literal_text)
                    } else {
                        Hole::Variable
                    };
                    let query = world.operation(target, hole, false);
                    let id = format!("{n}-{inline}");
                    let variables = if inline {
                        json!({})
                    } else {
                        json!({"v": value})
                    };
                    let subscribe = json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}});
                    sent += 1;
                    if ws.send(Message::text(subscribe.to_string())).await.is_err() {
                        failures.push(format!(
                            "{} = {label}: the connection is gone",
                            target.name()
                        ));
                    }
                    ids.push((
                        id,
                        format!("{} = {label} (inline: {inline})", target.name()),
                    ));
                }
            }
            // An event for the subscriptions that are live.
            world
                .app
                .check_in(&staff, &location, "Walk Subscriber")
                .await;
            while let Some(event) = ws_next(&mut ws, Duration::from_millis(700)).await {
                let closed = matches!(event, WsEvent::Closed(_));
                if let Err(e) = judge_ws(&event) {
                    let what = match &event {
                        WsEvent::Message(m) => ids
                            .iter()
                            .find(|(id, _)| m["id"] == id.as_str())
                            .map(|(_, what)| what.clone())
                            .unwrap_or_default(),
                        WsEvent::Closed(_) => target.name(),
                    };
                    failures.push(format!("{what}: {e}"));
                }
                if closed {
                    break;
                }
            }
            let _ = ws.close(None).await;
        }

        // Frames no client library would send.
        let deep = nested("[", "", "]", 10_000);
        let frames: Vec<(&str, Message)> = vec![
        ("invalid UTF-8 in a binary frame", Message::binary(b"{\"type\":\"\xff\xfe\"}".to_vec())),
        ("a lone surrogate", Message::text(r#"{"id":"1","type":"subscribe","payload":{"query":"\ud800"}}"#)),
        ("a 10,000-deep message", Message::text(format!(r#"{{"id":"1","type":"subscribe","payload":{{"query":"{{ me {{ kind }} }}","variables":{{"v":{deep}}}}}}}"#))),
        ("a NUL in the id", Message::text(r#"{"id":"a\u0000b","type":"subscribe","payload":{"query":"subscription { visitorCheckedIn { id } }"}}"#)),
        ("a 900 KiB id", Message::text(json!({"id": big(), "type": "subscribe", "payload": {"query": "subscription { visitorCheckedIn { id } }"}}).to_string())),
        ("a NUL in the query", Message::text(r#"{"id":"1","type":"subscribe","payload":{"query":"subscription { visitorCheckedIn(locationId: \"\u0000\") { id } }"}}"#)),
        ("not JSON", Message::text("{{{{")),
    ];
        for (label, frame) in frames {
            sent += 1;
            let mut ws = ws_connect(&world.app, Some(&staff)).await;
            if ws.send(frame).await.is_err() {
                failures.push(format!("{label}: the connection is gone"));
                continue;
            }
            while let Some(event) = ws_next(&mut ws, Duration::from_millis(500)).await {
                if let Err(e) = judge_ws(&event) {
                    failures.push(format!("{label}: {e}"));
                }
                if matches!(event, WsEvent::Closed(_)) {
                    break;
                }
            }
        }
        // Hostile credentials in `connection_init`.
        for (label, value) in hostile_values() {
            sent += 1;
            let mut ws = ws_connect(&world.app, None).await;
            let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {value}")}});
            if ws.send(Message::text(init.to_string())).await.is_err() {
                failures.push(format!("connection_init {label}: the connection is gone"));
                continue;
            }
            match ws_next(&mut ws, Duration::from_secs(5)).await {
                Some(WsEvent::Closed(Some(4403))) => {}
                other => failures.push(format!(
                    "connection_init {label}: {other:?}, expected a 4403 close"
                )),
            }
        }
        eprintln!(
            "hostile subscriptions: {} targets, {sent} sent",
            targets.len()
        );
        // Still serving, over both transports.
        let _ws = ws_connect(&world.app, Some(&staff)).await;
        assert_healthy(&world.app, &staff).await;
        assert!(
            failures.is_empty(),
            "{} hostile subscriptions were not handled cleanly:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
);
