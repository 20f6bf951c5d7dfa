//! Which topics have gone longest without a reader or a writer.
//!
//! When envelopes no rule needs are gone and the store is still over its
//! cap, what remains is what the rules keep: identity logs, newest key
//! packages, last commits. These grow with every inbox and group ever
//! made, so a node that runs for days must forget some of them too. It
//! forgets whole topics, least recently used first (a group nobody has
//! touched for an hour, an inbox nobody has looked up), which is what a
//! pruned node that never saw them would answer.

use std::collections::BTreeMap;
use std::sync::Arc;

/// A topic's name, shared by its index and its envelopes.
pub(crate) type TopicName = Arc<[u8]>;

/// Topics ordered by their last use.
#[derive(Default)]
pub(super) struct Recency {
    clock: u64,
    order: BTreeMap<u64, TopicName>,
}

/// When a topic was last used; 0 means never recorded.
#[derive(Default, Clone, Copy)]
pub(super) struct LastUse(u64);

impl Recency {
    /// Marks `topic` as used now.
    pub(super) fn touch(&mut self, topic: &TopicName, last: &mut LastUse) {
        self.order.remove(&last.0);
        self.clock += 1;
        last.0 = self.clock;
        self.order.insert(self.clock, Arc::clone(topic));
    }

    /// Stops tracking a topic that is gone.
    pub(super) fn remove(&mut self, last: LastUse) {
        self.order.remove(&last.0);
    }

    /// The topic unused for longest, unless it is the only one: the topic
    /// just written is never forgotten by its own write.
    pub(super) fn oldest(&self) -> Option<&TopicName> {
        if self.order.len() < 2 {
            return None;
        }
        self.order.values().next()
    }
}
