//! View events: small updates derived from Automerge patches, so a front end never re-reads
//! the whole workshop after a change (its own or another laptop's).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use automerge::legacy::{Key, ObjectId};
use automerge::{ObjId as ExId, PatchAction, Prop, ReadDoc};
use commonground_workshop::{
    ActionView, AuthorView, BreakView, ChallengeId, ChallengeView, ChangeHash, Dots, GroundRuleView,
    MetaView, NoteId, NoteView, ParticipantId, ParticipantView, Participation, PromptView, ReflectionView,
    SessionView, Target, ValueView, Viewer, Workshop,
};
use serde::Serialize;
use ts_rs::TS;

/// One change to what a person sees.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export_to = "Event.ts")]
pub enum Event {
    /// Title, purpose, phase, timer, go-round, vote budget or facilitators changed.
    MetaChanged {
        /// The new meta.
        meta: MetaView,
    },
    /// The ground rules changed.
    GroundRulesChanged {
        /// All the ground rules, in order.
        rules: Vec<GroundRuleView>,
    },
    /// Someone joined, left, changed their name or colour, or asked for (or was cleared of) a
    /// break. Note and challenge views carry the author's id, so names can be refreshed from
    /// this list.
    ParticipantsChanged {
        /// Everyone.
        participants: Vec<ParticipantView>,
        /// Counts by perspective.
        participation: Participation,
        /// The breaks this person may see: everyone's for a facilitator, only their own for
        /// anyone else.
        breaks: Vec<BreakView>,
    },
    /// Sessions changed.
    SessionsChanged {
        /// All sessions.
        sessions: Vec<SessionView>,
    },
    /// Board areas or groups changed (areas come without their notes).
    AreasChanged {
        /// The areas, in order, with their groups.
        prompts: Vec<PromptView>,
    },
    /// A note appeared or changed (other than typing in it).
    NoteUpserted {
        /// The note as the person sees it.
        note: NoteView,
    },
    /// Someone typed in a note: apply this splice to its text. Positions count Unicode code
    /// points.
    NoteTextSpliced {
        /// The note.
        note: NoteId,
        /// Where.
        index: usize,
        /// Characters deleted there.
        delete: usize,
        /// Text inserted there.
        insert: String,
    },
    /// A note is no longer visible (withdrawn). Challenges on it go with it.
    NoteRemoved {
        /// The note.
        note: NoteId,
    },
    /// The person's remaining dots changed.
    VotesLeft {
        /// Dots left.
        votes_left: u32,
    },
    /// A challenge appeared or changed (status, replies, words).
    ChallengeUpserted {
        /// The challenge as the person sees it.
        challenge: ChallengeView,
    },
    /// A challenge is no longer visible.
    ChallengeRemoved {
        /// The challenge.
        challenge: ChallengeId,
    },
    /// A value appeared or changed (wording, stances, outcome).
    ValueUpserted {
        /// The value with its provenance and tallies.
        value: ValueView,
    },
    /// A reflection appeared or changed.
    ReflectionUpserted {
        /// The reflection.
        reflection: ReflectionView,
    },
    /// An action appeared or changed.
    ActionUpserted {
        /// The action.
        action: ActionView,
    },
    /// The change can't be described in small events: fetch a new snapshot.
    Resync,
}

/// What a patch touched.
#[derive(Default)]
struct Touched {
    meta: bool,
    ground_rules: bool,
    participants: bool,
    sessions: bool,
    areas: bool,
    votes: bool,
    resync: bool,
    /// Notes changed beyond typing; their splices are dropped in favour of the whole note.
    notes: BTreeSet<String>,
    /// Typing in notes, in order, per note.
    splices: BTreeMap<String, Vec<Event>>,
    challenges: BTreeSet<String>,
    values: BTreeSet<String>,
    reflections: BTreeSet<String>,
    actions: BTreeSet<String>,
    /// Participants whose own entry changed (not just their dots).
    people: BTreeSet<String>,
}

fn key(prop: &Prop) -> Option<&str> {
    match prop {
        Prop::Map(k) => Some(k),
        Prop::Seq(_) => None,
    }
}

/// More new changes than this at once (a laptop catching up with a room's offline work) are
/// reported as [`Event::Resync`]: reading thousands of changes' operations costs more than a
/// front end reading one snapshot, and hundreds of events say no more than the snapshot.
pub const RESYNC_ABOVE: usize = 256;

