//! EdgeVec: an embedded vector database.
//!
//! [`Index`] stores vectors under your own `u64` ids and answers nearest-neighbour queries with
//! an HNSW graph (`edgevec-graph`), optionally over compact quantized codes (`edgevec-quant`)
//! with exact rescoring, using the SIMD kernels of `edgevec-simd`.
//!
//! ```
//! use edgevec::{Index, Metric, Quantization, SearchParams};
//!
//! let mut index = Index::builder()
//!     .dimensions(3)
//!     .metric(Metric::Cosine)
//!     .quantization(Quantization::None)
//!     .seed(7)
//!     .build()?;
//! index.insert(10, &[1.0, 0.0, 0.0])?;
//! index.insert(11, &[0.0, 1.0, 0.0])?;
//! index.insert(12, &[0.9, 0.1, 0.0])?;
//! let hits = index.search(&[1.0, 0.05, 0.0], 2)?;
//! assert_eq!(hits[0].id, 10);
//! assert_eq!(hits[1].id, 12);
//!
//! index.delete(10)?;
//! let only_even = |id: u64| id % 2 == 0;
//! let hits = index.search_with(&[1.0, 0.05, 0.0], SearchParams::new(2).filter(&only_even))?;
//! assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [12]);
//! # Ok::<(), edgevec::Error>(())
//! ```
//!
//! # Files and durability
//!
//! An index attached to a file logs every change to a write-ahead log beside it
//! (`NAME.wal`) before applying it; with the default [`Durability::EveryOp`] a change is on
//! disk when the call returns. [`Index::open`] replays the log onto the snapshot (cutting a
//! tail torn by a crash, see [`Index::recovery_report`]); [`Index::checkpoint`] writes a new
//! snapshot and empties the log. An index built in memory is saved with [`Index::save`].
//!
//! ```
//! use edgevec::{Index, Metric};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("notes.evec");
//! let mut index = Index::builder().dimensions(2).metric(Metric::L2).create(&path)?;
//! index.insert(1, &[0.0, 1.0])?;
//! index.insert(2, &[1.0, 0.0])?;
//! drop(index); // no save needed: both inserts are already durable
//!
//! let mut index = Index::open(&path)?;
//! assert_eq!(index.recovery_report().unwrap().records_replayed, 2);
//! assert_eq!(index.search(&[0.9, 0.1], 1)?[0].id, 2);
//! index.delete(2)?;
//! index.checkpoint()?; // folds the log into a new snapshot
//! assert_eq!(Index::open_read_only(&path)?.len(), 1); // another writer would wait for this one
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Quantization
//!
//! With [`Quantization::U8`], [`Quantization::I8`] or [`Quantization::Binary`] the graph is
//! built and searched over codes (4x to 32x smaller than f32 rows); the best `⌈k × oversample⌉`
//! candidates are then re-ranked with exact f32 distances, so the distances returned are exact.
//! A codec must be trained on data: a quantized index keeps its first
//! [`IndexBuilder::train_size`] vectors as f32 rows searched exactly, then trains the codec on
//! them and builds the graph (an [`Index::insert_batch`] that reaches the threshold trains on the
//! whole batch).
//!
//! # Errors
//!
//! Every fallible call returns [`Error`]; bad input (wrong dimensions, NaN or infinite values,
//! zero vectors under cosine, duplicate ids, `k = 0`) is a typed error, never a panic.
//!
//! Architecture invariant: this crate sits on top; nothing below it depends on it.
#![forbid(unsafe_code)]

mod pending;
mod persist;
mod quantized;
mod rows;

use edgevec_graph::{F32Store, GraphError, Hnsw};
use std::borrow::Cow;

use edgevec_quant::{Binary, QuantError, Quantizer, ScalarI8, ScalarU8};
use edgevec_storage::{Journal, LogOp};

pub use edgevec_graph as graph;
pub use edgevec_graph::{HnswParams, Neighbor};
pub use edgevec_quant as quant;
pub use edgevec_simd as simd;
pub use edgevec_simd::Metric;
pub use edgevec_storage as storage;
pub use edgevec_storage::{Durability, RecoveryReport};

use pending::Pending;
use quantized::CodeStore;

/// How vectors are held in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Quantization {
    /// f32 rows (4 bytes per dimension); exact distances throughout.
    #[default]
    None,
    /// One byte per dimension, per-dimension offsets (L2 and cosine).
    U8,
    /// One signed byte per dimension, symmetric (L2, cosine and dot; suits normalized embeddings).
    I8,
    /// One bit per dimension (always rescored; needs a larger oversampling factor).
    Binary,
}

