//! Waiting for writes to become durable: how "acknowledged" comes to mean "on disk".
//!
//! samod stores changes asynchronously: `DocHandle::with_document` returns as soon as the
//! change is made in memory, and the storage `put` runs later on samod's I/O task (see
//! `repo.rs` for the evidence). So before it runs anything that will write, the node registers
//! an [`Expectation`]: the storage keys that samod will put for the change, as alternatives
//! (one incremental key per change, or one compacted snapshot). [`Acks::durable`] is called by
//! storage after each put has been fsynced; the [`Ticket`] resolves when every key of one
//! alternative is durable, and fails if one of its keys could not be written.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::{NodeError, Result};

/// A storage key, matched against the keys storage writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPattern {
    /// The first component (the document), or `None` to match any (used when creating a
    /// document, before samod has chosen its id).
    pub(crate) first: Option<String>,
    /// The remaining components, matched exactly.
    pub(crate) rest: Vec<String>,
}

impl KeyPattern {
    fn matches(&self, key: &[String]) -> bool {
        match key.split_first() {
            Some((first, rest)) => {
                self.first.as_ref().is_none_or(|f| f == first) && self.rest.as_slice() == rest
            }
            None => false,
        }
    }
}

/// Sets of keys, any one of which being wholly durable means the change is durable.
pub(crate) type Expectation = Vec<Vec<KeyPattern>>;

type Outcome = std::result::Result<(), String>;

struct Pending {
    alternatives: Expectation,
    tx: Option<oneshot::Sender<Outcome>>,
}

/// The writes the node is waiting for.
#[derive(Default)]
pub(crate) struct Acks {
    pending: Mutex<Vec<Pending>>,
}

impl std::fmt::Debug for Acks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acks").finish_non_exhaustive()
    }
}

impl Acks {
    /// Registers an expectation; must be called before the writes can start.
    pub(crate) fn expect(&self, alternatives: Expectation) -> Ticket {
        let (tx, rx) = oneshot::channel();
        let mut pending = self.lock();
        pending.retain(|p| p.tx.as_ref().is_some_and(|tx| !tx.is_closed()));
        pending.push(Pending { alternatives, tx: Some(tx) });
        Ticket { rx }
    }

    /// Storage has durably written `key`.
    pub(crate) fn durable(&self, key: &[String]) {
        let mut pending = self.lock();
        for p in pending.iter_mut() {
            let mut done = false;
            for alt in &mut p.alternatives {
                alt.retain(|pattern| !pattern.matches(key));
                done |= alt.is_empty();
            }
            if done {
                if let Some(tx) = p.tx.take() {
                    let _ = tx.send(Ok(()));
                }
            }
        }
        pending.retain(|p| p.tx.is_some());
    }

    /// Storage could not write `key`.
    pub(crate) fn failed(&self, key: &[String], why: &str) {
        let mut pending = self.lock();
        for p in pending.iter_mut() {
            if p.alternatives.iter().flatten().any(|pattern| pattern.matches(key)) {
                if let Some(tx) = p.tx.take() {
                    let _ = tx.send(Err(why.to_owned()));
                }
            }
        }
        pending.retain(|p| p.tx.is_some());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        // A panic while holding this lock cannot leave the list inconsistent, so a poisoned
        // lock is still usable.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Resolves when the expected writes are durable.
#[derive(Debug)]
pub(crate) struct Ticket {
    rx: oneshot::Receiver<Outcome>,
}

impl Ticket {
    /// Waits until the writes are durable, they fail, or `timeout` passes.
    pub(crate) async fn wait(self, timeout: Duration) -> Result<()> {
        match tokio::time::timeout(timeout, self.rx).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(why))) => Err(NodeError::NotSaved(why)),
            Ok(Err(_)) => Err(NodeError::Stopped),
            Err(_) => Err(NodeError::NotSaved(format!(
                "it was not confirmed as written within {} seconds",
                timeout.as_secs()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    fn pattern(first: Option<&str>, rest: &[&str]) -> KeyPattern {
        KeyPattern { first: first.map(str::to_owned), rest: key(rest) }
    }

    #[tokio::test]
    async fn resolves_when_one_alternative_is_complete() {
        let acks = Acks::default();
        let ticket = acks.expect(vec![
            vec![pattern(Some("d"), &["incremental", "a"]), pattern(Some("d"), &["incremental", "b"])],
            vec![pattern(Some("d"), &["snapshot", "s"])],
        ]);
        acks.durable(&key(&["other", "incremental", "a"]));
        acks.durable(&key(&["d", "incremental", "a"]));
        assert_eq!(acks.lock().len(), 1);
        acks.durable(&key(&["d", "incremental", "b"]));
        ticket.wait(Duration::from_secs(1)).await.unwrap();
        assert!(acks.lock().is_empty());
    }

    #[tokio::test]
    async fn snapshot_alternative_and_wildcard_document() {
        let acks = Acks::default();
        let ticket = acks.expect(vec![
            vec![pattern(None, &["incremental", "a"])],
            vec![pattern(None, &["snapshot", "s"])],
        ]);
        acks.durable(&key(&["new-doc", "snapshot", "s"]));
        ticket.wait(Duration::from_secs(1)).await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_write_fails_the_ticket() {
        let acks = Acks::default();
        let ticket = acks.expect(vec![vec![pattern(Some("d"), &["incremental", "a"])]]);
        acks.failed(&key(&["d", "incremental", "a"]), "disk full");
        assert!(matches!(ticket.wait(Duration::from_secs(1)).await, Err(NodeError::NotSaved(_))));
    }

    #[tokio::test]
    async fn times_out_rather_than_hanging() {
        let acks = Acks::default();
        let ticket = acks.expect(vec![vec![pattern(Some("d"), &["incremental", "a"])]]);
        assert!(matches!(ticket.wait(Duration::from_millis(10)).await, Err(NodeError::NotSaved(_))));
    }
}
