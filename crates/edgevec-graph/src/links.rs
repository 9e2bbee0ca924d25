//! Neighbour lists, flat and lock-free to read, with the anchor and chain edges.
//!
//! Memory per node is the point of this layout (M = upper-layer capacity, `M0 = 2·M`):
//!
//! - **Layer 0**: one flat array; node `i` owns the `M0` words at `i * M0`. A list holds its
//!   neighbours first, then [`NONE`] up to the end: there is no count word, so a node's layer-0
//!   list is exactly `8·M` bytes (128 at M = 16, two cache lines) and stays contiguous.
//! - **Upper layers**: only about 1/M of nodes have them ("tall" nodes). One bit per node says
//!   whether a node is tall, and a rank directory (a `u32` per 64 nodes) turns a tall node's slot
//!   into its rank among tall nodes. Per tall node, `upper_end` holds where its lists end in one
//!   arena (prefix sums counted in lists, so a level is the difference of two neighbours). The
//!   arena holds layers `1..=level` of each tall node, `M` words each, `NONE`-terminated like
//!   layer 0.
//! - **Anchors** (see the crate docs): the anchor edges *out of* node `u` (to the nodes it
//!   anchors, its children) sit at the front of `u`'s layer-0 list, and one byte per node counts
//!   them (`pins`); one bit per node says whether the node is anchored (the root is anchored
//!   with no parent). So "is `u → v` an anchor edge" is a scan of `u`'s pinned front, and
//!   `anchor(v)` is only recovered when exporting ([`Links::anchors`]).
//! - **Chain edges** exist only on entry points. Each entry point has a higher level than the one
//!   before it, so a fixed table indexed by level holds them all (32 words, whatever the size).
//!
//! Neighbour words are `AtomicU32`, so searches read lists without locks while a parallel build
//! writes them (relaxed loads compile to plain loads); writers of a list serialize through a
//! lock, which also guards the list's pins: one lock serves all lists, and a parallel build
//! swaps in 4,096 striped locks for its duration. A reader may see a list mid-update, but every
//! word it can read is `NONE` or a valid slot of an existing node. Everything else (levels, the
//! tall directory, the arena's size) changes only under `&mut self`.
//!
//! At M = 16 this is 128 bytes of layer 0 plus, on average, about 4.3 bytes of upper lists and
//! 1.6 bytes of level, tall-node and anchor bookkeeping per node. Arrays grow by 1/32 of
//! their length at a time ([`grow`]); [`Links::memory_bytes`] counts their capacity.
//!
//! A graph loaded from parts has a second, read-only layer 0 until its first change ([`Layer0`],
//! [`Links::load`]): every list at its real length, 3-byte entries (4 from 2²⁴ + 1 nodes on) and
//! a `u32` end per node, about 76 bytes per node on GloVe-50 instead of 128. The `&mut self`
//! methods that change structure ([`Links::reserve`], [`Links::push`], [`Links::truncate`],
//! [`Links::clear_anchors`]) convert it back first ([`Links::thaw`]); [`Links::set_anchors`]
//! reorders packed lists in place. So the `&self` writers only ever see the writable words.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Mutex, MutexGuard};

/// "No node".
pub(crate) const NONE: u32 = u32::MAX;
/// Number of list locks while a parallel build runs (slot `s` uses lock `s % PARALLEL_LOCKS`);
/// otherwise one lock serves every list.
const PARALLEL_LOCKS: usize = 4096;
/// Highest layer a node can have.
pub(crate) const MAX_LEVEL: usize = 31;
/// Most anchor children one node can pin (what a byte counts). Only reachable with M = 128,
/// where a layer-0 list has 256 entries; the 256th child then anchors elsewhere.
const MAX_PINS: usize = u8::MAX as usize;
/// An empty entry of the chain table.
const NO_CHAIN: u64 = u64::MAX;

/// Grows `v` so that `additional` more elements fit, by at least 1/32 of its length: appends one
/// at a time stay amortized O(1) (and the allocator can often move large arrays without copying
/// them), and the spare capacity stays under about 3% instead of the up to 100% of doubling.
/// Large arrays are marked for transparent huge pages as they grow (searches read them at
/// random: see `edgevec_simd::hint_huge_pages`).
pub(crate) fn grow<T>(v: &mut Vec<T>, additional: usize) {
    if v.capacity() - v.len() < additional {
        v.reserve_exact(additional.max(v.len() / 32).max(8));
        edgevec_simd::hint_huge_pages(v);
    }
}

#[derive(Debug)]
pub(crate) struct Links {
    m: usize,
    m0: usize,
    len: usize,
    /// `m0` words per node (empty while `packed`).
    level0: Vec<AtomicU32>,
    /// Layer 0 at real list lengths, read-only: set by [`Links::load`], undone by the first
    /// change ([`Links::thaw`]).
    packed: Option<Packed>,
    /// Per node: how many entries at the front of its layer-0 list are its anchor children.
    pins: Vec<AtomicU8>,
    /// One bit per node: anchored (has a parent, or is the root).
    anchored: Vec<AtomicU64>,
    /// One bit per node: has upper layers.
    tall: Vec<u64>,
    /// Per word of `tall`: tall nodes before it.
    tall_rank: Vec<u32>,
    /// Per tall node (by rank): upper lists of tall nodes up to and including this one.
    upper_end: Vec<u32>,
    /// Per level: the chain edge of the entry point on that level, `from << 32 | to` (the
    /// previous entry point, an out-edge never pruned), or [`NO_CHAIN`].
    chains: [AtomicU64; MAX_LEVEL + 1],
    /// Upper lists, `m` words each.
    upper: Vec<AtomicU32>,
    locks: Box<[Mutex<()>]>,
}

