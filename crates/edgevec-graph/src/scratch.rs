//! Per-search working memory, reused across searches: a visited bitset cleared in O(1) by
//! generation counters, and the two heaps of the beam search.

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
    fn key(&self) -> u64 {
        let bits = self.dist.to_bits();
        // f32::total_cmp's mapping (negative values have their magnitude bits flipped), moved
        // to unsigned order by flipping the sign bit.
        let ordered = (bits ^ ((((bits as i32) >> 31) as u32) >> 1)) ^ 0x8000_0000;
        (u64::from(ordered) << 32) | u64::from(self.slot)
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

/// Everything one search needs besides the graph.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) visited: Visited,
    /// Nodes still to expand, nearest first.
    pub(crate) candidates: BinaryHeap<Reverse<Cand>>,
    /// The best accepted nodes so far, farthest on top.
    pub(crate) results: BinaryHeap<Cand>,
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
                            + (s.candidates.capacity() + s.results.capacity() + s.found.capacity())
                                * 8
                            + s.fresh.capacity() * 4
                    })
                    .sum::<usize>()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
