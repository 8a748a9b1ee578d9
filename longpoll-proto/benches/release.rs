//! Benchmarks (not tests): releasing 10,000 held polls with one publish, hub memory per held
//! poll (counting global allocator), and per-operation cost as the number of held polls grows.
//!
//! Run: `cargo bench -p longpoll-proto --bench release`
//!
//! No published Rust long-polling library exists to compare against in the same process, so
//! the ratio is against an in-bench naive baseline that does what a hand-rolled long-poll
//! endpoint typically does: a `Vec` of waiters per channel and a copy of the payload per
//! released poll.

use bytes::Bytes;
use core::time::Duration;
use longpoll_proto::{
    http, ChannelName, ClientId, Epoch, Hub, HubConfig, Instant, PollId, PollRequest,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant as WallClock;

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const POLLS: usize = 10_000;
const RUNS: usize = 21;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn clients(n: usize) -> Vec<ClientId> {
    (0..n)
        .map(|i| ClientId::new(&format!("client-{i:08}")).unwrap())
        .collect()
}

fn config() -> HubConfig {
    let mut c = HubConfig::default();
    c.max_held_polls = 1_000_000;
    c.max_sessions = 1_000_000;
    c
}

fn hold_all(hub: &mut Hub, channel: &ChannelName, ids: &[ClientId], now: Instant) -> Vec<PollId> {
    ids.iter()
        .map(|client| {
            hub.handle_poll(
                now,
                PollRequest {
                    client: client.clone(),
                    channel: channel.clone(),
                    cursor: None,
                    timeout: None,
                },
            )
        })
        .collect()
}

/// A naive response: poll id and `(seq, copied payload)` pairs.
type NaiveResponse = (u64, Vec<(u64, Vec<u8>)>);

/// The naive baseline: waiters in a Vec, a payload copy per response.
struct NaiveHub {
    waiters: Vec<(u64, u64)>, // (poll id, cursor seq)
    history: Vec<Vec<u8>>,
}

impl NaiveHub {
    fn publish(&mut self, data: &[u8]) -> Vec<NaiveResponse> {
        self.history.push(data.to_vec());
        let head = self.history.len() as u64;
        let mut out = Vec::new();
        for (id, cursor) in self.waiters.drain(..) {
            let batch = (cursor + 1..=head)
                .map(|s| (s, self.history[s as usize - 1].clone()))
                .collect();
            out.push((id, batch));
        }
        out
    }
}

fn main() {
    let channel = ChannelName::new("news").unwrap();
    let ids = clients(POLLS);
    let payload = Bytes::from(vec![b'x'; 256]);
    println!(
        "longpoll-proto benchmarks: {POLLS} held polls, median of {RUNS} runs, 256-byte message\n"
    );

    // 1. One publish releases 10,000 held polls.
    let mut release = Vec::new();
    let mut release_render = Vec::new();
    let mut naive = Vec::new();
    for _ in 0..RUNS {
        let mut hub = Hub::new(config(), Epoch(1));
        hold_all(&mut hub, &channel, &ids, Instant::ZERO);
        assert_eq!(hub.held_polls(), POLLS);
        let t = WallClock::now();
        hub.publish(Instant::from_millis(1), &channel, payload.clone())
            .unwrap();
        let responses: Vec<_> = core::iter::from_fn(|| hub.poll_response()).collect();
        release.push(t.elapsed());
        assert_eq!(responses.len(), POLLS);
        let t = WallClock::now();
        let mut bytes = 0;
        for r in &responses {
            bytes += http::render_response(&r.outcome).body.len();
        }
        release_render.push(t.elapsed() + *release.last().unwrap());
        black_box(bytes);

        let mut n = NaiveHub {
            waiters: (0..POLLS as u64).map(|i| (i, 0)).collect(),
            history: Vec::new(),
        };
        let t = WallClock::now();
        let out = n.publish(&payload);
        naive.push(t.elapsed());
        assert_eq!(out.len(), POLLS);
        black_box(out);
    }
    let (r, rr, nv) = (median(release), median(release_render), median(naive));
    println!(
        "release {POLLS} polls (publish + drain responses): {r:?} ({:.0} ns/poll)",
        r.as_nanos() as f64 / POLLS as f64
    );
    println!(
        "release + render HTTP (status, headers, NDJSON body): {rr:?} ({:.0} ns/poll)",
        rr.as_nanos() as f64 / POLLS as f64
    );
    println!(
        "naive baseline (Vec of waiters, payload copied per poll): {nv:?}; ratio hub/naive = {:.2}",
        r.as_secs_f64() / nv.as_secs_f64()
    );

    // 2. Memory per held poll.
    {
        let mut hub = Hub::new(config(), Epoch(1));
        hub.publish(Instant::ZERO, &channel, payload.clone())
            .unwrap();
        // Idle sessions first (poll then abort), so the second delta is the poll alone.
        let before_sessions = live();
        let polls = hold_all(&mut hub, &channel, &ids, Instant::ZERO);
        let with_sessions = live();
        for p in polls {
            hub.handle_abort(Instant::ZERO, p);
        }
        let idle = live();
        hold_all(&mut hub, &channel, &ids, Instant::ZERO);
        let held = live();
        assert_eq!(hub.held_polls(), POLLS);
        let per_poll = (held - idle) as f64 / POLLS as f64;
        let per_poll_and_session = (with_sessions - before_sessions) as f64 / POLLS as f64;
        println!("\nheap per held poll (session already exists): {per_poll:.0} bytes");
        println!("heap per held poll including a new session (client id \"client-NNNNNNNN\"): {per_poll_and_session:.0} bytes");
        black_box(&hub);
    }

    // 3. Per-operation cost as held polls grow (O(log n)).
    for n in [1_000usize, 10_000, 100_000] {
        let ids = clients(n);
        let mut hub = Hub::new(config(), Epoch(1));
        let t = WallClock::now();
        let polls = hold_all(&mut hub, &channel, &ids, Instant::ZERO);
        let hold = t.elapsed();
        let t = WallClock::now();
        for p in polls.iter().step_by(2) {
            hub.handle_abort(Instant::ZERO, *p);
        }
        let abort = t.elapsed();
        let t = WallClock::now();
        hub.handle_timeout(Instant::from_millis(60_000));
        let timeouts: usize = core::iter::from_fn(|| hub.poll_response()).count();
        let expire = t.elapsed();
        assert_eq!(timeouts, n / 2);
        println!(
            "n={n:>6}: hold {:.0} ns/poll, abort {:.0} ns/poll, deadline {:.0} ns/poll",
            hold.as_nanos() as f64 / n as f64,
            abort.as_nanos() as f64 / (n / 2) as f64,
            expire.as_nanos() as f64 / (n / 2) as f64,
        );
    }
}
