//! [`HandshakeError`]: every way a handshake can fail, and for the failures a server detects,
//! the HTTP response it sends back.
//!
//! Invariant: one variant per failure; `status()` is `Some` exactly for the failures a server
//! detects in a client's request, and `write_response` writes that status and nothing for the
//! rest (failures a client detects in a response, and local misuse of the API). Display texts
//! never echo peer bytes, so they are safe to send as a response body.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::ExtensionParseError;

/// Why a handshake failed (or why a request could not be built).
///
/// Three kinds of variant, told apart by [`status`](Self::status):
/// - the peer's head broke a rule or a limit: a server sends back the response
///   [`write_response`](Self::write_response) writes (400, 405, 426 or 431);
/// - a client found the server's response invalid: no response, drop the connection;
/// - the local caller passed something that cannot be written (a header value with CR/LF,
///   a protocol that is not a token...): nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    // ---- limits (the peer's head) ----
    /// The head exceeds [`HandshakeLimits::max_head_size`](super::HandshakeLimits::max_head_size).
    /// Server response: 431.
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The head has more header lines than
    /// [`HandshakeLimits::max_headers`](super::HandshakeLimits::max_headers). Server response: 431.
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// The client offered more subprotocols than
    /// [`HandshakeLimits::max_protocols`](super::HandshakeLimits::max_protocols).
    /// Server response: 400.
    TooManyProtocols {
        /// The limit.
        limit: usize,
    },

    // ---- the head's syntax (both roles) ----
    /// A line feed not preceded by a carriage return. Lines must end with CRLF: a bare LF is
    /// rejected rather than guessed at, so every parser on the path agrees where the head
    /// ends. Server response: 400.
    BareLineFeed,
    /// A carriage return not followed by a line feed. Server response: 400.
    BareCarriageReturn,
    /// The head is not valid HTTP/1.1 (`reason` says what httparse rejected, or that the head
    /// starts with an empty line). Server response: 400.
    MalformedHead {
        /// What was wrong.
        reason: &'static str,
    },
    /// A header value is not valid UTF-8 (obsolete `obs-text`). Rejected so that every value
    /// is available as `&str` and none is silently hidden. Server response: 400.
    NonUtf8HeaderValue,
    /// The HTTP version is not 1.1 (requests) or the 101 response is not HTTP/1.1.
    /// Server response: 400.
    UnsupportedHttpVersion,
    /// A header that must appear at most once appeared several times. Server response: 400.
    DuplicateHeader {
        /// The header's name.
        name: &'static str,
    },
    /// `Upgrade` is missing or has no `websocket` token. Server response: 400.
    MissingUpgradeWebSocket,
    /// A plain request, with neither an `Upgrade` header nor `Connection: upgrade`: not a
    /// WebSocket request at all. Server response: 426 Upgrade Required, with
    /// `Upgrade: websocket`.
    NotAnUpgrade,
    /// `Connection` is missing or has no `upgrade` token. Server response: 400.
    MissingConnectionUpgrade,
    /// Over HTTP/2, a request other than `CONNECT` on a WebSocket endpoint. Server
    /// response: 400.
    NotExtendedConnect,
    /// A `CONNECT` without the `:protocol` pseudo-header (a tunnel request, not WebSocket).
    /// Server response: 400.
    MissingProtocolPseudoHeader,
    /// An extended CONNECT whose `:protocol` is not `websocket`. Server response: 400.
    UnsupportedProtocolPseudoHeader,

    // ---- the client's request (detected by a server) ----
    /// The method is not `GET`. Server response: 405 with `Allow: GET`.
    MethodNotAllowed,
    /// The request target is not `/path[?query]` or an absolute URI, or has a fragment.
    /// Server response: 400.
    InvalidRequestTarget,
    /// No `Host` header, or an empty one. Server response: 400.
    MissingHost,
    /// The request carries a body (`Transfer-Encoding` or a non-zero `Content-Length`), whose
    /// bytes would otherwise be taken for WebSocket frames. Server response: 400.
    UnexpectedBody,
    /// No `Sec-WebSocket-Version`. Server response: 426 with `Sec-WebSocket-Version: 13`.
    MissingVersion,
    /// `Sec-WebSocket-Version` is not `13`. Server response: 426 with
    /// `Sec-WebSocket-Version: 13`.
    UnsupportedVersion,
    /// No `Sec-WebSocket-Key`. Server response: 400.
    MissingKey,
    /// `Sec-WebSocket-Key` is not base64 of exactly 16 bytes. Server response: 400.
    InvalidKey,
    /// An offered subprotocol is not a token. Server response: 400.
    InvalidProtocolList,
    /// `Sec-WebSocket-Extensions` does not parse or exceeds its bounds (byte offsets are in
    /// the value of all such header lines joined with `", "`). Server response: 400.
    InvalidExtensions(ExtensionParseError),

    // ---- the server's response (detected by a client) ----
    /// The 101 response has no `Sec-WebSocket-Accept`.
    MissingAccept,
    /// `Sec-WebSocket-Accept` does not match the key sent.
    AcceptMismatch,
    /// The response's `Sec-WebSocket-Protocol` is not a single token.
    InvalidSelectedProtocol,
    /// The subprotocol chosen (by the server, or passed to [`Request::accept`]) was not
    /// offered by the client.
    ///
    /// [`Request::accept`]: super::Request::accept
    ProtocolNotOffered,
    /// The extension accepted (by the server, or passed to [`Request::accept`]) was not
    /// offered by the client.
    ///
    /// [`Request::accept`]: super::Request::accept
    ExtensionNotOffered {
        /// The extension's name.
        name: String,
    },

    // ---- local misuse: nothing was written ----
    /// The host to send is empty or contains bytes other than visible ASCII.
    InvalidHost,
    /// The path and query to send do not start with `/`, contain a fragment, or contain
    /// bytes other than visible ASCII.
    InvalidPathAndQuery,
    /// A header name to send is not a token.
    InvalidHeaderName {
        /// The offending name.
        name: String,
    },
    /// A header value to send contains a control character (CR, LF, NUL...).
    InvalidHeaderValue {
        /// The header's name.
        name: String,
    },
    /// An extra header to send would duplicate one the handshake writes itself.
    ReservedHeader {
        /// The header's name.
        name: String,
    },
    /// A subprotocol to send is not a token.
    InvalidProtocolName {
        /// The offending subprotocol.
        protocol: String,
    },
    /// An extensions value to send does not parse.
    InvalidExtensionsValue(ExtensionParseError),
    /// A rejection status outside 200..=599.
    InvalidStatus {
        /// The status passed.
        status: u16,
    },
    /// `handle_input` was called after the handshake had already completed or failed.
    Finished,
    /// [`Request::accept`] or [`Request::reject`] on a request that came over HTTP/2: its
    /// response is sent by the HTTP/2 server ([`Request::accept_status`],
    /// [`Request::accept_headers`]), not written as HTTP/1.1 bytes.
    ///
    /// [`Request::accept`]: super::Request::accept
    /// [`Request::reject`]: super::Request::reject
    /// [`Request::accept_status`]: super::Request::accept_status
    /// [`Request::accept_headers`]: super::Request::accept_headers
    NotHttp11,
}

