//! A whole server `Connection` fed an arbitrary byte stream split at arbitrary points, with
//! small limits chosen by the input.
//!
//! Input: `[max_frame_payload: u16][max_message_size: u16][max_fragments: u8]
//! [max_send_buffer: u16][flags: u8][keepalive interval ms: u8][keepalive timeout ms: u8]
//! [ms per chunk: u8][n][n × u16 cuts][bytes from the client]`. Flags: 1 streaming mode,
//! 2 keepalive, 4 drain `poll_transmit` after every chunk (else only at the end), 8 EOF at
//! the end.
//!
//! Invariants: no panic; `pending_transmit` stays within `max_send_buffer` plus one owed Pong,
//! one Ping and one Close; every message, chunk sequence and control payload respects the
//! limits; text is valid UTF-8; after an error, `Closed` with the error's code is the last
//! event and nothing more comes out of any input; `Closed` comes exactly once, last, exactly
//! when `is_finished` turns true; everything the server transmits is a valid server stream
//! (a client connection reads it without error) whose Pongs answer Pings received and whose
//! Close carries the error's code; without keepalive, the events (streamed chunks merged per
//! message) are the same as when the input arrives in one piece; and the same chunks read as
//! a driver reads them (each in reads no larger than the room `input_buffer` offers) give
//! the same events (chunks merged), error and transmitted bytes.
#![no_main]

use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use realtime_fuzz::Plan;
use ws_proto::frame::MAX_HEADER_LEN;
use ws_proto::{
    Config, Connection, Event, Instant, Keepalive, Message, MessageKind, MessageMode,
    ProtocolError, SeededMasks,
};

/// What `pending_transmit` may exceed `max_send_buffer` by: an owed Pong, a keepalive Ping
/// written into an empty buffer, and a Close.
const SLACK: usize = 3 * (MAX_HEADER_LEN + 125);

/// An event with streamed chunks merged into the message they belong to.
#[derive(Debug, PartialEq)]
enum Merged {
    Message(MessageKind, Vec<u8>),
    Other(String),
}

struct Run {
    events: Vec<Event>,
    error: Option<ProtocolError>,
    transmitted: Vec<u8>,
    pings: Vec<Vec<u8>>,
}

fn run(config: &Config, chunks: &[&[u8]], flags: u8, step: Duration, reads: bool) -> Run {
    let drain_each = flags & 4 != 0;
    let mut now = Instant::ZERO;
    let mut conn = Connection::server(now, config.clone());
    let mut r = Run {
        events: Vec::new(),
        error: None,
        transmitted: Vec::new(),
        pings: Vec::new(),
    };
    let mut closed = false;
    // Streaming: (kind, size so far) of the message being streamed.
    let mut streaming: Option<(MessageKind, usize)> = None;

    let mut after_input = |conn: &mut Connection, r: &mut Run, closed: &mut bool, drain: bool| {
        while let Some(ev) = conn.poll_event() {
            assert!(!*closed, "event after Closed: {ev:?}");
            match &ev {
                Event::Message(m) => {
                    assert_eq!(config.mode, MessageMode::Assembled);
                    assert!(m.payload().len() <= config.max_message_size);
                    if let Message::Text(t) = m {
                        assert!(core::str::from_utf8(t.as_bytes()).is_ok());
                    }
                }
                Event::Chunk(c) => {
                    assert_eq!(config.mode, MessageMode::Streaming);
                    if c.kind == MessageKind::Text {
                        assert!(core::str::from_utf8(&c.data).is_ok(), "chunk not UTF-8");
                    }
                    let size = match streaming {
                        None => {
                            assert!(c.first, "{c:?} without a first chunk");
                            c.data.len()
                        }
                        Some((kind, size)) => {
                            assert!(!c.first);
                            assert_eq!(kind, c.kind);
                            size + c.data.len()
                        }
                    };
                    assert!(size <= config.max_message_size);
                    streaming = if c.last { None } else { Some((c.kind, size)) };
                }
                Event::Ping(p) => {
                    assert!(p.len() <= 125);
                    r.pings.push(p.to_vec());
                }
                Event::Pong(p) => assert!(p.len() <= 125),
                Event::CloseReceived(f) => {
                    if let Some(f) = f {
                        assert!(f.code.is_allowed_on_wire());
                        assert!(f.reason.len() <= 123);
                    }
                    // A closed message is never finished.
                    streaming = None;
                }
                Event::Closed(c) => {
                    *closed = true;
                    streaming = None;
                    if let Some(e) = &r.error {
                        assert_eq!(c.code, e.close_code());
                        assert!(!c.clean);
                    }
                }
                _ => {}
            }
            r.events.push(ev);
        }
        assert_eq!(conn.is_finished(), *closed, "is_finished vs Closed event");
        if *closed {
            assert_eq!(conn.poll_timeout(), None);
        }
        assert!(
            conn.pending_transmit() <= config.max_send_buffer + SLACK,
            "pending {} > limit {}",
            conn.pending_transmit(),
            config.max_send_buffer
        );
        if drain {
            while let Some(bytes) = conn.poll_transmit() {
                r.transmitted.extend_from_slice(&bytes);
            }
            assert_eq!(conn.pending_transmit(), 0);
        }
    };

    for chunk in chunks {
        now = now.saturating_add(step);
        let was_finished = conn.is_finished();
        let before = r.events.len();
        let result = if reads {
            // Reads of at most the room offered, as a socket read fills the spare capacity.
            let mut rest: &[u8] = chunk;
            let mut result = Ok(());
            loop {
                let buf = conn.input_buffer();
                let room = buf.capacity() - buf.len();
                assert!(room > 0, "input_buffer offers no room");
                let n = room.min(rest.len());
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                let r = conn.handle_input(now);
                if result.is_ok() {
                    result = r;
                }
                if rest.is_empty() {
                    break result;
                }
            }
        } else {
            conn.input_buffer().extend_from_slice(chunk);
            conn.handle_input(now)
        };
        match result {
            Ok(()) => {}
            Err(e) => {
                assert!(!was_finished, "error after finishing: {e:?}");
                assert!(r.error.is_none(), "second error {e:?}");
                let _ = e.to_string();
                r.error = Some(e);
            }
        }
        if let Some(t) = conn.poll_timeout() {
            if t <= now {
                conn.handle_timeout(now);
            }
        }
        conn.handle_timeout(now); // early calls are harmless
        after_input(&mut conn, &mut r, &mut closed, drain_each);
        if was_finished {
            assert_eq!(
                r.events.len(),
                before,
                "events after the connection finished"
            );
        }
        if r.error.is_some() {
            assert!(conn.is_finished());
        }
    }
    if flags & 8 != 0 {
        conn.handle_eof(now);
    }
    after_input(&mut conn, &mut r, &mut closed, true);
    if let Some(e) = &r.error {
        assert!(matches!(r.events.last(), Some(Event::Closed(c)) if c.code == e.close_code()));
    }
    r
}

