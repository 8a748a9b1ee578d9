//! [`Connection`]: one WebSocket connection after the opening handshake, composed of parts
//! that own their state: the [`Reader`] (frames in, messages out), the [`Sender`] (the
//! outgoing queue), the [`EventQueue`], the lifecycle state and its transition function
//! ([`lifecycle::next`]), and, when negotiated, permessage-deflate ([`Compression`]). This
//! file only routes between them.

use alloc::boxed::Box;
use bytes::{Bytes, BytesMut};

use crate::close::{CloseCode, MAX_REASON_LEN};
use crate::compression::Compression;
use crate::config::Config;
use crate::error::{ProtocolError, SendError};
use crate::events::{Deferred, EventQueue, Next};
use crate::lifecycle::{self, Actions, Input, Rules};
use crate::mask_source::{MaskSource, NoMasks};
use crate::message::{Event, MessageKind, MessageRef};
use crate::reader::{Inbound, Limits, ReadEnd, Reader};
use crate::send::Sender;
use crate::time::Instant;
use crate::unmask_utf8::Kernel;
use crate::Role;

/// One WebSocket connection, client or server, after the opening handshake.
///
/// # Driving it
///
/// After every input (`handle_*`) and every mutator, drain the outputs in this order, and
/// you are done:
///
/// 1. [`poll_event`](Self::poll_event) until `None`. Answering an event (sending a reply) is
///    a mutator: its bytes join the queue behind what is already there.
/// 2. [`poll_transmit`](Self::poll_transmit) until `None`: write those bytes to the
///    transport, in order.
/// 3. [`poll_timeout`](Self::poll_timeout): arm a timer; when it fires, call
///    [`handle_timeout`](Self::handle_timeout). An instant already past means work is
///    waiting (inflating stopped at [`Config::inflate_step`]): call it before reading more.
///
/// When [`is_finished`](Self::is_finished) turns true, write what `poll_transmit` still gives
/// and close the transport. A driver may also drain `poll_transmit` at any other time.
///
/// Received bytes go into [`input_buffer`](Self::input_buffer) (read straight into its spare
/// capacity, e.g. with tokio's `read_buf`), then [`handle_input`](Self::handle_input) reads
/// them. Replies the protocol requires are queued automatically: a Pong for each Ping, and
/// the echo of the peer's Close. A peer's Close (or a protocol violation) takes effect once
/// the events before it are taken, so the application can still answer messages that arrived
/// before it.
///
/// # Methods
///
/// - getters: [`role`](Self::role), [`is_finished`](Self::is_finished),
///   [`pending_transmit`](Self::pending_transmit)
/// - inputs: [`input_buffer`](Self::input_buffer) + [`handle_input`](Self::handle_input),
///   [`swap_input_buffer`](Self::swap_input_buffer),
///   [`handle_timeout`](Self::handle_timeout), [`handle_eof`](Self::handle_eof)
/// - mutators: [`send`](Self::send), [`send_stream`](Self::send_stream),
///   [`ping`](Self::ping), [`close`](Self::close)
/// - outputs: [`poll_event`](Self::poll_event), [`poll_transmit`](Self::poll_transmit),
///   [`poll_timeout`](Self::poll_timeout)
pub struct Connection {
    role: Role,
    rules: Rules,
    state: lifecycle::State,
    reader: Reader,
    sender: Sender,
    events: EventQueue,
    compression: Option<Compression>,
    inflate_step: usize,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
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
    /// (a cryptographically strong source in production, [`crate::SeededMasks`] in tests).
    pub fn client(now: Instant, config: Config, masks: impl MaskSource + Send + 'static) -> Self {
        Self::new(Role::Client, now, config, Box::new(masks))
    }

    fn new(role: Role, now: Instant, config: Config, masks: Box<dyn MaskSource + Send>) -> Self {
        #[cfg(feature = "deflate")]
        let compression = config.deflate.as_ref().map(|d| Compression::new(d, role));
        #[cfg(not(feature = "deflate"))]
        let compression = None;
        let allowed_rsv = if compression.is_some() {
            crate::frame::RSV1
        } else {
            0
        };
        let limits = Limits {
            max_frame_payload: config.max_frame_payload,
            max_message_size: config.max_message_size,
            max_fragments: config.max_fragments,
            max_read: config.max_read_size,
            mode: config.mode,
        };
        Connection {
            role,
            rules: Rules {
                role,
                close_timeout: config.close_timeout,
                keepalive: config.keepalive,
            },
            state: lifecycle::State::open(now),
            reader: Reader::new(role == Role::Server, limits, Kernel::best(), allowed_rsv),
            sender: Sender::new(role, masks, config.max_send_buffer, config.max_send_frame),
            events: EventQueue::default(),
            compression,
            inflate_step: config.inflate_step.max(1),
        }
    }

