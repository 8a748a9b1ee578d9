//! Every state transition of the hub, in one place.
//!
//! A poll's life:
//!
//! ```text
//!         handle_poll / handle_multi_poll
//!   (new) ──────────────────┬──► answered at once: Batch | Gap | Reset | Rejected | Multi
//!                           │
//!                           ▼
//!                         HELD ──publish/flush──► Batch (or Gap if evicted meanwhile)
//!                           │ ──deadline─────────► Empty(timeout), same cursor
//!                           │ ──newer poll───────► Empty(superseded), same cursor  (policy Supersede)
//!                           │ ──reset_channel────► Reset
//!                           │ ──restart_channel──► Reset (other epoch) | Gap (behind) | still held
//!                           └ ──handle_abort─────► forgotten, no answer
//! ```
//!
//! A session's life: created by its first poll or send; *active* while it holds a poll;
//! *idle* from the moment its last held poll is answered (or its last request arrives) with
//! an expiry at `now + session_ttl`; any request makes it active again; at expiry it is
//! removed and [`HubEvent::SessionExpired`] is queued.
//!
//! A channel's life: created by its first poll, publish or `restart_channel`; dropped by
//! itself while never published to in the hub's epoch and unused; removed by
//! `remove_channel` only when no poll is held on it.
//!
//! A multi-channel poll (`handle_multi_poll`) is held on every channel it names and answered
//! with [`Outcome::Multi`] (one entry per channel with something to say) as soon as one of
//! them can answer, or [`Outcome::MultiEmpty`] at its deadline or when superseded.
//!
//! Invariants kept here: a poll id is in `polls` iff it is in `deadlines` and in the
//! `waiters` of each of its channels and in its session's `held` once per channel; a session is in `expiries` iff its
//! `held` is empty; under `RejectPublish`, a session's `acks` and the channels' `acks`
//! mirror each other and history is trimmed through the smallest acknowledgement.

use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use crate::channel::Read;
use crate::config::{DuplicatePoll, Overflow};
use crate::cursor::{Cursor, Epoch, Seq};
use crate::error::PublishError;
use crate::hub::{Held, Hub, Session, Subs};
use crate::id::{ChannelName, ClientId, PollId};
use crate::response::{ChannelAnswer, EmptyReason, HubEvent, Outcome, RejectReason, Response};
use crate::time::Instant;
use crate::upstream::Inbox;

impl Hub {
    /// Finds or creates the session and marks it active (no expiry pending).
    pub(crate) fn session_for(&mut self, _now: Instant, client: &ClientId) -> Option<u32> {
        let key = match self.session_index.get(client) {
            Some(&key) => key,
            None => {
                if self.sessions.len() >= self.config.max_sessions {
                    return None;
                }
                let key = self.sessions.insert(Session {
                    client: client.clone(),
                    held: Vec::new(),
                    acks: Vec::new(),
                    expires_at: None,
                    inbox: Inbox::new(),
                });
                self.session_index.insert(client.clone(), key);
                key
            }
        };
        if let Some(session) = self.sessions.get_mut(key) {
            if let Some(at) = session.expires_at.take() {
                self.expiries.remove(&(at, key));
            }
        }
        Some(key)
    }

    /// A session with no held poll starts its expiry clock at `now`.
    pub(crate) fn session_idle_check(&mut self, now: Instant, key: u32) {
        let ttl = self.config.session_ttl;
        if let Some(session) = self.sessions.get_mut(key) {
            if session.held.is_empty() {
                if let Some(at) = session.expires_at.take() {
                    self.expiries.remove(&(at, key));
                }
                let at = now + ttl;
                session.expires_at = Some(at);
                self.expiries.insert((at, key));
            }
        }
    }

