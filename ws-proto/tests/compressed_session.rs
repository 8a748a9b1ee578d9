//! permessage-deflate inside the connection: RSV1 per message, the message limit applied to
//! the inflated size, bombs, truncation, RSV1 where it is not allowed, and random message
//! sequences under every parameter combination.
#![cfg(feature = "deflate")]

mod support;

use support::*;
use ws_proto::deflate::{client_accept, client_offer, server_accept, DeflateConfig};
use ws_proto::frame::Opcode;
use ws_proto::handshake::parse_extension_list;
use ws_proto::{
    Config, Connection, Event, Instant, Message, MessageKind, MessageMode, MessageRef,
    ProtocolError, SeededMasks,
};

/// Negotiate as a real handshake would: the client's offer, the server's answer, and the
/// parameters each side agreed (server's, client's).
fn negotiate(
    client_cfg: &DeflateConfig,
    server_cfg: &DeflateConfig,
) -> (
    ws_proto::deflate::DeflateParams,
    ws_proto::deflate::DeflateParams,
) {
    let offer = client_offer(client_cfg);
    let (server_params, answer) = server_accept(&parse_extension_list(&offer).unwrap(), server_cfg)
        .expect("server accepts the offer");
    let client_params = client_accept(&parse_extension_list(&answer).unwrap(), client_cfg)
        .unwrap()
        .expect("client accepts the answer");
    (server_params, client_params)
}

/// A client and a server with deflate negotiated and enabled.
fn negotiated(client_cfg: &DeflateConfig, server_cfg: &DeflateConfig, server_conn: Config) -> Pair {
    let (server_params, client_params) = negotiate(client_cfg, server_cfg);
    Pair::new(
        with_deflate(Config::default(), client_params, client_cfg),
        with_deflate(server_conn, server_params, server_cfg),
    )
}

#[test]
fn compressed_echo_sets_rsv1_only_on_large_data_messages() {
    let cfg = DeflateConfig::default();
    let mut p = negotiated(&cfg, &cfg, Config::default());
    let text = "compress me ".repeat(200);
    p.client.send(p.now, Message::text(&text)).unwrap();
    p.client.send(p.now, Message::text("tiny")).unwrap();
    p.client.ping(p.now, b"ping").unwrap();
    let wire = drain_transmit(&mut p.client);
    let frames = parse_frames(&wire);
    assert_eq!(frames[0].rsv, 0b100, "a large message is compressed");
    assert!(frames[0].payload.len() < text.len() / 5);
    assert_eq!(frames[1].rsv, 0, "under the threshold: sent as is");
    assert_eq!(
        (frames[2].opcode, frames[2].rsv),
        (Opcode::Ping, 0),
        "control frames never compressed"
    );
    p.server.feed_bytes(p.now, &wire).unwrap();
    let got = messages(&drain_events(&mut p.server));
    assert_eq!(got, vec![Message::text(&text), Message::text("tiny")]);
}

