#!/bin/bash
# Vim-Tiny's whole training step, ssmkit against PyTorch + mamba_ssm's fast path, measured in one
# run on the GPU machine (docs/benchmarks.md, "Vim-Tiny training step against PyTorch +
# mamba_ssm"): builds ssmkit's bench/train (sm_90) and, at the same time, mamba_ssm's
# selective_scan and causal-conv1d's extensions from their upstream sources (third_party/mamba_src,
# made by tools/fetch_mamba_src.sh where there is network, carried with the working tree; the
# builds are bench/compare_mamba_ssm.py's); then checks the PyTorch model's fast path against its
# plain-PyTorch reference on one small batch, and bench/vim_step_torch.py --compare runs both
# steps, fp32 and bf16 autocast, and prints one table: samples/s, peak memory, ratio = ssmkit /
# torch samples/s.
#
#   source .device/env.sh && bench/compare_vim_step.sh [all|build|run] [steps]
#     build: the builds only (ssmkit's CUDA library and the two extensions' backward kernels
#            are the long part), run: the check and the timings, with the builds already
#            there (a warm machine keeps build-cuda/), all (default): both.
# Python runs without the kit's sysroot on its compiler and loader paths (torch, its extension
# builds and torch.compile use the machine's own); ssmkit's bench keeps them.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-all}
STEPS=${2:-20}
case "$MODE" in all|build|run|ext) ;; *) echo "usage: $0 [all|build|run|ext] [steps]" >&2; exit 2 ;; esac
SRC=third_party/mamba_src
[ -d "$SRC/mamba_ssm/selective_scan" ] && [ -d "$SRC/causal_conv1d/csrc" ] || {
  echo "$0: $SRC missing: run tools/fetch_mamba_src.sh where there is network, and carry it" >&2
  exit 1
}
. bench/torch_env.sh
py() { torch_py bench/vim_step_torch.py --src "$SRC" --build build-cuda "$@"; }
if [ "$MODE" = ext ]; then # the two extensions only (tools/device_quick.sh VIM=1 builds ssmkit)
  t0=$(date +%s)
  py --build-only
  echo "extensions built in $(( $(date +%s) - t0 )) s"
  exit 0
fi
if [ "$MODE" != run ]; then
  t0=$(date +%s)
  mkdir -p build-cuda
  make -j"$(nproc)" CUDA=1 B=build-cuda CUDA_ARCH='-gencode arch=compute_90,code=sm_90' \
    build-cuda/bench/train > build-cuda/train_build.log 2>&1 &
  mk=$!
  py --build-only
  wait "$mk" || { tail -30 build-cuda/train_build.log; exit 1; }
  echo "all built in $(( $(date +%s) - t0 )) s"
fi
if [ "$MODE" != build ]; then
  py --check --batch 2 ||
    echo "CHECK FAILED: the PyTorch fast path differs from its reference; the timings below are suspect"
  py --compare build-cuda/bench/train --steps "$STEPS"
fi
