//! External ids: slot → id for every slot (live or deleted), id → slot for live ids, and
//! tombstones.
//!
//! The id → slot map stores only a `u32` slot per bucket, hashed and compared through the
//! slot → id array ([`hashbrown::HashTable`]), so it costs 5 bytes per bucket (slot and control
//! byte) instead of a `(u64, u32)` pair. Tombstones are one bit per slot.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::links::grow;

#[derive(Debug, Default)]
pub(crate) struct Ids {
    /// External id of every slot.
    ids: Vec<u64>,
    /// Live slots, found by the hash of their id.
    map: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// One bit per slot: deleted.
    deleted: Vec<u64>,
    n_deleted: usize,
}

impl Ids {
    /// Slots, live or deleted.
    pub(crate) fn slots(&self) -> usize {
        self.ids.len()
    }

    /// Live ids.
    pub(crate) fn live(&self) -> usize {
        self.map.len()
    }

    /// Tombstones.
    pub(crate) fn n_deleted(&self) -> usize {
        self.n_deleted
    }

    /// The external id of `slot`.
    #[inline]
    pub(crate) fn id(&self, slot: u32) -> u64 {
        self.ids[slot as usize]
    }

    /// Whether `slot` is a tombstone.
    #[inline]
    pub(crate) fn is_deleted(&self, slot: u32) -> bool {
        self.deleted[slot as usize / 64] >> (slot % 64) & 1 == 1
    }

    /// The slot of live `id`.
    pub(crate) fn slot(&self, id: u64) -> Option<u32> {
        let ids = &self.ids;
        self.map
            .find(self.hasher.hash_one(id), |&s| ids[s as usize] == id)
            .copied()
    }

