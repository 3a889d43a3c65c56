//! The board: areas, notes, moving and colouring, withdrawing, clusters, dot votes, private
//! writing and the reveal.

mod common;

use common::{refusal, Room};
use commonground_workshop::*;

#[test]
fn a_note_appears_for_everyone_with_its_author_and_position() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let id = room.note(sam, "  More evening sessions  ");
    let board = room.w.board(&Viewer::participant(room.fac));
    let note = &board.prompts[0].notes[0];
    assert_eq!(note.id, id);
    assert_eq!(note.text, "More evening sessions", "surrounding space is trimmed");
    assert!(matches!(&note.author, AuthorView::Participant { name, .. } if name == "Sam"));
    assert!(!note.mine);
    assert!(room.w.note(&Viewer::participant(sam), id).unwrap().mine);
    assert_eq!((note.x, note.y), (10.0, 20.0));
    assert_eq!(note.colour, Colour::Sun);
    assert!(!note.private);
}

#[test]
fn empty_or_overlong_notes_and_unknown_areas_are_refused_and_nothing_is_written() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let heads = room.w.heads();
    let now = room.tick();
    let prompt = room.prompt();
    let add = |room: &mut Room, text: String, prompt: PromptId, x: f64| {
        room.w.add_note(
            now,
            &Writer::Named(sam),
            &mut room.rng,
            NewNote { prompt, text, colour: Colour::Sun, x, y: 0.0, private: false },
        )
    };
    assert_eq!(refusal(add(&mut room, "   ".into(), prompt, 0.0).unwrap_err()), Refusal::EmptyText);
    assert!(matches!(
        refusal(add(&mut room, "a".repeat(1001), prompt, 0.0).unwrap_err()),
        Refusal::TooLong { max: 1000, len: 1001 }
    ));
    assert!(matches!(
        refusal(add(&mut room, "Hi".into(), prompt, f64::NAN).unwrap_err()),
        Refusal::OutOfRange(_)
    ));
    let unknown = PromptId::random(&mut room.rng);
    assert!(matches!(
        add(&mut room, "Hi".into(), unknown, 0.0).unwrap_err(),
        WorkshopError::NotFound(ObjectKind::Prompt)
    ));
    assert_eq!(room.w.heads(), heads, "a refused operation writes nothing");
}

#[test]
fn someone_not_in_the_workshop_cannot_write() {
    let mut room = Room::new();
    let stranger = ParticipantId::random(&mut room.rng);
    let now = room.tick();
    let prompt = room.prompt();
    let err = room
        .w
        .add_note(
            now,
            &Writer::Named(stranger),
            &mut room.rng,
            NewNote { prompt, text: "Hello".into(), colour: Colour::Sun, x: 0.0, y: 0.0, private: false },
        )
        .unwrap_err();
    assert_eq!(refusal(err), Refusal::NotAMember);
}

#[test]
fn notes_are_edited_by_splices_and_replacements() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let id = room.note(sam, "More sessions");
    let now = room.tick();
    let me = Writer::Named(sam);
    room.w
        .edit_note(now, &me, id, &TextEdit::Splice { index: 5, delete: 0, insert: "evening ".into() })
        .unwrap();
    assert_eq!(room.texts(&Viewer::default()), ["More evening sessions"]);
    room.w.edit_note(now, &me, id, &TextEdit::Replace { text: "More weekend sessions".into() }).unwrap();
    assert_eq!(room.texts(&Viewer::default()), ["More weekend sessions"]);
    let err =
        room.w.edit_note(now, &me, id, &TextEdit::Splice { index: 99, delete: 1, insert: String::new() });
    assert_eq!(refusal(err.unwrap_err()), Refusal::EditOutOfRange);
    let err = room.w.edit_note(now, &me, id, &TextEdit::Replace { text: " ".into() });
    assert_eq!(refusal(err.unwrap_err()), Refusal::EmptyText);
    // Anyone can edit a shared note: the text is collaborative.
    let fac = Writer::Named(room.fac);
    room.w
        .edit_note(now, &fac, id, &TextEdit::Splice { index: 0, delete: 4, insert: "Fewer".into() })
        .unwrap();
    assert_eq!(room.texts(&Viewer::default()), ["Fewer weekend sessions"]);
}

