//! How the graph reads vectors: the [`VectorStore`] trait, and [`F32Store`], rows of f32 in RAM.
//!
//! The graph never touches vector bytes itself. It asks a store for the distance from a
//! prepared query to a node, or between two nodes, so the same graph code runs over f32 rows,
//! quantized codes or rows mapped from a file.

use std::borrow::Cow;

use edgevec_simd::{Backend, Kernels};

use crate::{GraphError, Metric};

/// Vector storage addressed by dense `u32` slots, as the graph sees it.
///
/// Slots are assigned by [`VectorStore::push`] in order (`0, 1, 2, …`). Vectors handed to a store
/// have already been checked by the graph for dimension and finiteness; a store may reject more
/// (for example a zero vector under the cosine metric).
///
/// Distances must be "smaller is closer" and never NaN for finite input.
pub trait VectorStore: Send + Sync {
    /// A query prepared for repeated distance computations (normalized, quantized, …). It may
    /// borrow from the store or from the caller's query, so preparing need not allocate.
    type Query<'a>: Send + Sync
    where
        Self: 'a;

    /// Number of dimensions of every vector.
    fn dim(&self) -> usize;
    /// The metric distances are computed in.
    fn metric(&self) -> Metric;
    /// Number of slots.
    fn len(&self) -> usize;
    /// Whether the store holds no slots.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reserves room for `additional` more vectors (a hint; the default does nothing).
    fn reserve(&mut self, _additional: usize) {}
    /// Appends a vector and returns its slot.
    fn push(&mut self, vector: &[f32]) -> Result<u32, GraphError>;
    /// Prepares a query vector (already checked for dimension and finiteness).
    fn prepare<'a>(&'a self, query: &'a [f32]) -> Result<Self::Query<'a>, GraphError>;
    /// The stored vector of `slot` as a prepared query (used while linking a new node).
    fn node_query(&self, slot: u32) -> Self::Query<'_>;
    /// Distance from a prepared query to the vector in `slot`.
    fn distance(&self, query: &Self::Query<'_>, slot: u32) -> f32;
    /// Distance between the vectors in two slots.
    fn distance_between(&self, a: u32, b: u32) -> f32;
    /// Keeps only the listed slots: new slot `i` holds what old slot `keep[i]` held. `keep` is
    /// strictly increasing.
    fn retain(&mut self, keep: &[u32]);
    /// Hints that `slot` will be read soon, though not next (a cache prefetch: of the whole
    /// vector when it is short, see `edgevec_simd::prefetch_row`); the default does nothing.
    fn prefetch(&self, _slot: u32) {}
    /// Asks the operating system to back the store's large arrays with huge pages (called once
    /// a graph is loaded; see `edgevec_simd::advise_huge_pages`). Advisory; the default does
    /// nothing.
    fn advise_huge_pages(&self) {}
    /// How many vectors ahead of the one being measured a search prefetches in full: short
    /// vectors are measured quickly, so their loads must start further ahead. The default
    /// suits vectors of about 1 KiB.
    fn prefetch_distance(&self) -> usize {
        edgevec_simd::prefetch_distance(1024)
    }
    /// Hints that all of `slot` will be read next (every cache line of it); the default is
    /// [`VectorStore::prefetch`].
    fn prefetch_all(&self, slot: u32) {
        self.prefetch(slot);
    }
    /// Bytes of memory the store holds (vectors and parameters).
    fn memory_bytes(&self) -> usize;
}

/// f32 rows in one contiguous allocation.
///
/// Under [`Metric::Cosine`] rows and queries are normalized on the way in (a zero vector is
/// rejected with [`GraphError::ZeroVector`]) and the distance is `1 − ⟨a, b⟩`. Under
/// [`Metric::L2`] it is the squared Euclidean distance, under [`Metric::Dot`] the negated inner
/// product `−⟨a, b⟩`.
#[derive(Debug, Clone)]
pub struct F32Store {
    dim: usize,
    metric: Metric,
    data: Vec<f32>,
    kernels: &'static Kernels,
}

impl F32Store {
    /// An empty store for `dim`-dimensional vectors.
    pub fn new(dim: usize, metric: Metric) -> Result<Self, GraphError> {
        if dim == 0 {
            return Err(GraphError::InvalidParameter {
                name: "dimensions",
                value: 0,
                reason: "must be at least 1",
            });
        }
        Ok(Self {
            dim,
            metric,
            data: Vec::new(),
            kernels: Kernels::active(),
        })
    }

