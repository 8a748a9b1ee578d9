//! [`Hub`]: many held polls across many channels and clients, by [`PollId`].
//!
//! The hub owns every channel's history, every session and every held poll. The driver
//! feeds it requests ([`Hub::handle_poll`], [`Hub::handle_abort`], [`Hub::handle_send`]),
//! publishes ([`Hub::publish`]) and time ([`Hub::handle_timeout`]), and drains, after every
//! call, in this order: [`Hub::poll_response`] (until `None`; each response goes to the
//! connection with that poll id), [`Hub::poll_timeout`] (when to call `handle_timeout`), and
//! [`Hub::poll_event`].
//!
//! Every change to a poll's or a session's state lives in [`state`](crate::state).
//!
//! # Cost
//!
//! Each operation on a held poll is `O(log n)`: held polls are in a `BTreeMap` by id, the
//! deadline queue is a `BTreeSet<(deadline, id)>`, each channel keeps a `BTreeSet` of its
//! waiters. A publish that releases `k` polls costs `O(k log n)` and shares the message
//! payload (`Bytes`) among all `k` responses. Memory per held poll: see the crate README
//! (measured by `cargo bench -p longpoll-proto --bench release`).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use crate::channel::Channel;
use crate::config::HubConfig;
use crate::cursor::{Cursor, Epoch, Seq};
use crate::error::{PublishError, UpstreamError};
use crate::id::{ChannelName, ClientId, PollId};
use crate::response::{HubEvent, Outcome, RejectReason, Response};
use crate::slab::Slab;
use crate::time::Instant;
use crate::upstream::{Accepted, Inbox, UpstreamBatch};

/// A poll request, as parsed from HTTP by [`http::parse_poll_request`](crate::http::parse_poll_request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollRequest {
    /// Who is polling.
    pub client: ClientId,
    /// Which channel.
    pub channel: ChannelName,
    /// The last message the client received; `None`: only messages published from now on.
    pub cursor: Option<Cursor>,
    /// How long the client wants the poll held (capped by `HubConfig::max_hold`); `None`:
    /// `HubConfig::hold`.
    pub timeout: Option<Duration>,
}

/// One channel of a multi-channel poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// The channel.
    pub channel: ChannelName,
    /// The last message received on it; `None`: from now on.
    pub cursor: Option<Cursor>,
}

/// A poll on several channels, as parsed by
/// [`http::parse_multi_poll_request`](crate::http::parse_multi_poll_request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiPollRequest {
    /// Who is polling.
    pub client: ClientId,
    /// The channels (1 to `HubConfig::max_channels_per_poll`).
    pub subscriptions: Vec<Subscription>,
    /// Requested hold time (capped by `HubConfig::max_hold`).
    pub timeout: Option<Duration>,
}

pub(crate) struct ChannelState {
    pub(crate) name: ChannelName,
    pub(crate) channel: Channel,
    /// Held polls on this channel.
    pub(crate) waiters: BTreeSet<PollId>,
    /// When a coalesced release is due.
    pub(crate) flush_at: Option<Instant>,
    /// `(acknowledged seq, session)` of every live session polling this channel; only
    /// kept under `Overflow::RejectPublish`.
    pub(crate) acks: BTreeSet<(Seq, u32)>,
}

pub(crate) struct Session {
    pub(crate) client: ClientId,
    /// `(channel, poll)` of each held poll.
    pub(crate) held: Vec<(u32, PollId)>,
    /// `(channel, acknowledged seq)`; only under `Overflow::RejectPublish`.
    pub(crate) acks: Vec<(u32, Seq)>,
    /// When the session expires (only while no poll is held).
    pub(crate) expires_at: Option<Instant>,
    pub(crate) inbox: Inbox,
}

/// A held poll as stored: 32 bytes. A multi-channel poll has `channel == MULTI` and its
/// channels in `Hub::multi`.
pub(crate) struct HeldPoll {
    pub(crate) deadline: Instant,
    pub(crate) cursor: Cursor,
    pub(crate) channel: u32,
    pub(crate) session: u32,
}