    /// idle → held, or idle → answered at once (single- or multi-channel poll).
    pub(crate) fn poll_arrived(
        &mut self,
        now: Instant,
        id: PollId,
        client: &ClientId,
        subscriptions: &[(ChannelName, Option<Cursor>)],
        timeout: Option<Duration>,
        multi: bool,
    ) {
        let Some(session) = self.session_for(now, client) else {
            self.reject(id, RejectReason::TooManySessions);
            return;
        };
        if subscriptions.is_empty() || subscriptions.len() > self.config.max_channels_per_poll {
            self.reject(id, RejectReason::TooManyChannelsPerPoll);
            self.session_idle_check(now, session);
            return;
        }
        // Resolve channels (first subscription wins for a name given twice).
        let mut subs: Vec<(u32, Option<Cursor>)> = Vec::with_capacity(subscriptions.len());
        for (name, cursor) in subscriptions {
            let Some(channel) = self.channel_for(name) else {
                self.reject(id, RejectReason::TooManyChannels);
                self.session_idle_check(now, session);
                for (c, _) in subs {
                    self.drop_channel_if_unused(c);
                }
                return;
            };
            if !subs.iter().any(|(c, _)| *c == channel) {
                subs.push((channel, *cursor));
            }
        }
        self.poll_on_channels(now, id, session, &subs, timeout, multi);
        for (channel, _) in subs {
            self.drop_channel_if_unused(channel);
        }
    }

    /// A channel that was never published to, has no held poll and no bookkeeping is
    /// removed: recreating it later gives the same answers (same epoch, head 0), so polls
    /// for made-up channel names cannot fill `max_channels`.
    pub(crate) fn drop_channel_if_unused(&mut self, key: u32) {
        let unused = self.channels.get(key).is_some_and(|c| {
            c.waiters.is_empty()
                && c.acks.is_empty()
                && c.flush_at.is_none()
                && c.channel.head().seq.0 == 0
                && c.channel.epoch() == self.epoch
        });
        if unused {
            if let Some(state) = self.channels.remove(key) {
                self.channel_index.remove(&state.name);
            }
        }
    }

    /// The answer a held poll gets when it ends without messages.
    fn empty_answer(held: &Held, reason: EmptyReason) -> Outcome {
        match &held.subs {
            Subs::One([(_, cursor)]) => Outcome::Empty {
                cursor: *cursor,
                reason,
            },
            Subs::Many(_) => Outcome::MultiEmpty { reason },
        }
    }

    /// Reads every subscription of a multi-channel poll: the answers of the channels that
    /// have something to say, and every subscription's resolved cursor.
    fn read_many(
        &self,
        subs: &[(u32, Option<Cursor>)],
    ) -> (Vec<ChannelAnswer>, Vec<(u32, Cursor)>) {
        let mut answers = Vec::new();
        let mut cursors = Vec::with_capacity(subs.len());
        for &(channel, cursor) in subs {
            let Some(state) = self.channels.get(channel) else {
                continue;
            };
            match state.channel.read(
                cursor,
                self.config.max_batch_messages,
                self.config.max_batch_bytes,
            ) {
                Read::Answer(outcome) => answers.push(ChannelAnswer {
                    channel: state.name.clone(),
                    outcome,
                }),
                Read::Hold(c) => cursors.push((channel, c)),
            }
        }
        (answers, cursors)
    }

