//! Server side: read and validate the upgrade request, then write the 101 or a rejection.
//!
//! Invariants: a [`Request`] exists only for a request that passed every check of RFC 6455
//! section 4.2.1 (GET, HTTP/1.1, Host, `Upgrade: websocket`, `Connection: upgrade`,
//! `Sec-WebSocket-Version: 13`, a key of exactly 16 bytes, token subprotocols within
//! `max_protocols`, a well-formed extension list within its bounds, no body); every failure
//! is a [`HandshakeError`] whose [`write_response`](HandshakeError::write_response) writes the
//! answer. [`Request::accept`] and [`write_rejection`] validate everything before appending a
//! single byte.
//!
//! Over HTTP/2 (RFC 8441) the request is an extended CONNECT whose head the HTTP/2 server
//! parsed: [`Request::from_extended_connect`] checks it (`:protocol websocket`, `:authority`,
//! `:path`, `Sec-WebSocket-Version: 13`, no connection-specific header; no key), and the
//! answer is a 200 with [`Request::accept_headers`], sent by that server.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;

use super::extensions::{is_token, parse_extension_list_bounded, ExtensionOffer};
use super::head::{httparse_error, HeadReader, Headers};
use super::{
    accept_key, check_extra_headers, write_header, write_status_line, HandshakeError,
    HandshakeForm, HandshakeLimits, EXTENDED_CONNECT_PROTOCOL,
};

/// The server side of the opening handshake.
///
/// Feed bytes to [`handle_input`](Self::handle_input) until it returns the [`Request`];
/// then answer with [`Request::accept`] or [`Request::reject`]. On an error, write
/// [`HandshakeError::write_response`] and close.
#[derive(Debug)]
pub struct ServerHandshake {
    reader: HeadReader,
    limits: HandshakeLimits,
}

impl ServerHandshake {
    /// A server handshake that enforces `limits`.
    pub fn new(limits: HandshakeLimits) -> Self {
        Self {
            reader: HeadReader::new(limits),
            limits,
        }
    }

    /// Feeds bytes received from the client. `Ok(None)`: the request head is not complete
    /// yet. `Ok(Some(request))`: a valid upgrade request; bytes after its head are in
    /// [`Request::leftover`]. Further calls return [`HandshakeError::Finished`].
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<Option<Request>, HandshakeError> {
        let Some(raw) = self.reader.push(bytes)? else {
            return Ok(None);
        };
        let mut slots = alloc::vec![httparse::EMPTY_HEADER; raw.header_lines];
        let mut req = httparse::Request::new(&mut slots);
        match req.parse(&raw.head).map_err(httparse_error)? {
            httparse::Status::Complete(n) if n == raw.head.len() => {}
            _ => {
                return Err(HandshakeError::MalformedHead {
                    reason: "head ends early",
                })
            }
        }
        let headers = Headers::from_httparse(req.headers)?;
        Request::from_parts(
            req.method.unwrap_or(""),
            req.version == Some(1),
            req.path.unwrap_or(""),
            headers,
            self.limits,
            raw.leftover,
        )
        .map(Some)
    }
}

