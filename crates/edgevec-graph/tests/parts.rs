//! `to_parts` / `from_parts`: a round trip gives the same graph; damaged parts are refused
//! with a typed error, never a panic and never a graph that could misbehave later.

use edgevec_graph::{F32Store, GraphError, GraphParts, Hnsw, HnswParams, Metric};
use edgevec_testdata::clustered;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn params() -> HnswParams {
    HnswParams {
        m: 6,
        ef_construction: 40,
        ef_search: 32,
        seed: 9,
    }
}

fn sample() -> (Hnsw, Vec<f32>) {
    let dim = 5;
    let rows = clustered(1, 400, dim, 5, 1.0, 4.0);
    let mut h = Hnsw::new_f32(dim, Metric::L2, params()).unwrap();
    let ids: Vec<u64> = (0..400).map(|i| i * 7 + 3).collect();
    h.insert_batch(&ids, &rows, 1).unwrap();
    for id in ids.iter().step_by(5) {
        h.delete(*id);
    }
    (h, rows)
}

fn reopen(h: &Hnsw, parts: GraphParts) -> Result<Hnsw, GraphError> {
    let store = F32Store::from_rows(h.dim(), h.metric(), h.store().rows().to_vec())?;
    Hnsw::from_parts(store, *h.params(), parts)
}

#[test]
fn round_trip_keeps_every_answer_and_the_level_sequence() {
    let (h, rows) = sample();
    let mut back = reopen(&h, h.to_parts()).unwrap();
    assert_eq!(back.to_parts(), h.to_parts());
    // A loaded graph keeps layer 0 packed (smaller) until it changes.
    assert!(back.stats().packed_layer0 && !h.stats().packed_layer0);
    assert!(back.stats().graph_bytes < h.stats().graph_bytes * 3 / 4);
    assert_eq!((back.len(), back.deleted_len()), (h.len(), h.deleted_len()));
    for q in rows.chunks_exact(5).take(50) {
        assert_eq!(back.search(q, 10).unwrap(), h.search(q, 10).unwrap());
    }
    assert!(back.unreachable_ids().is_empty());
    // Inserting after reopening continues the same level sequence as the original would.
    let mut orig = h;
    orig.insert(1_000_000, &[0.5; 5]).unwrap();
    back.insert(1_000_000, &[0.5; 5]).unwrap();
    assert!(!back.stats().packed_layer0);
    assert_eq!(back.to_parts(), orig.to_parts());
}

#[test]
fn a_packed_graph_changes_like_the_one_it_was_saved_from() {
    // Each change, applied to the built graph and to a copy loaded from its parts (packed),
    // gives the same graph: every change path thaws layer 0 before it writes.
    type Change = fn(&mut Hnsw);
    let changes: [(&str, Change); 4] = [
        ("compact", |g| assert_eq!(g.compact(), 80)),
        ("upsert", |g| assert!(g.upsert(10, &[0.25; 5]).unwrap())),
        ("batch", |g| {
            g.insert_batch(&[1, 2, 4], &[0.5; 15], 1).unwrap()
        }),
        ("delete, then compact", |g| {
            assert!(g.delete(17));
            g.compact();
        }),
    ];
    for (what, change) in changes {
        let (mut orig, rows) = sample();
        let mut back = reopen(&orig, orig.to_parts()).unwrap();
        assert!(back.stats().packed_layer0, "{what}");
        change(&mut orig);
        change(&mut back);
        assert!(!back.stats().packed_layer0, "{what}");
        assert_eq!(back.to_parts(), orig.to_parts(), "{what}");
        for q in rows.chunks_exact(5).take(20) {
            assert_eq!(
                back.search(q, 10).unwrap(),
                orig.search(q, 10).unwrap(),
                "{what}"
            );
        }
    }
    // A parallel batch is not deterministic: the loaded copy thaws and stays whole.
    let (h, rows) = sample();
    let mut back = reopen(&h, h.to_parts()).unwrap();
    let ids: Vec<u64> = (0..200).map(|i| 10_000 + i).collect();
    back.insert_batch(&ids, &rows[..200 * 5], 2).unwrap();
    assert!(!back.stats().packed_layer0);
    assert!(back.unreachable_ids().is_empty());
    // Deleting only touches the ids: the lists stay packed.
    let mut back = reopen(&h, h.to_parts()).unwrap();
    assert!(back.delete(10) && back.stats().packed_layer0);
}

#[test]
fn inconsistent_parts_are_refused() {
    let (h, _) = sample();
    let good = h.to_parts();
    let mut cases: Vec<(&str, GraphParts)> = Vec::new();
    let mut p = good.clone();
    p.m = 7;
    cases.push(("m", p));
    let mut p = good.clone();
    p.levels.pop();
    cases.push(("levels length", p));
    let mut p = good.clone();
    p.lists[1] = 400; // a neighbour slot out of range
    cases.push(("slot range", p));
    let mut p = good.clone();
    p.lists[0] = 13; // more than 2M on layer 0
    cases.push(("count", p));
    let mut p = good.clone();
    p.lists.push(0);
    cases.push(("trailing words", p));
    let mut p = good.clone();
    p.lists.truncate(p.lists.len() - 1);
    cases.push(("short lists", p));
    let mut p = good.clone();
    p.entry = Some(399);
    cases.push(("entry", p));
    let mut p = good.clone();
    p.anchors[3] = 5_000;
    cases.push(("anchor", p));
    let mut p = good.clone();
    p.ids[1] = p.ids[2];
    p.deleted[1] = false;
    p.deleted[2] = false;
    cases.push(("duplicate live id", p));
    let mut p = good.clone();
    p.levels[0] = 200;
    cases.push(("level", p));
    for (what, parts) in cases {
        let e = reopen(&h, parts).unwrap_err();
        assert!(matches!(e, GraphError::InvalidParts(_)), "{what}: {e}");
    }
    assert!(matches!(
        F32Store::from_rows(5, Metric::L2, vec![0.0; 7]),
        Err(GraphError::InvalidParts(_))
    ));
    assert!(matches!(
        F32Store::from_rows(1, Metric::L2, vec![f32::NAN]),
        Err(GraphError::NonFinite { .. })
    ));
}

proptest! {
    #![proptest_config(Config { cases: 256, rng_seed: RngSeed::Fixed(7), failure_persistence: None, ..Config::default() })]

    /// Any word of the lists changed to any value: refused, or accepted as a graph whose every
    /// search still works (a changed neighbour id that is in range is legitimate data).
    #[test]
    fn mutated_lists_never_panic(index in any::<prop::sample::Index>(), value in any::<u32>()) {
        let (h, rows) = sample();
        let mut parts = h.to_parts();
        let i = index.index(parts.lists.len());
        parts.lists[i] = value;
        if let Ok(g) = reopen(&h, parts) {
            for q in rows.chunks_exact(5).take(5) {
                let hits = g.search(q, 10).unwrap();
                prop_assert!(hits.len() <= 10);
            }
        }
    }
}
