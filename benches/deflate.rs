//! permessage-deflate: compressed echo throughput and ratio on text-like payloads, ours
//! against peers with the same settings, in the same run.
//!
//! Echo = client compresses → server inflates → server compresses → client inflates, per
//! message, codec level (no framing). Peers: soketto 0.8's permessage-deflate extension
//! (flate2 over C zlib; always level 1, no context takeover, fresh zlib state per message),
//! and flate2 over C zlib with context takeover at levels 6 and 1 (what a takeover-capable
//! peer such as yawc does). Throughput is payload MB/s of whole echoes, best of 5 runs; ratio
//! is compressed bytes / payload bytes (smaller is better).
//!
//!     cargo bench -p benches --bench deflate

use std::hint::black_box;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use soketto::base::{Header, OpCode};
use soketto::extension::deflate::Deflate;
use soketto::extension::Extension;
use soketto::{Mode, Storage};
use ws_proto::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use ws_proto::Role;

/// Text-like JSON messages of about `size` bytes: field names and values repeat across
/// messages (as in a real stream of updates), numbers vary.
fn corpus(size: usize, count: usize) -> Vec<Vec<u8>> {
    const NAMES: &[&str] = &[
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ];
    const WORDS: &[&str] = &[
        "price",
        "update",
        "order",
        "filled",
        "cancelled",
        "market",
        "limit",
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "status",
        "pending",
        "ok",
    ];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..count)
        .map(|i| {
            let mut m = String::with_capacity(size + 200);
            m.push_str(&format!("{{\"seq\":{i},\"events\":["));
            while m.len() < size {
                let n = next();
                m.push_str(&format!(
                    "{{\"user\":\"{}\",\"action\":\"{}\",\"note\":\"{} {} {}\",\"qty\":{},\"px\":{}.{:02}}},",
                    NAMES[(n % 8) as usize],
                    WORDS[(n >> 8) as usize % WORDS.len()],
                    WORDS[(n >> 16) as usize % WORDS.len()],
                    WORDS[(n >> 24) as usize % WORDS.len()],
                    WORDS[(n >> 32) as usize % WORDS.len()],
                    (n >> 40) % 1000,
                    (n >> 20) % 500,
                    (n >> 50) % 100
                ));
            }
            m.push_str("]}");
            m.into_bytes()
        })
        .collect()
}

struct Outcome {
    best: Duration,
    compressed: usize,
}

fn best_of<F: FnMut() -> usize>(runs: usize, mut f: F) -> Outcome {
    let mut best = Duration::MAX;
    let mut compressed = 0;
    for _ in 0..runs {
        let t = Instant::now();
        compressed = f();
        best = best.min(t.elapsed());
    }
    Outcome { best, compressed }
}

fn ours(msgs: &[Vec<u8>], params: DeflateParams, config: &DeflateConfig) -> usize {
    let mut client = PerMessageDeflate::new(&params, Role::Client, config);
    let mut server = PerMessageDeflate::new(&params, Role::Server, config);
    let (mut wire, mut text) = (Vec::new(), Vec::new());
    let mut compressed = 0;
    let mut hop = |tx: &mut PerMessageDeflate, rx: &mut PerMessageDeflate, m: &[u8]| {
        wire.clear();
        text.clear();
        tx.compress(m, &mut wire).unwrap();
        compressed += wire.len();
        rx.decompress(&wire, &mut text, 64 << 20).unwrap();
        rx.finish_message(&mut text, 64 << 20).unwrap();
        assert_eq!(text.len(), m.len());
        black_box(&text);
    };
    for m in msgs {
        hop(&mut client, &mut server, m);
        hop(&mut server, &mut client, m);
    }
    compressed / 2
}

fn soketto(msgs: &[Vec<u8>]) -> usize {
    let enabled = |mode| {
        let mut d = Deflate::new(mode);
        // The server accepts a bare offer; the client needs the server to confirm
        // server_no_context_takeover, which it always asks for.
        let params = match mode {
            Mode::Server => vec![],
            Mode::Client => vec![soketto::extension::Param::new("server_no_context_takeover")],
        };
        d.configure(&params).unwrap();
        assert!(d.is_enabled());
        d
    };
    let mut client = enabled(Mode::Client);
    let mut server = enabled(Mode::Server);
    let mut compressed = 0;
    let mut text = Vec::new();
    let mut hop = |tx: &mut Deflate, m: &[u8]| {
        let mut header = Header::new(OpCode::Text);
        header.set_fin(true);
        let mut data = Storage::Shared(m);
        tx.encode(&mut header, &mut data).unwrap();
        let wire = match data {
            Storage::Owned(v) => v,
            other => other.as_ref().to_vec(),
        };
        compressed += wire.len();
        // soketto's own decode (flate2's write::DeflateDecoder + finish) fails with flate2
        // 1.1 ("incomplete deflate stream"): inflate the way it means to, fresh state per
        // message, with flate2 directly.
        let mut d = Decompress::new(false);
        inflate(&mut d, &wire, &mut text);
        assert_eq!(text.len(), m.len());
        black_box(&text);
    };
    for m in msgs {
        hop(&mut client, m);
        hop(&mut server, m);
    }
    compressed / 2
}

