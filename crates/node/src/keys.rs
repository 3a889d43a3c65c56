//! The device's secret key file.
//!
//! 32 random bytes from the operating system, kept in `<data>/device.key` with mode 0600. The
//! protocol crate turns them into this laptop's Noise static keypair; here they are only
//! created, checked and loaded. The file is created atomically: a temporary file is created
//! with mode 0600 *before* any secret byte is written to it, fsynced, then hard-linked into
//! place (which fails rather than replace a key another process made at the same moment).
//! A key file that other users could read is refused with a clear error, never silently used
//! or replaced, and so is one that is damaged: this laptop's identity depends on it.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rand::TryRngCore;
use zeroize::Zeroizing;

use crate::durable::{create_new_private, ensure_dir, sync_dir, temp_path};
use crate::error::{NodeError, Result};

/// The length of the device secret, in bytes.
pub const DEVICE_SECRET_LEN: usize = 32;

/// This device's secret key bytes. Wiped from memory when dropped; never printed.
#[derive(Clone)]
pub struct DeviceSecret(Zeroizing<[u8; DEVICE_SECRET_LEN]>);

impl DeviceSecret {
    /// The secret bytes, for building the device's keypair.
    pub fn as_bytes(&self) -> &[u8; DEVICE_SECRET_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSecret(..)")
    }
}

/// The device key file in a data folder.
#[derive(Debug, Clone, Copy)]
pub struct DeviceKeyFile;

impl DeviceKeyFile {
    /// The key file's name inside the data folder.
    pub const FILE_NAME: &'static str = "device.key";

    /// The key file's path inside `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(Self::FILE_NAME)
    }

    /// Loads the device secret from `dir`, creating it (and `dir`) on first use.
    ///
    /// Errors if the file's permissions are wider than 0600, if it is not a regular file of
    /// exactly 32 bytes, or if it can't be read or written.
    pub fn load_or_create(dir: &Path) -> Result<DeviceSecret> {
        let path = Self::path(dir);
        match fs::symlink_metadata(&path) {
            Ok(_) => Self::load(&path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match Self::create(dir, &path) {
                Ok(secret) => Ok(secret),
                // Another process created it between our look and our link: use theirs.
                Err(NodeError::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {
                    Self::load(&path)
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(NodeError::io(&path, e)),
        }
    }

    fn load(path: &Path) -> Result<DeviceSecret> {
        let meta = fs::symlink_metadata(path).map_err(|e| NodeError::io(path, e))?;
        if !meta.is_file() {
            return Err(NodeError::KeyFileDamaged {
                path: path.to_owned(),
                problem: "it is not a regular file",
            });
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(NodeError::KeyFilePermissions { path: path.to_owned(), mode });
        }
        if meta.len() != DEVICE_SECRET_LEN as u64 {
            return Err(NodeError::KeyFileDamaged {
                path: path.to_owned(),
                problem: "it is not 32 bytes long",
            });
        }
        let mut secret = Zeroizing::new([0u8; DEVICE_SECRET_LEN]);
        let mut file = fs::File::open(path).map_err(|e| NodeError::io(path, e))?;
        file.read_exact(&mut secret[..]).map_err(|e| NodeError::io(path, e))?;
        let mut extra = [0u8; 1];
        if file.read(&mut extra).map_err(|e| NodeError::io(path, e))? != 0 {
            return Err(NodeError::KeyFileDamaged {
                path: path.to_owned(),
                problem: "it is not 32 bytes long",
            });
        }
        Ok(DeviceSecret(secret))
    }

    fn create(dir: &Path, path: &Path) -> Result<DeviceSecret> {
        ensure_dir(dir).map_err(|e| NodeError::io(dir, e))?;
        let mut secret = Zeroizing::new([0u8; DEVICE_SECRET_LEN]);
        rand::rngs::OsRng
            .try_fill_bytes(&mut secret[..])
            .map_err(|e| NodeError::Randomness(e.to_string()))?;
        let tmp = temp_path(path).map_err(|e| NodeError::io(path, e))?;
        let written = (|| {
            let mut file = create_new_private(&tmp)?;
            // The mode given at creation is narrowed by the umask, never widened; set it
            // exactly anyway so the check on load can't fail on our own file.
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
            file.write_all(&secret[..])?;
            file.sync_all()?;
            drop(file);
            let linked = fs::hard_link(&tmp, path);
            let _ = fs::remove_file(&tmp);
            linked?;
            sync_dir(dir)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written.map_err(|e| NodeError::io(path, e))?;
        tracing::info!("created a new device key");
        Ok(DeviceSecret(secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_once_with_mode_0600_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DeviceKeyFile::load_or_create(&data).unwrap();
        let path = DeviceKeyFile::path(&data);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(fs::read(&path).unwrap(), first.as_bytes());
        let again = DeviceKeyFile::load_or_create(&data).unwrap();
        assert_eq!(first.as_bytes(), again.as_bytes());
        assert_ne!(first.as_bytes(), &[0u8; 32]);
        // Only the key file is left: no temporary files.
        assert_eq!(fs::read_dir(&data).unwrap().count(), 1);
        assert_eq!(format!("{first:?}"), "DeviceSecret(..)");
    }

    #[test]
    fn refuses_a_key_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        DeviceKeyFile::load_or_create(dir.path()).unwrap();
        let path = DeviceKeyFile::path(dir.path());
        for wide in [0o644, 0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(wide)).unwrap();
            let err = DeviceKeyFile::load_or_create(dir.path()).unwrap_err();
            assert!(matches!(err, NodeError::KeyFilePermissions { mode, .. } if mode == wide), "{err}");
            assert!(err.to_string().contains("chmod 600"));
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        DeviceKeyFile::load_or_create(dir.path()).unwrap();
    }

    #[test]
    fn refuses_a_damaged_key_without_replacing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = DeviceKeyFile::path(dir.path());
        fs::write(&path, [7u8; 31]).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = DeviceKeyFile::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, NodeError::KeyFileDamaged { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), [7u8; 31]);
    }
}