impl HandshakeError {
    /// The HTTP status a server sends back for this failure, or `None` for failures a client
    /// detects and for local misuse.
    pub fn status(&self) -> Option<u16> {
        use HandshakeError as E;
        Some(match self {
            E::HeadTooLarge { .. } | E::TooManyHeaders { .. } => 431,
            E::MethodNotAllowed => 405,
            E::MissingVersion | E::UnsupportedVersion | E::NotAnUpgrade => 426,
            E::TooManyProtocols { .. }
            | E::BareLineFeed
            | E::BareCarriageReturn
            | E::MalformedHead { .. }
            | E::NonUtf8HeaderValue
            | E::UnsupportedHttpVersion
            | E::DuplicateHeader { .. }
            | E::MissingUpgradeWebSocket
            | E::MissingConnectionUpgrade
            | E::NotExtendedConnect
            | E::MissingProtocolPseudoHeader
            | E::UnsupportedProtocolPseudoHeader
            | E::InvalidRequestTarget
            | E::MissingHost
            | E::UnexpectedBody
            | E::MissingKey
            | E::InvalidKey
            | E::InvalidProtocolList
            | E::InvalidExtensions(_) => 400,
            E::MissingAccept
            | E::AcceptMismatch
            | E::InvalidSelectedProtocol
            | E::ProtocolNotOffered
            | E::ExtensionNotOffered { .. }
            | E::InvalidHost
            | E::InvalidPathAndQuery
            | E::InvalidHeaderName { .. }
            | E::InvalidHeaderValue { .. }
            | E::ReservedHeader { .. }
            | E::InvalidProtocolName { .. }
            | E::InvalidExtensionsValue(_)
            | E::InvalidStatus { .. }
            | E::Finished
            | E::NotHttp11 => return None,
        })
    }

