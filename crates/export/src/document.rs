//! The values document as one data structure, built once from the workshop and rendered to
//! every format. Building it is where the rules live: what is agreed and what is a draft,
//! withdrawn notes left out, anonymous authors kept anonymous, first names only, a fixed
//! order. The renderers only lay it out, so every format says the same thing.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use commonground_workshop::{
    AuthorView, ChallengeKind, ChallengeStatus, ChallengeView, NoteId, Perspective, RoundOutcome, RoundView,
    SessionKind, Stance, Target, TargetKind, ValueStatus, ValueView, Viewer, Workshop,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::date::Day;

/// What the `format` field of every exported document says; bumped when fields change.
pub const DOCUMENT_FORMAT: &str = "commonground.values-document/1";

/// How long after the values were last agreed the document asks the group to review them.
/// The workshop model has no review date of its own, so the export derives one and says so.
pub const REVIEW_AFTER_MONTHS: u32 = 12;

/// The agreed values document: everything any format shows, in the order it shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValuesDocument {
    /// Always [`DOCUMENT_FORMAT`].
    pub format: String,
    /// The workshop's title.
    pub title: String,
    /// What the group is here to do.
    pub purpose: String,
    /// Whether the values are agreed, in part or not yet.
    pub status: DocumentStatus,
    /// How many agreements the document records: each value agreed, and each new wording of
    /// one, counts once. It only goes up.
    pub version: u32,
    /// The day the values were last agreed.
    pub date_agreed: Option<Day>,
    /// [`REVIEW_AFTER_MONTHS`] after `date_agreed`.
    pub review_date: Option<Day>,
    /// SHA-256 (lower-case hex) of this document as canonical JSON with this field empty.
    pub hash: String,
    /// The ground rules, in order.
    pub ground_rules: Vec<String>,
    /// Agreed values, in the order they were first drafted.
    pub values: Vec<AgreedValue>,
    /// Values still being drafted or in a consent round, in the order they were drafted.
    pub drafts: Vec<DraftValue>,
    /// Challenges still open, anywhere in the workshop, oldest first.
    pub open_challenges: Vec<Challenge>,
    /// Counts of who took part and what they did. Never names with roles or titles.
    pub participation: ParticipationCounts,
    /// Who took part apart from the room.
    pub asynchronous: Asynchronous,
    /// Where the data lives.
    pub data: DataFacts,
}

/// Whether the document's values are agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Every value in it is agreed.
    Agreed,
    /// Some values are agreed and some are still drafts.
    AgreedInPart,
    /// Nothing is agreed yet.
    NotYetAgreed,
}

/// Who wrote something, as they chose to be shown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Author {
    /// Under their first name (with a colour and symbol only when two people share it).
    Named {
        /// The name as shown.
        name: String,
    },
    /// Anonymously: nothing links it to a person.
    Anonymous,
    /// The record of who wrote it is missing.
    Unknown,
}

/// An agreed value, in the wording that was agreed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreedValue {
    /// Its number in the document, from 1.
    pub number: u32,
    /// The value in one sentence.
    pub statement: String,
    /// "We will…" behaviours, in order.
    pub behaviours: Vec<String>,
    /// The value in easy-read words.
    pub easy_read: String,
    /// Which wording of the value this is.
    pub version: u32,
    /// When this wording was agreed.
    pub agreed_on: Day,
    /// The notes it grew from.
    pub sources: Vec<Source>,
    /// Every consent round on the value, oldest first: how the wording changed.
    pub history: Vec<WordingStep>,
    /// Challenges raised on the value, oldest first, with their outcomes.
    pub challenges: Vec<Challenge>,
    /// The round that agreed this wording.
    pub consent: Option<ConsentRecord>,
    /// A newer wording under discussion, not agreed yet.
    pub reworking: Option<String>,
}

/// A value still being drafted or in a consent round. Never presented as agreed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftValue {
    /// The wording so far.
    pub statement: String,
    /// "We will…" behaviours so far.
    pub behaviours: Vec<String>,
    /// The easy-read line so far.
    pub easy_read: String,
    /// Whether a consent round is open on it now.
    pub in_consent: bool,
    /// The notes it grew from.
    pub sources: Vec<Source>,
    /// Every consent round on it, oldest first.
    pub history: Vec<WordingStep>,
    /// Challenges raised on it, oldest first.
    pub challenges: Vec<Challenge>,
    /// The latest round (open or closed), if there has been one.
    pub latest_round: Option<ConsentRecord>,
}

