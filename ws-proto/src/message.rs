//! Messages and events: what a connection delivers to the application.

use crate::close::{CloseCode, CloseFrame};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

/// A UTF-8 text payload. Its bytes were validated when it was received or built, so
/// [`Text::as_str`] costs nothing.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(Bytes);

impl Text {
    /// Text from validated bytes.
    pub fn from_utf8(bytes: Bytes) -> Result<Text, core::str::Utf8Error> {
        if simdutf8::basic::from_utf8(&bytes).is_ok() {
            return Ok(Text(bytes));
        }
        // Slow path only for invalid input, to report where it went wrong.
        match core::str::from_utf8(&bytes) {
            Err(e) => Err(e),
            Ok(_) => Ok(Text(bytes)),
        }
    }

    /// Text from bytes that are known to be valid UTF-8 (checked by the caller in this crate).
    pub(crate) fn from_validated(bytes: Bytes) -> Text {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Text(bytes)
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        crate::unmask_utf8::assume_valid(&self.0)
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The underlying bytes, owned.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Bytes::from(s))
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

/// A whole data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(Text),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message, copying `s`.
    pub fn text(s: &str) -> Message {
        Message::Text(Text::from(s))
    }

    /// A binary message from anything that converts into `Bytes` (no copy for `Vec` or `Bytes`).
    pub fn binary(b: impl Into<Bytes>) -> Message {
        Message::Binary(b.into())
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The kind of message.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Text(_) => MessageKind::Text,
            Message::Binary(_) => MessageKind::Binary,
        }
    }
}

impl From<&str> for Message {
    /// A text message, copying `s`.
    fn from(s: &str) -> Self {
        Message::text(s)
    }
}

impl From<String> for Message {
    /// A text message, without a copy.
    fn from(s: String) -> Self {
        Message::Text(Text::from(s))
    }
}

impl From<Text> for Message {
    fn from(t: Text) -> Self {
        Message::Text(t)
    }
}

impl From<&[u8]> for Message {
    /// A binary message, copying `b`.
    fn from(b: &[u8]) -> Self {
        Message::Binary(Bytes::copy_from_slice(b))
    }
}

impl From<Vec<u8>> for Message {
    /// A binary message, without a copy.
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(Bytes::from(b))
    }
}

impl From<Bytes> for Message {
    /// A binary message, without a copy.
    fn from(b: Bytes) -> Self {
        Message::Binary(b)
    }
}

/// A whole data message to send: borrowed from the caller (copied once, into the
/// connection's buffer), or owned (a server sends a payload of 1 KiB or more as it is, shared,
/// without copying it). Everything that names a message converts into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// A text message, borrowed.
    Text(&'a str),
    /// A binary message, borrowed.
    Binary(&'a [u8]),
    /// A message the connection may keep (its payload is shared, not copied).
    Owned(Message),
}

impl MessageRef<'_> {
    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        match self {
            MessageRef::Text(t) => t.as_bytes(),
            MessageRef::Binary(b) => b,
            MessageRef::Owned(m) => m.payload(),
        }
    }

    /// The kind of message.
    pub fn kind(&self) -> MessageKind {
        match self {
            MessageRef::Text(_) => MessageKind::Text,
            MessageRef::Binary(_) => MessageKind::Binary,
            MessageRef::Owned(m) => m.kind(),
        }
    }
}

impl<'a> From<&'a str> for MessageRef<'a> {
    fn from(t: &'a str) -> Self {
        MessageRef::Text(t)
    }
}

impl<'a> From<&'a String> for MessageRef<'a> {
    fn from(t: &'a String) -> Self {
        MessageRef::Text(t)
    }
}

impl<'a> From<&'a [u8]> for MessageRef<'a> {
    fn from(b: &'a [u8]) -> Self {
        MessageRef::Binary(b)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for MessageRef<'a> {
    fn from(b: &'a [u8; N]) -> Self {
        MessageRef::Binary(b)
    }
}

impl<'a> From<&'a Vec<u8>> for MessageRef<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        MessageRef::Binary(b)
    }
}

impl<'a> From<&'a Message> for MessageRef<'a> {
    fn from(m: &'a Message) -> Self {
        match m {
            Message::Text(t) => MessageRef::Text(t.as_str()),
            Message::Binary(b) => MessageRef::Binary(b),
        }
    }
}

impl From<Message> for MessageRef<'_> {
    fn from(m: Message) -> Self {
        MessageRef::Owned(m)
    }
}

impl From<Text> for MessageRef<'_> {
    fn from(t: Text) -> Self {
        MessageRef::Owned(Message::Text(t))
    }
}

impl From<String> for MessageRef<'_> {
    fn from(t: String) -> Self {
        MessageRef::Owned(Message::Text(Text::from(t)))
    }
}

impl From<Bytes> for MessageRef<'_> {
    fn from(b: Bytes) -> Self {
        MessageRef::Owned(Message::Binary(b))
    }
}

impl From<Vec<u8>> for MessageRef<'_> {
    fn from(b: Vec<u8>) -> Self {
        MessageRef::Owned(Message::Binary(Bytes::from(b)))
    }
}

/// Text or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

/// A piece of a message, in [`crate::MessageMode::Streaming`].
///
/// For text, every chunk is valid UTF-8 on its own: a code point split across frames or reads
/// is held back until it is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Text or binary (the whole message's kind).
    pub kind: MessageKind,
    /// The bytes of this piece (may be empty, e.g. for an empty final frame).
    pub data: Bytes,
    /// This is the first piece of the message.
    pub first: bool,
    /// This is the last piece of the message.
    pub last: bool,
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The code the peer sent (`NO_STATUS` if its Close had none, `ABNORMAL` if none arrived).
    pub code: CloseCode,
    /// The peer's reason, if it sent one.
    pub reason: String,
    /// Both Close frames were exchanged (and, on a client, the server closed the transport).
    pub clean: bool,
}

/// Something for the application, from [`crate::Connection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A whole message ([`crate::MessageMode::Assembled`]).
    Message(Message),
    /// A piece of a message ([`crate::MessageMode::Streaming`]).
    Chunk(Chunk),
    /// A Ping arrived; its Pong is already queued.
    Ping(Bytes),
    /// A Pong arrived.
    Pong(Bytes),
    /// The peer sent a Close (`None` when it carried no code). If we had not sent one yet, the
    /// echo is already queued.
    CloseReceived(Option<CloseFrame>),
    /// The connection is over: close the transport once `poll_transmit` is drained. This is the
    /// last event.
    Closed(Closed),
}
