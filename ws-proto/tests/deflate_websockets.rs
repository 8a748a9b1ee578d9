//! Interoperability with a real permessage-deflate peer: Python's `websockets` package, its
//! own negotiation (`ServerPerMessageDeflateFactory`, `ClientPerMessageDeflateFactory`) and its
//! own frame codec (`PerMessageDeflate.encode`/`decode`), driven frame by frame without sockets.
//!
//! Each scenario negotiates (we are the client or the server), then we send messages (whole
//! and fragmented, with pings between fragments, RSV1 on first frames only) that websockets
//! decodes and checks, and websockets sends the same messages back (fragmented its own way:
//! a sync flush per fragment) for us to inflate. Context takeover on and off, window bits 9
//! to 15 in both directions.
//!
//! Without `python3` + `websockets` the test says so and passes, unless `CI` is set: then it
//! fails (install with `python3 -m pip install websockets`).
#![cfg(feature = "deflate")]

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use ws_proto::deflate::{
    client_accept, client_offer, server_accept, DeflateConfig, DeflateParams, PerMessageDeflate,
};
use ws_proto::handshake::parse_extension_list;
use ws_proto::Role;

const PEER: &str = r#"
import sys, json
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory)
from websockets.headers import parse_extension, build_extension
from websockets.frames import Frame, Opcode

def send(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

def recv():
    return sys.stdin.readline().rstrip("\n")

def fail(msg):
    send("fail " + msg)
    sys.exit(1)

CTRL = (Opcode.PING, Opcode.PONG, Opcode.CLOSE)
while True:
    line = recv()
    if not line or line == "quit":
        break
    _, rust_role, kwargs = line.split(" ", 2)
    kwargs = json.loads(kwargs)
    if rust_role == "client":
        offer = recv().split(" ", 1)[1]
        factory = ServerPerMessageDeflateFactory(**kwargs)
        ext = None
        for name, params in parse_extension(offer):
            if name != factory.name:
                continue
            try:
                response, ext = factory.process_request_params(params, [])
                break
            except Exception:
                continue
        if ext is None:
            fail("websockets declined " + offer)
        send("answer " + build_extension([(factory.name, response)]))
    else:
        factory = ClientPerMessageDeflateFactory(**kwargs)
        send("offer " + build_extension([(factory.name, factory.get_request_params())]))
        answer = recv().split(" ", 1)[1]
        [(name, params)] = parse_extension(answer)
        ext = factory.process_response_params(params, [])
    expected, got, current, ctrl = [], [], None, 0
    while True:
        l = recv().split(" ")
        if l[0] == "done":
            break
        if l[0] == "expect":
            expected.append(bytes.fromhex(l[1]) if len(l) > 1 else b"")
            continue
        op, fin, rsv1 = Opcode(int(l[1])), l[2] == "1", l[3] == "1"
        data = bytes.fromhex(l[4]) if len(l) > 4 else b""
        frame = ext.decode(Frame(op, data, fin=fin, rsv1=rsv1), max_size=1 << 24)
        if op in CTRL:
            if rsv1:
                fail("RSV1 on a control frame")
            ctrl += 1
            continue
        current = bytes(frame.data) if op is not Opcode.CONT else current + bytes(frame.data)
        if fin:
            got.append(current)
    if got != expected:
        fail("messages differ: %d vs %d" % (len(got), len(expected)))
    send("ok %d %d" % (len(got), ctrl))
    for m in expected:
        parts = [m[i:i + 3000] for i in range(0, len(m), 3000)] or [b""]
        for i, part in enumerate(parts):
            f = ext.encode(Frame(Opcode.TEXT if i == 0 else Opcode.CONT, part, fin=i == len(parts) - 1))
            send("frame %d %d %d %s" % (f.opcode.value, f.fin, f.rsv1, bytes(f.data).hex()))
            if i == 0 and len(parts) > 1:
                p = ext.encode(Frame(Opcode.PING, b"between fragments"))
                send("frame %d %d %d %s" % (p.opcode.value, p.fin, p.rsv1, bytes(p.data).hex()))
    send("end")
"#;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn peer_available() -> bool {
    Command::new("python3")
        .args(["-c", "import websockets.extensions.permessage_deflate"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn text(seed: u64, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "alpha ",
        "beta ",
        "{\"k\":42} ",
        "gamma\n",
        "delta ",
        "omega ",
    ];
    let mut x = seed | 1;
    let mut v = Vec::new();
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(WORDS[(x % WORDS.len() as u64) as usize].as_bytes());
        if x.is_multiple_of(5) {
            v.extend_from_slice(format!("{x}").as_bytes());
        }
    }
    v.truncate(len);
    v
}

fn messages(seed: u64) -> Vec<Vec<u8>> {
    vec![
        text(seed, 300),
        text(seed, 300), // the same again: a back-reference with context takeover
        text(seed + 1, 20_000),
        b"x".to_vec(),
        text(seed + 2, 9_000),
        text(seed + 3, 70_000),
    ]
}

struct Scenario {
    /// Our role.
    role: Role,
    /// Our configuration.
    ours: DeflateConfig,
    /// websockets' factory keyword arguments, as JSON.
    theirs: String,
}

fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    for bits in 9..=15u8 {
        for nct in [false, true] {
            let ours = DeflateConfig {
                max_window_bits: bits,
                peer_max_window_bits: 24 - bits, // 15..9: asymmetric windows
                no_context_takeover: nct,
                peer_no_context_takeover: !nct,
                ..DeflateConfig::default()
            };
            // We are the client: websockets is a server that accepts what we ask.
            v.push(Scenario {
                role: Role::Client,
                ours: ours.clone(),
                theirs: "{}".into(),
            });
            // We are the server: websockets' client asks for windows and no takeover.
            let theirs = format!(
                "{{\"server_max_window_bits\": {}, \"client_max_window_bits\": {}, \"server_no_context_takeover\": {}, \"client_no_context_takeover\": {}}}",
                bits,
                24 - bits,
                if nct { "true" } else { "false" },
                if nct { "false" } else { "true" }
            );
            v.push(Scenario {
                role: Role::Server,
                ours: DeflateConfig::default(),
                theirs,
            });
        }
    }
    // websockets' server imposes its own choices on our plain offer.
    v.push(Scenario {
        role: Role::Client,
        ours: DeflateConfig::default(),
        theirs: "{\"server_max_window_bits\": 10, \"client_max_window_bits\": 11, \"server_no_context_takeover\": true, \"client_no_context_takeover\": true}".into(),
    });
    v
}

