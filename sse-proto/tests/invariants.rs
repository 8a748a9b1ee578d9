//! Invariants under random operation sequences: the client machine never panics, follows the
//! EventSource lifecycle whatever the driver does, and keeps every wait within its bounds;
//! the replay buffer replays exactly what followed an id, or says it cannot.

use core::time::Duration;

use proptest::prelude::*;
use sse_proto::{
    Client, ClientConfig, ClientEvent, Event, Instant, ReadyState, Replay, ReplayBuffer,
    ReplayConfig, SplitMix64,
};

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Head(u16, bool),
    Input(Vec<u8>),
    Eof,
    NetworkError,
    Timeout,
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    let body = prop::sample::select(vec![
        &b"data: x\n\n"[..],
        b"id: 1\n",
        b"retry: 10\n",
        b"retry: 999999999\n",
        b"data: y",
        b"\n",
        b": keep\n",
        b"data: 0123456789abcdefghij\n",
    ]);
    prop_oneof![
        (0u64..120_000).prop_map(Op::Advance),
        (
            prop::sample::select(vec![200u16, 204, 301, 307, 500]),
            any::<bool>()
        )
            .prop_map(|(s, ct)| Op::Head(s, ct)),
        prop::collection::vec(body, 1..4).prop_map(|b| Op::Input(b.concat())),
        Just(Op::Eof),
        Just(Op::NetworkError),
        Just(Op::Timeout),
        Just(Op::Close),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn client_lifecycle_holds_under_any_driver(ops in prop::collection::vec(op(), 0..60), seed in any::<u64>(), idle in any::<bool>(), reconnect_after_end in any::<bool>()) {
        let config = ClientConfig {
            parser: sse_proto::ParserConfig::default().with_max_line_length(20),
            min_reconnection_time: Duration::from_millis(100),
            max_reconnection_time: Duration::from_secs(10),
            max_backoff: Duration::from_secs(40),
            jitter_percent: 50,
            idle_timeout: idle.then_some(Duration::from_secs(30)),
            reconnect_after_end,
            max_redirects: 3,
            ..ClientConfig::DEFAULT
        };
        let mut now = Instant::ZERO;
        let mut client = Client::new(now, config, SplitMix64::new(seed));
        // What the driver knows: is a request in flight, is the stream open, is it over.
        prop_assert_eq!(client.poll_event(), Some(ClientEvent::Connect));
        let mut requesting = true;
        let mut open = false;
        let mut over = false;
        for op in ops {
            match op {
                Op::Advance(ms) => now += Duration::from_millis(ms),
                Op::Head(status, ct) => {
                    let r = client.handle_response_head(now, status, ct.then_some("text/event-stream"), Some("/next"));
                    prop_assert_eq!(r.is_ok(), requesting);
                }
                Op::Input(bytes) => prop_assert_eq!(client.handle_input(now, &bytes).is_ok(), open),
                Op::Eof => client.handle_eof(now),
                Op::NetworkError => client.handle_network_error(now),
                Op::Timeout => client.handle_timeout(now),
                Op::Close => {
                    client.close(now);
                    requesting = false;
                    open = false;
                    over = true;
                }
            }
            while let Some(event) = client.poll_event() {
                prop_assert!(!over, "{:?} after the end", event);
                match event {
                    ClientEvent::Connect => {
                        prop_assert!(!requesting && !open, "Connect while connected");
                        requesting = true;
                    }
                    ClientEvent::Redirect { .. } => prop_assert!(requesting),
                    ClientEvent::Open => {
                        prop_assert!(requesting);
                        requesting = false;
                        open = true;
                    }
                    ClientEvent::Message(_) | ClientEvent::ParseError(_) => prop_assert!(open),
                    ClientEvent::Disconnect => prop_assert!(requesting || open),
                    ClientEvent::Reconnecting { at, .. } => {
                        prop_assert!(requesting || open);
                        requesting = false;
                        open = false;
                        let wait = at.saturating_duration_since(now);
                        prop_assert!(wait >= Duration::from_millis(100), "{:?}", wait);
                        prop_assert!(wait <= Duration::from_secs(60), "{:?}", wait);
                        prop_assert_eq!(client.poll_timeout(), Some(at));
                    }
                    ClientEvent::Failed(_) => {
                        prop_assert!(requesting);
                        over = true;
                        requesting = false;
                    }
                    ClientEvent::Ended => {
                        prop_assert!(open && !reconnect_after_end);
                        over = true;
                        open = false;
                    }
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
            let want = if over { ReadyState::Closed } else if open { ReadyState::Open } else { ReadyState::Connecting };
            prop_assert_eq!(client.ready_state(), want);
            if over {
                prop_assert_eq!(client.poll_timeout(), None);
            }
            if let Some(deadline) = client.poll_timeout() {
                // A timer is armed only when something is pending, and never in the past by
                // more than the driver's own delay.
                prop_assert!(!over);
                prop_assert!(deadline + Duration::from_secs(200_000) >= now);
            }
        }
    }

    #[test]
    fn replay_buffer_replays_exactly_what_followed(n in 1usize..60, max_events in 1usize..20, max_bytes in 16usize..400, ask in 0usize..70) {
        let mut buffer = ReplayBuffer::new(ReplayConfig { max_events, max_bytes });
        let mut sent: Vec<Vec<u8>> = Vec::new();
        for i in 0..n {
            let id = i.to_string();
            let data = "x".repeat(i % 7);
            let e = Event::new().id(&id).unwrap().data(&data);
            match buffer.push(&e) {
                Ok(bytes) => sent.push(bytes.to_vec()),
                Err(_) => prop_assert!(e.encoded_len() > max_bytes),
            }
            prop_assert!(buffer.len() <= max_events && buffer.bytes() <= max_bytes);
        }
        let ask_id = ask.to_string();
        let index = sent.iter().position(|b| b.starts_with(format!("id: {ask_id}\n").as_bytes()));
        match (buffer.replay_since(&ask_id), index) {
            (Replay::Events(events), Some(i)) => {
                let got: Vec<&[u8]> = events.collect();
                let want: Vec<&[u8]> = sent[i + 1..].iter().map(|v| v.as_slice()).collect();
                prop_assert_eq!(got, want, "everything after the id, in order");
                // And the id itself is still held.
                prop_assert!(sent.len() - i <= buffer.len());
            }
            (Replay::Missed, Some(i)) => prop_assert!(sent.len() - i > buffer.len(), "evicted"),
            (Replay::Missed, None) => {}
            (other, index) => prop_assert!(false, "{:?} for index {:?}", other, index),
        }
    }
}
