// defines: trunk_concat_inverse_cuda, trunk_concat_gather_cuda, trunk_concat_merge_cuda,
//          trunk_concat_merge_backward_cuda, trunk_concat_gather_backward_cuda,
//          trunk_concat_orders_cuda
// The CUDA twins of tasks/trunk_concat.h (the trunk's concat layout), built with CUDA=1:
// the same arguments, device arrays. Every output element is written by one thread and the
// sums over the orders run o = 0, 1, ... as on the CPU; the order indicators' gradients
// are column sums in a fixed order (cu_colsum): the same bits on every run. Errors as
// kernels/cuda/common.h says.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

ssm_code trunk_concat_inverse_cuda(int32_t *inv, const int32_t *perm, int O, int64_t N,
                                   int64_t L);
ssm_code trunk_concat_gather_cuda(real *seq, const real *tokens, const int32_t *perm,
                                  const real *gamma, const real *beta, int O, int64_t N, int64_t L,
                                  int64_t D);
ssm_code trunk_concat_merge_cuda(real *feats, const real *out, const int32_t *inv, int O,
                                 int64_t N, int64_t L, int64_t D);
ssm_code trunk_concat_merge_backward_cuda(real *dout, const real *dfeats, const int32_t *perm,
                                          int O, int64_t N, int64_t L, int64_t D);
ssm_code trunk_concat_gather_backward_cuda(real *dtokens, real *dgamma, real *dbeta,
                                           const real *dseq, const real *tokens,
                                           const int32_t *perm, const int32_t *inv,
                                           const real *gamma, int O, int64_t N, int64_t L,
                                           int64_t D);
ssm_code trunk_concat_orders_cuda(int32_t *perm, int K, int64_t N, int64_t Lc);

#ifdef __cplusplus
}
#endif
