//! Opening and verifying `.evec` files.

use std::borrow::Cow;
use std::io;

use crate::backend::{Backend, read_slice_at, too_large};
use crate::error::{Defect, Region, Result, StorageError};
use crate::format::*;
use crate::mmap::Map;

/// One entry of the section table, as verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionInfo {
    /// What the section holds.
    pub kind: SectionKind,
    /// Section flags (none defined in 1.0).
    pub flags: u32,
    /// Offset of the payload from the start of the file.
    pub offset: u64,
    /// Payload length in bytes.
    pub length: u64,
    /// CRC32 of the payload.
    pub crc: u32,
    /// Alignment of the payload in the file.
    pub alignment: u32,
}

/// What a successful verification found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSummary {
    /// The file's format version.
    pub version: FormatVersion,
    /// The header flags (none defined in 1.0).
    pub flags: u32,
    /// The file length in bytes.
    pub len: u64,
    /// The section table, in file order.
    pub sections: Vec<SectionInfo>,
}

/// Where the verifier reads from: a backend (read in chunks) or bytes in memory.
trait Source {
    fn len(&self) -> io::Result<u64>;
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Calls `f` on the bytes of `[offset, offset + len)`, in order, in one or more pieces.
    fn visit(&self, offset: u64, len: u64, f: &mut dyn FnMut(&[u8])) -> io::Result<()>;
}

struct BackendSource<'a, B: ?Sized>(&'a B);

/// Reads from a backend are made in pieces of this size, so verification needs little memory.
const READ_CHUNK: u64 = 1 << 16;

impl<B: Backend + ?Sized> Source for BackendSource<'_, B> {
    fn len(&self) -> io::Result<u64> {
        self.0.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_at(offset, buf)
    }
    fn visit(&self, offset: u64, len: u64, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        let mut buf = vec![0u8; len.min(READ_CHUNK) as usize];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(READ_CHUNK) as usize;
            self.0.read_at(offset + done, &mut buf[..n])?;
            f(&buf[..n]);
            done += n as u64;
        }
        Ok(())
    }
}

impl Source for [u8] {
    fn len(&self) -> io::Result<u64> {
        Ok(<[u8]>::len(self) as u64)
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        read_slice_at(self, offset, buf)
    }
    fn visit(&self, offset: u64, len: u64, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        let mut buf = [];
        // Checks the range with the same rule as `read_at`.
        read_slice_at(self, offset.saturating_add(len), &mut buf)?;
        // In range: offset + len <= self.len(), which fits in usize.
        f(&self[offset as usize..(offset + len) as usize]);
        Ok(())
    }
}

fn corrupted(section: Region, offset: u64, defect: Defect) -> StorageError {
    StorageError::Corrupted {
        section,
        offset,
        defect,
    }
}

fn invalid(section: Region, offset: u64, field: &'static str, value: u64) -> StorageError {
    corrupted(section, offset, Defect::InvalidField { field, value })
}

fn check_crc(section: Region, offset: u64, stored: u32, computed: u32) -> Result<()> {
    if stored == computed {
        Ok(())
    } else {
        Err(corrupted(
            section,
            offset,
            Defect::ChecksumMismatch { stored, computed },
        ))
    }
}

/// Checks that `[from, to)` is all zero.
fn check_padding(src: &(impl Source + ?Sized), from: u64, to: u64) -> Result<()> {
    let mut first_nonzero = None;
    let mut pos = from;
    src.visit(from, to - from, &mut |bytes| {
        if first_nonzero.is_none()
            && let Some(i) = bytes.iter().position(|&b| b != 0)
        {
            first_nonzero = Some(pos + i as u64);
        }
        pos += bytes.len() as u64;
    })?;
    match first_nonzero {
        None => Ok(()),
        Some(at) => Err(corrupted(Region::Padding, at, Defect::NonZeroPadding)),
    }
}

