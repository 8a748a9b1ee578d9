//! The reader on every kernel this CPU has: any chunking of the input (whole, in pieces, a
//! byte at a time, reads of the room it offers) gives the same messages and errors; text
//! against `core::str::from_utf8`; every rule and limit on the in-place path; buffers.

use super::*;
use crate::config::Config;
use crate::frame::FrameError;
use crate::message::Event;
use crate::unmask_utf8::KernelKind;
use alloc::vec::Vec;

const KEY: [u8; 4] = [0x3B, 0xE7, 0x01, 0x92];

fn kernels() -> Vec<Kernel> {
    KernelKind::ALL
        .iter()
        .filter_map(|&k| Kernel::new(k))
        .collect()
}

fn limits(config: &Config) -> Limits {
    Limits {
        max_frame_payload: config.max_frame_payload,
        max_message_size: config.max_message_size,
        max_fragments: config.max_fragments,
        max_read: config.max_read_size,
        mode: config.mode,
    }
}

/// One frame: `fin`, `opcode`, the shortest length encoding unless `len16` forces the
/// 16-bit one (for a payload under 126 bytes), masked with `KEY` if `masked`.
fn frame_with(fin: bool, opcode: u8, payload: &[u8], masked: bool, len16: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mask = masked.then_some(KEY);
    if len16 && payload.len() < 126 {
        let bit = if masked { 0x80 } else { 0 };
        out.extend([
            (u8::from(fin) << 7) | opcode,
            bit | 126,
            0,
            payload.len() as u8,
        ]);
        out.extend(mask.iter().flatten());
    } else {
        FrameHeader {
            fin,
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
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

fn frame(opcode: u8, payload: &[u8], masked: bool, len16: bool) -> Vec<u8> {
    frame_with(true, opcode, payload, masked, len16)
}

/// How the input arrives.
#[derive(Debug, Clone, Copy)]
enum Feed {
    /// In pieces of this many bytes (`usize::MAX`: all at once).
    Pieces(usize),
    /// As a driver reads: each read fills the room `input_buffer` offers.
    Reads,
}

type Outcome = (Vec<Event>, Option<ProtocolError>);

fn event(i: Inbound) -> Event {
    match i {
        Inbound::Event(e) => e,
        Inbound::Ping(p) => Event::Ping(p),
        Inbound::Close(c) => Event::CloseReceived(c),
    }
}

/// Feed `wire` to a server's (or client's) reader on `kernel`; every event and the first
/// error.
fn run(wire: &[u8], config: &Config, server: bool, feed: Feed, kernel: Kernel) -> Outcome {
    let mut reader = Reader::new(server, limits(config), kernel, 0);
    let mut events = Vec::new();
    let mut pos = 0;
    while pos < wire.len() {
        let buf = reader.input_buffer();
        let n = match feed {
            Feed::Pieces(n) => n.min(wire.len() - pos),
            Feed::Reads => (buf.capacity() - buf.len()).min(wire.len() - pos),
        };
        assert!(n > 0, "input_buffer offers room");
        buf.extend_from_slice(&wire[pos..pos + n]);
        pos += n;
        match reader.read(None, &mut { usize::MAX }, &mut |i| events.push(event(i))) {
            Ok(ReadEnd::Closed) => break,
            Ok(_) => {}
            Err(e) => return (events, Some(e)),
        }
    }
    (events, None)
}

/// `wire` read every way on every kernel agrees with reading it a byte at a time on the
/// portable kernel; returns the outcome.
fn agree(wire: &[u8], config: &Config, server: bool) -> Outcome {
    let portable = Kernel::new(KernelKind::Portable).unwrap();
    let reference = run(wire, config, server, Feed::Pieces(1), portable);
    for kernel in kernels() {
        for feed in [
            Feed::Pieces(usize::MAX),
            Feed::Pieces(1000),
            Feed::Pieces(7),
            Feed::Reads,
        ] {
            let got = run(wire, config, server, feed, kernel);
            // (`assert!`, not `assert_eq!`: the outcomes can be megabytes long.)
            assert!(got == reference, "{:?}, {feed:?}", kernel.kind());
        }
    }
    reference
}

/// `text` as one frame is accepted exactly when it is UTF-8, and arrives intact.
fn check_text(text: &[u8]) {
    let wire = frame(1, text, true, false);
    let (events, err) = agree(&wire, &Config::default(), true);
    match core::str::from_utf8(text) {
        Ok(s) => {
            assert_eq!(err, None, "{} bytes", text.len());
            assert_eq!(events, [Event::Message(Message::text(s))]);
        }
        Err(_) => {
            assert_eq!(err, Some(ProtocolError::InvalidUtf8), "{text:02x?}");
            assert!(events.is_empty());
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

#[test]
fn text_of_every_shape_agrees_with_from_utf8() {
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
    for len in [
        2, 60, 125, 126, 127, 128, 129, 191, 192, 255, 1000, 1024, 1027, 4096, 8192, 20_000,
    ] {
        let mut positions = alloc::vec![0, 1, len / 2];
        positions.extend((1..=2).map(|b| len - b));
        // Around the last vector edges (the one-pass kernels check whole vectors).
        for edge in [len / 64 * 64, len / 32 * 32usize] {
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
fn every_byte_pair_at_the_end_of_a_message() {
    for kernel in kernels() {
        for (len, pos) in [(20, 18), (126, 124), (128, 126), (200, 62), (1024, 1022)] {
            for b1 in 0..=255u8 {
                for b2 in 0..=255u8 {
                    let mut t = alloc::vec![b'a'; len];
                    t[pos] = b1;
                    t[pos + 1] = b2;
                    let wire = frame(1, &t, true, false);
                    let (events, err) = run(
                        &wire,
                        &Config::default(),
                        true,
                        Feed::Pieces(usize::MAX),
                        kernel,
                    );
                    let at = || {
                        alloc::format!("{b1:02x} {b2:02x} at {pos} of {len}, {:?}", kernel.kind())
                    };
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
}

#[test]
fn runs_of_mixed_frames_agree_however_they_arrive() {
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
            300_000,
        ] {
            let t = prefix(len);
            wire.extend(frame(1, &t, server, false));
            expected.push(Event::Message(Message::text(
                core::str::from_utf8(&t).unwrap(),
            )));
            let b: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            wire.extend(frame(2, &b, server, false));
            expected.push(Event::Message(Message::binary(b.clone())));
            // A Ping between them, and a fragmented message with a Pong in the middle.
            wire.extend(frame(9, b"hi", server, false));
            expected.push(Event::Ping(Bytes::from_static(b"hi")));
            let cut = len / 3;
            wire.extend(frame_with(false, 2, &b[..cut], server, false));
            wire.extend(frame(10, b"po", server, false));
            wire.extend(frame_with(true, 0, &b[cut..], server, false));
            expected.push(Event::Pong(Bytes::from_static(b"po")));
            expected.push(Event::Message(Message::binary(b)));
        }
        let (events, err) = agree(&wire, &Config::default(), server);
        assert_eq!(err, None);
        assert!(events == expected, "server: {server}");
        for piece in [130, 4096, 9000, 70_001] {
            let got = run(
                &wire,
                &Config::default(),
                server,
                Feed::Pieces(piece),
                Kernel::best(),
            );
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
fn invalid_text_fails_inside_a_partial_frame() {
    // A 100 KB text frame whose 10th byte is invalid: the error comes before the rest
    // arrives, on every kernel and however it is cut.
    let mut t = mixed(100_000);
    t[10] = 0xFF;
    let wire = frame(1, &t, true, false);
    for kernel in kernels() {
        let mut reader = Reader::new(true, limits(&Config::default()), kernel, 0);
        reader.input_buffer().extend_from_slice(&wire[..100]);
        let got = reader.read(None, &mut { usize::MAX }, &mut |_| panic!("no message"));
        assert_eq!(got, Err(ProtocolError::InvalidUtf8), "{:?}", kernel.kind());
    }
}

#[test]
fn frames_keep_every_rule_and_limit() {
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
    // A fragmented message over the message limit fails at the frame that crosses it.
    let mut wire = frame_with(false, 2, &payload[..200], true, false);
    wire.extend(frame_with(true, 0, &payload[..200], true, false));
    let (events, err) = agree(&wire, &limit, true);
    assert_eq!(err, Some(ProtocolError::MessageTooLarge { limit: 300 }));
    assert!(events.is_empty());
    // No fragments allowed at all.
    let limit = Config {
        max_fragments: 0,
        ..Config::default()
    };
    let (_, err) = agree(&frame(2, &payload[..10], true, false), &limit, true);
    assert_eq!(err, Some(ProtocolError::TooManyFragments { limit: 0 }));
    // RSV1 without an extension, and a frame without FIN then its continuation.
    let mut rsv = frame(2, &payload[..200], true, false);
    rsv[0] |= 0x40;
    let (_, err) = agree(&rsv, &Config::default(), true);
    assert_eq!(err, Some(ProtocolError::ReservedBits(4)));
    let mut wire = frame_with(false, 2, &payload[..200], true, false);
    wire.extend(frame(0, &payload[..150], true, false));
    let (events, err) = agree(&wire, &Config::default(), true);
    assert_eq!(err, None);
    assert!(events == [Event::Message(Message::binary(alloc::vec![b'x'; 350]))]);
    // A new data frame inside a fragmented message, and a continuation with none.
    let mut wire = frame_with(false, 2, &payload[..20], true, false);
    wire.extend(frame(2, &payload[..20], true, false));
    let (_, err) = agree(&wire, &Config::default(), true);
    assert_eq!(err, Some(ProtocolError::ExpectedContinuation));
    let (_, err) = agree(
        &frame(0, &payload[..20], true, false),
        &Config::default(),
        true,
    );
    assert_eq!(err, Some(ProtocolError::UnexpectedContinuation));
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
    // A frame cut short waits for the rest; so does a control frame.
    for wire in [
        frame(2, &payload, true, false),
        frame(9, b"ping", true, false),
    ] {
        let (events, err) = agree(&wire[..wire.len() - 1], &Config::default(), true);
        assert_eq!((events.len(), err), (0, None));
    }
    // Nothing after a Close is read.
    let mut wire = frame(8, &[0x03, 0xE8], true, false);
    wire.extend(frame(2, b"after", true, false));
    let (events, err) = agree(&wire, &Config::default(), true);
    assert_eq!(err, None);
    assert_eq!(
        events,
        [Event::CloseReceived(Some(crate::close::CloseFrame {
            code: crate::close::CloseCode::NORMAL,
            reason: alloc::string::String::new(),
        }))]
    );
}

#[test]
fn streaming_mode_hands_out_pieces_as_they_arrive() {
    let config = Config {
        mode: MessageMode::Streaming,
        ..Config::default()
    };
    let text = mixed(5000);
    let wire = frame(1, &text, true, false);
    for piece in [1, 7, 1000, usize::MAX] {
        let (events, err) = run(&wire, &config, true, Feed::Pieces(piece), Kernel::best());
        assert_eq!(err, None);
        let mut got = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let Event::Chunk(c) = e else { panic!("{e:?}") };
            assert_eq!(c.first, i == 0);
            assert_eq!(c.last, i + 1 == events.len());
            assert!(core::str::from_utf8(&c.data).is_ok(), "whole code points");
            got.extend_from_slice(&c.data);
        }
        assert_eq!(got, text, "pieces of {piece}");
    }
}

/// A masked binary frame carrying `payload`.
fn masked_binary(payload: &[u8]) -> Vec<u8> {
    frame(2, payload, true, false)
}

fn next_binary(events: &mut Vec<Inbound>) -> Bytes {
    match events.remove(0) {
        Inbound::Event(Event::Message(Message::Binary(b))) => b,
        other => panic!("expected a binary message, got {other:?}"),
    }
}

fn reader() -> Reader {
    Reader::new(true, limits(&Config::default()), Kernel::best(), 0)
}

fn feed(r: &mut Reader, bytes: &[u8], out: &mut Vec<Inbound>) {
    r.input_buffer().extend_from_slice(bytes);
    r.read(None, &mut { usize::MAX }, &mut |i| out.push(i))
        .unwrap();
}

#[test]
fn messages_the_application_keeps_are_never_overwritten() {
    for fragmented in [false, true] {
        let mut r = reader();
        let mut kept = Vec::new();
        let mut wire = Vec::new();
        for i in 0..6u8 {
            let p = alloc::vec![i; 70_000 + usize::from(i) * 1000];
            if fragmented {
                wire.extend(frame_with(false, 2, &p[..1000], true, false));
                wire.extend(frame_with(true, 0, &p[1000..], true, false));
            } else {
                wire.extend(masked_binary(&p));
            }
        }
        // In pieces that end inside messages, so that a new message starts while the last
        // one is still held.
        let mut events = Vec::new();
        for piece in wire.chunks(50_000) {
            feed(&mut r, piece, &mut events);
            while !events.is_empty() {
                kept.push(next_binary(&mut events));
            }
        }
        assert_eq!(kept.len(), 6);
        for (i, m) in kept.iter().enumerate() {
            assert_eq!(m.len(), 70_000 + i * 1000);
            assert!(
                m.iter().all(|&b| usize::from(b) == i),
                "message {i} changed"
            );
        }
    }
}

#[test]
fn a_small_message_lets_the_spare_buffer_go() {
    let mut r = reader();
    let mut wire = Vec::new();
    for i in 0..3u8 {
        // Fragmented: assembled in the message buffer.
        let p = alloc::vec![i; 50_000];
        wire.extend(frame_with(false, 2, &p[..20_000], true, false));
        wire.extend(frame_with(true, 0, &p[20_000..], true, false));
    }
    let mut events = Vec::new();
    for piece in wire.chunks(30_000) {
        feed(&mut r, piece, &mut events);
        events.clear();
    }
    assert!(r.spare_buf.is_some(), "large messages keep a spare");
    for small in [&[1u8; 20][..], &[2u8; 300][..]] {
        // Whole in one read, and in two.
        for split in [0, 5] {
            r.spare_buf = Some(BytesMut::with_capacity(1));
            let wire = masked_binary(small);
            feed(&mut r, &wire[..split], &mut events);
            feed(&mut r, &wire[split..], &mut events);
            assert_eq!(&next_binary(&mut events)[..], small);
            assert!(
                r.spare_buf.is_none(),
                "{} bytes, split {split}",
                small.len()
            );
        }
    }
}

#[test]
fn the_last_growth_of_an_assembled_message_fits_it_exactly() {
    let mut r = reader();
    let payload = alloc::vec![7u8; 100_000];
    let mut wire = frame_with(false, 2, &payload[..10], true, false);
    wire.extend(frame_with(true, 0, &payload[10..], true, false));
    let (head, last) = wire.split_at(wire.len() - 10);
    let mut events = Vec::new();
    for piece in head.chunks(7_000) {
        feed(&mut r, piece, &mut events);
    }
    // No doubling past the declared end for the last bytes, and room for all of them.
    assert_eq!(r.msg_buf.capacity(), 100_000);
    feed(&mut r, last, &mut events);
    assert_eq!(&next_binary(&mut events)[..], &payload[..]);
}

#[test]
fn a_message_arriving_in_place_grows_its_room_with_what_arrived() {
    let mut r = reader();
    let payload = alloc::vec![9u8; 1 << 20];
    let wire = masked_binary(&payload);
    let mut events = Vec::new();
    let mut pos = 0;
    let mut rooms = Vec::new();
    while pos < wire.len() {
        let read_room = r.read_room;
        let buf = r.input_buffer();
        let room = buf.capacity() - buf.len();
        rooms.push(room);
        // Never more than doubling what arrived (or the least room): not the declared size.
        assert!(room <= buf.len().max(read_room) + read_room, "room {room}");
        let n = room.min(wire.len() - pos);
        buf.extend_from_slice(&wire[pos..pos + n]);
        pos += n;
        r.read(None, &mut { usize::MAX }, &mut |i| events.push(i))
            .unwrap();
    }
    assert_eq!(&next_binary(&mut events)[..], &payload[..]);
    // Once a large message was seen, the next one of its size gets room for all of it at
    // once: one read for the rest, landing where the message is handed out from.
    let mut reads = 0;
    let mut pos = 0;
    while pos < wire.len() {
        let buf = r.input_buffer();
        let n = (buf.capacity() - buf.len()).min(wire.len() - pos);
        buf.extend_from_slice(&wire[pos..pos + n]);
        pos += n;
        reads += 1;
        r.read(None, &mut { usize::MAX }, &mut |i| events.push(i))
            .unwrap();
    }
    assert_eq!(&next_binary(&mut events)[..], &payload[..]);
    assert!(reads <= 3, "{reads} reads for the second 1 MiB message");
    assert!(
        rooms.len() > 3,
        "the first one grew step by step: {rooms:?}"
    );
}

#[test]
fn the_read_room_follows_the_reads() {
    let mut r = reader();
    assert_eq!(r.input_buffer().capacity(), MIN_READ);
    // Reads that fill the room double it, up to the limit.
    let mut events = Vec::new();
    for _ in 0..10 {
        let buf = r.input_buffer();
        let room = buf.capacity() - buf.len();
        // One whole frame that fills the room exactly.
        let header = if room - 8 <= 65_535 { 8 } else { 14 };
        let wire = masked_binary(&alloc::vec![1u8; room - header]);
        assert_eq!(wire.len(), room);
        buf.extend_from_slice(&wire);
        r.read(None, &mut { usize::MAX }, &mut |i| events.push(i))
            .unwrap();
    }
    assert_eq!(events.len(), 10);
    assert_eq!(r.read_room, 128 << 10);
}

#[test]
fn the_read_room_shrinks_again_when_reads_stay_small() {
    let mut r = reader();
    r.read_room = 128 << 10;
    let mut events = Vec::new();
    for _ in 0..10 {
        feed(&mut r, &masked_binary(b"small"), &mut events);
    }
    assert_eq!(events.len(), 10);
    assert_eq!(r.read_room, MIN_READ);
}
