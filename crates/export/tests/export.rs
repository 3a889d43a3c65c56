//! The values document for a fixture workshop, in every format: snapshots of the Markdown and
//! HTML, the PDF's text and tags read back with poppler, the Word document unzipped and read.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;

use commonground_export::{render, Author, DocumentStatus, Format, ValuesDocument};
use expect_test::expect_file;

fn document() -> ValuesDocument {
    ValuesDocument::build(&common::workshop())
}

fn text(format: Format) -> String {
    String::from_utf8(render(&document(), format).unwrap().bytes).unwrap()
}

/// Guards the snapshot of the master format (`UPDATE_EXPECT=1` refreshes it).
#[test]
fn markdown_snapshot() {
    expect_file!["snapshots/values.md"].assert_eq(&text(Format::Markdown));
}

/// Guards the snapshot of the accessible HTML (`UPDATE_EXPECT=1` refreshes it).
#[test]
fn html_snapshot() {
    expect_file!["snapshots/values.html"].assert_eq(&text(Format::Html));
}

/// Guards the snapshots of the easy-read version (`UPDATE_EXPECT=1` refreshes them); the HTML
/// one is also what `tests/export/axe.mjs` checks in Chromium.
#[test]
fn easy_read_snapshots() {
    expect_file!["snapshots/easy-read.md"].assert_eq(&text(Format::EasyReadMarkdown));
    expect_file!["snapshots/easy-read.html"].assert_eq(&text(Format::EasyRead));
}

/// Guards the document's content: agreed vs draft, the consent record, anonymity, order.
#[test]
fn the_document_says_what_was_agreed_and_how() {
    let doc = document();
    assert_eq!(doc.status, DocumentStatus::AgreedInPart);
    assert_eq!(doc.values.len(), 2);
    assert_eq!(doc.drafts.len(), 1);
    assert_eq!(doc.version, 2, "two agreements");
    assert_eq!(doc.date_agreed.unwrap().long(), "28 September 2026");
    assert_eq!(doc.review_date.unwrap().long(), "28 September 2027");

    let listen = &doc.values[0];
    assert_eq!(listen.statement, "We listen first");
    let consent = listen.consent.as_ref().unwrap();
    assert_eq!(consent.agreed, ["Amina", "Jo", "Sarah", "Tom"]);
    assert_eq!(consent.reservations[0].name, "Kwame");
    assert_eq!(consent.stood_aside[0].reason.as_deref(), Some("I won't be here after March"));
    assert_eq!(consent.objections[0].name, "Priya");
    assert_eq!(consent.tally.total(), 7);
    let authors: Vec<&Author> = listen.sources.iter().map(|s| &s.author).collect();
    assert!(authors.contains(&&Author::Anonymous), "the anonymous note stays anonymous");
    assert_eq!(listen.sources.len(), 3, "the withdrawn source is left out");

    let us = &doc.values[1];
    assert_eq!(us.statement, "Nothing about us without us");
    assert_eq!(us.history.len(), 2);
    assert_eq!(us.reworking.as_deref(), Some("Nothing about us, without us, ever"));
    assert_eq!(doc.drafts[0].statement, "Plain words, always");
    assert_eq!(doc.open_challenges.len(), 1);
    assert_eq!(doc.asynchronous.people, ["Lin"]);
    assert_eq!(doc.asynchronous.anonymous_contributions, 1);
    assert_eq!(doc.data.devices, 5);
}

/// Guards determinism and the hash: same workshop, same bytes; the JSON checks out.
#[test]
fn the_same_workshop_gives_the_same_document_and_hash() {
    let a = document();
    let b = document();
    assert_eq!(a, b);
    assert!(a.hash_is_valid());
    assert_eq!(a.hash.len(), 64);
    let json = render(&a, Format::Json).unwrap().bytes;
    let back: ValuesDocument = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, a);
    assert!(back.hash_is_valid());
    let mut changed = back.clone();
    changed.values[0].statement.push('!');
    assert!(!changed.hash_is_valid(), "an edited copy no longer matches its hash");
    assert_eq!(render(&a, Format::Docx).unwrap(), render(&b, Format::Docx).unwrap());
}

/// Guards the rule that withdrawn notes never appear, in any format.
#[test]
fn withdrawn_notes_never_appear_in_any_format() {
    let doc = document();
    for format in Format::ALL {
        let bytes = render(&doc, format).unwrap().bytes;
        let readable = match format {
            Format::Docx => docx_xml(&bytes),
            Format::Pdf => pdf_text(&bytes),
            _ => String::from_utf8(bytes).unwrap(),
        };
        assert!(!readable.contains("WITHDRAWN-NOTE"), "{format:?} shows a withdrawn note");
        assert!(!readable.contains("something I took back"), "{format:?} shows a withdrawn note");
    }
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().unwrap();
    assert!(found.status.success(), "{name} is needed for this test: install poppler-utils");
    Command::new(name)
}

fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("values.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = tool("pdftotext").arg("-layout").arg(&path).arg("-").output().unwrap();
    assert!(out.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Guards the PDF: its text reads back, it is tagged, and it declares its title and language.
#[test]
fn the_pdf_reads_back_and_is_tagged() {
    let rendered = render(&document(), Format::Pdf).unwrap();
    assert!(rendered.pages.unwrap() >= 2);
    let text = pdf_text(&rendered.bytes);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Living Well design team",
        "Ground rules",
        "Our agreed values",
        "1. We listen first",
        "We will let people finish what they are saying",
        "In easy words: We listen to you.",
        "Consent record for value 1",
        "Kwame agreed with reservations: “Listening takes time we are not funded for”.",
        "Lin stood aside: “I won't be here after March”.",
        "Values still in draft",
        "Draft 1: Plain words, always",
        "Open challenges",
        "Who took part",
        "About this document",
    ] {
        assert!(flat.contains(expected), "the PDF lacks {expected:?}:\n{text}");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("values.pdf");
    std::fs::write(&path, &rendered.bytes).unwrap();
    let info = tool("pdfinfo").arg(&path).output().unwrap();
    let info = String::from_utf8(info.stdout).unwrap();
    assert!(info.lines().any(|l| l.starts_with("Tagged:") && l.ends_with("yes")), "not tagged:\n{info}");
    assert!(info.contains("Title:") && info.contains("Living Well design team: agreed values"), "{info}");
    // The structure tree: headings, lists and a table with header cells.
    let structure = tool("pdfinfo").arg("-struct").arg(&path).output().unwrap();
    let structure = String::from_utf8(structure.stdout).unwrap();
    for tag in ["H1", "H2", "H3", "L", "LI", "Table", "TH", "TD"] {
        assert!(
            structure.lines().any(|l| l.trim_start().starts_with(tag)),
            "no {tag} in the structure tree:\n{structure}"
        );
    }
}

fn docx_xml(docx: &[u8]) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(docx)).unwrap();
    let mut xml = String::new();
    archive.by_name("word/document.xml").unwrap().read_to_string(&mut xml).unwrap();
    xml
}

/// Guards the Word document: real heading styles, lists, the consent table, and the text.
#[test]
fn the_word_document_reads_back_with_headings_lists_and_a_table() {
    let bytes = render(&document(), Format::Docx).unwrap().bytes;
    let xml = docx_xml(&bytes);
    for style in ["Heading1", "Heading2", "Heading3", "Heading4", "ListParagraph"] {
        assert!(xml.contains(&format!("<w:pStyle w:val=\"{style}\" />")), "no {style} paragraph");
    }
    assert!(xml.contains("<w:numPr>"), "no list numbering");
    assert!(xml.contains("<w:tbl>"), "no table");
    // The text of every run: `<w:t>` or `<w:t xml:space=…>`, not `<w:tbl>`, `<w:tc>`, `<w:tab/>`.
    let mut text = String::new();
    for piece in xml.split("<w:t").skip(1) {
        if !(piece.starts_with('>') || piece.starts_with(' ')) {
            continue;
        }
        let (Some(open), Some(close)) = (piece.find('>'), piece.find("</w:t>")) else { continue };
        text.push_str(&piece[open + 1..close]);
        text.push('\n');
    }
    for expected in [
        "Living Well design team",
        "We listen first",
        "Consent record for value 1",
        "Agree with reservations",
        "Kwame agreed with reservations: “Listening takes time we are not funded for”.",
        "Draft 1: Plain words, always",
        "(anonymous)",
    ] {
        assert!(text.contains(expected), "the Word document lacks {expected:?}:\n{text}");
    }
}

/// Not a check: with `EXPORT_FIXTURE_OUT=DIR`, writes the fixture in every format to DIR, to
/// look at (e.g. `pdftoppm -png DIR/values.pdf DIR/page`).
#[test]
fn write_the_fixture_when_asked() {
    let Some(dir) = std::env::var_os("EXPORT_FIXTURE_OUT") else { return };
    let doc = document();
    for format in Format::ALL {
        let name = match format {
            Format::EasyRead => "easy-read.html".to_owned(),
            Format::EasyReadMarkdown => "easy-read.md".to_owned(),
            f => format!("values.{}", f.extension()),
        };
        std::fs::write(Path::new(&dir).join(name), render(&doc, format).unwrap().bytes).unwrap();
    }
    std::fs::write(Path::new(&dir).join("values.typ"), commonground_export::typst_source(&doc)).unwrap();
}
