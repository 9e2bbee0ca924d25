//! A snapshot and its write-ahead log, kept consistent through crashes.
//!
//! A journal is two files in one [`Directory`]: the `.evec` snapshot `NAME` and the log
//! `NAME.wal`. The snapshot's `LOG_STATE` section holds the journal's *lineage* (a random id
//! shared by a snapshot and the logs that continue it) and the sequence number of the last
//! record it includes; the log holds the records after it. Opening replays the log onto the
//! snapshot; a checkpoint writes a new snapshot and starts a new, empty log. Every step of
//! both is crash-safe (docs/FORMAT.md, "The write-ahead log", gives the argument).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::dir::{DirFile, DirLock, Directory, replace_atomic};
use crate::error::{Defect, Region, Result, StorageError};
use crate::format::SectionKind;
use crate::read::EvecFile;
use crate::wal::{
    LOG_HEADER_LEN, LOG_VERSION, LogHeader, LogOp, LogRecord, TailDefect, scan, write_record,
};
use crate::write::{Section, write_file};

/// The log of snapshot `name` is `name` + this suffix.
pub const LOG_SUFFIX: &str = ".wal";

/// Length of the `LOG_STATE` section: lineage `u64`, last sequence number `u64`.
pub const LOG_STATE_LEN: usize = 16;

/// When appended records are synced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Sync every record before the append returns: nothing acknowledged is ever lost (the
    /// default).
    #[default]
    EveryOp,
    /// Sync after every `n` records (and on flush and checkpoint): a power cut may lose up
    /// to the last `n − 1` acknowledged records, never more, and never out of order.
    EveryN(u32),
    /// Sync only on [`Journal::flush`], [`Journal::checkpoint`] and when the journal is
    /// dropped: fastest; a power cut may lose everything since the last of those.
    OnFlush,
}

/// What opening a journal found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Sequence number of the last record the snapshot includes (0: none).
    pub snapshot_seq: u64,
    /// Records replayed from the log onto the snapshot.
    pub records_replayed: u64,
    /// Records in the log already included in the snapshot (left by a checkpoint
    /// interrupted after writing the snapshot), skipped.
    pub records_skipped: u64,
    /// Bytes of torn or unverifiable tail cut from the log (or, read-only, ignored).
    pub bytes_discarded: u64,
    /// Why the log's tail was discarded, if it was.
    pub tail: Option<TailDefect>,
    /// The log did not exist and was created.
    pub log_created: bool,
    /// The log belonged to an earlier snapshot saved at this path (another lineage) and was
    /// replaced, or ignored when read-only.
    pub stale_log_replaced: bool,
}

/// A new random lineage id (never 0, which marks files written before logs existed).
pub fn new_lineage() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    // Both panic on wasm32-unknown-unknown (a browser or Node page has neither a process id nor
    // a clock std can read): there the address of a local varies instead, on top of the
    // counter and RandomState's own address-derived keys.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        h.write_u32(std::process::id());
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
    }
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        let local = 0u8;
        h.write_usize(std::ptr::from_ref(&local).addr());
    }
    h.finish().max(1)
}

/// The name of the log of snapshot `name`.
pub fn log_name(name: &str) -> String {
    format!("{name}{LOG_SUFFIX}")
}

/// The `LOG_STATE` payload for `lineage` and `last_seq`.
pub fn log_state_bytes(lineage: u64, last_seq: u64) -> [u8; LOG_STATE_LEN] {
    let mut b = [0u8; LOG_STATE_LEN];
    b[..8].copy_from_slice(&lineage.to_le_bytes());
    b[8..].copy_from_slice(&last_seq.to_le_bytes());
    b
}

