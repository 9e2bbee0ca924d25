//! Per-search working memory, reused across searches: a visited set cleared in O(1) by a
//! generation counter, and the two heaps of the beam search.

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
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then(self.slot.cmp(&other.slot))
    }
}

/// Visited marks: slot `i` is visited when `marks[i] == generation`. Starting a new search
/// bumps the generation instead of clearing the array; the array is zeroed only when the
/// counter wraps.
#[derive(Debug, Default)]
pub(crate) struct Visited {
    marks: Vec<u32>,
    generation: u32,
}

impl Visited {
    /// Starts a new search over `n` slots.
    pub(crate) fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.generation = 1;
        }
    }

    /// Whether `slot` was marked in this search.
    #[inline]
    pub(crate) fn is_marked(&self, slot: u32) -> bool {
        self.marks.get(slot as usize) == Some(&self.generation)
    }

    /// Marks `slot`; returns whether it was already marked in this search.
    #[inline]
    pub(crate) fn check_and_mark(&mut self, slot: u32) -> bool {
        let m = &mut self.marks[slot as usize];
        let seen = *m == self.generation;
        *m = self.generation;
        seen
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
    /// A neighbour list copied out of the graph.
    pub(crate) neighbors: Vec<u32>,
    /// The not-yet-visited part of a neighbour list.
    pub(crate) fresh: Vec<u32>,
    /// The result of the last layer search, nearest first.
    pub(crate) found: Vec<Cand>,
}

/// A pool of [`Scratch`]es so that concurrent searches do not allocate. At most
/// [`ScratchPool::KEEP`] are kept between uses (each holds 4 bytes per slot of visited marks).
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
        if let Ok(mut v) = self.free.lock() {
            v.clear();
        }
    }

    /// Bytes held by pooled scratches.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.free.lock().map_or(0, |v| {
            v.iter()
                .map(|s| {
                    s.visited.marks.capacity() * 4
                        + (s.candidates.capacity() + s.results.capacity() + s.found.capacity()) * 8
                        + s.neighbors.capacity() * 4
                })
                .sum()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_clear_marks_and_survive_wrapping() {
        let mut v = Visited::default();
        v.reset(4);
        assert!(!v.check_and_mark(2));
        assert!(v.check_and_mark(2));
        v.reset(4);
        assert!(!v.check_and_mark(2));
        v.generation = u32::MAX;
        v.reset(6);
        assert_eq!(v.generation, 1);
        assert!(!v.check_and_mark(5));
        assert!(!v.check_and_mark(2));
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
