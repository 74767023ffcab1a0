//! Every setting onegraph reads, typed, documented and read once at start-up.
//!
//! Each setting comes from the environment variable of its name or, when `<NAME>_FILE` is
//! set, from that file (one trailing newline trimmed), which is how secret stores mount
//! secrets. Secrets are held in [`Secret`], whose `Debug` never shows the value.

use std::{
    collections::HashMap,
    fmt,
    net::{IpAddr, SocketAddr},
    ops::Deref,
    time::Duration,
};

/// A secret value: printed as `[redacted]`, compared only through its digest.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call only where it is used, never to log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `DATABASE_URL`: usable as a `&str`, printed without its credentials (only the scheme).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps a database URL.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

impl Deref for DatabaseUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.split_once("://") {
            Some((scheme, _))
                if scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
            {
                write!(f, "{scheme}://[redacted]")
            }
            _ => f.write_str("[redacted]"),
        }
    }
}

/// An address range (`10.0.0.0/8`, `fd00::/8`, or one address) whose peers are trusted
/// reverse proxies: their `X-Forwarded-For` names the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Parses `ip` or `ip/prefix`; the address is masked to the prefix.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().ok()?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
        };
        Some(Self {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// Whether `ip` (IPv4-mapped IPv6 read as IPv4) lies in this range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

/// `ip` with all but its first `prefix` bits cleared.
fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let keep = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::from((bits & keep).to_be_bytes())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let keep = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::from((bits & keep).to_be_bytes())
        }
    }
}

/// How the SMTP connection is secured (`SES_SMTP_TLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain at first, then STARTTLS, which the server must offer.
    StartTls,
    /// TLS from the first byte (SMTPS, SES's ports 465 and 2465).
    Wrapper,
}

impl SmtpTls {
    /// Filled in from `SES_SMTP_TLS` and the port once both are read.
    const PLACEHOLDER: SmtpTls = SmtpTls::StartTls;

    /// What `SES_SMTP_TLS` asks for (`value`), or the default for `port`.
    fn choose(value: Option<&str>, port: u16) -> Result<Self, ConfigError> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") if matches!(port, 465 | 2465) => Ok(SmtpTls::Wrapper),
            None | Some("") => Ok(SmtpTls::StartTls),
            Some("starttls") => Ok(SmtpTls::StartTls),
            Some("wrapper") => Ok(SmtpTls::Wrapper),
            Some(_) => Err(ConfigError {
                name: "SES_SMTP_TLS",
                message: "must be starttls or wrapper".into(),
            }),
        }
    }
}

/// A setting that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
#[error("setting {name}: {message}")]
pub struct ConfigError {
    /// The setting's name.
    pub name: &'static str,
    /// What is wrong with it (never its value when it is a secret).
    pub message: String,
}

