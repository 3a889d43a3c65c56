#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use automerge::{
    Automerge, AutomergeError,
    sync::{self, SyncDoc},
};

use crate::actors::messages::SyncMessage;
use crate::{ConnectionId, PeerId, ShareConfig, UnixTimestamp, network::PeerDocState};

#[derive(Debug)]
pub(crate) struct PeerDocConnection {
    pub(super) connection_id: ConnectionId,
    pub(super) peer_id: PeerId,
    pub(super) sync_state: sync::State,
    // Remember inbound requests or sync attempts, even while denied/paused,
    // so that granting access can answer them without proactive announcement.
    pub(super) has_requested: bool,
    // Whether this state has changed since the last pop
    dirty: bool,
    state: PeerDocState,
    pub(super) share_policy: SharePolicyState,
    last_share_config: Option<ShareConfig>,
    // Preserve message ordering while the asynchronous policy lookup is pending.
    pub(super) pending_sync_messages: Vec<(SyncMessage, UnixTimestamp)>,
    // Common Ground patch: the document's heads when Automerge last had nothing more to say to
    // this peer, if the sync state hasn't changed since. See `generate_sync_messages`.
    quiet_at: Option<Vec<automerge::ChangeHash>>,
    // Common Ground patch: the heads of this peer that the others stopped waiting for, and
    // while it is catching up, when it began or last brought changes. See `check_catching_up`.
    stopped_waiting_for: Option<Vec<automerge::ChangeHash>>,
    catch_up_progress: Option<UnixTimestamp>,
    // Common Ground patch: whether, while catching up, it sent us a message with changes in
    // it; how many messages it has sent on this connection; and whether its last, not its
    // first, had no changes in it. See `waits_to_be_answered` and `owed_without_changes`.
    brought: bool,
    received: u64,
    came_empty: bool,
    // Common Ground patch: whether it is still catching up for the first time on this
    // connection (it has just come back). See `waits_to_be_answered`.
    first_catch_up: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SharePolicyState {
    Unknown,
    Loading,
    Ready(ShareConfig),
}

impl PeerDocConnection {
    pub(super) fn new(peer_id: PeerId, connection_id: ConnectionId) -> Self {
        Self {
            connection_id,
            peer_id,
            sync_state: sync::State::new_read_only(),
            has_requested: false,
            state: PeerDocState::empty(),
            dirty: false,
            share_policy: SharePolicyState::Unknown,
            last_share_config: None,
            pending_sync_messages: Vec::new(),
            quiet_at: None,
            stopped_waiting_for: None,
            catch_up_progress: None,
            brought: false,
            received: 0,
            came_empty: false,
            first_catch_up: true,
        }
    }

    pub(super) fn reset_sync_state(&mut self) {
        self.quiet_at = None;
        self.sync_state = if self.can_write() {
            sync::State::new()
        } else {
            sync::State::new_read_only()
        };
    }

    pub(super) fn prepare_request(&mut self) {
        self.quiet_at = None;
        // Initial requests already have a fresh state. Automerge has no explicit
        // API to restart synchronization, so for retries we force a read-only to
        // read-write transition. This resets local bookkeeping and tells the
        // remote to resend changes; replacing the state alone would not do that.
        if self.state.last_sent.is_some() || self.state.last_received.is_some() {
            self.sync_state.set_read_only(true);
            self.sync_state.set_read_only(false);
            self.state.shared_heads = Some(self.sync_state.shared_heads.clone());
            self.state.their_heads = self.sync_state.their_heads.clone();
            self.state.peer_read_only = self.sync_state.is_peer_read_only();
            self.dirty = true;
        }
    }

    pub(super) fn mark_requested(&mut self) {
        self.quiet_at = None;
        if !self.has_requested {
            self.has_requested = true;
            self.dirty = true; // Mark as dirty since the request status changed
        }
    }

    pub(super) fn receive_sync_message(
        &mut self,
        now: UnixTimestamp,
        doc: &mut Automerge,
        msg: sync::Message,
    ) -> Result<Duration, AutomergeError> {
        self.quiet_at = None;
        let start = Instant::now();
        let heads_before = self.catch_up_progress.map(|_| doc.get_heads());
        self.brought |= !msg.changes.is_empty();
        self.received += 1;
        self.came_empty = msg.changes.is_empty() && self.received > 1;
        crate::whole::receive_sync_message(doc, &mut self.sync_state, msg)?;
        let duration = start.elapsed();
        if heads_before.is_some_and(|heads| heads != doc.get_heads()) {
            self.catch_up_progress = Some(now); // it brought something
        }
        self.dirty = true;
        self.state.last_received = Some(now);
        self.state.last_acked_heads = self.sync_state.their_heads.clone();
        self.state.shared_heads = Some(self.sync_state.shared_heads.clone());
        self.state.their_heads = self.sync_state.their_heads.clone();
        self.state.peer_read_only = self.sync_state.is_peer_read_only();
        Ok(duration)
    }

