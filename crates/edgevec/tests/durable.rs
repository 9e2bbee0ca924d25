//! An attached index (snapshot + write-ahead log): changes survive reopening and power cuts.
//!
//! The crash sweep runs the real `Index` over the simulated directory of `edgevec-storage`:
//! every crash image of a workload (inserts, batches, upserts, deletes, compactions,
//! checkpoints, across the training point of a quantized index) must open to the state after
//! some prefix of the workload that includes every operation that had returned.

use std::collections::BTreeMap;

use edgevec::storage::{CrashDir, DirOp, Keep};
use edgevec::{Durability, Error, Index, Metric, Quantization};
use edgevec_testdata::Rng;

const DIM: usize = 4;

fn vector(rng: &mut Rng) -> Vec<f32> {
    (0..DIM).map(|_| rng.unit() * 2.0 - 1.0).collect()
}

/// Live ids and their stored vectors: what an index "is" for the prefix check.
fn contents(index: &Index) -> BTreeMap<u64, Vec<u32>> {
    index
        .ids()
        .into_iter()
        .map(|id| {
            let v = index.get(id).expect("live id has a vector");
            (id, v.iter().map(|x| x.to_bits()).collect())
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Step {
    Insert(u64, Vec<f32>),
    Batch(Vec<u64>, Vec<f32>),
    Upsert(u64, Vec<f32>),
    Delete(Vec<u64>),
    Compact,
    Checkpoint,
}

fn workload(seed: u64, len: usize) -> Vec<Step> {
    let mut rng = Rng(seed);
    let mut next = 0u64;
    (0..len)
        .map(|i| {
            if i % 11 == 10 {
                return Step::Checkpoint;
            }
            match rng.below(10) {
                0..=3 => {
                    next += 1;
                    Step::Insert(next - 1, vector(&mut rng))
                }
                4 | 5 => {
                    let n = 2 + rng.below(4);
                    let ids: Vec<u64> = (next..next + n).collect();
                    next += n;
                    let rows = ids.iter().flat_map(|_| vector(&mut rng)).collect();
                    Step::Batch(ids, rows)
                }
                6 => Step::Upsert(rng.below(next.max(1)), vector(&mut rng)),
                7 | 8 => Step::Delete(vec![rng.below(next.max(1)), rng.below(next.max(1))]),
                _ => Step::Compact,
            }
        })
        .collect()
}

fn run(index: &mut Index, step: &Step) -> Result<(), Error> {
    match step {
        Step::Insert(id, v) => index.insert(*id, v),
        Step::Batch(ids, rows) => index.insert_batch(ids, rows),
        Step::Upsert(id, v) => index.upsert(*id, v).map(|_| ()),
        Step::Delete(ids) => index.delete_batch(ids).map(|_| ()),
        Step::Compact => index.compact().map(|_| ()),
        Step::Checkpoint => index.checkpoint().map(|_| ()),
    }
}

fn builder(quantization: Quantization) -> edgevec::IndexBuilder {
    Index::builder()
        .dimensions(DIM)
        .metric(Metric::L2)
        .quantization(quantization)
        .m(4)
        .ef_construction(16)
        .train_size(12)
        .threads(1)
        .seed(3)
}

fn crash_sweep(quantization: Quantization, seed: u64, len: usize) -> usize {
    let steps = workload(seed, len);
    let dir = CrashDir::new();
    let mut index = builder(quantization)
        .create_in(Box::new(dir.clone()), "i.evec")
        .unwrap();
    let first = dir.op_count();
    let mut states = vec![contents(&index)];
    let mut started = Vec::new();
    let mut done = Vec::new();
    for step in &steps {
        started.push(dir.op_count());
        run(&mut index, step).unwrap_or_else(|e| panic!("{step:?}: {e}"));
        done.push(dir.op_count());
        states.push(contents(&index));
    }
    drop(index);
    let ops = dir.ops();
    let mut checked = 0;
    for cut in first..=ops.len() {
        let unsynced = dir.unsynced(cut);
        let mut images = vec![
            dir.durable_image(cut),
            dir.crash_image(cut, |_, _| Keep::All),
        ];
        if let Some((last, len)) = unsynced.iter().rev().find_map(|&i| match &ops[i] {
            DirOp::Write { data, .. } => Some((i, data.len())),
            _ => None,
        }) {
            for t in [3, len / 2] {
                images.push(dir.crash_image(cut, |i, _| {
                    if i == last {
                        Keep::Prefix(t)
                    } else {
                        Keep::All
                    }
                }));
            }
        }
        for image in images {
            let index = Index::open_in(
                Box::new(CrashDir::with_files(image)),
                "i.evec",
                Durability::EveryOp,
            )
            .unwrap_or_else(|e| panic!("{quantization} cut {cut}: does not open: {e}"));
            let got = contents(&index);
            let required = done.iter().filter(|&&d| d <= cut).count();
            // Operations that logged nothing (deleting absent ids, compacting nothing) start
            // and end at the same count; they count as issued once done.
            let issued = started
                .iter()
                .zip(&done)
                .filter(|&(&s, &d)| s < cut || d <= cut)
                .count();
            assert!(
                (required..=issued).any(|p| states[p] == got),
                "{quantization} cut {cut}: state is no prefix in {required}..={issued}: {:?}",
                index.recovery_report()
            );
            // Searching the recovered index works.
            if !index.is_empty() {
                let hits = index.search(&[0.1; DIM], 3).unwrap();
                assert!(!hits.is_empty());
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn every_crash_image_opens_to_a_prefix_with_every_returned_operation() {
    let a = crash_sweep(Quantization::None, 1, 40);
    let b = crash_sweep(Quantization::U8, 2, 40);
    assert!(a + b > 1_000, "{a} + {b} images");
}

#[test]
fn changes_survive_reopening_and_checkpoints_empty_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx.evec");
    let mut rng = Rng(9);
    let mut index = builder(Quantization::I8).create(&path).unwrap();
    assert!(index.is_attached());
    for id in 0..40u64 {
        index.insert(id, &vector(&mut rng)).unwrap();
    }
    assert!(index.upsert(3, &[0.5; DIM]).unwrap());
    assert_eq!(index.delete_batch(&[1, 2, 2, 1000]).unwrap(), 2);
    assert!(!index.delete(1).unwrap());
    let want = contents(&index);
    let tombstones = index.deleted_len(); // the two deletes and the replaced vector of 3
    drop(index);

    let mut reopened = Index::open(&path).unwrap();
    let report = reopened.recovery_report().unwrap().clone();
    assert_eq!(report.records_replayed, 42, "{report:?}");
    assert_eq!(contents(&reopened), want);
    assert_eq!(reopened.deleted_len(), tombstones);

    // A checkpoint folds the log into the snapshot.
    assert_eq!(reopened.compact().unwrap(), tombstones);
    reopened.checkpoint().unwrap();
    let log = std::fs::metadata(dir.path().join("idx.evec.wal"))
        .unwrap()
        .len();
    assert!(log < 64, "log still {log} bytes");
    drop(reopened);
    let again = Index::open(&path).unwrap();
    assert_eq!(again.recovery_report().unwrap().records_replayed, 0);
    assert_eq!(contents(&again), want);
    assert_eq!(again.deleted_len(), 0);

    // Read-only opens replay in memory and write nothing.
    let ro = Index::open_read_only(&path).unwrap();
    assert!(!ro.is_attached());
    assert_eq!(contents(&ro), want);
}

#[test]
fn save_elsewhere_gives_an_independent_journal_and_save_here_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.evec");
    let b = dir.path().join("b.evec");
    let mut rng = Rng(1);
    let mut index = builder(Quantization::None).create(&a).unwrap();
    for id in 0..20u64 {
        index.insert(id, &vector(&mut rng)).unwrap();
    }
    // Saving to another path: b gets a snapshot and an empty log; index stays on a.
    index.save(&b).unwrap();
    index.insert(100, &vector(&mut rng)).unwrap();
    assert_eq!(Index::open(&b).unwrap().len(), 20);
    assert_eq!(Index::open_read_only(&a).unwrap().len(), 21);
    // Saving to its own path (spelled differently) is a checkpoint.
    let same = dir.path().join(".").join("a.evec");
    index.save(&same).unwrap();
    assert_eq!(
        Index::open_read_only(&a)
            .unwrap()
            .recovery_report()
            .unwrap()
            .records_replayed,
        0
    );
    // An old log of another index at b's path is never replayed onto b.
    let mut other = builder(Quantization::None).create(&b).unwrap();
    other.insert(7, &[1.0; DIM]).unwrap();
    // Saving over an index another handle writes to is refused.
    assert!(
        index
            .save(&b)
            .unwrap_err()
            .to_string()
            .contains("open for writing")
    );
    drop(other);
    index.save(&b).unwrap();
    let opened = Index::open(&b).unwrap();
    assert!(!opened.contains(7) || index.contains(7));
    assert_eq!(opened.len(), index.len());
}

#[test]
fn rejected_operations_log_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx.evec");
    let mut index = builder(Quantization::None)
        .metric(Metric::Cosine)
        .create(&path)
        .unwrap();
    index.insert(1, &[1.0, 0.0, 0.0, 0.0]).unwrap();
    let log_len = || {
        std::fs::metadata(dir.path().join("idx.evec.wal"))
            .unwrap()
            .len()
    };
    let before = log_len();
    assert!(index.insert(1, &[0.0, 1.0, 0.0, 0.0]).is_err()); // duplicate
    assert!(index.insert(2, &[0.0; DIM]).is_err()); // zero vector under cosine
    assert!(index.insert(2, &[f32::NAN, 0.0, 0.0, 1.0]).is_err());
    assert!(index.insert(2, &[1.0, 2.0]).is_err());
    assert!(index.insert_batch(&[2, 2], &[1.0; 2 * DIM]).is_err());
    assert!(index.upsert(2, &[0.0; DIM]).is_err());
    assert!(!index.delete(42).unwrap());
    assert_eq!(index.compact().unwrap(), 0);
    assert_eq!(
        log_len(),
        before,
        "rejected or empty operations were logged"
    );
    drop(index);
    assert_eq!(Index::open(&path).unwrap().len(), 1);
    // A detached index cannot checkpoint.
    let mut mem = builder(Quantization::None).build().unwrap();
    assert!(matches!(mem.checkpoint(), Err(Error::NotAttached)));
}

#[test]
fn a_torn_log_tail_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx.evec");
    let mut index = builder(Quantization::None).create(&path).unwrap();
    let mut rng = Rng(5);
    for id in 0..10u64 {
        index.insert(id, &vector(&mut rng)).unwrap();
    }
    drop(index);
    let wal = dir.path().join("idx.evec.wal");
    let len = std::fs::metadata(&wal).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
    f.set_len(len - 7).unwrap();
    drop(f);
    let index = Index::open(&path).unwrap();
    let report = index.recovery_report().unwrap();
    assert_eq!(report.records_replayed, 9);
    assert!(report.bytes_discarded > 0);
    assert_eq!(index.len(), 9);
    drop(index);
    // The cut is durable: the next open finds a clean log.
    let index = Index::open(&path).unwrap();
    assert_eq!(index.recovery_report().unwrap().bytes_discarded, 0);
}

#[test]
fn a_second_writer_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx.evec");
    let mut first = builder(Quantization::None).create(&path).unwrap();
    first.insert(1, &[1.0; DIM]).unwrap();
    let err = Index::open(&path).unwrap_err();
    assert!(
        err.to_string().contains("open for writing elsewhere"),
        "{err}"
    );
    // Reading needs no lock and sees every acknowledged change.
    assert_eq!(Index::open_read_only(&path).unwrap().len(), 1);
    drop(first);
    assert_eq!(Index::open(&path).unwrap().len(), 1);
}
