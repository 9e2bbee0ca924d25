//! The wasm-bindgen layer of EdgeVec's npm package.
//!
//! `cargo xtask wasm` builds this crate for `wasm32-unknown-unknown` with `+simd128` and wraps
//! it in the package under `crates/edgevec-wasm/pkg/`. Users never see [`RawIndex`]: the
//! package's `edgevec.js` (in `js/`) is the public API (`init`, `EdgeVec`, the IndexedDB and
//! OPFS helpers); it checks and converts JavaScript values (number or bigint ids, option
//! objects, result objects) and calls this layer, which owns one [`edgevec::Index`].
//!
//! Every exported function returns `Result<_, JsValue>` whose error is a JavaScript `Error`
//! with `name = "EdgeVecError"` and a `code` (see [`error_code`]); no input reaches a Rust
//! panic, which in wasm32 would surface as an `unreachable` trap. The package's .wasm is built
//! with `-C panic=immediate-abort` (`cargo xtask wasm`): a panic that should not exist traps at
//! once, with none of std's panic formatting in the file, and `edgevec.js` reports the trap as an
//! `INTERNAL` error. No panic hook is set: it could not run.
//!
//! The index is built with one thread: wasm32 has no threads here, and a one-thread build is
//! deterministic (same seed, same insertion order, same index).
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::rc::Rc;

use edgevec::graph::GraphError;
use edgevec::quant::QuantError;
use edgevec::storage::StorageError;
use edgevec::{Error, Index, Metric, Quantization, SearchParams};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The global `Error` class (errors are made in Rust so that every message is one source).
    #[wasm_bindgen(js_name = Error)]
    type JsErrorObject;
    #[wasm_bindgen(constructor, js_class = "Error")]
    fn new(message: &str) -> JsErrorObject;
    #[wasm_bindgen(method, setter = name, js_class = "Error")]
    fn set_name(this: &JsErrorObject, name: &str);
    #[wasm_bindgen(method, setter = code, js_class = "Error")]
    fn set_code(this: &JsErrorObject, code: &str);

    /// A search filter: a JavaScript function called with each candidate id (a bigint).
    #[wasm_bindgen(typescript_type = "(id: bigint) => boolean")]
    pub type IdFilter;
    /// `filter.call(undefined, id)`; a thrown exception is returned, not propagated.
    #[wasm_bindgen(method, catch, js_name = call)]
    fn call(this: &IdFilter, this_arg: &JsValue, id: u64) -> Result<bool, JsValue>;
}

/// The `code` of every error this package throws, by kind of failure. `edgevec.js` and the
/// package README list the same codes.
pub fn error_code(e: &Error) -> &'static str {
    match e {
        Error::Graph(g) => graph_code(g),
        Error::Quant(q) => match q {
            QuantError::DimensionMismatch { .. } => "DIMENSION_MISMATCH",
            QuantError::NonFinite { .. }
            | QuantError::NonFiniteSample { .. }
            | QuantError::ZeroVector
            | QuantError::ZeroSampleRow { .. } => "INVALID_VECTOR",
            QuantError::Length { .. } | QuantError::BadMagic { .. } => "CORRUPTED",
            _ => "INVALID_ARGUMENT",
        },
        Error::InvalidSetting { .. } | Error::Unsupported { .. } => "INVALID_ARGUMENT",
        Error::Storage(s) => match s {
            StorageError::UnsupportedVersion { .. } => "UNSUPPORTED_VERSION",
            StorageError::BadMagic { .. }
            | StorageError::Truncated { .. }
            | StorageError::Corrupted { .. }
            | StorageError::MissingSection { .. }
            | StorageError::NotF32 { .. } => "CORRUPTED",
            _ => "INTERNAL",
        },
        Error::Format { .. } => "CORRUPTED",
        _ => "INTERNAL",
    }
}

