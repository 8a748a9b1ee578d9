//! One test per hub transition: idle → held → delivered / empty / superseded / aborted /
//! expired, gap, reset, full buffer under both overflow policies, limits, coalescing.

use bytes::Bytes;
use core::time::Duration;
use longpoll_proto::upstream::UpstreamBatch;
use longpoll_proto::{
    ChannelName, ClientId, Cursor, DuplicatePoll, EmptyReason, Epoch, Hub, HubConfig, HubEvent,
    Instant, Outcome, Overflow, PollId, PollRequest, PublishError, RejectReason, Response, Seq,
    UpstreamError,
};

fn ch(name: &str) -> ChannelName {
    ChannelName::new(name).unwrap()
}

fn req(client: &str, channel: &str, cursor: Option<Cursor>) -> PollRequest {
    PollRequest {
        client: ClientId::new(client).unwrap(),
        channel: ch(channel),
        cursor,
        timeout: None,
    }
}

fn drain(hub: &mut Hub) -> Vec<Response> {
    core::iter::from_fn(|| hub.poll_response()).collect()
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn batch_seqs(outcome: &Outcome) -> Vec<u64> {
    match outcome {
        Outcome::Batch { messages, .. } => messages.iter().map(|m| m.seq.0).collect(),
        other => panic!("expected batch, got {other:?}"),
    }
}

#[test]
fn held_then_delivered_by_publish() {
    let mut hub = Hub::new(HubConfig::default(), Epoch(1));
    let p = hub.handle_poll(ms(0), req("a", "c", Some(Cursor::new(1, 0))));
    assert!(drain(&mut hub).is_empty());
    assert!(hub.is_held(p));
    assert_eq!(hub.held_polls(), 1);
    assert_eq!(
        hub.publish(ms(5), &ch("c"), Bytes::from_static(b"m1")),
        Ok(Seq(1))
    );
    let out = drain(&mut hub);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].poll, p);
    match &out[0].outcome {
        Outcome::Batch { messages, next } => {
            assert_eq!(*next, Cursor::new(1, 1));
            assert_eq!(&messages[0].data[..], b"m1");
        }
        other => panic!("{other:?}"),
    }
    assert!(!hub.is_held(p));
    assert_eq!(hub.held_polls(), 0);
}

#[test]
fn answered_at_once_when_messages_are_buffered_and_batches_are_bounded() {
    let mut config = HubConfig::default();
    config.max_batch_messages = 2;
    let mut hub = Hub::new(config, Epoch(1));
    for i in 0..5u8 {
        hub.publish(ms(0), &ch("c"), Bytes::from(vec![i])).unwrap();
    }
    let p = hub.handle_poll(ms(1), req("a", "c", Some(Cursor::new(1, 0))));
    let out = drain(&mut hub);
    assert_eq!((out.len(), out[0].poll), (1, p));
    assert_eq!(batch_seqs(&out[0].outcome), [1, 2]);
    hub.handle_poll(ms(1), req("a", "c", Some(Cursor::new(1, 2))));
    assert_eq!(batch_seqs(&drain(&mut hub)[0].outcome), [3, 4]);
    // A poll without a cursor starts at the head and is held.
    let p = hub.handle_poll(ms(1), req("b", "c", None));
    assert!(hub.is_held(p));
}

