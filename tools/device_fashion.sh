#!/bin/bash
# Fashion-MNIST on the GPU machine (issue 15's >= 95% in 10 minutes on one GPU): trains
# configs/image/fashion_mnist_gpu.yaml (or $CONFIG) with the extra `--set` options in $SETS,
# timed, and keeps the log and metrics in $OUT. The machine has no dataset package:
# carry .device and .data/fashion-mnist (the four IDX .gz files copied from
# /usr/share/datasets/fashion-mnist, 30 MB; git-ignored, delete it after the call).
set -u
source tools/device_env.sh
O=$OUT
device_build $O/build_fashion.log build-cuda/ssmkit || exit 1
CONFIG=${CONFIG:-configs/image/fashion_mnist_gpu.yaml}
if [ -n "${PROBE:-}" ]; then
  # PROBE=1: time 3 epochs of the same run and print the number of epochs whose whole run
  # (data load, evaluations, test) fits in ${BUDGET_S:-560} s on this machine
  s=$(date +%s)
  # shellcheck disable=SC2086
  build-cuda/ssmkit train $CONFIG --set data.path=.data/fashion-mnist --set run.name=fashion_probe \
    ${SETS:-} --set train.epochs=3 > $O/fashion_probe.log 2>&1
  rc=$?; w=$(( $(date +%s) - s )); echo "probe: 3 epochs rc $rc in $w s; fits $(( ${BUDGET_S:-560} * 3 / w )) epochs"
  grep -E "samples/s" $O/fashion_probe.log | tail -2; grep -E "test" $O/fashion_probe.log | tail -2
  exit 0
fi
s=$(date +%s)
# shellcheck disable=SC2086  # $SETS is a list of --set options
timeout ${FASHION_TIMEOUT:-560} build-cuda/ssmkit train $CONFIG --set data.path=.data/fashion-mnist \
  --set run.name=fashion_gpu ${SETS:-} > $O/fashion.log 2>&1
echo "fashion-mnist GPU ($CONFIG ${SETS:-}): rc $? wall $(( $(date +%s) - s )) s"
grep -E "^epoch [0-9]+: val|test" $O/fashion.log | tail -8
mkdir -p $O/fashion_gpu; cp runs/fashion_gpu/*.csv runs/fashion_gpu/*.json runs/fashion_gpu/*.txt runs/fashion_gpu/*.jsonl $O/fashion_gpu/ 2>/dev/null
true
