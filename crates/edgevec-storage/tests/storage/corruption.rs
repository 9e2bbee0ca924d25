//! Every single-byte change and every truncation of a small file is detected; version policy;
//! arbitrary bytes never panic.

use edgevec_storage::FORMAT_VERSION;
use edgevec_storage::format::{self, H_CRC, H_MAJOR, H_MINOR};
use edgevec_storage::{
    Defect, EvecFile, FormatVersion, MemBackend, Region, StorageError, verify, verify_bytes,
};
use proptest::prelude::*;

use crate::{assert_holds, file_bytes, small_sections};

/// Opening must fail with a format error: never succeed, never report I/O.
fn assert_rejected(bytes: &[u8], what: &str) -> StorageError {
    let err = match verify_bytes(bytes) {
        Ok(_) => panic!("{what}: accepted"),
        Err(e) => e,
    };
    assert!(
        matches!(
            err,
            StorageError::BadMagic { .. }
                | StorageError::UnsupportedVersion { .. }
                | StorageError::Truncated { .. }
                | StorageError::Corrupted { .. }
        ),
        "{what}: {err}"
    );
    // The other two ways in agree.
    assert_eq!(
        EvecFile::from_bytes(bytes).unwrap_err().to_string(),
        err.to_string(),
        "{what}"
    );
    assert_eq!(
        verify(&MemBackend::from_vec(bytes.to_vec()))
            .unwrap_err()
            .to_string(),
        err.to_string()
    );
    err
}

#[test]
fn every_single_byte_change_is_detected() {
    let good = file_bytes(&small_sections());
    let mut counts = [0usize; 4];
    // All eight single-bit flips of every byte, and the all-bits flip.
    let masks = [1u8, 2, 4, 8, 16, 32, 64, 128, 0xFF];
    for at in 0..good.len() {
        for mask in masks {
            let mut bad = good.clone();
            bad[at] ^= mask;
            let err = assert_rejected(&bad, &format!("byte {at} ^ {mask:#04x}"));
            counts[match err {
                StorageError::BadMagic { .. } => 0,
                StorageError::UnsupportedVersion { .. } => 1,
                StorageError::Truncated { .. } => 2,
                _ => 3,
            }] += 1;
        }
    }
    assert_eq!(counts.iter().sum::<usize>(), good.len() * masks.len());
    // The magic and the major version are checked before any CRC.
    assert_eq!(counts[0], 8 * masks.len());
    assert_eq!(counts[1], 2 * masks.len());
}

#[test]
fn corruption_names_the_region() {
    let good = file_bytes(&small_sections());
    let file = EvecFile::from_bytes(&good).unwrap();
    let rows = file.sections()[1];
    let region_of = |at: usize| match assert_rejected(&flip(&good, at), "flip") {
        StorageError::Corrupted {
            section,
            offset,
            defect,
        } => (section, offset, defect),
        other => panic!("{other}"),
    };
    assert!(matches!(
        region_of(12),
        (Region::Header, 60, Defect::ChecksumMismatch { .. })
    ));
    assert!(matches!(
        region_of(64 + 5),
        (Region::SectionTable, 64, Defect::ChecksumMismatch { .. })
    ));
    let (section, offset, _) = region_of(rows.offset as usize + 9);
    assert_eq!(
        section,
        Region::Section {
            index: 1,
            kind: rows.kind
        }
    );
    assert_eq!(offset, rows.offset);
    // Padding between the table and the 64-aligned f32 rows.
    let pad = file.sections()[0].offset as usize + file.sections()[0].length as usize;
    assert_eq!(
        region_of(pad),
        (Region::Padding, pad as u64, Defect::NonZeroPadding)
    );
    let footer = good.len() - format::FOOTER_LEN;
    assert_eq!(region_of(footer).2, Defect::MissingCommitRecord);
    assert!(matches!(
        region_of(footer + 9),
        (Region::Footer, _, Defect::ChecksumMismatch { .. })
    ));
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[at] ^= 0x01;
    v
}

#[test]
fn every_truncation_is_detected_as_truncated() {
    let good = file_bytes(&small_sections());
    for len in 0..good.len() {
        match assert_rejected(&good[..len], &format!("truncated to {len}")) {
            StorageError::Truncated { expected, found } => {
                assert_eq!(found, len as u64);
                assert!(expected > found);
            }
            other => panic!("truncated to {len}: {other}"),
        }
    }
    // Bytes after the footer are not ignored either.
    let mut long = good.clone();
    long.push(0);
    let err = assert_rejected(&long, "extended");
    assert!(matches!(
        err,
        StorageError::Corrupted {
            defect: Defect::TrailingBytes { .. },
            ..
        }
    ));
}

#[test]
fn text_mode_mangling_is_bad_magic() {
    let good = file_bytes(&small_sections());
    // CR-LF -> LF and LF -> CR-LF conversions both break the magic.
    let crlf_to_lf: Vec<u8> = String::from_utf8_lossy(&good)
        .replace("\r\n", "\n")
        .into_bytes();
    assert!(matches!(
        assert_rejected(&crlf_to_lf, "crlf"),
        StorageError::BadMagic { .. }
    ));
    let mut lf_to_crlf = Vec::new();
    for &b in &good {
        if b == b'\n' {
            lf_to_crlf.push(b'\r');
        }
        lf_to_crlf.push(b);
    }
    assert!(matches!(
        assert_rejected(&lf_to_crlf, "lf"),
        StorageError::BadMagic { .. }
    ));
    let seven_bit: Vec<u8> = good.iter().map(|b| b & 0x7F).collect();
    assert!(matches!(
        assert_rejected(&seven_bit, "7-bit"),
        StorageError::BadMagic { .. }
    ));
    assert!(matches!(
        assert_rejected(b"hello world, not an index", "text"),
        StorageError::BadMagic { .. }
    ));
}

