//! Cross-crate integration, interop and conformance tests live in this crate.
//!
//! The library part is [`conformance`]: a native WebSocket conformance suite (the reference
//! Autobahn testsuite's sections 1-7, 9, 10, 12 and 13) that runs against any server or
//! client, used by this crate's tests and by the `ws-conformance` binary. The repository's
//! READMEs are included as doctests (`readmes`, under `cargo test --doc` only).
//!
//! ```
//! use tests::conformance::{CaseFilter, Outcome};
//!
//! // The "fail fast" UTF-8 cases, and what they expect.
//! let cases = CaseFilter::parse("6.4").select();
//! assert_eq!(cases.len(), 4);
//! assert!(cases[2].expectation.contains("fail fast"));
//! // NON-STRICT fails the strict profile only.
//! assert!(Outcome::NonStrict.is_failure(true) && !Outcome::NonStrict.is_failure(false));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod conformance;

/// The repository's Markdown files, included so that `cargo test --doc -p tests` compiles and
/// runs every Rust code block in them (the examples of the top-level README and the crate
/// READMEs): an example that stops compiling or asserting the truth fails the tests.
#[cfg(doctest)]
pub mod readmes {
    #[doc = include_str!("../../README.md")]
    pub struct Workspace;
    #[doc = include_str!("../../BENCHMARKS.md")]
    pub struct Benchmarks;
    #[doc = include_str!("../../ws-proto/README.md")]
    pub struct WsProto;
    #[doc = include_str!("../../sse-proto/README.md")]
    pub struct SseProto;
    #[doc = include_str!("../../longpoll-proto/README.md")]
    pub struct LongpollProto;
    #[doc = include_str!("../../rt-tokio/README.md")]
    pub struct RtTokio;
    #[doc = include_str!("../README.md")]
    pub struct Tests;
    #[doc = include_str!("../../fuzz/README.md")]
    pub struct Fuzz;
}
