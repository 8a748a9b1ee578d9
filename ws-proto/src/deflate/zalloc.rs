//! The only `unsafe` code in ws-proto: zlib-rs driven through its zlib C API (`libz-rs-sys`)
//! with zlib's custom allocation callbacks (`zalloc`, `zfree`, `opaque` of the `z_stream`)
//! implemented over `alloc::alloc`, so the default DEFLATE backend is `no_std` + `alloc`
//! (zlib-rs's own `rust-allocator` feature allocates through `std::alloc`, which links `std`).
//!
//! Invariants:
//! - a `z_stream` lives in a `Box` from before its `*Init2_` call until after its `*End`
//!   call (zlib-rs's state points back at it, so it never moves); [`RawDeflate`] and
//!   [`RawInflate`] own that box and nothing else refers to it;
//! - `next_in` and `next_out` point into the caller's slices only for the length of one
//!   `deflate` or `inflate` call, and are reset to null before the call returns;
//! - every block [`zalloc`] returns is preceded by a [`HEADER`]-byte header holding the size of
//!   the whole allocation, which [`zfree`] reads back to rebuild the `Layout` it was allocated
//!   with. zlib-rs asks for one block per stream (`items = size of block + alignment slack`,
//!   `size = 1`) and aligns its buffers to 64 bytes inside it itself, so a block only needs
//!   `malloc`'s alignment ([`ALIGN`]);
//! - the callbacks never panic or unwind (they are `extern "C"`); a failed allocation returns
//!   null, which zlib-rs reports as `Z_MEM_ERROR`.
#![allow(unsafe_code)]

use alloc::alloc::{alloc, dealloc, Layout};
use alloc::boxed::Box;
use core::ffi::{c_int, c_uint, c_void};
use core::ptr;

use libz_rs_sys as z;

pub(super) use z::{
    Z_BUF_ERROR, Z_DATA_ERROR, Z_MEM_ERROR, Z_NEED_DICT, Z_NO_FLUSH, Z_OK, Z_STREAM_END,
    Z_SYNC_FLUSH,
};

/// Bytes in front of each block: its total size (a `usize`), padded to [`ALIGN`].
const HEADER: usize = 16;
/// Alignment of each block (and so of the pointer handed to zlib-rs): `malloc`'s on 64-bit
/// targets.
const ALIGN: usize = 16;
const _: () = assert!(HEADER >= core::mem::size_of::<usize>() && HEADER.is_multiple_of(ALIGN));
const _: () = assert!(ALIGN >= core::mem::align_of::<usize>());

/// zlib's `zalloc`: `items * size` bytes, or null when that is zero, overflows or the
/// allocator fails.
extern "C" fn zalloc(_opaque: *mut c_void, items: c_uint, size: c_uint) -> *mut c_void {
    let Some(total) = (items as usize)
        .checked_mul(size as usize)
        .filter(|&n| n != 0)
        .and_then(|n| n.checked_add(HEADER))
    else {
        return ptr::null_mut();
    };
    let Ok(layout) = Layout::from_size_align(total, ALIGN) else {
        return ptr::null_mut();
    };
    // SAFETY: `layout` has a non-zero size (`total >= HEADER > 0`).
    let block = unsafe { alloc(layout) };
    if block.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: `block` is valid for `total >= HEADER >= size_of::<usize>()` bytes and aligned
    // to `ALIGN >= align_of::<usize>()`; `block + HEADER` is within (or one past) the block.
    unsafe {
        block.cast::<usize>().write(total);
        block.add(HEADER).cast()
    }
}

/// zlib's `zfree`.
///
/// # Safety
///
/// `address` is null or a pointer returned by [`zalloc`] and not freed since.
unsafe extern "C" fn zfree(_opaque: *mut c_void, address: *mut c_void) {
    if address.is_null() {
        return;
    }
    // SAFETY: `address` came from `zalloc` (the caller's contract), so the block starts
    // `HEADER` bytes before it, is aligned to `ALIGN`, and holds its total size there; that
    // size and `ALIGN` formed a valid `Layout` when the block was allocated.
    unsafe {
        let block = address.cast::<u8>().sub(HEADER);
        let total = block.cast::<usize>().read();
        dealloc(block, Layout::from_size_align_unchecked(total, ALIGN));
    }
}

