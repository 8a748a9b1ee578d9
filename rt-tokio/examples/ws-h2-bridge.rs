//! Carries WebSocket connections between TCP (an HTTP/1.1 upgrade) and HTTP/2 streams
//! (an RFC 8441 extended CONNECT over h2c), byte for byte, so that a test suite that speaks
//! WebSocket over TCP only can test a WebSocket over HTTP/2. `.ci/run` runs the conformance
//! suite through it in both roles.
//!
//! - `to-h2 LISTEN BACKEND`: for the server role. Each WebSocket handshake that arrives on
//!   LISTEN becomes an extended CONNECT to the h2c server BACKEND (`ws-echo --http`), all of
//!   them streams of one HTTP/2 connection; the client's handshake is answered with the
//!   backend's choice of extensions and subprotocol.
//! - `from-h2 LISTEN SUITE`: for the client role. LISTEN serves h2c ([`serve`]); each
//!   extended CONNECT that arrives becomes an HTTP/1.1 upgrade to SUITE's TCP WebSocket
//!   server (`ws-conformance --serve`), answered 200 with its choice.
//!
//! hyper does all of HTTP on both sides; after the handshakes, the bytes (frames, masks,
//! close) pass through untouched, so the suite sees exactly what the endpoint behind the
//! HTTP/2 stream sends.
//!
//! ```sh
//! cargo run --release -p rt-tokio --example ws-echo -- 127.0.0.1:9002 --http &
//! cargo run --release -p rt-tokio --example ws-h2-bridge -- to-h2 127.0.0.1:9001 127.0.0.1:9002
//! ```

use std::convert::Infallible;
use std::error::Error;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rt_tokio::http::{serve, text_response};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use ws_proto::handshake::{accept_key, random_key};

type Fail = Box<dyn Error + Send + Sync>;
type H2 = hyper::client::conn::http2::SendRequest<Empty<Bytes>>;

/// The headers a WebSocket handshake carries from one side to the other (the rest are the
/// form's own: `Upgrade`, `Connection`, the key and its accept, `:protocol`).
const CARRIED: [header::HeaderName; 3] = [
    header::SEC_WEBSOCKET_EXTENSIONS,
    header::SEC_WEBSOCKET_PROTOCOL,
    header::ORIGIN,
];

fn carry(from: &http::HeaderMap, to: &mut http::HeaderMap) {
    for name in CARRIED {
        for value in from.get_all(&name) {
            to.append(name.clone(), value.clone());
        }
    }
}

/// Copies bytes both ways between the two upgraded streams until both ends are done.
fn splice(a: hyper::upgrade::OnUpgrade, b: hyper::upgrade::OnUpgrade) {
    tokio::spawn(async move {
        let (Ok(a), Ok(b)) = (a.await, b.await) else {
            return;
        };
        let (mut a, mut b) = (TokioIo::new(a), TokioIo::new(b));
        if let Err(e) = tokio::io::copy_bidirectional(&mut a, &mut b).await {
            verbose(&format!("ws-h2-bridge: stream ended: {e}"));
        }
    });
}

/// Errors of single connections are expected in a conformance run (cases that fail a
/// connection on purpose): printed only with `WS_H2_BRIDGE_VERBOSE` set.
fn verbose(message: &str) {
    if std::env::var_os("WS_H2_BRIDGE_VERBOSE").is_some() {
        eprintln!("{message}");
    }
}

// ---- to-h2: TCP WebSocket in, extended CONNECT out ----

/// The shared HTTP/2 connection to the backend, opened again if it closed.
struct Backend {
    addr: String,
    connection: Mutex<Option<H2>>,
}

impl Backend {
    async fn sender(&self) -> Result<H2, Fail> {
        let mut connection = self.connection.lock().await;
        if let Some(send) = connection.as_ref().filter(|s| !s.is_closed()) {
            return Ok(send.clone());
        }
        let tcp = TcpStream::connect(&self.addr).await?;
        tcp.set_nodelay(true)?;
        let (mut send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake::<_, Empty<Bytes>>(TokioIo::new(tcp))
            .await?;
        tokio::spawn(conn);
        // One plain request first: its answer comes after the server's SETTINGS, which must
        // have enabled extended CONNECT before one is sent (RFC 8441 section 3).
        send.ready().await?;
        let probe = Request::get(format!("http://{}/", self.addr)).body(Empty::new())?;
        send.send_request(probe)
            .await?
            .into_body()
            .collect()
            .await?;
        *connection = Some(send.clone());
        Ok(send)
    }

    /// Answers the TCP client's upgrade request `req` with what the backend answered its
    /// extended CONNECT, and splices the two once both have switched.
    async fn handle(&self, mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Fail> {
        let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return Ok(text_response(
                StatusCode::BAD_REQUEST,
                "a WebSocket handshake is expected",
            ));
        };
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let mut connect = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri(format!("http://{}{path}", self.addr))
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .body(Empty::new())?;
        carry(req.headers(), connect.headers_mut());
        connect
            .extensions_mut()
            .insert(hyper::ext::Protocol::from_static("websocket"));
        let mut send = self.sender().await?;
        send.ready().await?;
        let mut answer = send.send_request(connect).await?;
        if answer.status() != StatusCode::OK {
            let status = answer.status();
            let body = answer.into_body().collect().await?.to_bytes();
            let mut refusal = Response::new(Full::new(body));
            *refusal.status_mut() = status;
            return Ok(refusal);
        }
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&accept_key(key.to_str()?))?,
        );
        carry(answer.headers(), headers);
        splice(
            hyper::upgrade::on(&mut req),
            hyper::upgrade::on(&mut answer),
        );
        Ok(response)
    }
}

