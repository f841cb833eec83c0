#!/bin/bash
# Runs each Check suite binary given, prints its output, and a closing
# "N passed, N failed" line over all suites. Exits nonzero if any failed.
# With VARIANT_SUITES set (a list of suite binaries) and SSMKIT_BIN naming the
# ssmkit binary, those suites run once more under every other CPU kernel
# variant this machine supports (SSMKIT_CPU=...), so that each variant passes
# the same tests, not only the fastest one.
# Check kills a test after 4 s by default; on a loaded 2-core machine the
# gradient suites can take longer, and a timeout is not a failure of the math.
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-300}
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4} # also stretches tcase_set_timeout values
passed=0; failed=0; failed_names=()
# SUITE_TIMEOUT=S: a suite still running after S seconds is killed and counts as failed (the
# GPU machine's scripts: one hung suite must not take the others' results with it).
run() { # label, binary
  echo "== $1"
  if ${SUITE_TIMEOUT:+timeout $SUITE_TIMEOUT} "$2"; then passed=$((passed+1)); else failed=$((failed+1)); failed_names+=("$1"); fi
}
for t in "$@"; do run "$t" "$t"; done
if [ -n "${VARIANT_SUITES:-}" ] && [ -x "${SSMKIT_BIN:-}" ]; then
  # "kernels:  avx512 (...; supported here: generic avx2 avx512)"
  line=$(env -u SSMKIT_CPU "$SSMKIT_BIN" info | grep '^kernels:')
  active=$(echo "$line" | awk '{print $2}')
  supported=$(echo "$line" | sed 's/.*supported here://; s/)//')
  for v in $supported; do
    [ "$v" = "$active" ] && continue
    for t in $VARIANT_SUITES; do SSMKIT_CPU=$v run "[SSMKIT_CPU=$v] $t" "$t"; done
  done
fi
echo
for f in "${failed_names[@]}"; do echo "FAILED: $f"; done
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
