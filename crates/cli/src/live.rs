//! What a running `serve` tells `status`.
//!
//! A data folder is open in one process at a time (the node holds its lock), so `status`
//! can't ask a running node directly. Instead `serve` rewrites a small file in the data folder
//! every second — which laptops are connected, when the last change arrived — and `status`
//! reads it. It holds device-key fingerprints and addresses, never names or note text.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use commonground_node::Node;
use commonground_workshop::WorkshopId;
use serde::{Deserialize, Serialize};

/// The file `serve` writes in the data folder.
const FILE: &str = "serve-status.json";

/// A running (or stopped) `serve`, as it last described itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Live {
    /// The serving process.
    pub pid: u32,
    /// Whether it was still running when it last wrote (it says so when it stops).
    pub running: bool,
    /// When it started and last wrote, in Unix milliseconds.
    pub started_at: i64,
    pub updated_at: i64,
    /// The addresses it listens on.
    pub listening: Vec<String>,
    /// Per workshop: who is connected, and when a change last arrived from another laptop.
    pub workshops: BTreeMap<String, LiveWorkshop>,
}

/// One workshop's connections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct LiveWorkshop {
    /// Connected laptops: key fingerprint and address.
    pub peers: Vec<(String, String)>,
    /// When a change last arrived from another laptop, in Unix milliseconds.
    pub last_change_at: Option<i64>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn path(data: &Path) -> PathBuf {
    data.join(FILE)
}

impl Live {
    /// A new description for this process, keeping when changes last arrived as the folder's
    /// earlier description said (from `serve`, `join` or `invite`).
    pub(crate) fn new(data: &Path, listening: Vec<String>) -> Self {
        let now = now_ms();
        let workshops = Live::read(data)
            .map(|earlier| {
                earlier
                    .workshops
                    .into_iter()
                    .filter_map(|(id, w)| {
                        w.last_change_at
                            .map(|at| (id, LiveWorkshop { peers: Vec::new(), last_change_at: Some(at) }))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Live {
            pid: std::process::id(),
            running: true,
            started_at: now,
            updated_at: now,
            listening,
            workshops,
        }
    }

    /// Refreshes the connected laptops from the node.
    pub(crate) fn refresh(&mut self, node: &Node, workshops: &[WorkshopId]) {
        self.updated_at = now_ms();
        for &w in workshops {
            let entry = self.workshops.entry(w.to_string()).or_default();
            entry.peers = node.peers(w).into_iter().map(|p| (p.fingerprint, p.address.to_string())).collect();
            entry.peers.sort();
        }
    }

    /// Records a change arriving from another laptop.
    pub(crate) fn changed(&mut self, workshop: WorkshopId) {
        self.workshops.entry(workshop.to_string()).or_default().last_change_at = Some(now_ms());
    }

    /// Records that changes to `workshop` arrived from another laptop just now, outside
    /// `serve`: `join` (the whole workshop came from the facilitator's laptop) and `invite`
    /// (people joined). Keeps what `serve` last wrote about the rest. Called while `node` is
    /// open: it holds the data folder, so no `serve` is running or can start meanwhile.
    pub(crate) fn record_arrival(node: &Node, workshop: WorkshopId) {
        let data = node.data_dir();
        let mut live = Live::read(data).unwrap_or_default();
        live.pid = std::process::id();
        live.running = false;
        live.updated_at = now_ms();
        live.changed(workshop);
        live.write(data);
    }

    /// Writes the description: to a temporary file, then renamed over the old one, so
    /// `status` never reads half a file. Failing to write only costs `status` its detail.
    pub(crate) fn write(&self, data: &Path) {
        let result = (|| -> std::io::Result<()> {
            let tmp = data.join(format!(".{FILE}.{}", self.pid));
            let mut file =
                std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
            file.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
            std::fs::rename(&tmp, path(data))
        })();
        if let Err(e) = result {
            tracing::debug!(error = %e, "couldn't write the serve status file");
        }
    }

    /// The last description written in this data folder, if any. A description that says
    /// it is running but whose process has gone (killed) is read as stopped.
    pub(crate) fn read(data: &Path) -> Option<Live> {
        let bytes = std::fs::read(path(data)).ok()?;
        let mut live: Live = serde_json::from_slice(&bytes).ok()?;
        if live.running && !Path::new(&format!("/proc/{}", live.pid)).exists() {
            live.running = false;
        }
        Some(live)
    }
}

/// "12 seconds ago", "3 minutes ago", …
pub(crate) fn ago(at: i64, now: i64) -> String {
    let secs = (now - at).max(0) / 1000;
    let (n, unit) = match secs {
        0..=59 => (secs, "second"),
        60..=3_599 => (secs / 60, "minute"),
        3_600..=86_399 => (secs / 3_600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    if n == 1 {
        format!("1 {unit} ago")
    } else {
        format!("{n} {unit}s ago")
    }
}

/// The connection lines for one workshop, for `status`.
pub(crate) fn describe(live: Option<&Live>, workshop: WorkshopId, now: i64) -> Vec<String> {
    let mut lines = Vec::new();
    let entry = live.and_then(|l| l.workshops.get(&workshop.to_string()));
    match live {
        Some(l) if l.running => {
            let peers = entry.map(|e| e.peers.as_slice()).unwrap_or_default();
            lines.push(match peers.len() {
                0 => "Laptops connected: none yet.".to_owned(),
                n => format!(
                    "Laptops connected: {n} ({})",
                    peers.iter().map(|(fp, addr)| format!("{fp} at {addr}")).collect::<Vec<_>>().join(", ")
                ),
            });
        }
        _ => lines.push("Laptops connected: none (`commonground serve` isn't running).".to_owned()),
    }
    lines.push(match entry.and_then(|e| e.last_change_at) {
        Some(at) => format!("Last change from another laptop: {}.", ago(at, now)),
        None => "No changes from other laptops yet.".to_owned(),
    });
    lines
}
