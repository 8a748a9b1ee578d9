//! `http::serve_with` on 127.0.0.1: per-connection handlers, WebSocket upgrades, the
//! connection limit, and graceful shutdown (a response in flight finishes, a stream that
//! never ends is dropped at the drain deadline, the port is released). Then HTTP/1.1 and
//! HTTP/2 on one listener (`h2`): h2c by prior knowledge, ALPN over TLS with an rcgen
//! certificate, WebSockets by upgrade and by extended CONNECT (RFC 8441), SSE and long
//! polling as streams of one connection, GOAWAY and draining at shutdown, the bounds on a
//! client that stops reading, stops answering PINGs or never sends its first bytes, and the
//! connection limit under TLS (a place given back after a failed or timed-out handshake).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use rt_tokio::http::{serve_with, CancellationToken, ConnectionInfo, ServeConfig};
use tokio::net::{TcpListener, TcpStream};

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Bounded wait for anything a test awaits.
async fn soon<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("in time")
}

async fn client(addr: std::net::SocketAddr) -> Sender {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn get(sender: &mut Sender, path: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header("host", "test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = soon(sender.send_request(request)).await.unwrap();
    let status = response.status();
    let body = soon(response.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn text(body: String) -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from(body)))
}

#[tokio::test]
async fn each_connection_gets_its_own_handler() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let made = Arc::new(AtomicUsize::new(0));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve_with(
        listener,
        ServeConfig::default(),
        shutdown.clone(),
        {
            let made = made.clone();
            move |info: ConnectionInfo| {
                let n = made.fetch_add(1, Ordering::Relaxed) + 1;
                let requests = Arc::new(AtomicUsize::new(0));
                move |_req: Request<hyper::body::Incoming>| {
                    let r = requests.fetch_add(1, Ordering::Relaxed) + 1;
                    let peer = info.peer;
                    async move { text(format!("connection {n} request {r} from {}", peer.ip())) }
                }
            }
        },
    ));
    let mut a = client(addr).await;
    assert_eq!(
        get(&mut a, "/").await.1,
        "connection 1 request 1 from 127.0.0.1"
    );
    assert_eq!(
        get(&mut a, "/").await.1,
        "connection 1 request 2 from 127.0.0.1"
    );
    let mut b = client(addr).await;
    assert_eq!(
        get(&mut b, "/").await.1,
        "connection 2 request 1 from 127.0.0.1"
    );
    assert_eq!(
        get(&mut a, "/").await.1,
        "connection 1 request 3 from 127.0.0.1"
    );
    shutdown.cancel();
    soon(server).await.unwrap();
    assert_eq!(made.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn websocket_upgrades_work_from_a_handler() {
    use rt_tokio::ws::{connect, upgrade, Message, ServerOptions};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve_with(
        listener,
        ServeConfig::default(),
        shutdown.clone(),
        |_| {
            |mut req: Request<hyper::body::Incoming>| async move {
                match upgrade(&mut req, &ServerOptions::default()) {
                    Ok((response, socket)) => {
                        tokio::spawn(async move {
                            let Ok(mut ws) = socket.await else { return };
                            while let Some(Ok(m)) = ws.recv().await {
                                if ws.send(m).await.is_err() {
                                    break;
                                }
                            }
                        });
                        response
                    }
                    Err(refusal) => refusal,
                }
            }
        },
    ));
    let (mut ws, _) = soon(connect(&format!("ws://{addr}/echo"))).await.unwrap();
    ws.send("over hyper").await.unwrap();
    assert_eq!(
        soon(ws.recv()).await.unwrap().unwrap(),
        Message::text("over hyper")
    );
    // The upgraded socket outlives the server's shutdown: it is the application's.
    shutdown.cancel();
    soon(server).await.unwrap();
    ws.send("still here").await.unwrap();
    assert_eq!(
        soon(ws.recv()).await.unwrap().unwrap(),
        Message::text("still here")
    );
}

