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
    // permessage-deflate with its default backend (zlib-rs): compressing a message links the
    // compressor, decompressing links the decompressor.
    let params = ws_proto::deflate::DeflateParams::default();
    let config = ws_proto::deflate::DeflateConfig::default();
    let mut client = ws_proto::deflate::PerMessageDeflate::new(&params, ws_proto::Role::Client, &config);
    let mut server = ws_proto::deflate::PerMessageDeflate::new(&params, ws_proto::Role::Server, &config);
    let mut wire = alloc::vec::Vec::new();
    let mut text = alloc::vec::Vec::new();
    let deflated = client.compress(b"no_std", &mut wire).is_ok()
        && server.decompress(&wire, &mut text, 1 << 20).is_ok()
        && server.finish_message(&mut text, 1 << 20).is_ok();
    core::mem::size_of_val(&ws)
        + core::mem::size_of_val(&sse)
        + core::mem::size_of_val(&lp)
        + usize::from(deflated)
        + text.len()
}
