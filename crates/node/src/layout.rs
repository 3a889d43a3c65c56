//! Where things live in the data folder (the tree is drawn in the crate docs).

use std::path::{Path, PathBuf};

use commonground_workshop::{ParticipantId, WorkshopId};

/// Paths inside one data folder.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root`, which should be absolute.
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// Stored values that belong to no workshop.
    pub(crate) fn repo_dir(&self) -> PathBuf {
        self.root.join("repo")
    }

    /// Where damaged files from [`Layout::repo_dir`] are set aside.
    pub(crate) fn repo_damaged_dir(&self) -> PathBuf {
        self.root.join("damaged")
    }

    /// Where a workshop being created keeps this device's state for it until its document is
    /// stored ([`Layout::creating_file`]).
    pub(crate) fn creating_dir(&self) -> PathBuf {
        self.root.join("creating")
    }

    /// This device's state for a workshop it is creating, as the workshop's facilitator
    /// `participant` (the workshop's id is only known once samod has its document).
    pub(crate) fn creating_file(&self, participant: ParticipantId) -> PathBuf {
        self.creating_dir().join(format!("{participant}.json"))
    }

    pub(crate) fn workshops_dir(&self) -> PathBuf {
        self.root.join("workshops")
    }

    pub(crate) fn workshop_dir(&self, id: WorkshopId) -> PathBuf {
        self.workshops_dir().join(id.to_string())
    }

    /// The document's stored chunks.
    pub(crate) fn doc_dir(&self, id: WorkshopId) -> PathBuf {
        self.workshop_dir(id).join("doc")
    }

    /// The document's single changes, appended (`changelog.rs`).
    pub(crate) fn change_log(&self, id: WorkshopId) -> PathBuf {
        self.workshop_dir(id).join("changes.log")
    }

    /// Whether any of the workshop's document is stored here: a snapshot or change files, or
    /// changes in its log.
    pub(crate) fn holds_document(&self, id: WorkshopId) -> bool {
        self.doc_dir(id).is_dir() || std::fs::metadata(self.change_log(id)).is_ok_and(|m| m.len() > 0)
    }

    pub(crate) fn damaged_dir(&self, id: WorkshopId) -> PathBuf {
        self.workshop_dir(id).join("damaged")
    }

    pub(crate) fn local_file(&self, id: WorkshopId) -> PathBuf {
        self.workshop_dir(id).join("local.json")
    }

    /// A guest's private state (a phone or tablet using the workshop through this laptop).
    pub(crate) fn guest_file(&self, id: WorkshopId, guest: &crate::GuestId) -> PathBuf {
        self.workshop_dir(id).join("guests").join(format!("{}.json", guest.as_str()))
    }
}

/// A storage key component as a file name. Components of samod's keys (document ids in base58,
/// hex hashes, "snapshot", "incremental") are stored as they are; anything else — a leading
/// dot, `..`, characters outside `[A-Za-z0-9_-.]` — is written as `~` and its bytes in hex, so
/// no key can name a path outside its folder or look like a temporary file.
pub(crate) fn encode_component(part: &str) -> String {
    let plain = !part.is_empty()
        && !part.starts_with('.')
        && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if plain {
        part.to_owned()
    } else {
        let mut s = String::with_capacity(1 + 2 * part.len());
        s.push('~');
        for b in part.bytes() {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

/// The inverse of [`encode_component`]; `None` for names we did not write.
pub(crate) fn decode_component(name: &str) -> Option<String> {
    match name.strip_prefix('~') {
        None => (encode_component(name) == name).then(|| name.to_owned()),
        Some(hex) => {
            if hex.is_empty() || !hex.len().is_multiple_of(2) {
                return None;
            }
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?;
            String::from_utf8(bytes).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_round_trip_and_never_escape() {
        for part in ["snapshot", "abc123", "..", ".hidden", "a/b", "ü", "~x", "x y"] {
            let name = encode_component(part);
            assert!(!name.contains('/') && !name.starts_with('.') && name != "..", "{name}");
            assert_eq!(decode_component(&name).as_deref(), Some(part));
        }
        assert_eq!(decode_component("~zz"), None);
        assert_eq!(decode_component(".tmp"), None);
    }
}
