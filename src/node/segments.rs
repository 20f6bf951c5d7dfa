//! Where the store keeps envelope bytes: appended, encoded, to segments of
//! one mebibyte (less under a small cap).
//!
//! A node that evicts old envelopes and takes new ones for days would
//! otherwise free and allocate buffers of every size, from a few hundred
//! bytes to tens of kilobytes, on whichever thread handled the request.
//! The allocator keeps what such churn frees as holes in its per-thread
//! arenas: with a 128 MiB cap the node's resident memory settled near
//! 200 MiB. Here envelope memory comes in whole segments that are reused
//! rather than handed back, and the store charges what the segments hold,
//! holes included, so the cap bounds the memory itself. When holes make
//! up more than an eighth of it, [`compact_one`](Segments::compact_one)
//! moves the live envelopes out of the emptiest segment and frees it.
//!
//! Each record is a small header (the envelope's key and length) followed
//! by the encoded envelope, so a segment can be walked without an index.

use std::collections::{BTreeMap, HashMap};

use prost::Message;

use crate::proto::envelopes::OriginatorEnvelope;

use super::store::{Key, Stored};

/// A segment's size under the default cap; a larger envelope gets a
/// segment of its own size.
const SEGMENT_BYTES: usize = 1 << 20;
/// Segments are at most this share of the cap, so a small cap is not
/// filled by one segment.
const SEGMENTS_PER_CAP: u64 = 64;
/// originator (4) + sequence id (8) + length (4).
const HEADER_BYTES: usize = 16;
/// Compaction starts when more than 1/`DEAD_SHARE` of the memory is holes.
const DEAD_SHARE: u64 = 8;
/// Freed segments kept for reuse rather than returned to the allocator.
const SPARE_SEGMENTS: usize = 4;

/// Where one envelope's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    segment: u64,
    /// Of the encoded envelope, just after its header.
    offset: u32,
    len: u32,
}

struct Segment {
    bytes: Vec<u8>,
    /// Bytes of records whose envelopes are still stored.
    live: u64,
}

/// The segments, oldest first; the newest is the head new records go to.
pub(super) struct Segments {
    segment_bytes: usize,
    segments: BTreeMap<u64, Segment>,
    next_id: u64,
    allocated: u64,
    live: u64,
    /// Emptied segment buffers, reused before allocating new ones.
    spare: Vec<Vec<u8>>,
    /// Allocation changes not yet reported: (grown, freed).
    change: (u64, u64),
}

impl Default for Segments {
    fn default() -> Self {
        Self::for_cap(u64::MAX)
    }
}

impl Segments {
    /// Segments for a store capped at `max_bytes`.
    pub(super) fn for_cap(max_bytes: u64) -> Self {
        let segment_bytes = (max_bytes / SEGMENTS_PER_CAP).clamp(1 << 10, SEGMENT_BYTES as u64);
        Self {
            segment_bytes: segment_bytes as usize,
            segments: BTreeMap::new(),
            next_id: 0,
            allocated: 0,
            live: 0,
            spare: Vec::new(),
            change: (0, 0),
        }
    }

    /// Bytes the segments hold, holes and the head's free tail included.
    pub(super) fn allocated(&self) -> u64 {
        self.allocated
    }

    /// Stores `envelope`, encoded, under `key`.
    pub(super) fn append(&mut self, key: Key, envelope: &OriginatorEnvelope) -> Slot {
        let len = envelope.encoded_len();
        let (slot, buffer) = self.reserve(key, len);
        // A vector grows as needed, so encoding into one cannot fail.
        envelope.encode_raw(buffer);
        slot
    }

    /// The envelope at `slot`.
    pub(super) fn envelope(&self, slot: Slot) -> Option<OriginatorEnvelope> {
        let segment = self.segments.get(&slot.segment)?;
        let start = slot.offset as usize;
        let bytes = segment.bytes.get(start..start + slot.len as usize)?;
        OriginatorEnvelope::decode(bytes).ok()
    }

    /// Marks the record at `slot` as gone; a segment left with no live
    /// record is freed.
    pub(super) fn release(&mut self, slot: Slot) {
        let record = record_bytes(slot.len as usize);
        let Some(segment) = self.segments.get_mut(&slot.segment) else {
            return;
        };
        segment.live -= record;
        self.live -= record;
        if segment.live == 0 {
            if let Some(segment) = self.segments.remove(&slot.segment) {
                self.free(segment.bytes);
            }
        }
    }

