//! Values and consent: drafting from notes, behaviours and easy read, stances and reasons,
//! objections that open challenges, quorum, closing, and versions.

mod common;

use common::{refusal, Room};
use commonground_workshop::*;

struct Group {
    room: Room,
    people: Vec<ParticipantId>,
    notes: Vec<NoteId>,
    value: ValueId,
}

/// Seven people (the facilitator and six more) and a value drafted from three notes.
fn group() -> Group {
    let mut room = Room::new();
    let people: Vec<ParticipantId> =
        ["Sarah", "Tom", "Priya", "Kwame", "Jo", "Lin"].iter().map(|n| room.join(n)).collect();
    let notes = vec![
        room.note(people[0], "Being listened to"),
        room.note(people[1], "No jargon"),
        room.note(people[2], "Same person each time"),
    ];
    let now = room.tick();
    let value = room.w.draft_value(now, people[0], &mut room.rng, "We listen first", &notes).unwrap();
    Group { room, people, notes, value }
}

#[test]
fn a_value_is_drafted_from_notes_with_behaviours_and_an_easy_read_line() {
    let mut g = group();
    let r = &mut g.room;
    let now = r.tick();
    let b1 = r.w.add_behaviour(now, g.people[1], &mut r.rng, g.value, "We will let people finish").unwrap();
    let b2 = r.w.add_behaviour(now, g.people[2], &mut r.rng, g.value, "We will check we understood").unwrap();
    r.w.edit_value_easy_read(
        now,
        g.people[3],
        g.value,
        &TextEdit::Replace { text: "We listen to you.".into() },
    )
    .unwrap();
    r.w.edit_behaviour(
        now,
        g.people[0],
        g.value,
        b2,
        &TextEdit::Replace { text: "We will check we have understood".into() },
    )
    .unwrap();
    let v = r.value(g.value);
    assert_eq!(v.statement, "We listen first");
    assert_eq!(v.easy_read, "We listen to you.");
    assert_eq!(
        v.behaviours.iter().map(|b| b.text.as_str()).collect::<Vec<_>>(),
        ["We will let people finish", "We will check we have understood"]
    );
    assert_eq!(v.status, ValueStatus::Draft);
    assert_eq!(v.version, 1);
    assert!(matches!(&v.drafted_by, AuthorView::Participant { name, .. } if name == "Sarah"));
    let mut sources: Vec<&str> = v.sources.iter().map(|s| s.text.as_str()).collect();
    sources.sort();
    assert_eq!(sources, ["Being listened to", "No jargon", "Same person each time"]);
    r.w.remove_behaviour(now, g.people[0], g.value, b1).unwrap();
    assert_eq!(r.value(g.value).behaviours.len(), 1);
    // Sources can be added and removed; a withdrawn note never shows as a source.
    r.w.set_value_source(now, g.people[0], g.value, g.notes[1], false).unwrap();
    r.w.withdraw_note(now, &Writer::Named(g.people[2]), g.notes[2]).unwrap();
    assert_eq!(
        r.value(g.value).sources.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
        ["Being listened to"]
    );
    assert_eq!(
        refusal(r.w.set_value_source(now, g.people[0], g.value, g.notes[2], true).unwrap_err()),
        Refusal::BadSource
    );
}

#[test]
fn private_notes_cannot_be_sources_and_empty_statements_are_refused() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let private = room.note_as(&Writer::Named(sam), "Secret", true);
    let now = room.tick();
    assert_eq!(
        refusal(room.w.draft_value(now, sam, &mut room.rng, "We", &[private]).unwrap_err()),
        Refusal::BadSource
    );
    assert_eq!(
        refusal(room.w.draft_value(now, sam, &mut room.rng, "  ", &[]).unwrap_err()),
        Refusal::EmptyText
    );
}

