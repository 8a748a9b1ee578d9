//! The client: connect to a `ws://` or `wss://` URL and do the opening handshake (ws-proto's
//! [`ClientHandshake`] over the stream, or its [`ExtendedConnect`] on a stream of an HTTP/2
//! connection), with the OS's random source for the key and the masking keys.

use std::fmt;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ws_proto::deflate::{client_accept, client_offer, DeflateConfig, Negotiated};
use ws_proto::handshake::{
    random_key, Accepted, ClientHandshake, ClientOutcome, ClientRequest, ExtendedConnect,
    HandshakeError, HandshakeLimits, Headers, EXTENDED_CONNECT_PROTOCOL,
};
use ws_proto::{Config, Connection, OsMasks};

use super::h2::{self, Established, Http2, Http2Pool, Origin};
use super::socket::WebSocket;
use crate::clock;
use crate::net::{self, ClientStream, ConnectOptions, Target};

/// Connect to `url` (`ws://` or `wss://`) with the default options.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let (mut ws, _response) = rt_tokio::ws::connect("ws://127.0.0.1:9001/chat").await?;
/// ws.send("hello").await?;
/// # Ok(()) }
/// ```
pub async fn connect(url: &str) -> Result<(WebSocket<ClientStream>, Response), ConnectError> {
    ClientBuilder::new(url).connect().await
}

/// The server's answer that accepted the WebSocket (101, or 200 over HTTP/2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `HTTP_11`, or `HTTP_2` for a stream of an HTTP/2 connection.
    pub version: http::Version,
    /// Every header of the response, in order.
    pub headers: Vec<(String, String)>,
    /// The subprotocol the server chose (one we offered), if any.
    pub protocol: Option<String>,
    /// permessage-deflate as agreed, if the server accepted our offer.
    pub deflate: Option<ws_proto::deflate::DeflateParams>,
}

/// Why connecting failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a `ws://` or `wss://` URL with a host.
    InvalidUrl(String),
    /// The TCP connection (or TLS) could not be made.
    Connect(io::Error),
    /// Connecting or the handshake took longer than its timeout.
    Timeout,
    /// The stream failed during the handshake.
    Io(io::Error),
    /// The request could not be built, or the server's 101 answer is invalid (wrong
    /// `Sec-WebSocket-Accept`, a subprotocol we did not offer...).
    Handshake(HandshakeError),
    /// The server answered permessage-deflate parameters we cannot accept.
    Deflate(ws_proto::deflate::NegotiationError),
    /// HTTP/2 was required ([`Http2::Require`]) and the server does not offer it, or does not
    /// enable extended CONNECT.
    Http2Unavailable(&'static str),
    /// The HTTP/2 connection or stream failed.
    Http2(hyper::Error),
    /// The server answered with another status than 101 (a redirect, 401, 403...): its
    /// status, headers and the start of its body (at most the builder's
    /// [`max_error_body`](ClientBuilder::max_error_body) bytes).
    Rejected {
        /// The status.
        status: u16,
        /// The headers, in order.
        headers: Vec<(String, String)>,
        /// The body, or its first bytes.
        body: Bytes,
    },
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::InvalidUrl(why) => write!(f, "invalid WebSocket URL: {why}"),
            ConnectError::Connect(e) => write!(f, "could not connect: {e}"),
            ConnectError::Timeout => f.write_str("connecting timed out"),
            ConnectError::Io(e) => write!(f, "the connection failed during the handshake: {e}"),
            ConnectError::Handshake(e) => write!(f, "WebSocket handshake failed: {e}"),
            ConnectError::Deflate(e) => write!(f, "permessage-deflate negotiation failed: {e}"),
            ConnectError::Http2Unavailable(why) => write!(f, "no WebSocket over HTTP/2: {why}"),
            ConnectError::Http2(e) => write!(f, "the HTTP/2 connection failed: {e}"),
            ConnectError::Rejected { status, .. } => {
                write!(f, "the server refused the WebSocket upgrade with {status}")
            }
        }
    }
}

impl std::error::Error for ConnectError {}

