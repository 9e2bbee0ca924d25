//! Each algorithm written once, over small lane traits.
//!
//! A backend implements [`F32Lanes`] and [`ByteLanes`] for its vector type with
//! `#[inline(always)]` methods that carry no `#[target_feature]`; its entry points carry the
//! feature attribute and call the generic functions here, which are `#[inline(always)]` too. The
//! whole loop is thus compiled once per backend, with that backend's instructions, and no small
//! helper ever sits behind a call it cannot inline.
//!
//! Every function here reads only inside the slices it is given: loops are bounded by the first
//! slice's length and the second slice is re-sliced to that length first (a shorter second slice
//! panics there, before any pointer is read).

/// A vector of f32 lanes.
///
/// # Safety
/// Implementations may only be used where the backend's CPU features are enabled; each method
/// documents what it reads.
pub(crate) unsafe trait F32Lanes: Copy {
    /// Number of f32 lanes.
    const LANES: usize;
    /// All lanes zero.
    unsafe fn zero() -> Self;
    /// Loads `LANES` values from `p` (no alignment required).
    ///
    /// # Safety
    /// `p..p + LANES` must be readable.
    unsafe fn load(p: *const f32) -> Self;
    /// Loads `n < LANES` values from `p`, the other lanes zero.
    ///
    /// # Safety
    /// `p..p + n` must be readable; nothing past it is read.
    unsafe fn load_partial(p: *const f32, n: usize) -> Self;
    /// Lane-wise `self + o`.
    unsafe fn add(self, o: Self) -> Self;
    /// Lane-wise `self - o`.
    unsafe fn sub(self, o: Self) -> Self;
    /// Lane-wise `self * b + acc` (fused where the backend has FMA).
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self;
    /// Sum of the lanes.
    unsafe fn hsum(self) -> f32;
}

/// A pairwise f32 reduction step: how one pair of loaded vectors updates an accumulator.
pub(crate) trait PairOp {
    unsafe fn step<V: F32Lanes>(x: V, y: V, acc: V) -> V;
}

pub(crate) struct DotOp;
pub(crate) struct L2Op;

impl PairOp for DotOp {
    #[inline(always)]
    unsafe fn step<V: F32Lanes>(x: V, y: V, acc: V) -> V {
        // SAFETY: the caller runs with V's features enabled (trait contract).
        unsafe { x.mul_add(y, acc) }
    }
}

impl PairOp for L2Op {
    #[inline(always)]
    unsafe fn step<V: F32Lanes>(x: V, y: V, acc: V) -> V {
        // SAFETY: the caller runs with V's features enabled (trait contract).
        unsafe {
            let d = x.sub(y);
            d.mul_add(d, acc)
        }
    }
}

/// `Σ step(a_i, b_i)` with four independent accumulators (to hide FMA latency), then one
/// vector at a time, then a zero-padded partial vector. Zero padding is neutral for both ops.
///
/// # Safety
/// V's CPU features must be enabled.
#[inline(always)]
pub(crate) unsafe fn reduce_pair<V: F32Lanes, O: PairOp>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let b = &b[..n];
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let l = V::LANES;
    // SAFETY: every load below covers indices < n of both slices (loop bounds), and V's
    // features are enabled by the caller.
    unsafe {
        let (mut s0, mut s1, mut s2, mut s3) = (V::zero(), V::zero(), V::zero(), V::zero());
        let mut i = 0;
        while i + 4 * l <= n {
            s0 = O::step(V::load(pa.add(i)), V::load(pb.add(i)), s0);
            s1 = O::step(V::load(pa.add(i + l)), V::load(pb.add(i + l)), s1);
            s2 = O::step(V::load(pa.add(i + 2 * l)), V::load(pb.add(i + 2 * l)), s2);
            s3 = O::step(V::load(pa.add(i + 3 * l)), V::load(pb.add(i + 3 * l)), s3);
            i += 4 * l;
        }
        while i + l <= n {
            s0 = O::step(V::load(pa.add(i)), V::load(pb.add(i)), s0);
            i += l;
        }
        if i < n {
            let r = n - i;
            s1 = O::step(
                V::load_partial(pa.add(i), r),
                V::load_partial(pb.add(i), r),
                s1,
            );
        }
        s0.add(s1).add(s2.add(s3)).hsum()
    }
}

