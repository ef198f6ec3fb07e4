//! File-backed cache behaviour: persistence, the migration from the seed's schema,
//! version checks, corruption and recovery, permissions, and concurrency.

mod cache_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cache_support::{msg, msgs, options};
use chatsync::cache::{CacheError, CacheOptions, MessageCache};
use chatsync::{MessageStatus, SeqRange, SyncState, ValidationReason};

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    (dir, path)
}

/// The file's `PRAGMA user_version`, read through a connection of its own.
fn user_version(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", path.display()))
}

#[test]
fn everything_persists_across_reopen() {
    let (_dir, path) = temp();
    {
        let cache = MessageCache::open(&path, options()).unwrap();
        cache.upsert_messages("t1", &msgs("t1", 1..=10)).unwrap();
        cache.upsert_messages("t1", &msgs("t1", 50..=60)).unwrap();
        cache.set_window_start("t1", 50).unwrap();
        cache.update_backend_sequence("t1", Some(60)).unwrap();
        cache
            .update_sync_state("t1", SyncState::Synced, Some(77))
            .unwrap();
        cache
            .enqueue_outgoing("t1", "unsent", "ct-1", None, 5)
            .unwrap();
        cache
            .set_outgoing_status("ct-1", MessageStatus::Failed)
            .unwrap();
    }
    let cache = MessageCache::open(&path, options()).unwrap();
    let summary = cache.summary("t1").unwrap();
    assert_eq!(
        (summary.window_start, summary.max_seq),
        (Some(50), Some(60))
    );
    assert!(cache.validate_sequences("t1").unwrap().valid);
    assert_eq!(
        cache.history_gaps("t1").unwrap(),
        vec![SeqRange::new(11, 49)]
    );
    let meta = cache.get_sync_meta("t1").unwrap();
    assert_eq!(
        (meta.sync_state, meta.last_validated_at, meta.message_count),
        (SyncState::Synced, 77, 21)
    );
    let entry = cache.outbox_entry("ct-1").unwrap().unwrap();
    assert_eq!((entry.status, entry.attempts), (MessageStatus::Failed, 1));
    cache.integrity_check().unwrap();
}

/// The seed's schema exactly, as an app built from the seed leaves it (user_version 0).
const SEED_DDL: &str = "
CREATE TABLE messages (
  id TEXT PRIMARY KEY, request_id TEXT NOT NULL, sender_id TEXT, sender_json TEXT,
  content TEXT NOT NULL, sequence_number INTEGER, is_screenshot INTEGER DEFAULT 0,
  screenshot_file_name TEXT, is_read_by_current_user INTEGER DEFAULT 0,
  created_at TEXT NOT NULL, updated_at TEXT, status TEXT, temp_id TEXT, client_temp_id TEXT,
  is_system_message INTEGER DEFAULT 0, file_name TEXT, file_size INTEGER,
  file_mime_type TEXT, cached_at INTEGER NOT NULL
);
CREATE INDEX idx_messages_request_id ON messages(request_id);
CREATE INDEX idx_messages_request_sequence ON messages(request_id, sequence_number);
CREATE INDEX idx_messages_cached_at ON messages(cached_at);
CREATE TABLE chat_sync_state (
  request_id TEXT PRIMARY KEY, local_min_seq INTEGER, local_max_seq INTEGER,
  last_known_backend_seq INTEGER, sync_state TEXT NOT NULL DEFAULT 'UNKNOWN',
  last_validated_at INTEGER NOT NULL, message_count INTEGER DEFAULT 0
);
CREATE TABLE chat_meta (
  request_id TEXT PRIMARY KEY, latest_sequence INTEGER, last_updated INTEGER NOT NULL,
  message_count INTEGER DEFAULT 0
);
";

fn v1_row(
    conn: &rusqlite::Connection,
    id: &str,
    chat: &str,
    seq: Option<i64>,
    ct: Option<&str>,
    status: &str,
    cached_at: i64,
) {
    conn.execute(
        "INSERT INTO messages (id, request_id, sender_id, sender_json, content, sequence_number,
                               created_at, status, client_temp_id, cached_at)
         VALUES (?1, ?2, 'u1', '{\"id\":\"u1\",\"fullName\":\"Ada\",\"isTechnician\":false}',
                 'text of ' || ?1, ?3, '2024-01-01T00:00:00Z', ?4, ?5, ?6)",
        rusqlite::params![id, chat, seq, status, ct, cached_at],
    )
    .unwrap();
}

