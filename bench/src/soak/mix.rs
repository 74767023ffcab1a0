//! The soak's mixed load, each kind paced at its own rate (not as fast as possible, so that
//! a slow minute shows as a lower rate and the server is never simply saturated):
//!
//! - reads: the read scenario's `visits(first: 50)` on the seeded read tenant, validated;
//! - check-ins at the soak tenant's locations in turn, each followed (once 50 visits are
//!   open) by the check-out of the oldest open visit;
//! - logins: a Hub SSO token exchanged for a session, one query with it, logout, and the
//!   revoked session refused;
//! - bursts of bad credentials: unknown bearer tokens, garbage, forged, expired and
//!   replayed SSO tokens, and WebSockets initialised with an unknown token.
//!
//! Every answer is classified: a success, an expected refusal (`UNAUTHENTICATED` or
//! `TOKEN_REPLAYED`, a WebSocket closed with `4403`), or an unexpected error, counted with
//! a few examples.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt, stream};
use reqwest::{
    StatusCode,
    header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue},
};
use serde_json::{Value, json};
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    Result,
    client::{self, Api},
    fanout, load,
    report::one_line,
};

/// Visits left open before each check-in is followed by a check-out.
const KEEP_OPEN: usize = 50;

/// How a request went.
#[derive(Debug)]
pub enum Outcome {
    /// The expected success.
    Ok,
    /// An expected refusal (a bad credential refused as it should be).
    Expected,
    /// Anything else.
    Unexpected(String),
}

/// The counts of one kind of operation.
#[derive(Debug)]
pub struct Op {
    /// For tables and error examples.
    pub name: &'static str,
    /// Sent.
    pub sent: AtomicU64,
    /// Succeeded as expected.
    pub ok: AtomicU64,
    /// Refused as expected.
    pub expected: AtomicU64,
    /// Unexpected errors.
    pub unexpected: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
}

impl Op {
    fn new(name: &'static str) -> Self {
        Op {
            name,
            sent: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            unexpected: AtomicU64::new(0),
            latencies: Mutex::new(Vec::new()),
        }
    }

    /// Records one request.
    pub fn record(&self, latency: Duration, outcome: Outcome, errors: &ErrorLog) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Outcome::Ok => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                self.latencies
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(latency);
            }
            Outcome::Expected => {
                self.expected.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Unexpected(reason) => {
                self.unexpected.fetch_add(1, Ordering::Relaxed);
                errors.add(self.name, &reason);
            }
        }
    }

    /// The 50th and 99th percentile of the successes' latencies.
    pub fn percentiles(&self) -> (Duration, Duration) {
        let mut latencies = self
            .latencies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        latencies.sort_unstable();
        (
            load::quantile(&latencies, 0.50),
            load::quantile(&latencies, 0.99),
        )
    }
}

/// Unexpected errors of every kind: the count and the first few distinct reasons.
#[derive(Debug, Default)]
pub struct ErrorLog {
    /// Unexpected errors so far.
    pub count: AtomicU64,
    examples: Mutex<Vec<String>>,
}

