//! The hub's knobs: subscriber queues and what happens when one overflows.
//!
//! | knob | default | when hit |
//! | --- | --- | --- |
//! | [`HubConfig::queue_messages`] / [`HubConfig::queue_bytes`] | 1024 / 4 MiB | [`HubConfig::slow_subscriber`] applies |
//! | [`HubConfig::slow_subscriber`] | [`SlowSubscriber::Gap`] | — |
//! | [`HubConfig::catch_up_messages`] / [`HubConfig::catch_up_bytes`] | 256 / 1 MiB | a history read is cut short; the next one continues |
//! | [`HubConfig::max_subscribers`] | 100,000 | [`SubscribeError::TooManySubscribers`](super::SubscribeError::TooManySubscribers) |

/// What a subscriber whose queue overflows gets. Either way the publisher and the other
/// subscribers never wait for it, and its queue memory is freed at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlowSubscriber {
    /// Its queue is dropped; when it reads again it catches up from history by cursor,
    /// and what history no longer holds becomes an [`Item::Gap`](super::Item::Gap).
    #[default]
    Gap,
    /// It is cut off: [`RecvError::SlowSubscriber`](super::RecvError::SlowSubscriber). A
    /// transport closes its connection; the client reconnects with its cursor.
    Disconnect,
}

/// Configuration of a [`Hub`](super::Hub) (the backend has its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubConfig {
    /// Most messages waiting in one subscriber's queue. Default 1024.
    pub queue_messages: usize,
    /// Most payload bytes waiting in one subscriber's queue (an empty queue takes one
    /// larger message). Default 4 MiB.
    pub queue_bytes: usize,
    /// Overflow policy. Default [`SlowSubscriber::Gap`].
    pub slow_subscriber: SlowSubscriber,
    /// Most messages in one history read while catching up. Default 256.
    pub catch_up_messages: usize,
    /// Most payload bytes in one history read while catching up. Default 1 MiB.
    pub catch_up_bytes: usize,
    /// Most live subscriptions. Default 100,000.
    pub max_subscribers: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            queue_messages: 1024,
            queue_bytes: 4 << 20,
            slow_subscriber: SlowSubscriber::Gap,
            catch_up_messages: 256,
            catch_up_bytes: 1 << 20,
            max_subscribers: 100_000,
        }
    }
}
