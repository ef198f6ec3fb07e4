#!/usr/bin/env bash
# Bounded fuzzing of chatsync's wire decoders and realtime frame handling (not in CI).
#
#   fuzz/run.sh SECONDS [TARGET...]
#
# Runs each target (default: all five) for SECONDS with libFuzzer through cargo-fuzz
# on the installed *stable* toolchain: cargo-fuzz passes nightly-only flags
# (-Zsanitizer=address, -Cpasses=sancov-module, ...), which stable rustc accepts under
# RUSTC_BOOTSTRAP=1. cargo-fuzz itself is installed from crates.io if missing.
# New corpus entries go to fuzz/corpus/<target> (not committed); the committed seeds
# are in fuzz/seeds/<target>. A crash leaves fuzz/artifacts/<target>/crash-*; turn it
# into a case of tests/reliability/tests/fuzz_regressions.rs.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:?usage: fuzz/run.sh SECONDS [TARGET...]}"
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(wire_ticket_list wire_message_page wire_sent_message wire_realtime_frame realtime_handling)
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build
failed=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "seeds/$t"
  echo "== $t for ${secs}s"
  if ! cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
       -max_total_time="$secs" -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
       2>&1 | tee "corpus/$t.log" | grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY|thread .* panicked)'; then
    :
  fi
  if ls "artifacts/$t"/crash-* >/dev/null 2>&1 || grep -q 'panicked\|==ERROR' "corpus/$t.log"; then
    echo "!! $t found a crash: see fuzz/artifacts/$t and corpus/$t.log"
    failed=1
  fi
done
exit "$failed"
