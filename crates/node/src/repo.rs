//! samod, behind one small wrapper: the only file that names samod's types.
//!
//! samod is 0.x with breaking releases, so everything the node needs from it is here:
//! [`DocRepo`] (open, create, find, stop), [`Doc`] (edit and read one document), the adapter
//! from [`DurableStorage`] to samod's `Storage` trait, the mapping between workshop ids and
//! samod document ids, and the names samod gives the chunks it stores.
//!
//! # Workshop ids are samod document ids
//!
//! A samod `DocumentId` is 16 random bytes (a UUID, written in base58 in URLs and storage keys);
//! a [`WorkshopId`] is a UUID. The node uses the same 16 bytes for both, so no mapping is
//! stored: `workshops/<workshop id>/` holds the document whose id has those bytes, and another
//! laptop given the workshop id (in the invite) asks samod for exactly that document.
//!
//! # When is an edit durable? (samod 0.16.0, read from its source)
//!
//! `DocHandle::with_document` → `DocActorInner::with_document` →
//! `DocumentActor::with_document`, whose `WithDocGuard::commit` runs one `step`, where
//! `OnDiskState::save_new_changes` turns the new changes into storage `Put` tasks: one per
//! change under `[doc, "incremental", <change hash>]`, or, when it decides to compact, one
//! `[doc, "snapshot", <CompactionHash of the heads>]` holding `doc.save()`.
//! `DocActorInner::handle_results` then only *sends* those tasks to the I/O loop
//! (`tx_io.unbounded_send(IoLoopTask::Storage { .. })`) and `with_document` returns; the I/O
//! loop calls `Storage::put` later. `Repo::create` resolves when the new document's actor
//! reports `Ready` (`resolve_pending_create`), which for a document created with content is
//! straight away — also before its first put completes. Neither exposes a flush.
//!
//! So the node waits itself: inside the `with_document` closure, before samod emits the puts,
//! [`Doc::edit`] registers the keys samod is about to write for the change (built with
//! samod-core's own `StorageKey::incremental_path` / `snapshot_path` and `CompactionHash`),
//! and the returned [`Ticket`] resolves when storage has fsynced one complete alternative.
//! samod deletes the chunks a snapshot supersedes only after that snapshot's put has
//! completed (`OnDiskState::mark_put_complete`), which with [`DurableStorage`] means after it
//! is on disk, so compaction never loses an acknowledged change. If a samod upgrade changes
//! how it names chunks, tickets stop resolving, edits fail with "not saved" after a timeout,
//! and the round-trip and crash tests fail: they guard this coupling.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use automerge::{Automerge, ChangeHash};
use commonground_workshop::WorkshopId;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{Sink, Stream, StreamExt};
use samod::storage::{Storage, StorageKey};
use samod::{
    BackoffConfig, DialError, Dialer, DialerHandle, DocHandle, DocumentId, PeerId, Repo, ShareConfig,
    Transport, Url,
};
use samod_core::CompactionHash;
use tokio::sync::watch;

use crate::acks::{Expectation, KeyPattern, Ticket};
use crate::error::{NodeError, Result};
use crate::net::SyncAccess;
use crate::storage::{DurableStorage, KeyScheme};

/// The workshop id for a samod document id (the same 16 bytes).
pub(crate) fn workshop_id(doc: &DocumentId) -> Option<WorkshopId> {
    let bytes: [u8; 16] = doc.as_bytes().try_into().ok()?;
    Some(WorkshopId::from_uuid(uuid::Uuid::from_bytes(bytes)))
}

/// The samod document id for a workshop id.
pub(crate) fn document_id(id: WorkshopId) -> Result<DocumentId> {
    DocumentId::try_from(id.as_uuid().as_bytes().to_vec()).map_err(|_| NodeError::WorkshopNotFound(id))
}

/// How samod's storage keys name documents.
#[derive(Debug)]
pub(crate) struct SamodKeys;

impl KeyScheme for SamodKeys {
    fn workshop_of(&self, first: &str) -> Option<WorkshopId> {
        workshop_id(&first.parse::<DocumentId>().ok()?)
    }

    fn first_component(&self, id: WorkshopId) -> String {
        document_id(id).map(|d| d.to_string()).unwrap_or_default()
    }

    fn holds_automerge(&self, rest: &[String]) -> bool {
        matches!(rest.first().map(String::as_str), Some("snapshot" | "incremental"))
    }
}

/// [`DurableStorage`] as samod's `Storage`.
#[derive(Clone, Debug)]
struct SamodStorage(DurableStorage);

fn parts(key: StorageKey) -> Vec<String> {
    key.into_iter().collect()
}

impl Storage for SamodStorage {
    fn load(&self, key: StorageKey) -> impl Future<Output = Option<Vec<u8>>> + Send {
        let storage = self.0.clone();
        async move { storage.load(parts(key)).await }
    }

