//! Whole conversations between a client and a server connection on virtual time.

mod support;

use std::time::Duration;
use support::*;
use ws_proto::frame::Opcode;
use ws_proto::{
    Chunk, CloseCode, CloseFrame, Closed, Config, Connection, Event, Instant, Keepalive, Message,
    MessageKind, MessageMode, MessageRef, SendError,
};

fn closed(events: &[Event]) -> Option<Closed> {
    events.iter().find_map(|e| match e {
        Event::Closed(c) => Some(c.clone()),
        _ => None,
    })
}

#[test]
fn echo_conversation_in_every_chunking() {
    for chunk in [1, 2, 3, 7, 64, usize::MAX] {
        let mut p = Pair::default_pair();
        p.chunk = chunk;
        let sent = vec![
            Message::text("hello"),
            Message::binary(vec![0u8, 1, 2, 3]),
            Message::text(&"é".repeat(5000)),
            Message::binary(vec![7u8; 70_000]),
            Message::text(""),
        ];
        for m in &sent {
            p.client.send(p.now, m.clone()).unwrap();
        }
        p.drive();
        assert_eq!(messages(&p.server_events), sent, "chunk {chunk}");
        for m in messages(&p.server_events) {
            p.server.send(p.now, m).unwrap();
        }
        p.drive();
        assert_eq!(messages(&p.client_events), sent, "chunk {chunk}");
    }
}

#[test]
fn client_initiated_close() {
    let mut p = Pair::default_pair();
    p.client.close(p.now, CloseCode::NORMAL, "done").unwrap();
    assert_eq!(
        p.client.send(p.now, Message::text("late")),
        Err(SendError::Closing)
    );
    p.drive();
    // The server echoed and finished: it closes the transport first.
    assert!(p.server.is_finished());
    assert_eq!(
        p.server_events,
        vec![
            Event::CloseReceived(Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: "done".into()
            })),
            Event::Closed(Closed {
                code: CloseCode::NORMAL,
                reason: "done".into(),
                clean: true
            }),
        ]
    );
    // The client got the echo and waits for the server's TCP close.
    assert!(!p.client.is_finished());
    assert!(p.client.poll_timeout().is_some());
    p.close_transports();
    assert!(p.client.is_finished());
    assert_eq!(closed(&p.client_events).map(|c| c.clean), Some(true));
}

#[test]
fn server_initiated_close_and_client_timeout_waiting_for_eof() {
    let mut p = Pair::default_pair();
    p.server.close(p.now, CloseCode(4000), "app").unwrap();
    p.drive();
    assert!(p.server.is_finished());
    // Closed reports the peer's Close: the client echoed the code without a reason.
    assert_eq!(
        closed(&p.server_events),
        Some(Closed {
            code: CloseCode(4000),
            reason: "".into(),
            clean: true
        })
    );
    assert!(!p.client.is_finished());
    // The server never closes the transport: the client gives up after close_timeout.
    let deadline = p.client.poll_timeout().unwrap();
    p.advance(Duration::from_secs(1));
    assert!(!p.client.is_finished(), "calling early changes nothing");
    p.now = deadline;
    p.client.handle_timeout(deadline);
    assert!(p.client.is_finished());
    assert_eq!(
        closed(&drain_events(&mut p.client)).map(|c| c.code),
        Some(CloseCode(4000))
    );
}

#[test]
fn close_times_out_when_peer_never_answers() {
    let mut p = Pair::default_pair();
    p.client.close(p.now, CloseCode::GOING_AWAY, "").unwrap();
    drain_transmit(&mut p.client); // lost on the way
    p.advance(Duration::from_secs(5));
    assert!(p.client.is_finished());
    assert_eq!(
        closed(&p.client_events),
        Some(Closed {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            clean: false
        })
    );
}

#[test]
fn messages_sent_before_the_peers_close_still_arrive() {
    let mut p = Pair::default_pair();
    p.server.send(p.now, Message::text("in flight")).unwrap();
    p.client.close(p.now, CloseCode::NORMAL, "").unwrap();
    p.drive();
    assert_eq!(messages(&p.client_events), vec![Message::text("in flight")]);
}

#[test]
fn eof_without_close_is_abnormal() {
    let mut p = Pair::default_pair();
    p.server.handle_eof(p.now);
    assert!(p.server.is_finished());
    assert_eq!(
        closed(&drain_events(&mut p.server)).map(|c| (c.code, c.clean)),
        Some((CloseCode::ABNORMAL, false))
    );
}