async fn to_h2(listen: &str, backend: String) -> Result<(), Fail> {
    let listener = TcpListener::bind(listen).await?;
    eprintln!("ws-h2-bridge: ws://{listen} -> extended CONNECT on h2c {backend}");
    let backend = Arc::new(Backend {
        addr: backend,
        connection: Mutex::new(None),
    });
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let backend = backend.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let backend = backend.clone();
                async move {
                    let response = backend.handle(req).await.unwrap_or_else(|e| {
                        text_response(StatusCode::BAD_GATEWAY, &format!("backend: {e}"))
                    });
                    Ok::<_, Infallible>(response)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            if let Err(e) = conn.await {
                verbose(&format!("ws-h2-bridge: connection: {e}"));
            }
        });
    }
}

// ---- from-h2: extended CONNECT in, TCP WebSocket out ----

/// Answers the extended CONNECT `req` with what SUITE answered the HTTP/1.1 upgrade made of
/// it, and splices the two once both have switched.
async fn from_h2_handle(
    suite: &str,
    mut req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Fail> {
    let protocol = req.extensions().get::<hyper::ext::Protocol>();
    if req.method() != Method::CONNECT || protocol.map(|p| p.as_str()) != Some("websocket") {
        return Ok(text_response(
            StatusCode::BAD_REQUEST,
            "an extended CONNECT for a WebSocket is expected",
        ));
    }
    let key = base64::engine::general_purpose::STANDARD.encode(random_key()?);
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let tcp = TcpStream::connect(suite).await?;
    tcp.set_nodelay(true)?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(conn.with_upgrades());
    let mut upgrade = Request::get(path)
        .header(header::HOST, suite)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, &key)
        .body(Empty::<Bytes>::new())?;
    carry(req.headers(), upgrade.headers_mut());
    let mut answer = send.send_request(upgrade).await?;
    if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = answer.status();
        let body = answer.into_body().collect().await?.to_bytes();
        let mut refusal = Response::new(Full::new(body));
        *refusal.status_mut() = status;
        return Ok(refusal);
    }
    let accept = answer.headers().get(header::SEC_WEBSOCKET_ACCEPT);
    if accept.and_then(|a| a.to_str().ok()) != Some(accept_key(&key).as_str()) {
        return Ok(text_response(
            StatusCode::BAD_GATEWAY,
            "the WebSocket server's Sec-WebSocket-Accept is wrong",
        ));
    }
    let mut response = Response::new(Full::new(Bytes::new()));
    carry(answer.headers(), response.headers_mut());
    response.headers_mut().remove(header::ORIGIN);
    splice(
        hyper::upgrade::on(&mut req),
        hyper::upgrade::on(&mut answer),
    );
    Ok(response)
}

async fn from_h2(listen: &str, suite: String) -> Result<(), Fail> {
    let listener = TcpListener::bind(listen).await?;
    eprintln!("ws-h2-bridge: extended CONNECT on h2c {listen} -> ws://{suite}");
    let suite: Arc<str> = suite.into();
    let handler = move |req: Request<Incoming>| {
        let suite = suite.clone();
        async move {
            from_h2_handle(&suite, req)
                .await
                .unwrap_or_else(|e| text_response(StatusCode::BAD_GATEWAY, &format!("suite: {e}")))
        }
    };
    Ok(serve(listener, handler).await?)
}

fn usage() -> ! {
    eprintln!("usage: ws-h2-bridge to-h2 LISTEN BACKEND | ws-h2-bridge from-h2 LISTEN SUITE");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Fail> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, listen, other] = args.as_slice() else {
        usage()
    };
    match mode.as_str() {
        "to-h2" => to_h2(listen, other.clone()).await,
        "from-h2" => from_h2(listen, other.clone()).await,
        _ => usage(),
    }
}
