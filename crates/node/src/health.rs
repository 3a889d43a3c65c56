//! What the node found wrong with stored files, for the person using the laptop.

use std::fmt;
use std::path::PathBuf;

/// What was wrong with a stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Damage {
    /// The file is shorter than its header says: it was cut off.
    Truncated,
    /// The file does not start like a file Common Ground wrote, or has bytes after its end.
    Garbled,
    /// The contents do not match their checksum: some bytes changed after they were written.
    ChecksumMismatch,
    /// The checksum matches but the contents are not a piece of an Automerge document.
    NotAutomerge,
    /// The file's contents are not valid (for the device-private state).
    Unparseable,
    /// The file could not be read at all (it was left where it is).
    Unreadable(String),
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Truncated => f.write_str("cut short"),
            Damage::Garbled => f.write_str("not in the expected format"),
            Damage::ChecksumMismatch => f.write_str("contents changed after saving"),
            Damage::NotAutomerge => f.write_str("not workshop data"),
            Damage::Unparseable => f.write_str("could not be read as saved settings"),
            Damage::Unreadable(why) => write!(f, "could not be read: {why}"),
        }
    }
}

/// One damaged file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedFile {
    /// Where the file was.
    pub path: PathBuf,
    /// Where it was moved to (in a `damaged/` folder), if it could be moved.
    pub moved_to: Option<PathBuf>,
    /// What was wrong with it.
    pub damage: Damage,
}

/// The health of one workshop's stored files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageHealth {
    /// Damage found since this node opened.
    pub found: Vec<DamagedFile>,
    /// How many files are in the workshop's `damaged/` folder (set aside now or earlier).
    pub set_aside: usize,
}

impl StorageHealth {
    /// Whether anything has ever been found damaged.
    pub fn is_damaged(&self) -> bool {
        !self.found.is_empty() || self.set_aside > 0
    }

    /// What to tell the person, if anything.
    pub fn message(&self) -> Option<&'static str> {
        if self.found.iter().any(|d| d.moved_to.is_none()) {
            Some(
                "Part of this workshop's saved history couldn't be read and was skipped; everything \
                 else loaded. Check the disk, then restart Common Ground.",
            )
        } else if self.is_damaged() {
            Some(
                "Part of this workshop's saved history was damaged and has been set aside; \
                 everything else loaded.",
            )
        } else {
            None
        }
    }
}
