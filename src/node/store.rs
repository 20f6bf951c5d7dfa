//! The node's memory: envelopes addressed by (originator, sequence id),
//! indexed by topic, plus the inbox states and address log that identity
//! updates produce.
//!
//! Each originator numbers its envelopes from 1 upwards (0 commits,
//! 1 identity updates, 100 everything this node originates). An envelope
//! can be stored with a visibility time in the future, which is how the
//! node models an indexer that trails the chain.
//!
//! Every topic keeps its keys in an ordered set, so a query is a range
//! scan from the reader's cursor, merged across the topics it names; no
//! query looks at envelopes before its cursor.
//!
//! The store is bounded (see [`eviction`](super::eviction)): envelopes no
//! rule still needs leave after the retention period, or sooner once the
//! store is over its size cap; if it is still over, whole topics that have
//! gone longest unused are forgotten (see [`recency`](super::recency)).
//! A read of an evicted envelope finds nothing, as a read from a pruned
//! node would.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use crate::identity::AssociationState;
use crate::proto::envelopes::OriginatorEnvelope;
use crate::topic::{topic as topic_of, TopicKind};

use super::eviction::{Evictions, Keep, StoreLimits};
use super::footprint;
use super::recency::{LastUse, Recency, TopicName};
use super::segments::{Segments, Slot};
use super::store_stats::{StatsDelta, StoreStats};

pub use crate::topic::{COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR};

/// (originator, sequence id): where an envelope sits in its originator's log.
pub(crate) type Key = (u32, u64);

pub(super) struct Stored {
    pub(super) slot: Slot,
    pub(super) visible_at: Instant,
    pub(super) topic: TopicName,
    /// What the entry's bookkeeping is charged (its bytes are charged
    /// with their segment).
    pub(super) bytes: u64,
    pub(super) arrived_at: Instant,
    pub(super) arrival: u64,
}

/// One topic's envelopes, in the two orders readers ask for.
#[derive(Default)]
pub(super) struct TopicIndex {
    /// By (originator, sequence id): V4's cursors.
    pub(super) keys: BTreeSet<Key>,
    /// By arrival at this node: V3's single id sequence per topic, in
    /// which a group's commits and application messages interleave.
    pub(super) arrivals: BTreeMap<u64, Key>,
    pub(super) last_use: LastUse,
}

impl TopicIndex {
    pub(super) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// An inbox as the indexer last validated it.
#[derive(Clone)]
pub(crate) struct InboxRecord {
    pub(crate) state: AssociationState,
}

#[derive(Default)]
pub(super) struct Inner {
    last_sequence: HashMap<u32, u64>,
    /// Sequence ids handed out but not yet stored (or released): readers
    /// stop before the lowest, so a cursor never moves past an envelope
    /// that is still being written.
    pending: HashMap<u32, BTreeSet<u64>>,
    pub(super) envelopes: HashMap<Key, Stored>,
    pub(super) segments: Segments,
    pub(super) topics: HashMap<TopicName, TopicIndex>,
    pub(super) recency: Recency,
    /// The last arrival id handed out (V3 ids start at 1).
    arrivals: u64,
    pub(super) evictions: Evictions,
    /// Charges for everything but the segments.
    pub(super) bytes: u64,
    inboxes: HashMap<String, InboxRecord>,
    addresses: HashMap<String, (String, Instant)>,
}

impl Inner {
    /// What the store holds against its cap.
    pub(super) fn charged(&self) -> u64 {
        self.bytes + self.segments.allocated()
    }

    /// Removes an envelope from the map and its segment, refunding its
    /// charge.
    pub(super) fn remove(&mut self, key: &Key) -> Option<Stored> {
        let stored = self.envelopes.remove(key)?;
        self.segments.release(stored.slot);
        self.bytes -= stored.bytes;
        Some(stored)
    }

    fn read(&self, stored: &Stored) -> Option<OriginatorEnvelope> {
        self.segments.envelope(stored.slot)
    }

    /// The highest sequence id of `originator` a reader may see now.
    fn ceiling(&self, originator: u32) -> u64 {
        match self.pending.get(&originator).and_then(|p| p.first()) {
            Some(&lowest) => lowest - 1,
            None => self.last_sequence.get(&originator).copied().unwrap_or(0),
        }
    }

    fn finish_pending(&mut self, (originator, sequence_id): Key) {
        if let Some(pending) = self.pending.get_mut(&originator) {
            pending.remove(&sequence_id);
        }
    }

