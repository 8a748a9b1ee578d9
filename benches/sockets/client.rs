//! The load client, the same for every server: a single-threaded tokio runtime, one task per
//! connection, one message in flight per connection (send a binary message, wait for its
//! echo, check it byte for byte, send the next). Round trips that complete inside the
//! measured window count, and their latency (send to echo received) goes into the histogram.
//!
//! Three clients, each used for every server of a case:
//! - without compression, a lean one so that the client is not what limits the servers: the
//!   opening handshake by ws-proto's `ClientHandshake`, then one pre-encoded masked frame
//!   written per message and the echo's frames parsed with ws-proto's `FrameHeader::decode`
//!   (whatever the fragmentation) and compared with the payload;
//! - with permessage-deflate, rt-tokio's client (`ClientBuilder::handshake`, ws-proto's
//!   `Connection` and compressor), which compresses every message it sends;
//! - for the plain TCP echo server (the floor), the lean client's loop without WebSocket: the
//!   message length first (4 bytes) instead of a handshake, then the same bytes as the lean
//!   client's frame written per message, and the echo read until that many bytes are back
//!   and compared with them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rt_tokio::ws::{ClientBuilder, Message};
use tokio::net::TcpStream;
use ws_proto::deflate::DeflateConfig;

use crate::stats::{cpu_ns, user_sys_ns, Histogram};

/// One measurement of one server on one case.
#[derive(Clone)]
pub struct Measurement {
    /// Round trips completed in the window.
    pub round_trips: u64,
    /// The window's length.
    pub window: Duration,
    /// The server process's CPU time in the window.
    pub server_cpu: Duration,
    /// The server's user-space share of its CPU time in the window (from clock ticks).
    pub user_share: f64,
    /// Latency of every counted round trip.
    pub latency: Histogram,
}

impl Measurement {
    /// Server CPU per round trip, in microseconds.
    pub fn cpu_us_per_rt(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.round_trips.max(1) as f64
    }
    /// The share of the window the server was on a CPU (1: saturated).
    pub fn busy(&self) -> f64 {
        self.server_cpu.as_secs_f64() / self.window.as_secs_f64()
    }
    /// Round trips per second.
    pub fn rt_per_s(&self) -> f64 {
        self.round_trips as f64 / self.window.as_secs_f64()
    }
}

/// What one measurement runs.
pub struct Load {
    /// Concurrent connections.
    pub connections: usize,
    /// The payload of every message.
    pub payload: Bytes,
    /// Offer permessage-deflate and require the server to accept it: level 1, no context
    /// takeover either way (soketto, the one peer with permessage-deflate, compresses at
    /// level 1 with a fresh compressor per message, and decodes each message with a fresh
    /// decompressor whatever it agreed to, so it can only talk to a client that asks for
    /// `client_no_context_takeover`).
    pub deflate: bool,
    /// Round trips before the window opens (connections warm, buffers grown).
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
}

/// The permessage-deflate settings of the client and of rt-tokio's server in the deflate
/// cases: level 1 and no context takeover either way, soketto's settings.
pub fn deflate_config() -> DeflateConfig {
    DeflateConfig {
        level: 1,
        no_context_takeover: true,
        peer_no_context_takeover: true,
        ..DeflateConfig::default()
    }
}

/// Connects `load.connections` WebSockets (plain TCP connections if `plain_tcp`) to `addr`,
/// runs the load and measures server process `pid`. Errors name what failed (a connection, a
/// wrong echo, a dead server).
pub async fn measure(
    addr: SocketAddr,
    pid: u32,
    load: &Load,
    plain_tcp: bool,
) -> Result<Measurement, String> {
    if plain_tcp {
        measure_tcp(addr, pid, load).await
    } else if load.deflate {
        measure_rt_tokio(addr, pid, load).await
    } else {
        measure_raw(addr, pid, load).await
    }
}