/// A fresh `z_stream` with our allocator and nothing else set.
fn new_stream() -> Box<z::z_stream> {
    Box::new(z::z_stream {
        zalloc: Some(zalloc),
        zfree: Some(zfree),
        opaque: ptr::null_mut(),
        ..z::z_stream::default()
    })
}

/// The `stream_size` argument zlib's init functions check against their own `z_stream`.
const STREAM_SIZE: c_int = core::mem::size_of::<z::z_stream>() as c_int;

/// Points the stream at `input` and `output` (at most `c_uint::MAX` bytes of each, as zlib
/// counts them), runs `step`, nulls the pointers again and returns its result code with the
/// bytes consumed and produced.
fn run(
    stream: &mut z::z_stream,
    input: &[u8],
    output: &mut [u8],
    step: impl FnOnce(&mut z::z_stream) -> c_int,
) -> (c_int, usize, usize) {
    let avail_in = c_uint::try_from(input.len()).unwrap_or(c_uint::MAX);
    let avail_out = c_uint::try_from(output.len()).unwrap_or(c_uint::MAX);
    stream.next_in = input.as_ptr();
    stream.avail_in = avail_in;
    stream.next_out = output.as_mut_ptr();
    stream.avail_out = avail_out;
    let code = step(stream);
    // zlib only ever decreases the counts; saturating keeps a broken engine from panicking.
    let consumed = avail_in.saturating_sub(stream.avail_in) as usize;
    let produced = avail_out.saturating_sub(stream.avail_out) as usize;
    stream.next_in = ptr::null();
    stream.avail_in = 0;
    stream.next_out = ptr::null_mut();
    stream.avail_out = 0;
    (code, consumed, produced)
}

/// A raw-DEFLATE compression stream (zlib's `deflateInit2_` … `deflateEnd`).
pub(super) struct RawDeflate {
    stream: Box<z::z_stream>,
}

// SAFETY: the `z_stream` and the state zlib-rs hangs off it are owned by this value alone
// (no shared or thread-local data, `opaque` is null, `next_in`/`next_out` are null between
// calls), so moving it to another thread is sound.
unsafe impl Send for RawDeflate {}

impl RawDeflate {
    /// `deflateInit2_(level, Z_DEFLATED, window_bits, mem_level, Z_DEFAULT_STRATEGY)`; a
    /// negative `window_bits` means raw DEFLATE. Returns zlib's code on failure.
    pub(super) fn new(level: c_int, window_bits: c_int, mem_level: c_int) -> Result<Self, c_int> {
        let mut raw = RawDeflate {
            stream: new_stream(),
        };
        // SAFETY: the stream is boxed (it will not move), its allocator fields are ours and
        // valid, and `version`/`stream_size` are the library's own. On failure `Drop` calls
        // `deflateEnd`, which frees whatever was allocated or does nothing on a null state.
        let code = unsafe {
            z::deflateInit2_(
                &mut *raw.stream,
                level,
                z::Z_DEFLATED,
                window_bits,
                mem_level,
                z::Z_DEFAULT_STRATEGY,
                z::zlibVersion(),
                STREAM_SIZE,
            )
        };
        if code == Z_OK {
            Ok(raw)
        } else {
            Err(code)
        }
    }

    /// zlib's `deflate(flush)` from `input` into `output`: (code, consumed, produced).
    pub(super) fn deflate(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        flush: c_int,
    ) -> (c_int, usize, usize) {
        run(&mut self.stream, input, output, |stream| {
            // SAFETY: the stream was initialised by `deflateInit2_` and has not moved;
            // `next_in`/`avail_in` describe readable bytes of `input` and
            // `next_out`/`avail_out` writable bytes of `output`, both borrowed for this call.
            unsafe { z::deflate(stream, flush) }
        })
    }

