//! One rustls client configuration for HTTPS and WSS.
//!
//! Certificates are verified normally (rustls + webpki) against Mozilla's root
//! program, compiled in through `webpki-roots`, with the `ring` crypto provider.
//! This behaves the same on Android, iOS, desktop and Linux and needs no JNI or
//! keychain set-up; the trade-off (documented in docs/architecture.md) is that
//! roots installed only in the OS store (enterprise CAs) are not trusted.

use std::sync::Arc;

use rustls::ClientConfig;

/// The shared TLS configuration: normal verification, Mozilla roots, ring provider.
pub fn client_config() -> Arc<ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}
