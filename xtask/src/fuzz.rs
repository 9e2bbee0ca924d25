//! `cargo xtask fuzz [--target T] [--seconds S] [--smoke]`: the cargo-fuzz targets under fuzz/.
//!
//! Uses the nightly toolchain for this command only (cargo-fuzz needs it; everything else builds
//! on stable) and installs cargo-fuzz with the stable cargo when it is missing. Each target runs
//! on a writable corpus under target/fuzz-corpus/<target> seeded from the committed inputs in
//! fuzz/seeds/<target>; crashes land in fuzz/artifacts/<target> (git-ignored) and should become
//! regression tests. `--smoke` runs every target briefly (CI); a campaign is a long `--seconds`.
//! Every target runs with libFuzzer's memory limits, so an input that makes a reader allocate
//! what a length field claims is a crash like any other (docs/FUZZING.md).

use std::path::Path;

use crate::util::{Result, cargo, cmd, output, project_root, run};

const SMOKE_SECONDS: u64 = 20;
/// libFuzzer's `-malloc_limit_mb`: the largest single allocation an input may cause.
const MALLOC_LIMIT_MB: u64 = 512;
/// libFuzzer's `-rss_limit_mb`: the most memory the fuzzing process may hold.
const RSS_LIMIT_MB: u64 = 2048;

pub(crate) fn run_fuzz(args: &[String]) -> Result {
    let mut target = None;
    let mut seconds = None;
    let mut smoke = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--target" => target = Some(it.next().ok_or("--target needs a name")?.clone()),
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a number")?;
                seconds = Some(
                    v.parse::<u64>()
                        .map_err(|e| format!("--seconds {v}: {e}"))?,
                );
            }
            "--smoke" => smoke = true,
            other => {
                return Err(format!(
                    "unexpected argument `{other}`; usage: cargo xtask fuzz [--target T] \
                     [--seconds S] [--smoke]"
                )
                .into());
            }
        }
    }
    ensure_cargo_fuzz()?;
    let fuzz_dir = project_root().join("fuzz");
    let listed = output(
        cmd("cargo")
            .current_dir(&fuzz_dir)
            .args(["+nightly", "fuzz", "list"]),
    )?;
    let all: Vec<String> = listed
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let targets = match target {
        Some(t) if all.contains(&t) => vec![t],
        Some(t) => return Err(format!("no fuzz target `{t}`; targets: {}", all.join(", ")).into()),
        None => all,
    };
    let seconds = seconds.unwrap_or(if smoke { SMOKE_SECONDS } else { 600 });
    for t in &targets {
        let corpus = project_root().join("target/fuzz-corpus").join(t);
        std::fs::create_dir_all(&corpus)?;
        let seeds = fuzz_dir.join("seeds").join(t);
        eprintln!("xtask: fuzzing `{t}` for {seconds} s");
        let mut c = cmd("cargo");
        c.current_dir(&fuzz_dir)
            .args(["+nightly", "fuzz", "run", t])
            .arg(&corpus);
        if seeds.is_dir() {
            c.arg(&seeds);
        }
        c.arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            // Keep single inputs small: the targets cap their own work, this caps parsing.
            .arg("-max_len=4096")
            // A single allocation above 512 MiB, or a process above 2 GiB, is a finding: no
            // input of at most 4 KiB may make a reader trust a length it read.
            .arg(format!("-malloc_limit_mb={MALLOC_LIMIT_MB}"))
            .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
            // rayon's thread pools (batch inserts) keep allocations alive across inputs, which
            // makes LeakSanitizer rescan the heap after most inputs (a third of the time) and
            // report their thread-local destructors at exit; memory that keeps growing still
            // trips -rss_limit_mb. libFuzzer's flag covers the inputs, ASAN_OPTIONS the exit.
            .arg("-detect_leaks=0")
            .env("ASAN_OPTIONS", asan_options());
        run(&mut c)?;
        report_corpus(t, &corpus);
    }
    Ok(())
}

/// The caller's `ASAN_OPTIONS` with leak detection off (cargo-fuzz appends its own).
fn asan_options() -> String {
    let mut options = std::env::var("ASAN_OPTIONS").unwrap_or_default();
    if !options.is_empty() {
        options.push(':');
    }
    options.push_str("detect_leaks=0");
    options
}

fn report_corpus(target: &str, corpus: &Path) {
    let n = std::fs::read_dir(corpus).map(|d| d.count()).unwrap_or(0);
    eprintln!(
        "xtask: `{target}`: no crash; corpus now holds {n} inputs ({})",
        corpus.display()
    );
}

/// Installs cargo-fuzz (with the stable cargo: it is an ordinary binary) unless present.
fn ensure_cargo_fuzz() -> Result {
    let present = cmd("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}