/// Verifies everything, in the order of docs/FORMAT.md, and returns the first problem.
fn validate(src: &(impl Source + ?Sized)) -> Result<FileSummary> {
    let len = src.len()?;

    // 1. Magic.
    let mut magic = [0u8; 8];
    let n = len.min(8) as usize;
    src.read_exact_at(0, &mut magic[..n])?;
    if magic[..n] != MAGIC[..n] {
        return Err(StorageError::BadMagic {
            found: magic[..n].to_vec(),
        });
    }
    if len < HEADER_LEN as u64 {
        return Err(StorageError::Truncated {
            expected: HEADER_LEN as u64,
            found: len,
        });
    }

    // 2. Version, before the CRC: a later major may lay the header out differently.
    let mut fixed = [0u8; HEADER_LEN];
    src.read_exact_at(0, &mut fixed)?;
    let version = FormatVersion {
        major: get_u16(&fixed, H_MAJOR),
        minor: get_u16(&fixed, H_MINOR),
    };
    if version.major != FORMAT_VERSION.major {
        return Err(StorageError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }

    // 3. Header length and CRC.
    let header_len = get_u32(&fixed, H_HEADER_LEN);
    if header_len < HEADER_LEN as u32
        || header_len > MAX_HEADER_LEN
        || !header_len.is_multiple_of(8)
    {
        return Err(invalid(
            Region::Header,
            H_HEADER_LEN as u64,
            "header_len",
            header_len.into(),
        ));
    }
    if len < u64::from(header_len) {
        return Err(StorageError::Truncated {
            expected: header_len.into(),
            found: len,
        });
    }
    let mut header = vec![0u8; header_len as usize];
    src.read_exact_at(0, &mut header)?;
    let h_crc = get_u32(&header, H_CRC);
    check_crc(Region::Header, H_CRC as u64, h_crc, header_crc(&header))?;

    // 4. The header's framing fields, and the file length.
    let flags = get_u32(&header, H_FLAGS);
    let count = get_u32(&header, H_SECTION_COUNT);
    let table_offset = get_u64(&header, H_TABLE_OFFSET);
    let footer_offset = get_u64(&header, H_FOOTER_OFFSET);
    if table_offset != u64::from(header_len) {
        return Err(invalid(
            Region::Header,
            H_TABLE_OFFSET as u64,
            "table_offset",
            table_offset,
        ));
    }
    let table_len = u64::from(count) * ENTRY_LEN as u64;
    let table_end = table_offset + table_len;
    let expected = footer_offset.checked_add(FOOTER_LEN as u64);
    let expected = match expected {
        Some(e) if footer_offset >= table_end && footer_offset.is_multiple_of(8) => e,
        _ => {
            return Err(invalid(
                Region::Header,
                H_FOOTER_OFFSET as u64,
                "footer_offset",
                footer_offset,
            ));
        }
    };
    if len < expected {
        return Err(StorageError::Truncated {
            expected,
            found: len,
        });
    }
    if len > expected {
        return Err(corrupted(
            Region::Footer,
            expected,
            Defect::TrailingBytes { expected },
        ));
    }

    // 5. Footer: the commit record.
    let mut footer = [0u8; FOOTER_LEN];
    src.read_exact_at(footer_offset, &mut footer)?;
    if footer[F_MAGIC..F_MAGIC + 8] != FOOTER_MAGIC {
        return Err(corrupted(
            Region::Footer,
            footer_offset,
            Defect::MissingCommitRecord,
        ));
    }
    let f_crc = get_u32(&footer, F_CRC);
    check_crc(
        Region::Footer,
        footer_offset + F_CRC as u64,
        f_crc,
        footer_crc(&footer),
    )?;
    let total_len = get_u64(&footer, F_TOTAL_LEN);
    if total_len != len {
        return Err(invalid(
            Region::Footer,
            footer_offset + F_TOTAL_LEN as u64,
            "total_len",
            total_len,
        ));
    }
    if get_u32(&footer, F_HEADER_CRC) != h_crc {
        return Err(corrupted(
            Region::Footer,
            footer_offset + F_HEADER_CRC as u64,
            Defect::FooterMismatch,
        ));
    }

    // 6. Section table. Its length is bounded by the file length (table_end <= footer_offset).
    let mut table = vec![0u8; table_len as usize];
    src.read_exact_at(table_offset, &mut table)?;
    check_crc(
        Region::SectionTable,
        table_offset,
        get_u32(&footer, F_TABLE_CRC),
        crate::crc32(&table),
    )?;
    let mut sections = Vec::with_capacity(count as usize);
    let mut end = table_end;
    for (index, e) in (0..count).zip(table.chunks_exact(ENTRY_LEN)) {
        let at = table_offset + u64::from(index) * ENTRY_LEN as u64;
        let region = Region::TableEntry { index };
        let info = SectionInfo {
            kind: SectionKind(get_u32(e, E_KIND)),
            flags: get_u32(e, E_FLAGS),
            offset: get_u64(e, E_OFFSET),
            length: get_u64(e, E_LENGTH),
            crc: get_u32(e, E_CRC),
            alignment: get_u32(e, E_ALIGNMENT),
        };
        if info.kind.0 == 0 {
            return Err(invalid(region, at + E_KIND as u64, "kind", 0));
        }
        let min_alignment = if info.kind == SectionKind::F32_ROWS {
            F32_ALIGNMENT
        } else {
            DEFAULT_ALIGNMENT
        };
        if !info.alignment.is_power_of_two()
            || info.alignment < min_alignment
            || info.alignment > MAX_ALIGNMENT
        {
            return Err(invalid(
                region,
                at + E_ALIGNMENT as u64,
                "alignment",
                info.alignment.into(),
            ));
        }
        if align_up(end, info.alignment) != Some(info.offset) {
            return Err(invalid(region, at + E_OFFSET as u64, "offset", info.offset));
        }
        let section_end = info
            .offset
            .checked_add(info.length)
            .filter(|&e| e <= footer_offset);
        let bad_length = info.kind == SectionKind::F32_ROWS && !info.length.is_multiple_of(4);
        match section_end {
            Some(e) if !bad_length => end = e,
            _ => return Err(invalid(region, at + E_LENGTH as u64, "length", info.length)),
        }
        sections.push(info);
    }
    if align_up(end, DEFAULT_ALIGNMENT) != Some(footer_offset) {
        return Err(invalid(
            Region::Header,
            H_FOOTER_OFFSET as u64,
            "footer_offset",
            footer_offset,
        ));
    }

    // 7. Payloads and padding, in file order.
    let mut pos = table_end;
    for (index, info) in (0..count).zip(&sections) {
        check_padding(src, pos, info.offset)?;
        let mut crc = crc32fast::Hasher::new();
        src.visit(info.offset, info.length, &mut |bytes| crc.update(bytes))?;
        check_crc(
            Region::Section {
                index,
                kind: info.kind,
            },
            info.offset,
            info.crc,
            crc.finalize(),
        )?;
        pos = info.offset + info.length;
    }
    check_padding(src, pos, footer_offset)?;

    Ok(FileSummary {
        version,
        flags,
        len,
        sections,
    })
}

/// Verifies a whole `.evec` file in `backend` — magic, version, header CRC, footer, section
/// table CRC, every section CRC and every padding byte — reading it in 64 KiB pieces, and
/// returns its summary or the first problem found.
///
/// # Errors
/// [`StorageError::BadMagic`], [`StorageError::UnsupportedVersion`],
/// [`StorageError::Truncated`], [`StorageError::Corrupted`] or [`StorageError::Io`].
pub fn verify<B: Backend + ?Sized>(backend: &B) -> Result<FileSummary> {
    validate(&BackendSource(backend))
}

/// [`verify`] for a file held in memory.
///
/// # Errors
/// As [`verify`].
pub fn verify_bytes(bytes: &[u8]) -> Result<FileSummary> {
    validate(bytes)
}

/// 64 bytes aligned to 64, the unit of [`EvecFile`]'s buffer, so that every payload offset of
/// the file (at least 8-aligned, `F32_ROWS` 64-aligned) is equally aligned in memory.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Block([u8; 64]);

/// A verified `.evec` file in memory, handing out its section payloads.
///
/// The bytes are held in a 64-byte aligned buffer, so [`EvecFile::f32s`] borrows `F32_ROWS`
/// payloads as `&[f32]` without copying on little-endian hosts.
pub struct EvecFile {
    bytes: Bytes,
    summary: FileSummary,
    /// For a mapped file: in-memory copies of the sections that are not `F32_ROWS` (read at
    /// open, so the map's pages are only ever touched by row reads); empty otherwise.
    copies: Vec<Option<Vec<Block>>>,
}

/// Where an [`EvecFile`]'s bytes live.
enum Bytes {
    /// Read into a 64-byte aligned buffer.
    Owned(Vec<Block>),
    /// Memory-mapped (page aligned).
    Mapped(Map),
    /// Left in the file: `F32_ROWS` sections are read on demand with positioned reads
    /// ([`EvecFile::read_f32s`]); every other section is in `copies`.
    Deferred(crate::DirFile),
}

impl std::fmt::Debug for EvecFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvecFile")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl EvecFile {
    /// Reads the whole file from `backend` and verifies it as [`verify`] does.
    ///
    /// The buffer is sized by the backend's actual length, never by a length read from the
    /// file.
    ///
    /// # Errors
    /// As [`verify`]; [`StorageError::Io`] also when the file does not fit in memory.
    pub fn open<B: Backend + ?Sized>(backend: &B) -> Result<Self> {
        let len = backend.len()?;
        let mut blocks = alloc_blocks(len)?;
        let bytes = &mut bytemuck::cast_slice_mut::<Block, u8>(&mut blocks)[..len as usize];
        backend.read_at(0, bytes)?;
        Self::from_blocks(blocks, len)
    }

    /// Copies `bytes` into an aligned buffer and verifies them as [`verify_bytes`] does.
    ///
    /// # Errors
    /// As [`verify`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let len = bytes.len() as u64;
        let mut blocks = alloc_blocks(len)?;
        bytemuck::cast_slice_mut::<Block, u8>(&mut blocks)[..bytes.len()].copy_from_slice(bytes);
        Self::from_blocks(blocks, len)
    }

    fn from_blocks(blocks: Vec<Block>, len: u64) -> Result<Self> {
        let bytes = &bytemuck::cast_slice::<Block, u8>(&blocks)[..len as usize];
        let summary = validate(bytes)?;
        Ok(Self {
            bytes: Bytes::Owned(blocks),
            summary,
            copies: Vec::new(),
        })
    }

    /// Opens the file at `path` with its `F32_ROWS` sections memory-mapped and every other
    /// section read into memory.
    ///
    /// Verification ([`verify`]: every checksum) reads the file with positioned reads in
    /// bounded memory, never through the map, so opening touches no mapped page: the rows
    /// are paged in only as they are used, and the map is advised for random access (no
    /// read-ahead). How much a row read adds to the process's resident memory is the
    /// kernel's choice: one page where the page cache holds the file in small pages, but
    /// Linux maps a whole page-cache folio at the first touch, and on file systems with large
    /// folios (ext4, XFS) the cache holds a file in folios of up to 2 MiB once it was read
    /// sequentially (this open's verification, when the file was not cached) or written in
    /// large pieces ([`write_file`] writes a [`FileBackend`](crate::FileBackend) 2 MiB at a
    /// time). A few hundred scattered reads can then make the whole file resident (measured
    /// on Linux 6.18: 100 reads of a 96 MiB file, 97 MiB). To keep rows out of the resident
    /// set, read them with [`EvecFile::open_deferred`]. `F32_ROWS` sections are 64-byte
    /// aligned in the file and the map is page aligned, so [`EvecFile::f32s`] borrows them
    /// without copying.
    ///
    /// The file must not be modified or truncated, by any process, while the returned
    /// `EvecFile` lives: mapped bytes would change under the borrowed slices, and a truncation
    /// makes the operating system kill the process (SIGBUS) on access.
    /// [`save_atomic`](crate::save_atomic) respects this: it replaces the file by rename, which
    /// leaves the mapped file intact.
    ///
    /// # Errors
    /// As [`verify`].
    pub fn open_mmap(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let backend = crate::FileBackend::open_read_only(path)?;
        let len = backend.len()?;
        if len == 0 {
            // Nothing to map (mapping zero bytes fails on some platforms).
            return Self::from_bytes(&[]);
        }
        let summary = verify(&backend)?;
        let copies = copy_sections(&backend, &summary, |kind| kind == SectionKind::F32_ROWS)?;
        let file = backend.into_file();
        let map = Map::new(&file)?;
        if (map.as_slice().len() as u64) < len {
            return Err(StorageError::Truncated {
                expected: len,
                found: map.as_slice().len() as u64,
            });
        }
        Ok(Self {
            bytes: Bytes::Mapped(map),
            summary,
            copies,
        })
    }

    /// Opens a file leaving its bulk sections (`F32_ROWS`, `CODES` and `GRAPH_ADJACENCY`, one
    /// entry per vector) in the file: every checksum is verified (with positioned reads, in
    /// bounded memory), every other section is read into memory, rows are read on demand with
    /// [`EvecFile::read_f32s`], a whole bulk section with [`EvecFile::read_section`] (into a
    /// buffer the caller keeps, so it is never held twice) or piece by piece with
    /// [`EvecFile::section_reader`]. Nothing of the rows stays in
    /// the process: reads go through the operating system's page cache, which is not part of
    /// the process's resident memory and which the system reclaims as it needs. (A memory map,
    /// [`EvecFile::open_mmap`], keeps every row page it ever touched resident in the process,
    /// and with large page-cache folios much more.)
    ///
    /// The file must not be modified while the returned `EvecFile` lives (snapshots are only
    /// ever replaced by rename, which leaves the open file intact).
    ///
    /// # Errors
    /// As [`verify`].
    pub fn open_deferred(backend: crate::DirFile) -> Result<Self> {
        let summary = verify(&*backend)?;
        let copies = copy_sections(&*backend, &summary, is_bulk)?;
        Ok(Self {
            bytes: Bytes::Deferred(backend),
            summary,
            copies,
        })
    }

    /// Frees the in-memory copies of the sections of a file opened with
    /// [`EvecFile::open_deferred`] or [`EvecFile::open_mmap`], once the caller has parsed them
    /// into its own structures; [`EvecFile::section`] returns `None` for them afterwards, while
    /// deferred and mapped rows stay readable. Does nothing for a file held in memory.
    pub fn release_copies(&mut self) {
        for copy in self.copies.iter_mut().flatten() {
            *copy = Vec::new();
        }
    }

    /// The table entry of section `index`, or [`StorageError::MissingSection`].
    fn section_info(&self, index: usize) -> Result<&SectionInfo> {
        self.summary
            .sections
            .get(index)
            .ok_or(StorageError::MissingSection {
                kind: SectionKind(0),
            })
    }

    /// The payload of section `index` as an owned buffer: copied from memory, or read from the
    /// file for a deferred section.
    ///
    /// # Errors
    /// [`StorageError::MissingSection`] for a bad index; I/O errors.
    pub fn read_section(&self, index: usize) -> Result<Vec<u8>> {
        let info = self.section_info(index)?;
        let too_large = || StorageError::Io(too_large(info.length));
        let len = usize::try_from(info.length).map_err(|_| too_large())?;
        let mut out = Vec::new();
        out.try_reserve_exact(len).map_err(|_| too_large())?;
        // Large sections (codes) are read at random once loaded: ask for huge pages before the
        // first write faults the buffer in, so they need no copying later.
        edgevec_simd::hint_huge_pages(&out);
        self.visit_section(index, &mut |piece| {
            out.extend_from_slice(piece);
            Ok(())
        })?;
        Ok(out)
    }

    /// Whether section `index` is left in the file ([`EvecFile::open_deferred`]) and must be
    /// read with [`EvecFile::read_f32s`] or [`EvecFile::visit_section`].
    pub fn is_deferred(&self, index: usize) -> bool {
        matches!(self.bytes, Bytes::Deferred(_)) && matches!(self.copies.get(index), Some(None))
    }

    /// Reads `out.len()` f32 values of section `index`, starting at value `first`, wherever
    /// the section lives.
    ///
    /// # Errors
    /// [`StorageError::MissingSection`] for a bad index or a range past the section's end;
    /// I/O errors of a deferred read.
    pub fn read_f32s(&self, index: usize, first: u64, out: &mut [f32]) -> Result<()> {
        let info = self.section_info(index)?;
        let start = first
            .checked_mul(4)
            .ok_or(StorageError::MissingSection { kind: info.kind })?;
        self.read_bytes(index, start, bytemuck::cast_slice_mut(out))?;
        #[cfg(not(target_endian = "little"))]
        for x in out.iter_mut() {
            *x = f32::from_le_bytes(x.to_ne_bytes());
        }
        Ok(())
    }

    /// Reads `out.len()` bytes of section `index`, starting at byte `start` of its payload,
    /// wherever the section lives.
    ///
    /// # Errors
    /// [`StorageError::MissingSection`] for a bad index or a range past the section's end;
    /// I/O errors of a deferred read.
    pub fn read_bytes(&self, index: usize, start: u64, out: &mut [u8]) -> Result<()> {
        let info = self.section_info(index)?;
        let missing = || StorageError::MissingSection { kind: info.kind };
        let end = start
            .checked_add(out.len() as u64)
            .filter(|&e| e <= info.length)
            .ok_or_else(missing)?;
        match (&self.bytes, self.is_deferred(index)) {
            (Bytes::Deferred(backend), true) => Ok(backend.read_at(info.offset + start, out)?),
            _ => {
                let bytes = self.section(index).ok_or_else(missing)?;
                out.copy_from_slice(&bytes[start as usize..end as usize]);
                Ok(())
            }
        }
    }

    /// A reader of section `index`'s payload from its first byte to its last. A parser that
    /// reads a large section this way, in pieces, holds only what it builds from it: with
    /// [`EvecFile::open_deferred`] the section's bytes are never in memory whole. When the
    /// bytes come from the file as they are read (a deferred or mapped section), the reader
    /// checks the section's checksum again once everything was read
    /// ([`SectionReader::finish`]); bytes held in memory were checked when they were read in.
    ///
    /// # Errors
    /// [`StorageError::MissingSection`] for a bad index.
    pub fn section_reader(&self, index: usize) -> Result<SectionReader<'_>> {
        let length = self.section_info(index)?.length;
        let from_file = match self.bytes {
            Bytes::Owned(_) => false,
            Bytes::Deferred(_) | Bytes::Mapped(_) => {
                !matches!(self.copies.get(index), Some(Some(_)))
            }
        };
        Ok(SectionReader {
            file: self,
            index,
            pos: 0,
            length,
            crc: from_file.then(crc32fast::Hasher::new),
        })
    }

    /// Calls `f` with the payload of section `index`, in order, in one or more pieces
    /// (deferred sections are read in 64 KiB pieces).
    ///
    /// # Errors
    /// [`StorageError::MissingSection`] for a bad index; I/O errors; errors of `f`.
    pub fn visit_section(
        &self,
        index: usize,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let info = self.section_info(index)?;
        match (&self.bytes, self.is_deferred(index)) {
            (Bytes::Deferred(backend), true) => {
                let mut buf = vec![0u8; info.length.min(READ_CHUNK) as usize];
                let mut done = 0;
                while done < info.length {
                    let n = (info.length - done).min(READ_CHUNK) as usize;
                    backend.read_at(info.offset + done, &mut buf[..n])?;
                    f(&buf[..n])?;
                    done += n as u64;
                }
                Ok(())
            }
            _ => f(self
                .section(index)
                .ok_or(StorageError::MissingSection { kind: info.kind })?),
        }
    }

    /// Whether the bytes are memory-mapped ([`EvecFile::open_mmap`]) rather than read.
    pub fn is_mapped(&self) -> bool {
        matches!(self.bytes, Bytes::Mapped(_))
    }

    /// The whole file, when it is in memory or mapped (`None` for
    /// [`EvecFile::open_deferred`]).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        let all = match &self.bytes {
            Bytes::Owned(blocks) => bytemuck::cast_slice::<Block, u8>(blocks),
            Bytes::Mapped(map) => map.as_slice(),
            Bytes::Deferred(_) => return None,
        };
        Some(&all[..self.summary.len as usize])
    }

    /// The verified summary: version, flags, length, section table.
    pub fn summary(&self) -> &FileSummary {
        &self.summary
    }

    /// The file's format version.
    pub fn version(&self) -> FormatVersion {
        self.summary.version
    }

    /// The section table, in file order.
    pub fn sections(&self) -> &[SectionInfo] {
        &self.summary.sections
    }

    /// The index of the first section of `kind`.
    pub fn find(&self, kind: SectionKind) -> Option<usize> {
        self.summary.sections.iter().position(|s| s.kind == kind)
    }

    /// The payload of section `index` (`None` for a section left in the file by
    /// [`EvecFile::open_deferred`]; read those with [`EvecFile::read_f32s`]).
    pub fn section(&self, index: usize) -> Option<&[u8]> {
        let info = self.summary.sections.get(index)?;
        if let Some(Some(copy)) = self.copies.get(index) {
            // Released copies are empty; the section is then gone.
            return bytemuck::cast_slice::<Block, u8>(copy).get(..info.length as usize);
        }
        // Verified: offset + length <= file length, which fits in usize.
        Some(&self.as_bytes()?[info.offset as usize..(info.offset + info.length) as usize])
    }

    /// The payload of the first section of `kind`.
    pub fn payload(&self, kind: SectionKind) -> Option<&[u8]> {
        self.section(self.find(kind)?)
    }

    /// The payload of the first section of `kind` as f32 values (little-endian in the file).
    /// Borrowed without copying when the host is little-endian (the payload is then 4-byte
    /// aligned in memory, as every payload of an `EvecFile` is); copied otherwise.
    ///
    /// # Errors
    /// [`StorageError::MissingSection`] when the file has no section of `kind`;
    /// [`StorageError::NotF32`] when its length is not a multiple of 4.
    pub fn f32s(&self, kind: SectionKind) -> Result<Cow<'_, [f32]>> {
        let index = self
            .find(kind)
            .ok_or(StorageError::MissingSection { kind })?;
        let info = &self.summary.sections[index];
        if !info.length.is_multiple_of(4) {
            return Err(StorageError::NotF32 {
                index,
                kind,
                length: info.length,
            });
        }
        if self.is_deferred(index) {
            let n = usize::try_from(info.length / 4)
                .map_err(|_| StorageError::Io(too_large(info.length)))?;
            let mut values: Vec<f32> = Vec::new();
            values
                .try_reserve_exact(n)
                .map_err(|_| StorageError::Io(too_large(info.length)))?;
            // As in `read_section`: huge pages before the rows fault the buffer in.
            edgevec_simd::hint_huge_pages(&values);
            values.resize(n, 0.0);
            self.read_f32s(index, 0, &mut values)?;
            return Ok(Cow::Owned(values));
        }
        let bytes = self
            .section(index)
            .ok_or(StorageError::MissingSection { kind })?;
        if !bytes.len().is_multiple_of(4) {
            return Err(StorageError::NotF32 {
                index,
                kind,
                length: info.length,
            });
        }
        Ok(f32s_from_le_bytes(bytes))
    }
}