/// A note a value grew from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// What the note says.
    pub text: String,
    /// Who wrote it, as they chose.
    pub author: Author,
}

/// One consent round in a value's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordingStep {
    /// The version asked about.
    pub version: u32,
    /// The wording asked about.
    pub statement: String,
    /// When the round opened.
    pub asked_on: Day,
    /// How it ended; `None` while it is open.
    pub outcome: Option<RoundOutcome>,
}

/// Everyone's stance in one consent round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// The wording asked about.
    pub statement: String,
    /// When the round opened.
    pub opened_on: Day,
    /// When it closed.
    pub closed_on: Option<Day>,
    /// How many stances were needed.
    pub quorum: u32,
    /// How it ended; `None` while it is open.
    pub outcome: Option<RoundOutcome>,
    /// Counts of the stances that counted.
    pub tally: Tally,
    /// First names of those who agreed, alphabetically.
    pub agreed: Vec<String>,
    /// Agreed with reservations, with their reasons.
    pub reservations: Vec<Reasoned>,
    /// Stood aside, with their reasons if they gave any.
    pub stood_aside: Vec<Reasoned>,
    /// Objected, with their reasons and where the objection got to.
    pub objections: Vec<Objection>,
    /// Stances that arrived from a laptop that was offline when the round closed.
    pub arrived_late: u32,
}

/// Counts of each stance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Agree.
    pub agree: u32,
    /// Agree with reservations.
    pub reservations: u32,
    /// Stand aside.
    pub stand_aside: u32,
    /// Object.
    pub object: u32,
}

impl From<commonground_workshop::Tally> for Tally {
    fn from(t: commonground_workshop::Tally) -> Self {
        Self { agree: t.agree, reservations: t.reservations, stand_aside: t.stand_aside, object: t.object }
    }
}

impl Tally {
    /// Everyone who gave a stance that counted.
    pub fn total(&self) -> u32 {
        self.agree + self.reservations + self.stand_aside + self.object
    }
}

/// A stance with the reason given for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reasoned {
    /// Their first name.
    pub name: String,
    /// Their reason, if they gave one.
    pub reason: Option<String>,
}

/// An objection and where its challenge got to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objection {
    /// Their first name.
    pub name: String,
    /// Their reason.
    pub reason: Option<String>,
    /// The status of the challenge the objection opened.
    pub challenge: Option<ChallengeStatus>,
}

/// A helpful challenge and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// What sort of thing it is about.
    pub target: TargetKind,
    /// A reminder of what it is about (the start of the note, value or reflection).
    pub about: String,
    /// Its kind.
    pub kind: ChallengeKind,
    /// What it says.
    pub text: String,
    /// Who raised it, as they chose.
    pub raised_by: Author,
    /// When it was raised.
    pub raised_on: Day,
    /// Where it got to.
    pub status: ChallengeStatus,
    /// Whether it is an objection from a consent round.
    pub objection: bool,
    /// Replies, oldest first.
    pub responses: Vec<Response>,
}

/// A reply to a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// Who replied, as they chose.
    pub by: Author,
    /// What they said.
    pub text: String,
}

/// How many people took part and what they contributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipationCounts {
    /// Everyone who joined and was not removed.
    pub people: u32,
    /// People by the perspective they chose to share (only those with at least one person).
    pub by_perspective: Vec<PerspectiveCount>,
    /// People who did not say.
    pub not_said: u32,
    /// Sticky notes on the board (withdrawn and still-private notes are not counted).
    pub notes: u32,
    /// Of those, notes written anonymously.
    pub anonymous_notes: u32,
    /// Helpful challenges raised.
    pub challenges: u32,
    /// Reflections written.
    pub reflections: u32,
    /// Stances given in consent rounds (that counted).
    pub stances: u32,
    /// Sessions together in the room.
    pub sessions_in_room: u32,
    /// Sessions apart, each in their own time.
    pub sessions_apart: u32,
}

/// How many people shared one perspective.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerspectiveCount {
    /// The perspective.
    pub perspective: Perspective,
    /// How many people.
    pub people: u32,
}