/// The settings of CONTRACT section 7 plus onegraph's own tuning knobs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: SQLite (`sqlite://…`) or PostgreSQL (`postgres://…`).
    pub database_url: DatabaseUrl,
    /// `DATABASE_MAX_CONNECTIONS` (default 10).
    pub database_max_connections: u32,
    /// `REDIS_URL` (optional).
    pub redis_url: Option<Secret>,
    /// `BIND_ADDR` (default `127.0.0.1:4000`).
    pub bind_addr: SocketAddr,
    /// `PUBLIC_URL` (default `http://localhost:4000`): the origin the SPAs are served from.
    pub public_url: String,
    /// `CORS_ORIGINS`: comma-separated further origins allowed to call with bearer tokens.
    pub cors_origins: Vec<String>,
    /// `METRICS_ADDR` (default `127.0.0.1:9464`); `off` disables the metrics listener.
    pub metrics_addr: Option<SocketAddr>,
    /// `HUB_SSO_ISSUER` (default `https://my.theonestack.com`).
    pub hub_sso_issuer: String,
    /// `PORTAL_CLIENT_SSO_SECRET`: HS256 secret shared with Hub; SSO is off when unset.
    pub sso_secret: Option<Secret>,
    /// `INTEGRATION_KEY`: the platform integration key.
    pub integration_key: Option<Secret>,
    /// `PORTAL_INTEGRATION_KEY`: the key Legal uses for signing pushes.
    pub portal_integration_key: Option<Secret>,
    /// `PSA_API_URL`.
    pub psa_api_url: Option<String>,
    /// `PSA_SERVICE_KEY`.
    pub psa_service_key: Option<Secret>,
    /// `BOOKS_API_URL`.
    pub books_api_url: Option<String>,
    /// `BOOKS_SERVICE_KEY`.
    pub books_service_key: Option<Secret>,
    /// `MISSION_API_URL`.
    pub mission_api_url: Option<String>,
    /// `MISSION_SERVICE_KEY`.
    pub mission_service_key: Option<Secret>,
    /// `LEGAL_WEBHOOK_URL`.
    pub legal_webhook_url: Option<String>,
    /// `LEGAL_WEBHOOK_SECRET`.
    pub legal_webhook_secret: Option<Secret>,
    /// `HUB_API_URL`.
    pub hub_api_url: Option<String>,
    /// `BUS_INTEGRATION_KEY`.
    pub bus_integration_key: Option<Secret>,
    /// `BUS_API_URL`.
    pub bus_api_url: Option<String>,
    /// `BUS_SDK_KEY`.
    pub bus_sdk_key: Option<Secret>,
    /// `SES_FROM_ADDRESS`.
    pub ses_from_address: Option<String>,
    /// `SES_REGION`.
    pub ses_region: Option<String>,
    /// `SES_SMTP_USERNAME`.
    pub ses_smtp_username: Option<Secret>,
    /// `SES_SMTP_PASSWORD`.
    pub ses_smtp_password: Option<Secret>,
    /// `SES_SMTP_HOST`: the SMTP server (default SES's endpoint for `SES_REGION`,
    /// `email-smtp.<region>.amazonaws.com`).
    pub ses_smtp_host: Option<String>,
    /// `SES_SMTP_PORT` (default 587): the SMTP submission port.
    pub ses_smtp_port: u16,
    /// `SES_SMTP_TLS` (`starttls` or `wrapper`; default `wrapper` on ports 465 and 2465,
    /// SES's TLS wrapper ports, `starttls` on any other): whether the connection upgrades
    /// with STARTTLS (required, never plain) or speaks TLS from its first byte.
    pub ses_smtp_tls: SmtpTls,
    /// `SES_SMTP_CA_FILE`: a PEM file of CA certificates trusted for the SMTP server, beside
    /// the public roots (a private relay, or a test server).
    pub ses_smtp_ca_file: Option<String>,
    /// `MAIL_DIR` (default `./mail`).
    pub mail_dir: String,
    /// `VITE_HUB_URL`, served as `me { hubUrl }`.
    pub hub_url: Option<String>,
    /// `VITE_BUS_URL`, served as `me { busUrl }`.
    pub bus_url: Option<String>,
    /// `TICKET_SYNC_INTERVAL` (default `5m`).
    pub ticket_sync_interval: Duration,
    /// `TICKET_SYNC_BACKOFF` (default `1m`): how long a ticket or comment PSA refused waits
    /// before its first retry; each further refusal doubles it (at most 64 times).
    pub ticket_sync_backoff: Duration,
    /// `INVOICE_SYNC_INTERVAL` (default `6h`).
    pub invoice_sync_interval: Duration,
    /// `BILLING_USAGE_AT` (default `00:58`, UTC), as (hour, minute).
    pub billing_usage_at: (u32, u32),
    /// `RUN_SYNC_MIN_INTERVAL` (default `30s`, at most `24h`; `0` turns it off): how long
    /// after one of its admins started a job with `runSync` a tenant waits before starting
    /// that job by hand again (`RATE_LIMITED` with `retryAfter` meanwhile).
    pub run_sync_min_interval: Duration,
    /// `GRAPHIQL` (default `true`).
    pub graphiql: bool,
    /// `GRAPHQL_INTROSPECTION` (default `true`); off also turns off field suggestions.
    pub introspection: bool,
    /// `DATALOADER_DELAY` (default `1ms`): a DataLoader batch is sent once the request has
    /// asked its loaders for nothing new for this long.
    pub dataloader_delay: Duration,
    /// `AUTH_RATE_BURST` (default 10): sign-in attempts one IP may make at once.
    pub auth_rate_burst: u32,
    /// `AUTH_RATE_PER_MINUTE` (default 20): how fast that allowance refills.
    pub auth_rate_per_minute: u32,
    /// `TRUSTED_PROXIES` (default none): comma-separated addresses or CIDR ranges of the
    /// reverse proxies in front of onegraph. A request from one of them is attributed (for
    /// the rate limiter and the audit trail) to the rightmost `X-Forwarded-For` address that
    /// is not itself a trusted proxy; from any other peer `X-Forwarded-For` is ignored.
    pub trusted_proxies: Vec<IpNetwork>,
    /// `HTTP_HEADER_TIMEOUT` (default `10s`): how long a connection may take to send a
    /// request's headers, and so also how long an idle keep-alive connection stays open;
    /// past it the connection is closed.
    pub http_header_timeout: Duration,
    /// `HTTP_BODY_TIMEOUT` (default `30s`): how long a request's body may take to arrive
    /// after its headers; past it the request is answered `408` and the connection closed.
    pub http_body_timeout: Duration,
    /// `HTTP_WRITE_TIMEOUT` (default `30s`): how long a client may take nothing of what the
    /// server writes to it (a response, or a WebSocket's frames) before its connection is
    /// closed.
    pub http_write_timeout: Duration,
    /// `HTTP_MAX_CONNECTIONS` (default 25000): open connections per listener, WebSockets
    /// included; past it the server accepts no more until one ends (the next clients wait in
    /// the listen backlog).
    pub http_max_connections: usize,
    /// `HTTP_MAX_CONNECTIONS_PER_IP` (default 2000): open connections per peer address
    /// (IPv6 by /64; the addresses of `TRUSTED_PROXIES` are not limited), WebSockets
    /// included; a connection past it is closed at once.
    pub http_max_connections_per_ip: usize,
    /// `WS_MAX_PENDING` (default 2000): WebSockets across the server that have not
    /// authenticated yet; further upgrades get HTTP 429 `RATE_LIMITED`, so that sockets
    /// that say nothing, from however many addresses, cannot take every place of
    /// `WS_MAX_CONNECTIONS`.
    pub ws_max_pending: usize,
    /// `WS_MAX_CONNECTIONS` (default 20000): open WebSockets across the server; further
    /// upgrades get HTTP 429 `RATE_LIMITED`.
    pub ws_max_connections: usize,
    /// List items one response (or subscription event) may hold (`GRAPHQL_MAX_NODES`).
    pub graphql_max_nodes: usize,
    /// Estimated bytes of list items one response may hold (`GRAPHQL_MAX_RESPONSE_BYTES`).
    pub graphql_max_response_bytes: usize,
    /// `WS_MAX_CONNECTIONS_PER_IP` (default 500): open WebSockets per client address (as
    /// the rate limiter sees it: behind `TRUSTED_PROXIES`, IPv6 by /64), counted from the
    /// upgrade on; further upgrades get HTTP 429 `RATE_LIMITED`.
    pub ws_max_connections_per_ip: usize,
    /// `WS_MAX_PENDING_PER_IP` (default 50): WebSockets per client address (counted as for
    /// `WS_MAX_CONNECTIONS_PER_IP`) that have not yet authenticated, by a session cookie at
    /// the upgrade or by `connection_init`; further upgrades get HTTP 429 `RATE_LIMITED`.
    /// Sockets that hold a place without saying who they are cost nothing to open, so they
    /// get far fewer places than authenticated ones.
    pub ws_max_pending_per_ip: usize,
    /// `WS_MAX_CONNECTIONS_PER_PRINCIPAL` (default 50): open WebSockets per principal (a
    /// user or kiosk, whatever its sessions); past it a cookie upgrade gets HTTP 429
    /// `RATE_LIMITED` and a `connection_init` with a token is closed with 4429.
    pub ws_max_connections_per_principal: usize,
    /// `WS_MAX_DOCUMENT_BYTES` (default 16384): largest `query` (with `operationName`) of a
    /// WebSocket `subscribe`; larger ones get an `error` with `QUERY_TOO_COMPLEX`.
    pub ws_max_document_bytes: usize,
    /// `WS_MAX_VARIABLES_BYTES` (default 16384): largest `variables` (with `extensions`) of
    /// a WebSocket `subscribe`, as serialised JSON; larger ones get an `error` with
    /// `QUERY_TOO_COMPLEX`.
    pub ws_max_variables_bytes: usize,
    /// `WS_MAX_OPERATIONS` (default 20): live operations one WebSocket may hold.
    pub ws_max_operations: usize,
    /// `WS_MAX_OPERATIONS_PER_PRINCIPAL` (default 100): live operations one principal may
    /// hold across its WebSockets; past it a `subscribe` gets an `error` with
    /// `RATE_LIMITED`. Every event runs each live subscription once, so this bounds the work
    /// one account's subscriptions cost per event.
    pub ws_max_operations_per_principal: usize,
    /// `GRAPHQL_SUBSCRIPTION_MAX_NODES` (default 2000): list items one subscription event
    /// may hold (its `GRAPHQL_MAX_NODES`); an event over it is `QUERY_TOO_COMPLEX`.
    pub graphql_subscription_max_nodes: usize,
    /// `WS_INIT_TIMEOUT` (default `10s`): time allowed between upgrade and `connection_init`.
    pub ws_init_timeout: Duration,
    /// `UPSTREAM_TIMEOUT` (default `5s`): how long one call to another product may take.
    pub upstream_timeout: Duration,
    /// `UPSTREAM_MAX_BODY` (default 4194304, 4 MiB; at least 1024): the most bytes of one
    /// answer from another product onegraph reads; a longer one fails that call.
    pub upstream_max_body: usize,
    /// `OUTBOX_POLL_INTERVAL` (default `1s`): how often the outbox dispatcher looks for due
    /// rows (a full batch is followed by the next at once).
    pub outbox_poll_interval: Duration,
    /// `OUTBOX_RETRY_BASE` (default `5s`): the first retry delay of a failed delivery; each
    /// further failure doubles it (capped at 1 hour, ±20% jitter).
    pub outbox_retry_base: Duration,
    /// `OUTBOX_MAX_ATTEMPTS` (default 20): failed deliveries after which a row is marked
    /// dead and no longer tried.
    pub outbox_max_attempts: u32,
    /// `UPSTREAM_BREAKER_THRESHOLD` (default 5): consecutive failed calls to one product
    /// (Mission) after which its circuit opens and calls fail at once.
    pub upstream_breaker_threshold: u32,
    /// `UPSTREAM_BREAKER_COOLDOWN` (default `30s`): how long an open circuit fails calls at
    /// once before it lets one probe through.
    pub upstream_breaker_cooldown: Duration,
    /// `HEALTH_PROBE_TIMEOUT` (default `2s`): how long each reachability probe of
    /// `integrationHealth` and `onegraph doctor` waits for an answer (the probes run at
    /// once, so the checklist takes about this long at most).
    pub health_probe_timeout: Duration,
    /// `HEALTH_PROBE_CACHE` (default `15s`; `0` probes on every call): how long one round
    /// of `integrationHealth`'s probes answers every caller of the process, so that the
    /// checklist cannot be used to send the products a stream of requests.
    pub health_probe_cache: Duration,
}