    /// If holes make up more than an eighth of the memory, moves the live
    /// records of the segment with the most holes (if at least half of it
    /// is holes) to the head and frees it, updating their slots in
    /// `envelopes`. Returns whether it did.
    pub(super) fn compact_one(&mut self, envelopes: &mut HashMap<Key, Stored>) -> bool {
        if self.holes() * DEAD_SHARE <= self.allocated {
            return false;
        }
        let head = self.head_id();
        let holes = |segment: &Segment| segment.bytes.capacity() as u64 - segment.live;
        // Moving a segment at most half full costs at most half a segment
        // of the head's room for a whole segment freed.
        let Some(victim) = self
            .segments
            .iter()
            .filter(|(id, segment)| {
                Some(**id) != head && holes(segment) * 2 >= segment.bytes.capacity() as u64
            })
            .max_by_key(|(_, segment)| holes(segment))
            .map(|(id, _)| *id)
        else {
            return false;
        };
        let Some(segment) = self.segments.remove(&victim) else {
            return false;
        };
        self.live -= segment.live;
        for (key, offset, len) in records(&segment.bytes) {
            let Some(stored) = envelopes.get_mut(&key) else {
                continue;
            };
            let here = Slot {
                segment: victim,
                offset,
                len,
            };
            if stored.slot != here {
                continue;
            }
            let payload = &segment.bytes[offset as usize..(offset + len) as usize];
            let (slot, buffer) = self.reserve(key, payload.len());
            buffer.extend_from_slice(payload);
            stored.slot = slot;
        }
        self.free(segment.bytes);
        true
    }

    /// Allocation grown and freed since the last call.
    pub(super) fn take_change(&mut self) -> (u64, u64) {
        std::mem::take(&mut self.change)
    }

    /// Memory no live record uses, apart from the head's free tail.
    fn holes(&self) -> u64 {
        let tail = self
            .segments
            .values()
            .next_back()
            .map_or(0, |head| (head.bytes.capacity() - head.bytes.len()) as u64);
        self.allocated.saturating_sub(self.live + tail)
    }

    fn head_id(&self) -> Option<u64> {
        self.segments.keys().next_back().copied()
    }

    /// Writes the header of a `len`-byte record for `key` to the head if
    /// it has room, else to a new segment, and returns the record's slot
    /// and the buffer to append the envelope's bytes to.
    fn reserve(&mut self, key: Key, len: usize) -> (Slot, &mut Vec<u8>) {
        let record = record_bytes(len);
        let room = |segment: &Segment| segment.bytes.capacity() - segment.bytes.len();
        let head = self
            .segments
            .last_key_value()
            .filter(|(_, head)| room(head) >= record as usize)
            .map(|(id, _)| *id);
        let id = head.unwrap_or_else(|| self.start_segment(record as usize));
        // `id` is the head or was just made, so the entry is there.
        let segment = self.segments.entry(id).or_insert_with(|| Segment {
            bytes: Vec::with_capacity(record as usize),
            live: 0,
        });
        segment.live += record;
        self.live += record;
        let (originator, sequence_id) = key;
        segment.bytes.extend_from_slice(&originator.to_le_bytes());
        segment.bytes.extend_from_slice(&sequence_id.to_le_bytes());
        segment.bytes.extend_from_slice(&(len as u32).to_le_bytes());
        let slot = Slot {
            segment: id,
            offset: segment.bytes.len() as u32,
            len: len as u32,
        };
        (slot, &mut segment.bytes)
    }

    /// Makes a new head with room for a `record`-byte record, from a spare
    /// buffer if one fits, and returns its id.
    fn start_segment(&mut self, record: usize) -> u64 {
        let spare = (record <= self.segment_bytes).then(|| self.spare.pop());
        let bytes = spare
            .flatten()
            .unwrap_or_else(|| Vec::with_capacity(self.segment_bytes.max(record)));
        self.allocated += bytes.capacity() as u64;
        self.change.0 += bytes.capacity() as u64;
        self.next_id += 1;
        self.segments
            .insert(self.next_id, Segment { bytes, live: 0 });
        self.next_id
    }

