//! The facade end to end: every quantization against the exact f32 oracle, the switch from
//! exact search to the graph when a codec is trained, deletes and compaction on codes.

use edgevec::{Error, Index, MAX_OVERSAMPLE, Metric, Quantization, SearchParams};
use edgevec_testdata::{Distance, clustered, exact_knn, recall};

fn data(seed: u64, n: usize, nq: usize, dim: usize) -> (Vec<f32>, Vec<f32>) {
    let mut all = clustered(seed, n + nq, dim, 20, 1.0, 16.0);
    let q = all.split_off(n * dim);
    (all, q)
}

fn distance(m: Metric) -> Distance {
    match m {
        Metric::L2 => Distance::L2,
        Metric::Cosine => Distance::Cosine,
        Metric::Dot => Distance::Dot,
    }
}

fn build(metric: Metric, quantization: Quantization, base: &[f32], dim: usize) -> Index {
    let mut index = Index::builder()
        .dimensions(dim)
        .metric(metric)
        .quantization(quantization)
        .seed(3)
        .threads(1)
        .build()
        .unwrap();
    let ids: Vec<u64> = (0..(base.len() / dim) as u64).collect();
    index.insert_batch(&ids, base).unwrap();
    index
}

/// Results hold what they return: a caller that keeps many of them (the CLI keeps every answer
/// for its output file) must not keep the beam or the rescored candidates too. A binary index
/// rescores k × 40 candidates and used to return each answer in a 400-entry allocation.
#[test]
fn results_hold_only_what_they_return() {
    let dim = 16;
    let (base, queries) = data(11, 2_000, 20, dim);
    for q in [Quantization::None, Quantization::U8, Quantization::Binary] {
        let metric = if q == Quantization::U8 {
            Metric::L2
        } else {
            Metric::Cosine
        };
        let index = build(metric, q, &base, dim);
        for query in queries.chunks_exact(dim) {
            let hits = index
                .search_with(query, SearchParams::new(10).ef(300))
                .unwrap();
            assert_eq!(hits.len(), 10);
            assert!(hits.capacity() <= 16, "{q:?}: capacity {}", hits.capacity());
        }
    }
}

fn measure(index: &Index, base: &[f32], queries: &[f32], ef: usize) -> f64 {
    measure_with(index, base, queries, SearchParams::new(10).ef(ef))
}

fn measure_with(index: &Index, base: &[f32], queries: &[f32], params: SearchParams) -> f64 {
    let dim = index.dimensions();
    let truth = exact_knn(distance(index.metric()), base, queries, dim, 10, |_| true);
    let found: Vec<Vec<u64>> = queries
        .chunks_exact(dim)
        .map(|q| {
            let hits = index.search_with(q, params).unwrap();
            // Distances are the exact ones, not code distances.
            for h in &hits {
                let row = &base[h.id as usize * dim..(h.id as usize + 1) * dim];
                let exact = distance(index.metric()).exact(q, row);
                assert!(
                    (f64::from(h.distance) - exact).abs() <= 1e-4 * (1.0 + exact.abs()),
                    "id {}: returned {} but exact {}",
                    h.id,
                    h.distance,
                    exact
                );
            }
            hits.into_iter().map(|h| h.id).collect()
        })
        .collect();
    recall(&found, &truth)
}

/// A search can set its own rescoring factor. With the same beam (ef 400), sign bits ranked
/// alone (oversample 1: only the 10 returned are rescored) find far fewer true neighbours than
/// the index's default ×40, and the default is what a search without the override gets.
#[test]
fn a_search_can_override_the_rescoring_factor() {
    let dim = 32;
    let (base, queries) = data(5, 3_000, 50, dim);
    let index = build(Metric::Cosine, Quantization::Binary, &base, dim);
    let with = |o: Option<f32>| {
        let p = SearchParams::new(10).ef(400);
        measure_with(&index, &base, &queries, o.map_or(p, |o| p.oversample(o)))
    };
    let (default, explicit, one) = (with(None), with(Some(index.oversample())), with(Some(1.0)));
    println!("binary: recall@10 default {default:.4}, x1 {one:.4}");
    assert_eq!(default, explicit);
    assert!(default >= 0.9, "{default}");
    assert!(one < default - 0.2, "x1 {one} vs default {default}");
}

