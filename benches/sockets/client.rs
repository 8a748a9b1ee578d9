//! The load client, the same for every server: rt-tokio's WebSocket client (ws-proto) on a
//! single-threaded tokio runtime, one task per connection, one message in flight per
//! connection (send a binary message, wait for its echo, check it byte for byte, send the
//! next). Round trips that complete inside the measured window count, and their latency
//! (send to echo received) goes into the histogram.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rt_tokio::ws::{ClientBuilder, Message};
use tokio::net::TcpStream;
use ws_proto::deflate::DeflateConfig;

use crate::stats::{cpu_ns, Histogram};

/// One measurement of one server on one case.
#[derive(Clone)]
pub struct Measurement {
    /// Round trips completed in the window.
    pub round_trips: u64,
    /// The window's length.
    pub window: Duration,
    /// The server process's CPU time in the window.
    pub server_cpu: Duration,
    /// Latency of every counted round trip.
    pub latency: Histogram,
}

impl Measurement {
    /// Server CPU per round trip, in microseconds.
    pub fn cpu_us_per_rt(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.round_trips.max(1) as f64
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

/// Connects `load.connections` WebSockets to `addr`, runs the load and measures server
/// process `pid`. Errors name what failed (a connection, a wrong echo, a dead server).
pub async fn measure(addr: SocketAddr, pid: u32, load: &Load) -> Result<Measurement, String> {
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

    let cpu = |what| cpu_ns(pid).map_err(|e| format!("server CPU time ({what}): {e}"));
    tokio::time::sleep_until(start.into()).await;
    let cpu0 = cpu("start")?;
    let t0 = Instant::now();
    tokio::time::sleep_until(end.into()).await;
    let cpu1 = cpu("end")?;
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
        latency,
    })
}
