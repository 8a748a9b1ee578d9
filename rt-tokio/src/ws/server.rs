//! The server: accept a WebSocket over any stream (ws-proto's [`ServerHandshake`] reads and
//! judges the request; a callback decides), and the choices shared with the hyper upgrade
//! and the axum extractor: subprotocol, permessage-deflate, allowed origins.

use std::fmt;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ws_proto::deflate::{server_accept, DeflateConfig, Negotiated};
use ws_proto::handshake::{
    write_rejection, Accept, HandshakeError, HandshakeLimits, Request, ServerHandshake,
};
use ws_proto::{Config, Connection};

use super::socket::WebSocket;
use crate::clock;

/// What a server accepts: the connection's config, handshake limits, permessage-deflate,
/// the subprotocols it speaks and the browser origins it allows.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The connections' limits, keepalive and timeouts (`mode` must be
    /// `MessageMode::Assembled`; `deflate` is set by the negotiation).
    pub config: Config,
    /// Limits on the request head.
    pub limits: HandshakeLimits,
    /// Accept permessage-deflate offers with these settings (`None`: decline them).
    pub deflate: Option<DeflateConfig>,
    /// The subprotocols spoken, in order of preference: the first the client offers is
    /// chosen (unless a callback decides otherwise).
    pub protocols: Vec<String>,
    /// `Some`: a request with an `Origin` header (every browser sends one) must name one of
    /// these (ASCII case-insensitive, e.g. `https://example.com`), else it gets 403; a
    /// request without `Origin` (not a browser) is not affected. `None`: any origin.
    pub allowed_origins: Option<Vec<String>>,
    /// Give up on a client that has not sent its whole request after this long.
    pub handshake_timeout: Option<Duration>,
}

impl Default for ServerOptions {
    /// ws-proto's default config and limits, no compression, no subprotocol, any origin, a
    /// 10 s handshake timeout.
    fn default() -> Self {
        ServerOptions {
            config: Config::default(),
            limits: HandshakeLimits::default(),
            deflate: None,
            protocols: Vec::new(),
            allowed_origins: None,
            handshake_timeout: Some(Duration::from_secs(10)),
        }
    }
}

impl ServerOptions {
    /// Speak `protocol` too (after the ones given before).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Accept permessage-deflate with these settings.
    pub fn deflate(mut self, deflate: DeflateConfig) -> Self {
        self.deflate = Some(deflate);
        self
    }

    /// Allow browsers from these origins only.
    pub fn allow_origins<I: IntoIterator<Item = T>, T: Into<String>>(mut self, origins: I) -> Self {
        self.allowed_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// The connections' config.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The first of our subprotocols the client offers.
    pub fn choose_protocol(&self, request: &Request) -> Option<String> {
        self.protocols
            .iter()
            .find(|p| request.protocols().iter().any(|o| o == *p))
            .cloned()
    }

    /// Whether the request's `Origin` (if any) is allowed.
    pub fn origin_allowed(&self, request: &Request) -> bool {
        match (&self.allowed_origins, request.origin()) {
            (Some(allowed), Some(origin)) => allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)),
            _ => true,
        }
    }
}

/// A server's answer to an upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Accept, with this subprotocol (one the client offered) and these extra headers.
    Accept {
        /// The subprotocol, if any.
        protocol: Option<String>,
        /// Extra response headers (e.g. `Set-Cookie`).
        headers: Vec<(String, String)>,
    },
    /// Refuse with `status` (200..=599), extra headers and a body.
    Reject {
        /// The status.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Bytes,
    },
}

impl Decision {
    /// Accept with the subprotocol the options choose and no extra header.
    pub fn accept(options: &ServerOptions, request: &Request) -> Decision {
        Decision::Accept {
            protocol: options.choose_protocol(request),
            headers: Vec::new(),
        }
    }

    /// Refuse with `status` and a plain-text body.
    pub fn reject(status: u16, body: impl Into<String>) -> Decision {
        Decision::Reject {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: Bytes::from(body.into()),
        }
    }
}

/// Why accepting failed. In every case but `Io` and `Timeout`, the client was answered.
#[derive(Debug)]
#[non_exhaustive]
pub enum AcceptError {
    /// The request is not a valid WebSocket upgrade (answered with its status: 400, 405,
    /// 426 or 431).
    Handshake(HandshakeError),
    /// The request's `Origin` is not allowed (answered 403).
    OriginNotAllowed(String),
    /// The decision was to refuse (answered as decided).
    Rejected(u16),
    /// The decision or the options cannot be written (an invalid header, a subprotocol not
    /// offered...): answered 500.
    Invalid(HandshakeError),
    /// The stream failed.
    Io(io::Error),
    /// The client did not send its request in time.
    Timeout,
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcceptError::Handshake(e) => write!(f, "not a valid WebSocket request: {e}"),
            AcceptError::OriginNotAllowed(o) => write!(f, "origin {o:?} is not allowed"),
            AcceptError::Rejected(s) => write!(f, "refused with {s}"),
            AcceptError::Invalid(e) => write!(f, "the answer could not be written: {e}"),
            AcceptError::Io(e) => write!(f, "the connection failed: {e}"),
            AcceptError::Timeout => f.write_str("the handshake timed out"),
        }
    }
}

impl std::error::Error for AcceptError {}

/// How to answer an accepted request: what the 101 carries, and the connection's config
/// (with permessage-deflate as agreed). Shared by the stream, hyper and axum servers.
pub(crate) struct Answer {
    protocol: Option<String>,
    extensions: Option<String>,
    headers: Vec<(String, String)>,
    pub(crate) config: Config,
}

