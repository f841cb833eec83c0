#!/bin/bash
# GPU runs of the demos that need data the GPU machine lacks (the device tool's machine;
# docs/kernels.md): ETTh1 forecasting (issue 14: the same config as on the CPU, with
# run.device cuda, eager and as a CUDA graph) and the generated keyword set (issue 12:
# generated there with Debian's TTS tools, then trained on the GPU). ETTH_ONLY=1: no keywords;
# KW_ONLY=1: no ETTh1. Carry .device, .device-audio (tools/device_audio_kit.sh) and .data
# (ETT-small/ETTh1.csv copied from $SSMKIT_DATA: git-ignored, delete it after the call).
# Logs and metrics under $OUT.
set -u
source tools/device_env.sh
O=$OUT
device_build $O/build_demos.log build-cuda/ssmkit || exit 1
export SSMKIT_DATA=$PWD/.data
# the keyword set first, on every core (~20 s there), so that it does not share the CPUs with
# the timed ETTh1 runs
# (a set already there, made by tools/device_short.sh meanwhile, is kept)
[ -d .device-audio ] && [ -z "${ETTH_ONLY:-}" ] && [ ! -d /tmp/kw/yes ] && ( source .device-audio/env.sh; s=$(date +%s)
  tools/make_keyword_set.sh /tmp/kw 1 > $O/kwgen.log 2>&1; echo "rc $? in $(( $(date +%s) - s )) s" >> $O/kwgen.log
  tail -2 $O/kwgen.log )
keep() { mkdir -p $O/$1; cp runs/$1/*.csv runs/$1/*.json runs/$1/*.txt runs/$1/*.log $O/$1/ 2>/dev/null; }
GRAPHS="false true"; [ -n "${KW_ONLY:-}" ] && GRAPHS=""
for g in $GRAPHS; do
  s=$(date +%s)
  timeout ${ETTH_TIMEOUT:-200} build-cuda/ssmkit train configs/series/etth1_smamba.yaml --set run.device=cuda \
    --set train.cuda_graph=$g --set run.name=etth1_gpu_graph_$g > $O/etth1_graph_$g.log 2>&1
  echo "ETTh1-96 GPU cuda_graph=$g: rc $? wall $(( $(date +%s) - s )) s"
  grep -i -E "test.*(mse|mae)|best" $O/etth1_graph_$g.log | tail -3; keep etth1_gpu_graph_$g
done
[ -d /tmp/kw/yes ] || exit 0
s=$(date +%s)
timeout 300 build-cuda/ssmkit train configs/audio/keywords.yaml --set data.path=/tmp/kw \
  --set run.device=cuda --set data.num_workers=12 --set run.name=keywords_gpu > $O/kw_gpu.log 2>&1
echo "keywords GPU: rc $? wall $(( $(date +%s) - s )) s"; grep -i -E "test" $O/kw_gpu.log | tail -4; keep keywords_gpu
