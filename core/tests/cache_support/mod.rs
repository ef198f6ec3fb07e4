//! The cache conformance suite: every rule of `chatsync::cache` written once as a
//! function taking a fixture maker, and run against the file-backed and the
//! in-memory cache by `conformance!` (as matrix-rust-sdk does for its stores).
#![allow(dead_code)]

use std::collections::BTreeMap;

use chatsync::cache::{CacheError, CacheOptions, EvictionLimits, MessageCache, MessagesChange};
use chatsync::history::HistoryVerdict;
use chatsync::{
    ChatMessage, HistoryEpoch, LastMessageInfo, MessageStatus, Sender, SeqRange, SeqRuns,
    SyncState, TicketSummary, ValidationReason, validate,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// A cache under test, with the directory that holds its file (if any).
pub struct Fixture {
    pub cache: MessageCache,
    pub dir: Option<tempfile::TempDir>,
}

/// Options with eviction off, so tests decide when to evict.
pub fn options() -> CacheOptions {
    CacheOptions {
        eviction: EvictionLimits::unlimited(),
        ..CacheOptions::default()
    }
}

impl Fixture {
    pub fn file() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = MessageCache::open(&dir.path().join("cache.sqlite3"), options()).expect("open");
        Fixture {
            cache,
            dir: Some(dir),
        }
    }

    pub fn memory() -> Fixture {
        Fixture {
            cache: MessageCache::open_in_memory(options()).expect("open in memory"),
            dir: None,
        }
    }
}

/// Generates one `#[test]` per listed function, for each backend.
#[macro_export]
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod file_backed {
            $( #[test] fn $test() { $crate::cache_support::$test($crate::cache_support::Fixture::file) } )*
        }
        mod in_memory {
            $( #[test] fn $test() { $crate::cache_support::$test($crate::cache_support::Fixture::memory) } )*
        }
    };
}

type Make = fn() -> Fixture;

/// A server message of `chat` with sequence `seq` and id `id`.
pub fn msg(chat: &str, seq: i64, id: &str) -> ChatMessage {
    ChatMessage {
        id: id.to_string(),
        request_id: chat.to_string(),
        sender_id: Some("u1".into()),
        sender: Some(Sender {
            id: "u1".into(),
            full_name: "Ada Lovelace".into(),
            is_technician: seq % 2 == 0,
        }),
        content: format!("message {seq}"),
        sequence_number: Some(seq),
        is_screenshot: false,
        screenshot_file_name: None,
        is_read_by_current_user: false,
        created_at: "2024-05-01T12:00:00.000Z".into(),
        updated_at: None,
        status: MessageStatus::Sent,
        temp_id: None,
        client_temp_id: None,
        is_system_message: false,
        file_name: None,
        file_size: None,
        file_mime_type: None,
        cached_at: 1_000 + seq,
    }
}

/// Server messages `seqs` of `chat` with ids `<chat>-<seq>`.
pub fn msgs(chat: &str, seqs: impl IntoIterator<Item = i64>) -> Vec<ChatMessage> {
    seqs.into_iter()
        .map(|s| msg(chat, s, &format!("{chat}-{s}")))
        .collect()
}

fn seqs_of(messages: &[ChatMessage]) -> Vec<Option<i64>> {
    messages.iter().map(|m| m.sequence_number).collect()
}

fn ranges(pairs: &[(i64, i64)]) -> Vec<SeqRange> {
    pairs.iter().map(|&(s, e)| SeqRange::new(s, e)).collect()
}

/// O(1) validation and the full scan agree (and the integrity check passes).
fn assert_agree(cache: &MessageCache, chat: &str) {
    assert_eq!(
        cache.validate_sequences(chat).unwrap(),
        cache.validate_sequences_full_scan(chat).unwrap(),
        "O(1) and full-scan validation disagree for {chat}"
    );
    cache.integrity_check().unwrap();
}

pub fn empty_chat_has_default_meta(make: Make) {
    let fx = make();
    let meta = fx.cache.get_sync_meta("t1").unwrap();
    assert_eq!(meta.request_id, "t1");
    assert_eq!(meta.sync_state, SyncState::Unknown);
    assert_eq!((meta.local_min_seq, meta.local_max_seq), (None, None));
    assert_eq!(meta.last_known_backend_seq, None);
    assert_eq!((meta.message_count, meta.last_validated_at), (0, 0));
    assert!(fx.cache.get_cached_messages("t1", None).unwrap().is_empty());
    assert_eq!(
        fx.cache.summary("t1").unwrap(),
        chatsync::SeqSummary::empty()
    );
    assert!(fx.cache.chat_ids().unwrap().is_empty());
    assert!(fx.cache.history_gaps("t1").unwrap().is_empty());
}

pub fn backend_unknown_defers_validation(make: Make) {
    let fx = make();
    fx.cache.upsert_messages("t1", &msgs("t1", 1..=10)).unwrap();
    let result = fx.cache.validate_sequences("t1").unwrap();
    assert!(!result.valid);
    assert_eq!(result.reason, ValidationReason::BackendSeqUnknown);
    assert!(result.missing.is_empty());
    assert_eq!(
        fx.cache.get_sync_meta("t1").unwrap().sync_state,
        SyncState::Unknown
    );
    assert_agree(&fx.cache, "t1");
}

pub fn empty_cache_is_valid_at_zero_and_no_messages_above(make: Make) {
    let fx = make();
    fx.cache.update_backend_sequence("t1", Some(0)).unwrap();
    let result = fx.cache.validate_sequences("t1").unwrap();
    assert!(result.valid);
    assert_eq!(result.reason, ValidationReason::Validated);
    fx.cache.update_backend_sequence("t1", Some(7)).unwrap();
    let result = fx.cache.validate_sequences("t1").unwrap();
    assert!(!result.valid);
    assert_eq!(result.reason, ValidationReason::NoMessages);
    assert_eq!(result.missing, ranges(&[(1, 7)]));
    assert_eq!(fx.cache.missing_ranges("t1").unwrap(), ranges(&[(1, 7)]));
    assert_agree(&fx.cache, "t1");
}

pub fn gaps_give_exact_missing_ranges(make: Make) {
    let fx = make();
    let seqs = [1, 2, 3, 6, 9, 10];
    fx.cache.upsert_messages("t1", &msgs("t1", seqs)).unwrap();
    fx.cache.update_backend_sequence("t1", Some(12)).unwrap();
    let result = fx.cache.validate_sequences("t1").unwrap();
    assert_eq!(result.reason, ValidationReason::GapDetected);
    assert!(!result.valid);
    assert_eq!(result.missing, ranges(&[(4, 5), (7, 8), (11, 12)]));
    assert_eq!(fx.cache.missing_ranges("t1").unwrap(), result.missing);
    let meta = fx.cache.get_sync_meta("t1").unwrap();
    assert_eq!(
        (meta.local_min_seq, meta.local_max_seq, meta.message_count),
        (Some(1), Some(10), 6)
    );
    assert_agree(&fx.cache, "t1");
    // Filling the holes makes it valid.
    fx.cache
        .upsert_messages("t1", &msgs("t1", [4, 5, 7, 8, 11, 12]))
        .unwrap();
    assert!(fx.cache.validate_sequences("t1").unwrap().valid);
    assert_agree(&fx.cache, "t1");
}

pub fn max_must_equal_backend_in_both_directions(make: Make) {
    let fx = make();
    fx.cache.upsert_messages("t1", &msgs("t1", 1..=10)).unwrap();
    fx.cache.update_backend_sequence("t1", Some(15)).unwrap();
    let behind = fx.cache.validate_sequences("t1").unwrap();
    assert_eq!(behind.reason, ValidationReason::SequenceMismatch);
    assert_eq!(behind.missing, ranges(&[(11, 15)]));
    assert_agree(&fx.cache, "t1");
    fx.cache.update_backend_sequence("t1", Some(8)).unwrap();
    let ahead = fx.cache.validate_sequences("t1").unwrap();
    assert_eq!(ahead.reason, ValidationReason::SequenceMismatch);
    assert!(!ahead.valid);
    assert!(ahead.missing.is_empty());
    assert_agree(&fx.cache, "t1");
    fx.cache.update_backend_sequence("t1", Some(10)).unwrap();
    let ok = fx.cache.validate_sequences("t1").unwrap();
    assert!(ok.valid);
    assert_eq!(ok.reason, ValidationReason::Validated);
    assert_agree(&fx.cache, "t1");
}

