#!/bin/bash
# ssmkit's CUDA selective scan against mamba_ssm's, measured side by side in one run on the
# GPU machine (docs/benchmarks.md, "CUDA selective scan against mamba_ssm"): builds ssmkit's
# bench (sm_90) and mamba_ssm's selective_scan extension from its upstream sources
# (third_party/mamba_src, made by tools/fetch_mamba_src.sh where there is network, carried
# with the working tree), then bench/compare_mamba_ssm.py runs both benches and prints the
# table with ratio = mamba_ssm ms / ssmkit ms.
#
#   source .device/env.sh && bench/compare_mamba_ssm.sh [all|build|run] [reps]
#     build: the two builds only (they are the long part: the extension's backward
#            kernels), run: the timings only, with the builds already there (a warm machine
#            keeps build-cuda/), all (default): both.
# Python runs without the kit's sysroot on its compiler and loader paths (torch and its
# extension build use the machine's own); ssmkit's bench keeps them.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-all}
REPS=${2:-30}
case "$MODE" in all|build|run) ;; *) echo "usage: $0 [all|build|run] [reps]" >&2; exit 2 ;; esac
SRC=third_party/mamba_src
[ -d "$SRC/mamba_ssm/selective_scan" ] || {
  echo "$0: $SRC missing: run tools/fetch_mamba_src.sh where there is network, and carry it" >&2
  exit 1
}
. bench/torch_env.sh
py() { torch_py bench/compare_mamba_ssm.py --reps "$REPS" "$@"; }
if [ "$MODE" != run ]; then
  t0=$(date +%s)
  mkdir -p build-cuda
  make -j"$(nproc)" CUDA=1 B=build-cuda CUDA_ARCH='-gencode arch=compute_90,code=sm_90' \
    build-cuda/bench/scan_cuda > build-cuda/bench_build.log 2>&1 ||
    { tail -30 build-cuda/bench_build.log; exit 1; }
  echo "ssmkit bench built in $(( $(date +%s) - t0 )) s"
  py --build-only
fi
if [ "$MODE" != build ]; then
  py
fi
