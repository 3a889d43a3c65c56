//! Removing someone moves the workshop to a new key: the other laptops get it (over their
//! live connection, or when they next connect if they were away), and the removed laptop is
//! turned away from then on.

mod net_support;
mod support;

use std::time::{Duration, Instant};

use commonground_api::Reply;
use commonground_node::{NodeEvent, SyncProblem, SyncStatus};
use commonground_workshop::Colour;
use net_support::*;
use support::*;

const WITHIN: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_participant_rotates_the_key_and_turns_their_laptop_away() {
    let started = Instant::now();
    let (a, _da, id, serving) = facilitator().await;
    let address = serving.local_addr();
    let invite = a.invite(id).await.unwrap();
    let (b, _db) = node().await;
    let (c, _dc) = node().await;
    let (d, _dd) = node().await;
    b.join_by_code(address, &invite.code, "Ben", Colour::Sky).await.unwrap();
    c.join_by_link(&invite.link, "Cleo", Colour::Sun).await.unwrap();
    d.join_by_link(&invite.link, "Dev", Colour::Leaf).await.unwrap();
    converge(&[&a, &b, &c, &d], id, WITHIN).await;
    let cleo = snapshot(&c, id).await.me.unwrap();

    // Dev's laptop is away while Cleo is removed.
    d.disconnect(id, address);
    eventually("Dev to be away", WITHIN, || async { d.peers(id).is_empty() }).await;

    let mut c_events = c.events();
    let removed = a.remove_participant(id, cleo).await.unwrap();
    assert_eq!(removed.reply, Ok(Reply::Done));
    assert_eq!(a.key_epoch(id), Some(1));
    eventually("Ben to move to the new key", WITHIN, || async { b.key_epoch(id) == Some(1) }).await;
    assert_eq!(c.key_epoch(id), Some(0), "Cleo's laptop never receives the new key");

    // Cleo's laptop tries again with the old key and is turned away.
    expect_event(&mut c_events, WITHIN, "Cleo's laptop to be refused", |e| {
        matches!(
            e,
            NodeEvent::SyncStatus {
                status: SyncStatus { problem: Some(SyncProblem::Refused { .. }), .. },
                ..
            }
        )
    })
    .await;

    // The facilitator and Ben still sync; Cleo's laptop reads nothing new.
    eventually("Ben to reconnect", WITHIN, || async { !b.peers(id).is_empty() }).await;
    let prompt = first_prompt(&a, id).await;
    let after = add_note(&a, id, prompt, "after Cleo left", false).await;
    let from_ben = add_note(&b, id, prompt, "Ben, after", false).await;
    converge(&[&a, &b], id, WITHIN).await;
    // Dev comes back with the old key and is handed the new one, then syncs.
    d.connect(id, address).await.unwrap();
    eventually("Dev to move to the new key", WITHIN, || async { d.key_epoch(id) == Some(1) }).await;
    converge(&[&a, &b, &d], id, WITHIN).await;
    assert!(notes(&snapshot(&d, id).await).iter().any(|n| n.id == after));

    let on_c = notes(&snapshot(&c, id).await);
    assert!(!on_c.iter().any(|n| n.id == after || n.id == from_ben), "Cleo's laptop can't read new edits");
    assert_ne!(heads(&c, id).await, heads(&a, id).await);
    assert!(c.peers(id).is_empty());
    assert!(a.peers(id).iter().all(|p| p.device != c.device_key()));
    let cleo_now = snapshot(&a, id).await.participants.into_iter().find(|p| p.id == cleo).unwrap();
    assert!(cleo_now.removed);
    println!("removal: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_facilitators_laptop_can_invite_or_remove() {
    let (a, _da, id, serving) = facilitator().await;
    let invite = a.invite(id).await.unwrap();
    let (b, _db) = node().await;
    b.join_by_code(serving.local_addr(), &invite.code, "Ben", Colour::Sky).await.unwrap();
    let sarah = snapshot(&a, id).await.me.unwrap();
    assert_eq!(b.invite(id).await.unwrap_err().kind(), "not_facilitator");
    assert_eq!(b.remove_participant(id, sarah).await.unwrap_err().kind(), "not_facilitator");
    // A workshop this laptop holds no key for.
    let (c, _dc) = node().await;
    assert_eq!(c.connect(id, serving.local_addr()).await.unwrap_err().kind(), "not_a_member");

    // A laptop that dials itself (discovery finds its own address) is turned away.
    let mut events = a.events();
    a.connect(id, serving.local_addr()).await.unwrap();
    expect_event(&mut events, WITHIN, "dialling itself to be refused", |e| {
        matches!(
            e,
            NodeEvent::SyncStatus {
                status: SyncStatus { problem: Some(SyncProblem::Refused { .. }), .. },
                ..
            }
        )
    })
    .await;
    assert!(a.peers(id).iter().all(|p| p.device != a.device_key()));
    a.disconnect(id, serving.local_addr());
}
