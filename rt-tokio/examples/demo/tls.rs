//! `--tls`: the demo's certificate (given as PEM files, or generated self-signed) and the
//! TLS knobs of its server (ALPN `h2`, `http/1.1`: serve_with fills them in).

use rt_tokio::http::ServeConfig;

/// Serves `config` over TLS with the chain and key in the PEM files `cert` and `key`, or a
/// self-signed certificate generated now; prints what a browser needs to trust it. Exits
/// with a message if a file is unreadable or the demo was built without feature `tls`.
pub fn configure(config: &mut ServeConfig, cert: Option<String>, key: Option<String>) {
    #[cfg(feature = "tls")]
    {
        use std::sync::Arc;

        use base64::Engine;
        use rt_tokio::tls::rustls::pki_types::pem::PemObject;
        use rt_tokio::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

        let fail = |what: String| -> ! {
            eprintln!("demo: {what}");
            std::process::exit(1)
        };
        let sha256 = |bytes: &[u8]| ring::digest::digest(&ring::digest::SHA256, bytes);
        let (chain, private) = match (cert, key) {
            (Some(cert), Some(key)) => {
                let read = |path: &str| {
                    std::fs::read(path).unwrap_or_else(|e| fail(format!("{path}: {e}")))
                };
                let chain: Vec<CertificateDer<'static>> =
                    CertificateDer::pem_slice_iter(&read(&cert))
                        .collect::<Result<_, _>>()
                        .unwrap_or_else(|e| fail(format!("{cert}: {e}")));
                if chain.is_empty() {
                    fail(format!("{cert}: no certificate in it"));
                }
                let private = PrivateKeyDer::from_pem_slice(&read(&key))
                    .unwrap_or_else(|e| fail(format!("{key}: {e}")));
                (chain, private)
            }
            _ => {
                use rcgen::PublicKeyData;
                let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
                let generated = rcgen::generate_simple_self_signed(names)
                    .unwrap_or_else(|e| fail(format!("generating a certificate: {e}")));
                let spki = generated.signing_key.subject_public_key_info();
                let spki_hash =
                    base64::engine::general_purpose::STANDARD.encode(sha256(&spki).as_ref());
                eprintln!("demo: a self-signed certificate for localhost and 127.0.0.1");
                eprintln!("demo: SPKI SHA-256 (base64): {spki_hash}");
                eprintln!(
                    "demo: trust it in Chromium with --ignore-certificate-errors-spki-list={spki_hash}"
                );
                let cert = CertificateDer::from(generated.cert.der().to_vec());
                let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                    generated.signing_key.serialize_der(),
                ));
                (vec![cert], private)
            }
        };
        let fingerprint: Vec<String> = sha256(&chain[0])
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        eprintln!(
            "demo: certificate SHA-256 fingerprint: {}",
            fingerprint.join(":")
        );
        let server = rt_tokio::tls::server_config(chain, private)
            .unwrap_or_else(|e| fail(format!("the certificate and key: {e}")));
        config.tls = Some(Arc::new(server));
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = (config, cert, key);
        eprintln!("demo: --tls needs the tls feature: cargo run -p rt-tokio --features tls --example demo -- --tls");
        std::process::exit(2)
    }
}
