//! What the application wants ([`DeflateConfig`], with extra client offers as
//! [`DeflateOffer`]) and what the two ends agreed ([`DeflateParams`]).
//!
//! Naming: fields without a prefix are about what *we* send (our compressor); `peer_*` fields
//! are about what the peer sends (our decompressor). Negotiation maps them onto RFC 7692's
//! `client_*`/`server_*` parameters according to the role.

use alloc::vec::Vec;

use crate::Role;

/// Smallest LZ77 window (in bits) a permessage-deflate compressor can honour here.
pub const MIN_WINDOW_BITS: u8 = 9;
/// Largest LZ77 window (in bits), and the default.
pub const MAX_WINDOW_BITS: u8 = 15;

/// The application's permessage-deflate settings, for both roles, passed straight through by a
/// runtime.
///
/// | field | client | server |
/// |---|---|---|
/// | `max_window_bits` | offered as `client_max_window_bits` | answered as `server_max_window_bits` when < 15 or asked |
/// | `peer_max_window_bits` | offered as `server_max_window_bits` when < 15 | answered as `client_max_window_bits`; an offer without it is declined when < 15 |
/// | `no_context_takeover` | offered as `client_no_context_takeover` | answered as `server_no_context_takeover` |
/// | `peer_no_context_takeover` | offered as `server_no_context_takeover` (required) | answered as `client_no_context_takeover` |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Compression level, 0 (stored blocks only) to 9 (best ratio). Default 6 (zlib's).
    pub level: u8,
    /// Messages shorter than this many bytes are sent uncompressed (RSV1 clear), as RFC 7692
    /// allows per message. A message streamed in several pieces (`Connection::send_stream`) has no known
    /// size and is compressed unless this is `usize::MAX` (never compress). Default
    /// [`DeflateConfig::DEFAULT_THRESHOLD`].
    pub threshold: usize,
    /// The largest LZ77 window our compressor uses, in bits, 9 to 15. Default 15.
    pub max_window_bits: u8,
    /// The largest window we let the peer compress with, in bits, 9 to 15. Default 15.
    /// It does not change our decompressor's memory with the default backend (which always
    /// allocates 32 KiB), but it is what the peer's compressor will use.
    pub peer_max_window_bits: u8,
    /// We reset our compressor after every message (no context takeover). Less memory when
    /// combined with [`release_idle_state`](Self::release_idle_state), a worse ratio on
    /// repetitive message streams. Default false.
    pub no_context_takeover: bool,
    /// We ask the peer to reset its compressor after every message. Default false.
    pub peer_no_context_takeover: bool,
    /// zlib's `memLevel`, 1 to 9, sizing our compressor's match-finder buffers
    /// (`7·2^(mem_level+6)` bytes). Default 8.
    pub mem_level: u8,
    /// When a direction has no context takeover, free its compressor or decompressor between
    /// messages (it is rebuilt, at the cost of an allocation, when the next message starts), so
    /// an idle connection holds no DEFLATE memory for that direction. Default false.
    pub release_idle_state: bool,
    /// Client only: further offers, sent after the one the fields above describe, in order of
    /// preference (for example a plain offer to fall back on if the server declines the
    /// constrained one). Default empty.
    pub extra_offers: Vec<DeflateOffer>,
}

impl DeflateConfig {
    /// Default [`threshold`](Self::threshold): 64 bytes.
    pub const DEFAULT_THRESHOLD: usize = 64;
    /// Default [`level`](Self::level): 6.
    pub const DEFAULT_LEVEL: u8 = 6;
    /// Default [`mem_level`](Self::mem_level): 8.
    pub const DEFAULT_MEM_LEVEL: u8 = 8;

    /// The offer the scalar fields describe: what a client sends first.
    pub fn primary_offer(&self) -> DeflateOffer {
        DeflateOffer {
            server_no_context_takeover: self.peer_no_context_takeover,
            client_no_context_takeover: self.no_context_takeover,
            server_max_window_bits: (clamp_bits(self.peer_max_window_bits) < MAX_WINDOW_BITS)
                .then(|| clamp_bits(self.peer_max_window_bits)),
            client_max_window_bits: Some(clamp_bits(self.max_window_bits)),
        }
    }

    /// Every offer a client sends, in order: the primary one then
    /// [`extra_offers`](Self::extra_offers).
    pub fn offers(&self) -> Vec<DeflateOffer> {
        let mut v = Vec::with_capacity(1 + self.extra_offers.len());
        v.push(self.primary_offer());
        v.extend(self.extra_offers.iter().copied());
        v
    }
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            level: Self::DEFAULT_LEVEL,
            threshold: Self::DEFAULT_THRESHOLD,
            max_window_bits: MAX_WINDOW_BITS,
            peer_max_window_bits: MAX_WINDOW_BITS,
            no_context_takeover: false,
            peer_no_context_takeover: false,
            mem_level: Self::DEFAULT_MEM_LEVEL,
            release_idle_state: false,
            extra_offers: Vec::new(),
        }
    }
}

/// One parameter set a client offers (one `permessage-deflate` element of its
/// `Sec-WebSocket-Extensions` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeflateOffer {
    /// Ask the server not to keep its context between messages (the server must agree or
    /// decline the offer).
    pub server_no_context_takeover: bool,
    /// Tell the server we will not keep our context between messages.
    pub client_no_context_takeover: bool,
    /// Ask the server to use at most this window (8 to 15); `None` leaves it to the server.
    pub server_max_window_bits: Option<u8>,
    /// Say we can limit our window, to at most this (8 to 15); 15 is sent without a value.
    /// `None` omits the parameter, and the server then cannot limit our window.
    pub client_max_window_bits: Option<u8>,
}

/// permessage-deflate as one connection uses it: what the handshake agreed, and our own
/// settings (set it as [`Config::deflate`](crate::Config::deflate)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// What both ends agreed.
    pub params: DeflateParams,
    /// Our compression settings (level, threshold, memory).
    pub config: DeflateConfig,
}

/// The parameters both ends agreed on for one connection (RFC 7692 section 7.1).
///
/// Window bits are 8 to 15; 15 when the parameter was absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
    /// The largest LZ77 window the server compresses with.
    pub server_max_window_bits: u8,
    /// The largest LZ77 window the client compresses with.
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// A bare `permessage-deflate`: context takeover both ways, 15-bit windows.
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

impl DeflateParams {
    /// (window bits, no context takeover) of what `role` sends.
    pub fn outgoing(&self, role: Role) -> (u8, bool) {
        match role {
            Role::Client => (self.client_max_window_bits, self.client_no_context_takeover),
            Role::Server => (self.server_max_window_bits, self.server_no_context_takeover),
        }
    }

    /// (window bits, no context takeover) of what `role` receives.
    pub fn incoming(&self, role: Role) -> (u8, bool) {
        match role {
            Role::Client => (self.server_max_window_bits, self.server_no_context_takeover),
            Role::Server => (self.client_max_window_bits, self.client_no_context_takeover),
        }
    }
}

pub(crate) fn clamp_bits(bits: u8) -> u8 {
    bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)
}
