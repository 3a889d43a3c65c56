//! The easy-read version: short sentences, one idea per line, large type. It is built as a
//! list of lines first, so the Markdown and the HTML say exactly the same thing; the HTML
//! carries the large type (Markdown can't).

use std::fmt::Write;

use commonground_workshop::ChallengeStatus;

use crate::document::ValuesDocument;
use crate::{html, markdown, words};

/// One line of the easy-read document.
enum Line {
    Heading(String),
    Text(String),
    Item(String),
}

fn people(n: u32) -> String {
    words::n(n, "person", "people")
}

fn lines(doc: &ValuesDocument) -> Vec<Line> {
    use Line::*;
    let mut out = vec![Heading(doc.title.clone())];
    out.push(Text("This is what our group agreed.".to_owned()));
    out.push(Text(match doc.values.len() {
        0 => "We have not agreed any values yet.".to_owned(),
        1 => "We agreed 1 value.".to_owned(),
        n => format!("We agreed {n} values."),
    }));
    if let Some(d) = doc.date_agreed {
        out.push(Text(format!("We agreed them by {}.", d.long())));
    }
    for v in &doc.values {
        out.push(Heading(format!("Value {}", v.number)));
        let line = if v.easy_read.trim().is_empty() { &v.statement } else { &v.easy_read };
        out.push(Text(line.trim().to_owned()));
        if !v.behaviours.is_empty() {
            out.push(Text("What we will do:".to_owned()));
            out.extend(v.behaviours.iter().map(|b| Item(b.clone())));
        }
        if let Some(c) = &v.consent {
            let t = &c.tally;
            out.push(Text(format!("{} said yes.", people(t.agree))));
            if t.reservations > 0 {
                out.push(Text(format!("{} said yes, but had worries.", people(t.reservations))));
            }
            if t.stand_aside > 0 {
                out.push(Text(format!("{} stood aside.", people(t.stand_aside))));
                out.push(Text("Standing aside means: I will not stop it.".to_owned()));
            }
            if t.object > 0 {
                out.push(Text(format!("{} said no.", people(t.object))));
                if c.objections.iter().all(|o| o.challenge == Some(ChallengeStatus::ChangedView)) {
                    out.push(Text("We talked it through.".to_owned()));
                    out.push(Text("Then they changed their mind.".to_owned()));
                }
            }
        }
        if v.reworking.is_some() {
            out.push(Text("We are talking about new words for this value.".to_owned()));
        }
    }
    if !doc.drafts.is_empty() {
        out.push(Heading("Still being worked on".to_owned()));
        out.push(Text("These are not agreed yet.".to_owned()));
        for d in &doc.drafts {
            let line = if d.easy_read.trim().is_empty() { &d.statement } else { &d.easy_read };
            out.push(Item(format!("Draft: {}", line.trim())));
        }
    }
    if !doc.open_challenges.is_empty() {
        out.push(Heading("Questions still open".to_owned()));
        out.push(Text(match doc.open_challenges.len() {
            1 => "1 question is still open.".to_owned(),
            n => format!("{n} questions are still open."),
        }));
        out.push(Text("We will talk about them again.".to_owned()));
    }
    out.push(Heading("Who took part".to_owned()));
    out.push(Text(format!("{} took part.", people(doc.participation.people))));
    out.push(Text("We used first names only.".to_owned()));
    if !doc.asynchronous.people.is_empty() {
        out.push(Text(format!(
            "{} took part from home.",
            people(u32::try_from(doc.asynchronous.people.len()).unwrap_or(u32::MAX))
        )));
    }
    out.push(Heading("What happens next".to_owned()));
    match doc.review_date {
        Some(d) => out.push(Text(format!("We will look at these values again by {}.", d.long()))),
        None => out.push(Text("We will look at the values again a year after we agree them.".to_owned())),
    }
    out.push(Heading("About this document".to_owned()));
    out.push(Text("Everyone in the group has a copy on their laptop.".to_owned()));
    out.push(Text("No one organisation owns it.".to_owned()));
    out.push(Text("Notes people took back are not in it.".to_owned()));
    out.push(Text(format!("Document check code: {}", doc.hash)));
    out
}

pub(crate) fn markdown(doc: &ValuesDocument) -> String {
    let mut o = String::new();
    let mut first = true;
    let mut in_list = false;
    for line in lines(doc) {
        let item = matches!(line, Line::Item(_));
        // A tight list: items one under another, a blank line before what follows.
        if in_list && !item {
            o.push('\n');
        }
        in_list = item;
        match line {
            Line::Heading(h) => {
                let level = if first { "#" } else { "##" };
                first = false;
                let _ = writeln!(o, "{level} {}", markdown::esc(&h));
            }
            Line::Text(t) => {
                let _ = writeln!(o, "{}", markdown::esc(&t));
            }
            Line::Item(t) => {
                let _ = writeln!(o, "- {}", markdown::esc(&t));
            }
        }
        if !item {
            o.push('\n');
        }
    }
    while o.ends_with("\n\n") {
        o.pop();
    }
    o
}

/// Large type: 28 px body and generous spacing, as easy-read guidance asks (at least 14 pt
/// print, larger on screen), one line per idea.
const EASY_CSS: &str = "\
body{font-size:1.75rem;line-height:1.6}
h1{font-size:2.6rem}
h2{font-size:2.1rem}
p,li{margin:0 0 1rem;overflow-wrap:anywhere}
ul{padding-left:1.5em}
@media print{body{font-size:16pt}}
";

pub(crate) fn html(doc: &ValuesDocument) -> String {
    let mut o = String::new();
    html::page(&mut o, &format!("{}: our values in easy read", doc.title), EASY_CSS);
    let mut in_list = false;
    let mut first = true;
    for line in lines(doc) {
        let item = matches!(line, Line::Item(_));
        if in_list && !item {
            let _ = writeln!(o, "</ul>");
        }
        if item && !in_list {
            let _ = writeln!(o, "<ul>");
        }
        in_list = item;
        match line {
            Line::Heading(h) if first => {
                first = false;
                let _ = writeln!(o, "<header>\n<h1>{}</h1>\n</header>\n<main>", html::esc(&h));
            }
            Line::Heading(h) => {
                let _ = writeln!(o, "<h2>{}</h2>", html::esc(&h));
            }
            Line::Text(t) => {
                let _ = writeln!(o, "<p>{}</p>", html::esc(&t));
            }
            Line::Item(t) => {
                let _ = writeln!(o, "<li>{}</li>", html::esc(&t));
            }
        }
    }
    if in_list {
        let _ = writeln!(o, "</ul>");
    }
    let _ = writeln!(o, "</main>\n</body>\n</html>");
    o
}