fn merge(events: &[Event]) -> Vec<Merged> {
    let mut out = Vec::new();
    let mut partial: Option<(MessageKind, Vec<u8>)> = None;
    for ev in events {
        match ev {
            Event::Message(m) => out.push(Merged::Message(m.kind(), m.payload().to_vec())),
            Event::Chunk(c) => {
                let p = partial.get_or_insert_with(|| (c.kind, Vec::new()));
                p.1.extend_from_slice(&c.data);
                if c.last {
                    let (k, d) = partial.take().unwrap_or((c.kind, Vec::new()));
                    out.push(Merged::Message(k, d));
                }
            }
            other => {
                if matches!(other, Event::CloseReceived(_) | Event::Closed(_)) {
                    partial = None;
                }
                out.push(Merged::Other(format!("{other:?}")));
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut plan = Plan::new(data);
    let mut config = Config {
        max_frame_payload: usize::from(plan.u16()),
        max_message_size: usize::from(plan.u16()),
        max_fragments: usize::from(plan.u8()),
        max_send_buffer: usize::from(plan.u16()),
        ..Config::default()
    };
    let flags = plan.u8();
    if flags & 1 != 0 {
        config.mode = MessageMode::Streaming;
    }
    let (interval, timeout) = (plan.u8(), plan.u8());
    if flags & 2 != 0 {
        config.keepalive = Some(Keepalive {
            interval: Duration::from_millis(u64::from(interval)),
            timeout: Duration::from_millis(u64::from(timeout)),
        });
    }
    let step = Duration::from_millis(u64::from(plan.u8()));
    let (chunks, payload) = plan.chunks();

    let split = run(&config, &chunks, flags, step, false);
    let reads = run(&config, &chunks, flags, step, true);
    assert_eq!(split.error, reads.error, "reads: error");
    assert!(
        merge(&split.events) == merge(&reads.events),
        "reads: events"
    );
    assert!(split.transmitted == reads.transmitted, "reads: transmitted");

    // The server's output is a valid server stream: a client reads all of it.
    let mut client = Connection::client(Instant::ZERO, Config::default(), SeededMasks::new(1));
    client.input_buffer().extend_from_slice(&split.transmitted);
    client
        .handle_input(Instant::ZERO)
        .unwrap_or_else(|e| panic!("server wrote an invalid stream: {e}"));
    let mut pongs = Vec::new();
    let mut close = None;
    while let Some(ev) = client.poll_event() {
        match ev {
            Event::Pong(p) => pongs.push(p.to_vec()),
            Event::CloseReceived(f) => close = Some(f),
            Event::Ping(_) if config.keepalive.is_some() => {}
            Event::Closed(_) => {}
            other => panic!("server sent {other:?}"),
        }
    }
    // Pongs answer Pings: in order, a subsequence of the payloads received.
    let mut pings = split.pings.iter();
    for p in &pongs {
        assert!(pings.any(|q| q == p), "unsolicited or reordered pong {p:?}");
    }
    if let Some(e) = &split.error {
        let code = close.flatten().map(|f| f.code);
        assert_eq!(code, Some(e.close_code()), "close sent for {e:?}");
    }

    if config.keepalive.is_none() {
        let whole = run(&config, &[payload], flags & !4, Duration::ZERO, false);
        assert_eq!(split.error, whole.error);
        assert_eq!(merge(&split.events), merge(&whole.events));
    }
});