pub fn unsequenced_messages_never_count(make: Make) {
    let fx = make();
    fx.cache.upsert_messages("t1", &msgs("t1", 1..=3)).unwrap();
    fx.cache.update_backend_sequence("t1", Some(3)).unwrap();
    fx.cache
        .enqueue_outgoing("t1", "hello", "ct-1", None, 5_000)
        .unwrap();
    fx.cache
        .enqueue_outgoing("t1", "again", "ct-2", None, 5_001)
        .unwrap();
    let meta = fx.cache.get_sync_meta("t1").unwrap();
    assert_eq!(meta.message_count, 3);
    assert_eq!(meta.local_max_seq, Some(3));
    assert!(fx.cache.validate_sequences("t1").unwrap().valid);
    assert_agree(&fx.cache, "t1");
    // A "server" message without a sequence, or with 0, is refused and writes nothing.
    let mut unsequenced = msg("t1", 4, "t1-4");
    unsequenced.sequence_number = None;
    let batch = [msg("t1", 4, "t1-4b"), unsequenced];
    assert!(matches!(
        fx.cache.upsert_messages("t1", &batch),
        Err(CacheError::InvalidData(_))
    ));
    let mut zero = msg("t1", 4, "t1-0");
    zero.sequence_number = Some(0);
    assert!(matches!(
        fx.cache.add_message(&zero),
        Err(CacheError::InvalidData(_))
    ));
    assert_eq!(fx.cache.get_sync_meta("t1").unwrap().message_count, 3);
    assert_eq!(fx.cache.get_cached_messages("t1", None).unwrap().len(), 5);
}

pub fn upsert_is_idempotent_by_id(make: Make) {
    let fx = make();
    let first = fx.cache.upsert_messages("t1", &msgs("t1", 1..=5)).unwrap();
    assert_eq!(first.inserted.len(), 5);
    assert_eq!(first.request_id, "t1");
    assert!(first.removed_ids.is_empty() && first.updated.is_empty());
    let mut again = msgs("t1", 1..=5);
    for m in &mut again {
        m.cached_at += 99; // only the time of caching differs
    }
    let second = fx.cache.upsert_messages("t1", &again).unwrap();
    assert!(second.is_empty(), "re-upsert changed something: {second:?}");
    assert_eq!(second.summary, first.summary);
    let stored = fx.cache.get_cached_messages("t1", None).unwrap();
    assert_eq!(stored.len(), 5);
    assert_eq!(
        stored[0].cached_at, 1_001,
        "an unchanged row keeps its cached_at"
    );
    // A changed field updates the row in place.
    let mut edited = msg("t1", 3, "t1-3");
    edited.content = "edited".into();
    edited.updated_at = Some("2024-05-02T00:00:00.000Z".into());
    let change = fx.cache.add_message(&edited).unwrap();
    assert_eq!(change.updated, vec![edited.clone()]);
    assert!(change.inserted.is_empty() && change.removed_ids.is_empty());
    assert_eq!(fx.cache.get_cached_messages("t1", None).unwrap()[2], edited);
    assert_agree(&fx.cache, "t1");
}

pub fn same_sequence_with_another_id_is_replaced(make: Make) {
    let fx = make();
    fx.cache.upsert_messages("t1", &msgs("t1", 1..=3)).unwrap();
    let replacement = msg("t1", 2, "other-2");
    let change = fx.cache.add_message(&replacement).unwrap();
    assert_eq!(change.removed_ids, vec!["t1-2".to_string()]);
    assert_eq!(change.inserted, vec![replacement]);
    let ids: Vec<String> = fx
        .cache
        .get_cached_messages("t1", None)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["t1-1", "other-2", "t1-3"]);
    assert_eq!(fx.cache.get_sync_meta("t1").unwrap().message_count, 3);
    // Within one batch, the later of two messages at one sequence wins.
    let change = fx
        .cache
        .upsert_messages("t1", &[msg("t1", 4, "a-4"), msg("t1", 4, "b-4")])
        .unwrap();
    assert_eq!(
        change
            .inserted
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        ["b-4"]
    );
    assert!(
        change.removed_ids.is_empty(),
        "a row born and replaced in one batch is not reported"
    );
    assert_agree(&fx.cache, "t1");
}

pub fn an_id_that_moves_sequence_moves_its_run(make: Make) {
    let fx = make();
    fx.cache.upsert_messages("t1", &msgs("t1", 1..=5)).unwrap();
    let moved = msg("t1", 8, "t1-3");
    let change = fx.cache.add_message(&moved).unwrap();
    assert_eq!(change.updated, vec![moved]);
    let runs = fx.cache.runs("t1").unwrap();
    assert_eq!(
        runs.runs().collect::<Vec<_>>(),
        ranges(&[(1, 2), (4, 5), (8, 8)])
    );
    assert_eq!(
        fx.cache.summary("t1").unwrap().window_holes,
        ranges(&[(3, 3), (6, 7)])
    );
    assert_agree(&fx.cache, "t1");
}

pub fn bad_batches_write_nothing(make: Make) {
    let fx = make();
    fx.cache.upsert_messages("t1", &msgs("t1", 1..=2)).unwrap();
    // A message of another chat in the batch.
    let batch = [msg("t1", 3, "t1-3"), msg("t2", 4, "t2-4")];
    assert!(matches!(
        fx.cache.upsert_messages("t1", &batch),
        Err(CacheError::InvalidData(_))
    ));
    // An id already held by another chat, found only inside the transaction.
    fx.cache.upsert_messages("t2", &msgs("t2", 1..=1)).unwrap();
    let batch = [msg("t1", 3, "t1-3"), msg("t1", 4, "t2-1")];
    let err = fx.cache.upsert_messages("t1", &batch).unwrap_err();
    assert!(
        matches!(err, CacheError::InvalidData(ref m) if m.contains("t2")),
        "{err}"
    );
    assert_eq!(
        seqs_of(&fx.cache.get_cached_messages("t1", None).unwrap()),
        [Some(1), Some(2)]
    );
    assert_eq!(fx.cache.get_sync_meta("t1").unwrap().local_max_seq, Some(2));
    assert!(matches!(
        fx.cache.add_message(&msg("t1", 5, "local:x")),
        Err(CacheError::InvalidData(_))
    ));
    assert_agree(&fx.cache, "t1");
}

pub fn latest_n_and_before_a_sequence(make: Make) {
    let fx = make();
    let mut shuffled = msgs("t1", 1..=100);
    shuffled.reverse();
    fx.cache.upsert_messages("t1", &shuffled).unwrap();
    let latest = fx.cache.get_cached_messages("t1", Some(10)).unwrap();
    assert_eq!(seqs_of(&latest), (91..=100).map(Some).collect::<Vec<_>>());
    let before = fx.cache.get_messages_before("t1", 50, 5).unwrap();
    assert_eq!(seqs_of(&before), (45..=49).map(Some).collect::<Vec<_>>());
    assert_eq!(fx.cache.get_messages_before("t1", 3, 10).unwrap().len(), 2);
    assert!(
        fx.cache
            .get_messages_before("t1", 1, 10)
            .unwrap()
            .is_empty()
    );
    fx.cache
        .enqueue_outgoing("t1", "b", "ct-b", None, 10)
        .unwrap();
    fx.cache
        .enqueue_outgoing("t1", "a", "ct-a", None, 11)
        .unwrap();
    let with_local = fx.cache.get_cached_messages("t1", Some(2)).unwrap();
    assert_eq!(seqs_of(&with_local), [Some(99), Some(100), None, None]);
    assert_eq!(with_local[2].client_temp_id.as_deref(), Some("ct-b"));
    assert_eq!(with_local[3].client_temp_id.as_deref(), Some("ct-a"));
    assert_eq!(fx.cache.get_cached_messages("t1", None).unwrap().len(), 102);
    assert_eq!(
        fx.cache.get_cached_messages("t1", Some(0)).unwrap().len(),
        2
    );
    assert!(
        fx.cache
            .get_messages_before("t1", 1_000, 0)
            .unwrap()
            .is_empty()
    );
}

