//! The soak's subscribers: `graphql-transport-ws` sockets, each subscribed to
//! `visitorCheckedIn` of one location (or, for every tenth, of the whole tenant), driven by
//! a few tasks that read every frame for the whole soak and record the visit ids received.
//! A frame that is not a valid event of the subscribed location, or a socket that ends, is
//! an unexpected error.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use tokio::{
    sync::{oneshot, watch},
    task::JoinHandle,
};
use tokio_tungstenite::tungstenite::Message;

use super::mix::Tally;
use crate::{Result, fanout, report::one_line};

/// The subscription each socket holds.
pub const SUBSCRIPTION: &str = "subscription($l: ID) { visitorCheckedIn(locationId: $l) { id status checkedInAt visitor { id name } location { id name } host { id name } } }";

/// Handshakes in flight per group while opening.
const IN_FLIGHT: usize = 16;

/// One subscriber to open: its session and its location (index; `None`: the whole tenant).
#[derive(Debug, Clone)]
pub struct Spec {
    /// The session token.
    pub token: String,
    /// The location it subscribes to.
    pub location: Option<usize>,
}

/// What one subscriber received.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// The location it subscribed to.
    pub location: Option<usize>,
    /// The visit ids of its events, in arrival order.
    pub visits: Vec<u128>,
    /// Why it ended early, if it did.
    pub ended: Option<String>,
}

/// The running subscribers.
pub struct Fleet {
    groups: Vec<JoinHandle<Vec<Received>>>,
    stop: watch::Sender<bool>,
    /// Valid events received so far, all subscribers together.
    pub events: Arc<AtomicU64>,
}

/// Parses one frame for a subscriber of `location`: the visit id of a valid event.
fn parse_event(
    text: &str,
    location: Option<usize>,
    locations: &HashMap<String, usize>,
) -> std::result::Result<u128, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if value["type"] != "next" || value["id"] != "1" {
        return Err(format!("unexpected message {}", one_line(text, 200)));
    }
    if value["payload"].get("errors").is_some() {
        return Err(format!("error payload {}", one_line(text, 200)));
    }
    let visit = &value["payload"]["data"]["visitorCheckedIn"];
    let id = visit["id"]
        .as_str()
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .ok_or_else(|| format!("event without a visit id: {}", one_line(text, 200)))?;
    let at = visit["location"]["id"]
        .as_str()
        .and_then(|l| locations.get(l).copied())
        .ok_or_else(|| format!("event at an unknown location: {}", one_line(text, 200)))?;
    if location.is_some_and(|l| l != at) {
        return Err(format!(
            "event of another location for a subscriber of one location: {}",
            one_line(text, 200)
        ));
    }
    if visit["visitor"]["name"].as_str().is_none() || visit["host"]["name"].as_str().is_none() {
        return Err(format!("incomplete event {}", one_line(text, 200)));
    }
    Ok(id.as_u128())
}

