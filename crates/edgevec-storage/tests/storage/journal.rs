//! The journal (snapshot + write-ahead log) under power cuts: a workload of inserts, upserts,
//! deletes, compactions and checkpoints is recorded on a simulated directory, then every crash
//! image — each operation boundary, with unsynced operations dropped, kept, kept in random
//! subsets, and the last write torn at several offsets — is reopened. Each must open to the
//! state after some prefix of the workload that contains every operation whose sync had
//! returned, and the recovered journal must accept new records.

use std::borrow::Cow;
use std::collections::BTreeMap;

use edgevec_storage::journal::log_name;
use edgevec_storage::{
    CrashDir, DirOp, Durability, EvecFile, Journal, Keep, LogOp, LogRecord, RecoveryReport,
    Section, SectionKind, StorageError, TailDefect,
};

const DIM: usize = 3;
type State = BTreeMap<u64, Vec<f32>>;

fn encode(state: &State) -> Vec<u8> {
    let mut b = Vec::new();
    for (id, v) in state {
        b.extend(id.to_le_bytes());
        b.extend(v.iter().flat_map(|x| x.to_le_bytes()));
    }
    b
}

fn load(file: EvecFile) -> Result<State, StorageError> {
    let p = file.payload(SectionKind::PARAMS).unwrap_or_default();
    let mut state = State::new();
    for rec in p.chunks(8 + 4 * DIM) {
        let id = u64::from_le_bytes(rec[..8].try_into().unwrap());
        let v = rec[8..]
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        state.insert(id, v);
    }
    Ok(state)
}

fn apply(state: &mut State, op: &LogOp<'_>) {
    match op {
        LogOp::Insert { ids, rows, .. } | LogOp::Upsert { ids, rows, .. } => {
            for (id, row) in ids.iter().zip(rows.chunks(DIM)) {
                state.insert(*id, row.to_vec());
            }
        }
        LogOp::Delete { ids } => {
            for id in ids.iter() {
                state.remove(id);
            }
        }
        _ => {}
    }
}

fn replay(state: &mut State, r: LogRecord) -> Result<(), StorageError> {
    apply(state, &r.op);
    Ok(())
}

/// One step of the workload.
#[derive(Clone, Debug)]
enum Step {
    Log(LogOp<'static>),
    Checkpoint,
}

/// A deterministic workload: batches of inserts, upserts, deletes, compactions, and a
/// checkpoint every so often.
fn workload(len: usize, seed: u64) -> Vec<Step> {
    let mut x = seed;
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as u32
    };
    let mut next_id = 0u64;
    (0..len)
        .map(|i| {
            let r = next() % 10;
            if i % 9 == 8 {
                return Step::Checkpoint;
            }
            let rows = |n: usize, next: &mut dyn FnMut() -> u32| -> Vec<f32> {
                (0..n * DIM).map(|_| (next() % 1000) as f32 / 7.0).collect()
            };
            Step::Log(match r {
                0..=4 => {
                    let n = 1 + (next() % 3) as usize;
                    let ids: Vec<u64> = (next_id..next_id + n as u64).collect();
                    next_id += n as u64;
                    LogOp::Insert {
                        ids: ids.into(),
                        dim: DIM as u32,
                        rows: rows(n, &mut next).into(),
                    }
                }
                5 | 6 => LogOp::Upsert {
                    ids: vec![u64::from(next()) % (next_id + 1)].into(),
                    dim: DIM as u32,
                    rows: rows(1, &mut next).into(),
                },
                7 | 8 => LogOp::Delete {
                    ids: vec![u64::from(next()) % (next_id + 1), 10_000].into(),
                },
                _ => LogOp::Compact,
            })
        })
        .collect()
}

/// A recorded run: the directory, the model state after each prefix of the workload, and
/// for each step the operation count at which it started and at which it was durable.
struct Run {
    dir: CrashDir,
    states: Vec<State>,
    started: Vec<usize>,
    durable_at: Vec<usize>,
    initial_ops: usize,
}

