//! Sign-on endpoints (CONTRACT section 1) and how requests are authenticated: a bearer token,
//! or the `onegraph_session` cookie.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    Json,
    extract::{ConnectInfo, Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    app::AppState,
    auth::{Principal, RequestMeta},
    config::IpNetwork,
    error::{AppError, ErrorCode},
    services::shared::sessions::{self as auth_service, LoginOutcome},
};

/// The session cookie's name.
pub const COOKIE: &str = "onegraph_session";

/// Longest user agent kept for audit details.
const MAX_USER_AGENT: usize = 300;

/// The token of an `Authorization: Bearer …` header, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The `User-Agent` header, cut to 300 characters, for audit details.
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(MAX_USER_AGENT).collect())
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`, `[::1]:80`).
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

/// The client's address, for the rate limiter and audit details.
///
/// When `peer` is one of the `trusted` proxies, the answer is the rightmost address of
/// `X-Forwarded-For` (all such headers, in order) that is not itself a trusted proxy: the
/// entries to its left were written by the client and prove nothing. When every entry is
/// trusted, the leftmost one; when an entry does not parse, the last trusted hop before it.
/// From any other peer, `X-Forwarded-For` is ignored and the answer is the peer.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNetwork]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = forwarded_address(entry) else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// [`client_ip`] of a request whose connection info is `peer` (absent when the server runs
/// without connection info), with the configured `TRUSTED_PROXIES`.
pub fn request_ip(
    state: &AppState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    peer.map(|peer| client_ip(peer.ip(), headers, &state.settings.trusted_proxies))
}

/// The session token in the `Cookie` header, if any; `UNAUTHENTICATED` when the request
/// carries more than one.
pub fn cookie_token(headers: &HeaderMap) -> Result<Option<&str>, AppError> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim());
    let first = found.next();
    if found.next().is_some() {
        // Another site or a sibling domain can plant a second cookie of this name; which one
        // a server reads is not the client's to guess, so neither is.
        return Err(AppError::Unauthenticated(
            "Send one session cookie, not several".into(),
        ));
    }
    Ok(first)
}

/// The header naming the tenant of an integration key's GraphQL request.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// Authenticates a request from its bearer token or cookie, or from its integration key
/// (`X-Integration-Key`, with `X-Tenant-Id`: an INTEGRATION principal, see
/// `integration_keys::principal`). An unknown or expired session or kiosk token leaves the
/// request unauthenticated (guards answer `UNAUTHENTICATED`), so that sign-in still works
/// with a stale header; a missing, wrong or revoked integration key is refused here
/// (`UNAUTHENTICATED`, 401), since a caller that sends one means to be that integration.
pub async fn request_meta(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
) -> Result<RequestMeta, AppError> {
    if let Some(key) = headers.get(super::internal::KEY_HEADER) {
        if bearer(headers).is_some() {
            return Err(AppError::Unauthenticated(
                "Send a bearer token or an integration key, not both".into(),
            ));
        }
        let tenant = headers
            .get(TENANT_HEADER)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"));
        let principal = crate::services::shared::integration_keys::principal(
            state,
            key.to_str().unwrap_or(""),
            tenant,
        )
        .await?;
        return Ok(RequestMeta {
            principal: Some(Arc::new(principal)),
            ip,
            user_agent: user_agent(headers),
        });
    }
    let token = match bearer(headers) {
        Some(token) => Some(token),
        None => cookie_token(headers)?,
    };
    let principal = match token {
        Some(token) => auth_service::authenticate(state, token)
            .await?
            .map(Arc::new),
        None => None,
    };
    Ok(RequestMeta {
        principal,
        ip,
        user_agent: user_agent(headers),
    })
}

/// The cookie's principal for a WebSocket upgrade, only from an allowed `Origin`.
pub async fn cookie_principal_for_websocket(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<Arc<Principal>> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    if !state.settings.origin_allowed(origin) {
        return None;
    }
    let token = cookie_token(headers).ok()??;
    auth_service::authenticate(state, token)
        .await
        .ok()
        .flatten()
        .map(Arc::new)
}

fn session_cookie(state: &AppState, outcome: &LoginOutcome) -> Option<HeaderValue> {
    let secure = if state.settings.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
        outcome.token,
        auth_service::SESSION_HOURS * 3600
    ))
    .ok()
}

fn session_body(outcome: &LoginOutcome) -> serde_json::Value {
    json!({
        "session_token": outcome.token,
        "expires_at": outcome.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "principal": {
            "kind": outcome.principal.kind.as_str(),
            "tenant_id": outcome.principal.tenant_id,
            "user_id": outcome.principal.user_id,
            "permissions": outcome.principal.permissions.names(),
        }
    })
}

fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Maps sign-on failures to the contract's 401 answers.
fn login_error(err: AppError) -> AppError {
    match err {
        AppError::TokenReplayed
        | AppError::AccountNotFound
        | AppError::Unauthenticated(_)
        | AppError::SsoNotConfigured
        | AppError::RateLimited { .. }
        | AppError::Internal(_) => err,
        _ => AppError::Unauthenticated("Invalid or expired sign-on token".into()),
    }
}

/// The exchange body.
#[derive(Debug, Deserialize)]
pub struct ExchangeBody {
    token: Option<String>,
}

/// `POST /api/auth/client-hub-sso` `{"token"}` → session JSON and cookie.
pub async fn sso_exchange(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<ExchangeBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if state.settings.sso_secret.is_none() {
        return AppError::SsoNotConfigured.into_response();
    }
    // A token is taken before the attempt and given back when it succeeds: failures are
    // limited, and concurrent guesses cannot all pass before one is charged.
    let ip = request_ip(&state, Some(addr), &headers);
    if let Err(err) = state.limiter.check(ip) {
        return err.into_response();
    }
    let token = match body {
        Ok(Json(ExchangeBody { token: Some(token) })) if !token.trim().is_empty() => token,
        Ok(_) => return AppError::bad_input("token is required").into_response(),
        Err(_) => {
            return AppError::bad_input("body must be JSON: {\"token\": \"...\"}").into_response();
        }
    };
    match auth_service::login_with_hub_sso(&state, &token).await {
        Ok(outcome) => {
            state.limiter.refund(ip);
            let mut response = (StatusCode::OK, Json(session_body(&outcome))).into_response();
            if let Some(cookie) = session_cookie(&state, &outcome) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            no_store(&mut response);
            response
        }
        Err(err) => {
            let mut response = login_error(err).into_response();
            no_store(&mut response);
            response
        }
    }
}

/// Query of the redirect flow.
#[derive(Debug, Deserialize)]
pub struct RedirectQuery {
    token: Option<String>,
    redirect: Option<String>,
}

/// A redirect target that stays on this origin: `/…` but not `//`, `/\`, encoded slashes or
/// control characters; anything else becomes `/`.
pub fn safe_redirect(target: Option<&str>) -> String {
    let Some(target) = target else {
        return "/".into();
    };
    let lower = target.to_ascii_lowercase();
    let ok = target.starts_with('/')
        && !target.starts_with("//")
        && !target.starts_with("/\\")
        && !target.contains('\\')
        && !lower.contains("%2f")
        && !lower.contains("%5c")
        && !lower.contains("%00")
        && !target.chars().any(|c| c.is_control() || c.is_whitespace())
        && target.len() <= 2048;
    if ok { target.to_owned() } else { "/".into() }
}

