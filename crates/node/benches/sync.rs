//! The sync benchmark: how fast one edit reaches every laptop in a room, and how fast and how
//! cheaply a room of laptops that all worked offline converges, beside raw Automerge syncing
//! the same changes in memory. A benchmark binary that prints markdown tables.
//!
//! Every node runs in this one process on 127.0.0.1, each with its own data folder under one
//! temporary folder (removed at the end), over the real stack: TCP, Noise, samod, durable
//! storage with fsync. Nothing in the node is stubbed or instrumented.
//!
//! 1. **Latency.** A facilitator's node serves; the others join by invite link and stay
//!    connected to it (star, the room's fallback topology); for the smaller rooms the joiners
//!    then also serve and connect to each other (full mesh). Edits (new notes) are made one
//!    at a time, round-robin over the nodes. For each we time `dispatch` on the writer (it
//!    returns once the change is fsynced) and the moment each other node reports the note on
//!    its event stream (`NodeEvent::View(NoteUpserted)`).
//! 2. **Convergence.** A room of devices joins, disconnects, and each device adds notes
//!    offline. Then every joiner reconnects to the facilitator's node through a byte-counting
//!    TCP proxy (written here, so the node is untouched) and we time until every node has the
//!    same heads. The baseline runs the same changes (each node's saved document) through
//!    `automerge::sync` between in-memory documents in the same star, and the merged
//!    document's `save()` is the "compressed changes". Beside them, a lower-bound estimate for
//!    any sync on Automerge on this machine, measured in the same run: one merge of the other
//!    devices' changes, and each other device taking in the merged document, spread perfectly
//!    over the machine's cores ([`Floor`]).
//!
//! Run with `cargo bench -p commonground-node --bench sync`. `SYNC_BENCH_QUICK=1` runs a
//! smoke-sized version (3 nodes, 20 edits, 5 devices × 20 offline edits) for CI. Times are
//! wall clock; the load average is printed because the machine may be shared.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::sync::{Message, State, SyncDoc};
use automerge::{Automerge, ChangeHash};
use commonground_api::{Command, Event, Reply};
use commonground_node::{Node, NodeEvent, ServeHandle, SYNC_PREAMBLE_LEN};
use commonground_protocol::{FRAME_HEADER_LEN, MAX_FRAME_LEN};
use commonground_workshop::{Colour, NewWorkshop, NoteId, PromptId, WorkshopId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio::task::{JoinHandle, JoinSet};

type BoxResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The targets.
const TARGET_P99: Duration = Duration::from_millis(50);
const TARGET_P99_AT: usize = 30;
const TARGET_CONVERGE: Duration = Duration::from_secs(3);
const TARGET_BYTES: f64 = 2.0;

/// Pause after each measured edit, so each is measured in a quiet room (the receivers have
/// stored the previous one): people in a room edit seconds apart, not back to back.
const PAUSE: Duration = Duration::from_millis(50);
/// How long one edit may take to reach everyone before the run fails.
const EDIT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long setting up a room (joins, mesh connections) may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long convergence may take before it is reported as not converged (MISS); override with
/// `SYNC_BENCH_TIMEOUT` (seconds).
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(600);
const CONVERGE_TIMEOUT_QUICK: Duration = Duration::from_secs(60);
/// How long closing a room may take before its nodes are left to the runtime's shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle time after convergence before the final byte count (trailing sync acknowledgements).
const QUIET: Duration = Duration::from_secs(1);
/// How often a slow convergence reports progress (on stderr).
const PROGRESS: Duration = Duration::from_secs(15);
/// Joins at once: people scanning the QR code at roughly the same time.
const JOIN_BATCH: usize = 8;
/// Rounds of the fsync probe.
const FSYNC_ROUNDS: usize = 50;

const NAMES: [&str; 32] = [
    "Sarah", "Ben", "Cleo", "Amir", "Aroha", "Ngozi", "Mei", "Priya", "Tom", "Ali", "Ravi", "Jo", "Ada",
    "Lena", "Omar", "Rosa", "Ivan", "Nia", "Kofi", "Yara", "Hugo", "Ines", "Sami", "Tariq", "Una", "Vera",
    "Wen", "Xena", "Yusuf", "Zara", "Noor", "Eli",
];
const COLOURS: [Colour; 8] = [
    Colour::Leaf,
    Colour::Sky,
    Colour::Sun,
    Colour::Rose,
    Colour::Lilac,
    Colour::Sand,
    Colour::Mint,
    Colour::Peach,
];

/// What to run.
struct Config {
    quick: bool,
    /// Room sizes for the latency run (star).
    sizes: Vec<usize>,
    /// Room sizes also measured as a full mesh.
    mesh: Vec<usize>,
    /// Edits per latency run.
    edits: usize,
    /// Devices in the convergence run.
    devices: usize,
    /// Offline edits per device.
    offline_edits: usize,
    /// How long to wait for convergence.
    converge_timeout: Duration,
}

impl Config {
    /// The full run, or with `SYNC_BENCH_QUICK=1` the smoke run. For profiling, `SYNC_BENCH_SIZES`
    /// (e.g. `3,10`), `SYNC_BENCH_MESH`, `SYNC_BENCH_EDITS`, `SYNC_BENCH_DEVICES` and
    /// `SYNC_BENCH_OFFLINE_EDITS` and `SYNC_BENCH_TIMEOUT` (seconds) override single settings
    /// (`SYNC_BENCH_SIZES=` skips the latency part).
    fn from_env() -> BoxResult<Self> {
        let quick = std::env::var("SYNC_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let mut config = if quick {
            Config {
                quick,
                sizes: vec![3],
                mesh: vec![3],
                edits: 20,
                devices: 5,
                offline_edits: 20,
                converge_timeout: CONVERGE_TIMEOUT_QUICK,
            }
        } else {
            Config {
                quick,
                sizes: vec![3, 10, 30],
                mesh: vec![3, 10],
                edits: 100,
                devices: 30,
                offline_edits: 300,
                converge_timeout: CONVERGE_TIMEOUT,
            }
        };
        let list = |name: &str| -> BoxResult<Option<Vec<usize>>> {
            let Ok(value) = std::env::var(name) else { return Ok(None) };
            let sizes = value.split(',').filter(|s| !s.trim().is_empty()).map(|s| s.trim().parse::<usize>());
            Ok(Some(sizes.collect::<Result<_, _>>()?))
        };
        let number = |name: &str| -> BoxResult<Option<usize>> {
            std::env::var(name).ok().map(|v| v.parse::<usize>()).transpose().map_err(Into::into)
        };
        config.sizes = list("SYNC_BENCH_SIZES")?.unwrap_or(config.sizes);
        config.mesh = list("SYNC_BENCH_MESH")?.unwrap_or(config.mesh);
        config.edits = number("SYNC_BENCH_EDITS")?.unwrap_or(config.edits);
        config.devices = number("SYNC_BENCH_DEVICES")?.unwrap_or(config.devices);
        config.offline_edits = number("SYNC_BENCH_OFFLINE_EDITS")?.unwrap_or(config.offline_edits);
        if let Some(seconds) = number("SYNC_BENCH_TIMEOUT")? {
            config.converge_timeout = Duration::from_secs(seconds as u64);
        }
        if config.sizes.iter().chain(&config.mesh).chain([&config.devices]).any(|&n| n < 2) {
            return Err("rooms need at least 2 nodes".into());
        }
        Ok(config)
    }
}

fn main() -> BoxResult<()> {
    // `cargo bench` passes `--bench` (and perhaps a filter); there is nothing to filter here.
    let config = Config::from_env()?;
    let root = tempfile::Builder::new().prefix("cg-sync-bench-").tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = runtime.block_on(run(&config, root.path()));
    // Every node is closed by `run`; after an error, this stops whatever is left before the
    // folder goes.
    runtime.shutdown_timeout(Duration::from_secs(10));
    // A storage write abandoned by the shutdown may still be finishing: retry briefly.
    let path = root.path().to_owned();
    for _ in 0..5 {
        match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => std::thread::sleep(Duration::from_secs(1)),
            _ => break,
        }
    }
    if path.exists() {
        eprintln!("couldn't remove {}; please delete it", path.display());
    }
    drop(root);
    outcome
}

