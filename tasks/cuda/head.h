// defines: pool_tokens_forward_cuda, pool_tokens_backward_cuda, fill_cuda, sum_double_cuda,
//          class_head_forward_cuda, class_head_backward_cuda
// The classification head (tasks/head.h) on one GPU: the pooling kernels, two small
// helpers of the loss (a fill and a fixed-order sum), and the head's forward and
// backward with device pointers (p a device mirror of the parameter table).
// Kernel entry points report errors as kernels/cuda/common.h says; the class_head_*
// twins fill err.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/params.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// As pool_tokens_forward / _backward (tasks/head.h), device arrays. The mean sums
// over l in ascending order, as the CPU does. Backward +=.
ssm_code pool_tokens_forward_cuda(real *out, const real *inp, int64_t cls_index, int64_t B,
                                  int64_t L, int64_t D);
ssm_code pool_tokens_backward_cuda(real *dinp, const real *dout, int64_t cls_index, int64_t B,
                                   int64_t L, int64_t D);
// x[0..n) = v
ssm_code fill_cuda(real *x, real v, int64_t n);
// *out (device double) = sum of x[0..n) in double, in one fixed order (one block).
ssm_code sum_double_cuda(double *out, const real *x, int64_t n);

#ifdef __cplusplus
}

#else
#include "tasks/head.h"

// The twins of class_head_forward / class_head_backward (same arguments, device arrays).
ssm_code class_head_forward_cuda(class_head *h, const ssm_params *p, real *logits,
                                 const real *tokens, int64_t B, int64_t L, ssm_error *err);
ssm_code class_head_backward_cuda(class_head *h, ssm_params *p, real *dtokens, const real *dlogits,
                                  const real *tokens, int64_t B, int64_t L, ssm_error *err);
#endif