/// Contributions made apart from the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asynchronous {
    /// The sessions held apart.
    pub sessions: Vec<SessionLine>,
    /// First names of those who contributed to them under their name, alphabetically.
    pub people: Vec<String>,
    /// Contributions to them made anonymously.
    pub anonymous_contributions: u32,
}

/// A session, by title and day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLine {
    /// Its title.
    pub title: String,
    /// Its day.
    pub on: Day,
}

/// Facts for the data statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFacts {
    /// Laptops registered to the workshop's current participants: each holds a full copy.
    pub devices: u32,
    /// How many people those laptops belong to.
    pub people_with_devices: u32,
    /// How the hash is computed.
    pub hash_algorithm: String,
}

impl ValuesDocument {
    /// Builds the document from the workshop as it is now. Deterministic: the same workshop
    /// state gives the same document, byte for byte, whenever and wherever it is exported.
    pub fn build(workshop: &Workshop) -> ValuesDocument {
        // Nobody in particular is looking: other people's private notes stay hidden and
        // nothing is marked as "mine".
        let viewer = Viewer::default();
        let meta = workshop.meta();
        let people = workshop.participants();
        let names = Names::new(&people);

        let all_values = workshop.values(&viewer);
        let all_challenges = workshop.challenges(&viewer);
        let visible_note = |id: NoteId| workshop.note(&viewer, id).is_some();
        // Defence in depth: the model already hides challenges on hidden notes.
        let shown: Vec<&ChallengeView> = all_challenges
            .iter()
            .filter(|c| match c.target {
                Target::Note(id) => visible_note(id),
                _ => true,
            })
            .collect();

        let mut values = Vec::new();
        let mut drafts = Vec::new();
        let mut version = 0;
        for v in &all_values {
            if v.status == ValueStatus::Withdrawn {
                continue;
            }
            version += u32::try_from(v.versions.len()).unwrap_or(u32::MAX);
            let sources = sources(workshop, &viewer, v, &names);
            let history = v.rounds.iter().map(wording_step).collect();
            let challenges = on_value(&shown, v, &names);
            match v.versions.last() {
                Some(agreed) => {
                    let consent = agreed
                        .round
                        .and_then(|r| v.rounds.iter().find(|round| round.id == r))
                        .map(|round| consent(round, &shown, &names));
                    let reworking = (v.statement != agreed.statement).then(|| v.statement.clone());
                    values.push(AgreedValue {
                        number: 0,
                        statement: agreed.statement.clone(),
                        behaviours: agreed.behaviours.clone(),
                        easy_read: agreed.easy_read.clone(),
                        version: agreed.version,
                        agreed_on: Day::uk(agreed.agreed_at.millis()),
                        sources,
                        history,
                        challenges,
                        consent,
                        reworking,
                    });
                }
                None => drafts.push(DraftValue {
                    statement: v.statement.clone(),
                    behaviours: v.behaviours.iter().map(|b| b.text.clone()).collect(),
                    easy_read: v.easy_read.clone(),
                    in_consent: v.status == ValueStatus::InConsent,
                    sources,
                    history,
                    challenges,
                    latest_round: v.rounds.last().map(|round| consent(round, &shown, &names)),
                }),
            }
        }
        for (i, value) in values.iter_mut().enumerate() {
            value.number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        }

        let date_agreed = values.iter().map(|v| v.agreed_on).max();
        let reworking = values.iter().any(|v| v.reworking.is_some());
        let status = match (values.is_empty(), drafts.is_empty() && !reworking) {
            (true, _) => DocumentStatus::NotYetAgreed,
            (false, true) => DocumentStatus::Agreed,
            (false, false) => DocumentStatus::AgreedInPart,
        };

        let mut open: Vec<&&ChallengeView> =
            shown.iter().filter(|c| c.status == ChallengeStatus::Open).collect();
        open.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let open_challenges = open.into_iter().map(|c| challenge(c, &names)).collect();

        let mut doc = ValuesDocument {
            format: DOCUMENT_FORMAT.to_owned(),
            title: meta.title.trim().to_owned(),
            purpose: meta.purpose.trim().to_owned(),
            status,
            version,
            date_agreed,
            review_date: date_agreed.map(|d| d.plus_months(REVIEW_AFTER_MONTHS)),
            hash: String::new(),
            ground_rules: workshop.ground_rules().into_iter().map(|r| r.text).collect(),
            values,
            drafts,
            open_challenges,
            participation: participation(workshop, &viewer, &all_values, shown.len()),
            asynchronous: asynchronous(workshop, &viewer, &names),
            data: data_facts(workshop, &people),
        };
        doc.hash = doc.compute_hash();
        doc
    }

