//! The app: one node and everything around it that every window shares.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use commonground_api::{
    ApiError, Command, Door, ExportFormat, FrontReply, InviteView, Notice, Request, WorkshopService,
};
use commonground_export::ValuesDocument;
use commonground_node::{
    local_addresses, Dispatched, FolderSync, GuestId, NetError, Node, NodeEvent, ServeHandle, SyncProblem,
};
use commonground_web::{Assets, Backend, DirAssets, Seat, Session, WebHandle};
use commonground_workshop::{ChangeHash, NewWorkshop, Timestamp, WorkshopId};
use futures::future::BoxFuture;
use futures::FutureExt;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::away::Away;
use crate::doors::Doors;
use crate::error::AppError;
use crate::export::Exported;
use crate::finder::{Finder, Methods};
use crate::{connection, qr, summary};

/// Where the app listens for other laptops unless told otherwise.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:41235";
/// Where the web front door listens unless told otherwise.
pub const DEFAULT_WEB: &str = "0.0.0.0:41236";
/// How often a shared folder is looked at for other laptops' changes.
const FOLDER_POLL: Duration = Duration::from_secs(5);
/// How many notices a window may fall behind before it is told to reload.
const NOTICE_BACKLOG: usize = 1024;

/// How the app runs.
#[derive(Clone)]
pub struct AppConfig {
    /// The data folder.
    pub data_dir: PathBuf,
    /// Where to listen for other laptops. If the port is taken, any free port is used.
    pub listen: SocketAddr,
    /// Where to open the web front door for phones and tablets, if at all. If the port is
    /// taken, any free port is used.
    pub web: Option<SocketAddr>,
    /// How to look for other laptops.
    pub methods: Methods,
    /// Laptops to keep a connection to, for every workshop (typed-in addresses).
    pub connect: Vec<SocketAddr>,
    /// The UI's files for the web front door; `None` uses the built `ui/dist` of this
    /// checkout, or the folder named by `COMMONGROUND_UI`.
    pub ui: Option<Arc<dyn Assets>>,
    /// A shared folder (OneDrive, Nextcloud, Syncthing, a USB stick) to sync every workshop
    /// through as well, for carrying on from home.
    pub folder: Option<PathBuf>,
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("web", &self.web)
            .field("methods", &self.methods)
            .field("connect", &self.connect)
            .finish_non_exhaustive()
    }
}

impl AppConfig {
    /// The desktop app's defaults: listen on every network, the web front door open, mDNS
    /// and the beacon on.
    pub fn desktop(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: DEFAULT_LISTEN.parse().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 41235))),
            web: Some(DEFAULT_WEB.parse().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 41236)))),
            methods: Methods::default(),
            connect: Vec::new(),
            ui: None,
            folder: None,
        }
    }
}

/// The app. Cheap to clone; every clone is the same app.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("data_dir", &self.inner.node.data_dir()).finish_non_exhaustive()
    }
}

struct Inner {
    node: Node,
    notices: broadcast::Sender<Notice>,
    listening: Mutex<Option<ServeHandle>>,
    finder: tokio::sync::Mutex<Option<Finder>>,
    web: Mutex<Option<WebHandle>>,
    doors: Doors,
    /// Guests connected now, per workshop, with how many windows each has open.
    guests: Mutex<HashMap<WorkshopId, HashMap<GuestId, usize>>>,
    /// Workshops whose last attempt to connect was refused.
    refused: Mutex<HashMap<WorkshopId, bool>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Folders and sync servers for carrying on from home.
    away: Away,
}

impl App {
    /// Opens the node on the data folder, listens for other laptops, starts looking for them
    /// and connecting, and opens the web front door if configured. Needs a tokio runtime.
    pub async fn start(config: AppConfig) -> Result<App, AppError> {
        let node = Node::open(&config.data_dir).await?;
        let doors = Doors::new().ok_or_else(|| {
            AppError::Node(commonground_node::NodeError::Randomness(
                "no randomness for the owner page".into(),
            ))
        })?;
        let inner = Arc::new(Inner {
            node,
            notices: broadcast::channel(NOTICE_BACKLOG).0,
            listening: Mutex::new(None),
            finder: tokio::sync::Mutex::new(None),
            web: Mutex::new(None),
            doors,
            guests: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
            away: Away::load(&config.data_dir),
        });
        let app = App { inner };
        app.listen(config.listen).await?;
        app.connect_known(&config.connect).await;
        app.start_finding(config.methods).await;
        app.forward_node_events();
        app.inner.away.start_servers(&app.inner.node).await;
        app.sync_through_folders(config.folder.clone());
        if let Some(web) = config.web {
            let assets = config.ui.clone().unwrap_or_else(default_ui);
            app.open_web(web, assets).await?;
        }
        Ok(app)
    }

