//! How long the values document takes to make, per format, for a large workshop: by default
//! 50 agreed values drawn from 500 source notes (the target: the PDF in under 2 s).
//!
//! A table, not a timed test. Beside each format it shows a baseline measured in the same run:
//! typst typesetting the same amount of text as plain paragraphs, without headings, lists or
//! tables, so a slow machine shows up in both columns and the cost of the structure (and of
//! tagging it) is the difference.
//!
//! `EXPORT_BENCH_VALUES` and `EXPORT_BENCH_SOURCES` change the size; `EXPORT_BENCH_SMOKE=1`
//! is a quick run for CI (5 values, 50 sources, one round).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use commonground_export::{plain_pdf, render, Format, ValuesDocument};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The median of `rounds` runs of `f`.
fn median<T>(rounds: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(rounds);
    let mut last = None;
    for _ in 0..rounds {
        let start = Instant::now();
        let out = f();
        times.push(start.elapsed());
        last = Some(out);
    }
    times.sort();
    (times[times.len() / 2], last.expect("at least one round"))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let smoke = std::env::var("EXPORT_BENCH_SMOKE").is_ok_and(|v| !v.is_empty() && v != "0");
    let values = if smoke { 5 } else { env("EXPORT_BENCH_VALUES", 50) };
    let sources = if smoke { 50 } else { env("EXPORT_BENCH_SOURCES", 500) };
    let rounds = if smoke { 1 } else { 5 };
    let per_value = sources.div_ceil(values.max(1));

    let start = Instant::now();
    let workshop = common::large(values, per_value);
    let setup = start.elapsed();
    let (build, doc) = median(rounds, || ValuesDocument::build(&workshop));
    let source_count: usize = doc.values.iter().map(|v| v.sources.len()).sum();
    assert_eq!(doc.values.len(), values, "every value should be agreed");

    // Warm up once: the embedded fonts are parsed on the first PDF of a process. Report it.
    let start = Instant::now();
    render(&doc, Format::Pdf).expect("the PDF renders");
    let first_pdf = start.elapsed();

    println!(
        "Values document export: {values} values, {source_count} sources ({rounds} rounds, median; workshop built in {})",
        ms(setup)
    );
    println!("| step | time | output | baseline in this run |");
    println!("|---|---:|---:|---|");
    println!("| build the document from the workshop | {} | {} values | |", ms(build), doc.values.len());
    let (md_time, md) = median(rounds, || render(&doc, Format::Markdown).expect("markdown"));
    let text_len = md.bytes.len();
    // The baseline: the Markdown's words as plain paragraphs, typeset with the same fonts.
    let markdown = String::from_utf8(md.bytes.clone()).expect("utf-8");
    let paragraphs: Vec<String> = markdown
        .split("\n\n")
        .map(|p| p.replace(['#', '*', '|', '`'], ""))
        .filter(|p| !p.trim().is_empty())
        .collect();
    let (plain_time, plain) = median(rounds, || plain_pdf(&paragraphs).expect("baseline PDF"));
    for format in [Format::Markdown, Format::Html, Format::EasyRead, Format::Json, Format::Docx, Format::Pdf]
    {
        let (time, out) = if format == Format::Markdown {
            (md_time, md.clone())
        } else {
            median(rounds, || render(&doc, format).expect("renders"))
        };
        let size = match out.pages {
            Some(p) => format!("{p} pages, {} KB", out.bytes.len() / 1024),
            None => format!("{} KB", out.bytes.len() / 1024),
        };
        let baseline = match format {
            Format::Pdf => format!(
                "plain typst, same text ({} KB of Markdown, {} pages): {}",
                text_len / 1024,
                plain.pages.unwrap_or(0),
                ms(plain_time)
            ),
            Format::Markdown => "(the master; baseline for the text formats)".to_owned(),
            _ => format!("Markdown: {}", ms(md_time)),
        };
        println!("| {} | {} | {size} | {baseline} |", format.key(), ms(time),);
    }
    println!("| first PDF in a process (parses the fonts) | {} | | |", ms(first_pdf));
    let (pdf_time, _) = median(1, || render(&doc, Format::Pdf).expect("pdf"));
    let verdict = if pdf_time < Duration::from_secs(2) { "within" } else { "OVER" };
    println!("PDF: {} ({verdict} the 2 s target).", ms(pdf_time));
}
