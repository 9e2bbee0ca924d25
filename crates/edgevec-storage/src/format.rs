//! The byte layout of an `.evec` file, as constants (specified in `docs/FORMAT.md`).
//!
//! Each field's offset is the previous field's offset plus the previous field's size, so the
//! layout is written down exactly once. All integers are little-endian and fixed width.

use std::fmt;

/// The 8-byte magic at offset 0, built like PNG's signature: a high-bit byte, `\r\n`, `\x1a`
/// and a lone `\n`, so that text-mode transfers and line-ending conversions are detected.
pub const MAGIC: [u8; 8] = *b"\x89EVC\r\n\x1a\n";

/// The 8-byte magic that opens the footer (the commit record).
pub const FOOTER_MAGIC: [u8; 8] = *b"\x89EVCDONE";

/// The version this crate writes, and the major version it reads.
pub const FORMAT_VERSION: FormatVersion = FormatVersion { major: 1, minor: 1 };

// Header fields.
/// Offset of the header magic.
pub const H_MAGIC: usize = 0;
/// Offset of the header's format major version (`u16`).
pub const H_MAJOR: usize = H_MAGIC + 8;
/// Offset of the header's format minor version (`u16`).
pub const H_MINOR: usize = H_MAJOR + 2;
/// Offset of the header flags (`u32`).
pub const H_FLAGS: usize = H_MINOR + 2;
/// Offset of the header length (`u32`).
pub const H_HEADER_LEN: usize = H_FLAGS + 4;
/// Offset of the section count (`u32`).
pub const H_SECTION_COUNT: usize = H_HEADER_LEN + 4;
/// Offset of the section table offset (`u64`).
pub const H_TABLE_OFFSET: usize = H_SECTION_COUNT + 4;
/// Offset of the footer offset (`u64`).
pub const H_FOOTER_OFFSET: usize = H_TABLE_OFFSET + 8;
/// Offset of the reserved header bytes (20 bytes, written zero).
pub const H_RESERVED: usize = H_FOOTER_OFFSET + 8;
/// Offset of the header CRC32 (`u32`).
pub const H_CRC: usize = H_RESERVED + 20;
/// Length of the version 1.0 header; also the minimum `header_len`.
pub const HEADER_LEN: usize = H_CRC + 4;
/// Largest `header_len` a 1.x reader accepts.
pub const MAX_HEADER_LEN: u32 = 4096;

// Section table entry fields (offsets within one entry).
/// Offset of an entry's kind (`u32`).
pub const E_KIND: usize = 0;
/// Offset of an entry's flags (`u32`).
pub const E_FLAGS: usize = E_KIND + 4;
/// Offset of an entry's payload offset (`u64`).
pub const E_OFFSET: usize = E_FLAGS + 4;
/// Offset of an entry's payload length (`u64`).
pub const E_LENGTH: usize = E_OFFSET + 8;
/// Offset of an entry's payload CRC32 (`u32`).
pub const E_CRC: usize = E_LENGTH + 8;
/// Offset of an entry's payload alignment (`u32`).
pub const E_ALIGNMENT: usize = E_CRC + 4;
/// Length of one section table entry.
pub const ENTRY_LEN: usize = E_ALIGNMENT + 4;

// Footer fields.
/// Offset of the footer magic.
pub const F_MAGIC: usize = 0;
/// Offset of the footer's total file length (`u64`).
pub const F_TOTAL_LEN: usize = F_MAGIC + 8;
/// Offset of the footer's section table CRC32 (`u32`).
pub const F_TABLE_CRC: usize = F_TOTAL_LEN + 8;
/// Offset of the footer's copy of the header CRC32 (`u32`).
pub const F_HEADER_CRC: usize = F_TABLE_CRC + 4;
/// Offset of the reserved footer bytes (4 bytes, written zero).
pub const F_RESERVED: usize = F_HEADER_CRC + 4;
/// Offset of the footer's own CRC32 (`u32`), over footer bytes `[0, F_CRC)`.
pub const F_CRC: usize = F_RESERVED + 4;
/// Length of the footer.
pub const FOOTER_LEN: usize = F_CRC + 4;

/// Alignment of every section that is not `F32_ROWS`, and of the footer.
pub const DEFAULT_ALIGNMENT: u32 = 8;
/// Alignment of `F32_ROWS` sections (a cache line; divides every page size).
pub const F32_ALIGNMENT: u32 = 64;
/// Largest section alignment a reader accepts.
pub const MAX_ALIGNMENT: u32 = 4096;

/// A format version: `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FormatVersion {
    /// Incompatible changes bump the major version.
    pub major: u16,
    /// Additions an older reader can skip bump the minor version.
    pub minor: u16,
}

impl fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What a section holds. Storage treats payloads as opaque bytes; the kind decides only the
/// alignment the writer uses and, for [`SectionKind::F32_ROWS`], that the length is a multiple
/// of 4. Unknown kinds (from a later minor version) are read like any other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SectionKind(pub u32);

