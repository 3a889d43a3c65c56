//! Common Ground patch: changes sent as Automerge bundles.
//!
//! A sync message carries each change in its own encoding (about 420 bytes for a sticky
//! note); a bundle (`Automerge::bundle`) encodes a set of changes the way a saved document
//! does, about ten times smaller for a few hundred notes. The facilitator's laptop in a star
//! forwards each laptop's batch of offline changes to every other laptop, so it makes the
//! same bundle for many peers in one step: bundles are kept for the step's heads.
//!
//! Automerge's `generate_sync_message` builds every change it sends from the document's
//! operations (`get_changes_by_hashes`: about 20 µs a change, the largest cost of a
//! facilitator's laptop forwarding a room's offline notes). Where the changes will go as a
//! bundle, that work is thrown away, so [`Bundles::generate_sync_message`] works out which
//! changes Automerge would send, by Automerge 0.12's own rules ([`changes_to_send`]), asks
//! Automerge for the rest of the message with the peer marked read-only (so it builds no
//! changes), and puts the bundle in. Anything else — a whole document, a reset, fewer than
//! [`Bundles::FROM`] changes, or a message Automerge would not send as asked — is left to
//! Automerge unchanged.
//!
//! Bundles are an experimental Automerge format, so they are sent only to peers whose
//! [`crate::ShareConfig::bundles`] is set: Common Ground laptops that said in their hello
//! that they read them (the same pinned Automerge). The receiver needs nothing new:
//! `receive_sync_message` loads the changes with `load_incremental`, which reads bundles.

use std::collections::{HashMap, HashSet};

use automerge::{
    ActorId, Automerge, ChangeHash, ReadDoc,
    sync::{self, Capability, SyncDoc},
};

/// Bundles made at one set of heads, for the peers of one document.
#[derive(Debug, Default)]
pub struct Bundles {
    /// The heads the bundles were made at.
    at: Vec<ChangeHash>,
    /// Each bundle by the (sorted) hashes it holds; `None` where Automerge couldn't make one.
    made: Vec<(Vec<ChangeHash>, Option<Vec<u8>>)>,
    /// The whole document (`save()`) and the hashes of all its changes, once a second peer
    /// needs it at these heads (listing every change's hash costs more than Automerge's own
    /// list, so a single peer is left to Automerge): what a peer that lacks more than a third
    /// of the document gets.
    whole: Option<(Vec<u8>, Vec<ChangeHash>)>,
    /// Whether a peer has needed the whole document at these heads.
    whole_asked: bool,
    /// The changes after some heads (each change's hash and dependencies), by those heads:
    /// peers that last synced at the same heads (as after the same whole document) need the
    /// same list, and listing changes costs about 40 µs each.
    since: Vec<(Vec<ChangeHash>, Since)>,
    /// Each change listed in `since`, its author and sequence number.
    authors: HashMap<ChangeHash, (ActorId, u64)>,
}

/// Each change's hash and dependencies, in the document's order.
type Since = std::sync::Arc<Vec<(ChangeHash, Vec<ChangeHash>)>>;

/// What a message carries, by Automerge 0.12's rules.
#[derive(Debug, PartialEq)]
pub(crate) enum Carry {
    /// These changes.
    Changes(Vec<ChangeHash>),
    /// The whole document.
    Whole,
    /// Something else (nothing, a reset), or a case left to Automerge.
    Other,
}

impl Bundles {
    /// Fewer changes than this go as they are (a bundle of one note is larger than the note).
    /// From 4 on, a bundle was smaller than the changes in every case measured (151 sets from
    /// random rooms: 0.68× on average at 4 changes, 0.38× at 20), so it is sent without
    /// building the changes to compare.
    pub const FROM: usize = 4;
    /// Distinct bundles kept for one set of heads.
    const KEEP: usize = 8;

