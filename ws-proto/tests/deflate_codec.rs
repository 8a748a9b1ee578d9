//! permessage-deflate codec: round trips under every parameter combination, the deflate bomb,
//! truncated and corrupt messages, bounded steps, fragmentation and the threshold.
#![cfg(feature = "deflate")]

use ws_proto::deflate::{DeflateConfig, DeflateError, DeflateParams, PerMessageDeflate, TAIL};
use ws_proto::Role;

/// Text-like, repetitive at long distances (so a small window really differs from a large one).
fn text(seed: u64, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "websocket",
        "frame",
        "message",
        "deflate",
        "window",
        "context",
        "server",
        "client",
        "takeover",
        "{\"id\":",
        "\"type\":\"update\"",
        "value",
        "\n",
        "lorem",
        "ipsum",
    ];
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let w = WORDS[(x >> 59) as usize % WORDS.len()];
        out.extend_from_slice(w.as_bytes());
        out.push(b' ');
        if x.is_multiple_of(7) {
            out.extend_from_slice(format!("{}", x % 100_000).as_bytes());
        }
    }
    out.truncate(len);
    out
}

fn params(server_nct: bool, client_nct: bool, server_bits: u8, client_bits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: server_nct,
        client_no_context_takeover: client_nct,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }
}

fn inflate_message(
    codec: &mut PerMessageDeflate,
    wire: &[u8],
    frame: usize,
    limit: usize,
) -> Result<Vec<u8>, DeflateError> {
    let mut out = Vec::new();
    for chunk in wire.chunks(frame.max(1)) {
        let room = limit - out.len();
        codec.decompress(chunk, &mut out, room)?;
    }
    let room = limit - out.len();
    codec.finish_message(&mut out, room)?;
    Ok(out)
}

#[test]
fn round_trip_every_window_and_takeover_both_directions() {
    let config = DeflateConfig {
        threshold: 0,
        ..DeflateConfig::default()
    };
    for bits in 9..=15u8 {
        for nct in [false, true] {
            let p = params(nct, nct, bits, bits);
            let mut client = PerMessageDeflate::new(&p, Role::Client, &config);
            let mut server = PerMessageDeflate::new(&p, Role::Server, &config);
            for (i, len) in [0usize, 1, 100, 0, 5000, 70_000, 0, 3]
                .into_iter()
                .enumerate()
            {
                let msg = text(i as u64 + u64::from(bits), len);
                let mut wire = Vec::new();
                client.compress(&msg, &mut wire).unwrap();
                assert!(!wire.ends_with(&TAIL) || wire.len() < 4, "tail removed");
                let got = inflate_message(&mut server, &wire, 1 + i * 331, 1 << 20).unwrap();
                assert_eq!(got, msg, "client→server bits={bits} nct={nct} len={len}");
                let mut wire = Vec::new();
                server.compress(&msg, &mut wire).unwrap();
                let got = inflate_message(&mut client, &wire, 1 + i * 97, 1 << 20).unwrap();
                assert_eq!(got, msg, "server→client bits={bits} nct={nct} len={len}");
            }
        }
    }
}

#[test]
fn context_takeover_improves_repeated_messages_and_reset_forgets() {
    let config = DeflateConfig::default();
    let msg = text(7, 2000);
    let sizes = |nct: bool| {
        let p = params(nct, nct, 15, 15);
        let mut c = PerMessageDeflate::new(&p, Role::Client, &config);
        let mut a = Vec::new();
        c.compress(&msg, &mut a).unwrap();
        let mut b = Vec::new();
        c.compress(&msg, &mut b).unwrap();
        (a.len(), b.len())
    };
    let (first, second) = sizes(false);
    assert!(
        second * 10 < first,
        "takeover: the repeat is a back-reference ({first} → {second})"
    );
    let (first, second) = sizes(true);
    assert_eq!(first, second, "no takeover: each message compresses alone");
}

#[test]
fn threshold_and_unusable_window() {
    let config = DeflateConfig {
        threshold: 100,
        ..DeflateConfig::default()
    };
    let codec = PerMessageDeflate::new(&DeflateParams::default(), Role::Server, &config);
    assert!(!codec.should_compress(99));
    assert!(codec.should_compress(100));
    // An agreed 8-bit window for what we send cannot be honoured: never compress.
    let p = params(false, false, 8, 15);
    let mut codec = PerMessageDeflate::new(&p, Role::Server, &config);
    assert!(!codec.should_compress(1 << 20));
    assert!(codec.compress(b"x", &mut Vec::new()).is_err());
    // ...but the peer's 8-bit stream inflates.
    let client = PerMessageDeflate::new(&p, Role::Client, &config);
    assert!(client.should_compress(100));
}

