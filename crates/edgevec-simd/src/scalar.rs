//! The portable oracle: plain Rust, one element at a time, in index order.
//!
//! Every SIMD backend is tested against these functions, and `EDGEVEC_SIMD=scalar` makes the
//! crate's free functions call them. They follow the same contracts as the crate-level functions
//! of the same names (lengths must match, integer sums wrap modulo 2³², a zero vector has cosine
//! distance 1). The f32 sums run strictly left to right in f32, so they are reproducible on every
//! platform.

#[track_caller]
fn same_len(a: usize, b: usize) {
    if a != b {
        crate::length_mismatch(a, b)
    }
}

/// Dot product `Σ a_i·b_i`, summed left to right. Panics when the lengths differ.
#[track_caller]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    same_len(a.len(), b.len());
    let mut sum = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        sum += x * y;
    }
    sum
}

/// Squared Euclidean distance `Σ (a_i − b_i)²`. Panics when the lengths differ.
#[track_caller]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    same_len(a.len(), b.len());
    let mut sum = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        sum += d * d;
    }
    sum
}

/// Squared Euclidean norm `Σ a_i²`.
pub fn norm_squared(a: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for x in a {
        sum += x * x;
    }
    sum
}

/// `[Σ a_i·b_i, Σ a_i², Σ b_i²]`. Panics when the lengths differ.
#[track_caller]
pub fn dot_norms(a: &[f32], b: &[f32]) -> [f32; 3] {
    same_len(a.len(), b.len());
    let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    [ab, aa, bb]
}

/// Cosine distance `1 − cos(a, b)`; `1.0` when either vector is zero. Panics when the lengths
/// differ.
#[track_caller]
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    let [ab, aa, bb] = dot_norms(a, b);
    crate::cosine_from_parts(ab, aa, bb)
}

#[track_caller]
fn rows_of<'a>(
    query: &[f32],
    rows: &'a [f32],
    dim: usize,
    out_len: usize,
) -> impl Iterator<Item = &'a [f32]> {
    crate::check_shape(query.len(), dim, rows.len(), out_len);
    // `dim == 0` would make `chunks_exact` panic; every row is then empty.
    (0..out_len).map(move |i| &rows[i * dim..(i + 1) * dim])
}

/// `out[i] = dot(query, row i)` for a row-major `rows` of `out.len()` rows of `dim` values.
/// Panics when the shapes do not fit.
#[track_caller]
pub fn dot_many(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    let n = out.len();
    for (o, row) in out.iter_mut().zip(rows_of(query, rows, dim, n)) {
        *o = dot(query, row);
    }
}

/// `out[i] = l2_squared(query, row i)`; see [`dot_many`].
#[track_caller]
pub fn l2_squared_many(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    let n = out.len();
    for (o, row) in out.iter_mut().zip(rows_of(query, rows, dim, n)) {
        *o = l2_squared(query, row);
    }
}

/// Dot product of `u8` vectors, wrapping modulo 2³². Panics when the lengths differ.
#[inline]
#[track_caller]
pub fn dot_u8(a: &[u8], b: &[u8]) -> u32 {
    same_len(a.len(), b.len());
    a.iter().zip(b).fold(0u32, |s, (&x, &y)| {
        s.wrapping_add(u32::from(x) * u32::from(y))
    })
}

/// Squared L2 distance of `u8` vectors, wrapping modulo 2³². Panics when the lengths differ.
#[inline]
#[track_caller]
pub fn l2_squared_u8(a: &[u8], b: &[u8]) -> u32 {
    same_len(a.len(), b.len());
    a.iter().zip(b).fold(0u32, |s, (&x, &y)| {
        let d = u32::from(x.abs_diff(y));
        s.wrapping_add(d * d)
    })
}

/// Dot product of `i8` vectors, wrapping modulo 2³². Panics when the lengths differ.
#[inline]
#[track_caller]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    same_len(a.len(), b.len());
    a.iter().zip(b).fold(0i32, |s, (&x, &y)| {
        s.wrapping_add(i32::from(x) * i32::from(y))
    })
}

/// Squared L2 distance of `i8` vectors, wrapping modulo 2³². Panics when the lengths differ.
#[inline]
#[track_caller]
pub fn l2_squared_i8(a: &[i8], b: &[i8]) -> u32 {
    same_len(a.len(), b.len());
    a.iter().zip(b).fold(0u32, |s, (&x, &y)| {
        let d = u32::from(x.abs_diff(y));
        s.wrapping_add(d * d)
    })
}

/// Number of differing bits, wrapping modulo 2³². Panics when the lengths differ.
///
/// Eight bytes at a time (one `u64` popcount), then byte by byte: the same count, and fast
/// enough to serve as the SIMD backends' tail.
#[inline]
#[track_caller]
pub fn hamming(a: &[u8], b: &[u8]) -> u32 {
    same_len(a.len(), b.len());
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (a8.remainder(), b8.remainder());
    let word = |c: &[u8]| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    let words = a8.zip(b8).fold(0u32, |s, (x, y)| {
        s.wrapping_add((word(x) ^ word(y)).count_ones())
    });
    ta.iter()
        .zip(tb)
        .fold(words, |s, (&x, &y)| s.wrapping_add((x ^ y).count_ones()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_known_values() {
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, -5.0, 6.0]), 12.0);
        assert_eq!(l2_squared(&[1.0, 2.0], &[4.0, 6.0]), 25.0);
        assert_eq!(norm_squared(&[3.0, 4.0]), 25.0);
        assert_eq!(dot_norms(&[1.0, 2.0], &[3.0, 4.0]), [11.0, 5.0, 25.0]);
        assert_eq!(dot_u8(&[255, 2], &[255, 3]), 65025 + 6);
        assert_eq!(l2_squared_u8(&[0, 10], &[255, 7]), 65025 + 9);
        assert_eq!(dot_i8(&[-128, 127], &[-128, -128]), 16384 - 16256);
        assert_eq!(l2_squared_i8(&[-128, 5], &[127, -5]), 65025 + 100);
        assert_eq!(hamming(&[0xff, 0x0f], &[0x00, 0x01]), 8 + 3);
        let mut out = [0.0; 2];
        dot_many(&[1.0, 1.0], &[1.0, 2.0, 3.0, 4.0], 2, &mut out);
        assert_eq!(out, [3.0, 7.0]);
        l2_squared_many(&[1.0, 1.0], &[1.0, 2.0, 3.0, 4.0], 2, &mut out);
        assert_eq!(out, [1.0, 13.0]);
    }

    #[test]
    fn integer_extremes_are_exact_at_65536() {
        let n = 65_536;
        assert_eq!(l2_squared_u8(&vec![0; n], &vec![255; n]), 65_025 * 65_536);
        assert_eq!(dot_u8(&vec![255; n], &vec![255; n]), 65_025 * 65_536);
        assert_eq!(dot_i8(&vec![-128; n], &vec![-128; n]), 16_384 * 65_536);
        assert_eq!(
            l2_squared_i8(&vec![-128; n], &vec![127; n]),
            65_025 * 65_536
        );
        // Past the documented exact range the sums wrap instead of panicking.
        let m = 70_000;
        assert_eq!(
            l2_squared_u8(&vec![0; m], &vec![255; m]),
            (65_025u64 * m as u64 % (1 << 32)) as u32
        );
    }
}
