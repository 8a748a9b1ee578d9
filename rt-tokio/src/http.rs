//! Small hyper helpers shared by the SSE and long-poll halves: short error responses,
//! bounded request bodies, the query parameters of a URL, and accept loops serving HTTP/1.1
//! and HTTP/2 on one listener, plain or TLS ([`serve`], and [`serve_with`]: per-connection
//! handlers, a connection limit, graceful shutdown). hyper does all of HTTP; nothing here
//! reads or writes HTTP by hand (the only bytes looked at are the HTTP/2 preface's, to
//! bound the wait for them).

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
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

/// Serves HTTP/1.1 and HTTP/2 on `listener` forever, each request answered by `handler`:
/// [`serve_with`] with the default [`ServeConfig`], one handler shared by every connection
/// and no shutdown. For examples and tests; an application with its own server (axum,
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
/// | [`http2`](Self::http2) | `true` | (off: an HTTP/2 preface closes the connection, ALPN offers `http/1.1` only) |
/// | [`http2_max_concurrent_streams`](Self::http2_max_concurrent_streams) | 100 | the client is told to wait (SETTINGS); a stream beyond is refused |
/// | [`http2_max_send_buffer`](Self::http2_max_send_buffer) | 64 KiB | a response body is not polled until the client's window takes the buffered bytes |
/// | [`http2_stream_window`](Self::http2_stream_window) | 1 MiB | the client waits (flow control) until the handler reads |
/// | [`http2_connection_window`](Self::http2_connection_window) | 1 MiB | every stream of the connection waits (flow control) |
/// | [`http2_keep_alive_interval`](Self::http2_keep_alive_interval) | 20 s | a PING is sent after this long without frames |
/// | [`http2_keep_alive_timeout`](Self::http2_keep_alive_timeout) | 20 s | a PING unanswered this long closes the connection |
/// | `tls` (feature `tls`) | `None` | (plain TCP) |
/// | `tls_handshake_timeout` (feature `tls`) | 10 s | the connection is closed |
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServeConfig {
    /// Most connections served at once (upgraded HTTP/1.1 ones leave the count once handed
    /// over). Default 10,000.
    pub max_connections: usize,
    /// Close a connection whose first bytes (HTTP/1.1 or the HTTP/2 preface), or whose
    /// HTTP/1.1 request head, have not arrived after this long (`None`: never). Default 30 s.
    pub header_read_timeout: Option<Duration>,
    /// After shutdown, how long connections may finish their current responses (HTTP/2:
    /// every stream open when the GOAWAY went out). Default 10 s.
    pub drain_timeout: Duration,
    /// Serve HTTP/2 besides HTTP/1.1: by prior knowledge (h2c) on plain TCP, by ALPN `h2`
    /// over TLS, with extended CONNECT (RFC 8441) enabled so WebSockets can be streams.
    /// Default `true`.
    pub http2: bool,
    /// Most streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    /// Default 100.
    pub http2_max_concurrent_streams: u32,
    /// Bytes of response body one HTTP/2 stream buffers beyond what the client's flow-control
    /// window has taken; the body is not polled for more until they leave. With
    /// [`http2_max_concurrent_streams`](Self::http2_max_concurrent_streams) this bounds
    /// what a client that stops reading costs. Default 64 KiB.
    pub http2_max_send_buffer: usize,
    /// The flow-control window the server gives each HTTP/2 stream: bytes a client may send
    /// on a stream before the handler reads them. Default 1 MiB.
    pub http2_stream_window: u32,
    /// The flow-control window the server gives each HTTP/2 connection, for all its streams
    /// together. Default 1 MiB.
    pub http2_connection_window: u32,
    /// Send an HTTP/2 PING after this long without frames from the client (`None`: never).
    /// With [`http2_keep_alive_timeout`](Self::http2_keep_alive_timeout) it bounds how long
    /// an idle connection to a vanished client holds a slot. Default 20 s.
    pub http2_keep_alive_interval: Option<Duration>,
    /// Close an HTTP/2 connection whose PING is not answered in this long. Default 20 s.
    pub http2_keep_alive_timeout: Duration,
    /// Serve TLS with this rustls config ([`tls::server_config`](crate::tls::server_config)
    /// builds one); `None`: plain TCP. An empty `alpn_protocols` is set to `h2`, `http/1.1`
    /// (`http/1.1` alone without [`http2`](Self::http2)); a non-empty one is kept. Default
    /// `None`.
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// Close a connection whose TLS handshake has not finished after this long. Default 10 s.
    #[cfg(feature = "tls")]
    pub tls_handshake_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_connections: 10_000,
            header_read_timeout: Some(Duration::from_secs(30)),
            drain_timeout: Duration::from_secs(10),
            http2: true,
            http2_max_concurrent_streams: 100,
            http2_max_send_buffer: 64 * 1024,
            http2_stream_window: 1024 * 1024,
            http2_connection_window: 1024 * 1024,
            http2_keep_alive_interval: Some(Duration::from_secs(20)),
            http2_keep_alive_timeout: Duration::from_secs(20),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl ServeConfig {
    /// hyper's HTTP/1.1 builder with these knobs.
    fn http1_builder(&self) -> http1::Builder {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        builder
    }

    /// hyper's HTTP/2 builder with these knobs, if HTTP/2 is on.
    fn http2_builder(&self) -> Option<http2::Builder<TokioExecutor>> {
        if !self.http2 {
            return None;
        }
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .enable_connect_protocol()
            .max_concurrent_streams(self.http2_max_concurrent_streams)
            .max_send_buf_size(self.http2_max_send_buffer)
            .initial_stream_window_size(self.http2_stream_window)
            .initial_connection_window_size(self.http2_connection_window)
            .keep_alive_interval(self.http2_keep_alive_interval)
            .keep_alive_timeout(self.http2_keep_alive_timeout);
        Some(builder)
    }

    /// The TLS acceptor, ALPN filled in as documented on [`ServeConfig::tls`].
    #[cfg(feature = "tls")]
    fn acceptor(&self) -> Option<tokio_rustls::TlsAcceptor> {
        let mut tls = (**self.tls.as_ref()?).clone();
        if tls.alpn_protocols.is_empty() {
            if self.http2 {
                tls.alpn_protocols.push(b"h2".to_vec());
            }
            tls.alpn_protocols.push(b"http/1.1".to_vec());
        }
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls)))
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
    /// Whether the connection is (to be) TLS: the handler is made before the TLS handshake.
    pub tls: bool,
}

