//! One suite, run against every backend: the backend contract, then writing, reopening and
//! verifying files through it.

use std::io::ErrorKind;

use edgevec_storage::{
    Backend, CrashBackend, EvecFile, FileBackend, MemBackend, SectionKind, StorageError, verify,
    write_file,
};

use crate::{Owned, assert_holds, sections, small_sections};

/// The backend contract of [`Backend`]'s documentation.
fn contract<B: Backend>(b: &mut B) {
    assert_eq!(b.len().unwrap(), 0);
    assert!(b.is_empty().unwrap());
    b.read_at(0, &mut []).unwrap();
    // A write past the end zero-fills the gap.
    b.write_at(4, b"abc").unwrap();
    assert_eq!(b.len().unwrap(), 7);
    let mut buf = [9u8; 7];
    b.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"\0\0\0\0abc");
    // Overwrite in the middle.
    b.write_at(5, b"X").unwrap();
    let mut two = [0u8; 2];
    b.read_at(5, &mut two).unwrap();
    assert_eq!(&two, b"Xc");
    // Reads past the end fail without a short read.
    let err = b.read_at(6, &mut two).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    let err = b.read_at(u64::MAX, &mut two).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    b.read_at(7, &mut []).unwrap();
    // Truncate, then zero-extend.
    b.set_len(5).unwrap();
    assert_eq!(b.len().unwrap(), 5);
    b.set_len(8).unwrap();
    let mut all = [1u8; 8];
    b.read_at(0, &mut all).unwrap();
    assert_eq!(&all, b"\0\0\0\0a\0\0\0");
    b.sync().unwrap();
}

fn round_trips<B: Backend>(b: &mut B) {
    let cases: Vec<Vec<Owned>> = vec![
        Vec::new(),
        vec![Owned::Bytes(SectionKind::PARAMS, Vec::new())],
        vec![Owned::F32(SectionKind::F32_ROWS, Vec::new())],
        small_sections(),
        // The writer's 2 MiB pieces: a payload across two of them, and one that starts in
        // the second.
        vec![
            Owned::Bytes(
                SectionKind::CODES,
                (0..2_500_000).map(|i| (i % 253) as u8).collect(),
            ),
            Owned::F32(
                SectionKind::F32_ROWS,
                (0..600_000).map(|i| i as f32 - 0.5).collect(),
            ),
        ],
        // Two sections of one kind keep their order; large payloads cross the 64 KiB pieces
        // the reader reads in.
        vec![
            Owned::F32(
                SectionKind::F32_ROWS,
                (0..40_000).map(|i| i as f32 * 0.25).collect(),
            ),
            Owned::Bytes(
                SectionKind::CODES,
                (0..100_000).map(|i| (i % 251) as u8).collect(),
            ),
            Owned::F32(SectionKind::F32_ROWS, vec![7.0; 3]),
        ],
    ];
    for owned in &cases {
        let len = write_file(&mut *b, &sections(owned)).unwrap();
        assert_eq!(b.len().unwrap(), len);
        let file = EvecFile::open(&*b).unwrap();
        assert_holds(&file, owned);
        let summary = verify(&*b).unwrap();
        assert_eq!(&summary, file.summary());
        assert_eq!(summary.len, len);
        assert_eq!(summary.version, edgevec_storage::FORMAT_VERSION);
    }
    // The first section of a kind is the one found.
    let file = EvecFile::open(&*b).unwrap();
    assert_eq!(file.find(SectionKind::F32_ROWS), Some(0));
    assert_eq!(file.f32s(SectionKind::F32_ROWS).unwrap().len(), 40_000);
    assert!(matches!(
        file.f32s(SectionKind::PARAMS),
        Err(StorageError::MissingSection {
            kind: SectionKind::PARAMS
        })
    ));
}

/// Rewriting a backend that held a longer file leaves exactly the new file.
fn overwrites<B: Backend>(b: &mut B) {
    let big = vec![Owned::Bytes(SectionKind::CODES, vec![0xEE; 10_000])];
    write_file(&mut *b, &sections(&big)).unwrap();
    let small = small_sections();
    let len = write_file(&mut *b, &sections(&small)).unwrap();
    assert_eq!(b.len().unwrap(), len);
    assert_holds(&EvecFile::open(&*b).unwrap(), &small);
}

