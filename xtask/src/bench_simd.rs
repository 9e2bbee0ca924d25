//! `cargo xtask bench-simd [--quick]`: the SIMD acceptance benchmark.
//!
//! 1. `simd_report` (an edgevec-simd example, release build) measures every kernel on every
//!    backend this machine runs over 1,024 fixed-seed vector pairs per dimension, and dumps the
//!    exact vectors; a second, shorter run over 16 pairs gives cache-hot figures.
//! 2. A venv under `target/peers-venv` gets `simsimd` and `numpy` from the Python package index
//!    (when missing), and `benches/peers/simsimd_bench.py` measures simsimd's batch API on the
//!    dumped vectors. When Python or pip fails, the table is printed without the simsimd columns.
//! 3. One markdown table (and JSON) combines both: `docs/bench/simd.md` and `docs/bench/simd.json`,
//!    with the command, date, CPU, rustc and simsimd versions. `--quick` (few short rounds, a CI
//!    smoke test) writes them under `target/simd-bench/` instead, so that quick, noisy figures
//!    never replace the published ones.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::util::{self, Result, cargo, cmd, have, output, project_root};

/// Pairs per dimension of the main run (the working set of f32 at 768-d is then 6 MiB: L3).
const PAIRS: usize = 1024;
/// Pairs per dimension of the cache-hot run.
const HOT_PAIRS: usize = 16;
const SCRIPT: &str = "benches/peers/simsimd_bench.py";
const VENV: &str = "target/peers-venv";
const WORK: &str = "target/simd-bench";

