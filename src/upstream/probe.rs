//! Reachability probes for the health checklist (`integrationHealth`, `onegraph doctor`):
//! can onegraph reach a product at all, within a short timeout?
//!
//! An HTTP probe is one `GET` of the product's configured base URL, without credentials
//! (nothing secret is sent to find out whether something answers) and without following
//! redirects; any HTTP answer, whatever its status, counts as reachable: the product's own
//! routes and keys are the syncs' business, not the probe's. Its body is never read. The
//! SMTP probe is a TCP connect to the mail server's host and port (the name resolved
//! within the same timeout).

use std::time::Duration;

/// One `GET url` within `timeout`: `true` for any HTTP answer, `false` when none came
/// (refused, reset, TLS failure, DNS failure, timeout, an invalid URL).
pub async fn http(url: &str, timeout: Duration) -> bool {
    super::install_crypto_provider();
    // A user and password in the URL would go out as Basic credentials: not for a probe.
    let Ok(mut url) = reqwest::Url::parse(url) else {
        return false;
    };
    if url.set_username("").is_err() || url.set_password(None).is_err() {
        return false;
    }
    let Ok(client) = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(concat!(
            "onegraph/",
            env!("CARGO_PKG_VERSION"),
            " health probe"
        ))
        .build()
    else {
        return false;
    };
    // The timeout around the whole call too: a client that ignored its own could not hang
    // the checklist.
    matches!(
        tokio::time::timeout(timeout, client.get(url).send()).await,
        Ok(Ok(_))
    )
}

/// A TCP connection to `host`:`port` within `timeout` (closed at once).
pub async fn tcp(host: &str, port: u16, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port))).await,
        Ok(Ok(_))
    )
}