impl Fleet {
    /// Opens every subscriber of `specs` in `groups` tasks (all of them or an error), and
    /// starts reading.
    pub async fn open(
        ws_url: &str,
        specs: Vec<Spec>,
        location_ids: &[String],
        groups: usize,
        tally: Arc<Tally>,
    ) -> Result<Fleet> {
        let locations: Arc<HashMap<String, usize>> = Arc::new(
            location_ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect(),
        );
        let location_ids: Arc<Vec<String>> = Arc::new(location_ids.to_vec());
        let (stop, stopped) = watch::channel(false);
        let events = Arc::new(AtomicU64::new(0));
        let groups = groups.clamp(1, specs.len().max(1));
        let mut shares: Vec<Vec<Spec>> = vec![Vec::new(); groups];
        for (i, spec) in specs.into_iter().enumerate() {
            shares[i % groups].push(spec);
        }
        let mut handles = Vec::new();
        let mut readies = Vec::new();
        for share in shares {
            let (ready_tx, ready) = oneshot::channel::<std::result::Result<(), String>>();
            readies.push(ready);
            let ws_url = ws_url.to_owned();
            let locations = locations.clone();
            let location_ids = location_ids.clone();
            let mut stopped = stopped.clone();
            let events = events.clone();
            let tally = tally.clone();
            handles.push(tokio::spawn(async move {
                let opened: Vec<std::result::Result<fanout::Ws, String>> =
                    stream::iter(share.iter().cloned())
                        .map(|spec| {
                            let ws_url = ws_url.clone();
                            let location_ids = location_ids.clone();
                            async move {
                                let variables = match spec.location {
                                    Some(l) => json!({"l": location_ids[l]}),
                                    None => json!({}),
                                };
                                fanout::subscribe(
                                    &ws_url,
                                    &spec.token,
                                    json!({"query": SUBSCRIPTION, "variables": variables}),
                                )
                                .await
                                .map_err(|e| e.to_string())
                            }
                        })
                        .buffered(IN_FLIGHT)
                        .collect()
                        .await;
                let mut received: Vec<Received> = share
                    .iter()
                    .map(|spec| Received {
                        location: spec.location,
                        ..Received::default()
                    })
                    .collect();
                let mut sockets = Vec::with_capacity(opened.len());
                let mut failure = None;
                for (i, socket) in opened.into_iter().enumerate() {
                    match socket {
                        Ok(ws) => sockets.push(ws.map(move |m| (i, m))),
                        Err(err) => {
                            failure.get_or_insert(err);
                        }
                    }
                }
                let _ = ready_tx.send(failure.map_or(Ok(()), Err));
                let mut all = stream::select_all(sockets);
                loop {
                    tokio::select! {
                        changed = stopped.changed() => {
                            if changed.is_err() || *stopped.borrow() {
                                break;
                            }
                        }
                        message = all.next() => {
                            let Some((i, message)) = message else { break };
                            let subscriber = &mut received[i];
                            let problem = match message {
                                Ok(Message::Text(text)) => {
                                    match parse_event(text.as_str(), subscriber.location, &locations) {
                                        Ok(visit) => {
                                            subscriber.visits.push(visit);
                                            events.fetch_add(1, Ordering::Relaxed);
                                            None
                                        }
                                        Err(reason) => Some(reason),
                                    }
                                }
                                Ok(Message::Close(frame)) => {
                                    let reason = format!("closed by the server: {frame:?}");
                                    subscriber.ended = Some(reason.clone());
                                    Some(reason)
                                }
                                Ok(_) => None,
                                Err(err) => {
                                    let reason = format!("socket error: {err}");
                                    subscriber.ended = Some(reason.clone());
                                    Some(reason)
                                }
                            };
                            if let Some(reason) = problem {
                                tally.errors.add("subscriber", &reason);
                            }
                        }
                    }
                }
                drop(all);
                received
            }));
        }
        let mut failed = None;
        for ready in readies {
            match ready.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    failed.get_or_insert(err);
                }
                Err(_) => {
                    failed.get_or_insert_with(|| "a subscriber group ended during set-up".into());
                }
            }
        }
        let fleet = Fleet {
            groups: handles,
            stop,
            events,
        };
        if let Some(err) = failed {
            fleet.close().await;
            return Err(format!("a subscriber could not be set up: {err}").into());
        }
        Ok(fleet)
    }

    /// Closes every socket and returns what each subscriber received.
    pub async fn close(self) -> Vec<Received> {
        let _ = self.stop.send(true);
        let mut all = Vec::new();
        for group in self.groups {
            if let Ok(received) = group.await {
                all.extend(received);
            }
        }
        all
    }
}

/// The subscribers' locations: every tenth of the whole tenant, the others spread evenly
/// over `locations` locations.
pub fn locations_of(subscribers: usize, locations: usize) -> Vec<Option<usize>> {
    let mut next = 0;
    (0..subscribers)
        .map(|i| {
            if i % 10 == 9 || locations == 0 {
                None
            } else {
                next += 1;
                Some((next - 1) % locations)
            }
        })
        .collect()
}

