//! What the store charges against its size cap for each thing it holds.
//!
//! The cap bounds the node's memory only if everything that grows with
//! use is charged: envelopes, but also the inbox states the indexer keeps
//! and the address book it resolves lookups from. Envelope bytes are
//! charged with the segments that hold them (see
//! [`segments`](super::segments)); everything else is charged its
//! payload's length plus a fixed cost for the structures around it (map
//! and index entries, allocation headers).

use crate::identity::AssociationState;

/// Per stored envelope, besides its bytes (charged with their segment):
/// its entry in the envelope map, its keys in the topic's two indexes
/// and the eviction queue.
const ENTRY_OVERHEAD: u64 = 256;
/// Per inbox state: the record, its map entry and its id.
/// (The recovery identifier is charged as one more member.)
const INBOX_OVERHEAD: u64 = 256;
/// Per member of an inbox (a tree-map entry holding an address or an
/// installation key, and who added it).
const MEMBER_COST: u64 = 160;
/// Per remembered signature (a 64- or 65-byte vector in a hash set).
const REPLAY_KEY_COST: u64 = 128;
/// Per address-book entry, besides the address and inbox id themselves.
const ADDRESS_OVERHEAD: u64 = 96;

/// The charge for an envelope's bookkeeping under a topic of `topic_len`
/// bytes. Topics are shared between their envelopes, so only their first
/// envelope pays for the name; charging each is simpler and errs large.
pub(super) fn entry(topic_len: usize) -> u64 {
    topic_len as u64 + ENTRY_OVERHEAD
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
