//! The workshop model against raw Automerge: a benchmark binary that prints a markdown table.
//!
//! The workload is one workshop made with [`Workshop::create`], 12 participants who join, one
//! prompt and 10,000 sticky notes (about 40 characters each, a random place and colour), 20 of
//! them with dots from three participants each. The baseline builds the same document with the
//! plain Automerge API: the same keys, nested maps and Text objects, one transaction per note
//! and per vote, as the typed API does. Both documents use the same actor, ids and commit times,
//! so the baseline saves to the same bytes and the difference is the typed layer's own work.
//!
//! Run with `cargo bench -p commonground-workshop --bench model`. `BENCH_NOTES=1000` shrinks the
//! workload for smoke runs. Timings are medians of interleaved runs (ours, then raw, swapping
//! the order each round) so both sides see the same machine state.

use std::time::{Duration, Instant};

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ActorId, Automerge, AutomergeError, ObjId, ObjType, ReadDoc, ScalarValue, ROOT};
use commonground_workshop::{
    BoardView, Colour, NewNote, NewWorkshop, NoteId, ParticipantId, Phase, PromptId, SessionId, SessionKind,
    Symbol, Timestamp, Viewer, Workshop, Writer, DEFAULT_GROUND_RULES, DEFAULT_VOTE_BUDGET, SCHEMA_VERSION,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Rounds for the create benchmark (it takes seconds per round).
const CREATE_ROUNDS: usize = 2;
/// Rounds for save, load and the board view.
const ROUNDS: usize = 5;
/// The headline goal: loading and viewing the board costs at most this much more than a raw load.
const GOAL: f64 = 1.2;
/// Participants who join after the facilitator.
const JOINERS: usize = 12;
/// Notes that get dots, and how many people vote on each (one dot each). 20 × 3 = 60 dots,
/// exactly the default budget of 5 for each of the 12 joiners.
const VOTED_NOTES: usize = 20;
const VOTERS_PER_NOTE: usize = 3;

const SEED: u64 = 0x00c0_ffee;
const T0: i64 = 1_750_000_000_000;
const TITLE: &str = "Living Well design team";
const PURPOSE: &str = "Agree how we will work together this year";
const PROMPT_TITLE: &str = "Our ideas";
const NAMES: [&str; 1 + JOINERS] =
    ["Sam", "Aroha", "Ngozi", "Siobhán", "José", "Łukasz", "Mei", "Priya", "Tom", "Zoë", "Ali", "Ravi", "Jo"];
const WORDS: &[&str] = &[
    "more", "time", "to", "talk", "after", "each", "session", "clear", "notes", "for", "everyone", "easy",
    "read", "version", "quiet", "room", "breaks", "every", "hour", "share", "lifts", "home", "visits", "ask",
    "families", "first", "fewer", "forms", "name", "badges", "tea", "and", "cake", "listen", "better",
    "plain", "English", "letters", "same", "worker", "each", "week", "we", "want",
];

/// What one note holds, decided before either side runs.
struct NoteSpec {
    text: String,
    x: f64,
    y: f64,
    colour: Colour,
    /// Index into the participants (0 is the facilitator).
    author: usize,
}

/// The whole workload.
struct Spec {
    notes: Vec<NoteSpec>,
    /// (note index, participant index, dots).
    votes: Vec<(usize, usize, u32)>,
}

impl Spec {
    fn new(n: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ 0x5eed);
        let notes = (0..n)
            .map(|_| {
                let target = rng.random_range(30..50);
                let mut text = String::new();
                while text.chars().count() < target {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(WORDS[rng.random_range(0..WORDS.len())]);
                }
                NoteSpec {
                    text,
                    x: rng.random_range(0.0..4000.0),
                    y: rng.random_range(0.0..3000.0),
                    colour: Colour::ALL[rng.random_range(0..Colour::ALL.len())],
                    author: rng.random_range(0..=JOINERS),
                }
            })
            .collect();
        let voted = VOTED_NOTES.min(n);
        let mut votes = Vec::new();
        for k in 0..voted {
            let note = k * n / voted;
            for v in 0..VOTERS_PER_NOTE {
                // Joiners are participants 1..=12; each ends up with exactly five dots.
                votes.push((note, 1 + (k * VOTERS_PER_NOTE + v) % JOINERS, 1));
            }
        }
        Spec { notes, votes }
    }
}

