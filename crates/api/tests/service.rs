//! The application service: commands in, replies and view events out, as every front door
//! will use it.

use commonground_api::{ApiError, Command, Event, Local, Reply, WorkshopService};
use commonground_workshop::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct Laptop {
    service: WorkshopService,
}

const T0: i64 = 1_790_000_000_000;

/// The facilitator's laptop with a new workshop, and a second laptop that starts from it.
fn room(rng: &mut ChaCha8Rng) -> (Laptop, Laptop) {
    let (w, fac) = Workshop::create(
        random_actor(rng),
        Timestamp(T0),
        rng,
        NewWorkshop {
            title: "Living Well design team".into(),
            purpose: String::new(),
            facilitator_name: "Amina".into(),
            facilitator_colour: Colour::Sky,
            ground_rules: None,
        },
    )
    .unwrap();
    let other = w.fork(random_actor(rng));
    let facilitator =
        Laptop { service: WorkshopService::new(w, Local { participant: Some(fac), ..Local::default() }) };
    (facilitator, Laptop { service: WorkshopService::new(other, Local::default()) })
}

impl Laptop {
    fn run(&mut self, rng: &mut ChaCha8Rng, command: Command) -> Result<Reply, ApiError> {
        self.service.dispatch(Timestamp(T0 + 60_000), rng, command)
    }

    fn created(&mut self, rng: &mut ChaCha8Rng, command: Command) -> String {
        match self.run(rng, command).unwrap() {
            Reply::Created { id } => id,
            other => panic!("expected created, got {other:?}"),
        }
    }

    fn prompt(&self) -> PromptId {
        self.service.snapshot().board.prompts[0].id
    }

    /// Receives everything from `other` and returns the events this laptop's person sees.
    fn receive_from(&mut self, other: &mut Laptop) -> Vec<Event> {
        let before = self.service.workshop().heads();
        self.service.workshop_mut().merge(other.service.workshop_mut()).unwrap();
        self.service.events_since(&before)
    }
}

fn add_note(text: &str, prompt: PromptId, private: bool, anonymous: bool) -> Command {
    Command::AddNote { prompt, text: text.into(), colour: Colour::Sun, x: 0.0, y: 0.0, private, anonymous }
}

#[test]
fn joining_refuses_titles_kindly_and_commands_need_a_joined_person() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut fac, mut sam) = room(&mut rng);
    let prompt = fac.prompt();
    let err = sam.run(&mut rng, add_note("Hi", prompt, false, false)).unwrap_err();
    assert_eq!(err.kind, "not_joined");
    let err = sam.run(&mut rng, Command::Join { name: "Dr Sam".into(), colour: Colour::Sun }).unwrap_err();
    assert_eq!(err.kind, "title");
    assert!(err.message.contains("\"Sam\""));
    let joined = sam.run(&mut rng, Command::Join { name: "Sam".into(), colour: Colour::Sun }).unwrap();
    assert!(
        matches!(joined, Reply::Joined { participant } if sam.service.local().participant == Some(participant))
    );
    let again = sam.run(&mut rng, Command::Join { name: "Sam".into(), colour: Colour::Sun }).unwrap_err();
    assert_eq!(again.kind, "already_joined");
    let err = sam.run(&mut rng, Command::SetPhase { phase: Phase::Vote }).unwrap_err();
    assert_eq!(err.kind, "facilitator_only");
    let _ = fac.receive_from(&mut sam);
}

