//! The plain-English words every format shares, so the Markdown, HTML, PDF and Word versions
//! can never disagree about what a status or an outcome means.

use commonground_workshop::{ChallengeKind, ChallengeStatus, Perspective, RoundOutcome, TargetKind};

use crate::document::{
    Author, Challenge, ConsentRecord, DocumentStatus, ValuesDocument, REVIEW_AFTER_MONTHS,
};

pub(crate) fn author(a: &Author) -> &str {
    match a {
        Author::Named { name } => name,
        Author::Anonymous => "anonymous",
        Author::Unknown => "someone (not recorded)",
    }
}

pub(crate) fn status(s: DocumentStatus) -> &'static str {
    match s {
        DocumentStatus::Agreed => "Agreed",
        DocumentStatus::AgreedInPart => "Agreed in part: some values are still drafts",
        DocumentStatus::NotYetAgreed => "Draft: no values are agreed yet",
    }
}

pub(crate) fn outcome(o: Option<RoundOutcome>) -> &'static str {
    match o {
        None => "the round is still open",
        Some(RoundOutcome::Agreed) => "agreed",
        Some(RoundOutcome::NoQuorum) => "not agreed: too few people gave a stance",
        Some(RoundOutcome::Objection) => "not agreed: an objection was still unresolved",
        Some(RoundOutcome::Withdrawn) => "the value was withdrawn",
    }
}

pub(crate) fn challenge_status(s: ChallengeStatus) -> &'static str {
    match s {
        ChallengeStatus::Open => "still open",
        ChallengeStatus::Heard => "heard by the group",
        ChallengeStatus::ChangedView => "it changed a view",
        ChallengeStatus::Parked => "parked to come back to",
    }
}

/// Where an objection got to: it is resolved only when the objector's view changed.
pub(crate) fn objection_status(s: ChallengeStatus) -> &'static str {
    match s {
        ChallengeStatus::Open => "not resolved yet",
        ChallengeStatus::Heard => "heard, but not resolved",
        ChallengeStatus::ChangedView => "resolved: their view changed after talking it through",
        ChallengeStatus::Parked => "parked, not resolved",
    }
}

pub(crate) fn challenge_kind(k: ChallengeKind) -> &'static str {
    k.label()
}

pub(crate) fn target(t: TargetKind) -> &'static str {
    match t {
        TargetKind::Note => "the note",
        TargetKind::Value => "the value",
        TargetKind::Reflection => "the reflection",
    }
}

pub(crate) fn perspective(p: Perspective) -> &'static str {
    match p {
        Perspective::LivedExperience => "lived experience of services",
        Perspective::Carer => "a carer, family member or friend",
        Perspective::Community => "a voluntary or community group",
        Perspective::Services => "works in services",
        Perspective::Commissioning => "plans or pays for services",
        Perspective::Other => "something else",
    }
}

