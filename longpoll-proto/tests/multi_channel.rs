//! Multi-channel polls: hub transitions, the HTTP mapping, and a model check of
//! `MultiClient`s against the hub on virtual time (every message on every channel exactly
//! once and in order, or an explicit gap/reset).

use bytes::Bytes;
use core::time::Duration;
use longpoll_proto::http::{self, ParseLimits};
use longpoll_proto::{
    ChannelAnswer, ChannelName, ClientConfig, ClientEvent, ClientId, Cursor, EmptyReason, Epoch,
    Hub, HubConfig, Instant, Message, MultiClient, MultiPollRequest, Outcome, PollId, PollRequest,
    RejectReason, Response, Seq, SplitMix64, Subscription,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn ch(name: &str) -> ChannelName {
    ChannelName::new(name).unwrap()
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn sub(name: &str, cursor: Option<Cursor>) -> Subscription {
    Subscription {
        channel: ch(name),
        cursor,
    }
}

fn multi(client: &str, subs: Vec<Subscription>) -> MultiPollRequest {
    MultiPollRequest {
        client: ClientId::new(client).unwrap(),
        subscriptions: subs,
        timeout: None,
    }
}

fn drain(hub: &mut Hub) -> Vec<Response> {
    core::iter::from_fn(|| hub.poll_response()).collect()
}

fn answer_channels(outcome: &Outcome) -> Vec<String> {
    match outcome {
        Outcome::Multi { answers } => answers.iter().map(|a| a.channel.to_string()).collect(),
        other => panic!("expected Multi, got {other:?}"),
    }
}

#[test]
fn held_on_every_channel_released_by_any() {
    let mut hub = Hub::new(HubConfig::default(), Epoch(1));
    let p = hub.handle_multi_poll(
        ms(0),
        multi("a", vec![sub("x", Some(Cursor::new(1, 0))), sub("y", None)]),
    );
    assert!(hub.is_held(p) && drain(&mut hub).is_empty());
    hub.publish(ms(1), &ch("y"), Bytes::from_static(b"hi"))
        .unwrap();
    let out = drain(&mut hub);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].poll, p);
    assert_eq!(
        out[0].outcome,
        Outcome::Multi {
            answers: vec![ChannelAnswer {
                channel: ch("y"),
                outcome: Outcome::Batch {
                    messages: vec![Message {
                        seq: Seq(1),
                        data: Bytes::from_static(b"hi")
                    }],
                    next: Cursor::new(1, 1)
                }
            }]
        }
    );
    // It no longer waits on x.
    hub.publish(ms(2), &ch("x"), Bytes::from_static(b"x"))
        .unwrap();
    assert!(drain(&mut hub).is_empty());
    assert_eq!(hub.held_polls(), 0);
}

#[test]
fn answered_at_once_with_every_channel_that_has_something() {
    let mut config = HubConfig::default();
    config.channel.max_messages = 1;
    let mut hub = Hub::new(config, Epoch(1));
    hub.publish(ms(0), &ch("x"), Bytes::from_static(b"1"))
        .unwrap();
    hub.publish(ms(0), &ch("y"), Bytes::from_static(b"1"))
        .unwrap();
    hub.publish(ms(0), &ch("y"), Bytes::from_static(b"2"))
        .unwrap(); // evicts y:1
    hub.handle_multi_poll(
        ms(1),
        multi(
            "a",
            vec![
                sub("x", Some(Cursor::new(1, 0))),
                sub("y", Some(Cursor::new(1, 0))),
                sub("z", None),
                sub("w", Some(Cursor::new(9, 0))),
                sub("x", Some(Cursor::new(1, 1))), // a name twice: the first counts
            ],
        ),
    );
    let out = drain(&mut hub);
    assert_eq!(answer_channels(&out[0].outcome), ["x", "y", "w"]);
    let Outcome::Multi { answers } = &out[0].outcome else {
        unreachable!()
    };
    assert!(matches!(answers[0].outcome, Outcome::Batch { .. }));
    assert_eq!(
        answers[1].outcome,
        Outcome::Gap {
            missed_from: Seq(1),
            missed_to: Seq(1),
            resume: Cursor::new(1, 1)
        }
    );
    assert!(matches!(answers[2].outcome, Outcome::Reset { .. }));
    // The never-published channels z and w did not stay around.
    assert_eq!(hub.channels(), 2);
}