/// Appends the tail and inflates all of `wire` into `out` (cleared first).
fn inflate(d: &mut Decompress, wire: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let input = [wire, &[0, 0, 0xff, 0xff]].concat();
    let start = d.total_in();
    loop {
        let done = (d.total_in() - start) as usize;
        out.reserve(32 * 1024);
        let before = out.len();
        d.decompress_vec(&input[done..], out, FlushDecompress::Sync)
            .unwrap();
        if (d.total_in() - start) as usize == input.len() && out.len() - before < 32 * 1024 {
            break;
        }
    }
}

/// flate2 over C zlib with persistent state (context takeover), sync flush per message.
fn flate2_takeover(msgs: &[Vec<u8>], level: u32) -> usize {
    let mut c = [
        Compress::new(Compression::new(level), false),
        Compress::new(Compression::new(level), false),
    ];
    let mut d = [Decompress::new(false), Decompress::new(false)];
    let (mut wire, mut text) = (Vec::new(), Vec::new());
    let mut compressed = 0;
    for m in msgs {
        for side in 0..2 {
            wire.clear();
            let start = c[side].total_in();
            loop {
                wire.reserve(m.len() / 2 + 64);
                let done = (c[side].total_in() - start) as usize;
                let before = wire.len();
                let spare = wire.capacity() - wire.len();
                c[side]
                    .compress_vec(&m[done..], &mut wire, FlushCompress::Sync)
                    .unwrap();
                if (c[side].total_in() - start) as usize == m.len() && wire.len() - before < spare {
                    break;
                }
            }
            assert!(wire.ends_with(&[0, 0, 0xff, 0xff]));
            wire.truncate(wire.len() - 4);
            compressed += wire.len();
            inflate(&mut d[1 - side], &wire, &mut text);
            assert_eq!(text.len(), m.len());
            black_box(&text);
        }
    }
    compressed / 2
}

fn main() {
    let runs = 5;
    println!("permessage-deflate compressed echo (codec level), best of {runs} runs; MB/s of payload, ratio = compressed/original");
    println!(
        "{:<8} {:<38} {:>9} {:>9} {:>7} {:>9} {:>9}",
        "payload", "settings (peer)", "ours MB/s", "peer MB/s", "speed", "ours ratio", "peer ratio"
    );
    let level1 = DeflateConfig {
        level: 1,
        ..DeflateConfig::default()
    };
    let nct = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let takeover = DeflateParams::default();
    let defaults = DeflateConfig::default();
    for (label, size, count) in [
        ("1 KiB", 1024, 2000),
        ("16 KiB", 16 * 1024, 200),
        ("256 KiB", 256 * 1024, 12),
    ] {
        let msgs = corpus(size, count);
        let bytes: usize = msgs.iter().map(Vec::len).sum();
        let mbs = |o: &Outcome| (2 * bytes) as f64 / o.best.as_secs_f64() / 1e6;
        let rows = [
            (
                "level 1, no takeover (soketto 0.8)",
                best_of(runs, || ours(&msgs, nct, &level1)),
                best_of(runs, || soketto(&msgs)),
            ),
            (
                "level 6, takeover (flate2 + C zlib)",
                best_of(runs, || ours(&msgs, takeover, &defaults)),
                best_of(runs, || flate2_takeover(&msgs, 6)),
            ),
            (
                "level 1, takeover (flate2 + C zlib)",
                best_of(runs, || ours(&msgs, takeover, &level1)),
                best_of(runs, || flate2_takeover(&msgs, 1)),
            ),
        ];
        for (name, us, peer) in rows {
            println!(
                "{:<8} {:<38} {:>9.1} {:>9.1} {:>6.2}x {:>9.3} {:>9.3}",
                label,
                name,
                mbs(&us),
                mbs(&peer),
                mbs(&us) / mbs(&peer),
                us.compressed as f64 / bytes as f64,
                peer.compressed as f64 / bytes as f64,
            );
        }
    }
}
