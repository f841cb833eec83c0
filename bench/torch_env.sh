# Sourced by bench/compare_mamba_ssm.sh and bench/compare_vim_step.sh on the GPU machine:
# torch_py runs python3 without the device kit's sysroot on its compiler and loader paths
# (torch and its extension builds use the machine's own libraries), handing the kit's
# loader path on in SSMKIT_BENCH_LD_LIBRARY_PATH for the ssmkit binaries it starts.
SYSROOT=${SSMKIT_SYSROOT:-/tmp/sysroot}
strip_sysroot() { # a PATH-like list without the sysroot's entries
  echo "${1:-}" | tr ':' '\n' | grep -v "^$SYSROOT" | paste -sd: -
}
torch_py() {
  env CPATH="$(strip_sysroot "${CPATH:-}")" LIBRARY_PATH="$(strip_sysroot "${LIBRARY_PATH:-}")" \
    LD_LIBRARY_PATH="$(strip_sysroot "${LD_LIBRARY_PATH:-}")" \
    SSMKIT_BENCH_LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1 python3 "$@"
}
