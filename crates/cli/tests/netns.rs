//! A room of laptops on a real local network: `commonground` processes in Linux network
//! namespaces joined by a bridge (PLATFORM.md, "Local network"), finding each other and
//! sharing a workshop with no addresses typed in. Root only; skipped (and passing, with a
//! message) elsewhere.
//!
//! One run, phase by phase, on one workshop (its notes accumulate; every phase checks that all
//! of them are everywhere):
//!
//! - (a) mDNS alone (beacon off): the laptops find each other and converge;
//! - (b) multicast not forwarded by the bridge: the broadcast beacon alone finds them;
//! - (c) client isolation on every port but the facilitator's: star mode through it;
//! - (d) a laptop's link cut mid-edit and restored: everything converges, nothing lost;
//! - (e) an uninvited laptop on the same network hears every announcement of (a) and (b) and
//!   finds no title, name, host name, key or workshop id in any byte; it can't join, sync or
//!   read anything;
//! - (f) the facilitator removes a participant (`remove-participant`) while that laptop is
//!   away: the others move to a new key and go on syncing; nothing crosses either way after;
//!   then removes another while connected (`remove_participant` through `serve --exec`).
//!
//! Everything lives in namespaces this test creates, named `cgt<pid>-<n>-…`, with addresses
//! only in 10.200.0.0/24 inside them; the host's own interfaces are never touched. Each
//! laptop also gets a UTS namespace with a host name of its own ("ottolines-laptop"), so a
//! host name leaking into announcements would be caught. A guard kills every process the
//! test started and deletes every namespace, also when the test fails; namespaces left by a
//! run that was killed outright are deleted by the next run.
//!
//! Edits go through `serve --exec`: `exec` can't open a data folder while `serve` has it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_commonground");
/// The longest any one thing may take before the test gives up (discovery ~1 s, convergence
/// well under a second, reconnecting after a cut up to the 5 s dial backoff, measured here).
const PATIENCE: Duration = Duration::from_secs(30);
/// Where every node listens (each namespace has its own network stack).
const PORT: u16 = 41235;

// The distinctive strings that must never appear on the network in the clear.
const TITLE: &str = "Marigold Tapestry Quorum";
const FACILITATOR: &str = "Ottoline";
const BEN: &str = "Bartholomew";
const CLEO: &str = "Clementine";
const OBSERVER_TITLE: &str = "Periwinkle Lookout";
const OBSERVER: &str = "Evangeline";

// ---------------------------------------------------------------------------------------
// The lab: namespaces, processes and their logs, torn down by Drop.
// ---------------------------------------------------------------------------------------

/// Children started by the test, killed (and reaped) by the lab's Drop if still running.
type Children = Arc<Mutex<Vec<Child>>>;
/// Every line any process wrote on stderr, by laptop, shown if the test fails.
type Logs = Arc<Mutex<Vec<(String, String)>>>;

struct Lab {
    hub: String,
    /// Namespaces created, to delete (the hub last).
    spaces: Vec<String>,
    children: Children,
    logs: Logs,
    dir: tempfile::TempDir,
}

#[derive(Clone)]
struct Laptop {
    name: &'static str,
    /// Its host name (each laptop runs in a UTS namespace of its own too): a person's name,
    /// as laptops are often called, so that a leak would show.
    host: String,
    ns: String,
    /// Its port on the bridge (in the hub namespace).
    port: String,
    ip: String,
    data: PathBuf,
}

impl Laptop {
    fn address(&self) -> String {
        format!("{}:{PORT}", self.ip)
    }
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

#[track_caller]
fn must(program: &str, args: &[&str]) {
    if let Err(e) = run(program, args) {
        panic!("{e}");
    }
}

/// Why this machine can't run the test, if it can't.
fn unavailable() -> Option<String> {
    let uid = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_owned())
    });
    if uid.as_deref() != Some("0") {
        return Some("it needs root (network namespaces)".to_owned());
    }
    for (program, args, from) in [
        ("ip", &["netns", "list"][..], "iproute2"),
        ("bridge", &["-V"][..], "iproute2"),
        ("unshare", &["--version"][..], "util-linux"),
    ] {
        if let Err(e) = run(program, args) {
            return Some(format!("'{program}' ({from}) isn't usable here: {e}"));
        }
    }
    None
}

