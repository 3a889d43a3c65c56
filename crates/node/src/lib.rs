//! The Common Ground node: the runtime around the sans-IO workshop model.
//!
//! This is the only crate that knows tokio, files and sockets. It keeps every workshop
//! as one Automerge document in a [samod](https://docs.rs/samod) repository, stores it durably
//! in the platform data folder, and runs commands through the shared command contract
//! ([`commonground_api::WorkshopService`]).
//!
//! Entry point: [`Node`]. [`Node::open`] takes a data folder (the platform one from
//! [`Node::default_data_dir`], or `--data DIR`, or a temporary folder in tests);
//! [`Node::create_workshop`], [`Node::list_workshops`], [`Node::open_workshop`],
//! [`Node::with_service`] and [`Node::dispatch`] do the rest.
//!
//! # The network
//!
//! [`Node::serve`] listens for other laptops; [`Node::connect`] keeps a connection to one
//! (reconnecting with backoff); [`Node::invite`], [`Node::join_by_code`] and
//! [`Node::join_by_link`] bring laptops in; [`Node::remove_participant`] moves the workshop
//! to a new key; [`Node::events`] reports changes from other laptops, who is connected and
//! how syncing is going. Each connection is TCP with a Noise channel keyed by the workshop
//! secret, with samod syncing over it; the wire format, the limits and what is bound to what
//! are in the `net` module docs (`src/net/mod.rs`).
//!
//! # From home
//!
//! Besides laptops meeting again, a workshop can carry on through a shared folder
//! ([`Node::sync_folder`]: sealed change files, the folder sees only ciphertext) or through a
//! stock automerge-repo sync server an organisation already runs ([`Node::sync_server`]:
//! samod's own wire protocol over a plain `ws://` WebSocket; the server can read the one
//! workshop it is given and is given no other; see `src/server.rs`).
//!
//! # Acknowledged means durable
//!
//! [`Node::with_service`] and [`Node::dispatch`] return only after samod has handed every
//! Automerge change the command made to storage and storage has written it with
//! write-temp + fsync + rename + fsync(dir); the device-private [`commonground_api::Local`]
//! state is written the same way before that. So an edit the caller has been told about
//! survives `kill -9` and power loss (the `crash` test kills a node process at random moments to
//! check this).
//!
//! # Damage is detected, set aside and reported
//!
//! Every stored file carries a checksum, and every document chunk must parse as Automerge.
//! A file that fails is moved into the workshop's `damaged/` folder (never deleted), everything
//! else still loads, and [`Node::workshop_health`] says so in plain English. Nothing in a file
//! can panic the node.
//!
//! # Data folder layout
//!
//! ```text
//! <data>/
//!   lock                      held (flock) while a node has the folder open
//!   device.key                this device's 32-byte secret, mode 0600
//!   repo/                     samod keys that belong to no document (its storage id)
//!   damaged/                  damaged files from repo/ and creating/, set aside
//!   creating/<participant id>.json  the facilitator's state for a workshop being created,
//!                             until its document is stored (then it moves to local.json)
//!   workshops/
//!     <workshop id>/          one folder per workshop (the id is samod's document id as a UUID)
//!       doc/snapshot/<hash>   samod's compacted document chunks
//!       changes.log           samod's single changes since, appended (storage by earlier
//!                             versions: doc/incremental/<hash>, still read)
//!       local.json            this device's private state for the workshop, mode 0600
//!       secrets.json          the workshop secret, key epoch and roster, mode 0600 (never synced)
//!       guests/<guest id>.json the private state of each phone or tablet using it through this laptop
//!       damaged/              damaged files from this workshop, set aside
//! ```
//!
//! Every directory is created with mode 0700 and every file with mode 0600: workshop content
//! is private to the person using the laptop.

#![deny(missing_docs)]

mod acks;
mod changelog;
mod discovery;
mod durable;
mod error;
mod folder;
mod guest;
mod health;
mod keys;
mod layout;
mod local;
mod net;
mod node;
mod repo;
mod server;
mod storage;

pub use discovery::{
    local_addresses, Discovered, Discovery, DiscoveryConfig, DiscoveryHandle, DiscoveryKey, Methods, Scope,
    Via, DEFAULT_BEACON_PORT, MDNS_PORT,
};
pub use error::{NodeError, Result};
pub use folder::{FolderReport, FolderSync};
pub use guest::GuestId;
pub use health::{Damage, DamagedFile, StorageHealth};
pub use keys::{DeviceKeyFile, DeviceSecret, DEVICE_SECRET_LEN};
pub use net::{
    sync_preamble, InviteInfo, NetError, NetResult, NodeEvent, PeerInfo, ServeConfig, ServeHandle,
    SyncProblem, SyncStatus, MAX_JOINS_PER_IP, NONCE_LEN, PREAMBLE_JOIN, PREAMBLE_SYNC, SYNC_PREAMBLE_LEN,
};
pub use node::{Dispatched, Node};
pub use server::{workshop_automerge_url, ServerSync};