    /// SHA-256 of the document as canonical JSON with `hash` empty. serde_json writes struct
    /// fields in declaration order and the document holds only lists (no maps), so the same
    /// content always gives the same bytes.
    pub fn compute_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash.clear();
        let canonical = serde_json::to_vec(&unhashed).unwrap_or_default();
        Sha256::digest(&canonical).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `hash` matches the content: a reader can check an exported JSON this way.
    pub fn hash_is_valid(&self) -> bool {
        self.hash == self.compute_hash()
    }
}

/// Shows people by first name; when two current participants share one, adds their colour
/// and symbol (as the app does), never a surname or role.
struct Names {
    shared: BTreeSet<String>,
}

impl Names {
    fn new(people: &[commonground_workshop::ParticipantView]) -> Names {
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        for p in people.iter().filter(|p| !p.removed) {
            *seen.entry(p.name.to_lowercase()).or_default() += 1;
        }
        Names { shared: seen.into_iter().filter(|(_, n)| *n > 1).map(|(k, _)| k).collect() }
    }

    fn name(&self, author: &AuthorView) -> Option<String> {
        match author {
            AuthorView::Participant { name, colour, symbol, .. } => {
                Some(if self.shared.contains(&name.to_lowercase()) {
                    format!("{name} ({}, {})", colour.label(), symbol.key())
                } else {
                    name.clone()
                })
            }
            _ => None,
        }
    }

    fn author(&self, author: &AuthorView) -> Author {
        match author {
            AuthorView::Participant { .. } => Author::Named { name: self.name(author).unwrap_or_default() },
            AuthorView::Anonymous => Author::Anonymous,
            AuthorView::Unknown => Author::Unknown,
        }
    }
}

