//! WebSocket over HTTP/2 (RFC 8441) on 127.0.0.1 over TLS with an rcgen certificate: our
//! client against our hyper upgrade served by hyper-util's HTTP/1.1 + HTTP/2 server with
//! extended CONNECT enabled. Messages of every kind and compression; ten WebSockets and five
//! SSE streams on one HTTP/2 connection; a peer that stops reading; refused requests; the
//! choice between HTTP/2 and HTTP/1.1.
#![cfg(all(feature = "tls", feature = "ws", feature = "sse"))]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rt_tokio::hub::{Hub, MemoryBackend, MemoryConfig};
use rt_tokio::sse::{SseConfig, SseService};
use rt_tokio::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rt_tokio::tls::rustls::{ClientConfig, RootCertStore};
use rt_tokio::ws::{
    upgrade, ClientBuilder, CloseCode, ConnectError, Http2, Http2Pool, Message, ServerOptions,
};
use ws_proto::deflate::DeflateConfig;
use ws_proto::Config;

type BoxBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

fn boxed<B>(response: http::Response<B>) -> http::Response<BoxBody>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    response.map(|b| b.map_err(Into::into).boxed_unsync())
}

async fn soon<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("in time")
}

struct Server {
    port: u16,
    hub: Hub,
    /// TCP connections accepted.
    connections: Arc<AtomicUsize>,
    /// WebSocket requests seen, by HTTP version.
    h2_websockets: Arc<AtomicUsize>,
    h1_websockets: Arc<AtomicUsize>,
    roots: Arc<ClientConfig>,
}

/// A TLS server on 127.0.0.1: `/echo` echoes WebSocket messages (permessage-deflate accepted,
/// `config` for the connection), `/sink` accepts and never reads, `/sse` streams the hub's
/// `news`. ALPN offers `alpn`; extended CONNECT is enabled when `connect_protocol`.
async fn server(alpn: &[&[u8]], connect_protocol: bool, config: Config) -> Server {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = CertificateDer::from(key.cert.der().to_vec());
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let mut tls = rt_tokio::tls::server_config(vec![cert.clone()], private).unwrap();
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut memory = MemoryConfig::default();
    memory.max_messages = 100;
    let hub = Hub::new(MemoryBackend::new(memory));
    let sse = SseService::new(hub.clone(), SseConfig::default());
    let connections = Arc::new(AtomicUsize::new(0));
    let (h2_websockets, h1_websockets): (Arc<AtomicUsize>, Arc<AtomicUsize>) = Default::default();
    let options = ServerOptions::default()
        .deflate(DeflateConfig::default())
        .config(config);
    {
        let (connections, h2_ws, h1_ws) = (
            connections.clone(),
            Arc::clone(&h2_websockets),
            Arc::clone(&h1_websockets),
        );
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                connections.fetch_add(1, Ordering::Relaxed);
                let (acceptor, sse, options) = (acceptor.clone(), sse.clone(), options.clone());
                let (h2_ws, h1_ws): (Arc<AtomicUsize>, Arc<AtomicUsize>) =
                    (h2_ws.clone(), h1_ws.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service =
                        hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
                            let (sse, options) = (sse.clone(), options.clone());
                            let (h2_ws, h1_ws) = (h2_ws.clone(), h1_ws.clone());
                            async move {
                                let path = req.uri().path().to_string();
                                let response = match path.as_str() {
                                    "/sse" => boxed(sse.handle(req).await),
                                    "/echo" | "/sink" => {
                                        let counter = if req.version() == http::Version::HTTP_2 {
                                            h2_ws
                                        } else {
                                            h1_ws
                                        };
                                        match upgrade(&mut req, &options) {
                                            Ok((response, socket)) => {
                                                counter.fetch_add(1, Ordering::Relaxed);
                                                tokio::spawn(async move {
                                                    let Ok(mut ws) = socket.await else { return };
                                                    if path == "/sink" {
                                                        // Never read: the client's sends must
                                                        // stall on flow control, then wait.
                                                        tokio::time::sleep(Duration::from_secs(60))
                                                            .await;
                                                        return;
                                                    }
                                                    while let Some(Ok(m)) = ws.recv().await {
                                                        if ws.send(m).await.is_err() {
                                                            break;
                                                        }
                                                    }
                                                });
                                                boxed(response)
                                            }
                                            Err(refusal) => boxed(refusal),
                                        }
                                    }
                                    _ => boxed(rt_tokio::http::text_response(
                                        http::StatusCode::NOT_FOUND,
                                        "not found",
                                    )),
                                };
                                Ok::<_, Infallible>(response)
                            }
                        });
                    let mut builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    if connect_protocol {
                        builder.http2().enable_connect_protocol();
                    }
                    let _ = builder
                        .serve_connection_with_upgrades(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
    }
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    Server {
        port,
        hub,
        connections,
        h2_websockets,
        h1_websockets,
        roots: Arc::new(rt_tokio::tls::client_config_with_roots(roots)),
    }
}

