//! Clients of the other products (PSA, Books, Legal, Hub, Bus, mail), each behind a trait
//! so tests can point them at fakes that speak real HTTP.

/// Installs rustls' `ring` provider as the process default, once; every HTTPS client
/// (reqwest, SMTP) needs one. Later calls do nothing.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // An error means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