/// Options for a client connection: `ClientBuilder::new(url)`, setters, then
/// [`connect`](Self::connect) (or [`handshake`](Self::handshake) over a stream of your own).
#[derive(Clone)]
pub struct ClientBuilder {
    url: String,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    config: Config,
    deflate: Option<DeflateConfig>,
    options: ConnectOptions,
    handshake_timeout: Option<Duration>,
    limits: HandshakeLimits,
    max_error_body: usize,
    http2: Http2,
    pool: Option<Http2Pool>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field("protocols", &self.protocols)
            .field("config", &self.config)
            .field("http2", &self.http2)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A connection to `url`: no subprotocol, no extra header, ws-proto's default `Config`,
    /// no compression, HTTP/1.1, a 10 s connect timeout and a 10 s handshake timeout.
    // (`ConnectOptions` has a `tls` field with the `tls` feature only.)
    #[allow(clippy::needless_update)]
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            url: url.into(),
            protocols: Vec::new(),
            headers: Vec::new(),
            config: Config::default(),
            deflate: None,
            options: ConnectOptions {
                timeout: Some(Duration::from_secs(10)),
                ..ConnectOptions::default()
            },
            handshake_timeout: Some(Duration::from_secs(10)),
            limits: HandshakeLimits::default(),
            max_error_body: 64 * 1024,
            http2: Http2::Never,
            pool: None,
        }
    }

    /// Whether to carry the WebSocket over HTTP/2 (RFC 8441). Default [`Http2::Never`].
    pub fn http2(mut self, mode: Http2) -> Self {
        self.http2 = mode;
        self
    }

    /// Share HTTP/2 connections through `pool`: a live connection to the URL's origin takes
    /// the WebSocket as a new stream, and a new one is kept there for the next. Without a pool
    /// every HTTP/2 WebSocket has a connection of its own.
    pub fn pool(mut self, pool: Http2Pool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Offer `protocol` (in the order of the calls: the first is preferred).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Send an extra header (`Authorization`, `Cookie`, `Origin`...).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The connection's limits, keepalive and timeouts (its `mode` must be
    /// `MessageMode::Assembled`; its `deflate` is set by the negotiation).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Offer permessage-deflate with these settings.
    pub fn deflate(mut self, deflate: DeflateConfig) -> Self {
        self.deflate = Some(deflate);
        self
    }

    /// Give up connecting (TCP and TLS) after this long (`None`: never).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Give up on the opening handshake after this long (`None`: never).
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The rustls config for `wss://` (default: the Mozilla roots, from
    /// [`crate::tls::client_config`]).
    #[cfg(feature = "tls")]
    pub fn tls_config(
        mut self,
        config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    ) -> Self {
        self.options.tls = Some(config);
        self
    }

    /// Limits on the server's response head.
    pub fn handshake_limits(mut self, limits: HandshakeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The most bytes of a rejection's body kept in [`ConnectError::Rejected`]. Default
    /// 64 KiB.
    pub fn max_error_body(mut self, bytes: usize) -> Self {
        self.max_error_body = bytes;
        self
    }

    /// Connect (TCP, then TLS for `wss://`) and do the opening handshake; over HTTP/2 as
    /// [`http2`](Self::http2) and [`pool`](Self::pool) say.
    pub async fn connect(self) -> Result<(WebSocket<ClientStream>, Response), ConnectError> {
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e: http::uri::InvalidUri| ConnectError::InvalidUrl(e.to_string()))?;
        match uri.scheme_str() {
            Some("ws") | Some("wss") => {}
            _ => {
                return Err(ConnectError::InvalidUrl(
                    "the scheme is not ws or wss".into(),
                ))
            }
        }
        let target = net::target_of(&uri).map_err(|e| ConnectError::InvalidUrl(e.into()))?;
        if self.http2 == Http2::Never || (self.http2 == Http2::Prefer && !target.tls) {
            let io = h2::connect(&target, &self.options).await?;
            return self.handshake(io).await;
        }
        let known = self.pool.as_ref().and_then(|p| p.get(&target));
        match known {
            Some(Origin::Http2(send)) => return self.over_http2(send, &target).await,
            Some(Origin::Http11Only) if self.http2 == Http2::Prefer => {
                let io = h2::connect(&target, &self.options).await?;
                return self.handshake(io).await;
            }
            _ => {}
        }
        let wait = self.handshake_timeout.unwrap_or(Duration::from_secs(10));
        match h2::establish(&target, &self.options, self.http2, wait).await? {
            Established::Http2(send) => {
                if let Some(pool) = &self.pool {
                    pool.insert(target.clone(), Origin::Http2(send.clone()));
                }
                self.over_http2(send, &target).await
            }
            Established::Http11(io) => {
                if let Some(pool) = &self.pool {
                    pool.insert(target, Origin::Http11Only);
                }
                self.handshake(io).await
            }
        }
    }

    /// The request ws-proto's handshakes are built from: the URL's authority and path, our
    /// offers and headers, a fresh key.
    fn client_request(&self) -> Result<ClientRequest, ConnectError> {
        if self.config.mode != ws_proto::MessageMode::Assembled {
            return Err(ConnectError::InvalidUrl(
                "rt-tokio's WebSocket delivers whole messages: use MessageMode::Assembled".into(),
            ));
        }
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e: http::uri::InvalidUri| ConnectError::InvalidUrl(e.to_string()))?;
        let authority = uri
            .authority()
            .ok_or_else(|| ConnectError::InvalidUrl("the URL has no host".into()))?;
        if authority.as_str().contains('@') {
            return Err(ConnectError::InvalidUrl(
                "credentials in the URL: send an Authorization header instead".into(),
            ));
        }
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let key = random_key().map_err(|e| ConnectError::Io(io::Error::other(e)))?;
        let mut request = ClientRequest::new(authority.as_str(), path, key);
        request.protocols = self.protocols.clone();
        request.headers = self.headers.clone();
        if let Some(d) = &self.deflate {
            request.extensions = Some(client_offer(d));
        }
        Ok(request)
    }

    /// The extended CONNECT on a new stream of `send`'s connection, within the handshake
    /// timeout.
    async fn over_http2(
        self,
        send: SendRequest<Empty<Bytes>>,
        target: &Target,
    ) -> Result<(WebSocket<ClientStream>, Response), ConnectError> {
        let timeout = self.handshake_timeout;
        let scheme = if target.tls { "https" } else { "http" };
        let work = self.over_http2_inner(send, scheme);
        match timeout {
            None => work.await,
            Some(t) => tokio::time::timeout(t, work)
                .await
                .unwrap_or(Err(ConnectError::Timeout)),
        }
    }

    async fn over_http2_inner(
        self,
        mut send: SendRequest<Empty<Bytes>>,
        scheme: &str,
    ) -> Result<(WebSocket<ClientStream>, Response), ConnectError> {
        let request = self.client_request()?;
        let connect =
            ExtendedConnect::new(&request, self.limits).map_err(ConnectError::Handshake)?;
        let uri = format!(
            "{scheme}://{}{}",
            connect.authority(),
            connect.path_and_query()
        );
        let mut builder = http::Request::builder()
            .method(http::Method::CONNECT)
            .version(http::Version::HTTP_2)
            .uri(uri);
        for (name, value) in connect.headers() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut req = builder
            .body(Empty::new())
            .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
        req.extensions_mut()
            .insert(hyper::ext::Protocol::from_static(EXTENDED_CONNECT_PROTOCOL));
        send.ready().await.map_err(ConnectError::Http2)?;
        let mut response = send.send_request(req).await.map_err(ConnectError::Http2)?;
        let fields = Headers::from_pairs(
            response
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_bytes())),
        )
        .map_err(ConnectError::Handshake)?;
        let outcome = connect
            .handle_response(response.status().as_u16(), fields)
            .map_err(ConnectError::Handshake)?;
        let accepted = match outcome {
            ClientOutcome::Accepted(a) => a,
            ClientOutcome::Rejected(r) => {
                let body = crate::http::read_body(response.into_body(), self.max_error_body)
                    .await
                    .unwrap_or_default();
                return Err(ConnectError::Rejected {
                    status: r.status(),
                    headers: pairs(r.headers()),
                    body,
                });
            }
        };
        let upgraded = hyper::upgrade::on(&mut response)
            .await
            .map_err(ConnectError::Http2)?;
        let io = ClientStream::Http2(Box::new(TokioIo::new(upgraded)));
        self.open(io, &accepted, http::Version::HTTP_2)
    }

    /// The opening handshake over `io`, a stream already connected to the URL's host (a
    /// proxy tunnel, a test pipe...): the URL gives the `Host` header and the path.
    pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        io: S,
    ) -> Result<(WebSocket<S>, Response), ConnectError> {
        let timeout = self.handshake_timeout;
        let work = self.handshake_inner(io);
        match timeout {
            None => work.await,
            Some(t) => tokio::time::timeout(t, work)
                .await
                .unwrap_or(Err(ConnectError::Timeout)),
        }
    }

    async fn handshake_inner<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        mut io: S,
    ) -> Result<(WebSocket<S>, Response), ConnectError> {
        let request = self.client_request()?;
        let mut handshake =
            ClientHandshake::new(&request, self.limits).map_err(ConnectError::Handshake)?;
        let mut head = Vec::new();
        handshake.write_request(&mut head);
        io.write_all(&head).await.map_err(ConnectError::Io)?;
        io.flush().await.map_err(ConnectError::Io)?;
        let mut buf = vec![0u8; 8 * 1024];
        let outcome = loop {
            let n = io.read(&mut buf).await.map_err(ConnectError::Io)?;
            if n == 0 {
                return Err(ConnectError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection during the handshake",
                )));
            }
            if let Some(outcome) = handshake
                .handle_input(&buf[..n])
                .map_err(ConnectError::Handshake)?
            {
                break outcome;
            }
        };
        let accepted = match outcome {
            ClientOutcome::Accepted(a) => a,
            ClientOutcome::Rejected(r) => {
                let headers = pairs(r.headers());
                let body = read_body(&mut io, r.leftover(), &headers, self.max_error_body).await;
                return Err(ConnectError::Rejected {
                    status: r.status(),
                    headers,
                    body,
                });
            }
        };
        self.open(io, &accepted, http::Version::HTTP_11)
    }

    /// The WebSocket on `io` once the server accepted: permessage-deflate as agreed, the
    /// bytes that followed the answer already in the connection's buffer.
    fn open<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        io: S,
        accepted: &Accepted,
        version: http::Version,
    ) -> Result<(WebSocket<S>, Response), ConnectError> {
        let mut config = self.config;
        let mut deflate_params = None;
        if let Some(d) = &self.deflate {
            if let Some(params) =
                client_accept(accepted.extensions(), d).map_err(ConnectError::Deflate)?
            {
                deflate_params = Some(params);
                config.deflate = Some(Negotiated {
                    params,
                    config: d.clone(),
                });
            }
        }
        let masks = OsMasks::new().map_err(|e| ConnectError::Io(io::Error::other(e)))?;
        let now = ws_proto::Instant::from_micros(clock::now_micros());
        let mut conn = Connection::client(now, config, masks);
        conn.input_buffer().extend_from_slice(accepted.leftover());
        let response = Response {
            version,
            headers: pairs(accepted.headers()),
            protocol: accepted.protocol().map(String::from),
            deflate: deflate_params,
        };
        Ok((WebSocket::from_connection(io, conn), response))
    }
}

/// Every header, in order, as owned pairs.
fn pairs(headers: &Headers) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// A rejection's body: what came after the head, then more up to its `Content-Length` (or
/// the end of the stream), at most `max` bytes, for as long as the handshake timeout lets.
async fn read_body<S: AsyncRead + Unpin>(
    io: &mut S,
    start: &[u8],
    headers: &[(String, String)],
    max: usize,
) -> Bytes {
    let declared = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    let want = declared.unwrap_or(max).min(max);
    let mut body = start[..start.len().min(want)].to_vec();
    let mut buf = [0u8; 4096];
    while body.len() < want {
        match io.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n.min(want - body.len())]),
        }
    }
    Bytes::from(body)
}
