//! SIMD vs scalar report: nanoseconds per call of every kernel on every backend this machine
//! runs, all measured in one run over the same fixed-seed data, printed as a markdown table.
//!
//! ```text
//! cargo run --release -p edgevec-simd --example simd_report -- [--quick] [--rounds N]
//!     [--pairs N] [--dims 128,384,768,1536] [--min-sample-ms X] [--dump DIR] [--json FILE]
//! ```
//!
//! * For each dimension the program generates `pairs` (default 1,024) vector pairs from a fixed
//!   seed: f32 values uniform in [-1, 1), `u8` and `i8` values uniform over their whole range, and
//!   bit codes of `dim` bits (`dim / 8` bytes — a binary-quantized `dim`-d vector) for Hamming.
//! * One *pass* calls the kernel once on every pair, in order (so the data is not one hot pair;
//!   at 768-d and above the f32 working set is larger than L2 and is read from L3). `dot_many`
//!   and `l2_squared_many` take the first `a` vector as the query and the `pairs` `b` vectors as
//!   the rows, one call per pass; their figure is nanoseconds per row.
//! * A *sample* repeats passes for at least `--min-sample-ms`; each *round* takes one sample of
//!   every backend in turn (interleaved, so a burst of machine load hits all of them alike); the
//!   figure reported is the median over the rounds.
//! * Kernels are called through `Kernels::for_backend(..)` tables (an indirect call, as in real
//!   dispatch); every backend is first checked against the scalar oracle on the same data.
//! * `--dump DIR` writes the exact vectors as raw little-endian files plus `manifest.json` (with
//!   the scalar results of the first pairs, for a peer's sanity check); `--json FILE` writes the
//!   measurements.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use edgevec_simd::{Backend, Kernels};

const SEED: u64 = 0xED6E_5EC0_2024_0001;
/// Number of leading pairs whose scalar results go into the manifest.
const CHECK_PAIRS: usize = 16;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kernel {
    Dot,
    L2Squared,
    Cosine,
    DotU8,
    L2SquaredU8,
    DotI8,
    L2SquaredI8,
    Hamming,
    DotMany,
    L2SquaredMany,
}

impl Kernel {
    const ALL: [Kernel; 10] = [
        Kernel::Dot,
        Kernel::L2Squared,
        Kernel::Cosine,
        Kernel::DotU8,
        Kernel::L2SquaredU8,
        Kernel::DotI8,
        Kernel::L2SquaredI8,
        Kernel::Hamming,
        Kernel::DotMany,
        Kernel::L2SquaredMany,
    ];

    fn name(self) -> &'static str {
        match self {
            Kernel::Dot => "dot",
            Kernel::L2Squared => "l2_squared",
            Kernel::Cosine => "cosine_distance",
            Kernel::DotU8 => "dot_u8",
            Kernel::L2SquaredU8 => "l2_squared_u8",
            Kernel::DotI8 => "dot_i8",
            Kernel::L2SquaredI8 => "l2_squared_i8",
            Kernel::Hamming => "hamming",
            Kernel::DotMany => "dot_many",
            Kernel::L2SquaredMany => "l2_squared_many",
        }
    }

    /// Element type of the inputs, as the dump files name it.
    fn elem(self) -> &'static str {
        match self {
            Kernel::Dot
            | Kernel::L2Squared
            | Kernel::Cosine
            | Kernel::DotMany
            | Kernel::L2SquaredMany => "f32",
            Kernel::DotU8 | Kernel::L2SquaredU8 => "u8",
            Kernel::DotI8 | Kernel::L2SquaredI8 => "i8",
            Kernel::Hamming => "bits",
        }
    }

    /// What one reported figure is the cost of.
    fn unit(self) -> &'static str {
        match self {
            Kernel::DotMany | Kernel::L2SquaredMany => "row",
            _ => "pair",
        }
    }
}

/// The vectors of one dimension: `pairs` rows each of `a` and `b`, row-major.
struct Data {
    dim: usize,
    pairs: usize,
    f32_a: Vec<f32>,
    f32_b: Vec<f32>,
    u8_a: Vec<u8>,
    u8_b: Vec<u8>,
    i8_a: Vec<i8>,
    i8_b: Vec<i8>,
    bits_a: Vec<u8>,
    bits_b: Vec<u8>,
}

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn f32(&mut self) -> f32 {
        // 24 random bits -> [0, 1) exactly representable, then [-1, 1).
        (self.next() >> 40) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 56) as u8).collect()
    }
}

