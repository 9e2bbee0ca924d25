//! Bad input gets typed errors; corner cases of deletes and ids behave.

use edgevec_graph::{F32Store, GraphError, Hnsw, HnswParams, Metric, VectorStore};

fn index(dim: usize, metric: Metric) -> Hnsw {
    Hnsw::new_f32(dim, metric, HnswParams::default()).unwrap()
}

#[test]
fn empty_index_k_zero_and_k_above_len() {
    let mut h = index(3, Metric::L2);
    assert_eq!(h.search(&[0.0, 0.0, 0.0], 5).unwrap(), vec![]);
    assert_eq!(h.search(&[0.0, 0.0, 0.0], 0), Err(GraphError::ZeroK));
    h.insert(1, &[1.0, 0.0, 0.0]).unwrap();
    h.insert(2, &[0.0, 1.0, 0.0]).unwrap();
    assert_eq!(h.search(&[1.0, 0.0, 0.0], 0), Err(GraphError::ZeroK));
    let hits = h.search(&[1.0, 0.0, 0.0], 10).unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!((hits[0].id, hits[0].distance), (1, 0.0));
    assert_eq!((hits[1].id, hits[1].distance), (2, 2.0));
}

#[test]
fn wrong_dimensions_and_non_finite_values_are_rejected_everywhere() {
    let mut h = index(3, Metric::L2);
    let dim = GraphError::DimensionMismatch {
        expected: 3,
        found: 2,
    };
    assert_eq!(h.insert(1, &[1.0, 2.0]), Err(dim.clone()));
    assert_eq!(h.upsert(1, &[1.0, 2.0]), Err(dim.clone()));
    assert_eq!(h.search(&[1.0, 2.0], 1), Err(dim));
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let e = h.insert(1, &[0.0, bad, 0.0]).unwrap_err();
        assert!(
            matches!(e, GraphError::NonFinite { position: 1, .. }),
            "{e}"
        );
        assert!(h.search(&[bad, 0.0, 0.0], 1).is_err());
    }
    assert!(h.is_empty());
    assert_eq!(h.stats().slots, 0, "rejected vectors must not take a slot");
    // Messages say what to do.
    let msg = GraphError::DuplicateId(9).to_string();
    assert!(msg.contains("upsert"), "{msg}");
}

#[test]
fn cosine_rejects_zero_vectors_and_stores_normalized() {
    let mut h = index(2, Metric::Cosine);
    assert_eq!(h.insert(1, &[0.0, 0.0]), Err(GraphError::ZeroVector));
    assert_eq!(h.search(&[0.0, 0.0], 1), Err(GraphError::ZeroVector));
    h.insert(1, &[3.0, 4.0]).unwrap();
    h.insert(2, &[-4.0, 3.0]).unwrap();
    let hits = h.search(&[6.0, 8.0], 2).unwrap();
    assert_eq!(hits[0].id, 1);
    assert!(hits[0].distance.abs() < 1e-6);
    assert!((hits[1].distance - 1.0).abs() < 1e-6);
    assert_eq!(h.store().row(0), &[0.6, 0.8]);
}

#[test]
fn dot_metric_distance_is_the_negated_inner_product() {
    let mut h = index(2, Metric::Dot);
    h.insert(1, &[1.0, 0.0]).unwrap();
    h.insert(2, &[3.0, 0.0]).unwrap();
    let hits = h.search(&[2.0, 1.0], 2).unwrap();
    assert_eq!((hits[0].id, hits[0].distance), (2, -6.0));
    assert_eq!((hits[1].id, hits[1].distance), (1, -2.0));
}

#[test]
fn duplicate_ids_and_upsert() {
    let mut h = index(2, Metric::L2);
    h.insert(5, &[0.0, 0.0]).unwrap();
    assert_eq!(h.insert(5, &[1.0, 1.0]), Err(GraphError::DuplicateId(5)));
    assert_eq!(h.upsert(5, &[10.0, 10.0]), Ok(true));
    assert_eq!(h.upsert(6, &[0.0, 0.0]), Ok(false));
    assert_eq!(h.len(), 2);
    assert_eq!(h.deleted_len(), 1);
    let hits = h.search(&[10.0, 10.0], 2).unwrap();
    assert_eq!((hits[0].id, hits[0].distance), (5, 0.0));
    assert_eq!(hits[1].id, 6);
}