    /// Takes a segment's buffer out of use: kept as a spare if it is of
    /// the standard size and there is room, else freed. Reusing buffers
    /// keeps the allocator from scattering them across its arenas.
    fn free(&mut self, mut bytes: Vec<u8>) {
        self.allocated -= bytes.capacity() as u64;
        self.change.1 += bytes.capacity() as u64;
        if bytes.capacity() == self.segment_bytes && self.spare.len() < SPARE_SEGMENTS {
            bytes.clear();
            self.spare.push(bytes);
        }
    }
}

fn record_bytes(len: usize) -> u64 {
    (HEADER_BYTES + len) as u64
}

/// The records of a segment: (key, offset of the envelope, its length).
fn records(bytes: &[u8]) -> impl Iterator<Item = (Key, u32, u32)> + '_ {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let header = bytes.get(at..at + HEADER_BYTES)?;
        let originator = u32::from_le_bytes(header[0..4].try_into().ok()?);
        let sequence_id = u64::from_le_bytes(header[4..12].try_into().ok()?);
        let len = u32::from_le_bytes(header[12..16].try_into().ok()?);
        let offset = at + HEADER_BYTES;
        at = offset + len as usize;
        Some(((originator, sequence_id), offset as u32, len))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::time::Instant;

    fn envelope(sequence_id: u64, len: usize) -> OriginatorEnvelope {
        OriginatorEnvelope {
            unsigned_originator_envelope: vec![sequence_id as u8; len],
            proof: None,
        }
    }

    fn stored(slot: Slot) -> Stored {
        Stored {
            slot,
            visible_at: Instant::now(),
            topic: Arc::from(&b"t"[..]),
            bytes: 0,
            arrived_at: Instant::now(),
            arrival: 0,
        }
    }

    /// Fills several segments, releases all but every tenth envelope
    /// (as eviction does around kept ones), and compacts.
    #[test]
    fn compaction_frees_holes_and_keeps_what_lives() {
        let mut segments = Segments::for_cap(u64::MAX);
        let mut envelopes = HashMap::new();
        for sequence_id in 1..=4_000u64 {
            let key = (100, sequence_id);
            let slot = segments.append(key, &envelope(sequence_id, 1_000));
            envelopes.insert(key, stored(slot));
        }
        let full = segments.allocated();
        assert!(full >= 4 * SEGMENT_BYTES as u64, "{full}");
        envelopes.retain(|&(_, sequence_id), stored| {
            let keep = sequence_id % 10 == 0;
            if !keep {
                segments.release(stored.slot);
            }
            keep
        });
        assert_eq!(segments.allocated(), full, "holes alone free nothing");

        let mut compactions = 0;
        while segments.compact_one(&mut envelopes) {
            compactions += 1;
        }
        assert!(compactions >= 3, "{compactions}");
        // 400 live records of 1,016 bytes fit in one segment; holes are
        // now at most an eighth of what is held.
        assert!(segments.allocated() <= 2 * SEGMENT_BYTES as u64);
        assert!(segments.holes() * DEAD_SHARE <= segments.allocated());
        for (&(_, sequence_id), stored) in &envelopes {
            assert_eq!(
                segments.envelope(stored.slot),
                Some(envelope(sequence_id, 1_000)),
                "envelope {sequence_id} after compaction"
            );
        }
    }

    #[test]
    fn an_envelope_larger_than_a_segment_gets_its_own_and_frees_it() {
        let mut segments = Segments::for_cap(u64::MAX);
        let small = segments.append((100, 1), &envelope(1, 10));
        let big = segments.append((100, 2), &envelope(2, 3 * SEGMENT_BYTES));
        assert_eq!(segments.envelope(big), Some(envelope(2, 3 * SEGMENT_BYTES)));
        let after = segments.append((100, 3), &envelope(3, 10));
        segments.release(big);
        assert_eq!(segments.allocated(), 2 * SEGMENT_BYTES as u64);
        assert_eq!(segments.envelope(small), Some(envelope(1, 10)));
        assert_eq!(segments.envelope(after), Some(envelope(3, 10)));
    }
}