pub(crate) fn run(args: &[String]) -> Result {
    let quick = match args {
        [] => false,
        [flag] if flag == "--quick" => true,
        _ => {
            return Err(format!(
                "unexpected arguments {args:?}; usage: cargo xtask bench-simd [--quick]"
            )
            .into());
        }
    };
    let root = project_root();
    let work = root.join(WORK);
    let data = work.join("data");
    std::fs::create_dir_all(&work)?;
    let ours_json = work.join("edgevec.json");
    let hot_json = work.join("edgevec-hot.json");
    let peer_json = work.join("simsimd.json");
    for f in [&ours_json, &hot_json, &peer_json] {
        let _ = std::fs::remove_file(f);
    }

    let report = |extra: &[&str]| {
        let mut c = cargo();
        c.args([
            "run",
            "--release",
            "-p",
            "edgevec-simd",
            "--example",
            "simd_report",
            "--",
        ]);
        if quick {
            c.arg("--quick");
        }
        c.args(extra);
        c
    };
    let pairs = PAIRS.to_string();
    let hot_pairs = HOT_PAIRS.to_string();
    eprintln!("xtask: EdgeVec kernels, {PAIRS} pairs per dimension (vectors dumped for simsimd)");
    util::run(&mut report(&[
        "--pairs",
        &pairs,
        "--dump",
        &path_str(&data),
        "--json",
        &path_str(&ours_json),
    ]))?;
    eprintln!("xtask: EdgeVec kernels, {HOT_PAIRS} cache-hot pairs per dimension");
    util::run(&mut report(&[
        "--pairs",
        &hot_pairs,
        "--json",
        &path_str(&hot_json),
    ]))?;

    let peer = match simsimd(&data, &peer_json, quick) {
        Ok(()) => Some(Json::parse(&std::fs::read_to_string(&peer_json)?)?),
        Err(e) => {
            eprintln!("xtask: warning: no simsimd comparison: {e}");
            None
        }
    };
    let ours = Json::parse(&std::fs::read_to_string(&ours_json)?)?;
    let hot = Json::parse(&std::fs::read_to_string(&hot_json)?)?;

    let env = Env::detect(quick, peer.as_ref());
    let tables = Tables::build(&ours, &hot, peer.as_ref())?;
    let md = tables.markdown(&env, &ours, peer.as_ref());
    let json = tables.json(&env, &ours, peer.as_ref());
    print!("\n{md}");
    let out_dir = if quick {
        work.clone()
    } else {
        root.join("docs/bench")
    };
    std::fs::create_dir_all(&out_dir)?;
    std::fs::write(out_dir.join("simd.md"), &md)?;
    std::fs::write(out_dir.join("simd.json"), &json)?;
    eprintln!(
        "xtask: wrote {} and simd.json{}",
        out_dir.join("simd.md").display(),
        if quick {
            " (--quick: docs/bench/ is left alone)"
        } else {
            ""
        }
    );
    Ok(())
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Prepares the venv (when needed) and runs the simsimd script; the JSON it writes is the result.
fn simsimd(data: &Path, json: &Path, quick: bool) -> Result {
    if !have("python3") {
        return Err("python3 is not on PATH".into());
    }
    let venv = project_root().join(VENV);
    let python = venv.join("bin/python");
    if !python.is_file() {
        util::run(cmd("python3").args(["-m", "venv"]).arg(&venv))
            .map_err(|e| format!("cannot create the venv {}: {e}", venv.display()))?;
    }
    let importable = |p: &PathBuf| {
        cmd(&path_str(p))
            .args(["-c", "import simsimd, numpy"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !importable(&python) {
        util::run(cmd(&path_str(&python)).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "simsimd",
            "numpy",
        ]))
        .map_err(|e| format!("pip could not install simsimd and numpy: {e}"))?;
    }
    let mut c = cmd(&path_str(&python));
    c.arg(SCRIPT)
        .arg("--data")
        .arg(data)
        .arg("--json")
        .arg(json);
    if quick {
        c.arg("--quick");
    }
    let status = util::run(&mut c);
    if json.is_file() {
        // A failed sanity check still writes the figures (flagged `sanity_ok: false`).
        if let Err(e) = status {
            eprintln!("xtask: warning: {e}");
        }
        Ok(())
    } else {
        status.and(Err("the simsimd script wrote no results".into()))
    }
}

/// Where and how the figures were made.
struct Env {
    command: String,
    date: String,
    cpu: String,
    rustc: String,
    simsimd: String,
}

impl Env {
    fn detect(quick: bool, peer: Option<&Json>) -> Env {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let rustc = output(cmd("rustc").arg("-V"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let simsimd = peer.map_or_else(
            || "not measured (install failed or python3 missing)".into(),
            |p| {
                format!(
                    "{} (numpy {}, Python {}; capabilities: {})",
                    p.get("simsimd_version").as_str(),
                    p.get("numpy_version").as_str(),
                    p.get("python_version").as_str(),
                    p.get("capabilities")
                        .as_arr()
                        .iter()
                        .map(Json::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        );
        Env {
            command: format!(
                "cargo xtask bench-simd{}",
                if quick { " --quick" } else { "" }
            ),
            date: today(),
            cpu: format!("{cpu} ({cores} logical CPUs)"),
            rustc,
            simsimd,
        }
    }
}

/// Today's UTC date, `YYYY-MM-DD` (days-to-civil conversion; no dependencies).
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// One kernel at one dimension.
struct Row {
    kernel: String,
    dim: u64,
    unit: String,
    /// ns per pair/row, in `Tables::backends` order.
    ns: Vec<f64>,
    simsimd: Option<f64>,
}

struct Tables {
    backends: Vec<String>,
    dispatch: String,
    main: Vec<Row>,
    hot: Vec<Row>,
}

fn rows(report: &Json, backends: &[String], peer: Option<&Json>) -> Vec<Row> {
    report
        .get("results")
        .as_arr()
        .iter()
        .map(|r| {
            let kernel = r.get("kernel").as_str().to_string();
            let dim = r.get("dim").as_f64() as u64;
            let simsimd = peer.and_then(|p| {
                p.get("results")
                    .as_arr()
                    .iter()
                    .find(|x| {
                        x.get("kernel").as_str() == kernel && x.get("dim").as_f64() as u64 == dim
                    })
                    .map(|x| x.get("ns").as_f64())
            });
            Row {
                unit: r.get("unit").as_str().to_string(),
                ns: backends
                    .iter()
                    .map(|b| r.get("ns").get(b).as_f64())
                    .collect(),
                kernel,
                dim,
                simsimd,
            }
        })
        .collect()
}

fn x(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}x")
    } else {
        "-".into()
    }
}

impl Tables {
    fn build(ours: &Json, hot: &Json, peer: Option<&Json>) -> Result<Tables> {
        let backends: Vec<String> = ours
            .get("backends")
            .as_arr()
            .iter()
            .map(|b| b.as_str().to_string())
            .collect();
        if backends.first().map(String::as_str) != Some("scalar") {
            return Err("simd_report JSON lists no scalar backend".into());
        }
        Ok(Tables {
            dispatch: ours.get("dispatch").as_str().to_string(),
            main: rows(ours, &backends, peer),
            hot: rows(hot, &backends, None),
            backends,
        })
    }

    fn dispatch_index(&self) -> usize {
        self.backends
            .iter()
            .position(|b| *b == self.dispatch)
            .unwrap_or(0)
    }

    fn find<'a>(rows: &'a [Row], kernel: &str, dim: u64) -> Option<&'a Row> {
        rows.iter().find(|r| r.kernel == kernel && r.dim == dim)
    }

    fn speedup(row: &Row, i: usize) -> f64 {
        row.ns[0] / row.ns[i]
    }

    fn table(&self, rows: &[Row], with_peer: bool) -> String {
        let mut s = String::from("| kernel | dim | per |");
        for b in &self.backends {
            let _ = write!(s, " {b} ns |");
        }
        for b in &self.backends[1..] {
            let mark = if *b == self.dispatch {
                " (dispatch)"
            } else {
                ""
            };
            let _ = write!(s, " {b}{mark} vs scalar |");
        }
        if with_peer {
            s.push_str(" simsimd ns | EdgeVec / simsimd speed |");
        }
        s.push_str("\n|---|---:|---|");
        let cols = self.backends.len() * 2 - 1 + if with_peer { 2 } else { 0 };
        s.push_str(&"---:|".repeat(cols));
        s.push('\n');
        let d = self.dispatch_index();
        for r in rows {
            let _ = write!(s, "| {} | {} | {} |", r.kernel, r.dim, r.unit);
            for ns in &r.ns {
                let _ = write!(s, " {ns:.2} |");
            }
            for i in 1..r.ns.len() {
                let _ = write!(s, " {} |", x(Self::speedup(r, i)));
            }
            if with_peer {
                match r.simsimd {
                    Some(p) => {
                        let _ = write!(s, " {p:.2} | {} |", x(p / r.ns[d]));
                    }
                    None => s.push_str(" - | - |"),
                }
            }
            s.push('\n');
        }
        s
    }

    /// Acceptance lines: (text, passed).
    fn acceptance(&self) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let d = self.dispatch_index();
        let avx2 = self.backends.iter().position(|b| b == "avx2");
        for (rows, label) in [(&self.main, "1,024 pairs"), (&self.hot, "cache-hot")] {
            for kernel in ["dot", "l2_squared"] {
                let Some(r) = Self::find(rows, kernel, 768) else {
                    continue;
                };
                let s = Self::speedup(r, d);
                out.push((
                    format!(
                        "f32 `{kernel}` 768-d, {label}: {} ({}) vs scalar, required >= 4x",
                        x(s),
                        self.dispatch
                    ),
                    s >= 4.0,
                ));
                if let Some(i) = avx2 {
                    let s = Self::speedup(r, i);
                    out.push((
                        format!(
                            "f32 `{kernel}` 768-d, {label}: {} (avx2) vs scalar, aim >= 8x",
                            x(s)
                        ),
                        s >= 8.0,
                    ));
                }
            }
            for kernel in ["dot_u8", "l2_squared_u8", "dot_i8", "l2_squared_i8"] {
                if let Some(r) = Self::find(rows, kernel, 768) {
                    let s = Self::speedup(r, d);
                    out.push((
                        format!("`{kernel}` 768-d, {label}: {} ({}) vs scalar, \"clearly faster\" read as >= 2x", x(s), self.dispatch),
                        s >= 2.0,
                    ));
                }
            }
        }
        out
    }

    fn markdown(&self, env: &Env, ours: &Json, peer: Option<&Json>) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# SIMD kernels: EdgeVec vs its scalar oracle and simsimd\n"
        );
        let _ = writeln!(s, "Generated by `{}` — do not edit by hand.\n", env.command);
        let _ = writeln!(s, "| | |\n|---|---|");
        let _ = writeln!(s, "| date (UTC) | {} |", env.date);
        let _ = writeln!(s, "| CPU | {} |", env.cpu);
        let _ = writeln!(s, "| rustc | {} |", env.rustc);
        let _ = writeln!(
            s,
            "| backends | {} (dispatch picks `{}`) |",
            self.backends.join(", "),
            self.dispatch
        );
        let _ = writeln!(s, "| simsimd | {} |", env.simsimd);
        let _ = writeln!(
            s,
            "| method | median of {} rounds; each round times every backend in turn, each sample >= {} ms |\n",
            ours.get("rounds").as_f64(),
            ours.get("min_sample_ms").as_f64()
        );
        let _ = writeln!(s, "## Acceptance\n");
        for (text, ok) in self.acceptance() {
            let _ = writeln!(s, "- {} {text}", if ok { "PASS" } else { "MISS" });
        }
        let _ = writeln!(
            s,
            "\n## {} pairs per dimension (EdgeVec and simsimd on the same vectors)\n",
            ours.get("pairs").as_f64()
        );
        let _ = writeln!(
            s,
            "Nanoseconds per pair (`per = pair`) or per row (`per = row`). Every figure in a row comes \
             from the same run. \"vs scalar\" = scalar ns / backend ns. \"EdgeVec / simsimd speed\" = \
             simsimd ns / EdgeVec ns on the dispatched backend (`{}`): above 1x EdgeVec is faster.\n",
            self.dispatch
        );
        s.push_str(&self.table(&self.main, peer.is_some()));
        let _ = writeln!(
            s,
            "\n## {HOT_PAIRS} pairs per dimension (cache-hot, EdgeVec only)\n"
        );
        s.push_str(&self.table(&self.hot, false));
        let _ = writeln!(s, "\n## What is measured\n");
        let notes = [
            "Data: fixed-seed vectors (`simd_report`'s SplitMix64): f32 uniform in [-1, 1), u8 and i8 \
             uniform over their whole range; Hamming over `dim` bits = `dim / 8` bytes per vector \
             (the binary code of a `dim`-d vector).",
            "EdgeVec: `cargo run --release -p edgevec-simd --example simd_report`; one pass calls the \
             kernel through `Kernels::for_backend(..)` on every pair in order (an indirect call, as in \
             real dispatch). With 1,024 pairs the f32 vectors of 384-d and up (3 MiB and more) do not \
             fit in a 1 MiB L2, so those rows include L3 bandwidth; the second table repeats the \
             measurement on 16 pairs (at most 192 KiB, L2-resident), closer to pure compute. \
             `dot_many` / `l2_squared_many`: query = first `a` vector, rows = all `b` vectors, one call.",
            "Before timing, every SIMD backend is checked against the scalar oracle on every pair.",
            "simsimd: `benches/peers/simsimd_bench.py`, single-threaded, batch (row-wise) API: \
             `simsimd.dot` / `sqeuclidean` / `cosine` / `hamming(.., \"bin8\")` on `(pairs, dim)` \
             arrays with a preallocated `out=`, one Python call per pass, so the call overhead \
             (a few hundred ns) adds well under 1 ns per pair; `cdist(query, rows, threads=1)` for \
             `*_many`. Its results on the first 16 pairs are checked against EdgeVec's scalar ones.",
            "simsimd returns float64 results (EdgeVec: f32, u32, i32); the integer results agree \
             exactly, the f32 ones within rounding.",
        ];
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
        if let Some(p) = peer {
            let sane = matches!(p.get("sanity_ok"), Json::Bool(true));
            let _ = writeln!(
                s,
                "- simsimd sanity check: {}",
                if sane {
                    "all kernels agree with EdgeVec's scalar results"
                } else {
                    "MISMATCH on some kernel (see target/simd-bench/simsimd.json)"
                }
            );
            if p.get("none_refcount_leak_per_out_call").as_f64() > 0.0 {
                let _ = writeln!(
                    s,
                    "- simsimd {} drops a reference to `None` on every `out=` call (a refcount bug \
                     that aborts Python < 3.12 after enough calls); the script gives the references \
                     back outside the timed loops.",
                    p.get("simsimd_version").as_str()
                );
            }
        }
        s
    }

    fn json(&self, env: &Env, ours: &Json, peer: Option<&Json>) -> String {
        let q = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
        let num = |v: f64| {
            if v.is_finite() {
                format!("{v}")
            } else {
                "null".into()
            }
        };
        let d = self.dispatch_index();
        let rows_json = |rows: &[Row]| {
            rows.iter()
                .map(|r| {
                    let ns: Vec<String> = self
                        .backends
                        .iter()
                        .zip(&r.ns)
                        .map(|(b, v)| format!("{}: {}", q(b), num(*v)))
                        .collect();
                    let sp: Vec<String> = (1..r.ns.len())
                        .map(|i| format!("{}: {}", q(&self.backends[i]), num(Self::speedup(r, i))))
                        .collect();
                    let peer = match r.simsimd {
                        Some(p) => format!(
                            ", \"simsimd_ns\": {}, \"edgevec_vs_simsimd\": {}",
                            num(p),
                            num(p / r.ns[d])
                        ),
                        None => String::new(),
                    };
                    format!(
                        "    {{\"kernel\": {}, \"dim\": {}, \"per\": {}, \"ns\": {{{}}}, \"vs_scalar\": {{{}}}{peer}}}",
                        q(&r.kernel),
                        r.dim,
                        q(&r.unit),
                        ns.join(", "),
                        sp.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join(",\n")
        };
        let acceptance: Vec<String> = self
            .acceptance()
            .into_iter()
            .map(|(t, ok)| format!("    {{\"check\": {}, \"pass\": {ok}}}", q(&t)))
            .collect();
        format!(
            "{{\n  \"command\": {},\n  \"date\": {},\n  \"cpu\": {},\n  \"rustc\": {},\n  \"simsimd\": {},\n  \
             \"simsimd_sanity_ok\": {},\n  \"backends\": [{}],\n  \"dispatch\": {},\n  \"pairs\": {},\n  \
             \"hot_pairs\": {HOT_PAIRS},\n  \"rounds\": {},\n  \"unit\": \"ns per pair (per = pair) or per row (per = row)\",\n  \
             \"acceptance\": [\n{}\n  ],\n  \"results\": [\n{}\n  ],\n  \"hot_results\": [\n{}\n  ]\n}}\n",
            q(&env.command),
            q(&env.date),
            q(&env.cpu),
            q(&env.rustc),
            q(&env.simsimd),
            peer.map_or("null".into(), |p| {
                matches!(p.get("sanity_ok"), Json::Bool(true)).to_string()
            }),
            self.backends
                .iter()
                .map(|b| q(b))
                .collect::<Vec<_>>()
                .join(", "),
            q(&self.dispatch),
            ours.get("pairs").as_f64(),
            ours.get("rounds").as_f64(),
            acceptance.join(",\n"),
            rows_json(&self.main),
            rows_json(&self.hot)
        )
    }
}

/// Just enough JSON to read what `simd_report` and the simsimd script write.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

static NULL: Json = Json::Null;

impl Json {
    fn parse(text: &str) -> Result<Json> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("JSON: trailing data at byte {}", p.i).into());
        }
        Ok(v)
    }

    /// The member `key` of an object (`Null` when absent or not an object).
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| k == key).map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }

    fn as_f64(&self) -> f64 {
        match self {
            Json::Num(n) => *n,
            _ => f64::NAN,
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            _ => "",
        }
    }

    fn as_arr(&self) -> &[Json] {
        match self {
            Json::Arr(v) => v,
            _ => &[],
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T> {
        Err(format!("JSON: {what} at byte {}", self.i).into())
    }

    fn eat(&mut self, c: u8) -> Result {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(&format!("expected `{}`", c as char))
        }
    }

    fn value(&mut self) -> Result<Json> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.eat(b':')?;
                    members.push((key, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(members));
                        }
                        _ => return self.err("expected `,` or `}`"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return self.err("expected `,` or `]`"),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(b'N') => self.word("NaN", Json::Num(f64::NAN)),
            Some(b'I') => self.word("Infinity", Json::Num(f64::INFINITY)),
            Some(_) => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                if text == "-" && self.s[self.i..].starts_with(b"Infinity") {
                    self.i += "Infinity".len();
                    return Ok(Json::Num(f64::NEG_INFINITY));
                }
                match text.parse() {
                    Ok(n) => Ok(Json::Num(n)),
                    Err(_) => self.err("bad value"),
                }
            }
            None => self.err("unexpected end"),
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Result<Json> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            self.err("bad literal")
        }
    }

    fn string(&mut self) -> Result<String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    let c = self.s.get(self.i + 1).copied();
                    self.i += 2;
                    match c {
                        Some(b'n') => out.push(b'\n'),
                        Some(b't') => out.push(b'\t'),
                        Some(b'r') => out.push(b'\r'),
                        Some(b'b') => out.push(8),
                        Some(b'f') => out.push(12),
                        Some(b'u') => {
                            let hex = self.s.get(self.i..self.i + 4).unwrap_or(b"");
                            let code = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32)
                                .unwrap_or('\u{fffd}');
                            self.i += 4;
                            let mut buf = [0; 4];
                            out.extend_from_slice(code.encode_utf8(&mut buf).as_bytes());
                        }
                        Some(c) => out.push(c),
                        None => return self.err("unterminated escape"),
                    }
                }
                Some(&c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_tools_write() {
        let j = Json::parse(
            r#"{"a": [1, -2.5e3, true, null, NaN], "b": {"c": "x\"y\u00e9"}, "d": []}"#,
        )
        .unwrap();
        assert_eq!(j.get("a").as_arr()[1].as_f64(), -2500.0);
        assert_eq!(j.get("b").get("c").as_str(), "x\"yé");
        assert!(j.get("a").as_arr()[4].as_f64().is_nan());
        assert!(j.get("missing").as_arr().is_empty());
        assert!(Json::parse("{\"a\": 1,}").is_err());
    }

    #[test]
    fn date_is_civil() {
        let d = today();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
    }
}
