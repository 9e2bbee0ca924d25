//! Recall against an exact f32 oracle: code distances pick `k × oversample` candidates by brute
//! force (no graph), exact rescoring returns the top 10, compared with `exact_knn`.

use edgevec_quant::{
    Binary, BinaryConfig, Codes, I8Config, Metric, Quantizer, ScalarI8, ScalarU8, U8Config,
    U8Scaling, exact_distance, oversampled, rescore,
};
use edgevec_testdata::{Distance, embeddings, exact_knn, recall};

const DIM: usize = 96;
const BASE: usize = 4_000;
const QUERIES: usize = 40;
const K: usize = 10;

struct Data {
    base: Vec<f32>,
    queries: Vec<f32>,
}

fn data(normalize: bool) -> Data {
    let mut all = embeddings(7, BASE + QUERIES, DIM);
    if normalize {
        for row in all.chunks_exact_mut(DIM) {
            let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            row.iter_mut().for_each(|x| *x /= n);
        }
    }
    let queries = all.split_off(BASE * DIM);
    Data { base: all, queries }
}

fn distance(metric: Metric) -> Distance {
    match metric {
        Metric::L2 => Distance::L2,
        Metric::Cosine => Distance::Cosine,
        Metric::Dot => Distance::Dot,
    }
}

/// (recall of code distances alone, recall after rescoring `K × oversample` candidates), and
/// checks that the returned distances are the exact ones.
fn measure<Q: Quantizer>(q: &Q, d: &Data, oversample: f32) -> (f64, f64) {
    let metric = q.metric();
    let truth = exact_knn(distance(metric), &d.base, &d.queries, DIM, K, |_| true);
    let mut codes = Codes::new(q);
    for row in d.base.chunks_exact(DIM) {
        codes.push(q, row).unwrap();
    }
    let (mut raw, mut rescored) = (Vec::new(), Vec::new());
    for query in d.queries.chunks_exact(DIM) {
        let prepared = q.prepare(query).unwrap();
        let mut by_code: Vec<(f32, u32)> = (0..codes.len())
            .map(|i| (q.distance(&prepared, codes.get(i)), i as u32))
            .collect();
        by_code.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        raw.push(by_code[..K].iter().map(|c| u64::from(c.1)).collect());
        let cands = by_code[..oversampled(K, oversample)].iter().map(|c| c.1);
        let row = |i: u32| &d.base[i as usize * DIM..(i as usize + 1) * DIM];
        let top = rescore(cands, K, |i| Some(exact_distance(metric, query, row(i))));
        for (i, dist) in &top {
            assert_eq!(*dist, exact_distance(metric, query, row(*i)));
        }
        rescored.push(top.iter().map(|(i, _)| u64::from(*i)).collect());
    }
    (recall(&raw, &truth), recall(&rescored, &truth))
}

#[test]
fn u8_rescoring_recovers_the_exact_top_10() {
    let d = data(false);
    let sample = &d.base[..1_000 * DIM];
    for (metric, scaling) in [
        (Metric::L2, U8Scaling::Uniform),
        (Metric::L2, U8Scaling::PerDimension),
        (Metric::Cosine, U8Scaling::Uniform),
    ] {
        let q = ScalarU8::train(metric, DIM, sample, &U8Config { scaling, clip: 0.0 }).unwrap();
        let (raw, rescored) = measure(&q, &d, 4.0);
        println!("u8 {metric} {scaling:?}: codes {raw:.3}, rescored x4 {rescored:.3}");
        assert!(raw >= 0.80, "u8 {metric} {scaling:?} raw recall {raw}");
        assert!(
            rescored >= 0.99,
            "u8 {metric} {scaling:?} rescored recall {rescored}"
        );
    }
}

#[test]
fn i8_rescoring_recovers_the_exact_top_10_on_normalized_data() {
    let d = data(true);
    let sample = &d.base[..1_000 * DIM];
    for metric in [Metric::Cosine, Metric::Dot] {
        let q = ScalarI8::train(metric, DIM, sample, &I8Config::default()).unwrap();
        let (raw, rescored) = measure(&q, &d, 4.0);
        println!("i8 {metric}: codes {raw:.3}, rescored x4 {rescored:.3}");
        assert!(raw >= 0.80, "i8 {metric} raw recall {raw}");
        assert!(rescored >= 0.99, "i8 {metric} rescored recall {rescored}");
    }
}

#[test]
fn binary_with_rescoring_reaches_high_recall() {
    let d = data(true);
    let sample = &d.base[..1_000 * DIM];
    for metric in [Metric::Cosine, Metric::L2] {
        let q = Binary::train(metric, DIM, sample, &BinaryConfig::default()).unwrap();
        assert!(q.rotated());
        let (raw, rescored) = measure(&q, &d, 10.0);
        let plain = BinaryConfig {
            rotate: false,
            ..BinaryConfig::default()
        };
        let p = Binary::train(metric, DIM, sample, &plain).unwrap();
        let (plain_raw, plain_rescored) = measure(&p, &d, 10.0);
        println!(
            "binary {metric}: codes {raw:.3}, rescored x10 {rescored:.3}; \
             unrotated: codes {plain_raw:.3}, rescored x10 {plain_rescored:.3}"
        );
        assert!(
            rescored >= 0.90,
            "binary {metric} rescored recall {rescored}"
        );
        // The data's variance decays along the axes: rotating spreads it over every bit.
        assert!(
            raw > plain_raw && rescored >= plain_rescored,
            "rotation did not help: {raw} vs {plain_raw}, {rescored} vs {plain_rescored}"
        );
    }
}
