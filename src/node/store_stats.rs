//! The store's size as telemetry: how many envelopes it holds, how many
//! bytes they take, and how many it has evicted.
//!
//! Changes are recorded as deltas through the `metrics` facade (gauges
//! moved up and down, a counter for evictions), so they reach whatever
//! recorder the host process installed and cost nothing when there is none.

use crate::semconv::{NODE_STORE_BYTES, NODE_STORE_ENVELOPES, NODE_STORE_EVICTIONS};

/// A snapshot of the embedded node's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Envelopes held.
    pub envelopes: u64,
    /// Bytes they take (encoded envelopes, topics and bookkeeping).
    pub bytes: u64,
    /// Envelopes evicted since the node started.
    pub evictions: u64,
}

/// How one store operation changed the figures.
#[derive(Debug, Default)]
pub(super) struct StatsDelta {
    added: u64,
    added_bytes: u64,
    evicted: u64,
    evicted_bytes: u64,
}

impl StatsDelta {
    pub(super) fn stored(bytes: u64) -> Self {
        Self {
            added: 1,
            added_bytes: bytes,
            ..Self::default()
        }
    }

    pub(super) fn evicted(&mut self, bytes: u64) {
        self.evicted += 1;
        self.evicted_bytes += bytes;
    }

    pub(super) fn add(&mut self, other: Self) {
        self.added += other.added;
        self.added_bytes += other.added_bytes;
        self.evicted += other.evicted;
        self.evicted_bytes += other.evicted_bytes;
    }

    /// Records the change; called after the store's lock is released.
    pub(super) fn record(self) {
        if self.added == 0 && self.evicted == 0 {
            return;
        }
        let envelopes = metrics::gauge!(NODE_STORE_ENVELOPES);
        envelopes.increment(self.added as f64);
        envelopes.decrement(self.evicted as f64);
        let bytes = metrics::gauge!(NODE_STORE_BYTES);
        bytes.increment(self.added_bytes as f64);
        bytes.decrement(self.evicted_bytes as f64);
        if self.evicted > 0 {
            metrics::counter!(NODE_STORE_EVICTIONS).increment(self.evicted);
        }
    }
}
