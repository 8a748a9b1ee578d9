//! The opening handshake (RFC 6455 section 4), both roles, sans-IO.
//!
//! This module owns everything up to the switch to WebSocket frames: building and writing the
//! client's upgrade request ([`ClientHandshake`]), reading and validating it on the server
//! ([`ServerHandshake`] → [`Request`]), writing the server's 101 or rejection, reading and
//! validating that response on the client ([`ClientOutcome`]), and the
//! `Sec-WebSocket-Extensions` grammar ([`parse_extension_list`]). Over HTTP/2 (RFC 8441)
//! the HTTP/2 stack carries the heads; [`Request::from_extended_connect`] and
//! [`ExtendedConnect`] hold the rules of that form.
//!
//! Invariants:
//! - Sans-IO: nothing here reads a socket, a clock or a random source. The 16 random bytes
//!   of the key are the caller's.
//! - Linear and bounded: a head is scanned once however it is chunked, httparse runs once on
//!   the complete head, and every buffer is bounded by [`HandshakeLimits`]; nothing is
//!   allocated by a size the peer declared.
//! - Bytes that follow the head (the first WebSocket frames, or a rejection's body) are kept
//!   exactly in `leftover()`; the caller feeds them to the connection.
//! - After a head is complete or an error was returned, `handle_input` answers
//!   [`HandshakeError::Finished`].
//! - Strict: lines end with CRLF; header values are UTF-8; any failure has its own
//!   [`HandshakeError`] variant, and the ones a server detects write their own response
//!   ([`HandshakeError::write_response`]: 400, 405, 426 with `Sec-WebSocket-Version: 13`,
//!   431). Nothing invalid is ever written: header values with control characters, protocols
//!   that are not tokens or were not offered are refused with an error, and nothing is
//!   appended to `out`.
//!
//! A full handshake in memory:
//!
//! ```
//! use ws_proto::handshake::{
//!     Accept, ClientHandshake, ClientOutcome, ClientRequest, HandshakeLimits, ServerHandshake,
//! };
//!
//! // Client: the caller supplies 16 random bytes for the key.
//! let request = ClientRequest::new("example.com", "/chat?room=1", [7; 16])
//!     .protocol("chat.v2")
//!     .protocol("chat.v1")
//!     .extensions("permessage-deflate; client_max_window_bits")
//!     .header("Origin", "https://example.com");
//! let mut client = ClientHandshake::new(&request, HandshakeLimits::default())?;
//! let mut to_server = Vec::new();
//! client.write_request(&mut to_server);
//!
//! // Server: bytes may arrive in any chunks; `None` means "need more".
//! let mut server = ServerHandshake::new(HandshakeLimits::default());
//! let (a, b) = to_server.split_at(10);
//! assert!(server.handle_input(a)?.is_none());
//! let req = server.handle_input(b)?.expect("complete request");
//! assert_eq!((req.path(), req.query()), ("/chat", Some("room=1")));
//! assert_eq!(req.origin(), Some("https://example.com"));
//! assert_eq!(req.protocols(), ["chat.v2", "chat.v1"]);
//! assert_eq!(req.extensions()[0].name, "permessage-deflate");
//! let mut to_client = Vec::new();
//! let accept = Accept { protocol: Some("chat.v1"), ..Accept::default() };
//! req.accept(&accept, &mut to_client)?;
//! to_client.extend_from_slice(b"\x81\x02hi"); // a first frame right behind the 101
//!
//! // Client: validates status, Upgrade, Connection, Sec-WebSocket-Accept, protocol.
//! match client.handle_input(&to_client)? {
//!     Some(ClientOutcome::Accepted(accepted)) => {
//!         assert_eq!(accepted.protocol(), Some("chat.v1"));
//!         assert!(accepted.extensions().is_empty());
//!         assert_eq!(accepted.leftover(), b"\x81\x02hi"); // feed these to the connection
//!     }
//!     other => panic!("not accepted: {other:?}"),
//! }
//! # Ok::<(), ws_proto::handshake::HandshakeError>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

