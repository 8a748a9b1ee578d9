//! Client side: build and write the upgrade request, then read and validate the response.
//!
//! Invariants: everything the request will carry is validated in [`ClientHandshake::new`]
//! (so `write_request` cannot fail and never writes an invalid byte); a 101 response is
//! accepted only with `Upgrade: websocket`, `Connection: upgrade`, the right
//! `Sec-WebSocket-Accept`, a subprotocol that was offered (or none) and extensions that were
//! offered by name. Any other status is not an error: it is returned as
//! [`ClientOutcome::Rejected`] with its status, headers and the body bytes read so far.
//! Over HTTP/2 (RFC 8441), [`ExtendedConnect`] gives the fields of the CONNECT request and
//! checks the response the HTTP/2 stack received: 200 with the same subprotocol and extension
//! rules.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;

use super::extensions::{is_token, parse_extension_list_bounded, ExtensionOffer};
use super::head::{httparse_error, HeadReader, Headers};
use super::{
    accept_key, check_extra_headers, reason_phrase, write_header, HandshakeError, HandshakeLimits,
};

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
    request: Vec<u8>,
    key: String,
    expected_accept: String,
    offered: Offered,
}

impl ClientHandshake {
    /// Validates `request` and prepares its bytes. Fails, writing nothing, on an invalid
    /// host, target, subprotocol, extensions value or extra header.
    pub fn new(request: &ClientRequest, limits: HandshakeLimits) -> Result<Self, HandshakeError> {
        let offers = validate(request, limits)?;
        let (host, target) = (&request.host, &request.path_and_query);
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
            request: out,
            key,
            expected_accept,
            offered: Offered::new(request, offers, limits),
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
        let (protocol, extensions) = self.offered.check_selection(&headers)?;
        Ok(Some(ClientOutcome::Accepted(Accepted {
            protocol,
            extensions,
            headers,
            leftover: raw.leftover,
        })))
    }
}

/// Checks what every request carries; returns the parsed extension offers.
fn validate(
    request: &ClientRequest,
    limits: HandshakeLimits,
) -> Result<Vec<ExtensionOffer>, HandshakeError> {
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
    Ok(offers)
}

/// What the client offered, to check the server's choice against.
#[derive(Debug, Clone)]
struct Offered {
    limits: HandshakeLimits,
    protocols: Vec<String>,
    extension_names: Vec<String>,
}

impl Offered {
    fn new(request: &ClientRequest, offers: Vec<ExtensionOffer>, limits: HandshakeLimits) -> Self {
        Self {
            limits,
            protocols: request.protocols.clone(),
            extension_names: offers.into_iter().map(|o| o.name).collect(),
        }
    }

    /// The subprotocol and extensions an accepting response chose: one offered subprotocol
    /// (or none), extensions that parse and were offered by name.
    fn check_selection(
        &self,
        headers: &Headers,
    ) -> Result<(Option<String>, Vec<ExtensionOffer>), HandshakeError> {
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
        Ok((protocol, extensions))
    }
}

/// The client side over HTTP/2: the extended CONNECT of RFC 8441 (section 5).
///
/// The HTTP/2 stack sends a request with `:method CONNECT`, `:protocol`
/// [`EXTENDED_CONNECT_PROTOCOL`](super::EXTENDED_CONNECT_PROTOCOL), `:scheme`, `:path`
/// ([`path_and_query`](Self::path_and_query)), `:authority` ([`authority`](Self::authority))
/// and [`headers`](Self::headers), on a connection whose server sent
/// `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`; then hands the response's status and headers to
/// [`handle_response`](Self::handle_response). The stream's body carries the frames.
#[derive(Debug, Clone)]
pub struct ExtendedConnect {
    authority: String,
    path_and_query: String,
    headers: Vec<(String, String)>,
    offered: Offered,
}

impl ExtendedConnect {
    /// Validates `request` as [`ClientHandshake::new`] does (its `host` becomes the
    /// `:authority`; its `key` is not used: HTTP/2 has none).
    pub fn new(request: &ClientRequest, limits: HandshakeLimits) -> Result<Self, HandshakeError> {
        let offers = validate(request, limits)?;
        let mut headers = Vec::with_capacity(3 + request.headers.len());
        headers.push(("sec-websocket-version".into(), "13".into()));
        if !request.protocols.is_empty() {
            headers.push((
                "sec-websocket-protocol".into(),
                request.protocols.join(", "),
            ));
        }
        if let (false, Some(v)) = (offers.is_empty(), &request.extensions) {
            headers.push(("sec-websocket-extensions".into(), v.clone()));
        }
        headers.extend(request.headers.iter().cloned());
        Ok(Self {
            authority: request.host.clone(),
            path_and_query: request.path_and_query.clone(),
            headers,
            offered: Offered::new(request, offers, limits),
        })
    }

