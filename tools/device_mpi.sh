# Sourced on the GPU machine after .device/env.sh (bash): the kit's OpenMPI (Debian's
# packages, tools/device_debs.sh) relocated into the sysroot, where env.sh unpacked it:
# mpirun on PATH, and MPI=1 MPI_CFLAGS MPI_LIBS exported for make. The kit's is taken even
# where the machine has an mpirun of its own: env.sh puts the kit's libpmix (Debian's 4.2)
# on LD_LIBRARY_PATH, and the machine's OpenMPI (Ubuntu 24.04's, built on PMIx 5) then
# fails to start ("mca_pmix_ext3x.so: undefined symbol: PMIx_Info_create", seen on the
# H100 2026-12-07), so mpirun, libmpi and PMIx must all come from one place.
# Checked here by hiding the system's OpenMPI, PMIx and hwloc folders (unshare -m) and
# running 2 ranks from the sysroot alone.
if [ -x "${SSMKIT_SYSROOT:-/tmp/sysroot}/usr/bin/orterun" ]; then
  _sr=${SSMKIT_SYSROOT:-/tmp/sysroot}
  _lib=$_sr/usr/lib/x86_64-linux-gnu
  mkdir -p "$_sr/mpibin"
  ln -sf "$_sr/usr/bin/orterun" "$_sr/mpibin/mpirun"
  export PATH=$_sr/mpibin:$PATH
  export OPAL_PREFIX=$_sr/usr                                  # OpenMPI's own files
  export PMIX_MCA_mca_base_component_path=$_lib/pmix2/lib/pmix # PMIx's plugins
  export LD_LIBRARY_PATH=$_lib/openmpi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export MPI=1 MPI_CFLAGS="-I$_lib/openmpi/include" MPI_LIBS="-L$_lib/openmpi/lib -lmpi"
  unset _sr _lib
fi
command -v mpirun >/dev/null 2>&1 && echo "mpirun: $(command -v mpirun)" || echo "mpirun: none (the MPI tests skip)"
