//! The send side: encodes messages, pieces of messages and control frames into the outgoing
//! queue, applies backpressure, and hands the bytes out.
//!
//! Invariants:
//! - Bytes leave in the order they were queued: `queue` (segments, large payloads a server
//!   shares with the caller instead of copying), then `out` (frames being built).
//! - The queue never grows past `max_send_buffer` unless it was empty (so one message larger
//!   than the limit can still be sent); a refused send changes nothing.
//! - Only the latest owed Pong is kept while the queue is over its limit (RFC 6455 section
//!   5.5.3 allows answering only the most recent Ping), and none after a Close.
//! - A client masks every frame with a fresh key from its mask source; a server never masks.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use bytes::{Bytes, BytesMut};

use crate::close::{CloseCode, MAX_REASON_LEN};
use crate::error::SendError;
use crate::frame::{FrameHeader, Opcode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::mask::extend_unmasked;
use crate::mask_source::MaskSource;
use crate::message::{Message, MessageKind, MessageRef};
use crate::unmask_utf8::{utf8_width, valid_prefix_len};
use crate::Role;

use crate::compression::Comp;
#[cfg(feature = "deflate")]
use crate::compression::{deflate_bound, Compression};
#[cfg(feature = "deflate")]
use crate::frame::RSV1;

/// A server queues owned payloads at least this large as they are (shared, not copied).
const SHARED_PAYLOAD_MIN: usize = 1024;

/// The outgoing queue of one connection.
pub(crate) struct Sender {
    role: Role,
    masks: Box<dyn MaskSource + Send>,
    max_send_buffer: usize,
    max_send_frame: Option<usize>,
    /// Segments before `out`, in order.
    queue: VecDeque<Bytes>,
    /// Total bytes in `queue`.
    queued: usize,
    /// Frames being built after `queue`.
    out: BytesMut,
    /// A Pong owed while the queue was over its limit.
    pending_pong: Option<([u8; MAX_CONTROL_PAYLOAD], u8)>,
    /// The message being sent in pieces, if any.
    stream: Option<Stream>,
}

/// A message being sent in pieces.
#[derive(Debug, Clone, Copy)]
struct Stream {
    kind: MessageKind,
    /// The incomplete code point at the end of the text sent so far.
    utf8: Utf8Tail,
    /// The message is being compressed (permessage-deflate).
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    compressed: bool,
}

impl Sender {
    /// An empty queue for `role` (a client masks with keys from `masks`).
    pub(crate) fn new(
        role: Role,
        masks: Box<dyn MaskSource + Send>,
        max_send_buffer: usize,
        max_send_frame: Option<usize>,
    ) -> Self {
        Sender {
            role,
            masks,
            max_send_buffer,
            max_send_frame: max_send_frame.filter(|&n| n > 0),
            queue: VecDeque::new(),
            queued: 0,
            out: BytesMut::new(),
            pending_pong: None,
            stream: None,
        }
    }

    /// Bytes waiting to be handed out (an owed Pong included).
    pub(crate) fn pending(&self) -> usize {
        self.queued + self.out.len() + self.pending_pong.map_or(0, |(_, n)| usize::from(n) + 6)
    }

    /// The kind of the message being sent in pieces, if any.
    pub(crate) fn streaming(&self) -> Option<MessageKind> {
        self.stream.map(|s| s.kind)
    }

    // ---- queuing ----

    /// Queue a whole message (compressed if `comp` says so for its size).
    #[inline]
    pub(crate) fn message(
        &mut self,
        message: MessageRef<'_>,
        comp: Comp<'_>,
    ) -> Result<(), SendError> {
        if self.stream.is_some() {
            return Err(SendError::MessageInProgress);
        }
        let (opcode, payload, shared) = match &message {
            MessageRef::Text(t) => (Opcode::Text, t.as_bytes(), None),
            MessageRef::Binary(b) => (Opcode::Binary, *b, None),
            MessageRef::Owned(Message::Text(t)) => {
                (Opcode::Text, &t.as_bytes()[..], Some(t.as_bytes()))
            }
            MessageRef::Owned(Message::Binary(b)) => (Opcode::Binary, &b[..], Some(b)),
        };
        #[cfg(feature = "deflate")]
        if let Some(c) = comp.filter(|c| c.should_compress(payload.len())) {
            return self.compressed(opcode, payload, true, true, c);
        }
        #[cfg(not(feature = "deflate"))]
        let _ = comp;
        if self.max_send_frame.is_some_and(|n| n < payload.len()) {
            let frames = self.frame_count(payload.len());
            self.check_room(payload.len() + frames * MAX_HEADER_LEN)?;
            self.data_frames(opcode, payload, true, 0);
            return Ok(());
        }
        self.check_room(payload.len() + MAX_HEADER_LEN)?;
        match shared {
            // A server sends the payload as it is: queue it shared, without copying.
            Some(shared) if self.role == Role::Server && shared.len() >= SHARED_PAYLOAD_MIN => {
                self.header(opcode, true, 0, shared.len());
                self.push_shared(shared.clone());
            }
            _ => self.frame(opcode, true, 0, payload),
        }
        Ok(())
    }

    /// Queue one piece of a message of `kind` as one frame: the first starts the message, the
    /// others continue it, `last` ends it. Text pieces need not end on a code point boundary,
    /// but the message must be valid UTF-8: a piece that can never continue valid UTF-8, or a
    /// last piece that leaves a code point unfinished, fails with [`SendError::InvalidUtf8`]
    /// and is not queued.
    pub(crate) fn piece(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        last: bool,
        comp: Comp<'_>,
    ) -> Result<(), SendError> {
        let (opcode, stream) = match self.stream {
            Some(s) if s.kind != kind => return Err(SendError::MessageInProgress),
            Some(s) => (Opcode::Continuation, s),
            None => {
                let opcode = match kind {
                    MessageKind::Text => Opcode::Text,
                    MessageKind::Binary => Opcode::Binary,
                };
                // A whole message in one piece is compressed from the size threshold up, like
                // any whole message; a message in several pieces has no known size.
                #[cfg(feature = "deflate")]
                let compressed = comp.as_ref().is_some_and(|c| {
                    if last {
                        c.should_compress(data.len())
                    } else {
                        c.should_compress_stream()
                    }
                });
                #[cfg(not(feature = "deflate"))]
                let compressed = false;
                let stream = Stream {
                    kind,
                    utf8: Utf8Tail::EMPTY,
                    compressed,
                };
                (opcode, stream)
            }
        };
        let utf8 = match kind {
            MessageKind::Text => stream
                .utf8
                .extend(data, last)
                .ok_or(SendError::InvalidUtf8)?,
            MessageKind::Binary => Utf8Tail::EMPTY,
        };
        let first = opcode != Opcode::Continuation;
        #[cfg(feature = "deflate")]
        if stream.compressed {
            let Some(c) = comp else {
                return Err(SendError::CompressionFailed);
            };
            self.compressed(opcode, data, first, last, c)?;
        } else {
            self.check_room(data.len() + MAX_HEADER_LEN)?;
            self.frame(opcode, last, 0, data);
        }
        #[cfg(not(feature = "deflate"))]
        {
            let _ = (comp, first);
            self.check_room(data.len() + MAX_HEADER_LEN)?;
            self.frame(opcode, last, 0, data);
        }
        self.stream = (!last).then_some(Stream { utf8, ..stream });
        Ok(())
    }

    /// Queue a Ping.
    pub(crate) fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlPayloadTooLong(payload.len()));
        }
        self.check_room(payload.len() + MAX_HEADER_LEN)?;
        self.frame(Opcode::Ping, true, 0, payload);
        Ok(())
    }

    /// Queue the Pong a Ping requires. Over the limit (a peer that pings but never reads),
    /// only the latest owed Pong is kept instead of growing the queue.
    pub(crate) fn pong(&mut self, payload: &[u8]) {
        let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
        if self.queued + self.out.len() + payload.len() + MAX_HEADER_LEN > self.max_send_buffer {
            let mut buf = [0u8; MAX_CONTROL_PAYLOAD];
            buf[..payload.len()].copy_from_slice(payload);
            self.pending_pong = Some((buf, payload.len() as u8));
        } else {
            self.pending_pong = None;
            self.frame(Opcode::Pong, true, 0, payload);
        }
    }

    /// Queue a Close frame (`None`: an empty one); an owed Pong is dropped, nothing follows
    /// a Close. The reason is cut at 123 bytes (callers check it first).
    pub(crate) fn close(&mut self, code: Option<CloseCode>, reason: &str) {
        self.pending_pong = None;
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let n = match code {
            None => 0,
            Some(c) => {
                let reason = &reason.as_bytes()[..reason.len().min(MAX_REASON_LEN)];
                payload[..2].copy_from_slice(&c.0.to_be_bytes());
                payload[2..2 + reason.len()].copy_from_slice(reason);
                2 + reason.len()
            }
        };
        self.frame(Opcode::Close, true, 0, &payload[..n]);
    }

    // ---- output ----

    /// The next bytes to write to the transport, in order; `None` when nothing is queued.
    #[inline]
    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        // (Checked first: taking the 127-byte option costs a copy of it.)
        if self.pending_pong.is_some() {
            if let Some((payload, n)) = self.pending_pong.take() {
                self.frame(Opcode::Pong, true, 0, &payload[..usize::from(n)]);
            }
        }
        if let Some(segment) = self.queue.pop_front() {
            self.queued -= segment.len();
            return Some(segment);
        }
        if self.out.is_empty() {
            return None;
        }
        Some(self.out.split().freeze())
    }

    // ---- encoding ----

    /// Backpressure: refuse to grow the queue past its limit, unless it is empty.
    fn check_room(&self, additional: usize) -> Result<(), SendError> {
        let pending = self.pending();
        if pending > 0 && pending.saturating_add(additional) > self.max_send_buffer {
            return Err(SendError::BufferFull {
                pending,
                limit: self.max_send_buffer,
            });
        }
        Ok(())
    }

    /// How many frames a data payload of `len` bytes is split into.
    fn frame_count(&self, len: usize) -> usize {
        self.max_send_frame
            .filter(|&n| n < len)
            .map_or(1, |n| len.div_ceil(n))
    }

    /// Compress `data` and queue it as frames (RSV1 on the first frame of the message). The
    /// room check comes first, so a refused send leaves the compression context untouched.
    #[cfg(feature = "deflate")]
    fn compressed(
        &mut self,
        opcode: Opcode,
        data: &[u8],
        first: bool,
        last: bool,
        comp: &mut Compression,
    ) -> Result<(), SendError> {
        let bound = deflate_bound(data.len());
        let frames = if last && first {
            self.frame_count(bound)
        } else {
            1
        };
        self.check_room(bound + frames * MAX_HEADER_LEN)?;
        let rsv = if first { RSV1 } else { 0 };
        comp.compress(data, last, |compressed| {
            if first && last {
                self.data_frames(opcode, compressed, true, rsv);
            } else {
                self.frame(opcode, last, rsv, compressed);
            }
        })
        .map_err(|_| SendError::CompressionFailed)
    }

    /// Queue a data payload as one frame, or one per `max_send_frame` bytes; `rsv` goes on
    /// the first frame only.
    fn data_frames(&mut self, opcode: Opcode, payload: &[u8], fin: bool, rsv: u8) {
        match self.max_send_frame.filter(|&n| n < payload.len()) {
            None => self.frame(opcode, fin, rsv, payload),
            Some(size) => {
                let (mut op, mut rsv) = (opcode, rsv);
                let mut chunks = payload.chunks(size).peekable();
                while let Some(chunk) = chunks.next() {
                    let last = chunks.peek().is_none();
                    self.frame(op, fin && last, rsv, chunk);
                    op = Opcode::Continuation;
                    rsv = 0;
                }
            }
        }
    }

    /// The masking key for the next frame: a fresh one for a client, none for a server.
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => Some(self.masks.next_mask()),
            Role::Server => None,
        }
    }

    /// Append one frame to `out`, its payload masked when this is a client.
    #[inline]
    fn frame(&mut self, opcode: Opcode, fin: bool, rsv: u8, payload: &[u8]) {
        let mask = self.next_mask();
        self.out.reserve(MAX_HEADER_LEN + payload.len());
        header(opcode, fin, rsv, payload.len(), mask).write_to(&mut self.out);
        match mask {
            Some(key) => extend_unmasked(&mut self.out, payload, key, 0),
            None => self.out.extend_from_slice(payload),
        }
    }

    /// Append the header of an unmasked frame of `len` payload bytes (a server's shared
    /// payload follows it).
    fn header(&mut self, opcode: Opcode, fin: bool, rsv: u8, len: usize) {
        header(opcode, fin, rsv, len, None).write_to(&mut self.out);
    }

    /// Queue `payload` after everything queued so far.
    fn push_shared(&mut self, payload: Bytes) {
        if !self.out.is_empty() {
            let head = self.out.split().freeze();
            self.queued += head.len();
            self.queue.push_back(head);
        }
        self.queued += payload.len();
        self.queue.push_back(payload);
    }
}

