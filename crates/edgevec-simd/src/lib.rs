//! Distance kernels for EdgeVec.
//!
//! This crate owns every inner loop that compares two vectors: f32 dot product, squared L2 and
//! cosine distance, their one-query-against-many-rows forms, the integer kernels that quantized
//! codes use (`u8`, `i8`) and Hamming distance over bit codes. Nothing above this crate computes
//! a distance by hand.
//!
//! # Backends and dispatch
//!
//! | [`Backend`] | where | how it is chosen |
//! |---|---|---|
//! | [`Backend::Scalar`] | everywhere | the portable oracle ([`scalar`]); forced by `EDGEVEC_SIMD=scalar` |
//! | [`Backend::Avx2Fma`] | x86_64 with AVX2 and FMA | detected at run time |
//! | [`Backend::Avx512`] | x86_64 with AVX-512 F + BW (+ VPOPCNTDQ for Hamming when present) | detected at run time |
//! | [`Backend::Neon`] | aarch64 | compile time (NEON is part of the aarch64 baseline) |
//! | [`Backend::Simd128`] | wasm32 built with `-C target-feature=+simd128` | compile time |
//!
//! On x86_64 the CPU is inspected once, on the first call, and the choice is cached as a table of
//! function pointers ([`Kernels`]); the hot call is a load of that table and an indirect call, never
//! a feature test. The environment variable `EDGEVEC_SIMD` overrides the choice:
//! `scalar`, `avx2`, `avx512`, `neon`, `simd128` or `auto` (the default). Asking for a backend the
//! machine cannot run falls back to the best one it can; an unknown value is treated as `auto`.
//! [`backend()`] tells which one is active.
//!
//! # Results
//!
//! * f32 kernels agree with the scalar oracle within floating-point reordering error: SIMD code
//!   sums in a different order (several accumulators, FMA), so the last bits can differ. The bound
//!   the tests enforce is `|simd - scalar| <= (n + 2) * f32::EPSILON * sum(|a_i * b_i|)`.
//! * Integer kernels are exact. Their sums are computed modulo 2³² (wrapping), in every backend,
//!   so all backends agree bit for bit for any length. No overflow can happen below these lengths:
//!   [`dot_u8`], [`l2_squared_u8`] and [`l2_squared_i8`] up to 66,051 elements, [`dot_i8`] up to
//!   131,071 elements, [`hamming`] up to 536,870,911 bytes.
//! * Kernels do not validate values: NaN or infinite inputs give NaN or infinite outputs (never
//!   undefined behaviour, never a panic). Callers that accept user data validate it first.
//!
//! # Lengths
//!
//! The two slices of a kernel must have the same length. The plain functions ([`dot`], …) panic
//! with both lengths in the message when they differ, like slice indexing does; the `try_` forms
//! ([`try_dot`], …) return [`SimdError`] instead. A mismatch is never undefined behaviour.
//!
//! ```
//! let a = [1.0_f32, 2.0, 3.0];
//! let b = [4.0_f32, 5.0, 6.0];
//! assert_eq!(edgevec_simd::dot(&a, &b), 32.0);
//! assert_eq!(edgevec_simd::l2_squared(&a, &b), 27.0);
//! assert!(edgevec_simd::try_dot(&a, &b[..2]).is_err());
//! println!("active backend: {}", edgevec_simd::backend());
//! ```

mod arch;
mod generic;
mod mem;
pub mod scalar;

pub use mem::{advise_huge_pages, hint_huge_pages};

use std::fmt;
use std::sync::OnceLock;

/// An error from the checked (`try_`) kernel forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimdError {
    /// The two vectors of a pairwise kernel have different lengths.
    #[error(
        "vector lengths differ: {left} vs {right}; both vectors must have the same number of dimensions"
    )]
    LengthMismatch {
        /// Length of the first vector.
        left: usize,
        /// Length of the second vector.
        right: usize,
    },
    /// The arguments of a one-query-against-many-rows kernel do not describe a whole matrix.
    #[error(
        "shape mismatch: query has {query} values and dim is {dim}; rows hold {rows} values, \
         which must be dim x out.len() = {dim} x {out}"
    )]
    ShapeMismatch {
        /// Length of the query.
        query: usize,
        /// The declared dimension.
        dim: usize,
        /// Length of the row buffer.
        rows: usize,
        /// Length of the output buffer (number of rows).
        out: usize,
    },
}