fn record(steps: &[Step], durability: Durability) -> Run {
    let dir = CrashDir::new();
    let mut state = State::new();
    let params = encode(&state);
    let mut journal = Journal::create(
        Box::new(dir.clone()),
        "idx.evec",
        &[Section::bytes(SectionKind::PARAMS, &params)],
        durability,
    )
    .unwrap();
    let initial_ops = dir.op_count();
    let mut states = vec![state.clone()];
    let mut started = Vec::new();
    let mut durable_at = Vec::new();
    let mut undurable = Vec::new();
    let mut since_sync = 0u32;
    for step in steps {
        started.push(dir.op_count());
        match step {
            Step::Log(op) => {
                journal.append(op).unwrap();
                apply(&mut state, op);
            }
            Step::Checkpoint => {
                let params = encode(&state);
                journal
                    .checkpoint(&[Section::bytes(SectionKind::PARAMS, &params)])
                    .unwrap();
            }
        }
        states.push(state.clone());
        durable_at.push(usize::MAX);
        undurable.push(durable_at.len() - 1);
        // When the policy promises the steps so far are durable: not observed from the
        // operations, so a journal that forgets to sync fails the sweep.
        let synced = match (step, durability) {
            (Step::Checkpoint, _) | (_, Durability::EveryOp) => true,
            (_, Durability::EveryN(n)) => {
                since_sync += 1;
                since_sync >= n
            }
            _ => false,
        };
        if synced {
            since_sync = 0;
            for k in undurable.drain(..) {
                durable_at[k] = dir.op_count();
            }
        }
    }
    drop(journal);
    Run {
        dir,
        states,
        started,
        durable_at,
        initial_ops,
    }
}

fn open_image(
    image: BTreeMap<String, Vec<u8>>,
) -> Result<(Journal, State, RecoveryReport), StorageError> {
    Journal::open(
        Box::new(CrashDir::with_files(image)),
        "idx.evec",
        Durability::EveryOp,
        load,
        replay,
    )
}

/// Checks one crash image after `cut` operations (and, with `extend`, that the recovered
/// journal takes a new record).
fn check_image(run: &Run, cut: usize, image: BTreeMap<String, Vec<u8>>, extend: bool) {
    let (mut journal, state, report) = open_image(image.clone())
        .unwrap_or_else(|e| panic!("cut {cut}: crash image does not open: {e}"));
    let required = run.durable_at.iter().filter(|&&d| d <= cut).count();
    let issued = run.started.iter().filter(|&&s| s < cut).count();
    let ok = (required..=issued).any(|p| run.states[p] == state);
    assert!(
        ok,
        "cut {cut}: recovered state is no prefix in {required}..={issued} ({report:?})"
    );
    if extend {
        // The recovered journal takes new records and reopens to them.
        let op = LogOp::Insert {
            ids: vec![77_777].into(),
            dim: DIM as u32,
            rows: vec![1.0, 2.0, 3.0].into(),
        };
        let seq = journal.append(&op).unwrap();
        assert_eq!(seq, journal.last_seq());
        let files = {
            let d = journal.dir();
            let mut files = BTreeMap::new();
            for name in ["idx.evec".to_owned(), log_name("idx.evec")] {
                let f = d.open_read_only(&name).unwrap().unwrap();
                let mut buf = vec![0; f.len().unwrap() as usize];
                f.read_at(0, &mut buf).unwrap();
                files.insert(name, buf);
            }
            files
        };
        drop(journal);
        let (_, after, report) = open_image(files).unwrap();
        let mut want = state.clone();
        apply(&mut want, &op);
        assert_eq!(after, want, "cut {cut}: {report:?}");
        assert_eq!(report.bytes_discarded, 0);
    }
}

