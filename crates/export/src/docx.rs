//! The Word document, with real heading styles (so Word's navigation pane and screen readers
//! see the structure), real bulleted and numbered lists, and a table for each consent tally.

use docx_rs::{
    AbstractNumbering, AlignmentType, Docx, IndentLevel, Level, LevelJc, LevelText, NumberFormat, Numbering,
    NumberingId, Paragraph, Run, RunFonts, SpecialIndentType, Start, Style, StyleType, Table, TableCell,
    TableRow,
};

use crate::document::{Challenge, ConsentRecord, Source, ValuesDocument, WordingStep};
use crate::error::{ExportError, Result};
use crate::words;
use crate::words::consent_reasons;

const BULLETS: usize = 1;
const NUMBERS: usize = 2;

/// Word measures type in half-points: 24 is 12 pt.
fn heading_style(id: &str, name: &str, half_points: usize, level: usize) -> Style {
    Style::new(id, StyleType::Paragraph)
        .name(name)
        .based_on("Normal")
        .next("Normal")
        .q_format(true)
        .bold()
        .size(half_points)
        .color("1D4F73")
        .outline_lvl(level)
}

struct Writer {
    docx: Docx,
    /// Each numbered list restarts at 1: Word needs its own numbering instance for that.
    next_numbering: usize,
}

impl Writer {
    fn heading(&mut self, level: usize, text: &str) {
        let style = format!("Heading{level}");
        self.push(Paragraph::new().style(&style).add_run(Run::new().add_text(text)));
    }

    fn para(&mut self, text: &str) {
        self.push(Paragraph::new().add_run(Run::new().add_text(text)));
    }

    fn labelled(&mut self, label: &str, text: &str) {
        self.push(
            Paragraph::new()
                .add_run(Run::new().bold().add_text(format!("{label} ")))
                .add_run(Run::new().add_text(text)),
        );
    }

    fn bullets<'a>(&mut self, items: impl IntoIterator<Item = &'a str>, level: usize) {
        for item in items {
            self.push(
                Paragraph::new()
                    .style("ListParagraph")
                    .numbering(NumberingId::new(BULLETS), IndentLevel::new(level))
                    .add_run(Run::new().add_text(item)),
            );
        }
    }

    fn numbered<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) {
        let id = self.next_numbering;
        self.next_numbering += 1;
        let docx = std::mem::take(&mut self.docx);
        self.docx = docx.add_numbering(Numbering::new(id, NUMBERS));
        for item in items {
            self.push(
                Paragraph::new()
                    .style("ListParagraph")
                    .numbering(NumberingId::new(id), IndentLevel::new(0))
                    .add_run(Run::new().add_text(item)),
            );
        }
    }

    fn push(&mut self, p: Paragraph) {
        let docx = std::mem::take(&mut self.docx);
        self.docx = docx.add_paragraph(p);
    }

    fn table(&mut self, t: Table) {
        let docx = std::mem::take(&mut self.docx);
        self.docx = docx.add_table(t);
    }
}

fn bullet_numbering() -> AbstractNumbering {
    let mut n = AbstractNumbering::new(BULLETS);
    for level in 0..2 {
        n = n.add_level(
            Level::new(
                level,
                Start::new(1),
                NumberFormat::new("bullet"),
                LevelText::new("•"),
                LevelJc::new("left"),
            )
            .indent(
                Some(720 * (level as i32 + 1)),
                Some(SpecialIndentType::Hanging(360)),
                None,
                None,
            ),
        );
    }
    n
}

fn decimal_numbering() -> AbstractNumbering {
    AbstractNumbering::new(NUMBERS).add_level(
        Level::new(
            0,
            Start::new(1),
            NumberFormat::new("decimal"),
            LevelText::new("%1."),
            LevelJc::new("left"),
        )
        .indent(Some(720), Some(SpecialIndentType::Hanging(360)), None, None),
    )
}

