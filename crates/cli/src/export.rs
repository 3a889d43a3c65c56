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

/// Reads a values document as JSON from stdin and renders it, to `output` or stdout.
pub(crate) fn render_stdin(format: Format, output: Option<&Path>) -> anyhow::Result<()> {
    use std::io::Read;
    let mut json = String::new();
    std::io::stdin()
        .read_to_string(&mut json)
        .map_err(|e| refuse("render_input", format!("Couldn't read the document from stdin ({e}).")))?;
    let doc: ValuesDocument = serde_json::from_str(&json).map_err(|e| {
        refuse(
            "render_input",
            format!("That isn't a values document as `commonground export --format json` writes it ({e})."),
        )
    })?;
    match output {
        Some(output) => save(&doc, format, output),
        None => {
            let rendered = render(&doc, format).map_err(|e| refuse(e.kind(), e.to_string()))?;
            let mut out = std::io::stdout().lock();
            out.write_all(&rendered.bytes).and_then(|()| out.flush()).map_err(|e| {
                refuse("render_write", format!("Couldn't write the document to stdout ({e})."))
            })?;
            Ok(())
        }
    }
}

/// Renders the document and saves it, telling the person on stderr what is happening.
pub(crate) fn save(doc: &ValuesDocument, format: Format, output: &Path) -> anyhow::Result<()> {
    if format.is_slow() {
        eprintln!("Building {}…", format.label());
    }
    let rendered = render(doc, format).map_err(|e| refuse(e.kind(), e.to_string()))?;
    commonground_app::save_file(output, &rendered.bytes).map_err(|e| {
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
