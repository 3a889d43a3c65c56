//! The Common Ground node: the runtime around the sans-IO workshop model.
//!
//! This is the only crate that knows tokio, files and (later) sockets. It keeps every workshop
//! as one Automerge document in a [samod](https://docs.rs/samod) repository, stores it durably
//! in the platform data folder, and runs commands through the shared command contract
//! ([`commonground_api::WorkshopService`]).
//!
//! Entry point: [`Node`]. [`Node::open`] takes a data folder (the platform one from
//! [`Node::default_data_dir`], or `--data DIR`, or a temporary folder in tests);
//! [`Node::create_workshop`], [`Node::list_workshops`], [`Node::open_workshop`],
//! [`Node::with_service`] and [`Node::dispatch`] do the rest.
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
//!   damaged/                  damaged files from repo/, set aside
//!   workshops/
//!     <workshop id>/          one folder per workshop (the id is samod's document id as a UUID)
//!       doc/snapshot/<hash>   samod's compacted document chunks
//!       doc/incremental/<hash> samod's single-change chunks
//!       local.json            this device's private state for the workshop, mode 0600
//!       damaged/              damaged files from this workshop, set aside
//! ```
//!
//! Every directory is created with mode 0700 and every file with mode 0600: workshop content
//! is private to the person using the laptop.

#![deny(missing_docs)]

mod acks;
mod durable;
mod error;
mod health;
mod keys;
mod layout;
mod local;
mod node;
mod repo;
mod storage;

pub use error::{NodeError, Result};
pub use health::{Damage, DamagedFile, StorageHealth};
pub use keys::{DeviceKeyFile, DeviceSecret, DEVICE_SECRET_LEN};
pub use node::{Dispatched, Node};