/// Rewrites the version fields and fixes every checksum that depends on them.
fn with_version(good: &[u8], major: u16, minor: u16) -> Vec<u8> {
    let mut v = good.to_vec();
    v[H_MAJOR..H_MAJOR + 2].copy_from_slice(&major.to_le_bytes());
    v[H_MINOR..H_MINOR + 2].copy_from_slice(&minor.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&v[..H_CRC]);
    let crc = h.finalize();
    v[H_CRC..H_CRC + 4].copy_from_slice(&crc.to_le_bytes());
    let footer = v.len() - format::FOOTER_LEN;
    v[footer + format::F_HEADER_CRC..footer + format::F_HEADER_CRC + 4]
        .copy_from_slice(&crc.to_le_bytes());
    let f_crc = edgevec_storage::crc32(&v[footer..footer + format::F_CRC]);
    v[footer + format::F_CRC..footer + format::F_CRC + 4].copy_from_slice(&f_crc.to_le_bytes());
    v
}

#[test]
fn version_policy() {
    let owned = small_sections();
    let good = file_bytes(&owned);
    assert_eq!(
        with_version(&good, FORMAT_VERSION.major, FORMAT_VERSION.minor),
        good,
        "the helper recomputes the checksums exactly"
    );
    // Same major, newer minor: opens (minors only add what older readers can skip).
    let newer_minor = EvecFile::from_bytes(&with_version(&good, 1, 7)).unwrap();
    assert_eq!(newer_minor.version(), FormatVersion { major: 1, minor: 7 });
    assert_holds(&newer_minor, &owned);
    // Another major: UnsupportedVersion, whatever the checksums say.
    for major in [0, 2, u16::MAX] {
        let err = assert_rejected(&with_version(&good, major, 0), "major");
        assert!(
            matches!(
                err,
                StorageError::UnsupportedVersion {
                    found: FormatVersion { major: m, minor: 0 },
                    supported: FORMAT_VERSION,
                } if m == major
            ),
            "{err}"
        );
    }
}

#[test]
fn inconsistent_but_checksummed_fields_are_rejected() {
    // A forged file with a valid header CRC but an oversized section count must be rejected
    // without allocating the table it claims.
    let good = file_bytes(&[]);
    let mut v = good.clone();
    v[format::H_SECTION_COUNT..format::H_SECTION_COUNT + 4]
        .copy_from_slice(&u32::MAX.to_le_bytes());
    let crc = edgevec_storage::crc32(&v[..H_CRC]);
    v[H_CRC..H_CRC + 4].copy_from_slice(&crc.to_le_bytes());
    let err = assert_rejected(&v, "huge count");
    assert!(
        matches!(
            err,
            StorageError::Corrupted {
                section: Region::Header,
                ..
            }
        ),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let a = verify_bytes(&bytes).map_err(|e| e.to_string());
        let b = EvecFile::from_bytes(&bytes).map(|f| f.summary().clone()).map_err(|e| e.to_string());
        prop_assert_eq!(a, b);
    }

    /// Arbitrary bytes behind a valid magic and version reach the deeper checks.
    #[test]
    fn arbitrary_bytes_after_the_magic_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut bytes = format::MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0, 0, 0]);
        bytes.extend_from_slice(&tail);
        prop_assert!(verify_bytes(&bytes).is_err());
    }

    /// Any damage to a valid file, of any size and place, is an error; a file that still opens
    /// is byte-for-byte the original.
    #[test]
    fn damaged_files_never_open_to_other_bytes(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let good = file_bytes(&small_sections());
        let mut bad = good.clone();
        for (at, value) in edits {
            let i = at.index(bad.len());
            bad[i] = value;
        }
        if let Some(cut) = cut {
            bad.truncate(cut.index(good.len()));
        }
        match EvecFile::from_bytes(&bad) {
            Ok(file) => prop_assert_eq!(file.as_bytes().unwrap(), good.as_slice()),
            Err(e) => prop_assert!(!matches!(e, StorageError::Io(_)), "{}", e),
        }
    }

    /// Arbitrary section lists round-trip.
    #[test]
    fn arbitrary_sections_round_trip(
        list in proptest::collection::vec((1u32..12, proptest::collection::vec(any::<u8>(), 0..300)), 0..10),
    ) {
        let owned: Vec<crate::Owned> = list
            .into_iter()
            .map(|(kind, mut bytes)| {
                let kind = edgevec_storage::SectionKind(kind);
                if kind == edgevec_storage::SectionKind::F32_ROWS {
                    bytes.truncate(bytes.len() / 4 * 4);
                }
                crate::Owned::Bytes(kind, bytes)
            })
            .collect();
        let bytes = file_bytes(&owned);
        let file = EvecFile::from_bytes(&bytes).unwrap();
        prop_assert_eq!(file.sections().len(), owned.len());
        for (i, o) in owned.iter().enumerate() {
            let want = o.stored_bytes();
            prop_assert_eq!(file.section(i).unwrap(), want.as_slice());
        }
    }
}
