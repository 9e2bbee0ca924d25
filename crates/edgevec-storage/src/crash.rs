//! A backend that simulates power loss.
//!
//! [`CrashBackend`] behaves like [`MemBackend`](crate::MemBackend) for the process using it,
//! and records every write, length change and sync. [`CrashBackend::crash_image`] then builds
//! the bytes a power cut would leave on disk: every operation made durable by a completed
//! `sync`, plus whichever of the later, unsynced operations the caller chooses to keep — none,
//! any subset, or a torn prefix of any write.
//!
//! [`CrashDir`] does the same for a whole directory (the snapshot, its write-ahead log and the
//! temporary files of atomic replaces), including renames, which only become durable when the
//! directory is synced.

use std::collections::BTreeMap;
use std::io;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use crate::backend::{Backend, read_slice_at, set_vec_len, write_vec_at};
use crate::dir::{DirFile, Directory, TempFile};
use crate::read::EvecFile;

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

/// One recorded operation of a [`CrashDir`]. Files are named by inode number (the order in
/// which they were created), so renames are tracked exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirOp {
    /// A new file `inode` created under `name`.
    Create {
        /// The new file.
        inode: usize,
        /// Its name.
        name: String,
    },
    /// `write_at(offset, data)` on `inode`.
    Write {
        /// The file.
        inode: usize,
        /// Where the write started.
        offset: u64,
        /// What it wrote.
        data: Vec<u8>,
    },
    /// `set_len(len)` on `inode`.
    SetLen {
        /// The file.
        inode: usize,
        /// The new length.
        len: u64,
    },
    /// `sync()` on `inode`: its earlier writes and length changes are durable once it returns.
    Sync {
        /// The file.
        inode: usize,
    },
    /// The file named `from` renamed to `to` (replacing any file of that name).
    Rename {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// The name `name` removed.
    Remove {
        /// The name.
        name: String,
    },
    /// The directory synced: earlier creations, renames and removals are durable.
    SyncDir,
}

impl DirOp {
    /// The file whose contents the operation changes (made durable by [`DirOp::Sync`] of that
    /// inode); `None` for name changes (made durable by [`DirOp::SyncDir`]) and barriers.
    fn inode(&self) -> Option<usize> {
        match self {
            DirOp::Write { inode, .. } | DirOp::SetLen { inode, .. } => Some(*inode),
            _ => None,
        }
    }

    /// Whether the operation has no effect on the image by itself.
    pub fn is_barrier(&self) -> bool {
        matches!(self, DirOp::Sync { .. } | DirOp::SyncDir)
    }
}

#[derive(Debug, Default)]
struct DirState {
    /// Durable state the recording started from: name → contents.
    base: BTreeMap<String, Vec<u8>>,
    /// Live contents by inode, and live names.
    inodes: Vec<Vec<u8>>,
    names: BTreeMap<String, usize>,
    ops: Vec<DirOp>,
    temps: u64,
}

/// A simulated directory that records every operation on its files and names, and builds the
/// directory a power cut would leave ([`CrashDir::crash_image`]).
///
/// Clones share the same state, so a test can keep one handle while the code under test
/// owns another.
#[derive(Clone, Debug, Default)]
pub struct CrashDir {
    state: Arc<Mutex<DirState>>,
}