    fn load_range(&self, prefix: StorageKey) -> impl Future<Output = HashMap<StorageKey, Vec<u8>>> + Send {
        let storage = self.0.clone();
        async move {
            let values = storage.load_range(parts(prefix)).await;
            values
                .into_iter()
                .filter_map(|(key, value)| Some((StorageKey::from_parts(key).ok()?, value)))
                .collect()
        }
    }

    fn put(&self, key: StorageKey, data: Vec<u8>) -> impl Future<Output = ()> + Send {
        let storage = self.0.clone();
        async move { storage.put(parts(key), data).await }
    }

    fn delete(&self, key: StorageKey) -> impl Future<Output = ()> + Send {
        let storage = self.0.clone();
        async move { storage.delete(parts(key)).await }
    }
}

/// The keys samod will put for `changes` (ending at `heads`) in document `doc` (`None`: any
/// document, for a document samod has not named yet): all of them as incremental chunks, or
/// one compacted snapshot.
fn expectation(doc: Option<&DocumentId>, changes: &[ChangeHash], heads: &[ChangeHash]) -> Expectation {
    // Any id will do to build the key: the pattern drops it when `doc` is `None`.
    let placeholder = DocumentId::new(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0));
    let id = doc.unwrap_or(&placeholder);
    let pattern = |key: StorageKey| {
        let mut parts = parts(key);
        let first = parts.remove(0);
        KeyPattern { first: doc.map(|_| first), rest: parts }
    };
    vec![
        changes.iter().map(|h| pattern(StorageKey::incremental_path(id, *h))).collect(),
        vec![pattern(StorageKey::snapshot_path(id, &CompactionHash::new(heads)))],
    ]
}

/// A message channel to another laptop, already authenticated by the network layer, for
/// samod to sync over. samod's own length-trusting codec is never used: messages arrive whole.
pub(crate) struct Link {
    /// Messages from the other laptop.
    pub(crate) incoming: BoxStream<'static, io::Result<Vec<u8>>>,
    /// Messages to the other laptop.
    pub(crate) outgoing: Pin<Box<dyn Sink<Vec<u8>, Error = io::Error> + Send>>,
    /// The samod peer id the other laptop announced inside the authenticated channel: samod
    /// closes the connection if its handshake claims any other (`with_expected_peer_id`).
    pub(crate) remote_peer: String,
}

/// Why a [`LinkDialer`] couldn't connect.
pub(crate) enum DialFailure {
    /// Try again after the backoff.
    Retry(io::Error),
    /// Stop dialling.
    Stop(io::Error),
}

/// Makes [`Link`]s to one place, each time samod needs a connection (first and after each
/// disconnection, with backoff).
pub(crate) trait LinkDialer: Send + Sync + 'static {
    /// A short label for samod's logs (no names, no secrets).
    fn label(&self) -> String;
    /// Connects, authenticates and returns the link.
    fn connect(&self) -> BoxFuture<'static, std::result::Result<Link, DialFailure>>;
}

struct SamodDialer(Arc<dyn LinkDialer>);

impl Dialer for SamodDialer {
    type Error = io::Error;

    fn url(&self) -> Url {
        Url::parse(&format!("commonground://{}", self.0.label()))
            .unwrap_or_else(|_| Url::parse("commonground://peer").expect("a valid url"))
    }

    fn connect(&self) -> BoxFuture<'static, std::result::Result<Transport, DialError<io::Error>>> {
        let connecting = self.0.connect();
        Box::pin(async move {
            match connecting.await {
                Ok(link) => Ok(transport(link)),
                Err(DialFailure::Retry(e)) => Err(DialError::transient(e)),
                Err(DialFailure::Stop(e)) => Err(DialError::PermanentFailure(e)),
            }
        })
    }
}

fn transport(link: Link) -> Transport {
    Transport::new(link.incoming, link.outgoing).with_expected_peer_id(PeerId::from_string(link.remote_peer))
}

/// A dialer registered with samod, reconnecting with backoff until dropped.
pub(crate) struct Dialing(DialerHandle<io::Error>);

impl std::fmt::Debug for Dialing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialing").field("connected", &self.0.is_connected()).finish()
    }
}

impl Drop for Dialing {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The share policy: a document is shared with a peer only while [`SyncAccess`] says so.
fn decisions(access: &SyncAccess, doc: &DocumentId, peer: &PeerId) -> BoxStream<'static, ShareConfig> {
    let Some(workshop) = workshop_id(doc) else {
        return futures::stream::iter([ShareConfig::none()]).boxed();
    };
    let rx = access.subscribe(workshop, peer.as_str());
    futures::stream::unfold((rx, true), |(mut rx, first): (watch::Receiver<bool>, bool)| async move {
        if !first {
            rx.changed().await.ok()?;
        }
        let allowed = *rx.borrow_and_update();
        Some((if allowed { ShareConfig::read_write() } else { ShareConfig::none() }, (rx, false)))
    })
    .boxed()
}