impl Answer {
    /// Choose permessage-deflate (if the options accept it and the client offered it).
    pub(crate) fn new(
        request: &Request,
        options: &ServerOptions,
        protocol: Option<String>,
        headers: Vec<(String, String)>,
    ) -> Answer {
        let mut config = options.config.clone();
        let mut extensions = None;
        if let Some(d) = &options.deflate {
            if let Some((params, answer)) = server_accept(request.extensions(), d) {
                config.deflate = Some(Negotiated {
                    params,
                    config: d.clone(),
                });
                extensions = Some(answer);
            }
        }
        Answer {
            protocol,
            extensions,
            headers,
            config,
        }
    }

    /// Lend ws-proto's `Accept` for this answer.
    fn with_accept<T>(&self, f: impl FnOnce(&Accept<'_>) -> T) -> T {
        let extra: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        f(&Accept {
            protocol: self.protocol.as_deref(),
            extensions: self.extensions.as_deref(),
            headers: &extra,
        })
    }

    /// The headers of the 101 (for an HTTP server that writes the response).
    pub(crate) fn headers(
        &self,
        request: &Request,
    ) -> Result<Vec<(String, String)>, HandshakeError> {
        self.with_accept(|a| request.accept_headers(a))
    }

    /// The whole 101 response, as ws-proto writes it.
    fn write(&self, request: &Request, out: &mut Vec<u8>) -> Result<(), HandshakeError> {
        self.with_accept(|a| request.accept(a, out))
    }
}

/// Accept a WebSocket on `io` with `options` (the subprotocol they choose, their origin
/// rule). Returns the socket and the request (path, query, headers...).
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    options: &ServerOptions,
) -> Result<(WebSocket<S>, Request), AcceptError> {
    accept_with(io, options, |r| Decision::accept(options, r)).await
}

/// Accept a WebSocket on `io`, `decide` seeing the request (path, query, `Origin`,
/// headers, offered subprotocols) once the options' checks passed.
pub async fn accept_with<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    options: &ServerOptions,
    decide: impl FnOnce(&Request) -> Decision,
) -> Result<(WebSocket<S>, Request), AcceptError> {
    let work = accept_inner(io, options, decide);
    match options.handshake_timeout {
        None => work.await,
        Some(t) => tokio::time::timeout(t, work)
            .await
            .unwrap_or(Err(AcceptError::Timeout)),
    }
}

async fn accept_inner<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    options: &ServerOptions,
    decide: impl FnOnce(&Request) -> Decision,
) -> Result<(WebSocket<S>, Request), AcceptError> {
    let mut handshake = ServerHandshake::new(options.limits);
    let mut buf = vec![0u8; 8 * 1024];
    let request = loop {
        let n = io.read(&mut buf).await.map_err(AcceptError::Io)?;
        if n == 0 {
            return Err(AcceptError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the client closed the connection during the handshake",
            )));
        }
        match handshake.handle_input(&buf[..n]) {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(e) => {
                let mut out = Vec::new();
                e.write_response(&mut out);
                let _ = io.write_all(&out).await;
                let _ = io.shutdown().await;
                return Err(AcceptError::Handshake(e));
            }
        }
    };
    if options.config.mode != ws_proto::MessageMode::Assembled {
        reply(&mut io, 500, "the server's WebSocket config is invalid").await;
        return Err(AcceptError::Invalid(HandshakeError::InvalidStatus {
            status: 500,
        }));
    }
    if !options.origin_allowed(&request) {
        reply(&mut io, 403, "this origin may not open a WebSocket here").await;
        return Err(AcceptError::OriginNotAllowed(
            request.origin().unwrap_or_default().to_string(),
        ));
    }
    let (protocol, headers) = match decide(&request) {
        Decision::Accept { protocol, headers } => (protocol, headers),
        Decision::Reject {
            status,
            headers,
            body,
        } => {
            let extra: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let mut out = Vec::new();
            if let Err(e) = write_rejection(status, &extra, &body, &mut out) {
                reply(&mut io, 500, "the server's answer could not be written").await;
                return Err(AcceptError::Invalid(e));
            }
            let _ = io.write_all(&out).await;
            let _ = io.shutdown().await;
            return Err(AcceptError::Rejected(status));
        }
    };
    let answer = Answer::new(&request, options, protocol, headers);
    let mut out = Vec::new();
    if let Err(e) = answer.write(&request, &mut out) {
        reply(&mut io, 500, "the server's answer could not be written").await;
        return Err(AcceptError::Invalid(e));
    }
    io.write_all(&out).await.map_err(AcceptError::Io)?;
    io.flush().await.map_err(AcceptError::Io)?;
    let now = ws_proto::Instant::from_micros(clock::now_micros());
    let mut conn = Connection::server(now, answer.config);
    conn.input_buffer().extend_from_slice(request.leftover());
    Ok((WebSocket::from_connection(io, conn), request))
}

/// A short plain-text response, then the end of the stream.
async fn reply<S: AsyncWrite + Unpin>(io: &mut S, status: u16, text: &str) {
    let mut out = Vec::new();
    let body = format!("{text}\n");
    if write_rejection(
        status,
        &[
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Connection", "close"),
        ],
        body.as_bytes(),
        &mut out,
    )
    .is_ok()
    {
        let _ = io.write_all(&out).await;
    }
    let _ = io.shutdown().await;
}
