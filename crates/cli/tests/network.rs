//! `invite`, `join` and `serve` between real `commonground` processes on loopback: joining
//! with the 6-digit code and with the link, then syncing a note written while apart.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_commonground");

fn cg(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("--data").arg(data).args(args).stdin(Stdio::null()).output().unwrap()
}

#[track_caller]
fn ok(o: Output) -> String {
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(o.status.success(), "failed: {}\n{out}", String::from_utf8_lossy(&o.stderr));
    out
}

/// A `commonground` process running in the background, its output arriving line by line.
struct Running {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Running {
    fn start(data: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(data)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = |pipe: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let stdout = lines(Box::new(child.stdout.take().unwrap()));
        let stderr = lines(Box::new(child.stderr.take().unwrap()));
        Self { child, stdout, stderr }
    }

    /// The first line on `from` satisfying `want`, within 20 s.
    fn wait_for(from: &mpsc::Receiver<String>, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match from.recv_timeout(left) {
                Ok(line) if want(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!("no {what} within 20 s"),
            }
        }
    }

    /// Stops it as Ctrl-C would, and checks it stopped cleanly.
    fn interrupt(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exited with {status}");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Only if a test failed before interrupting it: never leave a node running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn join_with_the_code_and_the_link_then_sync_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let (sam, ali, bo) = (dir.path().join("sam"), dir.path().join("ali"), dir.path().join("bo"));
    let created = ok(cg(&sam, &["new", "--title", "Living Well", "--name", "Sam"]));
    let mut lines = created.lines();
    let id = lines.next().unwrap().to_owned();
    assert!(lines.next().unwrap().starts_with("commonground://join/1/"), "{created}");

    let address = format!("127.0.0.1:{}", free_port());
    let invite = Running::start(&sam, &["invite", &id[..8], "--listen", &address, "--qr"]);
    let link = Running::wait_for(&invite.stdout, "link", |l| l.starts_with("commonground://"));
    let code_line = Running::wait_for(&invite.stdout, "code", |l| l.starts_with("Code: "));
    let code = code_line["Code: ".len()..].split(" (").next().unwrap().to_owned();
    assert_eq!(code.len(), 7, "{code_line}");
    assert!(code_line.ends_with(&format!("join with it at {address})")), "{code_line}");
    Running::wait_for(&invite.stdout, "the waiting line", |l| l.starts_with("Waiting for people to join."));

    let joined = ok(cg(&ali, &["join", &code, "--address", &address, "--name", "Ali", "--colour", "rose"]));
    assert_eq!(joined.trim(), id);
    let joined = ok(cg(&bo, &["join", &link, "--name", "Bo"]));
    assert_eq!(joined.trim(), id);
    invite.interrupt();

    let shown = ok(cg(&sam, &["show", &id]));
    assert!(shown.contains("Who is here (3)\n  Sam (blue circle, facilitator, you)\n"), "{shown}");
    assert!(shown.contains("\n  Ali (pink circle)\n") && shown.contains("\n  Bo (blue circle)\n"), "{shown}");

    // Ali writes a note while apart; when both serve and Ali dials Sam, it arrives.
    let snap: serde_json::Value = serde_json::from_str(&ok(cg(&ali, &["show", &id, "--json"]))).unwrap();
    let prompt = snap["board"]["prompts"][0]["id"].as_str().unwrap();
    let note = serde_json::json!({
        "type": "add_note", "prompt": prompt, "text": "Written at home", "colour": "rose",
        "x": 0.0, "y": 0.0, "private": false, "anonymous": false,
    });
    ok(cg(&ali, &["exec", &id, &note.to_string()]));
    let sam_serving = Running::start(&sam, &["serve", "--listen", &address]);
    Running::wait_for(&sam_serving.stderr, "serving", |l| l.contains("serving; press Ctrl-C to stop"));
    let ali_serving = Running::start(&ali, &["serve", "--listen", "127.0.0.1:0", "--connect", &address]);
    Running::wait_for(&sam_serving.stderr, "changes", |l| l.contains("changes arrived from other laptops"));
    ali_serving.interrupt();
    sam_serving.interrupt();
    let shown = ok(cg(&sam, &["show", &id]));
    assert!(shown.contains("\"Written at home\" (Ali)"), "{shown}");

    // Removing Ali moves the workshop to a new key epoch; Ali is no longer listed.
    assert_eq!(
        ok(cg(&sam, &["remove-participant", &id, "ali"])),
        "Ali has been removed from the workshop.\n"
    );
    let shown = ok(cg(&sam, &["show", &id]));
    assert!(shown.contains("Who is here (2)\n") && !shown.contains("\n  Ali ("), "{shown}");
}

#[test]
fn join_checks_its_inputs_before_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (args, expected) in [
        (
            vec!["join", "123 456", "--name", "Ali"],
            "commonground: To join with a code, also give the address shown with it on the facilitator's laptop, \
             e.g. --address 192.168.1.20:41235.",
        ),
        (
            vec!["join", "hello", "--name", "Ali", "--address", "127.0.0.1:1"],
            "commonground: That isn't an invite link (commonground://join/…) or a 6-digit code. \
             Please check it and try again.",
        ),
        (
            vec!["join", "123456", "--name", "Prof Ali", "--address", "127.0.0.1:1"],
            "commonground: We use first names only here, with no titles, so everyone is equal in the room. \
             How about \"Ali\"?",
        ),
    ] {
        let out = cg(&data, &args);
        assert!(!out.status.success());
        assert_eq!(String::from_utf8(out.stderr).unwrap().trim_end(), expected);
    }
    let out = cg(&data, &["join", "commonground://join/1/AAAA", "--name", "Ali"]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8(out.stderr).unwrap().trim_end().lines().count(), 1);
    assert!(!data.exists(), "a refused join wrote the data folder");
}

/// Sam's laptop with a new workshop, and Ali's laptop joined to it by link; Sam then writes a
/// note Ali hasn't got yet. Returns the workshop id and Sam's address.
fn joined_pair(sam: &Path, ali: &Path, note: &str) -> (String, String) {
    let created = ok(cg(sam, &["new", "--title", "Living Well", "--name", "Sam"]));
    let id = created.lines().next().unwrap().to_owned();
    let sam_address = format!("127.0.0.1:{}", free_port());
    let invite = Running::start(sam, &["invite", &id, "--listen", &sam_address]);
    let link = Running::wait_for(&invite.stdout, "link", |l| l.starts_with("commonground://"));
    assert_eq!(ok(cg(ali, &["join", &link, "--name", "Ali"])).trim(), id);
    Running::wait_for(&invite.stderr, "Ali's join", |l| l.contains("changes arrived from another laptop"));
    invite.interrupt();
    write_note(sam, &id, note);
    (id, sam_address)
}

/// Writes a note in the workshop's first area through `exec`.
fn write_note(data: &Path, id: &str, text: &str) {
    let snap: serde_json::Value = serde_json::from_str(&ok(cg(data, &["show", id, "--json"]))).unwrap();
    let prompt = snap["board"]["prompts"][0]["id"].as_str().unwrap();
    let note = serde_json::json!({
        "type": "add_note", "prompt": prompt, "text": text, "colour": "sun",
        "x": 0.0, "y": 0.0, "private": false, "anonymous": false,
    });
    ok(cg(data, &["exec", id, &note.to_string()]));
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

// Guards `serve` finding the workshop's other laptops by itself (no --connect): two nodes on
// this computer, listening on loopback, find each other with the broadcast beacon (on
// 127.255.255.255 and a port of this test's own, so nothing leaves the computer).
#[test]
fn serve_finds_the_other_laptop_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (sam, ali) = (dir.path().join("sam"), dir.path().join("ali"));
    let (id, sam_address) = joined_pair(&sam, &ali, "Found you");

    let beacon_port = free_udp_port().to_string();
    let ali_address = format!("127.0.0.1:{}", free_port());
    let quiet = ["--no-mdns", "--beacon-port", &beacon_port];
    let sam_serving = Running::start(&sam, &[&["serve", "--listen", &sam_address][..], &quiet].concat());
    let ali_serving = Running::start(&ali, &[&["serve", "--listen", &ali_address][..], &quiet].concat());
    let found = format!("found a laptop for workshop {} via beacon at {sam_address}", &id[..8]);
    Running::wait_for(&ali_serving.stderr, "Sam's laptop found", |l| l.ends_with(&found));
    Running::wait_for(&ali_serving.stderr, "changes", |l| l.contains("changes arrived from other laptops"));
    ali_serving.interrupt();
    sam_serving.interrupt();
    let shown = ok(cg(&ali, &["show", &id]));
    assert!(shown.contains("\"Found you\" (Sam)"), "{shown}");
}

#[test]
fn serve_reconnects_to_where_the_facilitator_was_without_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let (sam, ali) = (dir.path().join("sam"), dir.path().join("ali"));
    let (id, sam_address) = joined_pair(&sam, &ali, "Remembered");

