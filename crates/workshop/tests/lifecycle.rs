//! Creating, saving, loading, forking and merging workshops; the schema and its migrations.

mod common;

use common::{Room, START};
use commonground_workshop::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn a_new_workshop_has_its_facilitator_default_ground_rules_a_session_and_an_area() {
    let room = Room::new();
    let meta = room.w.meta();
    assert_eq!(meta.title, "Living Well design team");
    assert_eq!(meta.phase, Phase::Welcome);
    assert_eq!(meta.timer, TimerView::Off);
    assert_eq!(meta.vote_budget, DEFAULT_VOTE_BUDGET);
    assert_eq!(meta.facilitators, vec![room.fac]);
    assert_eq!(meta.created_at, Timestamp(START));
    let rules: Vec<String> = room.w.ground_rules().into_iter().map(|r| r.text).collect();
    assert_eq!(rules, DEFAULT_GROUND_RULES.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert!(rules.iter().any(|r| r.contains("first names only")));
    assert!(rules.iter().any(|r| r.contains("Challenge ideas, not people")));
    assert!(rules.iter().any(|r| r.contains("OK to pass")));
    assert!(rules.iter().any(|r| r.contains("counts equally")));
    let people = room.w.participants();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].name, "Amina");
    assert!(people[0].facilitator);
    assert_eq!(room.w.sessions().len(), 1);
    assert_eq!(room.w.sessions()[0].kind, SessionKind::InRoom);
    assert_eq!(room.w.board(&Viewer::default()).prompts.len(), 1);
    assert_eq!(room.w.schema_version(), SCHEMA_VERSION);
}

#[test]
fn custom_ground_rules_replace_the_defaults_and_blank_lines_are_dropped() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (w, _) = Workshop::create(
        random_actor(&mut rng),
        Timestamp(START),
        &mut rng,
        NewWorkshop {
            title: "Carers' group".into(),
            purpose: String::new(),
            facilitator_name: "Jo".into(),
            facilitator_colour: Colour::Leaf,
            ground_rules: Some(vec!["Be kind.".into(), "   ".into(), "Phones on silent.".into()]),
        },
    )
    .unwrap();
    let rules: Vec<String> = w.ground_rules().into_iter().map(|r| r.text).collect();
    assert_eq!(rules, ["Be kind.", "Phones on silent."]);
}

#[test]
fn creating_with_a_titled_name_or_no_title_is_refused() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let new = |title: &str, name: &str| NewWorkshop {
        title: title.into(),
        purpose: String::new(),
        facilitator_name: name.into(),
        facilitator_colour: Colour::Leaf,
        ground_rules: None,
    };
    let err = Workshop::create(random_actor(&mut rng), Timestamp(0), &mut rng, new("Group", "Dr Sarah"))
        .unwrap_err();
    assert!(matches!(&err, WorkshopError::Name(p) if p.suggestion() == Some("Sarah")), "{err:?}");
    let err =
        Workshop::create(random_actor(&mut rng), Timestamp(0), &mut rng, new("  ", "Sarah")).unwrap_err();
    assert_eq!(common::refusal(err), Refusal::EmptyText);
}

#[test]
fn save_and_load_give_the_same_views() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    room.note(sam, "More evening sessions");
    let bytes = room.w.save();
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let loaded = Workshop::load(&bytes, random_actor(&mut rng), Timestamp(room.now)).unwrap();
    assert_eq!(loaded.heads(), room.w.heads());
    let v = Viewer::participant(sam);
    assert_eq!(loaded.board(&v), room.w.board(&v));
    assert_eq!(loaded.participants(), room.w.participants());
    assert_eq!(loaded.meta(), room.w.meta());
}

#[test]
fn garbage_bytes_are_an_error_not_a_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for bytes in [&b""[..], b"hello", &[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0], &[0xff; 64]] {
        let result = Workshop::load(bytes, random_actor(&mut rng), Timestamp(0));
        // Automerge reads an empty input as an empty document, which is not a workshop.
        assert!(result.is_err(), "{bytes:?} loaded");
    }
}

#[test]
fn a_plain_automerge_document_is_not_a_workshop() {
    let mut doc = automerge::AutoCommit::new();
    use automerge::transaction::Transactable;
    doc.put(automerge::ROOT, "hello", "world").unwrap();
    let err = Workshop::load(&doc.save(), automerge::ActorId::random(), Timestamp(0)).unwrap_err();
    assert_eq!(err.kind(), "not_a_workshop");
    assert!(err.to_string().contains("Nothing has been changed"));
}