/// Damage made through the backend is found by both `verify` and `open`.
fn detects_damage<B: Backend>(b: &mut B) {
    let owned = small_sections();
    let len = write_file(&mut *b, &sections(&owned)).unwrap();
    let file = EvecFile::open(&*b).unwrap();
    let target = file.sections()[1].offset + 3; // inside the F32_ROWS payload
    let mut byte = [0u8];
    b.read_at(target, &mut byte).unwrap();
    b.write_at(target, &[byte[0] ^ 0x10]).unwrap();
    for err in [verify(&*b).unwrap_err(), EvecFile::open(&*b).unwrap_err()] {
        assert!(
            matches!(
                err,
                StorageError::Corrupted {
                    section: edgevec_storage::Region::Section {
                        index: 1,
                        kind: SectionKind::F32_ROWS
                    },
                    ..
                }
            ),
            "{err}"
        );
    }
    b.write_at(target, &byte).unwrap();
    verify(&*b).unwrap();
    b.set_len(len - 1).unwrap();
    assert!(
        matches!(verify(&*b), Err(StorageError::Truncated { expected, found })
        if expected == len && found == len - 1)
    );
    b.set_len(0).unwrap();
    assert!(matches!(
        verify(&*b),
        Err(StorageError::Truncated {
            expected: 64,
            found: 0
        })
    ));
}

/// A file written through one backend opens from the bytes in any other.
fn bytes_are_portable<B: Backend>(b: &mut B) {
    let owned = small_sections();
    let len = write_file(&mut *b, &sections(&owned)).unwrap();
    let mut bytes = vec![0u8; len as usize];
    b.read_at(0, &mut bytes).unwrap();
    assert_eq!(
        bytes,
        crate::file_bytes(&owned),
        "the writer is deterministic"
    );
    assert_holds(&EvecFile::from_bytes(&bytes).unwrap(), &owned);
    assert_holds(
        &EvecFile::open(&MemBackend::from_vec(bytes)).unwrap(),
        &owned,
    );
}

macro_rules! backend_suite {
    ($($name:ident => $make:expr;)*) => {$(
        mod $name {
            use super::*;

            /// A fresh, empty backend and whatever must live as long as it.
            #[allow(clippy::redundant_closure_call)]
            fn fresh() -> (impl Backend, Option<tempfile::TempDir>) {
                ($make)()
            }

            #[test]
            fn backend_contract() {
                let (mut b, _guard) = fresh();
                contract(&mut b);
            }

            #[test]
            fn round_trip() {
                let (mut b, _guard) = fresh();
                round_trips(&mut b);
            }

            #[test]
            fn overwrite_longer_file() {
                let (mut b, _guard) = fresh();
                overwrites(&mut b);
            }

            #[test]
            fn damage_is_detected() {
                let (mut b, _guard) = fresh();
                detects_damage(&mut b);
            }

            #[test]
            fn bytes_are_portable_between_backends() {
                let (mut b, _guard) = fresh();
                bytes_are_portable(&mut b);
            }
        }
    )*};
}

backend_suite! {
    memory => || (MemBackend::new(), None);
    crash => || (CrashBackend::new(), None);
    file => || {
        let dir = tempfile::tempdir().unwrap();
        let b = FileBackend::create(dir.path().join("suite.evec")).unwrap();
        (b, Some(dir))
    };
}

#[test]
fn file_backend_reopens_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.evec");
    let owned = small_sections();
    write_file(&mut FileBackend::create(&path).unwrap(), &sections(&owned)).unwrap();
    assert_holds(
        &EvecFile::open(&FileBackend::open_read_only(&path).unwrap()).unwrap(),
        &owned,
    );
    let mut ro = FileBackend::open_read_only(&path).unwrap();
    assert!(
        ro.write_at(0, b"x").is_err(),
        "read-only handles refuse writes"
    );
    assert!(
        FileBackend::create_new(&path).is_err(),
        "create_new refuses an existing file"
    );
    verify(&FileBackend::open(&path).unwrap()).unwrap();
}

