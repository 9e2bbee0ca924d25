//! The f32 rows of a quantized index, read only when rescoring: a prefix left in the snapshot
//! file they were opened from (read on demand), then the rows added since, in memory.
//!
//! A quantized index walks its graph over codes; its f32 rows are touched only for the few
//! candidates it rescores. Opening one from a file therefore leaves the rows in the file
//! (`EvecFile::open_deferred`): each rescored row is one positioned read of `4·d` bytes,
//! served by the operating system's page cache, so rows cost the process no resident memory.
//! (A memory map would keep every row page ever touched resident in the process, growing
//! towards the file's size as queries come in.) [`Rows::load`] reads them into memory instead,
//! for a caller who prefers the speed to the memory (`Index::load_rows`).

use std::sync::Arc;

use edgevec_storage::{EvecFile, Piece, SectionKind};

/// Rows in slot order: `file_rows` rows in a snapshot file, then `tail`.
#[derive(Debug)]
pub(crate) struct Rows {
    dim: usize,
    /// The snapshot whose `F32_ROWS` section (index `section`) holds the first rows.
    file: Option<Arc<EvecFile>>,
    section: usize,
    file_rows: usize,
    tail: Vec<f32>,
}

impl Rows {
    pub(crate) fn new(dim: usize) -> Self {
        Self::owned(dim, Vec::new())
    }

    /// Rows held in memory.
    pub(crate) fn owned(dim: usize, rows: Vec<f32>) -> Self {
        Self {
            dim,
            file: None,
            section: 0,
            file_rows: 0,
            tail: rows,
        }
    }

    /// Rows left in `file`'s `F32_ROWS` section, when the file was opened with its rows
    /// deferred; `None` otherwise.
    pub(crate) fn deferred(dim: usize, file: Arc<EvecFile>) -> Option<Self> {
        let section = file.find(SectionKind::F32_ROWS)?;
        if !file.is_deferred(section) {
            return None;
        }
        let values = file.sections()[section].length / 4;
        let file_rows = usize::try_from(values).ok()? / dim;
        Some(Self {
            dim,
            file: Some(file),
            section,
            file_rows,
            tail: Vec::new(),
        })
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.file_rows + self.tail.len() / self.dim
    }

    /// Row `slot`: borrowed when in memory, read into `buf` when in the file. `None` for a
    /// slot out of range or a failed read.
    pub(crate) fn row<'a>(&'a self, slot: usize, buf: &'a mut Vec<f32>) -> Option<&'a [f32]> {
        let d = self.dim;
        if slot < self.file_rows {
            let file = self.file.as_ref()?;
            buf.resize(d, 0.0);
            file.read_f32s(self.section, (slot * d) as u64, buf).ok()?;
            Some(buf)
        } else {
            let i = slot - self.file_rows;
            self.tail.get(i * d..(i + 1) * d)
        }
    }

    /// Starts loading row `slot` into the cache when it is in memory; nothing for a row in
    /// the file. Timing only.
    pub(crate) fn prefetch(&self, slot: usize) {
        let d = self.dim;
        if let Some(i) = slot.checked_sub(self.file_rows)
            && let Some(row) = self.tail.get(i * d..(i + 1) * d)
        {
            edgevec_simd::prefetch_slice(row);
        }
    }

    /// Reads the rows left in the file into memory, ahead of the rows added since; the file
    /// is then no longer used. A read error leaves the rows as they were.
    pub(crate) fn load(&mut self) -> Result<(), edgevec_storage::StorageError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let mut rows = Vec::new();
        rows.try_reserve_exact(self.file_rows * self.dim + self.tail.len())
            .map_err(|_| {
                edgevec_storage::StorageError::Io(std::io::ErrorKind::OutOfMemory.into())
            })?;
        rows.resize(self.file_rows * self.dim, 0.0);
        file.read_f32s(self.section, 0, &mut rows)?;
        rows.extend_from_slice(&self.tail);
        *self = Self::owned(self.dim, rows);
        Ok(())
    }

    pub(crate) fn push(&mut self, row: &[f32]) {
        self.tail.extend_from_slice(row);
    }

    pub(crate) fn reserve(&mut self, rows: usize) {
        self.tail.reserve(rows.saturating_mul(self.dim));
    }

    /// Keeps rows `keep` (ascending slots) in that order. Rows that survive from the file are
    /// read into memory (the file cannot be rewritten); the next checkpoint writes them to a
    /// new file and reopening leaves them there again.
    pub(crate) fn retain(&mut self, keep: &[u32]) {
        let d = self.dim;
        let mut rows = Vec::with_capacity(keep.len() * d);
        let mut buf = Vec::new();
        for &s in keep {
            match self.row(s as usize, &mut buf) {
                Some(r) => rows.extend_from_slice(r),
                // A failed read (the disk went away): keep the slot, with zeros, so the slots
                // stay aligned with the codes; its exact distance is then wrong, never a panic.
                None => rows.resize(rows.len() + d, 0.0),
            }
        }
        *self = Self::owned(d, rows);
    }

    /// The rows as pieces in slot order, for saving.
    pub(crate) fn pieces(&self) -> Vec<Piece<'_>> {
        let mut p = Vec::with_capacity(2);
        if let Some(file) = &self.file {
            p.push(Piece::Section(file, self.section));
        }
        p.push(Piece::F32(&self.tail));
        p
    }

    /// Whether every value in memory is finite. Rows in a file are protected by their
    /// section's checksum (verified at open) and are not scanned; rescoring skips a candidate
    /// whose distance is not finite instead.
    pub(crate) fn tail_is_finite(&self) -> bool {
        self.tail.iter().all(|x| x.is_finite())
    }

    /// Bytes of rows held in memory.
    pub(crate) fn resident_bytes(&self) -> usize {
        self.tail.capacity() * std::mem::size_of::<f32>()
    }

    /// Bytes of rows left in the file.
    pub(crate) fn file_bytes(&self) -> usize {
        self.file_rows * self.dim * std::mem::size_of::<f32>()
    }
}
