//! I/O that fails, then a power cut (in the style of redb's crash fuzzing). A `Directory`
//! wrapper around the crash simulator `CrashDir` makes the N-th write, truncation, sync,
//! temporary-file creation, rename or directory sync fail — or the N-th of one kind of them (N
//! and the kind from the input; optionally every operation after it too, optionally with a
//! torn prefix of the failing write reaching the file).
//! An attached index (`IndexBuilder::create_in`) runs a fuzzer-chosen workload of inserts,
//! batches, upserts, deletes, compactions, checkpoints and flushes, stopping at the first I/O
//! error (or, with a one-off failure, carrying on). A model (id → vector) records the state
//! after every operation that returned `Ok`.
//!
//! Then the directory a power cut would leave — only what was synced, everything issued, and a
//! fuzzer-chosen cut with a fuzzer-chosen subset of the unsynced operations kept or torn — is
//! opened with `Index::open_in`. It must open (once `create_in` returned), and hold the state
//! after some prefix of the workload that contains every operation that had returned before the
//! cut (with `Durability::EveryOp`; otherwise every operation before the last completed flush or
//! checkpoint), or that prefix plus an operation that failed. L2 only, integer vectors: every
//! comparison is exact.
#![no_main]

#[path = "../common.rs"]
mod common;

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

use arbitrary::Arbitrary;
use edgevec::{Durability, Error, Index, Metric, Quantization};
use edgevec_storage::{
    Backend, CrashDir, DirFile, Directory, EvecFile, Keep, MemBackend, TempFile,
};
use libfuzzer_sys::fuzz_target;

const DIM: usize = 3;
const NAME: &str = "idx.evec";

type Model = BTreeMap<u64, Vec<f32>>;

// ---------------------------------------------------------------------------------------------
// The failing directory.

/// The kinds of failing operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Io {
    Write,
    SetLen,
    Sync,
    CreateTemp,
    Publish,
    SyncDir,
}

const KINDS: [Io; 6] = [
    Io::Write,
    Io::SetLen,
    Io::Sync,
    Io::CreateTemp,
    Io::Publish,
    Io::SyncDir,
];

#[derive(Debug)]
struct Budget {
    /// Only operations of this kind count (all when `None`).
    kind: Option<Io>,
    /// Operations counted so far.
    count: usize,
    /// The operation that fails.
    fail_at: usize,
    /// Whether every operation after it fails too.
    sticky: bool,
    /// Bytes of a failing write that still reach the file.
    partial: usize,
    /// Failures injected so far.
    failures: usize,
}

impl Budget {
    fn tick(&mut self, kind: Io) -> io::Result<()> {
        if self.kind.is_some_and(|k| k != kind) {
            // Sticky failures stop every operation once one has failed.
            return if self.sticky && self.failures > 0 {
                self.failures += 1;
                Err(io::Error::other("injected failure after an earlier one"))
            } else {
                Ok(())
            };
        }
        let n = self.count;
        self.count += 1;
        if n == self.fail_at || (self.sticky && n > self.fail_at) {
            self.failures += 1;
            Err(io::Error::other(format!(
                "injected failure of operation {n}"
            )))
        } else {
            Ok(())
        }
    }
}

type Shared = Arc<Mutex<Budget>>;

fn tick(b: &Shared, kind: Io) -> io::Result<()> {
    b.lock().unwrap().tick(kind)
}

#[derive(Debug)]
struct FailDir {
    inner: CrashDir,
    budget: Shared,
}

struct FailFile {
    inner: DirFile,
    budget: Shared,
}

impl Backend for FailFile {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if let Err(e) = tick(&self.budget, Io::Write) {
            let partial = self.budget.lock().unwrap().partial;
            if partial > 0 {
                self.inner
                    .write_at(offset, &data[..partial.min(data.len())])?;
            }
            return Err(e);
        }
        self.inner.write_at(offset, data)
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        tick(&self.budget, Io::SetLen)?;
        self.inner.set_len(len)
    }
    fn sync(&mut self) -> io::Result<()> {
        tick(&self.budget, Io::Sync)?;
        self.inner.sync()
    }
}

impl FailDir {
    fn wrap(&self, f: DirFile) -> DirFile {
        Box::new(FailFile {
            inner: f,
            budget: Arc::clone(&self.budget),
        })
    }
}

/// `CrashDir` renames and removes temporary files by name only; the handle is not used.
fn by_name(temp: TempFile) -> TempFile {
    TempFile {
        file: Box::new(MemBackend::new()),
        name: temp.name,
    }
}