fn graph_code(e: &GraphError) -> &'static str {
    match e {
        GraphError::DimensionMismatch { .. } | GraphError::BatchShape { .. } => {
            "DIMENSION_MISMATCH"
        }
        GraphError::NonFinite { .. } | GraphError::ZeroVector | GraphError::TooLarge { .. } => {
            "INVALID_VECTOR"
        }
        GraphError::DuplicateId(_) => "DUPLICATE_ID",
        GraphError::ZeroK | GraphError::InvalidParameter { .. } => "INVALID_ARGUMENT",
        GraphError::BatchItem { source, .. } => graph_code(source),
        GraphError::InvalidParts(_) => "CORRUPTED",
        GraphError::CapacityExceeded => "CAPACITY_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// A JavaScript `Error` with `name = "EdgeVecError"` and `code`.
fn js_error(code: &str, message: &str) -> JsValue {
    let e = JsErrorObject::new(message);
    e.set_name("EdgeVecError");
    e.set_code(code);
    e.into()
}

fn to_js(e: Error) -> JsValue {
    js_error(error_code(&e), &e.to_string())
}

fn invalid(message: String) -> JsValue {
    js_error("INVALID_ARGUMENT", &message)
}

/// `value` as a whole number in `0..=max`, or an `INVALID_ARGUMENT` error naming `name`.
fn whole(name: &str, value: f64, max: u64) -> Result<u64, JsValue> {
    if value.is_finite() && value.fract() == 0.0 && value >= 0.0 && value <= max as f64 {
        Ok(value as u64)
    } else {
        Err(invalid(format!(
            "{name} must be a whole number between 0 and {max}, got {value}"
        )))
    }
}

fn whole_usize(name: &str, value: f64) -> Result<usize, JsValue> {
    // wasm32: usize is 32 bits; natively the same bound keeps the behaviour identical.
    whole(name, value, u64::from(u32::MAX)).map(|v| v as usize)
}

thread_local! {
    /// Filters of the searches in progress, innermost last (a filter may itself search).
    static FILTERS: RefCell<Vec<Rc<FilterFrame>>> = const { RefCell::new(Vec::new()) };
}

struct FilterFrame {
    filter: IdFilter,
    /// The first exception the filter threw; later candidates are then refused unseen.
    thrown: RefCell<Option<JsValue>>,
}

/// The filter handed to the index: calls the innermost search's JavaScript filter. A plain
/// function (not a closure over the `JsValue`) because the index requires `Sync`.
fn call_filter(id: u64) -> bool {
    let Some(frame) = FILTERS.with(|f| f.borrow().last().cloned()) else {
        return false;
    };
    if frame.thrown.borrow().is_some() {
        return false;
    }
    match frame.filter.call(&JsValue::UNDEFINED, id) {
        Ok(keep) => keep,
        Err(thrown) => {
            *frame.thrown.borrow_mut() = Some(thrown);
            false
        }
    }
}

/// The SIMD backend the distance kernels use (`simd128` in the shipped package).
#[wasm_bindgen(js_name = simdBackend)]
pub fn simd_backend() -> String {
    edgevec::simd::backend().name().to_owned()
}

/// One [`edgevec::Index`], driven by `edgevec.js`.
#[wasm_bindgen]
pub struct RawIndex {
    index: Index,
    /// Distances of the last search, fetched by `takeDistances` right after it.
    distances: RefCell<Vec<f32>>,
}

#[wasm_bindgen]
impl RawIndex {
    /// An empty index. Options left `undefined` take the facade's defaults.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dimensions: f64,
        metric: &str,
        quantization: &str,
        m: Option<f64>,
        ef_construction: Option<f64>,
        ef_search: Option<f64>,
        seed: Option<f64>,
        train_size: Option<f64>,
        oversample: Option<f64>,
    ) -> Result<RawIndex, JsValue> {
        let metric = Metric::from_name(metric).ok_or_else(|| {
            invalid(format!(
                "unknown metric {metric:?}: use \"l2\", \"cosine\" or \"dot\""
            ))
        })?;
        let quantization = Quantization::from_name(quantization).ok_or_else(|| {
            invalid(format!(
                "unknown quantization {quantization:?}: use \"none\", \"u8\", \"i8\" or \"binary\""
            ))
        })?;
        let mut builder = Index::builder()
            .dimensions(whole_usize("dimensions", dimensions)?)
            .metric(metric)
            .quantization(quantization)
            .threads(1);
        if let Some(v) = m {
            builder = builder.m(whole_usize("m", v)?);
        }
        if let Some(v) = ef_construction {
            builder = builder.ef_construction(whole_usize("efConstruction", v)?);
        }
        if let Some(v) = ef_search {
            builder = builder.ef_search(whole_usize("efSearch", v)?);
        }
        if let Some(v) = seed {
            builder = builder.seed(whole("seed", v, (1 << 53) - 1)?);
        }
        if let Some(v) = train_size {
            builder = builder.train_size(whole_usize("trainSize", v)?);
        }
        if let Some(v) = oversample {
            // Checked by the builder (a finite number from 1 to 1000); the f32 of a number too
            // large for it is infinite, which the builder refuses too.
            builder = builder.oversample(v as f32);
        }
        Ok(Self::wrap(builder.build().map_err(to_js)?))
    }

    fn wrap(index: Index) -> RawIndex {
        RawIndex {
            index,
            distances: RefCell::new(Vec::new()),
        }
    }

    /// An index from the bytes of a complete `.evec` file; every checksum and field is
    /// verified.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<RawIndex, JsValue> {
        Index::from_bytes(bytes).map(Self::wrap).map_err(to_js)
    }

    /// The index as the bytes of a complete `.evec` file.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Result<Vec<u8>, JsValue> {
        self.index.to_bytes().map_err(to_js)
    }

    /// Inserts a vector under a new id.
    pub fn insert(&mut self, id: u64, vector: &[f32]) -> Result<(), JsValue> {
        self.index.insert(id, vector).map_err(to_js)
    }

    /// Inserts or replaces; returns whether a vector was replaced.
    pub fn upsert(&mut self, id: u64, vector: &[f32]) -> Result<bool, JsValue> {
        self.index.upsert(id, vector).map_err(to_js)
    }

    /// Inserts `ids.len()` row-major vectors, all or nothing.
    #[wasm_bindgen(js_name = insertBatch)]
    pub fn insert_batch(&mut self, ids: &[u64], vectors: &[f32]) -> Result<(), JsValue> {
        self.index.insert_batch(ids, vectors).map_err(to_js)
    }

    /// Deletes `id`; returns whether it was live.
    pub fn delete(&mut self, id: u64) -> Result<bool, JsValue> {
        self.index.delete(id).map_err(to_js)
    }

    /// Removes deleted vectors for real; returns how many.
    pub fn compact(&mut self) -> Result<usize, JsValue> {
        self.index.compact().map_err(to_js)
    }

    /// The ids of the `k` nearest live vectors, nearest first; their distances follow with
    /// `takeDistances`. `ef` is the beam width (`undefined`: the index's default); `filter`,
    /// if given, is called with candidate ids and only ids it accepts are returned. An
    /// exception thrown by the filter ends the search and is rethrown as it is.
    pub fn search(
        &self,
        query: &[f32],
        k: f64,
        ef: Option<f64>,
        filter: Option<IdFilter>,
    ) -> Result<Vec<u64>, JsValue> {
        // Neither k nor ef changes the result beyond the number of stored vectors, so both are
        // bounded by it here: a huge k must not become a huge allocation.
        let slots = (self.index.len() + self.index.deleted_len()).max(1);
        let k = whole("k", k, (1 << 53) - 1)?;
        let k = usize::try_from(k).unwrap_or(usize::MAX);
        let mut params = SearchParams::new(k.min(slots));
        if let Some(ef) = ef {
            let ef = whole("ef", ef, (1 << 53) - 1)?;
            params = params.ef(usize::try_from(ef).unwrap_or(usize::MAX).min(slots));
        }
        let hits = match filter {
            None => self.index.search_with(query, params),
            Some(filter) => {
                let frame = Rc::new(FilterFrame {
                    filter,
                    thrown: RefCell::new(None),
                });
                FILTERS.with(|f| f.borrow_mut().push(Rc::clone(&frame)));
                let hits = self.index.search_with(query, params.filter(&call_filter));
                FILTERS.with(|f| f.borrow_mut().pop());
                if let Some(thrown) = frame.thrown.borrow_mut().take() {
                    return Err(thrown);
                }
                hits
            }
        }
        .map_err(to_js)?;
        *self.distances.borrow_mut() = hits.iter().map(|h| h.distance).collect();
        Ok(hits.into_iter().map(|h| h.id).collect())
    }

    /// The distances of the last search (then forgotten).
    #[wasm_bindgen(js_name = takeDistances)]
    pub fn take_distances(&self) -> Vec<f32> {
        std::mem::take(&mut *self.distances.borrow_mut())
    }

    /// Live vectors.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are no live vectors.
    #[wasm_bindgen(js_name = isEmpty)]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Deleted vectors not yet compacted away.
    #[wasm_bindgen(js_name = deletedLen)]
    pub fn deleted_len(&self) -> usize {
        self.index.deleted_len()
    }

    /// Whether `id` is live.
    pub fn contains(&self, id: u64) -> bool {
        self.index.contains(id)
    }

    /// The stored vector of `id` (normalized under cosine), or `undefined`.
    pub fn get(&self, id: u64) -> Option<Vec<f32>> {
        self.index.get(id)
    }

    /// Every live id, in no particular order.
    pub fn ids(&self) -> Vec<u64> {
        self.index.ids()
    }

    /// Dimensions of the vectors.
    pub fn dimensions(&self) -> usize {
        self.index.dimensions()
    }

    /// `l2`, `cosine` or `dot`.
    pub fn metric(&self) -> String {
        self.index.metric().name().to_owned()
    }

    /// `none`, `u8`, `i8` or `binary`.
    pub fn quantization(&self) -> String {
        self.index.quantization().name().to_owned()
    }

    /// HNSW `M`.
    pub fn m(&self) -> usize {
        self.index.params().m
    }

    /// Beam width while building.
    #[wasm_bindgen(js_name = efConstruction)]
    pub fn ef_construction(&self) -> usize {
        self.index.params().ef_construction
    }

    /// Default beam width of searches.
    #[wasm_bindgen(js_name = efSearch)]
    pub fn ef_search(&self) -> usize {
        self.index.params().ef_search
    }

    /// Bytes of memory by part, as `[vectors, codes, graph, ids]`.
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> Vec<f64> {
        let s = self.index.stats();
        [s.vector_bytes, s.code_bytes, s.graph_bytes, s.id_bytes]
            .map(|b| b as f64)
            .to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<Index, Error>) -> Error {
        r.expect_err("must fail")
    }

    #[test]
    fn codes_by_kind_of_failure() {
        let mut index = Index::builder().dimensions(2).build().unwrap();
        index.insert(1, &[1.0, 2.0]).unwrap();
        let code = |r: Result<(), Error>| error_code(&r.expect_err("must fail"));
        assert_eq!(code(index.insert(2, &[1.0])), "DIMENSION_MISMATCH");
        assert_eq!(code(index.insert(2, &[f32::NAN, 0.0])), "INVALID_VECTOR");
        assert_eq!(code(index.insert(1, &[0.0, 0.0])), "DUPLICATE_ID");
        assert_eq!(
            code(index.insert_batch(&[5, 6], &[0.0, 0.0, 1.0, f32::INFINITY])),
            "INVALID_VECTOR"
        );
        assert_eq!(
            code(index.insert_batch(&[5, 6], &[0.0, 0.0, 1.0])),
            "DIMENSION_MISMATCH"
        );
        assert_eq!(
            code(index.search(&[0.0, 0.0], 0).map(|_| ())),
            "INVALID_ARGUMENT"
        );
        let bytes = index.to_bytes().unwrap();
        for at in [0, 20, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert_eq!(
                error_code(&err(Index::from_bytes(&damaged))),
                "CORRUPTED",
                "byte {at}"
            );
        }
        assert_eq!(
            error_code(&err(Index::from_bytes(&bytes[..bytes.len() - 3]))),
            "CORRUPTED"
        );
        assert_eq!(
            error_code(&err(Index::builder().dimensions(0).build())),
            "INVALID_ARGUMENT"
        );
        assert_eq!(
            error_code(&err(Index::builder().dimensions(4).m(1).build())),
            "INVALID_ARGUMENT"
        );
        assert_eq!(
            error_code(&err(Index::builder()
                .dimensions(4)
                .metric(Metric::Dot)
                .quantization(Quantization::U8)
                .build())),
            "INVALID_ARGUMENT"
        );
    }
}
