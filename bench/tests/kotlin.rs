//! The Kotlin (JVM) open measurement: missing inputs are reported as "not measured"
//! with the command that makes them, and, when `bench/scripts/kotlin.sh` has built the
//! program, the real `java` process opens a real fixture cache through the generated
//! bindings and returns one sample per timed open (counts only: no timing is asserted).
//!
//! Without the built program the real-run test says so on stderr and checks nothing
//! else; `CHATSYNC_BENCH_REQUIRE_KOTLIN=1` (set by bench/scripts/test.sh after it ran
//! kotlin.sh) makes a missing build a failure instead.

use std::path::Path;

use chatsync_bench::Progress;
use chatsync_bench::kotlin::{self, KotlinInputs, Warmup, run_with};
use chatsync_bench::open::chat_id;
use chatsync_bench::validation::Fixture;

/// A small warm-up: the test checks counts, not speed.
const WARMUP: Warmup = Warmup {
    jit: 300,
    per_chat: 100,
};

fn chats(sizes: &[i64]) -> Vec<(String, i64)> {
    sizes.iter().map(|&n| (chat_id(n), n)).collect()
}

#[test]
fn missing_inputs_are_reported_as_not_measured() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.sqlite");
    let file = |name: &str| dir.path().join(name);
    let mut inputs = KotlinInputs {
        java: "java".into(),
        classpath_file: file("classpath.txt"),
        library: file("libchatsync_ffi.so"),
    };
    let not_measured = |inputs: &KotlinInputs| {
        let reason = run_with(inputs, &cache, &chats(&[1000]), 10, WARMUP).unwrap_err();
        assert!(reason.starts_with("not measured: "), "{reason}");
        reason
    };

    // No classpath file.
    let reason = not_measured(&inputs);
    assert!(reason.contains("classpath.txt is missing"), "{reason}");
    assert!(reason.contains("(run bench/scripts/kotlin.sh)"), "{reason}");

    // A classpath but no library.
    std::fs::write(file("bench.jar"), b"jar").unwrap();
    std::fs::write(
        &inputs.classpath_file,
        format!("{}\n", file("bench.jar").display()),
    )
    .unwrap();
    let reason = not_measured(&inputs);
    assert!(reason.contains("libchatsync_ffi.so is missing"), "{reason}");

    // A classpath entry that is gone (e.g. a cleaned ~/.m2).
    std::fs::write(&inputs.library, b"so").unwrap();
    std::fs::write(
        &inputs.classpath_file,
        format!(
            "{}:{}\n",
            file("bench.jar").display(),
            file("gone/jna.jar").display()
        ),
    )
    .unwrap();
    let reason = not_measured(&inputs);
    assert!(
        reason.contains("jna.jar, on the classpath, is missing"),
        "{reason}"
    );

    // Everything there but the runtime.
    std::fs::write(
        &inputs.classpath_file,
        format!("{}\n", file("bench.jar").display()),
    )
    .unwrap();
    inputs.java = file("no-such-java").into_os_string();
    let reason = not_measured(&inputs);
    assert!(reason.contains("cannot run"), "{reason}");
    assert!(reason.contains("bench/scripts/kotlin.sh"), "{reason}");
}

/// The built inputs, or `None` (with the reason on stderr) when they are not built (or
/// built from other sources) and not required.
fn built_inputs() -> Option<KotlinInputs> {
    let inputs = KotlinInputs::default_paths();
    let missing: Vec<&Path> = [&inputs.classpath_file, &inputs.library]
        .into_iter()
        .map(|p| p.as_path())
        .filter(|p| !p.is_file())
        .collect();
    let unusable = if !missing.is_empty() {
        format!("{missing:?} missing")
    } else if let Some(stale) = chatsync_bench::stale_ffi_build(&inputs.library) {
        stale
    } else {
        return Some(inputs);
    };
    let required = std::env::var_os("CHATSYNC_BENCH_REQUIRE_KOTLIN").is_some_and(|v| v == "1");
    assert!(
        !required,
        "CHATSYNC_BENCH_REQUIRE_KOTLIN=1 but {unusable} (run {})",
        kotlin::BUILD_COMMAND
    );
    eprintln!(
        "the real Kotlin run is not tested: {unusable} (run {})",
        kotlin::BUILD_COMMAND
    );
    None
}

#[test]
fn the_real_program_opens_every_chat_through_the_bindings() {
    let Some(inputs) = built_inputs() else {
        return;
    };
    let fixture = Fixture::build(&[1_000, 2_000], &Progress::new(false)).unwrap();
    let sizes = chats(&[1_000, 2_000]);
    let run = run_with(&inputs, &fixture.path, &sizes, 25, WARMUP).unwrap();
    assert_eq!((run.jit_warmup, run.warmup), (300, 100));
    assert!(run.jvm.contains("VM"), "{}", run.jvm);
    assert_eq!(
        run.rows.iter().map(|r| r.messages).collect::<Vec<_>>(),
        vec![1_000, 2_000]
    );
    for r in &run.rows {
        assert_eq!(r.open_chat.samples, 25);
        assert!(r.open_chat.p50_us > 0.0 && r.open_chat.max_us >= r.open_chat.p99_us);
        assert!(r.open_chat.cpu_p50_us.is_some());
    }

    // A chat the cache does not hold opens empty and UNKNOWN: the program fails loudly
    // (no figure), naming the chat.
    let reason = run_with(&inputs, &fixture.path, &chats(&[3_000]), 5, WARMUP).unwrap_err();
    assert!(
        reason.starts_with("failed: the Kotlin run exited"),
        "{reason}"
    );
    assert!(
        reason.contains("chat-3000: the first open gave 0 messages"),
        "{reason}"
    );
}
