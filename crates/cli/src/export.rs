//! `export`: the agreed values document, written to a file safely.
//!
//! The document is built while the workshop is open and rendered after the node is closed;
//! the file is written to a temporary file beside the target, flushed to disk and renamed
//! over it, so a failure (or Ctrl-C) never leaves a half-written document behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use commonground_export::{render, Format, ValuesDocument};

use crate::select::refuse;

/// Checks, before anything is opened, that the file can be written where it was asked for.
pub(crate) fn check_output(output: &Path) -> anyhow::Result<()> {
    if output.is_dir() {
        return Err(refuse(
            "export_output",
            format!(
                "{} is a folder. Please give a file name, e.g. {}/values.pdf.",
                output.display(),
                output.display()
            ),
        ));
    }
    let folder = parent(output);
    if !folder.is_dir() {
        return Err(refuse(
            "export_output",
            format!("There is no folder {} to save the document in.", folder.display()),
        ));
    }
    Ok(())
}

fn parent(output: &Path) -> PathBuf {
    match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Renders the document and saves it, telling the person on stderr what is happening.
pub(crate) fn save(doc: &ValuesDocument, format: Format, output: &Path) -> anyhow::Result<()> {
    if format.is_slow() {
        eprintln!("Building {}…", format.label());
    }
    let rendered = render(doc, format).map_err(|e| refuse(e.kind(), e.to_string()))?;
    write_atomically(output, &rendered.bytes).map_err(|e| {
        refuse("export_write", format!("Couldn't save {} ({e}). Nothing was written.", output.display()))
    })?;
    let what = match rendered.pages {
        Some(1) => "1 page".to_owned(),
        Some(n) => format!("{n} pages"),
        None => size(rendered.bytes.len()),
    };
    eprintln!("Saved {what} to {}.", output.display());
    Ok(())
}

fn size(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

fn write_atomically(output: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = parent(output).join(format!(".{name}.{}.part", std::process::id()));
    let written = (|| {
        // A new file, never one already there (or a link someone left at that name).
        let _ = std::fs::remove_file(&temp);
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, output)?;
        // The rename itself reaches the disk only with the folder.
        std::fs::File::open(parent(output))?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}
