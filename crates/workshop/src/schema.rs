//! The document's schema version and the migration hook.
//!
//! Every workshop document carries `schema: u64` at its root. On load, documents older than
//! [`SCHEMA_VERSION`] are brought up to date by running each migration in turn, each as its
//! own change. Because two devices may migrate the same document concurrently, a migration
//! must be idempotent and must only put scalars or create containers under keys that no
//! other device could create at the same time (fresh ids); it must never replace an existing
//! container.

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{Automerge, ReadDoc, ScalarValue, ROOT};

use crate::doc::{self, key};
use crate::error::{Result, WorkshopError};
use crate::ids::Timestamp;

/// The schema version this build writes.
pub const SCHEMA_VERSION: u64 = 1;

/// A migration from one schema version to the next.
pub(crate) type Migration = fn(&mut Transaction<'_>, Timestamp) -> Result<()>;

/// The migrations, as `(from_version, migration)`. Version 1 is the first published schema,
/// so there are none yet; the next schema change adds `(1, migrate_1_to_2)` here.
pub(crate) const MIGRATIONS: &[(u64, Migration)] = &[];

/// The schema version stored in a document.
pub(crate) fn version<R: ReadDoc + ?Sized>(doc: &R) -> Option<u64> {
    let value = doc::int(doc, &ROOT, key::SCHEMA)?;
    u64::try_from(value).ok()
}

/// Brings `doc` up to `target`, running `migrations` in order. Returns the version reached.
pub(crate) fn upgrade(
    doc: &mut Automerge,
    now: Timestamp,
    migrations: &[(u64, Migration)],
    target: u64,
) -> Result<u64> {
    let mut found = version(doc).ok_or(WorkshopError::NotAWorkshop("no format version"))?;
    if found > target {
        return Err(WorkshopError::TooNew { found, supported: target });
    }
    while found < target {
        let (_, migration) = migrations
            .iter()
            .find(|(from, _)| *from == found)
            .ok_or(WorkshopError::NotAWorkshop("an unknown old format"))?;
        let next = found + 1;
        doc.transact_with(
            |_| CommitOptions::default().with_time(now.secs()).with_message(format!("schema {next}")),
            |tx| {
                migration(tx, now)?;
                tx.put(ROOT, key::SCHEMA, ScalarValue::Uint(next))?;
                Ok::<_, WorkshopError>(())
            },
        )
        .map_err(|f| f.error)?;
        found = next;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ObjType;

    fn v1_doc() -> Automerge {
        let mut doc = Automerge::new();
        doc.transact(|tx| {
            tx.put(ROOT, key::SCHEMA, ScalarValue::Uint(1))?;
            let meta = tx.put_object(ROOT, key::META, ObjType::Map)?;
            tx.put(&meta, "phase", "welcome")?;
            Ok::<_, automerge::AutomergeError>(())
        })
        .unwrap();
        doc
    }

    fn add_vote_budget(tx: &mut Transaction<'_>, _now: Timestamp) -> Result<()> {
        let meta = doc::child_map(tx, &ROOT, key::META).expect("meta");
        if doc::int(tx, &meta, "test_field").is_none() {
            tx.put(&meta, "test_field", 7_i64)?;
        }
        Ok(())
    }

    fn second_step(tx: &mut Transaction<'_>, _now: Timestamp) -> Result<()> {
        let meta = doc::child_map(tx, &ROOT, key::META).expect("meta");
        tx.put(&meta, "second", true)?;
        Ok(())
    }

    #[test]
    fn runs_each_migration_in_order_and_records_the_version() {
        let mut doc = v1_doc();
        let migrations: &[(u64, Migration)] = &[(2, second_step), (1, add_vote_budget)];
        assert_eq!(upgrade(&mut doc, Timestamp(1_000), migrations, 3).unwrap(), 3);
        assert_eq!(version(&doc), Some(3));
        let meta = doc::child_map(&doc, &ROOT, key::META).unwrap();
        assert_eq!(doc::int(&doc, &meta, "test_field"), Some(7));
        assert_eq!(doc::boolean(&doc, &meta, "second"), Some(true));
    }

    #[test]
    fn a_current_document_is_not_changed() {
        let mut doc = v1_doc();
        let heads = doc.get_heads();
        assert_eq!(upgrade(&mut doc, Timestamp(0), MIGRATIONS, SCHEMA_VERSION).unwrap(), 1);
        assert_eq!(doc.get_heads(), heads);
    }

    #[test]
    fn a_newer_document_is_refused_and_untouched() {
        let mut doc = v1_doc();
        let heads = doc.get_heads();
        let err = upgrade(&mut doc, Timestamp(0), &[], 0).unwrap_err();
        assert!(matches!(err, WorkshopError::TooNew { found: 1, supported: 0 }));
        assert_eq!(doc.get_heads(), heads);
    }

    #[test]
    fn a_missing_migration_is_an_error_not_a_panic() {
        let mut doc = v1_doc();
        let err = upgrade(&mut doc, Timestamp(0), &[], 2).unwrap_err();
        assert!(matches!(err, WorkshopError::NotAWorkshop(_)));
    }

    #[test]
    fn a_document_without_a_version_is_not_a_workshop() {
        let mut doc = Automerge::new();
        let err = upgrade(&mut doc, Timestamp(0), MIGRATIONS, SCHEMA_VERSION).unwrap_err();
        assert!(matches!(err, WorkshopError::NotAWorkshop(_)));
    }
}
