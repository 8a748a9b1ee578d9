//! A client and a server `Connection` driven by an arbitrary sequence of operations: sends
//! (whole, owned or borrowed, streamed in pieces with `send_stream`,
//! text split inside code points, arbitrary bytes as text pieces), pings, closes, partial
//! delivery of bytes in either direction, time passing and EOF. Small limits on both sides.
//!
//! Invariants, checked after every operation: no panic; a send that fails says why and the
//! reason holds (closing, message in progress, a text piece that would make the message
//! invalid UTF-8 and only then, buffer full only when the buffer is not empty and would pass
//! its limit, control payload too long, invalid close code or reason); a send into a
//! non-empty buffer never takes it past `max_send_buffer`; a piece of the other kind than the
//! message in progress is refused and changes nothing; what each side receives is
//! exactly what the other sent, in order (a receiver only fails with a size limit error,
//! and only for a message that breaks that limit); a Close received is the one the peer sent
//! (its own, its echo, or its error's code); Pongs answer Pings received, in order; `Closed`
//! comes once, last. After a final full exchange, a receiver still reading (or that got the
//! peer's Close) has received every message, and the last Ping a still-open side received
//! is answered.
#![no_main]

use arbitrary::Arbitrary;
use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use ws_proto::frame::MAX_HEADER_LEN;
use ws_proto::{
    CloseCode, CloseFrame, Config, Connection, Event, Instant, Keepalive, Message, MessageKind,
    MessageMode, MessageRef, ProtocolError, SeededMasks, SendError,
};

const CODES: [u16; 12] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 1014, 3000, 4999, 1005,
];

/// What `pending_transmit` may exceed its bound by: an owed Pong, a keepalive Ping, a Close.
const SLACK: usize = 3 * (MAX_HEADER_LEN + 125);

#[derive(Arbitrary, Debug)]
struct Limits {
    max_frame_payload: u16,
    max_message_size: u16,
    max_fragments: u8,
    max_send_buffer: u16,
    streaming: bool,
    max_send_frame: Option<u8>,
    keepalive: Option<(u8, u8)>,
    close_timeout_ms: u8,
}