async fn run(config: &Config, root: &Path) -> BoxResult<()> {
    print_header(config, &fsync_probe(&root.join("fsync-probe"))?);

    // Each table is printed as soon as its part is measured, so a slow or failed convergence
    // run still leaves the latency table.
    let mut latency = Vec::new();
    for &n in &config.sizes {
        let mut room = Room::build(root, &format!("lat{n}"), n).await?;
        latency.push(LatencyRun::new("star", n, measure_latency(&room, config.edits).await?));
        if config.mesh.contains(&n) {
            room.make_mesh().await?;
            latency.push(LatencyRun::new("mesh", n, measure_latency(&room, config.edits).await?));
        }
        room.close().await;
    }
    if !latency.is_empty() {
        print_latency(config, &latency);
    }

    let convergence = measure_convergence(root, config).await?;
    print_convergence(&convergence);
    println!();
    println!("Load average at the end: {}.", load_average());
    // The full run reports a miss; the smoke run guards that syncing works at all.
    if config.quick && !convergence.converged {
        return Err("the smoke run's devices did not converge".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rooms

/// N nodes in one workshop: `nodes[0]` is the facilitator's, serving at `hub`.
struct Room {
    id: WorkshopId,
    prompt: PromptId,
    nodes: Vec<Node>,
    hub: SocketAddr,
    serving: Vec<ServeHandle>,
    /// The threads each node started when it opened (its document threads among them).
    threads: Vec<BTreeSet<u32>>,
}

impl Room {
    /// A facilitator's node serving on loopback and `n - 1` nodes joined by its invite link
    /// (so connected to it), all with the same heads.
    async fn build(root: &Path, label: &str, n: usize) -> BoxResult<Room> {
        let mut threads = Vec::with_capacity(n);
        let mut open = async |i: usize| -> BoxResult<Node> {
            let before = thread_ids();
            let node = Node::open(root.join(format!("{label}-{i:02}"))).await?;
            threads.push(thread_ids().difference(&before).copied().collect());
            Ok(node)
        };
        let facilitator = open(0).await?;
        let id = facilitator.create_workshop(new_workshop()).await?;
        let serving = facilitator.serve(loopback()).await?;
        let hub = serving.local_addr();
        let link = facilitator.invite(id).await?.link;
        let mut nodes = vec![facilitator];
        for i in 1..n {
            nodes.push(open(i).await?);
        }
        let joiners: Vec<usize> = (1..n).collect();
        for batch in joiners.chunks(JOIN_BATCH) {
            let joins = batch
                .iter()
                .map(|&i| nodes[i].join_by_link(&link, NAMES[i % NAMES.len()], COLOURS[i % COLOURS.len()]));
            for joined in futures::future::join_all(joins).await {
                joined?;
            }
        }
        let room = Room {
            id,
            prompt: first_prompt(&nodes[0], id).await?,
            nodes,
            hub,
            serving: vec![serving],
            threads,
        };
        room.wait_converged(SETUP_TIMEOUT).await?;
        Ok(room)
    }

    /// Each node's CPU time so far on its document threads: those it started when it opened
    /// that are named `samod-doc-*` (`crates/node/src/repo.rs`, `concurrency`). samod runs
    /// every step of a node's document actors there: applying changes, making sync messages,
    /// compacting. Steps run from a read or an edit, and everything else (network, Noise,
    /// storage writes, view events) run on the runtime's threads, which all nodes share.
    fn document_cpu(&self) -> Vec<Duration> {
        self.threads
            .iter()
            .map(|threads| {
                threads
                    .iter()
                    .filter_map(|&tid| thread_cpu(tid))
                    .filter(|(name, _)| name.starts_with("samod-doc"))
                    .map(|(_, cpu)| cpu)
                    .sum()
            })
            .collect()
    }

    /// Every joiner also serves, and connects to every joiner before it: with the links to the
    /// facilitator, each pair of nodes has exactly one connection.
    async fn make_mesh(&mut self) -> BoxResult<()> {
        let n = self.nodes.len();
        let mut addresses = vec![self.hub];
        for node in &self.nodes[1..] {
            let serving = node.serve(loopback()).await?;
            addresses.push(serving.local_addr());
            self.serving.push(serving);
        }
        for j in 2..n {
            for address in &addresses[1..j] {
                self.nodes[j].connect(self.id, *address).await?;
            }
        }
        let start = Instant::now();
        while self.nodes.iter().any(|node| node.peers(self.id).len() != n - 1) {
            if start.elapsed() > SETUP_TIMEOUT {
                return Err("the mesh did not come up".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    async fn wait_converged(&self, within: Duration) -> BoxResult<()> {
        let start = Instant::now();
        loop {
            let first = heads(&self.nodes[0], self.id).await?;
            let mut same = true;
            for node in &self.nodes[1..] {
                same &= heads(node, self.id).await? == first;
            }
            if same {
                return Ok(());
            }
            if start.elapsed() > within {
                return Err(format!("the room did not converge within {within:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops listening and closes every node (each waits for its pending writes). Nodes that
    /// take longer than `CLOSE_TIMEOUT` are left to the runtime's shutdown.
    async fn close(self) {
        drop(self.serving);
        let closing = futures::future::join_all(self.nodes.into_iter().map(Node::close));
        if tokio::time::timeout(CLOSE_TIMEOUT, closing).await.is_err() {
            eprintln!(
                "  some nodes took over {} to close; leaving them to the shutdown",
                secs(CLOSE_TIMEOUT)
            );
        }
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn new_workshop() -> NewWorkshop {
    NewWorkshop {
        title: "Living Well design team".to_owned(),
        purpose: "Design the service together.".to_owned(),
        facilitator_name: NAMES[0].to_owned(),
        facilitator_colour: COLOURS[0],
        ground_rules: None,
    }
}

/// A node's heads. Through `Node::heads`, which doesn't touch the document: reading them
/// through `with_service` locked the document, and every lock makes samod ask Automerge for a
/// sync message for each of the node's peers, so polling 30 nodes every 250 ms and after every
/// event loaded the facilitator's node (29 peers) with the benchmark's own work.
async fn heads(node: &Node, id: WorkshopId) -> BoxResult<Vec<ChangeHash>> {
    let mut heads = node.heads(id).await?;
    heads.sort();
    Ok(heads)
}

async fn first_prompt(node: &Node, id: WorkshopId) -> BoxResult<PromptId> {
    match node.dispatch(id, Command::GetSnapshot).await?.reply? {
        Reply::Snapshot(snapshot) => {
            Ok(snapshot.board.prompts.first().ok_or("the workshop has no prompt")?.id)
        }
        other => Err(format!("unexpected reply {other:?}").into()),
    }
}

/// Adds a note of about 40 characters, like one written in a workshop.
async fn add_note(
    node: &Node,
    id: WorkshopId,
    prompt: PromptId,
    k: usize,
    writer: usize,
) -> BoxResult<NoteId> {
    let command = Command::AddNote {
        prompt,
        text: format!("Idea {k:03} from laptop {writer:02}: more time to talk"),
        colour: COLOURS[writer % COLOURS.len()],
        x: (k % 20) as f64 * 50.0,
        y: (k / 20) as f64 * 40.0,
        private: false,
        anonymous: false,
    };
    match node.dispatch(id, command).await?.reply? {
        Reply::Created { id } => Ok(id.parse()?),
        other => Err(format!("unexpected reply {other:?}").into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Watching the nodes' event streams

/// What a node's event stream said.
enum Seen {
    Note(NoteId),
    /// Anything else, including "you fell behind" (the node still changed).
    Other,
}

/// Forwards every node's events, stamped with the time they were received, into one channel.
struct Watcher {
    rx: mpsc::UnboundedReceiver<(usize, Seen, Instant)>,
    tasks: Vec<JoinHandle<()>>,
}

impl Watcher {
    fn start(nodes: &[Node]) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let tasks = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let (mut events, tx) = (node.events(), tx.clone());
                tokio::spawn(async move {
                    loop {
                        let seen = match events.recv().await {
                            Ok(NodeEvent::View { event: Event::NoteUpserted { note }, .. }) => {
                                Seen::Note(note.id)
                            }
                            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => Seen::Other,
                            Err(broadcast::error::RecvError::Closed) => return,
                        };
                        if tx.send((i, seen, Instant::now())).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Watcher { rx, tasks }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Latency

/// One measured edit.
struct Sample {
    /// `dispatch` call to its return: the writer's own work and fsync.
    dispatch: Duration,
    /// From the first other node reporting the note to the last: with every node in one
    /// process, mostly the receivers' work queueing for the CPU.
    spread: Duration,
    /// From the acknowledgement to the last node reporting it (zero if before).
    all_from_ack: Duration,
    /// From the `dispatch` call to the last node reporting it: includes the writer's fsync.
    all_from_call: Duration,
    /// Every node had it before the writer's acknowledgement.
    early: bool,
}

struct LatencyRun {
    topology: &'static str,
    n: usize,
    samples: Vec<Sample>,
}

impl LatencyRun {
    fn new(topology: &'static str, n: usize, samples: Vec<Sample>) -> Self {
        LatencyRun { topology, n, samples }
    }

    fn stat(&self, f: impl Fn(&Sample) -> Duration) -> Stats {
        Stats::of(self.samples.iter().map(f).collect())
    }
}

async fn measure_latency(room: &Room, edits: usize) -> BoxResult<Vec<Sample>> {
    let n = room.nodes.len();
    let mut watcher = Watcher::start(&room.nodes);
    // Arrivals of a note read from the channel before its writer's `dispatch` returned its id.
    let mut ahead: HashMap<NoteId, Vec<(usize, Instant)>> = HashMap::new();
    let mut samples = Vec::with_capacity(edits);
    for k in 0..edits {
        let writer = k % n;
        let call = Instant::now();
        let note = add_note(&room.nodes[writer], room.id, room.prompt, k, writer).await?;
        let ack = Instant::now();
        let mut arrived: HashMap<usize, Instant> = HashMap::new();
        for (node, at) in ahead.remove(&note).unwrap_or_default() {
            arrived.entry(node).or_insert(at);
        }
        let deadline = tokio::time::Instant::now() + EDIT_TIMEOUT;
        while arrived.len() < n - 1 {
            match tokio::time::timeout_at(deadline, watcher.rx.recv()).await {
                Ok(Some((node, Seen::Note(seen), at))) if node != writer => {
                    if seen == note {
                        arrived.entry(node).or_insert(at);
                    } else {
                        ahead.entry(seen).or_default().push((node, at));
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err("the event streams ended".into()),
                Err(_) => {
                    let got = arrived.len();
                    return Err(
                        format!("edit {k} reached {got} of {} nodes in {EDIT_TIMEOUT:?}", n - 1).into()
                    );
                }
            }
        }
        let first = arrived.values().min().copied().unwrap_or(ack);
        let last = arrived.values().max().copied().unwrap_or(ack);
        samples.push(Sample {
            dispatch: ack - call,
            spread: last.saturating_duration_since(first),
            all_from_ack: last.saturating_duration_since(ack),
            all_from_call: last.saturating_duration_since(call),
            early: last < ack,
        });
        tokio::time::sleep(PAUSE).await;
    }
    Ok(samples)
}

// ---------------------------------------------------------------------------------------------
// 2. Convergence

struct Convergence {
    devices: usize,
    edits_each: usize,
    /// Wall time for every device's offline edits (all devices at once).
    offline_wall: Duration,
    /// Each offline `dispatch`.
    offline_dispatch: Stats,
    /// From the first reconnect to the last node reaching the merged heads, or to giving up.
    time: Duration,
    /// Whether every node got there before the timeout.
    converged: bool,
    /// When the facilitator's node got there, if it did.
    hub_at: Option<Duration>,
    /// Bytes through the proxies when the last node converged, and after `QUIET` more.
    bytes_at_converged: u64,
    bytes: Traffic,
    /// Bytes each joiner downloaded.
    per_joiner_down: Vec<u64>,
    /// When the last byte went through, from the first reconnect.
    last_byte: Duration,
    /// When each node reached the merged heads, from the first reconnect (index 0: the hub).
    converged_at: Vec<Duration>,
    /// CPU time the whole process used from the first reconnect to the last node converging.
    cpu: Duration,
    /// Meanwhile, each node's document work (index 0: the hub): the CPU time of the threads
    /// samod runs its document actors on, which are each node's own (see `Room::document_cpu`).
    document_cpu: Vec<Duration>,
    baseline: Baseline,
}

async fn measure_convergence(root: &Path, config: &Config) -> BoxResult<Convergence> {
    let (devices, edits_each) = (config.devices, config.offline_edits);
    let room = Room::build(root, "conv", devices).await?;
    let id = room.id;

    // Everyone goes offline: the joiners stop dialling the facilitator's laptop.
    for node in &room.nodes[1..] {
        node.disconnect(id, room.hub);
    }
    let start = Instant::now();
    while room.nodes.iter().any(|node| !node.peers(id).is_empty()) {
        if start.elapsed() > SETUP_TIMEOUT {
            return Err("the nodes did not disconnect".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Each device adds notes offline, all devices at the same time.
    let offline = Instant::now();
    let edits = room.nodes.iter().enumerate().map(|(writer, node)| async move {
        let mut times = Vec::with_capacity(edits_each);
        for k in 0..edits_each {
            let call = Instant::now();
            add_note(node, id, room.prompt, k, writer).await?;
            times.push(call.elapsed());
        }
        BoxResult::Ok(times)
    });
    let mut dispatch_times = Vec::new();
    for times in futures::future::join_all(edits).await {
        dispatch_times.extend(times?);
    }
    let offline_wall = offline.elapsed();

    // The same changes, for the baseline: each device's whole document as it is now.
    let mut saves = Vec::with_capacity(devices);
    for node in &room.nodes {
        saves.push(node.with_service(id, |s| s.workshop().save()).await?);
    }
    let baseline = tokio::task::spawn_blocking(move || baseline(&saves)).await??;
    let expected = baseline.heads.clone();

    // Reconnect every joiner to the facilitator's laptop, each through its own counting proxy.
    let clock = Instant::now();
    let mut proxies = Vec::with_capacity(devices - 1);
    for _ in 1..devices {
        proxies.push(Proxy::start(room.hub, clock).await?);
    }
    let mut watcher = Watcher::start(&room.nodes);
    let cpu_before = cpu_time();
    let doc_cpu_before = room.document_cpu();
    let t0 = Instant::now();
    for (node, proxy) in room.nodes[1..].iter().zip(&proxies) {
        node.connect(id, proxy.address).await?;
    }

    // A node is checked when its event stream shows it changed (a burst of notes arrived),
    // and every node not there yet at least every 250 ms.
    let n = room.nodes.len();
    let mut done: Vec<Option<Instant>> = vec![None; n];
    let mut dirty = vec![true; n];
    let mut sweep = Instant::now();
    let mut progress = Instant::now();
    while done.iter().any(Option::is_none) {
        while let Ok((node, _, _)) = watcher.rx.try_recv() {
            dirty[node] = true;
        }
        if sweep.elapsed() >= Duration::from_millis(250) {
            dirty.iter_mut().for_each(|d| *d = true);
            sweep = Instant::now();
        }
        for i in 0..n {
            if done[i].is_none()
                && std::mem::take(&mut dirty[i])
                && heads(&room.nodes[i], id).await? == expected
            {
                done[i] = Some(Instant::now());
            }
        }
        if progress.elapsed() >= PROGRESS {
            progress = Instant::now();
            let traffic = proxies.iter().fold(Traffic::default(), |sum, p| sum.plus(&p.counts.traffic()));
            let mut changes = Vec::with_capacity(n);
            for node in &room.nodes {
                changes.push(
                    node.with_service(id, |s| s.workshop().automerge().get_changes_meta(&[]).len()).await?,
                );
            }
            eprintln!(
                "  converging, {}: {} of {n} nodes there; {} up, {} down, ≈ {} messages; changes per node {:?} (want {})",
                secs(t0.elapsed()),
                done.iter().flatten().count(),
                kb(traffic.up),
                kb(traffic.down),
                traffic.sync_messages(),
                changes,
                baseline.changes,
            );
        }
        if t0.elapsed() > config.converge_timeout {
            break;
        }
        if let Ok(Some((node, _, _))) =
            tokio::time::timeout(Duration::from_millis(5), watcher.rx.recv()).await
        {
            dirty[node] = true;
        }
    }
    let converged = done.iter().all(Option::is_some);
    let hub_at = done[0].map(|at| at.saturating_duration_since(t0));
    let converged_at: Vec<Duration> =
        done.iter().flatten().map(|at| at.saturating_duration_since(t0)).collect();
    let time = if converged { converged_at.iter().copied().max().unwrap_or_default() } else { t0.elapsed() };
    let cpu = cpu_time().saturating_sub(cpu_before);
    let document_cpu: Vec<Duration> = room
        .document_cpu()
        .iter()
        .zip(&doc_cpu_before)
        .map(|(after, before)| after.saturating_sub(*before))
        .collect();
    let bytes_at_converged = proxies.iter().map(|p| p.counts.traffic().total()).sum();
    tokio::time::sleep(QUIET).await;
    drop(watcher);

    let traffic: Vec<Traffic> = proxies.iter().map(|p| p.counts.traffic()).collect();
    let last_byte = proxies
        .iter()
        .map(|p| Duration::from_nanos(p.counts.last_byte.load(Ordering::Relaxed)))
        .max()
        .unwrap_or_default()
        .saturating_sub(t0 - clock);
    let bytes = traffic.iter().fold(Traffic::default(), |sum, t| sum.plus(t));
    let per_joiner_down = traffic.iter().map(|t| t.down).collect();
    drop(proxies);
    room.close().await;

    Ok(Convergence {
        devices,
        edits_each,
        offline_wall,
        offline_dispatch: Stats::of(dispatch_times),
        time,
        converged,
        hub_at,
        bytes_at_converged,
        bytes,
        per_joiner_down,
        last_byte,
        converged_at,
        cpu,
        document_cpu,
        baseline,
    })
}

/// Raw Automerge: the devices' documents synced in memory with `automerge::sync`, in the same
/// star (every document with document 0), each message encoded and decoded as on a wire.
struct Baseline {
    time: Duration,
    /// CPU time of the process meanwhile (the baseline runs alone, on one thread).
    cpu: Duration,
    /// The facilitator's document's own time plus the slowest other document's: about the
    /// wall time if each device had its own CPU.
    parallel: Duration,
    bytes: u64,
    messages: u64,
    /// Passes over all the links until none had anything to send.
    rounds: usize,
    /// `save()` of the merged document: the compressed changes.
    compressed: usize,
    save_time: Duration,
    /// The changes' own encoding, summed (for scale).
    raw_changes: usize,
    changes: usize,
    heads: Vec<ChangeHash>,
    /// A lower-bound estimate of the work any sync on Automerge does for the room.
    floor: Floor,
}

/// A lower-bound estimate of what any sync on Automerge 0.12 has to do for the room, by this
/// model: someone applies every other device's changes to one document (the merge), and each
/// of the other N − 1 devices then takes in the merged document the cheaper of the two ways
/// Automerge has: loading it, or applying the changes it lacks (about as many as the merge
/// applies). Each part is measured here, best of several tries and ways; the work is assumed
/// spread perfectly over the machine's cores, and everything else a real node does (network,
/// encryption, storage, messages, view events) is left out.
struct Floor {
    /// Applying the other devices' changes to the facilitator's offline document: the best of
    /// two tries each of one batch and of one batch per device.
    merge: Duration,
    /// Loading the merged document: the best of three tries each of `Automerge::load` and of
    /// a load that doesn't check the heads.
    load: Duration,
}

impl Floor {
    const TRIES: usize = 2;
    const LOAD_TRIES: usize = 3;

    /// `merged` is the merged document, and `heads` its heads, sorted.
    fn measure(saves: &[Vec<u8>], merged: &Automerge, heads: &[ChangeHash]) -> BoxResult<Floor> {
        let hub_heads = Automerge::load(&saves[0])?.get_heads();
        let mut per_device = Vec::with_capacity(saves.len());
        for save in &saves[1..] {
            let ours = Automerge::load(save)?.get_changes(&hub_heads);
            per_device.push(ours);
        }
        let mut merge = Duration::MAX;
        for _ in 0..Self::TRIES {
            for batches in [vec![per_device.concat()], per_device.clone()] {
                let mut hub = Automerge::load(&saves[0])?;
                let start = Instant::now();
                for batch in batches {
                    hub.apply_changes(batch)?;
                }
                merge = merge.min(start.elapsed());
                if sorted_heads(&hub) != heads {
                    return Err("the floor's merge did not reach the merged heads".into());
                }
            }
        }
        let saved = merged.save();
        let mut load = Duration::MAX;
        for _ in 0..Self::LOAD_TRIES {
            for check in [true, false] {
                let start = Instant::now();
                let doc = if check {
                    Automerge::load(&saved)?
                } else {
                    Automerge::load_with_options(
                        &saved,
                        automerge::LoadOptions::new()
                            .verification_mode(automerge::VerificationMode::DontCheck),
                    )?
                };
                load = load.min(start.elapsed());
                drop(doc);
            }
        }
        Ok(Floor { merge, load })
    }

    /// How one of the other devices takes in the merged document: the cheaper way.
    fn take_in(&self) -> Duration {
        self.load.min(self.merge)
    }

    /// CPU time for a room of `devices`: one merge, N − 1 take-ins.
    fn cpu(&self, devices: usize) -> Duration {
        self.merge + self.take_in() * devices.saturating_sub(1) as u32
    }

    /// Wall time on `cores` CPUs: the work spread perfectly over them, but never less than the
    /// merge, which one device does alone.
    fn wall(&self, devices: usize, cores: usize) -> Duration {
        (self.cpu(devices) / cores.max(1) as u32).max(self.merge)
    }
}

/// A document's heads, sorted (Automerge's order depends on how the changes arrived).
fn sorted_heads(doc: &Automerge) -> Vec<ChangeHash> {
    let mut heads = doc.get_heads();
    heads.sort();
    heads
}

fn baseline(saves: &[Vec<u8>]) -> BoxResult<Baseline> {
    let mut docs = saves.iter().map(|bytes| Automerge::load(bytes)).collect::<Result<Vec<_>, _>>()?;
    let n = docs.len();
    let mut hub_states: Vec<State> = (0..n).map(|_| State::new()).collect();
    let mut spoke_states: Vec<State> = (0..n).map(|_| State::new()).collect();
    let (mut bytes, mut messages, mut rounds) = (0u64, 0u64, 0usize);
    // Time each document spends on its own side of the protocol (making and encoding its
    // messages, decoding and applying the other's).
    let mut busy = vec![Duration::ZERO; n];
    let cpu_before = cpu_time();
    let start = Instant::now();
    loop {
        rounds += 1;
        let mut quiet = true;
        for i in 1..n {
            let (hub, spokes) = docs.split_at_mut(1);
            let (hub, spoke) = (&mut hub[0], &mut spokes[i - 1]);
            let t = Instant::now();
            if let Some(message) = hub.generate_sync_message(&mut hub_states[i]) {
                let wire = message.encode();
                busy[0] += t.elapsed();
                (bytes, messages, quiet) = (bytes + wire.len() as u64, messages + 1, false);
                let t = Instant::now();
                spoke.receive_sync_message(&mut spoke_states[i], Message::decode(&wire)?)?;
                busy[i] += t.elapsed();
            } else {
                busy[0] += t.elapsed();
            }
            let t = Instant::now();
            if let Some(message) = spoke.generate_sync_message(&mut spoke_states[i]) {
                let wire = message.encode();
                busy[i] += t.elapsed();
                (bytes, messages, quiet) = (bytes + wire.len() as u64, messages + 1, false);
                let t = Instant::now();
                hub.receive_sync_message(&mut hub_states[i], Message::decode(&wire)?)?;
                busy[0] += t.elapsed();
            } else {
                busy[i] += t.elapsed();
            }
        }
        if quiet {
            break;
        }
    }
    let time = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let parallel = busy[0] + busy[1..].iter().copied().max().unwrap_or_default();
    let heads = sorted_heads(&docs[0]);
    for doc in &docs[1..] {
        if sorted_heads(doc) != heads {
            return Err("the in-memory baseline did not converge".into());
        }
    }
    let save_start = Instant::now();
    let compressed = docs[0].save().len();
    let save_time = save_start.elapsed();
    let all = docs[0].get_changes(&[]);
    let raw_changes = all.iter().map(|c| c.raw_bytes().len()).sum();
    let floor = Floor::measure(saves, &docs[0], &heads)?;
    Ok(Baseline {
        time,
        cpu,
        parallel,
        bytes,
        messages,
        rounds,
        compressed,
        save_time,
        raw_changes,
        changes: all.len(),
        heads,
        floor,
    })
}

// ---------------------------------------------------------------------------------------------
// The counting proxy

/// Bytes and messages one way and the other.
#[derive(Debug, Default, Clone, Copy)]
struct Traffic {
    /// Joiner to facilitator.
    up: u64,
    /// Facilitator to joiner.
    down: u64,
    /// Complete channel messages (Noise handshake and hello included), counted from the
    /// cleartext frame headers.
    up_messages: u64,
    down_messages: u64,
    connections: u64,
}

impl Traffic {
    fn total(&self) -> u64 {
        self.up + self.down
    }

    fn plus(self, other: &Traffic) -> Traffic {
        Traffic {
            up: self.up + other.up,
            down: self.down + other.down,
            up_messages: self.up_messages + other.up_messages,
            down_messages: self.down_messages + other.down_messages,
            connections: self.connections + other.connections,
        }
    }

    /// Messages other than the Noise handshake (2 up, 1 down) and the hellos (1 each way).
    fn sync_messages(&self) -> u64 {
        (self.up_messages + self.down_messages).saturating_sub(5 * self.connections)
    }
}

#[derive(Default)]
struct Counts {
    up: AtomicU64,
    down: AtomicU64,
    up_messages: AtomicU64,
    down_messages: AtomicU64,
    connections: AtomicU64,
    /// Nanoseconds from the proxy clock to the latest byte.
    last_byte: AtomicU64,
}

impl Counts {
    fn traffic(&self) -> Traffic {
        Traffic {
            up: self.up.load(Ordering::Relaxed),
            down: self.down.load(Ordering::Relaxed),
            up_messages: self.up_messages.load(Ordering::Relaxed),
            down_messages: self.down_messages.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
        }
    }
}

/// A TCP proxy in front of a node's listener that counts what passes through it.
struct Proxy {
    address: SocketAddr,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr, clock: Instant) -> BoxResult<Proxy> {
        let listener = TcpListener::bind(loopback()).await?;
        let address = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        let task = tokio::spawn(async move {
            // Dropped (so every pipe aborted) when the proxy is.
            let mut pipes = JoinSet::new();
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(target).await else { continue };
                // As the node does: no Nagle delay on either leg.
                let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
                shared.connections.fetch_add(1, Ordering::Relaxed);
                let ((in_read, in_write), (out_read, out_write)) =
                    (inbound.into_split(), outbound.into_split());
                pipes.spawn(pipe(in_read, out_write, shared.clone(), true, clock));
                pipes.spawn(pipe(out_read, in_write, shared.clone(), false, clock));
                while pipes.try_join_next().is_some() {}
            }
        });
        Ok(Proxy { address, counts, task })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    counts: Arc<Counts>,
    up: bool,
    clock: Instant,
) {
    // The dialer's first bytes are the cleartext sync preamble; then both ways are frames.
    let mut frames = FrameCounter::new(if up { SYNC_PREAMBLE_LEN } else { 0 });
    let (bytes, messages) =
        if up { (&counts.up, &counts.up_messages) } else { (&counts.down, &counts.down_messages) };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        bytes.fetch_add(n as u64, Ordering::Relaxed);
        messages.fetch_add(frames.feed(&buf[..n]), Ordering::Relaxed);
        let now = u64::try_from(clock.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counts.last_byte.fetch_max(now, Ordering::Relaxed);
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Follows the `u16`-length Noise frames in a byte stream. A message is cut into full frames
/// and ends with a short one, so short frames count messages.
struct FrameCounter {
    skip: usize,
    header: [u8; FRAME_HEADER_LEN],
    have: usize,
    remaining: usize,
}

impl FrameCounter {
    fn new(skip: usize) -> Self {
        FrameCounter { skip, header: [0; FRAME_HEADER_LEN], have: 0, remaining: 0 }
    }

    /// Takes the next bytes; returns how many messages ended in them.
    fn feed(&mut self, mut data: &[u8]) -> u64 {
        let mut ended = 0;
        while !data.is_empty() {
            if self.skip > 0 || self.remaining > 0 {
                let pending = if self.skip > 0 { &mut self.skip } else { &mut self.remaining };
                let take = (*pending).min(data.len());
                *pending -= take;
                data = &data[take..];
                continue;
            }
            self.header[self.have] = data[0];
            self.have += 1;
            data = &data[1..];
            if self.have == FRAME_HEADER_LEN {
                self.have = 0;
                self.remaining = usize::from(u16::from_be_bytes(self.header));
                if self.remaining < MAX_FRAME_LEN {
                    ended += 1;
                }
            }
        }
        ended
    }
}

// ---------------------------------------------------------------------------------------------
// The machine

/// What the node's acknowledgement costs on this disk: write a temporary file, fsync, rename,
/// fsync the folder (as the node's storage does for each chunk).
fn fsync_probe(dir: &Path) -> std::io::Result<Stats> {
    std::fs::create_dir_all(dir)?;
    let folder = File::open(dir)?;
    let mut times = Vec::with_capacity(FSYNC_ROUNDS);
    for round in 0..FSYNC_ROUNDS {
        let start = Instant::now();
        let temp = dir.join(format!("{round}.tmp"));
        let mut file = File::create(&temp)?;
        file.write_all(&[7; 300])?;
        file.sync_all()?;
        std::fs::rename(&temp, dir.join(round.to_string()))?;
        folder.sync_all()?;
        times.push(start.elapsed());
    }
    std::fs::remove_dir_all(dir)?;
    Ok(Stats::of(times))
}

/// CPU time this process has used (user + system), from `/proc/self/stat` (Linux; zero
/// elsewhere).
fn cpu_time() -> Duration {
    read_stat("/proc/self/stat").map_or(Duration::ZERO, |(_, cpu)| cpu)
}

/// The name and CPU time (user + system) in a `/proc` `stat` file, of a process or a thread.
/// Clock ticks are taken as the usual 100 per second.
fn read_stat(path: &str) -> Option<(String, Duration)> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The name (field 2, in brackets) may hold spaces; the fields after its closing bracket don't.
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Some((name, Duration::from_millis((ticks(11) + ticks(12)) * 10)))
}

/// This process's threads (Linux; none elsewhere).
fn thread_ids() -> BTreeSet<u32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return BTreeSet::new() };
    tasks.flatten().filter_map(|task| task.file_name().to_str()?.parse().ok()).collect()
}

/// One thread's name and CPU time (user + system).
fn thread_cpu(tid: u32) -> Option<(String, Duration)> {
    read_stat(&format!("/proc/self/task/{tid}/stat"))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report

#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    /// Nearest-rank percentiles.
    fn of(mut values: Vec<Duration>) -> Stats {
        if values.is_empty() {
            return Stats::default();
        }
        values.sort();
        let rank = |p: f64| values[((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Stats { p50: rank(0.50), p99: rank(0.99), max: values[values.len() - 1] }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1e3)
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

/// This machine's CPUs, as the standard library sees them (1 if it can't tell).
fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn print_header(config: &Config, fsync: &Stats) {
    let cores = cores();
    println!();
    println!("## Sync benchmark{}", if config.quick { " (quick: SYNC_BENCH_QUICK)" } else { "" });
    println!();
    println!(
        "{cores} cores; load average {} at the start (the machine may be shared). All nodes in one \
         process (one tokio runtime, {cores} worker threads) on 127.0.0.1, each with its own data \
         folder; real TCP + Noise + samod + fsync.",
        load_average()
    );
    println!(
        "fsync probe (300 B: write temp, fsync, rename, fsync folder; {FSYNC_ROUNDS}×): p50 {}, p99 {}.",
        ms(fsync.p50),
        ms(fsync.p99)
    );
}

fn print_latency(config: &Config, latency: &[LatencyRun]) {
    println!();
    println!(
        "### Edit → applied on every other node ({} new notes per row, one at a time, round-robin over \
         the nodes, {} apart)",
        config.edits,
        ms(PAUSE)
    );
    println!();
    println!(
        "| topology | N | dispatch→ack p50 / p99 (writer, incl. fsync) | call→all p50 | call→all p99 | \
         call→all max | ack→all p50 / p99 | first→last node p50 | reached all before ack | target: p99 < {} \
         at {TARGET_P99_AT} |",
        ms(TARGET_P99)
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|");
    for run in latency {
        let dispatch = run.stat(|s| s.dispatch);
        let all = run.stat(|s| s.all_from_call);
        let from_ack = run.stat(|s| s.all_from_ack);
        let target = if run.n == TARGET_P99_AT {
            verdict(all.p99 < TARGET_P99).to_owned()
        } else {
            format!("({})", verdict(all.p99 < TARGET_P99))
        };
        println!(
            "| {} | {} | {} / {} | {} | {} | {} | {} / {} | {} | {}/{} | {} |",
            run.topology,
            run.n,
            ms(dispatch.p50),
            ms(dispatch.p99),
            ms(all.p50),
            ms(all.p99),
            ms(all.max),
            ms(from_ack.p50),
            ms(from_ack.p99),
            ms(run.stat(|s| s.spread).p50),
            run.samples.iter().filter(|s| s.early).count(),
            run.samples.len(),
            target,
        );
    }
    println!();
    println!(
        "\"applied\" = the node's event stream reported the note (`NodeEvent::View(NoteUpserted)`). \
         call→all: from the writer calling `dispatch` to the last other node applying the note, so it \
         includes the writer's own work and fsync; ack→all: from `dispatch` returning (0 when every \
         node had it first: samod sends the change before the fsync completes); first→last node: how \
         far apart the first and the last receiver applied it (all nodes share this machine's CPUs, so \
         receivers queue behind each other). The target is judged on call→all p99; in brackets, for \
         information, rooms the issue sets no target for."
    );
}

fn print_convergence(c: &Convergence) {
    let b = &c.baseline;
    let n = c.devices as u64;
    // Every device must receive everything except its own share: at least (N − 1) × C in all,
    // over any topology. So "≤ 2× the compressed changes" is checked per device.
    let floor = (n - 1) * b.compressed as u64;
    let ours_ratio = c.bytes.total() as f64 / floor as f64;
    let raw_ratio = b.bytes as f64 / floor as f64;
    let mut down = c.per_joiner_down.clone();
    down.sort_unstable();
    let median_down = down.get(down.len() / 2).copied().unwrap_or(0);
    let max_down = down.last().copied().unwrap_or(0);
    let mut at = c.converged_at.clone();
    at.sort();
    let time = if c.converged {
        secs(c.time)
    } else {
        format!("not converged after {} ({} of {} nodes)", secs(c.time), at.len(), c.devices)
    };
    // Bytes are only comparable once everyone has everything.
    let ratio =
        if c.converged { format!("{ours_ratio:.2}×") } else { format!("≥ {ours_ratio:.2}× so far") };

    println!();
    println!(
        "### {} devices × {} offline notes → identical heads (star through the facilitator's node)",
        c.devices, c.edits_each
    );
    println!();
    println!("| | time | bytes | messages | bytes ÷ ((N−1)·C) |");
    println!("|---|--:|--:|--:|--:|");
    println!(
        "| Common Ground nodes (TCP + Noise + samod, loopback, through counting proxies) | {time} | {} (up {}, \
         down {}) | ≈ {} | {ratio} |",
        kb(c.bytes.total()),
        kb(c.bytes.up),
        kb(c.bytes.down),
        c.bytes.sync_messages(),
    );
    println!(
        "| raw automerge sync in memory, same changes, same star ({} rounds, one thread; ≈ {} if each \
         device had its own CPU) | {} | {} | {} | {raw_ratio:.2}× |",
        b.rounds,
        secs(b.parallel),
        secs(b.time),
        kb(b.bytes),
        b.messages,
    );
    let mut spokes = c.document_cpu.get(1..).unwrap_or_default().to_vec();
    spokes.sort();
    let hub_work = c.document_cpu.first().copied().unwrap_or_default();
    let slowest = spokes.last().copied().unwrap_or_default();
    let document_total: Duration = c.document_cpu.iter().sum();
    println!(
        "| … the same run, per device: the facilitator's document work + the slowest other's (CPU on \
         each node's own document threads: facilitator's {}, others median {}, max {}), as estimated \
         for raw automerge above | ≈ {} | | | |",
        secs(hub_work),
        spokes.get(spokes.len() / 2).map_or_else(|| "—".to_owned(), |d| secs(*d)),
        secs(slowest),
        secs(hub_work + slowest),
    );
    println!(
        "| compressed changes C = `save()` of the merged document ({} changes; {} as single changes) | \
         save {} | {} | | |",
        b.changes,
        kb(b.raw_changes as u64),
        ms(b.save_time),
        kb(b.compressed as u64),
    );
    let cores = cores();
    let floor = &b.floor;
    let floor_wall = floor.wall(c.devices, cores);
    println!(
        "| lower-bound estimate for any sync on Automerge 0.12 here: one merge of the others' changes ({}), \
         then each of the {} others takes in the merged document the cheaper way (a load, {}; or applying \
         what it lacks, about one merge), {} of CPU spread perfectly over this machine's {cores} cores; \
         nothing else a node does counted | {} | | | |",
        secs(floor.merge),
        c.devices - 1,
        ms(floor.load),
        secs(floor.cpu(c.devices)),
        secs(floor_wall),
    );
    println!(
        "| ours ÷ raw | {}{:.1}× | {:.2}× | | |",
        if c.converged { "" } else { "> " },
        c.time.as_secs_f64() / b.time.as_secs_f64().max(1e-9),
        c.bytes.total() as f64 / (b.bytes as f64).max(1.0),
    );
    println!();
    println!(
        "Targets: convergence < {}: **{}** ({time}, all {} nodes sharing this machine{}; per device, \
         estimated from each node's document work as for raw automerge: ≈ {}, raw ≈ {}). Bytes ≤ {TARGET_BYTES}× the compressed changes, per \
         device (total ÷ ((N−1)·C): each of the N devices must receive the other N−1 devices' share, \
         so no topology moves less than (N−1)·C): **{}** ({ratio}; total ÷ C alone is {:.1}×).",
        secs(TARGET_CONVERGE),
        verdict(c.converged && c.time < TARGET_CONVERGE),
        c.devices,
        if floor_wall >= TARGET_CONVERGE {
            format!(
                ", whose {cores} cores need ≈ {} for any sync on Automerge 0.12 even by the lower-bound estimate above",
                secs(floor_wall)
            )
        } else {
            String::new()
        },
        secs(hub_work + slowest),
        secs(b.parallel),
        verdict(c.converged && ours_ratio <= TARGET_BYTES),
        c.bytes.total() as f64 / b.compressed as f64,
    );
    println!();
    println!(
        "Detail: bytes when the last node converged (or at the timeout) {}; after {} idle {} over {} \
         connections for {} joiners (more means connections dropped and were redialled); channel \
         messages up {}, down {} (Noise handshakes and hellos included); last byte at {}. CPU used by the \
         process meanwhile {} (raw baseline: {}), of which the nodes' document threads {} and the \
         threads all nodes share (network, Noise, storage writes, view events, steps run from reads) \
         {}. Each joiner downloaded median {}, max {} (C = {}). \
         Nodes at the merged heads, from the first reconnect: facilitator's {}, first {}, median {}, \
         last {}. Offline phase: {} dispatches in {} (all devices at once), dispatch p50 {}, p99 {}.",
        kb(c.bytes_at_converged),
        secs(QUIET),
        kb(c.bytes.total()),
        c.bytes.connections,
        c.devices - 1,
        c.bytes.up_messages,
        c.bytes.down_messages,
        secs(c.last_byte),
        secs(c.cpu),
        secs(b.cpu),
        secs(document_total),
        secs(c.cpu.saturating_sub(document_total)),
        kb(median_down),
        kb(max_down),
        kb(b.compressed as u64),
        c.hub_at.map_or_else(|| "never".to_owned(), secs),
        at.first().map_or_else(|| "—".to_owned(), |d| secs(*d)),
        at.get(at.len() / 2).map_or_else(|| "—".to_owned(), |d| secs(*d)),
        at.last().map_or_else(|| "—".to_owned(), |d| secs(*d)),
        c.devices * c.edits_each,
        secs(c.offline_wall),
        ms(c.offline_dispatch.p50),
        ms(c.offline_dispatch.p99),
    );
}
