//! A fake Bus on loopback for the soak: `POST /api/events` with the SDK key as bearer
//! (CONTRACT section 5). It answers every `fail_every`-th request `500` without recording
//! it (the Bus did not take the event, so the outbox must retry it), accepts the others with
//! `202`, and counts how often each envelope id was accepted: once is a delivery, more is a
//! duplicate.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    routing::post,
};
use tokio::task::JoinHandle;

use crate::Result;

/// What the fake Bus saw.
#[derive(Debug, Default)]
pub struct BusState {
    /// Answer every n-th request `500` (0: never).
    fail_every: u64,
    /// The bearer key it expects.
    key: String,
    /// Requests received.
    pub requests: AtomicU64,
    /// Requests answered `500` on purpose.
    pub failed: AtomicU64,
    /// Requests refused for a wrong key or a body that is not an envelope (`401`/`400`):
    /// onegraph should never send one.
    pub refused: AtomicU64,
    /// Accepted requests (`202`), duplicates included.
    pub accepted_total: AtomicU64,
    /// Envelope id → (times accepted, event type).
    accepted: Mutex<HashMap<String, (u32, String)>>,
    /// A few reasons for refusals.
    refusals: Mutex<Vec<String>>,
}

impl BusState {
    /// Envelope id → (times accepted, event type), as it stands.
    pub fn accepted(&self) -> HashMap<String, (u32, String)> {
        self.accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A few reasons the Bus refused a request.
    pub fn refusals(&self) -> Vec<String> {
        self.refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn refuse(&self, status: StatusCode, reason: String) -> StatusCode {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let mut refusals = self.refusals.lock().unwrap_or_else(PoisonError::into_inner);
        if refusals.len() < 5 {
            refusals.push(reason);
        }
        status
    }

    /// Handles one request: the status to answer.
    fn receive(&self, headers: &HeaderMap, body: &[u8]) -> StatusCode {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let expected = format!("Bearer {}", self.key);
        let authorized = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == expected);
        if !authorized {
            return self.refuse(StatusCode::UNAUTHORIZED, "wrong or missing SDK key".into());
        }
        let envelope: serde_json::Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(err) => {
                return self.refuse(StatusCode::BAD_REQUEST, format!("body is not JSON: {err}"));
            }
        };
        let (Some(id), Some(kind)) = (envelope["id"].as_str(), envelope["type"].as_str()) else {
            return self.refuse(
                StatusCode::BAD_REQUEST,
                "envelope without id or type".into(),
            );
        };
        // An Idempotency-Key, when sent, must be the envelope id.
        if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok())
            && key != id
        {
            return self.refuse(
                StatusCode::BAD_REQUEST,
                format!("Idempotency-Key {key} is not the envelope id {id}"),
            );
        }
        if self.fail_every > 0 && n.is_multiple_of(self.fail_every) {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        let mut accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = accepted
            .entry(id.to_owned())
            .or_insert_with(|| (0, kind.to_owned()));
        entry.0 += 1;
        self.accepted_total.fetch_add(1, Ordering::Relaxed);
        StatusCode::ACCEPTED
    }
}

/// The running fake Bus; stops when dropped.
pub struct FakeBus {
    /// `http://127.0.0.1:port` (the server's `BUS_API_URL`).
    pub base: String,
    /// The SDK key (the server's `BUS_SDK_KEY`).
    pub key: String,
    /// What it saw.
    pub state: Arc<BusState>,
    task: JoinHandle<()>,
}

impl Drop for FakeBus {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn events(State(state): State<Arc<BusState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    state.receive(&headers, &body)
}

impl FakeBus {
    /// Starts a fake Bus on a free loopback port that fails every `fail_every`-th request.
    pub async fn start(fail_every: u64) -> Result<FakeBus> {
        let key = format!("soak-bus-key-{}", uuid::Uuid::new_v4().simple());
        let state = Arc::new(BusState {
            fail_every,
            key: key.clone(),
            ..BusState::default()
        });
        let app = Router::new()
            .route("/api/events", post(events))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("bench: the fake Bus stopped: {err}");
            }
        });
        Ok(FakeBus {
            base,
            key,
            state,
            task,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(key: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {key}")) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    #[test]
    fn fails_every_nth_request_and_counts_duplicates() {
        let state = BusState {
            fail_every: 3,
            key: "k".into(),
            ..BusState::default()
        };
        let a = br#"{"id":"a","type":"visitor.checked_in"}"#;
        let b = br#"{"id":"b","type":"visitor.checked_out"}"#;
        assert_eq!(state.receive(&headers("k"), a), StatusCode::ACCEPTED);
        assert_eq!(state.receive(&headers("k"), b), StatusCode::ACCEPTED);
        // The third request fails and is not recorded.
        assert_eq!(
            state.receive(&headers("k"), a),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(state.receive(&headers("k"), a), StatusCode::ACCEPTED);
        let accepted = state.accepted();
        assert_eq!(accepted.get("a").map(|e| e.0), Some(2));
        assert_eq!(accepted.get("b").map(|e| e.0), Some(1));
        assert_eq!(state.failed.load(Ordering::Relaxed), 1);
        assert_eq!(state.accepted_total.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn refuses_a_wrong_key_and_a_body_without_id() {
        let state = BusState {
            key: "k".into(),
            ..BusState::default()
        };
        let a = br#"{"id":"a","type":"t"}"#;
        assert_eq!(
            state.receive(&headers("other"), a),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            state.receive(&headers("k"), br#"{"type":"t"}"#),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(state.refused.load(Ordering::Relaxed), 2);
        assert!(state.accepted().is_empty());
    }
}
