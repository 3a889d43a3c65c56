//! Damaged stored files are detected, set aside (never deleted) and reported, and every
//! intact change still loads.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use automerge::{Automerge, ChangeHash};
use commonground_api::{Local, WorkshopService};
use commonground_node::{Damage, Node, NodeError};
use commonground_workshop::{random_actor, ParticipantId, PromptId, Timestamp, WorkshopId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use support::*;

/// The stored-file header: magic, length, checksum (crate docs of `storage.rs`).
const HEADER: usize = 48;

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

/// Every change the given stored files hold, loaded the way a fresh replica would.
fn changes_in(files: &[PathBuf]) -> BTreeSet<ChangeHash> {
    let mut doc = Automerge::new();
    for file in files {
        let bytes = fs::read(file).unwrap();
        doc.load_incremental(&bytes[HEADER..]).unwrap();
    }
    doc.get_changes(&[]).iter().map(|c| c.hash()).collect()
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

    // Add independent changes until at least three are stored as their own files (samod may
    // fold a round into a snapshot if it is compacting at that moment).
    let doc_dir = data.join("workshops").join(id.to_string()).join("doc");
    let leaves = |heads: &[ChangeHash]| -> Vec<PathBuf> {
        let heads: BTreeSet<String> = heads.iter().map(ToString::to_string).collect();
        files_under(&doc_dir.join("incremental"))
            .into_iter()
            .filter(|f| heads.contains(f.file_name().unwrap().to_str().unwrap()))
            .collect()
    };
    let mut targets = Vec::new();
    for _round in 0..6 {
        merge_independent_notes(&node, id, me, prompt, &mut rng, 4).await;
        let heads = node.with_service(id, |s| s.workshop().heads()).await.unwrap();
        targets = leaves(&heads);
        if targets.len() >= 3 {
            break;
        }
    }
    assert!(targets.len() >= 3, "expected independent changes stored as their own files");
    node.close().await;

    let all_files = files_under(&doc_dir);
    let everything = changes_in(&all_files);
    let targets = &targets[..3];
    let intact_files: Vec<PathBuf> = all_files.iter().filter(|f| !targets.contains(f)).cloned().collect();
    let intact = changes_in(&intact_files);
    assert_eq!(intact.len(), everything.len() - 3);

    // (a) truncate one file, (b) flip a bit in another, (c) write garbage over a third.
    let truncated = fs::read(&targets[0]).unwrap();
    fs::write(&targets[0], &truncated[..truncated.len() / 2]).unwrap();
    let mut flipped = fs::read(&targets[1]).unwrap();
    let bit = rng.random_range(HEADER * 8..flipped.len() * 8);
    flipped[bit / 8] ^= 1 << (bit % 8);
    fs::write(&targets[1], &flipped).unwrap();
    let mut garbage = vec![0u8; fs::read(&targets[2]).unwrap().len()];
    rng.fill(&mut garbage[..]);
    fs::write(&targets[2], &garbage).unwrap();

    let node = Node::open(&data).await.unwrap();
    node.open_workshop(id).await.expect("the workshop loads despite the damage");
    assert_eq!(node_changes(&node, id).await, intact, "exactly the intact changes loaded");

    let health = node.workshop_health(id);
    let mut kinds: Vec<Damage> = health.found.iter().map(|d| d.damage.clone()).collect();
    kinds.sort_by_key(|d| format!("{d:?}"));
    assert_eq!(kinds, [Damage::ChecksumMismatch, Damage::Garbled, Damage::Truncated]);
    let damaged_dir = data.join("workshops").join(id.to_string()).join("damaged");
    for found in &health.found {
        assert!(targets.contains(&found.path));
        assert!(!found.path.exists(), "the damaged file was moved");
        let moved = found.moved_to.as_ref().expect("moved aside");
        assert!(moved.starts_with(&damaged_dir) && moved.exists());
    }
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

    let files = files_under(&data.join("workshops").join(id.to_string()).join("doc"));
    assert!(!files.is_empty());
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
