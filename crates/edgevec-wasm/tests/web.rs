//! wasm-bindgen tests of the package's Rust layer and of the facade on wasm32: run in Node by
//! `cargo xtask wasm-test`, and in headless Chromium with `WASM_BINDGEN_USE_BROWSER=1`.
//!
//! They check what only a wasm32 build can show: that nothing the package reaches panics
//! (a panic would be an `unreachable` trap), that errors arrive as JavaScript `Error` objects
//! with a `code`, that compaction and quantized builds run without threads, and that the
//! journal (write-ahead log in memory) and file APIs fail politely or work.
#![cfg(target_arch = "wasm32")]

use edgevec::storage::CrashDir;
use edgevec::{Index, Metric, Quantization};
use edgevec_wasm::{IdFilter, RawIndex, simd_backend};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

#[wasm_bindgen(inline_js = "
export function evenOnly() { return (id) => id % 2n === 0n; }
export function throwing() { return (id) => { throw new RangeError('filter says no ' + id); }; }
")]
extern "C" {
    fn evenOnly() -> IdFilter;
    fn throwing() -> IdFilter;
}

#[wasm_bindgen]
extern "C" {
    type ErrorLike;
    #[wasm_bindgen(method, getter)]
    fn name(this: &ErrorLike) -> String;
    #[wasm_bindgen(method, getter)]
    fn code(this: &ErrorLike) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn message(this: &ErrorLike) -> String;
}

/// (name, code, message) of a thrown value.
fn parts(e: JsValue) -> (String, Option<String>, String) {
    let e: ErrorLike = e.unchecked_into();
    (e.name(), e.code().as_string(), e.message())
}

fn code_of<T>(r: Result<T, JsValue>) -> String {
    let (name, code, message) = parts(r.err().expect("must fail"));
    assert_eq!(name, "EdgeVecError", "{message}");
    assert!(!message.is_empty());
    code.expect("a code")
}

/// Deterministic pseudo-random rows in [-1, 1).
fn rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n * dim)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn raw(dim: usize, metric: &str, quantization: &str) -> RawIndex {
    RawIndex::new(
        dim as f64,
        metric,
        quantization,
        Some(8.0),
        Some(64.0),
        None,
        Some(7.0),
        Some(64.0),
        None,
    )
    .unwrap_or_else(|e| panic!("{:?}", parts(e)))
}

#[wasm_bindgen_test]
fn kernels_are_simd128() {
    assert_eq!(simd_backend(), "simd128");
}

#[wasm_bindgen_test]
fn every_quantization_builds_searches_compacts_and_round_trips() {
    let (n, dim) = (300, 16);
    let data = rows(n, dim, 1);
    let ids: Vec<u64> = (0..n as u64).map(|i| i * 3 + (1 << 40)).collect();
    for q in ["none", "u8", "i8", "binary"] {
        for metric in ["l2", "cosine"] {
            let mut db = raw(dim, metric, q);
            db.insert_batch(&ids[..200], &data[..200 * dim]).unwrap();
            for i in 200..n {
                db.insert(ids[i], &data[i * dim..(i + 1) * dim]).unwrap();
            }
            assert_eq!(db.len(), n);
            let query = &data[5 * dim..6 * dim];
            let hits = db.search(query, 10.0, Some(64.0), None).unwrap();
            let dists = db.take_distances();
            assert_eq!(hits.len(), 10);
            assert_eq!(dists.len(), 10);
            assert_eq!(
                hits[0], ids[5],
                "{q} {metric}: the query's own row comes first"
            );
            assert!(dists.windows(2).all(|w| w[0] <= w[1]), "sorted");

            for id in &ids[..50] {
                assert!(db.delete(*id).unwrap());
            }
            assert!(!db.delete(ids[0]).unwrap());
            assert_eq!(db.deleted_len(), 50);
            let hits = db.search(query, 10.0, None, None).unwrap();
            assert!(hits.iter().all(|h| !ids[..50].contains(h)));
            assert_eq!(db.compact().unwrap(), 50);
            assert_eq!((db.len(), db.deleted_len()), (n - 50, 0));

            let bytes = db.to_bytes().unwrap();
            let back = RawIndex::from_bytes(&bytes).unwrap();
            assert_eq!(back.len(), n - 50);
            assert_eq!(back.quantization(), q);
            assert_eq!(back.metric(), metric);
            let a = db.search(query, 10.0, Some(64.0), None).unwrap();
            let b = back.search(query, 10.0, Some(64.0), None).unwrap();
            assert_eq!(a, b, "{q} {metric}: same answers after a round trip");
            assert_eq!(db.take_distances(), back.take_distances());
            assert_eq!(db.take_distances(), Vec::<f32>::new(), "taken once");
        }
    }
}

