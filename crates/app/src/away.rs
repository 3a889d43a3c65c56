//! Carrying on from home: for each workshop, the shared folder and the sync server this laptop
//! keeps it in step through, remembered across restarts in `away.json` in the data folder.
//!
//! Folders are synced by the app's folder loop (with the folder given on the command line, if
//! any); servers each hold a [`ServerSync`], which redials by itself. A folder or server is
//! tried once before it is saved, so a mistyped path is refused with the reason, and nothing
//! that was working is replaced by something that can't work.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use commonground_api::{ApiError, AwayView};
use commonground_node::{FolderSync, Node, ServerSync};
use commonground_workshop::WorkshopId;
use serde::{Deserialize, Serialize};

use crate::export::save_file;

const FILE: &str = "away.json";

/// One workshop's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Setting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) folder: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) server: Option<String>,
}

/// The settings, the running server syncs, and how the folders last went.
#[derive(Debug)]
pub(crate) struct Away {
    path: PathBuf,
    settings: Mutex<BTreeMap<WorkshopId, Setting>>,
    servers: Mutex<HashMap<WorkshopId, ServerSync>>,
    folder_problems: Mutex<HashMap<WorkshopId, String>>,
    /// Wakes the folder loop when the folders change.
    pub(crate) changed: tokio::sync::Notify,
}

impl Away {
    /// Reads the settings (none if there is no file; a damaged file is set aside, not lost).
    pub(crate) fn load(data_dir: &Path) -> Self {
        let path = data_dir.join(FILE);
        let settings = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the away-from-the-room settings couldn't be read; starting without them");
                let _ = std::fs::rename(&path, path.with_extension("json.damaged"));
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        Self {
            path,
            settings: Mutex::new(settings),
            servers: Mutex::new(HashMap::new()),
            folder_problems: Mutex::new(HashMap::new()),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// Starts syncing with every saved server.
    pub(crate) async fn start_servers(&self, node: &Node) {
        let saved: Vec<(WorkshopId, String)> =
            lock(&self.settings).iter().filter_map(|(w, s)| Some((*w, s.server.clone()?))).collect();
        for (workshop, url) in saved {
            match node.sync_server(workshop, &url).await {
                Ok(sync) => {
                    lock(&self.servers).insert(workshop, sync);
                }
                Err(e) => {
                    tracing::warn!(%workshop, error = %e, "couldn't start syncing with a saved sync server")
                }
            }
        }
    }

    /// The folders each workshop is to be synced through (besides the command line's).
    pub(crate) fn folders(&self) -> Vec<(WorkshopId, PathBuf)> {
        lock(&self.settings).iter().filter_map(|(w, s)| Some((*w, s.folder.clone()?))).collect()
    }

    /// Records how a folder sync went.
    pub(crate) fn folder_result(&self, workshop: WorkshopId, problem: Option<String>) {
        let mut problems = lock(&self.folder_problems);
        match problem {
            Some(p) => problems.insert(workshop, p),
            None => problems.remove(&workshop),
        };
    }

    /// The view for one window.
    pub(crate) fn view(&self, workshop: WorkshopId, can_change: bool) -> AwayView {
        let setting = lock(&self.settings).get(&workshop).cloned().unwrap_or_default();
        AwayView {
            can_change,
            folder: setting.folder.map(|f| f.display().to_string()),
            folder_problem: lock(&self.folder_problems).get(&workshop).cloned(),
            server_connected: lock(&self.servers).get(&workshop).is_some_and(ServerSync::is_connected),
            server: setting.server,
        }
    }

    /// Sets (after one successful sync) or clears a workshop's folder.
    pub(crate) async fn set_folder(
        &self,
        node: &Node,
        workshop: WorkshopId,
        folder: Option<&str>,
    ) -> Result<(), ApiError> {
        let folder = match folder.map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            Some(text) => {
                let path = PathBuf::from(text);
                if !path.is_absolute() {
                    return Err(ApiError::new(
                        "folder",
                        "Please give the folder's full path, starting with / (or choose it with “Choose a folder…”).",
                    ));
                }
                if !path.is_dir() {
                    return Err(ApiError::new(
                        "folder",
                        format!(
                            "There is no folder at {}. Please check the path, or create the folder first.",
                            path.display()
                        ),
                    ));
                }
                let mut sync = FolderSync::new(workshop, &path);
                node.sync_folder(&mut sync).await.map_err(|e| {
                    ApiError::new("folder", format!("Couldn't use that folder: {e} Nothing was changed."))
                })?;
                Some(path)
            }
        };
        self.update(workshop, |s| s.folder = folder)?;
        self.folder_result(workshop, None);
        self.changed.notify_one();
        Ok(())
    }

    /// Sets or clears a workshop's sync server. An address that can't work is refused; a
    /// server that is only unreachable for now is kept and retried.
    pub(crate) async fn set_server(
        &self,
        node: &Node,
        workshop: WorkshopId,
        url: Option<&str>,
    ) -> Result<(), ApiError> {
        let url = url.map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned);
        let sync = match &url {
            None => None,
            Some(url) => Some(
                node.sync_server(workshop, url)
                    .await
                    .map_err(|e| ApiError::new("sync_server", e.to_string()))?,
            ),
        };
        self.update(workshop, |s| s.server = url)?;
        let mut servers = lock(&self.servers);
        match sync {
            Some(sync) => servers.insert(workshop, sync),
            None => servers.remove(&workshop),
        };
        Ok(())
    }

    fn update(&self, workshop: WorkshopId, f: impl FnOnce(&mut Setting)) -> Result<(), ApiError> {
        let mut settings = lock(&self.settings);
        let mut next = settings.clone();
        let entry = next.entry(workshop).or_default();
        f(entry);
        if *entry == Setting::default() {
            next.remove(&workshop);
        }
        let json = serde_json::to_vec_pretty(&next).map_err(|e| ApiError::new("settings", e.to_string()))?;
        save_file(&self.path, &json).map_err(|e| {
            ApiError::new("settings", format!("Couldn't save the setting ({e}). Nothing was changed."))
        })?;
        *settings = next;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
