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
//! completed (`OnDiskState::mark_put_complete`). Puts are reported complete to samod before
//! they reach the disk (see [`SamodStorage`] for why), so each delete waits for every put
//! issued before it to be on disk, and compaction never loses an acknowledged change. If a
//! samod upgrade changes how it names chunks, tickets stop resolving, edits fail with "not
//! saved" after a timeout, and the round-trip and crash tests fail: they guard this coupling.

use std::collections::{BTreeSet, HashMap};
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
    BackoffConfig, ConcurrencyConfig, DialError, Dialer, DialerHandle, DocHandle, DocThreads, DocumentId,
    PeerId, Repo, ShareConfig, Transport, Url,
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

/// The automerge-repo URL of a workshop's document (`automerge:` and the base58check of its
/// 16 bytes), as JS automerge-repo peers and sync servers name it.
pub(crate) fn automerge_url(id: WorkshopId) -> String {
    match document_id(id) {
        Ok(doc) => format!("automerge:{doc}"),
        // Any 16 bytes make a document id.
        Err(_) => String::new(),
    }
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

    fn logged(&self, rest: &[String]) -> bool {
        rest.len() == 2 && rest[0] == "incremental"
    }
}

/// [`DurableStorage`] as samod's `Storage`, writing behind: a put is reported complete to
/// samod as soon as it has started, and becomes durable (and acknowledged, through
/// [`crate::acks`]) in the background.
///
/// # Why not wait for the disk
///
/// samod runs one step of its document actor for every completed storage task, and each step
/// asks Automerge for a sync message for every connected peer: with 29 peers and thousands of
/// changes that is milliseconds of work per step. While a compacted snapshot is being written
/// samod stores new changes one put per change, so a sync message carrying 300 changes that
/// arrived during a slow fsync became 300 puts, 300 fsyncs and 300 steps × 29 peers. Reporting
/// the put at once means samod rarely has a snapshot in flight: a burst of changes is stored
/// as one snapshot, one put and one step.
///
/// # Why it stays safe
///
/// Edits are acknowledged to people only through tickets, which resolve when storage has
/// fsynced the chunk, exactly as before. samod deletes chunks only after the snapshot that
/// supersedes them has "completed"; here a delete first waits for every put started before it
/// to be durable (or to have failed, in which case storage refuses the delete), so a
/// superseded chunk is never removed before what replaces it is on disk. Loads wait for the
/// writes started before them, and [`DocRepo::stop`] waits for all of them.
#[derive(Clone, Debug)]
struct SamodStorage {
    storage: DurableStorage,
    writes: Arc<Writes>,
}

/// The puts running in the background, by the order they started in.
#[derive(Debug)]
struct Writes {
    /// The next put's number, and the numbers of those still running.
    state: std::sync::Mutex<(u64, BTreeSet<u64>)>,
    /// Changed each time a put finishes.
    finished: watch::Sender<()>,
}

