//! The UI's TypeScript bindings are generated from the Rust contract and committed; this test
//! fails when they are stale. Refresh them with
//! `UPDATE_BINDINGS=1 cargo test -p commonground-api --test bindings`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn committed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/ipc/bindings")
}

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ts") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    files
}

#[test]
fn typescript_bindings_are_fresh() {
    let fresh = std::env::temp_dir().join(format!("commonground-bindings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    commonground_api::export_bindings(&fresh).unwrap();
    let generated = read_dir(&fresh);
    assert!(generated.contains_key("Command.ts") && generated.contains_key("Event.ts"));

    let committed = committed_dir();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        let _ = std::fs::remove_dir_all(&committed);
        std::fs::create_dir_all(&committed).unwrap();
        for (name, text) in &generated {
            std::fs::write(committed.join(name), text).unwrap();
        }
    }
    let existing = read_dir(&committed);
    let _ = std::fs::remove_dir_all(&fresh);
    let stale: Vec<&String> = generated.keys().filter(|k| existing.get(*k) != generated.get(*k)).collect();
    let extra: Vec<&String> = existing.keys().filter(|k| !generated.contains_key(*k)).collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "ui/src/lib/ipc/bindings is stale (changed or missing: {stale:?}; no longer generated: {extra:?}). \
         Run: UPDATE_BINDINGS=1 cargo test -p commonground-api --test bindings"
    );
}
