//! Reading notes fast, and counting dots.
//!
//! The board view is on the hot path (a 10,000-note board is read on load and after a
//! reconnect), and an Automerge lookup costs about the same whether it reads one field or a
//! whole map. So the board reads every note in a single pass over the notes subtree, rather
//! than several lookups per note.
//!
//! Dots live with the voter — `participants[p].votes = { note: dots }` — not with the note:
//! each person writes only their own map (so votes never conflict), checking a person's
//! budget reads only their own few entries, and the board adds up a few maps instead of one
//! map per note. A person who voted on two laptops while they were apart can have given more
//! dots than their budget; the view counts their dots in note order up to the budget, so
//! every laptop shows the same, fair totals.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use automerge::iter::{DocItem, Span};
use automerge::{ObjId, ObjType, ReadDoc, ScalarValueRef as S, ValueRef as V};

use crate::doc::{self, key, Fields};
use crate::ids::{ClusterId, NoteId, ParticipantId, PromptId};
use crate::palette::Colour;
use crate::workshop::ANONYMOUS;

/// Who a note's `author` field names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Author {
    /// A participant.
    Participant(ParticipantId),
    /// Written anonymously.
    Anonymous,
    /// Missing or not understood.
    #[default]
    Unknown,
}

impl Author {
    fn parse(s: &str) -> Self {
        if s == ANONYMOUS {
            Author::Anonymous
        } else {
            s.parse().map_or(Author::Unknown, Author::Participant)
        }
    }
}

/// A cheap hasher for small integer keys (object ids within one pass); the keys come from our
/// own document walk, not from an attacker choosing collisions against a known seed.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// An object id's position within the document, for the walk's lookup table.
fn obj_key(obj: &ObjId) -> (u64, usize) {
    match obj {
        ObjId::Root => (0, 0),
        ObjId::Id(counter, _, actor) => (*counter, *actor),
    }
}

/// A note's fields as stored, before deciding who may see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawNote {
    pub(crate) id: Option<NoteId>,
    pub(crate) obj: Option<ObjId>,
    pub(crate) prompt: Option<PromptId>,
    pub(crate) author: Author,
    pub(crate) text: String,
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) colour: Option<Colour>,
    pub(crate) cluster: Option<ClusterId>,
    pub(crate) private: bool,
    pub(crate) withdrawn: bool,
    pub(crate) created_at: i64,
}

impl RawNote {
    /// On the board for everyone: not private, not withdrawn.
    pub(crate) fn shared(&self) -> bool {
        !self.private && !self.withdrawn
    }

    /// Reads one note with a single pass over its fields.
    pub(crate) fn read<R: ReadDoc + ?Sized>(doc: &R, id: NoteId, obj: &ObjId) -> Self {
        let f = Fields::read(doc, obj);
        RawNote {
            id: Some(id),
            obj: Some(obj.clone()),
            prompt: f.string("prompt").and_then(|p| p.parse().ok()),
            author: f.string("author").map_or(Author::Unknown, Author::parse),
            text: f.text(doc, "text").unwrap_or_default(),
            x: f.float("x").unwrap_or(0.0),
            y: f.float("y").unwrap_or(0.0),
            colour: f.string("colour").and_then(|c| c.parse().ok()),
            cluster: f.string("cluster").and_then(|c| c.parse().ok()),
            private: f.boolean("private_until_reveal") == Some(true),
            withdrawn: f.boolean("withdrawn") == Some(true),
            created_at: f.int("created_at").unwrap_or(0),
        }
    }
}

fn float(v: &V<'_>) -> Option<f64> {
    match v {
        V::Scalar(S::F64(f)) if f.is_finite() => Some(*f),
        V::Scalar(S::Int(i)) => Some(*i as f64),
        V::Scalar(S::Uint(u)) => Some(*u as f64),
        _ => None,
    }
}

fn int(v: &V<'_>) -> Option<i64> {
    match v {
        V::Scalar(S::Int(i) | S::Timestamp(i)) => Some(*i),
        V::Scalar(S::Uint(u)) => i64::try_from(*u).ok(),
        _ => None,
    }
}

