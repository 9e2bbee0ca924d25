//! Writing a complete `.evec` file from a list of sections.

use crate::backend::Backend;
use crate::error::{Result, StorageError};
use crate::format::*;

/// The bytes of one section, as the writer receives them.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    /// Opaque bytes, stored as they are.
    Bytes(&'a [u8]),
    /// f32 values, stored as little-endian IEEE 754 binary32 (whatever the host's byte order).
    F32(&'a [f32]),
    /// Pieces stored one after the other as one payload: f32 values in memory and copies of
    /// sections of an open file (rows that live partly in an earlier snapshot and partly in
    /// memory, written without gathering them first).
    Pieces(&'a [Piece<'a>]),
}

/// One piece of a [`Payload::Pieces`].
#[derive(Clone, Copy, Debug)]
pub enum Piece<'a> {
    /// f32 values, stored little-endian.
    F32(&'a [f32]),
    /// The payload of section `.1` of an open file, copied as it is.
    Section(&'a crate::EvecFile, usize),
}

impl Payload<'_> {
    fn byte_len(&self) -> Option<u64> {
        match self {
            Payload::Bytes(b) => Some(b.len() as u64),
            Payload::F32(v) => (v.len() as u64).checked_mul(4),
            Payload::Pieces(pieces) => pieces.iter().try_fold(0u64, |n, p| {
                n.checked_add(match p {
                    Piece::F32(v) => (v.len() as u64).checked_mul(4)?,
                    Piece::Section(file, i) => file.sections().get(*i)?.length,
                })
            }),
        }
    }

    /// Calls `f` with the stored little-endian bytes, in order, in one or more pieces.
    fn for_each_chunk(&self, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        self.visit(&mut f)
    }

    fn visit(&self, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        match self {
            Payload::Bytes(b) => f(b),
            Payload::Pieces(pieces) => pieces.iter().try_for_each(|p| match p {
                Piece::F32(v) => Payload::F32(v).visit(f),
                Piece::Section(file, i) => file.visit_section(*i, f),
            }),
            #[cfg(target_endian = "little")]
            Payload::F32(v) => f(bytemuck::cast_slice(v)),
            #[cfg(not(target_endian = "little"))]
            Payload::F32(v) => {
                let mut buf = Vec::with_capacity(CONVERT_CHUNK.min(v.len() * 4));
                for chunk in v.chunks(CONVERT_CHUNK / 4) {
                    buf.clear();
                    buf.extend(chunk.iter().flat_map(|x| x.to_le_bytes()));
                    f(&buf)?;
                }
                Ok(())
            }
        }
    }
}

/// One section to write: its kind and its payload.
#[derive(Clone, Copy, Debug)]
pub struct Section<'a> {
    /// What the section holds; decides its alignment ([`SectionKind::alignment`]).
    pub kind: SectionKind,
    /// The payload.
    pub payload: Payload<'a>,
}

impl<'a> Section<'a> {
    /// A section of opaque bytes.
    pub fn bytes(kind: SectionKind, bytes: &'a [u8]) -> Self {
        Self {
            kind,
            payload: Payload::Bytes(bytes),
        }
    }

    /// A section whose payload is `pieces`, one after the other.
    pub fn pieces(kind: SectionKind, pieces: &'a [Piece<'a>]) -> Self {
        Self {
            kind,
            payload: Payload::Pieces(pieces),
        }
    }

    /// A section of f32 values (usually [`SectionKind::F32_ROWS`]).
    pub fn f32(kind: SectionKind, values: &'a [f32]) -> Self {
        Self {
            kind,
            payload: Payload::F32(values),
        }
    }
}

/// The big-endian conversion buffer of f32 payloads.
#[cfg(not(target_endian = "little"))]
const CONVERT_CHUNK: usize = 1 << 16;

/// Buffers sequential writes from offset 0 into `write_at` calls of the backend's
/// [`write_piece`](Backend::write_piece) bytes each (the last one shorter), so every piece
/// starts at a multiple of it. The buffer grows to a piece only for files that large.
struct SeqWriter<'b, B: Backend + ?Sized> {
    backend: &'b mut B,
    piece: usize,
    pos: u64,
    buf: Vec<u8>,
}

impl<'b, B: Backend + ?Sized> SeqWriter<'b, B> {
    fn new(backend: &'b mut B) -> Self {
        let piece = backend.write_piece().clamp(4 << 10, 64 << 20);
        Self {
            backend,
            piece,
            pos: 0,
            buf: Vec::new(),
        }
    }

