//! Accessible HTML: one self-contained file (no scripts, fonts or pictures to fetch), semantic
//! landmarks and headings, tables with captions and header scopes, large readable type that
//! reflows at 200 % zoom, and a print stylesheet.

use std::fmt::Write;

use crate::document::{Challenge, ConsentRecord, Source, ValuesDocument, WordingStep};
use crate::words;
use crate::words::consent_reasons;

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Shared by the full and easy-read pages: GOV.UK-like type (19 px body, never smaller),
/// text and borders at well over 4.5:1 contrast, widths in `em` so the page reflows when
/// zoomed, and no colour that carries meaning on its own (drafts also say "Draft" in words).
pub(crate) const BASE_CSS: &str = "\
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#0b0c0c;font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,sans-serif;font-size:1.1875rem;line-height:1.5}
header,main,footer{max-width:44em;margin:0 auto;padding:1rem 1.25rem}
header{border-bottom:0.3rem solid #1d4f73}
h1{font-size:2.25rem;line-height:1.15;margin:0.5rem 0 1rem}
h2{font-size:1.6rem;line-height:1.2;margin:2.5rem 0 1rem;padding-top:0.5rem;border-top:1px solid #505a5f}
h3{font-size:1.35rem;line-height:1.25;margin:2rem 0 0.75rem}
h4{font-size:1.1875rem;margin:1.5rem 0 0.5rem}
p,li,dd,dt{max-width:38em}
li{margin-bottom:0.35rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:0.25rem 1rem;margin:0}
dl.facts dt{font-weight:700}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.note{border-left:0.4rem solid #1d4f73;background:#eef4f8;padding:0.75rem 1rem;margin:1rem 0}
.draft{border-left:0.4rem solid #8a3b00;background:#fdf2e9;padding:0.75rem 1rem;margin:1rem 0}
.value{border:1px solid #505a5f;border-radius:0.4rem;padding:0.25rem 1.25rem 1rem;margin:1.5rem 0}
table{border-collapse:collapse;width:100%;margin:0.5rem 0 1rem}
caption{text-align:left;font-weight:700;padding:0.5rem 0}
th,td{border:1px solid #505a5f;padding:0.5rem;text-align:left;vertical-align:top}
thead th{background:#eef4f8}
td.number{text-align:right}
code{font-family:ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
a{color:#1d4f73}
:focus-visible{outline:3px solid #0b0c0c;outline-offset:2px}
@media print{
body{font-size:11pt;line-height:1.4}
header,main,footer{max-width:none;padding:0}
h2{break-before:auto;break-after:avoid}
h3,h4{break-after:avoid}
.value,table,li{break-inside:avoid}
.note,.draft,thead th{background:none}
a{color:inherit;text-decoration:none}
}
";

pub(crate) fn page(o: &mut String, title: &str, extra_css: &str) {
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{BASE_CSS}{extra_css}</style>\n</head>\n<body>\n",
        esc(title)
    );
}

pub(crate) fn render(doc: &ValuesDocument) -> String {
    let mut o = String::new();
    page(&mut o, &format!("{}: agreed values", doc.title), "");
    let _ = writeln!(o, "<header>\n<p>Agreed values document</p>\n<h1>{}</h1>", esc(&doc.title));
    if !doc.purpose.is_empty() {
        let _ = writeln!(o, "<p>{}</p>", esc(&doc.purpose));
    }
    let _ = writeln!(o, "<dl class=\"facts\">");
    for (label, value) in words::facts(doc) {
        let value = if label.starts_with("Document hash") {
            format!("<code>{}</code>", esc(&value))
        } else {
            esc(&value)
        };
        let _ = writeln!(o, "<dt>{label}</dt><dd>{value}</dd>");
    }
    let _ = writeln!(o, "</dl>\n</header>\n<main>");

    open_section(&mut o, "ground-rules", "Ground rules");
    if doc.ground_rules.is_empty() {
        let _ = writeln!(o, "<p>The group set no ground rules.</p>");
    } else {
        let _ = writeln!(o, "<ol>");
        for rule in &doc.ground_rules {
            let _ = writeln!(o, "<li>{}</li>", esc(rule));
        }
        let _ = writeln!(o, "</ol>");
    }
    let _ = writeln!(o, "</section>");

    open_section(&mut o, "values", "Our agreed values");
    if doc.values.is_empty() {
        let _ = writeln!(o, "<p>No values have been agreed yet.</p>");
    }
    for v in &doc.values {
        let id = format!("value-{}", v.number);
        let _ = writeln!(
            o,
            "<article class=\"value\" aria-labelledby=\"{id}\">\n<h3 id=\"{id}\">{}. {}</h3>",
            v.number,
            esc(&v.statement)
        );
        behaviours(&mut o, &v.behaviours);
        easy(&mut o, &v.easy_read);
        let _ = writeln!(o, "<p>Agreed on {} (version {}).</p>", v.agreed_on.long(), v.version);
        if let Some(next) = &v.reworking {
            let _ = writeln!(
                o,
                "<p class=\"draft\"><strong>Being reworded (not agreed yet):</strong> the group is \
                 discussing a new wording: “{}”</p>",
                esc(next)
            );
        }
        sources(&mut o, &v.sources);
        history(&mut o, &v.history);
        challenges(&mut o, &v.challenges);
        if let Some(c) = &v.consent {
            consent(&mut o, c, &format!("Consent record for value {}", v.number));
        }
        let _ = writeln!(o, "</article>");
    }
    let _ = writeln!(o, "</section>");

    open_section(&mut o, "drafts", "Values still in draft");
    if doc.drafts.is_empty() {
        let _ = writeln!(o, "<p>There are no drafts: every value in this document is agreed.</p>");
    } else {
        let _ = writeln!(
            o,
            "<p class=\"draft\"><strong>These are drafts. They have not been agreed</strong> and \
             are listed so that readers can see what the group is still working on.</p>"
        );
    }
    for (i, d) in doc.drafts.iter().enumerate() {
        let id = format!("draft-{}", i + 1);
        let stage = if d.in_consent { "in a consent round now" } else { "being drafted" };
        let _ = writeln!(
            o,
            "<article class=\"value draft\" aria-labelledby=\"{id}\">\n<h3 id=\"{id}\">Draft {}: {}</h3>\n\
             <p><strong>Draft, not agreed</strong> ({stage}).</p>",
            i + 1,
            esc(&d.statement)
        );
        behaviours(&mut o, &d.behaviours);
        easy(&mut o, &d.easy_read);
        sources(&mut o, &d.sources);
        history(&mut o, &d.history);
        challenges(&mut o, &d.challenges);
        if let Some(c) = &d.latest_round {
            consent(&mut o, c, &format!("Latest consent round for draft {}", i + 1));
        }
        let _ = writeln!(o, "</article>");
    }
    let _ = writeln!(o, "</section>");

    open_section(&mut o, "open-challenges", "Open challenges");
    if doc.open_challenges.is_empty() {
        let _ = writeln!(o, "<p>No challenges are open.</p>");
    } else {
        challenge_list(&mut o, &doc.open_challenges, true);
    }
    let _ = writeln!(o, "</section>");

    paragraphs(&mut o, "participation", "Who took part", &words::participation(doc));
    paragraphs(&mut o, "asynchronous", "Taking part from afar", &words::asynchronous(doc));
    paragraphs(&mut o, "data", "About this document", &words::data_statement(doc));
    let _ = writeln!(o, "</main>\n</body>\n</html>");
    o
}

fn open_section(o: &mut String, id: &str, title: &str) {
    let _ = writeln!(o, "<section aria-labelledby=\"{id}\">\n<h2 id=\"{id}\">{title}</h2>");
}

fn paragraphs(o: &mut String, id: &str, title: &str, lines: &[String]) {
    open_section(o, id, title);
    for line in lines {
        let _ = writeln!(o, "<p>{}</p>", esc(line));
    }
    let _ = writeln!(o, "</section>");
}

fn behaviours(o: &mut String, list: &[String]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(o, "<p>What we will do:</p>\n<ul>");
    for b in list {
        let _ = writeln!(o, "<li>{}</li>", esc(b));
    }
    let _ = writeln!(o, "</ul>");
}

fn easy(o: &mut String, line: &str) {
    if !line.trim().is_empty() {
        let _ = writeln!(o, "<p class=\"note\"><strong>In easy words:</strong> {}</p>", esc(line));
    }
}

fn sources(o: &mut String, list: &[Source]) {
    let _ = writeln!(o, "<h4>Where it came from</h4>");
    if list.is_empty() {
        let _ = writeln!(o, "<p>No notes are linked to it.</p>");
        return;
    }
    let _ = writeln!(o, "<ul>");
    for s in list {
        let _ = writeln!(o, "<li>“{}” ({})</li>", esc(&s.text), esc(words::author(&s.author)));
    }
    let _ = writeln!(o, "</ul>");
}

fn history(o: &mut String, steps: &[WordingStep]) {
    let _ = writeln!(o, "<h4>How the wording changed</h4>");
    if steps.is_empty() {
        let _ = writeln!(o, "<p>No consent round has been held on it yet.</p>");
        return;
    }
    let _ = writeln!(o, "<ol>");
    for s in steps {
        let _ = writeln!(
            o,
            "<li>Version {}, asked on {}: “{}”: {}.</li>",
            s.version,
            s.asked_on.long(),
            esc(&s.statement),
            words::outcome(s.outcome)
        );
    }
    let _ = writeln!(o, "</ol>");
}

fn challenges(o: &mut String, list: &[Challenge]) {
    let _ = writeln!(o, "<h4>Challenges and their outcomes</h4>");
    if list.is_empty() {
        let _ = writeln!(o, "<p>No challenges were raised on it.</p>");
        return;
    }
    challenge_list(o, list, false);
}

fn challenge_list(o: &mut String, list: &[Challenge], with_target: bool) {
    let _ = writeln!(o, "<ul>");
    for c in list {
        let _ = write!(o, "<li>{}", esc(&words::challenge_line(c, with_target)));
        if !c.responses.is_empty() {
            o.push_str("\n<ul>");
            for r in &c.responses {
                let _ = write!(o, "\n<li>{}</li>", esc(&words::response_line(r)));
            }
            o.push_str("\n</ul>\n");
        }
        let _ = writeln!(o, "</li>");
    }
    let _ = writeln!(o, "</ul>");
}

fn consent(o: &mut String, c: &ConsentRecord, caption: &str) {
    let closed = c.closed_on.map_or_else(|| "still open".to_owned(), |d| format!("closed on {}", d.long()));
    let _ = writeln!(
        o,
        "<h4>{caption}</h4>\n<p>Asked on {}, {closed}: {}. {} needed, {} given.</p>",
        c.opened_on.long(),
        words::outcome(c.outcome),
        words::n(c.quorum, "stance", "stances"),
        c.tally.total()
    );
    let _ = writeln!(
        o,
        "<table>\n<caption>{caption}</caption>\n<thead><tr><th scope=\"col\">Stance</th>\
         <th scope=\"col\">Number</th><th scope=\"col\">Who</th></tr></thead>\n<tbody>"
    );
    let rows = words::consent_rows(c).map(|(label, count, who)| (label, count, esc(&who)));
    for (label, count, who) in rows {
        let _ = writeln!(
            o,
            "<tr><th scope=\"row\">{label}</th><td class=\"number\">{count}</td><td>{who}</td></tr>"
        );
    }
    let _ = writeln!(o, "</tbody>\n</table>");
    let reasons = consent_reasons(c);
    if !reasons.is_empty() {
        let _ = writeln!(o, "<p>Reasons given:</p>\n<ul>");
        for r in reasons {
            let _ = writeln!(o, "<li>{}</li>", esc(&r));
        }
        let _ = writeln!(o, "</ul>");
    }
    if c.arrived_late > 0 {
        let _ = writeln!(
            o,
            "<p>{} arrived after the round closed and did not count.</p>",
            words::n(c.arrived_late, "stance", "stances")
        );
    }
}
