//! Client machines and the hub in simulated conversations on virtual time (a `World` of a
//! hub and several clients, every answer travelling through the HTTP mapping), plus the
//! proptest model check: under random publishes, polls, deadlines, aborts, abandoned and
//! duplicate requests, lost responses, channel resets and hub restarts, every client
//! receives every published message exactly once and in order, or is told of a gap or
//! reset covering exactly what it missed.

use bytes::Bytes;
use core::time::Duration;
use longpoll_proto::http::{self, ParseLimits};
use longpoll_proto::{
    ChannelName, Client, ClientConfig, ClientEvent, ClientId, Cursor, Epoch, Hub, HubConfig,
    Instant, Overflow, PollId, SplitMix64,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// One client, its connection state as the driver sees it, and the checker of what its
/// application received.
struct Peer {
    id: ClientId,
    machine: Client<SplitMix64>,
    /// The hub poll id of the request the client is waiting on.
    in_flight: Option<PollId>,
    /// The next response to this client is lost on the way (connection reset).
    lose_next: bool,
    /// Checker: the epoch the application is in and the next seq it expects.
    epoch: Epoch,
    expected: u64,
    received: usize,
    gaps: u64,
    resets: usize,
    /// Batches this client already processed, to replay (at-least-once delivery).
    delivered: Vec<longpoll_proto::Outcome>,
}

struct World {
    hub: Hub,
    config: HubConfig,
    peers: Vec<Peer>,
    now: Instant,
    channel: ChannelName,
    next_epoch: u64,
    /// Every accepted publish, per epoch: `published[epoch][seq - 1]`.
    published: BTreeMap<Epoch, Vec<Bytes>>,
}

impl World {
    fn new(config: HubConfig, clients: usize, seed: u64) -> Self {
        let epoch = Epoch(100);
        let client_config = ClientConfig::default();
        let peers = (0..clients)
            .map(|i| Peer {
                id: ClientId::new(&format!("client-{i}")).unwrap(),
                machine: Client::new(
                    Instant::ZERO,
                    client_config,
                    SplitMix64::new(seed ^ i as u64),
                    Some(Cursor::start_of(epoch)),
                ),
                in_flight: None,
                lose_next: false,
                epoch,
                expected: 1,
                received: 0,
                gaps: 0,
                resets: 0,
                delivered: Vec::new(),
            })
            .collect();
        World {
            hub: Hub::new(config, epoch),
            config,
            peers,
            now: Instant::ZERO,
            channel: ChannelName::new("chan").unwrap(),
            next_epoch: 101,
            published: BTreeMap::from([(epoch, Vec::new())]),
        }
    }

    fn current_epoch(&self) -> Epoch {
        self.hub
            .channel(&self.channel)
            .map_or(self.hub.epoch(), |c| c.epoch())
    }

    /// Sends due polls and delivers answers until nothing moves (the driver's loop).
    fn step(&mut self) {
        for round in 0.. {
            // Without time passing, a correct exchange settles in a few rounds; a server and
            // client answering each other forever (e.g. empty batches) is a livelock.
            assert!(round < 1_000, "livelock: polls answered at once forever");
            let mut progress = false;
            for i in 0..self.peers.len() {
                if let Some(next) = self.peers[i].machine.poll_request(self.now) {
                    let query = http::poll_query(&self.channel, next.cursor, next.timeout);
                    let id = self.peers[i].id.clone();
                    let headers = [(http::CLIENT_HEADER, id.as_str().as_bytes())];
                    let request = http::parse_poll_request(&query, headers).unwrap();
                    self.peers[i].in_flight = Some(self.hub.handle_poll(self.now, request));
                    progress = true;
                }
            }
            while let Some(response) = self.hub.poll_response() {
                progress = true;
                let Some(i) = self
                    .peers
                    .iter()
                    .position(|p| p.in_flight == Some(response.poll))
                else {
                    continue; // an abandoned connection: nobody reads it
                };
                self.peers[i].in_flight = None;
                if std::mem::take(&mut self.peers[i].lose_next) {
                    self.peers[i].machine.handle_error(self.now);
                    continue;
                }
                let rendered = http::render_response(&response.outcome);
                let outcome = http::parse_poll_response(
                    rendered.status,
                    rendered.headers.iter().map(|(n, v)| (*n, v.as_bytes())),
                    &rendered.body,
                    &ParseLimits::default(),
                )
                .unwrap();
                if matches!(outcome, longpoll_proto::Outcome::Batch { .. }) {
                    let d = &mut self.peers[i].delivered;
                    d.push(outcome.clone());
                    if d.len() > 8 {
                        d.remove(0);
                    }
                }
                self.peers[i].machine.handle_response(self.now, outcome);
                self.check_events(i);
            }
            while self.hub.poll_event().is_some() {}
            self.hub.check_invariants().unwrap();
            if !progress {
                break;
            }
        }
    }

    /// The invariant, checked on every event the application sees.
    fn check_events(&mut self, i: usize) {
        let current = self.current_epoch();
        let oldest = self
            .hub
            .channel(&self.channel)
            .map(|c| (c.epoch(), c.oldest()));
        let peer = &mut self.peers[i];
        while let Some(event) = peer.machine.poll_event() {
            match event {
                ClientEvent::Message { epoch, message } => {
                    assert_eq!(epoch, peer.epoch, "message from another epoch");
                    assert_eq!(message.seq.0, peer.expected, "out of order or duplicate");
                    let log = &self.published[&epoch];
                    assert_eq!(
                        log.get(message.seq.0 as usize - 1),
                        Some(&message.data),
                        "payload"
                    );
                    peer.expected += 1;
                    peer.received += 1;
                }
                ClientEvent::Gap { epoch, from, to } => {
                    assert_eq!(epoch, peer.epoch);
                    assert_eq!(from.0, peer.expected, "gap must start where the client is");
                    assert!(to >= from);
                    assert!(
                        to.0 as usize <= self.published[&epoch].len(),
                        "gap past the head"
                    );
                    // Only messages that really left history are reported missing.
                    if let Some((e, oldest)) = oldest {
                        if e == epoch {
                            assert!(to < oldest, "gap {from}..={to} but oldest is {oldest}");
                        }
                    }
                    peer.gaps += to.0 - from.0 + 1;
                    peer.expected = to.0 + 1;
                }
                ClientEvent::Reset { previous, epoch } => {
                    assert_eq!(previous, peer.epoch);
                    assert_ne!(previous, current, "reset although history was kept");
                    assert_eq!(epoch, current, "reset to the live epoch");
                    peer.epoch = epoch;
                    peer.expected = 1;
                    peer.resets += 1;
                }
                ClientEvent::Rejected { reason } => panic!("unexpected rejection {reason}"),
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

    fn publish(&mut self, data: Bytes) {
        let epoch = self.current_epoch();
        if let Ok(seq) = self.hub.publish(self.now, &self.channel, data.clone()) {
            let log = self.published.entry(epoch).or_default();
            log.push(data);
            assert_eq!(seq.0 as usize, log.len());
        }
        self.step();
    }

    fn fresh_epoch(&mut self) -> Epoch {
        let e = Epoch(self.next_epoch);
        self.next_epoch += 1;
        self.published.insert(e, Vec::new());
        e
    }

    /// The process restarts: all state lost, connections fail.
    fn restart(&mut self) {
        let epoch = self.fresh_epoch();
        self.hub = Hub::new(self.config, epoch);
        for p in &mut self.peers {
            if p.in_flight.take().is_some() {
                p.machine.handle_error(self.now);
            }
        }
        self.step();
    }

    fn apply(&mut self, op: &Op) {
        let n = self.peers.len();
        match *op {
            Op::Publish(len) => self.publish(Bytes::from(vec![len; usize::from(len)])),
            Op::Advance(ms) => self.advance(Duration::from_millis(ms)),
            Op::Abort(i) => {
                let p = &mut self.peers[i % n];
                if let Some(id) = p.in_flight.take() {
                    self.hub.handle_abort(self.now, id);
                    p.machine.handle_error(self.now);
                }
                self.step();
            }
            Op::Abandon(i) => {
                // The client gives up on a request the server still holds.
                let p = &mut self.peers[i % n];
                if p.in_flight.take().is_some() {
                    p.machine.handle_error(self.now);
                }
                self.step();
            }
            Op::Duplicate(i) => {
                // The same request arrives twice (a retrying proxy): the client reads the
                // second connection only.
                let p = &mut self.peers[i % n];
                if p.in_flight.is_some() {
                    let query = http::poll_query(&self.channel, p.machine.cursor(), None);
                    let headers = [(http::CLIENT_HEADER, p.id.as_str().as_bytes())];
                    let request = http::parse_poll_request(&query, headers).unwrap();
                    p.in_flight = Some(self.hub.handle_poll(self.now, request));
                }
                self.step();
            }
            Op::LoseResponse(i) => self.peers[i % n].lose_next = true,
            Op::Replay(i, k) => {
                // The in-flight poll is answered with a batch the client already had (a
                // duplicate delivery); the server's poll is orphaned.
                let p = &mut self.peers[i % n];
                let epoch = p.machine.cursor().map(|c| c.epoch);
                let old = p
                    .delivered
                    .iter()
                    .rev()
                    .filter(|o| matches!(o, longpoll_proto::Outcome::Batch { next, .. } if Some(next.epoch) == epoch))
                    .nth(k)
                    .cloned();
                if let (Some(_), Some(old)) = (p.in_flight, old) {
                    p.in_flight = None;
                    p.machine.handle_response(self.now, old);
                    self.check_events(i % n);
                }
                self.step();
            }
            Op::ResetChannel => {
                let epoch = self.fresh_epoch();
                self.hub.reset_channel(self.now, &self.channel, epoch);
                self.step();
            }
            Op::Restart => self.restart(),
        }
    }

    /// No more faults: run until every client has caught up with the head.
    fn settle(&mut self) {
        for p in &mut self.peers {
            p.lose_next = false;
        }
        self.step();
        for _ in 0..10_000 {
            let head = self.hub.channel(&self.channel).map(|c| c.head());
            let caught_up = self
                .peers
                .iter()
                .all(|p| head.is_some_and(|h| p.epoch == h.epoch && p.expected == h.seq.0 + 1));
            if caught_up {
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
        panic!("clients never caught up");
    }

    /// Final accounting: everything published in the live epoch was received or reported.
    fn check_complete(&self) {
        let epoch = self.current_epoch();
        let total = self.published[&epoch].len() as u64;
        for p in &self.peers {
            assert_eq!(p.epoch, epoch);
            assert_eq!(
                p.expected - 1,
                total,
                "received + gaps must cover the epoch"
            );
            assert_eq!(p.machine.cursor().map(|c| c.seq.0), Some(total));
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Publish(u8),
    Advance(u64),
    Abort(usize),
    Abandon(usize),
    Duplicate(usize),
    LoseResponse(usize),
    Replay(usize, usize),
    ResetChannel,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => op_keeping_history(),
        1 => Just(Op::ResetChannel),
        1 => Just(Op::Restart),
    ]
}

/// Every operation except those that lose history (reset, restart).
fn op_keeping_history() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1u8..20).prop_map(Op::Publish),
        4 => prop_oneof![0u64..50, 0u64..40_000].prop_map(Op::Advance),
        1 => (0usize..4).prop_map(Op::Abort),
        1 => (0usize..4).prop_map(Op::Abandon),
        1 => (0usize..4).prop_map(Op::Duplicate),
        1 => (0usize..4).prop_map(Op::LoseResponse),
        2 => (0usize..4, 0usize..3).prop_map(|(i, k)| Op::Replay(i, k)),
    ]
}

fn config(max_messages: usize, reject: bool, coalesce_ms: u64, batch: usize) -> HubConfig {
    let mut c = HubConfig::default();
    c.channel.max_messages = max_messages;
    c.channel.max_bytes = 64;
    c.channel.overflow = if reject {
        Overflow::RejectPublish
    } else {
        Overflow::EvictOldest
    };
    c.coalesce = Duration::from_millis(coalesce_ms);
    c.max_batch_messages = batch;
    c.session_ttl = Duration::from_secs(45);
    c
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(256),
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_silent_loss(
        ops in proptest::collection::vec(op(), 0..120),
        clients in 1usize..4,
        max_messages in 1usize..12,
        reject in any::<bool>(),
        coalesce_ms in prop_oneof![Just(0u64), 1u64..20],
        batch in 1usize..6,
        seed in any::<u64>(),
    ) {
        let mut world = World::new(config(max_messages, reject, coalesce_ms, batch), clients, seed);
        world.step();
        for op in &ops {
            world.apply(op);
        }
        world.settle();
        world.check_complete();
    }

    /// With history large enough and no restarts, nothing is ever missed: no gap, no reset.
    #[test]
    fn lossless_when_history_suffices(
        ops in proptest::collection::vec(op_keeping_history(), 0..120),
        clients in 1usize..4,
        seed in any::<u64>(),
    ) {
        let mut c = config(1000, false, 0, 4);
        c.channel.max_bytes = 1 << 20;
        let mut world = World::new(c, clients, seed);
        world.step();
        for op in &ops {
            world.apply(op);
        }
        world.settle();
        world.check_complete();
        for p in &world.peers {
            prop_assert_eq!((p.gaps, p.resets), (0, 0));
            prop_assert_eq!(p.received, world.published[&world.current_epoch()].len());
        }
    }
}

#[test]
fn conversation_publish_timeout_abort_restart() {
    let mut world = World::new(config(4, false, 0, 8), 1, 7);
    world.step();
    let held = world.peers[0].in_flight.expect("first poll is held");
    assert!(world.hub.is_held(held));

    // A publish releases the held poll; the client re-polls at once.
    world.publish(Bytes::from_static(b"one"));
    assert_eq!(world.peers[0].received, 1);
    assert_eq!(world.peers[0].machine.cursor(), Some(Cursor::new(100, 1)));
    assert_eq!(world.hub.held_polls(), 1);

    // 25 s later the poll times out empty and is re-issued with the same cursor.
    world.advance(Duration::from_secs(25));
    assert_eq!(world.peers[0].machine.cursor(), Some(Cursor::new(100, 1)));
    assert_eq!(world.hub.held_polls(), 1);

    // The connection drops: the client backs off with jitter, then polls again.
    world.apply(&Op::Abort(0));
    assert_eq!(world.hub.held_polls(), 0);
    let retry_at = world.peers[0].machine.poll_timeout().expect("backing off");
    let waited = retry_at.saturating_duration_since(world.now);
    assert!(waited >= Duration::from_millis(250) && waited <= Duration::from_millis(500));
    world.publish(Bytes::from_static(b"two")); // published while the client is away
    world.advance(waited);
    assert_eq!(world.peers[0].received, 2, "nothing lost across the abort");

    // Many publishes while the client is away overflow history: a gap, then the rest.
    world.apply(&Op::Abort(0));
    for i in 0..6u8 {
        world.publish(Bytes::from(vec![i]));
    }
    world.settle();
    assert_eq!(world.peers[0].gaps, 2);
    assert_eq!(world.peers[0].received, 6);

    // The server restarts with a new epoch: the client is told, then continues.
    world.restart();
    world.publish(Bytes::from_static(b"after"));
    world.settle();
    assert_eq!(world.peers[0].resets, 1);
    assert_eq!(world.peers[0].machine.cursor(), Some(Cursor::new(101, 1)));
    world.check_complete();
}

#[test]
fn backoff_grows_and_is_capped() {
    let mut c = ClientConfig::default();
    c.jitter = false;
    c.backoff_initial = Duration::from_millis(100);
    c.backoff_max = Duration::from_millis(1000);
    let mut client = Client::new(Instant::ZERO, c, SplitMix64::new(0), None);
    let mut now = Instant::ZERO;
    let mut waits = Vec::new();
    for _ in 0..6 {
        assert!(client.poll_request(now).is_some());
        assert!(client.poll_request(now).is_none(), "one poll in flight");
        client.handle_error(now);
        let at = client.poll_timeout().unwrap();
        waits.push(at.saturating_duration_since(now).as_millis());
        assert!(client.poll_request(now).is_none(), "backing off");
        now = at;
    }
    assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
    // A good response resets the backoff.
    client.poll_request(now).unwrap();
    client.handle_response(
        now,
        longpoll_proto::Outcome::Empty {
            cursor: Cursor::new(1, 0),
            reason: longpoll_proto::EmptyReason::Timeout,
        },
    );
    assert_eq!(client.cursor(), Some(Cursor::new(1, 0)));
    client.poll_request(now).unwrap();
    client.handle_error(now);
    assert_eq!(
        client.poll_timeout(),
        Some(now + Duration::from_millis(100))
    );
}

/// `PROPTEST_CASES` overrides the default number of cases (for longer runs).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