/// The metrics EdgeVec searches by, with its distance conventions (smaller is closer). Every
/// layer uses this one enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Squared Euclidean distance `Σ (a_i − b_i)²`.
    L2,
    /// Cosine distance `1 − cos(a, b)`, in `[0, 2]`.
    Cosine,
    /// Negated inner product `−⟨a, b⟩` (maximum inner product search).
    Dot,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 3] = [Metric::L2, Metric::Cosine, Metric::Dot];

    /// Lowercase name (`l2`, `cosine`, `dot`).
    pub const fn name(self) -> &'static str {
        match self {
            Metric::L2 => "l2",
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
        }
    }

    /// Parses the names [`Metric::name`] returns (case-insensitive).
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The metric's one-byte tag in file formats (0 = L2, 1 = cosine, 2 = dot). Stable: files
    /// depend on it.
    pub const fn tag(self) -> u8 {
        match self {
            Metric::L2 => 0,
            Metric::Cosine => 1,
            Metric::Dot => 2,
        }
    }

    /// The metric a [`Metric::tag`] byte names, if any.
    pub fn from_tag(tag: u8) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.tag() == tag)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The instruction set a [`Kernels`] table runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Backend {
    /// Portable Rust, the oracle every other backend is tested against.
    Scalar,
    /// x86_64 AVX2 with fused multiply-add.
    Avx2Fma,
    /// x86_64 AVX-512 (F and BW; VPOPCNTDQ for Hamming distance when the CPU has it).
    Avx512,
    /// aarch64 Advanced SIMD.
    Neon,
    /// WebAssembly 128-bit SIMD.
    Simd128,
}

impl Backend {
    /// Every backend, slowest first.
    pub const ALL: [Backend; 5] = [
        Backend::Scalar,
        Backend::Avx2Fma,
        Backend::Avx512,
        Backend::Neon,
        Backend::Simd128,
    ];