pub fn cache_messages_replaces_server_rows_and_keeps_outbox(make: Make) {
    let fx = make();
    fx.cache.upsert_messages("t1", &msgs("t1", 1..=10)).unwrap();
    fx.cache.set_window_start("t1", 5).unwrap();
    fx.cache
        .enqueue_outgoing("t1", "unsent", "ct-1", None, 1)
        .unwrap();
    let mut new_set = msgs("t1", [20, 21, 23]);
    new_set.push(msg("t1", 9, "t1-9")); // kept, unchanged
    let change = fx.cache.cache_messages("t1", &new_set).unwrap();
    let mut removed = change.removed_ids.clone();
    removed.sort();
    let mut expected: Vec<String> = (1..=10)
        .filter(|&s| s != 9)
        .map(|s| format!("t1-{s}"))
        .collect();
    expected.sort();
    assert_eq!(removed, expected);
    assert_eq!(change.inserted.len(), 3);
    assert!(change.updated.is_empty());
    // The seed's semantics for a replaced set: the window is min..=max.
    assert_eq!(change.summary.window_start, Some(9));
    assert_eq!(change.summary.window_holes, ranges(&[(10, 19), (22, 22)]));
    assert_eq!(fx.cache.summary("t1").unwrap(), change.summary);
    let all = fx.cache.get_cached_messages("t1", None).unwrap();
    assert_eq!(seqs_of(&all), [Some(9), Some(20), Some(21), Some(23), None]);
    assert_eq!(fx.cache.outbox().unwrap().len(), 1);
    assert_agree(&fx.cache, "t1");
    let change = fx.cache.cache_messages("t1", &[]).unwrap();
    assert_eq!(change.removed_ids.len(), 4);
    assert_eq!(
        fx.cache.summary("t1").unwrap(),
        chatsync::SeqSummary::empty()
    );
    assert_eq!(fx.cache.get_cached_messages("t1", None).unwrap().len(), 1);
    assert_agree(&fx.cache, "t1");
}

pub fn truncate_above_keeps_outgoing_rows(make: Make) {
    let fx = make();
    fx.cache.upsert_messages("t1", &msgs("t1", 1..=10)).unwrap();
    fx.cache
        .upsert_messages("t1", &msgs("t1", 20..=30))
        .unwrap();
    fx.cache.set_window_start("t1", 20).unwrap();
    fx.cache
        .enqueue_outgoing("t1", "unsent", "ct-1", None, 1)
        .unwrap();
    let change = fx.cache.truncate_above("t1", 15).unwrap();
    assert_eq!(change.removed_ids.len(), 11);
    assert_eq!(change.summary.max_seq, Some(10));
    assert_eq!(change.summary.window_start, Some(1));
    let all = fx.cache.get_cached_messages("t1", None).unwrap();
    assert_eq!(all.len(), 11);
    assert_eq!(all[10].status, MessageStatus::Pending);
    assert_eq!(
        fx.cache.truncate_above("t1", 0).unwrap().removed_ids.len(),
        10
    );
    assert_eq!(fx.cache.get_cached_messages("t1", None).unwrap().len(), 1);
    assert_agree(&fx.cache, "t1");
}

pub fn window_start_records_history_gaps(make: Make) {
    let fx = make();
    fx.cache
        .upsert_messages("t1", &msgs("t1", 1..=100))
        .unwrap();
    fx.cache
        .upsert_messages("t1", &msgs("t1", 4801..=5000))
        .unwrap();
    fx.cache.update_backend_sequence("t1", Some(5000)).unwrap();
    assert_eq!(
        fx.cache.validate_sequences("t1").unwrap().reason,
        ValidationReason::GapDetected
    );
    let summary = fx.cache.set_window_start("t1", 4801).unwrap();
    assert_eq!(summary.window_start, Some(4801));
    assert!(summary.window_holes.is_empty());
    assert!(fx.cache.validate_sequences("t1").unwrap().valid);
    assert_eq!(fx.cache.history_gaps("t1").unwrap(), ranges(&[(101, 4800)]));
    assert_agree(&fx.cache, "t1");
    // Back-pagination grows the window downward.
    fx.cache
        .upsert_messages("t1", &msgs("t1", 4751..=4800))
        .unwrap();
    assert_eq!(fx.cache.summary("t1").unwrap().window_start, Some(4751));
    fx.cache
        .upsert_messages("t1", &msgs("t1", 101..=4750))
        .unwrap();
    assert_eq!(fx.cache.summary("t1").unwrap().window_start, Some(1));
    assert!(fx.cache.history_gaps("t1").unwrap().is_empty());
    // Older runs inserted below the window are history.
    fx.cache
        .upsert_messages("t2", &msgs("t2", 50..=60))
        .unwrap();
    fx.cache
        .upsert_messages("t2", &msgs("t2", 10..=20))
        .unwrap();
    assert_eq!(fx.cache.summary("t2").unwrap().window_start, Some(50));
    assert_eq!(
        fx.cache.history_gaps("t2").unwrap(),
        ranges(&[(1, 9), (21, 49)])
    );
    // Setting a window start on an empty chat changes nothing.
    assert_eq!(
        fx.cache.set_window_start("t3", 5).unwrap(),
        chatsync::SeqSummary::empty()
    );
    assert_agree(&fx.cache, "t2");
}

pub fn sync_state_and_backend_sequence(make: Make) {
    let fx = make();
    fx.cache
        .update_sync_state("t1", SyncState::Synced, Some(1_234))
        .unwrap();
    let meta = fx.cache.get_sync_meta("t1").unwrap();
    assert_eq!(
        (meta.sync_state, meta.last_validated_at),
        (SyncState::Synced, 1_234)
    );
    fx.cache
        .update_sync_state("t1", SyncState::OutOfSync, None)
        .unwrap();
    let meta = fx.cache.get_sync_meta("t1").unwrap();
    assert_eq!(
        (meta.sync_state, meta.last_validated_at),
        (SyncState::OutOfSync, 1_234)
    );
    fx.cache.update_backend_sequence("t1", Some(42)).unwrap();
    assert_eq!(
        fx.cache.get_sync_meta("t1").unwrap().last_known_backend_seq,
        Some(42)
    );
    fx.cache.update_backend_sequence("t1", None).unwrap();
    assert_eq!(
        fx.cache.get_sync_meta("t1").unwrap().last_known_backend_seq,
        None
    );
    assert!(matches!(
        fx.cache.update_backend_sequence("t1", Some(-1)),
        Err(CacheError::InvalidData(_))
    ));
    fx.cache
        .update_sync_state("t2", SyncState::Synced, None)
        .unwrap();
    fx.cache.mark_all_chats_unknown().unwrap();
    for chat in ["t1", "t2"] {
        assert_eq!(
            fx.cache.get_sync_meta(chat).unwrap().sync_state,
            SyncState::Unknown
        );
    }
    // Message writes never touch the state or the backend sequence.
    fx.cache
        .update_sync_state("t1", SyncState::Synced, Some(9))
        .unwrap();
    fx.cache.update_backend_sequence("t1", Some(3)).unwrap();
    fx.cache.upsert_messages("t1", &msgs("t1", 1..=3)).unwrap();
    let meta = fx.cache.get_sync_meta("t1").unwrap();
    assert_eq!(
        (meta.sync_state, meta.last_known_backend_seq),
        (SyncState::Synced, Some(3))
    );
    assert_eq!(fx.cache.chat_ids().unwrap(), ["t1", "t2"]);
}

