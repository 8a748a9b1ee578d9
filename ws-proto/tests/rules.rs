//! One table case per RFC 6455 receive rule, each fed whole, one byte at a time, and split at
//! every position: every way must give the same events, the same error and the same Close.

mod support;

use support::*;
use ws_proto::close::ClosePayloadError;
use ws_proto::frame::FrameError;
use ws_proto::{
    CloseCode, CloseFrame, Config, Connection, Event, Instant, Message, ProtocolError, Role,
    SeededMasks,
};

/// What one run of a case produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    error: Option<ProtocolError>,
    sent: Vec<WireFrame>,
    finished: bool,
}

fn run(role: Role, config: &Config, pieces: &[&[u8]]) -> Outcome {
    let now = Instant::ZERO;
    let mut conn = match role {
        Role::Server => Connection::server(now, config.clone()),
        Role::Client => Connection::client(now, config.clone(), SeededMasks::new(1)),
    };
    let mut error = None;
    for piece in pieces {
        if let Err(e) = conn.feed_bytes(now, piece) {
            assert!(error.is_none(), "a second error after the first");
            error = Some(e);
        }
    }
    // Events first: a Close or a failure takes effect once the events before it are taken.
    let events = drain_events(&mut conn);
    let mut sent = parse_frames(&drain_transmit(&mut conn));
    for f in &mut sent {
        f.masked = false; // mask keys differ between runs only in the key, already removed
    }
    Outcome {
        events,
        error,
        sent,
        finished: conn.is_finished(),
    }
}

/// Run `input` whole, byte by byte, and split at every position; all must agree.
fn run_all_ways(role: Role, config: &Config, input: &[u8]) -> Outcome {
    let whole = run(role, config, &[input]);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(role, config, &bytes), whole, "byte at a time");
    for cut in 1..input.len() {
        let (a, b) = input.split_at(cut);
        assert_eq!(run(role, config, &[a, b]), whole, "split at {cut}");
    }
    whole
}

