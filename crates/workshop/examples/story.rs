//! The Common Ground story (DESIGN.md section 7, steps 1–7), played through the workshop
//! model: a facilitator and six laptops, private writing and a reveal, a helpful challenge, a
//! value agreed by consent, the Wi-Fi dying mid-session, and reflections written at home.
//! It prints what people see, in plain English. Run it with `make run`.

use commonground_workshop::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() -> Result<(), WorkshopError> {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut clock = 1_790_000_000_000_i64;
    let mut now = || {
        clock += 15_000;
        Timestamp(clock)
    };

    // 1. The facilitator creates the workshop; the default ground rules appear.
    let (mut room, amina) = Workshop::create(
        random_actor(&mut rng),
        now(),
        &mut rng,
        NewWorkshop {
            title: "Living Well design team".into(),
            purpose: "Design the new community mental-health service together, as equals.".into(),
            facilitator_name: "Amina".into(),
            facilitator_colour: Colour::Sky,
            ground_rules: None,
        },
    )?;
    heading("1. Amina creates the workshop");
    println!("“{}” — {}", room.meta().title, room.meta().purpose);
    println!("Ground rules:");
    for rule in room.ground_rules() {
        println!("  • {}", rule.text);
    }

    // 2. People join by first name; "Dr Sarah" is refused kindly.
    heading("2. Everyone joins by first name");
    match room.join(now(), &mut rng, "Dr Sarah", Colour::Rose, None) {
        Err(e) => println!("Someone types “Dr Sarah”. The app says: {e}"),
        Ok(_) => unreachable!("titles are refused"),
    }
    let colours = [Colour::Rose, Colour::Sun, Colour::Leaf, Colour::Lilac, Colour::Peach, Colour::Mint];
    let names = ["Sarah", "Tom", "Priya", "Kwame", "Jo", "Lin"];
    let mut people = Vec::new();
    for (name, colour) in names.iter().zip(colours) {
        people.push(room.join(now(), &mut rng, name, colour, None)?);
    }
    let here: Vec<String> =
        room.participants().iter().map(|p| format!("{} {}", p.symbol.glyph(), p.name)).collect();
    println!("Who is here: {}", here.join(", "));

    // Every laptop starts from the facilitator's document, then they all write.
    let mut laptops: Vec<Workshop> = people.iter().map(|_| room.fork(random_actor(&mut rng))).collect();

    // 3. Private writing, then the reveal; clustering and dot votes.
    heading("3. Writing on our own, then sharing");
    room.set_phase(now(), amina, Phase::WritePrivately)?;
    sync_all(&mut room, &mut laptops)?;
    let prompt = room.board(&Viewer::default()).prompts[0].id;
    let ideas = [
        "Being listened to, not rushed",
        "No jargon in letters",
        "Seeing the same person each time",
        "Evening and weekend sessions",
        "Peer workers in every team",
        "Help for carers too",
    ];
    for ((laptop, who), text) in laptops.iter_mut().zip(&people).zip(ideas) {
        let note = NewNote { prompt, text: text.into(), colour: Colour::Sun, x: 0.0, y: 0.0, private: false };
        laptop.add_note(now(), &Writer::Named(*who), &mut rng, note)?;
    }
    let anon = AnonymousActor::random(&mut rng);
    laptops[2].add_note(
        now(),
        &Writer::Anonymous(people[2], anon),
        &mut rng,
        NewNote {
            prompt,
            text: "Staff don't always believe us".into(),
            colour: Colour::Rose,
            x: 0.0,
            y: 0.0,
            private: false,
        },
    )?;
    sync_all(&mut room, &mut laptops)?;
    let tom = Viewer::participant(people[1]);
    println!("Before the reveal, Tom sees {} note: only his own.", count_notes(&room, &tom));
    let revealed = room.reveal_notes(now(), amina, None)?;
    room.set_phase(now(), amina, Phase::Vote)?;
    sync_all(&mut room, &mut laptops)?;
    println!("Amina reveals {revealed} notes. Now Tom sees {}:", count_notes(&room, &tom));
    let notes = room.board(&tom).prompts[0].notes.clone();
    for (i, (laptop, who)) in laptops.iter_mut().zip(&people).enumerate() {
        laptop.set_votes(now(), *who, notes[i % 3].id, 2)?;
    }
    sync_all(&mut room, &mut laptops)?;
    for note in &room.board(&tom).prompts[0].notes {
        println!("  • {} — {} ({} dots)", note.text, note.author.display(), note.votes);
    }

    // 4. A helpful challenge, heard.
    heading("4. A helpful challenge");
    let target = notes.iter().find(|n| n.text.starts_with("Evening")).map(|n| n.id).unwrap_or(notes[0].id);
    let challenge = laptops[0].raise_challenge(
        now(),
        &Writer::Named(people[0]),
        &mut rng,
        Target::Note(target),
        ChallengeKind::SeeDifferently,
        "evenings are hard for people who care for children",
    )?;
    sync_all(&mut room, &mut laptops)?;
    laptops[4].respond_to_challenge(
        now(),
        &Writer::Named(people[4]),
        &mut rng,
        challenge,
        "Good point — what about Saturday mornings?",
    )?;
    laptops[4].set_challenge_status(now(), people[4], challenge, ChallengeStatus::Heard)?;
    sync_all(&mut room, &mut laptops)?;
    let c = room.challenge(&tom, challenge).expect("visible");
    println!("{} on “{}”: {} {}", c.author.display(), c.target_summary, c.kind.label(), c.text);
    for r in &c.responses {
        println!("  ↳ {}: {}", r.author.display(), r.text);
    }
    println!("Marked: {}", c.status.label());

    // 5. A value drafted from three notes, agreed by consent.
    heading("5. Agreeing a value by consent");
    let sources: Vec<NoteId> = notes.iter().take(3).map(|n| n.id).collect();
    let value =
        room.draft_value(now(), amina, &mut rng, "We listen first, and we keep listening", &sources)?;
    room.add_behaviour(now(), amina, &mut rng, value, "We will let people finish what they are saying")?;
    room.edit_value_easy_read(now(), amina, value, &TextEdit::Replace { text: "We listen to you.".into() })?;
    room.open_consent_round(now(), amina, &mut rng, value, None)?;
    sync_all(&mut room, &mut laptops)?;
    let stances = [
        (Stance::Agree, None),
        (Stance::Agree, None),
        (Stance::Agree, None),
        (Stance::Agree, None),
        (Stance::Reservations, Some("It needs longer appointments to be real")),
        (Stance::StandAside, None),
    ];
    room.give_stance(now(), amina, &mut rng, value, Stance::Agree, None)?;
    for ((laptop, who), (stance, reason)) in laptops.iter_mut().zip(&people).zip(stances) {
        laptop.give_stance(now(), *who, &mut rng, value, stance, reason)?;
    }
    sync_all(&mut room, &mut laptops)?;
    let outcome = room.close_consent_round(now(), amina, value)?;
    let v = room.value(&tom, value).expect("value");
    let t = v.rounds[0].tally;
    println!("“{}”", v.statement);
    println!(
        "{} agree, {} with reservations, {} stand aside, {} object → {:?}",
        t.agree, t.reservations, t.stand_aside, t.object, outcome
    );
    for s in v.rounds[0].stances.iter().filter(|s| s.reason.is_some()) {
        println!(
            "  {} ({}): {}",
            s.participant.display(),
            s.stance.label(),
            s.reason.as_deref().unwrap_or("")
        );
    }
    println!(
        "From the notes: {}",
        v.sources.iter().map(|s| format!("“{}”", s.text)).collect::<Vec<_>>().join(", ")
    );

    // 6. The Wi-Fi dies: everyone keeps working; when it returns, every laptop converges.
    heading("6. The Wi-Fi dies mid-session");
    sync_all(&mut room, &mut laptops)?;
    for (laptop, who) in laptops.iter_mut().zip(&people) {
        let note = NewNote {
            prompt,
            text: "Written while offline".into(),
            colour: Colour::Mint,
            x: 0.0,
            y: 0.0,
            private: false,
        };
        laptop.add_note(now(), &Writer::Named(*who), &mut rng, note)?;
    }
    println!(
        "Each laptop wrote a note with no network. Tom's laptop sees {} notes.",
        count_notes(&laptops[1], &tom)
    );
    sync_all(&mut room, &mut laptops)?;
    let heads = room.heads();
    let same = laptops.iter().all(|l| l.heads() == heads);
    println!(
        "The Wi-Fi returns: every laptop has {} notes, identical everywhere: {same}.",
        count_notes(&room, &tom)
    );

    // 7. At home, offline, two people reflect; next week it all merges.
    heading("7. Reflections from home");
    let tom_last_seen = laptops[1].heads();
    let session = room.sessions()[0].id;
    laptops[2].add_reflection(
        now(),
        &Writer::Named(people[2]),
        &mut rng,
        session,
        ReflectionKind::Worked,
        "Writing on our own first helped me speak up",
    )?;
    laptops[3].add_reflection(
        now(),
        &Writer::Named(people[3]),
        &mut rng,
        session,
        ReflectionKind::DoBetter,
        "Send the agreed values round before next week",
    )?;
    sync_all(&mut room, &mut laptops)?;
    println!("Next week, Tom opens his laptop. Since you were last here:");
    for item in laptops[1].changes_since(&tom, &tom_last_seen) {
        println!("  • {}", item.describe());
    }
    Ok(())
}

fn heading(title: &str) {
    println!("\n{title}\n{}", "─".repeat(title.chars().count()));
}

fn count_notes(w: &Workshop, viewer: &Viewer) -> usize {
    w.board(viewer).prompts.iter().map(|p| p.notes.len()).sum()
}

/// Brings every laptop and the facilitator's to the same state, as the room's network would.
fn sync_all(room: &mut Workshop, laptops: &mut [Workshop]) -> Result<(), WorkshopError> {
    for laptop in laptops.iter_mut() {
        room.merge(laptop)?;
    }
    for laptop in laptops.iter_mut() {
        laptop.merge(room)?;
    }
    Ok(())
}
