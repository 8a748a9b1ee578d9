//! Work in progress: see the issue tracker.
#![cfg_attr(not(feature = "std"), no_std)]
