//! A directory of named files: where a snapshot and its write-ahead log live.
//!
//! [`Directory`] is the I/O boundary of the journal (snapshot + log): open a file by name,
//! read a verified snapshot, and replace a file atomically (temporary file, sync, rename,
//! directory sync). [`FsDir`] is a real directory; [`CrashDir`](crate::CrashDir) simulates one
//! for power-cut tests.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::backend::{Backend, FileBackend};
use crate::error::{Result, StorageError};
use crate::read::EvecFile;

/// A file handle handed out by a [`Directory`].
pub type DirFile = Box<dyn Backend + Send + Sync>;

/// A new temporary file of a [`Directory`], to be published under its final name with
/// [`Directory::publish`] or thrown away with [`Directory::discard`].
pub struct TempFile {
    /// The open file.
    pub file: DirFile,
    /// Its name in the directory.
    pub name: String,
}

impl fmt::Debug for TempFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempFile")
            .field("name", &self.name)
            .finish()
    }
}

/// A directory holding named files, with the operations an atomic replace needs.
///
/// Durability rules every implementation follows (the crash simulator enforces them): file
/// contents are durable after the file's [`Backend::sync`]; creating, renaming and removing
/// names is durable after [`Directory::sync_dir`].
pub trait Directory: Send + Sync + fmt::Debug {
    /// Opens the existing file `name` for reading and writing; `None` when there is none.
    fn open(&self, name: &str) -> io::Result<Option<DirFile>>;
    /// Opens the existing file `name` read-only; `None` when there is none.
    fn open_read_only(&self, name: &str) -> io::Result<Option<DirFile>>;
    /// Reads and verifies the `.evec` file `name` ([`FsDir`] leaves its bulk sections, rows,
    /// codes and graph, in the file: [`EvecFile::open_deferred`]); `None` when there is none.
    fn read_snapshot(&self, name: &str) -> Result<Option<EvecFile>>;
    /// Creates a new, empty temporary file meant to replace `name`.
    fn create_temp(&mut self, name: &str) -> io::Result<TempFile>;
    /// Renames `temp` over `name` (closing it first).
    fn publish(&mut self, temp: TempFile, name: &str) -> io::Result<()>;
    /// Makes earlier creations, renames and removals durable.
    fn sync_dir(&mut self) -> io::Result<()>;
    /// Removes a temporary file after a failure (best effort).
    fn discard(&mut self, temp: TempFile);
    /// Takes the writer's lock of the journal `name`, held until the returned guard drops:
    /// [`StorageError::Locked`] when another writer (another process, or another open in this
    /// one) holds it. The default takes no lock (a simulated directory has one writer).
    fn lock(&mut self, name: &str) -> Result<DirLock> {
        let _ = name;
        Ok(DirLock(None))
    }
}

/// A held writer's lock ([`Directory::lock`]); released on drop.
pub struct DirLock(Option<Box<dyn Send + Sync>>);

impl fmt::Debug for DirLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "DirLock(held)"
        } else {
            "DirLock(none)"
        })
    }
}

/// Replaces `name` in `dir` atomically with what `write` puts in a fresh temporary file:
/// `write` must leave the file synced (as [`write_file`](crate::write_file) does); then the
/// file is renamed over `name` and the directory synced. A crash at any step leaves `name`
/// with its old contents or the complete new ones. Returns what `write` returned.
///
/// # Errors
/// The errors of `write` and [`StorageError::Io`]; the temporary file is then removed.
pub fn replace_atomic<T>(
    dir: &mut dyn Directory,
    name: &str,
    write: impl FnOnce(&mut dyn Backend) -> Result<T>,
) -> Result<T> {
    let mut temp = dir.create_temp(name)?;
    match write(&mut *temp.file) {
        Ok(value) => {
            let published = dir.publish(temp, name).and_then(|()| dir.sync_dir());
            published?;
            Ok(value)
        }
        Err(e) => {
            dir.discard(temp);
            Err(e)
        }
    }
}

/// Distinguishes the temporary files of concurrent saves within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A real directory of the file system.
#[derive(Debug, Clone)]
pub struct FsDir {
    path: PathBuf,
}

impl FsDir {
    /// The directory at `path` (it must exist when files are opened or created).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Splits a file path into its directory and file name, for the journal.
    ///
    /// # Errors
    /// [`StorageError::InvalidPath`] when `path` has no file name or it is not UTF-8.
    pub fn split(path: &Path) -> Result<(FsDir, String)> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| StorageError::InvalidPath(path.to_path_buf()))?
            .to_owned();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok((FsDir::new(dir), name))
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

fn if_exists<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Directory for FsDir {
    fn open(&self, name: &str) -> io::Result<Option<DirFile>> {
        Ok(if_exists(FileBackend::open(self.file(name)))?.map(|f| Box::new(f) as DirFile))
    }

    fn open_read_only(&self, name: &str) -> io::Result<Option<DirFile>> {
        Ok(
            if_exists(FileBackend::open_read_only(self.file(name)))?
                .map(|f| Box::new(f) as DirFile),
        )
    }

    fn read_snapshot(&self, name: &str) -> Result<Option<EvecFile>> {
        match if_exists(FileBackend::open_read_only(self.file(name)))? {
            None => Ok(None),
            Some(file) => EvecFile::open_deferred(Box::new(file)).map(Some),
        }
    }

    fn create_temp(&mut self, name: &str) -> io::Result<TempFile> {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = format!(".{name}.tmp-{}-{n}", std::process::id());
        let file = FileBackend::create_new(self.file(&temp))?;
        Ok(TempFile {
            file: Box::new(file),
            name: temp,
        })
    }

    fn publish(&mut self, temp: TempFile, name: &str) -> io::Result<()> {
        let TempFile { file, name: temp } = temp;
        drop(file);
        fs::rename(self.file(&temp), self.file(name))
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        // On unix a directory can be opened and fsynced, which makes renames durable. Other
        // platforms offer no portable way; there a rename is as durable as the OS makes it.
        #[cfg(unix)]
        fs::File::open(&self.path)?.sync_all()?;
        Ok(())
    }

    fn discard(&mut self, temp: TempFile) {
        let TempFile { file, name } = temp;
        drop(file);
        let _ = fs::remove_file(self.file(&name));
    }

    /// An advisory exclusive lock on `NAME.lock` (never replaced, unlike the snapshot and its
    /// log, so the lock always guards the same file). Released when the guard drops or the
    /// process exits, however it exits. On file systems without locks, no lock is taken.
    fn lock(&mut self, name: &str) -> Result<DirLock> {
        let lock_name = format!("{name}.lock");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.file(&lock_name))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock(Some(Box::new(file)))),
            Err(fs::TryLockError::WouldBlock) => Err(StorageError::Locked {
                name: name.to_owned(),
            }),
            Err(fs::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {
                Ok(DirLock(None))
            }
            Err(fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }
}
