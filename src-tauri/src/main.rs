//! The Common Ground desktop app: one window over the shared controller (`commonground_app`).
//!
//! This crate is the shell and nothing more: it finds the data folder, starts the controller,
//! opens the window and its menu, and adapts Tauri's IPC to the front-door contract
//! (`bridge.rs`: one command in, notices out). Everything a person can do lives in
//! `crates/app` and below, shared with the browser front door and the CLI.

// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bridge;
mod menu;
mod ui_files;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use commonground_app::{App, AppConfig};
use tauri::Manager;

/// Overrides the data folder, for tests and for running two copies side by side.
const DATA_ENV: &str = "COMMONGROUND_DATA";

/// The identifier in tauri.conf.json: the base of the single-instance D-Bus name on Linux.
const IDENTIFIER: &str = "org.commonground.desktop";

fn main() -> ExitCode {
    init_logs();
    let (data_dir, overridden) = match data_dir() {
        Ok(found) => found,
        Err(message) => {
            eprintln!("commonground-desktop: {message}");
            return ExitCode::FAILURE;
        }
    };
    let built = tauri::Builder::default()
        // First, so a second launch hands over to the first window before anything else
        // starts (it would find the data folder in use).
        .plugin(single_instance(&data_dir, overridden))
        .menu(menu::build)
        .on_menu_event(menu::on_event)
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![bridge::request, bridge::save_export, bridge::choose_folder])
        .setup(move |app| {
            let mut config = AppConfig::desktop(data_dir);
            // Phones are served the same UI files as this window.
            config.ui = Some(Arc::new(ui_files::EmbeddedUi(app.asset_resolver())));
            let controller = tauri::async_runtime::block_on(App::start(config))?;
            bridge::forward_notices(app.handle().clone(), controller.clone());
            app.manage(controller);
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match built {
        Ok(app) => app,
        Err(e) => {
            eprintln!("commonground-desktop: Common Ground couldn't start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = app.run_return(|handle, event| {
        // Stop the controller while the runtime is still there: it finishes writing, says
        // goodbye to the other laptops and lets go of the data folder.
        if let tauri::RunEvent::Exit = event {
            if let Some(controller) = handle.try_state::<App>() {
                tauri::async_runtime::block_on(controller.stop());
            }
        }
    });
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The data folder: `COMMONGROUND_DATA` if set, otherwise the node's platform folder (the
/// same one the `commonground` CLI uses, so both see the same workshops). Also says whether
/// it was overridden.
fn data_dir() -> Result<(PathBuf, bool), String> {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => Ok((PathBuf::from(dir), true)),
        _ => commonground_node::Node::default_data_dir().map(|dir| (dir, false)).map_err(|e| {
            format!("{e}. Set {DATA_ENV} to the folder Common Ground should keep its workshops in.")
        }),
    }
}

/// A second launch focuses the first window instead of opening another. A data folder is
/// used by one process at a time, so with `COMMONGROUND_DATA` the rule is one window per
/// folder: tests can run beside a person's own copy.
fn single_instance(data_dir: &std::path::Path, overridden: bool) -> tauri::plugin::TauriPlugin<tauri::Wry> {
    let mut plugin = tauri_plugin_single_instance::Builder::new().callback(|app, _args, _cwd| {
        if let Some(window) = app.get_webview_window("main") {
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
        }
    });
    if overridden {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        data_dir.hash(&mut hasher);
        plugin = plugin.dbus_id(format!("{IDENTIFIER}.data{:016x}", hasher.finish()));
    }
    plugin.build()
}

/// Logs to stderr: warnings, and the node's network comings and goings at info (which carry
/// no names, titles or note text).
fn init_logs() {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("samod", tracing::Level::WARN)
        .with_target("samod_core", tracing::Level::WARN)
        .with_target("tao", tracing::Level::WARN)
        .with_target("wry", tracing::Level::WARN)
        .with_target("zbus", tracing::Level::WARN);
    let logs =
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_ansi(false);
    tracing_subscriber::registry().with(logs).with(filter).init();
}
