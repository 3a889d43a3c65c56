//! Workshops built through the workshop API, deterministically (a seeded rng, a fixed actor,
//! a clock that moves forward by the second), for the export tests and the benchmark.
#![allow(dead_code)]

use commonground_workshop::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// 21 September 2026, 14:13:20 UTC (15:13 in the UK).
pub const START: i64 = 1_790_000_000_000;
const DAY: i64 = 86_400_000;

pub struct Room {
    pub w: Workshop,
    pub rng: ChaCha8Rng,
    pub now: i64,
    pub fac: ParticipantId,
}

impl Room {
    pub fn new(seed: u64) -> Room {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let actor = random_actor(&mut rng);
        let (w, fac) = Workshop::create(
            actor,
            Timestamp(START),
            &mut rng,
            NewWorkshop {
                title: "Living Well design team".into(),
                purpose: "Design the new community mental-health service together.".into(),
                facilitator_name: "Amina".into(),
                facilitator_colour: Colour::Sky,
                ground_rules: None,
            },
        )
        .unwrap();
        Room { w, rng, now: START, fac }
    }

    pub fn tick(&mut self) -> Timestamp {
        self.now += 1_000;
        Timestamp(self.now)
    }

    pub fn next_day(&mut self) {
        self.now += DAY;
    }

    pub fn join(&mut self, name: &str, device: Option<&str>) -> ParticipantId {
        let now = self.tick();
        self.w.join(now, &mut self.rng, name, Colour::Sun, device).unwrap()
    }

    pub fn prompt(&self) -> PromptId {
        self.w.board(&Viewer::default()).prompts[0].id
    }

    pub fn note(&mut self, writer: &Writer, text: &str) -> NoteId {
        let now = self.tick();
        let prompt = self.prompt();
        self.w
            .add_note(
                now,
                writer,
                &mut self.rng,
                NewNote { prompt, text: text.into(), colour: Colour::Sun, x: 10.0, y: 20.0, private: false },
            )
            .unwrap()
    }

    pub fn anon(&mut self, by: ParticipantId) -> Writer {
        Writer::Anonymous(by, AnonymousActor::random(&mut self.rng))
    }

    pub fn value(&mut self, by: ParticipantId, statement: &str, sources: &[NoteId]) -> ValueId {
        let now = self.tick();
        self.w.draft_value(now, by, &mut self.rng, statement, sources).unwrap()
    }

    pub fn behaviour(&mut self, by: ParticipantId, value: ValueId, text: &str) {
        let now = self.tick();
        self.w.add_behaviour(now, by, &mut self.rng, value, text).unwrap();
    }

    pub fn easy(&mut self, by: ParticipantId, value: ValueId, text: &str) {
        let now = self.tick();
        self.w.edit_value_easy_read(now, by, value, &TextEdit::Replace { text: text.into() }).unwrap();
    }

    pub fn open(&mut self, value: ValueId, quorum: u32) {
        let now = self.tick();
        self.w.open_consent_round(now, self.fac, &mut self.rng, value, Some(quorum)).unwrap();
    }

    pub fn stance(
        &mut self,
        by: ParticipantId,
        value: ValueId,
        stance: Stance,
        reason: Option<&str>,
    ) -> Option<ChallengeId> {
        let now = self.tick();
        self.w.give_stance(now, by, &mut self.rng, value, stance, reason).unwrap()
    }

    pub fn close(&mut self, value: ValueId) -> RoundOutcome {
        let now = self.tick();
        self.w.close_consent_round(now, self.fac, value).unwrap()
    }
}

