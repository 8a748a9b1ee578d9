//! The session layer: one WebSocket connection after the opening handshake.
//!
//! [`Connection`] owns the leftovers of partial input (at most one frame header, at most one
//! control payload, and the message being assembled), the outgoing bytes not yet handed to the
//! driver, and the queue of events. It never touches a socket, a clock or a random source: time
//! comes in as [`Instant`] arguments and masking keys from the [`MaskSource`] given at creation.
//!
//! Invariants:
//! - Payload bytes are unmasked while being copied from the caller's input into the message
//!   buffer, or (`handle_input_buf`) unmasked in the caller's read buffer and split off it; no
//!   buffer is ever sized by a length the peer declared, only by bytes that arrived.
//! - Text is validated as it arrives, inside partial frames, so invalid UTF-8 fails at once.
//! - After a protocol error, nothing more is read; the Close frame with the error's code is
//!   queued and the connection is finished.
//! - Every state transition (open, close sent, closed, finished) is in `state.rs`.

use crate::close::{parse_close_payload, CloseCode, MAX_REASON_LEN};
use crate::config::{Config, MessageMode};
use crate::error::{ProtocolError, SendError};
use crate::frame::{FrameHeader, Opcode, Status, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, RSV1};
use crate::mask::{apply_mask, extend_masked, extend_unmasked};
use crate::mask_source::{MaskSource, NoMasks};
use crate::message::{Chunk, Event, Message, MessageKind, MessageRef, Text};
use crate::state::Phase;
use crate::time::Instant;
use crate::Role;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

/// The message buffer grows in blocks of at least this many bytes, so short messages share one
/// allocation (each message is a refcounted slice of it).
const ARENA_BLOCK: usize = 8 * 1024;

/// A server queues payloads at least this large as shared `Bytes` instead of copying them.
const SHARED_PAYLOAD_MIN: usize = 1024;

/// Text is validated in blocks of this size right after each is copied (it is still in L1).
const VALIDATE_BLOCK: usize = 16 * 1024;

/// One WebSocket connection, client or server, after the opening handshake.
///
/// # Driving it
///
/// Feed it with the `handle_*` inputs, act with the mutators, then drain every `poll_*`
/// output, in this order: [`poll_transmit`](Self::poll_transmit) until `None` (write those bytes
/// to the transport), [`poll_timeout`](Self::poll_timeout) (arm a timer; when it fires call
/// [`handle_timeout`](Self::handle_timeout)), and [`poll_event`](Self::poll_event) until `None`.
/// When [`is_finished`](Self::is_finished) turns true, write what `poll_transmit` still gives
/// and close the transport.
///
/// - getters: [`role`](Self::role), [`is_finished`](Self::is_finished),
///   [`pending_transmit`](Self::pending_transmit), [`config`](Self::config)
/// - inputs: [`handle_input`](Self::handle_input) (or, to receive whole messages without
///   copying them out of the driver's read buffer, [`handle_input_buf`](Self::handle_input_buf)),
///   [`handle_timeout`](Self::handle_timeout), [`handle_eof`](Self::handle_eof)
/// - mutators: [`send`](Self::send), [`send_chunk`](Self::send_chunk), [`ping`](Self::ping),
///   [`close`](Self::close)
/// - outputs: [`poll_transmit`](Self::poll_transmit) (or, for vectored writes without copies,
///   [`transmit_chunks`](Self::transmit_chunks) + [`advance_transmit`](Self::advance_transmit)),
///   [`poll_timeout`](Self::poll_timeout), [`poll_event`](Self::poll_event)
///
/// After draining events, drain `poll_transmit` again: answering an event queues bytes, and a
/// peer's Close or a protocol failure takes effect (queuing the Close frame) only when the
/// events before it have been taken.
///
/// Replies the protocol requires are queued automatically: a Pong for each Ping, and the echo
/// of the peer's Close.
pub struct Connection {
    pub(crate) role: Role,
    pub(crate) config: Config,
    masks: Box<dyn MaskSource + Send>,
    pub(crate) phase: Phase,

    // --- reader ---
    /// Bytes of a frame header split across inputs.
    hdr_buf: [u8; MAX_HEADER_LEN],
    hdr_len: usize,
    /// The frame whose payload is being read, if any.
    frame: Option<FrameInProgress>,
    /// The payload of the control frame being read.
    control: [u8; MAX_CONTROL_PAYLOAD],
    control_len: usize,
    /// The data message being received, if any.
    msg: Option<MessageInProgress>,
    /// Payload of the current message not yet handed out (all of it in assembled mode).
    msg_buf: BytesMut,
    /// An empty handle on the buffer of an earlier large message, taken back for a new
    /// message once the application has dropped that message (see `grow_msg_buf`). Dropped
    /// when a small message arrives, so a connection back to small messages holds one buffer.
    spare_buf: Option<BytesMut>,
    /// Length of the prefix of `msg_buf` known to be valid UTF-8 (text messages).
    utf8_valid: usize,
    /// Size of the last message that needed more than one block: a hint for sizing the buffer.
    size_hint: usize,
    /// RSV bits an extension negotiated for the first frame of a data message.
    pub(crate) allowed_rsv: u8,
    /// permessage-deflate, when negotiated.
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::PerMessageDeflate>,
    /// Inflated bytes of the current compressed message not yet handed out.
    #[cfg(feature = "deflate")]
    inflated: Vec<u8>,
    /// Unmasked compressed bytes on their way to the decompressor; `scratch[scratch_pos..]`
    /// is still to inflate when a step ran out of budget.
    #[cfg(feature = "deflate")]
    scratch: Vec<u8>,
    #[cfg(feature = "deflate")]
    scratch_pos: usize,
    /// Inflating stopped at the step budget; the rest waits for the next call.
    stalled: bool,
    /// Bytes that may still be inflated in the current call.
    step_budget: usize,
    /// Received bytes not parsed yet because a step ran out of budget.
    pending_input: Vec<u8>,

    // --- writer ---
    /// Segments queued before `out` (large payloads shared, not copied), in order.
    queue: VecDeque<Segment>,
    /// Total bytes in `queue`.
    queued: usize,
    /// Frames being assembled after `queue`: headers and small or masked payloads.
    out: Vec<u8>,
    /// A Pong owed while the outgoing buffer was over its limit; only the latest is kept
    /// (RFC 6455 section 5.5.3 allows answering only the most recent Ping).
    pending_pong: Option<([u8; MAX_CONTROL_PAYLOAD], usize)>,
    /// Kind of the message being sent with `send_chunk`, if one is in progress.
    sending: Option<MessageKind>,
    /// The incomplete code point at the end of the text pieces sent so far.
    send_utf8: Utf8Tail,
    /// The message in progress is being sent compressed (permessage-deflate).
    #[cfg(feature = "deflate")]
    sending_compressed: bool,

    // --- timers and outputs ---
    pub(crate) last_input: Instant,
    pub(crate) last_ping: Instant,
    pub(crate) events: VecDeque<Queued>,
    /// A Close frame or a protocol violation was read: nothing more is read. Its transition
    /// is queued behind the events before it.
    pub(crate) stop_reading: bool,
    /// The `Closed` event was emitted (it is emitted once, last).
    pub(crate) closed_emitted: bool,
}

/// The most bytes an inline [`Segment`] holds (a frame header is at most 14).
const INLINE_SEGMENT: usize = 30;

/// A piece of the outgoing queue: a payload shared with the caller, or a few bytes (usually
/// the frame header before such a payload) kept inline, without an allocation.
enum Segment {
    Shared(Bytes),
    Inline {
        buf: [u8; INLINE_SEGMENT],
        start: u8,
        end: u8,
    },
}

impl Segment {
    fn as_slice(&self) -> &[u8] {
        match self {
            Segment::Shared(b) => b,
            Segment::Inline { buf, start, end } => &buf[usize::from(*start)..usize::from(*end)],
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Drop the first `n` bytes (fewer than `len()`).
    fn advance(&mut self, n: usize) {
        match self {
            Segment::Shared(b) => bytes::Buf::advance(b, n),
            Segment::Inline { start, .. } => *start += n as u8,
        }
    }
}

/// An entry of the event queue: an event for the application, or a transition that waits
/// until the events queued before it were taken.
#[derive(Debug)]
pub(crate) enum Queued {
    Event(Event),
    /// The peer's valid Close frame.
    PeerClose(Option<crate::close::CloseFrame>),
    /// The peer broke the protocol.
    Fail(ProtocolError),
}

#[derive(Debug, Clone, Copy)]
struct FrameInProgress {
    opcode: Opcode,
    fin: bool,
    mask: Option<[u8; 4]>,
    remaining: u64,
    /// Payload bytes already read (the masking key's phase).
    offset: usize,
}

#[derive(Debug, Clone, Copy)]
struct MessageInProgress {
    kind: MessageKind,
    /// Frames received so far.
    fragments: usize,
    /// Payload bytes received so far.
    size: usize,
    /// Whether a chunk of this message was already emitted (streaming mode).
    started: bool,
    /// The first frame had RSV1: the payload is DEFLATE data (permessage-deflate).
    compressed: bool,
    /// Inflated bytes so far (compressed messages).
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    inflated_size: usize,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("phase", &self.phase)
            .field("pending_transmit", &self.pending_transmit())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A server-side connection (it never masks), opened at `now`.
    pub fn server(now: Instant, config: Config) -> Self {
        Self::new(Role::Server, now, config, Box::new(NoMasks))
    }

    /// A client-side connection opened at `now`, masking every frame with keys from `masks`
    /// (use a cryptographically strong source in production, [`crate::SeededMasks`] in tests).
    pub fn client(now: Instant, config: Config, masks: impl MaskSource + Send + 'static) -> Self {
        Self::new(Role::Client, now, config, Box::new(masks))
    }

    fn new(role: Role, now: Instant, config: Config, masks: Box<dyn MaskSource + Send>) -> Self {
        Connection {
            role,
            config,
            masks,
            phase: Phase::Open,
            hdr_buf: [0; MAX_HEADER_LEN],
            hdr_len: 0,
            frame: None,
            control: [0; MAX_CONTROL_PAYLOAD],
            control_len: 0,
            msg: None,
            msg_buf: BytesMut::new(),
            spare_buf: None,
            utf8_valid: 0,
            size_hint: 0,
            allowed_rsv: 0,
            #[cfg(feature = "deflate")]
            deflate: None,
            #[cfg(feature = "deflate")]
            inflated: Vec::new(),
            #[cfg(feature = "deflate")]
            scratch: Vec::new(),
            #[cfg(feature = "deflate")]
            scratch_pos: 0,
            stalled: false,
            step_budget: usize::MAX,
            pending_input: Vec::new(),
            queue: VecDeque::new(),
            queued: 0,
            out: Vec::new(),
            pending_pong: None,
            sending: None,
            send_utf8: Utf8Tail::EMPTY,
            #[cfg(feature = "deflate")]
            sending_compressed: false,
            last_input: now,
            last_ping: now,
            events: VecDeque::new(),
            stop_reading: false,
            closed_emitted: false,
        }
    }

    /// Use permessage-deflate as negotiated in the handshake (see [`crate::deflate`]): incoming
    /// messages with RSV1 are inflated, with [`Config::max_message_size`] applied to the
    /// inflated size as it grows; outgoing messages at or above the codec's threshold are
    /// compressed. Call it right after creating the connection, before any input.
    #[cfg(feature = "deflate")]
    pub fn enable_deflate(&mut self, codec: crate::deflate::PerMessageDeflate) {
        self.deflate = Some(codec);
        self.allowed_rsv = RSV1;
    }

    // ----- getters -----

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Bytes queued for the transport and not yet taken by [`poll_transmit`](Self::poll_transmit).
    pub fn pending_transmit(&self) -> usize {
        self.queued + self.out.len() + self.pending_pong.map_or(0, |(_, n)| n + 6)
    }

    /// The connection is over: write what `poll_transmit` still gives, then close the transport.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished)
    }

    // ----- inputs -----

    /// Bytes received from the transport.
    ///
    /// Events for everything complete in `input` are queued (and stay queued even if a later
    /// frame in the same input is invalid). On a protocol violation the connection fails: the
    /// error says what was wrong, a Close with its [`ProtocolError::close_code`] is queued, and
    /// input is ignored from then on. Input after the connection finished is ignored.
    pub fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<(), ProtocolError> {
        if !self.reads() {
            return Ok(());
        }
        if !input.is_empty() {
            self.last_input = now;
        }
        self.process(now, input)
    }

    /// Whether work is left over from an earlier input: inflating a compressed message stops
    /// after [`Config::inflate_step`] bytes so that one message cannot monopolise a thread.
    /// While it is true, [`poll_timeout`](Self::poll_timeout) returns an instant already
    /// past, and [`handle_timeout`](Self::handle_timeout) does the next step; a driver should
    /// stop reading until it is false.
    pub fn has_pending_work(&self) -> bool {
        self.reads() && (self.stalled || !self.pending_input.is_empty())
    }

    /// Bytes received from the transport, in the driver's own read buffer: what
    /// [`handle_input`](Self::handle_input) does, without copying whole messages.
    ///
    /// A data message that lies in `input` whole, as one frame (and not compressed), is
    /// unmasked and validated where it lies and handed out as a slice of `input`'s buffer
    /// (zero-copy receive); everything else (fragments, control frames, a frame cut off by the
    /// end of `input`, compressed messages, [`MessageMode::Streaming`]) is read exactly as
    /// `handle_input` reads it. The events, errors and bytes to transmit are the same as
    /// `handle_input(now, &input[..])` gives.
    ///
    /// All of `input` is taken: it is left empty (the messages split off it take their part of
    /// its capacity with them). Read the next bytes into it after [`BytesMut::reserve`], which
    /// takes the whole allocation back once the application has dropped every message taken
    /// from it, and allocates anew while one is kept.
    ///
    /// Memory: each message shares the allocation of the read buffer it came in, as long as
    /// the application keeps it (with `handle_input`, a small message shares an 8 KiB block
    /// instead). An application that keeps many small messages for long should copy them
    /// out, or use `handle_input`.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use ws_proto::{Config, Connection, Event, Instant, Message, SeededMasks};
    ///
    /// let now = Instant::ZERO;
    /// let mut client = Connection::client(now, Config::default(), SeededMasks::new(1));
    /// let mut server = Connection::server(now, Config::default());
    /// client.send(now, Message::text("hello"))?;
    /// client.send(now, Message::binary(vec![7u8; 3000]))?;
    ///
    /// // The server's read buffer, as a read from the transport fills it.
    /// let mut buf = BytesMut::with_capacity(64 * 1024);
    /// let mut wire = Vec::new();
    /// while client.poll_transmit(&mut wire).is_some() {}
    /// buf.extend_from_slice(&wire);
    ///
    /// server.handle_input_buf(now, &mut buf)?;
    /// assert!(buf.is_empty());
    /// assert_eq!(server.poll_event(), Some(Event::Message(Message::text("hello"))));
    /// let Some(Event::Message(Message::Binary(b))) = server.poll_event() else { panic!() };
    /// assert_eq!(b, vec![7u8; 3000]); // a slice of the read buffer, unmasked where it lay
    /// drop(b);
    ///
    /// // Every message is dropped: the next read reuses the same allocation.
    /// buf.reserve(64 * 1024);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_input_buf(
        &mut self,
        now: Instant,
        input: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        if !self.reads() {
            input.clear();
            return Ok(());
        }
        if !input.is_empty() {
            self.last_input = now;
        }
        let result = self.read_step(|c| c.read_buf(input));
        input.clear();
        result
    }

