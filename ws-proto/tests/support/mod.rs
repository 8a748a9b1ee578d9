//! Test support: a raw frame builder and a `Pair` that connects a client and a server
//! connection on virtual time, with no sockets and no sleeps.
#![allow(dead_code)]

use std::time::Duration;
use ws_proto::frame::{FrameHeader, Opcode, Status};
use ws_proto::{
    Config, Connection, Event, Instant, Message, MessageKind, ProtocolError, SeededMasks, SendError,
};

/// How a raw frame encodes its payload length.
#[derive(Clone, Copy, Debug)]
pub enum Len {
    /// The minimal encoding.
    Minimal,
    /// Always the 16-bit form.
    Force16,
    /// Always the 64-bit form.
    Force64,
    /// A declared length unrelated to the payload (64-bit form).
    Declared(u64),
}

/// Build one frame byte by byte, valid or not.
pub fn raw_frame(
    fin: bool,
    rsv: u8,
    opcode: u8,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    len: Len,
) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let m = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len() as u64;
    match len {
        Len::Minimal if n < 126 => out.push(m | n as u8),
        Len::Minimal if n < 65536 => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        Len::Force16 => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        Len::Minimal | Len::Force64 => {
            out.push(m | 127);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Len::Declared(d) => {
            out.push(m | 127);
            out.extend_from_slice(&d.to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A masked frame, as a client sends it.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(
        fin,
        0,
        opcode,
        payload,
        Some([0x11, 0x22, 0x33, 0x44]),
        Len::Minimal,
    )
}

/// An unmasked frame, as a server sends it.
pub fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(fin, 0, opcode, payload, None, Len::Minimal)
}

/// A parsed frame from a transmitted byte stream (payload unmasked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: Opcode,
    pub masked: bool,
    pub payload: Vec<u8>,
}

/// Split a transmitted byte stream into frames.
pub fn parse_frames(mut bytes: &[u8]) -> Vec<WireFrame> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (h, n) = match FrameHeader::decode(bytes).expect("valid header") {
            Status::Complete(x) => x,
            Status::Partial => panic!("truncated header"),
        };
        let len = h.payload_len as usize;
        let mut payload = bytes[n..n + len].to_vec();
        if let Some(key) = h.mask {
            ws_proto::mask::apply_mask(&mut payload, key, 0);
        }
        frames.push(WireFrame {
            fin: h.fin,
            rsv: h.rsv,
            opcode: h.opcode,
            masked: h.mask.is_some(),
            payload,
        });
        bytes = &bytes[n + len..];
    }
    frames
}

/// Everything a connection transmits right now.
pub fn drain_transmit(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(bytes) = conn.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    out
}

