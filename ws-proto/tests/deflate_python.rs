//! Codec-level interoperability with C zlib through Python's `zlib` module (raw DEFLATE,
//! `wbits=-N`): our compressor → Python's decompressor and Python's compressor → our
//! decompressor, every window size 9 to 15, with and without context takeover, asymmetric
//! windows, and Python's messages fed to us in frames of varying size.
//!
//! Python inflates our messages with at most 64 output bytes per call, so every
//! back-reference is served from its `2^N`-byte window: a distance beyond the agreed window
//! fails ("invalid distance too far back"). This is the strict check that our compressor
//! honours the window.
//!
//! Without `python3` the test says so and passes, unless `CI` is set: then it fails.
#![cfg(feature = "deflate")]

use std::io::Write as _;
use std::process::{Command, Stdio};

use ws_proto::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use ws_proto::Role;

const SCRIPT: &str = r#"
import sys, zlib
TAIL = b"\x00\x00\xff\xff"
out = []
lines = sys.stdin.read().split("\n")
i = 0
while i < len(lines):
    head = lines[i].split()
    i += 1
    if not head:
        continue
    assert head[0] == "case", head
    ours_bits, theirs_bits, ours_nct, theirs_nct, level = map(int, head[1:])
    msgs = []
    while lines[i] != "end":
        _, plain, wire = lines[i].split(" ")
        msgs.append((bytes.fromhex(plain), bytes.fromhex(wire)))
        i += 1
    i += 1
    d = zlib.decompressobj(-ours_bits)
    c = zlib.compressobj(level, zlib.DEFLATED, -theirs_bits)
    for n, (plain, wire) in enumerate(msgs):
        if ours_nct:
            d = zlib.decompressobj(-ours_bits)
        data = wire + TAIL
        got = b""
        while True:
            chunk = d.decompress(data, 64)
            got += chunk
            data = d.unconsumed_tail
            if not chunk and not data:
                break
        if got != plain:
            print("fail", "case", head, "message", n, "inflated", len(got), "expected", len(plain))
            sys.exit(1)
        if theirs_nct:
            c = zlib.compressobj(level, zlib.DEFLATED, -theirs_bits)
        z = c.compress(plain) + c.flush(zlib.Z_SYNC_FLUSH)
        assert z.endswith(TAIL)
        out.append("p " + z[:-4].hex())
    out.append("end")
print("\n".join(out))
"#;

fn python() -> Option<&'static str> {
    let ok = Command::new("python3")
        .args(["-c", "import zlib"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some("python3")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
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
        "{\"id\":",
        "\"type\":\"update\"",
        "value",
        "\n",
    ];
    let mut x = seed;
    let mut out = Vec::new();
    while out.len() < len {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.extend_from_slice(WORDS[(x >> 59) as usize % WORDS.len()].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    out
}

/// Messages that exercise the window: repeats just beyond `2^bits`, across messages too.
fn messages(bits: u8) -> Vec<Vec<u8>> {
    let w = 1usize << bits;
    let block = noise(u64::from(bits), w + 50);
    vec![
        text(1, 200),
        Vec::new(),
        vec![b'a'],
        [block.clone(), block.clone()].concat(),
        block.clone(),
        text(2, 100_000),
        text(1, 200),
        [noise(9, 3000), text(3, 5000), noise(9, 3000)].concat(),
    ]
}

#[test]
fn interoperates_with_c_zlib_through_python() {
    let Some(py) = python() else {
        if in_ci() {
            panic!("python3 (with zlib) is required when CI is set: install it in .ci/run");
        }
        eprintln!("deflate_python: python3 not found, interop with C zlib NOT run (set CI=1 to require it)");
        return;
    };
    // (our bits, their bits, our no-takeover, their no-takeover, level)
    let mut cases = Vec::new();
    for bits in 9..=15u8 {
        for nct in [false, true] {
            cases.push((bits, bits, nct, nct, 6));
        }
    }
    cases.extend([
        (9, 15, false, true, 1),
        (15, 9, true, false, 9),
        (12, 10, false, false, 0),
    ]);

    let mut input = String::new();
    let mut expected = Vec::new();
    for &(ours_bits, theirs_bits, ours_nct, theirs_nct, level) in &cases {
        // We are the client: we compress with client_max_window_bits = ours_bits.
        let p = DeflateParams {
            client_max_window_bits: ours_bits,
            server_max_window_bits: theirs_bits,
            client_no_context_takeover: ours_nct,
            server_no_context_takeover: theirs_nct,
        };
        let config = DeflateConfig {
            level,
            ..DeflateConfig::default()
        };
        let mut ours = PerMessageDeflate::new(&p, Role::Client, &config);
        let msgs = messages(ours_bits.min(theirs_bits));
        input.push_str(&format!(
            "case {ours_bits} {theirs_bits} {} {} {level}\n",
            u8::from(ours_nct),
            u8::from(theirs_nct)
        ));
        for m in &msgs {
            let mut wire = Vec::new();
            ours.compress(m, &mut wire).unwrap();
            input.push_str(&format!("m {} {}\n", hex(m), hex(&wire)));
        }
        input.push_str("end\n");
        expected.push((p, config, msgs));
    }

    let mut child = Command::new(py)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("python3 output");
    writer.join().unwrap().expect("write to python3");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "python rejected our compressed data: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Python's messages, inflated by us as the client, fed in frames of varying size.
    let mut lines = stdout.lines();
    for (case, (p, config, msgs)) in expected.iter().enumerate() {
        let mut ours = PerMessageDeflate::new(p, Role::Client, config);
        for (n, m) in msgs.iter().enumerate() {
            let line = lines.next().expect("a line per message");
            let wire = unhex(line.strip_prefix("p ").expect("p <hex>"));
            let mut got = Vec::new();
            for frame in wire.chunks(1 + (n * 613) % 4000) {
                ours.decompress(frame, &mut got, 1 << 24).unwrap();
            }
            ours.finish_message(&mut got, 1 << 24).unwrap();
            assert!(
                got == *m,
                "case {:?} message {n}: python → us differs",
                cases[case]
            );
        }
        assert_eq!(lines.next(), Some("end"));
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
