//! wasm32 + simd128: `cargo xtask wasm-setup`, `wasm-test`, `wasm` (the npm package) and
//! `wasm-js-test` (the package's JavaScript tests).
//!
//! The build uses Debian's Rust with `-Z build-std` (see `toolchain.rs`), `wasm-ld` from `lld` as
//! the linker, `wasm-bindgen-test-runner` to run `#[wasm_bindgen_test]` tests in Node and in
//! headless Chromium (Debian's `chromium` + `chromium-driver`), and `wasm-objdump` from `wabt`
//! to check that a release `.wasm` really contains SIMD instructions.
//!
//! All wasm32 settings are passed as environment variables of the one cargo invocation (nothing
//! in `.cargo/config.toml`), and the build goes to its own target directory, so the native stable
//! build never sees build-std and the two toolchains never invalidate each other's artifacts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::toolchain::{debian_cargo, ensure_debian_rust};
use crate::util::{Result, apt_install, cargo, cmd, output, project_root, run};

/// The wasm-bindgen version the CLI and the crates in Cargo.lock must agree on exactly.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
const TARGET: &str = "wasm32-unknown-unknown";
/// Target directory of the wasm32 build, relative to the workspace root.
const TARGET_DIR: &str = "target/wasm32";
/// The example whose release `.wasm` is inspected for SIMD instructions.
const SIMD_EXAMPLE: &str = "wasm_kernels";
/// The crate behind the npm package, and where the package is written.
const PKG_CRATE: &str = "edgevec-wasm";
const PKG_DIR: &str = "crates/edgevec-wasm/pkg";
/// Hand-written package files (entry module, types, README, package.json template).
const PKG_JS_DIR: &str = "crates/edgevec-wasm/js";
/// Cargo profile of the package's .wasm (workspace Cargo.toml: opt-level "s", LTO).
const PKG_PROFILE: &str = "wasm-release";
/// The JavaScript test files (`node --test`).
const JS_TEST_DIR: &str = "crates/edgevec-wasm/tests/js";
/// Debian's browser and its WebDriver, for the browser tests.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Installs what the wasm32 build needs, skipping whatever is already there.
pub(crate) fn setup() -> Result {
    ensure_debian_rust(&["lld", "wabt"])?;
    ensure_wasm_bindgen_cli()?;
    check_lockfile()
}

/// The edgevec-simd test suite for wasm32 + simd128 in Node, the edgevec-wasm suite in Node
/// and in headless Chromium, then the release SIMD check.
pub(crate) fn test() -> Result {
    setup()?;
    eprintln!("xtask: edgevec-simd tests for {TARGET} + simd128 in Node");
    run(wasm_cargo().args([
        "test",
        "-p",
        "edgevec-simd",
        "--target",
        TARGET,
        "-Z",
        "build-std=std,panic_abort",
    ]))?;
    let package_tests = [
        "test",
        "-p",
        PKG_CRATE,
        "--target",
        TARGET,
        "-Z",
        "build-std=std,panic_abort",
    ];
    eprintln!("xtask: {PKG_CRATE} wasm-bindgen tests in Node");
    run(wasm_cargo().args(package_tests))?;
    ensure_browser()?;
    eprintln!("xtask: {PKG_CRATE} wasm-bindgen tests in headless Chromium");
    // The runner reads crates/edgevec-wasm/webdriver.json (headless, no sandbox: root).
    run(wasm_cargo()
        .args(package_tests)
        .env("WASM_BINDGEN_USE_BROWSER", "1")
        .env("CHROMEDRIVER", CHROMEDRIVER))?;
    eprintln!("xtask: release build of example `{SIMD_EXAMPLE}`, checked for SIMD instructions");
    run(wasm_cargo().args([
        "build",
        "-p",
        "edgevec-simd",
        "--release",
        "--example",
        SIMD_EXAMPLE,
        "--target",
        TARGET,
        "-Z",
        "build-std=std,panic_abort",
    ]))?;
    let wasm = project_root()
        .join(TARGET_DIR)
        .join(TARGET)
        .join("release/examples")
        .join(format!("{SIMD_EXAMPLE}.wasm"));
    check_simd(&wasm)?;
    eprintln!("xtask: the release .wasm's exports against plain JavaScript in Node");
    let script = project_root().join(TARGET_DIR).join("check-release.js");
    std::fs::write(&script, NODE_CHECK)
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    run(cmd("node").arg(&script).arg(&wasm))
}

/// Installs Chromium and chromedriver from Debian unless both are there.
fn ensure_browser() -> Result {
    if Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file() {
        return Ok(());
    }
    apt_install(&["chromium", "chromium-driver"])
}

