#!/bin/bash
# Runs each Check suite binary given, prints its output, and a closing
# "N passed, N failed" line over all suites. Exits nonzero if any failed.
passed=0; failed=0; failed_names=()
for t in "$@"; do
  echo "== $t"
  if "$t"; then passed=$((passed+1)); else failed=$((failed+1)); failed_names+=("$t"); fi
done
echo
for f in "${failed_names[@]}"; do echo "FAILED: $f"; done
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
