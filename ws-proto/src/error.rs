//! The two error families: [`ProtocolError`] when the peer broke the rules (it says which
//! close code was sent back), [`SendError`] when the local caller misused the API (nothing
//! changed).

use crate::close::{CloseCode, ClosePayloadError};
use crate::frame::FrameError;
use core::fmt;

/// The peer broke the protocol, or exceeded a limit. The connection has failed: a Close frame
/// with [`ProtocolError::close_code`] is queued, and after it is transmitted the transport should
/// be closed. Nothing is read after the offending frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame header is invalid (reserved opcode, non-minimal length, control frame rules).
    Frame(FrameError),
    /// RSV bits set that no negotiated extension defines (or on a frame where it may not).
    ReservedBits(u8),
    /// A server received an unmasked frame.
    UnmaskedFrame,
    /// A client received a masked frame.
    MaskedFrame,
    /// A continuation frame arrived with no fragmented message in progress.
    UnexpectedContinuation,
    /// A new Text or Binary frame arrived while a fragmented message was in progress.
    ExpectedContinuation,
    /// A text message is not valid UTF-8 (found as soon as the offending bytes arrived).
    InvalidUtf8,
    /// A close frame payload is invalid.
    InvalidClose(ClosePayloadError),
    /// A frame's payload is larger than [`crate::Config::max_frame_payload`].
    FrameTooLarge {
        /// The declared payload length.
        len: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A message is larger than [`crate::Config::max_message_size`].
    MessageTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// A message has more frames than [`crate::Config::max_fragments`].
    TooManyFragments {
        /// The configured limit.
        limit: usize,
    },
    /// A compressed message is not valid DEFLATE data (or ends inside a block): close 1007.
    InvalidCompressedData,
    /// Decompression failed for a local reason (e.g. out of memory): close 1011.
    DecompressionFailed,
}

impl ProtocolError {
    /// The close code sent to the peer for this error: 1007 for invalid UTF-8, 1009 for the
    /// size limits, 1002 for every other violation.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::DecompressionFailed => CloseCode::INTERNAL_ERROR,
            ProtocolError::FrameTooLarge { .. }
            | ProtocolError::MessageTooLarge { .. }
            | ProtocolError::TooManyFragments { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl From<FrameError> for ProtocolError {
    fn from(e: FrameError) -> Self {
        ProtocolError::Frame(e)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Frame(e) => write!(f, "invalid frame: {e}"),
            ProtocolError::ReservedBits(rsv) => write!(
                f,
                "reserved bits {rsv:#05b} set without a negotiated extension"
            ),
            ProtocolError::UnmaskedFrame => f.write_str("client sent an unmasked frame"),
            ProtocolError::MaskedFrame => f.write_str("server sent a masked frame"),
            ProtocolError::UnexpectedContinuation => {
                f.write_str("continuation frame with no message in progress")
            }
            ProtocolError::ExpectedContinuation => {
                f.write_str("new data frame inside a fragmented message")
            }
            ProtocolError::InvalidUtf8 => f.write_str("text message is not valid UTF-8"),
            ProtocolError::InvalidClose(ClosePayloadError::OneByte) => {
                f.write_str("close frame with a 1-byte payload")
            }
            ProtocolError::InvalidClose(ClosePayloadError::InvalidCode(c)) => {
                write!(f, "close frame with invalid code {c}")
            }
            ProtocolError::InvalidClose(ClosePayloadError::InvalidReason) => {
                f.write_str("close reason is not valid UTF-8")
            }
            ProtocolError::FrameTooLarge { len, limit } => {
                write!(
                    f,
                    "frame payload of {len} bytes exceeds max_frame_payload ({limit})"
                )
            }
            ProtocolError::MessageTooLarge { limit } => {
                write!(f, "message exceeds max_message_size ({limit} bytes)")
            }
            ProtocolError::TooManyFragments { limit } => {
                write!(f, "message has more than max_fragments ({limit}) frames")
            }
            ProtocolError::InvalidCompressedData => {
                f.write_str("compressed message is not valid DEFLATE data")
            }
            ProtocolError::DecompressionFailed => f.write_str("decompression failed"),
        }
    }
}

impl core::error::Error for ProtocolError {}

/// The local caller asked for something the connection cannot do now. Nothing was queued and
/// the connection is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The outgoing buffer holds `pending` bytes and the message would take it past
    /// [`crate::Config::max_send_buffer`]: drain `poll_transmit` first (backpressure).
    BufferFull {
        /// Bytes waiting to be transmitted.
        pending: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A Close has been sent or the connection failed: no more data or pings may be sent.
    Closing,
    /// A control frame (ping, pong) payload over 125 bytes.
    ControlPayloadTooLong(usize),
    /// A close code that may not be sent (1005, 1006, 1015, or outside the allowed ranges).
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes.
    CloseReasonTooLong(usize),
    /// A streamed message is in progress: finish it with [`crate::SendStream::finish`] first.
    MessageInProgress,
    /// A text piece given to a [`crate::SendStream`] would make the message invalid UTF-8.
    InvalidUtf8,
    /// The message could not be compressed (the compressor failed); nothing was queued. The
    /// compressor cannot be used again: close the connection (1011).
    CompressionFailed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::BufferFull { pending, limit } => {
                write!(
                    f,
                    "outgoing buffer full: {pending} bytes pending, max_send_buffer is {limit}"
                )
            }
            SendError::Closing => f.write_str("the connection is closing"),
            SendError::ControlPayloadTooLong(n) => {
                write!(f, "control payload of {n} bytes (at most 125)")
            }
            SendError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            SendError::CloseReasonTooLong(n) => {
                write!(f, "close reason of {n} bytes (at most 123)")
            }
            SendError::MessageInProgress => f.write_str("a streamed message is in progress"),
            SendError::InvalidUtf8 => f.write_str("the text message would not be valid UTF-8"),
            SendError::CompressionFailed => f.write_str("the message could not be compressed"),
        }
    }
}

impl core::error::Error for SendError {}
