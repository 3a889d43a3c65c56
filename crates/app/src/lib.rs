//! What every Common Ground window shares: one node, serving and discovery, the desktop and
//! phone doors, and the front-door contract.
//!
//! [`App::start`] opens the node on a data folder, listens for other laptops, finds them
//! (mDNS, then the beacon, then addresses seen before) and keeps connections to them, and —
//! when asked — opens the web front door for phones and tablets. Every window then talks to
//! it through [`commonground_api::Request`]: the desktop window over Tauri IPC
//! ([`App::request`] and [`App::notices`], as the laptop's own person), browsers over the
//! web front door (as the laptop's person on its owner page, or as a guest on the phone page).
//!
//! The desktop shell (`src-tauri`) and the CLI's `serve` are thin adapters over this crate:
//! no product logic lives in either.

#![deny(missing_docs)]

mod app;
mod away;
mod connection;
mod doors;
mod error;
mod export;
mod finder;
mod qr;
mod summary;

pub use app::{App, AppConfig, DEFAULT_LISTEN, DEFAULT_WEB};
pub use commonground_web::{Asset, Assets, DirAssets};
pub use error::AppError;
pub use export::{save_file, Exported};
pub use finder::Methods;
