//! The receive side: reads frames from the connection's input buffer, assembles them into
//! messages, validates text as it arrives, and returns what it received ([`Inbound`]). It
//! knows nothing of sending, of the close handshake or of time.
//!
//! The input buffer is the driver's read buffer: the driver reads into its spare capacity
//! ([`Reader::input_buffer`]) and the reader takes bytes off its front. Bytes not read yet (a
//! header cut off by the end of a read, a control frame not yet whole, compressed bytes past
//! the inflate step budget, and a whole message still arriving) stay at its front, so nothing
//! is copied twice.
//!
//! Invariants:
//! - A data message in one frame (uncompressed, whole messages wanted) is received where it
//!   lies: its payload stays at the front of the buffer while it arrives, each new byte
//!   unmasked and (text) validated once, in place, and the whole message is split off the
//!   buffer as a [`Bytes`] (zero-copy). Room for the rest of it grows with the bytes that
//!   arrived (or the size of the last large message), never with the length the header
//!   declared.
//! - Every other data frame (fragments, compressed messages, streaming mode) is consumed as
//!   it arrives: copied (unmasked in the same pass, text validated as it arrives) into the
//!   message buffer, or unmasked in place and inflated.
//! - Text is validated as it arrives, so invalid UTF-8 fails inside a partial frame.
//! - Control frames are read whole (at most 131 bytes); nothing after a Close is read.

use bytes::{Buf, Bytes, BytesMut};

use crate::close::{parse_close_payload, CloseFrame};
use crate::compression::Comp;
use crate::config::MessageMode;
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, Opcode, Status, MAX_CONTROL_PAYLOAD};
use crate::mask::{apply_mask, extend_unmasked};
use crate::message::{Chunk, Event, Message, MessageKind, Text};
use crate::unmask_utf8::{validate_utf8, Kernel};

/// The message buffer grows in blocks of at least this many bytes, so short messages share
/// one allocation (each message is a refcounted slice of it).
const ARENA_BLOCK: usize = 8 * 1024;

/// The least room [`Reader::input_buffer`] makes for a read.
const MIN_READ: usize = 8 * 1024;

/// What the reader received, for the connection to act on, in order.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// An event for the application as it is: a whole message, a piece of a message
    /// ([`MessageMode::Streaming`]), or a Pong.
    Event(Event),
    /// A Ping (its Pong is owed).
    Ping(Bytes),
    /// A valid Close frame: the last thing read.
    Close(Option<CloseFrame>),
}

/// Why a read stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// Everything in the buffer was read, but for the start of a frame still arriving.
    NeedInput,
    /// Inflating reached the step budget: the rest waits for the next step.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    Stalled,
    /// A Close frame was read: nothing more is read.
    Closed,
}

/// The limits and choices the reader applies (from [`crate::Config`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_frame_payload: usize,
    pub(crate) max_message_size: usize,
    pub(crate) max_fragments: usize,
    pub(crate) max_read: usize,
    pub(crate) mode: MessageMode,
}

/// The frame whose payload is being read.
#[derive(Debug, Clone, Copy)]
enum Frame {
    /// A whole message in one frame, its payload at the front of the buffer until all of it
    /// arrived: `unmasked` bytes of it are unmasked, `valid` of those validated (text).
    InPlace {
        kind: MessageKind,
        len: usize,
        key: Option<[u8; 4]>,
        unmasked: usize,
        valid: usize,
    },
    /// A data frame whose payload is consumed as it arrives (`offset` bytes of it so far);
    /// the first `unmasked` bytes at the front of the buffer are its payload, unmasked but
    /// not yet inflated (a step ran out of budget).
    Consumed {
        fin: bool,
        key: Option<[u8; 4]>,
        remaining: u64,
        offset: usize,
        unmasked: usize,
    },
}

/// The data message being assembled from consumed frames.
#[derive(Debug, Clone, Copy)]
struct Assembly {
    kind: MessageKind,
    /// Frames received so far.
    fragments: usize,
    /// Payload bytes received so far (compressed bytes, for a compressed message).
    size: usize,
    /// A chunk of it was already handed out (streaming mode).
    started: bool,
    /// The first frame had RSV1: the payload is DEFLATE data (permessage-deflate).
    compressed: bool,
}

