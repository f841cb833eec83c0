#!/bin/sh
# Adds to .device/debs (the GPU machine's package kit, ../shared/device/prepare.sh) the
# Debian packages ssmkit gained after the kit was made: libsoxr and FFTW (audio), HDF5
# (CLAM features, point-cloud sets), cJSON (AST/AuM JSON manifests), OpenMPI (mpirun, data parallel). Run here, after prepare.sh, before a device call; on
# the device use a fresh SSMKIT_SYSROOT (env.sh unpacks a kit only once per sysroot).
set -eu
cd "$(dirname "$0")/../.device/debs"
apt-get download libsoxr0 libsoxr-dev libfftw3-double3 libfftw3-single3 libfftw3-dev \
    libhdf5-103-1 libhdf5-dev libsz2 libaec0 libcjson1 libcjson-dev
# OpenMPI (data-parallel training, docs/distributed.md) and the libraries it loads; there
# `source tools/device_mpi.sh` after env.sh relocates it into the sysroot (mpirun, MPI=1 flags)
apt-get download openmpi-bin openmpi-common libopenmpi3 libopenmpi-dev libhwloc15 \
    libevent-2.1-7 libevent-core-2.1-7 libevent-pthreads-2.1-7 libpmix2 libfabric1 libucx0 \
    libibverbs1 librdmacm1 libpsm2-2 libpsm-infinipath1 libnl-3-200 libnl-route-3-200 \
    libmunge2 libnuma1 libltdl7 libpciaccess0 libxnvctrl0
ls | wc -l
# then tools/device_slim_kit.sh: the kit without static archives and docs (the 64 MiB carry)
