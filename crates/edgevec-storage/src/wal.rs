//! The write-ahead log: a header and CRC-framed, sequence-numbered records (docs/FORMAT.md,
//! "The write-ahead log").
//!
//! Records are appended at the end and synced according to the caller's durability policy.
//! Reading stops at the first record that is incomplete or fails its checksum: that is the
//! torn tail a crash leaves, and [`scan`] reports where the valid log ends. A record whose
//! checksum is right but whose contents are not (a wrong sequence number, an unknown kind, a
//! payload of the wrong length) cannot come from a crash and is reported as corruption.

use std::borrow::Cow;

use crate::backend::Backend;
use crate::error::{Defect, Region, Result, StorageError};
use crate::format::FormatVersion;

/// The 8-byte magic at the start of a log file, PNG style like the `.evec` magic.
pub const LOG_MAGIC: [u8; 8] = *b"\x89EVL\r\n\x1a\n";
/// The log format version this crate writes and reads (same major).
pub const LOG_VERSION: FormatVersion = FormatVersion { major: 1, minor: 0 };

/// Offset of the log header's major version (`u16`).
pub const L_MAJOR: usize = 8;
/// Offset of the log header's minor version (`u16`).
pub const L_MINOR: usize = L_MAJOR + 2;
/// Offset of the log header flags (`u32`, zero).
pub const L_FLAGS: usize = L_MINOR + 2;
/// Offset of the lineage (`u64`): the id shared by a snapshot and its logs.
pub const L_LINEAGE: usize = L_FLAGS + 4;
/// Offset of the base sequence number (`u64`): the sequence number of the first record.
pub const L_BASE_SEQ: usize = L_LINEAGE + 8;
/// Offset of the reserved word (`u32`, zero).
pub const L_RESERVED: usize = L_BASE_SEQ + 8;
/// Offset of the header CRC32 (`u32`) of bytes `[0, L_CRC)`.
pub const L_CRC: usize = L_RESERVED + 4;
/// Length of the log header.
pub const LOG_HEADER_LEN: usize = L_CRC + 4;

/// Offset, within a record, of its CRC32 (`u32`).
pub const R_CRC: usize = 0;
/// Offset of the record kind (`u32`).
pub const R_KIND: usize = R_CRC + 4;
/// Offset of the sequence number (`u64`).
pub const R_SEQ: usize = R_KIND + 4;
/// Offset of the payload length (`u64`).
pub const R_LEN: usize = R_SEQ + 8;
/// Length of a record header; the payload follows.
pub const RECORD_HEADER_LEN: usize = R_LEN + 8;

/// Record kind: insert vectors under new ids.
pub const KIND_INSERT: u32 = 1;
/// Record kind: insert or replace vectors.
pub const KIND_UPSERT: u32 = 2;
/// Record kind: delete ids.
pub const KIND_DELETE: u32 = 3;
/// Record kind: compact (drop tombstones).
pub const KIND_COMPACT: u32 = 4;

/// The header of a log file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogHeader {
    /// Format version of the log.
    pub version: FormatVersion,
    /// The lineage: a snapshot and the logs that continue it carry the same one.
    pub lineage: u64,
    /// Sequence number of the first record.
    pub base_seq: u64,
}

