//! Clients of the other products (PSA, Books, Mission, Legal, Hub, Bus, mail), each behind a
//! trait so tests can point them at fakes that speak real HTTP, and the circuit breaker the
//! live proxies use.

pub mod books;
pub mod breaker;
pub mod bus;
pub mod hub;
pub mod legal;
pub mod mail;
pub mod mission;
pub mod probe;
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

/// Why an upstream answer's body could not be read whole.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than `UPSTREAM_MAX_BODY`, by its `Content-Length` or as it streamed in.
    TooLarge,
    /// The transfer failed (connection lost, timed out).
    Transport(reqwest::Error),
}

/// Reads `response`'s body chunk by chunk and stops as soon as it passes `limit` bytes
/// (`UPSTREAM_MAX_BODY`), so a product answering with more than onegraph ever expects
/// cannot fill its memory. Every upstream client reads bodies through this; what was read
/// of a refused body is dropped, never logged.
pub async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if response.content_length().is_some_and(|n| n > limit_u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
