//! The one error type of the storage layer.

use std::fmt;

use crate::format::{FormatVersion, SectionKind};

/// Everything that can go wrong reading or writing an `.evec` file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The file does not start with the `.evec` magic: it is not an EdgeVec file, or it was
    /// mangled by a text-mode transfer.
    #[error("not an .evec file: bad magic bytes {found:02x?}")]
    BadMagic {
        /// The first bytes of the file (up to 8).
        found: Vec<u8>,
    },
    /// The file was written by an incompatible format version.
    #[error("unsupported .evec format version {found} (this build reads {supported})")]
    UnsupportedVersion {
        /// The version in the file.
        found: FormatVersion,
        /// The version this build writes; it reads every minor of the same major.
        supported: FormatVersion,
    },
    /// The file is shorter than its own header says: an incomplete write or a cut copy.
    #[error("truncated .evec file: expected {expected} bytes, found {found}")]
    Truncated {
        /// The length the file must have.
        expected: u64,
        /// The actual length.
        found: u64,
    },
    /// A check failed: the bytes at `offset`, in `section`, are not what was written.
    #[error("corrupted {}: {defect} in {section} at byte offset {offset}", section.file())]
    Corrupted {
        /// The part of the file that failed its check.
        section: Region,
        /// Absolute byte offset of the failing field or region.
        offset: u64,
        /// What failed.
        defect: Defect,
    },
    /// A section given to the writer cannot be stored (see the message).
    #[error("cannot write section {index} ({kind}): {reason}")]
    InvalidSection {
        /// Position of the section in the writer's input.
        index: usize,
        /// The section's kind.
        kind: SectionKind,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The file has no section of the kind asked for.
    #[error("the file has no {kind} section")]
    MissingSection {
        /// The kind asked for.
        kind: SectionKind,
    },
    /// A section was read as f32 values, but its length is not a multiple of 4.
    #[error("section {index} ({kind}) has {length} bytes, not a whole number of f32 values")]
    NotF32 {
        /// Index of the section in the table.
        index: usize,
        /// The section's kind.
        kind: SectionKind,
        /// The payload length in bytes.
        length: u64,
    },
    /// The file does not exist.
    #[error("no such file: {0}")]
    MissingFile(String),
    /// The write-ahead log starts after the snapshot ends: the snapshot is older than the log
    /// (for example restored from a backup), so the records between are missing.
    #[error(
        "the write-ahead log starts at record {log_first_seq} but the snapshot ends at record \
         {snapshot_seq}: records are missing (was an older snapshot restored beside a newer \
         log?); move the .wal file away to open the snapshot alone"
    )]
    LogGap {
        /// Last record included in the snapshot.
        snapshot_seq: u64,
        /// First record of the log.
        log_first_seq: u64,
    },
    /// A log record cannot be written as asked (a bug in the caller).
    #[error("invalid log record: {0}")]
    InvalidRecord(&'static str),
    /// Another writer holds the index (another process, or another attached open in this
    /// one).
    #[error(
        "{name} is open for writing elsewhere (another process or another handle holds \
         {name}.lock); close it first, or open it read-only"
    )]
    Locked {
        /// The snapshot's file name.
        name: String,
    },
    /// An earlier append to the write-ahead log failed and could not be undone.
    #[error("the write-ahead log is unusable after a failed write; checkpoint or reopen the index")]
    LogUnusable,
    /// The path given to an atomic save has no file name or no usable parent directory.
    #[error("cannot save to {0:?}: the path has no file name")]
    InvalidPath(std::path::PathBuf),
    /// An I/O operation of the backend failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A part of an `.evec` file or a write-ahead log, named in [`StorageError::Corrupted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Region {
    /// The fixed header at offset 0.
    Header,
    /// The section table.
    SectionTable,
    /// The table entry of section `index`.
    TableEntry {
        /// Index of the entry.
        index: u32,
    },
    /// The payload of section `index`.
    Section {
        /// Index of the section in the table.
        index: u32,
        /// Its kind.
        kind: SectionKind,
    },
    /// Zero padding between regions.
    Padding,
    /// The footer (commit record) at the end of the file.
    Footer,
    /// The header of a write-ahead log.
    LogHeader,
    /// A record of a write-ahead log.
    LogRecord {
        /// Its sequence number as stored.
        seq: u64,
    },
}

impl Region {
    /// The kind of file the region belongs to, for messages.
    pub fn file(&self) -> &'static str {
        match self {
            Region::LogHeader | Region::LogRecord { .. } => "write-ahead log",
            _ => ".evec file",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Region::Header => f.write_str("the header"),
            Region::SectionTable => f.write_str("the section table"),
            Region::TableEntry { index } => write!(f, "section table entry {index}"),
            Region::Section { index, kind } => write!(f, "section {index} ({kind})"),
            Region::Padding => f.write_str("alignment padding"),
            Region::Footer => f.write_str("the footer"),
            Region::LogHeader => f.write_str("the log header"),
            Region::LogRecord { seq } => write!(f, "log record {seq}"),
        }
    }
}

/// What check failed, in [`StorageError::Corrupted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Defect {
    /// A stored CRC32 does not match the bytes it covers.
    ChecksumMismatch {
        /// The CRC stored in the file.
        stored: u32,
        /// The CRC of the bytes as read.
        computed: u32,
    },
    /// A padding byte that must be zero is not.
    NonZeroPadding,
    /// The footer does not start with its magic: the commit record was never written or was
    /// overwritten.
    MissingCommitRecord,
    /// The footer's copy of the header CRC differs from the header's: the footer belongs to
    /// another file.
    FooterMismatch,
    /// The file is longer than its header and footer say.
    TrailingBytes {
        /// The length the file should have.
        expected: u64,
    },
    /// A field holds a value that the format does not allow.
    InvalidField {
        /// The field's name as in docs/FORMAT.md.
        field: &'static str,
        /// The value found.
        value: u64,
    },
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Defect::ChecksumMismatch { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )
            }
            Defect::NonZeroPadding => f.write_str("non-zero padding byte"),
            Defect::MissingCommitRecord => f.write_str("missing commit record (footer magic)"),
            Defect::FooterMismatch => f.write_str("footer belongs to another header"),
            Defect::TrailingBytes { expected } => {
                write!(
                    f,
                    "trailing bytes after the footer (file should be {expected} bytes)"
                )
            }
            Defect::InvalidField { field, value } => write!(f, "invalid {field} {value}"),
        }
    }
}

/// Results of the storage layer.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_and_where() {
        let e = StorageError::Corrupted {
            section: Region::Section {
                index: 2,
                kind: SectionKind::F32_ROWS,
            },
            offset: 4096,
            defect: Defect::ChecksumMismatch {
                stored: 1,
                computed: 2,
            },
        };
        assert_eq!(
            e.to_string(),
            "corrupted .evec file: checksum mismatch (stored 0x00000001, computed 0x00000002) \
             in section 2 (F32_ROWS) at byte offset 4096"
        );
        let e = StorageError::UnsupportedVersion {
            found: FormatVersion { major: 2, minor: 0 },
            supported: FormatVersion { major: 1, minor: 0 },
        };
        assert_eq!(
            e.to_string(),
            "unsupported .evec format version 2.0 (this build reads 1.0)"
        );
        let e = StorageError::Truncated {
            expected: 100,
            found: 7,
        };
        assert_eq!(
            e.to_string(),
            "truncated .evec file: expected 100 bytes, found 7"
        );
    }
}