/// `cargo xtask wasm`: builds the npm package into crates/edgevec-wasm/pkg and returns its
/// path. The release .wasm (profile `wasm-release`, +simd128) goes through wasm-bindgen
/// (`--target web`: an ES module whose init takes a URL, bytes or a compiled module), then the
/// hand-written files of crates/edgevec-wasm/js are copied beside it. Fails unless the shipped
/// .wasm contains SIMD instructions; prints its raw and gzipped sizes.
pub(crate) fn package() -> Result<PathBuf> {
    setup()?;
    let root = project_root();
    eprintln!("xtask: release build of {PKG_CRATE} (profile {PKG_PROFILE}, +simd128)");
    // `-C panic=immediate-abort` (unstable, hence -Zunstable-options; the build already needs
    // RUSTC_BOOTSTRAP for build-std): a panic traps at once instead of formatting a message
    // first. No input reaches a panic (the crate's tests check), and leaving std's panic
    // machinery out saves 9.5 KB of the gzipped .wasm at the same speed (measured).
    run(wasm_cargo()
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
            "-C target-feature=+simd128 -Z unstable-options -C panic=immediate-abort",
        )
        .args([
            "build",
            "-p",
            PKG_CRATE,
            "--profile",
            PKG_PROFILE,
            "--target",
            TARGET,
            "-Z",
            "build-std=std,panic_abort",
        ]))?;
    let built = root
        .join(TARGET_DIR)
        .join(TARGET)
        .join(PKG_PROFILE)
        .join("edgevec_wasm.wasm");
    let pkg = root.join(PKG_DIR);
    if pkg.exists() {
        std::fs::remove_dir_all(&pkg)
            .map_err(|e| format!("cannot remove {}: {e}", pkg.display()))?;
    }
    run(cmd("wasm-bindgen")
        .env("PATH", path_with_cargo_bin())
        .args(["--target", "web", "--out-name", "edgevec_wasm"])
        .args(["--remove-name-section", "--remove-producers-section"])
        .arg("--out-dir")
        .arg(&pkg)
        .arg(&built))?;
    // Types of the raw .wasm exports: nothing imports them.
    let _ = std::fs::remove_file(pkg.join("edgevec_wasm_bg.wasm.d.ts"));
    let js = root.join(PKG_JS_DIR);
    for file in ["edgevec.js", "storage.js", "edgevec.d.ts", "README.md"] {
        std::fs::copy(js.join(file), pkg.join(file))
            .map_err(|e| format!("cannot copy {file} into {}: {e}", pkg.display()))?;
    }
    let template = read(&js.join("package.json"))?;
    let version = workspace_version()?;
    let placeholder = "\"version\": \"0.0.0\"";
    if !template.contains(placeholder) {
        return Err(format!("{PKG_JS_DIR}/package.json lacks {placeholder}").into());
    }
    let manifest = template.replace(placeholder, &format!("\"version\": \"{version}\""));
    write(&pkg.join("package.json"), &manifest)?;

    let wasm = pkg.join("edgevec_wasm_bg.wasm");
    check_simd(&wasm)?;
    let raw = std::fs::metadata(&wasm)
        .map_err(|e| format!("cannot read {}: {e}", wasm.display()))?
        .len();
    let gz = gzip_size(&wasm)?;
    eprintln!(
        "xtask: npm package edgevec-wasm {version} written to {}\n\
         xtask: edgevec_wasm_bg.wasm: {raw} bytes, {gz} bytes gzipped (-9; goal <= 150,000)",
        pkg.display()
    );
    Ok(pkg)
}

/// Bytes of `file` compressed with `gzip -9`.
fn gzip_size(file: &Path) -> Result<u64> {
    let out = output(
        Command::new("sh")
            .arg("-c")
            .arg(format!("gzip -9 -c '{}' | wc -c", file.display())),
    )?;
    out.trim()
        .parse()
        .map_err(|e| format!("unexpected `wc -c` output {out:?}: {e}").into())
}

/// The `version` of `[workspace.package]` in the workspace Cargo.toml.
fn workspace_version() -> Result<String> {
    let manifest = read(&project_root().join("Cargo.toml"))?;
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package && let Some(v) = line.strip_prefix("version") {
            let v = v
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            return Ok(v.to_owned());
        }
    }
    Err("no version in [workspace.package] of Cargo.toml".into())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()).into())
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

