//! A document's change log: samod's single-change chunks appended to one file,
//! `workshops/<id>/changes.log`, instead of stored as a file each.
//!
//! # Why
//!
//! samod stores every change it takes in (each edit, and each change arriving from another
//! laptop one or a few at a time) under its own key, and after eleven of them compacts the
//! document into a snapshot and deletes them. As files, every change was a new inode, a
//! rename and two fsyncs (the file, then its folder), and every compaction deleted eleven
//! inodes. On an ext4 without a journal (this machine's) creating a file scans past every
//! inode deleted in the last few seconds: in the sync benchmark's latency run (30 nodes) the
//! file creation alone was half the CPU of the threads doing storage. An append is one
//! write and one `fdatasync`.
//!
//! # Record format
//!
//! ```text
//! magic    8 bytes  "CGLOGRC1"
//! key len  4 bytes  u32, little-endian
//! length   8 bytes  payload length, u64 little-endian
//! checksum 32 bytes BLAKE2s-256 of (full key length as u64 LE, full key as "a/b/c", payload),
//!                   as for a stored file (`storage.rs`); the full key starts with the
//!                   document's component, so a record copied into another log fails
//! key      the key below the document, each component as `layout::encode_component`, '/'-joined
//! payload  `length` bytes, exactly what samod stored
//! ```
//!
//! # Writing and deleting
//!
//! A put appends its record at the log's end, then waits for an `fdatasync` that started after
//! its write, outside the log's lock ([`Handle::sync`]: one flush at a time, and one flush
//! covers every record written before it began). A flush that fails fails every put waiting
//! on that open file, and the file is opened afresh for the next put (Linux reports a
//! write-back error once per open file, so a second flush on the same one could wrongly
//! succeed). A write that fails is cut off again if it can be, so the next record follows the
//! last whole one (if not, the leftover shows as damage on the next start: nothing is lost).
//! The log's folder entry is fsynced once by each process before it counts anything stored.
//!
//! Deletes (samod's, after a snapshot that supersedes the changes is on disk) only forget the
//! record, unsynced: a forgotten record that comes back after a crash is a change the snapshot
//! already holds. When no record is live the log is emptied (also unsynced); when most of a
//! large log is dead it is rewritten with the live ones (write-temp + fsync + rename + fsync
//! of the folder), and its index changes only once the new file is in place.
//!
//! # Reading and damage
//!
//! The whole log is read and checked once, when the workshop is first touched. A record that
//! fails (header, length, checksum, or for a change, that it parses as Automerge) is damage:
//! the record (by the length its header gives, if the header is believable; else the bytes up
//! to the next magic) is copied into the workshop's `damaged/` folder, reported, and the log
//! is rewritten without it; every record before and after still loads.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::io::Write;
use std::ops::Range;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::durable::{create_new_private, ensure_dir, parent, sync_dir, temp_path, FILE_MODE};
use crate::health::Damage;
use crate::layout::{decode_component, encode_component};
use crate::storage::checksum;

const MAGIC: [u8; 8] = *b"CGLOGRC1";
const HEADER_LEN: usize = 8 + 4 + 8 + 32;
/// Longer keys are damage (samod's are about 80 bytes).
const MAX_KEY_LEN: usize = 4096;
/// A log with this many dead bytes, and more dead than live, is rewritten.
const REWRITE_DEAD: u64 = 1 << 20;

/// One live record.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Where the record starts, and its whole length.
    at: u64,
    len: u64,
    /// Where its payload starts, and its length.
    payload_at: u64,
    payload_len: u64,
}

/// A part of the log that didn't check out, found on opening.
#[derive(Debug)]
pub(crate) struct DamagedPart {
    pub(crate) at: u64,
    pub(crate) bytes: Vec<u8>,
    pub(crate) damage: Damage,
}

