//! The long-poll server's view of a hub channel: one hub subscription per channel copies
//! what the hub publishes into the longpoll-proto [`Hub`](longpoll_proto::Hub), with the
//! hub's own cursors (`restart_channel` follows a gap or a new epoch), so hold/release
//! stays longpoll-proto's and every transport shares one cursor space, whatever the
//! backend. A new mirror starts at the hub's head: the window fills with what is
//! published from then on, and a poll behind it is answered from the hub's history.
//!
//! Invariant: the longpoll-proto channel's head is the cursor of the last hub item applied,
//! and that cursor is published on the mirror's watch (`None` until the first is applied).
//! A mirror touches the longpoll-proto channel only while it is the channel's current
//! mirror (its `id` is the one in the server's table), so an evicted mirror whose task
//! has not stopped yet cannot bring the channel back.

use std::sync::Weak;
use std::time::Duration;

use tokio::sync::watch;

use super::server::{Inner, State};
use crate::hub::{ChannelName, Cursor, Hub, Item};

/// Follows `channel` on `hub` for the server `inner` until it is dropped or evicted.
pub(crate) async fn run(
    inner: Weak<Inner>,
    hub: Hub,
    channel: ChannelName,
    id: u64,
    head_tx: watch::Sender<Option<Cursor>>,
) {
    let mut at: Option<Cursor> = None;
    let mut backoff = Duration::from_millis(50);
    loop {
        let from = match at {
            Some(cursor) => cursor,
            None => match hub.head(&channel).await {
                Ok(head) => {
                    // Start at the head: the window holds what is published from now on.
                    // Older cursors are answered from the hub's history (the server fills
                    // longpoll-proto's gap), so nothing is replayed here.
                    let start = head;
                    let Some(inner) = inner.upgrade() else { return };
                    let current = inner.with_state(|s| {
                        let current = s.is_mirror(&channel, id);
                        if current {
                            s.restart(&channel, start);
                        }
                        current
                    });
                    if !current {
                        return;
                    }
                    start
                }
                Err(e) => {
                    tracing::warn!(%channel, "long-poll mirror: reading the head failed: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
        };
        let mut sub = match hub.subscribe(&channel, Some(from)).await {
            Ok(sub) => sub,
            Err(e) => {
                tracing::warn!(%channel, "long-poll mirror: subscribing failed: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                at = None;
                continue;
            }
        };
        at = Some(from);
        head_tx.send_replace(at);
        loop {
            let item = match sub.recv().await {
                Ok(item) => item,
                Err(e) => {
                    tracing::debug!(%channel, "long-poll mirror: subscription ended: {e}");
                    break;
                }
            };
            backoff = Duration::from_millis(50);
            let Some(inner) = inner.upgrade() else { return };
            let current = inner.with_state(|s| {
                let current = s.is_mirror(&channel, id);
                if current {
                    apply(s, &channel, &item);
                }
                current
            });
            drop(inner);
            if !current {
                return;
            }
            at = Some(item.cursor());
            head_tx.send_replace(at);
        }
        tokio::time::sleep(backoff).await;
    }
}

fn apply(state: &mut State, channel: &ChannelName, item: &Item) {
    match item {
        Item::Message { cursor, data } => {
            let head = state.lp.channel(channel).map(|c| c.head());
            if head.is_none_or(|h| h.epoch != cursor.epoch || h.seq.next() != cursor.seq) {
                let before = Cursor::new(cursor.epoch.0, cursor.seq.0.saturating_sub(1));
                state.restart(channel, before);
            }
            if let Err(e) = state.lp.publish(state.now(), channel, data.clone()) {
                // Long-poll clients will see it as a gap, never as a silent skip.
                tracing::warn!(%channel, %cursor, "long-poll mirror: message not kept: {e}");
                state.restart(channel, *cursor);
            }
        }
        Item::Gap { resume, .. } | Item::Reset { resume, .. } => state.restart(channel, *resume),
    }
    state.drain();
}

/// Waits until the mirror has applied `target` (same epoch, at or past its seq), for at
/// most `wait`. Returns whether it did.
pub(crate) async fn wait_for(
    mut head: watch::Receiver<Option<Cursor>>,
    target: Cursor,
    wait: Duration,
) -> bool {
    let reached =
        |m: &Option<Cursor>| m.is_some_and(|m| m.epoch == target.epoch && m.seq >= target.seq);
    tokio::time::timeout(wait, head.wait_for(reached))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// Keeps mirror tasks from outliving their server.
pub(crate) struct MirrorTask(pub(crate) tokio::task::AbortHandle);

impl Drop for MirrorTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}
