//! The web front door: how phones and tablets (and this laptop's own browser) use a workshop
//! with no app installed, through a page this laptop serves on the room's network.
//!
//! This is the only crate that knows HTTP. It serves the built UI (`ui/dist`, from wherever
//! the caller keeps it: a folder, or the desktop app's embedded assets) and one WebSocket,
//! `/ws`, that carries the front-door contract ([`commonground_api::Request`],
//! [`commonground_api::FrontReply`], [`commonground_api::Notice`]) sealed with the door key
//! the browser got from the QR code (`commonground_protocol::DoorChannel`; the protocol is
//! specified in that module). What a door opens, and what each request does, is the
//! [`Backend`]'s business (the `app` crate); this crate only moves sealed JSON.
//!
//! **Invariant:** nothing is ever sent unsealed after the two-message hello; the door key
//! never crosses the network; a browser can't name its door's workshop or seat, only prove
//! it holds the key the laptop gave out.

#![deny(missing_docs)]

mod assets;
mod server;
mod socket;

pub use assets::{Asset, Assets, DirAssets};
pub use server::{start, WebHandle, MAX_SOCKETS};

use std::sync::Arc;

use commonground_api::{ApiError, FrontReply, Notice, Request};
use commonground_node::GuestId;
use commonground_workshop::WorkshopId;
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// Who is using a window: the laptop's own person, or a guest on a phone or tablet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seat {
    /// The person at this laptop (the desktop door).
    Owner,
    /// Someone on another device, in one workshop.
    Guest {
        /// The workshop their door opens.
        workshop: WorkshopId,
        /// Who they are, as their browser remembers it.
        guest: GuestId,
    },
}

/// What a door opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opens {
    /// This laptop's own person's seat: the owner page, only ever shown on this laptop.
    Owner,
    /// One workshop, for guests (the phone page).
    Workshop(WorkshopId),
}

/// A door the backend recognised: its key, and what it opens.
pub struct Door {
    /// The key the browser must hold.
    pub key: Zeroizing<[u8; 32]>,
    /// What it opens.
    pub opens: Opens,
}

impl std::fmt::Debug for Door {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Door").field("opens", &self.opens).finish_non_exhaustive()
    }
}

/// What the web front door asks of the application.
pub trait Backend: Send + Sync + 'static {
    /// The door with this id (see `commonground_protocol::door_id`), if it is open now.
    fn door(&self, door_id: &str) -> Option<Door>;
    /// A browser window opened for a seat: its session, and the notices for it until the
    /// receiver is dropped (the window closed).
    fn open(&self, seat: Seat) -> (Arc<dyn Session>, mpsc::Receiver<Notice>);
}

/// One browser window's requests. A window's requests run one at a time, in order.
pub trait Session: Send + Sync + 'static {
    /// Runs a request.
    fn request(self: Arc<Self>, request: Request) -> BoxFuture<'static, Result<FrontReply, ApiError>>;
}