impl Quantization {
    /// Lowercase name (`none`, `u8`, `i8`, `binary`).
    pub const fn name(self) -> &'static str {
        match self {
            Quantization::None => "none",
            Quantization::U8 => "u8",
            Quantization::I8 => "i8",
            Quantization::Binary => "binary",
        }
    }

    /// Parses the names [`Quantization::name`] returns.
    pub fn from_name(name: &str) -> Option<Quantization> {
        [Self::None, Self::U8, Self::I8, Self::Binary]
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The oversampling factor used unless the builder sets one.
    /// (docs/QUANTIZATION.md, "Rescoring": i8 codes order inner products much more loosely
    /// than distances, so dot needs a wider net; u8 and i8 otherwise lose nothing at ×2 against
    /// ×4 from ef 64 up and search 1.1–1.7× faster, and ×1.5 against ×2 gives up at most 0.003 of
    /// recall@10 from ef 20 up on GloVe-50 and 100k × 384 for 2–14% more QPS; sign bits find the
    /// neighbourhood, not the order within it: at 100k × 768, recall@10 0.80 / 0.89 / 0.94 / 0.97
    /// at ×20/30/40/50.)
    const fn default_oversample(self, metric: Metric) -> f32 {
        match (self, metric) {
            (Quantization::None, _) => 1.0,
            (Quantization::I8, Metric::Dot) => 10.0,
            (Quantization::U8 | Quantization::I8, _) => 1.5,
            (Quantization::Binary, _) => 40.0,
        }
    }
}

impl std::fmt::Display for Quantization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that can go wrong in EdgeVec.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From the graph layer: bad vectors, ids, parameters.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// From the quantization layer: training or encoding.
    #[error(transparent)]
    Quant(#[from] QuantError),
    /// A builder setting is missing or out of range.
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting {
        /// The setting.
        name: &'static str,
        /// What is allowed.
        reason: String,
    },
    /// From the storage layer: I/O, checksums, truncation, versions.
    #[error(transparent)]
    Storage(#[from] edgevec_storage::StorageError),
    /// A section's checksum is right but its contents are inconsistent.
    #[error("damaged index file: {section} section: {reason}")]
    Format {
        /// Which section.
        section: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A file operation on an index that is not attached to a file.
    #[error(
        "the index is not attached to a file: create it with IndexBuilder::create or open it \
         with Index::open first"
    )]
    NotAttached,
    /// The quantization cannot compute the metric.
    #[error(
        "{quantization} quantization does not support the {metric} metric; use i8 or binary \
         quantization for dot, or no quantization"
    )]
    Unsupported {
        /// The quantization asked for.
        quantization: Quantization,
        /// The metric asked for.
        metric: Metric,
    },
}

/// Configures and creates an [`Index`]; see [`Index::builder`].
#[derive(Debug, Clone)]
pub struct IndexBuilder {
    dimensions: Option<usize>,
    metric: Metric,
    quantization: Quantization,
    params: HnswParams,
    oversample: Option<f32>,
    train_size: usize,
    threads: usize,
    durability: Durability,
}

