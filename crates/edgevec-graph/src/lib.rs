//! The HNSW graph of EdgeVec: approximate nearest-neighbour search with soft delete, filters,
//! compaction and parallel builds.
//!
//! [`Hnsw`] is a hierarchical navigable small world graph (Malkov & Yashunin, 2018): each node
//! gets a level drawn from a seeded RNG with `mL = 1/ln(M)`, a search descends greedily through
//! the upper layers and runs a beam search of width `ef` on layer 0, and neighbour lists are
//! chosen with the paper's diversity heuristic (its Algorithm 4). Users address vectors by their
//! own `u64` ids; the graph maps them to dense `u32` slots.
//!
//! ```
//! use edgevec_graph::{Hnsw, HnswParams, Metric};
//!
//! let mut index = Hnsw::new_f32(2, Metric::L2, HnswParams::default())?;
//! index.insert(7, &[0.0, 0.0])?;
//! index.insert(8, &[1.0, 0.0])?;
//! index.insert(9, &[5.0, 5.0])?;
//! index.delete(8);
//! let hits = index.search(&[0.9, 0.1], 2)?;
//! assert_eq!(hits.iter().map(|n| n.id).collect::<Vec<_>>(), [7, 9]); // 8 is deleted
//! # Ok::<(), edgevec_graph::GraphError>(())
//! ```
//!
//! # Distances
//!
//! Results are [`Neighbor`]s sorted ascending by distance (ties by id), with distances in the
//! metric's own meaning (which of several vectors at exactly the same distance fit into a beam
//! of width `ef` depends on internal order; the ones returned are ordered by id):
//!
//! | [`Metric`] | distance | range |
//! |---|---|---|
//! | `L2` | squared Euclidean distance `Σ (a_i − b_i)²` | `[0, ∞)` |
//! | `Cosine` | `1 − cos(a, b)`; vectors are normalized when stored, zero vectors are rejected | `[0, 2]` |
//! | `Dot` | negated inner product `−⟨a, b⟩` (maximum inner product search) | any |
//!
//! Every vector and query is checked: right dimension, finite components, and under cosine a
//! non-zero norm, under L2 and dot a norm of at most 10¹⁸ (so no distance can overflow f32).
//!
//! # Deletes, filters, compaction
//!
//! [`Hnsw::delete`] is O(1): it marks a tombstone. Tombstoned nodes stay in the graph and keep
//! routing searches, but never appear in results; a search keeps exploring until it has `k`
//! live results or has run out of reachable nodes, so deletes never silently shrink a result
//! list. [`Hnsw::search_filtered`] treats nodes that fail the predicate the same way.
//! [`Hnsw::compact`] removes tombstones for real: it reconnects the neighbours of deleted nodes
//! to each other (FreshDiskANN-style local repair with the same diversity heuristic), frees the
//! slots and keeps every external id.
//!
//! # Reachability
//!
//! Every node is kept reachable from the entry point: each node has one *anchor* edge (from the
//! node that first linked to it) that neighbour-list pruning never removes, and each entry point
//! keeps an anchor edge to the previous one, so the anchor edges form a tree rooted at the first
//! node, reached from the current entry point. Compaction rebuilds the anchors by a
//! breadth-first walk and reconnects whatever the walk cannot reach. The graph is not strongly
//! connected, so when the layer-0 walk from where the descent ended runs out of nodes before
//! finding `k` results, the search resumes from the entry point.
//!
//! # Memory
//!
//! Besides the vectors, which the [`VectorStore`] holds, a node of a graph being built or
//! changed costs about `8·M + 22` bytes on average with arbitrary ids: at M = 16, 149 bytes for
//! 200,000 nodes, 151 for 20,000 and 153 for 1,000,000 (where the id table has just doubled),
//! measured by `examples/ann.rs --memory` before ids `0..n` cost nothing (it now reports about
//! 134.6 bytes at 20,000 with those ids: 0.1 of them for ids):
//!
//! - its layer-0 list, `2·M` slots of 4 bytes, with no count word (a short list ends with an
//!   empty-slot marker);
//! - upper-layer lists, which only about one node in M has: `4·M/(M − 1)` bytes on average;
//! - under 2 bytes of level, anchor and chain bookkeeping (a byte counting the node's anchor
//!   edges, kept at the front of its list, and a few bits);
//! - its `u64` id, and the id → slot hash table, which stores a 4-byte slot and a control byte
//!   per bucket, found through the id array: 5.7 to 11.4 bytes per live id depending on where
//!   the table is between doublings, 8.2 on average. Nothing at all while every slot's id is
//!   the slot itself (ids `0, 1, 2, …` in insertion order, as the CLI assigns them): the ids
//!   stay *dense* until the first id out of that sequence, an upsert of a live id or a
//!   compaction that moves slots, and only the tombstone bit is kept;
//! - a tombstone bit, and a quarter byte of visited marks per pooled search scratch.
//!
//! A graph loaded from parts ([`Hnsw::from_parts`], i.e. an index opened from a file) is
//! mostly searched, so it stores layer 0 *packed* until its first change: each list at its
//! real length, entries of 3 bytes while slots fit in 24 bits (else 4), and a `u32` end per
//! node. On GloVe-50 at M = 16 (24.1 neighbours per node on average) that is 76 bytes instead
//! of 128, and searches run as fast or faster (less memory to bring into the caches; where a
//! list starts is prefetched when its node becomes a candidate). The first insert, upsert or
//! accepted batch restores the writable layout, once, in O(n), and a compaction rebuilds the
//! lists in it; deleting keeps the packed layout, as it only marks the id.
//! [`GraphStats::packed_layer0`] says which layout is in use.
//!
//! [`Hnsw::stats`] reports allocated capacity (spare room in growing arrays, every hash table
//! bucket), which is what the process holds. One-at-a-time inserts grow arrays by 1/32 of their
//! length at a time, so spare room stays under about 3%; a batch reserves exactly what it needs.
//!
//! # Concurrency
//!
//! Searches take `&self` and run in parallel; [`Hnsw`] is `Send + Sync`.
//! [`Hnsw::insert_batch`] links nodes on several threads (rayon) with a lock per neighbour list;
//! with one thread and a fixed seed a build is deterministic.
//!
//! Architecture invariant: this crate knows nothing about files or formats. It reads vectors only
//! through [`VectorStore`], and depends only on `edgevec-simd` for distances.
#![forbid(unsafe_code)]