impl Writes {
    fn new() -> Self {
        Self { state: std::sync::Mutex::new((0, BTreeSet::new())), finished: watch::Sender::new(()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeSet<u64>)> {
        // Two plain numbers and a set: a panic can't leave them half-updated.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(&self) -> u64 {
        let mut state = self.lock();
        let id = state.0;
        state.0 += 1;
        state.1.insert(id);
        id
    }

    fn end(&self, id: u64) {
        self.lock().1.remove(&id);
        self.finished.send_replace(());
    }

    /// The number the next put will get: [`Writes::settle_before`] it waits for every put
    /// started until now.
    fn mark(&self) -> u64 {
        self.lock().0
    }

    /// Waits until every put started so far has finished.
    async fn settle(&self) {
        self.settle_before(self.mark()).await;
    }

    /// Waits until every put numbered below `upto` has finished.
    async fn settle_before(&self, upto: u64) {
        let mut finished = self.finished.subscribe();
        loop {
            // Marked seen before checking, so a put finishing in between still wakes us.
            finished.borrow_and_update();
            if self.lock().1.first().is_none_or(|first| *first >= upto) {
                return;
            }
            if finished.changed().await.is_err() {
                return;
            }
        }
    }
}

/// One put (or delete) in the background; marked finished when dropped, so that even a write
/// task that panics or is cancelled at shutdown never leaves a delete or a stop waiting for ever.
struct Running {
    id: u64,
    writes: Arc<Writes>,
    /// Until the put has returned: the key, so that deletes for its document can be refused
    /// if it never does (what it was to replace must then stay).
    unfinished: Option<(DurableStorage, Vec<String>)>,
}

impl Running {
    /// The put returned (durable, or failed and recorded by storage).
    fn finish(mut self) {
        self.unfinished.take();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some((storage, key)) = self.unfinished.take() {
            storage.refuse_deletes(&key);
        }
        self.writes.end(self.id);
    }
}

fn parts(key: StorageKey) -> Vec<String> {
    key.into_iter().collect()
}

impl Storage for SamodStorage {
    fn load(&self, key: StorageKey) -> impl Future<Output = Option<Vec<u8>>> + Send {
        let this = self.clone();
        async move {
            this.writes.settle().await;
            this.storage.load(parts(key)).await
        }
    }

    fn load_range(&self, prefix: StorageKey) -> impl Future<Output = HashMap<StorageKey, Vec<u8>>> + Send {
        let this = self.clone();
        async move {
            this.writes.settle().await;
            let values = this.storage.load_range(parts(prefix)).await;
            values
                .into_iter()
                .filter_map(|(key, value)| Some((StorageKey::from_parts(key).ok()?, value)))
                .collect()
        }
    }

    fn put(&self, key: StorageKey, data: Vec<u8>) -> impl Future<Output = ()> + Send {
        let (storage, key) = (self.storage.clone(), parts(key));
        let running = Running {
            id: self.writes.begin(),
            writes: self.writes.clone(),
            unfinished: Some((storage.clone(), key.clone())),
        };
        // Started here, not when samod polls the returned future, so the order of puts and
        // deletes is the order samod issued them in.
        tokio::spawn(async move {
            storage.put(key, data).await;
            running.finish();
        });
        std::future::ready(())
    }

    fn delete(&self, key: StorageKey) -> impl Future<Output = ()> + Send {
        let this = self.clone();
        let upto = this.writes.mark();
        // Counted among the writes, so that stopping waits for it too: samod's stop waits for
        // its documents' puts but not their deletes, and a delete that ran after the node had
        // closed (and let go of the data folder) could empty a change log that the next
        // process to open the folder was already writing to.
        let running = Running { id: this.writes.begin(), writes: this.writes.clone(), unfinished: None };
        async move {
            // Only after the puts issued before it (the snapshot replacing this chunk) are
            // durable or have failed.
            this.writes.settle_before(upto).await;
            this.storage.delete(parts(key)).await;
            drop(running);
        }
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
    /// `None` for a sync server, which nothing authenticates: samod takes the peer id its
    /// handshake claims, and the share policy allows that id only what the dialler granted
    /// it on seeing the handshake (see `crate::server`).
    pub(crate) remote_peer: Option<String>,
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
    let transport = Transport::new(link.incoming, link.outgoing);
    match link.remote_peer {
        Some(peer) => transport.with_expected_peer_id(PeerId::from_string(peer)),
        None => transport,
    }
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
    let (access, peer) = (access.clone(), peer.as_str().to_owned());
    futures::stream::unfold((rx, true), move |(mut rx, first): (watch::Receiver<bool>, bool)| {
        let (access, peer) = (access.clone(), peer.clone());
        async move {
            if !first {
                rx.changed().await.ok()?;
            }
            let allowed = *rx.borrow_and_update();
            // Changes go as bundles only to laptops that said they read them. A laptop that
            // dialled this one, coming back with changes, sends them before it gets ours
            // (`ShareConfig::gather_first`): in star mode, where the room dials the
            // facilitator's laptop, it then sends each laptop everything once. (In a mesh the
            // one-channel rule keeps one direction per pair, so this holds for about half.)
            let config = ShareConfig::read_write()
                .with_bundles(access.reads_bundles(&peer))
                .with_gather_first(access.dialled_us(workshop, &peer));
            Some((if allowed { config } else { ShareConfig::none() }, (rx, false)))
        }
    })
    .boxed()
}

/// Where samod runs its document actors: on a small thread pool of this node's own.
///
/// By default samod runs them on the tokio runtime, where a step of the actor (applying a
/// sync message, then asking Automerge for a sync message for every connected peer: tens of
/// milliseconds for a facilitator's laptop with 29 peers) holds a runtime worker. With the
/// facilitator's document busy, both workers of a 2-core laptop were taken by such steps,
/// channel reads and keepalive pings waited behind them, and connections were closed as idle
/// and redialled, restarting sync. On its own pool the document work still competes for the
/// CPU, but through the OS scheduler, not by holding the network's workers. Two threads at
/// most: one document actor runs on one thread at a time anyway. The threads are samod's
/// `DocThreads` (patched in), not a rayon pool: rayon's idle workers spin before they sleep,
/// and with a step per sync message that spinning was 28% of the CPU in the benchmark's
/// latency run (30 nodes on 2 cores).
fn concurrency() -> ConcurrencyConfig {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    match DocThreads::new(threads, |i| format!("samod-doc-{i}")) {
        Ok(threads) => ConcurrencyConfig::Threads(threads),
        Err(e) => {
            tracing::warn!(error = %e, "couldn't start the document threads; running documents on the runtime");
            ConcurrencyConfig::AsyncRuntime
        }
    }
}

/// The samod repository (cheap to clone: clones share it).
#[derive(Clone)]
pub(crate) struct DocRepo {
    repo: Repo,
    storage: DurableStorage,
    writes: Arc<Writes>,
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
        let writes = Arc::new(Writes::new());
        let repo = Repo::builder(runtime)
            .with_storage(SamodStorage { storage: storage.clone(), writes: writes.clone() })
            .with_share_policy(policy)
            .with_concurrency(concurrency())
            .load()
            .await;
        Ok(Self { repo, storage, writes })
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

    /// Stops samod once every pending write has completed, and waits for those writes to
    /// be durable (samod counts them complete as soon as they start: see [`SamodStorage`]).
    pub(crate) fn stop(&self) -> impl Future<Output = ()> + Send + 'static + use<'_> {
        let (stopping, writes, storage) = (self.repo.stop(), self.writes.clone(), self.storage.clone());
        async move {
            stopping.await;
            writes.settle().await;
            // Whatever samod issues after this (a delete it queued before stopping, say) is
            // refused: the folder may be another process's next.
            let _ = tokio::task::spawn_blocking(move || storage.close()).await;
        }
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

    /// Reads the document from an async task, on tokio's blocking pool: samod's document lock
    /// is a blocking mutex that a large incoming sync message holds for a long time, and a
    /// runtime worker waiting on it stops every other task on that worker (keepalive pings
    /// included, which is how connections came to be dropped as idle under load).
    pub(crate) async fn read_async<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Automerge) -> R + Send + 'static,
    ) -> Result<R> {
        let doc = self.clone();
        join_blocking(tokio::task::spawn_blocking(move || doc.read(f)).await)
    }

    /// Resolves once the document has handled every task queued for it so far (messages
    /// from other laptops included): an empty task in its queue. Also resolves if samod has
    /// stopped.
    pub(crate) fn barrier(&self) -> BoxFuture<'static, ()> {
        let done = self.handle.with_document_async(|_| ());
        Box::pin(async move {
            let _ = done.await;
        })
    }

    /// Each time the document changes (an edit here or changes from another laptop), its new
    /// heads.
    pub(crate) fn changes(&self) -> impl Stream<Item = Vec<ChangeHash>> + Send + Unpin + 'static + use<'_> {
        self.handle.changes().map(|changed| changed.new_heads)
    }
}

/// The result of a closure run on the blocking pool; a panic in it continues here.
pub(crate) fn join_blocking<R>(joined: std::result::Result<R, tokio::task::JoinError>) -> Result<R> {
    match joined {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime shutting down cancels blocking tasks.
        Err(_) => Err(NodeError::Stopped),
    }
}

/// Runs `f`, which may wait for a document's lock, without stalling the other tasks of the
/// runtime worker it is called on: on a multi-threaded runtime the worker hands its other
/// tasks to another thread first (`block_in_place`). For closures that borrow from the
/// caller, where `spawn_blocking` can't be used. On a current-thread runtime (tests) there is
/// no other worker to hand over to, so `f` simply runs.
pub(crate) fn off_worker<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The most bytes [`coalesce`] makes one message: a quarter of the channel's 16 MiB cap, so a
/// merged message is always one the other laptop accepts.
pub(crate) const MAX_COALESCED: usize = 4 * 1024 * 1024;

/// Two samod messages that travel one after the other over one connection, as one message
/// that means the same to the receiver, when there is one; `None` leaves them as they are.
///
/// # Why
///
/// A busy laptop (the facilitator's in a room of 30, or a laptop catching up after working
/// offline) is sent many small sync messages: the facilitator's node forwards each laptop's
/// changes as they arrive. samod takes one step per message, and each step applies the
/// changes, stores the document (often in full) and answers; each answer makes the sender
/// take a step of its own. Messages that wait in a queue — for samod to take them, or for the
/// socket to take them — are merged, so a laptop that has fallen behind catches up in a few
/// large steps instead of many small ones. Nothing waits longer for this: only messages that
/// are already queued are merged.
///
/// # Why it means the same
///
/// Only two Automerge sync messages for the same document, from the same sender to the same
/// receiver, with the same message version and neither a reset (empty heads, or the
/// `SYNC_RESET` flag) are merged. The result is the second message with the first's changes
/// put before its own. Receiving it does what receiving the two in order does, minus the
/// answer to the first, which the answer to the merged message supersedes: changes are
/// applied as a set (Automerge orders them by their dependencies), and everything else a
/// sync message carries — heads, needs, the bloom filter of what the sender has, flags —
/// describes the sender's state at the moment it was made, which the second message states
/// later and completely (a document's heads only move forward, so what the first message's
/// heads let the receiver forget, the second's do too).
pub(crate) fn coalesce(first: &[u8], second: &[u8]) -> Option<Vec<u8>> {
    use automerge::sync::{Message, MessageFlags};
    use samod_core::network::wire_protocol::WireMessage;

    if first.len().saturating_add(second.len()) > MAX_COALESCED {
        return None;
    }
    let (
        WireMessage::Sync { document_id, sender_id, target_id, data: a },
        WireMessage::Sync { document_id: d2, sender_id: s2, target_id: t2, data: b },
    ) = (WireMessage::decode(first).ok()?, WireMessage::decode(second).ok()?)
    else {
        return None;
    };
    if document_id != d2 || sender_id != s2 || target_id != t2 {
        return None;
    }
    let (a, b) = (Message::decode(&a).ok()?, Message::decode(&b).ok()?);
    let plain = |m: &Message| {
        !m.heads.is_empty() && !m.flags.is_some_and(|flags| flags.contains(MessageFlags::SYNC_RESET))
    };
    if a.version != b.version || !plain(&a) || !plain(&b) {
        return None;
    }
    let chunks: Vec<Vec<u8>> = a.changes.iter().chain(b.changes.iter()).map(<[u8]>::to_vec).collect();
    let merged = Message { changes: chunks.into(), ..b };
    Some(WireMessage::Sync { document_id, sender_id, target_id, data: merged.encode() }.encode())
}

#[cfg(test)]
pub(crate) mod tests {
    use automerge::sync::{self, SyncDoc};
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit, ROOT};
    use samod_core::network::wire_protocol::WireMessage;
    use samod_core::{DocumentId, PeerId};

