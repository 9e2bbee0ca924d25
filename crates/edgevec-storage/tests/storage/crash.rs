//! Power-cut simulation of in-place writes: every crash image either opens to exactly one of
//! the complete files that were written, or is rejected with a typed error; and once a write
//! has returned (its syncs done), every crash image until the next write opens to it.

use edgevec_storage::{
    CrashBackend, CrashOp, EvecFile, Keep, SectionKind, StorageError, write_file,
};

use crate::{Owned, file_bytes, sections, small_sections};

/// The successive files of the workload.
fn versions() -> Vec<Vec<Owned>> {
    vec![
        small_sections(),
        vec![Owned::Bytes(SectionKind::PARAMS, b"v2".to_vec())],
        vec![
            Owned::F32(
                SectionKind::F32_ROWS,
                (0..24_000).map(|i| i as f32).collect(),
            ),
            Owned::Bytes(SectionKind::TOMBSTONES, vec![0xF0; 33]),
        ],
        vec![],
        small_sections().into_iter().rev().collect(),
    ]
}

/// Byte offsets at which to tear a write of `len` bytes: every byte for small writes, a
/// stride (plus both ends) for large ones.
fn tear_points(len: usize) -> Vec<usize> {
    let step = if len <= 2048 { 1 } else { 23 };
    let mut points: Vec<usize> = (0..len).step_by(step).collect();
    points.push(len.saturating_sub(1));
    points
}

#[test]
fn every_crash_image_opens_to_a_written_file_or_is_rejected() {
    let versions = versions();
    let images_of: Vec<Vec<u8>> = versions.iter().map(|v| file_bytes(v)).collect();

    let mut backend = CrashBackend::new();
    // `committed[k]` = the number of operations after which version k was complete and synced.
    let mut committed = Vec::new();
    for v in &versions {
        write_file(&mut backend, &sections(v)).unwrap();
        committed.push(backend.ops().len());
    }
    let total_ops = backend.ops().len();

    let mut checked = 0usize;
    let mut opened = 0usize;
    let mut check = |cut: usize, image: Vec<u8>| {
        checked += 1;
        // The last version whose write had returned before the cut, if any.
        let last_done = committed.iter().rposition(|&c| c <= cut);
        // Any write in progress at the cut?
        let in_progress =
            committed.iter().any(|&c| c > cut) && last_done.map_or(cut > 0, |k| committed[k] < cut);
        match EvecFile::from_bytes(&image) {
            Ok(file) => {
                opened += 1;
                let which = images_of
                    .iter()
                    .position(|v| v.as_slice() == file.as_bytes().unwrap());
                assert!(
                    which.is_some(),
                    "cut {cut}: opened to bytes that were never a complete file"
                );
                if !in_progress {
                    assert_eq!(
                        which, last_done,
                        "cut {cut}: a returned write must be what opens"
                    );
                }
            }
            Err(err) => {
                assert!(!matches!(err, StorageError::Io(_)), "cut {cut}: {err}");
                assert!(
                    in_progress || last_done.is_none(),
                    "cut {cut}: lost a synced file: {err}"
                );
            }
        }
    };

    for cut in 0..=total_ops {
        let unsynced = backend.unsynced(cut);
        // Nothing unsynced kept, everything kept.
        check(cut, backend.crash_image(cut, |_, _| Keep::Drop));
        check(cut, backend.crash_image(cut, |_, _| Keep::All));
        for w in unsynced.clone() {
            // Only operation `w` reached the disk (a subset), and in full.
            check(
                cut,
                backend.crash_image(cut, |i, _| if i == w { Keep::All } else { Keep::Drop }),
            );
            // Every operation before `w` landed, `w` tore at each point, later ones were lost
            // (with and without the earlier ones).
            if let CrashOp::Write { data, .. } = &backend.ops()[w] {
                for t in tear_points(data.len()) {
                    let torn = |i: usize, _: &CrashOp| match i.cmp(&w) {
                        std::cmp::Ordering::Less => Keep::All,
                        std::cmp::Ordering::Equal => Keep::Prefix(t),
                        std::cmp::Ordering::Greater => Keep::Drop,
                    };
                    check(cut, backend.crash_image(cut, torn));
                    check(
                        cut,
                        backend.crash_image(
                            cut,
                            |i, _| if i == w { Keep::Prefix(t) } else { Keep::Drop },
                        ),
                    );
                }
            }
        }
    }
    assert!(checked >= 10_000, "only {checked} crash images");
    assert!(opened > 0);
    eprintln!("{checked} crash images checked, {opened} opened to a complete version");
}

#[test]
fn an_uncommitted_file_is_rejected_structurally() {
    // Stop right after the payload write: everything but the footer is on disk.
    let owned = small_sections();
    let mut backend = CrashBackend::new();
    write_file(&mut backend, &sections(&owned)).unwrap();
    let ops = backend.ops();
    let first_sync = ops.iter().position(|op| *op == CrashOp::Sync).unwrap();
    let image = backend.crash_image(first_sync + 1, |_, _| Keep::All);
    let err = EvecFile::from_bytes(&image).unwrap_err();
    assert!(matches!(err, StorageError::Truncated { .. }), "{err}");
    // The footer written but zeroed (a write whose data never landed, with the length grown).
    let mut padded = image.clone();
    padded.resize(file_bytes(&owned).len(), 0);
    let err = EvecFile::from_bytes(&padded).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Corrupted {
                defect: edgevec_storage::Defect::MissingCommitRecord,
                ..
            }
        ),
        "{err}"
    );
}