impl Server {
    fn client(&self, path: &str) -> ClientBuilder {
        ClientBuilder::new(format!("wss://localhost:{}{path}", self.port))
            .tls_config(self.roots.clone())
    }
}

const H2_AND_H1: &[&[u8]] = &[b"h2", b"http/1.1"];

#[tokio::test]
async fn messages_of_every_kind_over_http2_with_and_without_compression() {
    let server = server(H2_AND_H1, true, Config::default()).await;
    for deflate in [false, true] {
        // Messages above 16 KiB go out as several frames (the server answers whole frames).
        let config = Config {
            max_send_frame: Some(16 * 1024),
            ..Config::default()
        };
        let mut builder = server
            .client("/echo?x=1")
            .http2(Http2::Require)
            .config(config);
        if deflate {
            builder = builder.deflate(DeflateConfig::default());
        }
        let (mut ws, response) = soon(builder.connect()).await.unwrap();
        assert_eq!(response.version, http::Version::HTTP_2);
        assert_eq!(response.deflate.is_some(), deflate);
        assert!(ws.get_ref().tcp().is_none(), "a stream of the connection");
        let messages = [
            Message::text("hello over h2"),
            Message::text(&"é😀 ".repeat(20_000)),
            Message::binary(vec![7u8; 1 << 20]),
            Message::binary(Vec::new()),
        ];
        for m in &messages {
            ws.send(m.clone()).await.unwrap();
            assert_eq!(soon(ws.recv()).await.unwrap().unwrap(), *m);
        }
        let closed = soon(ws.close(CloseCode::NORMAL, "bye")).await.unwrap();
        assert!(closed.clean);
    }
    assert_eq!(server.h2_websockets.load(Ordering::Relaxed), 2);
    assert_eq!(server.h1_websockets.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn ten_websockets_and_five_sse_streams_share_one_http2_connection() {
    let server = server(H2_AND_H1, true, Config::default()).await;
    let pool = Http2Pool::new();
    let mut sockets = Vec::new();
    for i in 0..10 {
        let (ws, response) = soon(
            server
                .client(&format!("/echo?n={i}"))
                .http2(Http2::Prefer)
                .pool(pool.clone())
                .connect(),
        )
        .await
        .unwrap();
        assert_eq!(response.version, http::Version::HTTP_2);
        sockets.push(ws);
    }
    let mut streams = Vec::new();
    for _ in 0..5 {
        let request = http::Request::get(format!(
            "https://localhost:{}/sse?channel=news",
            server.port
        ))
        .version(http::Version::HTTP_2)
        .body(Empty::<Bytes>::new())
        .unwrap();
        let response = soon(pool.send_request(request)).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), http::Version::HTTP_2);
        streams.push(response.into_body());
    }
    assert_eq!(pool.connections(), 1);
    assert_eq!(server.connections.load(Ordering::Relaxed), 1);

    // Every WebSocket echoes its own messages while the SSE streams get the hub's.
    for (i, ws) in sockets.iter_mut().enumerate() {
        ws.send(format!("socket {i}")).await.unwrap();
    }
    let news = rt_tokio::hub::ChannelName::new("news").unwrap();
    for n in 0..3 {
        server
            .hub
            .publish(&news, Bytes::from(format!("event {n}")))
            .await
            .unwrap();
    }
    for (i, ws) in sockets.iter_mut().enumerate() {
        assert_eq!(
            soon(ws.recv()).await.unwrap().unwrap(),
            Message::text(&format!("socket {i}"))
        );
    }
    for body in streams {
        let mut parser = sse_proto::Parser::new();
        let mut data = Vec::new();
        let mut body = body;
        while data.len() < 3 {
            let frame = soon(body.frame()).await.expect("stream open").unwrap();
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            parser.handle_input(&chunk).unwrap();
            while let Some(item) = parser.poll_item() {
                if let sse_proto::Item::Event(e) = item {
                    data.push(e.data.to_string());
                }
            }
        }
        assert_eq!(data, ["event 0", "event 1", "event 2"]);
    }
    for ws in &mut sockets {
        assert!(soon(ws.close(CloseCode::NORMAL, "")).await.unwrap().clean);
    }
    assert_eq!(server.connections.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_server_that_stops_reading_makes_send_wait_with_memory_bounded() {
    let server = server(H2_AND_H1, true, Config::default()).await;
    let config = Config {
        max_send_buffer: 256 * 1024,
        ..Config::default()
    };
    let (mut ws, _) = soon(
        server
            .client("/sink")
            .http2(Http2::Require)
            .config(config)
            .connect(),
    )
    .await
    .unwrap();
    let chunk = Message::binary(vec![1u8; 64 * 1024]);
    let mut sent = 0usize;
    // HTTP/2's windows (64 KiB per stream by default, then hyper's buffer) and the send
    // buffer fill up; then `send` waits instead of queueing more.
    let stalled = loop {
        match tokio::time::timeout(Duration::from_millis(500), ws.send(chunk.clone())).await {
            Ok(Ok(())) => sent += 1,
            Ok(Err(e)) => panic!("send failed: {e}"),
            Err(_) => break true,
        }
        assert!(sent < 1000, "64 MiB accepted by a peer that never reads");
    };
    assert!(stalled);
    assert!(
        ws.get_ref().tcp().is_none() && sent * 64 * 1024 < 16 << 20,
        "{sent} chunks accepted"
    );
}

#[tokio::test]
async fn bad_extended_connects_get_the_right_status() {
    let server = server(H2_AND_H1, true, Config::default()).await;
    // A raw HTTP/2 connection of our own, to send what our client never would.
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut tls_config = (*server.roots).clone();
    tls_config.alpn_protocols = vec![b"h2".to_vec()];
    let tls = tokio_rustls::TlsConnector::from(Arc::new(tls_config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake::<_, Empty<Bytes>>(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let uri = format!("https://localhost:{}/echo", server.port);
    let cases: [(&str, Option<&str>, Option<&str>, u16); 4] = [
        // (method, :protocol, sec-websocket-version, expected status)
        ("CONNECT", Some("websocket"), Some("8"), 426),
        ("CONNECT", Some("websocket"), None, 426),
        ("CONNECT", Some("webtransport"), Some("13"), 400),
        ("GET", None, Some("13"), 400),
    ];
    for (method, protocol, version, status) in cases {
        let mut b = http::Request::builder()
            .method(method)
            .version(http::Version::HTTP_2)
            .uri(&uri);
        if let Some(v) = version {
            b = b.header("sec-websocket-version", v);
        }
        let mut req = b.body(Empty::new()).unwrap();
        if let Some(p) = protocol {
            req.extensions_mut()
                .insert(hyper::ext::Protocol::from(p.to_string().as_str()));
        }
        soon(send.ready()).await.unwrap();
        let response = soon(send.send_request(req)).await.unwrap();
        assert_eq!(
            response.status(),
            status,
            "{method} {protocol:?} {version:?}"
        );
        assert!(response.headers().get("connection").is_none());
        let body = soon(response.into_body().collect())
            .await
            .unwrap()
            .to_bytes();
        assert!(!body.is_empty(), "the refusal says why");
    }
    assert_eq!(server.h2_websockets.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn prefer_falls_back_to_http11_and_require_says_why() {
    // A server that speaks HTTP/1.1 only.
    let h1 = server(&[b"http/1.1"], true, Config::default()).await;
    let pool = Http2Pool::new();
    for _ in 0..2 {
        let (mut ws, response) = soon(
            h1.client("/echo")
                .http2(Http2::Prefer)
                .pool(pool.clone())
                .connect(),
        )
        .await
        .unwrap();
        assert_eq!(response.version, http::Version::HTTP_11);
        ws.send("over 1.1").await.unwrap();
        assert_eq!(
            soon(ws.recv()).await.unwrap().unwrap(),
            Message::text("over 1.1")
        );
    }
    assert_eq!(pool.connections(), 0);
    let e = soon(h1.client("/echo").http2(Http2::Require).connect())
        .await
        .expect_err("refused");
    assert!(matches!(e, ConnectError::Http2Unavailable(_)), "{e}");

    // HTTP/2 without extended CONNECT: the SETTINGS say so; Prefer takes a second
    // connection over HTTP/1.1, Require fails.
    let plain_h2 = server(H2_AND_H1, false, Config::default()).await;
    let (_ws, response) = soon(plain_h2.client("/echo").http2(Http2::Prefer).connect())
        .await
        .unwrap();
    assert_eq!(response.version, http::Version::HTTP_11);
    assert_eq!(plain_h2.connections.load(Ordering::Relaxed), 2);
    let e = soon(plain_h2.client("/echo").http2(Http2::Require).connect())
        .await
        .expect_err("refused");
    assert!(
        matches!(e, ConnectError::Http2Unavailable(why) if why.contains("extended CONNECT")),
        "{e}"
    );
    assert_eq!(plain_h2.h2_websockets.load(Ordering::Relaxed), 0);
}
