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
//! `workshops/6f1c…/doc/snapshot/3a9e…`. Single changes (`KeyScheme::logged`) are instead
//! appended to the workshop's change log, `workshops/<workshop id>/changes.log` (its format,
//! and why, in `changelog.rs`); changes stored as files by earlier versions still load and
//! are deleted as before.
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
//! Change log records carry the same checksum.
//!
//! # Writing
//!
//! A put of a file is write-temp + fsync + rename + fsync(dir) (`durable::write_atomic`), so
//! once it returns the value survives kill -9 and power loss, and a file is only ever the old
//! value or the new one, never half of each. A change's put is an append to the change log
//! and an `fdatasync` (see `changelog.rs`), with the same guarantee. A put that fails is retried; if it still fails, the
//! acknowledgement waiting for it fails (the edit is not acknowledged) and deletes for that
//! document are refused for the rest of the process, because samod would otherwise delete the
//! chunks a failed compaction was meant to replace.
//!
//! # Reading
//!
//! Every file is checked on load: header, length, checksum and, for document chunks, that the
//! payload parses as Automerge (a change log's records once, when its workshop is first used). A file that fails is skipped (every other chunk still loads:
//! samod keeps snapshots and incremental changes under separate keys), moved into the
//! workshop's `damaged/` folder (never deleted) and recorded for [`crate::Node::workshop_health`],
//! with a `tracing` warning that names the file but none of its contents. A damaged part of a
//! change log is copied there and the log rewritten without it; every other record loads.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use automerge::{Automerge, AutomergeError, LoadOptions, OnPartialLoad};
use blake2::{Blake2s256, Digest};
use commonground_workshop::WorkshopId;

use crate::acks::Acks;
use crate::changelog::ChangeLog;
use crate::durable::{ensure_dir, is_hidden, move_aside, save_aside, write_atomic};
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
    /// Whether values under a document key (without its first component) are small and
    /// written once, so go in the document's change log rather than a file each.
    fn logged(&self, rest: &[String]) -> bool;
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
    /// Each workshop's change log, once read.
    logs: Mutex<HashMap<WorkshopId, LogSlot>>,
    /// Set when the node stops: writes are refused from then on. Every write holds it for
    /// reading while it runs, so closing waits for those under way.
    closed: std::sync::RwLock<bool>,
}