    /// Short lowercase name, the same word `EDGEVEC_SIMD` accepts.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Avx2Fma => "avx2",
            Backend::Avx512 => "avx512",
            Backend::Neon => "neon",
            Backend::Simd128 => "simd128",
        }
    }

    /// Parses the names [`Backend::name`] returns (case-insensitive).
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether this machine can run the backend.
    pub fn is_available(self) -> bool {
        Kernels::for_backend(self).is_some()
    }

    /// The backends this machine can run, slowest first (always starts with [`Backend::Scalar`]).
    pub fn available() -> Vec<Backend> {
        Backend::ALL
            .into_iter()
            .filter(|b| b.is_available())
            .collect()
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

type F32Pair = unsafe fn(&[f32], &[f32]) -> f32;
type F32Parts = unsafe fn(&[f32], &[f32]) -> [f32; 3];
type F32One = unsafe fn(&[f32]) -> f32;
type F32Many = unsafe fn(&[f32], &[f32], usize, &mut [f32]);
type U8Pair = unsafe fn(&[u8], &[u8]) -> u32;
type I8Pair = unsafe fn(&[i8], &[i8]) -> i32;
type I8PairU = unsafe fn(&[i8], &[i8]) -> u32;

/// A table of kernels for one [`Backend`].
///
/// A `&'static Kernels` can only be obtained for a backend the running CPU supports
/// ([`Kernels::for_backend`], [`Kernels::active`]), which is what makes its methods safe. Use it
/// to pin one backend (benchmarks, tests) or to hoist the table lookup out of a loop; the free
/// functions of this crate use [`Kernels::active`].
///
/// Every method has the same contract as the free function of the same name.
pub struct Kernels {
    backend: Backend,
    // Each pointer may require CPU features; the table is only handed out when they are present.
    // Every kernel is memory-safe for any slice lengths (it re-slices its second argument to the
    // first one's length), so the length checks in the methods are about correct results only.
    dot: F32Pair,
    l2_squared: F32Pair,
    norm_squared: F32One,
    dot_norms: F32Parts,
    dot_many: F32Many,
    l2_squared_many: F32Many,
    dot_u8: U8Pair,
    l2_squared_u8: U8Pair,
    dot_i8: I8Pair,
    l2_squared_i8: I8PairU,
    hamming: U8Pair,
}

impl fmt::Debug for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernels")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

static SCALAR: Kernels = Kernels {
    backend: Backend::Scalar,
    dot: scalar::dot,
    l2_squared: scalar::l2_squared,
    norm_squared: scalar::norm_squared,
    dot_norms: scalar::dot_norms,
    dot_many: scalar::dot_many,
    l2_squared_many: scalar::l2_squared_many,
    dot_u8: scalar::dot_u8,
    l2_squared_u8: scalar::l2_squared_u8,
    dot_i8: scalar::dot_i8,
    l2_squared_i8: scalar::l2_squared_i8,
    hamming: scalar::hamming,
};

static ACTIVE: OnceLock<&'static Kernels> = OnceLock::new();

impl Kernels {
    /// The kernels for `backend`, or `None` when this machine cannot run it.
    pub fn for_backend(backend: Backend) -> Option<&'static Kernels> {
        match backend {
            Backend::Scalar => Some(&SCALAR),
            other => arch::kernels(other),
        }
    }

    /// The best backend this machine runs, ignoring `EDGEVEC_SIMD`.
    pub fn best() -> &'static Kernels {
        Backend::ALL
            .into_iter()
            .rev()
            .find_map(Kernels::for_backend)
            .unwrap_or(&SCALAR)
    }

    /// The table the free functions use: chosen on first use (CPU detection and `EDGEVEC_SIMD`),
    /// then cached for the life of the process.
    #[inline]
    pub fn active() -> &'static Kernels {
        ACTIVE.get_or_init(select)
    }

    /// The backend these kernels run on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// See [`dot`].
    #[inline]
    #[track_caller]
    pub fn dot(&self, a: &[f32], b: &[f32]) -> f32 {
        check_len(a.len(), b.len());
        // SAFETY: `self` exists only for a backend whose CPU features are present (see
        // `for_backend`); the kernel is memory-safe for any lengths.
        unsafe { (self.dot)(a, b) }
    }

    /// See [`l2_squared`].
    #[inline]
    #[track_caller]
    pub fn l2_squared(&self, a: &[f32], b: &[f32]) -> f32 {
        check_len(a.len(), b.len());
        // SAFETY: as in `dot`: the table's features are present, the kernel is memory-safe.
        unsafe { (self.l2_squared)(a, b) }
    }

    /// See [`norm_squared`].
    #[inline]
    pub fn norm_squared(&self, a: &[f32]) -> f32 {
        // SAFETY: as in `dot`: the table's features are present, the kernel is memory-safe.
        unsafe { (self.norm_squared)(a) }
    }

    /// See [`cosine_distance`].
    #[inline]
    #[track_caller]
    pub fn cosine_distance(&self, a: &[f32], b: &[f32]) -> f32 {
        let [dot, na, nb] = self.dot_norms(a, b);
        cosine_from_parts(dot, na, nb)
    }

    /// See [`dot_norms`].
    #[inline]
    #[track_caller]
    pub fn dot_norms(&self, a: &[f32], b: &[f32]) -> [f32; 3] {
        check_len(a.len(), b.len());
        // SAFETY: as in `dot`: the table's features are present, the kernel is memory-safe.
        unsafe { (self.dot_norms)(a, b) }
    }

    /// See [`dot_many`].
    #[inline]
    #[track_caller]
    pub fn dot_many(&self, query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
        check_shape(query.len(), dim, rows.len(), out.len());
        // SAFETY: as in `dot`: the table's features are present, the kernel is memory-safe.
        unsafe { (self.dot_many)(query, rows, dim, out) }
    }

    /// See [`l2_squared_many`].
    #[inline]
    #[track_caller]
    pub fn l2_squared_many(&self, query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
        check_shape(query.len(), dim, rows.len(), out.len());
        // SAFETY: as in `dot`: the table's features are present, the kernel is memory-safe.
        unsafe { (self.l2_squared_many)(query, rows, dim, out) }
    }

    /// See [`dot_u8`].
    #[inline]
    #[track_caller]
    pub fn dot_u8(&self, a: &[u8], b: &[u8]) -> u32 {
        check_len(a.len(), b.len());
        // SAFETY: as in `dot`: the table's features are present, the kernel is memory-safe.
        unsafe { (self.dot_u8)(a, b) }
    }

    /// See [`l2_squared_u8`].
    #[inline]
    #[track_caller]
    pub fn l2_squared_u8(&self, a: &[u8], b: &[u8]) -> u32 {
        check_len(a.len(), b.len());
        // SAFETY: as in `dot`: the table's features are present, the kernel is memory-safe.
        unsafe { (self.l2_squared_u8)(a, b) }
    }

    /// See [`dot_i8`].
    #[inline]
    #[track_caller]
    pub fn dot_i8(&self, a: &[i8], b: &[i8]) -> i32 {
        check_len(a.len(), b.len());
        // SAFETY: as in `dot`: the table's features are present, the kernel is memory-safe.
        unsafe { (self.dot_i8)(a, b) }
    }

    /// See [`l2_squared_i8`].
    #[inline]
    #[track_caller]
    pub fn l2_squared_i8(&self, a: &[i8], b: &[i8]) -> u32 {
        check_len(a.len(), b.len());
        // SAFETY: as in `dot`: the table's features are present, the kernel is memory-safe.
        unsafe { (self.l2_squared_i8)(a, b) }
    }

    /// See [`hamming`].
    #[inline]
    #[track_caller]
    pub fn hamming(&self, a: &[u8], b: &[u8]) -> u32 {
        check_len(a.len(), b.len());
        // SAFETY: as in `dot`: the table's features are present, the kernel is memory-safe.
        unsafe { (self.hamming)(a, b) }
    }
}

