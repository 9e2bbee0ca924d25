//! Checks shared by the native tests (proptest + sweep) and the wasm32 tests (sweep): every
//! kernel of a backend against the scalar oracle.
//!
//! f32 tolerance: summing n products in two different orders (and with or without FMA) differs
//! by at most about `(n + 2)·ε·Σ|a_i·b_i|` plus the absolute rounding of products that fall into
//! the subnormal range (`2⁻¹⁴⁹` each). Integer kernels must match exactly.
#![allow(dead_code, unreachable_pub)]

use edgevec_simd::{Kernels, cosine_from_parts, scalar};

/// Smallest positive subnormal f32, the absolute rounding unit near zero.
const TINY: f64 = 1.401_298_464_324_817e-45;

fn bound(n: usize, magnitude: f64) -> f64 {
    let n = n as f64 + 2.0;
    n * f64::from(f32::EPSILON) * magnitude + n * TINY
}

fn close(what: &str, got: f32, want: f32, tol: f64) -> Result<(), String> {
    if got.is_nan() && want.is_nan() {
        return Ok(());
    }
    let diff = (f64::from(got) - f64::from(want)).abs();
    if diff <= tol {
        Ok(())
    } else {
        Err(format!(
            "{what}: backend gave {got:e}, oracle {want:e} (|diff| {diff:e} > tolerance {tol:e})"
        ))
    }
}

/// Σ|a_i·b_i| in f64 (the condition of a dot product).
fn abs_dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) * f64::from(*y)).abs())
        .sum()
}

/// Σ d_i² in f64 where d_i is the f32 difference both implementations compute.
fn l2_mag(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum()
}

/// Every f32 pairwise kernel of `k` against the oracle on one pair of equal-length vectors.
pub fn check_f32(k: &Kernels, a: &[f32], b: &[f32]) -> Result<(), String> {
    let n = a.len();
    let be = k.backend();
    let dot_tol = bound(n, abs_dot(a, b));
    let na_tol = bound(n, abs_dot(a, a));
    let nb_tol = bound(n, abs_dot(b, b));
    close(
        &format!("{be} dot n={n}"),
        k.dot(a, b),
        scalar::dot(a, b),
        dot_tol,
    )?;
    close(
        &format!("{be} l2_squared n={n}"),
        k.l2_squared(a, b),
        scalar::l2_squared(a, b),
        bound(n, l2_mag(a, b)),
    )?;
    close(
        &format!("{be} norm_squared n={n}"),
        k.norm_squared(a),
        scalar::norm_squared(a),
        na_tol,
    )?;
    let [d, na, nb] = k.dot_norms(a, b);
    let [sd, sna, snb] = scalar::dot_norms(a, b);
    close(&format!("{be} dot_norms.0 n={n}"), d, sd, dot_tol)?;
    close(&format!("{be} dot_norms.1 n={n}"), na, sna, na_tol)?;
    close(&format!("{be} dot_norms.2 n={n}"), nb, snb, nb_tol)?;
    // Cosine: the dot error relative to |a||b|, plus the norms' relative errors times |cos|.
    let want = scalar::cosine_distance(a, b);
    let got = k.cosine_distance(a, b);
    if sna == 0.0 || snb == 0.0 {
        if got != 1.0 || want != 1.0 {
            return Err(format!(
                "{be} cosine of a zero vector: {got} / oracle {want}"
            ));
        }
    } else {
        let denom = (f64::from(sna) * f64::from(snb)).sqrt();
        let cos = (f64::from(sd) / denom).abs();
        // Plus the f32 roundings after the sums (square root, division, `1 - cos`): a few ulps
        // of a result in [0, 2], which either side may take differently from the same sums
        // (seen: 1 ulp at 1.006 with NEON, n = 21).
        let tol = dot_tol / denom
            + (na_tol / f64::from(sna) + nb_tol / f64::from(snb)) * cos
            + 4.0 * f64::from(f32::EPSILON);
        close(&format!("{be} cosine_distance n={n}"), got, want, tol)?;
        if got != cosine_from_parts(d, na, nb) {
            return Err(format!(
                "{be} cosine_distance differs from cosine_from_parts(dot_norms)"
            ));
        }
    }
    Ok(())
}

