//! SSE over TLS (feature `tls`): the EventSource connects to an `https://` hub stream
//! served through rustls with a test certificate (rcgen) and gets a published message.
#![cfg(all(feature = "tls", feature = "sse", feature = "longpoll"))]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rt_tokio::hub::{ChannelName, Epoch, Hub, MemoryBackend, MemoryConfig};
use rt_tokio::sse::{EventSource, EventSourceConfig, SseClientEvent, SseConfig, SseService};
use rt_tokio::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rt_tokio::tls::rustls::RootCertStore;

#[tokio::test]
async fn an_event_source_reads_a_hub_stream_over_tls() {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = CertificateDer::from(key.cert.der().to_vec());
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let server_config = rt_tokio::tls::server_config(vec![cert.clone()], private).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));

    let mut memory = MemoryConfig::default();
    memory.epoch = Some(Epoch(9));
    let hub = Hub::new(MemoryBackend::new(memory));
    let service = SseService::new(hub.clone(), SseConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, service) = (acceptor.clone(), service.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |req| {
                    let service = service.clone();
                    async move { Ok::<_, Infallible>(service.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });

    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut config = EventSourceConfig::default();
    config.connect.tls = Some(Arc::new(rt_tokio::tls::client_config_with_roots(roots)));
    config.last_event_id = Some("9:0".to_string());
    let url = format!("https://localhost:{port}/sse?channel=secure");
    let mut es = EventSource::connect(&url, config).unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), es.next_event())
        .await
        .unwrap();
    assert_eq!(first, Some(SseClientEvent::Open));
    hub.publish(&ChannelName::new("secure").unwrap(), "over tls")
        .await
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(10), es.next_event())
        .await
        .unwrap()
    {
        Some(SseClientEvent::Message(m)) => {
            assert_eq!(
                (m.data.as_str(), m.last_event_id.as_str()),
                ("over tls", "9:1")
            )
        }
        other => panic!("{other:?}"),
    }
}