/// Where settings are read from: the process environment, or a map in tests.
pub trait Source {
    /// The raw value of a variable, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct Env;

impl Source for Env {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Source for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

struct Reader<'a> {
    source: &'a dyn Source,
}

impl Reader<'_> {
    /// The value of `name`, from `<name>_FILE` when that is set; empty means unset.
    fn get(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        let file_var = format!("{name}_FILE");
        if let Some(path) = self.source.var(&file_var).filter(|p| !p.is_empty()) {
            let mut text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                name,
                message: format!("cannot read {file_var} ({path}): {e}"),
            })?;
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            return Ok(Some(text).filter(|t| !t.is_empty()));
        }
        Ok(self.source.var(name).filter(|v| !v.is_empty()))
    }

    fn string(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        Ok(self.get(name)?.unwrap_or_else(|| default.to_owned()))
    }

    fn secret(&self, name: &'static str) -> Result<Option<Secret>, ConfigError> {
        Ok(self.get(name)?.map(Secret))
    }

    fn url(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self.get(name)? {
            None => Ok(None),
            Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
                Ok(Some(v.trim_end_matches('/').to_owned()))
            }
            Some(_) => Err(ConfigError {
                name,
                message: "must be an http:// or https:// URL".into(),
            }),
        }
    }

    fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
        what: &str,
    ) -> Result<T, ConfigError> {
        match self.get(name)? {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| ConfigError {
                name,
                message: format!("must be {what}, got {v:?}"),
            }),
        }
    }

    fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self
            .get(name)?
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError {
                name,
                message: format!("must be true or false, got {other:?}"),
            }),
        }
    }

    fn duration(&self, name: &'static str, default: &str) -> Result<Duration, ConfigError> {
        let text = self.string(name, default)?;
        parse_duration(&text).ok_or_else(|| ConfigError {
            name,
            message: format!("must be a duration like 500ms, 2s, 5m or 6h, got {text:?}"),
        })
    }
}

