//! Model check of the hub: random publishes on two channels, subscribers from random
//! cursors (current and old epochs, some past the head), subscribers that never read, read
//! slowly or vanish and come back with their cursor, restarts (new epoch), under both
//! slow-subscriber policies with tiny histories and queues.
//!
//! Checked on every item: it continues the subscriber's cursor exactly (a message at
//! `seq + 1` with the data published there, a gap starting at `seq + 1` over messages the
//! history really no longer holds, or a reset from a stale epoch to the start of a newer
//! one). Checked at the end: every live subscriber reaches the channel's head. Together:
//! each message after a subscriber's start is seen exactly once, in order, or covered by
//! an explicit gap or reset.

use bytes::Bytes;
use futures_util::FutureExt;
use proptest::prelude::*;
use rt_tokio::hub::{
    ChannelName, Cursor, Epoch, Hub, HubConfig, Item, MemoryBackend, MemoryConfig, RecvError,
    SlowSubscriber, SubscribeError, Subscription,
};

#[derive(Clone, Debug)]
enum Op {
    Publish {
        channel: usize,
        count: u8,
    },
    Subscribe {
        slot: usize,
        channel: usize,
        from: From,
    },
    Read {
        slot: usize,
        max: u8,
    },
    Vanish {
        slot: usize,
    },
    ComeBack {
        slot: usize,
    },
    Restart,
    Yield,
}

#[derive(Clone, Copy, Debug)]
enum From {
    Now,
    /// `back` messages before the head of the current epoch (saturating at 0); up to two
    /// past the head.
    Current {
        back: i8,
    },
    /// A cursor of the previous epoch.
    Previous {
        seq: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let from = prop_oneof![
        Just(From::Now),
        (-2i8..12).prop_map(|back| From::Current { back }),
        (0u8..10).prop_map(|seq| From::Previous { seq }),
    ];
    prop_oneof![
        4 => (0..2usize, 1u8..6).prop_map(|(channel, count)| Op::Publish { channel, count }),
        2 => (0..4usize, 0..2usize, from).prop_map(|(slot, channel, from)| Op::Subscribe { slot, channel, from }),
        3 => (0..4usize, 0u8..6).prop_map(|(slot, max)| Op::Read { slot, max }),
        1 => (0..4usize).prop_map(|slot| Op::Vanish { slot }),
        1 => (0..4usize).prop_map(|slot| Op::ComeBack { slot }),
        1 => Just(Op::Restart),
        2 => Just(Op::Yield),
    ]
}

struct Sub {
    channel: usize,
    sub: Option<Subscription>,
    cursor: Cursor,
    cut_off: bool,
}

struct World {
    hub: Hub,
    backend: MemoryBackend,
    channels: [ChannelName; 2],
    epochs: Vec<Epoch>,
    policy: SlowSubscriber,
    subs: Vec<Option<Sub>>,
}

fn data_of(channel: usize, cursor: Cursor) -> Bytes {
    Bytes::from(format!("{channel}/{cursor}"))
}

impl World {
    fn epoch(&self) -> Epoch {
        *self.epochs.last().unwrap()
    }

    async fn head(&self, channel: usize) -> Cursor {
        self.hub.head(&self.channels[channel]).await.unwrap()
    }

