//! Carrying on from home through a shared folder: two laptops that are never connected again
//! after joining converge through a folder that delivers files late and half-written, and
//! someone with the folder but not the workshop's secret sees only ciphertext.

mod net_support;
mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use commonground_api::Event;
use commonground_node::{FolderSync, NodeEvent};
use commonground_workshop::Colour;
use net_support::*;
use support::*;

/// What a folder sync tool does: copies the files `writer` wrote in its copy of the folder
/// to another laptop's copy, but only the first `fraction` of each (as if still uploading).
fn sync_tool(from: &Path, to: &Path, fraction: f64, writer: &commonground_node::Node) {
    let owner = writer.device_key()[..8].to_owned();
    for entry in walk(from) {
        let relative = entry.strip_prefix(from).unwrap();
        let name = relative.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with(&owner) {
            continue;
        }
        let bytes = fs::read(&entry).unwrap();
        let cut = ((bytes.len() as f64) * fraction) as usize;
        let target = to.join(relative);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(target, &bytes[..cut]).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_laptops_apart_converge_through_a_folder_that_syncs_late_and_in_pieces() {
    // They meet once, to join; then the facilitator stops serving and they never connect again.
    let (a, _da, id, serving) = facilitator().await;
    let invite = a.invite(id).await.unwrap();
    let (b, _db) = node().await;
    b.join_by_link(&invite.link, "Ben", Colour::Leaf).await.unwrap();
    converge(&[&a, &b], id, Duration::from_secs(8)).await;
    drop(serving);
    for peer in a.peers(id) {
        a.disconnect(id, peer.address);
    }
    for peer in b.peers(id) {
        b.disconnect(id, peer.address);
    }
    eventually("the laptops to part", Duration::from_secs(10), || async {
        a.peers(id).is_empty() && b.peers(id).is_empty()
    })
    .await;

    // Each laptop has its own copy of the shared folder (as OneDrive or Syncthing keeps one).
    let (fa, fb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut sa, mut sb) = (FolderSync::new(id, fa.path()), FolderSync::new(id, fb.path()));
    let prompt = first_prompt(&a, id).await;
    add_note(&a, id, prompt, "A crisis café open at night", false).await;
    add_note(&a, id, prompt, "Someone who has been there", false).await;
    let mut b_events = b.events();
    assert_eq!(a.sync_folder(&mut sa).await.unwrap().written, 1);

    // Half of A's file has arrived at B's copy: nothing complete to merge yet, nothing broken.
    sync_tool(fa.path(), fb.path(), 0.5, &a);
    let report = b.sync_folder(&mut sb).await.unwrap();
    assert_eq!((report.merged, report.unreadable, report.ignored), (0, 0, 0), "{report:?}");
    assert!(!notes(&snapshot(&b, id).await).iter().any(|n| n.text == "A crisis café open at night"));

    // The rest arrives: B merges it, and its person hears of the notes as events.
    sync_tool(fa.path(), fb.path(), 1.0, &a);
    assert_eq!(b.sync_folder(&mut sb).await.unwrap().merged, 1);
    let texts: Vec<String> = notes(&snapshot(&b, id).await).into_iter().map(|n| n.text).collect();
    assert!(texts.contains(&"A crisis café open at night".to_owned()), "{texts:?}");
    expect_event(&mut b_events, Duration::from_secs(8), "A's notes on B", |e| {
        matches!(e, NodeEvent::View { event: Event::NoteUpserted { note }, .. } if note.text == "Someone who has been there")
    })
    .await;

    // Both write more, apart; then the folders catch up both ways, in pieces.
    add_note(&b, id, prompt, "Peer support from home", true).await;
    add_note(&a, id, prompt, "Evening phone line", false).await;
    b.sync_folder(&mut sb).await.unwrap();
    a.sync_folder(&mut sa).await.unwrap();
    sync_tool(fb.path(), fa.path(), 0.3, &b);
    a.sync_folder(&mut sa).await.unwrap();
    sync_tool(fb.path(), fa.path(), 1.0, &b);
    sync_tool(fa.path(), fb.path(), 1.0, &a);
    a.sync_folder(&mut sa).await.unwrap();
    b.sync_folder(&mut sb).await.unwrap();
    converge(&[&a, &b], id, Duration::from_secs(8)).await;
    assert_eq!(shared_view(&snapshot(&a, id).await), shared_view(&snapshot(&b, id).await));
    assert_eq!(a.peers(id).len(), 0, "never connected");

    // Someone with the folder but without the secret: ciphertext only.
    for file in walk(fa.path()).into_iter().chain(walk(fb.path())) {
        let bytes = fs::read(&file).unwrap();
        for secret in ["crisis", "café", "Peer support", "Evening", "Ben"] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} in {file:?}");
        }
        assert!(automerge::Automerge::load(&bytes).is_err(), "{file:?} opened as a document");
        assert!(bytes.starts_with(b"CGR1"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_laptops_own_file_is_compacted_and_others_still_read_it() {
    let (a, _da, id, _serving) = facilitator().await;
    let folder = tempfile::tempdir().unwrap();
    let mut sync = FolderSync::new(id, folder.path());
    let prompt = first_prompt(&a, id).await;
    for i in 0..70 {
        add_note(&a, id, prompt, &format!("note {i}"), false).await;
        a.sync_folder(&mut sync).await.unwrap();
    }
    let files = walk(sync.dir());
    assert_eq!(files.len(), 1, "one file per laptop and epoch");
    let size = fs::metadata(&files[0]).unwrap().len();
    assert!(size < 200_000, "compacted: {size} bytes");
    // Stray files in the folder are left alone.
    fs::write(sync.dir().join("desktop.ini"), b"[.ShellClassInfo]").unwrap();
    let report = a.sync_folder(&mut sync).await.unwrap();
    assert_eq!(report.ignored, 1);

    // If something outside replaces this laptop's file with an older copy (a sync tool's
    // conflict handling), the next pass writes everything again rather than appending to it.
    let mine = walk(sync.dir()).into_iter().find(|f| f.extension().is_some_and(|e| e == "cgsync")).unwrap();
    let whole = fs::read(&mine).unwrap();
    fs::write(&mine, &whole[..whole.len() / 2]).unwrap();
    add_note(&a, id, prompt, "after the clobbering", false).await;
    a.sync_folder(&mut sync).await.unwrap();
    let bytes = fs::read(&mine).unwrap();
    let body = u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(bytes.len(), 20 + body, "rewritten whole, as one complete record");
    let key_files = walk(sync.dir()).len();
    assert_eq!(key_files, 2, "its own file and the stray one");
}
