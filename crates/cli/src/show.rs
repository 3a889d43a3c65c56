//! `show`: the workshop as plain-English text, as the person on this laptop sees it.

use std::fmt::Write;

use commonground_api::Snapshot;
use commonground_workshop::{
    AuthorView, ChallengeKind, ChallengeStatus, NoteView, RoundView, ValueStatus, ValueView,
};

/// The workshop as text: title, phase, ground rules, who is here, each area with its notes
/// and dots, values with their status and tally, and open challenges.
pub(crate) fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let o = &mut out;
    line(o, 0, &s.meta.title);
    if !s.meta.purpose.trim().is_empty() {
        line(o, 0, &format!("Purpose: {}", s.meta.purpose.trim()));
    }
    line(o, 0, &format!("Phase: {}", s.meta.phase.label()));
    let me = s.me.and_then(|me| s.participants.iter().find(|p| p.id == me && !p.removed));
    match me {
        Some(me) => line(o, 0, &format!("You are {}.", me.name)),
        None => line(o, 0, "You haven't joined this workshop on this laptop."),
    }

    heading(o, "Ground rules");
    if s.ground_rules.is_empty() {
        line(o, 1, "None yet.");
    }
    for (i, rule) in s.ground_rules.iter().enumerate() {
        line(o, 1, &format!("{}. {}", i + 1, rule.text));
    }

    let here: Vec<_> = s.participants.iter().filter(|p| !p.removed).collect();
    heading(o, &format!("Who is here ({})", here.len()));
    for p in &here {
        let mut about = vec![format!("{} {}", p.colour.label(), p.symbol.key())];
        if p.facilitator {
            about.push("facilitator".to_owned());
        }
        if Some(p.id) == s.me {
            about.push("you".to_owned());
        }
        let who = format!("{} ({})", p.name, about.join(", "));
        line(o, 1, &who);
    }

    heading(o, "Board");
    if s.board.prompts.is_empty() {
        line(o, 1, "No areas yet.");
    }
    for prompt in &s.board.prompts {
        line(o, 1, &prompt.title);
        if prompt.notes.is_empty() {
            line(o, 2, "No notes yet.");
        }
        for cluster in &prompt.clusters {
            let notes: Vec<&NoteView> =
                prompt.notes.iter().filter(|n| n.cluster == Some(cluster.id)).collect();
            if notes.is_empty() {
                continue;
            }
            line(o, 2, &format!("Group: {}", cluster.title));
            for note in notes {
                line(o, 3, &note_line(note));
            }
        }
        let grouped = |n: &&NoteView| n.cluster.is_some_and(|c| prompt.clusters.iter().any(|k| k.id == c));
        for note in prompt.notes.iter().filter(|n| !grouped(n)) {
            line(o, 2, &note_line(note));
        }
    }
    if !s.board.unplaced.is_empty() {
        line(o, 1, "Notes not in an area");
        for note in &s.board.unplaced {
            line(o, 2, &note_line(note));
        }
    }
    if me.is_some() {
        line(o, 1, &format!("You have {} left to place.", count(s.board.votes_left, "dot", "dots")));
    }

    heading(o, "Values");
    if s.values.is_empty() {
        line(o, 1, "None drafted yet.");
    }
    for value in &s.values {
        line(o, 1, &value_line(value));
    }

    let open: Vec<_> = s.challenges.iter().filter(|c| c.status == ChallengeStatus::Open).collect();
    heading(o, "Open challenges");
    if open.is_empty() {
        line(o, 1, "None.");
    }
    for c in open {
        let replies = if c.responses.is_empty() {
            String::new()
        } else {
            format!(", {}", count(c.responses.len() as u32, "reply", "replies"))
        };
        line(
            o,
            1,
            &format!(
                "{} about {}: \"{}\" ({}{replies})",
                match c.kind {
                    ChallengeKind::SeeDifferently => "Sees it differently",
                    ChallengeKind::WhatIf => "What if",
                    ChallengeKind::Question => "Question",
                },
                c.target_summary,
                c.text,
                author(&c.author)
            ),
        );
    }
    out
}

fn note_line(note: &NoteView) -> String {
    let mut extra = vec![author(&note.author)];
    if note.votes > 0 {
        extra.push(count(note.votes, "dot", "dots"));
    }
    if note.my_votes > 0 {
        extra.push(format!("{} yours", note.my_votes));
    }
    if note.private {
        extra.push("private until the reveal".to_owned());
    }
    format!("\"{}\" ({})", note.text, extra.join(", "))
}

fn value_line(value: &ValueView) -> String {
    let status = match value.status {
        ValueStatus::Draft => "draft",
        ValueStatus::InConsent => "in a consent round",
        ValueStatus::Agreed => "agreed",
        ValueStatus::Withdrawn => "withdrawn",
    };
    let round = value
        .current_round
        .and_then(|id| value.rounds.iter().find(|r| r.id == id))
        .or_else(|| value.rounds.iter().max_by_key(|r| r.opened_at));
    match round {
        Some(round) => format!("\"{}\" ({status}; {})", value.statement, tally(round)),
        None => format!("\"{}\" ({status})", value.statement),
    }
}

fn tally(round: &RoundView) -> String {
    let t = round.tally;
    format!(
        "agree {}, with reservations {}, stand aside {}, object {}; {} of {} needed",
        t.agree,
        t.reservations,
        t.stand_aside,
        t.object,
        t.total(),
        round.quorum
    )
}

fn author(a: &AuthorView) -> String {
    match a {
        AuthorView::Participant { name, .. } => name.clone(),
        AuthorView::Anonymous => "anonymous".to_owned(),
        AuthorView::Unknown => "someone no longer here".to_owned(),
    }
}

fn count(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn heading(out: &mut String, title: &str) {
    out.push('\n');
    line(out, 0, title);
}

fn line(out: &mut String, indent: usize, text: &str) {
    // Text typed by people may hold line breaks; keep each item on its own line.
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let _ = writeln!(out, "{:width$}{text}", "", width = indent * 2);
}
