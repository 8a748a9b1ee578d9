//! Regression tests for inputs found by the cargo-fuzz targets in `fuzz/` (see
//! `fuzz/README.md`). Each names the target that found it.

use bytes::Bytes;
use longpoll_proto::{
    ChannelName, ClientId, Cursor, Epoch, Hub, HubConfig, Instant, Outcome, Overflow, PollRequest,
    Seq,
};

fn poll(hub: &mut Hub, client: &str, cursor: Cursor) -> Option<Outcome> {
    let id = hub.handle_poll(
        Instant::ZERO,
        PollRequest {
            client: ClientId::new(client).unwrap(),
            channel: ChannelName::new("news").unwrap(),
            cursor: Some(cursor),
            timeout: None,
        },
    );
    let response = hub.poll_response()?;
    assert_eq!(response.poll, id);
    Some(response.outcome)
}

fn publish(hub: &mut Hub, n: usize) {
    let news = ChannelName::new("news").unwrap();
    for i in 0..n {
        hub.publish(Instant::ZERO, &news, Bytes::from(format!("m{i}")))
            .unwrap();
    }
}

/// Found by `longpoll_hub`: a cursor behind the oldest message still in history must get a
/// `Gap` covering exactly the evicted messages, never a batch that silently starts later.
#[test]
fn evicted_messages_are_reported_as_a_gap() {
    let mut config = HubConfig::default();
    config.channel.max_messages = 2;
    let mut hub = Hub::new(config, Epoch(1));
    publish(&mut hub, 3); // history: 2, 3 (1 was evicted)
    assert_eq!(
        poll(&mut hub, "a", Cursor::new(1, 0)),
        Some(Outcome::Gap {
            missed_from: Seq(1),
            missed_to: Seq(1),
            resume: Cursor::new(1, 1),
        })
    );
    // From the resume cursor, the rest arrives as a batch.
    match poll(&mut hub, "a", Cursor::new(1, 1)) {
        Some(Outcome::Batch { messages, next }) => {
            let seqs: Vec<u64> = messages.iter().map(|m| m.seq.0).collect();
            assert_eq!((seqs, next), (vec![2, 3], Cursor::new(1, 3)));
        }
        other => panic!("expected a batch of 2, 3: {other:?}"),
    }
}

/// Found by `longpoll_hub`: under `RejectPublish`, once every live session acknowledged the
/// whole history it is trimmed to nothing; a client that never polled before, with a cursor
/// behind it, must get a `Gap` (it got an empty batch with an unchanged cursor, and a client
/// that polls again at once loops forever).
#[test]
fn cursor_behind_an_empty_trimmed_history_gets_a_gap() {
    let mut config = HubConfig::default();
    config.channel.overflow = Overflow::RejectPublish;
    let mut hub = Hub::new(config, Epoch(1));
    publish(&mut hub, 2);
    // Client "a" acknowledges everything: history 1..=2 is trimmed.
    // Held at the head: no answer yet.
    assert!(poll(&mut hub, "a", Cursor::new(1, 2)).is_none());
    let channel = hub.channel(&ChannelName::new("news").unwrap()).unwrap();
    assert!(channel.is_empty());
    assert_eq!(
        poll(&mut hub, "b", Cursor::new(1, 0)),
        Some(Outcome::Gap {
            missed_from: Seq(1),
            missed_to: Seq(2),
            resume: Cursor::new(1, 2),
        })
    );
}