impl CrashDir {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// A directory whose durable contents are `files` (name → bytes).
    pub fn with_files(files: BTreeMap<String, Vec<u8>>) -> Self {
        let mut state = DirState::default();
        for (name, bytes) in &files {
            state.names.insert(name.clone(), state.inodes.len());
            state.inodes.push(bytes.clone());
        }
        state.base = files;
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, DirState> {
        // A panic while holding the lock can only come from a bug in a test; the state is
        // still consistent (every method updates it before recording), so keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The files as the process sees them now (name → bytes).
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let s = self.state();
        s.names
            .iter()
            .map(|(n, &i)| (n.clone(), s.inodes[i].clone()))
            .collect()
    }

    /// Every operation recorded so far, in order.
    pub fn ops(&self) -> Vec<DirOp> {
        self.state().ops.clone()
    }

    /// Number of operations recorded so far.
    pub fn op_count(&self) -> usize {
        self.state().ops.len()
    }

    /// The indexes, among the first `cut` operations, of those not yet made durable by a
    /// later sync within the cut: the ones a crash after `cut` operations may lose.
    ///
    /// # Panics
    /// If `cut` exceeds the number of recorded operations.
    pub fn unsynced(&self, cut: usize) -> Vec<usize> {
        let s = self.state();
        unsynced_ops(&s.ops[..cut])
    }

    /// The directory a power cut leaves once the first `cut` operations were issued: every
    /// operation made durable by a completed sync (of its file, or of the directory for name
    /// changes), and of each other operation `i` what `keep(i, op)` says, applied in issue
    /// order. Files that lost their name are gone.
    ///
    /// # Panics
    /// If `cut` exceeds the number of recorded operations.
    pub fn crash_image(
        &self,
        cut: usize,
        mut keep: impl FnMut(usize, &DirOp) -> Keep,
    ) -> BTreeMap<String, Vec<u8>> {
        let s = self.state();
        let ops = &s.ops[..cut];
        let unsynced = unsynced_ops(ops);
        let mut inodes: Vec<Vec<u8>> = Vec::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for (name, bytes) in &s.base {
            names.insert(name.clone(), inodes.len());
            inodes.push(bytes.clone());
        }
        // Inodes created during the recording are numbered after the base files, in the live
        // state and here alike.
        let mut u = unsynced.iter().peekable();
        for (i, op) in ops.iter().enumerate() {
            let k = if u.peek() == Some(&&i) {
                u.next();
                keep(i, op)
            } else {
                Keep::All
            };
            match op {
                DirOp::Create { inode, name } => {
                    while inodes.len() <= *inode {
                        inodes.push(Vec::new());
                    }
                    if k != Keep::Drop {
                        names.insert(name.clone(), *inode);
                    }
                }
                DirOp::Write {
                    inode,
                    offset,
                    data,
                } => {
                    let data = match k {
                        Keep::Drop => continue,
                        Keep::All => &data[..],
                        Keep::Prefix(n) => &data[..n.min(data.len())],
                    };
                    let _ = write_vec_at(&mut inodes[*inode], *offset, data);
                }
                DirOp::SetLen { inode, len } => {
                    if k != Keep::Drop {
                        let _ = set_vec_len(&mut inodes[*inode], *len);
                    }
                }
                DirOp::Rename { from, to } => {
                    if k != Keep::Drop
                        && let Some(inode) = names.remove(from)
                    {
                        names.insert(to.clone(), inode);
                    }
                }
                DirOp::Remove { name } => {
                    if k != Keep::Drop {
                        names.remove(name);
                    }
                }
                DirOp::Sync { .. } | DirOp::SyncDir => {}
            }
        }
        names
            .into_iter()
            .map(|(n, i)| (n, std::mem::take(&mut inodes[i])))
            .collect()
    }

    /// The image with only durable data (every unsynced operation dropped) after `cut`
    /// operations.
    pub fn durable_image(&self, cut: usize) -> BTreeMap<String, Vec<u8>> {
        self.crash_image(cut, |_, _| Keep::Drop)
    }

    fn record(&self, op: DirOp) {
        self.state().ops.push(op);
    }
}

/// Indexes of `ops` not covered by a later sync within `ops`.
fn unsynced_ops(ops: &[DirOp]) -> Vec<usize> {
    let mut synced_files = std::collections::HashSet::new();
    let mut dir_synced = false;
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate().rev() {
        match op {
            DirOp::Sync { inode } => {
                synced_files.insert(*inode);
            }
            DirOp::SyncDir => dir_synced = true,
            _ => {
                let durable = match op.inode() {
                    Some(inode) => synced_files.contains(&inode),
                    None => dir_synced,
                };
                if !durable {
                    out.push(i);
                }
            }
        }
    }
    out.reverse();
    out
}

/// A file of a [`CrashDir`].
#[derive(Debug)]
struct CrashFile {
    dir: CrashDir,
    inode: usize,
    writable: bool,
}

fn read_only() -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, "file opened read-only")
}

impl Backend for CrashFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.dir.state().inodes[self.inode].len() as u64)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        read_slice_at(&self.dir.state().inodes[self.inode], offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if !self.writable {
            return Err(read_only());
        }
        write_vec_at(&mut self.dir.state().inodes[self.inode], offset, data)?;
        self.dir.record(DirOp::Write {
            inode: self.inode,
            offset,
            data: data.to_vec(),
        });
        Ok(())
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        if !self.writable {
            return Err(read_only());
        }
        set_vec_len(&mut self.dir.state().inodes[self.inode], len)?;
        self.dir.record(DirOp::SetLen {
            inode: self.inode,
            len,
        });
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        self.dir.record(DirOp::Sync { inode: self.inode });
        Ok(())
    }
}

impl Directory for CrashDir {
    fn open(&self, name: &str) -> io::Result<Option<DirFile>> {
        let inode = self.state().names.get(name).copied();
        Ok(inode.map(|inode| {
            Box::new(CrashFile {
                dir: self.clone(),
                inode,
                writable: true,
            }) as DirFile
        }))
    }

    fn open_read_only(&self, name: &str) -> io::Result<Option<DirFile>> {
        let inode = self.state().names.get(name).copied();
        Ok(inode.map(|inode| {
            Box::new(CrashFile {
                dir: self.clone(),
                inode,
                writable: false,
            }) as DirFile
        }))
    }

    fn read_snapshot(&self, name: &str) -> crate::Result<Option<EvecFile>> {
        let bytes = {
            let s = self.state();
            match s.names.get(name) {
                Some(&i) => s.inodes[i].clone(),
                None => return Ok(None),
            }
        };
        EvecFile::from_bytes(&bytes).map(Some)
    }

    fn create_temp(&mut self, name: &str) -> io::Result<TempFile> {
        let (inode, temp) = {
            let mut s = self.state();
            s.temps += 1;
            let temp = format!(".{name}.tmp-{}", s.temps);
            let inode = s.inodes.len();
            s.inodes.push(Vec::new());
            s.names.insert(temp.clone(), inode);
            s.ops.push(DirOp::Create {
                inode,
                name: temp.clone(),
            });
            (inode, temp)
        };
        Ok(TempFile {
            file: Box::new(CrashFile {
                dir: self.clone(),
                inode,
                writable: true,
            }),
            name: temp,
        })
    }

    fn publish(&mut self, temp: TempFile, name: &str) -> io::Result<()> {
        let mut s = self.state();
        let inode = s
            .names
            .remove(&temp.name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "temporary file vanished"))?;
        s.names.insert(name.to_owned(), inode);
        s.ops.push(DirOp::Rename {
            from: temp.name,
            to: name.to_owned(),
        });
        Ok(())
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        self.record(DirOp::SyncDir);
        Ok(())
    }

    fn discard(&mut self, temp: TempFile) {
        let mut s = self.state();
        if s.names.remove(&temp.name).is_some() {
            s.ops.push(DirOp::Remove { name: temp.name });
        }
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
