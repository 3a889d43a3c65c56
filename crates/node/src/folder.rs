//! Carrying on from home through a shared folder (OneDrive, Nextcloud, Syncthing, a USB
//! stick): each laptop appends its new changes, sealed, to its own file in the folder, and
//! merges everyone else's. The folder only ever holds ciphertext
//! (`commonground_protocol::folder`, where the record format is specified).
//!
//! ```text
//! <folder>/commonground-<16 hex: BLAKE2s of the workshop id>/
//!   <8 hex: this laptop's key fingerprint>.e<epoch>.cgsync   one file per laptop and key epoch
//! ```
//!
//! Nothing is ever rewritten in place except a laptop's own file, and that only by writing a
//! whole new copy beside it and renaming it over (compaction), so a folder sync tool never
//! sees a torn file from us that it could mistake for the latest. Other laptops' files may
//! still arrive half-written; a record that isn't all there yet is read again next time.
//!
//! What this laptop has written, and how far it has read each file, is kept in memory
//! ([`FolderSync`]); after a restart everything is read again from the start (merging a change
//! twice changes nothing), and this laptop's own file is compacted to one record on its
//! first write.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use blake2::{Blake2s256, Digest};
use commonground_protocol::{folder_key, next_record, seal_record, NextRecord};
use commonground_workshop::{ChangeHash, WorkshopId};
use rand::TryRngCore;
use zeroize::Zeroizing;

use crate::durable::{ensure_dir, is_hidden, write_atomic, FILE_MODE};
use crate::error::{NodeError, Result};
use crate::node::Node;
use crate::repo::off_worker;

/// The file name ending of change files.
const EXTENSION: &str = "cgsync";
/// After this many records, this laptop's own file is compacted into one.
const COMPACT_AFTER: usize = 64;
/// Files larger than this are not read (a folder is shared with other software).
const MAX_FILE: u64 = 512 * 1024 * 1024;

/// One workshop's sync through one folder: what has been written and read so far.
#[derive(Debug)]
pub struct FolderSync {
    workshop: WorkshopId,
    dir: PathBuf,
    /// Heads of everything already in this laptop's file (for this epoch).
    written: Option<(u32, Vec<ChangeHash>)>,
    /// Records in this laptop's file, and its length as this laptop last left it.
    records: usize,
    own_len: u64,
    /// Per other file: bytes read (complete records), and the file's length when read, to
    /// notice a compaction (the file got shorter).
    read: HashMap<String, u64>,
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FolderReport {
    /// Records this laptop wrote (0 or 1).
    pub written: usize,
    /// Records merged from other laptops' files.
    pub merged: usize,
    /// Records that didn't open (another key epoch, or damaged) and were skipped.
    pub unreadable: usize,
    /// Files that aren't change files at all, or were too big, and were left alone.
    pub ignored: usize,
}

impl FolderSync {
    /// Syncing `workshop` through `folder` (the folder a person chose; the workshop's own
    /// folder is made inside it).
    pub fn new(workshop: WorkshopId, folder: &Path) -> Self {
        let digest = Blake2s256::digest(workshop.to_string().as_bytes());
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            workshop,
            dir: folder.join(format!("commonground-{name}")),
            written: None,
            records: 0,
            own_len: 0,
            read: HashMap::new(),
        }
    }

