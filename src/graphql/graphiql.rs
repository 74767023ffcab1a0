//! GraphiQL served entirely from the binary: the HTML page and its four assets, no CDN.
//!
//! `build.rs` fetches the pinned npm packages (`graphiql`, `react`, `react-dom`), checks their
//! integrity and generates `$OUT_DIR/graphiql_assets.rs`, included below. When the build could
//! not fetch them, `BUNDLED` is `false`, the assets are empty, [`page`] explains how to get them
//! and [`asset`] answers 404.
//!
//! Routes to wire up: the page wherever GraphiQL is shown, and [`asset`] at
//! `/graphql/assets/{file}` ([`ASSETS_PATH`]), which is where the page loads its files from.
//!
//! Bearer token: the page has a small "Bearer token" field above GraphiQL that stores the token
//! in `localStorage` under `onegraph.token`. The page wraps `GraphiQL.createFetcher` and, on
//! every operation, adds `Authorization: Bearer <token>` to the headers GraphiQL passes to the
//! fetcher, unless the user already typed an `Authorization` header in GraphiQL's Headers
//! editor. In graphiql 3.9 `createFetcher` sends those per-operation headers both as HTTP
//! request headers and, for subscriptions, as the graphql-transport-ws `connection_init`
//! payload (`{...wsConnectionParams, ...headers}`, with a new WebSocket client per
//! subscription), so the WebSocket carries `{"Authorization": "Bearer …"}` too.
//! (`wsConnectionParams` itself is spread as a plain object when the fetcher is created, so a
//! function there would not work, and a fixed object would not follow token changes.)
//! Without a token, requests rely on the session cookie (fetch's default `same-origin`).

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;

include!(concat!(env!("OUT_DIR"), "/graphiql_assets.rs"));

/// URL path the page loads its assets from; route [`asset`] at `/graphql/assets/{file}`.
pub const ASSETS_PATH: &str = "/graphql/assets";

/// `localStorage` key under which the page keeps the bearer token the user pasted.
pub const TOKEN_STORAGE_KEY: &str = "onegraph.token";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Whether this binary embeds the GraphiQL assets (the build could fetch them from npm).
pub fn bundled() -> bool {
    BUNDLED
}

/// The GraphiQL page for a GraphQL endpoint (`endpoint`, e.g. `/graphql`, used for HTTP
/// requests) and its WebSocket endpoint (`subscription_endpoint`, a path such as `/graphql` or
/// an absolute URL; the browser turns it into a `ws://` or `wss://` URL from its location).
///
/// When the build did not bundle the assets, this is a page saying so and how to get them.
pub fn page(endpoint: &str, subscription_endpoint: &str) -> String {
    if BUNDLED {
        graphiql_page(endpoint, subscription_endpoint)
    } else {
        not_bundled_page(endpoint, subscription_endpoint, NOT_BUNDLED_REASON)
    }
}

/// Serves one of the four GraphiQL assets, to be routed at `/graphql/assets/{file}`.
///
/// Known names: `react.production.min.js`, `react-dom.production.min.js`, `graphiql.min.js`,
/// `graphiql.min.css`; anything else is 404. Assets are cached for a year as immutable: the page
/// adds the package version as a query string, so a version change reaches browsers.
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some((body, content_type)) = lookup(&file) else {
        return not_found("No such GraphiQL asset.\n".to_owned());
    };
    if !BUNDLED {
        return not_found(format!(
            "The GraphiQL assets were not bundled in this build of onegraph ({NOT_BUNDLED_REASON}).\n\
             To get them, install Node.js with npm, then rebuild: cargo clean -p onegraph && cargo build\n"
        ));
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        Bytes::from_static(body),
    )
        .into_response()
}

/// The embedded bytes and `Content-Type` of an asset, by file name.
fn lookup(file: &str) -> Option<(&'static [u8], &'static str)> {
    match file {
        "react.production.min.js" => Some((REACT_JS, JS)),
        "react-dom.production.min.js" => Some((REACT_DOM_JS, JS)),
        "graphiql.min.js" => Some((GRAPHIQL_JS, JS)),
        "graphiql.min.css" => Some((GRAPHIQL_CSS, CSS)),
        _ => None,
    }
}

