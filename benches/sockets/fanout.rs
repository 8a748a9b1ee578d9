//! Fan-out through rt-tokio's hub over loopback: one publish to N subscribers of each
//! transport (WebSocket, SSE, long poll), time until the last one has it; messages per
//! second through the hub with 1,000 subscribers; and SSE streaming throughput of rt-tokio's
//! `SseBody` against axum's `Sse` on the same events, read by the same client.
//!
//! ```sh
//! cargo bench -p benches --bench fanout            # 10,000 subscribers, docs/fanout.svg
//! cargo bench -p benches --bench fanout -- quick   # 1,000, target/fanout-quick.svg
//! ```
//!
//! The servers (`hub_server.rs`) are processes of their own on a single-threaded runtime
//! pinned to CPU 0; the subscribers are client processes (`subscribers.rs`) pinned to CPU 1,
//! each from its own 127.0.0.x address. A published message carries the server's
//! `CLOCK_MONOTONIC` time stamp taken just before `Hub::publish`; each subscriber reads the
//! same clock when the message is parsed, so "time to the last subscriber" is publish to
//! the last receipt, client parsing included.
//!
//! - Latency: `rounds` publishes of one 64-byte message, each once every subscriber has the
//!   one before (and, for long polling, has its next poll held again); the server's CPU
//!   time from just before the publish to the last receipt is reported beside it.
//! - Throughput: bursts of `burst` messages published back to back to 1,000 subscribers;
//!   messages per second is the burst over the time from its first publish to the last
//!   subscriber's receipt of its last message.
//! - SSE streaming: one `GET /stream?n=N&size=100` at a time, the client (this process, CPU
//!   1, hyper's client and sse-proto's parser) counts the events; server CPU from
//!   `/proc/PID/task/*/schedstat`.
//!
//! Options after `--`: `quick`, `subs=N`, `rounds=N`, `burst=N`, `bursts=N`, `events=N`,
//! `streams=N` (SSE stream repetitions, 0: none), `only=ws,sse,long-poll`, `chart=PATH`.

#[allow(dead_code)]
mod client;
mod hub_server;
mod plot;
mod process;
mod stats;
mod subscribers;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hub_server::HttpServer;
use hyper_util::rt::TokioIo;
use process::Process;
use stats::{median, quantile};
use subscribers::Kind;

const HTTP_SERVER_ENV: &str = "SOCKETS_BENCH_HTTP_SERVER";
const HTTP_CPU_ENV: &str = "SOCKETS_BENCH_HTTP_CPU";
const SERVER_CPU: usize = 0;
const CLIENT_CPU: usize = 1;
/// Published message size, bytes.
const SIZE: usize = 64;
/// Subscribers of the throughput measurement.
const THROUGHPUT_SUBS: usize = 1_000;
/// SSE stream event size, bytes.
const EVENT_SIZE: usize = 100;

struct Options {
    subs: usize,
    rounds: usize,
    burst: usize,
    bursts: usize,
    events: u64,
    streams: usize,
    kinds: Vec<Kind>,
    chart: PathBuf,
}

fn options() -> Options {
    let (args, quick, root) = crate::stats::bench_args();
    let mut o = Options {
        subs: if quick { 1_000 } else { 10_000 },
        rounds: if quick { 5 } else { 30 },
        burst: if quick { 200 } else { 1_000 },
        bursts: if quick { 2 } else { 5 },
        events: if quick { 200_000 } else { 1_000_000 },
        streams: if quick { 2 } else { 5 },
        kinds: vec![Kind::Ws, Kind::Sse, Kind::LongPoll],
        chart: if quick {
            root.join("target/fanout-quick.svg")
        } else {
            root.join("docs/fanout.svg")
        },
    };
    for arg in &args {
        let (key, value) = arg.split_once('=').unwrap_or((arg, ""));
        let num = || -> usize { value.parse().unwrap_or_else(|_| panic!("{key}=N")) };
        match key {
            "quick" => {}
            "subs" => o.subs = num().clamp(1, 19_000),
            "rounds" => o.rounds = num().clamp(1, 10_000),
            "burst" => o.burst = num().clamp(1, 1_000),
            "bursts" => o.bursts = num().clamp(1, 1_000),
            "events" => o.events = num().clamp(1, 10_000_000) as u64,
            "streams" => o.streams = num().min(1_000),
            "only" => {
                let wanted: Vec<&str> = value.split(',').collect();
                o.kinds.retain(|k| wanted.contains(&k.name()));
            }
            "chart" => o.chart = PathBuf::from(value),
            other => panic!("unknown option {other:?} (see the top of benches/sockets/fanout.rs)"),
        }
    }
    o
}

