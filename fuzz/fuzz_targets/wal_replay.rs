//! Fuzz bytes as the write-ahead log beside a valid snapshot (a fixed lineage, so inputs
//! replay the same way in every run). The log is the raw input, a valid header followed by the
//! input, a valid log cut at a record boundary followed by the input, or records built from the
//! input with valid checksums (ids, rows, sequence numbers, kinds and damage chosen by the
//! fuzzer), so that replay itself is exercised, not only the checksums.
//!
//! Checked:
//! - `wal::LogHeader::read` + `wal::scan` on the raw bytes never panic and agree with a
//!   reference reader written from docs/FORMAT.md (records, where the valid log ends, why);
//! - `Index::open_in` returns exactly what a model predicts from those records: the typed
//!   error for a log that cannot be replayed (bad header, a gap, corruption, a record the index
//!   refuses), else the snapshot plus every record after its `LOG_STATE`, and a recovery report
//!   that says so;
//! - the recovered index accepts one more insert and reopens to the same state plus that insert.
#![no_main]

#[path = "../common.rs"]
mod common;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use common::Rng;
use edgevec::{Error, Index, Metric, Quantization};
use edgevec_storage::wal::{LOG_HEADER_LEN, LOG_VERSION, LogHeader, scan, write_record};
use edgevec_storage::{
    CrashDir, Durability, EvecFile, FormatVersion, LogOp, MemBackend, Section, StorageError,
    TailDefect, journal,
};
use libfuzzer_sys::fuzz_target;

const LINEAGE: u64 = 0x5EED_0000_0F1E_D06E;
const NAME: &str = "idx.evec";
const LOG: &str = "idx.evec.wal";

type Model = BTreeMap<u64, Vec<f32>>;

struct Setup {
    dim: usize,
    metric: Metric,
    snapshot: Vec<u8>,
    last_seq: u64,
    state: Model,
    /// A valid log continuing the snapshot, and where each of its records ends.
    log: Vec<u8>,
    ends: Vec<usize>,
}

fn setup(dim: usize, quantization: Quantization, train_size: usize, n: u64, seed: u64) -> Setup {
    let metric = Metric::L2;
    let mut index = Index::builder()
        .dimensions(dim)
        .metric(metric)
        .quantization(quantization)
        .train_size(train_size)
        .m(4)
        .ef_construction(16)
        .threads(1)
        .seed(seed)
        .build()
        .expect("settings");
    let mut rng = Rng(seed);
    let mut state = Model::new();
    for id in 0..n {
        let v = rng.vector(dim);
        index.insert(id * 3, &v).expect("insert");
        state.insert(id * 3, v);
    }
    for id in (0..n).step_by(4) {
        index.delete(id * 3).expect("delete");
        state.remove(&(id * 3));
    }
    // The snapshot, written by the journal with a fixed lineage: LOG_STATE says records up to
    // `last_seq` are included.
    let bytes = index.to_bytes().expect("to_bytes");
    let file = EvecFile::from_bytes(&bytes).expect("verifies");
    let sections: Vec<Section<'_>> = (0..file.sections().len())
        .map(|i| Section::bytes(file.sections()[i].kind, file.section(i).unwrap()))
        .collect();
    let last_seq = 5;
    let mut dir = CrashDir::new();
    journal::write_snapshot(&mut dir, NAME, &sections, LINEAGE, last_seq).expect("snapshot");
    let snapshot = dir.files()[NAME].clone();

    // A valid log: a batch insert, an upsert, a delete, a compact, an insert.
    let mut b = MemBackend::new();
    let header = LogHeader {
        version: LOG_VERSION,
        lineage: LINEAGE,
        base_seq: last_seq + 1,
    };
    use edgevec_storage::Backend;
    b.write_at(0, &header.to_bytes()).unwrap();
    let mut at = LOG_HEADER_LEN as u64;
    let mut ends = vec![at as usize];
    let rows: Vec<f32> = (0..2).flat_map(|_| rng.vector(dim)).collect();
    let upsert = rng.vector(dim);
    let one = rng.vector(dim);
    let ops = [
        LogOp::Insert {
            ids: Cow::Owned(vec![1000, 1001]),
            dim: dim as u32,
            rows: Cow::Owned(rows),
        },
        LogOp::Upsert {
            ids: Cow::Owned(vec![3]),
            dim: dim as u32,
            rows: Cow::Owned(upsert),
        },
        LogOp::Delete {
            ids: Cow::Owned(vec![1000, 6]),
        },
        LogOp::Compact,
        LogOp::Insert {
            ids: Cow::Owned(vec![1002]),
            dim: dim as u32,
            rows: Cow::Owned(one),
        },
    ];
    for (i, op) in ops.iter().enumerate() {
        at = write_record(&mut b, at, LINEAGE, last_seq + 1 + i as u64, op).unwrap();
        ends.push(at as usize);
    }
    Setup {
        dim,
        metric,
        snapshot,
        last_seq,
        state,
        log: b.into_vec(),
        ends,
    }
}