    /// The `:authority` pseudo-header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The `:path` pseudo-header.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// The regular header fields of the request, in order: `sec-websocket-version`, the
    /// offers, then the extra headers.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Checks the response: a 200 is [`ClientOutcome::Accepted`] if its subprotocol and
    /// extensions were offered (an error otherwise); any other status is
    /// [`ClientOutcome::Rejected`]. Nothing is left over: the frames come in the body.
    pub fn handle_response(
        &self,
        status: u16,
        headers: Headers,
    ) -> Result<ClientOutcome, HandshakeError> {
        if status != 200 {
            return Ok(ClientOutcome::Rejected(Response {
                status,
                reason: reason_phrase(status).to_string(),
                headers,
                leftover: Vec::new(),
            }));
        }
        let (protocol, extensions) = self.offered.check_selection(&headers)?;
        Ok(ClientOutcome::Accepted(Accepted {
            protocol,
            extensions,
            headers,
            leftover: Vec::new(),
        }))
    }
}

/// How the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutcome {
    /// A valid 101 (or 200 over HTTP/2): the connection (or stream) is now a WebSocket.
    Accepted(Accepted),
    /// Any other status (redirect, 401, 403, 426...): not an error, the caller decides.
    Rejected(Response),
}

/// A validated 101 response (or 200 over HTTP/2).
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

