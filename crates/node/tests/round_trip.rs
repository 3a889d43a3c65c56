//! A node keeps workshops and this device's private state across restarts.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use commonground_api::{ApiError, Command, Reply};
use commonground_node::{DeviceKeyFile, Node, NodeError};
use commonground_workshop::{AuthorView, TextEdit, WorkshopId};
use support::*;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_local_state_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let node = Node::open(&data).await.unwrap();
    let key = *node.device_secret().as_bytes();
    let id = node.create_workshop(new_workshop()).await.unwrap();
    let me = snapshot(&node, id).await.me.expect("the creator is the facilitator");
    let prompt = first_prompt(&node, id).await;
    let named = add_note(&node, id, prompt, "We listen first", false).await;
    let anonymous = add_note(&node, id, prompt, "I felt unheard last time", true).await;
    let edit = TextEdit::Splice { index: 0, delete: 0, insert: "Our ".to_owned() };
    let reply = node.dispatch(id, Command::EditTitle { edit }).await.unwrap().reply.unwrap();
    assert_eq!(reply, Reply::Done);
    node.dispatch(id, Command::MarkSeen).await.unwrap().reply.unwrap();
    // with_service hands back whatever the closure returns.
    let heads = node.with_service(id, |service| service.workshop().heads()).await.unwrap();
    drop(node);

    let node = Node::open(&data).await.unwrap();
    assert_eq!(node.device_secret().as_bytes(), &key);
    assert_eq!(node.list_workshops(), vec![id]);
    let after = snapshot(&node, id).await;
    assert_eq!(after.me, Some(me), "who I am here is kept (Local)");
    assert_eq!(after.meta.title, "Our Living Well design team");
    let notes = notes(&after);
    let named_note = notes.iter().find(|n| n.id == named).expect("named note");
    assert_eq!(named_note.text, "We listen first");
    assert!(matches!(&named_note.author, AuthorView::Participant { id, .. } if *id == me));
    let anonymous_note = notes.iter().find(|n| n.id == anonymous).expect("anonymous note");
    assert_eq!(anonymous_note.author, AuthorView::Anonymous);
    assert!(anonymous_note.mine, "this device still recognises its anonymous note (Local)");
    let catch_up = node.dispatch(id, Command::GetCatchUp).await.unwrap().reply.unwrap();
    assert_eq!(catch_up, Reply::CatchUp { items: Vec::new() }, "what I last saw is kept (Local)");
    assert_eq!(node.with_service(id, |s| s.workshop().heads()).await.unwrap(), heads);
    assert!(!node.workshop_health(id).is_damaged());
    assert_eq!(node.workshop_health(id).message(), None);

    // Files are private to the user.
    assert_eq!(mode(&DeviceKeyFile::path(&data)), 0o600);
    let workshop_dir = data.join("workshops").join(id.to_string());
    assert_eq!(mode(&workshop_dir.join("local.json")), 0o600);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&workshop_dir), 0o700);
    assert_eq!(mode(&workshop_dir.join("changes.log")), 0o600);
    for entry in fs::read_dir(workshop_dir.join("doc/snapshot")).into_iter().flatten().flatten() {
        assert_eq!(mode(&entry.path()), 0o600);
    }
    node.close().await;
}

/// A process that dies while creating a workshop, after samod stored the document but before
/// the facilitator's state reached the workshop's folder, leaves that state waiting in
/// `creating/`: the next start finishes the creation instead of showing a workshop its own
/// facilitator has not joined. Waiting state that belongs to no stored workshop is removed,
/// and is never taken for another workshop's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workshop_whose_creation_was_cut_short_opens_with_its_facilitator() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let creating = data.join("creating");
    let node = Node::open(&data).await.unwrap();
    let id = node.create_workshop(new_workshop()).await.unwrap();
    let me = snapshot(&node, id).await.me.expect("the creator is the facilitator");
    node.close().await;
    let workshop_dir = data.join("workshops").join(id.to_string());
    assert_eq!(fs::read_dir(&creating).unwrap().count(), 0, "nothing is left waiting after a creation");
    let state = fs::read(workshop_dir.join("local.json")).unwrap();
    let kept = dir.path().join("kept.json");
    fs::copy(workshop_dir.join("local.json"), &kept).unwrap();

    // State from a creation that never got as far as storing its document: another
    // workshop's facilitator's.
    let other = dir.path().join("other");
    let node = Node::open(&other).await.unwrap();
    let other_id = node.create_workshop(new_workshop()).await.unwrap();
    let other_me = snapshot(&node, other_id).await.me.unwrap();
    node.close().await;
    let foreign_state = other.join("workshops").join(other_id.to_string()).join("local.json");
    let foreign = creating.join(format!("{other_me}.json"));

    // A workshop without this laptop's state, and only the foreign state waiting: it isn't
    // taken for this workshop's, and, as no workshop claims it, it is removed.
    fs::remove_file(workshop_dir.join("local.json")).unwrap();
    fs::copy(&foreign_state, &foreign).unwrap();
    let node = Node::open(&data).await.unwrap();
    assert!(!foreign.exists(), "state no stored workshop claims is removed at start-up");
    assert_eq!(snapshot(&node, id).await.me, None, "another workshop's facilitator isn't this one's");
    node.close().await;
    assert!(!workshop_dir.join("local.json").exists());

    // The state as a kill just after samod stored the document leaves it: this laptop's
    // state still waiting, and no network secret yet; the foreign state waiting too.
    let waiting = creating.join(format!("{me}.json"));
    fs::copy(&kept, &waiting).unwrap();
    fs::copy(&foreign_state, &foreign).unwrap();
    fs::remove_file(workshop_dir.join("secrets.json")).unwrap();
    let node = Node::open(&data).await.unwrap();
    assert!(!waiting.exists() && !foreign.exists(), "the waiting state is claimed, the other removed");
    assert_eq!(fs::read(workshop_dir.join("local.json")).unwrap(), state);
    assert_eq!(mode(&workshop_dir.join("local.json")), 0o600);
    assert_eq!(node.list_workshops(), vec![id]);
    assert_eq!(snapshot(&node, id).await.me, Some(me), "the facilitator is still the facilitator");
    let prompt = first_prompt(&node, id).await;
    add_note(&node, id, prompt, "Carrying on after the crash", false).await;
    node.invite(id).await.expect("the facilitator can invite: the workshop gets its secret");
    assert!(workshop_dir.join("secrets.json").exists());
    assert!(!node.workshop_health(id).is_damaged());
    node.close().await;

    let node = Node::open(&data).await.unwrap();
    assert_eq!(snapshot(&node, id).await.me, Some(me));
    node.close().await;
}

