//! "Since you were last here": what changed while a laptop was away.

mod common;

use common::Room;
use commonground_workshop::*;

#[test]
fn catch_up_lists_what_others_did_while_this_laptop_was_offline_newest_first() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let shared_before = room.note(kim, "Already seen");
    let last_seen = room.w.heads();
    let mut away = room.w.fork(random_actor(&mut room.rng));

    // Meanwhile, on Kim's laptop (Sam's is offline):
    let t = |n: i64| Timestamp(room.now + n * 1_000);
    let prompt = room.prompt();
    let session = room.session();
    let new_note = away
        .add_note(
            t(1),
            &Writer::Named(kim),
            &mut room.rng,
            NewNote {
                prompt,
                text: "A peer worker in every team".into(),
                colour: Colour::Mint,
                x: 0.0,
                y: 0.0,
                private: false,
            },
        )
        .unwrap();
    let withdrawn = away
        .add_note(
            t(2),
            &Writer::Named(kim),
            &mut room.rng,
            NewNote { prompt, text: "Oops".into(), colour: Colour::Mint, x: 0.0, y: 0.0, private: false },
        )
        .unwrap();
    away.withdraw_note(t(3), &Writer::Named(kim), withdrawn).unwrap();
    away.raise_challenge(
        t(4),
        &Writer::Named(kim),
        &mut room.rng,
        Target::Note(shared_before),
        ChallengeKind::WhatIf,
        "What if it's not enough?",
    )
    .unwrap();
    let value = away.draft_value(t(5), kim, &mut room.rng, "We share power", &[new_note]).unwrap();
    away.open_consent_round(t(6), room.fac, &mut room.rng, value, Some(1)).unwrap();
    away.give_stance(t(7), kim, &mut room.rng, value, Stance::Agree, None).unwrap();
    away.close_consent_round(t(8), room.fac, value).unwrap();
    away.add_reflection(
        t(9),
        &Writer::Named(kim),
        &mut room.rng,
        session,
        ReflectionKind::Worked,
        "Good energy",
    )
    .unwrap();
    away.add_action(t(10), kim, &mut room.rng, "Invite the peer team", Some(kim), None).unwrap();
    let late = away.join(t(11), &mut room.rng, "Ola", Colour::Peach, None).unwrap();

    // Sam's own note, written offline, is not news to Sam.
    room.note(sam, "Mine, written offline");
    room.w.merge(&mut away).unwrap();

    let items = room.w.changes_since(&Viewer::participant(sam), &last_seen);
    let lines: Vec<String> = items.iter().map(CatchUpItem::describe).collect();
    assert_eq!(
        lines,
        [
            "Ola joined the workshop.",
            "A new action: “Invite the peer team”",
            "Kim reflected on “What worked”: “Good energy”",
            "The group agreed “We share power” (version 1).",
            "A consent round opened on “We share power”.",
            "A value was drafted: “We share power”",
            "Kim raised a challenge on “Already seen”: What if… What if it's not enough?",
            "Kim added a note to “Our ideas”: “A peer worker in every team”",
        ]
    );
    assert!(items.windows(2).all(|w| w[0].at >= w[1].at), "newest first");
    assert!(matches!(items[0].change, Change::Joined { participant, .. } if participant == late));
    // Nothing is new to a laptop that has seen everything.
    assert!(room.w.changes_since(&Viewer::participant(sam), &room.w.heads()).is_empty());
}

#[test]
fn revealed_notes_count_as_new_and_anonymous_ones_stay_anonymous() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let writer = room.anon(kim);
    room.note_as(&writer, "Said quietly", true);
    let last_seen = room.w.heads();
    assert!(room.w.changes_since(&Viewer::participant(sam), &last_seen).is_empty());
    let now = room.tick();
    room.w.reveal_notes(now, room.fac, None).unwrap();
    let items = room.w.changes_since(&Viewer::participant(sam), &last_seen);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].describe(), "Someone (anonymous) added a note to “Our ideas”: “Said quietly”");
}

#[test]
fn challenge_outcomes_and_replies_are_reported() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let note = room.note(sam, "Longer sessions");
    let now = room.tick();
    let c = room
        .w
        .raise_challenge(
            now,
            &Writer::Named(sam),
            &mut room.rng,
            Target::Note(note),
            ChallengeKind::Question,
            "Is two hours OK?",
        )
        .unwrap();
    let last_seen = room.w.heads();
    let now = room.tick();
    room.w
        .respond_to_challenge(now, &Writer::Named(kim), &mut room.rng, c, "Two hours with a break")
        .unwrap();
    let later = room.tick();
    room.w.set_challenge_status(later, kim, c, ChallengeStatus::Heard).unwrap();
    let lines: Vec<String> = room
        .w
        .changes_since(&Viewer::participant(sam), &last_seen)
        .iter()
        .map(CatchUpItem::describe)
        .collect();
    assert_eq!(
        lines,
        [
            "A challenge was marked “Heard”: “Is two hours OK?”",
            "Kim replied to a challenge: “Two hours with a break”"
        ]
    );
}

#[test]
fn unknown_heads_mean_everything_is_new() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    room.note(room.fac, "Hello");
    let bogus = ChangeHash([7; 32]);
    let items = room.w.changes_since(&Viewer::participant(sam), &[bogus]);
    assert!(items.iter().any(|i| matches!(i.change, Change::NoteAdded { .. })));
    assert!(items.iter().any(|i| matches!(&i.change, Change::Joined { name, .. } if name == "Amina")));
}