#[test]
fn migrates_a_seed_v1_file() {
    let (_dir, path) = temp();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SEED_DDL).unwrap();
        for seq in 1..=5 {
            let ct = (seq == 5).then_some("ct-2");
            v1_row(
                &conn,
                &format!("a{seq}"),
                "a",
                Some(seq),
                ct,
                "sent",
                100 + seq,
            );
        }
        // v1 allowed a second row at sequence 3; the more recently cached one wins.
        v1_row(&conn, "a3-old", "a", Some(3), None, "sent", 50);
        // Unsent outgoing rows: one still queued, one already answered by seq 5.
        v1_row(&conn, "local-1", "a", None, Some("ct-1"), "pending", 200);
        v1_row(&conn, "local-2", "a", None, Some("ct-2"), "pending", 201);
        for seq in [10, 11, 12, 20] {
            v1_row(
                &conn,
                &format!("b{seq}"),
                "b",
                Some(seq),
                None,
                "sent",
                300 + seq,
            );
        }
        v1_row(&conn, "tmp-9", "b", None, None, "failed", 400);
        conn.execute(
            "INSERT INTO chat_sync_state VALUES ('a', 1, 99, 5, 'SYNCED', 1234, 42)",
            [],
        )
        .unwrap();
        conn.execute("INSERT INTO chat_meta VALUES ('a', 5, 1000, 5)", [])
            .unwrap();
    }
    let cache = MessageCache::open(&path, options()).unwrap();
    assert_eq!(user_version(&path), 4);
    // Chat a: deduplicated, meta recomputed, state re-validated, backend kept.
    let a = cache.get_cached_messages("a", None).unwrap();
    let ids: Vec<&str> = a.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3", "a4", "a5", "local-1"]);
    assert_eq!(a[0].sender.as_ref().unwrap().full_name, "Ada");
    assert_eq!(a[5].status, MessageStatus::Pending);
    let meta = cache.get_sync_meta("a").unwrap();
    assert_eq!(
        (meta.local_min_seq, meta.local_max_seq, meta.message_count),
        (Some(1), Some(5), 5)
    );
    assert_eq!(
        (
            meta.sync_state,
            meta.last_known_backend_seq,
            meta.last_validated_at
        ),
        (SyncState::Unknown, Some(5), 1234)
    );
    assert!(cache.validate_sequences("a").unwrap().valid);
    // Chat b: the seed's semantics, the window is min..=max.
    let summary = cache.summary("b").unwrap();
    assert_eq!(summary.window_start, Some(10));
    assert_eq!(summary.window_holes, vec![SeqRange::new(13, 19)]);
    cache.update_backend_sequence("b", Some(20)).unwrap();
    let result = cache.validate_sequences("b").unwrap();
    assert_eq!(result.reason, ValidationReason::GapDetected);
    assert_eq!(result.missing, vec![SeqRange::new(13, 19)]);
    // The outbox: ct-1 queued, ct-2 dropped (already sent), tmp-9 queued as failed under its id.
    let outbox = cache.outbox().unwrap();
    let keys: Vec<(&str, &str, MessageStatus)> = outbox
        .iter()
        .map(|e| (e.request_id.as_str(), e.client_temp_id.as_str(), e.status))
        .collect();
    assert_eq!(
        keys,
        [
            ("a", "ct-1", MessageStatus::Pending),
            ("b", "tmp-9", MessageStatus::Failed)
        ]
    );
    assert_eq!(outbox[0].created_at_ms, 200);
    // The POST answer of a migrated entry reconciles its v1 row.
    let mut server = msg("a", 6, "a6");
    server.client_temp_id = Some("ct-1".into());
    let change = cache.reconcile_sent("ct-1", &server).unwrap();
    assert_eq!(change.removed_ids, ["local-1"]);
    cache.integrity_check().unwrap();
    assert_eq!(
        cache.validate_sequences("a").unwrap(),
        cache.validate_sequences_full_scan("a").unwrap()
    );
    // A second open does not migrate again.
    drop(cache);
    let cache = MessageCache::open(&path, options()).unwrap();
    assert_eq!(cache.outbox().unwrap().len(), 1);
}

#[test]
fn a_newer_file_is_refused_and_left_untouched() {
    let (_dir, path) = temp();
    drop(MessageCache::open(&path, options()).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 5).unwrap();
    }
    let err = MessageCache::open(&path, options()).unwrap_err();
    assert_eq!(
        err,
        CacheError::IncompatibleVersion {
            found: 5,
            supported: 4
        }
    );
    assert!(err.to_string().contains("newer"), "{err}");
    assert_eq!(
        MessageCache::open_or_recover(&path, options()).unwrap_err(),
        err
    );
    assert!(path.exists());
    assert_eq!(user_version(&path), 5);
}