/// The lean client: see the module's documentation.
async fn measure_raw(addr: SocketAddr, pid: u32, load: &Load) -> Result<Measurement, String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use ws_proto::frame::{FrameHeader, Opcode, Status};
    use ws_proto::handshake::{ClientHandshake, ClientOutcome, ClientRequest, HandshakeLimits};

    let mut sockets = Vec::with_capacity(load.connections);
    for i in 0..load.connections {
        let mut tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        let mut key = [0x5a; 16];
        key[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let request = ClientRequest::new(addr.to_string(), "/", key);
        let mut handshake = ClientHandshake::new(&request, HandshakeLimits::default())
            .map_err(|e| format!("handshake: {e}"))?;
        let mut head = Vec::new();
        handshake.write_request(&mut head);
        tcp.write_all(&head)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let mut buf = vec![0u8; 4096];
        let leftover = loop {
            let n = tcp
                .read(&mut buf)
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            if n == 0 {
                return Err("handshake: the server closed the connection".into());
            }
            match handshake
                .handle_input(&buf[..n])
                .map_err(|e| format!("handshake: {e}"))?
            {
                None => continue,
                Some(ClientOutcome::Accepted(accepted)) => break accepted.into_leftover(),
                Some(ClientOutcome::Rejected(r)) => {
                    return Err(format!("handshake: status {}", r.status()))
                }
            }
        };
        sockets.push((tcp, leftover));
    }

    let frame = masked_frame(&load.payload);

    let start = Instant::now() + load.warmup;
    let end = start + load.window;
    let mut tasks = Vec::with_capacity(sockets.len());
    for (mut tcp, leftover) in sockets {
        let payload = load.payload.clone();
        let frame = frame.clone();
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::new();
            let mut count = 0u64;
            let mut input = bytes::BytesMut::with_capacity(payload.len() + 4096);
            input.extend_from_slice(&leftover);
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                tcp.write_all(&frame)
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                // Frames of the echo until its FIN, each payload compared where it lies.
                let mut got = 0usize;
                let mut done = false;
                while !done {
                    let mut pos = 0;
                    while let Status::Complete((h, len)) = FrameHeader::decode(&input[pos..])
                        .map_err(|e| format!("bad frame from the server: {e:?}"))?
                    {
                        let body = usize::try_from(h.payload_len).unwrap_or(usize::MAX);
                        if input.len() - pos - len < body {
                            break;
                        }
                        let data = &input[pos + len..pos + len + body];
                        match h.opcode {
                            Opcode::Binary | Opcode::Continuation => {
                                if payload.get(got..got + body) != Some(data) {
                                    return Err(format!("wrong echo at byte {got}"));
                                }
                                got += body;
                                done = h.fin;
                            }
                            Opcode::Ping | Opcode::Pong => {}
                            other => return Err(format!("unexpected {other:?} frame")),
                        }
                        pos += len + body;
                        if done {
                            break;
                        }
                    }
                    let _ = input.split_to(pos);
                    if done {
                        break;
                    }
                    if input.capacity() - input.len() < 4096 {
                        input.reserve(payload.len().max(4096));
                    }
                    let n = tcp
                        .read_buf(&mut input)
                        .await
                        .map_err(|e| format!("recv: {e}"))?;
                    if n == 0 {
                        return Err("the server closed the connection".to_string());
                    }
                }
                if got != payload.len() {
                    return Err(format!("echo of {got} bytes, {} sent", payload.len()));
                }
                let t1 = Instant::now();
                if t1 >= start && t1 < end {
                    latency.record(t1 - t0);
                    count += 1;
                }
            }
            Ok::<_, String>((count, latency))
        }));
    }
    collect(pid, start, end, tasks).await
}

/// One masked binary frame of `payload`, written whole for every message.
fn masked_frame(payload: &[u8]) -> Bytes {
    use ws_proto::frame::{FrameHeader, Opcode};
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = Vec::with_capacity(payload.len() + 14);
    FrameHeader {
        fin: true,
        rsv: 0,
        opcode: Opcode::Binary,
        mask: Some(mask),
        payload_len: payload.len() as u64,
    }
    .write(&mut frame);
    let at = frame.len();
    frame.extend_from_slice(payload);
    ws_proto::mask::apply_mask(&mut frame[at..], mask, 0);
    Bytes::from(frame)
}

