//! Test support: a raw frame builder and a `Pair` that connects a client and a server
//! connection on virtual time, with no sockets and no sleeps.
#![allow(dead_code)]

use std::time::Duration;
use ws_proto::frame::{FrameHeader, Opcode, Status};
use ws_proto::{Config, Connection, Event, Instant, Message, SeededMasks};

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
    while conn.poll_transmit(&mut out).is_some() {}
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

/// Feed `bytes` to `conn` with `handle_input`, or, if `in_place`, with `handle_input_buf` in a
/// read buffer of its own (which it must leave empty).
pub fn feed(
    conn: &mut Connection,
    now: Instant,
    bytes: &[u8],
    in_place: bool,
) -> Result<(), ws_proto::ProtocolError> {
    if !in_place {
        return conn.handle_input(now, bytes);
    }
    let mut buf = bytes::BytesMut::from(bytes);
    let result = conn.handle_input_buf(now, &mut buf);
    assert!(buf.is_empty(), "handle_input_buf takes everything");
    result
}

/// A client and a server connection joined by an in-memory pipe on virtual time.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    /// Deliver transmitted bytes in pieces of at most this size (1 = byte at a time).
    pub chunk: usize,
    /// Read with `handle_input_buf` (messages where they lie) instead of `handle_input`.
    pub in_place: bool,
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
            in_place: false,
            client_events: Vec::new(),
            server_events: Vec::new(),
        }
    }

    pub fn default_pair() -> Self {
        Self::new(Config::default(), Config::default())
    }

    /// Move every pending byte one hop in each direction; collect events. Returns whether
    /// anything moved.
    pub fn step(&mut self) -> bool {
        let c2s = drain_transmit(&mut self.client);
        let s2c = drain_transmit(&mut self.server);
        let moved = !c2s.is_empty() || !s2c.is_empty();
        for piece in c2s.chunks(self.chunk.max(1)) {
            let _ = feed(&mut self.server, self.now, piece, self.in_place);
        }
        for piece in s2c.chunks(self.chunk.max(1)) {
            let _ = feed(&mut self.client, self.now, piece, self.in_place);
        }
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
        let _ = feed(&mut self.server, self.now, &c, self.in_place);
        let _ = feed(&mut self.client, self.now, &s, self.in_place);
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