#[test]
fn writer_refuses_invalid_sections() {
    let mut b = MemBackend::new();
    let err = write_file(
        &mut b,
        &[edgevec_storage::Section::bytes(SectionKind(0), b"")],
    )
    .unwrap_err();
    assert!(
        matches!(err, StorageError::InvalidSection { index: 0, .. }),
        "{err}"
    );
    let rows = [
        edgevec_storage::Section::bytes(SectionKind::PARAMS, b""),
        edgevec_storage::Section::bytes(SectionKind::F32_ROWS, b"abcde"),
    ];
    let err = write_file(&mut b, &rows).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::InvalidSection {
                index: 1,
                kind: SectionKind::F32_ROWS,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        b.len().unwrap(),
        0,
        "nothing is written when the input is invalid"
    );
}

#[test]
fn memory_mapped_files_serve_rows_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mapped.evec");
    let owned = small_sections();
    edgevec_storage::save_atomic(&path, &sections(&owned)).unwrap();
    let file = EvecFile::open_mmap(&path).unwrap();
    assert!(file.is_mapped());
    assert_holds(&file, &owned);
    assert_eq!(
        file.as_bytes().unwrap(),
        crate::file_bytes(&owned).as_slice()
    );
    // A save while the map is open replaces the file by rename; the map keeps the old bytes.
    let newer = vec![Owned::F32(SectionKind::F32_ROWS, vec![9.0; 32])];
    edgevec_storage::save_atomic(&path, &sections(&newer)).unwrap();
    assert_holds(&file, &owned);
    assert_holds(&EvecFile::open_mmap(&path).unwrap(), &newer);
    // Damage and truncation are found through the map as well.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 4;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        EvecFile::open_mmap(&path),
        Err(StorageError::Corrupted { .. })
    ));
    std::fs::write(&path, &bytes[..100]).unwrap();
    assert!(matches!(
        EvecFile::open_mmap(&path),
        Err(StorageError::Truncated { found: 100, .. })
    ));
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(
        EvecFile::open_mmap(&path),
        Err(StorageError::Truncated { found: 0, .. })
    ));
    assert!(matches!(
        EvecFile::open_mmap(dir.path().join("missing")),
        Err(StorageError::Io(_))
    ));
}

#[test]
fn deferred_files_read_rows_on_demand_and_verify_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deferred.evec");
    let owned = small_sections();
    edgevec_storage::save_atomic(&path, &sections(&owned)).unwrap();
    let open = |p: &std::path::Path| {
        EvecFile::open_deferred(Box::new(
            edgevec_storage::FileBackend::open_read_only(p).unwrap(),
        ))
    };
    let file = open(&path).unwrap();
    assert!(file.as_bytes().is_none());
    for (i, want) in owned.iter().enumerate() {
        match want {
            Owned::F32(_, values) => {
                assert!(file.is_deferred(i));
                assert!(file.section(i).is_none());
                let mut got = vec![0f32; values.len()];
                file.read_f32s(i, 0, &mut got).unwrap();
                assert_eq!(
                    got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    values.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                );
                let mut tail = vec![0f32; values.len() - 2];
                file.read_f32s(i, 2, &mut tail).unwrap();
                assert_eq!(tail[0].to_bits(), values[2].to_bits());
                assert_eq!(
                    file.f32s(want.kind()).unwrap().len(),
                    values.len(),
                    "f32s reads a deferred section whole"
                );
            }
            Owned::Bytes(kind, bytes) => {
                // Codes and graph lists are bulk data too: left in the file, read on demand.
                let bulk = *kind == SectionKind::CODES || *kind == SectionKind::GRAPH_ADJACENCY;
                assert_eq!(file.is_deferred(i), bulk, "section {i}");
                if bulk {
                    assert!(file.section(i).is_none());
                } else {
                    assert_eq!(file.section(i).unwrap(), bytes.as_slice());
                }
                assert_eq!(file.read_section(i).unwrap(), *bytes);
            }
        }
    }
    assert_streams(&file, &owned);
    // A save replaces the file by rename; the open file keeps reading the old rows.
    let newer = vec![Owned::F32(SectionKind::F32_ROWS, vec![9.0; 32])];
    edgevec_storage::save_atomic(&path, &sections(&newer)).unwrap();
    let mut first = [0f32; 1];
    file.read_f32s(1, 0, &mut first).unwrap();
    assert_eq!(first, [1.0]);
    // A damaged row is found at open, although rows are not kept.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = open(&path).unwrap().sections()[0].offset as usize + 5;
    bytes[at] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(open(&path), Err(StorageError::Corrupted { .. })));
}

