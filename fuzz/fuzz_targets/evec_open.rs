//! Arbitrary bytes opened as an `.evec` file and as an index, every way there is: the storage
//! verifier on bytes and through a backend (which must agree), `EvecFile::from_bytes`,
//! `Index::from_bytes`, `Index::open_in` on a simulated directory (the journal path, which also
//! reads `LOG_STATE` and creates a log) and `Index::open_read_only` on a real file (where a
//! quantized index reads its rows from the file). Never a panic, never an unbounded allocation (run with
//! `-malloc_limit_mb`); whatever opens must list consistent contents, answer searches with live
//! ids only and save to bytes that open to the same contents.
#![no_main]

#[path = "../common.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use edgevec::Index;
use edgevec_storage::{
    CrashDir, Durability, EvecFile, MemBackend, SectionKind, journal, verify, verify_bytes,
};
use libfuzzer_sys::fuzz_target;

/// The scratch file for the opens from a real file (one per process, removed after each use).
fn scratch_file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let d = std::env::temp_dir().join("edgevec-fuzz-evec-open");
        std::fs::create_dir_all(&d).expect("temp dir");
        d.join(format!("idx-{}.evec", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    // The storage layer: both verifiers report the same result, and an opened file hands out
    // exactly the sections the summary lists.
    let summary = verify_bytes(data);
    let via_backend = verify(&MemBackend::from_vec(data.to_vec()));
    match (&summary, &via_backend) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("verify_bytes {summary:?} but verify {via_backend:?}"),
    }
    let file = EvecFile::from_bytes(data);
    assert_eq!(file.is_ok(), summary.is_ok());
    if let (Ok(file), Ok(summary)) = (&file, &summary) {
        assert_eq!(file.summary(), summary);
        assert_eq!(file.as_bytes(), Some(data));
        for (i, info) in file.sections().iter().enumerate() {
            let p = file.section(i).expect("listed section");
            assert_eq!(p.len() as u64, info.length);
            assert_eq!(edgevec_storage::crc32(p), info.crc);
        }
        if let Ok(rows) = file.f32s(SectionKind::F32_ROWS) {
            assert_eq!(
                rows.len() * 4,
                file.payload(SectionKind::F32_ROWS).unwrap().len()
            );
        }
        let _ = journal::log_state(file);
    }

    // The facade from bytes.
    let from_bytes = Index::from_bytes(data);
    let opened = match &from_bytes {
        Ok(index) => {
            assert!(summary.is_ok(), "an index opened from unverifiable bytes");
            Some(common::check_sane(index))
        }
        Err(e) => {
            let _ = e.to_string();
            None
        }
    };
    if summary.is_err() {
        return;
    }

    // The journal path: the same bytes as a snapshot with no log beside it. The snapshot loads
    // as from_bytes does, so it opens exactly when from_bytes did (or fails on LOG_STATE).
    let dir = CrashDir::with_files(BTreeMap::from([("idx.evec".to_owned(), data.to_vec())]));
    match Index::open_in(Box::new(dir.clone()), "idx.evec", Durability::EveryOp) {
        Ok(index) => {
            let c = common::check_sane(&index);
            assert_eq!(Some(&c), opened.as_ref(), "open_in and from_bytes disagree");
            let report = index.recovery_report().expect("opened from a journal");
            assert!(report.log_created);
            assert_eq!(report.records_replayed, 0);
        }
        Err(_) => assert!(
            opened.is_none() || journal::log_state(file.as_ref().unwrap()).is_err(),
            "from_bytes opened what open_in refused"
        ),
    }

    // The real-file path (a quantized index then reads its rows from the file).
    let path = scratch_file();
    std::fs::write(path, data).expect("write the scratch file");
    let read_only = Index::open_read_only(path);
    let _ = std::fs::remove_file(path);
    match read_only {
        Ok(index) => {
            let c = common::check_sane(&index);
            assert_eq!(
                Some(&c),
                opened.as_ref(),
                "open_read_only and from_bytes disagree"
            );
        }
        Err(_) => assert!(
            opened.is_none() || journal::log_state(file.as_ref().unwrap()).is_err(),
            "from_bytes opened what open_read_only refused"
        ),
    }
});
