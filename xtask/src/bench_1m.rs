//! `cargo xtask bench-1m [--n 1000000] [--dims 768] [--quantization u8] [--threads 2]
//! [--input FILE.fvecs] [--quick]`: the 1M-vector benchmark.
//!
//! Runs the facade's `bench` example (`crates/edgevec/examples/bench.rs`) in release: it really
//! builds the index of n vectors (synthetic clustered embeddings by default, or the rows of
//! `--input` with its last 1,000 rows as queries), saves it, and serves it from a fresh process
//! — open time, peak resident set (open + searches), latency p50/p95/p99 measured over 1,000
//! queries on one thread, QPS and recall@10 against exact brute force on a sample of 200
//! queries — after model runs at 10k and 100k vectors that give the memory per vector by part
//! and predict the figure at n. The table goes to stdout and `docs/bench/bench-1m.md`, the full
//! report (with the machine) to `docs/bench/bench-1m.json`; `--quick` (100k vectors, model at
//! 10k) writes under `target/bench-1m/` instead, so quick figures never replace the published
//! ones.

use std::fmt::Write as _;

use crate::util::{Result, cargo, output, project_root};

pub(crate) fn run(args: &[String]) -> Result {
    let mut n: usize = 1_000_000;
    let mut dims: usize = 768;
    let mut quantization = "u8".to_string();
    let mut threads: usize = 2;
    let mut input: Option<String> = None;
    let mut quick = false;
    let mut it = args.iter();
    let usage = "usage: cargo xtask bench-1m [--n N] [--dims D] [--quantization none|u8|i8|binary] \
                 [--threads T] [--input FILE.fvecs] [--quick]";
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| format!("{a} needs a value; {usage}"))
        };
        let num = |v: &String| v.parse::<usize>().map_err(|e| format!("{a} {v}: {e}"));
        match a.as_str() {
            "--n" => n = num(val()?)?,
            "--dims" => dims = num(val()?)?,
            "--quantization" => quantization = val()?.clone(),
            "--threads" => threads = num(val()?)?,
            "--input" => input = Some(val()?.clone()),
            "--quick" => quick = true,
            other => return Err(format!("unexpected argument `{other}`; {usage}").into()),
        }
    }
    if quick {
        n = n.min(100_000);
    }
    let root = project_root();
    let out_dir = if quick {
        root.join("target/bench-1m")
    } else {
        root.join("docs/bench")
    };
    std::fs::create_dir_all(&out_dir)?;
    let json = out_dir.join("bench-1m.json");
    let work = root.join("target/bench-1m/work");
    std::fs::create_dir_all(&work)?;
    let model = if quick { "10000" } else { "10000,100000" };

    let mut c = cargo();
    c.args([
        "run",
        "--release",
        "-p",
        "edgevec",
        "--example",
        "bench",
        "--",
    ]);
    match &input {
        Some(file) => {
            c.args(["--input", file]);
        }
        None => {
            c.args(["--synthetic", &format!("{n}x{dims}")]);
        }
    }
    c.args(["--schemes", &quantization]);
    c.args(["--threads", &threads.to_string()]);
    c.args(["--ef", "32,64,128,256"]);
    c.args(["--n-queries", "1000", "--truth-queries", "200"]);
    c.args(["--model", model]);
    c.arg("--dir").arg(&work);
    c.arg("--json").arg(&json);
    let command = format!(
        "cargo xtask bench-1m {}",
        args.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    );
    eprintln!("xtask: {command}");
    let table = output(&mut c)?;
    print!("{table}");
    let mut md = String::new();
    let _ = writeln!(md, "# `{}`\n", command.trim());
    let _ = writeln!(
        md,
        "Written by `cargo xtask bench-1m` (the full report, with the machine, is in `{}`).\n",
        json.file_name()
            .map_or(String::new(), |f| f.to_string_lossy().into_owned())
    );
    md.push_str(&table);
    std::fs::write(out_dir.join("bench-1m.md"), md)?;
    eprintln!("xtask: wrote {}", out_dir.join("bench-1m.md").display());
    Ok(())
}