#[test]
fn compressor_honours_the_smaller_configured_window() {
    let config = DeflateConfig {
        max_window_bits: 10,
        level: 3,
        mem_level: 2,
        ..DeflateConfig::default()
    };
    let codec = PerMessageDeflate::new(&DeflateParams::default(), Role::Client, &config);
    let s = codec.compressor_settings();
    assert_eq!((s.window_bits, s.level, s.mem_level), (10, 3, 2));
}

#[test]
fn fragmented_outgoing_message_with_compress_part() {
    let config = DeflateConfig::default();
    for nct in [false, true] {
        let p = params(nct, nct, 11, 11);
        let mut client = PerMessageDeflate::new(&p, Role::Client, &config);
        let mut server = PerMessageDeflate::new(&p, Role::Server, &config);
        for round in 0..3 {
            let msg = text(round, 40_000);
            let mut frames = Vec::new();
            let parts: Vec<&[u8]> = msg.chunks(4096).collect();
            for (i, part) in parts.iter().enumerate() {
                let mut frame = Vec::new();
                client
                    .compress_part(part, &mut frame, i + 1 == parts.len())
                    .unwrap();
                frames.push(frame);
            }
            let mut out = Vec::new();
            for f in &frames {
                server.decompress(f, &mut out, usize::MAX).unwrap();
            }
            server.finish_message(&mut out, usize::MAX).unwrap();
            assert_eq!(out, msg);
        }
    }
}

/// A raw DEFLATE stream that inflates to `n_copies * 258 + 1` zero bytes: one fixed-Huffman
/// block of one literal then length-258/distance-1 copies (13 bits each), never finished.
fn bomb(n_copies: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// Huffman codes go most significant bit first.
        fn code(&mut self, code: u64, len: u32) {
            let rev = (0..len).fold(0, |r, i| r | (((code >> i) & 1) << (len - 1 - i)));
            self.put(rev, len);
        }
    }
    let mut b = Bits {
        out: Vec::with_capacity(n_copies * 13 / 8 + 8),
        acc: 0,
        n: 0,
    };
    b.put(0, 1); // BFINAL = 0
    b.put(1, 2); // BTYPE = 01 fixed Huffman
    b.code(0x30, 8); // literal 0
    for _ in 0..n_copies {
        b.code(0b1100_0101, 8); // length code 285: 258
        b.code(0, 5); // distance code 0: 1
    }
    if b.n > 0 {
        b.put(0, 8 - b.n); // pad the last byte
    }
    b.out
}

#[test]
fn deflate_bomb_fails_fast_with_bounded_memory() {
    // 1 GiB of zeros in 6.8 MB of compressed data (162 KiB per KiB).
    let copies = (1usize << 30) / 258;
    let wire = bomb(copies);
    assert!(wire.len() < 7_000_000, "{}", wire.len());
    let limit = 1 << 20;
    let p = DeflateParams::default();
    let mut server = PerMessageDeflate::new(&p, Role::Server, &DeflateConfig::default());
    let mut out = Vec::new();
    let mut frames = 0;
    let err = loop {
        let chunk = &wire[frames * 1024..(frames + 1) * 1024];
        frames += 1;
        let room = limit - out.len();
        if let Err(e) = server.decompress(chunk, &mut out, room) {
            break e;
        }
    };
    assert_eq!(
        err,
        DeflateError::MessageTooBig {
            max_output: err_room(&err)
        }
    );
    assert_eq!(err.close_code(), 1009);
    assert_eq!(
        out.len(),
        limit,
        "everything allowed was written, nothing more"
    );
    assert!(out.iter().all(|&b| b == 0));
    // A 1 KiB frame inflates to about 162 KiB: the limit is crossed within 7 frames.
    assert!(frames <= 7, "{frames} frames");
    assert!(out.capacity() <= limit + 1, "{}", out.capacity());
    // The codec is poisoned.
    assert_eq!(server.decompress(b"\x00", &mut out, 10), Err(err));
    assert_eq!(server.finish_message(&mut out, 10), Err(err));

    // The whole bomb in one call under a 16 MiB limit.
    let limit = 16 << 20;
    let mut server = PerMessageDeflate::new(&p, Role::Server, &DeflateConfig::default());
    let mut out = Vec::new();
    assert_eq!(
        server.decompress(&wire, &mut out, limit),
        Err(DeflateError::MessageTooBig { max_output: limit })
    );
    assert_eq!(out.len(), limit);
    assert!(out.capacity() <= limit + 1);
    // Zero allowed: not one byte.
    let mut server = PerMessageDeflate::new(&p, Role::Server, &DeflateConfig::default());
    let mut out = vec![7u8; 3];
    assert!(matches!(
        server.decompress(&wire[..100], &mut out, 0),
        Err(DeflateError::MessageTooBig { .. })
    ));
    assert_eq!(out, [7, 7, 7]);
}