    /// The node, for front ends with needs of their own (the CLI's status file and logs).
    pub fn node(&self) -> &Node {
        &self.inner.node
    }

    /// Where this laptop listens for other laptops.
    pub fn listen_address(&self) -> Option<SocketAddr> {
        lock(&self.inner.listening).as_ref().map(ServeHandle::local_addr)
    }

    /// Where the web front door listens, if open.
    pub fn web_address(&self) -> Option<SocketAddr> {
        lock(&self.inner.web).as_ref().map(WebHandle::local_addr)
    }

    /// The owner page: this laptop's own person in a browser on this laptop (it carries a
    /// key; show it only on this laptop).
    pub fn owner_url(&self) -> Option<String> {
        self.web_address().map(|web| self.inner.doors.owner_url(web))
    }

    /// A workshop's phone page, at this laptop's best address for other devices.
    pub fn phone_url(&self, workshop: WorkshopId) -> Option<String> {
        let web = self.web_address()?;
        let host = self.web_hosts(web).into_iter().next()?;
        Doors::phone_url(&self.inner.node, workshop, host)
    }

    /// Runs a request as the laptop's own person (the desktop window). Changes arrive on
    /// [`App::notices`].
    pub async fn request(&self, request: Request) -> Result<FrontReply, ApiError> {
        self.owner_request(request).await
    }

    /// Runs a command as the laptop's own person, and sends its changes to every window of
    /// theirs as notices. Removing someone also moves everyone else to a new key their
    /// laptops and phones never get. `Err` means the change may not be stored; a refused
    /// command is `Ok` with the refusal in its reply.
    pub async fn dispatch(&self, workshop: WorkshopId, command: Command) -> Result<Dispatched, ApiError> {
        let node = &self.inner.node;
        let done = match command {
            Command::RemoveParticipant { participant } => match node
                .remove_participant(workshop, participant)
                .await
            {
                Err(NetError::NotAMember(_)) => node.dispatch(workshop, command).await.map_err(node_error)?,
                other => other.map_err(|e| e.to_api_error())?,
            },
            command => node.dispatch(workshop, command).await.map_err(node_error)?,
        };
        for event in &done.events {
            let _ = self.inner.notices.send(Notice::View { workshop, event: event.clone() });
        }
        self.refresh_discovery().await;
        Ok(done)
    }