/// Layer 0 of a graph being loaded, built list by list in slot order (see [`Links::load`]).
///
/// A loaded graph is mostly searched, so its layer 0 is *packed* until the first change: each
/// list at its real length, 3-byte entries while slots fit in 24 bits (else 4), and a `u32` end
/// per node, instead of `2·M` words per node. At M = 16 on GloVe-50 (24.1 neighbours on
/// average) that is 76 bytes per node instead of 128. The writable words are used only when
/// the entries would number more than `u32::MAX`.
#[derive(Debug)]
pub(crate) struct Layer0(L0);

#[derive(Debug)]
enum L0 {
    Packed(Packed),
    Words { m0: usize, words: Vec<AtomicU32> },
}

impl Layer0 {
    /// Room for `n` lists of `2·m` entries at most, `total` entries in all.
    pub(crate) fn for_graph(m: usize, n: usize, total: usize) -> Self {
        Self::new(2 * m, n, total, if n <= 1 << 24 { 3 } else { 4 })
    }

    fn new(m0: usize, n: usize, total: usize, width: usize) -> Self {
        debug_assert!(width == 4 || (width == 3 && n <= 1 << 24));
        if u32::try_from(total).is_err() {
            let mut words = Vec::new();
            grow(&mut words, n * m0);
            return Layer0(L0::Words { m0, words });
        }
        let mut bytes = Vec::new();
        grow(&mut bytes, total * width + PACK_PAD);
        let mut ends = Vec::new();
        grow(&mut ends, n);
        Layer0(L0::Packed(Packed {
            m0,
            ends,
            bytes,
            width,
            mask: if width == 3 { (1 << 24) - 1 } else { u32::MAX },
        }))
    }

    /// Appends the next node's list (at most `2·M` slots, each below `2^(8·width)`: the
    /// caller checked them against the node count).
    pub(crate) fn push(&mut self, list: &[u32]) {
        // Longer lists would shift every later list when thawed.
        debug_assert!(list.len() <= self.m0(), "a layer-0 list over 2·M entries");
        match &mut self.0 {
            L0::Packed(p) => {
                // Drop the padding, append, pad again.
                p.bytes.truncate(p.bytes.len().saturating_sub(PACK_PAD));
                for v in list {
                    p.bytes.extend_from_slice(&v.to_le_bytes()[..p.width]);
                }
                p.ends.push((p.bytes.len() / p.width) as u32);
                p.bytes.extend_from_slice(&[0; PACK_PAD]);
            }
            L0::Words { m0, words } => {
                let m0 = *m0;
                words.extend(list.iter().take(m0).map(|&v| AtomicU32::new(v)));
                words.extend((list.len().min(m0)..m0).map(|_| AtomicU32::new(NONE)));
            }
        }
    }

    /// Capacity of a layer-0 list.
    fn m0(&self) -> usize {
        match &self.0 {
            L0::Packed(p) => p.m0,
            L0::Words { m0, .. } => *m0,
        }
    }

    /// Gives back the room reserved beyond the lists pushed (a loader that sized layer 0 from
    /// an upper bound). Shrinking a large allocation moves no bytes with the usual allocators.
    pub(crate) fn shrink_to_fit(&mut self) {
        match &mut self.0 {
            L0::Packed(p) => {
                p.ends.shrink_to_fit();
                p.bytes.shrink_to_fit();
            }
            L0::Words { words, .. } => words.shrink_to_fit(),
        }
    }

    /// Lists pushed.
    fn lists(&self) -> usize {
        match &self.0 {
            L0::Packed(p) => p.ends.len(),
            L0::Words { m0, words } => words.len() / m0,
        }
    }
}

/// Zero bytes after the last packed entry, so that every entry can be read as a 4-byte word.
const PACK_PAD: usize = 3;

/// Layer 0 at real list lengths (see [`Layer0`]).
#[derive(Debug)]
struct Packed {
    /// Capacity of a list (`2·M`): no packed list is longer.
    m0: usize,
    /// `ends[s]`: entries in the lists of slots `0..=s`.
    ends: Vec<u32>,
    /// The entries, `width` little-endian bytes each, then [`PACK_PAD`] zero bytes.
    bytes: Vec<u8>,
    /// Bytes per entry: 3 while every slot fits in 24 bits, else 4.
    width: usize,
    /// The low `8·width` bits.
    mask: u32,
}

impl Packed {
    /// Byte range of `slot`'s entries (`None` for a slot out of range).
    #[inline]
    fn range(&self, slot: u32) -> Option<(usize, usize)> {
        let s = slot as usize;
        let end = *self.ends.get(s)? as usize;
        let start = if s == 0 { 0 } else { self.ends[s - 1] as usize };
        Some((start * self.width, end * self.width))
    }

    #[inline]
    fn list(&self, slot: u32) -> PackedList<'_> {
        let (pos, end) = self.range(slot).unwrap_or((0, 0));
        PackedList {
            bytes: &self.bytes,
            pos,
            end,
            width: self.width,
            mask: self.mask,
        }
    }
}

/// The entries of one packed list.
#[derive(Debug, Clone)]
pub(crate) struct PackedList<'a> {
    /// All of the packed bytes (the padding lets the last entry be read as a word).
    bytes: &'a [u8],
    pos: usize,
    end: usize,
    width: usize,
    mask: u32,
}

impl Iterator for PackedList<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        if self.pos >= self.end {
            return None;
        }
        let b = self.bytes.get(self.pos..self.pos + 4)?;
        self.pos += self.width;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & self.mask)
    }
}