fn start(server: HttpServer, cpu: Option<usize>) -> Result<(Process, SocketAddr), String> {
    let mut env = vec![(HTTP_SERVER_ENV, server.name().to_string())];
    if let Some(cpu) = cpu {
        env.push((HTTP_CPU_ENV, cpu.to_string()));
    }
    let p = Process::spawn(server.name(), &env)?;
    let port: u16 = p
        .expect("port ", Duration::from_secs(10))?
        .parse()
        .map_err(|_| format!("{}: bad port line", server.name()))?;
    Ok((p, SocketAddr::from(([127, 0, 0, 1], port))))
}

/// Waits until the hub server has `n` live subscriptions (`n` held polls for long polling).
fn wait_subscribed(server: &mut Process, kind: Kind, n: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = server.ask("stats", "stats ", Duration::from_secs(10))?;
        let nums: Vec<usize> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
        let have = match kind {
            Kind::LongPoll => nums.get(1),
            _ => nums.first(),
        }
        .copied()
        .unwrap_or(0);
        if have >= n {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{}: {have} of {n} subscribed after 60 s",
                kind.name()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Server and client processes with `subs` subscribers of `kind`.
struct Setup {
    server: Process,
    clients: Vec<Process>,
    subs: usize,
    kind: Kind,
}

impl Setup {
    fn new(kind: Kind, subs: usize, pin: bool) -> Result<Self, String> {
        let cpu = |c| pin.then_some(c);
        let (mut server, addr) = start(HttpServer::RtTokio, cpu(SERVER_CPU))?;
        // Two client processes (one beyond 9,500 connections), each from its own address.
        let k = if subs > 1 { 2 } else { 1 };
        let mut clients = Vec::new();
        let mut counts = Vec::new();
        for i in 0..k {
            let n = subs / k + usize::from(i < subs % k);
            let source = Ipv4Addr::new(127, 0, 0, 10 + i as u8);
            clients.push(subscribers::spawn(
                kind,
                addr,
                n,
                source,
                i,
                cpu(CLIENT_CPU),
            )?);
            counts.push(n);
        }
        for (c, &n) in clients.iter().zip(&counts) {
            subscribers::wait_ready(c, n, Duration::from_secs(120))?;
        }
        wait_subscribed(&mut server, kind, subs)?;
        Ok(Setup {
            server,
            clients,
            subs,
            kind,
        })
    }

    /// Before the next publish: long polls held again, else a short pause.
    fn settle(&mut self) -> Result<(), String> {
        if self.kind == Kind::LongPoll {
            wait_subscribed(&mut self.server, self.kind, self.subs)
        } else {
            std::thread::sleep(Duration::from_millis(20));
            Ok(())
        }
    }
}

/// One round: (subscribers reached, time to the last one, median of the client processes'
/// median delivery times, server CPU time from publish to the last receipt), in seconds.
fn round(setup: &mut Setup, r: usize) -> Result<(usize, f64, f64, f64), String> {
    setup.settle()?;
    let pid = setup.server.pid();
    let cpu = || stats::cpu_ns(pid).map_err(|e| format!("server CPU time: {e}"));
    let cpu0 = cpu()?;
    setup.server.ask(
        &format!("publish {r} {SIZE}"),
        "published",
        Duration::from_secs(10),
    )?;
    let mut reached = 0;
    let mut last = 0u64;
    let mut p50s = Vec::new();
    for c in &mut setup.clients {
        let line = c.ask(
            &format!("round {r} 10000"),
            "round ",
            Duration::from_secs(20),
        )?;
        let n: Vec<u64> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
        let [_, count, max, p50] = n[..] else {
            return Err(format!("bad round answer {line:?}"));
        };
        reached += count as usize;
        last = last.max(max);
        p50s.push(p50 as f64);
    }
    let cpu1 = cpu()?;
    Ok((
        reached,
        last as f64 / 1e9,
        median(&p50s) / 1e9,
        cpu1.saturating_sub(cpu0) as f64 / 1e9,
    ))
}

/// One burst: (messages per second, deliveries per second, deliveries missing).
fn burst(setup: &mut Setup, count: usize) -> Result<(f64, f64, u64), String> {
    setup.settle()?;
    let t0: u64 = setup
        .server
        .ask(
            &format!("burst {count} {SIZE}"),
            "burst ",
            Duration::from_secs(60),
        )?
        .parse()
        .map_err(|_| "bad burst answer".to_string())?;
    let mut last = 0u64;
    let mut total = 0u64;
    for c in &mut setup.clients {
        let line = c.ask(
            &format!("burst {count} 30000"),
            "burst ",
            Duration::from_secs(40),
        )?;
        let n: Vec<u64> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
        let [_, last_ns, received] = n[..] else {
            return Err(format!("bad burst answer {line:?}"));
        };
        last = last.max(last_ns);
        total += received;
    }
    let secs = last.saturating_sub(t0) as f64 / 1e9;
    let expected = (count * setup.subs) as u64;
    Ok((
        count as f64 / secs,
        total as f64 / secs,
        expected.saturating_sub(total),
    ))
}

/// Reads one `/stream` of `n` events from `addr`: (seconds, server CPU seconds).
async fn stream(addr: SocketAddr, pid: u32, n: u64) -> Result<(f64, f64), String> {
    let tcp = subscribers::connect_from(Ipv4Addr::new(127, 0, 0, 1), addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("http: {e}"))?;
    let conn = tokio::spawn(conn);
    let request = http::Request::get(format!("/stream?n={n}&size={EVENT_SIZE}"))
        .header(http::header::HOST, addr.to_string())
        .header(http::header::ACCEPT, "text/event-stream")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let cpu0 = stats::cpu_ns(pid).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let mut body = response.into_body();
    let mut parser = sse_proto::Parser::new();
    let mut events = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("body: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        parser
            .handle_input(&data[..])
            .map_err(|e| format!("parse: {e}"))?;
        while let Some(item) = parser.poll_item() {
            if let sse_proto::Item::Event(e) = item {
                if e.data.len() != EVENT_SIZE {
                    return Err(format!("event of {} bytes", e.data.len()));
                }
                events += 1;
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu1 = stats::cpu_ns(pid).map_err(|e| e.to_string())?;
    drop(sender);
    conn.abort();
    if events != n {
        return Err(format!("{events} events of {n}"));
    }
    Ok((secs, cpu1.saturating_sub(cpu0) as f64 / 1e9))
}

#[derive(Default)]
struct LatencyRow {
    kind: Option<Kind>,
    last: Vec<f64>,
    p50: Vec<f64>,
    server_cpu: Vec<f64>,
    missing: usize,
}

#[derive(Default)]
struct ThroughputRow {
    kind: Option<Kind>,
    msgs: Vec<f64>,
    deliveries: Vec<f64>,
    missing: u64,
}

fn fmt_ms(s: f64) -> String {
    format!("{:.2} ms", s * 1e3)
}

fn main() {
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
        eprintln!("fanout: could not raise the open-files limit: {e}");
    }
    let mut failed = false;
    println!(
        "fanout: {} subscribers × {} rounds; throughput {} subscribers × {} bursts of {}; SSE stream {} events × {}; server on CPU {SERVER_CPU}, clients on CPU {CLIENT_CPU}",
        o.subs, o.rounds, THROUGHPUT_SUBS, o.bursts, o.burst, o.events, o.streams
    );

    let mut latency = Vec::new();
    for &kind in &o.kinds {
        let mut row = LatencyRow {
            kind: Some(kind),
            ..LatencyRow::default()
        };
        let result = (|| -> Result<(), String> {
            let mut setup = Setup::new(kind, o.subs, pin)?;
            for r in 1..=o.rounds {
                let (reached, last, p50, cpu) = round(&mut setup, r)?;
                row.missing += o.subs - reached.min(o.subs);
                row.last.push(last);
                row.p50.push(p50);
                row.server_cpu.push(cpu);
            }
            Ok(())
        })();
        match result {
            Ok(()) => println!(
                "{:<10} {} subscribers: last one after {} (median of {} rounds), p99 {}, median delivery {}, server CPU {} per round, {} missed",
                kind.name(),
                o.subs,
                fmt_ms(median(&row.last)),
                row.last.len(),
                fmt_ms(quantile(&row.last, 0.99)),
                fmt_ms(median(&row.p50)),
                fmt_ms(median(&row.server_cpu)),
                row.missing
            ),
            Err(e) => {
                println!("{} latency: FAILED: {e}", kind.name());
                failed = true;
            }
        }
        latency.push(row);
        std::thread::sleep(Duration::from_millis(500));
    }

    let mut throughput = Vec::new();
    for &kind in &o.kinds {
        let mut row = ThroughputRow {
            kind: Some(kind),
            ..ThroughputRow::default()
        };
        let result = (|| -> Result<(), String> {
            let mut setup = Setup::new(kind, THROUGHPUT_SUBS, pin)?;
            for _ in 0..o.bursts {
                let (msgs, deliveries, missing) = burst(&mut setup, o.burst)?;
                row.msgs.push(msgs);
                row.deliveries.push(deliveries);
                row.missing += missing;
            }
            Ok(())
        })();
        match result {
            Ok(()) => println!(
                "{:<10} {THROUGHPUT_SUBS} subscribers: {:.0} messages/s through the hub, {:.0} deliveries/s (median of {}), {} missed",
                kind.name(),
                median(&row.msgs),
                median(&row.deliveries),
                row.msgs.len(),
                row.missing
            ),
            Err(e) => {
                println!("{} throughput: FAILED: {e}", kind.name());
                failed = true;
            }
        }
        throughput.push(row);
        std::thread::sleep(Duration::from_millis(500));
    }

    // SSE streaming: rt-tokio's SseBody against axum's Sse, alternating.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let servers = [HttpServer::RtTokio, HttpServer::AxumSse];
    let mut streams: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); servers.len()];
    let started: Result<Vec<(Process, SocketAddr)>, String> = servers
        .iter()
        .map(|&s| start(s, pin.then_some(SERVER_CPU)))
        .collect();
    match started {
        Ok(_) if o.streams == 0 => {}
        Ok(procs) => {
            if pin && !stats::pin_to_cpu(CLIENT_CPU) {
                eprintln!("fanout: could not pin the client to CPU {CLIENT_CPU}");
            }
            for round in 0..o.streams {
                for (i, (p, addr)) in procs.iter().enumerate() {
                    match runtime.block_on(stream(*addr, p.pid(), o.events)) {
                        Ok((secs, cpu)) => {
                            let name = if servers[i] == HttpServer::RtTokio {
                                "rt-tokio"
                            } else {
                                "axum"
                            };
                            println!(
                                "stream {} {:<9} {:>10.0} events/s, {:>6.0} ns server CPU per event",
                                round + 1,
                                name,
                                o.events as f64 / secs,
                                cpu * 1e9 / o.events as f64
                            );
                            streams[i].0.push(o.events as f64 / secs);
                            streams[i].1.push(cpu * 1e9 / o.events as f64);
                        }
                        Err(e) => {
                            println!("stream {}: FAILED: {e}", servers[i].name());
                            failed = true;
                        }
                    }
                }
            }
        }
        Err(e) => {
            println!("SSE stream servers: FAILED: {e}");
            failed = true;
        }
    }

    // Tables.
    println!(
        "\nOne publish to {} subscribers (64 B message; time from publish to receipt, {} rounds):\n",
        o.subs, o.rounds
    );
    println!(
        "| transport | last subscriber, median | last subscriber, p99 | median delivery | server CPU per round | missed |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for r in &latency {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.kind.map_or("", Kind::name),
            fmt_ms(median(&r.last)),
            fmt_ms(quantile(&r.last, 0.99)),
            fmt_ms(median(&r.p50)),
            fmt_ms(median(&r.server_cpu)),
            r.missing
        );
    }
    println!(
        "\nThrough the hub to {THROUGHPUT_SUBS} subscribers (bursts of {} × 64 B, median of {}):\n",
        o.burst, o.bursts
    );
    println!("| transport | messages/s | deliveries/s | missed |");
    println!("| --- | ---: | ---: | ---: |");
    for r in &throughput {
        println!(
            "| {} | {:.0} | {:.0} | {} |",
            r.kind.map_or("", Kind::name),
            median(&r.msgs),
            median(&r.deliveries),
            r.missing
        );
    }
    println!(
        "\nSSE stream of {} events of {EVENT_SIZE} B to one client (median of {}):\n",
        o.events, o.streams
    );
    println!("| server | events/s | server CPU per event | rt-tokio / axum events/s |");
    println!("| --- | ---: | ---: | ---: |");
    let ratio = median(&streams[0].0) / median(&streams[1].0);
    for (i, name) in ["rt-tokio SseBody", "axum Sse"].iter().enumerate() {
        println!(
            "| {name} | {:.0} | {:.0} ns | {} |",
            median(&streams[i].0),
            median(&streams[i].1),
            if i == 0 {
                format!("{ratio:.2}x")
            } else {
                String::new()
            }
        );
    }

    let panels = vec![
        plot::Panel {
            caption: format!("one publish to {} subscribers: last receipt", o.subs),
            y_desc: "ms, median over rounds".into(),
            bars: latency
                .iter()
                .map(|r| {
                    (
                        format!("rt-tokio {}", r.kind.map_or("", Kind::name)),
                        median(&r.last) * 1e3,
                    )
                })
                .collect(),
            log: false,
            target: None,
        },
        plot::Panel {
            caption: format!("messages/s through the hub, {THROUGHPUT_SUBS} subscribers"),
            y_desc: "thousand messages per second".into(),
            bars: throughput
                .iter()
                .map(|r| {
                    (
                        format!("rt-tokio {}", r.kind.map_or("", Kind::name)),
                        median(&r.msgs) / 1e3,
                    )
                })
                .collect(),
            log: false,
            target: None,
        },
        plot::Panel {
            caption: format!("SSE stream, {EVENT_SIZE} B events"),
            y_desc: "server CPU per event (ns)".into(),
            bars: vec![
                ("rt-tokio SseBody".into(), median(&streams[0].1)),
                ("axum Sse".into(), median(&streams[1].1)),
            ],
            log: false,
            target: None,
        },
    ];
    match plot::draw(
        &o.chart,
        "Hub fan-out over loopback (rt-tokio, one server process)",
        &panels,
    ) {
        Ok(()) => println!("\nchart: {}", o.chart.display()),
        Err(e) => {
            eprintln!("fanout: chart {}: {e}", o.chart.display());
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}
