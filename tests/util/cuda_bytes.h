// defines: dev_copy, dev_poison, host_of
// Byte-level device helpers of the CUDA-vs-CPU suites that move whole arrays of any type
// (tests/util/cuda_compare.h has the typed fp32/bf16 ones): a device copy of host bytes,
// device memory filled with 0xFF bytes (NaN as floats: an element a kernel forgot to write
// shows), and a malloc'd host copy of device bytes. Aborts on any CUDA error. Include only
// where HAVE_CUDA is 1.
#pragma once
#include <stdlib.h>

#include "kernels/cuda/common.h"

static inline void *dev_copy(const void *h, size_t bytes) {
    void *d;
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&d, bytes ? bytes : 4, "test"));
    if (bytes)
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(d, h, bytes));
    return d;
}

static inline void *dev_poison(size_t bytes) {
    void *d;
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&d, bytes ? bytes : 4, "test"));
    CUDA_CHECK_ABORT(cudaMemset(d, 0xFF, bytes));
    return d;
}

static inline void *host_of(const void *d, size_t bytes) {
    void *h = malloc(bytes ? bytes : 4);
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_download(h, d, bytes));
    return h;
}