    use super::*;

    fn wire(doc: &DocumentId, from: &str, to: &str, message: sync::Message) -> Vec<u8> {
        let (sender_id, target_id) = (PeerId::from(from), PeerId::from(to));
        WireMessage::Sync { document_id: doc.clone(), sender_id, target_id, data: message.encode() }.encode()
    }

    fn unwire(bytes: &[u8]) -> sync::Message {
        let Ok(WireMessage::Sync { data, .. }) = WireMessage::decode(bytes) else {
            panic!("not a sync message")
        };
        sync::Message::decode(&data).unwrap()
    }

    /// Three sync messages one laptop sends another in turn, each with a new change; and the
    /// heads they end at.
    pub(crate) fn three_sync_messages() -> (Vec<Vec<u8>>, Vec<automerge::ChangeHash>) {
        let id = document_id(WorkshopId::from_uuid(uuid::Uuid::from_u128(9))).unwrap();
        let (mut sender, mut receiver) = (AutoCommit::new(), AutoCommit::new());
        let (mut state, mut theirs) = (sync::State::new(), sync::State::new());
        // They have said what they have (nothing).
        exchange(&mut sender, &mut state, &mut receiver, &mut theirs, 3);
        let mut out = Vec::new();
        for key in ["a", "b", "c"] {
            note(&mut sender, key);
            out.push(wire(&id, "peer-s", "peer-r", sender.sync().generate_sync_message(&mut state).unwrap()));
        }
        (out, sender.get_heads())
    }

