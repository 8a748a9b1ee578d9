//! rt-tokio's WebSocket on 127.0.0.1: our client and server together (with and without
//! permessage-deflate), against tokio-tungstenite both ways, over hyper's upgrade, handshake
//! refusals (426, 403, a 401 with its body), backpressure from a peer that stops reading,
//! keepalive closing a dead peer (paused clock), `recv` cancelled in a `select!` loop, and
//! split halves on two tasks while the peer pings.
#![cfg(feature = "ws")]

use std::convert::Infallible;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use rt_tokio::ws::{
    accept, accept_with, connect, upgrade, upgrade_with, ClientBuilder, CloseCode, ConnectError,
    Decision, Message, ServerOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_proto::deflate::DeflateConfig;
use ws_proto::{Config, Keepalive};

/// A bounded wait for something that must happen.
async fn soon<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("timed out")
}

/// An echo server with `options` on a free port; returns its `ws://` URL.
async fn echo_server(options: ServerOptions) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let options = options.clone();
            tokio::spawn(async move {
                let Ok((mut ws, _)) = accept(tcp, &options).await else {
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
    url
}

fn messages() -> Vec<Message> {
    vec![
        Message::text("hello"),
        Message::binary(vec![1u8, 2, 3]),
        Message::text(&"é😀 ".repeat(10_000)),
        Message::binary(vec![7u8; 300_000]),
        Message::text(""),
    ]
}

#[tokio::test]
async fn our_client_and_server_echo_with_and_without_compression() {
    for deflate in [false, true] {
        let mut options = ServerOptions::default().protocol("echo.v1");
        if deflate {
            options = options.deflate(DeflateConfig::default());
        }
        let url = echo_server(options).await;
        let mut builder = ClientBuilder::new(format!("{url}/path?q=1"))
            .protocol("other")
            .protocol("echo.v1");
        if deflate {
            builder = builder.deflate(DeflateConfig::default());
        }
        let (mut ws, response) = soon(builder.connect()).await.unwrap();
        assert_eq!(response.protocol.as_deref(), Some("echo.v1"));
        assert_eq!(response.deflate.is_some(), deflate);
        for m in messages() {
            ws.feed(m).await.unwrap();
        }
        ws.flush().await.unwrap();
        for m in messages() {
            assert_eq!(soon(ws.recv()).await.unwrap().unwrap(), m);
        }
        ws.ping(b"p").await.unwrap();
        let closed = soon(ws.close(CloseCode::NORMAL, "done")).await.unwrap();
        assert!(closed.clean, "{closed:?}");
        assert_eq!(closed.code, CloseCode::NORMAL);
        assert!(ws.recv().await.is_none());
    }
}

#[tokio::test]
async fn stream_and_sink_work_as_futures_users_expect() {
    let url = echo_server(ServerOptions::default()).await;
    let (ws, _) = soon(connect(&url)).await.unwrap();
    let (mut sink, mut stream) = StreamExt::split(ws);
    let sent = messages();
    let send = async {
        for m in sent.clone() {
            sink.feed(m).await.unwrap();
        }
        sink.flush().await.unwrap();
    };
    let receive = async {
        let mut got = Vec::new();
        while got.len() < sent.len() {
            got.push(stream.next().await.unwrap().unwrap());
        }
        got
    };
    let ((), got) = soon(async { tokio::join!(send, receive) }).await;
    assert_eq!(got, sent);
    soon(sink.close()).await.unwrap();
    assert!(
        soon(stream.next()).await.is_none(),
        "the stream ends after the close"
    );
}

#[tokio::test]
async fn our_client_against_a_tungstenite_server_and_its_client_against_ours() {
    // A tokio-tungstenite echo server.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if m.is_text() || m.is_binary() {
                ws.send(m).await.unwrap();
            }
        }
    });
    let (mut ws, _) = soon(connect(&url)).await.unwrap();
    for m in messages() {
        ws.send(m.clone()).await.unwrap();
        assert_eq!(soon(ws.recv()).await.unwrap().unwrap(), m);
    }
    let closed = soon(ws.close(CloseCode(4001), "bye")).await.unwrap();
    assert!(closed.clean);

    // tokio-tungstenite's client against our server.
    let url = echo_server(ServerOptions::default()).await;
    let (mut client, _) = soon(tokio_tungstenite::connect_async(&url)).await.unwrap();
    use tokio_tungstenite::tungstenite::Message as T;
    let sent = [
        T::text("héllo"),
        T::binary(vec![9u8; 100_000]),
        T::text("x".repeat(70_000)),
    ];
    for m in &sent {
        client.send(m.clone()).await.unwrap();
        assert_eq!(&soon(client.next()).await.unwrap().unwrap(), m);
    }
    client.close(None).await.unwrap();
    while let Some(Ok(m)) = soon(client.next()).await {
        assert!(m.is_close(), "{m:?}");
    }
}

