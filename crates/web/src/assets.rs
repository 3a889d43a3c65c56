//! The UI's files, from wherever the caller keeps them.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

/// One file of the UI.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Its bytes.
    pub bytes: Cow<'static, [u8]>,
    /// Its media type.
    pub mime: &'static str,
}

/// Where the UI's built files come from.
pub trait Assets: Send + Sync + 'static {
    /// The file at `path` (relative, `/`-separated, e.g. `index.html`, `assets/app.js`).
    fn get(&self, path: &str) -> Option<Asset>;
}

/// The UI's files in a folder (`ui/dist`).
#[derive(Debug, Clone)]
pub struct DirAssets {
    root: PathBuf,
}

impl DirAssets {
    /// Files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Whether the folder holds a built UI.
    pub fn is_built(&self) -> bool {
        self.root.join("index.html").is_file()
    }
}

impl Assets for DirAssets {
    fn get(&self, path: &str) -> Option<Asset> {
        let relative = Path::new(path);
        // Only plain names: no `..`, no absolute paths, so no file outside the folder.
        if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
            return None;
        }
        let bytes = std::fs::read(self.root.join(relative)).ok()?;
        Some(Asset { bytes: Cow::Owned(bytes), mime: mime_for(path) })
    }
}

/// The media type for a file name.
pub(crate) fn mime_for(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_the_folder_are_served() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<p>hi</p>").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/app.js"), "1").unwrap();
        let assets = DirAssets::new(dir.path());
        assert!(assets.is_built());
        assert_eq!(assets.get("index.html").unwrap().mime, "text/html; charset=utf-8");
        assert_eq!(&*assets.get("assets/app.js").unwrap().bytes, b"1");
        for bad in ["../index.html", "/etc/passwd", "assets/../../x", "missing.js", ""] {
            assert!(assets.get(bad).is_none(), "{bad}");
        }
    }
}
