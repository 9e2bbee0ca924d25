//! Backward compatibility: the committed fixture of every released format version opens, with
//! the contents it was written with. Keep these tests (and the files) in every later version.
//!
//! To regenerate the fixture of the *current* version after a deliberate format change (which
//! must also bump the version and add a new fixture, never replace an old one):
//! `EDGEVEC_REGENERATE_FIXTURES=1 cargo test -p edgevec-storage --test storage fixtures`.

use std::path::PathBuf;

use edgevec_storage::{EvecFile, FormatVersion, SectionKind, verify_bytes};

use crate::{Owned, file_bytes};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The sections of `v1.0-small.evec`: one of every registered kind, two rows of dimension 3.
fn v1_0_sections() -> Vec<Owned> {
    vec![
        Owned::Bytes(SectionKind::PARAMS, b"dim=3;metric=l2;m=16".to_vec()),
        Owned::F32(
            SectionKind::F32_ROWS,
            vec![0.0, 1.0, -1.5, 2.25, 1e-3, f32::MAX],
        ),
        Owned::Bytes(SectionKind::CODES, vec![0, 255, 128, 1, 2, 3]),
        Owned::Bytes(SectionKind::CODEC_PARAMS, 0.5f32.to_le_bytes().to_vec()),
        Owned::Bytes(
            SectionKind::GRAPH_ADJACENCY,
            [1u32, 1, 1, 0]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
        Owned::Bytes(
            SectionKind::ID_MAP,
            [10u64, 20].iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        Owned::Bytes(SectionKind::TOMBSTONES, vec![0b10]),
    ]
}

#[test]
fn fixture_v1_0_opens_with_its_contents() {
    let bytes = std::fs::read(fixture_path("v1.0-small.evec")).expect("committed fixture");
    let file = EvecFile::from_bytes(&bytes).unwrap();
    assert_eq!(file.version(), FormatVersion { major: 1, minor: 0 });
    assert_eq!(file.summary().len, bytes.len() as u64);
    // The contents, spelled out rather than taken from the generator above.
    let kinds: Vec<u32> = file.sections().iter().map(|s| s.kind.0).collect();
    assert_eq!(kinds, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(
        file.payload(SectionKind::PARAMS).unwrap(),
        b"dim=3;metric=l2;m=16"
    );
    assert_eq!(
        &*file.f32s(SectionKind::F32_ROWS).unwrap(),
        &[0.0, 1.0, -1.5, 2.25, 1e-3, f32::MAX]
    );
    assert_eq!(file.sections()[1].offset % 64, 0);
    assert_eq!(
        file.payload(SectionKind::CODES).unwrap(),
        &[0, 255, 128, 1, 2, 3]
    );
    assert_eq!(
        file.payload(SectionKind::CODEC_PARAMS).unwrap(),
        &0.5f32.to_le_bytes()
    );
    assert_eq!(
        file.payload(SectionKind::GRAPH_ADJACENCY).unwrap().len(),
        16
    );
    assert_eq!(file.payload(SectionKind::ID_MAP).unwrap()[8], 20);
    assert_eq!(file.payload(SectionKind::TOMBSTONES).unwrap(), &[0b10]);
    verify_bytes(&bytes).unwrap();
}

/// The sections of `v1.1-small.evec`: those of 1.0 plus the journal's `LOG_STATE` (new in
/// 1.1).
fn v1_1_sections() -> Vec<Owned> {
    let mut s = v1_0_sections();
    s.push(Owned::Bytes(
        SectionKind::LOG_STATE,
        edgevec_storage::journal::log_state_bytes(0x0123_4567_89AB_CDEF, 42).to_vec(),
    ));
    s
}

#[test]
fn fixture_v1_1_opens_with_its_contents() {
    let bytes = std::fs::read(fixture_path("v1.1-small.evec")).expect("committed fixture");
    let file = EvecFile::from_bytes(&bytes).unwrap();
    assert_eq!(file.version(), FormatVersion { major: 1, minor: 1 });
    let kinds: Vec<u32> = file.sections().iter().map(|s| s.kind.0).collect();
    assert_eq!(kinds, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        edgevec_storage::journal::log_state(&file).unwrap(),
        (0x0123_4567_89AB_CDEF, 42)
    );
    assert_eq!(
        &*file.f32s(SectionKind::F32_ROWS).unwrap(),
        &[0.0, 1.0, -1.5, 2.25, 1e-3, f32::MAX]
    );
    // A 1.0 file has no LOG_STATE: lineage 0, nothing logged.
    let old = std::fs::read(fixture_path("v1.0-small.evec")).expect("committed fixture");
    let old = EvecFile::from_bytes(&old).unwrap();
    assert_eq!(edgevec_storage::journal::log_state(&old).unwrap(), (0, 0));
    verify_bytes(&bytes).unwrap();
}

/// The current writer still produces the current version's fixture byte for byte (the writer
/// is deterministic). When the format version changes, this test moves to the new fixture and
/// the old fixture keeps only the test above.
#[test]
fn writer_reproduces_the_current_fixture() {
    let path = fixture_path("v1.1-small.evec");
    let written = file_bytes(&v1_1_sections());
    if std::env::var_os("EDGEVEC_REGENERATE_FIXTURES").is_some() {
        std::fs::write(&path, &written).unwrap();
    }
    let committed = std::fs::read(&path).expect("committed fixture");
    assert_eq!(
        written,
        committed,
        "the writer no longer produces {}",
        path.display()
    );
}
