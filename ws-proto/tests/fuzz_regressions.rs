//! Regression tests for inputs found by the cargo-fuzz targets in `fuzz/` (see
//! `fuzz/README.md`). Each names the target that found it.

use core::time::Duration;
use ws_proto::frame::{FrameError, FrameHeader, Status};
use ws_proto::{
    CloseCode, CloseFrame, Closed, Config, Connection, Event, Instant, Keepalive, ProtocolError,
    SeededMasks,
};

/// Control frames (ping, close) whose length uses an extended length field: too long
/// whatever the field holds, even when it is not minimal or has its top bit set.
const EXTENDED_LENGTH_CONTROL_FRAMES: &[&[u8]] = &[
    // Ping, 64-bit length with the top bit set (found by `ws_server_connection`: whole it
    // failed with LengthTopBitSet, split after 2 bytes with ControlFrameTooLong(127)).
    &[0x89, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
    // Ping, 16-bit length 16 (not minimal): NonMinimalLength vs ControlFrameTooLong(126).
    &[0x89, 0xFE, 0x00, 0x10, 1, 2, 3, 4],
    // Ping, 16-bit length 300: ControlFrameTooLong(300) vs ControlFrameTooLong(126).
    &[0x89, 0xFE, 0x01, 0x2C, 1, 2, 3, 4],
    // Close, 64-bit length 70 000: ControlFrameTooLong(70000) vs ControlFrameTooLong(127).
    &[0x88, 0xFF, 0, 0, 0, 0, 0, 1, 0x11, 0x70, 1, 2, 3, 4],
];

#[test]
fn control_frame_length_error_does_not_depend_on_chunking() {
    for bytes in EXTENDED_LENGTH_CONTROL_FRAMES {
        let whole = FrameHeader::decode(bytes);
        assert!(
            matches!(whole, Err(FrameError::ControlFrameTooLong(_))),
            "{bytes:02x?}: {whole:?}"
        );
        for cut in 0..bytes.len() {
            let prefix = FrameHeader::decode(&bytes[..cut]);
            assert!(
                prefix == Ok(Status::Partial) || prefix == whole,
                "{bytes:02x?}: prefix of {cut} bytes gives {prefix:?}, whole gives {whole:?}"
            );
        }
    }
}

#[test]
fn connection_reports_the_same_control_frame_error_however_split() {
    for bytes in EXTENDED_LENGTH_CONTROL_FRAMES {
        let whole = read(
            &mut Connection::server(Instant::ZERO, Config::default()),
            Instant::ZERO,
            bytes,
        )
        .unwrap_err();
        assert!(
            matches!(
                whole,
                ProtocolError::Frame(FrameError::ControlFrameTooLong(_))
            ),
            "{whole:?}"
        );
        for cut in 1..bytes.len() {
            let mut conn = Connection::server(Instant::ZERO, Config::default());
            let split = read(&mut conn, Instant::ZERO, &bytes[..cut])
                .and_then(|()| read(&mut conn, Instant::ZERO, &bytes[cut..]))
                .unwrap_err();
            assert_eq!(split, whole, "{bytes:02x?} split at {cut}");
        }
    }
}

/// Drains every event, checking `Closed` comes exactly once and last; returns them.
fn drain_events(conn: &mut Connection) -> Vec<Event> {
    let events: Vec<Event> = core::iter::from_fn(|| conn.poll_event()).collect();
    let closed = events
        .iter()
        .filter(|e| matches!(e, Event::Closed(_)))
        .count();
    assert!(closed <= 1, "{closed} Closed events: {events:?}");
    if closed == 1 {
        assert!(
            matches!(events.last(), Some(Event::Closed(_))),
            "Closed is not last: {events:?}"
        );
    }
    events
}

fn transmitted(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(bytes) = conn.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    out
}

/// A read of `bytes` from the transport: into the input buffer, then `handle_input`.
fn read(conn: &mut Connection, now: Instant, bytes: &[u8]) -> Result<(), ProtocolError> {
    conn.input_buffer().extend_from_slice(bytes);
    conn.handle_input(now)
}

/// Found by `ws_server_connection`: a protocol error takes effect when `poll_event` reaches
/// it; EOF arriving before the driver drained the events finished the connection with 1006,
/// then the queued failure emitted a second `Closed` (1002) and its Close frame was never
/// queued.
#[test]
fn eof_before_the_events_of_a_protocol_error_are_taken() {
    let now = Instant::ZERO;
    let mut server = Connection::server(now, Config::default());
    // An unmasked frame from a client.
    let err = read(&mut server, now, &[0x81, 0x00]).unwrap_err();
    assert_eq!(err, ProtocolError::UnmaskedFrame);
    server.handle_eof(now);
    let events = drain_events(&mut server);
    assert_eq!(
        events.last(),
        Some(&Event::Closed(Closed {
            code: CloseCode::PROTOCOL_ERROR,
            reason: String::new(),
            clean: false,
        })),
        "{events:?}"
    );
    assert!(server.is_finished());
    assert_eq!(transmitted(&mut server), [0x88, 0x02, 0x03, 0xEA]);
}

/// Found by `ws_server_connection`: the same with a keepalive timeout that is due when the
/// driver calls `handle_timeout` before draining the events.
#[test]
fn timeout_before_the_events_of_a_protocol_error_are_taken() {
    let now = Instant::ZERO;
    let config = Config {
        keepalive: Some(Keepalive {
            interval: Duration::from_millis(10),
            timeout: Duration::from_millis(20),
        }),
        ..Config::default()
    };
    let mut server = Connection::server(now, config);
    let err = read(&mut server, now, &[0x81, 0x00]).unwrap_err();
    assert_eq!(err, ProtocolError::UnmaskedFrame);
    server.handle_timeout(Instant::from_millis(1000));
    let events = drain_events(&mut server);
    assert_eq!(
        events.last(),
        Some(&Event::Closed(Closed {
            code: CloseCode::PROTOCOL_ERROR,
            reason: String::new(),
            clean: false,
        })),
        "{events:?}"
    );
    assert_eq!(transmitted(&mut server), [0x88, 0x02, 0x03, 0xEA]);
}

/// Found by `ws_server_connection`: a client that received the server's Close and then EOF
/// before draining its events ended with an unclean 1006 `Closed`, then `CloseReceived`
/// after it, and was revived (waiting for an EOF that already came).
#[test]
fn eof_before_the_events_of_a_peer_close_are_taken() {
    let now = Instant::ZERO;
    let mut client = Connection::client(now, Config::default(), SeededMasks::new(1));
    read(&mut client, now, &[0x88, 0x02, 0x03, 0xE8]).expect("a valid Close");
    client.handle_eof(now);
    let events = drain_events(&mut client);
    assert_eq!(
        events,
        [
            Event::CloseReceived(Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: String::new(),
            })),
            Event::Closed(Closed {
                code: CloseCode::NORMAL,
                reason: String::new(),
                clean: true,
            }),
        ]
    );
    assert!(client.is_finished());
}

