//! The client's HTTP/2 side (RFC 8441): when to use it ([`Http2`]), HTTP/2 connections shared
//! by origin ([`Http2Pool`]), and opening a connection that may turn out to be HTTP/2 or
//! HTTP/1.1. The extended CONNECT's rules are ws-proto's ([`ExtendedConnect`]).
//!
//! [`ExtendedConnect`]: ws_proto::handshake::ExtendedConnect

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::client::ConnectError;
use crate::net::{self, ClientStream, ConnectOptions, Target};

/// Whether a client carries its WebSocket over HTTP/2 (RFC 8441 extended CONNECT).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Http2 {
    /// HTTP/1.1 only.
    #[default]
    Never,
    /// HTTP/2 when TLS negotiates `h2` and the server enables extended CONNECT, HTTP/1.1
    /// otherwise. A `ws://` URL uses HTTP/1.1 (HTTP/2 without TLS needs prior knowledge).
    Prefer,
    /// HTTP/2 or [`ConnectError::Http2Unavailable`]; over `ws://`, HTTP/2 by prior knowledge
    /// (h2c).
    Require,
}

/// The HTTP/2 connections of clients, shared by origin (host, port, TLS): a WebSocket opened
/// through a pool that has a live connection to its origin is a new stream on it. Also
/// remembers the origins that answered HTTP/1.1 only. Cheap to clone (one shared table).
#[derive(Clone, Default)]
pub struct Http2Pool {
    origins: Arc<Mutex<HashMap<Target, Origin>>>,
}

impl std::fmt::Debug for Http2Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http2Pool")
            .field("connections", &self.connections())
            .finish()
    }
}

#[derive(Clone)]
pub(crate) enum Origin {
    /// A live HTTP/2 connection with extended CONNECT enabled.
    Http2(SendRequest<Empty<Bytes>>),
    /// The origin answered HTTP/1.1, or HTTP/2 without extended CONNECT.
    Http11Only,
}

impl Http2Pool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many live HTTP/2 connections the pool holds.
    pub fn connections(&self) -> usize {
        let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        origins.retain(|_, o| !matches!(o, Origin::Http2(s) if s.is_closed()));
        origins
            .values()
            .filter(|o| matches!(o, Origin::Http2(_)))
            .count()
    }

    /// Sends a plain request (an SSE stream, a long poll: any method but CONNECT) on the
    /// pool's live HTTP/2 connection to the origin of the request's URI, as one more stream
    /// beside the WebSockets there. Fails with [`ConnectError::Http2Unavailable`] if the
    /// pool has no connection to that origin (open a WebSocket through the pool first).
    pub async fn send_request(
        &self,
        request: http::Request<Empty<Bytes>>,
    ) -> Result<http::Response<hyper::body::Incoming>, ConnectError> {
        let target =
            net::target_of(request.uri()).map_err(|e| ConnectError::InvalidUrl(e.into()))?;
        let Some(Origin::Http2(mut send)) = self.get(&target) else {
            return Err(ConnectError::Http2Unavailable(
                "the pool has no HTTP/2 connection to this origin",
            ));
        };
        send.ready().await.map_err(ConnectError::Http2)?;
        send.send_request(request)
            .await
            .map_err(ConnectError::Http2)
    }

    pub(crate) fn get(&self, target: &Target) -> Option<Origin> {
        let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        match origins.get(target) {
            Some(Origin::Http2(s)) if s.is_closed() => {
                origins.remove(target);
                None
            }
            other => other.cloned(),
        }
    }

    pub(crate) fn insert(&self, target: Target, origin: Origin) {
        let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        origins.insert(target, origin);
    }
}

/// A new connection to `target`, which is HTTP/2 with extended CONNECT enabled or HTTP/1.1.
pub(crate) enum Established {
    /// Open WebSocket streams with it.
    Http2(SendRequest<Empty<Bytes>>),
    /// Do the HTTP/1.1 handshake on it.
    Http11(ClientStream),
}

/// Connects to `target` as `mode` allows: over TLS, ALPN offers `h2` and `http/1.1`; an HTTP/2 connection is used only once the server's SETTINGS enable extended
/// CONNECT (RFC 8441 section 3), waited for at most `settings_wait`. With [`Http2::Prefer`],
/// an HTTP/2 server without it costs a second connection, over HTTP/1.1.
pub(crate) async fn establish(
    target: &Target,
    options: &ConnectOptions,
    mode: Http2,
    settings_wait: Duration,
) -> Result<Established, ConnectError> {
    // Both, even when HTTP/2 is required: a server without h2 then answers the TLS
    // handshake, and the error says why instead of a TLS alert.
    let mut options = options.clone();
    options.alpn = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let stream = connect(target, &options).await?;
    let h2 = match (&stream, target.tls) {
        (_, true) => stream.alpn_protocol() == Some(b"h2"),
        // Without TLS there is no negotiation: prior knowledge when required.
        (_, false) => mode == Http2::Require,
    };
    if !h2 {
        return match mode {
            Http2::Require => Err(ConnectError::Http2Unavailable(
                "the server did not negotiate HTTP/2 (ALPN h2)",
            )),
            _ => Ok(Established::Http11(stream)),
        };
    }
    let (send, mut conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        // No stream before the server's SETTINGS: the first SETTINGS sets the real limit, so
        // a non-zero limit tells that they arrived.
        .initial_max_send_streams(0)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(ConnectError::Http2)?;
    // hyper processes the server's frames on a task of its own, which does not wake this
    // one: look at the settings every few milliseconds (one round trip is usually enough).
    let deadline = tokio::time::Instant::now() + settings_wait;
    let mut pause = Duration::from_micros(500);
    let enabled = loop {
        let done = poll_fn(|cx| match Pin::new(&mut conn).poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Err(ConnectError::Http2Unavailable(
                "the server closed the HTTP/2 connection",
            ))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(ConnectError::Http2(e))),
            Poll::Pending => Poll::Ready(Ok(())),
        });
        done.await?;
        if conn.is_extended_connect_protocol_enabled() {
            break true;
        }
        if conn.current_max_send_streams() != 0 || tokio::time::Instant::now() >= deadline {
            break false;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    if !enabled {
        return match mode {
            Http2::Require => Err(ConnectError::Http2Unavailable(
                "the HTTP/2 server does not enable extended CONNECT (RFC 8441)",
            )),
            _ => {
                options.alpn = vec![b"http/1.1".to_vec()];
                Ok(Established::Http11(connect(target, &options).await?))
            }
        };
    }
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("HTTP/2 connection ended: {e}");
        }
    });
    Ok(Established::Http2(send))
}

/// TCP (and TLS) to `target`, errors as the client reports them.
pub(crate) async fn connect(
    target: &Target,
    options: &ConnectOptions,
) -> Result<ClientStream, ConnectError> {
    net::connect(target, options)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => ConnectError::Timeout,
            _ => ConnectError::Connect(e),
        })
}
