//! The window's one way in and one way out: the `request` command, and every [`Notice`]
//! emitted as a `notice` event. One-line adapters onto the controller; no logic of their own.

use commonground_api::{ApiError, FrontReply, Notice, Request};
use commonground_app::App;
use tauri::{AppHandle, Emitter};
use tokio::sync::broadcast::error::RecvError;

/// The front-door contract over Tauri IPC: `invoke("request", { request })`, as the laptop's
/// own person.
#[tauri::command]
pub(crate) async fn request(app: tauri::State<'_, App>, request: Request) -> Result<FrontReply, ApiError> {
    app.request(request).await
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
