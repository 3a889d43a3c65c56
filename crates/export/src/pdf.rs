//! The tagged PDF, typeset by typst in-process.
//!
//! The document is written as typst markup in which every piece of text people wrote is a
//! string literal (`#"…";`), so nothing anyone typed can be read as markup or code. The
//! fonts are the ones typst-assets embeds in the binary (Libertinus Serif), so exporting
//! needs no network and no system fonts, and gives the same PDF on every laptop. typst-pdf
//! writes a tagged PDF (headings, lists, tables with header cells, reading order) and we ask
//! it to check PDF/UA-1 conformance, which also needs the title and language we set.

use std::sync::OnceLock;

use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards};

use crate::document::{Challenge, ConsentRecord, Source as NoteSource, ValuesDocument, WordingStep};
use crate::error::{ExportError, Result};
use crate::words;
use crate::words::consent_reasons;

/// A typst string literal for text people wrote, ended with `;` so that what follows (a full
/// stop, say) is never read as part of the expression.
fn s(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    out.push_str("#\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push_str("\";");
    out
}

/// A typst string value (without the `#`, for function arguments).
fn arg(text: &str) -> String {
    let lit = s(text);
    lit[1..lit.len() - 1].to_owned()
}

/// The typst markup for the whole document.
pub(crate) fn source(doc: &ValuesDocument) -> String {
    let mut o = String::new();
    let date = match doc.date_agreed {
        Some(d) => format!("datetime(year: {}, month: {}, day: {})", d.year, d.month, d.day),
        None => "none".to_owned(),
    };
    o.push_str(&format!(
        "#set document(title: {}, date: {date})\n\
         #set text(font: \"Libertinus Serif\", size: 12pt, lang: \"en\", region: \"GB\")\n\
         #set page(paper: \"a4\", margin: 2.2cm, numbering: \"1\")\n\
         #set par(justify: false, leading: 0.75em, spacing: 1.1em)\n\
         #set heading(numbering: none)\n\
         #show heading.where(level: 1): set text(size: 24pt)\n\
         #show heading.where(level: 2): set text(size: 17pt)\n\
         #show heading.where(level: 3): set text(size: 14pt)\n\
         #show heading.where(level: 4): set text(size: 12pt)\n\
         #show heading: set block(above: 1.4em, below: 0.8em)\n\n",
        arg(&format!("{}: agreed values", doc.title))
    ));
    o.push_str(&format!("= {}\n\n", s(&doc.title)));
    if !doc.purpose.is_empty() {
        o.push_str(&format!("{}\n\n", s(&doc.purpose)));
    }
    for (label, value) in words::facts(doc) {
        o.push_str(&format!("- *{label}:* {}\n", s(&value)));
    }
    o.push('\n');

    o.push_str("== Ground rules\n\n");
    if doc.ground_rules.is_empty() {
        o.push_str("The group set no ground rules.\n\n");
    }
    for rule in &doc.ground_rules {
        o.push_str(&format!("+ {}\n", s(rule)));
    }
    o.push('\n');

    o.push_str("== Our agreed values\n\n");
    if doc.values.is_empty() {
        o.push_str("No values have been agreed yet.\n\n");
    }
    for v in &doc.values {
        o.push_str(&format!("=== {}. {}\n\n", v.number, s(&v.statement)));
        behaviours(&mut o, &v.behaviours);
        easy(&mut o, &v.easy_read);
        o.push_str(&format!("Agreed on {} (version {}).\n\n", v.agreed_on.long(), v.version));
        if let Some(next) = &v.reworking {
            o.push_str(&format!(
                "*Being reworded (not agreed yet):* the group is discussing a new wording: “{}”\n\n",
                s(next)
            ));
        }
        sources(&mut o, &v.sources);
        history(&mut o, &v.history);
        challenges(&mut o, &v.challenges);
        if let Some(c) = &v.consent {
            consent(&mut o, c, &format!("Consent record for value {}", v.number));
        }
    }

    o.push_str("== Values still in draft\n\n");
    if doc.drafts.is_empty() {
        o.push_str("There are no drafts: every value in this document is agreed.\n\n");
    } else {
        o.push_str(
            "*These are drafts. They have not been agreed* and are listed so that readers can see \
             what the group is still working on.\n\n",
        );
    }
    for (i, d) in doc.drafts.iter().enumerate() {
        let stage = if d.in_consent { "in a consent round now" } else { "being drafted" };
        o.push_str(&format!(
            "=== Draft {}: {}\n\n*Draft, not agreed* ({stage}).\n\n",
            i + 1,
            s(&d.statement)
        ));
        behaviours(&mut o, &d.behaviours);
        easy(&mut o, &d.easy_read);
        sources(&mut o, &d.sources);
        history(&mut o, &d.history);
        challenges(&mut o, &d.challenges);
        if let Some(c) = &d.latest_round {
            consent(&mut o, c, &format!("Latest consent round for draft {}", i + 1));
        }
    }

    o.push_str("== Open challenges\n\n");
    if doc.open_challenges.is_empty() {
        o.push_str("No challenges are open.\n\n");
    }
    challenge_list(&mut o, &doc.open_challenges, true);

    paragraphs(&mut o, "Who took part", &words::participation(doc));
    paragraphs(&mut o, "Taking part from afar", &words::asynchronous(doc));
    paragraphs(&mut o, "About this document", &words::data_statement(doc));
    o
}