impl LogHeader {
    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; LOG_HEADER_LEN] {
        let mut b = [0u8; LOG_HEADER_LEN];
        b[..8].copy_from_slice(&LOG_MAGIC);
        b[L_MAJOR..L_MAJOR + 2].copy_from_slice(&self.version.major.to_le_bytes());
        b[L_MINOR..L_MINOR + 2].copy_from_slice(&self.version.minor.to_le_bytes());
        b[L_LINEAGE..L_LINEAGE + 8].copy_from_slice(&self.lineage.to_le_bytes());
        b[L_BASE_SEQ..L_BASE_SEQ + 8].copy_from_slice(&self.base_seq.to_le_bytes());
        let crc = crate::crc32(&b[..L_CRC]);
        b[L_CRC..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Reads and checks the header at the start of `backend`.
    ///
    /// # Errors
    /// [`StorageError::BadMagic`], [`StorageError::UnsupportedVersion`],
    /// [`StorageError::Truncated`] when the file is shorter than a header, and
    /// [`StorageError::Corrupted`] in [`Region::LogHeader`] for a bad checksum or field.
    pub fn read<B: Backend + ?Sized>(backend: &B) -> Result<LogHeader> {
        let len = backend.len()?;
        let mut b = [0u8; LOG_HEADER_LEN];
        let have = usize::try_from(len.min(LOG_HEADER_LEN as u64)).unwrap_or(0);
        backend.read_at(0, &mut b[..have])?;
        let magic_len = have.min(8);
        if b[..magic_len] != LOG_MAGIC[..magic_len] {
            return Err(StorageError::BadMagic {
                found: b[..magic_len].to_vec(),
            });
        }
        if have < LOG_HEADER_LEN {
            return Err(StorageError::Truncated {
                expected: LOG_HEADER_LEN as u64,
                found: len,
            });
        }
        let stored = u32_at(&b, L_CRC);
        let computed = crate::crc32(&b[..L_CRC]);
        let corrupted = |offset: usize, defect| StorageError::Corrupted {
            section: Region::LogHeader,
            offset: offset as u64,
            defect,
        };
        if stored != computed {
            return Err(corrupted(
                L_CRC,
                Defect::ChecksumMismatch { stored, computed },
            ));
        }
        let version = FormatVersion {
            major: u16::from_le_bytes([b[L_MAJOR], b[L_MAJOR + 1]]),
            minor: u16::from_le_bytes([b[L_MINOR], b[L_MINOR + 1]]),
        };
        if version.major != LOG_VERSION.major {
            return Err(StorageError::UnsupportedVersion {
                found: version,
                supported: LOG_VERSION,
            });
        }
        let base_seq = u64_at(&b, L_BASE_SEQ);
        if base_seq == 0 {
            return Err(corrupted(
                L_BASE_SEQ,
                Defect::InvalidField {
                    field: "base_seq",
                    value: 0,
                },
            ));
        }
        Ok(LogHeader {
            version,
            lineage: u64_at(&b, L_LINEAGE),
            base_seq,
        })
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// One logged operation. Storage defines the bytes; the facade gives them meaning.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum LogOp<'a> {
    /// Insert `rows` (row-major, `dim` values each) under new `ids`.
    Insert {
        /// The ids, one per row.
        ids: Cow<'a, [u64]>,
        /// Values per row.
        dim: u32,
        /// The rows.
        rows: Cow<'a, [f32]>,
    },
    /// Insert or replace `rows` under `ids`.
    Upsert {
        /// The ids, one per row.
        ids: Cow<'a, [u64]>,
        /// Values per row.
        dim: u32,
        /// The rows.
        rows: Cow<'a, [f32]>,
    },
    /// Delete `ids`.
    Delete {
        /// The ids.
        ids: Cow<'a, [u64]>,
    },
    /// Drop tombstones.
    Compact,
}

impl LogOp<'_> {
    fn kind(&self) -> u32 {
        match self {
            LogOp::Insert { .. } => KIND_INSERT,
            LogOp::Upsert { .. } => KIND_UPSERT,
            LogOp::Delete { .. } => KIND_DELETE,
            LogOp::Compact => KIND_COMPACT,
        }
    }

    /// Checks that the row data matches the ids; `None` when it does not (the caller's bug).
    fn payload_len(&self) -> Option<u64> {
        match self {
            LogOp::Insert { ids, dim, rows } | LogOp::Upsert { ids, dim, rows } => {
                let values = (ids.len() as u64).checked_mul(u64::from(*dim))?;
                (values == rows.len() as u64).then_some(16 + 8 * ids.len() as u64 + 4 * values)
            }
            LogOp::Delete { ids } => Some(8 + 8 * ids.len() as u64),
            LogOp::Compact => Some(0),
        }
    }

    /// Feeds the payload bytes to `f` in pieces of bounded size.
    fn for_each_piece(&self, mut f: impl FnMut(&[u8])) {
        const CHUNK: usize = 8192;
        let mut buf = Vec::with_capacity(CHUNK * 8);
        let emit_u64s = |buf: &mut Vec<u8>, xs: &[u64], f: &mut dyn FnMut(&[u8])| {
            for c in xs.chunks(CHUNK) {
                buf.clear();
                buf.extend(c.iter().flat_map(|x| x.to_le_bytes()));
                f(buf);
            }
        };
        match self {
            LogOp::Insert { ids, dim, rows } | LogOp::Upsert { ids, dim, rows } => {
                let mut head = [0u8; 16];
                head[..8].copy_from_slice(&(ids.len() as u64).to_le_bytes());
                head[8..12].copy_from_slice(&dim.to_le_bytes());
                f(&head);
                emit_u64s(&mut buf, ids, &mut f);
                for c in rows.chunks(CHUNK) {
                    buf.clear();
                    buf.extend(c.iter().flat_map(|x| x.to_le_bytes()));
                    f(&buf);
                }
            }
            LogOp::Delete { ids } => {
                f(&(ids.len() as u64).to_le_bytes());
                emit_u64s(&mut buf, ids, &mut f);
            }
            LogOp::Compact => {}
        }
    }

    /// Decodes a payload of `kind`; `None` when the bytes do not form one.
    fn decode(kind: u32, p: &[u8]) -> Option<LogOp<'static>> {
        let u64s = |b: &[u8]| -> Vec<u64> { b.chunks_exact(8).map(|c| u64_at(c, 0)).collect() };
        match kind {
            KIND_INSERT | KIND_UPSERT => {
                if p.len() < 16 || u32_at(p, 12) != 0 {
                    return None;
                }
                let n = u64_at(p, 0);
                let dim = u32_at(p, 8);
                let values = n.checked_mul(u64::from(dim))?;
                let want = values
                    .checked_mul(4)?
                    .checked_add(n.checked_mul(8)?)?
                    .checked_add(16)?;
                if want != p.len() as u64 {
                    return None;
                }
                let ids_end = 16 + 8 * n as usize;
                let ids = Cow::Owned(u64s(&p[16..ids_end]));
                let rows = Cow::Owned(crate::f32s_from_le_bytes(&p[ids_end..]).into_owned());
                Some(if kind == KIND_INSERT {
                    LogOp::Insert { ids, dim, rows }
                } else {
                    LogOp::Upsert { ids, dim, rows }
                })
            }
            KIND_DELETE => {
                if p.len() < 8 {
                    return None;
                }
                let n = u64_at(p, 0);
                if n.checked_mul(8)?.checked_add(8)? != p.len() as u64 {
                    return None;
                }
                Some(LogOp::Delete {
                    ids: Cow::Owned(u64s(&p[8..])),
                })
            }
            KIND_COMPACT => p.is_empty().then_some(LogOp::Compact),
            _ => None,
        }
    }
}

