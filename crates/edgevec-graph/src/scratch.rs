//! Per-search working memory, reused across searches: a visited bitset cleared in O(1) by
//! generation counters, and the frontier and results of the beam search (a sorted pool, or two
//! heaps where the pool would grow long, and in wasm32 builds).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Mutex;

/// A node with its distance from the current query, ordered by distance, then slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cand {
    pub(crate) dist: f32,
    pub(crate) slot: u32,
}

impl PartialEq for Cand {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Cand {
    /// One integer whose order is `(dist.total_cmp, slot)`: the heaps compare candidates all the
    /// time, and a single 64-bit comparison is cheaper than a float order then a tie-break.
    #[inline]
    pub(crate) fn key(&self) -> u64 {
        let bits = self.dist.to_bits();
        // f32::total_cmp's mapping (negative values have their magnitude bits flipped), moved
        // to unsigned order by flipping the sign bit.
        let ordered = (bits ^ ((((bits as i32) >> 31) as u32) >> 1)) ^ 0x8000_0000;
        (u64::from(ordered) << 32) | u64::from(self.slot)
    }

    /// The candidate whose [`Cand::key`] is `key`.
    #[inline]
    pub(crate) fn from_key(key: u64) -> Self {
        let t = ((key >> 32) as u32) ^ 0x8000_0000;
        Cand {
            dist: f32::from_bits(t ^ ((((t as i32) >> 31) as u32) >> 1)),
            slot: key as u32,
        }
    }
}

impl Ord for Cand {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// Visited marks, one bit per slot, cleared in O(1): each 64-bit word covers 32 slots, its high
/// half holding the generation (search) its marks in the low half belong to. Starting a new search
/// bumps the generation, which empties every word at once; the array is zeroed only when the
/// counter wraps. A quarter of a byte per slot.
#[derive(Debug, Default)]
pub(crate) struct Visited {
    words: Vec<u64>,
    generation: u32,
}

impl Visited {
    /// Starts a new search over `n` slots.
    pub(crate) fn reset(&mut self, n: usize) {
        let words = n.div_ceil(32);
        if self.words.len() < words {
            let more = words - self.words.len();
            crate::links::grow(&mut self.words, more);
            self.words.resize(words, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.words.iter_mut().for_each(|w| *w = 0);
            self.generation = 1;
        }
    }

    /// The marks of word `w` in this search.
    #[inline]
    fn current(&self, w: u64) -> u64 {
        if (w >> 32) as u32 == self.generation {
            w
        } else {
            u64::from(self.generation) << 32
        }
    }

    /// Whether `slot` was marked in this search.
    #[inline]
    pub(crate) fn is_marked(&self, slot: u32) -> bool {
        self.words
            .get(slot as usize / 32)
            .is_some_and(|&w| self.current(w) >> (slot % 32) & 1 == 1)
    }

    /// Marks `slot`; returns whether it was already marked in this search.
    #[inline]
    pub(crate) fn check_and_mark(&mut self, slot: u32) -> bool {
        let i = slot as usize / 32;
        let bit = 1u64 << (slot % 32);
        let w = self.current(self.words[i]);
        if w & bit != 0 {
            return true;
        }
        self.words[i] = w | bit;
        false
    }

    /// Marks every slot of `slots` and leaves in `fresh` (cleared first) those not marked
    /// before, in order. No branch depends on a mark: whether a neighbour was visited already
    /// is a coin flip that a branch predictor loses, so each slot is written to `fresh`
    /// and the length only moves on for a new one.
    #[inline]
    pub(crate) fn mark_fresh(
        &mut self,
        slots: impl Iterator<Item = u32>,
        cap: usize,
        fresh: &mut Vec<u32>,
    ) {
        fresh.clear();
        fresh.resize(cap, 0);
        let mut len = 0;
        for slot in slots {
            // Room for `cap` new slots: the rest of a longer list stays unmarked.
            let Some(f) = fresh.get_mut(len) else { break };
            let i = slot as usize / 32;
            let bit = 1u64 << (slot % 32);
            let Some(word) = self.words.get_mut(i) else {
                continue;
            };
            let w = if (*word >> 32) as u32 == self.generation {
                *word
            } else {
                u64::from(self.generation) << 32
            };
            *word = w | bit;
            *f = slot;
            len += usize::from(w & bit == 0);
        }
        fresh.truncate(len);
    }

    /// Bytes held.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

/// The frontier and the results of one layer search (HNSW's candidate and result sets): which
/// node to expand next, and which nodes a newly measured one must beat. Two implementations:
/// [`Pool`], one sorted array, for searches where nearly every node is accepted, and [`Heaps`],
/// the textbook pair of heaps, whose inserts stay O(log n) however many rejected nodes a
/// selective filter leaves on the frontier (the pool's move O(n) entries).
pub(crate) trait Beam {
    /// Starts a layer search keeping up to `ef` accepted nodes. With `resume`, the nodes of
    /// `found` (the previous call's results, all expanded) are results again.
    fn begin(&mut self, ef: usize, resume: bool, found: &mut Vec<Cand>);
    /// The most results kept.
    fn ef(&self) -> usize;
    /// The distance of the farthest of `ef` results; +inf while fewer are held.
    fn bound(&self) -> f32;
    /// Whether a node at `dist` enters: nearer than [`Beam::bound`]. A NaN or +inf distance
    /// never enters (no built-in store yields one: vectors are checked finite and at most 1e18
    /// in norm; a custom store might).
    #[inline]
    fn admits(&self, dist: f32) -> bool {
        dist < self.bound()
    }
    /// Adds an admitted node to the frontier (and to the results when `accepted`).
    fn push(&mut self, c: Cand, accepted: bool);
    /// The next node to expand, marked expanded; `None` when the search is over (no node on
    /// the frontier is as near as the farthest of `ef` results or nearer).
    fn next(&mut self) -> Option<Cand>;
    /// Whether the beam has grown so long that another kind would be cheaper.
    fn too_long(&self) -> bool;
    /// The node [`Beam::next`] would return now, left on the frontier.
    fn peek(&self) -> Option<Cand>;
    /// Leaves the accepted results in `found`, nearest first.
    fn finish(&mut self, found: &mut Vec<Cand>);
    /// Bytes held.
    fn memory_bytes(&self) -> usize;
}

/// [`Beam`] as two binary heaps: the frontier (nearest on top) and the results (farthest on
/// top). Pushes and pops are O(log n), however many rejected nodes the frontier holds.
#[derive(Debug, Default)]
pub(crate) struct Heaps {
    candidates: BinaryHeap<Reverse<Cand>>,
    results: BinaryHeap<Cand>,
    ef: usize,
    bound: f32,
}

impl Heaps {
    fn update_bound(&mut self) {
        self.bound = match self.results.peek() {
            Some(c) if self.results.len() >= self.ef => c.dist,
            _ => f32::INFINITY,
        };
    }
}

impl Beam for Heaps {
    fn begin(&mut self, ef: usize, resume: bool, found: &mut Vec<Cand>) {
        self.ef = ef;
        self.candidates.clear();
        self.results.clear();
        if resume {
            self.results.extend(found.drain(..));
        }
        self.update_bound();
    }

    fn ef(&self) -> usize {
        self.ef
    }

    #[inline]
    fn bound(&self) -> f32 {
        self.bound
    }

    #[inline]
    fn push(&mut self, c: Cand, accepted: bool) {
        self.candidates.push(Reverse(c));
        if accepted {
            if self.results.len() < self.ef {
                self.results.push(c);
            } else if let Some(mut worst) = self.results.peek_mut() {
                // Full and admitted (nearer than the farthest): the new node replaces the
                // farthest, one sift instead of a push and a pop.
                *worst = c;
            }
            self.update_bound();
        }
    }

    #[inline]
    fn next(&mut self) -> Option<Cand> {
        let Reverse(c) = self.candidates.pop()?;
        if c.dist > self.bound { None } else { Some(c) }
    }

    #[inline]
    fn peek(&self) -> Option<Cand> {
        self.candidates.peek().map(|r| r.0)
    }

    fn too_long(&self) -> bool {
        false
    }

    fn finish(&mut self, found: &mut Vec<Cand>) {
        found.clear();
        found.extend(self.results.drain());
        found.sort_unstable();
    }

    fn memory_bytes(&self) -> usize {
        (self.candidates.capacity() + self.results.capacity()) * 8
    }
}

/// One frontier entry of a [`Pool`].
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// [`Cand::key`]: the candidate itself, in the order the array is sorted by.
    key: u64,
    accepted: bool,
    expanded: bool,
}

impl Entry {
    #[inline]
    fn cand(&self) -> Cand {
        Cand::from_key(self.key)
    }
}

/// [`Beam`] as one array sorted nearest first: every admitted node (expanded or not, accepted
/// or not) until the `ef`-th accepted node moves nearer than it. The next node to expand is the
/// first one not expanded yet, found from a cursor; the results are the accepted entries,
/// already in order.
///
/// A frontier node farther than the `ef`-th result would end the heaps' search when popped, so
/// [`Heaps`] and the pool expand the same nodes in the same order, ties included. An insert is
/// a binary search and a move of the entries after it: a few hundred bytes at the usual `ef`,
/// cheaper than the sifts of two heaps and their unpredictable branches. The array is longer
/// than `ef` by the rejected nodes within the bound, and, until `ef` nodes are accepted, by
/// every node expanded: a filter that rejects most nodes, a large `ef`, or a search that ranks
/// nearly the whole graph would make the moves O(n) each. Such searches use [`Heaps`] from the
/// start ([`Pool::MAX_EF`], the caller's `selective`) or from the moment the pool is
/// [`Beam::too_long`] ([`Pool::spill_into`]).
#[derive(Debug, Default)]
pub(crate) struct Pool {
    entries: Vec<Entry>,
    /// Accepted entries, at most `ef`.
    accepted: usize,
    /// With `ef` accepted entries, the distance of the farthest; no entry is farther.
    bound: f32,
    /// No entry before this one is waiting to be expanded.
    cursor: usize,
    ef: usize,
}

impl Pool {
    /// Beyond this `ef` a search uses [`Heaps`].
    pub(crate) const MAX_EF: usize = 1024;

