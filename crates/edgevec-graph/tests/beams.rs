//! The two beams of a layer search give the same answers end to end: a search without a filter
//! (the sorted pool, spilling into heaps when it grows long) against the same search with a
//! filter that accepts everything (the heaps from the start). On a grid with duplicate points,
//! so that ties in distance are everywhere; with a block of tombstones below the quarter that
//! switches whole searches to the heaps (queries inside it make the pool long); with `ef` past
//! the pool's limit; and with `k` above the live count (the search resumes from the entry
//! point).

use edgevec_graph::{Hnsw, HnswParams, Metric, Neighbor};

/// A 40 × 40 grid of integer points in the plane, each stored twice (ids `2i` and `2i + 1`).
fn grid() -> Hnsw {
    let mut h = Hnsw::new_f32(2, Metric::L2, HnswParams::default()).unwrap();
    for i in 0..1600u64 {
        let p = [(i % 40) as f32, (i / 40) as f32];
        h.insert(2 * i, &p).unwrap();
        h.insert(2 * i + 1, &p).unwrap();
    }
    h
}

fn both(h: &Hnsw, q: &[f32], k: usize, ef: usize) -> (Vec<Neighbor>, Vec<Neighbor>) {
    let all = |_: u64| true;
    (
        h.search_with(q, k, ef, None).unwrap(),
        h.search_with(q, k, ef, Some(&all)).unwrap(),
    )
}

fn queries() -> impl Iterator<Item = [f32; 2]> {
    // On grid points (exact duplicates), between them (ties by symmetry) and off the grid.
    (0..60).map(|i| {
        let t = i as f32;
        [(t * 0.65) % 41.0 - 0.5, (t * 1.5) % 40.0]
    })
}

#[test]
fn pool_and_heaps_answer_alike() {
    let mut h = grid();
    for q in queries() {
        for (k, ef) in [(1, 16), (10, 16), (10, 64), (50, 128), (10, 1500)] {
            let (pool, heaps) = both(&h, &q, k, ef);
            assert_eq!(pool, heaps, "query {q:?}, k {k}, ef {ef}");
            assert_eq!(pool.len(), k);
        }
    }
    // 20% of the points deleted in one block (columns 0..8): fewer than a quarter, so a search
    // without a filter starts on the pool, and one inside the block meets hundreds of
    // tombstones nearer than its results.
    for i in 0..1600u64 {
        if i % 40 < 8 {
            assert!(h.delete(2 * i) && h.delete(2 * i + 1));
        }
    }
    assert!(h.deleted_len() * 4 < 3200);
    for q in queries() {
        for (k, ef) in [(10, 16), (10, 64), (40, 128)] {
            let (pool, heaps) = both(&h, &q, k, ef);
            assert_eq!(pool, heaps, "after deletes: query {q:?}, k {k}, ef {ef}");
            assert_eq!(pool.len(), k);
        }
    }
}

#[test]
fn pool_and_heaps_answer_alike_when_k_exceeds_the_live_count() {
    let mut h = Hnsw::new_f32(2, Metric::L2, HnswParams::default()).unwrap();
    for i in 0..30u64 {
        h.insert(i, &[(i % 5) as f32, (i / 10) as f32]).unwrap();
    }
    for i in 0..5u64 {
        assert!(h.delete(i * 3));
    }
    for q in queries() {
        let (pool, heaps) = both(&h, &q, 40, 16);
        assert_eq!(pool, heaps, "query {q:?}");
        assert_eq!(pool.len(), 25);
    }
}
