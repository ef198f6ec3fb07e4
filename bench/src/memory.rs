//! Measurement 5: peak resident memory while a real client syncs 100 chats of 1,000
//! messages each from the reference server; and the stripped size of the FFI library.
//!
//! Peak RSS is the process's `VmHWM` (`/proc/self/status`), reset just before the
//! sync by writing `5` to `/proc/self/clear_refs` (Linux >= 4.0), so it is the peak of
//! the sync. The process also hosts the in-process server; its database is a file
//! (seeded before the reset) so its memory is SQLite's page cache, not the data set.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chatsync::SyncState;
use chatsync_server::ServerConfig;
use serde::Serialize;

use crate::harness::{Env, ensure};
use crate::{BenchError, Progress};

/// Measurement 5's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryReport {
    /// Chats synced.
    pub chats: u32,
    /// Messages in each.
    pub messages_per_chat: u32,
    /// `VmRSS` just before the sync, in bytes.
    pub baseline_rss_bytes: u64,
    /// `VmHWM` after the sync, in bytes (the peak since the reset, or since the process
    /// started when the reset was refused).
    pub peak_rss_bytes: u64,
    /// `peak - baseline`.
    pub peak_increase_bytes: u64,
    /// True when the high-water mark was reset before the sync.
    pub hwm_reset: bool,
    /// Wall time of the sync, in seconds.
    pub sync_seconds: f64,
    /// HTTP requests the client made.
    pub requests: u64,
    /// The cache file (with its WAL) afterwards, in bytes.
    pub cache_file_bytes: u64,
    /// The FFI library's size, or why it is missing.
    pub ffi_library: FfiLibrary,
}

/// The stripped release size of the FFI library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FfiLibrary {
    /// `measured`, `not-built` or `pending` (no FFI crate in the tree).
    pub status: String,
    /// The library file measured (or expected).
    pub path: Option<String>,
    /// Its size as built, in bytes.
    pub bytes: Option<u64>,
    /// Its size after `strip`, in bytes.
    pub stripped_bytes: Option<u64>,
    /// How to produce it, or what was measured.
    pub note: String,
}

/// Syncs `chats` chats of `messages` messages each (the whole chat: `resync_window`
/// = `messages`, pages of 100) one after the other, like a first launch.
pub async fn run(
    chats: u32,
    messages: u32,
    progress: &Progress,
) -> Result<MemoryReport, BenchError> {
    let dir = tempfile::tempdir()?;
    progress.say(&format!(
        "memory: seeding {chats} chats of {messages} messages"
    ));
    let mut config = ServerConfig::ephemeral().with_seed(chats, messages);
    config.db = Some(dir.path().join("server.sqlite"));
    let env = Env::start(config).await?;
    let tickets = env.server.ticket_ids().await?;
    let cache_path = env.path("memory.sqlite");

    progress.say("memory: syncing");
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let baseline_rss_bytes = status_bytes("VmRSS").unwrap_or(0);
    let started = Instant::now();
    let client = env.client(cache_path.clone(), |c| {
        c.resync_window = i64::from(messages);
        c.page_size = 100;
    })?;
    client.start();
    for chat in &tickets {
        client.open_chat(chat)?;
        let state = client
            .wait_until_settled(chat, Duration::from_secs(60))
            .await;
        ensure(state == SyncState::Synced, || {
            format!("{chat} ended {state:?}")
        })?;
        client.close_chat(chat);
    }
    let sync_seconds = started.elapsed().as_secs_f64();
    let peak_rss_bytes = status_bytes("VmHWM").unwrap_or(0);
    for chat in &tickets {
        let count = client.get_sync_meta(chat)?.message_count;
        ensure(count == i64::from(messages), || {
            format!("{chat} has {count} messages cached")
        })?;
    }
    let requests = client.net_stats().http_requests;
    drop(client);
    Ok(MemoryReport {
        chats,
        messages_per_chat: messages,
        baseline_rss_bytes,
        peak_rss_bytes,
        peak_increase_bytes: peak_rss_bytes.saturating_sub(baseline_rss_bytes),
        hwm_reset,
        sync_seconds,
        requests,
        cache_file_bytes: crate::validation::file_bytes(&cache_path),
        ffi_library: ffi_library(),
    })
}

