//! WebSocket echo over loopback sockets: server CPU per round trip, throughput and latency of
//! rt-tokio against tokio-tungstenite, fastwebsockets, axum and soketto, in the same run, and
//! the floor: a plain TCP echo server (`tcp-echo`) with the same system calls per round trip
//! and no WebSocket framing, for how close each WebSocket server gets to it.
//!
//! ```sh
//! cargo bench -p benches --bench echo            # 5 rounds, writes docs/echo.svg
//! cargo bench -p benches --bench echo -- quick   # 1 short round, about a minute
//! ```
//!
//! Each server is a process of its own (this binary, re-run with `ECHO_BENCH_SERVER=NAME`)
//! on a single-threaded tokio runtime pinned to CPU 0; the load client (`client.rs`, the same
//! for every server) runs here, pinned to CPU 1. Cases: 20 B / 1 KiB / 64 KiB binary messages
//! × 1 / 16 / 256 connections, without and with permessage-deflate (servers that negotiate
//! it: rt-tokio and soketto). In each round every server runs every case, in an order that
//! rotates from round to round. Server CPU comes from `/proc/PID/task/*/schedstat` over the
//! measured window. Ratios are taken within each round, then the median over rounds.
//!
//! Options after `--`: `quick`, `rounds=N`, `window=MS`, `warmup=MS`, `only=SERVER,...`,
//! `sizes=20,1024`, `conns=1,16`, `deflate=off|on|both`, `chart=PATH` (default
//! `docs/echo.svg` for a full run, `target/echo-quick.svg` for `quick`). With
//! `ECHO_BENCH_WRAP="valgrind --tool=callgrind"` in the environment every server runs under
//! that command (for profiles; its timings then mean nothing).

mod chart;
mod client;
mod servers;
mod stats;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use client::{Load, Measurement};
use servers::Server;
use stats::median;

const SERVER_ENV: &str = "ECHO_BENCH_SERVER";
const CPU_ENV: &str = "ECHO_BENCH_CPU";
const WRAP_ENV: &str = "ECHO_BENCH_WRAP";
/// The server's CPU; the client takes the other one.
const SERVER_CPU: usize = 0;
const CLIENT_CPU: usize = 1;

/// One cell of the grid: a message size, a connection count, deflate or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    pub size: usize,
    pub connections: usize,
    pub deflate: bool,
}

impl Case {
    pub fn label(&self) -> String {
        let size = match self.size {
            s if s >= 1024 && s % 1024 == 0 => format!("{} KiB", s / 1024),
            s => format!("{s} B"),
        };
        format!("{size} × {}", self.connections)
    }
}

struct Options {
    rounds: usize,
    warmup: Duration,
    window: Duration,
    servers: Vec<Server>,
    sizes: Vec<usize>,
    conns: Vec<usize>,
    deflate: Vec<bool>,
    chart: PathBuf,
}

fn parse_list<T: std::str::FromStr>(value: &str, what: &str) -> Vec<T> {
    value
        .split(',')
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("bad {what} {v:?} on the command line"))
        })
        .collect()
}

fn options() -> Options {
    let (args, quick, root) = crate::stats::bench_args();
    let mut o = Options {
        rounds: if quick { 1 } else { 5 },
        warmup: Duration::from_millis(if quick { 100 } else { 300 }),
        window: Duration::from_millis(if quick { 400 } else { 2000 }),
        servers: Server::ALL.to_vec(),
        sizes: vec![20, 1024, 64 * 1024],
        conns: vec![1, 16, 256],
        deflate: vec![false, true],
        chart: if quick {
            root.join("target/echo-quick.svg")
        } else {
            root.join("docs/echo.svg")
        },
    };
    for arg in &args {
        let (key, value) = arg.split_once('=').unwrap_or((arg, ""));
        match key {
            "quick" => {}
            "rounds" => o.rounds = value.parse().expect("rounds=N"),
            "window" => o.window = Duration::from_millis(value.parse().expect("window=MS")),
            "warmup" => o.warmup = Duration::from_millis(value.parse().expect("warmup=MS")),
            "only" => o.servers = parse_list(value, "server"),
            "sizes" => o.sizes = parse_list(value, "size"),
            "conns" => o.conns = parse_list(value, "connection count"),
            "deflate" => {
                o.deflate = match value {
                    "off" => vec![false],
                    "on" => vec![true],
                    "both" => vec![false, true],
                    _ => panic!("deflate=off|on|both"),
                }
            }
            "chart" => o.chart = PathBuf::from(value),
            other => panic!("unknown option {other:?} (see the top of benches/sockets/echo.rs)"),
        }
    }
    o
}