#[test]
fn close_validation_on_send() {
    let mut p = Pair::default_pair();
    for code in [1005u16, 1006, 1015, 999, 2000, 5000] {
        assert_eq!(
            p.client.close(p.now, CloseCode(code), ""),
            Err(SendError::InvalidCloseCode(code))
        );
    }
    let long = "x".repeat(124);
    assert_eq!(
        p.client.close(p.now, CloseCode::NORMAL, &long),
        Err(SendError::CloseReasonTooLong(124))
    );
    assert_eq!(
        p.client.ping(p.now, &[0; 126]),
        Err(SendError::ControlPayloadTooLong(126))
    );
    // Still open after all the refusals.
    p.client.send(p.now, Message::text("ok")).unwrap();
    p.drive();
    assert_eq!(messages(&p.server_events), vec![Message::text("ok")]);
}

#[test]
fn user_ping_gets_pong() {
    let mut p = Pair::default_pair();
    p.client.ping(p.now, b"42").unwrap();
    p.drive();
    assert_eq!(p.server_events, vec![Event::Ping(b"42"[..].into())]);
    assert_eq!(p.client_events, vec![Event::Pong(b"42"[..].into())]);
}

#[test]
fn keepalive_pings_then_declares_dead() {
    let ka = Config {
        keepalive: Some(Keepalive {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(25),
        }),
        ..Config::default()
    };
    let mut p = Pair::new(ka, Config::default());
    assert_eq!(p.client.poll_timeout(), Some(Instant::from_millis(10_000)));
    p.advance(Duration::from_secs(10));
    // A ping went out; the server answers; the pong counts as input.
    p.drive();
    assert_eq!(p.server_events, vec![Event::Ping(Default::default())]);
    assert_eq!(p.client_events, vec![Event::Pong(Default::default())]);
    assert!(!p.client.is_finished());
    // Now the server goes silent: pings are sent but never answered.
    for _ in 0..3 {
        let t = p.client.poll_timeout().unwrap();
        p.now = t;
        p.client.handle_timeout(t);
        drain_transmit(&mut p.client);
    }
    assert!(p.client.is_finished());
    let events = drain_events(&mut p.client);
    assert_eq!(
        closed(&events).map(|c| (c.code, c.clean)),
        Some((CloseCode::ABNORMAL, false))
    );
    // Dead at last input (10 s) + 25 s.
    assert_eq!(p.now, Instant::from_millis(35_000));
}

