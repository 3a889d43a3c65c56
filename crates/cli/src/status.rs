//! `status`: the workshops on this laptop and how their stored copies are.

use std::fmt::Write;
use std::path::Path;

use commonground_node::Node;

use crate::live::{self, Live};

/// What `status` says when the data folder doesn't exist yet.
pub(crate) fn nothing_here(data: &Path) -> String {
    format!(
        "Data folder: {}\nNo workshops on this laptop yet. Create one with `commonground new --title TITLE --name NAME`.",
        data.display()
    )
}

/// One paragraph per workshop: id, title, phase, people, who you are, storage health.
pub(crate) async fn report(node: &Node, live: Option<&Live>) -> String {
    let now = live::now_ms();
    let mut out = String::new();
    let ids = node.list_workshops();
    let _ = writeln!(out, "Data folder: {}", node.data_dir().display());
    match ids.len() {
        0 => {
            let _ = writeln!(out, "No workshops on this laptop yet. Create one with `commonground new --title TITLE --name NAME`.");
            return out;
        }
        1 => out.push_str("1 workshop on this laptop.\n"),
        n => {
            let _ = writeln!(out, "{n} workshops on this laptop.");
        }
    }
    for id in ids {
        out.push('\n');
        let _ = writeln!(out, "{id}");
        let view = node
            .with_service(id, |s| {
                let w = s.workshop();
                let people = w.participants();
                let me = s
                    .local()
                    .participant
                    .and_then(|me| people.iter().find(|p| p.id == me && !p.removed).cloned());
                let here = people.iter().filter(|p| !p.removed).count();
                (w.meta(), here, me)
            })
            .await;
        match view {
            Ok((meta, here, me)) => {
                let _ = writeln!(out, "  {}", one_line(&meta.title));
                let people = if here == 1 { "1 person".to_owned() } else { format!("{here} people") };
                let _ = writeln!(out, "  Phase: {} · {people}", meta.phase.label());
                let _ = match me {
                    Some(me) if me.facilitator => writeln!(out, "  You are {} (facilitator).", me.name),
                    Some(me) => writeln!(out, "  You are {}.", me.name),
                    None => writeln!(out, "  You haven't joined it on this laptop."),
                };
            }
            Err(e) => {
                let _ = writeln!(out, "  Couldn't be opened: {}", one_line(&e.to_string()));
            }
        }
        let health = node.workshop_health(id);
        let _ = if health.is_damaged() {
            writeln!(
                out,
                "  Storage: {} damaged {} set aside in its damaged folder; everything else loaded.",
                health.set_aside.max(health.found.len()),
                if health.set_aside.max(health.found.len()) == 1 { "file" } else { "files" }
            )
        } else {
            writeln!(out, "  Storage: all files healthy.")
        };
        for line in live::describe(live, id, now) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// What `status` says while `commonground serve` has the data folder open.
pub(crate) fn report_running(data: &Path, live: &Live) -> String {
    let now = live::now_ms();
    let mut out = String::new();
    let _ = writeln!(out, "Data folder: {}", data.display());
    let _ = writeln!(
        out,
        "`commonground serve` is running (process {}, since {}) and has this folder open.",
        live.pid,
        live::ago(live.started_at, now)
    );
    if !live.listening.is_empty() {
        let _ = writeln!(out, "Listening on {}.", live.listening.join(", "));
    }
    for id in live.workshops.keys() {
        out.push('\n');
        let _ = writeln!(out, "{id}");
        if let Ok(id) = id.parse() {
            for line in live::describe(Some(live), id, now) {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