fn create_time() -> Timestamp {
    Timestamp(T0)
}
fn join_time(i: usize) -> Timestamp {
    Timestamp(T0 + 1_000 * (i as i64 + 1))
}
fn note_time(k: usize) -> Timestamp {
    Timestamp(T0 + 60_000 + 1_500 * k as i64)
}
fn vote_time(n: usize, j: usize) -> Timestamp {
    Timestamp(T0 + 60_000 + 1_500 * n as i64 + 10_000 + 700 * j as i64)
}
fn load_time() -> Timestamp {
    Timestamp(T0 + 86_400_000)
}

fn actor() -> ActorId {
    ActorId::from([7u8; 16])
}

/// The ids the typed API drew, so the raw baseline can write the very same keys.
#[derive(PartialEq)]
struct Ids {
    /// Index 0 is the facilitator, then the joiners in order.
    people: Vec<(ParticipantId, Symbol, Colour)>,
    rules: Vec<String>,
    session: SessionId,
    prompt: PromptId,
    notes: Vec<NoteId>,
}

/// Timings of one build.
#[derive(Clone, Copy)]
struct Build {
    setup: Duration,
    notes: Duration,
    votes: Duration,
}

impl Build {
    fn total(&self) -> Duration {
        self.setup + self.notes + self.votes
    }
}

/// Builds the workload through the typed API.
fn build_ours(spec: &Spec) -> BoxResult<(Workshop, Ids, Build)> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let start = Instant::now();
    let new = NewWorkshop {
        title: TITLE.to_owned(),
        purpose: PURPOSE.to_owned(),
        facilitator_name: NAMES[0].to_owned(),
        facilitator_colour: Colour::ALL[0],
        ground_rules: None,
    };
    let (mut ws, facilitator) = Workshop::create(actor(), create_time(), &mut rng, new)?;
    let mut people = vec![facilitator];
    for (i, name) in NAMES.iter().enumerate().skip(1) {
        people.push(ws.join(join_time(i), &mut rng, name, Colour::ALL[i % Colour::ALL.len()], None)?);
    }
    let prompt = ws.board(&Viewer::default()).prompts[0].id;
    let setup = start.elapsed();

    let start = Instant::now();
    let mut notes = Vec::with_capacity(spec.notes.len());
    for (k, n) in spec.notes.iter().enumerate() {
        let note = NewNote { prompt, text: n.text.clone(), colour: n.colour, x: n.x, y: n.y, private: false };
        notes.push(ws.add_note(note_time(k), &Writer::Named(people[n.author]), &mut rng, note)?);
    }
    let notes_time = start.elapsed();

    let start = Instant::now();
    for (j, &(note, who, dots)) in spec.votes.iter().enumerate() {
        ws.set_votes(vote_time(spec.notes.len(), j), people[who], notes[note], dots)?;
    }
    let votes = start.elapsed();

    let views = ws.participants();
    let ids = Ids {
        people: people
            .iter()
            .map(|id| {
                let p = views.iter().find(|p| p.id == *id).expect("every participant is listed");
                (p.id, p.symbol, p.colour)
            })
            .collect(),
        rules: ws.ground_rules().into_iter().map(|r| r.id.to_string()).collect(),
        session: ws.sessions()[0].id,
        prompt,
        notes,
    };
    Ok((ws, ids, Build { setup, notes: notes_time, votes }))
}

fn commit_at(now: Timestamp) -> impl FnOnce(&()) -> CommitOptions {
    move |_| CommitOptions::default().with_time(now.millis().div_euclid(1000))
}

fn change(
    doc: &mut Automerge,
    now: Timestamp,
    f: impl FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
) -> BoxResult<()> {
    doc.transact_with(commit_at(now), f).map_err(|f| f.error)?;
    Ok(())
}

fn put_text(tx: &mut Transaction<'_>, obj: &ObjId, key: &str, value: &str) -> Result<(), AutomergeError> {
    let text = tx.put_object(obj, key, ObjType::Text)?;
    tx.splice_text(&text, 0, 0, value)
}