#[test]
fn releasing_many_polls_shares_the_payload() {
    let mut hub = Hub::new(HubConfig::default(), Epoch(1));
    for i in 0..100 {
        hub.handle_poll(ms(0), req(&format!("client{i}"), "c", None));
    }
    let payload = Bytes::from(vec![7u8; 1000]);
    let ptr = payload.as_ptr();
    hub.publish(ms(1), &ch("c"), payload).unwrap();
    let out = drain(&mut hub);
    assert_eq!(out.len(), 100);
    for r in &out {
        match &r.outcome {
            Outcome::Batch { messages, .. } => assert_eq!(messages[0].data.as_ptr(), ptr),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn deadline_answers_empty_with_same_cursor() {
    let mut hub = Hub::new(HubConfig::default(), Epoch(3));
    let mut r = req("a", "c", Some(Cursor::new(3, 0)));
    r.timeout = Some(Duration::from_secs(2));
    let p = hub.handle_poll(ms(0), r);
    assert_eq!(hub.poll_timeout(), Some(ms(2000)));
    hub.handle_timeout(ms(1999)); // early: no-op
    assert!(drain(&mut hub).is_empty());
    hub.handle_timeout(ms(2000));
    assert_eq!(
        drain(&mut hub),
        [Response {
            poll: p,
            outcome: Outcome::Empty {
                cursor: Cursor::new(3, 0),
                reason: EmptyReason::Timeout
            }
        }]
    );
    // A timeout asked beyond max_hold is capped; none uses the default hold.
    let mut r = req("a", "c", None);
    r.timeout = Some(Duration::from_secs(3600));
    hub.handle_poll(ms(2000), r);
    assert_eq!(hub.poll_timeout(), Some(ms(2000 + 30_000)));
}

#[test]
fn duplicate_poll_supersedes_by_default() {
    let mut hub = Hub::new(HubConfig::default(), Epoch(1));
    let old = hub.handle_poll(ms(0), req("a", "c", Some(Cursor::new(1, 0))));
    let new = hub.handle_poll(ms(1), req("a", "c", Some(Cursor::new(1, 0))));
    assert_eq!(
        drain(&mut hub),
        [Response {
            poll: old,
            outcome: Outcome::Empty {
                cursor: Cursor::new(1, 0),
                reason: EmptyReason::Superseded
            }
        }]
    );
    assert!(hub.is_held(new) && !hub.is_held(old));
    // Another channel of the same client is not a duplicate.
    let other = hub.handle_poll(ms(1), req("a", "d", None));
    assert!(hub.is_held(other) && hub.is_held(new));
    hub.publish(ms(2), &ch("c"), Bytes::from_static(b"x"))
        .unwrap();
    let out = drain(&mut hub);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].poll, new);
}

#[test]
fn duplicate_poll_reject_and_allow_both() {
    let mut config = HubConfig::default();
    config.duplicate_poll = DuplicatePoll::Reject;
    let mut hub = Hub::new(config, Epoch(1));
    let first = hub.handle_poll(ms(0), req("a", "c", None));
    let second = hub.handle_poll(ms(0), req("a", "c", None));
    assert_eq!(
        drain(&mut hub),
        [Response {
            poll: second,
            outcome: Outcome::Rejected {
                reason: RejectReason::DuplicatePoll
            }
        }]
    );
    assert!(hub.is_held(first));

    config.duplicate_poll = DuplicatePoll::AllowBoth;
    config.max_polls_per_client = 2;
    let mut hub = Hub::new(config, Epoch(1));
    let a = hub.handle_poll(ms(0), req("a", "c", None));
    let b = hub.handle_poll(ms(0), req("a", "c", None));
    let c = hub.handle_poll(ms(0), req("a", "c", None));
    assert_eq!(
        drain(&mut hub),
        [Response {
            poll: c,
            outcome: Outcome::Rejected {
                reason: RejectReason::TooManyPollsForClient
            }
        }]
    );
    hub.publish(ms(1), &ch("c"), Bytes::from_static(b"x"))
        .unwrap();
    let mut released: Vec<PollId> = drain(&mut hub).into_iter().map(|r| r.poll).collect();
    released.sort();
    assert_eq!(released, [a, b]);
}

#[test]
fn abort_forgets_without_losing_anything() {
    let mut hub = Hub::new(HubConfig::default(), Epoch(1));
    let p = hub.handle_poll(ms(0), req("a", "c", Some(Cursor::new(1, 0))));
    assert!(hub.handle_abort(ms(1), p));
    assert!(!hub.handle_abort(ms(1), p), "second abort is a no-op");
    assert_eq!(hub.held_polls(), 0);
    hub.publish(ms(2), &ch("c"), Bytes::from_static(b"x"))
        .unwrap();
    assert!(drain(&mut hub).is_empty(), "an aborted poll gets no answer");
    // The client comes back with the same cursor: the message is there.
    hub.handle_poll(ms(3), req("a", "c", Some(Cursor::new(1, 0))));
    assert_eq!(batch_seqs(&drain(&mut hub)[0].outcome), [1]);
    // Deadline of the aborted poll does not fire.
    hub.handle_timeout(ms(60_000));
    assert!(drain(&mut hub).is_empty());
}

#[test]
fn sessions_expire_only_when_idle() {
    let mut config = HubConfig::default();
    config.session_ttl = Duration::from_secs(10);
    config.hold = Duration::from_secs(25);
    let mut hub = Hub::new(config, Epoch(1));
    let a = ClientId::new("a").unwrap();
    hub.handle_poll(ms(0), req("a", "c", None));
    // Held for 25 s: longer than the ttl, but a held poll keeps the session.
    hub.handle_timeout(ms(20_000));
    assert!(hub.has_session(&a));
    assert_eq!(hub.poll_event(), None);
    hub.handle_timeout(ms(25_000)); // answered empty; idle from now
    assert_eq!(drain(&mut hub).len(), 1);
    assert_eq!(hub.poll_timeout(), Some(ms(35_000)));
    // Polling again at 30 s restarts the clock.
    let p = hub.handle_poll(ms(30_000), req("a", "c", None));
    hub.handle_abort(ms(31_000), p);
    hub.handle_timeout(ms(40_999));
    assert!(hub.has_session(&a));
    hub.handle_timeout(ms(41_000));
    assert!(!hub.has_session(&a));
    assert_eq!(hub.sessions(), 0);
    assert_eq!(
        hub.poll_event(),
        Some(HubEvent::SessionExpired { client: a })
    );
    assert_eq!(hub.poll_event(), None);
}

#[test]
fn evicted_messages_are_reported_as_a_gap() {
    let mut config = HubConfig::default();
    config.channel.max_messages = 3;
    let mut hub = Hub::new(config, Epoch(1));
    for i in 0..5u8 {
        hub.publish(ms(0), &ch("c"), Bytes::from(vec![i])).unwrap();
    }
    hub.handle_poll(ms(1), req("a", "c", Some(Cursor::new(1, 1))));
    assert_eq!(
        drain(&mut hub)[0].outcome,
        Outcome::Gap {
            missed_from: Seq(2),
            missed_to: Seq(2),
            resume: Cursor::new(1, 2)
        }
    );
    hub.handle_poll(ms(1), req("a", "c", Some(Cursor::new(1, 2))));
    assert_eq!(batch_seqs(&drain(&mut hub)[0].outcome), [3, 4, 5]);
}

#[test]
fn burst_overflowing_during_coalescing_gives_held_poll_a_gap() {
    let mut config = HubConfig::default();
    config.channel.max_messages = 2;
    config.coalesce = Duration::from_millis(10);
    let mut hub = Hub::new(config, Epoch(1));
    let p = hub.handle_poll(ms(0), req("b", "c", Some(Cursor::new(1, 0))));
    for i in 0..4u8 {
        hub.publish(ms(1), &ch("c"), Bytes::from(vec![i])).unwrap();
    }
    hub.handle_timeout(ms(11));
    assert_eq!(
        drain(&mut hub),
        [Response {
            poll: p,
            outcome: Outcome::Gap {
                missed_from: Seq(1),
                missed_to: Seq(2),
                resume: Cursor::new(1, 2)
            }
        }]
    );
}

#[test]
fn reset_answers_held_polls_and_old_cursors() {
    let mut hub = Hub::new(HubConfig::default(), Epoch(1));
    hub.publish(ms(0), &ch("c"), Bytes::from_static(b"x"))
        .unwrap();
    let p = hub.handle_poll(ms(0), req("a", "c", Some(Cursor::new(1, 1))));
    assert!(hub.reset_channel(ms(1), &ch("c"), Epoch(2)));
    assert!(!hub.reset_channel(ms(1), &ch("nope"), Epoch(2)));
    let reset = Outcome::Reset {
        previous: Epoch(1),
        resume: Cursor::new(2, 0),
    };
    assert_eq!(
        drain(&mut hub),
        [Response {
            poll: p,
            outcome: reset.clone()
        }]
    );
    hub.handle_poll(ms(2), req("b", "c", Some(Cursor::new(1, 0))));
    assert_eq!(drain(&mut hub)[0].outcome, reset);
    // A restarted hub (new epoch) tells old clients the same.
    let mut restarted = Hub::new(HubConfig::default(), Epoch(9));
    restarted.handle_poll(ms(0), req("a", "c", Some(Cursor::new(1, 1))));
    assert!(matches!(
        drain(&mut restarted)[0].outcome,
        Outcome::Reset { resume, .. } if resume == Cursor::new(9, 0)
    ));
}

#[test]
fn full_buffer_evict_policy_keeps_publishing() {
    let mut config = HubConfig::default();
    config.channel.max_messages = 2;
    config.channel.max_bytes = 100;
    config.channel.max_message_bytes = 10;
    config.channel.overflow = Overflow::EvictOldest;
    let mut hub = Hub::new(config, Epoch(1));
    for i in 1..=4u64 {
        assert_eq!(
            hub.publish(ms(0), &ch("c"), Bytes::from_static(b"x")),
            Ok(Seq(i))
        );
    }
    let c = hub.channel(&ch("c")).unwrap();
    assert_eq!((c.len(), c.oldest()), (2, Seq(3)));
    assert_eq!(
        hub.publish(ms(0), &ch("c"), Bytes::from(vec![0; 11])),
        Err(PublishError::MessageTooLarge {
            size: 11,
            max_message_bytes: 10
        })
    );
}

#[test]
fn full_buffer_reject_policy_refuses_until_subscribers_acknowledge() {
    let mut config = HubConfig::default();
    config.channel.max_messages = 2;
    config.channel.overflow = Overflow::RejectPublish;
    let mut hub = Hub::new(config, Epoch(1));
    // Two subscribers at the start.
    hub.handle_poll(ms(0), req("a", "c", Some(Cursor::new(1, 0))));
    hub.handle_poll(ms(0), req("b", "c", Some(Cursor::new(1, 0))));
    hub.publish(ms(1), &ch("c"), Bytes::from_static(b"1"))
        .unwrap();
    assert_eq!(drain(&mut hub).len(), 2);
    hub.publish(ms(1), &ch("c"), Bytes::from_static(b"2"))
        .unwrap();
    assert_eq!(
        hub.publish(ms(1), &ch("c"), Bytes::from_static(b"3")),
        Err(PublishError::ChannelFullMessages { max_messages: 2 })
    );
    // a acknowledges 1 (polls with cursor 1): b has not, nothing is dropped yet.
    hub.handle_poll(ms(2), req("a", "c", Some(Cursor::new(1, 1))));
    assert_eq!(batch_seqs(&drain(&mut hub)[0].outcome), [2]);
    assert!(hub
        .publish(ms(2), &ch("c"), Bytes::from_static(b"3"))
        .is_err());
    // b acknowledges 1: message 1 leaves history, room for one.
    hub.handle_poll(ms(3), req("b", "c", Some(Cursor::new(1, 1))));
    assert_eq!(batch_seqs(&drain(&mut hub)[0].outcome), [2]);
    assert_eq!(
        hub.publish(ms(3), &ch("c"), Bytes::from_static(b"3")),
        Ok(Seq(3))
    );
    assert_eq!(hub.channel(&ch("c")).unwrap().oldest(), Seq(2));
    // Nobody lost anything: both still get 2 and 3 from their cursors.
    hub.handle_poll(ms(4), req("b", "c", Some(Cursor::new(1, 1))));
    assert_eq!(batch_seqs(&drain(&mut hub)[0].outcome), [2, 3]);
}

#[test]
fn coalescing_window_sends_a_burst_as_one_response() {
    let mut config = HubConfig::default();
    config.coalesce = Duration::from_millis(5);
    let mut hub = Hub::new(config, Epoch(1));
    let p = hub.handle_poll(ms(0), req("a", "c", Some(Cursor::new(1, 0))));
    for i in 0..3u8 {
        hub.publish(ms(10 + u64::from(i)), &ch("c"), Bytes::from(vec![i]))
            .unwrap();
    }
    assert!(drain(&mut hub).is_empty());
    assert_eq!(hub.poll_timeout(), Some(ms(15)));
    hub.handle_timeout(ms(15));
    let out = drain(&mut hub);
    assert_eq!((out.len(), out[0].poll), (1, p));
    assert_eq!(batch_seqs(&out[0].outcome), [1, 2, 3]);
}

#[test]
fn limits_refuse_with_their_own_reason() {
    let mut config = HubConfig::default();
    config.max_held_polls = 1;
    config.max_sessions = 2;
    config.max_channels = 1;
    let mut hub = Hub::new(config, Epoch(1));
    hub.handle_poll(ms(0), req("a", "c", None));
    assert_eq!(
        hub.publish(ms(0), &ch("other"), Bytes::new()),
        Err(PublishError::TooManyChannels { max_channels: 1 })
    );
    let cases = [
        (req("b", "c", None), RejectReason::TooManyPolls),
        (req("z", "c", None), RejectReason::TooManySessions),
        (req("a", "d", None), RejectReason::TooManyChannels),
        (
            req("a", "c", Some(Cursor::new(1, 5))),
            RejectReason::CursorAhead,
        ),
    ];
    for (r, reason) in cases {
        let p = hub.handle_poll(ms(0), r);
        let out = drain(&mut hub);
        assert_eq!(out.last().unwrap().poll, p);
        assert_eq!(out.last().unwrap().outcome, Outcome::Rejected { reason });
    }
}

#[test]
fn restart_channel_answers_held_polls_by_their_cursor() {
    let mut hub = Hub::new(HubConfig::default(), Epoch(1));
    // A mirror starts following a channel whose source is at (5, 10).
    hub.restart_channel(ms(0), &ch("c"), Cursor::new(5, 10))
        .unwrap();
    let at_head = hub.handle_poll(ms(0), req("a", "c", Some(Cursor::new(5, 10))));
    let no_cursor = hub.handle_poll(ms(0), req("b", "c", None));
    assert!(drain(&mut hub).is_empty());
    assert_eq!(
        hub.publish(ms(1), &ch("c"), Bytes::from_static(b"m")),
        Ok(Seq(11))
    );
    let released = drain(&mut hub);
    assert_eq!(released.len(), 2);
    assert!(released.iter().all(|r| batch_seqs(&r.outcome) == [11]));
    assert!([at_head, no_cursor].iter().all(|p| !hub.is_held(*p)));
    // The source lost 12..=20: held polls at 11 get the gap, a poll at 20 stays held.
    let behind = hub.handle_poll(ms(2), req("a", "c", Some(Cursor::new(5, 11))));
    hub.restart_channel(ms(3), &ch("c"), Cursor::new(5, 20))
        .unwrap();
    assert_eq!(
        drain(&mut hub),
        [Response {
            poll: behind,
            outcome: Outcome::Gap {
                missed_from: Seq(12),
                missed_to: Seq(20),
                resume: Cursor::new(5, 20)
            }
        }]
    );
    let held = hub.handle_poll(ms(4), req("a", "c", Some(Cursor::new(5, 20))));
    // A new epoch at the source: the held poll is told of the reset.
    hub.restart_channel(ms(5), &ch("c"), Cursor::new(6, 0))
        .unwrap();
    assert_eq!(
        drain(&mut hub)[0],
        Response {
            poll: held,
            outcome: Outcome::Reset {
                previous: Epoch(5),
                resume: Cursor::new(6, 0)
            }
        }
    );
    hub.check_invariants().unwrap();
    // Creating a channel this way counts against max_channels.
    let mut config = HubConfig::default();
    config.max_channels = 1;
    let mut small = Hub::new(config, Epoch(1));
    small
        .restart_channel(ms(0), &ch("x"), Cursor::new(2, 0))
        .unwrap();
    assert_eq!(
        small.restart_channel(ms(0), &ch("y"), Cursor::new(2, 0)),
        Err(PublishError::TooManyChannels { max_channels: 1 })
    );
}

#[test]
fn remove_channel_only_when_no_poll_is_held_and_frees_its_slot() {
    let mut config = HubConfig::default();
    config.max_channels = 1;
    config.channel.overflow = longpoll_proto::Overflow::RejectPublish;
    let mut hub = Hub::new(config, Epoch(1));
    hub.restart_channel(ms(0), &ch("a"), Cursor::new(3, 5))
        .unwrap();
    hub.publish(ms(0), &ch("a"), Bytes::from_static(b"m"))
        .unwrap();
    // A held poll keeps the channel (and its acknowledgement bookkeeping).
    let held = hub.handle_poll(ms(1), req("x", "a", Some(Cursor::new(3, 6))));
    assert!(hub.is_held(held));
    assert!(!hub.remove_channel(&ch("a")));
    assert!(!hub.remove_channel(&ch("nope")));
    assert!(hub.handle_abort(ms(2), held));
    assert!(hub.remove_channel(&ch("a")));
    assert_eq!(hub.channels(), 0);
    assert!(hub.channel(&ch("a")).is_none());
    hub.check_invariants().unwrap();
    // The slot is free for another channel; "a" comes back fresh in the hub's epoch.
    hub.restart_channel(ms(3), &ch("b"), Cursor::new(3, 0))
        .unwrap();
    assert!(hub.remove_channel(&ch("b")));
    let poll = hub.handle_poll(ms(4), req("x", "a", Some(Cursor::new(3, 6))));
    assert_eq!(
        drain(&mut hub),
        [Response {
            poll,
            outcome: Outcome::Reset {
                previous: Epoch(3),
                resume: Cursor::new(1, 0)
            }
        }]
    );
    hub.check_invariants().unwrap();
}

#[test]
fn upstream_sends_keep_the_session_and_deduplicate() {
    let mut hub = Hub::new(HubConfig::default(), Epoch(1));
    let a = ClientId::new("a").unwrap();
    let batch = UpstreamBatch {
        first_seq: 1,
        messages: vec![Bytes::from_static(b"x"), Bytes::from_static(b"y")],
    };
    let first = hub.handle_send(ms(0), &a, &batch).unwrap();
    assert_eq!((first.fresh_from, first.ack), (0, 2));
    let retry = hub.handle_send(ms(1), &a, &batch).unwrap();
    assert_eq!((retry.fresh_from, retry.ack), (2, 2));
    assert_eq!(hub.upstream_acked(&a), Some(2));
    assert_eq!(hub.upstream_acked(&ClientId::new("nobody").unwrap()), None);
    let gap = UpstreamBatch {
        first_seq: 5,
        messages: vec![Bytes::from_static(b"z")],
    };
    assert_eq!(
        hub.handle_send(ms(1), &a, &gap),
        Err(UpstreamError::SeqGap {
            expected: 3,
            got: 5
        })
    );
    assert!(hub.has_session(&a));
    hub.handle_timeout(ms(61_000));
    assert!(!hub.has_session(&a));
}

#[test]
fn polls_for_made_up_channels_do_not_fill_max_channels() {
    let mut config = HubConfig::default();
    config.max_channels = 2;
    let mut hub = Hub::new(config, Epoch(1));
    hub.publish(ms(0), &ch("real"), Bytes::from_static(b"x"))
        .unwrap();
    for i in 0..10 {
        let p = hub.handle_poll(ms(0), req("a", &format!("junk{i}"), None));
        assert!(hub.is_held(p));
        assert_eq!(hub.channels(), 2);
        assert!(hub.handle_abort(ms(0), p));
        assert_eq!(
            hub.channels(),
            1,
            "an unused, never-published channel is dropped"
        );
    }
    // Timed-out and immediately answered polls drop it too; answers are unchanged.
    hub.handle_poll(ms(0), req("a", "junk", Some(Cursor::new(1, 3))));
    assert_eq!(
        drain(&mut hub)[0].outcome,
        Outcome::Rejected {
            reason: RejectReason::CursorAhead
        }
    );
    hub.handle_poll(ms(0), req("a", "junk", Some(Cursor::new(1, 0))));
    hub.handle_timeout(ms(30_000));
    assert_eq!(
        drain(&mut hub)[0].outcome,
        Outcome::Empty {
            cursor: Cursor::new(1, 0),
            reason: EmptyReason::Timeout
        }
    );
    assert_eq!(hub.channels(), 1);
    // A channel with history is kept.
    assert!(hub.channel(&ch("real")).is_some());
}
