//! Persistence for EdgeVec: the checksummed `.evec` snapshot format, I/O backends and atomic
//! saves.
//!
//! The byte layout is specified in `docs/FORMAT.md`; [`format`](mod@format) holds it as constants. A file
//! is a header (PNG-style magic, version, CRC32), a section table (kind, offset, length, CRC32
//! per section), the section payloads (`F32_ROWS` 64-byte aligned, others 8-byte aligned, zero
//! padding in between) and a footer, the commit record, written and synced last.
//!
//! ```
//! use edgevec_storage::{EvecFile, MemBackend, Section, SectionKind, write_file};
//!
//! let rows = [0.5f32, -1.0, 2.0, 4.0];
//! let mut backend = MemBackend::new();
//! write_file(&mut backend, &[
//!     Section::bytes(SectionKind::PARAMS, b"dim=2"),
//!     Section::f32(SectionKind::F32_ROWS, &rows),
//! ])?;
//! let file = EvecFile::open(&backend)?;
//! assert_eq!(file.payload(SectionKind::PARAMS), Some(&b"dim=2"[..]));
//! assert_eq!(&*file.f32s(SectionKind::F32_ROWS)?, &rows[..]);
//! # Ok::<(), edgevec_storage::StorageError>(())
//! ```
//!
//! - [`Backend`] is the I/O boundary (len, read_at, write_at, set_len, sync), implemented by
//!   [`FileBackend`], [`MemBackend`] and the power-loss simulator [`CrashBackend`].
//! - [`write_file`] writes a complete file; [`EvecFile::open`] reads and verifies one;
//!   [`verify`] checks a file in bounded memory and reports the first problem.
//! - [`EvecFile::open_mmap`] maps a file instead of reading it, so `F32_ROWS` payloads are
//!   used in place.
//! - [`save_atomic`] replaces a file so that a crash leaves the old or the new one.
//!
//! Reading never panics and never trusts a length from the file: every length is bounded by
//! the actual file size before anything is allocated. Every byte of a file is covered by a
//! CRC or by the zero-padding rule, so a corrupted byte is always reported as a typed
//! [`StorageError`].
//!
//! Architecture invariant: storage knows bytes and sections, not graphs or codecs; it never
//! depends on `edgevec-graph` or `edgevec-quant`, which hand it their sections through plain
//! byte and f32 slices (via the facade).
// Unsafe code is confined to `mmap.rs`, one call to `memmap2::Mmap::map`.
#![deny(unsafe_code)]

mod atomic;
mod backend;
pub mod crash;
mod dir;
mod error;
pub mod format;
pub mod journal;
mod mmap;
mod read;
pub mod wal;
mod write;

pub use atomic::save_atomic;
pub use backend::{Backend, FileBackend, MemBackend};
pub use crash::{CrashBackend, CrashDir, CrashOp, DirOp, Keep};
pub use dir::{DirFile, DirLock, Directory, FsDir, TempFile, replace_atomic};
pub use error::{Defect, Region, Result, StorageError};
pub use format::{FORMAT_VERSION, FormatVersion, SectionKind};
pub use journal::{Durability, Journal, RecoveryReport};
pub use read::{
    EvecFile, FileSummary, SectionInfo, SectionReader, f32s_from_le_bytes, verify, verify_bytes,
};
pub use wal::{LogOp, LogRecord, TailDefect};
pub use write::{Payload, Piece, Section, write_file};

/// CRC32 (IEEE, CRC-32/ISO-HDLC) of `bytes`, the checksum every part of an `.evec` file
/// carries.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_stored_as_one_payload() {
        let (a, b) = ([1.0f32, 2.0], [0.0f32; 0]);
        let mut earlier = MemBackend::new();
        write_file(
            &mut earlier,
            &[
                Section::bytes(SectionKind::PARAMS, b"x"),
                Section::f32(SectionKind::F32_ROWS, &[3.5, -4.0]),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("earlier.evec");
        std::fs::write(&path, earlier.as_slice()).unwrap();
        let deferred =
            EvecFile::open_deferred(Box::new(FileBackend::open_read_only(&path).unwrap())).unwrap();
        let pieces = [
            Piece::F32(&a),
            Piece::Section(&deferred, 1),
            Piece::F32(&b),
            Piece::F32(&[5.0]),
        ];
        let mut backend = MemBackend::new();
        write_file(
            &mut backend,
            &[Section::pieces(SectionKind::F32_ROWS, &pieces)],
        )
        .unwrap();
        let mut whole = MemBackend::new();
        write_file(
            &mut whole,
            &[Section::f32(
                SectionKind::F32_ROWS,
                &[1.0, 2.0, 3.5, -4.0, 5.0],
            )],
        )
        .unwrap();
        assert_eq!(backend, whole);
    }

    #[test]
    fn crc32_matches_the_ieee_check_value() {
        // The standard check value of CRC-32/ISO-HDLC for the ASCII string "123456789".
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