pub fn pushes_store_messages_and_raise_the_backend_in_one_commit(make: Make) {
    let f = make();
    let cache = &f.cache;
    cache.upsert_messages("c", &msgs("c", 1..=3)).unwrap();
    cache.update_backend_sequence("c", Some(3)).unwrap();
    let commits = cache.commits();
    let change = cache.store_pushed("c", &msgs("c", [4, 6])).unwrap();
    assert_eq!(cache.commits(), commits + 1, "one transaction");
    assert_eq!(seqs_of(&change.inserted), vec![Some(4), Some(6)]);
    assert_eq!(change.summary.window_holes, ranges(&[(5, 5)]));
    assert_eq!(
        cache.get_sync_meta("c").unwrap().last_known_backend_seq,
        Some(6)
    );
    // A push below the known backend sequence never lowers it.
    cache.store_pushed("c", &msgs("c", [5])).unwrap();
    let meta = cache.get_sync_meta("c").unwrap();
    assert_eq!(meta.last_known_backend_seq, Some(6));
    assert!(cache.validate_sequences("c").unwrap().valid);
    // A first push of an unknown chat creates its state with the push's sequence.
    cache.store_pushed("d", &msgs("d", [1])).unwrap();
    assert_eq!(
        cache.get_sync_meta("d").unwrap().last_known_backend_seq,
        Some(1)
    );
    // A bad message writes nothing, not even the backend sequence.
    let commits = cache.commits();
    let mut bad = msgs("c", [7, 8]);
    bad[1].request_id = "other".into();
    assert!(matches!(
        cache.store_pushed("c", &bad),
        Err(CacheError::InvalidData(_))
    ));
    assert_eq!(cache.commits(), commits);
    assert_eq!(
        cache.get_sync_meta("c").unwrap().last_known_backend_seq,
        Some(6)
    );
    assert_agree(cache, "c");
}

/// The client rule for history rewrites (protocol section 5), applied atomically.
pub fn history_rewrites_discard_exactly_what_may_have_changed(make: Make) {
    let f = make();
    let cache = &f.cache;
    let epoch = |epoch: i64, previous: Option<i64>, kept: Option<i64>| HistoryEpoch {
        epoch,
        previous_epoch: previous,
        kept_through_sequence: kept,
    };
    assert_eq!(cache.history_epoch("c").unwrap(), None);
    let (verdict, change) = cache.apply_history("c", &epoch(0, None, None)).unwrap();
    assert_eq!((verdict, change), (HistoryVerdict::Adopt, None));
    assert_eq!(cache.history_epoch("c").unwrap(), Some(0));
    cache.upsert_messages("c", &msgs("c", 1..=10)).unwrap();
    cache.update_backend_sequence("c", Some(10)).unwrap();
    cache
        .enqueue_outgoing("c", "queued", "tmp-1", None, 50)
        .unwrap();
    let commits = cache.commits();
    assert_eq!(
        cache.apply_history("c", &epoch(0, None, None)).unwrap(),
        (HistoryVerdict::Current, None)
    );
    assert_eq!(cache.commits(), commits, "a current epoch writes nothing");
    // One rewrite that kept 1..=7.
    let (verdict, change) = cache
        .apply_history("c", &epoch(500, Some(0), Some(7)))
        .unwrap();
    assert_eq!(verdict, HistoryVerdict::Rewritten { keep_through: 7 });
    let change = change.expect("a rewrite reports what it removed");
    assert_eq!(change.removed_ids, vec!["c-8", "c-9", "c-10"]);
    assert_eq!(change.summary.max_seq, Some(7));
    let cached = cache.get_cached_messages("c", None).unwrap();
    let mut want: Vec<Option<i64>> = (1..=7).map(Some).collect();
    want.push(None);
    assert_eq!(seqs_of(&cached), want, "the unsent message is kept");
    assert_eq!(cache.history_epoch("c").unwrap(), Some(500));
    // An answer from before that rewrite is stale: nothing changes.
    let commits = cache.commits();
    assert_eq!(
        cache.apply_history("c", &epoch(0, None, None)).unwrap(),
        (HistoryVerdict::Stale, None)
    );
    assert_eq!(cache.commits(), commits);
    assert_eq!(cache.history_epoch("c").unwrap(), Some(500));
    // Two rewrites later (the previous epoch is not ours): every server message goes.
    let (verdict, change) = cache
        .apply_history("c", &epoch(900, Some(700), Some(5)))
        .unwrap();
    assert_eq!(verdict, HistoryVerdict::Rewritten { keep_through: 0 });
    assert_eq!(change.unwrap().removed_ids.len(), 7);
    assert_eq!(
        seqs_of(&cache.get_cached_messages("c", None).unwrap()),
        vec![None]
    );
    assert_eq!(cache.outbox().unwrap().len(), 1);
    assert_eq!(cache.history_epoch("c").unwrap(), Some(900));
    assert_agree(cache, "c");
    // A ticket list's epochs, applied in one transaction; none when all are current.
    let commits = cache.commits();
    let applied = cache
        .apply_histories(&[
            ("c", epoch(900, Some(700), Some(5))),
            ("e", epoch(0, None, None)),
        ])
        .unwrap();
    assert_eq!(
        applied,
        vec![
            (HistoryVerdict::Current, None),
            (HistoryVerdict::Adopt, None)
        ]
    );
    assert_eq!(cache.commits(), commits + 1);
    cache
        .apply_histories(&[
            ("c", epoch(900, Some(700), Some(5))),
            ("e", epoch(0, None, None)),
        ])
        .unwrap();
    assert_eq!(cache.commits(), commits + 1, "all current: nothing written");
    // A chat never seen before adopts a rewritten epoch without discarding anything.
    assert_eq!(
        cache
            .apply_history("d", &epoch(900, Some(700), Some(5)))
            .unwrap(),
        (HistoryVerdict::Adopt, None)
    );
}

/// `chat_page` is one snapshot of what the three separate reads return.
pub fn chat_page_equals_the_separate_reads(make: Make) {
    let f = make();
    let cache = &f.cache;
    let empty = cache.chat_page("c", Some(50)).unwrap();
    assert!(empty.messages.is_empty());
    assert_eq!(empty.meta, cache.get_sync_meta("c").unwrap());
    assert_eq!(empty.runs, SeqRuns::new());
    cache.upsert_messages("c", &msgs("c", 1..=80)).unwrap();
    cache.set_window_start("c", 41).unwrap();
    cache.truncate_above("c", 75).unwrap();
    cache.upsert_messages("c", &msgs("c", 78..=90)).unwrap();
    cache.update_backend_sequence("c", Some(90)).unwrap();
    for limit in [Some(0), Some(5), Some(50), None] {
        let page = cache.chat_page("c", limit).unwrap();
        assert_eq!(
            page.messages,
            cache.get_cached_messages("c", limit).unwrap()
        );
        assert_eq!(page.meta, cache.get_sync_meta("c").unwrap());
        assert_eq!(page.runs, cache.runs("c").unwrap());
        assert_eq!(page.runs.summary(), cache.summary("c").unwrap());
        assert_eq!(page.runs.history_gaps(), cache.history_gaps("c").unwrap());
    }
}

