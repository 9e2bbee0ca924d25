//! Ranking quality and distance throughput of the codecs, brute force over codes (no graph).
//!
//! ```text
//! cargo run --release -p edgevec-quant --example quant_report            # n = 20000
//! cargo run --release -p edgevec-quant --example quant_report -- 5000     # smaller n
//! ```
//!
//! For each data set: recall@10 of code distances alone, and after exact rescoring of the top
//! `10 × oversample` candidates, against the exact f32 oracle. Then nanoseconds per distance
//! (prepared query → code) at 768-d for f32 and each codec, over a set of rows larger than L2.
//! Timings are one run on a shared machine: read them as ratios.

use std::hint::black_box;
use std::time::Instant;

use edgevec_quant::{
    Binary, BinaryConfig, Codes, I8Config, Metric, Quantizer, ScalarI8, ScalarU8, U8Config,
    U8Scaling, exact_distance, oversampled, rescore,
};
use edgevec_testdata::{Distance, clustered, embeddings, exact_knn, recall};

const K: usize = 10;
const QUERIES: usize = 100;

struct Set {
    name: &'static str,
    dim: usize,
    base: Vec<f32>,
    queries: Vec<f32>,
}

fn split(name: &'static str, dim: usize, mut all: Vec<f32>, n: usize) -> Set {
    let queries = all.split_off(n * dim);
    Set {
        name,
        dim,
        base: all,
        queries,
    }
}

fn normalize(mut v: Vec<f32>, dim: usize) -> Vec<f32> {
    for row in v.chunks_exact_mut(dim) {
        let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= n);
    }
    v
}

/// Recall@10 of codes alone and after rescoring with each oversampling factor.
fn evaluate<Q: Quantizer>(q: &Q, set: &Set, factors: &[usize]) -> (f64, Vec<f64>) {
    let dim = set.dim;
    let metric = q.metric();
    let dist = match metric {
        Metric::L2 => Distance::L2,
        Metric::Cosine => Distance::Cosine,
        Metric::Dot => Distance::Dot,
    };
    let truth = exact_knn(dist, &set.base, &set.queries, dim, K, |_| true);
    let mut codes = Codes::new(q);
    for row in set.base.chunks_exact(dim) {
        codes.push(q, row).expect("encode");
    }
    let mut raw = Vec::new();
    let mut rescored = vec![Vec::new(); factors.len()];
    for query in set.queries.chunks_exact(dim) {
        let p = q.prepare(query).expect("prepare");
        let mut by: Vec<(f32, u32)> = (0..codes.len())
            .map(|i| (q.distance(&p, codes.get(i)), i as u32))
            .collect();
        by.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        raw.push(by[..K].iter().map(|c| u64::from(c.1)).collect());
        for (out, &f) in rescored.iter_mut().zip(factors) {
            let n = oversampled(K, f as f32).min(by.len());
            let top = rescore(by[..n].iter().map(|c| c.1), K, |i| {
                let i = i as usize;
                Some(exact_distance(
                    metric,
                    query,
                    &set.base[i * dim..(i + 1) * dim],
                ))
            });
            out.push(top.iter().map(|(i, _)| u64::from(*i)).collect());
        }
    }
    (
        recall(&raw, &truth),
        rescored.iter().map(|r| recall(r, &truth)).collect(),
    )
}

fn row<Q: Quantizer>(label: &str, q: &Q, set: &Set, factors: &[usize]) {
    let (raw, res) = evaluate(q, set, factors);
    let res: Vec<String> = res.iter().map(|r| format!("{r:.3}")).collect();
    println!(
        "| {} | {} | {label} | {raw:.3} | {} |",
        set.name,
        q.metric(),
        res.join(" | ")
    );
}

/// Nanoseconds per prepared-query → code distance over `n` codes.
fn time_codes<Q: Quantizer>(q: &Q, base: &[f32], query: &[f32]) -> f64 {
    let dim = q.dim();
    let mut codes = Codes::new(q);
    for r in base.chunks_exact(dim) {
        codes.push(q, r).expect("encode");
    }
    let p = q.prepare(query).expect("prepare");
    let n = codes.len();
    let reps = 20;
    let start = Instant::now();
    let mut acc = 0.0_f32;
    for _ in 0..reps {
        for i in 0..n {
            acc += q.distance(&p, codes.get(i));
        }
    }
    black_box(acc);
    start.elapsed().as_nanos() as f64 / (reps * n) as f64
}