#[test]
fn fragmented_compressed_messages_with_interleaved_control_frames() {
    let cfg = DeflateConfig::default();
    let mut p = negotiated(&cfg, &cfg, Config::default());
    // The server splits its compressed output into 7-byte frames; pings go in between.
    let offer = client_offer(&cfg);
    let (params, _) = server_accept(&parse_extension_list(&offer).unwrap(), &cfg).unwrap();
    p.server = Connection::server(
        Instant::ZERO,
        with_deflate(
            Config {
                max_send_frame: Some(7),
                ..Config::default()
            },
            params,
            &cfg,
        ),
    );
    let text = "fragmented and compressed ".repeat(50);
    p.server.send(p.now, Message::text(&text)).unwrap();
    let wire = drain_transmit(&mut p.server);
    let frames = parse_frames(&wire);
    assert!(frames.len() > 3);
    assert_eq!(frames[0].rsv, 0b100);
    assert!(frames[1..]
        .iter()
        .all(|f| f.rsv == 0 && f.opcode == Opcode::Continuation));
    // Interleave a ping after every frame.
    let mut interleaved = Vec::new();
    for f in &frames {
        interleaved.extend(raw_frame(
            f.fin,
            f.rsv,
            f.opcode.as_u8(),
            &f.payload,
            None,
            Len::Minimal,
        ));
        interleaved.extend(server_frame(true, 9, b"x"));
    }
    for chunk in [1usize, 3, 1000] {
        let client_params = {
            let (_, answer) = server_accept(&parse_extension_list(&offer).unwrap(), &cfg).unwrap();
            client_accept(&parse_extension_list(&answer).unwrap(), &cfg)
                .unwrap()
                .unwrap()
        };
        let mut client = Connection::client(
            Instant::ZERO,
            with_deflate(Config::default(), client_params, &cfg),
            SeededMasks::new(1),
        );
        for piece in interleaved.chunks(chunk) {
            client.feed_bytes(Instant::ZERO, piece).unwrap();
        }
        let events = drain_events(&mut client);
        assert_eq!(
            messages(&events),
            vec![Message::text(&text)],
            "chunk {chunk}"
        );
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, Event::Ping(_)))
                .count(),
            frames.len()
        );
    }
}

#[test]
fn streamed_sends_are_compressed_and_each_piece_can_be_inflated_at_once() {
    for no_context_takeover in [false, true] {
        let cfg = DeflateConfig {
            no_context_takeover,
            peer_no_context_takeover: no_context_takeover,
            ..DeflateConfig::default()
        };
        let streaming = Config {
            mode: MessageMode::Streaming,
            ..Config::default()
        };
        let mut p = negotiated(&cfg, &cfg, streaming);
        let text = "streamed and compressed, piece by piece; ".repeat(100);
        let pieces: Vec<&[u8]> = text.as_bytes().chunks(700).collect();
        for round in 0..2 {
            let mut wire = Vec::new();
            for (i, piece) in pieces.iter().enumerate() {
                let last = i + 1 == pieces.len();
                send_piece(&mut p.client, p.now, MessageKind::Text, piece, last).unwrap();
                let bytes = drain_transmit(&mut p.client);
                // Each piece is flushed: the streaming receiver gets all of it right away.
                p.server.feed_bytes(p.now, &bytes).unwrap();
                let got: Vec<u8> = drain_events(&mut p.server)
                    .into_iter()
                    .flat_map(|e| match e {
                        Event::Chunk(c) => c.data.to_vec(),
                        other => panic!("round {round}: unexpected {other:?}"),
                    })
                    .collect();
                assert_eq!(&got[..], *piece, "round {round} piece {i}");
                wire.extend(bytes);
            }
            let frames = parse_frames(&wire);
            assert_eq!(frames.len(), pieces.len());
            assert_eq!(frames[0].rsv, 0b100, "RSV1 on the first frame");
            assert!(frames[1..].iter().all(|f| f.rsv == 0), "and only there");
            let on_wire: usize = frames.iter().map(|f| f.payload.len()).sum();
            assert!(
                on_wire < text.len() / 4,
                "{on_wire} bytes for {}",
                text.len()
            );
        }
        // A whole message in one call under the threshold goes uncompressed; a binary stream
        // is compressed too, and control frames in between are not.
        send_piece(&mut p.client, p.now, MessageKind::Binary, b"tiny", true).unwrap();
        send_piece(&mut p.client, p.now, MessageKind::Binary, &[7; 3000], false).unwrap();
        p.client.ping(p.now, b"between").unwrap();
        send_piece(&mut p.client, p.now, MessageKind::Binary, &[], true).unwrap();
        let wire = drain_transmit(&mut p.client);
        let frames = parse_frames(&wire);
        let shape: Vec<(Opcode, u8)> = frames.iter().map(|f| (f.opcode, f.rsv)).collect();
        assert_eq!(
            shape,
            [
                (Opcode::Binary, 0),
                (Opcode::Binary, 0b100),
                (Opcode::Ping, 0),
                (Opcode::Continuation, 0)
            ]
        );
        p.server.feed_bytes(p.now, &wire).unwrap();
        let mut binary = Vec::new();
        for e in drain_events(&mut p.server) {
            if let Event::Chunk(c) = e {
                binary.extend_from_slice(&c.data);
            }
        }
        let mut want = b"tiny".to_vec();
        want.extend([7; 3000]);
        assert_eq!(binary, want);
    }
}

