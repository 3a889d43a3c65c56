//! The workshop handle: one Automerge document, its life cycle, sync and transactions.

use automerge::sync::{self, SyncDoc};
use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ActorId, Automerge, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, ROOT};
use rand::RngCore;

use crate::doc::{self, key};
use crate::error::{ObjectKind, Refusal, Result, WorkshopError};
use crate::ids::{ParticipantId, Timestamp};
use crate::schema::{self, SCHEMA_VERSION};

/// One workshop: a typed, sans-IO view over its Automerge document.
///
/// Operations take `now` and ids (or an rng) from the caller and commit one Automerge change
/// each, or nothing at all when they fail. Queries build the views the UI needs.
#[derive(Debug, Clone)]
pub struct Workshop {
    pub(crate) doc: Automerge,
}

/// A fresh random Automerge actor id for a device, drawn from the caller's rng.
pub fn random_actor(rng: &mut dyn RngCore) -> ActorId {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    ActorId::from(bytes)
}

/// A separate, unlinked Automerge actor used to write one anonymous contribution.
///
/// It is drawn from the rng, so nothing about it can be derived from the author's own actor
/// or participant id; the document's history shows only this actor. The device that wrote the
/// contribution keeps it (locally, never in the document) to recognise and edit it later.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AnonymousActor(ActorId);

impl AnonymousActor {
    /// A new random anonymous actor.
    pub fn random(rng: &mut dyn RngCore) -> Self {
        Self(random_actor(rng))
    }

    /// Restores an anonymous actor the device saved earlier.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(ActorId::from(bytes))
    }

    /// The actor's bytes, for the device's private store.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes().to_vec()
    }

    pub(crate) fn actor(&self) -> &ActorId {
        &self.0
    }

    /// Whether `obj` was created by this actor.
    pub(crate) fn created(&self, obj: &ObjId) -> bool {
        matches!(obj, ObjId::Id(_, actor, _) if actor == &self.0)
    }
}

impl std::fmt::Debug for AnonymousActor {
    // Never print the actor: it is the one secret that links an anonymous note to its writer.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AnonymousActor(..)")
    }
}

/// Who is writing: a named participant, or a participant writing anonymously.
#[derive(Debug, Clone)]
pub enum Writer {
    /// Written under the participant's first name.
    Named(ParticipantId),
    /// Written anonymously. The participant id is used only to check membership and is never
    /// stored; the change is made by the anonymous actor.
    Anonymous(ParticipantId, AnonymousActor),
}

impl Writer {
    /// The participant behind the writing (never stored for anonymous writing).
    pub fn participant(&self) -> ParticipantId {
        match self {
            Writer::Named(p) | Writer::Anonymous(p, _) => *p,
        }
    }

    pub(crate) fn anonymous(&self) -> Option<&AnonymousActor> {
        match self {
            Writer::Named(_) => None,
            Writer::Anonymous(_, a) => Some(a),
        }
    }

    /// The value stored in an `author` field.
    pub(crate) fn author_key(&self) -> String {
        match self {
            Writer::Named(p) => p.key(),
            Writer::Anonymous(..) => ANONYMOUS.to_owned(),
        }
    }
}

/// The `author` value of anonymous contributions.
pub(crate) const ANONYMOUS: &str = "anonymous";

/// Who is looking: views hide other people's private notes and mark the viewer's own
/// contributions, including the anonymous ones this device wrote.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    /// The participant looking, if they have joined.
    pub participant: Option<ParticipantId>,
    /// The anonymous actors this device has written with.
    pub anonymous: Vec<AnonymousActor>,
}

impl Viewer {
    /// A viewer who is the given participant, with no anonymous writing.
    pub fn participant(id: ParticipantId) -> Self {
        Self { participant: Some(id), anonymous: Vec::new() }
    }

    /// Whether the object was written by this viewer: by participant id in `author`, or
    /// created by one of this device's anonymous actors.
    pub(crate) fn wrote(&self, author: Option<&str>, obj: &ObjId) -> bool {
        match author {
            Some(ANONYMOUS) => self.anonymous.iter().any(|a| a.created(obj)),
            Some(a) => self.participant.is_some_and(|p| p.key() == a),
            None => false,
        }
    }
}

/// A document that could not be opened as a workshop, handed back (unchanged, or with any
/// migrations that did succeed) together with the reason.
#[derive(Debug)]
pub struct NotOpened {
    /// The document.
    pub doc: Automerge,
    /// Why it could not be opened.
    pub error: WorkshopError,
}

