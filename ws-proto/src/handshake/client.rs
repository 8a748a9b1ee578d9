//! Client side: build and write the upgrade request, then read and validate the response.
//!
//! Invariants: everything the request will carry is validated in [`ClientHandshake::new`]
//! (so `write_request` cannot fail and never writes an invalid byte); a 101 response is
//! accepted only with `Upgrade: websocket`, `Connection: upgrade`, the right
//! `Sec-WebSocket-Accept`, a subprotocol that was offered (or none) and extensions that were
//! offered by name. Any other status is not an error: it is returned as
//! [`ClientOutcome::Rejected`] with its status, headers and the body bytes read so far.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;

use super::extensions::{is_token, parse_extension_list_bounded, ExtensionOffer};
use super::head::{httparse_error, HeadReader, Headers};
use super::{accept_key, check_extra_headers, write_header, HandshakeError, HandshakeLimits};

/// What the client sends: target, key, offers and extra headers.
///
/// Build it with [`ClientRequest::new`] and the chaining setters, or fill the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    /// The `Host` header value (`host` or `host:port`): non-empty visible ASCII.
    pub host: String,
    /// The request target: `/path` with an optional `?query`, visible ASCII, no fragment.
    pub path_and_query: String,
    /// 16 random bytes from the caller's random source; sent base64-encoded as
    /// `Sec-WebSocket-Key`. Use fresh random bytes for every connection.
    pub key: [u8; 16],
    /// Subprotocols offered in `Sec-WebSocket-Protocol`, in preference order; each a token.
    pub protocols: Vec<String>,
    /// The `Sec-WebSocket-Extensions` offer value (e.g. from the permessage-deflate module),
    /// sent as given after checking that it parses.
    pub extensions: Option<String>,
    /// Extra headers (e.g. `Origin`, `Authorization`, `Cookie`). Names must be tokens,
    /// values free of control characters, and none of the headers the handshake writes
    /// itself (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`).
    pub headers: Vec<(String, String)>,
}

impl ClientRequest {
    /// A request for `host` and `path_and_query` with the caller's 16 random key bytes.
    pub fn new(host: impl Into<String>, path_and_query: impl Into<String>, key: [u8; 16]) -> Self {
        Self {
            host: host.into(),
            path_and_query: path_and_query.into(),
            key,
            protocols: Vec::new(),
            extensions: None,
            headers: Vec::new(),
        }
    }

    /// Adds an offered subprotocol.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Sets the `Sec-WebSocket-Extensions` offer value.
    pub fn extensions(mut self, value: impl Into<String>) -> Self {
        self.extensions = Some(value.into());
        self
    }

    /// Adds an extra header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Headers the client writes itself; extra headers may not repeat them.
const CLIENT_RESERVED: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
];

/// The client side of the opening handshake.
///
/// Getters: [`key`](Self::key). Output: [`write_request`](Self::write_request) (call once,
/// before any input). Input: [`handle_input`](Self::handle_input) until it returns an outcome.
#[derive(Debug)]
pub struct ClientHandshake {
    reader: HeadReader,
    limits: HandshakeLimits,
    request: Vec<u8>,
    key: String,
    expected_accept: String,
    protocols: Vec<String>,
    extension_names: Vec<String>,
}

