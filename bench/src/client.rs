//! Speaking to a server the way clients do: Hub SSO sign-in, GraphQL over HTTP, and the
//! validation of response bodies (an error body is never a success).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Result, report::one_line};

/// The issuer onegraph expects by default.
pub const ISSUER: &str = "https://my.theonestack.com";

/// The read-path query: a page of the visit log with each visit's visitor, location, host
/// and badge. The baseline answers it with the same statements and the same JSON.
pub const VISITS_QUERY: &str = "query Visits($first: Int!) { visits(first: $first) { pageInfo { hasNextPage endCursor } edges { cursor node { id status checkedInAt visitor { id name company } location { id name } host { id name } badge { id number } } } } }";

/// The write-path mutation.
pub const CHECK_IN: &str = "mutation CheckIn($l: ID!, $h: ID, $n: String!) { checkInVisitor(input: {locationId: $l, hostId: $h, visitor: {name: $n, company: \"Bench Ltd\"}, purpose: \"benchmark\"}) { id status checkedInAt visitor { id name } location { id name } host { id name } } }";

/// The fan-out subscription.
pub const CHECKED_IN_SUBSCRIPTION: &str = "subscription { visitorCheckedIn { id status checkedInAt visitor { id name } location { id name } host { id name } } }";

/// A GraphQL-over-HTTP client for one server.
#[derive(Clone)]
pub struct Api {
    /// The shared HTTP client.
    pub http: reqwest::Client,
    /// `http://127.0.0.1:port`.
    pub base: String,
}

/// A new HTTP client for loopback benchmarking: no proxy, keep-alive, no Nagle.
pub fn http_client(pool: usize) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(pool)
        .timeout(std::time::Duration::from_secs(30))
        .build()?)
}

impl Api {
    /// POSTs an operation and returns `data`; any `errors` entry is a failure.
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Result<Value> {
        let body = self
            .http
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await?
            .bytes()
            .await?;
        let value: Value = serde_json::from_slice(&body).map_err(|e| {
            format!(
                "not JSON ({e}): {}",
                one_line(&String::from_utf8_lossy(&body), 200)
            )
        })?;
        if value.get("errors").is_some() {
            return Err(format!("error body: {}", one_line(&value.to_string(), 300)).into());
        }
        value
            .get("data")
            .cloned()
            .ok_or_else(|| format!("no data: {}", one_line(&value.to_string(), 300)).into())
    }

    /// Signs a staff user of `tenant` in with every Visitor permission: mints a Hub SSO
    /// token with `secret` and exchanges it for a session token.
    pub async fn sign_in(&self, secret: &str, tenant: &str, label: &str) -> Result<String> {
        let claims = staff_claims(
            tenant,
            &format!("bench-{label}-{}", uuid::Uuid::new_v4()),
            label,
        );
        let token = onegraph::auth::sso::mint(&claims, secret)?;
        let (status, body) = self.sso_exchange(&token).await?;
        body["session_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("sign-in failed ({status}): {body}").into())
    }

    /// POSTs a Hub SSO token to `/api/auth/client-hub-sso`: the status and the JSON body.
    pub async fn sso_exchange(&self, token: &str) -> Result<(reqwest::StatusCode, Value)> {
        let response = self
            .http
            .post(format!("{}/api/auth/client-hub-sso", self.base))
            .json(&json!({"token": token}))
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        let value = serde_json::from_slice(&body).map_err(|e| {
            format!(
                "sign-in answered {status} with a body that is not JSON ({e}): {}",
                one_line(&String::from_utf8_lossy(&body), 200)
            )
        })?;
        Ok((status, value))
    }
}

/// Hub SSO claims of a staff user `sub` of `tenant` with every Visitor permission, valid
/// for five minutes from now.
pub fn staff_claims(tenant: &str, sub: &str, label: &str) -> onegraph::auth::sso::MintClaims {
    let now = chrono::Utc::now().timestamp();
    onegraph::auth::sso::MintClaims {
        iss: ISSUER.into(),
        aud: "visitor".into(),
        sub: sub.to_owned(),
        email: Some(format!("{label}@bench.example.com")),
        name: Some(format!("Bench {label}")),
        role: Some("admin".into()),
        tenant_id: tenant.to_owned(),
        tenant_name: Some(format!("Bench {label}")),
        permissions: Some(onegraph::auth::PermissionSet::all_visitor().names()),
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now,
        exp: now + 300,
    }
}

/// A string field of `data` at a JSON pointer.
pub fn text(data: &Value, pointer: &str) -> Result<String> {
    data.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "no string at {pointer} in {}",
                one_line(&data.to_string(), 200)
            )
            .into()
        })
}

