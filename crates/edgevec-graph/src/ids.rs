//! External ids: slot → id for every slot (live or deleted), id → slot for live ids, and
//! tombstones.
//!
//! Two modes, with the same answers:
//!
//! - **Dense** (the start, and the common case: row `i` gets id `i`): while the id of every slot
//!   is the slot itself, nothing is stored per slot but the tombstone bit. Slots `0..len` exist;
//!   slots `0..live_end` have been published and are live unless they are tombstones; slots
//!   `live_end..len` are pushed but not yet published.
//! - **Sparse**: the slot → id array, and the id → slot map, which stores only a `u32` slot per
//!   bucket, hashed and compared through the slot → id array ([`hashbrown::HashTable`]), so it
//!   costs 5 bytes per bucket (slot and control byte) instead of a `(u64, u32)` pair. Tombstones
//!   are one bit per slot. About 15 bytes per slot in all, against 1 bit in dense mode.
//!
//! Dense turns sparse, once and for good (only [`Ids::truncate`] to zero starts dense again),
//! at the first operation it cannot express: an id that is not the next slot, an upsert of a
//! live id (its new slot is not its id), a publish out of order (a slot after an unpublished
//! one), or a compaction that moved slots (a tombstone before a live slot).

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::links::grow;

#[derive(Debug, Default)]
pub(crate) struct Ids {
    /// Sparse mode: `ids` and `map` hold every id. Dense mode (false): both are empty and
    /// unallocated, and the id of slot `s` is `s`.
    sparse: bool,
    /// Dense mode: slots pushed.
    len: usize,
    /// Dense mode: slots `0..live_end` are published (live unless tombstones).
    live_end: usize,
    /// Sparse mode: external id of every slot.
    ids: Vec<u64>,
    /// Sparse mode: live slots, found by the hash of their id.
    map: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// One bit per slot: deleted.
    deleted: Vec<u64>,
    n_deleted: usize,
}

impl Ids {
    /// Slots, live or deleted.
    pub(crate) fn slots(&self) -> usize {
        if self.sparse {
            self.ids.len()
        } else {
            self.len
        }
    }

    /// Live ids.
    pub(crate) fn live(&self) -> usize {
        if self.sparse {
            self.map.len()
        } else {
            self.live_end - self.n_deleted
        }
    }

    /// Tombstones.
    pub(crate) fn n_deleted(&self) -> usize {
        self.n_deleted
    }

    /// The external id of `slot`.
    #[inline]
    pub(crate) fn id(&self, slot: u32) -> u64 {
        if self.sparse {
            self.ids[slot as usize]
        } else {
            debug_assert!((slot as usize) < self.len);
            u64::from(slot)
        }
    }

    /// Whether `slot` is a tombstone.
    #[inline]
    pub(crate) fn is_deleted(&self, slot: u32) -> bool {
        self.deleted[slot as usize / 64] >> (slot % 64) & 1 == 1
    }

    /// Dense mode: the slot of `id` if it is live.
    fn dense_slot(&self, id: u64) -> Option<u32> {
        (id < self.live_end as u64 && !self.is_deleted(id as u32)).then_some(id as u32)
    }

    /// The slot of live `id`.
    pub(crate) fn slot(&self, id: u64) -> Option<u32> {
        if !self.sparse {
            return self.dense_slot(id);
        }
        let ids = &self.ids;
        self.map
            .find(self.hasher.hash_one(id), |&s| ids[s as usize] == id)
            .copied()
    }