pub fn outbox_lifecycle(make: Make) {
    let fx = make();
    let sender = Sender {
        id: "me".into(),
        full_name: "Me".into(),
        is_technician: false,
    };
    let local = fx
        .cache
        .enqueue_outgoing(
            "t1",
            "hello",
            "ct-1",
            Some(sender.clone()),
            1_714_564_800_000,
        )
        .unwrap();
    assert_eq!(local.id, "local:ct-1");
    assert_eq!(local.status, MessageStatus::Pending);
    assert_eq!(local.sequence_number, None);
    assert_eq!(local.created_at, "2024-05-01T12:00:00.000Z");
    assert_eq!(local.sender, Some(sender));
    assert_eq!(
        fx.cache.get_cached_messages("t1", None).unwrap(),
        vec![local.clone()]
    );
    assert!(matches!(
        fx.cache.enqueue_outgoing("t1", "hello", "ct-1", None, 2),
        Err(CacheError::AlreadyQueued(ref k)) if k == "ct-1"
    ));
    let failed = fx
        .cache
        .set_outgoing_status("ct-1", MessageStatus::Failed)
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, MessageStatus::Failed);
    let entry = fx.cache.outbox_entry("ct-1").unwrap().unwrap();
    assert_eq!((entry.status, entry.attempts), (MessageStatus::Failed, 1));
    assert_eq!(
        (entry.content.as_str(), entry.created_at_ms),
        ("hello", 1_714_564_800_000)
    );
    fx.cache
        .set_outgoing_status("ct-1", MessageStatus::Pending)
        .unwrap();
    assert_eq!(fx.cache.outbox_entry("ct-1").unwrap().unwrap().attempts, 1);
    assert!(matches!(
        fx.cache.set_outgoing_status("ct-1", MessageStatus::Sent),
        Err(CacheError::InvalidData(_))
    ));
    // The POST answer reconciles.
    let mut server = msg("t1", 1, "srv-1");
    server.client_temp_id = Some("ct-1".into());
    let change = fx.cache.reconcile_sent("ct-1", &server).unwrap();
    assert_eq!(change.removed_ids, ["local:ct-1"]);
    assert_eq!(change.reconciled_client_temp_ids, ["ct-1"]);
    assert_eq!(change.inserted, vec![server.clone()]);
    assert!(fx.cache.outbox().unwrap().is_empty());
    assert!(fx.cache.reconcile_sent("ct-1", &server).unwrap().is_empty());
    assert_eq!(
        fx.cache
            .set_outgoing_status("ct-1", MessageStatus::Failed)
            .unwrap(),
        None
    );
    assert_eq!(
        seqs_of(&fx.cache.get_cached_messages("t1", None).unwrap()),
        [Some(1)]
    );
    // A server copy without client_temp_id still reconciles by the key given.
    fx.cache
        .enqueue_outgoing("t1", "second", "ct-2", None, 3)
        .unwrap();
    let change = fx
        .cache
        .reconcile_sent("ct-2", &msg("t1", 2, "srv-2"))
        .unwrap();
    assert_eq!(change.reconciled_client_temp_ids, ["ct-2"]);
    // A key queued in another chat is not reconciled by this chat's copy.
    fx.cache
        .enqueue_outgoing("t2", "x", "ct-3", None, 4)
        .unwrap();
    assert!(matches!(
        fx.cache.reconcile_sent("ct-3", &msg("t1", 3, "srv-3")),
        Err(CacheError::InvalidData(_))
    ));
    assert!(fx.cache.outbox_entry("ct-3").unwrap().is_some());
    assert!(matches!(
        fx.cache.enqueue_outgoing("t1", "x", "", None, 4),
        Err(CacheError::InvalidData(_))
    ));
    assert_agree(&fx.cache, "t1");
}

pub fn echo_reconciles_the_outbox(make: Make) {
    let fx = make();
    fx.cache.upsert_messages("t1", &msgs("t1", 1..=2)).unwrap();
    fx.cache
        .enqueue_outgoing("t1", "one", "ct-1", None, 1)
        .unwrap();
    fx.cache
        .enqueue_outgoing("t1", "two", "ct-2", None, 2)
        .unwrap();
    let mut echo = msg("t1", 3, "srv-3");
    echo.client_temp_id = Some("ct-2".into());
    let change = fx.cache.upsert_messages("t1", &[echo.clone()]).unwrap();
    assert_eq!(change.reconciled_client_temp_ids, ["ct-2"]);
    assert_eq!(change.removed_ids, ["local:ct-2"]);
    let outbox = fx.cache.outbox().unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].client_temp_id, "ct-1");
    // The echo again, then the late POST answer: nothing changes.
    assert!(
        fx.cache
            .upsert_messages("t1", &[echo.clone()])
            .unwrap()
            .is_empty()
    );
    assert!(fx.cache.reconcile_sent("ct-2", &echo).unwrap().is_empty());
    let all = fx.cache.get_cached_messages("t1", None).unwrap();
    assert_eq!(seqs_of(&all), [Some(1), Some(2), Some(3), None]);
    assert_agree(&fx.cache, "t1");
}

pub fn tickets_round_trip(make: Make) {
    let fx = make();
    fx.cache.update_backend_sequence("b", Some(1)).unwrap();
    let tickets = vec![
        TicketSummary {
            id: "b".into(),
            title: "Printer".into(),
            status: "open".into(),
            unread_count: 2,
            updated_at: "2024-05-01T12:00:00.000Z".into(),
            last_message: Some(LastMessageInfo {
                content: "hi".into(),
                sender_name: Some("Ada".into()),
                created_at: "2024-05-01T12:00:00.000Z".into(),
                sequence_number: 7,
            }),
            last_message_sequence: Some(7),
            history: None,
        },
        TicketSummary {
            id: "a".into(),
            title: "VPN".into(),
            status: "closed".into(),
            unread_count: 0,
            updated_at: "2024-04-01T12:00:00.000Z".into(),
            last_message: None,
            last_message_sequence: None,
            history: None,
        },
    ];
    fx.cache.store_tickets(&tickets, 99).unwrap();
    assert_eq!(fx.cache.get_tickets().unwrap(), tickets);
    // The engine decides about backend sequences, not the ticket store.
    assert_eq!(
        fx.cache.get_sync_meta("b").unwrap().last_known_backend_seq,
        Some(1)
    );
    assert_eq!(fx.cache.chat_ids().unwrap(), ["a", "b"]);
    let duplicate = vec![tickets[0].clone(), tickets[0].clone()];
    assert!(matches!(
        fx.cache.store_tickets(&duplicate, 100),
        Err(CacheError::InvalidData(_))
    ));
    assert_eq!(fx.cache.get_tickets().unwrap(), tickets);
    fx.cache.store_tickets(&tickets[1..], 101).unwrap();
    assert_eq!(fx.cache.get_tickets().unwrap(), tickets[1..].to_vec());
}