/// A record read back from a log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// Its sequence number.
    pub seq: u64,
    /// Where it starts in the log file.
    pub offset: u64,
    /// The operation.
    pub op: LogOp<'static>,
}

/// The checksum of a record: CRC32 over the lineage (binding records to their log) and the
/// record from its kind field to the end of the payload.
fn record_crc(lineage: u64, head: &[u8], pieces: impl FnOnce(&mut dyn FnMut(&[u8]))) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&lineage.to_le_bytes());
    h.update(&head[R_KIND..]);
    pieces(&mut |b: &[u8]| h.update(b));
    h.finalize()
}

/// Appends one record for `op` with sequence number `seq` at `offset` (does not sync).
/// Returns the offset after the record.
///
/// # Errors
/// [`StorageError::Io`]; and [`StorageError::InvalidRecord`] when the rows do not match the
/// ids and dimension.
pub fn write_record<B: Backend + ?Sized>(
    backend: &mut B,
    offset: u64,
    lineage: u64,
    seq: u64,
    op: &LogOp<'_>,
) -> Result<u64> {
    let len = op.payload_len().ok_or(StorageError::InvalidRecord(
        "the number of values is not ids × dimensions",
    ))?;
    let mut head = [0u8; RECORD_HEADER_LEN];
    head[R_KIND..R_KIND + 4].copy_from_slice(&op.kind().to_le_bytes());
    head[R_SEQ..R_SEQ + 8].copy_from_slice(&seq.to_le_bytes());
    head[R_LEN..R_LEN + 8].copy_from_slice(&len.to_le_bytes());
    let crc = record_crc(lineage, &head, |f| op.for_each_piece(f));
    head[R_CRC..R_CRC + 4].copy_from_slice(&crc.to_le_bytes());
    backend.write_at(offset, &head)?;
    let mut at = offset + RECORD_HEADER_LEN as u64;
    let mut failed = None;
    op.for_each_piece(|piece| {
        if failed.is_none() {
            match backend.write_at(at, piece) {
                Ok(()) => at += piece.len() as u64,
                Err(e) => failed = Some(e),
            }
        }
    });
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(at),
    }
}