/// A server process we started, stopped when dropped (through its own child handle).
struct ServerProcess {
    server: Server,
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(server: Server, cpu: Option<usize>) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        // ECHO_BENCH_WRAP="valgrind --tool=callgrind" runs the servers under a profiler.
        let wrap = std::env::var(WRAP_ENV).unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(words).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        command
            .env(SERVER_ENV, server.name())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(cpu) = cpu {
            command.env(CPU_ENV, cpu.to_string());
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("start {}: {e}", server.name()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("{}: {e}", server.name()))?;
        let port: u16 = line
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("{} did not say its port: {line:?}", server.name()))?;
        Ok(Self {
            server,
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }
}

impl Drop for ServerProcess {
    /// Closes the server's stdin (it exits by itself, so a profiler around it writes its
    /// output), and kills it if it is still there after two seconds.
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every measurement of the run: `results[case][server][round]`.
pub struct Results {
    pub cases: Vec<Case>,
    pub servers: Vec<Server>,
    pub runs: Vec<Vec<Vec<Option<Measurement>>>>,
}

impl Results {
    fn index(&self, server: Server) -> Option<usize> {
        self.servers.iter().position(|&s| s == server)
    }

    /// The median over rounds of `f` of one server's measurements.
    pub fn median_of(&self, case: usize, server: Server, f: impl Fn(&Measurement) -> f64) -> f64 {
        let Some(s) = self.index(server) else {
            return f64::NAN;
        };
        let v: Vec<f64> = self.runs[case][s].iter().flatten().map(f).collect();
        median(&v)
    }

    /// The median over rounds of `f(ours) / f(theirs)`, each pair from the same round.
    pub fn ratio(
        &self,
        case: usize,
        ours: Server,
        theirs: Server,
        f: impl Fn(&Measurement) -> f64,
    ) -> f64 {
        let (Some(a), Some(b)) = (self.index(ours), self.index(theirs)) else {
            return f64::NAN;
        };
        let v: Vec<f64> = self.runs[case][a]
            .iter()
            .zip(&self.runs[case][b])
            .filter_map(|(x, y)| Some(f(x.as_ref()?) / f(y.as_ref()?)))
            .collect();
        median(&v)
    }

    /// The peer the ratios of a case are taken against: fastwebsockets without deflate,
    /// soketto (the one peer that negotiates it) with.
    pub fn reference(case: &Case) -> Server {
        if case.deflate {
            Server::Soketto
        } else {
            Server::Fastwebsockets
        }
    }