impl Request {
    /// Validates an upgrade request whose head was parsed elsewhere (by an HTTP server such
    /// as hyper): the same checks as [`ServerHandshake::handle_input`] applies to the
    /// `method`, whether it is HTTP/1.1 (`http11`), the request `target` and the `headers`.
    /// `leftover` is whatever the server read after the head (usually nothing).
    pub fn from_parts(
        method: &str,
        http11: bool,
        target: &str,
        headers: Headers,
        limits: HandshakeLimits,
        leftover: Vec<u8>,
    ) -> Result<Request, HandshakeError> {
        if method != "GET" {
            return Err(HandshakeError::MethodNotAllowed);
        }
        if !http11 {
            return Err(HandshakeError::UnsupportedHttpVersion);
        }
        let (path, query) = split_target(target)?;
        let host = headers
            .single("Host")?
            .map(|h| h.trim_matches([' ', '\t']))
            .filter(|h| !h.is_empty())
            .ok_or(HandshakeError::MissingHost)?
            .to_string();
        if headers.count("Transfer-Encoding") > 0
            || headers
                .get_all("Content-Length")
                .any(|v| v.trim_matches([' ', '\t']) != "0")
        {
            return Err(HandshakeError::UnexpectedBody);
        }
        if headers.count("Upgrade") == 0 && !headers.has_token("connection", "upgrade") {
            // A plain GET, not an upgrade at all.
            return Err(HandshakeError::NotAnUpgrade);
        }
        if !headers.has_token("upgrade", "websocket") {
            return Err(HandshakeError::MissingUpgradeWebSocket);
        }
        if !headers.has_token("connection", "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        check_version(&headers)?;
        let key = headers
            .single("Sec-WebSocket-Key")?
            .ok_or(HandshakeError::MissingKey)?;
        let key = key.trim_matches([' ', '\t']);
        if key.len() != 24
            || base64::engine::general_purpose::STANDARD
                .decode(key)
                .map(|k| k.len())
                != Ok(16)
        {
            return Err(HandshakeError::InvalidKey);
        }
        let key = key.to_string();
        let target = Target {
            method,
            path,
            query,
            host,
        };
        Request::offers(
            HandshakeForm::Http11Upgrade,
            target,
            Some(key),
            headers,
            limits,
            leftover,
        )
    }

    /// Validates a WebSocket request that came over HTTP/2 as an extended CONNECT (RFC 8441
    /// section 4), its head parsed by the HTTP/2 server: `method` (`CONNECT`), the
    /// `:protocol` pseudo-header (`websocket`), the `:path` (`target`, origin-form), the
    /// `:authority` (taken as the host) and the regular `headers`. As over HTTP/1.1:
    /// `Sec-WebSocket-Version: 13`, subprotocols, extensions and `Origin`; there is no key.
    /// The stream's body then carries the WebSocket frames.
    pub fn from_extended_connect(
        method: &str,
        protocol: Option<&str>,
        target: &str,
        authority: Option<&str>,
        headers: Headers,
        limits: HandshakeLimits,
    ) -> Result<Request, HandshakeError> {
        if method != "CONNECT" {
            return Err(HandshakeError::NotExtendedConnect);
        }
        match protocol {
            None => return Err(HandshakeError::MissingProtocolPseudoHeader),
            Some(p) if !p.eq_ignore_ascii_case(EXTENDED_CONNECT_PROTOCOL) => {
                return Err(HandshakeError::UnsupportedProtocolPseudoHeader)
            }
            Some(_) => {}
        }
        if !target.starts_with('/') {
            return Err(HandshakeError::InvalidRequestTarget);
        }
        let (path, query) = split_target(target)?;
        let host = authority
            .map(|a| a.trim_matches([' ', '\t']))
            .filter(|a| !a.is_empty())
            .ok_or(HandshakeError::MissingHost)?
            .to_string();
        // Connection-specific fields make an HTTP/2 message malformed (RFC 9113 8.2.2).
        if [
            "Connection",
            "Upgrade",
            "Keep-Alive",
            "Proxy-Connection",
            "Transfer-Encoding",
        ]
        .iter()
        .any(|h| headers.count(h) > 0)
        {
            return Err(HandshakeError::MalformedHead {
                reason: "connection-specific header field in an HTTP/2 request",
            });
        }
        check_version(&headers)?;
        let target = Target {
            method,
            path,
            query,
            host,
        };
        Request::offers(
            HandshakeForm::ExtendedConnect,
            target,
            None,
            headers,
            limits,
            Vec::new(),
        )
    }

    /// The checks both forms share (subprotocols, extensions, `Origin`), then the request.
    fn offers(
        form: HandshakeForm,
        target: Target<'_>,
        key: Option<String>,
        headers: Headers,
        limits: HandshakeLimits,
        leftover: Vec<u8>,
    ) -> Result<Request, HandshakeError> {
        let mut protocols: Vec<String> = Vec::new();
        for element in headers
            .get_all("Sec-WebSocket-Protocol")
            .flat_map(|v| v.split(','))
        {
            let p = element.trim_matches([' ', '\t']);
            if p.is_empty() {
                continue;
            }
            if !is_token(p) {
                return Err(HandshakeError::InvalidProtocolList);
            }
            if protocols.len() == limits.max_protocols {
                return Err(HandshakeError::TooManyProtocols {
                    limit: limits.max_protocols,
                });
            }
            protocols.push(p.to_string());
        }
        let extensions = match headers.combined("Sec-WebSocket-Extensions") {
            None => Vec::new(),
            Some(v) => {
                parse_extension_list_bounded(&v, limits.max_extensions, limits.max_extension_params)
                    .map_err(HandshakeError::InvalidExtensions)?
            }
        };
        let origin = headers.single("Origin")?.map(String::from);
        Ok(Request {
            limits,
            form,
            method: target.method.to_string(),
            path: target.path,
            query: target.query,
            host: target.host,
            origin,
            key,
            protocols,
            extensions,
            headers,
            leftover,
        })
    }
}

/// Where a request goes: method, path, query and host.
struct Target<'a> {
    method: &'a str,
    path: String,
    query: Option<String>,
    host: String,
}

/// `Sec-WebSocket-Version` must be present once and be 13.
fn check_version(headers: &Headers) -> Result<(), HandshakeError> {
    let version = headers
        .single("Sec-WebSocket-Version")?
        .ok_or(HandshakeError::MissingVersion)?;
    if version.trim_matches([' ', '\t']) != "13" {
        return Err(HandshakeError::UnsupportedVersion);
    }
    Ok(())
}

/// Splits an origin-form (`/p?q`) or absolute-form (`ws://h/p?q`) target into path and query.
fn split_target(target: &str) -> Result<(String, Option<String>), HandshakeError> {
    if target.contains('#') {
        return Err(HandshakeError::InvalidRequestTarget);
    }
    let path_and_query = if target.starts_with('/') {
        target
    } else {
        let (scheme, rest) = target
            .split_once("://")
            .ok_or(HandshakeError::InvalidRequestTarget)?;
        let scheme_ok = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(HandshakeError::InvalidRequestTarget);
        }
        let start = rest.find(['/', '?']).unwrap_or(rest.len());
        if start == 0 {
            return Err(HandshakeError::InvalidRequestTarget);
        }
        &rest[start..]
    };
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (path_and_query, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok((path.to_string(), query))
}

