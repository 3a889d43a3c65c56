//! The crash test's child process (`crates/node/tests/crash.rs`).
//!
//! `commonground-crashtest <data dir>` opens a node on the folder, uses the first workshop
//! that opens (creating one if there is none), prints `workshop <id>`, then adds sticky notes
//! until it is killed, printing `ack <note id> <named|anonymous>` only after each note is
//! acknowledged — that is, durably stored. Every third note is anonymous, so this device's
//! private state (which records anonymous notes) is rewritten while the process may be killed.

use std::error::Error;
use std::io::Write;
use std::path::PathBuf;

use commonground_api::{Command, Reply};
use commonground_node::Node;
use commonground_workshop::{Colour, NewWorkshop, WorkshopId};

fn main() -> Result<(), Box<dyn Error>> {
    let data: PathBuf = std::env::args_os().nth(1).ok_or("usage: commonground-crashtest <data dir>")?.into();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run(data))
}

async fn run(data: PathBuf) -> Result<(), Box<dyn Error>> {
    let node = Node::open(&data).await?;
    let id = workshop(&node).await?;
    say(&format!("workshop {id}"))?;
    let snapshot = match node.dispatch(id, Command::GetSnapshot).await?.reply? {
        Reply::Snapshot(snapshot) => snapshot,
        other => return Err(format!("unexpected reply {other:?}").into()),
    };
    let prompt = snapshot.board.prompts.first().ok_or("the workshop has no board area")?.id;
    for n in 0u64.. {
        let anonymous = n % 3 == 2;
        let command = Command::AddNote {
            prompt,
            text: format!("Crash test note {n}"),
            colour: Colour::Sky,
            x: (n % 50) as f64,
            y: (n / 50) as f64,
            private: false,
            anonymous,
        };
        match node.dispatch(id, command).await?.reply? {
            Reply::Created { id: note } => {
                say(&format!("ack {note} {}", if anonymous { "anonymous" } else { "named" }))?
            }
            other => return Err(format!("unexpected reply {other:?}").into()),
        }
    }
    Ok(())
}

/// The first stored workshop that opens, or a new one. (A workshop whose creation was killed
/// before anything of it was stored has a folder but cannot be opened.)
async fn workshop(node: &Node) -> Result<WorkshopId, Box<dyn Error>> {
    for id in node.list_workshops() {
        if node.open_workshop(id).await.is_ok() {
            return Ok(id);
        }
    }
    let new = NewWorkshop {
        title: "Crash test".to_owned(),
        purpose: "Check that acknowledged edits survive kill -9.".to_owned(),
        facilitator_name: "Ada".to_owned(),
        facilitator_colour: Colour::Sun,
        ground_rules: None,
    };
    Ok(node.create_workshop(new).await?)
}

fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}
