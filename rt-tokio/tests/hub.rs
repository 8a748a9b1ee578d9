//! The hub on its own (no sockets): resume at the seam, slow subscribers under both
//! policies, bounded memory under a burst, resets, limits, stats.

use std::time::Duration;

use bytes::Bytes;
use rt_tokio::hub::{
    ChannelName, Cursor, CursorError, Epoch, Hub, HubConfig, Item, MemoryBackend, MemoryConfig,
    RecvError, Seq, SlowSubscriber, SubscribeError,
};

fn ch(name: &str) -> ChannelName {
    ChannelName::new(name).unwrap()
}

fn memory(epoch: u64, max_messages: usize) -> MemoryBackend {
    let mut config = MemoryConfig::default();
    config.epoch = Some(Epoch(epoch));
    config.max_messages = max_messages;
    MemoryBackend::new(config)
}

fn hub_with(backend: MemoryBackend, queue: usize, policy: SlowSubscriber) -> Hub {
    let mut config = HubConfig::default();
    config.queue_messages = queue;
    config.slow_subscriber = policy;
    config.catch_up_messages = 3; // several history reads per catch-up
    Hub::with_config(backend, config)
}

fn seq_of(item: &Item) -> u64 {
    match item {
        Item::Message { cursor, .. } => cursor.seq.0,
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn next(sub: &mut rt_tokio::hub::Subscription) -> Item {
    tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("an item within 5 s")
        .expect("no error")
}

#[test]
fn cursor_text_round_trips_and_bad_text_is_a_clear_error() {
    let c = Cursor::new(17, 42);
    assert_eq!(c.to_string(), "17:42");
    assert_eq!("17:42".parse::<Cursor>(), Ok(c));
    assert_eq!("17".parse::<Cursor>(), Err(CursorError::MissingColon));
    assert_eq!("a:1".parse::<Cursor>(), Err(CursorError::NotANumber));
    assert_eq!(
        "cursor must be EPOCH:SEQ (no colon found)",
        CursorError::MissingColon.to_string()
    );
}

/// Publishing concurrently with subscribing from a cursor: history then live, and at the
/// seam nothing is lost or repeated, whatever the interleaving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_then_live_has_no_gap_or_duplicate_at_the_seam() {
    let hub = hub_with(memory(1, 100_000), 100_000, SlowSubscriber::Gap);
    let c = ch("race");
    for _ in 0..50 {
        hub.publish(&c, "before").await.unwrap();
    }
    let publisher = {
        let hub = hub.clone();
        let c = c.clone();
        tokio::spawn(async move {
            for i in 0..2_000u32 {
                hub.publish(&c, Bytes::from(i.to_string())).await.unwrap();
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    // Subscribers start at different moments of the burst, from different cursors.
    let mut subs = Vec::new();
    for k in 0..20u64 {
        let from = Cursor::new(1, (k * 7) % 50);
        subs.push((from, hub.subscribe(&c, Some(from)).await.unwrap()));
        tokio::task::yield_now().await;
    }
    publisher.await.unwrap();
    for (from, mut sub) in subs {
        let mut expect = from.seq.0 + 1;
        while expect <= 2_050 {
            assert_eq!(seq_of(&next(&mut sub).await), expect, "from {from}");
            expect += 1;
        }
        assert_eq!(sub.cursor(), Cursor::new(1, 2_050));
    }
}

#[tokio::test]
async fn a_subscriber_that_never_reads_is_gapped_while_others_keep_receiving() {
    // History keeps 20, queues hold 8: the stalled one overflows and later catches up.
    let hub = hub_with(memory(1, 20), 8, SlowSubscriber::Gap);
    let c = ch("c");
    let mut stalled = hub.subscribe(&c, Some(Cursor::new(1, 0))).await.unwrap();
    let mut reader = hub.subscribe(&c, None).await.unwrap();
    for i in 1..=100u64 {
        hub.publish(&c, "m").await.unwrap();
        tokio::task::yield_now().await; // let the fan-out task run
        assert_eq!(seq_of(&next(&mut reader).await), i);
    }
    let stats = hub.stats().await;
    assert!(stats.overflow_gaps >= 1);
    assert!(stats.longest_queue <= 8, "{stats:?}");
    // The stalled subscriber: a gap for what history lost, then exactly the 20 it holds.
    assert_eq!(
        next(&mut stalled).await,
        Item::Gap {
            missed_from: Seq(1),
            missed_to: Seq(80),
            resume: Cursor::new(1, 80)
        }
    );
    for i in 81..=100 {
        assert_eq!(seq_of(&next(&mut stalled).await), i);
    }
    hub.publish(&c, "live again").await.unwrap();
    assert_eq!(seq_of(&next(&mut stalled).await), 101);
    assert_eq!(seq_of(&next(&mut reader).await), 101);
}

#[tokio::test]
async fn a_subscriber_that_never_reads_is_cut_off_under_disconnect() {
    let hub = hub_with(memory(1, 1000), 8, SlowSubscriber::Disconnect);
    let c = ch("c");
    let mut stalled = hub.subscribe(&c, None).await.unwrap();
    let mut reader = hub.subscribe(&c, None).await.unwrap();
    for i in 1..=50u64 {
        hub.publish(&c, "m").await.unwrap();
        tokio::task::yield_now().await;
        assert_eq!(seq_of(&next(&mut reader).await), i);
    }
    // Its queue was freed at once.
    assert_eq!(stalled.queued(), 0);
    assert!(matches!(
        stalled.recv().await,
        Err(RecvError::SlowSubscriber)
    ));
    assert!(matches!(
        stalled.recv().await,
        Err(RecvError::SlowSubscriber)
    ));
    assert_eq!(hub.stats().await.cut_off, 1);
    // Resubscribing from its cursor loses nothing.
    let mut back = hub.subscribe(&c, Some(stalled.cursor())).await.unwrap();
    for i in 1..=50 {
        assert_eq!(seq_of(&next(&mut back).await), i);
    }
}

/// A burst of 20,000 publishes with a stalled subscriber: queues and history stay within
/// their limits (counted, not timed).
#[tokio::test]
async fn memory_stays_bounded_under_a_burst_with_a_stalled_subscriber() {
    for policy in [SlowSubscriber::Gap, SlowSubscriber::Disconnect] {
        let hub = hub_with(memory(1, 64), 16, policy);
        let c = ch("burst");
        let _stalled = hub.subscribe(&c, None).await.unwrap();
        let _stalled_too = hub.subscribe(&c, Some(Cursor::new(1, 0))).await.unwrap();
        let payload = Bytes::from(vec![b'x'; 100]);
        for i in 0..20_000u32 {
            hub.publish(&c, payload.clone()).await.unwrap();
            if i % 100 == 0 {
                tokio::task::yield_now().await;
                let stats = hub.stats().await;
                assert!(stats.longest_queue <= 16, "{policy:?} {stats:?}");
                assert!(stats.queued_bytes <= 2 * 16 * 100);
                let info = &stats.channels[0].info;
                assert!(info.messages <= 64 && info.bytes <= 64 * 100);
            }
        }
        let stats = hub.stats().await;
        assert_eq!(stats.published, 20_000);
        assert_eq!(stats.channels[0].info.head, Cursor::new(1, 20_000));
    }
}

#[tokio::test]
async fn a_reset_backend_tells_live_and_returning_subscribers() {
    let backend = memory(1, 100);
    let hub = hub_with(backend.clone(), 100, SlowSubscriber::Gap);
    let c = ch("c");
    hub.publish(&c, "a").await.unwrap();
    let mut live = hub.subscribe(&c, None).await.unwrap();
    backend.reset(Epoch(2));
    hub.publish(&c, "b").await.unwrap();
    assert_eq!(
        next(&mut live).await,
        Item::Reset {
            previous: Epoch(1),
            resume: Cursor::new(2, 0)
        }
    );
    assert_eq!(
        next(&mut live).await,
        Item::Message {
            cursor: Cursor::new(2, 1),
            data: Bytes::from_static(b"b")
        }
    );
    // A client coming back with an old cursor, on a restarted process (new backend).
    let restarted = hub_with(memory(3, 100), 100, SlowSubscriber::Gap);
    let mut back = restarted
        .subscribe(&c, Some(Cursor::new(2, 1)))
        .await
        .unwrap();
    restarted.publish(&c, "c").await.unwrap();
    assert!(matches!(
        next(&mut back).await,
        Item::Reset {
            previous: Epoch(2),
            ..
        }
    ));
    assert_eq!(seq_of(&next(&mut back).await), 1);
}

#[tokio::test]
async fn limits_and_bad_cursors_are_refused_with_their_own_error() {
    let mut config = HubConfig::default();
    config.max_subscribers = 2;
    let hub = Hub::with_config(memory(4, 10), config);
    let c = ch("c");
    hub.publish(&c, "x").await.unwrap();
    assert!(matches!(
        hub.subscribe(&c, Some(Cursor::new(4, 2))).await,
        Err(SubscribeError::CursorAhead { head, .. }) if head == Cursor::new(4, 1)
    ));
    let _a = hub.subscribe(&c, None).await.unwrap();
    let _b = hub.subscribe(&ch("other"), None).await.unwrap();
    assert!(matches!(
        hub.subscribe(&c, None).await,
        Err(SubscribeError::TooManySubscribers { max_subscribers: 2 })
    ));
    drop(_b);
    assert_eq!(hub.stats().await.subscribers, 1);
    // The aborted feed task drops its backend watch: dropping a subscription unsubscribes,
    // and the made-up channel is gone from the backend.
    tokio::task::yield_now().await;
    let stats = hub.stats().await;
    assert_eq!(stats.channels.len(), 1);
    assert_eq!(stats.channels[0].subscribers, 1);
    assert_eq!(stats.channels[0].info.messages, 1);
}

#[tokio::test]
async fn subscriptions_are_streams_usable_from_any_task() {
    use futures_util::StreamExt;
    let hub = Hub::new(memory(1, 10));
    let c = ch("c");
    let sub = hub.subscribe(&c, None).await.unwrap();
    let task = tokio::spawn(async move { sub.take(3).collect::<Vec<_>>().await });
    for _ in 0..3 {
        hub.publish(&c, "x").await.unwrap();
    }
    let items = task.await.unwrap();
    let seqs: Vec<u64> = items.iter().map(|i| seq_of(i.as_ref().unwrap())).collect();
    assert_eq!(seqs, [1, 2, 3]);
}

/// A message larger than `queue_bytes` is not an overflow for a subscriber that keeps up
/// (its queue is empty): it is delivered, under either policy, and a second one behind it
/// is the overflow.
#[tokio::test]
async fn a_message_larger_than_the_queue_bytes_reaches_a_reader_that_keeps_up() {
    for policy in [SlowSubscriber::Disconnect, SlowSubscriber::Gap] {
        let mut config = HubConfig::default();
        config.queue_bytes = 10;
        config.slow_subscriber = policy;
        let hub = Hub::with_config(memory(1, 100), config);
        let c = ch("c");
        let mut reader = hub.subscribe(&c, None).await.unwrap();
        let big = Bytes::from(vec![b'x'; 20]);
        hub.publish(&c, big.clone()).await.unwrap();
        tokio::task::yield_now().await;
        assert_eq!(reader.queued(), 1, "{policy:?}");
        assert_eq!(
            next(&mut reader).await,
            Item::Message {
                cursor: Cursor::new(1, 1),
                data: big.clone()
            }
        );
        let stats = hub.stats().await;
        assert_eq!((stats.cut_off, stats.overflow_gaps), (0, 0), "{policy:?}");
        // Two in a row: the second finds the queue holding the first, over its bytes.
        hub.publish(&c, big.clone()).await.unwrap();
        hub.publish(&c, big.clone()).await.unwrap();
        tokio::task::yield_now().await;
        let stats = hub.stats().await;
        assert_eq!(stats.cut_off + stats.overflow_gaps, 1, "{policy:?}");
    }
}
