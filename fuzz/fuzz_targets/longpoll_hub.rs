//! The long-poll `Hub` under arbitrary operations: publishes, polls with the cursor a
//! well-behaved client holds (several clients and channels), duplicate polls, aborts, time
//! passing (hold deadlines, coalescing, session expiry), channel resets and hub restarts
//! with a new epoch, under small limits and every overflow and duplicate-poll policy.
//!
//! Invariants: every answer is checked against the cursor its poll carried: a batch holds
//! the published messages `cursor+1, cursor+2, ...` with their exact payloads and ends at
//! `next`; a gap starts at `cursor+1` and covers only messages that really left history; a
//! reset names the poll's epoch after the channel moved to another one; an empty answer
//! repeats the cursor; a well-behaved client is never told its cursor is ahead. Each client
//! keeps what it learned in order; at the end it catches up, and its log must account for
//! every published message of every epoch it was in exactly once (delivered, or covered by
//! a gap, or cut off by a reset), ending at the channel's head.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use longpoll_proto::{
    ChannelName, ClientId, Cursor, DuplicatePoll, Epoch, Hub, HubConfig, Instant, Outcome,
    Overflow, PollId, PollRequest, RejectReason, Seq,
};
use std::collections::{BTreeMap, HashMap};

const CLIENTS: usize = 3;
const CHANNELS: usize = 2;

#[derive(Arbitrary, Debug)]
struct Setup {
    max_messages: u8,
    max_bytes: u16,
    reject_publish: bool,
    max_batch_messages: u8,
    max_batch_bytes: u16,
    duplicate: u8,
    max_polls_per_client: u8,
    coalesce_ms: u8,
    session_ttl_ms: u16,
    hold_ms: u16,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Publish {
        ch: u8,
        len: u8,
    },
    Poll {
        client: u8,
        ch: u8,
        timeout_ms: Option<u16>,
    },
    Abort {
        client: u8,
        ch: u8,
    },
    Advance {
        ms: u16,
    },
    ResetChannel {
        ch: u8,
    },
    Restart,
}

#[derive(Arbitrary, Debug)]
struct Input {
    setup: Setup,
    ops: Vec<Op>,
}

/// What a client learned, in order.
#[derive(Debug, Clone, PartialEq)]
enum Learned {
    Message(Epoch, Seq),
    Gap(Epoch, Seq, Seq),
    Reset(Epoch, Epoch),
}

struct Sub {
    /// Where the client starts (its first cursor) and where it is.
    start: Cursor,
    cursor: Cursor,
    log: Vec<Learned>,
}

struct World {
    hub: Hub,
    config: HubConfig,
    now: Instant,
    next_epoch: u64,
    /// Published payloads by (channel, epoch, seq).
    published: HashMap<(usize, u64, u64), Bytes>,
    /// In-flight polls: id → (client, channel, cursor sent).
    polls: BTreeMap<PollId, (usize, usize, Cursor)>,
    subs: Vec<Vec<Sub>>,
    names: Vec<ChannelName>,
    clients: Vec<ClientId>,
    counter: u64,
}

impl World {
    fn channel_epoch(&self, ch: usize) -> Option<Epoch> {
        self.hub.channel(&self.names[ch]).map(|c| c.epoch())
    }

    /// Drains the hub's answers and checks each against its poll's cursor.
    fn drain(&mut self) {
        while let Some(resp) = self.hub.poll_response() {
            let Some((client, ch, sent)) = self.polls.remove(&resp.poll) else {
                panic!("answer to unknown or already answered poll {:?}", resp.poll);
            };
            self.check_and_apply(client, ch, sent, resp.outcome);
        }
        while self.hub.poll_event().is_some() {}
        for id in self.polls.keys() {
            assert!(
                self.hub.is_held(*id),
                "poll {id:?} neither answered nor held"
            );
        }
        assert_eq!(self.hub.held_polls(), self.polls.len());
    }

