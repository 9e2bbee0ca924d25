//! Helpers shared by the index-level fuzz targets (`#[path]`-included, so each target uses
//! only part of it).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use edgevec::{Index, Metric, SearchParams};

/// What an index holds, compared exactly: every live id with its vector's bits, and the counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contents {
    pub dim: usize,
    pub len: usize,
    pub deleted: usize,
    pub vectors: BTreeMap<u64, Vec<u32>>,
}

/// f32 values as bits, so that equality is exact (and `-0.0 != 0.0`).
pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The contents of `index`, read through `ids()` and `get()`; checks that the two agree with
/// `len()` and `contains()`.
pub fn contents(index: &Index) -> Contents {
    let ids = index.ids();
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "ids() lists an id twice");
    assert_eq!(ids.len(), index.len(), "ids() and len() disagree");
    let dim = index.dimensions();
    let mut vectors = BTreeMap::new();
    for id in ids {
        assert!(
            index.contains(id),
            "ids() lists {id}, which contains() denies"
        );
        let v = index.get(id).expect("a live id has a vector");
        assert_eq!(v.len(), dim);
        vectors.insert(id, bits(&v));
    }
    Contents {
        dim,
        len: index.len(),
        deleted: index.deleted_len(),
        vectors,
    }
}

/// A state as a model holds it (id → vector), as `Contents::vectors` would list it.
pub fn model_vectors(model: &BTreeMap<u64, Vec<f32>>) -> BTreeMap<u64, Vec<u32>> {
    model.iter().map(|(id, v)| (*id, bits(v))).collect()
}

/// Searches `index` with `query` for k = 1, 2 and 10, with and without a filter and with the
/// narrowest beam: never a panic, at most k results, no duplicates, only live ids (and only ids the
/// filter accepts). Returns whether every search succeeded.
pub fn check_searches(index: &Index, query: &[f32]) -> bool {
    let even = |id: u64| id.is_multiple_of(2);
    let mut ok = true;
    for k in [1, 2, 10] {
        for (params, filtered) in [
            (SearchParams::new(k), false),
            (SearchParams::new(k).ef(1), false),
            (SearchParams::new(k).filter(&even), true),
        ] {
            match index.search_with(query, params) {
                Ok(hits) => {
                    assert!(hits.len() <= k, "{} hits for k = {k}", hits.len());
                    let mut seen = BTreeSet::new();
                    for h in &hits {
                        assert!(index.contains(h.id), "search returned {}, not live", h.id);
                        assert!(seen.insert(h.id), "search returned {} twice", h.id);
                        assert!(!filtered || even(h.id), "the filter let {} through", h.id);
                    }
                }
                Err(_) => ok = false,
            }
        }
    }
    ok
}

/// Everything a successfully opened index must survive: its listings agree, searches with a
/// valid query succeed and return only live ids, and what it saves opens again to the same
/// contents. Returns the contents.
pub fn check_sane(index: &Index) -> Contents {
    let c = contents(index);
    let dim = index.dimensions();
    // A query every metric accepts (finite, non-zero, small norm).
    let ones = vec![1.0f32; dim];
    assert!(check_searches(index, &ones), "a valid query failed");
    // A stored vector as the query, when the graph layer would accept it as one.
    if let Some((&id, _)) = c.vectors.iter().next() {
        let v = index.get(id).expect("live");
        let valid = edgevec::graph::check_vector(&v, dim, index.metric()).is_ok();
        let searched = check_searches(index, &v);
        assert!(
            !valid || searched,
            "searching for stored vector {id} failed"
        );
    }
    // Saving and opening again gives the same contents.
    let bytes = index.to_bytes().expect("an open index saves");
    let back = Index::from_bytes(&bytes).expect("an index opens what it saved");
    assert_eq!(contents(&back), c, "save + open changed the contents");
    assert_eq!(back.metric(), index.metric());
    assert_eq!(back.quantization(), index.quantization());
    c
}

/// The metric of a tag (for fuzz inputs).
pub fn metric(tag: u8) -> Metric {
    match tag % 3 {
        0 => Metric::L2,
        1 => Metric::Cosine,
        _ => Metric::Dot,
    }
}

/// A small deterministic generator (splitmix64), for reproducible data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Integer-valued components in -8..=8, never an all-zero vector.
    pub fn vector(&mut self, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim).map(|_| (self.next() % 17) as f32 - 8.0).collect();
        if v.iter().all(|x| *x == 0.0) {
            v[0] = 1.0;
        }
        v
    }
}
