//! Regression tests for past vulnerabilities of WebSocket libraries (PROTOCOL-NOTES.md).
//! Memory is measured with a counting global allocator, so "allocates nothing" is checked, not
//! assumed. Tests that count allocations run one at a time (they share the counter).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use support::*;
use ws_proto::{Config, Connection, Instant, Message, ProtocolError, SendError};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak bytes allocated (above the level at the start) while running `f`.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let r = f();
    (r, PEAK.load(Ordering::SeqCst).saturating_sub(base))
}

#[test]
fn huge_declared_length_allocates_nothing() {
    let _g = SERIAL.lock().unwrap();
    // rust-websocket CVE-2022-35922: with_capacity(declared length) before the bytes arrive.
    // Even with the limits switched off, a 1 TiB declared frame with 10 bytes present costs
    // only what arrived.
    let unlimited = Config {
        max_frame_payload: usize::MAX,
        max_message_size: usize::MAX,
        ..Config::default()
    };
    let mut conn = Connection::server(Instant::ZERO, unlimited);
    // The read buffer exists before the read (a driver reads into it).
    conn.input_buffer();
    let frame = raw_frame(
        true,
        0,
        2,
        &[7u8; 10],
        Some([1, 2, 3, 4]),
        Len::Declared(1 << 40),
    );
    let (r, peak) = peak_during(|| conn.feed_bytes(Instant::ZERO, &frame));
    assert_eq!(r, Ok(()));
    assert!(
        peak < 64 * 1024,
        "peak {peak} bytes for 10 bytes of payload"
    );

    // With the default limits it fails at the header, before any payload.
    let mut conn = Connection::server(Instant::ZERO, Config::default());
    conn.input_buffer();
    let header = &frame[..14];
    let (r, peak) = peak_during(|| conn.feed_bytes(Instant::ZERO, header));
    assert!(matches!(r, Err(ProtocolError::FrameTooLarge { len, .. }) if len == 1 << 40));
    assert!(peak < 4 * 1024, "peak {peak}");
    assert_eq!(
        sent_close_code(&drain_events_then_transmit(&mut conn).1),
        Some(1009)
    );
}

#[test]
fn largest_64_bit_length_is_refused_without_overflow() {
    let _g = SERIAL.lock().unwrap();
    // gorilla CVE-2020-27813 / Tomcat CVE-2020-13935: lengths near the top of the range.
    for declared in [u64::MAX >> 1, (u64::MAX >> 1) - 1, 1 << 62] {
        let frame = raw_frame(false, 0, 2, &[], Some([0; 4]), Len::Declared(declared));
        let mut conn = Connection::server(Instant::ZERO, Config::default());
        assert!(matches!(
            conn.feed_bytes(Instant::ZERO, &frame),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        // A second frame after an accepted first one: the message size sum must not wrap.
        let big = Config {
            max_frame_payload: usize::MAX,
            max_message_size: 1 << 20,
            ..Config::default()
        };
        let mut conn = Connection::server(Instant::ZERO, big);
        let mut input = raw_frame(false, 0, 2, &[1; 100], Some([0; 4]), Len::Minimal);
        input.extend(raw_frame(
            false,
            0,
            0,
            &[],
            Some([0; 4]),
            Len::Declared(declared),
        ));
        assert_eq!(
            conn.feed_bytes(Instant::ZERO, &input),
            Err(ProtocolError::MessageTooLarge { limit: 1 << 20 })
        );
    }
}

#[test]
fn peer_that_never_reads_hits_the_outgoing_limit() {
    let _g = SERIAL.lock().unwrap();
    // ws-rs CVE-2020-35896: unbounded outgoing buffer.
    let cfg = Config {
        max_send_buffer: 256 * 1024,
        ..Config::default()
    };
    let mut server = Connection::server(Instant::ZERO, cfg);
    let msg = Message::binary(vec![0u8; 1000]);
    let mut refused = None;
    for i in 0..10_000 {
        if let Err(e) = server.send(Instant::ZERO, msg.clone()) {
            refused = Some((i, e));
            break;
        }
    }
    let (sent, err) = refused.expect("the limit was hit");
    assert!(
        matches!(err, SendError::BufferFull { limit: 262_144, .. }),
        "{err:?}"
    );
    assert!(server.pending_transmit() <= 256 * 1024);
    assert_eq!(sent, 256 * 1024 / 1004);

    // A ping flood while we cannot write: pongs do not grow the buffer past its limit.
    let pings: Vec<u8> = (0..5_000)
        .flat_map(|_| client_frame(true, 9, &[1u8; 125]))
        .collect();
    assert_eq!(server.feed_bytes(Instant::ZERO, &pings), Ok(()));
    assert!(
        server.pending_transmit() <= 256 * 1024 + 131,
        "pending {}",
        server.pending_transmit()
    );
    // Once drained, exactly one owed pong (the latest) goes out.
    let out = drain_transmit(&mut server);
    let pongs = parse_frames(&out)
        .into_iter()
        .filter(|f| f.opcode == ws_proto::frame::Opcode::Pong)
        .count();
    assert_eq!(pongs, 1);
}

#[test]
fn tiny_fragment_flood_hits_a_limit_with_bounded_memory() {
    let _g = SERIAL.lock().unwrap();
    // ws 8.21.0 (2026): many tiny or empty fragments each costing memory.
    let mut conn = Connection::server(Instant::ZERO, Config::default());
    assert_eq!(
        conn.feed_bytes(Instant::ZERO, &client_frame(false, 2, b"")),
        Ok(())
    );
    let flood: Vec<u8> = (0..1000)
        .flat_map(|_| client_frame(false, 0, b""))
        .collect();
    let mut result = Ok(());
    let (_, peak) = peak_during(|| {
        for _ in 0..200 {
            result = conn.feed_bytes(Instant::ZERO, &flood);
            if result.is_err() {
                break;
            }
        }
    });
    assert_eq!(
        result,
        Err(ProtocolError::TooManyFragments { limit: 1 << 17 })
    );
    assert!(
        peak < 64 * 1024,
        "peak {peak} bytes for an empty-fragment flood"
    );
    assert_eq!(
        sent_close_code(&drain_events_then_transmit(&mut conn).1),
        Some(1009)
    );
}

#[test]
fn autobahn_9_sizes_pass_the_default_limits() {
    let _g = SERIAL.lock().unwrap();
    // 16 MiB in one frame, and 4 MiB in 65,536 fragments of 64 bytes.
    let mut conn = Connection::server(Instant::ZERO, Config::default());
    let big = client_frame(true, 2, &vec![3u8; 16 << 20]);
    assert_eq!(conn.feed_bytes(Instant::ZERO, &big), Ok(()));
    let mut fragmented = client_frame(false, 1, &[b'a'; 64]);
    for i in 1..65_536 {
        fragmented.extend(client_frame(i == 65_535, 0, &[b'a'; 64]));
    }
    assert_eq!(conn.feed_bytes(Instant::ZERO, &fragmented), Ok(()));
    let events = drain_events(&mut conn);
    assert_eq!(events.len(), 2);
    assert!(matches!(&events[1], ws_proto::Event::Message(Message::Text(t)) if t.len() == 4 << 20));
}