#[test]
fn a_note_written_on_one_laptop_arrives_as_small_events_on_another() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (mut fac, mut sam) = room(&mut rng);
    sam.run(&mut rng, Command::Join { name: "Sam".into(), colour: Colour::Leaf }).unwrap();
    let events = fac.receive_from(&mut sam);
    assert!(
        matches!(&events[..], [Event::ParticipantsChanged { participants, .. }] if participants.len() == 2)
    );

    let prompt = sam.prompt();
    let id = sam.created(&mut rng, add_note("More evening sessions", prompt, false, false));
    let events = fac.receive_from(&mut sam);
    assert!(
        matches!(&events[..], [Event::NoteUpserted { note }] if note.id.to_string() == id && note.text == "More evening sessions"),
        "{events:?}"
    );

    // Typing arrives as a splice, not a whole note.
    let note: NoteId = id.parse().unwrap();
    sam.run(
        &mut rng,
        Command::EditNote { note, edit: TextEdit::Splice { index: 5, delete: 8, insert: "weekend ".into() } },
    )
    .unwrap();
    let events = fac.receive_from(&mut sam);
    let mut text = "More evening sessions".to_string();
    for e in &events {
        let Event::NoteTextSpliced { note: n, index, delete, insert } = e else { panic!("{events:?}") };
        assert_eq!(*n, note);
        let chars: Vec<char> = text.chars().collect();
        text = chars[..*index]
            .iter()
            .chain(insert.chars().collect::<Vec<_>>().iter())
            .chain(&chars[index + delete..])
            .collect();
    }
    assert_eq!(text, "More weekend sessions");
    assert_eq!(fac.service.snapshot().board.prompts[0].notes[0].text, text);

    // A vote arrives as the note plus the voter's remaining dots on their own laptop.
    let before = sam.service.workshop().heads();
    sam.run(&mut rng, Command::SetVotes { note, dots: 2 }).unwrap();
    let own = sam.service.events_since(&before);
    assert!(own
        .iter()
        .any(|e| matches!(e, Event::NoteUpserted { note: n } if n.votes == 2 && n.my_votes == 2)));
    assert!(own.contains(&Event::VotesLeft { votes_left: DEFAULT_VOTE_BUDGET - 2 }));

    // Withdrawing removes it.
    sam.run(&mut rng, Command::WithdrawNote { note }).unwrap();
    let events = fac.receive_from(&mut sam);
    assert!(events.contains(&Event::NoteRemoved { note }), "{events:?}");
}

#[test]
fn someone_elses_private_note_produces_no_events_until_the_reveal() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (mut fac, mut sam) = room(&mut rng);
    sam.run(&mut rng, Command::Join { name: "Sam".into(), colour: Colour::Leaf }).unwrap();
    let prompt = sam.prompt();
    let id: NoteId = sam.created(&mut rng, add_note("Just for me", prompt, true, false)).parse().unwrap();
    let events = fac.receive_from(&mut sam);
    assert!(events.iter().all(|e| !matches!(e, Event::NoteUpserted { .. })), "{events:?}");
    sam.run(
        &mut rng,
        Command::EditNote {
            note: id,
            edit: TextEdit::Splice { index: 0, delete: 0, insert: "Still ".into() },
        },
    )
    .unwrap();
    let events = fac.receive_from(&mut sam);
    assert!(events.iter().all(|e| !matches!(e, Event::NoteTextSpliced { .. } | Event::NoteUpserted { .. })));
    assert_eq!(fac.run(&mut rng, Command::RevealNotes { prompt: None }).unwrap(), Reply::Count { count: 1 });
    let events = sam.receive_from(&mut fac);
    assert!(events.iter().any(|e| matches!(e, Event::NoteUpserted { note } if !note.private)));
}

#[test]
fn anonymous_notes_are_edited_through_their_own_actor_and_stay_anonymous() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (mut fac, mut sam) = room(&mut rng);
    sam.run(&mut rng, Command::Join { name: "Sam".into(), colour: Colour::Leaf }).unwrap();
    let prompt = sam.prompt();
    let id: NoteId = sam.created(&mut rng, add_note("Said quietly", prompt, false, true)).parse().unwrap();
    assert_eq!(sam.service.local().anonymous.len(), 1);
    assert!(!format!("{:?}", sam.service.local()).contains(&sam.service.local().anonymous[0].actor));
    let own_actor = sam.service.workshop().actor().clone();
    let before = sam.service.workshop().heads();
    sam.run(
        &mut rng,
        Command::EditNote { note: id, edit: TextEdit::Replace { text: "Said quietly, twice".into() } },
    )
    .unwrap();
    let changes = sam.service.workshop().automerge().get_changes(&before);
    assert!(!changes.is_empty() && changes.iter().all(|c| c.actor_id() != &own_actor));
    let snapshot = sam.service.snapshot();
    let note = &snapshot.board.prompts[0].notes[0];
    assert!(note.mine);
    assert_eq!(note.author, AuthorView::Anonymous);
    let events = fac.receive_from(&mut sam);
    assert!(events.iter().any(
        |e| matches!(e, Event::NoteUpserted { note } if note.author == AuthorView::Anonymous && !note.mine)
    ));
}