#[test]
fn concurrent_typing_in_one_note_merges_character_by_character() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let id = room.note(sam, "Peer support");
    let mut other = room.w.fork(random_actor(&mut room.rng));
    let now = room.tick();
    room.w
        .edit_note(
            now,
            &Writer::Named(sam),
            id,
            &TextEdit::Splice { index: 0, delete: 0, insert: "More ".into() },
        )
        .unwrap();
    other
        .edit_note(
            now,
            &Writer::Named(room.fac),
            id,
            &TextEdit::Splice { index: 12, delete: 0, insert: " groups".into() },
        )
        .unwrap();
    room.w.merge(&mut other).unwrap();
    assert_eq!(room.texts(&Viewer::default()), ["More Peer support groups"]);
}

#[test]
fn notes_move_between_areas_and_change_colour_without_dragging() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let id = room.note(sam, "Drop-in cafe");
    let now = room.tick();
    let second = room.w.add_prompt(now, room.fac, &mut room.rng, "What gets in the way?", None).unwrap();
    room.w.move_note(now, &Writer::Named(sam), id, Some(second), 300.0, 40.0).unwrap();
    room.w.set_note_colour(now, &Writer::Named(sam), id, Colour::Lilac).unwrap();
    let board = room.w.board(&Viewer::default());
    assert!(board.prompts[0].notes.is_empty());
    let note = &board.prompts[1].notes[0];
    assert_eq!((note.prompt, note.x, note.y, note.colour), (second, 300.0, 40.0, Colour::Lilac));
    assert_eq!(board.prompts[1].title, "What gets in the way?");
    let err = room.w.move_note(now, &Writer::Named(sam), id, None, f64::INFINITY, 0.0).unwrap_err();
    assert!(matches!(refusal(err), Refusal::OutOfRange(_)));
}

#[test]
fn areas_are_ordered_by_fractional_index_and_edited_by_the_facilitator_only() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let now = room.tick();
    let first = room.prompt();
    let second = room.w.add_prompt(now, room.fac, &mut room.rng, "Second", None).unwrap();
    let third = room.w.add_prompt(now, room.fac, &mut room.rng, "Third", None).unwrap();
    let orders: Vec<f64> = room.w.board(&Viewer::default()).prompts.iter().map(|p| p.order).collect();
    room.w.set_prompt_order(now, room.fac, third, order_between(Some(orders[0]), Some(orders[1]))).unwrap();
    let ids: Vec<PromptId> = room.w.board(&Viewer::default()).prompts.iter().map(|p| p.id).collect();
    assert_eq!(ids, [first, third, second]);
    room.w
        .edit_prompt_title(now, room.fac, second, &TextEdit::Replace { text: "What matters most?".into() })
        .unwrap();
    assert_eq!(room.w.board(&Viewer::default()).prompts[2].title, "What matters most?");
    assert_eq!(
        refusal(room.w.add_prompt(now, sam, &mut room.rng, "Mine", None).unwrap_err()),
        Refusal::FacilitatorOnly
    );
    assert_eq!(
        refusal(room.w.set_prompt_order(now, room.fac, second, f64::NAN).unwrap_err()).code(),
        "out_of_range"
    );
    assert_eq!(order_between(None, None), 1.0);
    assert_eq!(order_between(Some(2.0), None), 3.0);
    assert_eq!(order_between(None, Some(2.0)), 1.0);
}

