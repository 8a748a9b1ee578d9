//! The axum extractor (feature `axum`): an axum router serving our `WebSocketUpgrade`, with
//! a subprotocol, permessage-deflate and an origin rule; a plain GET on the route gets 426.
#![cfg(all(feature = "axum", feature = "ws"))]

use std::time::Duration;

use axum::{routing::get, Router};
use rt_tokio::ws::axum::WebSocketUpgrade;
use rt_tokio::ws::{ClientBuilder, CloseCode, ConnectError, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ws_proto::deflate::DeflateConfig;

#[tokio::test]
async fn an_axum_router_serves_our_extractor() {
    let app = Router::new().route(
        "/ws",
        get(|ws: WebSocketUpgrade| async move {
            let path = ws.request().path().to_string();
            ws.protocols(["chat.v2", "chat.v1"])
                .deflate(DeflateConfig::default())
                .allow_origins(["http://app.example"])
                .on_upgrade(move |mut socket| async move {
                    socket.send(format!("hello {path}")).await.unwrap();
                    while let Some(Ok(m)) = socket.recv().await {
                        if socket.send(m).await.is_err() {
                            break;
                        }
                    }
                })
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (mut ws, response) = ClientBuilder::new(format!("ws://{addr}/ws"))
        .protocol("chat.v1")
        .deflate(DeflateConfig::default())
        .header("Origin", "http://app.example")
        .connect()
        .await
        .unwrap();
    assert_eq!(response.protocol.as_deref(), Some("chat.v1"));
    assert!(response.deflate.is_some());
    let got = tokio::time::timeout(Duration::from_secs(10), ws.recv()).await;
    assert_eq!(got.unwrap().unwrap().unwrap(), Message::text("hello /ws"));
    let long = Message::text(&"compress me ".repeat(5000));
    ws.send(long.clone()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), ws.recv()).await;
    assert_eq!(got.unwrap().unwrap().unwrap(), long);
    assert!(ws.close(CloseCode::NORMAL, "").await.unwrap().clean);

    // Another origin: 403.
    match ClientBuilder::new(format!("ws://{addr}/ws"))
        .header("Origin", "http://evil.example")
        .connect()
        .await
    {
        Err(ConnectError::Rejected { status: 403, .. }) => {}
        other => panic!("{other:?}"),
    }
    // A plain GET: 426 with `Upgrade: websocket`.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = vec![0u8; 2048];
    let n = tcp.read(&mut head).await.unwrap();
    let head = String::from_utf8_lossy(&head[..n]).to_lowercase();
    assert!(head.starts_with("http/1.1 426"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
}
