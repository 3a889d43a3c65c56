//! The front-door contract: what a window (the desktop app, or a browser on a phone) asks of
//! the laptop it talks to, around the per-workshop [`Command`]s.
//!
//! The desktop window sends these over Tauri IPC; a browser sends them over the web front
//! door's encrypted WebSocket. Both get a [`FrontReply`] or an [`ApiError`], and follow
//! [`Notice`]s after that.

use commonground_workshop::{Colour, ParticipantId, WorkshopId};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Command, Event, Reply};

/// A request from a window to its laptop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export_to = "Request.ts")]
pub enum Request {
    /// Which door this is and which workshops it can open. Reply: `welcome`.
    Hello,
    /// Starts a workshop with this person as its facilitator (desktop only). Reply: `opened`.
    CreateWorkshop {
        /// The title.
        title: String,
        /// What the group is here to do.
        purpose: String,
        /// The ground rules, in order (the window pre-fills the defaults).
        ground_rules: Vec<String>,
        /// The facilitator's first name.
        name: String,
        /// Their colour.
        colour: Colour,
    },
    /// Laptops nearby running Common Ground that this one could join (desktop only).
    /// Announcements carry no titles or names, so these are addresses. Reply: `nearby`.
    FindNearby,
    /// Joins with the 6-digit code shown on the facilitator's laptop at `address`
    /// (desktop only). Reply: `opened`.
    JoinByCode {
        /// The facilitator's laptop, `192.168.1.20:41235` or from [`FrontReply::Nearby`].
        address: String,
        /// The code, with or without its space.
        code: String,
        /// The first name.
        name: String,
        /// Their colour.
        colour: Colour,
    },
    /// Joins with an invite link (desktop only). Reply: `opened`.
    JoinByLink {
        /// The link, `commonground:…` as shown or scanned.
        link: String,
        /// The first name.
        name: String,
        /// Their colour.
        colour: Colour,
    },
    /// What the facilitator shows so people can join: QR codes, the code, the address.
    /// Reply: `invite`.
    Invite {
        /// The workshop.
        #[ts(type = "string")]
        workshop: WorkshopId,
    },
    /// Who is connected and how syncing is going. Reply: `connection`.
    Connection {
        /// The workshop.
        #[ts(type = "string")]
        workshop: WorkshopId,
    },
    /// The agreed values document in one format, to save or download. Reply: `exported`.
    Export {
        /// The workshop.
        #[ts(type = "string")]
        workshop: WorkshopId,
        /// Which format.
        format: ExportFormat,
    },
    /// How this laptop keeps the workshop in step away from the room: a shared folder, a sync
    /// server. Reply: `away`.
    Away {
        /// The workshop.
        #[ts(type = "string")]
        workshop: WorkshopId,
    },
    /// Syncs the workshop through a shared folder on this laptop, or stops (`None`)
    /// (the laptop's own person only). Reply: `away`.
    SetFolder {
        /// The workshop.
        #[ts(type = "string")]
        workshop: WorkshopId,
        /// The folder's full path.
        folder: Option<String>,
    },
    /// Syncs the workshop through an automerge-repo sync server (`ws://host:port`), or stops
    /// (`None`) (the laptop's own person only). Such a server can read the workshop. Reply:
    /// `away`.
    SetSyncServer {
        /// The workshop.
        #[ts(type = "string")]
        workshop: WorkshopId,
        /// The server's address.
        url: Option<String>,
    },
    /// A command for one workshop. Reply: `workshop`. Its changes arrive as notices.
    Workshop {
        /// The workshop.
        #[ts(type = "string")]
        workshop: WorkshopId,
        /// The command.
        command: Command,
    },
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export_to = "FrontReply.ts")]
pub enum FrontReply {
    /// Which door this is and the workshops it can open.
    Welcome {
        /// The desktop app or a browser.
        door: Door,
        /// The workshops, newest first.
        workshops: Vec<WorkshopSummary>,
    },
    /// A workshop is ready to open.
    Opened {
        /// Its id.
        #[ts(type = "string")]
        workshop: WorkshopId,
    },
    /// Laptops found nearby.
    Nearby {
        /// What was found, nearest first.
        laptops: Vec<NearbyLaptop>,
    },
    /// The invite screen.
    Invite(Box<InviteView>),
    /// The connection state.
    Connection(ConnectionView),
    /// A workshop command's reply.
    Workshop {
        /// The reply.
        reply: Reply,
    },
    /// An exported document.
    Exported {
        /// A file name to suggest (the workshop's title and the format's extension).
        file_name: String,
        /// Its media type (`application/pdf`).
        media_type: String,
        /// The file's bytes, base64.
        base64: String,
    },
    /// How the workshop is kept in step away from the room.
    Away(AwayView),
}