fn crash_sweep(durability: Durability, steps: usize, seed: u64) -> usize {
    let steps = workload(steps, seed);
    let run = record(&steps, durability);
    let ops = run.dir.ops();
    let mut rng = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut rand = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut checked = 0;
    for cut in run.initial_ops..=ops.len() {
        let unsynced = run.dir.unsynced(cut);
        let mut variants: Vec<BTreeMap<String, Vec<u8>>> = vec![
            run.dir.durable_image(cut),
            run.dir.crash_image(cut, |_, _| Keep::All),
        ];
        // The last unsynced write torn at several offsets, everything before it kept.
        let last_write = unsynced.iter().rev().find_map(|&i| match &ops[i] {
            DirOp::Write { data, .. } => Some((i, data.len())),
            _ => None,
        });
        if let Some((last, len)) = last_write {
            for t in [1, 4, 8, len / 2, len.saturating_sub(1)] {
                variants.push(run.dir.crash_image(cut, |i, _| {
                    if i == last {
                        Keep::Prefix(t)
                    } else {
                        Keep::All
                    }
                }));
            }
        }
        // Random subsets of the unsynced operations, some torn.
        if !unsynced.is_empty() {
            for _ in 0..4 {
                let mask = rand();
                variants.push(
                    run.dir
                        .crash_image(cut, |i, op| match (mask >> (i % 61)) & 3 {
                            0 => Keep::Drop,
                            1 => match op {
                                DirOp::Write { data, .. } => {
                                    Keep::Prefix((mask as usize >> 7) % data.len().max(1))
                                }
                                _ => Keep::All,
                            },
                            _ => Keep::All,
                        }),
                );
            }
        }
        for (v, image) in variants.into_iter().enumerate() {
            check_image(&run, cut, image, v < 2 && cut % 7 == 0);
            checked += 1;
        }
    }
    checked
}

#[test]
fn every_crash_image_recovers_a_prefix_with_every_synced_record() {
    let a = crash_sweep(Durability::EveryOp, 120, 1);
    let b = crash_sweep(Durability::EveryN(3), 90, 2);
    let c = crash_sweep(Durability::OnFlush, 50, 3);
    let total = a + b + c;
    assert!(total >= 10_000, "only {total} crash images checked");
}

fn small_journal() -> (CrashDir, Journal) {
    let dir = CrashDir::new();
    let j = Journal::create(
        Box::new(dir.clone()),
        "idx.evec",
        &[Section::bytes(SectionKind::PARAMS, &[])],
        Durability::EveryOp,
    )
    .unwrap();
    (dir, j)
}

fn ins(id: u64) -> LogOp<'static> {
    LogOp::Insert {
        ids: Cow::Owned(vec![id]),
        dim: DIM as u32,
        rows: Cow::Owned(vec![id as f32; DIM]),
    }
}

#[test]
fn recovery_reports_what_it_did() {
    let (dir, mut j) = small_journal();
    for id in 0..5 {
        j.append(&ins(id)).unwrap();
    }
    drop(j);
    let mut files = dir.files();
    let log = files.get_mut(&log_name("idx.evec")).unwrap();
    let full = log.len();
    log.truncate(full - 5); // tear the last record
    let (j, state, report) = open_image(files.clone()).unwrap();
    assert_eq!(state.len(), 4);
    assert_eq!(report.records_replayed, 4);
    assert_eq!(report.tail, Some(TailDefect::Incomplete));
    assert!(report.bytes_discarded > 0);
    assert_eq!(j.last_seq(), 4);
    drop(j);

    // Read-only recovery sees the same state and writes nothing.
    let mut ro = CrashDir::with_files(files.clone());
    let (state2, report2) = Journal::read(&mut ro, "idx.evec", load, replay).unwrap();
    assert_eq!((state2, report2), (state, report));
    assert_eq!(ro.op_count(), 0);

    // No log at all: the snapshot alone, and a new log is created.
    files.remove(&log_name("idx.evec"));
    let (_, state, report) = open_image(files).unwrap();
    assert!(state.is_empty() && report.log_created);
}