    pub fn servers_for(&self, case: &Case) -> Vec<Server> {
        self.servers
            .iter()
            .copied()
            .filter(|s| !case.deflate || s.deflate())
            .collect()
    }
}

/// A payload of `size` bytes that compresses like chat traffic: JSON records with varying
/// numbers and words (the content is the same for every server and every case of a size).
fn payload(size: usize) -> Bytes {
    const WORDS: [&str; 12] = [
        "hello", "world", "realtime", "socket", "message", "update", "price", "user", "room",
        "typing", "status", "online",
    ];
    let mut out = String::with_capacity(size + 128);
    let mut i = 0usize;
    while out.len() < size {
        let w = WORDS[(i * 7 + 3) % WORDS.len()];
        out.push_str(&format!(
            "{{\"id\":{},\"user\":\"{}{}\",\"text\":\"{} {}\",\"ts\":{}}}",
            i,
            w,
            i % 97,
            w,
            WORDS[i % WORDS.len()],
            1_700_000_000_000u64 + (i as u64 * 7919) % 100_000
        ));
        i += 1;
    }
    out.truncate(size);
    Bytes::from(out)
}

fn fmt_us(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 100.0 {
        format!("{us:.0}")
    } else {
        format!("{us:.1}")
    }
}

fn report(r: &Results) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for deflate in [false, true] {
        let cases: Vec<usize> = (0..r.cases.len())
            .filter(|&i| r.cases[i].deflate == deflate)
            .collect();
        let Some(&first) = cases.first() else {
            continue;
        };
        let servers = r.servers_for(&r.cases[first]);
        let reference = Results::reference(&r.cases[first]);
        let title = if deflate {
            "with permessage-deflate"
        } else {
            "without compression"
        };
        let _ = writeln!(out, "\nServer CPU per round trip (µs), {title}:\n");
        let mut head = String::from("| case |");
        let mut rule = String::from("| --- |");
        for s in &servers {
            let _ = write!(head, " {} |", s.name());
            rule.push_str(" ---: |");
        }
        // The floor (plain TCP echo) in the run: how far each WebSocket server is above it.
        let floor = (!deflate && r.index(Server::TcpEcho).is_some()).then_some(Server::TcpEcho);
        let floor_head = match floor {
            Some(f) => format!(
                " rt-tokio / {f} CPU | {reference} / {f} CPU |",
                f = f.name(),
                reference = reference.name()
            ),
            None => String::new(),
        };
        let floor_rule = if floor.is_some() {
            " ---: | ---: |"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{head} rt-tokio / {} CPU | rt-tokio / {} throughput |{floor_head}",
            reference.name(),
            reference.name()
        );
        let _ = writeln!(out, "{rule} ---: | ---: |{floor_rule}");
        for &c in &cases {
            let mut row = format!("| {} |", r.cases[c].label());
            for &s in &servers {
                let v = r.median_of(c, s, Measurement::cpu_us_per_rt);
                let _ = write!(row, " {v:.2} |");
            }
            let cpu = r.ratio(c, Server::RtTokio, reference, Measurement::cpu_us_per_rt);
            let tput = r.ratio(c, Server::RtTokio, reference, Measurement::rt_per_s);
            let _ = write!(row, " {cpu:.2}x | {tput:.2}x |");
            if let Some(f) = floor {
                let ours = r.ratio(c, Server::RtTokio, f, Measurement::cpu_us_per_rt);
                let theirs = r.ratio(c, reference, f, Measurement::cpu_us_per_rt);
                let _ = write!(row, " {ours:.2}x | {theirs:.2}x |");
            }
            let _ = writeln!(out, "{row}");
        }
        let _ = writeln!(
            out,
            "\nThroughput (thousand round trips/s) and latency p50 / p99 (µs), {title}:\n"
        );
        let _ = writeln!(out, "{head}");
        let _ = writeln!(out, "{rule}");
        for &c in &cases {
            let mut row = format!("| {} |", r.cases[c].label());
            for &s in &servers {
                let t = r.median_of(c, s, Measurement::rt_per_s) / 1e3;
                let p50 = r.median_of(c, s, |m| m.latency.quantile(0.5).as_secs_f64());
                let p99 = r.median_of(c, s, |m| m.latency.quantile(0.99).as_secs_f64());
                let _ = write!(
                    row,
                    " {t:.1} k/s, {} / {} |",
                    fmt_us(Duration::from_secs_f64(p50.max(0.0))),
                    fmt_us(Duration::from_secs_f64(p99.max(0.0)))
                );
            }
            let _ = writeln!(out, "{row}");
        }
    }
    out
}

fn main() {
    if let Ok(name) = std::env::var(SERVER_ENV) {
        let server: Server = name.parse().expect("a server name");
        let cpu = std::env::var(CPU_ENV).ok().and_then(|c| c.parse().ok());
        servers::run(server, cpu);
    }
    let o = options();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = cpus >= 2;
    if !pin {
        eprintln!("echo: one CPU only, server and client share it (nothing pinned)");
    }
    let mut processes = Vec::new();
    for &server in &o.servers {
        match ServerProcess::start(server, pin.then_some(SERVER_CPU)) {
            Ok(p) => processes.push(p),
            Err(e) => {
                eprintln!("echo: {e}");
                std::process::exit(1);
            }
        }
    }
    if pin && !stats::pin_to_cpu(CLIENT_CPU) {
        eprintln!("echo: could not pin the client to CPU {CLIENT_CPU}");
    }

    let mut cases = Vec::new();
    for &deflate in &o.deflate {
        for &size in &o.sizes {
            for &connections in &o.conns {
                cases.push(Case {
                    size,
                    connections,
                    deflate,
                });
            }
        }
    }
    let mut results = Results {
        runs: vec![vec![Vec::new(); o.servers.len()]; cases.len()],
        cases,
        servers: o.servers.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!(
        "echo: {} rounds, {} ms warm-up + {} ms window per measurement, servers on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU}",
        o.rounds,
        o.warmup.as_millis(),
        o.window.as_millis()
    );
    let mut failed = false;
    for round in 0..o.rounds {
        for c in 0..results.cases.len() {
            let case = results.cases[c];
            let load = Load {
                connections: case.connections,
                payload: payload(case.size),
                deflate: case.deflate,
                warmup: o.warmup,
                window: o.window,
            };
            let mut order: Vec<usize> = (0..processes.len())
                .filter(|&i| !case.deflate || processes[i].server.deflate())
                .collect();
            let len = order.len().max(1);
            order.rotate_left((round + c) % len);
            for i in order {
                let p = &processes[i];
                let m = runtime.block_on(client::measure(
                    p.addr,
                    p.child.id(),
                    &load,
                    p.server.plain_tcp(),
                ));
                // Let the server finish with the closed connections before the next one.
                std::thread::sleep(Duration::from_millis(50));
                match m {
                    Ok(m) => {
                        println!(
                            "round {} {:<18} {:<18} {:>8.2} µs CPU/rt ({:>3.0}% user, busy {:>3.0}%) {:>9.0} rt/s p50 {:>7} µs p99 {:>7} µs",
                            round + 1,
                            format!(
                                "{}{}",
                                case.label(),
                                if case.deflate { " deflate" } else { "" }
                            ),
                            p.server.name(),
                            m.cpu_us_per_rt(),
                            m.user_share * 100.0,
                            m.busy() * 100.0,
                            m.rt_per_s(),
                            fmt_us(m.latency.quantile(0.5)),
                            fmt_us(m.latency.quantile(0.99)),
                        );
                        results.runs[c][i].push(Some(m));
                    }
                    Err(e) => {
                        println!(
                            "round {} {} {}: FAILED: {e}",
                            round + 1,
                            case.label(),
                            p.server.name()
                        );
                        failed = true;
                        results.runs[c][i].push(None);
                    }
                }
            }
        }
    }
    drop(processes);
    let table = report(&results);
    println!("{table}");
    match chart::draw(&results, &o.chart) {
        Ok(()) => println!("chart: {}", o.chart.display()),
        Err(e) => {
            eprintln!("echo: chart {}: {e}", o.chart.display());
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}
