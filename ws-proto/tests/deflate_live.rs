//! permessage-deflate end to end over real sockets on 127.0.0.1 against Python's `websockets`
//! (its sync client and server, its own negotiation and codec): our `Connection` with a
//! `PerMessageDeflate` as the client of websockets servers and as the server for websockets
//! clients. Context takeover on and off, window bits 9 to 15 each way, compressed messages
//! split into many frames (ours) or sent as fragments (websockets'), pings and pongs
//! interleaved, and a clean close. Works with websockets 12 to 17.
//!
//! Every read has a 10 s timeout and every loop is bounded. Without `python3` + `websockets`
//! the test says so and passes, unless `CI` is set: then it fails.
#![cfg(feature = "deflate")]

use std::io::{BufRead as _, BufReader, ErrorKind, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ws_proto::deflate::{
    client_accept, client_offer, server_accept, DeflateConfig, DeflateParams, Negotiated,
};
use ws_proto::handshake::{
    Accept, ClientHandshake, ClientOutcome, ClientRequest, HandshakeLimits, ServerHandshake,
};
use ws_proto::{CloseCode, Config, Connection, Event, Instant, Message, SeededMasks};

const SERVERS: &str = r#"
import sys, json, threading, inspect
from websockets.sync.server import serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
# No keepalive pings (the parameter exists from websockets 15 on; older sync servers never ping).
extra = {"ping_interval": None} if "ping_interval" in inspect.signature(serve).parameters else {}

def echo(ws):
    for msg in ws:
        ws.send(msg)

servers = []
for kw in json.loads(sys.argv[1]):
    s = serve(echo, "127.0.0.1", 0, compression=None, max_size=2**24,
              extensions=[ServerPerMessageDeflateFactory(**kw)], **extra)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    servers.append(s)
print(" ".join(str(s.socket.getsockname()[1]) for s in servers), flush=True)
sys.stdin.read()
"#;

const CLIENTS: &str = r#"
import sys, json, inspect
from websockets.sync.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
extra = {"ping_interval": None} if "ping_interval" in inspect.signature(connect).parameters else {}

port = int(sys.argv[1])
for n, kw in enumerate(json.loads(sys.argv[2])):
    with connect("ws://127.0.0.1:%d/" % port, compression=None, max_size=2**24,
                 open_timeout=10, close_timeout=10,
                 extensions=[ClientPerMessageDeflateFactory(**kw)], **extra) as ws:
        assert ws.protocol.extensions, "no extension negotiated in scenario %d" % n
        words = ["alpha ", "beta ", "gamma ", "{\"k\":%d} " % n, "delta\n"]
        msgs = ["".join(words[(i * 7 + j) % 5] for j in range(size)) for i, size in
                enumerate([10, 10, 3000, 1, 800, 20000])]
        for i, m in enumerate(msgs):
            pong = None
            if i % 2:
                # A fragmented message (one sync flush per fragment), then a ping.
                ws.send([m[k:k + 1000] for k in range(0, len(m), 1000)] or [""])
                pong = ws.ping(b"after")
            else:
                ws.send(m)
            echo = ws.recv(timeout=10)
            assert echo == m, "scenario %d message %d differs" % (n, i)
            # Waited for after recv(): older sync clients read nothing more until then.
            assert pong is None or pong.wait(10), "no pong in scenario %d" % n
        ws.send(b"\x00\x01" * 5000)
        assert ws.recv(timeout=10) == b"\x00\x01" * 5000
print("ok", flush=True)
"#;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn peer_available() -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import websockets.sync.client, websockets.sync.server",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// One connection driven over a blocking socket.
struct Driver {
    stream: TcpStream,
    conn: Connection,
    start: std::time::Instant,
    /// Bytes written to and read from the socket after the handshake.
    sent: usize,
    received: usize,
}

impl Driver {
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    fn flush(&mut self) {
        while let Some(bytes) = self.conn.poll_transmit() {
            self.stream.write_all(&bytes).unwrap();
            self.sent += bytes.len();
        }
    }

    /// The next event, reading as needed; `None` when the connection is finished.
    fn next_event(&mut self) -> Option<Event> {
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..100_000 {
            if let Some(e) = self.conn.poll_event() {
                return Some(e);
            }
            self.flush();
            if self.conn.is_finished() {
                return None;
            }
            let now = self.now();
            if self.conn.poll_timeout().is_some_and(|t| t <= now) {
                // Inflating goes in bounded steps: do the next one before reading more.
                self.conn.handle_timeout(now);
                continue;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => self.conn.handle_eof(now),
                Ok(n) => {
                    self.received += n;
                    self.conn.input_buffer().extend_from_slice(&buf[..n]);
                    self.conn
                        .handle_input(now)
                        .expect("valid input from websockets")
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        panic!("no event after 100000 reads");
    }

    fn feed(&mut self, leftover: &[u8]) {
        self.received += leftover.len();
        if !leftover.is_empty() {
            let now = self.now();
            self.conn.input_buffer().extend_from_slice(leftover);
            self.conn.handle_input(now).unwrap();
        }
    }
}

fn text(seed: usize, len: usize) -> String {
    let words = ["lorem ", "ipsum ", "dolor ", "{\"id\":", "sit ", "amet\n"];
    (0..len)
        .map(|i| words[(i * 5 + seed) % words.len()])
        .collect::<String>()
}

fn json_kwargs(server_bits: u8, client_bits: u8, snct: bool, cnct: bool) -> String {
    format!(
        "{{\"server_max_window_bits\": {server_bits}, \"client_max_window_bits\": {client_bits}, \"server_no_context_takeover\": {snct}, \"client_no_context_takeover\": {cnct}}}"
    )
}

/// (websockets factory kwargs, our config, the parameters we expect to agree on)
fn scenarios() -> Vec<(String, DeflateConfig, DeflateParams)> {
    let mut v = Vec::new();
    for bits in 9..=15u8 {
        for nct in [false, true] {
            let other = 24 - bits;
            let expect = DeflateParams {
                server_no_context_takeover: nct,
                client_no_context_takeover: !nct,
                server_max_window_bits: bits,
                client_max_window_bits: other,
            };
            v.push((
                json_kwargs(bits, other, nct, !nct),
                DeflateConfig::default(),
                expect,
            ));
        }
    }
    v
}

fn python(script: &str, args: &[&str]) -> Child {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn python3")
}

#[test]
fn our_client_against_websockets_servers() {
    if !peer_available() {
        assert!(
            !in_ci(),
            "python3 with websockets is required when CI is set"
        );
        eprintln!("deflate_live: python3 + websockets not found, NOT run (set CI=1 to require it)");
        return;
    }
    let scenarios = scenarios();
    let kwargs = format!(
        "[{}]",
        scenarios
            .iter()
            .map(|s| s.0.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut child = python(SERVERS, &[&kwargs]);
    let mut ports = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ports)
        .unwrap();
    let ports: Vec<u16> = ports
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(
        ports.len(),
        scenarios.len(),
        "websockets servers did not start"
    );

    for (n, ((_, cfg, expect), port)) in scenarios.iter().zip(&ports).enumerate() {
        // Our client asks for no constraint; the websockets server imposes its own.
        let stream = TcpStream::connect(("127.0.0.1", *port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = ClientRequest::new(format!("127.0.0.1:{port}"), "/", [n as u8; 16])
            .extensions(client_offer(cfg));
        let mut hs = ClientHandshake::new(&request, HandshakeLimits::default()).unwrap();
        let mut out = Vec::new();
        hs.write_request(&mut out);
        let mut stream = stream;
        stream.write_all(&out).unwrap();
        let mut buf = vec![0u8; 4096];
        let accepted = loop {
            let k = stream.read(&mut buf).unwrap();
            assert!(k > 0, "websockets closed during the handshake");
            match hs.handle_input(&buf[..k]).unwrap() {
                None => continue,
                Some(ClientOutcome::Accepted(a)) => break a,
                Some(other) => panic!("scenario {n}: rejected: {other:?}"),
            }
        };
        let params = client_accept(accepted.extensions(), cfg)
            .unwrap()
            .expect("websockets accepted permessage-deflate");
        assert_eq!(params, *expect, "scenario {n}");
        let config = Config {
            max_send_frame: Some(700),
            deflate: Some(Negotiated {
                params,
                config: cfg.clone(),
            }),
            ..Config::default()
        };
        let conn = Connection::client(Instant::ZERO, config, SeededMasks::new(n as u64));
        let mut d = Driver {
            stream,
            conn,
            start: std::time::Instant::now(),
            sent: 0,
            received: 0,
        };
        d.feed(accepted.leftover());

        let msgs: Vec<Message> = vec![
            Message::text(&text(n, 40)),
            Message::text(&text(n, 40)),
            Message::text(&text(n + 1, 3000)), // compressed, then split in 700-byte frames
            Message::text("x"),                // under the threshold: sent as is
            Message::binary(text(n + 2, 9000).into_bytes()),
        ];
        for m in &msgs {
            let now = d.now();
            d.conn.send(now, m.clone()).unwrap();
            d.conn.ping(now, b"ping").unwrap();
            let echo = loop {
                match d.next_event().expect("connection open") {
                    Event::Message(e) => break e,
                    _ => continue,
                }
            };
            assert!(echo == *m, "scenario {n}: echo differs");
        }
        let now = d.now();
        d.conn.close(now, CloseCode::NORMAL, "done").unwrap();
        while d.next_event().is_some() {}
        // Both directions were compressed (the payloads are repetitive text).
        let payload: usize = msgs.iter().map(|m| m.payload().len()).sum();
        assert!(
            d.sent * 4 < payload,
            "scenario {n}: sent {} for {payload}",
            d.sent
        );
        assert!(
            d.received * 4 < payload,
            "scenario {n}: received {} for {payload}",
            d.received
        );
    }
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn websockets_clients_against_our_server() {
    if !peer_available() {
        assert!(
            !in_ci(),
            "python3 with websockets is required when CI is set"
        );
        eprintln!("deflate_live: python3 + websockets not found, NOT run (set CI=1 to require it)");
        return;
    }
    let scenarios = scenarios();
    let kwargs = format!(
        "[{}]",
        scenarios
            .iter()
            .map(|s| s.0.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut child = python(CLIENTS, &[&port, &kwargs]);

    for (n, (_, cfg, expect)) in scenarios.iter().enumerate() {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut hs = ServerHandshake::new(HandshakeLimits::default());
        let mut buf = vec![0u8; 4096];
        let request = loop {
            let k = stream.read(&mut buf).unwrap();
            assert!(k > 0, "websockets closed during the handshake");
            if let Some(r) = hs.handle_input(&buf[..k]).unwrap() {
                break r;
            }
        };
        let (params, answer) =
            server_accept(request.extensions(), cfg).expect("we accept websockets' offer");
        assert_eq!(params, *expect, "scenario {n}");
        let mut out = Vec::new();
        request
            .accept(
                &Accept {
                    extensions: Some(&answer),
                    ..Accept::default()
                },
                &mut out,
            )
            .unwrap();
        stream.write_all(&out).unwrap();
        let config = Config {
            max_send_frame: Some(500),
            deflate: Some(Negotiated {
                params,
                config: cfg.clone(),
            }),
            ..Config::default()
        };
        let conn = Connection::server(Instant::ZERO, config);
        let mut d = Driver {
            stream,
            conn,
            start: std::time::Instant::now(),
            sent: 0,
            received: 0,
        };
        d.feed(request.leftover());
        // Echo until websockets closes.
        let mut echoed = 0;
        while let Some(event) = d.next_event() {
            if let Event::Message(m) = event {
                let now = d.now();
                d.conn.send(now, m).unwrap();
                echoed += 1;
            }
        }
        assert_eq!(echoed, 7, "scenario {n}");
        // websockets' messages total about 150 KB of repetitive text (and 10,000 binary
        // bytes): under 12,000 bytes each way means both directions were compressed.
        eprintln!("scenario {n}: received {} sent {}", d.received, d.sent);
        assert!(d.received < 12_000, "scenario {n}: received {}", d.received);
        assert!(d.sent < 12_000, "scenario {n}: sent {}", d.sent);
    }
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ok");
    assert!(child.wait().unwrap().success());
}
