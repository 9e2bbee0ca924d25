//! The HNSW graph of EdgeVec (issue 4; this crate is a placeholder until then).
//!
//! This crate will own approximate nearest-neighbour search: an HNSW index (Malkov & Yashunin,
//! 2018) with user-chosen `u64` ids mapped to dense `u32` slots, soft delete (tombstoned nodes keep
//! routing but never appear in results), filtered search, compaction and concurrent readers. It
//! reads vectors through a narrow `VectorStore` trait, so the same graph runs over f32 rows in
//! RAM, quantized codes or memory-mapped rows.
//!
//! Architecture invariant: this crate knows nothing about files or formats; it depends only on
//! `edgevec-simd` for distances.
#![forbid(unsafe_code)]

/// The distance kernels the graph computes with.
pub use edgevec_simd as simd;