#[test]
fn a_threshold_of_usize_max_leaves_streamed_messages_uncompressed() {
    let cfg = DeflateConfig {
        threshold: usize::MAX,
        ..DeflateConfig::default()
    };
    let mut p = negotiated(&cfg, &cfg, Config::default());
    let text = "never compressed ".repeat(100);
    send_piece(
        &mut p.client,
        p.now,
        MessageKind::Text,
        text.as_bytes(),
        false,
    )
    .unwrap();
    send_piece(&mut p.client, p.now, MessageKind::Text, b"", true).unwrap();
    p.client.send(p.now, Message::text(&text)).unwrap();
    let wire = drain_transmit(&mut p.client);
    assert!(parse_frames(&wire).iter().all(|f| f.rsv == 0));
    p.server.feed_bytes(p.now, &wire).unwrap();
    assert_eq!(
        messages(&drain_events(&mut p.server)),
        vec![Message::text(&text), Message::text(&text)]
    );
}

#[test]
fn send_text_is_compressed_from_the_threshold_up() {
    let cfg = DeflateConfig::default();
    let mut p = negotiated(&cfg, &cfg, Config::default());
    let long = "compress me please ".repeat(50);
    p.client.send(p.now, "short").unwrap();
    p.client.send(p.now, &long).unwrap();
    let wire = drain_transmit(&mut p.client);
    let rsv: Vec<u8> = parse_frames(&wire).iter().map(|f| f.rsv).collect();
    assert_eq!(rsv, [0, 0b100]);
    p.server.feed_bytes(p.now, &wire).unwrap();
    assert_eq!(
        messages(&drain_events(&mut p.server)),
        vec![Message::text("short"), Message::text(&long)]
    );
}

#[test]
fn borrowed_and_owned_sends_are_compressed_from_the_threshold_up_in_order() {
    let cfg = DeflateConfig::default();
    let mut p = negotiated(&cfg, &cfg, Config::default());
    let long = "compress me ".repeat(200);
    p.client.send(p.now, long.as_str()).unwrap();
    p.client.send(p.now, MessageRef::Text("short")).unwrap();
    p.client
        .send(p.now, MessageRef::Binary(long.as_bytes()))
        .unwrap();
    p.client
        .send(p.now, Message::binary(long.clone().into_bytes()))
        .unwrap();
    let out = drain_transmit(&mut p.client);
    assert_eq!(p.client.pending_transmit(), 0);
    let frames = parse_frames(&out);
    let rsv: Vec<u8> = frames.iter().map(|f| f.rsv).collect();
    assert_eq!(rsv, [0b100, 0, 0b100, 0b100]);
    assert!(frames[2].payload.len() < long.len() / 5);
    p.server.feed_bytes(p.now, &out).unwrap();
    assert_eq!(
        messages(&drain_events(&mut p.server)),
        vec![
            Message::text(&long),
            Message::text("short"),
            Message::binary(long.clone().into_bytes()),
            Message::binary(long.clone().into_bytes())
        ]
    );
}