/// The app lists and opens every stored workshop whenever a page says hello, so a workshop
/// can be opened while it is being created: both succeed, and it opens with its facilitator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_workshops_while_one_is_created_leaves_it_its_facilitator() {
    let dir = tempfile::tempdir().unwrap();
    let node = std::sync::Arc::new(Node::open(dir.path().join("data")).await.unwrap());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opener = tokio::spawn({
        let (node, done) = (node.clone(), done.clone());
        async move {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                for id in node.list_workshops() {
                    let _ = node.open_workshop(id).await;
                }
                tokio::task::yield_now().await;
            }
        }
    });
    for _ in 0..10 {
        let id = node.create_workshop(new_workshop()).await.expect("creating succeeds");
        assert!(snapshot(&node, id).await.me.is_some(), "the creator is the facilitator");
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    opener.await.unwrap();
    assert_eq!(fs::read_dir(dir.path().join("data/creating")).unwrap().count(), 0);
    std::sync::Arc::into_inner(node).unwrap().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_missing_workshops_are_errors_not_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path()).await.unwrap();
    let missing: WorkshopId = "0b6c3f9e-1d2a-4c5b-8e7f-9a0b1c2d3e4f".parse().unwrap();
    let err = node.open_workshop(missing).await.unwrap_err();
    assert!(matches!(err, NodeError::WorkshopNotFound(id) if id == missing), "{err}");

    let id = node.create_workshop(new_workshop()).await.unwrap();
    // A refused command changes nothing, so there is nothing to wait for.
    let refused = node
        .dispatch(id, Command::Join { name: "Dr Sarah".into(), colour: commonground_workshop::Colour::Sky });
    let refused: Result<Reply, ApiError> = refused.await.unwrap().reply;
    assert!(refused.is_err());
    node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_cannot_open_the_same_folder() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path()).await.unwrap();
    let err = Node::open(dir.path()).await.unwrap_err();
    assert!(matches!(err, NodeError::Locked { .. }), "{err}");
    node.close().await;
    Node::open(dir.path()).await.unwrap().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_command_gives_the_document_back() {
    // Guards that a panic inside with_service can't leave samod holding an empty document.
    let dir = tempfile::tempdir().unwrap();
    let node = std::sync::Arc::new(Node::open(dir.path()).await.unwrap());
    let id = node.create_workshop(new_workshop()).await.unwrap();
    let prompt = first_prompt(&node, id).await;
    let kept = add_note(&node, id, prompt, "Still here", false).await;
    let panicking = {
        let node = node.clone();
        tokio::spawn(async move {
            node.with_service(id, |service| {
                let _ = service.workshop_mut();
                panic!("a bug in a command");
            })
            .await
        })
    };
    assert!(panicking.await.unwrap_err().is_panic());
    let after = snapshot(&node, id).await;
    assert!(notes(&after).iter().any(|n| n.id == kept));
    add_note(&node, id, prompt, "And still working", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_futures_can_move_between_threads() {
    // Guards that front doors (Tauri, axum) can run node calls on any runtime worker.
    fn is_send<T: Send>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path()).await.unwrap();
    let id = node.create_workshop(new_workshop()).await.unwrap();
    let dispatch = node.dispatch(id, Command::GetSnapshot);
    is_send(&dispatch);
    dispatch.await.unwrap();
    let create = node.create_workshop(new_workshop());
    is_send(&create);
    create.await.unwrap();
    node.close().await;
}