/// What to create a workshop with.
#[derive(Debug, Clone)]
pub struct NewWorkshop {
    /// The workshop's title, e.g. "Living Well design team".
    pub title: String,
    /// What the group is here to do.
    pub purpose: String,
    /// The facilitator's first name.
    pub facilitator_name: String,
    /// The facilitator's colour.
    pub facilitator_colour: crate::Colour,
    /// The ground rules; `None` uses the defaults.
    pub ground_rules: Option<Vec<String>>,
}

impl Workshop {
    /// Creates a new workshop, with its creator as the first participant and facilitator,
    /// the default (or given) ground rules, a first session in the room and a first board
    /// area. Returns the workshop and the facilitator's participant id.
    pub fn create(
        actor: ActorId,
        now: Timestamp,
        rng: &mut dyn RngCore,
        new: NewWorkshop,
    ) -> Result<(Self, ParticipantId)> {
        let title = doc::checked_text(&new.title, doc::limit::TITLE, true)?;
        let purpose = doc::checked_text(&new.purpose, doc::limit::PURPOSE, false)?;
        let rules = match new.ground_rules {
            Some(rules) => rules,
            None => crate::DEFAULT_GROUND_RULES.iter().map(|s| (*s).to_owned()).collect(),
        };
        let rules = rules
            .iter()
            .filter(|r| !r.trim().is_empty())
            .map(|r| doc::checked_text(r, doc::limit::GROUND_RULE, true))
            .collect::<Result<Vec<_>>>()?;
        let name = crate::FirstName::parse(&new.facilitator_name)?;

        let mut workshop = Workshop { doc: Automerge::new().with_actor(actor) };
        let facilitator = ParticipantId::random(rng);
        workshop.change(now, |tx| {
            tx.put(ROOT, key::SCHEMA, ScalarValue::Uint(SCHEMA_VERSION))?;
            for collection in key::COLLECTIONS {
                tx.put_object(ROOT, collection, ObjType::Map)?;
            }
            crate::meta::init(tx, now, &title, &purpose)?;
            for (i, rule) in rules.iter().enumerate() {
                crate::meta::put_ground_rule(tx, crate::GroundRuleId::random(rng), rule, i as f64)?;
            }
            crate::participants::put(tx, facilitator, &name, new.facilitator_colour, now)?;
            crate::meta::set_facilitator(tx, facilitator, true)?;
            let session = crate::sessions::put(tx, rng, "Session 1", now, crate::SessionKind::InRoom)?;
            crate::board::put_prompt(tx, rng, "Our ideas", 1.0, Some(session))?;
            Ok(())
        })?;
        Ok((workshop, facilitator))
    }

    /// Loads a workshop saved with [`Workshop::save`] (or received whole from a peer),
    /// writing future changes as `actor`. Older schema versions are migrated.
    pub fn load(bytes: &[u8], actor: ActorId, now: Timestamp) -> Result<Self> {
        let doc = Automerge::load(bytes)?.with_actor(actor);
        Self::from_automerge(doc, now).map_err(|rejected| rejected.error)
    }

    /// Wraps an Automerge document that holds a workshop, checking it and migrating it from
    /// an older schema. A document that can't be opened is handed back with the reason, so a
    /// runtime that keeps documents in a repo never loses one (it must not be replaced by an
    /// empty document that would then be saved over the real one).
    pub fn from_automerge(mut doc: Automerge, now: Timestamp) -> std::result::Result<Self, Box<NotOpened>> {
        let opened = schema::upgrade(&mut doc, now, schema::MIGRATIONS, SCHEMA_VERSION)
            .and_then(|_| key::COLLECTIONS.iter().try_for_each(|c| doc::root(&doc, c).map(drop)));
        match opened {
            Ok(()) => Ok(Workshop { doc }),
            Err(error) => Err(Box::new(NotOpened { doc, error })),
        }
    }

    /// Checks, without changing it, that a document is a workshop this build can open.
    /// Returns whether opening it will migrate it from an older schema.
    pub fn check(doc: &Automerge) -> Result<bool> {
        let found = schema::version(doc).ok_or(WorkshopError::NotAWorkshop("no format version"))?;
        if found > SCHEMA_VERSION {
            return Err(WorkshopError::TooNew { found, supported: SCHEMA_VERSION });
        }
        if found == SCHEMA_VERSION {
            for collection in key::COLLECTIONS {
                doc::root(doc, collection)?;
            }
        }
        Ok(found < SCHEMA_VERSION)
    }

    /// A copy of this workshop for another device, writing as `actor`. This is how a replica
    /// starts from the creator's document; replicas must never create the workshop
    /// independently.
    pub fn fork(&self, actor: ActorId) -> Self {
        Workshop { doc: self.doc.fork().with_actor(actor) }
    }