    /// What `doc.generate_sync_message(state)` returns, except that a message carrying
    /// [`Self::FROM`] or more changes carries them as one bundle. A message carrying the
    /// whole document carries the same bytes as Automerge's, saved once per set of heads
    /// from the second peer on (Automerge saves it for each). `state` ends exactly as
    /// Automerge would leave it.
    pub fn generate_sync_message(
        &mut self,
        doc: &Automerge,
        state: &mut sync::State,
    ) -> Option<sync::Message> {
        let heads = doc.get_heads();
        if self.at != heads {
            self.at = heads;
            self.made.clear();
            self.whole = None;
            self.whole_asked = false;
            self.since.clear();
            self.authors.clear();
        }
        let mut hashes = match changes_to_send(doc, state, |heads| self.since(doc, heads)) {
            Carry::Changes(hashes) if hashes.len() >= Self::FROM => hashes,
            Carry::Whole if !std::mem::replace(&mut self.whole_asked, true) => {
                return doc.generate_sync_message(state);
            }
            Carry::Whole => {
                let Some(mut message) = skeleton(doc, state) else {
                    return doc.generate_sync_message(state);
                };
                let (saved, all) = self.whole.get_or_insert_with(|| {
                    let all = doc.get_changes_meta(&[]).iter().map(|m| m.hash).collect();
                    (doc.save(), all)
                });
                state.sent_hashes.extend(all.iter().copied());
                message.changes = sync::ChunkList::from(saved.clone());
                return Some(message);
            }
            _ => return doc.generate_sync_message(state),
        };
        let Some(mut message) = skeleton(doc, state) else {
            return doc.generate_sync_message(state);
        };
        state.sent_hashes.extend(hashes.iter().copied());
        hashes.sort_unstable();
        message.changes = match self.bundle(doc, hashes.clone(), state) {
            Some(bundle) => sync::ChunkList::from(bundle.to_vec()),
            // Automerge couldn't bundle them: each change on its own, in the document's order.
            None => sync::ChunkList::from(
                doc.get_changes_meta(&[])
                    .iter()
                    .filter(|meta| hashes.binary_search(&meta.hash).is_ok())
                    .filter_map(|meta| doc.get_change_by_hash(&meta.hash))
                    .map(|change| change.raw_bytes().to_vec())
                    .collect::<Vec<_>>(),
            ),
        };
        Some(message)
    }

    /// Whether `made` (sorted) holds every one of `hashes` (sorted), and the peer certainly
    /// has each change it holds beyond them: one by an author whose change with the same or a
    /// later sequence number is among the peer's heads (each change by an author follows that
    /// author's previous change).
    fn held_beyond(
        &self,
        doc: &Automerge,
        state: &sync::State,
        made: &[ChangeHash],
        hashes: &[ChangeHash],
    ) -> bool {
        let Some(their_heads) = state.their_heads.as_ref() else {
            return false;
        };
        let mut beyond = Vec::with_capacity(made.len().saturating_sub(hashes.len()));
        let mut wanted = hashes.iter().peekable();
        for hash in made {
            if wanted.peek() == Some(&hash) {
                wanted.next();
            } else {
                beyond.push(*hash);
            }
        }
        if wanted.peek().is_some() {
            return false;
        }
        let author = |hash: &ChangeHash| match self.authors.get(hash) {
            Some((actor, seq)) => Some((actor.clone(), *seq)),
            None => doc.get_change_meta_by_hash(hash).map(|meta| (meta.actor.into_owned(), meta.seq)),
        };
        let mut latest: HashMap<ActorId, u64> = HashMap::new();
        for head in their_heads {
            let Some((actor, seq)) = author(head) else {
                return false;
            };
            let latest = latest.entry(actor).or_default();
            *latest = (*latest).max(seq);
        }
        beyond.iter().all(|hash| {
            author(hash).is_some_and(|(actor, seq)| latest.get(&actor).is_some_and(|l| *l >= seq))
        })
    }

    /// The changes after `heads` (sorted), listed once per set of the document's heads.
    fn since(&mut self, doc: &Automerge, heads: Vec<ChangeHash>) -> Since {
        if let Some((_, since)) = self.since.iter().find(|(h, _)| *h == heads) {
            return since.clone();
        }
        let metas = doc.get_changes_meta(&heads);
        for meta in &metas {
            self.authors.entry(meta.hash).or_insert_with(|| (meta.actor.clone().into_owned(), meta.seq));
        }
        let since: Since =
            std::sync::Arc::new(metas.iter().map(|meta| (meta.hash, meta.deps.clone())).collect());
        if self.since.len() >= Self::KEEP {
            self.since.remove(0);
        }
        self.since.push((heads, since.clone()));
        since
    }

    /// The bundle of `hashes` (sorted), made once per set of heads; or one already made with
    /// more in it, if the peer certainly has every change it holds beyond `hashes` and those
    /// are no more than `hashes`. (After a step that took in several laptops' offline notes,
    /// each of those laptops lacks all the new notes but its own, and the others lack them
    /// all: one bundle of all the new notes does for everyone, and making a bundle walks
    /// the whole document.)
    fn bundle(&mut self, doc: &Automerge, hashes: Vec<ChangeHash>, state: &sync::State) -> Option<&[u8]> {
        let exact = self.made.iter().position(|(h, _)| *h == hashes);
        let index = match exact.or_else(|| {
            self.made.iter().position(|(made, bundle)| {
                bundle.is_some()
                    && made.len() > hashes.len()
                    && made.len() <= 2 * hashes.len()
                    && self.held_beyond(doc, state, made, &hashes)
            })
        }) {
            Some(i) => i,
            None => {
                // Made for the next peers too: everything after the heads this peer last
                // synced at (what it lacks, and its own new changes, which others lack), if it
                // certainly has the rest.
                let wide = last_sync(state)
                    .map(|heads| {
                        let mut wide: Vec<ChangeHash> =
                            self.since(doc, heads).iter().map(|(hash, _)| *hash).collect();
                        wide.sort_unstable();
                        wide
                    })
                    .filter(|wide| {
                        wide.len() > hashes.len()
                            && wide.len() <= 2 * hashes.len()
                            && self.held_beyond(doc, state, wide, &hashes)
                    })
                    .unwrap_or(hashes);
                let bundle = doc.bundle(wide.iter().copied()).ok().map(|b| b.bytes().to_vec());
                if self.made.len() >= Self::KEEP {
                    self.made.remove(0);
                }
                self.made.push((wide, bundle));
                self.made.len() - 1
            }
        };
        self.made[index].1.as_deref()
    }
}