    // No discovery and no --connect (client isolation): Ali's laptop dials the address it
    // learnt from the link.
    let quiet = ["--no-mdns", "--no-beacon"];
    let ali_address = format!("127.0.0.1:{}", free_port());
    let sam_serving = Running::start(&sam, &[&["serve", "--listen", &sam_address][..], &quiet].concat());
    let ali_serving = Running::start(&ali, &[&["serve", "--listen", &ali_address][..], &quiet].concat());
    Running::wait_for(&ali_serving.stderr, "changes", |l| l.contains("changes arrived from other laptops"));
    ali_serving.interrupt();
    sam_serving.interrupt();
    let shown = ok(cg(&ali, &["show", &id]));
    assert!(shown.contains("\"Remembered\" (Sam)"), "{shown}");
}

#[test]
fn status_reports_connected_laptops_and_the_last_change_while_serve_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (sam, ali) = (dir.path().join("sam"), dir.path().join("ali"));
    let (_, sam_address) = joined_pair(&sam, &ali, "Hello Ali");
    let before = ok(cg(&ali, &["status"]));
    assert!(before.contains("Laptops connected: none (`commonground serve` isn't running)."), "{before}");
    // Joining brought the workshop from Sam's laptop, and Sam's laptop saw Ali join.
    assert!(before.contains("Last change from another laptop: "), "{before}");
    let sam_status = ok(cg(&sam, &["status"]));
    assert!(sam_status.contains("Last change from another laptop: "), "{sam_status}");
    // A laptop that only made its own workshop has had nothing from anyone.
    let alone = dir.path().join("alone");
    ok(cg(&alone, &["new", "--title", "On my own", "--name", "Kim"]));
    let alone_status = ok(cg(&alone, &["status"]));
    assert!(alone_status.contains("No changes from other laptops yet."), "{alone_status}");
    // A `serve` that brings nothing new keeps what the join recorded.
    let ali_serving = Running::start(&ali, &["serve", "--listen", "127.0.0.1:0", "--no-mdns", "--no-beacon"]);
    Running::wait_for(&ali_serving.stderr, "serving", |l| l.contains("serving; press Ctrl-C to stop"));
    ali_serving.interrupt();
    let after_quiet = ok(cg(&ali, &["status"]));
    assert!(after_quiet.contains("Last change from another laptop: "), "{after_quiet}");

    let quiet = ["--no-mdns", "--no-beacon"];
    let ali_address = format!("127.0.0.1:{}", free_port());
    let sam_serving = Running::start(&sam, &[&["serve", "--listen", &sam_address][..], &quiet].concat());
    let ali_serving = Running::start(&ali, &[&["serve", "--listen", &ali_address][..], &quiet].concat());
    Running::wait_for(&ali_serving.stderr, "changes", |l| l.contains("changes arrived from other laptops"));
    // `status` can't open the folder while `serve` has it, so it reports what serve wrote.
    let deadline = Instant::now() + Duration::from_secs(10);
    let running = loop {
        let out = ok(cg(&ali, &["status"]));
        if out.contains("Laptops connected: 1") || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(running.contains("`commonground serve` is running"), "{running}");
    assert!(running.contains("Laptops connected: 1 ("), "{running}");
    assert!(running.contains("Last change from another laptop:"), "{running}");
    assert!(!running.contains("Sam") && !running.contains("Living Well"), "no names or titles: {running}");
    ali_serving.interrupt();
    sam_serving.interrupt();
    let after = ok(cg(&ali, &["status"]));
    assert!(after.contains("isn't running") && after.contains("Last change from another laptop:"), "{after}");
}
