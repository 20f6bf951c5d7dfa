//! What the store charges against its size cap for each thing it holds.
//!
//! The cap bounds the node's memory only if everything that grows with
//! use is charged: envelopes, but also the topics that index them, the
//! inbox states the indexer keeps and the address book it resolves
//! lookups from. Envelope bytes are charged with the segments that hold
//! them (see [`segments`](super::segments)); everything else is charged
//! its payload's length plus a fixed cost for the structures around it
//! (map and index entries, allocation headers).

use crate::identity::AssociationState;

/// Per stored envelope, besides its bytes (charged with their segment):
/// its entry in the envelope map, its keys in the topic's two indexes
/// and the eviction queue. The allowances here are the heap measured by
/// `tests/node_footprint.rs` (which keeps them honest) plus a margin for
/// allocation headers: about 300 B per entry, 640 per topic.
const ENTRY_OVERHEAD: u64 = 384;
/// Per topic, besides its name: its map entry, its indexes' first nodes
/// and its place in the recency order.
const TOPIC_OVERHEAD: u64 = 768;
/// Per inbox state: the record, its map entry and its id.
/// (The recovery identifier is charged as one more member.)
const INBOX_OVERHEAD: u64 = 512;
/// Per member of an inbox (a tree-map entry holding an address or an
/// installation key, and who added it).
const MEMBER_COST: u64 = 160;
/// Per remembered signature (a 64- or 65-byte vector in a hash set).
const REPLAY_KEY_COST: u64 = 128;
/// Per address-book entry, besides the address and inbox id themselves.
const ADDRESS_OVERHEAD: u64 = 96;

/// The charge for an envelope's bookkeeping.
pub(super) fn entry() -> u64 {
    ENTRY_OVERHEAD
}

/// The charge for a topic of `name_len` bytes, paid while it holds any
/// envelope. A topic per envelope (each installation's welcomes, each
/// inbox's identity log) costs about as much again as the envelope's
/// own bookkeeping.
pub(super) fn topic(name_len: usize) -> u64 {
    name_len as u64 + TOPIC_OVERHEAD
}

/// The charge for an inbox's validated state.
pub(super) fn inbox(state: &AssociationState) -> u64 {
    INBOX_OVERHEAD
        + state.inbox_id().len() as u64
        + (state.member_count() as u64 + 1) * MEMBER_COST
        + state.replay_key_count() as u64 * REPLAY_KEY_COST
}

/// The charge for resolving `address` to `inbox_id`.
pub(super) fn address(address: &str, inbox_id: &str) -> u64 {
    (address.len() + inbox_id.len()) as u64 + ADDRESS_OVERHEAD
}
