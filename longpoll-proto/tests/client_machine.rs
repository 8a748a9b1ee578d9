//! The client poll loop on its own: every transition (ready → in flight → ready / backoff),
//! de-duplication, gap and reset reporting, and the upstream path end to end through the
//! HTTP mapping with lost requests and lost acknowledgements.

use bytes::Bytes;
use core::time::Duration;
use longpoll_proto::http::{self, ParseLimits};
use longpoll_proto::upstream::Outbox;
use longpoll_proto::{
    Client, ClientConfig, ClientEvent, ClientId, Cursor, EmptyReason, Epoch, Hub, HubConfig,
    Instant, Message, Outcome, RejectReason, Seq, SplitMix64, UpstreamConfig,
};
use proptest::prelude::*;

fn msg(seq: u64) -> Message {
    Message {
        seq: Seq(seq),
        data: Bytes::from(seq.to_string()),
    }
}

fn batch(epoch: u64, seqs: &[u64]) -> Outcome {
    Outcome::Batch {
        messages: seqs.iter().map(|&s| msg(s)).collect(),
        next: Cursor::new(epoch, *seqs.last().unwrap()),
    }
}

fn events(c: &mut Client<SplitMix64>) -> Vec<ClientEvent> {
    core::iter::from_fn(|| c.poll_event()).collect()
}

fn delivered(evs: &[ClientEvent]) -> Vec<u64> {
    evs.iter()
        .filter_map(|e| match e {
            ClientEvent::Message { message, .. } => Some(message.seq.0),
            _ => None,
        })
        .collect()
}

fn client(cursor: Option<Cursor>) -> Client<SplitMix64> {
    Client::new(
        Instant::ZERO,
        ClientConfig::default(),
        SplitMix64::new(9),
        cursor,
    )
}

#[test]
fn duplicates_are_dropped_and_the_cursor_advances() {
    let now = Instant::ZERO;
    let mut c = client(Some(Cursor::new(1, 0)));
    assert_eq!(c.poll_request(now).unwrap().cursor, Some(Cursor::new(1, 0)));
    c.handle_response(now, batch(1, &[1, 2, 3]));
    assert_eq!(delivered(&events(&mut c)), [1, 2, 3]);
    // An overlapping batch (at-least-once delivery): only 4 and 5 are new.
    c.poll_request(now).unwrap();
    c.handle_response(now, batch(1, &[2, 3, 4, 5]));
    assert_eq!(delivered(&events(&mut c)), [4, 5]);
    // A fully stale batch changes nothing.
    c.poll_request(now).unwrap();
    c.handle_response(now, batch(1, &[1, 2]));
    assert!(events(&mut c).is_empty());
    assert_eq!(c.cursor(), Some(Cursor::new(1, 5)));
    // A response with no poll in flight is ignored.
    c.handle_response(now, batch(1, &[6]));
    assert!(events(&mut c).is_empty());
}

#[test]
fn gaps_are_reported_exactly() {
    let now = Instant::ZERO;
    let mut c = client(Some(Cursor::new(1, 2)));
    c.poll_request(now).unwrap();
    c.handle_response(
        now,
        Outcome::Gap {
            missed_from: Seq(3),
            missed_to: Seq(6),
            resume: Cursor::new(1, 6),
        },
    );
    assert_eq!(
        events(&mut c),
        [ClientEvent::Gap {
            epoch: Epoch(1),
            from: Seq(3),
            to: Seq(6)
        }]
    );
    assert_eq!(c.poll_request(now).unwrap().cursor, Some(Cursor::new(1, 6)));
    // A batch that skips numbers without saying so is still reported as a gap.
    c.handle_response(now, batch(1, &[9, 10]));
    let evs = events(&mut c);
    assert_eq!(
        evs[0],
        ClientEvent::Gap {
            epoch: Epoch(1),
            from: Seq(7),
            to: Seq(8)
        }
    );
    assert_eq!(delivered(&evs), [9, 10]);
    // A batch whose `next` jumps past its messages too.
    c.poll_request(now).unwrap();
    c.handle_response(
        now,
        Outcome::Batch {
            messages: vec![],
            next: Cursor::new(1, 12),
        },
    );
    assert_eq!(
        events(&mut c),
        [ClientEvent::Gap {
            epoch: Epoch(1),
            from: Seq(11),
            to: Seq(12)
        }]
    );
}