    /// The changes a samod sync message carries, applied to an empty document: its heads.
    pub(crate) fn heads_after(message: &[u8]) -> Vec<automerge::ChangeHash> {
        let mut doc = AutoCommit::new();
        doc.sync().receive_sync_message(&mut sync::State::new(), unwire(message)).unwrap();
        doc.get_heads()
    }

    /// `rounds` of sync between `a` and `b`, each side sending whatever it has to say.
    fn exchange(
        a: &mut AutoCommit,
        sa: &mut sync::State,
        b: &mut AutoCommit,
        sb: &mut sync::State,
        rounds: usize,
    ) {
        for _ in 0..rounds {
            if let Some(m) = a.sync().generate_sync_message(sa) {
                b.sync().receive_sync_message(sb, m).unwrap();
            }
            if let Some(m) = b.sync().generate_sync_message(sb) {
                a.sync().receive_sync_message(sa, m).unwrap();
            }
        }
    }

    fn note(doc: &mut AutoCommit, key: &str) {
        doc.put(ROOT, key, "more time to talk").unwrap();
        doc.commit();
    }

    /// A sender with changes the receiver lacks, sending them in three messages; the same
    /// three merged must bring the receiver to the same place, and sync then ends as usual.
    #[test]
    fn merged_sync_messages_bring_the_receiver_where_the_messages_in_turn_do() {
        let id = document_id(WorkshopId::from_uuid(uuid::Uuid::from_u128(7))).unwrap();
        let mut sender = AutoCommit::new().with_actor(ActorId::from(b"sender".to_vec()));
        note(&mut sender, "first");
        let mut in_turn = AutoCommit::new().with_actor(ActorId::from(b"receiver".to_vec()));
        in_turn.merge(&mut sender.fork()).unwrap();
        let mut merged_rx = in_turn.fork().with_actor(ActorId::from(b"receiver2".to_vec()));
        // Both receivers have said what they have.
        let (mut tx_state, mut rx_state) = (sync::State::new(), sync::State::new());
        exchange(&mut sender, &mut tx_state, &mut in_turn, &mut rx_state, 4);
        let mut rx_state2 = rx_state.clone();

        // The sender writes three times, and sends after each.
        let mut queued = Vec::new();
        for key in ["a", "b", "c"] {
            note(&mut sender, key);
            let m = sender.sync().generate_sync_message(&mut tx_state).expect("new changes go out");
            queued.push(wire(&id, "peer-s", "peer-r", m));
        }
        let merged =
            coalesce(&queued[0], &queued[1]).and_then(|ab| coalesce(&ab, &queued[2])).expect("merged");
        let last = unwire(&queued[2]);
        let m = unwire(&merged);
        assert_eq!(m.heads, last.heads);
        assert_eq!(m.have, last.have);

        for bytes in &queued {
            in_turn.sync().receive_sync_message(&mut rx_state, unwire(bytes)).unwrap();
        }
        merged_rx.sync().receive_sync_message(&mut rx_state2, m).unwrap();
        assert_eq!(merged_rx.get_heads(), in_turn.get_heads());
        assert_eq!(merged_rx.get_heads(), sender.get_heads());

        // Sync carries on and ends, from the merged side too.
        let mut sender2 = sender.fork();
        exchange(&mut merged_rx, &mut rx_state2, &mut sender2, &mut tx_state, 6);
        assert!(sender2.sync().generate_sync_message(&mut tx_state).is_none());
        assert!(merged_rx.sync().generate_sync_message(&mut rx_state2).is_none());
    }

    /// Laptops that share a first change: a map of notes.
    fn room(laptops: u8) -> (Vec<AutoCommit>, automerge::ObjId) {
        use automerge::ObjType;
        let mut base = AutoCommit::new().with_actor(ActorId::from(vec![0u8; 16]));
        let notes = base.put_object(ROOT, "notes", ObjType::Map).unwrap();
        base.commit();
        let laptops = (1..=laptops).map(|a| base.fork().with_actor(ActorId::from(vec![a; 16]))).collect();
        (laptops, notes)
    }

    /// One random edit of a kind the workshop makes (a note with typed text, a position and a
    /// vote; typing and deleting in a note's text; a note removed), or one laptop merging
    /// another's changes, on one of `laptops`; committed.
    fn random_edit(rng: &mut rand_chacha::ChaCha8Rng, laptops: &mut [AutoCommit], notes: &automerge::ObjId) {
        use automerge::{ObjType, ReadDoc};
        use rand::Rng;
        let i = rng.random_range(0..laptops.len());
        let keys: Vec<String> = laptops[i].keys(notes).collect();
        match rng.random_range(0..5) {
            0 | 1 => {
                let doc = &mut laptops[i];
                let note = doc.put_object(notes, format!("n{}", rng.random::<u32>()), ObjType::Map).unwrap();
                let text = doc.put_object(&note, "text", ObjType::Text).unwrap();
                doc.splice_text(&text, 0, 0, "more time to talk").unwrap();
                doc.put(&note, "x", rng.random_range(0..500) as f64).unwrap();
                let votes = doc.put_object(&note, "votes", ObjType::Map).unwrap();
                doc.put(&votes, "sam", 1u64).unwrap();
            }
            2 if !keys.is_empty() => {
                let doc = &mut laptops[i];
                let key = &keys[rng.random_range(0..keys.len())];
                if let Ok(Some((_, note))) = doc.get(notes, key) {
                    if let Ok(Some((_, text))) = doc.get(&note, "text") {
                        let len = doc.length(&text);
                        let at = rng.random_range(0..=len);
                        let del = rng.random_range(0..=(len - at).min(4)) as isize;
                        doc.splice_text(&text, at, del, "é🙂").unwrap();
                    }
                }
            }
            3 if !keys.is_empty() => {
                laptops[i].delete(notes, &keys[rng.random_range(0..keys.len())]).unwrap();
            }
            _ => {
                let other = rng.random_range(0..laptops.len());
                if other != i {
                    let mut from = laptops[other].fork();
                    laptops[i].merge(&mut from).unwrap();
                }
            }
        }
        laptops[i].commit();
    }

