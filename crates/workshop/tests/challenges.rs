//! Helpful challenge on notes, values and reflections.

mod common;

use common::{refusal, Room};
use commonground_workshop::*;

#[test]
fn a_challenge_on_a_note_threads_responses_and_is_marked_heard() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let note = room.note(sam, "Appointments should be shorter");
    let now = room.tick();
    let c = room
        .w
        .raise_challenge(
            now,
            &Writer::Named(kim),
            &mut room.rng,
            Target::Note(note),
            ChallengeKind::SeeDifferently,
            "Short appointments make me feel rushed",
        )
        .unwrap();
    let t1 = room.tick();
    room.w
        .respond_to_challenge(
            t1,
            &Writer::Named(sam),
            &mut room.rng,
            c,
            "That's fair, I hadn't thought of that",
        )
        .unwrap();
    let t2 = room.tick();
    room.w.respond_to_challenge(t2, &Writer::Named(kim), &mut room.rng, c, "Thanks for hearing it").unwrap();
    let v = Viewer::participant(sam);
    let open = room.w.open_challenges(&v);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].target_summary, "Appointments should be shorter");
    assert_eq!(open[0].kind.label(), "I see it differently because…");
    assert_eq!(
        open[0].responses.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(),
        ["That's fair, I hadn't thought of that", "Thanks for hearing it"]
    );
    assert!(open[0].responses[0].mine);
    assert_eq!(room.w.challenges_on(&v, Target::Note(note)).len(), 1);
    let now = room.tick();
    room.w.set_challenge_status(now, sam, c, ChallengeStatus::Heard).unwrap();
    assert!(room.w.open_challenges(&v).is_empty());
    let c = room.w.challenge(&v, c).unwrap();
    assert_eq!((c.status, c.status_at), (ChallengeStatus::Heard, Some(now)));
}

#[test]
fn challenges_can_target_values_and_reflections_and_be_parked_or_reopened() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let now = room.tick();
    let value = room.w.draft_value(now, sam, &mut room.rng, "We are honest", &[]).unwrap();
    let session = room.session();
    let reflection = room
        .w
        .add_reflection(
            now,
            &Writer::Named(sam),
            &mut room.rng,
            session,
            ReflectionKind::DidntWork,
            "Too rushed",
        )
        .unwrap();
    let me = Writer::Named(room.fac);
    let c1 = room
        .w
        .raise_challenge(
            now,
            &me,
            &mut room.rng,
            Target::Value(value),
            ChallengeKind::WhatIf,
            "What if honesty hurts?",
        )
        .unwrap();
    let c2 = room
        .w
        .raise_challenge(
            now,
            &me,
            &mut room.rng,
            Target::Reflection(reflection),
            ChallengeKind::Question,
            "Rushed how?",
        )
        .unwrap();
    room.w.set_challenge_status(now, sam, c1, ChallengeStatus::Parked).unwrap();
    let v = Viewer::participant(sam);
    assert_eq!(room.w.challenge(&v, c1).unwrap().target_summary, "We are honest");
    assert_eq!(room.w.challenge(&v, c2).unwrap().target_summary, "Too rushed");
    assert_eq!(room.w.open_challenges(&v).iter().map(|c| c.id).collect::<Vec<_>>(), [c2]);
    room.w.set_challenge_status(now, sam, c1, ChallengeStatus::Open).unwrap();
    assert_eq!(room.w.open_challenges(&v).len(), 2);
    assert_eq!(room.value(value).challenges.len(), 1);
    // The raiser can edit their words; others can't.
    room.w.edit_challenge(now, &me, c2, &TextEdit::Replace { text: "Rushed in what way?".into() }).unwrap();
    let err = room
        .w
        .edit_challenge(now, &Writer::Named(sam), c2, &TextEdit::Replace { text: "x".into() })
        .unwrap_err();
    assert_eq!(refusal(err), Refusal::NotYourNote);
    // Any ordinary challenge can be marked "changed my view" by the group.
    room.w.set_challenge_status(now, sam, c2, ChallengeStatus::ChangedView).unwrap();
}

#[test]
fn challenges_need_words_a_real_target_and_a_visible_note() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let private = room.note_as(&Writer::Named(sam), "Not yet shared", true);
    let now = room.tick();
    let raise = |room: &mut Room, target, text: &str| {
        room.w.raise_challenge(now, &Writer::Named(kim), &mut room.rng, target, ChallengeKind::Question, text)
    };
    assert_eq!(
        refusal(raise(&mut room, Target::Note(private), "Why?").unwrap_err()).code(),
        "note_not_shared"
    );
    let missing = ValueId::random(&mut room.rng);
    assert!(matches!(
        raise(&mut room, Target::Value(missing), "Why?").unwrap_err(),
        WorkshopError::NotFound(ObjectKind::Value)
    ));
    let shared = room.note(sam, "Shared");
    assert_eq!(refusal(raise(&mut room, Target::Note(shared), " ").unwrap_err()), Refusal::EmptyText);
    // A challenge on a note that is later withdrawn is hidden with the note.
    let c = raise(&mut room, Target::Note(shared), "Why?").unwrap();
    room.w.withdraw_note(now, &Writer::Named(sam), shared).unwrap();
    assert!(room.w.challenge(&Viewer::participant(kim), c).is_none());
}