/// The ticket list's ETag (protocol 6.1) is written with the list it describes, in one
/// transaction, and nothing else changes that list: a stored tag always names exactly
/// the stored rows, histories included.
pub fn ticket_list_etag_lives_and_dies_with_the_list(make: Make) {
    let fx = make();
    let history = |epoch: i64| HistoryEpoch {
        epoch,
        previous_epoch: (epoch > 0).then_some(0),
        kept_through_sequence: (epoch > 0).then_some(3),
    };
    let ticket = |id: &str, seq: i64, epoch: Option<i64>| TicketSummary {
        id: id.into(),
        title: format!("ticket {id}"),
        status: "open".into(),
        unread_count: 1,
        updated_at: "2024-05-01T12:00:00.000Z".into(),
        last_message: Some(LastMessageInfo {
            content: "latest".into(),
            sender_name: None,
            created_at: "2024-05-01T12:00:00.000Z".into(),
            sequence_number: seq,
        }),
        last_message_sequence: Some(seq),
        history: epoch.map(history),
    };
    assert_eq!(fx.cache.ticket_list_etag().unwrap(), None);
    assert_eq!(fx.cache.tickets_with_etag("\"t1\"").unwrap(), None);
    let list = vec![
        ticket("t1", 5, Some(0)),
        ticket("t2", 9, Some(1_700)),
        ticket("t3", 2, None),
    ];
    fx.cache
        .store_ticket_list(&list, Some("\"t1\""), 10)
        .unwrap();
    assert_eq!(
        fx.cache.ticket_list_etag().unwrap().as_deref(),
        Some("\"t1\"")
    );
    assert_eq!(
        fx.cache.tickets_with_etag("\"t1\"").unwrap(),
        Some(list.clone())
    );
    assert_eq!(fx.cache.tickets_with_etag("\"t2\"").unwrap(), None);
    assert_eq!(fx.cache.tickets_with_etag("W/\"t1\"").unwrap(), None);
    // get_tickets keeps its contract: history applied, not returned.
    let plain: Vec<TicketSummary> = list
        .iter()
        .cloned()
        .map(|t| TicketSummary { history: None, ..t })
        .collect();
    assert_eq!(fx.cache.get_tickets().unwrap(), plain);

    // Local writes of the chats (pushes, backend sequences, sync states, rewrites,
    // truncation) never touch the stored list: the tag still names those exact rows.
    fx.cache.store_pushed("t1", &msgs("t1", 1..=7)).unwrap();
    fx.cache.update_backend_sequence("t1", Some(7)).unwrap();
    fx.cache
        .update_sync_state("t1", SyncState::Synced, Some(20))
        .unwrap();
    fx.cache
        .apply_histories(&[("t1", history(2_000)), ("t2", history(1_700))])
        .unwrap();
    fx.cache.truncate_above("t1", 2).unwrap();
    assert_eq!(
        fx.cache.tickets_with_etag("\"t1\"").unwrap(),
        Some(list.clone())
    );

    // A list that cannot be stored leaves the old list and its tag as they were.
    let duplicate = vec![ticket("t1", 5, None), ticket("t1", 6, None)];
    assert!(matches!(
        fx.cache.store_ticket_list(&duplicate, Some("\"t9\""), 11),
        Err(CacheError::InvalidData(_))
    ));
    for bad in [String::new(), format!("\"{}\"", "x".repeat(2_000))] {
        assert!(matches!(
            fx.cache.store_ticket_list(&list, Some(&bad), 11),
            Err(CacheError::InvalidData(_))
        ));
    }
    assert_eq!(
        fx.cache.tickets_with_etag("\"t1\"").unwrap(),
        Some(list.clone())
    );

    // A new tagged list replaces both; a list without a tag forgets the tag.
    let next = vec![ticket("t2", 10, Some(1_700))];
    fx.cache
        .store_ticket_list(&next, Some("\"t2\""), 12)
        .unwrap();
    assert_eq!(fx.cache.tickets_with_etag("\"t1\"").unwrap(), None);
    assert_eq!(
        fx.cache.tickets_with_etag("\"t2\"").unwrap(),
        Some(next.clone())
    );
    fx.cache.store_tickets(&list, 13).unwrap();
    assert_eq!(fx.cache.ticket_list_etag().unwrap(), None);
    assert_eq!(fx.cache.tickets_with_etag("\"t2\"").unwrap(), None);
    assert_eq!(fx.cache.get_tickets().unwrap(), plain);

    // Sign-out forgets it with the list.
    fx.cache
        .store_ticket_list(&next, Some("\"t3\""), 14)
        .unwrap();
    fx.cache.clear().unwrap();
    assert_eq!(fx.cache.ticket_list_etag().unwrap(), None);
    assert_eq!(fx.cache.tickets_with_etag("\"t3\"").unwrap(), None);
    fx.cache.integrity_check().unwrap();
}

pub fn eviction_spares_windows_and_outbox(make: Make) {
    let fx = make();
    // t1: history 1..=10 (cached early), window 51..=60.
    let mut old = msgs("t1", 1..=10);
    for (i, m) in old.iter_mut().enumerate() {
        m.cached_at = 100 + i as i64;
    }
    fx.cache.upsert_messages("t1", &old).unwrap();
    fx.cache
        .upsert_messages("t1", &msgs("t1", 51..=60))
        .unwrap();
    fx.cache.set_window_start("t1", 51).unwrap();
    fx.cache
        .enqueue_outgoing("t1", "unsent", "ct-1", None, 1)
        .unwrap();
    fx.cache.update_backend_sequence("t1", Some(60)).unwrap();
    // t2: history 5..=8 cached in between t1's, window 20..=21.
    let mut t2_old = msgs("t2", 5..=8);
    for (i, m) in t2_old.iter_mut().enumerate() {
        m.cached_at = 104 + i as i64; // ties with t1-5..t1-8
    }
    fx.cache.upsert_messages("t2", &t2_old).unwrap();
    fx.cache
        .upsert_messages("t2", &msgs("t2", 20..=21))
        .unwrap();
    fx.cache.set_window_start("t2", 20).unwrap();

    let report = fx
        .cache
        .evict(&EvictionLimits {
            max_messages_per_chat: Some(15),
            max_messages_total: None,
        })
        .unwrap();
    assert_eq!(report.evicted, 5);
    assert_eq!(report.per_chat, vec![("t1".to_string(), 5)]);
    assert_eq!(
        fx.cache.runs("t1").unwrap().runs().collect::<Vec<_>>(),
        ranges(&[(6, 10), (51, 60)])
    );
    // Total: 15 + 6 = 21 -> 13: the 8 oldest by cached_at, ties by chat then sequence:
    // t2-5 (104), t1-6, t2-6 (105), t1-7, t2-7 (106), t1-8, t2-8 (107), t1-9 (108).
    let report = fx
        .cache
        .evict(&EvictionLimits {
            max_messages_per_chat: None,
            max_messages_total: Some(13),
        })
        .unwrap();
    assert_eq!(report.evicted, 8);
    assert_eq!(
        report.per_chat,
        vec![("t1".to_string(), 4), ("t2".to_string(), 4)]
    );
    let t1: Vec<i64> = fx
        .cache
        .get_cached_messages("t1", None)
        .unwrap()
        .iter()
        .filter_map(|m| m.sequence_number)
        .collect();
    let t2: Vec<i64> = fx
        .cache
        .get_cached_messages("t2", None)
        .unwrap()
        .iter()
        .filter_map(|m| m.sequence_number)
        .collect();
    assert_eq!(t1, std::iter::once(10).chain(51..=60).collect::<Vec<_>>());
    assert_eq!(t2, [20, 21]);
    // A cap below the windows: the windows and the outbox stay.
    let report = fx
        .cache
        .evict(&EvictionLimits {
            max_messages_per_chat: Some(0),
            max_messages_total: Some(0),
        })
        .unwrap();
    assert_eq!(report.per_chat, vec![("t1".to_string(), 1)]);
    assert_eq!(fx.cache.get_cached_messages("t1", None).unwrap().len(), 11);
    assert!(fx.cache.validate_sequences("t1").unwrap().valid);
    assert_eq!(fx.cache.outbox().unwrap().len(), 1);
    assert!(matches!(
        fx.cache.evict(&EvictionLimits {
            max_messages_per_chat: Some(-1),
            max_messages_total: None
        }),
        Err(CacheError::InvalidData(_))
    ));
    assert_agree(&fx.cache, "t1");
    assert_agree(&fx.cache, "t2");
}