/// Every section of `file` read through [`EvecFile::section_reader`] in odd-sized pieces gives
/// its payload, and the reader's checks hold: no read past the end, no finish before it.
fn assert_streams(file: &EvecFile, owned: &[Owned]) {
    for (i, want) in owned.iter().enumerate() {
        let want = want.stored_bytes();
        let mut r = file.section_reader(i).unwrap();
        assert_eq!(r.remaining(), want.len() as u64);
        let mut got = Vec::new();
        while r.remaining() > 0 {
            let mut piece = vec![0u8; r.remaining().min(7) as usize];
            r.read_exact(&mut piece).unwrap();
            got.extend_from_slice(&piece);
        }
        assert_eq!(got, want, "section {i}");
        assert!(matches!(
            r.read_exact(&mut [0u8]),
            Err(StorageError::MissingSection { .. })
        ));
        r.finish().unwrap();
        if !want.is_empty() {
            let err = file.section_reader(i).unwrap().finish().unwrap_err();
            assert!(err.to_string().contains("unread_bytes"), "{err}");
        }
    }
    assert!(file.section_reader(owned.len()).is_err());
}

#[test]
fn section_readers_stream_every_section_wherever_it_lives() {
    let owned = small_sections();
    let bytes = crate::file_bytes(&owned);
    assert_streams(&EvecFile::from_bytes(&bytes).unwrap(), &owned);
    assert_streams(
        &EvecFile::open(&MemBackend::from_vec(bytes.clone())).unwrap(),
        &owned,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stream.evec");
    std::fs::write(&path, &bytes).unwrap();
    assert_streams(&EvecFile::open_mmap(&path).unwrap(), &owned);
}

#[test]
fn a_section_changed_after_opening_fails_its_streamed_checksum() {
    let owned = small_sections();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changed.evec");
    std::fs::write(&path, crate::file_bytes(&owned)).unwrap();
    let file =
        EvecFile::open_deferred(Box::new(FileBackend::open_read_only(&path).unwrap())).unwrap();
    let graph = file.find(SectionKind::GRAPH_ADJACENCY).unwrap();
    assert!(file.is_deferred(graph));
    // Written in place (what the file's contract forbids), after the open verified it.
    let offset = file.sections()[graph].offset;
    let mut writer = FileBackend::open(&path).unwrap();
    writer.write_at(offset + 3, &[0xEE]).unwrap();
    let mut r = file.section_reader(graph).unwrap();
    let mut all = vec![0u8; r.remaining() as usize];
    r.read_exact(&mut all).unwrap();
    assert_eq!(all[3], 0xEE);
    let err = r.finish().unwrap_err();
    assert_checksum_mismatch(&err);
}

/// A file whose byte `at` reads differently from the second read that covers it on: the file
/// changed between `open_deferred`'s verification and its copy of the small sections.
#[derive(Debug)]
struct ChangesAfterFirstRead {
    bytes: Vec<u8>,
    at: u64,
    reads: std::sync::atomic::AtomicUsize,
}

impl Backend for ChangesAfterFirstRead {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.bytes.len() as u64)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let end = offset + buf.len() as u64;
        let o = offset as usize;
        buf.copy_from_slice(&self.bytes[o..o + buf.len()]);
        if (offset..end).contains(&self.at)
            && self
                .reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                > 0
        {
            buf[(self.at - offset) as usize] ^= 0x10;
        }
        Ok(())
    }
    fn write_at(&mut self, _: u64, _: &[u8]) -> std::io::Result<()> {
        Err(ErrorKind::Unsupported.into())
    }
    fn set_len(&mut self, _: u64) -> std::io::Result<()> {
        Err(ErrorKind::Unsupported.into())
    }
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_section_changed_between_verification_and_copy_is_refused() {
    let owned = small_sections();
    let bytes = crate::file_bytes(&owned);
    let ids = EvecFile::from_bytes(&bytes)
        .unwrap()
        .find(SectionKind::ID_MAP)
        .unwrap();
    let info = EvecFile::from_bytes(&bytes).unwrap().sections()[ids];
    let file = |at| ChangesAfterFirstRead {
        bytes: bytes.clone(),
        at,
        reads: 0.into(),
    };
    // The id map is copied into memory: its second read is checked.
    let err = EvecFile::open_deferred(Box::new(file(info.offset + 2))).unwrap_err();
    assert_checksum_mismatch(&err);
    // A byte outside every copied section (the rows stay in the file) changes nothing here.
    let rows = EvecFile::from_bytes(&bytes)
        .unwrap()
        .find(SectionKind::F32_ROWS)
        .unwrap();
    let rows_at = EvecFile::from_bytes(&bytes).unwrap().sections()[rows].offset;
    assert!(EvecFile::open_deferred(Box::new(file(rows_at))).is_ok());
}