#[derive(Deserialize)]
struct ReadBody {
    data: Option<ReadData>,
    errors: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct ReadData {
    visits: Option<Connection>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    edges: Vec<Edge>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Edge {
    cursor: String,
    node: Node,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    id: String,
    status: String,
    checked_in_at: String,
    visitor: Named,
    location: Named,
    host: Option<Named>,
    badge: Option<Badge>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Badge {
    id: String,
    number: String,
}

/// Checks a read-path body: JSON, no `errors`, exactly `first` edges (the data set holds
/// more), each with its visitor, location, host and badge, and a consistent `pageInfo`.
pub fn validate_read(body: &[u8], first: usize) -> std::result::Result<(), String> {
    let parsed: ReadBody = serde_json::from_slice(body).map_err(|e| {
        format!(
            "unexpected body ({e}): {}",
            one_line(&String::from_utf8_lossy(body), 200)
        )
    })?;
    if parsed.errors.is_some() {
        return Err(format!(
            "error body: {}",
            one_line(&String::from_utf8_lossy(body), 200)
        ));
    }
    let visits = parsed
        .data
        .and_then(|d| d.visits)
        .ok_or("data.visits is null")?;
    if visits.edges.len() != first {
        return Err(format!("{} edges, expected {first}", visits.edges.len()));
    }
    if !visits.page_info.has_next_page {
        return Err("hasNextPage is false; the data set holds more visits".into());
    }
    for edge in &visits.edges {
        let n = &edge.node;
        let host = n.host.as_ref().ok_or("a visit without its host")?;
        let badge = n.badge.as_ref().ok_or("a visit without its badge")?;
        if edge.cursor.is_empty()
            || n.id.len() != 36
            || n.status.is_empty()
            || n.checked_in_at.is_empty()
            || n.visitor.id.is_empty()
            || n.visitor.name.is_empty()
            || n.location.id.is_empty()
            || n.location.name.is_empty()
            || host.id.is_empty()
            || host.name.is_empty()
            || badge.id.is_empty()
            || badge.number.is_empty()
        {
            return Err(format!("incomplete visit {}", n.id));
        }
    }
    if visits.page_info.end_cursor.as_deref() != visits.edges.last().map(|e| e.cursor.as_str()) {
        return Err("pageInfo.endCursor is not the last cursor".into());
    }
    Ok(())
}

/// Checks a `checkInVisitor` body: no `errors`, a visit id, and the visitor named `name`.
pub fn validate_check_in(body: &[u8], name: &str) -> std::result::Result<(), String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "unexpected body ({e}): {}",
            one_line(&String::from_utf8_lossy(body), 200)
        )
    })?;
    if value.get("errors").is_some() {
        return Err(format!("error body: {}", one_line(&value.to_string(), 300)));
    }
    let visit = &value["data"]["checkInVisitor"];
    let id_ok = visit["id"].as_str().is_some_and(|id| id.len() == 36);
    if !id_ok || visit["visitor"]["name"] != name || visit["status"] != "CHECKED_IN" {
        return Err(format!(
            "unexpected result: {}",
            one_line(&value.to_string(), 300)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_bodies_with_errors_are_failures() {
        let body = br#"{"data":{"visits":null},"errors":[{"message":"x"}]}"#;
        assert!(validate_read(body, 1).is_err());
        assert!(validate_read(b"not json", 1).is_err());
    }

    #[test]
    fn complete_read_bodies_pass() {
        let node = r#"{"id":"00000000-0000-0000-0000-000000000000","status":"CHECKED_OUT","checkedInAt":"t","visitor":{"id":"v","name":"n","company":null},"location":{"id":"l","name":"n"},"host":{"id":"h","name":"n"},"badge":{"id":"b","number":"1"}}"#;
        let body = format!(
            r#"{{"data":{{"visits":{{"edges":[{{"cursor":"c","node":{node}}}],"pageInfo":{{"hasNextPage":true,"endCursor":"c"}}}}}}}}"#
        );
        assert_eq!(validate_read(body.as_bytes(), 1), Ok(()));
        assert!(validate_read(body.as_bytes(), 2).is_err());
        let no_badge = body.replace(r#"{"id":"b","number":"1"}"#, "null");
        assert!(validate_read(no_badge.as_bytes(), 1).is_err());
    }

    #[test]
    fn check_in_errors_are_failures() {
        let ok = br#"{"data":{"checkInVisitor":{"id":"00000000-0000-0000-0000-000000000000","status":"CHECKED_IN","visitor":{"name":"A"}}}}"#;
        assert_eq!(validate_check_in(ok, "A"), Ok(()));
        assert!(validate_check_in(ok, "B").is_err());
        let err = br#"{"data":{"checkInVisitor":null},"errors":[{"message":"busy"}]}"#;
        assert!(validate_check_in(err, "A").is_err());
    }
}