/// How to accept a request: the subprotocol and extensions chosen, and extra headers
/// (e.g. `Set-Cookie`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accept<'a> {
    /// The subprotocol chosen; must be one of [`Request::protocols`].
    pub protocol: Option<&'a str>,
    /// The `Sec-WebSocket-Extensions` response value (e.g. from the permessage-deflate
    /// module); it must parse and name only extensions the client offered.
    pub extensions: Option<&'a str>,
    /// Extra headers; not `Upgrade`, `Connection`, `Sec-WebSocket-*`, `Content-Length` or
    /// `Transfer-Encoding`.
    pub headers: &'a [(&'a str, &'a str)],
}

const ACCEPT_RESERVED: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-version",
    "content-length",
    "transfer-encoding",
];

const REJECT_RESERVED: &[&str] = &["content-length", "transfer-encoding"];

/// A valid WebSocket upgrade request, read by [`ServerHandshake`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    limits: HandshakeLimits,
    form: HandshakeForm,
    method: String,
    path: String,
    query: Option<String>,
    host: String,
    origin: Option<String>,
    key: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
    headers: Headers,
    leftover: Vec<u8>,
}

impl Request {
    /// How the request came: an HTTP/1.1 upgrade or an HTTP/2 extended CONNECT.
    pub fn form(&self) -> HandshakeForm {
        self.form
    }

    /// The method: `GET` (HTTP/1.1 upgrade) or `CONNECT` (extended CONNECT).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, without the query (`/` for an absolute-form target with no path).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query, without the `?`, if there was one.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The value of the first header called `name` (ASCII case-insensitive); for every
    /// value of a repeated header use [`headers`](Self::headers)`().get_all(name)`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// All request headers, in order.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The `Origin` header (at most one is accepted), if any. Browsers always send it:
    /// check it against your allowed origins to stop cross-site WebSocket hijacking.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The `Host` header (exactly one, non-empty, is accepted). For an absolute-form target
    /// (`GET ws://host/path`) this is still the `Host` header, not the target's authority.
    /// Over HTTP/2: the `:authority`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The offered subprotocols, in the client's order of preference (all lines combined).
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The offered extensions, parsed (all lines combined).
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// The `Sec-WebSocket-Key` value (base64 of 16 bytes); `None` over HTTP/2, which has no
    /// key.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The status of the response that accepts the request: 101 (HTTP/1.1) or 200
    /// (extended CONNECT).
    pub fn accept_status(&self) -> u16 {
        match self.form {
            HandshakeForm::Http11Upgrade => 101,
            HandshakeForm::ExtendedConnect => 200,
        }
    }

    /// Bytes received after the request head: the first WebSocket frames. Feed them to the
    /// connection before anything read later.
    pub fn leftover(&self) -> &[u8] {
        &self.leftover
    }

    /// Takes the leftover bytes.
    pub fn into_leftover(self) -> Vec<u8> {
        self.leftover
    }

    /// The headers of the response that accepts the request, with status
    /// [`accept_status`](Self::accept_status) (for an HTTP server that writes the response
    /// itself): over HTTP/1.1 `Upgrade`, `Connection` and `Sec-WebSocket-Accept`, then (both
    /// forms) the chosen subprotocol and extensions and the extra headers. Fails if the
    /// subprotocol or an extension was not offered, the extensions value does not parse, or an
    /// extra header is invalid or reserved.
    pub fn accept_headers(
        &self,
        accept: &Accept<'_>,
    ) -> Result<Vec<(String, String)>, HandshakeError> {
        if let Some(p) = accept.protocol {
            if !self.protocols.iter().any(|o| o == p) {
                return Err(HandshakeError::ProtocolNotOffered);
            }
        }
        let mut extensions = None;
        if let Some(v) = accept.extensions {
            let chosen = parse_extension_list_bounded(
                v,
                self.limits.max_extensions,
                self.limits.max_extension_params,
            )
            .map_err(HandshakeError::InvalidExtensionsValue)?;
            if let Some(e) = chosen.iter().find(|c| {
                !self
                    .extensions
                    .iter()
                    .any(|o| o.name.eq_ignore_ascii_case(&c.name))
            }) {
                return Err(HandshakeError::ExtensionNotOffered {
                    name: e.name.clone(),
                });
            }
            if !chosen.is_empty() {
                extensions = Some(v);
            }
        }
        check_extra_headers(accept.headers, ACCEPT_RESERVED)?;
        let mut out: Vec<(String, String)> = Vec::with_capacity(5 + accept.headers.len());
        if let Some(key) = &self.key {
            out.push(("Upgrade".into(), "websocket".into()));
            out.push(("Connection".into(), "Upgrade".into()));
            out.push(("Sec-WebSocket-Accept".into(), accept_key(key)));
        }
        if let Some(p) = accept.protocol {
            out.push(("Sec-WebSocket-Protocol".into(), p.into()));
        }
        if let Some(v) = extensions {
            out.push(("Sec-WebSocket-Extensions".into(), v.into()));
        }
        for (n, v) in accept.headers {
            out.push(((*n).into(), (*v).into()));
        }
        Ok(out)
    }

