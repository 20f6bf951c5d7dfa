//! Metric keys built once per distinct label set, not once per call.
//!
//! A metric key is a name plus labels; building one allocates the label
//! list, and the layers record several points per call. The label values
//! all come from small fixed sets (`&'static str`s and the layer's own
//! configuration), so each layer keeps the keys it has built, indexed by
//! those values, and hands the recorder a borrowed key on the hot path.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

use metrics::{Key, Level, Metadata};

/// Metadata of every point the layers record.
pub(crate) static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Keys by what distinguishes them.
pub(crate) struct KeyCache<K> {
    keys: RwLock<HashMap<K, Key>>,
}

// A copy starts empty: the keys are rebuilt on demand, never shared stale.
impl<K> Clone for KeyCache<K> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl<K> std::fmt::Debug for KeyCache<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache")
    }
}

impl<K> Default for KeyCache<K> {
    fn default() -> Self {
        Self {
            keys: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq> KeyCache<K> {
    /// Runs `work` with the key for `id`, building it with `build` the
    /// first time.
    pub(crate) fn with<R>(
        &self,
        id: K,
        build: impl FnOnce() -> Key,
        work: impl FnOnce(&Key) -> R,
    ) -> R {
        // A poisoned lock only means another thread panicked mid-insert;
        // the map itself is still sound.
        if let Some(key) = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&id)
        {
            return work(key);
        }
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(keys.entry(id).or_insert_with(build))
    }
}

/// Records `value` into the histogram `key` of the installed recorder.
pub(crate) fn record_histogram(key: &Key, value: f64) {
    metrics::with_recorder(|recorder| recorder.register_histogram(key, &METADATA)).record(value);
}

/// Adds `delta` to the gauge `key` of the installed recorder.
pub(crate) fn add_to_gauge(key: &Key, delta: f64) {
    let gauge = metrics::with_recorder(|recorder| recorder.register_gauge(key, &METADATA));
    if delta >= 0.0 {
        gauge.increment(delta);
    } else {
        gauge.decrement(-delta);
    }
}
