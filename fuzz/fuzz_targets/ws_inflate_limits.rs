//! permessage-deflate's decompressor (`PerMessageDeflate::decompress`, `decompress_step`,
//! `finish_message`) on arbitrary compressed input, and on real compressed messages (some of
//! them deflate bombs), frame by frame under a small `max_output`.
//!
//! Invariants: never panics; no call appends more than it was allowed (the message's
//! remaining budget, and `max(max_step, 1)` for a step); the output buffer never grows past
//! its length plus the budget plus one byte; a message larger than its budget fails with
//! `MessageTooBig` (close 1009), and one within it inflates back to exactly what was
//! compressed; after an error every later call returns the same error (poisoned).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::deflate::{DeflateConfig, DeflateError, DeflateParams, PerMessageDeflate};
use ws_proto::Role;

#[derive(Arbitrary, Debug)]
struct Input {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_bits: u8,
    client_bits: u8,
    receiver_is_server: bool,
    release_idle_state: bool,
    level: u8,
    messages: Vec<Msg>,
}

#[derive(Arbitrary, Debug)]
enum Payload {
    /// Arbitrary bytes claimed to be compressed.
    Raw(Vec<u8>),
    /// A real message, compressed by the peer's codec.
    Plain(Vec<u8>),
    /// A highly compressible message: runs of bytes (a small deflate bomb).
    Runs(Vec<(u8, u16)>),
}

#[derive(Arbitrary, Debug)]
struct Msg {
    payload: Payload,
    /// Split the compressed bytes into frames at these points.
    cuts: Vec<u16>,
    max_output: u16,
    /// Inflate in steps of at most this many bytes.
    max_step: Option<u16>,
}

fn bits(b: u8) -> u8 {
    9 + b % 7
}

/// Inflates one frame under `room`; returns what was appended.
fn inflate(
    codec: &mut PerMessageDeflate,
    frame: &[u8],
    out: &mut Vec<u8>,
    room: usize,
    max_step: Option<usize>,
    fresh: bool,
) -> Result<(), DeflateError> {
    let mut input = frame;
    let mut room = room;
    loop {
        let (len, cap) = (out.len(), out.capacity());
        let r = match max_step {
            None => codec
                .decompress(input, out, room)
                .map(|()| (input.len(), true)),
            Some(step) => codec
                .decompress_step(input, out, room, step)
                .map(|p| (p.consumed, p.done)),
        };
        let appended = out.len() - len;
        assert!(appended <= room, "appended {appended} > allowed {room}");
        if let Some(step) = max_step {
            assert!(appended <= step.max(1), "step appended {appended} > {step}");
        }
        assert!(
            out.capacity() <= cap.max(len + room + 1),
            "buffer grew to {} for {len} + {room}",
            out.capacity()
        );
        // (A poisoned codec repeats its first error, with that call's limit.)
        if let (true, Err(DeflateError::MessageTooBig { max_output })) = (fresh, r) {
            assert_eq!(max_output, room);
        }
        let (consumed, done) = r?;
        assert!(consumed <= input.len());
        room -= appended;
        input = &input[consumed..];
        if done {
            assert!(input.is_empty() || max_step.is_none());
            return Ok(());
        }
        assert!(appended > 0 || consumed > 0, "a step made no progress");
    }
}

fuzz_target!(|input: Input| {
    let params = DeflateParams {
        server_no_context_takeover: input.server_no_context_takeover,
        client_no_context_takeover: input.client_no_context_takeover,
        server_max_window_bits: bits(input.server_bits),
        client_max_window_bits: bits(input.client_bits),
    };
    let (rx_role, tx_role) = if input.receiver_is_server {
        (Role::Server, Role::Client)
    } else {
        (Role::Client, Role::Server)
    };
    let config = DeflateConfig {
        release_idle_state: input.release_idle_state,
        level: input.level % 10,
        ..DeflateConfig::default()
    };
    let mut rx = PerMessageDeflate::new(&params, rx_role, &config);
    let mut tx = PerMessageDeflate::new(&params, tx_role, &config);
    // Once the sender's and receiver's contexts may differ (raw bytes went in, or a message
    // failed), real messages are no longer expected to round-trip.
    let mut in_sync = true;
    let mut poisoned: Option<DeflateError> = None;

    for msg in input.messages.iter().take(16) {
        let (compressed, plain) = match &msg.payload {
            Payload::Raw(b) => {
                in_sync = false;
                (b.clone(), None)
            }
            Payload::Plain(p) => {
                let mut c = Vec::new();
                tx.compress(p, &mut c).expect("compressing");
                (c, Some(p.clone()))
            }
            Payload::Runs(runs) => {
                let mut p = Vec::new();
                // At most 8 runs of 8 KiB: up to 64 KiB, still a 1000:1 bomb, and fast.
                for &(byte, n) in runs.iter().take(8) {
                    p.resize(p.len() + usize::from(n % 8192), byte);
                }
                let mut c = Vec::new();
                tx.compress(&p, &mut c).expect("compressing");
                (c, Some(p))
            }
        };
        let budget = usize::from(msg.max_output);
        let step = msg.max_step.map(usize::from);
        let mut cuts: Vec<usize> = msg
            .cuts
            .iter()
            .take(8)
            .map(|&c| usize::from(c) % (compressed.len() + 1))
            .collect();
        cuts.sort_unstable();
        cuts.push(compressed.len());

        let mut out = Vec::new();
        let mut result = Ok(());
        let mut at = 0;
        for &cut in &cuts {
            let room = budget - out.len();
            result = inflate(
                &mut rx,
                &compressed[at..cut],
                &mut out,
                room,
                step,
                poisoned.is_none(),
            );
            at = cut;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            let (len, room) = (out.len(), budget - out.len());
            result = rx.finish_message(&mut out, room);
            assert!(out.len() - len <= room);
        }
        assert!(
            out.len() <= budget,
            "{} bytes out of a {budget}-byte budget",
            out.len()
        );

        if let Some(p) = poisoned {
            assert_eq!(result, Err(p), "a poisoned codec must keep failing");
            continue;
        }
        match result {
            Ok(()) => {
                if let (true, Some(p)) = (in_sync, &plain) {
                    assert_eq!(&out, p, "round trip");
                }
            }
            Err(e) => {
                let _ = e.to_string();
                assert!(matches!(e.close_code(), 1007 | 1009 | 1011));
                if let (true, Some(p)) = (in_sync, &plain) {
                    assert!(
                        p.len() > budget,
                        "{e:?} for a valid message within its budget"
                    );
                    assert!(matches!(e, DeflateError::MessageTooBig { .. }), "{e:?}");
                }
                poisoned = Some(e);
                // A later call fails the same way at once.
                let mut more = Vec::new();
                assert_eq!(rx.decompress(b"\x00", &mut more, 10), Err(e));
                assert!(more.is_empty());
            }
        }
    }
});
