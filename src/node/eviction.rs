//! What the bounded store may forget, and when.
//!
//! An envelope is *evictable* once no rule needs it any more. Three rules
//! keep envelopes for good, because validation and clients depend on them:
//! every identity update (an inbox's state is replayed from its whole
//! log), the newest key package of each installation (an inviter fetches
//! it), and the last commit of each group (a member resyncs from it).
//! Everything else — application messages, welcomes, superseded key
//! packages and commits — joins a queue ordered by arrival the moment it
//! becomes evictable.
//!
//! The queue is drained from its oldest end while the oldest has outlived
//! the retention period, or while the store is over its size cap. A kept
//! envelope is never in the queue, so draining never has to skip one.
//!
//! Retention never removes a kept envelope, but the cap does: once the
//! queue is empty and the store is still over, the topics unused for
//! longest are forgotten whole (see [`recency`](super::recency)).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use crate::topic::TopicKind;

use super::footprint;
use super::recency::{Recency, TopicName};
use super::store::{Inner, Key, Stored, TopicIndex, COMMITS_ORIGINATOR};
use super::store_stats::StatsDelta;

/// How long envelopes stay by default: long enough for every reader of a
/// benchmark or monitor round, short enough to keep the node small.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(5 * 60);
/// The store's default size cap.
pub const DEFAULT_MAX_STORE: u64 = 512 << 20;

/// Segments compacted at most per store operation.
const COMPACTIONS_PER_CALL: u32 = 4;

/// The bounds of a store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoreLimits {
    pub(crate) retention: Duration,
    pub(crate) max_bytes: u64,
}

/// Which rule, if any, keeps an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    /// Part of an inbox's identity log.
    Always,
    /// Kept while it is the newest key package of its installation.
    NewestOnTopic,
    /// Kept while it is the last commit of its group.
    LastCommit,
    /// No rule needs it.
    Evictable,
}

impl Keep {
    pub(super) fn of((originator, _): Key, topic: &[u8]) -> Self {
        match topic.first().copied() {
            Some(b) if b == TopicKind::IdentityUpdates.byte() => Self::Always,
            Some(b) if b == TopicKind::KeyPackages.byte() => Self::NewestOnTopic,
            Some(b) if b == TopicKind::GroupMessages.byte() && originator == COMMITS_ORIGINATOR => {
                Self::LastCommit
            }
            _ => Self::Evictable,
        }
    }

    /// The envelope that stops being kept when `key` joins a topic whose
    /// keys are `keys`: the older of `key` and the one it replaces.
    pub(super) fn supersedes(self, key: Key, keys: &BTreeSet<Key>) -> Option<Key> {
        let previous = match self {
            Self::NewestOnTopic => keys.last(),
            Self::LastCommit => keys
                .range((COMMITS_ORIGINATOR, 0)..=(COMMITS_ORIGINATOR, u64::MAX))
                .next_back(),
            Self::Always | Self::Evictable => None,
        }?;
        Some((*previous).min(key))
    }
}

/// Evictable envelopes, oldest first, and how many have gone.
#[derive(Default)]
pub(super) struct Evictions {
    queue: BTreeSet<(Instant, Key)>,
    total: u64,
    forgotten: u64,
}

impl Evictions {
    pub(super) fn queue(&mut self, key: Key, arrived_at: Instant) {
        self.queue.insert((arrived_at, key));
    }

    pub(super) fn total(&self) -> u64 {
        self.total
    }

    pub(super) fn forgotten(&self) -> u64 {
        self.forgotten
    }
}

impl StoreLimits {
    /// Evicts from the oldest end while the oldest has expired or the
    /// store is over its cap (first compacting segments that are mostly
    /// holes, a few per call); then, while still over the cap, forgets
    /// the topics unused for longest.
    pub(super) fn enforce(&self, inner: &mut Inner, now: Instant) -> StatsDelta {
        let mut delta = StatsDelta::default();
        let mut compactions = 0;
        loop {
            let over = inner.charged() > self.max_bytes;
            // Compaction only saves live envelopes from eviction; a few per
            // call keep writes cheap, and the cap holds either way.
            if over
                && compactions < COMPACTIONS_PER_CALL
                && inner.segments.compact_one(&mut inner.envelopes)
            {
                compactions += 1;
                continue;
            }
            if let Some(&(arrived_at, key)) = inner.evictions.queue.first() {
                if over || arrived_at + self.retention <= now {
                    inner.evictions.queue.pop_first();
                    if let Some(stored) = inner.remove(&key) {
                        inner.evictions.total += 1;
                        delta.evicted(stored.bytes);
                        if unindex(&mut inner.topics, &mut inner.recency, &stored, key) {
                            let freed = footprint::topic(stored.topic.len());
                            inner.bytes -= freed;
                            delta.freed(freed);
                        }
                    }
                    continue;
                }
            }
            if !over {
                break;
            }
            let Some(topic) = inner.recency.oldest().cloned() else {
                break;
            };
            let mut forgotten = StatsDelta::default();
            inner.forget(&topic, &mut forgotten);
            inner.evictions.total += forgotten.evicted_count();
            inner.evictions.forgotten += 1;
            delta.add(forgotten);
        }
        let (grown, freed) = inner.segments.take_change();
        delta.charged(grown);
        delta.freed(freed);
        delta
    }
}

/// Takes an evicted envelope out of its topic's indexes; returns whether
/// that emptied the topic, which is then removed.
fn unindex(
    topics: &mut HashMap<TopicName, TopicIndex>,
    recency: &mut Recency,
    stored: &Stored,
    key: Key,
) -> bool {
    let Some(index) = topics.get_mut(&stored.topic) else {
        return false;
    };
    index.keys.remove(&key);
    index.arrivals.remove(&stored.arrival);
    if !index.is_empty() {
        return false;
    }
    recency.remove(index.last_use);
    topics.remove(&stored.topic);
    true
}
