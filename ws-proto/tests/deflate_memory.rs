//! Memory per connection with permessage-deflate, measured with a counting allocator and
//! compared with what [`PerMessageDeflate::memory_usage`] reports (the figures documented in
//! `ws_proto::deflate`). Allocations are counted per thread.
#![cfg(feature = "deflate")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ws_proto::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use ws_proto::Role;

struct Counting;

thread_local! {
    /// Bytes allocated minus bytes freed by this thread: the test harness's own threads do not
    /// disturb the measurement.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: nothing to count while the thread-local is being torn down.
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

// SAFETY: forwards to the system allocator unchanged, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

#[test]
fn memory_per_connection_matches_the_documented_figures() {
    let msg = b"memory per connection with permessage-deflate ".repeat(20);
    let mut wire = Vec::with_capacity(1 << 16);
    let mut text = Vec::with_capacity(1 << 16);
    println!("| window bits | memLevel | compressor (measured) | reported | decompressor (measured) | reported |");
    for (bits, mem_level) in [(9u8, 1u8), (9, 8), (12, 8), (15, 1), (15, 8), (15, 9)] {
        let params = DeflateParams {
            client_max_window_bits: bits,
            server_max_window_bits: bits,
            ..DeflateParams::default()
        };
        let config = DeflateConfig {
            mem_level,
            ..DeflateConfig::default()
        };
        let mut client = PerMessageDeflate::new(&params, Role::Client, &config);
        let mut server = PerMessageDeflate::new(&params, Role::Server, &config);
        assert_eq!(client.memory_usage(), 0, "nothing before the first message");

        wire.clear();
        let before = live();
        client.compress(&msg, &mut wire).unwrap();
        let compressor = (live() - before) as usize;
        let reported_c = client.memory_usage();

        text.clear();
        let before = live();
        server.decompress(&wire, &mut text, 1 << 20).unwrap();
        server.finish_message(&mut text, 1 << 20).unwrap();
        let decompressor = (live() - before) as usize;
        let reported_d = server.memory_usage();
        assert_eq!(text, msg);
        println!(
            "| {bits} | {mem_level} | {compressor} | {reported_c} | {decompressor} | {reported_d} |"
        );
        // The reported figures are within 4 KiB of the allocations, never below them.
        assert!(
            reported_c >= compressor && reported_c - compressor <= 4096,
            "compressor {bits}/{mem_level}: measured {compressor}, reported {reported_c}"
        );
        assert!(
            reported_d >= decompressor && reported_d - decompressor <= 4096,
            "decompressor {bits}: measured {decompressor}, reported {reported_d}"
        );
    }

    // no_context_takeover + release_idle_state: nothing held between messages.
    let params = DeflateParams {
        client_no_context_takeover: true,
        server_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let config = DeflateConfig {
        release_idle_state: true,
        ..DeflateConfig::default()
    };
    let mut client = PerMessageDeflate::new(&params, Role::Client, &config);
    let mut server = PerMessageDeflate::new(&params, Role::Server, &config);
    let before = live();
    for _ in 0..3 {
        wire.clear();
        text.clear();
        client.compress(&msg, &mut wire).unwrap();
        server.decompress(&wire, &mut text, 1 << 20).unwrap();
        server.finish_message(&mut text, 1 << 20).unwrap();
        assert_eq!(text, msg);
    }
    assert_eq!(live() - before, 0, "released between messages");
    assert_eq!(client.memory_usage() + server.memory_usage(), 0);
}