/// The header of a frame of `len` payload bytes.
#[inline]
fn header(opcode: Opcode, fin: bool, rsv: u8, len: usize, mask: Option<[u8; 4]>) -> FrameHeader {
    FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: len as u64,
    }
}

/// The incomplete code point (at most 3 bytes) at the end of the text sent so far in a
/// message sent in pieces.
#[derive(Debug, Clone, Copy)]
struct Utf8Tail {
    bytes: [u8; 4],
    len: u8,
}

impl Utf8Tail {
    const EMPTY: Utf8Tail = Utf8Tail {
        bytes: [0; 4],
        len: 0,
    };

    /// The tail after `data` follows the text sent so far, or `None` if the text can never be
    /// valid UTF-8 (or `last` leaves a code point unfinished).
    fn extend(&self, data: &[u8], last: bool) -> Option<Utf8Tail> {
        if self.len == 0 && last {
            // The common case, a whole message (or a last piece starting on a boundary).
            return simdutf8::basic::from_utf8(data)
                .is_ok()
                .then_some(Utf8Tail::EMPTY);
        }
        let mut rest = data;
        if self.len > 0 {
            // Finish the pending code point with the first bytes of `data`.
            let have = usize::from(self.len);
            let need = utf8_width(self.bytes[0]);
            let take = (need - have).min(rest.len());
            let mut joined = self.bytes;
            joined[have..have + take].copy_from_slice(&rest[..take]);
            rest = &rest[take..];
            let tail = Utf8Tail::of(&joined[..have + take])?;
            if tail.len > 0 {
                // `data` ended before the code point did.
                return (!last).then_some(tail);
            }
        }
        let tail = Utf8Tail::of(rest)?;
        (!last || tail.len == 0).then_some(tail)
    }

