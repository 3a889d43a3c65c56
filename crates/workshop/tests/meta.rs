//! The title and purpose, phases, the shared timer, and ground rules.

mod common;

use common::{refusal, Room};
use commonground_workshop::*;

#[test]
fn the_facilitator_moves_the_room_through_phases_and_edits_title_and_purpose() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let now = room.tick();
    for phase in Phase::ALL {
        room.w.set_phase(now, room.fac, *phase).unwrap();
        assert_eq!(room.w.meta().phase, *phase);
        assert!(!phase.label().is_empty());
    }
    assert_eq!(refusal(room.w.set_phase(now, sam, Phase::Vote).unwrap_err()), Refusal::FacilitatorOnly);
    room.w.edit_title(now, room.fac, &TextEdit::Replace { text: "Living Well team".into() }).unwrap();
    room.w
        .edit_purpose(now, room.fac, &TextEdit::Splice { index: 0, delete: 6, insert: "Shape".into() })
        .unwrap();
    let meta = room.w.meta();
    assert_eq!(meta.title, "Living Well team");
    assert!(meta.purpose.starts_with("Shape the new"));
    assert_eq!(
        refusal(room.w.edit_title(now, room.fac, &TextEdit::Replace { text: "".into() }).unwrap_err()),
        Refusal::EmptyText
    );
    assert_eq!(
        refusal(room.w.edit_title(now, sam, &TextEdit::Replace { text: "Mine".into() }).unwrap_err()),
        Refusal::FacilitatorOnly
    );
}

#[test]
fn the_timer_starts_pauses_resumes_and_clears() {
    let mut room = Room::new();
    let t0 = room.now;
    room.w.start_timer(Timestamp(t0), room.fac, 300_000).unwrap();
    assert_eq!(
        room.w.meta().timer,
        TimerView::Running { ends_at: Timestamp(t0 + 300_000), duration_ms: 300_000 }
    );
    room.w.pause_timer(Timestamp(t0 + 60_000), room.fac).unwrap();
    assert_eq!(room.w.meta().timer, TimerView::Paused { remaining_ms: 240_000, duration_ms: 300_000 });
    room.w.resume_timer(Timestamp(t0 + 100_000), room.fac).unwrap();
    assert_eq!(
        room.w.meta().timer,
        TimerView::Running { ends_at: Timestamp(t0 + 340_000), duration_ms: 300_000 }
    );
    room.w.clear_timer(Timestamp(t0 + 120_000), room.fac).unwrap();
    assert_eq!(room.w.meta().timer, TimerView::Off);
    assert_eq!(refusal(room.w.start_timer(Timestamp(t0), room.fac, 10).unwrap_err()).code(), "out_of_range");
    let sam = room.join("Sam");
    assert_eq!(
        refusal(room.w.start_timer(Timestamp(t0), sam, 60_000).unwrap_err()),
        Refusal::FacilitatorOnly
    );
}

#[test]
fn ground_rules_are_added_edited_and_removed_by_the_facilitator() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let now = room.tick();
    let id = room.w.add_ground_rule(now, room.fac, &mut room.rng, "Phones on silent").unwrap();
    assert_eq!(room.w.ground_rules().last().unwrap().text, "Phones on silent");
    room.w
        .edit_ground_rule(now, room.fac, id, &TextEdit::Replace { text: "Phones on silent, please".into() })
        .unwrap();
    assert_eq!(room.w.ground_rules().last().unwrap().text, "Phones on silent, please");
    let first = room.w.ground_rules()[0].id;
    room.w.remove_ground_rule(now, room.fac, first).unwrap();
    assert_eq!(room.w.ground_rules().len(), DEFAULT_GROUND_RULES.len());
    assert_eq!(
        refusal(room.w.add_ground_rule(now, sam, &mut room.rng, "Mine").unwrap_err()),
        Refusal::FacilitatorOnly
    );
    assert_eq!(
        refusal(room.w.add_ground_rule(now, room.fac, &mut room.rng, " ").unwrap_err()),
        Refusal::EmptyText
    );
}

#[test]
fn every_error_message_is_plain_english_with_a_stable_kind() {
    let refusals = [
        Refusal::FacilitatorOnly,
        Refusal::NotAMember,
        Refusal::Removed,
        Refusal::EmptyText,
        Refusal::TooLong { max: 10, len: 11 },
        Refusal::EditOutOfRange,
        Refusal::ReasonRequired(Stance::Object),
        Refusal::VoteBudget { budget: 5 },
        Refusal::NoteNotShared("voted on"),
        Refusal::NotYourNote,
        Refusal::Withdrawn(ObjectKind::Note),
        Refusal::ValueInConsent,
        Refusal::RoundAlreadyOpen,
        Refusal::RoundClosed,
        Refusal::AlreadyAgreed,
        Refusal::ChangedViewIsTheirs,
        Refusal::LastFacilitator,
        Refusal::BadSource,
        Refusal::NoGoRound,
        Refusal::NotInGoRound,
        Refusal::GoRoundOrder("Please choose at least one person for the go-round."),
    ];
    for r in refusals {
        let message = r.to_string();
        assert!(message.ends_with('.'), "{message}");
        for jargon in ["error", "invalid", "CRDT", "peer", "sync", "actor"] {
            assert!(!message.to_lowercase().contains(&jargon.to_lowercase()), "{message}");
        }
        assert!(r.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    }
    assert!(Refusal::ReasonRequired(Stance::Object).to_string().contains("\"Object\""));
}