/// The heads a peer last synced at, by what it last said it has (sorted; `None` if it said
/// nothing), as Automerge's `get_hashes_to_send` takes them.
fn last_sync(state: &sync::State) -> Option<Vec<ChangeHash>> {
    let have = state.their_have.as_ref()?;
    let mut last_sync: Vec<ChangeHash> =
        have.iter().flat_map(|h| h.last_sync.iter().copied()).collect::<HashSet<_>>().into_iter().collect();
    last_sync.sort_unstable();
    Some(last_sync)
}

/// Automerge's message without its changes (none built): the peer is marked read-only while
/// asking, and a read-only peer gets no changes. `None` if Automerge then has nothing to say;
/// it returns before touching the state in that case, so the caller can ask again as usual.
pub(crate) fn skeleton(doc: &Automerge, state: &mut sync::State) -> Option<sync::Message> {
    let peer_read_only = std::mem::replace(&mut state.peer_read_only, true);
    let message = doc.generate_sync_message(state);
    state.peer_read_only = peer_read_only;
    message
}

/// What Automerge 0.12's `generate_sync_message` would put in its next message: the changes
/// it would send, or the whole document, or (`Carry::Other`) anything else. The same steps
/// as its `get_hashes_to_send` and the choices around it, in the same order, through public
/// API. `since` lists the changes after the given (sorted) heads, as `get_changes_meta`.
pub(crate) fn changes_to_send(
    doc: &Automerge,
    state: &sync::State,
    mut since: impl FnMut(Vec<ChangeHash>) -> Since,
) -> Carry {
    if state.peer_read_only {
        return Carry::Other;
    }
    let (Some(have), Some(need)) = (state.their_have.as_ref(), state.their_need.as_ref()) else {
        return Carry::Other;
    };
    let known = |hash: &ChangeHash| doc.get_change_meta_by_hash(hash).is_some();
    // Automerge sends a reset when the first `have` names changes it doesn't know (it only
    // ever sends one); unknown hashes in any other are left to it as well.
    if !have.iter().all(|h| h.last_sync.iter().all(known)) {
        return Carry::Other;
    }
    let v2 = state.their_capabilities.as_ref().is_some_and(|caps| caps.contains(&Capability::MessageV2));
    if v2 && state.their_heads.as_ref().is_some_and(Vec::is_empty) {
        return Carry::Whole;
    }
    let need = need.iter().filter(|hash| known(hash)).copied();
    let all: Vec<ChangeHash> = if have.is_empty() {
        need.collect()
    } else {
        let since = since(last_sync(state).unwrap_or_default());
        let mut dependents: HashMap<ChangeHash, Vec<ChangeHash>> = HashMap::new();
        let mut to_send = HashSet::new();
        for (hash, deps) in since.iter() {
            for dep in deps {
                dependents.entry(*dep).or_default().push(*hash);
            }
            if have.iter().all(|h| !h.bloom.contains_hash(hash)) {
                to_send.insert(*hash);
            }
        }
        // Whatever depends on a change they lack, they lack too.
        let mut stack: Vec<ChangeHash> = to_send.iter().copied().collect();
        while let Some(hash) = stack.pop() {
            for dependent in dependents.get(&hash).into_iter().flatten() {
                if to_send.insert(*dependent) {
                    stack.push(*dependent);
                }
            }
        }
        need.filter(|hash| !to_send.contains(hash))
            .chain(since.iter().map(|(hash, _)| *hash).filter(|hash| to_send.contains(hash)))
            .collect()
    };
    let hashes: Vec<ChangeHash> = all.into_iter().filter(|hash| !state.sent_hashes.contains(hash)).collect();
    if v2 && hashes.len() > doc.stats().num_changes as usize / 3 {
        return Carry::Whole; // more than a third of the document
    }
    Carry::Changes(hashes)
}