#[tokio::test]
async fn max_connections_holds_later_ones_until_one_ends() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = ServeConfig::default();
    config.max_connections = 1;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve_with(listener, config, shutdown.clone(), |_| {
        |_req: Request<hyper::body::Incoming>| async { text("ok".into()) }
    }));
    let mut first = client(addr).await;
    assert_eq!(get(&mut first, "/").await.1, "ok");
    // The second connection is accepted by the kernel but not served yet.
    let mut second = client(addr).await;
    let request = Request::get("/")
        .header("host", "test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let pending = tokio::spawn(async move {
        let r = second.send_request(request).await.unwrap();
        r.status()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!pending.is_finished(), "served beyond max_connections");
    drop(first);
    assert_eq!(soon(pending).await.unwrap(), StatusCode::OK);
    shutdown.cancel();
    soon(server).await.unwrap();
}

#[tokio::test]
async fn shutdown_finishes_responses_drops_endless_streams_and_releases_the_port() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = ServeConfig::default();
    config.drain_timeout = Duration::from_millis(500);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve_with(listener, config, shutdown.clone(), |_| {
        |req: Request<hyper::body::Incoming>| async move {
            type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;
            let body: Body = match req.uri().path() {
                "/slow" => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Full::new(Bytes::from_static(b"slow but whole")).boxed()
                }
                _ => {
                    // A stream that never ends (as an event stream would not).
                    let frames = futures_util::stream::unfold((), |_| async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Some((
                            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"."))),
                            (),
                        ))
                    });
                    StreamBody::new(frames).boxed()
                }
            };
            Response::new(body)
        }
    }));
    let mut slow = client(addr).await;
    let slow_request = Request::get("/slow")
        .header("host", "test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let slow_response = tokio::spawn(async move {
        let r = slow.send_request(slow_request).await.unwrap();
        r.into_body().collect().await.unwrap().to_bytes()
    });
    let mut endless = client(addr).await;
    let request = Request::get("/endless")
        .header("host", "test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let mut stream = soon(endless.send_request(request))
        .await
        .unwrap()
        .into_body();
    assert!(soon(stream.frame()).await.is_some());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = tokio::time::Instant::now();
    shutdown.cancel();
    // The response in flight completes.
    assert_eq!(&soon(slow_response).await.unwrap()[..], b"slow but whole");
    // The server returns at the drain deadline, having dropped the endless stream.
    soon(server).await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(450),
        "returned early: {took:?}"
    );
    let rest = soon(async { while let Some(Ok(_)) = stream.frame().await {} });
    rest.await;
    // The port is free again: a restarted server can bind it.
    assert!(TcpListener::bind(addr).await.is_ok());
}

// ---- HTTP/1.1 and HTTP/2 on one listener ----

mod h2 {
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use http::{Request, Response, StatusCode, Version};
    use http_body_util::combinators::UnsyncBoxBody;
    use http_body_util::{BodyExt, Empty, Full, StreamBody};
    use hyper::body::{Frame, Incoming};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use rt_tokio::http::{serve_with, CancellationToken, ServeConfig};
    use rt_tokio::hub::{ChannelName, Cursor, Hub, MemoryBackend, MemoryConfig};
    use rt_tokio::ws::{upgrade, ClientBuilder, CloseCode, Http2, Message, ServerOptions};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    use super::soon;

    type BoxBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;
    pub(super) type H2Sender = hyper::client::conn::http2::SendRequest<Empty<Bytes>>;