impl IndexBuilder {
    /// Number of dimensions of every vector (required).
    pub fn dimensions(mut self, dimensions: usize) -> Self {
        self.dimensions = Some(dimensions);
        self
    }
    /// Distance metric (default L2).
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }
    /// Quantization of the graph's vectors (default none).
    pub fn quantization(mut self, quantization: Quantization) -> Self {
        self.quantization = quantization;
        self
    }
    /// HNSW `M`: neighbours per node on upper layers, `2·M` on layer 0 (default 16, 2..=128).
    pub fn m(mut self, m: usize) -> Self {
        self.params.m = m;
        self
    }
    /// Beam width while building (default 200).
    pub fn ef_construction(mut self, ef: usize) -> Self {
        self.params.ef_construction = ef;
        self
    }
    /// Default beam width of searches (default 64).
    pub fn ef_search(mut self, ef: usize) -> Self {
        self.params.ef_search = ef;
        self
    }
    /// Seed of the level generator: same seed, same insertion order, one build thread → same
    /// index.
    pub fn seed(mut self, seed: u64) -> Self {
        self.params.seed = seed;
        self
    }
    /// Candidates rescored per result under quantization: a search for `k` results rescores
    /// the best `⌈k × factor⌉` candidates of its code search (default 1.5 for u8 and i8, 10 for
    /// i8 under the dot metric, 40 for binary). A finite number from 1 (rescore only the
    /// `k` returned) to [`MAX_OVERSAMPLE`], kept to three decimals; anything else fails
    /// [`IndexBuilder::build`] with [`Error::InvalidSetting`]. A search can override it
    /// ([`SearchParams::oversample`]).
    pub fn oversample(mut self, factor: f32) -> Self {
        self.oversample = Some(factor);
        self
    }
    /// Vectors a quantized index collects before training its codec (default 1,024, at least 1).
    pub fn train_size(mut self, n: usize) -> Self {
        self.train_size = n;
        self
    }
    /// Threads for [`Index::insert_batch`] (0 = all cores, the default; 1 = deterministic).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Checks the settings and creates an empty index.
    pub fn build(self) -> Result<Index, Error> {
        let dim = self.dimensions.ok_or(Error::InvalidSetting {
            name: "dimensions",
            reason: "set the number of dimensions with .dimensions(d)".into(),
        })?;
        if dim == 0 || dim > edgevec_quant::MAX_DIM {
            return Err(Error::InvalidSetting {
                name: "dimensions",
                reason: format!(
                    "must be between 1 and {}, got {dim}",
                    edgevec_quant::MAX_DIM
                ),
            });
        }
        self.params.validate()?;
        if self.quantization == Quantization::U8 && self.metric == Metric::Dot {
            return Err(Error::Unsupported {
                quantization: self.quantization,
                metric: self.metric,
            });
        }
        if self.train_size == 0 {
            return Err(Error::InvalidSetting {
                name: "train_size",
                reason: "must be at least 1".into(),
            });
        }
        let config = Config {
            dim,
            metric: self.metric,
            quantization: self.quantization,
            params: self.params,
            oversample: match self.oversample {
                Some(f) => checked_oversample(f)?,
                None => self.quantization.default_oversample(self.metric),
            },
            train_size: self.train_size,
            threads: self.threads,
        };
        let engine = match config.quantization {
            Quantization::None => Engine::F32(Hnsw::new_f32(dim, config.metric, config.params)?),
            _ => Engine::Pending(Pending::new(dim, config.metric)),
        };
        Ok(Index::assemble(config, engine))
    }

    /// Sets how changes to an index created with [`IndexBuilder::create`] are synced
    /// (default [`Durability::EveryOp`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Builds an empty index and attaches it to a new file at `path` (replacing any file
    /// there, and its log): every change is then logged and durable when it returns.
    pub fn create(self, path: impl AsRef<std::path::Path>) -> Result<Index, Error> {
        let path = path.as_ref();
        let (dir, name) = edgevec_storage::FsDir::split(path)?;
        let mut index = self.create_in(Box::new(dir), &name)?;
        index.path = std::fs::canonicalize(path).ok();
        Ok(index)
    }

    /// [`IndexBuilder::create`] in any [`Directory`](edgevec_storage::Directory).
    pub fn create_in(
        self,
        dir: Box<dyn edgevec_storage::Directory>,
        name: &str,
    ) -> Result<Index, Error> {
        let durability = self.durability;
        let mut index = self.build()?;
        let journal = {
            let payloads = index.payloads();
            Journal::create(dir, name, &payloads.sections(), durability)?
        };
        index.journal = Some(journal);
        Ok(index)
    }
}

#[derive(Debug, Clone)]
struct Config {
    dim: usize,
    metric: Metric,
    quantization: Quantization,
    params: HnswParams,
    /// A multiple of 1/1000 in `1..=MAX_OVERSAMPLE` (`checked_oversample`).
    oversample: f32,
    train_size: usize,
    threads: usize,
}

/// Options of one search.
#[derive(Clone, Copy)]
pub struct SearchParams<'a> {
    /// Number of results wanted (at least 1).
    pub k: usize,
    /// Beam width; `None` uses the index's `ef_search`.
    pub ef: Option<usize>,
    /// Only ids for which this returns true are returned (others still route the search).
    pub filter: Option<&'a (dyn Fn(u64) -> bool + Sync)>,
    /// Candidates rescored per result under quantization (the factor of
    /// [`IndexBuilder::oversample`], with the same range); `None` uses the index's
    /// [`Index::oversample`]. Ignored without quantization.
    pub oversample: Option<f32>,
}

impl<'a> SearchParams<'a> {
    /// `k` results, default beam width, no filter.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            ef: None,
            filter: None,
            oversample: None,
        }
    }
    /// Sets the beam width.
    pub fn ef(mut self, ef: usize) -> Self {
        self.ef = Some(ef);
        self
    }
    /// Sets a filter on ids.
    pub fn filter(mut self, filter: &'a (dyn Fn(u64) -> bool + Sync)) -> Self {
        self.filter = Some(filter);
        self
    }
    /// Sets the rescoring factor of this search (a quantized index rescores the best
    /// `⌈k × oversample⌉` candidates of its code search; 1 rescores only the `k` returned). A
    /// factor outside `1..=MAX_OVERSAMPLE` (or not finite) fails the search with
    /// [`Error::InvalidSetting`].
    pub fn oversample(mut self, factor: f32) -> Self {
        self.oversample = Some(factor);
        self
    }
}

