//! The quiet "I need a break" signal: who may raise and clear it, who sees it, and how it
//! merges across laptops.

mod common;

use common::{refusal, Room};
use commonground_workshop::*;

fn who(breaks: &[BreakView]) -> Vec<ParticipantId> {
    breaks.iter().map(|b| b.participant).collect()
}

#[test]
fn a_break_is_seen_only_by_the_facilitators_and_the_person_who_asked() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let asked = room.tick();
    room.w.ask_for_break(asked, sam, true).unwrap();
    assert_eq!(room.w.breaks(&Viewer::participant(room.fac)), [BreakView { participant: sam, since: asked }]);
    assert_eq!(who(&room.w.breaks(&Viewer::participant(sam))), [sam]);
    assert!(room.w.breaks(&Viewer::participant(kim)).is_empty(), "others don't see it");
    assert!(room.w.breaks(&Viewer::default()).is_empty(), "nor does someone who hasn't joined");

    let later = room.tick();
    room.w.ask_for_break(later, kim, true).unwrap();
    assert_eq!(who(&room.w.breaks(&Viewer::participant(room.fac))), [sam, kim], "longest waiting first");
    assert_eq!(who(&room.w.breaks(&Viewer::participant(sam))), [sam]);
    assert_eq!(who(&room.w.breaks(&Viewer::participant(kim))), [kim]);

    // Someone given the facilitator role sees everyone's.
    let now = room.tick();
    room.w.set_facilitator(now, room.fac, kim, true).unwrap();
    assert_eq!(who(&room.w.breaks(&Viewer::participant(kim))), [sam, kim]);
}

#[test]
fn asking_again_keeps_the_first_time_and_saying_no_clears_it() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let first = room.tick();
    room.w.ask_for_break(first, sam, true).unwrap();
    let heads = room.w.heads();
    let again = room.tick();
    room.w.ask_for_break(again, sam, true).unwrap();
    assert_eq!(room.w.heads(), heads, "asking again changes nothing");
    assert_eq!(room.w.breaks(&Viewer::participant(sam))[0].since, first);
    let now = room.tick();
    room.w.ask_for_break(now, sam, false).unwrap();
    assert!(room.w.breaks(&Viewer::participant(room.fac)).is_empty());
    let heads = room.w.heads();
    room.w.ask_for_break(now, sam, false).unwrap();
    assert_eq!(room.w.heads(), heads, "saying no twice changes nothing");
}

#[test]
fn only_a_facilitator_clears_someone_elses_break() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let now = room.tick();
    room.w.ask_for_break(now, sam, true).unwrap();
    let heads = room.w.heads();
    assert_eq!(refusal(room.w.clear_break(now, kim, sam).unwrap_err()), Refusal::FacilitatorOnly);
    assert_eq!(refusal(room.w.clear_break(now, sam, sam).unwrap_err()), Refusal::FacilitatorOnly);
    assert_eq!(room.w.heads(), heads, "nothing is written when refused");
    room.w.clear_break(now, room.fac, sam).unwrap();
    assert!(room.w.breaks(&Viewer::participant(room.fac)).is_empty());
    assert!(room.w.breaks(&Viewer::participant(sam)).is_empty());
    // Clearing again, or clearing someone who never asked, does nothing.
    let heads = room.w.heads();
    room.w.clear_break(now, room.fac, sam).unwrap();
    room.w.clear_break(now, room.fac, kim).unwrap();
    assert_eq!(room.w.heads(), heads);
    let stranger = ParticipantId::random(&mut room.rng);
    assert_eq!(room.w.clear_break(now, room.fac, stranger).unwrap_err().kind(), "not_found");
}

#[test]
fn strangers_and_removed_people_cannot_ask_and_a_removed_persons_break_is_hidden() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let now = room.tick();
    let stranger = ParticipantId::random(&mut room.rng);
    assert_eq!(refusal(room.w.ask_for_break(now, stranger, true).unwrap_err()), Refusal::NotAMember);
    room.w.ask_for_break(now, sam, true).unwrap();
    room.w.remove_participant(now, room.fac, sam).unwrap();
    assert!(room.w.breaks(&Viewer::participant(room.fac)).is_empty());
    assert!(room.w.breaks(&Viewer::participant(sam)).is_empty());
    assert_eq!(refusal(room.w.ask_for_break(now, sam, false).unwrap_err()), Refusal::Removed);
    // The request stays in the document, so the facilitator can still tidy it up.
    room.w.clear_break(now, room.fac, sam).unwrap();
}

#[test]
fn a_break_asked_on_one_device_and_cleared_by_the_facilitator_elsewhere_merges() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let mut sams_phone = room.w.fork(random_actor(&mut room.rng));
    let asked = room.tick();
    sams_phone.ask_for_break(asked, sam, true).unwrap();
    room.w.merge(&mut sams_phone).unwrap();
    assert_eq!(who(&room.w.breaks(&Viewer::participant(room.fac))), [sam]);

    // The facilitator says "seen, thanks" while Sam, apart, also takes the request down.
    let now = room.tick();
    room.w.clear_break(now, room.fac, sam).unwrap();
    sams_phone.ask_for_break(now, sam, false).unwrap();
    room.w.merge(&mut sams_phone).unwrap();
    sams_phone.merge(&mut room.w).unwrap();
    for w in [&room.w, &sams_phone] {
        assert!(w.breaks(&Viewer::participant(room.fac)).is_empty());
        assert!(w.breaks(&Viewer::participant(sam)).is_empty());
    }

    // Sam asks again while the facilitator, on a laptop that has only seen the earlier
    // request, clears it: the new request was never seen there, so it stays.
    let mut fac_laptop = room.w.fork(random_actor(&mut room.rng));
    let first = room.tick();
    sams_phone.ask_for_break(first, sam, true).unwrap();
    fac_laptop.merge(&mut sams_phone).unwrap();
    let second = room.tick();
    sams_phone.ask_for_break(second, sam, false).unwrap();
    sams_phone.ask_for_break(second, sam, true).unwrap();
    fac_laptop.clear_break(second, room.fac, sam).unwrap();
    fac_laptop.merge(&mut sams_phone).unwrap();
    sams_phone.merge(&mut fac_laptop).unwrap();
    for w in [&fac_laptop, &sams_phone] {
        assert_eq!(w.breaks(&Viewer::participant(room.fac)), [BreakView { participant: sam, since: second }]);
    }
}