fn text(s: &str) -> Event {
    Event::Message(Message::text(s))
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

struct Case {
    name: &'static str,
    role: Role,
    input: Vec<u8>,
    /// Messages and other events expected before any failure (Closed excluded).
    events: Vec<Event>,
    error: Option<ProtocolError>,
    /// The close code we must send, if any.
    close: Option<u16>,
}

fn server_case(
    name: &'static str,
    input: Vec<u8>,
    events: Vec<Event>,
    error: Option<ProtocolError>,
) -> Case {
    let close = error.as_ref().map(|e| e.close_code().0);
    Case {
        name,
        role: Role::Server,
        input,
        events,
        error,
        close,
    }
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn receive_rules_table() {
    use ProtocolError as P;
    let key = Some([1, 2, 3, 4]);
    let cases = vec![
        server_case(
            "text",
            client_frame(true, 1, b"Hello"),
            vec![text("Hello")],
            None,
        ),
        server_case(
            "binary",
            client_frame(true, 2, &[0, 255, 7]),
            vec![Event::Message(Message::binary(vec![0u8, 255, 7]))],
            None,
        ),
        server_case(
            "empty text",
            client_frame(true, 1, b""),
            vec![text("")],
            None,
        ),
        server_case(
            "16-bit length",
            client_frame(true, 2, &[9u8; 300]),
            vec![Event::Message(Message::binary(vec![9u8; 300]))],
            None,
        ),
        server_case(
            "fragmented text",
            cat(&[
                client_frame(false, 1, b"Hel"),
                client_frame(false, 0, b""),
                client_frame(true, 0, b"lo"),
            ]),
            vec![text("Hello")],
            None,
        ),
        server_case(
            "ping between fragments",
            cat(&[
                client_frame(false, 1, b"a"),
                client_frame(true, 9, b"p"),
                client_frame(true, 0, b"b"),
            ]),
            vec![Event::Ping(b"p"[..].into()), text("ab")],
            None,
        ),
        server_case(
            "pong between fragments",
            cat(&[
                client_frame(false, 2, b"a"),
                client_frame(true, 10, b"q"),
                client_frame(true, 0, b"b"),
            ]),
            vec![
                Event::Pong(b"q"[..].into()),
                Event::Message(Message::binary(&b"ab"[..])),
            ],
            None,
        ),
        server_case(
            "utf-8 split across fragments is fine",
            cat(&[
                client_frame(false, 1, &[0xCE]),
                client_frame(true, 0, &[0xBA]),
            ]),
            vec![text("κ")],
            None,
        ),
        server_case(
            "reserved opcode 3",
            client_frame(true, 3, b""),
            vec![],
            Some(P::Frame(FrameError::ReservedOpcode(3))),
        ),
        server_case(
            "reserved opcode 0xB",
            client_frame(true, 0xB, b""),
            vec![],
            Some(P::Frame(FrameError::ReservedOpcode(0xB))),
        ),
        server_case(
            "reserved opcode after a message",
            cat(&[client_frame(true, 1, b"ok"), client_frame(true, 5, b"")]),
            vec![text("ok")],
            Some(P::Frame(FrameError::ReservedOpcode(5))),
        ),
        server_case(
            "rsv1 without extension",
            raw_frame(true, 4, 1, b"x", key, Len::Minimal),
            vec![],
            Some(P::ReservedBits(4)),
        ),
        server_case(
            "rsv2",
            raw_frame(true, 2, 2, b"x", key, Len::Minimal),
            vec![],
            Some(P::ReservedBits(2)),
        ),
        server_case(
            "rsv3 on ping",
            raw_frame(true, 1, 9, b"", key, Len::Minimal),
            vec![],
            Some(P::ReservedBits(1)),
        ),
        server_case(
            "unmasked to server",
            server_frame(true, 1, b"hi"),
            vec![],
            Some(P::UnmaskedFrame),
        ),
        server_case(
            "non-minimal 16-bit",
            raw_frame(true, 0, 2, b"abc", key, Len::Force16),
            vec![],
            Some(P::Frame(FrameError::NonMinimalLength)),
        ),
        server_case(
            "non-minimal 64-bit",
            raw_frame(true, 0, 2, b"abc", key, Len::Force64),
            vec![],
            Some(P::Frame(FrameError::NonMinimalLength)),
        ),
        server_case(
            "64-bit top bit",
            raw_frame(true, 0, 2, b"", key, Len::Declared(1 << 63)),
            vec![],
            Some(P::Frame(FrameError::LengthTopBitSet)),
        ),
        server_case(
            "fragmented ping",
            client_frame(false, 9, b""),
            vec![],
            Some(P::Frame(FrameError::FragmentedControlFrame)),
        ),
        server_case(
            "ping of 126 bytes",
            client_frame(true, 9, &[0u8; 126]),
            vec![],
            Some(P::Frame(FrameError::ControlFrameTooLong(126))),
        ),
        server_case(
            "continuation without message",
            client_frame(true, 0, b"x"),
            vec![],
            Some(P::UnexpectedContinuation),
        ),
        server_case(
            "text inside fragmented message",
            cat(&[client_frame(false, 1, b"a"), client_frame(true, 1, b"b")]),
            vec![],
            Some(P::ExpectedContinuation),
        ),
        server_case(
            "invalid utf-8",
            client_frame(true, 1, &[b'a', 0xFF, b'b']),
            vec![],
            Some(P::InvalidUtf8),
        ),
        server_case(
            "surrogate",
            client_frame(true, 1, &[0xED, 0xA0, 0x80]),
            vec![],
            Some(P::InvalidUtf8),
        ),
        server_case(
            "ends inside a code point",
            client_frame(true, 1, &[b'a', 0xCE]),
            vec![],
            Some(P::InvalidUtf8),
        ),
        server_case(
            "invalid utf-8 in a later fragment",
            cat(&[
                client_frame(false, 1, b"ok"),
                client_frame(true, 0, &[0xC0, 0x80]),
            ]),
            vec![],
            Some(P::InvalidUtf8),
        ),
        server_case(
            "close 1000",
            client_frame(true, 8, &close_payload(1000, b"bye")),
            vec![Event::CloseReceived(Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: "bye".into(),
            }))],
            None,
        ),
        server_case(
            "close empty",
            client_frame(true, 8, b""),
            vec![Event::CloseReceived(None)],
            None,
        ),
        server_case(
            "close 1-byte payload",
            client_frame(true, 8, &[3]),
            vec![],
            Some(P::InvalidClose(ClosePayloadError::OneByte)),
        ),
        server_case(
            "close code 999",
            client_frame(true, 8, &close_payload(999, b"")),
            vec![],
            Some(P::InvalidClose(ClosePayloadError::InvalidCode(999))),
        ),
        server_case(
            "close code 1005",
            client_frame(true, 8, &close_payload(1005, b"")),
            vec![],
            Some(P::InvalidClose(ClosePayloadError::InvalidCode(1005))),
        ),
        server_case(
            "close code 5000",
            client_frame(true, 8, &close_payload(5000, b"")),
            vec![],
            Some(P::InvalidClose(ClosePayloadError::InvalidCode(5000))),
        ),
        server_case(
            "close reason not utf-8",
            client_frame(true, 8, &close_payload(1000, &[0xFF])),
            vec![],
            Some(P::InvalidClose(ClosePayloadError::InvalidReason)),
        ),
        Case {
            name: "masked frame to client",
            role: Role::Client,
            input: client_frame(true, 1, b"x"),
            events: vec![],
            error: Some(P::MaskedFrame),
            close: Some(1002),
        },
        Case {
            name: "client receives text",
            role: Role::Client,
            input: server_frame(true, 1, b"x"),
            events: vec![text("x")],
            error: None,
            close: None,
        },
    ];
    let config = Config::default();
    for case in cases {
        let out = run_all_ways(case.role, &config, &case.input);
        let mut events = out.events.clone();
        let closed = matches!(events.last(), Some(Event::Closed(_)));
        if closed {
            events.pop();
        }
        assert_eq!(events, case.events, "{}: events", case.name);
        assert_eq!(out.error, case.error, "{}: error", case.name);
        if let Some(code) = case.close {
            let last = out
                .sent
                .last()
                .unwrap_or_else(|| panic!("{}: nothing sent", case.name));
            assert_eq!(
                last.payload[..2],
                code.to_be_bytes(),
                "{}: close code",
                case.name
            );
            assert!(
                out.finished && closed,
                "{}: a failed connection is finished",
                case.name
            );
        }
        if case.error.is_some() && case.role == Role::Server {
            // Nothing after the offending frame is read: more input changes nothing.
            let mut conn = Connection::server(Instant::ZERO, config.clone());
            let _ = conn.feed_bytes(Instant::ZERO, &case.input);
            drain_transmit(&mut conn);
            drain_events(&mut conn);
            assert_eq!(
                conn.feed_bytes(Instant::ZERO, &client_frame(true, 1, b"late")),
                Ok(())
            );
            assert!(
                drain_events(&mut conn).is_empty(),
                "{}: input after failure ignored",
                case.name
            );
        }
    }
}

