#!/usr/bin/env bash
# run.sh - build the libFuzzer targets with clang and run each for a bounded
# time on a scratch copy of its seeds, after replaying every kept crasher
# (tests/fuzz/regressions/<target>/) as a regression test.
# Usage: tests/fuzz/run.sh [SECONDS_EACH]   (default 30; CI uses 30)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
CC=clang cmake -S . -B build-fuzz -DFUZZ=ON -DWITH_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_addr fuzz_send fuzz_json fuzz_http >/dev/null
for t in addr send json http; do
  bin=build-fuzz/tests/fuzz/fuzz_$t
  if [ -d "tests/fuzz/regressions/$t" ] && [ -n "$(ls -A "tests/fuzz/regressions/$t")" ]; then
    "$bin" tests/fuzz/regressions/$t/* >/dev/null 2>&1 || { echo "fuzz_$t: a kept crasher fails again"; exit 1; }
  fi
  corpus=$(mktemp -d)
  cp tests/fuzz/seeds/$t/* "$corpus"/
  echo "fuzz_$t: ${secs}s"
  set +e
  "$bin" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 -artifact_prefix="build-fuzz/crash-$t-" \
    "$corpus" >build-fuzz/fuzz_$t.log 2>&1
  status=$?
  set -e
  grep -E '^stat::(number_of_executed_units|new_units_added)|SUMMARY|ERROR|^Done' build-fuzz/fuzz_$t.log || true
  rm -rf "$corpus"
  if [ "$status" -ne 0 ]; then
    echo "fuzz_$t: FAILED (status $status); crash input kept in build-fuzz/crash-$t-*"
    exit 1
  fi
done
