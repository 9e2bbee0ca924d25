//! Vector quantization for EdgeVec (issue 5; this crate is a placeholder until then).
//!
//! This crate will own the codecs that shrink f32 rows into compact codes: `ScalarU8`
//! (per-dimension affine u8), `ScalarI8` (symmetric i8 for normalized embeddings) and `Binary`
//! (sign bits compared by Hamming distance), behind a narrow `Quantizer` trait (train, encode,
//! decode, prepare a query, distance on codes). Distances on codes go through the integer kernels
//! of [`edgevec_simd`]; the byte layout of codec parameters is specified in
//! `docs/QUANTIZATION.md`.
//!
//! Architecture invariant: this crate depends only on `edgevec-simd`; it knows nothing about
//! graphs or files.
#![forbid(unsafe_code)]

/// The distance kernels this crate computes code distances with.
pub use edgevec_simd as simd;
