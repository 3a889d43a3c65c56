//! Interop with a stock automerge-repo sync server (issue #6): the real
//! `@automerge/automerge-repo-sync-server` from npm (tests/sync-server) on loopback, a JS
//! automerge-repo peer of it, and Rust nodes that reach each other only through it.
//!
//! Needs `node` and `npm ci --prefix tests/sync-server`. Without them the test fails when `CI`
//! is set, and otherwise says what is missing and passes without running.

mod net_support;
mod support;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use commonground_api::Command as WorkshopCommand;
use commonground_node::{workshop_automerge_url, ServerSync};
use commonground_workshop::{Colour, NewWorkshop, TextEdit, WorkshopId};
use net_support::*;
use serde_json::Value;
use support::*;

const WITHIN: Duration = Duration::from_secs(20);

/// tests/sync-server, with its npm packages.
fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/sync-server")
}

fn server_script() -> PathBuf {
    interop_dir().join("node_modules/@automerge/automerge-repo-sync-server/src/index.js")
}

/// Whether `node` and the npm packages are here. Missing ones fail the test under CI and skip
/// it elsewhere.
fn tools_present() -> bool {
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let packages = server_script().is_file()
        && interop_dir().join("node_modules/@automerge/automerge-repo/package.json").is_file()
        && interop_dir()
            .join("node_modules/@automerge/automerge-repo-network-websocket/package.json")
            .is_file();
    if node && packages {
        return true;
    }
    let what = if node {
        "the npm packages in tests/sync-server are not installed: run `npm ci --prefix tests/sync-server --ignore-scripts`"
    } else {
        "`node` (≥ 20) is not installed"
    };
    assert!(std::env::var_os("CI").is_none(), "sync server interop test can't run: {what}");
    eprintln!("SKIPPED: the sync server interop test: {what}");
    false
}

/// A child process, killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The stock sync server on a free loopback port, storing into `data`.
struct SyncServer {
    _process: Killed,
    port: u16,
    data: PathBuf,
}

impl SyncServer {
    fn start(dir: &Path) -> Self {
        let data = dir.join("server-data");
        // The port is found free, then handed to the server: another process could take it
        // in between, so a server that exits early is started again on another.
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut child = Command::new("node")
                .arg(server_script())
                .env("PORT", port.to_string())
                .env("DATA_DIR", &data)
                // It serves static files from `./public`: an empty folder of ours.
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start the sync server");
            let stdout = child.stdout.take().unwrap();
            let process = Killed(child);
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        // Keep draining so the server never blocks on a full pipe.
                        continue;
                    }
                }
            });
            let deadline = Instant::now() + Duration::from_secs(15);
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                match rx.recv_timeout(left) {
                    Ok(line) if line.contains("Listening on port") => {
                        return Self { _process: process, port, data };
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        panic!("the sync server didn't start");
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Every path the server stored, relative to its data folder, with the separators taken
    /// out (it splits a document id across two folder levels).
    fn stored_paths(&self) -> Vec<String> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                }
                out.push(path);
            }
        }
        let mut paths = Vec::new();
        walk(&self.data, &mut paths);
        paths.iter().map(|p| p.strip_prefix(&self.data).unwrap().to_string_lossy().replace('/', "")).collect()
    }

    fn has_document(&self, workshop: WorkshopId) -> bool {
        let id = workshop_automerge_url(workshop);
        let id = id.strip_prefix("automerge:").unwrap().to_owned();
        self.stored_paths().iter().any(|p| p.starts_with(&id))
    }
}