#[test]
fn a_stale_log_of_another_lineage_is_replaced_and_a_gap_is_an_error() {
    let (dir_a, mut a) = small_journal();
    a.append(&ins(1)).unwrap();
    drop(a);
    let (dir_b, mut b) = small_journal();
    for id in 0..3 {
        b.append(&ins(id)).unwrap();
    }
    b.checkpoint(&[Section::bytes(SectionKind::PARAMS, &encode(&State::new()))])
        .unwrap();
    b.append(&ins(9)).unwrap();
    drop(b);
    // A's snapshot beside B's log: another lineage, ignored and replaced.
    let mut files = dir_a.files();
    files.insert(
        log_name("idx.evec"),
        dir_b.files()[&log_name("idx.evec")].clone(),
    );
    let (_, state, report) = open_image(files).unwrap();
    assert!(state.is_empty() && report.stale_log_replaced, "{report:?}");

    // A first snapshot (no records) beside the newer log of the same lineage (starting after
    // a checkpoint at record 1): record 1 is missing.
    let (dir_c, mut c) = small_journal();
    let first_snapshot = dir_c.files()["idx.evec"].clone();
    c.append(&ins(1)).unwrap();
    c.checkpoint(&[Section::bytes(SectionKind::PARAMS, &[])])
        .unwrap();
    c.append(&ins(2)).unwrap();
    drop(c);
    let mut files = dir_c.files();
    files.insert("idx.evec".into(), first_snapshot);
    let err = open_image(files).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::LogGap {
                snapshot_seq: 0,
                log_first_seq: 2
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("move the .wal file away"));
}

#[test]
fn retract_and_failed_appends_leave_the_log_as_it_was() {
    let (dir, mut j) = small_journal();
    j.append(&ins(1)).unwrap();
    let seq = j.append(&ins(2)).unwrap();
    j.retract(seq).unwrap();
    assert!(
        j.retract(1).is_err(),
        "only the last record can be retracted"
    );
    let bad = LogOp::Insert {
        ids: vec![3, 4].into(),
        dim: DIM as u32,
        rows: vec![0.0; DIM].into(),
    };
    assert!(matches!(
        j.append(&bad),
        Err(StorageError::InvalidRecord(_))
    ));
    let seq = j.append(&ins(5)).unwrap();
    assert_eq!(seq, 2);
    drop(j);
    let (_, state, _) = open_image(dir.files()).unwrap();
    assert_eq!(state.keys().copied().collect::<Vec<_>>(), [1, 5]);
}

#[test]
fn damaged_logs_are_typed_errors_or_cut_tails_never_panics() {
    let (dir, mut j) = small_journal();
    for id in 0..4 {
        j.append(&ins(id)).unwrap();
    }
    drop(j);
    let files = dir.files();
    let log = &files[&log_name("idx.evec")];
    for byte in 0..log.len() {
        for bit in [0, 3, 7] {
            let mut f = files.clone();
            f.get_mut(&log_name("idx.evec")).unwrap()[byte] ^= 1 << bit;
            match open_image(f) {
                Ok((_, state, report)) => {
                    // A flip in a record is a checksum failure: the tail from that record on
                    // is cut, never replayed with wrong data.
                    assert!(report.tail.is_some(), "byte {byte}: flip not noticed");
                    assert!(state.len() < 4);
                    assert!(state.iter().all(|(id, v)| v == &vec![*id as f32; DIM]));
                }
                Err(e) => assert!(
                    matches!(
                        e,
                        StorageError::Corrupted { .. }
                            | StorageError::BadMagic { .. }
                            | StorageError::UnsupportedVersion { .. }
                    ),
                    "byte {byte}: {e}"
                ),
            }
        }
    }
    // Arbitrary bytes as a log.
    let mut f = files.clone();
    f.insert(log_name("idx.evec"), b"not a log at all".to_vec());
    assert!(matches!(open_image(f), Err(StorageError::BadMagic { .. })));
}

#[test]
fn one_writer_at_a_time_on_a_real_directory() {
    let dir = tempfile::tempdir().unwrap();
    let fs = || Box::new(edgevec_storage::FsDir::new(dir.path()));
    let params = encode(&State::new());
    let a = Journal::create(
        fs(),
        "idx.evec",
        &[Section::bytes(SectionKind::PARAMS, &params)],
        Durability::EveryOp,
    )
    .unwrap();
    let second = Journal::open(fs(), "idx.evec", Durability::EveryOp, load, replay);
    let err = second.expect_err("a second writer is refused");
    assert!(matches!(err, StorageError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("idx.evec.lock"), "{err}");
    // Readers take no lock.
    let mut reader = edgevec_storage::FsDir::new(dir.path());
    Journal::read(&mut reader, "idx.evec", load, replay).unwrap();
    drop(a);
    let (_b, _, _) = Journal::open(fs(), "idx.evec", Durability::EveryOp, load, replay).unwrap();
}
