//! The I/O backend trait and its file and memory implementations.
//!
//! Everything the storage layer reads or writes goes through [`Backend`]: positioned reads and
//! writes, a length, truncation and a durability barrier. The crash-simulation backend lives in
//! [`crate::crash`].

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Byte storage with positioned I/O and an explicit durability barrier.
///
/// Semantics every implementation keeps (the shared test suite checks them):
/// - `read_at` fills the whole buffer or fails with [`io::ErrorKind::UnexpectedEof`] when the
///   range ends past [`len`](Backend::len); it never returns a short read.
/// - `write_at` past the end extends the storage, filling any gap with zeros.
/// - `set_len` truncates or zero-extends.
/// - Data written before a `sync` that returned `Ok` survives a crash; data written after the
///   last `sync` may survive in part, in any order, torn at any byte.
pub trait Backend {
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the storage is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Reads exactly `buf.len()` bytes starting at `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `data` starting at `offset`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Truncates or zero-extends to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Makes everything written so far durable.
    fn sync(&mut self) -> io::Result<()>;
    /// The size of the pieces [`write_file`](crate::write_file) gathers its writes into, each
    /// at an offset that is a multiple of it (values are kept within 4 KiB ..= 64 MiB). It
    /// sizes the writer's buffer and nothing else; the default is 64 KiB. [`FileBackend`]
    /// asks for 2 MiB: see there.
    fn write_piece(&self) -> usize {
        DEFAULT_WRITE_PIECE
    }
}

/// [`Backend::write_piece`] unless a backend asks for another (memory, the crash simulator).
pub(crate) const DEFAULT_WRITE_PIECE: usize = 64 << 10;

impl<B: Backend + ?Sized> Backend for &mut B {
    fn len(&self) -> io::Result<u64> {
        (**self).len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        (**self).write_at(offset, data)
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        (**self).set_len(len)
    }
    fn sync(&mut self) -> io::Result<()> {
        (**self).sync()
    }
    fn write_piece(&self) -> usize {
        (**self).write_piece()
    }
}

pub(crate) fn eof(offset: u64, want: usize, len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("read of {want} bytes at offset {offset} ends past the end ({len} bytes)"),
    )
}

pub(crate) fn too_large(what: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!("{what} bytes do not fit in memory on this platform"),
    )
}

/// Reads `buf.len()` bytes at `offset` from an in-memory slice, with [`Backend::read_at`]'s
/// end-of-data rule.
pub(crate) fn read_slice_at(data: &[u8], offset: u64, buf: &mut [u8]) -> io::Result<()> {
    let len = data.len() as u64;
    let start = usize::try_from(offset).ok().filter(|&s| s <= data.len());
    let range = start.and_then(|s| {
        s.checked_add(buf.len())
            .filter(|&e| e <= data.len())
            .map(|e| s..e)
    });
    match range {
        Some(r) => {
            buf.copy_from_slice(&data[r]);
            Ok(())
        }
        None => Err(eof(offset, buf.len(), len)),
    }
}

/// Writes `data` at `offset` into a vector, zero-filling any gap.
pub(crate) fn write_vec_at(vec: &mut Vec<u8>, offset: u64, data: &[u8]) -> io::Result<()> {
    let start = usize::try_from(offset).map_err(|_| too_large(offset))?;
    let end = start
        .checked_add(data.len())
        .ok_or_else(|| too_large(offset))?;
    if vec.len() < end {
        vec.resize(end, 0);
    }
    vec[start..end].copy_from_slice(data);
    Ok(())
}

pub(crate) fn set_vec_len(vec: &mut Vec<u8>, len: u64) -> io::Result<()> {
    let len = usize::try_from(len).map_err(|_| too_large(len))?;
    vec.resize(len, 0);
    Ok(())
}

/// A backend in memory: a `Vec<u8>`. `sync` does nothing. The browser build hands bytes in with
/// [`MemBackend::from_vec`] and takes them out with [`MemBackend::into_vec`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemBackend {
    data: Vec<u8>,
}

impl MemBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }
    /// A backend holding `data`.
    pub fn from_vec(data: Vec<u8>) -> Self {
        Self { data }
    }
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.data
    }
    /// Takes the bytes out.
    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }
}

impl Backend for MemBackend {
    fn len(&self) -> io::Result<u64> {
        Ok(self.data.len() as u64)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        read_slice_at(&self.data, offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        write_vec_at(&mut self.data, offset, data)
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        set_vec_len(&mut self.data, len)
    }
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A backend over a [`std::fs::File`], with positioned I/O (`pread`/`pwrite` on unix).
/// `sync` is `fsync` ([`File::sync_all`]), which also makes a length change durable.
///
/// On platforms without positioned I/O the fallback seeks a shared handle, so concurrent
/// `read_at` calls on one `FileBackend` from several threads are only safe on unix.
#[derive(Debug)]
pub struct FileBackend {
    file: File,
}

impl FileBackend {
    /// Opens an existing file for reading and writing.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            file: OpenOptions::new().read(true).write(true).open(path)?,
        })
    }
    /// Opens an existing file read-only; writes then fail with the operating system's error.
    pub fn open_read_only(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            file: File::open(path)?,
        })
    }
    /// Creates a file (truncating an existing one) for reading and writing.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Self { file })
    }
    /// Creates a new file; fails if `path` exists.
    pub fn create_new(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            file: OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(path)?,
        })
    }
    /// Wraps an open file.
    pub fn from_file(file: File) -> Self {
        Self { file }
    }
    /// The underlying file.
    pub fn file(&self) -> &File {
        &self.file
    }
    /// Unwraps the file.
    pub fn into_file(self) -> File {
        self.file
    }
}

impl Backend for FileBackend {
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        positioned::read_exact_at(&self.file, offset, buf).map_err(|e| {
            // Report every read past the end alike (the OS refuses offsets beyond i64::MAX
            // with a different error).
            match self.len() {
                Ok(len) if offset.saturating_add(buf.len() as u64) > len => {
                    eof(offset, buf.len(), len)
                }
                _ => e,
            }
        })
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        positioned::write_all_at(&self.file, offset, data)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }

    /// 2 MiB, the x86_64 huge page. A Linux file system with large folios (ext4 and XFS on
    /// recent kernels) caches each such write as one 2 MiB folio instead of small ones, and a
    /// page-cache lookup then walks fewer, hotter nodes. The rows of a quantized index are read
    /// back one at a time from that cache right after a build: 100k × 384 u8, +6% QPS at ef 16
    /// and +9% at ef 64 against 64 KiB writes (docs/bench/search-opt.md).
    fn write_piece(&self) -> usize {
        2 << 20
    }
}

#[cfg(unix)]
mod positioned {
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::FileExt;

    pub(super) fn read_exact_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        file.read_exact_at(buf, offset)
    }

    pub(super) fn write_all_at(file: &File, offset: u64, data: &[u8]) -> io::Result<()> {
        file.write_all_at(data, offset)
    }
}

#[cfg(not(unix))]
mod positioned {
    use std::fs::File;
    use std::io::{self, Read, Seek, SeekFrom, Write};

    pub(super) fn read_exact_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut f = file;
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(buf)
    }

    pub(super) fn write_all_at(file: &File, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut f = file;
        f.seek(SeekFrom::Start(offset))?;
        f.write_all(data)
    }
}
