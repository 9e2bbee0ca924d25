//! `edgevec demo`: the main job on an embedded data set, with nothing to download.
//!
//! Clustered 128-d vectors and queries from a fixed seed; the exact top-10 of every query by
//! brute force with the SIMD kernels; an HNSW index over f32 rows and one over u8 codes with
//! exact rescoring answer the same queries (recall, time per query, memory, a few hits); then
//! 10% of the ids are deleted (none may come back) and compacted away, both indexes are saved
//! to a temporary directory, reopened, and must give the same answers. Any wrong answer is an
//! error (exit status 1).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use edgevec::{Index, Metric, Neighbor, Quantization, SearchParams};
use edgevec_testdata::{clustered, recall};

use crate::error::{CliError, Result};

const DIM: usize = 128;
const K: usize = 10;
const EF: usize = 64;
const SEED: u64 = 42;
const CLUSTERS: usize = 64;

/// Prints a line on stdout, turning a write failure (e.g. a closed pipe) into an error.
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*)
            .map_err(|e| CliError::new(format!("cannot write to stdout: {e}")))?
    };
}

/// A temporary directory removed on drop (best effort).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("edgevec-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path)
            .map_err(|e| CliError::io(&path, "cannot create the temporary directory for", &e))?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn demo_error(e: &edgevec::Error) -> CliError {
    CliError::new(format!("demo: {e}"))
}

/// Exact top-k by brute force with the active SIMD kernels (one `l2_squared_many` per query);
/// returns the ids and the time per query.
fn brute_force(base: &[f32], queries: &[f32]) -> (Vec<Vec<u32>>, f64) {
    let n = base.len() / DIM;
    let mut dist = vec![0.0f32; n];
    let start = Instant::now();
    let truth: Vec<Vec<u32>> = queries
        .chunks_exact(DIM)
        .map(|q| {
            edgevec::simd::l2_squared_many(q, base, DIM, &mut dist);
            let mut ids: Vec<u32> = (0..n as u32).collect();
            let by = |a: &u32, b: &u32| {
                dist[*a as usize]
                    .total_cmp(&dist[*b as usize])
                    .then(a.cmp(b))
            };
            let k = K.min(n);
            ids.select_nth_unstable_by(k - 1, by);
            ids.truncate(k);
            ids.sort_unstable_by(by);
            ids
        })
        .collect();
    let per_query = start.elapsed().as_secs_f64() / truth.len().max(1) as f64;
    (truth, per_query)
}