    /// Whether searches use the pool at all. Not in wasm32 builds: the pool's code (a second
    /// instance of the layer walk per store and acceptance rule, the sorted inserts, the
    /// hand-over to heaps) adds 4.6 KB to the gzipped `.wasm` of the npm package, which has a
    /// 150,000-byte budget (`crates/edgevec-wasm/tests/js/package.test.mjs`); with this `false`
    /// the compiler drops all of it. The two beams give the same answers, so only the speed
    /// differs: the pool's 4–10% natively.
    pub(crate) const ENABLED: bool = cfg!(not(target_arch = "wasm32"));

    /// Hands the state to `heaps`, which go on from it as if they had walked from the start:
    /// the unexpanded entries are their frontier, the accepted ones their results.
    pub(crate) fn spill_into(&mut self, heaps: &mut Heaps) {
        heaps.ef = self.ef;
        heaps.candidates.clear();
        heaps.results.clear();
        for e in self.entries.drain(..) {
            if !e.expanded {
                heaps.candidates.push(Reverse(e.cand()));
            }
            if e.accepted {
                heaps.results.push(e.cand());
            }
        }
        heaps.update_bound();
    }
}

impl Beam for Pool {
    fn begin(&mut self, ef: usize, resume: bool, found: &mut Vec<Cand>) {
        self.ef = ef;
        self.entries.clear();
        if resume {
            // `found` is sorted and its nodes were expanded by the previous call.
            self.entries.extend(found.drain(..).map(|cand| Entry {
                key: cand.key(),
                accepted: true,
                expanded: true,
            }));
        }
        self.accepted = self.entries.len();
        self.cursor = self.entries.len();
        self.bound = match self.entries.last() {
            Some(e) if self.accepted >= ef => e.cand().dist,
            _ => f32::INFINITY,
        };
    }

