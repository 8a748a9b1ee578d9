//! `FrameHeader::decode` on arbitrary bytes: never panics; when it succeeds, the header
//! re-encodes to exactly the bytes it was decoded from (decode only accepts minimal length
//! encodings) and decoding those gives the same header; every prefix shorter than the header
//! is `Partial` or the same error a control-frame rule gives early.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::frame::{FrameHeader, Status, MAX_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(status) = FrameHeader::decode(data) else {
        return;
    };
    let Status::Complete((header, len)) = status else {
        // Partial only when the input is shorter than the longest header.
        assert!(
            data.len() < MAX_HEADER_LEN,
            "Partial on {} bytes",
            data.len()
        );
        return;
    };
    assert!((2..=MAX_HEADER_LEN).contains(&len) && len <= data.len());
    assert_eq!(header.encoded_len(), len, "{header:?}");

    // decode -> encode -> decode is the identity, byte for byte.
    let mut buf = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut buf).expect("MAX_HEADER_LEN suffices");
    assert_eq!(n, len);
    assert_eq!(&buf[..n], &data[..len], "{header:?} re-encodes differently");
    assert_eq!(
        FrameHeader::decode(&buf[..n]),
        Ok(Status::Complete((header, n)))
    );
    let mut v = Vec::new();
    header.write(&mut v);
    assert_eq!(&v[..], &buf[..n]);

    // A too-small buffer is refused with the size it needs, writing nothing.
    let mut small = [0xAAu8; MAX_HEADER_LEN];
    let err = header.encode(&mut small[..n - 1]).unwrap_err();
    assert_eq!(err.required, n);
    assert!(small.iter().all(|&b| b == 0xAA));

    // Every strict prefix is Partial (a header is only complete with all its bytes).
    for cut in 0..len {
        assert_eq!(
            FrameHeader::decode(&data[..cut]),
            Ok(Status::Partial),
            "prefix of {cut} bytes of a valid {len}-byte header"
        );
    }
});
