//! The board: prompts (areas), sticky notes, clusters, dot votes and the private-writing reveal.

use std::collections::HashMap;

use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, ReadDoc};
use rand::RngCore;
use serde::Serialize;

use crate::doc::{self, key, limit, TextEdit};
use crate::error::{ObjectKind, Refusal, Result, WorkshopError};
use crate::ids::{ClusterId, NoteId, ParticipantId, PromptId, SessionId, Timestamp};
use crate::palette::{Colour, Symbol};
use crate::participants::ParticipantView;
use crate::scan::{Author, Dots, Ledger, RawNote};
use crate::workshop::{facilitator, find, member, put_if_changed, Viewer, Workshop, Writer, ANONYMOUS};

/// A place in an ordered list halfway between two neighbours (fractional indexing), so
/// reordering writes one number and never moves list items.
pub fn order_between(before: Option<f64>, after: Option<f64>) -> f64 {
    match (before, after) {
        (None, None) => 1.0,
        (Some(b), None) => b + 1.0,
        (None, Some(a)) => a - 1.0,
        (Some(b), Some(a)) => b + (a - b) / 2.0,
    }
}

/// The board as one viewer sees it: each area with its groups and notes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BoardView {
    /// The areas, in order.
    pub prompts: Vec<PromptView>,
    /// Notes whose area could not be found (kept visible rather than lost).
    pub unplaced: Vec<NoteView>,
    /// Dots the viewer has left to vote with.
    pub votes_left: u32,
}

/// One area of the board.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PromptView {
    /// Its id.
    pub id: PromptId,
    /// Its title (the question the area asks).
    pub title: String,
    /// Its place among the areas.
    pub order: f64,
    /// The session it belongs to, if any.
    pub session: Option<SessionId>,
    /// Groups of notes in this area.
    pub clusters: Vec<ClusterView>,
    /// The notes in this area that the viewer can see, oldest first.
    pub notes: Vec<NoteView>,
}

/// A group of notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ClusterView {
    /// Its id.
    pub id: ClusterId,
    /// Its title.
    pub title: String,
    /// The area it is in.
    pub prompt: PromptId,
}

/// Who wrote something, as the view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuthorView {
    /// Written under a first name.
    Participant {
        /// Their id.
        id: ParticipantId,
        /// Their first name.
        name: String,
        /// Their colour.
        colour: Colour,
        /// Their symbol.
        symbol: Symbol,
    },
    /// Written anonymously; nothing links it to a person.
    Anonymous,
    /// The author could not be found (e.g. damaged data).
    Unknown,
}

impl AuthorView {
    pub(crate) fn resolve(author: Option<&str>, people: &HashMap<String, ParticipantView>) -> Self {
        match author {
            Some(ANONYMOUS) => AuthorView::Anonymous,
            Some(a) => people.get(a).map_or(AuthorView::Unknown, |p| AuthorView::Participant {
                id: p.id,
                name: p.name.clone(),
                colour: p.colour,
                symbol: p.symbol,
            }),
            None => AuthorView::Unknown,
        }
    }

    /// A short plain-English name for the author ("Sam", "Someone (anonymous)").
    pub fn display(&self) -> &str {
        match self {
            AuthorView::Participant { name, .. } => name,
            AuthorView::Anonymous => "Someone (anonymous)",
            AuthorView::Unknown => "Someone",
        }
    }
}

/// A sticky note as one viewer sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NoteView {
    /// Its id.
    pub id: NoteId,
    /// The area it is in.
    pub prompt: PromptId,
    /// What it says.
    pub text: String,
    /// Who wrote it (or anonymous).
    pub author: AuthorView,
    /// Whether the viewer wrote it (including anonymously, from this device).
    pub mine: bool,
    /// Position on the board.
    pub x: f64,
    /// Position on the board.
    pub y: f64,
    /// Its colour.
    pub colour: Colour,
    /// The group it is in.
    pub cluster: Option<ClusterId>,
    /// Everyone's dots on it.
    pub votes: u32,
    /// The viewer's dots on it.
    pub my_votes: u32,
    /// Still private (only ever true for the viewer's own notes).
    pub private: bool,
    /// When it was written.
    pub created_at: Timestamp,
}