fn put_participant(
    tx: &mut Transaction<'_>,
    participants: &ObjId,
    (id, symbol, colour): (ParticipantId, Symbol, Colour),
    name: &str,
    now: Timestamp,
) -> Result<(), AutomergeError> {
    let obj = tx.put_object(participants, id.to_string(), ObjType::Map)?;
    tx.put(&obj, "name", name)?;
    tx.put(&obj, "colour", colour.key())?;
    tx.put(&obj, "symbol", symbol.key())?;
    tx.put(&obj, "joined_at", now.millis())?;
    tx.put_object(&obj, "devices", ObjType::Map)?;
    tx.put_object(&obj, "votes", ObjType::Map)?;
    Ok(())
}

/// The root collections, in the order `Workshop::create` makes them.
const COLLECTIONS: [&str; 11] = [
    "ground_rules",
    "participants",
    "sessions",
    "prompts",
    "notes",
    "clusters",
    "challenges",
    "values",
    "reflections",
    "actions",
    "meta",
];

/// Builds the same document with plain Automerge transactions of the same shape.
fn build_raw(spec: &Spec, ids: &Ids) -> BoxResult<(Automerge, Build)> {
    let start = Instant::now();
    let mut doc = Automerge::new().with_actor(actor());
    let mut roots: Vec<ObjId> = Vec::new();
    change(&mut doc, create_time(), |tx| {
        tx.put(ROOT, "schema", ScalarValue::Uint(SCHEMA_VERSION))?;
        for c in COLLECTIONS {
            roots.push(tx.put_object(ROOT, c, ObjType::Map)?);
        }
        let [rules, participants, sessions, prompts, ..] = &roots[..] else { unreachable!() };
        let meta = &roots[10];
        put_text(tx, meta, "title", TITLE)?;
        put_text(tx, meta, "purpose", PURPOSE)?;
        tx.put(meta, "created_at", T0)?;
        tx.put(meta, "phase", Phase::Welcome.key())?;
        tx.put(meta, "vote_budget", i64::from(DEFAULT_VOTE_BUDGET))?;
        tx.put_object(meta, "timer", ObjType::Map)?;
        let facilitators = tx.put_object(meta, "facilitators", ObjType::Map)?;
        for (i, (id, text)) in ids.rules.iter().zip(DEFAULT_GROUND_RULES).enumerate() {
            let rule = tx.put_object(rules, id.as_str(), ObjType::Map)?;
            put_text(tx, &rule, "text", text)?;
            tx.put(&rule, "order", i as f64)?;
        }
        put_participant(tx, participants, ids.people[0], NAMES[0], create_time())?;
        tx.put(&facilitators, ids.people[0].0.to_string(), true)?;
        let session = tx.put_object(sessions, ids.session.to_string(), ObjType::Map)?;
        tx.put(&session, "title", "Session 1")?;
        tx.put(&session, "date", T0)?;
        tx.put(&session, "kind", SessionKind::InRoom.key())?;
        let prompt = tx.put_object(prompts, ids.prompt.to_string(), ObjType::Map)?;
        put_text(tx, &prompt, "title", PROMPT_TITLE)?;
        tx.put(&prompt, "order", 1.0)?;
        tx.put(&prompt, "session", ids.session.to_string())?;
        Ok(())
    })?;
    let participants = roots[1].clone();
    let notes = roots[4].clone();
    for (i, name) in NAMES.iter().enumerate().skip(1) {
        change(&mut doc, join_time(i), |tx| {
            put_participant(tx, &participants, ids.people[i], name, join_time(i))
        })?;
    }
    let setup = start.elapsed();

    let start = Instant::now();
    let prompt = ids.prompt.to_string();
    for (k, (n, id)) in spec.notes.iter().zip(&ids.notes).enumerate() {
        change(&mut doc, note_time(k), |tx| {
            let obj = tx.put_object(&notes, id.to_string(), ObjType::Map)?;
            put_text(tx, &obj, "text", &n.text)?;
            tx.put(&obj, "prompt", prompt.as_str())?;
            tx.put(&obj, "author", ids.people[n.author].0.to_string())?;
            tx.put(&obj, "x", n.x)?;
            tx.put(&obj, "y", n.y)?;
            tx.put(&obj, "colour", n.colour.key())?;
            tx.put(&obj, "private_until_reveal", false)?;
            tx.put(&obj, "withdrawn", false)?;
            tx.put(&obj, "created_at", note_time(k).millis())?;
            Ok(())
        })?;
    }
    let notes_time = start.elapsed();

    let start = Instant::now();
    // Each person's dots live in their own votes map (participants[p].votes[note]).
    for (j, &(note, who, dots)) in spec.votes.iter().enumerate() {
        change(&mut doc, vote_time(spec.notes.len(), j), |tx| {
            let person = map_at(tx, &participants, &ids.people[who].0.to_string());
            let votes = map_at(tx, &person, "votes");
            tx.put(&votes, ids.notes[note].to_string(), i64::from(dots))
        })?;
    }
    let votes = start.elapsed();
    Ok((doc, Build { setup, notes: notes_time, votes }))
}

