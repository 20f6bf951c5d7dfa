//! One lock per inbox for the identity indexer.
//!
//! Two updates to the same inbox must be checked one after the other, or
//! both could pass against the same state; updates to different inboxes
//! are independent and check in parallel. A lock exists only while some
//! update of its inbox is being indexed, so the table stays as small as
//! the number of updates in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

type Slot = Arc<Mutex<()>>;

/// The table of inbox locks.
#[derive(Default)]
pub(super) struct InboxLocks {
    slots: Mutex<HashMap<String, Slot>>,
}

impl InboxLocks {
    fn table(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // The table holds no invariant a panic could break half-way.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` while holding the lock of `inbox_id`.
    pub(super) fn with<T>(&self, inbox_id: &str, f: impl FnOnce() -> T) -> T {
        let slot = Arc::clone(self.table().entry(inbox_id.to_owned()).or_default());
        let result = {
            let _held = slot.lock().unwrap_or_else(|p| p.into_inner());
            f()
        };
        let mut table = self.table();
        drop(slot);
        // Counted under the table's lock: one reference left means nobody
        // else holds or waits for this inbox.
        if table
            .get(inbox_id)
            .is_some_and(|slot| Arc::strong_count(slot) == 1)
        {
            table.remove(inbox_id);
        }
        result
    }
}