/// Serves HTTP/1.1 and HTTP/2 on `listener` until `shutdown` is cancelled, then returns once
/// every connection is done or [`ServeConfig::drain_timeout`] has passed.
///
/// - `make_handler` builds each connection's handler, so per-connection state (a rate
///   limit, the peer address) lives in it; the handler answers that connection's requests
///   (over HTTP/2, several at once: one per stream).
/// - Plain TCP or TLS (`ServeConfig::tls`, feature `tls`). HTTP/2 ([`ServeConfig::http2`])
///   is told from HTTP/1.1 by its connection preface, which a client sends by prior
///   knowledge (h2c) or after ALPN chose `h2`; each connection is then hyper's HTTP/1.1 or
///   HTTP/2 server connection.
/// - WebSockets work from a handler with [`ws::upgrade`](crate::ws): an HTTP/1.1 upgrade
///   (the connection is the application's from then on, it watches `shutdown` itself) or an
///   HTTP/2 extended CONNECT (RFC 8441, enabled in the SETTINGS; the WebSocket is a stream of
///   the connection and ends with it).
/// - On shutdown, accepting stops (the listener is closed) and each connection closes after
///   its current responses (hyper's graceful shutdown: HTTP/1.1 closes after the response
///   in flight, HTTP/2 sends GOAWAY and lets the open streams finish); what does not end in
///   time (an event stream, a WebSocket over HTTP/2) is dropped with its connection at the
///   drain deadline.
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
    let http1 = Arc::new(config.http1_builder());
    let http2 = config.http2_builder().map(Arc::new);
    #[cfg(feature = "tls")]
    let acceptor = config.acceptor();
    #[cfg(feature = "tls")]
    let tls = acceptor.is_some();
    #[cfg(not(feature = "tls"))]
    let tls = false;
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
        let handler = make_handler(ConnectionInfo { peer, local, tls });
        let connection = Connection {
            http1: http1.clone(),
            http2: http2.clone(),
            header_read_timeout: config.header_read_timeout,
            shutdown: shutdown.clone(),
            peer,
            _slot: slot,
        };
        // Each task is the connection's own future, not one wrapped in another: a task
        // keeps room for the largest state it can be in, and a wrapper would keep what it
        // moved into the inner future a second time.
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &acceptor {
            let timeout = config.tls_handshake_timeout;
            connections.spawn(connection.serve_tls(acceptor.clone(), timeout, tcp, handler));
            continue;
        }
        connections.spawn(connection.serve(tcp, handler));
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

