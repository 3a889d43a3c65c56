//! Anonymous notes, challenges and reflections: written by a separate, unlinked actor, and
//! never linked to their writer by any view or by the document's history.

mod common;

use common::{refusal, Room};
use commonground_workshop::*;

/// The actors of the changes made since `before`.
fn actors_since(w: &Workshop, before: &[ChangeHash]) -> Vec<ActorId> {
    w.automerge().get_changes(before).into_iter().map(|c| c.actor_id().clone()).collect()
}

#[test]
fn an_anonymous_note_is_written_by_an_unlinked_actor_and_shown_as_anonymous() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let own_actor = room.w.actor().clone();
    let writer = room.anon(sam);
    let before = room.w.heads();
    let id = room.note_as(&writer, "Staff don't listen", false);

    let actors = actors_since(&room.w, &before);
    assert_eq!(actors.len(), 1);
    assert_ne!(actors[0], own_actor, "the device's own actor did not write it");
    assert!(!actors[0].to_hex_string().contains(&own_actor.to_hex_string()));
    assert_eq!(room.w.actor(), &own_actor, "the device writes as itself again afterwards");

    // Nothing in the note names its writer, and every other view shows it as anonymous.
    let doc = automerge::AutoCommit::load(&room.w.save()).unwrap();
    let json = serde_json::to_string(&automerge::AutoSerde::from(&doc)).unwrap();
    let note_json = json.split(&id.to_string()).nth(1).unwrap();
    assert!(!note_json.starts_with(&sam.to_string()));
    assert!(!json.contains(&format!("\"author\":\"{sam}\"")));
    let others = room.w.note(&Viewer::participant(room.fac), id).unwrap();
    assert_eq!(others.author, AuthorView::Anonymous);
    assert!(!others.mine);
    // Even Sam, without this device's anonymous actors, sees only "anonymous".
    assert!(!room.w.note(&Viewer::participant(sam), id).unwrap().mine);
}

#[test]
fn the_writing_device_recognises_edits_and_withdraws_its_anonymous_note() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let writer = room.anon(sam);
    let id = room.note_as(&writer, "Private and anonymous", true);
    let Writer::Anonymous(_, actor) = &writer else { unreachable!() };
    let mine = Viewer { participant: Some(sam), anonymous: vec![actor.clone()] };
    let note = room.w.note(&mine, id).unwrap();
    assert!(note.mine && note.private);
    assert_eq!(note.author, AuthorView::Anonymous);
    assert!(room.w.note(&Viewer::participant(kim), id).is_none(), "private: hidden from others");
    assert!(
        room.w.note(&Viewer::participant(sam), id).is_none(),
        "without the actor, not recognisably Sam's"
    );

    let now = room.tick();
    let before = room.w.heads();
    room.w.edit_note(now, &writer, id, &TextEdit::Replace { text: "Edited anonymously".into() }).unwrap();
    assert_eq!(room.w.note(&mine, id).unwrap().text, "Edited anonymously");
    let actors = actors_since(&room.w, &before);
    assert!(!actors.is_empty());
    assert!(actors.iter().all(|a| a != room.w.actor()), "edits go through the anonymous actor too");
    // Someone else's anonymous actor doesn't make it theirs.
    let kim_anon = room.anon(kim);
    assert_eq!(refusal(room.w.withdraw_note(now, &kim_anon, id).unwrap_err()), Refusal::NotYourNote);
    room.w.withdraw_note(now, &writer, id).unwrap();
    assert!(room.w.note(&mine, id).is_none());
}

#[test]
fn anonymous_times_are_rounded_and_carry_no_commit_time() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    room.now += 12_345;
    let writer = room.anon(sam);
    let id = room.note_as(&writer, "Rounded", false);
    let created = room.w.note(&Viewer::default(), id).unwrap().created_at.millis();
    assert_eq!(created % 60_000, 0);
    assert!(room.now - created < 60_000);
    let Writer::Anonymous(_, actor) = &writer else { unreachable!() };
    let anon_actor = ActorId::from(actor.to_bytes());
    let changes: Vec<_> =
        room.w.automerge().get_changes(&[]).into_iter().filter(|c| c.actor_id() == &anon_actor).collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].timestamp(), 0);
    assert!(changes[0].message().is_none());
}

#[test]
fn anonymous_challenges_responses_and_reflections_are_shown_as_anonymous() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let note = room.note(room.fac, "Longer appointments");
    let now = room.tick();
    let writer = room.anon(sam);
    let before = room.w.heads();
    let c = room
        .w
        .raise_challenge(
            now,
            &writer,
            &mut room.rng,
            Target::Note(note),
            ChallengeKind::WhatIf,
            "What if they were shorter?",
        )
        .unwrap();
    room.w.respond_to_challenge(now, &writer, &mut room.rng, c, "Just wondering").unwrap();
    let session = room.session();
    let r = room
        .w
        .add_reflection(now, &writer, &mut room.rng, session, ReflectionKind::Worked, "Felt heard")
        .unwrap();
    let v = Viewer::participant(room.fac);
    let view = room.w.challenge(&v, c).unwrap();
    assert_eq!(view.author, AuthorView::Anonymous);
    assert_eq!(view.responses[0].author, AuthorView::Anonymous);
    let reflection = room.w.reflections(&v).into_iter().find(|x| x.id == r).unwrap();
    assert_eq!(reflection.author, AuthorView::Anonymous);
    let actors = actors_since(&room.w, &before);
    assert_eq!(actors.len(), 3);
    assert!(actors.iter().all(|a| a != room.w.actor()));
}
