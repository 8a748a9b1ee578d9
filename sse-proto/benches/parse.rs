//! Parse throughput of sse-proto against sse-stream 0.3 and eventsource-stream 0.2 on the same
//! generated streams cut into the same `Bytes` chunks (4 KiB and 64 KiB); allocations per
//! event; and the long-line case (one 8 MiB line delivered in 1 KiB chunks) that shows which
//! parsers are quadratic.
//!
//! Run: `cargo bench -p sse-proto --bench parse` (add `-- --quick` for a short run).
//!
//! Every contender is driven as a driver would: it gets each chunk as a `Bytes` (a clone of
//! the chunk, as a body stream hands it over) and every event it yields is taken and looked
//! at (its data length summed). The contenders are alternated within each round (the order
//! rotates every round); each figure is the median over the rounds, with the range (slowest
//! and fastest round) beside it, and the ratio is taken in each round between runs of the same
//! round. Where a ratio meets a physical bound, the bound runs as one more contender in the
//! same rounds (see `bound`).
//!
//! `SSE_BENCH_ONLY=<start of an input's name>` runs that input only (and not the scan
//! primitive or the long-line table; `SSE_BENCH_ONLY=long`: those two only);
//! `SSE_BENCH_ROUNDS=<n>` sets the rounds (9; 3 with `--quick`);
//! `SSE_BENCH_SKIP=eventsource-stream` leaves that peer out of the throughput table. `SSE_BENCH_PROFILE=<input>` (with
//! `SSE_BENCH_PEER=lent|bound|sse-stream` for another contender, `SSE_BENCH_CHUNK=<bytes>`
//! for another chunk size than 4096, `SSE_BENCH_REPS` for the passes) parses one input a few
//! times and nothing else, for `valgrind --tool=callgrind`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{stream, Stream};
use sse_proto::{Item, ItemRef, Parser, ParserConfig};

/// Counts allocations (and reallocations) while `COUNTING` is on: the per-event figures.
struct CountingAlloc;
static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Tiny deterministic generator so every run parses the same streams.
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
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }
}

/// The 16.8 MB stream of the earlier benchmark: data lines of 10 B to 16 KiB (mostly small),
/// multi-line data, LF and CRLF events, comments (keep-alives), ids, named events, a few
/// retry fields. Every line has a colon (sse-stream 0.2 rejected bare field names).
fn mixed_stream(target: usize) -> Vec<u8> {
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
    out
}

/// Event text of about `len` bytes (never more): ASCII JSON-like, or (`multibyte`) text in
/// which most characters take 2 to 4 bytes.
fn text(g: &mut Gen, len: usize, multibyte: bool) -> String {
    const ASCII: &[&str] = &[
        "{\"user\":",
        "\"alice\",",
        "\"seq\":",
        "12345,",
        "\"text\":",
        "\"lorem ipsum dolor sit amet\",",
        "\"ok\":true}",
        " ",
    ];
    const WIDE: &[&str] = &[
        "caf\u{e9} ",
        "na\u{ef}ve ",
        "\u{1F389}",
        "\u{65E5}\u{672C}\u{8A9E}\u{306E}\u{6587}\u{5B57}",
        "\u{442}\u{435}\u{43A}\u{441}\u{442} ",
        "\u{2026}",
        "\u{3053}\u{3093}\u{306B}\u{3061}\u{306F} ",
        "\u{1F600}\u{1F44D}",
        "\u{3b1}\u{3b2}\u{3b3} ",
        "ok ",
    ];
    let pieces = if multibyte { WIDE } else { ASCII };
    let mut s = String::with_capacity(len + 32);
    loop {
        let p = pieces[g.below(pieces.len() as u64) as usize];
        if s.len() + p.len() > len {
            break;
        }
        s.push_str(p);
    }
    while s.len() < len {
        s.push('x');
    }
    s
}

/// Appends `data` as `data:` lines of at most `max_line` bytes (cut at character boundaries,
/// lengths drawn from `min_line..=max_line`).
fn data_lines(
    g: &mut Gen,
    out: &mut Vec<u8>,
    data: &str,
    min_line: usize,
    max_line: usize,
    nl: &[u8],
) {
    let mut rest = data;
    loop {
        let mut n = g.range(min_line, max_line).min(rest.len());
        while !rest.is_char_boundary(n) {
            n -= 1;
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&rest.as_bytes()[..n]);
        out.extend_from_slice(nl);
        rest = &rest[n..];
        if rest.is_empty() {
            return;
        }
    }
}

