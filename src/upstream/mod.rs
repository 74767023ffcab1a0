//! Clients of the other products (PSA, Books, Mission, Legal, Hub, Bus, mail), each behind a
//! trait so tests can point them at fakes that speak real HTTP, and the circuit breaker the
//! live proxies use.

pub mod books;
pub mod breaker;
pub mod bus;
pub mod legal;
pub mod mail;
pub mod mission;
pub mod psa;

/// Installs rustls' `ring` provider as the process default, once; every HTTPS client
/// (reqwest, SMTP) needs one. Later calls do nothing.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // An error means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The HTTP client every upstream call goes through: JSON, rustls, `UPSTREAM_TIMEOUT` per
/// call, no redirects followed (an upstream that redirects is misconfigured).
pub fn http_client(settings: &crate::config::Settings) -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(settings.upstream_timeout)
        .connect_timeout(settings.upstream_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("onegraph/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|err| {
            // Still bounded: a call without a timeout could hang a job or the dispatcher.
            tracing::error!(%err, "building the upstream HTTP client; using a plain one");
            reqwest::Client::builder()
                .timeout(settings.upstream_timeout)
                .build()
                .unwrap_or_default()
        })
}
