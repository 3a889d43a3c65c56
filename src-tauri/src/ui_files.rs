//! The UI's files for the web front door (phones and tablets), from the ones built into the
//! app: an installed app has no `ui/dist` folder to serve them from.

use std::borrow::Cow;

use commonground_app::{Asset, Assets};
use tauri::{AssetResolver, Wry};

/// The media types the web front door can name (its `Asset::mime` is `&'static str`).
const MEDIA_TYPES: [&str; 12] = [
    "text/html",
    "text/javascript",
    "application/javascript",
    "text/css",
    "application/json",
    "image/svg+xml",
    "image/png",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "font/woff2",
    "application/manifest+json",
    "text/plain",
];

/// The app's embedded UI files (in a dev build, `ui/dist` itself).
pub(crate) struct EmbeddedUi(pub(crate) AssetResolver<Wry>);

impl Assets for EmbeddedUi {
    fn get(&self, path: &str) -> Option<Asset> {
        let asset = self.0.get(path.to_owned())?;
        let wanted = asset.mime_type.split(';').next().unwrap_or_default().trim();
        let mime = MEDIA_TYPES.iter().copied().find(|m| *m == wanted).unwrap_or("application/octet-stream");
        Some(Asset { bytes: Cow::Owned(asset.bytes), mime })
    }
}
