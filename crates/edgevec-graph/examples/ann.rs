//! Recall / QPS / build-time measurement of the HNSW graph alone (no quantization, no files).
//!
//! ```text
//! # synthetic clustered data (no download): N vectors of D dims, 1,000 queries, exact truth
//! cargo run --release -p edgevec-graph --example ann -- --synthetic 100000x128 --metric l2
//! # real data in .fvecs with .ivecs ground truth (e.g. shared/data/make_glove.sh output)
//! cargo run --release -p edgevec-graph --example ann -- --base glove50_base.fvecs \
//!     --queries glove50_query.fvecs --truth glove50_gt100.ivecs --metric cosine
//! ```
//!
//! Options: `--m 16 --ef-construction 200 --threads 1 --ef 16,32,64,128,256 --k 10 --seed 7
//! --n-queries 1000 --repeat 1 --cpu --dump DIR --memory` (`--repeat R` times each ef's query
//! set R times and reports the fastest run; `--cpu` also reports CPU time, the build's for the
//! whole process and the searches' for the searching thread, which other load on the machine
//! disturbs far less than wall time, counted in 10 ms ticks, so use `--repeat` to run searches
//! for a second or more; `--dump` writes the synthetic base, queries and exact
//! truth as `.fvecs`/`.ivecs` so other tools can run on the same data; `--memory` reports the
//! graph's own memory accounting per node next to the growth of the process's resident set,
//! Linux only):
//!
//! ```text
//! cargo run --release -p edgevec-graph --example ann -- --synthetic 200000x32 --memory --ef 64
//! ```
//!
//! Search is timed single-threaded over all queries, one query at a time; build time covers
//! `insert_batch` only. Prints a markdown table and one JSON line per ef.

use std::time::Instant;

use edgevec_graph::{Hnsw, HnswParams, Metric};
use edgevec_testdata::{
    Distance, embeddings, exact_knn, read_fvecs, read_ivecs, write_fvecs, write_ivecs,
};