/// Line ends of a generated stream.
#[derive(Clone, Copy)]
enum Ends {
    /// LF or CRLF, drawn per event.
    Mixed,
    /// CRLF everywhere.
    Crlf,
}

/// A feed as real servers send it: `id:` on half the events, `event:` on a third, a comment
/// line on a tenth, 20 B to 4 KiB of data per event (log-uniform) of which a third of the
/// events carry multibyte text, cut into `data:` lines of 32-256 bytes, and a keep-alive
/// comment block every 64 events.
fn realistic_stream(events: usize, ends: Ends, seed: u64) -> Vec<u8> {
    let mut g = Gen(seed);
    let mut out = Vec::new();
    const TYPES: &[&str] = &["update", "delta", "presence"];
    for i in 0..events {
        let nl: &[u8] = match ends {
            Ends::Crlf => b"\r\n",
            Ends::Mixed if g.below(2) == 0 => b"\n",
            Ends::Mixed => b"\r\n",
        };
        if i % 64 == 63 {
            out.extend_from_slice(b": keep-alive");
            out.extend_from_slice(nl);
            out.extend_from_slice(nl);
        }
        if g.below(10) == 0 {
            out.extend_from_slice(b": relayed by edge-7");
            out.extend_from_slice(nl);
        }
        if g.below(3) == 0 {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(TYPES[g.below(3) as usize].as_bytes());
            out.extend_from_slice(nl);
        }
        if g.below(2) == 0 {
            out.extend_from_slice(format!("id: {}", 1_000_000 + i).as_bytes());
            out.extend_from_slice(nl);
        }
        // Log-uniform between 20 B and 4 KiB.
        let len =
            (20f64 * (4096f64 / 20f64).powf(g.below(1 << 20) as f64 / (1 << 20) as f64)) as usize;
        let multibyte = g.below(3) == 0;
        let data = text(&mut g, len, multibyte);
        data_lines(&mut g, &mut out, &data, 32, 256, nl);
        out.extend_from_slice(nl);
    }
    out
}

/// Many short `data:` lines per event (8 to 64 lines of 0 to 32 bytes: logs, tables).
fn short_lines_stream(events: usize) -> Vec<u8> {
    let mut g = Gen(7);
    let mut out = Vec::new();
    for i in 0..events {
        out.extend_from_slice(format!("id: {i}\n").as_bytes());
        for _ in 0..g.range(8, 64) {
            let n = g.range(0, 32);
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&text(&mut g, n, false).into_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
    }
    out
}

/// Mostly keep-alives: 0 to 4 comment blocks (`:` or `: ping`, each followed by a blank line)
/// before each small one-line event (20 to 100 bytes of JSON).
fn keepalive_stream(events: usize) -> Vec<u8> {
    let mut g = Gen(11);
    let mut out = Vec::new();
    for _ in 0..events {
        for _ in 0..g.range(0, 4) {
            out.extend_from_slice(if g.below(2) == 0 {
                b":\n\n"
            } else {
                b": ping\n\n"
            });
        }
        let n = g.range(20, 100);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&text(&mut g, n, false).into_bytes());
        out.extend_from_slice(b"\n\n");
    }
    out
}

/// One event whose data is one line of `len` bytes.
fn long_line(len: usize) -> Vec<u8> {
    let mut line = b"data: ".to_vec();
    line.resize(line.len() + len, b'x');
    line.extend_from_slice(b"\n\n");
    line
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

/// What a contender saw: events with data, and the sum of their data lengths.
type Seen = (usize, usize);

#[inline(never)]
fn ours(config: ParserConfig, chunks: &[Bytes]) -> Seen {
    let mut parser = Parser::with_config(config);
    let (mut n, mut bytes) = (0, 0);
    for chunk in chunks {
        let _ = parser.handle_input(chunk);
        while let Some(item) = parser.poll_item() {
            if let Item::Event(e) = item {
                bytes += black_box(&e).data.len();
                n += 1;
            }
        }
    }
    parser.handle_eof();
    (n, bytes)
}

/// sse-proto through its lending pull interface (`next_borrowed`): each event's fields are
/// borrowed from the parser and the chunk until the next call.
#[inline(never)]
fn ours_lent(config: ParserConfig, chunks: &[Bytes]) -> Seen {
    let mut parser = Parser::with_config(config);
    let (mut n, mut bytes) = (0, 0);
    for chunk in chunks {
        let chunk = chunk.clone();
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let (consumed, item) = parser.next_borrowed(rest);
            rest = &rest[consumed..];
            if let Ok(Some(ItemRef::Event(e))) = item {
                bytes += black_box(&e).data.len();
                n += 1;
            }
        }
    }
    parser.handle_eof();
    (n, bytes)
}