impl std::fmt::Debug for SearchParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchParams")
            .field("k", &self.k)
            .field("ef", &self.ef)
            .field("filter", &self.filter.map(|_| "<fn>"))
            .field("oversample", &self.oversample)
            .finish()
    }
}

/// Sizes and counts of an index, with memory by part.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexStats {
    /// Live vectors.
    pub len: usize,
    /// Deleted vectors not yet compacted away.
    pub deleted: usize,
    /// Dimensions.
    pub dimensions: usize,
    /// Metric.
    pub metric: Metric,
    /// Quantization.
    pub quantization: Quantization,
    /// Whether the graph exists yet (a quantized index before training searches exactly).
    pub graph_built: bool,
    /// Bytes of f32 rows held in memory.
    pub vector_bytes: usize,
    /// Bytes of f32 rows of a quantized index left in the file it was opened from, read on
    /// demand for the candidates a search rescores (not counted in `vector_bytes`).
    pub file_vector_bytes: usize,
    /// Bytes of quantized codes and codec parameters.
    pub code_bytes: usize,
    /// Bytes of neighbour lists and graph bookkeeping.
    pub graph_bytes: usize,
    /// Bytes of the id map and tombstones.
    pub id_bytes: usize,
}

#[derive(Debug)]
enum Engine {
    F32(Hnsw<F32Store>),
    Pending(Pending),
    U8(Hnsw<CodeStore<ScalarU8>>),
    I8(Hnsw<CodeStore<ScalarI8>>),
    Binary(Hnsw<CodeStore<Binary>>),
}

/// Runs `$body` with `$g` bound to whichever graph the engine holds, or `$pending` on a
/// not-yet-trained quantized index.
macro_rules! graph_or_pending {
    ($engine:expr, $g:ident => $body:expr, $p:ident => $pending:expr) => {
        match $engine {
            Engine::F32($g) => $body,
            Engine::U8($g) => $body,
            Engine::I8($g) => $body,
            Engine::Binary($g) => $body,
            Engine::Pending($p) => $pending,
        }
    };
}

/// A vector index: see the crate docs.
///
/// Searches take `&self` and may run on many threads at once (`Index: Send + Sync`); inserts,
/// deletes and compaction take `&mut self`.
#[derive(Debug)]
pub struct Index {
    config: Config,
    engine: Engine,
    /// The snapshot + write-ahead log this index is attached to, if any.
    journal: Option<Journal>,
    /// What opening the index recovered from its log.
    recovery: Option<RecoveryReport>,
    /// The canonical path of the snapshot, when attached by path.
    path: Option<std::path::PathBuf>,
}

impl Index {
    /// A builder with the defaults: L2, no quantization, M = 16, ef_construction = 200,
    /// ef_search = 64.
    pub fn builder() -> IndexBuilder {
        IndexBuilder {
            dimensions: None,
            metric: Metric::L2,
            quantization: Quantization::None,
            params: HnswParams::default(),
            oversample: None,
            train_size: 1024,
            threads: 0,
            durability: Durability::EveryOp,
        }
    }

    /// Dimensions of the vectors.
    pub fn dimensions(&self) -> usize {
        self.config.dim
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.config.metric
    }

    /// The quantization.
    pub fn quantization(&self) -> Quantization {
        self.config.quantization
    }

    /// The graph parameters (M, ef_construction, default ef_search, seed).
    pub fn params(&self) -> HnswParams {
        self.config.params
    }

    /// Candidates rescored per result under quantization (1 without quantization).
    pub fn oversample(&self) -> f32 {
        self.config.oversample
    }

    /// Number of live vectors.
    pub fn len(&self) -> usize {
        graph_or_pending!(&self.engine, g => g.len(), p => p.len())
    }

    /// Whether no live vector is left.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deleted vectors not yet compacted away.
    pub fn deleted_len(&self) -> usize {
        graph_or_pending!(&self.engine, g => g.deleted_len(), _p => 0)
    }

    /// Whether `id` is live.
    pub fn contains(&self, id: u64) -> bool {
        graph_or_pending!(&self.engine, g => g.contains(id), p => p.contains(id))
    }

    /// The stored vector of live `id` (normalized under the cosine metric), or `None`.
    pub fn get(&self, id: u64) -> Option<Vec<f32>> {
        match &self.engine {
            Engine::Pending(p) => p.row(id).map(<[f32]>::to_vec),
            Engine::F32(g) => g.slot(id).map(|s| g.store().row(s).to_vec()),
            Engine::U8(g) => coded_row(g, id),
            Engine::I8(g) => coded_row(g, id),
            Engine::Binary(g) => coded_row(g, id),
        }
    }

