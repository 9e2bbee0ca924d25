//! Inputs found by the fuzz targets (`fuzz/`, docs/FUZZING.md), minimized, kept as tests.

use std::collections::BTreeMap;
use std::io;

use edgevec_storage::journal::log_state_bytes;
use edgevec_storage::wal::{LOG_HEADER_LEN, LOG_VERSION, LogHeader, scan, write_record};
use edgevec_storage::{
    Backend, CrashDir, DirFile, Directory, Durability, EvecFile, Journal, Keep, LogOp, MemBackend,
    Region, Section, SectionKind, StorageError, TempFile, journal, write_file,
};

fn log_from(base_seq: u64, seqs: &[u64]) -> MemBackend {
    let header = LogHeader {
        version: LOG_VERSION,
        lineage: 9,
        base_seq,
    };
    let mut b = MemBackend::new();
    b.write_at(0, &header.to_bytes()).unwrap();
    let mut at = LOG_HEADER_LEN as u64;
    for &seq in seqs {
        at = write_record(&mut b, at, 9, seq, &LogOp::Compact).unwrap();
    }
    b
}

/// `wal_replay` found that a record numbered `u64::MAX` (checksum valid) made `scan` overflow
/// its next sequence number (a panic in debug builds, a wrap to 0 in release). Such a record is
/// now corruption.
#[test]
fn a_record_numbered_u64_max_is_corruption_not_an_overflow() {
    let b = log_from(u64::MAX, &[u64::MAX]);
    let header = LogHeader::read(&b).unwrap();
    let err = scan::<_, StorageError>(&b, &header, |_| Ok(())).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Corrupted {
                section: Region::LogRecord { seq: u64::MAX },
                ..
            }
        ),
        "{err}"
    );
    // The records before it are still handed out.
    let b = log_from(u64::MAX - 1, &[u64::MAX - 1, u64::MAX]);
    let header = LogHeader::read(&b).unwrap();
    let mut seen = Vec::new();
    let r = scan::<_, StorageError>(&b, &header, |r| {
        seen.push(r.seq);
        Ok(())
    });
    assert!(r.is_err());
    assert_eq!(seen, [u64::MAX - 1]);
    // A log that ends just before it is fine.
    let b = log_from(u64::MAX - 1, &[u64::MAX - 1]);
    let header = LogHeader::read(&b).unwrap();
    let s = scan::<_, StorageError>(&b, &header, |_| Ok(())).unwrap();
    assert_eq!((s.records, s.next_seq), (1, u64::MAX));
}

fn snapshot_with_last_seq(last_seq: u64) -> Vec<u8> {
    let state = log_state_bytes(7, last_seq);
    let mut b = MemBackend::new();
    write_file(
        &mut b,
        &[
            Section::bytes(SectionKind::PARAMS, b"p"),
            Section::bytes(SectionKind::LOG_STATE, &state),
        ],
    )
    .unwrap();
    b.into_vec()
}

fn open(files: BTreeMap<String, Vec<u8>>) -> Result<Journal, StorageError> {
    Journal::open(
        Box::new(CrashDir::with_files(files)),
        "idx.evec",
        Durability::EveryOp,
        |_file: EvecFile| Ok::<(), StorageError>(()),
        |_, _| Ok(()),
    )
    .map(|(j, (), _)| j)
}

/// A snapshot whose `LOG_STATE` says it includes record `u64::MAX` made opening overflow
/// `last_seq + 1`; it is now a typed error, with or without a log beside it.
#[test]
fn a_log_state_ending_at_u64_max_is_refused() {
    let snapshot = snapshot_with_last_seq(u64::MAX);
    let file = EvecFile::from_bytes(&snapshot).unwrap();
    assert!(matches!(
        journal::log_state(&file),
        Err(StorageError::Corrupted { .. })
    ));
    let alone = BTreeMap::from([("idx.evec".to_owned(), snapshot.clone())]);
    assert!(matches!(open(alone), Err(StorageError::Corrupted { .. })));
    let log = log_from(1, &[]).into_vec();
    let with_log = BTreeMap::from([
        ("idx.evec".to_owned(), snapshot),
        ("idx.evec.wal".to_owned(), log),
    ]);
    assert!(matches!(
        open(with_log),
        Err(StorageError::Corrupted { .. })
    ));
    // Writing such a snapshot is refused too.
    let mut dir = CrashDir::new();
    assert!(matches!(
        journal::write_snapshot(&mut dir, "idx.evec", &[], 7, u64::MAX),
        Err(StorageError::InvalidRecord(_))
    ));
}

