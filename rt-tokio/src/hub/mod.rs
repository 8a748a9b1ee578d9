//! The publish/subscribe hub behind all three transports.