/// A workshop's change log: `None` until it has been opened (or while opening failed).
type LogSlot = Arc<Mutex<Option<Arc<Mutex<ChangeLog>>>>>;

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
                logs: Mutex::new(HashMap::new()),
                closed: std::sync::RwLock::new(false),
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
            if let Some(id) = s.logged(&place, &key) {
                let read = s.log(id).and_then(|log| lock(&log).read(&key[1..]));
                match read {
                    Ok(Some(value)) => return Some(value),
                    Ok(None) => {}
                    Err(e) => s.unreadable(&s.inner.layout.change_log(id), Some(id), &e),
                }
            }
            s.read_verified(&place.path, &key, place.workshop)
        })
        .await
    }

    /// Loads every intact value whose key starts with `prefix`.
    pub(crate) async fn load_range(&self, prefix: Vec<String>) -> Vec<(Vec<String>, Vec<u8>)> {
        self.blocking(Vec::new(), move |s| s.load_range_blocking(&prefix)).await
    }

    /// Refuses every write from now on, once those under way have finished (blocks until
    /// they have). The node calls this when it stops, before it lets go of the data folder:
    /// samod may still issue a delete after its own stop, and a write from a node that has
    /// closed could change files that the next process to open the folder is writing.
    pub(crate) fn close(&self) {
        *self.inner.closed.write().unwrap_or_else(|e| e.into_inner()) = true;
    }

    /// Whether storage has closed; held, it keeps closing off (see [`Self::writing`]).
    fn closed_guard(&self) -> std::sync::RwLockReadGuard<'_, bool> {
        // A plain flag: a panic elsewhere can't leave it half-set.
        self.inner.closed.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the write `f` unless storage has closed (then `refused`), holding closing off
    /// until it has finished.
    fn writing<T>(&self, refused: T, f: impl FnOnce() -> T) -> T {
        let closed = self.closed_guard();
        if *closed {
            tracing::debug!("storage has closed; a write was refused");
            return refused;
        }
        f()
    }

    /// Stores a value durably; reports the outcome to [`Acks`].
    pub(crate) async fn put(&self, key: Vec<String>, data: Vec<u8>) {
        let data = Arc::new(data);
        let mut last_error = String::new();
        for attempt in 1..=PUT_ATTEMPTS {
            let (k, d) = (key.clone(), data.clone());
            let result = self
                .blocking(Err(io::Error::other("the storage task stopped")), move |s| {
                    s.writing(Err(io::Error::other("storage has closed")), || s.put_blocking(&k, &d))
                })
                .await;
            if result.is_err() && *self.closed_guard() {
                return; // the node has stopped: nothing more is written, nor waited for
            }
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
            s.writing((), || {
                let Some(place) = s.place(&key).filter(|p| p.nested) else { return };
                if let Some(id) = s.logged(&place, &key) {
                    if let Err(e) = s.log(id).and_then(|log| lock(&log).delete(&key[1..])) {
                        tracing::warn!(key = %key.join("/"), error = %e, "couldn't delete a logged value");
                    }
                }
                // A change may also be a file, stored by an earlier version.
                // Not fsynced: if the delete is lost, samod finds superseded data next time and
                // compacts it again; nothing is lost either way.
                match fs::remove_file(&place.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(key = %key.join("/"), error = %e, "couldn't delete a stored value")
                    }
                }
            })
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
        if let Some(id) = self.logged(&place, key) {
            let log = self.log(id)?;
            let (handle, end) = lock(&log).append(&key[1..], data)?;
            // Outside the log's lock: writers appending meanwhile share this flush.
            let synced = handle.sync(end);
            if synced.is_err() {
                lock(&log).reopen_after(&handle);
            }
            return synced;
        }
        if let Some(dir) = place.path.parent() {
            ensure_dir(dir)?;
        }
        write_atomic(&place.path, &frame(&key.join("/"), data))
    }

    /// The workshop whose change log holds `key`'s value, if it goes in one.
    fn logged(&self, place: &Place, key: &[String]) -> Option<WorkshopId> {
        place.workshop.filter(|_| place.nested && self.inner.scheme.logged(&key[1..]))
    }

    /// A workshop's change log, read and checked the first time (damaged parts are saved in
    /// the workshop's `damaged/` folder and reported, then dropped from the log).
    fn log(&self, id: WorkshopId) -> io::Result<Arc<Mutex<ChangeLog>>> {
        // The map is held only to find the workshop's slot; opening the log (which reads and
        // checks every record) holds just that slot, so other workshops' storage goes on.
        let slot = lock(&self.inner.logs).entry(id).or_default().clone();
        let mut slot = lock(&slot);
        if let Some(log) = slot.as_ref() {
            return Ok(log.clone());
        }
        let (layout, scheme) = (&self.inner.layout, &self.inner.scheme);
        let path = layout.change_log(id);
        let (mut log, damaged) =
            ChangeLog::open(path.clone(), scheme.first_component(id), |rest, payload| {
                !scheme.holds_automerge(rest) || parses_as_automerge(payload)
            })?;
        let mut all_saved = true;
        for part in &damaged {
            let label = format!("changes.log-at-{}", part.at);
            let moved_to = match save_aside(&part.bytes, &layout.damaged_dir(id), &label) {
                Ok(to) => Some(to),
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "couldn't save a damaged part of the change log");
                    all_saved = false;
                    None
                }
            };
            tracing::warn!(
                workshop = %id,
                file = %path.display(),
                at = part.at,
                bytes = part.bytes.len(),
                damage = %part.damage,
                "part of the change log was damaged; it has been set aside and everything else still loads"
            );
            self.record_damage(
                Some(id),
                DamagedFile { path: path.clone(), moved_to, damage: part.damage.clone() },
            );
        }
        // Only once every damaged part is kept elsewhere: nothing is ever simply deleted. If
        // the rewrite fails the log is used as it is (its index describes the file as read;
        // the damage is reported again on the next start).
        if !damaged.is_empty() && all_saved {
            if let Err(e) = log.rewrite() {
                tracing::error!(file = %path.display(), error = %e, "couldn't rewrite the change log without its damaged parts");
            }
        }
        let log = Arc::new(Mutex::new(log));
        *slot = Some(log.clone());
        Ok(log)
    }

    /// Adds the logged values of workshop `id` whose keys (below the document) start with
    /// `rest`, unless a file already gave them.
    fn add_logged(&self, id: WorkshopId, rest: &[String], out: &mut Vec<(Vec<String>, Vec<u8>)>) {
        let first = self.inner.scheme.first_component(id);
        let logged = match self.log(id).and_then(|log| lock(&log).read_all(rest)) {
            Ok(logged) => logged,
            Err(e) => {
                self.unreadable(&self.inner.layout.change_log(id), Some(id), &e);
                return;
            }
        };
        if logged.is_empty() {
            return;
        }
        let from_files: HashSet<Vec<String>> = out.iter().map(|(k, _)| k.clone()).collect();
        for (key, value) in logged {
            let mut full = Vec::with_capacity(key.len() + 1);
            full.push(first.clone());
            full.extend(key);
            if !from_files.contains(&full) {
                out.push((full, value));
            }
        }
    }

    fn load_range_blocking(&self, prefix: &[String]) -> Vec<(Vec<String>, Vec<u8>)> {
        let mut out = Vec::new();
        if prefix.is_empty() {
            self.walk(&self.inner.layout.repo_dir(), Vec::new(), None, &mut out);
            for id in self.workshop_ids() {
                let first = self.inner.scheme.first_component(id);
                self.walk(&self.inner.layout.doc_dir(id), vec![first], Some(id), &mut out);
                self.add_logged(id, &[], &mut out);
            }
            return out;
        }
        let Some(place) = self.place(prefix) else { return out };
        if let Some(id) = place.workshop {
            let mut from_files = self.load_range_files(prefix, &place);
            self.add_logged(id, &prefix[1..], &mut from_files);
            return from_files;
        }
        self.load_range_files(prefix, &place)
    }

    fn load_range_files(&self, prefix: &[String], place: &Place) -> Vec<(Vec<String>, Vec<u8>)> {
        let mut out = Vec::new();
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

pub(crate) fn checksum(key: &str, payload: &[u8]) -> [u8; 32] {
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
        fn logged(&self, rest: &[String]) -> bool {
            rest.first().is_some_and(|k| k == "logged")
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
    async fn logged_values_round_trip_beside_files_from_earlier_versions() {
        let dir = tempfile::tempdir().unwrap();
        let storage = DurableStorage::new(Layout::new(dir.path().to_owned()), TestKeys);
        let id: WorkshopId = "6f1c2d3e-0000-4000-8000-000000000002".parse().unwrap();
        let doc = format!("doc-{id}");
        // What an earlier version wrote: the same kind of value as a file of its own.
        let old = dir.path().join(format!("workshops/{id}/doc/logged/old"));
        fs::create_dir_all(old.parent().unwrap()).unwrap();
        fs::write(&old, frame(&format!("{doc}/logged/old"), b"from a file")).unwrap();

        storage.put(key(&[&doc, "logged", "a"]), b"one".to_vec()).await;
        storage.put(key(&[&doc, "logged", "b"]), b"two".to_vec()).await;
        storage.put(key(&[&doc, "snapshot", "s"]), b"a file".to_vec()).await;
        let log = dir.path().join(format!("workshops/{id}/changes.log"));
        assert!(log.is_file());
        assert!(!dir.path().join(format!("workshops/{id}/doc/logged/a")).exists());
        assert_eq!(storage.load(key(&[&doc, "logged", "b"])).await.as_deref(), Some(&b"two"[..]));
        assert_eq!(storage.load(key(&[&doc, "logged", "old"])).await.as_deref(), Some(&b"from a file"[..]));

        // A fresh storage (the next start) reads the log back, with the files.
        let storage = DurableStorage::new(Layout::new(dir.path().to_owned()), TestKeys);
        let mut names: Vec<String> =
            storage.load_range(key(&[&doc])).await.into_iter().map(|(k, _)| k.join("/")).collect();
        names.sort();
        let expected = ["logged/a", "logged/b", "logged/old", "snapshot/s"].map(|k| format!("{doc}/{k}"));
        assert_eq!(names, expected);
        assert_eq!(storage.load_range(Vec::new()).await.len(), 4);
        assert_eq!(storage.load_range(key(&[&doc, "logged"])).await.len(), 3);

        for name in ["a", "b", "old"] {
            storage.delete(key(&[&doc, "logged", name])).await;
        }
        assert!(!old.exists());
        assert_eq!(fs::metadata(&log).unwrap().len(), 0, "nothing live: the log is emptied");
        let left: Vec<_> =
            storage.load_range(key(&[&doc])).await.into_iter().map(|(k, _)| k.join("/")).collect();
        assert_eq!(left, [format!("{doc}/snapshot/s")]);
        assert!(storage.damage(Some(id)).is_empty());
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
