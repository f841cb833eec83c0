#!/bin/bash
# Recreates third_party/mamba_src/ (git-ignored): the CUDA sources of mamba_ssm's selective
# scan (csrc/selective_scan) and of causal-conv1d (csrc/), from their source distributions on
# PyPI, for bench/compare_mamba_ssm.sh, which builds them on the GPU machine (no network
# there: the folder travels with the working tree, ~1 MB). Nothing is vendored into git.
#
#   tools/fetch_mamba_src.sh [DEST]        DEST: default third_party/mamba_src
#
# pip cannot download those sdists without running their setup.py, which imports torch
# (MAMBA_SKIP_CUDA_BUILD / CAUSAL_CONV1D_SKIP_CUDA_BUILD keep it from compiling anything):
# the download runs in a Python with torch, $SSMKIT_TORCH_VENV or build/torch-venv, made by
# tools/pytorch/install_cpu_torch.sh (a CPU build, ~200 MB) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-third_party/mamba_src}
MAMBA_VERSION=${MAMBA_VERSION:-2.3.2.post1}
CONV_VERSION=${CAUSAL_CONV1D_VERSION:-1.7.0}
VENV=${SSMKIT_TORCH_VENV:-build/torch-venv}
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  echo "no torch in $VENV: making it (tools/pytorch/install_cpu_torch.sh)"
  tools/pytorch/install_cpu_torch.sh "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet packaging wheel setuptools ninja
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
MAMBA_SKIP_CUDA_BUILD=TRUE CAUSAL_CONV1D_SKIP_CUDA_BUILD=TRUE \
  "$VENV/bin/python" -m pip download --quiet --no-deps --no-binary :all: --no-build-isolation \
  -d "$TMP" "mamba-ssm==$MAMBA_VERSION" "causal-conv1d==$CONV_VERSION"
mkdir -p "$TMP/x"
tar -xzf "$TMP"/mamba_ssm-*.tar.gz -C "$TMP/x"
tar -xzf "$TMP"/causal_conv1d-*.tar.gz -C "$TMP/x"
M=$(echo "$TMP"/x/mamba_ssm-*) C=$(echo "$TMP"/x/causal_conv1d-*)
rm -rf "$DEST"
mkdir -p "$DEST/mamba_ssm" "$DEST/causal_conv1d"
cp -r "$M/csrc/selective_scan" "$DEST/mamba_ssm/"
cp "$M/LICENSE" "$DEST/mamba_ssm/" 2>/dev/null || true
cp -r "$C/csrc" "$DEST/causal_conv1d/"
cp "$C/LICENSE" "$DEST/causal_conv1d/" 2>/dev/null || true
printf 'mamba-ssm %s\ncausal-conv1d %s\nfrom PyPI source distributions by tools/fetch_mamba_src.sh\n' \
  "$MAMBA_VERSION" "$CONV_VERSION" > "$DEST/VERSIONS"
du -sh "$DEST"
