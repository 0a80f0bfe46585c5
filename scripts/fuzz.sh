#!/usr/bin/env bash
# Runs each cargo-fuzz target for a short while (default 30 s; FUZZ_SECONDS to change;
# FUZZ_TARGETS="feed_parse" to run only some, e.g. one per core for long runs).
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them (there is no nightly on these machines). Crashes are written to
# fuzz/artifacts/<target>/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-30}"
# A build folder of its own (the sanitizer flags would rebuild the main one); CI keeps it.
target_dir="${FUZZ_TARGET_DIR:-$PWD/target}"
for target in ${FUZZ_TARGETS:-feed_parse page_extract}; do
  mkdir -p "corpus/$target"
  echo "== fuzz $target for ${seconds}s"
  cargo fuzz run -O --target-dir "$target_dir" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 2>&1 | tail -n 12
  # A crash makes cargo fuzz exit non-zero (pipefail keeps it).
done