/// `cargo xtask wasm-js-test`: builds the package, packs it with `npm pack` and extracts the
/// tarball (so the tests see exactly what users install), builds the native CLI (interop), and
/// runs the JavaScript tests with `node --test`: the API in Node, the package's file list, the
/// CLI interop both ways, and the browser end-to-end test in headless Chromium.
pub(crate) fn js_test() -> Result {
    let pkg = package()?;
    ensure_browser()?;
    eprintln!("xtask: release build of the edgevec CLI (interop tests)");
    run(cargo().args(["build", "--release", "-p", "edgevec-cli"]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    let cli = target.join("release").join("edgevec");

    let scratch = project_root().join(TARGET_DIR).join("js-test");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .map_err(|e| format!("cannot remove {}: {e}", scratch.display()))?;
    }
    let extract = scratch.join("extract");
    std::fs::create_dir_all(&extract)
        .map_err(|e| format!("cannot create {}: {e}", extract.display()))?;
    run(cmd("npm")
        .current_dir(&pkg)
        .args(["pack", "--silent", "--pack-destination"])
        .arg(&scratch))?;
    let tarball = scratch.join(format!("edgevec-wasm-{}.tgz", workspace_version()?));
    run(cmd("tar").arg("-xzf").arg(&tarball).arg("-C").arg(&extract))?;

    let dir = project_root().join(JS_TEST_DIR);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    eprintln!("xtask: JavaScript tests against the packed package");
    run(cmd("node")
        .arg("--test")
        .args(&files)
        .env("EDGEVEC_PKG", extract.join("package"))
        .env("EDGEVEC_PKG_SRC", &pkg)
        .env("EDGEVEC_CLI", &cli)
        .env("EDGEVEC_SCRATCH", &scratch)
        .env("CHROMIUM", CHROMIUM)
        .env("CHROMEDRIVER", CHROMEDRIVER))
}

/// Loads the release example (it has no imports), runs its exported kernels on 1,001 elements
/// (whole vectors plus a partial tail) in a fresh memory page, and compares with plain JavaScript.
const NODE_CHECK: &str = r#"
// Runs the exported kernels of the release .wasm and compares them with plain JavaScript.
const fs = require('fs');
const bytes = fs.readFileSync(process.argv[2]);
const e = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports;
const n = 1001;
const base = e.memory.grow(1) * 65536; // a fresh page nothing else uses
const fa = new Float32Array(e.memory.buffer, base, n);
const fb = new Float32Array(e.memory.buffer, base + 4 * n, n);
const ua = new Uint8Array(e.memory.buffer, base + 8 * n, n);
const ub = new Uint8Array(e.memory.buffer, base + 9 * n, n);
let seed = 12345;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
for (let i = 0; i < n; i++) { fa[i] = rnd() * 2 - 1; fb[i] = rnd() * 2 - 1; ua[i] = rnd() * 256; ub[i] = rnd() * 256; }
let dot = 0, l2 = 0, mag = 0, du8 = 0, di8 = 0, ham = 0;
const s8 = (x) => (x << 24) >> 24;
for (let i = 0; i < n; i++) {
  dot += fa[i] * fb[i]; mag += Math.abs(fa[i] * fb[i]); l2 += (fa[i] - fb[i]) ** 2;
  du8 += ua[i] * ub[i]; di8 += s8(ua[i]) * s8(ub[i]);
  let x = ua[i] ^ ub[i]; while (x) { ham += x & 1; x >>= 1; }
}
const tol = (n + 2) * 1.2e-7 * mag;
const bad = [];
if (Math.abs(e.edgevec_dot(base, base + 4 * n, n) - dot) > tol) bad.push('dot');
if (Math.abs(e.edgevec_l2_squared(base, base + 4 * n, n) - l2) > (n + 2) * 1.2e-7 * l2) bad.push('l2_squared');
if ((e.edgevec_dot_u8(base + 8 * n, base + 9 * n, n) >>> 0) !== du8) bad.push('dot_u8');
if (e.edgevec_dot_i8(base + 8 * n, base + 9 * n, n) !== di8) bad.push('dot_i8');
if ((e.edgevec_hamming(base + 8 * n, base + 9 * n, n) >>> 0) !== ham) bad.push('hamming');
if (bad.length) { console.error('release .wasm gives wrong results for: ' + bad.join(', ')); process.exit(1); }
console.log('release .wasm: dot, l2_squared, dot_u8, dot_i8, hamming agree with JavaScript (n = ' + n + ')');
"#;

/// `cargo +debian-web` configured for wasm32 + simd128 through environment variables only.
fn wasm_cargo() -> Command {
    let mut c = debian_cargo();
    c.env("CARGO_TARGET_DIR", project_root().join(TARGET_DIR))
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", "wasm-ld")
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
            "-C target-feature=+simd128",
        )
        // Plain RUSTFLAGS would override the per-target flags (and also apply to build-std).
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("PATH", path_with_cargo_bin());
    c
}

/// Where `cargo install` puts binaries: `$CARGO_HOME/bin`, by default `~/.cargo/bin`.
fn cargo_bin() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    home.join("bin")
}

