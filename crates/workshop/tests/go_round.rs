//! The go-round: the facilitator starts it and moves it on, anyone in it may pass (from their
//! own device, without saying it aloud), and concurrent moves merge without sending the room
//! back to someone who has already spoken.

mod common;

use common::{refusal, Room};
use commonground_workshop::*;

fn round(w: &Workshop) -> GoRoundView {
    w.meta().go_round.expect("a go-round is running")
}

#[test]
fn the_facilitator_starts_a_go_round_that_everyone_sees() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    assert_eq!(room.w.meta().go_round, None);
    let started = room.tick();
    room.w.start_go_round(started, room.fac, &[kim, sam, room.fac]).unwrap();
    assert_eq!(
        round(&room.w),
        GoRoundView { started_at: started, order: vec![kim, sam, room.fac], turn: 0, passed: vec![] }
    );
    let json = serde_json::to_value(room.w.meta()).unwrap();
    assert_eq!(json["go_round"]["turn"], 0);
    assert_eq!(json["go_round"]["order"][0], kim.to_string());
}

#[test]
fn a_go_round_needs_a_facilitator_and_a_sensible_order() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let now = room.tick();
    let heads = room.w.heads();
    assert_eq!(refusal(room.w.start_go_round(now, sam, &[sam, kim]).unwrap_err()), Refusal::FacilitatorOnly);
    let empty = refusal(room.w.start_go_round(now, room.fac, &[]).unwrap_err());
    assert_eq!(empty.code(), "go_round_order");
    assert!(empty.to_string().contains("at least one person"), "{empty}");
    let twice = refusal(room.w.start_go_round(now, room.fac, &[sam, kim, sam]).unwrap_err());
    assert_eq!(twice.code(), "go_round_order");
    assert!(twice.to_string().contains("once"), "{twice}");
    let stranger = ParticipantId::random(&mut room.rng);
    let strange = refusal(room.w.start_go_round(now, room.fac, &[sam, stranger]).unwrap_err());
    assert_eq!(strange.code(), "go_round_order");
    room.w.remove_participant(now, room.fac, kim).unwrap();
    let heads_after_removal = room.w.heads();
    let gone = refusal(room.w.start_go_round(now, room.fac, &[sam, kim]).unwrap_err());
    assert_eq!(gone.code(), "go_round_order");
    assert_eq!(room.w.heads(), heads_after_removal, "nothing is written when refused");
    assert_ne!(heads, heads_after_removal);
    assert_eq!(room.w.meta().go_round, None);
}

#[test]
fn next_moves_the_turn_on_and_stops_once_everyone_has_had_a_turn() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let now = room.tick();
    assert_eq!(refusal(room.w.next_in_go_round(now, room.fac).unwrap_err()), Refusal::NoGoRound);
    room.w.start_go_round(now, room.fac, &[sam, room.fac]).unwrap();
    assert_eq!(refusal(room.w.next_in_go_round(now, sam).unwrap_err()), Refusal::FacilitatorOnly);
    room.w.next_in_go_round(now, room.fac).unwrap();
    assert_eq!(round(&room.w).turn, 1);
    room.w.next_in_go_round(now, room.fac).unwrap();
    assert_eq!(round(&room.w).turn, 2, "everyone has had a turn");
    let heads = room.w.heads();
    room.w.next_in_go_round(now, room.fac).unwrap();
    assert_eq!(round(&room.w).turn, 2, "it never goes past the end");
    assert_eq!(room.w.heads(), heads, "and pressing next again changes nothing");
}

