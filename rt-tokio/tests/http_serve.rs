//! `http::serve_with` on 127.0.0.1: per-connection handlers, WebSocket upgrades, the
//! connection limit, and graceful shutdown (a response in flight finishes, a stream that
//! never ends is dropped at the drain deadline, the port is released).

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