    /// Notices for the laptop's own person: changes from other laptops and from the person's
    /// own commands, and who is connected.
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        self.inner.notices.subscribe()
    }

    /// Stops everything, then closes the node once its last writes are done (when this is
    /// the last clone of the app; otherwise the node closes when the last one goes).
    pub async fn close(self) {
        self.stop().await;
        let mut inner = self.inner;
        for _ in 0..50 {
            match Arc::try_unwrap(inner) {
                Ok(inner) => return inner.node.close().await,
                Err(shared) => inner = shared,
            }
            // Windows' tasks let go as their sockets close.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::debug!("the node will close in the background");
    }

    /// Stops the network side: the web front door, discovery, and listening.
    pub async fn stop(&self) {
        if let Some(web) = lock(&self.inner.web).take() {
            web.stop();
        }
        if let Some(finder) = self.inner.finder.lock().await.take() {
            finder.stop();
        }
        lock(&self.inner.listening).take();
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
        // The node itself stops (after its last writes) when the last clone of the app goes.
    }

    async fn listen(&self, at: SocketAddr) -> Result<(), AppError> {
        let node = &self.inner.node;
        let handle = match node.serve(at).await {
            Ok(handle) => handle,
            Err(NetError::Listen { .. }) if at.port() != 0 => {
                tracing::info!(port = at.port(), "that port is taken; listening on another");
                node.serve(SocketAddr::new(at.ip(), 0)).await?
            }
            Err(e) => return Err(e.into()),
        };
        let bound = handle.local_addr();
        if bound.ip().is_unspecified() {
            node.set_advertised_addresses(reachable(local_addresses(bound.port())));
        }
        *lock(&self.inner.listening) = Some(handle);
        Ok(())
    }

    async fn connect_known(&self, typed: &[SocketAddr]) {
        let node = &self.inner.node;
        let own = self.listen_address();
        for workshop in node.list_workshops() {
            if node.key_epoch(workshop).is_none() {
                continue;
            }
            let mut addresses = typed.to_vec();
            addresses.extend(node.known_addresses(workshop).into_iter().filter(|a| Some(*a) != own));
            addresses.dedup();
            for address in addresses {
                if let Err(e) = node.connect(workshop, address).await {
                    tracing::warn!(%workshop, %address, error = %e, "can't connect to a laptop");
                }
            }
        }
    }

    async fn start_finding(&self, methods: Methods) {
        let Some(bound) = self.listen_address() else { return };
        let mut finder = Finder::start(&self.inner.node, bound, methods);
        let found = finder.take_found();
        *self.inner.finder.lock().await = Some(finder);
        let Some(mut found) = found else { return };
        let weak = Arc::downgrade(&self.inner);
        // The finder is locked only to dial what was found, never while waiting for it:
        // every command from this laptop's person refreshes the finder's announcements.
        self.spawn(async move {
            while let Some(discovered) = found.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                let mut finder = inner.finder.lock().await;
                if let Some(running) = finder.as_mut() {
                    running.dial(&inner.node, discovered).await;
                }
                drop(finder);
            }
        });
    }

    /// Syncs workshops through shared folders: every workshop through the command line's
    /// folder (if any), and each through the folder chosen for it in the app. At once, after
    /// every change here, and every few seconds for changes arriving in the folders.
    fn sync_through_folders(&self, everything: Option<PathBuf>) {
        let weak = Arc::downgrade(&self.inner);
        self.spawn(async move {
            let mut syncs: HashMap<(WorkshopId, PathBuf), FolderSync> = HashMap::new();
            let mut watching: HashMap<WorkshopId, tokio::sync::watch::Receiver<u64>> = HashMap::new();
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let mut wanted: Vec<(WorkshopId, PathBuf)> = inner.away.folders();
                if let Some(folder) = &everything {
                    wanted.extend(inner.node.list_workshops().into_iter().map(|w| (w, folder.clone())));
                }
                wanted.retain(|(w, _)| inner.node.key_epoch(*w).is_some());
                syncs.retain(|key, _| wanted.contains(key));
                watching.retain(|w, _| wanted.iter().any(|(x, _)| x == w));
                for (workshop, folder) in wanted {
                    if let std::collections::hash_map::Entry::Vacant(entry) = watching.entry(workshop) {
                        if let Ok(changes) = inner.node.changes(workshop).await {
                            entry.insert(changes);
                        }
                    }
                    let sync = syncs
                        .entry((workshop, folder.clone()))
                        .or_insert_with(|| FolderSync::new(workshop, &folder));
                    match inner.node.sync_folder(sync).await {
                        Ok(_) => inner.away.folder_result(workshop, None),
                        Err(e) => {
                            tracing::warn!(%workshop, error = %e, "couldn't sync through the shared folder; will try again");
                            inner.away.folder_result(workshop, Some(e.to_string()));
                        }
                    }
                }
                let away = weak.clone();
                drop(inner);
                let settings_changed = async move {
                    if let Some(inner) = away.upgrade() {
                        inner.away.changed.notified().await;
                    }
                };
                // Our own merges move the counters too; reading them again is cheap and
                // finds nothing new.
                let changed = async {
                    if watching.is_empty() {
                        std::future::pending::<()>().await;
                    }
                    let _ = futures::future::select_all(
                        watching.values_mut().map(|w| Box::pin(w.changed())).collect::<Vec<_>>(),
                    )
                    .await;
                    // Let a burst of typing settle into one write.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                };
                tokio::select! {
                    () = settings_changed => {}
                    () = changed => {}
                    () = tokio::time::sleep(FOLDER_POLL) => {}
                }
            }
        });
    }

    fn forward_node_events(&self) {
        let mut events = self.inner.node.events();
        let weak = Arc::downgrade(&self.inner);
        self.spawn(async move {
            loop {
                let event = events.recv().await;
                let Some(inner) = weak.upgrade() else { return };
                let app = App { inner };
                match event {
                    Ok(NodeEvent::View { workshop, event }) => {
                        let _ = app.inner.notices.send(Notice::View { workshop, event });
                    }
                    Ok(NodeEvent::PeerJoined { workshop, .. } | NodeEvent::PeerLeft { workshop, .. }) => {
                        app.connection_changed(workshop).await;
                    }
                    Ok(NodeEvent::SyncStatus { workshop, status }) => {
                        let refused = matches!(status.problem, Some(SyncProblem::Refused { .. }));
                        lock(&app.inner.refused).insert(workshop, refused);
                        app.connection_changed(workshop).await;
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "fell behind the node's events; windows will reload");
                        for workshop in app.inner.node.list_workshops() {
                            let _ = app.inner.notices.send(Notice::Reload { workshop });
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    async fn open_web(&self, at: SocketAddr, assets: Arc<dyn Assets>) -> Result<(), AppError> {
        let backend: Arc<dyn Backend> = Arc::new(WebBackend { inner: Arc::downgrade(&self.inner) });
        let handle = match commonground_web::start(at, backend.clone(), assets.clone()).await {
            Ok(handle) => handle,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && at.port() != 0 => {
                let any = SocketAddr::new(at.ip(), 0);
                commonground_web::start(any, backend, assets)
                    .await
                    .map_err(|source| AppError::Web { address: any, source })?
            }
            Err(source) => return Err(AppError::Web { address: at, source }),
        };
        *lock(&self.inner.web) = Some(handle);
        Ok(())
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        lock(&self.inner.tasks).push(tokio::spawn(task));
    }

    /// The addresses phones can reach the web front door at, best first.
    fn web_hosts(&self, web: SocketAddr) -> Vec<SocketAddr> {
        if !web.ip().is_unspecified() {
            return vec![web];
        }
        reachable(local_addresses(web.port()))
    }

    async fn connection_changed(&self, workshop: WorkshopId) {
        if let Ok(connection) = self.connection(workshop).await {
            let _ = self.inner.notices.send(Notice::Connection { workshop, connection });
        }
    }

    async fn connection(&self, workshop: WorkshopId) -> Result<commonground_api::ConnectionView, ApiError> {
        let node = &self.inner.node;
        let peers = node.peers(workshop);
        let guests: Vec<GuestId> =
            lock(&self.inner.guests).get(&workshop).map(|g| g.keys().cloned().collect()).unwrap_or_default();
        let refused = lock(&self.inner.refused).get(&workshop).copied().unwrap_or(false);
        // Read from the guests' own state, not the document: this runs on every connection
        // change in the room.
        let mut here = node.guest_participants(workshop, &guests).await.map_err(node_error)?;
        let phones = u32::try_from(guests.len()).unwrap_or(u32::MAX);
        node.with_service(workshop, move |service| {
            here.extend(service.local().participant);
            connection::view(service.workshop(), &peers, &here, phones, refused)
        })
        .await
        .map_err(node_error)
    }

    async fn welcome(
        &self,
        door: Door,
        only: Option<(WorkshopId, &GuestId)>,
    ) -> Result<FrontReply, ApiError> {
        let node = &self.inner.node;
        let mut workshops = Vec::new();
        if let Some((workshop, guest)) = only {
            let summary = node
                .with_guest(workshop, guest, |s| summary::summary(workshop, s))
                .await
                .map_err(node_error)?;
            workshops.push(summary);
        } else {
            for workshop in node.list_workshops() {
                match node.with_service(workshop, |s| summary::summary(workshop, s)).await {
                    Ok(summary) => workshops.push(summary),
                    Err(e) => tracing::warn!(%workshop, error = %e, "a stored workshop couldn't be opened"),
                }
            }
            workshops.sort_by_key(|w| w.title.to_lowercase());
        }
        Ok(FrontReply::Welcome { door, workshops })
    }

    async fn owner_request(&self, request: Request) -> Result<FrontReply, ApiError> {
        let node = &self.inner.node;
        match request {
            Request::Hello => self.welcome(Door::Desktop, None).await,
            Request::CreateWorkshop { title, purpose, ground_rules, name, colour } => {
                let ground_rules = ground_rules
                    .into_iter()
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty())
                    .collect::<Vec<_>>();
                let new = NewWorkshop {
                    title,
                    purpose,
                    facilitator_name: name,
                    facilitator_colour: colour,
                    ground_rules: Some(ground_rules),
                };
                let workshop = node.create_workshop(new).await.map_err(node_error)?;
                self.refresh_discovery().await;
                Ok(FrontReply::Opened { workshop })
            }
            Request::FindNearby => {
                let laptops = self.inner.finder.lock().await.as_ref().map(Finder::nearby).unwrap_or_default();
                Ok(FrontReply::Nearby { laptops })
            }
            Request::JoinByCode { address, code, name, colour } => {
                let address = parse_address(&address)?;
                let workshop =
                    node.join_by_code(address, &code, &name, colour).await.map_err(|e| e.to_api_error())?;
                self.refresh_discovery().await;
                Ok(FrontReply::Opened { workshop })
            }
            Request::JoinByLink { link, name, colour } => {
                let workshop =
                    node.join_by_link(link.trim(), &name, colour).await.map_err(|e| e.to_api_error())?;
                self.refresh_discovery().await;
                Ok(FrontReply::Opened { workshop })
            }
            Request::Invite { workshop } => self.invite(workshop).await,
            Request::Connection { workshop } => Ok(FrontReply::Connection(self.connection(workshop).await?)),
            Request::Workshop { workshop, command } => {
                let done = self.dispatch(workshop, command).await?;
                Ok(FrontReply::Workshop { reply: done.reply? })
            }
            Request::Export { workshop, format } => exported(self.export(workshop, format).await?),
            Request::Away { workshop } => Ok(FrontReply::Away(self.inner.away.view(workshop, true))),
            Request::SetFolder { workshop, folder } => {
                self.inner.away.set_folder(node, workshop, folder.as_deref()).await?;
                Ok(FrontReply::Away(self.inner.away.view(workshop, true)))
            }
            Request::SetSyncServer { workshop, url } => {
                self.inner.away.set_server(node, workshop, url.as_deref()).await?;
                Ok(FrontReply::Away(self.inner.away.view(workshop, true)))
            }
        }
    }

    /// The agreed values document in one format, named for saving.
    pub async fn export(&self, workshop: WorkshopId, format: ExportFormat) -> Result<Exported, ApiError> {
        let doc = self
            .inner
            .node
            .with_service(workshop, |service| ValuesDocument::build(service.workshop()))
            .await
            .map_err(node_error)?;
        crate::export::export(doc, crate::export::format(format)).await
    }

    async fn refresh_discovery(&self) {
        if let Some(finder) = self.inner.finder.lock().await.as_ref() {
            finder.refresh();
        }
    }

    async fn invite(&self, workshop: WorkshopId) -> Result<FrontReply, ApiError> {
        let info = self.inner.node.invite(workshop).await.map_err(|e| e.to_api_error())?;
        let phone_url = self.phone_url(workshop);
        let code_expires_in_ms = info
            .expires_at
            .duration_since(SystemTime::now())
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Ok(FrontReply::Invite(Box::new(InviteView {
            link_qr_svg: qr::svg(&info.link).unwrap_or_default(),
            link: info.link,
            code: info.code,
            code_expires_in_ms,
            addresses: info.addresses.iter().map(ToString::to_string).collect(),
            phone_qr_svg: phone_url.as_deref().and_then(qr::svg),
            phone_url,
        })))
    }
}

/// The web front door's view of the app. Weak, so the door (held by the app) doesn't keep
/// the app alive.
struct WebBackend {
    inner: Weak<Inner>,
}

impl Backend for WebBackend {
    fn door(&self, door_id: &str) -> Option<commonground_web::Door> {
        let inner = self.inner.upgrade()?;
        inner.doors.find(&inner.node, door_id)
    }

    fn open(&self, seat: Seat) -> (Arc<dyn Session>, mpsc::Receiver<Notice>) {
        let (tx, rx) = mpsc::channel(NOTICE_BACKLOG);
        let session =
            Arc::new(WebSession { inner: self.inner.clone(), seat: seat.clone(), shown: Default::default() });
        let Some(inner) = self.inner.upgrade() else { return (session, rx) };
        let app = App { inner };
        match seat {
            Seat::Owner => {
                let mut notices = app.notices();
                tokio::spawn(async move {
                    loop {
                        let notice = match notices.recv().await {
                            Ok(notice) => notice,
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => return,
                        };
                        if tx.send(notice).await.is_err() {
                            return;
                        }
                    }
                });
            }
            Seat::Guest { workshop, guest } => {
                *lock(&app.inner.guests).entry(workshop).or_default().entry(guest.clone()).or_default() += 1;
                let session = session.clone();
                tokio::spawn(async move {
                    app.connection_changed(workshop).await;
                    let changes = app.inner.node.changes(workshop).await;
                    if let Ok(mut changes) = changes {
                        loop {
                            tokio::select! {
                                () = tx.closed() => break,
                                changed = changes.changed() => {
                                    if changed.is_err() {
                                        break;
                                    }
                                    for notice in session.new_events(&app).await {
                                        if tx.send(notice).await.is_err() {
                                            break;
                                        }
                                    }
                                }
                            }
                        }
                    }
                    {
                        let mut guests = lock(&app.inner.guests);
                        if let Some(open) = guests.get_mut(&workshop) {
                            if let Some(count) = open.get_mut(&guest) {
                                *count -= 1;
                                if *count == 0 {
                                    open.remove(&guest);
                                }
                            }
                        }
                    }
                    app.connection_changed(workshop).await;
                });
            }
        }
        (session, rx)
    }
}

/// One browser window.
struct WebSession {
    inner: Weak<Inner>,
    seat: Seat,
    /// For a guest: the heads of what this window has been shown (its last snapshot plus the
    /// events since), so each change is sent exactly once. Locked across each read.
    shown: tokio::sync::Mutex<Option<Vec<ChangeHash>>>,
}

impl Session for WebSession {
    fn request(self: Arc<Self>, request: Request) -> BoxFuture<'static, Result<FrontReply, ApiError>> {
        async move {
            let inner = self.inner.upgrade().ok_or_else(closing)?;
            let app = App { inner };
            match &self.seat {
                Seat::Owner => app.owner_request(request).await,
                Seat::Guest { workshop, guest } => self.guest_request(&app, *workshop, guest, request).await,
            }
        }
        .boxed()
    }
}

impl WebSession {
    async fn guest_request(
        &self,
        app: &App,
        workshop: WorkshopId,
        guest: &GuestId,
        request: Request,
    ) -> Result<FrontReply, ApiError> {
        let node = &app.inner.node;
        let allowed = |w: WorkshopId| {
            if w == workshop {
                Ok(())
            } else {
                Err(ApiError::new("not_this_workshop", "This page is for a different workshop."))
            }
        };
        match request {
            Request::Hello => app.welcome(Door::Browser, Some((workshop, guest))).await,
            Request::Connection { workshop: w } => {
                allowed(w)?;
                Ok(FrontReply::Connection(app.connection(workshop).await?))
            }
            Request::Workshop { workshop: w, command } => {
                allowed(w)?;
                if matches!(command, Command::RemoveParticipant { .. }) {
                    // Removing someone moves everyone else to a new key (`App::dispatch`),
                    // which only the laptop's own person can start.
                    return Err(ApiError::new(
                        "laptop_only",
                        "Removing someone can only be done on the facilitator's laptop.",
                    ));
                }
                let snapshot = matches!(command, Command::GetSnapshot);
                let mut shown = self.shown.lock().await;
                let (now, mut rng) = (now(), os_rng()?);
                let (reply, heads) = node
                    .with_guest(workshop, guest, move |service: &mut WorkshopService| {
                        if summary::guest_removed(service) {
                            return (Err(removed()), None);
                        }
                        let reply = service.dispatch(now, &mut rng, command);
                        (reply, snapshot.then(|| service.workshop().heads()))
                    })
                    .await
                    .map_err(node_error)?;
                if let Some(heads) = heads {
                    *shown = Some(heads);
                }
                drop(shown);
                let reply = reply?;
                if matches!(reply, commonground_api::Reply::Joined { .. }) {
                    // Who's here now includes them.
                    app.connection_changed(workshop).await;
                }
                Ok(FrontReply::Workshop { reply })
            }
            Request::Export { workshop: w, format } => {
                allowed(w)?;
                exported(app.export(workshop, format).await?)
            }
            Request::Away { workshop: w } => {
                allowed(w)?;
                Ok(FrontReply::Away(app.inner.away.view(workshop, false)))
            }
            Request::CreateWorkshop { .. }
            | Request::FindNearby
            | Request::JoinByCode { .. }
            | Request::JoinByLink { .. }
            | Request::SetFolder { .. }
            | Request::SetSyncServer { .. }
            | Request::Invite { .. } => Err(ApiError::new(
                "laptop_only",
                "That can only be done on a laptop with the Common Ground app.",
            )),
        }
    }

    /// The view events since this window was last shown anything.
    async fn new_events(&self, app: &App) -> Vec<Notice> {
        let Seat::Guest { workshop, guest } = &self.seat else { return Vec::new() };
        let workshop = *workshop;
        let mut shown = self.shown.lock().await;
        let Some(before) = shown.clone() else { return Vec::new() };
        let read = app
            .inner
            .node
            .with_guest(workshop, guest, move |service| {
                (service.events_since(&before), service.workshop().heads())
            })
            .await;
        match read {
            Ok((events, heads)) => {
                *shown = Some(heads);
                events.into_iter().map(|event| Notice::View { workshop, event }).collect()
            }
            Err(e) => {
                tracing::warn!(%workshop, error = %e, "couldn't read changes for a phone");
                vec![Notice::Reload { workshop }]
            }
        }
    }
}

fn default_ui() -> Arc<dyn Assets> {
    let dir = std::env::var_os("COMMONGROUND_UI")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist"));
    let assets = DirAssets::new(dir);
    if !assets.is_built() {
        tracing::warn!(
            "the UI isn't built (run `make run` or `npm run build` in ui/); phones will see nothing"
        );
    }
    Arc::new(assets)
}

/// The addresses other devices can reach: loopback only when there is nothing else.
fn reachable(mut addresses: Vec<SocketAddr>) -> Vec<SocketAddr> {
    if addresses.iter().any(|a| !a.ip().is_loopback()) {
        addresses.retain(|a| !a.ip().is_loopback());
    }
    addresses
}

fn parse_address(text: &str) -> Result<SocketAddr, ApiError> {
    let text = text.trim();
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        let port = DEFAULT_LISTEN.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(41235);
        return Ok(SocketAddr::new(ip, port));
    }
    Err(ApiError::new(
        "address",
        "That doesn't look like a laptop's address. It is shown on the facilitator's screen, like 192.168.1.20:41235.",
    ))
}

fn exported(e: Exported) -> Result<FrontReply, ApiError> {
    use base64::Engine as _;
    Ok(FrontReply::Exported {
        file_name: e.file_name,
        media_type: e.media_type.to_owned(),
        base64: base64::engine::general_purpose::STANDARD.encode(&e.bytes),
    })
}

fn node_error(e: commonground_node::NodeError) -> ApiError {
    ApiError::new(e.kind(), e.to_string())
}

fn removed() -> ApiError {
    ApiError::new(
        "removed",
        "You're no longer part of this workshop. If you think this is a mistake, please talk to the facilitator.",
    )
}

fn closing() -> ApiError {
    ApiError::new("closing", "The app is closing. Please open it again to carry on.")
}

fn now() -> Timestamp {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    Timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
}

fn os_rng() -> Result<StdRng, ApiError> {
    StdRng::try_from_os_rng().map_err(|_| {
        ApiError::new("randomness", "This laptop couldn't make a random number. Please try again.")
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