    /// zlib's `deflateReset`: a new stream with the same settings and memory.
    pub(super) fn reset(&mut self) -> c_int {
        // SAFETY: the stream was initialised by `deflateInit2_` and has not moved.
        unsafe { z::deflateReset(&mut *self.stream) }
    }
}

impl Drop for RawDeflate {
    fn drop(&mut self) {
        // SAFETY: the stream is ours and has not moved; `deflateEnd` frees the state through
        // `zfree` (it returns Z_DATA_ERROR for a stream ended mid-way, still freeing it, and
        // does nothing when initialisation never set a state).
        unsafe { z::deflateEnd(&mut *self.stream) };
    }
}

/// A raw-DEFLATE decompression stream (zlib's `inflateInit2_` … `inflateEnd`).
pub(super) struct RawInflate {
    stream: Box<z::z_stream>,
}

// SAFETY: as for `RawDeflate`: everything the stream points at is owned by this value alone.
unsafe impl Send for RawInflate {}

impl RawInflate {
    /// `inflateInit2_(window_bits)`; a negative `window_bits` means raw DEFLATE. Returns
    /// zlib's code on failure.
    pub(super) fn new(window_bits: c_int) -> Result<Self, c_int> {
        let mut raw = RawInflate {
            stream: new_stream(),
        };
        // SAFETY: as in `RawDeflate::new`; on failure `Drop` calls `inflateEnd`, which does
        // nothing on a null state (zlib-rs frees its block itself when init fails after
        // allocating).
        let code = unsafe {
            z::inflateInit2_(&mut *raw.stream, window_bits, z::zlibVersion(), STREAM_SIZE)
        };
        if code == Z_OK {
            Ok(raw)
        } else {
            Err(code)
        }
    }

    /// zlib's `inflate(Z_NO_FLUSH)` from `input` into `output`: (code, consumed, produced).
    pub(super) fn inflate(&mut self, input: &[u8], output: &mut [u8]) -> (c_int, usize, usize) {
        run(&mut self.stream, input, output, |stream| {
            // SAFETY: as in `RawDeflate::deflate`, for a stream initialised by
            // `inflateInit2_`.
            unsafe { z::inflate(stream, Z_NO_FLUSH) }
        })
    }

    /// zlib's `inflateReset`: a new stream with the same window bits and memory.
    pub(super) fn reset(&mut self) -> c_int {
        // SAFETY: the stream was initialised by `inflateInit2_` and has not moved.
        unsafe { z::inflateReset(&mut *self.stream) }
    }
}

