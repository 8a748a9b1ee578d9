//! The three protocol crates stay independent of each other, so each defines its own
//! `Instant`; this keeps the three definitions one and the same, API and behaviour.

#[test]
fn the_three_instant_types_are_defined_by_the_same_source() {
    let ws = include_str!("../../ws-proto/src/time.rs");
    let sse = include_str!("../../sse-proto/src/time.rs");
    let longpoll = include_str!("../../longpoll-proto/src/time.rs");
    assert_eq!(
        ws, sse,
        "ws-proto/src/time.rs and sse-proto/src/time.rs differ"
    );
    assert_eq!(
        ws, longpoll,
        "ws-proto/src/time.rs and longpoll-proto/src/time.rs differ"
    );
}

#[test]
fn the_three_instant_types_behave_alike() {
    use core::time::Duration;
    let d = Duration::from_millis(1_500);
    let ws = ws_proto::Instant::from_secs(1) + d;
    let sse = sse_proto::Instant::from_secs(1) + d;
    let longpoll = longpoll_proto::Instant::from_secs(1) + d;
    assert_eq!(ws.as_micros(), 2_500_000);
    assert_eq!(sse.as_micros(), ws.as_micros());
    assert_eq!(longpoll.as_micros(), ws.as_micros());
    assert_eq!(ws_proto::Instant::MAX.as_micros(), u64::MAX);
    assert_eq!(
        sse_proto::Instant::MAX.saturating_duration_since(sse_proto::Instant::ZERO),
        Duration::from_micros(u64::MAX)
    );
    assert_eq!(
        (longpoll_proto::Instant::ZERO - d),
        longpoll_proto::Instant::ZERO
    );
}