/// The samod repository (cheap to clone: clones share it).
#[derive(Clone)]
pub(crate) struct DocRepo {
    repo: Repo,
    storage: DurableStorage,
}

impl std::fmt::Debug for DocRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocRepo").field("storage", &self.storage).finish_non_exhaustive()
    }
}

impl DocRepo {
    /// Starts samod on the current tokio runtime with `storage`. samod draws a random
    /// `PeerId`; the node never sets one (a reused peer id caused endless sync loops).
    ///
    /// Documents are shared only with peers that [`SyncAccess`] allows: a peer id carried
    /// by a live, authenticated channel for that workshop.
    pub(crate) async fn open(storage: DurableStorage, access: SyncAccess) -> Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NodeError::NoRuntime)?;
        let policy = move |doc: DocumentId, peer: PeerId| decisions(&access, &doc, &peer);
        let repo = Repo::builder(runtime)
            .with_storage(SamodStorage(storage.clone()))
            .with_share_policy(policy)
            .load()
            .await;
        Ok(Self { repo, storage })
    }

    /// samod's own peer id: random for each run, never chosen by us (a reused peer id caused
    /// endless sync loops).
    pub(crate) fn peer_id(&self) -> String {
        self.repo.peer_id().into_string()
    }

    /// Hands an accepted, authenticated link to samod.
    pub(crate) fn accept(&self, link: Link) -> Result<()> {
        let url = Url::parse("commonground://listener").map_err(|_| NodeError::Stopped)?;
        let acceptor = self.repo.make_acceptor(url).map_err(|_| NodeError::Stopped)?;
        acceptor.accept(transport(link)).map_err(|_| NodeError::Stopped)?;
        Ok(())
    }

    /// Has samod connect through `dialer` now and again after each disconnection, waiting
    /// from `initial` doubling up to `max` between failed attempts, until the returned
    /// [`Dialing`] is dropped.
    pub(crate) fn dial(
        &self,
        dialer: Arc<dyn LinkDialer>,
        initial: Duration,
        max: Duration,
    ) -> Result<Dialing> {
        let backoff = BackoffConfig { initial_delay: initial, max_delay: max, max_retries: None };
        let handle =
            self.repo.dial(backoff, Arc::new(SamodDialer(dialer))).map_err(|_| NodeError::Stopped)?;
        Ok(Dialing(handle))
    }

    /// Hands a new document to samod. The ticket resolves once it is durable.
    pub(crate) async fn create(&self, doc: Automerge) -> Result<(WorkshopId, Doc, Ticket)> {
        let changes: Vec<ChangeHash> = doc.get_changes(&[]).iter().map(|c| c.hash()).collect();
        let ticket = self.storage.acks().expect(expectation(None, &changes, &doc.get_heads()));
        let handle = self.repo.create(doc).await.map_err(|_| NodeError::Stopped)?;
        let id = workshop_id(handle.document_id()).ok_or(NodeError::Stopped)?;
        Ok((id, Doc { handle, storage: self.storage.clone() }, ticket))
    }

    /// Finds a stored document (`None` if there is none, or nothing of it could be loaded).
    pub(crate) async fn find(&self, id: WorkshopId) -> Result<Option<Doc>> {
        let found = self.repo.find(document_id(id)?).await.map_err(|_| NodeError::Stopped)?;
        Ok(found.map(|handle| Doc { handle, storage: self.storage.clone() }))
    }

    /// Stops samod once every pending write has completed.
    pub(crate) fn stop(&self) -> impl Future<Output = ()> + Send + 'static + use<'_> {
        self.repo.stop()
    }
}

/// One document in samod.
#[derive(Clone, Debug)]
pub(crate) struct Doc {
    handle: DocHandle,
    storage: DurableStorage,
}

impl Doc {
    /// Runs `f` on the document (blocking while another edit or a sync message holds it).
    /// If `f` changed it, also returns a ticket that resolves once samod has durably stored
    /// the change.
    pub(crate) fn edit<R>(&self, f: impl FnOnce(&mut Automerge) -> R) -> (R, Option<Ticket>) {
        let id = self.handle.document_id().clone();
        let acks = self.storage.clone();
        self.handle.with_document(move |doc| {
            let before = doc.get_heads();
            let result = f(doc);
            let after = doc.get_heads();
            let ticket = (before != after).then(|| {
                let changes: Vec<ChangeHash> = doc.get_changes(&before).iter().map(|c| c.hash()).collect();
                acks.acks().expect(expectation(Some(&id), &changes, &after))
            });
            (result, ticket)
        })
    }

    /// Reads the document.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Automerge) -> R) -> R {
        self.handle.with_document(|doc| f(doc))
    }

    /// Ticks each time the document changes (an edit here or changes from another laptop).
    pub(crate) fn changes(&self) -> impl Stream<Item = ()> + Send + Unpin + 'static + use<'_> {
        self.handle.changes().map(|_| ())
    }
}