    fn boxed<B>(response: Response<B>) -> Response<BoxBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        response.map(|b| b.map_err(Into::into).boxed_unsync())
    }

    /// The size of the chunks `/endless` produces.
    const CHUNK: usize = 16 * 1024;

    /// ws-proto's send buffer for `/flood`.
    const FLOOD_SEND_BUFFER: usize = 256 * 1024;

    /// Waits until `count` stays put across ten looks 20 ms apart (at most 200 looks); the
    /// last value, or `None` if it never settled.
    async fn settled(count: impl Fn() -> usize) -> Option<usize> {
        let (mut last, mut still) = (usize::MAX, 0);
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = count();
            still = if now == last { still + 1 } else { 0 };
            last = now;
            if still == 10 {
                return Some(last);
            }
        }
        None
    }

    /// What the server saw.
    #[derive(Default)]
    struct Counts {
        /// WebSockets accepted over HTTP/1.1 and over HTTP/2.
        ws_h1: AtomicUsize,
        ws_h2: AtomicUsize,
        /// Bytes `/endless` bodies have handed to hyper.
        endless_bytes: AtomicUsize,
        /// `/endless` bodies dropped.
        endless_dropped: AtomicUsize,
        /// Bytes of the messages `/flood` WebSockets' `send` accepted.
        flood_sent: AtomicUsize,
    }

    struct Server {
        addr: SocketAddr,
        shutdown: CancellationToken,
        task: JoinHandle<()>,
        counts: Arc<Counts>,
        hub: Hub,
    }

    /// Counts an `/endless` body's drop.
    struct DropCount(Arc<Counts>);

    impl Drop for DropCount {
        fn drop(&mut self) {
            self.0.endless_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `serve_with(config)` on 127.0.0.1: `/version` answers the request's HTTP version,
    /// `/echo` is a WebSocket echo (either HTTP version), `/sse` the hub's events, `/poll`
    /// long polls on the hub, `/slow` answers after 200 ms, `/endless` streams 16 KiB chunks
    /// as fast as hyper takes them.
    async fn start(config: ServeConfig) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let counts = Arc::new(Counts::default());
        let hub = Hub::new(MemoryBackend::new(MemoryConfig::default()));
        let sse = rt_tokio::sse::SseService::new(hub.clone(), Default::default());
        let poll = rt_tokio::longpoll::LongPollServer::new(hub.clone(), Default::default());
        let task = tokio::spawn(serve_with(listener, config, shutdown.clone(), {
            let counts = counts.clone();
            move |_| {
                let (counts, sse, poll) = (counts.clone(), sse.clone(), poll.clone());
                move |mut req: Request<Incoming>| {
                    let (counts, sse, poll) = (counts.clone(), sse.clone(), poll.clone());
                    async move {
                        match req.uri().path() {
                            "/version" => boxed(Response::new(Full::new(Bytes::from(format!(
                                "{:?}",
                                req.version()
                            ))))),
                            "/echo" => {
                                let counter = match req.version() {
                                    Version::HTTP_2 => &counts.ws_h2,
                                    _ => &counts.ws_h1,
                                };
                                match upgrade(&mut req, &ServerOptions::default()) {
                                    Ok((response, socket)) => {
                                        counter.fetch_add(1, Ordering::Relaxed);
                                        tokio::spawn(async move {
                                            let Ok(mut ws) = socket.await else { return };
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
                            "/flood" => {
                                // Sends 64 KiB messages until `send` fails (at most 64 MiB),
                                // with ws-proto's send buffer at 256 KiB.
                                let mut options = ServerOptions::default();
                                options.config.max_send_buffer = FLOOD_SEND_BUFFER;
                                match upgrade(&mut req, &options) {
                                    Ok((response, socket)) => {
                                        tokio::spawn(async move {
                                            let Ok(mut ws) = socket.await else { return };
                                            let m = Message::binary(vec![7u8; 64 * 1024]);
                                            for _ in 0..1024 {
                                                if ws.send(m.clone()).await.is_err() {
                                                    return;
                                                }
                                                counts
                                                    .flood_sent
                                                    .fetch_add(64 * 1024, Ordering::Relaxed);
                                            }
                                        });
                                        boxed(response)
                                    }
                                    Err(refusal) => boxed(refusal),
                                }
                            }
                            "/sse" => boxed(sse.handle(req).await),
                            "/poll" => boxed(poll.handle(req).await),
                            "/slow" => {
                                tokio::time::sleep(Duration::from_millis(200)).await;
                                boxed(Response::new(Full::new(Bytes::from_static(
                                    b"slow but whole",
                                ))))
                            }
                            _ => {
                                let guard = DropCount(counts.clone());
                                let frames = futures_util::stream::unfold(guard, |guard| async {
                                    guard.0.endless_bytes.fetch_add(CHUNK, Ordering::Relaxed);
                                    let chunk = Frame::data(Bytes::from(vec![b'.'; CHUNK]));
                                    Some((Ok::<_, Infallible>(chunk), guard))
                                });
                                boxed(Response::new(StreamBody::new(frames)))
                            }
                        }
                    }
                }
            }
        }));
        Server {
            addr,
            shutdown,
            task,
            counts,
            hub,
        }
    }

    /// An HTTP/2 client connection on `io`, its connection task spawned.
    pub(super) async fn h2_client<I>(io: I, stream_window: u32) -> H2Sender
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(stream_window)
            .initial_connection_window_size(16 << 20)
            .handshake::<_, Empty<Bytes>>(TokioIo::new(io))
            .await
            .unwrap();
        tokio::spawn(conn);
        send
    }

    async fn h2c_client(addr: SocketAddr) -> H2Sender {
        h2_client(TcpStream::connect(addr).await.unwrap(), 1 << 20).await
    }

    async fn h1_get(addr: SocketAddr, path: &str) -> String {
        let mut sender = super::client(addr).await;
        super::get(&mut sender, path).await.1
    }

    pub(super) async fn h2_get(send: &mut H2Sender, uri: &str) -> Response<Incoming> {
        soon(send.ready()).await.unwrap();
        let request = Request::get(uri).body(Empty::new()).unwrap();
        soon(send.send_request(request)).await.unwrap()
    }

    async fn text(response: Response<Incoming>) -> String {
        let body = soon(response.into_body().collect()).await.unwrap();
        String::from_utf8(body.to_bytes().to_vec()).unwrap()
    }

    async fn echo_once(builder: ClientBuilder, version: Version) {
        let (mut ws, response) = soon(builder.connect()).await.unwrap();
        assert_eq!(response.version, version);
        ws.send("both ways").await.unwrap();
        assert_eq!(
            soon(ws.recv()).await.unwrap().unwrap(),
            Message::text("both ways")
        );
        assert!(soon(ws.close(CloseCode::NORMAL, "")).await.unwrap().clean);
    }

    async fn stop(server: Server) {
        server.shutdown.cancel();
        soon(server.task).await.unwrap();
    }

    #[tokio::test]
    async fn one_plain_listener_serves_http11_and_h2c_and_websockets_over_both() {
        let server = start(ServeConfig::default()).await;
        let addr = server.addr;
        assert_eq!(h1_get(addr, "/version").await, "HTTP/1.1");
        let mut h2 = h2c_client(addr).await;
        let uri = format!("http://{addr}/version");
        assert_eq!(text(h2_get(&mut h2, &uri).await).await, "HTTP/2.0");
        // WebSocket by HTTP/1.1 upgrade and by extended CONNECT (h2c, prior knowledge).
        let url = format!("ws://{addr}/echo");
        echo_once(
            ClientBuilder::new(&url).http2(Http2::Never),
            Version::HTTP_11,
        )
        .await;
        echo_once(
            ClientBuilder::new(&url).http2(Http2::Require),
            Version::HTTP_2,
        )
        .await;
        assert_eq!(server.counts.ws_h1.load(Ordering::Relaxed), 1);
        assert_eq!(server.counts.ws_h2.load(Ordering::Relaxed), 1);
        stop(server).await;
    }

    #[tokio::test]
    async fn with_http2_off_only_http11_is_served() {
        let mut config = ServeConfig::default();
        config.http2 = false;
        let server = start(config).await;
        assert_eq!(h1_get(server.addr, "/version").await, "HTTP/1.1");
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake::<_, Empty<Bytes>>(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        let request = Request::get(format!("http://{}/version", server.addr))
            .body(Empty::new())
            .unwrap();
        let answer = soon(async {
            send.ready().await?;
            send.send_request(request).await
        })
        .await;
        assert!(answer.is_err(), "HTTP/2 served while off");
        let e = soon(
            ClientBuilder::new(format!("ws://{}/echo", server.addr))
                .http2(Http2::Require)
                .connect(),
        )
        .await
        .expect_err("no HTTP/2");
        assert!(!e.to_string().is_empty());
        assert_eq!(server.counts.ws_h2.load(Ordering::Relaxed), 0);
        stop(server).await;
    }

    #[tokio::test]
    async fn a_connection_that_never_completes_its_first_bytes_is_closed() {
        let mut config = ServeConfig::default();
        config.header_read_timeout = Some(Duration::from_millis(200));
        let server = start(config).await;
        // Half an HTTP/2 preface (it could still be one), then silence; and nothing at all.
        for start in [&b"PRI * HTTP/2.0\r\n"[..], b""] {
            let mut tcp = TcpStream::connect(server.addr).await.unwrap();
            tcp.write_all(start).await.unwrap();
            let mut rest = Vec::new();
            let n = soon(tcp.read_to_end(&mut rest)).await.unwrap_or(0);
            assert_eq!(n, 0, "closed without an answer");
        }
        stop(server).await;
    }

    #[tokio::test]
    async fn an_http2_client_that_stops_answering_pings_is_closed() {
        let mut config = ServeConfig::default();
        config.http2_keep_alive_interval = Some(Duration::from_millis(100));
        config.http2_keep_alive_timeout = Duration::from_millis(100);
        let server = start(config).await;
        // The client preface and an empty SETTINGS frame, then nothing: no SETTINGS ack, no
        // PING ack.
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        tcp.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
        let mut received = Vec::new();
        soon(tcp.read_to_end(&mut received)).await.unwrap();
        // The frame types the server sent (RFC 9113 section 4.1: 9-byte headers).
        let mut types = Vec::new();
        let mut at = 0;
        while at + 9 <= received.len() {
            let len = u32::from_be_bytes([0, received[at], received[at + 1], received[at + 2]]);
            types.push(received[at + 3]);
            at += 9 + len as usize;
        }
        const SETTINGS: u8 = 4;
        const PING: u8 = 6;
        const GOAWAY: u8 = 7;
        assert_eq!(types.first(), Some(&SETTINGS), "{types:?}");
        assert!(types.contains(&PING), "{types:?}");
        assert_eq!(types.last(), Some(&GOAWAY), "{types:?}");
        stop(server).await;
    }

    #[tokio::test]
    async fn sse_and_long_polling_share_an_h2c_connection() {
        let server = start(ServeConfig::default()).await;
        let addr = server.addr;
        let news = ChannelName::new("news").unwrap();
        let epoch = server.hub.head(&news).await.unwrap().epoch;
        let start = Cursor::start_of(epoch);
        let mut h2 = h2c_client(addr).await;
        // An event stream and a held poll, both open at once on the one connection.
        let sse = h2_get(&mut h2, &format!("http://{addr}/sse?channel=news")).await;
        assert_eq!(
            (sse.status(), sse.version()),
            (StatusCode::OK, Version::HTTP_2)
        );
        let poll = {
            let mut h2 = h2.clone();
            let uri = format!("http://{addr}/poll?channel=news&cursor={start}&client=c1");
            tokio::spawn(async move { h2_get(&mut h2, &uri).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!poll.is_finished(), "the poll is held until a message");
        server.hub.publish(&news, "over h2").await.unwrap();
        let poll = soon(poll).await.unwrap();
        assert_eq!(
            (poll.status(), poll.version()),
            (StatusCode::OK, Version::HTTP_2)
        );
        assert!(text(poll).await.contains("over h2"));
        let mut body = sse.into_body();
        let mut parser = sse_proto::Parser::new();
        let data = 'event: loop {
            let frame = soon(body.frame()).await.expect("open").unwrap();
            if let Ok(chunk) = frame.into_data() {
                parser.handle_input(&chunk).unwrap();
                while let Some(item) = parser.poll_item() {
                    if let sse_proto::Item::Event(e) = item {
                        break 'event e.data.to_string();
                    }
                }
            }
        };
        assert_eq!(data, "over h2");
        // Streams the client gives up are reset: the connection drains at once.
        drop(body);
        stop(server).await;
    }

    #[tokio::test]
    async fn shutdown_sends_goaway_lets_open_streams_finish_and_drops_the_rest_at_the_deadline() {
        let mut config = ServeConfig::default();
        config.drain_timeout = Duration::from_millis(800);
        let server = start(config).await;
        let addr = server.addr;
        let mut h2 = h2c_client(addr).await;
        let slow = {
            let mut h2 = h2.clone();
            let uri = format!("http://{addr}/slow");
            tokio::spawn(async move { text(h2_get(&mut h2, &uri).await).await })
        };
        let endless = h2_get(&mut h2, &format!("http://{addr}/endless")).await;
        let (mut ws, _) = soon(
            ClientBuilder::new(format!("ws://{addr}/echo"))
                .http2(Http2::Require)
                .connect(),
        )
        .await
        .unwrap();
        server.shutdown.cancel();
        // The stream in flight completes; the GOAWAY came before its response.
        assert_eq!(soon(slow).await.unwrap(), "slow but whole");
        let request = Request::get(format!("http://{addr}/version"))
            .body(Empty::new())
            .unwrap();
        let refused = soon(async {
            h2.ready().await?;
            h2.send_request(request).await
        })
        .await;
        assert!(refused.is_err(), "a new stream after GOAWAY was served");
        // The WebSocket, a stream opened before the GOAWAY, still works while draining.
        ws.send("draining").await.unwrap();
        assert_eq!(
            soon(ws.recv()).await.unwrap().unwrap(),
            Message::text("draining")
        );
        // At the deadline the endless stream and the WebSocket go with the connection.
        soon(server.task).await.unwrap();
        assert_eq!(server.counts.endless_dropped.load(Ordering::Relaxed), 1);
        let mut body = endless.into_body();
        soon(async { while let Some(Ok(_)) = body.frame().await {} }).await;
        assert!(!matches!(soon(ws.recv()).await, Some(Ok(_))));
        assert!(TcpListener::bind(addr).await.is_ok(), "the port is free");
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_an_http2_stream_costs_a_bounded_buffer() {
        let mut config = ServeConfig::default();
        config.http2_max_send_buffer = 64 * 1024;
        let server = start(config).await;
        let addr = server.addr;
        // The client's window for the stream: 64 KiB (connection window 16 MiB).
        let window = 64 * 1024;
        let mut h2 = h2_client(TcpStream::connect(addr).await.unwrap(), window as u32).await;
        let response = h2_get(&mut h2, &format!("http://{addr}/endless")).await;
        let produced = || server.counts.endless_bytes.load(Ordering::Relaxed);
        // Wait until the body is no longer polled.
        let last = settled(produced)
            .await
            .expect("the body never stopped being polled");
        let bound = window + 64 * 1024 + 2 * CHUNK;
        assert!(
            last <= bound,
            "{last} bytes produced for a client that reads nothing (bound {bound})"
        );
        // Reading releases the window and the body runs again: the bound was flow control.
        let mut body = response.into_body();
        let mut read = 0;
        while read < 1 << 20 {
            let frame = soon(body.frame()).await.expect("open").unwrap();
            read += frame.into_data().map_or(0, |d| d.len());
        }
        assert!(
            produced() > bound,
            "{} bytes produced after reading",
            produced()
        );
        drop(body);
        stop(server).await;
    }

    #[tokio::test]
    async fn a_websocket_client_over_http2_that_stops_reading_stalls_the_servers_send() {
        let server = start(ServeConfig::default()).await;
        let (ws, response) = soon(
            ClientBuilder::new(format!("ws://{}/flood", server.addr))
                .http2(Http2::Require)
                .connect(),
        )
        .await
        .unwrap();
        assert_eq!(response.version, Version::HTTP_2);
        // The client never reads. The server's sends fill the stream's window (hyper's
        // client gives 2 MiB), the HTTP/2 send buffer (64 KiB) and ws-proto's (256 KiB), then
        // `send` waits.
        let sent = settled(|| server.counts.flood_sent.load(Ordering::Relaxed))
            .await
            .expect("the server's sends never stopped");
        let bound = (2 << 20) + 64 * 1024 + FLOOD_SEND_BUFFER + 2 * 64 * 1024;
        assert!(
            sent <= bound,
            "{sent} bytes accepted for a client that reads nothing (bound {bound})"
        );
        assert!(sent >= 64 * 1024, "nothing sent: {sent}");
        drop(ws);
        stop(server).await;
    }

    #[cfg(feature = "tls")]
    mod tls {
        use super::*;
        use rt_tokio::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        use rt_tokio::tls::rustls::{ClientConfig, RootCertStore};

        /// A TLS `ServeConfig` with an rcgen certificate for `localhost`, and a client config
        /// trusting it.
        fn tls_config() -> (ServeConfig, ClientConfig) {
            let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
            let cert = CertificateDer::from(key.cert.der().to_vec());
            let private =
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
            let mut config = ServeConfig::default();
            config.tls = Some(Arc::new(
                rt_tokio::tls::server_config(vec![cert.clone()], private).unwrap(),
            ));
            let mut roots = RootCertStore::empty();
            roots.add(cert).unwrap();
            (config, rt_tokio::tls::client_config_with_roots(roots))
        }

        async fn tls_connect(
            addr: SocketAddr,
            client: &ClientConfig,
            alpn: &[&[u8]],
        ) -> tokio_rustls::client::TlsStream<TcpStream> {
            let mut client = client.clone();
            client.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            let tcp = TcpStream::connect(addr).await.unwrap();
            soon(
                tokio_rustls::TlsConnector::from(Arc::new(client))
                    .connect("localhost".try_into().unwrap(), tcp),
            )
            .await
            .unwrap()
        }

        #[tokio::test]
        async fn one_tls_listener_serves_h2_and_http11_by_alpn_and_websockets_over_both() {
            let (config, client) = tls_config();
            let server = start(config).await;
            let addr = server.addr;
            let uri = format!("https://localhost:{}/version", addr.port());
            // ALPN h2.
            let tls = tls_connect(addr, &client, &[b"h2", b"http/1.1"]).await;
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
            let mut h2 = h2_client(tls, 1 << 20).await;
            assert_eq!(text(h2_get(&mut h2, &uri).await).await, "HTTP/2.0");
            // ALPN http/1.1 on the same listener.
            let tls = tls_connect(addr, &client, &[b"http/1.1"]).await;
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
            let (mut h1, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .unwrap();
            tokio::spawn(conn);
            let request = Request::get("/version")
                .header("host", "localhost")
                .body(Full::new(Bytes::new()))
                .unwrap();
            assert_eq!(
                text(soon(h1.send_request(request)).await.unwrap()).await,
                "HTTP/1.1"
            );
            // WebSockets: an extended CONNECT on an h2 connection, an HTTP/1.1 upgrade.
            let client = Arc::new(client);
            let url = format!("wss://localhost:{}/echo", addr.port());
            for (mode, version) in [
                (Http2::Prefer, Version::HTTP_2),
                (Http2::Require, Version::HTTP_2),
                (Http2::Never, Version::HTTP_11),
            ] {
                let builder = ClientBuilder::new(&url)
                    .tls_config(client.clone())
                    .http2(mode);
                echo_once(builder, version).await;
            }
            assert_eq!(server.counts.ws_h2.load(Ordering::Relaxed), 2);
            assert_eq!(server.counts.ws_h1.load(Ordering::Relaxed), 1);
            stop(server).await;
        }

        #[tokio::test]
        async fn a_tls_handshake_that_never_comes_is_closed_at_its_timeout() {
            let (mut config, _) = tls_config();
            config.tls_handshake_timeout = Duration::from_millis(200);
            let server = start(config).await;
            let mut tcp = TcpStream::connect(server.addr).await.unwrap();
            let mut rest = Vec::new();
            assert_eq!(soon(tcp.read_to_end(&mut rest)).await.unwrap_or(0), 0);
            stop(server).await;
        }

        /// An HTTP/2 connection over TLS (ALPN h2) to `addr`, once its handshake is done.
        async fn tls_h2(addr: SocketAddr, client: &ClientConfig) -> H2Sender {
            h2_client(tls_connect(addr, client, &[b"h2"]).await, 1 << 20).await
        }

        /// What `/version` answers on `h2`, which is then dropped (the connection closes once
        /// no sender of it is left).
        async fn served(mut h2: H2Sender, addr: SocketAddr) -> String {
            let uri = format!("https://localhost:{}/version", addr.port());
            text(h2_get(&mut h2, &uri).await).await
        }

        #[tokio::test]
        async fn under_tls_max_connections_is_given_back_on_every_way_a_connection_ends() {
            let (mut config, client) = tls_config();
            config.max_connections = 1;
            config.tls_handshake_timeout = Duration::from_millis(300);
            let server = start(config).await;
            let addr = server.addr;
            let mut rest = Vec::new();

            // A failed handshake (bytes that are not a ClientHello) gives its place back.
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .unwrap();
            let _ = soon(tcp.read_to_end(&mut rest)).await;
            assert_eq!(served(tls_h2(addr, &client).await, addr).await, "HTTP/2.0");

            // So does a handshake that never comes, at its timeout.
            let mut silent = TcpStream::connect(addr).await.unwrap();
            assert_eq!(soon(silent.read_to_end(&mut rest)).await.unwrap_or(0), 0);
            assert_eq!(served(tls_h2(addr, &client).await, addr).await, "HTTP/2.0");

            // While one TLS connection is served, the next one's handshake waits; it is
            // served once the first one closes.
            let first = tls_h2(addr, &client).await;
            assert_eq!(served(first.clone(), addr).await, "HTTP/2.0");
            let second = tokio::spawn({
                let client = client.clone();
                async move { served(tls_h2(addr, &client).await, addr).await }
            });
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(
                !second.is_finished(),
                "a TLS handshake beyond max_connections"
            );
            drop(first);
            assert_eq!(soon(second).await.unwrap(), "HTTP/2.0");
            stop(server).await;
        }
    }
}