/// Parses `500ms`, `2s`, `5m`, `6h` (and `0`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

/// Parses `HH:MM` (24-hour clock).
pub fn parse_hh_mm(text: &str) -> Option<(u32, u32)> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

impl Settings {
    /// Reads every setting from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&Env)
    }

    /// Reads every setting from `source` and validates them together.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let r = Reader { source };
        let sso_secret = r.secret("PORTAL_CLIENT_SSO_SECRET")?;
        if let Some(secret) = &sso_secret
            && secret.expose().len() < 32
        {
            return Err(ConfigError {
                name: "PORTAL_CLIENT_SSO_SECRET",
                message: "must be at least 32 bytes long".into(),
            });
        }
        let redis_url = r.secret("REDIS_URL")?;
        if redis_url.is_some() {
            return Err(ConfigError {
                name: "REDIS_URL",
                message: "is set, but this build of onegraph runs its event hub and rate limiter \
                          in process only; unset REDIS_URL to run a single replica"
                    .into(),
            });
        }
        let metrics_addr = match r.get("METRICS_ADDR")?.as_deref() {
            Some("off") => None,
            Some(addr) => Some(addr.parse().map_err(|_| ConfigError {
                name: "METRICS_ADDR",
                message: format!("must be host:port or off, got {addr:?}"),
            })?),
            None => Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
        };
        let billing_text = r.string("BILLING_USAGE_AT", "00:58")?;
        let billing_usage_at = parse_hh_mm(&billing_text).ok_or_else(|| ConfigError {
            name: "BILLING_USAGE_AT",
            message: format!("must be HH:MM, got {billing_text:?}"),
        })?;
        let public_url = r.string("PUBLIC_URL", "http://localhost:4000")?;
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError {
                name: "PUBLIC_URL",
                message: "must be an http:// or https:// origin".into(),
            });
        }
        let trusted_proxies = match r.get("TRUSTED_PROXIES")? {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| {
                    IpNetwork::parse(item).ok_or_else(|| ConfigError {
                        name: "TRUSTED_PROXIES",
                        message: format!(
                            "must be comma-separated IP addresses or CIDR ranges, got {item:?}"
                        ),
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let mut settings = Settings {
            database_url: DatabaseUrl(r.string("DATABASE_URL", "sqlite://onegraph.db?mode=rwc")?),
            database_max_connections: r.parse(
                "DATABASE_MAX_CONNECTIONS",
                10,
                "a positive integer",
            )?,
            redis_url,
            bind_addr: r.parse(
                "BIND_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 4000)),
                "host:port",
            )?,
            public_url: public_url.trim_end_matches('/').to_owned(),
            cors_origins: r
                .get("CORS_ORIGINS")?
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            metrics_addr,
            hub_sso_issuer: r.string("HUB_SSO_ISSUER", "https://my.theonestack.com")?,
            sso_secret,
            integration_key: r.secret("INTEGRATION_KEY")?,
            portal_integration_key: r.secret("PORTAL_INTEGRATION_KEY")?,
            psa_api_url: r.url("PSA_API_URL")?,
            psa_service_key: r.secret("PSA_SERVICE_KEY")?,
            books_api_url: r.url("BOOKS_API_URL")?,
            books_service_key: r.secret("BOOKS_SERVICE_KEY")?,
            mission_api_url: r.url("MISSION_API_URL")?,
            mission_service_key: r.secret("MISSION_SERVICE_KEY")?,
            legal_webhook_url: r.url("LEGAL_WEBHOOK_URL")?,
            legal_webhook_secret: r.secret("LEGAL_WEBHOOK_SECRET")?,
            hub_api_url: r.url("HUB_API_URL")?,
            bus_integration_key: r.secret("BUS_INTEGRATION_KEY")?,
            bus_api_url: r.url("BUS_API_URL")?,
            bus_sdk_key: r.secret("BUS_SDK_KEY")?,
            ses_from_address: r.get("SES_FROM_ADDRESS")?,
            ses_region: r.get("SES_REGION")?,
            ses_smtp_username: r.secret("SES_SMTP_USERNAME")?,
            ses_smtp_password: r.secret("SES_SMTP_PASSWORD")?,
            ses_smtp_host: r.get("SES_SMTP_HOST")?.filter(|h| !h.trim().is_empty()),
            ses_smtp_port: r.parse("SES_SMTP_PORT", 587, "a port number")?,
            ses_smtp_tls: SmtpTls::PLACEHOLDER,
            ses_smtp_ca_file: r.get("SES_SMTP_CA_FILE")?.filter(|f| !f.trim().is_empty()),
            mail_dir: r.string("MAIL_DIR", "./mail")?,
            hub_url: r.get("VITE_HUB_URL")?,
            bus_url: r.get("VITE_BUS_URL")?,
            ticket_sync_interval: r.duration("TICKET_SYNC_INTERVAL", "5m")?,
            ticket_sync_backoff: r.duration("TICKET_SYNC_BACKOFF", "1m")?,
            invoice_sync_interval: r.duration("INVOICE_SYNC_INTERVAL", "6h")?,
            billing_usage_at,
            run_sync_min_interval: r.duration("RUN_SYNC_MIN_INTERVAL", "30s")?,
            graphiql: r.bool("GRAPHIQL", true)?,
            introspection: r.bool("GRAPHQL_INTROSPECTION", true)?,
            dataloader_delay: r.duration("DATALOADER_DELAY", "1ms")?,
            auth_rate_burst: r.parse("AUTH_RATE_BURST", 10, "a positive integer")?,
            auth_rate_per_minute: r.parse("AUTH_RATE_PER_MINUTE", 20, "a positive integer")?,
            trusted_proxies,
            http_header_timeout: r.duration("HTTP_HEADER_TIMEOUT", "10s")?,
            http_write_timeout: r.duration("HTTP_WRITE_TIMEOUT", "30s")?,
            http_max_connections: r.parse("HTTP_MAX_CONNECTIONS", 25_000, "a positive integer")?,
            ws_max_pending: r.parse("WS_MAX_PENDING", 2_000, "a positive integer")?,
            http_max_connections_per_ip: r.parse(
                "HTTP_MAX_CONNECTIONS_PER_IP",
                2_000,
                "a positive integer",
            )?,
            ws_max_operations_per_principal: r.parse(
                "WS_MAX_OPERATIONS_PER_PRINCIPAL",
                100,
                "a positive integer",
            )?,
            graphql_subscription_max_nodes: r.parse(
                "GRAPHQL_SUBSCRIPTION_MAX_NODES",
                2_000,
                "a positive integer",
            )?,
            http_body_timeout: r.duration("HTTP_BODY_TIMEOUT", "30s")?,
            ws_max_connections: r.parse("WS_MAX_CONNECTIONS", 20_000, "a positive integer")?,
            graphql_max_nodes: r.parse("GRAPHQL_MAX_NODES", 20_000, "a positive integer")?,
            graphql_max_response_bytes: r.parse(
                "GRAPHQL_MAX_RESPONSE_BYTES",
                16 * 1024 * 1024,
                "a positive integer (bytes)",
            )?,
            ws_max_connections_per_ip: r.parse(
                "WS_MAX_CONNECTIONS_PER_IP",
                500,
                "a positive integer",
            )?,
            ws_max_pending_per_ip: r.parse("WS_MAX_PENDING_PER_IP", 50, "a positive integer")?,
            ws_max_connections_per_principal: r.parse(
                "WS_MAX_CONNECTIONS_PER_PRINCIPAL",
                50,
                "a positive integer",
            )?,
            ws_max_document_bytes: r.parse(
                "WS_MAX_DOCUMENT_BYTES",
                16 * 1024,
                "a positive integer",
            )?,
            ws_max_variables_bytes: r.parse(
                "WS_MAX_VARIABLES_BYTES",
                16 * 1024,
                "a positive integer",
            )?,
            ws_max_operations: r.parse("WS_MAX_OPERATIONS", 20, "a positive integer")?,
            ws_init_timeout: r.duration("WS_INIT_TIMEOUT", "10s")?,
            upstream_timeout: r.duration("UPSTREAM_TIMEOUT", "5s")?,
            upstream_max_body: r.parse(
                "UPSTREAM_MAX_BODY",
                4 * 1024 * 1024,
                "a number of bytes",
            )?,
            outbox_poll_interval: r.duration("OUTBOX_POLL_INTERVAL", "1s")?,
            outbox_retry_base: r.duration("OUTBOX_RETRY_BASE", "5s")?,
            outbox_max_attempts: r.parse("OUTBOX_MAX_ATTEMPTS", 20, "a positive integer")?,
            upstream_breaker_threshold: r.parse(
                "UPSTREAM_BREAKER_THRESHOLD",
                5,
                "a positive integer",
            )?,
            upstream_breaker_cooldown: r.duration("UPSTREAM_BREAKER_COOLDOWN", "30s")?,
            health_probe_timeout: r.duration("HEALTH_PROBE_TIMEOUT", "2s")?,
            health_probe_cache: r.duration("HEALTH_PROBE_CACHE", "15s")?,
        };
        if let Some(key) = &settings.integration_key {
            // The platform key reads every tenant: it must not be guessable, nor the key that
            // another product holds for a narrower purpose.
            if key.expose().len() < 32 {
                return Err(ConfigError {
                    name: "INTEGRATION_KEY",
                    message: "must be at least 32 bytes long".into(),
                });
            }
            for (name, other) in [
                ("PORTAL_CLIENT_SSO_SECRET", &settings.sso_secret),
                ("PORTAL_INTEGRATION_KEY", &settings.portal_integration_key),
                ("PSA_SERVICE_KEY", &settings.psa_service_key),
                ("BOOKS_SERVICE_KEY", &settings.books_service_key),
                ("MISSION_SERVICE_KEY", &settings.mission_service_key),
                ("LEGAL_WEBHOOK_SECRET", &settings.legal_webhook_secret),
                ("BUS_INTEGRATION_KEY", &settings.bus_integration_key),
                ("BUS_SDK_KEY", &settings.bus_sdk_key),
                ("SES_SMTP_PASSWORD", &settings.ses_smtp_password),
            ] {
                if other.as_ref().is_some_and(|o| o.expose() == key.expose()) {
                    return Err(ConfigError {
                        name: "INTEGRATION_KEY",
                        message: format!(
                            "must differ from {name}: the platform key reads every tenant"
                        ),
                    });
                }
            }
        }
        if settings.upstream_breaker_threshold == 0 {
            return Err(ConfigError {
                name: "UPSTREAM_BREAKER_THRESHOLD",
                message: "must be at least 1".into(),
            });
        }
        if settings.upstream_breaker_cooldown.is_zero() {
            return Err(ConfigError {
                name: "UPSTREAM_BREAKER_COOLDOWN",
                message: "must be longer than 0".into(),
            });
        }
        if settings.health_probe_timeout > Duration::from_secs(10) {
            return Err(ConfigError {
                name: "HEALTH_PROBE_TIMEOUT",
                message: "must be at most 10s".into(),
            });
        }
        if settings.health_probe_timeout.is_zero() {
            return Err(ConfigError {
                name: "HEALTH_PROBE_TIMEOUT",
                message: "must be longer than 0".into(),
            });
        }
        if settings.outbox_poll_interval.is_zero() {
            return Err(ConfigError {
                name: "OUTBOX_POLL_INTERVAL",
                message: "must be longer than 0".into(),
            });
        }
        if settings.outbox_max_attempts == 0 {
            return Err(ConfigError {
                name: "OUTBOX_MAX_ATTEMPTS",
                message: "must be at least 1".into(),
            });
        }
        for (name, value) in [
            ("WS_MAX_CONNECTIONS", settings.ws_max_connections),
            (
                "WS_MAX_CONNECTIONS_PER_IP",
                settings.ws_max_connections_per_ip,
            ),
            ("WS_MAX_PENDING_PER_IP", settings.ws_max_pending_per_ip),
            ("HTTP_MAX_CONNECTIONS", settings.http_max_connections),
            ("WS_MAX_PENDING", settings.ws_max_pending),
            (
                "HTTP_MAX_CONNECTIONS_PER_IP",
                settings.http_max_connections_per_ip,
            ),
            (
                "WS_MAX_OPERATIONS_PER_PRINCIPAL",
                settings.ws_max_operations_per_principal,
            ),
            (
                "GRAPHQL_SUBSCRIPTION_MAX_NODES",
                settings.graphql_subscription_max_nodes,
            ),
            (
                "WS_MAX_CONNECTIONS_PER_PRINCIPAL",
                settings.ws_max_connections_per_principal,
            ),
            ("WS_MAX_DOCUMENT_BYTES", settings.ws_max_document_bytes),
            ("WS_MAX_VARIABLES_BYTES", settings.ws_max_variables_bytes),
            ("GRAPHQL_MAX_NODES", settings.graphql_max_nodes),
            (
                "GRAPHQL_MAX_RESPONSE_BYTES",
                settings.graphql_max_response_bytes,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError {
                    name,
                    message: "must be at least 1".into(),
                });
            }
        }
        if settings.http_max_connections > 1_000_000 {
            return Err(ConfigError {
                name: "HTTP_MAX_CONNECTIONS",
                message: "must be at most 1000000".into(),
            });
        }
        if settings.ses_smtp_port == 0 {
            return Err(ConfigError {
                name: "SES_SMTP_PORT",
                message: "must be a port number from 1 to 65535".into(),
            });
        }
        settings.ses_smtp_tls =
            SmtpTls::choose(r.get("SES_SMTP_TLS")?.as_deref(), settings.ses_smtp_port)?;
        for (name, value) in [
            ("HTTP_HEADER_TIMEOUT", settings.http_header_timeout),
            ("HTTP_BODY_TIMEOUT", settings.http_body_timeout),
            ("HTTP_WRITE_TIMEOUT", settings.http_write_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError {
                    name,
                    message: "must be longer than 0".into(),
                });
            }
        }
        if settings.upstream_max_body < 1024 {
            return Err(ConfigError {
                name: "UPSTREAM_MAX_BODY",
                message: "must be at least 1024 (bytes)".into(),
            });
        }
        if settings.run_sync_min_interval > Duration::from_secs(24 * 3600) {
            return Err(ConfigError {
                name: "RUN_SYNC_MIN_INTERVAL",
                message: "must be at most 24h".into(),
            });
        }
        if settings.database_max_connections == 0 {
            return Err(ConfigError {
                name: "DATABASE_MAX_CONNECTIONS",
                message: "must be at least 1".into(),
            });
        }
        Ok(settings)
    }

    /// Whether session cookies get the `Secure` attribute (not when `PUBLIC_URL` is http).
    pub fn secure_cookies(&self) -> bool {
        !self.public_url.starts_with("http://")
    }

    /// Origins allowed to open cookie-authenticated WebSockets: `PUBLIC_URL` and `CORS_ORIGINS`.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        origin == self.public_url || self.cors_origins.iter().any(|o| o == origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_source(&map)
    }

    #[test]
    fn defaults_match_the_contract() -> Result<(), ConfigError> {
        let s = settings(&[])?;
        assert_eq!(&*s.database_url, "sqlite://onegraph.db?mode=rwc");
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.ws_max_connections, 20_000);
        assert_eq!(s.ws_max_connections_per_ip, 500);
        assert_eq!(s.ws_max_pending_per_ip, 50);
        assert_eq!(s.ws_max_connections_per_principal, 50);
        assert_eq!(s.ws_max_document_bytes, 16 * 1024);
        assert_eq!(s.ws_max_variables_bytes, 16 * 1024);
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:4000");
        assert_eq!(s.ticket_sync_interval, Duration::from_secs(300));
        assert_eq!(s.invoice_sync_interval, Duration::from_secs(6 * 3600));
        assert_eq!(s.billing_usage_at, (0, 58));
        assert_eq!(s.dataloader_delay, Duration::from_millis(1));
        assert_eq!(s.run_sync_min_interval, Duration::from_secs(30));
        assert_eq!(s.upstream_max_body, 4 * 1024 * 1024);
        assert_eq!(s.http_header_timeout, Duration::from_secs(10));
        assert_eq!(s.http_body_timeout, Duration::from_secs(30));
        assert_eq!(s.http_write_timeout, Duration::from_secs(30));
        assert_eq!(s.http_max_connections, 25_000);
        assert!(settings(&[("HTTP_MAX_CONNECTIONS", "1000001")]).is_err());
        assert_eq!(s.ws_max_pending, 2_000);
        assert_eq!(s.ses_smtp_tls, SmtpTls::StartTls);
        assert_eq!(
            settings(&[("SES_SMTP_PORT", "465")])?.ses_smtp_tls,
            SmtpTls::Wrapper
        );
        assert_eq!(
            settings(&[("SES_SMTP_PORT", "465"), ("SES_SMTP_TLS", "starttls")])?.ses_smtp_tls,
            SmtpTls::StartTls
        );
        assert!(settings(&[("SES_SMTP_TLS", "none")]).is_err());
        assert!(settings(&[("HTTP_HEADER_TIMEOUT", "0")]).is_err());
        assert!(settings(&[("HTTP_BODY_TIMEOUT", "soon")]).is_err());
        assert!(settings(&[("UPSTREAM_MAX_BODY", "1023")]).is_err());
        assert!(settings(&[("UPSTREAM_MAX_BODY", "4MiB")]).is_err());
        assert!(s.sso_secret.is_none());
        assert!(!s.secure_cookies());
        Ok(())
    }

    #[test]
    fn short_sso_secret_is_refused_without_echoing_it() {
        let err = settings(&[("PORTAL_CLIENT_SSO_SECRET", "too-short-secret")]).err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("at least 32 bytes"), "{text}");
        assert!(!text.contains("too-short-secret"));
    }

    #[test]
    fn the_platform_integration_key_is_long_and_its_own() {
        let long = "k".repeat(32);
        let short = settings(&[("INTEGRATION_KEY", "short-key")]);
        assert_eq!(short.err().map(|e| e.name), Some("INTEGRATION_KEY"));
        let shared = settings(&[
            ("INTEGRATION_KEY", long.as_str()),
            ("PSA_SERVICE_KEY", long.as_str()),
        ]);
        let error = shared.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("PSA_SERVICE_KEY"), "{error}");
        assert!(!error.contains(&long), "{error}");
        assert!(settings(&[("INTEGRATION_KEY", long.as_str())]).is_ok());
    }

    #[test]
    fn file_variant_wins_and_trims_one_newline() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("onegraph-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("secret");
        std::fs::write(&path, "0123456789abcdef0123456789abcdef\n")?;
        let path_text = path.to_string_lossy().into_owned();
        let s = settings(&[
            ("PORTAL_CLIENT_SSO_SECRET", "ignored"),
            ("PORTAL_CLIENT_SSO_SECRET_FILE", &path_text),
        ])?;
        assert_eq!(
            s.sso_secret.as_ref().map(Secret::expose),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(format!("{:?}", s.sso_secret), "Some([redacted])");
        Ok(())
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("6h"), Some(Duration::from_secs(21600)));
        assert_eq!(parse_duration("5 minutes"), None);
        assert_eq!(parse_duration("m"), None);
        assert!(settings(&[("DATALOADER_DELAY", "soon")]).is_err());
    }

    #[test]
    fn database_url_debug_hides_credentials() -> Result<(), ConfigError> {
        let s = settings(&[("DATABASE_URL", "postgres://user:hunter2@db:5432/onegraph")])?;
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("postgres://[redacted]"), "{debug}");
        assert_eq!(s.database_url.len(), 40);
        Ok(())
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_ranges() -> Result<(), ConfigError> {
        let s = settings(&[("TRUSTED_PROXIES", " 10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1,")])?;
        let ip = |t: &str| {
            t.parse::<IpAddr>()
                .ok()
                .unwrap_or(IpAddr::from([0, 0, 0, 0]))
        };
        let trusted = |t: &str| s.trusted_proxies.iter().any(|n| n.contains(ip(t)));
        assert_eq!(s.trusted_proxies.len(), 4);
        assert!(trusted("10.200.3.4"));
        assert!(trusted("::ffff:10.1.1.1"));
        assert!(trusted("192.168.1.7"));
        assert!(!trusted("192.168.1.8"));
        assert!(trusted("fd12:3456::1"));
        assert!(!trusted("fe80::1"));
        assert!(trusted("::1"));
        assert!(!trusted("11.0.0.1"));

        assert_eq!(
            IpNetwork::parse("0.0.0.0/0").map(|n| n.contains(ip("8.8.8.8"))),
            Some(true)
        );
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0/8",
            "::/129",
            "host",
            "1.2.3.4/-1",
            "1.2.3.4/+8",
        ] {
            assert_eq!(IpNetwork::parse(bad), None, "{bad}");
        }
        let err = settings(&[("TRUSTED_PROXIES", "10.0.0.0/8,proxy")]).err();
        assert!(err.is_some_and(|e| e.to_string().contains("TRUSTED_PROXIES")));
        Ok(())
    }

    #[test]
    fn outbox_settings_default_and_are_validated() -> Result<(), ConfigError> {
        let s = settings(&[])?;
        assert_eq!(s.outbox_poll_interval, Duration::from_secs(1));
        assert_eq!(s.outbox_retry_base, Duration::from_secs(5));
        assert_eq!(s.outbox_max_attempts, 20);
        assert_eq!(s.upstream_breaker_threshold, 5);
        assert_eq!(s.upstream_breaker_cooldown, Duration::from_secs(30));
        assert_eq!(s.health_probe_timeout, Duration::from_secs(2));
        let s = settings(&[
            ("OUTBOX_POLL_INTERVAL", "50ms"),
            ("OUTBOX_MAX_ATTEMPTS", "3"),
        ])?;
        assert_eq!(s.outbox_poll_interval, Duration::from_millis(50));
        assert_eq!(s.outbox_max_attempts, 3);
        for (name, value) in [
            ("OUTBOX_POLL_INTERVAL", "0"),
            ("OUTBOX_POLL_INTERVAL", "soon"),
            ("OUTBOX_MAX_ATTEMPTS", "0"),
            ("OUTBOX_RETRY_BASE", "5 minutes"),
            ("UPSTREAM_BREAKER_THRESHOLD", "0"),
            ("UPSTREAM_BREAKER_COOLDOWN", "0"),
            ("HEALTH_PROBE_TIMEOUT", "0"),
        ] {
            let err = settings(&[(name, value)]).err();
            assert!(err.is_some_and(|e| e.name == name), "{name}={value}");
        }
        Ok(())
    }
}