    /// Every live id, in no particular order.
    pub fn ids(&self) -> Vec<u64> {
        graph_or_pending!(&self.engine, g => g.ids().collect(), p => p.ids().to_vec())
    }

    /// Inserts a vector under a new id ([`GraphError::DuplicateId`] if `id` is live).
    ///
    /// On an index attached to a file ([`Index::open`], [`IndexBuilder::create`]) the insert
    /// is logged first and durable, per the [`Durability`] setting, when this returns.
    pub fn insert(&mut self, id: u64, vector: &[f32]) -> Result<(), Error> {
        self.insert_batch(std::slice::from_ref(&id), vector)
    }

    /// Inserts or replaces the vector of `id`; returns whether one was replaced.
    pub fn upsert(&mut self, id: u64, vector: &[f32]) -> Result<bool, Error> {
        let op = LogOp::Upsert {
            ids: Cow::Borrowed(std::slice::from_ref(&id)),
            dim: self.log_dim()?,
            rows: Cow::Borrowed(vector),
        };
        self.logged(&op).map(|n| n > 0)
    }

    /// Inserts `ids.len()` vectors (`vectors` is row-major) on the builder's number of threads.
    /// All-or-nothing: one bad row or duplicate id rejects the batch (and logs nothing).
    pub fn insert_batch(&mut self, ids: &[u64], vectors: &[f32]) -> Result<(), Error> {
        self.precheck_insert(ids, vectors)?;
        let op = LogOp::Insert {
            ids: Cow::Borrowed(ids),
            dim: self.log_dim()?,
            rows: Cow::Borrowed(vectors),
        };
        self.logged(&op).map(|_| ())
    }

    /// Deletes `id`; returns whether it was live. O(1): the vector stays as a tombstone (it
    /// still routes searches) until [`Index::compact`].
    ///
    /// # Errors
    /// Only on an attached index, when the log cannot be written ([`Error::Storage`]).
    pub fn delete(&mut self, id: u64) -> Result<bool, Error> {
        self.delete_batch(std::slice::from_ref(&id)).map(|n| n > 0)
    }

