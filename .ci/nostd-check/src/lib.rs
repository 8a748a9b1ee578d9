//! Proof that the protocol crates are `no_std` + `alloc`: see Cargo.toml.
#![no_std]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::panic::PanicInfo;

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {}
}

/// A stand-in allocator: this library is only built, never run.
struct NoHeap;

unsafe impl GlobalAlloc for NoHeap {
    unsafe fn alloc(&self, _: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
}

#[global_allocator]
static HEAP: NoHeap = NoHeap;

/// Touch each crate so that it is linked.
#[no_mangle]
pub extern "C" fn nostd_check() -> usize {
    let ws = ws_proto::Connection::server(ws_proto::Instant::ZERO, ws_proto::Config::default());
    let sse = sse_proto::Parser::new();
    let lp = longpoll_proto::Hub::new(longpoll_proto::HubConfig::default(), longpoll_proto::Epoch(1));
    core::mem::size_of_val(&ws) + core::mem::size_of_val(&sse) + core::mem::size_of_val(&lp)
}
