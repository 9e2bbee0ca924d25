//! Neighbour lists, flat and lock-free to read.
//!
//! Layer 0 is one flat array: node `i` owns `1 + M0` words at `i * (1 + M0)`, a count followed
//! by the neighbour slots. Upper layers (few nodes have them) are a small boxed array per node,
//! `1 + M` words per layer. Words are `AtomicU32`, so searches read lists without locks while a
//! parallel build writes them (relaxed loads compile to plain loads); writers serialize per list
//! through a striped lock. A reader may see a list mid-update, but every word it can read is a
//! valid slot of an existing node and the count never exceeds the capacity.

use std::sync::atomic::{AtomicU32, Ordering::*};
use std::sync::{Mutex, MutexGuard};

/// "No node".
pub(crate) const NONE: u32 = u32::MAX;
/// Number of list locks (a power of two; slot `s` uses lock `s % LOCKS`).
const LOCKS: usize = 4096;
/// Highest layer a node can have.
pub(crate) const MAX_LEVEL: usize = 31;

#[derive(Debug)]
pub(crate) struct Links {
    m: usize,
    m0: usize,
    level0: Vec<AtomicU32>,
    upper: Vec<Box<[AtomicU32]>>,
    levels: Vec<u8>,
    /// The node whose layer-0 edge to this node must never be pruned (see the crate docs).
    anchor: Vec<AtomicU32>,
    /// For entry points: the previous entry point, an out-edge that must never be pruned.
    chain: Vec<AtomicU32>,
    locks: Box<[Mutex<()>]>,
}

impl Links {
    pub(crate) fn new(m: usize) -> Self {
        Self {
            m,
            m0: 2 * m,
            level0: Vec::new(),
            upper: Vec::new(),
            levels: Vec::new(),
            anchor: Vec::new(),
            chain: Vec::new(),
            locks: (0..LOCKS).map(|_| Mutex::new(())).collect(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.levels.len()
    }

    /// Capacity of a list on `level`.
    #[inline]
    pub(crate) fn cap(&self, level: usize) -> usize {
        if level == 0 { self.m0 } else { self.m }
    }

    /// Reserves room for `additional` more nodes.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.level0.reserve(additional * (1 + self.m0));
        self.upper.reserve(additional);
        self.levels.reserve(additional);
        self.anchor.reserve(additional);
        self.chain.reserve(additional);
    }

    /// Adds a node with empty lists on layers `0..=level`.
    pub(crate) fn push(&mut self, level: usize) {
        let level = level.min(MAX_LEVEL);
        self.level0
            .extend((0..1 + self.m0).map(|_| AtomicU32::new(0)));
        self.upper.push(
            (0..level * (1 + self.m))
                .map(|_| AtomicU32::new(0))
                .collect(),
        );
        self.levels.push(level as u8);
        self.anchor.push(AtomicU32::new(NONE));
        self.chain.push(AtomicU32::new(NONE));
    }

    #[inline]
    pub(crate) fn level(&self, slot: u32) -> usize {
        usize::from(self.levels[slot as usize])
    }

    #[inline]
    fn words(&self, slot: u32, level: usize) -> &[AtomicU32] {
        if level == 0 {
            let start = slot as usize * (1 + self.m0);
            &self.level0[start..start + 1 + self.m0]
        } else {
            let start = (level - 1) * (1 + self.m);
            &self.upper[slot as usize][start..start + 1 + self.m]
        }
    }

    /// Copies the neighbours of `slot` on `level` into `out` (cleared first).
    #[inline]
    pub(crate) fn read_into(&self, slot: u32, level: usize, out: &mut Vec<u32>) {
        let w = self.words(slot, level);
        let n = (w[0].load(Acquire) as usize).min(w.len() - 1);
        out.clear();
        out.extend(w[1..=n].iter().map(|x| x.load(Relaxed)));
    }

    /// The neighbours of `slot` on `level` as a fresh vector.
    pub(crate) fn read(&self, slot: u32, level: usize) -> Vec<u32> {
        let mut v = Vec::new();
        self.read_into(slot, level, &mut v);
        v
    }

    /// Replaces the list of `slot` on `level` (at most `cap(level)` entries are kept). Callers
    /// that may race with other writers hold [`Links::lock`] for `slot`.
    pub(crate) fn write(&self, slot: u32, level: usize, neighbors: &[u32]) {
        let w = self.words(slot, level);
        let n = neighbors.len().min(w.len() - 1);
        // Entries first, then the count. A concurrent reader may pair the old count with some
        // new entries (or the reverse); every word is a valid slot either way.
        for (dst, &src) in w[1..=n].iter().zip(neighbors) {
            dst.store(src, Relaxed);
        }
        w[0].store(n as u32, Release);
    }

    /// The lock that serializes writers of `slot`'s lists.
    pub(crate) fn lock(&self, slot: u32) -> MutexGuard<'_, ()> {
        let m = &self.locks[slot as usize % LOCKS];
        // A poisoned lock only means another writer panicked; the lists are still valid words.
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[inline]
    pub(crate) fn anchor(&self, slot: u32) -> u32 {
        self.anchor[slot as usize].load(Relaxed)
    }

    pub(crate) fn set_anchor(&self, slot: u32, parent: u32) {
        self.anchor[slot as usize].store(parent, Relaxed);
    }

    #[inline]
    pub(crate) fn chain(&self, slot: u32) -> u32 {
        self.chain[slot as usize].load(Relaxed)
    }

    pub(crate) fn set_chain(&self, slot: u32, previous_entry: u32) {
        self.chain[slot as usize].store(previous_entry, Relaxed);
    }

    /// Whether the edge `from → to` on layer 0 must survive pruning.
    #[inline]
    pub(crate) fn pinned(&self, from: u32, to: u32) -> bool {
        self.anchor(to) == from || self.chain(from) == to
    }

    /// Drops every node from `len` on. Only for nodes nothing links to yet (a batch that was
    /// added but not linked), or for dropping everything.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.level0.truncate(len * (1 + self.m0));
        self.upper.truncate(len);
        self.levels.truncate(len);
        self.anchor.truncate(len);
        self.chain.truncate(len);
    }

    /// A new link table holding only the slots in `keep` (new slot `i` = old slot `keep[i]`),
    /// with lists given by `lists(old_slot, level)` already expressed in new slots. Anchors and
    /// chains are reset.
    pub(crate) fn rebuilt(
        &self,
        keep: &[u32],
        mut lists: impl FnMut(u32, usize) -> Vec<u32>,
    ) -> Links {
        let mut next = Links::new(self.m);
        next.reserve(keep.len());
        for &old in keep {
            next.push(self.level(old));
        }
        for (new, &old) in keep.iter().enumerate() {
            for level in 0..=self.level(old) {
                next.write(new as u32, level, &lists(old, level));
            }
        }
        next
    }

    /// Bytes of memory held by the lists and per-node bookkeeping.
    pub(crate) fn memory_bytes(&self) -> usize {
        let upper: usize = self.upper.iter().map(|b| b.len() * 4).sum();
        self.level0.capacity() * 4
            + upper
            + self.upper.capacity() * std::mem::size_of::<Box<[AtomicU32]>>()
            + self.levels.capacity()
            + (self.anchor.capacity() + self.chain.capacity()) * 4
            + self.locks.len() * std::mem::size_of::<Mutex<()>>()
    }
}
