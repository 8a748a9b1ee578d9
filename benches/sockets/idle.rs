//! Idle connections: resident memory per connection held by one server process, rt-tokio
//! (WebSocket, WebSocket on the hub, SSE streams, held long polls) against tokio-tungstenite
//! and fastwebsockets holding the same number of WebSockets, and axum's `Sse` and hyper 1.x
//! alone (`hub_server::HttpServer::HyperHeld`: the least a held response costs on hyper,
//! the floor under every hyper-based SSE server) holding the same number of SSE streams.
//!
//! ```sh
//! cargo bench -p benches --bench idle            # 19,000 connections per server, docs/idle.svg
//! cargo bench -p benches --bench idle -- quick   # 2,000, target/idle-quick.svg
//! ```
//!
//! Each server is a process of its own (the echo servers of `servers.rs`, the hub server of
//! `hub_server.rs`) on a single-threaded runtime pinned to CPU 0; the connections are opened
//! by client processes (`subscribers.rs`) pinned to CPU 1, each from its own 127.0.0.x
//! address. Every process raises its open-files limit to the hard limit (20,000 here). For
//! each server: 100 warm-up connections (first-use allocations: the runtime's, the hub
//! channel's, long polling's mirror), then its resident set (`VmRSS`) once steady; then N
//! more connections, confirmed by the server's open files (and, on the hub server, by its
//! live subscriptions or held polls), then the resident set once steady again. The figure is
//! the growth divided by N.
//!
//! Options after `--`: `quick`, `conns=N`, `clients=K`, `only=NAME,...`, `chart=PATH`.

#[allow(dead_code)]
mod client;
mod hub_server;
mod plot;
mod process;
#[allow(dead_code)] // the echo benchmark uses all of it
mod servers;
mod stats;
mod subscribers;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hub_server::HttpServer;
use process::Process;
use servers::Server;
use subscribers::Kind;

const ECHO_SERVER_ENV: &str = "ECHO_BENCH_SERVER";
const ECHO_CPU_ENV: &str = "ECHO_BENCH_CPU";
const HTTP_SERVER_ENV: &str = "SOCKETS_BENCH_HTTP_SERVER";
const HTTP_CPU_ENV: &str = "SOCKETS_BENCH_HTTP_CPU";
const SERVER_CPU: usize = 0;
const CLIENT_CPU: usize = 1;
const WARM_UP: usize = 100;
/// The target of issue 20: at most 10 KiB per idle connection.
const TARGET: f64 = 10.0 * 1024.0;

/// A server process of either family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Echo(Server),
    Http(HttpServer),
}

/// One row: a server and what its connections are.
#[derive(Clone, Copy, Debug)]
struct Case {
    name: &'static str,
    target: Target,
    kind: Kind,
}

const CASES: [Case; 8] = [
    Case {
        name: "rt-tokio WebSocket",
        target: Target::Echo(Server::RtTokio),
        kind: Kind::WsPlain,
    },
    Case {
        name: "rt-tokio WebSocket on the hub",
        target: Target::Http(HttpServer::RtTokio),
        kind: Kind::Ws,
    },
    Case {
        name: "rt-tokio SSE",
        target: Target::Http(HttpServer::RtTokio),
        kind: Kind::Sse,
    },
    Case {
        name: "rt-tokio long poll",
        target: Target::Http(HttpServer::RtTokio),
        kind: Kind::LongPoll,
    },
    Case {
        name: "axum Sse",
        target: Target::Http(HttpServer::AxumSse),
        kind: Kind::Sse,
    },
    Case {
        name: "hyper-only SSE",
        target: Target::Http(HttpServer::HyperHeld),
        kind: Kind::Sse,
    },
    Case {
        name: "fastwebsockets WebSocket",
        target: Target::Echo(Server::Fastwebsockets),
        kind: Kind::WsPlain,
    },
    Case {
        name: "tokio-tungstenite WebSocket",
        target: Target::Echo(Server::TokioTungstenite),
        kind: Kind::WsPlain,
    },
];

fn slug(name: &str) -> String {
    name.to_lowercase().replace(' ', "-")
}

struct Options {
    conns: usize,
    clients: usize,
    cases: Vec<Case>,
    chart: PathBuf,
}

