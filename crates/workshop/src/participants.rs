//! Participants: first names, colours and symbols, devices, and leaving.

use std::collections::{BTreeMap, HashMap};

use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, ReadDoc};
use rand::RngCore;
use serde::Serialize;

use crate::doc::{self, key};
use crate::error::{Refusal, Result};
use crate::ids::{ParticipantId, Timestamp};
use crate::kinds::Perspective;
use crate::name::FirstName;
use crate::palette::{Colour, Symbol};
use crate::workshop::{facilitator, member, put_if_changed, Workshop};

/// A participant as everyone sees them: a first name, a colour and a symbol. Never a title,
/// role or organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ParticipantView {
    /// Their id.
    pub id: ParticipantId,
    /// Their first name, as they wrote it.
    pub name: String,
    /// Their colour.
    pub colour: Colour,
    /// Their symbol; unique among people with the same first name and colour.
    pub symbol: Symbol,
    /// When they joined.
    pub joined_at: Timestamp,
    /// Whether they are (one of) the facilitators.
    pub facilitator: bool,
    /// Whether they have been removed from the workshop.
    pub removed: bool,
}

/// How many people took part, by the perspectives they chose to share. Never linked to names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Participation {
    /// Everyone who has joined and not been removed.
    pub people: usize,
    /// Counts by perspective, for those who chose to say.
    pub by_perspective: BTreeMap<Perspective, usize>,
    /// People who have not said.
    pub not_said: usize,
}

pub(crate) fn put(
    tx: &mut Transaction<'_>,
    id: ParticipantId,
    name: &FirstName,
    colour: Colour,
    now: Timestamp,
) -> Result<ObjId> {
    let participants = doc::root(tx, key::PARTICIPANTS)?;
    let symbol = free_symbol(tx, &participants, name, colour);
    let obj = tx.put_object(&participants, id.key(), ObjType::Map)?;
    tx.put(&obj, "name", name.as_str())?;
    tx.put(&obj, "colour", colour.key())?;
    tx.put(&obj, "symbol", symbol.key())?;
    tx.put(&obj, "joined_at", now.millis())?;
    tx.put_object(&obj, "devices", ObjType::Map)?;
    tx.put_object(&obj, "votes", ObjType::Map)?;
    Ok(obj)
}

/// The first symbol not already used by someone with the same first name and colour.
fn free_symbol<R: ReadDoc + ?Sized>(
    doc: &R,
    participants: &ObjId,
    name: &FirstName,
    colour: Colour,
) -> Symbol {
    let folded = name.folded();
    let used: Vec<Symbol> = doc::entries::<ParticipantId, _>(doc, participants)
        .iter()
        .filter(|(_, obj)| {
            doc::string(doc, obj, "name")
                .and_then(|n| FirstName::parse(&n).ok())
                .is_some_and(|n| n.folded() == folded)
                && doc::parsed::<Colour, _>(doc, obj, "colour") == Some(colour)
        })
        .filter_map(|(_, obj)| doc::parsed(doc, obj, "symbol"))
        .collect();
    Symbol::ALL
        .iter()
        .copied()
        .find(|s| !used.contains(s))
        .unwrap_or(Symbol::ALL[used.len() % Symbol::ALL.len()])
}

/// Reads every participant, resolving symbol clashes (from concurrent joins) deterministically:
/// the earlier joiner keeps their symbol, a later one with the same name, colour and symbol is
/// shown with the next free symbol.
pub(crate) fn all<R: ReadDoc + ?Sized>(doc: &R) -> Vec<ParticipantView> {
    let Ok(participants) = doc::root(doc, key::PARTICIPANTS) else { return Vec::new() };
    let facilitators = crate::meta::facilitators(doc);
    let mut out: Vec<(ParticipantView, String)> = doc::entries::<ParticipantId, _>(doc, &participants)
        .into_iter()
        .filter_map(|(id, obj)| {
            // One pass over the person's fields: every note view reads everyone (for the
            // authors' names and symbols), and a `get` per field cost about 30 µs each.
            let f = doc::Fields::read(doc, &obj);
            let name = f.string("name")?.to_owned();
            let folded = FirstName::parse(&name).map(|n| n.folded()).unwrap_or_else(|_| name.to_lowercase());
            Some((
                ParticipantView {
                    id,
                    name,
                    colour: f.string("colour").and_then(|c| c.parse().ok()).unwrap_or(Colour::Sun),
                    symbol: f.string("symbol").and_then(|s| s.parse().ok()).unwrap_or(Symbol::Circle),
                    joined_at: Timestamp(f.int("joined_at").unwrap_or(0)),
                    facilitator: facilitators.contains(&id),
                    removed: f.int("removed_at").is_some(),
                },
                folded,
            ))
        })
        .collect();
    out.sort_by(|(a, _), (b, _)| a.joined_at.cmp(&b.joined_at).then(a.id.cmp(&b.id)));
    let mut taken: HashMap<(String, Colour), Vec<Symbol>> = HashMap::new();
    for (view, folded) in &mut out {
        let used = taken.entry((folded.clone(), view.colour)).or_default();
        if used.contains(&view.symbol) {
            if let Some(free) = Symbol::ALL.iter().copied().find(|s| !used.contains(s)) {
                view.symbol = free;
            }
        }
        used.push(view.symbol);
    }
    out.into_iter().map(|(v, _)| v).collect()
}

