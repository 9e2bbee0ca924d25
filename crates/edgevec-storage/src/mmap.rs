//! The one place with `unsafe` code: memory-mapping a file read-only.

use std::fs::File;
use std::io;

/// A read-only memory map of a whole file.
pub(crate) struct Map(memmap2::Mmap);

impl Map {
    /// Maps `file` read-only.
    ///
    /// The caller's contract, passed on to the user of
    /// [`EvecFile::open_mmap`](crate::EvecFile::open_mmap): the file must not be truncated or
    /// written, by this process or any other, while the map lives.
    #[allow(unsafe_code)]
    pub(crate) fn new(file: &File) -> io::Result<Self> {
        // SAFETY: `Mmap::map` is unsafe because the mapped bytes can change (or the pages
        // vanish, raising SIGBUS) if the file is modified or truncated while mapped, which
        // would break the immutability of the `&[u8]` handed out. EdgeVec never writes a
        // snapshot in place once published (saves write a temporary file and rename it over
        // the target, which leaves the mapped inode untouched), and `EvecFile::open_mmap`
        // documents that other writers must not modify the file while it is open.
        let map = unsafe { memmap2::Mmap::map(file)? };
        // Rows are read at random (one per rescored candidate): read-ahead would page in
        // neighbours nobody asked for and inflate the resident set. Advice is a hint; a
        // platform that refuses it still works.
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Random);
        Ok(Self(map))
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.0
    }
}