    fn ef(&self) -> usize {
        self.ef
    }

    #[inline]
    fn bound(&self) -> f32 {
        self.bound
    }

    #[inline]
    fn push(&mut self, c: Cand, accepted: bool) {
        let key = c.key();
        let at = self.entries.partition_point(|e| e.key < key);
        self.entries.insert(
            at,
            Entry {
                key,
                accepted,
                expanded: false,
            },
        );
        self.cursor = self.cursor.min(at);
        if !accepted {
            return;
        }
        self.accepted += 1;
        if self.accepted > self.ef {
            // The old farthest result leaves the results; as a frontier node it may still be
            // expanded if it ties with the new farthest, so it is only dropped below.
            if let Some(e) = self.entries.iter_mut().rev().find(|e| e.accepted) {
                e.accepted = false;
            }
            self.accepted -= 1;
        }
        if self.accepted == self.ef {
            if let Some(e) = self.entries.iter().rev().find(|e| e.accepted) {
                self.bound = e.cand().dist;
            }
            // Entries farther than the farthest result would end the search: drop them.
            while self
                .entries
                .last()
                .is_some_and(|e| e.cand().dist > self.bound)
            {
                self.entries.pop();
            }
        }
    }

    #[inline]
    fn next(&mut self) -> Option<Cand> {
        while let Some(e) = self.entries.get_mut(self.cursor) {
            self.cursor += 1;
            if !e.expanded {
                e.expanded = true;
                return Some(e.cand());
            }
        }
        None
    }