/// Reads one section's payload in order ([`EvecFile::section_reader`]).
#[derive(Debug)]
pub struct SectionReader<'a> {
    file: &'a EvecFile,
    index: usize,
    pos: u64,
    length: u64,
    /// Running checksum of the bytes read, for sections read from the file.
    crc: Option<crc32fast::Hasher>,
}

impl SectionReader<'_> {
    /// Bytes not read yet.
    pub fn remaining(&self) -> u64 {
        self.length - self.pos
    }

    /// Fills `out` with the next `out.len()` bytes of the payload.
    ///
    /// # Errors
    /// [`StorageError::MissingSection`] when fewer than `out.len()` bytes remain (check
    /// [`SectionReader::remaining`] first); I/O errors of a deferred read.
    pub fn read_exact(&mut self, out: &mut [u8]) -> Result<()> {
        self.file.read_bytes(self.index, self.pos, out)?;
        if let Some(crc) = &mut self.crc {
            crc.update(out);
        }
        self.pos += out.len() as u64;
        Ok(())
    }

    /// Checks that the whole payload was read and, for a section read from the file, that
    /// what was read matches the checksum verified when the file was opened (the file was not
    /// changed since).
    ///
    /// # Errors
    /// [`StorageError::Corrupted`] with an invalid `unread_bytes` field when bytes remain,
    /// or with a checksum mismatch.
    pub fn finish(self) -> Result<()> {
        let info = self.file.section_info(self.index)?;
        let region = Region::Section {
            index: u32::try_from(self.index).unwrap_or(u32::MAX),
            kind: info.kind,
        };
        if self.pos != self.length {
            return Err(invalid(
                region,
                info.offset + self.pos,
                "unread_bytes",
                self.length - self.pos,
            ));
        }
        match self.crc {
            Some(crc) => check_crc(region, info.offset, info.crc, crc.finalize()),
            None => Ok(()),
        }
    }
}

