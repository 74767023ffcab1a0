//! Every product onegraph calls, faked at once: PSA, Books, Mission, Legal, Hub Billing, the
//! Bus and an SMTP server, each on its own loopback port, and the settings that point
//! onegraph at them (with the keys each expects, and a platform integration key so that
//! every item of the integration checklist is configured). The health tests use it, and so
//! does `examples/fake_upstreams.rs`, which puts a gate in front of each fake.

use std::net::SocketAddr;

use super::{bus, fake::FakeServer, legal, mission, psa::FakePsa, smtp::FakeSmtp};

/// Where the fake Hub Billing takes usage reports.
pub const HUB_PATH: &str = "/api/hub/billing/usage/report";
/// The key the settings give Hub Billing (`BUS_INTEGRATION_KEY`; the fake takes any).
pub const HUB_KEY: &str = "fake-hub-integration-key";
/// The platform `INTEGRATION_KEY` the settings give (Hub's search would send it).
pub const INTEGRATION_KEY: &str = "fake-platform-integration-key-0123456789";

/// The names of the fakes, as [`Upstreams::targets`] and the example's commands call them.
pub const NAMES: [&str; 7] = ["psa", "books", "mission", "legal", "hub", "bus", "smtp"];

/// The running fakes.
pub struct Upstreams {
    pub psa: FakePsa,
    /// Books' base URL (find the fake with `books::FakeBooks::at`).
    pub books: String,
    /// Mission's base URL.
    pub mission: String,
    pub legal: FakeServer,
    /// Hub Billing.
    pub hub: FakeServer,
    pub bus: FakeServer,
    pub smtp: FakeSmtp,
}

fn addr(base: &str) -> SocketAddr {
    base.trim_start_matches("http://")
        .parse()
        .expect("a fake's base URL is http://127.0.0.1:port")
}

impl Upstreams {
    /// Starts every fake (on the current Tokio runtime).
    pub async fn start() -> Upstreams {
        let (_, books) = super::books::start();
        let (_, mission) = mission::start();
        Upstreams {
            psa: FakePsa::start().await,
            books: books.to_owned(),
            mission: mission.to_owned(),
            legal: legal::start().await,
            hub: FakeServer::start(HUB_PATH).await,
            bus: bus::start().await,
            smtp: FakeSmtp::start().await,
        }
    }

    /// Each fake's name (one of [`NAMES`]) and address.
    pub fn targets(&self) -> Vec<(&'static str, SocketAddr)> {
        vec![
            ("psa", addr(&self.psa.base)),
            ("books", addr(&self.books)),
            ("mission", addr(&self.mission)),
            ("legal", self.legal.addr),
            ("hub", self.hub.addr),
            ("bus", self.bus.addr),
            ("smtp", SocketAddr::from(([127, 0, 0, 1], self.smtp.port))),
        ]
    }

    /// The settings pointing onegraph at the fakes.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env_via(|_, addr| addr)
    }

    /// The settings pointing onegraph at the fakes, each reached at the address `via`
    /// gives for it (its name and own address): a gate in front of it, or itself.
    pub fn env_via(
        &self,
        via: impl Fn(&'static str, SocketAddr) -> SocketAddr,
    ) -> Vec<(String, String)> {
        let at = |name: &'static str| {
            let (_, own) = self
                .targets()
                .into_iter()
                .find(|(n, _)| *n == name)
                .expect("a fake of that name");
            via(name, own)
        };
        let url = |name: &'static str, path: &str| format!("http://{}{path}", at(name));
        let mut env: Vec<(String, String)> = [
            ("PSA_API_URL", url("psa", "")),
            ("PSA_SERVICE_KEY", super::PSA_KEY.to_owned()),
            ("BOOKS_API_URL", url("books", "")),
            ("BOOKS_SERVICE_KEY", super::books::KEY.to_owned()),
            ("MISSION_API_URL", url("mission", "")),
            ("MISSION_SERVICE_KEY", mission::KEY.to_owned()),
            ("PORTAL_INTEGRATION_KEY", legal::PORTAL_KEY.to_owned()),
            ("LEGAL_WEBHOOK_URL", url("legal", "/legal/webhook")),
            ("LEGAL_WEBHOOK_SECRET", legal::WEBHOOK_SECRET.to_owned()),
            ("HUB_API_URL", url("hub", "")),
            ("BUS_INTEGRATION_KEY", HUB_KEY.to_owned()),
            ("BUS_API_URL", url("bus", "")),
            ("BUS_SDK_KEY", bus::BUS_KEY.to_owned()),
            ("PORTAL_CLIENT_SSO_SECRET", super::SECRET.to_owned()),
            ("INTEGRATION_KEY", INTEGRATION_KEY.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (name, value) in self.smtp.env() {
            let value = if name == "SES_SMTP_PORT" {
                at("smtp").port().to_string()
            } else {
                value
            };
            env.push((name.to_owned(), value));
        }
        env
    }
}
