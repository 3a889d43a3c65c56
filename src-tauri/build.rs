//! Generates the Tauri context, and the permissions for our commands (`allow-request`,
//! `allow-save-export`, `allow-choose-folder`), so the capability in `capabilities/` can grant
//! exactly those and nothing else.

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&["request", "save_export", "choose_folder"]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri-build failed: check tauri.conf.json and capabilities/");
}
