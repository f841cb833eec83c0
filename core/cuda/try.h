// defines: SSM_CUDA_TRY, ssm_cuda_zero
// Host code calling a CUDA twin (kernels/cuda/common.h: the twin returns a code and
// records its message per thread) moves that message into the caller's ssm_error.
#pragma once
#include "core/error.h"
#include "kernels/cuda/common.h"

#define SSM_CUDA_TRY(expr, err)                                                    \
    do {                                                                           \
        ssm_code ssm_ct_rc_ = (expr);                                              \
        if (ssm_ct_rc_ != SSM_OK) {                                                \
            ssm_error ssm_ct_e_;                                                   \
            if (ssm_cuda_take_error(&ssm_ct_e_) != SSM_OK && (err))                \
                *(err) = ssm_ct_e_;                                                \
            else if (err)                                                          \
                ssm_fail((err), ssm_ct_rc_, "%s failed", #expr);                   \
            return ssm_ct_rc_;                                                     \
        }                                                                          \
    } while (0)

// Zeroes n bytes of device memory on the library stream (no synchronization).
static inline ssm_code ssm_cuda_zero(void *p, size_t bytes) {
    if (bytes)
        CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, ssm_cuda_stream()));
    return SSM_OK;
}
