//! Valid indexes (every metric, every quantization, deletes, a compacted one, a quantized one
//! still collecting training vectors, an empty one), serialized with `to_bytes`, then damaged:
//!
//! - section-level edits re-framed with valid checksums (drop, duplicate, reorder, change the
//!   kind of, truncate, extend or overwrite bytes of a section, or take a section from another
//!   index), which reach the facade's own validation in `persist.rs`;
//! - then raw edits of the bytes (bit flips, byte and word sets, truncation, extension,
//!   insertion, removal, swapped section table entries or payload ranges).
//!
//! `Index::from_bytes` must then give a typed error or the right data:
//! - bytes that fail `verify_bytes` never open;
//! - bytes whose sections (first of each kind the facade reads) hold the original payloads open
//!   to exactly the original contents (ids, vector bits, len, deleted_len);
//! - anything else that opens is sane (`common::check_sane`: consistent listings, searches
//!   return live ids, save + open keeps the contents).
#![no_main]

#[path = "../common.rs"]
mod common;

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use common::{Contents, Rng};
use edgevec::{Index, Metric, Quantization};
use edgevec_storage::{EvecFile, MemBackend, Section, SectionKind, verify_bytes, write_file};
use libfuzzer_sys::fuzz_target;

/// One valid index, serialized.
struct Fixture {
    bytes: Vec<u8>,
    contents: Contents,
    /// The sections, in file order.
    sections: Vec<(SectionKind, Vec<u8>)>,
}

/// The section kinds the facade reads.
const FACADE_KINDS: [SectionKind; 7] = [
    SectionKind::PARAMS,
    SectionKind::F32_ROWS,
    SectionKind::ID_MAP,
    SectionKind::GRAPH_ADJACENCY,
    SectionKind::TOMBSTONES,
    SectionKind::CODEC_PARAMS,
    SectionKind::CODES,
];

struct Spec {
    metric: Metric,
    quantization: Quantization,
    n: usize,
    dim: usize,
    train_size: usize,
    deletes: usize,
    compact: bool,
    batch: bool,
}

const fn spec(metric: Metric, quantization: Quantization, n: usize, dim: usize) -> Spec {
    Spec {
        metric,
        quantization,
        n,
        dim,
        train_size: 16,
        deletes: 0,
        compact: false,
        batch: false,
    }
}

fn specs() -> Vec<Spec> {
    use Metric::{Cosine, Dot, L2};
    use Quantization::{Binary, I8, None, U8};
    vec![
        Spec {
            deletes: 10,
            ..spec(L2, None, 60, 8)
        },
        Spec {
            deletes: 5,
            batch: true,
            ..spec(Cosine, None, 40, 5)
        },
        Spec {
            deletes: 12,
            compact: true,
            ..spec(Dot, None, 50, 16)
        },
        Spec {
            deletes: 7,
            train_size: 32,
            ..spec(L2, U8, 100, 8)
        },
        Spec {
            batch: true,
            ..spec(Cosine, U8, 64, 6)
        },
        Spec {
            deletes: 9,
            ..spec(Dot, I8, 80, 12)
        },
        Spec {
            deletes: 3,
            compact: true,
            ..spec(Cosine, I8, 30, 4)
        },
        Spec {
            deletes: 20,
            batch: true,
            ..spec(L2, Binary, 120, 16)
        },
        spec(Dot, Binary, 40, 9),
        // A quantized index still collecting training vectors (no graph section).
        Spec {
            train_size: 1024,
            deletes: 4,
            ..spec(L2, U8, 20, 8)
        },
        // Empty.
        spec(L2, None, 0, 3),
        // Everything deleted, not compacted.
        Spec {
            deletes: 3,
            ..spec(L2, None, 3, 2)
        },
        Spec {
            deletes: 30,
            train_size: 64,
            ..spec(Cosine, Binary, 200, 16)
        },
    ]
}

fn build(i: usize, s: &Spec) -> Fixture {
    let mut index = Index::builder()
        .dimensions(s.dim)
        .metric(s.metric)
        .quantization(s.quantization)
        .m(4)
        .ef_construction(32)
        .train_size(s.train_size)
        .threads(1)
        .seed(i as u64)
        .build()
        .expect("valid settings");
    let mut rng = Rng(1000 + i as u64);
    let ids: Vec<u64> = (0..s.n as u64).map(|k| k * 7 + (rng.next() % 5)).collect();
    let rows: Vec<f32> = (0..s.n).flat_map(|_| rng.vector(s.dim)).collect();
    if s.batch {
        index.insert_batch(&ids, &rows).expect("insert batch");
    } else {
        for (id, row) in ids.iter().zip(rows.chunks_exact(s.dim)) {
            index.insert(*id, row).expect("insert");
        }
    }
    for id in ids.iter().step_by(3).take(s.deletes) {
        assert!(index.delete(*id).expect("delete"));
    }
    if s.compact {
        index.compact().expect("compact");
    }
    let bytes = index.to_bytes().expect("to_bytes");
    let file = EvecFile::from_bytes(&bytes).expect("a fixture verifies");
    let sections = file
        .sections()
        .iter()
        .enumerate()
        .map(|(k, info)| (info.kind, file.section(k).unwrap().to_vec()))
        .collect();
    let contents = common::contents(&index);
    let back = Index::from_bytes(&bytes).expect("a fixture opens");
    assert_eq!(common::contents(&back), contents);
    Fixture {
        bytes,
        contents,
        sections,
    }
}

