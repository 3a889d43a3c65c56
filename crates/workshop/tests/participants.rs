//! Joining by first name, telling people apart, devices, perspectives and leaving.

mod common;

use common::{refusal, Room};
use commonground_workshop::*;

#[test]
fn titled_names_are_refused_kindly_with_a_suggestion_and_nothing_is_written() {
    let mut room = Room::new();
    let heads = room.w.heads();
    let now = room.tick();
    let err = room.w.join(now, &mut room.rng, "Dr Sarah", Colour::Sun, None).unwrap_err();
    let WorkshopError::Name(problem) = &err else { panic!("{err:?}") };
    assert_eq!(problem.suggestion(), Some("Sarah"));
    assert_eq!(err.kind(), "title");
    assert!(err.to_string().contains("\"Sarah\""), "{err}");
    assert_eq!(room.w.heads(), heads);
    let sarah = room.w.join(now, &mut room.rng, "Sarah", Colour::Sun, None).unwrap();
    assert_eq!(room.w.participant(sarah).unwrap().name, "Sarah");
}

#[test]
fn people_with_the_same_first_name_are_told_apart_by_colour_and_symbol() {
    let mut room = Room::new();
    let now = room.tick();
    let a = room.w.join(now, &mut room.rng, "Sam", Colour::Sun, None).unwrap();
    let b = room.w.join(now, &mut room.rng, "sam", Colour::Sun, None).unwrap();
    let c = room.w.join(now, &mut room.rng, "Sam", Colour::Rose, None).unwrap();
    let (pa, pb, pc) =
        (room.w.participant(a).unwrap(), room.w.participant(b).unwrap(), room.w.participant(c).unwrap());
    assert_ne!((pa.colour, pa.symbol), (pb.colour, pb.symbol));
    assert_ne!(pa.symbol, pb.symbol, "same name and colour: different symbols");
    assert_eq!(pc.symbol, Symbol::Circle, "a different colour already tells them apart");
    assert_eq!(pb.name, "sam", "names appear as the person wrote them");
}

#[test]
fn concurrent_joins_with_the_same_name_colour_and_symbol_are_still_told_apart() {
    let mut room = Room::new();
    let mut other = room.w.fork(random_actor(&mut room.rng));
    let now = room.tick();
    let a = room.w.join(now, &mut room.rng, "Alex", Colour::Mint, None).unwrap();
    let b = other.join(Timestamp(room.now + 1), &mut room.rng, "Alex", Colour::Mint, None).unwrap();
    room.w.merge(&mut other).unwrap();
    let people = room.w.participants();
    let sym = |id| people.iter().find(|p| p.id == id).unwrap().symbol;
    assert_ne!(sym(a), sym(b));
    assert_eq!(sym(a), Symbol::Circle, "the earlier joiner keeps their symbol");
}

#[test]
fn people_can_rename_recolour_and_add_devices_only_for_themselves() {
    let mut room = Room::new();
    let now = room.tick();
    let sam = room.w.join(now, &mut room.rng, "Sam", Colour::Sun, Some("aa01")).unwrap();
    room.w.rename_participant(now, sam, "Samira").unwrap();
    room.w.set_participant_colour(now, sam, Colour::Peach).unwrap();
    room.w.add_device(now, sam, "bb02").unwrap();
    let p = room.w.participant(sam).unwrap();
    assert_eq!((p.name.as_str(), p.colour), ("Samira", Colour::Peach));
    assert_eq!(room.w.devices(sam), ["aa01", "bb02"]);
    let err = room.w.rename_participant(now, sam, "Prof Samira").unwrap_err();
    assert_eq!(err.kind(), "title");
    assert_eq!(room.w.participant(sam).unwrap().name, "Samira");
}

#[test]
fn perspectives_are_only_ever_counted() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let now = room.tick();
    room.w.set_perspective(now, sam, Some(Perspective::LivedExperience)).unwrap();
    room.w.set_perspective(now, kim, Some(Perspective::Carer)).unwrap();
    room.w.set_perspective(now, kim, None).unwrap();
    let counts = room.w.participation();
    assert_eq!(counts.people, 3);
    assert_eq!(counts.by_perspective.get(&Perspective::LivedExperience), Some(&1));
    assert_eq!(counts.by_perspective.get(&Perspective::Carer), None);
    assert_eq!(counts.not_said, 2);
    // Participant views carry no perspective, role or title at all.
    let json = serde_json::to_string(&room.w.participants()).unwrap();
    assert!(!json.contains("lived_experience"));
}

#[test]
fn removed_people_can_no_longer_write_but_what_they_wrote_stays() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    room.note(sam, "Sam's note stays");
    let now = room.tick();
    assert_eq!(refusal(room.w.remove_participant(now, kim, sam).unwrap_err()), Refusal::FacilitatorOnly);
    room.w.remove_participant(now, room.fac, sam).unwrap();
    assert!(room.w.participant(sam).unwrap().removed);
    assert_eq!(room.texts(&Viewer::participant(kim)), ["Sam's note stays"]);
    let prompt = room.prompt();
    let err = room
        .w
        .add_note(
            now,
            &Writer::Named(sam),
            &mut room.rng,
            NewNote { prompt, text: "x".into(), colour: Colour::Sun, x: 0.0, y: 0.0, private: false },
        )
        .unwrap_err();
    assert_eq!(refusal(err), Refusal::Removed);
    assert_eq!(room.w.participation().people, 2);
}

#[test]
fn the_facilitator_role_can_be_shared_and_handed_on_but_never_left_empty() {
    let mut room = Room::new();
    let kim = room.join("Kim");
    let now = room.tick();
    assert_eq!(
        refusal(room.w.set_facilitator(now, room.fac, room.fac, false).unwrap_err()),
        Refusal::LastFacilitator
    );
    assert_eq!(
        refusal(room.w.remove_participant(now, room.fac, room.fac).unwrap_err()),
        Refusal::LastFacilitator
    );
    room.w.set_facilitator(now, room.fac, kim, true).unwrap();
    assert!(room.w.participant(kim).unwrap().facilitator);
    room.w.set_facilitator(now, kim, room.fac, false).unwrap();
    assert_eq!(room.w.meta().facilitators, vec![kim]);
    assert_eq!(refusal(room.w.set_phase(now, room.fac, Phase::Vote).unwrap_err()), Refusal::FacilitatorOnly);
    room.w.set_phase(now, kim, Phase::Vote).unwrap();
}