/// Reads every section of a verified file into memory except those `left(kind)` says stay
/// in the file (`None` in their place).
fn copy_sections<B: Backend + ?Sized>(
    backend: &B,
    summary: &FileSummary,
    left: impl Fn(SectionKind) -> bool,
) -> Result<Vec<Option<Vec<Block>>>> {
    (0u32..)
        .zip(&summary.sections)
        .map(|(index, info)| {
            if left(info.kind) {
                return Ok(None);
            }
            let mut blocks = alloc_blocks(info.length)?;
            let buf =
                &mut bytemuck::cast_slice_mut::<Block, u8>(&mut blocks)[..info.length as usize];
            backend.read_at(info.offset, buf)?;
            // Verification read these bytes once already; this second read is what is kept,
            // so it is checked too (the file could have changed in between).
            let region = Region::Section {
                index,
                kind: info.kind,
            };
            check_crc(region, info.offset, info.crc, crate::crc32(buf))?;
            Ok(Some(blocks))
        })
        .collect()
}

/// The kinds [`EvecFile::open_deferred`] leaves in the file: the large ones, one entry (a row,
/// a code, a neighbour list) per vector, which their reader copies into its own structures.
fn is_bulk(kind: SectionKind) -> bool {
    kind == SectionKind::F32_ROWS
        || kind == SectionKind::CODES
        || kind == SectionKind::GRAPH_ADJACENCY
}

/// `bytes` (a multiple of 4 long) as little-endian f32 values: borrowed when the host is
/// little-endian and `bytes` is 4-byte aligned, copied otherwise.
pub fn f32s_from_le_bytes(bytes: &[u8]) -> Cow<'_, [f32]> {
    #[cfg(target_endian = "little")]
    if let Ok(values) = bytemuck::try_cast_slice::<u8, f32>(bytes) {
        return Cow::Borrowed(values);
    }
    Cow::Owned(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

fn alloc_blocks(len: u64) -> Result<Vec<Block>> {
    let too_large = || {
        StorageError::Io(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!("a {len}-byte file does not fit in memory on this platform"),
        ))
    };
    let n = usize::try_from(len.div_ceil(64)).map_err(|_| too_large())?;
    let _ = usize::try_from(len).map_err(|_| too_large())?;
    let mut blocks = Vec::new();
    blocks.try_reserve_exact(n).map_err(|_| too_large())?;
    blocks.resize(n, Block([0; 64]));
    Ok(blocks)
}