fn eventsource_stream(chunks: &[Bytes]) -> Seen {
    use eventsource_stream::Eventsource;
    let (mut n, mut bytes) = (0, 0);
    let input = stream::iter(chunks.iter().cloned().map(Ok::<Bytes, Infallible>));
    drive(input.eventsource(), |item| {
        if let Ok(e) = item {
            bytes += black_box(&e).data.len();
            n += 1;
        }
    });
    (n, bytes)
}

/// sse-stream 0.3 through `SseByteStream`, its fastest input (its docs prefer it to
/// `SseStream::from_bytes_stream` for byte streams).
fn sse_stream(chunks: &[Bytes]) -> Seen {
    let (mut n, mut bytes) = (0, 0);
    let input = stream::iter(chunks.iter().cloned().map(Ok::<Bytes, Infallible>));
    drive(sse_stream::SseByteStream::new(input), |item| {
        if let Ok(e) = item {
            if let Some(data) = &black_box(&e).data {
                bytes += data.len();
                n += 1;
            }
        }
    });
    (n, bytes)
}

/// The line ends in `bytes`, counted with no per-line work: 32 bytes compared with CR and
/// LF at once and the matches counted (AVX2), `memchr2` on a CPU without AVX2.
fn count_line_ends(bytes: &[u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt") {
        // SAFETY: both target features were detected on this CPU just above.
        return unsafe { count_line_ends_avx2(bytes) };
    }
    memchr::memchr2_iter(b'\n', b'\r', bytes).count()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn count_line_ends_avx2(bytes: &[u8]) -> usize {
    use std::arch::x86_64::*;
    let (lf, cr) = (_mm256_set1_epi8(b'\n' as i8), _mm256_set1_epi8(b'\r' as i8));
    let blocks = bytes.chunks_exact(32);
    let tail = blocks.remainder();
    let mut n = 0usize;
    for block in blocks {
        // SAFETY: `block` holds 32 bytes; an unaligned load needs no alignment.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().cast()) };
        let ends = _mm256_or_si256(_mm256_cmpeq_epi8(v, lf), _mm256_cmpeq_epi8(v, cr));
        n += (_mm256_movemask_epi8(ends) as u32).count_ones() as usize;
    }
    n + tail.iter().filter(|&&b| b == b'\n' || b == b'\r').count()
}

/// How many bytes of each chunk a parser must copy: the data of every event that is not one
/// line lying whole in one chunk (its values must be joined, or the line was cut by a chunk
/// boundary), counted on the chunks it arrived in (from an untimed pass of the lending
/// parser: an event whose data does not point into the chunk was copied).
fn copy_plan(config: ParserConfig, chunks: &[Bytes]) -> Vec<usize> {
    let mut plan = vec![0; chunks.len()];
    let mut parser = Parser::with_config(config);
    for (i, chunk) in chunks.iter().enumerate() {
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let (consumed, item) = parser.next_borrowed(rest);
            rest = &rest[consumed..];
            if let Ok(Some(ItemRef::Event(e))) = item {
                if chunk.as_ptr_range().contains(&e.data.as_ptr()) {
                    continue;
                }
                let mut left = e.data.len();
                for j in (0..=i).rev() {
                    let room = chunks[j].len() - plan[j];
                    let n = left.min(room);
                    plan[j] += n;
                    left -= n;
                    if left == 0 {
                        break;
                    }
                }
            }
        }
    }
    plan
}

