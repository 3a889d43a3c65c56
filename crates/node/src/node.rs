//! The node: workshops in durable storage, run through the command contract.

use std::any::Any;
use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use automerge::{Automerge, ChangeHash};
use commonground_api::{ApiError, Command, Event, Local, Reply, WorkshopService};
use commonground_workshop::{
    random_actor, NewWorkshop, NotOpened, ParticipantId, Timestamp, Workshop, WorkshopId,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::watch;
use tracing::Instrument;

use crate::durable::{ensure_dir, move_durably, remove_stale_temps, sync_dir, FILE_MODE};
use crate::error::{NodeError, Result};
use crate::guest::GuestId;
use crate::health::StorageHealth;
use crate::keys::{DeviceKeyFile, DeviceSecret};
use crate::layout::Layout;
use crate::local;
use crate::net::{DocRoster, Net, SyncAccess};
use crate::repo::{join_blocking, off_worker, Doc, DocRepo, SamodKeys};
use crate::storage::DurableStorage;

/// How long an edit may take to reach the disk before the node reports it as not saved.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Node::open`] waits for another node on the same folder to finish closing.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// What a command did: the reply, and the view events for everything that changed.
#[derive(Debug)]
pub struct Dispatched {
    /// The command's reply, or why it was refused.
    pub reply: std::result::Result<Reply, ApiError>,
    /// What changed, as the person on this device sees it.
    pub events: Vec<Event>,
}

pub(crate) struct OpenWorkshop {
    pub(crate) doc: Doc,
    local: Mutex<Local>,
    /// The heads up to which view events have been reported: by the command that made a
    /// change (in its `Dispatched`), or on the node's event stream for changes that arrived
    /// from other laptops. Locked after `local`.
    reported: Mutex<Vec<ChangeHash>>,
    /// Guests' private state, loaded on first use.
    guests: Mutex<HashMap<GuestId, Local>>,
    /// Counts changes to the document, from anywhere; front doors that derive their own
    /// events (one per guest) watch it.
    changed: watch::Sender<u64>,
    /// The document's heads as samod last reported them (see [`Node::heads`]).
    latest: Mutex<Vec<ChangeHash>>,
}

impl OpenWorkshop {
    /// Wraps an opened document; also returns the devices it lists, for the network's
    /// roster checks.
    async fn open(doc: Doc, local: Local) -> Result<(Self, DocRoster)> {
        let reading = doc.clone();
        let (heads, roster) = join_blocking(
            tokio::task::spawn_blocking(move || {
                reading.edit(|am| {
                    let roster = run_service(am, now(), Local::default(), |s| DocRoster::read(s.workshop()));
                    (am.get_heads(), roster.map(|(roster, _)| roster).unwrap_or_default())
                })
            })
            .await,
        )?
        .0;
        let open = Self {
            doc,
            local: Mutex::new(local),
            latest: Mutex::new(heads.clone()),
            reported: Mutex::new(heads),
            guests: Mutex::new(HashMap::new()),
            changed: watch::Sender::new(0),
        };
        Ok((open, roster))
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The view events for changes not reported yet (they came from other laptops), moving
    /// the mark past them, and gives `net` the devices the document lists now. Blocks on the
    /// document: call it off the runtime's workers.
    fn take_unreported(&self, id: WorkshopId, net: &Net) -> Vec<Event> {
        let local = lock(&self.local);
        let mut reported = lock(&self.reported);
        let (outcome, _) = self.doc.edit(|am| {
            run_service(am, now(), local.clone(), |service| {
                let events = service.events_since(&reported);
                *reported = service.workshop().heads();
                // Devices are recorded on participants: the roster can only have changed if
                // they did (or if the change was too broad to describe).
                let touched =
                    events.iter().any(|e| matches!(e, Event::ParticipantsChanged { .. } | Event::Resync));
                let roster = touched.then(|| DocRoster::read(service.workshop()));
                (events, roster)
            })
        });
        let Ok(((events, roster), _)) = outcome else { return Vec::new() };
        // Set while `reported` is held, so that a roster read earlier never replaces this one.
        if let Some(roster) = roster {
            net.set_doc_roster(id, roster);
        }
        events
    }

    /// Whether view events have been reported up to `heads` already (by the command that
    /// made the change).
    fn reported_up_to(&self, heads: &[ChangeHash]) -> bool {
        *lock(&self.reported) == heads
    }
}

/// A Common Ground node: this device's workshops, stored durably in one data folder.
///
/// Only one node may have a data folder open at a time (an OS file lock enforces it). Call
/// [`Node::close`] to stop cleanly; dropping a node inside a tokio runtime also stops it, in
/// the background.
pub struct Node {
    layout: Layout,
    storage: DurableStorage,
    repo: DocRepo,
    device: DeviceSecret,
    open: Mutex<HashMap<WorkshopId, Arc<OpenWorkshop>>>,
    /// One at a time per workshop: opening it (which may finish a creation cut short, moving
    /// files) and the end of creating it.
    opening: Mutex<HashMap<WorkshopId, Arc<tokio::sync::Mutex<()>>>>,
    net: Net,
    /// The share policy's state (shared with `net`): sync servers are granted through it too.
    access: SyncAccess,
    /// Held until samod has stopped.
    lock: Option<File>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("data_dir", &self.layout.root()).finish_non_exhaustive()
    }
}

impl Node {
    /// The platform's data folder for Common Ground (on Linux `~/.local/share/commonground`).
    pub fn default_data_dir() -> Result<PathBuf> {
        directories::ProjectDirs::from("org", "Common Ground", "commonground")
            .map(|dirs| dirs.data_dir().to_owned())
            .ok_or(NodeError::NoDataDir)
    }

    /// Opens the node on the platform's data folder.
    pub async fn open_default() -> Result<Self> {
        Self::open(Self::default_data_dir()?).await
    }

    /// Opens the node on `data_dir`, creating it (mode 0700) and the device key on first use.
    /// Must be called inside a tokio runtime.
    pub async fn open(data_dir: impl AsRef<Path>) -> Result<Self> {
        let root = std::path::absolute(data_dir.as_ref()).map_err(|e| NodeError::io(data_dir.as_ref(), e))?;
        ensure_dir(&root).map_err(|e| NodeError::io(&root, e))?;
        let layout = Layout::new(root.clone());
        let lock = acquire_lock(&layout).await?;
        for dir in [layout.workshops_dir(), layout.repo_dir(), layout.creating_dir()] {
            match remove_stale_temps(&dir) {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "removed unfinished writes left by an earlier run"),
                Err(e) => return Err(NodeError::io(dir, e)),
            }
        }
        let device = DeviceKeyFile::load_or_create(&root)?;
        let storage = DurableStorage::new(layout.clone(), SamodKeys);
        let access = SyncAccess::default();
        let repo = DocRepo::open(storage.clone(), access.clone()).await?;
        let net = Net::new(layout.clone(), repo.clone(), &device, access.clone());
        tracing::info!(workshops = storage.workshop_ids().len(), "node open");
        let node = Self {
            layout,
            storage,
            repo,
            device,
            open: Mutex::new(HashMap::new()),
            opening: Mutex::new(HashMap::new()),
            net,
            access,
            lock: Some(lock),
        };
        node.settle_unfinished_creations().await;
        Ok(node)
    }

    /// The network side.
    pub(crate) fn net(&self) -> &Net {
        &self.net
    }

    /// samod.
    pub(crate) fn repo(&self) -> &DocRepo {
        &self.repo
    }

    /// Which samod peer may sync which workshop.
    pub(crate) fn access(&self) -> &SyncAccess {
        &self.access
    }

    /// Starts reporting changes from other laptops to an open workshop as node events, and
    /// keeping the network's copy of the document's roster (`roster`: as it is now) current.
    fn watch(&self, id: WorkshopId, open: &Arc<OpenWorkshop>, roster: DocRoster) {
        use futures::{FutureExt, StreamExt};
        self.net.set_doc_roster(id, roster);
        self.net.set_doc(id, open.doc.clone());
        // The heads are tracked by a task of their own, so that they are current even while
        // the pass below is busy. They are read once more after subscribing, for changes
        // applied since the workshop was opened; events queued before that read may set older
        // heads for a moment, but the last event processed always carries the latest.
        let tracked = open.clone();
        let mut heads_changes = tracked.doc.changes();
        self.net.spawn(async move {
            if let Ok(heads) = tracked.doc.read_async(|am| am.get_heads()).await {
                *lock(&tracked.latest) = heads;
            }
            while let Some(heads) = heads_changes.next().await {
                *lock(&tracked.latest) = heads;
            }
        });
        let (open, net) = (open.clone(), self.net.clone());
        let mut changes = open.doc.changes();
        self.net.spawn(async move {
            while let Some(mut heads) = changes.next().await {
                // A burst of changes (one sync message can carry many, and more arrive while
                // a pass runs) is reported in one pass: each pass locks the document, and
                // every lock makes samod check its sync state with every peer.
                while let Some(Some(later)) = changes.next().now_or_never() {
                    heads = later;
                }
                open.bump();
                // The node's own commands report their changes (and update the roster)
                // themselves; the document need not be touched again for them.
                if open.reported_up_to(&heads) {
                    continue;
                }
                let (pass, pass_net) = (open.clone(), net.clone());
                let Ok(events) = join_blocking(
                    tokio::task::spawn_blocking(move || pass.take_unreported(id, &pass_net)).await,
                ) else {
                    return;
                };
                net.publish_view(id, events);
            }
        });
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        self.layout.root()
    }

    /// This device's secret key.
    pub fn device_secret(&self) -> &DeviceSecret {
        &self.device
    }

    /// The workshops stored on this device.
    pub fn list_workshops(&self) -> Vec<WorkshopId> {
        self.storage.workshop_ids()
    }

    /// Creates a workshop, with the person on this device as its facilitator. Returns once
    /// the workshop and this device's state for it are durably stored.
    pub async fn create_workshop(&self, new: NewWorkshop) -> Result<WorkshopId> {
        async {
            let now = now();
            let mut rng = os_rng()?;
            let (workshop, facilitator) = Workshop::create(random_actor(&mut rng), now, &mut rng, new)?;
            let local = Local { participant: Some(facilitator), ..Local::default() };
            // Who this device is in the new workshop is stored before the document is: the
            // workshop's id (so its folder) is known only once samod has the document, and
            // a process that dies between the two must not leave a workshop in which its
            // own facilitator has not joined (see `claim_unfinished_creation`).
            let pending = self.layout.creating_file(facilitator);
            local::save(&pending, &local).map_err(|e| NodeError::io(&pending, e))?;
            // On failure the waiting state stays: samod may have stored the document anyway.
            let (id, _, ticket) = self.repo.create(workshop.into_automerge()).await?;
            {
                // An open of the workshop now (its folder exists once samod has stored
                // anything) waits for the document to be durable and the state moved.
                let gate = self.opening_gate(id);
                let _opening = gate.lock().await;
                ticket.wait(ACK_TIMEOUT).await?;
                let path = self.layout.local_file(id);
                match move_durably(&pending, &path) {
                    Ok(()) => {}
                    // The workshop's folder appeared when samod stored the document, and an
                    // open of it (the app listing workshops, say) has finished the move.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.exists() => {}
                    Err(e) => return Err(NodeError::io(&path, e)),
                }
            }
            self.net.init_workshop(id).map_err(|e| NodeError::io(self.layout.workshop_dir(id), e))?;
            self.workshop(id).await?;
            self.record_device(id).await?;
            tracing::info!(workshop = %id, "created a workshop");
            Ok(id)
        }
        .instrument(tracing::info_span!("create_workshop"))
        .await
    }

    /// Loads a stored workshop (done automatically by [`Node::with_service`]). Damaged files
    /// found on the way are set aside and reported by [`Node::workshop_health`].
    pub async fn open_workshop(&self, id: WorkshopId) -> Result<()> {
        self.workshop(id).await.map(|_| ())
    }

    pub(crate) async fn workshop(&self, id: WorkshopId) -> Result<Arc<OpenWorkshop>> {
        if let Some(open) = lock(&self.open).get(&id) {
            return Ok(open.clone());
        }
        // One opening at a time per workshop (a claim moves files), so a second waits here
        // for the first, including its search for a document this laptop lacks.
        let gate = self.opening_gate(id);
        let opening = gate.lock().await;
        if let Some(open) = lock(&self.open).get(&id) {
            return Ok(open.clone());
        }
        let opened = async {
            let Some(doc) = self.repo.find(id).await? else {
                return Err(if self.storage.damage(Some(id)).is_empty() {
                    NodeError::WorkshopNotFound(id)
                } else {
                    NodeError::WorkshopDamaged(id)
                });
            };
            doc.read_async(Workshop::check).await??;
            let path = self.layout.local_file(id);
            let (mut local, damage) = local::load(&path, &self.layout.damaged_dir(id));
            if let Some(damage) = damage {
                self.storage.record_damage(Some(id), damage);
            } else if local.participant.is_none() && !path.exists() {
                if let Some(created) = self.claim_unfinished_creation(id, &doc).await {
                    local = created;
                }
            }
            let health = self.workshop_health(id);
            if health.is_damaged() {
                tracing::warn!(
                    found = health.found.len(),
                    set_aside = health.set_aside,
                    "workshop opened with damaged files set aside"
                );
            } else {
                tracing::debug!("workshop opened");
            }
            let (open, roster) = OpenWorkshop::open(doc, local).await?;
            let open = Arc::new(open);
            let (open, new) = {
                let mut all = lock(&self.open);
                let new = !all.contains_key(&id);
                (all.entry(id).or_insert(open).clone(), new)
            };
            if new {
                self.watch(id, &open, roster);
            }
            Ok(open)
        }
        .instrument(tracing::info_span!("open_workshop", workshop = %id))
        .await;
        if opened.is_err() {
            // No gate is kept for an id that didn't open (any id can be asked for), unless
            // another opening is waiting on it.
            let mut gates = lock(&self.opening);
            if gates.get(&id).is_some_and(|g| Arc::strong_count(g) <= 2) {
                gates.remove(&id);
            }
        }
        drop(opening);
        opened
    }

    /// The gate that lets one task at a time open workshop `id` or finish creating it.
    fn opening_gate(&self, id: WorkshopId) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.opening).entry(id).or_default().clone()
    }

    /// The states waiting in `creating/` (see [`Node::create_workshop`]), each with its file.
    /// A damaged one is set aside into `damaged/` and reported.
    fn waiting_creations(&self) -> Vec<(PathBuf, Local)> {
        let Ok(entries) = std::fs::read_dir(self.layout.creating_dir()) else { return Vec::new() };
        let mut waiting = Vec::new();
        for entry in entries.flatten() {
            if crate::durable::is_hidden(&entry.file_name().to_string_lossy()) {
                continue; // an unfinished write, removed at start-up
            }
            let file = entry.path();
            match local::load(&file, &self.layout.repo_damaged_dir()) {
                (_, Some(damage)) => self.storage.record_damage(None, damage),
                (state, None) => waiting.push((file, state)),
            }
        }
        waiting
    }

    /// Finds this device's state for a workshop whose creation was cut short: the process
    /// stopped after samod stored the document but before [`Node::create_workshop`] moved
    /// the state into the workshop's folder. It is the waiting state whose participant is a
    /// facilitator of this workshop (participant ids are random, so no other workshop has
    /// them); it is moved into place and returned. Called with the workshop's opening gate.
    async fn claim_unfinished_creation(&self, id: WorkshopId, doc: &Doc) -> Option<Local> {
        let waiting = self.waiting_creations();
        let candidates: Vec<ParticipantId> =
            waiting.iter().filter_map(|(_, state)| state.participant).collect();
        if candidates.is_empty() {
            return None;
        }
        let facilitators = doc
            .read_async(move |am| {
                let workshop = Workshop::from_automerge(am.clone(), now()).ok()?;
                let facilitates = |p: &ParticipantId| workshop.participant(*p).is_some_and(|v| v.facilitator);
                Some(candidates.into_iter().filter(facilitates).collect::<Vec<_>>())
            })
            .await
            .ok()
            .flatten()?;
        let (file, state) = waiting
            .into_iter()
            .find(|(_, state)| state.participant.is_some_and(|p| facilitators.contains(&p)))?;
        let path = self.layout.local_file(id);
        if let Err(e) = move_durably(&file, &path) {
            tracing::warn!(error = %e, "couldn't move the facilitator's state into the workshop's folder");
        }
        tracing::info!(workshop = %id, "finished creating a workshop an earlier run was creating");
        Some(state)
    }

    /// At start-up, with states waiting in `creating/`: opens every stored workshop that has
    /// no state of this device's (which claims its waiting state, if it has one), then
    /// removes the states no workshop claimed: their creation never stored a document. If a
    /// workshop can't be opened, nothing is removed (the state may be its).
    async fn settle_unfinished_creations(&self) {
        if self.waiting_creations().is_empty() {
            return;
        }
        let mut all_opened = true;
        for id in self.storage.workshop_ids() {
            if self.layout.holds_document(id) && !self.layout.local_file(id).exists() {
                all_opened &= self.workshop(id).await.is_ok();
            }
        }
        if !all_opened {
            return;
        }
        let unclaimed = self.waiting_creations();
        for (file, _) in &unclaimed {
            if let Err(e) = std::fs::remove_file(file) {
                tracing::warn!(error = %e, "couldn't remove the state of a workshop that was never stored");
            }
        }
        if !unclaimed.is_empty() {
            let _ = sync_dir(&self.layout.creating_dir());
            tracing::info!(
                count = unclaimed.len(),
                "removed the state of workshops an earlier run began but never stored"
            );
        }
    }

    /// Runs `f` on the workshop's [`WorkshopService`] and returns its result once every change
    /// it made is durably stored (and this device's [`Local`] state, if it changed).
    ///
    /// The document is borrowed from samod for the duration of `f` (wrapped as a [`Workshop`]
    /// and given back afterwards, so samod stores and syncs the changes); `f` should be quick,
    /// as it blocks other edits and incoming sync for this workshop. If `f` panics, the
    /// document is given back first and the panic then continues.
    ///
    /// An error after `f` ran (a change that could not be written) means "not acknowledged",
    /// not "not applied": the change may still be stored and synced.
    ///
    /// Changes `f` makes are the caller's to report (as [`Node::dispatch`] does); changes
    /// from other laptops that arrived before it are sent on [`Node::events`] first.
    pub async fn with_service<R>(
        &self,
        id: WorkshopId,
        f: impl FnOnce(&mut WorkshopService) -> R,
    ) -> Result<R> {
        let workshop = self.workshop(id).await?;
        let span = tracing::info_span!("with_service", workshop = %id);
        // `f` runs with the document locked, and the lock may be held by samod for a while
        // (a large sync message): off the runtime's worker, so other tasks keep running.
        let (result, ticket) = off_worker(|| {
            span.in_scope(|| -> Result<_> {
                let now = now();
                let mut local = lock(&workshop.local);
                let mut reported = lock(&workshop.reported);
                let (outcome, ticket) = workshop.doc.edit(|am| {
                    run_service(am, now, local.clone(), |service| {
                        let unreported = service.events_since(&reported);
                        let result = f(service);
                        let heads = service.workshop().heads();
                        // The roster can only have changed if the document did.
                        let roster = (*reported != heads).then(|| DocRoster::read(service.workshop()));
                        *reported = heads;
                        (unreported, result, roster)
                    })
                });
                let ((unreported, result, roster), new_local) = match outcome {
                    Ok(done) => done,
                    Err(Interrupted::Error(e)) => return Err(e),
                    Err(Interrupted::Panic(panic)) => std::panic::resume_unwind(panic),
                };
                // Set while `reported` is held, so that a roster read earlier never replaces this one.
                if let Some(roster) = roster {
                    self.net.set_doc_roster(id, roster);
                }
                drop(reported);
                self.net.publish_view(id, unreported);
                workshop.bump();
                if new_local != *local {
                    let path = self.layout.local_file(id);
                    local::save(&path, &new_local).map_err(|e| NodeError::io(&path, e))?;
                    *local = new_local;
                }
                Ok((result, ticket))
            })
        })?;
        if let Some(ticket) = ticket {
            ticket.wait(ACK_TIMEOUT).instrument(span).await?;
        }
        Ok(result)
    }

    /// The workshop's heads as of the latest change samod has applied (from this laptop or
    /// another), without touching the document: cheap enough to poll. A change made by a
    /// command that has just returned may take a moment to show.
    pub async fn heads(&self, id: WorkshopId) -> Result<Vec<ChangeHash>> {
        Ok(lock(&self.workshop(id).await?.latest).clone())
    }

    /// Runs one command, at the current time and with fresh randomness, returning once its
    /// changes are durably stored.
    pub async fn dispatch(&self, id: WorkshopId, command: Command) -> Result<Dispatched> {
        let now = now();
        let mut rng = os_rng()?;
        self.with_service(id, move |service| {
            let before = service.workshop().heads();
            let reply = service.dispatch(now, &mut rng, command);
            let events = service.events_since(&before);
            Dispatched { reply, events }
        })
        .await
    }

    /// Runs `f` as a guest (someone using the workshop through this laptop from a phone or
    /// tablet) on a [`WorkshopService`] holding that guest's own private state, and returns
    /// once every change it made is durably stored, as [`Node::with_service`] does.
    ///
    /// Guests' changes reach this laptop's person like any other laptop's, as view events on
    /// [`Node::events`]; the guest's own front door derives its events by watching
    /// [`Node::changes`].
    pub async fn with_guest<R>(
        &self,
        id: WorkshopId,
        guest: &GuestId,
        f: impl FnOnce(&mut WorkshopService) -> R,
    ) -> Result<R> {
        let workshop = self.workshop(id).await?;
        let span = tracing::info_span!("with_guest", workshop = %id);
        // Off the runtime's worker, as in `with_service`: the document lock may be held.
        let (result, ticket) = off_worker(|| {
            span.in_scope(|| -> Result<_> {
                let path = self.layout.guest_file(id, guest);
                let mut guests = lock(&workshop.guests);
                let local = match guests.get(guest) {
                    Some(local) => local.clone(),
                    None => {
                        let (local, damage) = local::load(&path, &self.layout.damaged_dir(id));
                        if let Some(damage) = damage {
                            self.storage.record_damage(Some(id), damage);
                        }
                        local
                    }
                };
                let now = now();
                let (outcome, ticket) = workshop.doc.edit(|am| run_service(am, now, local.clone(), f));
                let (result, new_local) = match outcome {
                    Ok(done) => done,
                    Err(Interrupted::Error(e)) => return Err(e),
                    Err(Interrupted::Panic(panic)) => std::panic::resume_unwind(panic),
                };
                if new_local != local {
                    local::save(&path, &new_local).map_err(|e| NodeError::io(&path, e))?;
                }
                guests.insert(guest.clone(), new_local);
                Ok((result, ticket))
            })
        })?;
        workshop.bump();
        if let Some(ticket) = ticket {
            ticket.wait(ACK_TIMEOUT).instrument(span).await?;
        }
        Ok(result)
    }

    /// Who these guests are in the workshop, from the state their requests left (no document
    /// read): the ones that haven't joined yet are left out.
    pub async fn guest_participants(&self, id: WorkshopId, guests: &[GuestId]) -> Result<Vec<ParticipantId>> {
        let workshop = self.workshop(id).await?;
        let known = lock(&workshop.guests);
        Ok(guests.iter().filter_map(|g| known.get(g).and_then(|local| local.participant)).collect())
    }

    /// A counter that moves on every change to the workshop, from this laptop, a guest or
    /// another laptop. Front doors that derive their own view events (one per guest) wait on
    /// it, then ask for the events since the heads they last showed.
    pub async fn changes(&self, id: WorkshopId) -> Result<watch::Receiver<u64>> {
        Ok(self.workshop(id).await?.changed.subscribe())
    }

    /// What was found wrong with the workshop's stored files, if anything.
    pub fn workshop_health(&self, id: WorkshopId) -> StorageHealth {
        let set_aside = std::fs::read_dir(self.layout.damaged_dir(id)).map(|d| d.count()).unwrap_or(0);
        StorageHealth { found: self.storage.damage(Some(id)), set_aside }
    }

    /// Stops the node once every pending write has completed, and releases the data folder.
    pub async fn close(mut self) {
        self.net.shutdown();
        self.repo.stop().await;
        self.lock.take();
        tracing::info!("node closed");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.net.shutdown();
        let Some(lock) = self.lock.take() else { return };
        // Stop samod in the background and keep the folder locked until it has, so a node
        // opened next on the same folder never runs alongside this one's last writes.
        let stop = self.repo.stop();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                stop.await;
                drop(lock);
            });
        }
    }
}

