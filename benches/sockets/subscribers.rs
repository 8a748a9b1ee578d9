//! The client processes of the idle and fan-out benchmarks: each opens `count` connections
//! of one kind from one 127.0.0.x source address (bound before connecting, so several
//! processes together hold more sockets than one address has ephemeral ports), keeps them
//! open, and records every hub message that reaches them.
//!
//! Kinds: `ws` (rt-tokio's WebSocket client on `/ws?channel=fan`), `ws-plain` (the same
//! client on `/`, for the echo servers, which never send unasked), `sse` (hyper's HTTP/1.1
//! client on `/sse?channel=fan`, events parsed by sse-proto's `Parser`) and `long-poll`
//! (hyper's client polling `/poll?channel=fan`, answers parsed by longpoll-proto, each next
//! poll from the answer's cursor).
//!
//! Protocol with the parent: the child writes `ready N` once its N connections are open,
//! then answers commands on stdin (one line each):
//!
//! | command | answer |
//! | --- | --- |
//! | `round R MS` | `round R COUNT MAX_NS P50_NS`: how many connections got message R, the slowest and median publish-to-receipt time, after all did or MS passed |
//! | `burst N MS` | `burst COUNT LAST_NS TOTAL`: how many got message N-1 (the last of a burst), when the last of them did (`monotonic_ns`), messages received in all; then forgets the burst |
//!
//! It exits when its stdin closes (the kernel closes its sockets).

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpSocket, TcpStream};

use crate::hub_server::{parse_stamp, CHANNEL};
use crate::stats::monotonic_ns;

/// Environment of a client process.
pub const KIND_ENV: &str = "SOCKETS_BENCH_CLIENT";
const ADDR_ENV: &str = "SOCKETS_BENCH_ADDR";
const COUNT_ENV: &str = "SOCKETS_BENCH_COUNT";
const SOURCE_ENV: &str = "SOCKETS_BENCH_SOURCE";
const ID_ENV: &str = "SOCKETS_BENCH_ID";
const CPU_ENV: &str = "SOCKETS_BENCH_CPU";

/// Connections opened at once (the server's accept backlog is 1,024).
const OPEN_AT_ONCE: usize = 128;

/// What a client process connects as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// rt-tokio's WebSocket client on the hub server's `/ws`.
    Ws,
    /// rt-tokio's WebSocket client on `/` (the echo servers).
    WsPlain,
    /// SSE on the hub server's `/sse`.
    Sse,
    /// Long polls on the hub server's `/poll`.
    LongPoll,
}