fn not_found(body: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The page that renders GraphiQL from the embedded assets.
fn graphiql_page(endpoint: &str, subscription_endpoint: &str) -> String {
    let endpoint_js = js_string(endpoint);
    let subscription_js = js_string(subscription_endpoint);
    let token_key_js = js_string(TOKEN_STORAGE_KEY);
    let gv = GRAPHIQL_VERSION;
    let rv = REACT_VERSION;
    let a = ASSETS_PATH;
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>onegraph · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{a}/graphiql.min.css?v={gv}">
<style>
  html, body {{ height: 100%; margin: 0; }}
  body {{ display: flex; flex-direction: column; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }}
  #onegraph-bar {{ display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; padding: .35rem .75rem;
    font-size: 13px; background: #f6f7f9; color: #3b4b68; border-bottom: 1px solid #d9dde3; }}
  #onegraph-bar input {{ flex: 0 1 24rem; min-width: 8rem; font: inherit; padding: .15rem .4rem; }}
  #onegraph-bar button {{ font: inherit; }}
  #onegraph-token-state {{ opacity: .8; }}
  #graphiql {{ flex: 1; min-height: 0; }}
  body.graphiql-dark #onegraph-bar {{ background: #212a3b; color: #b7c2d7; border-color: #2f3a4f; }}
  @media (prefers-color-scheme: dark) {{
    body:not(.graphiql-light) #onegraph-bar {{ background: #212a3b; color: #b7c2d7; border-color: #2f3a4f; }}
  }}
</style>
</head>
<body>
<form id="onegraph-bar" autocomplete="off">
  <strong>onegraph</strong>
  <label for="onegraph-token">Bearer token</label>
  <input id="onegraph-token" type="password" spellcheck="false" autocomplete="off"
    placeholder="paste a token (kept in this browser's localStorage)">
  <button type="submit">Save</button>
  <button type="button" id="onegraph-token-clear">Clear</button>
  <span id="onegraph-token-state"></span>
</form>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript.</noscript>
<script src="{a}/react.production.min.js?v={rv}"></script>
<script src="{a}/react-dom.production.min.js?v={rv}"></script>
<script src="{a}/graphiql.min.js?v={gv}"></script>
<script>
(function () {{
  'use strict';
  var endpoint = {endpoint_js};
  var subscriptionEndpoint = {subscription_js};
  var TOKEN_KEY = {token_key_js};
  var memoryToken = '';

  // The token the user pasted, kept in localStorage (or for this page only, where storage is
  // unavailable). A leading "Bearer " is dropped, so either form can be pasted.
  function readToken() {{
    try {{ return window.localStorage.getItem(TOKEN_KEY) || ''; }} catch (e) {{ return memoryToken; }}
  }}
  function writeToken(value) {{
    value = String(value || '').trim().replace(/^bearer\s+/i, '');
    memoryToken = value;
    try {{
      if (value) {{ window.localStorage.setItem(TOKEN_KEY, value); }}
      else {{ window.localStorage.removeItem(TOKEN_KEY); }}
    }} catch (e) {{ /* storage disabled: memoryToken serves this page */ }}
  }}

  // ws:// or wss:// URL for the subscription endpoint, relative to this page's location.
  function webSocketUrl(path) {{
    var url = new URL(path, window.location.href);
    if (url.protocol === 'https:') {{ url.protocol = 'wss:'; }}
    else if (url.protocol === 'http:') {{ url.protocol = 'ws:'; }}
    return url.href;
  }}

  var tokenInput = document.getElementById('onegraph-token');
  var tokenState = document.getElementById('onegraph-token-state');
  function showTokenState() {{
    tokenState.textContent = readToken()
      ? 'Token saved: sent on HTTP requests and in the WebSocket connection_init.'
      : 'No token: the session cookie, or an Authorization header typed in Headers, applies.';
    tokenState.title = 'Sent as "Authorization: Bearer <token>" unless the Headers tab has an ' +
      'Authorization header. Refetch the schema (\u27f3) after changing the token.';
  }}
  document.getElementById('onegraph-bar').addEventListener('submit', function (event) {{
    event.preventDefault();
    writeToken(tokenInput.value);
    tokenInput.value = '';
    showTokenState();
  }});
  document.getElementById('onegraph-token-clear').addEventListener('click', function () {{
    writeToken('');
    tokenInput.value = '';
    showTokenState();
  }});
  showTokenState();

  var container = document.getElementById('graphiql');
  if (typeof window.GraphiQL === 'undefined' || typeof window.React === 'undefined' ||
      typeof window.ReactDOM === 'undefined') {{
    container.textContent = 'GraphiQL could not load its scripts from {a}/.';
    return;
  }}

  var baseFetcher = GraphiQL.createFetcher({{
    url: new URL(endpoint, window.location.href).href,
    subscriptionUrl: webSocketUrl(subscriptionEndpoint)
  }});

  // createFetcher (graphiql 3.9) sends the per-operation headers both on HTTP requests and as
  // the graphql-transport-ws connection_init payload, so adding the token here covers both.
  // An Authorization header typed in the Headers editor wins over the saved token.
  function fetcher(params, options) {{
    var opts = Object.assign({{}}, options);
    var headers = Object.assign({{}}, opts.headers);
    var typed = Object.keys(headers).some(function (k) {{ return k.toLowerCase() === 'authorization'; }});
    var token = readToken();
    if (token && !typed) {{ headers.Authorization = 'Bearer ' + token; }}
    opts.headers = headers;
    return baseFetcher(params, opts);
  }}

  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, {{ fetcher: fetcher, defaultEditorToolsVisibility: true }})
  );
}})();
</script>
</body>
</html>
"##
    )
}

