//! Durable, self-checking key/value storage for samod.
//!
//! samod stores each document as values under hierarchical keys (`[document, "snapshot",
//! hash]`, `[document, "incremental", change hash]`, plus `["storage-adapter-id"]`); this
//! module keeps them as files in the data folder (`repo.rs` adapts it to samod's `Storage`
//! trait, so this file knows nothing of samod).
//!
//! # Layout
//!
//! A key whose first component names a document is stored under that workshop's folder,
//! `workshops/<workshop id>/doc/<rest of the key>`; any other key under `repo/<key>`. Each
//! component is one path segment (see `layout::encode_component`), e.g.
//! `workshops/6f1c…/doc/incremental/3a9e…`.
//!
//! # File format
//!
//! ```text
//! magic    8 bytes  "CGCHUNK1"
//! length   8 bytes  payload length, little-endian u64
//! checksum 32 bytes BLAKE2s-256 of (key length as u64 LE, key as "a/b/c", payload)
//! payload  `length` bytes, exactly what samod stored
//! ```
//!
//! The key is part of the checksum, so a file that ends up under the wrong name is detected too.
//!
//! # Writing
//!
//! Every put is write-temp + fsync + rename + fsync(dir) (`durable::write_atomic`), so once it
//! returns the value survives kill -9 and power loss, and a file is only ever the old value or
//! the new one, never half of each. A put that fails is retried; if it still fails, the
//! acknowledgement waiting for it fails (the edit is not acknowledged) and deletes for that
//! document are refused for the rest of the process, because samod would otherwise delete the
//! chunks a failed compaction was meant to replace.
//!
//! # Reading
//!
//! Every file is checked on load: header, length, checksum and, for document chunks, that the
//! payload parses as Automerge. A file that fails is skipped (every other chunk still loads:
//! samod keeps snapshots and incremental changes under separate keys), moved into the
//! workshop's `damaged/` folder (never deleted) and recorded for [`crate::Node::workshop_health`],
//! with a `tracing` warning that names the file but none of its contents.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use automerge::{Automerge, AutomergeError, LoadOptions, OnPartialLoad};
use blake2::{Blake2s256, Digest};
use commonground_workshop::WorkshopId;

use crate::acks::Acks;
use crate::durable::{ensure_dir, is_hidden, move_aside, write_atomic};
use crate::health::{Damage, DamagedFile};
use crate::layout::{decode_component, encode_component, Layout};

/// How samod's keys name documents; implemented next to samod in `repo.rs`.
pub(crate) trait KeyScheme: Send + Sync + 'static {
    /// The workshop whose document a key's first component names, if it names one.
    fn workshop_of(&self, first: &str) -> Option<WorkshopId>;
    /// The first key component for a workshop's document.
    fn first_component(&self, id: WorkshopId) -> String;
    /// Whether the value under a document key (without its first component) is Automerge data.
    fn holds_automerge(&self, rest: &[String]) -> bool;
}

const MAGIC: [u8; 8] = *b"CGCHUNK1";
const HEADER_LEN: usize = 8 + 8 + 32;
const PUT_ATTEMPTS: u32 = 3;

/// The storage behind samod (cheap to clone: all clones share state).
#[derive(Clone)]
pub(crate) struct DurableStorage {
    inner: Arc<Inner>,
}

struct Inner {
    layout: Layout,
    scheme: Box<dyn KeyScheme>,
    acks: Acks,
    damage: Mutex<Vec<(Option<WorkshopId>, DamagedFile)>>,
    /// First key components of documents a put failed for: deletes are refused for them.
    failed: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for DurableStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableStorage").field("root", &self.inner.layout.root()).finish_non_exhaustive()
    }
}

/// Where a key lives.
struct Place {
    path: PathBuf,
    workshop: Option<WorkshopId>,
    /// Whether the key has components below its area's folder (a value can't be the folder).
    nested: bool,
}

