//! Connection configuration: every limit, with its default.

use core::time::Duration;

/// How received data messages are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageMode {
    /// Whole messages ([`crate::Event::Message`]), assembled from their fragments.
    #[default]
    Assembled,
    /// Pieces of messages as they arrive ([`crate::Event::Chunk`]), flagged first/last.
    /// Memory per connection stays bounded by the input chunk size instead of the message size.
    Streaming,
}

/// Keepalive: ping when the peer has been quiet, and give up when it stays silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Send a Ping after this long without any input (and again every `interval`).
    pub interval: Duration,
    /// Declare the connection dead after this long without any input.
    pub timeout: Duration,
}

/// Configuration of a [`crate::Connection`]. Every limit has its own error when exceeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Largest accepted frame payload, in bytes. Exceeding it fails with
    /// [`crate::ProtocolError::FrameTooLarge`] (close 1009). Default: 16 MiB.
    pub max_frame_payload: usize,
    /// Largest accepted message, in bytes (after decompression when an extension compresses).
    /// Exceeding it fails with [`crate::ProtocolError::MessageTooLarge`] (close 1009). In
    /// streaming mode it bounds a message's total size just the same. Default: 32 MiB
    /// (Autobahn 9.x sends 16 MiB messages).
    pub max_message_size: usize,
    /// Most frames one message may be split into. Exceeding it fails with
    /// [`crate::ProtocolError::TooManyFragments`] (close 1009). Default: 131,072 (Autobahn 9.x
    /// sends 65,536 fragments). Empty fragments cost no memory, only this count.
    pub max_fragments: usize,
    /// Most bytes waiting in the outgoing buffer. A `send` that would go past it fails with
    /// [`crate::SendError::BufferFull`] and changes nothing, unless the buffer is empty (so one
    /// message larger than the limit can still be sent). Default: 16 MiB.
    pub max_send_buffer: usize,
    /// How received messages are delivered. Default: [`MessageMode::Assembled`].
    pub mode: MessageMode,
    /// How long to wait for the close handshake to finish (the peer's Close after ours, or, on
    /// a client, the server's TCP close) before giving up. Default: 5 s.
    pub close_timeout: Duration,
    /// Optional keepalive pings and dead-peer detection. Default: off.
    pub keepalive: Option<Keepalive>,
    /// Split outgoing messages into frames of at most this many payload bytes. Default: no
    /// splitting.
    pub max_send_frame: Option<usize>,
    /// permessage-deflate: inflate at most about this many bytes per call to `handle_input`
    /// or `handle_timeout`, so one message cannot monopolise a thread; the rest waits
    /// ([`crate::Connection::poll_timeout`] then says it is due at once). Default: 1 MiB.
    pub inflate_step: usize,
    /// The most room [`crate::Connection::input_buffer`] offers one read: it starts at 8 KiB
    /// and doubles while reads fill it (a message arriving in place gets room for the rest of
    /// it on top). Default: 128 KiB.
    pub max_read_size: usize,
    /// permessage-deflate (RFC 7692) as the opening handshake negotiated it, or `None`:
    /// incoming messages with RSV1 are inflated (with [`Config::max_message_size`] applied
    /// to the inflated size as it grows) and outgoing messages from the threshold up are
    /// compressed. Default: `None`.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::Negotiated>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_payload: 16 << 20,
            max_message_size: 32 << 20,
            max_fragments: 1 << 17,
            max_send_buffer: 16 << 20,
            mode: MessageMode::Assembled,
            close_timeout: Duration::from_secs(5),
            keepalive: None,
            max_send_frame: None,
            inflate_step: 1 << 20,
            max_read_size: 128 << 10,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}
