#!/bin/bash
# Runs each libFuzzer target given for SECONDS (`make fuzz FUZZ_SECONDS=...`, fuzz.mk).
# Target build-fuzz/fuzz_X starts from the committed seeds tests/fuzz/seeds/X/ and grows
# its own corpus in build-fuzz/corpus/X/ (kept between runs, never committed). A crash,
# a sanitizer report, a leak, an input slower than 10 s or over 2 GiB fails the target:
# libFuzzer writes the input to build-fuzz/crashes/X/ and this script names the file and
# the command that replays it. Exits nonzero if any target failed.
# usage: [FUZZ_RUNS=N] run_fuzz.sh SECONDS TARGET...
set -u
secs=$1; shift
# FUZZ_RUNS=N (CI): N inputs from a fixed seed instead of SECONDS, so a run is repeatable:
# what passes here passes in CI, and a finding there replays here
if [ -n "${FUZZ_RUNS:-}" ]; then
  budget="-runs=$FUZZ_RUNS -seed=1"; what="$FUZZ_RUNS runs, seed 1"
else
  budget="-max_total_time=$secs"; what="${secs}s"
fi
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0
failed=()
for bin in "$@"; do
  name=$(basename "$bin"); t=${name#fuzz_}
  corpus=build-fuzz/corpus/$t; crashes=build-fuzz/crashes/$t
  # repeatable runs start from the seeds alone, not from a corpus earlier runs grew
  [ -n "${FUZZ_RUNS:-}" ] && { corpus=build-fuzz/corpus-fixed/$t; rm -rf "$corpus"; }
  mkdir -p "$corpus" "$crashes"
  seeds=tests/fuzz/seeds/$t
  [ -d "$seeds" ] || { echo "fuzz: $seeds missing"; failed+=("$t"); continue; }
  echo "== fuzz $t ($what)"
  start=$(date +%s)
  # one allocation over 1 GiB fails a target: a reader must not size memory by what a
  # header claims
  "$bin" $budget -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=0 -artifact_prefix="$crashes/" "$corpus" "$seeds" >"build-fuzz/$t.log" 2>&1
  rc=$?
  grep -E '^(Done|#[0-9]+ +DONE)' "build-fuzz/$t.log" | tail -1
  if [ $rc -ne 0 ]; then
    tail -40 "build-fuzz/$t.log"
    found=$(ls -t "$crashes"/* 2>/dev/null | head -1)
    echo "FUZZ FAILED: $t after $(( $(date +%s) - start ))s; reproducer: ${found:-none}"
    [ -n "$found" ] && echo "  replay: $bin $found"
    failed+=("$t")
  fi
done
echo "fuzz: $(( $# - ${#failed[@]} )) targets clean, ${#failed[@]} failed${failed:+: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