/// The map under `key` (the baseline's own structure, so it is always there).
fn map_at(tx: &Transaction<'_>, obj: &ObjId, key: &str) -> ObjId {
    match tx.get(obj, key) {
        Ok(Some((automerge::Value::Object(ObjType::Map), id))) => id,
        _ => unreachable!("the baseline wrote a map at {key}"),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

/// Runs `ours` and `raw` alternately, `rounds` times each, swapping which goes first every
/// round; returns their medians.
fn interleaved<A, B>(
    rounds: usize,
    mut ours: impl FnMut() -> (Duration, A),
    mut raw: impl FnMut() -> (Duration, B),
) -> (Duration, Duration) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round.is_multiple_of(2) {
            a.push(ours().0);
            b.push(raw().0);
        } else {
            b.push(raw().0);
            a.push(ours().0);
        }
    }
    (median(a), median(b))
}

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

fn fmt(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 1_000.0 {
        format!("{:.2} s", ms / 1e3)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn ratio(ours: Duration, raw: Duration) -> f64 {
    ours.as_secs_f64() / raw.as_secs_f64().max(1e-9)
}

fn bytes(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out} B")
}

fn row(what: &str, ours: &str, raw: &str, ratio: &str) {
    println!("| {what} | {ours} | {raw} | {ratio} |");
}

fn notes_in(view: &BoardView) -> usize {
    view.prompts.iter().map(|p| p.notes.len()).sum::<usize>() + view.unplaced.len()
}

fn main() -> BoxResult<()> {
    let n: usize = match std::env::var("BENCH_NOTES") {
        Ok(v) => v.trim().parse().map_err(|_| format!("BENCH_NOTES must be a number, not {v:?}"))?,
        Err(_) => 10_000,
    };
    let spec = Spec::new(n);
    let dots: u32 = spec.votes.iter().map(|v| v.2).sum();

    // Create: interleaved rounds; the ids drawn by the typed API are reused by the baseline.
    let mut ours_builds = Vec::new();
    let mut raw_builds = Vec::new();
    let mut kept: Option<(Workshop, Ids)> = None;
    let mut raw_doc: Option<Automerge> = None;
    for round in 0..CREATE_ROUNDS {
        let mut run_ours = |kept: &mut Option<(Workshop, Ids)>| -> BoxResult<()> {
            let (ws, ids, build) = build_ours(&spec)?;
            ours_builds.push(build);
            if let Some((_, old)) = kept.as_ref() {
                assert!(*old == ids, "the seeded rng draws the same ids every round");
            }
            *kept = Some((ws, ids));
            Ok(())
        };
        if round == 0 {
            run_ours(&mut kept)?;
        }
        let ids = &kept.as_ref().expect("built in round 0").1;
        let (doc, build) = build_raw(&spec, ids)?;
        raw_builds.push(build);
        raw_doc = Some(doc);
        if round > 0 {
            run_ours(&mut kept)?;
        }
    }
    let (ws, ids) = kept.expect("at least one round");
    let raw_doc = raw_doc.expect("at least one round");
    let same_doc = ws.heads() == raw_doc.get_heads();
    let viewer = Viewer::participant(ids.people[1].0);

    // Save.
    let (save_ours, save_raw) = interleaved(ROUNDS, || timed(|| ws.save()), || timed(|| raw_doc.save()));
    let saved = ws.save();
    let raw_saved = raw_doc.save();
    drop(raw_doc);

    // Load the same bytes (ours saved) both ways.
    let (load_ours, load_raw) = interleaved(
        ROUNDS,
        || timed(|| Workshop::load(&saved, actor(), load_time()).expect("loads")),
        || timed(|| Automerge::load(&saved).expect("loads")),
    );

    // Board view on a loaded workshop.
    let loaded = Workshop::load(&saved, actor(), load_time())?;
    let view = loaded.board(&viewer);
    let shown = notes_in(&view);
    assert_eq!(shown, n, "the board shows every note");
    let votes_shown: u32 = view.prompts.iter().flat_map(|p| &p.notes).map(|n| n.votes).sum();
    assert_eq!(votes_shown, dots, "the board shows every dot");
    let (board_ours, board_raw) = interleaved(
        ROUNDS,
        || timed(|| loaded.board(&viewer)),
        || timed(|| Automerge::load(&saved).expect("loads")),
    );

    // The headline: what opening a workshop costs, against Automerge's own load.
    let (open_ours, open_raw) = interleaved(
        ROUNDS,
        || {
            timed(|| {
                let ws = Workshop::load(&saved, actor(), load_time()).expect("loads");
                let view = ws.board(&viewer);
                // Returned, so that freeing them is not timed (the raw side's drop is not either).
                (ws, view)
            })
        },
        || timed(|| Automerge::load(&saved).expect("loads")),
    );
    let headline = ratio(open_ours, open_raw);
    let verdict = if headline <= GOAL { "PASS" } else { "MISS" };

    let ours_total = median(ours_builds.iter().map(Build::total).collect());
    let raw_total = median(raw_builds.iter().map(Build::total).collect());
    let ours_notes = median(ours_builds.iter().map(|b| b.notes).collect());
    let raw_notes = median(raw_builds.iter().map(|b| b.notes).collect());
    let ours_votes = median(ours_builds.iter().map(|b| b.votes).collect());
    let raw_votes = median(raw_builds.iter().map(|b| b.votes).collect());
    let ours_setup = median(ours_builds.iter().map(|b| b.setup).collect());
    let raw_setup = median(raw_builds.iter().map(|b| b.setup).collect());

    println!("## Workshop model vs raw Automerge: {n} notes");
    println!();
    println!(
        "{} participants, 1 prompt, {} notes with dots ({dots} dots). Medians of {CREATE_ROUNDS} \
         rounds (create) and {ROUNDS} rounds (the rest), ours and raw interleaved.",
        1 + JOINERS,
        spec.votes.len() / VOTERS_PER_NOTE,
    );
    println!();
    row("operation", "ours", "raw automerge (same bytes / same work)", "ours / raw");
    row("---", "---:", "---:", "---:");
    let r = |a, b| format!("{:.2}×", ratio(a, b));
    row(
        &format!("create {n} notes + {dots} dots (total)"),
        &fmt(ours_total),
        &fmt(raw_total),
        &r(ours_total, raw_total),
    );
    row(
        &format!("&nbsp;&nbsp;create workshop + {JOINERS} joins"),
        &fmt(ours_setup),
        &fmt(raw_setup),
        &r(ours_setup, raw_setup),
    );
    row(
        &format!("&nbsp;&nbsp;`add_note` × {n}"),
        &fmt(ours_notes),
        &fmt(raw_notes),
        &r(ours_notes, raw_notes),
    );
    row(
        &format!("&nbsp;&nbsp;`set_votes` × {}", spec.votes.len()),
        &fmt(ours_votes),
        &fmt(raw_votes),
        &r(ours_votes, raw_votes),
    );
    row("save", &fmt(save_ours), &fmt(save_raw), &r(save_ours, save_raw));
    row(
        "saved size",
        &bytes(saved.len()),
        &bytes(raw_saved.len()),
        &format!("{:.3}×", saved.len() as f64 / raw_saved.len() as f64),
    );
    row("load (the same bytes, ours saved)", &fmt(load_ours), &fmt(load_raw), &r(load_ours, load_raw));
    row(
        &format!("board view ({shown} notes) vs raw load"),
        &fmt(board_ours),
        &fmt(board_raw),
        &r(board_ours, board_raw),
    );
    row(
        &format!("**load + board view** vs raw load (goal ≤ {GOAL}×)"),
        &format!("**{}**", fmt(open_ours)),
        &format!("**{}**", fmt(open_raw)),
        &format!("**{headline:.2}× {verdict}**"),
    );
    println!();
    println!(
        "Same document both ways (equal heads): {}. Raw baseline writes without the typed API's \
         checks (membership, prompt exists, phase, vote budget).",
        if same_doc { "yes" } else { "no" }
    );
    Ok(())
}