#[test]
fn compressed_streamed_sends_reach_an_assembling_receiver_whole() {
    let cfg = DeflateConfig::default();
    let mut p = negotiated(&cfg, &cfg, Config::default());
    let text = "é😀 mixed text split inside code points ".repeat(64);
    let bytes = text.as_bytes();
    let cuts = [0, 1, 5, 6, 700, 701, 2000, bytes.len()];
    for w in cuts.windows(2) {
        let last = w[1] == bytes.len();
        send_piece(
            &mut p.client,
            p.now,
            MessageKind::Text,
            &bytes[w[0]..w[1]],
            last,
        )
        .unwrap();
    }
    p.client.send(p.now, Message::text(&text)).unwrap();
    p.drive();
    assert_eq!(
        messages(&p.server_events),
        vec![Message::text(&text), Message::text(&text)]
    );
}

#[test]
fn deflate_bomb_fails_fast_with_1009_and_bounded_memory() {
    // 8 MiB of zeros compresses to a few KiB; the server's limit is 1 MiB.
    let cfg = DeflateConfig::default();
    let limit = 1 << 20;
    let mut p = negotiated(
        &cfg,
        &cfg,
        Config {
            max_message_size: limit,
            ..Config::default()
        },
    );
    let offer = client_offer(&cfg);
    let (_, answer) = server_accept(&parse_extension_list(&offer).unwrap(), &cfg).unwrap();
    let params = client_accept(&parse_extension_list(&answer).unwrap(), &cfg)
        .unwrap()
        .unwrap();
    let mut client_side = Connection::client(
        Instant::ZERO,
        with_deflate(Config::default(), params, &cfg),
        SeededMasks::new(2),
    );
    client_side
        .send(Instant::ZERO, Message::binary(vec![0u8; 8 << 20]))
        .unwrap();
    let bomb = drain_transmit(&mut client_side);
    assert!(bomb.len() < 64 * 1024, "bomb is {} bytes", bomb.len());
    let err = p.server.feed_bytes(p.now, &bomb).unwrap_err();
    assert_eq!(err, ProtocolError::MessageTooLarge { limit });
    assert_eq!(
        sent_close_code(&drain_events_then_transmit(&mut p.server).1),
        Some(1009)
    );
}

#[test]
fn truncated_and_corrupt_compressed_data_close_with_1007() {
    let cfg = DeflateConfig::default();
    // Invalid DEFLATE block type (BTYPE = 11).
    let mut p = negotiated(&cfg, &cfg, Config::default());
    let bad = raw_frame(
        true,
        4,
        2,
        &[0xFF, 0xFF, 0xFF],
        Some([1, 2, 3, 4]),
        Len::Minimal,
    );
    assert_eq!(
        p.server.feed_bytes(p.now, &bad),
        Err(ProtocolError::InvalidCompressedData)
    );
    assert_eq!(
        sent_close_code(&drain_events_then_transmit(&mut p.server).1),
        Some(1007)
    );
}

#[test]
fn rsv1_on_control_or_continuation_frames_is_a_protocol_error() {
    let cfg = DeflateConfig::default();
    let mut p = negotiated(&cfg, &cfg, Config::default());
    let ping = raw_frame(true, 4, 9, b"", Some([0; 4]), Len::Minimal);
    assert_eq!(
        p.server.feed_bytes(p.now, &ping),
        Err(ProtocolError::ReservedBits(4))
    );
    assert_eq!(
        sent_close_code(&drain_events_then_transmit(&mut p.server).1),
        Some(1002)
    );

    let mut p = negotiated(&cfg, &cfg, Config::default());
    let mut input = raw_frame(false, 0, 2, b"ab", Some([0; 4]), Len::Minimal);
    input.extend(raw_frame(true, 4, 0, b"cd", Some([0; 4]), Len::Minimal));
    assert_eq!(
        p.server.feed_bytes(p.now, &input),
        Err(ProtocolError::ReservedBits(4))
    );

    // RSV1 without negotiation.
    let mut plain = Connection::server(Instant::ZERO, Config::default());
    let compressed = raw_frame(true, 4, 1, b"x", Some([0; 4]), Len::Minimal);
    assert_eq!(
        plain.feed_bytes(Instant::ZERO, &compressed),
        Err(ProtocolError::ReservedBits(4))
    );
}