pub fn clear_removes_everything(make: Make) {
    let fx = make();
    fx.cache.upsert_messages("t1", &msgs("t1", 1..=5)).unwrap();
    fx.cache.update_backend_sequence("t1", Some(5)).unwrap();
    fx.cache.enqueue_outgoing("t1", "x", "ct", None, 1).unwrap();
    fx.cache
        .store_tickets(
            &[TicketSummary {
                id: "t1".into(),
                title: "T".into(),
                status: "open".into(),
                unread_count: 0,
                updated_at: "2024-05-01T12:00:00.000Z".into(),
                last_message: None,
                last_message_sequence: Some(5),
                history: None,
            }],
            1,
        )
        .unwrap();
    fx.cache.clear().unwrap();
    assert!(fx.cache.chat_ids().unwrap().is_empty());
    assert!(fx.cache.get_cached_messages("t1", None).unwrap().is_empty());
    assert!(fx.cache.outbox().unwrap().is_empty());
    assert!(fx.cache.get_tickets().unwrap().is_empty());
    assert_eq!(
        fx.cache.get_sync_meta("t1").unwrap().last_known_backend_seq,
        None
    );
    assert!(fx.cache.runs("t1").unwrap().is_empty());
    fx.cache.integrity_check().unwrap();
    // Usable afterwards; the same key can be queued again.
    fx.cache.enqueue_outgoing("t1", "x", "ct", None, 2).unwrap();
}

pub fn messages_round_trip_every_column(make: Make) {
    let fx = make();
    let full = ChatMessage {
        id: "m-full".into(),
        request_id: "t1".into(),
        sender_id: Some("u9".into()),
        sender: Some(Sender {
            id: "u9".into(),
            full_name: "Grace".into(),
            is_technician: true,
        }),
        content: "with ünïcode and 'quotes'".into(),
        sequence_number: Some(1),
        is_screenshot: true,
        screenshot_file_name: Some("shot.png".into()),
        is_read_by_current_user: true,
        created_at: "2024-05-01T12:00:00.000Z".into(),
        updated_at: Some("2024-05-01T12:05:00.000Z".into()),
        status: MessageStatus::Sent,
        temp_id: Some("tmp".into()),
        client_temp_id: Some("ct-x".into()),
        is_system_message: true,
        file_name: Some("log.txt".into()),
        file_size: Some(1234),
        file_mime_type: Some("text/plain".into()),
        cached_at: 777,
    };
    fx.cache.add_message(&full).unwrap();
    assert_eq!(
        fx.cache.get_cached_messages("t1", None).unwrap(),
        vec![full]
    );
}

// ---------------------------------------------------------------------------------
// The property test: the cache against a SeqRuns + BTreeMap model.

const CHATS: [&str; 2] = ["pa", "pb"];

#[derive(Debug, Clone)]
pub enum Op {
    /// (seq, id choice: None = natural id, Some(k) = a shared pool id, edited content)
    Upsert(usize, Vec<(i64, Option<u8>, bool)>),
    Replace(usize, Vec<(i64, Option<u8>, bool)>),
    Evict(Option<i64>, Option<i64>),
    Truncate(usize, i64),
    SetWindowStart(usize, i64),
    Backend(usize, Option<i64>),
    Enqueue(usize),
    Echo(usize, i64),
}

