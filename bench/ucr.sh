#!/bin/bash
# The UCR/UEA classification recipe over sets of the archive, one table.
#
#   bench/ucr.sh [--root DIR] [--config FILE] [--out FILE] [--set k=v]... [Name ...]
#
# Each Name is a folder of the archive's layout, <root>/<Name>/<Name>_TRAIN.{tsv,ts} and
# _TEST beside it (the UCR 2018 .tsv or the sktime/UEA .ts files). No names: every folder
# of the root that has a training file. Root: ${SSMKIT_DATA}/ucr (SSMKIT_DATA defaults to
# ../shared/data). The recipe (configs/series/ucr.yaml) runs unchanged on every set (only
# data.path and task.num_classes, read from the files, are set; --set adds overrides for
# experiments, and the table says so). Prints a Markdown table (and writes it to --out):
# set, train/test sizes, length, dims, classes, test accuracy, wall seconds of the whole
# `ssmkit train`, the archive's 1-NN DTW and ROCKET accuracies (bench/ucr_reference.csv,
# with their sources) and the differences; then the mean over sets with a reference, and
# the sets below 1-NN DTW. Runs go to runs/bench_ucr/<Name>/.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
root="${SSMKIT_DATA:-$here/../shared/data}/ucr"
config="$here/configs/series/ucr.yaml"
out=""
bin="${SSMKIT_BIN:-$here/build/ssmkit}"
ref="$here/bench/ucr_reference.csv"
sets=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --set) extra+=(--set "$2"); shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench/ucr.sh: unknown option $1" >&2; exit 2 ;;
    *) sets+=("$1"); shift ;;
  esac
done
[ -x "$bin" ] || { echo "bench/ucr.sh: $bin not built (make)" >&2; exit 2; }
[ -d "$root" ] || { echo "bench/ucr.sh: no folder $root (--root)" >&2; exit 2; }
if [ ${#sets[@]} -eq 0 ]; then
  for d in "$root"/*/; do
    n=$(basename "$d")
    ls "$d/${n}_TRAIN".ts* >/dev/null 2>&1 && sets+=("$n")
  done
fi
[ ${#sets[@]} -gt 0 ] || { echo "bench/ucr.sh: no set under $root" >&2; exit 2; }

# train file of a set: .tsv (UCR 2018) first, else .ts
train_file() {
  local f
  for f in "$root/$1/$1_TRAIN.tsv" "$root/$1/$1_TRAIN.ts"; do
    [ -r "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}

# classes: .ts @classLabel's list; .tsv the distinct labels of both files
classes() {
  case "$1" in
    *.ts) grep -i -m1 '^@classLabel' "$1" | awk '{print NF - 2}' ;;
    *.tsv) cut -f1 "$1" "${1/_TRAIN/_TEST}" | sort -u | wc -l ;;
  esac
}

calc() { # expression [printf format]: awk's arithmetic (no bc needed)
  awk "BEGIN { printf \"${2:-%.6f}\", $1 }"
}

ref_of() { # name column (2 dtw, 3 rocket)
  awk -F, -v n="$1" -v c="$2" '!/^#/ && $1 == n {print $c}' "$ref"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
table="$tmp/table.md"
{
  echo "| set | train | test | length | dims | classes | accuracy | seconds | 1-NN DTW | ROCKET | vs DTW | vs ROCKET |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$table"
sum_acc=0; sum_roc=0; n_roc=0; below=()
for n in "${sets[@]}"; do
  tf=$(train_file "$n") || { echo "bench/ucr.sh: $n: no ${n}_TRAIN.tsv or .ts in $root/$n" >&2; continue; }
  k=$(classes "$tf")
  t0=$(date +%s.%N)
  "$bin" train "$config" --set "data.path=$tf" --set "task.num_classes=$k" \
    --set run.dir=runs/bench_ucr --set "run.name=$n" --set run.progress=off "${extra[@]}" \
    > "$tmp/out" 2> "$tmp/err"
  rc=$?
  t1=$(date +%s.%N)
  secs=$(calc "$t1 - $t0")
  if [ $rc -ne 0 ]; then
    echo "bench/ucr.sh: $n failed:" >&2; tail -3 "$tmp/err" >&2
    echo "| $n | | | | | $k | failed | | | | | |" >> "$table"
    continue
  fi
  acc=$(tail -1 "$tmp/out" | grep -o '"test_accuracy":[0-9.e+-]*' | cut -d: -f2)
  # sizes from the data line: "<n> train, 0 val, <m> test series of <L> x <V>"
  line=$(grep -m1 ' train, .* test series of ' "$tmp/err")
  ntr=$(echo "$line" | sed 's/.*: \([0-9]*\) train.*/\1/')
  nte=$(echo "$line" | sed 's/.* \([0-9]*\) test series.*/\1/')
  len=$(echo "$line" | sed 's/.*series of \([0-9]*\) x.*/\1/')
  dims=$(echo "$line" | sed 's/.*series of [0-9]* x \([0-9]*\).*/\1/')
  dtw=$(ref_of "$n" 2); roc=$(ref_of "$n" 3)
  vd=""; vr=""
  [ -n "$dtw" ] && vd=$(calc "$acc - $dtw" '%+.3f')
  [ -n "$roc" ] && vr=$(calc "$acc - $roc" '%+.3f')
  if [ -n "$dtw" ] && [ "$(calc "$acc < $dtw" '%d')" = 1 ]; then below+=("$n"); fi
  if [ -n "$roc" ]; then
    sum_acc=$(calc "$sum_acc + $acc"); sum_roc=$(calc "$sum_roc + $roc")
    n_roc=$((n_roc + 1))
  fi
  printf '| %s | %s | %s | %s | %s | %s | %.3f | %.0f | %s | %s | %s | %s |\n' "$n" "$ntr" "$nte" \
    "$len" "$dims" "$k" "$acc" "$secs" "${dtw:-}" "${roc:-}" "$vd" "$vr" >> "$table"
  echo "bench/ucr.sh: $n accuracy $acc in ${secs%.*} s" >&2
done
{
  echo
  if [ $n_roc -gt 0 ]; then
    printf 'Mean over the %d sets with a ROCKET figure: %.3f (ROCKET %.3f, %+.3f).\n' "$n_roc" \
      "$(calc "$sum_acc / $n_roc")" "$(calc "$sum_roc / $n_roc")" \
      "$(calc "($sum_acc - $sum_roc) / $n_roc")"
  fi
  if [ ${#below[@]} -eq 0 ]; then echo "Below 1-NN DTW: none."
  else echo "Below 1-NN DTW: ${below[*]}."; fi
  [ ${#extra[@]} -gt 0 ] && echo "Overrides: ${extra[*]}."
  echo "Config: ${config#$here/}; $(nproc) CPU threads; $("$bin" version)."
} >> "$table"
cat "$table"
[ -n "$out" ] && cp "$table" "$out"
exit 0
