//! WebSocket over TLS (feature `tls`): our server behind rustls with an rcgen certificate,
//! our `wss://` client trusting exactly that certificate; and a client that does not trust
//! it is refused.
#![cfg(all(feature = "tls", feature = "ws"))]

use std::sync::Arc;
use std::time::Duration;

use rt_tokio::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rt_tokio::tls::rustls::RootCertStore;
use rt_tokio::ws::{accept, ClientBuilder, CloseCode, ConnectError, Message, ServerOptions};
use ws_proto::deflate::DeflateConfig;

#[tokio::test]
async fn a_wss_round_trip_through_rustls() {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = CertificateDer::from(key.cert.der().to_vec());
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let server_config = rt_tokio::tls::server_config(vec![cert.clone()], private).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let options = ServerOptions::default().deflate(DeflateConfig::default());
                let Ok((mut ws, _)) = accept(tls, &options).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.recv().await {
                    if ws.send(m).await.is_err() {
                        break;
                    }
                }
            });
        }
    });

    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let tls = Arc::new(rt_tokio::tls::client_config_with_roots(roots));
    let (mut ws, response) = ClientBuilder::new(format!("wss://localhost:{port}/secure"))
        .tls_config(tls)
        .deflate(DeflateConfig::default())
        .connect()
        .await
        .unwrap();
    assert!(response.deflate.is_some());
    for m in [
        Message::text("over tls"),
        Message::binary(vec![3u8; 200_000]),
    ] {
        ws.send(m.clone()).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), ws.recv())
            .await
            .unwrap();
        assert_eq!(got.unwrap().unwrap(), m);
    }
    assert!(ws.close(CloseCode::NORMAL, "").await.unwrap().clean);

    // The Mozilla roots do not include the test certificate: the TLS handshake fails.
    match ClientBuilder::new(format!("wss://localhost:{port}/secure"))
        .connect()
        .await
    {
        Err(ConnectError::Connect(_)) => {}
        other => panic!("{other:?}"),
    }
}