#[cfg(test)]
mod chunking;
mod client;
mod error;
pub mod extensions;
mod head;
mod limits;
mod server;

pub use client::{
    Accepted, ClientHandshake, ClientOutcome, ClientRequest, ExtendedConnect, Response,
};
pub use error::HandshakeError;
pub use extensions::{
    parse_extension_list, parse_extension_list_bounded, ExtensionOffer, ExtensionParam,
    ExtensionParseError,
};
pub use head::Headers;
pub use limits::HandshakeLimits;
pub use server::{write_rejection, Accept, Request, ServerHandshake};

/// How a handshake travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeForm {
    /// HTTP/1.1: `GET` with `Upgrade: websocket`, answered 101 (RFC 6455 section 4).
    Http11Upgrade,
    /// HTTP/2: an extended `CONNECT` with `:protocol websocket` on one stream, answered 200
    /// (RFC 8441); the server must have sent `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`.
    ExtendedConnect,
}

/// The `:protocol` pseudo-header value of an extended CONNECT for WebSocket (RFC 8441).
pub const EXTENDED_CONNECT_PROTOCOL: &str = "websocket";

/// The GUID RFC 6455 appends to the key before hashing.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
///
/// ```
/// assert_eq!(
///     ws_proto::handshake::accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
/// );
/// ```
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WEBSOCKET_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// 16 bytes from the operating system's secure random source, for
/// [`ClientRequest::new`]'s key (feature `std`).
#[cfg(feature = "std")]
pub fn random_key() -> Result<[u8; 16], getrandom::Error> {
    let mut key = [0u8; 16];
    getrandom::fill(&mut key)?;
    Ok(key)
}

/// The standard reason phrase for `status`, or `""`.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

pub(crate) fn write_status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(
        alloc::format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes(),
    );
}

/// Appends `name: value\r\n`; both must have been validated (or be constants).
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A field value we are willing to write: no control character but HTAB (so no CR, LF, NUL).
pub(crate) fn is_valid_field_value(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7F))
}

/// Checks caller-supplied extra headers: token names, writable values, none of `reserved`.
pub(crate) fn check_extra_headers<N: AsRef<str>, V: AsRef<str>>(
    headers: &[(N, V)],
    reserved: &[&str],
) -> Result<(), HandshakeError> {
    for (name, value) in headers {
        let (name, value) = (name.as_ref(), value.as_ref());
        if !extensions::is_token(name) {
            return Err(HandshakeError::InvalidHeaderName { name: name.into() });
        }
        if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(HandshakeError::ReservedHeader { name: name.into() });
        }
        if !is_valid_field_value(value) {
            return Err(HandshakeError::InvalidHeaderValue { name: name.into() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_example_accept_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn field_values() {
        let cases: &[(&str, bool)] = &[
            ("plain", true),
            ("tab\there", true),
            ("caf\u{e9}", true),
            ("a\r\nInjected: 1", false),
            ("a\nb", false),
            ("a\rb", false),
            ("nul\0", false),
            ("del\u{7f}", false),
            ("", true),
        ];
        for (v, ok) in cases {
            assert_eq!(is_valid_field_value(v), *ok, "{v:?}");
        }
    }

    #[test]
    fn extra_header_checks() {
        assert_eq!(check_extra_headers(&[("X-A", "1")], &["host"]), Ok(()));
        assert_eq!(
            check_extra_headers(&[("Bad Name", "1")], &[]),
            Err(HandshakeError::InvalidHeaderName {
                name: "Bad Name".into()
            })
        );
        assert_eq!(
            check_extra_headers(&[("HOST", "x")], &["host"]),
            Err(HandshakeError::ReservedHeader {
                name: "HOST".into()
            })
        );
        assert_eq!(
            check_extra_headers(&[("X-A", "1\r\nX-B: 2")], &[]),
            Err(HandshakeError::InvalidHeaderValue { name: "X-A".into() })
        );
    }
}