/// What a new note holds.
#[derive(Debug, Clone)]
pub struct NewNote {
    /// The area to put it in.
    pub prompt: PromptId,
    /// What it says.
    pub text: String,
    /// Its colour.
    pub colour: Colour,
    /// Position on the board.
    pub x: f64,
    /// Position on the board.
    pub y: f64,
    /// Keep it private until the facilitator reveals. Notes written while the room is in the
    /// "writing on our own" phase are always private.
    pub private: bool,
}

pub(crate) fn put_prompt(
    tx: &mut Transaction<'_>,
    rng: &mut dyn RngCore,
    title: &str,
    order: f64,
    session: Option<SessionId>,
) -> Result<PromptId> {
    let prompts = doc::root(tx, key::PROMPTS)?;
    let id = PromptId::random(rng);
    let obj = tx.put_object(&prompts, id.key(), ObjType::Map)?;
    doc::put_text(tx, &obj, "title", title)?;
    tx.put(&obj, "order", order)?;
    if let Some(session) = session {
        tx.put(&obj, "session", session.key())?;
    }
    Ok(id)
}

fn position(x: f64, y: f64) -> Result<(f64, f64)> {
    const LIMIT: f64 = 1.0e6;
    if x.is_finite() && y.is_finite() && x.abs() <= LIMIT && y.abs() <= LIMIT {
        Ok((x, y))
    } else {
        Err(Refusal::OutOfRange("That spot is off the board. Please place the note on the board.").into())
    }
}

/// The note object and whether `writer` wrote it.
fn note_for<R: ReadDoc + ?Sized>(doc: &R, id: NoteId, writer: &Writer) -> Result<(ObjId, bool)> {
    let obj = find(doc, key::NOTES, id.key(), ObjectKind::Note)?;
    let author = doc::string(doc, &obj, "author");
    let wrote = match (author.as_deref(), writer) {
        (Some(ANONYMOUS), Writer::Anonymous(_, actor)) => actor.created(&obj),
        (Some(a), Writer::Named(p)) => p.key() == a,
        _ => false,
    };
    Ok((obj, wrote))
}

fn is_shared<R: ReadDoc + ?Sized>(doc: &R, note: &ObjId) -> bool {
    doc::boolean(doc, note, "private_until_reveal") != Some(true)
        && doc::boolean(doc, note, "withdrawn") != Some(true)
}

/// Checks that a note may be seen and changed by `by`: not withdrawn, and either shared or theirs.
fn visible_note(tx: &Transaction<'_>, id: NoteId, writer: &Writer) -> Result<ObjId> {
    let (obj, wrote) = note_for(tx, id, writer)?;
    if doc::boolean(tx, &obj, "withdrawn") == Some(true) {
        return Err(Refusal::Withdrawn(ObjectKind::Note).into());
    }
    if doc::boolean(tx, &obj, "private_until_reveal") == Some(true) && !wrote {
        return Err(Refusal::NotYourNote.into());
    }
    Ok(obj)
}

/// A person's own votes map (created when they join).
fn votes_map<R: ReadDoc + ?Sized>(doc: &R, by: ParticipantId) -> Result<ObjId> {
    let participants = doc::root(doc, key::PARTICIPANTS)?;
    doc::child_map(doc, &participants, &by.key())
        .and_then(|p| doc::child_map(doc, &p, "votes"))
        .ok_or(WorkshopError::NotAWorkshop("a participant has no votes"))
}

/// Whether a note is on the board for everyone.
fn shared_by_id<R: ReadDoc + ?Sized>(doc: &R, note: NoteId) -> bool {
    doc::root(doc, key::NOTES)
        .ok()
        .and_then(|notes| doc::child_map(doc, &notes, &note.key()))
        .is_some_and(|n| is_shared(doc, &n))
}

impl Workshop {
    /// Adds an area to the board, after the others (facilitator only).
    pub fn add_prompt(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        rng: &mut dyn RngCore,
        title: &str,
        session: Option<SessionId>,
    ) -> Result<PromptId> {
        let title = doc::checked_text(title, limit::TITLE, true)?;
        let last = self.prompt_orders().into_iter().reduce(f64::max);
        self.change(now, |tx| {
            facilitator(tx, by)?;
            if let Some(s) = session {
                find(tx, key::SESSIONS, s.key(), ObjectKind::Session)?;
            }
            put_prompt(tx, rng, &title, order_between(last, None), session)
        })
    }