/// Found by `ws_inflate_limits`: inflating in steps (`decompress_step`, and so a connection
/// with a small `Config::inflate_step`), a step that stopped at its budget having consumed all
/// the input left the inflater holding the rest of the message; the next call, with no input
/// left, said "done" without draining it, and the message then failed with
/// `TruncatedMessage` (close 1007) although it was valid.
#[cfg(feature = "deflate")]
mod stepped_inflate {
    use ws_proto::deflate::{DeflateConfig, DeflateParams, Negotiated, PerMessageDeflate};
    use ws_proto::{Config, Connection, Event, Instant, Message, Role, SeededMasks};

    /// The sender (client) resets its context after every message, so the receiver checks
    /// that each message ends on a block boundary.
    const PARAMS: DeflateParams = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: true,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };

    fn config() -> DeflateConfig {
        DeflateConfig {
            level: 5,
            ..DeflateConfig::default()
        }
    }

    #[test]
    fn codec_steps_then_finish() {
        let mut tx = PerMessageDeflate::new(&PARAMS, Role::Client, &config());
        let mut rx = PerMessageDeflate::new(&PARAMS, Role::Server, &config());
        for (len, step) in [
            (37_371, 0),
            (37_371, 1),
            (37_371, 100),
            (40_000, 7),
            (1000, 0),
        ] {
            let plain = vec![0xFF_u8; len];
            let mut compressed = Vec::new();
            tx.compress(&plain, &mut compressed).unwrap();
            let budget = 1 << 20;
            let mut out = Vec::new();
            let mut input = &compressed[..];
            loop {
                let room = budget - out.len();
                let p = rx.decompress_step(input, &mut out, room, step).unwrap();
                input = &input[p.consumed..];
                if p.done {
                    break;
                }
            }
            let room = budget - out.len();
            rx.finish_message(&mut out, room)
                .unwrap_or_else(|e| panic!("{len} bytes in steps of {step}: {e:?}"));
            assert_eq!(out, plain, "{len} bytes in steps of {step}");
        }
    }

    #[test]
    fn connection_with_a_small_inflate_step() {
        for inflate_step in [1, 7, 100, 1000, 4096, 1 << 20] {
            for len in [5000, 37_371, 65_536, 100_000] {
                let now = Instant::ZERO;
                let deflate = Some(Negotiated {
                    params: PARAMS,
                    config: config(),
                });
                let client_config = Config {
                    deflate: deflate.clone(),
                    ..Config::default()
                };
                let mut client = Connection::client(now, client_config, SeededMasks::new(1));
                let server_config = Config {
                    inflate_step,
                    deflate,
                    ..Config::default()
                };
                let mut server = Connection::server(now, server_config);
                let message = Message::binary(vec![0xFF_u8; len]);
                client.send(now, message.clone()).unwrap();
                let wire = super::transmitted(&mut client);
                super::read(&mut server, now, &wire).unwrap();
                let mut steps = 0;
                while server.poll_timeout().is_some_and(|t| t <= now) {
                    server.handle_timeout(now);
                    steps += 1;
                    assert!(steps <= len + 10, "no progress");
                }
                let events: Vec<Event> = core::iter::from_fn(|| server.poll_event()).collect();
                assert_eq!(
                    events,
                    [Event::Message(message)],
                    "{len} bytes, inflate_step {inflate_step}"
                );
            }
        }
    }
}