#[test]
fn streaming_mode_inflates_into_chunks() {
    let cfg = DeflateConfig::default();
    let mut p = negotiated(
        &cfg,
        &cfg,
        Config {
            mode: MessageMode::Streaming,
            ..Config::default()
        },
    );
    p.chunk = 13;
    let text = "streamed é 😀 ".repeat(400);
    p.client.send(p.now, Message::text(&text)).unwrap();
    p.drive();
    let mut got = Vec::new();
    let mut chunks = 0;
    for e in &p.server_events {
        if let Event::Chunk(c) = e {
            assert!(std::str::from_utf8(&c.data).is_ok());
            got.extend_from_slice(&c.data);
            chunks += 1;
        }
    }
    assert_eq!(got, text.as_bytes());
    assert!(chunks > 2);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

        /// Random message sequences round-trip through a compressing client and server pair,
        /// for every combination of context takeover and window bits, in both directions.
        #[test]
        fn random_messages_roundtrip_under_every_parameter_set(
            client_bits in 9u8..=15, server_bits in 9u8..=15,
            client_nct in any::<bool>(), server_nct in any::<bool>(),
            chunk in 1usize..2000,
            msgs in proptest::collection::vec(
                prop_oneof![
                    "[a-e ]{0,300}".prop_map(|s| Message::text(&s)),
                    proptest::collection::vec(0u8..4, 0..600).prop_map(Message::binary),
                ], 1..12)
        ) {
            let client_cfg = DeflateConfig {
                max_window_bits: client_bits,
                peer_max_window_bits: server_bits,
                no_context_takeover: client_nct,
                peer_no_context_takeover: server_nct,
                threshold: 16,
                ..DeflateConfig::default()
            };
            let server_cfg = DeflateConfig { threshold: 16, ..DeflateConfig::default() };
            let mut p = negotiated(&client_cfg, &server_cfg, Config::default());
            p.chunk = chunk;
            for m in &msgs {
                p.client.send(p.now, m.clone()).unwrap();
                p.server.send(p.now, m.clone()).unwrap();
            }
            p.drive();
            prop_assert_eq!(messages(&p.server_events), msgs.clone());
            prop_assert_eq!(messages(&p.client_events), msgs);
        }

        /// Reading in inflate steps, the input cut at random points, gives exactly what
        /// reading all of it at once gives: compressed and uncompressed messages (and Pings),
        /// then steps until no work is left.
        #[test]
        fn reading_in_pieces_gives_exactly_what_one_read_gives_in_inflate_steps(
            msgs in proptest::collection::vec(
                prop_oneof![
                    "[a-c]{0,200}".prop_map(|s| Message::text(&s)),
                    (0usize..70_000, any::<u8>()).prop_map(|(n, b)| Message::binary(vec![b; n])),
                    proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Message::binary),
                ], 1..8),
            step in 1usize..40_000,
            max_message_size in prop_oneof![Just(16usize << 20), 0usize..80_000],
            cuts in proptest::collection::vec(0usize..60_000, 0..8),
        ) {
            let config = Config { inflate_step: step, max_message_size, ..Config::default() };
            pieces_agree_with_one_read(&config, &msgs, &cuts);
        }
    }
}

/// A client connection with deflate on, and the bytes it sends for `messages`.
fn compressed_wire(messages: &[Message]) -> Vec<u8> {
    let cfg = DeflateConfig::default();
    let (_, params) = negotiate(&cfg, &cfg);
    let mut client = Connection::client(
        Instant::ZERO,
        with_deflate(Config::default(), params, &cfg),
        SeededMasks::new(3),
    );
    for m in messages {
        client.send(Instant::ZERO, m.clone()).unwrap();
    }
    drain_transmit(&mut client)
}

