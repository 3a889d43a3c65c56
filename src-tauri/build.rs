//! Generates the Tauri context, and the permission for our one command (`allow-request`), so
//! the capability in `capabilities/` can grant exactly that and nothing else.

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&["request"]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri-build failed: check tauri.conf.json and capabilities/");
}