impl Data {
    fn new(dim: usize, pairs: usize) -> Data {
        let mut rng = SplitMix(SEED ^ (dim as u64).wrapping_mul(0x1000_0000_01B3));
        let n = dim * pairs;
        let f32_a = (0..n).map(|_| rng.f32()).collect();
        let f32_b = (0..n).map(|_| rng.f32()).collect();
        let u8_a = rng.bytes(n);
        let u8_b = rng.bytes(n);
        let i8_a = rng.bytes(n).into_iter().map(|x| x as i8).collect();
        let i8_b = rng.bytes(n).into_iter().map(|x| x as i8).collect();
        let bits_a = rng.bytes(dim.div_ceil(8) * pairs);
        let bits_b = rng.bytes(dim.div_ceil(8) * pairs);
        Data {
            dim,
            pairs,
            f32_a,
            f32_b,
            u8_a,
            u8_b,
            i8_a,
            i8_b,
            bits_a,
            bits_b,
        }
    }

    fn bits_len(&self) -> usize {
        self.dim.div_ceil(8)
    }
}

fn row<T>(v: &[T], len: usize, i: usize) -> &[T] {
    &v[i * len..(i + 1) * len]
}

/// Nanoseconds for `reps` passes of `f` over indices `0..n`.
#[inline(never)]
fn time_passes<R>(reps: usize, n: usize, mut f: impl FnMut(usize) -> R) -> f64 {
    let start = Instant::now();
    for _ in 0..reps {
        for i in 0..n {
            black_box(f(i));
        }
    }
    start.elapsed().as_nanos() as f64
}

/// Nanoseconds per pass (over all pairs, or one `_many` call over all rows).
fn time_kernel(kernel: Kernel, k: &Kernels, d: &Data, reps: usize, out: &mut [f32]) -> f64 {
    let k = black_box(k);
    let (dim, n, bl) = (d.dim, d.pairs, d.bits_len());
    let ns = match kernel {
        Kernel::Dot => time_passes(reps, n, |i| {
            k.dot(row(&d.f32_a, dim, i), row(&d.f32_b, dim, i))
        }),
        Kernel::L2Squared => time_passes(reps, n, |i| {
            k.l2_squared(row(&d.f32_a, dim, i), row(&d.f32_b, dim, i))
        }),
        Kernel::Cosine => time_passes(reps, n, |i| {
            k.cosine_distance(row(&d.f32_a, dim, i), row(&d.f32_b, dim, i))
        }),
        Kernel::DotU8 => time_passes(reps, n, |i| {
            k.dot_u8(row(&d.u8_a, dim, i), row(&d.u8_b, dim, i))
        }),
        Kernel::L2SquaredU8 => time_passes(reps, n, |i| {
            k.l2_squared_u8(row(&d.u8_a, dim, i), row(&d.u8_b, dim, i))
        }),
        Kernel::DotI8 => time_passes(reps, n, |i| {
            k.dot_i8(row(&d.i8_a, dim, i), row(&d.i8_b, dim, i))
        }),
        Kernel::L2SquaredI8 => time_passes(reps, n, |i| {
            k.l2_squared_i8(row(&d.i8_a, dim, i), row(&d.i8_b, dim, i))
        }),
        Kernel::Hamming => time_passes(reps, n, |i| {
            k.hamming(row(&d.bits_a, bl, i), row(&d.bits_b, bl, i))
        }),
        Kernel::DotMany => time_passes(reps, 1, |_| {
            k.dot_many(&d.f32_a[..dim], &d.f32_b, dim, out);
            out[0]
        }),
        Kernel::L2SquaredMany => time_passes(reps, 1, |_| {
            k.l2_squared_many(&d.f32_a[..dim], &d.f32_b, dim, out);
            out[0]
        }),
    };
    black_box(&out);
    ns
}

