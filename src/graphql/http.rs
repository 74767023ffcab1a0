//! The `/graphql` endpoint over HTTP: POST with `application/json` bodies, GET for queries,
//! the WebSocket upgrade, and GraphiQL for browsers. Content negotiation and status codes
//! follow the GraphQL-over-HTTP specification.

use std::net::SocketAddr;

use async_graphql::parser::types::OperationType;
use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRequestParts, Query, Request, State, ws::WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    app::AppState,
    auth::RequestMeta,
    error::{AppError, ErrorCode},
    http::auth as http_auth,
};

/// Largest request body accepted (1 MiB).
pub const MAX_BODY: usize = 1 << 20;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

fn wants_graphql_response(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains(GRAPHQL_RESPONSE))
}

/// A request-level error (no execution happened), as a GraphQL response body.
fn request_error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = code.graphql_body(message);
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(JSON))
}

/// The client's address (behind `TRUSTED_PROXIES`, from `X-Forwarded-For`).
fn client_ip(state: &AppState, req: &Request) -> Option<std::net::IpAddr> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    http_auth::request_ip(state, peer, req.headers())
}

/// The query string of `GET /graphql`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

async fn execute(
    state: &AppState,
    request: async_graphql::Request,
    meta: RequestMeta,
    headers: &HeaderMap,
) -> Response {
    let response = super::execute(state, request, meta).await;
    let graphql_response = wants_graphql_response(headers);
    // A request error (parse, validation, limits: no execution, no `path`) is 4xx under
    // `application/graphql-response+json`; once execution started, field errors are 200 even
    // when `data` ends up null (async-graphql drops errored fields, so a lone refused root
    // field leaves `data: null`).
    let request_failed = matches!(response.data, async_graphql::Value::Null)
        && response.is_err()
        && response.errors.iter().all(|e| e.path.is_empty());
    let status = if graphql_response && request_failed {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = match serde_json::to_vec(&response) {
        Ok(body) => body,
        Err(err) => return AppError::internal(format!("encoding response: {err}")).into_response(),
    };
    let content_type = if graphql_response {
        GRAPHQL_RESPONSE
    } else {
        JSON
    };
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// POST /graphql.
pub async fn post_graphql(State(state): State<AppState>, req: Request) -> Response {
    let ip = client_ip(&state, &req);
    let (parts, body) = req.into_parts();
    if !is_json(&parts.headers) {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadUserInput,
            "POST /graphql takes Content-Type: application/json",
        );
    }
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return request_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::QueryTooComplex,
                "Request body is larger than 1 MiB",
            );
        }
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        return request_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            "Batched requests are not supported; send one operation per request",
        );
    }
    let request: async_graphql::Request = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(err) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                &format!("Body is not a GraphQL request: {err}"),
            );
        }
    };
    let meta = match http_auth::request_meta(&state, &parts.headers, ip).await {
        Ok(meta) => meta,
        Err(err) => return err.into_response(),
    };
    execute(&state, request, meta, &parts.headers).await
}

/// The refusal of a WebSocket upgrade past a connection cap (CONTRACT section 3): HTTP 429
/// `RATE_LIMITED` with `Retry-After: 5`.
fn ws_refused(refusal: super::ws::Refusal) -> Response {
    let body = ErrorCode::RateLimited.rest_body(refusal.message());
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// GET /graphql: WebSocket upgrade, GraphiQL, or a query in the URL.
pub async fn get_graphql(State(state): State<AppState>, req: Request) -> Response {
    let ip = client_ip(&state, &req);
    let (mut parts, _body) = req.into_parts();
    if is_websocket(&parts.headers) {
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => upgrade,
            Err(rejection) => return rejection.into_response(),
        };
        // The connection counts from here on: the caps are checked before any work for it
        // (the cookie's session lookup), and its places are given back if it goes no further.
        let mut slots = match super::ws::reserve(&state, ip) {
            Ok(slots) => slots,
            Err(refusal) => return ws_refused(refusal),
        };
        let meta = RequestMeta {
            principal: None,
            ip,
            user_agent: http_auth::user_agent(&parts.headers),
        };
        let cookie_principal =
            http_auth::cookie_principal_for_websocket(&state, &parts.headers).await;
        if let Some(principal) = &cookie_principal
            && let Err(refusal) = slots.set_principal(principal)
        {
            return ws_refused(refusal);
        }
        return super::ws::upgrade(upgrade, state, slots, cookie_principal, meta);
    }
    let params = match Query::<GetParams>::try_from_uri(&parts.uri) {
        Ok(Query(params)) => params,
        Err(rejection) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                &format!("Malformed query string: {}", rejection.body_text()),
            );
        }
    };
    let Some(query) = params.query else {
        if accepts_html(&parts.headers) && state.settings.graphiql {
            return graphiql_page();
        }
        return request_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            "GET /graphql needs a query parameter",
        );
    };
    let operation_name = params.operation_name.filter(|o| !o.is_empty());
    // Parsed once here (to refuse mutations) and handed on, so the schema does not parse it
    // again; a syntax error is left for the schema to report.
    let parsed = async_graphql::parser::parse_query(&query).ok();
    if let Some(doc) = &parsed {
        let operation_type = match &doc.operations {
            async_graphql::parser::types::DocumentOperations::Single(op) => Some(op.node.ty),
            async_graphql::parser::types::DocumentOperations::Multiple(ops) => operation_name
                .as_deref()
                .and_then(|name| ops.get(name))
                .or_else(|| (ops.len() == 1).then(|| ops.values().next()).flatten())
                .map(|op| op.node.ty),
        };
        if matches!(
            operation_type,
            Some(OperationType::Mutation | OperationType::Subscription)
        ) {
            let mut response = request_error(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::BadUserInput,
                "Mutations and subscriptions cannot be sent with GET; use POST or the WebSocket",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
    }
    let mut request = async_graphql::Request::new(query);
    if let Some(doc) = parsed {
        request.set_parsed_query(doc);
    }
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables.filter(|v| !v.is_empty()) {
        match serde_json::from_str::<Value>(&variables) {
            Ok(value @ Value::Object(_)) => {
                request = request.variables(async_graphql::Variables::from_json(value));
            }
            _ => {
                return request_error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadUserInput,
                    "variables must be a JSON object",
                );
            }
        }
    }
    let meta = match http_auth::request_meta(&state, &parts.headers, ip).await {
        Ok(meta) => meta,
        Err(err) => return err.into_response(),
    };
    execute(&state, request, meta, &parts.headers).await
}

fn graphiql_page() -> Response {
    let mut response = Html(super::graphiql::page("/graphql", "/graphql")).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Answers methods other than GET and POST.
pub async fn method_not_allowed(method: Method) -> Response {
    let mut response = request_error(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::BadUserInput,
        &format!("{method} is not supported on /graphql"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    response
}