    fn write(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            let take = bytes.len().min(self.piece - self.buf.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buf.len() == self.piece {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn zeros(&mut self, mut n: u64) -> Result<()> {
        const ZEROS: [u8; 64] = [0; 64];
        while n > 0 {
            let take = n.min(ZEROS.len() as u64) as usize;
            self.write(&ZEROS[..take])?;
            n -= take as u64;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.backend.write_at(self.pos, &self.buf)?;
            self.pos += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

/// Writes a complete `.evec` file holding `sections`, in order, to `backend`, replacing its
/// contents, and returns the file length.
///
/// Order of operations: truncate to zero, write the header, the section table, the payloads and
/// their zero padding, `sync`, write the footer, `sync`. A crash before the second sync returns
/// leaves a file that every reader rejects (it has no valid footer, or the footer cannot match);
/// it never leaves a file that opens with other contents. Overwriting in place is therefore not
/// atomic: the old contents are gone once the truncation lands. Use
/// [`save_atomic`](crate::save_atomic) to replace a file so that a crash leaves either the old
/// or the new one.
///
/// # Errors
/// [`StorageError::InvalidSection`] for a section of kind 0, an `F32_ROWS` byte payload whose
/// length is not a multiple of 4, or sizes that overflow `u64`; [`StorageError::Io`] when the
/// backend fails.
pub fn write_file<B: Backend + ?Sized>(backend: &mut B, sections: &[Section<'_>]) -> Result<u64> {
    let count = u32::try_from(sections.len()).map_err(|_| StorageError::InvalidSection {
        index: u32::MAX as usize,
        kind: sections[u32::MAX as usize].kind,
        reason: "more than u32::MAX sections",
    })?;

    // Layout and table.
    let table_offset = HEADER_LEN as u64;
    let table_len = sections.len() * ENTRY_LEN;
    let mut table = vec![0u8; table_len];
    let mut end = table_offset + table_len as u64;
    let mut offsets = Vec::with_capacity(sections.len());
    for (index, section) in sections.iter().enumerate() {
        let invalid = |reason| StorageError::InvalidSection {
            index,
            kind: section.kind,
            reason,
        };
        if section.kind.0 == 0 {
            return Err(invalid("kind 0 is reserved as invalid"));
        }
        let length = section
            .payload
            .byte_len()
            .ok_or_else(|| invalid("payload too large"))?;
        if section.kind == SectionKind::F32_ROWS && !length.is_multiple_of(4) {
            return Err(invalid("F32_ROWS payload length is not a multiple of 4"));
        }
        let alignment = section.kind.alignment();
        let offset = align_up(end, alignment).ok_or_else(|| invalid("file too large"))?;
        end = offset
            .checked_add(length)
            .ok_or_else(|| invalid("file too large"))?;
        let mut crc = crc32fast::Hasher::new();
        section.payload.for_each_chunk(|chunk| {
            crc.update(chunk);
            Ok(())
        })?;
        let e = &mut table[index * ENTRY_LEN..(index + 1) * ENTRY_LEN];
        put_u32(e, E_KIND, section.kind.0);
        put_u32(e, E_FLAGS, 0);
        put_u64(e, E_OFFSET, offset);
        put_u64(e, E_LENGTH, length);
        put_u32(e, E_CRC, crc.finalize());
        put_u32(e, E_ALIGNMENT, alignment);
        offsets.push(offset);
    }
    let too_large = || StorageError::InvalidSection {
        index: sections.len().saturating_sub(1),
        kind: sections.last().map_or(SectionKind(0), |s| s.kind),
        reason: "file too large",
    };
    let footer_offset = align_up(end, DEFAULT_ALIGNMENT).ok_or_else(too_large)?;
    let total_len = footer_offset
        .checked_add(FOOTER_LEN as u64)
        .ok_or_else(too_large)?;

    // Header.
    let mut header = [0u8; HEADER_LEN];
    header[H_MAGIC..H_MAGIC + 8].copy_from_slice(&MAGIC);
    put_u16(&mut header, H_MAJOR, FORMAT_VERSION.major);
    put_u16(&mut header, H_MINOR, FORMAT_VERSION.minor);
    put_u32(&mut header, H_FLAGS, 0);
    put_u32(&mut header, H_HEADER_LEN, HEADER_LEN as u32);
    put_u32(&mut header, H_SECTION_COUNT, count);
    put_u64(&mut header, H_TABLE_OFFSET, table_offset);
    put_u64(&mut header, H_FOOTER_OFFSET, footer_offset);
    let h_crc = header_crc(&header);
    put_u32(&mut header, H_CRC, h_crc);

    // Footer.
    let mut footer = [0u8; FOOTER_LEN];
    footer[F_MAGIC..F_MAGIC + 8].copy_from_slice(&FOOTER_MAGIC);
    put_u64(&mut footer, F_TOTAL_LEN, total_len);
    put_u32(&mut footer, F_TABLE_CRC, crate::crc32(&table));
    put_u32(&mut footer, F_HEADER_CRC, h_crc);
    let f_crc = footer_crc(&footer);
    put_u32(&mut footer, F_CRC, f_crc);

    // Body, sync, commit record, sync.
    backend.set_len(0)?;
    let mut w = SeqWriter::new(&mut *backend);
    w.write(&header)?;
    w.write(&table)?;
    let mut pos = table_offset + table_len as u64;
    for (section, &offset) in sections.iter().zip(&offsets) {
        w.zeros(offset - pos)?;
        section.payload.for_each_chunk(|chunk| w.write(chunk))?;
        pos = offset + section.payload.byte_len().unwrap_or(0);
    }
    w.zeros(footer_offset - pos)?;
    w.flush()?;
    backend.sync()?;
    backend.write_at(footer_offset, &footer)?;
    backend.sync()?;
    Ok(total_len)
}
