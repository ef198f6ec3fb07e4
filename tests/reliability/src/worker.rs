//! The protocol between the crash harness and `chatsync-crash-worker`, its victim.
//!
//! The worker is a real client process: it opens a cache file, starts a
//! [`chatsync::ChatSyncClient`], opens chats and then works (sends, resyncs,
//! re-opens, loads history) until it is SIGKILLed. Two channels carry facts back:
//!
//! - the **side log** (a file): one [`SentRecord`] line per message, appended and
//!   fsynced *after* `send_message` returned, i.e. after the message was durably
//!   queued. A line that is not complete (killed mid-write) is ignored.
//! - **stdout**: with `--settle`, one `SETTLED <json>` line ([`WorkerReport`]) once
//!   the outbox is drained and every chat has settled; the worker then waits for a
//!   `go` line on stdin before it starts working. On stdin EOF it exits.
//!
//! The token comes from the [`TOKEN_ENV`] environment variable (never the command
//! line, which other processes can read).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Environment variable carrying the worker's bearer token.
pub const TOKEN_ENV: &str = "CHATSYNC_WORKER_TOKEN";
/// Prefix of the stdout line carrying a [`WorkerReport`].
pub const SETTLED_PREFIX: &str = "SETTLED ";

/// One durably queued outgoing message, as the side log records it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SentRecord {
    /// The chat.
    pub chat: String,
    /// The `clientTempId` `send_message` returned.
    pub client_temp_id: String,
    /// The text (unique per message: `crash <nonce> <n>`).
    pub content: String,
}

impl SentRecord {
    fn line(&self) -> String {
        format!(
            "SENT\t{}\t{}\t{}\n",
            self.chat, self.client_temp_id, self.content
        )
    }
}

/// Appends `record` to the side log and fsyncs it before returning.
pub fn append_side_log(path: &Path, record: &SentRecord) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write call of one short line: a SIGKILL cannot leave half of it behind a
    // later line, and a torn last line lacks its newline.
    file.write_all(record.line().as_bytes())?;
    file.sync_data()
}

/// Every complete record of the side log, in order (a missing file is empty).
pub fn read_side_log(path: &Path) -> std::io::Result<Vec<SentRecord>> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut records = Vec::new();
    for line in text.split_inclusive('\n') {
        let Some(line) = line.strip_suffix('\n') else {
            continue; // torn by the kill
        };
        let mut fields = line.split('\t');
        if let (Some("SENT"), Some(chat), Some(id), Some(content), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) {
            records.push(SentRecord {
                chat: chat.to_string(),
                client_temp_id: id.to_string(),
                content: content.to_string(),
            });
        }
    }
    Ok(records)
}

/// One cached message of a [`ChatReport`]: sequence, server id, content.
pub type ReportedMessage = (i64, String, String);

/// A settled chat as the worker's client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatReport {
    /// The chat.
    pub id: String,
    /// `SYNCED`, `OUT_OF_SYNC` or `UNKNOWN` (the client's live state).
    pub state: String,
    /// First sequence of the cache's newest window.
    pub window_start: Option<i64>,
    /// The cached messages of the newest window, ascending.
    pub window: Vec<ReportedMessage>,
    /// Local (unsent) outgoing messages still shown in the chat.
    pub local_pending: usize,
}

/// What the worker reports once settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerReport {
    /// One report per chat, in the order of `--chats`.
    pub chats: Vec<ChatReport>,
    /// Outbox entries left (all chats).
    pub outbox: usize,
    /// Milliseconds from process start to settled.
    pub settle_ms: u64,
}
