//! Rules of DESIGN.md section 2 that must hold when laptops act at the same time and then
//! merge (found while writing the convergence properties). Every replica ends up the same
//! either way; these check that what converges still keeps the rule. The test still
//! ignored is a known limitation, explained where it stands; run it with
//! `cargo test -p commonground-testkit --test concurrent_rules -- --ignored`.

use commonground_testkit::Network;
use commonground_workshop::{
    random_actor, AnonymousActor, Colour, NewNote, NewWorkshop, NoteId, ParticipantId, PromptId,
    RoundOutcome, Stance, TextEdit, Timestamp, ValueStatus, Viewer, Workshop, Writer,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A room of three laptops: Sam (facilitator) on 0, Ngozi on 1, Zoë on 2, all synced.
fn room(seed: u64) -> (Network, [ParticipantId; 3]) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let new = NewWorkshop {
        title: "Living Well design team".into(),
        purpose: "Design the new service together.".into(),
        facilitator_name: "Sam".into(),
        facilitator_colour: Colour::Sky,
        ground_rules: None,
    };
    let (first, sam) = Workshop::create(random_actor(&mut rng), Timestamp(1_000), &mut rng, new).unwrap();
    let mut net = Network::new(seed ^ 0xabcd, first, 3);
    let (w, rng) = net.peer_and_rng(1);
    let ngozi = w.join(Timestamp(2_000), rng, "Ngozi", Colour::Leaf, None).unwrap();
    let (w, rng) = net.peer_and_rng(2);
    let zoe = w.join(Timestamp(2_000), rng, "Zoë", Colour::Rose, None).unwrap();
    net.run_until_quiescent();
    (net, [sam, ngozi, zoe])
}

fn t(s: i64) -> Timestamp {
    Timestamp(10_000 + s * 1_000)
}

fn first_prompt(w: &Workshop) -> PromptId {
    w.board(&Viewer::default()).prompts[0].id
}

fn shared_note(net: &mut Network, r: usize, by: ParticipantId, prompt: PromptId, text: &str) -> NoteId {
    let (w, rng) = net.peer_and_rng(r);
    let new = NewNote { prompt, text: text.into(), colour: Colour::Sun, x: 0.0, y: 0.0, private: false };
    w.add_note(t(1), &Writer::Named(by), rng, new).unwrap()
}

// Guards "the workshop always has a facilitator" (meta.rs `set_facilitator`: "The last
// facilitator can't step down until someone else has the role") against two co-facilitators
// stepping down at once on different laptops, each seeing the other still in the role.
#[test]
fn two_facilitators_stepping_down_at_once_leave_one() {
    let (mut net, [sam, ngozi, _]) = room(1);
    net.peer_mut(0).set_facilitator(t(1), sam, ngozi, true).unwrap();
    net.run_until_quiescent();
    net.partition(&[&[0], &[1, 2]]);
    net.peer_mut(0).set_facilitator(t(2), sam, sam, false).unwrap();
    net.peer_mut(1).set_facilitator(t(2), ngozi, ngozi, false).unwrap();
    net.heal_all();
    net.run_until_quiescent();
    assert!(net.converged());
    let facilitators = net.peer(0).meta().facilitators;
    // Nobody can hand the role on now: every facilitator-only action is refused for good.
    let stuck = net.peer_mut(0).set_facilitator(t(3), sam, sam, true).is_err();
    assert!(!facilitators.is_empty() && !stuck, "no facilitator is left, and nobody can become one");
}

// Guards the same rule against a facilitator removing the other from the workshop while that
// one removes them (participants.rs `remove_participant`).
#[test]
fn two_facilitators_removing_each_other_leave_one() {
    let (mut net, [sam, ngozi, _]) = room(2);
    net.peer_mut(0).set_facilitator(t(1), sam, ngozi, true).unwrap();
    net.run_until_quiescent();
    net.partition(&[&[0], &[1, 2]]);
    net.peer_mut(0).remove_participant(t(2), sam, ngozi).unwrap();
    net.peer_mut(1).remove_participant(t(2), ngozi, sam).unwrap();
    net.heal_all();
    net.run_until_quiescent();
    assert!(!net.peer(0).meta().facilitators.is_empty(), "no facilitator is left");
}