fn options() -> Options {
    let (args, quick, root) = crate::stats::bench_args();
    let mut o = Options {
        conns: if quick { 2_000 } else { 19_000 },
        clients: 4,
        cases: CASES.to_vec(),
        chart: if quick {
            root.join("target/idle-quick.svg")
        } else {
            root.join("docs/idle.svg")
        },
    };
    for arg in &args {
        let (key, value) = arg.split_once('=').unwrap_or((arg, ""));
        match key {
            "quick" => {}
            "conns" => o.conns = value.parse().expect("conns=N"),
            "clients" => o.clients = value.parse::<usize>().expect("clients=K").clamp(1, 200),
            "only" => {
                let wanted: Vec<&str> = value.split(',').collect();
                o.cases.retain(|c| wanted.contains(&slug(c.name).as_str()));
                assert!(
                    !o.cases.is_empty(),
                    "only= names none of {:?}",
                    CASES.map(|c| slug(c.name))
                );
            }
            "chart" => o.chart = PathBuf::from(value),
            other => panic!("unknown option {other:?} (see the top of benches/sockets/idle.rs)"),
        }
    }
    // 19,000 + warm-up + the listener and the runtime fit under a 20,000 file limit.
    assert!(
        o.conns + WARM_UP <= hub_server::MAX_CONNECTIONS - 200,
        "at most {} connections per server",
        hub_server::MAX_CONNECTIONS - 200 - WARM_UP
    );
    o
}

fn start(target: Target, cpu: Option<usize>) -> Result<(Process, SocketAddr), String> {
    let mut env = Vec::new();
    let name = match target {
        Target::Echo(s) => {
            env.push((ECHO_SERVER_ENV, s.name().to_string()));
            if let Some(cpu) = cpu {
                env.push((ECHO_CPU_ENV, cpu.to_string()));
            }
            s.name()
        }
        Target::Http(s) => {
            env.push((HTTP_SERVER_ENV, s.name().to_string()));
            if let Some(cpu) = cpu {
                env.push((HTTP_CPU_ENV, cpu.to_string()));
            }
            s.name()
        }
    };
    let p = Process::spawn(name, &env)?;
    let port: u16 = p
        .expect("port ", Duration::from_secs(10))?
        .parse()
        .map_err(|_| format!("{name}: bad port line"))?;
    Ok((p, SocketAddr::from(([127, 0, 0, 1], port))))
}

/// Waits until the resident set of `pid` stops moving (three reads 250 ms apart within
/// 16 KiB), at most `limit`; returns the last read.
fn steady_rss(pid: u32, limit: Duration) -> Result<u64, String> {
    let read = || stats::rss_bytes(pid).map_err(|e| format!("RSS of {pid}: {e}"));
    let deadline = Instant::now() + limit;
    let mut last = read()?;
    let mut calm = 0;
    while calm < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        let now = read()?;
        calm = if now.abs_diff(last) <= 16 << 10 {
            calm + 1
        } else {
            0
        };
        last = now;
    }
    Ok(last)
}

/// How long the server may take to hold every connection the clients opened (as long as
/// the clients may take to open them).
const HOLD_WAIT: Duration = Duration::from_secs(120);

