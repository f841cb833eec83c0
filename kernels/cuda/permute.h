// defines: gather_tokens_forward_cuda, gather_tokens_backward_cuda,
//          scatter_tokens_forward_cuda, scatter_tokens_backward_cuda, transpose_forward_cuda
// CUDA twins of kernels/permute.h (same arguments, device pointers, ssm_code result).
// One thread per element: the indexed writes (gather backward, scatter forward) are
// race-free only because every perm row IS a permutation of [0, L), as permute.h requires
// (the CPU kernels tolerate a repeated index; these would race). perm entries are trusted.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// out [B, C, L], inp [B, C, L], perm [B, L]
ssm_code gather_tokens_forward_cuda(real *out, const real *inp, const int32_t *perm, int64_t B,
                                    int64_t C, int64_t L);
ssm_code gather_tokens_backward_cuda(real *dinp, const real *dout, const int32_t *perm,
                                     int64_t B, int64_t C, int64_t L);
ssm_code scatter_tokens_forward_cuda(real *out, const real *inp, const int32_t *perm, int64_t B,
                                     int64_t C, int64_t L, real alpha, int accumulate);
ssm_code scatter_tokens_backward_cuda(real *dinp, const real *dout, const int32_t *perm,
                                      int64_t B, int64_t C, int64_t L, real alpha);
// out [B, S, R] = transpose of inp [B, R, S] (32x32 shared-memory tiles)
ssm_code transpose_forward_cuda(real *out, const real *inp, int64_t B, int64_t R, int64_t S);

#ifdef __cplusplus
}
#endif
