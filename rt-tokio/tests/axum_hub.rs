//! The `axum-hub` example's router on 127.0.0.1: one hub behind SSE and long polling on
//! one axum router. A message published over HTTP reaches an EventSource and a long-poll
//! client; a long-poll upstream message is published by the app and reaches both; the
//! status route counts what happened.
#![cfg(all(feature = "axum", feature = "sse", feature = "longpoll"))]

#[path = "../examples/axum-hub.rs"]
#[allow(dead_code)] // the example's `main`
mod example;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rt_tokio::hub::{ChannelName, Cursor, Epoch, Hub, MemoryBackend, MemoryConfig};
use rt_tokio::longpoll::{ClientEvent, LongPollClient, LongPollClientConfig};
use rt_tokio::sse::{EventSource, EventSourceConfig, SseClientEvent};

async fn call(
    addr: std::net::SocketAddr,
    request: http::Request<Full<Bytes>>,
) -> (http::StatusCode, Bytes) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

/// `work`'s output; a hang fails the test instead of blocking it.
async fn in_time<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), work)
        .await
        .expect("done in time")
}

async fn sse_message(es: &mut EventSource) -> (String, String) {
    loop {
        match es.next_event().await.expect("stream open") {
            SseClientEvent::Message(m) => break (m.last_event_id.to_string(), m.data.to_string()),
            SseClientEvent::Open => {}
            other => panic!("sse: {other:?}"),
        }
    }
}

async fn lp_message(lp: &mut LongPollClient) -> (Cursor, Bytes) {
    loop {
        match lp.next_event().await.expect("client running") {
            ClientEvent::Message { epoch, message } => {
                break (
                    Cursor {
                        epoch,
                        seq: message.seq,
                    },
                    message.data,
                )
            }
            ClientEvent::Backoff { .. } => {}
            other => panic!("long-poll: {other:?}"),
        }
    }
}

#[tokio::test]
async fn one_router_serves_sse_long_polling_publish_and_status_from_one_hub() {
    let mut config = MemoryConfig::default();
    config.epoch = Some(Epoch(9));
    let hub = Hub::new(MemoryBackend::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, example::app(hub)).await });
    let chat = ChannelName::new("chat").unwrap();
    let start = Cursor::new(9, 0);

    let mut sse_config = EventSourceConfig::default();
    sse_config.last_event_id = Some(start.to_string());
    let mut es =
        EventSource::connect(&format!("http://{addr}/sse?channel=chat"), sse_config).unwrap();
    let mut lp = LongPollClient::connect(
        &format!("http://{addr}/poll"),
        chat,
        Some(start),
        LongPollClientConfig::default(),
    )
    .unwrap();

    let publish = http::Request::post("/publish?channel=chat")
        .header("host", addr.to_string())
        .body(Full::new(Bytes::from_static(b"hello")))
        .unwrap();
    let (status, body) = call(addr, publish).await;
    assert_eq!((status.as_u16(), &body[..]), (200, &b"9:1\n"[..]));
    let got = in_time(sse_message(&mut es)).await;
    assert_eq!(got, ("9:1".to_string(), "hello".to_string()));
    let got = in_time(lp_message(&mut lp)).await;
    assert_eq!(got, (Cursor::new(9, 1), Bytes::from_static(b"hello")));

    // Upstream over long polling: the app publishes it on `chat`, for every transport.
    let seq = lp.send("from the long-poll client").unwrap();
    in_time(lp.acknowledged(seq)).await;
    let got = in_time(sse_message(&mut es)).await;
    assert_eq!(
        got,
        ("9:2".to_string(), "from the long-poll client".to_string())
    );
    let got = in_time(lp_message(&mut lp)).await;
    assert_eq!(got.0, Cursor::new(9, 2));

    let status = http::Request::get("/status")
        .header("host", addr.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (code, body) = call(addr, status).await;
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status["connections"]["sse"], 1);
    assert_eq!(status["published"], 2);
    let channels = status["channels"].as_array().unwrap();
    let chat = channels.iter().find(|c| c["name"] == "chat").unwrap();
    assert_eq!(
        (&chat["head"], &chat["messages"]),
        (&"9:2".into(), &2.into())
    );

    // Bad input gets a 400 with a reason, not a crash.
    let bad = http::Request::get("/sse?channel=a%20b")
        .header("host", addr.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (code, body) = call(addr, bad).await;
    assert_eq!(code, 400);
    assert!(String::from_utf8_lossy(&body).contains("invalid channel"));
}