fn assert_checksum_mismatch(err: &StorageError) {
    assert!(
        matches!(
            err,
            StorageError::Corrupted {
                defect: edgevec_storage::Defect::ChecksumMismatch { .. },
                ..
            }
        ),
        "{err}"
    );
}

/// A memory backend that asks for pieces of `piece` bytes and records every write.
struct Pieces {
    mem: MemBackend,
    piece: usize,
    writes: Vec<(u64, usize)>,
}

impl Backend for Pieces {
    fn len(&self) -> std::io::Result<u64> {
        self.mem.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.mem.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.writes.push((offset, data.len()));
        self.mem.write_at(offset, data)
    }
    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.mem.set_len(len)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.mem.sync()
    }
    fn write_piece(&self) -> usize {
        self.piece
    }
}

#[test]
fn the_writer_writes_whole_aligned_pieces_of_the_size_the_backend_asks_for() {
    // Files on disk ask for 2 MiB (page-cache huge folios); memory and the crash simulator
    // keep the default.
    let path = tempfile::tempdir().unwrap();
    let file = FileBackend::create(path.path().join("f.evec")).unwrap();
    assert_eq!(file.write_piece(), 2 << 20);
    assert_eq!(MemBackend::new().write_piece(), 64 << 10);
    let owned = vec![
        Owned::F32(
            SectionKind::F32_ROWS,
            (0..30_000).map(|i| i as f32).collect(),
        ),
        Owned::Bytes(SectionKind::CODES, vec![3; 77_777]),
    ];
    // 0 and 1 are lifted to 4 KiB, 1 GiB is cut to 64 MiB.
    for (asked, kept) in [
        (0, 4096),
        (1, 4096),
        (8192, 8192),
        (65_536, 65_536),
        (1 << 30, 64 << 20),
    ] {
        let mut b = Pieces {
            mem: MemBackend::new(),
            piece: asked,
            writes: Vec::new(),
        };
        let len = write_file(&mut b, &sections(&owned)).unwrap();
        let body = &b.writes[..b.writes.len() - 1]; // the footer is written on its own
        let (last, whole) = body.split_last().unwrap();
        let mut next = 0;
        for &(offset, n) in whole {
            assert_eq!((offset, n), (next, kept), "asked {asked}");
            next += n as u64;
        }
        assert_eq!(last.0, next, "asked {asked}");
        assert!(last.1 <= kept && last.1 > 0, "asked {asked}");
        assert_eq!(
            b.writes.last().unwrap().0 + b.writes.last().unwrap().1 as u64,
            len
        );
        assert_holds(&EvecFile::open(&b.mem).unwrap(), &owned);
    }
}