#[test]
fn deadline_supersede_abort_and_limits() {
    let mut config = HubConfig::default();
    config.max_channels_per_poll = 2;
    let mut hub = Hub::new(config, Epoch(1));
    let p = hub.handle_multi_poll(ms(0), multi("a", vec![sub("x", None), sub("y", None)]));
    hub.handle_timeout(ms(25_000));
    assert_eq!(
        drain(&mut hub),
        [Response {
            poll: p,
            outcome: Outcome::MultiEmpty {
                reason: EmptyReason::Timeout
            }
        }]
    );
    // A single poll sharing a channel supersedes the multi poll, and the reverse.
    let m = hub.handle_multi_poll(ms(1), multi("a", vec![sub("x", None), sub("y", None)]));
    let s = hub.handle_poll(
        ms(1),
        PollRequest {
            client: ClientId::new("a").unwrap(),
            channel: ch("y"),
            cursor: None,
            timeout: None,
        },
    );
    assert_eq!(
        drain(&mut hub),
        [Response {
            poll: m,
            outcome: Outcome::MultiEmpty {
                reason: EmptyReason::Superseded
            }
        }]
    );
    let m2 = hub.handle_multi_poll(ms(1), multi("a", vec![sub("y", None)]));
    assert!(matches!(
        drain(&mut hub)[..],
        [Response { poll, outcome: Outcome::Empty { reason: EmptyReason::Superseded, .. } }] if poll == s
    ));
    // Abort removes it from every channel.
    assert!(hub.handle_abort(ms(2), m2));
    hub.publish(ms(3), &ch("y"), Bytes::from_static(b"z"))
        .unwrap();
    assert!(drain(&mut hub).is_empty());
    // Limits.
    for subs in [vec![], vec![sub("x", None), sub("y", None), sub("z", None)]] {
        let p = hub.handle_multi_poll(ms(4), multi("b", subs));
        assert_eq!(
            drain(&mut hub),
            [Response {
                poll: p,
                outcome: Outcome::Rejected {
                    reason: RejectReason::TooManyChannelsPerPoll
                }
            }]
        );
    }
}

#[test]
fn http_round_trip() {
    let subs = vec![sub("news", Some(Cursor::new(7, 42))), sub("alerts", None)];
    let q = http::multi_poll_query(&subs, Some(Duration::from_secs(20)));
    assert_eq!(q, "subs=news;7:42,alerts&timeout=20000");
    let headers = [(http::CLIENT_HEADER, &b"me"[..])];
    let parsed = http::parse_multi_poll_request(&q, headers, 16).unwrap();
    assert_eq!(parsed.subscriptions, subs);
    assert_eq!(parsed.timeout, Some(Duration::from_secs(20)));
    assert!(http::parse_multi_poll_request(&q, headers, 1).is_err());
    assert!(http::parse_multi_poll_request("subs=a;x", headers, 4).is_err());

    let outcome = Outcome::Multi {
        answers: vec![
            ChannelAnswer {
                channel: ch("news"),
                outcome: Outcome::Batch {
                    messages: vec![
                        Message {
                            seq: Seq(43),
                            data: Bytes::from_static(b"a\nb"),
                        },
                        Message {
                            seq: Seq(44),
                            data: Bytes::from_static(&[0xff]),
                        },
                    ],
                    next: Cursor::new(7, 44),
                },
            },
            ChannelAnswer {
                channel: ch("sports"),
                outcome: Outcome::Gap {
                    missed_from: Seq(1),
                    missed_to: Seq(3),
                    resume: Cursor::new(7, 3),
                },
            },
            ChannelAnswer {
                channel: ch("alerts"),
                outcome: Outcome::Reset {
                    previous: Epoch(6),
                    resume: Cursor::new(7, 0),
                },
            },
            ChannelAnswer {
                channel: ch("odd"),
                outcome: Outcome::Rejected {
                    reason: RejectReason::CursorAhead,
                },
            },
        ],
    };
    for o in [
        outcome,
        Outcome::MultiEmpty {
            reason: EmptyReason::Timeout,
        },
        Outcome::MultiEmpty {
            reason: EmptyReason::Superseded,
        },
        Outcome::Rejected {
            reason: RejectReason::TooManyChannelsPerPoll,
        },
    ] {
        let r = http::render_response(&o);
        let back = http::parse_multi_poll_response(
            r.status,
            r.headers.iter().map(|(n, v)| (*n, v.as_bytes())),
            &r.body,
            &ParseLimits::default(),
        );
        assert_eq!(back, Ok(o), "{}", String::from_utf8_lossy(&r.body));
    }
    // Malformed: a batch line whose cursor disagrees with its seq; duplicate channel.
    for body in [
        &b"{\"channel\":\"a\",\"seq\":2,\"cursor\":\"1:3\",\"data\":\"x\"}\n"[..],
        b"{\"channel\":\"a\",\"reason\":\"cursor_ahead\"}\n{\"channel\":\"a\",\"reason\":\"cursor_ahead\"}\n",
        b"",
    ] {
        assert!(http::parse_multi_poll_response(200, [], body, &ParseLimits::default()).is_err());
    }
}

