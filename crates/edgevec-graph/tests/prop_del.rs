//! PROP-DEL-001: random interleavings of insert / delete / upsert / search / compact, checked
//! against a model (a map of live ids to vectors) after every step:
//!
//! 1. no deleted id is ever returned (and every returned id is live, with its true distance);
//! 2. results are sorted and free of duplicates;
//! 3. every live node stays reachable from the entry point (tombstones included in the walk);
//! 4. `len()` equals the live count, `contains` agrees with the model;
//! 5. compaction preserves every live id and the searches keep finding them;
//! 6. a search returns min(k, live count) results (deletes never shrink result lists).

use std::collections::BTreeMap;

use edgevec_graph::{GraphError, Hnsw, HnswParams, Metric};
use edgevec_testdata::{Distance, Rng};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

#[derive(Debug, Clone)]
enum Op {
    Insert(u16),
    Delete(u16),
    Upsert(u16),
    Search(u8),
    Compact,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<u16>().prop_map(Op::Insert),
        4 => any::<u16>().prop_map(Op::Delete),
        2 => any::<u16>().prop_map(Op::Upsert),
        3 => (1u8..=40).prop_map(Op::Search),
        1 => Just(Op::Compact),
    ]
}

fn metric_distance(metric: Metric) -> Distance {
    match metric {
        Metric::L2 => Distance::L2,
        Metric::Cosine => Distance::Cosine,
        _ => Distance::Dot,
    }
}

struct World {
    h: Hnsw,
    model: BTreeMap<u64, Vec<f32>>,
    rng: Rng,
    dim: usize,
    id_space: u64,
    /// How vectors are drawn (see [`Layout`]).
    layout: Layout,
}

/// Data shapes that stress different parts of the graph.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// Uniform in [-1, 1)^d.
    Uniform,
    /// A coarse grid: duplicates and ties on purpose.
    Coarse,
    /// Two clusters 100 apart: a search that starts in one must still reach the other.
    TwoClusters,
}

impl World {
    fn vector(&mut self) -> Vec<f32> {
        loop {
            let far = matches!(self.layout, Layout::TwoClusters) && self.rng.below(2) == 0;
            let v: Vec<f32> = (0..self.dim)
                .map(|_| {
                    let x = self.rng.unit();
                    match self.layout {
                        Layout::Coarse => (x * 3.0).round(),
                        _ if far => x + 100.0,
                        _ => x,
                    }
                })
                .collect();
            // The cosine metric rejects zero vectors (checked separately below).
            if self.h.metric() != Metric::Cosine || v.iter().any(|x| *x != 0.0) {
                return v;
            }
        }
    }

