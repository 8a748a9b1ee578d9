//! permessage-deflate for one connection (feature `deflate`): the one optional part the
//! reader and the sender borrow when the handshake negotiated it.
//!
//! It owns the codec, the inflated bytes of the message being received, and the buffer
//! compressed bytes pass through on their way out. The message-size limit applies to the
//! inflated size as it grows, and inflating stops at a step budget (the reader's caller gives
//! one per call) so that one message cannot monopolise a thread.

use alloc::vec::Vec;
use bytes::Bytes;

use crate::deflate::{DeflateError, Negotiated, PerMessageDeflate};
use crate::error::ProtocolError;
use crate::Role;

/// The compression part, lent to the reader and the sender when negotiated.
pub(crate) type Comp<'a> = Option<&'a mut Compression>;

/// permessage-deflate state of one connection.
pub(crate) struct Compression {
    codec: PerMessageDeflate,
    /// Inflated bytes of the message being received, not yet handed out.
    inflated: Vec<u8>,
    /// Inflated bytes of that message so far (including those handed out in streaming mode).
    inflated_size: usize,
    /// Compressed output on its way to the send queue.
    scratch: Vec<u8>,
}

/// Progress of one inflate step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inflated {
    /// Input bytes consumed.
    pub(crate) consumed: usize,
    /// All of the input was inflated and nothing is held back: the step is complete.
    pub(crate) done: bool,
}

impl Compression {
    /// The codec for `role` under what the handshake agreed.
    pub(crate) fn new(negotiated: &Negotiated, role: Role) -> Self {
        Compression {
            codec: PerMessageDeflate::new(&negotiated.params, role, &negotiated.config),
            inflated: Vec::new(),
            inflated_size: 0,
            scratch: Vec::new(),
        }
    }

    // ---- receiving ----

    /// Inflate `input` (unmasked compressed bytes of the current message) within `budget`
    /// output bytes (decreased by what was produced), under `limit` bytes for the whole
    /// message. Even with no input, the codec may still hold output from a step that stopped
    /// at its budget: `done` says when it is finished.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        limit: usize,
        budget: &mut usize,
    ) -> Result<Inflated, ProtocolError> {
        let before = self.inflated.len();
        let progress = self
            .codec
            .decompress_step(
                input,
                &mut self.inflated,
                limit.saturating_sub(self.inflated_size),
                *budget,
            )
            .map_err(|e| protocol_error(e, limit))?;
        let produced = self.inflated.len() - before;
        self.inflated_size += produced;
        *budget = budget.saturating_sub(produced);
        Ok(Inflated {
            consumed: progress.consumed,
            done: progress.done,
        })
    }

    /// The compressed message ended: flush the decompressor (its output counts against
    /// `limit` too).
    pub(crate) fn end_message(&mut self, limit: usize) -> Result<(), ProtocolError> {
        let before = self.inflated.len();
        self.codec
            .finish_message(&mut self.inflated, limit.saturating_sub(self.inflated_size))
            .map_err(|e| protocol_error(e, limit))?;
        self.inflated_size += self.inflated.len() - before;
        Ok(())
    }

    /// The inflated bytes not yet handed out.
    pub(crate) fn inflated(&self) -> &[u8] {
        &self.inflated
    }

    /// Hand out all the inflated bytes of a whole message, and start the next message.
    pub(crate) fn take_message(&mut self) -> Bytes {
        self.inflated_size = 0;
        Bytes::from(core::mem::take(&mut self.inflated))
    }

    /// Hand out the first `n` inflated bytes (streaming mode); `last` starts the next message.
    pub(crate) fn take_chunk(&mut self, n: usize, last: bool) -> Bytes {
        let data = Bytes::copy_from_slice(&self.inflated[..n]);
        self.inflated.drain(..n);
        if last {
            self.inflated_size = 0;
        }
        data
    }

    /// Drop the message being received (the connection is ending).
    pub(crate) fn discard_message(&mut self) {
        self.inflated = Vec::new();
        self.inflated_size = 0;
    }

    // ---- sending ----

    /// Whether a whole message of `len` bytes goes out compressed.
    pub(crate) fn should_compress(&self, len: usize) -> bool {
        self.codec.should_compress(len)
    }

    /// Whether a message sent in pieces goes out compressed.
    pub(crate) fn should_compress_stream(&self) -> bool {
        self.codec.should_compress_stream()
    }

    /// Compress `data` (a whole message, or with `last: false` one piece of a message,
    /// sync-flushed so the peer can inflate it at once); the compressed bytes are lent to
    /// `write` (while they are still in cache), whose result is returned.
    pub(crate) fn compress<T>(
        &mut self,
        data: &[u8],
        last: bool,
        write: impl FnOnce(&[u8]) -> T,
    ) -> Result<T, DeflateError> {
        self.scratch.clear();
        self.codec.compress_part(data, &mut self.scratch, last)?;
        Ok(write(&self.scratch))
    }
}

/// The most a payload of `len` bytes can take once compressed and sync-flushed. zlib's
/// conservative bound for any window and memLevel (small ones make many small stored blocks,
/// or fixed-Huffman blocks when a stored block cannot be used): about 13% more, plus room for
/// block headers and the flush marker.
pub(crate) fn deflate_bound(len: usize) -> usize {
    len + (len >> 3) + (len >> 8) + (len >> 9) + 64
}

/// The protocol error for a failed decompression.
fn protocol_error(e: DeflateError, limit: usize) -> ProtocolError {
    match e {
        DeflateError::MessageTooBig { .. } => ProtocolError::MessageTooLarge { limit },
        e if e.close_code() == 1011 => ProtocolError::DecompressionFailed,
        _ => ProtocolError::InvalidCompressedData,
    }
}

#[cfg(test)]
mod tests {
    /// `deflate_bound` holds for incompressible data under the settings that grow it most.
    #[test]
    fn deflate_bound_covers_incompressible_data_at_every_setting() {
        use crate::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
        use crate::Role;
        use alloc::vec::Vec;
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for level in [0, 1, 6, 9] {
            for mem_level in [1, 2, 8, 9] {
                for window in [9, 15] {
                    let config = DeflateConfig {
                        level,
                        mem_level,
                        max_window_bits: window,
                        ..DeflateConfig::default()
                    };
                    let params = DeflateParams::default();
                    let mut codec = PerMessageDeflate::new(&params, Role::Server, &config);
                    for len in [0, 1, 100, 1000, 5000, 70_000, 300_000] {
                        for fin in [false, true] {
                            let mut out = Vec::new();
                            codec.compress_part(&noise[..len], &mut out, fin).unwrap();
                            assert!(
                                out.len() <= super::deflate_bound(len),
                                "{len} bytes -> {} at level {level} memLevel {mem_level} \
                                 window {window}",
                                out.len()
                            );
                        }
                    }
                }
            }
        }
    }
}