fn setups() -> &'static [Setup] {
    static S: OnceLock<Vec<Setup>> = OnceLock::new();
    S.get_or_init(|| {
        vec![
            setup(4, Quantization::None, 16, 12, 1),
            // Quantized, still collecting training vectors: replay crosses the training.
            setup(3, Quantization::U8, 8, 6, 2),
            // Quantized and trained.
            setup(3, Quantization::U8, 4, 10, 3),
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// A reference reader, from docs/FORMAT.md alone.

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Insert(Vec<u64>, u32, Vec<u32>),
    Upsert(Vec<u64>, u32, Vec<u32>),
    Delete(Vec<u64>),
    Compact,
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn ref_decode(kind: u32, p: &[u8]) -> Option<Op> {
    let u64s = |b: &[u8]| b.chunks_exact(8).map(|c| le64(c, 0)).collect::<Vec<_>>();
    match kind {
        1 | 2 => {
            if p.len() < 16 || le32(p, 12) != 0 {
                return None;
            }
            let (n, dim) = (le64(p, 0) as u128, u128::from(le32(p, 8)));
            if 16 + 8 * n + 4 * n * dim != p.len() as u128 {
                return None;
            }
            let ids = u64s(&p[16..16 + 8 * n as usize]);
            let rows = p[16 + 8 * n as usize..]
                .chunks_exact(4)
                .map(|c| le32(c, 0))
                .collect();
            Some(if kind == 1 {
                Op::Insert(ids, dim as u32, rows)
            } else {
                Op::Upsert(ids, dim as u32, rows)
            })
        }
        3 => {
            if p.len() < 8 || 8 + 8 * u128::from(le64(p, 0)) != p.len() as u128 {
                return None;
            }
            Some(Op::Delete(u64s(&p[8..])))
        }
        4 => p.is_empty().then_some(Op::Compact),
        _ => None,
    }
}

/// What reading a log finds: its records (seq, op), where the valid part ends and why reading
/// stopped, or `Err` for a record whose checksum is right but whose contents are not.
#[derive(Debug, PartialEq)]
struct Read {
    records: Vec<(u64, Op)>,
    valid_end: u64,
    tail: Option<TailDefect>,
}

fn ref_scan(log: &[u8], lineage: u64, base_seq: u64) -> Result<Read, ()> {
    let mut at = LOG_HEADER_LEN;
    let mut next = u128::from(base_seq);
    let mut records = Vec::new();
    let done = |records, at: usize, tail| {
        Ok(Read {
            records,
            valid_end: at as u64,
            tail,
        })
    };
    loop {
        let left = log.len().saturating_sub(at);
        if left == 0 {
            return done(records, at, None);
        }
        if left < 24 || u128::from(le64(log, at + 16)) > (left - 24) as u128 {
            return done(records, at, Some(TailDefect::Incomplete));
        }
        let len = le64(log, at + 16) as usize;
        let mut h = crc32fast::Hasher::new();
        h.update(&lineage.to_le_bytes());
        h.update(&log[at + 4..at + 24 + len]);
        if h.finalize() != le32(log, at) {
            return done(records, at, Some(TailDefect::ChecksumMismatch));
        }
        let seq = le64(log, at + 8);
        // No record is numbered u64::MAX (none could follow it).
        if u128::from(seq) != next || seq == u64::MAX {
            return Err(());
        }
        let op = ref_decode(le32(log, at + 4), &log[at + 24..at + 24 + len]).ok_or(())?;
        records.push((seq, op));
        next += 1;
        at += 24 + len;
    }
}

fn to_op(op: &LogOp<'_>) -> Op {
    let bits = |r: &[f32]| r.iter().map(|x| x.to_bits()).collect();
    match op {
        LogOp::Insert { ids, dim, rows } => Op::Insert(ids.to_vec(), *dim, bits(rows)),
        LogOp::Upsert { ids, dim, rows } => Op::Upsert(ids.to_vec(), *dim, bits(rows)),
        LogOp::Delete { ids } => Op::Delete(ids.to_vec()),
        LogOp::Compact => Op::Compact,
        _ => unreachable!("a log op this target does not know"),
    }
}

/// `scan` on the raw bytes against the reference reader.
fn check_scan(log: &[u8]) {
    let b = MemBackend::from_vec(log.to_vec());
    let Ok(header) = LogHeader::read(&b) else {
        return;
    };
    assert!(log.len() >= LOG_HEADER_LEN);
    assert!(header.base_seq >= 1);
    let mut got = Vec::new();
    let scanned = scan::<_, StorageError>(&b, &header, |r| {
        got.push((r.seq, to_op(&r.op), r.offset));
        Ok(())
    });
    let want = ref_scan(log, header.lineage, header.base_seq);
    match (scanned, want) {
        (Ok(s), Ok(w)) => {
            let recs: Vec<(u64, Op)> = got.iter().map(|(s, o, _)| (*s, o.clone())).collect();
            assert_eq!(recs, w.records);
            assert_eq!(s.records, w.records.len() as u64);
            assert_eq!(s.valid_end, w.valid_end);
            assert_eq!(s.tail, w.tail);
            assert_eq!(s.file_len, log.len() as u64);
            assert_eq!(
                u128::from(s.next_seq),
                u128::from(header.base_seq) + recs.len() as u128
            );
        }
        (Err(_), Err(())) => {}
        (s, w) => panic!("scan {s:?}, reference {w:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The model of replay.

fn valid(metric: Metric, dim: usize, row: &[f32]) -> bool {
    edgevec::graph::check_vector(row, dim, metric).is_ok()
}

/// Applies one record as the index does; `None` when the index must refuse it.
fn apply(s: &Setup, m: &mut Model, op: &Op) -> Option<()> {
    let rows = |dim: u32, r: &[u32]| -> Option<Vec<Vec<f32>>> {
        (dim as usize == s.dim).then(|| {
            r.chunks_exact(s.dim)
                .map(|c| c.iter().map(|b| f32::from_bits(*b)).collect())
                .collect()
        })
    };
    match op {
        Op::Insert(ids, dim, r) => {
            let rows = rows(*dim, r)?;
            let mut seen = std::collections::BTreeSet::new();
            for (id, row) in ids.iter().zip(&rows) {
                if m.contains_key(id) || !seen.insert(*id) || !valid(s.metric, s.dim, row) {
                    return None;
                }
            }
            m.extend(ids.iter().copied().zip(rows));
        }
        Op::Upsert(ids, dim, r) => {
            for (id, row) in ids.iter().zip(rows(*dim, r)?) {
                if !valid(s.metric, s.dim, &row) {
                    return None;
                }
                m.insert(*id, row);
            }
        }
        Op::Delete(ids) => {
            for id in ids {
                m.remove(id);
            }
        }
        Op::Compact => {}
    }
    Some(())
}

#[derive(Debug)]
struct Expected {
    state: Model,
    replayed: u64,
    skipped: u64,
    discarded: u64,
    stale: bool,
}

/// What opening the snapshot with `log` beside it must give; `None` for an error.
fn expect(s: &Setup, log: &[u8]) -> Option<Expected> {
    let header = LogHeader::read(&MemBackend::from_vec(log.to_vec())).ok()?;
    let mut e = Expected {
        state: s.state.clone(),
        replayed: 0,
        skipped: 0,
        discarded: 0,
        stale: false,
    };
    if header.lineage != LINEAGE {
        e.stale = true;
        return Some(e);
    }
    if header.base_seq > s.last_seq + 1 {
        return None;
    }
    let read = ref_scan(log, header.lineage, header.base_seq).ok()?;
    for (seq, op) in &read.records {
        if *seq <= s.last_seq {
            e.skipped += 1;
        } else {
            e.replayed += 1;
            apply(s, &mut e.state, op)?;
        }
    }
    e.discarded = log.len() as u64 - read.valid_end;
    Some(e)
}

// ---------------------------------------------------------------------------------------------
// Fuzz input.

#[derive(Debug, Arbitrary)]
enum Value {
    Small(i8),
    Any(u32),
}

#[derive(Debug, Arbitrary)]
enum RecordSpec {
    Insert {
        ids: Vec<u8>,
        values: Vec<Value>,
        wrong_dim: bool,
    },
    Upsert {
        ids: Vec<u8>,
        values: Vec<Value>,
        wrong_dim: bool,
    },
    Delete(Vec<u8>),
    Compact,
}

#[derive(Debug, Arbitrary)]
struct Built {
    /// How far before the snapshot's end the log starts (0 = right after it).
    back: u8,
    /// A header field to damage: (field, value).
    header: Option<(u8, u64)>,
    records: Vec<(RecordSpec, i8)>,
    /// Bytes to flip after building: (position, xor).
    flips: Vec<(u16, u8)>,
    tail: Vec<u8>,
}

/// `n` rows of `dim` values cycled from `values` (1.0 when there are none).
fn values(n: usize, dim: usize, values: &[Value]) -> Vec<f32> {
    (0..n * dim)
        .map(|i| match values.get(i % values.len().max(1)) {
            None => 1.0,
            Some(Value::Small(x)) => f32::from(*x) + (i % 3) as f32,
            Some(Value::Any(bits)) => f32::from_bits(*bits),
        })
        .collect()
}

fn build(s: &Setup, b: &Built) -> Vec<u8> {
    let base_seq = (s.last_seq + 1)
        .saturating_sub(u64::from(b.back % 8))
        .max(1);
    let mut header = LogHeader {
        version: LOG_VERSION,
        lineage: LINEAGE,
        base_seq,
    };
    if let Some((field, v)) = b.header {
        match field % 3 {
            0 => header.base_seq = v,
            1 => header.lineage = v,
            _ => {
                header.version = FormatVersion {
                    major: (v >> 16) as u16,
                    minor: v as u16,
                }
            }
        }
    }
    let mut out = MemBackend::new();
    use edgevec_storage::Backend;
    out.write_at(0, &header.to_bytes()).unwrap();
    let mut at = LOG_HEADER_LEN as u64;
    let mut seq = header.base_seq;
    for (spec, delta) in b.records.iter().take(12) {
        let ids = |v: &[u8]| -> Vec<u64> { v.iter().map(|x| u64::from(*x)).collect() };
        let op = match spec {
            RecordSpec::Insert {
                ids: i,
                values: v,
                wrong_dim,
            }
            | RecordSpec::Upsert {
                ids: i,
                values: v,
                wrong_dim,
            } => {
                let dim = if *wrong_dim { s.dim + 1 } else { s.dim };
                let ids = ids(&i[..i.len().min(8)]);
                let rows = values(ids.len(), dim, v);
                let (ids, dim, rows) = (Cow::Owned(ids), dim as u32, Cow::Owned(rows));
                if matches!(spec, RecordSpec::Insert { .. }) {
                    LogOp::Insert { ids, dim, rows }
                } else {
                    LogOp::Upsert { ids, dim, rows }
                }
            }
            RecordSpec::Delete(i) => LogOp::Delete {
                ids: Cow::Owned(ids(i)),
            },
            RecordSpec::Compact => LogOp::Compact,
        };
        // A delta of 0 most of the time: the fuzzer picks when to break the sequence.
        let this = seq.wrapping_add(*delta as u64 & if *delta % 7 == 0 { !0 } else { 0 });
        match write_record(&mut out, at, header.lineage, this, &op) {
            Ok(end) => at = end,
            Err(_) => continue,
        }
        seq = this.wrapping_add(1);
    }
    let mut bytes = out.into_vec();
    for (p, x) in b.flips.iter().take(4) {
        if !bytes.is_empty() {
            let p = usize::from(*p) % bytes.len();
            bytes[p] ^= x;
        }
    }
    bytes.extend_from_slice(&b.tail);
    bytes
}

fn open(files: BTreeMap<String, Vec<u8>>) -> (CrashDir, Result<Index, Error>) {
    let dir = CrashDir::with_files(files);
    let r = Index::open_in(Box::new(dir.clone()), NAME, Durability::EveryOp);
    (dir, r)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let all = setups();
    let s = &all[usize::from(data[1]) % all.len()];
    let rest = &data[2..];
    let log: Vec<u8> = match data[0] % 4 {
        0 => rest.to_vec(),
        1 => {
            let mut l = s.log[..LOG_HEADER_LEN].to_vec();
            l.extend_from_slice(rest);
            l
        }
        2 => {
            let (cut, rest) = rest.split_first().unwrap_or((&0, &[]));
            let mut l = s.log[..s.ends[usize::from(*cut) % s.ends.len()]].to_vec();
            l.extend_from_slice(rest);
            l
        }
        _ => match Built::arbitrary_take_rest(Unstructured::new(rest)) {
            Ok(b) => build(s, &b),
            Err(_) => return,
        },
    };

    check_scan(&log);

    let files = BTreeMap::from([
        (NAME.to_owned(), s.snapshot.clone()),
        (LOG.to_owned(), log.clone()),
    ]);
    let expected = expect(s, &log);
    let (dir, opened) = open(files);
    let mut again = match (opened, expected) {
        (Err(_), None) => return,
        (Ok(mut index), Some(e)) => {
            let c = common::contents(&index);
            assert_eq!(c.vectors, common::model_vectors(&e.state), "replayed state");
            let r = index.recovery_report().expect("a report");
            assert_eq!(r.snapshot_seq, s.last_seq);
            assert_eq!(r.records_replayed, e.replayed);
            assert_eq!(r.records_skipped, e.skipped);
            assert_eq!(r.bytes_discarded, e.discarded);
            assert_eq!(r.stale_log_replaced, e.stale);
            let mut state = e.state;
            // One more insert, then the same state again on reopening.
            let id = 1 << 40;
            let v = vec![0.5f32; s.dim];
            index
                .insert(id, &v)
                .expect("the recovered index accepts an insert");
            state.insert(id, v);
            drop(index);
            let (_, again) = open(dir.files());
            let again = again.expect("the recovered index reopens");
            assert_eq!(
                common::contents(&again).vectors,
                common::model_vectors(&state)
            );
            again
        }
        (Ok(_), None) => panic!("opened a log the model says cannot be replayed"),
        (Err(e), Some(x)) => panic!("open failed ({e}) where the model expects {x:?}"),
    };
    assert!(common::check_searches(&again, &vec![1.0; s.dim]));
    let _ = again.delete(1 << 40);
});