/// The page shown instead of GraphiQL when the build could not bundle its assets.
fn not_bundled_page(endpoint: &str, subscription_endpoint: &str, reason: &str) -> String {
    let endpoint = html_escape(endpoint);
    let subscription_endpoint = html_escape(subscription_endpoint);
    let reason = html_escape(reason);
    let gv = GRAPHIQL_VERSION;
    let rv = REACT_VERSION;
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>onegraph · GraphiQL not bundled</title>
<style>
  body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 46rem;
    margin: 3rem auto; padding: 0 1rem; line-height: 1.5; color: #1f2937; }}
  code, pre {{ background: #f3f4f6; border-radius: 4px; padding: .1rem .3rem; }}
  pre {{ padding: .6rem .8rem; white-space: pre-wrap; }}
</style>
</head>
<body>
<h1>GraphiQL is not available in this build</h1>
<p>The GraphiQL assets were not bundled in this build of onegraph. They are not stored in the
repository: the build fetches <code>graphiql@{gv}</code>, <code>react@{rv}</code> and
<code>react-dom@{rv}</code> from the npm registry, checks their integrity and embeds them in the
binary. This build could not do that:</p>
<pre>{reason}</pre>
<p>To get them, install Node.js with npm (able to reach the npm registry, directly or through
your proxy), then rebuild onegraph. The build script runs again only when <code>build.rs</code>
changes, so clean the package first:</p>
<pre>cargo clean -p onegraph &amp;&amp; cargo build</pre>
<p>The GraphQL API itself works without GraphiQL: POST JSON requests to
<code>{endpoint}</code>, and subscribe over WebSocket (<code>graphql-transport-ws</code>) at
<code>{subscription_endpoint}</code>.</p>
</body>
</html>
"#
    )
}

/// `s` as a double-quoted JavaScript (and JSON) string literal that is also safe inside an
/// HTML `<script>` element: `<`, `>`, `&`, quotes, control characters and U+2028/U+2029 are
/// written as `\uXXXX` escapes, so no `</script>` or `<!--` can appear.
fn js_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\'' | '\u{2028}' | '\u{2029}' => push_unicode_escape(&mut out, c),
            c if c.is_control() => push_unicode_escape(&mut out, c),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn push_unicode_escape(out: &mut String, c: char) {
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        out.push_str(&format!("\\u{unit:04x}"));
    }
}

/// `s` escaped for HTML text and attribute values.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "/graphql\"</script><script>alert(1)</script><!--'\u{2028}\\";

    #[test]
    fn graphiql_page_escapes_a_hostile_endpoint() {
        let html = graphiql_page(HOSTILE, HOSTILE);
        assert!(!html.contains("<script>alert(1)"), "{html}");
        assert!(!html.contains("alert(1)</script>"), "{html}");
        assert!(!html.contains("<!--"), "{html}");
        assert!(!html.contains('\u{2028}'));
        // Exactly the page's own four script elements.
        assert_eq!(html.matches("</script>").count(), 4);
        // The literal decodes back to the original string.
        let literal = js_string(HOSTILE);
        assert!(html.contains(&format!("var endpoint = {literal};")));
        let decoded = serde_json::from_str::<String>(&literal).ok();
        assert_eq!(decoded.as_deref(), Some(HOSTILE));
    }

    #[test]
    fn not_bundled_page_escapes_a_hostile_endpoint() {
        let html = not_bundled_page(HOSTILE, HOSTILE, "<b>npm</b> not found");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
        assert!(html.contains("not bundled in this build"));
        assert!(html.contains("install Node.js with npm"));
    }

    #[test]
    fn page_loads_the_four_local_assets_and_no_cdn() {
        let html = graphiql_page("/graphql", "/graphql");
        for file in [
            "react.production.min.js",
            "react-dom.production.min.js",
            "graphiql.min.js",
            "graphiql.min.css",
        ] {
            assert!(html.contains(&format!("{ASSETS_PATH}/{file}?v=")), "{file}");
            assert!(lookup(file).is_some(), "{file}");
        }
        assert!(!html.contains("https://"));
        assert!(!html.contains("http://"));
        assert!(html.contains("subscriptionUrl: webSocketUrl(subscriptionEndpoint)"));
    }

    #[tokio::test]
    async fn unknown_asset_is_404() {
        for name in [
            "nope.js",
            "../graphiql.min.js",
            "",
            "graphiql.min.js.map",
            "GRAPHIQL.MIN.JS",
        ] {
            let response = asset(Path(name.to_owned())).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
        }
    }

    #[tokio::test]
    async fn known_asset_is_served_or_404_when_not_bundled() {
        let response = asset(Path("graphiql.min.js".to_owned())).await;
        if BUNDLED {
            assert_eq!(response.status(), StatusCode::OK);
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_TYPE], JS);
            assert_eq!(
                headers[header::CACHE_CONTROL],
                "public, max-age=31536000, immutable"
            );
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert!(!GRAPHIQL_JS.is_empty());
            let css = asset(Path("graphiql.min.css".to_owned())).await;
            assert_eq!(css.headers()[header::CONTENT_TYPE], CSS);
        } else {
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
            assert!(page("/graphql", "/graphql").contains("not bundled in this build"));
        }
    }
}