    fn prompt_orders(&self) -> Vec<f64> {
        let Ok(prompts) = doc::root(&self.doc, key::PROMPTS) else { return Vec::new() };
        doc::entries::<PromptId, _>(&self.doc, &prompts)
            .iter()
            .filter_map(|(_, o)| doc::float(&self.doc, o, "order"))
            .collect()
    }

    /// Edits an area's title (facilitator only).
    pub fn edit_prompt_title(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        id: PromptId,
        edit: &TextEdit,
    ) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let obj = find(tx, key::PROMPTS, id.key(), ObjectKind::Prompt)?;
            doc::edit_text(tx, &obj, "title", edit, limit::TITLE, true)?;
            Ok(())
        })
    }

    /// Moves an area to a new place among the others (facilitator only); see [`order_between`].
    pub fn set_prompt_order(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        id: PromptId,
        order: f64,
    ) -> Result<()> {
        if !order.is_finite() {
            return Err(Refusal::OutOfRange("That place in the list isn't valid.").into());
        }
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let obj = find(tx, key::PROMPTS, id.key(), ObjectKind::Prompt)?;
            put_if_changed(tx, &obj, "order", order)
        })
    }

    /// Writes a sticky note. Anonymous notes are written by the writer's unlinked anonymous
    /// actor and store no author.
    pub fn add_note(
        &mut self,
        now: Timestamp,
        writer: &Writer,
        rng: &mut dyn RngCore,
        note: NewNote,
    ) -> Result<NoteId> {
        let text = doc::checked_text(&note.text, limit::NOTE, true)?;
        let (x, y) = position(note.x, note.y)?;
        let id = NoteId::random(rng);
        // Anonymous notes record their time only to the minute, so the time can't single out
        // who was typing at that moment.
        let created_at = match writer {
            Writer::Named(_) => now.millis(),
            Writer::Anonymous(..) => now.millis() - now.millis().rem_euclid(60_000),
        };
        self.change_as(now, writer, |tx| {
            member(tx, writer.participant())?;
            find(tx, key::PROMPTS, note.prompt.key(), ObjectKind::Prompt)?;
            let private = note.private || crate::meta::phase(tx) == crate::Phase::WritePrivately;
            let notes = doc::root(tx, key::NOTES)?;
            let obj = tx.put_object(&notes, id.key(), ObjType::Map)?;
            doc::put_text(tx, &obj, "text", &text)?;
            tx.put(&obj, "prompt", note.prompt.key())?;
            tx.put(&obj, "author", writer.author_key())?;
            tx.put(&obj, "x", x)?;
            tx.put(&obj, "y", y)?;
            tx.put(&obj, "colour", note.colour.key())?;
            tx.put(&obj, "private_until_reveal", private)?;
            tx.put(&obj, "withdrawn", false)?;
            tx.put(&obj, "created_at", created_at)?;
            Ok(id)
        })
    }

    /// Edits a note's text, live: concurrent edits from other laptops merge character by
    /// character. Private notes can only be edited by their writer.
    pub fn edit_note(&mut self, now: Timestamp, writer: &Writer, id: NoteId, edit: &TextEdit) -> Result<()> {
        self.change_as(now, writer, |tx| {
            member(tx, writer.participant())?;
            let obj = visible_note(tx, id, writer)?;
            doc::edit_text(tx, &obj, "text", edit, limit::NOTE, true)?;
            Ok(())
        })
    }

    /// Moves a note on the board, optionally to another area. Anyone can move shared notes
    /// (there is always a keyboard or menu way to do this in the UI: no dragging needed).
    pub fn move_note(
        &mut self,
        now: Timestamp,
        writer: &Writer,
        id: NoteId,
        prompt: Option<PromptId>,
        x: f64,
        y: f64,
    ) -> Result<()> {
        let (x, y) = position(x, y)?;
        self.change_as(now, writer, |tx| {
            member(tx, writer.participant())?;
            let obj = visible_note(tx, id, writer)?;
            if let Some(prompt) = prompt {
                find(tx, key::PROMPTS, prompt.key(), ObjectKind::Prompt)?;
                if doc::string(tx, &obj, "prompt").as_deref() != Some(prompt.key().as_str()) {
                    tx.put(&obj, "prompt", prompt.key())?;
                    // A cluster belongs to one area, so a note moved elsewhere leaves its group.
                    if tx.get(&obj, "cluster")?.is_some() {
                        tx.delete(&obj, "cluster")?;
                    }
                }
            }
            put_if_changed(tx, &obj, "x", x)?;
            put_if_changed(tx, &obj, "y", y)
        })
    }

    /// Changes a note's colour.
    pub fn set_note_colour(
        &mut self,
        now: Timestamp,
        writer: &Writer,
        id: NoteId,
        colour: Colour,
    ) -> Result<()> {
        self.change_as(now, writer, |tx| {
            member(tx, writer.participant())?;
            let obj = visible_note(tx, id, writer)?;
            put_if_changed(tx, &obj, "colour", colour.key())
        })
    }

    /// Withdraws a note: it leaves every view and export. Only its writer or a facilitator can.
    pub fn withdraw_note(&mut self, now: Timestamp, writer: &Writer, id: NoteId) -> Result<()> {
        self.change_as(now, writer, |tx| {
            member(tx, writer.participant())?;
            let (obj, wrote) = note_for(tx, id, writer)?;
            if !wrote && !crate::meta::is_facilitator(tx, writer.participant()) {
                return Err(Refusal::NotYourNote.into());
            }
            put_if_changed(tx, &obj, "withdrawn", true)
        })
    }

    /// Starts a group of notes in an area.
    pub fn add_cluster(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        rng: &mut dyn RngCore,
        prompt: PromptId,
        title: &str,
    ) -> Result<ClusterId> {
        let title = doc::checked_text(title, limit::TITLE, false)?;
        let id = ClusterId::random(rng);
        self.change(now, |tx| {
            member(tx, by)?;
            find(tx, key::PROMPTS, prompt.key(), ObjectKind::Prompt)?;
            let clusters = doc::root(tx, key::CLUSTERS)?;
            let obj = tx.put_object(&clusters, id.key(), ObjType::Map)?;
            doc::put_text(tx, &obj, "title", &title)?;
            tx.put(&obj, "prompt", prompt.key())?;
            Ok(id)
        })
    }

    /// Edits a group's title.
    pub fn edit_cluster_title(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        id: ClusterId,
        edit: &TextEdit,
    ) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = find(tx, key::CLUSTERS, id.key(), ObjectKind::Cluster)?;
            doc::edit_text(tx, &obj, "title", edit, limit::TITLE, false)?;
            Ok(())
        })
    }

    /// Puts a note in a group (in the group's area), or takes it out with `None`.
    pub fn set_note_cluster(
        &mut self,
        now: Timestamp,
        writer: &Writer,
        id: NoteId,
        cluster: Option<ClusterId>,
    ) -> Result<()> {
        self.change_as(now, writer, |tx| {
            member(tx, writer.participant())?;
            let obj = visible_note(tx, id, writer)?;
            match cluster {
                Some(c) => {
                    let cobj = find(tx, key::CLUSTERS, c.key(), ObjectKind::Cluster)?;
                    if let Some(prompt) = doc::string(tx, &cobj, "prompt") {
                        put_if_changed(tx, &obj, "prompt", prompt)?;
                    }
                    put_if_changed(tx, &obj, "cluster", c.key())
                }
                None => {
                    if tx.get(&obj, "cluster")?.is_some() {
                        tx.delete(&obj, "cluster")?;
                    }
                    Ok(())
                }
            }
        })
    }

    /// Sets how many of your dots are on a note (0 takes them all off). Each person has the
    /// workshop's vote budget across all notes, and writes only their own entry, so votes
    /// from different laptops never conflict.
    pub fn set_votes(&mut self, now: Timestamp, by: ParticipantId, id: NoteId, dots: u32) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = find(tx, key::NOTES, id.key(), ObjectKind::Note)?;
            if !is_shared(tx, &obj) {
                return Err(Refusal::NoteNotShared("voted on").into());
            }
            let budget = crate::meta::vote_budget(tx);
            let votes = votes_map(tx, by)?;
            let used: u32 = crate::scan::dots_in(tx, &votes)
                .into_iter()
                .filter(|(n, _)| *n != id && shared_by_id(tx, *n))
                .fold(0, |sum, (_, d)| sum.saturating_add(d));
            if used.saturating_add(dots) > budget {
                return Err(Refusal::VoteBudget { budget }.into());
            }
            put_if_changed(tx, &votes, &id.key(), i64::from(dots))
        })
    }

    /// Reveals private notes to everyone, in one area or all of them (facilitator only).
    /// Returns how many notes were revealed.
    pub fn reveal_notes(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        prompt: Option<PromptId>,
    ) -> Result<usize> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let notes = doc::root(tx, key::NOTES)?;
            let wanted = prompt.map(|p| p.key());
            let mut revealed = 0;
            for (_, obj) in doc::entries::<NoteId, _>(tx, &notes) {
                if doc::boolean(tx, &obj, "private_until_reveal") != Some(true) {
                    continue;
                }
                if wanted.as_ref().is_some_and(|w| doc::string(tx, &obj, "prompt").as_ref() != Some(w)) {
                    continue;
                }
                tx.put(&obj, "private_until_reveal", false)?;
                revealed += 1;
            }
            Ok(revealed)
        })
    }

    /// The board as `viewer` sees it: areas in order, each with its groups and the notes the
    /// viewer may see. Other people's private notes and all withdrawn notes are left out.
    pub fn board(&self, viewer: &Viewer) -> BoardView {
        let people = self.people_by_id();
        let mut prompts = self.areas();
        let index: HashMap<PromptId, usize> = prompts.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
        let clusters = self.cluster_areas();
        let notes = crate::scan::scan_notes(&self.doc);
        let shared = crate::scan::shared_ids(&notes);
        let ledger = Ledger::read(&self.doc, &|n| shared.contains(&n));

        let mut unplaced = Vec::new();
        for raw in notes {
            let Some(note) = note_view(raw, viewer, &people, &ledger, &clusters) else { continue };
            match index.get(&note.prompt) {
                Some(&i) => prompts[i].notes.push(note),
                None => unplaced.push(note),
            }
        }
        for p in &mut prompts {
            p.notes.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        }
        unplaced.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let votes_left = self.votes_left_in(viewer, &ledger);
        BoardView { prompts, unplaced, votes_left }
    }

    /// The board's areas in order, each with its groups but without notes: what changes when
    /// areas or groups change, without reading every note.
    pub fn areas(&self) -> Vec<PromptView> {
        let mut prompts: Vec<PromptView> = match doc::root(&self.doc, key::PROMPTS) {
            Ok(map) => doc::entries::<PromptId, _>(&self.doc, &map)
                .into_iter()
                .map(|(id, obj)| PromptView {
                    id,
                    title: doc::text(&self.doc, &obj, "title").unwrap_or_default(),
                    order: doc::float(&self.doc, &obj, "order").unwrap_or(0.0),
                    session: doc::parsed(&self.doc, &obj, "session"),
                    clusters: Vec::new(),
                    notes: Vec::new(),
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        prompts.sort_by(|a, b| a.order.total_cmp(&b.order).then(a.id.cmp(&b.id)));
        for cluster in self.clusters() {
            if let Some(p) = prompts.iter_mut().find(|p| p.id == cluster.prompt) {
                p.clusters.push(cluster);
            }
        }
        prompts
    }

    /// Dots the viewer has left to vote with.
    pub fn votes_left(&self, viewer: &Viewer) -> u32 {
        self.votes_left_in(viewer, &Ledger::read(&self.doc, &|n| shared_by_id(&self.doc, n)))
    }

    fn votes_left_in(&self, viewer: &Viewer, ledger: &Ledger) -> u32 {
        match viewer.participant {
            Some(p) => crate::meta::vote_budget(&self.doc).saturating_sub(ledger.used(p)),
            None => 0,
        }
    }

    /// Which area each group belongs to.
    fn cluster_areas(&self) -> HashMap<ClusterId, PromptId> {
        self.clusters().into_iter().map(|c| (c.id, c.prompt)).collect()
    }

    /// Everyone, by id, for resolving note authors (see [`Workshop::notes_among`]).
    pub fn people_by_id(&self) -> HashMap<ParticipantId, ParticipantView> {
        self.participants().into_iter().map(|p| (p.id, p)).collect()
    }

    /// One note, if the viewer may see it.
    pub fn note(&self, viewer: &Viewer, id: NoteId) -> Option<NoteView> {
        self.note_with(viewer, &self.people(), id)
    }

    /// Several notes as `viewer` sees them (`None` for one they may not see), reading the
    /// people, dots and groups once for all of them rather than once per note.
    pub fn notes(&self, viewer: &Viewer, ids: &[NoteId]) -> Vec<Option<NoteView>> {
        self.notes_among(viewer, ids, &self.people_by_id(), &self.dots())
    }

    /// Every person's dots as stored, for [`Workshop::notes_among`].
    pub fn dots(&self) -> Dots {
        Dots::read(&self.doc)
    }

    /// [`Workshop::notes`], with everyone and their dots already read
    /// ([`Workshop::people_by_id`], [`Workshop::dots`], which must be current): a caller that
    /// knows no one and no dots have changed since can keep them.
    pub fn notes_among(
        &self,
        viewer: &Viewer,
        ids: &[NoteId],
        people: &HashMap<ParticipantId, ParticipantView>,
        dots: &Dots,
    ) -> Vec<Option<NoteView>> {
        let ledger = Ledger::count(&self.doc, dots, &|n| shared_by_id(&self.doc, n));
        let clusters = self.cluster_areas();
        let Ok(notes) = doc::root(&self.doc, key::NOTES) else { return vec![None; ids.len()] };
        ids.iter()
            .map(|&id| {
                let obj = doc::child_map(&self.doc, &notes, &id.key())?;
                note_view(RawNote::read(&self.doc, id, &obj), viewer, people, &ledger, &clusters)
            })
            .collect()
    }

    pub(crate) fn note_with(
        &self,
        viewer: &Viewer,
        people: &HashMap<String, ParticipantView>,
        id: NoteId,
    ) -> Option<NoteView> {
        let obj = doc::find(&self.doc, key::NOTES, &id.key(), ObjectKind::Note).ok()?;
        let raw = RawNote::read(&self.doc, id, &obj);
        let people: HashMap<ParticipantId, ParticipantView> =
            people.values().map(|p| (p.id, p.clone())).collect();
        let ledger = Ledger::read(&self.doc, &|n| shared_by_id(&self.doc, n));
        note_view(raw, viewer, &people, &ledger, &self.cluster_areas())
    }

    /// Everyone, by participant key, for resolving authors.
    pub(crate) fn people(&self) -> HashMap<String, ParticipantView> {
        self.participants().into_iter().map(|p| (p.id.key(), p)).collect()
    }

    /// Every group of notes.
    pub fn clusters(&self) -> Vec<ClusterView> {
        let Ok(map) = doc::root(&self.doc, key::CLUSTERS) else { return Vec::new() };
        let mut out: Vec<ClusterView> = doc::entries::<ClusterId, _>(&self.doc, &map)
            .into_iter()
            .filter_map(|(id, obj)| {
                Some(ClusterView {
                    id,
                    title: doc::text(&self.doc, &obj, "title").unwrap_or_default(),
                    prompt: doc::parsed(&self.doc, &obj, "prompt")?,
                })
            })
            .collect();
        out.sort_by_key(|c| c.id);
        out
    }
}

/// A note as `viewer` sees it, or `None` if they may not see it (withdrawn, someone else's
/// private note) or it cannot be understood. A group from another area (a note moved on one
/// laptop while grouped on another) is not shown.
fn note_view(
    raw: RawNote,
    viewer: &Viewer,
    people: &HashMap<ParticipantId, ParticipantView>,
    ledger: &Ledger,
    clusters: &HashMap<ClusterId, PromptId>,
) -> Option<NoteView> {
    if raw.withdrawn {
        return None;
    }
    let id = raw.id?;
    let obj = raw.obj?;
    let prompt = raw.prompt?;
    let mine = match raw.author {
        Author::Participant(p) => viewer.participant == Some(p),
        Author::Anonymous => viewer.anonymous.iter().any(|a| a.created(&obj)),
        Author::Unknown => false,
    };
    if raw.private && !mine {
        return None;
    }
    let author =
        match raw.author {
            Author::Participant(p) => people.get(&p).map_or(AuthorView::Unknown, |v| {
                AuthorView::Participant { id: v.id, name: v.name.clone(), colour: v.colour, symbol: v.symbol }
            }),
            Author::Anonymous => AuthorView::Anonymous,
            Author::Unknown => AuthorView::Unknown,
        };
    Some(NoteView {
        id,
        prompt,
        text: raw.text,
        author,
        mine,
        x: raw.x,
        y: raw.y,
        colour: raw.colour.unwrap_or(Colour::Sun),
        cluster: raw.cluster.filter(|c| clusters.get(c) == Some(&prompt)),
        votes: ledger.total(id),
        my_votes: viewer.participant.map_or(0, |p| ledger.of(p, id)),
        private: raw.private,
        created_at: Timestamp(raw.created_at),
    })
}