impl ErrorLog {
    /// Counts one unexpected error of `what`.
    pub fn add(&self, what: &str, reason: &str) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let line = format!("{what}: {}", one_line(reason, 240));
        let mut examples = self.examples.lock().unwrap_or_else(PoisonError::into_inner);
        if examples.len() < 10 && !examples.contains(&line) {
            examples.push(line);
        }
    }

    /// The first distinct reasons.
    pub fn examples(&self) -> Vec<String> {
        self.examples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A committed check-in: the visit id and its location's index.
#[derive(Debug, Clone, Copy)]
pub struct CheckIn {
    /// The visit id.
    pub visit: u128,
    /// Index into the soak tenant's locations.
    pub location: usize,
}

/// Everything the load counted.
#[derive(Debug)]
pub struct Tally {
    /// `visits(first: 50)`.
    pub reads: Op,
    /// `checkInVisitor`.
    pub check_ins: Op,
    /// `checkOutVisitor`.
    pub check_outs: Op,
    /// SSO exchange, query, logout, refusal of the revoked session.
    pub logins: Op,
    /// Bad credentials.
    pub bad_tokens: Op,
    /// Unexpected errors of everything (subscribers included).
    pub errors: ErrorLog,
    /// Successful check-ins, in order.
    pub committed: Mutex<Vec<CheckIn>>,
    /// Visits checked in and not yet out, oldest first.
    open: Mutex<VecDeque<String>>,
    /// The last SSO token a login used (replayed by the next burst).
    used_token: Mutex<Option<String>>,
    /// Check-ins started (picks the location).
    next_location: AtomicU64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            reads: Op::new("read"),
            check_ins: Op::new("check-in"),
            check_outs: Op::new("check-out"),
            logins: Op::new("login"),
            bad_tokens: Op::new("bad token"),
            errors: ErrorLog::default(),
            committed: Mutex::new(Vec::new()),
            open: Mutex::new(VecDeque::new()),
            used_token: Mutex::new(None),
            next_location: AtomicU64::new(0),
        }
    }
}

impl Tally {
    /// The committed check-ins so far.
    pub fn committed(&self) -> Vec<CheckIn> {
        self.committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// What the load needs to know about the server and the data.
pub struct Mix {
    /// The soak server's API.
    pub api: Api,
    /// The read tenant's session.
    pub read_token: String,
    /// The soak tenant.
    pub tenant: String,
    /// A staff session of the soak tenant (check-ins and check-outs).
    pub staff_token: String,
    /// The soak tenant's locations.
    pub locations: Vec<String>,
    /// One host per location.
    pub hosts: Vec<String>,
    /// The Hub SSO secret.
    pub secret: String,
    /// Counts.
    pub tally: Arc<Tally>,
}

/// Calls `tick` every `period` until `until` (a slow call delays the next; ticks are not
/// made up for).
async fn paced<F, Fut>(period: Duration, offset: Duration, until: Instant, mut tick: F)
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let start = tokio::time::Instant::now() + offset;
    let mut ticker = tokio::time::interval_at(start, period.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seq = 0;
    loop {
        ticker.tick().await;
        if Instant::now() >= until {
            break;
        }
        tick(seq).await;
        seq += 1;
    }
}

/// Runs `workers` paced tasks sharing `per_second` between them until `until`.
async fn spread<F, Fut>(mix: &Arc<Mix>, per_second: f64, workers: usize, until: Instant, each: F)
where
    F: Fn(Arc<Mix>, usize, u64) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = ()> + Send,
{
    if per_second <= 0.0 {
        return;
    }
    let period = Duration::from_secs_f64(workers as f64 / per_second);
    let mut handles = Vec::new();
    for worker in 0..workers {
        let mix = mix.clone();
        // Staggered so that the workers' requests do not all leave together.
        let offset = period.mul_f64(worker as f64 / workers as f64);
        handles.push(tokio::spawn(async move {
            paced(period, offset, until, |seq| each(mix.clone(), worker, seq)).await;
        }));
    }
    for handle in handles {
        let _ = handle.await;
    }
}

/// Runs the whole mix until `until`; returns when every worker has finished its last
/// request.
pub async fn run(mix: Arc<Mix>, rates: Rates, until: Instant) {
    let reads = spread(
        &mix,
        rates.reads_per_second,
        workers_for(rates.reads_per_second, 10.0),
        until,
        |mix, _, _| async move { read(&mix).await },
    );
    let writes = spread(
        &mix,
        rates.check_ins_per_second,
        workers_for(rates.check_ins_per_second, 2.0),
        until,
        |mix, worker, seq| async move { write(&mix, worker, seq).await },
    );
    let logins = spread(
        &mix,
        rates.logins_per_minute / 60.0,
        1,
        until,
        |mix, _, seq| async move { login(&mix, seq).await },
    );
    let bursts = {
        let mix = mix.clone();
        async move {
            if rates.bad_tokens == 0 || rates.burst_every.is_zero() {
                return;
            }
            // The first at half a period, then one a period.
            paced(rates.burst_every, rates.burst_every / 2, until, |seq| {
                burst(&mix, rates.bad_tokens, seq)
            })
            .await;
        }
    };
    tokio::join!(reads, writes, logins, bursts);
}

/// Tasks for `per_second` requests of about `per_task` each per second.
fn workers_for(per_second: f64, per_task: f64) -> usize {
    ((per_second / per_task).ceil() as usize).clamp(1, 16)
}

/// The paces of the mix.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// Reads per second.
    pub reads_per_second: f64,
    /// Check-ins per second (check-outs follow at the same rate).
    pub check_ins_per_second: f64,
    /// SSO logins per minute.
    pub logins_per_minute: f64,
    /// Bad credentials per burst.
    pub bad_tokens: usize,
    /// Time between bursts.
    pub burst_every: Duration,
}

/// POSTs `body` to `/graphql` with `token`: the status and the parsed body.
async fn post_graphql(
    api: &Api,
    token: &str,
    body: String,
) -> std::result::Result<(StatusCode, Value), String> {
    let auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| e.to_string())?;
    let response = api
        .http
        .post(format!("{}/graphql", api.base))
        .header(AUTHORIZATION, auth)
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("reading the body: {e}"))?;
    let value = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "HTTP {status}, not JSON ({e}): {}",
            one_line(&String::from_utf8_lossy(&bytes), 200)
        )
    })?;
    Ok((status, value))
}