// Guards "a value is agreed when its round is closed … with no unresolved objection" meaning
// the wording agreed is the wording the round asked about (values.rs `close_consent_round`
// records the statement as it is at closing, not the round's): an edit made on a laptop that
// had not yet heard the round was opened must not become the agreed wording unseen.
#[test]
fn the_agreed_wording_is_the_wording_the_round_asked_about() {
    let (mut net, [sam, ngozi, zoe]) = room(3);
    let (w, rng) = net.peer_and_rng(1);
    let value = w.draft_value(t(1), ngozi, rng, "We make time to listen.", &[]).unwrap();
    net.run_until_quiescent();
    net.partition(&[&[0, 2], &[1]]);
    let (w, rng) = net.peer_and_rng(0);
    w.open_consent_round(t(2), sam, rng, value, None).unwrap();
    let edit = TextEdit::Replace { text: "We make time to listen, unless we are busy.".into() };
    net.peer_mut(1).edit_value_statement(t(2), ngozi, value, &edit).unwrap();
    net.run_until_quiescent();
    // Sam and Zoë agree to the wording they were shown…
    let asked = net.peer(0).value(&Viewer::default(), value).unwrap().rounds[0].statement.clone();
    assert_eq!(asked, "We make time to listen.");
    for (r, who) in [(0, sam), (2, zoe)] {
        let (w, rng) = net.peer_and_rng(r);
        w.give_stance(t(3), who, rng, value, Stance::Agree, None).unwrap();
    }
    net.heal_all();
    net.run_until_quiescent();
    // …and, after Ngozi's edit arrives, the facilitator closes the round.
    assert_eq!(net.peer_mut(0).close_consent_round(t(4), sam, value).unwrap(), RoundOutcome::Agreed);
    let v = net.peer(0).value(&Viewer::default(), value).unwrap();
    assert_eq!(
        v.versions[0].statement, v.rounds[0].statement,
        "the agreed wording was never put to the room"
    );
}

// Guards "a cluster belongs to one area" (board.rs `move_note`: "a note moved elsewhere
// leaves its group") against a note being moved on one laptop while it is grouped on another.
#[test]
fn a_note_is_never_grouped_in_another_area() {
    let (mut net, [sam, ngozi, _]) = room(4);
    let (w, rng) = net.peer_and_rng(0);
    let second = w.add_prompt(t(1), sam, rng, "What could be better?", None).unwrap();
    let first = first_prompt(net.peer(0));
    let note = shared_note(&mut net, 0, sam, first, "Evening sessions");
    let (w, rng) = net.peer_and_rng(0);
    let cluster = w.add_cluster(t(1), sam, rng, first, "Timing").unwrap();
    net.run_until_quiescent();
    net.partition(&[&[0], &[1, 2]]);
    net.peer_mut(0).move_note(t(2), &Writer::Named(sam), note, Some(second), 5.0, 5.0).unwrap();
    net.peer_mut(1).set_note_cluster(t(2), &Writer::Named(ngozi), note, Some(cluster)).unwrap();
    net.heal_all();
    net.run_until_quiescent();
    let w = net.peer(0);
    let n = w.note(&Viewer::default(), note).unwrap();
    let c = w.clusters().into_iter().find(|c| c.id == cluster).unwrap();
    assert!(
        n.cluster.is_none() || c.prompt == n.prompt,
        "note in {:?} is grouped in {:?}'s cluster",
        n.prompt,
        c.prompt
    );
}

// Guards "each person has the workshop's vote budget across all notes" (board.rs
// `set_votes`, scan.rs `Ledger`) for one person voting from two devices while they are apart:
// both votes are kept, and the view counts the person's dots in note order up to the budget.
#[test]
fn one_person_on_two_laptops_cannot_vote_twice() {
    let (mut net, [sam, ngozi, _]) = room(5);
    let prompt = first_prompt(net.peer(0));
    let a = shared_note(&mut net, 0, sam, prompt, "More time to talk");
    let b = shared_note(&mut net, 0, sam, prompt, "Evening sessions");
    net.run_until_quiescent();
    net.partition(&[&[0], &[1, 2]]);
    // Ngozi's phone (replica 0) and laptop (replica 1).
    net.peer_mut(0).set_votes(t(2), ngozi, a, 5).unwrap();
    net.peer_mut(1).set_votes(t(2), ngozi, b, 5).unwrap();
    net.heal_all();
    net.run_until_quiescent();
    let board = net.peer(0).board(&Viewer::participant(ngozi));
    let spent: u32 = board.prompts.iter().flat_map(|p| &p.notes).map(|n| n.my_votes).sum();
    assert!(
        spent <= net.peer(0).meta().vote_budget,
        "{spent} dots spent of {}",
        net.peer(0).meta().vote_budget
    );
    let total: u32 = board.prompts.iter().flat_map(|p| &p.notes).map(|n| n.votes).sum();
    assert_eq!(total, spent, "the totals every laptop shows count the same dots");
    assert_eq!(board.votes_left, 0);
}

