//! The agreed values document, for windows: built from the workshop, rendered in the format
//! asked for, and named for saving.
//!
//! Every format but the PDF is rendered here. The PDF needs typst, about 40 MB of code and
//! fonts; the desktop app is built without it (the `pdf` feature) and asks the `commonground`
//! program to typeset it instead: the document goes to `commonground render --format pdf` as
//! JSON on stdin, and the PDF comes back on stdout.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use commonground_api::{ApiError, ExportFormat};
use commonground_export::{render, Format, ValuesDocument, PDF_BUILT_IN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long typesetting may take before we give up (50 values and 500 sources take ~2 s).
const PDF_TIMEOUT: Duration = Duration::from_secs(120);

/// An exported document, ready to save.
#[derive(Debug, Clone)]
pub struct Exported {
    /// A file name to suggest: the workshop's title, then what it is.
    pub file_name: String,
    /// Its media type.
    pub media_type: &'static str,
    /// The file.
    pub bytes: Vec<u8>,
}

/// The export crate's format for the contract's.
pub(crate) fn format(f: ExportFormat) -> Format {
    match f {
        ExportFormat::Pdf => Format::Pdf,
        ExportFormat::Docx => Format::Docx,
        ExportFormat::Html => Format::Html,
        ExportFormat::EasyRead => Format::EasyRead,
        ExportFormat::Markdown => Format::Markdown,
        ExportFormat::Json => Format::Json,
    }
}

/// Renders `doc` (off the async workers: the PDF and Word document take a moment).
pub(crate) async fn export(doc: ValuesDocument, format: Format) -> Result<Exported, ApiError> {
    let file_name = file_name(&doc.title, format);
    let bytes = if format == Format::Pdf && !PDF_BUILT_IN {
        pdf_through_program(&doc).await?
    } else {
        tokio::task::spawn_blocking(move || render(&doc, format))
            .await
            .map_err(|_| {
                ApiError::new("export_failed", "The export stopped unexpectedly. Please try again.")
            })?
            .map_err(|e| ApiError::new(e.kind(), e.to_string()))?
            .bytes
    };
    Ok(Exported { file_name, media_type: format.media_type(), bytes })
}

/// "living-well-design-team-values.pdf": the title in lower case, letters and digits of any
/// script kept, everything else a single hyphen.
pub(crate) fn file_name(title: &str, format: Format) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(60).collect();
    let slug = slug.trim_end_matches('-');
    let what = match format {
        Format::EasyRead | Format::EasyReadMarkdown => "values-easy-read",
        _ => "values",
    };
    let stem = if slug.is_empty() { what.to_owned() } else { format!("{slug}-{what}") };
    format!("{stem}.{}", format.extension())
}

/// The `commonground` program: `$COMMONGROUND_CLI`, else beside this program (as installed),
/// else on the PATH.
fn program() -> PathBuf {
    if let Some(p) = std::env::var_os("COMMONGROUND_CLI") {
        return PathBuf::from(p);
    }
    let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("commonground")));
    match beside {
        Some(p) if is_file(&p) => p,
        _ => PathBuf::from("commonground"),
    }
}

fn is_file(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file())
}

async fn pdf_through_program(doc: &ValuesDocument) -> Result<Vec<u8>, ApiError> {
    let missing = || {
        ApiError::new(
            "export_pdf_missing",
            "The part of Common Ground that makes PDFs couldn't be found. Please choose another format \
             (the web page prints well), or reinstall Common Ground.",
        )
    };
    let json = serde_json::to_vec(doc).map_err(|e| ApiError::new("export_json", e.to_string()))?;
    let mut child = tokio::process::Command::new(program())
        .args(["render", "--format", "pdf"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            tracing::warn!(error = %e, "couldn't start the PDF maker");
            missing()
        })?;
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(missing());
    };
    let run = async move {
        let feed = async move {
            let written = stdin.write_all(&json).await;
            drop(stdin);
            written
        };
        let (mut pdf, mut problem) = (Vec::new(), String::new());
        let (fed, read, _) =
            tokio::join!(feed, stdout.read_to_end(&mut pdf), stderr.read_to_string(&mut problem));
        let status = child.wait().await;
        (fed.and(read).and(status), pdf, problem)
    };
    let (result, pdf, problem) = tokio::time::timeout(PDF_TIMEOUT, run).await.map_err(|_| {
        ApiError::new("export_pdf", "Making the PDF took too long, so it was stopped. Please try again.")
    })?;
    match result {
        Ok(status) if status.success() && pdf.starts_with(b"%PDF") => Ok(pdf),
        Ok(_) | Err(_) => {
            // The program's own message is plain English (it is ours); keep its last line.
            let said = problem.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned();
            tracing::warn!("the PDF maker failed");
            Err(ApiError::new(
                "export_pdf",
                if said.is_empty() {
                    "Couldn't make the PDF. Please try again, or choose another format.".to_owned()
                } else {
                    format!("Couldn't make the PDF: {said}")
                },
            ))
        }
    }
}

/// Writes `bytes` to `path` whole or not at all: a new temporary file beside it, flushed to
/// disk, then renamed over it (and the folder flushed, so the rename survives a power cut).
pub fn save_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = folder.join(format!(".{name}.{}.part", std::process::id()));
    let written = (|| {
        // A new file, never one already there (or a link someone left at that name).
        let _ = std::fs::remove_file(&temp);
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(&folder)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_the_title() {
        assert_eq!(file_name("Living Well design team", Format::Pdf), "living-well-design-team-values.pdf");
        assert_eq!(file_name("  Café — “Voices” 2026! ", Format::Docx), "café-voices-2026-values.docx");
        assert_eq!(file_name("Living Well", Format::EasyRead), "living-well-values-easy-read.html");
        assert_eq!(file_name("???", Format::Markdown), "values.md");
        assert_eq!(file_name("../../etc/passwd", Format::Json), "etc-passwd-values.json");
    }

    #[test]
    fn a_file_is_saved_whole_and_replaces_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("values.md");
        std::fs::write(&path, "old").unwrap();
        save_file(&path, b"new words").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new words");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "no temporary file left behind: {left:?}");
    }

    #[test]
    fn a_folder_that_isnt_there_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        assert!(save_file(&dir.path().join("missing").join("values.md"), b"x").is_err());
    }
}
