//! The window's way in and out: the `request` command, every [`Notice`] emitted as a `notice`
//! event, and the two native dialogs (saving an export, choosing a folder). Adapters onto the
//! controller; no logic of their own.

use std::path::PathBuf;

use commonground_api::{ApiError, ExportFormat, FrontReply, Notice, Request};
use commonground_app::App;
use commonground_workshop::WorkshopId;
use tauri::{AppHandle, Emitter};
use tauri_plugin_dialog::DialogExt;

/// For tests: a folder to save exports in, and to answer "choose a folder" with, without
/// showing a dialog (a WebDriver test can't press a native dialog's buttons).
const NO_DIALOG_ENV: &str = "COMMONGROUND_SAVE_TO";
use tokio::sync::broadcast::error::RecvError;

/// The front-door contract over Tauri IPC: `invoke("request", { request })`, as the laptop's
/// own person.
#[tauri::command]
pub(crate) async fn request(app: tauri::State<'_, App>, request: Request) -> Result<FrontReply, ApiError> {
    app.request(request).await
}

/// Exports the values document and saves it where the person chooses in the system's save
/// dialog. Resolves with where it was saved, or `None` if they cancelled.
#[tauri::command]
pub(crate) async fn save_export(
    handle: AppHandle,
    app: tauri::State<'_, App>,
    workshop: WorkshopId,
    format: ExportFormat,
) -> Result<Option<String>, ApiError> {
    let exported = app.export(workshop, format).await?;
    let path = match std::env::var_os(NO_DIALOG_ENV) {
        Some(dir) => Some(PathBuf::from(dir).join(&exported.file_name)),
        None => {
            let extension = exported.file_name.rsplit('.').next().unwrap_or_default().to_owned();
            let (tx, rx) = tokio::sync::oneshot::channel();
            handle
                .dialog()
                .file()
                .set_title("Save the values document")
                .set_file_name(&exported.file_name)
                .add_filter(extension.to_uppercase(), &[extension.as_str()])
                .save_file(move |chosen| {
                    let _ = tx.send(chosen);
                });
            rx.await.ok().flatten().and_then(|p| p.into_path().ok())
        }
    };
    let Some(path) = path else { return Ok(None) };
    let bytes = exported.bytes;
    let target = path.clone();
    tauri::async_runtime::spawn_blocking(move || commonground_app::save_file(&target, &bytes))
        .await
        .map_err(|_| ApiError::new("export_write", "Saving stopped unexpectedly. Please try again."))?
        .map_err(|e| {
            ApiError::new(
                "export_write",
                format!("Couldn't save to {} ({e}). Please choose another place.", path.display()),
            )
        })?;
    Ok(Some(path.display().to_string()))
}

/// Asks the person to choose a folder in the system's folder dialog (`None`: they cancelled).
#[tauri::command]
pub(crate) async fn choose_folder(handle: AppHandle) -> Result<Option<String>, ApiError> {
    if let Some(dir) = std::env::var_os(NO_DIALOG_ENV) {
        return Ok(Some(PathBuf::from(dir).display().to_string()));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    handle.dialog().file().set_title("Choose a shared folder").pick_folder(move |chosen| {
        let _ = tx.send(chosen);
    });
    Ok(rx.await.ok().flatten().and_then(|p| p.into_path().ok()).map(|p| p.display().to_string()))
}

/// Forwards the controller's notices to the window until the controller stops.
pub(crate) fn forward_notices(handle: AppHandle, app: App) {
    let mut notices = app.notices();
    tauri::async_runtime::spawn(async move {
        loop {
            match notices.recv().await {
                Ok(notice) => emit(&handle, &notice),
                // The window fell behind and missed some changes: have it fetch fresh views of
                // every workshop rather than show a stale board.
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the window fell behind; asking it to reload");
                    if let Ok(FrontReply::Welcome { workshops, .. }) = app.request(Request::Hello).await {
                        for summary in workshops {
                            emit(&handle, &Notice::Reload { workshop: summary.id });
                        }
                    }
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}

fn emit(handle: &AppHandle, notice: &Notice) {
    if let Err(e) = handle.emit("notice", notice) {
        tracing::warn!("couldn't pass a notice to the window: {e}");
    }
}
