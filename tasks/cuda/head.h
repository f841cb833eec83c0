// defines: pool_tokens_forward_cuda, pool_tokens_backward_cuda, fill_cuda, sum_double_cuda,
//          swap_last2_cuda, columns_gather_cuda, columns_scatter_add_cuda
// Device kernels of the heads (tasks/head_*.c) and of the losses (tasks/cuda/loss_cuda.c),
// built with CUDA=1: the pooling of a sample's tokens, the forecast head's transposes and
// target-column selection, and two small helpers (a fill and a
// fixed-order sum). Device pointers; errors as kernels/cuda/common.h says.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// As pool_tokens_forward / _backward (tasks/pool.h), device arrays. The mean sums
// over l in ascending order, as the CPU does. Backward +=.
ssm_code pool_tokens_forward_cuda(real *out, const real *inp, int64_t cls_index, int64_t B,
                                  int64_t L, int64_t D);
ssm_code pool_tokens_backward_cuda(real *dinp, const real *dout, int64_t cls_index, int64_t B,
                                   int64_t L, int64_t D);
// x[0..n) = v
ssm_code fill_cuda(real *x, real v, int64_t n);
// *out (device double) = sum of x[0..n) in double, in one fixed order (one block).
ssm_code sum_double_cuda(double *out, const real *x, int64_t n);
// out [B, Y, X] = in [B, X, Y] with the last two axes swapped.
ssm_code swap_last2_cuda(real *out, const real *in, int64_t B, int64_t X, int64_t Y);
// out [rows, K] = in [rows, G] columns first..first+K-1.
ssm_code columns_gather_cuda(real *out, const real *in, int64_t rows, int64_t G, int64_t first,
                             int64_t K);
// out [rows, G] columns first..first+K-1 += in [rows, K].
ssm_code columns_scatter_add_cuda(real *out, const real *in, int64_t rows, int64_t G,
                                  int64_t first, int64_t K);

#ifdef __cplusplus
}
#endif