#[test]
fn a_damaged_save_is_reported_not_a_panic() {
    let room = Room::new();
    let mut bytes = room.w.save();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    let truncated = &room.w.save()[..mid];
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    assert!(Workshop::load(&bytes, random_actor(&mut rng), Timestamp(0)).is_err());
    assert!(Workshop::load(truncated, random_actor(&mut rng), Timestamp(0)).is_err());
}

#[test]
fn a_document_from_a_newer_version_is_refused_untouched() {
    let room = Room::new();
    let mut doc = automerge::AutoCommit::load(&room.w.save()).unwrap();
    use automerge::transaction::Transactable;
    doc.put(automerge::ROOT, "schema", automerge::ScalarValue::Uint(SCHEMA_VERSION + 1)).unwrap();
    let err = Workshop::load(&doc.save(), automerge::ActorId::random(), Timestamp(0)).unwrap_err();
    assert!(
        matches!(err, WorkshopError::TooNew { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION)
    );
    assert!(err.to_string().contains("update"));
}

#[test]
fn forks_edit_concurrently_and_merge_to_the_same_state() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut other = room.w.fork(random_actor(&mut rng));
    let prompt = room.prompt();
    room.note(sam, "From laptop one");
    other
        .add_note(
            Timestamp(room.now + 5),
            &Writer::Named(sam),
            &mut rng,
            NewNote {
                prompt,
                text: "From laptop two".into(),
                colour: Colour::Rose,
                x: 0.0,
                y: 0.0,
                private: false,
            },
        )
        .unwrap();
    room.w.merge(&mut other).unwrap();
    other.merge(&mut room.w).unwrap();
    assert_eq!(room.w.heads(), other.heads());
    let mut texts = room.texts(&Viewer::default());
    texts.sort();
    assert_eq!(texts, ["From laptop one", "From laptop two"]);
    assert_eq!(room.w.board(&Viewer::default()), other.board(&Viewer::default()));
}

#[test]
fn sync_messages_converge_two_replicas_and_bad_bytes_are_rejected() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut other = room.w.fork(random_actor(&mut rng));
    room.note(sam, "Hello from one");
    let (mut a, mut b) = (sync::State::new(), sync::State::new());
    for _ in 0..10 {
        if let Some(m) = room.w.generate_sync_message(&mut a) {
            other.receive_sync_bytes(&mut b, &m.encode()).unwrap();
        }
        if let Some(m) = other.generate_sync_message(&mut b) {
            room.w.receive_sync_bytes(&mut a, &m.encode()).unwrap();
        }
    }
    assert_eq!(room.w.heads(), other.heads());
    let err = other.receive_sync_bytes(&mut b, b"\x42not a sync message").unwrap_err();
    assert_eq!(err.kind(), "sync_message");
}

#[test]
fn incremental_saves_rebuild_the_document() {
    let mut room = Room::new();
    let base = room.w.save();
    let heads = room.w.heads();
    let sam = room.join("Sam");
    room.note(sam, "Appended later");
    let chunk = room.w.save_after(&heads);
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut rebuilt = Workshop::load(&base, random_actor(&mut rng), Timestamp(room.now)).unwrap();
    rebuilt.load_incremental(&chunk).unwrap();
    assert_eq!(rebuilt.heads(), room.w.heads());
    assert_eq!(room.texts(&Viewer::default()), ["Appended later"]);
}

#[test]
fn a_document_that_cannot_be_opened_is_handed_back_unchanged() {
    let mut doc = automerge::AutoCommit::new();
    use automerge::transaction::Transactable;
    doc.put(automerge::ROOT, "hello", "world").unwrap();
    let doc = automerge::Automerge::load(&doc.save()).unwrap();
    let heads = doc.get_heads();
    assert!(Workshop::check(&doc).is_err());
    let rejected = Workshop::from_automerge(doc, Timestamp(0)).unwrap_err();
    assert_eq!(rejected.error.kind(), "not_a_workshop");
    assert_eq!(rejected.doc.get_heads(), heads, "nothing was lost or changed");

    let room = Room::new();
    assert!(!Workshop::check(room.w.automerge()).unwrap(), "current: no migration needed");
    let again = Workshop::from_automerge(room.w.clone().into_automerge(), Timestamp(0)).unwrap();
    assert_eq!(again.heads(), room.w.heads());
}
