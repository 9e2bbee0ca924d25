//! A `cdylib` that exports a few kernels over raw pointers, the way a wasm module hands them to
//! JavaScript. `cargo xtask wasm-test` builds it in release mode for wasm32 + simd128 and checks
//! with `wasm-objdump` that the shipped `.wasm` really contains SIMD instructions. It builds (as a
//! shared library) on every target.

use std::slice;

/// `edgevec_simd::dot` over `n` floats at `a` and at `b`.
///
/// # Safety
/// `a` and `b` must each point to `n` readable, initialised `f32` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgevec_dot(a: *const f32, b: *const f32, n: usize) -> f32 {
    // SAFETY: the caller guarantees `n` readable floats at each pointer.
    let (a, b) = unsafe { (slice::from_raw_parts(a, n), slice::from_raw_parts(b, n)) };
    edgevec_simd::dot(a, b)
}

/// `edgevec_simd::l2_squared` over `n` floats at `a` and at `b`.
///
/// # Safety
/// `a` and `b` must each point to `n` readable, initialised `f32` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgevec_l2_squared(a: *const f32, b: *const f32, n: usize) -> f32 {
    // SAFETY: the caller guarantees `n` readable floats at each pointer.
    let (a, b) = unsafe { (slice::from_raw_parts(a, n), slice::from_raw_parts(b, n)) };
    edgevec_simd::l2_squared(a, b)
}

/// `edgevec_simd::dot_u8` over `n` bytes at `a` and at `b`.
///
/// # Safety
/// `a` and `b` must each point to `n` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgevec_dot_u8(a: *const u8, b: *const u8, n: usize) -> u32 {
    // SAFETY: the caller guarantees `n` readable bytes at each pointer.
    let (a, b) = unsafe { (slice::from_raw_parts(a, n), slice::from_raw_parts(b, n)) };
    edgevec_simd::dot_u8(a, b)
}

/// `edgevec_simd::dot_i8` over `n` bytes at `a` and at `b`.
///
/// # Safety
/// `a` and `b` must each point to `n` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgevec_dot_i8(a: *const i8, b: *const i8, n: usize) -> i32 {
    // SAFETY: the caller guarantees `n` readable bytes at each pointer.
    let (a, b) = unsafe { (slice::from_raw_parts(a, n), slice::from_raw_parts(b, n)) };
    edgevec_simd::dot_i8(a, b)
}

/// `edgevec_simd::hamming` over `n` bytes at `a` and at `b`.
///
/// # Safety
/// `a` and `b` must each point to `n` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgevec_hamming(a: *const u8, b: *const u8, n: usize) -> u32 {
    // SAFETY: the caller guarantees `n` readable bytes at each pointer.
    let (a, b) = unsafe { (slice::from_raw_parts(a, n), slice::from_raw_parts(b, n)) };
    edgevec_simd::hamming(a, b)
}