impl Lab {
    /// A hub namespace with a bridge, and one namespace per laptop on it, at 10.200.0.<i>.
    /// `Err` if namespaces can't be made here at all (the test is then skipped).
    fn new(names: &[&'static str], hosts: &[&str]) -> Result<(Self, Vec<Laptop>), String> {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        remove_leftovers();
        let tag = format!("cgt{}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed));
        let hub = format!("{tag}-hub");
        let mut lab = Lab {
            hub: hub.clone(),
            spaces: Vec::new(),
            children: Arc::default(),
            logs: Arc::default(),
            dir: tempfile::tempdir().map_err(|e| e.to_string())?,
        };
        // The first namespace tells whether this machine allows them at all.
        run("ip", &["netns", "add", &hub])?;
        lab.spaces.push(hub.clone());
        must("ip", &["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        must("ip", &["-n", &hub, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0"]);
        must("ip", &["-n", &hub, "link", "set", "lo", "up"]);
        must("ip", &["-n", &hub, "link", "set", "br0", "up"]);
        let mut laptops = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let n = i + 1;
            let ns = format!("{tag}-{name}");
            must("ip", &["netns", "add", &ns]);
            lab.spaces.insert(0, ns.clone());
            let port = format!("v{n}");
            // Both ends are made inside our namespaces: nothing appears on the host, even briefly.
            must(
                "ip",
                &["-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns],
            );
            must("ip", &["-n", &hub, "link", "set", &port, "master", "br0", "up"]);
            must("ip", &["-n", &ns, "link", "set", "lo", "up"]);
            let ip = format!("10.200.0.{n}");
            must("ip", &["-n", &ns, "addr", "add", &format!("{ip}/24"), "brd", "+", "dev", "eth0"]);
            must("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
            let data = lab.dir.path().join(name);
            let host = format!("{}s-laptop", hosts[i]);
            laptops.push(Laptop { name, host, ns, port, ip, data });
        }
        Ok((lab, laptops))
    }

    fn bridge_port(&self, laptop: &Laptop, setting: &str, value: &str) {
        must("bridge", &["-n", &self.hub, "link", "set", "dev", &laptop.port, setting, value]);
    }

    /// Brings a laptop's cable (its port on the bridge) down or up.
    fn link(&self, laptop: &Laptop, up: bool) {
        must("ip", &["-n", &self.hub, "link", "set", &laptop.port, if up { "up" } else { "down" }]);
    }

    /// `commonground` on a laptop: in its network namespace, and in a UTS namespace of its
    /// own with its host name.
    fn command(laptop: &Laptop, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &laptop.ns, "unshare", "--uts", "--", "sh", "-c"])
            .arg(r#"echo "$0" > /proc/sys/kernel/hostname && exec "$@""#)
            .args([&laptop.host, BIN, "--data"])
            .arg(&laptop.data)
            .args(args);
        command
    }

    /// Runs `commonground` on a laptop and waits for it.
    fn cg(&self, laptop: &Laptop, args: &[&str]) -> Output {
        let out = Self::command(laptop, args).stdin(Stdio::null()).output().expect("ip netns exec runs");
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            self.logs.lock().unwrap().push((laptop.name.to_owned(), line.to_owned()));
        }
        out
    }

    /// Starts `commonground` on a laptop in the background.
    fn start(&self, laptop: &Laptop, args: &[&str]) -> Process {
        self.spawn(laptop.name, Self::command(laptop, args))
    }

    fn spawn(&self, who: &str, mut command: Command) -> Process {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("a process starts");
        let stdin = child.stdin.take();
        let stdout = lines(child.stdout.take().unwrap(), None);
        let stderr = lines(child.stderr.take().unwrap(), Some((who.to_owned(), self.logs.clone())));
        let pid = child.id();
        self.children.lock().unwrap().push(child);
        Process {
            who: who.to_owned(),
            pid,
            children: self.children.clone(),
            stdin,
            stdout,
            stderr,
            seen: Vec::new(),
            started: Instant::now(),
            prompt: None,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
            eprintln!("---- the last log lines of every laptop ----");
            let mut by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (who, line) in logs.iter() {
                by.entry(who).or_default().push(line);
            }
            for (who, lines) in by {
                for line in &lines[lines.len().saturating_sub(60)..] {
                    eprintln!("[{who}] {line}");
                }
            }
        }
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        for child in children.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        children.clear();
        teardown(&self.spaces);
    }
}

/// Kills whatever still runs in these namespaces, then deletes them.
fn teardown(spaces: &[String]) {
    for ns in spaces {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
    }
    for ns in spaces {
        let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
    }
}

/// Deletes namespaces left by runs of this test that were killed before they could clean up
/// (their process is gone). Only names this test makes: `cgt<pid>-…`.
fn remove_leftovers() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else { return };
    let mut stale = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix("cgt") else { continue };
        let Some((pid, _)) = rest.split_once('-') else { continue };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            stale.push(name.to_owned());
        }
    }
    // Laptops before their hub, as a run deletes them.
    stale.sort_by_key(|n| n.ends_with("-hub"));
    teardown(&stale);
}

/// A pipe's lines, arriving on a channel; stderr lines are also kept in the logs.
fn lines(pipe: impl std::io::Read + Send + 'static, log: Option<(String, Logs)>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some((who, logs)) = &log {
                logs.lock().unwrap().push((who.clone(), line.clone()));
            }
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

// ---------------------------------------------------------------------------------------
// A running process: `serve --exec` (commands in, JSON replies out) or `invite`.
// ---------------------------------------------------------------------------------------

struct Process {
    who: String,
    pid: u32,
    children: Children,
    stdin: Option<ChildStdin>,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// stderr lines read so far, with when they were read (from the start).
    seen: Vec<(String, Duration)>,
    started: Instant,
    /// The board's first prompt, once looked up.
    prompt: Option<String>,
}