    fn check_and_apply(&mut self, client: usize, ch: usize, sent: Cursor, outcome: Outcome) {
        let channel = self.hub.channel(&self.names[ch]);
        match outcome {
            Outcome::Batch { messages, next } => {
                assert!(!messages.is_empty(), "empty batch");
                assert_eq!(next.epoch, sent.epoch, "batch in another epoch");
                assert!(messages.len() <= self.config.max_batch_messages.max(1));
                for (want, m) in (sent.seq.0 + 1..).zip(&messages) {
                    assert_eq!(
                        m.seq.0, want,
                        "batch after {sent} skips or repeats: {messages:?}"
                    );
                    let data = self.published.get(&(ch, sent.epoch.0, m.seq.0));
                    assert_eq!(data, Some(&m.data), "payload of {}:{}", sent.epoch, m.seq);
                }
                assert_eq!(next.seq, messages.last().map(|m| m.seq).unwrap_or(sent.seq));
                let sub = &mut self.subs[client][ch];
                if sub.cursor.epoch == next.epoch {
                    for m in &messages {
                        if m.seq > sub.cursor.seq {
                            assert_eq!(m.seq.0, sub.cursor.seq.0 + 1);
                            sub.log.push(Learned::Message(next.epoch, m.seq));
                            sub.cursor.seq = m.seq;
                        }
                    }
                }
            }
            Outcome::Gap {
                missed_from,
                missed_to,
                resume,
            } => {
                assert_eq!(
                    missed_from.0,
                    sent.seq.0 + 1,
                    "gap does not start after {sent}"
                );
                assert!(missed_to >= missed_from);
                assert_eq!(
                    resume,
                    Cursor {
                        epoch: sent.epoch,
                        seq: missed_to
                    }
                );
                let c = channel.expect("a gap from an existing channel");
                assert_eq!(c.epoch(), sent.epoch);
                assert!(c.oldest() > missed_to, "gap over messages still in history");
                let sub = &mut self.subs[client][ch];
                if sub.cursor.epoch == resume.epoch && missed_to > sub.cursor.seq {
                    let from = Seq(sub.cursor.seq.0 + 1);
                    sub.log.push(Learned::Gap(resume.epoch, from, missed_to));
                    sub.cursor = resume;
                }
            }
            Outcome::Reset { previous, resume } => {
                assert_eq!(previous, sent.epoch);
                assert_eq!(resume.seq, Seq(0));
                assert_ne!(resume.epoch, previous);
                // The channel is in the new epoch (or, never published and unused, was
                // dropped: recreated, it starts in the hub's epoch).
                let current = self.channel_epoch(ch).unwrap_or(self.hub.epoch());
                assert_eq!(current, resume.epoch);
                let sub = &mut self.subs[client][ch];
                if sub.cursor.epoch == previous {
                    sub.log.push(Learned::Reset(previous, resume.epoch));
                    sub.cursor = resume;
                }
            }
            Outcome::Empty { cursor, .. } => assert_eq!(cursor, sent),
            Outcome::Rejected { reason } => {
                assert_ne!(
                    reason,
                    RejectReason::CursorAhead,
                    "well-behaved cursor {sent} refused"
                );
            }
            other => panic!("unknown outcome {other:?}"),
        }
    }

    fn poll(&mut self, client: usize, ch: usize, timeout: Option<Duration>) -> PollId {
        let cursor = self.subs[client][ch].cursor;
        let id = self.hub.handle_poll(
            self.now,
            PollRequest {
                client: self.clients[client].clone(),
                channel: self.names[ch].clone(),
                cursor: Some(cursor),
                timeout,
            },
        );
        assert!(
            self.polls.insert(id, (client, ch, cursor)).is_none(),
            "poll id reused"
        );
        self.drain();
        id
    }
}

