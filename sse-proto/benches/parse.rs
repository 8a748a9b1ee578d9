//! Parse throughput of sse-proto against eventsource-stream and sse-stream, on the same
//! generated stream and the same chunks; and the long-line case (one 8 MiB line delivered in
//! 1 KiB chunks) that shows which parsers are quadratic.
//!
//! Run: `cargo bench -p sse-proto --bench parse` (add `-- --quick` for a short run).
//! Peers are alternated within each round; each figure is the median of the rounds.

use std::convert::Infallible;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{stream, Stream};
use sse_proto::{Item, Parser, ParserConfig};

/// Tiny deterministic generator so every run parses the same stream.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A realistic mixed stream: data lines of 10 B to 16 KiB (mostly small), multi-line data,
/// LF and CRLF events, comments (keep-alives), ids, named events, a few retry fields.
/// Every line has a colon (sse-stream rejects bare field names). Returns (bytes, events).
fn mixed_stream(target: usize) -> (Vec<u8>, usize) {
    let mut g = Gen(2026);
    let mut out = Vec::with_capacity(target + 32 * 1024);
    let mut events = 0;
    let alphabet = b"{\"key\": [1, 2, 3], \"text\": \"lorem ipsum dolor sit amet\"} ";
    while out.len() < target {
        let nl: &[u8] = if g.below(2) == 0 { b"\n" } else { b"\r\n" };
        if g.below(10) == 0 {
            out.extend_from_slice(b": keep-alive");
            out.extend_from_slice(nl);
        }
        if g.below(500) == 0 {
            out.extend_from_slice(b"retry: 3000");
            out.extend_from_slice(nl);
        }
        if g.below(10) < 3 {
            out.extend_from_slice(b"event: update");
            out.extend_from_slice(nl);
        }
        if g.below(2) == 0 {
            out.extend_from_slice(format!("id: {}", events).as_bytes());
            out.extend_from_slice(nl);
        }
        for _ in 0..1 + g.below(3) {
            let len = match g.below(100) {
                0..=69 => 10 + g.below(90),
                70..=94 => 100 + g.below(1900),
                _ => 2000 + g.below(14000),
            } as usize;
            out.extend_from_slice(b"data: ");
            let start = g.below(alphabet.len() as u64) as usize;
            out.extend(alphabet.iter().cycle().skip(start).take(len));
            if g.below(4) == 0 {
                out.extend_from_slice("caf\u{e9} \u{2026}".as_bytes());
            }
            out.extend_from_slice(nl);
        }
        out.extend_from_slice(nl);
        events += 1;
    }
    (out, events)
}

fn to_chunks(input: &[u8], size: usize) -> Vec<Bytes> {
    input.chunks(size).map(Bytes::copy_from_slice).collect()
}

fn drive<S: Stream>(s: S, mut on_item: impl FnMut(S::Item)) {
    let mut s = pin!(s);
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    loop {
        match s.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(item)) => on_item(item),
            Poll::Ready(None) => return,
            Poll::Pending => unreachable!("in-memory streams are always ready"),
        }
    }
}

/// Each parser returns the number of events with data it produced.
fn ours(config: ParserConfig, chunks: &[Bytes]) -> usize {
    let mut parser = Parser::with_config(config);
    let mut n = 0;
    for chunk in chunks {
        let _ = parser.handle_input(chunk);
        while let Some(item) = parser.poll_item() {
            if let Item::Event(e) = item {
                black_box(&e);
                n += 1;
            }
        }
    }
    parser.handle_eof();
    n
}

fn eventsource_stream(chunks: &[Bytes]) -> usize {
    use eventsource_stream::Eventsource;
    let mut n = 0;
    let input = stream::iter(chunks.iter().cloned().map(Ok::<Bytes, Infallible>));
    drive(input.eventsource(), |item| {
        if let Ok(e) = item {
            black_box(&e);
            n += 1;
        }
    });
    n
}

fn sse_stream(chunks: &[Bytes]) -> usize {
    let mut n = 0;
    let input = stream::iter(chunks.iter().cloned().map(Ok::<Bytes, Infallible>));
    drive(sse_stream::SseStream::from_bytes_stream(input), |item| {
        if let Ok(e) = item {
            if e.data.is_some() {
                black_box(&e);
                n += 1;
            }
        }
    });
    n
}

