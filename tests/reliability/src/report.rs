//! Reports: each harness writes its figures as one JSON file and one log line.
//!
//! Files go to `$CHATSYNC_REL_REPORT_DIR` (default `target/reliability` of the
//! workspace) as `<name>.json`; `run.sh` prints them at the end of a run.

use std::path::PathBuf;

/// The directory reports are written to (created on demand).
pub fn dir() -> PathBuf {
    match std::env::var_os("CHATSYNC_REL_REPORT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/reliability"),
    }
}

/// Writes `value` to `<dir>/<name>.json` and prints `RELIABILITY <name> <json>` on
/// stderr. A report that cannot be written is reported on stderr, never fatal.
pub fn write(name: &str, value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    eprintln!(
        "RELIABILITY {name} {}",
        serde_json::to_string(value).unwrap_or_default()
    );
    let dir = dir();
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(format!("{name}.json")), text + "\n"));
    if let Err(e) = written {
        eprintln!("cannot write the {name} report to {}: {e}", dir.display());
    }
}
