//! Markdown: the master format, readable as plain text and the basis people edit from.

use std::fmt::Write;

use crate::document::{ConsentRecord, Source, ValuesDocument, WordingStep};
use crate::words;

/// Escapes text that people wrote so that it reads as text, never as Markdown or HTML, and
/// folds it onto one line (a new line in a note must not end a list item).
pub(crate) fn esc(s: &str) -> String {
    let folded = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '!' | '&') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn render(doc: &ValuesDocument) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", esc(&doc.title));
    if !doc.purpose.is_empty() {
        let _ = writeln!(o, "{}\n", esc(&doc.purpose));
    }
    for (label, value) in words::facts(doc) {
        let value = if label.starts_with("Document hash") { format!("`{value}`") } else { esc(&value) };
        let _ = writeln!(o, "- **{label}:** {value}");
    }
    o.push('\n');

    let _ = writeln!(o, "## Ground rules\n");
    if doc.ground_rules.is_empty() {
        let _ = writeln!(o, "The group set no ground rules.\n");
    } else {
        for (i, rule) in doc.ground_rules.iter().enumerate() {
            let _ = writeln!(o, "{}. {}", i + 1, esc(rule));
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Our agreed values\n");
    if doc.values.is_empty() {
        let _ = writeln!(o, "No values have been agreed yet.\n");
    }
    for v in &doc.values {
        let _ = writeln!(o, "### {}. {}\n", v.number, esc(&v.statement));
        behaviours(&mut o, &v.behaviours);
        easy(&mut o, &v.easy_read);
        let _ = writeln!(o, "Agreed on {} (version {}).\n", v.agreed_on.long(), v.version);
        if let Some(next) = &v.reworking {
            let _ = writeln!(
                o,
                "> **Being reworded (not agreed yet):** the group is discussing a new wording: “{}”\n",
                esc(next)
            );
        }
        sources(&mut o, &v.sources);
        history(&mut o, &v.history);
        challenges(&mut o, &v.challenges);
        if let Some(c) = &v.consent {
            consent(&mut o, c, &format!("Consent record for value {}", v.number));
        }
    }

    let _ = writeln!(o, "## Values still in draft\n");
    if doc.drafts.is_empty() {
        let _ = writeln!(o, "There are no drafts: every value in this document is agreed.\n");
    } else {
        let _ = writeln!(
            o,
            "> **These are drafts. They have not been agreed** and are listed so that readers can see \
             what the group is still working on.\n"
        );
    }
    for (i, d) in doc.drafts.iter().enumerate() {
        let stage = if d.in_consent { "in a consent round now" } else { "being drafted" };
        let _ = writeln!(o, "### Draft {}: {}\n", i + 1, esc(&d.statement));
        let _ = writeln!(o, "**Draft, not agreed** ({stage}).\n");
        behaviours(&mut o, &d.behaviours);
        easy(&mut o, &d.easy_read);
        sources(&mut o, &d.sources);
        history(&mut o, &d.history);
        challenges(&mut o, &d.challenges);
        if let Some(c) = &d.latest_round {
            consent(&mut o, c, &format!("Latest consent round for draft {}", i + 1));
        }
    }

    let _ = writeln!(o, "## Open challenges\n");
    if doc.open_challenges.is_empty() {
        let _ = writeln!(o, "No challenges are open.\n");
    }
    for c in &doc.open_challenges {
        let _ = writeln!(o, "- {}", esc(&words::challenge_line(c, true)));
        for r in &c.responses {
            let _ = writeln!(o, "  - {}", esc(&words::response_line(r)));
        }
    }
    if !doc.open_challenges.is_empty() {
        o.push('\n');
    }

    section(&mut o, "Who took part", &words::participation(doc));
    section(&mut o, "Taking part from afar", &words::asynchronous(doc));
    section(&mut o, "About this document", &words::data_statement(doc));
    while o.ends_with("\n\n") {
        o.pop();
    }
    o
}

fn section(o: &mut String, title: &str, lines: &[String]) {
    let _ = writeln!(o, "## {title}\n");
    for line in lines {
        let _ = writeln!(o, "{}\n", esc(line));
    }
}

fn behaviours(o: &mut String, list: &[String]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(o, "What we will do:\n");
    for b in list {
        let _ = writeln!(o, "- {}", esc(b));
    }
    o.push('\n');
}

fn easy(o: &mut String, line: &str) {
    if !line.trim().is_empty() {
        let _ = writeln!(o, "**In easy words:** {}\n", esc(line));
    }
}

fn sources(o: &mut String, list: &[Source]) {
    let _ = writeln!(o, "#### Where it came from\n");
    if list.is_empty() {
        let _ = writeln!(o, "No notes are linked to it.\n");
        return;
    }
    for s in list {
        let _ = writeln!(o, "- “{}” ({})", esc(&s.text), esc(words::author(&s.author)));
    }
    o.push('\n');
}

fn history(o: &mut String, steps: &[WordingStep]) {
    let _ = writeln!(o, "#### How the wording changed\n");
    if steps.is_empty() {
        let _ = writeln!(o, "No consent round has been held on it yet.\n");
        return;
    }
    for s in steps {
        let _ = writeln!(
            o,
            "- Version {}, asked on {}: “{}”: {}.",
            s.version,
            s.asked_on.long(),
            esc(&s.statement),
            words::outcome(s.outcome)
        );
    }
    o.push('\n');
}

fn challenges(o: &mut String, list: &[crate::document::Challenge]) {
    let _ = writeln!(o, "#### Challenges and their outcomes\n");
    if list.is_empty() {
        let _ = writeln!(o, "No challenges were raised on it.\n");
        return;
    }
    for c in list {
        let _ = writeln!(o, "- {}", esc(&words::challenge_line(c, false)));
        for r in &c.responses {
            let _ = writeln!(o, "  - {}", esc(&words::response_line(r)));
        }
    }
    o.push('\n');
}

fn consent(o: &mut String, c: &ConsentRecord, caption: &str) {
    let _ = writeln!(o, "#### {caption}\n");
    let closed = c.closed_on.map_or_else(|| "still open".to_owned(), |d| format!("closed on {}", d.long()));
    let _ = writeln!(
        o,
        "Asked on {}, {closed}: {}. {} needed, {} given.\n",
        c.opened_on.long(),
        words::outcome(c.outcome),
        words::n(c.quorum, "stance", "stances"),
        c.tally.total()
    );
    let _ = writeln!(o, "| Stance | Number | Who |");
    let _ = writeln!(o, "| --- | ---: | --- |");
    let rows = words::consent_rows(c).map(|(label, count, who)| (label, count, esc(&who)));
    for (label, count, who) in rows {
        let _ = writeln!(o, "| {label} | {count} | {who} |");
    }
    o.push('\n');
    let reasons = words::consent_reasons(c);
    if !reasons.is_empty() {
        let _ = writeln!(o, "Reasons given:\n");
        for r in reasons {
            let _ = writeln!(o, "- {}", esc(&r));
        }
        o.push('\n');
    }
    if c.arrived_late > 0 {
        let _ = writeln!(
            o,
            "{} arrived after the round closed and did not count.\n",
            words::n(c.arrived_late, "stance", "stances")
        );
    }
}