/// The plain TCP client: see the module's documentation.
async fn measure_tcp(addr: SocketAddr, pid: u32, load: &Load) -> Result<Measurement, String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    // The same bytes on the wire as the lean WebSocket client sends.
    let message = masked_frame(&load.payload);
    let len = u32::try_from(message.len()).map_err(|_| "message too large".to_string())?;
    let mut sockets = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        let mut tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        tcp.write_all(&len.to_le_bytes())
            .await
            .map_err(|e| format!("preamble: {e}"))?;
        sockets.push(tcp);
    }

    let start = Instant::now() + load.warmup;
    let end = start + load.window;
    let mut tasks = Vec::with_capacity(sockets.len());
    for mut tcp in sockets {
        let message = message.clone();
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::new();
            let mut count = 0u64;
            let mut input = bytes::BytesMut::with_capacity(message.len() + 4096);
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                tcp.write_all(&message)
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                input.clear();
                while input.len() < message.len() {
                    if input.capacity() - input.len() < 4096 {
                        input.reserve(message.len().max(4096));
                    }
                    let n = tcp
                        .read_buf(&mut input)
                        .await
                        .map_err(|e| format!("recv: {e}"))?;
                    if n == 0 {
                        return Err("the server closed the connection".to_string());
                    }
                }
                if input[..] != message[..] {
                    return Err(format!(
                        "wrong echo: {} bytes, {} sent",
                        input.len(),
                        message.len()
                    ));
                }
                let t1 = Instant::now();
                if t1 >= start && t1 < end {
                    latency.record(t1 - t0);
                    count += 1;
                }
            }
            Ok::<_, String>((count, latency))
        }));
    }
    collect(pid, start, end, tasks).await
}

/// Waits for the window, reads the server's CPU time at both ends and merges the tasks'
/// counts.
async fn collect(
    pid: u32,
    start: Instant,
    end: Instant,
    tasks: Vec<tokio::task::JoinHandle<Result<(u64, Histogram), String>>>,
) -> Result<Measurement, String> {
    let cpu = |what| cpu_ns(pid).map_err(|e| format!("server CPU time ({what}): {e}"));
    tokio::time::sleep_until(start.into()).await;
    let split = |what| user_sys_ns(pid).map_err(|e| format!("server CPU time ({what}): {e}"));
    let cpu0 = cpu("start")?;
    let split0 = split("start")?;
    let t0 = Instant::now();
    tokio::time::sleep_until(end.into()).await;
    let cpu1 = cpu("end")?;
    let split1 = split("end")?;
    let user = split1.0.saturating_sub(split0.0) as f64;
    let sys = split1.1.saturating_sub(split0.1) as f64;
    let window = t0.elapsed();

    let mut latency = Histogram::new();
    let mut round_trips = 0;
    for task in tasks {
        let (count, h) = task.await.map_err(|e| format!("client task: {e}"))??;
        round_trips += count;
        latency.merge(&h);
    }
    Ok(Measurement {
        round_trips,
        window,
        server_cpu: Duration::from_nanos(cpu1.saturating_sub(cpu0)),
        user_share: user / (user + sys).max(1.0),
        latency,
    })
}

/// rt-tokio's client: see the module's documentation.
async fn measure_rt_tokio(addr: SocketAddr, pid: u32, load: &Load) -> Result<Measurement, String> {
    let url = format!("ws://{addr}/");
    let mut sockets = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        let mut builder = ClientBuilder::new(url.clone());
        if load.deflate {
            builder = builder.deflate(deflate_config());
        }
        let (ws, response) = builder
            .handshake(tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let negotiated = response.deflate.is_some();
        if negotiated != load.deflate {
            return Err(format!(
                "permessage-deflate {} but {} was asked",
                if negotiated { "negotiated" } else { "refused" },
                if load.deflate { "it" } else { "none" },
            ));
        }
        sockets.push(ws);
    }

    let start = Instant::now() + load.warmup;
    let end = start + load.window;
    let mut tasks = Vec::with_capacity(sockets.len());
    for mut ws in sockets {
        let payload = load.payload.clone();
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::new();
            let mut count = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                ws.send(Message::binary(payload.clone()))
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                let echo = match ws.recv().await {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => return Err(format!("recv: {e}")),
                    None => return Err("the server closed the connection".to_string()),
                };
                let t1 = Instant::now();
                if echo.payload() != &payload[..] {
                    return Err(format!(
                        "wrong echo: {} bytes, {} expected",
                        echo.payload().len(),
                        payload.len()
                    ));
                }
                if t1 >= start && t1 < end {
                    latency.record(t1 - t0);
                    count += 1;
                }
            }
            drop(ws); // the server sees the TCP close and ends its task
            Ok::<_, String>((count, latency))
        }));
    }

    collect(pid, start, end, tasks).await
}