mod hnsw;
mod ids;
mod links;
mod parts;
mod scratch;
mod store;

pub use hnsw::{GraphStats, Hnsw, Topology};
pub use parts::GraphParts;
pub use store::{F32Store, VectorStore};

/// The distances the graph (through its store) can compute: EdgeVec's one metric enum.
pub use edgevec_simd::Metric;

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    /// The user's id of the vector.
    pub id: u64,
    /// Distance from the query, in the metric's meaning (see the crate docs).
    pub distance: f32,
}

/// Everything that can go wrong in the graph layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// A vector or query has the wrong number of dimensions.
    #[error("dimension mismatch: the index holds {expected}-dimensional vectors, got {found}")]
    DimensionMismatch {
        /// Dimensions of the index.
        expected: usize,
        /// Dimensions of the rejected vector.
        found: usize,
    },
    /// A vector or query contains NaN or an infinity.
    #[error("value at position {position} is {value}; vectors must contain only finite numbers")]
    NonFinite {
        /// Index of the first offending component.
        position: usize,
        /// The offending value.
        value: f32,
    },
    /// A zero vector under the cosine metric (it has no direction).
    #[error("zero vector: the cosine metric needs a vector with a non-zero norm")]
    ZeroVector,
    /// A vector so long that distances would overflow f32 (L2 and dot metrics).
    #[error(
        "vector norm {norm:e} is above the limit of 1e18 (distances would overflow); scale the \
         vectors down, or use the cosine metric"
    )]
    TooLarge {
        /// The Euclidean norm of the rejected vector.
        norm: f64,
    },
    /// `insert` of an id that is already present (use `upsert` to replace it).
    #[error("id {0} is already in the index; use upsert to replace its vector")]
    DuplicateId(u64),
    /// `k` was zero.
    #[error("k must be at least 1")]
    ZeroK,
    /// A parameter is out of range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The rejected value.
        value: usize,
        /// What is allowed.
        reason: &'static str,
    },
    /// A batch's ids and vectors do not line up.
    #[error("batch shape mismatch: {ids} ids but {values} values for {dim}-dimensional vectors")]
    BatchShape {
        /// Number of ids.
        ids: usize,
        /// Number of f32 values.
        values: usize,
        /// Dimensions of the index.
        dim: usize,
    },
    /// A row of a batch was rejected; nothing of the batch was inserted.
    #[error("batch row {index}: {source}")]
    BatchItem {
        /// Position of the rejected row in the batch.
        index: usize,
        /// Why it was rejected.
        source: Box<GraphError>,
    },
    /// Graph data handed to `Hnsw::from_parts` is inconsistent (damaged or forged).
    #[error("damaged graph data: {0}")]
    InvalidParts(String),
    /// The vector store refused a vector (its message says why).
    #[error("the vector store rejected the vector: {0}")]
    StoreRejected(String),
    /// The index already holds the maximum number of slots (2³² − 1).
    #[error(
        "the index is full: at most 4,294,967,294 vectors (including deleted ones not yet compacted)"
    )]
    CapacityExceeded,
}

