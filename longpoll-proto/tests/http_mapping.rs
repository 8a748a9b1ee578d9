//! The HTTP mapping: request parsing tables, every outcome rendered and parsed back, body
//! limits, upstream batches, and a proptest round trip over arbitrary payloads.

use bytes::Bytes;
use core::time::Duration;
use longpoll_proto::http::{self, HttpResponse, ParseLimits};
use longpoll_proto::upstream::{Accepted, UpstreamBatch};
use longpoll_proto::{
    ChannelName, ClientId, Cursor, CursorError, EmptyReason, Epoch, HttpError, Message, NameError,
    Outcome, PollRequest, RejectReason, Seq, UpstreamError,
};
use proptest::prelude::*;

fn parse(query: &str, headers: &[(&str, &str)]) -> Result<PollRequest, HttpError> {
    http::parse_poll_request(query, headers.iter().map(|(n, v)| (*n, v.as_bytes())))
}

fn round_trip(outcome: &Outcome) -> (HttpResponse, Result<Outcome, HttpError>) {
    let r = http::render_response(outcome);
    let parsed = http::parse_poll_response(
        r.status,
        r.headers.iter().map(|(n, v)| (*n, v.as_bytes())),
        &r.body,
        &ParseLimits::default(),
    );
    (r, parsed)
}

fn hs(r: &HttpResponse) -> Vec<(&str, &[u8])> {
    r.headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect()
}

fn header<'a>(r: &'a HttpResponse, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn poll_request_table() {
    let want = |client: &str, channel: &str, cursor: Option<Cursor>, timeout: Option<u64>| {
        Ok(PollRequest {
            client: ClientId::new(client).unwrap(),
            channel: ChannelName::new(channel).unwrap(),
            cursor,
            timeout: timeout.map(Duration::from_millis),
        })
    };
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        Result<PollRequest, HttpError>,
    );
    let cases: Vec<Case> = vec![
        (
            "channel=news&cursor=7:42",
            vec![("Longpoll-Client", "abc")],
            want("abc", "news", Some(Cursor::new(7, 42)), None),
        ),
        (
            "channel=news&client=abc&timeout=5000&_=123",
            vec![],
            want("abc", "news", None, Some(5000)),
        ),
        (
            "channel=user%3A1%2Finbox&cursor=1%3A2&client=abc",
            vec![],
            want("abc", "user:1/inbox", Some(Cursor::new(1, 2)), None),
        ),
        (
            "client=abc&channel=n",
            vec![("LONGPOLL-CLIENT", " abc ")],
            want("abc", "n", None, None),
        ),
        ("channel=n", vec![], Err(HttpError::Missing("client"))),
        ("client=a", vec![], Err(HttpError::Missing("channel"))),
        (
            "channel=n&channel=m&client=a",
            vec![],
            Err(HttpError::Duplicate("channel")),
        ),
        (
            "channel=n&client=a",
            vec![("longpoll-client", "b")],
            Err(HttpError::Duplicate("client")),
        ),
        (
            "channel=n",
            vec![("longpoll-client", "a"), ("Longpoll-Client", "a")],
            Err(HttpError::Duplicate("longpoll-client")),
        ),
        (
            "channel=n&client=a&cursor=7",
            vec![],
            Err(HttpError::Cursor(CursorError::MissingColon)),
        ),
        (
            "channel=n&client=a&timeout=1.5",
            vec![],
            Err(HttpError::BadNumber("timeout")),
        ),
        ("channel=%zz&client=a", vec![], Err(HttpError::BadEscape)),
        ("channel=%ff&client=a", vec![], Err(HttpError::BadEscape)),
        (
            "channel=a+b&client=a",
            vec![],
            Err(HttpError::Name("channel", NameError::InvalidByte { at: 1 })),
        ),
        (
            "channel=n&client=",
            vec![],
            Err(HttpError::Name("client", NameError::Empty)),
        ),
    ];
    for (query, headers, want) in cases {
        assert_eq!(parse(query, &headers), want, "{query:?} {headers:?}");
    }
}

#[test]
fn poll_query_is_parsed_back() {
    let channel = ChannelName::new("a:b/c").unwrap();
    for (cursor, timeout) in [
        (None, None),
        (Some(Cursor::new(3, 9)), None),
        (
            Some(Cursor::new(u64::MAX, 0)),
            Some(Duration::from_secs(20)),
        ),
    ] {
        let q = http::poll_query(&channel, cursor, timeout);
        let r = parse(&q, &[("longpoll-client", "me")]).unwrap();
        assert_eq!(
            (r.channel, r.cursor, r.timeout),
            (channel.clone(), cursor, timeout)
        );
    }
}