/// Why a log scan stopped before the end of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TailDefect {
    /// The file ends inside a record header or payload.
    Incomplete,
    /// A record's checksum does not match its bytes.
    ChecksumMismatch,
}

/// The outcome of reading a log to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogScan {
    /// Number of valid records read.
    pub records: u64,
    /// Sequence number the next record gets.
    pub next_seq: u64,
    /// Where the valid log ends: the torn tail, if any, starts here.
    pub valid_end: u64,
    /// Length of the file.
    pub file_len: u64,
    /// Why reading stopped before `file_len`, if it did.
    pub tail: Option<TailDefect>,
}

/// Reads every valid record of the log in `backend` (after its already-read `header`) and
/// hands each to `f`, stopping at the first torn or invalid-checksum record.
///
/// Allocation is bounded by the file length: a payload length larger than what is left of
/// the file is a torn tail, not an allocation.
///
/// # Errors
/// I/O errors, errors returned by `f`, and [`StorageError::Corrupted`] in
/// [`Region::LogRecord`] for a record whose checksum is right but whose sequence number (not the
/// next one, or `u64::MAX`), kind or payload is invalid.
pub fn scan<B, E>(
    backend: &B,
    header: &LogHeader,
    mut f: impl FnMut(LogRecord) -> std::result::Result<(), E>,
) -> std::result::Result<LogScan, E>
where
    B: Backend + ?Sized,
    E: From<StorageError>,
{
    let file_len = backend.len().map_err(StorageError::from)?;
    let mut at = LOG_HEADER_LEN as u64;
    let mut next_seq = header.base_seq;
    let mut records = 0u64;
    let result = |tail| LogScan {
        records: 0,
        next_seq: 0,
        valid_end: 0,
        file_len,
        tail,
    };
    loop {
        let left = file_len.saturating_sub(at);
        if left == 0 {
            break Ok(LogScan {
                records,
                next_seq,
                valid_end: at,
                ..result(None)
            });
        }
        let torn = |tail| LogScan {
            records,
            next_seq,
            valid_end: at,
            ..result(Some(tail))
        };
        if left < RECORD_HEADER_LEN as u64 {
            break Ok(torn(TailDefect::Incomplete));
        }
        let mut head = [0u8; RECORD_HEADER_LEN];
        backend.read_at(at, &mut head).map_err(StorageError::from)?;
        let len = u64_at(&head, R_LEN);
        if len > left - RECORD_HEADER_LEN as u64 {
            break Ok(torn(TailDefect::Incomplete));
        }
        // `len` fits in what is left of the file, so the allocation is bounded by the file.
        let Ok(len_usize) = usize::try_from(len) else {
            break Ok(torn(TailDefect::Incomplete));
        };
        let mut payload = vec![0u8; len_usize];
        backend
            .read_at(at + RECORD_HEADER_LEN as u64, &mut payload)
            .map_err(StorageError::from)?;
        let stored = u32_at(&head, R_CRC);
        let computed = record_crc(header.lineage, &head, |f| f(&payload));
        if stored != computed {
            break Ok(torn(TailDefect::ChecksumMismatch));
        }
        let seq = u64_at(&head, R_SEQ);
        let kind = u32_at(&head, R_KIND);
        let corrupted = |field_at: usize, defect| StorageError::Corrupted {
            section: Region::LogRecord { seq },
            offset: at + field_at as u64,
            defect,
        };
        // `u64::MAX` is never a record's number (no record could follow it): a log that claims
        // it is forged or damaged, and reading on would overflow the sequence.
        if seq != next_seq || seq == u64::MAX {
            return Err(corrupted(
                R_SEQ,
                Defect::InvalidField {
                    field: "seq",
                    value: seq,
                },
            )
            .into());
        }
        let Some(op) = LogOp::decode(kind, &payload) else {
            return Err(corrupted(
                R_KIND,
                Defect::InvalidField {
                    field: "record kind or payload",
                    value: u64::from(kind),
                },
            )
            .into());
        };
        drop(payload);
        f(LogRecord {
            seq,
            offset: at,
            op,
        })?;
        records += 1;
        next_seq += 1;
        at += RECORD_HEADER_LEN as u64 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemBackend;

    fn log_with(ops: &[LogOp<'_>]) -> (MemBackend, LogHeader, Vec<u64>) {
        let header = LogHeader {
            version: LOG_VERSION,
            lineage: 0xABCD,
            base_seq: 5,
        };
        let mut b = MemBackend::new();
        b.write_at(0, &header.to_bytes()).unwrap();
        let mut at = LOG_HEADER_LEN as u64;
        let mut ends = vec![at];
        for (i, op) in ops.iter().enumerate() {
            at = write_record(&mut b, at, header.lineage, 5 + i as u64, op).unwrap();
            ends.push(at);
        }
        (b, header, ends)
    }

    fn ops() -> Vec<LogOp<'static>> {
        vec![
            LogOp::Insert {
                ids: vec![1, 2].into(),
                dim: 3,
                rows: vec![1.0, 2.0, 3.0, -0.0, f32::MIN_POSITIVE, 9.5].into(),
            },
            LogOp::Delete {
                ids: vec![2, 99].into(),
            },
            LogOp::Compact,
            LogOp::Upsert {
                ids: vec![7].into(),
                dim: 3,
                rows: vec![0.5; 3].into(),
            },
        ]
    }

    fn read_all(b: &MemBackend) -> (Vec<LogRecord>, LogScan) {
        let header = LogHeader::read(b).unwrap();
        let mut got = Vec::new();
        let s = scan::<_, StorageError>(b, &header, |r| {
            got.push(r);
            Ok(())
        })
        .unwrap();
        (got, s)
    }

    #[test]
    fn records_round_trip() {
        let ops = ops();
        let (b, header, ends) = log_with(&ops);
        assert_eq!(LogHeader::read(&b).unwrap(), header);
        let (got, s) = read_all(&b);
        assert_eq!(
            got.iter().map(|r| &r.op).collect::<Vec<_>>(),
            ops.iter().collect::<Vec<_>>()
        );
        assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), [5, 6, 7, 8]);
        assert_eq!(s.records, 4);
        assert_eq!(s.next_seq, 9);
        assert_eq!(s.valid_end, *ends.last().unwrap());
        assert_eq!(s.tail, None);
    }

    #[test]
    fn every_truncation_is_a_torn_tail_at_a_record_boundary() {
        let (b, _, ends) = log_with(&ops());
        let full = b.into_vec();
        for cut in LOG_HEADER_LEN..full.len() {
            let (got, s) = read_all(&MemBackend::from_vec(full[..cut].to_vec()));
            let whole = ends.iter().rposition(|&e| e <= cut as u64).unwrap();
            assert_eq!(got.len(), whole, "cut {cut}");
            assert_eq!(s.valid_end, ends[whole]);
            assert_eq!(s.tail.is_some(), ends[whole] != cut as u64, "cut {cut}");
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let (b, _, ends) = log_with(&ops());
        let full = b.into_vec();
        for byte in 0..full.len() {
            for bit in 0..8 {
                let mut bad = full.clone();
                bad[byte] ^= 1 << bit;
                let b = MemBackend::from_vec(bad);
                let Ok(header) = LogHeader::read(&b) else {
                    assert!(byte < LOG_HEADER_LEN, "byte {byte}");
                    continue;
                };
                assert!(byte >= LOG_HEADER_LEN, "header flip at {byte} undetected");
                let mut n = 0;
                let r = scan::<_, StorageError>(&b, &header, |_| {
                    n += 1;
                    Ok(())
                });
                // The records before the damaged one survive; the damaged one never does.
                let damaged = ends.iter().rposition(|&e| e <= byte as u64).unwrap();
                match r {
                    Ok(s) => {
                        assert_eq!(s.records as usize, damaged, "byte {byte} bit {bit}");
                        assert!(s.tail.is_some());
                    }
                    Err(e) => panic!("byte {byte} bit {bit}: {e}"),
                }
            }
        }
    }

    #[test]
    fn valid_checksums_with_bad_contents_are_corruption() {
        // A record with the wrong sequence number (e.g. a log spliced from another one).
        let header = LogHeader {
            version: LOG_VERSION,
            lineage: 1,
            base_seq: 1,
        };
        let mut b = MemBackend::new();
        b.write_at(0, &header.to_bytes()).unwrap();
        write_record(&mut b, LOG_HEADER_LEN as u64, 1, 2, &LogOp::Compact).unwrap();
        let err = scan::<_, StorageError>(&b, &header, |_| Ok(())).unwrap_err();
        assert!(
            matches!(
                err,
                StorageError::Corrupted {
                    section: Region::LogRecord { seq: 2 },
                    ..
                }
            ),
            "{err}"
        );
        // Records of another lineage fail their checksum: a torn tail, not data.
        let other = LogHeader {
            lineage: 2,
            ..header
        };
        let s = scan::<_, StorageError>(&b, &other, |_| Ok(())).unwrap();
        assert_eq!((s.records, s.tail), (0, Some(TailDefect::ChecksumMismatch)));
        // A mismatched row count is refused at write time.
        let bad = LogOp::Insert {
            ids: vec![1].into(),
            dim: 2,
            rows: vec![1.0].into(),
        };
        assert!(matches!(
            write_record(&mut b, 0, 1, 1, &bad),
            Err(StorageError::InvalidRecord(_))
        ));
    }

    #[test]
    fn headers_are_checked() {
        let h = LogHeader {
            version: LOG_VERSION,
            lineage: 3,
            base_seq: 1,
        };
        let bytes = h.to_bytes();
        assert!(matches!(
            LogHeader::read(&MemBackend::from_vec(b"hello world".to_vec())),
            Err(StorageError::BadMagic { .. })
        ));
        assert!(matches!(
            LogHeader::read(&MemBackend::from_vec(bytes[..20].to_vec())),
            Err(StorageError::Truncated { .. })
        ));
        assert!(matches!(
            LogHeader::read(&MemBackend::from_vec(bytes[..3].to_vec())),
            Err(StorageError::Truncated { .. })
        ));
        let newer = LogHeader {
            version: FormatVersion { major: 2, minor: 0 },
            ..h
        };
        assert!(matches!(
            LogHeader::read(&MemBackend::from_vec(newer.to_bytes().to_vec())),
            Err(StorageError::UnsupportedVersion { .. })
        ));
    }
}