impl Drop for RawInflate {
    fn drop(&mut self) {
        // SAFETY: the stream is ours and has not moved; `inflateEnd` frees the state through
        // `zfree`, or does nothing when initialisation never set a state.
        unsafe { z::inflateEnd(&mut *self.stream) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn zalloc_blocks_are_aligned_writable_and_freed() {
        for (items, size) in [(1, 1), (3, 5), (1, 4096), (65_536 + 64, 1), (7, 1 << 15)] {
            let p = zalloc(ptr::null_mut(), items, size);
            assert!(!p.is_null());
            assert_eq!(p as usize % ALIGN, 0);
            let n = items as usize * size as usize;
            // SAFETY: `p` is valid for `n` bytes (what was asked for) and freed once, below.
            unsafe {
                ptr::write_bytes(p.cast::<u8>(), 0xa5, n);
                assert_eq!(*p.cast::<u8>().add(n - 1), 0xa5);
                zfree(ptr::null_mut(), p);
            }
        }
    }

    #[test]
    fn zalloc_refuses_zero_and_overflowing_sizes() {
        assert!(zalloc(ptr::null_mut(), 0, 10).is_null());
        assert!(zalloc(ptr::null_mut(), 10, 0).is_null());
        // More than isize::MAX bytes: no valid Layout on any target.
        assert!(zalloc(ptr::null_mut(), c_uint::MAX, c_uint::MAX).is_null());
        // SAFETY: freeing null is a no-op.
        unsafe { zfree(ptr::null_mut(), ptr::null_mut()) };
    }

    #[test]
    fn init_rejects_bad_parameters_without_leaking() {
        assert!(RawDeflate::new(6, -16, 8).is_err());
        assert!(RawDeflate::new(10, -15, 8).is_err());
        assert!(RawDeflate::new(6, -15, 0).is_err());
        assert!(RawInflate::new(-16).is_err());
    }

    #[test]
    fn round_trip_in_small_steps_then_reset() {
        // Under Miri (which interprets every instruction) a shorter text still crosses the
        // output windows and the reset many times.
        let len = if cfg!(miri) { 4_000 } else { 50_000 };
        let text: Vec<u8> = b"zalloc and zfree over alloc::alloc; "
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect();
        let mut deflate = RawDeflate::new(6, -10, 8).unwrap();
        let mut inflate = RawInflate::new(-10).unwrap();
        for _round in 0..2 {
            // Compress through a 7-byte output window, input in 1000-byte pieces.
            let mut wire = Vec::new();
            let mut out = [0u8; 7];
            for piece in text.chunks(1000) {
                let mut rest = piece;
                loop {
                    let (code, used, made) = deflate.deflate(rest, &mut out, Z_SYNC_FLUSH);
                    assert!(code == Z_OK || code == Z_BUF_ERROR, "deflate: {code}");
                    wire.extend_from_slice(&out[..made]);
                    rest = &rest[used..];
                    if rest.is_empty() && made < out.len() {
                        break;
                    }
                }
            }
            assert!(wire.ends_with(&[0, 0, 0xff, 0xff]));
            assert!(wire.len() < text.len() / 10);
            // Inflate 13 bytes at a time into a 5-byte output window.
            let mut back = Vec::new();
            let mut out = [0u8; 5];
            for piece in wire.chunks(13) {
                let mut rest = piece;
                loop {
                    let (code, used, made) = inflate.inflate(rest, &mut out);
                    assert!(code == Z_OK || code == Z_BUF_ERROR, "inflate: {code}");
                    back.extend_from_slice(&out[..made]);
                    rest = &rest[used..];
                    if rest.is_empty() && made < out.len() {
                        break;
                    }
                }
            }
            assert_eq!(back, text);
            assert_eq!(deflate.reset(), Z_OK);
            assert_eq!(inflate.reset(), Z_OK);
        }
    }

    #[test]
    fn bad_data_is_an_error_and_the_stream_still_drops_cleanly() {
        let mut inflate = RawInflate::new(-15).unwrap();
        let mut out = [0u8; 64];
        // Block type 3 (reserved) is invalid.
        let (code, _, _) = inflate.inflate(&[0xff, 0xff, 0xff], &mut out);
        assert_eq!(code, Z_DATA_ERROR);
        assert_eq!(inflate.reset(), Z_OK);
        // A compressor dropped mid-flush (output still pending) is ended and freed too.
        let noise: Vec<u8> = (0u32..20_000)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut deflate = RawDeflate::new(9, -15, 9).unwrap();
        let (code, used, made) = deflate.deflate(&noise, &mut out[..16], Z_SYNC_FLUSH);
        assert_eq!(code, Z_OK);
        assert_eq!(made, 16);
        assert!(used <= noise.len());
    }

    #[test]
    fn streams_are_send() {
        fn send<T: Send>(_: &T) {}
        let deflate = RawDeflate::new(1, -9, 1).unwrap();
        let inflate = RawInflate::new(-9).unwrap();
        send(&deflate);
        send(&inflate);
        std_thread_round_trip(deflate, inflate);
    }

    /// Moves both streams to another thread (where the crate is built with `std`, as tests are)
    /// and uses them there.
    fn std_thread_round_trip(mut deflate: RawDeflate, mut inflate: RawInflate) {
        extern crate std;
        std::thread::spawn(move || {
            let mut wire = [0u8; 64];
            let (code, _, made) = deflate.deflate(b"hello hello hello", &mut wire, Z_SYNC_FLUSH);
            assert_eq!(code, Z_OK);
            let mut out = [0u8; 64];
            let (code, _, n) = inflate.inflate(&wire[..made], &mut out);
            assert_eq!(code, Z_OK);
            assert_eq!(&out[..n], b"hello hello hello");
        })
        .join()
        .unwrap();
    }
}
