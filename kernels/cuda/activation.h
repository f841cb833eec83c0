// defines: silu_forward_cuda, silu_backward_cuda, softplus_forward_cuda,
//          softplus_backward_cuda, gate_forward_cuda, gate_backward_cuda, add_forward_cuda,
//          scale_inplace_cuda
// CUDA twins of kernels/activation.h: the same arguments (device pointers) and formulas;
// they return an ssm_code (kernels/cuda/common.h says how errors travel). Backward += .
// Elementwise, so any aliasing the CPU kernel allows (out == a in add) is allowed here.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

ssm_code silu_forward_cuda(real *out, const real *x, int64_t n);
ssm_code silu_backward_cuda(real *dx, const real *dout, const real *x, int64_t n);
ssm_code softplus_forward_cuda(real *out, const real *x, int64_t n);
ssm_code softplus_backward_cuda(real *dx, const real *dout, const real *x, int64_t n);
ssm_code gate_forward_cuda(real *out, const real *y, const real *z, int64_t n);
ssm_code gate_backward_cuda(real *dy, real *dz, const real *dout, const real *y, const real *z,
                            int64_t n);
ssm_code add_forward_cuda(real *out, const real *a, const real *b, int64_t n);
ssm_code scale_inplace_cuda(real *x, real s, int64_t n);

#ifdef __cplusplus
}
#endif
