//! "Since you were last here": what changed since a device last looked.
//!
//! The device keeps the heads it last showed its person. The old state is rebuilt at those
//! heads and compared with the current views, so what is reported is exactly what the person
//! could not see then and can see now: private notes revealed since count as new, withdrawn
//! notes never appear, and anonymous contributions stay anonymous.

use std::collections::{HashMap, HashSet};

use automerge::{Automerge, ChangeHash, ReadDoc};
use serde::Serialize;

use crate::board::AuthorView;
use crate::challenges::summarise;
use crate::ids::{
    ActionId, ChallengeId, NoteId, ParticipantId, ReflectionId, ResponseId, RoundId, Timestamp, ValueId,
};
use crate::kinds::{ChallengeKind, ChallengeStatus, ReflectionKind, RoundOutcome};
use crate::workshop::{Viewer, Workshop};

/// One thing that happened while the viewer was away.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CatchUpItem {
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub change: Change,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// Someone joined.
    Joined {
        /// Who.
        participant: ParticipantId,
        /// Their first name.
        name: String,
    },
    /// A note appeared on the board (new, or newly revealed).
    NoteAdded {
        /// The note.
        note: NoteId,
        /// Who wrote it.
        author: AuthorView,
        /// The area's title.
        prompt: String,
        /// The start of what it says.
        text: String,
    },
    /// A challenge was raised.
    ChallengeRaised {
        /// The challenge.
        challenge: ChallengeId,
        /// Who raised it.
        author: AuthorView,
        /// Its kind.
        kind: ChallengeKind,
        /// The start of what it says.
        text: String,
        /// The start of what it is about.
        about: String,
    },
    /// Someone replied to a challenge.
    ChallengeResponse {
        /// The challenge.
        challenge: ChallengeId,
        /// The reply.
        response: ResponseId,
        /// Who replied.
        author: AuthorView,
        /// The start of the reply.
        text: String,
    },
    /// A challenge was marked heard, changed my view, parked or reopened.
    ChallengeStatus {
        /// The challenge.
        challenge: ChallengeId,
        /// Its new status.
        status: ChallengeStatus,
        /// The start of what it says.
        text: String,
    },
    /// A value was drafted.
    ValueDrafted {
        /// The value.
        value: ValueId,
        /// The start of its statement.
        statement: String,
    },
    /// A consent round opened.
    RoundOpened {
        /// The value.
        value: ValueId,
        /// The round.
        round: RoundId,
        /// The start of the statement.
        statement: String,
    },
    /// A consent round closed.
    RoundClosed {
        /// The value.
        value: ValueId,
        /// The round.
        round: RoundId,
        /// How it ended.
        outcome: RoundOutcome,
        /// The version it asked about.
        version: u32,
        /// The start of the statement.
        statement: String,
    },
    /// A reflection was added.
    Reflection {
        /// The reflection.
        reflection: ReflectionId,
        /// Who wrote it.
        author: AuthorView,
        /// Which prompt it answers.
        kind: ReflectionKind,
        /// The start of what it says.
        text: String,
    },
    /// An action was added.
    ActionAdded {
        /// The action.
        action: ActionId,
        /// The start of what it says.
        text: String,
    },
    /// An action was done.
    ActionDone {
        /// The action.
        action: ActionId,
        /// The start of what it says.
        text: String,
    },
}

impl CatchUpItem {
    /// The change in one plain-English sentence.
    pub fn describe(&self) -> String {
        match &self.change {
            Change::Joined { name, .. } => format!("{name} joined the workshop."),
            Change::NoteAdded { author, prompt, text, .. } => {
                format!("{} added a note to “{prompt}”: “{text}”", author.display())
            }
            Change::ChallengeRaised { author, kind, text, about, .. } => {
                format!("{} raised a challenge on “{about}”: {} {text}", author.display(), kind.label())
            }
            Change::ChallengeResponse { author, text, .. } => {
                format!("{} replied to a challenge: “{text}”", author.display())
            }
            Change::ChallengeStatus { status, text, .. } => {
                format!("A challenge was marked “{}”: “{text}”", status.label())
            }
            Change::ValueDrafted { statement, .. } => format!("A value was drafted: “{statement}”"),
            Change::RoundOpened { statement, .. } => format!("A consent round opened on “{statement}”."),
            Change::RoundClosed { outcome, version, statement, .. } => match outcome {
                RoundOutcome::Agreed => format!("The group agreed “{statement}” (version {version})."),
                RoundOutcome::NoQuorum => {
                    format!("The consent round on “{statement}” closed without enough people taking part.")
                }
                RoundOutcome::Objection => {
                    format!("The consent round on “{statement}” closed with an objection still open.")
                }
                RoundOutcome::Withdrawn => {
                    format!("“{statement}” was withdrawn while its consent round was open.")
                }
            },
            Change::Reflection { author, kind, text, .. } => {
                format!("{} reflected on “{}”: “{text}”", author.display(), kind.label())
            }
            Change::ActionAdded { text, .. } => format!("A new action: “{text}”"),
            Change::ActionDone { text, .. } => format!("An action was done: “{text}”"),
        }
    }
}

const SHORT: usize = 80;