/// A response other than 101 (or 200 over HTTP/2).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::chunking::all_ways;
    use crate::handshake::ExtensionParseError;
    use alloc::format;
    use alloc::vec;

    /// A table row: offered protocols, offered extensions, response bytes, expectation.
    type Case<T> = (&'static [&'static str], Option<&'static str>, Vec<u8>, T);

    /// The RFC 6455 section 1.2 example nonce.
    const NONCE: [u8; 16] = *b"the sample nonce";

    fn client(protocols: &[&str], extensions: Option<&str>) -> ClientHandshake {
        let mut req = ClientRequest::new("server.example.com", "/chat", NONCE);
        for p in protocols {
            req = req.protocol(*p);
        }
        if let Some(e) = extensions {
            req = req.extensions(e);
        }
        ClientHandshake::new(&req, HandshakeLimits::default()).unwrap()
    }

    /// The RFC 6455 example 101 with `extra` header lines added and lines starting with any of
    /// `drop` removed.
    fn response(extra: &[&str], drop: &[&str]) -> Vec<u8> {
        let mut lines = vec![
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        ];
        lines.retain(|l| !drop.iter().any(|d| l.starts_with(d)));
        lines.extend_from_slice(extra);
        let mut out = lines.join("\r\n").into_bytes();
        out.extend_from_slice(b"\r\n\r\n");
        out
    }

    fn handle(
        protocols: &[&str],
        extensions: Option<&str>,
        input: &[u8],
    ) -> Result<ClientOutcome, HandshakeError> {
        all_ways(
            input,
            || client(protocols, extensions),
            |c, b| c.handle_input(b),
        )
        .map(|o| o.expect("complete head"))
    }

    #[test]
    fn request_bytes() {
        let req = ClientRequest::new("server.example.com", "/chat?x=1", NONCE)
            .protocol("chat")
            .protocol("superchat")
            .extensions("permessage-deflate; client_max_window_bits")
            .header("Origin", "http://example.com");
        let c = ClientHandshake::new(&req, HandshakeLimits::default()).unwrap();
        assert_eq!(c.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        let mut out = b"prefix".to_vec();
        c.write_request(&mut out);
        assert_eq!(
            core::str::from_utf8(&out).unwrap(),
            "prefixGET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
             Origin: http://example.com\r\n\r\n"
        );
        // No offers: no offer headers; an empty extensions value is not written.
        let c = ClientHandshake::new(
            &ClientRequest::new("h", "/", NONCE).extensions(" , "),
            HandshakeLimits::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        c.write_request(&mut out);
        assert!(!core::str::from_utf8(&out)
            .unwrap()
            .contains("Sec-WebSocket-Protocol"));
        assert!(!core::str::from_utf8(&out)
            .unwrap()
            .contains("Sec-WebSocket-Extensions"));
    }

    #[test]
    fn invalid_requests_are_refused() {
        use HandshakeError as E;
        let base = || ClientRequest::new("h", "/", NONCE);
        let cases: Vec<(ClientRequest, HandshakeError)> = vec![
            (ClientRequest::new("", "/", NONCE), E::InvalidHost),
            (ClientRequest::new("a b", "/", NONCE), E::InvalidHost),
            (ClientRequest::new("h\r\nX: 1", "/", NONCE), E::InvalidHost),
            (ClientRequest::new("h", "", NONCE), E::InvalidPathAndQuery),
            (
                ClientRequest::new("h", "chat", NONCE),
                E::InvalidPathAndQuery,
            ),
            (
                ClientRequest::new("h", "/a b", NONCE),
                E::InvalidPathAndQuery,
            ),
            (
                ClientRequest::new("h", "/a#frag", NONCE),
                E::InvalidPathAndQuery,
            ),
            (
                ClientRequest::new("h", "/a\r\n", NONCE),
                E::InvalidPathAndQuery,
            ),
            (
                ClientRequest::new("h", "/caf\u{e9}", NONCE),
                E::InvalidPathAndQuery,
            ),
            (
                base().protocol("a b"),
                E::InvalidProtocolName {
                    protocol: "a b".into(),
                },
            ),
            (
                base().protocol(""),
                E::InvalidProtocolName {
                    protocol: "".into(),
                },
            ),
            (
                base().protocol("a,b"),
                E::InvalidProtocolName {
                    protocol: "a,b".into(),
                },
            ),
            (
                base().protocol("x\r\nY: z"),
                E::InvalidProtocolName {
                    protocol: "x\r\nY: z".into(),
                },
            ),
            (
                base().extensions("a;;"),
                E::InvalidExtensionsValue(ExtensionParseError::ExpectedParamName { at: 2 }),
            ),
            (
                base().extensions("a\r\nX: 1"),
                E::InvalidExtensionsValue(ExtensionParseError::UnexpectedCharacter { at: 1 }),
            ),
            (
                base().header("X-A", "1\r\n2"),
                E::InvalidHeaderValue { name: "X-A".into() },
            ),
            (
                base().header("X-A", "1\n2"),
                E::InvalidHeaderValue { name: "X-A".into() },
            ),
            (
                base().header("X-A", "\0"),
                E::InvalidHeaderValue { name: "X-A".into() },
            ),
            (
                base().header("X A", "1"),
                E::InvalidHeaderName { name: "X A".into() },
            ),
            (
                base().header("", "1"),
                E::InvalidHeaderName { name: "".into() },
            ),
            (
                base().header("host", "x"),
                E::ReservedHeader {
                    name: "host".into(),
                },
            ),
            (
                base().header("Sec-WebSocket-Protocol", "x"),
                E::ReservedHeader {
                    name: "Sec-WebSocket-Protocol".into(),
                },
            ),
        ];
        for (req, want) in cases {
            assert_eq!(
                ClientHandshake::new(&req, HandshakeLimits::default()).map(|_| ()),
                Err(want),
                "{req:?}"
            );
        }
    }

    #[test]
    fn accepted_responses() {
        type Check = fn(&Accepted);
        let cases: Vec<Case<Check>> = vec![
            (&[], None, response(&[], &[]), |a| {
                assert_eq!(a.protocol(), None);
                assert!(a.extensions().is_empty());
                assert_eq!(a.headers().len(), 3);
                assert!(a.leftover().is_empty());
            }),
            (
                &["chat", "superchat"],
                None,
                response(&["Sec-WebSocket-Protocol: superchat"], &[]),
                |a| {
                    assert_eq!(a.protocol(), Some("superchat"));
                },
            ),
            (
                &["chat"],
                None,
                response(&["Sec-WebSocket-Protocol:  chat "], &[]),
                |a| {
                    assert_eq!(a.protocol(), Some("chat"));
                },
            ),
            (
                &[],
                None,
                response(
                    &["upgrade: WEBSOCKET", "connection: keep-alive, UPGRADE"],
                    &["Upgrade", "Connection"],
                ),
                |_| {},
            ),
            (
                &[],
                None,
                response(
                    &["Sec-WebSocket-Accept:\ts3pPLMBiTxaQ9kYGzzhZRbK+xOo= "],
                    &["Sec-WebSocket-Accept"],
                ),
                |_| {},
            ),
            (
                &[],
                Some("permessage-deflate; client_max_window_bits, x-foo"),
                response(
                    &[
                        "Sec-WebSocket-Extensions: Permessage-Deflate; server_max_window_bits=10",
                        "Sec-WebSocket-Extensions: x-foo",
                    ],
                    &[],
                ),
                |a| {
                    let names: Vec<&str> = a.extensions().iter().map(|e| e.name.as_str()).collect();
                    assert_eq!(names, ["Permessage-Deflate", "x-foo"]);
                    assert_eq!(a.extensions()[0].params[0].value.as_deref(), Some("10"));
                },
            ),
        ];
        for (protocols, extensions, input, check) in cases {
            match handle(protocols, extensions, &input) {
                Ok(ClientOutcome::Accepted(a)) => check(&a),
                other => panic!("{:?}: {other:?}", input.escape_ascii().to_string()),
            }
        }
    }

    #[test]
    fn invalid_101_responses() {
        use HandshakeError as E;
        let cases: Vec<Case<HandshakeError>> = vec![
            (
                &[],
                None,
                response(&[], &["Sec-WebSocket-Accept"]),
                E::MissingAccept,
            ),
            (
                &[],
                None,
                response(
                    &["Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA="],
                    &["Sec-WebSocket-Accept"],
                ),
                E::AcceptMismatch,
            ),
            (
                &[],
                None,
                response(
                    &["Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo"],
                    &["Sec-WebSocket-Accept"],
                ),
                E::AcceptMismatch,
            ),
            (
                &[],
                None,
                response(
                    &["Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ=="],
                    &["Sec-WebSocket-Accept"],
                ),
                E::AcceptMismatch,
            ),
            (
                &[],
                None,
                response(&["Sec-WebSocket-Accept: "], &["Sec-WebSocket-Accept"]),
                E::AcceptMismatch,
            ),
            (
                &[],
                None,
                response(&["Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="], &[]),
                E::DuplicateHeader {
                    name: "Sec-WebSocket-Accept",
                },
            ),
            (
                &[],
                None,
                response(&[], &["Upgrade"]),
                E::MissingUpgradeWebSocket,
            ),
            (
                &[],
                None,
                response(&["Upgrade: h2c"], &["Upgrade"]),
                E::MissingUpgradeWebSocket,
            ),
            (
                &[],
                None,
                response(&[], &["Connection"]),
                E::MissingConnectionUpgrade,
            ),
            (
                &[],
                None,
                response(&["Connection: close"], &["Connection"]),
                E::MissingConnectionUpgrade,
            ),
            (
                &[],
                None,
                response(&["Sec-WebSocket-Protocol: chat"], &[]),
                E::ProtocolNotOffered,
            ),
            (
                &["chat"],
                None,
                response(&["Sec-WebSocket-Protocol: Chat"], &[]),
                E::ProtocolNotOffered,
            ),
            (
                &["chat", "b"],
                None,
                response(&["Sec-WebSocket-Protocol: chat, b"], &[]),
                E::InvalidSelectedProtocol,
            ),
            (
                &["chat"],
                None,
                response(&["Sec-WebSocket-Protocol: "], &[]),
                E::InvalidSelectedProtocol,
            ),
            (
                &["chat"],
                None,
                response(
                    &[
                        "Sec-WebSocket-Protocol: chat",
                        "Sec-WebSocket-Protocol: chat",
                    ],
                    &[],
                ),
                E::DuplicateHeader {
                    name: "Sec-WebSocket-Protocol",
                },
            ),
            (
                &[],
                None,
                response(&["Sec-WebSocket-Extensions: permessage-deflate"], &[]),
                E::ExtensionNotOffered {
                    name: "permessage-deflate".into(),
                },
            ),
            (
                &[],
                Some("permessage-deflate"),
                response(
                    &["Sec-WebSocket-Extensions: permessage-deflate, x-evil"],
                    &[],
                ),
                E::ExtensionNotOffered {
                    name: "x-evil".into(),
                },
            ),
            (
                &[],
                Some("permessage-deflate"),
                response(
                    &["Sec-WebSocket-Extensions: permessage-deflate; a=\"b c\""],
                    &[],
                ),
                E::InvalidExtensions(ExtensionParseError::QuotedValueNotToken { at: 22 }),
            ),
            (
                &[],
                None,
                {
                    let mut r = response(&[], &[]);
                    r[7] = b'0';
                    r
                },
                E::UnsupportedHttpVersion,
            ),
            (
                &[],
                None,
                b"HTTP/1.1 101 OK\r\nX: a\nb\r\n\r\n".to_vec(),
                E::BareLineFeed,
            ),
            (
                &[],
                None,
                b"HTTP/1.1 1o1 OK\r\n\r\n".to_vec(),
                E::MalformedHead {
                    reason: "invalid status code",
                },
            ),
            (
                &[],
                None,
                b"HTTP/2 101 OK\r\n\r\n".to_vec(),
                E::MalformedHead {
                    reason: "invalid HTTP version",
                },
            ),
        ];
        for (protocols, extensions, input, want) in cases {
            assert_eq!(
                handle(protocols, extensions, &input),
                Err(want),
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn other_statuses_are_surfaced() {
        let input = b"HTTP/1.1 302 Found\r\nLocation: wss://other.example/chat\r\nContent-Length: 4\r\n\r\n";
        match handle(&[], None, input) {
            Ok(ClientOutcome::Rejected(r)) => {
                assert_eq!((r.status(), r.reason()), (302, "Found"));
                assert_eq!(
                    r.headers().get("location"),
                    Some("wss://other.example/chat")
                );
                assert!(r.leftover().is_empty());
            }
            other => panic!("{other:?}"),
        }
        let mut input =
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"ws\"\r\n\r\n".to_vec();
        let head_len = input.len();
        input.extend_from_slice(b"body");
        let mut c = client(&[], None);
        match c.handle_input(&input).unwrap() {
            Some(ClientOutcome::Rejected(r)) => {
                assert_eq!(r.status(), 401);
                assert_eq!(
                    r.headers().get("www-authenticate"),
                    Some("Basic realm=\"ws\"")
                );
                assert_eq!(r.leftover(), &input[head_len..]);
            }
            other => panic!("{other:?}"),
        }
        // A 426 from a server that wants another version, an HTTP/1.0 error: not errors here.
        for input in [
            &b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n"[..],
            b"HTTP/1.0 400 Bad Request\r\n\r\n",
        ] {
            assert!(matches!(
                handle(&[], None, input),
                Ok(ClientOutcome::Rejected(_))
            ));
        }
    }

    #[test]
    fn leftover_is_kept_exactly() {
        let mut input = response(&[], &[]);
        let head_len = input.len();
        input.extend_from_slice(b"\x81\x05Hello\x89\x00");
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            let mut c = client(&[], None);
            let mut seen = Vec::new();
            let mut done = false;
            for chunk in [a, b] {
                if done {
                    assert_eq!(c.handle_input(chunk), Err(HandshakeError::Finished));
                    seen.extend_from_slice(chunk);
                } else if let Some(ClientOutcome::Accepted(acc)) = c.handle_input(chunk).unwrap() {
                    seen.extend_from_slice(acc.leftover());
                    done = true;
                }
            }
            assert!(done);
            assert_eq!(seen, &input[head_len..], "split {split}");
        }
    }

    /// A slowly sent huge response head is cut off by the size limit after linear work.
    #[test]
    fn slow_huge_response_is_linear() {
        let mut c = client(&[], None);
        let mut input = b"HTTP/1.1 101 Switching Protocols\r\nX: ".to_vec();
        input.resize(1 << 20, b'a');
        let err = input
            .chunks(3)
            .find_map(|ch| c.handle_input(ch).err())
            .unwrap();
        assert_eq!(err, HandshakeError::HeadTooLarge { limit: 16384 });
        assert_eq!(c.reader.scanned, 16385);
        let mut c = client(&[], None);
        let flood: Vec<u8> = (0..1000)
            .flat_map(|i| format!("X-{i}: v\r\n").into_bytes())
            .collect();
        let mut input = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        input.extend_from_slice(&flood);
        let err = input
            .chunks(1)
            .find_map(|ch| c.handle_input(ch).err())
            .unwrap();
        assert_eq!(err, HandshakeError::TooManyHeaders { limit: 64 });
    }
}