/// The events for everything that changed between `before` and now, for `viewer`.
///
/// # Found from the new changes, not from a whole-document diff
///
/// `Automerge::diff(before, after)` walks every object in the document whatever changed:
/// 47 ms for one new note in a workshop of 4,000 notes on this machine, paid by every laptop
/// for every edit, local or from another laptop. Instead this reads the operations of the
/// changes made since `before` (`get_changes`: about 1 ms), finds each touched object's place
/// in the document (`parents`), and diffs only the text of notes being typed in
/// (`diff_obj` on that one text). A change that lost a concurrent conflict still names what
/// it touched, so at worst a view is sent that didn't change: every event carries the
/// current state, never a difference, apart from typing, which comes from Automerge's diff
/// of that text.
pub(crate) fn derive(w: &Workshop, viewer: &Viewer, before: &[ChangeHash]) -> Vec<Event> {
    let after = w.heads();
    if before == after.as_slice() {
        return Vec::new();
    }
    let am = w.automerge();
    // Counting the changes is cheap (their metadata); reading their operations is not.
    if am.get_changes_meta(before).len() > RESYNC_ABOVE {
        return vec![Event::Resync];
    }
    let mut t = Touched::default();
    // Each touched object's path from the root, looked up once.
    let mut paths: HashMap<String, Option<Placed>> = HashMap::new();
    // The text objects of notes typed in, by note id.
    let mut typed: BTreeMap<String, ExId> = BTreeMap::new();
    for change in am.get_changes(before) {
        for op in change.decode().operations {
            let obj = match &op.obj {
                ObjectId::Root => {
                    // A change at the root itself (a schema migration, a new collection).
                    t.resync = true;
                    continue;
                }
                ObjectId::Id(id) => id.to_string(),
            };
            let found = paths.entry(obj).or_insert_with_key(|obj| {
                let (exid, _) = am.import(obj).ok()?;
                // Only objects still in the document: a change to a note's text that lost a
                // conflict, or to something deleted, shows nowhere (as with a diff).
                let path = am.parents(&exid).ok()?.visible_path()?;
                Some((exid, path))
            });
            let Some((exid, path)) = found else {
                // Not an object of this document, or no longer visible: nothing a view shows.
                continue;
            };
            let key = match &op.key {
                Key::Map(key) => Some(key.as_str()),
                Key::Seq(_) => None,
            };
            touch(&mut t, &mut typed, exid, path, key);
        }
    }
    if t.resync {
        return vec![Event::Resync];
    }
    let people_changed = t.participants;
    if !t.people.is_empty() {
        // A new name, colour or symbol shows on every note the person wrote.
        let authors = authors_shown_differently(w, before, &after, &t.people);
        if !authors.is_empty() {
            let board = w.board(viewer);
            let notes = board.prompts.iter().flat_map(|p| &p.notes).chain(&board.unplaced);
            for note in notes {
                if matches!(note.author, AuthorView::Participant { id, .. } if authors.contains(&id)) {
                    t.notes.insert(note.id.to_string());
                }
            }
        }
    }
    for (id, text) in typed {
        if t.notes.contains(&id) {
            continue;
        }
        let splices = match (am.diff_obj(&text, before, &after, false), id.parse::<NoteId>()) {
            (Ok(patches), Ok(note)) => patches
                .into_iter()
                .map(|patch| match patch.action {
                    PatchAction::SpliceText { index, value, .. } => {
                        Some(Event::NoteTextSpliced { note, index, delete: 0, insert: value.make_string() })
                    }
                    PatchAction::DeleteSeq { index, length } => {
                        Some(Event::NoteTextSpliced { note, index, delete: length, insert: String::new() })
                    }
                    _ => None,
                })
                .collect::<Option<Vec<Event>>>(),
            _ => None,
        };
        match splices {
            Some(splices) if !splices.is_empty() => {
                t.splices.insert(id, splices);
            }
            Some(_) => {}
            // Anything but typing in the text: the whole note.
            None => {
                t.notes.insert(id);
            }
        }
    }
    let dots_changed = t.votes || t.participants;
    let known = Known {
        people: &|| people(w, before, &after, people_changed),
        dots: &|| dots(w, before, &after, dots_changed),
    };
    collect(w, viewer, t, &known)
}

/// Everyone, by id.
type People = HashMap<ParticipantId, ParticipantView>;

/// Readings of a document, by the heads they were made at: the most recent few.
struct Kept<T>(Mutex<Vec<(Vec<ChangeHash>, Arc<T>)>>);

/// How many readings a [`Kept`] keeps (a laptop's own workshop, and its guests').
const KEPT: usize = 16;

