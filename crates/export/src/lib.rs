//! The agreed values document: what a group agreed, how and by whom, for commissioners and
//! boards.
//!
//! [`ValuesDocument::build`] reads a workshop once into one deterministic structure (agreed
//! values with their sources, wording history, challenges and consent record; drafts marked as
//! drafts; open challenges; participation counts; a data statement and a hash). [`render`]
//! lays that structure out as Markdown (the master), accessible HTML, a tagged PDF, a Word
//! document, an easy-read version or JSON.
//!
//! Sans-IO: nothing here reads a clock, a file or the network. Rendering returns bytes; the
//! caller decides where they go (and writes them safely).

#![deny(missing_docs)]

mod date;
mod document;
mod docx;
mod easy_read;
mod error;
mod html;
mod markdown;
#[cfg(feature = "pdf")]
mod pdf;
mod words;

use std::str::FromStr;

pub use date::Day;
pub use document::{
    AgreedValue, Asynchronous, Author, Challenge, ConsentRecord, DataFacts, DocumentStatus, DraftValue,
    Objection, ParticipationCounts, PerspectiveCount, Reasoned, Response, SessionLine, Source, Tally,
    ValuesDocument, WordingStep, DOCUMENT_FORMAT, REVIEW_AFTER_MONTHS,
};
pub use error::{ExportError, Result};

/// A format the values document can be exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Markdown, the master format.
    Markdown,
    /// One self-contained, accessible HTML page with a print stylesheet.
    Html,
    /// A tagged PDF (PDF/UA-1), typeset with embedded fonts.
    Pdf,
    /// A Word document.
    Docx,
    /// The easy-read version as an HTML page in large type.
    EasyRead,
    /// The easy-read version as Markdown.
    EasyReadMarkdown,
    /// The document's data as JSON.
    Json,
}

impl Format {
    /// Every format, in the order the CLI lists them.
    pub const ALL: [Format; 7] = [
        Format::Markdown,
        Format::Html,
        Format::Pdf,
        Format::Docx,
        Format::EasyRead,
        Format::EasyReadMarkdown,
        Format::Json,
    ];

    /// The name used on the command line (`md`, `html`, `pdf`, `docx`, `easy-read`,
    /// `easy-read-md`, `json`).
    pub fn key(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::EasyRead => "easy-read",
            Format::EasyReadMarkdown => "easy-read-md",
            Format::Json => "json",
        }
    }

    /// The usual file extension, for a save dialog.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown | Format::EasyReadMarkdown => "md",
            Format::Html | Format::EasyRead => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Json => "json",
        }
    }

    /// The media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Markdown | Format::EasyReadMarkdown => "text/markdown; charset=utf-8",
            Format::Html | Format::EasyRead => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
            Format::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Format::Json => "application/json",
        }
    }

    /// The format in words, for progress messages ("the PDF").
    pub fn label(self) -> &'static str {
        match self {
            Format::Markdown => "the Markdown",
            Format::Html => "the web page",
            Format::Pdf => "the PDF",
            Format::Docx => "the Word document",
            Format::EasyRead => "the easy-read page",
            Format::EasyReadMarkdown => "the easy-read Markdown",
            Format::Json => "the JSON",
        }
    }

    /// Whether making it can take long enough to show progress for.
    pub fn is_slow(self) -> bool {
        matches!(self, Format::Pdf | Format::Docx)
    }
}

/// A format name that isn't one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there is no format \"{0}\"; choose md, html, pdf, docx, easy-read, easy-read-md or json")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let wanted = s.trim().to_lowercase();
        let wanted = match wanted.as_str() {
            "markdown" => "md",
            "word" => "docx",
            "easy" | "easyread" | "easy-read-html" => "easy-read",
            other => other,
        };
        Format::ALL.into_iter().find(|f| f.key() == wanted).ok_or_else(|| UnknownFormat(s.trim().to_owned()))
    }
}

/// An exported document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The file's contents.
    pub bytes: Vec<u8>,
    /// How many pages, for formats that have pages (the PDF).
    pub pages: Option<usize>,
}

/// Renders the document in one format.
pub fn render(doc: &ValuesDocument, format: Format) -> Result<Rendered> {
    let text = |s: String| Ok(Rendered { bytes: s.into_bytes(), pages: None });
    match format {
        Format::Markdown => text(markdown::render(doc) + "\n"),
        Format::Html => text(html::render(doc)),
        Format::EasyRead => text(easy_read::html(doc)),
        Format::EasyReadMarkdown => text(easy_read::markdown(doc) + "\n"),
        Format::Json => Ok(Rendered { bytes: serde_json::to_vec_pretty(doc)?, pages: None }),
        Format::Docx => Ok(Rendered { bytes: docx::render(doc)?, pages: None }),
        #[cfg(feature = "pdf")]
        Format::Pdf => {
            let pdf = pdf::render(doc)?;
            Ok(Rendered { bytes: pdf.bytes, pages: Some(pdf.pages) })
        }
        #[cfg(not(feature = "pdf"))]
        Format::Pdf => Err(ExportError::PdfNotBuiltIn),
    }
}

/// Whether this build can make PDFs itself (the `pdf` feature).
pub const PDF_BUILT_IN: bool = cfg!(feature = "pdf");

/// The typst markup the PDF is made from (for checking and debugging the layout).
#[cfg(feature = "pdf")]
pub fn typst_source(doc: &ValuesDocument) -> String {
    pdf::source(doc)
}

/// Typesets plain paragraphs to a PDF with the same fonts and settings but none of the
/// document's structure: the benchmark's baseline. Not for the app.
#[doc(hidden)]
#[cfg(feature = "pdf")]
pub fn plain_pdf(paragraphs: &[String]) -> Result<Rendered> {
    let mut markup = String::from(
        "#set document(title: \"Baseline\")\n#set text(font: \"Libertinus Serif\", size: 12pt, lang: \"en\", region: \"GB\")\n#set page(paper: \"a4\", margin: 2.2cm)\n",
    );
    for p in paragraphs {
        let escaped = p.replace('\\', "\\\\").replace('"', "\\\"");
        markup.push_str(&format!("#\"{escaped}\";\n\n"));
    }
    let pdf = pdf::typeset(markup, "baseline", false)?;
    Ok(Rendered { bytes: pdf.bytes, pages: Some(pdf.pages) })
}
