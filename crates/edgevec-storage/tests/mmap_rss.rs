//! Opening a mapped file touches no row page: the resident set grows with the rows read, not
//! with the file. (Linux only: it reads the resident set from /proc. Its own test binary, so no
//! other test allocates meanwhile.)
#![cfg(target_os = "linux")]

use edgevec_storage::{EvecFile, Section, SectionKind, save_atomic};

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line");
    kb * 1024
}

#[test]
fn opening_a_mapped_file_does_not_page_in_its_rows() {
    const DIM: usize = 768;
    const ROWS: usize = 32_768; // 96 MiB of f32 rows
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.evec");
    {
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
    }
    let before = rss_bytes();
    let file = EvecFile::open_mmap(&path).unwrap();
    let rows = file.f32s(SectionKind::F32_ROWS).unwrap();
    assert!(matches!(rows, std::borrow::Cow::Borrowed(_)));
    let opened = rss_bytes();
    // The 1 MiB PARAMS copy and bookkeeping, not the 96 MiB of rows.
    assert!(
        opened.saturating_sub(before) < 16 << 20,
        "opening grew the resident set by {} MiB",
        (opened - before) >> 20
    );
    // Reading 100 scattered rows pages in about 100 × 3 KiB, not the file.
    let mut sum = 0.0f64;
    for r in (0..ROWS).step_by(ROWS / 100) {
        sum += f64::from(rows[r * DIM..(r + 1) * DIM].iter().sum::<f32>());
    }
    assert!(sum > 0.0);
    let read = rss_bytes();
    assert!(
        read.saturating_sub(opened) < 8 << 20,
        "100 row reads grew the resident set by {} MiB",
        (read - opened) >> 20
    );
    assert_eq!(
        file.payload(SectionKind::PARAMS).unwrap(),
        &vec![7u8; 1 << 20][..]
    );
}
