//! Integration tests of the `.evec` format: one suite run against every backend, corruption
//! and truncation sweeps, crash simulation, and the committed fixture of each format version.

mod backends;
mod corruption;
mod crash;
mod fixtures;
mod fuzz_regressions;
mod journal;

use edgevec_storage::{Payload, Section, SectionKind};

/// An owned section, so tests can build lists and borrow them as [`Section`]s.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Owned {
    Bytes(SectionKind, Vec<u8>),
    F32(SectionKind, Vec<f32>),
}

impl Owned {
    pub(crate) fn section(&self) -> Section<'_> {
        match self {
            Owned::Bytes(kind, b) => Section::bytes(*kind, b),
            Owned::F32(kind, v) => Section::f32(*kind, v),
        }
    }

    pub(crate) fn kind(&self) -> SectionKind {
        match self {
            Owned::Bytes(kind, _) | Owned::F32(kind, _) => *kind,
        }
    }

    /// The payload as stored: little-endian bytes.
    pub(crate) fn stored_bytes(&self) -> Vec<u8> {
        match self.section().payload {
            Payload::Bytes(b) => b.to_vec(),
            Payload::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            _ => unreachable!("the tests build bytes and f32 sections only"),
        }
    }
}

pub(crate) fn sections(owned: &[Owned]) -> Vec<Section<'_>> {
    owned.iter().map(Owned::section).collect()
}

/// A small file with every registered kind, odd lengths, an empty payload and an unknown kind.
pub(crate) fn small_sections() -> Vec<Owned> {
    vec![
        Owned::Bytes(SectionKind::PARAMS, b"dim=3;metric=l2".to_vec()),
        Owned::F32(
            SectionKind::F32_ROWS,
            vec![1.0, -2.5, 3.25, 0.0, f32::MIN_POSITIVE, 1e30],
        ),
        Owned::Bytes(SectionKind::CODES, vec![0xAB; 5]),
        Owned::Bytes(SectionKind::CODEC_PARAMS, Vec::new()),
        Owned::Bytes(SectionKind::GRAPH_ADJACENCY, (0..=40u8).collect()),
        Owned::Bytes(SectionKind::ID_MAP, 7u64.to_le_bytes().to_vec()),
        Owned::Bytes(SectionKind::TOMBSTONES, vec![1]),
        Owned::Bytes(SectionKind(1000), b"from a later minor".to_vec()),
    ]
}

/// The bytes `write_file` produces for `owned`.
pub(crate) fn file_bytes(owned: &[Owned]) -> Vec<u8> {
    let mut backend = edgevec_storage::MemBackend::new();
    edgevec_storage::write_file(&mut backend, &sections(owned)).expect("write");
    backend.into_vec()
}

/// Checks that `file` holds exactly `owned`, in order, with the format's alignment.
pub(crate) fn assert_holds(file: &edgevec_storage::EvecFile, owned: &[Owned]) {
    assert_eq!(file.sections().len(), owned.len());
    for (i, (info, want)) in file.sections().iter().zip(owned).enumerate() {
        assert_eq!(info.kind, want.kind(), "section {i}");
        assert_eq!(
            file.section(i).expect("section"),
            want.stored_bytes().as_slice(),
            "section {i}"
        );
        assert_eq!(
            info.offset % u64::from(info.kind.alignment()),
            0,
            "section {i} alignment"
        );
        assert_eq!(info.alignment, info.kind.alignment());
    }
    assert!(file.section(owned.len()).is_none());
    for (i, want) in owned.iter().enumerate() {
        if let Owned::F32(_, values) = want {
            let got = edgevec_storage::f32s_from_le_bytes(file.section(i).expect("section"));
            // Borrowed in place: the in-memory buffer keeps the file's 64-byte alignment.
            #[cfg(target_endian = "little")]
            assert!(matches!(got, std::borrow::Cow::Borrowed(_)));
            let same_bits = got
                .iter()
                .zip(values)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(got.len() == values.len() && same_bits, "section {i}");
        }
    }
}