/// "1 person", "3 people"; "1 note", "2 notes".
pub(crate) fn n(count: u32, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

/// A list in English: "Amina, Jo and Tom".
pub(crate) fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The facts at the top of the document, as (label, value) pairs.
pub(crate) fn facts(doc: &ValuesDocument) -> Vec<(&'static str, String)> {
    vec![
        ("Status", status(doc.status).to_owned()),
        ("Version", doc.version.to_string()),
        ("Date agreed", doc.date_agreed.map_or_else(|| "Not agreed yet".to_owned(), |d| d.long())),
        ("Review date", review(doc)),
        ("Document hash (SHA-256)", doc.hash.clone()),
    ]
}

pub(crate) fn review(doc: &ValuesDocument) -> String {
    match doc.review_date {
        Some(d) => format!("{} ({REVIEW_AFTER_MONTHS} months after the values were last agreed)", d.long()),
        None => format!("{REVIEW_AFTER_MONTHS} months after the values are agreed"),
    }
}

/// One line about a challenge: "What if…: “text” (raised by Tom on 1 May 2026): heard by the
/// group."
pub(crate) fn challenge_line(c: &Challenge, with_target: bool) -> String {
    let about =
        if with_target { format!(" About {} “{}”.", target(c.target), c.about) } else { String::new() };
    let objection = if c.objection { " (an objection in a consent round)" } else { "" };
    format!(
        "{}: “{}”, raised by {} on {}{objection}.{about} Outcome: {}.",
        challenge_kind(c.kind),
        c.text,
        author(&c.raised_by),
        c.raised_on.long(),
        challenge_status(c.status)
    )
}

pub(crate) fn response_line(r: &crate::document::Response) -> String {
    format!("{} replied: “{}”", author(&r.by), r.text)
}

/// The participation section as sentences.
pub(crate) fn participation(doc: &ValuesDocument) -> Vec<String> {
    let p = &doc.participation;
    let mut out = vec![format!("{} took part.", n(p.people, "person", "people"))];
    if !p.by_perspective.is_empty() {
        let parts: Vec<String> = p
            .by_perspective
            .iter()
            .map(|c| format!("{}: {}", perspective(c.perspective), c.people))
            .collect();
        out.push(format!(
            "By the perspective they chose to share: {}; {} did not say.",
            parts.join("; "),
            p.not_said
        ));
    }
    out.push(format!(
        "Together they wrote {} ({} anonymously), raised {}, wrote {} and gave {} in consent rounds.",
        n(p.notes, "sticky note", "sticky notes"),
        p.anonymous_notes,
        n(p.challenges, "helpful challenge", "helpful challenges"),
        n(p.reflections, "reflection", "reflections"),
        n(p.stances, "stance", "stances"),
    ));
    out.push(format!("Sessions: {} in the room and {} apart.", p.sessions_in_room, p.sessions_apart));
    out.push("Everyone is named by first name only: no titles, roles or organisations.".to_owned());
    out
}

/// The asynchronous section as sentences.
pub(crate) fn asynchronous(doc: &ValuesDocument) -> Vec<String> {
    let a = &doc.asynchronous;
    if a.sessions.is_empty() {
        return vec!["Every session was held together in the room.".to_owned()];
    }
    let sessions: Vec<String> = a.sessions.iter().map(|s| format!("{} ({})", s.title, s.on.long())).collect();
    let mut out = vec![format!("Sessions held apart, each in their own time: {}.", and_list(&sessions))];
    if a.people.is_empty() && a.anonymous_contributions == 0 {
        out.push("Nobody has added anything to them yet.".to_owned());
    } else {
        if !a.people.is_empty() {
            out.push(format!("Taking part from afar: {}.", and_list(&a.people)));
        }
        if a.anonymous_contributions > 0 {
            out.push(format!(
                "{} made anonymously.",
                n(a.anonymous_contributions, "contribution was", "contributions were")
            ));
        }
    }
    out
}

/// The data statement as sentences.
pub(crate) fn data_statement(doc: &ValuesDocument) -> Vec<String> {
    let d = &doc.data;
    vec![
        format!(
            "This document was exported from the workshop's shared record. There is no central \
             server: every laptop that has joined holds a full copy of the record, and no single \
             organisation owns it. At the time of export, {} belonging to {} were registered \
             to the workshop.",
            n(d.devices, "laptop", "laptops"),
            n(d.people_with_devices, "person", "people")
        ),
        "People are named by the first name they chose. Notes written anonymously are shown as \
         “anonymous” and nothing in this document links them to anyone."
            .to_owned(),
        "Withdrawn notes, notes still private to their author and withdrawn values are not \
         included."
            .to_owned(),
        format!(
            "The document hash is the {} of this document's content written as canonical JSON \
             (the JSON export, with its hash field empty). Exporting the same workshop again \
             gives the same hash, so anyone can check that a copy has not been changed.",
            d.hash_algorithm
        ),
    ]
}

/// The consent table's rows, in order: the stance, how many, and who (first names joined
/// in plain English; empty if no one).
pub(crate) fn consent_rows(c: &ConsentRecord) -> [(&'static str, u32, String); 4] {
    let names = |list: Vec<&String>| and_list(&list.into_iter().cloned().collect::<Vec<_>>());
    [
        ("Agree", c.tally.agree, names(c.agreed.iter().collect())),
        (
            "Agree with reservations",
            c.tally.reservations,
            names(c.reservations.iter().map(|r| &r.name).collect()),
        ),
        ("Stand aside", c.tally.stand_aside, names(c.stood_aside.iter().map(|r| &r.name).collect())),
        ("Object", c.tally.object, names(c.objections.iter().map(|r| &r.name).collect())),
    ]
}

/// Every reservation, stand-aside and objection with its reason, one sentence each.
pub(crate) fn consent_reasons(c: &ConsentRecord) -> Vec<String> {
    let reason =
        |r: &Option<String>| r.as_ref().map_or_else(|| "no reason given".to_owned(), |r| format!("“{r}”"));
    let mut out = Vec::new();
    for r in &c.reservations {
        out.push(format!("{} agreed with reservations: {}.", r.name, reason(&r.reason)));
    }
    for r in &c.stood_aside {
        out.push(format!("{} stood aside: {}.", r.name, reason(&r.reason)));
    }
    for r in &c.objections {
        let outcome =
            r.challenge.map(|s| format!(" The objection was {}.", objection_status(s))).unwrap_or_default();
        out.push(format!("{} objected: {}.{outcome}", r.name, reason(&r.reason)));
    }
    out
}
