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

/// Reading in place (`handle_input_buf`): the messages are slices of the driver's read
/// buffer. Once the application has dropped them, `reserve` takes the same allocation back;
/// while one is kept, the driver gets a new buffer and the kept message is never overwritten.
#[test]
fn a_read_buffer_is_reused_once_its_messages_are_dropped_and_kept_ones_stay_intact() {
    const READ: usize = 128 * 1024;
    let mut conn = Connection::server(Instant::ZERO, Config::default());
    let mut buf = bytes::BytesMut::with_capacity(READ);
    let first = buf.as_ptr();
    let before = large_allocs();
    let mut kept = Vec::new();
    for round in 0..40u8 {
        buf.reserve(READ);
        for i in 0..100u8 {
            buf.extend_from_slice(&masked_binary(&[round; 1000], [i, round, 7, 9]));
        }
        assert!(buf.len() <= READ);
        let start = buf.as_ptr();
        conn.handle_input_buf(Instant::ZERO, &mut buf).unwrap();
        assert!(buf.is_empty());
        let mut n = 0;
        while let Some(event) = conn.poll_event() {
            let Event::Message(Message::Binary(m)) = event else {
                panic!("unexpected {event:?}");
            };
            assert!(m.iter().all(|&b| b == round));
            // A slice of the read buffer, not a copy.
            let offset = m.as_ptr() as usize - start as usize;
            assert!(
                offset < READ,
                "message {n} of round {round} is not in the read buffer"
            );
            if round % 10 == 0 && n == 0 {
                kept.push((round, m));
            }
            n += 1;
        }
        assert_eq!(n, 100);
        if round == 1 {
            // Round 0 kept a message: round 1 had to read into a new buffer.
            assert_ne!(start, first);
        }
    }
    // One new read buffer after each round that kept a message (4), none otherwise.
    assert_eq!(large_allocs() - before, 4);
    for (round, m) in kept {
        assert_eq!(m.len(), 1000);
        assert!(
            m.iter().all(|&b| b == round),
            "a kept message was overwritten"
        );
    }
}
