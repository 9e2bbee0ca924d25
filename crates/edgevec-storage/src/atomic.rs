//! Atomic snapshot saves: temp file, sync, rename, sync the directory.

use std::path::Path;

use crate::dir::{FsDir, replace_atomic};
use crate::error::Result;
use crate::write::{Section, write_file};

/// Saves `sections` as a complete `.evec` file at `path`, atomically: it writes a temporary
/// file in the same directory (`.<name>.tmp-<pid>-<n>`), syncs it, renames it over `path` and
/// syncs the directory. A crash at any step leaves `path` holding either its old contents or
/// the new complete file (and perhaps a stray temporary file). Returns the file length.
///
/// # Errors
/// [`StorageError::InvalidPath`](crate::StorageError::InvalidPath) when `path` has no file
/// name, the errors of [`write_file`], and [`StorageError::Io`](crate::StorageError::Io) for
/// any file system failure (the temporary file is then removed).
pub fn save_atomic(path: impl AsRef<Path>, sections: &[Section<'_>]) -> Result<u64> {
    let (mut dir, name) = FsDir::split(path.as_ref())?;
    replace_atomic(&mut dir, &name, |file| write_file(file, sections))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;

    use super::*;
    use crate::backend::FileBackend;
    use crate::crash::{CrashDir, DirOp, Keep};
    use crate::dir::Directory;
    use crate::error::StorageError;
    use crate::format::SectionKind;
    use crate::read::EvecFile;

    #[test]
    fn every_crash_point_of_a_save_leaves_the_old_or_the_new_file() {
        let old_rows = [1.0f32, 2.0, 3.0, 4.0];
        let mut old = crate::MemBackend::new();
        write_file(&mut old, &[Section::f32(SectionKind::F32_ROWS, &old_rows)]).unwrap();
        let old = old.into_vec();

        let new_rows: Vec<f32> = (0..40).map(|i| i as f32 * 0.5).collect();
        let sections = [
            Section::bytes(SectionKind::PARAMS, b"params-a"),
            Section::f32(SectionKind::F32_ROWS, &new_rows),
            Section::bytes(SectionKind::ID_MAP, &[7; 40]),
        ];
        let dir = CrashDir::with_files(BTreeMap::from([("t.evec".to_owned(), old.clone())]));
        let mut d: Box<dyn Directory> = Box::new(dir.clone());
        replace_atomic(&mut *d, "t.evec", |f| write_file(f, &sections)).unwrap();
        let new = dir.files()["t.evec"].clone();
        let ops = dir.ops();
        assert!(matches!(ops.last(), Some(DirOp::SyncDir)));

        let mut images = 0;
        for cut in 0..=ops.len() {
            for keep in [Keep::Drop, Keep::All, Keep::Prefix(3)] {
                let image = dir.crash_image(cut, |_, _| keep);
                let target = &image["t.evec"];
                assert!(*target == old || *target == new, "cut {cut} {keep:?}");
                if *target == new {
                    let file = EvecFile::from_bytes(target).unwrap();
                    assert_eq!(&*file.f32s(SectionKind::F32_ROWS).unwrap(), &new_rows[..]);
                }
                images += 1;
            }
            // Once the directory sync returned, only the new file can be there.
            if cut == ops.len() {
                assert_eq!(dir.durable_image(cut)["t.evec"], new);
            }
        }
        assert!(images > 10);
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