/// The lineage and last sequence number a snapshot records; `(0, 0)` for a file without a
/// `LOG_STATE` section (written before logs existed).
///
/// # Errors
/// [`StorageError::Corrupted`] when the section has the wrong length, or a last sequence number
/// of `u64::MAX` (no record can follow it; only a forged or damaged file says so).
pub fn log_state(file: &EvecFile) -> Result<(u64, u64)> {
    let Some(index) = file.find(SectionKind::LOG_STATE) else {
        return Ok((0, 0));
    };
    let info = &file.sections()[index];
    let p = file.section(index).unwrap_or_default();
    if p.len() != LOG_STATE_LEN {
        return Err(StorageError::Corrupted {
            section: Region::Section {
                index: index as u32,
                kind: SectionKind::LOG_STATE,
            },
            offset: info.offset,
            defect: Defect::InvalidField {
                field: "LOG_STATE length",
                value: p.len() as u64,
            },
        });
    }
    let mut w = [0u8; 8];
    w.copy_from_slice(&p[..8]);
    let lineage = u64::from_le_bytes(w);
    w.copy_from_slice(&p[8..]);
    let last_seq = u64::from_le_bytes(w);
    if last_seq == u64::MAX {
        return Err(StorageError::Corrupted {
            section: Region::Section {
                index: index as u32,
                kind: SectionKind::LOG_STATE,
            },
            offset: info.offset + 8,
            defect: Defect::InvalidField {
                field: "LOG_STATE last_seq",
                value: last_seq,
            },
        });
    }
    Ok((lineage, last_seq))
}

/// Writes a new empty log for `lineage` whose first record will be `base_seq`, atomically.
fn fresh_log(dir: &mut dyn Directory, name: &str, lineage: u64, base_seq: u64) -> Result<()> {
    let header = LogHeader {
        version: LOG_VERSION,
        lineage,
        base_seq,
    };
    replace_atomic(dir, &log_name(name), |f| {
        f.set_len(0)?;
        f.write_at(0, &header.to_bytes())?;
        f.sync()?;
        Ok(())
    })
}