/// Results of `kernel` on the first `count` pairs (rows for `_many`), as f64.
fn results(kernel: Kernel, k: &Kernels, d: &Data, count: usize) -> Vec<f64> {
    let (dim, bl) = (d.dim, d.bits_len());
    let count = count.min(d.pairs);
    let pair = |i: usize| -> f64 {
        let (fa, fb) = (row(&d.f32_a, dim, i), row(&d.f32_b, dim, i));
        let (ua, ub) = (row(&d.u8_a, dim, i), row(&d.u8_b, dim, i));
        let (ia, ib) = (row(&d.i8_a, dim, i), row(&d.i8_b, dim, i));
        match kernel {
            Kernel::Dot => f64::from(k.dot(fa, fb)),
            Kernel::L2Squared => f64::from(k.l2_squared(fa, fb)),
            Kernel::Cosine => f64::from(k.cosine_distance(fa, fb)),
            Kernel::DotU8 => f64::from(k.dot_u8(ua, ub)),
            Kernel::L2SquaredU8 => f64::from(k.l2_squared_u8(ua, ub)),
            Kernel::DotI8 => f64::from(k.dot_i8(ia, ib)),
            Kernel::L2SquaredI8 => f64::from(k.l2_squared_i8(ia, ib)),
            Kernel::Hamming => f64::from(k.hamming(row(&d.bits_a, bl, i), row(&d.bits_b, bl, i))),
            Kernel::DotMany | Kernel::L2SquaredMany => unreachable!(),
        }
    };
    match kernel {
        Kernel::DotMany | Kernel::L2SquaredMany => {
            let mut out = vec![0.0f32; d.pairs];
            if kernel == Kernel::DotMany {
                k.dot_many(&d.f32_a[..dim], &d.f32_b, dim, &mut out);
            } else {
                k.l2_squared_many(&d.f32_a[..dim], &d.f32_b, dim, &mut out);
            }
            out[..count].iter().map(|&x| f64::from(x)).collect()
        }
        _ => (0..count).map(pair).collect(),
    }
}

/// Checks a backend against the scalar oracle on every pair; returns a complaint if any differ.
fn verify(kernel: Kernel, k: &Kernels, d: &Data) -> Option<String> {
    let scalar = Kernels::for_backend(Backend::Scalar).expect("scalar always runs");
    let got = results(kernel, k, d, d.pairs);
    let want = results(kernel, scalar, d, d.pairs);
    let exact = !matches!(kernel.elem(), "f32");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        // f32: sums of `dim` products of values in [-1, 1); reordering error is far below 1e-3.
        let bad = if exact {
            g != w
        } else {
            (g - w).abs() > 1e-3 * (1.0 + w.abs())
        };
        if bad {
            return Some(format!(
                "{} {} dim {} pair {i}: {g} vs scalar {w}",
                k.backend(),
                kernel.name(),
                d.dim
            ));
        }
    }
    None
}