#[test]
fn deleting_the_entry_point_everything_and_reinserting() {
    let mut h = index(2, Metric::L2);
    for i in 0..200u64 {
        h.insert(i, &[i as f32, (i % 7) as f32]).unwrap();
    }
    // The first node is the root of the anchor tree; the entry point is the highest node.
    // Delete the first half (which includes early entry points), then check searches.
    for i in 0..100u64 {
        assert!(h.delete(i));
        assert!(!h.delete(i), "second delete of {i}");
    }
    assert!(!h.delete(1_000));
    let hits = h.search(&[0.0, 0.0], 10).unwrap();
    assert_eq!(hits.len(), 10);
    assert!(hits.iter().all(|n| n.id >= 100));
    for i in 100..200u64 {
        h.delete(i);
    }
    assert!(h.is_empty());
    assert_eq!(h.search(&[0.0, 0.0], 10).unwrap(), vec![]);
    // Re-insert a deleted id: a new vector under the old id.
    h.insert(3, &[50.0, 50.0]).unwrap();
    let hits = h.search(&[0.0, 0.0], 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, 3);
    assert_eq!(h.compact(), 200);
    assert_eq!(h.stats().slots, 1);
    assert_eq!(h.search(&[0.0, 0.0], 3).unwrap()[0].id, 3);
    // Compacting an index whose every vector is deleted leaves an empty, usable index.
    h.delete(3);
    assert_eq!(h.compact(), 1);
    assert_eq!(h.stats().slots, 0);
    h.insert(4, &[1.0, 1.0]).unwrap();
    assert_eq!(h.search(&[0.0, 0.0], 1).unwrap()[0].id, 4);
}

#[test]
fn batches_are_all_or_nothing() {
    let mut h = index(2, Metric::Cosine);
    h.insert(1, &[1.0, 0.0]).unwrap();
    let before = h.stats().slots;
    // Shape.
    assert!(matches!(
        h.insert_batch(&[2, 3], &[1.0, 2.0, 3.0], 1),
        Err(GraphError::BatchShape { .. })
    ));
    // Duplicate against the index, duplicate inside the batch, NaN, zero vector (the last one
    // is only found by the store, after earlier rows were added: they must be rolled back).
    let cases: [(&[u64], &[f32], usize); 4] = [
        (&[2, 1], &[1.0, 1.0, 2.0, 2.0], 1),
        (&[2, 2], &[1.0, 1.0, 2.0, 2.0], 1),
        (&[2, 3], &[1.0, 1.0, f32::NAN, 2.0], 1),
        (&[2, 3, 4], &[1.0, 1.0, 2.0, 2.0, 0.0, 0.0], 2),
    ];
    for (ids, rows, bad) in cases {
        let e = h.insert_batch(ids, rows, 2).unwrap_err();
        assert!(
            matches!(e, GraphError::BatchItem { index, .. } if index == bad),
            "{e}"
        );
        assert_eq!(h.len(), 1);
        assert_eq!(h.stats().slots, before);
        assert!(!h.contains(2));
    }
    h.insert_batch(&[2, 3], &[0.0, 1.0, 1.0, 1.0], 2).unwrap();
    assert_eq!(h.len(), 3);
    assert!(h.unreachable_ids().is_empty());
}

#[test]
fn invalid_parameters_are_rejected() {
    let bad = |p: HnswParams| Hnsw::new_f32(4, Metric::L2, p).unwrap_err();
    let d = HnswParams::default();
    assert!(matches!(
        bad(HnswParams { m: 1, ..d }),
        GraphError::InvalidParameter { name: "m", .. }
    ));
    assert!(matches!(
        bad(HnswParams { m: 129, ..d }),
        GraphError::InvalidParameter { name: "m", .. }
    ));
    assert!(matches!(
        bad(HnswParams {
            ef_construction: 0,
            ..d
        }),
        GraphError::InvalidParameter {
            name: "ef_construction",
            ..
        }
    ));
    assert!(matches!(
        Hnsw::new_f32(0, Metric::L2, d).unwrap_err(),
        GraphError::InvalidParameter {
            name: "dimensions",
            ..
        }
    ));
    let mut store = F32Store::new(2, Metric::L2).unwrap();
    store.push(&[1.0, 2.0]).unwrap();
    assert!(
        Hnsw::new(store, d).is_err(),
        "a new index needs an empty store"
    );
    let mut h = Hnsw::new_f32(4, Metric::L2, d).unwrap();
    assert!(h.set_ef_search(0).is_err());
    h.set_ef_search(300).unwrap();
    assert_eq!(h.params().ef_search, 300);
}