/// `Σ a_i²` (one load per element rather than `reduce_pair(a, a)`'s two).
///
/// # Safety
/// V's CPU features must be enabled.
#[inline(always)]
pub(crate) unsafe fn norm_squared<V: F32Lanes>(a: &[f32]) -> f32 {
    let n = a.len();
    let pa = a.as_ptr();
    let l = V::LANES;
    // SAFETY: loads stay below n (loop bounds); features enabled by the caller.
    unsafe {
        let (mut s0, mut s1, mut s2, mut s3) = (V::zero(), V::zero(), V::zero(), V::zero());
        let mut i = 0;
        while i + 4 * l <= n {
            let (x0, x1) = (V::load(pa.add(i)), V::load(pa.add(i + l)));
            let (x2, x3) = (V::load(pa.add(i + 2 * l)), V::load(pa.add(i + 3 * l)));
            s0 = x0.mul_add(x0, s0);
            s1 = x1.mul_add(x1, s1);
            s2 = x2.mul_add(x2, s2);
            s3 = x3.mul_add(x3, s3);
            i += 4 * l;
        }
        while i + l <= n {
            let x = V::load(pa.add(i));
            s0 = x.mul_add(x, s0);
            i += l;
        }
        if i < n {
            let x = V::load_partial(pa.add(i), n - i);
            s1 = x.mul_add(x, s1);
        }
        s0.add(s1).add(s2.add(s3)).hsum()
    }
}

/// `[Σ a·b, Σ a², Σ b²]` in one pass, two accumulators per sum.
///
/// # Safety
/// V's CPU features must be enabled.
#[inline(always)]
pub(crate) unsafe fn dot_norms<V: F32Lanes>(a: &[f32], b: &[f32]) -> [f32; 3] {
    let n = a.len();
    let b = &b[..n];
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let l = V::LANES;
    // SAFETY: loads stay below n (loop bounds); features enabled by the caller.
    unsafe {
        let (mut ab0, mut aa0, mut bb0) = (V::zero(), V::zero(), V::zero());
        let (mut ab1, mut aa1, mut bb1) = (V::zero(), V::zero(), V::zero());
        let mut i = 0;
        while i + 2 * l <= n {
            let (x0, y0) = (V::load(pa.add(i)), V::load(pb.add(i)));
            let (x1, y1) = (V::load(pa.add(i + l)), V::load(pb.add(i + l)));
            ab0 = x0.mul_add(y0, ab0);
            aa0 = x0.mul_add(x0, aa0);
            bb0 = y0.mul_add(y0, bb0);
            ab1 = x1.mul_add(y1, ab1);
            aa1 = x1.mul_add(x1, aa1);
            bb1 = y1.mul_add(y1, bb1);
            i += 2 * l;
        }
        while i < n {
            let r = n - i;
            let (x, y) = if r >= l {
                (V::load(pa.add(i)), V::load(pb.add(i)))
            } else {
                (V::load_partial(pa.add(i), r), V::load_partial(pb.add(i), r))
            };
            ab0 = x.mul_add(y, ab0);
            aa0 = x.mul_add(x, aa0);
            bb0 = y.mul_add(y, bb0);
            i += l;
        }
        [
            ab0.add(ab1).hsum(),
            aa0.add(aa1).hsum(),
            bb0.add(bb1).hsum(),
        ]
    }
}

/// `out[r] = Σ step(query, row r)` for row-major `rows`, four rows at a time so that each query
/// load serves four rows and the four accumulators are independent.
///
/// # Safety
/// V's CPU features must be enabled. The shape (`query.len() == dim`, `rows.len() == dim *
/// out.len()`) is checked here too (panic), so the function is memory-safe for any input.
#[inline(always)]
pub(crate) unsafe fn many<V: F32Lanes, O: PairOp>(
    query: &[f32],
    rows: &[f32],
    dim: usize,
    out: &mut [f32],
) {
    crate::check_shape(query.len(), dim, rows.len(), out.len());
    let l = V::LANES;
    let q = query.as_ptr();
    let mut blocks = out.chunks_exact_mut(4);
    let mut r = 0usize;
    for o in &mut blocks {
        let base = &rows[r * dim..(r + 4) * dim];
        let p0 = base.as_ptr();
        // SAFETY: row k of the block spans base[k*dim..(k+1)*dim]; loads stay below dim within
        // each row (loop bounds) and `query` has dim values. Features enabled by the caller.
        unsafe {
            let (p1, p2, p3) = (p0.add(dim), p0.add(2 * dim), p0.add(3 * dim));
            let (mut s0, mut s1, mut s2, mut s3) = (V::zero(), V::zero(), V::zero(), V::zero());
            let mut i = 0;
            while i + l <= dim {
                let x = V::load(q.add(i));
                s0 = O::step(x, V::load(p0.add(i)), s0);
                s1 = O::step(x, V::load(p1.add(i)), s1);
                s2 = O::step(x, V::load(p2.add(i)), s2);
                s3 = O::step(x, V::load(p3.add(i)), s3);
                i += l;
            }
            if i < dim {
                let n = dim - i;
                let x = V::load_partial(q.add(i), n);
                s0 = O::step(x, V::load_partial(p0.add(i), n), s0);
                s1 = O::step(x, V::load_partial(p1.add(i), n), s1);
                s2 = O::step(x, V::load_partial(p2.add(i), n), s2);
                s3 = O::step(x, V::load_partial(p3.add(i), n), s3);
            }
            o[0] = s0.hsum();
            o[1] = s1.hsum();
            o[2] = s2.hsum();
            o[3] = s3.hsum();
        }
        r += 4;
    }
    for o in blocks.into_remainder() {
        // SAFETY: features enabled by the caller; reduce_pair is memory-safe.
        *o = unsafe { reduce_pair::<V, O>(query, &rows[r * dim..(r + 1) * dim]) };
        r += 1;
    }
}