/// One neighbour list, in either layout.
#[derive(Debug, Clone)]
pub(crate) enum Neighbors<'a> {
    /// Writable words, ended by [`NONE`] or the list's capacity.
    Words(WordList<'a>),
    /// A packed layer-0 list.
    Packed(PackedList<'a>),
}

impl Iterator for Neighbors<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        match self {
            Neighbors::Words(w) => w.next(),
            Neighbors::Packed(p) => p.next(),
        }
    }
}

/// The entries of one list of writable words, up to the end marker.
#[derive(Debug, Clone)]
pub(crate) struct WordList<'a> {
    words: std::slice::Iter<'a, AtomicU32>,
    /// The end marker was read: nothing after it counts.
    ended: bool,
}

impl Iterator for WordList<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        if self.ended {
            return None;
        }
        let v = self.words.next()?.load(Relaxed);
        self.ended = v == NONE;
        (!self.ended).then_some(v)
    }
}

impl Links {
    pub(crate) fn new(m: usize) -> Self {
        Self {
            m,
            m0: 2 * m,
            len: 0,
            level0: Vec::new(),
            packed: None,
            pins: Vec::new(),
            anchored: Vec::new(),
            tall: Vec::new(),
            tall_rank: Vec::new(),
            upper_end: Vec::new(),
            chains: std::array::from_fn(|_| AtomicU64::new(NO_CHAIN)),
            upper: Vec::new(),
            locks: Box::new([Mutex::new(())]),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Capacity of a list on `level`.
    #[inline]
    pub(crate) fn cap(&self, level: usize) -> usize {
        if level == 0 { self.m0 } else { self.m }
    }

    /// Reserves room for `additional` more nodes, `tall` of which have upper layers, with
    /// `lists` upper lists between them.
    pub(crate) fn reserve(&mut self, additional: usize, tall: usize, lists: usize) {
        self.thaw();
        grow(&mut self.level0, additional * self.m0);
        self.reserve_upper(additional, tall, lists);
    }

    /// [`Links::reserve`] but for layer 0 (see [`Links::load`]).
    fn reserve_upper(&mut self, additional: usize, tall: usize, lists: usize) {
        let words = (self.len + additional).div_ceil(64) - self.len.div_ceil(64);
        grow(&mut self.pins, additional);
        grow(&mut self.anchored, words);
        grow(&mut self.tall, words);
        grow(&mut self.tall_rank, words);
        grow(&mut self.upper_end, tall);
        grow(&mut self.upper, lists * self.m);
    }

    /// Switches between one lock for all lists and [`PARALLEL_LOCKS`] striped locks (for the
    /// duration of a parallel build).
    pub(crate) fn set_parallel(&mut self, parallel: bool) {
        let n = if parallel { PARALLEL_LOCKS } else { 1 };
        if self.locks.len() != n {
            self.locks = (0..n).map(|_| Mutex::new(())).collect();
        }
    }

    /// Adds a node with empty lists on layers `0..=level` (`level` at most [`MAX_LEVEL`]).
    /// Fails when the upper lists would number more than `u32::MAX`, adding nothing (a packed
    /// layer 0 is thawed all the same: same lists, writable layout).
    pub(crate) fn push(&mut self, level: usize) -> Result<(), ()> {
        self.thaw();
        self.push_upper(level)?;
        grow(&mut self.level0, self.m0);
        self.level0
            .extend((0..self.m0).map(|_| AtomicU32::new(NONE)));
        Ok(())
    }

    /// [`Links::push`] but for layer 0 (see [`Links::load`]).
    fn push_upper(&mut self, level: usize) -> Result<(), ()> {
        debug_assert!(level <= MAX_LEVEL);
        let lists = self.upper_end.last().map_or(0, |&e| e as usize) + level;
        let end = u32::try_from(lists).map_err(|_| ())?;
        let slot = self.len;
        grow(&mut self.pins, 1);
        self.pins.push(AtomicU8::new(0));
        if slot.is_multiple_of(64) {
            grow(&mut self.anchored, 1);
            grow(&mut self.tall, 1);
            grow(&mut self.tall_rank, 1);
            self.anchored.push(AtomicU64::new(0));
            self.tall.push(0);
            self.tall_rank.push(self.upper_end.len() as u32);
        }
        if level > 0 {
            self.tall[slot / 64] |= 1 << (slot % 64);
            grow(&mut self.upper_end, 1);
            grow(&mut self.upper, level * self.m);
            self.upper_end.push(end);
            self.upper
                .extend((0..level * self.m).map(|_| AtomicU32::new(NONE)));
        }
        self.len += 1;
        Ok(())
    }

    /// The rank of tall node `slot` among tall nodes, if it is tall.
    #[inline]
    fn tall_index(&self, slot: u32) -> Option<usize> {
        let (word, bit) = (slot as usize / 64, slot % 64);
        let bits = self.tall[word];
        (bits >> bit & 1 == 1).then(|| {
            let below = (bits & ((1u64 << bit) - 1)).count_ones();
            (self.tall_rank[word] + below) as usize
        })
    }

    /// Upper lists before those of the tall node of rank `r`.
    #[inline]
    fn upper_start(&self, r: usize) -> usize {
        if r == 0 {
            0
        } else {
            self.upper_end[r - 1] as usize
        }
    }

    #[inline]
    pub(crate) fn level(&self, slot: u32) -> usize {
        self.tall_index(slot)
            .map_or(0, |r| self.upper_end[r] as usize - self.upper_start(r))
    }

    /// The words of a list, to write it: not for a packed layer 0 (every `&mut self` change
    /// thaws it first, and only those lead to writes).
    #[inline]
    fn words(&self, slot: u32, level: usize) -> &[AtomicU32] {
        if level == 0 {
            debug_assert!(self.packed.is_none(), "layer 0 is packed: thaw it first");
            let start = slot as usize * self.m0;
            &self.level0[start..start + self.m0]
        } else {
            let r = self
                .tall_index(slot)
                .expect("upper layers asked of a node without them");
            debug_assert!(level <= self.upper_end[r] as usize - self.upper_start(r));
            let start = (self.upper_start(r) + level - 1) * self.m;
            &self.upper[start..start + self.m]
        }
    }

    /// Asks for huge pages on the layer-0 lists (see `edgevec_simd::advise_huge_pages`).
    pub(crate) fn advise_huge_pages(&self) {
        edgevec_simd::advise_huge_pages(&self.level0);
        if let Some(p) = &self.packed {
            edgevec_simd::advise_huge_pages(&p.bytes);
            edgevec_simd::advise_huge_pages(&p.ends);
        }
    }

    /// Starts loading `slot`'s layer-0 list into the cache (its first and last word: the list
    /// spans two or three cache lines). Timing only; an out-of-range slot is ignored.
    #[inline]
    pub(crate) fn prefetch0(&self, slot: u32) {
        if let Some(p) = &self.packed {
            if let Some((a, b)) = p.range(slot) {
                edgevec_simd::prefetch(&p.bytes[a]);
                edgevec_simd::prefetch(&p.bytes[b]);
            }
            return;
        }
        let start = slot as usize * self.m0;
        if let Some(w) = self.level0.get(start..start + self.m0) {
            edgevec_simd::prefetch(&w[0]);
            edgevec_simd::prefetch(&w[self.m0 - 1]);
        }
    }

    /// Starts loading the end of `slot`'s packed layer-0 list (`ends[slot]`; its start,
    /// `ends[slot - 1]`, is on the same cache line for 15 slots in 16). Nothing for the
    /// writable layout, whose lists are found without a lookup. Timing only.
    #[inline]
    pub(crate) fn prefetch_end(&self, slot: u32) {
        if let Some(p) = &self.packed
            && let Some(e) = p.ends.get(slot as usize)
        {
            edgevec_simd::prefetch(e);
        }
    }

    /// Copies the neighbours of `slot` on `level` into `out` (cleared first).
    #[inline]
    pub(crate) fn read_into(&self, slot: u32, level: usize, out: &mut Vec<u32>) {
        out.clear();
        out.extend(self.neighbors(slot, level));
    }

    /// The neighbours of `slot` on `level`, read entry by entry (no copy). The search's hot
    /// path matches on the variant once per list, so that each loop is specialized.
    #[inline]
    pub(crate) fn neighbors(&self, slot: u32, level: usize) -> Neighbors<'_> {
        match &self.packed {
            Some(p) if level == 0 => Neighbors::Packed(p.list(slot)),
            _ => Neighbors::Words(WordList {
                words: self.words(slot, level).iter(),
                ended: false,
            }),
        }
    }

    /// The neighbours of `slot` on `level` as a fresh vector.
    pub(crate) fn read(&self, slot: u32, level: usize) -> Vec<u32> {
        let mut v = Vec::new();
        self.read_into(slot, level, &mut v);
        v
    }

    /// Replaces the list of `slot` on `level` (at most `cap(level)` entries are kept). Callers
    /// that may race with other writers hold [`Links::lock`] for `slot`. On layer 0 the node's
    /// anchor children are moved to the front (in the order given); they must all be in
    /// `neighbors` (anchor edges are never removed).
    pub(crate) fn write(&self, slot: u32, level: usize, neighbors: &[u32]) {
        let w = self.words(slot, level);
        let pins = if level == 0 {
            usize::from(self.pins[slot as usize].load(Relaxed))
        } else {
            0
        };
        // Entries first, then the end marker. A concurrent reader may see a mix of old and new
        // entries; every word is NONE or a valid slot either way.
        let mut n = 0;
        if pins == 0 {
            for (dst, &src) in w.iter().zip(neighbors) {
                dst.store(src, Relaxed);
                n += 1;
            }
        } else {
            // The children first, then the rest, each in the order given.
            let mut small = [NONE; 16];
            let big: Vec<u32>;
            let kids: &[u32] = if pins <= small.len() {
                for (k, x) in small.iter_mut().zip(&w[..pins]) {
                    *k = x.load(Relaxed);
                }
                &small[..pins]
            } else {
                big = w[..pins].iter().map(|x| x.load(Relaxed)).collect();
                &big
            };
            let mut n_kids = 0;
            for first in [true, false] {
                for &x in neighbors {
                    if n < w.len() && kids.contains(&x) == first {
                        w[n].store(x, Relaxed);
                        n += 1;
                        n_kids += usize::from(first);
                    }
                }
            }
            debug_assert!(n_kids >= pins, "an anchor edge was dropped from {slot}");
            self.pins[slot as usize].store(n_kids.min(MAX_PINS) as u8, Relaxed);
        }
        for dst in &w[n..] {
            dst.store(NONE, Relaxed);
        }
    }

    /// The lock that serializes writers of `slot`'s lists and pins.
    pub(crate) fn lock(&self, slot: u32) -> MutexGuard<'_, ()> {
        let m = &self.locks[slot as usize % self.locks.len()];
        // A poisoned lock only means another writer panicked; the lists are still valid words.
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `slot` hangs in the anchor tree (has a parent or is the root).
    #[inline]
    pub(crate) fn is_anchored(&self, slot: u32) -> bool {
        self.anchored[slot as usize / 64].load(Relaxed) >> (slot % 64) & 1 == 1
    }

    fn mark_anchored(&self, slot: u32) {
        self.anchored[slot as usize / 64].fetch_or(1 << (slot % 64), Relaxed);
    }

    /// Makes `slot` a root of the anchor tree (anchored, without a parent).
    pub(crate) fn set_root(&self, slot: u32) {
        self.mark_anchored(slot);
    }

    /// The pinned front of `slot`'s layer-0 list: the nodes it anchors.
    fn children(&self, slot: u32) -> impl Iterator<Item = u32> + '_ {
        let pins = usize::from(self.pins[slot as usize].load(Relaxed));
        self.neighbors(slot, 0).take(pins)
    }