impl Process {
    /// Sends one command line and returns its one JSON answer.
    #[track_caller]
    fn ask(&mut self, command: &Value) -> Value {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{command}").and_then(|()| stdin.flush()).expect("the command is sent");
        let line = self
            .stdout
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("{}: no answer to {command} within {PATIENCE:?}", self.who));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.who))
    }

    /// The next stdout line (for `invite`).
    #[track_caller]
    fn stdout_line(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.stdout.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) if want(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!("{}: no {what} within {PATIENCE:?}", self.who),
            }
        }
    }

    /// Reads stderr until a line satisfies `want` (or finds one already read); returns when
    /// it was read, from the process's start.
    #[track_caller]
    fn wait_log(&mut self, what: &str, want: impl Fn(&str) -> bool) -> Duration {
        if let Some((_, at)) = self.seen.iter().find(|(l, _)| want(l)) {
            return *at;
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.stderr.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let at = self.started.elapsed();
                    let wanted = want(&line);
                    self.seen.push((line, at));
                    if wanted {
                        return at;
                    }
                }
                Err(_) => panic!("{}: no {what} within {PATIENCE:?}", self.who),
            }
        }
    }

    /// Every stderr line so far.
    fn log(&mut self) -> Vec<String> {
        while let Ok(line) = self.stderr.try_recv() {
            self.seen.push((line, self.started.elapsed()));
        }
        self.seen.iter().map(|(l, _)| l.clone()).collect()
    }

    /// Forgets the stderr lines read so far (so later waits see only what comes next).
    fn forget_log(&mut self) {
        self.log();
        self.seen.clear();
    }

    fn snapshot(&mut self) -> Value {
        let snap = self.ask(&json!({"type": "get_snapshot"}));
        assert_eq!(snap["type"], "snapshot", "{}: {snap}", self.who);
        snap
    }

    /// Adds a public note with this text; returns its id.
    #[track_caller]
    fn add_note(&mut self, text: &str) -> String {
        let reply = self.try_add_note(text);
        assert_eq!(reply["type"], "created", "{}: adding {text:?}: {reply}", self.who);
        reply["id"].as_str().unwrap().to_owned()
    }

    /// Asks to add a public note with this text; returns the answer.
    #[track_caller]
    fn try_add_note(&mut self, text: &str) -> Value {
        if self.prompt.is_none() {
            let snap = self.snapshot();
            self.prompt = Some(snap["board"]["prompts"][0]["id"].as_str().expect("a prompt").to_owned());
        }
        self.ask(&json!({
            "type": "add_note", "prompt": self.prompt, "text": text, "colour": "sun",
            "x": 0.0, "y": 0.0, "private": false, "anonymous": false,
        }))
    }

    /// Stops it as Ctrl-C would, and checks it stopped cleanly.
    #[track_caller]
    fn interrupt(mut self) {
        self.stdin.take();
        must("kill", &["-INT", &self.pid.to_string()]);
        self.finished();
    }

    /// Waits for it to end by itself (the observer, or after Ctrl-C) and checks it ended well.
    #[track_caller]
    fn finished(self) {
        let mut child = {
            let mut children = self.children.lock().unwrap();
            let index = children.iter().position(|c| c.id() == self.pid).expect("still registered");
            children.remove(index)
        };
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            match child.try_wait().expect("wait") {
                Some(status) => break status,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{} didn't stop within {PATIENCE:?}", self.who);
                }
            }
        };
        assert!(status.success(), "{} exited with {status}", self.who);
    }
}

// ---------------------------------------------------------------------------------------
// What "the same workshop" means: the parts every laptop shares (not "mine", "me", votes left).
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct Shared {
    title: String,
    /// (id, name, removed)
    people: BTreeSet<(String, String, bool)>,
    /// note id → text
    notes: BTreeMap<String, String>,
}

impl Shared {
    fn of(snap: &Value) -> Self {
        let mut notes = BTreeMap::new();
        collect_notes(&snap["board"], &mut notes);
        let people = snap["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_owned(),
                    p["name"].as_str().unwrap().to_owned(),
                    p["removed"] == true,
                )
            })
            .collect();
        Self { title: snap["meta"]["title"].as_str().unwrap_or_default().to_owned(), people, notes }
    }

    fn has(&self, text: &str) -> bool {
        self.notes.values().any(|t| t == text)
    }
}

fn collect_notes(value: &Value, into: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(id)), Some(Value::String(text)), true) =
                (map.get("id"), map.get("text"), map.contains_key("author"))
            {
                into.insert(id.clone(), text.clone());
            }
            map.values().for_each(|v| collect_notes(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_notes(v, into)),
        _ => {}
    }
}