#[test]
fn passing_on_your_turn_moves_the_go_round_on_and_passing_early_just_marks_it() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let lee = room.join("Lee");
    let now = room.tick();
    room.w.start_go_round(now, room.fac, &[sam, kim, room.fac]).unwrap();

    // Kim passes ahead of her turn: marked, and Sam still has the floor.
    let early = room.tick();
    room.w.pass_in_go_round(early, kim).unwrap();
    assert_eq!((round(&room.w).turn, round(&room.w).passed), (0, vec![kim]));

    // Sam passes on his turn: the go-round moves on to Kim.
    let t = room.tick();
    room.w.pass_in_go_round(t, sam).unwrap();
    assert_eq!(
        (round(&room.w).turn, round(&room.w).passed),
        (1, vec![sam, kim]),
        "passes in the go-round's order"
    );

    // Kim has already passed; passing again on her turn moves it on.
    let t = room.tick();
    room.w.pass_in_go_round(t, kim).unwrap();
    assert_eq!(round(&room.w).turn, 2);
    assert_eq!(round(&room.w).passed, vec![sam, kim]);

    // People not in it, strangers and the removed can't pass.
    assert_eq!(refusal(room.w.pass_in_go_round(now, lee).unwrap_err()), Refusal::NotInGoRound);
    let stranger = ParticipantId::random(&mut room.rng);
    assert_eq!(refusal(room.w.pass_in_go_round(now, stranger).unwrap_err()), Refusal::NotAMember);
    room.w.remove_participant(now, room.fac, sam).unwrap();
    assert_eq!(refusal(room.w.pass_in_go_round(now, sam).unwrap_err()), Refusal::Removed);
    room.w.end_go_round(now, room.fac).unwrap();
    assert_eq!(refusal(room.w.pass_in_go_round(now, kim).unwrap_err()), Refusal::NoGoRound);
}

#[test]
fn passing_twice_keeps_the_first_time_and_changes_nothing() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let now = room.tick();
    room.w.start_go_round(now, room.fac, &[sam, kim]).unwrap();
    let t = room.tick();
    room.w.pass_in_go_round(t, kim).unwrap();
    let heads = room.w.heads();
    let t = room.tick();
    room.w.pass_in_go_round(t, kim).unwrap();
    assert_eq!(room.w.heads(), heads);
    assert_eq!(round(&room.w).turn, 0);
}

#[test]
fn ending_and_restarting_a_go_round() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let now = room.tick();
    room.w.start_go_round(now, room.fac, &[sam, kim]).unwrap();
    room.w.pass_in_go_round(now, sam).unwrap();
    assert_eq!(refusal(room.w.end_go_round(now, sam).unwrap_err()), Refusal::FacilitatorOnly);

    // Starting another replaces the old one whole: nobody has passed in the new one yet.
    let again = room.tick();
    room.w.start_go_round(again, room.fac, &[kim, sam]).unwrap();
    assert_eq!(
        round(&room.w),
        GoRoundView { started_at: again, order: vec![kim, sam], turn: 0, passed: vec![] }
    );

    let t = room.tick();

    room.w.end_go_round(t, room.fac).unwrap();
    assert_eq!(room.w.meta().go_round, None);
    let heads = room.w.heads();
    let t = room.tick();
    room.w.end_go_round(t, room.fac).unwrap();
    assert_eq!(room.w.heads(), heads, "ending when none is running changes nothing");
}

