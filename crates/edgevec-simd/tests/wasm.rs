//! The wasm32 + simd128 backend against the scalar oracle, run in Node by
//! `wasm-bindgen-test-runner` (`cargo xtask wasm-test`).
//!
//! proptest does not build for wasm32-unknown-unknown, so these tests use the deterministic
//! `sweep` of `common` (every length 0..=2049 at every misalignment, the many-row kernels, and the
//! integer extremes) plus a few known values.
#![cfg(target_arch = "wasm32")]

mod common;

use common::sweep;
use edgevec_simd::{Backend, Kernels};
use wasm_bindgen_test::wasm_bindgen_test;

fn simd128() -> &'static Kernels {
    Kernels::for_backend(Backend::Simd128).expect("built with +simd128, so Simd128 must exist")
}

#[wasm_bindgen_test]
fn simd128_is_the_active_backend() {
    assert!(Backend::Simd128.is_available());
    assert_eq!(edgevec_simd::backend(), Backend::Simd128);
    assert_eq!(simd128().backend(), Backend::Simd128);
    assert_eq!(
        Backend::available(),
        vec![Backend::Scalar, Backend::Simd128]
    );
}

#[wasm_bindgen_test]
fn simd128_matches_the_oracle() {
    if let Err(e) = sweep(simd128(), 2049) {
        panic!("{e}");
    }
}

#[wasm_bindgen_test]
fn scalar_matches_the_oracle() {
    let scalar = Kernels::for_backend(Backend::Scalar).expect("scalar always exists");
    if let Err(e) = sweep(scalar, 2049) {
        panic!("{e}");
    }
}

#[wasm_bindgen_test]
fn known_values() {
    let k = simd128();
    // Lengths that cover the 4×4-lane loop, the single-vector loop and a partial tail.
    let a: Vec<f32> = (1..=19).map(|i| i as f32).collect();
    let b: Vec<f32> = (1..=19).map(|i| (20 - i) as f32).collect();
    let want_dot: f32 = (1..=19).map(|i| (i * (20 - i)) as f32).sum::<f32>();
    assert_eq!(k.dot(&a, &b), want_dot);
    assert_eq!(
        k.l2_squared(&a, &b),
        (1..=19)
            .map(|i| ((2 * i - 20) * (2 * i - 20)) as f32)
            .sum::<f32>()
    );
    assert_eq!(
        k.norm_squared(&a),
        (1..=19).map(|i| (i * i) as f32).sum::<f32>()
    );
    assert_eq!(k.dot_norms(&[1.0, 2.0], &[3.0, 4.0]), [11.0, 5.0, 25.0]);
    assert_eq!(k.cosine_distance(&[1.0, 0.0, 0.0], &[-2.0, 0.0, 0.0]), 2.0);
    assert_eq!(k.cosine_distance(&[0.0; 7], &[1.0; 7]), 1.0);
    let mut out = [0.0; 5];
    let rows: Vec<f32> = (0..10).map(|i| i as f32).collect();
    k.dot_many(&[1.0, 1.0], &rows, 2, &mut out);
    assert_eq!(out, [1.0, 5.0, 9.0, 13.0, 17.0]);
    k.l2_squared_many(&[1.0, 1.0], &rows, 2, &mut out);
    assert_eq!(out, [1.0, 5.0, 25.0, 61.0, 113.0]);

    // 40 bytes: two 16-byte steps and an 8-byte scalar tail.
    let n = 40;
    assert_eq!(k.dot_u8(&vec![255; n], &vec![255; n]), 65_025 * 40);
    assert_eq!(k.l2_squared_u8(&vec![0; n], &vec![255; n]), 65_025 * 40);
    assert_eq!(k.l2_squared_u8(&vec![255; n], &vec![0; n]), 65_025 * 40);
    assert_eq!(k.dot_i8(&vec![-128; n], &vec![-128; n]), 16_384 * 40);
    assert_eq!(k.dot_i8(&vec![-128; n], &vec![127; n]), -16_256 * 40);
    assert_eq!(k.l2_squared_i8(&vec![-128; n], &vec![127; n]), 65_025 * 40);
    assert_eq!(k.hamming(&vec![0xff; n], &vec![0x00; n]), 8 * 40);
    assert_eq!(k.hamming(&vec![0x0f; n], &vec![0x01; n]), 3 * 40);
    let ramp: Vec<u8> = (0..=255).collect();
    let want: u32 = (0..=255u32).map(|x| x * x).sum();
    assert_eq!(k.dot_u8(&ramp, &ramp), want);
    // 70,001 × 65,025 wraps modulo 2³² exactly like the oracle.
    let m = 70_001;
    assert_eq!(
        k.dot_u8(&vec![255; m], &vec![255; m]),
        (65_025u64 * m as u64 % (1 << 32)) as u32
    );
}

#[wasm_bindgen_test]
#[should_panic(expected = "vector lengths differ: 2 vs 3")]
fn length_mismatch_panics() {
    let _ = simd128().dot(&[1.0, 2.0], &[1.0, 2.0, 3.0]);
}