    /// Generate messages in wire order, with timing for each message.
    ///
    /// Common Ground patch: the document actor calls this for every peer on every step (each
    /// message from any peer, each storage completion, each local read), and Automerge's
    /// `generate_sync_message` builds a bloom filter of every change since the last shared
    /// heads before it decides it has nothing to send. With 29 peers and thousands of
    /// changes that was most of a busy laptop's work. The answer depends only on the
    /// document's heads and this peer's sync state: once a generation has ended (its last
    /// message leaves the state in flight, so the next call would return nothing) and
    /// neither has changed, nothing is generated again. Every method that changes the sync
    /// state clears `quiet_at`.
    pub(super) fn generate_sync_messages(
        &mut self,
        now: UnixTimestamp,
        doc: &Automerge,
    ) -> Vec<(sync::Message, Duration)> {
        self.generate_sync_messages_bundled(now, doc, None)
    }

    /// [`Self::generate_sync_messages`], and (Common Ground patch) with `bundles`, changes
    /// for a peer whose share config allows it go as one Automerge bundle (see
    /// [`crate::Bundles`]).
    pub(super) fn generate_sync_messages_bundled(
        &mut self,
        now: UnixTimestamp,
        doc: &Automerge,
        mut bundles: Option<&mut crate::Bundles>,
    ) -> Vec<(sync::Message, Duration)> {
        let heads = doc.get_heads();
        if self.quiet_at.as_ref() == Some(&heads) {
            return Vec::new();
        }
        let bundling = self.share_config().is_some_and(|config| config.bundles);
        let mut messages = Vec::new();
        loop {
            let start = Instant::now();
            let msg = match bundles.as_deref_mut() {
                Some(bundles) if bundling => bundles.generate_sync_message(doc, &mut self.sync_state),
                _ => doc.generate_sync_message(&mut self.sync_state),
            };
            let Some(msg) = msg else {
                break;
            };
            let duration = start.elapsed();
            let follow_up = msg.heads != heads;
            if follow_up {
                // Automerge 0.12's fallback reset advertises empty heads but
                // records the real heads as sent. An empty peer may not reply.
                // Correct the bookkeeping to what we actually advertised, then
                // immediately generate the real-heads follow-up in this batch.
                self.sync_state.last_sent_heads.clone_from(&msg.heads);
            }
            self.state.last_sent = Some(now);
            self.state.last_sent_heads = Some(msg.heads.clone());
            self.state.shared_heads = Some(self.sync_state.shared_heads.clone());
            self.dirty = true;
            messages.push((msg, duration));
            if !follow_up {
                break;
            }
        }
        self.quiet_at = Some(heads);
        messages
    }

    /// Common Ground patch: our message without changes in it: our heads, and what we have
    /// or what we need, so that a peer catching up can send us what we lack before it gets
    /// anything from us (see `DocumentActor::catching_up_first` and
    /// [`Self::owed_without_changes`]). Our next message, once it has, carries changes as
    /// usual.
    pub(super) fn generate_skeleton(
        &mut self,
        now: UnixTimestamp,
        doc: &Automerge,
    ) -> Option<(sync::Message, Duration)> {
        let start = Instant::now();
        // Nothing it carries needs an answer before we send again: Automerge would otherwise
        // hold our next message (with changes) until the peer replies.
        let in_flight = self.sync_state.in_flight;
        let msg = crate::bundles::skeleton(doc, &mut self.sync_state);
        self.sync_state.in_flight = in_flight;
        let msg = msg?;
        self.came_empty = false;
        self.state.last_sent = Some(now);
        self.state.last_sent_heads = Some(msg.heads.clone());
        self.state.shared_heads = Some(self.sync_state.shared_heads.clone());
        self.dirty = true;
        Some((msg, start.elapsed()))
    }

    /// Common Ground patch: whether this peer, left without changes from us, should get our
    /// message without changes now: we haven't said anything to it yet, or its last message,
    /// after its first, came without changes (all it has may have looked to it as if we had
    /// it already, through our bloom filter: our message says what we need).
    pub(super) fn owed_without_changes(&self) -> bool {
        !self.sync_state.have_responded || self.came_empty
    }