    /// Live ids, in no particular order.
    pub(crate) fn live_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.map.iter().map(|&s| self.ids[s as usize])
    }

    /// Live `(id, slot)` pairs, in no particular order.
    pub(crate) fn live_slots(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.map.iter().map(|&s| (self.ids[s as usize], s))
    }

    /// Reserves room for `additional` more slots, all of which may become live.
    pub(crate) fn reserve(&mut self, additional: usize) {
        grow(&mut self.ids, additional);
        let words = (self.ids.len() + additional).div_ceil(64) - self.deleted.len();
        grow(&mut self.deleted, words);
        let (ids, hasher) = (&self.ids, &self.hasher);
        self.map
            .reserve(additional, |&s| hasher.hash_one(ids[s as usize]));
    }

    /// Appends a slot for `id`, neither live nor deleted until [`Ids::publish`].
    pub(crate) fn push(&mut self, id: u64) {
        grow(&mut self.ids, 1);
        self.ids.push(id);
        if self.deleted.len() * 64 < self.ids.len() {
            grow(&mut self.deleted, 1);
            self.deleted.push(0);
        }
    }

    /// Makes `slot` the live slot of its id. Returns the slot that held the id before, now a
    /// tombstone.
    pub(crate) fn publish(&mut self, slot: u32) -> Option<u32> {
        let id = self.ids[slot as usize];
        let (ids, hasher) = (&self.ids, &self.hasher);
        let hash = hasher.hash_one(id);
        let old = match self.map.find_mut(hash, |&s| ids[s as usize] == id) {
            Some(s) => Some(std::mem::replace(s, slot)),
            None => {
                self.map
                    .insert_unique(hash, slot, |&s| hasher.hash_one(ids[s as usize]));
                None
            }
        };
        if let Some(old) = old {
            self.tombstone(old);
        }
        old
    }

    fn tombstone(&mut self, slot: u32) {
        self.deleted[slot as usize / 64] |= 1 << (slot % 64);
        self.n_deleted += 1;
    }

    /// Deletes live `id`; returns its slot (now a tombstone).
    pub(crate) fn delete(&mut self, id: u64) -> Option<u32> {
        let ids = &self.ids;
        let hash = self.hasher.hash_one(id);
        let slot = self
            .map
            .find_entry(hash, |&s| ids[s as usize] == id)
            .ok()?
            .remove()
            .0;
        self.tombstone(slot);
        Some(slot)
    }

    /// Appends a slot for `id` and makes it live at once (the rows of a batch, before their
    /// nodes exist), so that an id repeated within the batch is found like one already live.
    /// Returns false, changing nothing, when `id` is live.
    pub(crate) fn stage(&mut self, id: u64) -> bool {
        let slot = self.ids.len() as u32;
        self.push(id);
        let (ids, hasher) = (&self.ids, &self.hasher);
        let hash = hasher.hash_one(id);
        match self.map.entry(
            hash,
            |&s| ids[s as usize] == id,
            |&s| hasher.hash_one(ids[s as usize]),
        ) {
            hashbrown::hash_table::Entry::Occupied(_) => {
                self.truncate(slot as usize);
                false
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(slot);
                true
            }
        }
    }

    /// Drops the slots from `len` on; those that are live ([`Ids::stage`]) leave the map. The
    /// slots from `len` on must not be tombstones (unless `len == 0`: everything goes).
    pub(crate) fn truncate(&mut self, len: usize) {
        if len == 0 {
            self.map.clear();
            self.n_deleted = 0;
            self.deleted.clear();
        } else {
            debug_assert!((len..self.ids.len()).all(|s| !self.is_deleted(s as u32)));
            for slot in len..self.ids.len() {
                let hash = self.hasher.hash_one(self.ids[slot]);
                if let Ok(e) = self.map.find_entry(hash, |&s| s as usize == slot) {
                    e.remove();
                }
            }
            self.deleted.truncate(len.div_ceil(64));
            if !len.is_multiple_of(64) {
                self.deleted[len / 64] &= (1 << (len % 64)) - 1;
            }
        }
        self.ids.truncate(len);
    }

    /// Keeps only the slots in `keep` (new slot `i` = old slot `keep[i]`, `remap[old] = new`),
    /// which must be every live slot: tombstones are gone afterwards.
    pub(crate) fn retain(&mut self, keep: &[u32], remap: &[u32]) {
        self.ids = keep.iter().map(|&old| self.ids[old as usize]).collect();
        self.deleted = vec![0; keep.len().div_ceil(64)];
        self.n_deleted = 0;
        // Each slot keeps its id, so its hash and bucket stay valid.
        for slot in self.map.iter_mut() {
            *slot = remap[*slot as usize];
        }
    }

    /// Rebuilds the ids from [`crate::GraphParts`]; on an id that is live twice, returns it.
    pub(crate) fn from_parts(ids: Vec<u64>, deleted: &[bool]) -> Result<Self, u64> {
        debug_assert_eq!(ids.len(), deleted.len());
        let mut bits = vec![0u64; deleted.len().div_ceil(64)];
        let n_deleted = deleted.iter().filter(|d| **d).count();
        for (slot, _) in deleted.iter().enumerate().filter(|(_, d)| **d) {
            bits[slot / 64] |= 1 << (slot % 64);
        }
        let mut me = Self {
            map: HashTable::with_capacity(ids.len() - n_deleted),
            ids,
            hasher: DefaultHashBuilder::default(),
            deleted: bits,
            n_deleted,
        };
        for slot in 0..me.ids.len() as u32 {
            if !me.is_deleted(slot) && me.publish(slot).is_some() {
                return Err(me.ids[slot as usize]);
            }
        }
        Ok(me)
    }

    /// Ids and tombstone flags of every slot, as [`crate::GraphParts`] stores them.
    pub(crate) fn to_parts(&self) -> (Vec<u64>, Vec<bool>) {
        let deleted = (0..self.ids.len() as u32)
            .map(|s| self.is_deleted(s))
            .collect();
        (self.ids.clone(), deleted)
    }

    /// Bytes held (allocated capacity, hash table buckets and control bytes included).
    pub(crate) fn memory_bytes(&self) -> usize {
        self.ids.capacity() * 8 + self.deleted.capacity() * 8 + self.map.allocation_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_replace_delete_retain() {
        let mut ids = Ids::default();
        ids.reserve(3);
        for id in [10, 20, 30] {
            ids.push(id);
        }
        for s in 0..3 {
            assert_eq!(ids.publish(s), None);
        }
        ids.push(20);
        assert_eq!(ids.publish(3), Some(1), "upsert tombstones the old slot");
        assert_eq!((ids.live(), ids.n_deleted(), ids.slots()), (3, 1, 4));
        assert!(ids.is_deleted(1) && !ids.is_deleted(3));
        assert_eq!(ids.slot(20), Some(3));
        assert_eq!(ids.delete(10), Some(0));
        assert_eq!(ids.delete(10), None);
        assert_eq!(ids.slot(10), None);
        ids.retain(&[2, 3], &[u32::MAX, u32::MAX, 0, 1]);
        assert_eq!((ids.slot(30), ids.slot(20)), (Some(0), Some(1)));
        assert_eq!((ids.live(), ids.n_deleted(), ids.slots()), (2, 0, 2));
        let (v, d) = ids.to_parts();
        assert_eq!((v, d), (vec![30, 20], vec![false, false]));
        assert_eq!(
            Ids::from_parts(vec![1, 1, 2], &[false, true, false])
                .unwrap()
                .slot(1),
            Some(0)
        );
        assert_eq!(Ids::from_parts(vec![1, 1], &[false, false]).err(), Some(1));
        // Staged rows are live at once; truncating takes them back out.
        let mut ids = Ids::default();
        ids.push(5);
        ids.publish(0);
        assert!(ids.stage(6) && ids.stage(7));
        assert!(!ids.stage(6) && !ids.stage(5));
        assert_eq!((ids.slots(), ids.live()), (3, 3));
        ids.truncate(1);
        assert_eq!((ids.slots(), ids.live(), ids.slot(6)), (1, 1, None));
        assert_eq!(ids.slot(5), Some(0));
    }
}
