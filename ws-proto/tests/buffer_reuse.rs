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
    // 128 KiB reads, like a socket driver: a new message starts in the same input in which
    // the previous one ends, while that one is still queued as an event.
    for piece in wire.chunks(128 * 1024) {
        conn.handle_input(Instant::ZERO, piece).unwrap();
        while let Some(event) = conn.poll_event() {
            let Event::Message(Message::Binary(m)) = event else {
                panic!("unexpected {event:?}");
            };
            assert_eq!(m.len(), SIZE);
            assert!(m.iter().all(|&b| usize::from(b) == received));
            received += 1;
            if received == 2 {
                allocs_after_warmup = Some(large_allocs());
            }
        }
    }
    assert_eq!(received, 12);
    // The first message grows its buffer as bytes arrive, the second needs a buffer of its
    // own (the first is still queued when it starts); after that the two are reused.
    assert_eq!(large_allocs(), allocs_after_warmup.unwrap());
}
