//! The f32 rows of a quantized index, read only when rescoring: a prefix served from the
//! memory-mapped snapshot they were opened from, then the rows added since, in memory.
//!
//! A quantized index walks its graph over codes; its f32 rows are touched only for the few
//! candidates it rescores. Opening one from a file therefore leaves the rows in the file
//! (`EvecFile::open_mmap` maps them without paging them in), so they cost no RAM until read —
//! the point of quantization for large indexes.

use std::sync::Arc;

use edgevec_storage::{EvecFile, SectionKind};

/// Rows in slot order: `mapped` rows from a snapshot, then `tail`.
#[derive(Debug)]
pub(crate) struct Rows {
    dim: usize,
    /// The snapshot whose `F32_ROWS` section holds the first `mapped_rows` rows.
    file: Option<Arc<EvecFile>>,
    mapped_rows: usize,
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
            mapped_rows: 0,
            tail: rows,
        }
    }

    /// Rows served from `file`'s `F32_ROWS` section, when the file is memory-mapped and the
    /// section can be borrowed as f32 values in place; `None` otherwise.
    pub(crate) fn mapped(dim: usize, file: Arc<EvecFile>) -> Option<Self> {
        if !file.is_mapped() {
            return None;
        }
        let n = match file.f32s(SectionKind::F32_ROWS).ok()? {
            std::borrow::Cow::Borrowed(values) => values.len() / dim,
            std::borrow::Cow::Owned(_) => return None,
        };
        Some(Self {
            dim,
            file: Some(file),
            mapped_rows: n,
            tail: Vec::new(),
        })
    }

    /// The mapped values (empty when nothing is mapped).
    fn mapped_values(&self) -> &[f32] {
        match &self.file {
            Some(file) => match file.f32s(SectionKind::F32_ROWS) {
                // Checked borrowable when mapped; the file is immutable.
                Ok(std::borrow::Cow::Borrowed(values)) => &values[..self.mapped_rows * self.dim],
                _ => &[],
            },
            None => &[],
        }
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.mapped_rows + self.tail.len() / self.dim
    }

    /// Row `slot`.
    pub(crate) fn row(&self, slot: usize) -> Option<&[f32]> {
        let d = self.dim;
        if slot < self.mapped_rows {
            self.mapped_values().get(slot * d..(slot + 1) * d)
        } else {
            let i = slot - self.mapped_rows;
            self.tail.get(i * d..(i + 1) * d)
        }
    }

    pub(crate) fn push(&mut self, row: &[f32]) {
        self.tail.extend_from_slice(row);
    }

    pub(crate) fn reserve(&mut self, rows: usize) {
        self.tail.reserve(rows.saturating_mul(self.dim));
    }

    /// Keeps rows `keep` (ascending slots) in that order. Mapped rows that survive are copied
    /// into memory: the map cannot be rewritten. (The next checkpoint writes them back to a
    /// file; reopening maps them again.)
    pub(crate) fn retain(&mut self, keep: &[u32]) {
        let d = self.dim;
        let mut rows = Vec::with_capacity(keep.len() * d);
        for &s in keep {
            if let Some(r) = self.row(s as usize) {
                rows.extend_from_slice(r);
            }
        }
        *self = Self::owned(d, rows);
    }

    /// The rows as contiguous pieces in slot order, for saving.
    pub(crate) fn parts(&self) -> [&[f32]; 2] {
        [self.mapped_values(), &self.tail]
    }

    /// Whether every value is finite. Only for rows in memory: mapped rows are protected by
    /// their section's checksum and are not read at open (that would page the file in);
    /// rescoring skips a candidate whose distance is not finite instead.
    pub(crate) fn tail_is_finite(&self) -> bool {
        self.tail.iter().all(|x| x.is_finite())
    }

    /// Bytes of rows held in memory.
    pub(crate) fn resident_bytes(&self) -> usize {
        self.tail.capacity() * std::mem::size_of::<f32>()
    }

    /// Bytes of rows served from the memory-mapped file (paged in only when read).
    pub(crate) fn mapped_bytes(&self) -> usize {
        self.mapped_rows * self.dim * std::mem::size_of::<f32>()
    }
}