/// One connection's receive side.
pub(crate) struct Reader {
    /// Frames must be masked (this is a server).
    masked: bool,
    limits: Limits,
    /// `min(max_frame_payload, max_message_size)`: the largest message read in place, or
    /// `None` when none is (streaming mode, or no fragment allowed at all).
    in_place_max: Option<u64>,
    kernel: Kernel,
    /// RSV bits an extension negotiated for the first frame of a data message.
    allowed_rsv: u8,
    /// The input buffer; bytes not read yet at its front.
    buf: BytesMut,
    frame: Option<Frame>,
    msg: Option<Assembly>,
    /// Payload of the assembled message not yet handed out.
    msg_buf: BytesMut,
    /// The buffer of an earlier large message, taken back for a new one once the application
    /// dropped that message (see `grow_msg_buf`).
    spare_buf: Option<BytesMut>,
    /// Length of the validated prefix of the assembled text (of `msg_buf`, or of the inflated
    /// bytes of a compressed message).
    utf8_valid: usize,
    /// Size of the last large message: a hint for sizing buffers.
    size_hint: usize,
    /// The room offered for the next read; doubles (up to `max_read`) when reads fill it.
    read_room: usize,
    /// The buffer's length and spare room when it was last lent for a read.
    lent: (usize, usize),
    /// The capacity after the room lent for a read, held aside so that the read ends where a
    /// frame does; joined back before reading.
    held: Option<BytesMut>,
    /// Length (header included) of the frame of the last large message read in place: reads
    /// between frames are sized in whole frames of this length, so that they end where a
    /// frame does and no frame is cut off by the end of a read (and copied to make room).
    frame_hint: usize,
    /// Inflating stopped at the step budget.
    stalled: bool,
}

impl Reader {
    /// A reader for a server (`masked`: frames must be masked) or a client, with `kernel`
    /// for unmasking and validating text; `allowed_rsv` is RSV1 when permessage-deflate was
    /// negotiated.
    pub(crate) fn new(masked: bool, limits: Limits, kernel: Kernel, allowed_rsv: u8) -> Self {
        Reader {
            masked,
            in_place_max: (limits.mode == MessageMode::Assembled && limits.max_fragments > 0)
                .then(|| limits.max_frame_payload.min(limits.max_message_size) as u64),
            limits,
            kernel,
            allowed_rsv,
            buf: BytesMut::new(),
            frame: None,
            msg: None,
            msg_buf: BytesMut::new(),
            spare_buf: None,
            utf8_valid: 0,
            size_hint: 0,
            read_room: MIN_READ.min(limits.max_read.max(1)),
            lent: (0, 0),
            held: None,
            frame_hint: 0,
            stalled: false,
        }
    }

    /// The buffer to read received bytes into, with room for at least one read: `read_room`,
    /// or, while a message is arriving in place, room for the rest of it (up to doubling what
    /// arrived, or the size of the last large message). While large messages arrive, the room
    /// lent is exact (the capacity after it held aside), so that a read ends where a frame
    /// does.
    pub(crate) fn input_buffer(&mut self) -> &mut BytesMut {
        self.rejoin();
        let (room, exact) = self.room();
        if self.buf.capacity() - self.buf.len() < room {
            self.make_room(room);
        }
        if exact && self.buf.capacity() - self.buf.len() > room {
            let at = self.buf.len() + room;
            self.held = Some(self.buf.split_off(at));
        }
        self.lent = (self.buf.len(), self.buf.capacity() - self.buf.len());
        &mut self.buf
    }

    /// Put `buf` (emptied) in place of the input buffer if that holds no bytes not read yet,
    /// and return the old one; else `Err(buf)`, nothing changed.
    pub(crate) fn swap_input_buffer(&mut self, mut buf: BytesMut) -> Result<BytesMut, BytesMut> {
        self.rejoin();
        if !self.buf.is_empty() {
            return Err(buf);
        }
        buf.clear();
        self.lent = (0, 0);
        Ok(core::mem::replace(&mut self.buf, buf))
    }

    /// Join back the capacity held aside while the buffer was lent (without a copy when the
    /// read filled the room; else the held capacity is let go, to be reclaimed later).
    fn rejoin(&mut self) {
        if let Some(held) = self.held.take() {
            self.buf.unsplit(held);
        }
    }

    /// Inflating stopped at the step budget: call [`read`](Self::read) again (even with no
    /// new input) to go on.
    pub(crate) fn is_stalled(&self) -> bool {
        self.stalled
    }

