//! Crash-safe file primitives shared by storage, the device key and local state.
//!
//! A write is durable when it has reached the disk and its directory entry has too, so
//! [`write_atomic`] writes a temporary file next to the target, fsyncs it, renames it over
//! the target and fsyncs the directory. After `kill -9` or a power cut the target holds either
//! the old contents or the new ones, whole; a leftover temporary file was never acknowledged
//! and is removed by [`remove_stale_temps`] when the node next opens.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Permissions of every file the node writes: workshop content is private to the user.
pub(crate) const FILE_MODE: u32 = 0o600;
/// Permissions of every directory the node creates.
pub(crate) const DIR_MODE: u32 = 0o700;

/// Temporary files start with a dot and end with this; stored names never start with a dot
/// (see `layout::encode_component`), so the two can never be confused.
const TEMP_SUFFIX: &str = ".tmp";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Whether a directory entry is one of our temporary files (or anything else hidden), which
/// loaders skip.
pub(crate) fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// A fresh temporary path next to `path`, unique within this process.
pub(crate) fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| invalid("no file name"))?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(path.with_file_name(format!(".{name}.{}.{n}{TEMP_SUFFIX}", std::process::id())))
}

/// Writes `bytes` to `path` durably and atomically (see the module docs). The temporary file
/// is created with mode 0600 before anything is written to it.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent(path)?;
    let tmp = temp_path(path)?;
    let result = (|| {
        let mut file = create_new_private(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates a new file with mode 0600; fails if it exists.
pub(crate) fn create_new_private(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path)
}

/// Makes a directory's entries durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and any missing parents with mode 0700, making each new entry durable.
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d);
        cur = d.parent();
    }
    for d in missing.into_iter().rev() {
        match DirBuilder::new().mode(DIR_MODE).create(d) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(e),
        }
        if let Some(p) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(p)?;
        }
    }
    Ok(())
}

/// Moves `from` to `to` (creating `to`'s folder if need be), durably: both folders' entries
/// are synced.
pub(crate) fn move_durably(from: &Path, to: &Path) -> io::Result<()> {
    let dir = parent(to)?;
    ensure_dir(dir)?;
    fs::rename(from, to)?;
    sync_dir(dir)?;
    sync_dir(parent(from)?)
}

/// Moves a damaged file into `damaged_dir` under `label` (with a numeric suffix if that name
/// is taken), durably. Damaged files are never deleted: someone may want to recover them.
pub(crate) fn move_aside(file: &Path, damaged_dir: &Path, label: &str) -> io::Result<PathBuf> {
    let target = free_name(damaged_dir, label)?;
    move_durably(file, &target)?;
    Ok(target)
}

/// Saves damaged bytes cut out of a file into `damaged_dir` under `label` (with a numeric
/// suffix if that name is taken), durably.
pub(crate) fn save_aside(bytes: &[u8], damaged_dir: &Path, label: &str) -> io::Result<PathBuf> {
    let target = free_name(damaged_dir, label)?;
    write_atomic(&target, bytes)?;
    Ok(target)
}

/// `damaged_dir/label`, or `label.1`, `label.2`… if taken; creates the folder.
fn free_name(damaged_dir: &Path, label: &str) -> io::Result<PathBuf> {
    ensure_dir(damaged_dir)?;
    let mut target = damaged_dir.join(label);
    let mut n = 1u32;
    while target.symlink_metadata().is_ok() {
        target = damaged_dir.join(format!("{label}.{n}"));
        n += 1;
    }
    Ok(target)
}

/// Removes temporary files left by a process that was killed mid-write, under `dir`
/// (recursively). Only called while holding the data folder's lock, so no live writer owns them.
pub(crate) fn remove_stale_temps(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            removed += remove_stale_temps(&entry.path())?;
        } else if kind.is_file() && is_hidden(&name) && name.ends_with(TEMP_SUFFIX) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

pub(crate) fn parent(path: &Path) -> io::Result<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty()).ok_or_else(|| invalid("no parent directory"))
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_write_replaces_whole_file_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file");
        ensure_dir(path.parent().unwrap()).unwrap();
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two!").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two!");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, FILE_MODE);
        let dir_mode = fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, DIR_MODE);
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn stale_temps_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let keep = dir.path().join("keep");
        fs::write(&keep, b"x").unwrap();
        let stale = temp_path(&keep).unwrap();
        fs::write(&stale, b"half").unwrap();
        assert_eq!(remove_stale_temps(dir.path()).unwrap(), 1);
        assert!(keep.exists());
        assert!(!stale.exists());
    }

    #[test]
    fn moving_aside_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let damaged = dir.path().join("damaged");
        for content in [b"1", b"2"] {
            let f = dir.path().join("f");
            fs::write(&f, content).unwrap();
            move_aside(&f, &damaged, "f").unwrap();
        }
        assert_eq!(fs::read(damaged.join("f")).unwrap(), b"1");
        assert_eq!(fs::read(damaged.join("f.1")).unwrap(), b"2");
    }
}