    /// Parse `input` after whatever earlier input is still waiting, within one step budget.
    pub(crate) fn process(&mut self, _now: Instant, input: &[u8]) -> Result<(), ProtocolError> {
        self.read_step(|c| c.read_all(input))
    }

    /// One call's reading, `read`, within a fresh step budget; a protocol error stops reading.
    fn read_step(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<(), ProtocolError>,
    ) -> Result<(), ProtocolError> {
        self.step_budget = self.config.inflate_step.max(1);
        let result = read(self);
        if let Err(e) = &result {
            self.read_failed(e);
        }
        result
    }

    /// Read `input` after whatever earlier input is still waiting; what the step budget
    /// leaves unread waits in `pending_input`.
    fn read_all(&mut self, input: &[u8]) -> Result<(), ProtocolError> {
        if self.pending_input.is_empty() {
            let used = self.read(input)?;
            if used < input.len() {
                self.pending_input.extend_from_slice(&input[used..]);
            }
        } else {
            let mut buf = core::mem::take(&mut self.pending_input);
            buf.extend_from_slice(input);
            let used = self.read(&buf)?;
            buf.drain(..used);
            self.pending_input = buf;
        }
        Ok(())
    }

    /// The peer broke the protocol: stop reading now; the Close goes out once the events
    /// before it were taken.
    fn read_failed(&mut self, e: &ProtocolError) {
        self.pending_input.clear();
        self.stalled = false;
        self.stop_reading = true;
        self.events.push_back(Queued::Fail(e.clone()));
    }

    /// [`handle_input_buf`](Self::handle_input_buf)'s reader: whole single-frame messages
    /// where they lie, and the rest through [`read`](Self::read) one frame at a time, so that
    /// the frame after it can again be taken where it lies. Everything in `input` is read or,
    /// past the step budget, waits in `pending_input`. With no input, a step of work left over
    /// from earlier input (as `handle_input` with no bytes).
    fn read_buf(&mut self, input: &mut BytesMut) -> Result<(), ProtocolError> {
        if input.is_empty() || self.config.mode != MessageMode::Assembled {
            return self.read_all(input);
        }
        while !input.is_empty() && self.reads() {
            if self.stalled || !self.pending_input.is_empty() {
                // Earlier input waits for the step budget: this goes behind it.
                return self.read_all(input);
            }
            self.read_in_place(input)?;
            if input.is_empty() || !self.reads() {
                break;
            }
            // Up to the end of the frame that could not be taken in place (its header may be
            // cut off, or invalid: `read` says so).
            let n = match self.frame {
                Some(f) => usize::try_from(f.remaining).unwrap_or(usize::MAX),
                None if self.hdr_len != 0 => MAX_HEADER_LEN - self.hdr_len,
                None => match FrameHeader::decode(input) {
                    Ok(Status::Complete((h, n))) => usize::try_from(h.payload_len)
                        .map_or(usize::MAX, |len| n.saturating_add(len)),
                    _ => input.len(),
                },
            };
            let n = n.clamp(1, input.len());
            let used = self.read(&input[..n])?;
            if used < n || self.stalled {
                // Out of step budget (inflating): the rest waits, as with `handle_input`.
                self.pending_input.extend_from_slice(&input[used..]);
                return Ok(());
            }
            bytes::Buf::advance(input, n);
        }
        Ok(())
    }

    /// Take the whole single-frame data messages at the start of `input` where they lie:
    /// unmask and validate them in place and split them off `input`, while nothing else is
    /// in progress. Stops at the first frame that is anything else (or breaks a rule or a
    /// limit), which [`read`](Self::read) then reads and judges.
    #[inline]
    fn read_in_place(&mut self, input: &mut BytesMut) -> Result<(), ProtocolError> {
        if self.frame.is_some()
            || self.hdr_len != 0
            || self.msg.is_some()
            || self.config.max_fragments == 0
        {
            return Ok(());
        }
        let masked = self.role == Role::Server;
        let limit = self
            .config
            .max_frame_payload
            .min(self.config.max_message_size);
        while let Some((kind, n, len, mask)) = single_frame_header(input, masked) {
            let Some(len) = usize::try_from(len).ok().filter(|&l| l <= limit) else {
                break;
            };
            if input.len() - n < len {
                break;
            }
            let text = kind == MessageKind::Text;
            if !whole_in_place(&mut input[n..n + len], mask, text) {
                return Err(ProtocolError::InvalidUtf8);
            }
            bytes::Buf::advance(input, n);
            let data = input.split_to(len).freeze();
            self.emit_message(kind, data);
            // As on the other paths: a large message is a hint for sizing the buffer of the
            // next one that is not whole in a read; one that is not large lets the spare go.
            if len > ARENA_BLOCK {
                self.size_hint = len;
            } else {
                self.spare_buf = None;
            }
        }
        Ok(())
    }

    /// Whether received bytes are still read.
    fn reads(&self) -> bool {
        self.phase.reads() && !self.stop_reading
    }

    // ----- mutators -----

    /// Queue a whole message. Fails with [`SendError::BufferFull`] (changing nothing) if it
    /// would take the outgoing buffer past [`Config::max_send_buffer`].
    pub fn send(&mut self, _now: Instant, message: Message) -> Result<(), SendError> {
        self.check_can_start_message()?;
        let (opcode, payload) = match message {
            Message::Text(t) => (Opcode::Text, t.into_bytes()),
            Message::Binary(b) => (Opcode::Binary, b),
        };
        #[cfg(feature = "deflate")]
        if self
            .deflate
            .as_ref()
            .is_some_and(|d| d.should_compress(payload.len()))
        {
            return self.send_compressed(opcode, &payload);
        }
        if self.role == Role::Server
            && payload.len() >= SHARED_PAYLOAD_MIN
            && self.config.max_send_frame.is_none()
        {
            // A server sends the payload as it is: queue it shared, without copying.
            self.check_room(payload.len() + MAX_HEADER_LEN)?;
            let header = FrameHeader {
                fin: true,
                rsv: 0,
                opcode,
                mask: None,
                payload_len: payload.len() as u64,
            };
            header.write(&mut self.out);
            self.push_segment(payload);
            return Ok(());
        }
        self.write_data(opcode, &payload, true, 0)
    }

    /// Queue one piece of a message as one frame: the first call starts a message of `kind`,
    /// later calls continue it (their `kind` is ignored), and `last: true` ends it. Text pieces
    /// need not end on a code point boundary, but the message must be valid UTF-8: a piece
    /// that can never continue valid UTF-8, or a last piece that leaves a code point
    /// unfinished, fails with [`SendError::InvalidUtf8`] and is not queued (the message stays
    /// in progress). A single call with `last: true` sends a whole message from a borrowed
    /// slice.
    ///
    /// With permessage-deflate, a streamed message is compressed (a whole message in one call
    /// only from the size threshold up; see `DeflateConfig::threshold`);
    /// each piece is sync-flushed into its frame, so the peer can inflate what was sent
    /// without waiting for the end of the message. If compressing fails
    /// ([`SendError::CompressionFailed`]) the compressor cannot be used again and a message
    /// in progress cannot be finished: close the connection (1011).
    pub fn send_chunk(
        &mut self,
        _now: Instant,
        kind: MessageKind,
        data: &[u8],
        last: bool,
    ) -> Result<(), SendError> {
        self.check_can_send()?;
        let opcode = match (self.sending, kind) {
            (Some(_), _) => Opcode::Continuation,
            (None, MessageKind::Text) => Opcode::Text,
            (None, MessageKind::Binary) => Opcode::Binary,
        };
        let first = self.sending.is_none();
        let kind = self.sending.unwrap_or(kind);
        let tail = match kind {
            MessageKind::Text => self
                .send_utf8
                .extend(data, last)
                .ok_or(SendError::InvalidUtf8)?,
            MessageKind::Binary => Utf8Tail::EMPTY,
        };
        self.queue_piece(opcode, data, first, last)?;
        self.sending = if last { None } else { Some(kind) };
        self.send_utf8 = tail;
        Ok(())
    }

    /// Queue a whole text message from a borrowed `&str`, as one frame (compressed from the
    /// size threshold up, with permessage-deflate). Like `send_chunk(.., MessageKind::Text,
    /// .., true)` without the UTF-8 check, which the type makes unnecessary: the cheapest way
    /// to send short text.
    pub fn send_text(&mut self, _now: Instant, text: &str) -> Result<(), SendError> {
        self.check_can_start_message()?;
        self.queue_piece(Opcode::Text, text.as_bytes(), true, true)
    }