    /// The whole document, compacted.
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// The changes made since `heads`, for appending to a log.
    pub fn save_after(&self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    /// Applies saved changes or a saved document (for example chunks from storage).
    pub fn load_incremental(&mut self, bytes: &[u8]) -> Result<usize> {
        Ok(self.doc.load_incremental(bytes)?)
    }

    /// The current heads: a compact summary of everything this replica has seen.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The next sync message for a peer, if there is anything to say.
    pub fn generate_sync_message(&self, state: &mut sync::State) -> Option<sync::Message> {
        self.doc.generate_sync_message(state)
    }

    /// Applies a sync message from a peer.
    pub fn receive_sync_message(&mut self, state: &mut sync::State, message: sync::Message) -> Result<()> {
        self.doc.receive_sync_message(state, message)?;
        Ok(())
    }

    /// Applies an encoded sync message from a peer; undecodable bytes are an error, never a panic.
    pub fn receive_sync_bytes(&mut self, state: &mut sync::State, bytes: &[u8]) -> Result<()> {
        let message = sync::Message::decode(bytes).map_err(|e| WorkshopError::SyncMessage(e.to_string()))?;
        self.receive_sync_message(state, message)
    }

    /// Merges everything another replica has.
    pub fn merge(&mut self, other: &mut Workshop) -> Result<()> {
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// Gives back the Automerge document (for runtimes that keep documents in a repo and wrap
    /// them as a `Workshop` only while working on them).
    pub fn into_automerge(self) -> Automerge {
        self.doc
    }

    /// The underlying Automerge document, read-only (for sync and storage layers).
    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }

    /// The actor this replica writes as.
    pub fn actor(&self) -> &ActorId {
        self.doc.get_actor()
    }

    /// The schema version of this document.
    pub fn schema_version(&self) -> u64 {
        schema::version(&self.doc).unwrap_or(0)
    }

    /// Runs `f` as one change, committed at `now`; on error nothing is written.
    pub(crate) fn change<O>(
        &mut self,
        now: Timestamp,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<O>,
    ) -> Result<O> {
        self.doc
            .transact_with(|_| CommitOptions::default().with_time(now.secs()), f)
            .map(|s| s.result)
            .map_err(|f| f.error)
    }

    /// Runs `f` as one change written by `writer`: anonymous writing is committed by the
    /// anonymous actor, with no commit time, so history cannot tie it to the writer.
    pub(crate) fn change_as<O>(
        &mut self,
        now: Timestamp,
        writer: &Writer,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<O>,
    ) -> Result<O> {
        let Some(anon) = writer.anonymous() else {
            return self.change(now, f);
        };
        let own = self.doc.get_actor().clone();
        self.doc.set_actor(anon.actor().clone());
        let result = self
            .doc
            .transact_with(|_| CommitOptions::default().with_time(0), f)
            .map(|s| s.result)
            .map_err(|f| f.error);
        self.doc.set_actor(own);
        result
    }
}

/// Checks that `who` is a current participant, returning their object.
pub(crate) fn member<R: ReadDoc + ?Sized>(doc: &R, who: ParticipantId) -> Result<ObjId> {
    let participants = doc::root(doc, key::PARTICIPANTS)?;
    let obj = doc::child_map(doc, &participants, &who.key()).ok_or(Refusal::NotAMember)?;
    if doc::int(doc, &obj, "removed_at").is_some() {
        return Err(Refusal::Removed.into());
    }
    Ok(obj)
}

/// Checks that `who` is a current participant and a facilitator.
pub(crate) fn facilitator<R: ReadDoc + ?Sized>(doc: &R, who: ParticipantId) -> Result<()> {
    member(doc, who)?;
    if crate::meta::is_facilitator(doc, who) {
        Ok(())
    } else {
        Err(Refusal::FacilitatorOnly.into())
    }
}

/// Looks up an object of `kind` by id.
pub(crate) fn find<R: ReadDoc + ?Sized>(
    doc: &R,
    collection: &str,
    id: String,
    kind: ObjectKind,
) -> Result<ObjId> {
    doc::find(doc, collection, &id, kind)
}

/// Writes a value only if it differs, so that re-applying an operation makes no change.
pub(crate) fn put_if_changed<V: Into<ScalarValue>>(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    prop: &str,
    value: V,
) -> Result<()> {
    let value = value.into();
    let same = matches!(tx.get(obj, prop), Ok(Some((automerge::Value::Scalar(old), _))) if *old == value);
    if !same {
        tx.put(obj, prop, value)?;
    }
    Ok(())
}
