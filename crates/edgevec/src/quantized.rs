//! The graph over quantized codes: a [`VectorStore`] that keeps each vector twice, as a compact
//! code (what the graph walks) and as its f32 row (what rescoring reads).

use edgevec_graph::{GraphError, VectorStore};
use edgevec_quant::{Codes, Metric, Quantizer};

use crate::rows::Rows;

/// Codes for the graph, f32 rows for exact rescoring, in the same slot order.
///
/// Under the cosine metric rows are stored normalized, like [`edgevec_graph::F32Store`] does.
#[derive(Debug)]
pub(crate) struct CodeStore<Q: Quantizer> {
    quantizer: Q,
    codes: Codes<Q::Elem>,
    rows: Rows,
}

impl<Q: Quantizer> CodeStore<Q> {
    pub(crate) fn new(quantizer: Q) -> Self {
        let codes = Codes::new(&quantizer);
        let rows = Rows::new(quantizer.dim());
        Self {
            quantizer,
            codes,
            rows,
        }
    }

    /// A store over saved codes and rows (same slot order; rows as [`CodeStore::rows`] returns
    /// them).
    pub(crate) fn from_parts(
        quantizer: Q,
        codes: Codes<Q::Elem>,
        rows: Rows,
    ) -> Result<Self, crate::Error> {
        if rows.len() != codes.len() {
            return Err(crate::Error::Format {
                section: "rows",
                reason: format!("{} rows for {} codes", rows.len(), codes.len()),
            });
        }
        if !rows.tail_is_finite() {
            return Err(crate::Error::Format {
                section: "rows",
                reason: "a value is NaN or infinite".into(),
            });
        }
        Ok(Self {
            quantizer,
            codes,
            rows,
        })
    }

    pub(crate) fn quantizer(&self) -> &Q {
        &self.quantizer
    }

    pub(crate) fn codes(&self) -> &Codes<Q::Elem> {
        &self.codes
    }

    /// All rows, row-major, as pieces for saving.
    pub(crate) fn rows(&self) -> Vec<edgevec_storage::Piece<'_>> {
        self.rows.pieces()
    }

    /// The f32 row of `slot` (normalized under cosine), borrowed or read into `buf`.
    pub(crate) fn row<'a>(&'a self, slot: u32, buf: &'a mut Vec<f32>) -> Option<&'a [f32]> {
        self.rows.row(slot as usize, buf)
    }

    /// Starts loading the f32 row of `slot` into the cache when it is held in memory (a row
    /// in the file is read by a system call, which no prefetch can start). Timing only.
    pub(crate) fn prefetch_row(&self, slot: u32) {
        self.rows.prefetch(slot as usize);
    }

    /// Reads the f32 rows left in the snapshot file into memory (see [`Rows::load`]).
    pub(crate) fn load_rows(&mut self) -> Result<(), edgevec_storage::StorageError> {
        self.rows.load()
    }

    /// Bytes held by the codes and codec parameters (what a search touches).
    pub(crate) fn code_bytes(&self) -> usize {
        self.codes.memory_bytes() + self.quantizer.memory_bytes()
    }

    /// Bytes of f32 rows held in memory (read only when rescoring).
    pub(crate) fn row_bytes(&self) -> usize {
        self.rows.resident_bytes()
    }

    /// Bytes of f32 rows left in the snapshot file.
    pub(crate) fn file_row_bytes(&self) -> usize {
        self.rows.file_bytes()
    }
}

fn rejected(e: impl std::fmt::Display) -> GraphError {
    GraphError::StoreRejected(e.to_string())
}

/// The row as stored: normalized under cosine (the graph has already rejected zero vectors
/// there), as is otherwise.
fn normalized(metric: Metric, v: &[f32]) -> std::borrow::Cow<'_, [f32]> {
    match (metric, edgevec_simd::normalized(v)) {
        (Metric::Cosine, Some(unit)) => std::borrow::Cow::Owned(unit),
        _ => std::borrow::Cow::Borrowed(v),
    }
}

impl<Q: Quantizer> VectorStore for CodeStore<Q> {
    type Query<'a>
        = Q::Query
    where
        Self: 'a;

    fn dim(&self) -> usize {
        self.quantizer.dim()
    }

    fn metric(&self) -> Metric {
        self.quantizer.metric()
    }

    fn len(&self) -> usize {
        self.codes.len()
    }

    fn reserve(&mut self, additional: usize) {
        self.codes.reserve(additional);
        self.rows.reserve(additional);
    }

    fn push(&mut self, vector: &[f32]) -> Result<u32, GraphError> {
        let slot = u32::try_from(self.codes.len())
            .ok()
            .filter(|s| *s < u32::MAX)
            .ok_or(GraphError::CapacityExceeded)?;
        self.codes.push(&self.quantizer, vector).map_err(rejected)?;
        self.rows.push(&normalized(self.quantizer.metric(), vector));
        Ok(slot)
    }

    fn prepare<'a>(&'a self, query: &'a [f32]) -> Result<Q::Query, GraphError> {
        self.quantizer.prepare(query).map_err(rejected)
    }

    fn node_query(&self, slot: u32) -> Q::Query {
        // Invariant: every stored code has the quantizer's code length (`Codes::push` checks
        // it), which is the only thing `prepare_code` can reject.
        self.quantizer
            .prepare_code(self.codes.get(slot as usize))
            .expect("stored codes have the quantizer's length")
    }

    #[inline]
    fn distance(&self, query: &Q::Query, slot: u32) -> f32 {
        self.quantizer
            .distance(query, self.codes.get(slot as usize))
    }

    #[inline]
    fn distance_between(&self, a: u32, b: u32) -> f32 {
        self.quantizer
            .code_distance(self.codes.get(a as usize), self.codes.get(b as usize))
    }

    fn retain(&mut self, keep: &[u32]) {
        self.codes.retain(keep);
        self.rows.retain(keep);
    }

    fn prefetch(&self, slot: u32) {
        edgevec_simd::prefetch_row(self.codes.get(slot as usize));
    }

    fn advise_huge_pages(&self) {
        self.codes.advise_huge_pages();
    }

    fn prefetch_all(&self, slot: u32) {
        edgevec_simd::prefetch_slice(self.codes.get(slot as usize));
    }

    fn prefetch_distance(&self) -> usize {
        edgevec_simd::prefetch_distance(self.quantizer.code_len())
    }

    fn memory_bytes(&self) -> usize {
        self.code_bytes() + self.row_bytes()
    }
}
