# Sourced first (bash, from the project root) by the GPU machine's scripts (device_short.sh,
# device_quick.sh, device_demos.sh): the .device kit unpacked into a fresh sysroot (env.sh
# unpacks a kit only once per sysroot, and kits made before tools/device_debs.sh lacked
# packages), the kit's OpenMPI (tools/device_mpi.sh), and HDF5's serial headers and library.
export SSMKIT_SYSROOT=${SSMKIT_SYSROOT:-/tmp/sysroot9}
source .device/env.sh
. tools/device_mpi.sh
export CPATH=$CPATH:$SSMKIT_SYSROOT/usr/include/hdf5/serial
export LIBRARY_PATH=$LIBRARY_PATH:$SSMKIT_SYSROOT/usr/lib/x86_64-linux-gnu/hdf5/serial
# device_build LOG TARGET...: the sm_90 CUDA build into build-cuda on every core, its log in
# LOG; prints its time and the GPU; on failure the first errors, and returns nonzero
device_build() {
  local log=$1 t=$(date +%s); shift
  make -j16 CUDA=1 B=build-cuda CUDA_ARCH='-gencode arch=compute_90,code=sm_90' "$@" > "$log" 2>&1 ||
    { echo BUILD FAILED; grep -E "error" "$log" | head -20; tail -5 "$log"; return 1; }
  echo "build $(( $(date +%s) - t )) s"; nvidia-smi --query-gpu=name --format=csv,noheader
}