/// Polls until every laptop shows the same workshop and it has every note in `texts`;
/// returns how long that took.
#[track_caller]
fn converge(laptops: &mut [&mut Process], texts: &[&str]) -> Duration {
    let start = Instant::now();
    loop {
        let views: Vec<Shared> = laptops.iter_mut().map(|p| Shared::of(&p.snapshot())).collect();
        let complete = texts.iter().all(|t| views.iter().all(|v| v.has(t)));
        if complete && views.windows(2).all(|w| w[0] == w[1]) {
            return start.elapsed();
        }
        if start.elapsed() > PATIENCE {
            let missing: Vec<(String, Vec<&str>)> = laptops
                .iter()
                .zip(&views)
                .map(|(p, v)| (p.who.clone(), texts.iter().copied().filter(|t| !v.has(t)).collect()))
                .collect();
            panic!("no convergence within {PATIENCE:?}; missing notes: {missing:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `process` has logged finding a laptop at each of `addresses` (via `via`);
/// returns when the last was found, from its start.
#[track_caller]
fn wait_found(process: &mut Process, via: &str, addresses: &[String]) -> Duration {
    let mut latest = Duration::ZERO;
    for address in addresses {
        let wanted = format!("via {via} at {address}");
        let at = process.wait_log(&format!("a laptop found {wanted}"), |l| {
            l.contains("found a laptop for workshop") && l.ends_with(&wanted)
        });
        latest = latest.max(at);
    }
    latest
}

/// [`wait_found`] by either method.
#[track_caller]
fn wait_found_any(process: &mut Process, addresses: &[String]) -> Duration {
    let mut latest = Duration::ZERO;
    for address in addresses {
        let wanted = format!(" at {address}");
        let at = process.wait_log(&format!("a laptop found{wanted}"), |l| {
            l.contains("found a laptop for workshop") && l.ends_with(&wanted)
        });
        latest = latest.max(at);
    }
    latest
}

/// Whether a log line says a connection attempt (to `address`) failed: the node's "can't
/// reach a laptop" (logged when the reason changes), or samod's "dial failed" (every attempt).
fn turned_away(line: &str, address: Option<&str>) -> bool {
    (line.contains("can't reach a laptop") || line.contains("dial failed"))
        && address.is_none_or(|address| line.contains(address))
}

fn found_lines(process: &mut Process) -> Vec<String> {
    process.log().into_iter().filter(|l| l.contains("found a laptop for workshop")).collect()
}

fn serve(lab: &Lab, laptop: &Laptop, workshop: &str, extra: &[&str]) -> Process {
    let mut args = vec!["serve", "--exec", workshop];
    args.extend_from_slice(extra);
    lab.start(laptop, &args)
}

#[track_caller]
fn ok(out: Output) -> String {
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "failed: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    text
}

// ---------------------------------------------------------------------------------------
// The uninvited laptop's ears: this test binary again, inside the observer's namespace.
// ---------------------------------------------------------------------------------------

const OBSERVE_OUT: &str = "CG_NETNS_OBSERVE_OUT";
const OBSERVE_STOP: &str = "CG_NETNS_OBSERVE_STOP";
const OBSERVE_IP: &str = "CG_NETNS_OBSERVE_IP";
const OBSERVE_PROBE: &str = "CG_NETNS_OBSERVE_PROBE";
const BEACON_PORT: u16 = 41234;
const MDNS_PORT: u16 = 5353;

/// Not a test by itself: the uninvited laptop's listener for `a_room_of_laptops…`, which runs
/// this test binary inside its namespace with the `CG_NETNS_OBSERVE_*` variables set. It
/// records every mDNS and beacon datagram it hears (asking for Common Ground services over
/// mDNS twice a second, as a curious laptop would), and tries a sync connection to a member
/// with a made-up tag. Does nothing when run any other way.
#[test]
fn netns_observer_helper() {
    let (Ok(out), Ok(stop), Ok(ip)) =
        (std::env::var(OBSERVE_OUT), std::env::var(OBSERVE_STOP), std::env::var(OBSERVE_IP))
    else {
        return;
    };
    let ip: std::net::Ipv4Addr = ip.parse().unwrap();
    let mut out = std::fs::File::create(out).unwrap();
    let mdns = std::net::UdpSocket::bind(("0.0.0.0", MDNS_PORT)).unwrap();
    mdns.join_multicast_v4(&std::net::Ipv4Addr::new(224, 0, 0, 251), &ip).unwrap();
    mdns.set_nonblocking(true).unwrap();
    let beacon = std::net::UdpSocket::bind(("0.0.0.0", BEACON_PORT)).unwrap();
    beacon.set_broadcast(true).unwrap();
    beacon.set_nonblocking(true).unwrap();

    // A sync preamble (0x01, nonce, tag) with a tag made without the secret, then bytes
    // standing in for Noise message 1, sent once the member listens: it must answer nothing
    // and hang up.
    let probe = std::env::var(OBSERVE_PROBE).ok().map(|target| {
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut stream = loop {
                match std::net::TcpStream::connect(&target) {
                    Ok(stream) => break stream,
                    Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                    Err(e) => return format!("probe unreachable {e}"),
                }
            };
            let started = Instant::now();
            let mut hello = vec![0x01];
            hello.extend((0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(11)));
            hello.extend([0u8, 32]);
            hello.extend([0x5a; 32]);
            let _ = stream.write_all(&hello);
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            // Read until the member hangs up: a reset (it closed with our bytes unread) or an
            // end of stream; anything it sent first is counted.
            let mut got = Vec::new();
            let mut chunk = [0u8; 4096];
            let ended = loop {
                match std::io::Read::read(&mut stream, &mut chunk) {
                    Ok(0) => break "closed",
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "reset",
                    Err(e)
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            || e.kind() == std::io::ErrorKind::TimedOut =>
                    {
                        break "still-open"
                    }
                    Err(_) => break "error",
                }
            };
            format!("probe {} {ended} {}", got.len(), started.elapsed().as_millis())
        })
    });

    let query = mdns_query(&["_commonground._tcp.local", "_services._dns-sd._udp.local"]);
    let mut asked = Instant::now() - Duration::from_secs(1);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut buf = [0u8; 9000];
    while !Path::new(&stop).exists() && Instant::now() < deadline {
        if asked.elapsed() >= Duration::from_millis(500) {
            let _ = mdns.send_to(&query, ("224.0.0.251", MDNS_PORT));
            asked = Instant::now();
        }
        for (port, socket) in [(MDNS_PORT, &mdns), (BEACON_PORT, &beacon)] {
            while let Ok((len, from)) = socket.recv_from(&mut buf) {
                if from.ip() != std::net::IpAddr::V4(ip) {
                    writeln!(out, "{port} {from} {}", hex(&buf[..len])).unwrap();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(probe) = probe {
        writeln!(out, "{}", probe.join().unwrap()).unwrap();
    }
    out.flush().unwrap();
}

/// An mDNS query (PTR, class IN) for each service name.
fn mdns_query(names: &[&str]) -> Vec<u8> {
    let mut q = vec![0, 0, 0, 0, 0, names.len() as u8, 0, 0, 0, 0, 0, 0];
    for name in names {
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend(label.as_bytes());
        }
        q.extend([0, 0, 12, 0, 1]);
    }
    q
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap()).collect()
}

/// Datagrams heard: (UDP port, sender, bytes).
type Heard = Vec<(u16, String, Vec<u8>)>;

fn start_observer(lab: &Lab, laptop: &Laptop, out: &Path, stop: &Path, probe: Option<&str>) -> Process {
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", &laptop.ns])
        .arg(std::env::current_exe().unwrap())
        .args(["netns_observer_helper", "--exact", "--nocapture", "--test-threads", "1"])
        .env(OBSERVE_OUT, out)
        .env(OBSERVE_STOP, stop)
        .env(OBSERVE_IP, &laptop.ip);
    if let Some(probe) = probe {
        command.env(OBSERVE_PROBE, probe);
    }
    lab.spawn("observer", command)
}

/// Stops the observer and returns what it heard: (port, sender, bytes), and the probe line.
fn stop_observer(observer: Process, out: &Path, stop: &Path) -> (Heard, Option<String>) {
    std::fs::write(stop, b"").unwrap();
    observer.finished();
    let text = std::fs::read_to_string(out).unwrap();
    let mut heard = Vec::new();
    let mut probe = None;
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["probe", ..] => probe = Some(line.to_owned()),
            [port, from, bytes] => heard.push((port.parse().unwrap(), (*from).to_owned(), unhex(bytes))),
            _ => panic!("unexpected observer line {line:?}"),
        }
    }
    (heard, probe)
}

/// Every string that must never be heard on the network, as bytes: the titles, names, the
/// host name, the workshop id in every form, and every key and secret the laptops hold
/// (hex both cases, and raw).
fn secrets_of(laptops: &[&Laptop], workshop: &str, link: &str) -> Vec<(String, Vec<u8>)> {
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    let mut text = |what: &str, s: &str| {
        needles.push((what.to_owned(), s.as_bytes().to_vec()));
        needles.push((format!("{what} (lower case)"), s.to_lowercase().into_bytes()));
    };
    for (what, s) in [
        ("the title", TITLE),
        ("the observer's title", OBSERVER_TITLE),
        ("the facilitator's name", FACILITATOR),
        ("Ben's name", BEN),
        ("Cleo's name", CLEO),
        ("the observer's name", OBSERVER),
        ("the workshop id", workshop),
        ("the workshop id (hex)", &workshop.replace('-', "")),
        ("the invite link", link),
    ] {
        text(what, s);
    }
    for word in TITLE.split(' ') {
        text("a word of the title", word);
    }
    for laptop in laptops {
        text(&format!("{}'s host name", laptop.name), &laptop.host);
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    if host.len() >= 4 {
        text("this computer's host name", host);
    }
    let mut raw = |what: String, bytes: Vec<u8>| needles.push((what, bytes));
    raw("the workshop id (raw)".to_owned(), unhex(&workshop.replace('-', "")));
    for laptop in laptops {
        let device = std::fs::read(laptop.data.join("device.key")).unwrap();
        raw(format!("{}'s device secret", laptop.name), device);
        // Every key in the stored membership: the workshop secret, the facilitator's key
        // and the roster's device keys.
        let dir = laptop.data.join("workshops").join(workshop);
        if let Ok(stored) = std::fs::read_to_string(dir.join("secrets.json")) {
            let mut keys = Vec::new();
            hex_strings(&serde_json::from_str(&stored).unwrap(), &mut keys);
            for key in keys {
                raw(format!("a key stored on {}", laptop.name), unhex(&key));
                raw(format!("a key stored on {} (hex)", laptop.name), key.clone().into_bytes());
                raw(format!("a key stored on {} (HEX)", laptop.name), key.to_uppercase().into_bytes());
            }
        }
    }
    needles
}

fn hex_strings(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => into.push(s.clone()),
        Value::Object(map) => map.values().for_each(|v| hex_strings(v, into)),
        Value::Array(items) => items.iter().for_each(|v| hex_strings(v, into)),
        _ => {}
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// The test.
// ---------------------------------------------------------------------------------------

#[test]
fn a_room_of_laptops_on_a_real_network() {
    if let Some(why) = unavailable() {
        println!("SKIPPED a_room_of_laptops_on_a_real_network: {why}");
        return;
    }
    let all = Instant::now();
    let hosts = [FACILITATOR, BEN, CLEO, OBSERVER].map(str::to_lowercase);
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let (lab, laptops) = match Lab::new(&["a", "b", "c", "o"], &hosts) {
        Ok(made) => made,
        Err(why) => {
            println!(
                "SKIPPED a_room_of_laptops_on_a_real_network: can't make network namespaces here ({why})"
            );
            return;
        }
    };
    let [a, b, c, o] = [&laptops[0], &laptops[1], &laptops[2], &laptops[3]];
    let mut report: Vec<String> = Vec::new();
    let everyone =
        |l: &Laptop| laptops[..3].iter().filter(|x| x.ip != l.ip).map(Laptop::address).collect::<Vec<_>>();

    // Setup: the facilitator creates the workshop and invites; Ben and Cleo join by link.
    let phase = Instant::now();
    let created = ok(lab.cg(a, &["new", "--title", TITLE, "--name", FACILITATOR]));
    let id = created.lines().next().unwrap().to_owned();
    let mut invite = lab.start(a, &["invite", &id, "--listen", &format!("0.0.0.0:{PORT}")]);
    let link = invite.stdout_line("the link", |l| l.starts_with("commonground://"));
    let code = invite.stdout_line("the code", |l| l.starts_with("Code: "));
    assert!(
        code.contains(&format!("join with it at {}", a.address())),
        "the invite names A's address: {code}"
    );
    assert!(!code.contains("127.0.0.1"), "loopback isn't offered to other laptops: {code}");
    for (laptop, name) in [(b, BEN), (c, CLEO)] {
        assert_eq!(ok(lab.cg(laptop, &["join", &link, "--name", name])).trim(), id);
    }
    invite.interrupt();
    report.push(format!("setup (create, invite, 2 joins by link): {:.1?}", phase.elapsed()));

    // (e), listening: the uninvited laptop hears everything of (a) and (b).
    let heard_at = lab.dir.path().join("heard");
    let stop_at = lab.dir.path().join("stop");
    // It asks over mDNS too, so it needs a route for multicast (the nodes' mDNS picks its
    // interface itself).
    must("ip", &["-n", &o.ns, "route", "add", "224.0.0.0/4", "dev", "eth0"]);
    let observer = start_observer(&lab, o, &heard_at, &stop_at, Some(&a.address()));

    // (a) mDNS alone.
    let phase = Instant::now();
    let mut sa = serve(&lab, a, &id, &["--no-beacon"]);
    let mut sb = serve(&lab, b, &id, &["--no-beacon"]);
    let mut sc = serve(&lab, c, &id, &["--no-beacon"]);
    let mut found = Duration::ZERO;
    for (process, laptop) in [(&mut sa, a), (&mut sb, b), (&mut sc, c)] {
        found = found.max(wait_found(process, "mDNS", &everyone(laptop)));
    }
    sa.add_note("a1 from the facilitator");
    sb.add_note("a2 from Ben");
    sc.add_note("a3 from Cleo");
    let converged = converge(
        &mut [&mut sa, &mut sb, &mut sc],
        &["a1 from the facilitator", "a2 from Ben", "a3 from Cleo"],
    );
    for process in [&mut sa, &mut sb, &mut sc] {
        let lines = found_lines(process);
        assert!(lines.iter().all(|l| l.contains("via mDNS")), "{}: {lines:?}", process.who);
    }
    report.push(format!(
        "(a) mDNS only: all found within {found:.1?} of starting; converged {converged:.1?} after the edits ({:.1?} in all)",
        phase.elapsed()
    ));

    // (e), acting: the uninvited laptop has a workshop of its own, knows A's address, but
    // has neither the link nor the code.
    let phase = Instant::now();
    let own = ok(lab.cg(o, &["new", "--title", OBSERVER_TITLE, "--name", OBSERVER]));
    let own = own.lines().next().unwrap().to_owned();
    let guessed = lab.cg(o, &["join", "123456", "--address", &a.address(), "--name", OBSERVER]);
    assert!(!guessed.status.success(), "a guessed code let the observer in");
    let mut so = serve(&lab, o, &own, &["--connect", &a.address()]);
    so.wait_log("a refused sync attempt", |l| turned_away(l, Some(&a.address())));
    let theirs = Shared::of(&so.snapshot());
    let ours = Shared::of(&sa.snapshot());
    assert_eq!(theirs.title, OBSERVER_TITLE);
    assert!(theirs.notes.is_empty() && theirs.people.len() == 1, "the observer got something: {theirs:?}");
    assert!(!ours.people.iter().any(|(_, name, _)| name == OBSERVER), "the observer got in: {ours:?}");
    let connected_to_a: Vec<String> =
        sa.log().into_iter().filter(|l| l.contains("a laptop connected") && l.contains(&o.ip)).collect();
    assert!(connected_to_a.is_empty(), "A let the observer connect: {connected_to_a:?}");
    so.interrupt();
    let not_there = lab.cg(o, &["show", &id]);
    assert!(!not_there.status.success(), "the observer has the workshop");
    let why = String::from_utf8_lossy(&not_there.stderr);
    assert!(why.contains("There is no workshop"), "{why}");
    report.push(format!(
        "(e) uninvited laptop: a guessed code refused, a sync attempt refused, nothing shared ({:.1?})",
        phase.elapsed()
    ));
    for process in [sa, sb, sc] {
        process.interrupt();
    }

    // (b) Multicast not forwarded anywhere: only the beacon can find anyone.
    let phase = Instant::now();
    for laptop in &laptops {
        lab.bridge_port(laptop, "mcast_flood", "off");
    }
    let mut sa = serve(&lab, a, &id, &[]);
    let mut sb = serve(&lab, b, &id, &[]);
    let mut sc = serve(&lab, c, &id, &[]);
    let mut found = Duration::ZERO;
    for (process, laptop) in [(&mut sa, a), (&mut sb, b), (&mut sc, c)] {
        found = found.max(wait_found(process, "beacon", &everyone(laptop)));
    }
    sa.add_note("b1 from the facilitator");
    sb.add_note("b2 from Ben");
    sc.add_note("b3 from Cleo");
    let converged = converge(
        &mut [&mut sa, &mut sb, &mut sc],
        &["b1 from the facilitator", "b2 from Ben", "b3 from Cleo", "a3 from Cleo"],
    );
    for process in [&mut sa, &mut sb, &mut sc] {
        let lines = found_lines(process);
        assert!(
            lines.iter().all(|l| l.contains("via beacon")),
            "{}: mDNS got through? {lines:?}",
            process.who
        );
    }
    report.push(format!(
        "(b) multicast blocked, beacon only: all found within {found:.1?}; converged {converged:.1?} after the edits ({:.1?} in all)",
        phase.elapsed()
    ));

    // (e), what was heard during (a) and (b).
    let (heard, probe) = stop_observer(observer, &heard_at, &stop_at);
    let probe = probe.expect("the observer's sync attempt");
    let fields: Vec<&str> = probe.split(' ').collect();
    assert_eq!(fields[1], "0", "a member answered a sync attempt with a made-up tag: {probe}");
    assert!(
        matches!(fields[2], "closed" | "reset"),
        "a member kept a connection with a made-up tag open: {probe}"
    );
    let members: Vec<String> = laptops[..3].iter().map(|l| format!("{}:", l.ip)).collect();
    let from_members = |port: u16| {
        heard
            .iter()
            .filter(|(p, from, _)| *p == port && members.iter().any(|m| from.starts_with(m.as_str())))
            .count()
    };
    let service = b"_commonground";
    let mdns_answers = heard
        .iter()
        .filter(|(p, from, bytes)| {
            *p == MDNS_PORT
                && contains(bytes, service)
                && members.iter().any(|m| from.starts_with(m.as_str()))
        })
        .count();
    assert!(
        mdns_answers > 0,
        "the observer heard no Common Ground mDNS from members: the check below would prove nothing"
    );
    assert!(
        from_members(BEACON_PORT) > 0,
        "the observer heard no beacons: the check below would prove nothing"
    );
    let needles = secrets_of(&[a, b, c, o], &id, &link);
    for (port, from, bytes) in &heard {
        for (what, needle) in &needles {
            assert!(
                !contains(bytes, needle),
                "{what} was heard on UDP port {port} from {from}: {}",
                hex(bytes)
            );
        }
    }
    report.push(format!(
        "(e) heard {} mDNS datagrams ({mdns_answers} about Common Ground) and {} beacons from members: no title, name, host name, key or id in any ({} strings checked); a made-up sync tag got 0 bytes and a hang-up ({}) in {} ms",
        from_members(MDNS_PORT),
        from_members(BEACON_PORT),
        needles.len(),
        fields[2],
        fields[3]
    ));
    for process in [sa, sb, sc] {
        process.interrupt();
    }
    for laptop in &laptops {
        lab.bridge_port(laptop, "mcast_flood", "on");
    }

    // (c) Client isolation, as on venue Wi-Fi: only the facilitator's port may talk to others.
    let phase = Instant::now();
    for laptop in [b, c, o] {
        lab.bridge_port(laptop, "isolated", "on");
    }
    let mut sa = serve(&lab, a, &id, &[]);
    let mut sb = serve(&lab, b, &id, &[]);
    let mut sc = serve(&lab, c, &id, &[]);
    let found_a = wait_found_any(&mut sa, &[b.address(), c.address()]);
    let found_b = wait_found_any(&mut sb, &[a.address()]);
    let found_c = wait_found_any(&mut sc, &[a.address()]);
    sb.add_note("c1 from Ben, through the facilitator");
    sc.add_note("c2 from Cleo, through the facilitator");
    let converged = converge(
        &mut [&mut sa, &mut sb, &mut sc],
        &["c1 from Ben, through the facilitator", "c2 from Cleo, through the facilitator"],
    );
    for (process, other) in [(&mut sb, c), (&mut sc, b)] {
        let found = found_lines(process);
        assert!(
            found.iter().all(|l| l.contains(&a.address())),
            "{} found more than A: {found:?}",
            process.who
        );
        let connected: Vec<String> =
            process.log().into_iter().filter(|l| l.contains("a laptop connected")).collect();
        assert!(!connected.is_empty(), "{}: {connected:?}", process.who);
        assert!(
            connected.iter().all(|l| l.contains(&format!("address={}:", a.ip))),
            "{} reached a laptop other than A ({}): {connected:?}",
            process.who,
            other.ip
        );
    }
    report.push(format!(
        "(c) star mode: A found both in {found_a:.1?}, B and C found only A in {found_b:.1?} and {found_c:.1?}; B's note reached C through A, converged {converged:.1?} after the edits ({:.1?} in all)",
        phase.elapsed()
    ));
    for process in [sa, sb, sc] {
        process.interrupt();
    }
    for laptop in [b, c, o] {
        lab.bridge_port(laptop, "isolated", "off");
    }

    // (d) Ben's cable is pulled in the middle of editing, and plugged back in.
    let phase = Instant::now();
    let mut sa = serve(&lab, a, &id, &[]);
    let mut sb = serve(&lab, b, &id, &[]);
    let mut sc = serve(&lab, c, &id, &[]);
    for (process, laptop) in [(&mut sa, a), (&mut sb, b), (&mut sc, c)] {
        wait_found_any(process, &everyone(laptop));
    }
    sa.add_note("d1 from the facilitator");
    sb.add_note("d2 from Ben");
    converge(&mut [&mut sa, &mut sb, &mut sc], &["d1 from the facilitator", "d2 from Ben"]);
    // The facilitator writes a note every 150 ms; Ben's cable goes after the third, and
    // from then on Ben (cut off) and Cleo (still connected) write too.
    let mut written = vec!["d1 from the facilitator".to_owned(), "d2 from Ben".to_owned()];
    let mut cut = Instant::now();
    for i in 1..=12 {
        if i == 4 {
            lab.link(b, false);
            cut = Instant::now();
        }
        let mut write = |process: &mut Process, text: String| {
            process.add_note(&text);
            written.push(text);
        };
        write(&mut sa, format!("d-a{i} from the facilitator"));
        if i >= 4 {
            write(&mut sb, format!("d-b{i} from Ben, cut off"));
        }
        if i >= 4 && i % 2 == 0 {
            write(&mut sc, format!("d-c{i} from Cleo, while Ben is away"));
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    converge(&mut [&mut sa, &mut sc], &["d-a12 from the facilitator", "d-c12 from Cleo, while Ben is away"]);
    let on_b = Shared::of(&sb.snapshot());
    assert!(!on_b.has("d-c12 from Cleo, while Ben is away"), "the cut didn't cut Ben off");
    assert!(!Shared::of(&sa.snapshot()).has("d-b12 from Ben, cut off"), "the cut didn't cut Ben off");
    let apart = cut.elapsed();
    lab.link(b, true);
    let texts: Vec<&str> = written.iter().map(String::as_str).collect();
    let converged = converge(&mut [&mut sa, &mut sb, &mut sc], &texts);
    let everything = Shared::of(&sa.snapshot());
    for earlier in [
        "a1 from the facilitator",
        "a2 from Ben",
        "a3 from Cleo",
        "b1 from the facilitator",
        "b2 from Ben",
        "b3 from Cleo",
        "c1 from Ben, through the facilitator",
        "c2 from Cleo, through the facilitator",
    ] {
        assert!(everything.has(earlier), "{earlier:?} was lost");
    }
    report.push(format!(
        "(d) cable cut for {apart:.1?} while {} notes were written on both sides; converged {converged:.1?} after it was plugged back in, all {} notes present ({:.1?} in all)",
        written.len() - 5,
        everything.notes.len(),
        phase.elapsed()
    ));

    // (f) Cleo's laptop is away (cable out) when the facilitator removes her.
    let phase = Instant::now();
    lab.link(c, false);
    sa.interrupt();
    let removed = ok(lab.cg(a, &["remove-participant", &id, CLEO]));
    assert_eq!(removed.trim(), format!("{CLEO} has been removed from the workshop."));
    sb.forget_log();
    let mut sa = serve(&lab, a, &id, &[]);
    let served_again = Instant::now();
    sb.wait_log("Ben's laptop moving to the new key", |l| l.contains("moved to the workshop's new key"));
    let rotated = served_again.elapsed();
    sc.add_note("f1 from Cleo, after she was removed");
    sa.add_note("f2 from the facilitator, after the removal");
    sb.add_note("f3 from Ben, after the removal");
    converge(
        &mut [&mut sa, &mut sb],
        &["f2 from the facilitator, after the removal", "f3 from Ben, after the removal"],
    );
    sc.forget_log();
    lab.link(c, true);
    let back = Instant::now();
    // Cleo's laptop tries both others again; both turn it away (old key, removed device).
    for other in [a, b] {
        sc.wait_log("a refusal", |l| turned_away(l, Some(&other.address())));
    }
    let refused_in = back.elapsed();
    sa.add_note("f4 from the facilitator, with Cleo's laptop back");
    sb.add_note("f5 from Ben, with Cleo's laptop back");
    let after = [
        "f2 from the facilitator, after the removal",
        "f3 from Ben, after the removal",
        "f4 from the facilitator, with Cleo's laptop back",
        "f5 from Ben, with Cleo's laptop back",
    ];
    let converged = converge(&mut [&mut sa, &mut sb], &after);
    // Give Cleo's laptop one more full redial (the backoff tops out at 5 s) to leak through.
    sc.forget_log();
    sc.wait_log("another refusal", |l| turned_away(l, None));
    let on_a = Shared::of(&sa.snapshot());
    let on_b = Shared::of(&sb.snapshot());
    let on_c = Shared::of(&sc.snapshot());
    for (who, view) in [("A", &on_a), ("B", &on_b)] {
        assert!(
            !view.has("f1 from Cleo, after she was removed"),
            "Cleo's note after her removal reached {who}"
        );
        assert!(view.people.iter().any(|(_, name, removed)| name == CLEO && *removed), "{who}: {view:?}");
    }
    for note in after {
        assert!(!on_c.has(note), "{note:?} reached Cleo's laptop after her removal");
    }
    assert!(on_c.has("f1 from Cleo, after she was removed"));
    report.push(format!(
        "(f) removal while away: Ben moved to the new key {rotated:.1?} after the facilitator served again; A and B converged on 4 new notes ({converged:.1?}); Cleo's laptop refused by both within {refused_in:.1?} of coming back, nothing crossed either way ({:.1?} in all)",
        phase.elapsed()
    ));

    // (f, live) The facilitator removes Ben while connected to him, through `serve --exec`:
    // his connection is closed at once and his laptop is turned away from then on.
    let phase = Instant::now();
    let ben = on_a.people.iter().find(|(_, name, _)| name == BEN).expect("Ben").0.clone();
    sb.forget_log();
    let removed = sa.ask(&json!({"type": "remove_participant", "participant": ben}));
    assert_eq!(removed["type"], "done", "{removed}");
    sb.wait_log("Ben's laptop turned away", |l| turned_away(l, Some(&a.address())));
    let refused_in = phase.elapsed();
    // His laptop may have heard of the removal before the connection closed; then it refuses
    // the note itself. Either way the note must not reach the facilitator.
    let attempt = sb.try_add_note("g1 from Ben, after his removal");
    let refused_locally = attempt["type"] != "created";
    if refused_locally {
        assert_eq!(attempt["kind"], "removed", "{attempt}");
    }
    sa.add_note("g2 from the facilitator, after Ben's removal");
    sb.forget_log();
    sb.wait_log("Ben's laptop trying again", |l| turned_away(l, Some(&a.address())));
    let on_a = Shared::of(&sa.snapshot());
    let on_b = Shared::of(&sb.snapshot());
    assert!(!on_a.has("g1 from Ben, after his removal"), "Ben's note after his removal reached A");
    assert!(
        !on_b.has("g2 from the facilitator, after Ben's removal"),
        "A's note reached Ben after his removal"
    );
    assert!(on_a.people.iter().any(|(_, name, removed)| name == BEN && *removed), "{on_a:?}");
    report.push(format!(
        "(f, live) Ben removed while connected: his laptop turned away within {refused_in:.1?}; his next note {}; nothing crossed either way ({:.1?} in all)",
        if refused_locally { "was refused on his own laptop (it had heard)" } else { "stayed on his laptop" },
        phase.elapsed()
    ));
    for process in [sa, sb, sc] {
        process.interrupt();
    }

    report.push(format!("total: {:.1?}", all.elapsed()));
    println!("{}", report.join("\n"));
}