/// Every note, in one pass over the notes subtree.
pub(crate) fn scan_notes<R: ReadDoc + ?Sized>(doc: &R) -> Vec<RawNote> {
    #[derive(Clone, Copy)]
    enum Role {
        Notes,
        Note(usize),
        Text(usize),
        Other,
    }
    let Ok(notes) = doc::root(doc, key::NOTES) else { return Vec::new() };
    let mut out: Vec<RawNote> = Vec::new();
    let mut roles: HashMap<(u64, usize), Role, BuildHasherDefault<IdHasher>> = HashMap::default();
    let mut current: Option<std::sync::Arc<ObjId>> = None;
    let mut role = Role::Other;
    for item in doc.iter_at(&notes, None) {
        // Items come object by object; look the role up only when the object changes.
        if !current.as_ref().is_some_and(|c| std::sync::Arc::ptr_eq(c, &item.obj)) {
            role = if *item.obj == notes {
                Role::Notes
            } else {
                roles.get(&obj_key(&item.obj)).copied().unwrap_or(Role::Other)
            };
            current = Some(item.obj.clone());
        }
        match (role, item.item) {
            (Role::Notes, DocItem::Map(m)) => {
                if let V::Object(ObjType::Map) = m.value {
                    let obj = m.id();
                    roles.insert(obj_key(&obj), Role::Note(out.len()));
                    out.push(RawNote { id: m.key.parse().ok(), obj: Some(obj), ..RawNote::default() });
                }
            }
            (Role::Note(i), DocItem::Map(m)) => {
                let n = &mut out[i];
                match (&*m.key, &m.value) {
                    ("text", V::Object(ObjType::Text)) => {
                        roles.insert(obj_key(&m.id()), Role::Text(i));
                    }
                    ("text", V::Scalar(S::Str(s))) => n.text = s.to_string(),
                    ("prompt", V::Scalar(S::Str(s))) => n.prompt = s.parse().ok(),
                    ("author", V::Scalar(S::Str(s))) => n.author = Author::parse(s),
                    ("colour", V::Scalar(S::Str(s))) => n.colour = s.parse().ok(),
                    ("cluster", V::Scalar(S::Str(s))) => n.cluster = s.parse().ok(),
                    ("x", v) => n.x = float(v).unwrap_or(0.0),
                    ("y", v) => n.y = float(v).unwrap_or(0.0),
                    ("private_until_reveal", V::Scalar(S::Boolean(b))) => n.private = *b,
                    ("withdrawn", V::Scalar(S::Boolean(b))) => n.withdrawn = *b,
                    ("created_at", v) => n.created_at = int(v).unwrap_or(0),
                    _ => {}
                }
            }
            (Role::Text(i), DocItem::Text(Span::Text { text, .. })) => {
                // Usually one span per note: take it rather than copy it.
                if out[i].text.is_empty() {
                    out[i].text = text;
                } else {
                    out[i].text.push_str(&text);
                }
            }
            _ => {}
        }
    }
    out
}

/// Everyone's dots, counted fairly.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    totals: HashMap<NoteId, u32>,
    by_person: HashMap<ParticipantId, HashMap<NoteId, u32>>,
}

/// Every person's dots as stored: read from each person's votes map (most of the cost of a
/// note's view in a room of 30), before they are counted against the budget and the shared
/// notes ([`Ledger::count`]). A caller that knows no votes map changed can keep them.
#[derive(Debug, Clone, Default)]
pub struct Dots {
    /// Each person's (note, dots), in note order.
    by_person: Vec<(ParticipantId, Vec<(NoteId, u32)>)>,
}

impl Dots {
    pub(crate) fn read<R: ReadDoc + ?Sized>(doc: &R) -> Dots {
        let mut dots = Dots::default();
        let Ok(participants) = doc::root(doc, key::PARTICIPANTS) else { return dots };
        for item in doc.map_range(&participants, ..) {
            let Ok(person) = item.key.parse::<ParticipantId>() else { continue };
            let Some(votes) = doc::child_map(doc, &item.id(), "votes") else { continue };
            let mut entries = dots_in(doc, &votes);
            entries.sort();
            dots.by_person.push((person, entries));
        }
        dots
    }
}

impl Ledger {
    /// Reads every person's dots on shared notes (`shared` says which notes are shared),
    /// counting each person's dots in note order up to the budget.
    pub(crate) fn read<R: ReadDoc + ?Sized>(doc: &R, shared: &dyn Fn(NoteId) -> bool) -> Ledger {
        Ledger::count(doc, &Dots::read(doc), shared)
    }

    /// [`Ledger::read`] with the dots already read (they must be current).
    pub(crate) fn count<R: ReadDoc + ?Sized>(
        doc: &R,
        dots: &Dots,
        shared: &dyn Fn(NoteId) -> bool,
    ) -> Ledger {
        let budget = crate::meta::vote_budget(doc);
        let mut ledger = Ledger::default();
        for (person, entries) in &dots.by_person {
            let mut used: u32 = 0;
            let mut mine = HashMap::new();
            for &(note, n) in entries {
                if n == 0 || !shared(note) {
                    continue;
                }
                let counted = n.min(budget.saturating_sub(used));
                if counted == 0 {
                    continue;
                }
                used += counted;
                *ledger.totals.entry(note).or_insert(0) += counted;
                mine.insert(note, counted);
            }
            ledger.by_person.insert(*person, mine);
        }
        ledger
    }

    /// All dots on a note.
    pub(crate) fn total(&self, note: NoteId) -> u32 {
        self.totals.get(&note).copied().unwrap_or(0)
    }

    /// One person's dots on a note.
    pub(crate) fn of(&self, person: ParticipantId, note: NoteId) -> u32 {
        self.by_person.get(&person).and_then(|m| m.get(&note)).copied().unwrap_or(0)
    }

    /// One person's dots in use.
    pub(crate) fn used(&self, person: ParticipantId) -> u32 {
        self.by_person.get(&person).map_or(0, |m| m.values().sum())
    }
}

/// The `(note, dots)` entries of one person's votes map.
pub(crate) fn dots_in<R: ReadDoc + ?Sized>(doc: &R, votes: &ObjId) -> Vec<(NoteId, u32)> {
    doc.map_range(votes, ..)
        .filter_map(|i| {
            let n = match i.value {
                V::Scalar(S::Int(n)) => u32::try_from(n).ok()?,
                V::Scalar(S::Uint(n)) => u32::try_from(n).ok()?,
                _ => return None,
            };
            Some((i.key.parse().ok()?, n))
        })
        .collect()
}

/// The shared notes, from scanned notes.
pub(crate) fn shared_ids(notes: &[RawNote]) -> HashSet<NoteId> {
    notes.iter().filter(|n| n.shared()).filter_map(|n| n.id).collect()
}