/// Everything the values document has to show, and one thing it must never show:
/// - "We listen first": agreed with 4 agree, a reservation, a stand-aside and a resolved
///   objection, each with a reason; sources by name and anonymous, and a withdrawn note;
///   a question on it that was heard, with a reply.
/// - "Nothing about us without us": a round without quorum, then reworded and agreed a week
///   later; now being reworded again.
/// - "Plain words, always": a draft.
/// - An open challenge on a note; an async session with a named and an anonymous reflection.
pub fn workshop() -> Workshop {
    let mut r = Room::new(2026);
    let fac = r.fac;
    let sarah = r.join("Sarah", Some("device-sarah"));
    let tom = r.join("Tom", Some("device-tom"));
    let priya = r.join("Priya", None);
    let kwame = r.join("Kwame", Some("device-kwame"));
    let jo = r.join("Jo", None);
    let lin = r.join("Lin", Some("device-lin"));
    let now = r.tick();
    r.w.add_device(now, fac, "device-amina").unwrap();
    for (who, p) in [
        (fac, Perspective::Services),
        (sarah, Perspective::LivedExperience),
        (tom, Perspective::LivedExperience),
        (priya, Perspective::Carer),
        (kwame, Perspective::Commissioning),
    ] {
        let now = r.tick();
        r.w.set_perspective(now, who, Some(p)).unwrap();
    }

    let listened = r.note(&Writer::Named(sarah), "Being listened to, properly");
    let anon_tom = r.anon(tom);
    let jargon = r.note(&anon_tom, "No jargon in letters");
    let same = r.note(&Writer::Named(priya), "Seeing the same person each time");
    let secret = r.note(&Writer::Named(jo), "WITHDRAWN-NOTE: something I took back");
    let anon_lin = r.anon(lin);
    let plain = r.note(&anon_lin, "Say it in plain words");
    let nothing = r.note(&Writer::Named(kwame), "Nobody decides about us without us");

    // Value 1: agreed by consent, with every kind of stance.
    let listen = r.value(sarah, "We listen first", &[listened, jargon, same, secret]);
    r.behaviour(tom, listen, "We will let people finish what they are saying");
    r.behaviour(priya, listen, "We will check we have understood");
    r.easy(kwame, listen, "We listen to you.");
    let now = r.tick();
    r.w.withdraw_note(now, &Writer::Named(jo), secret).unwrap();
    let question = {
        let now = r.tick();
        r.w.raise_challenge(
            now,
            &Writer::Named(jo),
            &mut r.rng,
            Target::Value(listen),
            ChallengeKind::Question,
            "How will we know we are listening?",
        )
        .unwrap()
    };
    let now = r.tick();
    r.w.respond_to_challenge(
        now,
        &Writer::Named(sarah),
        &mut r.rng,
        question,
        "We will ask at the end of each meeting.",
    )
    .unwrap();
    let now = r.tick();
    r.w.set_challenge_status(now, jo, question, ChallengeStatus::Heard).unwrap();
    r.open(listen, 5);
    for who in [fac, sarah, tom, jo] {
        r.stance(who, listen, Stance::Agree, None);
    }
    r.stance(kwame, listen, Stance::Reservations, Some("Listening takes time we are not funded for"));
    r.stance(lin, listen, Stance::StandAside, Some("I won't be here after March"));
    let objection = r
        .stance(priya, listen, Stance::Object, Some("\"First\" could mean we never act"))
        .expect("an objection opens a challenge");
    let now = r.tick();
    r.w.set_challenge_status(now, priya, objection, ChallengeStatus::ChangedView).unwrap();
    assert_eq!(r.close(listen), RoundOutcome::Agreed);

    // Value 2: no quorum, reworded, agreed a week later, now being reworded again.
    r.next_day();
    let us = r.value(kwame, "Nothing about us", &[nothing]);
    r.open(us, 6);
    r.stance(kwame, us, Stance::Agree, None);
    r.stance(sarah, us, Stance::Agree, None);
    assert_eq!(r.close(us), RoundOutcome::NoQuorum);
    let now = r.tick();
    r.w.edit_value_statement(
        now,
        kwame,
        us,
        &TextEdit::Replace { text: "Nothing about us without us".into() },
    )
    .unwrap();
    r.behaviour(sarah, us, "We will plan services with the people who use them");
    r.easy(tom, us, "You help decide.");
    for _ in 0..6 {
        r.next_day();
    }
    r.open(us, 5);
    for who in [fac, sarah, tom, priya, kwame, jo, lin] {
        r.stance(who, us, Stance::Agree, None);
    }
    assert_eq!(r.close(us), RoundOutcome::Agreed);
    let now = r.tick();
    r.w.edit_value_statement(
        now,
        kwame,
        us,
        &TextEdit::Replace { text: "Nothing about us, without us, ever".into() },
    )
    .unwrap();

    // A draft.
    let words = r.value(lin, "Plain words, always", &[plain, jargon]);
    r.easy(lin, words, "We use easy words.");

    // An open challenge on a note.
    let now = r.tick();
    r.w.raise_challenge(
        now,
        &Writer::Named(tom),
        &mut r.rng,
        Target::Note(same),
        ChallengeKind::WhatIf,
        "What if the same person is not the right person?",
    )
    .unwrap();

    // A session apart, with reflections by name and anonymously.
    let now = r.tick();
    let when = Timestamp(r.now + DAY);
    let apart = r.w.add_session(now, fac, &mut r.rng, "Between sessions", when, SessionKind::Async).unwrap();
    let now = r.tick();
    r.w.add_reflection(
        now,
        &Writer::Named(lin),
        &mut r.rng,
        apart,
        ReflectionKind::Worked,
        "Having time to think at home",
    )
    .unwrap();
    let anon_jo = r.anon(jo);
    let now = r.tick();
    r.w.add_reflection(now, &anon_jo, &mut r.rng, apart, ReflectionKind::DoBetter, "Shorter meetings")
        .unwrap();
    r.w
}

/// A large workshop for the benchmark: `values` agreed values, each drafted from
/// `sources_per_value` notes, with three behaviours, an easy-read line and a consent round
/// of seven people (one reservation and one stand-aside with reasons).
pub fn large(values: usize, sources_per_value: usize) -> Workshop {
    let mut r = Room::new(99);
    let fac = r.fac;
    let people: Vec<ParticipantId> =
        ["Sarah", "Tom", "Priya", "Kwame", "Jo", "Lin"].iter().map(|n| r.join(n, None)).collect();
    for v in 0..values {
        let notes: Vec<NoteId> = (0..sources_per_value)
            .map(|i| {
                let who = people[(v + i) % people.len()];
                let writer = if i % 3 == 0 { r.anon(who) } else { Writer::Named(who) };
                r.note(
                    &writer,
                    &format!("Note {i} for value {v}: what matters to me is being treated as a whole person"),
                )
            })
            .collect();
        let id = r.value(
            people[v % people.len()],
            &format!("Value {v}: we treat everyone as an equal partner"),
            &notes,
        );
        for b in 0..3 {
            r.behaviour(fac, id, &format!("We will keep promise {b} of value {v}, and say so when we can't"));
        }
        r.easy(fac, id, "We treat you as an equal.");
        r.open(id, 5);
        r.stance(fac, id, Stance::Agree, None);
        for (i, who) in people.clone().into_iter().enumerate() {
            match i {
                0 => r.stance(who, id, Stance::Reservations, Some("We need the time and money to do this")),
                1 => r.stance(who, id, Stance::StandAside, Some("I am not sure yet")),
                _ => r.stance(who, id, Stance::Agree, None),
            };
        }
        assert_eq!(r.close(id), RoundOutcome::Agreed);
    }
    r.w
}
