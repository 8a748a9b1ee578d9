//! The pluggable DEFLATE engine: the [`DeflateBackend`] factory, its [`Compressor`] and
//! [`Decompressor`] halves, and the default [`ZlibRsBackend`] (pure Rust, `zlib-rs`).
//!
//! Invariants every backend must keep (the codec relies on them):
//! - raw DEFLATE (RFC 1951), no zlib or gzip header;
//! - a compressor built for `window_bits = w` never emits a distance larger than `2^w`;
//! - a call never writes past the `output` slice it was given, and reports exactly how much
//!   input it consumed and output it produced, so the caller bounds memory and work per call;
//! - invalid input is an error ([`BackendError::InvalidData`]), never a panic.

use alloc::boxed::Box;
use core::ffi::c_int;

use super::error::BackendError;

// zlib-rs through its zlib C API with allocation callbacks over `alloc::alloc`: the only
// `unsafe` code in the crate, kept in this one module.
#[path = "zalloc.rs"]
mod zalloc;

use zalloc::{RawDeflate, RawInflate};

/// What a compressor should do once its input is consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Keep what it likes buffered for a better ratio (more input follows).
    None,
    /// Flush everything and end with an empty stored block, whose last four bytes are
    /// `00 00 ff ff` (zlib's `Z_SYNC_FLUSH`): the end of a permessage-deflate message.
    Sync,
}

/// How far one compressor or decompressor call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Input bytes consumed.
    pub consumed: usize,
    /// Output bytes written to the front of the output slice.
    pub produced: usize,
    /// Compressor: all input is consumed and, with [`Flush::Sync`], everything is flushed.
    /// Decompressor: the final block (BFINAL) of the DEFLATE stream has been decoded.
    pub done: bool,
}

/// Settings of one compressor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressorSettings {
    /// LZ77 window, `2^window_bits` bytes, 9 to 15.
    pub window_bits: u8,
    /// Compression level, 0 (stored) to 9 (best).
    pub level: u8,
    /// zlib's `memLevel`, 1 to 9: the size of the match-finder buffers.
    pub mem_level: u8,
}

/// A factory of DEFLATE compressors and decompressors, so another DEFLATE implementation
/// (a SIMD one, a hardware offload, a C zlib) can be plugged into
/// [`PerMessageDeflate::with_backend`](super::PerMessageDeflate::with_backend).
pub trait DeflateBackend: Send {
    /// A short name for logs and benchmarks.
    fn name(&self) -> &'static str;
    /// A raw-DEFLATE compressor honouring `settings.window_bits`.
    fn new_compressor(
        &self,
        settings: CompressorSettings,
    ) -> Result<Box<dyn Compressor>, BackendError>;
    /// A raw-DEFLATE decompressor for a peer compressing with at most `2^window_bits` bytes of
    /// window (9 to 15). It may accept larger distances (zlib-rs does, up to 32 KiB): being
    /// lenient with the peer is allowed, and the memory it holds is what matters.
    fn new_decompressor(&self, window_bits: u8) -> Result<Box<dyn Decompressor>, BackendError>;
}

/// One raw-DEFLATE compression stream (its LZ77 window is the compression context).
pub trait Compressor: Send {
    /// Compresses from `input` into `output`. With [`Flush::Sync`] the caller calls again
    /// with the rest of the input and fresh output space until [`Progress::done`].
    fn compress(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        flush: Flush,
    ) -> Result<Progress, BackendError>;
    /// Forgets the context (the sliding window) and starts a new stream, keeping the memory.
    fn reset(&mut self) -> Result<(), BackendError>;
    /// Bytes of heap this compressor holds.
    fn memory_usage(&self) -> usize;
}

/// One raw-DEFLATE decompression stream.
pub trait Decompressor: Send {
    /// Decompresses from `input` into `output`, consuming as much input as it can while
    /// `output` has room. [`Progress::done`] means the final block was decoded.
    fn decompress(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, BackendError>;
    /// Forgets the context and starts a new stream.
    fn reset(&mut self) -> Result<(), BackendError>;
    /// Bytes of heap this decompressor holds.
    fn memory_usage(&self) -> usize;
}

/// The default backend: `zlib-rs`, a pure-Rust port of zlib(-ng) that compresses with every
/// window size 9 to 15. It is driven through its zlib C API with ws-proto's own allocation
/// callbacks over `alloc::alloc`, so it is `no_std` + `alloc`.
///
/// Memory: a compressor holds one block of `4·2^w + 7·2^(memLevel+6) + 128 KiB` (the hash
/// head table is fixed at 64 Ki entries) plus its state; a decompressor holds a 32 KiB window
/// (whatever the window bits) plus its state. See [`ZlibRsBackend::compressor_memory`] and
/// [`ZlibRsBackend::decompressor_memory`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ZlibRsBackend;

impl ZlibRsBackend {
    // Bytes of state beside the buffers, measured for zlib-rs 0.6.8 on x86-64 (3,353 and
    // 14,873 bytes, including the boxed `z_stream` and the allocation headers), rounded up.
    const DEFLATE_STATE: usize = 3584;
    const INFLATE_STATE: usize = 15 * 1024;

