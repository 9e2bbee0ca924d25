//! The graph as plain arrays, so that a persistence layer can write it and read it back.
//!
//! This crate knows nothing about files: [`GraphParts`] is ordinary data, and
//! [`Hnsw::from_parts`](crate::Hnsw::from_parts) checks everything a damaged or forged copy
//! could get wrong before it builds a graph from it (no panic, no out-of-range slot later).

/// An HNSW graph's state, apart from its vectors (which the [`crate::VectorStore`] holds).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphParts {
    /// `M` the lists were built with.
    pub m: u32,
    /// Top layer of each slot.
    pub levels: Vec<u8>,
    /// Neighbour lists, slot by slot and layer 0 upwards: a count, then that many slots.
    pub lists: Vec<u32>,
    /// Anchor of each slot (`u32::MAX` = none; the root is its own anchor).
    pub anchors: Vec<u32>,
    /// Chain edge of each slot (`u32::MAX` = none).
    pub chains: Vec<u32>,
    /// Entry point (`None` only for an empty graph).
    pub entry: Option<u32>,
    /// External id of each slot.
    pub ids: Vec<u64>,
    /// Tombstone flag of each slot.
    pub deleted: Vec<bool>,
    /// State of the level generator, so that a reopened index draws the same levels.
    pub rng_state: u64,
}