/// The first error code of a GraphQL (`errors[0].extensions.code`) or REST
/// (`error.code`) error body.
fn error_code(body: &Value) -> Option<&str> {
    body.pointer("/errors/0/extensions/code")
        .or_else(|| body.pointer("/error/code"))
        .and_then(Value::as_str)
}

/// Whether a GraphQL answer to `{ locations { id } }` refuses an unknown or revoked
/// credential: such a request runs unauthenticated (so that sign-in works with a stale
/// header), and the guarded field answers `null` with `UNAUTHENTICATED`.
fn refused_graphql(status: StatusCode, body: &Value) -> std::result::Result<(), String> {
    let no_data = body.pointer("/data/locations").is_none_or(Value::is_null);
    if (status == StatusCode::OK || status == StatusCode::UNAUTHORIZED)
        && no_data
        && error_code(body) == Some("UNAUTHENTICATED")
    {
        Ok(())
    } else {
        Err(format!(
            "expected UNAUTHENTICATED, got HTTP {status}: {}",
            one_line(&body.to_string(), 200)
        ))
    }
}

/// `data` of a successful GraphQL answer.
fn data(status: StatusCode, body: Value) -> std::result::Result<Value, String> {
    if !status.is_success() || body.get("errors").is_some() {
        return Err(format!(
            "HTTP {status}: {}",
            one_line(&body.to_string(), 300)
        ));
    }
    body.get("data")
        .cloned()
        .ok_or_else(|| format!("no data: {}", one_line(&body.to_string(), 300)))
}

async fn read(mix: &Mix) {
    let started = Instant::now();
    let response = mix
        .api
        .http
        .post(format!("{}/graphql", mix.api.base))
        .bearer_auth(&mix.read_token)
        .json(
            &json!({"query": client::VISITS_QUERY, "variables": {"first": crate::scenarios::PAGE}}),
        )
        .send()
        .await;
    let body = match response {
        Ok(response) => {
            let status = response.status();
            match response.bytes().await {
                Ok(bytes) if status.is_success() => Ok(bytes),
                Ok(bytes) => Err(format!(
                    "HTTP {status}: {}",
                    one_line(&String::from_utf8_lossy(&bytes), 200)
                )),
                Err(err) => Err(format!("reading the body: {err}")),
            }
        }
        Err(err) => Err(format!("request failed: {err}")),
    };
    let latency = started.elapsed();
    let outcome = match body.and_then(|b| client::validate_read(&b, crate::scenarios::PAGE)) {
        Ok(()) => Outcome::Ok,
        Err(reason) => Outcome::Unexpected(reason),
    };
    mix.tally.reads.record(latency, outcome, &mix.tally.errors);
}