/// `HeldPoll::channel` of a multi-channel poll (never a channel key: `max_channels` is far
/// below it).
pub(crate) const MULTI: u32 = u32::MAX;

/// A held poll unpacked, as the transitions in `state.rs` use it.
pub(crate) struct Held {
    pub(crate) deadline: Instant,
    pub(crate) session: u32,
    /// `(channel, cursor)` of each channel the poll waits on.
    pub(crate) subs: Subs,
}

/// A held poll's channels: one (a [`Hub::handle_poll`] poll, answered with a plain
/// [`Outcome`]) or several (a [`Hub::handle_multi_poll`] poll, answered with
/// [`Outcome::Multi`]).
pub(crate) enum Subs {
    One([(u32, Cursor); 1]),
    Many(Box<[(u32, Cursor)]>),
}

impl Subs {
    pub(crate) fn as_slice(&self) -> &[(u32, Cursor)] {
        match self {
            Subs::One(one) => one,
            Subs::Many(many) => many,
        }
    }
}

/// The server side: channels, sessions and held polls.
///
/// Method groups: getters; inputs (`handle_poll`, `handle_abort`, `handle_send`,
/// `handle_timeout`); mutators (`publish`, `reset_channel`, `restart_channel`,
/// `remove_channel`); outputs (`poll_response`, `poll_timeout`, `poll_event`), drained in
/// that order after every call.
pub struct Hub {
    pub(crate) config: HubConfig,
    pub(crate) epoch: Epoch,
    pub(crate) next_poll: u64,
    pub(crate) channels: Slab<ChannelState>,
    pub(crate) channel_index: BTreeMap<ChannelName, u32>,
    pub(crate) sessions: Slab<Session>,
    pub(crate) session_index: BTreeMap<ClientId, u32>,
    pub(crate) polls: BTreeMap<PollId, HeldPoll>,
    /// Channels of held multi-channel polls.
    pub(crate) multi: BTreeMap<PollId, Box<[(u32, Cursor)]>>,
    pub(crate) deadlines: BTreeSet<(Instant, PollId)>,
    pub(crate) expiries: BTreeSet<(Instant, u32)>,
    pub(crate) flushes: BTreeSet<(Instant, u32)>,
    pub(crate) responses: VecDeque<Response>,
    pub(crate) events: VecDeque<HubEvent>,
}

