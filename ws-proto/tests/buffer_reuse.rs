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
