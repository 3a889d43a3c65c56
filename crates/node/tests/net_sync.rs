//! Laptops on loopback join a workshop (by code and by link), edit at the same time and
//! converge; star mode; reconnecting after the listener goes away.

mod net_support;
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use commonground_api::{Event, Reply};
use commonground_node::{Node, NodeEvent};
use commonground_workshop::{Colour, WorkshopId};
use net_support::*;
use support::*;
use tempfile::TempDir;

const WITHIN: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_laptops_join_by_code_and_link_edit_at_once_and_converge() {
    let started = Instant::now();
    let (a, _da, id, serving) = facilitator().await;
    let invite = a.invite(id).await.unwrap();
    assert_eq!(invite.addresses, vec![serving.local_addr()]);
    assert_eq!(invite.code.len(), 7, "shown as `123 456`");
    assert!(invite.link.starts_with("commonground://join/1/"));

    // B types the code; C scans the link.
    let (b, _db) = node().await;
    let joined = b.join_by_code(serving.local_addr(), &invite.code, "Ben", Colour::Sky).await.unwrap();
    assert_eq!(joined, id);
    let (c, _dc) = node().await;
    assert_eq!(c.join_by_link(&invite.link, "Cleo", Colour::Sun).await.unwrap(), id);
    assert_eq!(a.peers(id).len(), 2, "both joiners are connected to the facilitator");
    assert_eq!(b.key_epoch(id), Some(0));

    // Each laptop recorded its device on its participant: the roster others check.
    let b_me = snapshot(&b, id).await.me.expect("B joined");
    converge(&[&a, &b, &c], id, WITHIN).await;
    let (b_devices, c_devices) = a
        .with_service(id, |s| (s.workshop().devices(b_me), s.workshop().participants().len()))
        .await
        .unwrap();
    assert_eq!(b_devices, vec![b.device_key()]);
    assert_eq!(c_devices, 3, "Sarah, Ben and Cleo");

    // Everyone writes at the same time.
    let mut a_events = a.events();
    let prompt = first_prompt(&a, id).await;
    let (na, nb, nc) = tokio::join!(
        add_note(&a, id, prompt, "from the facilitator", false),
        add_note(&b, id, prompt, "from Ben", false),
        add_note(&c, id, prompt, "from Cleo", true),
    );
    converge(&[&a, &b, &c], id, WITHIN).await;
    let views: Vec<_> = [&a, &b, &c].iter().map(|n| async { shared_view(&snapshot(n, id).await) }).collect();
    let views = futures::future::join_all(views).await;
    assert_eq!(views[0], views[1]);
    assert_eq!(views[0], views[2]);
    for note in [na, nb, nc] {
        assert!(notes(&snapshot(&c, id).await).iter().any(|n| n.id == note));
    }

    // Notes from the other laptops arrived on A as view events (its own note came back from
    // `dispatch`, not the stream).
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let event = expect_event(&mut a_events, WITHIN, "notes from B and C", |e| {
            matches!(e, NodeEvent::View { event: Event::NoteUpserted { .. }, .. })
        })
        .await;
        let NodeEvent::View { workshop, event: Event::NoteUpserted { note } } = event else { unreachable!() };
        assert_eq!(workshop, id);
        assert_ne!(note.id, na, "A's own note is reported by dispatch, not the event stream");
        if !seen.contains(&note.id) {
            seen.push(note.id);
        }
    }
    assert!(seen.contains(&nb) && seen.contains(&nc));

    // Typing in a note reaches the others as a splice event.
    let mut c_events = c.events();
    let edit = commonground_workshop::TextEdit::Splice { index: 0, delete: 0, insert: "Yes: ".to_owned() };
    let reply = b.dispatch(id, commonground_api::Command::EditNote { note: nb, edit }).await.unwrap();
    assert_eq!(reply.reply, Ok(Reply::Done));
    expect_event(
        &mut c_events,
        WITHIN,
        "B's typing on C",
        |e| matches!(e, NodeEvent::View { event: Event::NoteTextSpliced { note, .. }, .. } if *note == nb),
    )
    .await;
    println!("three laptops: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn star_mode_two_laptops_reach_each_other_only_through_the_facilitator() {
    let started = Instant::now();
    // B is the facilitator's laptop; A and C each connect only to B.
    let (b, _db, id, serving) = facilitator().await;
    let ((a, _da), (c, _dc)) = two_join(&b, id, &serving, "Amir", "Cleo").await;
    assert!(a.peers(id).iter().all(|p| p.address == serving.local_addr()));
    assert!(c.peers(id).iter().all(|p| p.address == serving.local_addr()));

    let prompt = first_prompt(&a, id).await;
    let (from_a, from_c) = tokio::join!(
        add_note(&a, id, prompt, "A's idea", false),
        add_note(&c, id, prompt, "C's idea", false),
    );
    converge(&[&a, &b, &c], id, WITHIN).await;
    let on_c = notes(&snapshot(&c, id).await);
    assert!(on_c.iter().any(|n| n.id == from_a), "A's note reached C through B");
    assert!(notes(&snapshot(&a, id).await).iter().any(|n| n.id == from_c));
    assert_eq!(shared_view(&snapshot(&a, id).await), shared_view(&snapshot(&c, id).await));
    println!("star: {:?}", started.elapsed());
}

