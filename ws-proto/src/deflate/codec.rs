//! [`PerMessageDeflate`]: one connection's compressor and decompressor, applying the agreed
//! parameters message by message (RFC 7692 section 7.2).
//!
//! Invariants:
//! - Outgoing: a message is compressed with a sync flush and its `00 00 ff ff` tail removed;
//!   with no context takeover for our direction the compressor is reset after the message.
//! - Incoming: the output a call appends is bounded by its `max_output` (the caller's remaining
//!   message-size budget) *as it is inflated*, in pieces of at most
//!   [`PerMessageDeflate::INFLATE_CHUNK`] bytes, with the buffer's capacity capped at
//!   `max_output + 1` more bytes: a deflate bomb costs memory and time proportional to the
//!   limit, never to what the bomb would inflate to.
//! - After any error the codec is poisoned: every later call returns the same error (the
//!   connection must be failed with [`DeflateError::close_code`]).

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::backend::{
    Compressor, CompressorSettings, Decompressor, DeflateBackend, Flush, Progress, ZlibRsBackend,
};
use super::config::{clamp_bits, DeflateConfig, DeflateParams, MIN_WINDOW_BITS};
use super::error::{BackendError, DeflateError};
use crate::Role;

/// The four bytes RFC 7692 removes from the end of a compressed message and the receiver
/// appends back: the LEN/NLEN of the empty stored block a sync flush ends with.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// An empty *final* stored block: fed after [`TAIL`] when the context is reset anyway, it ends
/// the stream only if the message ended on a block boundary, which detects truncation.
const FINAL_EMPTY_BLOCK: [u8; 5] = [0x01, 0x00, 0x00, 0xff, 0xff];

/// Where the incoming message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Incoming {
    /// No compressed byte of the current message yet.
    Idle,
    /// Compressed bytes arrived, the DEFLATE stream goes on.
    Active,
    /// The message contained a final block (BFINAL): the stream is over until the message ends.
    /// `trailer` bytes of an empty stored block followed it (RFC 7692 section 7.2.3.4: a
    /// sender appends one after its final block and removes the last four bytes, leaving
    /// `0x00`).
    Ended { trailer: u8 },
}

/// An empty, non-final stored block: all that may follow a final block in a message.
const EMPTY_STORED_BLOCK: [u8; 5] = [0x00, 0x00, 0x00, 0xff, 0xff];

/// permessage-deflate for one connection: compresses outgoing messages and inflates incoming
/// ones under the agreed [`DeflateParams`].
///
/// Methods, grouped: getters ([`should_compress`](Self::should_compress),
/// [`memory_usage`](Self::memory_usage), [`params`](Self::params)); outgoing
/// ([`compress`](Self::compress), [`compress_part`](Self::compress_part)); incoming
/// ([`decompress`](Self::decompress), [`decompress_step`](Self::decompress_step),
/// [`finish_message`](Self::finish_message)).
///
/// The connection sets RSV1 on the first frame of every message it compresses (and on no
/// other frame: never on continuation or control frames), and for every incoming message whose
/// first frame has RSV1 it feeds each frame's payload to `decompress` and calls
/// `finish_message` at FIN.
pub struct PerMessageDeflate {
    backend: Box<dyn DeflateBackend>,
    role: Role,
    params: DeflateParams,
    compressor: Option<Box<dyn Compressor>>,
    decompressor: Option<Box<dyn Decompressor>>,
    settings: CompressorSettings,
    can_compress: bool,
    outgoing_reset: bool,
    incoming_window: u8,
    incoming_reset: bool,
    threshold: usize,
    release_idle_state: bool,
    incoming: Incoming,
    /// The last step stopped at its budget: the inflater may still hold output (or input bits
    /// it has not decoded) even though all the input was consumed.
    step_pending: bool,
    failed: Option<DeflateError>,
}

impl core::fmt::Debug for PerMessageDeflate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PerMessageDeflate")
            .field("backend", &self.backend.name())
            .field("role", &self.role)
            .field("params", &self.params)
            .field("settings", &self.settings)
            .field("threshold", &self.threshold)
            .field("memory_usage", &self.memory_usage())
            .finish_non_exhaustive()
    }
}

