//! wasm32 simd128 backend (being written).