impl Kind {
    /// The name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ws => "ws",
            Kind::WsPlain => "ws-plain",
            Kind::Sse => "sse",
            Kind::LongPoll => "long-poll",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [Kind::Ws, Kind::WsPlain, Kind::Sse, Kind::LongPoll]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// Starts one client process: `count` connections of `kind` to `addr` from `source`,
/// pinned to `cpu` ([`wait_ready`] waits for them).
pub fn spawn(
    kind: Kind,
    addr: SocketAddr,
    count: usize,
    source: Ipv4Addr,
    id: usize,
    cpu: Option<usize>,
) -> Result<crate::process::Process, String> {
    let mut env = vec![
        (KIND_ENV, kind.name().to_string()),
        (ADDR_ENV, addr.to_string()),
        (COUNT_ENV, count.to_string()),
        (SOURCE_ENV, source.to_string()),
        (ID_ENV, id.to_string()),
    ];
    if let Some(cpu) = cpu {
        env.push((CPU_ENV, cpu.to_string()));
    }
    crate::process::Process::spawn(&format!("{} client {id}", kind.name()), &env)
}

/// Waits until client `p` has its `count` connections open.
pub fn wait_ready(
    p: &crate::process::Process,
    count: usize,
    timeout: Duration,
) -> Result<(), String> {
    let ready = p.expect("ready", timeout)?;
    if ready != count.to_string() {
        return Err(format!("client {}: ready {ready}, {count} asked", p.pid()));
    }
    Ok(())
}

/// Messages received, by message index.
#[derive(Default)]
struct Received {
    by_index: HashMap<u64, Arrivals>,
    total: u64,
}

#[derive(Default)]
struct Arrivals {
    count: usize,
    last_ns: u64,
    latencies: Vec<u64>,
}

impl Received {
    fn record(&mut self, data: &[u8]) {
        let now = monotonic_ns();
        let Some((index, sent)) = parse_stamp(data) else {
            return;
        };
        let a = self.by_index.entry(index).or_default();
        a.count += 1;
        a.last_ns = a.last_ns.max(now);
        a.latencies.push(now.saturating_sub(sent));
        self.total += 1;
    }
}

type Shared = Arc<Mutex<Received>>;

fn record(shared: &Shared, data: &[u8]) {
    shared
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .record(data);
}

/// The client process's main: see the module's documentation. Never returns.
pub fn run_child() -> ! {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} not set"));
    let kind = Kind::parse(&var(KIND_ENV)).expect("a client kind");
    let addr: SocketAddr = var(ADDR_ENV).parse().expect("an address");
    let count: usize = var(COUNT_ENV).parse().expect("a count");
    let source: Ipv4Addr = var(SOURCE_ENV).parse().expect("a source address");
    let id: usize = var(ID_ENV).parse().expect("an id");
    if let Some(cpu) = std::env::var(CPU_ENV).ok().and_then(|c| c.parse().ok()) {
        crate::stats::pin_to_cpu(cpu);
    }
    if let Err(e) = crate::stats::raise_nofile_limit() {
        eprintln!("client: could not raise the open-files limit: {e}");
    }
    let mut command_rx = crate::process::stdin_commands();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let shared: Shared = Arc::default();
        let mut opened = 0;
        let mut tasks = Vec::with_capacity(count);
        while opened < count {
            let n = OPEN_AT_ONCE.min(count - opened);
            let batch =
                (opened..opened + n).map(|i| open(kind, addr, source, id, i, shared.clone()));
            for r in futures_util::future::join_all(batch).await {
                match r {
                    Ok(task) => tasks.push(task),
                    Err(e) => {
                        say(&format!("error: connection {opened}: {e}"));
                        std::process::exit(1);
                    }
                }
            }
            opened += n;
        }
        say(&format!("ready {count}"));
        while let Some(line) = command_rx.recv().await {
            let words: Vec<&str> = line.split_whitespace().collect();
            let num = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
            match (words.first().copied(), num(1), num(2)) {
                (Some("round"), Some(round), Some(ms)) => {
                    let a = wait_for(&shared, round, count, ms).await;
                    let mut lat = a.latencies;
                    lat.sort_unstable();
                    let max = lat.last().copied().unwrap_or(0);
                    let p50 = lat
                        .get(lat.len().saturating_sub(1) / 2)
                        .copied()
                        .unwrap_or(0);
                    say(&format!("round {round} {} {max} {p50}", a.count));
                }
                (Some("burst"), Some(n), Some(ms)) => {
                    let a = wait_for(&shared, n.saturating_sub(1), count, ms).await;
                    let mut r = shared.lock().unwrap_or_else(|e| e.into_inner());
                    let total = r.total;
                    *r = Received::default();
                    say(&format!("burst {} {} {total}", a.count, a.last_ns));
                }
                _ => say(&format!("error: unknown command {line:?}")),
            }
        }
        drop(tasks);
    });
    std::process::exit(0)
}

