//! TLS with rustls (feature `tls`).
//!
//! Every config is built with [`builder_with_provider`](rustls::ClientConfig::builder_with_provider)
//! and the ring provider, never with the process-wide default: a second provider elsewhere in
//! an application's dependency tree (aws-lc-rs, say) cannot make it panic.

use std::sync::Arc;

pub use tokio_rustls::rustls;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The crypto provider every config of this crate uses: ring.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config trusting the Mozilla roots (`webpki-roots`), TLS 1.2 and 1.3.
pub fn client_config() -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    client_config_with_roots(roots)
}

/// A client config trusting exactly `roots` (a private CA, a test certificate).
pub fn client_config_with_roots(roots: RootCertStore) -> ClientConfig {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A server config presenting `chain` (leaf first) with its private `key`.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, rustls::Error> {
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
}