#[tokio::test]
async fn hyper_upgrade_serves_a_websocket_and_refusals_answer_themselves() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|mut req: http::Request<_>| async move {
                    let options = ServerOptions::default();
                    let path = req.uri().path().to_string();
                    let answer = if path == "/private" {
                        upgrade_with(&mut req, &options, |r| match r.header("Authorization") {
                            Some("Bearer good") => Decision::accept(&options, r),
                            _ => Decision::reject(401, "who are you?"),
                        })
                    } else {
                        upgrade(&mut req, &options)
                    };
                    Ok::<_, Infallible>(match answer {
                        Ok((response, socket)) => {
                            tokio::spawn(async move {
                                let mut ws = socket.await.unwrap();
                                while let Some(Ok(m)) = ws.recv().await {
                                    if ws.send(m).await.is_err() {
                                        break;
                                    }
                                }
                            });
                            response
                        }
                        Err(refusal) => refusal,
                    })
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    let (mut ws, _) = soon(connect(&format!("ws://{addr}/echo"))).await.unwrap();
    for m in messages() {
        ws.send(m.clone()).await.unwrap();
        assert_eq!(soon(ws.recv()).await.unwrap().unwrap(), m);
    }
    assert!(soon(ws.close(CloseCode::NORMAL, "")).await.unwrap().clean);

    // A refusal reaches the client with its status, headers and body.
    match soon(connect(&format!("ws://{addr}/private"))).await {
        Err(ConnectError::Rejected { status, body, .. }) => {
            assert_eq!(status, 401);
            assert_eq!(&body[..], b"who are you?");
        }
        other => panic!("{other:?}"),
    }
    let ok =
        ClientBuilder::new(format!("ws://{addr}/private")).header("Authorization", "Bearer good");
    assert!(soon(ok.connect()).await.is_ok());

    // A plain GET is told to upgrade.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = vec![0u8; 1024];
    let n = soon(tcp.read(&mut head)).await.unwrap();
    let head = String::from_utf8_lossy(&head[..n]).to_lowercase();
    assert!(head.starts_with("http/1.1 426"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
}

#[tokio::test]
async fn the_decision_callback_sees_the_request_and_origins_are_checked() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let options = ServerOptions::default()
                    .protocol("chat")
                    .allow_origins(["https://good.example"]);
                let result = accept_with(tcp, &options, |r| {
                    assert_eq!(r.path(), "/room");
                    assert_eq!(r.query(), Some("id=7"));
                    Decision::Accept {
                        protocol: options.choose_protocol(r),
                        headers: vec![("X-Room".into(), "7".into())],
                    }
                })
                .await;
                if let Ok((mut ws, _)) = result {
                    let _ = ws.send("welcome").await;
                    let _ = ws.close(CloseCode::NORMAL, "").await;
                }
            });
        }
    });
    let good = ClientBuilder::new(format!("ws://{addr}/room?id=7"))
        .protocol("chat")
        .header("Origin", "https://good.example");
    let (mut ws, response) = soon(good.connect()).await.unwrap();
    assert_eq!(response.protocol.as_deref(), Some("chat"));
    assert!(response
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("x-room") && v == "7"));
    assert_eq!(
        soon(ws.recv()).await.unwrap().unwrap(),
        Message::text("welcome")
    );
    let bad = ClientBuilder::new(format!("ws://{addr}/room?id=7"))
        .header("Origin", "https://evil.example");
    match soon(bad.connect()).await {
        Err(ConnectError::Rejected { status: 403, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_peer_that_stops_reading_makes_send_wait_and_memory_stays_bounded() {
    let limit = 64 * 1024;
    let listener = {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(16 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        socket.listen(16).unwrap()
    };
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let options = ServerOptions::default().config(Config {
            max_send_buffer: limit,
            ..Config::default()
        });
        let (mut ws, _) = accept(tcp, &options).await.unwrap();
        let message = Message::binary(vec![0u8; 16 * 1024]);
        let mut sent = 0usize;
        // Bounded: far more than every socket buffer on the way can hold.
        for _ in 0..20_000 {
            match ws.feed(message.clone()).now_or_never() {
                Some(Ok(())) => sent += 1,
                Some(Err(e)) => panic!("{e}"),
                None => {
                    // Waiting for room: the peer reads nothing.
                    let pending = ws.connection().pending_transmit();
                    assert!(pending <= limit + 16 * 1024 + 14, "pending {pending}");
                    return (sent, true);
                }
            }
        }
        (sent, false)
    });
    // A client that completes the handshake and then never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let tcp = socket
        .connect(url.trim_start_matches("ws://").parse().unwrap())
        .await
        .unwrap();
    let (ws, _) = soon(ClientBuilder::new(url).handshake(tcp)).await.unwrap();
    let (sent, waited) = soon(server).await.unwrap();
    assert!(waited, "send never waited after {sent} messages");
    assert!(sent < 20_000);
    drop(ws);
}

#[tokio::test(start_paused = true)]
async fn keepalive_closes_a_dead_peer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let options = ServerOptions::default().config(Config {
            keepalive: Some(Keepalive {
                interval: Duration::from_secs(10),
                timeout: Duration::from_secs(30),
            }),
            ..Config::default()
        });
        let (mut ws, _) = accept(tcp, &options).await.unwrap();
        let start = tokio::time::Instant::now();
        assert!(ws.recv().await.is_none());
        (ws.closed().cloned().unwrap(), start.elapsed())
    });
    // The peer: handshake done, then silent (its socket stays open, it answers nothing).
    let tcp = TcpStream::connect(url.trim_start_matches("ws://"))
        .await
        .unwrap();
    let (_silent, _) = ClientBuilder::new(url).handshake(tcp).await.unwrap();
    let (closed, elapsed) = server.await.unwrap();
    assert_eq!(closed.code, CloseCode::ABNORMAL);
    assert!(!closed.clean);
    assert!(
        elapsed >= Duration::from_secs(30) && elapsed < Duration::from_secs(31),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn recv_cancelled_in_a_select_loop_loses_nothing() {
    const N: usize = 2_000;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (mut ws, _) = accept(tcp, &ServerOptions::default()).await.unwrap();
        for i in 0..N {
            // Sizes that cut messages across reads.
            let body = format!("{i:06}").repeat(1 + i % 700);
            ws.feed(Message::text(&body)).await.unwrap();
            if i % 50 == 0 {
                ws.flush().await.unwrap();
            }
        }
        ws.flush().await.unwrap();
        let _ = ws.close(CloseCode::NORMAL, "").await;
    });
    let (mut ws, _) = soon(connect(&url)).await.unwrap();
    let mut got = Vec::new();
    let mut cancelled = 0;
    soon(async {
        loop {
            tokio::select! {
                m = ws.recv() => match m {
                    Some(m) => got.push(m.unwrap()),
                    None => break,
                },
                _ = tokio::task::yield_now() => cancelled += 1,
            }
        }
    })
    .await;
    assert_eq!(got.len(), N);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m, &Message::text(&format!("{i:06}").repeat(1 + i % 700)));
    }
    assert!(cancelled > 0, "recv was never cancelled");
}