#[test]
fn inflating_runs_in_bounded_steps_and_keeps_order() {
    let cfg = DeflateConfig::default();
    let server_cfg = Config {
        inflate_step: 1 << 20,
        max_message_size: 16 << 20,
        ..Config::default()
    };
    let mut p = negotiated(&cfg, &cfg, server_cfg);
    let big = Message::binary(vec![7u8; 8 << 20]);
    // "after" is under the threshold: uncompressed, read in place once its turn comes.
    let wire = compressed_wire(&[big.clone(), Message::text("after")]);
    assert!(wire.len() < 64 * 1024);
    let (first, second) = wire.split_at(wire.len() / 2);
    p.server.feed_bytes(p.now, first).unwrap();
    assert!(
        has_pending_work(&p.server, p.now),
        "one call inflates at most about 1 MiB"
    );
    assert!(drain_events(&mut p.server).is_empty());
    // Input that arrives meanwhile waits its turn.
    p.server.feed_bytes(p.now, second).unwrap();
    assert!(drain_events(&mut p.server).is_empty());
    let mut steps = 1;
    let mut events = Vec::new();
    while has_pending_work(&p.server, p.now) {
        p.server.handle_timeout(p.now);
        events.extend(drain_events(&mut p.server));
        steps += 1;
        assert!(steps < 100);
    }
    // About 1 MiB per step (a step may overshoot by the codec's 32 KiB output chunk).
    assert!(steps >= 6, "8 MiB took {steps} steps");
    assert_eq!(messages(&events), vec![big, Message::text("after")]);
    // Once nothing waits, the next message is read at once.
    p.server
        .feed_bytes(p.now, &client_frame(true, 0x1, b"next"))
        .unwrap();
    assert_eq!(messages_of(&mut p.server), vec![Message::text("next")]);
}

/// A server with deflate negotiated (default settings) and `config`, and a client's wire bytes
/// for `messages` (compressed from 64 bytes up, the default threshold), a Ping after each.
fn deflate_server_and_wire(config: &Config, messages: &[Message]) -> (Connection, Vec<u8>) {
    let cfg = DeflateConfig::default();
    let (server_params, client_params) = negotiate(&cfg, &cfg);
    let mut client = Connection::client(
        Instant::ZERO,
        with_deflate(Config::default(), client_params, &cfg),
        SeededMasks::new(3),
    );
    for m in messages {
        client.send(Instant::ZERO, m.clone()).unwrap();
        client.ping(Instant::ZERO, b"p").unwrap();
    }
    let server = Connection::server(
        Instant::ZERO,
        with_deflate(config.clone(), server_params, &cfg),
    );
    (server, drain_transmit(&mut client))
}

/// Every call of a read in steps: its result, events, bytes to transmit, and whether work is
/// left after it.
type Calls = Vec<(Result<(), ProtocolError>, Vec<Event>, Vec<u8>, bool)>;

/// Feed `pieces`, then empty reads while work is left (at most `limit` of them).
fn read_steps<'a>(
    server: &mut Connection,
    pieces: impl Iterator<Item = &'a [u8]>,
    limit: usize,
) -> Calls {
    let empties = std::iter::repeat_n(&[][..], limit);
    let mut calls = Vec::new();
    for piece in pieces.chain(empties) {
        if piece.is_empty() && !has_pending_work(server, Instant::ZERO) {
            break;
        }
        let result = server.feed_bytes(Instant::ZERO, piece);
        calls.push((
            result,
            drain_events(server),
            drain_transmit(server),
            has_pending_work(server, Instant::ZERO),
        ));
    }
    assert!(
        !has_pending_work(server, Instant::ZERO),
        "work left after {limit} steps"
    );
    calls
}

