//! Save and open: identical answers after a round trip for every kind of index, and damaged
//! files (checksums or contents) are typed errors, never panics.

use edgevec::{Error, Index, Metric, Quantization};
use edgevec_testdata::clustered;

const DIM: usize = 12;

fn index(
    metric: Metric,
    quantization: Quantization,
    n: usize,
    train_size: usize,
) -> (Index, Vec<f32>) {
    let mut rows = clustered(5, n + 20, DIM, 6, 1.0, 4.0);
    let queries = rows.split_off(n * DIM);
    let mut index = Index::builder()
        .dimensions(DIM)
        .metric(metric)
        .quantization(quantization)
        .train_size(train_size)
        .seed(11)
        .threads(1)
        .build()
        .unwrap();
    let ids: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
    index.insert_batch(&ids, &rows).unwrap();
    for id in ids.iter().step_by(7) {
        index.delete(*id).unwrap();
    }
    (index, queries)
}

fn same_answers(a: &Index, b: &Index, queries: &[f32]) {
    assert_eq!(a.len(), b.len());
    assert_eq!(a.deleted_len(), b.deleted_len());
    assert_eq!(a.stats().graph_built, b.stats().graph_built);
    for q in queries.chunks_exact(DIM) {
        assert_eq!(a.search(q, 10).unwrap(), b.search(q, 10).unwrap());
    }
}

#[test]
fn every_kind_of_index_round_trips_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (Metric::L2, Quantization::None, 500),
        (Metric::Cosine, Quantization::None, 500),
        (Metric::Dot, Quantization::None, 500),
        (Metric::L2, Quantization::U8, 500),
        (Metric::Cosine, Quantization::I8, 500),
        (Metric::Dot, Quantization::I8, 500),
        (Metric::L2, Quantization::Binary, 500),
        (Metric::L2, Quantization::U8, 5_000), // still collecting: not trained yet
    ];
    for (i, (metric, quantization, train_size)) in cases.into_iter().enumerate() {
        let (mut original, queries) = index(metric, quantization, 400, train_size);
        let path = dir.path().join(format!("{i}.evec"));
        let size = original.save(&path).unwrap();
        assert_eq!(size, std::fs::metadata(&path).unwrap().len());
        let mut reopened = Index::open(&path).unwrap();
        same_answers(&original, &reopened, &queries);
        assert_eq!(
            Index::from_bytes(&original.to_bytes().unwrap())
                .unwrap()
                .len(),
            original.len()
        );
        // Both go on the same way after reopening.
        let extra = vec![0.25f32; DIM];
        original.insert(99_999, &extra).unwrap();
        reopened.insert(99_999, &extra).unwrap();
        original.compact().unwrap();
        reopened.compact().unwrap();
        same_answers(&original, &reopened, &queries);
        // Saving to its own file is a checkpoint; a detached index saves over a file too.
        reopened.save(&path).unwrap();
        same_answers(&reopened, &Index::open_read_only(&path).unwrap(), &queries);
        drop(reopened);
        original.save(&path).unwrap();
        same_answers(&original, &Index::open(&path).unwrap(), &queries);
    }
}

/// A fractional rescoring factor is kept by the file (to three decimals) and used after opening.
#[test]
fn a_fractional_oversampling_factor_survives_save_and_open() {
    let (rows, queries) = (clustered(5, 420, DIM, 6, 1.0, 4.0), 20);
    let (base, qs) = rows.split_at((420 - queries) * DIM);
    let mut index = Index::builder()
        .dimensions(DIM)
        .quantization(Quantization::U8)
        .train_size(100)
        .oversample(1.3334)
        .seed(11)
        .threads(1)
        .build()
        .unwrap();
    assert_eq!(index.oversample(), 1.333);
    let ids: Vec<u64> = (0..(420 - queries) as u64).collect();
    index.insert_batch(&ids, base).unwrap();
    let reopened = Index::from_bytes(&index.to_bytes().unwrap()).unwrap();
    assert_eq!(reopened.oversample(), 1.333);
    same_answers(&index, &reopened, qs);
}

