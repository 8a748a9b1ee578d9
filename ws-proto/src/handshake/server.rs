//! Server side: read and validate the upgrade request, then write the 101 or a rejection.
//!
//! Invariants: a [`Request`] exists only for a request that passed every check of RFC 6455
//! section 4.2.1 (GET, HTTP/1.1, Host, `Upgrade: websocket`, `Connection: upgrade`,
//! `Sec-WebSocket-Version: 13`, a key of exactly 16 bytes, token subprotocols within
//! `max_protocols`, a well-formed extension list within its bounds, no body); every failure
//! is a [`HandshakeError`] whose [`write_response`](HandshakeError::write_response) writes the
//! answer. [`Request::accept`] and [`write_rejection`] validate everything before appending a
//! single byte.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;

use super::extensions::{is_token, parse_extension_list_bounded, ExtensionOffer};
use super::head::{httparse_error, HeadReader, Headers};
use super::{
    accept_key, check_extra_headers, write_header, write_status_line, HandshakeError,
    HandshakeLimits,
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
        let method = req.method.unwrap_or("");
        if method != "GET" {
            return Err(HandshakeError::MethodNotAllowed);
        }
        if req.version != Some(1) {
            return Err(HandshakeError::UnsupportedHttpVersion);
        }
        let (path, query) = split_target(req.path.unwrap_or(""))?;
        let headers = Headers::from_httparse(req.headers)?;
        let host = headers
            .single("Host")?
            .ok_or(HandshakeError::MissingHost)?
            .to_string();
        if headers.count("Transfer-Encoding") > 0
            || headers
                .get_all("Content-Length")
                .any(|v| v.trim_matches([' ', '\t']) != "0")
        {
            return Err(HandshakeError::UnexpectedBody);
        }
        if !headers.has_token("upgrade", "websocket") {
            return Err(HandshakeError::MissingUpgradeWebSocket);
        }
        if !headers.has_token("connection", "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        let version = headers
            .single("Sec-WebSocket-Version")?
            .ok_or(HandshakeError::MissingVersion)?;
        if version.trim_matches([' ', '\t']) != "13" {
            return Err(HandshakeError::UnsupportedVersion);
        }
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
            if protocols.len() == self.limits.max_protocols {
                return Err(HandshakeError::TooManyProtocols {
                    limit: self.limits.max_protocols,
                });
            }
            protocols.push(p.to_string());
        }
        let extensions = match headers.combined("Sec-WebSocket-Extensions") {
            None => Vec::new(),
            Some(v) => parse_extension_list_bounded(
                &v,
                self.limits.max_extensions,
                self.limits.max_extension_params,
            )
            .map_err(HandshakeError::InvalidExtensions)?,
        };
        let origin = headers.single("Origin")?.map(String::from);
        Ok(Some(Request {
            limits: self.limits,
            method: method.to_string(),
            path,
            query,
            host,
            origin,
            key,
            protocols,
            extensions,
            headers,
            leftover: raw.leftover,
        }))
    }
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
    method: String,
    path: String,
    query: Option<String>,
    host: String,
    origin: Option<String>,
    key: String,
    protocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
    headers: Headers,
    leftover: Vec<u8>,
}

impl Request {
    /// The method (always `GET`).
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

    /// The value of the first header called `name` (ASCII case-insensitive).
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

    /// The `Host` header (exactly one is accepted).
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

    /// The `Sec-WebSocket-Key` value (base64 of 16 bytes).
    pub fn key(&self) -> &str {
        &self.key
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

    /// Appends the 101 Switching Protocols response. Fails, writing nothing, if the
    /// subprotocol or an extension was not offered, the extensions value does not parse, or
    /// an extra header is invalid or reserved.
    pub fn accept(&self, accept: &Accept<'_>, out: &mut Vec<u8>) -> Result<(), HandshakeError> {
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
        write_status_line(out, 101);
        write_header(out, "Upgrade", "websocket");
        write_header(out, "Connection", "Upgrade");
        write_header(out, "Sec-WebSocket-Accept", &accept_key(&self.key));
        if let Some(p) = accept.protocol {
            write_header(out, "Sec-WebSocket-Protocol", p);
        }
        if let Some(v) = extensions {
            write_header(out, "Sec-WebSocket-Extensions", v);
        }
        for (n, v) in accept.headers {
            write_header(out, n, v);
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Appends a rejection: see [`write_rejection`].
    pub fn reject(
        &self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), HandshakeError> {
        write_rejection(status, headers, body, out)
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
