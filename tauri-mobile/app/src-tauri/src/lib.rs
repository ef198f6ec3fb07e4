//! The requester app's Tauri shell: one window with the SolidJS front end and
//! the chatsync plugin (the Rust core owns the SQLite cache and all sync logic).

/// Builds and runs the app; the entry point on desktop (`main.rs`) and on mobile.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    tauri::Builder::default()
        .plugin(tauri_plugin_chatsync::init())
        .run(tauri::generate_context!())
        .unwrap_or_else(|error| {
            eprintln!("chatsync-requester failed to start: {error}");
            std::process::exit(1);
        });
}
