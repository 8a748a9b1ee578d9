//! permessage-deflate (RFC 7692): negotiation, per-message compression and bomb-proof
//! decompression, `no_std` + `alloc`.
//!
//! - Negotiation: [`client_offer`] → [`server_accept`] → [`client_accept`]
//!   turn a [`DeflateConfig`] into the agreed [`DeflateParams`].
//! - [`PerMessageDeflate`]: one per connection, compresses outgoing messages and inflates
//!   incoming ones with the message-size limit applied to the inflated size as it grows.
//! - [`DeflateBackend`]: the pluggable DEFLATE engine; the default is [`ZlibRsBackend`]
//!   (`zlib-rs`, pure Rust), which compresses with every window size 9 to 15.
//!
//! # Memory per connection
//!
//! Each half (compressor, decompressor) is allocated on the first message in its direction;
//! [`PerMessageDeflate::memory_usage`] reports what is held. With `no_context_takeover` for a
//! direction and [`DeflateConfig::release_idle_state`], that direction's state is freed after
//! each message. The inflated output grows geometrically but its capacity never passes the
//! caller's limit plus one byte (the byte that shows "too big"), whatever a bomb would
//! inflate to. (Measured sizes: the crate README.)
//!
//! # Behaviour worth knowing
//!
//! - An agreed window of 8 bits for what we send (allowed by RFC 7692, impossible for
//!   zlib-family compressors) is accepted, and then every message goes uncompressed.
//! - A message cut in the middle of a DEFLATE block is always detected when the sender has no
//!   context takeover (an empty final block fed after the tail must end the stream); with
//!   context takeover only when the tail decodes as data (about 96% of cut positions in
//!   `tests/deflate_codec.rs`), since the stream must go on.
//! - A final block (BFINAL) ends the peer's DEFLATE stream: the next message starts a new
//!   one, and anything but an empty stored block after it in the same message is an error.
//! - `no_std`: the default backend drives zlib-rs through its zlib C API (`libz-rs-sys`,
//!   no allocator feature) with ws-proto's own `zalloc`/`zfree` over `alloc::alloc`, so the
//!   `deflate` feature is `no_std` + `alloc` (proved by `.ci/nostd-check`).
//!
//! # Example
//!
//! ```
//! use ws_proto::deflate::{client_accept, client_offer, server_accept, DeflateConfig, PerMessageDeflate};
//! use ws_proto::handshake::parse_extension_list;
//! use ws_proto::Role;
//!
//! let config = DeflateConfig { max_window_bits: 12, ..DeflateConfig::default() };
//! // Client offers, server picks, client checks the answer.
//! let offer = client_offer(&config);
//! let (server_params, answer) =
//!     server_accept(&parse_extension_list(&offer).unwrap(), &DeflateConfig::default()).unwrap();
//! let client_params =
//!     client_accept(&parse_extension_list(&answer).unwrap(), &config).unwrap().unwrap();
//! assert_eq!(client_params, server_params);
//!
//! let mut client = PerMessageDeflate::new(&client_params, Role::Client, &config);
//! let mut server = PerMessageDeflate::new(&server_params, Role::Server, &DeflateConfig::default());
//! let message = b"hello hello hello hello hello hello hello hello hello hello hello hello";
//! assert!(client.should_compress(message.len()));
//! let mut wire = Vec::new();
//! client.compress(message, &mut wire).unwrap(); // send with RSV1 set
//! assert!(wire.len() < message.len());
//!
//! // The server inflates frame by frame under its 16 MiB message limit, then ends the message.
//! let limit = 16 << 20;
//! let mut text = Vec::new();
//! for frame in wire.chunks(7) {
//!     let room = limit - text.len();
//!     server.decompress(frame, &mut text, room).unwrap();
//! }
//! let room = limit - text.len();
//! server.finish_message(&mut text, room).unwrap();
//! assert_eq!(text, message);
//! ```

mod backend;
mod codec;
mod config;
mod error;
mod negotiation;

pub use backend::{
    Compressor, CompressorSettings, Decompressor, DeflateBackend, Flush, Progress, ZlibRsBackend,
};
pub use codec::{PerMessageDeflate, TAIL};
pub use config::{
    DeflateConfig, DeflateOffer, DeflateParams, Negotiated, MAX_WINDOW_BITS, MIN_WINDOW_BITS,
};
pub use error::{BackendError, DeflateError, NegotiationError};
pub use negotiation::{client_accept, client_offer, server_accept, EXTENSION_NAME};