/// Why [`run_service`] did not finish.
enum Interrupted {
    Error(NodeError),
    Panic(Box<dyn Any + Send>),
}

/// Wraps samod's document as a workshop service, runs `f`, and puts the document back —
/// always, even when it can't be opened or `f` panics: samod would otherwise store (and
/// compact over) an empty document.
fn run_service<R>(
    am: &mut Automerge,
    now: Timestamp,
    local: Local,
    f: impl FnOnce(&mut WorkshopService) -> R,
) -> std::result::Result<(R, Local), Interrupted> {
    let workshop = match Workshop::from_automerge(std::mem::take(am), now) {
        Ok(workshop) => workshop,
        Err(rejected) => {
            let NotOpened { doc, error } = *rejected;
            *am = doc;
            return Err(Interrupted::Error(error.into()));
        }
    };
    let mut service = WorkshopService::new(workshop, local);
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(&mut service)));
    let (workshop, local) = service.into_parts();
    *am = workshop.into_automerge();
    match result {
        Ok(result) => Ok((result, local)),
        Err(panic) => Err(Interrupted::Panic(panic)),
    }
}

async fn acquire_lock(layout: &Layout) -> Result<File> {
    let path = layout.lock_file();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(FILE_MODE)
        .open(&path)
        .map_err(|e| NodeError::io(&path, e))?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(TryLockError::WouldBlock) => {
                return Err(NodeError::Locked { path: layout.root().to_owned() })
            }
            Err(TryLockError::Error(e)) => return Err(NodeError::io(&path, e)),
        }
    }
}

fn now() -> Timestamp {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    Timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
}

fn os_rng() -> Result<StdRng> {
    StdRng::try_from_os_rng().map_err(|e| NodeError::Randomness(e.to_string()))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a command is caught before it can leave these half-updated.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