fn err_room(e: &DeflateError) -> usize {
    match e {
        DeflateError::MessageTooBig { max_output } => *max_output,
        _ => unreachable!(),
    }
}

#[test]
fn decompress_step_bounds_each_call() {
    let wire = bomb(40_000); // ≈ 10 MB
    let mut server = PerMessageDeflate::new(
        &DeflateParams::default(),
        Role::Server,
        &DeflateConfig::default(),
    );
    let mut out = Vec::new();
    let mut input = &wire[..];
    let mut steps = 0;
    let step = 256 * 1024;
    loop {
        let before = out.len();
        let p = server
            .decompress_step(input, &mut out, usize::MAX, step)
            .unwrap();
        assert_eq!(out.len() - before, p.produced);
        assert!(p.produced <= step, "{}", p.produced);
        input = &input[p.consumed..];
        steps += 1;
        if p.done {
            break;
        }
    }
    assert_eq!(out.len(), 40_000 * 258 + 1);
    assert!(steps >= 39, "{steps} steps");

    // A step as large as the limit still sees that the message is too big.
    let mut server = PerMessageDeflate::new(
        &DeflateParams::default(),
        Role::Server,
        &DeflateConfig::default(),
    );
    let mut out = Vec::new();
    let limit = 1 << 20;
    assert_eq!(
        server.decompress_step(&wire, &mut out, limit, limit),
        Err(DeflateError::MessageTooBig { max_output: limit })
    );
    assert_eq!(out.len(), limit);
    // A smaller step stops at the step.
    let mut server = PerMessageDeflate::new(
        &DeflateParams::default(),
        Role::Server,
        &DeflateConfig::default(),
    );
    let mut out = Vec::new();
    let p = server
        .decompress_step(&wire, &mut out, limit, limit - 1)
        .unwrap();
    assert_eq!((out.len(), p.done), (limit - 1, false));
}

#[test]
fn truncated_messages_are_detected() {
    let config = DeflateConfig::default();
    for nct in [true, false] {
        let p = params(nct, nct, 15, 15);
        let (mut total, mut undetected) = (0, 0);
        for seed in 0..5 {
            let msg = text(seed, 3000);
            let mut c = PerMessageDeflate::new(&p, Role::Client, &config);
            let mut wire = Vec::new();
            c.compress(&msg, &mut wire).unwrap();
            for cut in 1..wire.len() {
                let mut s = PerMessageDeflate::new(&p, Role::Server, &config);
                total += 1;
                match inflate_message(&mut s, &wire[..cut], 100, 1 << 20) {
                    Err(e) => assert_eq!(e.close_code(), 1007, "{e:?}"),
                    // Cutting only the last bits of the flush marker loses nothing.
                    Ok(out) if out == msg => {}
                    Ok(_) => undetected += 1,
                }
            }
        }
        if nct {
            // The sender resets after each message: an empty final block is fed after the
            // tail, which ends the stream only on a block boundary: every cut is caught.
            assert_eq!(undetected, 0, "no context takeover, {total} cuts");
        } else {
            // With context takeover the stream must go on, so only a tail that decodes as
            // data reveals the cut (measured: 144 of 3913 cuts go unnoticed).
            assert!(undetected * 100 <= total * 10, "{undetected} of {total}");
        }
    }
}

/// One fixed-Huffman block of literals (bytes < 144 only).
fn fixed_block(last: bool, literals: &[u8]) -> Vec<u8> {
    let mut bits: Vec<bool> = vec![last, true, false];
    for &l in literals {
        assert!(l < 144);
        let code = 0x30 + u32::from(l);
        bits.extend((0..8).rev().map(|i| (code >> i) & 1 == 1));
    }
    bits.extend([false; 7]); // end of block
    bits.chunks(8)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u8, |b, (i, &bit)| b | (u8::from(bit) << i))
        })
        .collect()
}

