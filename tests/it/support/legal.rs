//! A fake Legal (CONTRACT section 6): receives the `signing.completed` webhook at
//! `/legal/webhook` and checks its `X-Signature`; switchable to failing, hanging or down
//! through [`FakeServer`].

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::fake::{FakeServer, Received};

/// The key Legal pushes with (`PORTAL_INTEGRATION_KEY`) on delivery test servers.
pub const PORTAL_KEY: &str = "test-portal-integration-key";
/// The webhook secret shared with Legal.
pub const WEBHOOK_SECRET: &str = "test-legal-webhook-secret";

/// Starts a fake Legal.
pub async fn start() -> FakeServer {
    FakeServer::start("/legal/webhook").await
}

/// The settings pointing a server at `legal`.
pub fn env(legal: &FakeServer) -> Vec<(String, String)> {
    vec![
        ("PORTAL_INTEGRATION_KEY".into(), PORTAL_KEY.into()),
        ("LEGAL_WEBHOOK_URL".into(), legal.url()),
        ("LEGAL_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()),
    ]
}

/// Verifies a webhook's `X-Signature` the way Legal does: `t=<unix>,sha256=<hex HMAC-SHA256
/// of "<t>.<body>">`, with `t` within five minutes of now. Returns `t`.
pub fn verify(request: &Received, secret: &str) -> Result<i64, String> {
    let header = request
        .header("x-signature")
        .ok_or("no X-Signature header")?;
    let (t, sig) = header
        .split_once(',')
        .ok_or_else(|| format!("malformed X-Signature {header:?}"))?;
    let t: i64 = t
        .strip_prefix("t=")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("malformed timestamp in {header:?}"))?;
    let sig = sig
        .strip_prefix("sha256=")
        .ok_or_else(|| format!("malformed digest in {header:?}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", request.body).as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    if expected != sig {
        return Err(format!(
            "signature mismatch: got {sig}, expected {expected}"
        ));
    }
    if (chrono::Utc::now().timestamp() - t).abs() > 300 {
        return Err(format!("stale timestamp {t}"));
    }
    Ok(t)
}

/// POSTs `body` to `/internal/signing/push` with `key` (none: no header): (status, body).
pub async fn push(
    app: &super::TestApp,
    key: Option<&str>,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    push_raw(app, key, body.to_string()).await
}

/// POSTs raw `body` to `/internal/signing/push`: (status, JSON body).
pub async fn push_raw(
    app: &super::TestApp,
    key: Option<&str>,
    body: String,
) -> (u16, serde_json::Value) {
    let mut request = app
        .client
        .post(format!("{}/internal/signing/push", app.base))
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.header("X-Integration-Key", key);
    }
    let response = request.send().await.expect("signing push");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}