fn fixtures() -> &'static [Fixture] {
    static F: OnceLock<Vec<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        specs()
            .iter()
            .enumerate()
            .map(|(i, s)| build(i, s))
            .collect()
    })
}

#[derive(Debug, Arbitrary)]
enum SectionEdit {
    Drop(u8),
    Duplicate(u8),
    Swap(u8, u8),
    Kind(u8, u32),
    SetByte {
        section: u8,
        at: u16,
        value: u8,
    },
    SetU32 {
        section: u8,
        at: u16,
        value: u32,
    },
    SetU64 {
        section: u8,
        at: u16,
        value: u64,
    },
    Truncate {
        section: u8,
        len: u16,
    },
    Append {
        section: u8,
        bytes: Vec<u8>,
    },
    /// The payload of the same kind from another fixture.
    Transplant {
        section: u8,
        from: u8,
    },
}

#[derive(Debug, Arbitrary)]
enum RawEdit {
    FlipBit {
        at: u16,
        bit: u8,
    },
    SetByte {
        at: u16,
        value: u8,
    },
    SetU64 {
        at: u16,
        value: u64,
    },
    Truncate {
        len: u16,
    },
    Extend(Vec<u8>),
    Insert {
        at: u16,
        bytes: Vec<u8>,
    },
    Remove {
        at: u16,
        n: u8,
    },
    /// Swaps two section table entries.
    SwapEntries(u8, u8),
    /// Swaps the first bytes of two sections' payloads.
    SwapPayloads(u8, u8),
    /// Swaps two byte ranges.
    SwapRanges {
        a: u16,
        b: u16,
        len: u16,
    },
}

#[derive(Debug, Arbitrary)]
struct Case {
    fixture: u8,
    sections: Vec<SectionEdit>,
    raw: Vec<RawEdit>,
}

/// `at` wrapped into `0..len` (`len > 0`).
fn pos(at: u16, len: usize) -> usize {
    usize::from(at) % len
}

fn pick<T>(v: &[T], i: u8) -> Option<usize> {
    (!v.is_empty()).then(|| usize::from(i) % v.len())
}

fn put(payload: &mut [u8], at: u16, value: &[u8]) {
    if payload.len() >= value.len() {
        let at = pos(at, payload.len() - value.len() + 1);
        payload[at..at + value.len()].copy_from_slice(value);
    }
}

fn edit_sections(s: &mut Vec<(SectionKind, Vec<u8>)>, e: &SectionEdit, all: &[Fixture]) {
    match *e {
        SectionEdit::Drop(i) => {
            if let Some(i) = pick(s, i) {
                s.remove(i);
            }
        }
        SectionEdit::Duplicate(i) => {
            if let Some(i) = pick(s, i) {
                let c = s[i].clone();
                s.insert(i, c);
            }
        }
        SectionEdit::Swap(a, b) => {
            if let (Some(a), Some(b)) = (pick(s, a), pick(s, b)) {
                s.swap(a, b);
            }
        }
        SectionEdit::Kind(i, kind) => {
            if let Some(i) = pick(s, i) {
                s[i].0 = SectionKind(kind % 12);
            }
        }
        SectionEdit::SetByte { section, at, value } => {
            if let Some(i) = pick(s, section) {
                put(&mut s[i].1, at, &[value]);
            }
        }
        SectionEdit::SetU32 { section, at, value } => {
            if let Some(i) = pick(s, section) {
                put(&mut s[i].1, at, &value.to_le_bytes());
            }
        }
        SectionEdit::SetU64 { section, at, value } => {
            if let Some(i) = pick(s, section) {
                put(&mut s[i].1, at, &value.to_le_bytes());
            }
        }
        SectionEdit::Truncate { section, len } => {
            if let Some(i) = pick(s, section) {
                let p = &mut s[i].1;
                let len = usize::from(len) % (p.len() + 1);
                p.truncate(len);
            }
        }
        SectionEdit::Append { section, ref bytes } => {
            if let Some(i) = pick(s, section) {
                s[i].1.extend_from_slice(bytes);
            }
        }
        SectionEdit::Transplant { section, from } => {
            if let (Some(i), Some(f)) = (pick(s, section), pick(all, from)) {
                let kind = s[i].0;
                if let Some((_, p)) = all[f].sections.iter().find(|(k, _)| *k == kind) {
                    s[i].1 = p.clone();
                }
            }
        }
    }
}