    /// Checks one item against the subscriber's cursor and moves it.
    async fn check(
        &mut self,
        slot: usize,
        item: Result<Item, RecvError>,
    ) -> Result<(), TestCaseError> {
        let current = self.epoch();
        let (channel, cursor) = {
            let s = self.subs[slot].as_ref().unwrap();
            (s.channel, s.cursor)
        };
        let oldest = {
            let stats = self.hub.stats().await;
            stats
                .channels
                .iter()
                .find(|c| c.info.name == self.channels[channel])
                .map(|c| c.info.oldest)
        };
        let s = self.subs[slot].as_mut().unwrap();
        match item {
            Ok(Item::Message { cursor: c, data }) => {
                prop_assert_eq!(
                    c.epoch,
                    cursor.epoch,
                    "message from another epoch without a reset"
                );
                prop_assert_eq!(c.seq, cursor.seq.next(), "skipped or repeated");
                prop_assert_eq!(data, data_of(channel, c));
                s.cursor = c;
            }
            Ok(Item::Gap {
                missed_from,
                missed_to,
                resume,
            }) => {
                prop_assert_eq!(missed_from, cursor.seq.next());
                prop_assert!(missed_to >= missed_from);
                prop_assert_eq!(
                    resume,
                    Cursor {
                        epoch: cursor.epoch,
                        seq: missed_to
                    }
                );
                if cursor.epoch == current {
                    // A gap only for messages really gone from history.
                    let oldest = oldest.expect("a channel with a gap has history");
                    prop_assert!(
                        missed_to < oldest,
                        "gap over held messages: {missed_to} < {oldest}"
                    );
                }
                s.cursor = resume;
            }
            Ok(Item::Reset { previous, resume }) => {
                prop_assert_eq!(previous, cursor.epoch);
                prop_assert_ne!(cursor.epoch, current, "reset while the epoch is current");
                prop_assert_eq!(resume.seq.0, 0);
                prop_assert!(self.epochs.contains(&resume.epoch));
                s.cursor = resume;
            }
            Ok(other) => prop_assert!(false, "unknown item {other:?}"),
            Err(RecvError::SlowSubscriber) => {
                prop_assert_eq!(self.policy, SlowSubscriber::Disconnect);
                s.cut_off = true;
                s.sub = None;
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
        Ok(())
    }

    async fn read(&mut self, slot: usize, max: usize) -> Result<usize, TestCaseError> {
        let mut n = 0;
        while n < max {
            let Some(s) = self.subs[slot].as_mut() else {
                break;
            };
            let Some(sub) = s.sub.as_mut() else { break };
            let Some(item) = sub.recv().now_or_never() else {
                break;
            };
            self.check(slot, item).await?;
            n += 1;
        }
        Ok(n)
    }

    async fn subscribe(
        &mut self,
        slot: usize,
        channel: usize,
        from: Option<Cursor>,
    ) -> Result<(), TestCaseError> {
        let head = self.head(channel).await;
        match self.hub.subscribe(&self.channels[channel], from).await {
            Ok(sub) => {
                prop_assert_eq!(sub.cursor(), from.unwrap_or(head));
                self.subs[slot] = Some(Sub {
                    channel,
                    cursor: sub.cursor(),
                    sub: Some(sub),
                    cut_off: false,
                });
            }
            Err(SubscribeError::CursorAhead { cursor, head: h }) => {
                prop_assert_eq!(h, head);
                prop_assert!(cursor.epoch == head.epoch && cursor.seq > head.seq);
            }
            Err(e) => prop_assert!(false, "subscribe failed: {e}"),
        }
        Ok(())
    }
}

async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

fn run(
    ops: Vec<Op>,
    history: usize,
    queue: usize,
    policy: SlowSubscriber,
) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut memory = MemoryConfig::default();
        memory.epoch = Some(Epoch(1));
        memory.max_messages = history;
        let backend = MemoryBackend::new(memory);
        let mut config = HubConfig::default();
        config.queue_messages = queue;
        config.slow_subscriber = policy;
        config.catch_up_messages = 2;
        let mut w = World {
            hub: Hub::with_config(backend.clone(), config),
            backend,
            channels: [ChannelName::new("a").unwrap(), ChannelName::new("b").unwrap()],
            epochs: vec![Epoch(1)],
            policy,
            subs: (0..4).map(|_| None).collect(),
        };
        for op in ops {
            match op {
                Op::Publish { channel, count } => {
                    for _ in 0..count {
                        let head = w.head(channel).await;
                        let next = Cursor { epoch: head.epoch, seq: head.seq.next() };
                        let got = w.hub.publish(&w.channels[channel], data_of(channel, next)).await.unwrap();
                        prop_assert_eq!(got, next);
                    }
                }
                Op::Subscribe { slot, channel, from } => {
                    let head = w.head(channel).await;
                    let from = match from {
                        From::Now => None,
                        From::Current { back } => Some(Cursor {
                            epoch: head.epoch,
                            seq: rt_tokio::hub::Seq((head.seq.0 as i64 - back as i64).max(0) as u64),
                        }),
                        From::Previous { seq } => {
                            let e = w.epochs.len();
                            let epoch = if e >= 2 { w.epochs[e - 2] } else { Epoch(0) };
                            Some(Cursor::new(epoch.0, seq as u64))
                        }
                    };
                    w.subscribe(slot, channel, from).await?;
                }
                Op::Read { slot, max } => {
                    w.read(slot, max as usize).await?;
                }
                Op::Vanish { slot } => {
                    if let Some(s) = w.subs[slot].as_mut() {
                        s.sub = None; // dropped: unsubscribed, its cursor kept
                    }
                }
                Op::ComeBack { slot } => {
                    if let Some(s) = w.subs[slot].as_ref() {
                        if s.sub.is_none() {
                            let (channel, cursor) = (s.channel, s.cursor);
                            w.subscribe(slot, channel, Some(cursor)).await?;
                        }
                    }
                }
                Op::Restart => {
                    let next = Epoch(w.epoch().0 + 1);
                    w.epochs.push(next);
                    w.backend.reset(next);
                }
                Op::Yield => settle().await,
            }
        }
        // Everyone still subscribed catches up to the head: nothing was silently skipped.
        for slot in 0..4 {
            let Some(s) = w.subs[slot].as_ref() else { continue };
            if s.sub.is_none() {
                continue;
            }
            let head = w.head(s.channel).await;
            for _ in 0..200 {
                settle().await;
                w.read(slot, usize::MAX).await?;
                match w.subs[slot].as_ref() {
                    Some(s) if s.sub.is_some() && s.cursor != head => continue,
                    _ => break,
                }
            }
            let s = w.subs[slot].as_ref().unwrap();
            if s.sub.is_some() {
                prop_assert_eq!(s.cursor, head, "slot {} did not reach the head", slot);
            } else {
                prop_assert!(s.cut_off);
            }
        }
        // Queues never exceeded their bound.
        prop_assert!(w.hub.stats().await.longest_queue <= queue);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_subscriber_sees_each_message_once_or_an_explicit_gap_or_reset(
        ops in proptest::collection::vec(op(), 1..60),
        history in 1usize..8,
        queue in 1usize..5,
        disconnect in any::<bool>(),
    ) {
        let policy = if disconnect { SlowSubscriber::Disconnect } else { SlowSubscriber::Gap };
        run(ops, history, queue, policy)?;
    }

    /// With history and queues large enough and no restarts, nobody sees a gap or a reset.
    #[test]
    fn with_enough_room_nothing_is_lost(
        ops in proptest::collection::vec(op().prop_filter("no restart", |o| !matches!(o, Op::Restart | Op::Subscribe { from: From::Previous { .. }, .. })), 1..60),
    ) {
        // 60 ops × 5 publishes fit in 1000; the queue holds them all.
        run(ops, 1000, 1000, SlowSubscriber::Gap)?;
    }
}
