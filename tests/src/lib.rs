//! Cross-crate integration, interop and conformance tests live in this crate.
//!
//! The library part is [`conformance`]: a native WebSocket conformance suite (the reference
//! Autobahn testsuite's sections 1-7, 9 and 10) that runs against any server or client,
//! used by this crate's tests and by the `ws-conformance` binary.
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