    #[inline]
    fn peek(&self) -> Option<Cand> {
        self.entries
            .get(self.cursor..)?
            .iter()
            .find(|e| !e.expanded)
            .map(|e| e.cand())
    }

    fn too_long(&self) -> bool {
        self.entries.len() > 2 * self.ef + 64
    }

    fn finish(&mut self, found: &mut Vec<Cand>) {
        found.clear();
        found.extend(self.entries.iter().filter(|e| e.accepted).map(|e| e.cand()));
        self.entries.clear();
    }

    fn memory_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
    }
}

/// Everything one search needs besides the graph.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) visited: Visited,
    /// The beam of searches with a filter that may reject most nodes.
    pub(crate) heaps: Heaps,
    /// The beam of every other search.
    pub(crate) pool: Pool,
    /// The not-yet-visited part of a neighbour list.
    pub(crate) fresh: Vec<u32>,
    /// The result of the last layer search, nearest first.
    pub(crate) found: Vec<Cand>,
}

/// A pool of [`Scratch`]es so that concurrent searches do not allocate. At most
/// [`ScratchPool::KEEP`] are kept between uses (each holds one bit per slot of visited marks).
#[derive(Debug, Default)]
pub(crate) struct ScratchPool {
    free: Mutex<Vec<Scratch>>,
}

impl ScratchPool {
    /// Scratches kept for reuse; more concurrent users than this allocate and drop their own.
    pub(crate) const KEEP: usize = 16;

    /// Runs `f` with a scratch from the pool (or a new one), then returns it to the pool.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Scratch) -> R) -> R {
        let taken = self.free.lock().ok().and_then(|mut v| v.pop());
        let mut scratch = taken.unwrap_or_default();
        let r = f(&mut scratch);
        if let Ok(mut v) = self.free.lock()
            && v.len() < Self::KEEP
        {
            v.push(scratch);
        }
        r
    }

    /// Drops every pooled scratch (after compaction shrinks the graph).
    pub(crate) fn clear(&self) {
        self.trim(0);
    }