    /// Deletes every live id of `ids` (one log record on an attached index); returns how many
    /// were live.
    pub fn delete_batch(&mut self, ids: &[u64]) -> Result<usize, Error> {
        let mut live: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|&id| self.contains(id))
            .collect();
        live.sort_unstable();
        live.dedup();
        if live.is_empty() {
            return Ok(0);
        }
        self.logged(&LogOp::Delete {
            ids: Cow::Owned(live),
        })
    }

    /// Removes tombstones for real; returns how many.
    pub fn compact(&mut self) -> Result<usize, Error> {
        if self.deleted_len() == 0 {
            return Ok(0);
        }
        self.logged(&LogOp::Compact)
    }

    /// The `k` nearest live vectors, nearest first.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Neighbor>, Error> {
        self.search_with(query, SearchParams::new(k))
    }

    /// A search with an explicit beam width and/or a filter on ids.
    pub fn search_with(
        &self,
        query: &[f32],
        params: SearchParams<'_>,
    ) -> Result<Vec<Neighbor>, Error> {
        let ef = params.ef.unwrap_or(self.config.params.ef_search);
        let (k, filter) = (params.k, params.filter);
        let over = match params.oversample {
            Some(f) => checked_oversample(f)?,
            None => self.config.oversample,
        };
        Ok(match &self.engine {
            Engine::F32(g) => g.search_with(query, k, ef, filter)?,
            Engine::Pending(p) => p.search(query, k, filter)?,
            Engine::U8(g) => rescored(g, query, k, ef, filter, over)?,
            Engine::I8(g) => rescored(g, query, k, ef, filter, over)?,
            Engine::Binary(g) => rescored(g, query, k, ef, filter, over)?,
        })
    }

    /// Reads into memory the f32 rows that a quantized index opened from a file leaves there.
    ///
    /// Opened from a file, a u8, i8 or binary index walks its graph over codes in memory and
    /// reads the exact row of each rescored candidate from the file (one positioned read,
    /// served by the page cache), so the rows cost no resident memory. After this call the
    /// rescoring reads memory instead: faster searches (the reads are about half of a 384-d u8
    /// search; see docs/QUANTIZATION.md), for `4 · dimensions` more bytes of RAM per vector.
    /// Does nothing for an f32 index, a not-yet-trained one, or rows already in memory. The
    /// rows stay in memory for the life of this `Index` (a checkpoint writes them to the new
    /// snapshot like any row; the next open leaves them in the file again). A failed read
    /// returns the error and leaves the index as it was.
    pub fn load_rows(&mut self) -> Result<(), Error> {
        match &mut self.engine {
            Engine::U8(g) => g.store_mut().load_rows()?,
            Engine::I8(g) => g.store_mut().load_rows()?,
            Engine::Binary(g) => g.store_mut().load_rows()?,
            Engine::F32(_) | Engine::Pending(_) => {}
        }
        Ok(())
    }

    /// Sizes and counts.
    pub fn stats(&self) -> IndexStats {
        let base = IndexStats {
            len: self.len(),
            deleted: self.deleted_len(),
            dimensions: self.config.dim,
            metric: self.config.metric,
            quantization: self.config.quantization,
            graph_built: !matches!(self.engine, Engine::Pending(_)),
            vector_bytes: 0,
            file_vector_bytes: 0,
            code_bytes: 0,
            graph_bytes: 0,
            id_bytes: 0,
        };
        match &self.engine {
            Engine::Pending(p) => IndexStats {
                vector_bytes: p.vector_bytes(),
                id_bytes: p.id_bytes(),
                ..base
            },
            Engine::F32(g) => {
                let s = g.stats();
                IndexStats {
                    vector_bytes: s.vector_bytes,
                    graph_bytes: s.graph_bytes + s.scratch_bytes,
                    id_bytes: s.id_bytes,
                    ..base
                }
            }
            Engine::U8(g) => code_stats(g, base),
            Engine::I8(g) => code_stats(g, base),
            Engine::Binary(g) => code_stats(g, base),
        }
    }

    /// Dimensions as the log stores them.
    fn log_dim(&self) -> Result<u32, Error> {
        u32::try_from(self.config.dim).map_err(|_| Error::InvalidSetting {
            name: "dimensions",
            reason: "too many dimensions to log".into(),
        })
    }

    /// Every check of an insert, done before anything is logged: the batch's shape, each
    /// row's values and norm ([`edgevec_graph::check_vector`]) and duplicate ids. A single
    /// row's error is returned as is; a batch's names the row ([`GraphError::BatchItem`]).
    fn precheck_insert(&self, ids: &[u64], vectors: &[f32]) -> Result<(), Error> {
        let dim = self.config.dim;
        if ids.len().checked_mul(dim) != Some(vectors.len()) {
            return Err(if ids.len() == 1 {
                GraphError::DimensionMismatch {
                    expected: dim,
                    found: vectors.len(),
                }
            } else {
                GraphError::BatchShape {
                    ids: ids.len(),
                    values: vectors.len(),
                    dim,
                }
            }
            .into());
        }
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        for (index, (&id, row)) in ids.iter().zip(vectors.chunks_exact(dim)).enumerate() {
            let checked =
                edgevec_graph::check_vector(row, dim, self.config.metric).and_then(|()| {
                    if self.contains(id) || !seen.insert(id) {
                        Err(GraphError::DuplicateId(id))
                    } else {
                        Ok(())
                    }
                });
            if let Err(source) = checked {
                return Err(if ids.len() == 1 {
                    source
                } else {
                    GraphError::BatchItem {
                        index,
                        source: Box::new(source),
                    }
                }
                .into());
            }
        }
        Ok(())
    }

    /// Logs `op` (on an attached index), then applies it; a record that cannot be applied is
    /// retracted from the log. Returns what [`Index::apply`] returns.
    fn logged(&mut self, op: &LogOp<'_>) -> Result<usize, Error> {
        let seq = match &mut self.journal {
            Some(j) => Some(j.append(op)?),
            None => None,
        };
        let applied = self.apply(op);
        if applied.is_err()
            && let (Some(j), Some(seq)) = (&mut self.journal, seq)
        {
            j.retract(seq)?;
        }
        applied
    }

    /// Applies one operation to the in-memory index: inserted rows, replaced rows (upsert),
    /// deleted ids, or removed tombstones.
    fn apply(&mut self, op: &LogOp<'_>) -> Result<usize, Error> {
        match op {
            LogOp::Insert { ids, dim, rows } => {
                self.check_log_dim(*dim)?;
                self.apply_insert_batch(ids, rows)?;
                Ok(ids.len())
            }
            LogOp::Upsert { ids, dim, rows } => {
                self.check_log_dim(*dim)?;
                let mut replaced = 0;
                for (&id, row) in ids.iter().zip(rows.chunks_exact(self.config.dim)) {
                    let r = graph_or_pending!(&mut self.engine, g => g.upsert(id, row)?, p => p.upsert(id, row)?);
                    replaced += usize::from(r);
                    self.train_if_due()?;
                }
                Ok(replaced)
            }
            LogOp::Delete { ids } => Ok(ids
                .iter()
                .filter(|&&id| graph_or_pending!(&mut self.engine, g => g.delete(id), p => p.delete(id)))
                .count()),
            LogOp::Compact => Ok(graph_or_pending!(&mut self.engine, g => g.compact(), _p => 0)),
            _ => Err(Error::Format {
                section: "log",
                reason: "a record of a kind this version does not know".into(),
            }),
        }
    }

    fn check_log_dim(&self, dim: u32) -> Result<(), Error> {
        if usize::try_from(dim).ok() == Some(self.config.dim) {
            Ok(())
        } else {
            Err(GraphError::DimensionMismatch {
                expected: self.config.dim,
                found: dim as usize,
            }
            .into())
        }
    }

    fn apply_insert_batch(&mut self, ids: &[u64], vectors: &[f32]) -> Result<(), Error> {
        let threads = self.config.threads;
        match &mut self.engine {
            Engine::Pending(p) => {
                p.check_batch(ids, vectors)?;
                if p.len() + ids.len() >= self.config.train_size {
                    let (mut all_ids, mut all_rows) = p.take();
                    all_ids.extend_from_slice(ids);
                    all_rows.extend_from_slice(vectors);
                    match self.build_graph(&all_ids, &all_rows) {
                        Ok(engine) => self.engine = engine,
                        Err(e) => {
                            // Put the collected vectors back: a failed batch changes nothing.
                            let keep = all_ids.len() - ids.len();
                            all_ids.truncate(keep);
                            all_rows.truncate(keep * self.config.dim);
                            if let Engine::Pending(p) = &mut self.engine {
                                p.restore(all_ids, all_rows);
                            }
                            return Err(e);
                        }
                    }
                } else {
                    p.insert_batch(ids, vectors)?;
                }
                Ok(())
            }
            Engine::F32(g) => Ok(g.insert_batch(ids, vectors, threads)?),
            Engine::U8(g) => Ok(g.insert_batch(ids, vectors, threads)?),
            Engine::I8(g) => Ok(g.insert_batch(ids, vectors, threads)?),
            Engine::Binary(g) => Ok(g.insert_batch(ids, vectors, threads)?),
        }
    }

    fn assemble(config: Config, engine: Engine) -> Index {
        Index {
            config,
            engine,
            journal: None,
            recovery: None,
            path: None,
        }
    }

    /// Trains the codec and builds the graph once a quantized index has collected enough
    /// vectors.
    fn train_if_due(&mut self) -> Result<(), Error> {
        let Engine::Pending(p) = &mut self.engine else {
            return Ok(());
        };
        if p.len() < self.config.train_size {
            return Ok(());
        }
        let (ids, rows) = p.take();
        match self.build_graph(&ids, &rows) {
            Ok(engine) => {
                self.engine = engine;
                Ok(())
            }
            Err(e) => {
                if let Engine::Pending(p) = &mut self.engine {
                    p.restore(ids, rows);
                }
                Err(e)
            }
        }
    }

    /// Trains the configured codec on `rows` and builds a graph holding them.
    fn build_graph(&self, ids: &[u64], rows: &[f32]) -> Result<Engine, Error> {
        let c = &self.config;
        Ok(match c.quantization {
            Quantization::None => {
                let mut g = Hnsw::new_f32(c.dim, c.metric, c.params)?;
                g.insert_batch(ids, rows, c.threads)?;
                Engine::F32(g)
            }
            Quantization::U8 => Engine::U8(trained::<ScalarU8>(c, ids, rows)?),
            Quantization::I8 => Engine::I8(trained::<ScalarI8>(c, ids, rows)?),
            Quantization::Binary => Engine::Binary(trained::<Binary>(c, ids, rows)?),
        })
    }
}