/// PATH with the cargo bin directory in front, so that cargo finds `wasm-bindgen-test-runner`.
fn path_with_cargo_bin() -> std::ffi::OsString {
    let mut dirs = vec![cargo_bin()];
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// Installs wasm-bindgen-cli (`wasm-bindgen`, `wasm-bindgen-test-runner`) at exactly
/// [`WASM_BINDGEN_VERSION`] with rustup's stable cargo, unless that version is installed.
fn ensure_wasm_bindgen_cli() -> Result {
    let bin = cargo_bin();
    let installed = Command::new(bin.join("wasm-bindgen"))
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let want = format!("wasm-bindgen {WASM_BINDGEN_VERSION}");
    let runner_present = bin.join("wasm-bindgen-test-runner").is_file();
    if installed.as_deref() == Some(want.as_str()) && runner_present {
        return Ok(());
    }
    match &installed {
        Some(v) => eprintln!("xtask: found `{v}`, need `{want}`; installing wasm-bindgen-cli"),
        None => eprintln!("xtask: installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} (~3 min)"),
    }
    // No `--locked`: one of the CLI's locked dependency versions is no longer in the registry.
    run(cmd("cargo")
        .args([
            "+stable",
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN_VERSION,
            "--force",
        ])
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("CARGO_TARGET_DIR"))?;
    let now = output(Command::new(bin.join("wasm-bindgen")).arg("--version"))?;
    if now.trim() != want {
        return Err(format!(
            "after installing, `wasm-bindgen --version` says `{}`",
            now.trim()
        )
        .into());
    }
    Ok(())
}

/// The test runner only works with test binaries built against the very same wasm-bindgen
/// version, so Cargo.lock must resolve `wasm-bindgen` to [`WASM_BINDGEN_VERSION`].
fn check_lockfile() -> Result {
    let path = project_root().join("Cargo.lock");
    let lock = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let versions = locked_versions(&lock, "wasm-bindgen");
    match versions.as_slice() {
        [v] if v == WASM_BINDGEN_VERSION => Ok(()),
        // Not resolved yet: the `=` pins in crates/edgevec-simd and crates/edgevec-wasm decide.
        [] => Ok(()),
        other => Err(format!(
            "Cargo.lock resolves wasm-bindgen to {other:?}, but wasm-bindgen-cli is \
             {WASM_BINDGEN_VERSION}; keep `wasm-bindgen = \"={WASM_BINDGEN_VERSION}\"` in \
             crates/edgevec-simd/Cargo.toml and crates/edgevec-wasm/Cargo.toml (or bump them \
             and the CLI together)"
        )
        .into()),
    }
}

/// Every `version` Cargo.lock records for package `name`.
fn locked_versions(lock: &str, name: &str) -> Vec<String> {
    let want = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    let mut found = Vec::new();
    while let Some(line) = lines.next() {
        if line.trim() == want
            && let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
        {
            found.push(v.trim_matches('"').to_owned());
        }
    }
    found
}

/// Disassembles `wasm` and fails unless it contains f32x4, i16x8 and i32x4 instructions.
fn check_simd(wasm: &std::path::Path) -> Result {
    let listing = output(cmd("wasm-objdump").arg("-d").arg(wasm))?;
    let count = |prefix: &str| {
        listing
            .lines()
            .filter(|l| {
                l.split('|')
                    .nth(1)
                    .is_some_and(|ins| ins.trim_start().starts_with(prefix))
            })
            .count()
    };
    let (f32x4, i16x8, i32x4) = (count("f32x4."), count("i16x8."), count("i32x4."));
    let (i8x16, v128) = (count("i8x16."), count("v128."));
    // Instructions only the hand-written integer kernels use (l2_i8, hamming, dot_i8).
    let (dot, popcnt, extmul_s) = (
        count("i32x4.dot_i16x8_s"),
        count("i8x16.popcnt"),
        count("i16x8.extmul_low_i8x16_s"),
    );
    eprintln!(
        "xtask: SIMD instructions in {}: f32x4 {f32x4}, i16x8 {i16x8}, i32x4 {i32x4}, \
         i8x16 {i8x16}, v128 {v128} (of which i32x4.dot_i16x8_s {dot}, i8x16.popcnt {popcnt}, \
         i16x8.extmul_low_i8x16_s {extmul_s})",
        wasm.display()
    );
    if f32x4 == 0 || i16x8 == 0 || i32x4 == 0 {
        return Err(format!(
            "{} lacks SIMD instructions (f32x4 {f32x4}, i16x8 {i16x8}, i32x4 {i32x4}): the \
             simd128 kernels did not ship",
            wasm.display()
        )
        .into());
    }
    Ok(())
}
