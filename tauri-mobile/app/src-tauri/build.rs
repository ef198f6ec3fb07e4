//! Compiles the app's capabilities and config (tauri-build).

fn main() {
    tauri_build::build()
}