    /// Common Ground patch: whether this peer is still bringing changes we lack, giving up
    /// on it (for its current heads) once it has stalled: we take its
    /// changes, and the heads it last told us include one we don't have, unless we stopped
    /// waiting for those heads. We stop when it has brought nothing for `stall`, since it
    /// began catching up or last brought changes (see `DocumentActor::catching_up_first`).
    pub(super) fn check_catching_up(
        &mut self,
        doc: &Automerge,
        now: UnixTimestamp,
        stall: Duration,
    ) -> bool {
        let catching_up = self.sync_state.their_heads.as_ref().is_some_and(|heads| {
            !self.sync_state.read_only
                && self.stopped_waiting_for.as_ref() != Some(heads)
                && heads
                    .iter()
                    .any(|head| doc.get_change_meta_by_hash(head).is_none())
        });
        if !catching_up {
            // Once we have heard its heads and it isn't catching up, any later catching up on
            // this connection isn't its first.
            if self.sync_state.their_heads.is_some() {
                self.first_catch_up = false;
            }
            self.catch_up_progress = None;
            self.brought = false;
            return false;
        }
        let progress = *self.catch_up_progress.get_or_insert(now);
        if crate::unix_timestamp::elapsed(progress, now) >= stall {
            self.stopped_waiting_for = self.sync_state.their_heads.clone();
            self.catch_up_progress = None;
            self.brought = false;
            self.first_catch_up = false;
            return false;
        }
        true
    }

    /// Common Ground patch: whether this peer, catching up, may be left without changes from
    /// us until it brings its own (see `DocumentActor::catching_up_first`): its share config
    /// says to gather its changes first; it is catching up for the first time on this
    /// connection (back from working offline); and it hasn't sent us changes since. Once it
    /// has, it is answered as usual if it is still catching up (its changes may need others
    /// that only we can ask for). Later on a connection, a peer may announce new heads and
    /// wait for our answer before sending the changes, so it is answered as usual then.
    /// (It needs to know what we have to send what we lack: if we haven't said anything to it
    /// yet, it gets a message without changes; see [`Self::owed_without_changes`].)
    pub(super) fn waits_to_be_answered(&self) -> bool {
        self.share_config()
            .is_some_and(|config| config.gather_first)
            && self.first_catch_up
            && !self.brought
    }

    pub(super) fn their_heads(&self) -> Option<Vec<automerge::ChangeHash>> {
        self.sync_state.their_heads.clone()
    }

    pub(super) fn pop(&mut self) -> Option<PeerDocState> {
        if self.dirty {
            self.dirty = false;
            Some(self.state.clone())
        } else {
            None
        }
    }

    pub(super) fn state(&self) -> &PeerDocState {
        &self.state
    }

    /// Bound buffering while an application-provided policy future is pending.
    /// Permit one oversized message so a legitimate full-document sync is not
    /// limited by this queue's byte budget; transports should bound frame size.
    pub(super) fn buffer_sync_message(
        &mut self,
        msg: SyncMessage,
        received_at: UnixTimestamp,
    ) -> bool {
        const MAX_MESSAGES: usize = 64;
        const MAX_BYTES: usize = 16 * 1024 * 1024;
        let message_bytes = |msg: &SyncMessage| match msg {
            SyncMessage::Sync { data } | SyncMessage::Request { data } => data.len(),
            SyncMessage::DocUnavailable => 0,
        };
        let queued_bytes = self
            .pending_sync_messages
            .iter()
            .fold(0usize, |bytes, (msg, _)| {
                bytes.saturating_add(message_bytes(msg))
            });
        if self.pending_sync_messages.len() >= MAX_MESSAGES
            || (!self.pending_sync_messages.is_empty()
                && queued_bytes.saturating_add(message_bytes(&msg)) > MAX_BYTES)
        {
            return false;
        }
        self.pending_sync_messages.push((msg, received_at));
        true
    }

    pub(super) fn share_config(&self) -> Option<ShareConfig> {
        match self.share_policy {
            SharePolicyState::Ready(config) => Some(config),
            _ => None,
        }
    }

    pub(super) fn can_read(&self) -> bool {
        self.share_config().is_some_and(|config| config.can_read())
    }

    pub(super) fn can_write(&self) -> bool {
        self.share_config().is_some_and(|config| config.can_write())
    }

    pub(super) fn can_send(&self) -> bool {
        self.can_read()
            && (self.has_requested
                || self.sync_state.their_heads.is_some()
                || self.share_config().is_some_and(|config| config.announce))
    }

    pub(super) fn set_share_config(&mut self, config: ShareConfig) -> Option<ShareConfig> {
        self.quiet_at = None;
        let previous = self.last_share_config.replace(config);
        self.share_policy = SharePolicyState::Ready(config);
        if self.state.last_sent.is_none() && self.state.last_received.is_none() {
            // Initialize sessions which have not exchanged any sync messages yet.
            self.reset_sync_state();
        } else {
            if previous.is_some_and(|old| !old.can_read()) && config.can_read() {
                // Denial may have dropped messages; restart the exchange on re-grant.
                self.sync_state.set_read_only(false);
            }
            self.sync_state.set_read_only(!config.can_write());
            self.state.shared_heads = Some(self.sync_state.shared_heads.clone());
            self.state.their_heads = self.sync_state.their_heads.clone();
            self.state.peer_read_only = self.sync_state.is_peer_read_only();
        }
        self.state.share_config = Some(config);
        self.dirty = true;
        previous
    }
}