    /// Keeps at most `keep` pooled scratches (after a parallel build, whose threads are gone).
    pub(crate) fn trim(&self, keep: usize) {
        if let Ok(mut v) = self.free.lock() {
            v.truncate(keep);
            v.shrink_to(keep);
        }
    }

    /// Bytes held by pooled scratches.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.free.lock().map_or(0, |v| {
            v.capacity() * std::mem::size_of::<Scratch>()
                + v.iter()
                    .map(|s| {
                        s.visited.memory_bytes()
                            + s.heaps.memory_bytes()
                            + s.pool.memory_bytes()
                            + s.found.capacity() * 8
                            + s.fresh.capacity() * 4
                    })
                    .sum::<usize>()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed, TestCaseError};

    #[test]
    fn candidate_order_is_total_cmp_then_slot() {
        let values = [
            f32::NEG_INFINITY,
            -f32::MAX,
            -1.5,
            -f32::MIN_POSITIVE,
            -1e-45,
            -0.0,
            0.0,
            1e-45,
            f32::MIN_POSITIVE,
            1.0,
            f32::MAX,
            f32::INFINITY,
            f32::NAN,
        ];
        for &a in &values {
            for &b in &values {
                for (sa, sb) in [(0, 0), (1, 2), (7, 3), (u32::MAX, 0)] {
                    let (x, y) = (Cand { dist: a, slot: sa }, Cand { dist: b, slot: sb });
                    let want = a.total_cmp(&b).then(sa.cmp(&sb));
                    assert_eq!(x.cmp(&y), want, "{a} {sa} vs {b} {sb}");
                    let back = Cand::from_key(x.key());
                    assert_eq!((back.dist.to_bits(), back.slot), (a.to_bits(), sa));
                }
            }
        }
    }

    #[test]
    fn generations_clear_marks_grow_and_survive_wrapping() {
        let mut v = Visited::default();
        v.reset(4);
        assert!(!v.check_and_mark(2));
        assert!(v.check_and_mark(2));
        assert!(v.is_marked(2) && !v.is_marked(3) && !v.is_marked(1000));
        v.reset(200);
        assert!(!v.is_marked(2));
        for s in [0, 31, 32, 199] {
            assert!(!v.check_and_mark(s));
        }
        assert!(v.is_marked(31) && v.is_marked(32) && !v.is_marked(33));
        v.generation = u32::MAX;
        v.reset(200);
        assert_eq!(v.generation, 1);
        assert!(v.words.iter().all(|&w| w == 0));
        assert!(!v.check_and_mark(199) && !v.is_marked(0));
    }

    #[test]
    fn mark_fresh_keeps_the_unmarked_in_order_once() {
        let mut v = Visited::default();
        v.reset(100);
        assert!(!v.check_and_mark(40));
        let mut fresh = vec![7, 7, 7];
        // 40 was marked before, 5 repeats within the list, 63/64 straddle a word boundary.
        v.mark_fresh([5, 40, 63, 5, 64, 0].into_iter(), 6, &mut fresh);
        assert_eq!(fresh, [5, 63, 64, 0]);
        assert!([0, 5, 40, 63, 64].iter().all(|&s| v.is_marked(s)));
        // Marks of an earlier search do not count; a list with more than `cap` new slots
        // stops there and leaves the rest unmarked.
        v.reset(100);
        v.mark_fresh([1, 2, 3].into_iter(), 2, &mut fresh);
        assert_eq!(fresh, [1, 2]);
        assert!(!v.is_marked(3));
        v.mark_fresh([2, 3].into_iter(), 2, &mut fresh);
        assert_eq!(fresh, [3]);
    }

    #[test]
    fn candidates_order_totally() {
        let a = Cand { dist: 1.0, slot: 3 };
        let b = Cand { dist: 1.0, slot: 4 };
        let c = Cand {
            dist: f32::NAN,
            slot: 0,
        };
        assert!(a < b);
        assert!(b < c);
    }

    /// One step of a layer walk, as the walk drives a beam.
    #[derive(Debug, Clone)]
    enum Step {
        /// A measured node: an index into [`DISTANCES`] (small, so that ties are common) and
        /// whether it is accepted.
        Node(usize, bool),
        /// Expand the next node.
        Next,
        /// The pool hands its state to heaps (as when it grows too long) and they go on.
        Spill,
    }

    const DISTANCES: [f32; 12] = [
        0.0,
        -0.0,
        1.0,
        2.0,
        3.0,
        4.0,
        5.0,
        6.0,
        7.0,
        8.0,
        f32::INFINITY,
        f32::NAN,
    ];

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            12 => (0..DISTANCES.len(), prop::bool::weighted(0.8)).prop_map(|(d, a)| Step::Node(d, a)),
            4 => Just(Step::Next),
            1 => Just(Step::Spill),
        ]
    }

    /// Drives the heaps, and the pool (spilled into a second pair of heaps at the first
    /// `Spill`), through the same walk; they must admit, expand and find the same. Slots come
    /// from `slots` in that order, so ties in distance meet slots in any order.
    fn same_walk(
        ef: usize,
        resume: &[usize],
        steps: &[Step],
        slots: &[u32],
    ) -> Result<(), TestCaseError> {
        let (mut heaps, mut pool, mut spilled) = (Heaps::default(), Pool::default(), None);
        let mut slots = slots.iter().copied();
        let mut fresh = |d: usize| {
            slots.next().map(|slot| Cand {
                dist: DISTANCES[d],
                slot,
            })
        };
        let mut found: Vec<Cand> = resume.iter().filter_map(|&d| fresh(d)).collect();
        // A resumed search brings back earlier results: sorted, fewer than `ef`, not NaN.
        found.retain(|c| !c.dist.is_nan());
        found.sort_unstable();
        found.truncate(ef.saturating_sub(1));
        let mut found2 = found.clone();
        heaps.begin(ef, !found.is_empty(), &mut found);
        pool.begin(ef, !found2.is_empty(), &mut found2);
        // `other` is the pool, or the heaps it spilled into.
        macro_rules! other {
            ($m:ident ( $($a:expr),* )) => {
                match spilled.as_mut() {
                    Some(h) => Beam::$m(h, $($a),*),
                    None => Beam::$m(&mut pool, $($a),*),
                }
            };
        }
        for st in steps {
            match *st {
                Step::Node(d, accepted) => {
                    let Some(c) = fresh(d) else { break };
                    let admitted = heaps.admits(c.dist);
                    prop_assert_eq!(admitted, other!(admits(c.dist)));
                    prop_assert!(!(admitted && c.dist.is_nan()));
                    if admitted {
                        heaps.push(c, accepted);
                        other!(push(c, accepted));
                    }
                }
                Step::Next => {
                    let (a, b) = (heaps.next(), other!(next()));
                    prop_assert_eq!(a, b);
                    if a.is_none() {
                        break;
                    }
                    if spilled.is_none() {
                        prop_assert!(pool.peek().is_none_or(|p| Some(p) == heaps.peek()));
                    }
                }
                Step::Spill => {
                    if spilled.is_none() {
                        let mut h = Heaps::default();
                        pool.spill_into(&mut h);
                        spilled = Some(h);
                    }
                }
            }
        }
        heaps.finish(&mut found);
        other!(finish(&mut found2));
        prop_assert_eq!(&found, &found2);
        prop_assert!(found.len() <= ef && found.is_sorted());
        Ok(())
    }

    proptest! {
        #![proptest_config(Config {
            cases: 512,
            rng_seed: RngSeed::Fixed(0xBEA_0001),
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn pool_walks_like_the_heaps(
            ef in 1usize..17,
            resume in prop::collection::vec(0..DISTANCES.len() - 1, 0..6),
            steps in prop::collection::vec(step(), 0..100),
            slots in Just((0..128u32).collect::<Vec<_>>()).prop_shuffle(),
        ) {
            same_walk(ef, &resume, &steps, &slots)?;
        }
    }
}