    // ----- getters -----

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The connection is over: write what `poll_transmit` still gives, then close the
    /// transport.
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }

    /// Bytes queued for the transport and not yet taken by
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn pending_transmit(&self) -> usize {
        self.sender.pending()
    }

    // ----- inputs -----

    /// The buffer to read received bytes into: read into its spare capacity (it always has
    /// room for one read), then call [`handle_input`](Self::handle_input). Bytes not read
    /// yet stay at its front; whole messages are handed out as slices of it.
    ///
    /// The room grows from 8 KiB while reads fill it, up to [`Config::max_read_size`]; a
    /// message still arriving gets room for the rest of it, growing with the bytes that
    /// arrived. A driver may replace an empty buffer with [`BytesMut::new`] to free its
    /// memory while the connection is idle, or with
    /// [`swap_input_buffer`](Self::swap_input_buffer) to keep that memory in a pool.
    pub fn input_buffer(&mut self) -> &mut BytesMut {
        self.reader.input_buffer()
    }

    /// Put `buf` in place of the input buffer while that holds no bytes not read yet, and
    /// return the old one (its capacity, for a pool of read buffers); `buf`'s own bytes, if
    /// any, are dropped. A driver lets an idle connection's buffer go this way
    /// (`BytesMut::new()` in its place) and gives it an empty one from its pool before the
    /// next read, instead of an allocation. `Err(buf)` when bytes not read yet are held
    /// (nothing changed).
    pub fn swap_input_buffer(&mut self, buf: BytesMut) -> Result<BytesMut, BytesMut> {
        self.reader.swap_input_buffer(buf)
    }

    /// Read the bytes in [`input_buffer`](Self::input_buffer).
    ///
    /// Events for everything complete are queued (and stay queued even if a later frame is
    /// invalid). On a protocol violation the connection fails: the error says what was
    /// wrong, a Close with its [`ProtocolError::close_code`] is queued, and nothing more is
    /// read. Once the connection stops reading, input is dropped.
    pub fn handle_input(&mut self, now: Instant) -> Result<(), ProtocolError> {
        if !self.state.reads() {
            self.reader.drop_input();
            return Ok(());
        }
        // `Input::Received` without a new state or actions (`State::received`).
        self.state.received(now);
        self.read()
    }

    /// Timers: the close handshake's deadline, keepalive, and a step of work left over from
    /// earlier input. Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.apply_deferred();
        if self.state.reads() && self.reader.is_stalled() {
            // An error is reported through the queued Close and `Closed` event.
            let _ = self.read();
            return;
        }
        self.apply(Input::Timeout(now));
    }

    /// The transport was closed by the peer (end of stream).
    pub fn handle_eof(&mut self, _now: Instant) {
        self.apply_deferred();
        self.apply(Input::Eof);
    }

    // ----- mutators -----

    /// Queue a whole message: borrowed (`&str`, `&[u8]`: copied once) or owned
    /// ([`crate::Message`], `String`, [`Bytes`]: a server sends a payload of 1 KiB or more
    /// without copying it). With permessage-deflate, a message from the size threshold up is
    /// compressed. Fails (changing nothing) with [`SendError::BufferFull`] if it would take
    /// the outgoing buffer past [`Config::max_send_buffer`], [`SendError::Closing`] once a
    /// Close was sent or the connection failed, [`SendError::MessageInProgress`] while a
    /// [`send_stream`](Self::send_stream) message is unfinished.
    pub fn send<'a>(
        &mut self,
        _now: Instant,
        message: impl Into<MessageRef<'a>>,
    ) -> Result<(), SendError> {
        if !self.state.can_send() {
            return Err(SendError::Closing);
        }
        self.sender
            .message(message.into(), self.compression.as_mut())
    }

    /// A message of `kind` sent in pieces: the handle's first write starts it, each write is
    /// one frame, [`SendStream::finish`] ends it. While it is unfinished, [`send`](Self::send)
    /// and a stream of the other kind fail with [`SendError::MessageInProgress`].
    pub fn send_stream(&mut self, kind: MessageKind) -> SendStream<'_> {
        SendStream { conn: self, kind }
    }

    /// Queue a Ping with `payload` (at most 125 bytes).
    pub fn ping(&mut self, now: Instant, payload: &[u8]) -> Result<(), SendError> {
        if !self.state.can_send() {
            return Err(SendError::Closing);
        }
        self.sender.ping(payload)?;
        self.apply(Input::PingSent(now));
        Ok(())
    }

    /// Start the close handshake with `code` and `reason` (at most 123 bytes). Data already
    /// queued goes out first; messages the peer sends until its Close still arrive as events.
    /// The handshake must finish within [`Config::close_timeout`].
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if !self.state.can_send() {
            return Err(SendError::Closing);
        }
        if !code.is_allowed_on_wire() {
            return Err(SendError::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(SendError::CloseReasonTooLong(reason.len()));
        }
        self.sender.close(Some(code), reason);
        self.apply(Input::LocalClose(now));
        Ok(())
    }

    // ----- outputs -----

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        loop {
            match self.events.pop()? {
                Next::Event(e) => return Some(e),
                Next::Apply(d) => self.apply_one(d),
            }
        }
    }

    /// The next bytes to write to the transport, in order (a large payload a server sends
    /// is the caller's own `Bytes`, not a copy); `None` when nothing is queued.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.sender.poll_transmit()
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state.reads() && self.reader.is_stalled() {
            // Work is waiting: due at once.
            return Some(self.state.last_input);
        }
        self.state.deadline(&self.rules)
    }

    // ----- routing -----

    /// One step of reading, within a fresh inflate budget.
    fn read(&mut self) -> Result<(), ProtocolError> {
        let mut budget = self.inflate_step;
        let can_send = self.state.can_send();
        let (events, sender) = (&mut self.events, &mut self.sender);
        let mut out = |inbound: Inbound| match inbound {
            Inbound::Event(e) => events.push(e),
            Inbound::Ping(payload) => {
                if can_send {
                    sender.pong(&payload);
                }
                events.push(Event::Ping(payload));
            }
            Inbound::Close(frame) => events.defer(Deferred::PeerClose(frame)),
        };
        match self
            .reader
            .read(self.compression.as_mut(), &mut budget, &mut out)
        {
            Ok(ReadEnd::Closed) => {
                self.reader.drop_input();
                self.apply(Input::CloseRead);
                Ok(())
            }
            Ok(ReadEnd::NeedInput | ReadEnd::Stalled) => Ok(()),
            Err(e) => {
                self.reader.drop_input();
                self.apply(Input::ViolationRead);
                self.events.defer(Deferred::Fail(e.clone()));
                Err(e)
            }
        }
    }

    /// Apply, in order, the transitions waiting behind undelivered events: an end of stream
    /// or a timer comes after them.
    fn apply_deferred(&mut self) {
        while let Some(d) = self.events.take_deferred() {
            self.apply_one(d);
        }
    }

    fn apply_one(&mut self, d: Deferred) {
        match d {
            Deferred::PeerClose(frame) => self.apply(Input::PeerClose(frame)),
            Deferred::Fail(e) => self.apply(Input::Fail(e.close_code())),
        }
    }

    /// Take `input` through the lifecycle and carry out what it says.
    fn apply(&mut self, input: Input) {
        let (state, actions) = lifecycle::next(&self.state, input, &self.rules);
        self.state = state;
        let Actions {
            send_close,
            send_ping,
            discard_message,
            close_received,
            closed,
        } = actions;
        if let Some(code) = send_close {
            self.sender.close(code, "");
        }
        if send_ping {
            // A ping the send buffer refuses is retried at the next interval.
            let _ = self.sender.ping(b"");
        }
        if discard_message {
            self.reader.discard();
            #[cfg(feature = "deflate")]
            if let Some(c) = self.compression.as_mut() {
                c.discard_message();
            }
        }
        if let Some(frame) = close_received {
            self.events.push(Event::CloseReceived(frame));
        }
        if let Some(closed) = closed {
            self.events.push(Event::Closed(closed));
        }
    }

    /// Queue one piece of a message sent in pieces.
    fn send_piece(&mut self, kind: MessageKind, data: &[u8], last: bool) -> Result<(), SendError> {
        if !self.state.can_send() {
            return Err(SendError::Closing);
        }
        self.sender
            .piece(kind, data, last, self.compression.as_mut())
    }
}

