//! Finding the workshop or person someone typed: a full id, the start of one, or a name.

use commonground_api::ApiError;
use commonground_node::Node;
use commonground_workshop::{ParticipantView, WorkshopId};

/// The shortest prefix accepted, so a single stray character can't pick a workshop.
const MIN_PREFIX: usize = 4;

/// The workshop whose id is `typed` or starts with it.
pub(crate) fn workshop(node: &Node, typed: &str) -> anyhow::Result<WorkshopId> {
    let ids = node.list_workshops();
    let strings: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let index = by_prefix(&strings, typed, "workshop")?;
    Ok(ids[index])
}

/// The current participant with this id (or id prefix) or, failing that, this first name.
pub(crate) fn participant<'a>(
    people: &'a [ParticipantView],
    typed: &str,
) -> anyhow::Result<&'a ParticipantView> {
    let here: Vec<&ParticipantView> = people.iter().filter(|p| !p.removed).collect();
    let ids: Vec<String> = here.iter().map(|p| p.id.to_string()).collect();
    let wanted = typed.trim().to_lowercase();
    let named: Vec<&&ParticipantView> = here.iter().filter(|p| p.name.to_lowercase() == wanted).collect();
    match named.as_slice() {
        [one] => return Ok(one),
        [] => {}
        _ => {
            return Err(refuse(
                "ambiguous",
                format!(
                    "{} people here are called {}. Use their participant id instead (see `commonground show --json`).",
                    named.len(),
                    typed.trim()
                ),
            ))
        }
    }
    match by_prefix(&ids, typed, "participant") {
        Ok(index) => Ok(here[index]),
        Err(_) if !looks_like_id(typed) => Err(refuse(
            "participant_not_found",
            format!(
                "Nobody called \"{}\" is in this workshop. Check the name with `commonground show`.",
                typed.trim()
            ),
        )),
        Err(e) => Err(e),
    }
}

/// An error with a kind, for `exec`'s JSON errors.
pub(crate) fn refuse(kind: &str, message: impl Into<String>) -> anyhow::Error {
    ApiError::new(kind, message).into()
}

fn looks_like_id(typed: &str) -> bool {
    let t = typed.trim();
    !t.is_empty() && t.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The index of the one id equal to `typed` or starting with it.
fn by_prefix(ids: &[String], typed: &str, what: &str) -> anyhow::Result<usize> {
    let wanted = typed.trim().to_lowercase();
    if let Some(exact) = ids.iter().position(|id| *id == wanted) {
        return Ok(exact);
    }
    if wanted.is_empty() {
        return Err(refuse("not_found", format!("Please give the {what}'s id.")));
    }
    let matching: Vec<usize> = (0..ids.len()).filter(|&i| ids[i].starts_with(&wanted)).collect();
    match matching.as_slice() {
        [] => Err(refuse(
            &format!("{what}_not_found"),
            format!("There is no {what} {} on this laptop. `commonground status` lists them.", typed.trim()),
        )),
        [_] if wanted.len() < MIN_PREFIX => Err(refuse(
            "ambiguous",
            format!("Please type at least the first {MIN_PREFIX} characters of the {what}'s id."),
        )),
        [one] => Ok(*one),
        many => {
            let shown: Vec<&str> = many.iter().take(3).map(|&i| ids[i].as_str()).collect();
            Err(refuse(
                "ambiguous",
                format!(
                    "\"{}\" is the start of {} {what} ids ({}{}); type more of the one you mean.",
                    typed.trim(),
                    many.len(),
                    shown.join(", "),
                    if many.len() > 3 { ", …" } else { "" }
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        vec!["abcd1234-0000".into(), "abce5678-0000".into(), "ffff0000-1111".into()]
    }

    #[test]
    fn exact_unique_prefix_and_case() {
        assert_eq!(by_prefix(&ids(), "ffff0000-1111", "workshop").unwrap(), 2);
        assert_eq!(by_prefix(&ids(), "abcd", "workshop").unwrap(), 0);
        assert_eq!(by_prefix(&ids(), " ABCE5 ", "workshop").unwrap(), 1);
    }

    #[test]
    fn ambiguous_unknown_and_too_short() {
        let e = by_prefix(&ids(), "abc", "workshop").unwrap_err().to_string();
        assert_eq!(
            e,
            "\"abc\" is the start of 2 workshop ids (abcd1234-0000, abce5678-0000); type more of the one you mean."
        );
        let e = by_prefix(&ids(), "0123", "workshop").unwrap_err().to_string();
        assert_eq!(e, "There is no workshop 0123 on this laptop. `commonground status` lists them.");
        let e = by_prefix(&ids(), "f", "workshop").unwrap_err().to_string();
        assert_eq!(e, "Please type at least the first 4 characters of the workshop's id.");
        assert!(by_prefix(&ids(), "", "workshop").is_err());
    }
}