    /// Whether `parent` has room to pin one more anchor child.
    pub(crate) fn can_pin(&self, parent: u32) -> bool {
        usize::from(self.pins[parent as usize].load(Relaxed)) < MAX_PINS.min(self.m0)
    }

    /// Makes `parent` the anchor of `child`: moves `child` into the pinned front of `parent`'s
    /// layer-0 list. The caller holds `parent`'s lock. Returns false (changing nothing) when
    /// `child` is not in the list or the parent has no room for another pin.
    pub(crate) fn pin(&self, parent: u32, child: u32) -> bool {
        let w = self.words(parent, 0);
        let pins = usize::from(self.pins[parent as usize].load(Relaxed));
        let Some(i) = w.iter().position(|x| x.load(Relaxed) == child) else {
            return false;
        };
        if i >= pins {
            if !self.can_pin(parent) {
                return false;
            }
            // Swap the child into the front; a reader may briefly see one of the two twice.
            w[i].store(w[pins].load(Relaxed), Relaxed);
            w[pins].store(child, Relaxed);
            self.pins[parent as usize].store(pins as u8 + 1, Relaxed);
        }
        self.mark_anchored(child);
        true
    }

    /// The chain edge of `slot` (`NONE` when it has none).
    #[inline]
    pub(crate) fn chain(&self, slot: u32) -> u32 {
        let level = self.level(slot);
        if level == 0 {
            return NONE;
        }
        let e = self.chains[level].load(Relaxed);
        if (e >> 32) as u32 == slot {
            e as u32
        } else {
            NONE
        }
    }