impl PerMessageDeflate {
    /// The largest piece of output one backend call may write: the granularity at which
    /// inflating checks the limit and the step budget.
    pub const INFLATE_CHUNK: usize = 32 * 1024;

    /// A codec for `role` under the agreed `params`, with the default [`ZlibRsBackend`].
    ///
    /// Nothing is allocated until the first message in each direction.
    pub fn new(params: &DeflateParams, role: Role, config: &DeflateConfig) -> Self {
        Self::with_backend(params, role, config, Box::new(ZlibRsBackend))
    }

    /// A codec with another DEFLATE implementation.
    ///
    /// Our compressor uses the smaller of the agreed window and `config.max_window_bits`. If the
    /// agreement asks us to compress with an 8-bit window (which zlib-family compressors cannot
    /// produce), [`should_compress`](Self::should_compress) is always false: every message goes
    /// uncompressed, which RFC 7692 allows.
    pub fn with_backend(
        params: &DeflateParams,
        role: Role,
        config: &DeflateConfig,
        backend: Box<dyn DeflateBackend>,
    ) -> Self {
        let (out_bits, out_no_takeover) = params.outgoing(role);
        let (in_bits, in_no_takeover) = params.incoming(role);
        let can_compress = out_bits >= MIN_WINDOW_BITS;
        Self {
            backend,
            role,
            params: *params,
            compressor: None,
            decompressor: None,
            settings: CompressorSettings {
                window_bits: clamp_bits(out_bits).min(clamp_bits(config.max_window_bits)),
                level: config.level.min(9),
                mem_level: config.mem_level.clamp(1, 9),
            },
            can_compress,
            outgoing_reset: out_no_takeover || config.no_context_takeover,
            incoming_window: clamp_bits(in_bits),
            incoming_reset: in_no_takeover,
            threshold: config.threshold,
            release_idle_state: config.release_idle_state,
            incoming: Incoming::Idle,
            step_pending: false,
            failed: None,
        }
    }

    // --- getters ---

    /// Whether a message of `payload_len` bytes should be compressed: at least the configured
    /// threshold, and a window we can honour was agreed.
    pub fn should_compress(&self, payload_len: usize) -> bool {
        self.can_compress && payload_len >= self.threshold
    }

    /// Whether a message streamed in pieces (size unknown) should be compressed: a window we
    /// can honour was agreed and the threshold is not `usize::MAX` (never compress).
    pub fn should_compress_stream(&self) -> bool {
        self.can_compress && self.threshold != usize::MAX
    }

    /// The agreed parameters.
    pub fn params(&self) -> &DeflateParams {
        &self.params
    }

    /// The settings our compressor uses (window bits, level, memLevel).
    pub fn compressor_settings(&self) -> CompressorSettings {
        self.settings
    }

    /// Heap bytes this codec holds now: the compressor's and decompressor's state as their
    /// backend reports it (exact to within a few KiB for [`ZlibRsBackend`]), 0 for a direction
    /// not yet used or released between messages.
    pub fn memory_usage(&self) -> usize {
        self.compressor.as_ref().map_or(0, |c| c.memory_usage())
            + self.decompressor.as_ref().map_or(0, |d| d.memory_usage())
    }

    // --- outgoing ---

