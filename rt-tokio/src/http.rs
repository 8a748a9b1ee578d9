//! Small hyper helpers shared by the SSE and long-poll halves: short error responses,
//! bounded request bodies, the query parameters of a URL, and HTTP/1.1 accept loops
//! ([`serve`], and [`serve_with`]: per-connection handlers, a connection limit, graceful
//! shutdown). hyper does all of HTTP; nothing here reads or writes HTTP by hand.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
pub use tokio_util::sync::CancellationToken;

/// A response with a short plain-text body saying what was wrong.
pub fn text_response(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Why a request body could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum BodyError {
    /// Longer than the limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The connection failed while reading.
    Read(Box<dyn std::error::Error + Send + Sync>),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            BodyError::Read(e) => write!(f, "reading the body failed: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// Reads a whole body, refusing more than `limit` bytes (without buffering past it).
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Err(e) => Err(BodyError::Read(e)),
    }
}

/// The value of query parameter `name` in `query` (first occurrence), percent-decoded as
/// `application/x-www-form-urlencoded` (a browser's `URLSearchParams` writes `7:3` as
/// `7%3A3`).
#[cfg_attr(not(feature = "sse"), allow(dead_code))]
pub(crate) fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<Cow<'q, str>> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Serves HTTP/1.1 on `listener` forever, each request answered by `handler`: [`serve_with`]
/// with the default [`ServeConfig`], one handler shared by every connection and no
/// shutdown. For examples and tests; an application with its own server (axum,
/// hyper-util) mounts the services directly.
pub async fn serve<F, Fut, B>(listener: TcpListener, handler: F) -> io::Result<()>
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_with(
        listener,
        ServeConfig::default(),
        CancellationToken::new(),
        move |_| handler.clone(),
    )
    .await;
    Ok(())
}

/// Knobs of [`serve_with`].
///
/// | knob | default | when hit |
/// | --- | --- | --- |
/// | [`max_connections`](Self::max_connections) | 10,000 | accepting waits until a connection ends |
/// | [`header_read_timeout`](Self::header_read_timeout) | 30 s | the connection is closed |
/// | [`drain_timeout`](Self::drain_timeout) | 10 s | connections still open at shutdown are dropped |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// Most connections served at once (upgraded ones leave the count once handed over).
    /// Default 10,000.
    pub max_connections: usize,
    /// Close a connection whose request head has not arrived after this long (`None`:
    /// never). Default 30 s.
    pub header_read_timeout: Option<Duration>,
    /// After shutdown, how long connections may finish their current response. Default 10 s.
    pub drain_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_connections: 10_000,
            header_read_timeout: Some(Duration::from_secs(30)),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// The connection a handler is made for ([`serve_with`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The address it connected to.
    pub local: SocketAddr,
}

/// Serves HTTP/1.1 on `listener` until `shutdown` is cancelled, then returns once every
/// connection is done or [`ServeConfig::drain_timeout`] has passed.
///
/// - `make_handler` builds each connection's handler, so per-connection state (a rate
///   limit, the peer address) lives in it; the handler answers that connection's requests.
/// - Upgrades are enabled: [`ws::upgrade`](crate::ws) works from a handler. An upgraded
///   connection is the application's from then on (it watches `shutdown` itself).
/// - On shutdown, accepting stops (the listener is closed) and each connection closes after
///   its current response (hyper's graceful shutdown); a response that does not end in
///   time (a stream) is dropped with its connection at the drain deadline.
/// - Accept errors (a reset before accept, out of file descriptors) are logged and retried
///   after a short pause; they never end the loop.
pub async fn serve_with<M, F, Fut, B>(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: CancellationToken,
    mut make_handler: M,
) where
    M: FnMut(ConnectionInfo) -> F,
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        let slot = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
        };
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        while connections.try_join_next().is_some() {}
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!("http: accept failed: {e}");
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                ) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().unwrap_or(peer);
        let handler = make_handler(ConnectionInfo { peer, local });
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                // Boxed: hyper keeps room for one service future for as long as the
                // connection lives; a streaming response's handler state is freed once its
                // head is out instead (a few KiB per idle SSE connection).
                let fut = Box::pin(handler(req));
                async move { Ok::<_, Infallible>(fut.await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(config.header_read_timeout);
            let conn = builder
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, "http connection ended: {e}");
            }
        });
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(config.drain_timeout, drain)
        .await
        .is_err()
    {
        tracing::debug!(
            open = connections.len(),
            "http: drain timeout, dropping connections"
        );
        connections.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        let q = Some("channel=chat&cursor=7:3&flag&channel=other&enc=room%3A1%2Fb");
        let param = |name| query_param(q, name);
        assert_eq!(param("channel").as_deref(), Some("chat"));
        assert_eq!(param("cursor").as_deref(), Some("7:3"));
        assert_eq!(param("flag").as_deref(), Some(""));
        assert_eq!(param("enc").as_deref(), Some("room:1/b"));
        assert_eq!(param("nope"), None);
        assert_eq!(query_param(None, "channel"), None);
    }

    #[tokio::test]
    async fn bodies_are_read_within_their_limit() {
        let ok = read_body(Full::new(Bytes::from_static(b"12345")), 5).await;
        assert_eq!(ok.unwrap(), Bytes::from_static(b"12345"));
        let big = read_body(Full::new(Bytes::from_static(b"123456")), 5).await;
        assert!(matches!(big, Err(BodyError::TooLarge { limit: 5 })));
    }
}