/// One document's change log (see the module docs). Not thread-safe by itself: the storage
/// keeps each behind a mutex.
#[derive(Debug)]
pub(crate) struct ChangeLog {
    path: PathBuf,
    /// The document's key component, which checksums include.
    first: String,
    file: Option<Arc<Handle>>,
    /// Whether this process has fsynced the log's folder entry.
    dir_synced: bool,
    /// Where the next record goes: the end of the last whole record.
    end: u64,
    /// Live records by key below the document (raw components, '/'-joined).
    live: HashMap<Vec<String>, Entry>,
    live_bytes: u64,
    dead_bytes: u64,
}

/// A record's bytes.
fn record(first: &str, rest: &[String], payload: &[u8]) -> Vec<u8> {
    let stored_key = rest.iter().map(|p| encode_component(p)).collect::<Vec<_>>().join("/");
    let mut out = Vec::with_capacity(HEADER_LEN + stored_key.len() + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(stored_key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&checksum(&full_key(first, rest), payload));
    out.extend_from_slice(stored_key.as_bytes());
    out.extend_from_slice(payload);
    out
}

fn full_key(first: &str, rest: &[String]) -> String {
    let mut key = first.to_owned();
    for part in rest {
        key.push('/');
        key.push_str(part);
    }
    key
}

/// A record that checks out: its key, the range of the whole record and of its payload.
struct Parsed {
    key: Vec<String>,
    record: Range<usize>,
    payload: Range<usize>,
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(bytes);
    u32::from_le_bytes(b)
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

/// What is wrong with the bytes at some place: the damage, and where the record there ends
/// if its header is believable (its contents changed, not its framing).
struct Bad(Damage, Option<usize>);

impl From<Damage> for Bad {
    fn from(damage: Damage) -> Self {
        Bad(damage, None)
    }
}

/// The record at `at`, or what is wrong with it.
fn parse_at(first: &str, bytes: &[u8], at: usize) -> Result<Parsed, Bad> {
    let rest = &bytes[at..];
    let Some(header) = rest.get(..HEADER_LEN) else {
        let n = rest.len().min(MAGIC.len());
        return Err(if rest[..n] == MAGIC[..n] { Damage::Truncated } else { Damage::Garbled }.into());
    };
    if header[..8] != MAGIC {
        return Err(Damage::Garbled.into());
    }
    let key_len = le_u32(&header[8..12]) as usize;
    let payload_len = le_u64(&header[12..20]);
    if key_len == 0 || key_len > MAX_KEY_LEN {
        return Err(Damage::Garbled.into());
    }
    let body = (rest.len() - HEADER_LEN) as u64;
    // (Never `key_len + payload_len`: a damaged length may be near u64::MAX.)
    if key_len as u64 > body || payload_len > body - key_len as u64 {
        return Err(Damage::Truncated.into());
    }
    let key_at = at + HEADER_LEN;
    let payload_at = key_at + key_len;
    let end = payload_at + payload_len as usize;
    let key = std::str::from_utf8(&bytes[key_at..payload_at])
        .ok()
        .and_then(|k| k.split('/').map(decode_component).collect::<Option<Vec<_>>>())
        .ok_or(Bad(Damage::ChecksumMismatch, Some(end)))?;
    if checksum(&full_key(first, &key), &bytes[payload_at..end])[..] != header[20..52] {
        return Err(Bad(Damage::ChecksumMismatch, Some(end)));
    }
    Ok(Parsed { key, record: at..end, payload: payload_at..end })
}

/// Where the next record may start after `from` (the next magic), or the end.
fn next_magic(bytes: &[u8], from: usize) -> usize {
    let found = bytes.get(from..).and_then(|b| b.windows(MAGIC.len()).position(|w| w == MAGIC));
    found.map_or(bytes.len(), |offset| from + offset)
}

/// The log's open file, with what has been written to it and flushed.
#[derive(Debug)]
pub(crate) struct Handle {
    file: File,
    /// The end of the last record written through this handle.
    written: AtomicU64,
    synced: Mutex<Synced>,
}

#[derive(Debug)]
struct Synced {
    /// Everything before this offset is on disk.
    to: u64,
    /// A flush on this open file failed: nothing more can be trusted to it.
    failed: bool,
}

impl Handle {
    /// Returns once everything up to `end` (the end of a record written through this handle)
    /// is on disk: by a flush that began after it was written, this caller's or another's.
    pub(crate) fn sync(&self, end: u64) -> io::Result<()> {
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        if synced.failed {
            return Err(io::Error::other("an earlier flush of the change log failed"));
        }
        if synced.to >= end {
            return Ok(());
        }
        // Every record written before this load is covered by the flush that follows.
        let target = self.written.load(Ordering::SeqCst);
        match self.file.sync_data() {
            Ok(()) => {
                synced.to = synced.to.max(target);
                Ok(())
            }
            Err(e) => {
                synced.failed = true;
                Err(e)
            }
        }
    }
}

impl ChangeLog {
    /// Reads and checks the log at `path` (absent is empty). `valid(key, payload)` says
    /// whether a record's payload is what its key promises. Damaged parts are returned, and
    /// the log is rewritten without them (the caller saves them first: see
    /// [`ChangeLog::drop_damaged`]).
    pub(crate) fn open(
        path: PathBuf,
        first: String,
        valid: impl Fn(&[String], &[u8]) -> bool,
    ) -> io::Result<(ChangeLog, Vec<DamagedPart>)> {
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut log = ChangeLog {
            path,
            first,
            file: None,
            dir_synced: false,
            end: 0,
            live: HashMap::new(),
            live_bytes: 0,
            dead_bytes: 0,
        };
        let mut damaged = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            match parse_at(&log.first, &bytes, at) {
                Ok(parsed) if valid(&parsed.key, &bytes[parsed.payload.clone()]) => {
                    let entry = Entry {
                        at: parsed.record.start as u64,
                        len: parsed.record.len() as u64,
                        payload_at: parsed.payload.start as u64,
                        payload_len: parsed.payload.len() as u64,
                    };
                    log.insert(parsed.key, entry);
                    at = parsed.record.end;
                }
                Ok(parsed) => {
                    damaged.push(DamagedPart {
                        at: at as u64,
                        bytes: bytes[parsed.record.clone()].to_vec(),
                        damage: Damage::NotAutomerge,
                    });
                    at = parsed.record.end;
                }
                Err(Bad(damage, end)) => {
                    // A record whose contents changed is skipped by its own length, unless
                    // another record starts sooner; otherwise the damaged part runs to the next
                    // magic. (Whatever follows is parsed again: more damage is its own part.)
                    let magic = next_magic(&bytes, at + 1);
                    let next = end.map_or(magic, |end| end.min(magic));
                    damaged.push(DamagedPart { at: at as u64, bytes: bytes[at..next].to_vec(), damage });
                    at = next;
                }
            }
        }
        log.end = bytes.len() as u64;
        Ok((log, damaged))
    }

    /// Rewrites the log with only its live records: after its damaged parts were saved
    /// elsewhere, or when most of it is dead. The index changes only once the new file has
    /// replaced the old one; a failure before that leaves both as they were.
    pub(crate) fn rewrite(&mut self) -> io::Result<()> {
        let old = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut entries: Vec<(&Vec<String>, &Entry)> = self.live.iter().collect();
        entries.sort_by_key(|(_, e)| e.at);
        let mut bytes = Vec::with_capacity(self.live_bytes as usize);
        let mut live = HashMap::with_capacity(entries.len());
        for (key, entry) in entries {
            let record = old
                .get(entry.at as usize..(entry.at + entry.len) as usize)
                .ok_or_else(|| io::Error::other("the change log is shorter than its index"))?;
            let at = bytes.len() as u64;
            bytes.extend_from_slice(record);
            live.insert(key.clone(), Entry { at, payload_at: at + (entry.payload_at - entry.at), ..*entry });
        }
        let dir = parent(&self.path)?;
        let tmp = temp_path(&self.path)?;
        let written = (|| {
            let mut file = create_new_private(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        // The new file is in place: from here the index must describe it, whatever happens.
        self.file = None;
        self.dir_synced = false;
        self.end = bytes.len() as u64;
        self.live = live;
        self.dead_bytes = 0;
        sync_dir(dir)?;
        self.dir_synced = true;
        Ok(())
    }

    fn insert(&mut self, key: Vec<String>, entry: Entry) {
        self.live_bytes += entry.len;
        if let Some(old) = self.live.insert(key, entry) {
            self.live_bytes -= old.len;
            self.dead_bytes += old.len;
        }
    }

    fn file(&mut self) -> io::Result<Arc<Handle>> {
        if let Some(handle) = &self.file {
            return Ok(handle.clone());
        }
        ensure_dir(parent(&self.path)?)?;
        let file = OpenOptions::new().read(true).write(true).create(true).mode(FILE_MODE).open(&self.path)?;
        if !self.dir_synced {
            sync_dir(parent(&self.path)?)?;
            self.dir_synced = true;
        }
        let handle = Arc::new(Handle {
            file,
            written: AtomicU64::new(self.end),
            synced: Mutex::new(Synced { to: 0, failed: false }),
        });
        self.file = Some(handle.clone());
        Ok(handle)
    }

    /// Forgets an open file a flush failed on, so the next put opens the log afresh.
    pub(crate) fn reopen_after(&mut self, failed: &Arc<Handle>) {
        if self.file.as_ref().is_some_and(|h| Arc::ptr_eq(h, failed)) {
            self.file = None;
        }
    }

    /// Appends a record. The value counts as stored only once `handle.sync(end)` succeeds
    /// for the returned handle and end.
    pub(crate) fn append(&mut self, rest: &[String], payload: &[u8]) -> io::Result<(Arc<Handle>, u64)> {
        let bytes = record(&self.first, rest, payload);
        let key_len = bytes.len() - HEADER_LEN - payload.len();
        if key_len == 0 || key_len > MAX_KEY_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a change log key must be 1 to 4096 bytes",
            ));
        }
        let handle = self.file()?;
        if let Err(e) = handle.file.write_all_at(&bytes, self.end) {
            // Cut off whatever part was written, so the next record follows the last whole one.
            if let Err(cut) = handle.file.set_len(self.end) {
                tracing::warn!(error = %cut, "couldn't cut off a failed write to the change log");
            }
            return Err(e);
        }
        let at = self.end;
        let entry = Entry {
            at,
            len: bytes.len() as u64,
            payload_at: at + (HEADER_LEN + key_len) as u64,
            payload_len: payload.len() as u64,
        };
        self.end += entry.len;
        handle.written.fetch_max(self.end, Ordering::SeqCst);
        self.insert(rest.to_vec(), entry);
        Ok((handle, self.end))
    }

    /// Forgets a record; empties or rewrites the log when that leaves it all or mostly dead.
    /// Returns whether the key was in the log.
    pub(crate) fn delete(&mut self, rest: &[String]) -> io::Result<bool> {
        let Some(entry) = self.live.remove(rest) else { return Ok(false) };
        self.live_bytes -= entry.len;
        self.dead_bytes += entry.len;
        if self.live.is_empty() {
            if self.end > 0 {
                self.file()?.file.set_len(0)?;
                // The next record goes through a new handle: this one's flushed offset
                // describes the file before it was emptied, and would let the records written
                // at the same offsets now count as flushed without a flush.
                self.file = None;
            }
            self.end = 0;
            self.live_bytes = 0;
            self.dead_bytes = 0;
        } else if self.dead_bytes >= REWRITE_DEAD && self.dead_bytes > self.live_bytes {
            self.rewrite()?;
        }
        Ok(true)
    }

    /// One value.
    pub(crate) fn read(&mut self, rest: &[String]) -> io::Result<Option<Vec<u8>>> {
        let Some(entry) = self.live.get(rest).copied() else { return Ok(None) };
        let mut payload = vec![0; entry.payload_len as usize];
        self.file()?.file.read_exact_at(&mut payload, entry.payload_at)?;
        Ok(Some(payload))
    }

    /// Every value whose key below the document starts with `prefix`.
    pub(crate) fn read_all(&mut self, prefix: &[String]) -> io::Result<Vec<(Vec<String>, Vec<u8>)>> {
        let mut entries: Vec<(&Vec<String>, &Entry)> =
            self.live.iter().filter(|(k, _)| k.starts_with(prefix)).collect();
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        entries.sort_by_key(|(_, e)| e.at);
        let bytes = fs::read(&self.path)?;
        entries
            .into_iter()
            .map(|(key, e)| {
                let payload = bytes
                    .get(e.payload_at as usize..(e.payload_at + e.payload_len) as usize)
                    .ok_or_else(|| io::Error::other("the change log is shorter than its index"))?;
                Ok((key.clone(), payload.to_vec()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn key(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    fn open(path: &Path) -> (ChangeLog, Vec<DamagedPart>) {
        ChangeLog::open(path.to_owned(), "doc".into(), |_, payload| payload != b"bad").unwrap()
    }

    /// An empty log in a fresh folder (kept while the `TempDir` lives).
    fn new_log() -> (tempfile::TempDir, PathBuf, ChangeLog) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changes.log");
        let (log, damaged) = open(&path);
        assert!(damaged.is_empty());
        (dir, path, log)
    }

    #[test]
    fn records_written_after_the_log_was_emptied_are_flushed_again() {
        let (_dir, _path, mut log) = new_log();
        let mut last = 0;
        for i in 0..5 {
            let (handle, end) = log.append(&key(&["incremental", &format!("h{i}")]), &[7; 100]).unwrap();
            handle.sync(end).unwrap();
            last = end;
        }
        for i in 0..5 {
            assert!(log.delete(&key(&["incremental", &format!("h{i}")])).unwrap());
        }
        // The log is empty; a new record lands at offsets flushed before, and must still wait
        // for a flush of its own.
        let (handle, end) = log.append(&key(&["incremental", "new"]), &[8; 100]).unwrap();
        assert!(end < last);
        let flushed = handle.synced.lock().unwrap().to;
        assert!(flushed < end, "the new record counted as flushed ({flushed} ≥ {end}) before any flush");
        handle.sync(end).unwrap();
        assert!(handle.synced.lock().unwrap().to >= end);
    }

    #[test]
    fn records_round_trip_and_deletes_empty_the_log() {
        let (_dir, path, mut log) = new_log();
        for i in 0..5 {
            let (handle, end) = log
                .append(&key(&["incremental", &format!("h{i}")]), format!("change {i}").as_bytes())
                .unwrap();
            handle.sync(end).unwrap();
        }
        log.append(&key(&["incremental", "odd/../name"]), b"x").unwrap();
        assert_eq!(log.read(&key(&["incremental", "h3"])).unwrap().as_deref(), Some(&b"change 3"[..]));

        let (mut again, damaged) = open(&path);
        assert!(damaged.is_empty());
        let all = again.read_all(&key(&["incremental"])).unwrap();
        assert_eq!(all.len(), 6);
        assert_eq!(all[0], (key(&["incremental", "h0"]), b"change 0".to_vec()));
        assert_eq!(all[5], (key(&["incremental", "odd/../name"]), b"x".to_vec()));
        assert!(again.read_all(&key(&["snapshot"])).unwrap().is_empty());

        for i in 0..5 {
            assert!(again.delete(&key(&["incremental", &format!("h{i}")])).unwrap());
        }
        assert!(!again.delete(&key(&["incremental", "h0"])).unwrap());
        assert!(fs::metadata(&path).unwrap().len() > 0, "one record is still live");
        assert!(again.delete(&key(&["incremental", "odd/../name"])).unwrap());
        assert_eq!(fs::metadata(&path).unwrap().len(), 0, "nothing live: emptied");
        again.append(&key(&["incremental", "h9"]), b"after").unwrap();
        let (mut third, _) = open(&path);
        assert_eq!(third.read_all(&[]).unwrap(), vec![(key(&["incremental", "h9"]), b"after".to_vec())]);
    }

    #[test]
    fn a_mostly_dead_log_is_rewritten_with_its_live_records() {
        let (_dir, path, mut log) = new_log();
        let big = vec![7u8; 64 * 1024];
        for i in 0..20 {
            log.append(&key(&["incremental", &format!("h{i}")]), &big).unwrap();
        }
        log.append(&key(&["incremental", "keep"]), b"kept").unwrap();
        let before = fs::metadata(&path).unwrap().len();
        for i in 0..20 {
            log.delete(&key(&["incremental", &format!("h{i}")])).unwrap();
        }
        let after = fs::metadata(&path).unwrap().len();
        // Rewritten once more than 1 MiB was dead: the four deletes after that are still there.
        assert!(after < before / 4, "{after} of {before}");
        assert_eq!(log.read(&key(&["incremental", "keep"])).unwrap().as_deref(), Some(&b"kept"[..]));
        log.append(&key(&["incremental", "next"]), b"next").unwrap();
        let (mut again, damaged) = open(&path);
        assert!(damaged.is_empty());
        // Deletes aren't written down: the four deleted after the rewrite come back, as
        // changes a snapshot already holds (samod deletes them again at its next compaction).
        let mut names: Vec<String> =
            again.read_all(&[]).unwrap().into_iter().map(|(k, _)| k[1].clone()).collect();
        names.sort();
        assert_eq!(names, ["h16", "h17", "h18", "h19", "keep", "next"]);
    }

    #[test]
    fn damage_anywhere_loses_only_the_damaged_records() {
        let (_dir, path, mut log) = new_log();
        let mut starts = Vec::new();
        for i in 0..6 {
            starts.push(fs::metadata(&path).map_or(0, |m| m.len()) as usize);
            let payload = if i == 4 { b"bad".to_vec() } else { format!("change {i}").into_bytes() };
            log.append(&key(&["incremental", &format!("h{i}")]), &payload).unwrap();
        }
        let pristine = fs::read(&path).unwrap();
        let ends: Vec<usize> = starts.iter().skip(1).copied().chain([pristine.len()]).collect();

        // Every single bit flip loses at most the record it is in, and is reported.
        for bit in 0..pristine.len() * 8 {
            let mut bytes = pristine.clone();
            bytes[bit / 8] ^= 1 << (bit % 8);
            fs::write(&path, &bytes).unwrap();
            let (mut log, damaged) = open(&path);
            let hit = starts.iter().rposition(|&s| s <= bit / 8).unwrap();
            let mut names: Vec<String> =
                log.read_all(&[]).unwrap().into_iter().map(|(k, _)| k[1].clone()).collect();
            names.sort();
            let expected: Vec<String> =
                (0..6).filter(|&i| i != hit && i != 4).map(|i| format!("h{i}")).collect();
            assert_eq!(names, expected, "bit {bit}");
            let lost: usize = damaged.iter().map(|d| d.bytes.len()).sum();
            let expected_lost = (ends[hit] - starts[hit]) + if hit == 4 { 0 } else { ends[4] - starts[4] };
            assert_eq!(lost, expected_lost, "bit {bit}: only the damaged record is set aside");
            assert_eq!(damaged.iter().any(|d| d.damage == Damage::NotAutomerge), hit != 4, "bit {bit}");
        }

        // Cut short in the last record: the rest loads, the tail is reported as truncated.
        fs::write(&path, &pristine[..pristine.len() - 3]).unwrap();
        let (mut log, damaged) = open(&path);
        assert_eq!(log.read_all(&[]).unwrap().len(), 4);
        assert!(damaged.iter().any(|d| d.damage == Damage::Truncated && d.at == starts[5] as u64));

        // Garbage in the middle: everything else loads.
        let mut bytes = pristine[..starts[2]].to_vec();
        bytes.extend_from_slice(&[0x55; 100]);
        bytes.extend_from_slice(&pristine[starts[2]..]);
        fs::write(&path, &bytes).unwrap();
        let (mut log, damaged) = open(&path);
        assert_eq!(log.read_all(&[]).unwrap().len(), 5);
        assert!(damaged.iter().any(|d| d.damage == Damage::Garbled && d.bytes.len() == 100));

        // After a rewrite the damage is gone and appends continue.
        log.rewrite().unwrap();
        log.append(&key(&["incremental", "h7"]), b"change 7").unwrap();
        let (mut log, damaged) = open(&path);
        assert!(damaged.is_empty());
        assert_eq!(log.read_all(&[]).unwrap().len(), 6);
    }

    #[test]
    fn lengths_near_the_largest_number_are_damage_not_a_panic() {
        let (_dir, path, mut log) = new_log();
        log.append(&key(&["incremental", "h0"]), b"change").unwrap();
        let good = fs::read(&path).unwrap();
        for (at, value) in [(12, u64::MAX), (12, u64::MAX - 5), (12, u64::MAX / 2)] {
            let mut bytes = good.clone();
            bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
            fs::write(&path, &bytes).unwrap();
            let (mut log, damaged) = open(&path);
            assert!(log.read_all(&[]).unwrap().is_empty());
            assert_eq!(damaged.len(), 1, "{value:#x}");
        }
        let mut log = ChangeLog::open(path.clone(), "doc".into(), |_, _| true).unwrap().0;
        let long = "k".repeat(MAX_KEY_LEN + 1);
        assert!(
            log.append(&key(&["incremental", &long]), b"x").is_err(),
            "keys that can't be read back are refused"
        );
    }

    #[test]
    fn a_flush_covers_every_record_written_before_it_began() {
        let (_dir, path, mut log) = new_log();
        let (first, end_a) = log.append(&key(&["incremental", "a"]), b"one").unwrap();
        let (second, end_b) = log.append(&key(&["incremental", "b"]), b"two").unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        second.sync(end_b).unwrap();
        assert_eq!(first.synced.lock().unwrap().to, end_b);
        first.sync(end_a).unwrap();
        // A failed flush fails every later one on that open file; the log then opens afresh.
        first.synced.lock().unwrap().failed = true;
        let (same, end_c) = log.append(&key(&["incremental", "c"]), b"three").unwrap();
        assert!(same.sync(end_c).is_err());
        log.reopen_after(&same);
        let (fresh, end_d) = log.append(&key(&["incremental", "d"]), b"four").unwrap();
        assert!(!Arc::ptr_eq(&same, &fresh));
        fresh.sync(end_d).unwrap();
        assert_eq!(open(&path).0.read_all(&[]).unwrap().len(), 4);
    }

    #[test]
    fn a_record_from_another_documents_log_fails_its_checksum() {
        let (_dir, path, mut log) = new_log();
        log.append(&key(&["incremental", "h0"]), b"change").unwrap();
        let (_, damaged) = ChangeLog::open(path.clone(), "other-doc".into(), |_, _| true).unwrap();
        assert_eq!(damaged.len(), 1);
        assert_eq!(damaged[0].damage, Damage::ChecksumMismatch);
    }
}