// ---- model check ----

struct Peer {
    id: ClientId,
    machine: MultiClient<SplitMix64>,
    in_flight: Option<PollId>,
    lose_next: bool,
    /// Per channel: (epoch, next expected seq).
    expect: BTreeMap<ChannelName, (Epoch, u64)>,
}

struct MultiWorld {
    hub: Hub,
    config: HubConfig,
    channels: Vec<ChannelName>,
    peers: Vec<Peer>,
    now: Instant,
    next_epoch: u64,
    published: BTreeMap<(ChannelName, Epoch), Vec<Bytes>>,
}

impl MultiWorld {
    fn new(config: HubConfig, clients: usize, nchannels: usize, seed: u64) -> Self {
        let epoch = Epoch(1);
        let channels: Vec<ChannelName> = (0..nchannels).map(|i| ch(&format!("c{i}"))).collect();
        let peers = (0..clients)
            .map(|i| {
                // Client i follows every channel except, for odd i, the last one.
                let follow: Vec<ChannelName> = channels
                    .iter()
                    .take(if i % 2 == 1 && nchannels > 1 {
                        nchannels - 1
                    } else {
                        nchannels
                    })
                    .cloned()
                    .collect();
                Peer {
                    id: ClientId::new(&format!("p{i}")).unwrap(),
                    machine: MultiClient::new(
                        Instant::ZERO,
                        ClientConfig::default(),
                        SplitMix64::new(seed ^ i as u64),
                        follow
                            .iter()
                            .map(|c| Subscription {
                                channel: c.clone(),
                                cursor: Some(Cursor::start_of(epoch)),
                            })
                            .collect(),
                    ),
                    in_flight: None,
                    lose_next: false,
                    expect: follow.into_iter().map(|c| (c, (epoch, 1))).collect(),
                }
            })
            .collect();
        let published = channels
            .iter()
            .map(|c| ((c.clone(), epoch), Vec::new()))
            .collect();
        MultiWorld {
            hub: Hub::new(config, epoch),
            config,
            channels,
            peers,
            now: Instant::ZERO,
            next_epoch: 2,
            published,
        }
    }

    fn epoch_of(&self, c: &ChannelName) -> Epoch {
        self.hub.channel(c).map_or(self.hub.epoch(), |x| x.epoch())
    }