impl Directory for FailDir {
    fn open(&self, name: &str) -> io::Result<Option<DirFile>> {
        Ok(self.inner.open(name)?.map(|f| self.wrap(f)))
    }
    fn open_read_only(&self, name: &str) -> io::Result<Option<DirFile>> {
        Ok(self.inner.open_read_only(name)?.map(|f| self.wrap(f)))
    }
    fn read_snapshot(&self, name: &str) -> edgevec_storage::Result<Option<EvecFile>> {
        self.inner.read_snapshot(name)
    }
    fn create_temp(&mut self, name: &str) -> io::Result<TempFile> {
        tick(&self.budget, Io::CreateTemp)?;
        let t = self.inner.create_temp(name)?;
        Ok(TempFile {
            file: self.wrap(t.file),
            name: t.name,
        })
    }
    fn publish(&mut self, temp: TempFile, name: &str) -> io::Result<()> {
        tick(&self.budget, Io::Publish)?;
        self.inner.publish(by_name(temp), name)
    }
    fn sync_dir(&mut self) -> io::Result<()> {
        tick(&self.budget, Io::SyncDir)?;
        self.inner.sync_dir()
    }
    fn discard(&mut self, temp: TempFile) {
        self.inner.discard(by_name(temp));
    }
}

// ---------------------------------------------------------------------------------------------
// The workload.

#[derive(Debug, Arbitrary)]
enum Op {
    Insert(u8, [i8; DIM]),
    Batch(Vec<(u8, [i8; DIM])>),
    Upsert(u8, [i8; DIM]),
    Delete(u8),
    DeleteBatch(Vec<u8>),
    Compact,
    Checkpoint,
    Flush,
}

#[derive(Debug, Arbitrary)]
struct Case {
    /// Which kind of operation fails (every kind counts when out of range).
    fail_kind: u8,
    fail_at: u16,
    sticky: bool,
    partial: u8,
    keep_going: bool,
    durability: u8,
    quantized: bool,
    ops: Vec<Op>,
    /// The extra crash image: where to cut, and which unsynced operations survive.
    cut: u16,
    keep: u64,
}

fn row(v: &[i8; DIM]) -> Vec<f32> {
    v.iter().map(|x| f32::from(*x)).collect()
}

/// An operation that returned `Ok`, with the directory operations it spanned and the state
/// after it.
struct Done {
    start: usize,
    end: usize,
    /// Whether everything before it is durable once it returns, whatever the durability.
    barrier: bool,
    state: Model,
}

/// An operation that failed: where it started, how many operations had returned `Ok` before
/// it, and the state had it been applied.
struct Failed {
    start: usize,
    after: usize,
    state: Model,
}

/// Runs `op` on `index`; returns `Ok(Some(state))` when it succeeded (the new model), `Ok(None)`
/// when it was refused as the model predicts without touching anything, `Err(state)` (the
/// state had it been applied) when it failed.
fn run(index: &mut Index, op: &Op, model: &Model) -> Result<Option<Model>, (Error, Model)> {
    let mut next = model.clone();
    let r: Result<(), Error> = match op {
        Op::Insert(id, v) => {
            let id = u64::from(*id);
            if model.contains_key(&id) {
                let r = index.insert(id, &row(v));
                assert!(
                    matches!(r, Err(Error::Graph(_))),
                    "a duplicate insert gave {r:?}"
                );
                return Ok(None);
            }
            next.insert(id, row(v));
            index.insert(id, &row(v))
        }
        Op::Batch(items) => {
            let items = &items[..items.len().min(16)];
            let ids: Vec<u64> = items.iter().map(|(id, _)| u64::from(*id)).collect();
            let rows: Vec<f32> = items.iter().flat_map(|(_, v)| row(v)).collect();
            let unique = ids.iter().collect::<std::collections::BTreeSet<_>>().len() == ids.len();
            if !unique || ids.iter().any(|id| model.contains_key(id)) {
                let r = index.insert_batch(&ids, &rows);
                assert!(matches!(r, Err(Error::Graph(_))), "a bad batch gave {r:?}");
                return Ok(None);
            }
            for (id, v) in items {
                next.insert(u64::from(*id), row(v));
            }
            index.insert_batch(&ids, &rows)
        }
        Op::Upsert(id, v) => {
            let had = next.insert(u64::from(*id), row(v)).is_some();
            index
                .upsert(u64::from(*id), &row(v))
                .map(|replaced| assert_eq!(replaced, had))
        }
        Op::Delete(id) => {
            let had = next.remove(&u64::from(*id)).is_some();
            index
                .delete(u64::from(*id))
                .map(|deleted| assert_eq!(deleted, had))
        }
        Op::DeleteBatch(ids) => {
            let ids: Vec<u64> = ids.iter().map(|x| u64::from(*x)).collect();
            let live = ids.iter().filter(|id| next.remove(id).is_some()).count();
            index.delete_batch(&ids).map(|n| assert_eq!(n, live))
        }
        Op::Compact => index.compact().map(|_| ()),
        Op::Checkpoint => index.checkpoint().map(|_| ()),
        Op::Flush => index.flush(),
    };
    match r {
        Ok(()) => Ok(Some(next)),
        Err(e) => Err((e, next)),
    }
}

/// The state a crash image opens to (`None` when it does not open).
fn reopen(files: BTreeMap<String, Vec<u8>>) -> Result<Model, Error> {
    let index = Index::open_in(
        Box::new(CrashDir::with_files(files)),
        NAME,
        Durability::EveryOp,
    )?;
    Ok(index
        .ids()
        .into_iter()
        .map(|id| (id, index.get(id).expect("live")))
        .collect())
}