    /// Encode a whole message from a borrowed payload straight into `out`, the driver's own
    /// write buffer: whatever is pending goes into `out` first (as
    /// [`poll_transmit`](Self::poll_transmit) would move it, an owed Pong included), then
    /// the message's frames. The payload is copied once, into `out` (for a client, masked
    /// while it is copied), and nothing stays queued in the connection, so
    /// [`Config::max_send_buffer`] does not apply: `out` is the caller's to bound. Frames are
    /// split per [`Config::max_send_frame`], and with permessage-deflate a message from the
    /// size threshold up is compressed, as [`send`](Self::send) does (the compressed bytes go
    /// through the connection's buffer on their way to `out`).
    ///
    /// The cheapest way to send a payload the caller keeps (a serialization buffer, a
    /// `&'static str`): [`send`](Self::send) takes ownership instead, and
    /// [`send_text`](Self::send_text) copies into the connection's buffer, from which
    /// `poll_transmit` copies again unless nothing else is queued and its `out` is empty.
    /// Fails like `send` (while closing, or with a message in progress, nothing is written);
    /// if compressing fails ([`SendError::CompressionFailed`]), the bytes that were pending
    /// are in `out`, the message is not.
    ///
    /// ```
    /// use ws_proto::{Config, Connection, Instant, MessageRef};
    ///
    /// let mut server = Connection::server(Instant::ZERO, Config::default());
    /// let mut write_buf = Vec::new();
    /// server.send_into(Instant::ZERO, MessageRef::Text("hello"), &mut write_buf).unwrap();
    /// assert_eq!(write_buf, b"\x81\x05hello");
    /// assert_eq!(server.pending_transmit(), 0);
    /// ```
    pub fn send_into(
        &mut self,
        _now: Instant,
        message: MessageRef<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.check_can_start_message()?;
        let (opcode, payload) = match message {
            MessageRef::Text(t) => (Opcode::Text, t.as_bytes()),
            MessageRef::Binary(b) => (Opcode::Binary, b),
        };
        self.poll_transmit(out);
        #[cfg(feature = "deflate")]
        if self
            .deflate
            .as_ref()
            .is_some_and(|d| d.should_compress(payload.len()))
        {
            // Compressed into the connection's buffer (empty now, so never over its limit),
            // then moved into `out`.
            self.send_compressed(opcode, payload)?;
            self.poll_transmit(out);
            return Ok(());
        }
        self.data_frames_into(out, opcode, payload, true, 0);
        Ok(())
    }

    /// Queue `data` as one frame of a message (compressed if the message is), after the
    /// checks of `send_chunk`; nothing is queued on error.
    #[inline]
    fn queue_piece(
        &mut self,
        opcode: Opcode,
        data: &[u8],
        first: bool,
        last: bool,
    ) -> Result<(), SendError> {
        #[cfg(feature = "deflate")]
        {
            let compress = if first {
                self.deflate.as_ref().is_some_and(|d| {
                    if last {
                        d.should_compress(data.len())
                    } else {
                        d.should_compress_stream()
                    }
                })
            } else {
                self.sending_compressed
            };
            if compress {
                self.send_compressed_part(opcode, data, first, last)?;
            } else {
                self.check_room(data.len() + MAX_HEADER_LEN)?;
                self.write_frame(opcode, last, 0, data);
            }
            self.sending_compressed = compress && !last;
        }
        #[cfg(not(feature = "deflate"))]
        {
            let _ = first;
            self.check_room(data.len() + MAX_HEADER_LEN)?;
            self.write_frame(opcode, last, 0, data);
        }
        Ok(())
    }