#[test]
fn withdrawn_notes_leave_every_view_and_only_the_writer_or_facilitator_can_withdraw() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let a = room.note(sam, "Withdraw me");
    let b = room.note(sam, "Facilitator withdraws me");
    let now = room.tick();
    assert_eq!(refusal(room.w.withdraw_note(now, &Writer::Named(kim), a).unwrap_err()), Refusal::NotYourNote);
    room.w.withdraw_note(now, &Writer::Named(sam), a).unwrap();
    room.w.withdraw_note(now, &Writer::Named(room.fac), b).unwrap();
    assert!(room.texts(&Viewer::participant(sam)).is_empty());
    assert!(room.w.note(&Viewer::participant(sam), a).is_none());
    let err = room
        .w
        .edit_note(now, &Writer::Named(sam), a, &TextEdit::Replace { text: "back".into() })
        .unwrap_err();
    assert_eq!(refusal(err), Refusal::Withdrawn(ObjectKind::Note));
    assert_eq!(refusal(room.w.set_votes(now, kim, a, 1).unwrap_err()).code(), "note_not_shared");
}

#[test]
fn clusters_group_notes_within_an_area() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let a = room.note(sam, "Evening sessions");
    let b = room.note(sam, "Weekend sessions");
    let now = room.tick();
    let prompt = room.prompt();
    let cluster = room.w.add_cluster(now, sam, &mut room.rng, prompt, "When we meet").unwrap();
    room.w.set_note_cluster(now, &Writer::Named(sam), a, Some(cluster)).unwrap();
    room.w.set_note_cluster(now, &Writer::Named(room.fac), b, Some(cluster)).unwrap();
    room.w
        .edit_cluster_title(now, sam, cluster, &TextEdit::Replace { text: "Times that work".into() })
        .unwrap();
    let board = room.w.board(&Viewer::default());
    assert_eq!(
        board.prompts[0].clusters,
        vec![ClusterView { id: cluster, title: "Times that work".into(), prompt }]
    );
    assert!(board.prompts[0].notes.iter().all(|n| n.cluster == Some(cluster)));
    room.w.set_note_cluster(now, &Writer::Named(sam), b, None).unwrap();
    assert_eq!(room.w.note(&Viewer::default(), b).unwrap().cluster, None);
    // Moving a note to another area takes it out of its group.
    let other = room.w.add_prompt(now, room.fac, &mut room.rng, "Elsewhere", None).unwrap();
    room.w.move_note(now, &Writer::Named(sam), a, Some(other), 0.0, 0.0).unwrap();
    assert_eq!(room.w.note(&Viewer::default(), a).unwrap().cluster, None);
    let unknown = ClusterId::random(&mut room.rng);
    let err = room.w.set_note_cluster(now, &Writer::Named(sam), a, Some(unknown)).unwrap_err();
    assert!(matches!(err, WorkshopError::NotFound(ObjectKind::Cluster)));
}

#[test]
fn dot_votes_respect_each_persons_budget_and_never_conflict() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let a = room.note(sam, "A");
    let b = room.note(sam, "B");
    let now = room.tick();
    room.w.set_vote_budget(now, room.fac, 3).unwrap();
    room.w.set_votes(now, kim, a, 2).unwrap();
    room.w.set_votes(now, kim, b, 1).unwrap();
    assert_eq!(refusal(room.w.set_votes(now, kim, b, 2).unwrap_err()), Refusal::VoteBudget { budget: 3 });
    // Moving a dot: take it off one note, then put it on another.
    room.w.set_votes(now, kim, a, 1).unwrap();
    room.w.set_votes(now, kim, b, 2).unwrap();
    // Sam votes concurrently on another laptop: separate keys, so both count.
    let mut other = room.w.fork(random_actor(&mut room.rng));
    other.set_votes(now, sam, b, 3).unwrap();
    room.w.merge(&mut other).unwrap();
    let view = room.w.board(&Viewer::participant(kim));
    let nb = view.prompts[0].notes.iter().find(|n| n.id == b).unwrap();
    assert_eq!((nb.votes, nb.my_votes), (5, 2));
    assert_eq!(view.votes_left, 0);
    assert_eq!(room.w.board(&Viewer::participant(room.fac)).votes_left, 3);
    assert_eq!(refusal(room.w.set_vote_budget(now, room.fac, 0).unwrap_err()).code(), "out_of_range");
    assert_eq!(refusal(room.w.set_vote_budget(now, sam, 4).unwrap_err()), Refusal::FacilitatorOnly);
}