#[tokio::test]
async fn split_halves_on_two_tasks_while_the_peer_pings() {
    const N: usize = 300;
    // A tokio-tungstenite server that echoes and pings after every tenth message, counting
    // the Pongs it gets back.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        use tokio_tungstenite::tungstenite::Message as T;
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let (mut echoed, mut pings, mut pongs) = (0, 0, 0);
        while let Some(Ok(m)) = ws.next().await {
            match m {
                T::Text(_) | T::Binary(_) => {
                    ws.send(m).await.unwrap();
                    echoed += 1;
                    if echoed % 10 == 0 {
                        ws.send(T::Ping(vec![echoed as u8].into())).await.unwrap();
                        pings += 1;
                    }
                }
                T::Pong(_) => pongs += 1,
                T::Close(_) => {}
                _ => {}
            }
        }
        (pings, pongs)
    });
    let (ws, _) = soon(connect(&url)).await.unwrap();
    let (mut reader, mut writer) = ws.split();
    let writing = tokio::spawn(async move {
        for i in 0..N {
            writer.send(format!("m{i}")).await.unwrap();
        }
        writer
    });
    let reading = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < N {
            got.push(reader.recv().await.unwrap().unwrap());
        }
        (got, reader)
    });
    let mut writer = soon(writing).await.unwrap();
    let (got, mut reader) = soon(reading).await.unwrap();
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m, &Message::text(&format!("m{i}")));
    }
    // Dropping the reader does not hang the writer; the close goes out.
    writer.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(soon(reader.recv()).await.is_none());
    assert!(reader.closed().unwrap().clean);
    let (pings, pongs) = soon(server).await.unwrap();
    assert_eq!(pings, N / 10);
    assert_eq!(
        pongs, pings,
        "every Ping answered by the reading half alone"
    );
}

#[tokio::test]
async fn dropping_one_half_leaves_the_other_working() {
    // Writer kept, reader dropped: sends still go out.
    let url = echo_server(ServerOptions::default()).await;
    let (ws, _) = soon(connect(&url)).await.unwrap();
    let (reader, mut writer) = ws.split();
    drop(reader);
    soon(writer.send("still here")).await.unwrap();
    soon(writer.close(CloseCode::NORMAL, "")).await.unwrap();

    // Reader kept, writer dropped: what the server sends still arrives, and the server's
    // Close is answered by the reader alone.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (mut ws, _) = accept(tcp, &ServerOptions::default()).await.unwrap();
        ws.send("a").await.unwrap();
        ws.send("b").await.unwrap();
        let closed = ws.close(CloseCode(4000), "done").await.unwrap();
        assert!(closed.clean);
    });
    let (ws, _) = soon(connect(&url)).await.unwrap();
    let (mut reader, writer) = ws.split();
    drop(writer);
    assert_eq!(
        soon(reader.recv()).await.unwrap().unwrap(),
        Message::text("a")
    );
    assert_eq!(
        soon(reader.recv()).await.unwrap().unwrap(),
        Message::text("b")
    );
    assert!(soon(reader.recv()).await.is_none());
    let closed = reader.closed().unwrap();
    assert_eq!((closed.code, closed.clean), (CloseCode(4000), true));
}