/// Writes the snapshot `name` (the caller's sections plus `LOG_STATE`) and then a fresh log
/// continuing it, each atomically. A crash in between leaves the new snapshot with the old
/// log, which opening recognizes (older records are skipped, another lineage's log is
/// replaced). Returns the snapshot's length.
///
/// # Errors
/// [`StorageError::InvalidSection`] when the caller passes its own `LOG_STATE` section,
/// [`StorageError::InvalidRecord`] for a `last_seq` of `u64::MAX`, the errors of
/// [`write_file`], and I/O errors.
pub fn write_snapshot(
    dir: &mut dyn Directory,
    name: &str,
    sections: &[Section<'_>],
    lineage: u64,
    last_seq: u64,
) -> Result<u64> {
    check_snapshot_args(sections, last_seq)?;
    let len = snapshot_only(dir, name, sections, lineage, last_seq)?;
    fresh_log(dir, name, lineage, last_seq + 1)?;
    Ok(len)
}

/// No record can follow sequence number `u64::MAX` (only a forged snapshot gets there).
fn exhausted() -> StorageError {
    StorageError::InvalidRecord("the log's sequence numbers are exhausted")
}

/// The argument checks of [`write_snapshot`].
fn check_snapshot_args(sections: &[Section<'_>], last_seq: u64) -> Result<()> {
    if last_seq == u64::MAX {
        return Err(exhausted());
    }
    if let Some(index) = sections
        .iter()
        .position(|s| s.kind == SectionKind::LOG_STATE)
    {
        return Err(StorageError::InvalidSection {
            index,
            kind: SectionKind::LOG_STATE,
            reason: "the journal writes LOG_STATE itself",
        });
    }
    Ok(())
}

/// Step 1 of [`write_snapshot`]: the snapshot with its `LOG_STATE`, atomically (the caller has
/// checked the arguments).
fn snapshot_only(
    dir: &mut dyn Directory,
    name: &str,
    sections: &[Section<'_>],
    lineage: u64,
    last_seq: u64,
) -> Result<u64> {
    let state = log_state_bytes(lineage, last_seq);
    let mut all: Vec<Section<'_>> = sections.to_vec();
    all.push(Section::bytes(SectionKind::LOG_STATE, &state));
    replace_atomic(dir, name, |f| write_file(f, &all))
}

/// A snapshot and its log, open for appending. See the [module docs](self).
pub struct Journal {
    dir: Box<dyn Directory>,
    name: String,
    log: DirFile,
    lineage: u64,
    next_seq: u64,
    /// End of the last record (where the next one goes).
    end: u64,
    /// Start of the last record appended in this session, for [`Journal::retract`].
    last_start: Option<u64>,
    durability: Durability,
    unsynced: u32,
    /// An append failed and could not be undone: the log's tail is unknown.
    broken: bool,
    /// The writer's lock, held for the journal's life.
    _lock: DirLock,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("name", &self.name)
            .field("lineage", &self.lineage)
            .field("next_seq", &self.next_seq)
            .field("end", &self.end)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

/// What recovery found, before the journal is assembled.
struct Recovered<S> {
    state: S,
    report: RecoveryReport,
    lineage: u64,
    next_seq: u64,
    /// The open log and its valid end (writable opens only).
    log: Option<(DirFile, u64)>,
}

/// Recovers the state; `Ok(Err(gap))` when a read-only recovery raced with a checkpoint (it
/// read the snapshot before and the log after) and must start again.
fn recover<S, E>(
    dir: &mut dyn Directory,
    name: &str,
    writable: bool,
    load: &mut impl FnMut(EvecFile) -> std::result::Result<S, E>,
    apply: &mut impl FnMut(&mut S, LogRecord) -> std::result::Result<(), E>,
) -> std::result::Result<std::result::Result<Recovered<S>, StorageError>, E>
where
    E: From<StorageError>,
{
    let snapshot = dir
        .read_snapshot(name)?
        .ok_or_else(|| StorageError::MissingFile(name.to_owned()))?;
    let (lineage, last_seq) = log_state(&snapshot)?;
    let mut state = load(snapshot)?;
    let mut report = RecoveryReport {
        snapshot_seq: last_seq,
        ..RecoveryReport::default()
    };
    let log_name = log_name(name);
    let file = if writable {
        dir.open(&log_name)
    } else {
        dir.open_read_only(&log_name)
    }
    .map_err(StorageError::from)?;
    let mut next_seq = last_seq + 1;
    let mut valid_end = LOG_HEADER_LEN as u64;
    let mut file = match file {
        None => {
            report.log_created = writable;
            None
        }
        Some(file) => {
            let header = LogHeader::read(&*file)?;
            if header.lineage != lineage {
                report.stale_log_replaced = true;
                None
            } else if header.base_seq > last_seq + 1 {
                let gap = StorageError::LogGap {
                    snapshot_seq: last_seq,
                    log_first_seq: header.base_seq,
                };
                return if writable {
                    Err(gap.into())
                } else {
                    Ok(Err(gap))
                };
            } else {
                let s = scan(&*file, &header, |record| {
                    if record.seq <= last_seq {
                        report.records_skipped += 1;
                        Ok(())
                    } else {
                        report.records_replayed += 1;
                        apply(&mut state, record)
                    }
                })?;
                report.tail = s.tail;
                report.bytes_discarded = s.file_len - s.valid_end;
                valid_end = s.valid_end;
                if s.next_seq < last_seq + 1 {
                    // Every record is older than the snapshot (a checkpoint was interrupted
                    // before it replaced the log): start a fresh log.
                    None
                } else {
                    next_seq = s.next_seq;
                    Some(file)
                }
            }
        }
    };
    if writable {
        match &mut file {
            Some(f) => {
                if report.bytes_discarded > 0 {
                    f.set_len(valid_end).map_err(StorageError::from)?;
                    f.sync().map_err(StorageError::from)?;
                }
            }
            None => {
                fresh_log(dir, name, lineage, next_seq)?;
                valid_end = LOG_HEADER_LEN as u64;
                file = dir.open(&log_name).map_err(StorageError::from)?;
                if file.is_none() {
                    return Err(StorageError::MissingFile(log_name).into());
                }
            }
        }
    }
    Ok(Ok(Recovered {
        state,
        report,
        lineage,
        next_seq,
        log: if writable {
            file.map(|f| (f, valid_end))
        } else {
            None
        },
    }))
}

impl Journal {
    /// Creates a journal: writes the snapshot `name` from `sections` with a new lineage and an
    /// empty log, replacing whatever was there.
    ///
    /// # Errors
    /// As [`write_snapshot`].
    pub fn create(
        mut dir: Box<dyn Directory>,
        name: &str,
        sections: &[Section<'_>],
        durability: Durability,
    ) -> Result<Journal> {
        let lock = dir.lock(name)?;
        let lineage = new_lineage();
        write_snapshot(&mut *dir, name, sections, lineage, 0)?;
        let log = dir
            .open(&log_name(name))?
            .ok_or_else(|| StorageError::MissingFile(log_name(name)))?;
        Ok(Journal {
            dir,
            name: name.to_owned(),
            log,
            lineage,
            next_seq: 1,
            end: LOG_HEADER_LEN as u64,
            last_start: None,
            durability,
            unsynced: 0,
            broken: false,
            _lock: lock,
        })
    }

    /// Opens the journal `name`: verifies and loads the snapshot with `load`, replays the
    /// log's records after it with `apply`, cuts a torn tail, and returns the journal ready
    /// for appends, the state, and what recovery did.
    ///
    /// # Errors
    /// [`StorageError::MissingFile`] when there is no snapshot; the snapshot's verification
    /// errors; [`StorageError::LogGap`] when the log starts after the snapshot ends (an older
    /// snapshot restored beside a newer log); log header and record corruption; and whatever
    /// `load` and `apply` return.
    pub fn open<S, E>(
        mut dir: Box<dyn Directory>,
        name: &str,
        durability: Durability,
        mut load: impl FnMut(EvecFile) -> std::result::Result<S, E>,
        mut apply: impl FnMut(&mut S, LogRecord) -> std::result::Result<(), E>,
    ) -> std::result::Result<(Journal, S, RecoveryReport), E>
    where
        E: From<StorageError>,
    {
        // No lock file is left beside a snapshot that does not exist.
        if dir
            .open_read_only(name)
            .map_err(StorageError::from)?
            .is_none()
        {
            return Err(StorageError::MissingFile(name.to_owned()).into());
        }
        let lock = dir.lock(name)?;
        let r = recover(&mut *dir, name, true, &mut load, &mut apply)??;
        let Some((log, end)) = r.log else {
            return Err(StorageError::MissingFile(log_name(name)).into());
        };
        let journal = Journal {
            dir,
            name: name.to_owned(),
            log,
            lineage: r.lineage,
            next_seq: r.next_seq,
            end,
            last_start: None,
            durability,
            unsynced: 0,
            broken: false,
            _lock: lock,
        };
        Ok((journal, r.state, r.report))
    }

    /// Reads the journal `name` like [`Journal::open`] but writes nothing and takes no lock:
    /// a torn tail is ignored rather than cut, a missing or stale log is not replaced. A
    /// writer may checkpoint meanwhile; a read that saw the snapshot before and the log after
    /// the checkpoint starts again (a few times, then reports the gap).
    ///
    /// # Errors
    /// As [`Journal::open`], except [`StorageError::Locked`].
    pub fn read<S, E>(
        dir: &mut dyn Directory,
        name: &str,
        mut load: impl FnMut(EvecFile) -> std::result::Result<S, E>,
        mut apply: impl FnMut(&mut S, LogRecord) -> std::result::Result<(), E>,
    ) -> std::result::Result<(S, RecoveryReport), E>
    where
        E: From<StorageError>,
    {
        let mut tries = 0;
        loop {
            match recover(dir, name, false, &mut load, &mut apply)? {
                Ok(r) => return Ok((r.state, r.report)),
                Err(gap) if tries == 8 => return Err(gap.into()),
                Err(_) => tries += 1,
            }
        }
    }

    /// The snapshot's file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The directory.
    pub fn dir(&self) -> &dyn Directory {
        &*self.dir
    }

    /// The lineage id.
    pub fn lineage(&self) -> u64 {
        self.lineage
    }

    /// Sequence number of the last record appended (0 if none ever was).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Current length of the log file in bytes.
    pub fn log_len(&self) -> u64 {
        self.end
    }

    /// The durability policy.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Changes the durability policy (syncing first what the old one left unsynced).
    ///
    /// # Errors
    /// I/O errors of the sync.
    pub fn set_durability(&mut self, durability: Durability) -> Result<()> {
        self.flush()?;
        self.durability = durability;
        Ok(())
    }

    /// Appends `op` as the next record and syncs it as the durability policy says. Returns
    /// its sequence number. On failure the log is cut back to where it was.
    ///
    /// # Errors
    /// [`StorageError::LogUnusable`] after an earlier failure that could not be undone,
    /// [`StorageError::InvalidRecord`] for rows that do not match their ids (or when the
    /// sequence reached `u64::MAX`, which only a forged snapshot can cause), I/O errors.
    pub fn append(&mut self, op: &LogOp<'_>) -> Result<u64> {
        if self.broken {
            return Err(StorageError::LogUnusable);
        }
        let seq = self.next_seq;
        if seq == u64::MAX {
            // Only a forged snapshot can bring the sequence here; readers refuse this number.
            return Err(exhausted());
        }
        let start = self.end;
        let written = write_record(&mut *self.log, start, self.lineage, seq, op).and_then(|end| {
            self.unsynced += 1;
            let due = match self.durability {
                Durability::EveryOp => true,
                Durability::EveryN(n) => self.unsynced >= n.max(1),
                Durability::OnFlush => false,
            };
            if due {
                self.log.sync()?;
                self.unsynced = 0;
            }
            Ok(end)
        });
        match written {
            Ok(end) => {
                self.end = end;
                self.next_seq += 1;
                self.last_start = Some(start);
                Ok(seq)
            }
            Err(e) => {
                self.cut_to(start);
                Err(e)
            }
        }
    }

    /// Removes the record `seq` just appended (the caller could not apply it), durably.
    ///
    /// # Errors
    /// [`StorageError::InvalidRecord`] when `seq` is not the last record appended in this
    /// session; I/O errors (the journal then refuses further appends).
    pub fn retract(&mut self, seq: u64) -> Result<()> {
        match self.last_start {
            Some(start) if seq + 1 == self.next_seq => {
                self.cut_to(start);
                if self.broken {
                    return Err(StorageError::LogUnusable);
                }
                self.end = start;
                self.next_seq = seq;
                self.last_start = None;
                Ok(())
            }
            _ => Err(StorageError::InvalidRecord(
                "only the record appended last can be retracted",
            )),
        }
    }

    fn cut_to(&mut self, len: u64) {
        let cut = self.log.set_len(len).and_then(|()| self.log.sync());
        if cut.is_err() {
            self.broken = true;
        } else {
            self.unsynced = 0;
        }
    }

    /// Syncs every record appended so far.
    ///
    /// # Errors
    /// I/O errors.
    pub fn flush(&mut self) -> Result<()> {
        if self.unsynced > 0 {
            self.log.sync()?;
            self.unsynced = 0;
        }
        Ok(())
    }

    /// Writes a new snapshot from `sections` (the state after every record appended so far)
    /// and starts a new, empty log. Returns the snapshot's length.
    ///
    /// # Errors
    /// As [`write_snapshot`]. A checkpoint also recovers a journal whose log became unusable
    /// after a failed append: the new log starts clean. A checkpoint that fails after writing
    /// its snapshot (while replacing the log) makes the log unusable
    /// ([`StorageError::LogUnusable`]) until a checkpoint succeeds: the log file the journal
    /// holds may no longer be the one a reader opens.
    pub fn checkpoint(&mut self, sections: &[Section<'_>]) -> Result<u64> {
        let last = self.last_seq();
        check_snapshot_args(sections, last)?;
        // Until the snapshot is replaced, the old log is still the one named NAME.wal and
        // appends may continue there after a failure.
        let len = snapshot_only(&mut *self.dir, &self.name, sections, self.lineage, last)?;
        // From here on, NAME.wal may already name the new log (renamed, perhaps not durably)
        // while `self.log` is the old file: appending there after a failure would return Ok
        // for records no reader ever sees. So a failure from here on makes the journal refuse
        // appends until a checkpoint succeeds.
        let name = log_name(&self.name);
        let opened = fresh_log(&mut *self.dir, &self.name, self.lineage, last + 1).and_then(|()| {
            self.dir
                .open(&name)?
                .ok_or_else(|| StorageError::MissingFile(name.clone()))
        });
        let log = match opened {
            Ok(log) => log,
            Err(e) => {
                self.broken = true;
                return Err(e);
            }
        };
        self.log = log;
        self.end = LOG_HEADER_LEN as u64;
        self.last_start = None;
        self.unsynced = 0;
        self.broken = false;
        Ok(len)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // Best effort: an error here has nobody to go to; the records are in the page cache
        // and reach the disk unless the machine loses power first.
        let _ = self.flush();
    }
}