/// How the subscribers' events compare with the committed check-ins.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Deliveries due: for each check-in, the subscribers of its location or tenant.
    pub expected: u64,
    /// Due deliveries that arrived (once counted).
    pub delivered: u64,
    /// Due deliveries that never arrived.
    pub missing: u64,
    /// Events that arrived more than once at the same subscriber.
    pub duplicates: u64,
    /// Events of no committed check-in, or of another location.
    pub foreign: u64,
    /// Subscribers whose socket ended before the end.
    pub ended: u64,
}

/// Compares what each subscriber received with the committed check-ins (`visit id →
/// location`).
pub fn compare(
    received: &[Received],
    check_ins: &HashMap<u128, usize>,
    locations: usize,
) -> Delivery {
    let mut per_location = vec![0u64; locations];
    for &location in check_ins.values() {
        if let Some(count) = per_location.get_mut(location) {
            *count += 1;
        }
    }
    let total = check_ins.len() as u64;
    let mut delivery = Delivery::default();
    for subscriber in received {
        let due = match subscriber.location {
            Some(l) => per_location.get(l).copied().unwrap_or(0),
            None => total,
        };
        delivery.expected += due;
        let mut visits = subscriber.visits.clone();
        visits.sort_unstable();
        let before = visits.len();
        visits.dedup();
        delivery.duplicates += (before - visits.len()) as u64;
        let mut matched = 0u64;
        for visit in &visits {
            match check_ins.get(visit) {
                Some(&at) if subscriber.location.is_none_or(|l| l == at) => matched += 1,
                _ => delivery.foreign += 1,
            }
        }
        delivery.delivered += matched;
        delivery.missing += due.saturating_sub(matched);
        if subscriber.ended.is_some() {
            delivery.ended += 1;
        }
    }
    delivery
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenth_subscriber_listens_to_the_whole_tenant() {
        let spread = locations_of(20, 3);
        assert_eq!(spread.iter().filter(|l| l.is_none()).count(), 2);
        assert_eq!(spread[..4], [Some(0), Some(1), Some(2), Some(0)]);
        assert_eq!(spread[9], None);
        assert_eq!(spread[10], Some(0));
    }

    #[test]
    fn missing_duplicate_and_foreign_events_are_counted() {
        let check_ins: HashMap<u128, usize> = [(1, 0), (2, 1), (3, 0)].into_iter().collect();
        let received = vec![
            // Location 0: has 1, misses 3, and got 1 twice.
            Received {
                location: Some(0),
                visits: vec![1, 1],
                ended: None,
            },
            // The tenant: has all, plus an unknown event.
            Received {
                location: None,
                visits: vec![3, 2, 1, 9],
                ended: None,
            },
            // Location 1: got location 0's event, and its socket ended.
            Received {
                location: Some(1),
                visits: vec![2, 3],
                ended: Some("closed".into()),
            },
        ];
        let delivery = compare(&received, &check_ins, 2);
        assert_eq!(
            delivery,
            Delivery {
                expected: 2 + 3 + 1,
                delivered: 1 + 3 + 1,
                missing: 1,
                duplicates: 1,
                foreign: 2,
                ended: 1,
            }
        );
    }

    #[test]
    fn events_are_checked_against_the_subscribed_location() {
        let locations: HashMap<String, usize> = [("l0".to_owned(), 0), ("l1".to_owned(), 1)]
            .into_iter()
            .collect();
        let event = |location: &str| {
            json!({"id": "1", "type": "next", "payload": {"data": {"visitorCheckedIn": {
                "id": "00000000-0000-0000-0000-00000000002a",
                "visitor": {"name": "Ada"}, "host": {"name": "Host"},
                "location": {"id": location}}}}})
            .to_string()
        };
        assert_eq!(parse_event(&event("l1"), Some(1), &locations), Ok(42));
        assert_eq!(parse_event(&event("l1"), None, &locations), Ok(42));
        assert!(parse_event(&event("l0"), Some(1), &locations).is_err());
        assert!(parse_event(&event("elsewhere"), None, &locations).is_err());
        assert!(parse_event(r#"{"id":"1","type":"complete"}"#, None, &locations).is_err());
    }
}
