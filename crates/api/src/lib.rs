//! The Common Ground command contract.
//!
//! One contract, many front doors (DESIGN.md section 5): the desktop shell, the browser front
//! door and the CLI all send a [`Command`] and get back a [`Reply`] or an [`ApiError`]
//! (`{kind, message}`, never a bare string). Views change through small [`Event`]s derived
//! from Automerge patches, so a front end never re-reads the whole workshop after a change.
//!
//! [`WorkshopService`] is the sans-IO application service behind every front door: it holds
//! one workshop and this device's private state ([`Local`]: who I am here, my anonymous
//! actors, what I last saw) and turns commands into workshop operations. The runtime supplies
//! `now`, the rng, storage and the network.
//!
//! TypeScript declarations for every type here are generated with ts-rs into
//! `ui/src/lib/ipc/bindings/` and committed; a test fails when they are stale
//! (`UPDATE_BINDINGS=1 cargo test -p commonground-api --test bindings` refreshes them).

#![deny(missing_docs)]

mod command;
mod event;
mod front;
mod reply;
mod service;

pub use command::Command;
pub use event::{Event, RESYNC_ABOVE};
pub use front::{
    AwayView, ConnectionView, Door, ExportFormat, FrontReply, InviteView, NearbyLaptop, Notice, Request,
    SyncState, WorkshopSummary,
};
pub use reply::{ApiError, CatchUpLine, Reply, Snapshot};
pub use service::{AnonymousEntry, Local, WorkshopService};

/// Writes the TypeScript declarations of the whole contract (and everything it refers to)
/// into `dir`.
pub fn export_bindings(dir: &std::path::Path) -> Result<(), ts_rs::ExportError> {
    use ts_rs::TS;
    let cfg = ts_rs::Config::new().with_out_dir(dir).with_large_int("number");
    Command::export_all(&cfg)?;
    Reply::export_all(&cfg)?;
    ApiError::export_all(&cfg)?;
    Event::export_all(&cfg)?;
    Request::export_all(&cfg)?;
    FrontReply::export_all(&cfg)?;
    Notice::export_all(&cfg)?;
    Ok(())
}
