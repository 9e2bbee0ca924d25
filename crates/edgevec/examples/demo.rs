//! EdgeVec's first-minute demo: exact nearest-neighbour search over an embedded synthetic data
//! set with the SIMD kernels, checked against the scalar oracle.
//!
//! ```text
//! cargo run --release -p edgevec --example demo
//! EDGEVEC_SIMD=scalar cargo run --release -p edgevec --example demo   # force the scalar path
//! ```
//!
//! It builds 20,000 clustered 128-d vectors from a fixed seed, runs 200 queries by brute force
//! (`l2_squared_many`, then cosine) with the active backend and with the scalar oracle, prints
//! the time per query of each and checks that both return the same top-10 ids. (The HNSW index
//! that makes this sub-linear arrives with `edgevec-graph`; until then this is the main job.)

use std::time::Instant;

use edgevec::simd::{self, Backend, Kernels};

const N: usize = 20_000;
const DIM: usize = 128;
const QUERIES: usize = 200;
const K: usize = 10;
const CLUSTERS: usize = 64;

/// SplitMix64, so the data set is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

/// `n` points around `CLUSTERS` random centres, row-major.
fn clustered(rng: &mut Rng, centres: &[f32], n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * DIM);
    for _ in 0..n {
        let c = (rng.next_u64() % CLUSTERS as u64) as usize;
        let centre = &centres[c * DIM..(c + 1) * DIM];
        out.extend(centre.iter().map(|x| x + 0.25 * rng.unit()));
    }
    out
}

/// Ids of the `k` smallest distances, ties broken by id (a total order, so both backends agree
/// whenever their distances order the same way).
fn top_k(dist: &[f32], k: usize) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..dist.len() as u32).collect();
    let by = |a: &u32, b: &u32| {
        dist[*a as usize]
            .total_cmp(&dist[*b as usize])
            .then(a.cmp(b))
    };
    let k = k.min(ids.len());
    if k == 0 {
        return Vec::new();
    }
    ids.select_nth_unstable_by(k - 1, by);
    ids.truncate(k);
    ids.sort_unstable_by(by);
    ids
}

struct Run {
    seconds_per_query: f64,
    results: Vec<Vec<u32>>,
}

fn l2_search(k: &Kernels, base: &[f32], queries: &[f32]) -> Run {
    let mut dist = vec![0.0f32; N];
    let start = Instant::now();
    let results = queries
        .chunks_exact(DIM)
        .map(|q| {
            k.l2_squared_many(q, base, DIM, &mut dist);
            top_k(&dist, K)
        })
        .collect();
    Run {
        seconds_per_query: start.elapsed().as_secs_f64() / QUERIES as f64,
        results,
    }
}

fn cosine_search(k: &Kernels, base: &[f32], queries: &[f32]) -> Run {
    let mut dist = vec![0.0f32; N];
    let start = Instant::now();
    let results = queries
        .chunks_exact(DIM)
        .map(|q| {
            for (d, row) in dist.iter_mut().zip(base.chunks_exact(DIM)) {
                *d = k.cosine_distance(q, row);
            }
            top_k(&dist, K)
        })
        .collect();
    Run {
        seconds_per_query: start.elapsed().as_secs_f64() / QUERIES as f64,
        results,
    }
}

fn agreement(a: &Run, b: &Run) -> f64 {
    let same: usize = a
        .results
        .iter()
        .zip(&b.results)
        .map(|(x, y)| x.iter().filter(|id| y.contains(id)).count())
        .sum();
    same as f64 / (QUERIES * K) as f64
}

fn main() {
    let active = Kernels::active();
    let scalar = Kernels::for_backend(Backend::Scalar).expect("the scalar backend always exists");
    let available: Vec<String> = Backend::available().iter().map(|b| b.to_string()).collect();
    println!("EdgeVec demo");
    println!(
        "  SIMD backend: {} (available here: {}; EDGEVEC_SIMD={})",
        simd::backend(),
        available.join(", "),
        std::env::var("EDGEVEC_SIMD").unwrap_or_else(|_| "<unset>".into())
    );

    let mut rng = Rng(42);
    let centres: Vec<f32> = (0..CLUSTERS * DIM).map(|_| rng.unit()).collect();
    let base = clustered(&mut rng, &centres, N);
    let queries = clustered(&mut rng, &centres, QUERIES);
    println!(
        "  data: {N} x {DIM}-d f32 in {CLUSTERS} clusters (seed 42), {QUERIES} queries, top-{K}"
    );

    let agreed: Vec<bool> = [
        ("l2_squared", l2_search as fn(&Kernels, &[f32], &[f32]) -> Run),
        ("cosine", cosine_search),
    ]
    .into_iter()
    .map(|(name, search)| {
        let fast = search(active, &base, &queries);
        let oracle = search(scalar, &base, &queries);
        let agree = agreement(&fast, &oracle);
        println!(
            "  {name:<10}  {}: {:>8.1} us/query   scalar: {:>8.1} us/query   speed-up {:>5.1}x   top-{K} agreement {:.4}",
            active.backend(),
            fast.seconds_per_query * 1e6,
            oracle.seconds_per_query * 1e6,
            oracle.seconds_per_query / fast.seconds_per_query,
            agree,
        );
        if let Some(first) = fast.results.first() {
            println!("              query 0 -> nearest ids {first:?}");
        }
        agree >= 0.999
    })
    .collect();

    if !agreed.iter().all(|ok| *ok) {
        eprintln!("error: the SIMD kernels and the scalar oracle disagree on the neighbours");
        std::process::exit(1);
    }
}
