//! Errors. Messages are plain English that can be shown to the person using the laptop: they
//! say what happened and what to do next.

use std::path::PathBuf;

use commonground_workshop::{WorkshopError, WorkshopId};

/// The result of node operations.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;

/// Something the node could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The platform has no data folder for this user (no home directory).
    #[error(
        "Common Ground couldn't find a folder to keep its data in. Please start it with --data and a folder."
    )]
    NoDataDir,
    /// The node was started outside a tokio runtime.
    #[error("Common Ground's storage needs to be started from inside its runtime (this is a bug).")]
    NoRuntime,
    /// Reading or writing a file or folder failed.
    #[error("Common Ground couldn't read or write {path}: {source}. Check the disk has space and the folder can be written to.")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// Another Common Ground is already using this data folder.
    #[error("Another copy of Common Ground is already using {path}. Please close it first.")]
    Locked {
        /// The data folder.
        path: PathBuf,
    },
    /// The device key file can be read by other users, so it is not used.
    #[error(
        "The device key file {path} can be read by other people on this computer (permissions {mode:o}), \
         so Common Ground won't use it. Run `chmod 600` on it, then start Common Ground again."
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The device key file is not a 32-byte regular file.
    #[error(
        "The device key file {path} is damaged ({problem}). Common Ground won't replace it on its own, \
         because this laptop's identity depends on it. Move it somewhere safe and start again to make a new one."
    )]
    KeyFileDamaged {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The operating system's random source failed.
    #[error("This computer couldn't provide random numbers to make a device key ({0}).")]
    Randomness(String),
    /// No workshop with this id is stored here.
    #[error("There is no workshop {0} on this laptop.")]
    WorkshopNotFound(WorkshopId),
    /// Every saved part of the workshop was damaged.
    #[error(
        "The saved copy of workshop {0} on this laptop is damaged and nothing could be loaded. \
         The damaged files have been set aside, not deleted. Another laptop in the workshop can send it again."
    )]
    WorkshopDamaged(WorkshopId),
    /// The document is not a workshop this version can use.
    #[error(transparent)]
    Workshop(#[from] WorkshopError),
    /// An edit could not be confirmed as saved.
    #[error("Your last change couldn't be saved to disk ({0}). Check the disk has space, then try again.")]
    NotSaved(String),
    /// The document store has stopped.
    #[error("Common Ground's document store has stopped. Please restart the app.")]
    Stopped,
    /// Neither mDNS nor the broadcast beacon could start.
    #[error(
        "Common Ground couldn't look for other laptops on this network ({0}). \
         You can still connect by typing the facilitator's address."
    )]
    Discovery(String),
    /// A sync server address that can't be used.
    #[error("Common Ground can't use that sync server address: {0}.")]
    SyncServerAddress(String),
}

impl NodeError {
    /// A short, stable, machine-readable kind, for errors that cross to the UI as `{kind, message}`.
    pub fn kind(&self) -> &'static str {
        match self {
            NodeError::NoDataDir => "no_data_dir",
            NodeError::NoRuntime => "no_runtime",
            NodeError::Io { .. } => "io",
            NodeError::Locked { .. } => "locked",
            NodeError::KeyFilePermissions { .. } => "key_file_permissions",
            NodeError::KeyFileDamaged { .. } => "key_file_damaged",
            NodeError::Randomness(_) => "randomness",
            NodeError::WorkshopNotFound(_) => "workshop_not_found",
            NodeError::WorkshopDamaged(_) => "workshop_damaged",
            NodeError::Workshop(e) => e.kind(),
            NodeError::NotSaved(_) => "not_saved",
            NodeError::Stopped => "stopped",
            NodeError::Discovery(_) => "discovery",
            NodeError::SyncServerAddress(_) => "sync_server_address",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NodeError::Io { path: path.into(), source }
    }
}
