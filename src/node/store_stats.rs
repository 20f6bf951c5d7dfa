//! The store's size as telemetry: how many envelopes it holds, how many
//! bytes they take, how many it has evicted and how many topics it has
//! forgotten.
//!
//! Changes are recorded as deltas through the `metrics` facade (gauges
//! moved up and down, counters for evictions and forgotten topics), so they
//! reach whatever recorder the host process installed and cost nothing when
//! there is none.

use crate::semconv::{
    NODE_STORE_BYTES, NODE_STORE_ENVELOPES, NODE_STORE_EVICTIONS, NODE_STORE_FORGOTTEN,
};

/// A snapshot of the embedded node's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Envelopes held.
    pub envelopes: u64,
    /// Bytes charged against the size cap: envelopes, inbox states and
    /// the address book, with their bookkeeping.
    pub bytes: u64,
    /// Envelopes evicted since the node started (including those of
    /// forgotten topics).
    pub evictions: u64,
    /// Topics forgotten whole, least recently used first, because what the
    /// retention rules keep outgrew the cap.
    pub forgotten: u64,
}

/// How one store operation changed the figures.
#[derive(Debug, Default)]
pub(super) struct StatsDelta {
    added: u64,
    evicted: u64,
    charged_bytes: u64,
    freed_bytes: u64,
    forgotten: u64,
}

impl StatsDelta {
    pub(super) fn stored(bytes: u64) -> Self {
        Self {
            added: 1,
            charged_bytes: bytes,
            ..Self::default()
        }
    }

    pub(super) fn evicted(&mut self, bytes: u64) {
        self.evicted += 1;
        self.freed_bytes += bytes;
    }

    /// Bytes charged for something other than an envelope.
    pub(super) fn charged(&mut self, bytes: u64) {
        self.charged_bytes += bytes;
    }

    /// Bytes returned for something other than an envelope.
    pub(super) fn freed(&mut self, bytes: u64) {
        self.freed_bytes += bytes;
    }

    /// Envelopes this change evicted.
    pub(super) fn evicted_count(&self) -> u64 {
        self.evicted
    }

    pub(super) fn forgot(&mut self) {
        self.forgotten += 1;
    }

    pub(super) fn add(&mut self, other: Self) {
        self.added += other.added;
        self.evicted += other.evicted;
        self.charged_bytes += other.charged_bytes;
        self.freed_bytes += other.freed_bytes;
        self.forgotten += other.forgotten;
    }

    /// Records the change; called after the store's lock is released.
    pub(super) fn record(self) {
        if self.charged_bytes == 0 && self.freed_bytes == 0 {
            return;
        }
        let envelopes = metrics::gauge!(NODE_STORE_ENVELOPES);
        envelopes.increment(self.added as f64);
        envelopes.decrement(self.evicted as f64);
        let bytes = metrics::gauge!(NODE_STORE_BYTES);
        bytes.increment(self.charged_bytes as f64);
        bytes.decrement(self.freed_bytes as f64);
        if self.evicted > 0 {
            metrics::counter!(NODE_STORE_EVICTIONS).increment(self.evicted);
        }
        if self.forgotten > 0 {
            metrics::counter!(NODE_STORE_FORGOTTEN).increment(self.forgotten);
        }
    }
}