impl<T> Kept<T> {
    const fn new() -> Self {
        Kept(Mutex::new(Vec::new()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Vec<ChangeHash>, Arc<T>)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reading made at `heads`, if kept.
    fn at(&self, heads: &[ChangeHash]) -> Option<Arc<T>> {
        self.lock().iter().find(|(at, _)| at == heads).map(|(_, r)| r.clone())
    }

    /// The reading as of `after`: kept, or when the changes from `before` didn't touch what it
    /// reads (`changed` false), the one made at `before`, or else `read()`; kept from now on.
    fn get(
        &self,
        before: &[ChangeHash],
        after: &[ChangeHash],
        changed: bool,
        read: impl FnOnce() -> T,
    ) -> Arc<T> {
        let mut kept = self.lock();
        if let Some((_, reading)) = kept.iter().find(|(at, _)| at == after) {
            return reading.clone();
        }
        let reuse =
            if changed { None } else { kept.iter().find(|(at, _)| at == before).map(|(_, r)| r.clone()) };
        let reading = reuse.unwrap_or_else(|| Arc::new(read()));
        if kept.len() >= KEPT {
            kept.remove(0);
        }
        kept.push((after.to_vec(), reading.clone()));
        reading
    }
}

/// Everyone's views.
static PEOPLE: Kept<People> = Kept::new();
/// Everyone's dots as stored.
static DOTS: Kept<Dots> = Kept::new();

/// Everyone as of `after`. Every note view names its author, and reading everyone is most of
/// the cost of one note's event in a room of 30; so when the changes from `before` to `after`
/// touched no one (`changed` false: no participant, no facilitator list), the reading made at
/// `before` is used again. Readings are kept by heads, which name a document's state exactly.
fn people(w: &Workshop, before: &[ChangeHash], after: &[ChangeHash], changed: bool) -> Arc<People> {
    // When someone changed, `authors_shown_differently` has already read them at `after`.
    PEOPLE.get(before, after, changed, || w.people_by_id())
}

/// Everyone's dots as of `after`: each note view shows its dots, and reading every person's
/// votes map is the other large cost of a note's event. Read again only when the changes from
/// `before` touched a votes map or a participant (`changed`).
fn dots(w: &Workshop, before: &[ChangeHash], after: &[ChangeHash], changed: bool) -> Arc<Dots> {
    DOTS.get(before, after, changed, || w.dots())
}

/// The people whose notes now name them differently (name, colour or symbol) after changes
/// that touched the entries of `touched`. Exact when the reading of everyone at `before` is
/// kept; otherwise the touched people and everyone who now shares a first name with one of
/// them (a symbol tells people with the same name and colour apart, so it can move).
fn authors_shown_differently(
    w: &Workshop,
    before: &[ChangeHash],
    after: &[ChangeHash],
    touched: &BTreeSet<String>,
) -> BTreeSet<ParticipantId> {
    let shown = |p: &ParticipantView| (p.name.clone(), p.colour, p.symbol);
    let old = PEOPLE.at(before);
    let now = people(w, before, after, true);
    match old {
        Some(old) => old
            .keys()
            .chain(now.keys())
            .filter(|id| old.get(id).map(shown) != now.get(id).map(shown))
            .copied()
            .collect(),
        None => {
            let names: BTreeSet<String> = now
                .values()
                .filter(|p| touched.contains(&p.id.to_string()))
                .map(|p| p.name.to_lowercase())
                .collect();
            now.values()
                .filter(|p| touched.contains(&p.id.to_string()) || names.contains(&p.name.to_lowercase()))
                .map(|p| p.id)
                .collect()
        }
    }
}

/// An object of the document, and its path from the root.
type Placed = (ExId, Vec<(ExId, Prop)>);

/// Records what one operation touched: `path` leads from the root to the object it changed
/// (`obj`), and `key` is the map key it put or deleted there (none in text).
fn touch(
    t: &mut Touched,
    typed: &mut BTreeMap<String, ExId>,
    obj: &ExId,
    path: &[(ExId, Prop)],
    key: Option<&str>,
) {
    let Some((_, first)) = path.first() else {
        // Every object but the root (handled by the caller) has a place under the root.
        t.resync = true;
        return;
    };
    let collection = self::key(first).unwrap_or_default();
    // The object's id: the second step of the path, or the key put into the collection.
    let id = match path.get(1) {
        Some((_, prop)) => self::key(prop).map(str::to_owned),
        None => key.map(str::to_owned),
    };
    let Some(id) = id else { return };
    match collection {
        "meta" => {
            t.meta = true;
            // Who facilitates decides whose breaks a person sees (and each participant's
            // `facilitator` flag).
            if id == "facilitators" {
                t.participants = true;
            }
        }
        // A person's dots live in their own votes map: a vote changes a note's totals.
        "participants" if path.get(2).and_then(|(_, p)| self::key(p)) == Some("votes") => {
            t.votes = true;
            if let Some(note) = key {
                t.notes.insert(note.to_owned());
            }
        }
        "notes" if path.len() == 3 && path.get(2).and_then(|(_, p)| self::key(p)) == Some("text") => {
            typed.insert(id, obj.clone());
        }
        other => touch_collection(t, other, id),
    }
}

/// Marks `id` in `collection` as changed.
fn touch_collection(t: &mut Touched, collection: &str, id: String) {
    match collection {
        "meta" => t.meta = true,
        "ground_rules" => t.ground_rules = true,
        "participants" => {
            t.participants = true;
            t.people.insert(id);
        }
        "sessions" => t.sessions = true,
        "prompts" | "clusters" => t.areas = true,
        "notes" => {
            t.notes.insert(id);
        }
        "challenges" => {
            t.challenges.insert(id);
        }
        "values" => {
            t.values.insert(id);
        }
        "reflections" => {
            t.reflections.insert(id);
        }
        "actions" => {
            t.actions.insert(id);
        }
        _ => t.resync = true,
    }
}

/// Readings of everyone and their dots, made only if a note is shown.
struct Known<'a> {
    people: &'a dyn Fn() -> Arc<People>,
    dots: &'a dyn Fn() -> Arc<Dots>,
}

fn collect(w: &Workshop, viewer: &Viewer, mut t: Touched, known: &Known<'_>) -> Vec<Event> {
    let mut events = Vec::new();
    if t.meta {
        events.push(Event::MetaChanged { meta: w.meta() });
    }
    if t.ground_rules {
        events.push(Event::GroundRulesChanged { rules: w.ground_rules() });
    }
    if t.participants {
        events.push(Event::ParticipantsChanged {
            participants: w.participants(),
            participation: w.participation(),
            breaks: w.breaks(viewer),
        });
    }
    if t.sessions {
        events.push(Event::SessionsChanged { sessions: w.sessions() });
    }
    if t.areas {
        events.push(Event::AreasChanged { prompts: w.areas() });
    }
    // Every changed note is read in one go: the people, dots and groups are read once.
    let mut ids: Vec<NoteId> = t.notes.iter().filter_map(|id| id.parse().ok()).collect();
    let changed = ids.len();
    let spliced: Vec<NoteId> =
        t.splices.keys().filter(|id| !t.notes.contains(*id)).filter_map(|id| id.parse().ok()).collect();
    ids.extend(&spliced);
    let views = if ids.is_empty() {
        Vec::new()
    } else {
        w.notes_among(viewer, &ids, &(known.people)(), &(known.dots)())
    };
    for (&note, view) in ids.iter().zip(&views).take(changed) {
        events.push(match view {
            Some(view) => Event::NoteUpserted { note: view.clone() },
            None => {
                // Dots on a note that has gone are given back.
                t.votes = true;
                Event::NoteRemoved { note }
            }
        });
    }
    for (note, view) in spliced.iter().zip(&views[changed..]) {
        // A private note of someone else's must not leak its typing. (A note changed as a
        // whole already carries its final text, so its splices were left out above.)
        if view.is_some() {
            if let Some(splices) = t.splices.remove(&note.to_string()) {
                events.extend(splices);
            }
        }
    }
    if t.votes {
        events.push(Event::VotesLeft { votes_left: w.votes_left(viewer) });
    }
    if !t.challenges.is_empty() {
        let visible: BTreeMap<String, ChallengeView> =
            w.challenges(viewer).into_iter().map(|c| (c.id.to_string(), c)).collect();
        for id in &t.challenges {
            match visible.get(id) {
                Some(c) => {
                    if let Target::Value(v) = c.target {
                        t.values.insert(v.to_string());
                    }
                    events.push(Event::ChallengeUpserted { challenge: c.clone() });
                }
                None => {
                    if let Ok(challenge) = id.parse() {
                        events.push(Event::ChallengeRemoved { challenge });
                    }
                }
            }
        }
    }
    if !t.values.is_empty() {
        for v in w.values(viewer) {
            if t.values.contains(&v.id.to_string()) {
                events.push(Event::ValueUpserted { value: v });
            }
        }
    }
    if !t.reflections.is_empty() {
        for r in w.reflections(viewer) {
            if t.reflections.contains(&r.id.to_string()) {
                events.push(Event::ReflectionUpserted { reflection: r });
            }
        }
    }
    if !t.actions.is_empty() {
        for a in w.actions() {
            if t.actions.contains(&a.id.to_string()) {
                events.push(Event::ActionUpserted { action: a });
            }
        }
    }
    events
}
