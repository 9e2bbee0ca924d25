//! Atomic snapshot saves: temp file, sync, rename, sync the directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::backend::{Backend, FileBackend};
use crate::error::{Result, StorageError};
use crate::write::{Section, write_file};

/// The steps of an atomic save, over a real directory or (in tests) a simulated one.
trait SaveDir {
    type File: Backend;
    /// Creates a new, empty temporary file beside the target.
    fn create_temp(&mut self) -> io::Result<Self::File>;
    /// Closes the temporary file and renames it over the target.
    fn publish(&mut self, temp: Self::File) -> io::Result<()>;
    /// Makes the rename durable.
    fn sync_dir(&mut self) -> io::Result<()>;
    /// Removes the temporary file after a failure (best effort).
    fn discard(&mut self);
}

fn save_with<D: SaveDir>(dir: &mut D, sections: &[Section<'_>]) -> Result<u64> {
    let mut temp = dir.create_temp()?;
    // `write_file` syncs the temp file before it returns, so the rename below can only ever
    // publish complete, durable bytes.
    let written = write_file(&mut temp, sections).and_then(|len| {
        dir.publish(temp)?;
        Ok(len)
    });
    match written {
        Ok(len) => {
            dir.sync_dir()?;
            Ok(len)
        }
        Err(e) => {
            dir.discard();
            Err(e)
        }
    }
}

/// Distinguishes the temporary files of concurrent saves within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

struct FsDir {
    dir: PathBuf,
    target: PathBuf,
    file_name: String,
    temp: Option<PathBuf>,
}

impl SaveDir for FsDir {
    type File = FileBackend;

    fn create_temp(&mut self) -> io::Result<FileBackend> {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(".{}.tmp-{}-{n}", self.file_name, std::process::id());
        let path = self.dir.join(name);
        let file = FileBackend::create_new(&path)?;
        self.temp = Some(path);
        Ok(file)
    }

    fn publish(&mut self, temp: FileBackend) -> io::Result<()> {
        drop(temp);
        if let Some(path) = &self.temp {
            fs::rename(path, &self.target)?;
            self.temp = None;
        }
        Ok(())
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        // On unix a directory can be opened and fsynced, which makes the rename durable. Other
        // platforms offer no portable way; there the rename is as durable as the OS makes it.
        #[cfg(unix)]
        fs::File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    fn discard(&mut self) {
        if let Some(path) = self.temp.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// Saves `sections` as a complete `.evec` file at `path`, atomically: it writes a temporary
/// file in the same directory (`.<name>.tmp-<pid>-<n>`), syncs it, renames it over `path` and
/// syncs the directory. A crash at any step leaves `path` holding either its old contents or
/// the new complete file (and perhaps a stray temporary file). Returns the file length.
///
/// # Errors
/// [`StorageError::InvalidPath`] when `path` has no file name, the errors of
/// [`write_file`], and [`StorageError::Io`] for any file system failure (the temporary file is
/// then removed).
pub fn save_atomic(path: impl AsRef<Path>, sections: &[Section<'_>]) -> Result<u64> {
    let path = path.as_ref();
    let file_name = path
        .file_name()
        .ok_or_else(|| StorageError::InvalidPath(path.to_path_buf()))?
        .to_string_lossy()
        .into_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut fs_dir = FsDir {
        dir,
        target: path.to_path_buf(),
        file_name,
        temp: None,
    };
    save_with(&mut fs_dir, sections)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::{CrashBackend, CrashOp, Keep};
    use crate::format::SectionKind;
    use crate::read::EvecFile;

    /// A directory holding one target file, simulated for crash tests. The global sequence of
    /// durable-relevant events is: the temp file's operations, then the rename, then the
    /// directory sync.
    struct SimDir {
        old: Vec<u8>,
        temp: Option<CrashBackend>,
        renamed: bool,
        dir_synced: bool,
    }

    impl SaveDir for SimDir {
        type File = CrashBackend;
        fn create_temp(&mut self) -> io::Result<CrashBackend> {
            Ok(CrashBackend::new())
        }
        fn publish(&mut self, temp: CrashBackend) -> io::Result<()> {
            self.temp = Some(temp);
            self.renamed = true;
            Ok(())
        }
        fn sync_dir(&mut self) -> io::Result<()> {
            self.dir_synced = true;
            Ok(())
        }
        fn discard(&mut self) {}
    }

    fn sections_a() -> Vec<Vec<u8>> {
        vec![b"params-a".to_vec(), vec![7; 40]]
    }

    #[test]
    fn every_crash_point_of_a_save_leaves_the_old_or_the_new_file() {
        let old_rows = [1.0f32, 2.0, 3.0, 4.0];
        let mut old = crate::MemBackend::new();
        write_file(&mut old, &[Section::f32(SectionKind::F32_ROWS, &old_rows)]).unwrap();
        let old = old.into_vec();

        let a = sections_a();
        let new_rows: Vec<f32> = (0..40).map(|i| i as f32 * 0.5).collect();
        let sections = [
            Section::bytes(SectionKind::PARAMS, &a[0]),
            Section::f32(SectionKind::F32_ROWS, &new_rows),
            Section::bytes(SectionKind::ID_MAP, &a[1]),
        ];
        let mut dir = SimDir {
            old: old.clone(),
            temp: None,
            renamed: false,
            dir_synced: false,
        };
        save_with(&mut dir, &sections).unwrap();
        assert!(dir.renamed && dir.dir_synced);
        let temp = dir.temp.take().unwrap();
        let new = temp.as_slice().to_vec();
        let m = temp.ops().len();

        let opens_to = |image: &[u8]| -> &'static str {
            if image == dir.old.as_slice() {
                "old"
            } else if image == new.as_slice() {
                "new"
            } else {
                "other"
            }
        };
        // Cut before or during the temp file's operations (cut <= m): the rename was not
        // issued, so the target still holds the old file whatever the temp file holds.
        assert_eq!(opens_to(&dir.old), "old");
        // Cut at m + 1: the rename was issued but the directory not yet synced, so it may or
        // may not have landed. If it landed, the target holds the temp file as a crash after
        // all of its operations leaves it — with any choice of unsynced operations kept.
        let unsynced = temp.unsynced(m);
        assert!(
            unsynced.is_empty(),
            "write_file must end with a sync: {:?}",
            &temp.ops()[unsynced]
        );
        for keep in [Keep::Drop, Keep::All, Keep::Prefix(3)] {
            let image = temp.crash_image(m, |_, _| keep);
            assert_eq!(opens_to(&image), "new");
            let file = EvecFile::from_bytes(&image).unwrap();
            assert_eq!(
                &*file.f32s(SectionKind::F32_ROWS).unwrap(),
                new_rows.as_slice()
            );
        }
        // Cut after the directory sync: the new file.
        assert_eq!(opens_to(&temp.durable_image(m)), "new");
        // And the temp file's last operation is the sync after the commit record.
        assert_eq!(temp.ops().last(), Some(&CrashOp::Sync));
    }

    #[test]
    fn saves_replace_the_target_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.evec");
        let len1 = save_atomic(&path, &[Section::bytes(SectionKind::PARAMS, b"one")]).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), len1);
        let rows = [0.25f32; 16];
        let len2 = save_atomic(&path, &[Section::f32(SectionKind::F32_ROWS, &rows)]).unwrap();
        let file = EvecFile::open(&FileBackend::open_read_only(&path).unwrap()).unwrap();
        assert_eq!(file.summary().len, len2);
        assert_eq!(&*file.f32s(SectionKind::F32_ROWS).unwrap(), &rows[..]);
        assert!(file.payload(SectionKind::PARAMS).is_none());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["index.evec"]);
    }

    #[test]
    fn failed_saves_leave_the_target_alone_and_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.evec");
        save_atomic(&path, &[Section::bytes(SectionKind::PARAMS, b"one")]).unwrap();
        let before = fs::read(&path).unwrap();
        // An invalid section fails inside write_file, after the temp file exists.
        let err = save_atomic(&path, &[Section::bytes(SectionKind(0), b"x")]).unwrap_err();
        assert!(
            matches!(err, StorageError::InvalidSection { index: 0, .. }),
            "{err}"
        );
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // A missing directory and a path without a file name are reported.
        let missing = dir.path().join("no-such-dir").join("x.evec");
        assert!(matches!(
            save_atomic(&missing, &[]),
            Err(StorageError::Io(_))
        ));
        assert!(matches!(
            save_atomic("/", &[]),
            Err(StorageError::InvalidPath(_))
        ));
    }
}