type Runner<'a> = (&'static str, Box<dyn Fn() -> usize + 'a>);

/// Runs every peer `rounds` times, alternating the order each round; returns the median
/// time and the event count of each.
fn compare(runners: &[Runner<'_>], rounds: usize) -> Vec<(Duration, usize)> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); runners.len()];
    let mut counts = vec![0; runners.len()];
    for round in 0..rounds {
        for k in 0..runners.len() {
            let i = (k + round) % runners.len();
            let start = Instant::now();
            counts[i] = (runners[i].1)();
            times[i].push(start.elapsed());
        }
    }
    times
        .into_iter()
        .zip(counts)
        .map(|(mut t, c)| {
            t.sort();
            (t[t.len() / 2], c)
        })
        .collect()
}

fn mbps(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / 1e6 / t.as_secs_f64()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 3 } else { 9 };
    let size = if quick { 4 << 20 } else { 16 << 20 };
    let (input, expected) = mixed_stream(size);
    if std::env::var_os("SSE_BENCH_PROFILE_LONG").is_some() {
        let mut line = b"data: ".to_vec();
        line.resize(line.len() + (8 << 20), b'x');
        line.extend_from_slice(b"\n\n");
        let small = to_chunks(&line, 1024);
        let unlimited = ParserConfig::default()
            .with_max_line_length(usize::MAX)
            .with_max_event_data(usize::MAX);
        for _ in 0..50 {
            let start = Instant::now();
            black_box(ours(unlimited, &small));
            eprintln!("{:?}", start.elapsed());
        }
        return;
    }
    if std::env::var_os("SSE_BENCH_PROFILE").is_some() {
        // For `perf record`: sse-proto alone, many times.
        let chunks = to_chunks(&input, 4096);
        let mut times: Vec<Duration> = (0..100)
            .map(|_| {
                let start = Instant::now();
                black_box(ours(ParserConfig::default(), &chunks));
                start.elapsed()
            })
            .collect();
        times.sort();
        println!("sse-proto alone: {:.0} MB/s", mbps(input.len(), times[50]));
        return;
    }
    // Not timed: what each parser makes of a few inputs (events with data it yields; the
    // spec's answer in the last column). Backs the notes in the README.
    println!("## Behaviour spot checks (events yielded; not timed)\n");
    println!("| input | sse-proto | eventsource-stream 0.2 | sse-stream 0.2 | spec |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let checks: [(&str, Vec<&[u8]>, usize); 5] = [
        (
            "invalid UTF-8 in an event, then a valid one",
            vec![b"data: a\xFFb\n\n", b"data: ok\n\n"],
            2,
        ),
        ("`data` line without colon", vec![b"data\n\ndata: x\n\n"], 2),
        ("CR-only line ends", vec![b"data: a\r\rdata: b\r\r"], 2),
        (
            "BOM split across chunks",
            vec![b"\xEF\xBB", b"\xBFdata: a\n\n"],
            1,
        ),
        (
            "CRLF split across chunks",
            vec![b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"],
            2,
        ),
    ];
    for (name, parts, spec) in checks {
        let chunks: Vec<Bytes> = parts.iter().map(|p| Bytes::copy_from_slice(p)).collect();
        let guarded =
            |f: &dyn Fn() -> usize| match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            {
                Ok(n) => n.to_string(),
                Err(_) => "panics".to_string(),
            };
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        println!(
            "| {name} | {} | {} | {} | {spec} |",
            guarded(&|| ours(ParserConfig::default(), &chunks)),
            guarded(&|| eventsource_stream(&chunks)),
            guarded(&|| sse_stream(&chunks))
        );
        std::panic::set_hook(quiet);
    }
    println!();
    println!(
        "## Mixed stream: {:.1} MB, {} events, median of {rounds} rounds\n",
        input.len() as f64 / 1e6,
        expected
    );
    let unlimited = ParserConfig::default()
        .with_max_line_length(usize::MAX)
        .with_max_event_data(usize::MAX);
    for chunk_size in [4096usize, 64 * 1024] {
        let chunks = to_chunks(&input, chunk_size);
        let runners: Vec<Runner<'_>> = vec![
            (
                "sse-proto",
                Box::new(|| ours(ParserConfig::default(), &chunks)),
            ),
            (
                "eventsource-stream 0.2",
                Box::new(|| eventsource_stream(&chunks)),
            ),
            ("sse-stream 0.2", Box::new(|| sse_stream(&chunks))),
        ];
        let results = compare(&runners, rounds);
        assert_eq!(results[0].1, expected, "sse-proto must see every event");
        println!("chunks of {chunk_size} bytes:\n");
        println!("| parser | MB/s | events/s | events seen | sse-proto is N x faster |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        let ours_t = results[0].0;
        for ((name, _), (t, n)) in runners.iter().zip(&results) {
            println!(
                "| {name} | {:.0} | {:.0} | {n} | {:.2} |",
                mbps(input.len(), *t),
                *n as f64 / t.as_secs_f64(),
                t.as_secs_f64() / ours_t.as_secs_f64()
            );
        }
        println!();
    }

    // The scan primitive: memchr2 against a byte loop over the same stream.
    let scan = |f: &dyn Fn(&[u8]) -> Option<usize>| {
        let mut rest = &input[..];
        let mut lines = 0usize;
        while let Some(i) = f(rest) {
            lines += 1;
            rest = &rest[i + 1..];
        }
        lines
    };
    let runners: Vec<Runner<'_>> = vec![
        (
            "memchr2",
            Box::new(|| scan(&|s| memchr::memchr2(b'\n', b'\r', s))),
        ),
        (
            "byte loop",
            Box::new(|| scan(&|s| s.iter().position(|&b| b == b'\n' || b == b'\r'))),
        ),
    ];
    let results = compare(&runners, rounds);
    println!(
        "line-end scan alone: memchr2 {:.0} MB/s, byte loop {:.0} MB/s ({:.1}x)\n",
        mbps(input.len(), results[0].0),
        mbps(input.len(), results[1].0),
        results[1].0.as_secs_f64() / results[0].0.as_secs_f64()
    );

    // One long line in 1 KiB chunks: linear parsers cost the same as with one chunk.
    println!("## One long `data:` line in 1 KiB chunks (time in ms; median of 7 runs, 3 if over 100 ms, 1 if over 1 s)\n");
    println!(
        "| line size | sse-proto, 1 chunk | sse-proto | eventsource-stream 0.2 | sse-stream 0.2 |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    let budget = Duration::from_secs(if quick { 2 } else { 8 });
    let mut skip = [false; 2];
    let sizes: &[usize] = if quick {
        &[256 << 10, 512 << 10, 1 << 20]
    } else {
        &[512 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20]
    };
    for &len in sizes {
        let mut line = b"data: ".to_vec();
        line.resize(line.len() + len, b'x');
        line.extend_from_slice(b"\n\n");
        let small = to_chunks(&line, 1024);
        let one = to_chunks(&line, line.len());
        let fmt = |t: Duration| format!("{:.1}", t.as_secs_f64() * 1e3);
        let timed = |f: &dyn Fn() -> usize| {
            let mut t = Vec::new();
            for _ in 0..7 {
                let start = Instant::now();
                assert_eq!(f(), 1);
                t.push(start.elapsed());
                if t[0] > Duration::from_secs(1)
                    || (t.len() == 3 && t[0] > Duration::from_millis(100))
                {
                    break;
                }
            }
            t.sort();
            t[t.len() / 2]
        };
        let whole = timed(&|| ours(unlimited, &one));
        let chunked = timed(&|| ours(unlimited, &small));
        let mut peers = Vec::new();
        for (i, f) in [
            &(|| eventsource_stream(&small)) as &dyn Fn() -> usize,
            &|| sse_stream(&small),
        ]
        .into_iter()
        .enumerate()
        {
            if skip[i] {
                peers.push("not run (previous size over budget)".to_string());
                continue;
            }
            let t = timed(f);
            skip[i] = t * 4 > budget;
            peers.push(fmt(t));
        }
        println!(
            "| {} KiB | {} | {} | {} | {} |",
            len >> 10,
            fmt(whole),
            fmt(chunked),
            peers[0],
            peers[1]
        );
    }
}
