//! Every backend this machine runs, property-tested against the scalar oracle.
//!
//! The backends are taken from `Backend::available()`, not from the active choice, so an
//! AVX-512 machine tests its AVX2 kernels too, and the suite means the same thing with
//! `EDGEVEC_SIMD=scalar` (then the crate-level functions are checked to be the oracle's).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{check_bytes, check_f32, check_many, sweep};
use edgevec_simd::{Backend, Kernels, scalar};
use proptest::prelude::*;

fn backends() -> Vec<&'static Kernels> {
    Backend::available()
        .into_iter()
        .filter_map(Kernels::for_backend)
        .collect()
}

/// f32 values whose magnitude spans 10^-18 .. 10^17 across cases, with a per-element jitter of
/// up to three decades: products and sums of up to 2,049 of them stay finite in f32.
fn f32_pair(max_len: usize) -> impl Strategy<Value = (Vec<f32>, Vec<f32>, usize)> {
    (0..=max_len, 0usize..8, -15i32..=14).prop_flat_map(|(len, off, exp)| {
        let elem = (-1.0f32..1.0, -3i32..=3).prop_map(move |(m, j)| m * 10f32.powi(exp + j));
        (
            prop::collection::vec(elem.clone(), len + off),
            prop::collection::vec(elem, len + off),
            Just(off),
        )
    })
}

fn bytes_pair(max_len: usize) -> impl Strategy<Value = (Vec<u8>, Vec<u8>, usize)> {
    (0..=max_len, 0usize..8).prop_flat_map(|(len, off)| {
        (
            prop::collection::vec(any::<u8>(), len + off),
            prop::collection::vec(any::<u8>(), len + off),
            Just(off),
        )
    })
}

proptest! {
    // A fixed seed, as every test here: the same cases on every run and machine.
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0AC1E),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn f32_kernels_match_oracle((a, b, off) in f32_pair(2049)) {
        for k in backends() {
            check_f32(k, &a[off..], &b[off..]).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn integer_kernels_match_oracle_exactly((a, b, off) in bytes_pair(2049)) {
        for k in backends() {
            check_bytes(k, &a[off..], &b[off..]).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn integer_kernels_at_extreme_values(
        len in 0usize..=2049,
        pick in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff]), 2),
    ) {
        let (a, b) = (vec![pick[0]; len], vec![pick[1]; len]);
        for k in backends() {
            check_bytes(k, &a, &b).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn many_forms_match_oracle(
        dim in 1usize..=70,
        n_rows in 0usize..=11,
        seed in any::<u64>(),
    ) {
        let mut rng = common::Rng(seed);
        let q: Vec<f32> = (0..dim).map(|_| rng.unit()).collect();
        let rows: Vec<f32> = (0..dim * n_rows).map(|_| rng.unit() * 10.0).collect();
        for k in backends() {
            check_many(k, &q, &rows, dim).map_err(TestCaseError::fail)?;
        }
    }
}

#[test]
fn every_length_up_to_2049_every_backend() {
    for k in backends() {
        sweep(k, 2049).unwrap();
    }
}

#[test]
fn nan_and_infinity_propagate_without_panicking() {
    for k in backends() {
        for len in [1usize, 7, 8, 9, 31, 64, 100] {
            let a = vec![1.0f32; len];
            let mut b = vec![2.0f32; len];
            b[len / 2] = f32::NAN;
            assert!(k.dot(&a, &b).is_nan(), "{} dot", k.backend());
            assert!(k.l2_squared(&a, &b).is_nan(), "{} l2", k.backend());
            assert!(k.norm_squared(&b).is_nan(), "{} norm", k.backend());
            assert!(k.cosine_distance(&a, &b).is_nan(), "{} cosine", k.backend());
            b[len / 2] = f32::INFINITY;
            assert_eq!(k.dot(&a, &b), f32::INFINITY, "{} dot inf", k.backend());
            assert_eq!(
                k.l2_squared(&a, &b),
                f32::INFINITY,
                "{} l2 inf",
                k.backend()
            );
        }
    }
}

#[test]
fn free_functions_use_the_active_backend() {
    let active = Kernels::active();
    assert_eq!(active.backend(), edgevec_simd::backend());
    if std::env::var("EDGEVEC_SIMD").as_deref() == Ok("scalar") {
        assert_eq!(edgevec_simd::backend(), Backend::Scalar);
    } else {
        assert_eq!(active.backend(), Kernels::best().backend());
    }
    let a: Vec<f32> = (0..100).map(|i| i as f32 * 0.25).collect();
    let b: Vec<f32> = (0..100).map(|i| 3.0 - i as f32 * 0.5).collect();
    assert_eq!(edgevec_simd::dot(&a, &b), active.dot(&a, &b));
    assert_eq!(
        edgevec_simd::hamming(&[1, 2, 3], &[3, 2, 1]),
        scalar::hamming(&[1, 2, 3], &[3, 2, 1])
    );
}

#[test]
fn a_mismatch_is_a_clear_panic_in_every_backend() {
    for k in backends() {
        let err = std::panic::catch_unwind(|| k.l2_squared_u8(&[1, 2, 3], &[1, 2])).unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("3 vs 2"), "{}: {msg}", k.backend());
    }
}