impl Workshop {
    /// What changed since `heads` (the heads this device last showed its person), newest
    /// first, leaving out what the viewer did themselves. Heads this replica does not know
    /// are ignored; with none known, everything counts as new.
    pub fn changes_since(&self, viewer: &Viewer, heads: &[ChangeHash]) -> Vec<CatchUpItem> {
        let known: Vec<ChangeHash> =
            heads.iter().copied().filter(|h| self.doc.get_change_by_hash(h).is_some()).collect();
        let old_doc =
            if known.is_empty() { Automerge::new() } else { self.doc.fork_at(&known).unwrap_or_default() };
        let old = Workshop { doc: old_doc };
        let mut items = Vec::new();

        let old_people: HashSet<ParticipantId> = old.participants().into_iter().map(|p| p.id).collect();
        for p in self.participants() {
            if !old_people.contains(&p.id) && Some(p.id) != viewer.participant {
                items.push(CatchUpItem {
                    at: p.joined_at,
                    change: Change::Joined { participant: p.id, name: p.name },
                });
            }
        }

        let board = self.board(viewer);
        let old_notes: HashSet<NoteId> =
            old.board(viewer).prompts.into_iter().flat_map(|p| p.notes).map(|n| n.id).collect();
        for prompt in &board.prompts {
            for note in &prompt.notes {
                if !old_notes.contains(&note.id) && !note.mine {
                    items.push(CatchUpItem {
                        at: note.created_at,
                        change: Change::NoteAdded {
                            note: note.id,
                            author: note.author.clone(),
                            prompt: summarise(&prompt.title, SHORT),
                            text: summarise(&note.text, SHORT),
                        },
                    });
                }
            }
        }

        let old_challenges: HashMap<ChallengeId, _> =
            old.challenges(viewer).into_iter().map(|c| (c.id, c)).collect();
        for c in self.challenges(viewer) {
            let before = old_challenges.get(&c.id);
            if before.is_none() && !c.mine {
                items.push(CatchUpItem {
                    at: c.created_at,
                    change: Change::ChallengeRaised {
                        challenge: c.id,
                        author: c.author.clone(),
                        kind: c.kind,
                        text: summarise(&c.text, SHORT),
                        about: c.target_summary.clone(),
                    },
                });
            }
            let old_status = before.map_or(crate::ChallengeStatus::Open, |b| b.status);
            if c.status != old_status {
                items.push(CatchUpItem {
                    at: c.status_at.unwrap_or(c.created_at),
                    change: Change::ChallengeStatus {
                        challenge: c.id,
                        status: c.status,
                        text: summarise(&c.text, SHORT),
                    },
                });
            }
            let old_responses: HashSet<ResponseId> =
                before.map(|b| b.responses.iter().map(|r| r.id).collect()).unwrap_or_default();
            for r in &c.responses {
                if !old_responses.contains(&r.id) && !r.mine {
                    items.push(CatchUpItem {
                        at: r.at,
                        change: Change::ChallengeResponse {
                            challenge: c.id,
                            response: r.id,
                            author: r.author.clone(),
                            text: summarise(&r.text, SHORT),
                        },
                    });
                }
            }
        }

        let old_values: HashMap<ValueId, _> = old.values(viewer).into_iter().map(|v| (v.id, v)).collect();
        for v in self.values(viewer) {
            let before = old_values.get(&v.id);
            let statement = summarise(&v.statement, SHORT);
            if before.is_none() {
                items.push(CatchUpItem {
                    at: v.created_at,
                    change: Change::ValueDrafted { value: v.id, statement: statement.clone() },
                });
            }
            for r in &v.rounds {
                let old_round = before.and_then(|b| b.rounds.iter().find(|o| o.id == r.id));
                if old_round.is_none() {
                    items.push(CatchUpItem {
                        at: r.opened_at,
                        change: Change::RoundOpened {
                            value: v.id,
                            round: r.id,
                            statement: summarise(&r.statement, SHORT),
                        },
                    });
                }
                if let (Some(outcome), Some(closed_at)) = (r.outcome, r.closed_at) {
                    if old_round.is_none_or(|o| o.outcome.is_none()) {
                        items.push(CatchUpItem {
                            at: closed_at,
                            change: Change::RoundClosed {
                                value: v.id,
                                round: r.id,
                                outcome,
                                version: r.version,
                                statement: summarise(&r.statement, SHORT),
                            },
                        });
                    }
                }
            }
        }

        let old_reflections: HashSet<ReflectionId> =
            old.reflections(viewer).into_iter().map(|r| r.id).collect();
        for r in self.reflections(viewer) {
            if !old_reflections.contains(&r.id) && !r.mine {
                items.push(CatchUpItem {
                    at: r.at,
                    change: Change::Reflection {
                        reflection: r.id,
                        author: r.author,
                        kind: r.kind,
                        text: summarise(&r.text, SHORT),
                    },
                });
            }
        }

        let old_actions: HashMap<ActionId, bool> =
            old.actions().into_iter().map(|a| (a.id, a.done)).collect();
        for a in self.actions() {
            let text = summarise(&a.text, SHORT);
            match old_actions.get(&a.id) {
                None => items.push(CatchUpItem {
                    at: a.created_at,
                    change: Change::ActionAdded { action: a.id, text: text.clone() },
                }),
                Some(false) if a.done => items.push(CatchUpItem {
                    at: a.created_at,
                    change: Change::ActionDone { action: a.id, text },
                }),
                _ => {}
            }
        }

        items.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.describe().cmp(&b.describe())));
        items
    }
}