fn paragraphs(o: &mut String, title: &str, lines: &[String]) {
    o.push_str(&format!("== {title}\n\n"));
    for line in lines {
        o.push_str(&format!("{}\n\n", s(line)));
    }
}

fn behaviours(o: &mut String, list: &[String]) {
    if list.is_empty() {
        return;
    }
    o.push_str("What we will do:\n\n");
    for b in list {
        o.push_str(&format!("- {}\n", s(b)));
    }
    o.push('\n');
}

fn easy(o: &mut String, line: &str) {
    if !line.trim().is_empty() {
        o.push_str(&format!("*In easy words:* {}\n\n", s(line)));
    }
}

fn sources(o: &mut String, list: &[NoteSource]) {
    o.push_str("==== Where it came from\n\n");
    if list.is_empty() {
        o.push_str("No notes are linked to it.\n\n");
        return;
    }
    for n in list {
        o.push_str(&format!("- “{}” ({})\n", s(&n.text), s(words::author(&n.author))));
    }
    o.push('\n');
}

fn history(o: &mut String, steps: &[WordingStep]) {
    o.push_str("==== How the wording changed\n\n");
    if steps.is_empty() {
        o.push_str("No consent round has been held on it yet.\n\n");
        return;
    }
    for st in steps {
        let line = format!(
            "Version {}, asked on {}: “{}”: {}.",
            st.version,
            st.asked_on.long(),
            st.statement,
            words::outcome(st.outcome)
        );
        o.push_str(&format!("+ {}\n", s(&line)));
    }
    o.push('\n');
}

fn challenges(o: &mut String, list: &[Challenge]) {
    o.push_str("==== Challenges and their outcomes\n\n");
    if list.is_empty() {
        o.push_str("No challenges were raised on it.\n\n");
        return;
    }
    challenge_list(o, list, false);
}

fn challenge_list(o: &mut String, list: &[Challenge], with_target: bool) {
    for c in list {
        o.push_str(&format!("- {}\n", s(&words::challenge_line(c, with_target))));
        for r in &c.responses {
            o.push_str(&format!("  - {}\n", s(&words::response_line(r))));
        }
    }
    if !list.is_empty() {
        o.push('\n');
    }
}

