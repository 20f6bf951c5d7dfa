//! The node's memory: envelopes addressed by (originator, sequence id),
//! indexed by topic, plus the inbox states and address log that identity
//! updates produce.
//!
//! Each originator numbers its envelopes from 1 upwards (0 commits,
//! 1 identity updates, 100 everything this node originates). An envelope
//! can be stored with a visibility time in the future, which is how the
//! node models an indexer that trails the chain.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use tokio::time::Instant;

use crate::identity::AssociationState;
use crate::proto::envelopes::OriginatorEnvelope;

pub use crate::topic::{COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR};

type Key = (u32, u64);

struct Stored {
    envelope: OriginatorEnvelope,
    visible_at: Instant,
}

/// An inbox as the indexer last validated it.
#[derive(Clone)]
pub(crate) struct InboxRecord {
    pub(crate) state: AssociationState,
}

#[derive(Default)]
struct Inner {
    last_sequence: HashMap<u32, u64>,
    envelopes: BTreeMap<Key, Stored>,
    topics: HashMap<Vec<u8>, Vec<Key>>,
    inboxes: HashMap<String, InboxRecord>,
    addresses: HashMap<String, (String, Instant)>,
}

/// Thread-safe envelope store. Critical sections are short: all crypto
/// happens before the lock is taken.
#[derive(Default)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
}

impl Store {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half
        // updated in a way readers could observe as corrupt, so a poisoned
        // lock is still safe to use.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reserves the next sequence id of `originator`.
    pub(crate) fn next_sequence(&self, originator: u32) -> u64 {
        let mut inner = self.lock();
        let seq = inner.last_sequence.entry(originator).or_insert(0);
        *seq += 1;
        *seq
    }

    /// The highest sequence id assigned so far by `originator`.
    pub(crate) fn last_sequence(&self, originator: u32) -> u64 {
        self.lock()
            .last_sequence
            .get(&originator)
            .copied()
            .unwrap_or(0)
    }

    /// Stores an envelope under `topic`, readable from `visible_at`.
    pub(crate) fn insert(
        &self,
        key: Key,
        topic: Vec<u8>,
        envelope: OriginatorEnvelope,
        visible_at: Instant,
    ) {
        let mut inner = self.lock();
        inner.topics.entry(topic).or_default().push(key);
        inner.envelopes.insert(
            key,
            Stored {
                envelope,
                visible_at,
            },
        );
    }

    /// Envelopes on any of `topics` after `cursor`, ordered by
    /// (originator, sequence id), at most `limit`.
    pub(crate) fn query_topics(
        &self,
        topics: &[Vec<u8>],
        cursor: &HashMap<u32, u64>,
        limit: usize,
    ) -> Vec<OriginatorEnvelope> {
        let now = Instant::now();
        let inner = self.lock();
        let mut keys: Vec<Key> = topics
            .iter()
            .filter_map(|topic| inner.topics.get(topic))
            .flatten()
            .copied()
            .filter(|(originator, seq)| *seq > cursor.get(originator).copied().unwrap_or(0))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys.iter()
            .filter_map(|key| inner.envelopes.get(key))
            .filter(|stored| stored.visible_at <= now)
            .take(limit)
            .map(|stored| stored.envelope.clone())
            .collect()
    }

    /// Envelopes from any of `originators` after `cursor`.
    pub(crate) fn query_originators(
        &self,
        originators: &[u32],
        cursor: &HashMap<u32, u64>,
        limit: usize,
    ) -> Vec<OriginatorEnvelope> {
        let now = Instant::now();
        let inner = self.lock();
        let mut originators = originators.to_vec();
        originators.sort_unstable();
        originators.dedup();
        originators
            .iter()
            .flat_map(|&originator| {
                let after = cursor.get(&originator).copied().unwrap_or(0);
                inner
                    .envelopes
                    .range((originator, after.saturating_add(1))..=(originator, u64::MAX))
            })
            .map(|(_, stored)| stored)
            .filter(|stored| stored.visible_at <= now)
            .take(limit)
            .map(|stored| stored.envelope.clone())
            .collect()
    }

    /// The newest readable envelope on `topic`.
    pub(crate) fn newest(&self, topic: &[u8]) -> Option<OriginatorEnvelope> {
        let now = Instant::now();
        let inner = self.lock();
        inner
            .topics
            .get(topic)?
            .iter()
            .rev()
            .filter_map(|key| inner.envelopes.get(key))
            .find(|stored| stored.visible_at <= now)
            .map(|stored| stored.envelope.clone())
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
        self.last_sequence(originator) >= sequence_id
    }
}
