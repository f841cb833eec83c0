// defines: adamw_update_cuda, grad_global_norm_cuda, grad_clip_cuda
// CUDA twins of kernels/optim.h over one flat device buffer. The CPU versions return the
// norm; these return an ssm_code and write the norm to a HOST double (*norm), so they
// synchronize with the device.
//
// The norm is deterministic (the same bits on every run for the same n): 1024 fixed
// contiguous parts summed in double by one block each (a fixed shuffle tree), then the parts
// in a fixed tree by one block. No atomics. The bits differ from the CPU's (another order).
// Partials live in a per-host-thread device buffer made on first use and never freed (like
// the cuBLAS handle).
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// p, m, v updated in place from g; n elements; same formulas as adamw_update.
ssm_code adamw_update_cuda(real *p, const real *g, real *m, real *v, int64_t n, float lr,
                           float beta1, float beta2, float eps, float weight_decay, int64_t t);
// *norm = sqrt(sum g^2)
ssm_code grad_global_norm_cuda(double *norm, const real *g, int64_t n);
// Scales g by max_norm / norm when norm > max_norm (and finite); *norm = the norm before.
ssm_code grad_clip_cuda(double *norm, real *g, int64_t n, double max_norm);

#ifdef __cplusplus
}
#endif
