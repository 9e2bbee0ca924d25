//! A backend that simulates power loss.
//!
//! [`CrashBackend`] behaves like [`MemBackend`](crate::MemBackend) for the process using it,
//! and records every write, length change and sync. [`CrashBackend::crash_image`] then builds
//! the bytes a power cut would leave on disk: every operation made durable by a completed
//! `sync`, plus whichever of the later, unsynced operations the caller chooses to keep — none,
//! any subset, or a torn prefix of any write.

use std::io;
use std::ops::Range;

use crate::backend::{Backend, read_slice_at, set_vec_len, write_vec_at};

/// One recorded operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrashOp {
    /// `write_at(offset, data)`.
    Write {
        /// Where the write started.
        offset: u64,
        /// What it wrote.
        data: Vec<u8>,
    },
    /// `set_len(len)`.
    SetLen(u64),
    /// `sync()`: every earlier operation is durable once it returns.
    Sync,
}

/// What survives of one unsynced operation in a crash image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// The operation never reached the disk.
    Drop,
    /// The operation reached the disk completely.
    All,
    /// Only the first `n` bytes of a write reached the disk (a torn write). For a `SetLen`
    /// this is the same as [`Keep::All`]; `n` larger than the write is clamped.
    Prefix(usize),
}

/// A backend that records operations and can produce the image a power cut would leave.
#[derive(Clone, Debug, Default)]
pub struct CrashBackend {
    base: Vec<u8>,
    live: Vec<u8>,
    ops: Vec<CrashOp>,
}

impl CrashBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend whose durable contents are already `bytes` (an existing file).
    pub fn with_durable(bytes: Vec<u8>) -> Self {
        Self {
            base: bytes.clone(),
            live: bytes,
            ops: Vec::new(),
        }
    }

    /// The bytes the process sees (every operation applied).
    pub fn as_slice(&self) -> &[u8] {
        &self.live
    }

    /// Every operation recorded so far, in order.
    pub fn ops(&self) -> &[CrashOp] {
        &self.ops
    }

    /// The operations that were issued before a crash after the first `cut` operations but
    /// not made durable by a sync: those after the last `Sync` among the first `cut`.
    ///
    /// # Panics
    /// If `cut` exceeds the number of recorded operations.
    pub fn unsynced(&self, cut: usize) -> Range<usize> {
        let issued = &self.ops[..cut];
        let durable = issued
            .iter()
            .rposition(|op| *op == CrashOp::Sync)
            .map_or(0, |i| i + 1);
        durable..cut
    }

    /// The disk contents after a power cut that struck once the first `cut` operations had
    /// been issued: the initial durable bytes, every operation up to the last completed sync,
    /// and of each later operation `i` what `keep(i, op)` says, applied in issue order.
    ///
    /// # Panics
    /// If `cut` exceeds the number of recorded operations.
    pub fn crash_image(
        &self,
        cut: usize,
        mut keep: impl FnMut(usize, &CrashOp) -> Keep,
    ) -> Vec<u8> {
        let unsynced = self.unsynced(cut);
        let mut image = self.base.clone();
        for (i, op) in self.ops[..cut].iter().enumerate() {
            let keep = if i < unsynced.start {
                Keep::All
            } else {
                keep(i, op)
            };
            apply(&mut image, op, keep);
        }
        image
    }

    /// The image with only durable data (every unsynced operation dropped) after `cut`
    /// operations.
    pub fn durable_image(&self, cut: usize) -> Vec<u8> {
        self.crash_image(cut, |_, _| Keep::Drop)
    }
}

fn apply(image: &mut Vec<u8>, op: &CrashOp, keep: Keep) {
    // The images are built from operations that already succeeded on `live`, so the sizes fit
    // in memory; a failure here would be a bug, and the image is left as is.
    let _ = match (op, keep) {
        (_, Keep::Drop) | (CrashOp::Sync, _) => Ok(()),
        (CrashOp::Write { offset, data }, Keep::All) => write_vec_at(image, *offset, data),
        (CrashOp::Write { offset, data }, Keep::Prefix(n)) => {
            write_vec_at(image, *offset, &data[..n.min(data.len())])
        }
        (CrashOp::SetLen(len), _) => set_vec_len(image, *len),
    };
}

impl Backend for CrashBackend {
    fn len(&self) -> io::Result<u64> {
        Ok(self.live.len() as u64)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        read_slice_at(&self.live, offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        write_vec_at(&mut self.live, offset, data)?;
        self.ops.push(CrashOp::Write {
            offset,
            data: data.to_vec(),
        });
        Ok(())
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        set_vec_len(&mut self.live, len)?;
        self.ops.push(CrashOp::SetLen(len));
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        self.ops.push(CrashOp::Sync);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_keep_synced_data_and_chosen_unsynced_writes() {
        let mut b = CrashBackend::with_durable(b"old!".to_vec());
        b.write_at(0, b"AB").unwrap(); // op 0
        b.sync().unwrap(); // op 1
        b.write_at(2, b"CDEF").unwrap(); // op 2
        b.set_len(3).unwrap(); // op 3
        assert_eq!(b.as_slice(), b"ABC");
        assert_eq!(b.unsynced(4), 2..4);
        assert_eq!(b.unsynced(1), 0..1);
        // Before the sync returned, even the first write may be lost.
        assert_eq!(b.durable_image(1), b"old!");
        assert_eq!(b.crash_image(1, |_, _| Keep::All), b"ABd!");
        assert_eq!(b.durable_image(4), b"ABd!");
        assert_eq!(b.crash_image(4, |_, _| Keep::All), b"ABC");
        assert_eq!(b.crash_image(3, |_, _| Keep::Prefix(1)), b"ABC!");
        assert_eq!(
            b.crash_image(4, |i, _| if i == 3 { Keep::All } else { Keep::Drop }),
            b"ABd"
        );
        assert_eq!(b.crash_image(0, |_, _| Keep::All), b"old!");
    }
}