impl Limits {
    fn config(&self) -> Config {
        Config {
            max_frame_payload: usize::from(self.max_frame_payload % 1024),
            max_message_size: usize::from(self.max_message_size % 2048),
            max_fragments: usize::from(self.max_fragments % 32),
            max_send_buffer: usize::from(self.max_send_buffer % 4096),
            mode: if self.streaming {
                MessageMode::Streaming
            } else {
                MessageMode::Assembled
            },
            close_timeout: Duration::from_millis(u64::from(self.close_timeout_ms)),
            keepalive: self.keepalive.map(|(i, t)| Keepalive {
                interval: Duration::from_millis(u64::from(i) * 10),
                timeout: Duration::from_millis(u64::from(t) * 10),
            }),
            max_send_frame: self.max_send_frame.map(usize::from),
            ..Config::default()
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Text {
        client: bool,
        text: String,
    },
    Binary {
        client: bool,
        data: Vec<u8>,
    },
    /// One piece of a streamed message: `text` is used if the message is text, unless `raw`.
    Chunk {
        client: bool,
        is_text: bool,
        raw: bool,
        text: String,
        data: Vec<u8>,
        last: bool,
    },
    /// A whole text message sent as pieces split at arbitrary bytes (inside code points).
    TextSplit {
        client: bool,
        text: String,
        cuts: Vec<u8>,
    },
    Ping {
        client: bool,
        payload: Vec<u8>,
    },
    Close {
        client: bool,
        code: u8,
        raw: u16,
        reason: String,
    },
    Deliver {
        to_server: bool,
        n: u16,
    },
    Advance {
        ms: u16,
    },
    Eof {
        server: bool,
    },
    /// A whole message sent borrowed (`&str`, `&[u8]`) rather than owned.
    Direct {
        client: bool,
        is_text: bool,
        text: String,
        data: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    client: Limits,
    server: Limits,
    seed: u64,
    ops: Vec<Op>,
}

/// A message as sent: kind, payload and the payload size of each frame.
#[derive(Debug, Clone)]
struct Sent {
    kind: MessageKind,
    data: Vec<u8>,
    frames: Vec<usize>,
}

impl Sent {
    /// Whether a receiver with `c` must refuse it.
    fn breaks(&self, c: &Config) -> bool {
        self.data.len() > c.max_message_size
            || self.frames.len() > c.max_fragments
            || self.frames.iter().any(|&f| f > c.max_frame_payload)
    }
}

struct Side {
    conn: Connection,
    config: Config,
    /// Completed messages sent and not yet received by the peer.
    sent: std::collections::VecDeque<Sent>,
    /// A streamed message being sent.
    in_progress: Option<Sent>,
    /// Bytes transmitted, not yet delivered to the peer.
    wire: Vec<u8>,
    /// The Close this side sent (its own, an echo, or its error's): code and reason.
    close_sent: Option<(Option<u16>, String)>,
    finished: bool,
    got_close: bool,
    failed: bool,
    pings_received: Vec<Vec<u8>>,
    pongs_received: Vec<Vec<u8>>,
    /// The message being received in streaming mode.
    receiving: Option<(MessageKind, Vec<u8>)>,
    /// Largest send into an empty buffer: `pending_transmit` may reach it.
    cap: usize,
}

impl Side {
    fn new(conn: Connection, config: Config) -> Self {
        let cap = config.max_send_buffer;
        Side {
            conn,
            config,
            sent: Default::default(),
            in_progress: None,
            wire: Vec::new(),
            close_sent: None,
            finished: false,
            got_close: false,
            failed: false,
            pings_received: Vec::new(),
            pongs_received: Vec::new(),
            receiving: None,
            cap,
        }
    }

    fn can_send(&self) -> bool {
        !self.finished && self.close_sent.is_none()
    }

    fn pull(&mut self) {
        while let Some(bytes) = self.conn.poll_transmit() {
            self.wire.extend_from_slice(&bytes);
        }
    }

    fn check_pending(&self) {
        let p = self.conn.pending_transmit();
        assert!(
            p <= self.cap + SLACK,
            "pending {p} over {} + slack",
            self.cap
        );
    }
}

/// The frames `Connection::send` splits a payload into.
fn frames_of(len: usize, max_send_frame: Option<usize>) -> Vec<usize> {
    match max_send_frame.filter(|&n| n > 0 && n < len) {
        None => vec![len],
        Some(n) => (0..len.div_ceil(n)).map(|i| n.min(len - i * n)).collect(),
    }
}

/// Checks the outcome of a send against the model; returns whether it was queued.
fn check_send(
    side: &mut Side,
    before: usize,
    additional: usize,
    result: Result<(), SendError>,
) -> bool {
    let limit = side.config.max_send_buffer;
    match result {
        Ok(()) => {
            assert!(side.can_send(), "send accepted while closing");
            let after = side.conn.pending_transmit();
            if before > 0 {
                assert!(
                    after <= limit,
                    "send took pending {before} -> {after} past {limit}"
                );
            } else {
                side.cap = side.cap.max(after);
            }
            true
        }
        Err(SendError::Closing) => {
            assert!(!side.can_send(), "Closing while open");
            false
        }
        Err(SendError::BufferFull { pending, limit: l }) => {
            assert!(side.can_send());
            assert_eq!((pending, l), (before, limit));
            assert!(
                pending > 0 && pending + additional > limit,
                "unjustified BufferFull"
            );
            assert_eq!(
                side.conn.pending_transmit(),
                before,
                "a refused send changed the buffer"
            );
            false
        }
        Err(e) => {
            assert!(side.can_send(), "{e:?} while closing");
            false
        }
    }
}

/// Drains `rx`'s events, checking them against what `tx` sent. `err` is what `rx`'s last
/// `handle_input` returned.
fn receive(tx: &mut Side, rx: &mut Side, err: Option<ProtocolError>) {
    while let Some(ev) = rx.conn.poll_event() {
        assert!(!rx.finished, "event after Closed: {ev:?}");
        match ev {
            Event::Message(m) => {
                assert_eq!(rx.config.mode, MessageMode::Assembled);
                let want = tx.sent.pop_front().expect("a message nobody sent");
                assert!(!want.breaks(&rx.config), "limits not enforced on {want:?}");
                assert_eq!(m.kind(), want.kind);
                assert_eq!(m.payload(), &want.data[..]);
                if let Message::Text(t) = &m {
                    assert!(core::str::from_utf8(t.as_bytes()).is_ok());
                }
            }
            Event::Chunk(c) => {
                assert_eq!(rx.config.mode, MessageMode::Streaming);
                assert_eq!(c.first, rx.receiving.is_none());
                let r = rx.receiving.get_or_insert_with(|| (c.kind, Vec::new()));
                assert_eq!(r.0, c.kind);
                if c.kind == MessageKind::Text {
                    assert!(core::str::from_utf8(&c.data).is_ok());
                }
                r.1.extend_from_slice(&c.data);
                assert!(r.1.len() <= rx.config.max_message_size);
                if c.last {
                    let (kind, data) = rx.receiving.take().unwrap_or((c.kind, Vec::new()));
                    let want = tx.sent.pop_front().expect("a message nobody sent");
                    assert!(!want.breaks(&rx.config), "limits not enforced on {want:?}");
                    assert_eq!((kind, &data[..]), (want.kind, &want.data[..]));
                }
            }
            Event::Ping(p) => rx.pings_received.push(p.to_vec()),
            Event::Pong(p) => {
                rx.pongs_received.push(p.to_vec());
                // Pongs answer Pings the peer received, in order.
                let mut pings = tx.pings_received.iter();
                for q in &rx.pongs_received {
                    assert!(pings.any(|x| x == q), "unsolicited pong {q:?}");
                }
            }
            Event::CloseReceived(f) => {
                assert!(!rx.got_close);
                rx.got_close = true;
                rx.receiving = None;
                let got = f.map(|CloseFrame { code, reason }| (code.0, reason));
                let want = tx.close_sent.clone().expect("a Close the peer never sent");
                assert_eq!(got.as_ref().map(|g| g.0), want.0);
                assert_eq!(got.map_or(String::new(), |g| g.1), want.1);
                if rx.can_send() {
                    rx.close_sent = Some((want.0, String::new())); // the echo
                }
            }
            Event::Closed(_) => {
                rx.finished = true;
                rx.receiving = None;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Judged after the events: messages before the failing one were delivered first.
    if let Some(e) = err {
        assert!(!rx.failed, "second error {e:?}");
        let candidate = tx.sent.front().or(tx.in_progress.as_ref());
        let justified = matches!(
            e,
            ProtocolError::FrameTooLarge { .. }
                | ProtocolError::MessageTooLarge { .. }
                | ProtocolError::TooManyFragments { .. }
        ) && candidate.is_some_and(|m| m.breaks(&rx.config));
        assert!(justified, "unjustified {e:?}; next message {candidate:?}");
        rx.failed = true;
        if rx.close_sent.is_none() {
            rx.close_sent = Some((Some(e.close_code().0), String::new()));
        }
    }
    assert_eq!(rx.conn.is_finished(), rx.finished);
    rx.check_pending();
}

fn side_mut<'a>(client: bool, c: &'a mut Side, s: &'a mut Side) -> (&'a mut Side, &'a mut Side) {
    if client {
        (c, s)
    } else {
        (s, c)
    }
}

/// Moves up to `n` bytes from `tx` to `rx`.
fn deliver(tx: &mut Side, rx: &mut Side, n: usize, now: Instant) {
    tx.pull();
    let n = n.min(tx.wire.len());
    let bytes: Vec<u8> = tx.wire.drain(..n).collect();
    let was_finished = rx.finished;
    rx.conn.input_buffer().extend_from_slice(&bytes);
    let err = rx.conn.handle_input(now).err();
    if was_finished {
        assert!(err.is_none());
        assert!(rx.conn.poll_event().is_none(), "events after finishing");
    }
    receive(tx, rx, err);
    // The receiver may have queued Pongs and a Close: its own sender view must stay sane.
}

fn run(input: Input) {
    let mut now = Instant::ZERO;
    let ccfg = input.client.config();
    let scfg = input.server.config();
    let mut c = Side::new(
        Connection::client(now, ccfg.clone(), SeededMasks::new(input.seed)),
        ccfg,
    );
    let mut s = Side::new(Connection::server(now, scfg.clone()), scfg);

    for op in input.ops {
        match op {
            Op::Text { client, text } => {
                let (tx, rx) = side_mut(client, &mut c, &mut s);
                let frames = frames_of(text.len(), tx.config.max_send_frame);
                let before = tx.conn.pending_transmit();
                let add = text.len() + frames.len() * MAX_HEADER_LEN;
                let in_progress = tx.in_progress.is_some();
                let r = tx.conn.send(now, Message::text(&text));
                if in_progress && tx.can_send() {
                    assert_eq!(r, Err(SendError::MessageInProgress));
                }
                if check_send(tx, before, add, r) {
                    tx.sent.push_back(Sent {
                        kind: MessageKind::Text,
                        data: text.into_bytes(),
                        frames,
                    });
                }
                let _ = rx;
            }
            Op::Binary { client, data } => {
                let (tx, _) = side_mut(client, &mut c, &mut s);
                let frames = frames_of(data.len(), tx.config.max_send_frame);
                let before = tx.conn.pending_transmit();
                let add = data.len() + frames.len() * MAX_HEADER_LEN;
                let in_progress = tx.in_progress.is_some();
                let r = tx.conn.send(now, Message::binary(data.clone()));
                if in_progress && tx.can_send() {
                    assert_eq!(r, Err(SendError::MessageInProgress));
                }
                if check_send(tx, before, add, r) {
                    tx.sent.push_back(Sent {
                        kind: MessageKind::Binary,
                        data,
                        frames,
                    });
                }
            }
            Op::Direct {
                client,
                is_text,
                text,
                data,
            } => {
                let (tx, _) = side_mut(client, &mut c, &mut s);
                let (message, kind) = if is_text {
                    (MessageRef::Text(&text), MessageKind::Text)
                } else {
                    (MessageRef::Binary(&data), MessageKind::Binary)
                };
                let payload = message.payload().to_vec();
                let frames = frames_of(payload.len(), tx.config.max_send_frame);
                let before = tx.conn.pending_transmit();
                let add = payload.len() + frames.len() * MAX_HEADER_LEN;
                let in_progress = tx.in_progress.is_some();
                let r = tx.conn.send(now, message);
                if in_progress && tx.can_send() {
                    assert_eq!(r, Err(SendError::MessageInProgress));
                }
                if check_send(tx, before, add, r) {
                    tx.sent.push_back(Sent {
                        kind,
                        data: payload,
                        frames,
                    });
                }
            }
            Op::Chunk {
                client,
                is_text,
                raw,
                text,
                data,
                last,
            } => {
                let (tx, _) = side_mut(client, &mut c, &mut s);
                send_piece(
                    tx,
                    now,
                    is_text,
                    if is_text_msg(tx, is_text) && !raw {
                        text.as_bytes()
                    } else {
                        &data
                    },
                    last,
                );
            }
            Op::TextSplit { client, text, cuts } => {
                let (tx, _) = side_mut(client, &mut c, &mut s);
                if tx.in_progress.is_some() && !is_text_msg(tx, true) {
                    continue;
                }
                let bytes = text.as_bytes();
                let mut cuts: Vec<usize> = cuts
                    .iter()
                    .map(|&x| usize::from(x) % (bytes.len() + 1))
                    .collect();
                cuts.sort_unstable();
                cuts.push(bytes.len());
                let mut at = 0;
                for (i, &cut) in cuts.iter().enumerate() {
                    let last = i + 1 == cuts.len();
                    if !send_piece(tx, now, true, &bytes[at..cut], last) {
                        break;
                    }
                    at = cut;
                }
            }
            Op::Ping { client, payload } => {
                let (tx, _) = side_mut(client, &mut c, &mut s);
                let before = tx.conn.pending_transmit();
                let r = tx.conn.ping(now, &payload);
                if payload.len() > 125 && tx.can_send() {
                    assert_eq!(r, Err(SendError::ControlPayloadTooLong(payload.len())));
                }
                check_send(tx, before, payload.len() + MAX_HEADER_LEN, r);
            }
            Op::Close {
                client,
                code,
                raw,
                reason,
            } => {
                let (tx, _) = side_mut(client, &mut c, &mut s);
                let code = CloseCode(CODES.get(usize::from(code)).copied().unwrap_or(raw));
                let before = tx.conn.pending_transmit();
                let r = tx.conn.close(now, code, &reason);
                let can = tx.can_send();
                match &r {
                    Ok(()) => {
                        assert!(can && code.is_allowed_on_wire() && reason.len() <= 123);
                        // A message being streamed stays `in_progress`: its frames already
                        // sent may still make the receiver fail on a limit.
                        tx.close_sent = Some((Some(code.0), reason.clone()));
                    }
                    Err(SendError::Closing) => assert!(!can),
                    Err(SendError::InvalidCloseCode(x)) => {
                        assert!(can && !code.is_allowed_on_wire() && *x == code.0)
                    }
                    Err(SendError::CloseReasonTooLong(n)) => {
                        assert!(can && *n == reason.len() && *n > 123)
                    }
                    Err(e) => panic!("close: {e:?}"),
                }
                let _ = before;
                tx.check_pending();
            }
            Op::Deliver { to_server, n } => {
                let (tx, rx) = side_mut(!to_server, &mut c, &mut s);
                deliver(tx, rx, usize::from(n), now);
            }
            Op::Advance { ms } => {
                now = now.saturating_add(Duration::from_millis(u64::from(ms)));
                c.conn.handle_timeout(now);
                receive(&mut s, &mut c, None);
                s.conn.handle_timeout(now);
                receive(&mut c, &mut s, None);
            }
            Op::Eof { server } => {
                let (me, peer) = side_mut(!server, &mut c, &mut s);
                me.conn.handle_eof(now);
                receive(peer, me, None);
                assert!(me.finished);
            }
        }
        c.check_pending();
        s.check_pending();
    }

    // Final exchange: deliver everything both ways until nothing moves.
    for _ in 0..64 {
        deliver(&mut c, &mut s, usize::MAX, now);
        deliver(&mut s, &mut c, usize::MAX, now);
        if c.conn.pending_transmit() == 0 && s.conn.pending_transmit() == 0 {
            break;
        }
    }
    for (tx, rx) in [(&c, &s), (&s, &c)] {
        if rx.got_close || !rx.finished {
            assert!(tx.sent.is_empty(), "messages lost: {:?}", tx.sent);
        }
        // The last Ping received by a still-open side is answered.
        if let Some(last) = rx.pings_received.last() {
            if rx.can_send() && !tx.finished {
                assert_eq!(tx.pongs_received.last(), Some(last), "last ping unanswered");
            }
        }
    }
}

fn is_text_msg(tx: &Side, is_text: bool) -> bool {
    match &tx.in_progress {
        Some(m) => m.kind == MessageKind::Text,
        None => is_text,
    }
}

/// Send one piece with `send_stream` (of the kind of the message in progress, if any, after
/// checking that the other kind is refused); returns whether it was queued.
fn send_piece(tx: &mut Side, now: Instant, is_text: bool, data: &[u8], last: bool) -> bool {
    let asked = if is_text {
        MessageKind::Text
    } else {
        MessageKind::Binary
    };
    let before = tx.conn.pending_transmit();
    let kind = match &tx.in_progress {
        Some(m) if m.kind != asked && tx.can_send() => {
            // A piece of another kind is another message: refused, nothing changes.
            let mut stream = tx.conn.send_stream(asked);
            assert!(!stream.is_started());
            assert_eq!(stream.write(now, data), Err(SendError::MessageInProgress));
            assert_eq!(tx.conn.pending_transmit(), before);
            m.kind
        }
        Some(m) => m.kind,
        None => asked,
    };
    let stream = tx.conn.send_stream(kind);
    let r = if last {
        stream.finish(now, data)
    } else {
        let mut stream = stream;
        stream.write(now, data)
    };
    // A text message must stay valid UTF-8 (or a prefix of it, until the last piece).
    if tx.can_send() && is_text_msg(tx, is_text) {
        let mut whole = tx
            .in_progress
            .as_ref()
            .map_or(Vec::new(), |m| m.data.clone());
        whole.extend_from_slice(data);
        let valid = match core::str::from_utf8(&whole) {
            Ok(_) => true,
            Err(e) => !last && e.error_len().is_none(),
        };
        assert_eq!(
            r == Err(SendError::InvalidUtf8),
            !valid,
            "text piece {data:?} after {:?}, last {last}: {r:?}",
            tx.in_progress
        );
    }
    if !check_send(tx, before, data.len() + MAX_HEADER_LEN, r) {
        return false;
    }
    let m = tx.in_progress.get_or_insert_with(|| Sent {
        kind,
        data: Vec::new(),
        frames: Vec::new(),
    });
    m.data.extend_from_slice(data);
    m.frames.push(data.len());
    if last {
        let m = tx.in_progress.take().expect("just set");
        tx.sent.push_back(m);
    }
    true
}

fuzz_target!(|input: Input| run(input));
