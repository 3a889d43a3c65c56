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

/// Another laptop that starts from this one's workshop, with nobody joined on it yet.
fn another_laptop(from: &Laptop, rng: &mut ChaCha8Rng) -> Laptop {
    let w = from.service.workshop().fork(random_actor(rng));
    Laptop { service: WorkshopService::new(w, Local::default()) }
}

fn joined(laptop: &mut Laptop, rng: &mut ChaCha8Rng, name: &str) -> ParticipantId {
    match laptop.run(rng, Command::Join { name: name.into(), colour: Colour::Leaf }).unwrap() {
        Reply::Joined { participant } => participant,
        other => panic!("expected joined, got {other:?}"),
    }
}

fn breaks_in(events: &[Event]) -> Vec<ParticipantId> {
    let changed: Vec<&Vec<BreakView>> = events
        .iter()
        .filter_map(|e| match e {
            Event::ParticipantsChanged { breaks, .. } => Some(breaks),
            _ => None,
        })
        .collect();
    assert_eq!(changed.len(), 1, "one ParticipantsChanged expected: {events:?}");
    changed[0].iter().map(|b| b.participant).collect()
}

#[test]
fn a_break_is_shown_only_to_facilitators_and_the_person_who_asked() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut fac, mut sam) = room(&mut rng);
    let mut kim = another_laptop(&fac, &mut rng);
    let sam_id = joined(&mut sam, &mut rng, "Sam");
    let kim_id = joined(&mut kim, &mut rng, "Kim");
    fac.receive_from(&mut sam);
    fac.receive_from(&mut kim);
    sam.receive_from(&mut fac);
    kim.receive_from(&mut fac);

    kim.run(&mut rng, Command::AskForBreak { wanted: true }).unwrap();
    sam.run(&mut rng, Command::AskForBreak { wanted: true }).unwrap();
    // The facilitator's laptop hears of both, as a participants change carrying the breaks.
    assert_eq!(breaks_in(&fac.receive_from(&mut kim)), [kim_id]);
    let mut all = breaks_in(&fac.receive_from(&mut sam));
    all.sort();
    let mut both = vec![sam_id, kim_id];
    both.sort();
    assert_eq!(all, both);
    // Kim's laptop gets the event when Sam's request arrives, but sees only her own break.
    assert_eq!(breaks_in(&kim.receive_from(&mut sam)), [kim_id]);

    let mut in_snapshot: Vec<ParticipantId> =
        fac.service.snapshot().breaks.iter().map(|b| b.participant).collect();
    in_snapshot.sort();
    assert_eq!(in_snapshot, both);
    assert_eq!(sam.service.snapshot().breaks.iter().map(|b| b.participant).collect::<Vec<_>>(), [sam_id]);
    assert!(another_laptop(&fac, &mut rng).service.snapshot().breaks.is_empty(), "not joined: none");

    // Only a facilitator says "seen, thanks"; Sam's laptop hears his break has been cleared.
    let err = sam.run(&mut rng, Command::ClearBreak { participant: kim_id }).unwrap_err();
    assert_eq!(err.kind, "facilitator_only");
    assert_eq!(fac.run(&mut rng, Command::ClearBreak { participant: sam_id }).unwrap(), Reply::Done);
    assert!(breaks_in(&sam.receive_from(&mut fac)).is_empty());
    assert_eq!(fac.service.snapshot().breaks.iter().map(|b| b.participant).collect::<Vec<_>>(), [kim_id]);

    // Handing Sam the facilitator role shows him everyone's breaks straight away.
    fac.run(&mut rng, Command::SetFacilitator { participant: sam_id, on: true }).unwrap();
    assert_eq!(breaks_in(&sam.receive_from(&mut fac)), [kim_id]);
}

#[test]
fn a_go_round_flows_through_commands_and_meta_events() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (mut fac, mut sam) = room(&mut rng);
    let mut kim = another_laptop(&fac, &mut rng);
    let sam_id = joined(&mut sam, &mut rng, "Sam");
    joined(&mut kim, &mut rng, "Kim");
    fac.receive_from(&mut sam);
    fac.receive_from(&mut kim);
    sam.receive_from(&mut fac);
    kim.receive_from(&mut fac);
    let fac_id = fac.service.local().participant.unwrap();

    let go_round = |events: &[Event]| -> Option<GoRoundView> {
        match events {
            [Event::MetaChanged { meta }] => meta.go_round.clone(),
            other => panic!("expected one MetaChanged, got {other:?}"),
        }
    };

    let err = sam.run(&mut rng, Command::StartGoRound { order: vec![sam_id] }).unwrap_err();
    assert_eq!(err.kind, "facilitator_only");
    let err = fac.run(&mut rng, Command::NextInGoRound).unwrap_err();
    assert_eq!(err.kind, "no_go_round");
    let err = fac.run(&mut rng, Command::StartGoRound { order: vec![] }).unwrap_err();
    assert_eq!(err.kind, "go_round_order");
    assert_eq!(
        fac.run(&mut rng, Command::StartGoRound { order: vec![sam_id, fac_id] }).unwrap(),
        Reply::Done
    );
    let started = go_round(&sam.receive_from(&mut fac)).unwrap();
    assert_eq!((started.order, started.turn), (vec![sam_id, fac_id], 0));
    kim.receive_from(&mut fac);

    // Sam passes from his own laptop: the facilitator's laptop moves on to her turn.
    assert_eq!(sam.run(&mut rng, Command::PassInGoRound).unwrap(), Reply::Done);
    let passed = go_round(&fac.receive_from(&mut sam)).unwrap();
    assert_eq!((passed.turn, passed.passed), (1, vec![sam_id]));
    let err = kim.run(&mut rng, Command::PassInGoRound).unwrap_err();
    assert_eq!(err.kind, "not_in_go_round");

    fac.run(&mut rng, Command::NextInGoRound).unwrap();
    assert_eq!(go_round(&sam.receive_from(&mut fac)).unwrap().turn, 2);
    assert_eq!(sam.service.snapshot().meta.go_round.unwrap().turn, 2);
    let err = sam.run(&mut rng, Command::EndGoRound).unwrap_err();
    assert_eq!(err.kind, "facilitator_only");
    fac.run(&mut rng, Command::EndGoRound).unwrap();
    assert_eq!(go_round(&sam.receive_from(&mut fac)), None);
}

#[test]
fn the_new_commands_have_a_stable_wire_format() {
    // Phones and laptops send exactly this JSON.
    let id = "6f1c2e2a-8d9b-4c1a-9e55-0b7f6a1d2c3e";
    let cases = [
        (r#"{"type":"ask_for_break","wanted":true}"#.to_owned(), Command::AskForBreak { wanted: true }),
        (
            format!(r#"{{"type":"clear_break","participant":"{id}"}}"#),
            Command::ClearBreak { participant: id.parse().unwrap() },
        ),
        (
            format!(r#"{{"type":"start_go_round","order":["{id}"]}}"#),
            Command::StartGoRound { order: vec![id.parse().unwrap()] },
        ),
        (r#"{"type":"next_in_go_round"}"#.to_owned(), Command::NextInGoRound),
        (r#"{"type":"pass_in_go_round"}"#.to_owned(), Command::PassInGoRound),
        (r#"{"type":"end_go_round"}"#.to_owned(), Command::EndGoRound),
    ];
    for (json, command) in cases {
        assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), command);
        assert_eq!(serde_json::to_string(&command).unwrap(), json);
    }
}