    /// Compress one whole outgoing message; append the compressed bytes, without the
    /// `00 00 ff ff` tail, to `out`.
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), DeflateError> {
        self.compress_part(payload, out, true)
    }

    /// Compress the next part of an outgoing message being sent in fragments, appending it to
    /// `out` sync-flushed, so the peer can inflate everything sent so far (a streamed message
    /// is not held back); `fin` ends the message (tail removed, context reset if agreed). The
    /// connection sends each call's output as a frame, RSV1 on the first one only. A part
    /// after which nothing new was compressed may append nothing.
    pub fn compress_part(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        fin: bool,
    ) -> Result<(), DeflateError> {
        self.check_failed()?;
        if !self.can_compress {
            return Err(DeflateError::Backend(BackendError::Unsupported(
                "the agreed window is below 9 bits: send uncompressed",
            )));
        }
        let result = self.compress_inner(input, out, fin);
        if let Err(e) = result {
            self.failed = Some(e);
        }
        result
    }

    fn compress_inner(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        fin: bool,
    ) -> Result<(), DeflateError> {
        if self.compressor.is_none() {
            self.compressor = Some(self.backend.new_compressor(self.settings)?);
        }
        let Some(compressor) = self.compressor.as_mut() else {
            return Err(DeflateError::Backend(BackendError::OutOfMemory));
        };
        let start = out.len();
        let flush = Flush::Sync;
        let mut consumed = 0;
        loop {
            let remaining = input.len() - consumed;
            // Compressed text is usually well under half its size; grow when it is not.
            let room = (remaining / 2 + 64).min(256 * 1024);
            let at = out.len();
            out.resize(at + room, 0);
            let step = compressor.compress(&input[consumed..], &mut out[at..], flush);
            let Progress {
                consumed: c,
                produced,
                done,
            } = match step {
                Ok(p) => p,
                Err(e) => {
                    out.truncate(start);
                    return Err(e.into());
                }
            };
            out.truncate(at + produced);
            consumed += c;
            if done {
                break;
            }
        }
        if fin {
            if out.len() == start {
                // Nothing was pending since the last sync flush (an empty message after
                // another one): zlib writes no second marker. The stream is byte-aligned, so
                // an empty stored block header, 0x00, is the whole message (RFC 7692 section
                // 7.2.1); the receiver's appended tail completes it.
                out.push(0x00);
            } else if !out[start..].ends_with(&TAIL) {
                out.truncate(start);
                return Err(DeflateError::Backend(BackendError::Unsupported(
                    "the compressor's sync flush did not end with 00 00 ff ff",
                )));
            } else {
                out.truncate(out.len() - TAIL.len());
            }
            if self.outgoing_reset {
                if self.release_idle_state {
                    self.compressor = None;
                } else {
                    compressor.reset()?;
                }
            }
        }
        Ok(())
    }

    // --- incoming ---

    /// Inflate more compressed bytes of the current incoming message, appending to `out`;
    /// never appends more than `max_output` bytes in total in this call: if the data would
    /// inflate further, returns [`DeflateError::MessageTooBig`] (close 1009) having written at
    /// most `max_output`.
    ///
    /// The work is proportional to `input.len() + max_output`; use
    /// [`decompress_step`](Self::decompress_step) to bound it further.
    pub fn decompress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_output: usize,
    ) -> Result<(), DeflateError> {
        let p = self.decompress_step(input, out, max_output, usize::MAX)?;
        debug_assert!(p.done && p.consumed == input.len());
        Ok(())
    }

    /// One bounded step of [`decompress`](Self::decompress): appends at most
    /// `max(max_step, 1)` bytes (and `max_output`), so a driver can interleave other
    /// connections; the work is proportional to that plus the input consumed. [`Progress::done`] says all of `input` was consumed and inflated;
    /// otherwise call again with `input[consumed..]` and `max_output - produced`.
    pub fn decompress_step(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_output: usize,
        max_step: usize,
    ) -> Result<Progress, DeflateError> {
        self.check_failed()?;
        if input.is_empty() && !self.step_pending {
            return Ok(Progress {
                consumed: 0,
                produced: 0,
                done: true,
            });
        }
        self.step_pending = false;
        let result = match self.incoming {
            Incoming::Ended { .. } => self.after_final_block(input).map(|()| Progress {
                consumed: input.len(),
                produced: 0,
                done: true,
            }),
            Incoming::Idle | Incoming::Active => {
                self.incoming = Incoming::Active;
                self.inflate(input, out, max_output, max_step, false)
            }
        };
        self.note(result)
    }

    /// The incoming message ended (FIN): feed the `00 00 ff ff` tail, flush, reset the context
    /// if the agreement says no takeover for the sender's direction. Appends at most
    /// `max_output` bytes (normally none: a sync-flushed message has no output left here).
    ///
    /// A message that ends in the middle of a DEFLATE block is
    /// [`DeflateError::TruncatedMessage`] when the tail decodes as data, and always when the
    /// sender's direction has no context takeover (then an empty final block is also fed, which
    /// only ends the stream on a block boundary).
    pub fn finish_message(
        &mut self,
        out: &mut Vec<u8>,
        max_output: usize,
    ) -> Result<(), DeflateError> {
        self.check_failed()?;
        self.step_pending = false;
        let result = self.finish_inner(out, max_output);
        self.incoming = Incoming::Idle;
        self.note(result)
    }

    fn finish_inner(&mut self, out: &mut Vec<u8>, max_output: usize) -> Result<(), DeflateError> {
        match self.incoming {
            // An empty compressed payload is the empty message.
            Incoming::Idle => Ok(()),
            // The stream is over: the next message starts a new one, whatever the agreement.
            Incoming::Ended { .. } => self.reset_decompressor(),
            Incoming::Active => {
                let p = self.inflate(&TAIL, out, max_output, usize::MAX, true)?;
                if p.produced != 0 {
                    return Err(DeflateError::TruncatedMessage);
                }
                if matches!(self.incoming, Incoming::Ended { .. }) {
                    return self.reset_decompressor();
                }
                if self.incoming_reset {
                    let p = self.inflate(&FINAL_EMPTY_BLOCK, out, max_output, usize::MAX, true)?;
                    if p.produced != 0 || !matches!(self.incoming, Incoming::Ended { .. }) {
                        return Err(DeflateError::TruncatedMessage);
                    }
                    self.reset_decompressor()?;
                }
                Ok(())
            }
        }
    }

    fn reset_decompressor(&mut self) -> Result<(), DeflateError> {
        if self.release_idle_state && self.incoming_reset {
            self.decompressor = None;
        } else if let Some(d) = self.decompressor.as_mut() {
            d.reset()?;
        }
        Ok(())
    }

    /// The inflate loop (`ours`: the bytes are the tail or probe we add): output in chunks, each bounded by what `max_output` still allows
    /// plus one byte (so "would inflate further" is seen without inflating further).
    fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_output: usize,
        max_step: usize,
        ours: bool,
    ) -> Result<Progress, DeflateError> {
        if self.decompressor.is_none() {
            self.decompressor = Some(self.backend.new_decompressor(self.incoming_window)?);
        }
        let Some(decompressor) = self.decompressor.as_mut() else {
            return Err(DeflateError::Backend(BackendError::OutOfMemory));
        };
        let base = out.len();
        let mut consumed = 0;
        let mut produced = 0;
        loop {
            let want = (input.len() - consumed).saturating_mul(4).max(1024);
            let limit_left = max_output.saturating_sub(produced);
            let budget_left = max_step.saturating_sub(produced);
            let bound = if budget_left >= limit_left {
                // The limit comes first: one byte more than it allows shows the message is
                // too big (that byte is never kept).
                limit_left.saturating_add(1)
            } else {
                budget_left.max(1)
            };
            let room = want.min(Self::INFLATE_CHUNK).min(bound);
            let at = out.len();
            reserve_bounded(out, room, base.saturating_add(max_output).saturating_add(1));
            out.resize(at + room, 0);
            let step = decompressor.decompress(&input[consumed..], &mut out[at..]);
            let p = match step {
                Ok(p) => p,
                Err(e) => {
                    out.truncate(at);
                    return Err(e.into());
                }
            };
            out.truncate(at + p.produced);
            consumed += p.consumed;
            produced += p.produced;
            if produced > max_output {
                out.truncate(out.len() - (produced - max_output));
                return Err(DeflateError::MessageTooBig { max_output });
            }
            if p.done {
                self.incoming = Incoming::Ended { trailer: 0 };
                if !ours {
                    self.after_final_block(&input[consumed..])?;
                }
                return Ok(Progress {
                    consumed: input.len(),
                    produced,
                    done: true,
                });
            }
            let drained = p.produced < room;
            if consumed == input.len() && drained {
                return Ok(Progress {
                    consumed,
                    produced,
                    done: true,
                });
            }
            if p.consumed == 0 && p.produced == 0 {
                // No progress with input left and room to write: the backend is stuck.
                return Err(DeflateError::InvalidData);
            }
            // When the limit is no larger than the step, the limit ends the call instead.
            if produced >= max_step && max_step < max_output {
                // Even with all the input consumed, the inflater may hold more: the next
                // call, with no more input, drains it.
                self.step_pending = true;
                return Ok(Progress {
                    consumed,
                    produced,
                    done: false,
                });
            }
        }
    }

    /// Bytes of the peer's message after its final block: only an empty stored block (or a
    /// prefix of one) may come.
    fn after_final_block(&mut self, bytes: &[u8]) -> Result<(), DeflateError> {
        let Incoming::Ended { trailer } = &mut self.incoming else {
            return Ok(());
        };
        for &b in bytes {
            if EMPTY_STORED_BLOCK.get(usize::from(*trailer)) != Some(&b) {
                return Err(DeflateError::TrailingData);
            }
            *trailer += 1;
        }
        Ok(())
    }

    fn check_failed(&self) -> Result<(), DeflateError> {
        match self.failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn note<T>(&mut self, result: Result<T, DeflateError>) -> Result<T, DeflateError> {
        if let Err(e) = &result {
            self.failed = Some(*e);
        }
        result
    }
}