    /// Appends the 101 Switching Protocols response ([`accept_headers`](Self::accept_headers)).
    /// Fails, writing nothing, on what makes `accept_headers` fail, and with
    /// [`HandshakeError::NotHttp11`] for a request that came over HTTP/2.
    pub fn accept(&self, accept: &Accept<'_>, out: &mut Vec<u8>) -> Result<(), HandshakeError> {
        self.require_http11()?;
        let headers = self.accept_headers(accept)?;
        write_status_line(out, 101);
        for (n, v) in &headers {
            write_header(out, n, v);
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Appends a rejection: see [`write_rejection`]. Fails with [`HandshakeError::NotHttp11`]
    /// for a request that came over HTTP/2.
    pub fn reject(
        &self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), HandshakeError> {
        self.require_http11()?;
        write_rejection(status, headers, body, out)
    }

    fn require_http11(&self) -> Result<(), HandshakeError> {
        match self.form {
            HandshakeForm::Http11Upgrade => Ok(()),
            HandshakeForm::ExtendedConnect => Err(HandshakeError::NotHttp11),
        }
    }
}

/// Appends a complete HTTP/1.1 response with `status` (200..=599), the extra `headers`, a
/// `Content-Length` for `body`, and `body`. Fails, writing nothing, on another status or an
/// invalid header (control characters, a name that is not a token, or `Content-Length` /
/// `Transfer-Encoding`, which this function writes itself).
pub fn write_rejection(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), HandshakeError> {
    if !(200..=599).contains(&status) {
        return Err(HandshakeError::InvalidStatus { status });
    }
    check_extra_headers(headers, REJECT_RESERVED)?;
    write_status_line(out, status);
    for (n, v) in headers {
        write_header(out, n, v);
    }
    write_header(out, "Content-Length", &alloc::format!("{}", body.len()));
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::chunking::all_ways;
    use crate::handshake::ExtensionParseError;
    use alloc::format;
    use alloc::vec;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    /// The RFC 6455 section 1.2 example request, with `replace` applied to its lines:
    /// `(prefix, Some(new))` replaces the line starting with `prefix`, `(prefix, None)`
    /// drops it; a prefix matching no line appends `new`.
    fn request(replace: &[(&str, Option<&str>)]) -> Vec<u8> {
        let mut lines: Vec<String> = [
            "GET /chat HTTP/1.1",
            "Host: server.example.com",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Origin: http://example.com",
            "Sec-WebSocket-Protocol: chat, superchat",
            "Sec-WebSocket-Version: 13",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (prefix, new) in replace {
            match lines.iter().position(|l| l.starts_with(prefix)) {
                Some(i) => match new {
                    Some(n) => lines[i] = n.to_string(),
                    None => {
                        lines.remove(i);
                    }
                },
                None => lines.push(new.unwrap().to_string()),
            }
        }
        let mut out = lines.join("\r\n").into_bytes();
        out.extend_from_slice(b"\r\n\r\n");
        out
    }

    fn parse_with(
        input: &[u8],
        limits: HandshakeLimits,
    ) -> Result<Option<Request>, HandshakeError> {
        all_ways(
            input,
            || ServerHandshake::new(limits),
            |s, b| s.handle_input(b),
        )
    }

    fn parse(input: &[u8]) -> Result<Request, HandshakeError> {
        parse_with(input, HandshakeLimits::default()).map(|r| r.expect("complete head"))
    }

    #[test]
    fn rfc_example_request() {
        let r = parse(&request(&[])).unwrap();
        assert_eq!(r.method(), "GET");
        assert_eq!(r.path(), "/chat");
        assert_eq!(r.query(), None);
        assert_eq!(r.host(), "server.example.com");
        assert_eq!(r.origin(), Some("http://example.com"));
        assert_eq!(r.key(), Some(KEY));
        assert_eq!(r.protocols(), ["chat", "superchat"]);
        assert!(r.extensions().is_empty());
        assert_eq!(r.header("sec-websocket-version"), Some("13"));
        assert_eq!(r.headers().len(), 7);
        assert!(r.leftover().is_empty());
        let mut out = Vec::new();
        r.accept(
            &Accept {
                protocol: Some("chat"),
                ..Accept::default()
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
              Sec-WebSocket-Protocol: chat\r\n\r\n"
        );
    }

    #[test]
    fn accepted_variants() {
        type Check = fn(&Request);
        let cases: Vec<(Vec<u8>, Check)> = vec![
            (request(&[("GET", Some("GET /a/b?x=1&y HTTP/1.1"))]), |r| {
                assert_eq!((r.path(), r.query()), ("/a/b", Some("x=1&y")));
            }),
            (request(&[("GET", Some("GET /? HTTP/1.1"))]), |r| {
                assert_eq!((r.path(), r.query()), ("/", Some("")));
            }),
            (
                request(&[("GET", Some("GET ws://h:1/p?q HTTP/1.1"))]),
                |r| {
                    assert_eq!((r.path(), r.query()), ("/p", Some("q")));
                },
            ),
            (request(&[("GET", Some("GET https://h HTTP/1.1"))]), |r| {
                assert_eq!((r.path(), r.query()), ("/", None));
            }),
            (request(&[("Upgrade", Some("upgrade: WebSocket"))]), |_| {}),
            (
                request(&[("Upgrade", Some("Upgrade: h2c, websocket"))]),
                |_| {},
            ),
            (
                request(&[("Connection", Some("Connection: keep-alive, upgrade"))]),
                |_| {},
            ),
            (
                request(&[
                    ("Connection", Some("Connection: keep-alive")),
                    ("X", Some("Connection: Upgrade")),
                ]),
                |_| {},
            ),
            (
                request(&[("Sec-WebSocket-Version", Some("Sec-WebSocket-Version:  13 "))]),
                |_| {},
            ),
            (
                request(&[(
                    "Sec-WebSocket-Key",
                    Some("Sec-WebSocket-Key:  AAAAAAAAAAAAAAAAAAAAAA== "),
                )]),
                |r| {
                    assert_eq!(r.key(), Some("AAAAAAAAAAAAAAAAAAAAAA=="));
                },
            ),
            (request(&[("Origin", None)]), |r| {
                assert_eq!(r.origin(), None)
            }),
            (request(&[("Sec-WebSocket-Protocol", None)]), |r| {
                assert!(r.protocols().is_empty())
            }),
            (
                request(&[
                    (
                        "Sec-WebSocket-Protocol",
                        Some("Sec-WebSocket-Protocol: a, ,b,"),
                    ),
                    ("X", Some("Sec-WebSocket-Protocol: c")),
                ]),
                |r| assert_eq!(r.protocols(), ["a", "b", "c"]),
            ),
            (
                request(&[
                    (
                        "X",
                        Some(
                            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
                        ),
                    ),
                    ("Y", Some("Sec-WebSocket-Extensions: foo")),
                ]),
                |r| {
                    let names: Vec<&str> = r.extensions().iter().map(|e| e.name.as_str()).collect();
                    assert_eq!(names, ["permessage-deflate", "foo"]);
                    assert_eq!(r.extensions()[0].params[0].name, "client_max_window_bits");
                },
            ),
            (request(&[("X", Some("Content-Length: 0"))]), |_| {}),
            (request(&[("X", Some("X-Name: caf\u{e9}"))]), |r| {
                assert_eq!(r.header("x-name"), Some("caf\u{e9}"));
            }),
        ];
        for (input, check) in cases {
            match parse(&input) {
                Ok(r) => check(&r),
                Err(e) => panic!("{:?}: {e:?}", input.escape_ascii().to_string()),
            }
        }
    }

    #[test]
    fn rejected_requests_and_their_responses() {
        use HandshakeError as E;
        let p15 = format!(
            "Sec-WebSocket-Key: {}",
            base64::engine::general_purpose::STANDARD.encode([1u8; 15])
        );
        let p17 = format!(
            "Sec-WebSocket-Key: {}",
            base64::engine::general_purpose::STANDARD.encode([1u8; 17])
        );
        let many = format!("Sec-WebSocket-Protocol: {}", vec!["p"; 33].join(","));
        let cases: Vec<(Vec<u8>, HandshakeError, u16)> = vec![
            (
                request(&[("GET", Some("POST /chat HTTP/1.1"))]),
                E::MethodNotAllowed,
                405,
            ),
            (
                request(&[("GET", Some("get /chat HTTP/1.1"))]),
                E::MethodNotAllowed,
                405,
            ),
            (
                request(&[("GET", Some("GET /chat HTTP/1.0"))]),
                E::UnsupportedHttpVersion,
                400,
            ),
            (
                request(&[("GET", Some("GET * HTTP/1.1"))]),
                E::InvalidRequestTarget,
                400,
            ),
            (
                request(&[("GET", Some("GET /a#f HTTP/1.1"))]),
                E::InvalidRequestTarget,
                400,
            ),
            (
                request(&[("GET", Some("GET ws:///p HTTP/1.1"))]),
                E::InvalidRequestTarget,
                400,
            ),
            (
                request(&[("GET", Some("GET 1ws://h/p HTTP/1.1"))]),
                E::InvalidRequestTarget,
                400,
            ),
            (
                request(&[("GET", Some("GET  /chat HTTP/1.1"))]),
                E::MalformedHead {
                    reason: "invalid token in the start line",
                },
                400,
            ),
            (request(&[("Host", None)]), E::MissingHost, 400),
            (request(&[("Host", Some("Host: "))]), E::MissingHost, 400),
            (
                request(&[("X", Some("Host: other"))]),
                E::DuplicateHeader { name: "Host" },
                400,
            ),
            (
                request(&[("Upgrade", None)]),
                E::MissingUpgradeWebSocket,
                400,
            ),
            (
                request(&[("Upgrade", Some("Upgrade: h2c"))]),
                E::MissingUpgradeWebSocket,
                400,
            ),
            (
                request(&[("Upgrade", Some("Upgrade: websocket/13"))]),
                E::MissingUpgradeWebSocket,
                400,
            ),
            (
                request(&[("Connection", None)]),
                E::MissingConnectionUpgrade,
                400,
            ),
            (
                request(&[("Connection", Some("Connection: keep-alive"))]),
                E::MissingConnectionUpgrade,
                400,
            ),
            (
                request(&[("Sec-WebSocket-Version", None)]),
                E::MissingVersion,
                426,
            ),
            (
                request(&[("Sec-WebSocket-Version", Some("Sec-WebSocket-Version: 8"))]),
                E::UnsupportedVersion,
                426,
            ),
            (
                request(&[(
                    "Sec-WebSocket-Version",
                    Some("Sec-WebSocket-Version: 13, 8"),
                )]),
                E::UnsupportedVersion,
                426,
            ),
            (
                request(&[("X", Some("Sec-WebSocket-Version: 13"))]),
                E::DuplicateHeader {
                    name: "Sec-WebSocket-Version",
                },
                400,
            ),
            (request(&[("Sec-WebSocket-Key", None)]), E::MissingKey, 400),
            (
                request(&[("Sec-WebSocket-Key", Some("Sec-WebSocket-Key: abc"))]),
                E::InvalidKey,
                400,
            ),
            (
                request(&[("Sec-WebSocket-Key", Some(&p15))]),
                E::InvalidKey,
                400,
            ),
            (
                request(&[("Sec-WebSocket-Key", Some(&p17))]),
                E::InvalidKey,
                400,
            ),
            (
                request(&[(
                    "Sec-WebSocket-Key",
                    Some("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=!"),
                )]),
                E::InvalidKey,
                400,
            ),
            (
                request(&[(
                    "Sec-WebSocket-Key",
                    Some("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR=="),
                )]),
                E::InvalidKey,
                400,
            ),
            (
                request(&[("X", Some("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="))]),
                E::DuplicateHeader {
                    name: "Sec-WebSocket-Key",
                },
                400,
            ),
            (
                request(&[(
                    "Sec-WebSocket-Protocol",
                    Some("Sec-WebSocket-Protocol: a b"),
                )]),
                E::InvalidProtocolList,
                400,
            ),
            (
                request(&[(
                    "Sec-WebSocket-Protocol",
                    Some("Sec-WebSocket-Protocol: a/b"),
                )]),
                E::InvalidProtocolList,
                400,
            ),
            (
                request(&[("Sec-WebSocket-Protocol", Some(&many))]),
                E::TooManyProtocols { limit: 32 },
                400,
            ),
            (
                request(&[("X", Some("Sec-WebSocket-Extensions: permessage-deflate;;"))]),
                E::InvalidExtensions(ExtensionParseError::ExpectedParamName { at: 19 }),
                400,
            ),
            (
                request(&[("X", Some("Transfer-Encoding: chunked"))]),
                E::UnexpectedBody,
                400,
            ),
            (
                request(&[("X", Some("Content-Length: 5"))]),
                E::UnexpectedBody,
                400,
            ),
            (
                request(&[("X", Some("Origin: http://evil.example"))]),
                E::DuplicateHeader { name: "Origin" },
                400,
            ),
            (
                request(&[("X", Some("X-Bad: a\u{1}b"))]),
                E::MalformedHead {
                    reason: "invalid header value",
                },
                400,
            ),
            (
                request(&[("X", Some("Bad Name: a"))]),
                E::MalformedHead {
                    reason: "invalid header name",
                },
                400,
            ),
            (
                request(&[("X", Some(" folded"))]),
                E::MalformedHead {
                    reason: "invalid header name",
                },
                400,
            ),
        ];
        for (input, want, status) in cases {
            let got = parse_with(&input, HandshakeLimits::default());
            assert_eq!(
                got,
                Err(want.clone()),
                "{:?}",
                input.escape_ascii().to_string()
            );
            assert_eq!(want.status(), Some(status), "{want:?}");
        }
        // A non-UTF-8 value (obs-text) is refused rather than hidden.
        let mut latin1 = request(&[("Origin", None)]);
        let at = latin1.len() - 2;
        latin1.splice(at..at, b"X-L: caf\xe9\r\n".iter().copied());
        assert_eq!(
            parse_with(&latin1, HandshakeLimits::default()),
            Err(E::NonUtf8HeaderValue)
        );
    }

    #[test]
    fn a_plain_get_is_told_to_upgrade_and_a_malformed_upgrade_is_a_bad_request() {
        use HandshakeError as E;
        let plain = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
        let err = ServerHandshake::new(HandshakeLimits::default())
            .handle_input(plain)
            .unwrap_err();
        assert_eq!((err.clone(), err.status()), (E::NotAnUpgrade, Some(426)));
        let h2c = request(&[("Upgrade", Some("Upgrade: h2c"))]);
        let err = ServerHandshake::new(HandshakeLimits::default())
            .handle_input(&h2c)
            .unwrap_err();
        assert_eq!(
            (err.clone(), err.status()),
            (E::MissingUpgradeWebSocket, Some(400))
        );
        let no_connection = request(&[("Connection", None)]);
        let err = ServerHandshake::new(HandshakeLimits::default())
            .handle_input(&no_connection)
            .unwrap_err();
        assert_eq!(err.status(), Some(400));
    }

    #[test]
    fn a_request_parsed_elsewhere_is_judged_and_answered_the_same() {
        let raw = request(&[]);
        let mut hs = ServerHandshake::new(HandshakeLimits::default());
        let read = hs.handle_input(&raw).unwrap().unwrap();
        let pairs: Vec<(&str, &[u8])> = read
            .headers()
            .iter()
            .map(|(n, v)| (n, v.as_bytes()))
            .collect();
        let parts = Request::from_parts(
            "GET",
            true,
            "/chat",
            Headers::from_pairs(pairs).unwrap(),
            HandshakeLimits::default(),
            Vec::new(),
        )
        .unwrap();
        assert_eq!(parts, read);
        let accept = Accept {
            protocol: Some("chat"),
            ..Accept::default()
        };
        let mut written = Vec::new();
        read.accept(&accept, &mut written).unwrap();
        let text = core::str::from_utf8(&written).unwrap();
        for (n, v) in parts.accept_headers(&accept).unwrap() {
            assert!(text.contains(&format!("{n}: {v}\r\n")), "{text}");
        }
        assert_eq!(
            parts.accept_headers(&Accept {
                protocol: Some("other"),
                ..Accept::default()
            }),
            Err(HandshakeError::ProtocolNotOffered)
        );
        let bad = Request::from_parts(
            "GET",
            false,
            "/chat",
            Headers::default(),
            HandshakeLimits::default(),
            Vec::new(),
        );
        assert_eq!(bad, Err(HandshakeError::UnsupportedHttpVersion));
    }

    #[test]
    fn error_responses_are_complete_http() {
        use HandshakeError as E;
        let cases: &[(HandshakeError, &[&str])] = &[
            (
                E::UnsupportedVersion,
                &["Sec-WebSocket-Version: 13", "Upgrade: websocket"],
            ),
            (E::MissingVersion, &["Sec-WebSocket-Version: 13"]),
            (
                E::NotAnUpgrade,
                &[
                    "HTTP/1.1 426 Upgrade Required",
                    "Upgrade: websocket",
                    "Connection: Upgrade, close",
                    "this is a WebSocket endpoint",
                ],
            ),
            (E::MethodNotAllowed, &["Allow: GET"]),
            (E::HeadTooLarge { limit: 16384 }, &["Connection: close"]),
            (E::TooManyHeaders { limit: 64 }, &["Connection: close"]),
            (E::InvalidKey, &["Connection: close"]),
        ];
        for (err, must) in cases {
            let mut out = Vec::new();
            assert!(err.write_response(&mut out));
            let mut hs = [httparse::EMPTY_HEADER; 8];
            let mut resp = httparse::Response::new(&mut hs);
            let n = match resp.parse(&out).unwrap() {
                httparse::Status::Complete(n) => n,
                httparse::Status::Partial => panic!("partial"),
            };
            assert_eq!(resp.code, err.status());
            let text = core::str::from_utf8(&out).unwrap();
            for m in *must {
                assert!(
                    text.contains(&format!("{m}\r\n")) || text.contains(&format!("{m}:")),
                    "{err:?}: {text}"
                );
            }
            let len: usize = resp
                .headers
                .iter()
                .find(|h| h.name == "Content-Length")
                .map(|h| core::str::from_utf8(h.value).unwrap().parse().unwrap())
                .unwrap();
            assert_eq!(out.len() - n, len);
        }
        for err in [
            E::AcceptMismatch,
            E::MissingAccept,
            E::Finished,
            E::InvalidHost,
        ] {
            let mut out = Vec::new();
            assert!(!err.write_response(&mut out));
            assert!(out.is_empty());
            assert_eq!(err.status(), None);
        }
    }

    #[test]
    fn accept_validates_before_writing() {
        use HandshakeError as E;
        let r = parse(&request(&[(
            "X",
            Some("Sec-WebSocket-Extensions: permessage-deflate"),
        )]))
        .unwrap();
        let bad: &[(Accept<'_>, HandshakeError)] = &[
            (
                Accept {
                    protocol: Some("nope"),
                    ..Accept::default()
                },
                E::ProtocolNotOffered,
            ),
            (
                Accept {
                    protocol: Some("Chat"),
                    ..Accept::default()
                },
                E::ProtocolNotOffered,
            ),
            (
                Accept {
                    extensions: Some("x-other"),
                    ..Accept::default()
                },
                E::ExtensionNotOffered {
                    name: "x-other".into(),
                },
            ),
            (
                Accept {
                    extensions: Some("permessage-deflate\r\nX: 1"),
                    ..Accept::default()
                },
                E::InvalidExtensionsValue(ExtensionParseError::UnexpectedCharacter { at: 18 }),
            ),
            (
                Accept {
                    headers: &[("Set-Cookie", "a=1\r\nX: y")],
                    ..Accept::default()
                },
                E::InvalidHeaderValue {
                    name: "Set-Cookie".into(),
                },
            ),
            (
                Accept {
                    headers: &[("Set Cookie", "a")],
                    ..Accept::default()
                },
                E::InvalidHeaderName {
                    name: "Set Cookie".into(),
                },
            ),
            (
                Accept {
                    headers: &[("sec-websocket-accept", "x")],
                    ..Accept::default()
                },
                E::ReservedHeader {
                    name: "sec-websocket-accept".into(),
                },
            ),
            (
                Accept {
                    headers: &[("X", "nul\0")],
                    ..Accept::default()
                },
                E::InvalidHeaderValue { name: "X".into() },
            ),
        ];
        for (accept, want) in bad {
            let mut out = b"keep".to_vec();
            assert_eq!(r.accept(accept, &mut out), Err(want.clone()));
            assert_eq!(out, b"keep", "nothing appended for {want:?}");
        }
        let mut out = Vec::new();
        let ok = Accept {
            protocol: Some("superchat"),
            extensions: Some("permessage-deflate; server_no_context_takeover"),
            headers: &[("Set-Cookie", "id=1")],
        };
        r.accept(&ok, &mut out).unwrap();
        let text = core::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(text.contains("\r\nSec-WebSocket-Protocol: superchat\r\n"));
        assert!(text.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
        ));
        assert!(text.ends_with("\r\nSet-Cookie: id=1\r\n\r\n"));
        // An empty extensions value writes no header.
        let mut out = Vec::new();
        r.accept(
            &Accept {
                extensions: Some(""),
                ..Accept::default()
            },
            &mut out,
        )
        .unwrap();
        assert!(!core::str::from_utf8(&out).unwrap().contains("Extensions"));
    }

    #[test]
    fn reject_writes_any_final_status() {
        let r = parse(&request(&[])).unwrap();
        let mut out = Vec::new();
        r.reject(403, &[("X-Why", "origin")], b"denied", &mut out)
            .unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 403 Forbidden\r\nX-Why: origin\r\nContent-Length: 6\r\n\r\ndenied"
        );
        let mut out = Vec::new();
        write_rejection(599, &[], b"", &mut out).unwrap();
        assert_eq!(out, b"HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n");
        for status in [0, 101, 199, 600, 999] {
            assert_eq!(
                r.reject(status, &[], b"", &mut out),
                Err(HandshakeError::InvalidStatus { status })
            );
        }
        let mut out = Vec::new();
        assert_eq!(
            r.reject(400, &[("Content-Length", "1")], b"", &mut out),
            Err(HandshakeError::ReservedHeader {
                name: "Content-Length".into()
            })
        );
        assert_eq!(
            r.reject(302, &[("Location", "/a\r\nSet-Cookie: x")], b"", &mut out),
            Err(HandshakeError::InvalidHeaderValue {
                name: "Location".into()
            })
        );
        assert!(out.is_empty());
    }

    #[test]
    fn leftover_and_finished() {
        let mut input = request(&[]);
        let head_len = input.len();
        input.extend_from_slice(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
        for split in 0..=input.len() {
            let mut s = ServerHandshake::new(HandshakeLimits::default());
            let (a, b) = input.split_at(split);
            let mut seen = Vec::new();
            let mut done = false;
            for chunk in [a, b] {
                if done {
                    assert_eq!(s.handle_input(chunk), Err(HandshakeError::Finished));
                    seen.extend_from_slice(chunk);
                } else if let Some(r) = s.handle_input(chunk).unwrap() {
                    seen.extend_from_slice(r.leftover());
                    done = true;
                }
            }
            assert!(done);
            assert_eq!(seen, &input[head_len..], "split {split}");
        }
        // After an error the handshake stays failed.
        let mut s = ServerHandshake::new(HandshakeLimits::default());
        assert!(s.handle_input(b"POST / HTTP/1.1\r\n\r\n").is_err());
        assert_eq!(s.handle_input(b"GET"), Err(HandshakeError::Finished));
    }

    /// Regression for tungstenite CVE-2023-43669 at the handshake level: 1 MiB sent in
    /// 2-byte chunks is cut off by max_head_size after scanning 16 KiB + 1 bytes, and with a
    /// large limit the whole head is scanned exactly once.
    #[test]
    fn slow_huge_request_is_linear() {
        let mut input = request(&[]);
        input.truncate(input.len() - 2);
        let filler = format!("X-Filler: {}\r\n\r\n", "a".repeat(1 << 20));
        input.extend_from_slice(filler.as_bytes());
        let mut s = ServerHandshake::new(HandshakeLimits::default());
        let mut fed = 0;
        let err = input
            .chunks(2)
            .find_map(|c| {
                fed += c.len();
                s.handle_input(c).err()
            })
            .unwrap();
        assert_eq!(err, HandshakeError::HeadTooLarge { limit: 16384 });
        assert_eq!(err.status(), Some(431));
        assert!(fed <= 16384 + 2);
        assert_eq!(s.reader.scanned, 16385);

        let big = HandshakeLimits {
            max_head_size: 2 << 20,
            ..HandshakeLimits::default()
        };
        let mut s = ServerHandshake::new(big);
        let mut got = None;
        for c in input.chunks(5) {
            if let Some(r) = s.handle_input(c).unwrap() {
                got = Some(r);
            }
        }
        assert_eq!(got.unwrap().header("x-filler").map(str::len), Some(1 << 20));
        assert_eq!(s.reader.scanned, input.len());
    }

    #[test]
    fn header_flood_has_its_own_error() {
        let mut input = request(&[]);
        input.truncate(input.len() - 2);
        for i in 0..10_000 {
            input.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        let mut s = ServerHandshake::new(HandshakeLimits {
            max_head_size: 1 << 20,
            ..HandshakeLimits::default()
        });
        let err = input
            .chunks(7)
            .find_map(|c| s.handle_input(c).err())
            .unwrap();
        assert_eq!(err, HandshakeError::TooManyHeaders { limit: 64 });
        assert_eq!(err.status(), Some(431));
        // Cut off at the 65th header line, not at the end of the flood.
        assert!(s.reader.scanned < 1024);
    }
}