#[test]
fn consent_and_challenges_flow_through_commands_and_events() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut fac, mut sam) = room(&mut rng);
    sam.run(&mut rng, Command::Join { name: "Sam".into(), colour: Colour::Leaf }).unwrap();
    fac.receive_from(&mut sam);
    let prompt = fac.prompt();
    let note: NoteId = fac.created(&mut rng, add_note("Listen first", prompt, false, false)).parse().unwrap();
    let value: ValueId = fac
        .created(&mut rng, Command::DraftValue { statement: "We listen".into(), sources: vec![note] })
        .parse()
        .unwrap();
    fac.created(&mut rng, Command::OpenConsentRound { value, quorum: Some(2) });
    sam.receive_from(&mut fac);
    let err =
        sam.run(&mut rng, Command::GiveStance { value, stance: Stance::Object, reason: None }).unwrap_err();
    assert_eq!(err.kind, "reason_required");
    let reply = sam
        .run(&mut rng, Command::GiveStance { value, stance: Stance::Object, reason: Some("Not yet".into()) })
        .unwrap();
    let Reply::Stance { challenge: Some(challenge) } = reply else { panic!("{reply:?}") };
    let events = fac.receive_from(&mut sam);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::ChallengeUpserted { challenge: c } if c.id == challenge)));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::ValueUpserted { value: v } if v.rounds[0].tally.object == 1)));
    fac.run(&mut rng, Command::GiveStance { value, stance: Stance::Agree, reason: None }).unwrap();
    assert_eq!(
        fac.run(&mut rng, Command::CloseConsentRound { value }).unwrap(),
        Reply::Outcome { outcome: RoundOutcome::Objection }
    );
}

#[test]
fn catch_up_lists_what_happened_since_this_laptop_marked_it_seen() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let (mut fac, mut sam) = room(&mut rng);
    sam.run(&mut rng, Command::Join { name: "Sam".into(), colour: Colour::Leaf }).unwrap();
    fac.receive_from(&mut sam);
    sam.run(&mut rng, Command::MarkSeen).unwrap();
    let session = fac.service.snapshot().sessions[0].id;
    fac.created(
        &mut rng,
        Command::AddReflection {
            session,
            kind: ReflectionKind::Worked,
            text: "Good energy".into(),
            anonymous: false,
        },
    );
    sam.receive_from(&mut fac);
    let Reply::CatchUp { items } = sam.run(&mut rng, Command::GetCatchUp).unwrap() else { panic!() };
    assert_eq!(
        items.iter().map(|i| i.sentence.as_str()).collect::<Vec<_>>(),
        ["Amina reflected on “What worked”: “Good energy”"]
    );
    sam.run(&mut rng, Command::MarkSeen).unwrap();
    let Reply::CatchUp { items } = sam.run(&mut rng, Command::GetCatchUp).unwrap() else { panic!() };
    assert!(items.is_empty());
}

#[test]
fn the_json_wire_format_is_stable() {
    // Front ends send exactly this JSON; changing it breaks them (and the bindings test).
    let json = r#"{"type":"add_note","prompt":"6f1c2e2a-8d9b-4c1a-9e55-0b7f6a1d2c3e","text":"Hi","colour":"sun","x":1.5,"y":2,"private":false,"anonymous":true}"#;
    let command: Command = serde_json::from_str(json).unwrap();
    assert!(
        matches!(&command, Command::AddNote { text, anonymous: true, colour: Colour::Sun, .. } if text == "Hi")
    );
    let edit = r#"{"type":"edit_note","note":"6f1c2e2a-8d9b-4c1a-9e55-0b7f6a1d2c3e","edit":{"kind":"splice","index":0,"delete":1,"insert":"x"}}"#;
    assert!(serde_json::from_str::<Command>(edit).is_ok());
    let target = r#"{"type":"raise_challenge","target":{"kind":"note","id":"6f1c2e2a-8d9b-4c1a-9e55-0b7f6a1d2c3e"},"kind":"what_if","text":"t","anonymous":false}"#;
    assert!(serde_json::from_str::<Command>(target).is_ok());
    assert!(serde_json::from_str::<Command>(r#"{"type":"launch_rockets"}"#).is_err());
    let err = ApiError::from(WorkshopError::Refused(Refusal::FacilitatorOnly));
    assert_eq!(
        serde_json::to_string(&err).unwrap(),
        r#"{"kind":"facilitator_only","message":"Only the facilitator can do that. You could ask them, or ask to be a facilitator too."}"#
    );
}
