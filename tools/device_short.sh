#!/bin/bash
# The shortest useful GPU call, for when little device time is left (docs/kernels.md): one
# build, then in order of worth: the CUDA suites of code that has never run on a GPU and of the
# default paths it changed, ETTh1 on the GPU (tools/device_demos.sh ETTH_ONLY=1), bench/train's
# table (eager and CUDA graph; the AuM-Small shape), the scan table. Every step's log lands in
# $OUT when it ends, so a call cut off by its time limit still returns what ran.
# Carry .device and .data/ETT-small (ETTh1.csv); with .device-audio too, the keyword demo runs
# after bench/train.
set -u
source tools/device_env.sh
O=$OUT
# (test_cuda_nccl last: its mpirun case is the one most likely to hang on a new machine)
S="test_cuda_graph test_cuda_scan_tail test_cuda_conv_bf16 test_cuda_dropout test_cuda_order_prompts
   test_cuda test_cuda_bf16 test_cuda_model ${EXTRA:-} test_cuda_nccl"
T=$(for t in $S; do echo build-cuda/tests/$t; done)
t0=$(date +%s)
device_build $O/build.log build-cuda/ssmkit $T build-cuda/bench/train build-cuda/bench/scan_cuda
# with .device-audio carried too: the keyword set is generated meanwhile (tools/device_demos.sh)
KWPID=
[ -d .device-audio ] && { ( source .device-audio/env.sh
  tools/make_keyword_set.sh /tmp/kw 1 > $O/kwgen.log 2>&1 ) & KWPID=$!; }
SUITE_TIMEOUT=100 SSMKIT_BIN=build-cuda/ssmkit timeout 260 tests/run_suites.sh $T > $O/suites.log 2>&1
grep -E "^(==|[0-9]+%)|:F:|:E:|suites:" $O/suites.log | head -40
echo "suites done $(( $(date +%s) - t0 )) s"
ETTH_ONLY=1 ETTH_TIMEOUT=60 tools/device_demos.sh
timeout 80 build-cuda/bench/train 10 > $O/train_bench.txt 2>&1; tail -14 $O/train_bench.txt
[ -n "$KWPID" ] && { wait $KWPID; echo "keyword set: $(tail -1 $O/kwgen.log)"; KW_ONLY=1 tools/device_demos.sh; }
timeout 60 build-cuda/bench/scan_cuda > $O/scan.txt 2>&1; tail -16 $O/scan.txt
SSMKIT_SCAN_BWD_STAGE=1 timeout 40 build-cuda/tests/test_cuda > $O/stage_test.log 2>&1; echo "fp32 staged backward: test_cuda rc $?"
SSMKIT_SCAN_BWD_STAGE=1 timeout 60 build-cuda/bench/scan_cuda > $O/scan_stage.txt 2>&1; grep fp32 $O/scan_stage.txt
echo "all done $(( $(date +%s) - t0 )) s"
