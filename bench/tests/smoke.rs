//! The suite's smoke run (`--quick`): every section runs against the real server and
//! real SQLite files and produces a well-formed, sane report. Correctness only: no
//! timing is asserted (speed targets are reported by the suite, never enforced here).

use chatsync_bench::resync::Scenario;
use chatsync_bench::{BenchArgs, Mode, Section, Verdict, run};

#[test]
fn quick_run_produces_a_sane_report() {
    let args = BenchArgs {
        quick: true,
        quiet: true,
        ..BenchArgs::default()
    };
    let report = run(&args).expect("the quick run completes");
    assert_eq!(report.mode, Mode::Quick);
    assert!(!report.date.is_empty() && report.machine.cores > 0);

    // 1. Resync: every scenario, chatsync correct, the accounting consistent.
    let resync = report.resync.as_ref().expect("resync measured");
    assert_eq!(resync.scenarios.len(), Scenario::ALL.len());
    for s in &resync.scenarios {
        if s.scenario == Scenario::Regression && !s.chatsync_correct {
            // A restore that reused sequences before the client saw the lower sequence
            // may leave old contents cached (docs/architecture.md, Known limits): the
            // table must say so and count it as missed.
            assert!(report.rows.iter().any(|r| r.case == s.label
                && r.chatsync.contains("WRONG DATA")
                && r.verdict == Verdict::Missed));
        } else {
            assert!(
                s.chatsync_correct,
                "{}: chatsync ends with the server's window",
                s.label
            );
        }
        assert!(
            s.polling_correct,
            "{}: the poller shows the server's window",
            s.label
        );
        let missing: i64 = s.missing.iter().map(|r| r.len()).sum();
        assert_eq!(s.minimum.messages as i64, missing, "{}", s.label);
        assert_eq!(s.minimum.requests as usize, s.missing.len(), "{}", s.label);
        // Polling: one ticket list, then the window on the open and on every tick.
        assert_eq!(s.polling_session.ticket_list_requests, 1);
        assert_eq!(
            s.polling_session.page_requests,
            1 + u64::from(resync.plan.ticks),
            "{}",
            s.label
        );
        assert!(s.chatsync_session.requests >= s.chatsync_resync.requests);
        // A cache that ends exact fetched at least the minimum.
        assert!(
            !s.chatsync_correct || s.chatsync_resync.messages >= s.minimum.messages,
            "{}",
            s.label
        );
    }
    let by = |scenario| {
        resync
            .scenarios
            .iter()
            .find(|s| s.scenario == scenario)
            .expect("every scenario")
    };
    let none = by(Scenario::NoChange);
    assert_eq!(none.chatsync_resync.requests, 0, "no change: zero requests");
    // Nothing changed: every ticket list of the session (start-up and ticks) is a 304
    // to the tag the first client stored, so none of them costs a body.
    let session = none.chatsync_session;
    assert!(session.ticket_lists_not_modified >= u64::from(resync.plan.ticks));
    assert_eq!(
        session.ticket_lists_not_modified, session.ticket_list_requests,
        "no change: every ticket list of the session is a 304"
    );
    assert_eq!(none.minimum.requests, 0);
    assert!(none.target_met);
    assert_eq!(by(Scenario::LostMessage).minimum.messages, 1);
    assert_eq!(by(Scenario::ScatteredGaps).missing.len(), 5);
    assert_eq!(by(Scenario::NewMessages).minimum.messages, 50);
    assert_eq!(by(Scenario::Burst).minimum.messages, 200);

    // 2. Open: each size measured with positive latencies.
    let open = report.open.as_ref().expect("open measured");
    assert_eq!(open.rows.len(), 2);
    for r in &open.rows {
        assert_eq!(r.rust_api.samples, open.iterations);
        assert!(r.rust_api.p50_us > 0.0 && r.rust_api.p99_us >= r.rust_api.p50_us);
        assert!(r.sqlite_floor.p50_us > 0.0);
    }
    // Through the Kotlin bindings: measured when bench/scripts/kotlin.sh has built the
    // program (one sample per timed open), otherwise a reason naming that command;
    // either way a table row says which.
    match &open.kotlin {
        Some(k) => {
            assert_eq!(open.kotlin_status, "measured");
            assert_eq!(k.rows.len(), 2);
            for r in &k.rows {
                assert_eq!(r.open_chat.samples, open.iterations);
            }
        }
        None => assert!(
            open.kotlin_status.starts_with("not measured: ")
                && open.kotlin_status.contains("bench/scripts/kotlin.sh"),
            "{}",
            open.kotlin_status
        ),
    }
    assert!(report.rows.iter().any(|r| {
        r.section == "open"
            && r.metric
                .starts_with("open_chat through the Kotlin bindings (JVM)")
    }));

    // 3. Validation: O(1) and full scan at each size.
    let validation = report.validation.as_ref().expect("validation measured");
    assert_eq!(
        validation
            .rows
            .iter()
            .map(|r| r.messages)
            .collect::<Vec<_>>(),
        vec![1_000, 10_000]
    );
    assert!(validation.fill_rows_per_s > 0.0);

    // 4. Ingest: rates and the baselines measured.
    let ingest = report.ingest.as_ref().expect("ingest measured");
    assert!(ingest.ingest_per_s > 0.0 && ingest.raw_commit_per_row_per_s > 0.0);
    assert_eq!(ingest.latency_paced.samples, 30);
    assert_eq!(ingest.latency_under_load.samples, ingest.messages);

    // 5. Memory: a peak at least the baseline, every chat synced.
    let memory = report.memory.as_ref().expect("memory measured");
    assert!(memory.peak_rss_bytes >= memory.baseline_rss_bytes && memory.peak_rss_bytes > 0);
    assert!(memory.requests > u64::from(memory.chats));

    // The table: every row has a verdict; the text and JSON forms are well formed.
    assert!(report.rows.iter().any(|r| r.verdict == Verdict::Met));
    let text = report.to_string();
    assert!(text.contains("no change") && text.contains("machine:"));
    let json: serde_json::Value = serde_json::from_str(&report.render(&BenchArgs {
        json: true,
        ..args.clone()
    }))
    .expect("valid JSON");
    assert_eq!(json["mode"], "quick");
    assert_eq!(
        json["resync"]["scenarios"].as_array().map(Vec::len),
        Some(6)
    );
    assert!(json["open"]["kotlinStatus"].is_string());
    assert!(json["open"]["bindings"].is_string() && json["open"]["python"].is_array());
    let markdown = report.render(&BenchArgs {
        markdown: true,
        ..args
    });
    assert!(markdown.lines().filter(|l| l.starts_with('|')).count() == report.rows.len() + 2);
}

#[test]
fn only_selects_sections() {
    let args = BenchArgs {
        quick: true,
        quiet: true,
        only: vec![Section::Validation],
        ..BenchArgs::default()
    };
    let report = run(&args).expect("the validation section runs");
    assert!(report.validation.is_some());
    assert!(report.resync.is_none() && report.open.is_none());
    assert!(report.ingest.is_none() && report.memory.is_none());
    assert!(report.rows.iter().all(|r| r.section == "validation"));
}