#[test]
fn filters_route_through_non_matching_nodes() {
    let mut h = index(1, Metric::L2);
    for i in 0..500u64 {
        h.insert(i, &[i as f32]).unwrap();
    }
    let even_above_400 = |id: u64| id.is_multiple_of(2) && id > 400;
    let hits = h.search_filtered(&[0.0], 5, &even_above_400).unwrap();
    assert_eq!(
        hits.iter().map(|n| n.id).collect::<Vec<_>>(),
        [402, 404, 406, 408, 410]
    );
    let none = h.search_filtered(&[0.0], 5, &|_| false).unwrap();
    assert!(none.is_empty());
}

#[test]
fn index_is_send_and_sync_and_searches_in_parallel() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Hnsw>();
    let mut h = index(4, Metric::L2);
    let rows: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.37).sin()).collect();
    let ids: Vec<u64> = (0..1000).collect();
    h.insert_batch(&ids, &rows, 2).unwrap();
    let expected = h.search(&rows[..4], 5).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..200 {
                    assert_eq!(h.search(&rows[..4], 5).unwrap(), expected);
                }
            });
        }
    });
}

/// Review finding: a search whose descent ends in a region that cannot reach the live nodes
/// (here: the far cluster, all deleted) must resume from the entry point, not come back short.
#[test]
fn searches_resume_from_the_entry_point_when_the_local_region_runs_dry() {
    let params = HnswParams {
        m: 4,
        ef_construction: 64,
        ef_search: 32,
        seed: 36,
    };
    for seed in 0..8u64 {
        let mut h = Hnsw::new_f32(
            4,
            Metric::L2,
            HnswParams {
                seed: seed + 30,
                ..params
            },
        )
        .unwrap();
        let mut rng = edgevec_testdata::Rng(seed);
        for i in 0..300u64 {
            let v: Vec<f32> = (0..4).map(|_| rng.unit().abs()).collect();
            h.insert(i, &v).unwrap();
        }
        for i in 300..3300u64 {
            let v: Vec<f32> = (0..4).map(|_| 1000.0 + rng.unit().abs()).collect();
            h.insert(i, &v).unwrap();
        }
        let near = |id: u64| id < 300;
        assert_eq!(
            h.search_filtered(&[1000.5; 4], 10, &near).unwrap().len(),
            10,
            "seed {seed}"
        );
        for i in 300..3300u64 {
            h.delete(i);
        }
        let hits = h.search(&[1000.5; 4], 10).unwrap();
        assert_eq!(hits.len(), 10, "seed {seed}");
        assert!(hits.iter().all(|n| n.id < 300));
    }
}

/// Review finding: with a tiny beam (ef_construction = 1) and M = 2, a new node's few
/// candidates can all have lists full of pinned edges; anchoring must still succeed.
#[test]
fn tiny_beams_still_anchor_every_node() {
    for seed in 0..10u64 {
        let params = HnswParams {
            m: 2,
            ef_construction: 1,
            ef_search: 1,
            seed,
        };
        let mut h = Hnsw::new_f32(2, Metric::L2, params).unwrap();
        let mut rng = edgevec_testdata::Rng(seed);
        for i in 0..400u64 {
            let v = [(rng.unit() * 2.0).round(), (rng.unit() * 2.0).round()];
            h.insert(i, &v).unwrap();
        }
        assert_eq!(h.stats().unanchored, 0, "seed {seed}");
        assert!(h.unreachable_ids().is_empty(), "seed {seed}");
        // ef above the live count: the search is exhaustive and must return everything.
        assert_eq!(
            h.search_with(&[0.0, 0.0], 400, 1000, None).unwrap().len(),
            400
        );
        for i in (0..400u64).step_by(3) {
            h.delete(i);
        }
        h.compact();
        assert_eq!(h.stats().unanchored, 0, "seed {seed} after compact");
        assert!(h.unreachable_ids().is_empty(), "seed {seed} after compact");
    }
}

