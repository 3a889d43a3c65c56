//! Crash test: a node process killed with SIGKILL at random moments while applying edits
//! loses nothing it acknowledged, leaves no damaged file, and its workshop always loads.
//!
//! One data folder is used for every trial, so each restart also recovers from the previous
//! kill (including kills during samod's compaction, which rewrites the stored document).
//! The kill moments are drawn from a seeded rng: set `CG_CRASH_SEED` to replay a run and
//! `CG_CRASH_TRIALS` to run more trials.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use commonground_node::Node;
use commonground_workshop::{AuthorView, NoteId, WorkshopId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use support::*;

const CHILD: &str = env!("CARGO_BIN_EXE_commonground-crashtest");

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn acknowledged_edits_survive_sigkill() {
    let seed = env_number("CG_CRASH_SEED", 0x5eed_c0de);
    let trials = env_number("CG_CRASH_TRIALS", 24);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let mut workshop: Option<WorkshopId> = None;
    // Every acknowledged note, and whether it was written anonymously.
    let mut acked: HashMap<NoteId, bool> = HashMap::new();
    let started = Instant::now();
    for trial in 0..trials {
        let mut child = Command::new(CHILD)
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the crash test child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });

        // Kill during start-up and recovery in some trials, mid-edits in the rest.
        let after_first_ack = rng.random_bool(0.8);
        let delay = Duration::from_micros(if after_first_ack {
            rng.random_range(0..150_000)
        } else {
            rng.random_range(0..60_000)
        });
        let mut lines = Vec::new();
        if after_first_ack {
            let deadline = Instant::now() + Duration::from_secs(60);
            while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                let is_ack = line.starts_with("ack ");
                lines.push(line);
                if is_ack {
                    break;
                }
            }
            assert!(
                lines.iter().any(|l| l.starts_with("ack ")),
                "trial {trial}: the child acknowledged nothing"
            );
        }
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL the child");
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());

        let before = acked.len();
        for line in &lines {
            let mut words = line.split(' ');
            match (words.next(), words.next(), words.next()) {
                (Some("workshop"), Some(id), None) => {
                    let id: WorkshopId = id.parse().unwrap();
                    assert!(workshop.is_none_or(|w| w == id), "trial {trial}: the child switched workshops");
                    workshop = Some(id);
                }
                (Some("ack"), Some(note), Some(how)) => {
                    acked.insert(note.parse().unwrap(), how == "anonymous");
                }
                _ => panic!("trial {trial}: unexpected line from the child: {line}"),
            }
        }
        let new = acked.len() - before;
        eprintln!(
            "trial {trial}: killed after {delay:?}{}, {new} new acks",
            if after_first_ack { " past the first ack" } else { "" }
        );

        if let Some(id) = workshop {
            runtime.block_on(verify(&data, id, &acked, trial));
        }
    }
    eprintln!("{trials} trials, {} acknowledged edits, {:?}", acked.len(), started.elapsed());
    assert!(workshop.is_some(), "no trial got as far as creating the workshop");
    assert!(acked.len() as u64 >= trials, "too few edits were acknowledged to test anything");
}

/// Every acknowledged note is in the workshop, anonymous ones still recognised as this
/// device's own, and no stored file is damaged.
async fn verify(data: &Path, id: WorkshopId, acked: &HashMap<NoteId, bool>, trial: u64) {
    let node = Node::open(data).await.unwrap_or_else(|e| panic!("trial {trial}: reopening failed: {e}"));
    node.open_workshop(id).await.unwrap_or_else(|e| panic!("trial {trial}: the workshop didn't load: {e}"));
    let snapshot = snapshot(&node, id).await;
    let notes: HashMap<NoteId, _> = notes(&snapshot).into_iter().map(|n| (n.id, n)).collect();
    for (note, anonymous) in acked {
        let view =
            notes.get(note).unwrap_or_else(|| panic!("trial {trial}: acknowledged note {note} was lost"));
        if *anonymous {
            assert_eq!(view.author, AuthorView::Anonymous);
            assert!(view.mine, "trial {trial}: this device forgot it wrote anonymous note {note}");
        }
    }
    let health = node.workshop_health(id);
    assert!(!health.is_damaged(), "trial {trial}: a crash damaged stored files: {health:?}");
    node.close().await;
}
