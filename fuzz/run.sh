#!/usr/bin/env bash
# Runs every fuzz target for a set time each (default 60 s): `fuzz/run.sh [seconds] [target...]`.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); works on the stable toolchain through
# RUSTC_BOOTSTRAP=1. Crashes land in fuzz/artifacts/<target>/; turn each into a regression test.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  # Work on a copy so a run does not grow the committed seed corpus.
  work="$(mktemp -d)"
  cp -r "corpus/$t/." "$work/"
  echo "== fuzz $t for ${secs}s"
  log="$work.log"
  status=0
  cargo fuzz run "$t" "$work" -- -max_total_time="$secs" -rss_limit_mb=4096 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE|SUMMARY|thread .* panicked)" "$log" || true
  if [ "$status" -ne 0 ]; then tail -n 60 "$log" >&2; fi
  rm -f "$log"
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    echo "fuzz target $t failed (status $status); see fuzz/artifacts/$t" >&2
    exit "$status"
  fi
done