// Guards DESIGN.md "anonymous notes are written through a separate, unlinked Automerge actor
// id so that inspecting the document's history cannot tie them to their author": the
// anonymous change must not depend on a change that only its author's laptop had.
#[test]
#[ignore = "known limitation: an anonymous change depends on the heads of the laptop that wrote it, which may include its writer's own unshared change"]
fn an_anonymous_change_does_not_depend_on_its_writers_unshared_change() {
    let (mut net, [_, ngozi, _]) = room(6);
    let prompt = first_prompt(net.peer(1));
    // Ngozi writes a named note, then, before her laptop has synced, an anonymous one.
    let named = shared_note(&mut net, 1, ngozi, prompt, "I'd like evening sessions");
    let (w, rng) = net.peer_and_rng(1);
    let actor = AnonymousActor::random(rng);
    let new = NewNote {
        prompt,
        text: "I felt unheard".into(),
        colour: Colour::Sun,
        x: 0.0,
        y: 0.0,
        private: false,
    };
    w.add_note(t(2), &Writer::Anonymous(ngozi, actor.clone()), rng, new).unwrap();
    net.run_until_quiescent();
    let doc = net.peer(0).automerge();
    let changes = doc.get_changes(&[]);
    let anon_actor = automerge::ActorId::from(actor.to_bytes());
    let anonymous = changes.iter().find(|c| *c.actor_id() == anon_actor).unwrap();
    // Her laptop's latest change: the one that wrote the named note.
    let named_change =
        changes.iter().filter(|c| *c.actor_id() == *net.peer(1).actor()).max_by_key(|c| c.seq()).unwrap();
    assert!(net.peer(0).note(&Viewer::default(), named).is_some());
    assert!(
        !anonymous.deps().contains(&named_change.hash()),
        "the anonymous change depends directly on Ngozi's named change, which only her laptop had"
    );
}

// Guards "a value is agreed when its round is closed … with quorum reached and no unresolved
// objection" when two facilitators close the same round on laptops that saw different
// stances: the round's outcome and the value's status must tell the same story.
#[test]
fn concurrent_closes_agree_with_each_other() {
    let mut inconsistent = Vec::new();
    for seed in 0..16 {
        let (mut net, [sam, ngozi, zoe]) = room(100 + seed);
        net.peer_mut(0).set_facilitator(t(1), sam, ngozi, true).unwrap();
        let (w, rng) = net.peer_and_rng(0);
        let value = w.draft_value(t(1), sam, rng, "We make time to listen.", &[]).unwrap();
        w.open_consent_round(t(1), sam, rng, value, Some(1)).unwrap();
        net.run_until_quiescent();
        net.partition(&[&[0], &[1, 2]]);
        // Sam agrees and closes on laptop 0; Zoë objects and Ngozi closes on laptops 1–2.
        let (w, rng) = net.peer_and_rng(0);
        w.give_stance(t(2), sam, rng, value, Stance::Agree, None).unwrap();
        assert_eq!(w.close_consent_round(t(3), sam, value).unwrap(), RoundOutcome::Agreed);
        let (w, rng) = net.peer_and_rng(2);
        w.give_stance(t(2), zoe, rng, value, Stance::Object, Some("Not in the evenings")).unwrap();
        net.run_until_quiescent();
        assert_eq!(net.peer_mut(1).close_consent_round(t(3), ngozi, value).unwrap(), RoundOutcome::Objection);
        net.heal_all();
        net.run_until_quiescent();
        let v = net.peer(0).value(&Viewer::default(), value).unwrap();
        let outcome = v.rounds[0].outcome;
        let agreed = v.status == ValueStatus::Agreed;
        let has_agreed_version = !v.versions.is_empty();
        if agreed != (outcome == Some(RoundOutcome::Agreed)) || agreed != has_agreed_version {
            inconsistent.push((seed, v.status, outcome, v.versions.len()));
        }
    }
    assert!(inconsistent.is_empty(), "(seed, status, round outcome, agreed versions): {inconsistent:?}");
}

// Guards "a consent round" being one round at a time (values.rs `open_consent_round` refuses
// a second while one is open) for two facilitators opening a round on the same value at once:
// stances given in the round that loses must not silently stop counting.
#[test]
fn concurrent_rounds_keep_everyones_stance() {
    let (mut net, [sam, ngozi, zoe]) = room(7);
    net.peer_mut(0).set_facilitator(t(1), sam, ngozi, true).unwrap();
    let (w, rng) = net.peer_and_rng(0);
    let value = w.draft_value(t(1), sam, rng, "We make time to listen.", &[]).unwrap();
    net.run_until_quiescent();
    net.partition(&[&[0, 2], &[1]]);
    let (w, rng) = net.peer_and_rng(0);
    w.open_consent_round(t(2), sam, rng, value, None).unwrap();
    net.run_until_quiescent();
    for (r, who) in [(0, sam), (2, zoe)] {
        let (w, rng) = net.peer_and_rng(r);
        w.give_stance(t(3), who, rng, value, Stance::Agree, None).unwrap();
    }
    let (w, rng) = net.peer_and_rng(1);
    w.open_consent_round(t(2), ngozi, rng, value, None).unwrap();
    w.give_stance(t(3), ngozi, rng, value, Stance::Agree, None).unwrap();
    net.heal_all();
    net.run_until_quiescent();
    let v = net.peer(0).value(&Viewer::default(), value).unwrap();
    let open: Vec<_> = v.rounds.iter().filter(|r| r.closed_at.is_none()).collect();
    let current = v.rounds.iter().find(|r| Some(r.id) == v.current_round).unwrap();
    assert!(
        open.len() == 1 && current.tally.total() == 3,
        "{} rounds open; the current one counts {} of the 3 stances given",
        open.len(),
        current.tally.total()
    );
}