/// One below: the journal opens, but the next record would be numbered `u64::MAX`, so appending
/// is refused (instead of overflowing) and the journal stays readable.
#[test]
fn appending_past_the_last_sequence_number_is_refused() {
    let files = BTreeMap::from([("idx.evec".to_owned(), snapshot_with_last_seq(u64::MAX - 1))]);
    let dir = CrashDir::with_files(files);
    let (mut j, (), _) = Journal::open(
        Box::new(dir.clone()),
        "idx.evec",
        Durability::EveryOp,
        |_file: EvecFile| Ok::<(), StorageError>(()),
        |_, _| Ok(()),
    )
    .unwrap();
    assert_eq!(j.last_seq(), u64::MAX - 1);
    assert!(matches!(
        j.append(&LogOp::Compact),
        Err(StorageError::InvalidRecord(_))
    ));
    drop(j);
    assert!(open(dir.files()).is_ok());
}

/// A directory whose `n`-th directory sync (counting from 0) fails, once.
#[derive(Debug)]
struct FailingSyncDir {
    inner: CrashDir,
    syncs: usize,
    fail: usize,
}

impl Directory for FailingSyncDir {
    fn open(&self, name: &str) -> io::Result<Option<DirFile>> {
        self.inner.open(name)
    }
    fn open_read_only(&self, name: &str) -> io::Result<Option<DirFile>> {
        self.inner.open_read_only(name)
    }
    fn read_snapshot(&self, name: &str) -> edgevec_storage::Result<Option<EvecFile>> {
        self.inner.read_snapshot(name)
    }
    fn create_temp(&mut self, name: &str) -> io::Result<TempFile> {
        self.inner.create_temp(name)
    }
    fn publish(&mut self, temp: TempFile, name: &str) -> io::Result<()> {
        self.inner.publish(temp, name)
    }
    fn sync_dir(&mut self) -> io::Result<()> {
        self.syncs += 1;
        if self.syncs - 1 == self.fail {
            return Err(io::Error::other("injected directory sync failure"));
        }
        self.inner.sync_dir()
    }
    fn discard(&mut self, temp: TempFile) {
        self.inner.discard(temp)
    }
}

fn insert(id: u64) -> LogOp<'static> {
    LogOp::Insert {
        ids: vec![id].into(),
        dim: 1,
        rows: vec![id as f32].into(),
    }
}

/// The ids a journal image replays.
fn replayed(files: BTreeMap<String, Vec<u8>>) -> Vec<u64> {
    let (_, ids, _) = Journal::open(
        Box::new(CrashDir::with_files(files)),
        "idx.evec",
        Durability::EveryOp,
        |_file: EvecFile| Ok::<Vec<u64>, StorageError>(Vec::new()),
        |ids, r| {
            if let LogOp::Insert { ids: new, .. } = &r.op {
                ids.extend_from_slice(new);
            }
            Ok(())
        },
    )
    .unwrap();
    ids
}

/// `crash_io` found that a checkpoint whose new, empty log was renamed into place but whose
/// directory sync then failed left the journal appending to the old log, which no longer had
/// a name: those appends returned `Ok` and were lost by the next crash (or simply by reopening).
/// After a checkpoint fails once its snapshot is written, appends are now refused until a
/// checkpoint succeeds.
#[test]
fn appends_after_a_checkpoint_that_failed_after_replacing_the_log_are_refused() {
    // Directory syncs: create (snapshot, log) = 0, 1; checkpoint (snapshot, log) = 2, 3.
    for fail in [2, 3] {
        let crash = CrashDir::new();
        let dir = FailingSyncDir {
            inner: crash.clone(),
            syncs: 0,
            fail,
        };
        let mut j = Journal::create(
            Box::new(dir),
            "idx.evec",
            &[Section::bytes(SectionKind::PARAMS, b"p")],
            Durability::EveryOp,
        )
        .unwrap();
        j.append(&insert(1)).unwrap();
        assert!(
            j.checkpoint(&[Section::bytes(SectionKind::PARAMS, b"p")])
                .is_err()
        );
        // Whatever the journal does now, every append that returns Ok must be in the files.
        let acked: Vec<u64> = (2..4).filter(|id| j.append(&insert(*id)).is_ok()).collect();
        let n = crash.op_count();
        for image in [crash.files(), crash.crash_image(n, |_, _| Keep::All)] {
            let ids = replayed(image);
            for id in &acked {
                assert!(
                    ids.contains(id),
                    "fail {fail}: acknowledged insert {id} lost"
                );
            }
        }
        // A checkpoint that succeeds makes the journal usable again.
        j.checkpoint(&[Section::bytes(SectionKind::PARAMS, b"p")])
            .unwrap();
        j.append(&insert(5)).unwrap();
        assert_eq!(replayed(crash.files()), [5]);
    }
}
