#!/bin/bash
# A virtual environment with a CPU build of PyTorch, safetensors and PyYAML, for
# tools/pytorch/ssmkit_torch.py and its test (tests/torch/test_torch_roundtrip.sh, which
# finds build/torch-venv by itself). Nothing outside the venv is touched, except with
# --debian (below).
#
#   tools/pytorch/install_cpu_torch.sh [--debian | --pypi] [VENV]
#       VENV: default $SSMKIT_TORCH_VENV, else build/torch-venv
#
# Where torch comes from, in this order unless an option picks one:
#   1. PyTorch's CPU wheel index (download.pytorch.org/whl/cpu): the CPU wheels, ~200 MB.
#   2. --debian, or when that index cannot be reached and apt-get exists: Debian's CPU build
#      (apt-get install python3-torch python3-yaml python3-venv, ~190 MB, as root or with
#      sudo; torch 1.13 on bookworm), seen from a venv of /usr/bin/python3 made with
#      --system-site-packages; safetensors from PyPI.
#   3. --pypi only: PyPI's torch, whose Linux x86_64 wheel bundles the CUDA libraries
#      (~4 GB); it runs on the CPU all the same. (PyPI has no CPU-only Linux wheel.)
# Then: SSMKIT_PYTHON=VENV/bin/python tests/torch/test_torch_roundtrip.sh
set -euo pipefail
MODE=auto
case "${1:-}" in --debian) MODE=debian; shift ;; --pypi) MODE=pypi; shift ;; -*)
  echo "usage: $0 [--debian | --pypi] [VENV]" >&2; exit 2 ;; esac
VENV=${1:-${SSMKIT_TORCH_VENV:-build/torch-venv}}
PY=${PYTHON:-python3}
CPU_INDEX=https://download.pytorch.org/whl/cpu

check() {
  "$VENV/bin/python" -c 'import sys, torch, safetensors, yaml
print("ok: torch", torch.__version__, "safetensors", safetensors.__version__, "in", sys.prefix)'
}

debian() {
  command -v apt-get >/dev/null || { echo "$0: no apt-get: use --pypi" >&2; exit 1; }
  SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
  echo "installing Debian's python3-torch (CPU build) with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch python3-yaml python3-venv
  rm -rf "$VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/python" -m pip install --quiet safetensors
  check
}

if [ "$MODE" = debian ]; then debian; exit 0; fi
command -v "$PY" >/dev/null || { echo "$0: $PY not found (install python3 and python3-venv)" >&2; exit 1; }
"$PY" -m venv "$VENV"
if [ "$MODE" = pypi ]; then
  echo "installing PyPI's torch (with its CUDA libraries, ~4 GB)"
  "$VENV/bin/python" -m pip install --quiet torch safetensors pyyaml numpy
  check
  exit 0
fi
if "$VENV/bin/python" -m pip install --quiet --retries 1 --timeout 20 --index-url "$CPU_INDEX" torch; then
  "$VENV/bin/python" -m pip install --quiet safetensors pyyaml numpy
  check
  exit 0
fi
echo "$0: PyTorch's CPU index ($CPU_INDEX) cannot be reached from here"
if command -v apt-get >/dev/null && apt-cache show python3-torch >/dev/null 2>&1; then
  debian
  exit 0
fi
echo "$0: no Debian python3-torch either; --pypi installs PyPI's torch (~4 GB with CUDA libraries)" >&2
exit 1