#[test]
fn extreme_magnitudes_are_accepted_or_rejected_with_a_reason() {
    // Cosine: the norm is computed in f64, so huge and tiny vectors are valid directions.
    let mut c = index(2, Metric::Cosine);
    c.insert(1, &[1e20, 1e20]).unwrap();
    c.insert(2, &[1e-23, 0.0]).unwrap();
    let hits = c.search(&[3e19, 1.0], 2).unwrap();
    assert_eq!(hits[0].id, 2);
    assert!(hits.iter().all(|n| n.distance.is_finite()));
    // L2 and dot: vectors whose distances would overflow f32 are refused.
    for metric in [Metric::L2, Metric::Dot] {
        let mut h = index(2, metric);
        let e = h.insert(1, &[3e38, 3e38]).unwrap_err();
        assert!(matches!(e, GraphError::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("scale"), "{e}");
        assert!(matches!(
            h.search(&[1e19, 0.0], 1),
            Err(GraphError::TooLarge { .. })
        ));
        h.insert(2, &[1e17, -1e17]).unwrap();
        h.insert(3, &[-1e17, 1e17]).unwrap();
        let hits = h.search(&[1e17, 1e17], 2).unwrap();
        assert!(
            hits.iter().all(|n| n.distance.is_finite()),
            "{metric}: {hits:?}"
        );
    }
}

#[test]
fn absurd_thread_counts_are_capped() {
    let mut h = index(2, Metric::L2);
    let rows: Vec<f32> = (0..200).map(|i| i as f32).collect();
    let ids: Vec<u64> = (0..100).collect();
    h.insert_batch(&ids, &rows, usize::MAX).unwrap();
    assert_eq!(h.len(), 100);
    h.insert_batch(&[], &[], 4).unwrap();
    assert!(h.unreachable_ids().is_empty());
}

/// Found by the `graph_ops` fuzz target: with `ef` at least the node count a search is
/// exhaustive, yet on a weakly linked graph (M = 2, ef_construction = 1) the layer-0 walk from
/// where the descent ended could exhaust its region with fewer than `ef` (but at least `k`)
/// nodes and never look at nodes reachable only from the entry point.
#[test]
fn exhaustive_searches_are_exact_on_weakly_linked_graphs() {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 24) as f32 * 8.0 - 4.0
    };
    for case in 0..400 {
        let n = 5 + case % 20;
        let params = HnswParams {
            m: 2,
            ef_construction: 1,
            ef_search: 8,
            seed: case as u64,
        };
        let mut h = Hnsw::new_f32(2, Metric::L2, params).unwrap();
        let rows: Vec<f32> = (0..2 * n).map(|_| next()).collect();
        for (i, row) in rows.chunks(2).enumerate() {
            h.insert(i as u64, row).unwrap();
        }
        let q = [next(), next()];
        let k = 1 + case % 4;
        let mut exact: Vec<(f32, u64)> = rows
            .chunks(2)
            .enumerate()
            .map(|(i, r)| ((r[0] - q[0]).powi(2) + (r[1] - q[1]).powi(2), i as u64))
            .collect();
        exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let got = h.search_with(&q, k, n, None).unwrap();
        let want: Vec<f32> = exact.iter().take(k).map(|e| e.0).collect();
        let got_d: Vec<f32> = got.iter().map(|g| g.distance).collect();
        assert_eq!(got_d, want, "case {case}: n {n}, k {k}");
    }
}

#[test]
fn check_vector_reports_the_first_non_finite_component_at_any_length() {
    // The check computes the norm first and looks for the culprit only when the norm is not
    // finite: the position must still be the first bad one, past the eight-lane blocks too.
    for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
        for len in [1usize, 8, 9, 19, 384] {
            for first in [0, len / 2, len - 1] {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut v = vec![0.5f32; len];
                    v[first] = bad;
                    if first + 1 < len {
                        v[len - 1] = f32::NAN;
                    }
                    match edgevec_graph::check_vector(&v, len, metric) {
                        Err(GraphError::NonFinite { position, value }) => {
                            assert_eq!(position, first, "{metric:?} len {len}");
                            assert_eq!(value.to_bits(), bad.to_bits());
                        }
                        other => panic!("{metric:?} len {len} at {first}: {other:?}"),
                    }
                }
            }
        }
        // Components near f32::MAX are finite and so is their norm: refused as too large
        // (L2, dot) or accepted (cosine), never reported as non-finite.
        let huge = vec![f32::MAX; 19];
        let r = edgevec_graph::check_vector(&huge, 19, metric);
        match metric {
            Metric::Cosine => assert_eq!(r, Ok(())),
            _ => assert!(matches!(r, Err(GraphError::TooLarge { .. })), "{r:?}"),
        }
    }
}