fn time_f32(base: &[f32], query: &[f32], dim: usize) -> f64 {
    let reps = 20;
    let start = Instant::now();
    let mut acc = 0.0_f32;
    for _ in 0..reps {
        for r in base.chunks_exact(dim) {
            acc += edgevec_simd::l2_squared(query, r);
        }
    }
    black_box(acc);
    start.elapsed().as_nanos() as f64 / (reps * base.len() / dim) as f64
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    println!(
        "edgevec-quant report: n = {n}, {QUERIES} queries, k = {K}, backend {}",
        edgevec_simd::backend()
    );
    let sample_rows = n.min(5_000);

    // Data sets: embedding-like (decaying spectrum), the same with dimension scales spread over
    // four orders of magnitude (where one uniform u8 step is coarse for most dimensions), and
    // isotropic clusters (high intrinsic dimension, the hard case).
    let emb = split("emb-128", 128, embeddings(1, n + QUERIES, 128), n);
    let mut aniso = embeddings(2, n + QUERIES, 128);
    for row in aniso.chunks_exact_mut(128) {
        for (j, x) in row.iter_mut().enumerate() {
            *x *= 10f32.powf(-(((j * 7) % 128) as f32) / 32.0);
        }
    }
    let aniso = split("aniso-128", 128, aniso, n);
    let iso = split(
        "iso-128",
        128,
        clustered(3, n + QUERIES, 128, 100, 0.6, 1e6),
        n,
    );
    let emb768 = split(
        "emb-768-unit",
        768,
        normalize(embeddings(4, n + QUERIES, 768), 768),
        n,
    );

    let f = [2, 4, 10, 30];
    println!(
        "\n| data | metric | codec | codes only | rescored x2 | rescored x4 | rescored x10 | rescored x30 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for set in [&emb, &aniso, &iso] {
        let s = &set.base[..sample_rows * set.dim];
        for scaling in [U8Scaling::Uniform, U8Scaling::PerDimension] {
            let q = ScalarU8::train(Metric::L2, set.dim, s, &U8Config { scaling, clip: 0.0 })
                .expect("train");
            row(&format!("u8 {scaling:?}"), &q, set, &f);
        }
        let q = ScalarU8::train(
            Metric::L2,
            set.dim,
            s,
            &U8Config {
                scaling: U8Scaling::PerDimension,
                clip: 0.001,
            },
        )
        .expect("train");
        row("u8 PerDimension clip 0.001", &q, set, &f);
        let q = ScalarI8::train(Metric::L2, set.dim, s, &I8Config::default()).expect("train");
        row("i8", &q, set, &f);
        let q = Binary::train(Metric::L2, set.dim, s, &BinaryConfig::default()).expect("train");
        row("binary", &q, set, &f);
    }
    let s = &emb768.base[..sample_rows * 768];
    for metric in [Metric::Cosine, Metric::Dot] {
        let q = ScalarI8::train(metric, 768, s, &I8Config::default()).expect("train");
        row("i8", &q, &emb768, &f);
        let q = Binary::train(metric, 768, s, &BinaryConfig::default()).expect("train");
        row("binary", &q, &emb768, &f);
    }
    let q = ScalarU8::train(Metric::Cosine, 768, s, &U8Config::default()).expect("train");
    row("u8 Uniform", &q, &emb768, &f);

    // Throughput at 768-d over n rows (n = 20000: 61 MB of f32, 15 MB of u8 codes).
    let query = &emb768.queries[..768];
    let base = &emb768.base;
    println!("\n| 768-d, {n} rows | ns / distance | vs f32 |");
    println!("|---|---|---|");
    let f32_ns = time_f32(base, query, 768);
    println!("| f32 l2_squared | {f32_ns:.1} | 1.00 |");
    let cases: [(&str, f64); 4] = [
        ("u8 Uniform (l2_squared_u8)", {
            let q = ScalarU8::train(Metric::L2, 768, s, &U8Config::default()).expect("train");
            time_codes(&q, base, query)
        }),
        ("u8 PerDimension (decode + f32)", {
            let q = ScalarU8::train(
                Metric::L2,
                768,
                s,
                &U8Config {
                    scaling: U8Scaling::PerDimension,
                    clip: 0.0,
                },
            )
            .expect("train");
            time_codes(&q, base, query)
        }),
        ("i8 dot (dot_i8)", {
            let q = ScalarI8::train(Metric::Dot, 768, s, &I8Config::default()).expect("train");
            time_codes(&q, base, query)
        }),
        ("binary (hamming)", {
            let q = Binary::train(Metric::Cosine, 768, s, &BinaryConfig::default()).expect("train");
            time_codes(&q, base, query)
        }),
    ];
    for (label, ns) in cases {
        println!("| {label} | {ns:.1} | {:.2} |", f32_ns / ns);
    }
}
