//! The menu bar: File (Quit), View (zoom), Help (About).

use std::sync::Mutex;

use tauri::menu::{AboutMetadata, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::{AppHandle, Manager, Runtime};

const QUIT: &str = "quit";
const ZOOM_IN: &str = "zoom_in";
const ZOOM_OUT: &str = "zoom_out";
const ZOOM_RESET: &str = "zoom_reset";

/// Zoom steps, as a browser has them; the page scales, so a person who needs large text gets
/// it everywhere (the UI works at 200 %).
const ZOOM_STEPS: [f64; 9] = [0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0];
/// 100 %.
const ACTUAL_SIZE: usize = 4;

/// The current zoom, as an index into [`ZOOM_STEPS`].
struct Zoom(Mutex<usize>);

/// Builds the menu (and the zoom state its View items change).
pub(crate) fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Menu<R>> {
    app.manage(Zoom(Mutex::new(ACTUAL_SIZE)));
    let info = app.package_info();
    let about = AboutMetadata {
        name: Some("Common Ground".into()),
        version: Some(info.version.to_string()),
        comments: Some("Co-production workshops, together, without the internet.".into()),
        license: Some("AGPL-3.0-or-later".into()),
        ..Default::default()
    };
    let file = Submenu::with_items(
        app,
        "File",
        true,
        // Not the predefined Quit: GTK has none. Quitting this way still runs the exit
        // handler, so the controller stops cleanly.
        &[&MenuItem::with_id(app, QUIT, "Quit", true, Some("CmdOrCtrl+Q"))?],
    )?;
    let view = Submenu::with_items(
        app,
        "View",
        true,
        &[
            &MenuItem::with_id(app, ZOOM_IN, "Zoom In", true, Some("CmdOrCtrl+="))?,
            &MenuItem::with_id(app, ZOOM_OUT, "Zoom Out", true, Some("CmdOrCtrl+-"))?,
            &MenuItem::with_id(app, ZOOM_RESET, "Actual Size", true, Some("CmdOrCtrl+0"))?,
        ],
    )?;
    let help = Submenu::with_items(
        app,
        "Help",
        true,
        &[&PredefinedMenuItem::about(app, Some("About Common Ground"), Some(about))?],
    )?;
    Menu::with_items(app, &[&file, &view, &help])
}

/// Acts on a menu choice.
pub(crate) fn on_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = event.id().as_ref();
    if id == QUIT {
        app.exit(0);
        return;
    }
    let (Some(zoom), Some(window)) = (app.try_state::<Zoom>(), app.get_webview_window("main")) else {
        return;
    };
    let Ok(mut step) = zoom.0.lock() else { return };
    *step = match id {
        ZOOM_IN => (*step + 1).min(ZOOM_STEPS.len() - 1),
        ZOOM_OUT => step.saturating_sub(1),
        ZOOM_RESET => ACTUAL_SIZE,
        _ => return,
    };
    if let Err(e) = window.set_zoom(ZOOM_STEPS[*step]) {
        tracing::warn!("couldn't zoom the window: {e}");
    }
}