/// Version 3 exactly: today's schema without what version 4 added (the migrations only
/// ever add, so removing v4's additions from a fresh file gives a v3 file).
fn make_v3_file(path: &Path) {
    drop(MessageCache::open(path, options()).unwrap());
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP TABLE ticket_list_etag;
         ALTER TABLE tickets DROP COLUMN history_epoch;
         ALTER TABLE tickets DROP COLUMN history_previous_epoch;
         ALTER TABLE tickets DROP COLUMN history_kept_through;
         PRAGMA user_version = 3;",
    )
    .unwrap();
}

#[test]
fn migrates_a_v3_file_to_etags_keeping_the_ticket_list() {
    let (_dir, path) = temp();
    make_v3_file(&path);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO tickets (position, id, title, status, unread_count, updated_at,
                                  last_message_json, last_message_sequence)
             VALUES (0, 't1', 'VPN', 'open', 2, '2024-05-01T12:00:00.000Z', NULL, 12)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO chat_sync_state (request_id, last_known_backend_seq, sync_state,
                                          last_validated_at, history_epoch)
             VALUES ('t1', 12, 'SYNCED', 5, 0)",
            [],
        )
        .unwrap();
    }
    let cache = MessageCache::open(&path, options()).unwrap();
    assert_eq!(user_version(&path), 4);
    // The list is kept; it has no tag (the first refresh asks in full) and no history.
    let tickets = cache.get_tickets().unwrap();
    assert_eq!(tickets.len(), 1);
    assert_eq!(
        (tickets[0].id.as_str(), tickets[0].last_message_sequence),
        ("t1", Some(12))
    );
    assert_eq!(cache.ticket_list_etag().unwrap(), None);
    assert_eq!(
        cache.get_sync_meta("t1").unwrap().last_known_backend_seq,
        Some(12)
    );
    // The new columns and table work.
    let mut tagged = tickets.clone();
    tagged[0].history = Some(chatsync::HistoryEpoch {
        epoch: 0,
        previous_epoch: None,
        kept_through_sequence: None,
    });
    cache
        .store_ticket_list(&tagged, Some("\"abc\""), 10)
        .unwrap();
    assert_eq!(cache.tickets_with_etag("\"abc\"").unwrap(), Some(tagged));
    cache.integrity_check().unwrap();
    // The same schema as a fresh file.
    drop(cache);
    let (_fresh_dir, fresh) = temp();
    drop(MessageCache::open(&fresh, options()).unwrap());
    let schema = |p: &std::path::Path| -> Vec<String> {
        rusqlite::Connection::open(p)
            .unwrap()
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(schema(&path), schema(&fresh));
}