/// A message being sent in pieces ([`Connection::send_stream`]). Each write queues one frame;
/// text pieces need not end on a code point boundary, but the whole message must be valid
/// UTF-8: a piece that can never continue valid UTF-8, or a final piece that leaves a code
/// point unfinished, fails with [`SendError::InvalidUtf8`] and is not queued (the message
/// stays in progress). With permessage-deflate each piece is compressed and sync-flushed into
/// its frame (a message in one piece only from the size threshold up); if compressing fails
/// ([`SendError::CompressionFailed`]) the message cannot be finished: close the connection
/// (1011).
#[derive(Debug)]
pub struct SendStream<'a> {
    conn: &'a mut Connection,
    kind: MessageKind,
}

impl SendStream<'_> {
    /// Queue `data` as the next piece (starting the message if this is the first).
    pub fn write(&mut self, _now: Instant, data: &[u8]) -> Result<(), SendError> {
        self.conn.send_piece(self.kind, data, false)
    }

    /// Queue `data` as the last piece, ending the message.
    pub fn finish(self, _now: Instant, data: &[u8]) -> Result<(), SendError> {
        self.conn.send_piece(self.kind, data, true)
    }

    /// Whether the message has started and is not finished.
    pub fn is_started(&self) -> bool {
        self.conn.sender.streaming() == Some(self.kind)
    }
}