struct Options {
    rounds: usize,
    pairs: usize,
    dims: Vec<usize>,
    min_sample_ns: f64,
    dump: Option<PathBuf>,
    json: Option<PathBuf>,
    quick: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        rounds: 21,
        pairs: 1024,
        dims: vec![128, 384, 768, 1536],
        min_sample_ns: 4e6,
        dump: None,
        json: None,
        quick: false,
    };
    let mut args = std::env::args().skip(1);
    let mut min_ms = None;
    let mut rounds = None;
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--rounds" => {
                rounds = Some(
                    value("--rounds")?
                        .parse()
                        .map_err(|e| format!("--rounds: {e}"))?,
                )
            }
            "--pairs" => {
                o.pairs = value("--pairs")?
                    .parse()
                    .map_err(|e| format!("--pairs: {e}"))?
            }
            "--min-sample-ms" => {
                min_ms = Some(
                    value("--min-sample-ms")?
                        .parse::<f64>()
                        .map_err(|e| format!("--min-sample-ms: {e}"))?,
                )
            }
            "--dims" => {
                o.dims = value("--dims")?
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("--dims: {s:?}: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--dump" => o.dump = Some(value("--dump")?.into()),
            "--json" => o.json = Some(value("--json")?.into()),
            "-h" | "--help" => {
                return Err("usage: simd_report [--quick] [--rounds N] [--pairs N] \
                            [--dims 128,384,768,1536] [--min-sample-ms X] [--dump DIR] [--json FILE]"
                    .into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if o.quick {
        o.rounds = 5;
        o.min_sample_ns = 0.5e6;
    }
    if let Some(r) = rounds {
        o.rounds = r;
    }
    if let Some(ms) = min_ms {
        o.min_sample_ns = ms * 1e6;
    }
    if o.rounds == 0 || o.pairs == 0 || o.dims.is_empty() || o.dims.contains(&0) {
        return Err("--rounds, --pairs and every dim must be positive".into());
    }
    Ok(o)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One measured line: ns per pair (or row) for each backend, in `backends` order.
struct Line {
    dim: usize,
    kernel: Kernel,
    ns: Vec<f64>,
}

fn measure(kernel: Kernel, d: &Data, tables: &[&'static Kernels], o: &Options) -> Vec<f64> {
    let mut out = vec![0.0f32; d.pairs];
    let per_pass = |ns: f64| ns / d.pairs as f64;
    // Warm up and calibrate: passes per sample so one sample lasts at least `min_sample_ns`.
    let reps: Vec<usize> = tables
        .iter()
        .map(|k| {
            time_kernel(kernel, k, d, 1, &mut out);
            let one = time_kernel(kernel, k, d, 1, &mut out).max(1.0);
            ((o.min_sample_ns / one).ceil() as usize).max(1)
        })
        .collect();
    let mut samples = vec![Vec::with_capacity(o.rounds); tables.len()];
    for _ in 0..o.rounds {
        for (j, k) in tables.iter().enumerate() {
            let ns = time_kernel(kernel, k, d, reps[j], &mut out);
            samples[j].push(per_pass(ns / reps[j] as f64));
        }
    }
    samples.iter_mut().map(|s| median(s)).collect()
}

fn ratio(scalar: f64, x: f64) -> String {
    format!("{:.1}x", scalar / x)
}

fn table(lines: &[Line], backends: &[Backend], dispatch: Backend) -> String {
    let mut s = String::new();
    let _ = write!(s, "| kernel | dim | unit |");
    for b in backends {
        let _ = write!(s, " {b} ns |");
    }
    for b in &backends[1..] {
        let mark = if *b == dispatch { " (dispatch)" } else { "" };
        let _ = write!(s, " {b}{mark} vs scalar |");
    }
    s.push_str("\n|---|---:|---|");
    for _ in 0..backends.len() * 2 - 1 {
        s.push_str("---:|");
    }
    s.push('\n');
    for l in lines {
        let _ = write!(
            s,
            "| {} | {} | {} |",
            l.kernel.name(),
            l.dim,
            l.kernel.unit()
        );
        for ns in &l.ns {
            let _ = write!(s, " {ns:.2} |");
        }
        for ns in &l.ns[1..] {
            let _ = write!(s, " {} |", ratio(l.ns[0], *ns));
        }
        s.push('\n');
    }
    s
}

fn json_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

fn write_le<T: Copy>(path: &Path, v: &[T], to_bytes: impl Fn(T) -> Vec<u8>) -> std::io::Result<()> {
    let bytes: Vec<u8> = v.iter().flat_map(|&x| to_bytes(x)).collect();
    std::fs::write(path, bytes)
}

fn dump(dir: &Path, data: &[Data], o: &Options) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let scalar = Kernels::for_backend(Backend::Scalar).expect("scalar always runs");
    let mut sets = Vec::new();
    for d in data {
        let name = |kind: &str, side: &str| format!("d{}_{kind}_{side}.bin", d.dim);
        write_le(&dir.join(name("f32", "a")), &d.f32_a, |x| {
            x.to_le_bytes().to_vec()
        })?;
        write_le(&dir.join(name("f32", "b")), &d.f32_b, |x| {
            x.to_le_bytes().to_vec()
        })?;
        std::fs::write(dir.join(name("u8", "a")), &d.u8_a)?;
        std::fs::write(dir.join(name("u8", "b")), &d.u8_b)?;
        write_le(&dir.join(name("i8", "a")), &d.i8_a, |x| {
            x.to_le_bytes().to_vec()
        })?;
        write_le(&dir.join(name("i8", "b")), &d.i8_b, |x| {
            x.to_le_bytes().to_vec()
        })?;
        std::fs::write(dir.join(name("bits", "a")), &d.bits_a)?;
        std::fs::write(dir.join(name("bits", "b")), &d.bits_b)?;
        let mut files = Vec::new();
        for kind in ["f32", "u8", "i8", "bits"] {
            for side in ["a", "b"] {
                files.push(format!(
                    "{}: {}",
                    json_str(&format!("{kind}_{side}")),
                    json_str(&name(kind, side))
                ));
            }
        }
        let checks: Vec<String> = Kernel::ALL
            .iter()
            .map(|&kernel| {
                let vals: Vec<String> = results(kernel, scalar, d, CHECK_PAIRS)
                    .into_iter()
                    .map(json_num)
                    .collect();
                format!("{}: [{}]", json_str(kernel.name()), vals.join(", "))
            })
            .collect();
        sets.push(format!(
            "    {{\"dim\": {}, \"bits_bytes\": {}, \"files\": {{{}}},\n     \"scalar_check\": {{{}}}}}",
            d.dim,
            d.bits_len(),
            files.join(", "),
            checks.join(", ")
        ));
    }
    let manifest = format!(
        "{{\n  \"format\": \"raw little-endian, row-major, pairs x dim (bits: pairs x bits_bytes)\",\n  \
         \"seed\": {SEED},\n  \"pairs\": {},\n  \"check_pairs\": {CHECK_PAIRS},\n  \
         \"many_query\": \"row 0 of f32_a; rows = all of f32_b\",\n  \"sets\": [\n{}\n  ]\n}}\n",
        o.pairs,
        sets.join(",\n")
    );
    std::fs::write(dir.join("manifest.json"), manifest)
}

fn to_json(lines: &[Line], backends: &[Backend], dispatch: Backend, o: &Options) -> String {
    let names: Vec<String> = backends.iter().map(|b| json_str(b.name())).collect();
    let rows: Vec<String> = lines
        .iter()
        .map(|l| {
            let ns: Vec<String> = backends
                .iter()
                .zip(&l.ns)
                .map(|(b, ns)| format!("{}: {}", json_str(b.name()), json_num(*ns)))
                .collect();
            format!(
                "    {{\"kernel\": {}, \"dim\": {}, \"elem\": {}, \"unit\": {}, \"ns\": {{{}}}}}",
                json_str(l.kernel.name()),
                l.dim,
                json_str(l.kernel.elem()),
                json_str(l.kernel.unit()),
                ns.join(", ")
            )
        })
        .collect();
    format!(
        "{{\n  \"tool\": \"simd_report\",\n  \"backends\": [{}],\n  \"dispatch\": {},\n  \
         \"pairs\": {},\n  \"rounds\": {},\n  \"min_sample_ms\": {},\n  \"seed\": {SEED},\n  \
         \"hamming\": \"dim bits = dim/8 bytes per vector\",\n  \"results\": [\n{}\n  ]\n}}\n",
        names.join(", "),
        json_str(dispatch.name()),
        o.pairs,
        o.rounds,
        o.min_sample_ns / 1e6,
        rows.join(",\n")
    )
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("simd_report: {e}");
            std::process::exit(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("simd_report: warning: debug build; run with --release for meaningful figures");
    }
    let backends = Backend::available();
    let tables: Vec<&'static Kernels> = backends
        .iter()
        .map(|&b| Kernels::for_backend(b).expect("available backend has a table"))
        .collect();
    let dispatch = Kernels::active().backend();
    let data: Vec<Data> = o.dims.iter().map(|&dim| Data::new(dim, o.pairs)).collect();

    let mut failed = false;
    for d in &data {
        for &kernel in &Kernel::ALL {
            for k in &tables[1..] {
                if let Some(msg) = verify(kernel, k, d) {
                    eprintln!("simd_report: MISMATCH {msg}");
                    failed = true;
                }
            }
        }
    }
    if failed {
        eprintln!("simd_report: backends disagree with the scalar oracle; figures are not valid");
        std::process::exit(1);
    }
    if let Some(dir) = &o.dump {
        if let Err(e) = dump(dir, &data, &o) {
            eprintln!("simd_report: cannot write {}: {e}", dir.display());
            std::process::exit(1);
        }
        eprintln!("simd_report: vectors written to {}", dir.display());
    }

    let names: Vec<&str> = backends.iter().map(|b| b.name()).collect();
    eprintln!(
        "simd_report: backends {names:?} (dispatch: {dispatch}), {} pairs, {} rounds, samples >= {} ms",
        o.pairs,
        o.rounds,
        o.min_sample_ns / 1e6
    );
    let mut lines = Vec::new();
    for d in &data {
        for &kernel in &Kernel::ALL {
            let ns = measure(kernel, d, &tables, &o);
            lines.push(Line {
                dim: d.dim,
                kernel,
                ns,
            });
        }
    }
    lines.sort_by_key(|l| (Kernel::ALL.iter().position(|k| *k == l.kernel), l.dim));

    println!(
        "SIMD kernels vs the scalar oracle: median ns per {{pair|row}} over {} rounds, {} pairs per dim \
         (hamming: dim bits = dim/8 bytes)\n",
        o.rounds, o.pairs
    );
    print!("{}", table(&lines, &backends, dispatch));
    if let Some(path) = &o.json {
        let text = to_json(&lines, &backends, dispatch, &o);
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("simd_report: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
        eprintln!("simd_report: measurements written to {}", path.display());
    }
}