    /// Appends the complete HTTP response a server sends for this failure (status line,
    /// `Connection: close`, `Content-Type`, `Content-Length`, the extra headers the status
    /// needs — `Sec-WebSocket-Version: 13` for 426, `Allow: GET` for 405 — and this error's
    /// Display text as body). Returns `false` and writes nothing when [`status`](Self::status)
    /// is `None`. The caller then closes the connection.
    pub fn write_response(&self, out: &mut Vec<u8>) -> bool {
        let Some(status) = self.status() else {
            return false;
        };
        let body = self.response_body();
        super::write_status_line(out, status);
        for (n, v) in self.response_headers() {
            super::write_header(out, n, v);
        }
        super::write_header(out, "Content-Length", &alloc::format!("{}", body.len()));
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body.as_bytes());
        true
    }

    /// The headers of the response a server sends for this failure ([`status`](Self::status)
    /// is `Some`), but for `Content-Length`: for an HTTP server that writes the response
    /// itself. Empty for the other failures.
    pub fn response_headers(&self) -> Vec<(&'static str, &'static str)> {
        let Some(status) = self.status() else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(5);
        out.push((
            "Connection",
            if status == 426 {
                "Upgrade, close"
            } else {
                "close"
            },
        ));
        if status == 426 {
            out.push(("Sec-WebSocket-Version", "13"));
            out.push(("Upgrade", "websocket"));
        } else if status == 405 {
            out.push(("Allow", "GET"));
        }
        out.push(("Content-Type", "text/plain; charset=utf-8"));
        out
    }

    /// [`response_headers`](Self::response_headers) for an HTTP/2 response: without the
    /// connection-specific `Connection` and `Upgrade`, which HTTP/2 forbids.
    pub fn http2_response_headers(&self) -> Vec<(&'static str, &'static str)> {
        let mut headers = self.response_headers();
        headers.retain(|(n, _)| *n != "Connection" && *n != "Upgrade");
        headers
    }

    /// The body of the response a server sends for this failure: what was wrong, in a line.
    pub fn response_body(&self) -> String {
        alloc::format!("{self}\n")
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HandshakeError as E;
        match self {
            E::HeadTooLarge { limit } => {
                write!(
                    f,
                    "handshake head larger than {limit} bytes (max_head_size)"
                )
            }
            E::TooManyHeaders { limit } => {
                write!(f, "more than {limit} header lines (max_headers)")
            }
            E::TooManyProtocols { limit } => {
                write!(f, "more than {limit} subprotocols offered (max_protocols)")
            }
            E::BareLineFeed => f.write_str("line feed without carriage return in the head"),
            E::BareCarriageReturn => f.write_str("carriage return without line feed in the head"),
            E::MalformedHead { reason } => write!(f, "malformed HTTP head: {reason}"),
            E::NonUtf8HeaderValue => f.write_str("header value is not valid UTF-8"),
            E::UnsupportedHttpVersion => f.write_str("HTTP version must be 1.1"),
            E::DuplicateHeader { name } => write!(f, "header {name} appears more than once"),
            E::MissingUpgradeWebSocket => f.write_str("Upgrade header without websocket token"),
            E::NotAnUpgrade => f.write_str(
                "this is a WebSocket endpoint: send a WebSocket upgrade request \
                 (Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Version: 13, \
                 Sec-WebSocket-Key)",
            ),
            E::MissingConnectionUpgrade => f.write_str("Connection header without upgrade token"),
            E::NotExtendedConnect => f.write_str(
                "this is a WebSocket endpoint: over HTTP/2 send an extended CONNECT \
                 (:protocol websocket, Sec-WebSocket-Version: 13; RFC 8441)",
            ),
            E::MissingProtocolPseudoHeader => {
                f.write_str("CONNECT without :protocol (need :protocol websocket)")
            }
            E::UnsupportedProtocolPseudoHeader => {
                f.write_str("extended CONNECT with a :protocol other than websocket")
            }
            E::MethodNotAllowed => f.write_str("method must be GET"),
            E::InvalidRequestTarget => f.write_str("invalid request target"),
            E::MissingHost => f.write_str("missing Host header"),
            E::UnexpectedBody => f.write_str("upgrade request must not carry a body"),
            E::MissingVersion => f.write_str("missing Sec-WebSocket-Version header (need 13)"),
            E::UnsupportedVersion => f.write_str("unsupported Sec-WebSocket-Version (need 13)"),
            E::MissingKey => f.write_str("missing Sec-WebSocket-Key header"),
            E::InvalidKey => f.write_str("Sec-WebSocket-Key is not base64 of exactly 16 bytes"),
            E::InvalidProtocolList => f.write_str("Sec-WebSocket-Protocol element is not a token"),
            E::InvalidExtensions(e) => write!(f, "invalid Sec-WebSocket-Extensions: {e}"),
            E::MissingAccept => f.write_str("101 response without Sec-WebSocket-Accept"),
            E::AcceptMismatch => f.write_str("Sec-WebSocket-Accept does not match the key"),
            E::InvalidSelectedProtocol => {
                f.write_str("Sec-WebSocket-Protocol in the response is not a single token")
            }
            E::ProtocolNotOffered => f.write_str("subprotocol was not offered by the client"),
            E::ExtensionNotOffered { name } => {
                write!(f, "extension {name:?} was not offered by the client")
            }
            E::InvalidHost => f.write_str("host must be non-empty visible ASCII"),
            E::InvalidPathAndQuery => {
                f.write_str("path must start with '/', be visible ASCII, and have no fragment")
            }
            E::InvalidHeaderName { name } => write!(f, "header name {name:?} is not a token"),
            E::InvalidHeaderValue { name } => {
                write!(f, "value of header {name:?} contains a control character")
            }
            E::ReservedHeader { name } => {
                write!(f, "header {name:?} is written by the handshake itself")
            }
            E::InvalidProtocolName { protocol } => {
                write!(f, "subprotocol {protocol:?} is not a token")
            }
            E::InvalidExtensionsValue(e) => write!(f, "invalid extensions value: {e}"),
            E::InvalidStatus { status } => {
                write!(f, "status {status} is not a final status (200..=599)")
            }
            E::Finished => f.write_str("handshake already completed or failed"),
            E::NotHttp11 => {
                f.write_str("the request came over HTTP/2: its HTTP/2 server sends the response")
            }
        }
    }
}

impl core::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::InvalidExtensions(e) | Self::InvalidExtensionsValue(e) => Some(e),
            _ => None,
        }
    }
}
