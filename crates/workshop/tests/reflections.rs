//! Reflection after each session, and the actions that come out of it.

mod common;

use common::{refusal, Room};
use commonground_workshop::*;

#[test]
fn reflections_are_grouped_by_session_under_the_four_prompts() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let first = room.session();
    let now = room.tick();
    let second = room
        .w
        .add_session(
            now,
            room.fac,
            &mut room.rng,
            "Session 2",
            Timestamp(room.now + 7 * 86_400_000),
            SessionKind::InRoom,
        )
        .unwrap();
    let me = Writer::Named(sam);
    room.w.add_reflection(now, &me, &mut room.rng, first, ReflectionKind::Worked, "Small groups").unwrap();
    room.w
        .add_reflection(now, &me, &mut room.rng, first, ReflectionKind::NewIdea, "Meet in the library")
        .unwrap();
    let r = room
        .w
        .add_reflection(now, &me, &mut room.rng, second, ReflectionKind::DoBetter, "Start on time")
        .unwrap();
    room.w
        .edit_reflection(now, &me, r, &TextEdit::Replace { text: "Start and finish on time".into() })
        .unwrap();
    let err = room
        .w
        .edit_reflection(now, &Writer::Named(room.fac), r, &TextEdit::Replace { text: "x".into() })
        .unwrap_err();
    assert_eq!(refusal(err), Refusal::NotYourNote);
    let grouped = room.w.reflections_by_session(&Viewer::participant(room.fac));
    assert_eq!(grouped.len(), 2);
    assert_eq!(grouped[0].session.id, first);
    let kinds: Vec<ReflectionKind> = grouped[0].prompts.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        [
            ReflectionKind::Worked,
            ReflectionKind::DidntWork,
            ReflectionKind::DoBetter,
            ReflectionKind::NewIdea
        ]
    );
    assert_eq!(grouped[0].prompts[0].1[0].text, "Small groups");
    assert_eq!(grouped[0].prompts[3].1[0].text, "Meet in the library");
    assert_eq!(grouped[1].prompts[2].1[0].text, "Start and finish on time");
    assert_eq!(ReflectionKind::DidntWork.label(), "What didn't work");
    let missing = SessionId::random(&mut room.rng);
    let err = room.w.add_reflection(now, &me, &mut room.rng, missing, ReflectionKind::Worked, "x");
    assert!(matches!(err.unwrap_err(), WorkshopError::NotFound(ObjectKind::Session)));
    assert_eq!(room.w.current_session(Timestamp(room.now)).unwrap().id, first);
    assert_eq!(room.w.current_session(Timestamp(room.now + 8 * 86_400_000)).unwrap().id, second);
    assert_eq!(
        refusal(
            room.w
                .add_session(now, sam, &mut room.rng, "Mine", Timestamp(0), SessionKind::Async)
                .unwrap_err()
        ),
        Refusal::FacilitatorOnly
    );
}

#[test]
fn a_reflection_becomes_an_action_with_an_owner_that_stays_open_until_done() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let session = room.session();
    let now = room.tick();
    let r = room
        .w
        .add_reflection(
            now,
            &Writer::Named(sam),
            &mut room.rng,
            session,
            ReflectionKind::DoBetter,
            "Send notes after",
        )
        .unwrap();
    let a = room
        .w
        .add_action(
            now,
            room.fac,
            &mut room.rng,
            "Email a summary after each session",
            Some(sam),
            Some(ActionSource::Reflection(r)),
        )
        .unwrap();
    let b = room.w.add_action(now, sam, &mut room.rng, "Book a bigger room", None, None).unwrap();
    let open = room.w.open_actions();
    assert_eq!(open.len(), 2);
    let open: Vec<_> = open.into_iter().filter(|x| x.id == a).collect();
    assert_eq!(open[0].owner.as_ref().map(|p| p.name.as_str()), Some("Sam"));
    assert_eq!(open[0].from, Some(ActionSource::Reflection(r)));
    room.w.set_action_done(now, sam, a, true).unwrap();
    room.w.set_action_owner(now, sam, b, Some(room.fac)).unwrap();
    room.w.edit_action(now, sam, b, &TextEdit::Replace { text: "Book the big room".into() }).unwrap();
    let open = room.w.open_actions();
    assert_eq!(open.iter().map(|a| a.text.as_str()).collect::<Vec<_>>(), ["Book the big room"]);
    assert_eq!(open[0].owner.as_ref().map(|p| p.name.as_str()), Some("Amina"));
    room.w.set_action_owner(now, sam, b, None).unwrap();
    assert!(room.w.open_actions()[0].owner.is_none());
    assert_eq!(room.w.actions().len(), 2);
    let stranger = ParticipantId::random(&mut room.rng);
    assert!(matches!(
        room.w.add_action(now, sam, &mut room.rng, "x", Some(stranger), None).unwrap_err(),
        WorkshopError::NotFound(ObjectKind::Participant)
    ));
    let missing = ChallengeId::random(&mut room.rng);
    assert!(room
        .w
        .add_action(now, sam, &mut room.rng, "x", None, Some(ActionSource::Challenge(missing)))
        .is_err());
}
