//! Damaged stored files — snapshots, and records of the change log — are detected, set aside
//! (never deleted) and reported, and every intact change still loads.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use automerge::ChangeHash;
use commonground_api::{Local, WorkshopService};
use commonground_node::{Damage, Node, NodeError};
use commonground_workshop::{random_actor, ParticipantId, PromptId, Timestamp, WorkshopId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use support::*;

/// A change log record's header: magic, key length, payload length, checksum (`changelog.rs`).
const RECORD_HEADER: usize = 8 + 4 + 8 + 32;

/// The change log's whole records: where each is, where its payload starts, and its key.
fn log_records(path: &Path) -> Vec<(Range<usize>, usize, String)> {
    let bytes = fs::read(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + RECORD_HEADER) {
        assert_eq!(&header[..8], b"CGLOGRC1");
        let key_len = u32::from_le_bytes(header[8..12].try_into().unwrap()) as usize;
        let len = u64::from_le_bytes(header[12..20].try_into().unwrap()) as usize;
        let payload = at + RECORD_HEADER + key_len;
        let Some(key) = bytes.get(at + RECORD_HEADER..payload) else { break };
        if bytes.len() < payload + len {
            break; // still being written
        }
        out.push((at..payload + len, payload, String::from_utf8(key.to_vec()).unwrap()));
        at = payload + len;
    }
    out
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

async fn node_changes(node: &Node, id: WorkshopId) -> BTreeSet<ChangeHash> {
    node.with_service(id, |s| s.workshop().automerge().get_changes(&[]).iter().map(|c| c.hash()).collect())
        .await
        .unwrap()
}

/// Merges one note each from `n` replicas that forked from the node's current document, so
/// that no change depends on another: damage to one loses only that one.
async fn merge_independent_notes(
    node: &Node,
    id: WorkshopId,
    me: ParticipantId,
    prompt: PromptId,
    rng: &mut ChaCha8Rng,
    n: usize,
) {
    let base = node.with_service(id, |s| s.workshop().clone()).await.unwrap();
    let mut replicas: Vec<_> = (0..n)
        .map(|i| {
            let local = Local { participant: Some(me), ..Local::default() };
            let mut service = WorkshopService::new(base.fork(random_actor(rng)), local);
            let command = add_note_command(prompt, &format!("From replica {i}"), false);
            service.dispatch(Timestamp(1_700_000_000_000), rng, command).unwrap();
            service.workshop().clone()
        })
        .collect();
    node.with_service(id, |s| {
        for replica in &mut replicas {
            s.workshop_mut().merge(replica).unwrap();
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_files_are_set_aside_and_everything_intact_loads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut rng = ChaCha8Rng::seed_from_u64(7);

    let node = Node::open(&data).await.unwrap();
    let id = node.create_workshop(new_workshop()).await.unwrap();
    let me = snapshot(&node, id).await.me.unwrap();
    let prompt = first_prompt(&node, id).await;
    for i in 0..25 {
        add_note(&node, id, prompt, &format!("Note {i}"), i % 4 == 0).await;
    }
    // Many changes at once make samod compact the document into a snapshot.
    let mut batch_rng = ChaCha8Rng::seed_from_u64(8);
    node.with_service(id, |s| {
        for i in 0..12 {
            s.dispatch(
                Timestamp(1_700_000_000_000),
                &mut batch_rng,
                add_note_command(prompt, &format!("Batch {i}"), false),
            )
            .unwrap();
        }
    })
    .await
    .unwrap();

    // Add independent changes until at least three are the change log's newest records (samod
    // may fold a round into a snapshot if it is compacting at that moment).
    let workshop_dir = data.join("workshops").join(id.to_string());
    let log = workshop_dir.join("changes.log");
    let mut everything = BTreeSet::new();
    let mut targets = Vec::new();
    node.close().await;
    for _round in 0..6 {
        let node = Node::open(&data).await.unwrap();
        node.open_workshop(id).await.unwrap();
        merge_independent_notes(&node, id, me, prompt, &mut rng, 4).await;
        let heads: BTreeSet<String> = node
            .with_service(id, |s| s.workshop().heads())
            .await
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        everything = node_changes(&node, id).await;
        node.close().await;
        let records = log_records(&log);
        targets = records
            .iter()
            .filter(|(_, _, key)| heads.contains(&key["incremental/".len()..]))
            .cloned()
            .collect();
        if targets.len() >= 3 {
            assert_eq!(
                targets.last().map(|t| t.0.end),
                records.last().map(|r| r.0.end),
                "a head is the last record"
            );
            break;
        }
    }
    assert!(targets.len() >= 3, "expected independent changes stored in the change log");
    let targets = &targets[targets.len() - 3..];
    let lost: BTreeSet<ChangeHash> =
        targets.iter().map(|(_, _, key)| key["incremental/".len()..].parse().unwrap()).collect();
    let intact: BTreeSet<ChangeHash> = everything.difference(&lost).copied().collect();
    assert_eq!(intact.len(), everything.len() - 3);

    // (a) cut the log short in its last record, (b) flip a bit in another record's payload,
    // (c) write garbage over a third record.
    let mut bytes = fs::read(&log).unwrap();
    let (flip, garble, cut) = (&targets[0], &targets[1], &targets[2]);
    let bit = rng.random_range(flip.1 * 8..flip.0.end * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
    rng.fill(&mut bytes[garble.0.clone()]);
    bytes.truncate(cut.0.start + cut.0.len() / 2);
    fs::write(&log, &bytes).unwrap();

    let node = Node::open(&data).await.unwrap();
    node.open_workshop(id).await.expect("the workshop loads despite the damage");
    assert_eq!(node_changes(&node, id).await, intact, "exactly the intact changes loaded");

    let health = node.workshop_health(id);
    let mut kinds: Vec<Damage> = health.found.iter().map(|d| d.damage.clone()).collect();
    kinds.sort_by_key(|d| format!("{d:?}"));
    assert_eq!(kinds, [Damage::ChecksumMismatch, Damage::Garbled, Damage::Truncated]);
    let damaged_dir = workshop_dir.join("damaged");
    for found in &health.found {
        assert_eq!(found.path, log);
        let moved = found.moved_to.as_ref().expect("saved aside");
        assert!(moved.starts_with(&damaged_dir) && moved.exists());
    }
    assert!(log_records(&log)
        .iter()
        .all(|(_, _, key)| !lost.contains(&key["incremental/".len()..].parse().unwrap())));
    assert_eq!(health.set_aside, 3);
    let message = health.message().unwrap();
    assert!(message.contains("set aside") && message.contains("everything else loaded"), "{message}");

    // The workshop keeps working, and the report outlives a restart.
    add_note(&node, id, prompt, "After the damage", false).await;
    node.close().await;
    let node = Node::open(&data).await.unwrap();
    node.open_workshop(id).await.unwrap();
    let health = node.workshop_health(id);
    assert!(health.found.is_empty());
    assert_eq!(health.set_aside, 3);
    assert!(health.message().is_some());
    assert!(notes(&snapshot(&node, id).await).iter().any(|n| n.text == "After the damage"));
    node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wholly_damaged_workshop_is_reported_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let node = Node::open(&data).await.unwrap();
    let id = node.create_workshop(new_workshop()).await.unwrap();
    let prompt = first_prompt(&node, id).await;
    add_note(&node, id, prompt, "Soon to be damaged", false).await;
    node.close().await;

    let workshop_dir = data.join("workshops").join(id.to_string());
    let mut files = files_under(&workshop_dir.join("doc"));
    files.push(workshop_dir.join("changes.log"));
    assert!(files.iter().all(|f| f.is_file()));
    for (i, file) in files.iter().enumerate() {
        fs::write(file, format!("garbage {i}")).unwrap();
    }
    let node = Node::open(&data).await.unwrap();
    let err = node.open_workshop(id).await.unwrap_err();
    assert!(matches!(err, NodeError::WorkshopDamaged(w) if w == id), "{err}");
    let health = node.workshop_health(id);
    assert_eq!(health.found.len(), files.len());
    assert!(health.message().is_some());
    node.close().await;
}