/// The facilitator's laptop (`a`) and Ben's (`b`), joined and caught up; then the
/// facilitator's laptop stops listening (the connection goes with it) and both have noticed.
struct Apart {
    a: Node,
    _a_dir: TempDir,
    b: Node,
    b_dir: TempDir,
    id: WorkshopId,
    /// Where the facilitator's laptop listened, to listen there again.
    address: SocketAddr,
}

async fn apart() -> Apart {
    let (a, _a_dir, id, serving) = facilitator().await;
    let address = serving.local_addr();
    let (b, b_dir) = join_one(&a, id, &serving, "Ben").await;
    drop(serving);
    eventually("B to notice", WITHIN, || async { b.peers(id).is_empty() && a.peers(id).is_empty() }).await;
    Apart { a, _a_dir, b, b_dir, id, address }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_made_while_the_listener_is_down_arrive_after_it_returns() {
    let started = Instant::now();
    let Apart { a, b, id, address, .. } = apart().await;
    let prompt = first_prompt(&a, id).await;
    let offline_a = add_note(&a, id, prompt, "written while apart (A)", false).await;
    let offline_b = add_note(&b, id, prompt, "written while apart (B)", false).await;
    assert_ne!(heads(&a, id).await, heads(&b, id).await);

    // It listens again on the same address; B's dialer finds it by itself.
    let _serving = a.serve(address).await.unwrap();
    converge(&[&a, &b], id, WITHIN).await;
    for node in [&a, &b] {
        let notes = notes(&snapshot(node, id).await);
        assert!(notes.iter().any(|n| n.id == offline_a) && notes.iter().any(|n| n.id == offline_b));
    }
    println!("reconnect: {:?}", started.elapsed());
}

/// A workshop with few changes syncs after both laptops restart: its changes are all in the
/// change logs (no snapshot yet), which both must read back and keep appending to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_young_workshop_is_served_after_both_laptops_restart() {
    let (a, da, id, serving) = facilitator().await;
    let (b, db) = join_one(&a, id, &serving, "Ben").await;
    let address = serving.local_addr();
    drop(serving);
    a.close().await;
    b.close().await;
    for dir in [&da, &db] {
        let workshop = dir.path().join("data/workshops").join(id.to_string());
        assert!(!workshop.join("doc").exists(), "only the change log, as for any young workshop");
    }

    let a = Node::open(da.path().join("data")).await.unwrap();
    let _serving = a.serve(address).await.unwrap();
    let b = Node::open(db.path().join("data")).await.unwrap();
    b.open_workshop(id).await.unwrap();
    b.connect(id, address).await.unwrap();
    let prompt = first_prompt(&b, id).await;
    let note = add_note(&b, id, prompt, "After the restart", false).await;
    converge(&[&a, &b], id, WITHIN).await;
    assert!(notes(&snapshot(&a, id).await).iter().any(|n| n.id == note));
}