/// Payload ranges of a valid file, in table order.
fn payload_ranges(bytes: &[u8]) -> Vec<(usize, usize)> {
    match verify_bytes(bytes) {
        Ok(summary) => summary
            .sections
            .iter()
            .map(|s| (s.offset as usize, s.length as usize))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn edit_raw(b: &mut Vec<u8>, e: &RawEdit, ranges: &[(usize, usize)], entries: usize) {
    match *e {
        RawEdit::FlipBit { at, bit } => {
            if !b.is_empty() {
                let at = pos(at, b.len());
                b[at] ^= 1 << (bit % 8);
            }
        }
        RawEdit::SetByte { at, value } => put(b, at, &[value]),
        RawEdit::SetU64 { at, value } => put(b, at, &value.to_le_bytes()),
        RawEdit::Truncate { len } => {
            let len = usize::from(len) % (b.len() + 1);
            b.truncate(len);
        }
        RawEdit::Extend(ref bytes) => b.extend_from_slice(bytes),
        RawEdit::Insert { at, ref bytes } => {
            let at = pos(at, b.len() + 1);
            b.splice(at..at, bytes.iter().copied());
        }
        RawEdit::Remove { at, n } => {
            if !b.is_empty() {
                let at = pos(at, b.len());
                let end = (at + usize::from(n)).min(b.len());
                b.drain(at..end);
            }
        }
        RawEdit::SwapEntries(x, y) => {
            if entries > 0 {
                let (x, y) = (usize::from(x) % entries, usize::from(y) % entries);
                let (ax, ay) = (64 + 32 * x, 64 + 32 * y);
                if x != y && ax.max(ay) + 32 <= b.len() {
                    for k in 0..32 {
                        b.swap(ax + k, ay + k);
                    }
                }
            }
        }
        RawEdit::SwapPayloads(x, y) => {
            if let (Some(x), Some(y)) = (pick(ranges, x), pick(ranges, y)) {
                let ((ox, lx), (oy, ly)) = (ranges[x], ranges[y]);
                let n = lx.min(ly);
                let disjoint = ox + n <= oy || oy + n <= ox;
                if x != y && disjoint && ox.max(oy) + n <= b.len() {
                    for k in 0..n {
                        b.swap(ox + k, oy + k);
                    }
                }
            }
        }
        RawEdit::SwapRanges { a, b: c, len } => {
            if !b.is_empty() {
                let (x, y) = (pos(a, b.len()), pos(c, b.len()));
                let (lo, hi) = (x.min(y), x.max(y));
                let n = usize::from(len).min(hi - lo).min(b.len() - hi);
                for k in 0..n {
                    b.swap(lo + k, hi + k);
                }
            }
        }
    }
}

/// The first payload of each kind the facade reads (`None` where there is none).
fn facade_payloads(sections: &[(SectionKind, &[u8])]) -> Vec<Option<Vec<u8>>> {
    FACADE_KINDS
        .iter()
        .map(|k| {
            sections
                .iter()
                .find(|(kind, _)| kind == k)
                .map(|(_, p)| p.to_vec())
        })
        .collect()
}

fuzz_target!(|case: Case| {
    let all = fixtures();
    let fx = &all[usize::from(case.fixture) % all.len()];

    // Section-level edits, re-framed with valid checksums.
    let mut bytes = if case.sections.is_empty() {
        fx.bytes.clone()
    } else {
        let mut s = fx.sections.clone();
        for e in case.sections.iter().take(8) {
            edit_sections(&mut s, e, all);
        }
        let framed: Vec<Section<'_>> = s.iter().map(|(k, p)| Section::bytes(*k, p)).collect();
        let mut out = MemBackend::new();
        if write_file(&mut out, &framed).is_err() {
            // Refused by the writer (kind 0, F32_ROWS not a multiple of 4): nothing to read.
            return;
        }
        out.into_vec()
    };

    // Raw edits.
    let ranges = payload_ranges(&bytes);
    for e in case.raw.iter().take(16) {
        edit_raw(&mut bytes, e, &ranges, ranges.len());
    }

    let verified = verify_bytes(&bytes);
    let opened = Index::from_bytes(&bytes);
    let Ok(summary) = verified else {
        assert!(opened.is_err(), "bytes that fail verification opened");
        return;
    };
    let file = EvecFile::from_bytes(&bytes).expect("verified bytes open as a file");
    assert_eq!(file.summary(), &summary);
    let sections: Vec<(SectionKind, &[u8])> = (0..file.sections().len())
        .map(|i| (file.sections()[i].kind, file.section(i).unwrap()))
        .collect();
    let original: Vec<(SectionKind, &[u8])> =
        fx.sections.iter().map(|(k, p)| (*k, &p[..])).collect();
    let same_payloads = facade_payloads(&sections) == facade_payloads(&original);
    match opened {
        Ok(index) => {
            let c = common::check_sane(&index);
            if same_payloads {
                assert_eq!(
                    c, fx.contents,
                    "the original payloads opened to other contents"
                );
            }
        }
        Err(e) => {
            assert!(!same_payloads, "the original payloads failed to open: {e}");
        }
    }
});
