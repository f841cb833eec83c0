#!/bin/sh
# Adds to .device/debs (the GPU machine's package kit, ../shared/device/prepare.sh) the
# Debian packages ssmkit gained after the kit was made: libsoxr and FFTW (audio), HDF5
# (CLAM features, point-cloud sets), cJSON (AST/AuM JSON manifests). Run here, after
# prepare.sh, before a device call; on the device use a fresh SSMKIT_SYSROOT (env.sh
# unpacks a kit only once per sysroot).
set -eu
cd "$(dirname "$0")/../.device/debs"
apt-get download libsoxr0 libsoxr-dev libfftw3-double3 libfftw3-single3 libfftw3-dev \
    libhdf5-103-1 libhdf5-dev libsz2 libaec0 libcjson1 libcjson-dev
ls | wc -l