    /// Sets the chain edge of `slot`, an entry point. Returns false (changing nothing) for a node
    /// without upper layers, or when another node on the same level has a chain edge (entry
    /// points have increasing levels, so neither happens in a graph this crate built).
    pub(crate) fn set_chain(&self, slot: u32, previous_entry: u32) -> bool {
        let level = self.level(slot);
        let held = self.chains[level].load(Relaxed);
        if level == 0 || (held != NO_CHAIN && (held >> 32) as u32 != slot) {
            return false;
        }
        let e = u64::from(slot) << 32 | u64::from(previous_entry);
        self.chains[level].store(e, Relaxed);
        true
    }

    /// Whether the edge `from → to` on layer 0 must survive pruning (an anchor or chain edge).
    #[inline]
    pub(crate) fn pinned(&self, from: u32, to: u32) -> bool {
        self.children(from).any(|x| x == to) || self.chain(from) == to
    }

    /// Forgets every anchor and chain edge (before the anchor tree is rebuilt).
    pub(crate) fn clear_anchors(&mut self) {
        self.thaw();
        self.pins.iter_mut().for_each(|p| *p.get_mut() = 0);
        self.anchored.iter_mut().for_each(|a| *a.get_mut() = 0);
        self.chains.iter_mut().for_each(|c| *c.get_mut() = NO_CHAIN);
    }

    /// The anchor of every slot (`NONE` = none, itself for a root), as [`crate::GraphParts`]
    /// stores them.
    pub(crate) fn anchors(&self) -> Vec<u32> {
        let mut out: Vec<u32> = (0..self.len as u32)
            .map(|s| if self.is_anchored(s) { s } else { NONE })
            .collect();
        for parent in 0..self.len as u32 {
            for child in self.children(parent) {
                out[child as usize] = parent;
            }
        }
        out
    }

    /// Installs anchors read from [`crate::GraphParts`] (after the lists): `anchors[v]` is
    /// `NONE`, `v` itself (a root) or a node whose layer-0 list holds `v`. Each parent's list is
    /// reordered stably so that its children come first (a no-op for lists this type wrote).
    /// On inconsistent input, returns the first offending slot.
    pub(crate) fn set_anchors(&mut self, anchors: &[u32]) -> Result<(), u32> {
        debug_assert_eq!(anchors.len(), self.len);
        self.pins.iter_mut().for_each(|p| *p.get_mut() = 0);
        self.anchored.iter_mut().for_each(|a| *a.get_mut() = 0);
        // Children grouped by parent, in slot order within a group: a counting sort (`start`
        // counts, then prefix sums, then each child placed from the back), O(n) and no
        // comparison sort (whose instances for pairs weighed ~7 KB in the wasm package).
        let mut start = vec![0u32; self.len + 1];
        for (child, &parent) in anchors.iter().enumerate() {
            let child = child as u32;
            if parent == NONE {
                continue;
            }
            if parent as usize >= self.len {
                return Err(child);
            }
            self.mark_anchored(child);
            if parent != child {
                start[parent as usize] += 1;
            }
        }
        let mut total = 0;
        for s in &mut start {
            total += *s;
            *s = total;
        }
        let mut kids = vec![0u32; total as usize];
        for (child, &parent) in anchors.iter().enumerate().rev() {
            if parent != NONE && parent as usize != child {
                let at = &mut start[parent as usize];
                *at -= 1;
                kids[*at as usize] = child as u32;
            }
        }
        let mut list = Vec::new();
        for parent in 0..self.len {
            let group = &kids[start[parent] as usize..start[parent + 1] as usize];
            if group.is_empty() {
                continue;
            }
            let parent = parent as u32;
            self.read_into(parent, 0, &mut list);
            let is_kid = |x: &u32| group.contains(x);
            if let Some(&missing) = group.iter().find(|c| !list.contains(c)) {
                return Err(missing);
            }
            let (mut first, rest): (Vec<u32>, Vec<u32>) = list.iter().partition(|x| is_kid(x));
            if first.len() > MAX_PINS.min(self.m0) {
                return Err(group[0]);
            }
            let pins = first.len() as u8;
            first.extend(rest);
            self.reorder0(parent, &first);
            *self.pins[parent as usize].get_mut() = pins;
        }
        Ok(())
    }