/// Build and search parameters of an HNSW graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours per node on the upper layers (`M`); layer 0 keeps `2·M`. 2..=128.
    pub m: usize,
    /// Beam width while inserting (`ef_construction`). At least 1.
    pub ef_construction: usize,
    /// Default beam width for searches (`ef`; raised to `k` when smaller). At least 1.
    pub ef_search: usize,
    /// Seed of the level generator: the same seed and insertion order give the same graph.
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            seed: 0x5EED,
        }
    }
}

impl HnswParams {
    /// Checks the ranges documented on the fields.
    pub fn validate(&self) -> Result<(), GraphError> {
        let bad = |name, value, reason| {
            Err(GraphError::InvalidParameter {
                name,
                value,
                reason,
            })
        };
        if !(2..=128).contains(&self.m) {
            return bad("m", self.m, "must be between 2 and 128");
        }
        if self.ef_construction == 0 {
            return bad("ef_construction", 0, "must be at least 1");
        }
        if self.ef_search == 0 {
            return bad("ef_search", 0, "must be at least 1");
        }
        Ok(())
    }
}

/// Largest accepted Euclidean norm under L2 and dot: squared distances and inner products of
/// such vectors stay below 4·10³⁶, far from f32's 3.4·10³⁸, in every partial sum.
pub(crate) const MAX_NORM: f64 = 1e18;

/// Checks a vector's length and values for `metric`: finite components; under cosine a
/// non-zero norm, under L2 and dot a norm of at most 10¹⁸ (norms computed in f64, so neither
/// tiny nor huge components are misjudged). Every insert and search runs this check; it is
/// public so that layers holding vectors outside the graph apply the same rules.
pub fn check_vector(v: &[f32], dim: usize, metric: Metric) -> Result<(), GraphError> {
    if v.len() != dim {
        return Err(GraphError::DimensionMismatch {
            expected: dim,
            found: v.len(),
        });
    }
    // The norm is finite exactly when every component is (`norm_f64`), so the component is
    // looked for only when there is one (and a non-finite norm is refused whatever it finds).
    let norm = edgevec_simd::norm_f64(v);
    if !norm.is_finite() {
        let (position, value) = edgevec_simd::first_non_finite(v).unwrap_or((0, norm as f32));
        return Err(GraphError::NonFinite { position, value });
    }
    match metric {
        Metric::Cosine if norm == 0.0 => Err(GraphError::ZeroVector),
        Metric::L2 | Metric::Dot if norm > MAX_NORM => Err(GraphError::TooLarge { norm }),
        _ => Ok(()),
    }
}