/// Rows a codec trains on at most (evenly spaced through the data).
const MAX_TRAIN_ROWS: usize = 65_536;

fn trained<Q: Quantizer>(
    c: &Config,
    ids: &[u64],
    rows: &[f32],
) -> Result<Hnsw<CodeStore<Q>>, Error> {
    let n = ids.len();
    let sample: Vec<f32> = if n <= MAX_TRAIN_ROWS {
        rows.to_vec()
    } else {
        (0..MAX_TRAIN_ROWS)
            .flat_map(|i| {
                let r = i * n / MAX_TRAIN_ROWS;
                rows[r * c.dim..(r + 1) * c.dim].iter().copied()
            })
            .collect()
    };
    let q = Q::train(c.metric, c.dim, &sample, &Q::Config::default())?;
    let mut g = Hnsw::new(CodeStore::new(q), c.params)?;
    g.insert_batch(ids, rows, c.threads)?;
    Ok(g)
}

/// The largest oversampling factor ([`IndexBuilder::oversample`]).
pub const MAX_OVERSAMPLE: f32 = 1_000.0;

/// `factor` as an index keeps it, rounded to three decimals (an index file stores thousandths),
/// or [`Error::InvalidSetting`] when it is not a finite number in `1..=MAX_OVERSAMPLE`: the check
/// of [`IndexBuilder::oversample`] and [`SearchParams::oversample`], for a caller that wants to
/// refuse a factor before it builds or searches.
pub fn checked_oversample(factor: f32) -> Result<f32, Error> {
    if !(1.0..=MAX_OVERSAMPLE).contains(&factor) {
        return Err(Error::InvalidSetting {
            name: "oversample",
            reason: format!(
                "must be a number from 1 (rescore only the k results) to {MAX_OVERSAMPLE}, \
                 got {factor}"
            ),
        });
    }
    Ok(oversample_from_milli(oversample_milli(factor)))
}