impl SectionKind {
    /// Index parameters (dimension, metric, HNSW and codec settings).
    pub const PARAMS: Self = Self(1);
    /// f32 vectors, row-major, little-endian; 64-byte aligned in the file.
    pub const F32_ROWS: Self = Self(2);
    /// Quantized codes.
    pub const CODES: Self = Self(3);
    /// Quantization codec parameters.
    pub const CODEC_PARAMS: Self = Self(4);
    /// HNSW neighbour lists.
    pub const GRAPH_ADJACENCY: Self = Self(5);
    /// External id ↔ internal slot map.
    pub const ID_MAP: Self = Self(6);
    /// Deleted slots.
    pub const TOMBSTONES: Self = Self(7);
    /// The journal's lineage and last included log record (written by
    /// [`Journal`](crate::Journal); format 1.1).
    pub const LOG_STATE: Self = Self(8);

    /// The alignment the writer gives a payload of this kind.
    pub fn alignment(self) -> u32 {
        if self == Self::F32_ROWS {
            F32_ALIGNMENT
        } else {
            DEFAULT_ALIGNMENT
        }
    }

    /// The registered name of this kind, if it has one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "PARAMS",
            2 => "F32_ROWS",
            3 => "CODES",
            4 => "CODEC_PARAMS",
            5 => "GRAPH_ADJACENCY",
            6 => "ID_MAP",
            7 => "TOMBSTONES",
            8 => "LOG_STATE",
            _ => return None,
        })
    }
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "kind {}", self.0),
        }
    }
}

/// `value` rounded up to a multiple of `align` (a power of two), or `None` on overflow.
pub(crate) fn align_up(value: u64, align: u32) -> Option<u64> {
    let mask = u64::from(align) - 1;
    value.checked_add(mask).map(|v| v & !mask)
}

pub(crate) fn get_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

pub(crate) fn get_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

pub(crate) fn get_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

pub(crate) fn put_u16(bytes: &mut [u8], at: usize, v: u16) {
    bytes[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// The header CRC: bytes `[0, H_CRC)` followed by bytes `[HEADER_LEN, header.len())`.
pub(crate) fn header_crc(header: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[..H_CRC]);
    h.update(&header[HEADER_LEN..]);
    h.finalize()
}

/// The footer CRC: footer bytes `[0, F_CRC)`.
pub(crate) fn footer_crc(footer: &[u8]) -> u32 {
    crate::crc32(&footer[..F_CRC])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers in docs/FORMAT.md, checked against the chained constants.
    #[test]
    fn offsets_match_the_spec() {
        assert_eq!(
            [
                H_MAGIC,
                H_MAJOR,
                H_MINOR,
                H_FLAGS,
                H_HEADER_LEN,
                H_SECTION_COUNT
            ],
            [0, 8, 10, 12, 16, 20]
        );
        assert_eq!(
            [
                H_TABLE_OFFSET,
                H_FOOTER_OFFSET,
                H_RESERVED,
                H_CRC,
                HEADER_LEN
            ],
            [24, 32, 40, 60, 64]
        );
        assert_eq!(
            [
                E_KIND,
                E_FLAGS,
                E_OFFSET,
                E_LENGTH,
                E_CRC,
                E_ALIGNMENT,
                ENTRY_LEN
            ],
            [0, 4, 8, 16, 24, 28, 32]
        );
        assert_eq!(
            [
                F_MAGIC,
                F_TOTAL_LEN,
                F_TABLE_CRC,
                F_HEADER_CRC,
                F_RESERVED,
                F_CRC,
                FOOTER_LEN
            ],
            [0, 8, 16, 20, 24, 28, 32]
        );
        assert_eq!(MAGIC, [0x89, 0x45, 0x56, 0x43, 0x0D, 0x0A, 0x1A, 0x0A]);
        assert_eq!(
            FOOTER_MAGIC,
            [0x89, 0x45, 0x56, 0x43, 0x44, 0x4F, 0x4E, 0x45]
        );
        // The header and footer keep the 8-byte alignment of everything that follows them.
        assert_eq!(HEADER_LEN % 8, 0);
        assert_eq!(ENTRY_LEN % 8, 0);
        assert_eq!(FOOTER_LEN % 8, 0);
    }

    #[test]
    fn kinds_and_alignment() {
        assert_eq!(SectionKind::F32_ROWS.alignment(), 64);
        assert_eq!(SectionKind::ID_MAP.alignment(), 8);
        assert_eq!(SectionKind(99).alignment(), 8);
        assert_eq!(SectionKind::TOMBSTONES.to_string(), "TOMBSTONES");
        assert_eq!(SectionKind(99).to_string(), "kind 99");
        assert_eq!(FORMAT_VERSION.to_string(), "1.1");
        assert_eq!(align_up(0, 64), Some(0));
        assert_eq!(align_up(1, 64), Some(64));
        assert_eq!(align_up(64, 64), Some(64));
        assert_eq!(align_up(u64::MAX, 8), None);
    }
}