#[test]
fn streaming_mode_delivers_chunks_with_whole_code_points() {
    let streaming = Config {
        mode: MessageMode::Streaming,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), streaming);
    p.chunk = 5;
    let text = "aé😀z".repeat(50);
    p.client.send(p.now, Message::text(&text)).unwrap();
    send_piece(&mut p.client, p.now, MessageKind::Binary, &[1, 2, 3], false).unwrap();
    assert_eq!(
        p.client.send(p.now, Message::text("x")),
        Err(SendError::MessageInProgress)
    );
    p.client.ping(p.now, b"between").unwrap();
    send_piece(&mut p.client, p.now, MessageKind::Binary, &[4, 5], true).unwrap();
    send_piece(&mut p.client, p.now, MessageKind::Text, b"", true).unwrap();
    p.drive();
    let chunks: Vec<Chunk> = p
        .server_events
        .iter()
        .filter_map(|e| match e {
            Event::Chunk(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    // Reassemble the messages and check each text chunk is valid UTF-8 on its own.
    let mut assembled: Vec<(MessageKind, Vec<u8>)> = Vec::new();
    for c in &chunks {
        if c.kind == MessageKind::Text {
            assert!(std::str::from_utf8(&c.data).is_ok(), "chunk {:?}", c.data);
        }
        if c.first {
            assembled.push((c.kind, Vec::new()));
        }
        assembled.last_mut().unwrap().1.extend_from_slice(&c.data);
    }
    assert_eq!(
        assembled,
        vec![
            (MessageKind::Text, text.into_bytes()),
            (MessageKind::Binary, vec![1, 2, 3, 4, 5]),
            (MessageKind::Text, vec![])
        ]
    );
    assert!(chunks.iter().filter(|c| c.last).count() == 3);
    assert!(chunks.len() > 10, "a long message arrives in many chunks");
    assert!(p
        .server_events
        .contains(&Event::Ping(b"between"[..].into())));
}

#[test]
fn streamed_text_that_would_be_invalid_utf8_is_refused_and_the_message_goes_on() {
    let mut p = Pair::new(Config::default(), Config::default());
    let piece = "[[\u{e9}".as_bytes();
    // The first piece ends inside a code point: fine, the next piece may finish it.
    send_piece(&mut p.client, p.now, MessageKind::Text, &piece[..3], false).unwrap();
    let pending = p.client.pending_transmit();
    // ASCII cannot finish it, and neither can an empty last piece.
    assert_eq!(
        send_piece(&mut p.client, p.now, MessageKind::Text, b"[[", false),
        Err(SendError::InvalidUtf8)
    );
    assert_eq!(
        send_piece(&mut p.client, p.now, MessageKind::Text, b"", true),
        Err(SendError::InvalidUtf8)
    );
    assert_eq!(p.client.pending_transmit(), pending, "nothing queued");
    // The right continuation byte does, and the message arrives whole.
    send_piece(&mut p.client, p.now, MessageKind::Text, &piece[3..], true).unwrap();
    // A binary message is never checked.
    send_piece(&mut p.client, p.now, MessageKind::Binary, &[0xFF], true).unwrap();
    p.drive();
    assert_eq!(
        messages(&p.server_events),
        vec![Message::text("[[\u{e9}"), Message::binary(vec![0xFF])]
    );
}

#[test]
fn send_text_queues_a_whole_text_message_from_a_str() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.client.send(p.now, "héllo").unwrap();
    send_piece(&mut p.client, p.now, MessageKind::Binary, &[1], false).unwrap();
    assert_eq!(p.client.send(p.now, "x"), Err(SendError::MessageInProgress));
    send_piece(&mut p.client, p.now, MessageKind::Binary, &[2], true).unwrap();
    p.client.send(p.now, "").unwrap();
    p.drive();
    assert_eq!(
        messages(&p.server_events),
        vec![
            Message::text("héllo"),
            Message::binary(vec![1, 2]),
            Message::text("")
        ]
    );
    p.client.close(p.now, CloseCode::NORMAL, "").unwrap();
    assert_eq!(p.client.send(p.now, "late"), Err(SendError::Closing));
}

#[test]
fn streaming_mode_hands_out_a_whole_non_final_frame_at_once() {
    let streaming = Config {
        mode: MessageMode::Streaming,
        ..Config::default()
    };
    let mut server = Connection::server(Instant::ZERO, streaming);
    // The first frame of a message, complete, and nothing after it yet: its data is not held
    // back until the next frame arrives.
    server
        .feed_bytes(Instant::ZERO, &client_frame(false, 0x2, b"first"))
        .unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(
        events,
        vec![Event::Chunk(Chunk {
            kind: MessageKind::Binary,
            data: b"first"[..].into(),
            first: true,
            last: false,
        })]
    );
}

#[test]
fn max_send_frame_fragments_outgoing_messages() {
    let cfg = Config {
        max_send_frame: Some(10),
        ..Config::default()
    };
    let mut client = Connection::client(Instant::ZERO, cfg, ws_proto::SeededMasks::new(3));
    client
        .send(Instant::ZERO, Message::text("0123456789abcdefghijXYZ"))
        .unwrap();
    let frames = parse_frames(&drain_transmit(&mut client));
    let ops: Vec<(Opcode, bool, usize)> = frames
        .iter()
        .map(|f| (f.opcode, f.fin, f.payload.len()))
        .collect();
    assert_eq!(
        ops,
        vec![
            (Opcode::Text, false, 10),
            (Opcode::Continuation, false, 10),
            (Opcode::Continuation, true, 3)
        ]
    );
    assert!(frames.iter().all(|f| f.masked));
}

#[test]
fn server_frames_are_unmasked_and_client_frames_masked() {
    let mut p = Pair::default_pair();
    p.client.send(p.now, Message::text("c")).unwrap();
    p.server.send(p.now, Message::text("s")).unwrap();
    assert!(parse_frames(&drain_transmit(&mut p.client))
        .iter()
        .all(|f| f.masked));
    assert!(parse_frames(&drain_transmit(&mut p.server))
        .iter()
        .all(|f| !f.masked));
}

#[test]
fn poll_transmit_hands_out_what_was_queued_in_order() {
    let mut server = Connection::server(Instant::ZERO, Config::default());
    server.send(Instant::ZERO, "a").unwrap();
    server.send(Instant::ZERO, "b").unwrap();
    assert_eq!(server.pending_transmit(), 6);
    let first = server.poll_transmit().expect("bytes queued");
    assert_eq!(&first[..], [0x81, 1, b'a', 0x81, 1, b'b']);
    assert_eq!(server.pending_transmit(), 0);
    assert_eq!(server.poll_transmit(), None);
    server.send(Instant::ZERO, "c").unwrap();
    assert_eq!(&server.poll_transmit().unwrap()[..], [0x81, 1, b'c']);
}

/// A connection of `role` whose masks (for a client) come from the same seed every time.
fn seeded(server: bool, config: Config) -> Connection {
    if server {
        Connection::server(Instant::ZERO, config)
    } else {
        Connection::client(Instant::ZERO, config, ws_proto::SeededMasks::new(7))
    }
}

#[test]
fn borrowed_and_owned_sends_put_the_same_bytes_on_the_wire() {
    let text: String = "héllo wörld ✓ 😀 ".chars().cycle().take(80_000).collect();
    let binary: Vec<u8> = (0..80_000u32).map(|i| (i * 7 + 3) as u8).collect();
    for server in [true, false] {
        for max_send_frame in [None, Some(1000), Some(65_536)] {
            let config = Config {
                max_send_frame,
                ..Config::default()
            };
            for len in [0, 1, 125, 126, 1024, 65_535, 65_536, 70_000] {
                let cut = text
                    .char_indices()
                    .map(|(i, _)| i)
                    .take_while(|&i| i <= len)
                    .last();
                let cases = [
                    Message::text(&text[..cut.unwrap()]),
                    Message::binary(binary[..len].to_vec()),
                ];
                for message in &cases {
                    let mut owned = seeded(server, config.clone());
                    owned.send(Instant::ZERO, message.clone()).unwrap();
                    let expected = drain_transmit(&mut owned);
                    let mut borrowed = seeded(server, config.clone());
                    borrowed.send(Instant::ZERO, message).unwrap();
                    assert_eq!(
                        drain_transmit(&mut borrowed),
                        expected,
                        "server {server}, {max_send_frame:?}, {len} bytes of {:?}",
                        message.kind()
                    );
                    // The peer reads the same message back.
                    let mut peer = seeded(!server, Config::default());
                    peer.feed_bytes(Instant::ZERO, &expected).unwrap();
                    assert_eq!(messages(&drain_events(&mut peer)), vec![message.clone()]);
                }
            }
        }
    }
}

#[test]
fn sends_go_out_in_the_order_they_were_queued() {
    let mut server = Connection::server(Instant::ZERO, Config::default());
    server.send(Instant::ZERO, "queued").unwrap();
    // A payload a server shares instead of copying, between copied frames.
    server
        .send(Instant::ZERO, Message::binary(vec![9u8; 4096]))
        .unwrap();
    server.ping(Instant::ZERO, b"p").unwrap();
    server
        .send(Instant::ZERO, MessageRef::Text("last"))
        .unwrap();
    let out = drain_transmit(&mut server);
    assert_eq!(server.pending_transmit(), 0);
    let got: Vec<(Opcode, Vec<u8>)> = parse_frames(&out)
        .into_iter()
        .map(|f| (f.opcode, f.payload))
        .collect();
    assert_eq!(
        got,
        vec![
            (Opcode::Text, b"queued".to_vec()),
            (Opcode::Binary, vec![9u8; 4096]),
            (Opcode::Ping, b"p".to_vec()),
            (Opcode::Text, b"last".to_vec()),
        ]
    );
}

#[test]
fn an_owed_pong_goes_out_before_what_is_sent_after_the_buffer_drains() {
    // A small outgoing limit: the Pong for a Ping that arrives while the buffer is over it is
    // owed, not queued.
    let config = Config {
        max_send_buffer: 64,
        ..Config::default()
    };
    let mut server = Connection::server(Instant::ZERO, config);
    let long = "x".repeat(60);
    server.send(Instant::ZERO, long.as_str()).unwrap();
    let mut client = seeded(false, Config::default());
    client.ping(Instant::ZERO, b"q").unwrap();
    server
        .feed_bytes(Instant::ZERO, &drain_transmit(&mut client))
        .unwrap();
    assert_eq!(
        drain_events(&mut server),
        vec![Event::Ping(b"q".to_vec().into())]
    );
    // Owed, not written yet: counted at its largest frame size (6 + 1), not as the 3 bytes
    // a written server Pong takes.
    assert_eq!(server.pending_transmit(), 2 + 60 + 6 + 1);
    assert_eq!(
        server.send(Instant::ZERO, "direct"),
        Err(SendError::BufferFull {
            pending: 69,
            limit: 64
        })
    );
    let mut out = drain_transmit(&mut server);
    server.send(Instant::ZERO, "direct").unwrap();
    out.extend(drain_transmit(&mut server));
    let got: Vec<(Opcode, Vec<u8>)> = parse_frames(&out)
        .into_iter()
        .map(|f| (f.opcode, f.payload))
        .collect();
    assert_eq!(
        got,
        vec![
            (Opcode::Text, long.into_bytes()),
            (Opcode::Pong, b"q".to_vec()),
            (Opcode::Text, b"direct".to_vec()),
        ]
    );
}

#[test]
fn send_refuses_while_a_stream_is_unfinished_and_after_close_changing_nothing() {
    let mut p = Pair::default_pair();
    send_piece(&mut p.client, p.now, MessageKind::Binary, &[1], false).unwrap();
    let pending = p.client.pending_transmit();
    assert_eq!(
        p.client.send(p.now, MessageRef::Binary(&[2])),
        Err(SendError::MessageInProgress)
    );
    // A stream of the other kind is another message: refused too.
    assert_eq!(
        send_piece(&mut p.client, p.now, MessageKind::Text, b"t", true),
        Err(SendError::MessageInProgress)
    );
    assert!(p.client.send_stream(MessageKind::Binary).is_started());
    assert!(!p.client.send_stream(MessageKind::Text).is_started());
    assert_eq!(p.client.pending_transmit(), pending);
    send_piece(&mut p.client, p.now, MessageKind::Binary, &[3], true).unwrap();
    p.client.send(p.now, &[4u8][..]).unwrap();
    p.client.close(p.now, CloseCode::NORMAL, "").unwrap();
    let pending = p.client.pending_transmit();
    assert_eq!(
        p.client.send(p.now, MessageRef::Text("late")),
        Err(SendError::Closing)
    );
    assert_eq!(
        send_piece(&mut p.client, p.now, MessageKind::Text, b"late", true),
        Err(SendError::Closing)
    );
    assert_eq!(p.client.pending_transmit(), pending);
    // The bytes queued are a valid conversation.
    p.server
        .feed_bytes(p.now, &drain_transmit(&mut p.client))
        .unwrap();
    assert_eq!(
        messages(&drain_events(&mut p.server)),
        vec![Message::binary(vec![1, 3]), Message::binary(vec![4])]
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        SendText(String),
        SendBinary(Vec<u8>),
        SendChunks(Vec<Vec<u8>>),
        /// Send borrowed (`&str`, `&[u8]`) instead of owned.
        SendBorrowedText(String),
        SendBorrowedBinary(Vec<u8>),
        Ping(Vec<u8>),
        /// Deliver up to n bytes in each direction.
        Deliver(usize),
        Advance(u64),
    }

    /// One frame for [`reading_in_pieces_gives_exactly_what_one_read_gives`], valid or not.
    #[derive(Debug, Clone)]
    struct RandomFrame {
        fin: bool,
        rsv: u8,
        opcode: u8,
        payload: Vec<u8>,
        /// Masked the wrong way for the role.
        wrong_mask: bool,
        len: Len,
    }

    impl RandomFrame {
        fn bytes(&self, to_server: bool) -> Vec<u8> {
            let masked = to_server != self.wrong_mask;
            let key = masked.then_some([0xA1, 0x07, 0x5C, 0xE3]);
            raw_frame(
                self.fin,
                self.rsv,
                self.opcode,
                &self.payload,
                key,
                self.len,
            )
        }
    }

    fn frame() -> impl Strategy<Value = RandomFrame> {
        let payload = prop_oneof![
            // Text: valid (mostly multi-byte), or valid text with one byte changed.
            4 => ".{0,300}".prop_map(String::into_bytes),
            1 => (".{1,300}", any::<prop::sample::Index>(), any::<u8>()).prop_map(|(s, i, b)| {
                let mut v = s.into_bytes();
                let at = i.index(v.len());
                v[at] = b;
                v
            }),
            2 => proptest::collection::vec(any::<u8>(), 0..2000),
            1 => Just(vec![b'x'; 70_000]),
        ];
        let opcode = prop_oneof![
            6 => Just(0x1u8), 6 => Just(0x2), 2 => Just(0x0), 1 => Just(0x9), 1 => Just(0xA),
            1 => Just(0x8), 1 => Just(0x3),
        ];
        let len = prop_oneof![
            20 => Just(Len::Minimal), 1 => Just(Len::Force16), 1 => Just(Len::Force64),
        ];
        (
            prop::bool::weighted(0.85),
            prop_oneof![12 => Just(0u8), 1 => 1u8..8],
            opcode,
            payload,
            prop::bool::weighted(0.1),
            len,
        )
            .prop_map(|(fin, rsv, opcode, payload, wrong_mask, len)| {
                // Control frames mostly short (a Close with a valid code or none).
                let payload = if opcode >= 0x8 && payload.len() > 125 {
                    payload[..payload.len() % 126].to_vec()
                } else {
                    payload
                };
                RandomFrame {
                    fin,
                    rsv,
                    opcode,
                    payload,
                    wrong_mask,
                    len,
                }
            })
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            ".{0,40}".prop_map(Op::SendText),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::SendBinary),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..4)
                .prop_map(Op::SendChunks),
            ".{0,40}".prop_map(Op::SendBorrowedText),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::SendBorrowedBinary),
            proptest::collection::vec(any::<u8>(), 0..125).prop_map(Op::Ping),
            (1usize..200).prop_map(Op::Deliver),
            (0u64..3000).prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

        /// Random operations from the client, random partial delivery, random time: the server
        /// receives exactly what was sent, in order, with nothing lost or duplicated, and every
        /// ping is answered.
        #[test]
        fn random_operations_deliver_in_order(ops in proptest::collection::vec(op(), 1..40), mode_streaming in any::<bool>()) {
            let server_cfg = Config {
                mode: if mode_streaming { MessageMode::Streaming } else { MessageMode::Assembled },
                ..Config::default()
            };
            let mut p = Pair::new(Config::default(), server_cfg);
            let mut expected: Vec<(MessageKind, Vec<u8>)> = Vec::new();
            let mut pings = 0;
            let mut c2s: Vec<u8> = Vec::new();
            let mut s2c: Vec<u8> = Vec::new();
            let mut server_events = Vec::new();
            let mut client_events = Vec::new();
            for op in ops {
                match op {
                    Op::SendText(s) => {
                        p.client.send(p.now, Message::text(&s)).unwrap();
                        expected.push((MessageKind::Text, s.into_bytes()));
                    }
                    Op::SendBinary(b) => {
                        p.client.send(p.now, Message::binary(b.clone())).unwrap();
                        expected.push((MessageKind::Binary, b));
                    }
                    Op::SendChunks(parts) => {
                        let n = parts.len();
                        for (i, part) in parts.iter().enumerate() {
                            send_piece(&mut p.client, p.now, MessageKind::Binary, part, i + 1 == n).unwrap();
                        }
                        expected.push((MessageKind::Binary, parts.concat()));
                    }
                    Op::SendBorrowedText(s) => {
                        p.client.send(p.now, s.as_str()).unwrap();
                        expected.push((MessageKind::Text, s.into_bytes()));
                    }
                    Op::SendBorrowedBinary(b) => {
                        p.client.send(p.now, &b[..]).unwrap();
                        expected.push((MessageKind::Binary, b));
                    }
                    Op::Ping(b) => {
                        p.client.ping(p.now, &b).unwrap();
                        pings += 1;
                    }
                    Op::Deliver(n) => {
                        c2s.extend(drain_transmit(&mut p.client));
                        s2c.extend(drain_transmit(&mut p.server));
                        let a: Vec<u8> = c2s.drain(..n.min(c2s.len())).collect();
                        let b: Vec<u8> = s2c.drain(..n.min(s2c.len())).collect();
                        feed(&mut p.server, p.now, &a).unwrap();
                        feed(&mut p.client, p.now, &b).unwrap();
                    }
                    Op::Advance(ms) => {
                        p.now = p.now.saturating_add(Duration::from_millis(ms));
                        p.client.handle_timeout(p.now);
                        p.server.handle_timeout(p.now);
                    }
                }
                server_events.extend(drain_events(&mut p.server));
                client_events.extend(drain_events(&mut p.client));
            }
            // Deliver everything left.
            for _ in 0..4 {
                c2s.extend(drain_transmit(&mut p.client));
                feed(&mut p.server, p.now, &std::mem::take(&mut c2s)).unwrap();
                s2c.extend(drain_transmit(&mut p.server));
                feed(&mut p.client, p.now, &std::mem::take(&mut s2c)).unwrap();
            }
            server_events.extend(drain_events(&mut p.server));
            client_events.extend(drain_events(&mut p.client));

            let mut got: Vec<(MessageKind, Vec<u8>)> = Vec::new();
            for e in &server_events {
                match e {
                    Event::Message(m) => got.push((m.kind(), m.payload().to_vec())),
                    Event::Chunk(c) => {
                        if c.first {
                            got.push((c.kind, Vec::new()));
                        }
                        got.last_mut().unwrap().1.extend_from_slice(&c.data);
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(got, expected);
            let pongs = client_events.iter().filter(|e| matches!(e, Event::Pong(_))).count();
            prop_assert_eq!(pongs, pings);
            prop_assert!(!p.server.is_finished() && !p.client.is_finished());
        }

        /// Reading the input cut at random points gives exactly what reading it whole gives:
        /// the same events in order, the same first error, the same bytes transmitted and the
        /// same end, for random streams of valid and invalid frames (text valid or not,
        /// fragments, control frames, RSV bits, wrong masking, non-minimal lengths, frames
        /// over small limits), in both roles and both message modes.
        #[test]
        fn reading_in_pieces_gives_exactly_what_one_read_gives(
            frames in proptest::collection::vec(frame(), 0..24),
            cuts in proptest::collection::vec(0usize..4000, 0..12),
            server in any::<bool>(),
            streaming in any::<bool>(),
            max_frame_payload in prop_oneof![Just(usize::MAX), 0usize..3000],
            max_message_size in prop_oneof![Just(16usize << 20), 0usize..4000],
            max_fragments in prop_oneof![Just(65_536usize), 0usize..4],
        ) {
            let config = Config {
                mode: if streaming { MessageMode::Streaming } else { MessageMode::Assembled },
                max_frame_payload,
                max_message_size,
                max_fragments,
                ..Config::default()
            };
            let mut wire = Vec::new();
            for f in &frames {
                wire.extend(f.bytes(server));
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(wire.len())).collect();
            cuts.push(0);
            cuts.push(wire.len());
            cuts.sort_unstable();
            let new = || if server {
                Connection::server(Instant::ZERO, config.clone())
            } else {
                Connection::client(Instant::ZERO, config.clone(), ws_proto::SeededMasks::new(5))
            };
            let (mut cut_up, mut whole) = (new(), new());
            let (mut events, mut transmit, mut error) = (Vec::new(), Vec::new(), None);
            for w in cuts.windows(2) {
                let result = cut_up.feed_bytes(Instant::ZERO, &wire[w[0]..w[1]]);
                if error.is_none() {
                    error = result.err();
                }
                events.extend(drain_events(&mut cut_up));
                transmit.extend(drain_transmit(&mut cut_up));
            }
            let whole_error = whole.feed_bytes(Instant::ZERO, &wire).err();
            let whole_events = drain_events(&mut whole);
            if streaming {
                // Chunks may be cut differently (and a message that fails later may have
                // handed out its start already): the messages completed are the same.
                let flat = |events: &[Event]| -> Vec<(MessageKind, Vec<u8>)> {
                    let mut out: Vec<(MessageKind, Vec<u8>)> = Vec::new();
                    let mut open: Option<(MessageKind, Vec<u8>)> = None;
                    for e in events {
                        match e {
                            Event::Chunk(c) => {
                                if c.first {
                                    open = Some((c.kind, Vec::new()));
                                }
                                if let Some(m) = open.as_mut() {
                                    m.1.extend_from_slice(&c.data);
                                }
                                if c.last {
                                    out.extend(open.take());
                                }
                            }
                            other => out.push((MessageKind::Binary, format!("{other:?}").into_bytes())),
                        }
                    }
                    out
                };
                prop_assert_eq!(flat(&events), flat(&whole_events));
            } else {
                prop_assert_eq!(events, whole_events);
            }
            prop_assert_eq!(error, whole_error);
            prop_assert_eq!(transmit, drain_transmit(&mut whole));
            prop_assert_eq!(cut_up.is_finished(), whole.is_finished());
        }

        /// Random bytes never panic a connection, and whatever it sends back is well-formed.
        #[test]
        fn random_input_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
            for server in [true, false] {
                let mut conn = if server {
                    Connection::server(Instant::ZERO, Config::default())
                } else {
                    Connection::client(Instant::ZERO, Config::default(), ws_proto::SeededMasks::new(9))
                };
                for c in &chunks {
                    let _ = conn.feed_bytes(Instant::ZERO, c);
                }
                let sent = drain_transmit(&mut conn);
                let _ = parse_frames(&sent);
                drain_events(&mut conn);
            }
        }
    }
}

