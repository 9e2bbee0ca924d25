//! End-to-end benchmark of the facade: build indexes with each quantization scheme, save them,
//! and serve each in a fresh process (open → search), measuring recall, latency percentiles,
//! QPS, open time, and memory — the index's own accounting next to the process's resident set.
//!
//! ```text
//! # synthetic clustered embeddings (no download), 1,000 queries with exact ground truth
//! cargo run --release -p edgevec --example bench -- --synthetic 100000x768 --schemes none,u8,i8,binary
//! # real data: .fvecs base and queries, .ivecs truth (benches/data/make_glove.sh)
//! cargo run --release -p edgevec --example bench -- --base glove50_base.fvecs \
//!     --queries glove50_query.fvecs --truth glove50_gt100.ivecs --metric cosine
//! ```
//!
//! Options: `--metric l2|cosine|dot --schemes none,u8,i8,binary --ef 16,32,64,128,256 --k 10
//! --m 16 --ef-construction 200 --threads 2 (build) --oversample F --n-queries 1000 --truth-queries N (exact
//! truth for the first N queries of synthetic or --input data; default all) --seed 7 --dir DIR
//! (where index files go; default a temp dir, removed) --json FILE`. `--input FILE.fvecs` takes
//! a real file: its last `--n-queries` rows are the queries, the rest the base, and the exact
//! truth is computed. `--model 10000,100000` also builds and serves each scheme over the first
//! 10k and 100k vectors and prints the memory per vector by part at each size, with the total
//! at n predicted from the next smaller size next to the measured one.
//!
//! Each index is built in this process (build time, build peak RSS — which includes the input
//! data), saved, dropped, and then served by a child process (`--serve`) that opens it read-only
//! (rows of quantized indexes stay in the file, read on demand) and runs every query one at a
//! time on one thread: a first pass at the smallest ef, reported apart (cold: it pays for row
//! pages not yet in the page cache), then one timed pass per ef. Memory figures: `accounted` is the index's own count of resident bytes
//! (`IndexStats`), `rss` is the child's resident set after the searches minus its resident set
//! before opening (so the query set and the binary are excluded), `peak` its peak resident set
//! (VmHWM, everything included).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use edgevec::{Index, Metric, Quantization, SearchParams};
use edgevec_testdata::{Distance, embeddings, exact_knn, read_fvecs, read_ivecs, write_fvecs};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct Args {
    base: Option<String>,
    input: Option<String>,
    queries: Option<String>,
    truth: Option<String>,
    synthetic: Option<(usize, usize)>,
    metric: Metric,
    schemes: Vec<Quantization>,
    efs: Vec<usize>,
    k: usize,
    m: usize,
    ef_construction: usize,
    threads: usize,
    n_queries: usize,
    truth_queries: Option<usize>,
    seed: u64,
    dir: Option<String>,
    json: Option<String>,
    serve: Option<String>,
    model: Vec<usize>,
    oversample: Option<f32>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        base: None,
        input: None,
        queries: None,
        truth: None,
        synthetic: None,
        metric: Metric::L2,
        schemes: vec![
            Quantization::None,
            Quantization::U8,
            Quantization::I8,
            Quantization::Binary,
        ],
        efs: vec![16, 32, 64, 128, 256],
        k: 10,
        m: 16,
        ef_construction: 200,
        threads: 2,
        n_queries: 1000,
        truth_queries: None,
        seed: 7,
        dir: None,
        json: None,
        serve: None,
        model: Vec::new(),
        oversample: None,
    };
    let mut it = args.iter().cloned();
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |s: &str| s.parse::<usize>().map_err(|e| format!("{s}: {e}"));
        match flag.as_str() {
            "--base" => a.base = Some(val()?),
            "--input" => a.input = Some(val()?),
            "--oversample" => {
                let v = val()?;
                a.oversample = Some(v.parse::<f32>().map_err(|e| format!("{v}: {e}"))?);
            }
            "--model" => a.model = val()?.split(',').map(num).collect::<Result<_, _>>()?,
            "--queries" => a.queries = Some(val()?),
            "--truth" => a.truth = Some(val()?),
            "--synthetic" => {
                let v = val()?;
                let (n, d) = v.split_once('x').ok_or("--synthetic NxD")?;
                a.synthetic = Some((num(n)?, num(d)?));
            }
            "--metric" => {
                let v = val()?;
                a.metric = Metric::from_name(&v).ok_or(format!("unknown metric {v}"))?;
            }
            "--schemes" => {
                a.schemes = val()?
                    .split(',')
                    .map(|s| Quantization::from_name(s).ok_or(format!("unknown scheme {s}")))
                    .collect::<Result<_, _>>()?
            }
            "--ef" => a.efs = val()?.split(',').map(num).collect::<Result<_, _>>()?,
            "--k" => a.k = num(&val()?)?,
            "--m" => a.m = num(&val()?)?,
            "--ef-construction" => a.ef_construction = num(&val()?)?,
            "--threads" => a.threads = num(&val()?)?,
            "--n-queries" => a.n_queries = num(&val()?)?,
            "--truth-queries" => a.truth_queries = Some(num(&val()?)?),
            "--seed" => a.seed = num(&val()?)? as u64,
            "--dir" => a.dir = Some(val()?),
            "--json" => a.json = Some(val()?),
            "--serve" => a.serve = Some(val()?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

/// A `/proc/self/status` field in bytes (Linux); 0 elsewhere.
fn proc_status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn rss() -> u64 {
    proc_status("VmRSS:")
}

fn peak_rss() -> u64 {
    proc_status("VmHWM:")
}

/// Resets the peak resident set (Linux ≥ 4.0), so a phase's peak can be read afterwards.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn distance(metric: Metric) -> Distance {
    match metric {
        Metric::L2 => Distance::L2,
        Metric::Cosine => Distance::Cosine,
        _ => Distance::Dot,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("error: {e}");
    std::process::exit(1);
}

/// Child process: open the index read-only, run every query at every ef, print one JSON line.
fn serve(args: &Args, path: &str) -> Result<(), String> {
    let q = args.queries.as_ref().ok_or("--queries is required")?;
    let t = args.truth.as_ref().ok_or("--truth is required")?;
    let (queries, dim) = read_fvecs(q).map_err(|e| format!("{q}: {e}"))?;
    let (truth, tk) = read_ivecs(t).map_err(|e| format!("{t}: {e}"))?;
    let k = args.k;
    let truth: Vec<Vec<u32>> = truth
        .chunks_exact(tk.max(1))
        .map(|r| r[..k.min(tk)].to_vec())
        .collect();
    let rss_before = rss();
    let start = Instant::now();
    let index = Index::open_read_only(path).map_err(|e| format!("{path}: {e}"))?;
    let open_seconds = start.elapsed().as_secs_f64();
    let rss_open = rss();
    let n = index.len();
    // One pass over the queries at `ef`: sorted latencies (µs), answers, wall seconds.
    type Pass = (Vec<f64>, Vec<Vec<u64>>, f64);
    let pass = |ef: usize| -> Result<Pass, String> {
        let mut lat = Vec::with_capacity(queries.len() / dim);
        let mut found = Vec::with_capacity(queries.len() / dim);
        let all = Instant::now();
        for qv in queries.chunks_exact(dim) {
            let t = Instant::now();
            let hits = index
                .search_with(qv, SearchParams::new(k).ef(ef))
                .map_err(|e| e.to_string())?;
            lat.push(t.elapsed().as_secs_f64() * 1e6);
            found.push(hits.into_iter().map(|h| h.id).collect::<Vec<u64>>());
        }
        let secs = all.elapsed().as_secs_f64();
        lat.sort_by(f64::total_cmp);
        Ok((lat, found, secs))
    };
    let summary = |ef: usize, (lat, found, secs): Pass| {
        // Recall over the queries that have ground truth.
        let judged = truth.len().min(found.len());
        let recall = edgevec_testdata::recall(&found[..judged], &truth[..judged]);
        json!({
            "ef": ef,
            "recall": recall,
            "qps": lat.len() as f64 / secs,
            "p50_us": percentile(&lat, 50.0),
            "p95_us": percentile(&lat, 95.0),
            "p99_us": percentile(&lat, 99.0),
            "queries": lat.len(),
            "judged_queries": judged,
        })
    };
    // The first pass after opening pays for what the first touches bring in (row pages not in
    // the page cache, the allocator's first pages): reported apart, as `first_pass`, so that
    // the table's figures are the steady state.
    let first_ef = args.efs.first().copied().unwrap_or(64);
    let first_pass = summary(first_ef, pass(first_ef)?);
    let mut runs = Vec::new();
    for &ef in &args.efs {
        runs.push(summary(ef, pass(ef)?));
    }
    let rss_after = rss();
    let s = index.stats();
    let accounted = s.vector_bytes + s.code_bytes + s.graph_bytes + s.id_bytes;
    let out = json!({
        "n": n,
        "open_seconds": open_seconds,
        "rss_before_open": rss_before,
        "rss_after_open": rss_open,
        "rss_after_search": rss_after,
        "peak_rss": peak_rss(),
        "accounted_bytes": accounted,
        "vector_bytes": s.vector_bytes,
        "file_vector_bytes": s.file_vector_bytes,
        "code_bytes": s.code_bytes,
        "graph_bytes": s.graph_bytes,
        "id_bytes": s.id_bytes,
        "runs": runs,
        "first_pass": first_pass,
    });
    println!("{out}");
    Ok(())
}

/// Loads or generates the data set; writes queries and truth as files for the child.
fn data(args: &Args, dir: &Path) -> Result<(Vec<f32>, usize, String, PathBuf, PathBuf), String> {
    let qpath = dir.join("queries.fvecs");
    let tpath = dir.join("truth.ivecs");
    let held_out = if let Some((n, d)) = args.synthetic {
        eprintln!("generating {n} x {d} clustered embeddings...");
        Some((
            embeddings(args.seed, n + args.n_queries, d),
            d,
            format!("synthetic clustered {n}x{d}"),
        ))
    } else if let Some(input) = &args.input {
        // A real file: its last rows are the queries, the rest the base.
        let (rows, d) = read_fvecs(input).map_err(|e| format!("{input}: {e}"))?;
        if rows.len() / d.max(1) <= args.n_queries {
            return Err(format!(
                "{input} has too few rows for {} queries",
                args.n_queries
            ));
        }
        Some((rows, d, input.clone()))
    } else {
        None
    };
    if let Some((mut base, d, name)) = held_out {
        let n = base.len() / d - args.n_queries;
        let queries = base.split_off(n * d);
        let judged = args
            .truth_queries
            .unwrap_or(args.n_queries)
            .min(args.n_queries);
        eprintln!("exact ground truth for {judged} queries (brute force, f64)...");
        let t = Instant::now();
        let truth = exact_knn(
            distance(args.metric),
            &base,
            &queries[..judged * d],
            d,
            args.k,
            |_| true,
        );
        eprintln!("  {:.1} s", t.elapsed().as_secs_f64());
        write_fvecs(&qpath, &queries, d).map_err(|e| e.to_string())?;
        edgevec_testdata::write_ivecs(&tpath, &truth.concat(), args.k)
            .map_err(|e| e.to_string())?;
        Ok((base, d, name, qpath, tpath))
    } else {
        let need =
            |p: &Option<String>, what: &str| p.clone().ok_or(format!("--{what} is required"));
        let b = need(&args.base, "base")?;
        let (base, d) = read_fvecs(&b).map_err(|e| format!("{b}: {e}"))?;
        let q = PathBuf::from(need(&args.queries, "queries")?);
        let t = PathBuf::from(need(&args.truth, "truth")?);
        Ok((base, d, b, q, t))
    }
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "memory_bytes": mem,
        "simd": edgevec::simd::backend().to_string(),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}

/// Builds, saves and serves one scheme over `base`; `None` when the scheme cannot index the
/// data (e.g. u8 with the dot metric).
#[allow(clippy::too_many_arguments)]
fn run_scheme(
    args: &Args,
    scheme: Quantization,
    base: &[f32],
    dim: usize,
    dir: &Path,
    qpath: &Path,
    tpath: &Path,
    efs: &[usize],
) -> Option<Value> {
    let n = base.len() / dim;
    let ids: Vec<u64> = (0..n as u64).collect();
    eprintln!("building {scheme} over {n} vectors...");
    reset_peak();
    let rss0 = rss();
    let start = Instant::now();
    let mut builder = Index::builder();
    if let Some(f) = args.oversample {
        builder = builder.oversample(f);
    }
    let mut index = match builder
        .dimensions(dim)
        .metric(args.metric)
        .quantization(scheme)
        .m(args.m)
        .ef_construction(args.ef_construction)
        .threads(args.threads)
        .seed(args.seed)
        .build()
    {
        Ok(index) => index,
        Err(e) => {
            eprintln!("  {scheme}: {e}; skipped");
            return None;
        }
    };
    // In pieces, so the bar moves; a quantized index trains its codec on the first piece,
    // as large as the facade's training sample.
    let bar = indicatif::ProgressBar::new(n as u64);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "  {bar:40} {pos}/{len} vectors, {elapsed}, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let piece = (n / 50).clamp(4_096, 65_536);
    let mut at = 0;
    while at < n {
        let len = if at == 0 && scheme != Quantization::None {
            piece.max(65_536)
        } else {
            piece
        }
        .min(n - at);
        if let Err(e) = index.insert_batch(&ids[at..at + len], &base[at * dim..(at + len) * dim]) {
            eprintln!("  {scheme}: {e}; skipped");
            return None;
        }
        at += len;
        bar.set_position(at as u64);
    }
    bar.finish_and_clear();
    let build_seconds = start.elapsed().as_secs_f64();
    let build_peak = peak_rss();
    eprintln!("  built in {build_seconds:.1} s");
    let path = dir.join(format!("{scheme}-{n}.evec"));
    let file_bytes = index.save(&path).unwrap_or_else(|e| fail(e));
    drop(index);
    eprintln!("serving {scheme} in a fresh process...");
    let mut child = Command::new(std::env::current_exe().unwrap_or_else(|e| fail(e)));
    child
        .arg("--serve")
        .arg(&path)
        .arg("--queries")
        .arg(qpath)
        .arg("--truth")
        .arg(tpath);
    child.arg("--k").arg(args.k.to_string());
    child.arg("--ef").arg(
        efs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    let out = child.output().unwrap_or_else(|e| fail(e));
    if !out.status.success() {
        fail(format!(
            "serving {scheme}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let served: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| fail(e));
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(dir.join(format!("{scheme}-{n}.evec.wal")));
    let _ = std::fs::remove_file(dir.join(format!("{scheme}-{n}.evec.lock")));
    let mut r = json!({
        "scheme": scheme.to_string(),
        "build_seconds": build_seconds,
        "build_peak_rss": build_peak,
        "build_rss_before": rss0,
        "file_bytes": file_bytes,
    });
    if let (Value::Object(r), Value::Object(s)) = (&mut r, served) {
        r.extend(s);
    }
    Some(r)
}

/// Memory per vector by part at each size, and the parts at the largest size predicted from
/// the next smaller one (per-vector bytes × n) next to what was measured.
fn print_model(model: &[Value], dim: usize, m: usize) {
    let f = |r: &Value, k: &str| r[k].as_f64().unwrap_or(0.0);
    println!(
        "\n| scheme | n | codes B/v | graph B/v | ids B/v | rows in RAM B/v | accounted B/v | RSS B/v | budget d+8M+32 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in model {
        let n = f(r, "n").max(1.0);
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            r["scheme"].as_str().unwrap_or("?"),
            n,
            f(r, "code_bytes") / n,
            f(r, "graph_bytes") / n,
            f(r, "id_bytes") / n,
            f(r, "vector_bytes") / n,
            f(r, "accounted_bytes") / n,
            (f(r, "rss_after_search") - f(r, "rss_before_open")) / n,
            dim + 8 * m + 32,
        );
    }
    // Predictions: for each scheme, the largest size from the second largest.
    let mut schemes: Vec<&str> = model.iter().filter_map(|r| r["scheme"].as_str()).collect();
    schemes.dedup();
    let mut seen = std::collections::BTreeSet::new();
    println!("\n| scheme | predicted at n from the next smaller run | measured | error |");
    println!("|---|---:|---:|---:|");
    for scheme in schemes.into_iter().filter(|s| seen.insert(*s)) {
        let mut runs: Vec<&Value> = model.iter().filter(|r| r["scheme"] == scheme).collect();
        runs.sort_by(|a, b| f(a, "n").total_cmp(&f(b, "n")));
        if let [.., small, big] = runs.as_slice() {
            let predicted = f(small, "accounted_bytes") / f(small, "n").max(1.0) * f(big, "n");
            let measured = f(big, "rss_after_search") - f(big, "rss_before_open");
            println!(
                "| {scheme} | {:.1} MB at {} | {:.1} MB RSS ({:.1} MB accounted) | {:+.1}% |",
                predicted / 1e6,
                f(big, "n"),
                measured / 1e6,
                f(big, "accounted_bytes") / 1e6,
                (measured / predicted.max(1.0) - 1.0) * 100.0
            );
        }
    }
}

/// QPS at `target` recall, interpolated linearly between the ef points around it.
fn qps_at(runs: &[Value], target: f64) -> Option<f64> {
    let pts: Vec<(f64, f64)> = runs
        .iter()
        .filter_map(|r| Some((r["recall"].as_f64()?, r["qps"].as_f64()?)))
        .collect();
    pts.windows(2)
        .find_map(|w| {
            let ((r0, q0), (r1, q1)) = (w[0], w[1]);
            if r0 >= target {
                return Some(q0);
            }
            (r1 >= target && r1 > r0).then(|| q0 + (q1 - q0) * (target - r0) / (r1 - r0))
        })
        .or_else(|| pts.first().filter(|p| p.0 >= target).map(|p| p.1))
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let args = parse(&raw).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    if let Some(path) = &args.serve {
        serve(&args, path).unwrap_or_else(|e| fail(e));
        return;
    }
    let temp = tempfile::tempdir().unwrap_or_else(|e| fail(e));
    let dir = args
        .dir
        .as_ref()
        .map_or(temp.path().to_path_buf(), PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(e));
    let (base, dim, name, qpath, tpath) = data(&args, &dir).unwrap_or_else(|e| fail(e));
    let n = base.len() / dim;
    println!(
        "# {name}, {} metric, k={}, M={}, ef_construction={}, {} build threads, 1 search thread, SIMD {}",
        args.metric,
        args.k,
        args.m,
        args.ef_construction,
        args.threads,
        edgevec::simd::backend()
    );
    let mut results = Vec::new();
    for &scheme in &args.schemes {
        if let Some(r) = run_scheme(&args, scheme, &base, dim, &dir, &qpath, &tpath, &args.efs) {
            results.push(r);
        }
    }
    // The memory model: the same build at smaller sizes, each part per vector, so the figures
    // at n can be checked against (and other sizes predicted from) the smaller runs.
    let mut model = Vec::new();
    for &size in args.model.iter().filter(|&&m| m > 0 && m < n) {
        for &scheme in &args.schemes {
            eprintln!("model run: {scheme} at {size} vectors");
            let first = &args.efs[..1.min(args.efs.len())];
            if let Some(mut r) = run_scheme(
                &args,
                scheme,
                &base[..size * dim],
                dim,
                &dir,
                &qpath,
                &tpath,
                first,
            ) {
                r["n"] = json!(size);
                model.push(r);
            }
        }
    }
    for r in &results {
        let mut r = r.clone();
        r["n"] = json!(n);
        model.push(r);
    }
    if !args.model.is_empty() {
        print_model(&model, dim, args.m);
    }

    // Tables.
    println!(
        "\n| scheme | ef | recall@{} | QPS | p50 µs | p95 µs | p99 µs |",
        args.k
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let row = |scheme: &Value, ef: String, run: &Value| {
        let f = |k: &str| run[k].as_f64().unwrap_or(0.0);
        println!(
            "| {} | {ef} | {:.4} | {:.0} | {:.0} | {:.0} | {:.0} |",
            scheme.as_str().unwrap_or("?"),
            f("recall"),
            f("qps"),
            f("p50_us"),
            f("p95_us"),
            f("p99_us"),
        );
    };
    for r in &results {
        for run in r["runs"].as_array().into_iter().flatten() {
            row(&r["scheme"], run["ef"].to_string(), run);
        }
        let first = &r["first_pass"];
        if first.is_object() {
            let ef = format!("{} (first pass after opening)", first["ef"]);
            row(&r["scheme"], ef, first);
        }
    }
    let per = |r: &Value, key: &str| r[key].as_f64().unwrap_or(0.0) / n.max(1) as f64;
    println!(
        "\n| scheme | build s | file MB | open s | RAM B/vector (accounted) | RSS B/vector | peak RSS MB | budget d+8M+32 | QPS@0.95 | vs none |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let none_qps = results
        .iter()
        .find(|r| r["scheme"] == "none")
        .and_then(|r| qps_at(r["runs"].as_array()?, 0.95));
    let mut summary = BTreeMap::new();
    for r in &results {
        let runs = r["runs"].as_array().cloned().unwrap_or_default();
        let q95 = qps_at(&runs, 0.95);
        let rss_per = (r["rss_after_search"].as_f64().unwrap_or(0.0)
            - r["rss_before_open"].as_f64().unwrap_or(0.0))
            / n.max(1) as f64;
        println!(
            "| {} | {:.1} | {:.1} | {:.3} | {:.0} | {:.0} | {:.0} | {} | {} | {} |",
            r["scheme"].as_str().unwrap_or("?"),
            r["build_seconds"].as_f64().unwrap_or(0.0),
            r["file_bytes"].as_f64().unwrap_or(0.0) / 1e6,
            r["open_seconds"].as_f64().unwrap_or(0.0),
            per(r, "accounted_bytes"),
            rss_per,
            r["peak_rss"].as_f64().unwrap_or(0.0) / 1e6,
            dim + 8 * args.m + 32,
            q95.map_or("—".into(), |q| format!("{q:.0}")),
            match (q95, none_qps) {
                (Some(q), Some(b)) => format!("{:.2}x", q / b),
                _ => "—".into(),
            },
        );
        summary.insert(
            r["scheme"].as_str().unwrap_or("?").to_string(),
            json!({"qps_at_0.95": q95, "rss_bytes_per_vector": rss_per,
                   "accounted_bytes_per_vector": per(r, "accounted_bytes")}),
        );
    }
    if let Some(path) = &args.json {
        let report = json!({
            "data": name,
            "n": n,
            "dimensions": dim,
            "metric": args.metric.to_string(),
            "k": args.k,
            "m": args.m,
            "ef_construction": args.ef_construction,
            "build_threads": args.threads,
            "search_threads": 1,
            "machine": machine(),
            "command": format!("cargo run --release -p edgevec --example bench -- {}", raw.join(" ")),
            "results": results,
            "summary": summary,
        });
        std::fs::write(
            path,
            serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        )
        .unwrap_or_else(|e| fail(e));
        eprintln!("wrote {path}");
    }
}
