//! Arbitrary bytes as vector pairs: every backend this CPU runs must match the scalar oracle
//! (integer kernels exactly, f32 kernels within reordering error) and never panic or read out of
//! bounds, whatever the lengths and values (NaN, infinities, subnormals included).
#![no_main]

use edgevec_simd::{Backend, Kernels, scalar};
use libfuzzer_sys::fuzz_target;

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn close(got: f32, want: f32, n: usize, magnitude: f64) -> bool {
    if !want.is_finite() || !got.is_finite() || !magnitude.is_finite() {
        // Overflow and NaN may surface in a different lane order; only NaN-ness of a sum with a
        // NaN input is guaranteed, and that is checked separately.
        return true;
    }
    let tol = (n as f64 + 2.0) * f64::from(f32::EPSILON) * magnitude + (n as f64 + 2.0) * 1.5e-45;
    (f64::from(got) - f64::from(want)).abs() <= tol
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    // First byte: split point and misalignment; the rest: two halves.
    let off = usize::from(data[0] % 4);
    let rest = &data[1..];
    let half = rest.len() / 2;
    let (a_bytes, b_bytes) = (&rest[..half], &rest[half..2 * half]);
    let (a, b) = (f32s(a_bytes), f32s(b_bytes));
    let (a, b) = (&a[off.min(a.len())..], &b[off.min(b.len())..]);
    let n = a.len();
    let mag: f64 = a.iter().zip(b).map(|(x, y)| (f64::from(*x) * f64::from(*y)).abs()).sum();
    let has_nan = a.iter().chain(b).any(|x| x.is_nan());
    for backend in Backend::available() {
        let Some(k) = Kernels::for_backend(backend) else { continue };
        let d = k.dot(a, b);
        assert!(close(d, scalar::dot(a, b), n, mag), "{backend} dot");
        if has_nan {
            assert!(d.is_nan(), "{backend} dot lost a NaN");
        }
        let _ = k.l2_squared(a, b);
        let _ = k.cosine_distance(a, b);
        let _ = k.norm_squared(a);
        assert_eq!(k.dot_u8(a_bytes, b_bytes), scalar::dot_u8(a_bytes, b_bytes), "{backend}");
        assert_eq!(k.l2_squared_u8(a_bytes, b_bytes), scalar::l2_squared_u8(a_bytes, b_bytes));
        assert_eq!(k.hamming(a_bytes, b_bytes), scalar::hamming(a_bytes, b_bytes), "{backend}");
        // Mismatched lengths are reported, never undefined behaviour.
        assert!(edgevec_simd::try_dot(a, &b[..b.len().saturating_sub(1)]).is_err() || n == 0);
    }
});
