//! The cache conformance suite, run against the file-backed and the in-memory cache.

mod cache_support;

conformance!(
    empty_chat_has_default_meta,
    backend_unknown_defers_validation,
    empty_cache_is_valid_at_zero_and_no_messages_above,
    gaps_give_exact_missing_ranges,
    max_must_equal_backend_in_both_directions,
    unsequenced_messages_never_count,
    upsert_is_idempotent_by_id,
    same_sequence_with_another_id_is_replaced,
    an_id_that_moves_sequence_moves_its_run,
    bad_batches_write_nothing,
    latest_n_and_before_a_sequence,
    cache_messages_replaces_server_rows_and_keeps_outbox,
    truncate_above_keeps_outgoing_rows,
    window_start_records_history_gaps,
    sync_state_and_backend_sequence,
    pushes_store_messages_and_raise_the_backend_in_one_commit,
    chat_page_equals_the_separate_reads,
    history_rewrites_discard_exactly_what_may_have_changed,
    outbox_lifecycle,
    echo_reconciles_the_outbox,
    tickets_round_trip,
    ticket_list_etag_lives_and_dies_with_the_list,
    eviction_spares_windows_and_outbox,
    clear_removes_everything,
    messages_round_trip_every_column,
    change_is_empty_reflects_lists,
    property_matches_the_model,
);
