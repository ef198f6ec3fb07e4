//! Fuzz regressions (issue 10, part 4) on stable Rust: every committed fuzz seed
//! (`fuzz/seeds/<target>/`) and every crash input found by fuzzing
//! (`tests/reliability/fuzz-regressions/<target>/`) is replayed through the very
//! properties the cargo-fuzz targets check (`fuzz/src/checks.rs`, compiled here by path).

#[path = "../../../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;

use std::path::Path;

/// A fuzz target's property.
type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 5] = [
    ("wire_ticket_list", checks::ticket_list),
    ("wire_message_page", checks::message_page),
    ("wire_sent_message", checks::sent_message),
    ("wire_realtime_frame", checks::realtime_frame),
    ("realtime_handling", checks::realtime_handling),
];

fn replay(root: &Path) -> usize {
    let mut replayed = 0;
    for (target, check) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let data = std::fs::read(&path).expect("a readable input");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} fails its check",
                path.display()
            );
            replayed += 1;
        }
    }
    replayed
}

#[test]
fn committed_seeds_and_crash_inputs_pass_the_fuzz_properties() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = replay(&here.join("../../fuzz/seeds"));
    assert!(seeds >= 10, "only {seeds} seeds replayed");
    let regressions = replay(&here.join("fuzz-regressions"));
    eprintln!(
        "RELIABILITY fuzz-regressions {{\"seeds\": {seeds}, \"crashInputs\": {regressions}}}"
    );
}