    /// Marks `topic` as used now, if the store has it.
    fn touch(&mut self, topic: &[u8]) {
        if let Some((name, index)) = self.topics.get_key_value(topic) {
            let (name, mut last_use) = (Arc::clone(name), index.last_use);
            self.recency.touch(&name, &mut last_use);
            if let Some(index) = self.topics.get_mut(topic) {
                index.last_use = last_use;
            }
        }
    }

    /// Marks an inbox as used now: its state and log live and go together
    /// with its identity-updates topic.
    fn touch_inbox(&mut self, inbox_id: &str) {
        if let Ok(identifier) = hex::decode(inbox_id) {
            self.touch(&topic_of(TopicKind::IdentityUpdates, &identifier));
        }
    }

    /// Forgets a whole topic: its envelopes, and for an inbox's identity
    /// topic the inbox's state and the addresses that resolve to it.
    pub(super) fn forget(&mut self, topic: &[u8], delta: &mut StatsDelta) {
        let Some(index) = self.topics.remove(topic) else {
            return;
        };
        self.recency.remove(index.last_use);
        let freed = footprint::topic(topic.len());
        self.bytes -= freed;
        delta.freed(freed);
        for key in &index.keys {
            if let Some(stored) = self.remove(key) {
                delta.evicted(stored.bytes);
            }
        }
        if topic.first() == Some(&TopicKind::IdentityUpdates.byte()) {
            let inbox_id = hex::encode(&topic[1..]);
            if let Some(record) = self.inboxes.remove(&inbox_id) {
                let mut freed = footprint::inbox(&record.state);
                for address in record.state.addresses() {
                    if self
                        .addresses
                        .get(&address)
                        .is_some_and(|(owner, _)| *owner == inbox_id)
                    {
                        self.addresses.remove(&address);
                        freed += footprint::address(&address, &inbox_id);
                    }
                }
                self.bytes -= freed;
                delta.freed(freed);
            }
        }
        delta.forgot();
    }
}

/// Thread-safe envelope store. Critical sections are short: all crypto
/// happens before the lock is taken.
pub(crate) struct Store {
    inner: Mutex<Inner>,
    limits: StoreLimits,
}

impl Store {
    pub(crate) fn new(limits: StoreLimits) -> Self {
        Self {
            inner: Mutex::new(Inner {
                segments: Segments::for_cap(limits.max_bytes),
                ..Inner::default()
            }),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half
        // updated in a way readers could observe as corrupt, so a poisoned
        // lock is still safe to use.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reserves the next sequence id of `originator`. The caller must
    /// [`insert`](Self::insert) or [`release`](Self::release) it.
    pub(crate) fn next_sequence(&self, originator: u32) -> u64 {
        let mut inner = self.lock();
        let seq = inner.last_sequence.entry(originator).or_insert(0);
        *seq += 1;
        let seq = *seq;
        inner.pending.entry(originator).or_default().insert(seq);
        seq
    }

    /// Gives up a reserved sequence id that will never be stored (an
    /// identity update the indexer dropped).
    pub(crate) fn release(&self, key: Key) {
        self.lock().finish_pending(key);
    }

    /// Stores an envelope under `topic`, readable from `visible_at`, then
    /// evicts what the limits no longer allow.
    pub(crate) fn insert(
        &self,
        key: Key,
        topic: Vec<u8>,
        envelope: OriginatorEnvelope,
        visible_at: Instant,
    ) {
        let now = Instant::now();
        let bytes = footprint::entry();
        let delta = {
            let mut inner = self.lock();
            let inner = &mut *inner;
            inner.finish_pending(key);
            let keep = Keep::of(key, &topic);
            inner.arrivals += 1;
            let arrival = inner.arrivals;
            // Envelopes share their topic's name with its index.
            let mut delta = StatsDelta::stored(bytes);
            let topic = match inner.topics.get_key_value(topic.as_slice()) {
                Some((name, _)) => Arc::clone(name),
                None => {
                    let charge = footprint::topic(topic.len());
                    inner.bytes += charge;
                    delta.charged(charge);
                    TopicName::from(topic)
                }
            };
            let index = inner.topics.entry(Arc::clone(&topic)).or_default();
            inner.recency.touch(&topic, &mut index.last_use);
            // Whatever the new envelope supersedes may go from now on.
            let superseded = keep.supersedes(key, &index.keys);
            index.keys.insert(key);
            index.arrivals.insert(arrival, key);
            let slot = inner.segments.append(key, &envelope);
            inner.envelopes.insert(
                key,
                Stored {
                    slot,
                    visible_at,
                    topic,
                    bytes,
                    arrived_at: now,
                    arrival,
                },
            );
            inner.bytes += bytes;
            if keep == Keep::Evictable {
                inner.evictions.queue(key, now);
            }
            if let Some(old) = superseded {
                if let Some(arrived_at) = inner.envelopes.get(&old).map(|s| s.arrived_at) {
                    inner.evictions.queue(old, arrived_at);
                }
            }
            delta.add(self.limits.enforce(inner, now));
            delta
        };
        delta.record();
    }

    /// Evicts what has outlived the retention period; readers call it so
    /// that an idle node still forgets on time.
    fn expire(&self, inner: &mut Inner, now: Instant) -> StatsDelta {
        self.limits.enforce(inner, now)
    }

    /// Envelopes on any of `topics` after `cursor`, ordered by
    /// (originator, sequence id), at most `limit`. Within an originator
    /// the scan stops at the first envelope not yet indexed, so a reader
    /// sees a prefix of each log, as from an indexer.
    pub(crate) fn query_topics(
        &self,
        topics: &[Vec<u8>],
        cursor: &HashMap<u32, u64>,
        limit: usize,
    ) -> Vec<OriginatorEnvelope> {
        let now = Instant::now();
        let mut out = Vec::new();
        let delta = {
            let mut inner = self.lock();
            let delta = self.expire(&mut inner, now);
            let mut names: Vec<&Vec<u8>> = topics.iter().collect();
            names.sort_unstable();
            names.dedup();
            for name in &names {
                inner.touch(name);
            }
            let indexes: Vec<&BTreeSet<Key>> = names
                .into_iter()
                .filter_map(|topic| inner.topics.get(topic.as_slice()).map(|index| &index.keys))
                .collect();
            let mut originators: Vec<u32> = inner.last_sequence.keys().copied().collect();
            originators.sort_unstable();
            for originator in originators {
                let from = cursor.get(&originator).copied().unwrap_or(0);
                let to = inner.ceiling(originator);
                if from >= to {
                    continue;
                }
                let mut ranges: Vec<_> = indexes
                    .iter()
                    .map(|keys| keys.range((originator, from + 1)..=(originator, to)))
                    .collect();
                // A k-way merge of the topics' ranges, in key order.
                let mut heads: BinaryHeap<Reverse<(Key, usize)>> = ranges
                    .iter_mut()
                    .enumerate()
                    .filter_map(|(i, range)| range.next().map(|k| Reverse((*k, i))))
                    .collect();
                while let Some(Reverse((key, i))) = heads.pop() {
                    if out.len() == limit {
                        break;
                    }
                    let Some(stored) = inner.envelopes.get(&key) else {
                        continue;
                    };
                    if stored.visible_at > now {
                        break;
                    }
                    out.extend(inner.read(stored));
                    if let Some(next) = ranges[i].next() {
                        heads.push(Reverse((*next, i)));
                    }
                }
                if out.len() == limit {
                    break;
                }
            }
            delta
        };
        delta.record();
        out
    }

    /// Envelopes from any of `originators` after `cursor`.
    pub(crate) fn query_originators(
        &self,
        originators: &[u32],
        cursor: &HashMap<u32, u64>,
        limit: usize,
    ) -> Vec<OriginatorEnvelope> {
        let now = Instant::now();
        let mut originators = originators.to_vec();
        originators.sort_unstable();
        originators.dedup();
        let mut out = Vec::new();
        let delta = {
            let mut inner = self.lock();
            let delta = self.expire(&mut inner, now);
            'originators: for originator in originators {
                let from = cursor.get(&originator).copied().unwrap_or(0);
                let to = inner.ceiling(originator);
                // Sequence ids are dense, so walking them is a range scan;
                // evicted ones are simply absent.
                for sequence_id in from.saturating_add(1)..=to {
                    if out.len() == limit {
                        break 'originators;
                    }
                    let Some(stored) = inner.envelopes.get(&(originator, sequence_id)) else {
                        continue;
                    };
                    if stored.visible_at > now {
                        break;
                    }
                    out.extend(inner.read(stored));
                }
            }
            delta
        };
        delta.record();
        out
    }

    /// Envelopes on `topic` by arrival id, as V3 pages them: ascending
    /// after `cursor` (stopping at the first one not yet indexed), or
    /// descending before it (0: from the newest), at most `limit`.
    pub(crate) fn query_arrivals(
        &self,
        topic: &[u8],
        cursor: u64,
        descending: bool,
        limit: usize,
    ) -> Vec<(u64, OriginatorEnvelope)> {
        let now = Instant::now();
        let mut out = Vec::new();
        let delta = {
            let mut inner = self.lock();
            let delta = self.expire(&mut inner, now);
            inner.touch(topic);
            if let Some(index) = inner.topics.get(topic) {
                let readable = |(&arrival, key): (&u64, &Key)| {
                    let stored = inner.envelopes.get(key)?;
                    Some((arrival, stored.visible_at <= now, stored))
                };
                if descending {
                    let below = if cursor == 0 { u64::MAX } else { cursor };
                    out.extend(
                        index
                            .arrivals
                            .range(..below)
                            .rev()
                            .filter_map(readable)
                            .filter(|(_, visible, _)| *visible)
                            .take(limit)
                            .filter_map(|(arrival, _, stored)| {
                                Some((arrival, inner.read(stored)?))
                            }),
                    );
                } else {
                    out.extend(
                        index
                            .arrivals
                            .range(cursor.saturating_add(1)..)
                            .filter_map(readable)
                            .take_while(|(_, visible, _)| *visible)
                            .take(limit)
                            .filter_map(|(arrival, _, stored)| {
                                Some((arrival, inner.read(stored)?))
                            }),
                    );
                }
            }
            delta
        };
        delta.record();
        out
    }

    /// The newest readable envelope on `topic`.
    pub(crate) fn newest(&self, topic: &[u8]) -> Option<OriginatorEnvelope> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.touch(topic);
        inner
            .topics
            .get(topic)?
            .keys
            .iter()
            .rev()
            .filter_map(|key| inner.envelopes.get(key))
            .find(|stored| stored.visible_at <= now)
            .and_then(|stored| inner.read(stored))
    }

