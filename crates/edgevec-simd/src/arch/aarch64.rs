//! aarch64 NEON backend (being written).