    /// Validates `b` up to its last code point boundary and returns the incomplete rest, or
    /// `None` if `b` is invalid or ends in bytes that can never start a valid code point.
    fn of(b: &[u8]) -> Option<Utf8Tail> {
        let rest = &b[valid_prefix_len(b)?..];
        let mut tail = Utf8Tail::EMPTY;
        tail.bytes[..rest.len()].copy_from_slice(rest);
        tail.len = rest.len() as u8;
        Some(tail)
    }
}

#[cfg(test)]
mod tests {
    use super::Utf8Tail;
    use alloc::vec::Vec;

    /// Feeds `pieces` as one streamed text message; returns whether every piece was accepted.
    fn accepts(pieces: &[&[u8]]) -> bool {
        let mut tail = Utf8Tail::EMPTY;
        for (i, p) in pieces.iter().enumerate() {
            match tail.extend(p, i + 1 == pieces.len()) {
                Some(t) => tail = t,
                None => return false,
            }
        }
        true
    }

    #[test]
    fn send_utf8_accepts_valid_text_split_anywhere() {
        let text = "a\u{e9}\u{4e16}\u{1f600}z\u{10ffff}".as_bytes();
        for i in 0..=text.len() {
            for j in i..=text.len() {
                assert!(accepts(&[&text[..i], &text[i..j], &text[j..]]), "{i} {j}");
            }
        }
        // One byte at a time, with empty pieces between.
        let bytes: Vec<&[u8]> = text.chunks(1).flat_map(|c| [c, &[][..]]).collect();
        assert!(accepts(&bytes));
    }