/// What one connection's task needs of [`serve_with`].
struct Connection {
    http1: Arc<http1::Builder>,
    http2: Option<Arc<http2::Builder<TokioExecutor>>>,
    header_read_timeout: Option<Duration>,
    shutdown: CancellationToken,
    peer: SocketAddr,
    /// The connection's place under `max_connections`, given back when it ends.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    /// [`serve`](Self::serve) after a TLS handshake on `tcp`, within `timeout`.
    #[cfg(feature = "tls")]
    async fn serve_tls<F, Fut, B>(
        self,
        acceptor: tokio_rustls::TlsAcceptor,
        timeout: Duration,
        tcp: tokio::net::TcpStream,
        handler: F,
    ) where
        F: Fn(Request<hyper::body::Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<B>> + Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let peer = self.peer;
        // Boxed, the handshake and the TLS connection, and the stream taken in a block of
        // its own: inline, the task would keep the handshake's room (and the stream's
        // beside the connection's) for the connection's whole life.
        let handshake = Box::pin(tokio::time::timeout(timeout, acceptor.accept(tcp)));
        let serve = {
            let stream = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                stream = handshake => stream,
            };
            match stream {
                Ok(Ok(stream)) => Box::pin(self.serve(stream, handler)),
                Ok(Err(e)) => return tracing::debug!(%peer, "http: TLS handshake failed: {e}"),
                Err(_) => return tracing::debug!(%peer, "http: TLS handshake timed out"),
            }
        };
        serve.await
    }

    /// Serves HTTP/1.1 or HTTP/2 on `io` (TCP, or TLS after its handshake) until it closes,
    /// or gracefully once `shutdown` is cancelled.
    async fn serve<I, F, Fut, B>(self, mut io: I, handler: F)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        F: Fn(Request<hyper::body::Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<B>> + Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let peer = self.peer;
        // Which protocol the client speaks shows in its first 24 bytes (the HTTP/2
        // preface, or not): read them here, within the header timeout, then hand them back.
        // Boxed: the timer and the read are held until the first bytes are in, not for the
        // connection's life (its task keeps room for the largest state it can be in).
        let start = Box::pin(async {
            tokio::select! {
                _ = self.shutdown.cancelled() => None,
                start = optional_timeout(self.header_read_timeout, read_start(&mut io)) => Some(start),
            }
        })
        .await;
        let start = match start {
            None => return,
            Some(Some(Ok(start))) => start,
            Some(Some(Err(e))) => {
                tracing::debug!(%peer, "http: reading the first bytes failed: {e}");
                return;
            }
            Some(None) => {
                tracing::debug!(%peer, "http: no request within the header timeout");
                return;
            }
        };
        let h2 = start.starts_with(H2_PREFACE);
        let service = hyper::service::service_fn(move |req| {
            // Boxed: hyper keeps room for one service future for as long as the connection
            // lives; a streaming response's handler state is freed once its head is out
            // instead (a few KiB per idle SSE connection).
            let fut = Box::pin(handler(req));
            async move { Ok::<_, Infallible>(fut.await) }
        });
        let io = TokioIo::new(Rewound { start, io });
        // Boxed, so an idle connection's task holds only the protocol it speaks.
        let result = if !h2 {
            let conn = Box::pin(self.http1.serve_connection(io, service).with_upgrades());
            until_shutdown(conn, &self.shutdown, |conn| conn.graceful_shutdown()).await
        } else if let Some(http2) = &self.http2 {
            let conn = Box::pin(http2.serve_connection(io, service));
            until_shutdown(conn, &self.shutdown, |conn| conn.graceful_shutdown()).await
        } else {
            tracing::debug!(%peer, "http: HTTP/2 preface, but HTTP/2 is off");
            return;
        };
        if let Err(e) = result {
            tracing::debug!(%peer, "http connection ended: {e}");
        }
    }
}

/// Drives `conn` to its end; once `shutdown` is cancelled, `graceful` starts its graceful
/// shutdown and it is driven on until that ends.
async fn until_shutdown<C: Future>(
    mut conn: Pin<Box<C>>,
    shutdown: &CancellationToken,
    graceful: impl FnOnce(Pin<&mut C>),
) -> C::Output {
    tokio::select! {
        result = conn.as_mut() => result,
        _ = shutdown.cancelled() => {
            graceful(conn.as_mut());
            conn.await
        }
    }
}