#[test]
fn every_outcome_renders_and_parses_back() {
    let messages = vec![
        Message {
            seq: Seq(5),
            data: Bytes::from_static(b"{\"json\":[1,2]}"),
        },
        Message {
            seq: Seq(6),
            data: Bytes::from_static("line\nbreak \u{1F600} \"q\" \\".as_bytes()),
        },
        Message {
            seq: Seq(7),
            data: Bytes::from_static(&[0xff, 0x00, 0x80]),
        },
        Message {
            seq: Seq(8),
            data: Bytes::new(),
        },
    ];
    let cases = [
        (
            Outcome::Batch {
                messages,
                next: Cursor::new(2, 8),
            },
            200,
            None,
        ),
        (
            Outcome::Empty {
                cursor: Cursor::new(2, 8),
                reason: EmptyReason::Timeout,
            },
            204,
            Some("timeout"),
        ),
        (
            Outcome::Empty {
                cursor: Cursor::new(2, 8),
                reason: EmptyReason::Superseded,
            },
            204,
            Some("superseded"),
        ),
        (
            Outcome::Gap {
                missed_from: Seq(3),
                missed_to: Seq(9),
                resume: Cursor::new(2, 9),
            },
            409,
            Some("gap"),
        ),
        (
            Outcome::Reset {
                previous: Epoch(1),
                resume: Cursor::new(2, 0),
            },
            410,
            Some("reset"),
        ),
        (
            Outcome::Rejected {
                reason: RejectReason::CursorAhead,
            },
            400,
            Some("cursor_ahead"),
        ),
        (
            Outcome::Rejected {
                reason: RejectReason::DuplicatePoll,
            },
            429,
            Some("duplicate_poll"),
        ),
        (
            Outcome::Rejected {
                reason: RejectReason::TooManyPollsForClient,
            },
            429,
            Some("too_many_polls_for_client"),
        ),
        (
            Outcome::Rejected {
                reason: RejectReason::TooManyPolls,
            },
            503,
            Some("too_many_polls"),
        ),
        (
            Outcome::Rejected {
                reason: RejectReason::TooManySessions,
            },
            503,
            Some("too_many_sessions"),
        ),
        (
            Outcome::Rejected {
                reason: RejectReason::TooManyChannels,
            },
            503,
            Some("too_many_channels"),
        ),
    ];
    for (outcome, status, reason) in cases {
        let (r, parsed) = round_trip(&outcome);
        assert_eq!(r.status, status, "{outcome:?}");
        assert_eq!(header(&r, "cache-control"), Some("no-store"));
        assert_eq!(header(&r, "longpoll-reason"), reason);
        assert_eq!(parsed.as_ref(), Ok(&outcome));
        if !r.body.is_empty() {
            assert_eq!(header(&r, "content-type"), Some("application/x-ndjson"));
            assert!(r.body.ends_with(b"\n"));
        }
    }
}

#[test]
fn body_shapes_are_exact() {
    let (r, _) = round_trip(&Outcome::Batch {
        messages: vec![
            Message {
                seq: Seq(1),
                data: Bytes::from_static(b"a\"b"),
            },
            Message {
                seq: Seq(2),
                data: Bytes::from_static(&[0xfe]),
            },
        ],
        next: Cursor::new(4, 2),
    });
    assert_eq!(
        r.body,
        b"{\"seq\":1,\"data\":\"a\\\"b\"}\n{\"seq\":2,\"data_b64\":\"/g==\"}\n"
    );
    assert_eq!(header(&r, "longpoll-cursor"), Some("4:2"));
    let (r, _) = round_trip(&Outcome::Gap {
        missed_from: Seq(3),
        missed_to: Seq(9),
        resume: Cursor::new(7, 9),
    });
    assert_eq!(
        r.body,
        b"{\"reason\":\"gap\",\"missed_from\":3,\"missed_to\":9,\"cursor\":\"7:9\"}\n"
    );
    let (r, _) = round_trip(&Outcome::Empty {
        cursor: Cursor::new(1, 1),
        reason: EmptyReason::Timeout,
    });
    assert!(r.body.is_empty());
}