/// The rescoring factor may be fractional: `⌈k × factor⌉` candidates are rescored. Below 1,
/// above `MAX_OVERSAMPLE` or not a number is a typed error, from the builder and from a search.
#[test]
fn the_rescoring_factor_is_checked_and_may_be_fractional() {
    let dim = 8;
    let (base, queries) = data(6, 2000, 40, dim);
    let index = build(Metric::L2, Quantization::U8, &base, dim);
    assert_eq!(index.oversample(), 1.5, "u8's default");
    for bad in [
        0.0,
        0.999,
        -2.0,
        f32::NAN,
        f32::INFINITY,
        MAX_OVERSAMPLE + 1.0,
    ] {
        let built = Index::builder().dimensions(dim).oversample(bad).build();
        assert!(
            matches!(
                built,
                Err(Error::InvalidSetting {
                    name: "oversample",
                    ..
                })
            ),
            "{bad}: {built:?}"
        );
        let q = &queries[..dim];
        let searched = index.search_with(q, SearchParams::new(10).oversample(bad));
        assert!(
            matches!(
                searched,
                Err(Error::InvalidSetting {
                    name: "oversample",
                    ..
                })
            ),
            "{bad}: {searched:?}"
        );
    }
    for (factor, kept) in [
        (1.0, 1.0),
        (1.25, 1.25),
        (1.0004, 1.0),
        (2.0006, 2.001),
        (1000.0, 1000.0),
    ] {
        let built = Index::builder()
            .dimensions(dim)
            .oversample(factor)
            .build()
            .unwrap();
        assert_eq!(built.oversample(), kept, "{factor}");
    }
    // At one beam the candidates are the same list, so rescoring more of it never ends farther:
    // per query the 10 distances add up to no more with x1.5 than with x1, nor with x2 than with
    // x1.5. And x1.5 rescores more than x1 (15, not 10): strictly better on some query.
    let sum = |q: &[f32], f: f32| -> f32 {
        let hits = index
            .search_with(q, SearchParams::new(10).ef(64).oversample(f))
            .unwrap();
        assert_eq!(hits.len(), 10);
        hits.iter().map(|h| h.distance).sum()
    };
    let mut better = 0;
    for q in queries.chunks_exact(dim) {
        let (one, half, two) = (sum(q, 1.0), sum(q, 1.5), sum(q, 2.0));
        assert!(half <= one && two <= half, "{one} {half} {two}");
        better += usize::from(half < one);
    }
    assert!(better > 0, "x1.5 found nothing x1 did not");
}

#[test]
fn quantized_search_with_rescoring_matches_f32_recall() {
    let dim = 64;
    let (base, queries) = data(1, 6_000, 100, dim);
    for metric in [Metric::L2, Metric::Cosine] {
        let reference = measure(
            &build(metric, Quantization::None, &base, dim),
            &base,
            &queries,
            64,
        );
        for q in [Quantization::U8, Quantization::I8] {
            let index = build(metric, q, &base, dim);
            assert!(index.stats().graph_built);
            assert!(index.stats().code_bytes > 0);
            let r = measure(&index, &base, &queries, 64);
            println!("{metric} {q}: recall@10 {r:.4} (f32 {reference:.4})");
            assert!(
                r >= reference - 0.01,
                "{metric} {q}: {r} vs f32 {reference}"
            );
        }
        let binary = measure(
            &build(metric, Quantization::Binary, &base, dim),
            &base,
            &queries,
            64,
        );
        // One bit per dimension at 64-d keeps little information; 20x oversampling recovers
        // most of it (the issue's >= 0.90 target is for 768-d, measured by the benchmarks).
        println!("{metric} binary: recall@10 {binary:.4}");
        assert!(binary >= 0.85, "{metric} binary: {binary}");
    }
    let dot = measure(
        &build(Metric::Dot, Quantization::I8, &base, dim),
        &base,
        &queries,
        64,
    );
    println!("dot i8: recall@10 {dot:.4}");
    assert!(dot >= 0.90);
}