#[test]
fn the_design_story_five_agree_one_reservation_one_stand_aside_is_agreed() {
    let mut g = group();
    let r = &mut g.room;
    let now = r.tick();
    assert_eq!(
        refusal(r.w.open_consent_round(now, g.people[0], &mut r.rng, g.value, None).unwrap_err()),
        Refusal::FacilitatorOnly
    );
    let round = r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, None).unwrap();
    assert_eq!(r.value(g.value).status, ValueStatus::InConsent);
    assert_eq!(r.value(g.value).current_round, Some(round));
    // Reservations need a reason; stand aside doesn't.
    let err =
        r.w.give_stance(now, g.people[4], &mut r.rng, g.value, Stance::Reservations, Some("  ")).unwrap_err();
    assert_eq!(refusal(err), Refusal::ReasonRequired(Stance::Reservations));
    for p in [r.fac, g.people[0], g.people[1], g.people[2], g.people[3]] {
        assert_eq!(r.w.give_stance(now, p, &mut r.rng, g.value, Stance::Agree, None).unwrap(), None);
    }
    r.w.give_stance(
        now,
        g.people[4],
        &mut r.rng,
        g.value,
        Stance::Reservations,
        Some("Hard with short appointments"),
    )
    .unwrap();
    r.w.give_stance(now, g.people[5], &mut r.rng, g.value, Stance::StandAside, None).unwrap();
    let live = &r.value(g.value).rounds[0];
    assert_eq!(live.tally, Tally { agree: 5, reservations: 1, stand_aside: 1, object: 0 });
    assert_eq!(live.quorum, 4, "more than half of seven");
    assert_eq!(live.statement, "We listen first");
    let outcome = r.w.close_consent_round(Timestamp(r.now + 1), r.fac, g.value).unwrap();
    assert_eq!(outcome, RoundOutcome::Agreed);
    let v = r.value(g.value);
    assert_eq!(v.status, ValueStatus::Agreed);
    assert_eq!(v.current_round, None);
    assert_eq!(v.versions.len(), 1);
    assert_eq!(v.versions[0].statement, "We listen first");
    assert_eq!(v.versions[0].round, Some(round));
    let closed = &v.rounds[0];
    assert_eq!(closed.outcome, Some(RoundOutcome::Agreed));
    assert!(closed.stances.iter().all(|s| s.counted));
    let reservation = closed.stances.iter().find(|s| s.stance == Stance::Reservations).unwrap();
    assert_eq!(reservation.reason.as_deref(), Some("Hard with short appointments"));
    assert!(matches!(&reservation.participant, AuthorView::Participant { name, .. } if name == "Jo"));
    // The round is closed: no more stances.
    let err =
        r.w.give_stance(Timestamp(r.now + 2), g.people[5], &mut r.rng, g.value, Stance::Agree, None)
            .unwrap_err();
    assert_eq!(refusal(err), Refusal::RoundClosed);
}

#[test]
fn an_objection_needs_a_reason_opens_a_linked_challenge_and_blocks_agreement() {
    let mut g = group();
    let r = &mut g.room;
    let now = r.tick();
    r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, Some(3)).unwrap();
    let err = r.w.give_stance(now, g.people[1], &mut r.rng, g.value, Stance::Object, None).unwrap_err();
    assert_eq!(refusal(err), Refusal::ReasonRequired(Stance::Object));
    let challenge =
        r.w.give_stance(
            now,
            g.people[1],
            &mut r.rng,
            g.value,
            Stance::Object,
            Some("Listening isn't enough without action"),
        )
        .unwrap()
        .expect("an objection opens a challenge");
    let c = r.w.challenge(&Viewer::participant(r.fac), challenge).unwrap();
    assert_eq!(c.target, Target::Value(g.value));
    assert_eq!(c.text, "Listening isn't enough without action");
    assert_eq!(c.status, ChallengeStatus::Open);
    assert_eq!(c.objection.map(|o| o.participant), Some(g.people[1]));
    assert!(r.value(g.value).challenges.iter().any(|x| x.id == challenge));
    for p in [r.fac, g.people[0], g.people[2]] {
        r.w.give_stance(now, p, &mut r.rng, g.value, Stance::Agree, None).unwrap();
    }
    // Someone else marking it "heard" doesn't resolve it, and can't say it changed Tom's view.
    r.w.set_challenge_status(now, g.people[0], challenge, ChallengeStatus::Heard).unwrap();
    let err =
        r.w.set_challenge_status(now, g.people[0], challenge, ChallengeStatus::ChangedView).unwrap_err();
    assert_eq!(refusal(err), Refusal::ChangedViewIsTheirs);
    assert_eq!(r.value(g.value).rounds[0].unresolved_objections, 1);
    assert_eq!(r.w.close_consent_round(now, r.fac, g.value).unwrap(), RoundOutcome::Objection);
    let v = r.value(g.value);
    assert_eq!(v.status, ValueStatus::Draft, "back to draft for more work");
    assert!(v.versions.is_empty());
}

