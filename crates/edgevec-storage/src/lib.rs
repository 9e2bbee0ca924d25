//! Persistence for EdgeVec (issue 6; this crate is a placeholder until then).
//!
//! This crate will own the `.evec` file format (specified byte by byte in `docs/FORMAT.md`): a
//! PNG-style magic, versioned header and section table with a CRC32 per section, 64-byte aligned
//! f32 row sections that can be memory-mapped, a commit footer written last, atomic snapshot
//! saves, a CRC-framed write-ahead log with crash recovery, and an I/O backend trait (file,
//! memory, crash simulation) that one test suite runs against.
//!
//! Architecture invariant: storage knows bytes and sections, not graphs; it never depends on
//! `edgevec-graph` or `edgevec-quant`, which hand it their sections through plain byte slices.
#![forbid(unsafe_code)]

/// CRC32 (IEEE) of `bytes`, the checksum every section of an `.evec` file will carry.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_matches_the_ieee_check_value() {
        // The standard check value of CRC-32/ISO-HDLC for the ASCII string "123456789".
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