/// The wire cut at `cuts` and read piece by piece, then in steps, ends exactly as reading it
/// whole does: the same events in the same order, the same bytes transmitted, the same
/// error; and work is left only after reads that succeeded.
fn pieces_agree_with_one_read(config: &Config, messages: &[Message], cuts: &[usize]) {
    let (mut cut_up, wire) = deflate_server_and_wire(config, messages);
    let (mut whole, _) = deflate_server_and_wire(config, messages);
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(wire.len())).collect();
    cuts.extend([0, wire.len()]);
    cuts.sort_unstable();
    // Every step inflates or reads at least a byte (step budget: `inflate_step` bytes).
    let total: usize = messages.iter().map(|m| m.payload().len()).sum();
    let limit = (total + wire.len()) / config.inflate_step.max(1) + 100;
    let a = read_steps(
        &mut cut_up,
        cuts.windows(2).map(|w| &wire[w[0]..w[1]]),
        limit,
    );
    let b = read_steps(&mut whole, std::iter::once(&wire[..]), limit);
    let flatten = |calls: &Calls| {
        let events: Vec<Event> = calls.iter().flat_map(|c| c.1.clone()).collect();
        let transmit: Vec<u8> = calls.iter().flat_map(|c| c.2.clone()).collect();
        let error = calls.iter().find_map(|c| c.0.clone().err());
        (events, transmit, error)
    };
    let (events_a, transmit_a, error_a) = flatten(&a);
    let (events_b, transmit_b, error_b) = flatten(&b);
    assert_eq!(error_a, error_b);
    assert!(events_a == events_b, "the same events in the same order");
    assert_eq!(transmit_a, transmit_b);
    for (result, _, _, pending) in a.iter().chain(&b) {
        if *pending {
            assert!(
                result.is_ok(),
                "work is left only after a read that succeeded"
            );
        }
    }
}

#[test]
fn a_message_that_inflates_to_exactly_the_step_ends_on_the_next_call() {
    // The compressed message uses all of the step budget: what follows waits for the next
    // call.
    let config = Config {
        inflate_step: 1 << 16,
        ..Config::default()
    };
    let messages = [Message::binary(vec![7u8; 1 << 16]), Message::text("after")];
    pieces_agree_with_one_read(&config, &messages, &[]);
    let (mut server, wire) = deflate_server_and_wire(&config, &messages);
    server.feed_bytes(Instant::ZERO, &wire).unwrap();
    assert!(has_pending_work(&server, Instant::ZERO));
    assert!(drain_events(&mut server).is_empty());
    // A read of nothing does the next step, as `handle_timeout` does.
    server.feed_bytes(Instant::ZERO, &[]).unwrap();
    assert_eq!(messages_of(&mut server), messages);
}

#[test]
fn reading_in_steps_agrees_with_a_step_budget_of_one_byte() {
    let config = Config {
        inflate_step: 1,
        ..Config::default()
    };
    let messages = [
        Message::text(&"t".repeat(125)),
        Message::binary(vec![0u8; 20_000]),
        Message::text("after"),
    ];
    pieces_agree_with_one_read(&config, &messages, &[3, 40, 41, 200]);
}

fn messages_of(conn: &mut Connection) -> Vec<Message> {
    messages(&drain_events(conn))
}

#[test]
fn a_bomb_fed_in_steps_still_fails_with_1009() {
    let cfg = DeflateConfig::default();
    let limit = 4 << 20;
    let server_cfg = Config {
        inflate_step: 1 << 20,
        max_message_size: limit,
        ..Config::default()
    };
    let mut p = negotiated(&cfg, &cfg, server_cfg);
    let wire = compressed_wire(&[Message::binary(vec![0u8; 16 << 20])]);
    p.server.feed_bytes(p.now, &wire).unwrap();
    let mut steps = 0;
    while has_pending_work(&p.server, p.now) {
        p.server.handle_timeout(p.now);
        steps += 1;
        assert!(steps < 100);
    }
    assert_eq!(
        sent_close_code(&drain_events_then_transmit(&mut p.server).1),
        Some(1009)
    );
    assert!(p.server.is_finished());
    assert!(
        (3..=6).contains(&steps),
        "{steps} steps to reach a 4 MiB limit"
    );
}