#[test]
fn an_objection_resolved_by_the_objector_lets_the_round_agree() {
    let mut g = group();
    let r = &mut g.room;
    let now = r.tick();
    r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, Some(2)).unwrap();
    let c =
        r.w.give_stance(now, g.people[1], &mut r.rng, g.value, Stance::Object, Some("Too vague"))
            .unwrap()
            .unwrap();
    // Still objecting with a new reason keeps the same challenge, updated.
    let again =
        r.w.give_stance(now, g.people[1], &mut r.rng, g.value, Stance::Object, Some("Still too vague"))
            .unwrap();
    assert_eq!(again, Some(c));
    assert_eq!(r.w.challenge(&Viewer::default(), c).unwrap().text, "Still too vague");
    r.w.give_stance(now, r.fac, &mut r.rng, g.value, Stance::Agree, None).unwrap();
    r.w.set_challenge_status(now, g.people[1], c, ChallengeStatus::ChangedView).unwrap();
    assert_eq!(r.value(g.value).rounds[0].unresolved_objections, 0);
    assert_eq!(r.w.close_consent_round(now, r.fac, g.value).unwrap(), RoundOutcome::Agreed);
}

#[test]
fn moving_from_object_to_agree_marks_the_challenge_changed_my_view() {
    let mut g = group();
    let r = &mut g.room;
    let now = r.tick();
    r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, Some(1)).unwrap();
    let c =
        r.w.give_stance(now, g.people[1], &mut r.rng, g.value, Stance::Object, Some("Not yet"))
            .unwrap()
            .unwrap();
    r.w.give_stance(now, g.people[1], &mut r.rng, g.value, Stance::Agree, None).unwrap();
    let view = r.w.challenge(&Viewer::default(), c).unwrap();
    assert_eq!(view.status, ChallengeStatus::ChangedView);
    let round = &r.value(g.value).rounds[0];
    assert_eq!(round.tally, Tally { agree: 1, ..Tally::default() });
    assert_eq!(round.stances[0].reason, None, "a stance without a reason clears the old one");
    assert_eq!(r.w.close_consent_round(now, r.fac, g.value).unwrap(), RoundOutcome::Agreed);
}

#[test]
fn without_quorum_a_round_is_not_agreed() {
    let mut g = group();
    let r = &mut g.room;
    let now = r.tick();
    r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, None).unwrap();
    for p in [g.people[0], g.people[1], g.people[2]] {
        r.w.give_stance(now, p, &mut r.rng, g.value, Stance::Agree, None).unwrap();
    }
    assert_eq!(r.w.close_consent_round(now, r.fac, g.value).unwrap(), RoundOutcome::NoQuorum);
    assert_eq!(r.value(g.value).status, ValueStatus::Draft);
    assert_eq!(
        refusal(r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, Some(0)).unwrap_err()).code(),
        "out_of_range"
    );
}