struct Args {
    base: Option<String>,
    queries: Option<String>,
    truth: Option<String>,
    synthetic: Option<(usize, usize)>,
    metric: Metric,
    m: usize,
    ef_construction: usize,
    threads: usize,
    efs: Vec<usize>,
    k: usize,
    seed: u64,
    n_queries: usize,
    dump: Option<String>,
    memory: bool,
    repeat: usize,
    cpu: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        base: None,
        queries: None,
        truth: None,
        synthetic: None,
        metric: Metric::L2,
        m: 16,
        ef_construction: 200,
        threads: 1,
        efs: vec![16, 32, 64, 128, 256],
        k: 10,
        seed: 7,
        n_queries: 1000,
        dump: None,
        memory: false,
        repeat: 1,
        cpu: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |s: String| s.parse::<usize>().map_err(|e| format!("{s}: {e}"));
        match flag.as_str() {
            "--base" => a.base = Some(val()?),
            "--queries" => a.queries = Some(val()?),
            "--truth" => a.truth = Some(val()?),
            "--synthetic" => {
                let v = val()?;
                let (n, d) = v.split_once('x').ok_or("--synthetic NxD")?;
                a.synthetic = Some((num(n.into())?, num(d.into())?));
            }
            "--metric" => {
                a.metric = match val()?.as_str() {
                    "l2" => Metric::L2,
                    "cosine" => Metric::Cosine,
                    "dot" => Metric::Dot,
                    other => return Err(format!("unknown metric {other}")),
                }
            }
            "--m" => a.m = num(val()?)?,
            "--ef-construction" => a.ef_construction = num(val()?)?,
            "--threads" => a.threads = num(val()?)?,
            "--k" => a.k = num(val()?)?,
            "--seed" => a.seed = num(val()?)? as u64,
            "--n-queries" => a.n_queries = num(val()?)?,
            "--dump" => a.dump = Some(val()?),
            "--memory" => a.memory = true,
            "--repeat" => a.repeat = num(val()?)?,
            "--cpu" => a.cpu = true,
            "--ef" => {
                a.efs = val()?
                    .split(',')
                    .map(|s| num(s.into()))
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

/// Resident set size of this process in bytes (`VmRSS` of /proc/self/status), if known.
fn rss_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<usize>()
        .ok()?;
    Some(kb * 1024)
}

/// CPU time of this process so far, all threads (utime + stime of /proc/self/stat, in seconds
/// at 100 ticks per second), if known.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which ends with the last ')'): state is field 3, utime 14.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn distance(metric: Metric) -> Distance {
    match metric {
        Metric::L2 => Distance::L2,
        Metric::Cosine => Distance::Cosine,
        _ => Distance::Dot,
    }
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let k = args.k;
    let (base, queries, dim, truth, name) = if let Some((n, d)) = args.synthetic {
        // Queries are extra rows from the same clusters as the base.
        let mut base = embeddings(args.seed, n + args.n_queries, d);
        let queries = base.split_off(n * d);
        eprintln!(
            "computing exact ground truth for {} queries...",
            args.n_queries
        );
        let truth = exact_knn(distance(args.metric), &base, &queries, d, k, |_| true);
        if let Some(dir) = &args.dump {
            // The same data for other tools (e.g. peer libraries): base, queries, exact top-k.
            let dir = std::path::Path::new(dir);
            let flat: Vec<u32> = truth.concat();
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| write_fvecs(dir.join("base.fvecs"), &base, d))
                .and_then(|()| write_fvecs(dir.join("query.fvecs"), &queries, d))
                .and_then(|()| write_ivecs(dir.join("truth.ivecs"), &flat, k));
            if let Err(e) = written {
                eprintln!("error: writing {}: {e}", dir.display());
                std::process::exit(2);
            }
        }
        (
            base,
            queries,
            d,
            truth,
            format!("synthetic embeddings {n}x{d}"),
        )
    } else {
        let load = || -> Result<_, String> {
            let path =
                |p: &Option<String>, what: &str| p.clone().ok_or(format!("--{what} is required"));
            let err = |e: std::io::Error| e.to_string();
            let (base, d) = read_fvecs(path(&args.base, "base")?).map_err(err)?;
            let (queries, dq) = read_fvecs(path(&args.queries, "queries")?).map_err(err)?;
            if d != dq {
                return Err(format!("base has {d} dims, queries {dq}"));
            }
            let (t, tk) = read_ivecs(path(&args.truth, "truth")?).map_err(err)?;
            if tk < k {
                return Err(format!("truth has {tk} neighbours per query, need {k}"));
            }
            let truth: Vec<Vec<u32>> = t.chunks_exact(tk).map(|r| r[..k].to_vec()).collect();
            Ok((base, queries, d, truth))
        };
        match load() {
            Ok((b, q, d, t)) => (b, q, d, t, args.base.clone().unwrap_or_default()),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    };
    let n = base.len() / dim;
    let params = HnswParams {
        m: args.m,
        ef_construction: args.ef_construction,
        ef_search: 64,
        seed: args.seed,
    };
    let mut h = Hnsw::new_f32(dim, args.metric, params).expect("valid parameters");
    let ids: Vec<u64> = (0..n as u64).collect();
    let rss_before = rss_bytes();
    let cpu_before = process_cpu_seconds();
    let t = Instant::now();
    h.insert_batch(&ids, &base, args.threads)
        .expect("valid data");
    let build = t.elapsed().as_secs_f64();
    let build_cpu = process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    // Memory is taken after the build and one search (which allocates one search scratch),
    // before the evaluation below allocates result lists of its own.
    let memory = args.memory.then(|| {
        h.search(&queries[..dim], k).expect("valid query");
        (h.stats(), rss_bytes())
    });
    let st = h.stats();
    println!(
        "# {name}, {} metric, M={}, ef_construction={}, {} build thread(s), SIMD {}",
        args.metric,
        args.m,
        args.ef_construction,
        args.threads,
        edgevec_simd::backend()
    );
    println!(
        "build: {build:.2} s ({:.0} vectors/s); graph {:.1} MB, vectors {:.1} MB, max level {}, unanchored {}",
        n as f64 / build,
        st.graph_bytes as f64 / 1e6,
        st.vector_bytes as f64 / 1e6,
        st.max_level,
        st.unanchored
    );
    println!("\n| ef | recall@{k} | QPS (1 thread) | mean latency us |\n|---:|---:|---:|---:|");
    let nq = queries.len() / dim;
    let mut cpu_rows = Vec::new();
    for &ef in &args.efs {
        let mut secs = f64::INFINITY;
        let mut results: Vec<Vec<u64>> = Vec::new();
        let cpu_start = process_cpu_seconds();
        for _ in 0..args.repeat.max(1) {
            let t = Instant::now();
            results = queries
                .chunks_exact(dim)
                .map(|q| {
                    h.search_with(q, k, ef, None)
                        .expect("valid query")
                        .into_iter()
                        .map(|n| n.id)
                        .collect()
                })
                .collect();
            secs = secs.min(t.elapsed().as_secs_f64());
        }
        // Searches run on this thread alone; CPU time is counted in ticks, so it is summed
        // over all repetitions rather than taken per run.
        let cpu = process_cpu_seconds()
            .zip(cpu_start)
            .map(|(after, before)| (after - before) / args.repeat.max(1) as f64);
        cpu_rows.push((ef, cpu));
        let recall = edgevec_testdata::recall(&results, &truth);
        println!(
            "| {ef} | {recall:.4} | {:.0} | {:.1} |",
            nq as f64 / secs,
            secs / nq as f64 * 1e6
        );
        eprintln!(
            "{{\"data\":\"{name}\",\"ef\":{ef},\"recall\":{recall:.5},\"qps\":{:.1},\"build_seconds\":{build:.3}}}",
            nq as f64 / secs
        );
    }
    if args.cpu {
        match build_cpu {
            Some(c) => println!("\nbuild CPU time: {c:.2} s (all threads)"),
            None => println!("\nbuild CPU time: unavailable"),
        }
        println!("\n| ef | CPU us per query (mean of all runs) |\n|---:|---:|");
        for (ef, cpu) in cpu_rows {
            match cpu {
                Some(c) => println!("| {ef} | {:.2} |", c / nq as f64 * 1e6),
                None => println!("| {ef} | unavailable |"),
            }
        }
    }
    if let Some((st, rss_after)) = memory {
        let per = |b: usize| b as f64 / n as f64;
        let accounted = st.graph_bytes + st.id_bytes + st.scratch_bytes;
        println!(
            "\nmemory per node (M={}, budget 8·M + 24 = {} B): graph {:.1} B (lists and \
             bookkeeping {:.1}, ids {:.1}, search scratch {:.1}); vectors {:.1} B",
            args.m,
            8 * args.m + 24,
            per(accounted),
            per(st.graph_bytes),
            per(st.id_bytes),
            per(st.scratch_bytes),
            per(st.vector_bytes),
        );
        match (rss_before, rss_after) {
            (Some(before), Some(after)) => {
                let delta = after as f64 - before as f64;
                println!(
                    "process RSS grew {:.1} MB = {:.1} B per node; minus the vector store: {:.1} B \
                     per node (accounted: {:.1})",
                    delta / 1e6,
                    delta / n as f64,
                    (delta - st.vector_bytes as f64) / n as f64,
                    per(accounted),
                );
            }
            _ => println!("process RSS: unavailable (no /proc/self/status)"),
        }
    }
}