/// Waits until `count` connections got message `index` or `ms` passed; takes its arrivals.
async fn wait_for(shared: &Shared, index: u64, count: usize, ms: u64) -> Arrivals {
    let deadline = Instant::now() + Duration::from_millis(ms);
    loop {
        {
            let mut r = shared.lock().unwrap_or_else(|e| e.into_inner());
            let done = r.by_index.get(&index).is_some_and(|a| a.count >= count);
            if done || Instant::now() >= deadline {
                return r.by_index.remove(&index).unwrap_or_default();
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Says, once per client process, that a long poll's connection ended without an answer
/// (the server closed it, as it does for every held poll when a benchmark stops it): while
/// the idle benchmark counts held polls, it means fewer are held than were opened.
fn connection_lost(e: &hyper::Error) {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "long-poll client: a connection ended without an answer (the server closed it): {e:?}"
        );
    }
}

/// A TCP connection to `addr` from `source` (an ephemeral port of that address).
///
/// The port is chosen when connecting (`IP_BIND_ADDRESS_NO_PORT`), not when binding: a
/// bound port must be unused towards every destination, so the earlier servers' connections
/// from the same address (in TIME_WAIT for 60 s) would make each `bind` search longer and,
/// over a whole run, exhaust the address's ports.
pub async fn connect_from(source: Ipv4Addr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    use std::os::fd::AsRawFd as _;
    let socket = TcpSocket::new_v4()?;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads one `c_int` from a valid pointer, of the length given, for a
    // socket this function owns; it changes nothing else of this process's memory.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if set != 0 {
        return Err(std::io::Error::last_os_error());
    }
    socket.bind(SocketAddr::from((source, 0)))?;
    let tcp = socket.connect(addr).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// Opens connection `i` and returns the task that keeps it (and records what it gets).
async fn open(
    kind: Kind,
    addr: SocketAddr,
    source: Ipv4Addr,
    id: usize,
    i: usize,
    shared: Shared,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let tcp = connect_from(source, addr)
        .await
        .map_err(|e| format!("connect from {source}: {e}"))?;
    match kind {
        Kind::Ws | Kind::WsPlain => {
            let path = if kind == Kind::Ws {
                format!("/ws?channel={CHANNEL}")
            } else {
                "/".to_string()
            };
            let (mut ws, _) = rt_tokio::ws::ClientBuilder::new(format!("ws://{addr}{path}"))
                .handshake(tcp)
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            Ok(tokio::spawn(async move {
                while let Some(Ok(m)) = ws.recv().await {
                    record(&shared, m.payload());
                }
            }))
        }
        Kind::Sse => {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| format!("http: {e}"))?;
            tokio::spawn(conn);
            let request = http::Request::get(format!("/sse?channel={CHANNEL}"))
                .header(http::header::HOST, addr.to_string())
                .header(http::header::ACCEPT, "text/event-stream")
                .body(Empty::<Bytes>::new())
                .map_err(|e| e.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("sse request: {e}"))?;
            if response.status() != http::StatusCode::OK {
                return Err(format!("sse: status {}", response.status()));
            }
            let mut body = response.into_body();
            Ok(tokio::spawn(async move {
                let _sender = sender;
                let mut parser = sse_proto::Parser::new();
                while let Some(Ok(frame)) = body.frame().await {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if parser.handle_input(&data[..]).is_err() {
                        break;
                    }
                    while let Some(item) = parser.poll_item() {
                        if let sse_proto::Item::Event(event) = item {
                            record(&shared, event.data.as_bytes());
                        }
                    }
                }
            }))
        }
        Kind::LongPoll => {
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| format!("http: {e}"))?;
            tokio::spawn(conn);
            let client = format!("c{id}-{i}");
            Ok(tokio::spawn(long_poll(sender, addr, client, shared)))
        }
    }
}

/// Polls until the connection fails: each answer's messages recorded, the next poll from
/// its cursor.
async fn long_poll(
    mut sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    addr: SocketAddr,
    client: String,
    shared: Shared,
) {
    use longpoll_proto::http::{parse_poll_response, ParseLimits, CLIENT_HEADER};
    use longpoll_proto::Outcome;
    let mut cursor: Option<String> = None;
    loop {
        if let Err(e) = sender.ready().await {
            return connection_lost(&e);
        }
        let mut uri = format!("/poll?channel={CHANNEL}");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let Ok(request) = http::Request::get(uri)
            .header(http::header::HOST, addr.to_string())
            .header(CLIENT_HEADER, client.as_str())
            .body(Empty::<Bytes>::new())
        else {
            return;
        };
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => return connection_lost(&e),
        };
        let (parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(b) => b,
            Err(e) => return connection_lost(&e),
        };
        let body = body.to_bytes();
        let headers: Vec<(&str, &[u8])> = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        match parse_poll_response(
            parts.status.as_u16(),
            headers.iter().copied(),
            &body,
            &ParseLimits::default(),
        ) {
            Ok(Outcome::Batch { messages, next }) => {
                for m in &messages {
                    record(&shared, &m.data);
                }
                cursor = Some(next.to_string());
            }
            Ok(Outcome::Empty { cursor: c, .. }) => cursor = Some(c.to_string()),
            Ok(Outcome::Gap { resume, .. }) | Ok(Outcome::Reset { resume, .. }) => {
                cursor = Some(resume.to_string())
            }
            Ok(other) => {
                eprintln!("long-poll client: {other:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                eprintln!("long-poll client: {e} (status {})", parts.status);
                return;
            }
        }
    }
}