/// Every query's top-k at ef 64, and the time per query.
fn answer(index: &Index, queries: &[f32]) -> Result<(Vec<Vec<Neighbor>>, f64)> {
    let start = Instant::now();
    let hits = queries
        .chunks_exact(DIM)
        .map(|q| index.search_with(q, SearchParams::new(K).ef(EF)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| demo_error(&e))?;
    let per_query = start.elapsed().as_secs_f64() / hits.len().max(1) as f64;
    Ok((hits, per_query))
}

fn ids(hits: &[Vec<Neighbor>]) -> Vec<Vec<u64>> {
    hits.iter()
        .map(|h| h.iter().map(|n| n.id).collect())
        .collect()
}

fn build(quantization: Quantization, base: &[f32]) -> Result<(Index, f64)> {
    let mut index = Index::builder()
        .dimensions(DIM)
        .metric(Metric::L2)
        .quantization(quantization)
        .seed(SEED)
        .build()
        .map_err(|e| demo_error(&e))?;
    let ids: Vec<u64> = (0..(base.len() / DIM) as u64).collect();
    let start = Instant::now();
    index.insert_batch(&ids, base).map_err(|e| demo_error(&e))?;
    Ok((index, start.elapsed().as_secs_f64()))
}

fn mb(bytes: impl TryInto<u64>) -> f64 {
    bytes.try_into().unwrap_or(u64::MAX) as f64 / 1e6
}

/// Runs the demo over `n` vectors and `queries` queries.
pub(crate) fn run(n: usize, queries: usize) -> Result<()> {
    let total = Instant::now();
    say!("EdgeVec demo");
    say!(
        "  SIMD backend: {} (EDGEVEC_SIMD={})",
        edgevec::simd::backend(),
        std::env::var("EDGEVEC_SIMD").unwrap_or_else(|_| "<unset>".into())
    );
    let mut base = clustered(SEED, n + queries, DIM, CLUSTERS, 0.25, 1e9);
    let query_rows = base.split_off(n * DIM);
    say!(
        "  data: {n} x {DIM}-d f32 in {CLUSTERS} clusters (seed {SEED}), {queries} queries, \
         top-{K}, L2, ef {EF}"
    );

    let (truth, exact_s) = brute_force(&base, &query_rows);
    say!("  exact brute force: {:>8.1} us/query", exact_s * 1e6);

    let mut problems = Vec::new();
    let mut indexes = Vec::new();
    for quantization in [Quantization::None, Quantization::U8] {
        let (index, build_s) = build(quantization, &base)?;
        let (hits, per_query) = answer(&index, &query_rows)?;
        let r = recall(&ids(&hits), &truth);
        let st = index.stats();
        say!(
            "  HNSW, {:<4} vectors: built in {build_s:.2} s; {:>6.1} us/query ({:.0}x faster than \
             brute force), recall@{K} {r:.4}; memory: rows {:.1} MB, codes {:.1} MB, graph {:.1} MB",
            quantization.name(),
            per_query * 1e6,
            exact_s / per_query.max(1e-12),
            mb(st.vector_bytes),
            mb(st.code_bytes),
            mb(st.graph_bytes),
        );
        if r < 0.95 {
            problems.push(format!(
                "recall@{K} of the {} index is {r:.4}, below 0.95",
                quantization.name()
            ));
        }
        indexes.push((quantization, index, hits));
    }

    // A few hits of query 0 next to the exact answer.
    if let Some((_, _, hits)) = indexes.first() {
        let shown: Vec<String> = hits[0]
            .iter()
            .take(5)
            .map(|h| format!("{} ({:.3})", h.id, h.distance))
            .collect();
        say!(
            "  query 0, nearest 5 (id, squared L2): {}; exact: {:?}",
            shown.join(", "),
            &truth[0][..truth[0].len().min(5)]
        );
    }

    // Deletes: tombstones keep routing, never come back, and compaction frees them.
    let deleted = |id: u64| id.is_multiple_of(10);
    let dir = TempDir::new()?;
    for (quantization, index, hits) in &mut indexes {
        let doomed: Vec<u64> = (0..n as u64).filter(|id| deleted(*id)).collect();
        index.delete_batch(&doomed).map_err(|e| demo_error(&e))?;
        let (after_delete, _) = answer(index, &query_rows)?;
        let leaked = after_delete
            .iter()
            .flatten()
            .filter(|h| deleted(h.id))
            .count();
        let short = after_delete
            .iter()
            .filter(|h| h.len() < K.min(index.len()))
            .count();
        let removed = index.compact().map_err(|e| demo_error(&e))?;
        let (after_compact, _) = answer(index, &query_rows)?;
        if *quantization == Quantization::None {
            say!(
                "  deleted {removed} ids (every 10th): {leaked} deleted ids returned, {short} \
                 queries short of {K} results; after compaction {} live",
                index.len()
            );
        }
        if leaked > 0 || short > 0 {
            problems.push(format!(
                "the {} index returned {leaked} deleted ids and {short} short answers",
                quantization.name()
            ));
        }
        // A quantized index smaller than its train size has no graph yet: its deletes are
        // immediate and there is nothing to compact.
        let tombstones = if index.stats().graph_built {
            n.div_ceil(10)
        } else {
            0
        };
        if removed != tombstones || index.len() != n - n.div_ceil(10) {
            problems.push(format!(
                "the {} index compacted {removed} ids and holds {}",
                quantization.name(),
                index.len()
            ));
        }
        *hits = after_compact;
    }

    // Save, reopen, same answers.
    for (quantization, index, hits) in &mut indexes {
        let path = dir
            .path()
            .join(format!("demo-{}.evec", quantization.name()));
        let start = Instant::now();
        let bytes = index.save(&path).map_err(|e| demo_error(&e))?;
        let save_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let reopened = Index::open(&path).map_err(|e| demo_error(&e))?;
        let open_s = start.elapsed().as_secs_f64();
        let (again, _) = answer(&reopened, &query_rows)?;
        let same = again.len() == hits.len()
            && again.iter().zip(hits.iter()).all(|(a, b)| {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| x.id == y.id && x.distance.to_bits() == y.distance.to_bits())
            });
        say!(
            "  saved the {:<4} index ({:.1} MB) in {save_s:.2} s, reopened in {open_s:.2} s \
             (every checksum verified): same {} answers: {same}",
            quantization.name(),
            mb(bytes),
            hits.len()
        );
        if !same || reopened.len() != index.len() {
            problems.push(format!(
                "the reopened {} index answers differently",
                quantization.name()
            ));
        }
    }

    // Durability: a change to an opened index is logged and synced before the call returns;
    // reopening replays the log.
    let path = dir.path().join("demo-none.evec");
    let q0 = &query_rows[..DIM];
    let new_id = n as u64 + 1_000_000;
    {
        let mut index = Index::open(&path).map_err(|e| demo_error(&e))?;
        index.insert(new_id, q0).map_err(|e| demo_error(&e))?;
        // Dropped without saving.
    }
    let reopened = Index::open_read_only(&path).map_err(|e| demo_error(&e))?;
    let replayed = reopened.recovery_report().map_or(0, |r| r.records_replayed);
    let top = reopened.search(q0, 1).map_err(|e| demo_error(&e))?;
    let found = top
        .first()
        .is_some_and(|h| h.id == new_id && h.distance == 0.0);
    say!(
        "  inserted id {new_id} into the opened file, dropped it without saving, reopened: \
         {replayed} log record replayed, the new vector is query 0's nearest: {found}"
    );
    if !found || replayed != 1 {
        problems.push("the logged insert was not recovered".into());
    }
    drop(dir);

    say!("  total {:.1} s", total.elapsed().as_secs_f64());
    say!(
        "  next: edgevec build --input vectors.fvecs --output vectors.evec; edgevec search --index vectors.evec --queries queries.fvecs --k 10"
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "demo: an answer was wrong: {}",
            problems.join("; ")
        )))
    }
}
