//! Rows left in the file cost no resident memory until they are read: opening a mapped file
//! pages in no row, and rows read through a deferred open never become resident in the
//! process. (Linux only: it reads the resident set from /proc. Its own test binary, so no
//! other test allocates meanwhile.)
#![cfg(target_os = "linux")]

use edgevec_storage::{EvecFile, FileBackend, Section, SectionKind, save_atomic};

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line");
    kb * 1024
}

const DIM: usize = 768;
const ROWS: usize = 32_768; // 96 MiB of f32 rows

fn big_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("big.evec");
    let rows: Vec<f32> = (0..ROWS * DIM).map(|i| (i % 1013) as f32).collect();
    let other = vec![7u8; 1 << 20];
    save_atomic(
        &path,
        &[
            Section::bytes(SectionKind::PARAMS, &other),
            Section::f32(SectionKind::F32_ROWS, &rows),
        ],
    )
    .unwrap();
    path
}

#[test]
fn rows_left_in_the_file_are_not_resident() {
    let dir = tempfile::tempdir().unwrap();
    let path = big_file(&dir);

    // Mapped: opening touches no row page. (What a read through the map costs is the
    // kernel's choice, up to a 2 MiB folio per row: see `EvecFile::open_mmap`.)
    let before = rss_bytes();
    let mapped = EvecFile::open_mmap(&path).unwrap();
    let rows = mapped.f32s(SectionKind::F32_ROWS).unwrap();
    assert!(matches!(rows, std::borrow::Cow::Borrowed(_)));
    let opened = rss_bytes();
    // The 1 MiB PARAMS copy and bookkeeping, not the 96 MiB of rows.
    assert!(
        opened.saturating_sub(before) < 16 << 20,
        "opening grew the resident set by {} MiB",
        (opened - before) >> 20
    );
    assert_eq!(
        mapped.payload(SectionKind::PARAMS).unwrap(),
        &vec![7u8; 1 << 20][..]
    );
    drop(rows);
    drop(mapped);

    // Deferred: opening and then reading 1,024 scattered rows (about 7% of the file's pages,
    // some in every one of its 2 MiB pieces) leaves them in the page cache.
    let before = rss_bytes();
    let file =
        EvecFile::open_deferred(Box::new(FileBackend::open_read_only(&path).unwrap())).unwrap();
    let index = file
        .sections()
        .iter()
        .position(|s| s.kind == SectionKind::F32_ROWS)
        .unwrap();
    let mut row = vec![0.0f32; DIM];
    let mut sum = 0.0f64;
    for r in (0..ROWS).step_by(ROWS / 1000) {
        file.read_f32s(index, (r * DIM) as u64, &mut row).unwrap();
        assert_eq!(row[0], ((r * DIM) % 1013) as f32);
        sum += f64::from(row.iter().sum::<f32>());
    }
    assert!(sum > 0.0);
    let read = rss_bytes();
    assert!(
        read.saturating_sub(before) < 8 << 20,
        "a deferred open and 1,024 row reads grew the resident set by {} MiB",
        (read - before) >> 20
    );
}

/// What reads through a map cost in resident memory on this machine (printed, not asserted:
/// the kernel decides). `cargo test -p edgevec-storage --test mmap_rss -- --ignored --nocapture`.
/// On Linux 6.18 / ext4, 100 scattered rows of this 96 MiB file made 97 MiB resident: each
/// touch mapped a whole 2 MiB page-cache folio (see `EvecFile::open_mmap`).
#[test]
#[ignore = "a measurement; prints what the kernel does"]
fn mapped_row_reads_resident_growth() {
    let dir = tempfile::tempdir().unwrap();
    let path = big_file(&dir);
    let mapped = EvecFile::open_mmap(&path).unwrap();
    let rows = mapped.f32s(SectionKind::F32_ROWS).unwrap();
    let opened = rss_bytes();
    let mut sum = 0.0f64;
    for r in (0..ROWS).step_by(ROWS / 100) {
        sum += f64::from(rows[r * DIM..(r + 1) * DIM].iter().sum::<f32>());
    }
    assert!(sum > 0.0);
    println!(
        "100 row reads through the map of a {} MiB file grew the resident set by {} MiB",
        (ROWS * DIM * 4) >> 20,
        rss_bytes().saturating_sub(opened) >> 20
    );
}
