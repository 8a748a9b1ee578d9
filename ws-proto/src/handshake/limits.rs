//! Bounds on what a peer may make the handshake parser buffer or allocate.
//!
//! Invariant: every field has a documented default and its own [`HandshakeError`] variant,
//! so a caller who hits a limit knows which knob to turn.
//!
//! [`HandshakeError`]: super::HandshakeError

/// Limits applied while reading a handshake head (both roles).
///
/// `HandshakeLimits::default()` is what browsers and common servers fit in comfortably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// Largest request or response head, in bytes, counting the start line, every header
    /// line and the final empty line. Default: 16 KiB (16 384). Exceeding it fails with
    /// [`HandshakeError::HeadTooLarge`](super::HandshakeError::HeadTooLarge) (server: 431)
    /// as soon as the byte past the limit arrives, before the head is complete.
    pub max_head_size: usize,
    /// Largest number of header lines. Default: 64. Exceeding it fails with
    /// [`HandshakeError::TooManyHeaders`](super::HandshakeError::TooManyHeaders) (server: 431)
    /// as soon as the line past the limit ends.
    pub max_headers: usize,
    /// Largest number of subprotocols a client may offer in `Sec-WebSocket-Protocol`
    /// (all header lines together). Default: 32. Exceeding it fails with
    /// [`HandshakeError::TooManyProtocols`](super::HandshakeError::TooManyProtocols) (400).
    pub max_protocols: usize,
    /// Largest number of extensions in a `Sec-WebSocket-Extensions` list (all header lines
    /// together). Default: 16. Exceeding it fails with
    /// [`HandshakeError::InvalidExtensions`](super::HandshakeError::InvalidExtensions) carrying
    /// [`ExtensionParseError::TooManyExtensions`](super::ExtensionParseError::TooManyExtensions).
    pub max_extensions: usize,
    /// Largest number of parameters of one extension. Default: 16. Exceeding it fails with
    /// [`HandshakeError::InvalidExtensions`](super::HandshakeError::InvalidExtensions) carrying
    /// [`ExtensionParseError::TooManyParams`](super::ExtensionParseError::TooManyParams).
    pub max_extension_params: usize,
}

impl HandshakeLimits {
    /// Default for [`max_head_size`](Self::max_head_size): 16 KiB.
    pub const DEFAULT_MAX_HEAD_SIZE: usize = 16 * 1024;
    /// Default for [`max_headers`](Self::max_headers): 64.
    pub const DEFAULT_MAX_HEADERS: usize = 64;
    /// Default for [`max_protocols`](Self::max_protocols): 32.
    pub const DEFAULT_MAX_PROTOCOLS: usize = 32;
    /// Default for [`max_extensions`](Self::max_extensions): 16.
    pub const DEFAULT_MAX_EXTENSIONS: usize = 16;
    /// Default for [`max_extension_params`](Self::max_extension_params): 16.
    pub const DEFAULT_MAX_EXTENSION_PARAMS: usize = 16;
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        Self {
            max_head_size: Self::DEFAULT_MAX_HEAD_SIZE,
            max_headers: Self::DEFAULT_MAX_HEADERS,
            max_protocols: Self::DEFAULT_MAX_PROTOCOLS,
            max_extensions: Self::DEFAULT_MAX_EXTENSIONS,
            max_extension_params: Self::DEFAULT_MAX_EXTENSION_PARAMS,
        }
    }
}
