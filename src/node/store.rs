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
//! store is over its size cap. A read of an evicted envelope finds nothing,
//! as a read from a pruned node would.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::Mutex;

use prost::Message;
use tokio::time::Instant;

use crate::identity::AssociationState;
use crate::proto::envelopes::OriginatorEnvelope;

use super::eviction::{Evictions, Keep, StoreLimits};
use super::store_stats::{StatsDelta, StoreStats};

pub use crate::topic::{COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR};

/// (originator, sequence id): where an envelope sits in its originator's log.
pub(crate) type Key = (u32, u64);

/// Bookkeeping per stored envelope, charged to the store's size besides
/// the envelope and its topic (keys in the indexes, map nodes).
const ENTRY_OVERHEAD: u64 = 96;

pub(super) struct Stored {
    pub(super) envelope: OriginatorEnvelope,
    pub(super) visible_at: Instant,
    pub(super) topic: Vec<u8>,
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
    pub(super) topics: HashMap<Vec<u8>, TopicIndex>,
    /// The last arrival id handed out (V3 ids start at 1).
    arrivals: u64,
    pub(super) evictions: Evictions,
    pub(super) bytes: u64,
    inboxes: HashMap<String, InboxRecord>,
    addresses: HashMap<String, (String, Instant)>,
}

impl Inner {
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
            inner: Mutex::default(),
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
        let bytes = (envelope.encoded_len() + topic.len()) as u64 + ENTRY_OVERHEAD;
        let delta = {
            let mut inner = self.lock();
            inner.finish_pending(key);
            let keep = Keep::of(key, &topic);
            inner.arrivals += 1;
            let arrival = inner.arrivals;
            let index = inner.topics.entry(topic.clone()).or_default();
            // Whatever the new envelope supersedes may go from now on.
            let superseded = keep.supersedes(key, &index.keys);
            index.keys.insert(key);
            index.arrivals.insert(arrival, key);
            inner.envelopes.insert(
                key,
                Stored {
                    envelope,
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
            let mut delta = StatsDelta::stored(bytes);
            delta.add(self.limits.enforce(&mut inner, now));
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
            let indexes: Vec<&BTreeSet<Key>> = names
                .into_iter()
                .filter_map(|topic| inner.topics.get(topic).map(|index| &index.keys))
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
                    out.push(stored.envelope.clone());
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
                    out.push(stored.envelope.clone());
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
            if let Some(index) = inner.topics.get(topic) {
                let readable = |(&arrival, key): (&u64, &Key)| {
                    let stored = inner.envelopes.get(key)?;
                    Some((arrival, stored.visible_at <= now, &stored.envelope))
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
                            .map(|(arrival, _, envelope)| (arrival, envelope.clone())),
                    );
                } else {
                    out.extend(
                        index
                            .arrivals
                            .range(cursor.saturating_add(1)..)
                            .filter_map(readable)
                            .take_while(|(_, visible, _)| *visible)
                            .take(limit)
                            .map(|(arrival, _, envelope)| (arrival, envelope.clone())),
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
        let inner = self.lock();
        inner
            .topics
            .get(topic)?
            .keys
            .iter()
            .rev()
            .filter_map(|key| inner.envelopes.get(key))
            .find(|stored| stored.visible_at <= now)
            .map(|stored| stored.envelope.clone())
    }

    /// Envelopes, bytes and evictions so far.
    pub(crate) fn stats(&self) -> StoreStats {
        let inner = self.lock();
        StoreStats {
            envelopes: inner.envelopes.len() as u64,
            bytes: inner.bytes,
            evictions: inner.evictions.total(),
        }
    }

    /// The validated state of an inbox, if it has one.
    pub(crate) fn inbox(&self, inbox_id: &str) -> Option<InboxRecord> {
        self.lock().inboxes.get(inbox_id).cloned()
    }

    /// Records a validated identity update's resulting state, and the
    /// addresses it links, readable from `visible_at`.
    pub(crate) fn set_inbox(&self, state: AssociationState, visible_at: Instant) {
        let mut inner = self.lock();
        let inbox_id = state.inbox_id().to_owned();
        for address in state.addresses() {
            inner
                .addresses
                .entry(address)
                .or_insert_with(|| (inbox_id.clone(), visible_at));
        }
        inner.inboxes.insert(inbox_id, InboxRecord { state });
    }

    /// The inbox an address belongs to, once readable.
    pub(crate) fn inbox_of(&self, address: &str) -> Option<String> {
        let now = Instant::now();
        let inner = self.lock();
        inner
            .addresses
            .get(address)
            .filter(|(_, visible_at)| *visible_at <= now)
            .map(|(inbox, _)| inbox.clone())
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