async fn write(mix: &Mix, worker: usize, seq: u64) {
    let tally = &mix.tally;
    let n = tally.next_location.fetch_add(1, Ordering::Relaxed);
    let location = usize::try_from(n).unwrap_or(0) % mix.locations.len().max(1);
    let name = format!("Soak visitor w{worker} #{seq}");
    let body = json!({
        "query": client::CHECK_IN,
        "variables": {"l": mix.locations[location], "h": mix.hosts[location], "n": name},
    })
    .to_string();
    let started = Instant::now();
    let answer = post_graphql(&mix.api, &mix.staff_token, body).await;
    let latency = started.elapsed();
    let checked_in = answer.and_then(|(status, body)| {
        client::validate_check_in(body.to_string().as_bytes(), &name)?;
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let visit = body
            .pointer("/data/checkInVisitor/id")
            .and_then(Value::as_str)
            .ok_or("no visit id")?;
        if body.pointer("/data/checkInVisitor/location/id") != Some(&json!(mix.locations[location]))
        {
            return Err(format!(
                "the visit is not at the location sent: {}",
                one_line(&body.to_string(), 300)
            ));
        }
        let id = uuid::Uuid::parse_str(visit).map_err(|e| format!("visit id {visit}: {e}"))?;
        Ok((visit.to_owned(), id.as_u128()))
    });
    match checked_in {
        Ok((visit, id)) => {
            tally
                .committed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(CheckIn {
                    visit: id,
                    location,
                });
            tally.check_ins.record(latency, Outcome::Ok, &tally.errors);
            tally
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_back(visit);
        }
        Err(reason) => tally
            .check_ins
            .record(latency, Outcome::Unexpected(reason), &tally.errors),
    }
    let oldest = {
        let mut open = tally.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.len() > KEEP_OPEN {
            open.pop_front()
        } else {
            None
        }
    };
    if let Some(visit) = oldest {
        let body = json!({"query": crate::seed::CHECK_OUT, "variables": {"v": visit}}).to_string();
        let started = Instant::now();
        let answer = post_graphql(&mix.api, &mix.staff_token, body).await;
        let latency = started.elapsed();
        let outcome = match answer.and_then(|(status, body)| data(status, body)) {
            Ok(data) if data.pointer("/checkOutVisitor/id") == Some(&json!(visit)) => Outcome::Ok,
            Ok(data) => Outcome::Unexpected(format!(
                "unexpected result {}",
                one_line(&data.to_string(), 200)
            )),
            Err(reason) => Outcome::Unexpected(reason),
        };
        tally.check_outs.record(latency, outcome, &tally.errors);
    }
}

/// Logins rotate over this many staff users.
const LOGIN_USERS: u64 = 16;