    #[test]
    fn send_utf8_rejects_invalid_text_at_the_first_bad_piece() {
        let cases: &[(&[&[u8]], usize)] = &[
            // A lead byte continued by ASCII in the next piece.
            (&[b"[[[\xd9", b"[[["], 1),
            (&[b"\xe4\xb8", b"a"], 1),
            (&[b"\xe4", b"\xb8", b"\xff"], 2),
            // Never valid: stray continuation, 0xFF, overlong, surrogate, over U+10FFFF.
            (&[b"ok", b"\x80"], 1),
            (&[b"\xff"], 0),
            (&[b"\xc0\x80"], 0),
            (&[b"\xed", b"\xa0"], 1),
            (&[b"\xf4\x90"], 0),
            // The last piece leaves a code point unfinished.
            (&[b"a", b"\xe4\xb8"], 1),
            (&[b"\xe4", b""], 1),
        ];
        for (pieces, bad) in cases {
            let mut tail = Utf8Tail::EMPTY;
            let mut failed_at = None;
            for (i, p) in pieces.iter().enumerate() {
                match tail.extend(p, i + 1 == pieces.len()) {
                    Some(t) => tail = t,
                    None => {
                        failed_at = Some(i);
                        break;
                    }
                }
            }
            assert_eq!(failed_at, Some(*bad), "{pieces:?}");
        }
    }
}