/// Waits until the server holds `files` open files and, on rt-tokio's hub server, `held`
/// live subscriptions or held polls of `kind`.
fn wait_held(server: &mut Process, case: &Case, files: usize, held: usize) -> Result<(), String> {
    let deadline = Instant::now() + HOLD_WAIT;
    loop {
        let open = stats::open_files(server.pid()).map_err(|e| format!("open files: {e}"))?;
        let mut ok = open >= files;
        if ok && case.target == Target::Http(HttpServer::RtTokio) {
            let line = server.ask("stats", "stats ", Duration::from_secs(10))?;
            let nums: Vec<usize> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
            let (subs, polls) = (
                nums.first().copied().unwrap_or(0),
                nums.get(1).copied().unwrap_or(0),
            );
            ok = match case.kind {
                Kind::LongPoll => polls >= held,
                _ => subs >= held,
            };
        }
        if ok {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{}: {open} files open, {files} expected, after {} s",
                case.name,
                HOLD_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Row {
    case: Case,
    conns: usize,
    before: u64,
    after: u64,
}

impl Row {
    fn per_conn(&self) -> f64 {
        (self.after as f64 - self.before as f64) / self.conns as f64
    }
}

fn measure(case: &Case, o: &Options, pin: bool) -> Result<Row, String> {
    let cpu = |c| pin.then_some(c);
    let (mut server, addr) = start(case.target, cpu(SERVER_CPU))?;
    let files0 = stats::open_files(server.pid()).map_err(|e| e.to_string())?;
    let warm = subscribers::spawn(
        case.kind,
        addr,
        WARM_UP,
        Ipv4Addr::new(127, 0, 0, 9),
        0,
        cpu(CLIENT_CPU),
    )?;
    subscribers::wait_ready(&warm, WARM_UP, Duration::from_secs(30))?;
    wait_held(&mut server, case, files0 + WARM_UP, WARM_UP)?;
    let before = steady_rss(server.pid(), Duration::from_secs(10))?;
    let files1 = stats::open_files(server.pid()).map_err(|e| e.to_string())?;

    let k = o.clients.min(o.conns).max(1);
    let mut clients = Vec::with_capacity(k);
    let mut counts = Vec::with_capacity(k);
    for i in 0..k {
        let n = o.conns / k + usize::from(i < o.conns % k);
        let source = Ipv4Addr::new(127, 0, 0, 10 + i as u8);
        clients.push(subscribers::spawn(
            case.kind,
            addr,
            n,
            source,
            i + 1,
            cpu(CLIENT_CPU),
        )?);
        counts.push(n);
    }
    for (c, &n) in clients.iter().zip(&counts) {
        subscribers::wait_ready(c, n, HOLD_WAIT)?;
    }
    wait_held(&mut server, case, files1 + o.conns, WARM_UP + o.conns)?;
    let after = steady_rss(server.pid(), Duration::from_secs(20))?;
    drop(clients);
    drop(warm);
    drop(server);
    Ok(Row {
        case: *case,
        conns: o.conns,
        before,
        after,
    })
}

fn report(rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| server, connections | held | RSS before | RSS after | per connection | vs 10 KiB target |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: |");
    for r in rows {
        let per = r.per_conn();
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} MiB | {:.1} MiB | {:.0} B ({:.1} KiB) | {:.2}x |",
            r.case.name,
            r.conns,
            r.before as f64 / (1 << 20) as f64,
            r.after as f64 / (1 << 20) as f64,
            per,
            per / 1024.0,
            per / TARGET
        );
    }
    out
}

fn main() {
    if let Ok(name) = std::env::var(ECHO_SERVER_ENV) {
        let server: Server = name.parse().expect("a server name");
        let cpu = std::env::var(ECHO_CPU_ENV)
            .ok()
            .and_then(|c| c.parse().ok());
        servers::run(server, cpu);
    }
    if let Ok(name) = std::env::var(HTTP_SERVER_ENV) {
        let server: HttpServer = name.parse().expect("a server name");
        let cpu = std::env::var(HTTP_CPU_ENV)
            .ok()
            .and_then(|c| c.parse().ok());
        hub_server::run(server, cpu);
    }
    if std::env::var(subscribers::KIND_ENV).is_ok() {
        subscribers::run_child();
    }
    let o = options();
    let pin = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    if let Err(e) = stats::raise_nofile_limit() {
        eprintln!("idle: could not raise the open-files limit: {e}");
    }
    println!(
        "idle: {} connections per server (+{WARM_UP} warm-up) from {} client processes; servers on CPU {SERVER_CPU}, clients on CPU {CLIENT_CPU}",
        o.conns, o.clients
    );
    let mut rows = Vec::new();
    let mut failed = false;
    for case in &o.cases {
        match measure(case, &o, pin) {
            Ok(row) => {
                println!(
                    "{:<32} {:>6} conns: {:>7.1} MiB -> {:>7.1} MiB, {:>7.0} B per connection",
                    case.name,
                    row.conns,
                    row.before as f64 / (1 << 20) as f64,
                    row.after as f64 / (1 << 20) as f64,
                    row.per_conn()
                );
                rows.push(row);
            }
            Err(e) => {
                println!("{}: FAILED: {e}", case.name);
                failed = true;
            }
        }
        // Let the kernel finish closing the last server's sockets.
        std::thread::sleep(Duration::from_millis(500));
    }
    println!("\n{}", report(&rows));
    let panel = plot::Panel {
        caption: format!("{} idle connections held by one server process", o.conns),
        y_desc: "KiB of resident memory per connection (log scale)".into(),
        bars: rows
            .iter()
            .map(|r| (r.case.name.to_string(), r.per_conn() / 1024.0))
            .collect(),
        log: true,
        target: Some((TARGET / 1024.0, "target: 10 KiB".into())),
    };
    match plot::draw(
        &o.chart,
        "Idle connections: resident memory per connection (lower is better)",
        &[panel],
    ) {
        Ok(()) => println!("chart: {}", o.chart.display()),
        Err(e) => {
            eprintln!("idle: chart {}: {e}", o.chart.display());
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}
