#!/bin/bash
# Runs each Check suite binary given, prints its output, and a closing
# "N passed, N failed" line over all suites. Exits nonzero if any failed.
# Check kills a test after 4 s by default; on a loaded 2-core machine the
# gradient suites can take longer, and a timeout is not a failure of the math.
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-300}
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4} # also stretches tcase_set_timeout values
passed=0; failed=0; failed_names=()
for t in "$@"; do
  echo "== $t"
  if "$t"; then passed=$((passed+1)); else failed=$((failed+1)); failed_names+=("$t"); fi
done
echo
for f in "${failed_names[@]}"; do echo "FAILED: $f"; done
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