#[test]
fn the_value_cannot_change_during_a_round_and_editing_an_agreed_value_starts_version_two() {
    let mut g = group();
    let r = &mut g.room;
    let now = r.tick();
    r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, Some(1)).unwrap();
    assert_eq!(
        refusal(r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, None).unwrap_err()),
        Refusal::RoundAlreadyOpen
    );
    let edit = TextEdit::Replace { text: "We always listen first".into() };
    assert_eq!(
        refusal(r.w.edit_value_statement(now, g.people[0], g.value, &edit).unwrap_err()),
        Refusal::ValueInConsent
    );
    let err = r.w.add_behaviour(now, g.people[0], &mut r.rng, g.value, "We will x").unwrap_err();
    assert_eq!(refusal(err), Refusal::ValueInConsent);
    r.w.give_stance(now, g.people[0], &mut r.rng, g.value, Stance::Agree, None).unwrap();
    r.w.close_consent_round(now, r.fac, g.value).unwrap();
    assert_eq!(
        refusal(r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, None).unwrap_err()),
        Refusal::AlreadyAgreed
    );

    r.w.edit_value_statement(Timestamp(r.now + 5), g.people[2], g.value, &edit).unwrap();
    let v = r.value(g.value);
    assert_eq!((v.status, v.version), (ValueStatus::Draft, 2));
    assert_eq!(v.versions.len(), 1, "version 1 stays in the history");
    r.w.open_consent_round(Timestamp(r.now + 6), r.fac, &mut r.rng, g.value, Some(1)).unwrap();
    r.w.give_stance(Timestamp(r.now + 7), g.people[3], &mut r.rng, g.value, Stance::Agree, None).unwrap();
    r.w.close_consent_round(Timestamp(r.now + 8), r.fac, g.value).unwrap();
    let v = r.value(g.value);
    assert_eq!((v.status, v.version), (ValueStatus::Agreed, 2));
    assert_eq!(
        v.versions.iter().map(|x| (x.version, x.statement.as_str())).collect::<Vec<_>>(),
        [(1, "We listen first"), (2, "We always listen first")]
    );
    assert_eq!(v.rounds.iter().map(|x| x.version).collect::<Vec<_>>(), [1, 2]);
    // Editing the easy-read line of an agreed value also starts a new version.
    r.w.edit_value_easy_read(
        Timestamp(r.now + 9),
        g.people[3],
        g.value,
        &TextEdit::Replace { text: "We listen.".into() },
    )
    .unwrap();
    assert_eq!(r.value(g.value).version, 3);
}

#[test]
fn a_stance_from_a_laptop_that_was_offline_at_close_is_recorded_but_not_counted() {
    let mut g = group();
    let r = &mut g.room;
    let now = r.tick();
    r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, Some(1)).unwrap();
    let mut offline = r.w.fork(random_actor(&mut r.rng));
    r.w.give_stance(now, g.people[0], &mut r.rng, g.value, Stance::Agree, None).unwrap();
    offline.give_stance(now, g.people[5], &mut r.rng, g.value, Stance::StandAside, None).unwrap();
    r.w.close_consent_round(now, r.fac, g.value).unwrap();
    r.w.merge(&mut offline).unwrap();
    let round = &r.value(g.value).rounds[0];
    assert_eq!(round.stances.len(), 2);
    assert_eq!(round.tally, Tally { agree: 1, ..Tally::default() });
    assert!(!round.stances.iter().find(|s| s.stance == Stance::StandAside).unwrap().counted);
}

#[test]
fn a_withdrawn_value_keeps_its_history_and_cannot_be_edited() {
    let mut g = group();
    let r = &mut g.room;
    let now = r.tick();
    r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, None).unwrap();
    assert_eq!(refusal(r.w.withdraw_value(now, g.people[0], g.value).unwrap_err()), Refusal::FacilitatorOnly);
    r.w.withdraw_value(now, r.fac, g.value).unwrap();
    let v = r.value(g.value);
    assert_eq!(v.status, ValueStatus::Withdrawn);
    assert!(v.rounds[0].closed_at.is_some());
    let err =
        r.w.edit_value_statement(now, r.fac, g.value, &TextEdit::Replace { text: "x".into() }).unwrap_err();
    assert_eq!(refusal(err), Refusal::Withdrawn(ObjectKind::Value));
}

#[test]
fn stances_from_many_laptops_at_once_never_conflict() {
    let mut g = group();
    let r = &mut g.room;
    let now = r.tick();
    r.w.open_consent_round(now, r.fac, &mut r.rng, g.value, None).unwrap();
    let mut laptops: Vec<Workshop> = (0..6).map(|_| r.w.fork(random_actor(&mut r.rng))).collect();
    for (laptop, p) in laptops.iter_mut().zip(&g.people) {
        laptop.give_stance(now, *p, &mut r.rng, g.value, Stance::Agree, None).unwrap();
    }
    for laptop in &mut laptops {
        r.w.merge(laptop).unwrap();
    }
    assert_eq!(r.value(g.value).rounds[0].tally.agree, 6);
}