    fn step(&mut self) {
        for round in 0.. {
            assert!(round < 1_000, "livelock");
            let mut progress = false;
            for p in &mut self.peers {
                if let Some(next) = p.machine.poll_request(self.now) {
                    let q = http::multi_poll_query(&next.subscriptions, next.timeout);
                    let headers = [(http::CLIENT_HEADER, p.id.as_str().as_bytes())];
                    let req = http::parse_multi_poll_request(&q, headers, 16).unwrap();
                    p.in_flight = Some(self.hub.handle_multi_poll(self.now, req));
                    progress = true;
                }
            }
            while let Some(r) = self.hub.poll_response() {
                progress = true;
                let Some(i) = self.peers.iter().position(|p| p.in_flight == Some(r.poll)) else {
                    continue;
                };
                self.peers[i].in_flight = None;
                if std::mem::take(&mut self.peers[i].lose_next) {
                    self.peers[i].machine.handle_error(self.now);
                    continue;
                }
                let rendered = http::render_response(&r.outcome);
                let outcome = http::parse_multi_poll_response(
                    rendered.status,
                    rendered.headers.iter().map(|(n, v)| (*n, v.as_bytes())),
                    &rendered.body,
                    &ParseLimits::default(),
                )
                .unwrap();
                self.peers[i].machine.handle_response(self.now, outcome);
                self.check(i);
            }
            while self.hub.poll_event().is_some() {}
            self.hub.check_invariants().unwrap();
            if !progress {
                break;
            }
        }
    }