/// Runs the JS peer (tests/sync-server/peer.mjs) and returns the JSON lines it printed.
async fn js_peer(server: &str, workshop: WorkshopId, purpose_prefix: Option<&str>) -> Vec<Value> {
    let mut command = Command::new("node");
    command
        .arg(interop_dir().join("peer.mjs"))
        .args(["--server", server, "--doc", &workshop_automerge_url(workshop)])
        .args(["--timeout-ms", &WITHIN.as_millis().to_string()])
        .current_dir(interop_dir())
        .stdin(Stdio::null());
    if let Some(prefix) = purpose_prefix {
        command.args(["--purpose-prefix", prefix]);
    }
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("run peer.mjs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "peer.mjs failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON line from peer.mjs")).collect()
}

/// Waits until the handle reports the server connected.
async fn connected(sync: &ServerSync) {
    let mut rx = sync.connected();
    tokio::time::timeout(WITHIN, rx.wait_for(|c| *c)).await.expect("connected in time").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_and_a_js_peer_and_two_nodes_converge_through_the_stock_sync_server() {
    if !tools_present() {
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();

    // A is the facilitator; B joined earlier, in the room. Then they part: from here on they
    // reach each other only through the server.
    let (a, _da, id, serving) = facilitator().await;
    let invite = a.invite(id).await.unwrap();
    let (b, _db) = node().await;
    assert_eq!(b.join_by_link(&invite.link, "Ben", Colour::Sky).await.unwrap(), id);
    converge(&[&a, &b], id, WITHIN).await;
    b.disconnect(id, serving.local_addr());
    drop(serving);
    eventually("A and B to part", WITHIN, || async { a.peers(id).is_empty() && b.peers(id).is_empty() })
        .await;
    println!("A and B parted: {:?}", started.elapsed());

    // A's workshop has content; A has a second workshop, not for the server.
    let prompt = first_prompt(&a, id).await;
    let from_a = add_note(&a, id, prompt, "A's idea before the server", false).await;
    let private =
        a.create_workshop(NewWorkshop { title: "Another group".to_owned(), ..new_workshop() }).await.unwrap();

    let server = SyncServer::start(dir.path());
    println!("server started: {:?}", started.elapsed());
    let url = server.url();
    let sync_a = a.sync_server(id, &url).await.unwrap();
    assert_eq!(sync_a.server(), format!("127.0.0.1:{}", server.port));
    connected(&sync_a).await;
    println!("A connected to the server: {:?}", started.elapsed());

    // The JS peer finds the workshop through the server and reads it.
    let deadline = Instant::now() + WITHIN;
    let seen = loop {
        let seen = js_peer(&url, id, None).await;
        if seen[0]["found"] == true {
            break seen;
        }
        assert!(Instant::now() < deadline, "the JS peer didn't find the workshop on the server: {seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(seen[0]["title"], "Living Well design team");
    assert_eq!(seen[0]["purpose"], "Design the service together.");
    println!("JS peer read it: {:?}", started.elapsed());

    // The JS peer edits the purpose; A reads the edit through its model.
    let edited = js_peer(&url, id, Some("From home: ")).await;
    assert_eq!(edited[1]["edited"], true, "{edited:?}");
    eventually("A to see the JS peer's edit", WITHIN, || async {
        snapshot(&a, id).await.meta.purpose == "From home: Design the service together."
    })
    .await;
    println!("A saw the JS edit: {:?}", started.elapsed());

    // B connects to the same server; both write; they converge without ever meeting.
    let sync_b = b.sync_server(id, &url).await.unwrap();
    connected(&sync_b).await;
    let (from_a2, from_b) = tokio::join!(
        add_note(&a, id, prompt, "A at home", false),
        add_note(&b, id, prompt, "B at home", false),
    );
    // B edits A's note from before the server, once it has come through the server.
    eventually("A's earlier note to reach B", WITHIN, || async {
        notes(&snapshot(&b, id).await).iter().any(|n| n.id == from_a)
    })
    .await;
    let edit = TextEdit::Splice { index: 0, delete: 0, insert: "Yes: ".to_owned() };
    let reply = b.dispatch(id, WorkshopCommand::EditNote { note: from_a, edit }).await.unwrap();
    assert!(reply.reply.is_ok(), "{:?}", reply.reply);
    converge(&[&a, &b], id, WITHIN).await;
    assert_eq!(shared_view(&snapshot(&a, id).await), shared_view(&snapshot(&b, id).await));
    let on_a = notes(&snapshot(&a, id).await);
    for note in [from_a, from_a2, from_b] {
        assert!(on_a.iter().any(|n| n.id == note));
    }
    assert!(on_a.iter().any(|n| n.id == from_a && n.text == "Yes: A's idea before the server"));
    assert_eq!(snapshot(&b, id).await.meta.purpose, "From home: Design the service together.");
    assert!(a.peers(id).is_empty() && b.peers(id).is_empty(), "never directly");
    println!("A and B converged through the server: {:?}", started.elapsed());

    // The second workshop never reached the server: the JS peer can't have it, and nothing
    // of it is stored there (while the first workshop is).
    let missing = js_peer(&url, private, None).await;
    assert_eq!(missing[0]["found"], false, "{missing:?}");
    assert!(server.has_document(id), "the server stores the shared workshop: {:?}", server.stored_paths());
    assert!(!server.has_document(private), "{:?}", server.stored_paths());

    // Dropping the handle disconnects.
    let watch_a = sync_a.connected();
    drop(sync_a);
    let mut watch_a = watch_a;
    tokio::time::timeout(WITHIN, watch_a.wait_for(|c| !*c)).await.expect("disconnected in time").ok();
    drop(sync_b);
    a.close().await;
    b.close().await;
    println!("sync server interop: {:?}", started.elapsed());
}

#[tokio::test]
async fn only_plain_ws_sync_servers_are_accepted() {
    let (a, _da) = node().await;
    let id = a.create_workshop(new_workshop()).await.unwrap();
    let e = a.sync_server(id, "wss://sync.example.org").await.unwrap_err();
    assert_eq!(e.kind(), "sync_server_address");
    assert!(e.to_string().contains("ws://"), "{e}");
    assert_eq!(
        a.sync_server(id, "https://sync.example.org").await.unwrap_err().kind(),
        "sync_server_address"
    );
    // An unreachable server is not an error: it is tried again with backoff.
    let sync = a.sync_server(id, "ws://127.0.0.1:9").await.unwrap();
    assert!(!sync.is_connected());
    assert!(sync.document_url().starts_with("automerge:"));
    let stranger = WorkshopId::from_uuid(uuid_bytes());
    assert_eq!(a.sync_server(stranger, "ws://127.0.0.1:9").await.unwrap_err().kind(), "workshop_not_found");
}

fn uuid_bytes() -> uuid::Uuid {
    uuid::Uuid::from_bytes([7; 16])
}
