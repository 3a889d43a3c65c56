//! The contract of view events: a front end that had a snapshot and applies the events it is
//! sent sees what a fresh snapshot shows. Checked over random sessions on two laptops that
//! edit apart and merge, so that no change goes unreported however it arrives (one change or
//! a burst, typing or whole notes, concurrent or not).

use std::collections::BTreeMap;

use commonground_api::{Command, Event, Local, Reply, Snapshot, WorkshopService};
use commonground_workshop::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const T0: i64 = 1_790_000_000_000;

/// What a front end keeps: the parts of the snapshot events keep current.
#[derive(Debug, PartialEq)]
struct Seen {
    meta: MetaView,
    rules: Vec<GroundRuleView>,
    participants: Vec<ParticipantView>,
    /// Each note's words and who it says wrote it.
    notes: BTreeMap<NoteId, (String, String)>,
    votes_left: u32,
    /// Each challenge's words and, if it is about a note, which.
    challenges: BTreeMap<ChallengeId, (String, Option<NoteId>)>,
    values: BTreeMap<ValueId, String>,
}

impl Seen {
    fn of(s: &Snapshot) -> Self {
        let notes = s.board.prompts.iter().flat_map(|p| &p.notes).chain(&s.board.unplaced);
        Seen {
            meta: s.meta.clone(),
            rules: s.ground_rules.clone(),
            participants: s.participants.clone(),
            notes: notes.map(|n| (n.id, (n.text.clone(), format!("{:?}", n.author)))).collect(),
            votes_left: s.board.votes_left,
            challenges: s.challenges.iter().map(|c| (c.id, words(c))).collect(),
            values: s.values.iter().map(|v| (v.id, v.statement.clone())).collect(),
        }
    }

    fn apply(&mut self, events: &[Event], fresh: &Snapshot) {
        for event in events {
            match event {
                Event::MetaChanged { meta } => self.meta = meta.clone(),
                Event::GroundRulesChanged { rules } => self.rules = rules.clone(),
                Event::ParticipantsChanged { participants, .. } => self.participants = participants.clone(),
                Event::NoteUpserted { note } => {
                    self.notes.insert(note.id, (note.text.clone(), format!("{:?}", note.author)));
                }
                Event::NoteTextSpliced { note, index, delete, insert } => {
                    let (text, _) = self.notes.get_mut(note).expect("typing in a note the front end has");
                    let chars: Vec<char> = text.chars().collect();
                    assert!(index + delete <= chars.len(), "splice past the end: {event:?} on {text:?}");
                    *text = chars[..*index]
                        .iter()
                        .copied()
                        .chain(insert.chars())
                        .chain(chars[index + delete..].iter().copied())
                        .collect();
                }
                Event::NoteRemoved { note } => {
                    self.notes.remove(note);
                    // Challenges on a note go with it.
                    self.challenges.retain(|_, (_, about)| *about != Some(*note));
                }
                Event::VotesLeft { votes_left } => self.votes_left = *votes_left,
                Event::ChallengeUpserted { challenge } => {
                    self.challenges.insert(challenge.id, words(challenge));
                }
                Event::ChallengeRemoved { challenge } => {
                    self.challenges.remove(challenge);
                }
                Event::ValueUpserted { value } => {
                    self.values.insert(value.id, value.statement.clone());
                }
                Event::Resync => *self = Seen::of(fresh),
                _ => {}
            }
        }
    }
}

fn words(c: &ChallengeView) -> (String, Option<NoteId>) {
    let about = match c.target {
        Target::Note(note) => Some(note),
        _ => None,
    };
    (c.text.clone(), about)
}

struct Laptop {
    service: WorkshopService,
    clock: i64,
}

impl Laptop {
    fn run(&mut self, rng: &mut ChaCha8Rng, command: Command) -> Option<Reply> {
        self.clock += 1_000;
        self.service.dispatch(Timestamp(self.clock), rng, command).ok()
    }

    fn notes(&self) -> Vec<(NoteId, usize)> {
        let s = self.service.snapshot();
        let notes = s.board.prompts.iter().flat_map(|p| &p.notes).chain(&s.board.unplaced);
        notes.map(|n| (n.id, n.text.chars().count())).collect()
    }