#[test]
fn response_parse_errors() {
    let limits = ParseLimits {
        max_body_bytes: 64,
        max_messages: 2,
    };
    let h = |c: &'static str| vec![("longpoll-cursor", c.as_bytes())];
    type Case<'a> = (u16, Vec<(&'a str, &'a [u8])>, &'a [u8], HttpError);
    let cases: Vec<Case> = vec![
        (200, vec![], b"", HttpError::Missing("longpoll-cursor")),
        (
            200,
            h("1:x"),
            b"",
            HttpError::Cursor(CursorError::NotANumber),
        ),
        (
            200,
            h("1:3"),
            b"{\"seq\":1,\"data\":\"a\"}\n{\"seq\":3,\"data\":\"b\"}\n",
            HttpError::NonConsecutive,
        ),
        (
            200,
            h("1:9"),
            b"{\"seq\":1,\"data\":\"a\"}\n",
            HttpError::NonConsecutive,
        ),
        (
            200,
            h("1:3"),
            b"{\"seq\":1,\"data\":\"a\"}\n{\"seq\":2,\"data\":\"b\"}\n{\"seq\":3,\"data\":\"c\"}\n",
            HttpError::TooManyMessages { max: 2 },
        ),
        (
            200,
            h("1:1"),
            &[b'x'; 65],
            HttpError::BodyTooLarge { max: 64 },
        ),
        (
            200,
            h("1:1"),
            b"{\"seq\":1}\n",
            HttpError::BadBody { line: 0 },
        ),
        (
            200,
            h("1:1"),
            b"{\"seq\":1,\"data\":\"a\",\"data_b64\":\"YQ==\"}\n",
            HttpError::BadBody { line: 0 },
        ),
        (
            200,
            h("1:1"),
            b"{\"seq\":1,\"data_b64\":\"!!\"}\n",
            HttpError::BadBody { line: 0 },
        ),
        (200, h("1:1"), b"not json\n", HttpError::BadBody { line: 0 }),
        (409, h("1:1"), b"{}", HttpError::UnknownReason),
        (
            503,
            vec![("longpoll-reason", b"cursor_ahead")],
            b"",
            HttpError::UnknownReason,
        ),
        (302, vec![], b"", HttpError::UnexpectedStatus(302)),
    ];
    for (status, headers, body, want) in cases {
        let got = http::parse_poll_response(status, headers.clone(), body, &limits);
        assert_eq!(
            got,
            Err(want),
            "{status} {headers:?} {:?}",
            String::from_utf8_lossy(body)
        );
    }
    // Blank lines and CRLF endings are tolerated.
    let ok = http::parse_poll_response(
        200,
        h("1:1"),
        b"\r\n{\"seq\":1,\"data\":\"a\"}\r\n\n",
        &limits,
    );
    assert!(matches!(ok, Ok(Outcome::Batch { ref messages, .. }) if messages.len() == 1));
}

#[test]
fn send_request_client_id_from_query_or_header() {
    let id = |q: &str, h: &[(&'static str, &'static [u8])]| {
        http::parse_send_request(q, h.iter().copied())
    };
    assert_eq!(id("client=a1", &[]).unwrap().as_str(), "a1");
    assert_eq!(
        id("_=123", &[("Longpoll-Client", b"b2")]).unwrap().as_str(),
        "b2"
    );
    assert_eq!(id("", &[]), Err(HttpError::Missing("client")));
    assert_eq!(
        id("client=a", &[("longpoll-client", b"b")]),
        Err(HttpError::Duplicate("client"))
    );
    assert!(matches!(
        id("client=a%20b", &[]),
        Err(HttpError::Name("client", _))
    ));
}

#[test]
fn upstream_mapping_round_trips() {
    let batch = UpstreamBatch {
        first_seq: 41,
        messages: vec![
            Bytes::from_static(b"hi"),
            Bytes::from_static(&[0, 159, 146, 150]),
        ],
    };
    let body = http::render_send_body(&batch);
    assert_eq!(
        http::parse_send_body(&body, &ParseLimits::default()),
        Ok(batch)
    );
    let ok = http::render_send_ack(
        &Ok(Accepted {
            fresh_from: 0,
            ack: 42,
        }),
        0,
    );
    assert_eq!(ok.status, 204);

    assert_eq!(http::parse_send_ack(ok.status, hs(&ok)), Ok(42));
    let gap = http::render_send_ack(
        &Err(UpstreamError::SeqGap {
            expected: 3,
            got: 5,
        }),
        2,
    );
    assert_eq!(
        (gap.status, header(&gap, "longpoll-reason")),
        (409, Some("seq_gap"))
    );
    assert_eq!(http::parse_send_ack(gap.status, hs(&gap)), Ok(2));
    let big = http::render_send_ack(
        &Err(UpstreamError::BatchTooLarge {
            max_batch_messages: 1,
            max_batch_bytes: 1,
        }),
        0,
    );
    assert_eq!(big.status, 413);
    assert_eq!(
        http::parse_send_ack(big.status, hs(&big)),
        Err(HttpError::UnexpectedStatus(413))
    );
}

proptest! {
    #[test]
    fn arbitrary_batches_round_trip(
        first in 1u64..u64::MAX / 2,
        epoch in any::<u64>(),
        payloads in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..40),
                any::<String>().prop_map(String::into_bytes),
            ],
            1..8,
        ),
    ) {
        let messages: Vec<Message> = payloads
            .into_iter()
            .enumerate()
            .map(|(i, p)| Message { seq: Seq(first + i as u64), data: Bytes::from(p) })
            .collect();
        let next = Cursor { epoch: Epoch(epoch), seq: messages.last().unwrap().seq };
        let outcome = Outcome::Batch { messages, next };
        let (r, parsed) = round_trip(&outcome);
        // Every line is a single JSON object with no raw control characters.
        for line in r.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let braces = line.starts_with(b"{") && line.ends_with(b"}");
            prop_assert!(braces);
            prop_assert!(line.iter().all(|&b| b >= 0x20));
        }
        prop_assert_eq!(parsed, Ok(outcome));
    }

    #[test]
    fn request_parser_never_panics(query in "[a-z=&%:0-9A-F+_.~-]{0,64}", client in "\\PC{0,16}") {
        let _ = parse(&query, &[("longpoll-client", &client)]);
    }
}