    /// Read what the buffer holds, handing each thing received to `out` in order, within
    /// `budget` inflated bytes. On an error, what came before it was handed out, and nothing
    /// after it is read.
    pub(crate) fn read(
        &mut self,
        mut comp: Comp<'_>,
        budget: &mut usize,
        out: &mut impl FnMut(Inbound),
    ) -> Result<ReadEnd, ProtocolError> {
        self.rejoin();
        self.adapt_read_room();
        let end = self.read_frames(&mut comp, budget, out)?;
        if end != ReadEnd::Closed && self.limits.mode == MessageMode::Streaming {
            self.emit_chunk(&mut comp, false, out);
        }
        Ok(end)
    }

    /// Drop everything held (the connection is ending): input, and the message in progress.
    pub(crate) fn discard(&mut self) {
        self.held = None;
        self.buf = BytesMut::new();
        self.frame = None;
        self.msg = None;
        self.msg_buf = BytesMut::new();
        self.spare_buf = None;
        self.utf8_valid = 0;
        self.stalled = false;
    }

    /// Drop input that will never be read (after a Close or a failure).
    pub(crate) fn drop_input(&mut self) {
        self.held = None;
        self.buf.clear();
    }

    fn read_frames(
        &mut self,
        comp: &mut Comp<'_>,
        budget: &mut usize,
        out: &mut impl FnMut(Inbound),
    ) -> Result<ReadEnd, ProtocolError> {
        loop {
            match self.frame {
                Some(Frame::InPlace { .. }) => {
                    if !self.read_in_place(out)? {
                        return Ok(ReadEnd::NeedInput);
                    }
                }
                Some(Frame::Consumed { .. }) => {
                    if let Some(end) = self.consume(comp, budget, out)? {
                        return Ok(end);
                    }
                }
                None => {
                    let (h, n) = match FrameHeader::decode(&self.buf)? {
                        Status::Complete(x) => x,
                        Status::Partial => return Ok(ReadEnd::NeedInput),
                    };
                    if let Some(kind) = self.in_place_kind(&h) {
                        self.start_in_place(kind, &h, n, out)?;
                        continue;
                    }
                    self.check_header(&h)?;
                    if h.opcode.is_control() {
                        // Read whole: at most 125 bytes.
                        let len = h.payload_len as usize;
                        if self.buf.len() - n < len {
                            return Ok(ReadEnd::NeedInput);
                        }
                        self.buf.advance(n);
                        if self.control(h, len, out)? {
                            return Ok(ReadEnd::Closed);
                        }
                        continue;
                    }
                    self.buf.advance(n);
                    self.frame = Some(Frame::Consumed {
                        fin: h.fin,
                        key: h.mask,
                        remaining: h.payload_len,
                        offset: 0,
                        unmasked: 0,
                    });
                }
            }
        }
    }

    /// The kind of message if `h` starts a whole message the reader takes in place: one
    /// frame (FIN), text or binary, no RSV bits, masked as the role requires, within the
    /// limits, while no other message is in progress (and whole messages are wanted).
    #[inline(always)]
    fn in_place_kind(&self, h: &FrameHeader) -> Option<MessageKind> {
        let kind = match h.opcode {
            Opcode::Text => MessageKind::Text,
            Opcode::Binary => MessageKind::Binary,
            _ => return None,
        };
        let ok = h.fin
            && h.rsv == 0
            && h.mask.is_some() == self.masked
            && self.msg.is_none()
            && self.in_place_max.is_some_and(|max| h.payload_len <= max);
        ok.then_some(kind)
    }

    /// Start reading the message whose header (`n` bytes) is at the front of the buffer in
    /// place: at once if all of it is there, else as it arrives.
    #[inline(always)]
    fn start_in_place(
        &mut self,
        kind: MessageKind,
        h: &FrameHeader,
        n: usize,
        out: &mut impl FnMut(Inbound),
    ) -> Result<(), ProtocolError> {
        let len = h.payload_len as usize;
        self.buf.advance(n);
        self.note_frame(n, len);
        if self.buf.len() >= len {
            let mut payload = self.buf.split_to(len);
            self.unmask_whole(kind, &mut payload, h.mask)?;
            self.note_size(len);
            out(Inbound::Event(Event::Message(message(
                kind,
                payload.freeze(),
            ))));
            return Ok(());
        }
        self.frame = Some(Frame::InPlace {
            kind,
            len,
            key: h.mask,
            unmasked: 0,
            valid: 0,
        });
        self.read_in_place(out).map(|_| ())
    }

