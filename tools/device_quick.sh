#!/bin/bash
# A short GPU call (the device tool's machine; docs/kernels.md), for when device time is
# scarce: builds for sm_90, runs the CUDA suites that have never run on a GPU first (the list
# below: drop a name once it has passed there), then bench/train's table (the step eager and
# as a CUDA graph), scan_cuda's table, then (unless SLIM=1)
# every other CUDA suite and the points / packed benches. tests/device_check.sh is the
# complete check (demos, mpirun, long bags). Logs under $OUT.
# Usage: ../shared/device/prepare.sh && tools/device_debs.sh here, then on the device:
#        [SLIM=1] [EXTRA_FIRST="test_cuda_x ..."] tools/device_quick.sh   (carry .device)
set -u
source tools/device_env.sh
O=$OUT
FIRST="test_cuda_graph test_cuda_scan_tail test_cuda_conv_bf16 test_cuda_nccl test_cuda_dropout test_cuda_order_prompts ${EXTRA_FIRST:-}"
ALL=$(ls tests/test_cuda*.c | sed 's#tests/\(.*\)\.c#\1#')
T=$(for t in $ALL; do echo build-cuda/tests/$t; done)
if [ -n "${SUITES_ONLY:-}" ]; then # the FIRST suites alone (the least device time)
  BUILD="$(for t in $FIRST; do echo build-cuda/tests/$t; done)"
elif [ -n "${SLIM:-}" ]; then
  BUILD="$(for t in $FIRST; do echo build-cuda/tests/$t; done) build-cuda/bench/scan_cuda build-cuda/bench/train build-cuda/bench/conv_norm_cuda"
else
  BUILD="$T build-cuda/bench/scan_cuda build-cuda/bench/train build-cuda/bench/points build-cuda/bench/packed_cuda build-cuda/bench/conv_norm_cuda"
fi
t0=$(date +%s)
# VIM=1: the Vim-Tiny step against PyTorch + mamba_ssm at the end (carry third_party/mamba_src);
# its two extensions build in the background meanwhile
[ -n "${VIM:-}" ] && { bench/compare_vim_step.sh ext > $O/vim_ext.log 2>&1 & VIMPID=$!; }
device_build $O/build.log build-cuda/ssmkit $BUILD
F=""; for t in $FIRST; do [ -x build-cuda/tests/$t ] && F="$F build-cuda/tests/$t"; done
SUITE_TIMEOUT=120 SSMKIT_BIN=build-cuda/ssmkit timeout 300 tests/run_suites.sh $F > $O/first.log 2>&1
grep -E "^(==|[0-9]+%)|:F:|:E:|suites:" $O/first.log | head -40
echo "first suites done $(( $(date +%s) - t0 )) s"
[ -n "${SUITES_ONLY:-}" ] && exit 0
# the training step eager and as a CUDA graph (train.cuda_graph), side by side
timeout 120 build-cuda/bench/train 10 > $O/train_bench.txt 2>&1; tail -8 $O/train_bench.txt
timeout 60 build-cuda/bench/scan_cuda > $O/scan.txt 2>&1; tail -25 $O/scan.txt
# the forward before v7's dispatch (SSMKIT_SCAN_PIPE=0: v4b / v3), for the comparison
SSMKIT_SCAN_PIPE=0 timeout 60 build-cuda/bench/scan_cuda > $O/scan_pipe0.txt 2>&1; tail -25 $O/scan_pipe0.txt
timeout 60 build-cuda/bench/conv_norm_cuda 10 > $O/conv_norm.txt 2>&1; tail -12 $O/conv_norm.txt
vim_step() { [ -n "${VIM:-}" ] || return 0; wait $VIMPID; tail -1 $O/vim_ext.log
  timeout 150 bench/compare_vim_step.sh run 10 > $O/vim.txt 2>&1; tail -16 $O/vim.txt; }
[ -n "${SLIM:-}" ] && { vim_step; exit 0; }
R=""; for t in $ALL; do case " $FIRST " in *" $t "*) ;; *) [ -x build-cuda/tests/$t ] && R="$R build-cuda/tests/$t";; esac; done
SUITE_TIMEOUT=90 SSMKIT_BIN=build-cuda/ssmkit timeout 200 tests/run_suites.sh $R > $O/rest.log 2>&1
grep -E "^(==|[0-9]+%)|:F:|:E:|suites:" $O/rest.log | head -40
echo "rest done $(( $(date +%s) - t0 )) s"
vim_step
[ -n "${NO_OLD_BENCH:-}" ] && exit 0
timeout 45 build-cuda/bench/points -iters 5 > $O/points.txt 2>&1; tail -15 $O/points.txt
timeout 45 build-cuda/bench/packed_cuda -iters 5 > $O/packed.txt 2>&1; tail -15 $O/packed.txt