fn error_page(err: &AppError) -> Response {
    let message = match err {
        AppError::TokenReplayed => {
            "This sign-in link was already used. Please sign in again from Hub."
        }
        AppError::AccountNotFound => {
            "No account found for you here. Ask your administrator for access."
        }
        AppError::SsoNotConfigured => "Sign-in through Hub is not configured on this server.",
        AppError::RateLimited { .. } => {
            "Too many sign-in attempts. Please wait a moment and try again."
        }
        _ => "This sign-in link is invalid or has expired. Please sign in again from Hub.",
    };
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign-in failed</title></head>\
         <body><h1>Sign-in failed</h1><p>{message}</p><p>Error code: {}</p></body></html>",
        err.code()
    );
    let mut response = (err.status(), Html(html)).into_response();
    if let AppError::RateLimited { retry_after_secs } = err
        && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    no_store(&mut response);
    response
}

/// `GET /api/auth/client-hub-sso?token=…&redirect=/path` → 303 to `redirect` with the cookie,
/// or a plain error page.
pub async fn sso_redirect(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<RedirectQuery>, QueryRejection>,
) -> Response {
    if state.settings.sso_secret.is_none() {
        return error_page(&AppError::SsoNotConfigured);
    }
    let ip = request_ip(&state, Some(addr), &headers);
    if let Err(err) = state.limiter.check(ip) {
        return error_page(&err);
    }
    let Ok(Query(query)) = query else {
        return error_page(&AppError::bad_input(
            "The sign-in link is malformed: expected ?token=…&redirect=/path",
        ));
    };
    let Some(token) = query.token.filter(|t| !t.trim().is_empty()) else {
        return error_page(&AppError::unauthenticated());
    };
    match auth_service::login_with_hub_sso(&state, &token).await {
        Ok(outcome) => {
            state.limiter.refund(ip);
            let target = safe_redirect(query.redirect.as_deref());
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&target) {
                headers.insert(header::LOCATION, location);
            } else {
                headers.insert(header::LOCATION, HeaderValue::from_static("/"));
            }
            if let Some(cookie) = session_cookie(&state, &outcome) {
                headers.insert(header::SET_COOKIE, cookie);
            }
            no_store(&mut response);
            response
        }
        Err(err) => error_page(&login_error(err)),
    }
}