#[test]
fn final_block_ends_the_stream_and_the_next_message_starts_a_new_one() {
    let p = DeflateParams::default();
    let mut server = PerMessageDeflate::new(&p, Role::Server, &DeflateConfig::default());
    for msg in [&b"hello"[..], b"again", b""] {
        let wire = fixed_block(true, msg);
        assert_eq!(inflate_message(&mut server, &wire, 2, 100).unwrap(), msg);
    }
    // Data after the final block is refused.
    let mut wire = fixed_block(true, b"hi");
    wire.extend_from_slice(&fixed_block(false, b"x"));
    let mut out = Vec::new();
    assert_eq!(
        server.decompress(&wire, &mut out, 100),
        Err(DeflateError::TrailingData)
    );
    let mut server = PerMessageDeflate::new(&p, Role::Server, &DeflateConfig::default());
    let mut out = Vec::new();
    server
        .decompress(&fixed_block(true, b"hi"), &mut out, 100)
        .unwrap();
    assert_eq!(
        server.decompress(b"\x01", &mut out, 100),
        Err(DeflateError::TrailingData)
    );
}

#[test]
fn corrupt_and_random_input_is_an_error_never_a_panic() {
    let p = DeflateParams::default();
    // BTYPE = 11 is reserved.
    let mut server = PerMessageDeflate::new(&p, Role::Server, &DeflateConfig::default());
    let e = inflate_message(&mut server, &[0x07, 0x00], 1, 100).unwrap_err();
    assert_eq!((e, e.close_code()), (DeflateError::InvalidData, 1007));
    // A distance before the start of the stream.
    let mut server = PerMessageDeflate::new(&p, Role::Server, &DeflateConfig::default());
    assert!(inflate_message(&mut server, &bomb(3)[1..], 1, 1 << 20).is_err());
    // Random bytes: an error or some output, within the limit, never a panic.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let mut wire = Vec::new();
        for _ in 0..(x % 64) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            wire.push(x as u8);
        }
        let mut server = PerMessageDeflate::new(&p, Role::Server, &DeflateConfig::default());
        if let Ok(out) = inflate_message(&mut server, &wire, 5, 4096) {
            assert!(out.len() <= 4096);
        }
    }
}

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn compressor_honours_the_agreed_window() {
    // Pseudo-random blocks repeated at distance 2^bits + 100: only a window of more than
    // `bits` bits can refer back to them.
    for bits in 9..=14u8 {
        let block = noise(u64::from(bits), (1 << bits) + 100);
        let msg = [block.clone(), block].concat();
        for (agreed, fits) in [(bits, true), (15, false)] {
            let p = params(false, false, 15, agreed);
            let mut c = PerMessageDeflate::new(&p, Role::Client, &DeflateConfig::default());
            let mut wire = Vec::new();
            c.compress(&msg, &mut wire).unwrap();
            if fits {
                // No reference reaches the copy: noise does not compress. (zlib-rs inflates
                // with a 32 KiB window whatever it is told, so the strict check that no
                // distance exceeds 2^bits is done by C zlib in tests/deflate_python.rs.)
                assert!(
                    wire.len() > msg.len() * 9 / 10,
                    "bits={bits}: {}",
                    wire.len()
                );
            } else {
                assert!(
                    wire.len() < msg.len() * 6 / 10,
                    "bits={bits}: {}",
                    wire.len()
                );
            }
            let mut s = PerMessageDeflate::new(&p, Role::Server, &DeflateConfig::default());
            assert!(inflate_message(&mut s, &wire, 1000, 1 << 20).unwrap() == msg);
        }
    }
}

#[test]
fn empty_compressed_payload_is_the_empty_message() {
    let mut server = PerMessageDeflate::new(
        &DeflateParams::default(),
        Role::Server,
        &DeflateConfig::default(),
    );
    assert_eq!(inflate_message(&mut server, &[], 1, 10).unwrap(), b"");
    // Our compressor sends the single byte 0x00 for an empty message (RFC 7692 section 7.2.1).
    let mut client = PerMessageDeflate::new(
        &DeflateParams::default(),
        Role::Client,
        &DeflateConfig::default(),
    );
    let mut wire = Vec::new();
    client.compress(b"", &mut wire).unwrap();
    assert_eq!(wire, [0x00]);
    assert_eq!(inflate_message(&mut server, &wire, 1, 10).unwrap(), b"");
}