    /// Live ids, in no particular order.
    pub(crate) fn live_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.live_slots().map(|(id, _)| id)
    }

    /// Live `(id, slot)` pairs, in no particular order.
    pub(crate) fn live_slots(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        let (dense, sparse) = if self.sparse {
            let sparse = self.map.iter().map(|&s| (self.ids[s as usize], s));
            (None, Some(sparse))
        } else {
            let dense = (0..self.live_end as u32)
                .filter(|&s| !self.is_deleted(s))
                .map(|s| (u64::from(s), s));
            (Some(dense), None)
        };
        dense
            .into_iter()
            .flatten()
            .chain(sparse.into_iter().flatten())
    }

    /// Reserves room for `additional` more slots, all of which may become live.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let words = (self.slots() + additional).div_ceil(64) - self.deleted.len();
        grow(&mut self.deleted, words);
        if !self.sparse {
            return;
        }
        grow(&mut self.ids, additional);
        let (ids, hasher) = (&self.ids, &self.hasher);
        self.map
            .reserve(additional, |&s| hasher.hash_one(ids[s as usize]));
    }

    /// Leaves dense mode: writes out the id of every slot and maps the live ones (not the
    /// pushed-but-unpublished slots from `live_end` on).
    fn sparsify(&mut self) {
        if self.sparse {
            return;
        }
        let mut ids = Vec::new();
        grow(&mut ids, self.len);
        ids.extend(0..self.len as u64);
        let mut map = HashTable::with_capacity(self.live_end - self.n_deleted);
        let hasher = &self.hasher;
        for slot in (0..self.live_end as u32).filter(|&s| !self.is_deleted(s)) {
            map.insert_unique(hasher.hash_one(u64::from(slot)), slot, |&s| {
                hasher.hash_one(ids[s as usize])
            });
        }
        self.ids = ids;
        self.map = map;
        self.sparse = true;
        self.len = 0;
        self.live_end = 0;
    }

    /// Adds a tombstone word if slot `slots - 1` needs one.
    fn grow_deleted(&mut self, slots: usize) {
        if self.deleted.len() * 64 < slots {
            grow(&mut self.deleted, 1);
            self.deleted.push(0);
        }
    }

    /// Appends a slot for `id`, neither live nor deleted until [`Ids::publish`].
    pub(crate) fn push(&mut self, id: u64) {
        if !self.sparse && id == self.len as u64 {
            self.len += 1;
            self.grow_deleted(self.len);
            return;
        }
        self.sparsify();
        grow(&mut self.ids, 1);
        self.ids.push(id);
        self.grow_deleted(self.ids.len());
    }

    /// Makes `slot` the live slot of its id. Returns the slot that held the id before, now a
    /// tombstone.
    pub(crate) fn publish(&mut self, slot: u32) -> Option<u32> {
        // In dense mode the id of a pushed slot from `live_end` on is never live: publishing
        // the next one in order is all there is to it.
        if !self.sparse && slot as usize == self.live_end && self.live_end < self.len {
            self.live_end += 1;
            return None;
        }
        self.sparsify();
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
        let slot = if self.sparse {
            let ids = &self.ids;
            let hash = self.hasher.hash_one(id);
            self.map
                .find_entry(hash, |&s| ids[s as usize] == id)
                .ok()?
                .remove()
                .0
        } else {
            self.dense_slot(id)?
        };
        self.tombstone(slot);
        Some(slot)
    }

    /// Appends a slot for `id` and makes it live at once (the rows of a batch, before their
    /// nodes exist), so that an id repeated within the batch is found like one already live.
    /// Returns false, changing nothing, when `id` is live.
    pub(crate) fn stage(&mut self, id: u64) -> bool {
        if !self.sparse {
            if id == self.len as u64 && self.live_end == self.len {
                self.push(id);
                self.live_end += 1;
                return true;
            }
            if self.dense_slot(id).is_some() {
                return false;
            }
            self.sparsify();
        }
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
    /// slots from `len` on must not be tombstones (unless `len == 0`: everything goes, and the
    /// ids are dense again).
    pub(crate) fn truncate(&mut self, len: usize) {
        let len = len.min(self.slots());
        if len == 0 {
            *self = Self {
                deleted: std::mem::take(&mut self.deleted),
                ..Self::default()
            };
            self.deleted.clear();
            return;
        }
        debug_assert!((len..self.slots()).all(|s| !self.is_deleted(s as u32)));
        if self.sparse {
            for slot in len..self.ids.len() {
                let hash = self.hasher.hash_one(self.ids[slot]);
                if let Ok(e) = self.map.find_entry(hash, |&s| s as usize == slot) {
                    e.remove();
                }
            }
            self.ids.truncate(len);
        } else {
            self.len = len;
            self.live_end = self.live_end.min(len);
        }
        self.deleted.truncate(len.div_ceil(64));
        if !len.is_multiple_of(64) {
            self.deleted[len / 64] &= (1 << (len % 64)) - 1;
        }
    }

    /// Keeps only the slots in `keep` (new slot `i` = old slot `keep[i]`, `remap[old] = new`),
    /// which must be every live slot and no tombstone: tombstones are gone afterwards.
    pub(crate) fn retain(&mut self, keep: &[u32], remap: &[u32]) {
        debug_assert!(keep.iter().all(|&s| !self.is_deleted(s)));
        if !self.sparse
            && keep
                .iter()
                .enumerate()
                .all(|(new, &old)| old as usize == new)
        {
            // Nothing moved: only tombstones (and unpublished slots) at the end went.
            self.len = keep.len();
            self.live_end = self.live_end.min(keep.len());
        } else {
            // Sparse first: that reads the tombstones.
            self.sparsify();
            self.ids = keep.iter().map(|&old| self.ids[old as usize]).collect();
            // Each slot keeps its id, so its hash and bucket stay valid.
            for slot in self.map.iter_mut() {
                *slot = remap[*slot as usize];
            }
        }
        self.deleted = vec![0; keep.len().div_ceil(64)];
        self.n_deleted = 0;
    }

    /// Rebuilds the ids from [`crate::GraphParts`]; on an id that is live twice, returns it.
    /// Every slot counts as published; ids equal to their slots give dense mode.
    pub(crate) fn from_parts(ids: Vec<u64>, deleted: &[bool]) -> Result<Self, u64> {
        debug_assert_eq!(ids.len(), deleted.len());
        let mut bits = vec![0u64; deleted.len().div_ceil(64)];
        let n_deleted = deleted.iter().filter(|d| **d).count();
        for (slot, _) in deleted.iter().enumerate().filter(|(_, d)| **d) {
            bits[slot / 64] |= 1 << (slot % 64);
        }
        if ids.iter().enumerate().all(|(slot, &id)| id == slot as u64) {
            return Ok(Self {
                len: ids.len(),
                live_end: ids.len(),
                deleted: bits,
                n_deleted,
                ..Self::default()
            });
        }
        let mut me = Self {
            sparse: true,
            map: HashTable::with_capacity(ids.len() - n_deleted),
            ids,
            deleted: bits,
            n_deleted,
            ..Self::default()
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
        let n = self.slots() as u32;
        let ids = if self.sparse {
            self.ids.clone()
        } else {
            (0..u64::from(n)).collect()
        };
        (ids, (0..n).map(|s| self.is_deleted(s)).collect())
    }

    /// Bytes held (allocated capacity, hash table buckets and control bytes included). In
    /// dense mode only the tombstone words.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.ids.capacity() * 8 + self.deleted.capacity() * 8 + self.map.allocation_size()
    }

    /// Whether the ids are in dense mode.
    #[cfg(test)]
    fn is_dense(&self) -> bool {
        !self.sparse && self.ids.capacity() == 0 && self.map.allocation_size() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

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

    /// Ids that were never dense: the sparse code path from the first slot on.
    fn never_dense() -> Ids {
        Ids {
            sparse: true,
            ..Ids::default()
        }
    }

    fn sorted<T: Ord>(it: impl Iterator<Item = T>) -> Vec<T> {
        let mut v: Vec<T> = it.collect();
        v.sort_unstable();
        v
    }

    /// Every query gives the same answer on `a` and `b`.
    #[track_caller]
    fn assert_same(a: &Ids, b: &Ids) {
        assert_eq!(a.slots(), b.slots());
        assert_eq!(a.live(), b.live());
        assert_eq!(a.n_deleted(), b.n_deleted());
        assert_eq!(a.to_parts(), b.to_parts());
        for s in 0..a.slots() as u32 {
            assert_eq!(a.id(s), b.id(s), "id of slot {s}");
            assert_eq!(a.is_deleted(s), b.is_deleted(s), "slot {s}");
        }
        let (ids, _) = a.to_parts();
        for id in ids.into_iter().chain(0..a.slots() as u64 + 70) {
            assert_eq!(a.slot(id), b.slot(id), "slot of id {id}");
        }
        assert_eq!(sorted(a.live_ids()), sorted(b.live_ids()));
        assert_eq!(sorted(a.live_slots()), sorted(b.live_slots()));
    }

    /// Slots `0..n` with ids `0..n`, published one by one.
    fn sequential(mut ids: Ids, n: u64) -> Ids {
        for id in 0..n {
            ids.push(id);
            assert_eq!(ids.publish(id as u32), None);
        }
        ids
    }

    /// Runs `f` on both; `a` must stay dense and answer like `b`.
    #[track_caller]
    fn both(a: &mut Ids, b: &mut Ids, f: impl Fn(&mut Ids)) {
        f(a);
        f(b);
        assert!(a.is_dense(), "went sparse");
        assert_same(a, b);
    }

    #[test]
    fn identity_ids_stay_dense() {
        let (a, b) = (&mut Ids::default(), &mut never_dense());
        both(a, b, |ids| ids.reserve(100));
        both(a, b, |ids| {
            for id in 0..70 {
                ids.push(id);
                assert_eq!(ids.publish(id as u32), None);
            }
        });
        both(a, b, |ids| {
            assert!(ids.stage(70) && ids.stage(71) && ids.stage(72));
            assert!(!ids.stage(5) && !ids.stage(72));
        });
        // A batch that failed: its staged slots go again.
        both(a, b, |ids| {
            assert!(ids.stage(73) && ids.stage(74));
            ids.truncate(73);
            assert_eq!((ids.slots(), ids.slot(73)), (73, None));
        });
        // An insert: pushed, linked (not live yet), published; then one whose node failed.
        both(a, b, |ids| {
            ids.push(73);
            assert_eq!((ids.slot(73), ids.id(73), ids.live()), (None, 73, 73));
            assert_eq!(ids.publish(73), None);
            ids.push(74);
            ids.truncate(74);
        });
        both(a, b, |ids| {
            assert_eq!(ids.delete(3), Some(3));
            assert_eq!(ids.delete(3), None);
            assert_eq!(ids.delete(1000), None);
            assert_eq!(ids.delete(70), Some(70));
            assert!(!ids.stage(4), "live ids are refused");
            assert!(ids.is_deleted(3) && !ids.is_deleted(4));
            assert_eq!((ids.live(), ids.n_deleted()), (72, 2));
        });
        // Round trip through the parts.
        let (v, d) = a.to_parts();
        assert_eq!(v, (0..74).collect::<Vec<u64>>());
        *a = Ids::from_parts(v, &d).unwrap();
        both(a, b, |_| {});
        // A compaction that drops only the tombstones at the end moves no slot.
        both(a, b, |ids| {
            for id in 4..74 {
                ids.delete(id);
            }
            let remap: Vec<u32> = (0..74).map(|s| if s < 3 { s } else { u32::MAX }).collect();
            ids.retain(&[0, 1, 2], &remap);
            assert_eq!((ids.slots(), ids.live(), ids.n_deleted()), (3, 3, 0));
        });
        // A slot pushed but not published stays so through a compaction that keeps it.
        both(a, b, |ids| {
            ids.push(3);
            ids.retain(&[0, 1, 2, 3], &[0, 1, 2, 3]);
            assert_eq!((ids.slots(), ids.live(), ids.slot(3)), (4, 3, None));
            assert_eq!(ids.publish(3), None);
            assert_eq!(ids.slot(3), Some(3));
        });
        both(a, b, |ids| {
            ids.truncate(0);
            assert_eq!((ids.slots(), ids.live(), ids.n_deleted()), (0, 0, 0));
        });
        b.sparse = true;
        both(a, b, |ids| {
            ids.push(0);
            ids.publish(0);
        });
        assert_eq!(Ids::from_parts(vec![], &[]).map(|i| i.is_dense()), Ok(true));
        // Sparse ids emptied are dense again.
        let mut ids = sequential(never_dense(), 5);
        ids.truncate(0);
        assert!(
            ids.is_dense() && ids.memory_bytes() <= 64,
            "tombstone words only"
        );
        assert!(sequential(ids, 3).is_dense());
    }

    #[test]
    fn dense_ids_cost_only_tombstone_bits() {
        let n = 10_000;
        let bound = n as usize / 8 + 64;
        let one_by_one = sequential(Ids::default(), n);
        let mut batch = Ids::default();
        batch.reserve(n as usize);
        assert!((0..n).all(|id| batch.stage(id)));
        let parts = Ids::from_parts((0..n).collect(), &vec![false; n as usize]).unwrap();
        for (how, ids) in [("push", one_by_one), ("stage", batch), ("parts", parts)] {
            assert!(ids.is_dense(), "{how}");
            assert_eq!((ids.slots(), ids.live()), (n as usize, n as usize));
            assert!(ids.memory_bytes() < bound, "{how}: {}", ids.memory_bytes());
        }
        // The same ids off by one cost the full price.
        let shifted = sequential(never_dense(), n);
        assert!(shifted.memory_bytes() > n as usize * 12);
    }

    /// Runs `f` on dense ids (identity ids `0..70`, slot 5 deleted) and on never-dense ones;
    /// the dense ones must go sparse and answer like the never-dense ones, then and after a
    /// few more operations.
    #[track_caller]
    fn goes_sparse(what: &str, f: impl Fn(&mut Ids)) {
        let start = |ids: Ids| {
            let mut ids = sequential(ids, 70);
            ids.delete(5);
            ids
        };
        let (mut a, mut b) = (start(Ids::default()), start(never_dense()));
        assert!(a.is_dense());
        f(&mut a);
        f(&mut b);
        assert!(!a.is_dense(), "{what}: still dense");
        assert_same(&a, &b);
        for ids in [&mut a, &mut b] {
            let n = ids.slots() as u64;
            ids.push(n);
            ids.publish(n as u32);
            assert!(ids.stage(n + 1) && !ids.stage(n + 1));
            ids.delete(7);
            ids.push(9);
            ids.publish(ids.slots() as u32 - 1);
        }
        assert_same(&a, &b);
        let (ids, deleted) = a.to_parts();
        assert_same(&Ids::from_parts(ids, &deleted).unwrap(), &b);
    }

    #[test]
    fn each_way_to_sparse_answers_like_never_dense() {
        goes_sparse("an id that is not the next slot", |ids| {
            ids.push(1000);
            assert_eq!(ids.publish(70), None);
        });
        goes_sparse("an id below the next slot, never live", |ids| {
            ids.push(5);
            assert_eq!(ids.publish(70), None);
        });
        goes_sparse("upsert of a live id", |ids| {
            ids.push(12);
            assert_eq!(ids.slot(12), Some(12), "the old slot until publish");
            assert_eq!(ids.publish(70), Some(12));
        });
        goes_sparse("a deleted id staged again", |ids| {
            assert!(ids.stage(5));
            assert_eq!(ids.slot(5), Some(70));
        });
        goes_sparse("a staged id that is not the next slot", |ids| {
            assert!(ids.stage(71) && !ids.stage(71));
        });
        goes_sparse("a batch after an unpublished slot", |ids| {
            ids.push(70);
            assert!(ids.stage(71));
            assert_eq!(ids.slot(70), None);
            assert_eq!(ids.publish(70), None);
        });
        goes_sparse("publish out of order", |ids| {
            ids.push(70);
            ids.push(71);
            ids.push(72);
            assert_eq!(ids.publish(71), None);
            assert_eq!(ids.slot(70), None, "pushed, not published");
            assert_eq!(ids.slot(72), None, "pushed, not published");
            assert_eq!(ids.publish(72), None);
            assert_eq!(ids.publish(70), None);
        });
        goes_sparse("an out-of-order publish whose id is then dropped", |ids| {
            ids.push(70);
            ids.push(71);
            assert_eq!(ids.publish(71), None);
            ids.truncate(70);
            ids.truncate(70);
        });
        goes_sparse("compaction around a hole", |ids| {
            let keep: Vec<u32> = (0..70).filter(|&s| !ids.is_deleted(s)).collect();
            let mut remap = vec![u32::MAX; 70];
            for (new, &old) in keep.iter().enumerate() {
                remap[old as usize] = new as u32;
            }
            ids.retain(&keep, &remap);
            assert_eq!((ids.slot(69), ids.id(68)), (Some(68), 69));
        });
    }

    #[test]
    fn from_parts_is_dense_only_for_identity_ids() {
        let dense = Ids::from_parts(vec![0, 1, 2, 3], &[false, true, false, false]).unwrap();
        assert!(dense.is_dense());
        assert_eq!(
            (dense.live(), dense.slot(1), dense.slot(2)),
            (3, None, Some(2))
        );
        let mut b = never_dense();
        for id in 0..4 {
            b.push(id);
            b.publish(id as u32);
        }
        b.delete(1);
        assert_same(&dense, &b);
        let sparse = Ids::from_parts(vec![0, 1, 3, 2], &[false; 4]).unwrap();
        assert!(!sparse.is_dense());
        assert_eq!((sparse.slot(3), sparse.id(3)), (Some(2), 2));
        assert_eq!(Ids::from_parts(vec![0, 1, 1], &[false; 3]).err(), Some(1));
    }

    /// The obvious ids: slot → id, id → live slot, tombstones.
    #[derive(Debug, Default)]
    struct Model {
        ids: Vec<u64>,
        map: HashMap<u64, u32>,
        deleted: Vec<bool>,
    }

    impl Model {
        fn push(&mut self, id: u64) {
            self.ids.push(id);
            self.deleted.push(false);
        }

        fn publish(&mut self, slot: u32) -> Option<u32> {
            let old = self.map.insert(self.ids[slot as usize], slot);
            if let Some(old) = old {
                self.deleted[old as usize] = true;
            }
            old
        }

        fn stage(&mut self, id: u64) -> bool {
            if self.map.contains_key(&id) {
                return false;
            }
            self.push(id);
            self.publish(self.ids.len() as u32 - 1);
            true
        }

        fn delete(&mut self, id: u64) -> Option<u32> {
            let slot = self.map.remove(&id)?;
            self.deleted[slot as usize] = true;
            Some(slot)
        }

        fn truncate(&mut self, len: usize) {
            for slot in len..self.ids.len() {
                assert!(!self.deleted[slot], "the callers truncate no tombstone");
                if self.map.get(&self.ids[slot]) == Some(&(slot as u32)) {
                    self.map.remove(&self.ids[slot]);
                }
            }
            self.ids.truncate(len);
            self.deleted.truncate(len);
        }

        fn retain(&mut self, keep: &[u32], remap: &[u32]) {
            self.ids = keep.iter().map(|&s| self.ids[s as usize]).collect();
            self.deleted = vec![false; keep.len()];
            for slot in self.map.values_mut() {
                *slot = remap[*slot as usize];
            }
        }

        fn n_deleted(&self) -> usize {
            self.deleted.iter().filter(|d| **d).count()
        }
    }

    #[track_caller]
    fn assert_model(ids: &Ids, m: &Model) {
        assert_eq!(ids.slots(), m.ids.len());
        assert_eq!(ids.live(), m.map.len());
        assert_eq!(ids.n_deleted(), m.n_deleted());
        assert_eq!(ids.to_parts(), (m.ids.clone(), m.deleted.clone()));
        for (s, (&id, &deleted)) in m.ids.iter().zip(&m.deleted).enumerate() {
            assert_eq!(ids.id(s as u32), id, "id of slot {s}");
            assert_eq!(ids.is_deleted(s as u32), deleted, "slot {s}");
        }
        for id in m.ids.iter().copied().chain(0..m.ids.len() as u64 + 70) {
            assert_eq!(ids.slot(id), m.map.get(&id).copied(), "slot of id {id}");
        }
        assert_eq!(sorted(ids.live_ids()), sorted(m.map.keys().copied()));
        let pairs = m.map.iter().map(|(&id, &s)| (id, s));
        assert_eq!(sorted(ids.live_slots()), sorted(pairs));
    }

    /// An id: mostly the next slot (what the CLI does), sometimes a small one that may be the
    /// slot of another row, live, deleted or not there yet.
    #[derive(Clone, Copy, Debug)]
    enum Pick {
        Next,
        Small(u64),
    }

    impl Pick {
        fn id(self, slots: usize) -> u64 {
            match self {
                Pick::Next => slots as u64,
                Pick::Small(id) => id,
            }
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// `insert`/`upsert`: push, then publish (an upsert tombstones the old slot).
        Insert(Pick),
        /// Pushes several slots, then publishes them (forward or backward: out of order), or
        /// drops them again unpublished.
        Pending {
            picks: Vec<Pick>,
            backward: bool,
            drop: bool,
        },
        /// `insert_batch`: stages each id; a live one, or a failure at row `fail`, truncates
        /// the batch away.
        Batch {
            picks: Vec<Pick>,
            fail: Option<usize>,
        },
        Delete(Pick),
        DeleteLive(prop::sample::Index),
        /// `compact`: keeps the slots that are not tombstones (all of them gone: truncate to 0).
        Compact,
        /// `to_parts`, then `from_parts`.
        Reopen,
    }

    fn pick() -> impl Strategy<Value = Pick> {
        prop_oneof![12 => Just(Pick::Next), 1 => (0u64..48).prop_map(Pick::Small)]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => pick().prop_map(Op::Insert),
            2 => (prop::collection::vec(pick(), 1..5), any::<bool>(), any::<bool>())
                .prop_map(|(picks, backward, drop)| Op::Pending { picks, backward, drop }),
            3 => (prop::collection::vec(pick(), 1..8), prop::option::weighted(0.2, 0usize..8))
                .prop_map(|(picks, fail)| Op::Batch { picks, fail }),
            1 => pick().prop_map(Op::Delete),
            2 => any::<prop::sample::Index>().prop_map(Op::DeleteLive),
            1 => Just(Op::Compact),
            1 => Just(Op::Reopen),
        ]
    }

    fn run(ids: &mut Ids, m: &mut Model, op: &Op) {
        match op {
            Op::Insert(p) => {
                let id = p.id(m.ids.len());
                ids.push(id);
                m.push(id);
                let slot = m.ids.len() as u32 - 1;
                assert_eq!(ids.publish(slot), m.publish(slot));
            }
            Op::Pending {
                picks,
                backward,
                drop,
            } => {
                let first = m.ids.len();
                for p in picks {
                    let id = p.id(m.ids.len());
                    ids.push(id);
                    m.push(id);
                }
                if *drop {
                    ids.truncate(first);
                    m.truncate(first);
                } else {
                    let mut slots: Vec<u32> = (first as u32..m.ids.len() as u32).collect();
                    if *backward {
                        slots.reverse();
                    }
                    for s in slots {
                        assert_eq!(ids.publish(s), m.publish(s));
                    }
                }
            }
            Op::Batch { picks, fail } => {
                let first = m.ids.len();
                ids.reserve(picks.len());
                for (row, p) in picks.iter().enumerate() {
                    let id = p.id(m.ids.len());
                    let staged = *fail != Some(row) && {
                        let staged = ids.stage(id);
                        assert_eq!(staged, m.stage(id));
                        staged
                    };
                    if !staged {
                        ids.truncate(first);
                        m.truncate(first);
                        break;
                    }
                }
            }
            Op::Delete(p) => {
                let id = p.id(m.ids.len());
                assert_eq!(ids.delete(id), m.delete(id));
            }
            Op::DeleteLive(i) => {
                let live = sorted(m.map.keys().copied());
                if !live.is_empty() {
                    let id = live[i.index(live.len())];
                    assert_eq!(ids.delete(id), m.delete(id));
                }
            }
            Op::Compact => {
                if m.n_deleted() == 0 {
                    return;
                }
                let n = m.ids.len();
                let keep: Vec<u32> = (0..n as u32).filter(|&s| !m.deleted[s as usize]).collect();
                if keep.is_empty() {
                    ids.truncate(0);
                    *m = Model::default();
                    return;
                }
                let mut remap = vec![u32::MAX; n];
                for (new, &old) in keep.iter().enumerate() {
                    remap[old as usize] = new as u32;
                }
                ids.retain(&keep, &remap);
                m.retain(&keep, &remap);
            }
            Op::Reopen => {
                // Every slot is live or a tombstone between operations, as in a graph.
                assert_eq!(m.map.len() + m.n_deleted(), m.ids.len());
                let (v, d) = ids.to_parts();
                *ids = Ids::from_parts(v, &d).unwrap();
            }
        }
    }

    proptest! {
        #![proptest_config(Config {
            cases: 256,
            rng_seed: RngSeed::Fixed(0x1D5_DE45E),
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn ids_answer_like_the_model(ops in prop::collection::vec(op(), 1..60)) {
            let (mut ids, mut m) = (Ids::default(), Model::default());
            for op in &ops {
                run(&mut ids, &mut m, op);
                assert_model(&ids, &m);
                // Dense while the ids have always been their slots in order.
                if ids.is_dense() {
                    prop_assert!(m.ids.iter().enumerate().all(|(s, &id)| id == s as u64));
                }
            }
        }
    }
}