    fn poll_on_channels(
        &mut self,
        now: Instant,
        id: PollId,
        session: u32,
        subs: &[(u32, Option<Cursor>)],
        timeout: Option<Duration>,
        multi: bool,
    ) {
        // A poll from the same client on a channel it already polls.
        let older: Vec<PollId> = self.sessions.get(session).map_or(Vec::new(), |s| {
            let mut ids: Vec<PollId> = s
                .held
                .iter()
                .filter(|(c, _)| subs.iter().any(|(sc, _)| sc == c))
                .map(|h| h.1)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        });
        if !older.is_empty() {
            match self.config.duplicate_poll {
                DuplicatePoll::Supersede => {
                    for older in older {
                        if let Some(held) = self.forget(older) {
                            let outcome = Self::empty_answer(&held, EmptyReason::Superseded);
                            self.responses.push_back(Response {
                                poll: older,
                                outcome,
                            });
                            // Its other channels may now be unused (this request's own
                            // channels stay: their keys are in use below).
                            for &(c, _) in held.subs.as_slice() {
                                if !subs.iter().any(|(sc, _)| *sc == c) {
                                    self.drop_channel_if_unused(c);
                                }
                            }
                        }
                    }
                }
                DuplicatePoll::Reject => {
                    self.reject(id, RejectReason::DuplicatePoll);
                    return;
                }
                DuplicatePoll::AllowBoth => {}
            }
        }
        // Cursors acknowledge everything through them (RejectPublish bookkeeping).
        for &(channel, cursor) in subs {
            if let Some(cursor) = cursor {
                self.acknowledge(session, channel, cursor);
            }
        }
        let held_subs = if multi {
            let (answers, cursors) = self.read_many(subs);
            if !answers.is_empty() {
                self.responses.push_back(Response {
                    poll: id,
                    outcome: Outcome::Multi { answers },
                });
                self.session_idle_check(now, session);
                return;
            }
            Subs::Many(cursors.into_boxed_slice())
        } else {
            let (channel, cursor) = subs[0];
            let read = match self.channels.get(channel) {
                Some(state) => state.channel.read(
                    cursor,
                    self.config.max_batch_messages,
                    self.config.max_batch_bytes,
                ),
                None => return,
            };
            match read {
                Read::Answer(outcome) => {
                    self.responses.push_back(Response { poll: id, outcome });
                    self.session_idle_check(now, session);
                    return;
                }
                Read::Hold(cursor) => Subs::One([(channel, cursor)]),
            }
        };
        for &(channel, cursor) in held_subs.as_slice() {
            self.acknowledge(session, channel, cursor);
        }
        let held_by_client = self.sessions.get(session).map_or(0, |s| {
            s.held
                .iter()
                .enumerate()
                .filter(|(i, h)| !s.held[..*i].iter().any(|e| e.1 == h.1))
                .count()
        });
        if held_by_client >= self.config.max_polls_per_client.max(1) {
            self.reject(id, RejectReason::TooManyPollsForClient);
            self.session_idle_check(now, session);
            return;
        }
        if self.polls.len() >= self.config.max_held_polls {
            self.reject(id, RejectReason::TooManyPolls);
            self.session_idle_check(now, session);
            return;
        }
        let hold = timeout
            .unwrap_or(self.config.hold)
            .min(self.config.max_hold);
        let deadline = now + hold;
        for &(channel, _) in held_subs.as_slice() {
            if let Some(c) = self.channels.get_mut(channel) {
                c.waiters.insert(id);
            }
            if let Some(s) = self.sessions.get_mut(session) {
                // Most clients hold one poll: avoid Vec's default growth to 4 slots.
                s.held.reserve_exact(1);
                s.held.push((channel, id));
            }
        }
        self.deadlines.insert((deadline, id));
        self.insert_held(
            id,
            Held {
                deadline,
                session,
                subs: held_subs,
            },
        );
    }

    /// Removes a held poll from every index, without answering. The session's expiry is
    /// not scheduled here (callers do it once they know the time).
    pub(crate) fn forget(&mut self, id: PollId) -> Option<Held> {
        let held = self.remove_held(id)?;
        self.unlink(id, &held, None);
        Some(held)
    }

    /// Removes a poll (already out of `polls`) from the deadline queue, its channels'
    /// waiters (except `skip`, whose set the caller owns) and its session.
    fn unlink(&mut self, id: PollId, held: &Held, skip: Option<u32>) {
        self.deadlines.remove(&(held.deadline, id));
        for &(channel, _) in held.subs.as_slice() {
            if Some(channel) != skip {
                if let Some(c) = self.channels.get_mut(channel) {
                    c.waiters.remove(&id);
                }
            }
        }
        if let Some(s) = self.sessions.get_mut(held.session) {
            if let Subs::One(_) = held.subs {
                if let Some(i) = s.held.iter().position(|h| h.1 == id) {
                    s.held.swap_remove(i);
                }
            } else {
                s.held.retain(|h| h.1 != id);
            }
        }
    }