impl Hub {
    /// A hub whose channels start in `epoch`. Pick a new epoch on every process start (a
    /// random `u64` or a timestamp) so clients of a previous run are told of the reset.
    pub fn new(config: HubConfig, epoch: Epoch) -> Self {
        Hub {
            config,
            epoch,
            next_poll: 1,
            channels: Slab::new(),
            channel_index: BTreeMap::new(),
            sessions: Slab::new(),
            session_index: BTreeMap::new(),
            polls: BTreeMap::new(),
            multi: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            expiries: BTreeSet::new(),
            flushes: BTreeSet::new(),
            responses: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ---- getters ----

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The epoch new channels start in.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Polls currently held.
    pub fn held_polls(&self) -> usize {
        self.polls.len()
    }

    /// True while `poll` is held (not yet answered or aborted).
    pub fn is_held(&self, poll: PollId) -> bool {
        self.polls.contains_key(&poll)
    }

    /// Live sessions.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// True if `client` has a live session.
    pub fn has_session(&self, client: &ClientId) -> bool {
        self.session_index.contains_key(client)
    }

    /// The highest consecutive upstream sequence number received from `client` (what an
    /// acknowledgement says), if it has a session.
    pub fn upstream_acked(&self, client: &ClientId) -> Option<u64> {
        let key = *self.session_index.get(client)?;
        self.sessions.get(key).map(|s| s.inbox.acked())
    }

    /// A channel's history, if the channel exists.
    pub fn channel(&self, name: &ChannelName) -> Option<&Channel> {
        let key = *self.channel_index.get(name)?;
        self.channels.get(key).map(|c| &c.channel)
    }

    /// Channels.
    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    // ---- inputs ----

    /// A poll arrived. Returns its id; the answer (now or later) comes out of
    /// [`Hub::poll_response`] with that id. A poll is answered at once when the channel
    /// has messages after the cursor (batch), the cursor is out of history (gap) or of
    /// another epoch (reset), or a limit refuses it; otherwise it is held until a publish,
    /// its deadline, a newer poll superseding it, or [`Hub::handle_abort`].
    pub fn handle_poll(&mut self, now: Instant, request: PollRequest) -> PollId {
        let id = PollId(self.next_poll);
        self.next_poll += 1;
        let subs = [(request.channel, request.cursor)];
        self.poll_arrived(now, id, &request.client, &subs, request.timeout, false);
        id
    }

    /// A poll on several channels at once (one request instead of one per channel). It is
    /// answered with [`Outcome::Multi`] as soon as any of its channels has something to say
    /// (the entry of each such channel: batch, gap, reset, or `cursor_ahead`), or
    /// [`Outcome::MultiEmpty`] at its deadline or when superseded; refusals are
    /// [`Outcome::Rejected`]. A name given twice counts once (its first cursor). A newer
    /// poll from the same client sharing a channel supersedes it (per `duplicate_poll`).
    pub fn handle_multi_poll(&mut self, now: Instant, request: MultiPollRequest) -> PollId {
        let id = PollId(self.next_poll);
        self.next_poll += 1;
        let subs: Vec<(ChannelName, Option<Cursor>)> = request
            .subscriptions
            .into_iter()
            .map(|s| (s.channel, s.cursor))
            .collect();
        self.poll_arrived(now, id, &request.client, &subs, request.timeout, true);
        id
    }

    /// The request for `poll` went away (client disconnected): forget it without answering.
    /// Nothing is lost: the client's cursor did not move. Returns false if the poll was not
    /// held (already answered).
    pub fn handle_abort(&mut self, now: Instant, poll: PollId) -> bool {
        self.abort(now, poll)
    }

    /// Time passed: answers polls whose deadline passed (empty, same cursor), releases
    /// coalesced publishes, expires idle sessions. Calling early is a harmless no-op.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.timeout(now)
    }

    /// A client→server batch arrived from `client` (see [`upstream`](crate::upstream)).
    /// Keeps the session alive. Deliver `batch.messages[accepted.fresh_from..]` to the
    /// application and answer with `accepted.ack`.
    pub fn handle_send(
        &mut self,
        now: Instant,
        client: &ClientId,
        batch: &UpstreamBatch,
    ) -> Result<Accepted, UpstreamError> {
        let Some(session) = self.session_for(now, client) else {
            return Err(UpstreamError::TooManySessions {
                max_sessions: self.config.max_sessions,
            });
        };
        let config = self.config.upstream;
        let result = self
            .sessions
            .get_mut(session)
            .map(|s| s.inbox.handle_batch(&config, batch))
            .unwrap_or(Err(UpstreamError::ZeroSeq));
        self.session_idle_check(now, session);
        result
    }

    // ---- mutators ----

    /// Publishes `data` on `channel` (created if needed). Held polls it satisfies are
    /// released now (or after `HubConfig::coalesce`). On error nothing changed.
    pub fn publish(
        &mut self,
        now: Instant,
        channel: &ChannelName,
        data: Bytes,
    ) -> Result<Seq, PublishError> {
        let Some(key) = self.channel_for(channel) else {
            return Err(PublishError::TooManyChannels {
                max_channels: self.config.max_channels,
            });
        };
        self.published(now, key, data)
    }

    /// Forgets `channel`'s history and starts it in `epoch`: held polls are answered with
    /// [`Outcome::Reset`] and later polls with an older epoch get it too. Returns false if
    /// the channel does not exist.
    pub fn reset_channel(&mut self, now: Instant, channel: &ChannelName, epoch: Epoch) -> bool {
        match self.channel_index.get(channel) {
            Some(&key) => {
                self.reset(now, key, epoch);
                true
            }
            None => false,
        }
    }

    /// Forgets `channel`'s history and continues it at `head` (created if needed): the next
    /// publish gets `head.seq + 1` in `head.epoch`. For a hub that mirrors a channel kept
    /// elsewhere (its source reported a gap or a new epoch). Held polls are answered as a
    /// poll with their cursor would be now: a reset (other epoch), a gap (before `head`),
    /// or they stay held (at `head`). Fails only when the channel would exceed
    /// `HubConfig::max_channels`.
    pub fn restart_channel(
        &mut self,
        now: Instant,
        channel: &ChannelName,
        head: Cursor,
    ) -> Result<(), PublishError> {
        let Some(key) = self.channel_for(channel) else {
            return Err(PublishError::TooManyChannels {
                max_channels: self.config.max_channels,
            });
        };
        self.restart(now, key, head);
        Ok(())
    }

    /// Forgets `channel` (its history and its slot under `HubConfig::max_channels`) if no
    /// poll is held on it; returns whether it was removed. For a hub that mirrors channels
    /// kept elsewhere and lets go of those nobody polls. A later poll or publish creates it
    /// again in the hub's epoch: call [`restart_channel`](Self::restart_channel) first to
    /// continue it where its source is.
    pub fn remove_channel(&mut self, channel: &ChannelName) -> bool {
        match self.channel_index.get(channel) {
            Some(&key) => self.remove(key),
            None => false,
        }
    }

    // ---- outputs ----

    /// The next answer to send. Call until `None` after every input.
    pub fn poll_response(&mut self) -> Option<Response> {
        self.responses.pop_front()
    }

    /// When to call [`Hub::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.deadlines.first().map(|d| d.0),
            self.flushes.first().map(|f| f.0),
            self.expiries.first().map(|e| e.0),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next event (expired sessions).
    pub fn poll_event(&mut self) -> Option<HubEvent> {
        self.events.pop_front()
    }

    /// Checks every internal index against the others (polls, deadline queue, channel
    /// waiters, sessions, expiries, flushes, acknowledgements) and returns the first
    /// inconsistency. `O(n log n)`: for tests and fuzzing, not for production loops.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        let mut waiter_entries = 0;
        let multi_polls = self.polls.values().filter(|p| p.channel == MULTI).count();
        if multi_polls != self.multi.len() {
            return Err("multi-channel side table out of step");
        }
        for (&id, held) in &self.polls {
            let subs = self.subs_of(id, held);
            if subs.is_empty() {
                return Err("held poll without channels");
            }
            if !self.deadlines.contains(&(held.deadline, id)) {
                return Err("held poll missing from the deadline queue");
            }
            let session = self
                .sessions
                .get(held.session)
                .ok_or("held poll without session")?;
            if session.expires_at.is_some() {
                return Err("session with a held poll is scheduled to expire");
            }
            for &(c, _) in &subs {
                let state = self
                    .channels
                    .get(c)
                    .ok_or("held poll on a removed channel")?;
                if !state.waiters.contains(&id) {
                    return Err("held poll missing from its channel's waiters");
                }
                if !session.held.contains(&(c, id)) {
                    return Err("held poll missing from its session");
                }
                waiter_entries += 1;
            }
        }
        if self.deadlines.len() != self.polls.len() {
            return Err("deadline queue and held polls differ in size");
        }
        let mut all_waiters = 0;
        let mut channels = 0;
        for (name, &key) in &self.channel_index {
            let state = self
                .channels
                .get(key)
                .ok_or("channel index points at nothing")?;
            if state.name != *name {
                return Err("channel index name mismatch");
            }
            all_waiters += state.waiters.len();
            channels += 1;
            if let Some(at) = state.flush_at {
                if !self.flushes.contains(&(at, key)) {
                    return Err("pending flush missing from the flush queue");
                }
            }
            for &(seq, session) in &state.acks {
                let s = self
                    .sessions
                    .get(session)
                    .ok_or("ack from a removed session")?;
                if !s.acks.contains(&(key, seq)) {
                    return Err("channel ack not mirrored in the session");
                }
            }
        }
        if channels != self.channels.len() || self.flushes.len() > channels {
            return Err("channel slab and index differ");
        }
        if all_waiters != waiter_entries {
            return Err("a channel lists a waiter that is not held");
        }
        let mut idle = 0;
        for (client, &key) in &self.session_index {
            let s = self
                .sessions
                .get(key)
                .ok_or("session index points at nothing")?;
            if s.client != *client {
                return Err("session index name mismatch");
            }
            match s.expires_at {
                Some(at) => {
                    idle += 1;
                    if !s.held.is_empty() || !self.expiries.contains(&(at, key)) {
                        return Err("idle session not in the expiry queue");
                    }
                }
                None if s.held.is_empty() => return Err("idle session never expires"),
                None => {}
            }
            for &(c, seq) in &s.acks {
                let state = self
                    .channels
                    .get(c)
                    .ok_or("session ack on a removed channel")?;
                if !state.acks.contains(&(seq, key)) {
                    return Err("session ack not mirrored in the channel");
                }
            }
        }
        if idle != self.expiries.len() || self.session_index.len() != self.sessions.len() {
            return Err("expiry queue or session slab out of step");
        }
        Ok(())
    }