pub(crate) fn render(doc: &ValuesDocument) -> Result<Vec<u8>> {
    let date = doc.date_agreed.map_or_else(|| "1970-01-01".to_owned(), |d| d.iso());
    let stamp = format!("{date}T00:00:00Z");
    let docx = Docx::new()
        // Fixed dates (the day agreed), so the same workshop gives the same file.
        .created_at(&stamp)
        .updated_at(&stamp)
        .default_fonts(RunFonts::new().ascii("Arial").hi_ansi("Arial").cs("Arial"))
        .default_size(24)
        .add_style(heading_style("Heading1", "heading 1", 40, 0))
        .add_style(heading_style("Heading2", "heading 2", 32, 1))
        .add_style(heading_style("Heading3", "heading 3", 28, 2))
        .add_style(heading_style("Heading4", "heading 4", 24, 3))
        .add_style(
            Style::new("ListParagraph", StyleType::Paragraph).name("List Paragraph").based_on("Normal"),
        )
        .add_abstract_numbering(bullet_numbering())
        .add_abstract_numbering(decimal_numbering())
        .add_numbering(Numbering::new(BULLETS, BULLETS));
    let mut w = Writer { docx, next_numbering: 10 };

    w.heading(1, &doc.title);
    if !doc.purpose.is_empty() {
        w.para(&doc.purpose);
    }
    for (label, value) in words::facts(doc) {
        w.labelled(&format!("{label}:"), &value);
    }

    w.heading(2, "Ground rules");
    if doc.ground_rules.is_empty() {
        w.para("The group set no ground rules.");
    }
    w.numbered(doc.ground_rules.iter().map(String::as_str));

    w.heading(2, "Our agreed values");
    if doc.values.is_empty() {
        w.para("No values have been agreed yet.");
    }
    for v in &doc.values {
        w.heading(3, &format!("{}. {}", v.number, v.statement));
        behaviours(&mut w, &v.behaviours);
        easy(&mut w, &v.easy_read);
        w.para(&format!("Agreed on {} (version {}).", v.agreed_on.long(), v.version));
        if let Some(next) = &v.reworking {
            w.labelled(
                "Being reworded (not agreed yet):",
                &format!("the group is discussing a new wording: “{next}”"),
            );
        }
        sources(&mut w, &v.sources);
        history(&mut w, &v.history);
        challenges(&mut w, &v.challenges);
        if let Some(c) = &v.consent {
            consent(&mut w, c, &format!("Consent record for value {}", v.number));
        }
    }

    w.heading(2, "Values still in draft");
    if doc.drafts.is_empty() {
        w.para("There are no drafts: every value in this document is agreed.");
    } else {
        w.labelled(
            "These are drafts. They have not been agreed",
            "and are listed so that readers can see what the group is still working on.",
        );
    }
    for (i, d) in doc.drafts.iter().enumerate() {
        let stage = if d.in_consent { "in a consent round now" } else { "being drafted" };
        w.heading(3, &format!("Draft {}: {}", i + 1, d.statement));
        w.labelled("Draft, not agreed", &format!("({stage})."));
        behaviours(&mut w, &d.behaviours);
        easy(&mut w, &d.easy_read);
        sources(&mut w, &d.sources);
        history(&mut w, &d.history);
        challenges(&mut w, &d.challenges);
        if let Some(c) = &d.latest_round {
            consent(&mut w, c, &format!("Latest consent round for draft {}", i + 1));
        }
    }

    w.heading(2, "Open challenges");
    if doc.open_challenges.is_empty() {
        w.para("No challenges are open.");
    }
    challenge_list(&mut w, &doc.open_challenges, true);

    for (title, lines) in [
        ("Who took part", words::participation(doc)),
        ("Taking part from afar", words::asynchronous(doc)),
        ("About this document", words::data_statement(doc)),
    ] {
        w.heading(2, title);
        for line in &lines {
            w.para(line);
        }
    }

    let mut bytes = std::io::Cursor::new(Vec::new());
    w.docx.build().pack(&mut bytes).map_err(|e| ExportError::Docx(e.to_string()))?;
    Ok(bytes.into_inner())
}

fn behaviours(w: &mut Writer, list: &[String]) {
    if list.is_empty() {
        return;
    }
    w.para("What we will do:");
    w.bullets(list.iter().map(String::as_str), 0);
}

fn easy(w: &mut Writer, line: &str) {
    if !line.trim().is_empty() {
        w.labelled("In easy words:", line);
    }
}

fn sources(w: &mut Writer, list: &[Source]) {
    w.heading(4, "Where it came from");
    if list.is_empty() {
        w.para("No notes are linked to it.");
        return;
    }
    let lines: Vec<String> =
        list.iter().map(|s| format!("“{}” ({})", s.text, words::author(&s.author))).collect();
    w.bullets(lines.iter().map(String::as_str), 0);
}

fn history(w: &mut Writer, steps: &[WordingStep]) {
    w.heading(4, "How the wording changed");
    if steps.is_empty() {
        w.para("No consent round has been held on it yet.");
        return;
    }
    let lines: Vec<String> = steps
        .iter()
        .map(|s| {
            format!(
                "Version {}, asked on {}: “{}”: {}.",
                s.version,
                s.asked_on.long(),
                s.statement,
                words::outcome(s.outcome)
            )
        })
        .collect();
    w.numbered(lines.iter().map(String::as_str));
}

fn challenges(w: &mut Writer, list: &[Challenge]) {
    w.heading(4, "Challenges and their outcomes");
    if list.is_empty() {
        w.para("No challenges were raised on it.");
        return;
    }
    challenge_list(w, list, false);
}

fn challenge_list(w: &mut Writer, list: &[Challenge], with_target: bool) {
    for c in list {
        let line = words::challenge_line(c, with_target);
        w.bullets([line.as_str()], 0);
        let replies: Vec<String> = c.responses.iter().map(words::response_line).collect();
        w.bullets(replies.iter().map(String::as_str), 1);
    }
}

fn cell(text: &str, header: bool) -> TableCell {
    let run = if header { Run::new().bold().add_text(text) } else { Run::new().add_text(text) };
    TableCell::new().add_paragraph(Paragraph::new().add_run(run))
}

fn consent(w: &mut Writer, c: &ConsentRecord, caption: &str) {
    w.heading(4, caption);
    let closed = c.closed_on.map_or_else(|| "still open".to_owned(), |d| format!("closed on {}", d.long()));
    w.para(&format!(
        "Asked on {}, {closed}: {}. {} needed, {} given.",
        c.opened_on.long(),
        words::outcome(c.outcome),
        words::n(c.quorum, "stance", "stances"),
        c.tally.total()
    ));
    let rows = words::consent_rows(c);
    let mut table_rows =
        vec![TableRow::new(vec![cell("Stance", true), cell("Number", true), cell("Who", true)])];
    for (label, count, who) in rows {
        table_rows.push(TableRow::new(vec![
            cell(label, true),
            TableCell::new().add_paragraph(
                Paragraph::new().align(AlignmentType::Right).add_run(Run::new().add_text(count.to_string())),
            ),
            cell(&who, false),
        ]));
    }
    w.table(Table::new(table_rows));
    let reasons = consent_reasons(c);
    if !reasons.is_empty() {
        w.para("Reasons given:");
        w.bullets(reasons.iter().map(String::as_str), 0);
    }
    if c.arrived_late > 0 {
        w.para(&format!(
            "{} arrived after the round closed and did not count.",
            words::n(c.arrived_late, "stance", "stances")
        ));
    }
}