fn pseudo_random_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn garbage_files_are_corrupt() {
    let (_dir, path) = temp();
    for len in [8192, 40] {
        std::fs::write(&path, pseudo_random_bytes(len)).unwrap();
        match MessageCache::open(&path, options()) {
            Err(CacheError::Corrupt { path: p, detail }) => {
                assert_eq!(p, path);
                assert!(
                    detail.contains("not an SQLite database") || detail.contains("shorter"),
                    "{detail}"
                );
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
    // An SQLite database that is not a chatsync cache.
    std::fs::remove_file(&path).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE foo (x);")
        .unwrap();
    let err = MessageCache::open(&path, options()).unwrap_err();
    assert!(
        matches!(&err, CacheError::Corrupt { detail, .. } if detail.contains("not a chatsync cache")),
        "{err}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn recovery_of_a_garbage_file_moves_it_aside() {
    let (_dir, path) = temp();
    let garbage = pseudo_random_bytes(4096);
    std::fs::write(&path, &garbage).unwrap();
    let (cache, report) = MessageCache::open_or_recover(&path, options()).unwrap();
    let report = report.expect("a recovery report");
    assert_eq!(report.outbox_salvaged, 0);
    assert!(report.reason.contains("corrupt"), "{}", report.reason);
    assert_eq!(std::fs::read(&report.moved_aside_to).unwrap(), garbage);
    assert!(
        report
            .moved_aside_to
            .to_string_lossy()
            .contains(".corrupt-")
    );
    cache.upsert_messages("t1", &msgs("t1", 1..=3)).unwrap();
    cache.integrity_check().unwrap();
    // A healthy file is opened as is.
    drop(cache);
    let (cache, report) = MessageCache::open_or_recover(&path, options()).unwrap();
    assert!(report.is_none());
    assert_eq!(cache.get_sync_meta("t1").unwrap().message_count, 3);
}

#[test]
fn a_truncated_file_is_corrupt_and_recovery_keeps_the_outbox() {
    let (_dir, path) = temp();
    {
        let cache = MessageCache::open(&path, options()).unwrap();
        cache
            .enqueue_outgoing("t1", "first unsent", "ct-1", None, 10)
            .unwrap();
        cache
            .enqueue_outgoing("t2", "second unsent", "ct-2", None, 11)
            .unwrap();
        cache
            .set_outgoing_status("ct-2", MessageStatus::Failed)
            .unwrap();
        for start in (1..=20_000).step_by(5_000) {
            cache
                .upsert_messages("t1", &msgs("t1", start..start + 5_000))
                .unwrap();
        }
    } // closing the last connection checkpoints the WAL into the file
    assert!(
        !sidecar(&path, "-wal").exists()
            || std::fs::metadata(sidecar(&path, "-wal")).unwrap().len() == 0
    );
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    match MessageCache::open(&path, options()) {
        Err(CacheError::Corrupt { detail, .. }) => {
            assert!(detail.contains("truncated"), "{detail}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let (cache, report) = MessageCache::open_or_recover(&path, options()).unwrap();
    let report = report.unwrap();
    assert_eq!(report.outbox_salvaged, 2);
    assert!(report.moved_aside_to.exists());
    let outbox = cache.outbox().unwrap();
    assert_eq!(outbox.len(), 2);
    assert_eq!(
        (
            outbox[0].client_temp_id.as_str(),
            outbox[0].content.as_str(),
            outbox[0].created_at_ms
        ),
        ("ct-1", "first unsent", 10)
    );
    assert_eq!(
        (outbox[1].status, outbox[1].attempts),
        (MessageStatus::Failed, 1)
    );
    // Messages are gone (re-downloadable); the local rows are back for the UI.
    let t1 = cache.get_cached_messages("t1", None).unwrap();
    assert_eq!(t1.len(), 1);
    assert_eq!(t1[0].id, "local:ct-1");
    assert_eq!(cache.summary("t1").unwrap(), chatsync::SeqSummary::empty());
    cache.integrity_check().unwrap();
}

#[test]
fn damaged_pages_give_a_corrupt_error() {
    let (_dir, path) = temp();
    {
        let cache = MessageCache::open(&path, options()).unwrap();
        cache.upsert_messages("t1", &msgs("t1", 1..=5_000)).unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    let noise = pseudo_random_bytes(page * 8);
    let start = bytes.len() / 2 / page * page;
    bytes[start..start + noise.len()].copy_from_slice(&noise);
    std::fs::write(&path, &bytes).unwrap();
    let outcome = MessageCache::open(&path, options()).and_then(|cache| {
        cache.integrity_check()?;
        cache.get_cached_messages("t1", None).map(|_| ())
    });
    assert!(
        matches!(outcome, Err(CacheError::Corrupt { .. })),
        "{outcome:?}"
    );
}

#[cfg(unix)]
#[test]
fn files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = temp();
    let cache = MessageCache::open(&path, options()).unwrap();
    cache.upsert_messages("t1", &msgs("t1", 1..=3)).unwrap();
    cache.get_cached_messages("t1", None).unwrap();
    for file in [path.clone(), sidecar(&path, "-wal"), sidecar(&path, "-shm")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", file.display());
    }
    drop(cache);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(MessageCache::open(&path, options()).unwrap());
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn reads_do_not_wait_for_a_write_lock_and_busy_writes_fail_cleanly() {
    let (_dir, path) = temp();
    let opts = CacheOptions {
        busy_timeout: Duration::from_millis(100),
        ..options()
    };
    let cache = MessageCache::open(&path, opts).unwrap();
    cache.upsert_messages("t1", &msgs("t1", 1..=10)).unwrap();
    // Another connection holds the write lock with uncommitted rows.
    let mut other = rusqlite::Connection::open(&path).unwrap();
    let tx = other
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    tx.execute("INSERT INTO chat_meta VALUES ('x', 1, 1, 0)", [])
        .unwrap();
    assert_eq!(cache.get_cached_messages("t1", Some(50)).unwrap().len(), 10);
    assert!(cache.validate_sequences("t1").is_ok());
    assert!(
        !cache.chat_ids().unwrap().contains(&"x".to_string()),
        "uncommitted rows are invisible"
    );
    let err = cache
        .upsert_messages("t1", &msgs("t1", 11..=12))
        .unwrap_err();
    assert!(
        matches!(&err, CacheError::Sqlite(m) if m.contains("locked") || m.contains("busy")),
        "{err}"
    );
    tx.rollback().unwrap();
    assert_eq!(
        cache.get_sync_meta("t1").unwrap().message_count,
        10,
        "the failed write wrote nothing"
    );
    cache.upsert_messages("t1", &msgs("t1", 11..=12)).unwrap();
    cache.integrity_check().unwrap();
}

#[test]
fn readers_see_a_consistent_prefix_while_a_writer_inserts_100k() {
    const TOTAL: i64 = 100_000;
    const BATCH: i64 = 1_000;
    let (_dir, path) = temp();
    let cache = Arc::new(MessageCache::open(&path, options()).unwrap());
    cache.upsert_messages("t1", &msgs("t1", 1..=BATCH)).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let cache = Arc::clone(&cache);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let (mut reads, mut last_max) = (0u64, 0i64);
                while !done.load(Ordering::Acquire) {
                    let latest = cache
                        .get_cached_messages("t1", Some(50))
                        .expect("read never fails");
                    let seqs: Vec<i64> =
                        latest.iter().map(|m| m.sequence_number.unwrap()).collect();
                    let max = *seqs.last().unwrap();
                    assert_eq!(
                        seqs,
                        ((max - 49)..=max).collect::<Vec<_>>(),
                        "not a contiguous tail"
                    );
                    assert_eq!(max % BATCH, 0, "saw half a batch: max {max}");
                    assert!(max >= last_max, "went back from {last_max} to {max}");
                    last_max = max;
                    let summary = cache.summary("t1").expect("summary never fails");
                    assert_eq!(summary.window_start, Some(1));
                    assert!(summary.window_holes.is_empty());
                    let smax = summary.max_seq.unwrap();
                    assert!(
                        smax % BATCH == 0 && smax >= max,
                        "summary max {smax} vs read {max}"
                    );
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for start in (BATCH + 1..=TOTAL).step_by(BATCH as usize) {
        cache
            .upsert_messages("t1", &msgs("t1", start..start + BATCH))
            .unwrap();
    }
    done.store(true, Ordering::Release);
    let reads: Vec<u64> = readers
        .into_iter()
        .map(|r| r.join().expect("reader panicked"))
        .collect();
    assert!(reads.iter().all(|&r| r > 0), "reads {reads:?}");
    assert_eq!(cache.get_sync_meta("t1").unwrap().message_count, TOTAL);
    cache.update_backend_sequence("t1", Some(TOTAL)).unwrap();
    assert!(cache.validate_sequences("t1").unwrap().valid);
    assert_eq!(
        cache.validate_sequences("t1").unwrap(),
        cache.validate_sequences_full_scan("t1").unwrap()
    );
}

#[test]
fn integrity_check_catches_runs_that_disagree_with_rows() {
    let (_dir, path) = temp();
    let cache = MessageCache::open(&path, options()).unwrap();
    cache.upsert_messages("t1", &msgs("t1", 1..=10)).unwrap();
    cache.integrity_check().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM messages WHERE id = 't1-5'", [])
        .unwrap();
    let err = cache.integrity_check().unwrap_err();
    assert!(
        matches!(&err, CacheError::Corrupt { detail, .. } if detail.contains("runs")),
        "{err}"
    );
    // The full scan sees the hole the persisted summary does not: this is what the check is for.
    cache.update_backend_sequence("t1", Some(10)).unwrap();
    assert!(cache.validate_sequences("t1").unwrap().valid);
    assert_eq!(
        cache.validate_sequences_full_scan("t1").unwrap().missing,
        vec![SeqRange::new(5, 5)]
    );
}

#[test]
fn store_tickets_records_latest_sequences_in_chat_meta() {
    let (_dir, path) = temp();
    let cache = MessageCache::open(&path, options()).unwrap();
    cache.upsert_messages("t1", &msgs("t1", 1..=4)).unwrap();
    let ticket = |seq: Option<i64>| chatsync::TicketSummary {
        id: "t1".into(),
        title: "T".into(),
        status: "open".into(),
        unread_count: 1,
        updated_at: "2024-05-01T12:00:00.000Z".into(),
        last_message: None,
        last_message_sequence: seq,
        history: None,
    };
    let meta = |conn: &rusqlite::Connection| -> (Option<i64>, i64, i64) {
        conn.query_row(
            "SELECT latest_sequence, last_updated, message_count FROM chat_meta WHERE request_id = 't1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    cache.store_tickets(&[ticket(Some(7))], 500).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(meta(&conn), (Some(7), 500, 4));
    // "No information" keeps what was known.
    cache.store_tickets(&[ticket(None)], 600).unwrap();
    assert_eq!(meta(&conn), (Some(7), 600, 4));
    assert_eq!(
        cache.get_sync_meta("t1").unwrap().last_known_backend_seq,
        None
    );
}