    /// Queue a Ping with `payload` (at most 125 bytes).
    pub fn ping(&mut self, now: Instant, payload: &[u8]) -> Result<(), SendError> {
        self.check_can_send()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlPayloadTooLong(payload.len()));
        }
        self.check_room(payload.len() + MAX_HEADER_LEN)?;
        self.write_frame(Opcode::Ping, true, 0, payload);
        self.last_ping = now;
        Ok(())
    }

    /// Start the close handshake with `code` and `reason` (at most 123 bytes). Data already
    /// queued goes out first; messages the peer sends until its Close still arrive as events.
    /// The handshake must finish within [`Config::close_timeout`].
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.check_can_send()?;
        if !code.is_allowed_on_wire() {
            return Err(SendError::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(SendError::CloseReasonTooLong(reason.len()));
        }
        self.write_close(Some(code), reason);
        self.on_local_close(now);
        Ok(())
    }

    // ----- outputs -----

    /// Append the bytes to write to the transport to `out`; returns how many, or `None` when
    /// there is nothing to send. When `out` is empty the internal buffer is swapped in, without
    /// copying.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        self.write_owed_pong();
        if self.queue.is_empty() && self.out.is_empty() {
            return None;
        }
        let n = self.queued + self.out.len();
        if self.queue.is_empty() && out.is_empty() {
            core::mem::swap(out, &mut self.out);
            return Some(n);
        }
        out.reserve(n);
        for segment in self.queue.drain(..) {
            out.extend_from_slice(segment.as_slice());
        }
        self.queued = 0;
        out.extend_from_slice(&self.out);
        self.out.clear();
        Some(n)
    }

    /// The bytes waiting to be written, in order, as slices that borrow the connection's
    /// buffers (large payloads a server sends are the caller's own `Bytes`, never copied).
    /// For vectored writes: write some or all of them, then call
    /// [`advance_transmit`](Self::advance_transmit) with the number of bytes written. An
    /// alternative to [`poll_transmit`](Self::poll_transmit), which copies into one buffer.
    pub fn transmit_chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.queue
            .iter()
            .map(Segment::as_slice)
            .chain(core::iter::once(&self.out[..]))
            .filter(|c| !c.is_empty())
    }

    /// Mark the first `n` bytes of [`transmit_chunks`](Self::transmit_chunks) as written
    /// (`n` larger than what is pending counts as all of it).
    pub fn advance_transmit(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            if n < front.len() {
                front.advance(n);
                self.queued -= n;
                return;
            }
            n -= front.len();
            self.queued -= front.len();
            self.queue.pop_front();
        }
        if n >= self.out.len() {
            self.out.clear();
        } else {
            self.out.drain(..n);
        }
        if self.queue.is_empty() && self.out.is_empty() {
            self.write_owed_pong();
        }
    }

    fn write_owed_pong(&mut self) {
        if let Some((payload, n)) = self.pending_pong.take() {
            self.write_frame(Opcode::Pong, true, 0, &payload[..n]);
        }
    }

    /// Queue `payload` after everything queued so far.
    fn push_segment(&mut self, payload: Bytes) {
        if !self.out.is_empty() {
            let head = if self.out.len() <= INLINE_SEGMENT {
                // Usually just the payload's frame header: kept inline, no allocation.
                let mut buf = [0; INLINE_SEGMENT];
                buf[..self.out.len()].copy_from_slice(&self.out);
                Segment::Inline {
                    buf,
                    start: 0,
                    end: self.out.len() as u8,
                }
            } else if self.out.len() <= 512 {
                Segment::Shared(Bytes::copy_from_slice(&self.out))
            } else {
                Segment::Shared(Bytes::from(core::mem::take(&mut self.out)))
            };
            self.out.clear();
            self.queued += head.len();
            self.queue.push_back(head);
        }
        self.queued += payload.len();
        self.queue.push_back(Segment::Shared(payload));
    }

    /// The next event for the application.
    ///
    /// A Close from the peer, or a protocol violation, takes effect when the events before it
    /// have been taken: the application can still answer messages that arrived before it (an
    /// echo goes out before the Close). So after `poll_event` returns `None`, drain
    /// `poll_transmit` again.
    pub fn poll_event(&mut self) -> Option<Event> {
        loop {
            match self.events.pop_front()? {
                Queued::Event(e) => return Some(e),
                Queued::PeerClose(frame) if !self.is_finished() => self.on_peer_close(frame),
                Queued::Fail(error) if !self.is_finished() => self.fail(&error),
                Queued::PeerClose(_) | Queued::Fail(_) => {}
            }
        }
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.events.push_back(Queued::Event(event));
    }

    /// Emit a whole message (`data` already validated if it is text).
    fn emit_message(&mut self, kind: MessageKind, data: Bytes) {
        self.emit(Event::Message(match kind {
            MessageKind::Binary => Message::Binary(data),
            MessageKind::Text => Message::Text(Text::from_validated(data)),
        }));
    }

    // ----- reading -----

    /// Parse as much of `input` as the step budget allows; returns how many bytes were used
    /// (all of them unless inflating stalled).
    fn read(&mut self, mut input: &[u8]) -> Result<usize, ProtocolError> {
        let total = input.len();
        #[cfg(feature = "deflate")]
        if self.stalled {
            if !self.inflate_pending()? {
                self.emit_partial();
                return Ok(0);
            }
            self.stalled = false;
            if self.frame.is_some_and(|f| f.remaining == 0) {
                self.end_frame()?;
            }
        }
        while !input.is_empty() && self.reads() {
            input = self.read_small_messages(input)?;
            if input.is_empty() {
                break;
            }
            let Some(frame) = self.frame else {
                input = self.read_header(input)?;
                continue;
            };
            let n = usize::try_from(frame.remaining).map_or(input.len(), |r| r.min(input.len()));
            let (payload, rest) = input.split_at(n);
            input = rest;
            self.read_payload(frame, payload)?;
            if self.stalled {
                break;
            }
        }
        self.emit_partial();
        Ok(total - input.len())
    }

    /// Streaming mode: hand out what has arrived of a message still in progress, inside a
    /// frame or between its frames (not after a Close, which ends the message unfinished).
    fn emit_partial(&mut self) {
        if self.config.mode == MessageMode::Streaming && !self.stop_reading {
            self.emit_chunk(false);
        }
    }

    /// Fast path for the most common input: whole single-frame messages with a 7-bit length,
    /// or a 16-bit one up to [`ARENA_BLOCK`], lying entirely in `input`, while nothing else is
    /// in progress. Anything else (or any doubt, including a frame over a limit) is left to
    /// the general path, which applies the same rules.
    #[inline]
    fn read_small_messages<'a>(&mut self, mut input: &'a [u8]) -> Result<&'a [u8], ProtocolError> {
        if self.frame.is_some()
            || self.hdr_len != 0
            || self.msg.is_some()
            || self.config.mode != MessageMode::Assembled
            || self.config.max_frame_payload < 125
            || self.config.max_message_size < 125
            || self.config.max_fragments == 0
        {
            return Ok(input);
        }
        let masked = self.role == Role::Server;
        // The limit for the 16-bit lengths taken here (7-bit ones are within the limits,
        // checked above; 64-bit ones are over it).
        let medium_max = ARENA_BLOCK
            .min(self.config.max_frame_payload)
            .min(self.config.max_message_size);
        while let Some((kind, header_len, len, mask)) = single_frame_header(input, masked) {
            if len > medium_max as u64 || input.len() - header_len < len as usize {
                break;
            }
            let len = len as usize;
            let payload = &input[header_len..header_len + len];
            let text = kind == MessageKind::Text;
            if self.msg_buf.capacity() < len {
                // A new block, as the general path takes one (`grow_msg_buf`): never `reserve`,
                // which sizes it after the buffer's first allocation (up to 64 KiB).
                if !self.msg_buf.try_reclaim(ARENA_BLOCK) {
                    self.msg_buf = BytesMut::with_capacity(ARENA_BLOCK);
                }
            }
            #[cfg(all(test, feature = "std"))]
            if len > 125 {
                MEDIUM_FAST_PATH.with(|n| n.set(n.get() + 1));
            }
            let start = self.msg_buf.len();
            let valid = whole_message(&mut self.msg_buf, payload, mask, text);
            if !valid {
                self.msg_buf.truncate(start);
                return Err(ProtocolError::InvalidUtf8);
            }
            let data = self.msg_buf.split().freeze();
            self.emit_message(kind, data);
            input = &input[header_len + len..];
            if self.spare_buf.is_some() {
                // Back to small messages: let the spare large buffer go.
                self.spare_buf = None;
            }
        }
        Ok(input)
    }

    /// Decode a header from `input` (possibly completing one split across inputs); returns the
    /// unread rest of `input`.
    #[inline]
    fn read_header<'a>(&mut self, input: &'a [u8]) -> Result<&'a [u8], ProtocolError> {
        let (header, rest) = if self.hdr_len == 0 {
            match FrameHeader::decode(input)? {
                Status::Complete((h, n)) => (h, &input[n..]),
                Status::Partial => {
                    self.hdr_buf[..input.len()].copy_from_slice(input);
                    self.hdr_len = input.len();
                    return Ok(&[]);
                }
            }
        } else {
            let old = self.hdr_len;
            let take = (MAX_HEADER_LEN - old).min(input.len());
            self.hdr_buf[old..old + take].copy_from_slice(&input[..take]);
            self.hdr_len = old + take;
            match FrameHeader::decode(&self.hdr_buf[..self.hdr_len])? {
                Status::Complete((h, n)) => {
                    self.hdr_len = 0;
                    (h, &input[n - old..])
                }
                Status::Partial => return Ok(&[]),
            }
        };
        self.start_frame(header)?;
        if header.payload_len == 0 {
            self.end_frame()?;
        }
        Ok(rest)
    }

    /// Check a decoded header against the session's rules and limits, and set up its payload.
    fn start_frame(&mut self, h: FrameHeader) -> Result<(), ProtocolError> {
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if h.opcode.is_control() {
            if h.rsv != 0 {
                return Err(ProtocolError::ReservedBits(h.rsv));
            }
            self.control_len = 0;
        } else {
            let allowed = if h.opcode == Opcode::Continuation {
                0
            } else {
                self.allowed_rsv
            };
            if h.rsv & !allowed != 0 {
                return Err(ProtocolError::ReservedBits(h.rsv));
            }
            if h.payload_len > self.config.max_frame_payload as u64 {
                return Err(ProtocolError::FrameTooLarge {
                    len: h.payload_len,
                    limit: self.config.max_frame_payload,
                });
            }
            let msg = match (h.opcode, self.msg.as_mut()) {
                (Opcode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
                (Opcode::Continuation, Some(m)) => m,
                (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
                (op, None) => self.msg.insert(MessageInProgress {
                    kind: if op == Opcode::Text {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    },
                    fragments: 0,
                    size: 0,
                    started: false,
                    compressed: h.rsv & RSV1 != 0,
                    inflated_size: 0,
                }),
            };
            msg.fragments += 1;
            if msg.fragments > self.config.max_fragments {
                return Err(ProtocolError::TooManyFragments {
                    limit: self.config.max_fragments,
                });
            }
            // Fail before buffering anything when the declared length already breaks the limit.
            if msg.size as u64 + h.payload_len > self.config.max_message_size as u64 {
                return Err(ProtocolError::MessageTooLarge {
                    limit: self.config.max_message_size,
                });
            }
        }
        self.frame = Some(FrameInProgress {
            opcode: h.opcode,
            fin: h.fin,
            mask: h.mask,
            remaining: h.payload_len,
            offset: 0,
        });
        Ok(())
    }

    /// Take `payload`, the next bytes of the current frame's payload.
    #[inline]
    fn read_payload(
        &mut self,
        mut frame: FrameInProgress,
        payload: &[u8],
    ) -> Result<(), ProtocolError> {
        let n = payload.len();
        if frame.opcode.is_control() {
            let dst = &mut self.control[self.control_len..self.control_len + n];
            dst.copy_from_slice(payload);
            if let Some(key) = frame.mask {
                apply_mask(dst, key, frame.offset);
            }
            self.control_len += n;
        } else if self.msg.as_ref().is_some_and(|m| m.compressed) {
            #[cfg(feature = "deflate")]
            if !self.read_compressed(frame, payload)? {
                // Out of step budget: the rest of this payload waits in `scratch`, and the
                // frame ends (if this was its last byte) once it is inflated.
                frame.offset = frame.offset.wrapping_add(n);
                frame.remaining -= n as u64;
                self.frame = Some(frame);
                self.stalled = true;
                return Ok(());
            }
        } else {
            let text = self
                .msg
                .as_ref()
                .is_some_and(|m| m.kind == MessageKind::Text);
            if self.msg_buf.capacity() - self.msg_buf.len() < n {
                self.grow_msg_buf(&frame, n);
            }
            if text {
                append_text(
                    &mut self.msg_buf,
                    &mut self.utf8_valid,
                    payload,
                    frame.mask,
                    frame.offset,
                )?;
            } else if let Some(key) = frame.mask {
                extend_unmasked(&mut self.msg_buf, payload, key, frame.offset);
            } else {
                self.msg_buf.extend_from_slice(payload);
            }
            if let Some(msg) = self.msg.as_mut() {
                msg.size += n;
            }
        }
        frame.offset = frame.offset.wrapping_add(n);
        frame.remaining -= n as u64;
        self.frame = Some(frame);
        if frame.remaining == 0 {
            self.end_frame()?;
        }
        Ok(())
    }

    /// Make room in the message buffer for `n` more payload bytes of `frame` (and usually more).
    ///
    /// Growth follows what arrived, never what the header declared: at least doubling (at
    /// least a block), or the size of the previous large message (bytes that did arrive), so a
    /// message read in pieces is copied O(1) times per byte. When `frame` ends the message and
    /// the rest of it is at most that step plus an eighth, the buffer gets exactly the rest
    /// (never more than 1.125 times the step): the last growth of a large message (over a
    /// block) neither doubles its memory for its last few bytes nor leaves it a few bytes
    /// short (another copy of the whole message).
    ///
    /// A new message first takes back the buffer of an earlier message that the application
    /// has dropped (the last one, or the one before it, kept in `spare_buf`): a stream of large
    /// messages then reuses two warm buffers instead of asking the allocator for fresh memory
    /// (page faults) for each one. The spare is let go as soon as a small message arrives.
    fn grow_msg_buf(&mut self, frame: &FrameInProgress, n: usize) {
        let len = self.msg_buf.len();
        let rest = usize::try_from(frame.remaining).unwrap_or(usize::MAX);
        let step = n.max(ARENA_BLOCK).max(len);
        let step = step.max(self.size_hint.min(rest));
        // Small messages share arena blocks instead (see `ARENA_BLOCK`).
        let exact = frame.fin && rest <= step + step / 8 && len + rest > ARENA_BLOCK;
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

    /// Inflate the next compressed bytes of the current message (permessage-deflate), with
    /// the message-size limit applied to the inflated size as it grows. Returns false when the
    /// step budget ran out before all of `payload` was inflated.
    #[cfg(feature = "deflate")]
    fn read_compressed(
        &mut self,
        frame: FrameInProgress,
        payload: &[u8],
    ) -> Result<bool, ProtocolError> {
        self.scratch.clear();
        self.scratch_pos = 0;
        self.scratch.extend_from_slice(payload);
        if let Some(key) = frame.mask {
            apply_mask(&mut self.scratch, key, frame.offset);
        }
        if let Some(msg) = self.msg.as_mut() {
            msg.size += payload.len();
        }
        self.inflate_pending()
    }

    /// Inflate `scratch[scratch_pos..]` within the step budget; true when all of it is done.
    #[cfg(feature = "deflate")]
    fn inflate_pending(&mut self) -> Result<bool, ProtocolError> {
        let (Some(codec), Some(msg)) = (self.deflate.as_mut(), self.msg.as_mut()) else {
            return Err(ProtocolError::ReservedBits(RSV1));
        };
        // Even with no input left, the codec may still hold output from a step that stopped
        // at its budget: it says when it is done.
        let input = &self.scratch[self.scratch_pos..];
        let limit = self.config.max_message_size;
        let before = self.inflated.len();
        let progress = codec
            .decompress_step(
                input,
                &mut self.inflated,
                limit.saturating_sub(msg.inflated_size),
                self.step_budget,
            )
            .map_err(|e| deflate_error(e, limit))?;
        let produced = self.inflated.len() - before;
        msg.inflated_size += produced;
        self.step_budget = self.step_budget.saturating_sub(produced);
        self.scratch_pos += progress.consumed;
        if msg.kind == MessageKind::Text {
            validate_utf8(&self.inflated, &mut self.utf8_valid)?;
        }
        Ok(progress.done)
    }

    /// The compressed message ended: flush the decompressor and hand the message out.
    #[cfg(feature = "deflate")]
    fn end_compressed_message(&mut self) -> Result<(), ProtocolError> {
        let (Some(codec), Some(msg)) = (self.deflate.as_mut(), self.msg.as_mut()) else {
            return Ok(());
        };
        let limit = self.config.max_message_size;
        let before = self.inflated.len();
        codec
            .finish_message(&mut self.inflated, limit.saturating_sub(msg.inflated_size))
            .map_err(|e| deflate_error(e, limit))?;
        msg.inflated_size += self.inflated.len() - before;
        let kind = msg.kind;
        if kind == MessageKind::Text {
            validate_utf8(&self.inflated, &mut self.utf8_valid)?;
            if self.utf8_valid != self.inflated.len() {
                return Err(ProtocolError::InvalidUtf8);
            }
        }
        match self.config.mode {
            MessageMode::Assembled => {
                let data = Bytes::from(core::mem::take(&mut self.inflated));
                self.utf8_valid = 0;
                self.msg = None;
                self.emit_message(kind, data);
            }
            MessageMode::Streaming => self.emit_chunk(true),
        }
        Ok(())
    }

    /// The current frame's payload is complete.
    fn end_frame(&mut self) -> Result<(), ProtocolError> {
        let Some(frame) = self.frame.take() else {
            return Ok(());
        };
        match frame.opcode {
            Opcode::Ping => {
                let n = self.control_len;
                let payload = self.control;
                self.queue_pong(&payload[..n]);
                self.emit(Event::Ping(Bytes::copy_from_slice(&payload[..n])));
                Ok(())
            }
            Opcode::Pong => {
                let pong = Bytes::copy_from_slice(&self.control[..self.control_len]);
                self.emit(Event::Pong(pong));
                Ok(())
            }
            Opcode::Close => {
                let close = parse_close_payload(&self.control[..self.control_len])
                    .map_err(ProtocolError::InvalidClose)?;
                // Nothing after a Close is read; it takes effect behind the events before it.
                self.stop_reading = true;
                self.events.push_back(Queued::PeerClose(close));
                Ok(())
            }
            _ if frame.fin => self.end_message(),
            _ => Ok(()),
        }
    }

    fn end_message(&mut self) -> Result<(), ProtocolError> {
        let Some(msg) = self.msg else {
            return Ok(());
        };
        #[cfg(feature = "deflate")]
        if msg.compressed {
            return self.end_compressed_message();
        }
        if msg.kind == MessageKind::Text && self.utf8_valid != self.msg_buf.len() {
            // The message ended inside a code point.
            return Err(ProtocolError::InvalidUtf8);
        }
        if msg.size > ARENA_BLOCK {
            self.size_hint = msg.size;
        } else {
            self.spare_buf = None;
        }
        match self.config.mode {
            MessageMode::Assembled => {
                let data = self.msg_buf.split().freeze();
                self.utf8_valid = 0;
                self.msg = None;
                self.emit_message(msg.kind, data);
            }
            MessageMode::Streaming => self.emit_chunk(true),
        }
        Ok(())
    }

    /// Streaming mode: hand out what has arrived of the current message (for text, up to the
    /// last complete code point).
    fn emit_chunk(&mut self, last: bool) {
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        let compressed = msg.compressed;
        let ready = match msg.kind {
            MessageKind::Text => self.utf8_valid,
            MessageKind::Binary if compressed => self.inflated_len(),
            MessageKind::Binary => self.msg_buf.len(),
        };
        if ready == 0 && !last {
            return;
        }
        let data = if compressed {
            self.take_inflated(ready)
        } else {
            self.msg_buf.split_to(ready).freeze()
        };
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        self.utf8_valid = 0;
        let first = !msg.started;
        msg.started = true;
        let kind = msg.kind;
        if last {
            self.msg = None;
        }
        self.emit(Event::Chunk(Chunk {
            kind,
            data,
            first,
            last,
        }));
    }

    #[cfg(feature = "deflate")]
    fn inflated_len(&self) -> usize {
        self.inflated.len()
    }

    #[cfg(not(feature = "deflate"))]
    fn inflated_len(&self) -> usize {
        0
    }

    /// The first `n` inflated bytes, removed from the buffer (streaming mode).
    #[cfg(feature = "deflate")]
    fn take_inflated(&mut self, n: usize) -> Bytes {
        let data = Bytes::copy_from_slice(&self.inflated[..n]);
        self.inflated.drain(..n);
        data
    }

    #[cfg(not(feature = "deflate"))]
    fn take_inflated(&mut self, _n: usize) -> Bytes {
        Bytes::new()
    }

    // ----- writing -----

    fn check_can_send(&self) -> Result<(), SendError> {
        if self.phase.can_send() {
            Ok(())
        } else {
            Err(SendError::Closing)
        }
    }

    /// A whole message can go out: the connection is open and no message is in progress.
    fn check_can_start_message(&self) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        Ok(())
    }

    /// Backpressure: refuse to grow the outgoing buffer past its limit, unless it is empty.
    fn check_room(&self, additional: usize) -> Result<(), SendError> {
        let pending = self.pending_transmit();
        if pending > 0 && pending + additional > self.config.max_send_buffer {
            return Err(SendError::BufferFull {
                pending,
                limit: self.config.max_send_buffer,
            });
        }
        Ok(())
    }

    /// Compress a whole message and queue it with RSV1 on its first frame. The room check
    /// comes first, so a refused send leaves the compression context untouched.
    #[cfg(feature = "deflate")]
    fn send_compressed(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), SendError> {
        let bound = deflate_bound(payload.len());
        self.check_room(
            bound
                + MAX_HEADER_LEN
                    * (1 + bound / self.config.max_send_frame.unwrap_or(usize::MAX).max(1)),
        )?;
        let Some(codec) = self.deflate.as_mut() else {
            return Err(SendError::CompressionFailed);
        };
        let mut compressed = core::mem::take(&mut self.scratch);
        compressed.clear();
        let result = codec.compress(payload, &mut compressed);
        let sent = match result {
            Ok(()) => self.write_data(opcode, &compressed, true, RSV1),
            Err(_) => Err(SendError::CompressionFailed),
        };
        self.scratch = compressed;
        sent
    }

    /// Compress one piece of a streamed message and queue it as one frame (RSV1 on the first).
    /// The room check comes first, so a refused send leaves the compression context untouched.
    #[cfg(feature = "deflate")]
    fn send_compressed_part(
        &mut self,
        opcode: Opcode,
        data: &[u8],
        first: bool,
        last: bool,
    ) -> Result<(), SendError> {
        self.check_room(deflate_bound(data.len()) + MAX_HEADER_LEN)?;
        let Some(codec) = self.deflate.as_mut() else {
            return Err(SendError::CompressionFailed);
        };
        let mut compressed = core::mem::take(&mut self.scratch);
        compressed.clear();
        let result = codec.compress_part(data, &mut compressed, last);
        if result.is_ok() {
            let rsv = if first { RSV1 } else { 0 };
            self.write_frame(opcode, last, rsv, &compressed);
        }
        self.scratch = compressed;
        result.map_err(|_| SendError::CompressionFailed)
    }

    /// Queue a data message as one frame, or several of `max_send_frame` bytes; `rsv` goes on
    /// the first frame only.
    fn write_data(
        &mut self,
        opcode: Opcode,
        payload: &[u8],
        fin: bool,
        rsv: u8,
    ) -> Result<(), SendError> {
        let frame_size = self
            .config
            .max_send_frame
            .filter(|&n| n > 0 && n < payload.len());
        let frames = frame_size.map_or(1, |n| payload.len().div_ceil(n));
        self.check_room(payload.len() + frames * MAX_HEADER_LEN)?;
        let mut out = core::mem::take(&mut self.out);
        self.data_frames_into(&mut out, opcode, payload, fin, rsv);
        self.out = out;
        Ok(())
    }

    /// Append the frames of `payload` to `out`: one, or one per
    /// [`Config::max_send_frame`] bytes.
    fn data_frames_into(
        &mut self,
        out: &mut Vec<u8>,
        opcode: Opcode,
        payload: &[u8],
        fin: bool,
        rsv: u8,
    ) {
        match self
            .config
            .max_send_frame
            .filter(|&n| n > 0 && n < payload.len())
        {
            None => {
                let mask = self.next_mask();
                encode_frame(out, mask, opcode, fin, rsv, payload);
            }
            Some(size) => {
                let mut op = opcode;
                let mut rsv = rsv;
                let mut chunks = payload.chunks(size).peekable();
                while let Some(chunk) = chunks.next() {
                    let last = chunks.peek().is_none();
                    let mask = self.next_mask();
                    encode_frame(out, mask, op, fin && last, rsv, chunk);
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

    /// Append one frame to the outgoing buffer, masked when this is a client.
    #[inline]
    pub(crate) fn write_frame(&mut self, opcode: Opcode, fin: bool, rsv: u8, payload: &[u8]) {
        let mask = self.next_mask();
        encode_frame(&mut self.out, mask, opcode, fin, rsv, payload);
    }

    /// Queue the Pong for a Ping. If the outgoing buffer is over its limit (a peer that pings
    /// but never reads), keep only the latest owed Pong instead of growing the buffer.
    fn queue_pong(&mut self, payload: &[u8]) {
        if !self.phase.can_send() {
            return;
        }
        if self.out.len() + payload.len() + MAX_HEADER_LEN > self.config.max_send_buffer {
            let mut buf = [0u8; MAX_CONTROL_PAYLOAD];
            buf[..payload.len()].copy_from_slice(payload);
            self.pending_pong = Some((buf, payload.len()));
        } else {
            self.pending_pong = None;
            self.write_frame(Opcode::Pong, true, 0, payload);
        }
    }

    /// Queue a Close frame (the owed Pong is dropped: nothing follows a Close).
    pub(crate) fn write_close(&mut self, code: Option<CloseCode>, reason: &str) {
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
        self.write_frame(Opcode::Close, true, 0, &payload[..n]);
    }

    /// Drop whatever message was being received (the connection is ending).
    pub(crate) fn discard_partial_message(&mut self) {
        self.msg = None;
        self.frame = None;
        self.msg_buf.clear();
        self.utf8_valid = 0;
        #[cfg(feature = "deflate")]
        self.inflated.clear();
        self.stalled = false;
        self.pending_input.clear();
    }
}

/// Append the next bytes of a text frame's payload to the message in `buf` (unmasked with
/// `mask`, `payload[0]` being payload byte `offset`), extending the validated prefix
/// `buf[..*valid]`. Unmasks, stores and validates in one pass where the CPU allows it (the
/// vectors it checked end at most 3 bytes into an unfinished code point, which is checked
/// again from the last boundary with the rest); else a cache-sized block at a time, each
/// validated while it is still in L1.
fn append_text(
    buf: &mut BytesMut,
    valid: &mut usize,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    offset: usize,
) -> Result<(), ProtocolError> {
    let start = buf.len();
    match crate::unmask_utf8::extend(buf, payload, mask.unwrap_or([0; 4]), offset) {
        Some(Ok(checked)) => {
            if checked > 0 {
                *valid = complete_prefix_len(&buf[..start + checked]);
            }
            validate_utf8(buf, valid)
        }
        Some(Err(())) => Err(ProtocolError::InvalidUtf8),
        None => {
            let mut offset = offset;
            for block in payload.chunks(VALIDATE_BLOCK) {
                match mask {
                    Some(key) => extend_unmasked(buf, block, key, offset),
                    None => buf.extend_from_slice(block),
                }
                offset = offset.wrapping_add(block.len());
                validate_utf8(buf, valid)?;
            }
            Ok(())
        }
    }
}

#[cfg(all(test, feature = "std"))]
std::thread_local! {
    /// Medium messages taken by the fast path of `read_small_messages` (tests check it runs).
    static MEDIUM_FAST_PATH: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Append the whole payload of a single-frame message to `buf` (empty before it), unmasking
/// it with `mask`, and for `text` check that it is complete, valid UTF-8, in one pass where
/// the CPU allows it (one masked step up to 125 bytes, the vector pass above). Returns false
/// if it is not (the bytes stay appended: the caller truncates).
#[inline]
fn whole_message(buf: &mut BytesMut, payload: &[u8], mask: Option<[u8; 4]>, text: bool) -> bool {
    let start = buf.len();
    // Up to 125 bytes: one masked step where the CPU has it.
    if let Some(valid) =
        crate::unmask_utf8::small_message(buf, payload, mask.unwrap_or([0; 4]), text)
    {
        return valid;
    }
    if text {
        match crate::unmask_utf8::extend(buf, payload, mask.unwrap_or([0; 4]), 0) {
            Some(Ok(checked)) => return rest_is_valid(&buf[start..], checked),
            Some(Err(())) => return false,
            None => {}
        }
    }
    match mask {
        Some(key) => extend_unmasked(buf, payload, key, 0),
        None => buf.extend_from_slice(payload),
    }
    !text || simdutf8::basic::from_utf8(&buf[start..]).is_ok()
}

/// The header at the start of `input` if it is that of a whole message in one frame, as the
/// fast paths take it: FIN, no RSV bits, text or binary, masked if `masked` (a server's
/// input), the minimal length encoding. Returns the kind, the header's length, the payload
/// length and the masking key; `None` for anything else, or a header cut off, which the
/// general path reads and judges.
#[inline]
fn single_frame_header(
    input: &[u8],
    masked: bool,
) -> Option<(MessageKind, usize, u64, Option<[u8; 4]>)> {
    let [b0, b1, ref rest @ ..] = *input else {
        return None;
    };
    let kind = match b0 {
        0x81 => MessageKind::Text,
        0x82 => MessageKind::Binary,
        _ => return None,
    };
    if (b1 & 0x80 != 0) != masked {
        return None;
    }
    let (len, ext) = match b1 & 0x7F {
        126 => {
            let [l0, l1, ..] = *rest else {
                return None;
            };
            (u64::from(u16::from_be_bytes([l0, l1])), 2)
        }
        127 => (u64::from_be_bytes(rest.get(..8)?.try_into().ok()?), 8),
        n => (u64::from(n), 0),
    };
    // Not minimal, or the top bit set: the general path rejects it.
    let minimal = match ext {
        2 => len >= 126,
        8 => len > 0xFFFF && len >> 63 == 0,
        _ => true,
    };
    if !minimal {
        return None;
    }
    let header_len = 2 + ext + if masked { 4 } else { 0 };
    let mask = match rest.get(ext..header_len - 2)? {
        &[k0, k1, k2, k3] => Some([k0, k1, k2, k3]),
        _ => None,
    };
    Some((kind, header_len, len, mask))
}

/// The payload of a whole single-frame message where it lies: unmask it in place with
/// `mask`, and for `text` check that it is complete, valid UTF-8, in one pass where the CPU
/// allows it (as [`whole_message`] does while copying). Returns false if it is not.
#[inline]
fn whole_in_place(payload: &mut [u8], mask: Option<[u8; 4]>, text: bool) -> bool {
    if let Some(key) = mask {
        if let Some(valid) = crate::unmask_utf8::small_in_place(payload, key, text) {
            return valid;
        }
        if text {
            match crate::unmask_utf8::unmask_validate_in_place(payload, key) {
                Some(Ok(checked)) => return rest_is_valid(payload, checked),
                Some(Err(())) => return false,
                None => {}
            }
        }
        apply_mask(payload, key, 0);
    }
    !text || simdutf8::basic::from_utf8(payload).is_ok()
}

/// Whether the whole message `b`, whose code points ending within `b[..checked]` are known
/// to be valid, is complete, valid UTF-8: re-checks from the last code point boundary before
/// `checked` to the end.
#[inline]
fn rest_is_valid(b: &[u8], checked: usize) -> bool {
    let from = complete_prefix_len(&b[..checked]);
    from == b.len() || simdutf8::basic::from_utf8(&b[from..]).is_ok()
}

/// Extend the validated prefix `buf[..*valid]` over the new bytes. An incomplete code point at
/// the end waits for more bytes; anything that can never become valid fails now.
#[inline]
fn validate_utf8(buf: &[u8], valid: &mut usize) -> Result<(), ProtocolError> {
    *valid += valid_prefix_len(&buf[*valid..]).ok_or(ProtocolError::InvalidUtf8)?;
    Ok(())
}

/// If `b` can still begin valid UTF-8, the length of its prefix up to the last code point
/// boundary; `None` if it never can. Validates that prefix with the fast validator, then
/// checks that the incomplete tail (at most 3 bytes) is a prefix of some valid code point, so
/// that e.g. F4 90 fails at once instead of when more bytes arrive.
#[inline]
fn valid_prefix_len(b: &[u8]) -> Option<usize> {
    let complete = complete_prefix_len(b);
    if simdutf8::basic::from_utf8(&b[..complete]).is_err() {
        return None;
    }
    if let Err(e) = simdutf8::compat::from_utf8(&b[complete..]) {
        if e.error_len().is_some() {
            return None;
        }
    }
    Some(complete)
}

/// The most a payload of `len` bytes can take once compressed and sync-flushed. zlib's
/// conservative bound for any window and memLevel (small ones make many small stored blocks,
/// or fixed-Huffman blocks when a stored block cannot be used): about 13% more, plus room for
/// block headers and the flush marker.
#[cfg(feature = "deflate")]
fn deflate_bound(len: usize) -> usize {
    len + (len >> 3) + (len >> 8) + (len >> 9) + 64
}

/// The incomplete code point (at most 3 bytes) at the end of the text sent so far in a
/// streamed message.
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

/// The length of the code point a lead byte starts (1 for bytes that cannot start one).
#[inline]
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// The protocol error for a failed decompression.
#[cfg(feature = "deflate")]
fn deflate_error(e: crate::deflate::DeflateError, limit: usize) -> ProtocolError {
    use crate::deflate::DeflateError;
    match e {
        DeflateError::MessageTooBig { .. } => ProtocolError::MessageTooLarge { limit },
        e if e.close_code() == 1011 => ProtocolError::DecompressionFailed,
        _ => ProtocolError::InvalidCompressedData,
    }
}

/// The length of the longest prefix of `b` that does not end inside a multi-byte sequence
/// (judged from the last lead byte within 3 bytes of the end; validity is checked elsewhere).
#[inline]
fn complete_prefix_len(b: &[u8]) -> usize {
    let n = b.len();
    for back in 1..=n.min(3) {
        let c = b[n - back];
        if c & 0xC0 != 0x80 {
            let need = utf8_width(c);
            return if need > back { n - back } else { n };
        }
    }
    n
}

/// Append one frame to `out`, its payload masked with `mask` if there is one.
fn encode_frame(
    out: &mut Vec<u8>,
    mask: Option<[u8; 4]>,
    opcode: Opcode,
    fin: bool,
    rsv: u8,
    payload: &[u8],
) {
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    out.reserve(header.encoded_len() + payload.len());
    header.write(out);
    match mask {
        Some(key) => extend_masked(out, payload, key),
        None => out.extend_from_slice(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::{complete_prefix_len, Utf8Tail};
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

    /// `deflate_bound` holds for incompressible data under the settings that grow it most.
    #[cfg(feature = "deflate")]
    #[test]
    fn deflate_bound_covers_incompressible_data_at_every_setting() {
        use crate::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
        use crate::Role;
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for level in [0, 1, 6, 9] {
            for mem_level in [1, 2, 8, 9] {
                for window in [9, 15] {
                    let config = DeflateConfig {
                        level,
                        mem_level,
                        max_window_bits: window,
                        ..DeflateConfig::default()
                    };
                    let params = DeflateParams::default();
                    let mut codec = PerMessageDeflate::new(&params, Role::Server, &config);
                    for len in [0, 1, 100, 1000, 5000, 70_000, 300_000] {
                        for fin in [false, true] {
                            let mut out = Vec::new();
                            codec.compress_part(&noise[..len], &mut out, fin).unwrap();
                            assert!(
                                out.len() <= super::deflate_bound(len),
                                "{len} bytes -> {} at level {level} memLevel {mem_level} \
                                 window {window}",
                                out.len()
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn complete_prefix_table() {
        let cases: &[(&[u8], usize)] = &[
            (b"", 0),
            (b"abc", 3),
            (&[b'a', 0xCE], 1),
            (&[b'a', 0xCE, 0xBA], 3),
            (&[0xE4, 0xB8], 0),
            (&[0xE4, 0xB8, 0x96], 3),
            (&[b'x', 0xF0, 0x9F, 0x98], 1),
            (&[0xF0, 0x9F, 0x98, 0x80], 4),
            (&[0x80, 0x80, 0x80, 0x80], 4),
            (&[b'a', 0xFF], 1),
        ];
        for (input, want) in cases {
            assert_eq!(complete_prefix_len(input), *want, "{input:?}");
        }
    }
}

#[cfg(test)]
mod buffer_tests {
    use crate::{Config, Connection, Event, Instant, Message};
    use alloc::vec::Vec;
    use bytes::BytesMut;

    /// A masked client frame (FIN, binary) carrying `payload`.
    fn masked_binary(payload: &[u8]) -> Vec<u8> {
        let key = [0x11, 0x22, 0x33, 0x44];
        let mut out = Vec::new();
        crate::frame::FrameHeader {
            fin: true,
            rsv: 0,
            opcode: crate::frame::Opcode::Binary,
            mask: Some(key),
            payload_len: payload.len() as u64,
        }
        .write(&mut out);
        let start = out.len();
        out.extend_from_slice(payload);
        crate::mask::apply_mask(&mut out[start..], key, 0);
        out
    }

    fn next_binary(conn: &mut Connection) -> bytes::Bytes {
        match conn.poll_event() {
            Some(Event::Message(Message::Binary(b))) => b,
            other => panic!("expected a binary message, got {other:?}"),
        }
    }

    #[test]
    fn messages_the_application_keeps_are_never_overwritten() {
        let mut conn = Connection::server(Instant::ZERO, Config::default());
        let mut kept = Vec::new();
        let mut wire = Vec::new();
        for i in 0..6u8 {
            wire.extend(masked_binary(
                &alloc::vec![i; 70_000 + usize::from(i) * 1000],
            ));
        }
        // In pieces that end inside messages, so that a new message starts while the last
        // one is still queued.
        for piece in wire.chunks(50_000) {
            conn.handle_input(Instant::ZERO, piece).unwrap();
            while let Some(ev) = conn.poll_event() {
                if let Event::Message(m) = ev {
                    kept.push(m);
                }
            }
        }
        assert_eq!(kept.len(), 6);
        for (i, m) in kept.iter().enumerate() {
            assert_eq!(m.payload().len(), 70_000 + i * 1000);
            assert!(
                m.payload().iter().all(|&b| usize::from(b) == i),
                "message {i} changed"
            );
        }
    }

    #[test]
    fn a_small_message_lets_the_spare_buffer_go() {
        let mut conn = Connection::server(Instant::ZERO, Config::default());
        let mut wire = Vec::new();
        for i in 0..3u8 {
            wire.extend(masked_binary(&alloc::vec![i; 50_000]));
        }
        for piece in wire.chunks(30_000) {
            conn.handle_input(Instant::ZERO, piece).unwrap();
            while conn.poll_event().is_some() {}
        }
        assert!(conn.spare_buf.is_some(), "large messages keep a spare");
        for small in [&[1u8; 20][..], &[2u8; 300][..]] {
            // Whole in one read (the fast path, or in place), and in two (the general path).
            for split in [0, 5] {
                for in_place in [false, true] {
                    conn.spare_buf = Some(BytesMut::with_capacity(1));
                    let wire = masked_binary(small);
                    for piece in [&wire[..split], &wire[split..]] {
                        if in_place {
                            let mut buf = BytesMut::from(piece);
                            conn.handle_input_buf(Instant::ZERO, &mut buf).unwrap();
                        } else {
                            conn.handle_input(Instant::ZERO, piece).unwrap();
                        }
                    }
                    assert_eq!(&next_binary(&mut conn)[..], small);
                    assert!(
                        conn.spare_buf.is_none(),
                        "{} bytes, split {split}, in place: {in_place}",
                        small.len()
                    );
                }
            }
        }
    }

    #[test]
    fn the_last_growth_of_a_message_fits_it_exactly() {
        let mut conn = Connection::server(Instant::ZERO, Config::default());
        let payload = alloc::vec![7u8; 100_000];
        let wire = masked_binary(&payload);
        let (head, last) = wire.split_at(wire.len() - 10);
        for piece in head.chunks(7_000) {
            conn.handle_input(Instant::ZERO, piece).unwrap();
        }
        // No doubling past the declared end for the last bytes, and room for all of them.
        assert_eq!(conn.msg_buf.capacity(), 100_000);
        conn.handle_input(Instant::ZERO, last).unwrap();
        assert_eq!(&next_binary(&mut conn)[..], &payload[..]);
    }
}

#[cfg(test)]
mod text_tests {
    //! `append_text` (the one-pass SIMD unmask + validate where the CPU has it, else the
    //! blocked path) against `core::str::from_utf8`, at every vector and piece boundary.
    use super::{append_text, validate_utf8};
    use alloc::vec::Vec;
    use bytes::BytesMut;

    const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

    /// Whether `text`, masked and fed in pieces cut at `cuts`, is accepted as a whole
    /// message: no error on any piece, and no unfinished code point at the end.
    fn accepted(text: &[u8], cuts: &[usize]) -> bool {
        let masked: Vec<u8> = text
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ KEY[i % 4])
            .collect();
        let mut buf = BytesMut::new();
        let mut valid = 0;
        let mut from = 0;
        for &to in cuts.iter().chain(core::iter::once(&text.len())) {
            if append_text(&mut buf, &mut valid, &masked[from..to], Some(KEY), from).is_err() {
                return false;
            }
            from = to;
        }
        assert_eq!(&buf[..], text, "unmasking");
        valid == buf.len()
    }

    /// `accepted` agrees with `core::str::from_utf8` on every path this CPU has: the widest
    /// vector path (AVX-512 where the CPU has it), AVX2 forced, and the two-step path forced
    /// (as on a CPU without either).
    fn check(text: &[u8], cuts: &[usize]) {
        let expected = core::str::from_utf8(text).is_ok();
        assert_eq!(
            accepted(text, cuts),
            expected,
            "{text:02x?} cut at {cuts:?}"
        );
        #[cfg(feature = "std")]
        {
            use crate::unmask_utf8::{AVX2_ONLY, SCALAR_ONLY};
            AVX2_ONLY.with(|s| s.set(true));
            let avx2 = accepted(text, cuts);
            AVX2_ONLY.with(|s| s.set(false));
            assert_eq!(avx2, expected, "AVX2 path: {text:02x?} cut at {cuts:?}");
            SCALAR_ONLY.with(|s| s.set(true));
            let scalar = accepted(text, cuts);
            SCALAR_ONLY.with(|s| s.set(false));
            assert_eq!(
                scalar, expected,
                "two-step path: {text:02x?} cut at {cuts:?}"
            );
        }
    }

    /// Byte values at the edges of every class of the UTF-8 tables.
    const EDGES: [u8; 20] = [
        0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED,
        0xEF, 0xF0, 0xF4, 0xF5, 0xFF,
    ];

    /// `seq` at `pos` in a run of ASCII and multi-byte text long enough for the vector path.
    fn embed(seq: &[u8], pos: usize, len: usize) -> Vec<u8> {
        let mut t = alloc::vec![b'a'; len];
        t[pos..pos + seq.len()].copy_from_slice(seq);
        t
    }

    #[test]
    fn every_byte_pair_at_vector_edges() {
        // Edges of 32-byte (AVX2) and 64-byte (AVX-512) vectors, and the end of the text.
        for pos in [0, 1, 30, 31, 32, 62, 63, 64, 94, 95, 126] {
            for b1 in 0..=255u8 {
                for b2 in 0..=255u8 {
                    check(&embed(&[b1, b2], pos, 128), &[]);
                }
            }
        }
    }

    #[test]
    fn three_and_four_byte_sequences_at_vector_edges() {
        for pos in [29, 30, 31, 61, 62, 63, 124] {
            for b1 in 0..=255u8 {
                for &b2 in &EDGES {
                    for &b3 in &EDGES {
                        check(&embed(&[b1, b2, b3], pos, 128), &[]);
                        if b1 >= 0xF0 {
                            for &b4 in &EDGES {
                                check(&embed(&[b1, b2, b3, b4], pos, 128), &[]);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn sequences_across_piece_boundaries() {
        // Pieces of at least 64 bytes take the vector path; the sequence straddles the cut.
        let valid = [
            "\u{e9}",
            "\u{4e16}",
            "\u{1f600}",
            "\u{10ffff}",
            "\u{800}",
            "\u{ffff}",
        ];
        let mut seqs: Vec<Vec<u8>> = valid.iter().map(|s| s.as_bytes().to_vec()).collect();
        seqs.extend([
            alloc::vec![0xE0, 0x80, 0x80],
            alloc::vec![0xED, 0xA0, 0x80],
            alloc::vec![0xF4, 0x90, 0x80, 0x80],
            alloc::vec![0xF0, 0x9F, 0x98],
            alloc::vec![0xC3],
            alloc::vec![0x80],
            alloc::vec![0xF8, 0x80, 0x80, 0x80],
        ]);
        for seq in &seqs {
            for cut in [64, 65, 66, 67, 96, 127] {
                for back in 0..=seq.len() {
                    let pos = cut - back;
                    for len in [131, 160, 200] {
                        check(&embed(seq, pos, len), &[cut]);
                        if cut + 64 <= len {
                            check(&embed(seq, pos, len), &[cut, cut + 64]);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn long_mixed_text_and_errors_late_in_it() {
        let text: Vec<u8> = "κόσμε 世界 😀 héllo Ünïcödé Привет 🚀✓ 日本語 abc "
            .repeat(300)
            .into_bytes();
        for cuts in [&[][..], &[1000], &[4095, 8191], &[33, 97, 3000]] {
            check(&text, cuts);
            for at in [70, 1000, text.len() - 40, text.len() - 1] {
                for bad in [0x80, 0xC0, 0xFF, 0xED] {
                    let mut t = text.clone();
                    t[at] = bad;
                    check(&t, cuts);
                }
            }
        }
    }

    #[test]
    fn the_validated_prefix_stops_at_the_last_boundary() {
        // 64 bytes ending in the first 2 bytes of a 3-byte sequence.
        let mut t = alloc::vec![b'a'; 62];
        t.extend([0xE4, 0xB8]);
        let mut buf = BytesMut::new();
        let mut valid = 0;
        append_text(&mut buf, &mut valid, &t, None, 0).unwrap();
        assert_eq!(valid, 62);
        validate_utf8(&buf, &mut valid).unwrap();
        buf.extend_from_slice(&[0x96]);
        validate_utf8(&buf, &mut valid).unwrap();
        assert_eq!(valid, 65);
    }

    proptest::proptest! {
        #[test]
        fn random_text_random_damage_random_pieces(
            chars in proptest::collection::vec(proptest::char::any(), 0..200),
            damage in proptest::collection::vec((0usize..1000, proptest::num::u8::ANY), 0..3),
            cuts in proptest::collection::vec(0usize..1000, 0..4),
        ) {
            let mut text = chars.iter().collect::<alloc::string::String>().into_bytes();
            for (at, b) in damage {
                if !text.is_empty() {
                    let at = at % text.len();
                    text[at] = b;
                }
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (text.len() + 1)).collect();
            cuts.sort_unstable();
            check(&text, &cuts);
        }
    }
}

#[cfg(test)]
mod small_message_tests {
    //! Whole messages of at most 125 bytes in one frame (the fast path of
    //! `read_small_messages`: one masked AVX-512 pass where the CPU has it, else unmask and
    //! validate in two steps) against `core::str::from_utf8`.
    use crate::{Config, Connection, Event, Instant, Message, ProtocolError};
    use alloc::vec::Vec;
    use bytes::BytesMut;

    const KEY: [u8; 4] = [0x9C, 0x05, 0x6E, 0xD1];

    fn masked(payload: &[u8]) -> Vec<u8> {
        payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ KEY[i % 4])
            .collect()
    }

    /// The one-pass kernel on `text` as a whole message (`None` on a CPU without it), after
    /// checking that it stored the unmasked bytes behind what `dst` already held.
    fn kernel(text: &[u8]) -> Option<bool> {
        let mut dst = BytesMut::from(&b"held"[..]);
        let valid = crate::unmask_utf8::small_message(&mut dst, &masked(text), KEY, true)?;
        assert_eq!(&dst[..4], b"held");
        assert_eq!(&dst[4..], text, "unmasking");
        // The same kernel in place (`handle_input_buf`) agrees.
        let mut buf = masked(text);
        let in_place = crate::unmask_utf8::small_in_place(&mut buf, KEY, true);
        assert_eq!(in_place, Some(valid), "in place: {text:02x?}");
        assert_eq!(buf, text, "unmasking in place");
        Some(valid)
    }

    /// `text` as one whole frame through a server `Connection` (the path it takes on a CPU
    /// without the kernel): whether exactly that text arrived, without an error.
    fn via_connection(text: &[u8]) -> bool {
        let mut wire = alloc::vec![0x81, 0x80 | text.len() as u8];
        wire.extend_from_slice(&KEY);
        wire.extend(masked(text));
        let mut conn = Connection::server(Instant::ZERO, Config::default());
        let ok = conn.handle_input(Instant::ZERO, &wire).is_ok();
        let copied = match conn.poll_event() {
            Some(Event::Message(Message::Text(t))) => ok && t.as_bytes()[..] == *text,
            _ => false,
        };
        // Read in place (`handle_input_buf`), the same.
        let mut conn = Connection::server(Instant::ZERO, Config::default());
        let ok = conn
            .handle_input_buf(Instant::ZERO, &mut BytesMut::from(&wire[..]))
            .is_ok();
        let in_place = match conn.poll_event() {
            Some(Event::Message(Message::Text(t))) => ok && t.as_bytes()[..] == *text,
            _ => false,
        };
        assert_eq!(copied, in_place, "in place: {text:02x?}");
        copied
    }

    /// The kernel (or, on a CPU without it, the connection's other path) agrees with
    /// `core::str::from_utf8` on `text`.
    fn check(text: &[u8]) {
        let valid = kernel(text).unwrap_or_else(|| via_connection(text));
        assert_eq!(
            valid,
            core::str::from_utf8(text).is_ok(),
            "{text:02x?} ({} bytes)",
            text.len()
        );
    }

    /// `seq` at `pos` in `len` bytes of ASCII, cut off by the end of the message if it runs
    /// past it.
    fn embed(seq: &[u8], pos: usize, len: usize) -> Vec<u8> {
        let mut t = alloc::vec![b'a'; len];
        let n = seq.len().min(len - pos);
        t[pos..pos + n].copy_from_slice(&seq[..n]);
        t
    }

    const LENGTHS: [usize; 9] = [2, 3, 4, 60, 61, 62, 63, 64, 125];

    #[test]
    fn every_byte_pair_at_the_edges_of_short_messages() {
        for len in LENGTHS.into_iter().chain([65, 66, 67, 100]) {
            let mut positions = alloc::vec![0, len / 2, len - 2, len - 1];
            if len > 64 {
                positions.extend([62, 63, 64]);
            }
            for pos in positions {
                for b1 in 0..=255u8 {
                    for b2 in 0..=255u8 {
                        check(&embed(&[b1, b2], pos, len));
                    }
                }
            }
        }
    }

    #[test]
    fn three_and_four_byte_sequences_whole_and_cut_off_at_the_end() {
        const EDGES: [u8; 12] = [
            0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xF4, 0xFF,
        ];
        for len in LENGTHS.into_iter().chain([65, 66, 67]) {
            let mut positions: Vec<usize> =
                (1..=4).filter(|b| *b <= len).map(|b| len - b).collect();
            if len > 64 {
                positions.extend([61, 62, 63]);
            }
            for pos in positions {
                for b1 in 0xC0..=0xFFu8 {
                    for &b2 in &EDGES {
                        for &b3 in &EDGES {
                            check(&embed(&[b1, b2, b3], pos, len));
                            for &b4 in &EDGES {
                                check(&embed(&[b1, b2, b3, b4], pos, len));
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_length_unmasks_exactly_text_and_binary() {
        let text = "κόσμε 世界 😀 héllo Ünïcödé Привет 🚀✓ 日本語 abcdefghijklmnopqrstuvwxyz"
            .repeat(2)
            .into_bytes();
        for len in 0..=125 {
            let mut dst = BytesMut::new();
            let src: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            match crate::unmask_utf8::small_message(&mut dst, &masked(&src), KEY, false) {
                Some(valid) => {
                    assert!(valid);
                    assert_eq!(&dst[..], &src[..]);
                    let mut buf = masked(&src);
                    let in_place = crate::unmask_utf8::small_in_place(&mut buf, KEY, false);
                    assert_eq!(in_place, Some(true));
                    assert_eq!(buf, src, "unmasking in place");
                }
                // Without the kernel: the same through a connection.
                None => assert_eq!(feed(&[(false, src.clone())]).0, [Message::binary(src)]),
            }
            let t = &text[..len];
            assert!(t.len() == len);
            check(t);
        }
    }

    /// Feeds one read of `messages` (each a whole masked frame); returns the messages
    /// delivered and the error, if any.
    fn feed(messages: &[(bool, Vec<u8>)]) -> (Vec<Message>, Option<ProtocolError>) {
        let mut wire = Vec::new();
        for (text, payload) in messages {
            wire.push(if *text { 0x81 } else { 0x82 });
            wire.push(0x80 | payload.len() as u8);
            wire.extend_from_slice(&KEY);
            wire.extend(masked(payload));
        }
        let messages = |conn: &mut Connection| {
            let mut out = Vec::new();
            while let Some(ev) = conn.poll_event() {
                if let Event::Message(m) = ev {
                    out.push(m);
                }
            }
            out
        };
        let mut conn = Connection::server(Instant::ZERO, Config::default());
        let err = conn.handle_input(Instant::ZERO, &wire).err();
        let out = messages(&mut conn);
        // Read in place (`handle_input_buf`), the same.
        let mut conn = Connection::server(Instant::ZERO, Config::default());
        let in_place_err = conn
            .handle_input_buf(Instant::ZERO, &mut BytesMut::from(&wire[..]))
            .err();
        assert_eq!(in_place_err, err, "in place");
        assert!(messages(&mut conn) == out, "in place");
        (out, err)
    }

    #[test]
    fn a_connection_reads_runs_of_short_messages_the_same_on_every_path() {
        let text = "κόσμε 世界 😀 héllo Ünïcödé Привет 🚀✓ 日本語 abcdefghijklmnopqrstuvwxyz"
            .repeat(2)
            .into_bytes();
        let mut messages = Vec::new();
        for len in 0..=125usize {
            let t = &text[..len.min(text.len())];
            if core::str::from_utf8(t).is_ok() {
                messages.push((true, t.to_vec()));
            }
            messages.push((false, (0..len as u8).collect()));
        }
        let expected: Vec<Message> = messages
            .iter()
            .map(|(text, p)| {
                if *text {
                    Message::text(core::str::from_utf8(p).unwrap())
                } else {
                    Message::binary(p.clone())
                }
            })
            .collect();
        // Invalid text in the middle: everything before it arrives, then InvalidUtf8.
        let mut bad = messages.clone();
        bad.insert(
            100,
            (
                true,
                alloc::vec![b'a'; 70]
                    .into_iter()
                    .chain([0xE2, 0x82])
                    .collect(),
            ),
        );
        for scalar in [false, true] {
            #[cfg(feature = "std")]
            crate::unmask_utf8::SCALAR_ONLY.with(|s| s.set(scalar));
            let (got, err) = feed(&messages);
            assert_eq!(err, None);
            assert_eq!(got, expected, "scalar: {scalar}");
            let (got, err) = feed(&bad);
            assert_eq!(err, Some(ProtocolError::InvalidUtf8));
            assert_eq!(got, expected[..100], "scalar: {scalar}");
            #[cfg(feature = "std")]
            crate::unmask_utf8::SCALAR_ONLY.with(|s| s.set(false));
        }
    }
}

#[cfg(test)]
mod medium_message_tests {
    //! Whole single-frame messages with a 16-bit length up to `ARENA_BLOCK` (the medium fast
    //! path of `read_small_messages`): the same messages and errors as the general path (the
    //! same bytes fed one at a time, which never takes a fast path), text against
    //! `core::str::from_utf8`, on every vector path the CPU has.
    use super::ARENA_BLOCK;
    use crate::frame::{FrameError, FrameHeader, Opcode};
    use crate::{Config, Connection, Event, Instant, Message, ProtocolError, SeededMasks};
    use alloc::vec::Vec;

    const KEY: [u8; 4] = [0x3B, 0xE7, 0x01, 0x92];

    /// One frame: FIN, `opcode`, the shortest length encoding unless `len16` forces the 16-bit
    /// one (for a payload under 126 bytes), masked with `KEY` if `masked`.
    fn frame(opcode: u8, payload: &[u8], masked: bool, len16: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mask = masked.then_some(KEY);
        if len16 && payload.len() < 126 {
            let bit = if masked { 0x80 } else { 0 };
            out.extend([0x80 | opcode, bit | 126, 0, payload.len() as u8]);
            out.extend(mask.iter().flatten());
        } else {
            FrameHeader {
                fin: true,
                rsv: 0,
                opcode: Opcode::from_u8(opcode).unwrap(),
                mask,
                payload_len: payload.len() as u64,
            }
            .write(&mut out);
        }
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(key) = mask {
            crate::mask::apply_mask(&mut out[start..], key, 0);
        }
        out
    }

    type Outcome = (Vec<Event>, Option<ProtocolError>);

    /// Feeds `wire` to a server (or client) in pieces of `piece` bytes (`usize::MAX`: in one
    /// read), with `handle_input`, or if `in_place` with `handle_input_buf` (each piece in a
    /// read buffer of its own); returns every event and the first error.
    fn run_with(
        wire: &[u8],
        config: &Config,
        server: bool,
        piece: usize,
        in_place: bool,
    ) -> Outcome {
        let mut conn = if server {
            Connection::server(Instant::ZERO, config.clone())
        } else {
            Connection::client(Instant::ZERO, config.clone(), SeededMasks::new(7))
        };
        let mut err = None;
        for p in wire.chunks(piece.min(wire.len()).max(1)) {
            let result = if in_place {
                let mut buf = bytes::BytesMut::from(p);
                let result = conn.handle_input_buf(Instant::ZERO, &mut buf);
                assert!(buf.is_empty(), "handle_input_buf takes everything");
                result
            } else {
                conn.handle_input(Instant::ZERO, p)
            };
            if let Err(e) = result {
                err = Some(e);
                break;
            }
        }
        let mut events = Vec::new();
        while let Some(ev) = conn.poll_event() {
            // A failure ends with `Closed`; the tests compare what arrived before it.
            if !matches!(ev, Event::Closed(_)) {
                events.push(ev);
            }
        }
        (events, err)
    }

    /// [`run_with`] copying (`handle_input`).
    fn run(wire: &[u8], config: &Config, server: bool, piece: usize) -> Outcome {
        run_with(wire, config, server, piece, false)
    }

    /// `wire` in one read, and read in place in one read and in pieces, agrees with the
    /// general path (one byte at a time), on every vector path; returns the outcome.
    fn agree(wire: &[u8], config: &Config, server: bool) -> Outcome {
        let reference = run(wire, config, server, 1);
        let all_ways = |path: &str| {
            let whole = run(wire, config, server, usize::MAX);
            // (`assert!`, not `assert_eq!`: the outcomes can be megabytes long.)
            assert!(
                whole == reference,
                "{path}: one read against one byte at a time"
            );
            for piece in [usize::MAX, 1000, 7] {
                let in_place = run_with(wire, config, server, piece, true);
                assert!(in_place == reference, "{path}: in place, pieces of {piece}");
            }
            whole
        };
        let whole = all_ways("default");
        #[cfg(feature = "std")]
        {
            use crate::unmask_utf8::{AVX2_ONLY, SCALAR_ONLY};
            AVX2_ONLY.with(|s| s.set(true));
            all_ways("AVX2");
            AVX2_ONLY.with(|s| s.set(false));
            SCALAR_ONLY.with(|s| s.set(true));
            all_ways("two-step");
            SCALAR_ONLY.with(|s| s.set(false));
        }
        whole
    }

    /// Medium messages the fast path has taken on this thread so far.
    fn fast() -> usize {
        super::MEDIUM_FAST_PATH.with(core::cell::Cell::get)
    }

    /// `text` as one medium frame is accepted exactly when it is UTF-8, and arrives intact.
    fn check_text(text: &[u8]) {
        let wire = frame(1, text, true, false);
        let before = fast();
        let (events, err) = agree(&wire, &Config::default(), true);
        // One read on each of the three paths took the fast path.
        assert_eq!(fast() - before, 3, "fast path taken");
        match core::str::from_utf8(text) {
            Ok(s) => {
                assert_eq!(err, None, "{} bytes", text.len());
                assert_eq!(events, [Event::Message(Message::text(s))]);
            }
            Err(_) => {
                assert_eq!(err, Some(ProtocolError::InvalidUtf8), "{text:02x?}");
                assert!(!events.iter().any(|e| matches!(e, Event::Message(_))));
            }
        }
    }

    /// `len` bytes of valid mixed text: whole code points, then ASCII.
    fn mixed(len: usize) -> Vec<u8> {
        let mut t = Vec::new();
        for c in "é€😀a".chars().cycle() {
            if t.len() + c.len_utf8() > len {
                break;
            }
            t.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
        t.resize(len, b'a');
        t
    }

    /// `seq` at `pos` in `len` bytes of mixed text (cut off by the end if it runs past it).
    fn embed(seq: &[u8], pos: usize, len: usize) -> Vec<u8> {
        let mut t = mixed(len);
        // Start `seq` on a boundary of the base text: put ASCII around it.
        let n = seq.len().min(len - pos);
        for b in t[pos.saturating_sub(3)..(pos + n + 3).min(len)].iter_mut() {
            *b = b'-';
        }
        t[pos..pos + n].copy_from_slice(&seq[..n]);
        t
    }

    const LENGTHS: [usize; 12] = [
        126,
        127,
        128,
        129,
        191,
        192,
        255,
        1000,
        1024,
        1027,
        4096,
        ARENA_BLOCK,
    ];

    /// A sequence at the end of one 64-byte vector, a vector of ASCII, then continuation bytes
    /// at the start of the next: the AVX-512 pass keeps the 3rd/4th-byte state of the last
    /// non-ASCII vector across the ASCII one, and must neither accept the cut sequence nor
    /// reject what follows a complete one.
    #[test]
    fn sequences_before_an_ascii_vector_and_continuations_after_it() {
        let leads: [&[u8]; 6] = [
            b"\xE2\x82\xAC",     // complete, ends at 63
            b"\xF0\x9F\x98\x80", // complete, ends at 63
            b"\xE2",             // cut: a lead at 63
            b"\xE2\x82",         // cut: lead at 62
            b"\xF0\x9F\x98",     // cut: lead at 61
            b"\xF0",             // cut: lead at 63
        ];
        let after: [&[u8]; 4] = [
            b"\x80\x80",         // stray continuations at 128 and 129
            b"\xE2\x82\xAC",     // a complete sequence at 128
            b"\xF0\x9F\x98\x80", // a complete 4-byte one at 128
            b"\x82\xAC",         // the tail of a sequence whose lead is not there
        ];
        for len in [192, 256, 300] {
            for lead in leads {
                for tail in after {
                    let mut text = mixed(64 - lead.len());
                    text.resize(64 - lead.len(), b'a');
                    text.extend_from_slice(lead);
                    text.extend_from_slice(&[b'x'; 64]);
                    text.extend_from_slice(tail);
                    text.resize(len, b'z');
                    check_text(&text);
                }
            }
        }
    }

    #[test]
    fn text_of_every_medium_shape_agrees_with_from_utf8() {
        let seqs: [&[u8]; 14] = [
            "é".as_bytes(),
            "€".as_bytes(),
            "😀".as_bytes(),
            &[0xFF],
            &[0x80],
            &[0xC0, 0x80],
            &[0xE0, 0x80, 0x80],
            &[0xED, 0xA0, 0x80],
            &[0xF4, 0x90, 0x80, 0x80],
            &[0xF5, 0x80, 0x80, 0x80],
            &[0xE2, 0x82],
            &[0xF0, 0x9F, 0x98],
            &[0xC3],
            &[0xE2, 0x28, 0xA1],
        ];
        for len in LENGTHS {
            let mut positions = alloc::vec![0, 1, len / 2];
            positions.extend((1..=4).map(|b| len - b));
            // Around the last vector edges (the one-pass kernels check whole vectors).
            for edge in [len / 64 * 64, len / 32 * 32] {
                positions.extend([edge.saturating_sub(2), edge.saturating_sub(1), edge]);
            }
            positions.retain(|p| *p < len);
            for pos in positions {
                for seq in seqs {
                    check_text(&embed(seq, pos, len));
                }
            }
        }
    }

    #[test]
    fn every_byte_pair_at_the_end_of_a_medium_message() {
        for path in 0..3 {
            #[cfg(feature = "std")]
            {
                crate::unmask_utf8::AVX2_ONLY.with(|s| s.set(path == 1));
                crate::unmask_utf8::SCALAR_ONLY.with(|s| s.set(path == 2));
            }
            for (len, pos) in [(126, 124), (128, 126), (130, 126), (1024, 1022), (200, 62)] {
                for b1 in 0..=255u8 {
                    for b2 in 0..=255u8 {
                        let mut t = alloc::vec![b'a'; len];
                        t[pos] = b1;
                        t[pos + 1] = b2;
                        let wire = frame(1, &t, true, false);
                        let (events, err) = run(&wire, &Config::default(), true, usize::MAX);
                        let at =
                            || alloc::format!("{b1:02x} {b2:02x} at {pos} of {len}, path {path}");
                        match core::str::from_utf8(&t) {
                            Ok(s) => {
                                assert_eq!(err, None, "{}", at());
                                assert!(events == [Event::Message(Message::text(s))], "{}", at());
                            }
                            Err(_) => {
                                assert_eq!(err, Some(ProtocolError::InvalidUtf8), "{}", at());
                                assert!(events.is_empty(), "{}", at());
                            }
                        }
                    }
                }
            }
        }
        #[cfg(feature = "std")]
        {
            crate::unmask_utf8::AVX2_ONLY.with(|s| s.set(false));
            crate::unmask_utf8::SCALAR_ONLY.with(|s| s.set(false));
        }
    }

    #[test]
    fn runs_of_mixed_frames_agree_with_the_general_path() {
        let text = "κόσμε 世界 😀 héllo Ünïcödé Привет 🚀✓ 日本語 "
            .repeat(ARENA_BLOCK / 50 + 2)
            .into_bytes();
        // Exactly `n` bytes: whole code points, then ASCII.
        let prefix = |n: usize| {
            let mut k = n.min(text.len());
            while core::str::from_utf8(&text[..k]).is_err() {
                k -= 1;
            }
            let mut t = text[..k].to_vec();
            t.resize(n, b'a');
            t
        };
        for server in [true, false] {
            let mut wire = Vec::new();
            let mut expected = Vec::new();
            for len in [
                0,
                5,
                125,
                126,
                300,
                1024,
                5000,
                ARENA_BLOCK,
                ARENA_BLOCK + 1,
                70_000,
            ] {
                let t = prefix(len);
                wire.extend(frame(1, &t, server, false));
                expected.push(Event::Message(Message::text(
                    core::str::from_utf8(&t).unwrap(),
                )));
                let b: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
                wire.extend(frame(2, &b, server, false));
                expected.push(Event::Message(Message::binary(b)));
                // A Ping between them.
                wire.extend(frame(9, b"hi", server, false));
                expected.push(Event::Ping(bytes::Bytes::from_static(b"hi")));
            }
            let before = fast();
            let (events, err) = agree(&wire, &Config::default(), server);
            assert_eq!(err, None);
            assert!(events == expected, "server: {server}");
            assert!(fast() > before, "fast path taken");
            // In pieces, switching between the fast and the general path.
            for piece in [7, 130, 1000, 4096, 9000] {
                let got = run(&wire, &Config::default(), server, piece);
                assert!(
                    got == (expected.clone(), None),
                    "server: {server}, pieces of {piece}"
                );
            }

            // Invalid text after them: all of them arrive, then the error.
            let mut bad_wire = wire.clone();
            let mut bad = prefix(2000);
            bad.extend([0xE2, 0x82]);
            bad_wire.extend(frame(1, &bad, server, false));
            let (events, err) = agree(&bad_wire, &Config::default(), server);
            assert_eq!(err, Some(ProtocolError::InvalidUtf8));
            assert!(events == expected, "server: {server}");
        }
    }

    #[test]
    fn medium_frames_keep_every_rule_and_limit() {
        let payload = alloc::vec![b'x'; 301];
        let limit = Config {
            max_frame_payload: 300,
            ..Config::default()
        };
        let (_, err) = agree(&frame(2, &payload, true, false), &limit, true);
        assert_eq!(
            err,
            Some(ProtocolError::FrameTooLarge {
                len: 301,
                limit: 300
            })
        );
        let (events, err) = agree(&frame(2, &payload[..300], true, false), &limit, true);
        assert_eq!((events.len(), err), (1, None));
        let limit = Config {
            max_message_size: 300,
            ..Config::default()
        };
        let (_, err) = agree(&frame(1, &payload, true, false), &limit, true);
        assert_eq!(err, Some(ProtocolError::MessageTooLarge { limit: 300 }));
        let (events, err) = agree(&frame(1, &payload[..300], true, false), &limit, true);
        assert_eq!((events.len(), err), (1, None));
        // Limits under 126: the fast path stands aside entirely.
        let limit = Config {
            max_frame_payload: 100,
            ..Config::default()
        };
        let (_, err) = agree(&frame(2, &payload[..200], true, false), &limit, true);
        assert_eq!(
            err,
            Some(ProtocolError::FrameTooLarge {
                len: 200,
                limit: 100
            })
        );
        // RSV1 without an extension, and a 16-bit frame without FIN then its continuation.
        let mut rsv = frame(2, &payload[..200], true, false);
        rsv[0] |= 0x40;
        let (_, err) = agree(&rsv, &Config::default(), true);
        assert_eq!(err, Some(ProtocolError::ReservedBits(4)));
        let mut first = frame(2, &payload[..200], true, false);
        first[0] &= 0x7F;
        let mut wire = first;
        wire.extend(frame(0, &payload[..150], true, false));
        let (events, err) = agree(&wire, &Config::default(), true);
        assert_eq!(err, None);
        assert!(events == [Event::Message(Message::binary(alloc::vec![b'x'; 350]))]);
        // A 16-bit length that fits in 7 bits is not minimal.
        let (events, err) = agree(
            &frame(2, &payload[..100], true, true),
            &Config::default(),
            true,
        );
        assert_eq!(
            err,
            Some(ProtocolError::Frame(FrameError::NonMinimalLength))
        );
        assert!(events.is_empty());
        // Masking must match the role.
        let (_, err) = agree(&frame(2, &payload, false, false), &Config::default(), true);
        assert_eq!(err, Some(ProtocolError::UnmaskedFrame));
        let (_, err) = agree(&frame(2, &payload, true, false), &Config::default(), false);
        assert_eq!(err, Some(ProtocolError::MaskedFrame));
        // A frame cut short waits for the rest.
        let wire = frame(2, &payload, true, false);
        let (events, err) = run(
            &wire[..wire.len() - 1],
            &Config::default(),
            true,
            usize::MAX,
        );
        assert_eq!((events.len(), err), (0, None));
    }
}