#[test]
fn invalid_utf8_fails_inside_a_partial_frame() {
    // A 1000-byte text frame whose 5th byte is invalid: fail after 10 bytes of payload,
    // long before the frame ends (Autobahn 6.4.x "fail fast").
    let mut payload = vec![b'a'; 1000];
    payload[4] = 0xFF;
    let frame = client_frame(true, 1, &payload);
    let mut conn = Connection::server(Instant::ZERO, Config::default());
    let err = conn.feed_bytes(Instant::ZERO, &frame[..8 + 10]);
    assert_eq!(err, Err(ProtocolError::InvalidUtf8));
    assert_eq!(
        sent_close_code(&drain_events_then_transmit(&mut conn).1),
        Some(1007)
    );

    // A code point that can never complete (F4 90 is above U+10FFFF) fails at its second byte.
    let frame = client_frame(true, 1, &[b'x', 0xF4, 0x90, 0x80, 0x80]);
    let mut conn = Connection::server(Instant::ZERO, Config::default());
    assert_eq!(
        conn.feed_bytes(Instant::ZERO, &frame[..6 + 3]),
        Err(ProtocolError::InvalidUtf8)
    );

    // A valid prefix of a code point is not an error yet.
    let frame = client_frame(true, 1, &[b'x', 0xF0, 0x9F, 0x98, 0x80]);
    let mut conn = Connection::server(Instant::ZERO, Config::default());
    assert_eq!(conn.feed_bytes(Instant::ZERO, &frame[..6 + 3]), Ok(()));
    assert_eq!(conn.feed_bytes(Instant::ZERO, &frame[6 + 3..]), Ok(()));
    assert_eq!(drain_events(&mut conn), vec![text("x😀")]);
}

#[test]
fn limits_have_their_own_errors() {
    let small = Config {
        max_frame_payload: 100,
        max_message_size: 150,
        max_fragments: 3,
        ..Config::default()
    };
    let cases: Vec<(&str, Vec<u8>, ProtocolError)> = vec![
        (
            "frame over max_frame_payload",
            client_frame(true, 2, &[0; 101]),
            ProtocolError::FrameTooLarge {
                len: 101,
                limit: 100,
            },
        ),
        (
            "message over max_message_size",
            cat(&[
                client_frame(false, 2, &[0; 100]),
                client_frame(true, 0, &[0; 51]),
            ]),
            ProtocolError::MessageTooLarge { limit: 150 },
        ),
        (
            "fragments over max_fragments",
            cat(&[
                client_frame(false, 2, b""),
                client_frame(false, 0, b""),
                client_frame(false, 0, b""),
                client_frame(true, 0, b""),
            ]),
            ProtocolError::TooManyFragments { limit: 3 },
        ),
    ];
    for (name, input, want) in cases {
        let out = run_all_ways(Role::Server, &small, &input);
        assert_eq!(out.error, Some(want), "{name}");
        assert_eq!(
            out.sent.last().map(|f| f.payload[..2].to_vec()),
            Some(1009u16.to_be_bytes().to_vec()),
            "{name}"
        );
    }
    // Exactly at the limits is fine.
    let ok = cat(&[
        client_frame(false, 2, &[1; 100]),
        client_frame(false, 0, &[2; 49]),
        client_frame(true, 0, &[3; 1]),
    ]);
    let out = run_all_ways(Role::Server, &small, &ok);
    assert_eq!(out.error, None);
    assert_eq!(out.events.len(), 1);
}

#[test]
fn ping_is_answered_with_its_payload() {
    let out = run_all_ways(
        Role::Server,
        &Config::default(),
        &client_frame(true, 9, b"are you there"),
    );
    assert_eq!(out.sent.len(), 1);
    assert_eq!(out.sent[0].opcode, ws_proto::frame::Opcode::Pong);
    assert_eq!(out.sent[0].payload, b"are you there");
    assert_eq!(out.events, vec![Event::Ping(b"are you there"[..].into())]);
}