    /// Heap bytes of one compressor with these settings.
    pub fn compressor_memory(settings: CompressorSettings) -> usize {
        let w = 1usize << settings.window_bits.clamp(9, 15);
        let lit_bufsize = 1usize << (settings.mem_level.clamp(1, 9) + 6);
        // window (2·w bytes) + prev chain (w u16) + head (64 Ki u16) + pending (4·lit) +
        // symbol buffer (3·lit) + state.
        2 * w + 2 * w + 2 * 65536 + 7 * lit_bufsize + Self::DEFLATE_STATE
    }

    /// Heap bytes of one decompressor (zlib-rs allocates a 32 KiB window whatever the window
    /// bits).
    pub fn decompressor_memory(_window_bits: u8) -> usize {
        (1 << 15) + 64 + Self::INFLATE_STATE
    }
}

impl DeflateBackend for ZlibRsBackend {
    fn name(&self) -> &'static str {
        "zlib-rs"
    }

    fn new_compressor(
        &self,
        settings: CompressorSettings,
    ) -> Result<Box<dyn Compressor>, BackendError> {
        if !(9..=15).contains(&settings.window_bits) {
            return Err(BackendError::Unsupported("window bits outside 9..=15"));
        }
        let inner = RawDeflate::new(
            i32::from(settings.level.min(9)),
            // Negative: raw DEFLATE, no zlib header.
            -i32::from(settings.window_bits),
            i32::from(settings.mem_level.clamp(1, 9)),
        )
        .map_err(zlib_error)?;
        Ok(Box::new(ZlibRsCompressor { inner, settings }))
    }

    fn new_decompressor(&self, window_bits: u8) -> Result<Box<dyn Decompressor>, BackendError> {
        let window_bits = window_bits.clamp(9, 15);
        let inner = RawInflate::new(-i32::from(window_bits)).map_err(zlib_error)?;
        Ok(Box::new(ZlibRsDecompressor { inner, window_bits }))
    }
}

/// A zlib result code that is not progress (`Z_OK`, `Z_STREAM_END`, `Z_BUF_ERROR`) as an error.
fn zlib_error(code: c_int) -> BackendError {
    match code {
        zalloc::Z_MEM_ERROR => BackendError::OutOfMemory,
        // A raw stream never asks for a dictionary: only bad data gets there.
        zalloc::Z_DATA_ERROR | zalloc::Z_NEED_DICT => BackendError::InvalidData,
        _ => BackendError::Unsupported("zlib-rs stream error"),
    }
}

/// `Z_BUF_ERROR` only says that no progress was possible (no input or no output space): not
/// an error for a caller that looks at what was consumed and produced.
fn is_progress(code: c_int) -> bool {
    matches!(
        code,
        zalloc::Z_OK | zalloc::Z_STREAM_END | zalloc::Z_BUF_ERROR
    )
}

struct ZlibRsCompressor {
    inner: RawDeflate,
    settings: CompressorSettings,
}

impl Compressor for ZlibRsCompressor {
    fn compress(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        flush: Flush,
    ) -> Result<Progress, BackendError> {
        let mode = match flush {
            Flush::None => zalloc::Z_NO_FLUSH,
            Flush::Sync => zalloc::Z_SYNC_FLUSH,
        };
        let (code, consumed, produced) = self.inner.deflate(input, output, mode);
        if !is_progress(code) {
            return Err(zlib_error(code));
        }
        // zlib's rule: the flush is complete when it returns with output space left.
        let done = consumed == input.len() && produced < output.len();
        Ok(Progress {
            consumed,
            produced,
            done,
        })
    }

    fn reset(&mut self) -> Result<(), BackendError> {
        match self.inner.reset() {
            zalloc::Z_OK => Ok(()),
            code => Err(zlib_error(code)),
        }
    }

    fn memory_usage(&self) -> usize {
        ZlibRsBackend::compressor_memory(self.settings)
    }
}

struct ZlibRsDecompressor {
    inner: RawInflate,
    window_bits: u8,
}

impl Decompressor for ZlibRsDecompressor {
    fn decompress(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, BackendError> {
        let (code, consumed, produced) = self.inner.inflate(input, output);
        if !is_progress(code) {
            return Err(zlib_error(code));
        }
        Ok(Progress {
            consumed,
            produced,
            done: code == zalloc::Z_STREAM_END,
        })
    }

    fn reset(&mut self) -> Result<(), BackendError> {
        // zlib-rs keeps its 32 KiB window buffer whatever the window bits (and so accepts
        // distances up to 32 KiB); the reset keeps the window bits given at creation.
        match self.inner.reset() {
            zalloc::Z_OK => Ok(()),
            code => Err(zlib_error(code)),
        }
    }

    fn memory_usage(&self) -> usize {
        ZlibRsBackend::decompressor_memory(self.window_bits)
    }
}