#[test]
fn large_server_payloads_are_shared_not_copied_and_order_is_kept() {
    let mut server = Connection::server(Instant::ZERO, Config::default());
    let big = bytes::Bytes::from(vec![5u8; 4096]);
    server.send(Instant::ZERO, "first").unwrap();
    server
        .send(Instant::ZERO, Message::Binary(big.clone()))
        .unwrap();
    server.send(Instant::ZERO, Message::text("last")).unwrap();
    assert_eq!(server.pending_transmit(), 7 + 4 + 4096 + 6);
    let pieces: Vec<bytes::Bytes> = std::iter::from_fn(|| server.poll_transmit()).collect();
    // The payload piece is the caller's own allocation, handed out as it is (a vectored
    // write takes it without a copy).
    assert!(pieces.iter().any(|p| p.as_ptr() == big.as_ptr()));
    assert_eq!(server.pending_transmit(), 0);
    let wire: Vec<u8> = pieces.concat();
    let frames = parse_frames(&wire);
    assert_eq!(
        frames.iter().map(|f| f.payload.len()).collect::<Vec<_>>(),
        vec![5, 4096, 4]
    );
    // A client masks, so it copies: nothing of its own is handed out.
    let mut client = seeded(false, Config::default());
    client
        .send(Instant::ZERO, Message::Binary(big.clone()))
        .unwrap();
    let sent: Vec<bytes::Bytes> = std::iter::from_fn(|| client.poll_transmit()).collect();
    assert!(sent.iter().all(|p| p.as_ptr() != big.as_ptr()));
}

