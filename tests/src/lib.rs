//! Cross-crate integration, interop and conformance tests live in this crate.
//!
//! The library part is [`conformance`]: a native WebSocket conformance suite (the reference
//! Autobahn testsuite's sections 1-7, 9 and 10) that runs against any server or client,
//! used by this crate's tests and by the `ws-conformance` binary.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod conformance;
