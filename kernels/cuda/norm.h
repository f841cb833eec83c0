// defines: rmsnorm_forward_cuda, rmsnorm_backward_cuda, layernorm_forward_cuda,
//          layernorm_backward_cuda, rmsnorm_residual_forward_cuda,
//          rmsnorm_residual_backward_cuda, layernorm_residual_forward_cuda,
//          layernorm_residual_backward_cuda
// CUDA twins of kernels/norm.h (same arguments, device pointers, ssm_code result), and the
// pre-norm residual block's add fused with the norm (mamba_ssm's fused add + norm):
//   residual_out = inp + residual          (residual NULL: residual_out = inp)
//   out          = norm(residual_out)
// which reads inp and residual once and writes residual_out and out in one pass.
//
// Row statistics are fp32 here (double on the CPU), one warp per row. dweight/dbias are
// summed per column in a fixed order (kernels/cuda/device_util.cuh, cu_colsum: row tiles,
// then the tiles' partials in ascending order): no atomics, the same bits on every run. Backward += into every gradient; each may be NULL.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// out [N, C], rstd [N], inp [N, C], weight [C]
ssm_code rmsnorm_forward_cuda(real *out, real *rstd, const real *inp, const real *weight,
                              int64_t N, int64_t C, real eps);
ssm_code rmsnorm_backward_cuda(real *dinp, real *dweight, const real *dout, const real *inp,
                               const real *weight, const real *rstd, int64_t N, int64_t C);
// out [N, C], mean [N], rstd [N], inp [N, C], weight [C], bias [C] or NULL
ssm_code layernorm_forward_cuda(real *out, real *mean, real *rstd, const real *inp,
                                const real *weight, const real *bias, int64_t N, int64_t C,
                                real eps);
ssm_code layernorm_backward_cuda(real *dinp, real *dweight, real *dbias, const real *dout,
                                 const real *inp, const real *weight, const real *mean,
                                 const real *rstd, int64_t N, int64_t C);

// Fused residual add + norm. residual_out [N, C] (the new residual stream, saved for the
// backward), residual [N, C] or NULL.
ssm_code rmsnorm_residual_forward_cuda(real *out, real *residual_out, real *rstd,
                                       const real *inp, const real *residual, const real *weight,
                                       int64_t N, int64_t C, real eps);
// g = d(out)/d(residual_out) applied to dout, plus dresidual_out (the gradient reaching the
// residual stream from later blocks; NULL: none). dinp += g; dresidual += g (either NULL).
ssm_code rmsnorm_residual_backward_cuda(real *dinp, real *dresidual, real *dweight,
                                        const real *dout, const real *dresidual_out,
                                        const real *residual_out, const real *weight,
                                        const real *rstd, int64_t N, int64_t C);
ssm_code layernorm_residual_forward_cuda(real *out, real *residual_out, real *mean, real *rstd,
                                         const real *inp, const real *residual,
                                         const real *weight, const real *bias, int64_t N,
                                         int64_t C, real eps);
ssm_code layernorm_residual_backward_cuda(real *dinp, real *dresidual, real *dweight,
                                          real *dbias, const real *dout,
                                          const real *dresidual_out, const real *residual_out,
                                          const real *weight, const real *mean,
                                          const real *rstd, int64_t N, int64_t C);

#ifdef __cplusplus
}
#endif