    fn id(&self, pick: u16) -> u64 {
        u64::from(pick) % self.id_space
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Insert(p) => {
                let id = self.id(p);
                let v = self.vector();
                let r = self.h.insert(id, &v);
                match self.model.entry(id) {
                    std::collections::btree_map::Entry::Occupied(_) => {
                        prop_assert_eq!(r, Err(GraphError::DuplicateId(id)));
                    }
                    std::collections::btree_map::Entry::Vacant(e) => {
                        prop_assert_eq!(r, Ok(()));
                        e.insert(v);
                    }
                }
            }
            Op::Delete(p) => {
                let id = self.id(p);
                prop_assert_eq!(self.h.delete(id), self.model.remove(&id).is_some());
            }
            Op::Upsert(p) => {
                let id = self.id(p);
                let v = self.vector();
                let replaced = self
                    .h
                    .upsert(id, &v)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(replaced, self.model.insert(id, v).is_some());
            }
            Op::Search(k) => {
                let q = self.vector();
                self.check_search(&q, usize::from(k))?;
                // With fewer live vectors than ef the beam never fills, so the search is
                // exhaustive over everything reachable: a stored vector must come back at
                // distance 0 (or be crowded out of the top 10 by exact duplicates).
                let exhaustive = self.model.len() < 200;
                let self_nearest = matches!(self.h.metric(), Metric::L2 | Metric::Cosine);
                if let (true, true, Some((&id, v))) =
                    (exhaustive, self_nearest, self.model.iter().next())
                {
                    let v = v.clone();
                    let hits = self.h.search_with(&v, 10, 200, None).unwrap();
                    let found = hits.iter().any(|n| n.id == id);
                    let crowded = hits.len() == 10 && hits.iter().all(|n| n.distance <= 1e-6);
                    prop_assert!(
                        found || crowded,
                        "stored vector {} not found: {:?}",
                        id,
                        hits
                    );
                }
            }
            Op::Compact => {
                let before: Vec<u64> = self.model.keys().copied().collect();
                let tombstones = self.h.deleted_len();
                prop_assert_eq!(self.h.compact(), tombstones);
                prop_assert_eq!(self.h.deleted_len(), 0);
                for id in before {
                    prop_assert!(self.h.contains(id), "compaction lost id {}", id);
                }
            }
        }
        self.check_invariants()
    }

    fn check_search(&self, q: &[f32], k: usize) -> Result<(), TestCaseError> {
        let hits = self
            .h
            .search(q, k)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(hits.len(), k.min(self.model.len()), "result list shrank");
        let dist = metric_distance(self.h.metric());
        let mut seen = std::collections::HashSet::new();
        for w in hits.windows(2) {
            prop_assert!(
                w[0].distance < w[1].distance
                    || (w[0].distance == w[1].distance && w[0].id < w[1].id),
                "not sorted: {:?}",
                hits
            );
        }
        for n in &hits {
            prop_assert!(seen.insert(n.id), "duplicate id {} in {:?}", n.id, hits);
            let Some(v) = self.model.get(&n.id) else {
                return Err(TestCaseError::fail(format!(
                    "deleted or unknown id {} returned",
                    n.id
                )));
            };
            let want = dist.exact(q, v);
            let tol = 1e-4 * (1.0 + want.abs());
            prop_assert!(
                (f64::from(n.distance) - want).abs() <= tol,
                "id {}: distance {} but exact {}",
                n.id,
                n.distance,
                want
            );
        }
        Ok(())
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(self.h.len(), self.model.len());
        let unreachable = self.h.unreachable_ids();
        prop_assert!(
            unreachable.is_empty(),
            "unreachable live ids: {:?}",
            unreachable
        );
        prop_assert_eq!(self.h.stats().unanchored, 0);
        for id in 0..self.id_space.min(64) {
            prop_assert_eq!(self.h.contains(id), self.model.contains_key(&id));
        }
        Ok(())
    }
}

fn run(
    dim: usize,
    metric: Metric,
    m: usize,
    initial: usize,
    layout: Layout,
    seed: u64,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let params = HnswParams {
        m,
        ef_construction: 40,
        ef_search: 16,
        seed,
    };
    let mut w = World {
        h: Hnsw::new_f32(dim, metric, params).unwrap(),
        model: BTreeMap::new(),
        rng: Rng(seed),
        dim,
        id_space: (initial as u64 + 64).max(64),
        layout,
    };
    // Bulk part: a batch (sometimes on two threads), so the graph is large from the start.
    let ids: Vec<u64> = (0..initial as u64).collect();
    let rows: Vec<Vec<f32>> = (0..initial).map(|_| w.vector()).collect();
    let flat: Vec<f32> = rows.concat();
    w.h.insert_batch(&ids, &flat, if seed.is_multiple_of(2) { 1 } else { 2 })
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    w.model.extend(ids.into_iter().zip(rows));
    w.check_invariants()?;
    for op in ops {
        w.step(op)?;
    }
    // Finally delete nearly everything, search, compact, search again.
    let ids: Vec<u64> = w.model.keys().copied().collect();
    for id in ids.iter().skip(1) {
        w.step(&Op::Delete(*id as u16))?;
    }
    let q = w.vector();
    w.check_search(&q, 5)?;
    w.step(&Op::Compact)?;
    w.check_search(&q, 5)?;
    Ok(())
}

proptest! {
    #![proptest_config(Config {
        cases: 48,
        rng_seed: RngSeed::Fixed(0xDE1_001),
        failure_persistence: None,
        ..Config::default()
    })]

    /// PROP-DEL-001
    #[test]
    fn prop_del_001(
        dim in 2usize..=64,
        metric in prop::sample::select(vec![Metric::L2, Metric::Cosine, Metric::Dot]),
        m in 2usize..=12,
        initial in prop::sample::select(vec![0usize, 1, 5, 50, 300, 2000]),
        layout in prop::sample::select(vec![Layout::Uniform, Layout::Coarse, Layout::TwoClusters]),
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 0..150),
    ) {
        run(dim, metric, m, initial, layout, seed, &ops)?;
    }
}