#[test]
fn a_quantized_index_searches_exactly_until_it_trains() {
    let dim = 8;
    let (base, queries) = data(2, 300, 5, dim);
    let mut index = Index::builder()
        .dimensions(dim)
        .quantization(Quantization::U8)
        .train_size(100)
        .threads(1)
        .build()
        .unwrap();
    let rows: Vec<&[f32]> = base.chunks_exact(dim).collect();
    for (i, r) in rows.iter().enumerate().take(99) {
        index.insert(i as u64, r).unwrap();
    }
    assert!(!index.stats().graph_built);
    // Pending vectors: exact search, deletes, upserts, duplicates.
    assert!(index.delete(5).unwrap());
    assert!(!index.delete(5).unwrap());
    assert!(index.upsert(6, rows[7]).unwrap());
    assert!(matches!(index.insert(6, rows[6]), Err(Error::Graph(_))));
    let hits = index.search(rows[7], 2).unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [6, 7]);
    assert_eq!(hits[0].distance, 0.0);
    // The 100th vector trains the codec and builds the graph with everything collected.
    index.insert(99, rows[99]).unwrap();
    index.insert(5, rows[5]).unwrap();
    assert!(index.stats().graph_built);
    assert_eq!(index.len(), 100);
    let hits = index.search(rows[7], 2).unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [6, 7]);
    // A batch reaching the threshold trains on the whole batch.
    let mut batch = Index::builder()
        .dimensions(dim)
        .quantization(Quantization::I8)
        .train_size(200)
        .build()
        .unwrap();
    let ids: Vec<u64> = (0..300).collect();
    batch.insert_batch(&ids[..50], &base[..50 * dim]).unwrap();
    assert!(!batch.stats().graph_built);
    assert!(
        batch
            .insert_batch(&ids[40..60], &base[40 * dim..60 * dim])
            .is_err()
    );
    assert_eq!(batch.len(), 50, "a rejected batch changes nothing");
    batch.insert_batch(&ids[50..], &base[50 * dim..]).unwrap();
    assert!(batch.stats().graph_built);
    assert_eq!(batch.len(), 300);
    for q in queries.chunks_exact(dim) {
        assert_eq!(batch.search(q, 5).unwrap().len(), 5);
    }
}

#[test]
fn deletes_and_compaction_on_codes() {
    let dim = 16;
    let (base, queries) = data(3, 2_000, 20, dim);
    let mut index = build(Metric::L2, Quantization::U8, &base, dim);
    for id in (0..2_000u64).filter(|i| i.is_multiple_of(3)) {
        assert!(index.delete(id).unwrap());
    }
    let removed = index.deleted_len();
    assert_eq!(index.compact().unwrap(), removed);
    assert_eq!(index.len(), 2_000 - removed);
    let keep = |id: u32| !id.is_multiple_of(3);
    let truth = exact_knn(Distance::L2, &base, &queries, dim, 10, keep);
    let found: Vec<Vec<u64>> = queries
        .chunks_exact(dim)
        .map(|q| {
            index
                .search(q, 10)
                .unwrap()
                .into_iter()
                .map(|h| h.id)
                .collect()
        })
        .collect();
    assert!(found.iter().flatten().all(|id| !id.is_multiple_of(3)));
    let r = recall(&found, &truth);
    assert!(r >= 0.95, "recall after compaction {r}");
}

#[test]
fn bad_input_is_a_typed_error() {
    let mut index = Index::builder().dimensions(3).build().unwrap();
    assert!(matches!(index.insert(1, &[1.0, 2.0]), Err(Error::Graph(_))));
    assert!(matches!(
        index.insert(1, &[1.0, f32::NAN, 2.0]),
        Err(Error::Graph(_))
    ));
    index.insert(1, &[1.0, 2.0, 3.0]).unwrap();
    assert!(index.search(&[1.0, 2.0, 3.0], 0).is_err());
    assert!(index.search(&[1.0, 2.0], 1).is_err());
    let msg = index.insert(1, &[0.0; 3]).unwrap_err().to_string();
    assert!(msg.contains("upsert"), "{msg}");
}