fn consent(o: &mut String, c: &ConsentRecord, caption: &str) {
    let closed = c.closed_on.map_or_else(|| "still open".to_owned(), |d| format!("closed on {}", d.long()));
    o.push_str(&format!(
        "==== {caption}\n\n{}\n\n",
        s(&format!(
            "Asked on {}, {closed}: {}. {} needed, {} given.",
            c.opened_on.long(),
            words::outcome(c.outcome),
            words::n(c.quorum, "stance", "stances"),
            c.tally.total()
        ))
    ));
    let rows = words::consent_rows(c).map(|(label, count, who)| (label, count, arg(&who)));
    // A figure gives the table its caption; the header row is tagged as header cells.
    o.push_str(&format!(
        "#figure(kind: table, caption: {},\n  table(columns: (auto, auto, 1fr), align: (left, right, left), inset: 6pt,\n    table.header([*Stance*], [*Number*], [*Who*]),\n",
        arg(caption)
    ));
    for (label, count, who) in rows {
        o.push_str(&format!("    [{label}], [{count}], {who},\n"));
    }
    o.push_str("  ))\n\n");
    let reasons = consent_reasons(c);
    if !reasons.is_empty() {
        o.push_str("Reasons given:\n\n");
        for r in reasons {
            o.push_str(&format!("- {}\n", s(&r)));
        }
        o.push('\n');
    }
    if c.arrived_late > 0 {
        o.push_str(&format!(
            "{} arrived after the round closed and did not count.\n\n",
            words::n(c.arrived_late, "stance", "stances")
        ));
    }
}

/// The embedded fonts and the standard library, parsed once per process: both are the same
/// for every export.
struct Shared {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let fonts: Vec<Font> = typst_assets::fonts().flat_map(|data| Font::iter(Bytes::new(data))).collect();
        Shared {
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
        }
    })
}

/// A world with one file (the document) and the embedded fonts: no file system, no packages,
/// no network.
struct OneFile {
    shared: &'static Shared,
    main: FileId,
    source: Source,
}

impl OneFile {
    fn new(text: String) -> OneFile {
        let path = VirtualPath::new("main.typ").unwrap_or_else(|_| unreachable!("a fixed, valid path"));
        let main = RootedPath::new(VirtualRoot::Project, path).intern();
        OneFile { shared: shared(), main, source: Source::new(main, text) }
    }
}

impl World for OneFile {
    fn library(&self) -> &LazyHash<Library> {
        &self.shared.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.shared.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main {
            Ok(self.source.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.main {
            Ok(Bytes::from_string(self.source.clone()))
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.shared.fonts.get(index).cloned()
    }

    // The document never asks for today's date: it would make exports differ by day.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

fn diagnostics(errors: &[SourceDiagnostic]) -> String {
    errors.iter().take(3).map(|e| e.message.to_string()).collect::<Vec<_>>().join("; ")
}

/// A typeset PDF.
pub(crate) struct Pdf {
    pub bytes: Vec<u8>,
    pub pages: usize,
}

/// Typesets typst markup to a tagged PDF, checked against PDF/UA-1 when `ua` is set.
pub(crate) fn typeset(markup: String, ident: &str, ua: bool) -> Result<Pdf> {
    let world = OneFile::new(markup);
    let compiled = typst::compile::<PagedDocument>(&world).output;
    let document = compiled.map_err(|e| ExportError::Pdf(diagnostics(&e)))?;
    let standards = if ua { vec![PdfStandard::Ua_1] } else { Vec::new() };
    let options = PdfOptions {
        ident: Smart::Custom(ident.to_owned()),
        // Fixed, so that the same workshop gives the same bytes with any build of typst.
        creator: Smart::Custom(Some("Common Ground".to_owned())),
        standards: PdfStandards::new(&standards).map_err(|e| ExportError::Pdf(e.message().to_string()))?,
        tagged: true,
        ..PdfOptions::default()
    };
    let bytes = typst_pdf::pdf(&document, &options).map_err(|e| ExportError::Pdf(diagnostics(&e)))?;
    let pages = document.pages().len();
    // typst memoises layout work across compilations; an app exports rarely, so free it
    // rather than keep it for the life of the process.
    typst::comemo::evict(0);
    Ok(Pdf { bytes, pages })
}

pub(crate) fn render(doc: &ValuesDocument) -> Result<Pdf> {
    typeset(source(doc), &doc.hash, true)
}
