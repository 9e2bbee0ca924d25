//! `cargo xtask <command>`: EdgeVec's project automation (a plain binary, no dependencies).
//!
//! Run `cargo xtask help` for the list of commands.

mod aarch64;
mod bench_1m;
mod bench_simd;
mod fuzz;
mod toolchain;
mod util;
mod wasm;

use util::{Result, cargo, run};

const HELP: &str = "\
cargo xtask <command>

  test [--native-only]   every test: the workspace natively, again with EDGEVEC_SIMD=scalar,
                         then edgevec-simd for wasm32+simd128 in Node and for aarch64 (NEON)
                         under qemu (installs the cross toolchains when missing; root + apt)
  wasm-setup             install the wasm32 toolchain (Debian Rust + std source, wasm-ld,
                         wabt, wasm-bindgen-cli)
  wasm-test              edgevec-simd tests for wasm32+simd128 in Node, edgevec-wasm's
                         wasm-bindgen tests in Node and headless Chromium, and a check that the
                         release .wasm really contains SIMD instructions
  wasm                   build the npm package into crates/edgevec-wasm/pkg (checks SIMD,
                         prints the gzipped size)
  wasm-js-test           build and pack the npm package, then its JavaScript tests (node --test):
                         API, package files, CLI interop, browser end-to-end (headless Chromium)
  aarch64-test           edgevec-simd tests for aarch64-unknown-linux-gnu under qemu-user
  fuzz [--target T] [--seconds S] [--smoke]
                         run the cargo-fuzz targets under fuzz/ (nightly; installs cargo-fuzz);
                         --smoke: every target for 20 s (CI)
  bench-simd [--quick]   SIMD vs scalar ratio table (and simsimd, if it can be installed) for
                         dims 128/384/768/1536; writes docs/bench/simd.md and simd.json
  bench-1m [--n 1000000] [--dims 768] [--quantization u8] [--threads 2] [--input FILE]
           [--quick]     build, save and serve an index of n vectors from a fresh process:
                         open time, peak RSS, p50/p95/p99 latency, QPS, recall@10 (exact truth
                         on 200 queries), with a per-part memory model from 10k and 100k runs;
                         writes docs/bench/bench-1m.md and .json (--quick: 100k, target/)
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("wasm-setup") => wasm::setup(),
        Some("wasm-test") => wasm::test(),
        Some("wasm") => wasm::package().map(|_| ()),
        Some("wasm-js-test") => wasm::js_test(),
        Some("aarch64-test") => aarch64::test(),
        Some("bench-simd") => bench_simd::run(&args[1..]),
        Some("bench-1m") => bench_1m::run(&args[1..]),
        Some("fuzz") => fuzz::run_fuzz(&args[1..]),
        None | Some("help" | "--help" | "-h") => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{HELP}").into()),
    };
    if let Err(e) = result {
        eprintln!("xtask: error: {e}");
        std::process::exit(1);
    }
}

/// The one test command (README.md and .ci/run both call it).
fn test(args: &[String]) -> Result {
    let native_only = match args {
        [] => false,
        [flag] if flag == "--native-only" => true,
        _ => {
            return Err(format!(
                "unexpected arguments {args:?}; usage: cargo xtask test [--native-only]"
            )
            .into());
        }
    };
    run(cargo().args(["test", "--workspace", "--all-targets"]))?;
    run(cargo().args(["test", "--workspace", "--doc"]))?;
    eprintln!("xtask: the same suite again with the scalar kernels forced (EDGEVEC_SIMD=scalar)");
    run(cargo()
        .args(["test", "--workspace", "--all-targets"])
        .env("EDGEVEC_SIMD", "scalar"))?;
    if native_only {
        return Ok(());
    }
    wasm::test()?;
    aarch64::test()?;
    Ok(())
}