/// `tests/fixtures/params-v1-u8.evec` was written by `edgevec build` at 824d38c, the last build
/// whose PARAMS layout (1) kept the rescoring factor as a whole number: 1,100 vectors of 4
/// dimensions in 5 clusters, `--metric l2 --m 4 --ef-construction 40 --quantization u8
/// --threads 1 --seed 5`. It still opens, with its factor of 2, and answers.
#[test]
fn an_index_saved_with_params_layout_1_opens() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/params-v1-u8.evec"
    );
    let index = Index::from_bytes(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(index.oversample(), 2.0);
    assert_eq!(index.quantization(), Quantization::U8);
    assert_eq!((index.len(), index.dimensions()), (1100, 4));
    let rows: Vec<Vec<f32>> = (0..1100).map(|id| index.get(id).unwrap()).collect();
    let mut found = 0;
    for (id, row) in rows.iter().enumerate() {
        let hits = index.search(row, 3).unwrap();
        assert_eq!((hits[0].id, hits[0].distance), (id as u64, 0.0));
        let mut exact: Vec<(f32, usize)> = rows
            .iter()
            .enumerate()
            .map(|(j, r)| (r.iter().zip(row).map(|(a, b)| (a - b) * (a - b)).sum(), j))
            .collect();
        exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        found += hits
            .iter()
            .filter(|h| exact[..3].iter().any(|e| e.1 as u64 == h.id))
            .count();
    }
    assert!(found as f64 >= 0.99 * 3300.0, "{found} of 3300");
}

#[test]
fn damaged_files_are_typed_errors() {
    let (idx, _) = index(Metric::L2, Quantization::U8, 120, 50);
    let bytes = idx.to_bytes().unwrap();
    // Every truncation.
    for len in 0..bytes.len() {
        assert!(
            Index::from_bytes(&bytes[..len]).is_err(),
            "truncated to {len}"
        );
    }
    // Bit flips spread over the whole file.
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x10;
        assert!(Index::from_bytes(&b).is_err(), "flip at byte {i}");
    }
    // A missing file.
    let e = Index::open("/nonexistent/dir/x.evec").unwrap_err();
    assert!(matches!(e, Error::Storage(_)), "{e}");
}

#[test]
fn consistent_checksums_over_inconsistent_contents_are_refused() {
    use edgevec::storage::{MemBackend, Section, SectionKind, write_file};
    let (idx, _) = index(Metric::L2, Quantization::None, 60, 50);
    let file = edgevec::storage::EvecFile::from_bytes(&idx.to_bytes().unwrap()).unwrap();
    let payload = |k| file.payload(k).unwrap().to_vec();
    let rows = file.f32s(SectionKind::F32_ROWS).unwrap().into_owned();
    let rebuild = |params: &[u8], ids: &[u8], graph: &[u8], tomb: &[u8], rows: &[f32]| {
        let mut mem = MemBackend::new();
        write_file(
            &mut mem,
            &[
                Section::bytes(SectionKind::PARAMS, params),
                Section::f32(SectionKind::F32_ROWS, rows),
                Section::bytes(SectionKind::ID_MAP, ids),
                Section::bytes(SectionKind::GRAPH_ADJACENCY, graph),
                Section::bytes(SectionKind::TOMBSTONES, tomb),
            ],
        )
        .unwrap();
        Index::from_bytes(&mem.into_vec())
    };
    let (params, ids, graph, tomb) = (
        payload(SectionKind::PARAMS),
        payload(SectionKind::ID_MAP),
        payload(SectionKind::GRAPH_ADJACENCY),
        payload(SectionKind::TOMBSTONES),
    );
    assert!(rebuild(&params, &ids, &graph, &tomb, &rows).is_ok());
    let mut p = params.clone();
    p[8] = 9; // metric tag
    assert!(matches!(
        rebuild(&p, &ids, &graph, &tomb, &rows),
        Err(Error::Format { .. })
    ));
    let mut p = params.clone();
    p[4..8].copy_from_slice(&7u32.to_le_bytes()); // dimensions
    assert!(rebuild(&p, &ids, &graph, &tomb, &rows).is_err());
    assert!(rebuild(&params, &ids[..ids.len() - 8], &graph, &tomb, &rows).is_err());
    let mut g = graph.clone();
    let last = g.len() - 1;
    g[last] = 0xff; // a neighbour slot far out of range
    assert!(matches!(
        rebuild(&params, &ids, &g, &tomb, &rows),
        Err(Error::Graph(_))
    ));
    assert!(rebuild(&params, &ids, &graph[..graph.len() - 4], &tomb, &rows).is_err());
    let mut t = tomb.clone();
    *t.last_mut().unwrap() |= 0x80; // a tombstone bit past the last vector
    assert!(matches!(
        rebuild(&params, &ids, &graph, &t, &rows),
        Err(Error::Format { .. })
    ));
    let mut r = rows.clone();
    r[3] = f32::NAN;
    assert!(rebuild(&params, &ids, &graph, &tomb, &r).is_err());
}