impl DurableStorage {
    pub(crate) fn new(layout: Layout, scheme: impl KeyScheme) -> Self {
        Self {
            inner: Arc::new(Inner {
                layout,
                scheme: Box::new(scheme),
                acks: Acks::default(),
                damage: Mutex::new(Vec::new()),
                failed: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// The writes the node is waiting for.
    pub(crate) fn acks(&self) -> &Acks {
        &self.inner.acks
    }

    /// Damage found since this storage was opened, for one workshop (or, with `None`, outside
    /// every workshop).
    pub(crate) fn damage(&self, workshop: Option<WorkshopId>) -> Vec<DamagedFile> {
        lock(&self.inner.damage).iter().filter(|(w, _)| *w == workshop).map(|(_, d)| d.clone()).collect()
    }

    /// Records damage found elsewhere (the device-private state).
    pub(crate) fn record_damage(&self, workshop: Option<WorkshopId>, file: DamagedFile) {
        lock(&self.inner.damage).push((workshop, file));
    }

    /// Loads one value (`None` if absent or damaged).
    pub(crate) async fn load(&self, key: Vec<String>) -> Option<Vec<u8>> {
        self.blocking(None, move |s| {
            let place = s.place(&key)?;
            if !place.nested {
                return None;
            }
            s.read_verified(&place.path, &key, place.workshop)
        })
        .await
    }

    /// Loads every intact value whose key starts with `prefix`.
    pub(crate) async fn load_range(&self, prefix: Vec<String>) -> Vec<(Vec<String>, Vec<u8>)> {
        self.blocking(Vec::new(), move |s| s.load_range_blocking(&prefix)).await
    }

    /// Stores a value durably; reports the outcome to [`Acks`].
    pub(crate) async fn put(&self, key: Vec<String>, data: Vec<u8>) {
        let data = Arc::new(data);
        let mut last_error = String::new();
        for attempt in 1..=PUT_ATTEMPTS {
            let (k, d) = (key.clone(), data.clone());
            let result = self
                .blocking(Err(io::Error::other("the storage task stopped")), move |s| s.put_blocking(&k, &d))
                .await;
            match result {
                Ok(()) => {
                    self.inner.acks.durable(&key);
                    return;
                }
                Err(e) => {
                    tracing::warn!(key = %key.join("/"), attempt, error = %e, "couldn't write a stored value");
                    last_error = e.to_string();
                    if attempt < PUT_ATTEMPTS {
                        tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                    }
                }
            }
        }
        tracing::error!(key = %key.join("/"), "giving up writing a stored value; keeping older data for this document");
        if let Some(first) = key.first() {
            lock(&self.inner.failed).insert(first.clone());
        }
        self.inner.acks.failed(&key, &last_error);
    }

    /// Refuses deletes for the document `key` belongs to from now on, as after a failed put:
    /// for a put that was abandoned before it finished (the node stopping mid-write).
    pub(crate) fn refuse_deletes(&self, key: &[String]) {
        if let Some(first) = key.first() {
            lock(&self.inner.failed).insert(first.clone());
        }
    }

    /// Deletes a value (samod does this for chunks a compacted snapshot has replaced).
    pub(crate) async fn delete(&self, key: Vec<String>) {
        if key.first().is_some_and(|first| lock(&self.inner.failed).contains(first)) {
            tracing::warn!(key = %key.join("/"), "not deleting: an earlier write for this document failed");
            return;
        }
        self.blocking((), move |s| {
            let Some(place) = s.place(&key).filter(|p| p.nested) else { return };
            // Not fsynced: if the delete is lost, samod finds superseded data next time and
            // compacts it again; nothing is lost either way.
            match fs::remove_file(&place.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(key = %key.join("/"), error = %e, "couldn't delete a stored value"),
            }
        })
        .await
    }

    /// Runs file work off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        fallback: T,
        f: impl FnOnce(&DurableStorage) -> T + Send + 'static,
    ) -> T {
        let s = self.clone();
        match tokio::task::spawn_blocking(move || f(&s)).await {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "a storage task failed");
                fallback
            }
        }
    }

    fn place(&self, key: &[String]) -> Option<Place> {
        let (first, rest) = key.split_first()?;
        let layout = &self.inner.layout;
        let (mut path, parts, workshop) = match self.inner.scheme.workshop_of(first) {
            Some(id) => (layout.doc_dir(id), rest, Some(id)),
            None => (layout.repo_dir(), key, None),
        };
        for part in parts {
            path.push(encode_component(part));
        }
        Some(Place { path, workshop, nested: !parts.is_empty() })
    }

    fn put_blocking(&self, key: &[String], data: &[u8]) -> io::Result<()> {
        let place = self
            .place(key)
            .filter(|p| p.nested)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a key must name a file"))?;
        if let Some(dir) = place.path.parent() {
            ensure_dir(dir)?;
        }
        write_atomic(&place.path, &frame(&key.join("/"), data))
    }

    fn load_range_blocking(&self, prefix: &[String]) -> Vec<(Vec<String>, Vec<u8>)> {
        let mut out = Vec::new();
        if prefix.is_empty() {
            self.walk(&self.inner.layout.repo_dir(), Vec::new(), None, &mut out);
            for id in self.workshop_ids() {
                let first = self.inner.scheme.first_component(id);
                self.walk(&self.inner.layout.doc_dir(id), vec![first], Some(id), &mut out);
            }
            return out;
        }
        let Some(place) = self.place(prefix) else { return out };
        match fs::symlink_metadata(&place.path) {
            Ok(meta) if meta.is_dir() => self.walk(&place.path, prefix.to_vec(), place.workshop, &mut out),
            Ok(meta) if meta.is_file() && place.nested => {
                if let Some(value) = self.read_verified(&place.path, prefix, place.workshop) {
                    out.push((prefix.to_vec(), value));
                }
            }
            _ => {}
        }
        out
    }

    fn walk(
        &self,
        dir: &Path,
        key: Vec<String>,
        workshop: Option<WorkshopId>,
        out: &mut Vec<(Vec<String>, Vec<u8>)>,
    ) {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => {
                self.unreadable(dir, workshop, &e);
                return;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    self.unreadable(dir, workshop, &e);
                    continue;
                }
            };
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if is_hidden(name) {
                continue;
            }
            let Some(part) = decode_component(name) else {
                tracing::debug!(file = %entry.path().display(), "skipping a file the node did not write");
                continue;
            };
            let mut child = key.clone();
            child.push(part);
            match entry.file_type() {
                Ok(t) if t.is_dir() => self.walk(&entry.path(), child, workshop, out),
                Ok(t) if t.is_file() => {
                    if let Some(value) = self.read_verified(&entry.path(), &child, workshop) {
                        out.push((child, value));
                    }
                }
                _ => {}
            }
        }
    }

    /// Reads and checks one stored file; damaged files are set aside and reported.
    fn read_verified(&self, path: &Path, key: &[String], workshop: Option<WorkshopId>) -> Option<Vec<u8>> {
        let mut bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.unreadable(path, workshop, &e);
                return None;
            }
        };
        let is_doc_chunk =
            workshop.is_some() && self.inner.scheme.holds_automerge(key.get(1..).unwrap_or(&[]));
        let checked = unframe(&key.join("/"), &bytes).and_then(|payload| {
            if is_doc_chunk && !parses_as_automerge(payload) {
                Err(Damage::NotAutomerge)
            } else {
                Ok(())
            }
        });
        match checked {
            Ok(()) => {
                bytes.drain(..HEADER_LEN);
                Some(bytes)
            }
            Err(damage) => {
                let label = key
                    .iter()
                    .skip(usize::from(workshop.is_some()))
                    .map(|p| encode_component(p))
                    .collect::<Vec<_>>();
                self.set_aside(path, workshop, damage, &label.join("-"));
                None
            }
        }
    }

    fn set_aside(&self, path: &Path, workshop: Option<WorkshopId>, damage: Damage, label: &str) {
        let layout = &self.inner.layout;
        let damaged_dir = workshop.map_or_else(|| layout.repo_damaged_dir(), |id| layout.damaged_dir(id));
        let moved_to = match move_aside(path, &damaged_dir, label) {
            Ok(to) => Some(to),
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "couldn't move a damaged file aside");
                None
            }
        };
        tracing::warn!(
            workshop = ?workshop,
            file = %path.display(),
            damage = %damage,
            "a stored file was damaged; it has been set aside and everything else still loads"
        );
        self.record_damage(workshop, DamagedFile { path: path.to_owned(), moved_to, damage });
    }

    fn unreadable(&self, path: &Path, workshop: Option<WorkshopId>, error: &io::Error) {
        tracing::warn!(workshop = ?workshop, file = %path.display(), error = %error, "couldn't read a stored file; skipping it");
        self.record_damage(
            workshop,
            DamagedFile {
                path: path.to_owned(),
                moved_to: None,
                damage: Damage::Unreadable(error.to_string()),
            },
        );
    }

    /// The workshops with a folder in the data folder.
    pub(crate) fn workshop_ids(&self) -> Vec<WorkshopId> {
        let Ok(entries) = fs::read_dir(self.inner.layout.workshops_dir()) else { return Vec::new() };
        let mut ids: Vec<WorkshopId> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        ids.sort();
        ids
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded data are plain collections that a panic cannot leave half-updated.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn checksum(key: &str, payload: &[u8]) -> [u8; 32] {
    let mut hash = Blake2s256::new();
    hash.update((key.len() as u64).to_le_bytes());
    hash.update(key.as_bytes());
    hash.update(payload);
    hash.finalize().into()
}

/// A stored file's bytes: header, then the payload.
pub(crate) fn frame(key: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&checksum(key, payload));
    out.extend_from_slice(payload);
    out
}