#[test]
fn resets_move_to_the_new_epoch() {
    let now = Instant::ZERO;
    let mut c = client(Some(Cursor::new(1, 5)));
    c.poll_request(now).unwrap();
    c.handle_response(
        now,
        Outcome::Reset {
            previous: Epoch(1),
            resume: Cursor::new(2, 0),
        },
    );
    assert_eq!(
        events(&mut c),
        [ClientEvent::Reset {
            previous: Epoch(1),
            epoch: Epoch(2)
        }]
    );
    assert_eq!(c.poll_request(now).unwrap().cursor, Some(Cursor::new(2, 0)));
    // A batch from yet another epoch without a reset: reported as one, then delivered.
    c.handle_response(now, batch(3, &[1]));
    let evs = events(&mut c);
    assert_eq!(
        evs[0],
        ClientEvent::Reset {
            previous: Epoch(2),
            epoch: Epoch(3)
        }
    );
    assert_eq!(delivered(&evs), [1]);
}

#[test]
fn empty_answers_and_rejections() {
    let now = Instant::ZERO;
    // Starting without a cursor, the first empty answer teaches it.
    let mut c = client(None);
    assert_eq!(c.poll_request(now).unwrap().cursor, None);
    c.handle_response(
        now,
        Outcome::Empty {
            cursor: Cursor::new(4, 17),
            reason: EmptyReason::Timeout,
        },
    );
    assert_eq!(
        c.poll_request(now).unwrap().cursor,
        Some(Cursor::new(4, 17))
    );
    // A rejection backs off (with jitter in [base/2, base]).
    c.handle_response(
        now,
        Outcome::Rejected {
            reason: RejectReason::TooManyPolls,
        },
    );
    let evs = events(&mut c);
    assert_eq!(
        evs[0],
        ClientEvent::Rejected {
            reason: RejectReason::TooManyPolls
        }
    );
    let at = c.poll_timeout().unwrap();
    assert!(at >= now + Duration::from_millis(250) && at <= now + Duration::from_millis(500));
    assert!(c.poll_request(now).is_none());
    c.handle_timeout(at);
    assert!(c.poll_request(at).is_some());
}

/// Client→server messages through the HTTP mapping and the hub, with requests and
/// acknowledgements lost at random: the server application gets each exactly once, in order.
fn upstream_run(ops: &[(bool, u8)]) {
    let mut hub = Hub::new(HubConfig::default(), Epoch(1));
    let me = ClientId::new("me").unwrap();
    let mut cfg = UpstreamConfig::default();
    cfg.max_batch_messages = 3;
    let mut outbox = Outbox::new(cfg);
    let mut sent = Vec::new();
    let mut received: Vec<Bytes> = Vec::new();
    let now = Instant::ZERO;
    let mut lose = ops.iter().map(|o| o.1 % 3).cycle();
    for (push, n) in ops {
        if *push {
            let data = Bytes::from(format!("m{n}-{}", sent.len()));
            if outbox.push(data.clone()).is_ok() {
                sent.push(data);
            }
        }
        let Some(batch) = outbox.poll_batch() else {
            continue;
        };
        let body = http::render_send_body(&batch);
        match lose.next().unwrap() {
            0 => {
                outbox.handle_failure(); // request lost before the server
                continue;
            }
            fate => {
                let parsed = http::parse_send_body(&body, &ParseLimits::default()).unwrap();
                let result = hub.handle_send(now, &me, &parsed);
                if let Ok(acc) = &result {
                    received.extend(parsed.messages[acc.fresh_from..].iter().cloned());
                }
                let answer = http::render_send_ack(&result, 0);
                if fate == 1 {
                    outbox.handle_failure(); // acknowledgement lost
                } else {
                    let headers = answer.headers.iter().map(|(n, v)| (*n, v.as_bytes()));
                    outbox.handle_ack(http::parse_send_ack(answer.status, headers).unwrap());
                }
            }
        }
    }
    // Drain without faults.
    while let Some(batch) = outbox.poll_batch() {
        let result = hub.handle_send(now, &me, &batch).unwrap();
        received.extend(batch.messages[result.fresh_from..].iter().cloned());
        outbox.handle_ack(result.ack);
    }
    assert_eq!(received, sent);
}

proptest! {
    #[test]
    fn upstream_exactly_once(ops in proptest::collection::vec((any::<bool>(), any::<u8>()), 0..200)) {
        upstream_run(&ops);
    }
}