/// The factor in thousandths, as an index file stores it (`factor` already checked, so the
/// value is at most 1,000,000).
fn oversample_milli(factor: f32) -> u32 {
    edgevec_quant::thousandths(factor) as u32
}

/// A factor stored in thousandths.
fn oversample_from_milli(milli: u32) -> f32 {
    (f64::from(milli) / 1000.0) as f32
}

/// Graph search over codes for `⌈k × oversample⌉` candidates, re-ranked by exact distances.
fn rescored<Q: Quantizer>(
    g: &Hnsw<CodeStore<Q>>,
    query: &[f32],
    k: usize,
    ef: usize,
    filter: Option<&(dyn Fn(u64) -> bool + Sync)>,
    oversample: f32,
) -> Result<Vec<Neighbor>, Error> {
    let wanted = edgevec_quant::oversampled(k, oversample);
    let candidates = g.search_with_slots(query, wanted, ef.max(wanted), filter)?;
    let metric = g.metric();
    let mut buf = Vec::new();
    let store = g.store();
    // Rows in memory are scattered reads of 4·d bytes each: start each one a few candidates
    // before it is measured (100k × 384 u8, rows in memory: +6% QPS at beam 20).
    let ahead = edgevec_simd::prefetch_distance(4 * g.dim());
    for (s, _) in candidates.iter().take(ahead) {
        store.prefetch_row(*s);
    }
    let mut next = ahead;
    // Candidates as (id, slot): ranked ties go by id, and the row is found by slot (no id
    // lookup per candidate).
    let top = edgevec_quant::rescore(candidates.iter().map(|(s, n)| (n.id, *s)), k, |(_, s)| {
        if let Some((t, _)) = candidates.get(next) {
            store.prefetch_row(*t);
        }
        next += 1;
        let row = store.row(s, &mut buf)?;
        // A row read from a file is checksummed but not scanned at open (that would page the
        // whole file in): a non-finite value there makes the candidate unrankable, so skip it.
        Some(edgevec_quant::exact_distance(metric, query, row)).filter(|d| d.is_finite())
    });
    Ok(top
        .into_iter()
        .map(|((id, _), distance)| Neighbor { id, distance })
        .collect())
}

/// The stored row of live `id` in a quantized index.
fn coded_row<Q: Quantizer>(g: &Hnsw<CodeStore<Q>>, id: u64) -> Option<Vec<f32>> {
    let mut buf = Vec::new();
    g.slot(id)
        .and_then(|s| g.store().row(s, &mut buf))
        .map(<[f32]>::to_vec)
}

fn code_stats<Q: Quantizer>(g: &Hnsw<CodeStore<Q>>, base: IndexStats) -> IndexStats {
    let s = g.stats();
    IndexStats {
        vector_bytes: g.store().row_bytes(),
        file_vector_bytes: g.store().file_row_bytes(),
        code_bytes: g.store().code_bytes(),
        graph_bytes: s.graph_bytes + s.scratch_bytes,
        id_bytes: s.id_bytes,
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Index>();
    }

    #[test]
    fn builder_rejects_bad_settings() {
        assert!(matches!(
            Index::builder().build(),
            Err(Error::InvalidSetting {
                name: "dimensions",
                ..
            })
        ));
        assert!(Index::builder().dimensions(0).build().is_err());
        assert!(matches!(
            Index::builder()
                .dimensions(4)
                .metric(Metric::Dot)
                .quantization(Quantization::U8)
                .build(),
            Err(Error::Unsupported { .. })
        ));
        assert!(Index::builder().dimensions(4).m(1).build().is_err());
        assert!(
            Index::builder()
                .dimensions(4)
                .train_size(0)
                .build()
                .is_err()
        );
        assert_eq!(Quantization::from_name("U8"), Some(Quantization::U8));
    }
}