fn sources(workshop: &Workshop, viewer: &Viewer, v: &ValueView, names: &Names) -> Vec<Source> {
    let ids: Vec<NoteId> = v.sources.iter().map(|s| s.note).collect();
    let notes = workshop.notes(viewer, &ids);
    let mut found: Vec<(i64, NoteId, Source)> = v
        .sources
        .iter()
        .zip(notes)
        // A note that is withdrawn (or still private) is never shown, even as a source.
        .filter_map(|(s, note)| {
            let note = note?;
            Some((
                note.created_at.millis(),
                s.note,
                Source { text: s.text.trim().to_owned(), author: names.author(&s.author) },
            ))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    found.into_iter().map(|(_, _, s)| s).collect()
}

fn wording_step(round: &RoundView) -> WordingStep {
    WordingStep {
        version: round.version,
        statement: round.statement.clone(),
        asked_on: Day::uk(round.opened_at.millis()),
        outcome: round.outcome,
    }
}

fn consent(round: &RoundView, challenges: &[&ChallengeView], names: &Names) -> ConsentRecord {
    // The model's tally counts exactly the stances its close counted; the lists below are
    // the same stances, by name.
    let tally = Tally::from(round.tally);
    let mut agreed = Vec::new();
    let mut reservations = Vec::new();
    let mut stood_aside = Vec::new();
    let mut objections = Vec::new();
    let mut arrived_late = 0;
    for s in &round.stances {
        if !s.counted {
            arrived_late += 1;
            continue;
        }
        let name = names.name(&s.participant).unwrap_or_else(|| "Someone".to_owned());
        let reason = s.reason.as_ref().map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        match s.stance {
            Stance::Agree => agreed.push(name),
            Stance::Reservations => reservations.push(Reasoned { name, reason }),
            Stance::StandAside => stood_aside.push(Reasoned { name, reason }),
            Stance::Object => {
                let challenge =
                    s.challenge.and_then(|id| challenges.iter().find(|c| c.id == id)).map(|c| c.status);
                objections.push(Objection { name, reason, challenge });
            }
        }
    }
    let by_name = |a: &String, b: &String| a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(b));
    agreed.sort_by(by_name);
    reservations.sort_by(|a, b| by_name(&a.name, &b.name).then(a.reason.cmp(&b.reason)));
    stood_aside.sort_by(|a, b| by_name(&a.name, &b.name).then(a.reason.cmp(&b.reason)));
    objections.sort_by(|a, b| by_name(&a.name, &b.name).then(a.reason.cmp(&b.reason)));
    ConsentRecord {
        statement: round.statement.clone(),
        opened_on: Day::uk(round.opened_at.millis()),
        closed_on: round.closed_at.map(|t| Day::uk(t.millis())),
        quorum: round.quorum,
        outcome: round.outcome,
        tally,
        agreed,
        reservations,
        stood_aside,
        objections,
        arrived_late,
    }
}

fn on_value(challenges: &[&ChallengeView], v: &ValueView, names: &Names) -> Vec<Challenge> {
    let mut mine: Vec<&&ChallengeView> =
        challenges.iter().filter(|c| c.target == Target::Value(v.id)).collect();
    mine.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    mine.into_iter().map(|c| challenge(c, names)).collect()
}

fn challenge(c: &ChallengeView, names: &Names) -> Challenge {
    Challenge {
        target: c.target.kind(),
        about: c.target_summary.trim().to_owned(),
        kind: c.kind,
        text: c.text.trim().to_owned(),
        raised_by: names.author(&c.author),
        raised_on: Day::uk(c.created_at.millis()),
        status: c.status,
        objection: c.objection.is_some(),
        responses: c
            .responses
            .iter()
            .map(|r| Response { by: names.author(&r.author), text: r.text.trim().to_owned() })
            .collect(),
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn participation(
    workshop: &Workshop,
    viewer: &Viewer,
    values: &[ValueView],
    challenges: usize,
) -> ParticipationCounts {
    let p = workshop.participation();
    let board = workshop.board(viewer);
    let notes: Vec<_> =
        board.prompts.iter().flat_map(|a| a.notes.iter()).chain(board.unplaced.iter()).collect();
    let sessions = workshop.sessions();
    let stances = values
        .iter()
        .filter(|v| v.status != ValueStatus::Withdrawn)
        .flat_map(|v| v.rounds.iter())
        .flat_map(|r| r.stances.iter())
        .filter(|s| s.counted)
        .count();
    ParticipationCounts {
        people: count(p.people),
        by_perspective: p
            .by_perspective
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(perspective, n)| PerspectiveCount { perspective: *perspective, people: count(*n) })
            .collect(),
        not_said: count(p.not_said),
        notes: count(notes.len()),
        anonymous_notes: count(notes.iter().filter(|n| n.author == AuthorView::Anonymous).count()),
        challenges: count(challenges),
        reflections: count(workshop.reflections(viewer).len()),
        stances: count(stances),
        sessions_in_room: count(sessions.iter().filter(|s| s.kind == SessionKind::InRoom).count()),
        sessions_apart: count(sessions.iter().filter(|s| s.kind == SessionKind::Async).count()),
    }
}

fn asynchronous(workshop: &Workshop, viewer: &Viewer, names: &Names) -> Asynchronous {
    let mut sessions = workshop.sessions();
    sessions.retain(|s| s.kind == SessionKind::Async);
    sessions.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
    let apart: HashSet<_> = sessions.iter().map(|s| s.id).collect();
    let mut people = BTreeSet::new();
    let mut anonymous = 0;
    let mut note = |author: &AuthorView| match names.name(author) {
        Some(name) => {
            people.insert((name.to_lowercase(), name));
        }
        None => anonymous += 1,
    };
    for r in workshop.reflections(viewer) {
        if apart.contains(&r.session) {
            note(&r.author);
        }
    }
    for area in workshop.board(viewer).prompts {
        if area.session.is_some_and(|s| apart.contains(&s)) {
            for n in &area.notes {
                note(&n.author);
            }
        }
    }
    Asynchronous {
        sessions: sessions
            .iter()
            .map(|s| SessionLine { title: s.title.clone(), on: Day::uk(s.date.millis()) })
            .collect(),
        people: people.into_iter().map(|(_, name)| name).collect(),
        anonymous_contributions: anonymous,
    }
}

fn data_facts(workshop: &Workshop, people: &[commonground_workshop::ParticipantView]) -> DataFacts {
    let mut devices = 0;
    let mut with = 0;
    for p in people.iter().filter(|p| !p.removed) {
        let n = workshop.devices(p.id).len();
        devices += n;
        with += usize::from(n > 0);
    }
    DataFacts {
        devices: count(devices),
        people_with_devices: count(with),
        hash_algorithm: "SHA-256".to_owned(),
    }
}