    /// Automerge bundles (sent to laptops by the patched samod-core, `vendor/README.md`) are
    /// an experimental format: check that a bundle of what a receiver lacks, made from random
    /// concurrent edits of the kinds the workshop makes (map puts and deletes, text typed and
    /// deleted, nested maps), brings it to exactly the sender's document.
    #[test]
    fn bundles_of_what_the_receiver_lacks_bring_it_to_the_senders_document() {
        use automerge::ReadDoc;
        use rand::{Rng, SeedableRng};
        let mut bundled = 0;
        for seed in 0..40u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let (mut laptops, notes) = room(3);
            for _ in 0..rng.random_range(20..120) {
                random_edit(&mut rng, &mut laptops, &notes);
            }
            // The sender has everything; the receiver is one laptop.
            let mut sender = laptops[0].fork();
            for other in &mut laptops[1..] {
                sender.merge(other).unwrap();
            }
            let pick = rng.random_range(1..laptops.len());
            let mut receiver = laptops[pick].fork();
            let lacking: Vec<automerge::ChangeHash> =
                receiver.document().get_changes_added(sender.document()).iter().map(|c| c.hash()).collect();
            if lacking.is_empty() {
                continue;
            }
            bundled += 1;
            let bundle = sender.document().bundle(lacking.iter().copied()).unwrap();
            // Sync often sends a set whose dependencies went in an earlier message: a bundle of
            // the later half, arriving first, waits for the earlier half sent as plain changes.
            let mut halves = receiver.fork();
            let (earlier, later) = lacking.split_at(lacking.len() / 2);
            let later_bundle = sender.document().bundle(later.iter().copied()).unwrap();
            halves.load_incremental(later_bundle.bytes()).unwrap();
            for hash in earlier {
                let change = sender.document().get_change_by_hash(hash).unwrap();
                halves.apply_changes([change.clone()]).unwrap();
            }
            assert_eq!(halves.get_heads(), sender.get_heads(), "seed {seed}: in two parts");
            // The same laptop, given the changes one by one as sync does without bundles.
            let mut by_changes = receiver.fork();
            for hash in &lacking {
                let change = sender.document().get_change_by_hash(hash).unwrap();
                by_changes.apply_changes([change.clone()]).unwrap();
            }
            receiver.load_incremental(bundle.bytes()).unwrap();
            assert_eq!(receiver.get_heads(), sender.get_heads(), "seed {seed}");
            // Every change is the sender's, byte for byte, and the document reads the same.
            for hash in &lacking {
                let got = receiver.document().get_change_by_hash(hash).unwrap();
                let sent = sender.document().get_change_by_hash(hash).unwrap();
                assert_eq!(got.raw_bytes(), sent.raw_bytes(), "seed {seed}: change {hash}");
            }
            // (`save()` isn't compared: its bytes depend on the order changes were applied in.)
            assert_eq!(receiver.get_heads(), by_changes.get_heads(), "seed {seed}");
            let text = |doc: &mut AutoCommit| {
                let heads = doc.get_heads();
                format!("{:?}", doc.document().diff(&[], &heads))
            };
            assert_eq!(text(&mut receiver), text(&mut sender), "seed {seed}: the same contents");
        }
        assert!(bundled >= 30, "only {bundled} of 40 rooms had anything to bundle");
    }

    /// The patched samod-core makes a message for a laptop that reads bundles by working out
    /// which changes Automerge would send, by Automerge's own rules, and sending them as one
    /// bundle without building them one by one (`samod_core::Bundles`). Over random rooms
    /// syncing in a star, with edits between rounds, every message must be Automerge's own
    /// in everything but the form of its changes: the sender's sync state after it is
    /// identical, the bundle holds exactly the changes Automerge sent, and the receiver ends
    /// where Automerge's message would have brought it.
    #[test]
    fn bundled_sync_messages_are_automerges_own_with_the_changes_bundled() {
        use automerge::{Automerge, Bundle, ChangeHash};
        use rand::{Rng, SeedableRng};
        use samod_core::Bundles;
        use std::collections::{BTreeSet, VecDeque};

        /// How many messages carried a bundle, and how many the whole document.
        #[derive(Default)]
        struct Seen {
            bundled: usize,
            whole: usize,
            /// Whole documents the receiver loaded afresh.
            loaded: usize,
            /// Bundles made for another peer, with changes the receiver has beyond those sent.
            shared: usize,
        }

        /// A message from `from`, and Automerge's own, checked against each other.
        fn generate(
            from: &mut AutoCommit,
            to: &mut AutoCommit,
            state: &mut sync::State,
            bundles: &mut Bundles,
            seen: &mut Seen,
        ) -> Option<(sync::Message, sync::Message)> {
            let doc: &Automerge = from.document();
            let mut plain_state = state.clone();
            let plain = doc.generate_sync_message(&mut plain_state);
            let sent_before = state.sent_hashes.clone();
            let ours = bundles.generate_sync_message(doc, state);
            // (Not `assert_eq!`: a state prints thousands of hashes.)
            assert!(
                *state == plain_state,
                "the sync state after the message: {} hashes sent, Automerge {}",
                state.sent_hashes.len(),
                plain_state.sent_hashes.len()
            );
            let (plain, ours) = match (plain, ours) {
                (None, None) => return None,
                (Some(plain), Some(ours)) => (plain, ours),
                (plain, ours) => panic!("Automerge's {plain:?}, ours {ours:?}"),
            };
            assert_eq!(
                (&ours.heads, &ours.need, &ours.have, &ours.flags, &ours.version),
                (&plain.heads, &plain.need, &plain.have, &plain.flags, &plain.version)
            );
            if ours.changes != plain.changes {
                let chunks: Vec<&[u8]> = ours.changes.iter().collect();
                assert_eq!(chunks.len(), 1, "one bundle");
                let bundle = Bundle::try_from(chunks[0]).unwrap();
                let inside: BTreeSet<ChangeHash> =
                    bundle.to_changes().unwrap().iter().map(|c| c.hash()).collect();
                let sent: BTreeSet<ChangeHash> =
                    state.sent_hashes.difference(&sent_before).copied().collect();
                assert!(inside.len() >= Bundles::FROM);
                // What Automerge sent, and perhaps (a bundle made for another peer) as many
                // more at most, which the receiver has.
                assert!(inside.is_superset(&sent), "the bundle holds what Automerge sent");
                let beyond: Vec<ChangeHash> = inside.difference(&sent).copied().collect();
                assert!(beyond.len() <= sent.len());
                let receiver = to.document();
                assert!(beyond.iter().all(|hash| receiver.get_change_meta_by_hash(hash).is_some()));
                seen.shared += usize::from(!beyond.is_empty());
                seen.bundled += 1;
            } else if ours.changes.iter().next().is_some_and(samod_core::whole::is_document) {
                // The whole document: the same bytes, saved once for everyone.
                seen.whole += 1;
            }
            Some((plain, ours))
        }

        /// `to` reads our message as the node does (a whole document loaded afresh where that
        /// is cheaper); Automerge's message, read Automerge's way, would have brought it to
        /// the same place.
        fn receive(
            to: &mut AutoCommit,
            state: &mut sync::State,
            plain: sync::Message,
            ours: sync::Message,
            seen: &mut Seen,
        ) {
            let (mut plain_to, mut plain_state) = (to.clone(), state.clone());
            plain_to.sync().receive_sync_message(&mut plain_state, plain).unwrap();
            let mut doc: Automerge = to.document().clone();
            let fresh = samod_core::whole::receive_sync_message(&mut doc, state, ours).unwrap();
            assert!(*state == plain_state, "the receiver's sync state");
            let plain_doc = plain_to.document();
            assert_eq!(doc.get_heads(), plain_doc.get_heads());
            assert_eq!(doc.get_actor(), plain_doc.get_actor());
            let hashes =
                |d: &Automerge| d.get_changes_meta(&[]).iter().map(|m| m.hash).collect::<BTreeSet<_>>();
            assert!(hashes(&doc) == hashes(plain_doc), "the same changes");
            if fresh {
                seen.loaded += 1;
                assert_eq!(
                    serde_json::to_value(automerge::AutoSerde::from(&doc)).unwrap(),
                    serde_json::to_value(automerge::AutoSerde::from(plain_doc)).unwrap(),
                    "the same document"
                );
                let actor = doc.get_actor().clone();
                *to = AutoCommit::load(&doc.save()).unwrap().with_actor(actor);
            } else {
                *to = plain_to;
            }
        }

        let mut seen = Seen::default();
        for seed in 0..20u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let (mut laptops, notes) = room(4);
            for _ in 0..rng.random_range(10..200) {
                random_edit(&mut rng, &mut laptops, &notes);
            }
            if seed % 3 == 0 {
                // A long shared history, then a session offline: each laptop lacks a few
                // hundred of the others' notes, under a third of the document, so they go as
                // changes (bundled), and the bloom filters' false positives are met.
                for _ in 0..600 {
                    laptops[0].put(&notes, format!("h{}", rng.random::<u32>()), "earlier").unwrap();
                    laptops[0].commit();
                }
                for i in 1..laptops.len() {
                    let mut from = laptops[i].fork();
                    laptops[0].merge(&mut from).unwrap();
                }
                for i in 1..laptops.len() {
                    let mut from = laptops[0].fork();
                    laptops[i].merge(&mut from).unwrap();
                }
                for laptop in &mut laptops {
                    for _ in 0..rng.random_range(50..150) {
                        laptop.put(&notes, format!("o{}", rng.random::<u32>()), "offline").unwrap();
                        laptop.commit();
                    }
                }
            }
            // Laptop 0 is the hub. Each link has a sync state at each end and a queue of
            // messages on the way each way (a message is made, and read later); each laptop
            // has its bundles.
            let n = laptops.len();
            let mut states: Vec<[sync::State; 2]> = (0..n).map(|_| Default::default()).collect();
            let mut queues: Vec<[VecDeque<(sync::Message, sync::Message)>; 2]> =
                (0..n).map(|_| Default::default()).collect();
            let mut bundles: Vec<Bundles> = (0..n).map(|_| Bundles::default()).collect();
            let mut round = 0;
            loop {
                round += 1;
                assert!(round < 500, "seed {seed}: sync didn't finish");
                // People keep writing during the first rounds.
                let writing = round <= 20;
                if writing {
                    for _ in 0..rng.random_range(0..6) {
                        random_edit(&mut rng, &mut laptops, &notes);
                    }
                }
                let mut quiet = true;
                for link in 1..n {
                    for (way, queue) in queues[link].iter_mut().enumerate() {
                        // Way 0: hub to laptop `link`; way 1: back.
                        let from = if way == 0 { 0 } else { link };
                        let (a, b) = laptops.split_at_mut(link);
                        let (hub, spoke) = (&mut a[0], &mut b[0]);
                        let (sender, receiver) = if way == 0 { (hub, spoke) } else { (spoke, hub) };
                        let [hub_state, spoke_state] = &mut states[link];
                        let (state, their_state) =
                            if way == 0 { (hub_state, spoke_state) } else { (spoke_state, hub_state) };
                        // While people write, a message may wait a while before it is read.
                        if !writing || rng.random_bool(0.6) {
                            if let Some((plain, ours)) = queue.pop_front() {
                                quiet = false;
                                receive(receiver, their_state, plain, ours, &mut seen);
                            }
                        }
                        if let Some(pair) = generate(sender, receiver, state, &mut bundles[from], &mut seen) {
                            quiet = false;
                            queue.push_back(pair);
                        }
                    }
                }
                if quiet && !writing {
                    break;
                }
            }
            let heads = laptops[0].get_heads();
            assert!(laptops.iter_mut().all(|l| l.get_heads() == heads), "seed {seed}: converged");
        }
        assert!(seen.bundled >= 150, "only {} messages were bundled", seen.bundled);
        assert!(seen.whole >= 10, "only {} messages carried the whole document", seen.whole);
        assert!(seen.loaded >= 5, "only {} whole documents were loaded afresh", seen.loaded);

        // A laptop that asks for changes by hash (after a bloom filter's false positive, or
        // changes it lost) gets them, bundled, in a message that is otherwise Automerge's.
        let (mut laptops, notes) = room(2);
        for k in 0..40 {
            laptops[0].put(&notes, format!("n{k}"), "more time to talk").unwrap();
            laptops[0].commit();
        }
        let all: Vec<ChangeHash> = laptops[0].get_changes(&[]).iter().map(|c| c.hash()).collect();
        let mut state = sync::State::new();
        state.their_heads = Some(laptops[0].get_heads());
        state.their_need = Some(all[30..38].to_vec());
        state.their_have = Some(Vec::new());
        state.their_capabilities = Some(vec![sync::Capability::MessageV2]);
        let before = seen.bundled;
        let mut bundles = Bundles::default();
        let (a, b) = laptops.split_at_mut(1);
        generate(&mut a[0], &mut b[0], &mut state, &mut bundles, &mut seen).expect("a message");
        assert_eq!(seen.bundled, before + 1, "the asked-for changes went bundled");
        assert_eq!(state.sent_hashes.len(), 8);

        // A new, empty laptop gets the whole document, the same bytes for two of them.
        let before = seen.whole;
        for _ in 0..2 {
            let mut empty = AutoCommit::new();
            let (mut ours, mut theirs) = (sync::State::new(), sync::State::new());
            for _ in 0..4 {
                if let Some((plain, bundled)) =
                    generate(&mut laptops[0], &mut empty, &mut ours, &mut bundles, &mut seen)
                {
                    receive(&mut empty, &mut theirs, plain, bundled, &mut seen);
                }
                if let Some(m) = empty.sync().generate_sync_message(&mut theirs) {
                    laptops[0].sync().receive_sync_message(&mut ours, m).unwrap();
                }
            }
            assert_eq!(empty.get_heads(), laptops[0].get_heads());
        }
        assert_eq!(seen.whole, before + 2, "each empty laptop got the whole document once");

        // Four laptops back from working offline, 30 notes each. Once the facilitator's laptop
        // has taken in all their notes, each lacks the other three's, and one bundle of all
        // four's does for every one of them. (Changes made at a fixed time, so that their
        // hashes, and so the bloom filters' false positives, are the same every run: a change
        // a filter wrongly says a laptop has is not sent to it, and then a bundle holding it
        // isn't either.)
        let at_noon = || automerge::transaction::CommitOptions::default().with_time(12 * 3600);
        let (mut laptops, notes) = room(5);
        // (A morning's notes everyone has, so that what each lacks is not a third of it.)
        for k in 0..300 {
            laptops[0].put(&notes, format!("morning{k}"), "earlier").unwrap();
            laptops[0].commit_with(at_noon());
        }
        for i in 1..laptops.len() {
            let mut morning = laptops[0].fork();
            laptops[i].merge(&mut morning).unwrap();
        }
        for (i, laptop) in laptops.iter_mut().enumerate().skip(1) {
            for k in 0..30 {
                laptop.put(&notes, format!("l{i}n{k}"), "offline").unwrap();
                laptop.commit_with(at_noon());
            }
        }
        let (hub, spokes) = laptops.split_at_mut(1);
        let hub = &mut hub[0];
        let mut states: Vec<[sync::State; 2]> = spokes.iter().map(|_| Default::default()).collect();
        let mut bundles = Bundles::default();
        // Each laptop's hello, the hub's answers, then each laptop's notes.
        for (spoke, [hub_state, spoke_state]) in spokes.iter_mut().zip(&mut states) {
            let m = spoke.sync().generate_sync_message(spoke_state).expect("hello");
            hub.sync().receive_sync_message(hub_state, m).unwrap();
        }
        for (spoke, [hub_state, spoke_state]) in spokes.iter_mut().zip(&mut states) {
            let (plain, ours) = generate(hub, spoke, hub_state, &mut bundles, &mut seen).expect("an answer");
            receive(spoke, spoke_state, plain, ours, &mut seen);
        }
        for (spoke, [hub_state, spoke_state]) in spokes.iter_mut().zip(&mut states) {
            let m = spoke.sync().generate_sync_message(spoke_state).expect("the laptop's notes");
            hub.sync().receive_sync_message(hub_state, m).unwrap();
        }
        assert_eq!(hub.get_changes(&[]).len(), 1 + 300 + 4 * 30);
        let before = seen.shared;
        let mut sent = BTreeSet::new();
        for (spoke, [hub_state, spoke_state]) in spokes.iter_mut().zip(&mut states) {
            let (plain, ours) =
                generate(hub, spoke, hub_state, &mut bundles, &mut seen).expect("the others' notes");
            sent.insert(ours.changes.iter().next().expect("a bundle").to_vec());
            receive(spoke, spoke_state, plain, ours, &mut seen);
        }
        assert_eq!(sent.len(), 1, "one bundle for all four");
        assert_eq!(seen.shared, before + 4, "each got its own notes back too");
    }

    /// A laptop back from working offline whose notes the facilitator's laptop already has
    /// (they came through someone else) is sent the whole document, and loads it afresh:
    /// every message and sync state on both sides is what Automerge's own receiving gives,
    /// and both end with the same document.
    #[test]
    fn a_whole_document_a_laptop_receives_is_loaded_afresh_and_syncs_as_automerges_own() {
        use automerge::Automerge;

        let (mut laptops, notes) = room(3);
        for k in 0..300 {
            laptops[0].put(&notes, format!("hub{k}"), "more time to talk").unwrap();
            laptops[0].commit();
        }
        for k in 0..20 {
            laptops[1].put(&notes, format!("offline{k}"), "a quiet room").unwrap();
            laptops[1].commit();
        }
        // Laptop 1's notes reach the hub another way (through laptop 2).
        let mut carried = laptops[1].fork();
        laptops[2].merge(&mut carried).unwrap();
        let mut carried = laptops[2].fork();
        laptops[0].merge(&mut carried).unwrap();

        let mut hub: Automerge = laptops[0].document().clone();
        let laptop: Automerge = laptops[1].document().clone();
        let (mut ours, mut plain) = (laptop.clone(), laptop);
        let (mut hub_state, mut ours_state, mut plain_state) =
            (sync::State::new(), sync::State::new(), sync::State::new());
        let (mut fresh, mut counted) = (0, 0);
        for _ in 0..10 {
            let to_hub = ours.generate_sync_message(&mut ours_state);
            assert_eq!(to_hub, plain.generate_sync_message(&mut plain_state));
            assert!(ours_state == plain_state, "the laptop's sync state after its message");
            if let Some(message) = to_hub {
                if let Some(theirs) = samod_core::whole::their_changes(&hub, &message) {
                    assert_eq!(theirs, ours.get_changes_meta(&[]).len() as u64);
                    counted += 1;
                }
                hub.receive_sync_message(&mut hub_state, message).unwrap();
            }
            let Some(message) = hub.generate_sync_message(&mut hub_state) else { break };
            // What the message says of the hub's changes is exact (a smaller document than
            // the laptop's isn't loaded on that count).
            if let Some(theirs) = samod_core::whole::their_changes(&ours, &message) {
                assert_eq!(theirs, hub.get_changes_meta(&[]).len() as u64);
                counted += 1;
            }
            fresh += usize::from(
                samod_core::whole::receive_sync_message(&mut ours, &mut ours_state, message.clone()).unwrap(),
            );
            plain.receive_sync_message(&mut plain_state, message).unwrap();
            assert!(ours_state == plain_state, "the laptop's sync state after the hub's message");
            assert_eq!(ours.get_heads(), plain.get_heads());
        }
        assert_eq!(fresh, 1, "the whole document was loaded afresh once");
        assert!(counted >= 3, "the messages said how many changes their senders have");
        assert_eq!(ours.get_heads(), hub.get_heads());
        assert_eq!(ours.get_actor(), plain.get_actor());
        assert_eq!(
            serde_json::to_value(automerge::AutoSerde::from(&ours)).unwrap(),
            serde_json::to_value(automerge::AutoSerde::from(&plain)).unwrap()
        );
        // The laptop goes on writing as itself.
        let mut tx = ours.transaction();
        tx.put(ROOT, "after", "loaded").unwrap();
        tx.commit();
        let last = ours.get_last_local_change().unwrap();
        assert_eq!(last.actor_id(), plain.get_actor());
        assert_eq!(last.seq(), 21);
    }

    #[test]
    fn only_plain_sync_messages_for_one_document_between_the_same_peers_are_merged() {
        let doc = |n: u128| document_id(WorkshopId::from_uuid(uuid::Uuid::from_u128(n))).unwrap();
        let mut a = AutoCommit::new();
        note(&mut a, "x");
        let message = || {
            let mut state = sync::State::new();
            a.clone().sync().generate_sync_message(&mut state).unwrap()
        };
        let plain = wire(&doc(1), "p1", "p2", message());
        assert!(coalesce(&plain, &plain).is_some());
        assert!(coalesce(&plain, &wire(&doc(2), "p1", "p2", message())).is_none(), "another document");
        assert!(coalesce(&plain, &wire(&doc(1), "p3", "p2", message())).is_none(), "another sender");
        assert!(coalesce(&plain, &wire(&doc(1), "p1", "p3", message())).is_none(), "another receiver");
        let reset = sync::Message { heads: Vec::new(), ..message() };
        assert!(coalesce(&plain, &wire(&doc(1), "p1", "p2", reset.clone())).is_none(), "a reset");
        assert!(coalesce(&wire(&doc(1), "p1", "p2", reset), &plain).is_none(), "a reset first");
        let request = WireMessage::Request {
            document_id: doc(1),
            sender_id: PeerId::from("p1"),
            target_id: PeerId::from("p2"),
            data: message().encode(),
        }
        .encode();
        assert!(coalesce(&request, &plain).is_none(), "a request");
        assert!(coalesce(&plain, b"garbage").is_none());
        let big = vec![0u8; MAX_COALESCED];
        assert!(coalesce(&plain, &big).is_none(), "too big to merge");
    }
}
