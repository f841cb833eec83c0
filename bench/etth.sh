#!/bin/bash
# The S-Mamba layout on ETTh1 and ETTh2 at the four horizons, one table.
#
#   bench/etth.sh [--sets "1 2"] [--horizons "96 192 336 720"] [--jobs N] [--out FILE]
#                 [--dir DIR] [--reference] [--table-only] [--set k=v]...
#
# Runs `ssmkit train configs/series/etth{1,2}_smamba.yaml --set data.horizon=H` for every
# set and horizon, --jobs at a time (default 1; with more, the wall and training times of
# one run include the others'). --reference runs S-Mamba's own recipe instead: the MSE loss
# and the learning rate its scripts give each set and horizon
# (scripts/multivariate_forecasting/ETT/S_Mamba_ETTh{1,2}.sh: ETTh1 7e-5 7e-5 5e-5 5e-5,
# ETTh2 4e-5 4e-5 3e-5 7e-5 for 96/192/336/720). --set adds overrides to every run (the
# table says so). Data: ${SSMKIT_DATA}/ETT-small (SSMKIT_DATA defaults to ../shared/data).
# Prints a Markdown table (and writes it to --out): test MSE and MAE on the standardised
# scale (the best-validation checkpoint), epochs run (the best one), training seconds and
# wall seconds of the whole command, beside S-Mamba's, iTransformer's and PatchTST's test
# MSE at lookback 96 as S-Mamba's paper reports them (its ETT table; iTransformer's and
# PatchTST's numbers there are iTransformer's). Runs go to runs/bench_etth/etth<S>_<H>/;
# --table-only prints the table of the runs already there.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
export SSMKIT_DATA="${SSMKIT_DATA:-$here/../shared/data}"
bin="${SSMKIT_BIN:-$here/build/ssmkit}"
sets="1 2"
horizons="96 192 336 720"
jobs=1
out=""
dir="$here/runs/bench_etth"
extra=()
reference=0
table_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sets) sets="$2"; shift 2 ;;
    --horizons) horizons="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --set) extra+=(--set "$2"); shift 2 ;;
    --reference) reference=1; shift ;;
    --table-only) table_only=1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/etth.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "bench/etth.sh: $bin not built (make)" >&2; exit 2; }
for s in $sets; do
  f="$SSMKIT_DATA/ETT-small/ETTh$s.csv"
  [ -r "$f" ] || { echo "bench/etth.sh: $f not found (set SSMKIT_DATA)" >&2; exit 2; }
done
mkdir -p "$dir"

# S-Mamba's learning rate for set $1 at horizon $2
lr_of() {
  case "$1:$2" in
    1:96|1:192) echo 7e-5 ;; 1:336|1:720) echo 5e-5 ;;
    2:96|2:192) echo 4e-5 ;; 2:336) echo 3e-5 ;; 2:720) echo 7e-5 ;;
    *) echo 5e-5 ;;
  esac
}
# published test MSEs at lookback 96: S-Mamba, iTransformer, PatchTST
ref_of() {
  case "$1:$2" in
    1:96) echo "0.386 0.386 0.414" ;; 1:192) echo "0.443 0.441 0.460" ;;
    1:336) echo "0.489 0.487 0.501" ;; 1:720) echo "0.502 0.503 0.500" ;;
    2:96) echo "0.296 0.297 0.302" ;; 2:192) echo "0.376 0.380 0.388" ;;
    2:336) echo "0.424 0.428 0.426" ;; 2:720) echo "0.426 0.427 0.431" ;;
    *) echo "- - -" ;;
  esac
}

one_run() { # set horizon
  local s=$1 h=$2 name="etth$1_$2"
  local t0=$(date +%s.%N)
  local ref=()
  [ "$reference" = 1 ] && ref=(--set task.loss=mse --set optim.lr="$(lr_of "$s" "$h")")
  "$bin" train "$here/configs/series/etth${s}_smamba.yaml" --set data.horizon="$h" \
    ${ref[@]+"${ref[@]}"} --set run.dir="$dir" --set run.name="$name" \
    --set run.progress=off ${extra[@]+"${extra[@]}"} > "$dir/$name.json" 2> "$dir/$name.log"
  local rc=$?
  echo "$rc $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" > "$dir/$name.wall"
}

running=0
for s in $sets; do
  for h in $horizons; do
    [ "$table_only" = 1 ] && continue
    one_run "$s" "$h" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  done
done
wait

field() { grep -o "\"$2\":[^,}]*" "$1" | tail -1 | cut -d: -f2; }
table=$(
  echo "| data | horizon | ssmkit MSE | ssmkit MAE | S-Mamba MSE | iTransformer MSE | PatchTST MSE | epochs (best) | train s | wall s |"
  echo "|------|--------:|-----------:|-----------:|------------:|-----------------:|-------------:|--------------:|--------:|-------:|"
  for s in $sets; do
    for h in $horizons; do
      name="etth${s}_$h"
      rc=missing wall=0
      [ -r "$dir/$name.wall" ] && read -r rc wall < "$dir/$name.wall"
      read -r sm it pt <<< "$(ref_of "$s" "$h")"
      if [ "$rc" != 0 ] || ! grep -q '"test_mse"' "$dir/$name.json"; then
        echo "| ETTh$s | $h | failed (exit $rc, $dir/$name.log) | | $sm | $it | $pt | | | |"
        continue
      fi
      mse=$(field "$dir/$name.json" test_mse)
      mae=$(field "$dir/$name.json" test_mae)
      ep=$(field "$dir/$name.json" epochs)
      ts=$(field "$dir/$name.json" train_seconds)
      # the epoch of the best validation score (the loss: the checkpoint tested), from the run's log
      bestep=$(grep '"split":"val"' "$dir/$name/metrics.jsonl" 2>/dev/null | awk -F'[:,]' '
        { for (i = 1; i < NF; i++) { if ($i == "\"epoch\"") e = $(i + 1); if ($i == "\"loss\"") m = $(i + 1) }
          if (best == "" || m + 0 < best + 0) { best = m; be = e } } END { print be }')
      printf "| ETTh%s | %d | %.4f | %.4f | %s | %s | %s | %s (%s) | %.0f | %.0f |\n" "$s" "$h" \
        "$mse" "$mae" "$sm" "$it" "$pt" "$ep" "${bestep:-?}" "$ts" "$wall"
    done
  done
)
echo "$table"
[ "$reference" = 1 ] && echo "(S-Mamba's recipe: MSE loss, its learning rates)"
[ ${#extra[@]} -gt 0 ] && echo "(overrides: ${extra[*]})"
[ -n "$out" ] && echo "$table" > "$out"
exit 0