    /// Replaces `slot`'s layer-0 list by a reordering of it (in place when packed).
    fn reorder0(&mut self, slot: u32, list: &[u32]) {
        let Some(p) = &mut self.packed else {
            self.write(slot, 0, list);
            return;
        };
        let (start, end) = p.range(slot).unwrap_or((0, 0));
        debug_assert_eq!(end - start, list.len() * p.width, "not a reordering");
        for (dst, v) in p.bytes[start..end].chunks_exact_mut(p.width).zip(list) {
            dst.copy_from_slice(&v.to_le_bytes()[..dst.len()]);
        }
    }

    /// Drops every node from `len` on. Only for nodes nothing links to yet (a batch that was
    /// added but not linked), or for dropping everything.
    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.thaw();
        let words = len.div_ceil(64);
        let n_tall = if len == 0 {
            0
        } else {
            let w = (len - 1) / 64;
            let bits = self.tall[w] & (u64::MAX >> (63 - (len - 1) % 64));
            self.tall_rank[w] as usize + bits.count_ones() as usize
        };
        self.level0.truncate(len * self.m0);
        self.pins.truncate(len);
        self.anchored.truncate(words);
        self.tall.truncate(words);
        self.tall_rank.truncate(words);
        if !len.is_multiple_of(64) {
            let keep = (1u64 << (len % 64)) - 1;
            *self.anchored[words - 1].get_mut() &= keep;
            self.tall[words - 1] &= keep;
        }
        self.upper.truncate(self.upper_start(n_tall) * self.m);
        self.upper_end.truncate(n_tall);
        for c in &mut self.chains {
            if (*c.get_mut() >> 32) as usize >= len {
                *c.get_mut() = NO_CHAIN;
            }
        }
        self.len = len;
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
        let levels = keep.iter().map(|&old| self.level(old));
        let tall = levels.clone().filter(|&l| l > 0).count();
        next.reserve(keep.len(), tall, levels.sum());
        for &old in keep {
            // The same levels as before, so the upper lists cannot outnumber the old ones.
            next.push(self.level(old))
                .expect("fewer upper lists than before");
        }
        for (new, &old) in keep.iter().enumerate() {
            for level in 0..=self.level(old) {
                next.write(new as u32, level, &lists(old, level));
            }
        }
        next
    }

    /// Links for nodes on `levels` (at most [`MAX_LEVEL`] each), with empty upper lists and
    /// the layer 0 of `layer0` (one list per node, in slot order). Fails when the upper lists
    /// would number more than `u32::MAX`.
    pub(crate) fn load(m: usize, levels: &[u8], layer0: Layer0) -> Result<Self, ()> {
        let mut me = Links::new(m);
        let tall = levels.iter().filter(|&&l| l > 0).count();
        let lists = levels.iter().map(|&l| usize::from(l)).sum();
        me.reserve_upper(levels.len(), tall, lists);
        for &level in levels {
            me.push_upper(usize::from(level))?;
        }
        debug_assert_eq!(layer0.lists(), me.len);
        match layer0.0 {
            L0::Packed(p) => me.packed = Some(p),
            L0::Words { words, .. } => me.level0 = words,
        }
        Ok(me)
    }

    /// Stores layer 0 packed until the next change (as [`Links::load`] does for a graph read
    /// from parts).
    #[cfg(test)]
    fn pack_with(&mut self, width: usize) {
        let total = (0..self.len as u32)
            .map(|s| self.neighbors(s, 0).count())
            .sum();
        let mut layer0 = Layer0::new(self.m0, self.len, total, width);
        let mut list = Vec::new();
        for slot in 0..self.len as u32 {
            self.read_into(slot, 0, &mut list);
            layer0.push(&list);
        }
        let L0::Packed(p) = layer0.0 else {
            panic!("{total} entries do not fit")
        };
        self.level0 = Vec::new();
        self.packed = Some(p);
    }

    /// Whether layer 0 is packed ([`Layer0`]).
    /// Bytes reserved by the packed layer 0 beyond what it holds (tests: a loaded graph
    /// keeps no spare room).
    #[cfg(test)]
    pub(crate) fn packed_spare_bytes(&self) -> usize {
        self.packed.as_ref().map_or(0, |p| {
            (p.bytes.capacity() - p.bytes.len()) + 4 * (p.ends.capacity() - p.ends.len())
        })
    }

    pub(crate) fn is_packed(&self) -> bool {
        self.packed.is_some()
    }

    /// Leaves the packed layer 0 ([`Layer0`]): back to `2·M` writable words per node.
    pub(crate) fn thaw(&mut self) {
        let Some(p) = self.packed.take() else {
            return;
        };
        // With the spare room `grow` would leave: a thaw is always followed by a push or a
        // reserve, which then need not move the whole array again.
        let mut level0 = Vec::new();
        grow(&mut level0, (self.len + self.len / 32 + 8) * self.m0);
        for slot in 0..self.len as u32 {
            let mut n = 0;
            for v in p.list(slot) {
                level0.push(AtomicU32::new(v));
                n += 1;
            }
            level0.extend((n..self.m0).map(|_| AtomicU32::new(NONE)));
        }
        self.level0 = level0;
    }

    /// Bytes of memory held by the lists and per-node bookkeeping (allocated capacity).
    pub(crate) fn memory_bytes(&self) -> usize {
        self.level0.capacity() * 4
            + self
                .packed
                .as_ref()
                .map_or(0, |p| p.ends.capacity() * 4 + p.bytes.capacity())
            + self.pins.capacity()
            + (self.anchored.capacity() + self.tall.capacity()) * 8
            + self.tall_rank.capacity() * 4
            + (self.upper_end.capacity() + self.upper.capacity()) * 4
            + self.locks.len() * std::mem::size_of::<Mutex<()>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(n: usize) -> Vec<usize> {
        (0..n).map(|i| [0, 0, 2, 0, 1, 0, 0, 3][i % 8]).collect()
    }

    #[test]
    fn levels_lists_and_truncation() {
        let mut l = Links::new(4);
        let lv = levels(200);
        for &x in &lv {
            l.push(x).unwrap();
        }
        for (s, &x) in lv.iter().enumerate() {
            assert_eq!(l.level(s as u32), x);
            for level in 0..=x {
                l.write(s as u32, level, &[s as u32, level as u32]);
            }
        }
        for (s, &x) in lv.iter().enumerate() {
            for level in 0..=x {
                assert_eq!(l.read(s as u32, level), [s as u32, level as u32]);
            }
        }
        // Lists shrink and fill up to their capacity.
        l.write(7, 3, &[1, 2, 3, 4, 5]);
        assert_eq!(l.read(7, 3), [1, 2, 3, 4]);
        l.write(7, 3, &[9]);
        assert_eq!(l.read(7, 3), [9]);
        for len in [130, 129, 128, 65, 64, 1, 0] {
            l.truncate(len);
            assert_eq!(l.len(), len);
            assert_eq!(l.upper.len(), lv[..len].iter().sum::<usize>() * 4);
            for (s, &x) in lv[..len].iter().enumerate() {
                assert_eq!(l.level(s as u32), x);
            }
            l.truncate(len);
        }
        for &x in &lv[..70] {
            l.push(x).unwrap();
        }
        assert_eq!(l.level(66), lv[66]);
        assert!(l.read(66, 0).is_empty());
    }

    #[test]
    fn chain_edges_one_per_level() {
        let mut l = Links::new(4);
        for &x in &levels(20) {
            l.push(x).unwrap();
        }
        // Chain edges: only tall nodes, one per level.
        assert!(!l.set_chain(0, 5), "level 0");
        assert!(l.set_chain(2, 9) && l.set_chain(4, 2) && l.set_chain(7, 4));
        assert!(!l.set_chain(10, 1), "level 2 holds the chain of slot 2");
        assert!(l.set_chain(2, 8), "a node may change its own chain edge");
        assert_eq!(
            [l.chain(2), l.chain(4), l.chain(7), l.chain(10)],
            [8, 2, 4, NONE]
        );
        assert!(l.pinned(4, 2) && !l.pinned(4, 3));
        l.truncate(5);
        assert_eq!([l.chain(2), l.chain(4)], [8, 2]);
        assert_eq!(
            l.chains
                .iter()
                .filter(|c| c.load(Relaxed) != NO_CHAIN)
                .count(),
            2
        );
        l.truncate(0);
        assert!(l.chains.iter().all(|c| c.load(Relaxed) == NO_CHAIN));
    }

    #[test]
    fn pins_stay_in_front_and_round_trip() {
        let mut l = Links::new(4);
        for _ in 0..10 {
            l.push(0).unwrap();
        }
        l.set_root(0);
        l.write(0, 0, &[1, 2, 3, 4]);
        assert!(l.pin(0, 3) && l.pin(0, 4));
        assert!(!l.pin(0, 9), "no edge, no pin");
        assert_eq!(l.read(0, 0), [3, 4, 1, 2]);
        assert!(l.pinned(0, 3) && l.pinned(0, 4) && !l.pinned(0, 1));
        assert!(l.is_anchored(3) && !l.is_anchored(1));
        // Rewrites keep the children in front, whatever order they are given in.
        l.write(0, 0, &[5, 4, 6, 3]);
        assert_eq!(l.read(0, 0), [4, 3, 5, 6]);
        let anchors = l.anchors();
        assert_eq!(&anchors[..5], [0, NONE, NONE, 0, 0]);
        let mut m = Links::new(4);
        for _ in 0..10 {
            m.push(0).unwrap();
        }
        m.write(0, 0, &[5, 3, 6, 4]);
        m.set_anchors(&anchors).unwrap();
        assert_eq!(m.read(0, 0), [3, 4, 5, 6]);
        assert_eq!(m.anchors(), anchors);
        let mut bad = anchors.clone();
        bad[7] = 0; // 0 has no edge to 7
        assert_eq!(m.set_anchors(&bad), Err(7));
    }

    #[test]
    fn packed_layer0_reads_like_the_words_and_thaws_back() {
        for width in [3, 4] {
            let mut l = Links::new(4);
            let lv = levels(300);
            for &x in &lv {
                l.push(x).unwrap();
            }
            // Lists of every length 0..=8, slots up to 299 (two bytes and more).
            for s in 0..300u32 {
                let list: Vec<u32> = (0..s % 9).map(|i| (s * 37 + i * 101) % 300).collect();
                l.write(s, 0, &list);
                for level in 1..=lv[s as usize] {
                    l.write(s, level, &[s, level as u32]);
                }
            }
            l.set_root(0);
            assert!(l.pin(8, l.read(8, 0)[3]));
            let before: Vec<Vec<u32>> = (0..300).map(|s| l.read(s, 0)).collect();
            let anchors = l.anchors();
            let words = l.memory_bytes();
            l.pack_with(width);
            assert!(l.is_packed());
            assert!(l.memory_bytes() < words - 300 * 8 * 4 / 4, "{width}");
            for s in 0..300u32 {
                assert_eq!(l.read(s, 0), before[s as usize], "slot {s}, width {width}");
                assert_eq!(l.neighbors(s, 0).count(), before[s as usize].len());
                for level in 1..=lv[s as usize] {
                    assert_eq!(l.read(s, level), [s, level as u32]);
                }
                l.prefetch0(s);
                l.prefetch_end(s);
            }
            assert_eq!(l.anchors(), anchors);
            assert!(l.pinned(8, before[8][0]) && !l.pinned(8, before[8][1]));
            // Out of range: prefetches ignore it, lists are empty.
            l.prefetch0(300);
            assert_eq!(l.neighbors(300, 0).count(), 0);
            // Any change thaws first; the lists are writable again and unchanged.
            l.push(0).unwrap();
            assert!(!l.is_packed());
            for s in 0..300u32 {
                assert_eq!(l.read(s, 0), before[s as usize]);
            }
            l.write(300, 0, &[1, 2]);
            assert_eq!(l.read(300, 0), [1, 2]);
            assert!(l.memory_bytes() >= words);
        }
    }

    #[test]
    fn load_takes_packed_or_word_lists_and_anchors_in_place() {
        let lv: Vec<u8> = levels(100).iter().map(|&l| l as u8).collect();
        let lists: Vec<Vec<u32>> = (0..100u32)
            .map(|s| (0..s % 9).map(|i| (s + i * 7 + 1) % 100).collect())
            .collect();
        let total = lists.iter().map(Vec::len).sum();
        let words = Layer0(L0::Words {
            m0: 8,
            words: Vec::new(),
        });
        for mut layer0 in [Layer0::for_graph(4, 100, total), words] {
            for l in &lists {
                layer0.push(l);
            }
            let packed = matches!(layer0.0, L0::Packed(_));
            let mut l = Links::load(4, &lv, layer0).unwrap();
            assert_eq!(l.is_packed(), packed);
            for s in 0..100u32 {
                assert_eq!(l.read(s, 0), lists[s as usize]);
                assert_eq!(l.level(s), usize::from(lv[s as usize]));
                for level in 1..=l.level(s) {
                    assert!(l.read(s, level).is_empty());
                }
            }
            // Anchors reorder a list in place, packed or not; the last entry of slot 8 becomes
            // its first.
            let mut anchors = vec![NONE; 100];
            anchors[8] = 8;
            anchors[lists[8][7] as usize] = 8;
            l.set_anchors(&anchors).unwrap();
            assert_eq!(l.is_packed(), packed);
            let mut want = vec![lists[8][7]];
            want.extend(&lists[8][..7]);
            assert_eq!(l.read(8, 0), want);
            assert_eq!(l.anchors(), anchors);
        }
    }

    /// The widest slot a 3-byte entry holds (2²⁴ − 1, at n = 2²⁴) and the first 4-byte graph,
    /// read through the padding at the very end, reordered in place and thawed.
    #[test]
    fn packed_entries_take_four_bytes_past_2_24_nodes() {
        for n in [(1usize << 24), (1 << 24) + 1] {
            let levels = vec![0u8; n];
            let last = (n - 1) as u32;
            let lists = |s: usize| -> Vec<u32> {
                match s {
                    0 => vec![last, 0xFF_FFFF.min(last), 1],
                    s if s + 1 == n => vec![last - 1, last],
                    s if s + 2 == n => vec![],
                    _ => vec![],
                }
            };
            let total: usize = [0, n - 1, n - 2].iter().map(|&s| lists(s).len()).sum();
            let mut l0 = Layer0::for_graph(2, n, total);
            for s in 0..n {
                l0.push(&lists(s));
            }
            let mut l = Links::load(2, &levels, l0).unwrap();
            assert!(l.is_packed());
            for s in [0, n - 2, n - 1, 5] {
                assert_eq!(l.read(s as u32, 0), lists(s), "n {n} slot {s}");
                l.prefetch0(s as u32);
                l.prefetch_end(s as u32);
            }
            let mut anchors = vec![NONE; n];
            anchors[last as usize] = last;
            anchors[(last - 1) as usize] = last;
            l.set_anchors(&anchors).unwrap();
            assert_eq!(l.anchors(), anchors);
            l.thaw();
            for s in [0, n - 2, n - 1, 5] {
                assert_eq!(l.read(s as u32, 0), lists(s), "thawed n {n} slot {s}");
            }
        }
    }

    #[test]
    fn a_node_pins_at_most_255_children() {
        // Only M = 128 has lists (256 entries) long enough to run out of pins.
        let mut l = Links::new(128);
        for _ in 0..300 {
            l.push(0).unwrap();
        }
        let list: Vec<u32> = (1..=256).collect();
        l.write(0, 0, &list);
        for c in 1..=255 {
            assert!(l.pin(0, c));
        }
        assert!(!l.can_pin(0) && !l.pin(0, 256) && !l.is_anchored(256));
        let anchors = l.anchors();
        assert_eq!((anchors[255], anchors[256]), (0, NONE));
        let reversed: Vec<u32> = list.iter().rev().copied().collect();
        l.write(0, 0, &reversed);
        let back = l.read(0, 0);
        assert_eq!(
            back[..255],
            reversed[1..],
            "children first, in the order given"
        );
        assert_eq!(back[255], 256);
        let mut too_many = anchors;
        too_many[256] = 0;
        assert!(Links::new(128).set_anchors(&[]).is_ok());
        assert!(l.set_anchors(&too_many).is_err());
    }
}