#[test]
fn private_notes_are_hidden_from_others_until_the_facilitator_reveals() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let kim = room.join("Kim");
    let id = room.note_as(&Writer::Named(sam), "My private thought", true);
    assert_eq!(room.texts(&Viewer::participant(sam)), ["My private thought"]);
    assert!(room.w.note(&Viewer::participant(sam), id).unwrap().private);
    assert!(room.texts(&Viewer::participant(kim)).is_empty());
    assert!(room.texts(&Viewer::participant(room.fac)).is_empty(), "not even the facilitator sees it");
    let now = room.tick();
    // Nobody else can edit, vote on, or use it while it's private.
    let err =
        room.w.edit_note(now, &Writer::Named(kim), id, &TextEdit::Replace { text: "x".into() }).unwrap_err();
    assert_eq!(refusal(err), Refusal::NotYourNote);
    assert_eq!(refusal(room.w.set_votes(now, kim, id, 1).unwrap_err()).code(), "note_not_shared");
    room.w
        .edit_note(now, &Writer::Named(sam), id, &TextEdit::Replace { text: "My shared thought".into() })
        .unwrap();
    assert_eq!(refusal(room.w.reveal_notes(now, sam, None).unwrap_err()), Refusal::FacilitatorOnly);
    assert_eq!(room.w.reveal_notes(now, room.fac, None).unwrap(), 1);
    assert_eq!(room.texts(&Viewer::participant(kim)), ["My shared thought"]);
    assert!(!room.w.note(&Viewer::participant(sam), id).unwrap().private);
    assert_eq!(room.w.reveal_notes(now, room.fac, None).unwrap(), 0);
}

#[test]
fn notes_written_in_the_private_phase_are_private_and_reveal_can_be_per_area() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let now = room.tick();
    room.w.set_phase(now, room.fac, Phase::WritePrivately).unwrap();
    let first = room.prompt();
    let second = room.w.add_prompt(now, room.fac, &mut room.rng, "Second", None).unwrap();
    room.note(sam, "In the first area");
    room.w
        .add_note(
            now,
            &Writer::Named(sam),
            &mut room.rng,
            NewNote {
                prompt: second,
                text: "In the second".into(),
                colour: Colour::Sun,
                x: 0.0,
                y: 0.0,
                private: false,
            },
        )
        .unwrap();
    let everyone = Viewer::participant(room.fac);
    assert_eq!(room.w.board(&everyone).prompts.iter().map(|p| p.notes.len()).sum::<usize>(), 0);
    assert_eq!(room.w.reveal_notes(now, room.fac, Some(first)).unwrap(), 1);
    let board = room.w.board(&everyone);
    assert_eq!((board.prompts[0].notes.len(), board.prompts[1].notes.len()), (1, 0));
    assert_eq!(room.w.reveal_notes(now, room.fac, Some(second)).unwrap(), 1);
}

#[test]
fn a_note_whose_area_is_unknown_is_kept_visible_not_lost() {
    let mut room = Room::new();
    let sam = room.join("Sam");
    let id = room.note(sam, "Orphan");
    // Simulate a damaged or foreign write that points the note at an area we don't have.
    let mut doc = automerge::AutoCommit::load(&room.w.save()).unwrap();
    use automerge::transaction::Transactable;
    use automerge::ReadDoc;
    let notes = doc.get(automerge::ROOT, "notes").unwrap().unwrap().1;
    let note = doc.get(&notes, id.to_string()).unwrap().unwrap().1;
    doc.put(&note, "prompt", "9b2e1c3a-0000-4000-8000-000000000000").unwrap();
    let w = Workshop::load(&doc.save(), random_actor(&mut room.rng), Timestamp(room.now)).unwrap();
    let board = w.board(&Viewer::default());
    assert_eq!(board.unplaced.len(), 1);
    assert_eq!(board.unplaced[0].text, "Orphan");
}