/// The whole messages among `events`.
pub fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// Every queued event.
pub fn drain_events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Take every event, then everything transmitted (a Close or failure is applied when the
/// events before it are taken, so events come first).
pub fn drain_events_then_transmit(conn: &mut Connection) -> (Vec<Event>, Vec<u8>) {
    let events = drain_events(conn);
    (events, drain_transmit(conn))
}

/// The close code of the last frame transmitted, if it is a Close with a code.
pub fn sent_close_code(bytes: &[u8]) -> Option<u16> {
    let last = parse_frames(bytes).pop()?;
    if last.opcode != Opcode::Close || last.payload.len() < 2 {
        return None;
    }
    Some(u16::from_be_bytes([last.payload[0], last.payload[1]]))
}

/// Feed `bytes` to `conn` as a read from the transport: into its input buffer, then
/// `handle_input`.
pub fn feed(
    conn: &mut Connection,
    now: Instant,
    bytes: &[u8],
) -> Result<(), ws_proto::ProtocolError> {
    conn.input_buffer().extend_from_slice(bytes);
    conn.handle_input(now)
}

/// Feed `bytes` to `conn` as a driver reads them: each read fills the room `input_buffer`
/// offers (at most `max` bytes), then `handle_input`. Stops at the first error.
pub fn feed_reads(
    conn: &mut Connection,
    now: Instant,
    mut bytes: &[u8],
    max: usize,
) -> Result<(), ws_proto::ProtocolError> {
    while !bytes.is_empty() {
        let buf = conn.input_buffer();
        let n = (buf.capacity() - buf.len()).min(max).min(bytes.len());
        assert!(n > 0, "input_buffer offers room");
        buf.extend_from_slice(&bytes[..n]);
        bytes = &bytes[n..];
        conn.handle_input(now)?;
    }
    Ok(())
}

/// A driver's read of `bytes` from the transport: into the connection's input buffer, then
/// `handle_input`.
pub trait FeedBytes {
    /// Read `bytes` at `now`.
    fn feed_bytes(&mut self, now: Instant, bytes: &[u8]) -> Result<(), ProtocolError>;
}

impl FeedBytes for Connection {
    fn feed_bytes(&mut self, now: Instant, bytes: &[u8]) -> Result<(), ProtocolError> {
        feed(self, now, bytes)
    }
}

/// Work is waiting (inflating in steps): the timer is due at once.
pub fn has_pending_work(conn: &Connection, now: Instant) -> bool {
    conn.poll_timeout().is_some_and(|t| t <= now)
}

/// One piece of a message sent in pieces; `last` ends it.
pub fn send_piece(
    conn: &mut Connection,
    now: Instant,
    kind: MessageKind,
    data: &[u8],
    last: bool,
) -> Result<(), SendError> {
    let stream = conn.send_stream(kind);
    if last {
        stream.finish(now, data)
    } else {
        let mut stream = stream;
        stream.write(now, data)
    }
}

/// `config` with permessage-deflate on, as `params` were agreed, with our settings `cfg`.
#[cfg(feature = "deflate")]
pub fn with_deflate(
    config: Config,
    params: ws_proto::deflate::DeflateParams,
    cfg: &ws_proto::deflate::DeflateConfig,
) -> Config {
    Config {
        deflate: Some(ws_proto::deflate::Negotiated {
            params,
            config: cfg.clone(),
        }),
        ..config
    }
}

/// A client and a server connection joined by an in-memory pipe on virtual time.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    /// Deliver transmitted bytes in reads of at most this size (1 = byte at a time).
    pub chunk: usize,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
}

impl Pair {
    pub fn new(client: Config, server: Config) -> Self {
        let now = Instant::ZERO;
        Pair {
            client: Connection::client(now, client, SeededMasks::new(42)),
            server: Connection::server(now, server),
            now,
            chunk: usize::MAX,
            client_events: Vec::new(),
            server_events: Vec::new(),
        }
    }

    pub fn default_pair() -> Self {
        Self::new(Config::default(), Config::default())
    }

    /// Move every pending byte one hop in each direction, as reads of at most `chunk`
    /// bytes (each within the room the reader offers); collect events. Returns whether
    /// anything moved.
    pub fn step(&mut self) -> bool {
        let c2s = drain_transmit(&mut self.client);
        let s2c = drain_transmit(&mut self.server);
        let moved = !c2s.is_empty() || !s2c.is_empty();
        let _ = feed_reads(&mut self.server, self.now, &c2s, self.chunk.max(1));
        let _ = feed_reads(&mut self.client, self.now, &s2c, self.chunk.max(1));
        self.client_events.extend(drain_events(&mut self.client));
        self.server_events.extend(drain_events(&mut self.server));
        moved
    }

    /// Step until nothing moves (bounded).
    pub fn drive(&mut self) {
        for _ in 0..1000 {
            if !self.step() {
                return;
            }
        }
        panic!("pair did not settle");
    }

    /// Advance virtual time and fire due timers on both sides.
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now.saturating_add(d);
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.client_events.extend(drain_events(&mut self.client));
        self.server_events.extend(drain_events(&mut self.server));
    }

    /// When a side finishes, its transport closes: the other side sees end of stream.
    pub fn close_transports(&mut self) {
        let c = drain_transmit(&mut self.client);
        let s = drain_transmit(&mut self.server);
        let _ = feed(&mut self.server, self.now, &c);
        let _ = feed(&mut self.client, self.now, &s);
        if self.server.is_finished() {
            self.client.handle_eof(self.now);
        }
        if self.client.is_finished() {
            self.server.handle_eof(self.now);
        }
        self.client_events.extend(drain_events(&mut self.client));
        self.server_events.extend(drain_events(&mut self.server));
    }
}
