//! EdgeVec: an embedded vector database.
//!
//! This is the facade most users depend on. It will own the `Index` type (builder, insert,
//! upsert, delete, search with filters, compact, save/open with crash recovery, statistics) and
//! the single error type that wraps the layers below (issue 7). Until then it re-exports the
//! layers, of which the distance kernels are complete:
//!
//! ```
//! use edgevec::simd;
//! let d = simd::l2_squared(&[0.0, 3.0], &[4.0, 0.0]);
//! assert_eq!(d, 25.0);
//! ```
//!
//! Architecture invariant: this crate sits on top; nothing below it depends on it.
#![forbid(unsafe_code)]

pub use edgevec_graph as graph;
pub use edgevec_quant as quant;
pub use edgevec_simd as simd;
pub use edgevec_storage as storage;