/// `dot_many` / `l2_squared_many` against the oracle's row-by-row results.
pub fn check_many(k: &Kernels, query: &[f32], rows: &[f32], dim: usize) -> Result<(), String> {
    let n_rows = rows.len().checked_div(dim).unwrap_or(3);
    let mut got = vec![f32::NAN; n_rows];
    let mut want = vec![f32::NAN; n_rows];
    let be = k.backend();
    k.dot_many(query, rows, dim, &mut got);
    scalar::dot_many(query, rows, dim, &mut want);
    for r in 0..n_rows {
        let row = &rows[r * dim..(r + 1) * dim];
        close(
            &format!("{be} dot_many row {r} of {n_rows}, dim={dim}"),
            got[r],
            want[r],
            bound(dim, abs_dot(query, row)),
        )?;
    }
    k.l2_squared_many(query, rows, dim, &mut got);
    scalar::l2_squared_many(query, rows, dim, &mut want);
    for r in 0..n_rows {
        let row = &rows[r * dim..(r + 1) * dim];
        close(
            &format!("{be} l2_squared_many row {r} of {n_rows}, dim={dim}"),
            got[r],
            want[r],
            bound(dim, l2_mag(query, row)),
        )?;
    }
    Ok(())
}

fn as_i8(x: &[u8]) -> &[i8] {
    // SAFETY: u8 and i8 have the same size, alignment and validity.
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<i8>(), x.len()) }
}

/// Every integer kernel of `k` must equal the oracle exactly.
pub fn check_bytes(k: &Kernels, a: &[u8], b: &[u8]) -> Result<(), String> {
    let n = a.len();
    let be = k.backend();
    let (ia, ib) = (as_i8(a), as_i8(b));
    let pairs = [
        ("dot_u8", k.dot_u8(a, b), scalar::dot_u8(a, b)),
        (
            "l2_squared_u8",
            k.l2_squared_u8(a, b),
            scalar::l2_squared_u8(a, b),
        ),
        (
            "dot_i8",
            k.dot_i8(ia, ib) as u32,
            scalar::dot_i8(ia, ib) as u32,
        ),
        (
            "l2_squared_i8",
            k.l2_squared_i8(ia, ib),
            scalar::l2_squared_i8(ia, ib),
        ),
        ("hamming", k.hamming(a, b), scalar::hamming(a, b)),
    ];
    for (name, got, want) in pairs {
        if got != want {
            return Err(format!("{be} {name} n={n}: backend {got}, oracle {want}"));
        }
    }
    Ok(())
}

/// SplitMix64: a tiny deterministic generator for the sweeps (same numbers on every platform).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Every length 0..=max_len, each at a different misalignment (offset 0..=3 elements into the
/// allocation) and a different magnitude (10^-15 .. 10^14), for all kernels of `k`; plus the
/// integer extremes at 65,536 elements. Deterministic; returns the first failure.
pub fn sweep(k: &Kernels, max_len: usize) -> Result<(), String> {
    let mut rng = Rng(0x5EED_0000_0000_0001);
    for len in 0..=max_len {
        let off = len % 4;
        let scale = 10f32.powi((len % 30) as i32 - 15);
        let a: Vec<f32> = (0..len + off).map(|_| rng.unit() * scale).collect();
        let b: Vec<f32> = (0..len + off).map(|_| rng.unit() * scale).collect();
        check_f32(k, &a[off..], &b[off..])?;
        let ua = rng.bytes(len + off);
        let ub = rng.bytes(len + off);
        check_bytes(k, &ua[off..], &ub[off..])?;
    }
    for dim in [0usize, 1, 3, 7, 8, 15, 16, 17, 31, 33, 50, 64, 100, 128] {
        for n_rows in [0usize, 1, 3, 4, 5, 9] {
            let q: Vec<f32> = (0..dim).map(|_| rng.unit()).collect();
            let rows: Vec<f32> = (0..dim * n_rows).map(|_| rng.unit() * 3.0).collect();
            if dim == 0 {
                let mut out = vec![f32::NAN; n_rows];
                k.dot_many(&q, &rows, 0, &mut out);
                if out.iter().any(|x| *x != 0.0) {
                    return Err(format!("{} dot_many with dim 0 gave {out:?}", k.backend()));
                }
                continue;
            }
            check_many(k, &q, &rows, dim)?;
        }
    }
    check_extremes(k)
}

/// Integer kernels at their worst case: every product maximal, 65,536 elements (exact), and
/// 70,001 elements (past the exact range: must wrap exactly like the oracle).
pub fn check_extremes(k: &Kernels) -> Result<(), String> {
    for n in [65_536usize, 70_001] {
        for (x, y) in [
            (0u8, 255u8),
            (255, 255),
            (0x80, 0x80),
            (0x80, 0x7f),
            (0xff, 0x00),
        ] {
            check_bytes(k, &vec![x; n], &vec![y; n])?;
        }
    }
    let n = 65_536;
    if k.l2_squared_u8(&vec![0; n], &vec![255; n]) != 65_025 * 65_536 {
        return Err(format!("{} l2_squared_u8 not exact at 65,536", k.backend()));
    }
    if k.dot_i8(&vec![-128; n], &vec![-128; n]) != 16_384 * 65_536 {
        return Err(format!("{} dot_i8 not exact at 65,536", k.backend()));
    }
    Ok(())
}