/// The HTTP/2 connection preface (RFC 9113 section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads from `io` until what arrived is no longer a prefix of [`H2_PREFACE`] (HTTP/1.1),
/// holds all of it (HTTP/2), or the stream ended; returns the bytes read.
async fn read_start<I: AsyncRead + Unpin>(io: &mut I) -> io::Result<Bytes> {
    let mut start = BytesMut::with_capacity(64);
    loop {
        if io.read_buf(&mut start).await? == 0
            || start.len() >= H2_PREFACE.len()
            || !H2_PREFACE.starts_with(&start)
        {
            return Ok(start.freeze());
        }
    }
}

async fn optional_timeout<T>(limit: Option<Duration>, f: impl Future<Output = T>) -> Option<T> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, f).await.ok(),
        None => Some(f.await),
    }
}

/// A stream whose first bytes were read already: they are read again first, with what
/// else has arrived, so hyper sees a request head that came in one segment in one read
/// (a head read in two parts makes hyper's HTTP/1.1 read buffer grow from 8 to 16 KiB).
struct Rewound<I> {
    start: Bytes,
    io: I,
}

impl<I: AsyncRead + Unpin> AsyncRead for Rewound<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.start.is_empty() {
            let n = self.start.len().min(buf.remaining());
            buf.put_slice(&self.start.split_to(n));
            if self.start.is_empty() {
                self.start = Bytes::new(); // frees the first read's buffer
                if buf.remaining() > 0 {
                    // Pending leaves the waker registered and nothing added; an error
                    // shows again on the next read (or as its end of stream).
                    let _ = Pin::new(&mut self.io).poll_read(cx, buf);
                }
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Rewound<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
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

    const HEAD: &[u8] = b"GET /events HTTP/1.1\r\nhost: a\r\n\r\n";

    #[tokio::test]
    async fn the_first_bytes_are_read_up_to_the_point_they_differ_from_the_preface() {
        use tokio::io::AsyncWriteExt;
        /// A read that waits when it should not fails the test instead of hanging it.
        async fn within<F: Future>(f: F) -> F::Output {
            tokio::time::timeout(Duration::from_secs(10), f)
                .await
                .expect("read_start returned")
        }

        // The preface in three pieces, each read on its own: read on until it is whole.
        let (mut client, mut server) = tokio::io::duplex(1024);
        let h2 = tokio::spawn(async move { read_start(&mut server).await });
        for piece in [&b"P"[..], b"RI * HTTP/2.0\r\n", b"\r\nSM\r\n\r\nrest"] {
            tokio::task::yield_now().await;
            client.write_all(piece).await.unwrap();
        }
        let h2 = within(h2).await.unwrap().unwrap();
        assert!(h2.starts_with(H2_PREFACE), "{h2:?}");

        // Not a prefix of the preface after two bytes: returned without waiting for more.
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(b"PO").await.unwrap();
        let start = within(read_start(&mut server)).await.unwrap();
        assert_eq!(&start[..], b"PO");

        // Still a prefix ("PR"): read on until it is not.
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(b"PR").await.unwrap();
        let start = tokio::spawn(async move { read_start(&mut server).await });
        tokio::task::yield_now().await;
        client.write_all(b"OPFIND / HTTP/1.1\r\n").await.unwrap();
        let start = within(start).await.unwrap().unwrap();
        assert_eq!(&start[..], b"PROPFIND / HTTP/1.1\r\n");

        // The stream ends before any byte.
        let (client, mut server) = tokio::io::duplex(1024);
        drop(client);
        assert!(within(read_start(&mut server)).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_first_bytes_come_back_with_what_else_arrived_in_one_read() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, server) = tokio::io::duplex(1024);
        client.write_all(&HEAD[5..]).await.unwrap();
        let mut io = Rewound {
            start: Bytes::from_static(&HEAD[..5]),
            io: server,
        };
        let mut buf = vec![0; 8192];
        let n = io.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], HEAD, "one read holds the whole head");
        assert!(io.start.is_empty());

        // Nothing else has arrived: the first bytes alone, and the rest on a later read.
        let (mut client, server) = tokio::io::duplex(1024);
        let mut io = Rewound {
            start: Bytes::from_static(&HEAD[..5]),
            io: server,
        };
        let n = io.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &HEAD[..5]);
        client.write_all(&HEAD[5..]).await.unwrap();
        drop(client);
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, &HEAD[5..]);
    }

    #[tokio::test]
    async fn first_bytes_larger_than_the_read_buffer_come_back_in_order() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, server) = tokio::io::duplex(1024);
        client.write_all(&HEAD[20..]).await.unwrap();
        drop(client);
        let mut io = Rewound {
            start: Bytes::from_static(&HEAD[..20]),
            io: server,
        };
        let mut got = Vec::new();
        let mut buf = [0; 6];
        loop {
            let n = io.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, HEAD);
    }
}