    /// A store over rows saved earlier (`rows.len()` must be a multiple of `dim`; rows as
    /// [`F32Store::row`] returns them, so normalized under cosine). Non-finite values are
    /// refused: they can only come from a damaged source.
    pub fn from_rows(dim: usize, metric: Metric, rows: Vec<f32>) -> Result<Self, GraphError> {
        let mut store = Self::new(dim, metric)?;
        if !rows.len().is_multiple_of(dim) {
            return Err(GraphError::InvalidParts(format!(
                "{} row values do not divide into {dim}-dimensional rows",
                rows.len()
            )));
        }
        if let Some((position, value)) = edgevec_simd::first_non_finite(&rows) {
            return Err(GraphError::NonFinite { position, value });
        }
        if rows.len() / dim >= u32::MAX as usize {
            return Err(GraphError::CapacityExceeded);
        }
        store.data = rows;
        Ok(store)
    }

    /// All rows, row-major (what [`F32Store::from_rows`] takes back).
    pub fn rows(&self) -> &[f32] {
        &self.data
    }

    /// Pins the distance kernels to one SIMD backend (benchmarks and tests); `None` when this
    /// machine cannot run it.
    pub fn with_backend(mut self, backend: Backend) -> Option<Self> {
        self.kernels = Kernels::for_backend(backend)?;
        Some(self)
    }

    /// The stored row of `slot` (normalized under the cosine metric). Panics if out of range.
    pub fn row(&self, slot: u32) -> &[f32] {
        let start = slot as usize * self.dim;
        &self.data[start..start + self.dim]
    }

    /// The row as stored: borrowed as is, or normalized (cosine).
    fn prepared<'a>(&self, v: &'a [f32]) -> Result<Cow<'a, [f32]>, GraphError> {
        if self.metric != Metric::Cosine {
            return Ok(Cow::Borrowed(v));
        }
        edgevec_simd::normalized(v)
            .map(Cow::Owned)
            .ok_or(GraphError::ZeroVector)
    }

    #[inline]
    fn dist(&self, a: &[f32], b: &[f32]) -> f32 {
        match self.metric {
            Metric::L2 => self.kernels.l2_squared(a, b),
            // Both sides are unit vectors: 1 - cos, clamped against rounding below zero.
            Metric::Cosine => (1.0 - self.kernels.dot(a, b)).max(0.0),
            Metric::Dot => -self.kernels.dot(a, b),
        }
    }
}

impl VectorStore for F32Store {
    type Query<'a> = Cow<'a, [f32]>;

    fn dim(&self) -> usize {
        self.dim
    }

    fn metric(&self) -> Metric {
        self.metric
    }

    fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    fn reserve(&mut self, additional: usize) {
        crate::links::grow(&mut self.data, additional.saturating_mul(self.dim));
    }

    fn push(&mut self, vector: &[f32]) -> Result<u32, GraphError> {
        let slot = u32::try_from(self.len())
            .ok()
            .filter(|s| *s < u32::MAX)
            .ok_or(GraphError::CapacityExceeded)?;
        let row = self.prepared(vector)?;
        crate::links::grow(&mut self.data, self.dim);
        self.data.extend_from_slice(&row);
        Ok(slot)
    }

    fn prepare<'a>(&'a self, query: &'a [f32]) -> Result<Cow<'a, [f32]>, GraphError> {
        self.prepared(query)
    }

    fn node_query(&self, slot: u32) -> Cow<'_, [f32]> {
        Cow::Borrowed(self.row(slot))
    }

    #[inline]
    fn distance(&self, query: &Cow<'_, [f32]>, slot: u32) -> f32 {
        self.dist(query, self.row(slot))
    }

    #[inline]
    fn distance_between(&self, a: u32, b: u32) -> f32 {
        self.dist(self.row(a), self.row(b))
    }

    fn retain(&mut self, keep: &[u32]) {
        let dim = self.dim;
        for (new, &old) in keep.iter().enumerate() {
            let old = old as usize;
            if old != new {
                self.data.copy_within(old * dim..(old + 1) * dim, new * dim);
            }
        }
        self.data.truncate(keep.len() * dim);
        self.data.shrink_to_fit();
    }

    #[inline]
    fn prefetch(&self, slot: u32) {
        let start = slot as usize * self.dim;
        if let Some(row) = self.data.get(start..start + self.dim) {
            edgevec_simd::prefetch_row(row);
        }
    }

    fn advise_huge_pages(&self) {
        edgevec_simd::advise_huge_pages(&self.data);
    }

    fn prefetch_distance(&self) -> usize {
        edgevec_simd::prefetch_distance(self.dim * 4)
    }

    #[inline]
    fn prefetch_all(&self, slot: u32) {
        let start = slot as usize * self.dim;
        if let Some(row) = self.data.get(start..start + self.dim) {
            edgevec_simd::prefetch_slice(row);
        }
    }

    fn memory_bytes(&self) -> usize {
        self.data.capacity() * std::mem::size_of::<f32>() + std::mem::size_of::<Self>()
    }
}
