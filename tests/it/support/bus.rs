//! A fake Bus (CONTRACT section 5): `POST /api/events` with a bearer key, recording every
//! envelope; switchable to failing, hanging or down through [`FakeServer`].

use super::fake::{FakeServer, Received};

/// The SDK key test servers send the Bus.
pub const BUS_KEY: &str = "test-bus-sdk-key";

/// Starts a fake Bus.
pub async fn start() -> FakeServer {
    FakeServer::start("/api/events").await
}

/// The settings pointing a server at `bus`.
pub fn env(bus: &FakeServer) -> Vec<(String, String)> {
    vec![
        ("BUS_API_URL".into(), bus.base.clone()),
        ("BUS_SDK_KEY".into(), BUS_KEY.into()),
    ]
}

/// The accepted envelopes of `event_type`.
pub fn events(bus: &FakeServer, event_type: &str) -> Vec<Received> {
    bus.accepted()
        .into_iter()
        .filter(|r| r.json()["type"] == event_type)
        .collect()
}
