#!/bin/bash
# Suite: the PyTorch round trip (tests/torch/test_torch_roundtrip.py says what it checks),
# run by `make test` through tests/run_suites.sh. Python: $SSMKIT_PYTHON, else the venv
# tools/pytorch/install_cpu_torch.sh makes in build/torch-venv, else python3. Without
# torch, safetensors and PyYAML there it prints why and passes (exit 0): torch is not a
# build dependency.
cd "$(dirname "$0")/../.." || exit 1
PY=${SSMKIT_PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x build/torch-venv/bin/python ]; then PY=build/torch-venv/bin/python; else PY=python3; fi
fi
if ! command -v "$PY" >/dev/null 2>&1 || ! "$PY" -c 'import torch, safetensors, yaml' 2>/dev/null; then
  echo "test_torch_roundtrip: SKIPPED: '$PY' cannot import torch, safetensors and yaml;"
  echo "  tools/pytorch/install_cpu_torch.sh installs them into build/torch-venv (or set SSMKIT_PYTHON)"
  exit 0
fi
exec "$PY" tests/torch/test_torch_roundtrip.py
