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
//! index.delete(10);
//! let only_even = |id: u64| id % 2 == 0;
//! let hits = index.search_with(&[1.0, 0.05, 0.0], SearchParams::new(2).filter(&only_even))?;
//! assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [12]);
//! # Ok::<(), edgevec::Error>(())
//! ```
//!
//! # Quantization
//!
//! With [`Quantization::U8`], [`Quantization::I8`] or [`Quantization::Binary`] the graph is
//! built and searched over codes (4x to 32x smaller than f32 rows); the best `k × oversample`
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

use edgevec_graph::{F32Store, GraphError, Hnsw};
use edgevec_quant::{Binary, QuantError, Quantizer, ScalarI8, ScalarU8};

pub use edgevec_graph as graph;
pub use edgevec_graph::{HnswParams, Neighbor};
pub use edgevec_quant as quant;
pub use edgevec_simd as simd;
pub use edgevec_simd::Metric;
pub use edgevec_storage as storage;

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
    const fn default_oversample(self) -> usize {
        match self {
            Quantization::None => 1,
            Quantization::U8 | Quantization::I8 => 4,
            Quantization::Binary => 20,
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
    oversample: Option<usize>,
    train_size: usize,
    threads: usize,
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
    /// Candidates rescored per result under quantization (default 4 for u8/i8, 20 for binary).
    pub fn oversample(mut self, factor: usize) -> Self {
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
            oversample: self
                .oversample
                .unwrap_or(self.quantization.default_oversample())
                .max(1),
            train_size: self.train_size,
            threads: self.threads,
        };
        let engine = match config.quantization {
            Quantization::None => Engine::F32(Hnsw::new_f32(dim, config.metric, config.params)?),
            _ => Engine::Pending(Pending::new(dim, config.metric)),
        };
        Ok(Index { config, engine })
    }
}

#[derive(Debug, Clone)]
struct Config {
    dim: usize,
    metric: Metric,
    quantization: Quantization,
    params: HnswParams,
    oversample: usize,
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
}

impl<'a> SearchParams<'a> {
    /// `k` results, default beam width, no filter.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            ef: None,
            filter: None,
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
}

impl std::fmt::Debug for SearchParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchParams")
            .field("k", &self.k)
            .field("ef", &self.ef)
            .field("filter", &self.filter.map(|_| "<fn>"))
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
    /// Bytes of f32 rows.
    pub vector_bytes: usize,
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
    pub fn oversample(&self) -> usize {
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

    /// Inserts a vector under a new id ([`GraphError::DuplicateId`] if `id` is live).
    pub fn insert(&mut self, id: u64, vector: &[f32]) -> Result<(), Error> {
        graph_or_pending!(&mut self.engine, g => g.insert(id, vector)?, p => p.insert(id, vector)?);
        self.train_if_due()
    }

    /// Inserts or replaces the vector of `id`; returns whether one was replaced.
    pub fn upsert(&mut self, id: u64, vector: &[f32]) -> Result<bool, Error> {
        let replaced = graph_or_pending!(&mut self.engine, g => g.upsert(id, vector)?, p => p.upsert(id, vector)?);
        self.train_if_due()?;
        Ok(replaced)
    }

    /// Inserts `ids.len()` vectors (`vectors` is row-major) on the builder's number of threads.
    /// All-or-nothing: one bad row or duplicate id rejects the batch.
    pub fn insert_batch(&mut self, ids: &[u64], vectors: &[f32]) -> Result<(), Error> {
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

    /// Deletes `id`; returns whether it was live. O(1): the vector stays as a tombstone (it
    /// still routes searches) until [`Index::compact`].
    pub fn delete(&mut self, id: u64) -> bool {
        graph_or_pending!(&mut self.engine, g => g.delete(id), p => p.delete(id))
    }

    /// Removes tombstones for real; returns how many.
    pub fn compact(&mut self) -> usize {
        graph_or_pending!(&mut self.engine, g => g.compact(), _p => 0)
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
        Ok(match &self.engine {
            Engine::F32(g) => g.search_with(query, k, ef, filter)?,
            Engine::Pending(p) => p.search(query, k, filter)?,
            Engine::U8(g) => rescored(g, query, k, ef, filter, self.config.oversample)?,
            Engine::I8(g) => rescored(g, query, k, ef, filter, self.config.oversample)?,
            Engine::Binary(g) => rescored(g, query, k, ef, filter, self.config.oversample)?,
        })
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

/// Graph search over codes for `k × oversample` candidates, re-ranked by exact distances.
fn rescored<Q: Quantizer>(
    g: &Hnsw<CodeStore<Q>>,
    query: &[f32],
    k: usize,
    ef: usize,
    filter: Option<&(dyn Fn(u64) -> bool + Sync)>,
    oversample: usize,
) -> Result<Vec<Neighbor>, Error> {
    let wanted = edgevec_quant::oversampled(k, oversample);
    let candidates = g.search_with(query, wanted, ef.max(wanted), filter)?;
    let metric = g.metric();
    let top = edgevec_quant::rescore(candidates.iter().map(|n| n.id), k, |id| {
        let row = g.slot(id).and_then(|s| g.store().row(s))?;
        Some(edgevec_quant::exact_distance(metric, query, row))
    });
    Ok(top
        .into_iter()
        .map(|(id, distance)| Neighbor { id, distance })
        .collect())
}

fn code_stats<Q: Quantizer>(g: &Hnsw<CodeStore<Q>>, base: IndexStats) -> IndexStats {
    let s = g.stats();
    IndexStats {
        vector_bytes: g.store().row_bytes(),
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