fn run(input: Input) {
    let s = &input.setup;
    let mut config = HubConfig::default();
    config.channel.max_messages = usize::from(s.max_messages % 16);
    config.channel.max_bytes = usize::from(s.max_bytes % 512);
    config.channel.max_message_bytes = 64;
    if s.reject_publish {
        config.channel.overflow = Overflow::RejectPublish;
    }
    config.max_batch_messages = usize::from(s.max_batch_messages % 8);
    config.max_batch_bytes = usize::from(s.max_batch_bytes % 256);
    config.duplicate_poll = match s.duplicate % 3 {
        0 => DuplicatePoll::Supersede,
        1 => DuplicatePoll::Reject,
        _ => DuplicatePoll::AllowBoth,
    };
    config.max_polls_per_client = usize::from(s.max_polls_per_client % 5);
    config.coalesce = Duration::from_millis(u64::from(s.coalesce_ms % 4) * 10);
    config.session_ttl = Duration::from_millis(u64::from(s.session_ttl_ms));
    config.hold = Duration::from_millis(u64::from(s.hold_ms));
    config.max_hold = Duration::from_millis(u64::from(s.hold_ms).max(1) * 2);

    let first_epoch = Epoch(1);
    let names: Vec<ChannelName> = (0..CHANNELS)
        .map(|i| ChannelName::new(&format!("ch{i}")).unwrap())
        .collect();
    let clients: Vec<ClientId> = (0..CLIENTS)
        .map(|i| ClientId::new(&format!("client-{i}")).unwrap())
        .collect();
    let start = Cursor::start_of(first_epoch);
    let mut w = World {
        hub: Hub::new(config, first_epoch),
        config,
        now: Instant::ZERO,
        next_epoch: 2,
        published: HashMap::new(),
        polls: BTreeMap::new(),
        subs: (0..CLIENTS)
            .map(|_| {
                (0..CHANNELS)
                    .map(|_| Sub {
                        start,
                        cursor: start,
                        log: Vec::new(),
                    })
                    .collect()
            })
            .collect(),
        names,
        clients,
        counter: 0,
    };

    for op in input.ops {
        match op {
            Op::Publish { ch, len } => {
                let ch = usize::from(ch) % CHANNELS;
                w.counter += 1;
                let mut data = format!("m{}", w.counter).into_bytes();
                data.resize(data.len().max(usize::from(len % 80)), b'.');
                let data = Bytes::from(data);
                let name = w.names[ch].clone();
                if let Ok(seq) = w.hub.publish(w.now, &name, data.clone()) {
                    let epoch = w.channel_epoch(ch).expect("published channel exists");
                    let c = w.hub.channel(&name).unwrap();
                    assert_eq!(c.head(), Cursor { epoch, seq });
                    assert!(c.len() <= config.channel.max_messages.max(1));
                    assert!(c.bytes() <= config.channel.max_bytes);
                    assert!(
                        w.published.insert((ch, epoch.0, seq.0), data).is_none(),
                        "seq {seq} published twice in epoch {epoch}"
                    );
                }
                w.drain();
            }
            Op::Poll {
                client,
                ch,
                timeout_ms,
            } => {
                let client = usize::from(client) % CLIENTS;
                let ch = usize::from(ch) % CHANNELS;
                let timeout = timeout_ms.map(|t| Duration::from_millis(u64::from(t)));
                w.poll(client, ch, timeout);
            }
            Op::Abort { client, ch } => {
                let client = usize::from(client) % CLIENTS;
                let ch = usize::from(ch) % CHANNELS;
                let ids: Vec<PollId> = w
                    .polls
                    .iter()
                    .filter(|(_, v)| v.0 == client && v.1 == ch)
                    .map(|(k, _)| *k)
                    .collect();
                for id in ids {
                    assert!(w.hub.handle_abort(w.now, id));
                    w.polls.remove(&id);
                    assert!(!w.hub.handle_abort(w.now, id));
                }
                w.drain();
            }
            Op::Advance { ms } => {
                w.now = w.now + Duration::from_millis(u64::from(ms));
                w.hub.handle_timeout(w.now);
                w.drain();
                if let Some(t) = w.hub.poll_timeout() {
                    assert!(t > w.now, "timer at {t:?} still due at {:?}", w.now);
                }
            }
            Op::ResetChannel { ch } => {
                let ch = usize::from(ch) % CHANNELS;
                let epoch = Epoch(w.next_epoch);
                w.next_epoch += 1;
                let name = w.names[ch].clone();
                let existed = w.hub.channel(&name).is_some();
                assert_eq!(w.hub.reset_channel(w.now, &name, epoch), existed);
                w.drain();
            }
            Op::Restart => {
                // The process restarts: history, sessions and held polls are gone (their
                // connections dropped); clients keep their cursors.
                let epoch = Epoch(w.next_epoch);
                w.next_epoch += 1;
                w.hub = Hub::new(config, epoch);
                w.polls.clear();
            }
        }
    }

    // Catch up: every client forgets its held polls, then polls until it is held at the head.
    let held: Vec<PollId> = w.polls.keys().copied().collect();
    for id in held {
        assert!(w.hub.handle_abort(w.now, id));
        w.polls.remove(&id);
    }
    for client in 0..CLIENTS {
        for ch in 0..CHANNELS {
            for _ in 0..10_000 {
                let before = w.subs[client][ch].cursor;
                let id = w.poll(client, ch, None);
                if w.hub.is_held(id) {
                    assert!(w.hub.handle_abort(w.now, id));
                    w.polls.remove(&id);
                    break;
                }
                assert_ne!(
                    w.subs[client][ch].cursor, before,
                    "catch-up made no progress"
                );
            }
            let sub = &w.subs[client][ch];
            // A never-published, unused channel may have been dropped: its head is then
            // the start of the hub's epoch.
            let head = w
                .hub
                .channel(&w.names[ch])
                .map_or(Cursor::start_of(w.hub.epoch()), |c| c.head());
            assert_eq!(
                sub.cursor, head,
                "client {client} did not catch up on ch{ch}"
            );
            // The log accounts for every message exactly once, in order.
            let mut pos = sub.start;
            for l in &sub.log {
                match *l {
                    Learned::Message(e, s) => {
                        assert_eq!((e, s.0), (pos.epoch, pos.seq.0 + 1), "{:?}", sub.log);
                        pos.seq = s;
                    }
                    Learned::Gap(e, from, to) => {
                        assert_eq!((e, from.0), (pos.epoch, pos.seq.0 + 1), "{:?}", sub.log);
                        pos.seq = to;
                    }
                    Learned::Reset(prev, new) => {
                        assert_eq!(prev, pos.epoch);
                        pos = Cursor::start_of(new);
                    }
                }
            }
            assert_eq!(pos, head);
        }
    }
}

fuzz_target!(|input: Input| run(input));
