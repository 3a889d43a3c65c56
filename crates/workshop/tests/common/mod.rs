//! A small room for tests: a workshop, a seeded rng and a clock that moves forward.
#![allow(dead_code)]

use commonground_workshop::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub struct Room {
    pub w: Workshop,
    pub rng: ChaCha8Rng,
    pub now: i64,
    pub fac: ParticipantId,
}

pub const START: i64 = 1_790_000_000_000;

impl Room {
    pub fn new() -> Self {
        Self::with_seed(7)
    }

    pub fn with_seed(seed: u64) -> Self {
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

    /// The next moment (one second later).
    pub fn tick(&mut self) -> Timestamp {
        self.now += 1_000;
        Timestamp(self.now)
    }

    pub fn join(&mut self, name: &str) -> ParticipantId {
        let now = self.tick();
        self.w.join(now, &mut self.rng, name, Colour::Sun, None).unwrap()
    }

    pub fn prompt(&self) -> PromptId {
        self.w.board(&Viewer::default()).prompts[0].id
    }

    pub fn session(&self) -> SessionId {
        self.w.sessions()[0].id
    }

    pub fn note(&mut self, by: ParticipantId, text: &str) -> NoteId {
        self.note_as(&Writer::Named(by), text, false)
    }

    pub fn note_as(&mut self, writer: &Writer, text: &str, private: bool) -> NoteId {
        let now = self.tick();
        let prompt = self.prompt();
        self.w
            .add_note(
                now,
                writer,
                &mut self.rng,
                NewNote { prompt, text: text.into(), colour: Colour::Sun, x: 10.0, y: 20.0, private },
            )
            .unwrap()
    }

    pub fn anon(&mut self, by: ParticipantId) -> Writer {
        Writer::Anonymous(by, AnonymousActor::random(&mut self.rng))
    }

    /// Everyone's view of the board's first area, as note texts.
    pub fn texts(&self, viewer: &Viewer) -> Vec<String> {
        self.w.board(viewer).prompts[0].notes.iter().map(|n| n.text.clone()).collect()
    }

    pub fn value(&self, id: ValueId) -> ValueView {
        self.w.value(&Viewer::participant(self.fac), id).unwrap()
    }
}

pub fn refusal(err: WorkshopError) -> Refusal {
    match err {
        WorkshopError::Refused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}
