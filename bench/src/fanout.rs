//! `graphql-transport-ws` subscribers: opening many cheaply (small buffers, a few tasks each
//! driving hundreds of sockets), and timing the delivery of one event to all of them.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::{
    net::TcpStream,
    sync::{oneshot, watch},
};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async_with_config,
    tungstenite::{
        Message, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig,
    },
};

use crate::{Result, client::CHECKED_IN_SUBSCRIPTION, report::one_line};

/// A client WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one handshake step may take.
const STEP: Duration = Duration::from_secs(30);

pub async fn next_text(ws: &mut Ws) -> Result<Value> {
    loop {
        let message = tokio::time::timeout(STEP, ws.next())
            .await
            .map_err(|_| "no answer within 30 s")?;
        match message {
            None => return Err("connection ended".into()),
            Some(Err(err)) => return Err(err.into()),
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(text.as_str())?),
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("closed by the server: {frame:?}").into());
            }
            Some(Ok(_)) => {}
        }
    }
}

async fn expect(ws: &mut Ws, kind: &str) -> Result<()> {
    let message = next_text(ws).await?;
    if message["type"] == kind {
        Ok(())
    } else {
        Err(format!(
            "expected {kind}, got {}",
            one_line(&message.to_string(), 200)
        )
        .into())
    }
}

/// Connects to `ws_url`, initialises with `token`, subscribes to check-ins of the token's
/// tenant and makes sure (by a ping round trip) the server has set the subscription up.
pub async fn subscriber(ws_url: &str, token: &str) -> Result<Ws> {
    subscribe(ws_url, token, json!({"query": CHECKED_IN_SUBSCRIPTION})).await
}

/// Connects to `ws_url`, initialises with `token`, sends `payload` (a query and its
/// variables) as operation `1` and makes sure (by a ping round trip) the server has set the
/// subscription up.
pub async fn subscribe(ws_url: &str, token: &str, payload: Value) -> Result<Ws> {
    let mut ws = connect(ws_url).await?;
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    ws.send(Message::text(init.to_string())).await?;
    expect(&mut ws, "connection_ack").await?;
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": payload});
    ws.send(Message::text(subscribe.to_string())).await?;
    ws.send(Message::text(r#"{"type":"ping"}"#)).await?;
    expect(&mut ws, "pong").await?;
    Ok(ws)
}

/// Opens a `graphql-transport-ws` socket to `ws_url` with small buffers, before
/// `connection_init`.
pub async fn connect(ws_url: &str) -> Result<Ws> {
    let mut request = ws_url.into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (ws, _) = connect_async_with_config(request, Some(config), true).await?;
    Ok(ws)
}

/// Whether `text` is the `next` message of operation 1 for the visitor named `name`,
/// without errors.
pub fn is_expected_next(text: &str, name: &str) -> std::result::Result<(), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if value["type"] != "next" || value["id"] != "1" {
        return Err(format!("unexpected message {}", one_line(text, 200)));
    }
    let payload = &value["payload"];
    if payload.get("errors").is_some() {
        return Err(format!("error payload {}", one_line(text, 200)));
    }
    let visit = &payload["data"]["visitorCheckedIn"];
    if visit["visitor"]["name"] != name
        || visit["id"].as_str().is_none_or(|id| id.len() != 36)
        || visit["location"]["id"].as_str().is_none()
        || visit["host"]["name"].as_str().is_none()
    {
        return Err(format!("unexpected event {}", one_line(text, 200)));
    }
    Ok(())
}

fn note(report: &mut GroupReport, reason: String) {
    report.unexpected += 1;
    if report.examples.len() < 3 {
        report.examples.push(reason);
    }
}

/// What one group of subscribers saw.
#[derive(Debug, Default)]
pub struct GroupReport {
    /// Arrival time of each valid `next`.
    pub arrivals: Vec<Instant>,
    /// Messages that were not the expected event, and sockets that failed or closed.
    pub unexpected: u64,
    /// A few reasons.
    pub examples: Vec<String>,
}

/// How a group's set-up went.
#[derive(Debug)]
pub struct Ready {
    /// Subscribers set up.
    pub open: usize,
    /// Subscribers that could not be set up, with a reason.
    pub failed: Vec<String>,
}

/// A group of subscribers driven by one task.
pub struct Group {
    /// Set-up outcome.
    pub ready: oneshot::Receiver<Ready>,
    /// Delivery outcome, sent when every subscriber has the event or on `stop`.
    pub done: oneshot::Receiver<GroupReport>,
    /// The task; it ends (closing its sockets) once `stop` is set after `done`.
    pub task: tokio::task::JoinHandle<()>,
}

/// Spawns a task that opens `count` subscribers (`in_flight` handshakes at a time), reports
/// on `ready`, then waits for the `next` of the visitor named `name` on each.
pub fn spawn_group(
    ws_url: String,
    token: String,
    count: usize,
    in_flight: usize,
    name: String,
    mut stop: watch::Receiver<bool>,
) -> Group {
    let (ready_tx, ready) = oneshot::channel();
    let (done_tx, done) = oneshot::channel();
    let task = tokio::spawn(async move {
        let opened: Vec<Result<Ws>> = stream::iter(0..count)
            .map(|_| subscriber(&ws_url, &token))
            .buffer_unordered(in_flight)
            .collect()
            .await;
        let mut sockets = Vec::with_capacity(count);
        let mut failed = Vec::new();
        for result in opened {
            match result {
                Ok(ws) => sockets.push(ws),
                Err(err) => failed.push(err.to_string()),
            }
        }
        let open = sockets.len();
        let _ = ready_tx.send(Ready { open, failed });
        let mut all = stream::select_all(sockets);
        let mut report = GroupReport {
            arrivals: Vec::with_capacity(open),
            ..GroupReport::default()
        };
        while report.arrivals.len() < open {
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
                message = all.next() => match message {
                    None => break,
                    Some(Ok(Message::Text(text))) => {
                        let at = Instant::now();
                        match is_expected_next(text.as_str(), &name) {
                            Ok(()) => report.arrivals.push(at),
                            Err(reason) => note(&mut report, reason),
                        }
                    }
                    Some(Ok(Message::Close(frame))) => note(&mut report, format!("closed: {frame:?}")),
                    Some(Ok(_)) => {}
                    Some(Err(err)) => note(&mut report, format!("socket error: {err}")),
                },
            }
        }
        let _ = done_tx.send(report);
        // Keep the sockets open until every group is done, so that closing them does not
        // compete with the delivery still under way elsewhere.
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
        drop(all);
    });
    Group { ready, done, task }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_expected_event_counts() {
        let ok = r#"{"id":"1","type":"next","payload":{"data":{"visitorCheckedIn":{"id":"00000000-0000-0000-0000-000000000000","visitor":{"name":"Ada"},"location":{"id":"l"},"host":{"name":"h"}}}}}"#;
        assert_eq!(is_expected_next(ok, "Ada"), Ok(()));
        assert!(is_expected_next(ok, "Bob").is_err());
        let err = r#"{"id":"1","type":"next","payload":{"data":null,"errors":[{"message":"x"}]}}"#;
        assert!(is_expected_next(err, "Ada").is_err());
        assert!(is_expected_next(r#"{"type":"pong"}"#, "Ada").is_err());
    }
}
