//! This device's private state for a workshop ([`Local`]), kept beside its document.
//!
//! `workshops/<id>/local.json`, mode 0600, written with write-temp + fsync + rename +
//! fsync(dir). It is never synced: it holds the anonymous actors, the only link between an
//! anonymous contribution and its writer. The file is JSON with a checksum of its contents,
//! so a flipped bit that still parses is detected too:
//!
//! ```json
//! { "format": 1, "checksum": "<BLAKE2s-256 of the compact JSON of `local`, hex>", "local": { ... } }
//! ```
//!
//! A damaged file is moved into the workshop's `damaged/` folder and reported; the workshop
//! then opens as if this device had not joined it yet (the person can join again).

use std::fs;
use std::io;
use std::path::Path;

use blake2::{Blake2s256, Digest};
use commonground_api::Local;
use serde::{Deserialize, Serialize};

use crate::durable::{ensure_dir, move_aside, write_atomic};
use crate::health::{Damage, DamagedFile};

const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct LocalFile {
    format: u32,
    checksum: String,
    local: Local,
}

fn checksum(local: &Local) -> io::Result<String> {
    let json = serde_json::to_vec(local).map_err(io::Error::other)?;
    Ok(Blake2s256::digest(&json).iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `local` to `path` durably.
pub(crate) fn save(path: &Path, local: &Local) -> io::Result<()> {
    let file = LocalFile { format: FORMAT, checksum: checksum(local)?, local: local.clone() };
    let json = serde_json::to_vec_pretty(&file).map_err(io::Error::other)?;
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    write_atomic(path, &json)
}

/// Reads the state at `path`: the default if there is none yet; on damage, the default and
/// what was found (the file having been moved into `damaged_dir`).
pub(crate) fn load(path: &Path, damaged_dir: &Path) -> (Local, Option<DamagedFile>) {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (Local::default(), None),
        Err(e) => {
            let damage = Damage::Unreadable(e.to_string());
            return (Local::default(), Some(DamagedFile { path: path.to_owned(), moved_to: None, damage }));
        }
    };
    let damage = match serde_json::from_slice::<LocalFile>(&bytes) {
        Ok(file) if file.format == FORMAT && checksum(&file.local).ok().as_ref() == Some(&file.checksum) => {
            return (file.local, None);
        }
        Ok(file) if file.format == FORMAT => Damage::ChecksumMismatch,
        Ok(_) | Err(_) => Damage::Unparseable,
    };
    let moved_to = match move_aside(path, damaged_dir, "local.json") {
        Ok(to) => Some(to),
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "couldn't move damaged local state aside");
            None
        }
    };
    tracing::warn!(file = %path.display(), damage = %damage, "this device's state for a workshop was damaged; starting afresh");
    (Local::default(), Some(DamagedFile { path: path.to_owned(), moved_to, damage }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn sample() -> Local {
        Local { participant: None, anonymous: Vec::new(), last_seen: vec!["ab".repeat(32)] }
    }

    #[test]
    fn round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w/local.json");
        assert_eq!(load(&path, &dir.path().join("damaged")), (Local::default(), None));
        save(&path, &sample()).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&path, &dir.path().join("damaged")), (sample(), None));
    }

    #[test]
    fn a_changed_value_that_still_parses_is_detected_and_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("local.json");
        save(&path, &sample()).unwrap();
        let text = fs::read_to_string(&path).unwrap().replacen("abab", "abac", 1);
        fs::write(&path, text).unwrap();
        let (local, damage) = load(&path, &dir.path().join("damaged"));
        assert_eq!(local, Local::default());
        let damage = damage.unwrap();
        assert_eq!(damage.damage, Damage::ChecksumMismatch);
        assert!(damage.moved_to.unwrap().exists());
        assert!(!path.exists());

        fs::write(&path, b"{ not json").unwrap();
        let (_, damage) = load(&path, &dir.path().join("damaged"));
        assert_eq!(damage.unwrap().damage, Damage::Unparseable);
    }
}
