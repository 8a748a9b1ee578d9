//! The EventSource client machine against a simulated server on virtual time: no sockets, no
//! sleeps. The server side uses the crate's own helpers (response head, replay buffer,
//! keep-alive), so a whole resume conversation is checked end to end.

use core::time::Duration;

use sse_proto::{
    Client, ClientConfig, ClientEvent, DisconnectReason, Event, Instant, KeepAlive, MessageEvent,
    ParseError, ParserConfig, ReadyState, Replay, ReplayBuffer, ReplayConfig, ResponseError,
    SplitMix64, UsageError, RESPONSE_HEADERS,
};

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn drain(client: &mut Client<SplitMix64>) -> Vec<ClientEvent> {
    core::iter::from_fn(|| client.poll_event()).collect()
}

fn msg(data: &str, id: &str) -> ClientEvent {
    ClientEvent::Message(MessageEvent {
        event_type: "message".into(),
        data: data.into(),
        last_event_id: id.into(),
    })
}

fn headers(client: &Client<SplitMix64>) -> Vec<(String, String)> {
    client
        .request_headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A server stream: one replay buffer, any number of successive connections.
struct Server {
    buffer: ReplayBuffer,
    next_id: u64,
}

impl Server {
    fn publish(&mut self, data: &str) -> Vec<u8> {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.buffer
            .push(&Event::new().id(&id).unwrap().data(data))
            .unwrap()
            .to_vec()
    }

    /// Answers a request: the body to send first (retry, replay or reset).
    fn accept(&self, request: &[(String, String)]) -> Vec<u8> {
        let mut body = Vec::new();
        Event::new()
            .retry(Duration::from_millis(1000))
            .write_to(&mut body);
        let last = request
            .iter()
            .find(|(k, _)| k == "Last-Event-ID")
            .map(|(_, v)| v.as_str());
        match self.buffer.replay_since(last.unwrap_or("")) {
            Replay::Fresh => {}
            Replay::Events(events) => body.extend(events.concat()),
            Replay::Missed => {
                Event::new()
                    .event_type("reset")
                    .unwrap()
                    .data("missed")
                    .write_to(&mut body);
            }
        }
        body
    }
}

#[test]
fn server_drop_then_resume_from_replay_buffer_then_too_old_id() {
    let config = ReplayConfig {
        max_events: 3,
        ..ReplayConfig::DEFAULT
    };
    let mut server = Server {
        buffer: ReplayBuffer::new(config),
        next_id: 0,
    };
    let mut client = Client::new(t(0), ClientConfig::default(), SplitMix64::new(1));

    // First connection: no Last-Event-ID.
    assert_eq!(drain(&mut client), [ClientEvent::Connect]);
    assert_eq!(client.ready_state(), ReadyState::Connecting);
    let request = headers(&client);
    assert_eq!(
        request,
        [
            ("Accept".into(), "text/event-stream".into()),
            ("Cache-Control".into(), "no-store".into())
        ]
    );
    let ct = RESPONSE_HEADERS
        .iter()
        .find(|(k, _)| *k == "Content-Type")
        .unwrap()
        .1;
    client
        .handle_response_head(t(10), 200, Some(ct), None)
        .unwrap();
    let body = server.accept(&request);
    client.handle_input(t(10), &body).unwrap();
    let mut live = Vec::new();
    for data in ["a", "b"] {
        live.extend(server.publish(data));
    }
    // Delivered in awkward chunks.
    for chunk in live.chunks(3) {
        client.handle_input(t(20), chunk).unwrap();
    }
    assert_eq!(
        drain(&mut client),
        [ClientEvent::Open, msg("a", "1"), msg("b", "2")]
    );
    assert_eq!(client.reconnection_time(), Duration::from_millis(1000));
    assert_eq!(client.ready_state(), ReadyState::Open);

    // The server drops the connection at 30 s; it goes on publishing meanwhile.
    client.handle_network_error(t(30_000));
    assert_eq!(
        drain(&mut client),
        [ClientEvent::Reconnecting {
            at: t(31_000),
            reason: DisconnectReason::NetworkError
        }]
    );
    assert_eq!(client.ready_state(), ReadyState::Connecting);
    assert_eq!(client.poll_timeout(), Some(t(31_000)));
    server.publish("c");
    server.publish("d");
    assert_eq!(
        client.handle_input(t(30_500), b"data: late\n\n"),
        Err(UsageError::NotOpen)
    );
    client.handle_timeout(t(30_999)); // early: no-op
    assert_eq!(drain(&mut client), []);
    client.handle_timeout(t(31_000));
    assert_eq!(drain(&mut client), [ClientEvent::Connect]);

    // Reconnection carries Last-Event-ID: 2; the server replays 3 and 4 from its buffer.
    let request = headers(&client);
    assert!(request.contains(&("Last-Event-ID".into(), "2".into())));
    client
        .handle_response_head(
            t(31_050),
            200,
            Some("text/event-stream; charset=utf-8"),
            None,
        )
        .unwrap();
    client
        .handle_input(t(31_050), &server.accept(&request))
        .unwrap();
    assert_eq!(
        drain(&mut client),
        [ClientEvent::Open, msg("c", "3"), msg("d", "4")]
    );

    // A client that was away too long: id 1 fell out of the 3-event buffer (2, 3, 4 remain).
    let mut stale =
        Client::with_last_event_id(t(40_000), ClientConfig::default(), SplitMix64::new(2), "1");
    assert_eq!(drain(&mut stale), [ClientEvent::Connect]);
    let request = headers(&stale);
    assert!(request.contains(&("Last-Event-ID".into(), "1".into())));
    assert!(matches!(server.buffer.replay_since("1"), Replay::Missed));
    assert!(matches!(
        server.buffer.replay_since("never-issued"),
        Replay::Missed
    ));
    stale
        .handle_response_head(t(40_010), 200, Some("text/event-stream"), None)
        .unwrap();
    stale
        .handle_input(t(40_010), &server.accept(&request))
        .unwrap();
    assert_eq!(
        drain(&mut stale),
        [
            ClientEvent::Open,
            ClientEvent::Message(MessageEvent {
                event_type: "reset".into(),
                data: "missed".into(),
                last_event_id: "1".into()
            })
        ]
    );
    // The latest id replays nothing, and nothing is replayed twice.
    assert!(matches!(server.buffer.replay_since("4"), Replay::Events(e) if e.len() == 0));
}

#[test]
fn clean_end_reconnects_or_closes() {
    let mut client = Client::new(t(0), ClientConfig::default(), SplitMix64::new(1));
    drain(&mut client);
    client
        .handle_response_head(t(0), 200, Some("text/event-stream"), None)
        .unwrap();
    client
        .handle_input(t(0), b"id: 9\ndata: x\n\nid: 10\ndata: unfinished")
        .unwrap();
    client.handle_eof(t(100));
    let events = drain(&mut client);
    assert_eq!(
        events[2],
        ClientEvent::Reconnecting {
            at: t(3_100),
            reason: DisconnectReason::EndOfStream
        }
    );
    assert_eq!(
        client.last_event_id(),
        "9",
        "the unfinished event is discarded"
    );

    let config = ClientConfig {
        reconnect_after_end: false,
        ..ClientConfig::DEFAULT
    };
    let mut finite = Client::new(t(0), config, SplitMix64::new(1));
    drain(&mut finite);
    finite
        .handle_response_head(t(0), 200, Some("text/event-stream"), None)
        .unwrap();
    finite.handle_eof(t(100));
    assert_eq!(drain(&mut finite), [ClientEvent::Open, ClientEvent::Ended]);
    assert_eq!(finite.ready_state(), ReadyState::Closed);
    assert_eq!(finite.poll_timeout(), None);
}

#[test]
fn response_validation_fails_for_good() {
    let cases: &[(u16, Option<&str>, Option<ResponseError>)] = &[
        (200, Some("text/event-stream"), None),
        (200, Some("Text/Event-Stream ; charset=utf-8"), None),
        (200, Some(" text/event-stream\t"), None),
        (
            204,
            Some("text/event-stream"),
            Some(ResponseError::Status(204)),
        ),
        (
            500,
            Some("text/event-stream"),
            Some(ResponseError::Status(500)),
        ),
        (404, None, Some(ResponseError::Status(404))),
        (200, None, Some(ResponseError::ContentType)),
        (200, Some("text/plain"), Some(ResponseError::ContentType)),
        (
            200,
            Some("text/event-streams"),
            Some(ResponseError::ContentType),
        ),
        (
            200,
            Some("text/event-stream2;x=y"),
            Some(ResponseError::ContentType),
        ),
    ];
    for (status, ct, want) in cases {
        let mut client = Client::new(t(0), ClientConfig::default(), SplitMix64::new(1));
        drain(&mut client);
        client
            .handle_response_head(t(1), *status, *ct, None)
            .unwrap();
        let events = drain(&mut client);
        match want {
            None => {
                assert_eq!(events, [ClientEvent::Open], "{status} {ct:?}");
                assert_eq!(client.ready_state(), ReadyState::Open);
            }
            Some(e) => {
                assert_eq!(events, [ClientEvent::Failed(e.clone())], "{status} {ct:?}");
                assert_eq!(client.ready_state(), ReadyState::Closed);
                assert_eq!(client.poll_timeout(), None);
                client.handle_network_error(t(2));
                client.handle_timeout(t(1_000_000));
                assert_eq!(drain(&mut client), [], "no reconnection after failing");
            }
        }
    }
}

#[test]
fn server_errors_reconnect_with_backoff_when_asked() {
    let config = ClientConfig {
        retry_server_errors: true,
        initial_reconnection_time: Duration::from_millis(1000),
        jitter_percent: 0,
        ..ClientConfig::DEFAULT
    };
    let mut client = Client::new(t(0), config, SplitMix64::new(1));
    assert_eq!(drain(&mut client), [ClientEvent::Connect]);
    let mut waits = Vec::new();
    let mut now = t(0);
    for status in [502, 503, 500] {
        client
            .handle_response_head(now, status, Some("text/html"), None)
            .unwrap();
        match drain(&mut client).as_slice() {
            [ClientEvent::Reconnecting { at, reason }] => {
                assert_eq!(*reason, DisconnectReason::ServerError { status });
                waits.push(at.saturating_duration_since(now));
                now = *at;
            }
            other => panic!("{status}: {other:?}"),
        }
        client.handle_timeout(now);
        assert_eq!(drain(&mut client), [ClientEvent::Connect]);
    }
    // The first wait is the reconnection time, then it doubles per consecutive failure.
    assert_eq!(
        waits,
        [
            Duration::from_millis(1000),
            Duration::from_millis(2000),
            Duration::from_millis(4000)
        ]
    );
    // A 4xx still fails for good.
    client.handle_response_head(now, 404, None, None).unwrap();
    assert_eq!(
        drain(&mut client),
        [ClientEvent::Failed(ResponseError::Status(404))]
    );
}

#[test]
fn redirects_are_reported_and_bounded() {
    let config = ClientConfig {
        max_redirects: 2,
        ..ClientConfig::DEFAULT
    };
    let mut client = Client::new(t(0), config, SplitMix64::new(1));
    drain(&mut client);
    client
        .handle_response_head(t(1), 307, None, Some("/a"))
        .unwrap();
    client
        .handle_response_head(t(2), 301, None, Some("/b"))
        .unwrap();
    client
        .handle_response_head(t(3), 302, None, Some("/c"))
        .unwrap();
    assert_eq!(
        drain(&mut client),
        [
            ClientEvent::Redirect {
                location: "/a".into()
            },
            ClientEvent::Redirect {
                location: "/b".into()
            },
            ClientEvent::Failed(ResponseError::TooManyRedirects { limit: 2 }),
        ]
    );
    let mut client = Client::new(t(0), ClientConfig::default(), SplitMix64::new(1));
    drain(&mut client);
    client
        .handle_response_head(t(1), 303, None, Some("/a"))
        .unwrap();
    client
        .handle_response_head(t(2), 200, Some("text/event-stream"), None)
        .unwrap();
    assert_eq!(
        drain(&mut client),
        [
            ClientEvent::Redirect {
                location: "/a".into()
            },
            ClientEvent::Open
        ]
    );
    assert_eq!(
        client.handle_response_head(t(3), 200, Some("text/event-stream"), None),
        Err(UsageError::NoRequestInFlight)
    );
    let mut client = Client::new(t(0), ClientConfig::default(), SplitMix64::new(1));
    drain(&mut client);
    client.handle_response_head(t(1), 302, None, None).unwrap();
    assert_eq!(
        drain(&mut client),
        [ClientEvent::Failed(ResponseError::RedirectWithoutLocation)]
    );
}

/// Fails `n` connection attempts in a row, each right after it starts; returns the delays.
fn fail_repeatedly(client: &mut Client<SplitMix64>, now: &mut Instant, n: usize) -> Vec<Duration> {
    let mut delays = Vec::new();
    for _ in 0..n {
        client.handle_network_error(*now);
        let ev = drain(client);
        let [ClientEvent::Reconnecting { at, .. }] = ev[..] else {
            panic!("{ev:?}")
        };
        delays.push(at.saturating_duration_since(*now));
        client.handle_timeout(at);
        assert_eq!(drain(client), [ClientEvent::Connect]);
        *now = at;
    }
    delays
}

#[test]
fn backoff_with_jitter_grows_is_capped_and_resets_after_a_healthy_period() {
    let config = ClientConfig {
        initial_reconnection_time: Duration::from_secs(1),
        max_backoff: Duration::from_secs(30),
        jitter_percent: 50,
        healthy_period: Duration::from_secs(10),
        ..ClientConfig::DEFAULT
    };
    let mut client = Client::new(t(0), config, SplitMix64::new(42));
    drain(&mut client);
    let mut now = t(0);
    let delays = fail_repeatedly(&mut client, &mut now, 10);
    // First failure: the plain reconnection time. Then doubling, jittered, capped.
    assert_eq!(delays[0], Duration::from_secs(1));
    for (k, d) in delays.iter().enumerate().skip(1) {
        let base = Duration::from_secs(1 << k.min(30)).min(Duration::from_secs(30));
        assert!(
            *d >= base && *d <= base + base / 2,
            "attempt {k}: {d:?} vs {base:?}"
        );
    }
    assert!(
        delays.iter().skip(1).any(|d| d.subsec_millis() != 0),
        "jitter applied: {delays:?}"
    );
    // Same seed, same delays: the randomness is injected.
    let mut again = Client::new(t(0), config, SplitMix64::new(42));
    drain(&mut again);
    assert_eq!(fail_repeatedly(&mut again, &mut t(0), 10), delays);

    // A short-lived open connection does not reset the count...
    client
        .handle_response_head(now, 200, Some("text/event-stream"), None)
        .unwrap();
    client.handle_eof(now + Duration::from_secs(5));
    let ev = drain(&mut client);
    let ClientEvent::Reconnecting { at, .. } = ev[1] else {
        panic!("{ev:?}")
    };
    assert!(at.saturating_duration_since(now + Duration::from_secs(5)) >= Duration::from_secs(30));
    // ...a healthy one does.
    client.handle_timeout(at);
    drain(&mut client);
    client
        .handle_response_head(at, 200, Some("text/event-stream"), None)
        .unwrap();
    client.handle_input(at, b"retry: 2000\n").unwrap();
    let end = at + Duration::from_secs(10);
    client.handle_eof(end);
    let ev = drain(&mut client);
    assert_eq!(
        ev[1],
        ClientEvent::Reconnecting {
            at: end + Duration::from_secs(2),
            reason: DisconnectReason::EndOfStream
        }
    );
}

#[test]
fn retry_is_clamped_to_floor_and_ceiling() {
    let config = ClientConfig {
        min_reconnection_time: Duration::from_millis(500),
        max_reconnection_time: Duration::from_secs(60),
        ..ClientConfig::DEFAULT
    };
    for (retry, want) in [
        ("0", 500),
        ("499", 500),
        ("1500", 1500),
        ("99999999", 60_000),
    ] {
        let mut client = Client::new(t(0), config, SplitMix64::new(1));
        drain(&mut client);
        client
            .handle_response_head(t(0), 200, Some("text/event-stream"), None)
            .unwrap();
        client
            .handle_input(t(0), format!("retry: {retry}\n").as_bytes())
            .unwrap();
        client.handle_eof(t(20_000));
        let ev = drain(&mut client);
        assert_eq!(
            ev[1],
            ClientEvent::Reconnecting {
                at: t(20_000 + want),
                reason: DisconnectReason::EndOfStream
            }
        );
    }
}

#[test]
fn idle_timeout_detects_a_dead_server_and_keep_alives_prevent_it() {
    let config = ClientConfig {
        idle_timeout: Some(Duration::from_secs(45)),
        ..ClientConfig::DEFAULT
    };
    let mut client = Client::new(t(0), config, SplitMix64::new(1));
    drain(&mut client);
    assert_eq!(
        client.poll_timeout(),
        Some(t(45_000)),
        "also bounds the wait for a response head"
    );
    client
        .handle_response_head(t(100), 200, Some("text/event-stream"), None)
        .unwrap();
    drain(&mut client);
    // The server sends a keep-alive comment every 15 s: the client never times out.
    let mut keep_alive = KeepAlive::new(t(100), Duration::from_secs(15));
    let mut now = t(100);
    for _ in 0..20 {
        now = keep_alive.poll_timeout();
        keep_alive.handle_timeout(now);
        let mut wire = Vec::new();
        assert_eq!(keep_alive.poll_transmit(&mut wire), Some(2));
        assert_eq!(keep_alive.poll_transmit(&mut wire), None);
        assert_eq!(wire, b":\n");
        client.handle_timeout(now);
        client.handle_input(now, &wire).unwrap();
    }
    assert_eq!(drain(&mut client), []);
    assert_eq!(client.poll_timeout(), Some(now + Duration::from_secs(45)));
    // Then the server goes silent.
    let deadline = client.poll_timeout().unwrap();
    client.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(drain(&mut client), []);
    client.handle_timeout(deadline);
    assert_eq!(
        drain(&mut client),
        [
            ClientEvent::Disconnect,
            ClientEvent::Reconnecting {
                at: deadline + Duration::from_secs(3),
                reason: DisconnectReason::IdleTimeout
            }
        ]
    );
}

#[test]
fn keep_alive_is_postponed_by_real_events() {
    let mut keep_alive = KeepAlive::new(t(0), Duration::from_secs(15));
    keep_alive.handle_sent(t(10_000));
    keep_alive.handle_timeout(t(15_000));
    assert_eq!(keep_alive.poll_transmit(&mut Vec::new()), None);
    assert_eq!(keep_alive.poll_timeout(), t(25_000));
    assert_eq!(
        RESPONSE_HEADERS[1],
        ("Cache-Control", "no-cache, no-transform")
    );
    assert_eq!(RESPONSE_HEADERS[2], ("X-Accel-Buffering", "no"));
}

#[test]
fn parse_errors_are_reported_and_the_stream_goes_on() {
    let config = ClientConfig {
        parser: ParserConfig::default().with_max_line_length(16),
        ..ClientConfig::DEFAULT
    };
    let mut client = Client::new(t(0), config, SplitMix64::new(1));
    drain(&mut client);
    client
        .handle_response_head(t(0), 200, Some("text/event-stream"), None)
        .unwrap();
    client
        .handle_input(t(0), b"data: 0123456789abcdef\n\ndata: ok\n\n")
        .unwrap();
    assert_eq!(
        drain(&mut client),
        [
            ClientEvent::Open,
            ClientEvent::ParseError(ParseError::LineTooLong { limit: 16 }),
            msg("ok", "")
        ]
    );
    client.close(t(0));
    assert_eq!(client.ready_state(), ReadyState::Closed);
    assert_eq!(
        client.handle_input(t(1), b"data: x\n\n"),
        Err(UsageError::NotOpen)
    );
}

#[test]
fn replay_buffer_bounds_bytes_and_refuses_oversized_events() {
    let mut buffer = ReplayBuffer::new(ReplayConfig {
        max_events: 100,
        max_bytes: 40,
    });
    for i in 0..10 {
        let id = i.to_string();
        buffer
            .push(&Event::new().id(&id).unwrap().data("0123456789"))
            .unwrap();
        assert!(buffer.bytes() <= 40);
    }
    assert_eq!(buffer.len(), 1, "each event is 24 bytes");
    let big = "x".repeat(100);
    assert_eq!(
        buffer.push(&Event::new().data(&big)).unwrap_err(),
        sse_proto::ReplayError::EventTooLarge {
            size: 108,
            limit: 40
        }
    );
    // Events without an id are replayed after the id they follow.
    let mut buffer = ReplayBuffer::new(ReplayConfig::DEFAULT);
    buffer
        .push(&Event::new().id("a").unwrap().data("1"))
        .unwrap();
    buffer.push(&Event::new().data("2")).unwrap();
    buffer
        .push(&Event::new().id("b").unwrap().data("3"))
        .unwrap();
    let Replay::Events(events) = buffer.replay_since("a") else {
        panic!()
    };
    assert_eq!(events.concat(), b"data: 2\n\nid: b\ndata: 3\n\n");
    assert!(matches!(buffer.replay_since(""), Replay::Fresh));
}