fn bits(m: &Model) -> BTreeMap<u64, Vec<u32>> {
    common::model_vectors(m)
}

/// Checks the image after a cut at directory operation `cut`.
fn check_image(
    what: &str,
    image: BTreeMap<String, Vec<u8>>,
    cut: usize,
    done: &[Done],
    failed: &[Failed],
    every_op: bool,
) {
    let created = done.first().is_some_and(|d| d.end <= cut);
    let got = match reopen(image) {
        Ok(m) => m,
        Err(e) => {
            assert!(!created, "{what} at {cut}: the index does not open: {e}");
            return;
        }
    };
    if !created {
        assert!(
            got.is_empty(),
            "{what} at {cut}: a half-created index holds data"
        );
        return;
    }
    // Every operation that had returned before the cut is in (EveryOp), or at least every one
    // before the last completed barrier; none that had not started is.
    let lo = done
        .iter()
        .rposition(|d| d.end <= cut && (every_op || d.barrier))
        .unwrap_or(0);
    let hi = done
        .iter()
        .rposition(|d| d.start < cut)
        .unwrap_or(0)
        .max(lo);
    let got = bits(&got);
    let prefix = (lo..=hi).any(|j| bits(&done[j].state) == got);
    // A failed operation may have reached the disk, but only on top of exactly the operations
    // before it, and only if no operation after it must be there.
    let phantom = failed
        .iter()
        .any(|f| f.start < cut && lo < f.after && bits(&f.state) == got);
    assert!(
        prefix || phantom,
        "{what} at {cut}: the state after no allowed prefix (ops {lo}..={hi} of {}): {:?}",
        done.len(),
        got.keys().collect::<Vec<_>>()
    );
}

fuzz_target!(|case: Case| {
    let crash = CrashDir::new();
    let kind = KINDS.get(usize::from(case.fail_kind)).copied();
    let budget = Arc::new(Mutex::new(Budget {
        kind,
        count: 0,
        fail_at: usize::from(case.fail_at) % if kind.is_some() { 64 } else { 700 },
        sticky: case.sticky,
        partial: usize::from(case.partial % 64),
        failures: 0,
    }));
    let dir = FailDir {
        inner: crash.clone(),
        budget: Arc::clone(&budget),
    };
    let durability = match case.durability % 4 {
        0 | 1 => Durability::EveryOp,
        2 => Durability::EveryN(1 + u32::from(case.durability / 4 % 4)),
        _ => Durability::OnFlush,
    };
    let every_op = durability == Durability::EveryOp;
    let quantization = if case.quantized {
        Quantization::U8
    } else {
        Quantization::None
    };

    let mut done: Vec<Done> = Vec::new();
    let mut failed: Vec<Failed> = Vec::new();
    let created = Index::builder()
        .dimensions(DIM)
        .metric(Metric::L2)
        .quantization(quantization)
        .train_size(4)
        .m(4)
        .ef_construction(16)
        .threads(1)
        .seed(7)
        .durability(durability)
        .create_in(Box::new(dir), NAME);
    if let Ok(mut index) = created {
        done.push(Done {
            start: 0,
            end: crash.op_count(),
            barrier: true,
            state: Model::new(),
        });
        for op in case.ops.iter().take(40) {
            let model = done.last().unwrap().state.clone();
            let start = crash.op_count();
            let failures = budget.lock().unwrap().failures;
            match run(&mut index, op, &model) {
                Ok(Some(state)) => done.push(Done {
                    start,
                    end: crash.op_count(),
                    barrier: matches!(op, Op::Checkpoint | Op::Flush),
                    state,
                }),
                Ok(None) => {}
                Err((e, state)) => {
                    assert!(
                        failures > 0 || budget.lock().unwrap().failures > failures,
                        "{op:?} failed with no I/O failure: {e}"
                    );
                    assert!(matches!(e, Error::Storage(_)), "{op:?}: {e}");
                    failed.push(Failed {
                        start,
                        after: done.len(),
                        state,
                    });
                    if !case.keep_going || case.sticky {
                        break;
                    }
                }
            }
            // The index in memory holds exactly the state after the operations that returned.
            assert_eq!(
                common::contents(&index).vectors,
                bits(&done.last().unwrap().state),
                "in memory after {op:?}"
            );
        }
        drop(index);
    }

    let n = crash.op_count();
    check_image(
        "durable image",
        crash.durable_image(n),
        n,
        &done,
        &failed,
        every_op,
    );
    check_image(
        "all-kept image",
        crash.crash_image(n, |_, _| Keep::All),
        n,
        &done,
        &failed,
        every_op,
    );
    let cut = usize::from(case.cut) % (n + 1);
    let mut rng = common::Rng(case.keep);
    let image = crash.crash_image(cut, |_, _| match rng.next() % 4 {
        0 => Keep::Drop,
        1 => Keep::Prefix((rng.next() % 64) as usize),
        _ => Keep::All,
    });
    check_image("chosen image", image, cut, &done, &failed, every_op);
});