/// A vector of bytes with 32-bit accumulator lanes, for the integer kernels.
///
/// Every `*_step` consumes `BYTES` bytes from each pointer and adds its partial sums into the
/// 32-bit lanes of `self` with wrapping adds; [`ByteLanes::hsum`] adds the lanes, wrapping. The
/// total is therefore the exact sum modulo 2³², as in the scalar oracle.
///
/// # Safety
/// Implementations may only be used where the backend's CPU features are enabled.
pub(crate) unsafe trait ByteLanes: Copy {
    /// Bytes consumed per step.
    const BYTES: usize;
    unsafe fn zero() -> Self;
    /// `Σ a·b` over `BYTES` unsigned bytes.
    ///
    /// # Safety
    /// `BYTES` bytes must be readable at `a` and at `b` (likewise for every step).
    unsafe fn dot_u8(self, a: *const u8, b: *const u8) -> Self;
    /// `Σ (a−b)²` over unsigned bytes.
    unsafe fn l2_u8(self, a: *const u8, b: *const u8) -> Self;
    /// `Σ a·b` over signed bytes (the pointers address `i8` data).
    unsafe fn dot_i8(self, a: *const u8, b: *const u8) -> Self;
    /// `Σ (a−b)²` over signed bytes.
    unsafe fn l2_i8(self, a: *const u8, b: *const u8) -> Self;
    /// `Σ popcount(a ^ b)`.
    unsafe fn hamming(self, a: *const u8, b: *const u8) -> Self;
    unsafe fn add(self, o: Self) -> Self;
    /// Wrapping sum of the 32-bit lanes.
    unsafe fn hsum(self) -> u32;
}

/// Which integer kernel a byte reduction runs.
#[derive(Clone, Copy)]
pub(crate) enum ByteOp {
    DotU8,
    L2U8,
    DotI8,
    L2I8,
    Hamming,
}

/// Runs one integer kernel over two byte slices: two accumulators over whole vectors, then the
/// scalar oracle for the tail (integer sums are exact, so the split point does not matter).
///
/// # Safety
/// V's CPU features must be enabled.
#[inline(always)]
pub(crate) unsafe fn reduce_bytes<V: ByteLanes>(op: ByteOp, a: &[u8], b: &[u8]) -> u32 {
    let n = a.len();
    let b = &b[..n];
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let w = V::BYTES;
    #[inline(always)]
    unsafe fn step<V: ByteLanes>(op: ByteOp, acc: V, a: *const u8, b: *const u8) -> V {
        // SAFETY: forwarded from the caller (readable bytes, features enabled).
        unsafe {
            match op {
                ByteOp::DotU8 => acc.dot_u8(a, b),
                ByteOp::L2U8 => acc.l2_u8(a, b),
                ByteOp::DotI8 => acc.dot_i8(a, b),
                ByteOp::L2I8 => acc.l2_i8(a, b),
                ByteOp::Hamming => acc.hamming(a, b),
            }
        }
    }
    let mut i = 0;
    // SAFETY: each step reads w bytes at offset i with i + w <= n (loop bounds); features are
    // enabled by the caller.
    let body = unsafe {
        let (mut s0, mut s1) = (V::zero(), V::zero());
        while i + 2 * w <= n {
            s0 = step(op, s0, pa.add(i), pb.add(i));
            s1 = step(op, s1, pa.add(i + w), pb.add(i + w));
            i += 2 * w;
        }
        if i + w <= n {
            s0 = step(op, s0, pa.add(i), pb.add(i));
            i += w;
        }
        s0.add(s1).hsum()
    };
    let (ta, tb) = (&a[i..], &b[i..]);
    let tail = match op {
        ByteOp::DotU8 => crate::scalar::dot_u8(ta, tb),
        ByteOp::L2U8 => crate::scalar::l2_squared_u8(ta, tb),
        ByteOp::DotI8 => crate::scalar::dot_i8(as_i8(ta), as_i8(tb)) as u32,
        ByteOp::L2I8 => crate::scalar::l2_squared_i8(as_i8(ta), as_i8(tb)),
        ByteOp::Hamming => crate::scalar::hamming(ta, tb),
    };
    body.wrapping_add(tail)
}