#[test]
fn interoperates_with_python_websockets() {
    if !peer_available() {
        if in_ci() {
            panic!("python3 with the websockets package is required when CI is set: python3 -m pip install websockets");
        }
        eprintln!("deflate_websockets: python3 + websockets not found, interop NOT run (set CI=1 to require it)");
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", PEER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn python3");
    let mut to_py = child.stdin.take().unwrap();
    let mut from_py = BufReader::new(child.stdout.take().unwrap());
    let mut read = || {
        let mut line = String::new();
        from_py.read_line(&mut line).unwrap();
        let line = line.trim_end().to_string();
        assert!(
            !line.starts_with("fail") && !line.is_empty(),
            "websockets: {line:?}"
        );
        line
    };

    for (n, s) in scenarios().iter().enumerate() {
        let role_word = if s.role == Role::Client {
            "client"
        } else {
            "server"
        };
        writeln!(to_py, "scenario {role_word} {}", s.theirs).unwrap();
        let params: DeflateParams = match s.role {
            Role::Client => {
                writeln!(to_py, "offer {}", client_offer(&s.ours)).unwrap();
                to_py.flush().unwrap();
                let answer = read();
                let answer = answer.strip_prefix("answer ").unwrap();
                client_accept(&parse_extension_list(answer).unwrap(), &s.ours)
                    .unwrap_or_else(|e| panic!("scenario {n}: {e} in {answer:?}"))
                    .expect("accepted")
            }
            Role::Server => {
                to_py.flush().unwrap();
                let offer = read();
                let offer = offer.strip_prefix("offer ").unwrap();
                let (params, answer) =
                    server_accept(&parse_extension_list(offer).unwrap(), &s.ours)
                        .unwrap_or_else(|| panic!("scenario {n}: we declined {offer:?}"));
                writeln!(to_py, "answer {answer}").unwrap();
                params
            }
        };
        eprintln!("scenario {n}: we are {role_word}, agreed {params:?}");
        let mut codec = PerMessageDeflate::new(&params, s.role, &s.ours);
        let msgs = messages(n as u64);

        // Us → websockets: whole messages, and fragmented ones with a ping in between.
        for (i, m) in msgs.iter().enumerate() {
            writeln!(to_py, "expect {}", hex(m)).unwrap();
            if i % 2 == 0 {
                let mut wire = Vec::new();
                codec.compress(m, &mut wire).unwrap();
                writeln!(to_py, "frame 1 1 1 {}", hex(&wire)).unwrap();
            } else {
                let parts: Vec<&[u8]> = m.chunks(4000).collect();
                for (j, part) in parts.iter().enumerate() {
                    let mut wire = Vec::new();
                    let fin = j + 1 == parts.len();
                    codec.compress_part(part, &mut wire, fin).unwrap();
                    let (op, rsv1) = if j == 0 { (1, 1) } else { (0, 0) };
                    writeln!(to_py, "frame {op} {} {rsv1} {}", u8::from(fin), hex(&wire)).unwrap();
                    if j == 0 {
                        writeln!(to_py, "frame 9 1 0 {}", hex(b"ping")).unwrap();
                    }
                }
            }
        }
        writeln!(to_py, "done").unwrap();
        to_py.flush().unwrap();
        let ok = read();
        assert!(ok.starts_with("ok "), "scenario {n}: {ok}");

        // websockets → us: its frames, inflated as the connection will (RSV1 on the first
        // frame of a message, control frames passed through untouched).
        let mut got = Vec::new();
        let mut current = Vec::new();
        let mut compressed = false;
        loop {
            let line = read();
            if line == "end" {
                break;
            }
            let f: Vec<&str> = line.split(' ').collect();
            let (op, fin, rsv1) = (f[1], f[2] == "1", f[3] == "1");
            let data = unhex(f.get(4).copied().unwrap_or(""));
            match op {
                "9" | "10" | "8" => {
                    assert!(!rsv1, "scenario {n}: RSV1 on a control frame");
                    continue;
                }
                "0" => assert!(!rsv1, "scenario {n}: RSV1 on a continuation frame"),
                _ => {
                    compressed = rsv1;
                    current.clear();
                }
            }
            if compressed {
                let room = (1 << 24) - current.len();
                codec.decompress(&data, &mut current, room).unwrap();
            } else {
                current.extend_from_slice(&data);
            }
            if fin {
                if compressed {
                    let room = (1 << 24) - current.len();
                    codec.finish_message(&mut current, room).unwrap();
                }
                got.push(std::mem::take(&mut current));
            }
        }
        assert!(got == msgs, "scenario {n}: websockets → us differs");
    }
    writeln!(to_py, "quit").unwrap();
    drop(to_py);
    assert!(child.wait().unwrap().success());
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