/// Picks the table once: `EDGEVEC_SIMD` if it names a backend this machine runs, otherwise the
/// best one available at or below the requested one.
fn select() -> &'static Kernels {
    let requested = std::env::var("EDGEVEC_SIMD")
        .ok()
        .and_then(|v| Backend::from_name(&v));
    match requested {
        None => Kernels::best(),
        Some(want) => Backend::ALL
            .into_iter()
            .rev()
            .filter(|b| *b <= want)
            .find_map(Kernels::for_backend)
            .unwrap_or(&SCALAR),
    }
}

/// The backend the free functions of this crate use (see the crate docs for how it is chosen).
pub fn backend() -> Backend {
    Kernels::active().backend
}

#[inline]
#[track_caller]
fn check_len(left: usize, right: usize) {
    if left != right {
        length_mismatch(left, right)
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn length_mismatch(left: usize, right: usize) -> ! {
    panic!("{}", SimdError::LengthMismatch { left, right })
}

fn shape_ok(query: usize, dim: usize, rows: usize, out: usize) -> bool {
    query == dim && dim.checked_mul(out) == Some(rows)
}

#[inline]
#[track_caller]
fn check_shape(query: usize, dim: usize, rows: usize, out: usize) {
    if !shape_ok(query, dim, rows, out) {
        shape_mismatch(query, dim, rows, out)
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn shape_mismatch(query: usize, dim: usize, rows: usize, out: usize) -> ! {
    panic!(
        "{}",
        SimdError::ShapeMismatch {
            query,
            dim,
            rows,
            out
        }
    )
}

/// Euclidean norm computed in f64: no overflow for components near `f32::MAX`, no underflow to
/// zero for tiny ones (an f32 sum of squares would do both). Every query is checked with it:
/// the squares go to eight independent sums, added in a fixed order at the end, so the loop
/// vectorizes instead of waiting on one chain of additions (384-d: 176 → ~40 ns), and the
/// result is the same on every target. A NaN or infinite component makes it NaN or infinite;
/// finite components never do (each square is below 2^256).
pub fn norm_f64(v: &[f32]) -> f64 {
    let mut acc = [0.0_f64; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            let x = f64::from(*x);
            *a += x * x;
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for x in rest {
        let x = f64::from(*x);
        sum += x * x;
    }
    sum.sqrt()
}

/// The first NaN or infinite value of `v` and its index, or `None` when every value is finite.
/// Every input check uses it: one pass without an early exit (it vectorizes), and the search
/// for the culprit only when there is one.
pub fn first_non_finite(v: &[f32]) -> Option<(usize, f32)> {
    if v.iter().fold(true, |ok, x| ok & x.is_finite()) {
        return None;
    }
    v.iter().copied().enumerate().find(|(_, x)| !x.is_finite())
}

/// `v / |v|` (norm from [`norm_f64`]), or `None` when `v` has no direction (zero or non-finite
/// norm).
pub fn normalized(v: &[f32]) -> Option<Vec<f32>> {
    let norm = norm_f64(v);
    (norm > 0.0 && norm.is_finite())
        .then(|| v.iter().map(|x| (f64::from(*x) / norm) as f32).collect())
}

/// Asks the CPU to start loading the cache line that holds `value` (x86_64 `prefetcht0`; a
/// no-op on other targets). It never faults and changes no result: only timing.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86_64 baseline, and a prefetch has no architectural effect
    // (it cannot fault, even on an invalid address); the pointer comes from a live reference.
    unsafe {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// How many rows of `row_bytes` ahead of the one being measured a scan over scattered rows
/// should prefetch: about 2 KiB of loads in flight, between 3 and 6 rows. Measured with the
/// HNSW beam search: 6 ahead beat 2 by 8-11% on 50-d f32 rows (200 B); at 384-d (1,536 B), once
/// the first rows of a list were prefetched in full as well, 3 ahead beat 2 by 3-5% and 4 was
/// no better than 3 (768-byte u8 codes: 3 beat 2 by 1-2%).
pub fn prefetch_distance(row_bytes: usize) -> usize {
    (2048 / row_bytes.max(1)).clamp(3, 6)
}

/// Rows up to this size are prefetched whole by [`prefetch_row`].
pub const PREFETCH_WHOLE_ROW_BYTES: usize = 1024;

/// Starts loading a row that a scan will read soon but not next: all of it when it is at most
/// [`PREFETCH_WHOLE_ROW_BYTES`] (16 lines), its first line otherwise (a long row gets the rest
/// from [`prefetch_slice`] a few rows before it is read; every line of ten 1.5 KiB rows at
/// once was no faster). Measured with the HNSW search against the first line only (median
/// QPS, ef 16 / 64 or 64 / 128): f32 rows of 200 B (GloVe-50) +22% / +22%; u8 codes of 384 B
/// +10% / +14%, of 768 B +6% / +9%, of 50 B +7%; f32 rows of 1,536 B (first 8 lines against
/// the first) -1%. Timing only.
#[inline]
pub fn prefetch_row<T>(values: &[T]) {
    if std::mem::size_of_val(values) <= PREFETCH_WHOLE_ROW_BYTES {
        prefetch_slice(values);
    } else if let Some(first) = values.first() {
        prefetch(first);
    }
}

/// [`prefetch`] for every 64-byte cache line `values` touches (a row about to be read in
/// full). Timing only.
#[inline]
pub fn prefetch_slice<T>(values: &[T]) {
    let step = (64 / std::mem::size_of::<T>().max(1)).max(1);
    for v in values.iter().step_by(step) {
        prefetch(v);
    }
    // The last line, when the slice does not start on a line boundary.
    if let Some(last) = values.last() {
        prefetch(last);
    }
}

/// Cosine distance from a dot product and the two squared norms: `1 - dot / sqrt(na * nb)`,
/// clamped to `[0, 2]`. Returns exactly `1.0` when either norm is zero (a zero vector has no
/// direction; it is treated as orthogonal to everything, itself included).
#[inline]
pub fn cosine_from_parts(dot: f32, norm_sq_a: f32, norm_sq_b: f32) -> f32 {
    if norm_sq_a == 0.0 || norm_sq_b == 0.0 {
        return 1.0;
    }
    // f64 for the final combination: the product of two large squared norms would overflow f32.
    let cos = f64::from(dot) / (f64::from(norm_sq_a) * f64::from(norm_sq_b)).sqrt();
    (1.0 - cos).clamp(0.0, 2.0) as f32
}

/// Dot product `Σ a_i·b_i`.
///
/// # Panics
/// When `a.len() != b.len()`; [`try_dot`] returns an error instead.
#[inline]
#[track_caller]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    Kernels::active().dot(a, b)
}

/// Squared Euclidean distance `Σ (a_i − b_i)²`.
///
/// # Panics
/// When `a.len() != b.len()`; [`try_l2_squared`] returns an error instead.
#[inline]
#[track_caller]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    Kernels::active().l2_squared(a, b)
}

/// Squared Euclidean norm `Σ a_i²`.
#[inline]
pub fn norm_squared(a: &[f32]) -> f32 {
    Kernels::active().norm_squared(a)
}

/// Cosine distance `1 − cos(a, b)`, in `[0, 2]` (0 = same direction, 2 = opposite).
///
/// A zero vector (all components zero, or an empty slice) has no direction: when either input
/// is one, the result is exactly `1.0`, as for orthogonal vectors, and never NaN. Computed in one
/// pass over both vectors ([`dot_norms`]).
///
/// # Panics
/// When `a.len() != b.len()`; [`try_cosine_distance`] returns an error instead.
#[inline]
#[track_caller]
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    Kernels::active().cosine_distance(a, b)
}

/// `[Σ a_i·b_i, Σ a_i², Σ b_i²]` in one pass over both vectors.
///
/// # Panics
/// When `a.len() != b.len()`.
#[inline]
#[track_caller]
pub fn dot_norms(a: &[f32], b: &[f32]) -> [f32; 3] {
    Kernels::active().dot_norms(a, b)
}

/// Dot product of `query` with each row of a row-major matrix: `out[i] = dot(query,
/// rows[i*dim..(i+1)*dim])`. Query loads are shared across several rows at a time.
///
/// # Panics
/// When `query.len() != dim` or `rows.len() != dim * out.len()`; [`try_dot_many`] returns an
/// error instead.
#[inline]
#[track_caller]
pub fn dot_many(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    Kernels::active().dot_many(query, rows, dim, out)
}

/// Squared L2 distance from `query` to each row of a row-major matrix (see [`dot_many`]).
///
/// # Panics
/// As [`dot_many`]; [`try_l2_squared_many`] returns an error instead.
#[inline]
#[track_caller]
pub fn l2_squared_many(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    Kernels::active().l2_squared_many(query, rows, dim, out)
}

/// Dot product of two `u8` vectors, exact (wrapping modulo 2³² past 66,051 elements).
///
/// # Panics
/// When `a.len() != b.len()`; [`try_dot_u8`] returns an error instead.
#[inline]
#[track_caller]
pub fn dot_u8(a: &[u8], b: &[u8]) -> u32 {
    Kernels::active().dot_u8(a, b)
}

/// Squared L2 distance of two `u8` vectors, exact (wrapping modulo 2³² past 66,051 elements).
///
/// # Panics
/// When `a.len() != b.len()`; [`try_l2_squared_u8`] returns an error instead.
#[inline]
#[track_caller]
pub fn l2_squared_u8(a: &[u8], b: &[u8]) -> u32 {
    Kernels::active().l2_squared_u8(a, b)
}

/// Dot product of two `i8` vectors, exact (wrapping modulo 2³² past 131,071 elements).
///
/// # Panics
/// When `a.len() != b.len()`; [`try_dot_i8`] returns an error instead.
#[inline]
#[track_caller]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    Kernels::active().dot_i8(a, b)
}

/// Squared L2 distance of two `i8` vectors, exact (wrapping modulo 2³² past 66,051 elements).
///
/// # Panics
/// When `a.len() != b.len()`; [`try_l2_squared_i8`] returns an error instead.
#[inline]
#[track_caller]
pub fn l2_squared_i8(a: &[i8], b: &[i8]) -> u32 {
    Kernels::active().l2_squared_i8(a, b)
}

/// Hamming distance: the number of differing bits between two bit strings packed in bytes.
///
/// # Panics
/// When `a.len() != b.len()`; [`try_hamming`] returns an error instead.
#[inline]
#[track_caller]
pub fn hamming(a: &[u8], b: &[u8]) -> u32 {
    Kernels::active().hamming(a, b)
}

macro_rules! checked_pair {
    ($($(#[$doc:meta])* $name:ident => $plain:ident($t:ty) -> $r:ty;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name(a: &[$t], b: &[$t]) -> Result<$r, SimdError> {
            if a.len() != b.len() {
                return Err(SimdError::LengthMismatch { left: a.len(), right: b.len() });
            }
            Ok($plain(a, b))
        }
    )*};
}

checked_pair! {
    /// [`dot`], returning [`SimdError::LengthMismatch`] instead of panicking.
    try_dot => dot(f32) -> f32;
    /// [`l2_squared`], returning [`SimdError::LengthMismatch`] instead of panicking.
    try_l2_squared => l2_squared(f32) -> f32;
    /// [`cosine_distance`], returning [`SimdError::LengthMismatch`] instead of panicking.
    try_cosine_distance => cosine_distance(f32) -> f32;
    /// [`dot_u8`], returning [`SimdError::LengthMismatch`] instead of panicking.
    try_dot_u8 => dot_u8(u8) -> u32;
    /// [`l2_squared_u8`], returning [`SimdError::LengthMismatch`] instead of panicking.
    try_l2_squared_u8 => l2_squared_u8(u8) -> u32;
    /// [`dot_i8`], returning [`SimdError::LengthMismatch`] instead of panicking.
    try_dot_i8 => dot_i8(i8) -> i32;
    /// [`l2_squared_i8`], returning [`SimdError::LengthMismatch`] instead of panicking.
    try_l2_squared_i8 => l2_squared_i8(i8) -> u32;
    /// [`hamming`], returning [`SimdError::LengthMismatch`] instead of panicking.
    try_hamming => hamming(u8) -> u32;
}

fn shape_error(query: usize, dim: usize, rows: usize, out: usize) -> Result<(), SimdError> {
    if shape_ok(query, dim, rows, out) {
        Ok(())
    } else {
        Err(SimdError::ShapeMismatch {
            query,
            dim,
            rows,
            out,
        })
    }
}

/// [`dot_many`], returning [`SimdError::ShapeMismatch`] instead of panicking.
pub fn try_dot_many(
    query: &[f32],
    rows: &[f32],
    dim: usize,
    out: &mut [f32],
) -> Result<(), SimdError> {
    shape_error(query.len(), dim, rows.len(), out.len())?;
    dot_many(query, rows, dim, out);
    Ok(())
}

/// [`l2_squared_many`], returning [`SimdError::ShapeMismatch`] instead of panicking.
pub fn try_l2_squared_many(
    query: &[f32],
    rows: &[f32],
    dim: usize,
    out: &mut [f32],
) -> Result<(), SimdError> {
    shape_error(query.len(), dim, rows.len(), out.len())?;
    l2_squared_many(query, rows, dim, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_f64_is_finite_exactly_when_every_component_is() {
        // The graph's query check leans on this: it looks for a non-finite component only when
        // the norm is not finite.
        let huge = vec![f32::MAX; 4099];
        assert!(norm_f64(&huge).is_finite());
        assert!(norm_f64(&[f32::MIN_POSITIVE / 4.0; 3]) > 0.0);
        assert_eq!(norm_f64(&[]), 0.0);
        for len in 1..=19 {
            for at in 0..len {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut v = vec![f32::MAX; len];
                    v[at] = bad;
                    assert!(!norm_f64(&v).is_finite(), "len {len}, {bad} at {at}");
                }
            }
        }
    }

    #[test]
    fn first_non_finite_finds_the_first_bad_value() {
        assert_eq!(first_non_finite(&[]), None);
        assert_eq!(first_non_finite(&[f32::MAX, -f32::MAX, 0.0, -0.0]), None);
        for len in [1usize, 8, 9, 33] {
            for at in 0..len {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut v = vec![1.5f32; len];
                    v[at] = bad;
                    v[len - 1] = if at + 1 < len { f32::NAN } else { bad };
                    let (i, x) = first_non_finite(&v).unwrap();
                    assert_eq!((i, x.to_bits()), (at, bad.to_bits()), "len {len}");
                }
            }
        }
    }

    #[test]
    fn norm_f64_has_the_same_bits_on_every_target() {
        // The lanes are added in a fixed order and Rust never fuses a multiply and an add, so
        // the bits are the IEEE result of that order (computed independently with numpy).
        let v: Vec<f32> = (1..=21).map(|i| i as f32 * 0.1).collect();
        assert_eq!(norm_f64(&v).to_bits(), 0x4017_043a_6978_4c5e);
    }

    #[test]
    fn norm_f64_matches_one_running_sum() {
        // Eight partial sums change the rounding, not the value: against a single running
        // sum, within a few f64 ulps, at lengths around the eight-lane blocks.
        let mut x = 0x2545_f491_u32;
        for len in [1usize, 7, 8, 9, 15, 16, 17, 50, 384, 385, 1536] {
            let v: Vec<f32> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x as f32 / u32::MAX as f32 - 0.5) * 1e3
                })
                .collect();
            let serial = v
                .iter()
                .map(|&a| f64::from(a) * f64::from(a))
                .sum::<f64>()
                .sqrt();
            let lanes = norm_f64(&v);
            assert!(
                (lanes - serial).abs() <= serial * 1e-14,
                "{len}: {lanes} vs {serial}"
            );
        }
    }

    #[test]
    fn metric_names_and_tags_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.name()), Some(m));
            assert_eq!(Metric::from_tag(m.tag()), Some(m));
        }
        assert_eq!(Metric::from_tag(3), None);
        assert_eq!(Metric::from_name("L2"), Some(Metric::L2));
    }

    #[test]
    fn names_round_trip() {
        for b in Backend::ALL {
            assert_eq!(Backend::from_name(b.name()), Some(b));
        }
        assert_eq!(Backend::from_name(" AVX2 "), Some(Backend::Avx2Fma));
        assert_eq!(Backend::from_name("sse9"), None);
    }

    #[test]
    fn scalar_is_always_available_and_first() {
        let avail = Backend::available();
        assert_eq!(avail.first(), Some(&Backend::Scalar));
        assert_eq!(
            Kernels::for_backend(Backend::Scalar).map(|k| k.backend()),
            Some(Backend::Scalar)
        );
    }

    #[test]
    fn active_backend_is_available() {
        assert!(backend().is_available());
        if std::env::var("EDGEVEC_SIMD").as_deref() == Ok("scalar") {
            assert_eq!(backend(), Backend::Scalar);
        }
    }

    #[test]
    fn mismatches_are_errors_in_try_forms() {
        assert_eq!(
            try_dot(&[1.0], &[1.0, 2.0]),
            Err(SimdError::LengthMismatch { left: 1, right: 2 })
        );
        assert!(try_hamming(&[1], &[]).is_err());
        let mut out = [0.0; 2];
        assert!(try_dot_many(&[1.0, 2.0], &[0.0; 3], 2, &mut out).is_err());
        assert!(try_l2_squared_many(&[1.0], &[0.0; 2], 2, &mut out).is_err());
        assert!(try_dot_many(&[1.0, 2.0], &[1.0; 4], 2, &mut out).is_ok());
        assert_eq!(out, [3.0, 3.0]);
        // dim * out.len() overflowing usize is a shape error, not a panic.
        let mut big = [0.0; 3];
        assert!(shape_error(usize::MAX, usize::MAX, 0, big.len()).is_err());
        assert!(try_l2_squared_many(&[], &[], 0, &mut big).is_ok());
        assert_eq!(big, [0.0; 3]);
    }

    #[test]
    #[should_panic(expected = "vector lengths differ: 2 vs 3")]
    fn mismatch_panics_with_both_lengths() {
        let _ = dot(&[1.0, 2.0], &[1.0, 2.0, 3.0]);
    }

    #[test]
    fn cosine_of_zero_vectors_is_one() {
        assert_eq!(cosine_distance(&[0.0; 5], &[1.0; 5]), 1.0);
        assert_eq!(cosine_distance(&[0.0; 5], &[0.0; 5]), 1.0);
        assert_eq!(cosine_distance(&[], &[]), 1.0);
        assert_eq!(cosine_distance(&[2.0, 0.0], &[5.0, 0.0]), 0.0);
        assert_eq!(cosine_distance(&[1.0, 0.0], &[-1.0, 0.0]), 2.0);
        assert_eq!(cosine_distance(&[1.0, 0.0], &[0.0, 3.0]), 1.0);
    }
}
