//! Carrying on from home, as a window sets it up: a shared folder and a sync server per
//! workshop, tried before they are kept, remembered across restarts; and exporting the values
//! document.

mod common;

use std::time::Duration;

use commonground_api::{AwayView, ExportFormat, FrontReply, Request};
use commonground_app::App;

async fn away(app: &App, request: Request) -> Result<AwayView, commonground_api::ApiError> {
    match app.request(request).await? {
        FrontReply::Away(view) => Ok(view),
        other => panic!("{other:?}"),
    }
}

/// The files this laptop has written into the workshop's folder inside `shared`.
fn written(shared: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(shared)
        .into_iter()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
        .map(|f| f.unwrap().path())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_is_tried_kept_across_restarts_and_can_be_stopped() {
    let data = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    let first = common::app(data.path(), false).await;
    let workshop = common::create(&first).await;

    // Nothing set up yet.
    let view = away(&first, Request::Away { workshop }).await.unwrap();
    assert!(view.can_change && view.folder.is_none() && view.server.is_none());

    // A relative path and a missing folder are refused with the reason; nothing is kept.
    let refused =
        away(&first, Request::SetFolder { workshop, folder: Some("Nextcloud".into()) }).await.unwrap_err();
    assert_eq!(refused.kind, "folder");
    assert!(refused.message.contains("full path"), "{refused}");
    let missing = shared.path().join("not-here");
    let refused = away(&first, Request::SetFolder { workshop, folder: Some(missing.display().to_string()) })
        .await
        .unwrap_err();
    assert!(refused.message.contains("There is no folder"), "{refused}");
    assert!(away(&first, Request::Away { workshop }).await.unwrap().folder.is_none());

    // A real folder: synced once straight away (the workshop is in it, sealed), then kept.
    let view =
        away(&first, Request::SetFolder { workshop, folder: Some(shared.path().display().to_string()) })
            .await
            .unwrap();
    assert_eq!(view.folder.as_deref(), Some(shared.path().to_str().unwrap()));
    assert_eq!(view.folder_problem, None);
    let files = written(shared.path());
    assert!(!files.is_empty());
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("Living Well"),
            "only ciphertext in {}",
            file.display()
        );
    }
    first.close().await;

    // After a restart the setting is still there, and the folder loop keeps writing to it.
    let second = common::app(data.path(), false).await;
    let view = away(&second, Request::Away { workshop }).await.unwrap();
    assert_eq!(view.folder.as_deref(), Some(shared.path().to_str().unwrap()));
    let view = away(&second, Request::SetFolder { workshop, folder: None }).await.unwrap();
    assert!(view.folder.is_none());
    second.close().await;
    let third = common::app(data.path(), false).await;
    assert!(away(&third, Request::Away { workshop }).await.unwrap().folder.is_none());
    third.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_cant_work_is_refused_and_one_that_is_down_is_kept() {
    let data = tempfile::tempdir().unwrap();
    let first = common::app(data.path(), false).await;
    let workshop = common::create(&first).await;

    let refused =
        away(&first, Request::SetSyncServer { workshop, url: Some("wss://sync.example.org".into()) })
            .await
            .unwrap_err();
    assert_eq!(refused.kind, "sync_server");
    assert!(away(&first, Request::Away { workshop }).await.unwrap().server.is_none());

    // Nothing listens on port 9: kept, not connected, retried.
    let view = away(&first, Request::SetSyncServer { workshop, url: Some("ws://127.0.0.1:9".into()) })
        .await
        .unwrap();
    assert_eq!(view.server.as_deref(), Some("ws://127.0.0.1:9"));
    assert!(!view.server_connected);
    first.close().await;

    let second = common::app(data.path(), false).await;
    let view = away(&second, Request::Away { workshop }).await.unwrap();
    assert_eq!(view.server.as_deref(), Some("ws://127.0.0.1:9"));
    let view = away(&second, Request::SetSyncServer { workshop, url: None }).await.unwrap();
    assert!(view.server.is_none());
    second.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_values_document_is_exported_in_each_format_with_a_file_name() {
    let data = tempfile::tempdir().unwrap();
    let app = common::app(data.path(), false).await;
    let workshop = common::create(&app).await;
    for (format, name, starts) in [
        (ExportFormat::Markdown, "living-well-values.md", &b"# "[..]),
        (ExportFormat::Html, "living-well-values.html", b"<!DOCTYPE html>"),
        (ExportFormat::EasyRead, "living-well-values-easy-read.html", b"<!DOCTYPE html>"),
        (ExportFormat::Json, "living-well-values.json", b"{"),
        (ExportFormat::Docx, "living-well-values.docx", b"PK"),
    ] {
        let exported = tokio::time::timeout(Duration::from_secs(60), app.export(workshop, format))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(exported.file_name, name);
        assert!(exported.bytes.starts_with(starts), "{name}");
    }
    app.close().await;
}
