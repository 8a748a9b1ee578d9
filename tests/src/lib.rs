//! Cross-crate integration, interop and conformance tests live in this crate.