/// A `kB` field of `/proc/self/status`, in bytes.
pub fn status_bytes(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(&format!("{field}:")))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The workspace's `cdylib` crates: (library name, crate directory).
fn cdylib_crates(root: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        if !text.contains("cdylib") {
            continue;
        }
        if let Some(name) = lib_name(&text) {
            found.push((name, entry.path()));
        }
    }
    found.sort();
    found
}

/// The `[lib] name`, else the package name, with `-` as `_`.
fn lib_name(manifest: &str) -> Option<String> {
    let mut section = "";
    let (mut lib, mut package) = (None, None);
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if let Some(value) = line
            .strip_prefix("name")
            .map(str::trim)
            .and_then(|v| v.strip_prefix('='))
        {
            let value = value.trim().trim_matches('"').replace('-', "_");
            match section {
                "[lib]" => lib = Some(value),
                "[package]" => package = Some(value),
                _ => {}
            }
        }
    }
    lib.or(package)
}

/// Measures the FFI library of the workspace's release build, if there is one.
pub fn ffi_library() -> FfiLibrary {
    let root = crate::workspace_root();
    let crates = cdylib_crates(&root);
    let Some((name, dir)) = crates.first() else {
        return FfiLibrary {
            status: "pending".into(),
            path: None,
            bytes: None,
            stripped_bytes: None,
            note: "no FFI (cdylib) crate in this tree yet".into(),
        };
    };
    let target = crate::target_dir();
    let file_name = format!("lib{name}.so");
    // The shipped form first (bindings/scripts/size.sh: already stripped), then
    // builds whose copy is stripped here.
    let shipped = target.join("bindings-release").join(&file_name);
    // A build of other sources (left in a shared target directory) is not this tree's size.
    let mut stale = None;
    let mut current = |file: &Path| match crate::stale_ffi_build(file) {
        Some(reason) => {
            stale.get_or_insert(reason);
            false
        }
        None => true,
    };
    if let Ok(meta) = std::fs::metadata(&shipped)
        && current(&shipped)
    {
        return FfiLibrary {
            status: "measured".into(),
            path: Some(shipped.display().to_string()),
            bytes: None,
            stripped_bytes: Some(meta.len()),
            note: "the shipped build of bindings/scripts/size.sh (release-ffi: LTO, opt-level z, packed relocations), stripped".into(),
        };
    }
    for (profile, note) in [
        ("release-ffi", "release-ffi profile (LTO, opt-level z)"),
        (
            "release",
            "release profile, not the shipped release-ffi build (bindings/scripts/size.sh makes that one, smaller)",
        ),
    ] {
        let file = target.join(profile).join(&file_name);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        if !current(&file) {
            continue;
        }
        let stripped = strip_size(&file);
        return FfiLibrary {
            status: "measured".into(),
            path: Some(file.display().to_string()),
            bytes: Some(meta.len()),
            stripped_bytes: stripped,
            note: if stripped.is_some() {
                format!("{note}; a copy stripped with `strip`")
            } else {
                format!("{note}; `strip` is not available, so the stripped size is missing")
            },
        };
    }
    FfiLibrary {
        status: "not-built".into(),
        path: Some(shipped.display().to_string()),
        bytes: None,
        stripped_bytes: None,
        note: match stale {
            Some(reason) => format!("{reason}; rebuild it: bindings/scripts/size.sh"),
            None => format!(
                "build it first: bindings/scripts/size.sh (crate {})",
                dir.display()
            ),
        },
    }
}

/// The size of a stripped copy of `file`.
fn strip_size(file: &Path) -> Option<u64> {
    let dir = tempfile::tempdir().ok()?;
    let copy = dir.path().join("lib.so");
    std::fs::copy(file, &copy).ok()?;
    let status = std::process::Command::new("strip")
        .arg(&copy)
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    std::fs::metadata(&copy).ok().map(|m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lib_name_prefers_the_lib_section() {
        let manifest = "[package]\nname = \"chatsync-ffi\"\n\n[lib]\ncrate-type = [\"cdylib\"]\nname = \"chatsync_uniffi\"\n";
        assert_eq!(lib_name(manifest).as_deref(), Some("chatsync_uniffi"));
        assert_eq!(
            lib_name("[package]\nname = \"a-b\"\n").as_deref(),
            Some("a_b")
        );
    }

    #[test]
    fn status_fields_are_read() {
        assert!(status_bytes("VmRSS").is_some_and(|b| b > 0));
        assert_eq!(status_bytes("NoSuchField"), None);
    }
}