    // ---- storage and lookups shared with state.rs ----

    pub(crate) fn insert_held(&mut self, id: PollId, held: Held) {
        let (channel, cursor) = match held.subs {
            Subs::One([(channel, cursor)]) => (channel, cursor),
            Subs::Many(subs) => {
                self.multi.insert(id, subs);
                (MULTI, Cursor::default())
            }
        };
        self.polls.insert(
            id,
            HeldPoll {
                deadline: held.deadline,
                cursor,
                channel,
                session: held.session,
            },
        );
    }

    pub(crate) fn remove_held(&mut self, id: PollId) -> Option<Held> {
        let p = self.polls.remove(&id)?;
        let subs = if p.channel == MULTI {
            Subs::Many(self.multi.remove(&id)?)
        } else {
            Subs::One([(p.channel, p.cursor)])
        };
        Some(Held {
            deadline: p.deadline,
            session: p.session,
            subs,
        })
    }

    /// The channels of a stored poll.
    fn subs_of(&self, id: PollId, p: &HeldPoll) -> Vec<(u32, Cursor)> {
        if p.channel == MULTI {
            self.multi.get(&id).map_or(Vec::new(), |m| m.to_vec())
        } else {
            alloc::vec![(p.channel, p.cursor)]
        }
    }

    pub(crate) fn channel_for(&mut self, name: &ChannelName) -> Option<u32> {
        if let Some(&key) = self.channel_index.get(name) {
            return Some(key);
        }
        // Keys stay below `MULTI`, which marks multi-channel polls.
        if self.channels.len() >= self.config.max_channels.min(MULTI as usize - 1) {
            return None;
        }
        let key = self.channels.insert(ChannelState {
            name: name.clone(),
            channel: Channel::new(self.epoch, self.config.channel),
            waiters: BTreeSet::new(),
            flush_at: None,
            acks: BTreeSet::new(),
        });
        self.channel_index.insert(name.clone(), key);
        Some(key)
    }

    pub(crate) fn reject(&mut self, poll: PollId, reason: RejectReason) {
        self.responses.push_back(Response {
            poll,
            outcome: Outcome::Rejected { reason },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-poll record behind the README's memory figures.
    #[test]
    fn held_poll_stays_small() {
        assert_eq!(core::mem::size_of::<Subs>(), 32);
        assert_eq!(core::mem::size_of::<HeldPoll>(), 32);
        assert_eq!(core::mem::size_of::<PollId>(), 8);
    }
}