/// While a laptop's document is busy (here: held by a long read), messages for it queue up,
/// and the patched samod holds each step's answers and storage for the last one queued
/// (`vendor/README.md`). Everything that arrived must still be stored: the laptop closes the
/// moment it has caught up, and opened again it has every note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_laptop_busy_while_notes_arrive_stores_them_all_even_closing_at_once() {
    let started = Instant::now();
    let (a, _da, id, serving) = facilitator().await;
    let ((b, db), (c, _dc)) = two_join(&a, id, &serving, "Ben", "Cleo").await;
    converge(&[&a, &b, &c], id, WITHIN).await;
    let prompt = first_prompt(&a, id).await;

    // B's document is held for a while; meanwhile A and C each write 15 notes.
    let busy = b.with_service(id, |_| std::thread::sleep(Duration::from_millis(700)));
    let writes = async {
        for k in 0..15 {
            let (text_a, text_c) = (format!("A's idea {k}"), format!("C's idea {k}"));
            tokio::join!(add_note(&a, id, prompt, &text_a, false), add_note(&c, id, prompt, &text_c, false));
        }
    };
    let (busy, ()) = tokio::join!(busy, writes);
    busy.unwrap();
    converge(&[&a, &b, &c], id, WITHIN).await;
    let expected = heads(&a, id).await;

    // Closed straight away, and opened again: everything is on B's disk.
    b.close().await;
    let b = Node::open(db.path().join("data")).await.unwrap();
    assert_eq!(heads(&b, id).await, expected, "B kept every note it had");
    let on_b = notes(&snapshot(&b, id).await);
    for k in 0..15 {
        for who in ["A", "C"] {
            let text = format!("{who}'s idea {k}");
            assert!(on_b.iter().any(|n| n.text == text), "{text} is on B after reopening");
        }
    }
    b.close().await;
    println!("busy laptop: {:?}", started.elapsed());
}

/// A laptop away while the room wrote much more than it has is sent the whole workshop,
/// which the patched samod loads as a new document with the laptop's own notes added
/// (`vendor/README.md`, samod-core 6). The laptop's screen still hears of every note that
/// arrived, it goes on writing as itself, and all of it is on its disk when it opens again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_laptop_back_after_a_long_time_away_gets_the_whole_workshop_and_keeps_it() {
    let started = Instant::now();
    let Apart { a, b, b_dir, id, address, .. } = apart().await;
    let prompt = first_prompt(&a, id).await;
    let mut from_a = Vec::new();
    for k in 0..40 {
        from_a.push(add_note(&a, id, prompt, &format!("the room's idea {k}"), false).await);
    }
    let from_b = [
        add_note(&b, id, prompt, "Ben's idea at home", false).await,
        add_note(&b, id, prompt, "Ben's other idea", true).await,
    ];

    let mut b_events = b.events();
    let _serving = a.serve(address).await.unwrap();
    converge(&[&a, &b], id, WITHIN).await;
    let mut heard = std::collections::BTreeSet::new();
    while !from_a.iter().all(|note| heard.contains(note)) {
        let event = expect_event(&mut b_events, WITHIN, "the room's notes on B's screen", |e| {
            matches!(e, NodeEvent::View { event: Event::NoteUpserted { .. }, .. })
        })
        .await;
        let NodeEvent::View { event: Event::NoteUpserted { note }, .. } = event else { unreachable!() };
        heard.insert(note.id);
    }

    // B goes on writing as itself (a laptop writing under A's Automerge actor would clash
    // with A's own changes): its next note is Ben's, and reaches A.
    let later = add_note(&b, id, prompt, "Ben, back in the room", false).await;
    converge(&[&a, &b], id, WITHIN).await;
    let on_a = notes(&snapshot(&a, id).await);
    let later_on_a = on_a.iter().find(|n| n.id == later).expect("B's new note on A");
    assert!(
        matches!(&later_on_a.author, commonground_workshop::AuthorView::Participant { name, .. } if name == "Ben"),
        "written by Ben"
    );
    assert!(from_b.iter().all(|note| on_a.iter().any(|n| n.id == *note)));

    // Everything is on B's disk.
    let expected = heads(&a, id).await;
    b.close().await;
    let b = Node::open(b_dir.path().join("data")).await.unwrap();
    assert_eq!(heads(&b, id).await, expected);
    let on_b = notes(&snapshot(&b, id).await);
    assert!(from_a.iter().chain(&from_b).chain([&later]).all(|note| on_b.iter().any(|n| n.id == *note)));
    b.close().await;
    println!("back after a long time away: {:?}", started.elapsed());
}