fn item() -> impl Strategy<Value = (i64, Option<u8>, bool)> {
    (
        1i64..60,
        prop_oneof![6 => Just(None), 1 => (0u8..6).prop_map(Some)],
        any::<bool>(),
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..2, proptest::collection::vec(item(), 1..12)).prop_map(|(c, v)| Op::Upsert(c, v)),
        1 => (0usize..2, proptest::collection::vec(item(), 0..12)).prop_map(|(c, v)| Op::Replace(c, v)),
        2 => (proptest::option::of(0i64..25), proptest::option::of(0i64..40)).prop_map(|(a, b)| Op::Evict(a, b)),
        1 => (0usize..2, 0i64..60).prop_map(|(c, s)| Op::Truncate(c, s)),
        2 => (0usize..2, 1i64..60).prop_map(|(c, s)| Op::SetWindowStart(c, s)),
        1 => (0usize..2, proptest::option::of(0i64..65)).prop_map(|(c, s)| Op::Backend(c, s)),
        1 => (0usize..2).prop_map(Op::Enqueue),
        1 => (0usize..4, 1i64..60).prop_map(|(k, s)| Op::Echo(k, s)),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct Row {
    id: String,
    content: String,
    cached_at: i64,
}

#[derive(Debug, Default)]
struct ModelChat {
    runs: SeqRuns,
    rows: BTreeMap<i64, Row>,
    backend: Option<i64>,
}

#[derive(Debug, Default)]
struct Model {
    chats: [ModelChat; 2],
    /// (chat index, client_temp_id) in enqueue order.
    outbox: Vec<(usize, String)>,
    next_ct: u64,
}

impl Model {
    /// Applies to the model what the cache does on an upsert of the server messages
    /// `batch` of chat `c` at `now`.
    fn upsert_batch(&mut self, c: usize, batch: &[ChatMessage], now: i64) {
        for m in batch {
            let row = Row {
                id: m.id.clone(),
                content: m.content.clone(),
                cached_at: now,
            };
            self.upsert(c, m.sequence_number.unwrap(), row, None);
        }
    }

    fn upsert(&mut self, c: usize, seq: i64, row: Row, ct: Option<&str>) {
        if let Some(ct) = ct {
            self.outbox.retain(|(oc, k)| !(*oc == c && k == ct));
        }
        let chat = &mut self.chats[c];
        let existing = chat
            .rows
            .iter()
            .find(|(_, r)| r.id == row.id)
            .map(|(&s, r)| (s, r.clone()));
        match existing {
            Some((s, old)) if s == seq => {
                if old.content != row.content {
                    chat.rows.insert(seq, row);
                }
            }
            Some((s, _)) => {
                chat.rows.remove(&s);
                chat.runs.remove(s);
                chat.rows.insert(seq, row);
                chat.runs.insert(seq);
            }
            None => {
                chat.rows.insert(seq, row);
                chat.runs.insert(seq);
            }
        }
    }
}

fn message_for(c: usize, seq: i64, id: String, edited: bool, cached_at: i64) -> ChatMessage {
    let mut m = msg(CHATS[c], seq, &id);
    m.content = if edited {
        format!("{id} edited")
    } else {
        format!("{id} text")
    };
    m.sender = None;
    m.cached_at = cached_at;
    m
}

/// The server messages of chat `c` that the generated `items` describe, cached at `now`.
fn batch_for(c: usize, items: &[(i64, Option<u8>, bool)], now: i64) -> Vec<ChatMessage> {
    items
        .iter()
        .map(|&(seq, choice, edited)| message_for(c, seq, item_id(c, seq, choice), edited, now))
        .collect()
}

fn item_id(c: usize, seq: i64, choice: Option<u8>) -> String {
    match choice {
        None => format!("{}-s{seq}", CHATS[c]),
        Some(k) => format!("{}-x{k}", CHATS[c]),
    }
}

fn check(cache: &MessageCache, model: &Model) -> Result<(), TestCaseError> {
    for (c, chat) in model.chats.iter().enumerate() {
        let id = CHATS[c];
        let summary = cache.summary(id).unwrap();
        prop_assert_eq!(&summary, &chat.runs.summary());
        prop_assert_eq!(cache.runs(id).unwrap(), chat.runs.clone());
        let fast = cache.validate_sequences(id).unwrap();
        prop_assert_eq!(&fast, &validate(&chat.runs.summary(), chat.backend));
        prop_assert_eq!(&cache.validate_sequences_full_scan(id).unwrap(), &fast);
        prop_assert_eq!(cache.missing_ranges(id).unwrap(), fast.missing.clone());
        prop_assert_eq!(cache.history_gaps(id).unwrap(), chat.runs.history_gaps());
        let meta = cache.get_sync_meta(id).unwrap();
        prop_assert_eq!(meta.message_count, chat.rows.len() as i64);
        prop_assert_eq!(meta.local_min_seq, chat.rows.keys().next().copied());
        prop_assert_eq!(meta.local_max_seq, chat.rows.keys().next_back().copied());
        prop_assert_eq!(meta.last_known_backend_seq, chat.backend);
        let all = cache.get_cached_messages(id, None).unwrap();
        let got: Vec<(Option<i64>, String, String)> = all
            .iter()
            .map(|m| (m.sequence_number, m.id.clone(), m.content.clone()))
            .collect();
        let mut want: Vec<(Option<i64>, String, String)> = chat
            .rows
            .iter()
            .map(|(&s, r)| (Some(s), r.id.clone(), r.content.clone()))
            .collect();
        for (oc, ct) in &model.outbox {
            if *oc == c {
                want.push((None, format!("local:{ct}"), "queued".to_string()));
            }
        }
        prop_assert_eq!(got, want);
        for (s, r) in &chat.rows {
            let stored = all.iter().find(|m| m.sequence_number == Some(*s)).unwrap();
            prop_assert_eq!(stored.cached_at, r.cached_at);
        }
        let latest = cache.get_cached_messages(id, Some(5)).unwrap();
        let page = cache.chat_page(id, Some(5)).unwrap();
        prop_assert_eq!(&page.messages, &latest);
        prop_assert_eq!(&page.meta, &meta);
        prop_assert_eq!(&page.runs, &chat.runs);
        let want_latest: Vec<i64> = chat.rows.keys().rev().take(5).rev().copied().collect();
        let got_latest: Vec<i64> = latest.iter().filter_map(|m| m.sequence_number).collect();
        prop_assert_eq!(got_latest, want_latest);
        let before: Vec<i64> = cache
            .get_messages_before(id, 30, 4)
            .unwrap()
            .iter()
            .filter_map(|m| m.sequence_number)
            .collect();
        let mut want_before: Vec<i64> = chat
            .rows
            .range(..30)
            .rev()
            .take(4)
            .map(|(&s, _)| s)
            .collect();
        want_before.reverse();
        prop_assert_eq!(before, want_before);
    }
    let outbox: Vec<String> = cache
        .outbox()
        .unwrap()
        .into_iter()
        .map(|e| e.client_temp_id)
        .collect();
    let want: Vec<String> = model.outbox.iter().map(|(_, k)| k.clone()).collect();
    prop_assert_eq!(outbox, want);
    Ok(())
}

fn run_ops(make: Make, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let fx = make();
    let cache = &fx.cache;
    let mut model = Model::default();
    for (step, op) in ops.into_iter().enumerate() {
        let now = 10_000 + step as i64;
        match op {
            Op::Upsert(c, items) => {
                let batch = batch_for(c, &items, now);
                let change = cache.upsert_messages(CHATS[c], &batch).unwrap();
                model.upsert_batch(c, &batch, now);
                prop_assert_eq!(&change.summary, &model.chats[c].runs.summary());
            }
            Op::Replace(c, items) => {
                let batch = batch_for(c, &items, now);
                let change = cache.cache_messages(CHATS[c], &batch).unwrap();
                let keep: std::collections::HashSet<&str> =
                    batch.iter().map(|m| m.id.as_str()).collect();
                let chat = &mut model.chats[c];
                chat.rows.retain(|_, r| keep.contains(r.id.as_str()));
                chat.runs = SeqRuns::from_parts(
                    chat.rows
                        .keys()
                        .map(|&s| SeqRange::new(s, s))
                        .collect::<Vec<_>>(),
                    None,
                );
                model.upsert_batch(c, &batch, now);
                let chat = &mut model.chats[c];
                let min = chat.runs.min_seq();
                chat.runs = SeqRuns::from_parts(chat.runs.runs().collect::<Vec<_>>(), min);
                prop_assert_eq!(&change.summary, &model.chats[c].runs.summary());
            }
            Op::Evict(per_chat, total) => {
                let report = cache
                    .evict(&EvictionLimits {
                        max_messages_per_chat: per_chat,
                        max_messages_total: total,
                    })
                    .unwrap();
                let mut victims: Vec<(usize, i64)> = Vec::new();
                if let Some(cap) = per_chat {
                    for (c, chat) in model.chats.iter().enumerate() {
                        let count = chat.rows.len() as i64;
                        if count > cap {
                            let ws = chat.runs.window_start().unwrap();
                            let mut cands: Vec<(i64, i64)> = chat
                                .rows
                                .range(..ws)
                                .map(|(&s, r)| (r.cached_at, s))
                                .collect();
                            cands.sort();
                            victims.extend(
                                cands
                                    .into_iter()
                                    .take((count - cap) as usize)
                                    .map(|(_, s)| (c, s)),
                            );
                        }
                    }
                }
                if let Some(cap) = total {
                    let total_count: i64 = model.chats.iter().map(|c| c.rows.len() as i64).sum();
                    let excess = total_count - victims.len() as i64 - cap;
                    if excess > 0 {
                        let mut cands: Vec<(i64, &str, i64, usize)> = Vec::new();
                        for (c, chat) in model.chats.iter().enumerate() {
                            if let Some(ws) = chat.runs.window_start() {
                                for (&s, r) in chat.rows.range(..ws) {
                                    if !victims.contains(&(c, s)) {
                                        cands.push((r.cached_at, CHATS[c], s, c));
                                    }
                                }
                            }
                        }
                        cands.sort();
                        victims.extend(
                            cands
                                .into_iter()
                                .take(excess as usize)
                                .map(|(_, _, s, c)| (c, s)),
                        );
                    }
                }
                prop_assert_eq!(report.evicted, victims.len() as i64);
                for (c, s) in victims {
                    model.chats[c].rows.remove(&s);
                    model.chats[c].runs.remove(s);
                }
            }
            Op::Truncate(c, seq) => {
                let change = cache.truncate_above(CHATS[c], seq).unwrap();
                let chat = &mut model.chats[c];
                let removed = chat.rows.range(seq + 1..).count();
                chat.rows.retain(|&s, _| s <= seq);
                chat.runs.truncate_above(seq);
                prop_assert_eq!(change.removed_ids.len(), removed);
                prop_assert_eq!(&change.summary, &chat.runs.summary());
            }
            Op::SetWindowStart(c, seq) => {
                let summary = cache.set_window_start(CHATS[c], seq).unwrap();
                model.chats[c].runs.set_window_start(seq);
                prop_assert_eq!(summary, model.chats[c].runs.summary());
            }
            Op::Backend(c, seq) => {
                cache.update_backend_sequence(CHATS[c], seq).unwrap();
                model.chats[c].backend = seq;
            }
            Op::Enqueue(c) => {
                model.next_ct += 1;
                let ct = format!("ct{}", model.next_ct);
                cache
                    .enqueue_outgoing(CHATS[c], "queued", &ct, None, now)
                    .unwrap();
                model.outbox.push((c, ct));
            }
            Op::Echo(k, seq) => {
                if model.outbox.is_empty() {
                    continue;
                }
                let (c, ct) = model.outbox[k % model.outbox.len()].clone();
                let mut echo = message_for(c, seq, format!("{}-e{ct}", CHATS[c]), false, now);
                echo.client_temp_id = Some(ct.clone());
                let change = cache.upsert_messages(CHATS[c], &[echo.clone()]).unwrap();
                prop_assert_eq!(change.reconciled_client_temp_ids, vec![ct.clone()]);
                model.upsert(
                    c,
                    seq,
                    Row {
                        id: echo.id.clone(),
                        content: echo.content.clone(),
                        cached_at: now,
                    },
                    Some(&ct),
                );
            }
        }
        check(cache, &model)?;
    }
    cache.integrity_check().unwrap();
    Ok(())
}

/// Random insert / duplicate / reorder / replace / evict / truncate / window sequences:
/// the persisted summary equals the model's and the full scan's at every step.
pub fn property_matches_the_model(make: Make) {
    let cases = std::env::var("CHATSYNC_CACHE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
        run_ops(make, ops)
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Keeps `MessagesChange` in the suite's imports used.
pub fn change_is_empty_reflects_lists(_make: Make) {
    let mut change = MessagesChange::default();
    assert!(change.is_empty());
    change.reconciled_client_temp_ids.push("x".into());
    assert!(change.is_empty(), "reconciled keys alone are no row change");
    change.removed_ids.push("x".into());
    assert!(!change.is_empty());
}