/// The payload of a stored file, if it is whole and unchanged.
pub(crate) fn unframe<'a>(key: &str, bytes: &'a [u8]) -> Result<&'a [u8], Damage> {
    let Some((header, payload)) = bytes.split_at_checked(HEADER_LEN) else {
        // A cut-off file still starts like one of ours; anything else is not ours.
        let n = bytes.len().min(MAGIC.len());
        return Err(if bytes[..n] == MAGIC[..n] { Damage::Truncated } else { Damage::Garbled });
    };
    let (magic, rest) = header.split_at(8);
    let (length, sum) = rest.split_at(8);
    if magic != MAGIC {
        return Err(Damage::Garbled);
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(length);
    let len = u64::from_le_bytes(len);
    match (payload.len() as u64).cmp(&len) {
        std::cmp::Ordering::Less => return Err(Damage::Truncated),
        std::cmp::Ordering::Greater => return Err(Damage::Garbled),
        std::cmp::Ordering::Equal => {}
    }
    if checksum(key, payload)[..] != *sum {
        return Err(Damage::ChecksumMismatch);
    }
    Ok(payload)
}

/// Whether `bytes` is a piece of an Automerge document: one change, or a document, or changes
/// whose dependencies are elsewhere. Never panics: a parser bug on odd bytes becomes "no".
fn parses_as_automerge(bytes: &[u8]) -> bool {
    std::panic::catch_unwind(|| {
        if automerge::Change::try_from(bytes).is_ok() {
            return true;
        }
        let strict = LoadOptions::new().on_partial_load(OnPartialLoad::Error);
        matches!(Automerge::load_with_options(bytes, strict), Ok(_) | Err(AutomergeError::MissingDeps))
    })
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    struct TestKeys;

    impl KeyScheme for TestKeys {
        fn workshop_of(&self, first: &str) -> Option<WorkshopId> {
            first.strip_prefix("doc-")?.parse().ok()
        }
        fn first_component(&self, id: WorkshopId) -> String {
            format!("doc-{id}")
        }
        fn holds_automerge(&self, rest: &[String]) -> bool {
            rest.first().is_some_and(|k| k == "incremental")
        }
    }

    fn key(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    fn change_bytes() -> Vec<u8> {
        let mut doc = Automerge::new();
        doc.transact(|tx| tx.put(automerge::ROOT, "k", "v")).unwrap();
        doc.get_changes(&[])[0].raw_bytes().to_vec()
    }

    #[test]
    fn frames_detect_every_kind_of_damage() {
        let framed = frame("a/b", b"payload");
        assert_eq!(unframe("a/b", &framed), Ok(&b"payload"[..]));
        assert_eq!(unframe("a/c", &framed), Err(Damage::ChecksumMismatch));
        assert_eq!(unframe("a/b", &framed[..framed.len() - 1]), Err(Damage::Truncated));
        assert_eq!(unframe("a/b", &framed[..5]), Err(Damage::Truncated));
        assert_eq!(unframe("a/b", &framed[..0]), Err(Damage::Truncated));
        assert_eq!(unframe("a/b", b"garbage!"), Err(Damage::Garbled));
        let mut longer = framed.clone();
        longer.push(0);
        assert_eq!(unframe("a/b", &longer), Err(Damage::Garbled));
        for bit in 0..framed.len() * 8 {
            let mut flipped = framed.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(unframe("a/b", &flipped).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn automerge_check_accepts_chunks_and_refuses_garbage() {
        assert!(parses_as_automerge(&change_bytes()));
        let mut doc = Automerge::new();
        doc.transact(|tx| tx.put(automerge::ROOT, "k", "v")).unwrap();
        assert!(parses_as_automerge(&doc.save()));
        assert!(!parses_as_automerge(b"\x85\x6f\x4a\x83 not automerge"));
        assert!(!parses_as_automerge(&[0xff; 64]));
    }

    #[tokio::test]
    async fn a_valid_checksum_over_bad_automerge_is_set_aside() {
        // Guards that a chunk storage wrote whole but that is not Automerge can't break the load.
        let dir = tempfile::tempdir().unwrap();
        let storage = DurableStorage::new(Layout::new(dir.path().to_owned()), TestKeys);
        let id: WorkshopId = "6f1c2d3e-0000-4000-8000-000000000001".parse().unwrap();
        let doc = format!("doc-{id}");
        storage.put(key(&[&doc, "incremental", "good"]), change_bytes()).await;
        storage.put(key(&[&doc, "incremental", "bad"]), b"not automerge".to_vec()).await;
        storage.put(key(&[&doc, "other"]), b"not automerge, not checked".to_vec()).await;

        let loaded = storage.load_range(key(&[&doc])).await;
        let mut names: Vec<_> = loaded.iter().map(|(k, _)| k.join("/")).collect();
        names.sort();
        assert_eq!(names, [format!("{doc}/incremental/good"), format!("{doc}/other")]);
        let damage = storage.damage(Some(id));
        assert_eq!(damage.len(), 1);
        assert_eq!(damage[0].damage, Damage::NotAutomerge);
        let moved = damage[0].moved_to.as_ref().unwrap();
        assert!(moved.starts_with(dir.path().join("workshops").join(id.to_string()).join("damaged")));
        assert!(moved.exists());
    }

    #[tokio::test]
    async fn keys_outside_documents_round_trip_and_deletes_work() {
        let dir = tempfile::tempdir().unwrap();
        let storage = DurableStorage::new(Layout::new(dir.path().to_owned()), TestKeys);
        storage.put(key(&["storage-adapter-id"]), b"abc".to_vec()).await;
        assert_eq!(storage.load(key(&["storage-adapter-id"])).await.as_deref(), Some(&b"abc"[..]));
        assert!(dir.path().join("repo/storage-adapter-id").is_file());
        assert_eq!(storage.load_range(Vec::new()).await.len(), 1);
        storage.delete(key(&["storage-adapter-id"])).await;
        assert_eq!(storage.load(key(&["storage-adapter-id"])).await, None);
        // A component that could name a path outside the folder is encoded instead.
        storage.put(key(&["x", ".."]), b"ok".to_vec()).await;
        assert!(dir.path().join("repo/x/~2e2e").is_file());
        assert_eq!(storage.load(key(&["x", ".."])).await.as_deref(), Some(&b"ok"[..]));
    }
}