    /// Something a person might do, chosen at random; refused commands (a note already
    /// withdrawn, a dot too many) change nothing and are fine.
    fn act(&mut self, rng: &mut ChaCha8Rng, words: &[&str]) {
        let notes = self.notes();
        let some_note = |rng: &mut ChaCha8Rng| notes.get(rng.random_range(0..notes.len().max(1))).copied();
        let word = words[rng.random_range(0..words.len())].to_owned();
        let command = match rng.random_range(0..10) {
            0..=2 => {
                let prompt = self.service.snapshot().board.prompts[0].id;
                let private = rng.random_bool(0.2);
                Command::AddNote {
                    prompt,
                    text: word,
                    colour: Colour::Sun,
                    x: 1.0,
                    y: 2.0,
                    private,
                    anonymous: false,
                }
            }
            3..=4 => {
                let Some((note, len)) = some_note(rng) else { return };
                let index = rng.random_range(0..=len);
                let delete = rng.random_range(0..=(len - index).min(3));
                Command::EditNote { note, edit: TextEdit::Splice { index, delete, insert: word } }
            }
            5 => {
                let Some((note, _)) = some_note(rng) else { return };
                Command::SetVotes { note, dots: rng.random_range(0..3) }
            }
            6 => {
                let Some((note, _)) = some_note(rng) else { return };
                Command::WithdrawNote { note }
            }
            7 => {
                let Some((note, _)) = some_note(rng) else { return };
                let target = Target::Note(note);
                Command::RaiseChallenge { target, kind: ChallengeKind::WhatIf, text: word, anonymous: false }
            }
            8 => {
                let Some((note, _)) = some_note(rng) else { return };
                Command::DraftValue { statement: word, sources: vec![note] }
            }
            9 if rng.random_bool(0.3) => {
                // A new name changes how every note of theirs shows its author.
                let name = ["Sam", "Sami", "Jo", "Ada"][rng.random_range(0..4)].to_owned();
                Command::Rename { name }
            }
            _ => Command::EditTitle { edit: TextEdit::Splice { index: 0, delete: 0, insert: word } },
        };
        self.run(rng, command);
    }

    /// Takes in everything from `other`, as a laptop does when changes arrive.
    fn receive_from(&mut self, other: &mut Laptop) -> Vec<Event> {
        let before = self.service.workshop().heads();
        self.service.workshop_mut().merge(other.service.workshop_mut()).unwrap();
        self.service.events_since(&before)
    }
}

/// The facilitator's laptop with a new workshop, and a second laptop whose person has joined.
fn room(rng: &mut ChaCha8Rng) -> (Laptop, Laptop) {
    let new = NewWorkshop {
        title: "Living Well".into(),
        purpose: String::new(),
        facilitator_name: "Amina".into(),
        facilitator_colour: Colour::Sky,
        ground_rules: None,
    };
    let (w, fac) = Workshop::create(random_actor(rng), Timestamp(T0), rng, new).unwrap();
    let other = w.fork(random_actor(rng));
    let local = Local { participant: Some(fac), ..Local::default() };
    let mut amina = Laptop { service: WorkshopService::new(w, local), clock: T0 };
    let mut sam = Laptop { service: WorkshopService::new(other, Local::default()), clock: T0 };
    sam.run(rng, Command::Join { name: "Sam".into(), colour: Colour::Leaf }).unwrap();
    amina.receive_from(&mut sam);
    (amina, sam)
}

#[test]
fn events_applied_to_the_last_snapshot_give_the_new_one() {
    let words = ["more time", "evening", "é", "talk 🙂", "listen", ""];
    for seed in 0..10 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut amina, mut sam) = room(&mut rng);
        let mut seen = Seen::of(&amina.service.snapshot());
        for _ in 0..25 {
            // A few things on each laptop apart (a burst when several), then Amina's laptop
            // takes in Sam's, or reports her own.
            for _ in 0..rng.random_range(0..4) {
                let before = amina.service.workshop().heads();
                amina.act(&mut rng, &words);
                let events = amina.service.events_since(&before);
                seen.apply(&events, &amina.service.snapshot());
            }
            for _ in 0..rng.random_range(0..4) {
                sam.act(&mut rng, &words);
            }
            let events = amina.receive_from(&mut sam);
            let fresh = amina.service.snapshot();
            seen.apply(&events, &fresh);
            let want = Seen::of(&fresh);
            assert_eq!(seen.notes, want.notes, "seed {seed}: notes; events {events:?}");
            assert_eq!(seen.challenges, want.challenges, "seed {seed}: challenges; events {events:?}");
            assert_eq!(seen.values, want.values, "seed {seed}: values; events {events:?}");
            assert_eq!(seen.votes_left, want.votes_left, "seed {seed}: dots left; events {events:?}");
            assert_eq!(seen.meta, want.meta, "seed {seed}: meta; events {events:?}");
            assert_eq!(seen, want, "seed {seed}: events {events:?}");
            if rng.random_bool(0.5) {
                sam.receive_from(&mut amina);
            }
        }
    }
}

#[test]
fn a_burst_of_more_changes_than_events_can_carry_asks_for_a_new_snapshot() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut amina, mut sam) = room(&mut rng);
    let prompt = sam.service.snapshot().board.prompts[0].id;
    let note = |text: String| Command::AddNote {
        prompt,
        text,
        colour: Colour::Sun,
        x: 1.0,
        y: 2.0,
        private: false,
        anonymous: false,
    };
    for k in 0..commonground_api::RESYNC_ABOVE {
        sam.run(&mut rng, note(format!("Idea {k}")));
    }
    // Exactly the limit: still described one note at a time.
    let mut copy = Laptop {
        service: WorkshopService::new(
            amina.service.workshop().fork(random_actor(&mut rng)),
            Local::default(),
        ),
        clock: T0,
    };
    let events = copy.receive_from(&mut sam);
    assert_eq!(
        events.iter().filter(|e| matches!(e, Event::NoteUpserted { .. })).count(),
        commonground_api::RESYNC_ABOVE
    );
    sam.run(&mut rng, note("One more".into()));
    assert_eq!(amina.receive_from(&mut sam), vec![Event::Resync]);
}
