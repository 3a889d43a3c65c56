/// The access granted to a remote peer for a document.
///
/// These permissions apply to the connection delivering changes, not their
/// original author. Changes rejected on one connection can still arrive through
/// another connection with write access. Local document edits are unaffected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ShareAccess {
    /// Do not exchange document changes or ephemera with this peer.
    None,
    /// Send document changes, but ignore incoming changes from this peer.
    /// Ephemeral messages can still flow in both directions.
    ReadOnly,
    /// Exchange document changes and ephemera in both directions.
    ReadWrite,
}

/// How to share a document with a particular remote peer.
///
/// A decision is made before processing document messages and is cached until
/// explicitly updated or the connection closes. A new connection requires a
/// new decision. These permissions are not persisted with the document.
/// The default grants read-write access with announcements enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShareConfig {
    /// Whether the remote peer may read and write this document.
    pub access: ShareAccess,
    /// Proactively announce the document, or request it if we do not have it.
    ///
    /// Disabling announcement does not deny access: an allowed peer can still
    /// initiate sync. Access takes precedence: denied peers are never announced
    /// to, and peers without write access are never used to fetch missing data.
    pub announce: bool,
    /// Common Ground patch: send this peer changes as Automerge bundles (its document
    /// encoding applied to a set of changes) when that is smaller. Only for peers known to
    /// run the same Automerge (see `PeerDocConnection::generate_sync_messages`).
    pub bundles: bool,
    /// Common Ground patch: when this peer comes back with changes we lack, send it none of
    /// ours until it has sent them, so that it then gets everything at once with the others
    /// (see `DocumentActor::catching_up_first`). Meant for peers that dialled us: the peer
    /// that dialled doesn't hold its changes back from us so, so two peers never wait for
    /// each other's changes.
    pub gather_first: bool,
}

impl ShareConfig {
    /// Deny all sharing, including announcements.
    pub const fn none() -> Self {
        Self {
            access: ShareAccess::None,
            announce: false,
            bundles: false,
            gather_first: false,
        }
    }

    /// Publish changes without accepting incoming changes. Announce by default.
    pub const fn read_only() -> Self {
        Self {
            access: ShareAccess::ReadOnly,
            announce: true,
            bundles: false,
            gather_first: false,
        }
    }

    /// Share changes in both directions. Announce by default.
    pub const fn read_write() -> Self {
        Self {
            access: ShareAccess::ReadWrite,
            announce: true,
            bundles: false,
            gather_first: false,
        }
    }

    /// Enable or disable proactive document announcements and requests.
    pub const fn with_announce(mut self, announce: bool) -> Self {
        self.announce = announce;
        self
    }

    /// Common Ground patch: send changes as bundles (see [`ShareConfig::bundles`]).
    pub const fn with_bundles(mut self, bundles: bool) -> Self {
        self.bundles = bundles;
        self
    }

    /// Common Ground patch: wait for this peer's changes first (see
    /// [`ShareConfig::gather_first`]).
    pub const fn with_gather_first(mut self, gather_first: bool) -> Self {
        self.gather_first = gather_first;
        self
    }

    pub(crate) fn can_read(self) -> bool {
        self.access != ShareAccess::None
    }

    pub(crate) fn can_write(self) -> bool {
        self.access == ShareAccess::ReadWrite
    }

    pub(crate) fn can_request(self) -> bool {
        self.can_write() && self.announce
    }
}

impl Default for ShareConfig {
    fn default() -> Self {
        Self::read_write()
    }
}