impl ClientHandshake {
    /// Validates `request` and prepares its bytes. Fails, writing nothing, on an invalid
    /// host, target, subprotocol, extensions value or extra header.
    pub fn new(request: &ClientRequest, limits: HandshakeLimits) -> Result<Self, HandshakeError> {
        let host = &request.host;
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(HandshakeError::InvalidHost);
        }
        let target = &request.path_and_query;
        if !target.starts_with('/')
            || target.contains('#')
            || !target.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(HandshakeError::InvalidPathAndQuery);
        }
        if let Some(bad) = request.protocols.iter().find(|p| !is_token(p)) {
            return Err(HandshakeError::InvalidProtocolName {
                protocol: bad.clone(),
            });
        }
        let offers = match &request.extensions {
            Some(v) => {
                parse_extension_list_bounded(v, limits.max_extensions, limits.max_extension_params)
                    .map_err(HandshakeError::InvalidExtensionsValue)?
            }
            None => Vec::new(),
        };
        check_extra_headers(&request.headers, CLIENT_RESERVED)?;

        let key = base64::engine::general_purpose::STANDARD.encode(request.key);
        let expected_accept = accept_key(&key);
        let mut out = Vec::new();
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        write_header(&mut out, "Host", host);
        write_header(&mut out, "Upgrade", "websocket");
        write_header(&mut out, "Connection", "Upgrade");
        write_header(&mut out, "Sec-WebSocket-Key", &key);
        write_header(&mut out, "Sec-WebSocket-Version", "13");
        if !request.protocols.is_empty() {
            write_header(
                &mut out,
                "Sec-WebSocket-Protocol",
                &request.protocols.join(", "),
            );
        }
        if let (false, Some(v)) = (offers.is_empty(), &request.extensions) {
            write_header(&mut out, "Sec-WebSocket-Extensions", v);
        }
        for (n, v) in &request.headers {
            write_header(&mut out, n, v);
        }
        out.extend_from_slice(b"\r\n");
        Ok(Self {
            reader: HeadReader::new(limits),
            limits,
            request: out,
            key,
            expected_accept,
            protocols: request.protocols.clone(),
            extension_names: offers.into_iter().map(|o| o.name).collect(),
        })
    }

    /// The `Sec-WebSocket-Key` value sent (base64 of the caller's 16 bytes).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Appends the upgrade request to `out`.
    pub fn write_request(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.request);
    }

    /// Feeds bytes received from the server. `Ok(None)`: the response head is not complete
    /// yet. `Ok(Some(outcome))`: done; any bytes after the head are in the outcome's
    /// `leftover()`. Further calls return [`HandshakeError::Finished`].
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<Option<ClientOutcome>, HandshakeError> {
        let Some(raw) = self.reader.push(bytes)? else {
            return Ok(None);
        };
        let mut slots = alloc::vec![httparse::EMPTY_HEADER; raw.header_lines];
        let mut resp = httparse::Response::new(&mut slots);
        match resp.parse(&raw.head).map_err(httparse_error)? {
            httparse::Status::Complete(n) if n == raw.head.len() => {}
            _ => {
                return Err(HandshakeError::MalformedHead {
                    reason: "head ends early",
                })
            }
        }
        let status = resp.code.unwrap_or(0);
        let reason = resp.reason.unwrap_or("").to_string();
        let version = resp.version.unwrap_or(0);
        let headers = Headers::from_httparse(resp.headers)?;
        if status != 101 {
            return Ok(Some(ClientOutcome::Rejected(Response {
                status,
                reason,
                headers,
                leftover: raw.leftover,
            })));
        }
        if version != 1 {
            return Err(HandshakeError::UnsupportedHttpVersion);
        }
        if !headers.has_token("upgrade", "websocket") {
            return Err(HandshakeError::MissingUpgradeWebSocket);
        }
        if !headers.has_token("connection", "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        let accept = headers
            .single("Sec-WebSocket-Accept")?
            .ok_or(HandshakeError::MissingAccept)?;
        if accept.trim_matches([' ', '\t']) != self.expected_accept {
            return Err(HandshakeError::AcceptMismatch);
        }
        let protocol = match headers.single("Sec-WebSocket-Protocol")? {
            None => None,
            Some(p) => {
                let p = p.trim_matches([' ', '\t']);
                if !is_token(p) {
                    return Err(HandshakeError::InvalidSelectedProtocol);
                }
                if !self.protocols.iter().any(|o| o == p) {
                    return Err(HandshakeError::ProtocolNotOffered);
                }
                Some(p.to_string())
            }
        };
        let extensions = match headers.combined("Sec-WebSocket-Extensions") {
            None => Vec::new(),
            Some(v) => parse_extension_list_bounded(
                &v,
                self.limits.max_extensions,
                self.limits.max_extension_params,
            )
            .map_err(HandshakeError::InvalidExtensions)?,
        };
        if let Some(e) = extensions.iter().find(|e| {
            !self
                .extension_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&e.name))
        }) {
            return Err(HandshakeError::ExtensionNotOffered {
                name: e.name.clone(),
            });
        }
        Ok(Some(ClientOutcome::Accepted(Accepted {
            protocol,
            extensions,
            headers,
            leftover: raw.leftover,
        })))
    }
}

/// How the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutcome {
    /// A valid 101: the connection is now a WebSocket.
    Accepted(Accepted),
    /// Any other status (redirect, 401, 403, 426...): not an error, the caller decides.
    Rejected(Response),
}

/// A validated 101 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    protocol: Option<String>,
    extensions: Vec<ExtensionOffer>,
    headers: Headers,
    leftover: Vec<u8>,
}

impl Accepted {
    /// The subprotocol the server chose (one the client offered), if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The extensions the server accepted, parsed (each offered by name).
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// All response headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Bytes received after the head: the first WebSocket frames. Feed them to the
    /// connection before anything read later.
    pub fn leftover(&self) -> &[u8] {
        &self.leftover
    }

    /// Takes the leftover bytes.
    pub fn into_leftover(self) -> Vec<u8> {
        self.leftover
    }
}

/// A response other than 101.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    reason: String,
    headers: Headers,
    leftover: Vec<u8>,
}

impl Response {
    /// The status code (e.g. 301, 401, 426).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase as sent.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// All response headers (e.g. `Location`, `WWW-Authenticate`).
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Bytes received after the head (the start of the body, if any).
    pub fn leftover(&self) -> &[u8] {
        &self.leftover
    }
}