/// `POST /api/auth/logout`: revokes the session and clears the cookie.
///
/// A cookie-authenticated POST must be `Content-Type: application/json` (CONTRACT section 1),
/// so that a cross-site form cannot sign the user out.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    let cookie = !matches!(cookie_token(&headers), Ok(None));
    if bearer(&headers).is_none() && cookie && !json_body {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            Json(ErrorCode::BadUserInput.rest_body(
                "A logout with the session cookie takes Content-Type: application/json",
            )),
        )
            .into_response();
    }
    let principal = match request_meta(&state, &headers, None).await {
        Ok(meta) => meta.principal,
        Err(err) => return err.into_response(),
    };
    if let Err(err) = auth_service::logout(&state, principal.as_deref()).await {
        return err.into_response();
    }
    let mut response = Json(json!({"ok": true})).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("onegraph_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"),
    );
    no_store(&mut response);
    response
}

#[cfg(test)]
mod tests {
    use super::{IpAddr, IpNetwork, client_ip, safe_redirect};
    use axum::http::{HeaderMap, HeaderValue};

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn xff(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_static(v));
        }
        headers
    }

    #[test]
    fn client_ip_trusts_only_configured_proxies() {
        let trusted: Vec<IpNetwork> = ["10.0.0.0/8", "127.0.0.1"]
            .iter()
            .filter_map(|t| IpNetwork::parse(t))
            .collect();
        let peer = ip("10.1.2.3");
        // The rightmost untrusted entry wins; what the client wrote to its left is ignored.
        let headers = xff(&["6.6.6.6, 203.0.113.9"]);
        assert_eq!(client_ip(peer, &headers, &trusted), ip("203.0.113.9"));
        // Trusted hops on the right are skipped, across repeated headers.
        let headers = xff(&["6.6.6.6, 203.0.113.9", "10.9.9.9"]);
        assert_eq!(client_ip(peer, &headers, &trusted), ip("203.0.113.9"));
        // Ports and IPv4-mapped IPv6 are understood.
        let headers = xff(&["[2001:db8::1]:4711"]);
        assert_eq!(client_ip(peer, &headers, &trusted), ip("2001:db8::1"));
        let headers = xff(&["203.0.113.9:80"]);
        assert_eq!(client_ip(peer, &headers, &trusted), ip("203.0.113.9"));
        assert_eq!(
            client_ip(
                ip("::ffff:10.1.2.3"),
                &xff(&["::ffff:198.51.100.1"]),
                &trusted
            ),
            ip("198.51.100.1")
        );
        // Garbage stops the walk at the last trusted hop.
        let headers = xff(&["203.0.113.9, garbage"]);
        assert_eq!(client_ip(peer, &headers, &trusted), peer);
        // No header: the peer.
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
        // Every entry trusted: the leftmost.
        let headers = xff(&["10.0.0.7, 10.0.0.8"]);
        assert_eq!(client_ip(peer, &headers, &trusted), ip("10.0.0.7"));
        // An untrusted peer's header is ignored.
        let headers = xff(&["203.0.113.9"]);
        assert_eq!(
            client_ip(ip("198.51.100.7"), &headers, &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client_ip(peer, &headers, &[]), peer);
    }

    #[test]
    fn redirects_stay_relative() {
        assert_eq!(safe_redirect(Some("/visits?x=1")), "/visits?x=1");
        for bad in [
            "//evil.com",
            "/\\evil.com",
            "https://evil.com",
            "/%2F%2Fevil.com",
            "/a\nb",
            "/%5cevil",
            "evil",
        ] {
            assert_eq!(safe_redirect(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_redirect(None), "/");
    }
}