#[test]
fn split_at_every_position_byte_by_byte_and_in_tiny_steps() {
    let p = DeflateParams::default();
    let config = DeflateConfig::default();
    let msgs = [text(11, 2000), text(12, 300), text(11, 2000)];
    let mut c = PerMessageDeflate::new(&p, Role::Client, &config);
    let wires: Vec<Vec<u8>> = msgs
        .iter()
        .map(|m| {
            let mut w = Vec::new();
            c.compress(m, &mut w).unwrap();
            w
        })
        .collect();
    // Context takeover: the third message refers to the first, so every split is replayed on
    // a decompressor that saw the earlier messages whole.
    for (i, wire) in wires.iter().enumerate() {
        for split in 0..=wire.len() {
            let mut s = PerMessageDeflate::new(&p, Role::Server, &config);
            for (m, w) in msgs.iter().zip(&wires).take(i) {
                assert!(inflate_message(&mut s, w, usize::MAX, 1 << 20).unwrap() == *m);
            }
            let mut out = Vec::new();
            s.decompress(&wire[..split], &mut out, 1 << 20).unwrap();
            let room = (1 << 20) - out.len();
            s.decompress(&wire[split..], &mut out, room).unwrap();
            let room = (1 << 20) - out.len();
            s.finish_message(&mut out, room).unwrap();
            assert!(out == msgs[i], "message {i} split at {split}");
        }
    }
    // One byte at a time.
    let mut s = PerMessageDeflate::new(&p, Role::Server, &config);
    for (m, w) in msgs.iter().zip(&wires) {
        assert!(inflate_message(&mut s, w, 1, 1 << 20).unwrap() == *m);
    }
    // Steps of at most one byte of output budget each.
    let mut s = PerMessageDeflate::new(&p, Role::Server, &config);
    for (m, w) in msgs.iter().zip(&wires) {
        let (mut out, mut input, mut calls) = (Vec::new(), &w[..], 0);
        loop {
            let room = (1 << 20) - out.len();
            let step = s.decompress_step(input, &mut out, room, 1).unwrap();
            input = &input[step.consumed..];
            calls += 1;
            if step.done {
                break;
            }
        }
        let room = (1 << 20) - out.len();
        s.finish_message(&mut out, room).unwrap();
        assert!(out == *m);
        assert!(
            calls >= m.len(),
            "one byte of output per step: {calls} calls"
        );
    }
}

/// The examples of RFC 7692 section 7.2.3, each fed whole and one byte per frame.
#[test]
fn rfc7692_examples_inflate() {
    let p = DeflateParams::default();
    let config = DeflateConfig::default();
    let hello = b"Hello".to_vec();
    // 7.2.3.1: one compressed DEFLATE block.
    let one_block = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    // 7.2.3.2: the second "Hello" refers to the first through the shared window.
    let shared = [0xf2, 0x00, 0x11, 0x00, 0x00];
    // 7.2.3.3: a block with no compression.
    let stored = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    // 7.2.3.4: BFINAL set, then the 0x00 left of the appended empty stored block.
    let final_block = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    // 7.2.3.5: two DEFLATE blocks in one message.
    let two_blocks = [
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    for frame in [usize::MAX, 1] {
        let mut s = PerMessageDeflate::new(&p, Role::Server, &config);
        assert_eq!(
            inflate_message(&mut s, &one_block, frame, 100).unwrap(),
            hello
        );
        assert_eq!(inflate_message(&mut s, &shared, frame, 100).unwrap(), hello);
        for wire in [
            &stored[..],
            &two_blocks,
            &final_block,
            &one_block,
            &final_block,
            &stored,
        ] {
            assert_eq!(
                inflate_message(&mut s, wire, frame, 100).unwrap(),
                hello,
                "{wire:02x?}"
            );
        }
        // After a final block only an empty stored block may follow.
        let mut s = PerMessageDeflate::new(&p, Role::Server, &config);
        let mut with_block = final_block[..7].to_vec();
        with_block.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
        assert_eq!(
            inflate_message(&mut s, &with_block, frame, 100).unwrap(),
            hello
        );
        let mut s = PerMessageDeflate::new(&p, Role::Server, &config);
        let mut junk = final_block.to_vec();
        junk.push(0x01);
        assert_eq!(
            inflate_message(&mut s, &junk, frame, 100),
            Err(DeflateError::TrailingData)
        );
    }
}