/// The physical bound: the work no parser of these inputs can skip, with no per-line work at
/// all, by the fastest primitives at hand. Every byte is looked at for line ends
/// ([`count_line_ends`]), the bytes that must be copied ([`copy_plan`]) are copied into one
/// buffer, and every byte is validated as UTF-8 once (simdutf8, as sse-proto does). For an
/// input of one long event the buffer holds it all (as the event's data must); otherwise it
/// is reused every 64 KiB (as an arena whose events were dropped). The buffer is kept from
/// one round to the next, so the bound allocates nothing and touches only warm memory. Runs
/// as a contender in the same rounds. (Scan and validation are separate passes: a parser that
/// fused them could in principle go below this.)
fn bound_scan_copy_validate(chunks: &[Bytes], plan: &[usize], one_event: bool) -> Seen {
    thread_local! {
        /// Kept from one round to the next: the bound pays no allocation and no page fault.
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with_borrow_mut(|buf| {
        buf.clear();
        let (mut lines, mut valid, mut copied) = (0, true, 0);
        for (chunk, &copy) in chunks.iter().zip(plan) {
            let chunk = chunk.clone();
            lines += count_line_ends(&chunk);
            if !one_event && buf.len() + copy > 64 * 1024 {
                buf.clear();
            }
            buf.extend_from_slice(&chunk[..copy]);
            copied += copy;
            // simdutf8's basic check runs to the end of its input, valid or not (a character
            // cut by the chunk boundary costs nothing more).
            valid &= simdutf8::basic::from_utf8(&chunk).is_ok();
        }
        black_box((lines, valid, buf.len()));
        (if one_event { 1 } else { lines }, copied)
    })
}

type Contender<'a> = (&'static str, Box<dyn Fn(&[Bytes]) -> Seen + 'a>);

/// Runs every contender `rounds` times on `chunks`, rotating the order each round; returns
/// each contender's times (one per round, in round order) and what it saw.
fn compare(
    contenders: &[Contender<'_>],
    chunks: &[Bytes],
    rounds: usize,
) -> Vec<(Vec<Duration>, Seen)> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
    let mut seen = vec![(0, 0); contenders.len()];
    for round in 0..rounds {
        for k in 0..contenders.len() {
            let i = (k + round) % contenders.len();
            let start = Instant::now();
            seen[i] = (contenders[i].1)(chunks);
            times[i].push(start.elapsed());
        }
    }
    times.into_iter().zip(seen).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn mbps(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / 1e6 / t.as_secs_f64()
}

/// Allocations per event of a contender, from one untimed pass.
fn allocations_per_event(f: &dyn Fn(&[Bytes]) -> Seen, chunks: &[Bytes]) -> f64 {
    ALLOCATIONS.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
    let (n, _) = f(chunks);
    COUNTING.store(false, Relaxed);
    ALLOCATIONS.load(Relaxed) as f64 / n.max(1) as f64
}

struct Input {
    name: &'static str,
    /// Generated only when the input is run (`SSE_BENCH_ONLY` and `SSE_BENCH_PROFILE` pick one).
    bytes: Box<dyn Fn() -> Vec<u8>>,
    /// Whether the bound contender runs on it.
    bound: bool,
    /// One event (the long line): sse-proto runs without limits, the bound keeps all data.
    one_event: bool,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = std::env::var("SSE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if quick { 3 } else { 9 });
    let scale = if quick { 4 } else { 1 };
    let inputs = [
        Input {
            name: "realistic feed, 100k events",
            bytes: Box::new(move || realistic_stream(100_000 / scale, Ends::Mixed, 42)),
            bound: true,
            one_event: false,
        },
        Input {
            name: "realistic feed, CRLF, 25k events",
            bytes: Box::new(move || realistic_stream(25_000 / scale, Ends::Crlf, 43)),
            bound: true,
            one_event: false,
        },
        Input {
            name: "many short data lines, 20k events",
            bytes: Box::new(move || short_lines_stream(20_000 / scale)),
            bound: true,
            one_event: false,
        },
        Input {
            name: "keep-alive heavy, 200k events",
            bytes: Box::new(move || keepalive_stream(200_000 / scale)),
            bound: true,
            one_event: false,
        },
        Input {
            name: "mixed stream (earlier benchmark)",
            bytes: Box::new(move || mixed_stream((16 << 20) / scale)),
            bound: true,
            one_event: false,
        },
        Input {
            name: "one 8 MiB data line",
            bytes: Box::new(move || long_line(8 << 20)),
            bound: true,
            one_event: true,
        },
    ];
    let unlimited = ParserConfig::default()
        .with_max_line_length(usize::MAX)
        .with_max_event_data(usize::MAX);

    if let Some(which) = std::env::var_os("SSE_BENCH_PROFILE") {
        let which = which.to_string_lossy().into_owned();
        let input = inputs
            .iter()
            .find(|i| i.name.starts_with(&which))
            .expect("SSE_BENCH_PROFILE: the start of an input's name");
        let bytes = (input.bytes)();
        let chunk: usize = std::env::var("SSE_BENCH_CHUNK")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(4096);
        let chunks = to_chunks(&bytes, chunk);
        let reps: usize = std::env::var("SSE_BENCH_REPS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(3);
        let peer = std::env::var("SSE_BENCH_PEER").unwrap_or_default();
        let config = if input.one_event {
            unlimited
        } else {
            ParserConfig::default()
        };
        let plan = copy_plan(config, &chunks);
        for _ in 0..reps {
            let start = Instant::now();
            let seen = match peer.as_str() {
                "" => ours(config, &chunks),
                "lent" => ours_lent(config, &chunks),
                "bound" => bound_scan_copy_validate(&chunks, &plan, input.one_event),
                _ => sse_stream(&chunks),
            };
            eprintln!("{:?} {:?}", seen, start.elapsed());
        }
        return;
    }

    // Not timed: what each parser makes of a few inputs (events with data it yields; the
    // spec's answer in the last column). Backs the notes in the README.
    println!("## Behaviour spot checks (events yielded; not timed)\n");
    println!("| input | sse-proto | eventsource-stream 0.2 | sse-stream 0.3 | spec |");
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
        let guarded = |f: &dyn Fn() -> Seen| match std::panic::catch_unwind(
            std::panic::AssertUnwindSafe(f),
        ) {
            Ok((n, _)) => n.to_string(),
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
        "## Throughput: MB/s of input, median of {rounds} rounds [slowest round - fastest round]\n"
    );
    println!(
        "sse-proto runs with its default limits, except on the 8 MiB line (no limits); \"Text\" \
         is `handle_input` + `poll_item` (owned events), \"lent\" is `next_borrowed` (events \
         borrowed until the next call). \"x\" columns: time of the peer / time of sse-proto, \
         median of the per-round ratios [lowest - highest]; \"/ bound\": time of sse-proto / \
         time of the bound (1.10 = within 10% of it).\n"
    );
    println!(
        "| input | MB | events | chunk | sse-proto, Text | sse-proto, lent | sse-stream 0.3 | \
         eventsource-stream 0.2 | x sse-stream 0.3, Text | x sse-stream 0.3, lent | \
         x eventsource-stream 0.2, Text | bound (scan + copy + validate) | Text / bound | lent / bound |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let mut alloc_rows = Vec::new();
    let only = std::env::var("SSE_BENCH_ONLY").unwrap_or_default();
    for input in inputs.iter().filter(|i| i.name.starts_with(&only)) {
        let bytes = (input.bytes)();
        let config = if input.one_event {
            unlimited
        } else {
            ParserConfig::default()
        };
        for chunk_size in [4096usize, 64 * 1024] {
            let chunks = to_chunks(&bytes, chunk_size);
            let mut contenders: Vec<Contender<'_>> = vec![
                ("sse-proto", Box::new(move |c| ours(config, c))),
                ("sse-proto, lent", Box::new(move |c| ours_lent(config, c))),
                ("sse-stream 0.3", Box::new(sse_stream)),
                ("eventsource-stream 0.2", Box::new(eventsource_stream)),
            ];
            if input.bound {
                let one_event = input.one_event;
                let plan = copy_plan(config, &chunks);
                contenders.push((
                    "bound",
                    Box::new(move |c| bound_scan_copy_validate(c, &plan, one_event)),
                ));
            }
            // `SSE_BENCH_SKIP=eventsource-stream`: leave that peer out (it takes seconds a
            // round on the long line, where the long-line table shows it).
            let skip = std::env::var("SSE_BENCH_SKIP").unwrap_or_default();
            if !skip.is_empty() {
                contenders.retain(|(name, _)| !name.starts_with(skip.as_str()));
            }
            let index = |name: &str| contenders.iter().position(|(n, _)| *n == name);
            let peers = contenders.len() - usize::from(index("bound").is_some());
            let results = compare(&contenders, &chunks, rounds);
            let events = results[0].1 .0;
            for ((name, _), (_, seen)) in contenders.iter().zip(&results).take(peers) {
                assert_eq!(
                    seen.0, events,
                    "{name} saw a different number of events on {}",
                    input.name
                );
            }
            let rate = |i: Option<usize>| {
                let Some(i) = i else { return "-".to_string() };
                let t = &results[i].0;
                let r: Vec<f64> = t.iter().map(|t| mbps(bytes.len(), *t)).collect();
                let (lo, hi) = (
                    r.iter().cloned().fold(f64::INFINITY, f64::min),
                    r.iter().cloned().fold(0.0, f64::max),
                );
                format!("{:.0} [{lo:.0}-{hi:.0}]", median(r))
            };
            let ratio = |i: Option<usize>, j: Option<usize>| {
                let (Some(i), Some(j)) = (i, j) else {
                    return "-".to_string();
                };
                let r: Vec<f64> = results[i]
                    .0
                    .iter()
                    .zip(&results[j].0)
                    .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
                    .collect();
                let (lo, hi) = (
                    r.iter().cloned().fold(f64::INFINITY, f64::min),
                    r.iter().cloned().fold(0.0, f64::max),
                );
                format!("{:.2} [{lo:.2}-{hi:.2}]", median(r))
            };
            let (text, lent, sse, es, b) = (
                Some(0),
                Some(1),
                Some(2),
                index("eventsource-stream 0.2"),
                index("bound"),
            );
            let (bound, vs_bound, lent_vs_bound) = (rate(b), ratio(text, b), ratio(lent, b));
            println!(
                "| {} | {:.1} | {events} | {} KiB | {} | {} | {} | {} | {} | {} | {} | {bound} | {vs_bound} | {lent_vs_bound} |",
                input.name,
                bytes.len() as f64 / 1e6,
                chunk_size >> 10,
                rate(text),
                rate(lent),
                rate(sse),
                rate(es),
                ratio(sse, text),
                ratio(sse, lent),
                ratio(es, text),
            );
            if chunk_size == 4096 {
                let per: Vec<String> = [text, lent, sse, es]
                    .into_iter()
                    .map(|i| match i {
                        Some(i) => format!(
                            "{:.2}",
                            allocations_per_event(contenders[i].1.as_ref(), &chunks)
                        ),
                        None => "-".to_string(),
                    })
                    .collect();
                alloc_rows.push(format!("| {} | {} |", input.name, per.join(" | ")));
            }
        }
    }
    println!();
    println!("## Allocations per event (4 KiB chunks; allocations and reallocations, counted over one pass)\n");
    println!(
        "| input | sse-proto, Text | sse-proto, lent | sse-stream 0.3 | eventsource-stream 0.2 |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for row in alloc_rows {
        println!("{row}");
    }
    println!();

    if !only.is_empty() && only != "long" {
        // One input asked for: not the scan primitive nor the long-line table.
        return;
    }

    // The scan primitive: memchr2 against a byte loop over the realistic stream.
    let input = &(inputs[0].bytes)();
    let scan = |f: &dyn Fn(&[u8]) -> Option<usize>| {
        let mut rest = &input[..];
        let mut lines = 0usize;
        while let Some(i) = f(rest) {
            lines += 1;
            rest = &rest[i + 1..];
        }
        (lines, 0)
    };
    let scanners: Vec<Contender<'_>> = vec![
        (
            "memchr2",
            Box::new(|_| scan(&|s| memchr::memchr2(b'\n', b'\r', s))),
        ),
        (
            "byte loop",
            Box::new(|_| scan(&|s| s.iter().position(|&b| b == b'\n' || b == b'\r'))),
        ),
    ];
    let results = compare(&scanners, &[], rounds);
    let med = |i: usize| median(results[i].0.iter().map(|t| t.as_secs_f64()).collect());
    println!(
        "line-end scan alone over the realistic feed: memchr2 {:.0} MB/s, byte loop {:.0} MB/s ({:.1}x)\n",
        input.len() as f64 / 1e6 / med(0),
        input.len() as f64 / 1e6 / med(1),
        med(1) / med(0)
    );

    // One long line in 1 KiB chunks: linear parsers cost the same as with one chunk.
    println!("## One long `data:` line in 1 KiB chunks (time in ms; median of 7 runs, 3 if over 100 ms, 1 if over 1 s)\n");
    println!(
        "| line size | sse-proto, 1 chunk | sse-proto | eventsource-stream 0.2 | sse-stream 0.3 |"
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
        let line = long_line(len);
        let small = to_chunks(&line, 1024);
        let one = to_chunks(&line, line.len());
        let fmt = |t: Duration| format!("{:.2}", t.as_secs_f64() * 1e3);
        let timed = |f: &dyn Fn() -> Seen| {
            let mut t = Vec::new();
            for _ in 0..7 {
                let start = Instant::now();
                assert_eq!(f().0, 1);
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
            &(|| eventsource_stream(&small)) as &dyn Fn() -> Seen,
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