async fn login_steps(mix: &Mix, seq: u64) -> std::result::Result<(), String> {
    let user = format!("soak-login-{}", seq % LOGIN_USERS);
    let claims = client::staff_claims(&mix.tenant, &user, &user);
    let token = onegraph::auth::sso::mint(&claims, &mix.secret).map_err(|e| e.to_string())?;
    let (status, body) = mix
        .api
        .sso_exchange(&token)
        .await
        .map_err(|e| format!("sign-in: {e}"))?;
    *mix.tally
        .used_token
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(token);
    let session = body["session_token"]
        .as_str()
        .filter(|_| status == StatusCode::OK)
        .ok_or_else(|| {
            format!(
                "sign-in answered {status}: {}",
                one_line(&body.to_string(), 200)
            )
        })?
        .to_owned();
    let query = json!({"query": "{ locations { id } }"}).to_string();
    let (status, body) = post_graphql(&mix.api, &session, query.clone()).await?;
    let data = data(status, body).map_err(|e| format!("query with the new session: {e}"))?;
    let seen = data["locations"].as_array().map_or(0, Vec::len);
    if seen != mix.locations.len() {
        return Err(format!(
            "the new session sees {seen} locations, not {}",
            mix.locations.len()
        ));
    }
    let response = mix
        .api
        .http
        .post(format!("{}/api/auth/logout", mix.api.base))
        .bearer_auth(&session)
        .send()
        .await
        .map_err(|e| format!("logout: {e}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("logout answered {}", response.status()));
    }
    let (status, body) = post_graphql(&mix.api, &session, query).await?;
    refused_graphql(status, &body).map_err(|e| format!("the revoked session: {e}"))
}

async fn login(mix: &Mix, seq: u64) {
    let started = Instant::now();
    let result = login_steps(mix, seq).await;
    let outcome = match result {
        Ok(()) => Outcome::Ok,
        Err(reason) => Outcome::Unexpected(reason),
    };
    mix.tally
        .logins
        .record(started.elapsed(), outcome, &mix.tally.errors);
}

/// The kinds of bad credential a burst sends, in turn.
const BAD_KINDS: u64 = 6;

/// Sends bad credential `i` of a burst: `Ok(())` when it was refused as it should be.
async fn bad_token(mix: &Mix, i: u64) -> std::result::Result<(), String> {
    let random = uuid::Uuid::new_v4().simple().to_string();
    let refused_sso = |status: StatusCode, body: Value, code: &str| {
        if status == StatusCode::UNAUTHORIZED && error_code(&body) == Some(code) {
            Ok(())
        } else {
            Err(format!(
                "expected 401 {code}, got {status}: {}",
                one_line(&body.to_string(), 200)
            ))
        }
    };
    let exchange = |token: String| async move {
        mix.api
            .sso_exchange(&token)
            .await
            .map_err(|e| e.to_string())
    };
    match i % BAD_KINDS {
        // An unknown bearer token on /graphql.
        0 => {
            let query = json!({"query": "{ locations { id } }"}).to_string();
            let (status, body) = post_graphql(&mix.api, &format!("soak-{random}"), query).await?;
            refused_graphql(status, &body)
        }
        // Not a JWT.
        1 => {
            let (status, body) = exchange(format!("garbage.{random}.token")).await?;
            refused_sso(status, body, "UNAUTHENTICATED")
        }
        // Signed with another secret.
        2 => {
            let claims = client::staff_claims(&mix.tenant, "soak-forger", "soak-forger");
            let token = onegraph::auth::sso::mint(&claims, &format!("not-the-secret-{random}"))
                .map_err(|e| e.to_string())?;
            let (status, body) = exchange(token).await?;
            refused_sso(status, body, "UNAUTHENTICATED")
        }
        // Signed right, expired ten minutes ago (emits `auth.login_failed`).
        3 => {
            let mut claims = client::staff_claims(&mix.tenant, "soak-late", "soak-late");
            claims.iat -= 1200;
            claims.exp = claims.iat + 300;
            let token =
                onegraph::auth::sso::mint(&claims, &mix.secret).map_err(|e| e.to_string())?;
            let (status, body) = exchange(token).await?;
            refused_sso(status, body, "UNAUTHENTICATED")
        }
        // A token a login already used (emits `auth.login_failed`).
        4 => {
            let used = mix
                .tally
                .used_token
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            match used {
                Some(token) => {
                    let (status, body) = exchange(token).await?;
                    refused_sso(status, body, "TOKEN_REPLAYED")
                }
                None => {
                    let (status, body) = exchange(format!("garbage.{random}")).await?;
                    refused_sso(status, body, "UNAUTHENTICATED")
                }
            }
        }
        // A WebSocket initialised with an unknown token: closed with 4403.
        _ => {
            let ws_url = format!("{}/graphql", mix.api.base.replacen("http://", "ws://", 1));
            let mut ws = fanout::connect(&ws_url)
                .await
                .map_err(|e| format!("upgrade: {e}"))?;
            let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer soak-{random}")}});
            ws.send(Message::text(init.to_string()))
                .await
                .map_err(|e| format!("sending connection_init: {e}"))?;
            let answer = tokio::time::timeout(Duration::from_secs(30), ws.next()).await;
            match answer {
                Ok(Some(Ok(Message::Close(Some(frame))))) if u16::from(frame.code) == 4403 => {
                    Ok(())
                }
                Ok(other) => Err(format!("expected close 4403, got {other:?}")),
                Err(_) => Err("no answer to connection_init within 30 s".into()),
            }
        }
    }
}

async fn burst(mix: &Mix, size: usize, seq: u64) {
    let base = seq * size as u64;
    stream::iter(0..size as u64)
        .for_each_concurrent(size, |i| async move {
            let started = Instant::now();
            let outcome = match bad_token(mix, base + i).await {
                Ok(()) => Outcome::Expected,
                Err(reason) => Outcome::Unexpected(reason),
            };
            mix.tally
                .bad_tokens
                .record(started.elapsed(), outcome, &mix.tally.errors);
        })
        .await;
}

/// Sets up the soak tenant on the server behind `api`: `locations` locations with one host
/// each. Returns their ids.
pub async fn setup_tenant(
    api: &Api,
    token: &str,
    locations: usize,
) -> Result<(Vec<String>, Vec<String>)> {
    let mut location_ids = Vec::new();
    let mut host_ids = Vec::new();
    for i in 0..locations {
        let data = api
            .gql(
                token,
                crate::seed::CREATE_LOCATION,
                json!({"n": format!("Soak site {i}")}),
            )
            .await?;
        let location = client::text(&data, "/createLocation/id")?;
        let data = api
            .gql(
                token,
                crate::seed::CREATE_HOST,
                json!({"n": format!("Soak host {i}"), "e": format!("host{i}@soak.example.com"), "l": location}),
            )
            .await?;
        host_ids.push(client::text(&data, "/createHost/id")?);
        location_ids.push(location);
    }
    Ok((location_ids, host_ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_of_graphql_and_rest_bodies() {
        let graphql =
            json!({"errors": [{"message": "x", "extensions": {"code": "UNAUTHENTICATED"}}]});
        assert_eq!(error_code(&graphql), Some("UNAUTHENTICATED"));
        let rest = json!({"error": {"code": "TOKEN_REPLAYED", "message": "x"}});
        assert_eq!(error_code(&rest), Some("TOKEN_REPLAYED"));
        assert_eq!(error_code(&json!({"data": {}})), None);
    }

    #[test]
    fn an_unauthenticated_query_is_a_refusal_only_without_data() {
        let refused = json!({"data": {"locations": null}, "errors": [{"extensions": {"code": "UNAUTHENTICATED"}}]});
        assert!(refused_graphql(StatusCode::OK, &refused).is_ok());
        let leaked = json!({"data": {"locations": [{"id": "l"}]}, "errors": [{"extensions": {"code": "UNAUTHENTICATED"}}]});
        assert!(refused_graphql(StatusCode::OK, &leaked).is_err());
        let other =
            json!({"data": {"locations": null}, "errors": [{"extensions": {"code": "INTERNAL"}}]});
        assert!(refused_graphql(StatusCode::OK, &other).is_err());
        assert!(refused_graphql(StatusCode::INTERNAL_SERVER_ERROR, &refused).is_err());
    }

    #[test]
    fn outcomes_are_counted_apart() {
        let errors = ErrorLog::default();
        let op = Op::new("x");
        op.record(Duration::from_millis(1), Outcome::Ok, &errors);
        op.record(Duration::from_millis(1), Outcome::Expected, &errors);
        op.record(
            Duration::from_millis(1),
            Outcome::Unexpected("boom".into()),
            &errors,
        );
        op.record(
            Duration::from_millis(1),
            Outcome::Unexpected("boom".into()),
            &errors,
        );
        assert_eq!(op.sent.load(Ordering::Relaxed), 4);
        assert_eq!(op.ok.load(Ordering::Relaxed), 1);
        assert_eq!(op.expected.load(Ordering::Relaxed), 1);
        assert_eq!(op.unexpected.load(Ordering::Relaxed), 2);
        assert_eq!(errors.count.load(Ordering::Relaxed), 2);
        assert_eq!(errors.examples(), vec!["x: boom".to_owned()]);
    }
}