impl Workshop {
    /// Joins the workshop under a first name and colour, from a device identified by
    /// `device_key` (its public key, hex). Titles and surnames-with-titles are refused with a
    /// kind suggestion; a shared first name is told apart by colour and symbol.
    pub fn join(
        &mut self,
        now: Timestamp,
        rng: &mut dyn RngCore,
        name: &str,
        colour: Colour,
        device_key: Option<&str>,
    ) -> Result<ParticipantId> {
        let name = FirstName::parse(name)?;
        let id = ParticipantId::random(rng);
        self.change(now, |tx| {
            let obj = put(tx, id, &name, colour, now)?;
            if let Some(device) = device_key {
                let devices = doc::child_map(tx, &obj, "devices").ok_or(Refusal::NotAMember)?;
                tx.put(&devices, device, true)?;
            }
            Ok(id)
        })?;
        Ok(id)
    }

    /// Changes your own first name (the same rules as joining).
    pub fn rename_participant(&mut self, now: Timestamp, by: ParticipantId, name: &str) -> Result<()> {
        let name = FirstName::parse(name)?;
        self.change(now, |tx| {
            let obj = member(tx, by)?;
            put_if_changed(tx, &obj, "name", name.as_str())
        })
    }

    /// Changes your own colour.
    pub fn set_participant_colour(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        colour: Colour,
    ) -> Result<()> {
        self.change(now, |tx| {
            let obj = member(tx, by)?;
            put_if_changed(tx, &obj, "colour", colour.key())
        })
    }

    /// Shares (or withdraws) the perspective you bring. It is only ever shown as a count.
    pub fn set_perspective(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        perspective: Option<Perspective>,
    ) -> Result<()> {
        self.change(now, |tx| {
            let obj = member(tx, by)?;
            match perspective {
                Some(p) => put_if_changed(tx, &obj, "perspective", p.key()),
                None => {
                    if tx.get(&obj, "perspective")?.is_some() {
                        tx.delete(&obj, "perspective")?;
                    }
                    Ok(())
                }
            }
        })
    }

    /// Records another device (its public key, hex) as yours.
    pub fn add_device(&mut self, now: Timestamp, by: ParticipantId, device_key: &str) -> Result<()> {
        self.change(now, |tx| {
            let obj = member(tx, by)?;
            let devices = match doc::child_map(tx, &obj, "devices") {
                Some(d) => d,
                None => tx.put_object(&obj, "devices", ObjType::Map)?,
            };
            put_if_changed(tx, &devices, device_key, true)
        })
    }

    /// Removes someone from the workshop (facilitator only). What they wrote stays; they can
    /// no longer make changes, and the node stops syncing with their devices.
    pub fn remove_participant(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        who: ParticipantId,
    ) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let obj = member(tx, who)?;
            if crate::meta::is_facilitator(tx, who) {
                if crate::meta::facilitators(tx).iter().all(|f| *f == who) {
                    return Err(Refusal::LastFacilitator.into());
                }
                crate::meta::set_facilitator(tx, who, false)?;
            }
            tx.put(&obj, "removed_at", now.millis())?;
            Ok(())
        })
    }

    /// Everyone who has joined, in the order they joined.
    pub fn participants(&self) -> Vec<ParticipantView> {
        all(&self.doc)
    }

    /// One participant.
    pub fn participant(&self, id: ParticipantId) -> Option<ParticipantView> {
        all(&self.doc).into_iter().find(|p| p.id == id)
    }

    /// The device keys recorded for a participant.
    pub fn devices(&self, id: ParticipantId) -> Vec<String> {
        let Ok(participants) = doc::root(&self.doc, key::PARTICIPANTS) else { return Vec::new() };
        let Some(obj) = doc::child_map(&self.doc, &participants, &id.key()) else { return Vec::new() };
        let Some(devices) = doc::child_map(&self.doc, &obj, "devices") else { return Vec::new() };
        let mut keys: Vec<String> = doc::set_members(&self.doc, &devices);
        keys.sort();
        keys
    }

    /// Counts of people by the perspectives they chose to share. Never names, never titles.
    pub fn participation(&self) -> Participation {
        let mut by_perspective = BTreeMap::new();
        let mut people = 0;
        let mut not_said = 0;
        if let Ok(participants) = doc::root(&self.doc, key::PARTICIPANTS) {
            for (_, obj) in doc::entries::<ParticipantId, _>(&self.doc, &participants) {
                if doc::int(&self.doc, &obj, "removed_at").is_some() {
                    continue;
                }
                people += 1;
                match doc::parsed::<Perspective, _>(&self.doc, &obj, "perspective") {
                    Some(p) => *by_perspective.entry(p).or_insert(0) += 1,
                    None => not_said += 1,
                }
            }
        }
        Participation { people, by_perspective, not_said }
    }
}
