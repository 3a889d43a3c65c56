//! A workshop saved by schema version 1, committed under `tests/fixtures/`, must keep loading
//! with every later build: this guards the schema and the migration hook.
//!
//! Regenerate (only when deliberately changing the fixture) with
//! `COMMONGROUND_WRITE_FIXTURE=1 cargo test -p commonground-workshop --test fixture`.

mod common;

use std::path::PathBuf;

use common::Room;
use commonground_workshop::*;

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/workshop-v1.automerge")
}

/// The fixture's contents: a little of everything.
fn build() -> Room {
    let mut room = Room::with_seed(2026);
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let a = room.note(sam, "Being listened to");
    room.note(kim, "No jargon");
    let anon = room.anon(kim);
    room.note_as(&anon, "Same person each time", false);
    let gone = room.note(sam, "Withdrawn note");
    let now = room.tick();
    room.w.withdraw_note(now, &Writer::Named(sam), gone).unwrap();
    room.w.set_votes(now, kim, a, 2).unwrap();
    room.w
        .raise_challenge(
            now,
            &Writer::Named(kim),
            &mut room.rng,
            Target::Note(a),
            ChallengeKind::Question,
            "Listened to by whom?",
        )
        .unwrap();
    let value = room.w.draft_value(now, sam, &mut room.rng, "We listen first", &[a]).unwrap();
    room.w.add_behaviour(now, sam, &mut room.rng, value, "We will let people finish").unwrap();
    room.w.open_consent_round(now, room.fac, &mut room.rng, value, Some(2)).unwrap();
    room.w.give_stance(now, sam, &mut room.rng, value, Stance::Agree, None).unwrap();
    room.w.give_stance(now, kim, &mut room.rng, value, Stance::Reservations, Some("Needs time")).unwrap();
    room.w.close_consent_round(now, room.fac, value).unwrap();
    let session = room.session();
    room.w
        .add_reflection(
            now,
            &Writer::Named(sam),
            &mut room.rng,
            session,
            ReflectionKind::Worked,
            "Small groups",
        )
        .unwrap();
    room.w.add_action(now, kim, &mut room.rng, "Book the library", Some(kim), None).unwrap();
    room
}

#[test]
fn the_version_1_fixture_still_loads_with_every_object() {
    if std::env::var_os("COMMONGROUND_WRITE_FIXTURE").is_some() {
        std::fs::write(fixture_path(), build().w.save()).unwrap();
    }
    let bytes = std::fs::read(fixture_path()).expect("tests/fixtures/workshop-v1.automerge is committed");
    let w = Workshop::load(&bytes, ActorId::random(), Timestamp(0)).unwrap();
    assert_eq!(w.schema_version(), 1);
    let heads = w.heads();
    // Loading a current document runs no migration and so writes nothing.
    assert_eq!(heads, Workshop::load(&bytes, ActorId::random(), Timestamp(0)).unwrap().heads());

    assert_eq!(w.meta().title, "Living Well design team");
    let names: Vec<String> = w.participants().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["Amina", "Sam", "Kim"]);
    let viewer = Viewer::participant(w.participants()[0].id);
    let mut notes: Vec<(String, bool)> = w.board(&viewer).prompts[0]
        .notes
        .iter()
        .map(|n| (n.text.clone(), n.author == AuthorView::Anonymous))
        .collect();
    notes.sort();
    assert_eq!(
        notes,
        [
            ("Being listened to".to_string(), false),
            ("No jargon".to_string(), false),
            ("Same person each time".to_string(), true)
        ]
    );
    let board = w.board(&viewer);
    assert_eq!(board.prompts[0].notes.iter().find(|n| n.text == "Being listened to").unwrap().votes, 2);
    assert_eq!(w.challenges(&viewer).len(), 1);
    let values = w.values(&viewer);
    assert_eq!(values.len(), 1);
    assert_eq!(values[0].status, ValueStatus::Agreed);
    assert_eq!(values[0].versions[0].behaviours, ["We will let people finish"]);
    assert_eq!(values[0].rounds[0].tally, Tally { agree: 1, reservations: 1, ..Tally::default() });
    assert_eq!(w.reflections(&viewer)[0].text, "Small groups");
    assert_eq!(w.open_actions()[0].text, "Book the library");
    assert_eq!(w.ground_rules().len(), DEFAULT_GROUND_RULES.len());

    // The fixture is exactly what this build makes from the same script and seed.
    let fresh = build();
    assert_eq!(serde_json::to_value(fresh.w.values(&viewer)).unwrap(), serde_json::to_value(values).unwrap());
}
