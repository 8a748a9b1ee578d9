//! proptest: random message sequences, in both directions, through a compressing client and
//! server pair under random agreed parameters (every window 9-15 per direction, context
//! takeover on or off per direction, every level, state released or kept), fed in random
//! frame sizes. Nothing is lost, nothing is altered, and released state really is released.
#![cfg(feature = "deflate")]

use proptest::prelude::*;
use ws_proto::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use ws_proto::Role;

#[derive(Debug, Clone)]
enum Payload {
    Text {
        seed: u64,
        len: usize,
    },
    Noise {
        seed: u64,
        len: usize,
    },
    /// A copy of an earlier message (exercises context takeover).
    Repeat(usize),
    Empty,
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        (any::<u64>(), 0usize..20_000).prop_map(|(seed, len)| Payload::Text { seed, len }),
        (any::<u64>(), 0usize..3_000).prop_map(|(seed, len)| Payload::Noise { seed, len }),
        (0usize..8).prop_map(Payload::Repeat),
        Just(Payload::Empty),
    ]
}

fn bytes(p: &Payload, history: &[Vec<u8>]) -> Vec<u8> {
    let mut x = match p {
        Payload::Text { seed, .. } | Payload::Noise { seed, .. } => *seed | 1,
        _ => 1,
    };
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    match p {
        Payload::Text { len, .. } => {
            const WORDS: &[&str] = &["alpha ", "beta ", "gamma ", "{\"k\":1} ", "\n", "delta "];
            let mut v = Vec::with_capacity(len + 8);
            while v.len() < *len {
                v.extend_from_slice(WORDS[(next() % WORDS.len() as u64) as usize].as_bytes());
            }
            v.truncate(*len);
            v
        }
        Payload::Noise { len, .. } => (0..*len).map(|_| next() as u8).collect(),
        Payload::Repeat(i) => history.get(*i).cloned().unwrap_or_default(),
        Payload::Empty => Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn sequences_round_trip_under_every_parameter_combination(
        server_bits in 9u8..=15,
        client_bits in 9u8..=15,
        server_nct in any::<bool>(),
        client_nct in any::<bool>(),
        level in 0u8..=9,
        release in any::<bool>(),
        ops in prop::collection::vec((any::<bool>(), payload(), 1usize..5000), 1..12),
    ) {
        let params = DeflateParams {
            server_no_context_takeover: server_nct,
            client_no_context_takeover: client_nct,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        };
        let config = DeflateConfig { level, release_idle_state: release, threshold: 0, ..DeflateConfig::default() };
        let mut client = PerMessageDeflate::new(&params, Role::Client, &config);
        let mut server = PerMessageDeflate::new(&params, Role::Server, &config);
        let mut history = Vec::new();
        for (from_client, p, frame) in ops {
            let msg = bytes(&p, &history);
            let (tx, rx, tx_nct) = if from_client {
                (&mut client, &mut server, client_nct)
            } else {
                (&mut server, &mut client, server_nct)
            };
            let mut wire = Vec::new();
            tx.compress(&msg, &mut wire).unwrap();
            let mut got = Vec::new();
            let limit = msg.len();
            for chunk in wire.chunks(frame) {
                let room = limit - got.len();
                rx.decompress(chunk, &mut got, room).unwrap();
            }
            let room = limit - got.len();
            rx.finish_message(&mut got, room).unwrap();
            prop_assert!(got == msg, "message of {} bytes altered", msg.len());
            if release && tx_nct {
                // This direction's state is dropped by both ends after every message: with no
                // takeover either way, nothing DEFLATE is left allocated between messages.
                if client_nct && server_nct {
                    prop_assert_eq!(tx.memory_usage(), 0);
                    prop_assert_eq!(rx.memory_usage(), 0);
                }
            } else if !msg.is_empty() {
                prop_assert!(tx.memory_usage() > 0 && rx.memory_usage() > 0);
            }
            history.push(msg);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary bytes, cut into arbitrary frames, under an arbitrary limit and step: an
    /// error or some output, never a panic, never more than the limit, and a poisoned codec
    /// after an error.
    #[test]
    fn arbitrary_input_never_panics_and_respects_the_limit(
        data in prop::collection::vec(any::<u8>(), 0..600),
        frame in 1usize..64,
        limit in 0usize..5000,
        step in 1usize..3000,
        nct in any::<bool>(),
        // A valid compressed prefix makes the decoder go deeper before the garbage.
        valid_prefix in any::<bool>(),
    ) {
        let params = DeflateParams {
            client_no_context_takeover: nct,
            ..DeflateParams::default()
        };
        let mut input = Vec::new();
        if valid_prefix {
            let mut c = PerMessageDeflate::new(&params, Role::Client, &DeflateConfig::default());
            c.compress(&bytes(&Payload::Text { seed: 3, len: 3000 }, &[]), &mut input).unwrap();
        }
        input.extend_from_slice(&data);
        let mut s = PerMessageDeflate::new(&params, Role::Server, &DeflateConfig::default());
        let mut out = Vec::new();
        let mut failed = None;
        'frames: for chunk in input.chunks(frame) {
            let mut rest = chunk;
            loop {
                let room = limit - out.len();
                match s.decompress_step(rest, &mut out, room, step) {
                    Ok(p) => {
                        rest = &rest[p.consumed..];
                        if p.done {
                            break;
                        }
                    }
                    Err(e) => {
                        failed = Some(e);
                        break 'frames;
                    }
                }
                prop_assert!(out.len() <= limit);
            }
        }
        if failed.is_none() {
            let room = limit - out.len();
            failed = s.finish_message(&mut out, room).err();
        }
        prop_assert!(out.len() <= limit);
        if let Some(e) = failed {
            prop_assert!([1007, 1009, 1011].contains(&e.close_code()));
            prop_assert_eq!(s.decompress(b"x", &mut out, 10), Err(e));
        }
    }
}