/// A format the agreed values document can be exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "ExportFormat.ts")]
pub enum ExportFormat {
    /// A tagged, accessible PDF.
    Pdf,
    /// A Word document.
    Docx,
    /// One accessible web page.
    Html,
    /// The easy-read version, as a web page in large type.
    EasyRead,
    /// Markdown.
    Markdown,
    /// The data, as JSON.
    Json,
}

/// How a workshop is kept in step away from the room, on this laptop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export_to = "AwayView.ts")]
pub struct AwayView {
    /// Whether this window may change these (the laptop's own person; not a phone).
    pub can_change: bool,
    /// The shared folder it syncs through, if any.
    pub folder: Option<String>,
    /// What went wrong with the folder last time, in plain English.
    pub folder_problem: Option<String>,
    /// The sync server it syncs through, if any.
    pub server: Option<String>,
    /// Whether the sync server is connected now.
    pub server_connected: bool,
}

/// Which kind of window this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "Door.ts")]
pub enum Door {
    /// The desktop app on the laptop itself: can create and join workshops.
    Desktop,
    /// A browser (a phone or tablet, or this laptop's own browser) let in by an invite.
    Browser,
}

/// A workshop a window can open.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export_to = "WorkshopSummary.ts")]
pub struct WorkshopSummary {
    /// Its id.
    #[ts(type = "string")]
    pub id: WorkshopId,
    /// Its title.
    pub title: String,
    /// The person's first name there, once joined.
    pub name: Option<String>,
    /// Whether the person facilitates it.
    pub facilitator: bool,
}

/// A laptop nearby running Common Ground.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export_to = "NearbyLaptop.ts")]
pub struct NearbyLaptop {
    /// Where it listens, for [`Request::JoinByCode`].
    pub address: String,
    /// How it was found, in words: "found on this network".
    pub found: String,
}

/// The facilitator's invite screen.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export_to = "InviteView.ts")]
pub struct InviteView {
    /// The invite link for laptops (the text of `link_qr_svg`). It carries the workshop's
    /// secret: show it only in the room.
    pub link: String,
    /// A QR code of the link, as an SVG document.
    pub link_qr_svg: String,
    /// The 6-digit code, as shown: `"042 917"`.
    pub code: String,
    /// How long the code still works, in milliseconds.
    #[ts(type = "number")]
    pub code_expires_in_ms: u64,
    /// Where this laptop can be reached, for typing in.
    pub addresses: Vec<String>,
    /// The web page phones and tablets open to join with no install (the text of
    /// `phone_qr_svg`), when the web front door is running.
    pub phone_url: Option<String>,
    /// A QR code of the phone page, as an SVG document.
    pub phone_qr_svg: Option<String>,
}

/// Who is connected and how syncing is going, for the presence panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export_to = "ConnectionView.ts")]
pub struct ConnectionView {
    /// People whose laptop (or phone, through this laptop) is connected now, including this
    /// person.
    pub here: Vec<ParticipantId>,
    /// Other laptops connected to this one.
    pub laptops: u32,
    /// Phones and tablets connected through this laptop.
    pub phones: u32,
    /// The state, for styling.
    pub state: SyncState,
    /// The state in plain words: "Everyone's up to date".
    pub words: String,
}

/// How syncing is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "SyncState.ts")]
pub enum SyncState {
    /// Connected to at least one other laptop; changes flow.
    Connected,
    /// No other laptop reachable: working offline, changes are safe here.
    Offline,
    /// A laptop turned this one away (removed, or an old invite).
    Refused,
}

/// Something a window should show without having asked: a change to a workshop's view, or to
/// who is connected.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export_to = "Notice.ts")]
pub enum Notice {
    /// The view changed (another laptop's edit, or this window's own).
    View {
        /// The workshop.
        #[ts(type = "string")]
        workshop: WorkshopId,
        /// What changed.
        event: Event,
    },
    /// Who is connected changed.
    Connection {
        /// The workshop.
        #[ts(type = "string")]
        workshop: WorkshopId,
        /// The state now.
        connection: ConnectionView,
    },
    /// Too much changed at once to send piece by piece: fetch a fresh snapshot.
    Reload {
        /// The workshop.
        #[ts(type = "string")]
        workshop: WorkshopId,
    },
}