/// Views bytes as `i8` (same size and alignment; every bit pattern is valid for both).
#[inline(always)]
pub(crate) fn as_i8(x: &[u8]) -> &[i8] {
    // SAFETY: u8 and i8 have the same size, alignment and validity; the length is unchanged.
    unsafe { core::slice::from_raw_parts(x.as_ptr().cast::<i8>(), x.len()) }
}

/// Views `i8` data as bytes (the inverse of [`as_i8`]).
#[inline(always)]
pub(crate) fn as_u8(x: &[i8]) -> &[u8] {
    // SAFETY: u8 and i8 have the same size, alignment and validity; the length is unchanged.
    unsafe { core::slice::from_raw_parts(x.as_ptr().cast::<u8>(), x.len()) }
}

/// Defines a backend's entry points: one `#[target_feature]` function per kernel, each the
/// instantiation of a generic algorithm with that backend's lane types, and a `KERNELS` table.
///
/// `$features` is the `target_feature` string (empty for compile-time backends, where
/// `#[target_feature]` is not needed).
macro_rules! backend_entry_points {
    (
        backend: $backend:expr,
        features: $features:literal,
        f32: $f:ty,
        bytes: $b:ty $(,)?
    ) => {
        #[target_feature(enable = $features)]
        unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
            // SAFETY: this function's features are those the lane type needs.
            unsafe { $crate::generic::reduce_pair::<$f, $crate::generic::DotOp>(a, b) }
        }
        #[target_feature(enable = $features)]
        unsafe fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
            // SAFETY: this function's features are those the lane type needs.
            unsafe { $crate::generic::reduce_pair::<$f, $crate::generic::L2Op>(a, b) }
        }
        #[target_feature(enable = $features)]
        unsafe fn norm_squared(a: &[f32]) -> f32 {
            // SAFETY: this function's features are those the lane type needs.
            unsafe { $crate::generic::norm_squared::<$f>(a) }
        }
        #[target_feature(enable = $features)]
        unsafe fn dot_norms(a: &[f32], b: &[f32]) -> [f32; 3] {
            // SAFETY: this function's features are those the lane type needs.
            unsafe { $crate::generic::dot_norms::<$f>(a, b) }
        }
        #[target_feature(enable = $features)]
        unsafe fn dot_many(q: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
            // SAFETY: this function's features are those the lane type needs.
            unsafe { $crate::generic::many::<$f, $crate::generic::DotOp>(q, rows, dim, out) }
        }
        #[target_feature(enable = $features)]
        unsafe fn l2_squared_many(q: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
            // SAFETY: this function's features are those the lane type needs.
            unsafe { $crate::generic::many::<$f, $crate::generic::L2Op>(q, rows, dim, out) }
        }
        #[target_feature(enable = $features)]
        unsafe fn dot_u8(a: &[u8], b: &[u8]) -> u32 {
            // SAFETY: this function's features are those the lane type needs.
            unsafe { $crate::generic::reduce_bytes::<$b>($crate::generic::ByteOp::DotU8, a, b) }
        }
        #[target_feature(enable = $features)]
        unsafe fn l2_squared_u8(a: &[u8], b: &[u8]) -> u32 {
            // SAFETY: this function's features are those the lane type needs.
            unsafe { $crate::generic::reduce_bytes::<$b>($crate::generic::ByteOp::L2U8, a, b) }
        }
        #[target_feature(enable = $features)]
        unsafe fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
            let (a, b) = ($crate::generic::as_u8(a), $crate::generic::as_u8(b));
            // SAFETY: this function's features are those the lane type needs.
            let s = unsafe {
                $crate::generic::reduce_bytes::<$b>($crate::generic::ByteOp::DotI8, a, b)
            };
            s as i32
        }
        #[target_feature(enable = $features)]
        unsafe fn l2_squared_i8(a: &[i8], b: &[i8]) -> u32 {
            let (a, b) = ($crate::generic::as_u8(a), $crate::generic::as_u8(b));
            // SAFETY: this function's features are those the lane type needs.
            unsafe { $crate::generic::reduce_bytes::<$b>($crate::generic::ByteOp::L2I8, a, b) }
        }
        #[target_feature(enable = $features)]
        unsafe fn hamming(a: &[u8], b: &[u8]) -> u32 {
            // SAFETY: this function's features are those the lane type needs.
            unsafe { $crate::generic::reduce_bytes::<$b>($crate::generic::ByteOp::Hamming, a, b) }
        }

        pub(crate) static KERNELS: $crate::Kernels = $crate::Kernels {
            backend: $backend,
            dot,
            l2_squared,
            norm_squared,
            dot_norms,
            dot_many,
            l2_squared_many,
            dot_u8,
            l2_squared_u8,
            dot_i8,
            l2_squared_i8,
            hamming,
        };
    };
}
pub(crate) use backend_entry_points;