#[test]
fn a_pass_on_one_laptop_and_next_on_another_both_land_without_skipping_anyone() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let now = room.tick();
    room.w.start_go_round(now, room.fac, &[sam, kim, room.fac]).unwrap();
    let mut sams_laptop = room.w.fork(random_actor(&mut room.rng));

    // Sam passes from his laptop as the facilitator presses "next" on hers.
    sams_laptop.pass_in_go_round(room.tick(), sam).unwrap();
    let t = room.tick();
    room.w.next_in_go_round(t, room.fac).unwrap();
    room.w.merge(&mut sams_laptop).unwrap();
    sams_laptop.merge(&mut room.w).unwrap();
    for w in [&room.w, &sams_laptop] {
        let r = round(w);
        assert_eq!(r.turn, 1, "Kim's turn: both meant 'move on from Sam'");
        assert_eq!(r.passed, vec![sam]);
    }

    // Kim passes from her phone while the facilitator, not having seen it, moves on twice:
    // the furthest turn wins, never going back to someone who has spoken.
    let mut kims_phone = room.w.fork(random_actor(&mut room.rng));
    kims_phone.pass_in_go_round(room.tick(), kim).unwrap();
    let t = room.tick();
    room.w.next_in_go_round(t, room.fac).unwrap();
    let t = room.tick();
    room.w.next_in_go_round(t, room.fac).unwrap();
    let mut other_order = kims_phone.fork(random_actor(&mut room.rng));
    other_order.merge(&mut room.w).unwrap();
    room.w.merge(&mut kims_phone).unwrap();
    for w in [&room.w, &other_order] {
        assert_eq!(round(w).turn, 3);
        assert_eq!(round(w).passed, vec![sam, kim]);
    }
    // Once settled, "next" stays at the end on every laptop.
    let t = room.tick();
    room.w.next_in_go_round(t, room.fac).unwrap();
    assert_eq!(round(&room.w).turn, 3);
}

#[test]
fn a_conflicting_turn_is_settled_by_the_next_move() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let lee = room.join("Lee");
    let now = room.tick();
    room.w.start_go_round(now, room.fac, &[sam, kim, lee, room.fac]).unwrap();
    let mut other = room.w.fork(random_actor(&mut room.rng));
    // One laptop moves on once, the other twice; the room is at the furthest (Lee). The
    // laptop that moved once has written more besides, so its value would win a plain
    // last-writer-wins read.
    let t = room.tick();
    room.w.add_ground_rule(t, room.fac, &mut room.rng, "Phones on silent, please").unwrap();
    room.w.next_in_go_round(t, room.fac).unwrap();
    other.next_in_go_round(room.tick(), room.fac).unwrap();
    other.next_in_go_round(room.tick(), room.fac).unwrap();
    room.w.merge(&mut other).unwrap();
    assert_eq!(round(&room.w).turn, 2);
    // Lee passes: it moves on from Lee, not from whichever value happened to win.
    let t = room.tick();
    room.w.pass_in_go_round(t, lee).unwrap();
    assert_eq!(round(&room.w).turn, 3);
    other.merge(&mut room.w).unwrap();
    assert_eq!(round(&other).turn, 3);
}

#[test]
fn a_go_round_ended_on_one_laptop_stays_ended_when_a_pass_arrives_from_another() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let now = room.tick();
    room.w.start_go_round(now, room.fac, &[sam, room.fac]).unwrap();
    let mut sams_phone = room.w.fork(random_actor(&mut room.rng));
    sams_phone.pass_in_go_round(room.tick(), sam).unwrap();
    let t = room.tick();
    room.w.end_go_round(t, room.fac).unwrap();
    room.w.merge(&mut sams_phone).unwrap();
    sams_phone.merge(&mut room.w).unwrap();
    assert_eq!(room.w.meta().go_round, None);
    assert_eq!(sams_phone.meta().go_round, None);
}

#[test]
fn two_facilitators_starting_go_rounds_at_once_see_one_of_them_whole() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let now = room.tick();
    room.w.set_facilitator(now, room.fac, kim, true).unwrap();
    let mut kims_laptop = room.w.fork(random_actor(&mut room.rng));
    let t = room.tick();
    room.w.start_go_round(t, room.fac, &[sam, kim]).unwrap();
    kims_laptop.start_go_round(room.tick(), kim, &[kim, room.fac, sam]).unwrap();
    kims_laptop.pass_in_go_round(room.tick(), kim).unwrap();
    room.w.merge(&mut kims_laptop).unwrap();
    kims_laptop.merge(&mut room.w).unwrap();
    let (a, b) = (round(&room.w), round(&kims_laptop));
    assert_eq!(a, b);
    assert!(
        a.order == [sam, kim] && a.passed.is_empty() || a.order == [kim, room.fac, sam] && a.passed == [kim]
    );
}
