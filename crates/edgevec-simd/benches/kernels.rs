//! Criterion benchmarks of every kernel on every backend this machine runs, so that scalar, AVX2
//! and AVX-512 (or NEON) are measured side by side in the same run.
//!
//! Groups are named `<kernel>/<dim>` and hold one benchmark per backend; throughput is in
//! elements (vector components; bits for Hamming), so criterion prints elements per second.
//! The vectors are one cache-hot pair per dimension (compute-bound figures); for figures over
//! 1,024 pairs read from L2/L3 and a comparison with simsimd, run `cargo xtask bench-simd`.
//!
//! ```text
//! cargo bench -p edgevec-simd --bench kernels            # everything, a few minutes
//! cargo bench -p edgevec-simd --bench kernels -- dot/768 # one group
//! cargo bench -p edgevec-simd --bench kernels -- --quick # criterion's quick mode
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use edgevec_simd::{Backend, Kernels};

const DIMS: [usize; 4] = [128, 384, 768, 1536];
/// Rows of the one-query-against-many benchmarks.
const MANY_ROWS: usize = 1_000;

/// Deterministic bytes (splitmix64), so every run measures the same data.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 56) as u8
        })
        .collect()
}

fn floats(seed: u64, n: usize) -> Vec<f32> {
    bytes(seed, n)
        .into_iter()
        .map(|b| f32::from(b) / 127.5 - 1.0)
        .collect()
}

fn tables() -> Vec<&'static Kernels> {
    Backend::available()
        .into_iter()
        .filter_map(Kernels::for_backend)
        .collect()
}

/// One group per dimension for a pairwise kernel: `f(kernels, a, b)` on every backend.
fn pairwise<T, R>(
    c: &mut Criterion,
    kernel: &str,
    elements: impl Fn(usize) -> u64,
    len: impl Fn(usize) -> usize,
    make: impl Fn(u64, usize) -> Vec<T>,
    f: impl Fn(&Kernels, &[T], &[T]) -> R,
) {
    for dim in DIMS {
        let n = len(dim);
        let (a, b) = (make(1 + dim as u64, n), make(2 + dim as u64, n));
        let mut group = c.benchmark_group(format!("{kernel}/{dim}"));
        group.throughput(Throughput::Elements(elements(dim)));
        for k in tables() {
            group.bench_function(BenchmarkId::from_parameter(k.backend()), |bench| {
                let k = black_box(k);
                bench.iter(|| f(k, black_box(&a), black_box(&b)))
            });
        }
        group.finish();
    }
}

fn f32_kernels(c: &mut Criterion) {
    let dim = |d: usize| d as u64;
    let same = |d: usize| d;
    pairwise(c, "dot", dim, same, floats, |k, a, b| k.dot(a, b));
    pairwise(c, "l2_squared", dim, same, floats, |k, a, b| {
        k.l2_squared(a, b)
    });
    pairwise(c, "cosine_distance", dim, same, floats, |k, a, b| {
        k.cosine_distance(a, b)
    });
}

fn int_kernels(c: &mut Criterion) {
    let dim = |d: usize| d as u64;
    let same = |d: usize| d;
    let signed = |seed, n| bytes(seed, n).into_iter().map(|x| x as i8).collect();
    pairwise(c, "dot_u8", dim, same, bytes, |k, a, b| k.dot_u8(a, b));
    pairwise(c, "l2_squared_u8", dim, same, bytes, |k, a, b| {
        k.l2_squared_u8(a, b)
    });
    pairwise(c, "dot_i8", dim, same, signed, |k, a: &[i8], b| {
        k.dot_i8(a, b)
    });
    pairwise(c, "l2_squared_i8", dim, same, signed, |k, a: &[i8], b| {
        k.l2_squared_i8(a, b)
    });
    // Hamming over the binary code of a `dim`-d vector: `dim` bits = `dim / 8` bytes.
    pairwise(
        c,
        "hamming",
        dim,
        |d| d / 8,
        bytes,
        |k, a, b| k.hamming(a, b),
    );
}

fn many_kernels(c: &mut Criterion) {
    for dim in DIMS {
        let query = floats(3, dim);
        let rows = floats(4 + dim as u64, dim * MANY_ROWS);
        let mut out = vec![0.0f32; MANY_ROWS];
        for (name, many) in [
            (
                "dot_many",
                Kernels::dot_many as fn(&Kernels, &[f32], &[f32], usize, &mut [f32]),
            ),
            ("l2_squared_many", Kernels::l2_squared_many),
        ] {
            let mut group = c.benchmark_group(format!("{name}/{dim}x{MANY_ROWS}"));
            group.throughput(Throughput::Elements((dim * MANY_ROWS) as u64));
            for k in tables() {
                group.bench_function(BenchmarkId::from_parameter(k.backend()), |bench| {
                    let k = black_box(k);
                    bench.iter(|| {
                        many(k, black_box(&query), black_box(&rows), dim, &mut out);
                        black_box(&out);
                    })
                });
            }
            group.finish();
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(700))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = f32_kernels, int_kernels, many_kernels
}
criterion_main!(benches);