#[test]
fn quantized_indexes_read_rows_from_the_file_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.evec");
    let (mut original, queries) = index(Metric::L2, Quantization::U8, 600, 50);
    original.save(&path).unwrap();
    let mut opened = Index::open(&path).unwrap();
    let s = opened.stats();
    assert_eq!(s.vector_bytes, 0, "{s:?}");
    assert_eq!(s.file_vector_bytes, 600 * DIM * 4);
    same_answers(&original, &opened, &queries);
    // New rows go to memory after the ones in the file; both are rescored.
    let extra = vec![0.5f32; DIM];
    original.insert(123_456, &extra).unwrap();
    opened.insert(123_456, &extra).unwrap();
    assert!(opened.stats().vector_bytes >= DIM * 4);
    same_answers(&original, &opened, &queries);
    // Compaction copies the surviving rows into memory; a checkpoint and reopen leaves them
    // in the file again.
    original.compact().unwrap();
    opened.compact().unwrap();
    assert_eq!(opened.stats().file_vector_bytes, 0);
    same_answers(&original, &opened, &queries);
    opened.checkpoint().unwrap();
    drop(opened);
    let again = Index::open(&path).unwrap();
    assert_eq!(again.stats().vector_bytes, 0);
    same_answers(&original, &again, &queries);
}

#[test]
fn load_rows_moves_the_rows_into_memory_and_keeps_the_answers() {
    for q in [Quantization::U8, Quantization::I8, Quantization::Binary] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.evec");
        let (mut original, queries) = index(Metric::L2, q, 600, 50);
        original.save(&path).unwrap();
        let mut opened = Index::open(&path).unwrap();
        // A row added after opening sits behind the file's rows and must stay in its slot.
        let extra = vec![0.25f32; DIM];
        original.insert(777_777, &extra).unwrap();
        opened.insert(777_777, &extra).unwrap();
        opened.load_rows().unwrap();
        let s = opened.stats();
        assert_eq!(s.file_vector_bytes, 0, "{q:?} {s:?}");
        assert!(s.vector_bytes >= 601 * DIM * 4, "{q:?} {s:?}");
        same_answers(&original, &opened, &queries);
        // Twice is a no-op; a checkpoint writes the rows and a reopen defers them again.
        opened.load_rows().unwrap();
        same_answers(&original, &opened, &queries);
        opened.checkpoint().unwrap();
        drop(opened);
        let again = Index::open(&path).unwrap();
        assert_eq!(again.stats().vector_bytes, 0, "{q:?}");
        same_answers(&original, &again, &queries);
    }
    // An f32 index has its rows in memory already.
    let (mut f32_index, queries) = index(Metric::L2, Quantization::None, 100, 50);
    f32_index.load_rows().unwrap();
    assert_eq!(f32_index.search(&queries[..DIM], 3).unwrap().len(), 3);
}
