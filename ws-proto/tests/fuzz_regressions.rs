//! Regression tests for inputs found by the cargo-fuzz targets in `fuzz/` (see
//! `fuzz/README.md`). Each names the target that found it.

use ws_proto::frame::{FrameError, FrameHeader, Status};
use ws_proto::{Config, Connection, Instant, ProtocolError};

/// Control frames (ping, close) whose length uses an extended length field: too long
/// whatever the field holds, even when it is not minimal or has its top bit set.
const EXTENDED_LENGTH_CONTROL_FRAMES: &[&[u8]] = &[
    // Ping, 64-bit length with the top bit set (found by `ws_server_connection`: whole it
    // failed with LengthTopBitSet, split after 2 bytes with ControlFrameTooLong(127)).
    &[0x89, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
    // Ping, 16-bit length 16 (not minimal): NonMinimalLength vs ControlFrameTooLong(126).
    &[0x89, 0xFE, 0x00, 0x10, 1, 2, 3, 4],
    // Ping, 16-bit length 300: ControlFrameTooLong(300) vs ControlFrameTooLong(126).
    &[0x89, 0xFE, 0x01, 0x2C, 1, 2, 3, 4],
    // Close, 64-bit length 70 000: ControlFrameTooLong(70000) vs ControlFrameTooLong(127).
    &[0x88, 0xFF, 0, 0, 0, 0, 0, 1, 0x11, 0x70, 1, 2, 3, 4],
];

#[test]
fn control_frame_length_error_does_not_depend_on_chunking() {
    for bytes in EXTENDED_LENGTH_CONTROL_FRAMES {
        let whole = FrameHeader::decode(bytes);
        assert!(
            matches!(whole, Err(FrameError::ControlFrameTooLong(_))),
            "{bytes:02x?}: {whole:?}"
        );
        for cut in 0..bytes.len() {
            let prefix = FrameHeader::decode(&bytes[..cut]);
            assert!(
                prefix == Ok(Status::Partial) || prefix == whole,
                "{bytes:02x?}: prefix of {cut} bytes gives {prefix:?}, whole gives {whole:?}"
            );
        }
    }
}

#[test]
fn connection_reports_the_same_control_frame_error_however_split() {
    for bytes in EXTENDED_LENGTH_CONTROL_FRAMES {
        let whole = Connection::server(Instant::ZERO, Config::default())
            .handle_input(Instant::ZERO, bytes)
            .unwrap_err();
        assert!(
            matches!(
                whole,
                ProtocolError::Frame(FrameError::ControlFrameTooLong(_))
            ),
            "{whole:?}"
        );
        for cut in 1..bytes.len() {
            let mut conn = Connection::server(Instant::ZERO, Config::default());
            let split = conn
                .handle_input(Instant::ZERO, &bytes[..cut])
                .and_then(|()| conn.handle_input(Instant::ZERO, &bytes[cut..]))
                .unwrap_err();
            assert_eq!(split, whole, "{bytes:02x?} split at {cut}");
        }
    }
}