    fn check(&mut self, i: usize) {
        let epochs: BTreeMap<ChannelName, Epoch> = self
            .channels
            .iter()
            .map(|c| (c.clone(), self.epoch_of(c)))
            .collect();
        let peer = &mut self.peers[i];
        while let Some((c, event)) = peer.machine.poll_event() {
            let Some(exp) = peer.expect.get_mut(&c) else {
                assert!(
                    matches!(event, ClientEvent::Backoff { .. }),
                    "event for an unfollowed channel"
                );
                continue;
            };
            match event {
                ClientEvent::Message { epoch, message } => {
                    assert_eq!(
                        (epoch, message.seq.0),
                        *exp,
                        "{c}: out of order or duplicate"
                    );
                    assert_eq!(
                        self.published[&(c.clone(), epoch)][message.seq.0 as usize - 1],
                        message.data
                    );
                    exp.1 += 1;
                }
                ClientEvent::Gap { epoch, from, to } => {
                    assert_eq!(
                        (epoch, from.0),
                        *exp,
                        "{c}: gap must start where the client is"
                    );
                    assert!(
                        to >= from && (to.0 as usize) <= self.published[&(c.clone(), epoch)].len()
                    );
                    if let Some(x) = self.hub.channel(&c) {
                        if x.epoch() == epoch {
                            assert!(to < x.oldest(), "{c}: gap over messages still in history");
                        }
                    }
                    exp.1 = to.0 + 1;
                }
                ClientEvent::Reset { previous, epoch } => {
                    assert_eq!(previous, exp.0);
                    assert_eq!(epoch, epochs[&c]);
                    assert_ne!(previous, epoch);
                    *exp = (epoch, 1);
                }
                ClientEvent::Backoff { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.hub.handle_timeout(self.now);
        for p in &mut self.peers {
            p.machine.handle_timeout(self.now);
        }
        self.step();
    }

    fn fresh_epoch(&mut self) -> Epoch {
        let e = Epoch(self.next_epoch);
        self.next_epoch += 1;
        for c in &self.channels {
            self.published.insert((c.clone(), e), Vec::new());
        }
        e
    }

    fn apply(&mut self, op: &MOp) {
        let n = self.peers.len();
        match *op {
            MOp::Publish(k, len) => {
                let c = self.channels[k % self.channels.len()].clone();
                let epoch = self.epoch_of(&c);
                let data = Bytes::from(vec![b'a' + len; usize::from(len)]);
                if let Ok(seq) = self.hub.publish(self.now, &c, data.clone()) {
                    let log = self.published.get_mut(&(c, epoch)).unwrap();
                    log.push(data);
                    assert_eq!(seq.0 as usize, log.len());
                }
            }
            MOp::Advance(d) => self.advance(Duration::from_millis(d)),
            MOp::Abort(i) => {
                let p = &mut self.peers[i % n];
                if let Some(id) = p.in_flight.take() {
                    self.hub.handle_abort(self.now, id);
                    p.machine.handle_error(self.now);
                }
            }
            MOp::Abandon(i) => {
                let p = &mut self.peers[i % n];
                if p.in_flight.take().is_some() {
                    p.machine.handle_error(self.now);
                }
            }
            MOp::Lose(i) => self.peers[i % n].lose_next = true,
            MOp::Reset(k) => {
                let c = self.channels[k % self.channels.len()].clone();
                let e = self.fresh_epoch();
                self.hub.reset_channel(self.now, &c, e);
            }
            MOp::Restart => {
                let e = self.fresh_epoch();
                self.hub = Hub::new(self.config, e);
                for p in &mut self.peers {
                    if p.in_flight.take().is_some() {
                        p.machine.handle_error(self.now);
                    }
                }
            }
        }
        self.step();
    }

    fn settle(&mut self) {
        for p in &mut self.peers {
            p.lose_next = false;
        }
        self.step();
        for _ in 0..10_000 {
            let done = self.peers.iter().all(|p| {
                p.expect.iter().all(|(c, &(e, next))| {
                    let head = self
                        .hub
                        .channel(c)
                        .map_or(Cursor::start_of(self.hub.epoch()), |x| x.head());
                    head.epoch == e && head.seq.0 + 1 == next
                })
            });
            if done {
                return;
            }
            let next = self
                .peers
                .iter()
                .filter_map(|p| p.machine.poll_timeout())
                .chain(self.hub.poll_timeout())
                .min()
                .unwrap_or(self.now + Duration::from_millis(1));
            let d = next
                .saturating_duration_since(self.now)
                .max(Duration::from_millis(1));
            self.advance(d);
        }
        panic!("multi clients never caught up");
    }
}

#[derive(Clone, Debug)]
enum MOp {
    Publish(usize, u8),
    Advance(u64),
    Abort(usize),
    Abandon(usize),
    Lose(usize),
    Reset(usize),
    Restart,
}

fn mop() -> impl Strategy<Value = MOp> {
    prop_oneof![
        8 => (0usize..3, 1u8..16).prop_map(|(k, l)| MOp::Publish(k, l)),
        4 => prop_oneof![0u64..50, 0u64..40_000].prop_map(MOp::Advance),
        1 => (0usize..3).prop_map(MOp::Abort),
        1 => (0usize..3).prop_map(MOp::Abandon),
        1 => (0usize..3).prop_map(MOp::Lose),
        1 => (0usize..3).prop_map(MOp::Reset),
        1 => Just(MOp::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), max_shrink_iters: 4096, ..ProptestConfig::default() })]

    #[test]
    fn multi_channel_never_silent_loss(
        ops in proptest::collection::vec(mop(), 0..100),
        clients in 1usize..4,
        nchannels in 1usize..4,
        max_messages in 1usize..8,
        reject in any::<bool>(),
        coalesce_ms in prop_oneof![Just(0u64), 1u64..20],
        batch in 1usize..5,
        seed in any::<u64>(),
    ) {
        let mut c = HubConfig::default();
        c.channel.max_messages = max_messages;
        c.channel.max_bytes = 48;
        if reject {
            c.channel.overflow = longpoll_proto::Overflow::RejectPublish;
        }
        c.coalesce = Duration::from_millis(coalesce_ms);
        c.max_batch_messages = batch;
        let mut world = MultiWorld::new(c, clients, nchannels, seed);
        world.step();
        for op in &ops {
            world.apply(op);
        }
        world.settle();
    }
}

#[test]
fn superseded_multi_polls_do_not_leave_made_up_channels_behind() {
    let mut hub = Hub::new(HubConfig::default(), Epoch(1));
    for i in 0..20 {
        hub.handle_multi_poll(
            ms(i),
            multi(
                "a",
                vec![sub("shared", None), sub(&format!("junk{i}"), None)],
            ),
        );
        drain(&mut hub);
        assert_eq!(hub.channels(), 2, "round {i}");
        assert_eq!(hub.held_polls(), 1);
    }
    // The held poll still waits on both of its channels.
    hub.publish(ms(100), &ch("junk19"), Bytes::from_static(b"x"))
        .unwrap();
    assert_eq!(answer_channels(&drain(&mut hub)[0].outcome), ["junk19"]);
}

/// `PROPTEST_CASES` overrides the default number of cases (for longer runs).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
