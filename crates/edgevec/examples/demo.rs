//! EdgeVec's first-minute demo: build an index over an embedded synthetic data set, query it,
//! and check the answers against exact brute force.
//!
//! ```text
//! cargo run --release -p edgevec --example demo
//! EDGEVEC_SIMD=scalar cargo run --release -p edgevec --example demo   # force the scalar kernels
//! ```
//!
//! 20,000 clustered 128-d vectors and 200 queries from a fixed seed (nothing to download). The
//! exact top-10 of every query comes from brute force with the SIMD kernels; then an HNSW index
//! with f32 rows and one with u8 codes + exact rescoring answer the same queries, and the demo
//! prints recall, time per query and memory; finally it deletes 10% of the vectors, checks that
//! none comes back, and compacts. Exit status 1 if any answer is wrong.

use std::time::Instant;

use edgevec::{Index, Metric, Quantization, SearchParams};
use edgevec_testdata::{clustered, recall};

const N: usize = 20_000;
const DIM: usize = 128;
const QUERIES: usize = 200;
const K: usize = 10;

/// Exact top-k by brute force with the active SIMD kernels (one `l2_squared_many` per query).
fn brute_force(base: &[f32], queries: &[f32]) -> (Vec<Vec<u32>>, f64) {
    let mut dist = vec![0.0f32; N];
    let start = Instant::now();
    let truth = queries
        .chunks_exact(DIM)
        .map(|q| {
            edgevec::simd::l2_squared_many(q, base, DIM, &mut dist);
            let mut ids: Vec<u32> = (0..N as u32).collect();
            let by = |a: &u32, b: &u32| {
                dist[*a as usize]
                    .total_cmp(&dist[*b as usize])
                    .then(a.cmp(b))
            };
            ids.select_nth_unstable_by(K - 1, by);
            ids.truncate(K);
            ids.sort_unstable_by(by);
            ids
        })
        .collect();
    (truth, start.elapsed().as_secs_f64() / QUERIES as f64)
}

fn run(index: &Index, queries: &[f32], truth: &[Vec<u32>]) -> (f64, f64) {
    let start = Instant::now();
    let found: Vec<Vec<u64>> = queries
        .chunks_exact(DIM)
        .map(|q| {
            index
                .search_with(q, SearchParams::new(K).ef(64))
                .map(|hits| hits.into_iter().map(|h| h.id).collect())
                .unwrap_or_default()
        })
        .collect();
    let per_query = start.elapsed().as_secs_f64() / QUERIES as f64;
    (recall(&found, truth), per_query)
}

fn build(quantization: Quantization, base: &[f32]) -> Result<(Index, f64), edgevec::Error> {
    let mut index = Index::builder()
        .dimensions(DIM)
        .metric(Metric::L2)
        .quantization(quantization)
        .seed(42)
        .build()?;
    let ids: Vec<u64> = (0..N as u64).collect();
    let start = Instant::now();
    index.insert_batch(&ids, base)?;
    Ok((index, start.elapsed().as_secs_f64()))
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn main() -> Result<(), edgevec::Error> {
    println!("EdgeVec demo");
    println!(
        "  SIMD backend: {} (EDGEVEC_SIMD={})",
        edgevec::simd::backend(),
        std::env::var("EDGEVEC_SIMD").unwrap_or_else(|_| "<unset>".into())
    );
    let mut base = clustered(42, N + QUERIES, DIM, 64, 0.25, 1e9);
    let queries = base.split_off(N * DIM);
    println!("  data: {N} x {DIM}-d f32 in 64 clusters (seed 42), {QUERIES} queries, top-{K}, L2");

    let (truth, exact_s) = brute_force(&base, &queries);
    println!("  exact brute force: {:>8.1} us/query", exact_s * 1e6);

    let mut ok = true;
    for quantization in [Quantization::None, Quantization::U8] {
        let (index, build_s) = build(quantization, &base)?;
        let (r, per_query) = run(&index, &queries, &truth);
        let st = index.stats();
        println!(
            "  HNSW, {:<4} vectors: built in {build_s:.2} s; {:>6.1} us/query ({:.0}x faster than \
             brute force), recall@{K} {r:.4}; memory: rows {:.1} MB, codes {:.1} MB, graph {:.1} MB",
            quantization.name(),
            per_query * 1e6,
            exact_s / per_query,
            mb(st.vector_bytes),
            mb(st.code_bytes),
            mb(st.graph_bytes),
        );
        ok &= r >= 0.95;
    }

    // Deletes: tombstones keep routing, never come back, and compaction frees them.
    let (mut index, _) = build(Quantization::None, &base)?;
    let deleted = |id: u64| id.is_multiple_of(10);
    for id in (0..N as u64).filter(|id| deleted(*id)) {
        index.delete(id)?;
    }
    let q0 = &queries[..DIM];
    let hits = index.search(q0, K)?;
    let clean = hits.len() == K && hits.iter().all(|h| !deleted(h.id));
    let removed = index.compact()?;
    let after = index.search(q0, K)?;
    println!(
        "  deleted {removed} ids: query 0 still gets {} results, none deleted: {clean}; after \
         compaction: {} live, nearest ids {:?}",
        hits.len(),
        index.len(),
        after.iter().map(|h| h.id).collect::<Vec<_>>()
    );
    ok &= clean && after == hits && index.len() == N - removed;

    if !ok {
        eprintln!("error: an answer was wrong (recall below 0.95 or a deleted id returned)");
        std::process::exit(1);
    }
    Ok(())
}