#[wasm_bindgen_test]
fn filters_are_called_and_their_exceptions_rethrown() {
    let dim = 8;
    let data = rows(100, dim, 2);
    let ids: Vec<u64> = (0..100).collect();
    let mut db = raw(dim, "l2", "none");
    db.insert_batch(&ids, &data).unwrap();
    let hits = db
        .search(&data[..dim], 10.0, None, Some(evenOnly()))
        .unwrap();
    assert_eq!(hits.len(), 10);
    assert!(hits.iter().all(|id| id % 2 == 0));
    let err = db
        .search(&data[..dim], 10.0, None, Some(throwing()))
        .unwrap_err();
    let (name, _, message) = parts(err);
    assert_eq!(name, "RangeError");
    assert!(message.starts_with("filter says no"));
    // The index is still usable.
    assert_eq!(db.search(&data[..dim], 3.0, None, None).unwrap().len(), 3);
}

#[wasm_bindgen_test]
fn bad_input_is_a_typed_error() {
    let mut db = raw(4, "cosine", "none");
    assert_eq!(code_of(db.insert(1, &[1.0, 2.0])), "DIMENSION_MISMATCH");
    assert_eq!(
        code_of(db.insert(1, &[1.0, f32::NAN, 0.0, 0.0])),
        "INVALID_VECTOR"
    );
    assert_eq!(code_of(db.insert(1, &[0.0; 4])), "INVALID_VECTOR");
    db.insert(1, &[1.0, 0.0, 0.0, 0.0]).unwrap();
    assert_eq!(code_of(db.insert(1, &[0.0, 1.0, 0.0, 0.0])), "DUPLICATE_ID");
    assert_eq!(
        code_of(db.insert_batch(&[2, 3], &[1.0; 7])),
        "DIMENSION_MISMATCH"
    );
    let q = [1.0, 0.0, 0.0, 0.0];
    assert_eq!(code_of(db.search(&q, 0.0, None, None)), "INVALID_ARGUMENT");
    assert_eq!(code_of(db.search(&q, -1.0, None, None)), "INVALID_ARGUMENT");
    assert_eq!(code_of(db.search(&q, 1.5, None, None)), "INVALID_ARGUMENT");
    assert_eq!(
        code_of(db.search(&q, 1.0, Some(f64::NAN), None)),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code_of(db.search(&[1.0], 1.0, None, None)),
        "DIMENSION_MISMATCH"
    );
    // Huge k and ef are bounded by the index's size, not allocated.
    assert_eq!(db.search(&q, 9e15, Some(9e15), None).unwrap(), vec![1]);

    let new = |dim: f64, metric: &str, q: &str, m: Option<f64>| {
        RawIndex::new(dim, metric, q, m, None, None, None, None, None)
    };
    assert_eq!(code_of(new(0.0, "l2", "none", None)), "INVALID_ARGUMENT");
    assert_eq!(code_of(new(-3.0, "l2", "none", None)), "INVALID_ARGUMENT");
    assert_eq!(code_of(new(1e12, "l2", "none", None)), "INVALID_ARGUMENT");
    assert_eq!(
        code_of(new(8.0, "hamming", "none", None)),
        "INVALID_ARGUMENT"
    );
    assert_eq!(code_of(new(8.0, "l2", "u4", None)), "INVALID_ARGUMENT");
    assert_eq!(
        code_of(new(8.0, "l2", "none", Some(1.0))),
        "INVALID_ARGUMENT"
    );
    assert_eq!(code_of(new(8.0, "dot", "u8", None)), "INVALID_ARGUMENT");
}

#[wasm_bindgen_test]
fn damaged_bytes_are_a_typed_error() {
    let mut db = raw(8, "l2", "u8");
    let data = rows(100, 8, 3);
    db.insert_batch(&(0..100).collect::<Vec<u64>>(), &data)
        .unwrap();
    let bytes = db.to_bytes().unwrap();
    assert_eq!(code_of(RawIndex::from_bytes(&[])), "CORRUPTED");
    assert_eq!(
        code_of(RawIndex::from_bytes(&bytes[..bytes.len() / 2])),
        "CORRUPTED"
    );
    for at in (0..bytes.len()).step_by(97) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x40;
        let code = code_of(RawIndex::from_bytes(&damaged));
        assert!(
            code == "CORRUPTED" || code == "UNSUPPORTED_VERSION",
            "byte {at}: {code}"
        );
    }
}

#[wasm_bindgen_test]
fn journal_and_files_do_not_panic_on_wasm32() {
    // A write-ahead log in memory: creating it draws a lineage id (no process id or clock
    // here), and every insert is logged.
    let mut index = Index::builder()
        .dimensions(3)
        .metric(Metric::L2)
        .quantization(Quantization::None)
        .create_in(Box::new(CrashDir::new()), "mem.evec")
        .unwrap();
    index.insert(1, &[1.0, 2.0, 3.0]).unwrap();
    index.checkpoint().unwrap();
    assert_eq!(index.len(), 1);
    // No file system: errors, not traps.
    assert!(Index::open("/nowhere/x.evec").is_err());
    assert!(Index::open_read_only("x.evec").is_err());
    assert!(index.save("x.evec").is_err());
    assert!(edgevec::storage::EvecFile::open_mmap("x.evec").is_err());
}