    /// The workshop's folder inside the chosen one.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Node {
    /// Syncs a workshop through a shared folder once: appends this laptop's changes not yet
    /// there (sealed), then merges every complete record in the other laptops' files. Changes
    /// merged reach this laptop's person as view events, like changes from a laptop in the room.
    pub async fn sync_folder(&self, sync: &mut FolderSync) -> Result<FolderReport> {
        let id = sync.workshop;
        let workshop = self.workshop(id).await?;
        let secrets = self.workshop_keys(id).ok_or(NodeError::WorkshopNotFound(id))?;
        let me = format!("{}.e{}.{EXTENSION}", &self.device_key()[..8], secrets.epoch);
        let mut report = FolderReport::default();
        ensure_dir(&sync.dir).map_err(|e| NodeError::io(&sync.dir, e))?;

        // Write: everything since what this file already holds (all of it, compacted, on the
        // first write of a run or a new epoch, or once the file has grown long).
        let key = folder_key(&secrets.secret, secrets.epoch);
        let path = sync.dir.join(&me);
        // Something outside may have replaced or removed this laptop's file (a sync tool's
        // conflict copy, a person tidying up): then it is written whole again.
        let intact = fs::metadata(&path).map(|m| m.len() == sync.own_len).unwrap_or(false);
        let since = match &sync.written {
            Some((epoch, heads)) if *epoch == secrets.epoch && sync.records < COMPACT_AFTER && intact => {
                Some(heads.clone())
            }
            _ => None,
        };
        let compacting = since.is_none();
        let doc = workshop.doc.clone();
        let (bytes, heads) = doc
            .read_async(move |am| {
                let heads = am.get_heads();
                match since {
                    Some(since) if since == heads => (Vec::new(), heads),
                    Some(since) => (am.save_after(&since), heads),
                    None => (am.save(), heads),
                }
            })
            .await?;
        if !bytes.is_empty() {
            let record = seal(&key, &me, &bytes).map_err(|e| NodeError::io(&path, e))?;
            if compacting {
                write_atomic(&path, &record).map_err(|e| NodeError::io(&path, e))?;
                sync.records = 1;
                sync.own_len = record.len() as u64;
            } else {
                append(&path, &record).map_err(|e| NodeError::io(&path, e))?;
                sync.records += 1;
                sync.own_len += record.len() as u64;
            }
            report.written = 1;
        }
        sync.written = Some((secrets.epoch, heads));
        sync.read.insert(me.clone(), u64::MAX);

        // Read: every other laptop's file, for this epoch and the one before.
        let mut keys: Vec<(u32, Zeroizing<[u8; 32]>)> = vec![(secrets.epoch, key)];
        if let Some((previous, epoch)) = &secrets.previous {
            keys.push((*epoch, folder_key(previous, *epoch)));
        }
        let entries = fs::read_dir(&sync.dir).map_err(|e| NodeError::io(&sync.dir, e))?;
        let mut files: Vec<(String, u32)> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == me {
                continue;
            }
            match epoch_of(&name) {
                Some(epoch) => files.push((name, epoch)),
                // Half-written files of ours (compaction) and other software's hidden files.
                None if is_hidden(&name) => {}
                None => report.ignored += 1,
            }
        }
        files.sort();
        for (name, epoch) in files {
            let Some((_, key)) = keys.iter().find(|(e, _)| *e == epoch) else { continue };
            let path = sync.dir.join(&name);
            let offset = sync.read.get(&name).copied().unwrap_or(0);
            let Ok((bytes, restart)) = read_from(&path, offset) else { continue };
            let mut at = if restart { 0 } else { offset as usize };
            let mut rest = &bytes[..];
            let mut merged = Vec::new();
            loop {
                match next_record(key, &name, rest) {
                    Ok(NextRecord::Record { body, len }) => {
                        merged.push(body);
                        rest = &rest[len..];
                        at += len;
                    }
                    Ok(NextRecord::Unreadable { len }) => {
                        report.unreadable += 1;
                        rest = &rest[len..];
                        at += len;
                    }
                    Ok(NextRecord::Incomplete) => break,
                    Err(e) => {
                        tracing::warn!(file = %name, error = %e, "a file in the shared folder isn't a change file; leaving it alone");
                        report.ignored += 1;
                        at = usize::MAX;
                        break;
                    }
                }
            }
            if at == usize::MAX {
                sync.read.insert(name, u64::MAX);
                continue;
            }
            if !merged.is_empty() {
                let count = merged.len();
                let doc = workshop.doc.clone();
                let (failed, ticket) = off_worker(|| {
                    doc.edit(|am| merged.iter().filter(|body| am.load_incremental(body).is_err()).count())
                });
                if failed > 0 {
                    tracing::warn!(file = %name, failed, "changes in the shared folder couldn't be merged");
                }
                if let Some(ticket) = ticket {
                    ticket.wait(std::time::Duration::from_secs(30)).await?;
                }
                report.merged += count - failed;
                report.unreadable += failed;
            }
            sync.read.insert(name, at as u64);
        }
        if report.written + report.merged > 0 {
            tracing::info!(workshop = %id, written = report.written, merged = report.merged, "synced through the shared folder");
        }
        Ok(report)
    }
}

fn seal(key: &[u8; 32], file: &str, body: &[u8]) -> io::Result<Vec<u8>> {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.try_fill_bytes(&mut nonce).map_err(io::Error::other)?;
    seal_record(key, file, nonce, body).map_err(io::Error::other)
}

/// `<8 hex>.e<epoch>.cgsync` → the epoch.
fn epoch_of(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(&format!(".{EXTENSION}"))?;
    let (device, epoch) = stem.split_once(".e")?;
    (device.len() == 8 && device.bytes().all(|b| b.is_ascii_hexdigit())).then_some(())?;
    epoch.parse().ok()
}

/// The file's bytes from `offset`, or from the start if it is now shorter than that (it was
/// compacted): `(bytes, restarted)`.
fn read_from(path: &Path, offset: u64) -> io::Result<(Vec<u8>, bool)> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len > MAX_FILE || offset == u64::MAX {
        return Ok((Vec::new(), false));
    }
    let (start, restart) = if len < offset { (0, true) } else { (offset, false) };
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(len - start).read_to_end(&mut bytes)?;
    Ok((bytes, restart))
}

fn append(path: &Path, record: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).mode(FILE_MODE).open(path)?;
    file.write_all(record)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_change_file_names_are_read() {
        assert_eq!(epoch_of("0a1b2c3d.e3.cgsync"), Some(3));
        for other in
            ["notes.txt", "0a1b2c3d.cgsync", "xyz.e1.cgsync", "0a1b2c3d.e1.cgsync.tmp", "0a1b2c3d.eX.cgsync"]
        {
            assert_eq!(epoch_of(other), None, "{other}");
        }
    }

    #[test]
    fn a_compacted_file_is_read_again_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_from(&path, 4).unwrap(), (b"456789".to_vec(), false));
        fs::write(&path, b"012").unwrap();
        assert_eq!(read_from(&path, 4).unwrap(), (b"012".to_vec(), true));
    }
}