    /// Channels a finished poll waited on may now be unused.
    fn drop_unused_channels_of(&mut self, held: &Held) {
        for &(channel, _) in held.subs.as_slice() {
            self.drop_channel_if_unused(channel);
        }
    }

    /// held → aborted.
    pub(crate) fn abort(&mut self, now: Instant, id: PollId) -> bool {
        match self.forget(id) {
            Some(held) => {
                self.session_idle_check(now, held.session);
                self.drop_unused_channels_of(&held);
                true
            }
            None => false,
        }
    }

    /// held → empty (deadline); coalesced flushes; idle sessions → expired.
    pub(crate) fn timeout(&mut self, now: Instant) {
        while let Some(&(at, channel)) = self.flushes.first() {
            if at > now {
                break;
            }
            self.flushes.pop_first();
            if let Some(c) = self.channels.get_mut(channel) {
                c.flush_at = None;
            }
            self.release_waiters(now, channel);
        }
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            if let Some(held) = self.forget(id) {
                let outcome = Self::empty_answer(&held, EmptyReason::Timeout);
                self.responses.push_back(Response { poll: id, outcome });
                self.session_idle_check(now, held.session);
                self.drop_unused_channels_of(&held);
            }
        }
        while let Some(&(at, key)) = self.expiries.first() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            self.expire(key);
        }
    }

    /// idle session → removed.
    fn expire(&mut self, key: u32) {
        let Some(session) = self.sessions.remove(key) else {
            return;
        };
        debug_assert!(session.held.is_empty());
        self.session_index.remove(&session.client);
        for (channel, seq) in session.acks {
            if let Some(c) = self.channels.get_mut(channel) {
                c.acks.remove(&(seq, key));
            }
            self.trim(channel);
        }
        self.events.push_back(HubEvent::SessionExpired {
            client: session.client,
        });
    }

    /// A publish: history grows; held polls are released now or at the coalescing deadline.
    pub(crate) fn published(
        &mut self,
        now: Instant,
        channel: u32,
        data: Bytes,
    ) -> Result<Seq, PublishError> {
        let coalesce = self.config.coalesce;
        let Some(c) = self.channels.get_mut(channel) else {
            return Err(PublishError::TooManyChannels {
                max_channels: self.config.max_channels,
            });
        };
        let (seq, _evicted) = c.channel.publish(data)?;
        if c.waiters.is_empty() {
            return Ok(seq);
        }
        if coalesce.is_zero() {
            self.release_waiters(now, channel);
        } else if c.flush_at.is_none() {
            let at = now + coalesce;
            c.flush_at = Some(at);
            self.flushes.insert((at, channel));
        }
        Ok(seq)
    }

    /// held → delivered (batch, gap or reset) for every waiter of `channel` that the
    /// channel can answer now.
    pub(crate) fn release_waiters(&mut self, now: Instant, channel: u32) {
        let (max_messages, max_bytes) =
            (self.config.max_batch_messages, self.config.max_batch_bytes);
        let Some(state) = self.channels.get_mut(channel) else {
            return;
        };
        let waiters = core::mem::take(&mut state.waiters);
        let mut still_held = alloc::collections::BTreeSet::new();
        // Waiters usually share one cursor (the head when they were held): reuse its answer.
        let mut last: Option<(Cursor, Outcome)> = None;
        for id in waiters {
            let Some(held) = self.remove_held(id) else {
                continue;
            };
            let outcome = match &held.subs {
                Subs::One([(_, cursor)]) => match &last {
                    Some((c, outcome)) if c == cursor => outcome.clone(),
                    _ => {
                        let read = match self.channels.get(channel) {
                            Some(state) => {
                                state.channel.read(Some(*cursor), max_messages, max_bytes)
                            }
                            None => Read::Hold(*cursor),
                        };
                        match read {
                            Read::Answer(outcome) => {
                                last = Some((*cursor, outcome.clone()));
                                outcome
                            }
                            Read::Hold(_) => {
                                self.insert_held(id, held);
                                still_held.insert(id);
                                continue;
                            }
                        }
                    }
                },
                Subs::Many(subs) => {
                    let subs: Vec<(u32, Option<Cursor>)> =
                        subs.iter().map(|&(c, cursor)| (c, Some(cursor))).collect();
                    let (answers, _) = self.read_many(&subs);
                    if answers.is_empty() {
                        self.insert_held(id, held);
                        still_held.insert(id);
                        continue;
                    }
                    Outcome::Multi { answers }
                }
            };
            self.unlink(id, &held, Some(channel));
            if let Subs::Many(_) = held.subs {
                for &(other, _) in held.subs.as_slice() {
                    if other != channel {
                        self.drop_channel_if_unused(other);
                    }
                }
            }
            if self
                .sessions
                .get(held.session)
                .is_some_and(|s| s.held.is_empty())
            {
                self.session_idle_check(now, held.session);
            }
            self.responses.push_back(Response { poll: id, outcome });
        }
        if let Some(state) = self.channels.get_mut(channel) {
            state.waiters = still_held;
        }
    }

    /// A channel's history is lost: new epoch; held polls get `Reset`.
    pub(crate) fn reset(&mut self, now: Instant, channel: u32, epoch: Epoch) {
        self.restart(now, channel, Cursor::start_of(epoch));
    }

    /// A channel's history is lost and it continues at `head`: held polls get `Reset` (other
    /// epoch) or `Gap` (before `head`) or stay held (at `head`).
    pub(crate) fn restart(&mut self, now: Instant, channel: u32, head: Cursor) {
        let Some(state) = self.channels.get_mut(channel) else {
            return;
        };
        state.channel.restart_at(head);
        let acks = core::mem::take(&mut state.acks);
        if let Some(at) = state.flush_at.take() {
            self.flushes.remove(&(at, channel));
        }
        for (_, session) in acks {
            if let Some(s) = self.sessions.get_mut(session) {
                s.acks.retain(|(c, _)| *c != channel);
            }
        }
        self.release_waiters(now, channel);
    }

    /// A channel nobody waits on → removed, with its acknowledgements and pending flush.
    pub(crate) fn remove(&mut self, channel: u32) -> bool {
        if !self
            .channels
            .get(channel)
            .is_some_and(|c| c.waiters.is_empty())
        {
            return false;
        }
        let Some(state) = self.channels.remove(channel) else {
            return false;
        };
        self.channel_index.remove(&state.name);
        if let Some(at) = state.flush_at {
            self.flushes.remove(&(at, channel));
        }
        for (_, session) in state.acks {
            if let Some(s) = self.sessions.get_mut(session) {
                s.acks.retain(|(c, _)| *c != channel);
            }
        }
        true
    }

    /// Under `RejectPublish`: the session has everything through `cursor` on `channel`.
    pub(crate) fn acknowledge(&mut self, session: u32, channel: u32, cursor: Cursor) {
        if self.config.channel.overflow != Overflow::RejectPublish {
            return;
        }
        let Some(state) = self.channels.get_mut(channel) else {
            return;
        };
        if cursor.epoch != state.channel.epoch() || cursor.seq > state.channel.head().seq {
            return;
        }
        let Some(s) = self.sessions.get_mut(session) else {
            return;
        };
        match s.acks.iter_mut().find(|(c, _)| *c == channel) {
            Some((_, seq)) => {
                if cursor.seq <= *seq {
                    return;
                }
                state.acks.remove(&(*seq, session));
                *seq = cursor.seq;
            }
            None => s.acks.push((channel, cursor.seq)),
        }
        state.acks.insert((cursor.seq, session));
        self.trim(channel);
    }

    /// Under `RejectPublish`: drop history every live subscriber has acknowledged.
    fn trim(&mut self, channel: u32) {
        if let Some(state) = self.channels.get_mut(channel) {
            if let Some(&(min, _)) = state.acks.first() {
                state.channel.trim_through(min);
            }
        }
    }
}