/// One side of a conversation, driven by exactly the loop `Connection`'s docs state and
/// nothing else: after every input or mutation, take every event (answering it), then every
/// byte to transmit, then the timer.
struct Driven {
    conn: Connection,
    echo: bool,
    events: Vec<Event>,
    /// Bytes transmitted, not yet delivered to the peer.
    wire: Vec<u8>,
    timer: Option<Instant>,
}

impl Driven {
    fn drain(&mut self, now: Instant) {
        while let Some(event) = self.conn.poll_event() {
            if let (true, Event::Message(m)) = (self.echo, &event) {
                self.conn.send(now, m.clone()).unwrap();
            }
            self.events.push(event);
        }
        while let Some(bytes) = self.conn.poll_transmit() {
            self.wire.extend_from_slice(&bytes);
        }
        self.timer = self.conn.poll_timeout();
    }

    /// A read from the transport: into the input buffer, `handle_input`, then the drain.
    fn read(&mut self, now: Instant, bytes: &[u8]) {
        self.conn.input_buffer().extend_from_slice(bytes);
        let _ = self.conn.handle_input(now);
        self.drain(now);
    }
}

#[test]
fn conversations_driven_by_the_documented_drain_loop_alone() {
    let keepalive = Some(Keepalive {
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(30),
    });
    let server_cfg = Config {
        keepalive,
        ..Config::default()
    };
    let mut now = Instant::ZERO;
    let mut client = Driven {
        conn: Connection::client(now, Config::default(), ws_proto::SeededMasks::new(1)),
        echo: false,
        events: Vec::new(),
        wire: Vec::new(),
        timer: None,
    };
    let mut server = Driven {
        conn: Connection::server(now, server_cfg),
        echo: true,
        events: Vec::new(),
        wire: Vec::new(),
        timer: None,
    };
    let sent = [
        Message::text("hello"),
        Message::binary(vec![1u8; 70_000]),
        Message::text(&"é".repeat(3000)),
    ];
    for m in &sent {
        client.conn.send(now, m.clone()).unwrap();
        client.drain(now);
    }
    client.conn.ping(now, b"p").unwrap();
    client.drain(now);
    // Every byte delivered, as reads, until nothing moves.
    let exchange = |client: &mut Driven, server: &mut Driven, now: Instant| {
        for _ in 0..100 {
            let (c2s, s2c) = (
                std::mem::take(&mut client.wire),
                std::mem::take(&mut server.wire),
            );
            if c2s.is_empty() && s2c.is_empty() {
                return;
            }
            if !c2s.is_empty() {
                server.read(now, &c2s);
            }
            if !s2c.is_empty() {
                client.read(now, &s2c);
            }
        }
        panic!("the pair did not settle");
    };
    exchange(&mut client, &mut server, now);
    // Quiet: the server's keepalive comes due; its Ping is answered by the client's loop.
    now = server.timer.expect("keepalive armed");
    assert_eq!(now, Instant::from_secs(10));
    assert_eq!(client.timer, None, "no timer on the client");
    server.conn.handle_timeout(now);
    server.drain(now);
    exchange(&mut client, &mut server, now);
    // The close handshake: the server echoes and finishes (it closes the transport first),
    // then the client sees the end of the stream.
    client.conn.close(now, CloseCode::NORMAL, "bye").unwrap();
    client.drain(now);
    exchange(&mut client, &mut server, now);
    assert!(server.conn.is_finished());
    client.conn.handle_eof(now);
    client.drain(now);
    assert!(client.conn.is_finished());
    assert_eq!(
        messages(&client.events),
        sent,
        "every message echoed, in order"
    );
    assert!(client.events.contains(&Event::Pong(b"p"[..].into())));
    // The keepalive Ping was answered by the loop alone (the client queued the Pong).
    assert!(server.events.contains(&Event::Pong(bytes::Bytes::new())));
    assert_eq!(
        closed(&client.events).map(|c| (c.code, c.clean)),
        Some((CloseCode::NORMAL, true))
    );
    assert!(matches!(server.events.last(), Some(Event::Closed(c)) if c.clean));
}