    /// Envelopes, bytes and evictions so far.
    pub(crate) fn stats(&self) -> StoreStats {
        let inner = self.lock();
        StoreStats {
            envelopes: inner.envelopes.len() as u64,
            bytes: inner.charged(),
            evictions: inner.evictions.total(),
            forgotten: inner.evictions.forgotten(),
        }
    }

    /// The validated state of an inbox, if it has one.
    pub(crate) fn inbox(&self, inbox_id: &str) -> Option<InboxRecord> {
        let mut inner = self.lock();
        inner.touch_inbox(inbox_id);
        inner.inboxes.get(inbox_id).cloned()
    }

    /// Records a validated identity update's resulting state, and the
    /// addresses it links, readable from `visible_at`.
    pub(crate) fn set_inbox(&self, state: AssociationState, visible_at: Instant) {
        let mut delta = StatsDelta::default();
        {
            let mut inner = self.lock();
            let inner = &mut *inner;
            let inbox_id = state.inbox_id().to_owned();
            let mut charge = footprint::inbox(&state);
            for address in state.addresses() {
                if let Entry::Vacant(entry) = inner.addresses.entry(address) {
                    charge += footprint::address(entry.key(), &inbox_id);
                    entry.insert((inbox_id.clone(), visible_at));
                }
            }
            let refund = match inner.inboxes.insert(inbox_id, InboxRecord { state }) {
                Some(old) => footprint::inbox(&old.state),
                None => 0,
            };
            inner.bytes = inner.bytes + charge - refund;
            delta.charged(charge);
            delta.freed(refund);
            delta.add(self.limits.enforce(inner, Instant::now()));
        }
        delta.record();
    }

    /// The inbox an address belongs to, once readable.
    pub(crate) fn inbox_of(&self, address: &str) -> Option<String> {
        let now = Instant::now();
        let mut inner = self.lock();
        let inbox = inner
            .addresses
            .get(address)
            .filter(|(_, visible_at)| *visible_at <= now)
            .map(|(inbox, _)| inbox.clone())?;
        inner.touch_inbox(&inbox);
        Some(inbox)
    }

    /// Whether some sequence id is handed out but not yet stored, so a
    /// read may have stopped before it.
    pub(crate) fn has_pending(&self) -> bool {
        self.lock().pending.values().any(|p| !p.is_empty())
    }

    /// Whether `originator` has assigned `sequence_id` (used to check
    /// `depends_on`).
    pub(crate) fn has_seen(&self, originator: u32, sequence_id: u64) -> bool {
        self.lock()
            .last_sequence
            .get(&originator)
            .is_some_and(|&last| last >= sequence_id)
    }
}