    /// Unmask a whole message in place and, for text, check that it is complete UTF-8.
    #[inline(always)]
    fn unmask_whole(
        &self,
        kind: MessageKind,
        payload: &mut [u8],
        key: Option<[u8; 4]>,
    ) -> Result<(), ProtocolError> {
        let complete = match (kind, key) {
            (MessageKind::Binary, Some(key)) => {
                apply_mask(payload, key, 0);
                true
            }
            (MessageKind::Binary, None) => true,
            (MessageKind::Text, Some(key)) => {
                self.kernel.unmask_text(payload, 0, 0, key) == Ok(payload.len())
            }
            (MessageKind::Text, None) => simdutf8::basic::from_utf8(payload).is_ok(),
        };
        if complete {
            Ok(())
        } else {
            Err(ProtocolError::InvalidUtf8)
        }
    }

    /// Unmask and validate what arrived of the message in place; hand it out once whole.
    /// Returns whether it is done.
    fn read_in_place(&mut self, out: &mut impl FnMut(Inbound)) -> Result<bool, ProtocolError> {
        let Some(Frame::InPlace {
            kind,
            len,
            key,
            mut unmasked,
            mut valid,
        }) = self.frame
        else {
            return Ok(true);
        };
        let avail = self.buf.len().min(len);
        if avail > unmasked {
            let arrived = &mut self.buf[..avail];
            match (kind, key) {
                (MessageKind::Text, Some(key)) => {
                    valid = self
                        .kernel
                        .unmask_text(arrived, unmasked, valid, key)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                (MessageKind::Text, None) => {
                    validate_utf8(arrived, &mut valid).map_err(|_| ProtocolError::InvalidUtf8)?
                }
                (MessageKind::Binary, Some(key)) => {
                    apply_mask(&mut arrived[unmasked..], key, unmasked)
                }
                (MessageKind::Binary, None) => {}
            }
            unmasked = avail;
        }
        if avail < len {
            self.frame = Some(Frame::InPlace {
                kind,
                len,
                key,
                unmasked,
                valid,
            });
            return Ok(false);
        }
        if kind == MessageKind::Text && valid != len {
            // The message ended inside a code point.
            return Err(ProtocolError::InvalidUtf8);
        }
        self.frame = None;
        let data = self.buf.split_to(len).freeze();
        self.note_size(len);
        out(Inbound::Event(Event::Message(message(kind, data))));
        Ok(true)
    }

    /// A whole control frame of `len` payload bytes at the front of the buffer (its header
    /// read). Returns whether it was a Close.
    fn control(
        &mut self,
        h: FrameHeader,
        len: usize,
        out: &mut impl FnMut(Inbound),
    ) -> Result<bool, ProtocolError> {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let payload = &mut payload[..len];
        payload.copy_from_slice(&self.buf[..len]);
        self.buf.advance(len);
        if let Some(key) = h.mask {
            apply_mask(payload, key, 0);
        }
        match h.opcode {
            Opcode::Ping => out(Inbound::Ping(Bytes::copy_from_slice(payload))),
            Opcode::Pong => out(Inbound::Event(Event::Pong(Bytes::copy_from_slice(payload)))),
            _ => {
                let close = parse_close_payload(payload).map_err(ProtocolError::InvalidClose)?;
                out(Inbound::Close(close));
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Check a decoded header against the session's rules and limits; a data frame joins
    /// (or starts) the message it belongs to.
    fn check_header(&mut self, h: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.masked, h.mask.is_some()) {
            (true, false) => return Err(ProtocolError::UnmaskedFrame),
            (false, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if h.opcode.is_control() {
            if h.rsv != 0 {
                return Err(ProtocolError::ReservedBits(h.rsv));
            }
            return Ok(());
        }
        let allowed = if h.opcode == Opcode::Continuation {
            0
        } else {
            self.allowed_rsv
        };
        if h.rsv & !allowed != 0 {
            return Err(ProtocolError::ReservedBits(h.rsv));
        }
        if h.payload_len > self.limits.max_frame_payload as u64 {
            return Err(ProtocolError::FrameTooLarge {
                len: h.payload_len,
                limit: self.limits.max_frame_payload,
            });
        }
        let msg = match (h.opcode, self.msg.as_mut()) {
            (Opcode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (Opcode::Continuation, Some(m)) => m,
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (op, None) => self.msg.insert(Assembly {
                kind: if op == Opcode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                },
                fragments: 0,
                size: 0,
                started: false,
                compressed: h.rsv & crate::frame::RSV1 != 0,
            }),
        };
        msg.fragments += 1;
        if msg.fragments > self.limits.max_fragments {
            return Err(ProtocolError::TooManyFragments {
                limit: self.limits.max_fragments,
            });
        }
        // Fail before buffering anything when the declared length already breaks the limit.
        if msg.size as u64 + h.payload_len > self.limits.max_message_size as u64 {
            return Err(ProtocolError::MessageTooLarge {
                limit: self.limits.max_message_size,
            });
        }
        Ok(())
    }

    /// Consume what arrived of the current `Consumed` frame. Returns `Some(end)` when the
    /// read must stop, `None` when the frame is done and reading goes on.
    fn consume(
        &mut self,
        comp: &mut Comp<'_>,
        budget: &mut usize,
        out: &mut impl FnMut(Inbound),
    ) -> Result<Option<ReadEnd>, ProtocolError> {
        let Some(Frame::Consumed {
            fin,
            key,
            remaining,
            offset,
            unmasked,
        }) = self.frame
        else {
            return Ok(None);
        };
        // (`unmasked` changes only when inflating.)
        #[allow(unused_mut)]
        let (mut remaining, mut offset, mut unmasked) = (remaining, offset, unmasked);
        let Some(msg) = self.msg else {
            self.frame = None;
            return Ok(None);
        };
        let n = usize::try_from(remaining).map_or(self.buf.len(), |r| r.min(self.buf.len()));
        if msg.compressed {
            #[cfg(not(feature = "deflate"))]
            {
                // RSV1 is never allowed without permessage-deflate.
                let _ = (comp, budget);
                return Err(ProtocolError::ReservedBits(crate::frame::RSV1));
            }
            #[cfg(feature = "deflate")]
            {
                self.stalled = false;
                let Some(c) = comp.as_deref_mut() else {
                    return Err(ProtocolError::ReservedBits(crate::frame::RSV1));
                };
                if let Some(key) = key {
                    apply_mask(
                        &mut self.buf[unmasked..n],
                        key,
                        offset.wrapping_add(unmasked),
                    );
                }
                let progress = c.inflate(&self.buf[..n], self.limits.max_message_size, budget)?;
                if msg.kind == MessageKind::Text {
                    validate_utf8(c.inflated(), &mut self.utf8_valid)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                self.buf.advance(progress.consumed);
                offset = offset.wrapping_add(progress.consumed);
                remaining -= progress.consumed as u64;
                unmasked = n - progress.consumed;
                if let Some(m) = self.msg.as_mut() {
                    m.size += progress.consumed;
                }
                if !progress.done {
                    self.stalled = true;
                    self.frame = Some(Frame::Consumed {
                        fin,
                        key,
                        remaining,
                        offset,
                        unmasked,
                    });
                    return Ok(Some(ReadEnd::Stalled));
                }
            }
        } else {
            if n == 0 && remaining > 0 {
                return Ok(Some(ReadEnd::NeedInput));
            }
            if self.msg_buf.capacity() - self.msg_buf.len() < n {
                self.grow_msg_buf(fin, remaining, n);
            }
            let payload = &self.buf[..n];
            match (msg.kind, key) {
                (MessageKind::Text, Some(key)) => {
                    self.utf8_valid = self
                        .kernel
                        .extend_text(&mut self.msg_buf, self.utf8_valid, payload, key, offset)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                (MessageKind::Text, None) => {
                    self.msg_buf.extend_from_slice(payload);
                    validate_utf8(&self.msg_buf, &mut self.utf8_valid)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                (MessageKind::Binary, Some(key)) => {
                    extend_unmasked(&mut self.msg_buf, payload, key, offset)
                }
                (MessageKind::Binary, None) => self.msg_buf.extend_from_slice(payload),
            }
            self.buf.advance(n);
            offset = offset.wrapping_add(n);
            remaining -= n as u64;
            if let Some(m) = self.msg.as_mut() {
                m.size += n;
            }
        }
        if remaining > 0 {
            self.frame = Some(Frame::Consumed {
                fin,
                key,
                remaining,
                offset,
                unmasked,
            });
            return Ok(Some(ReadEnd::NeedInput));
        }
        self.frame = None;
        if fin {
            self.end_message(comp, out)?;
        }
        Ok(None)
    }

    /// The last frame of the assembled message is read: check it and hand it out.
    fn end_message(
        &mut self,
        comp: &mut Comp<'_>,
        out: &mut impl FnMut(Inbound),
    ) -> Result<(), ProtocolError> {
        let Some(msg) = self.msg else {
            return Ok(());
        };
        if msg.compressed {
            #[cfg(feature = "deflate")]
            if let Some(c) = comp.as_deref_mut() {
                c.end_message(self.limits.max_message_size)?;
                if msg.kind == MessageKind::Text {
                    validate_utf8(c.inflated(), &mut self.utf8_valid)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                    if self.utf8_valid != c.inflated().len() {
                        return Err(ProtocolError::InvalidUtf8);
                    }
                }
                if self.limits.mode == MessageMode::Assembled {
                    let data = c.take_message();
                    self.utf8_valid = 0;
                    self.msg = None;
                    out(Inbound::Event(Event::Message(message(msg.kind, data))));
                    return Ok(());
                }
            }
            self.emit_chunk(comp, true, out);
            return Ok(());
        }
        if msg.kind == MessageKind::Text && self.utf8_valid != self.msg_buf.len() {
            // The message ended inside a code point.
            return Err(ProtocolError::InvalidUtf8);
        }
        self.note_size(msg.size);
        match self.limits.mode {
            MessageMode::Assembled => {
                let data = self.msg_buf.split().freeze();
                self.utf8_valid = 0;
                self.msg = None;
                out(Inbound::Event(Event::Message(message(msg.kind, data))));
            }
            MessageMode::Streaming => self.emit_chunk(comp, true, out),
        }
        Ok(())
    }

    /// Streaming mode: hand out what has arrived of the current message (for text, up to the
    /// last complete code point); `last` ends it.
    fn emit_chunk(&mut self, comp: &mut Comp<'_>, last: bool, out: &mut impl FnMut(Inbound)) {
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        #[cfg(feature = "deflate")]
        let inflated = comp.as_ref().map_or(0, |c| c.inflated().len());
        #[cfg(not(feature = "deflate"))]
        let inflated = {
            let _ = &comp;
            0
        };
        let ready = match msg.kind {
            MessageKind::Text => self.utf8_valid,
            MessageKind::Binary if msg.compressed => inflated,
            MessageKind::Binary => self.msg_buf.len(),
        };
        if ready == 0 && !last {
            return;
        }
        let first = !msg.started;
        msg.started = true;
        let (kind, compressed) = (msg.kind, msg.compressed);
        let data = if compressed {
            #[cfg(feature = "deflate")]
            {
                comp.as_deref_mut()
                    .map_or_else(Bytes::new, |c| c.take_chunk(ready, last))
            }
            #[cfg(not(feature = "deflate"))]
            Bytes::new()
        } else {
            self.msg_buf.split_to(ready).freeze()
        };
        self.utf8_valid = 0;
        if last {
            self.msg = None;
        }
        out(Inbound::Event(Event::Chunk(Chunk {
            kind,
            data,
            first,
            last,
        })));
    }

    /// A message in one frame of `header` + `len` bytes starts: a large one is a hint for
    /// sizing reads in whole frames; a small one ends that.
    #[inline]
    fn note_frame(&mut self, header: usize, len: usize) {
        if len > ARENA_BLOCK {
            self.frame_hint = header + len;
        } else if self.frame_hint != 0 {
            self.frame_hint = 0;
        }
    }

    /// A message of `len` bytes was received: a large one is a hint for sizing the buffers of
    /// the next; one that is not large lets the spare message buffer go.
    #[inline]
    fn note_size(&mut self, len: usize) {
        if len > ARENA_BLOCK {
            self.size_hint = len;
        } else if self.spare_buf.is_some() {
            self.spare_buf = None;
        }
    }

    /// Make room in the message buffer for `n` more payload bytes of a consumed frame with
    /// `rest` bytes still to come (`fin`: the last frame of its message), and usually more.
    ///
    /// Growth follows what arrived, never what the header declared: at least doubling (at
    /// least a block), or the size of the previous large message (bytes that did arrive), so
    /// a message read in pieces is copied O(1) times per byte. When the frame ends the message
    /// and the rest of it is at most that step plus an eighth, the buffer gets exactly the
    /// rest. A new message first takes back the buffer of an earlier message that the
    /// application has dropped (the last one, or the one before it, kept in `spare_buf`).
    fn grow_msg_buf(&mut self, fin: bool, rest: u64, n: usize) {
        let len = self.msg_buf.len();
        let rest = usize::try_from(rest).unwrap_or(usize::MAX);
        let step = n.max(ARENA_BLOCK).max(len);
        let step = step.max(self.size_hint.min(rest));
        // Small messages share arena blocks instead (see `ARENA_BLOCK`).
        let exact = fin && rest <= step + step / 8 && len + rest > ARENA_BLOCK;
        let add = if exact { rest } else { step };
        if len == 0 {
            if self.msg_buf.try_reclaim(add) {
                return;
            }
            if let Some(spare) = self.spare_buf.as_mut() {
                if spare.try_reclaim(add) {
                    core::mem::swap(&mut self.msg_buf, spare);
                    return;
                }
            }
            // Never `reserve` here: on a buffer the application dropped but that is too small,
            // it would copy the dead bytes of the old message into the new allocation.
            let fresh = BytesMut::with_capacity(add);
            let old = core::mem::replace(&mut self.msg_buf, fresh);
            // Kept only for large messages: small ones share arena blocks.
            self.spare_buf = (add > ARENA_BLOCK).then_some(old);
        } else if exact && self.msg_buf.capacity().saturating_mul(2) > len + add {
            // `reserve` would double the allocation; copy into one of exactly this size.
            let mut fresh = BytesMut::with_capacity(len + add);
            fresh.extend_from_slice(&self.msg_buf);
            self.msg_buf = fresh;
        } else {
            self.msg_buf.reserve(add);
        }
    }

    /// The room the next read gets, and whether it must be exact (no more than that).
    fn room(&self) -> (usize, bool) {
        let Some(Frame::InPlace { len, .. }) = self.frame else {
            // Between frames: whole frames of the last large message's size (one, if it is
            // larger than a read), so that the read ends where a frame does.
            return match self.frame_hint {
                0 => (self.read_room, false),
                f if f > self.limits.max_read => (f, true),
                f => (self.limits.max_read / f * f, true),
            };
        };
        // The message's bytes so far are at the front of the buffer.
        let have = self.buf.len().min(len);
        let rest = len - have;
        if rest == 0 {
            return (self.read_room, false);
        }
        // Grow with what arrived (doubling), or to the size of the last large message: never
        // by the declared length alone. The last growth gets exactly the rest, and the read
        // that brings it ends with the message.
        let step = have.max(self.size_hint).max(self.read_room);
        if rest <= step + step / 8 {
            (rest, len > ARENA_BLOCK)
        } else {
            (step, false)
        }
    }

    /// Give the buffer `room` bytes of spare capacity, keeping the bytes not read yet: its own
    /// allocation if nothing else shares it (the messages split off it were dropped), else a
    /// new one.
    fn make_room(&mut self, room: usize) {
        if self.buf.try_reclaim(room) {
            return;
        }
        let mut fresh = BytesMut::with_capacity(self.buf.len() + room);
        fresh.extend_from_slice(&self.buf);
        self.buf = fresh;
    }

    /// Reads that filled the room offered double it (up to `max_read`); a read that left most
    /// of it unused while nothing was pending halves it (down to the minimum).
    fn adapt_read_room(&mut self) {
        let (before, room) = self.lent;
        if room == 0 {
            return;
        }
        let arrived = self.buf.len().saturating_sub(before);
        self.lent = (0, 0);
        let max = self.limits.max_read.max(MIN_READ);
        if arrived >= room && room >= self.read_room {
            self.read_room = (self.read_room * 2).min(max);
        } else if arrived < self.read_room / 4 && before == 0 {
            self.read_room = (self.read_room / 2).max(MIN_READ.min(max));
        }
    }
}

/// The message of `kind` with payload `data` (already validated if it is text).
#[inline]
fn message(kind: MessageKind, data: Bytes) -> Message {
    match kind {
        MessageKind::Binary => Message::Binary(data),
        MessageKind::Text => Message::Text(Text::from_validated(data)),
    }
}

#[cfg(test)]
mod tests;