/// Makes room for `additional` bytes, growing geometrically (amortised linear copying) but
/// never past `cap` unless `additional` itself needs it: the output of a bomb costs at most
/// its limit plus one chunk, not twice its limit.
fn reserve_bounded(out: &mut Vec<u8>, additional: usize, cap: usize) {
    let needed = out.len() + additional;
    if needed <= out.capacity() {
        return;
    }
    let target = out
        .capacity()
        .saturating_mul(2)
        .max(needed)
        .min(cap.max(needed));
    out.reserve_exact(target - out.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_is_send() {
        fn send<T: Send>() {}
        send::<PerMessageDeflate>();
    }

    #[test]
    fn reserve_bounded_grows_geometrically_up_to_the_cap() {
        // (len, capacity, additional, cap) → capacity at least needed, at most max(cap, needed)
        let cases = [
            (0, 0, 10, 100),
            (90, 90, 20, 100),
            (10, 10, 5, 1000),
            (0, 0, 500, 100),
        ];
        for (len, cap0, additional, cap) in cases {
            let mut v = Vec::with_capacity(cap0);
            v.resize(len, 0u8);
            reserve_bounded(&mut v, additional, cap);
            let needed = len + additional;
            assert!(v.capacity() >= needed, "{len} {cap0} {additional} {cap}");
            assert!(
                v.capacity() <= cap.max(needed).max(cap0),
                "{}",
                v.capacity()
            );
        }
        // Amortised: 1000 one-chunk growths cost about log2 reallocations, not 1000.
        let mut v: Vec<u8> = Vec::new();
        let mut reallocations = 0;
        for _ in 0..1000 {
            let before = v.capacity();
            reserve_bounded(&mut v, 1024, usize::MAX);
            v.resize(v.len() + 1024, 0);
            reallocations += usize::from(v.capacity() != before);
        }
        assert!(reallocations <= 12, "{reallocations}");
    }

    #[test]
    fn role_picks_the_directions() {
        let p = DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: false,
            server_max_window_bits: 10,
            client_max_window_bits: 12,
        };
        assert_eq!(p.outgoing(Role::Client), (12, false));
        assert_eq!(p.incoming(Role::Client), (10, true));
        assert_eq!(p.outgoing(Role::Server), (10, true));
        assert_eq!(p.incoming(Role::Server), (12, false));
        let c = PerMessageDeflate::new(&p, Role::Client, &DeflateConfig::default());
        assert_eq!(c.compressor_settings().window_bits, 12);
        let s = PerMessageDeflate::new(&p, Role::Server, &DeflateConfig::default());
        assert_eq!(s.compressor_settings().window_bits, 10);
    }
}
