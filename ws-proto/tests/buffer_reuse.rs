//! A stream of large messages that the application drops as it reads them is received
//! without asking the allocator for new buffers: the connection takes back the buffers of
//! messages already dropped. Counted with a global allocator that records large allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ws_proto::frame::{FrameHeader, Opcode};
use ws_proto::mask::apply_mask;
use ws_proto::{Config, Connection, Event, Instant, Message};

thread_local! {
    static LARGE_ALLOCS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= 64 * 1024 {
            let _ = LARGE_ALLOCS.try_with(|c| c.set(c.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= 64 * 1024 {
            let _ = LARGE_ALLOCS.try_with(|c| c.set(c.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn masked_binary(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    FrameHeader {
        fin: true,
        rsv: 0,
        opcode: Opcode::Binary,
        mask: Some(key),
        payload_len: payload.len() as u64,
    }
    .write(&mut out);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], key, 0);
    out
}

fn large_allocs() -> usize {
    LARGE_ALLOCS.with(Cell::get)
}

/// Feed `wire` as a driver reads: each read fills the room the connection offers, then
/// `handle_input`; `each` gets every event of that read.
fn read_all(conn: &mut Connection, mut wire: &[u8], mut each: impl FnMut(Event)) {
    while !wire.is_empty() {
        let buf = conn.input_buffer();
        let n = (buf.capacity() - buf.len()).min(wire.len());
        buf.extend_from_slice(&wire[..n]);
        wire = &wire[n..];
        conn.handle_input(Instant::ZERO).unwrap();
        while let Some(event) = conn.poll_event() {
            each(event);
        }
    }
}

#[test]
fn dropped_large_messages_give_their_buffers_back() {
    const SIZE: usize = 1 << 20;
    let mut wire = Vec::new();
    for i in 0..12u8 {
        wire.extend(masked_binary(&vec![i; SIZE], [i, 1, 2, 3]));
    }
    let mut conn = Connection::server(Instant::ZERO, Config::default());
    let mut received = 0;
    let mut allocs_after_warmup = None;
    read_all(&mut conn, &wire, |event| {
        let Event::Message(Message::Binary(m)) = event else {
            panic!("unexpected {event:?}");
        };
        assert_eq!(m.len(), SIZE);
        assert!(m.iter().all(|&b| usize::from(b) == received));
        received += 1;
        if received == 2 {
            allocs_after_warmup = Some(large_allocs());
        }
    });
    assert_eq!(received, 12);
    // The first message grows its buffer as bytes arrive, the second gets one of its size;
    // after that, each takes back the buffer of the one before it, dropped by then.
    assert_eq!(large_allocs(), allocs_after_warmup.unwrap());
}

/// Messages are slices of the connection's input buffer. Once the application has dropped
/// them, the next read reuses the same allocation; while one is kept, the next read gets a
/// new buffer and the kept message is never overwritten.
#[test]
fn the_input_buffer_is_reused_once_its_messages_are_dropped_and_kept_ones_stay_intact() {
    const FRAME: usize = 1000 + 8;
    let mut conn = Connection::server(Instant::ZERO, Config::default());
    let mut kept = Vec::new();
    let mut before = 0;
    // The test's own buffer, allocated once.
    let mut wire = Vec::with_capacity(128 * 1024);
    for round in 0..48u8 {
        if round == 8 {
            // The room has grown to its largest by now.
            before = large_allocs();
        }
        let buf = conn.input_buffer();
        let (start, room) = (buf.as_ptr() as usize, buf.capacity() - buf.len());
        // Whole frames that fill the room exactly (the last one a little longer), as a busy
        // socket fills every read.
        let frames = room / FRAME;
        wire.clear();
        for i in 0..frames {
            let len = if i + 1 == frames {
                room - (frames - 1) * FRAME - 8
            } else {
                1000
            };
            wire.extend_from_slice(&masked_binary(&vec![round; len], [i as u8, round, 7, 9]));
        }
        assert_eq!(wire.len(), room);
        buf.extend_from_slice(&wire);
        conn.handle_input(Instant::ZERO).unwrap();
        let mut n = 0;
        while let Some(event) = conn.poll_event() {
            let Event::Message(Message::Binary(m)) = event else {
                panic!("unexpected {event:?}");
            };
            assert!(m.iter().all(|&b| b == round));
            // A slice of the input buffer, not a copy.
            let offset = (m.as_ptr() as usize).wrapping_sub(start);
            assert!(
                offset < room,
                "message {n} of round {round} is not in the input buffer"
            );
            if round >= 8 && round % 10 == 0 && n == 0 {
                kept.push((round, m));
            }
            n += 1;
        }
        assert_eq!(n, frames);
    }
    assert_eq!(conn.input_buffer().capacity(), 128 * 1024);
    // One new input buffer after each round that kept a message (4), none otherwise.
    assert_eq!(large_allocs() - before, 4);
    for (round, m) in kept {
        assert!(m.len() >= 1000);
        assert!(
            m.iter().all(|&b| b == round),
            "a kept message was overwritten"
        );
    }
}

/// A driver's pool of read buffers: an empty buffer swapped in is the one read into (no new
/// allocation) and the one messages are sliced from; the buffer can be swapped out between
/// a message's header and its payload; a swap is refused while bytes not read yet are held.
#[test]
fn a_swapped_in_buffer_is_read_into_and_a_swap_never_loses_unread_bytes() {
    let mut conn = Connection::server(Instant::ZERO, Config::default());
    let pooled = bytes::BytesMut::with_capacity(16 * 1024);
    let at = pooled.as_ptr();
    let old = conn
        .swap_input_buffer(pooled)
        .expect("an empty buffer swaps");
    assert_eq!(old.capacity(), 0);
    let frame = masked_binary(b"hello", [1, 2, 3, 4]);
    let buf = conn.input_buffer();
    assert_eq!(buf.as_ptr(), at, "the pooled buffer is read into");
    buf.extend_from_slice(&frame);
    conn.handle_input(Instant::ZERO).unwrap();
    match conn.poll_event() {
        Some(Event::Message(Message::Binary(m))) => {
            assert_eq!(&m[..], b"hello");
            assert_eq!(
                m.as_ptr(),
                at.wrapping_add(frame.len() - 5),
                "sliced from it"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // Half a header: refused, and the bytes stay to be read.
    let frame = masked_binary(&[7u8; 300], [9, 8, 7, 6]);
    conn.input_buffer().extend_from_slice(&frame[..3]);
    conn.handle_input(Instant::ZERO).unwrap();
    let refused = conn
        .swap_input_buffer(bytes::BytesMut::with_capacity(64))
        .expect_err("unread bytes are held");
    assert_eq!(refused.capacity(), 64);
    // The rest of the header: it is read, the buffer is empty and may go (and come back
    // as another one) before the payload arrives.
    conn.input_buffer().extend_from_slice(&frame[3..8]);
    conn.handle_input(Instant::ZERO).unwrap();
    assert!(conn.poll_event().is_none());
    let taken = conn
        .swap_input_buffer(bytes::BytesMut::new())
        .expect("only read bytes were held");
    assert!(taken.is_empty());
    let mut other = bytes::BytesMut::with_capacity(8 * 1024);
    other.extend_from_slice(b"stale bytes are dropped");
    conn.swap_input_buffer(other).expect("empty again");
    conn.input_buffer().extend_from_slice(&frame[8..]);
    conn.handle_input(Instant::ZERO).unwrap();
    match conn.poll_event() {
        Some(Event::Message(Message::Binary(m))) => assert_eq!(&m[..], &[7u8; 300][..]),
        other => panic!("unexpected {other:?}"),
    }
    assert!(conn.poll_event().is_none());
}
